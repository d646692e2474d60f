"""Messages to and from contract maps and msgpack payloads: the public entry points."""

from __future__ import annotations

from typing import Any

import msgpack

from cuas.errors import DecodeError
from cuas.validation import brief, choice, integer, items, lla, mapping, need, number, string
from cuas.vocabulary import THREAT_LEVELS
from cuas.wire.checks import (
    check_detection,
    check_strings,
    check_time,
    check_track,
    diag_covariance,
)
from cuas.wire.messages import (
    ACK_ACTIONS,
    MAX_ITEMS,
    MAX_NOTE,
    MAX_PAYLOAD_BYTES,
    MAX_SRC,
    STATES,
    VERSION,
    Ack,
    Alert,
    ClassEvidence,
    Detection,
    Detections,
    Ident,
    Message,
    Status,
    Track,
    Tracks,
)


def from_dict(d: Any) -> Message:
    """Validate one decoded payload (a map) and return its typed message.

    Raises :class:`DecodeError` naming the first offending key. Unknown keys are ignored, as
    the contract requires of readers.
    """
    m = mapping(d, "")
    v = need(m, "v", "")
    if v != VERSION or isinstance(v, bool):
        raise DecodeError(
            f"unsupported contract version {brief(v)} (this reader speaks {VERSION})", key="v")
    mtype = string(need(m, "type", ""), "type")
    src = string(need(m, "src", ""), "src")
    if len(src) > MAX_SRC:
        raise DecodeError(f"longer than {MAX_SRC} characters", key="src")
    seq = integer(need(m, "seq", ""), "seq")
    t = check_time(need(m, "t", ""), "t")
    if mtype == "detections":
        origin = m.get("origin")
        dets = items(need(m, "dets", ""), "dets", MAX_ITEMS)
        return Detections(
            src=src,
            seq=seq,
            t=t,
            sensor=string(need(m, "sensor", ""), "sensor"),
            kind=string(need(m, "kind", ""), "kind"),
            origin=lla(origin, "origin") if origin is not None else None,
            dets=tuple(check_detection(x, f"dets[{i}]") for i, x in enumerate(dets)),
        )
    if mtype == "tracks":
        tracks = items(need(m, "tracks", ""), "tracks", MAX_ITEMS)
        truncated = m.get("truncated", False)
        if not isinstance(truncated, bool):
            raise DecodeError("must be a boolean", key="truncated", data=truncated)
        return Tracks(
            src=src, seq=seq, t=t,
            tracks=tuple(check_track(x, f"tracks[{i}]") for i, x in enumerate(tracks)),
            truncated=truncated,
        )
    if mtype == "alert":
        zone = m.get("zone")
        return Alert(
            src=src,
            seq=seq,
            t=t,
            track_id=integer(need(m, "track_id", ""), "track_id"),
            threat=choice(need(m, "threat", ""), "threat", THREAT_LEVELS),
            previous=choice(need(m, "previous", ""), "previous", THREAT_LEVELS),
            reasons=check_strings(need(m, "reasons", ""), "reasons"),
            zone=string(zone, "zone") if zone is not None else None,
            id=string(m["id"], "id") if m.get("id") is not None else None,
        )
    if mtype == "ack":
        track_id = m.get("track_id")
        return Ack(
            src=src, seq=seq, t=t,
            alert_id=string(need(m, "alert_id", ""), "alert_id"),
            action=choice(need(m, "action", ""), "action", ACK_ACTIONS),
            user=string(need(m, "user", ""), "user"),
            note=string(m.get("note", ""), "note", allow_empty=True, max_len=MAX_NOTE),
            track_id=integer(track_id, "track_id") if track_id is not None else None,
        )
    if mtype == "status":
        counters = mapping(need(m, "counters", ""), "counters")
        uptime = number(need(m, "uptime_s", ""), "uptime_s")
        if uptime < 0:
            raise DecodeError("must be >= 0", key="uptime_s", data=uptime)
        return Status(
            src=src,
            seq=seq,
            t=t,
            state=choice(need(m, "state", ""), "state", STATES),
            uptime_s=uptime,
            counters={k: integer(c, f"counters.{k}") for k, c in counters.items()},
            last_seen={k: number(v, f"last_seen.{k}")
                       for k, v in mapping(m.get("last_seen", {}), "last_seen").items()},
        )
    raise DecodeError(f"unknown message type {mtype!r}", key="type", data=mtype)


def _ident_dict(i: Ident) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if i.icao is not None:
        out["icao"] = i.icao
    if i.callsign is not None:
        out["callsign"] = i.callsign
    if i.rid is not None:
        out["rid"] = i.rid
    if i.operator_lla is not None:
        out["operator_lla"] = list(i.operator_lla)
    if i.aliases:
        out["aliases"] = list(i.aliases)
    return out


def _detection_dict(d: Detection) -> dict[str, Any]:
    out: dict[str, Any] = {"frame": d.frame, "z": list(d.z)}
    if d.sigma is not None:
        out["sigma"] = list(d.sigma)
    # R goes out too unless it is exactly what the reader rebuilds from sigma: when both were
    # sent, R wins, and dropping it silently replaced a full covariance by diag(sigma^2).
    if d.R is not None and (d.sigma is None or tuple(d.R) != diag_covariance(d.sigma)):
        out["R"] = list(d.R)
    if d.vel is not None:
        out["vel"] = list(d.vel)
    if d.vel_sigma is not None:
        out["vel_sigma"] = list(d.vel_sigma)
    if d.ident is not None:
        out["ident"] = _ident_dict(d.ident)
    if d.attrs:
        out["attrs"] = dict(d.attrs)
    if d.evidence is not None:
        out["evidence"] = evidence_dict(d.evidence)
    return out


def evidence_dict(e: ClassEvidence) -> dict[str, Any]:
    """The contract map of a detection's ``evidence``."""
    ev: dict[str, Any] = {"likelihood": dict(e.likelihood), "confidence": e.confidence}
    if e.label is not None:
        ev["label"] = e.label
    if e.basis is not None:
        ev["basis"] = e.basis
    return ev


def track_dict(tr: Track) -> dict[str, Any]:
    """The contract map of one track."""
    out: dict[str, Any] = {
        "id": tr.id,
        "status": tr.status,
        "lla": list(tr.lla),
        "enu": list(tr.enu),
        "vel": list(tr.vel),
        "pos_sigma": list(tr.pos_sigma),
        "t_update": tr.t_update,
        "sources": list(tr.sources),
        "class": dict(tr.class_probs),
        "threat": tr.threat,
        "malicious": tr.malicious,
        "reasons": list(tr.reasons),
    }
    if tr.ident is not None:
        out["ident"] = _ident_dict(tr.ident)
    if tr.modes:
        out["modes"] = dict(tr.modes)
    return out


def to_dict(msg: Message) -> dict[str, Any]:
    """The contract map of a message (ready for msgpack or JSON)."""
    out: dict[str, Any] = {"v": VERSION, "type": msg.type, "src": msg.src, "seq": msg.seq, "t": msg.t}
    if isinstance(msg, Detections):
        out.update(sensor=msg.sensor, kind=msg.kind, dets=[_detection_dict(d) for d in msg.dets])
        if msg.origin is not None:
            out["origin"] = list(msg.origin)
    elif isinstance(msg, Tracks):
        out["tracks"] = [track_dict(tr) for tr in msg.tracks]
        if msg.truncated:
            out["truncated"] = True
    elif isinstance(msg, Alert):
        out.update(track_id=msg.track_id, threat=msg.threat, previous=msg.previous,
                   reasons=list(msg.reasons))
        if msg.zone is not None:
            out["zone"] = msg.zone
        if msg.id is not None:
            out["id"] = msg.id
    elif isinstance(msg, Ack):
        out.update(alert_id=msg.alert_id, action=msg.action, user=msg.user, note=msg.note)
        if msg.track_id is not None:
            out["track_id"] = msg.track_id
    else:
        out.update(state=msg.state, uptime_s=msg.uptime_s, counters=dict(msg.counters))
        if msg.last_seen:
            out["last_seen"] = dict(msg.last_seen)
    return out


def unpack_payload(payload: bytes) -> Any:
    """The msgpack object of one payload, before validation: refuses (:class:`DecodeError`)
    anything that is not bytes, is over :data:`MAX_PAYLOAD_BYTES`, or is not msgpack."""
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise DecodeError(f"payload must be bytes, got {type(payload).__name__}")
    size = payload.nbytes if isinstance(payload, memoryview) else len(payload)
    if size > MAX_PAYLOAD_BYTES:
        raise DecodeError(f"payload of {size} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        return msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=True,
        )
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        # Some msgpack errors (StackError for nesting deeper than its stack) have no text.
        raise DecodeError(f"not a msgpack map: {str(exc) or type(exc).__name__}",
                          data=bytes(payload[:64])) from None


def decode(payload: bytes) -> Message:
    """Decode and validate one msgpack payload from the bus or a recording.

    Raises :class:`DecodeError` for oversized, malformed or invalid payloads.
    """
    return from_dict(unpack_payload(payload))


def encode(msg: Message) -> bytes:
    """The msgpack payload of a message (what goes on the wire and into recordings)."""
    return msgpack.packb(to_dict(msg), use_bin_type=True)


def topic_for(msg: Message) -> str:
    """The bus topic of a message: ``det.<sensor>``, ``trk``, ``alert``, ``ack``, ``status.<src>``."""
    if isinstance(msg, Detections):
        return f"det.{msg.sensor}"
    if isinstance(msg, Tracks):
        return "trk"
    if isinstance(msg, Alert):
        return "alert"
    if isinstance(msg, Ack):
        return "ack"
    return f"status.{msg.src}"

