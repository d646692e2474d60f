"""The daemon end to end on real ZeroMQ sockets bound to 127.0.0.1 (ephemeral ports)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgpack
import numpy as np
import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.classify import AlertEvent
from cuas.config import SiteConfig, reference_config
from cuas.fusion.daemon import Daemon
from cuas.sim.generators import SimParams, simulate

LOOPBACK = bus.Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")


def run_async(fn: Callable[[], Awaitable[None]], timeout_s: float = 60.0) -> None:
    asyncio.run(asyncio.wait_for(fn(), timeout_s))


@asynccontextmanager
async def running_daemon(endpoints: bus.Endpoints = LOOPBACK,
                         snapshot_hz: float = 20.0) -> AsyncIterator[Daemon]:
    # The simulated scenarios are stamped in the past: a replay, chosen explicitly.
    daemon = Daemon(reference_config(), endpoints, snapshot_hz=snapshot_hz, status_period_s=0.2,
                    replay=True)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 5)
    try:
        yield daemon
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


class Client:
    """A sensor (XPUB to the detection endpoint) and an operator (SUB on the track endpoint)."""

    def __init__(self, ctx: zmq.asyncio.Context, daemon: Daemon) -> None:
        self.pub = bus.xpub_socket(ctx, daemon.bound.detections)
        self.sub = bus.sub_socket(ctx, daemon.bound.tracks, bind=False)

    async def ready(self) -> None:
        assert await bus.wait_for_subscriber(self.pub, "det.", 5.0)

    async def next(self, want: Callable[[str, wire.Message], bool], timeout_s: float = 10.0
                   ) -> wire.Message:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if await self.sub.poll(timeout=100):
                topic, msg = bus.parse_frames(await self.sub.recv_multipart())
                if want(topic, msg):
                    return msg
        raise AssertionError("nothing matching arrived in time")

    async def send_all(self, batches: Sequence[wire.Detections]) -> wire.Tracks:
        """Publish every batch, then wait for a snapshot at the last batch's time with tracks."""
        for batch in batches:
            await self.pub.send_multipart(bus.frames(batch))
        last_t = batches[-1].t
        msg = await self.next(lambda topic, m: isinstance(m, wire.Tracks) and m.t >= last_t
                              and len(m.tracks) > 0)
        assert isinstance(msg, wire.Tracks)
        return msg

    def close(self) -> None:
        self.pub.close(0)
        self.sub.close(0)


def scenario() -> Any:
    return simulate(SimParams(seed=4, n_targets=5, duration_s=20, clutter_per_scan=3.0,
                              churn_fraction=0.0, pd=0.95), SiteConfig())


def test_detections_in_tracks_out_matching_truth() -> None:
    sim = scenario()

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as daemon:
            client = Client(ctx, daemon)
            await client.ready()
            msg = await client.send_all(sim.batches)
            last_t = sim.batches[-1].t
            confirmed = [t for t in msg.tracks if t.status in ("confirmed", "coasting")]
            k = int(np.searchsorted(sim.truth.times, last_t))
            truth = sim.truth.enu[k][sim.truth.alive[k]]
            assert len(confirmed) == len(truth)
            for trk in confirmed:
                assert np.min(np.linalg.norm(truth - np.array(trk.enu), axis=1)) < 25.0
            # Every detection the daemon accepted went through the tracker.
            assert daemon.state.counters["batches_fused"] + len(daemon.buffer) == len(sim.batches)
            client.close()
        ctx.term()

    run_async(main)


def test_late_subscriber_gets_a_full_snapshot_and_status() -> None:
    sim = scenario()

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as daemon:
            client = Client(ctx, daemon)
            await client.ready()
            await client.send_all(sim.batches)
            late = bus.sub_socket(ctx, daemon.bound.tracks, bind=False, topics=("trk", "status."))
            got: dict[str, wire.Message] = {}
            while len(got) < 2:
                topic, msg = bus.parse_frames(await asyncio.wait_for(late.recv_multipart(), 5))
                got[msg.type] = msg
            snap = got["tracks"]
            assert isinstance(snap, wire.Tracks)
            assert sum(t.status == "confirmed" for t in snap.tracks) >= 4
            status = got["status"]
            assert isinstance(status, wire.Status)
            assert status.counters["received"] == len(sim.batches)
            assert "radar-sim" in status.last_seen
            late.close(0)
            client.close()
        ctx.term()

    run_async(main)


def test_bad_input_is_counted_and_never_stops_the_daemon() -> None:
    sim = scenario()
    good = sim.batches[0]
    bad: list[list[bytes]] = [
        [b"det.x", os.urandom(200)],
        [b"det.x", msgpack.packb({"v": 1, "type": "detections", "src": 5})],
        [b"det.x", msgpack.packb({**wire.to_dict(good), "t": float("nan")})],
        [b"det.x", msgpack.packb({**wire.to_dict(good), "v": 2})],
        [b"det.x", msgpack.packb({**wire.to_dict(good), "type": "weather"})],
        [b"det.x", b"\x00" * (50 * 1024 * 1024)],  # a 50 MB message
        [b"det.only-one-frame"],
        [b"det.x", b"a", b"three frames"],
    ]

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as daemon:
            client = Client(ctx, daemon)
            await client.ready()
            for parts in bad:
                await client.pub.send_multipart(parts)
            await client.send_all(sim.batches)
            c = daemon.state.counters
            assert c["dropped_malformed"] == len(bad)
            assert c["received"] == len(bad) + len(sim.batches)
            client.close()
        ctx.term()

    run_async(main)


def _rss_bytes() -> int:
    """This process's resident set size (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


#: How much the process may grow while it is flooded (bytes). A coarse guard against runaway
#: growth (ZeroMQ's own buffers and the first fusion allocations take some tens of MB); the
#: precise bound is the queue depth, sampled on every turn of the event loop.
FLOOD_RSS_GROWTH_MAX = 160 * 2**20


def test_a_flood_is_bounded_and_counted() -> None:
    sim = scenario()
    payload = bus.frames(sim.batches[0])
    queue_size = 50
    n_sent = 20_000  # bounded in count; the whole test in time by run_async's timeout

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        daemon = Daemon(reference_config(), LOOPBACK, snapshot_hz=5.0, queue_size=queue_size,
                        replay=True)
        assert daemon.endpoints.detections.startswith("tcp://127.0.0.1:")
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await daemon.ready.wait()
        client = Client(ctx, daemon)
        await client.ready()
        depths: list[int] = []

        async def watch_queue() -> None:
            while True:
                depths.append(len(daemon._queue))
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch_queue())
        rss_before = _rss_bytes()
        for _ in range(n_sent):  # 20k copies of one batch as fast as we can send
            await client.pub.send_multipart(payload)
        await asyncio.sleep(1.0)
        rss_after = _rss_bytes()
        watcher.cancel()
        c = daemon.state.counters
        assert 0 < c["received"] <= n_sent
        # The fuser could not keep up, so the queue overflowed; each drop was counted, and
        # reported in the daemon's status heartbeat under the same name.
        assert c["dropped_overflow"] > 0
        assert daemon._status().counters["dropped_overflow"] == c["dropped_overflow"]
        # Memory stayed bounded: the queue never held more than its bound ...
        assert len(depths) >= 5 and max(depths) <= queue_size
        # ... and the process did not grow with the flood.
        assert rss_after - rss_before < FLOOD_RSS_GROWTH_MAX, (rss_before, rss_after)
        # Each received batch was either fused, dropped late (the same t again is allowed,
        # so none here), dropped on overflow, or is still queued or buffered.
        accounted = (c["batches_fused"] + c["dropped_overflow"] + c["dropped_late"]
                     + len(daemon._queue) + len(daemon.buffer))
        assert accounted == c["received"]
        stop.set()
        await asyncio.wait_for(task, 20)
        client.close()
        ctx.term()

    run_async(main, 90)


def test_sensors_and_operators_survive_a_daemon_restart() -> None:
    sim = scenario()

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as first:
            fixed = first.bound  # restart on the very same ports
            client = Client(ctx, first)
            await client.ready()
            for batch in sim.batches[:5]:
                await client.pub.send_multipart(bus.frames(batch))
            await client.next(lambda topic, m: isinstance(m, wire.Tracks))
        async with running_daemon(fixed) as second:
            # The same sockets, never reopened: ZeroMQ reconnects them.
            assert await bus.wait_for_subscriber(client.pub, "det.", 10.0)
            await client.send_all(sim.batches[5:])
            assert second.state.counters["received"] == len(sim.batches) - 5
        client.close()
        ctx.term()

    run_async(main)


def test_an_alert_is_published_with_a_fresh_snapshot_right_after() -> None:
    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon(snapshot_hz=0.2) as daemon:
            client = Client(ctx, daemon)
            await client.ready()
            await client.pub.send_multipart(bus.frames(scenario().batches[0]))
            await asyncio.sleep(0.3)
            await daemon.publish_alert(AlertEvent(1, "high", "low", ("inside the stadium no-fly zone",)))
            alert = await client.next(lambda topic, m: topic == "alert")
            assert isinstance(alert, wire.Alert) and alert.threat == "high"
            snap = await client.next(lambda topic, m: isinstance(m, wire.Tracks), timeout_s=2.0)
            assert isinstance(snap, wire.Tracks)  # well before the 5 s snapshot period
            client.close()
        ctx.term()

    run_async(main)


def test_live_stream_stamped_now_is_fused_within_the_lateness_window() -> None:
    import time

    from cuas.config import Config, TrackerConfig

    config = Config(tracker=TrackerConfig(lateness_s=0.05))

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        daemon = Daemon(config, LOOPBACK, snapshot_hz=50.0)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await daemon.ready.wait()
        client = Client(ctx, daemon)
        await client.ready()
        for k in range(6):  # a target flying east at 10 m/s, one look every 0.1 s
            now = time.time()
            det = wire.Detection(frame="enu", z=(1.0 * k, 0.0, 100.0), sigma=(2.0,) * 3,
                                 R=(4.0, 0, 0, 0, 4.0, 0, 0, 0, 4.0))
            batch = wire.Detections(src="radar-1", seq=k, t=now, sensor="radar-1",
                                    kind="radar", dets=(det,))
            await client.pub.send_multipart(bus.frames(batch))
            await asyncio.sleep(0.1)
        msg = await client.next(lambda topic, m: isinstance(m, wire.Tracks) and any(
            t.status == "confirmed" for t in m.tracks), timeout_s=5.0)
        assert isinstance(msg, wire.Tracks)
        assert abs(msg.t - time.time()) < 1.0  # live: snapshots are predicted to now
        assert daemon.state.counters["batches_fused"] == 6
        stop.set()
        await asyncio.wait_for(task, 10)
        client.close()
        ctx.term()

    run_async(main)


def test_event_waits_never_swallow_a_cancellation() -> None:
    # Python 3.11's asyncio.wait_for drops a cancellation that arrives as the awaited event
    # is set; a daemon task spared that way kept `cuas run` from ever stopping.
    from cuas.fusion.daemon import _wait_event

    async def main() -> None:
        for _ in range(50):
            event = asyncio.Event()

            async def waiter(ev: asyncio.Event = event) -> None:
                while True:
                    await _wait_event(ev, 1.0)
                    ev.clear()

            task = asyncio.create_task(waiter())
            await asyncio.sleep(0)
            event.set()
            await asyncio.sleep(0)
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=2.0)
            assert task in done and task.cancelled()

    run_async(main, 30)
