#!/usr/bin/env python3
"""Benchmark: cuas's batched tracker against Stone Soup's GNN trackers and a filterpy loop.

Every tracker gets the same seeded detections (``cuas.sim.generators``, ENU positions with the same R) and
the same model (constant velocity, same process noise, χ² gate, initial velocity uncertainty,
M-of-N confirmation and miss-count deletion). Per size it prints the median and p95 time per
scan (warm-up scans excluded, ``time.perf_counter`` around the tracker's own call only), the
ratio of each peer's median to cuas's, GOSPA over the confirmed tracks, and the confirmed tracks
left at the end. ``--crossing`` runs the accuracy check on crossing targets instead;
``--dense`` crossings packed densely in clutter, with JPDA on both sides (tracker_dense.py).

Run ``python benchmarks/bench_tracker.py --help``; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import json
import math
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

try:
    import cuas  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peers import (  # noqa: E402
    FilterpyRunner,
    ModelParams,
    NumpyRunner,
    Runner,
    StoneSoupMissing,
    StoneSoupRunner,
)

from cuas import wire  # noqa: E402
from cuas.config import Config, SiteConfig  # noqa: E402
from cuas.eval import gospa as gospa_metric
from cuas.eval.matching import DEFAULT_STATUSES
from cuas.fusion.engine import FusionEngine  # noqa: E402
from cuas.sim import generators as sim

F64 = NDArray[np.float64]

CUAS = "cuas"
SS_PLAIN = "stonesoup-plain"
SS_KD = "stonesoup-kdtree"
FILTERPY = "filterpy+scipy"
NUMPY_GNN = "numpy-gnn"
PEERS = (SS_KD, SS_PLAIN, FILTERPY, NUMPY_GNN)
#: Peers that need nothing beyond cuas's own dependencies (always run).
LOCAL_PEERS = (FILTERPY, NUMPY_GNN)
COUNTED_STATUSES = frozenset(DEFAULT_STATUSES)  # confirmed and coasting
#: GOSPA values this close (relative) count as equal: trackers with the same model and the same
#: associations differ only by floating-point rounding (~1e-13).
GOSPA_RTOL = 1e-6

DEFAULT_SIZES = (10, 100, 1000, 5000, 10_000)
#: The clock around each tracker's step: wall time, or with ``--clock cpu`` the process's CPU
#: time (every thread's), which other jobs on a shared machine do not inflate.
CLOCK: list[Callable[[], float]] = [time.perf_counter]
QUICK_SIZES = (10, 100, 1000)


# --------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class Scenario:
    """One seeded run, in every form the trackers take it (built before any timing)."""

    n_targets: int
    seed: int
    times: list[float]
    scans: list[F64]  # (M,3) site-ENU detections per scan
    truth: list[F64]  # (K,3) positions of the targets alive at each scan
    batches: tuple[wire.Detections, ...]  # the same detections as cuas's wire messages
    R: F64

    @property
    def dets_per_scan(self) -> float:
        return float(np.mean([len(z) for z in self.scans]))


def make_scenario(n: int, seed: int, n_scans: int, clutter: float, scenario: str = "random",
                  site: SiteConfig | None = None) -> Scenario:
    site = site if site is not None else SiteConfig()
    params = sim.SimParams(seed=seed, n_targets=n, duration_s=float(n_scans), scan_period_s=1.0,
                           scenario=scenario, clutter_per_scan=clutter, churn_fraction=0.0,
                           frame="enu")
    res = sim.simulate(params, site)
    truth = [res.truth.enu[k][res.truth.alive[k]] for k in range(len(res.scans))]
    sigma = np.asarray(params.measurement_sigma, dtype=np.float64)
    return Scenario(
        n_targets=n, seed=seed, times=[s.t for s in res.scans], scans=[s.z for s in res.scans],
        truth=truth, batches=res.batches, R=np.diag(sigma**2),
    )


# --------------------------------------------------------------------------- cuas runner


class CuasRunner:
    name = CUAS

    def __init__(self, sc: Scenario, config: Config) -> None:
        self.sc = sc
        self.tracker = FusionEngine(config)

    def step(self, k: int) -> None:
        self.tracker.process(self.sc.batches[k])

    def positions(self, k: int) -> F64:
        snap = self.tracker.snapshot(self.sc.times[k])
        pts = [tr.enu for tr in snap.tracks if tr.status in COUNTED_STATUSES]
        return np.asarray(pts, dtype=np.float64).reshape(-1, 3)


# --------------------------------------------------------------------------- GOSPA


@dataclass
class Gospa:
    total: float
    localisation: float
    missed: float
    false: float


def gospa_sparse(truth: F64, tracks: F64, c: float, p: float) -> Gospa:
    """GOSPA (alpha = 2) by ``cuas.eval.gospa.gospa``, solved per independent cluster.

    A pair at distance >= c costs c**p whether assigned or not, so only pairs closer than c
    matter, and the optimum splits over the connected components of the "closer than c"
    graph. Equal to ``gospa_metric.gospa`` on the whole sets, without its dense n×m matrix
    (10,000 × 10,000 would need gigabytes).
    """
    n, m = len(truth), len(tracks)
    if n * m <= 250_000:
        r = gospa_metric.gospa(truth.reshape(-1, 3), tracks.reshape(-1, 3), c, p)
        return Gospa(r.total, r.localisation, r.missed, r.false)
    half = c**p / 2.0
    sdm = cKDTree(truth).sparse_distance_matrix(cKDTree(tracks), c, output_type="ndarray")
    ti, tj = sdm["i"].astype(np.int64), sdm["j"].astype(np.int64)
    graph = coo_matrix((np.ones(len(ti)), (ti, tj + n)), shape=(n + m, n + m))
    _, label = connected_components(graph, directed=False)
    size = np.bincount(label)
    loc = missed = false = 0.0
    # Lone nodes: a missed truth or a false track.
    lone = size[label] == 1
    missed += half * int(np.count_nonzero(lone[:n]))
    false += half * int(np.count_nonzero(lone[n:]))
    # One truth and one track: a single pair, no choice to make.
    pair_comp = size[label[ti]] == 2
    d = np.linalg.norm(truth[ti[pair_comp]] - tracks[tj[pair_comp]], axis=1)
    close = d < c
    loc += float(np.sum(d[close] ** p))
    missed += half * int(np.count_nonzero(~close))
    false += half * int(np.count_nonzero(~close))
    # Larger clusters: the exact assignment on each.
    big = np.flatnonzero(size > 2)
    if len(big):
        nodes = np.flatnonzero(np.isin(label, big))
        nodes = nodes[np.argsort(label[nodes], kind="stable")]
        cuts = np.flatnonzero(np.diff(label[nodes])) + 1
        for group in np.split(nodes, cuts):
            r = gospa_metric.gospa(truth[group[group < n]], tracks[group[group >= n] - n], c, p)
            loc += r.localisation
            missed += r.missed
            false += r.false
    return Gospa((loc + missed + false) ** (1.0 / p), loc, missed, false)


# --------------------------------------------------------------------------- running


@dataclass
class RunStats:
    tracker: str
    n_targets: int
    status: str = "ok"  # ok | skipped | aborted | missing
    reason: str = ""
    scan_ms: list[float] = field(default_factory=list)  # every scan, warm-up included
    timed_ms: list[float] = field(default_factory=list)
    median_ms: float = math.nan
    p95_ms: float = math.nan
    gospa: float = math.nan
    gospa_localisation: float = math.nan
    gospa_missed: float = math.nan
    gospa_false: float = math.nan
    confirmed_end: int = -1
    runs: int = 0

    @property
    def usable(self) -> bool:
        return self.status == "ok" and bool(self.timed_ms)


def run_tracker(make: Callable[[], Runner], sc: Scenario, name: str, warmup: int,
                limit_s: float, c: float, p: float, repeats: int = 1) -> RunStats:
    """Feed ``sc`` scan by scan; time each ``step``; score GOSPA after warm-up (not timed).

    With ``repeats`` > 1 the whole run is repeated on a fresh tracker and the timings pooled
    (GOSPA is from the first run: the runs are deterministic).
    """
    stats = RunStats(tracker=name, n_targets=sc.n_targets)
    scores: list[Gospa] = []
    for rep in range(repeats):
        runner = make()
        gc.collect()
        for k in range(len(sc.scans)):
            t0 = CLOCK[0]()
            runner.step(k)
            elapsed = CLOCK[0]() - t0
            stats.scan_ms.append(elapsed * 1e3)
            if k >= warmup:
                stats.timed_ms.append(elapsed * 1e3)
                if rep == 0:
                    scores.append(gospa_sparse(sc.truth[k], runner.positions(k), c, p))
            if elapsed > limit_s and k < len(sc.scans) - 1:
                stats.status = "aborted"
                stats.reason = (f"scan {k} took {elapsed:.1f} s (> {limit_s:g} s limit); "
                                "stopped after it")
                return stats
        if rep == 0:
            stats.confirmed_end = len(runner.positions(len(sc.scans) - 1))
        stats.runs += 1
        del runner
        gc.collect()
    timed = np.asarray(stats.timed_ms)
    stats.median_ms = float(np.median(timed))
    stats.p95_ms = float(np.percentile(timed, 95))
    stats.gospa = float(np.mean([g.total for g in scores]))
    stats.gospa_localisation = float(np.mean([g.localisation for g in scores]))
    stats.gospa_missed = float(np.mean([g.missed for g in scores]))
    stats.gospa_false = float(np.mean([g.false for g in scores]))
    return stats


#: Least growth exponent assumed when extrapolating a peer's time per scan. The plain Stone
#: Soup hypothesiser scores every track against every detection (N × M); fixed overheads hide
#: that at small N, and its first scans with all detections as holding tracks are the slowest.
MIN_EXPONENT = {SS_PLAIN: 2.0}


def estimate_scan_s(history: Sequence[tuple[int, float]], n: int,
                    min_exponent: float = 1.0) -> tuple[float, str] | None:
    """Extrapolate a peer's median time per scan (s) to size ``n`` from its previous sizes:
    power law through the last two sizes (exponent clamped to [min_exponent, 3])."""
    if not history:
        return None
    n1, t1 = history[-1]
    exponent = min_exponent
    if len(history) >= 2:
        n0, t0 = history[-2]
        if n1 > n0 and t0 > 0 and t1 > 0:
            fitted = math.log(t1 / t0) / math.log(n1 / n0)
            exponent = min(3.0, max(min_exponent, fitted))
    est = t1 * (n / n1) ** exponent
    return est, f"{t1:.2f} s/scan at N={n1} x (N ratio)^{exponent:.2f}"


def make_runner(name: str, sc: Scenario, params: ModelParams, config: Config) -> Runner:
    if name == CUAS:
        return CuasRunner(sc, config)
    if name == FILTERPY:
        return FilterpyRunner(sc.times, sc.scans, params)
    if name == NUMPY_GNN:
        return NumpyRunner(sc.times, sc.scans, params)
    return StoneSoupRunner(sc.times, sc.scans, params, kdtree=(name == SS_KD))


def stonesoup_available() -> str | None:
    """None if Stone Soup imports, else the message to print."""
    try:
        from peers import build_stonesoup

        build_stonesoup(ModelParams.from_cuas(Config().tracker, np.eye(3)), kdtree=True)
    except StoneSoupMissing as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- output


def fmt_ms(x: float) -> str:
    if math.isnan(x):
        return "-"
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def table_rows(by_size: dict[int, dict[str, RunStats]], dets: dict[int, float]) -> list[str]:
    head = (f"{'N':>6} {'dets/scan':>9}  {'tracker':<17} {'median ms':>10} {'p95 ms':>10} "
            f"{'peer/cuas':>10} {'GOSPA':>8} {'confirmed':>9}  note")
    lines = [head, "-" * len(head)]
    for n, row in by_size.items():
        ref = row.get(CUAS)
        for name, st in row.items():
            ratio = "-"
            if name != CUAS and st.usable and ref is not None and ref.usable:
                r = st.median_ms / ref.median_ms
                ratio = f"{r:.0f}x" if r >= 10 else f"{r:.2f}x"
            note = "" if st.status == "ok" else f"{st.status}: {st.reason}"
            gospa = "-" if math.isnan(st.gospa) else f"{st.gospa:.1f}"
            conf = "-" if st.confirmed_end < 0 else str(st.confirmed_end)
            lines.append(f"{n:>6} {dets[n]:>9.0f}  {name:<17} {fmt_ms(st.median_ms):>10} "
                         f"{fmt_ms(st.p95_ms):>10} {ratio:>10} {gospa:>8} {conf:>9}  {note}")
    return lines


def verdicts(by_size: dict[int, dict[str, RunStats]]) -> list[str]:
    """The issue's targets, each with PASS / FAIL / not measured."""
    out: list[str] = []
    row = by_size.get(1000)
    if row is None or not row[CUAS].usable:
        out.append("1000 targets, >= 300x faster than each peer with GOSPA <= peer's: not measured")
    else:
        ref = row[CUAS]
        for name in (SS_KD, FILTERPY, SS_PLAIN):
            st = row.get(name)
            if st is None or not st.usable:
                why = st.reason if st is not None else "not run"
                out.append(f"1000 targets vs {name}: not measured ({why})")
                continue
            ratio = st.median_ms / ref.median_ms
            fast = ratio >= 300
            good = ref.gospa <= st.gospa * (1 + GOSPA_RTOL)
            out.append(f"1000 targets vs {name}: {ratio:.0f}x faster per scan (median) "
                       f"[{'PASS' if fast else 'FAIL'} >= 300x]; GOSPA cuas {ref.gospa:.1f} vs "
                       f"{st.gospa:.1f} [{'PASS' if good else 'FAIL'} equal or better]"
                       f"{'' if good else f' ({100 * (ref.gospa / st.gospa - 1):.2f}% worse)'}")
    row = by_size.get(10_000)
    if row is None or not row[CUAS].usable:
        out.append("10,000 targets < 100 ms per scan: not measured")
    else:
        st = row[CUAS]
        out.append(f"10,000 targets: median {st.median_ms:.1f} ms, p95 {st.p95_ms:.1f} ms per scan "
                   f"[{'PASS' if st.median_ms < 100 else 'FAIL'} median < 100 ms; "
                   f"p95 {'<' if st.p95_ms < 100 else '>='} 100 ms]")
    sizes = [n for n in sorted(by_size) if n >= 1000 and by_size[n][CUAS].usable]
    if len(sizes) >= 2:
        med = np.array([by_size[n][CUAS].median_ms for n in sizes])
        k_fit = float(np.polyfit(np.log(sizes), np.log(med), 1)[0])
        parts = [f"{a}->{b}: {math.log(tb / ta) / math.log(b / a):.2f}"
                 for (a, ta), (b, tb) in zip(zip(sizes, med, strict=True),
                                             zip(sizes[1:], med[1:], strict=True), strict=False)]
        per_target = ", ".join(f"{1e3 * t / n:.1f}" for n, t in zip(sizes, med, strict=True))
        ok = k_fit <= 1.1
        out.append(f"scaling, cuas median per scan ~ N^k over N={','.join(map(str, sizes))}: "
                   f"least-squares k = {k_fit:.2f} (pairwise {'; '.join(parts)}) "
                   f"[{'PASS' if ok else 'FAIL'} k <= 1.1, 0.1 allowed for timing noise]; "
                   f"us per target: {per_target}")
    return out


# --------------------------------------------------------------------------- profiling


STAGES = (
    ("fusion/engine.py", "process", "process (total)"),
    ("fusion/measurements.py", "to_measurements", "message -> arrays (to_measurements)"),
    ("tracking/models.py", "predict", "predict (motion model and h(x), incl. export)"),
    ("tracking/hypothesiser.py", "candidate_pairs", "  hypothesise: KD-tree coarse gate"),
    ("tracking/hypothesiser.py", "hypothesise", "hypothesise (coarse gate + Mahalanobis)"),
    ("tracking/associator.py", "gnn_assign", "associate (gnn_assign)"),
    ("tracking/associator.py", "_solve_cluster", "  gnn: per-cluster linear_sum_assignment"),
    ("tracking/tracker.py", "_update", "update (Kalman)"),
    ("tracking/tracker.py", "_commit", "commit (write back, hit/miss bookkeeping)"),
    ("tracking/tracker.py", "_initiate", "initiate"),
    ("tracking/tracker.py", "_apply_life_cycle", "life cycle + delete"),
    ("fusion/export.py", "export_tracks", "  export deleted tracks (wire.Track objects)"),
)


def profile_cuas(sc: Scenario, config: Config, warmup: int) -> list[str]:
    """cProfile the timed scans of a cuas run; per-stage cumulative time and the top leaves."""
    tracker = FusionEngine(config)
    for k in range(warmup):
        tracker.process(sc.batches[k])
    prof = cProfile.Profile()
    n_timed = len(sc.batches) - warmup
    prof.enable()
    for k in range(warmup, len(sc.batches)):
        tracker.process(sc.batches[k])
    prof.disable()
    st = pstats.Stats(prof)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = st.stats  # type: ignore[attr-defined]
    lines = [f"cuas profile at N={sc.n_targets} ({n_timed} scans after {warmup} warm-up, "
             "cProfile overhead included; ms per scan)"]
    total = 0.0
    for (fname, _line, func), (_cc, _nc, _tt, ct, _callers) in raw.items():
        if fname.endswith("fusion/engine.py") and func == "process":
            total = ct
    for suffix, func, label in STAGES:
        ct = sum(v[3] for (fn, _l, f), v in raw.items()
                 if fn.endswith(suffix) and f == func)
        share = f"{100 * ct / total:5.1f}%" if total else ""
        lines.append(f"  {label:<46} {1e3 * ct / n_timed:9.2f}  {share}")
    lines.append("  top functions by own time (ms per scan):")
    leaves = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
    for (fname, line, func), (_cc, nc, tt, _ct, _callers) in leaves:
        where = f"{Path(fname).name}:{line}" if line else fname
        lines.append(f"    {1e3 * tt / n_timed:9.2f}  {nc // n_timed:>7} calls/scan  {func} ({where})")
    return lines


# --------------------------------------------------------------------------- modes


def environment() -> dict[str, Any]:
    """What was measured on: the cuas commit (and whether cuas/ had local changes), versions."""
    import importlib.metadata as md
    import os
    import platform
    import subprocess

    root = Path(__file__).resolve().parent.parent

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], cwd=root, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    versions = {}
    for pkg in ("numpy", "scipy", "stonesoup", "filterpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "cuas_commit": git("rev-parse", "--short", "HEAD"),
        "cuas_dirty": bool(git("status", "--porcelain", "--", "cuas")),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        **versions,
    }


def print_environment(env: dict[str, Any]) -> None:
    dirty = " (with uncommitted changes in cuas/)" if env["cuas_dirty"] else ""
    load = ", ".join(f"{x:.2f}" for x in env["load_average"])
    print(f"cuas {env['cuas_commit']}{dirty}; Python {env['python']}, numpy {env['numpy']}, "
          f"scipy {env['scipy']}, stonesoup {env['stonesoup']}, filterpy {env['filterpy']}; "
          f"{env['cpus']} CPUs, load average {load}", flush=True)


def scaling_benchmark(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    env = environment()
    print_environment(env)
    missing = stonesoup_available()
    if missing:
        print(f"NOTE: {missing}. Stone Soup peers are skipped.", flush=True)
    peers = [p for p in PEERS if (p in LOCAL_PEERS or not missing) and p in args.trackers]
    history: dict[str, list[tuple[int, float]]] = {p: [] for p in PEERS}
    gave_up: dict[str, str] = {}
    by_size: dict[int, dict[str, RunStats]] = {}
    dets: dict[int, float] = {}
    profiles: list[str] = []
    started = time.perf_counter()
    for n in args.sizes:
        clutter = max(args.min_clutter, args.clutter_ratio * n)
        sc = make_scenario(n, args.seed, args.scans, clutter)
        dets[n] = sc.dets_per_scan
        params = ModelParams.from_cuas(config.tracker, sc.R)
        row: dict[str, RunStats] = {}
        print(f"\n== N={n}: {args.scans} scans of ~{dets[n]:.0f} detections "
              f"({clutter:g} clutter/scan expected), timing scans {args.warmup}..{args.scans - 1}",
              flush=True)
        row[CUAS] = run_tracker(partial(CuasRunner, sc, config), sc, CUAS, args.warmup,
                                args.limit, args.c, args.p, repeats=args.cuas_repeats)
        print(f"   {CUAS:<17} median {fmt_ms(row[CUAS].median_ms)} ms, "
              f"p95 {fmt_ms(row[CUAS].p95_ms)} ms, GOSPA {row[CUAS].gospa:.1f}", flush=True)
        for name in peers:
            if name in gave_up:
                row[name] = RunStats(name, n, "skipped", gave_up[name])
            else:
                est = estimate_scan_s(history[name], n, MIN_EXPONENT.get(name, 1.0))
                if est is not None and est[0] > args.limit:
                    row[name] = RunStats(name, n, "skipped",
                                         f"estimated {est[0]:.0f} s/scan > {args.limit:g} s "
                                         f"({est[1]})")
                else:
                    t0 = time.perf_counter()
                    row[name] = run_tracker(partial(make_runner, name, sc, params, config),
                                            sc, name, args.warmup, args.limit, args.c, args.p)
                    st = row[name]
                    if st.usable:
                        history[name].append((n, st.median_ms / 1e3))
                    else:
                        gave_up[name] = f"aborted at N={n}"
                    print(f"   {name:<17} median {fmt_ms(st.median_ms)} ms, "
                          f"p95 {fmt_ms(st.p95_ms)} ms, GOSPA {st.gospa:.1f} "
                          f"({time.perf_counter() - t0:.0f} s incl. set-up) {st.reason}",
                          flush=True)
            if row[name].status == "skipped":
                print(f"   {name:<17} skipped: {row[name].reason}", flush=True)
            gc.collect()
        by_size[n] = row
        if n in args.profile:
            lines = profile_cuas(sc, config, args.warmup)
            profiles.extend(lines)
            print("\n".join(lines), flush=True)
        del sc
        gc.collect()

    print(f"\nAll trackers: same detections, CV model q_h={config.tracker.accel_noise_h:g} "
          f"q_v={config.tracker.accel_noise_v:g} m^2/s^3, gate P={config.tracker.gate_probability} "
          f"(chi2_3 {ModelParams.from_cuas(config.tracker, np.eye(3)).gate_chi2:.2f}), confirm "
          f"{config.tracker.confirm_m}-of-{config.tracker.confirm_n}. Times per scan over scans "
          f"{args.warmup}..{args.scans - 1} (cuas pooled over {args.cuas_repeats} runs); GOSPA "
          f"c={args.c:g} m, p={args.p:g}, alpha=2, mean over the same scans, confirmed+coasting "
          f"tracks; 'confirmed' = such tracks after the last scan.\n")
    lines = table_rows(by_size, dets)
    print("\n".join(lines))
    print("\nTargets:")
    for v in verdicts(by_size):
        print(f"  {v}")
    print(f"\n(total wall time {time.perf_counter() - started:.0f} s)")
    return {
        "mode": "scaling",
        "environment": env,
        "sizes": list(args.sizes),
        "scans": args.scans,
        "warmup": args.warmup,
        "seed": args.seed,
        "clutter_ratio": args.clutter_ratio,
        "gospa_c": args.c,
        "gospa_p": args.p,
        "limit_s": args.limit,
        "detections_per_scan": {str(n): d for n, d in dets.items()},
        "results": {str(n): {k: asdict(v) for k, v in row.items()} for n, row in by_size.items()},
        "table": lines,
        "verdicts": verdicts(by_size),
        "profiles": profiles,
    }


def crossing_benchmark(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    env = environment()
    print_environment(env)
    missing = stonesoup_available()
    if missing:
        print(f"NOTE: {missing}. Only cuas and filterpy are compared.", flush=True)
    names = [CUAS] + [p for p in (SS_PLAIN, SS_KD, FILTERPY, NUMPY_GNN)
                      if (p in LOCAL_PEERS or not missing) and p in args.trackers]
    results: dict[int, dict[str, RunStats]] = {}
    print(f"Crossing targets: {args.crossing_targets} targets in pairs crossing at the same "
          f"point and scan, {args.crossing_clutter:g} clutter/scan, {args.crossing_scans} scans; "
          f"GOSPA c={args.c:g} m, p={args.p:g} over scans {args.warmup}.."
          f"{args.crossing_scans - 1}\n", flush=True)
    head = (f"{'seed':>4}  " + "  ".join(f"{n:>16}" for n in names)
            + "   (mean GOSPA per scan, m)")
    print(head)
    for seed in range(args.seed, args.seed + args.crossing_seeds):
        sc = make_scenario(args.crossing_targets, seed, args.crossing_scans,
                           args.crossing_clutter, scenario="crossing")
        params = ModelParams.from_cuas(config.tracker, sc.R)
        row = {name: run_tracker(partial(make_runner, name, sc, params, config), sc, name,
                                 args.warmup, math.inf, args.c, args.p)
               for name in names}
        results[seed] = row
        print(f"{seed:>4}  " + "  ".join(f"{row[n].gospa:>16.2f}" for n in names), flush=True)
    means = {n: float(np.mean([results[s][n].gospa for s in results])) for n in names}
    print(f"{'mean':>4}  " + "  ".join(f"{means[n]:>16.2f}" for n in names))
    print("\nGOSPA parts, mean over seeds (m^p): localisation / missed / false")
    for n in names:
        loc, mis, fal = (float(np.mean([getattr(results[s][n], a) for s in results]))
                         for a in ("gospa_localisation", "gospa_missed", "gospa_false"))
        print(f"  {n:<17} {loc:9.1f} / {mis:6.1f} / {fal:6.1f}")
    verdict = []
    for ref in (SS_PLAIN, SS_KD, FILTERPY, NUMPY_GNN):
        if ref not in names:
            continue
        wins = sum(results[s][CUAS].gospa <= results[s][ref].gospa * (1 + GOSPA_RTOL)
                   for s in results)
        ok = means[CUAS] <= means[ref] * (1 + GOSPA_RTOL)
        verdict.append(f"cuas vs {ref}: mean GOSPA {means[CUAS]:.2f} vs {means[ref]:.2f} "
                       f"[{'PASS' if ok else 'FAIL'} no worse]; cuas <= peer on {wins}/"
                       f"{len(results)} seeds")
    print("\n" + "\n".join(verdict))
    return {
        "mode": "crossing",
        "environment": env,
        "targets": args.crossing_targets,
        "clutter_per_scan": args.crossing_clutter,
        "scans": args.crossing_scans,
        "warmup": args.warmup,
        "gospa_c": args.c,
        "gospa_p": args.p,
        "results": {str(s): {k: asdict(v) for k, v in row.items()} for s, row in results.items()},
        "mean_gospa": means,
        "verdicts": verdict,
    }


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sizes


def parse_names(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in (*PEERS, CUAS)]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown tracker(s) {unknown}; choose from {PEERS}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--sizes", type=parse_sizes, default=None,
                    help="comma-separated target counts (default 10,100,1000,5000,10000; "
                         "--quick: 10,100,1000)")
    ap.add_argument("--scans", type=int, default=None,
                    help="scans per run, 1 s apart (default 20; --quick: 12)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="first scans not timed or scored (default 5; --quick: 4)")
    ap.add_argument("--quick", action="store_true", help="smoke run: sizes 10,100,1000, 12 scans")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clutter-ratio", type=float, default=0.1,
                    help="expected false alarms per scan per target (clutter grows with N)")
    ap.add_argument("--min-clutter", type=float, default=2.0, help="at least this many per scan")
    ap.add_argument("--limit", type=float, default=10.0,
                    help="skip a peer at a size whose estimated or measured scan time exceeds "
                         "this (s)")
    ap.add_argument("--cuas-repeats", type=int, default=3,
                    help="cuas is cheap: repeat its run and pool the timings to tame noise")
    ap.add_argument("--trackers", type=parse_names, default=list(PEERS),
                    help=f"peers to run besides cuas, comma-separated from {','.join(PEERS)}")
    ap.add_argument("--c", type=float, default=gospa_metric.DEFAULT_C, help="GOSPA cut-off (m)")
    ap.add_argument("--p", type=float, default=gospa_metric.DEFAULT_P, help="GOSPA order")
    ap.add_argument("--profile", type=parse_sizes, default=[],
                    help="sizes at which to cProfile cuas and print its stages, e.g. 5000,10000")
    ap.add_argument("--crossing", action="store_true",
                    help="accuracy mode: crossing targets in clutter, several seeds")
    ap.add_argument("--crossing-targets", type=int, default=20)
    ap.add_argument("--crossing-clutter", type=float, default=20.0)
    ap.add_argument("--crossing-scans", type=int, default=60)
    ap.add_argument("--crossing-seeds", type=int, default=5)
    ap.add_argument("--json", metavar="OUT", type=Path, help="also write the figures as JSON")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time each step in wall time (default) or the process's CPU time")
    ap.add_argument("--association", choices=("gnn", "jpda"), default=None,
                    help="cuas's tracker.association (default: its configuration default)")
    from tracker_dense import add_arguments, dense_benchmark  # imports this module

    add_arguments(ap)
    args = ap.parse_args(argv)
    CLOCK[0] = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.clock == "cpu":
        print("times per scan: CPU time of the process (all its threads), not wall time")
    args.sizes = args.sizes or list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    args.scans = args.scans or (12 if args.quick else 20)
    args.warmup = args.warmup if args.warmup is not None else (4 if args.quick else 5)
    if args.crossing:
        args.warmup = args.warmup if args.warmup <= args.crossing_scans - 1 else 5
    elif not 0 <= args.warmup < args.scans:
        ap.error("need 0 <= --warmup < --scans")
    if args.crossing_targets % 2 or args.crossing_targets < 2:
        ap.error("--crossing-targets must be an even number >= 2")

    config = Config()
    if args.association is not None:
        config = dataclasses.replace(config, tracker=dataclasses.replace(
            config.tracker, association=args.association))
    if args.dense:
        out = dense_benchmark(args, config)
    else:
        out = crossing_benchmark(args, config) if args.crossing else scaling_benchmark(args, config)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
