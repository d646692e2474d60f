"""The typed picture of an incident, as read from a recording (see :mod:`cuas.report.load`).

Times are UTC seconds; positions WGS-84 ``(lat, lon, h)`` in degrees and metres above the
ellipsoid, or site ENU metres (east, north, up of the site origin).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cuas.record.manifest import Verdict

F64 = npt.NDArray[np.float64]

#: Threat levels, least first (as on the wire).
THREATS = ("none", "low", "medium", "high", "critical")


def iso(t: float) -> str:
    """UTC seconds as ISO 8601 with milliseconds and ``Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def threat_rank(level: str) -> int:
    """Index of a threat level in :data:`THREATS` (unknown levels rank as ``none``)."""
    return THREATS.index(level) if level in THREATS else 0


@dataclass(frozen=True, slots=True, eq=False)
class TrackPath:
    """One track over time, thinned to at most one point per report step.

    ``t`` (N,) UTC s, ``lla`` (N, 3), ``enu`` (N, 3), ``threat`` the level at each point.
    ``sources``: sensor -> (first, last) time it contributed. ``label``: the most likely class
    at its most confident point. ``operators``: (t, lat, lon, h) of the Remote ID operator.
    """

    id: int
    t: F64
    lla: F64
    enu: F64
    threat: tuple[str, ...]
    label: str
    label_prob: float
    max_threat: str
    sources: Mapping[str, tuple[float, float]]
    reasons: tuple[str, ...] = ()
    rid: str | None = None
    icao: str | None = None
    callsign: str | None = None
    operators: tuple[tuple[float, float, float, float], ...] = ()

    @property
    def name(self) -> str:
        """What a reader calls it: ``track 7 (RID 1581F5...)``."""
        who = self.rid and f"RID {self.rid}" or self.callsign or self.icao
        return f"track {self.id}" + (f" ({who})" if who else "")

    @property
    def first_t(self) -> float:
        return float(self.t[0])

    @property
    def last_t(self) -> float:
        return float(self.t[-1])


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert as the daemon raised it."""

    t: float
    alert_id: str
    track_id: int
    threat: str
    previous: str
    reasons: tuple[str, ...]
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class AckRow:
    """Who acknowledged or dismissed what, from the recording's ``ack`` topic or the audit log."""

    t: float
    user: str
    action: str
    alert_id: str | None
    track_id: int | None
    note: str = ""
    role: str = ""
    origin: str = "recording"


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """An audit log read: its entries' hash chain holds (``ok``) or breaks at ``bad_line``."""

    path: Path
    lines: int
    ok: bool
    message: str
    bad_line: int | None = None


@dataclass(frozen=True, slots=True)
class SensorRow:
    """One sensor's messages in the report window (by topic ``det.<name>``)."""

    name: str
    messages: int
    first_t: float
    last_t: float


@dataclass(frozen=True, slots=True)
class ZoneShape:
    """A site zone as a WGS-84 ring ((lat, lon) vertices, not closed), its rule and band."""

    id: str
    name: str
    kind: str
    level: str
    ring: tuple[tuple[float, float], ...]
    floor_m: float
    ceiling_m: float


@dataclass(frozen=True, slots=True)
class Incident:
    """Everything a report or export shows, for one recording and time window."""

    recording: Path
    sha256: str
    size: int
    t_start: float
    t_end: float
    site: tuple[float, float, float]
    site_name: str
    tracks: tuple[TrackPath, ...]
    alerts: tuple[AlertRow, ...]
    acks: tuple[AckRow, ...]
    sensors: tuple[SensorRow, ...]
    zones: tuple[ZoneShape, ...] = ()
    integrity: Verdict | None = None
    audit: AuditCheck | None = None
    torn: bool = False
    counters: Mapping[str, int] = field(default_factory=dict)

    def track(self, track_id: int) -> TrackPath | None:
        """The track with this id, if in the report."""
        return next((tr for tr in self.tracks if tr.id == track_id), None)
