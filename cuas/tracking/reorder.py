"""Reorder buffer: asynchronous sensors' batches, released to the tracker in time order.

Sensors stamp batches with their measurement time and deliver them with different latencies.
The buffer holds each batch until no earlier batch can still arrive within the lateness window
(behind the newest time seen, or behind the wall clock when running live), then releases it.
A batch that arrives after a later one was released is dropped and counted, as is a batch
implausibly far in the future (a sensor with a wrong clock must not drag every track with it).
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import Counter
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class Timed(Protocol):
    @property
    def t(self) -> float: ...


B = TypeVar("B", bound=Timed)


class ReorderBuffer(Generic[B]):
    """Releases pushed items in order of ``t`` (UTC s) once they are ``lateness_s`` old.

    ``clock`` (live mode) gives the current UTC time; without it (offline replay), or when it
    returns None, the newest time pushed so far stands in for the clock. ``max_items`` bounds memory: when full, the
    oldest item is released early rather than anything being lost. ``lateness_s`` may be
    changed between calls (the live daemon sizes it from the sensors' measured latency).
    """

    def __init__(self, lateness_s: float, max_future_s: float,
                 clock: Callable[[], float | None] | None = None,
                 max_items: int = 100_000) -> None:
        self.lateness_s = lateness_s
        self.max_future_s = max_future_s
        self.clock = clock
        self.max_items = max_items
        self.counters: Counter[str] = Counter()
        self._heap: list[tuple[float, int, B]] = []
        self._arrival = itertools.count()
        self._newest: float | None = None
        self._released_until: float | None = None

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, item: B, backlog: bool = False) -> list[B]:
        """Add one item; returns the items now due, in time order (possibly none).

        An item older than what was already released, or too far ahead of the clock, is
        dropped and counted (``dropped_late``, ``dropped_future``). ``backlog``: more items
        are already waiting to be pushed (see :meth:`due`).
        """
        t = item.t
        now = self._now()
        if now is not None and t > now + self.max_future_s:
            self.counters["dropped_future"] += 1
            log.warning("dropped a batch %.1f s ahead of the clock", t - now)
            return []
        if self._released_until is not None and t < self._released_until:
            self.counters["dropped_late"] += 1
            log.info("dropped a batch %.3f s late", self._released_until - t)
            return []
        self.counters["accepted"] += 1
        heapq.heappush(self._heap, (t, next(self._arrival), item))
        if self._newest is None or t > self._newest:
            self._newest = t
        return self.due(backlog)

    def due(self, backlog: bool = False) -> list[B]:
        """Items whose lateness window has passed (live mode: call this on a timer too).

        With ``backlog`` (the caller is behind: more items wait to be pushed), the window is
        measured from the newest item seen, not the wall clock. A daemon that falls behind
        would otherwise release each batch on arrival, in arrival order, and then drop as
        late every batch of another sensor that was stamped a moment earlier but queued
        behind it: messages it had accepted, lost to its own lag.
        """
        now = self._now()
        if now is None:
            return []
        if backlog and self._newest is not None:
            now = min(now, self._newest)
        horizon = now - self.lateness_s
        out: list[B] = []
        while self._heap and (self._heap[0][0] <= horizon or len(self._heap) > self.max_items):
            if len(self._heap) > self.max_items and self._heap[0][0] > horizon:
                self.counters["released_early"] += 1
            out.append(self._pop())
        return out

    def due_in(self) -> float | None:
        """Seconds until the oldest held item is due by the clock (0 if it is already; None if
        nothing is held or there is no clock yet): how long a live caller may sleep."""
        now = self._now()
        if not self._heap or now is None:
            return None
        return max(0.0, self._heap[0][0] + self.lateness_s - now)

    def flush(self) -> list[B]:
        """Release everything still held, in time order (end of a recording, shutdown)."""
        out: list[B] = []
        while self._heap:
            out.append(self._pop())
        return out

    def _now(self) -> float | None:
        now = self.clock() if self.clock is not None else None
        return now if now is not None else self._newest

    def _pop(self) -> B:
        t, _, item = heapq.heappop(self._heap)
        self._released_until = t
        return item
