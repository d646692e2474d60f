"""Per-sensor clock models: how far each sensor's timestamps sit from the daemon's wall clock.

Every batch gives one sample, ``offset = t - receipt`` (s): the sensor's clock error less the
delivery delay. The model keeps the last samples of each sensor and estimates its offset (the
median: one forged or glitched stamp does not move it) and its drift (the least-squares slope
of the offset against receipt time, s/s). A sensor whose estimated offset lies beyond the
quarantine bound ahead of the wall clock is quarantined until the estimate comes back within
it: its batches are then counted and dropped instead of dragging the fusion clock. Stamps
behind the wall clock are not held against a sensor here: the daemon's own backlog makes
sound stamps look old, and batches that are really too old are the reorder buffer's to drop
as late (they cannot move the fusion clock).

The same samples size the reorder buffer's window live (:meth:`Clocks.latency_window`): a batch
waits only as long as the slowest active sensor takes to deliver, not a fixed half second.
"""

from __future__ import annotations

import bisect
import collections
from dataclasses import dataclass, field

import numpy as np

#: Samples kept per sensor: the median of 32 ignores up to 15 wild stamps in a row.
WINDOW = 32
#: Added to the largest delivery delay measured (s): scheduling jitter on a busy host.
LATENCY_MARGIN_S = 0.01
#: A sensor silent for longer than this (s) is not waited for by the reorder buffer.
ACTIVE_S = 5.0


@dataclass
class ClockModel:
    """One sensor's recent (receipt, offset) samples, UTC s and s."""

    receipts: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=WINDOW))
    offsets: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=WINDOW))
    quarantined: bool = False
    #: ``offsets`` in ascending order: the median and the minimum per message without numpy
    #: (np.median on 32 values cost more than decoding a radar scan).
    ordered: list[float] = field(default_factory=list)

    def add(self, t: float, receipt: float) -> None:
        """One batch stamped ``t`` (sensor's clock) received at ``receipt`` (wall clock)."""
        offsets, ordered = self.offsets, self.ordered
        if len(offsets) == offsets.maxlen:
            del ordered[bisect.bisect_left(ordered, offsets[0])]  # the sample that goes out
        offset = t - receipt
        self.receipts.append(receipt)
        offsets.append(offset)
        bisect.insort(ordered, offset)

    @property
    def offset_s(self) -> float:
        """Median offset of the sensor's stamps from the wall clock (s, positive = ahead):
        np.median's value (the mean of the middle two of an even count)."""
        ordered = self.ordered
        n = len(ordered)
        if not n:
            return 0.0
        mid = n // 2
        return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0

    @property
    def min_offset_s(self) -> float:
        """The smallest offset kept (s): minus the longest delivery delay among them."""
        return self.ordered[0]

    @property
    def drift(self) -> float:
        """Least-squares slope of the offset over receipt time (s/s); 0 with too few samples."""
        if len(self.offsets) < 3:
            return 0.0
        x = np.fromiter(self.receipts, float)
        x = x - x.mean()
        denom = float(np.dot(x, x))
        if denom <= 0.0:
            return 0.0
        y = np.fromiter(self.offsets, float)
        return float(np.dot(x, y - y.mean()) / denom)


class Clocks:
    """Clock models of the sensors seen lately, at most ``max_sensors`` (least recently seen
    forgotten first)."""

    def __init__(self, bound_s: float, max_sensors: int) -> None:
        self.bound_s = bound_s
        self.max_sensors = max_sensors
        self.models: collections.OrderedDict[str, ClockModel] = collections.OrderedDict()

    def observe(self, sensor: str, t: float, receipt: float) -> tuple[ClockModel, bool | None]:
        """Add a sample; returns the sensor's model and whether this sample changed its
        quarantine (True: now quarantined, False: re-admitted, None: no change)."""
        model = self.models.get(sensor)
        if model is None:
            model = self.models[sensor] = ClockModel()
            while len(self.models) > self.max_sensors:
                self.models.popitem(last=False)
        else:
            self.models.move_to_end(sensor)
        model.add(t, receipt)
        off = model.offset_s
        if not model.quarantined and off > self.bound_s:
            model.quarantined = True
            return model, True
        # Re-admitted with some margin, so a clock hovering at the bound does not flap.
        if model.quarantined and off <= 0.5 * self.bound_s:
            model.quarantined = False
            return model, False
        return model, None

    def latency_window(self, now: float, cap_s: float, margin_s: float = LATENCY_MARGIN_S,
                       active_s: float = ACTIVE_S) -> float:
        """How long (s) the reorder buffer must hold a batch so that every sensor heard in
        the last ``active_s`` s can still deliver one stamped no later: the largest delivery
        delay (receipt minus stamp) among each such sensor's last samples, plus ``margin_s``
        for jitter, within [0, ``cap_s``]. A sensor whose clock runs ahead shows a negative
        delay and asks for no wait; quarantined sensors are not waited for."""
        worst = 0.0
        for model in self.models.values():
            if model.quarantined or not model.receipts or now - model.receipts[-1] > active_s:
                continue
            worst = max(worst, -model.min_offset_s)
        return min(cap_s, worst + margin_s) if worst > 0.0 else min(cap_s, margin_s)

    def quarantined(self) -> list[str]:
        """Sensors quarantined now."""
        return [s for s, m in self.models.items() if m.quarantined]
