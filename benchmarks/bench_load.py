#!/usr/bin/env python3
"""Load benchmark: N publishers at a rising rate until loss, and the daemon's memory under a
flood (bounded queues: memory must not grow with the backlog).

Processes on one host, loopback only: the daemon (``cuas run``, a fresh one per step, from
``bench_daemon.DaemonProcess``), N publisher processes (each an XPUB connected to the detection
endpoint as sensor ``load-<i>``, one detection per batch, stamped with the wall clock) and this
process, which reads the daemon's ``status`` counters on the track endpoint and samples its
resident memory (``/proc/<pid>/status``) every 100 ms.

* Rising rate: total batches per second over all publishers, doubled step by step for
  ``--step-s`` seconds each. A step is sustained when every batch each publisher sent was
  received (per-sensor ``received``) and fused (``batches_fused``) with no ``dropped_*``,
  no ``seq_gaps``, the publishers kept their nominal rate, and the daemon kept pace *during*
  the load: at every heartbeat from the first second to the end of sending, it had fused all
  but at most ``--max-lag`` seconds' worth (plus the lateness window) of what had been sent
  by then. A backlog drained after the load stopped does not count as sustained (it once
  did: the script waited up to 30 s for the daemon to catch up). The figure is the highest
  sustained step.
* Flood: the publishers send as fast as they can for ``--flood-s`` and then for twice as
  long; the daemon's peak RSS in both shows whether memory grows with the backlog (it must
  not: its queue drops the oldest, counted in ``dropped_overflow``).
* Peer, measured in the same run: a bare pyzmq SUB that only counts messages, flooded by the
  same publishers: the transport's ceiling, against which the daemon's sustained rate is a
  fraction.

``python benchmarks/bench_load.py --help``; figures go into README (Reliability).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import cuas  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_daemon import (  # noqa: E402
    DEFAULT_SETTINGS,
    HOST,
    DaemonProcess,
    DaemonSettings,
    environment,
    free_port,
)

from cuas import bus, wire  # noqa: E402

STARTUP_TIMEOUT_S = 60.0
#: A publisher that falls below this share of its nominal rate makes the step inconclusive.
SENDER_SHORTFALL = 0.97


#: ADS-B-like load (--kind adsb): aircraft each publisher reports in turn.
ADSB_AIRCRAFT = 50


def _payload(sensor: str, seq: int, t: float, k: int, kind: str = "radar",
             index: int = 0) -> bytes:
    """One single-detection message: a radar plot at one of 20 points, or (``adsb``) a
    report of aircraft ``k % ADSB_AIRCRAFT`` of this publisher, with its ICAO address and
    velocity, as an ADS-B receiver sends one message per report."""
    if kind == "adsb":
        a = k % ADSB_AIRCRAFT
        det = wire.Detection(frame="enu", z=(300.0 * a - 7000.0, 2000.0 * index, 1000.0),
                             sigma=(15.0, 15.0, 20.0), vel=(0.0, 0.0, 0.0),
                             ident=wire.Ident(icao=f"{(index + 1) << 12 | a:06x}"))
    else:
        det = wire.Detection(frame="enu", z=(100.0 + 50.0 * (k % 20), 200.0, 80.0),
                             sigma=(5.0, 5.0, 5.0))
    return wire.encode(wire.Detections(src=sensor, seq=seq, t=t, sensor=sensor, kind=kind,
                                       dets=(det,)))


def publisher_main(index: int, endpoint: str, rate: float, duration_s: float,
                   conn: Connection, kind: str = "radar") -> None:
    """Publish one-detection batches at ``rate``/s (0: as fast as possible) for
    ``duration_s``; report (sent, would-block, elapsed) through ``conn``."""
    sensor = f"load-{index}"
    topic = f"det.{sensor}".encode()
    ctx = zmq.Context()
    # The bus's own publisher socket, from a plain (blocking) context: no event loop here.
    sock = bus.xpub_socket(ctx, endpoint)  # type: ignore[arg-type]
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not sock.poll(int(left * 1000)):
            conn.send(("error", "no subscription"))
            return
        msg = sock.recv()
        if msg[:1] == b"\x01" and topic.startswith(msg[1:]):
            break
    conn.send(("ready", None))
    conn.recv()  # go
    sent = blocked = 0
    start = time.perf_counter()
    end = start + duration_s
    while (now := time.perf_counter()) < end:
        if rate > 0:
            due = start + sent / rate
            if due > now:
                time.sleep(min(due - now, 0.01))
                continue
        try:
            sock.send_multipart([topic, _payload(sensor, sent, time.time(), sent, kind, index)],
                                flags=zmq.NOBLOCK)
            sent += 1
        except zmq.Again:  # the HWM is full: the publisher's own queue refuses, counted
            blocked += 1
    elapsed = time.perf_counter() - start
    conn.send(("done", {"sent": sent, "blocked": blocked, "elapsed_s": elapsed}))
    sock.close()
    ctx.term()


def sink_main(endpoint: str, conn: Connection) -> None:
    """The peer: a bare SUB bound at ``endpoint`` that counts what arrives until told."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, bus.DEFAULT_HWM)
    sock.setsockopt(zmq.SUBSCRIBE, b"det.")
    sock.bind(endpoint)
    conn.send(("ready", None))
    count = 0
    first = last = 0.0
    while not conn.poll(0):
        if sock.poll(100):
            while True:
                try:
                    sock.recv_multipart(flags=zmq.NOBLOCK)
                except zmq.Again:
                    break
                count += 1
                last = time.perf_counter()
                first = first or last
    conn.send(("done", {"received": count, "span_s": last - first}))
    sock.close(0)
    ctx.term()


@dataclass
class Step:
    """One measured step."""

    rate: float  # nominal total batches/s (0: flood)
    duration_s: float
    sent: int = 0
    blocked: int = 0
    achieved_rate: float = 0.0
    received: int = 0
    fused: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    seq_gaps: int = 0
    rss_start_mb: float = 0.0
    rss_peak_mb: float = 0.0
    sustained: bool = False
    #: Largest shortfall of fused batches behind what was sent, at a heartbeat during the
    #: load, in seconds of load beyond the lateness window (None: no heartbeat came).
    max_lag_s: float | None = None
    note: str = ""


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """Resident memory of ``pid`` (MB), from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _start_publishers(n: int, endpoint: str, rate: float, duration_s: float,
                      kind: str = "radar") -> list[tuple[Any, Connection]]:
    ctx = mp.get_context("spawn")
    out = []
    for i in range(n):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=publisher_main, args=(i, endpoint, rate / n if rate else 0.0,
                                                     duration_s, child, kind), daemon=True)
        p.start()
        out.append((p, parent))
    for _, conn in out:
        if not conn.poll(STARTUP_TIMEOUT_S):
            raise RuntimeError("a publisher did not start")
        kind, info = conn.recv()
        if kind != "ready":
            raise RuntimeError(f"publisher: {info}")
    return out


def _finish(pubs: list[tuple[Any, Connection]], timeout_s: float) -> list[dict[str, Any]]:
    results = []
    for p, conn in pubs:
        if not conn.poll(timeout_s):
            raise RuntimeError("a publisher did not finish")
        kind, info = conn.recv()
        if kind != "done":
            raise RuntimeError(f"publisher: {info}")
        results.append(info)
        p.join(timeout=30)
    return results


async def _last_status(trk: str, want: int, timeout_s: float) -> wire.Status | None:
    """The daemon's status once it has fused ``want`` batches (or the last one seen)."""
    ctx = zmq.asyncio.Context()
    sock = bus.sub_socket(ctx, trk, bind=False, topics=("status.",))
    last = None
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if await sock.poll(200):
                _, msg = bus.parse_frames(await sock.recv_multipart())
                if isinstance(msg, wire.Status):
                    last = msg
                    c = msg.counters
                    if c.get("batches_fused", 0) + c.get("dropped_late", 0) >= want and \
                            c.get("queue_depth", 0) == 0:
                        break
    finally:
        sock.close(0)
        ctx.term()
    return last


def _watch_status(trk: str, stop: threading.Event, out: list[tuple[float, int]]) -> None:
    """Collect (wall time of arrival, batches_fused) of every heartbeat until ``stop``."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, b"status.")
    sock.connect(trk)
    try:
        while not stop.is_set():
            if sock.poll(100):
                _, payload = sock.recv_multipart()
                msg = wire.decode(payload)
                if isinstance(msg, wire.Status):
                    out.append((time.time(), int(msg.counters.get("batches_fused", 0))))
    finally:
        sock.close(0)
        ctx.term()


def pace_lag(beats: list[tuple[float, int]], go: float, end: float, rate: float,
             lateness_s: float) -> float | None:
    """Worst lag (s of load) of the fused count behind the nominal sent count at the heartbeats
    from ``go + 1`` to ``end`` (wall UTC s), beyond the lateness window; None if none came."""
    lags = [(w - go) - fused / rate - lateness_s for w, fused in beats if go + 1.0 <= w <= end]
    return max(lags) if lags else None


def run_step(n: int, rate: float, duration_s: float, settings: DaemonSettings,
             workdir: Path, max_lag_s: float = 0.5, kind: str = "radar") -> Step:
    """One daemon, ``n`` publishers at ``rate`` (0: flood) for ``duration_s``."""
    step = Step(rate=rate, duration_s=duration_s)
    daemon = DaemonProcess(settings, workdir, None)
    samples: list[float] = []
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.is_set():
            samples.append(rss_mb(daemon.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    beats: list[tuple[float, int]] = []
    watcher = threading.Thread(target=_watch_status, args=(daemon.trk, stop_sampling, beats),
                               daemon=True)
    watcher.start()
    try:
        pubs = _start_publishers(n, daemon.det, rate, duration_s, kind)
        time.sleep(0.5)
        step.rss_start_mb = rss_mb(daemon.pid)
        sampler.start()
        go = time.time()
        for _, conn in pubs:
            conn.send("go")
        results = _finish(pubs, duration_s + 60)
        end = go + duration_s
        step.sent = sum(r["sent"] for r in results)
        step.blocked = sum(r["blocked"] for r in results)
        step.achieved_rate = step.sent / max(r["elapsed_s"] for r in results)
        status = asyncio.run(_last_status(daemon.trk, step.sent, 30.0))
        stop_sampling.set()
        sampler.join()
        step.rss_peak_mb = max(samples, default=0.0)
        if status is None:
            step.note = "no status from the daemon"
            return step
        c = status.counters
        step.received = sum(c.get(f"sensor.load-{i}.received", 0) for i in range(n))
        step.fused = c.get("batches_fused", 0)
        step.dropped = {k: v for k, v in c.items() if k.startswith("dropped_") and v}
        step.seq_gaps = c.get("seq_gaps", 0)
        kept_rate = rate == 0 or step.achieved_rate >= SENDER_SHORTFALL * rate
        step.max_lag_s = pace_lag(list(beats), go, end, rate, settings.lateness_s) if rate else None
        kept_pace = rate == 0 or (step.max_lag_s is not None and step.max_lag_s <= max_lag_s)
        step.sustained = (kept_rate and kept_pace and step.blocked == 0
                          and step.received == step.sent and step.fused == step.sent
                          and not step.dropped and step.seq_gaps == 0)
        if not kept_rate:
            step.note = f"publishers reached only {step.achieved_rate:.0f}/s"
        elif not kept_pace:
            step.note = ("fell behind during the load (lag "
                         + ("unknown: no heartbeat" if step.max_lag_s is None
                            else f"{step.max_lag_s:.2f} s") + "); drained afterwards")
        return step
    finally:
        stop_sampling.set()
        watcher.join(timeout=5)
        daemon.stop()


def run_peer(n: int, duration_s: float) -> dict[str, float]:
    """The bare-SUB sink flooded by ``n`` publishers: messages/s it drained."""
    endpoint = f"tcp://{HOST}:{free_port()}"
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    sink = ctx.Process(target=sink_main, args=(endpoint, child), daemon=True)
    sink.start()
    parent.recv()
    pubs = _start_publishers(n, endpoint, 0.0, duration_s)
    for _, conn in pubs:
        conn.send("go")
    results = _finish(pubs, duration_s + 60)
    time.sleep(1.0)
    parent.send("stop")
    _, info = parent.recv()
    sink.join(timeout=10)
    sent = sum(r["sent"] for r in results)
    return {"sent": sent, "received": info["received"],
            "rate": info["received"] / max(info["span_s"], 1e-9)}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--publishers", type=int, default=4, help="publisher processes (default 4)")
    ap.add_argument("--start-rate", type=float, default=100.0,
                    help="first step, total batches/s (default 100)")
    ap.add_argument("--max-rate", type=float, default=64_000.0,
                    help="stop doubling past this (default 64000)")
    ap.add_argument("--step-s", type=float, default=4.0, help="seconds per step (default 4)")
    ap.add_argument("--flood-s", type=float, default=15.0,
                    help="first flood's length; the second lasts twice as long (default 15: "
                    "long enough to fill ZeroMQ's queues, 100,000 messages per publisher)")
    ap.add_argument("--queue-size", type=int, default=10_000,
                    help="the daemon's daemon.queue_size (default 10000, the default)")
    ap.add_argument("--refine", type=int, default=2,
                    help="bisection steps between the last sustained rate and the first loss")
    ap.add_argument("--max-lag", type=float, default=0.5,
                    help="a step is sustained only if, at every heartbeat during the load, the "
                         "daemon had fused all but this many seconds of load (beyond the "
                         "lateness window) (default 0.5)")
    ap.add_argument("--kind", choices=("radar", "adsb"), default="radar",
                    help="radar: one plot per message; adsb: one aircraft report per message "
                         f"({ADSB_AIRCRAFT} aircraft per publisher, ICAO address and velocity), "
                         "which the daemon may fuse several to a step (daemon.merge_window_s)")
    ap.add_argument("--no-flood", action="store_true", help="skip the flood and the peer")
    ap.add_argument("--merge-window", type=float, default=None, metavar="S",
                    help="the daemon's daemon.merge_window_s (default: its default; 0: one "
                         "tracker step per message, as before issue 15's item 2)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    settings = DaemonSettings(DEFAULT_SETTINGS.lateness_s, DEFAULT_SETTINGS.snapshot_hz,
                              queue_size=args.queue_size, merge_window_s=args.merge_window)
    env = environment()
    print(f"cuas {env['cuas_commit']}{' (dirty)' if env['cuas_dirty'] else ''}, "
          f"{env['cpus']} CPUs, load {env['load_average'][0]:.1f}; {args.publishers} publishers,"
          f" one detection per batch ({args.kind}), daemon {settings.label()}, queue_size "
          f"{args.queue_size}")
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="cuas-load-") as tmp:
        rate = args.start_rate
        print("\nrising rate (batches/s over all publishers):")
        while rate <= args.max_rate:
            step = run_step(args.publishers, rate, args.step_s, settings, Path(tmp),
                            args.max_lag, args.kind)
            steps.append(step)
            print(f"  {rate:>8.0f}/s: sent {step.sent:>7} (achieved {step.achieved_rate:>6.0f}/s),"
                  f" received {step.received:>7}, fused {step.fused:>7}, dropped {step.dropped or 0},"
                  f" gaps {step.seq_gaps}, RSS peak {step.rss_peak_mb:.0f} MB -> "
                  f"{'sustained' if step.sustained else 'NOT sustained'} {step.note}"
                  + (f" (worst lag {step.max_lag_s:.2f} s)" if step.max_lag_s is not None else ""))
            if not step.sustained:
                break
            rate *= 2
        # Narrow the edge: bisect between the last sustained rate and the first loss.
        ok = max((x.rate for x in steps if x.sustained), default=0.0)
        lost = min((x.rate for x in steps if not x.sustained), default=0.0)
        for _ in range(args.refine if ok and lost else 0):
            rate = round((ok + lost) / 2)
            step = run_step(args.publishers, rate, args.step_s, settings, Path(tmp),
                            args.max_lag, args.kind)
            steps.append(step)
            print(f"  {rate:>8.0f}/s: sent {step.sent:>7}, received {step.received:>7}, fused "
                  f"{step.fused:>7}, dropped {step.dropped or 0}, gaps {step.seq_gaps} -> "
                  f"{'sustained' if step.sustained else 'NOT sustained'} {step.note}"
                  + (f" (worst lag {step.max_lag_s:.2f} s)" if step.max_lag_s is not None else ""))
            ok, lost = (rate, lost) if step.sustained else (ok, rate)
        floods = []
        peer = {"rate": math.nan, "received": 0, "sent": 0}
        for secs in () if args.no_flood else (args.flood_s, 2 * args.flood_s):
            if not floods:
                print("\nflood (publishers as fast as they can):")
            step = run_step(args.publishers, 0.0, secs, settings, Path(tmp), kind=args.kind)
            floods.append(step)
            print(f"  {secs:>4.0f} s: sent {step.sent:>8} ({step.achieved_rate:>7.0f}/s), "
                  f"refused at the publishers' full queues {step.blocked:>8}, "
                  f"received {step.received:>8}, fused {step.fused:>8}, dropped {step.dropped}, "
                  f"RSS {step.rss_start_mb:.0f} MB at start, peak {step.rss_peak_mb:.0f} MB")
        if not args.no_flood:
            peer = run_peer(args.publishers, args.flood_s)
    sustained = [s.rate for s in steps if s.sustained]
    best = max(sustained, default=0.0)
    print(f"\npeer: a bare pyzmq SUB drained {peer['rate']:.0f} messages/s from the same "
          f"flood ({peer['received']}/{peer['sent']} received)")
    print(f"\nsustained with zero loss: {best:.0f} batches/s from {args.publishers} publishers"
          f" ({best / peer['rate']:.2f} of the bare SUB's drain rate)")
    if not floods:
        return 0
    grow = floods[1].rss_peak_mb - floods[0].rss_peak_mb
    print(f"memory ceiling under flood: {floods[0].rss_peak_mb:.0f} MB after {args.flood_s:g} s, "
          f"{floods[1].rss_peak_mb:.0f} MB after {2 * args.flood_s:g} s ({grow:+.0f} MB for twice "
          f"the backlog)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "environment": env, "steps": [asdict(s) for s in steps],
            "floods": [asdict(s) for s in floods], "peer": peer,
            "sustained_rate": best}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
