"""The Beast receiver's free-running 12 MHz counter mapped to UTC (live and from files)."""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Sequence

from cuas.sensors.adsb.framing import BEAST_HZ


class BeastClock:
    """Maps the receiver's free-running 12 MHz counter to UTC seconds.

    Live (``rx`` = wall-clock arrival time given): the offset UTC - counter is the median of the
    last ``window`` samples (arrival - counter), moved towards by at most ``max_step_s`` per
    update, so one late, early or corrupt frame cannot move it far. Without ``rx`` (a capture
    file) the offset is anchored at the first frame (``epoch``) and kept. A frame whose counter
    puts it more than ``max_dev_s`` from its arrival (live), or before the last good time by
    more than ``max_dev_s`` or after it by more than ``max_gap_s`` (file), is an outlier: it gets
    the arrival time (or the last good time) and is counted; when a whole window disagrees with
    the mapping (the receiver restarted) the mapping jumps, counted as a reset. Counter steps backwards
    (dump1090 does not emit frames in timestamp order) are harmless; :meth:`note_order` counts them.
    """

    def __init__(self, *, epoch: float | None = None, window: int = 63,
                 max_step_s: float = 0.05, max_dev_s: float = 2.0,
                 max_gap_s: float = 600.0) -> None:
        self.epoch = epoch
        self.offset: float | None = None
        self.max_step_s = max_step_s
        self.max_dev_s = max_dev_s
        self.max_gap_s = max_gap_s
        self._samples: deque[float] = deque(maxlen=window)
        self._since = 0
        self._strikes = 0
        self._last_ticks = -1
        self._last_t: float | None = None
        self.backward = 0
        self.outliers = 0
        self.resets = 0

    def note_order(self, ticks: Sequence[int]) -> None:
        """Count the counter's backward steps over every frame of a batch (in arrival order)."""
        last = self._last_ticks
        back = 0
        for tk in ticks:
            if tk < last:
                back += 1
            last = tk
        self._last_ticks = last
        self.backward += back

    def utc(self, ticks: int, rx: float | None = None) -> float:
        """UTC seconds of a frame with counter ``ticks`` received at ``rx`` (None: from a file)."""
        raw = ticks / BEAST_HZ
        ref = rx if rx is not None else self._last_t
        if ticks == 0:  # feeders without a counter send 0
            t = ref if ref is not None else (self.epoch if self.epoch is not None else time.time())
            self._last_t = t
            return t
        if self.offset is None:
            start = rx if rx is not None else (self.epoch if self.epoch is not None else time.time())
            self.offset = start - raw
        if rx is not None:
            self._samples.append(rx - raw)
            self._since += 1
            if self._since >= 8:
                self._since = 0
                med = statistics.median(self._samples)
                d = med - self.offset
                if abs(d) > self.max_dev_s and len(self._samples) == self._samples.maxlen:
                    self.offset = med
                    self.resets += 1
                else:
                    self.offset += max(-self.max_step_s, min(self.max_step_s, d))
        t = raw + self.offset
        # Live, the arrival time bounds a frame's time both ways. In a file a quiet spell is
        # a forward jump, not a fault: only going back, or ahead by more than max_gap_s, is.
        if ref is not None and (t < ref - self.max_dev_s or t > ref + (
                self.max_dev_s if rx is not None else self.max_gap_s)):
            self.outliers += 1
            if rx is None:
                # A file has no other clock: a long run of consistent outliers is a restart of
                # the receiver's counter, so re-anchor to continue from the last good time.
                self._strikes += 1
                if self._strikes >= (self._samples.maxlen or 63):
                    self.offset = ref - raw
                    self.resets += 1
                    self._strikes = 0
            t = ref
        else:
            self._strikes = 0
        self._last_t = t if rx is None else self._last_t
        return t
