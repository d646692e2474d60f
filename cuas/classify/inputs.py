"""What the classifier reads besides track states: cooperative identity reports and RF links.

The tracker fills these as detections arrive (additively: its numeric core does not use them).
Both are bounded: one row per identity ever seen (like the tracker's identity registry), and a
fixed number of recent RF reports.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

NO_KIND: Final = 0
ICAO: Final = 1
RID: Final = 2


@dataclass(frozen=True, slots=True)
class RfReport:
    """One positionless RF detection (frame ``none``): a control or video link heard at ``t``
    (UTC s). ``freq_hz``/``bw_hz`` in Hz, ``protocol`` as the sensor names it."""

    t: float
    sensor: str
    freq_hz: float | None = None
    bw_hz: float | None = None
    protocol: str | None = None

    @classmethod
    def from_attrs(cls, t: float, sensor: str, attrs: Any) -> RfReport:
        def num(key: str) -> float | None:
            v = attrs.get(key)
            return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

        proto = attrs.get("protocol")
        return cls(t, sensor, num("freq_hz"), num("bw_hz"),
                   proto[:64] if isinstance(proto, str) and proto else None)

    def describe(self) -> str:
        """'868 MHz FHSS' style text for an operator."""
        parts = []
        if self.freq_hz is not None:
            f = self.freq_hz
            parts.append(f"{f / 1e9:.1f} GHz" if f >= 1e9 else f"{f / 1e6:.0f} MHz")
        if self.protocol:
            parts.append(self.protocol.upper() if len(self.protocol) <= 5 else self.protocol)
        return " ".join(parts) or "RF"


class RfLog:
    """The most recent RF reports, oldest first (bounded)."""

    def __init__(self, maxlen: int = 1024) -> None:
        self.reports: collections.deque[RfReport] = collections.deque(maxlen=maxlen)

    def add(self, report: RfReport) -> None:
        self.reports.append(report)


class IdentReports:
    """Last cooperative report per identity registry index (the tracker's ``ident`` column):
    kind (ICAO or Remote ID), the identity string, and where that report put the target
    (site ENU m, m/s, UTC s)."""

    def __init__(self) -> None:
        self.n = 0
        self.kind = np.zeros(16, dtype=np.int8)
        self.t = np.full(16, np.nan)
        self.pos = np.full((16, 3), np.nan)
        self.vel = np.full((16, 3), np.nan)
        self.value: list[str] = []
        self.callsign: list[str | None] = []

    def _grow(self, n: int) -> None:
        cap = len(self.kind)
        if n <= cap:
            return
        while cap < n:
            cap *= 2
        for name, fill in (("kind", 0), ("t", np.nan), ("pos", np.nan), ("vel", np.nan)):
            old = getattr(self, name)
            new = np.full((cap, *old.shape[1:]), fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def record(self, index: int, kind: int, value: str, callsign: str | None, t: float,
               pos: F64, vel: F64) -> None:
        """Remember identity ``index``'s latest report (``vel`` may be NaN: not reported)."""
        self._grow(index + 1)
        while len(self.value) <= index:
            self.value.append("")
            self.callsign.append(None)
        self.n = max(self.n, index + 1)
        self.kind[index] = kind
        self.value[index] = value
        if callsign:
            self.callsign[index] = callsign
        self.t[index] = t
        self.pos[index] = pos
        self.vel[index] = vel
