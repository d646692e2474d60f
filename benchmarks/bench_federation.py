#!/usr/bin/env python3
"""Benchmark: many sites through one NATS hub into one ``cuas federate`` process.

Processes on one host, all on loopback: a ``nats-server`` hub with JetStream, ``cuas
federate`` (its own process, the real command with a temporary configuration), a load
generator publishing every simulated site's ``tracks`` snapshots on ``cuas.<site>.trk`` (the
contract's msgpack, what ``cuas bridge nats`` sends) at a fixed rate, and this process, which
subscribes to the federate's ZeroMQ endpoint like ``cuas tracks`` does.

Sites sit on a grid 6 km apart, each with its tracks within 4 km of its centre; every pair of
neighbouring sites shares ``--shared`` drones (seen by both: those must fuse). Each snapshot
stamps its tracks' ``t_update`` with the wall time at sending.

* Latency: for each regional track in each snapshot received at wall time w, w - t_update of
  its newest member (the regional picture is published at ``rate_hz``, so this includes the
  wait for the next regional snapshot: up to 1 / rate_hz).
* CPU: the federate process's user + system time over the measured window, as a share of one
  core; memory: its peak resident set (VmHWM).

Run ``python benchmarks/bench_federation.py --help``. Needs ``nats-server`` and nats-py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq
import zmq.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cuas import wire  # noqa: E402
from tests.federation import servers as S  # noqa: E402
from tests.federation.helpers import ORIGIN, track  # noqa: E402


def _site_templates(sites: int, per_site: int, shared: int, seed: int) -> list[dict]:
    """One contract map per site (tracks included), positions in the regional frame."""
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(sites)))
    centres = [np.array([(i % cols) * 6000.0, (i // cols) * 6000.0, 0.0]) for i in range(sites)]
    common: dict[tuple[int, int], list[np.ndarray]] = {}
    out = []
    for i, c in enumerate(centres):
        pts: list[np.ndarray] = []
        for j in (i - 1, i + 1):  # the drones shared with the left and right neighbours
            if 0 <= j < sites and j // cols == i // cols:
                key = (min(i, j), max(i, j))
                if key not in common:
                    mid = (centres[i] + centres[j]) / 2
                    common[key] = [mid + np.array([*rng.uniform(-800, 800, 2), 100.0])
                                   for _ in range(shared)]
                pts.extend(common[key])
        while len(pts) < per_site:
            r, a = 4000 * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
            pts.append(c + np.array([r * np.cos(a), r * np.sin(a), rng.uniform(30, 300)]))
        t = time.time()
        tracks = [track(k + 1, tuple(float(x) for x in p), 5.0, t=t)
                  for k, p in enumerate(pts[:per_site])]
        out.append(wire.to_dict(wire.Tracks(src=f"site{i}", seq=0, t=t, tracks=tuple(tracks))))
    return out


def _load(url: str, sites: int, per_site: int, shared: int, rate_hz: float, seconds: float,
          seed: int, ready: mp.Event) -> None:
    """The load generator (own process): every site's snapshot ``rate_hz`` times a second."""
    import nats

    templates = _site_templates(sites, per_site, shared, seed)

    async def main() -> None:
        nc = await nats.connect(url, user=S.FEDERATE_USER[0], password=S.FEDERATE_USER[1],
                                pending_size=64 << 20)
        ready.set()
        period = 1.0 / rate_hz
        end = time.monotonic() + seconds
        tick = time.monotonic()
        seq = 0
        while time.monotonic() < end:
            seq += 1
            for i, doc in enumerate(templates):
                now = time.time()
                doc["seq"], doc["t"] = seq, now
                for tr in doc["tracks"]:
                    tr["t_update"] = now
                await nc.publish(f"cuas.site{i}.trk", msgpack.packb(doc, use_bin_type=True))
                # Spread the sites over the period, as independent sites would be.
                await asyncio.sleep(max(0.0, tick + period * (i + 1) / sites - time.monotonic()))
            tick += period
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
        await nc.flush()
        await nc.close()

    asyncio.run(main())


def _costs(sites: int, per_site: int, shared: int, seed: int) -> tuple[float, float]:
    """CPU cost in this process, no sockets: microseconds per site track accepted (decode and
    checks) and per regional track published (association, CI, encoding)."""
    from cuas.config import FederationConfig
    from cuas.federation.regional import Regional

    templates = _site_templates(sites, per_site, shared, seed)
    payloads = [msgpack.packb(d, use_bin_type=True) for d in templates]
    reg = Regional(FederationConfig(region_lat=ORIGIN[0], region_lon=ORIGIN[1],
                                    region_h=ORIGIN[2]))
    now = templates[0]["t"]
    t0 = time.process_time()
    for i, p in enumerate(payloads):
        reg.accept(f"site{i}", "trk", p, now)
    accept_us = (time.process_time() - t0) / (sites * per_site) * 1e6
    t0 = time.process_time()
    pic = reg.picture(now)
    wire.encode(pic)
    picture_us = (time.process_time() - t0) / max(1, len(pic.tracks)) * 1e6
    return accept_us, picture_us


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sites", type=int, default=50)
    ap.add_argument("--tracks", type=int, default=200, help="tracks per site")
    ap.add_argument("--shared", type=int, default=10, help="drones each neighbour pair shares")
    ap.add_argument("--rate", type=float, default=2.0, help="snapshots per site per second")
    ap.add_argument("--seconds", type=float, default=40.0, help="load duration (max 120)")
    ap.add_argument("--warmup", type=float, default=8.0, help="seconds not measured")
    ap.add_argument("--regional-rate", type=float, default=2.0,
                    help="regional snapshots per second (federation.rate_hz)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if S.NATS_SERVER is None:
        print("nats-server is not installed (apt-get install nats-server)", file=sys.stderr)
        return 2
    seconds = min(args.seconds, 120.0)
    accept_us, picture_us = _costs(args.sites, args.tracks, args.shared, args.seed)
    load = args.sites * args.tracks * args.rate * accept_us * 1e-6
    print(f"cost per site track accepted {accept_us:.1f} us, per regional track published "
          f"{picture_us:.1f} us: this load needs {100 * load:.0f} % of a core for input and "
          f"{100 * args.sites * args.tracks * args.regional_rate * picture_us * 1e-6:.0f} % "
          f"for the picture (upper bound: no fusion)")
    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        port, leaf = S.free_port(), S.free_port()
        hub = S.start_server("hub", S.hub_conf(port, leaf, wd / "js"), port, wd)
        publish = f"tcp://127.0.0.1:{S.free_port()}"
        cfg = wd / "federate.toml"
        cfg.write_text(f"""[federation]
region = "bench"
servers = "{hub.url}"
user = "{S.FEDERATE_USER[0]}"
password = "{S.FEDERATE_USER[1]}"
region_lat = {ORIGIN[0]}
region_lon = {ORIGIN[1]}
region_h = {ORIGIN[2]}
rate_hz = {args.regional_rate}
publish = "{publish}"
""")
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        fed = subprocess.Popen([sys.executable, "-m", "cuas.cli.main", "federate", "--config",
                                str(cfg), "--duration", str(seconds + 10)], env=env,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        ready = mp.Event()
        loader = mp.Process(target=_load, args=(hub.url, args.sites, args.tracks, args.shared,
                                                args.rate, seconds, args.seed, ready))
        loader.start()
        ready.wait(30)
        lat: list[float] = []
        counts: list[int] = []
        status: list[wire.Message] = []

        async def watch() -> tuple[float, float, float]:
            # A plain SUB and msgpack, not TrackStream: validating 10,000 regional tracks per
            # snapshot here would take CPU from the federate on the same two cores.
            sock = zmq.asyncio.Context.instance().socket(zmq.SUB)
            sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(publish)
            t_start = time.monotonic()
            cpu0 = w0 = None
            try:
                while time.monotonic() - t_start < seconds:
                    if not await sock.poll(1000):
                        continue
                    topic, payload = await sock.recv_multipart()
                    w = time.time()
                    if cpu0 is None and time.monotonic() - t_start >= args.warmup:
                        cpu0, w0 = _cpu_s(fed.pid), time.monotonic()
                    if topic.startswith(b"status."):
                        status.append(wire.decode(payload))
                    if cpu0 is None or topic != b"trk":
                        continue
                    doc = msgpack.unpackb(payload)
                    counts.append(len(doc["tracks"]))
                    lat.extend(w - tr["t_update"] for tr in doc["tracks"])
            finally:
                sock.close(0)
            assert cpu0 is not None and w0 is not None
            return _cpu_s(fed.pid) - cpu0, time.monotonic() - w0, _hwm_mb(fed.pid)

        cpu, wall, hwm = asyncio.run(watch())
        loader.join(30)
        fed.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            fed.wait(15)
        hub.stop()
        slow = [line for line in (wd / "hub.log").read_text().splitlines() if "Slow" in line]
        if slow:
            print(f"hub: {len(slow)} slow-consumer events, e.g. {slow[0][-120:]}")
    expected = args.sites * args.tracks - args.shared * sum(
        1 for i in range(args.sites - 1)
        if (i + 1) // int(np.ceil(np.sqrt(args.sites))) == i // int(np.ceil(np.sqrt(args.sites))))
    a = np.asarray(lat) * 1000.0
    if not a.size:  # every snapshot empty: site tracks went stale in the federate's backlog
        a = np.asarray([float("nan")])
    last = status[-1].counters if status and isinstance(status[-1], wire.Status) else {}
    if not counts:
        print("no regional snapshot received in the measured window", file=sys.stderr)
        return 1
    print(f"{args.sites} sites x {args.tracks} tracks at {args.rate:g} Hz "
          f"({args.sites * args.tracks * args.rate:,.0f} site tracks/s), regional picture at "
          f"{args.regional_rate:g} Hz, measured {wall:.0f} s")
    print(f"regional tracks per snapshot: median {np.median(counts):.0f} "
          f"(expected {expected} after fusing shared drones), snapshots {len(counts)}")
    print(f"end-to-end latency (site send -> regional snapshot received): p50 "
          f"{np.percentile(a, 50):.0f} ms, p99 {np.percentile(a, 99):.0f} ms, max {a.max():.0f} ms")
    print(f"federate CPU {100 * cpu / wall:.0f} % of one core, peak RSS {hwm:.0f} MB")
    print("federate counters: " + ", ".join(f"{k}={v}" for k, v in sorted(last.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
