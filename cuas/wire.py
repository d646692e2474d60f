"""The wire and recording contract, version 1 (``shared/spec/wire.md``, copied in ``docs/wire.md``).

This is the one module that turns msgpack/JSON payloads into typed, frozen dataclasses and back.
Everything that enters cuas is validated here, once; the rest of the code trusts what it gets.
Malformed input raises :class:`cuas.errors.DecodeError` naming the offending key.

Units and frames: times are UTC seconds since the Unix epoch; lengths metres; angles degrees;
``lla`` is WGS-84 (lat, lon degrees, height above the ellipsoid in metres); ``enu`` metres east,
north, up at the site origin; azimuth from true north clockwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

import msgpack
import numpy as np

from cuas.errors import DecodeError
from cuas.validation import MAX_STR as MAX_STR  # the contract's string bound, wire.MAX_STR
from cuas.validation import (
    brief,
    choice,
    integer,
    item_key,
    items,
    lla,
    mapping,
    need,
    number,
    numbers,
    string,
    utf8,
    vec3,
)
from cuas.vocabulary import CLASSES, COMPONENT_STATES, THREAT_LEVELS, TRACK_STATUSES

VERSION: Final = 1
#: Largest payload accepted from the bus or a recording (bytes). A real radar scan with
#: thousands of plots stays far below this; anything bigger is an attack or a bug.
MAX_PAYLOAD_BYTES: Final = 16 * 1024 * 1024
#: Largest number of detections or tracks in one message.
MAX_ITEMS: Final = 200_000
#: Timestamps outside [2000-01-01, 2100-01-01) are never a real measurement (a sensor with an
#: unset clock says 1970); finer checks against the stream's own clock live in the tracker.
T_MIN: Final = 946_684_800.0
T_MAX: Final = 4_102_444_800.0
#: Sanity bounds on measurements (enu coordinates and ranges in m, velocities in m/s): beyond
#: them a value is a unit error or garbage, and letting it through would overflow the filter.
MAX_DISTANCE_M: Final = 1e8
MAX_SPEED_MS: Final = 1e5
#: Longest ``src`` (``wire.schema.json`` says ``maxLength: 128``; what we accept we must be able to
#: re-emit as schema-valid).
MAX_SRC: Final = 128
#: Plausible 1-sigma bounds of a measurement component (m or degrees). Below SIGMA_MIN the
#: square underflows towards 0 (``sigma=1e-200`` used to give ``R == 0``); above SIGMA_MAX it is
#: no measurement at all. ``R`` entries are bounded by their squares, which also keeps numpy
#: from overflowing (and warning) while checking symmetry and definiteness.
SIGMA_MIN: Final = 1e-9
SIGMA_MAX: Final = 1e7
#: ``attrs`` is free-form but still bad input if it is absurd: nesting deeper than this (which
#: breaks ``repr`` with RecursionError), NaN/inf, integers msgpack cannot re-encode.
MAX_ATTRS_DEPTH: Final = 16
#: Most ``ident.aliases`` of one identity (a drone has a handful of ids, not hundreds).
MAX_ALIASES: Final = 16

Frame: TypeAlias = Literal["lla", "enu", "rae", "ae", "none"]
FRAMES: Final[tuple[str, ...]] = ("lla", "enu", "rae", "ae", "none")
FRAME_DIM: Final[dict[str, int]] = {"lla": 3, "enu": 3, "rae": 3, "ae": 2, "none": 0}
#: Component states a ``status`` message may carry (the vocabulary's; ``wire.STATES`` for short).
STATES: Final = COMPONENT_STATES

Vec3: TypeAlias = tuple[float, float, float]


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True, slots=True)
class Ident:
    """Cooperative identity: ICAO address (6 lower-case hex), callsign, Remote ID serial, pilot.

    ``aliases``: the other ids the same aircraft goes by (a Remote ID session id, CAA
    registration, transmitter MAC), each as ``<type>:<value>`` such as ``caa:GBR-...`` or
    ``mac:60:60:1f:...``; any one of them ties a report to the same identity.
    """

    icao: str | None = None
    callsign: str | None = None
    rid: str | None = None
    operator_lla: Vec3 | None = None
    aliases: tuple[str, ...] = ()

    @property
    def key(self) -> str | None:
        """The identity a track is keyed by: ``icao:<hex>`` or ``rid:<serial>`` (None if neither)."""
        if self.icao is not None:
            return f"icao:{self.icao}"
        if self.rid is not None:
            return f"rid:{self.rid}"
        return None

    @property
    def keys(self) -> tuple[str, ...]:
        """Every identity key: :attr:`key` first, then one ``rid:<alias>`` per alias."""
        key = self.key
        if key is None:
            return ()
        return (key, *(f"rid:{a}" for a in self.aliases)) if self.aliases else (key,)


@dataclass(frozen=True, slots=True)
class Detection:
    """One measurement in ``frame`` (see the module docstring for units).

    ``R`` is the full measurement covariance (row-major, dim×dim); when only ``sigma`` was sent
    it is built from it, so consumers always read ``R``. ``sigma`` keeps what was sent.
    """

    frame: Frame
    z: tuple[float, ...]
    R: tuple[float, ...] | None = None
    sigma: tuple[float, ...] | None = None
    vel: Vec3 | None = None
    vel_sigma: Vec3 | None = None
    ident: Ident | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Detections:
    """One batch from one sensor, all measured at ``t`` (UTC s)."""

    src: str
    seq: int
    t: float
    sensor: str
    kind: str
    dets: tuple[Detection, ...]
    origin: Vec3 | None = None
    type: Literal["detections"] = "detections"


@dataclass(frozen=True, slots=True)
class Track:
    """One track of a ``tracks`` snapshot; positions and velocity predicted to the snapshot's t."""

    id: int
    status: str
    lla: Vec3
    enu: Vec3
    vel: Vec3
    pos_sigma: Vec3
    t_update: float
    sources: tuple[str, ...]
    class_probs: Mapping[str, float]
    threat: str = "none"
    malicious: bool = False
    reasons: tuple[str, ...] = ()
    ident: Ident | None = None


@dataclass(frozen=True, slots=True)
class Tracks:
    """A full snapshot of the live tracks at ``t``."""

    src: str
    seq: int
    t: float
    tracks: tuple[Track, ...]
    type: Literal["tracks"] = "tracks"
    #: Some tracks were left out to keep the snapshot within :data:`MAX_PAYLOAD_BYTES` (the
    #: lowest threats first); optional on the wire, absent when False.
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Alert:
    """A track's threat rose, or it entered a zone."""

    src: str
    seq: int
    t: float
    track_id: int
    threat: str
    previous: str
    reasons: tuple[str, ...]
    zone: str | None = None
    type: Literal["alert"] = "alert"


@dataclass(frozen=True, slots=True)
class Status:
    """A component's heartbeat."""

    src: str
    seq: int
    t: float
    state: str
    uptime_s: float
    counters: Mapping[str, int]
    #: Optional (contract addition): when each input was last heard from, by sensor id (UTC s).
    last_seen: Mapping[str, float] = field(default_factory=dict)
    type: Literal["status"] = "status"


Message: TypeAlias = Detections | Tracks | Alert | Status

NEUTRAL_CLASS: Final[Mapping[str, float]] = {c: 0.25 for c in CLASSES}


# --------------------------------------------------------------------------- contract checks


def _azimuth(a: float) -> float:
    """``a`` normalised to [0, 360): ``-1e-20 % 360.0`` rounds to 360.0, so clamp that case."""
    a = a % 360.0
    return 0.0 if a >= 360.0 else a


def _time(v: Any, key: str) -> float:
    t = number(v, key)
    if not T_MIN <= t < T_MAX:
        raise DecodeError(f"timestamp {t} is outside 2000..2100 (UTC seconds)", key=key, data=v)
    return t


def _free_form(attrs: Mapping[str, Any], key: str) -> None:
    """Check a free-form ``attrs`` map without recursion (see :data:`MAX_ATTRS_DEPTH`).

    Scalars are checked in place and only containers are pushed, so a long list of numbers
    costs one isinstance chain per element and no key strings.
    """
    stack: list[tuple[Any, str, int]] = [(attrs, key, 1)]
    while stack:
        node, where, depth = stack.pop()
        is_map = isinstance(node, dict)
        for name, x in node.items() if is_map else enumerate(node):
            if is_map and not isinstance(name, str):
                raise DecodeError("map keys must be strings", key=where, data=name)
            # JSON's types only: bytes or a msgpack extension would pass here and then break
            # the JSON recording writer (and every JSON consumer) downstream.
            if x is None or isinstance(x, bool):
                continue
            if isinstance(x, float):
                if not math.isfinite(x):
                    raise DecodeError(f"must be finite, got {x}", key=item_key(where, name))
            elif isinstance(x, int):
                if not -(2**63) <= x < 2**64:
                    raise DecodeError("integer out of the 64-bit range", key=item_key(where, name))
            elif isinstance(x, str):
                utf8(x, item_key(where, name))
            elif type(x) in (list, tuple, dict):  # not ExtType, a tuple subclass
                if depth >= MAX_ATTRS_DEPTH:
                    raise DecodeError(f"nested deeper than {MAX_ATTRS_DEPTH}",
                                      key=item_key(where, name))
                stack.append((x, item_key(where, name), depth + 1))
            else:
                raise DecodeError(f"unsupported value of type {type(x).__name__}",
                                  key=item_key(where, name))
        if is_map:
            for name in node:
                utf8(name, where)


def _ident(v: Any, key: str) -> Ident:
    m = mapping(v, key)
    icao = m.get("icao")
    if icao is not None:
        icao = string(icao, f"{key}.icao")
        if len(icao) != 6 or any(c not in "0123456789abcdefABCDEF" for c in icao):
            raise DecodeError("ICAO address must be 6 hex characters", key=f"{key}.icao", data=icao)
        icao = icao.lower()
    callsign = m.get("callsign")
    if callsign is not None:
        callsign = string(callsign, f"{key}.callsign", allow_empty=True).strip() or None
    rid = m.get("rid")
    if rid is not None:
        rid = string(rid, f"{key}.rid")
    op = m.get("operator_lla")
    op_lla = lla(op, f"{key}.operator_lla") if op is not None else None
    raw = m.get("aliases")
    aliases: tuple[str, ...] = ()
    if raw is not None:
        if not isinstance(raw, list) or len(raw) > MAX_ALIASES:
            raise DecodeError(f"expected a list of at most {MAX_ALIASES} strings",
                              key=f"{key}.aliases", data=raw)
        aliases = tuple(string(a, f"{key}.aliases[{i}]") for i, a in enumerate(raw))
    return Ident(icao=icao, callsign=callsign, rid=rid, operator_lla=op_lla, aliases=aliases)


def _covariance(
    sigma: Any, R: Any, dim: int, key: str
) -> tuple[tuple[float, ...] | None, tuple[float, ...]]:
    """Validate ``sigma``/``R`` for a ``dim``-dimensional measurement; returns (sigma, R)."""
    sig: tuple[float, ...] | None = None
    if sigma is not None:
        sig = numbers(sigma, f"{key}.sigma", dim)
        for i, s in enumerate(sig):
            if s <= 0.0:
                raise DecodeError(f"sigma must be > 0, got {s}", key=f"{key}.sigma[{i}]")
            if s < SIGMA_MIN:
                raise DecodeError(f"sigma {s} is absurdly small", key=f"{key}.sigma[{i}]")
            if s > SIGMA_MAX:
                raise DecodeError(f"sigma {s} is absurdly large", key=f"{key}.sigma[{i}]")
    if R is not None:
        r = numbers(R, f"{key}.R", dim * dim)
        for i, x in enumerate(r):
            if abs(x) > SIGMA_MAX * SIGMA_MAX:
                raise DecodeError(f"entry {x} is absurdly large", key=f"{key}.R[{i}]")
        for i in range(dim):
            if r[i * dim + i] < SIGMA_MIN * SIGMA_MIN:
                raise DecodeError("diagonal entry is not a plausible variance",
                                  key=f"{key}.R[{i * dim + i}]")
        mat = np.asarray(r, dtype=np.float64).reshape(dim, dim)
        if not np.allclose(mat, mat.T, rtol=1e-9, atol=1e-12 * max(1.0, float(np.abs(mat).max()))):
            raise DecodeError("R is not symmetric", key=f"{key}.R", data=r)
        try:
            np.linalg.cholesky(mat)
        except np.linalg.LinAlgError:
            raise DecodeError("R is not positive definite", key=f"{key}.R", data=r) from None
        return sig, r
    if sig is None:
        raise DecodeError("a positional detection needs sigma or R", key=f"{key}.sigma")
    return sig, _diag(sig)


def _diag(sig: Sequence[float]) -> tuple[float, ...]:
    """The row-major covariance ``diag(sig**2)`` (the ``R`` of a detection that sent ``sigma``)."""
    dim = len(sig)
    return tuple((sig[i] * sig[i] if i == j else 0.0) for i in range(dim) for j in range(dim))


def _detection(v: Any, key: str) -> Detection:
    m = mapping(v, key)
    frame = need(m, "frame", key)
    if frame not in FRAMES:
        raise DecodeError(f"unknown frame {brief(frame)}; expected one of {FRAMES}",
                          key=f"{key}.frame")
    dim = FRAME_DIM[frame]
    z_raw = need(m, "z", key)
    z = numbers(z_raw, f"{key}.z", dim)
    if frame == "lla":
        z = lla(z_raw, f"{key}.z")
    elif frame == "enu":
        for i, c in enumerate(z):
            if abs(c) > MAX_DISTANCE_M:
                raise DecodeError(f"{c} m is beyond any sensor's reach", key=f"{key}.z[{i}]")
    elif frame == "rae":
        if not 0.0 < z[0] <= MAX_DISTANCE_M:
            raise DecodeError(f"range must lie in (0, {MAX_DISTANCE_M:g}] m, got {z[0]}",
                              key=f"{key}.z[0]")
        if not -90.0 <= z[2] <= 90.0:
            raise DecodeError(f"elevation {z[2]} outside [-90, 90]", key=f"{key}.z[2]")
        z = (z[0], _azimuth(z[1]), z[2])
    elif frame == "ae":
        if not -90.0 <= z[1] <= 90.0:
            raise DecodeError(f"elevation {z[1]} outside [-90, 90]", key=f"{key}.z[1]")
        z = (_azimuth(z[0]), z[1])
    sigma, R = (None, None)
    if dim:
        sigma, R = _covariance(m.get("sigma"), m.get("R"), dim, key)
    vel = m.get("vel")
    vel_t = vec3(vel, f"{key}.vel") if vel is not None else None
    if vel_t is not None and max(abs(c) for c in vel_t) > MAX_SPEED_MS:
        raise DecodeError(f"a speed over {MAX_SPEED_MS:g} m/s is not a measurement",
                          key=f"{key}.vel")
    vs = m.get("vel_sigma")
    vel_sigma = vec3(vs, f"{key}.vel_sigma") if vs is not None else None
    if vel_sigma is not None and not all(SIGMA_MIN <= c <= MAX_SPEED_MS for c in vel_sigma):
        raise DecodeError(f"vel_sigma must lie in [{SIGMA_MIN:g}, {MAX_SPEED_MS:g}] m/s",
                          key=f"{key}.vel_sigma")
    ident = m.get("ident")
    attrs = mapping(m.get("attrs", {}), f"{key}.attrs")
    _free_form(attrs, f"{key}.attrs")
    return Detection(
        frame=frame,
        z=z,
        R=R,
        sigma=sigma,
        vel=vel_t,
        vel_sigma=vel_sigma,
        ident=_ident(ident, f"{key}.ident") if ident is not None else None,
        attrs=attrs,
    )


def _strs(v: Any, key: str) -> tuple[str, ...]:
    return tuple(string(s, f"{key}[{i}]", allow_empty=True)
                 for i, s in enumerate(items(v, key, MAX_ITEMS)))


def _track(v: Any, key: str) -> Track:
    m = mapping(v, key)
    cls = mapping(need(m, "class", key), f"{key}.class")
    probs = {c: number(p, f"{key}.class.{c}") for c, p in cls.items()}
    for c in CLASSES:
        if c not in probs:
            raise DecodeError("missing class probability", key=f"{key}.class.{c}")
    if any(not 0.0 <= p <= 1.0 for p in probs.values()):
        raise DecodeError("class probabilities must lie in [0, 1]", key=f"{key}.class")
    ident = m.get("ident")
    malicious = need(m, "malicious", key)
    if not isinstance(malicious, bool):
        raise DecodeError("expected a boolean", key=f"{key}.malicious", data=malicious)
    pos_sigma = vec3(need(m, "pos_sigma", key), f"{key}.pos_sigma")
    if min(pos_sigma) < 0.0:  # a standard deviation is never negative
        raise DecodeError("pos_sigma must be >= 0", key=f"{key}.pos_sigma", data=pos_sigma)
    return Track(
        id=integer(need(m, "id", key), f"{key}.id"),
        status=choice(need(m, "status", key), f"{key}.status", TRACK_STATUSES),
        lla=lla(need(m, "lla", key), f"{key}.lla"),
        enu=vec3(need(m, "enu", key), f"{key}.enu"),
        vel=vec3(need(m, "vel", key), f"{key}.vel"),
        pos_sigma=pos_sigma,
        # A timestamp like ``t``: 1970 or 2200 is a broken clock, not a last update.
        t_update=_time(need(m, "t_update", key), f"{key}.t_update"),
        sources=_strs(need(m, "sources", key), f"{key}.sources"),
        class_probs=probs,
        threat=choice(need(m, "threat", key), f"{key}.threat", THREAT_LEVELS),
        malicious=malicious,
        reasons=_strs(need(m, "reasons", key), f"{key}.reasons"),
        ident=_ident(ident, f"{key}.ident") if ident is not None else None,
    )


# --------------------------------------------------------------------------- public API


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
    t = _time(need(m, "t", ""), "t")
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
            dets=tuple(_detection(x, f"dets[{i}]") for i, x in enumerate(dets)),
        )
    if mtype == "tracks":
        tracks = items(need(m, "tracks", ""), "tracks", MAX_ITEMS)
        truncated = m.get("truncated", False)
        if not isinstance(truncated, bool):
            raise DecodeError("must be a boolean", key="truncated", data=truncated)
        return Tracks(
            src=src, seq=seq, t=t,
            tracks=tuple(_track(x, f"tracks[{i}]") for i, x in enumerate(tracks)),
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
            reasons=_strs(need(m, "reasons", ""), "reasons"),
            zone=string(zone, "zone") if zone is not None else None,
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
    if d.R is not None and (d.sigma is None or tuple(d.R) != _diag(d.sigma)):
        out["R"] = list(d.R)
    if d.vel is not None:
        out["vel"] = list(d.vel)
    if d.vel_sigma is not None:
        out["vel_sigma"] = list(d.vel_sigma)
    if d.ident is not None:
        out["ident"] = _ident_dict(d.ident)
    if d.attrs:
        out["attrs"] = dict(d.attrs)
    return out


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
    else:
        out.update(state=msg.state, uptime_s=msg.uptime_s, counters=dict(msg.counters))
        if msg.last_seen:
            out["last_seen"] = dict(msg.last_seen)
    return out


def decode(payload: bytes) -> Message:
    """Decode and validate one msgpack payload from the bus or a recording.

    Raises :class:`DecodeError` for oversized, malformed or invalid payloads.
    """
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise DecodeError(f"payload must be bytes, got {type(payload).__name__}")
    size = payload.nbytes if isinstance(payload, memoryview) else len(payload)
    if size > MAX_PAYLOAD_BYTES:
        raise DecodeError(f"payload of {size} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        obj = msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=True,
        )
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        # Some msgpack errors (StackError for nesting deeper than its stack) have no text.
        raise DecodeError(f"not a msgpack map: {str(exc) or type(exc).__name__}",
                          data=bytes(payload[:64])) from None
    return from_dict(obj)


def encode(msg: Message) -> bytes:
    """The msgpack payload of a message (what goes on the wire and into recordings)."""
    return msgpack.packb(to_dict(msg), use_bin_type=True)


def topic_for(msg: Message) -> str:
    """The bus topic a message is published on (``det.<sensor>``, ``trk``, ``alert``, ``status.<src>``)."""
    if isinstance(msg, Detections):
        return f"det.{msg.sensor}"
    if isinstance(msg, Tracks):
        return "trk"
    if isinstance(msg, Alert):
        return "alert"
    return f"status.{msg.src}"
