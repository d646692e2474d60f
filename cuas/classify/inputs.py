"""What the classifier reads besides track states: cooperative identity reports and RF links.

The tracker fills these as detections arrive (additively: its numeric core does not use them).
Both are bounded: one row per identity index of fusion's registry (which caps them and hands
the indices of forgotten identities out again), and a fixed number of recent RF reports.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

NO_KIND: Final = 0
ICAO: Final = 1
RID: Final = 2

# Remote ID spoofing evidence, judged report by report (site ENU metres, seconds, dBm).
#: Faster than this between two reports of one transmitter (m/s) is no drone: a jump. ASTM
#: F3411 can encode up to 254 m/s; the fastest racing quadcopters reach ~60 m/s.
RID_MAX_SPEED_MS: Final = 100.0
#: A jump must also be this long (m): two reports close in time may differ by their noise.
RID_JUMP_MIN_M: Final = 100.0
#: One serial from two transmitters this far apart (m) within this time (s): two places at once.
RID_TWO_PLACES_M: Final = 200.0
RID_TWO_PLACES_S: Final = 2.0
#: Frozen signal: this many reports of one transmitter whose signal strength stays within
#: RID_FROZEN_DB while the claimed range from the receiver (or, with no receiver position, the
#: claimed position) changes by RID_FROZEN_MOVE_M. Free-space loss alone changes the signal by
#: 20 log10(r2 / r1) dB: going from 100 m to 250 m is 8 dB.
RID_FROZEN_REPORTS: Final = 10
RID_FROZEN_DB: Final = 2.0
RID_FROZEN_MOVE_M: Final = 150.0


@dataclass(frozen=True, slots=True)
class RfReport:
    """One positionless RF detection (frame ``none``): a control or video link heard at ``t``
    (UTC s). ``freq_hz``/``bw_hz`` in Hz, ``protocol`` as the sensor names it; ``links``: how
    many links its sensor heard in the same sweep (batch), this one included."""

    t: float
    sensor: str
    freq_hz: float | None = None
    bw_hz: float | None = None
    protocol: str | None = None
    links: int = 1

    @classmethod
    def from_attrs(cls, t: float, sensor: str, attrs: Any, links: int = 1) -> RfReport:
        def num(key: str) -> float | None:
            v = attrs.get(key)
            return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

        proto = attrs.get("protocol")
        return cls(t, sensor, num("freq_hz"), num("bw_hz"),
                   proto[:64] if isinstance(proto, str) and proto else None, max(1, links))

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
        #: Indices whose ``value`` changed (a drone first known by its MAC, then its serial):
        #: the classifier looks their allow/deny lists up again.
        self.changed: set[int] = set()
        # Spoofing evidence per identity: when it was last seen (UTC s, NaN never) and how
        # much (m/s, m, m, dBm); the transmitter of the last report; the signal window.
        self.jump_t = np.full(16, np.nan)
        self.jump_speed = np.zeros(16)
        self.two_t = np.full(16, np.nan)
        self.two_dist = np.zeros(16)
        self.frozen_t = np.full(16, np.nan)
        self.frozen_move = np.zeros(16)
        self.frozen_rssi = np.zeros(16)
        self.fast_t = np.full(16, np.nan)
        self.fast_speed = np.zeros(16)
        self._w_pos = np.full((16, 3), np.nan)
        self._w_range = np.full(16, np.nan)
        self._w_min = np.zeros(16)
        self._w_max = np.zeros(16)
        self._w_n = np.zeros(16, dtype=np.int64)
        self._tx: list[str | None] = []
        self._w_tx: list[str | None] = []
        self._last: dict[tuple[int, str | None], tuple[float, F64]] = {}
        self._recycled: set[int] = set()

    _ROWS: Final = (("kind", 0), ("t", np.nan), ("pos", np.nan), ("vel", np.nan),
                    ("jump_t", np.nan), ("jump_speed", 0), ("two_t", np.nan), ("two_dist", 0),
                    ("frozen_t", np.nan), ("frozen_move", 0), ("frozen_rssi", 0),
                    ("fast_t", np.nan), ("fast_speed", 0), ("_w_pos", np.nan),
                    ("_w_range", np.nan), ("_w_min", 0), ("_w_max", 0), ("_w_n", 0))

    def forget(self, indices: list[int]) -> None:
        """Clear the rows of identities the registry forgot; their indices will name new
        identities, which the classifier must look up afresh (they are marked changed)."""
        gone = [i for i in indices if i < len(self.value)]
        if not gone:
            return
        rows = np.asarray(gone, dtype=np.int64)
        for name, fill in self._ROWS:
            getattr(self, name)[rows] = fill
        for i in gone:
            self.value[i], self.callsign[i], self._tx[i], self._w_tx[i] = "", None, None, None
        self._recycled.update(gone)
        self.changed.difference_update(gone)
        dropped = set(gone)
        self._last = {k: v for k, v in self._last.items() if k[0] not in dropped}

    def _grow(self, n: int) -> None:
        cap = len(self.kind)
        if n <= cap:
            return
        while cap < n:
            cap *= 2
        for name, fill in self._ROWS:
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
            self._tx.append(None)
            self._w_tx.append(None)
        self.n = max(self.n, index + 1)
        self.kind[index] = kind
        if (self.value[index] and self.value[index] != value) or index in self._recycled:
            self.changed.add(index)
            self._recycled.discard(index)
        self.value[index] = value
        if callsign:
            self.callsign[index] = callsign
        self.t[index] = t
        self.pos[index] = pos
        self.vel[index] = vel

    def record_rid(self, index: int, t: float, pos: F64, transmitter: str | None,
                   rssi_dbm: float | None, receiver: F64 | None = None,
                   claimed_speed: float | None = None) -> None:
        """Judge one Remote ID report (after :meth:`record`) for spoofing evidence: a jump no
        drone can fly, a claimed speed no drone flies, the same identity from two transmitters
        far apart at once, and a signal strength that stays put while the claimed position
        moves. ``pos`` site ENU (m), ``transmitter`` its MAC (None if unknown), ``receiver`` the
        receiving sensor's site ENU position when known, ``claimed_speed`` the horizontal speed
        the message states (m/s)."""
        if not np.all(np.isfinite(pos)) or index >= len(self._tx):  # record() comes first
            return
        if claimed_speed is not None and claimed_speed > RID_MAX_SPEED_MS:
            self.fast_t[index], self.fast_speed[index] = t, claimed_speed
        key = (index, transmitter)
        prev = self._last.get(key)
        if prev is not None and t > prev[0]:
            dist = float(np.linalg.norm(pos[:2] - prev[1][:2]))
            speed = dist / (t - prev[0])
            if dist >= RID_JUMP_MIN_M and speed > RID_MAX_SPEED_MS:
                self.jump_t[index], self.jump_speed[index] = t, speed
        # The same identity from another transmitter a moment ago, somewhere else.
        other_tx, self._tx[index] = self._tx[index], transmitter
        other = self._last.get((index, other_tx)) if other_tx not in (None, transmitter) \
            else None
        if other is not None and abs(t - other[0]) <= RID_TWO_PLACES_S:
            dist = float(np.linalg.norm(pos[:2] - other[1][:2]))
            if dist >= RID_TWO_PLACES_M:
                self.two_t[index], self.two_dist[index] = t, dist
        if len(self._last) > 100_000:  # bounded: forget the oldest reports
            for k in list(self._last)[:50_000]:
                del self._last[k]
        self._last[key] = (t, pos.copy())
        if rssi_dbm is not None and math.isfinite(rssi_dbm):
            self._signal(index, t, pos, transmitter, rssi_dbm, receiver)

    def _signal(self, i: int, t: float, pos: F64, tx: str | None, rssi: float,
                receiver: F64 | None) -> None:
        """The frozen-signal window of identity ``i`` (one transmitter's reports only)."""
        if self._w_tx[i] is None:
            self._w_tx[i] = tx
        if self._w_tx[i] != tx:
            return
        rng = float(np.linalg.norm(pos - receiver)) if receiver is not None and np.all(
            np.isfinite(receiver)) else math.nan
        lo, hi = min(self._w_min[i], rssi), max(self._w_max[i], rssi)
        if self._w_n[i] == 0 or hi - lo > RID_FROZEN_DB:
            self._w_pos[i], self._w_range[i] = pos, rng
            self._w_min[i] = self._w_max[i] = rssi
            self._w_n[i] = 1
            return
        self._w_min[i], self._w_max[i] = lo, hi
        self._w_n[i] += 1
        moved = abs(rng - self._w_range[i]) if math.isfinite(rng) and math.isfinite(
            self._w_range[i]) else float(np.linalg.norm(pos - self._w_pos[i]))
        if self._w_n[i] >= RID_FROZEN_REPORTS and moved >= RID_FROZEN_MOVE_M:
            self.frozen_t[i], self.frozen_move[i] = t, moved
            self.frozen_rssi[i] = 0.5 * (lo + hi)
