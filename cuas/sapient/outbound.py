"""wire contract -> SAPIENT, pure functions: cuas as a SAPIENT node reporting upward.

:class:`Reporter` turns ``tracks`` snapshots into DetectionReports (``LAT_LNG_DEG_M`` /
``WGS84_E`` locations, errors in degrees and metres) with the classifier's class and threat
mapped onto SAPIENT classification and behaviour, and ``alert`` messages into Alerts;
:func:`registration` and :func:`status_report` are what the node says of itself.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from cuas import wire
from cuas.sapient.convert import LAT_LNG_DEG, M_PER_DEG, MAX_LABELS, envelope, timestamp
from cuas.sapient.proto import (
    ICD_VERSION,
    Alert,
    DetectionReport,
    Location,
    Registration,
    SapientMessage,
    StatusReport,
    new_ulid,
    ulid_at,
)

#: cuas class -> SAPIENT classification type (the vocabulary cuas registers upward).
CLASS_TO_SAPIENT: Final[Mapping[str, str]] = {
    "uav": "UAV", "bird": "Bird", "manned": "Manned Aircraft", "clutter": "Clutter",
}
#: Threat level -> (SAPIENT behaviour type, alert type, alert priority).
THREAT_TO_SAPIENT: Final[Mapping[str, tuple[str, int, int]]] = {
    "none": ("Threat None", Alert.ALERT_TYPE_INFORMATION, Alert.DISCRETE_PRIORITY_LOW),
    "low": ("Threat Low", Alert.ALERT_TYPE_INFORMATION, Alert.DISCRETE_PRIORITY_LOW),
    "medium": ("Threat Medium", Alert.ALERT_TYPE_WARNING, Alert.DISCRETE_PRIORITY_MEDIUM),
    "high": ("Threat High", Alert.ALERT_TYPE_WARNING, Alert.DISCRETE_PRIORITY_HIGH),
    "critical": ("Threat Critical", Alert.ALERT_TYPE_CRITICAL, Alert.DISCRETE_PRIORITY_HIGH),
}
MALICIOUS_BEHAVIOUR: Final = "Malicious"
#: Track status -> DetectionReport ``state`` (the ICD's "special case", e.g. object lost).
STATE_FOR_STATUS: Final[Mapping[str, str]] = {
    "tentative": "tentative", "confirmed": "", "coasting": "coasting", "deleted": "lost",
}


def registration(node_id: str, t: float, name: str, status_interval_s: float) -> SapientMessage:
    """cuas's own Registration as a fusion node: tracks in WGS-84 degrees and metres, ENU
    velocity in m/s, and the class and behaviour vocabulary its DetectionReports use."""
    reg = Registration(icd_version=ICD_VERSION, name=name[:64], short_name=name[:16])
    reg.node_definition.add(node_type=Registration.NODE_TYPE_FUSION_NODE,
                            node_sub_type=["C-UAS"])
    reg.capabilities.add(category="Fusion", type="Multi-sensor UAV tracking")
    reg.status_definition.status_interval.units = Registration.TIME_UNITS_SECONDS
    reg.status_definition.status_interval.value = status_interval_s
    mode = reg.mode_definition.add(mode_name="Default", mode_type=Registration.MODE_TYPE_PERMANENT)
    mode.settle_time.units = Registration.TIME_UNITS_SECONDS
    mode.settle_time.value = 0.0
    mode.tracking_type = Registration.TRACKING_TYPE_TRACK
    mode.task.concurrent_tasks = 0
    region = mode.task.region_definition
    region.region_type.append(Registration.REGION_TYPE_AREA_OF_INTEREST)
    region.settle_time.units = Registration.TIME_UNITS_SECONDS
    region.settle_time.value = 0.0
    area = region.region_area.add()
    area.location_units = 1   # LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
    area.location_datum = 1   # LOCATION_DATUM_WGS84_E
    dd = mode.detection_definition.add()
    dd.location_type.location_units = 1
    dd.location_type.location_datum = 1
    dd.detection_report.add(category=Registration.DETECTION_REPORT_CATEGORY_TRACK,
                            type="Fused track", units="track")
    classes = dd.detection_class_definition.add(
        confidence_definition=Registration.CONFIDENCE_DEFINITION_MULTI_CLASS)
    for label in CLASS_TO_SAPIENT.values():
        classes.class_definition.add(type=label, units="probability")
    for label, _, _ in THREAT_TO_SAPIENT.values():
        dd.behaviour_definition.add(type=label, units="level")
    dd.behaviour_definition.add(type=MALICIOUS_BEHAVIOUR, units="probability")
    dd.velocity_type.enu_velocity_units.east_north_rate_units = 1  # SPEED_UNITS_MS
    dd.velocity_type.enu_velocity_units.up_rate_units = 1
    dd.velocity_type.location_datum = 1
    reg.config_data.add(manufacturer="cuas", model="cuas fusion daemon")
    msg = envelope(node_id, t)
    msg.registration.CopyFrom(reg)
    return msg


def status_report(node_id: str, t: float, state: str, mode: str = "Default") -> SapientMessage:
    """A StatusReport for cuas itself; ``state`` is the contract's ``ok``/``degraded``/``down``."""
    system = {"ok": StatusReport.SYSTEM_OK, "degraded": StatusReport.SYSTEM_WARNING,
              "down": StatusReport.SYSTEM_GOODBYE}.get(state, StatusReport.SYSTEM_ERROR)
    rep = StatusReport(report_id=new_ulid(t), system=system, info=StatusReport.INFO_NEW,
                       mode=mode)
    msg = envelope(node_id, t)
    msg.status_report.CopyFrom(rep)
    return msg


def location_from_lla(lla: wire.Vec3, pos_sigma: wire.Vec3) -> Location:
    """A LAT_LNG_DEG_M / WGS84_E Location for (lat, lon, h) with 1-sigma (E, N, U) metres
    (horizontal errors expressed in degrees, as the coordinate system is)."""
    lat, lon, h = lla
    coslat = max(0.01, math.cos(math.radians(lat)))
    return Location(x=lon, y=lat, z=h,
                    x_error=pos_sigma[0] / (M_PER_DEG * coslat),
                    y_error=pos_sigma[1] / M_PER_DEG, z_error=pos_sigma[2],
                    coordinate_system=LAT_LNG_DEG, datum=1)


@dataclass(slots=True)
class Reporter:
    """Turns the daemon's ``tracks`` and ``alert`` messages into SAPIENT messages from
    ``node_id``. Each track keeps one object ULID for its life (time of first report, entropy
    from the node id and track id, so a restart of the exporter keeps the ids of a running
    daemon's tracks)."""

    node_id: str
    export_tentative: bool = False
    _objects: dict[int, str] = field(default_factory=dict)
    _last: dict[int, wire.Track] = field(default_factory=dict)

    def object_id(self, track_id: int, t: float) -> str:
        oid = self._objects.get(track_id)
        if oid is None:
            seed = hashlib.sha256(f"{self.node_id}/{track_id}".encode()).digest()
            oid = self._objects[track_id] = ulid_at(t, seed)
        return oid

    def reports(self, snapshot: wire.Tracks) -> list[SapientMessage]:
        """One DetectionReport per exported track of the snapshot (deleted tracks that were
        reported before come once more with state ``lost``)."""
        out: list[SapientMessage] = []
        for trk in snapshot.tracks:
            if trk.status == "deleted":
                if trk.id not in self._objects:
                    continue
            elif trk.status == "tentative" and not self.export_tentative:
                continue
            out.append(self._report(trk, snapshot.t))
            if trk.status == "deleted":
                self._objects.pop(trk.id, None)
                self._last.pop(trk.id, None)
            else:
                self._last[trk.id] = trk
        return out

    def _report(self, trk: wire.Track, t: float) -> SapientMessage:
        rep = DetectionReport(report_id=new_ulid(t), object_id=self.object_id(trk.id, t))
        state = STATE_FOR_STATUS.get(trk.status, "")
        if state:
            rep.state = state
        rep.location.CopyFrom(location_from_lla(trk.lla, trk.pos_sigma))
        ve, vn, vu = trk.vel
        rep.enu_velocity.east_rate, rep.enu_velocity.north_rate = ve, vn
        rep.enu_velocity.up_rate = vu
        uav = float(trk.class_probs.get("uav", 0.0))
        rep.detection_confidence = 1.0 if trk.status in ("confirmed", "coasting") else 0.5
        for cls, label in CLASS_TO_SAPIENT.items():
            rep.classification.add(type=label, confidence=float(trk.class_probs.get(cls, 0.0)))
        label, _, _ = THREAT_TO_SAPIENT.get(trk.threat, THREAT_TO_SAPIENT["none"])
        rep.behaviour.add(type=label, confidence=1.0)
        if trk.malicious:
            rep.behaviour.add(type=MALICIOUS_BEHAVIOUR, confidence=uav)
        for reason in trk.reasons[:MAX_LABELS]:
            rep.track_info.add(type="reason", value=reason[:200])
        rep.track_info.add(type="cuas_track_id", value=str(trk.id))
        if trk.sources:
            rep.track_info.add(type="sources", value=",".join(trk.sources)[:200])
        if trk.ident is not None:
            ident = trk.ident.rid or trk.ident.callsign or trk.ident.icao
            if ident:
                rep.id = ident
        msg = envelope(self.node_id, t)
        msg.detection_report.CopyFrom(rep)
        return msg

    def alert(self, alert: wire.Alert) -> SapientMessage:
        """A SAPIENT Alert for a contract ``alert`` (located at the track's last position
        when the track has been reported)."""
        _, kind, priority = THREAT_TO_SAPIENT.get(alert.threat, THREAT_TO_SAPIENT["none"])
        text = f"track {alert.track_id}: threat {alert.previous} -> {alert.threat}"
        if alert.zone:
            text += f" in zone {alert.zone}"
        al = Alert(alert_id=new_ulid(alert.t), alert_type=kind,
                   status=Alert.ALERT_STATUS_ACTIVE, description=text[:500],
                   priority=priority,
                   ranking=(list(THREAT_TO_SAPIENT).index(alert.threat) / 4.0
                            if alert.threat in THREAT_TO_SAPIENT else 0.0))
        if alert.reasons:
            al.additional_information = "; ".join(alert.reasons)[:1000]
        trk = self._last.get(alert.track_id)
        if trk is not None:
            al.location.CopyFrom(location_from_lla(trk.lla, trk.pos_sigma))
        ad = al.associated_detection.add(node_id=self.node_id,
                                         object_id=self.object_id(alert.track_id, alert.t))
        ad.timestamp.CopyFrom(timestamp(alert.t))
        msg = envelope(self.node_id, alert.t)
        msg.alert.CopyFrom(al)
        return msg
