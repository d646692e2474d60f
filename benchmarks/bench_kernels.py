#!/usr/bin/env python3
"""Benchmark: the tracker's compiled kernels (cuas/tracking/kernels.py) against the numpy path.

Both paths run in the same process on the same input, interleaved batch by batch, so machine
load hits them alike (``cuas.tracking.updater.use_kernels`` switches between them):

1. **Scans of N sparse targets** (``--sizes``, bench_tracker's seeded scenario, ~10 % clutter;
   the track caps raised so the table holds them all): the median and p95 of ``FusionEngine.process`` per scan after ``--warmup`` scans, and of
   the tracker's own step, per association (``--association gnn,jpda``).
2. **The bundled recording** (recordings/wembley-demo.mcap, offline, one snapshot per batch as
   ``cuas replay --offline``): the tracker step and the tracker snapshot per batch (median,
   p95, mean), and whether both paths wrote byte-identical snapshots.
3. **JIT warm-up**: in fresh interpreters with an empty cache directory, the time of the first
   call of every kernel (numba compiles them) and, in the next interpreter, the same with the
   cache filled (what every later start pays).
4. **Before/after** (``--baseline DIR``, a checkout of another revision, e.g. ``git worktree
   add /tmp/main main``): the scans of part 1 and the bundled recording's tracker step, each
   checkout in its own interpreter, alternated ``--rounds`` times, in CPU time of the
   process's thread (what a shared machine's load does not inflate) and wall time.

Run ``python benchmarks/bench_kernels.py [--sizes 1000,10000] [--scans 20] [--records N]
[--baseline DIR]``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cuas import wire  # noqa: E402
from cuas.config import Config, TrackerConfig, reference_config  # noqa: E402
from cuas.fusion.engine import FusionEngine  # noqa: E402
from cuas.fusion.offline import replay_detections  # noqa: E402
from cuas.tracking import updater  # noqa: E402

BUNDLED = ROOT / "recordings" / "wembley-demo.mcap"
PATHS = ("kernels", "numpy")


class Timed:
    """Wraps a bound method; records the wall time (s) of each call."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.times: list[float] = []

    def __call__(self, *args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        out = self.fn(*args, **kw)
        self.times.append(time.perf_counter() - t0)
        return out


def stats_ms(xs: list[float]) -> str:
    a = np.asarray(xs) * 1e3
    if not len(a):
        return "-"
    return f"median {np.median(a):7.3f}  p95 {np.percentile(a, 95):7.3f}  mean {a.mean():7.3f}"


def scan_config(association: str, n: int) -> Config:
    """The default configuration with ``association``, and caps raised so that the table
    holds every target: the defaults (256 births per batch, 5,000 tracks, the pair bound)
    would leave a 10,000-target scene a few hundred tracks and time mostly the input."""
    import dataclasses

    config = Config()
    tr: TrackerConfig = dataclasses.replace(
        config.tracker, association=association, max_tracks=max(5_000, 3 * n),
        max_births_per_batch=2 * n, max_pairs_per_batch=1_000_000_000)
    return dataclasses.replace(config, tracker=tr)


def scans(sizes: list[int], n_scans: int, warmup: int, associations: list[str]) -> None:
    from bench_tracker import make_scenario

    print(f"== scans of N sparse targets ({n_scans} scans 1 s apart, timing after {warmup})")
    for n in sizes:
        sc = make_scenario(n, seed=1, n_scans=n_scans, clutter=max(2.0, 0.1 * n))
        for assoc in associations:
            config = scan_config(assoc, n)
            engines = {p: FusionEngine(config) for p in PATHS}
            steps = {p: Timed(engines[p].tracker.step) for p in PATHS}
            for p in PATHS:
                engines[p].tracker.step = steps[p]  # type: ignore[method-assign]
            total: dict[str, list[float]] = {p: [] for p in PATHS}
            for k, batch in enumerate(sc.batches):
                for p in PATHS:
                    updater.use_kernels(p == "kernels")
                    gc.collect()
                    t0 = time.perf_counter()
                    engines[p].process(batch)
                    if k >= warmup:
                        total[p].append(time.perf_counter() - t0)
            updater.use_kernels(True)
            same = np.array_equal(engines["kernels"].tracker.table.x,
                                  engines["numpy"].tracker.table.x)
            print(f"N={n:>6} ({sc.dets_per_scan:.0f} dets/scan) {assoc}: "
                  f"{engines['kernels'].tracker.n_tracks} tracks, states identical: {same}")
            for p in PATHS:
                print(f"   {p:8s} process  {stats_ms(total[p])}")
                print(f"   {p:8s} step     {stats_ms(steps[p].times[warmup:])}")
            ratio = np.median(total["numpy"]) / np.median(total["kernels"])
            ratio_s = np.median(steps["numpy"].times[warmup:]) / np.median(
                steps["kernels"].times[warmup:])
            print(f"   numpy/kernels: process {ratio:.2f}x, step {ratio_s:.2f}x")


def bundled(limit: int | None) -> None:
    print(f"== bundled recording {BUNDLED.name} (offline, one snapshot per batch)")
    batches = []
    counters: Any = __import__("collections").Counter()
    for i, b in enumerate(replay_detections(BUNDLED, counters)):
        if limit is not None and i >= limit:
            break
        batches.append(b)
    digests = {p: hashlib.sha256() for p in PATHS}
    engines: dict[str, FusionEngine] = {}
    steps: dict[str, Timed] = {}
    snaps: dict[str, Timed] = {}
    whole: dict[str, list[float]] = {p: [] for p in PATHS}
    for p in PATHS:
        seq = [0]

        def write(batch: wire.Detections, result: Any, p: str = p, seq: list[int] = seq) -> None:
            if not result.accepted:
                return
            snap = engines[p].snapshot(batch.t, seq=seq[0])
            seq[0] += 1
            digests[p].update(json.dumps(wire.to_dict(snap), allow_nan=False,
                                         separators=(",", ":")).encode())

        engines[p] = FusionEngine(reference_config(), on_fused=write)
        steps[p] = Timed(engines[p].tracker.step)
        snaps[p] = Timed(engines[p].tracker.snapshot)
        engines[p].tracker.step = steps[p]  # type: ignore[method-assign]
        engines[p].tracker.snapshot = snaps[p]  # type: ignore[method-assign]
    for batch in batches:
        for p in PATHS:
            updater.use_kernels(p == "kernels")
            t0 = time.perf_counter()
            engines[p].push(batch)
            whole[p].append(time.perf_counter() - t0)
    for p in PATHS:
        updater.use_kernels(p == "kernels")
        engines[p].flush()
    updater.use_kernels(True)
    same = digests["kernels"].hexdigest() == digests["numpy"].hexdigest()
    print(f"{len(batches)} batches; snapshots byte-identical between the paths: {same}")
    for p in PATHS:
        print(f"   {p:8s} tracker step      {stats_ms(steps[p].times)}")
        print(f"   {p:8s} tracker snapshot  {stats_ms(snaps[p].times)}")
        print(f"   {p:8s} engine push (all) {stats_ms(whole[p])}")
    for what, d in (("step", steps), ("snapshot", snaps)):
        r = np.median(d["numpy"].times) / np.median(d["kernels"].times)
        print(f"   numpy/kernels: {what} {r:.2f}x (medians)")


WARM = """
import time
t0 = time.perf_counter()
import numpy as np
from cuas.tracking import updater
from cuas.tracking.imm import IMM, mode_update
t1 = time.perf_counter()
kern = updater.kernels()
t2 = time.perf_counter()
imm = IMM.standard(0.5, 0.3, 4.0, 1.0, 60.0, 20.0, 8.0, max_decel=10.0)
xm = np.zeros((2, 3, 6)); Pm = np.tile(np.eye(6), (2, 3, 1, 1)); mu = np.full((2, 3), 1 / 3)
xp, Pp, cbar, x, P = imm.predict_combined(xm, Pm, mu, np.ones(2))
imm.predict(xm, Pm, mu, np.ones(2))
imm.combine(xp, Pp, cbar)
imm.posterior_mu(cbar, np.zeros((2, 3)))
updater.inverse(np.tile(np.eye(3), (2, 1, 1)))
updater.inverse(np.tile(np.eye(2), (2, 1, 1)))
updater.mahalanobis2(np.ones((2, 3)), np.tile(np.eye(3), (2, 1, 1)))
updater.mahalanobis2(np.ones((2, 2)), np.tile(np.eye(2), (2, 1, 1)))
kern.mode_update(xp, Pp, np.ones(2, np.int64), np.full(2, 3), np.zeros((2, 3)),
                 np.zeros((2, 3, 3)), np.zeros((2, 3, 3, 6)), np.tile(np.eye(3), (2, 1, 1)),
                 np.ones(2, bool), np.zeros((2, 3)), np.tile(np.eye(3), (2, 1, 1)),
                 np.zeros(2, bool))
t3 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f}")
"""


def warmup() -> None:
    print("== JIT warm-up (fresh interpreters, one cache directory)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=cache)
        for label in ("first start (compiles, empty cache)", "second start (cache filled)"):
            out = subprocess.run([sys.executable, "-c", WARM], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            imp, numba_s, first = (float(v) for v in out)
            print(f"   {label}: import cuas.tracking.imm {imp:.3f} s, numba + kernels module "
                  f"{numba_s:.3f} s, first call of every kernel {first:.3f} s")


CHILD = """
import gc, json, sys, time
root = sys.argv[1]
sys.path.insert(0, root)
sys.path.insert(0, root + "/benchmarks")
import numpy as np
from bench_kernels import scan_config
from bench_tracker import make_scenario
from cuas.config import reference_config
from cuas.fusion.engine import FusionEngine
n, scans, warm, assoc, records = (int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                  sys.argv[5], int(sys.argv[6]))
out = {}
if n:
    sc = make_scenario(n, seed=1, n_scans=scans, clutter=max(2.0, 0.1 * n))
    eng = FusionEngine(scan_config(assoc, n))
    cpu, wall = [], []
    for k, batch in enumerate(sc.batches):
        gc.collect()
        c0, w0 = time.thread_time(), time.perf_counter()
        eng.process(batch)
        if k >= warm:
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - w0)
    out = {"cpu": float(np.median(cpu)), "wall": float(np.median(wall)), "tracks": eng.n_tracks}
else:
    from collections import Counter
    from cuas.fusion.offline import replay_detections
    batches = [b for _, b in zip(range(records), replay_detections(
        root + "/recordings/wembley-demo.mcap", Counter()))]
    eng = FusionEngine(reference_config(), on_fused=lambda b, r: eng.snapshot(b.t))
    step = eng.tracker.step
    cpu, wall = [], []
    def timed(*a, **k):
        c0, w0 = time.thread_time(), time.perf_counter()
        res = step(*a, **k)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
        return res
    eng.tracker.step = timed
    for b in batches:
        eng.push(b)
    eng.flush()
    out = {"cpu": float(np.median(cpu)), "wall": float(np.median(wall)), "tracks": len(cpu)}
print(json.dumps(out))
"""


def baseline(base: Path, sizes: list[int], n_scans: int, warm: int, associations: list[str],
             records: int, rounds: int) -> None:
    """Part 4: this checkout against ``base``, each in fresh interpreters, alternated."""
    print(f"== before/after: {base} (before) against {ROOT} (after), {rounds} rounds alternated, "
          "medians per scan / batch")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    jobs = [(n, assoc) for n in sizes for assoc in associations] + [(0, "gnn")]
    for n, assoc in jobs:
        got: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for _ in range(rounds):
            for label, root in (("before", base), ("after", ROOT)):
                res = subprocess.run(
                    [sys.executable, "-c", CHILD, str(root), str(n), str(n_scans), str(warm),
                     assoc, str(records)], env=dict(env, PYTHONPATH=str(root)), check=True,
                    capture_output=True, text=True, cwd=str(root))
                got[label].append(json.loads(res.stdout.strip().splitlines()[-1]))
        what = (f"N={n} {assoc} FusionEngine.process per scan" if n else
                f"bundled recording (first {records} batches) tracker step per batch")
        med = {k: {m: float(np.median([r[m] for r in v])) for m in ("cpu", "wall")}
               for k, v in got.items()}
        print(f"   {what}: before {med['before']['cpu'] * 1e3:.2f} ms CPU "
              f"({med['before']['wall'] * 1e3:.2f} wall), after {med['after']['cpu'] * 1e3:.2f} "
              f"ms CPU ({med['after']['wall'] * 1e3:.2f} wall): "
              f"{med['before']['cpu'] / med['after']['cpu']:.2f}x CPU, "
              f"{med['before']['wall'] / med['after']['wall']:.2f}x wall", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated target counts")
    ap.add_argument("--scans", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--association", default="gnn,jpda")
    ap.add_argument("--records", type=int, default=None,
                    help="bundled recording: first N batches only (default all)")
    ap.add_argument("--skip", default="", help="parts to skip: scans,bundled,warmup")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="a checkout of another revision to compare with (part 4)")
    ap.add_argument("--rounds", type=int, default=2, help="part 4: alternations per case")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}; load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}; {os.cpu_count()} CPUs")
    updater.use_kernels(True)
    assert updater.kernels() is not None, "numba unusable here"
    if "warmup" not in skip:
        warmup()
    if "scans" not in skip:
        scans([int(s) for s in args.sizes.split(",")], args.scans, args.warmup,
              args.association.split(","))
    if "bundled" not in skip:
        bundled(args.records)
    if args.baseline is not None:
        baseline(args.baseline.resolve(), [int(x) for x in args.sizes.split(",")], args.scans,
                 args.warmup, args.association.split(","), args.records or 2000, args.rounds)


if __name__ == "__main__":
    main()
