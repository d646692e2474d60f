"""SAPIENT -> wire contract, and the replies a fusion node sends its modules; pure functions.

Inbound: a DetectionReport (a ``location`` or a ``range_bearing``) becomes one contract
``detections`` batch of one detection, measured at the message's timestamp:

* ``LAT_LNG_DEG_M`` / ``LAT_LNG_RAD_M``: x is longitude, y latitude, z height (m) -> frame
  ``lla``. ``UTM_M``: x easting, y northing (m) in the location's ``utm_zone`` (else the
  module's configured zone) -> ``lla`` through pyproj. Errors are taken in the coordinate
  system's own units (degrees, radians or metres) and turned into metres east, north, up.
  A location with no z is put at the site's height with ``unknown_height_sigma_m``; a
  ``WGS84_G`` (geoid) height is kept as given and flagged in ``attrs.height_datum``.
* range-bearing in degrees or radians, metres or kilometres -> frame ``rae`` (range m, azimuth
  and elevation degrees) from the module's location, or ``ae`` when no range is given. Azimuths
  are turned to true north: ``GRID`` by the UTM meridian convergence at the module,
  ``MAGNETIC`` and ``PLATFORM`` by the module's configured ``north_offset_deg``.
* ``enu_velocity`` -> ``vel`` (m/s; km/h when the module registered ``SPEED_UNITS_KPH``).
* classifications, behaviours, ``object_id``, ``id``, confidence -> ``attrs``; the
  classifications also -> ``evidence`` (:mod:`cuas.sapient.evidence`).

What cannot be placed honestly (no coordinate system, a 2-D range without elevation, a
magnetic bearing with no declination, no module location for a range-bearing) raises
:class:`ConversionError` with the reason; it is never guessed.

Outbound (cuas's own reports to a higher node) is :mod:`cuas.sapient.outbound`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Final

from google.protobuf.timestamp_pb2 import Timestamp

from cuas import wire
from cuas.config import SapientConfig, SiteConfig
from cuas.errors import ConversionError, DecodeError
from cuas.sapient.evidence import sapient_evidence
from cuas.sapient.proto import (
    AlertAck,
    Error,
    Location,
    Registration,
    RegistrationAck,
    SapientMessage,
    StatusReport,
    TaskAck,
)
from cuas.validation import brief
from cuas.vocabulary import IUGG_MEAN_RADIUS_M

#: Metres per degree of latitude / of longitude at the equator (mean Earth radius); used only
#: to turn coordinate errors into metres, where 0.5 % does not matter.
M_PER_DEG: Final = IUGG_MEAN_RADIUS_M * math.pi / 180.0
#: Longest free text copied into ``attrs`` (the contract's string limit is 256).
MAX_TEXT: Final = 64
#: Most classifications / behaviours copied into ``attrs``.
MAX_LABELS: Final = 16

# Enum numbers of location.proto / range_bearing.proto used below.
LAT_LNG_DEG: Final = 1  # LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
_LAT_LNG_RAD: Final = 2  # LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M
_UTM: Final = 5          # LOCATION_COORDINATE_SYSTEM_UTM_M
_WGS84_G: Final = 2      # LOCATION_DATUM_WGS84_G
_RB_TRUE: Final = 1
_RB_MAGNETIC: Final = 2
_RB_GRID: Final = 3
_RB_PLATFORM: Final = 4
_KM_SYSTEMS: Final = frozenset({3, 4})   # RANGE_BEARING_COORDINATE_SYSTEM_*_KM
_RAD_SYSTEMS: Final = frozenset({2, 4})  # RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_*


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What the fusion node knows of one sensor module (from its Registration, StatusReport
    and the site configuration). ``origin``: (lat, lon, h) degrees and metres, or None."""

    node_id: str
    sensor_id: str
    node_type: str = "unknown"
    origin: tuple[float, float, float] | None = None
    speed_factor: float = 1.0
    utm_zone: str | None = None
    north_offset_deg: float | None = None


# --------------------------------------------------------------------------- time


def to_unix(ts: Timestamp) -> float:
    """A protobuf Timestamp as UTC seconds."""
    return float(ts.seconds) + ts.nanos * 1e-9


def timestamp(t: float) -> Timestamp:
    """UTC seconds as a protobuf Timestamp."""
    ts = Timestamp()
    sec = math.floor(t)
    ts.seconds = int(sec)
    ts.nanos = min(999_999_999, int(round((t - sec) * 1e9)))
    return ts


# --------------------------------------------------------------------------- geodesy


@functools.lru_cache(maxsize=16)
def _utm_transformer(zone: int, south: bool) -> Any:
    import pyproj  # part of the sapient extra; only UTM locations need it

    epsg = (32700 if south else 32600) + zone
    return pyproj.Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)


def parse_utm_zone(text: str) -> tuple[int, bool]:
    """``"30U"`` -> (30, False): the zone number and whether it is southern (latitude bands
    C..M); a bare number is a northern zone."""
    t = text.strip().upper()
    digits = t[:2] if t[:2].isdigit() else t[:1]
    band = t[len(digits):]
    if not digits.isdigit() or not 1 <= int(digits) <= 60 or band not in _BANDS:
        raise ConversionError(f"utm_zone {brief(text)} is not a UTM zone such as 30U")
    return int(digits), band != "" and band in "CDEFGHJKLM"


#: UTM latitude bands (I and O are not used), or none.
_BANDS: Final = ("", *"CDEFGHJKLMNPQRSTUVWX")


def utm_to_lla(easting: float, northing: float, zone: str) -> tuple[float, float]:
    """(lat, lon) degrees of a WGS-84 UTM position (m) in ``zone``."""
    number, south = parse_utm_zone(zone)
    lon, lat = _utm_transformer(number, south).transform(easting, northing)
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ConversionError(f"UTM {easting:.1f} E {northing:.1f} N in zone {zone} is not a "
                              "position on Earth")
    return float(lat), float(lon)


def grid_convergence_deg(lat: float, lon: float) -> float:
    """Angle (degrees) from true north to UTM grid north at (lat, lon), in the point's own
    zone: a grid azimuth plus this is a true azimuth."""
    import pyproj

    zone = min(60, int((lon + 180.0) // 6.0) + 1)
    proj = pyproj.Proj(f"EPSG:{(32700 if lat < 0 else 32600) + zone}")
    return float(proj.get_factors(lon, lat).meridian_convergence)


def _finite(name: str, *values: float) -> None:
    for v in values:
        if not math.isfinite(v):
            raise ConversionError(f"{name} is not a finite number")


def location_to_lla(loc: Location, node: NodeInfo, settings: SapientConfig, site: SiteConfig
                    ) -> tuple[tuple[float, float, float], tuple[float, float, float], dict[str, Any]]:
    """A SAPIENT Location as (lat, lon, h), 1-sigma metres (E, N, U), and notes for attrs."""
    cs = loc.coordinate_system
    x, y = loc.x, loc.y
    _finite("location.x/y", x, y)
    notes: dict[str, Any] = {}
    if cs in (LAT_LNG_DEG, _LAT_LNG_RAD):
        scale = 180.0 / math.pi if cs == _LAT_LNG_RAD else 1.0
        lat, lon = y * scale, x * scale
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ConversionError(f"location lat {lat:.6g}, lon {lon:.6g} outside the Earth's "
                                  "range (x is longitude, y latitude)")
        coslat = max(0.01, math.cos(math.radians(lat)))
        se = loc.x_error * scale * M_PER_DEG * coslat if loc.HasField("x_error") else None
        sn = loc.y_error * scale * M_PER_DEG if loc.HasField("y_error") else None
    elif cs == _UTM:
        zone = loc.utm_zone or node.utm_zone
        if not zone:
            raise ConversionError("UTM location without utm_zone (and none configured for the "
                                  f"module's sensor {node.sensor_id})")
        lat, lon = utm_to_lla(x, y, zone)
        se = loc.x_error if loc.HasField("x_error") else None
        sn = loc.y_error if loc.HasField("y_error") else None
    else:
        raise ConversionError(f"location coordinate_system {cs} cannot be placed "
                              "(unspecified or unknown)")
    if loc.HasField("z"):
        _finite("location.z", loc.z)
        h = loc.z
        su = loc.z_error if loc.HasField("z_error") else settings.default_sigma_m
        if loc.datum == _WGS84_G:
            notes["height_datum"] = "geoid"
    else:
        h, su = site.h, settings.unknown_height_sigma_m
        notes["height"] = "unknown"
    d = settings.default_sigma_m
    sigma = (_sigma(se, d), _sigma(sn, d), _sigma(su, d))
    if abs(h) > 100_000.0:
        raise ConversionError(f"location height {h:.6g} m is not plausible")
    return (lat, lon, h), sigma, notes


def _sigma(value: float | None, default: float) -> float:
    """A usable 1-sigma from a reported error: absent, zero, negative or absurd -> default."""
    if value is None or not math.isfinite(value) or value <= 0:
        return default
    return min(max(float(value), wire.SIGMA_MIN * 10), wire.SIGMA_MAX / 10)


def range_bearing_to_det(rb: Any, node: NodeInfo, settings: SapientConfig
                         ) -> tuple[str, tuple[float, ...], tuple[float, ...]]:
    """A SAPIENT RangeBearing as a contract (frame, z, sigma): ``rae`` or ``ae``."""
    cs = rb.coordinate_system
    if cs not in (1, 2, 3, 4):
        raise ConversionError(f"range_bearing coordinate_system {cs} cannot be used "
                              "(unspecified or unknown)")
    if node.origin is None:
        raise ConversionError(f"range-bearing report from node {node.node_id} whose location "
                              "is unknown: send a StatusReport with node_location, or give "
                              f"sensors.{node.sensor_id}.origin in the configuration")
    if not rb.HasField("azimuth"):
        raise ConversionError("range_bearing without azimuth")
    ang = 180.0 / math.pi if cs in _RAD_SYSTEMS else 1.0
    dist = 1000.0 if cs in _KM_SYSTEMS else 1.0
    az = rb.azimuth * ang
    _finite("range_bearing.azimuth", az)
    if rb.datum == _RB_GRID:
        az += grid_convergence_deg(node.origin[0], node.origin[1])
    elif rb.datum in (_RB_MAGNETIC, _RB_PLATFORM):
        if node.north_offset_deg is None:
            raise ConversionError(
                "range_bearing against magnetic north or the platform heading needs "
                f"sensors.{node.sensor_id}.sapient.north_offset_deg in the configuration")
        az += node.north_offset_deg
    elif rb.datum != _RB_TRUE:
        raise ConversionError(f"range_bearing datum {rb.datum} cannot be used (unspecified)")
    az %= 360.0
    if not rb.HasField("elevation"):
        raise ConversionError("range_bearing without elevation: the contract has no "
                              "bearing-only or 2-D (range, azimuth) frame")
    el = rb.elevation * ang
    _finite("range_bearing.elevation", el)
    if not -90.0 <= el <= 90.0:
        raise ConversionError(f"elevation {el:.6g} degrees outside [-90, 90]")
    dang = settings.default_angle_sigma_deg
    s_az = _sigma(rb.azimuth_error * ang if rb.HasField("azimuth_error") else None, dang)
    s_el = _sigma(rb.elevation_error * ang if rb.HasField("elevation_error") else None, dang)
    if rb.HasField("range"):
        r = rb.range * dist
        _finite("range_bearing.range", r)
        if not 0.0 <= r <= wire.MAX_DISTANCE_M:
            raise ConversionError(f"range {r:.6g} m outside [0, {wire.MAX_DISTANCE_M:g}]")
        s_r = _sigma(rb.range_error * dist if rb.HasField("range_error") else None,
                     settings.default_sigma_m)
        return "rae", (r, az, el), (s_r, s_az, s_el)
    return "ae", (az, el), (s_az, s_el)


# --------------------------------------------------------------------------- inbound


def node_type_name(reg: Registration) -> str:
    """The module's first node type in lower case without prefix (``radar``, ``camera``)."""
    for nd in reg.node_definition:
        name = Registration.NodeType.Name(nd.node_type) if nd.node_type in \
            Registration.NodeType.values() else ""
        if name:
            return name.removeprefix("NODE_TYPE_").lower()
    return "unknown"


def registered_utm_zone(reg: Registration) -> str | None:
    """The UTM zone a module declared for its detections (first detection definition with
    one), else for its status locations; None when it declared none."""
    for mode in reg.mode_definition:
        for dd in mode.detection_definition:
            if dd.HasField("location_type") and dd.location_type.zone:
                return str(dd.location_type.zone)
    sd = reg.status_definition
    if sd.HasField("location_definition") and sd.location_definition.zone:
        return str(sd.location_definition.zone)
    return None


def speed_factor(reg: Registration) -> float:
    """m/s per reported velocity unit, from the first velocity type the module registered."""
    for mode in reg.mode_definition:
        for dd in mode.detection_definition:
            if dd.HasField("velocity_type") and dd.velocity_type.HasField("enu_velocity_units"):
                units = dd.velocity_type.enu_velocity_units.east_north_rate_units
                return 1.0 / 3.6 if units == 2 else 1.0  # SPEED_UNITS_KPH
    return 1.0


def _text(s: str) -> str:
    return s[:MAX_TEXT]


def _confidence(value: float) -> float:
    return round(float(value), 4) if math.isfinite(value) else 0.0


def report_to_detections(msg: SapientMessage, node: NodeInfo, seq: int,
                         settings: SapientConfig, site: SiteConfig) -> wire.Detections:
    """One validated DetectionReport as a contract ``detections`` batch (``kind`` ``sapient``,
    ``sensor`` the module's sensor id, ``t`` the message's timestamp); raises
    :class:`ConversionError`."""
    rep = msg.detection_report
    attrs: dict[str, Any] = {"node_type": node.node_type, "object_id": rep.object_id}
    which = rep.WhichOneof("location_oneof")
    vel: wire.Vec3 | None = None
    vel_sigma: wire.Vec3 | None = None
    frame: str
    zz: tuple[float, ...]
    ss: tuple[float, ...]
    if which == "location":
        zz, ss, notes = location_to_lla(rep.location, node, settings, site)
        frame = "lla"
        attrs.update(notes)
    elif which == "range_bearing":
        frame, zz, ss = range_bearing_to_det(rep.range_bearing, node, settings)
    else:  # the validator refuses this; kept for callers that skipped it
        raise ConversionError("detection_report has neither location nor range_bearing")
    if rep.HasField("enu_velocity"):
        v = rep.enu_velocity
        f = node.speed_factor
        up = v.up_rate * f if v.HasField("up_rate") else 0.0
        vel = (v.east_rate * f, v.north_rate * f, up)
        _finite("enu_velocity", *vel)
        errs = (v.east_rate_error if v.HasField("east_rate_error") else None,
                v.north_rate_error if v.HasField("north_rate_error") else None,
                v.up_rate_error if v.HasField("up_rate_error") else None)
        vel_sigma = (_sigma(errs[0] * f if errs[0] is not None else None, 2.0),
                     _sigma(errs[1] * f if errs[1] is not None else None, 2.0),
                     _sigma(errs[2] * f if errs[2] is not None else None,
                            2.0 if v.HasField("up_rate") else 10.0))
    if rep.HasField("detection_confidence"):
        attrs["confidence"] = _confidence(rep.detection_confidence)
    if rep.classification:
        attrs["classes"] = {_text(c.type): _confidence(c.confidence)
                            for c in rep.classification[:MAX_LABELS]}
    if rep.behaviour:
        attrs["behaviours"] = {_text(b.type): _confidence(b.confidence)
                               for b in rep.behaviour[:MAX_LABELS]}
    if rep.id:
        attrs["object_ident"] = _text(rep.id)
    if rep.state:
        attrs["state"] = _text(rep.state)
    evidence = sapient_evidence(attrs["classes"]) if "classes" in attrs else None
    det = wire.Detection(frame=frame, z=tuple(zz), sigma=tuple(ss), vel=vel,  # type: ignore[arg-type]
                         vel_sigma=vel_sigma, attrs=attrs, evidence=evidence)
    batch = wire.Detections(src=node.sensor_id, seq=seq, t=to_unix(msg.timestamp),
                            sensor=node.sensor_id, kind="sapient", dets=(det,),
                            origin=node.origin if frame in ("rae", "ae") else None)
    # Through the contract's own checks once, here at the border: what passes is what the
    # daemon will accept.
    try:
        return _check(batch)
    except DecodeError as exc:
        raise ConversionError(f"not a valid contract detection: {exc}") from None


def _check(batch: wire.Detections) -> wire.Detections:
    msg = wire.decode(wire.encode(batch))
    assert isinstance(msg, wire.Detections)
    return msg


def node_location(report: StatusReport, node: NodeInfo, settings: SapientConfig,
                  site: SiteConfig) -> tuple[float, float, float] | None:
    """The module's (lat, lon, h) from a StatusReport's ``node_location``, when usable."""
    if not report.HasField("node_location"):
        return None
    try:
        lla, _, notes = location_to_lla(report.node_location, node, settings, site)
    except ConversionError:
        return None
    return None if "height" in notes else lla


# --------------------------------------------------------------------------- replies


def envelope(node_id: str, t: float, destination: str | None = None) -> SapientMessage:
    """An empty SapientMessage from ``node_id`` at UTC ``t``."""
    msg = SapientMessage()
    msg.timestamp.CopyFrom(timestamp(t))
    msg.node_id = node_id
    if destination:
        msg.destination_id = destination
    return msg


def registration_ack(node_id: str, t: float, destination: str, accepted: bool,
                     reasons: list[str] | None = None) -> SapientMessage:
    """A RegistrationAck to the module ``destination``."""
    msg = envelope(node_id, t, destination)
    ack = RegistrationAck(acceptance=accepted)
    ack.ack_response_reason.extend(r[:500] for r in (reasons or []))
    msg.registration_ack.CopyFrom(ack)
    return msg


def alert_ack(node_id: str, t: float, destination: str, alert_id: str, accepted: bool,
              reasons: list[str] | None = None) -> SapientMessage:
    """An AlertAck for the module ``destination``'s Alert ``alert_id``."""
    msg = envelope(node_id, t, destination)
    ack = AlertAck(alert_id=alert_id, alert_ack_status=(AlertAck.ALERT_ACK_STATUS_ACCEPTED
                                                        if accepted else
                                                        AlertAck.ALERT_ACK_STATUS_REJECTED))
    ack.reason.extend(r[:500] for r in (reasons or []))
    msg.alert_ack.CopyFrom(ack)
    return msg


def task_ack(node_id: str, t: float, destination: str, task_id: str, reason: str
             ) -> SapientMessage:
    """A TaskAck rejecting the task ``task_id`` (cuas takes no tasks), saying why."""
    msg = envelope(node_id, t, destination)
    ack = TaskAck(task_id=task_id, task_status=TaskAck.TASK_STATUS_REJECTED)
    ack.reason.append(reason[:500])
    msg.task_ack.CopyFrom(ack)
    return msg


#: The most bytes of an offending packet echoed back in an Error.
MAX_ECHO: Final = 4096


def error_message(node_id: str, t: float, destination: str | None, packet: bytes,
                  reasons: list[str]) -> SapientMessage:
    """An Error carrying (the start of) the offending ``packet`` and one line per reason."""
    msg = envelope(node_id, t, destination)
    err = Error(packet=packet[:MAX_ECHO])
    err.error_message.extend(r[:500] for r in reasons)
    msg.error.CopyFrom(err)
    return msg
