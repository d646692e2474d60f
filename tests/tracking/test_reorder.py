"""The reorder buffer releases in time order, drops the late and the absurd, and stays bounded."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.tracking.reorder import ReorderBuffer


@dataclass(frozen=True)
class Item:
    t: float
    name: str = ""


def test_releases_in_time_order_after_the_lateness_window() -> None:
    buf: ReorderBuffer[Item] = ReorderBuffer(lateness_s=0.5, max_future_s=60.0)
    assert buf.push(Item(10.0, "a")) == []
    assert buf.push(Item(10.3, "c")) == []
    assert buf.push(Item(10.2, "b")) == []  # arrived late, but within the window
    released = buf.push(Item(10.9, "d"))
    assert [i.name for i in released] == ["a", "b", "c"]
    assert [i.name for i in buf.flush()] == ["d"]


def test_too_late_is_dropped_and_counted() -> None:
    buf: ReorderBuffer[Item] = ReorderBuffer(lateness_s=0.5, max_future_s=60.0)
    buf.push(Item(10.0))
    buf.push(Item(11.0))  # releases 10.0
    assert buf.push(Item(9.0)) == []
    assert buf.counters["dropped_late"] == 1
    assert len(buf) == 1


def test_far_future_is_dropped_and_counted() -> None:
    buf: ReorderBuffer[Item] = ReorderBuffer(lateness_s=0.5, max_future_s=60.0)
    buf.push(Item(1000.0))
    assert buf.push(Item(1000.0 + 365 * 86400)) == []
    assert buf.counters["dropped_future"] == 1


def test_live_mode_uses_the_clock() -> None:
    now = [100.0]
    buf: ReorderBuffer[Item] = ReorderBuffer(0.5, 60.0, clock=lambda: now[0])
    assert buf.push(Item(99.8)) == []
    assert buf.push(Item(500.0)) == []  # ahead of the wall clock by far more than allowed
    assert buf.counters["dropped_future"] == 1
    now[0] = 100.4
    assert [i.t for i in buf.due()] == [99.8]


def test_memory_is_bounded() -> None:
    now = [0.0]
    buf: ReorderBuffer[Item] = ReorderBuffer(10.0, 1e9, clock=lambda: now[0], max_items=5)
    out = []
    for k in range(20):
        out += buf.push(Item(float(k)))
    assert len(buf) <= 5
    assert buf.counters["released_early"] == 15
    assert [i.t for i in out] == [float(k) for k in range(15)]


@settings(max_examples=200, deadline=None)
@given(times=st.lists(st.floats(0.0, 100.0), max_size=60), lateness=st.floats(0.0, 5.0))
def test_output_is_sorted_and_nothing_accepted_is_lost(times: list[float], lateness: float) -> None:
    buf: ReorderBuffer[Item] = ReorderBuffer(lateness, 1e6)
    out: list[Item] = []
    for t in times:
        out += buf.push(Item(t))
    out += buf.flush()
    ts = [i.t for i in out]
    assert ts == sorted(ts)
    assert len(out) == buf.counters["accepted"]
    assert len(out) + buf.counters["dropped_late"] == len(times)


def test_a_backlog_is_released_by_stream_time_so_nothing_queued_is_dropped() -> None:
    """A daemon behind the wall clock (here by 100 s) pushes its queued batches with
    ``backlog``: two sensors' batches queued out of order are all kept and released in order;
    without it the first would be released at once and the earlier second one dropped."""
    wall = [1100.0]
    buf: ReorderBuffer[Item] = ReorderBuffer(lateness_s=0.5, max_future_s=60.0,
                                             clock=lambda: wall[0])
    assert buf.push(Item(1000.0, "radar"), backlog=True) == []
    assert buf.push(Item(999.8, "camera"), backlog=True) == []
    released = buf.push(Item(1000.2, "radar"), backlog=False)  # the queue is drained
    assert [i.t for i in released] == [999.8, 1000.0, 1000.2]
    assert buf.counters["dropped_late"] == 0

    lagging: ReorderBuffer[Item] = ReorderBuffer(lateness_s=0.5, max_future_s=60.0,
                                                 clock=lambda: wall[0])
    assert [i.t for i in lagging.push(Item(1000.0))] == [1000.0]
    assert lagging.push(Item(999.8)) == []
    assert lagging.counters["dropped_late"] == 1  # what the backlog flag prevents
