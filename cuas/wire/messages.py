"""The contract's messages as typed, frozen dataclasses, and the limits readers apply.

Units and frames: times are UTC seconds since the Unix epoch; lengths metres; angles degrees;
``lla`` is WGS-84 (lat, lon degrees, height above the ellipsoid in metres); ``enu`` metres east,
north, up at the site origin; azimuth from true north clockwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from cuas.validation import MAX_STR as MAX_STR  # the contract's string bound, wire.MAX_STR
from cuas.vocabulary import CLASSES, COMPONENT_STATES

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
#: Longest note on an acknowledgement (characters).
MAX_NOTE: Final = 1000
#: What an operator can do with an alert.
ACK_ACTIONS: Final = ("acknowledged", "dismissed")

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
class ClassEvidence:
    """What one sensor's observation says about the object's class (contract addition).

    ``likelihood``: P(this observation | class) for every class of ``vocabulary.CLASSES``, each
    in [0, 1], not all zero (a sensor's own labels mapped onto uav/bird/manned/clutter).
    ``confidence`` in [0, 1]: how far a fuser should trust it (0 = ignore). ``label``: the
    sensor's own word for it; ``basis``: what produced it (``appearance``, ``rcs``,
    ``micro-doppler``, ``sapient``, ``rf``, ``sim``).
    """

    likelihood: Mapping[str, float]
    confidence: float
    label: str | None = None
    basis: str | None = None


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
    #: Optional class evidence (contract addition, 2026-12-07).
    evidence: ClassEvidence | None = None


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
    #: Optional motion-mode probabilities (``vocabulary.MOTION_MODES`` keys, contract addition):
    #: how far the tracker believes the object hovers, flies straight or manoeuvres.
    modes: Mapping[str, float] = field(default_factory=dict)


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
    #: Optional (contract addition): the alert's own id, what an acknowledgement names.
    id: str | None = None
    type: Literal["alert"] = "alert"

    @property
    def alert_id(self) -> str:
        """The id a console acknowledges: ``id``, or ``<src>:<seq>`` when the sender gave none."""
        return self.id if self.id is not None else f"{self.src}:{self.seq}"


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


@dataclass(frozen=True, slots=True)
class Ack:
    """An operator acknowledged or dismissed an alert (contract addition, topic ``ack``)."""

    src: str
    seq: int
    t: float
    alert_id: str
    action: str
    user: str
    note: str = ""
    track_id: int | None = None
    type: Literal["ack"] = "ack"


Message: TypeAlias = Detections | Tracks | Alert | Status | Ack

NEUTRAL_CLASS: Final[Mapping[str, float]] = {c: 0.25 for c in CLASSES}
