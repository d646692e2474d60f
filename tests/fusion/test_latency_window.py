"""The live reorder window sized from the sensors' measured delivery delays."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
import zmq.asyncio

from cuas import bus, wire
from cuas.config import reference_config
from cuas.fusion.clock import LATENCY_MARGIN_S, Clocks
from cuas.fusion.daemon import Daemon
from cuas.tracking.reorder import ReorderBuffer
from tests.tracking.helpers import batch, enu_det

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


def _live_daemon_window(adaptive: bool) -> tuple[float, int]:
    """Run a live daemon, send radar batches stamped 20 ms in the past, and return its reorder
    window once they are fused and how many snapshots carried them."""
    config = reference_config()
    config = dataclasses.replace(config, daemon=dataclasses.replace(
        config.daemon, adaptive_lateness=adaptive))
    endpoints = bus.Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")

    async def main() -> tuple[float, int]:
        daemon = Daemon(config, endpoints, status_period_s=0.2)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 5)
        ctx = zmq.asyncio.Context()
        pub = bus.xpub_socket(ctx, daemon.bound.detections)
        sub = bus.sub_socket(ctx, daemon.bound.tracks, bind=False, topics=("trk",))
        try:
            assert await bus.wait_for_subscriber(pub, "det.", 5.0)
            await asyncio.sleep(0.3)  # the track subscription
            for k in range(10):
                b = batch(time.time() - 0.02, [enu_det((100.0 + k, 50.0, 30.0))])
                await pub.send_multipart(bus.frames(dataclasses.replace(b, seq=k)))
                await asyncio.sleep(0.05)
            deadline = time.monotonic() + 10
            while daemon.state.counters["batches_fused"] < 10 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert daemon.state.counters["batches_fused"] == 10
            snaps = 0
            while await sub.poll(300):
                _, msg = bus.parse_frames(await sub.recv_multipart())
                snaps += isinstance(msg, wire.Tracks)
            return daemon.engine.buffer.lateness_s, snaps
        finally:
            pub.close(0)
            sub.close(0)
            ctx.term()
            stop.set()
            await asyncio.wait_for(task, 10)

    return asyncio.run(asyncio.wait_for(main(), 60))


def test_a_live_daemon_sizes_its_window_from_the_sensors_delay() -> None:
    window, snaps = _live_daemon_window(adaptive=True)
    # 20 ms of stamped delay (more if this host is slow to deliver), far under the 0.5 s cap.
    assert 0.02 + LATENCY_MARGIN_S <= window < 0.5
    assert snaps >= 1
    fixed, _ = _live_daemon_window(adaptive=False)
    assert fixed == 0.5  # tracker.lateness_s, as before
