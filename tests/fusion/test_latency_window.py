"""The live reorder window sized from the sensors' measured delivery delays."""

from __future__ import annotations

import pytest

from cuas.fusion.clock import LATENCY_MARGIN_S, Clocks
from cuas.tracking.reorder import ReorderBuffer

T0 = 1_800_000_000.0


def test_window_is_the_slowest_active_sensors_delay_plus_margin() -> None:
    clocks = Clocks(bound_s=5.0, max_sensors=8)
    for k in range(20):
        now = T0 + k * 0.1
        clocks.observe("radar", now - 0.020, now)
        clocks.observe("adsb", now - (0.080 if k == 7 else 0.030), now)  # one slow delivery
    window = clocks.latency_window(T0 + 2.0, cap_s=0.5)
    assert window == pytest.approx(0.080 + LATENCY_MARGIN_S)
    assert clocks.latency_window(T0 + 2.0, cap_s=0.05) == 0.05  # lateness_s bounds it


def test_silent_quarantined_and_fast_clocked_sensors_ask_for_no_wait() -> None:
    clocks = Clocks(bound_s=1.0, max_sensors=8)
    clocks.observe("old", T0 - 0.4, T0)  # slow, but silent for 10 s by the time we ask
    for k in range(5):
        clocks.observe("ahead", T0 + 10 + k + 0.3, T0 + 10 + k)  # clock 0.3 s fast
        clocks.observe("wild", T0 + 10 + k + 60.0, T0 + 10 + k)  # quarantined
    assert clocks.models["wild"].quarantined
    assert clocks.latency_window(T0 + 14, cap_s=0.5) == pytest.approx(LATENCY_MARGIN_S)
    clocks.observe("slow", T0 + 14 - 0.2, T0 + 14)
    assert clocks.latency_window(T0 + 14, cap_s=0.5) == pytest.approx(0.2 + LATENCY_MARGIN_S)


class _B:
    def __init__(self, t: float) -> None:
        self.t = t


def test_due_in_says_when_the_oldest_batch_is_due() -> None:
    now = [T0]
    buf: ReorderBuffer[_B] = ReorderBuffer(0.1, 300.0, clock=lambda: now[0])
    assert buf.due_in() is None
    assert buf.push(_B(T0 - 0.02)) == []
    assert buf.due_in() == pytest.approx(0.08)
    buf.lateness_s = 0.01  # the daemon narrows the window: now it is due
    assert buf.due_in() == 0.0
    assert [b.t for b in buf.due()] == [T0 - 0.02]
