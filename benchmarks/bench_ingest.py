#!/usr/bin/env python3
"""Benchmark: the daemon's per-message path without sockets, old and new in the same run.

1. Entry: one ``detections`` payload of N plain radar plots (``rae``, ``sigma``) from bytes to
   the tracker's measurement arrays, plus the recorder's re-encoded copy, as the daemon does
   it: the per-detection path (``wire.decode``, one ``wire.Detection`` per plot,
   ``to_measurements``, ``wire.encode``) against the array entry point
   (``decode_detections``, ``to_measurements`` on the columns, ``encode_array_detections``).
   Both give the same arrays and bytes (tests/wire/test_arrays.py); here only their cost.
   Twice: plain plots, and plots that carry ``attrs`` ``snr_db`` as real radars' do (before
   issue 15's last step those took the per-detection path).
2. Cooperative feeds: ``--aircraft`` aircraft each reported twice a second by one ADS-B
   receiver (one message per report) through a FusionEngine, drained from the queue in groups
   of 64 as the daemon drains it, with ``daemon.merge_window_s`` = 0 (one tracker step per
   message) and = 0.1 (the default): messages per second of CPU, steps taken.

The machine is shared: only the ratios, measured in the same run, compare between runs.
``python benchmarks/bench_ingest.py [--sizes 1,10,100,1000] [--aircraft 200]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cuas import wire  # noqa: E402
from cuas.config import SiteConfig, reference_config  # noqa: E402
from cuas.fusion.engine import FusionEngine  # noqa: E402
from cuas.fusion.identities import IdentityKeys  # noqa: E402
from cuas.fusion.measurements import to_measurements  # noqa: E402
from cuas.geo import SiteFrame  # noqa: E402
from cuas.wire.arrays import (  # noqa: E402
    ArrayDetections,
    decode_detections,
    encode_array_detections,
)

T0 = 1_800_000_000.0
ORIGIN = (51.556, -0.2796, 40.0)


def payload(n: int, seed: int = 1, attrs: bool = False) -> bytes:
    """A radar scan of ``n`` plots; ``attrs``: each with ``snr_db`` (as the bundled radar's)."""
    rng = np.random.default_rng(seed)
    dets: list[dict[str, object]] = [
        {"frame": "rae", "z": [float(r), float(a), float(e)], "sigma": [10.0, 0.5, 0.5]}
        for r, a, e in zip(rng.uniform(200, 8000, n), rng.uniform(0, 360, n),
                           rng.uniform(0, 20, n), strict=True)]
    if attrs:
        for d, snr in zip(dets, rng.uniform(8.0, 40.0, n).round(1).tolist(), strict=True):
            d["attrs"] = {"snr_db": snr}
    return msgpack.packb({"v": 1, "type": "detections", "src": "radar-1", "seq": 1, "t": T0,
                          "sensor": "radar-1", "kind": "radar", "origin": list(ORIGIN),
                          "dets": dets}, use_bin_type=True)


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds per call."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def entry(sizes: list[int], repeats: int, attrs: bool = False) -> None:
    site = SiteFrame(SiteConfig())
    print(f"{'plots':>6} {'objects us/msg':>15} {'arrays us/msg':>14} {'us/plot old/new':>16} "
          f"{'ratio':>6}" + ("   (every plot with attrs {snr_db})" if attrs else ""))
    for n in sizes:
        data = payload(n, attrs=attrs)

        def old(data: bytes = data) -> object:
            msg = wire.decode(data)
            assert isinstance(msg, wire.Detections)
            meas = to_measurements(msg, site, ORIGIN, IdentityKeys())
            return meas, wire.encode(msg)

        def new(data: bytes = data) -> object:
            msg = decode_detections(data)
            assert isinstance(msg, ArrayDetections)
            meas = to_measurements(msg, site, ORIGIN, IdentityKeys())
            return meas, encode_array_detections(msg)

        assert old()[1] == new()[1]  # type: ignore[index]
        reps = max(5, repeats // max(1, n // 10))
        a, b = timed(old, reps), timed(new, reps)
        print(f"{n:6d} {a * 1e6:15.0f} {b * 1e6:14.0f} {a * 1e6 / n:8.1f}/{b * 1e6 / n:<7.1f} "
              f"{a / b:5.1f}x", flush=True)


def adsb_stream(n_aircraft: int, seconds: float) -> list[wire.Detections]:
    """Each aircraft reported twice a second (with its velocity), reports staggered."""
    rng = np.random.default_rng(2)
    start = rng.uniform(-20_000, 20_000, (n_aircraft, 3)) * (1, 1, 0) + (0, 0, 2000)
    vel = rng.uniform(-150, 150, (n_aircraft, 3)) * (1, 1, 0.02)
    out = []
    k = 0
    for tick in range(int(seconds * 2)):
        for a in range(n_aircraft):
            t = tick * 0.5 + a * 0.5 / n_aircraft
            z = start[a] + vel[a] * t + rng.normal(0, 15.0, 3)
            det = wire.Detection(frame="enu", z=tuple(z.tolist()), sigma=(15.0, 15.0, 20.0),
                                 R=(225.0, 0.0, 0.0, 0.0, 225.0, 0.0, 0.0, 0.0, 400.0),
                                 vel=tuple(vel[a].tolist()),  # type: ignore[arg-type]
                                 ident=wire.Ident(icao=f"{0x400000 + a:06x}"))
            out.append(wire.Detections(src="adsb-1", seq=k, t=T0 + t, sensor="adsb-1",
                                       kind="adsb", dets=(det,)))
            k += 1
    return out


def cooperative(n_aircraft: int, seconds: float) -> None:
    stream = adsb_stream(n_aircraft, seconds)
    rate = len(stream) / seconds
    print(f"\n{n_aircraft} aircraft, 2 reports/s each = {rate:,.0f} single-detection messages "
          f"per second of stream, {seconds:g} s, drained in groups of 64:")
    for window in (0.0, 0.1):
        engine = FusionEngine(reference_config(), merge_window_s=window)
        t0 = time.process_time()
        for k in range(0, len(stream), 64):
            engine.push_all(stream[k:k + 64])
        engine.flush()
        cpu = time.process_time() - t0
        c = engine.counters
        print(f"  merge_window_s={window:<4g}: {c['batches_processed']:6,d} tracker steps for "
              f"{len(stream):,} messages, {cpu:6.2f} s CPU = {len(stream) / cpu:8,.0f} "
              f"messages/s ({rate / (len(stream) / cpu):.2f} of a core at {rate:,.0f}/s); "
              f"{engine.n_tracks} tracks", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,10,100,1000")
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--aircraft", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; entry: median over repeats")
    entry([int(s) for s in args.sizes.split(",")], args.repeats)
    entry([int(s) for s in args.sizes.split(",")], args.repeats, attrs=True)
    cooperative(args.aircraft, args.seconds)


if __name__ == "__main__":
    main()
