#!/usr/bin/env python3
"""Benchmark: a ``tracks`` snapshot's export and encoding at 1,000 / 5,000 / 10,000 tracks.

The engine is fed ``--scans`` radar scans of N well-separated targets (site ENU, 1 s apart) so
that N tracks live, then the same snapshot rows and the same classification are exported and
encoded twice in the same run: the per-track path cuas used before issue 15 (one ``wire.Track``
per track, then ``wire.encode``; tests/fusion/export_oracle.py) and the columnar path
(``track_columns`` then ``encode_track_columns``), checking that both give the same bytes.
Prints median and p95 per snapshot, the ratio old/new, and the whole ``snapshot_columns`` +
encode (prediction and classification included) for scale. The machine is shared: only the
ratios, measured in the same run, are comparable between runs.

Run ``python benchmarks/bench_snapshot.py [--sizes 1000,5000,10000] [--repeats 30]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fusion.export_oracle, and a checkout without pip -e

from cuas import wire  # noqa: E402
from cuas.config import reference_config  # noqa: E402
from cuas.fusion.engine import FusionEngine  # noqa: E402
from cuas.fusion.export import track_columns  # noqa: E402
from cuas.wire.columns import encode_track_columns  # noqa: E402
from tests.fusion.export_oracle import export_tracks  # noqa: E402

T0 = 1_800_000_000.0


def engine_with(n: int, scans: int, seed: int = 5) -> FusionEngine:
    """An engine holding about ``n`` tracks (targets 60 m apart on a grid, 10 m/s)."""
    cfg = reference_config()
    cfg = dataclasses.replace(cfg, tracker=dataclasses.replace(
        cfg.tracker, max_tracks=2 * n, max_births_per_batch=2 * n,
        max_pairs_per_batch=1_000_000_000))
    engine = FusionEngine(cfg)
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2)[:n] * 60.0
    pos = np.column_stack([grid - side * 30.0, rng.uniform(50, 300, n)])
    vel = np.column_stack([rng.normal(0, 7, (n, 2)), np.zeros(n)])
    for k in range(scans):
        z = pos + vel * k + rng.normal(0, 2.0, (n, 3))
        dets = tuple(wire.Detection(frame="enu", z=tuple(p), sigma=(3.0, 3.0, 3.0),
                                    R=(9.0, 0, 0, 0, 9.0, 0, 0, 0, 9.0)) for p in z.tolist())
        engine.process(wire.Detections(src="bench", seq=k, t=T0 + k, sensor="radar-1",
                                       kind="radar", dets=dets))
    return engine


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def fmt(s: list[float]) -> str:
    return f"{statistics.median(s):7.2f} / {np.percentile(s, 95):6.2f}"


def measure(n: int, repeats: int, scans: int) -> None:
    """One row of the table: both paths on the same rows and classification."""
    engine = engine_with(n, scans)
    t = float(engine.time or T0) + 0.2
    rows = engine.tracker.snapshot(t)
    cls = engine._classify(t, rows)
    names, idents, site = engine._sensor_names, engine.identities, engine.site

    def old() -> bytes:
        return wire.encode(wire.Tracks(src="cuas", seq=1, t=t, tracks=tuple(
            export_tracks(rows, site, names, idents, cls))))

    def new() -> bytes:
        return encode_track_columns(track_columns(rows, site, names, idents, cls), "cuas", 1, t)

    def whole() -> bytes:
        tt, cols = engine.snapshot_columns(t)
        return encode_track_columns(cols, "cuas", 1, tt)

    assert old() == new(), "the columnar path must give the same bytes"
    a, b = timed(old, repeats), timed(new, repeats)
    c = timed(whole, max(5, repeats // 3))
    print(f"{len(rows):7d} {fmt(a):>24} {fmt(b):>16} "
          f"{statistics.median(a) / statistics.median(b):6.1f}x {fmt(c):>50}", flush=True)
    # The offline replay's tracks file: one JSON line per snapshot, from the per-track
    # objects (before) and from the columns (cuas/fusion/offline.py now), same bytes.
    cols = track_columns(rows, site, names, idents, cls, modes=True)
    dump = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode

    def json_old() -> str:
        return json.dumps(wire.to_dict(cols.to_message("cuas", 1, t)), allow_nan=False,
                          separators=(",", ":"))

    def json_new() -> str:
        return dump(cols.message_dict("cuas", 1, t))

    assert json_old() == json_new(), "the columnar JSON line must be the same"
    d, e = timed(json_old, repeats), timed(json_new, repeats)
    print(f"{'':7} JSON line (offline replay): objects {fmt(d)}, columns {fmt(e)}, "
          f"{statistics.median(d) / statistics.median(e):.1f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000,10000")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--scans", type=int, default=5)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; ms per snapshot, median / p95 over "
          f"{args.repeats} repeats")
    print(f"{'tracks':>7} {'per-track export+encode':>24} {'columnar':>16} {'ratio':>7} "
          f"{'whole snapshot (predict+classify+columns+encode)':>50}")
    for n in (int(s) for s in args.sizes.split(",")):
        measure(n, args.repeats, args.scans)

if __name__ == "__main__":
    main()
