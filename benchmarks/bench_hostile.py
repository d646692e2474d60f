"""Hostile-input soak (issue 21): a steady genuine load with the issue's hostile inputs mixed
in, against an in-process live daemon on 127.0.0.1, bounded to ``--seconds`` (default 40).

Genuine load: two radars, 10 looks/s each, three targets flying straight. Each second, mixed
in: a batch stamped 200 s ahead, a sensor whose clock runs 120 s fast, forged status from a
genuine radar, a batch on another sensor's topic, a 1 MB junk field, a 5,000-detection
message, 2,000 new Remote ID identities with 500 merges, 50 invented sensor ids.

Prints: genuine batches sent / fused by sensor, confirmed genuine tracks at the end, RSS at
the start and end (MB), the longest event-loop stall (s). ``--memory``: the engine alone under
the identity and clutter floods for ``--seconds`` simulated seconds, RSS every 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

import msgpack
import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.config import Config, TrackerConfig
from cuas.fusion.daemon import Daemon
from cuas.fusion.engine import FusionEngine


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def look(sensor: str, seq: int, t: float, points: list[tuple[float, float]],
         kind: str = "radar", idents: list[wire.Ident] | None = None) -> wire.Detections:
    dets = tuple(wire.Detection(frame="enu", z=(e, n, 80.0), sigma=(3.0,) * 3,
                                ident=idents[i] if idents else None)
                 for i, (e, n) in enumerate(points))
    return wire.Detections(src=sensor, seq=seq, t=t, sensor=sensor, kind=kind, dets=dets)


async def soak(seconds: float) -> None:
    daemon = Daemon(Config(tracker=TrackerConfig(lateness_s=0.2)),
                    bus.Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*"),
                    snapshot_hz=5.0, status_period_s=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    await daemon.ready.wait()
    ctx = zmq.asyncio.Context()
    pub = bus.xpub_socket(ctx, daemon.bound.detections)
    assert await bus.wait_for_subscriber(pub, "det.", 5.0)
    worst = 0.0

    async def watch() -> None:
        nonlocal worst
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(0.01)
            worst = max(worst, time.monotonic() - t0 - 0.01)

    watcher = asyncio.create_task(watch())
    rss0 = rss_mb()
    sent = {"radar-a": 0, "radar-b": 0}
    start = time.time()
    tick = 0
    ident_base = 0
    while time.time() - start < seconds:
        now = time.time()
        dt = now - start
        targets = [(500.0 + 5 * dt, 300.0), (-800.0, 600.0 - 4 * dt), (200.0 + 3 * dt, -900.0)]
        for sensor in sent:
            await pub.send_multipart(bus.frames(look(sensor, sent[sensor], now, targets)))
            sent[sensor] += 1
        if tick % 10 == 0:  # once a second: the hostile mix
            s = tick // 10
            await pub.send_multipart(bus.frames(look("rf-evil", s, now + 200.0, [(0.0, 0.0)],
                                                     kind="rf")))
            await pub.send_multipart(bus.frames(look("radar-fast", s, now + 120.0,
                                                     [(3000.0, 3000.0)])))
            await pub.send_multipart(bus.frames(wire.Status(
                src="radar-a", seq=s, t=now, state="ok", uptime_s=1.0, counters={})))
            await pub.send_multipart([b"det.radar-a", bus.frames(look("radar-x", s, now, [
                (100.0, 100.0)]))[1]])
            junk = wire.to_dict(look("junk-1", s, now, [(4000.0, -4000.0)]))
            junk["junk"] = "x" * 1_000_000
            await pub.send_multipart([b"det.junk-1", msgpack.packb(junk)])
            await pub.send_multipart(bus.frames(look("clutter", s, now, [
                (-20_000.0 + 40.0 * (i % 100), -20_000.0 + 40.0 * (i // 100))
                for i in range(5_000)])))
            ids = [wire.Ident(rid=f"S{ident_base + i}") for i in range(2_000)]
            await pub.send_multipart(bus.frames(look("rid-evil", 2 * s, now, [
                (10_000.0 + 40.0 * (i % 100), 10_000.0 + 40.0 * (i // 100))
                for i in range(2_000)], kind="remoteid", idents=ids)))
            merges = [wire.Ident(rid=f"S{ident_base + 2 * i}",
                                 aliases=(f"S{ident_base + 2 * i + 1}",)) for i in range(500)]
            await pub.send_multipart(bus.frames(look("rid-evil", 2 * s + 1, now, [
                (-10_000.0 + 40.0 * i, 10_000.0) for i in range(500)], kind="remoteid",
                idents=merges)))
            ident_base += 2_000
            for g in range(50):
                await pub.send_multipart(bus.frames(look(f"ghost-{s}-{g}", 0, now,
                                                         [(0.0, 5000.0)])))
        tick += 1
        await asyncio.sleep(max(0.0, start + tick * 0.1 - time.time()))
    await asyncio.sleep(2.0)
    rss1 = rss_mb()
    watcher.cancel()
    health = daemon.state.sensors
    c = daemon.state.counters
    tab = daemon.engine.tracker.table
    genuine = daemon.engine._sensor_index
    cols = [genuine[s] for s in sent if s in genuine]
    confirmed = int(((tab.status == 1) & tab.sources[:, cols].any(axis=1)).sum())
    for sensor, n in sent.items():
        h = health.get(sensor)
        print(f"{sensor}: sent {n}, received {h.received if h else 0}, "
              f"refused {h.dropped if h else 0}")
    print(f"batches fused {c['batches_fused']}, dropped late {daemon.engine.buffer.counters['dropped_late']}, "
          f"overflow {c['dropped_overflow']}")
    print(f"confirmed tracks fed by the genuine radars at the end: {confirmed} (3 targets)")
    print(f"RSS {rss0:.0f} MB at the start, {rss1:.0f} MB at the end ({rss1 - rss0:+.0f} MB)")
    print(f"longest event-loop stall: {worst:.2f} s")
    print("hostile counters:", {k: c[k] for k in (
        "dropped_clock_ahead", "dropped_quarantined", "dropped_topic_mismatch",
        "status_received", "sensors_evicted", "producers_disconnected")},
          "identities evicted:", daemon.engine.counters["identities_evicted"])
    stop.set()
    await task
    pub.close(0)
    ctx.term()


def memory(seconds: int) -> None:
    """The soak's memory part without the network: the engine alone, fed each simulated second
    2,000 new Remote ID identities, 500 merges of them, a 5,000-plot clutter scan and 50
    invented sensors; RSS every 20 s must level off once ``tracker.max_identities`` is reached."""
    engine = FusionEngine(Config(tracker=TrackerConfig(lateness_s=0.2)))
    start, base = time.time(), 0

    def decoded(msg: wire.Detections) -> wire.Detections:  # as the daemon would get it
        out = bus.parse_frames(bus.frames(msg))[1]
        assert isinstance(out, wire.Detections)
        return out

    rss0 = rss_mb()
    print(f"memory: RSS {rss0:.0f} MB at the start; cap {engine.config.tracker.max_identities} "
          "identities")
    for s in range(seconds):
        now = start + s
        ids = [wire.Ident(rid=f"S{base + i}") for i in range(2_000)]
        engine.process(decoded(look("rid-evil", 2 * s, now, [
            (10_000.0 + 40.0 * (i % 100), 10_000.0 + 40.0 * (i // 100)) for i in range(2_000)],
            kind="remoteid", idents=ids)))
        merges = [wire.Ident(rid=f"S{base + 2 * i}", aliases=(f"S{base + 2 * i + 1}",))
                  for i in range(500)]
        engine.process(decoded(look("rid-evil", 2 * s + 1, now + 0.01, [
            (-10_000.0 + 40.0 * i, 10_000.0) for i in range(500)], kind="remoteid",
            idents=merges)))
        engine.process(decoded(look("clutter", s, now + 0.02, [
            (-20_000.0 + 40.0 * (i % 100), -20_000.0 + 40.0 * (i // 100)) for i in range(5_000)])))
        for g in range(50):
            engine.process(decoded(look(f"ghost-{s}-{g}", 0, now + 0.03 + 0.001 * g,
                                        [(0.0, 5000.0)])))
        engine.snapshot()
        base += 2_000
        if s % 20 == 19:
            print(f"  {s + 1:4d} s: RSS {rss_mb():.0f} MB, identities held "
                  f"{engine.identities.index.n_indices}, evicted "
                  f"{engine.counters['identities_evicted']}", flush=True)
    print(f"memory: RSS {rss_mb():.0f} MB at the end ({rss_mb() - rss0:+.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--memory", action="store_true",
                        help="the engine-only memory soak instead (simulated seconds, up to 300)")
    args = parser.parse_args()
    if args.memory:
        logging.disable(logging.WARNING)  # the floods' warnings, thousands of them
        memory(int(min(args.seconds, 300)))
        return
    asyncio.run(soak(min(args.seconds, 60.0)))


if __name__ == "__main__":
    main()
