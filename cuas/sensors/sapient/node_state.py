"""The fusion node's protocol logic, with no I/O: one received frame in, the replies to send,
the contract messages to publish and whether to close the connection out.

Sensor modules must register before anything else they send is used (the ICD's order:
Registration, RegistrationAck, then StatusReports and DetectionReports). Every message is
checked against the ICD rules first; what fails, or what cannot become a contract detection,
is answered with an Error naming the rule or the reason, and counted.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Final

from cuas import wire
from cuas.config import Config
from cuas.errors import ConversionError
from cuas.sapient import convert
from cuas.sapient.convert import NodeInfo
from cuas.sapient.framing import Frame
from cuas.sapient.proto import (
    ICD_VERSION,
    Registration,
    SapientMessage,
    StatusReport,
    node_uuid,
)
from cuas.sapient.validate import validate

log = logging.getLogger(__name__)

#: Most sensor modules remembered; a sender inventing node ids must not grow memory.
MAX_NODES: Final = 1024
#: StatusReport ``system`` -> contract ``status.state``.
STATE_FOR_SYSTEM: Final = {
    StatusReport.SYSTEM_OK: "ok", StatusReport.SYSTEM_WARNING: "degraded",
    StatusReport.SYSTEM_ERROR: "degraded", StatusReport.SYSTEM_GOODBYE: "down",
}


@dataclass(slots=True)
class NodeRecord:
    """What is kept of one registered module: its registration, last StatusReport (and when
    it came, UTC s), how its reports are read, and how many of its reports were used."""

    info: NodeInfo
    registration: Registration
    status: StatusReport | None = None
    status_t: float | None = None
    seq: int = 0
    status_seq: int = 0
    detections: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one frame asks of the I/O shell."""

    replies: tuple[SapientMessage, ...] = ()
    publish: tuple[wire.Message, ...] = ()
    close: bool = False


@dataclass(slots=True)
class FusionNodeState:
    """The fusion node's memory of its modules and its counters (monotonic integers)."""

    config: Config
    node_id: str = ""
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    #: The connection (any token) that registered each node id: only it may report as that
    #: node, so a connection that never registered cannot inject under another module's id.
    owners: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.node_id:
            self.node_id = self.config.sapient.node_id or node_uuid(self.config.sapient.node_name)

    # ------------------------------------------------------------------ entry point

    def release(self, conn: object) -> None:
        """Forget what ``conn`` registered (it closed): its node ids must register again."""
        for node_id in [n for n, owner in self.owners.items() if owner is conn]:
            del self.owners[node_id]

    def handle(self, frame: Frame, now: float, conn: object = None) -> Outcome:
        """React to one frame received at UTC ``now`` (s) on connection ``conn`` (a token
        compared by identity; None for a single-connection caller, which owns every id)."""
        msg = frame.message
        if msg is None:
            self.counters["rejected"] += 1
            if frame.fatal:
                self.counters["rejected_oversized"] += 1
            else:
                self.counters["rejected_protobuf"] += 1
            reply = convert.error_message(self.node_id, now, None, frame.payload,
                                          [frame.error or "undecodable frame"])
            return Outcome(replies=(reply,), close=frame.fatal)
        violations = validate(msg)
        sender = msg.node_id if msg.HasField("node_id") else None
        if violations:
            self.counters["rejected"] += 1
            for rule in {v.rule for v in violations}:
                self.counters[f"rejected_{rule}"] += 1
            reasons = [v.reason() for v in violations]
            log.debug("rejected a message from %s: %s", sender, "; ".join(reasons))
            return Outcome(replies=(convert.error_message(self.node_id, now, sender,
                                                          frame.payload, reasons),))
        self.counters["accepted"] += 1
        content = msg.WhichOneof("content")
        self.counters[f"received_{content}"] += 1
        assert sender is not None  # node_id is mandatory: validated above
        if content == "registration":
            return self._register(msg, now, conn)
        record = self.nodes.get(sender)
        if record is None and content in ("status_report", "detection_report", "alert"):
            self.counters["unregistered"] += 1
            return self._error(msg, frame, now, f"node {sender} has not registered: send a "
                               "Registration first")
        if (record is not None and content in ("status_report", "detection_report", "alert")
                and self.owners.get(sender) is not conn):
            self.counters["rejected_not_owner"] += 1
            n = self.counters["rejected_not_owner"]
            if n & (n - 1) == 0:  # the 1st, 2nd, 4th, 8th...: a flood cannot flood the log
                log.warning("refused a %s for node %s from a connection that did not register "
                            "it (%d refused so far)", content, sender, n)
            return self._error(msg, frame, now, f"node {sender} registered on another "
                               "connection: send a Registration on this one first")
        if content == "status_report":
            assert record is not None
            return self._status(msg, record, now)
        if content == "detection_report":
            assert record is not None
            return self._detection(msg, frame, record, now)
        if content == "alert":
            al = msg.alert
            log.warning("module %s (sensor %s) alerts: %s", sender,
                        self.nodes[sender].info.sensor_id, al.description[:300])
            return Outcome(replies=(convert.alert_ack(self.node_id, now, sender, al.alert_id,
                                                      True, ["Alert was accepted."]),))
        if content == "task":
            return Outcome(replies=(convert.task_ack(
                self.node_id, now, sender, msg.task.task_id,
                "cuas is a fusion node: it takes no tasks from its sensor modules"),))
        if content == "error":
            log.warning("node %s reports an error: %s", sender,
                        "; ".join(msg.error.error_message)[:500])
        # Acks (and registration acks) from a module are counted only.
        return Outcome()

    # ------------------------------------------------------------------ messages

    def _error(self, msg: SapientMessage, frame: Frame, now: float, reason: str) -> Outcome:
        return Outcome(replies=(convert.error_message(self.node_id, now, msg.node_id,
                                                      frame.payload, [reason]),))

    def _sensor_for(self, node_id: str) -> tuple[str, NodeInfo]:
        """The sensor id and reading settings the configuration gives a module."""
        for sid, sensor in self.config.sensors.items():
            sc = sensor.sapient
            if sc is not None and sc.node_id.lower() == node_id.lower():
                return sid, NodeInfo(node_id, sid, origin=sensor.origin, utm_zone=sc.utm_zone,
                                     north_offset_deg=sc.north_offset_deg)
        sid = f"sapient-{node_id.lower()}"
        return sid, NodeInfo(node_id, sid)

    def _register(self, msg: SapientMessage, now: float, conn: object = None) -> Outcome:
        node_id = msg.node_id
        if node_id not in self.nodes and len(self.nodes) >= MAX_NODES:
            self.counters["registrations_refused"] += 1
            return Outcome(replies=(convert.registration_ack(
                self.node_id, now, node_id, False,
                [f"this fusion node already serves {MAX_NODES} modules"]),))
        reg = msg.registration
        if not _is_v2(reg.icd_version):
            self.counters["registrations_refused"] += 1
            return Outcome(replies=(convert.registration_ack(
                self.node_id, now, node_id, False,
                [f"icd_version {reg.icd_version[:60]!r} is not {ICD_VERSION} (this fusion node "
                 "speaks BSI Flex 335 v2.x only)"]),))
        _, info = self._sensor_for(node_id)
        zone = info.utm_zone or convert.registered_utm_zone(reg)
        info = replace(info, node_type=convert.node_type_name(reg),
                       speed_factor=convert.speed_factor(reg), utm_zone=zone)
        old = self.nodes.get(node_id)
        record = NodeRecord(info, reg)
        if old is not None:  # a re-registration keeps what the module told us since
            record.status, record.status_t = old.status, old.status_t
            record.seq, record.status_seq = old.seq, old.status_seq
            if old.info.origin is not None:  # the configured one, or a reported one since
                record.info = replace(info, origin=old.info.origin)
        self.nodes[node_id] = record
        if node_id in self.owners and self.owners[node_id] is not conn:
            # A module that reconnected (its old connection may linger): the newest
            # registration owns the id. Over TLS only certified modules get this far.
            log.warning("node %s registered again on a new connection", node_id)
        self.owners[node_id] = conn
        self.counters["registrations"] += 1
        log.info("module %s (%s, %s) registered as sensor %s", node_id, reg.name or "unnamed",
                 info.node_type, info.sensor_id)
        return Outcome(replies=(convert.registration_ack(self.node_id, now, node_id, True),))

    def _status(self, msg: SapientMessage, record: NodeRecord, now: float) -> Outcome:
        rep = msg.status_report
        record.status, record.status_t = rep, now
        lla = convert.node_location(rep, record.info, self.config.sapient, self.config.site)
        if lla is not None:
            record.info = replace(record.info, origin=lla)
        record.status_seq += 1
        status = wire.Status(src=record.info.sensor_id, seq=record.status_seq,
                             t=convert.to_unix(msg.timestamp),
                             state=STATE_FOR_SYSTEM.get(rep.system, "degraded"),
                             uptime_s=0.0, counters={"detections": record.detections})
        return Outcome(publish=(status,))

    def _detection(self, msg: SapientMessage, frame: Frame, record: NodeRecord,
                   now: float) -> Outcome:
        try:
            batch = convert.report_to_detections(msg, record.info, record.seq + 1,
                                                 self.config.sapient, self.config.site)
        except ConversionError as exc:
            self.counters["unconvertible"] += 1
            return self._error(msg, frame, now, f"detection_report not used: {exc}")
        record.seq += 1
        record.detections += 1
        self.counters["detections"] += 1
        return Outcome(publish=(batch,))


def _is_v2(icd_version: str) -> bool:
    """True for ``BSI Flex 335 v2.0`` and its spellings (case, spaces, ``v2``, ``v2.1``)."""
    text = " ".join(icd_version.lower().replace("_", " ").split())
    return text.startswith("bsi flex 335 v2") or text.startswith("bsi flex 335 2")
