"""``bench_tracker.py --dense``: crossing targets packed densely in clutter, one table.

Rows: cuas on its default settings, cuas with ``tracker.association = "jpda"``, Stone Soup's
GNN and Stone Soup's JPDA, both given the scenario's true model: the targets fly straight at
constant velocity (``crossing``: pairs that meet at one point, height and scan), so the peers
get a constant-velocity model with a near-zero process noise (``--true-q``), the true
measurement noise, and (JPDA) the true detection probability and clutter density. cuas gets
nothing but the detections. Stone Soup's JPDA is bounded: it runs only up to
``--jpda-max-targets`` and is stopped after a scan slower than ``--limit`` seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
from functools import partial
from typing import Any

import numpy as np
from bench_tracker import (
    CUAS,
    CuasRunner,
    RunStats,
    Scenario,
    environment,
    fmt_ms,
    print_environment,
    run_tracker,
    stonesoup_available,
)
from peers import ModelParams, StoneSoupJPDARunner, StoneSoupRunner

from cuas.config import Config, SiteConfig
from cuas.sim import generators as sim

CUAS_JPDA = "cuas-jpda"
SS_GNN = "stonesoup-gnn"
SS_JPDA = "stonesoup-jpda"
NAMES = (CUAS, CUAS_JPDA, SS_GNN, SS_JPDA)


def dense_scenario(n: int, seed: int, n_scans: int, clutter: float,
                   half_width: float) -> tuple[Scenario, float, float]:
    """A seeded ``crossing`` run of ``n`` targets in a square of ``half_width`` (m); returns it
    with its true detection probability and clutter density (per m³)."""
    site = SiteConfig()
    params = sim.SimParams(seed=seed, n_targets=n, duration_s=float(n_scans), scan_period_s=1.0,
                           scenario="crossing", clutter_per_scan=clutter, churn_fraction=0.0,
                           frame="enu", region_half_width_m=half_width)
    res = sim.simulate(params, site)
    truth = [res.truth.enu[k][res.truth.alive[k]] for k in range(len(res.scans))]
    sigma = np.asarray(params.measurement_sigma, dtype=np.float64)
    sc = Scenario(n_targets=n, seed=seed, times=[s.t for s in res.scans],
                  scans=[s.z for s in res.scans], truth=truth, batches=res.batches,
                  R=np.diag(sigma**2))
    lo, hi = params.altitude_range
    volume = (2.0 * half_width) ** 2 * (hi - lo)
    return sc, params.pd, clutter / volume


def dense_benchmark(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    """Run every tracker on ``--dense-seeds`` seeds; print and return one table."""
    env = environment()
    print_environment(env)
    missing = stonesoup_available()
    if missing:
        print(f"NOTE: {missing}. Stone Soup rows are left out.", flush=True)
    jpda_cfg = dataclasses.replace(config, tracker=dataclasses.replace(config.tracker,
                                                                       association="jpda"))
    n, scans = args.dense_targets, args.dense_scans
    print(f"Dense crossings: {n} targets in pairs crossing at one point, height and scan, in a "
          f"{2 * args.dense_half_width / 1000:g} km square, {args.dense_clutter:g} clutter/scan, "
          f"{scans} scans, seeds {args.seed}..{args.seed + args.dense_seeds - 1}; Stone Soup "
          f"given the true model (CV, q = {args.true_q:g} m^2/s^3, true R, Pd, clutter density)",
          flush=True)
    results: dict[str, list[RunStats]] = {name: [] for name in NAMES}
    for seed in range(args.seed, args.seed + args.dense_seeds):
        sc, pd, lam = dense_scenario(n, seed, scans, args.dense_clutter, args.dense_half_width)
        true_model = dataclasses.replace(ModelParams.from_cuas(config.tracker, sc.R),
                                         q_h=args.true_q, q_v=args.true_q)
        makers: dict[str, Any] = {CUAS: partial(CuasRunner, sc, config),
                                  CUAS_JPDA: partial(CuasRunner, sc, jpda_cfg)}
        if not missing:
            makers[SS_GNN] = partial(StoneSoupRunner, sc.times, sc.scans, true_model, False)
            if n <= args.jpda_max_targets:
                makers[SS_JPDA] = partial(StoneSoupJPDARunner, sc.times, sc.scans, true_model,
                                          lam, pd)
        for name in NAMES:
            if name not in makers:
                why = (missing or "") if name in (SS_GNN, SS_JPDA) and missing else (
                    f"N = {n} > --jpda-max-targets {args.jpda_max_targets}")
                results[name].append(RunStats(name, n, "skipped", why))
                continue
            st = run_tracker(makers[name], sc, name, args.warmup, args.limit, args.c, args.p)
            results[name].append(st)
            print(f"  seed {seed} {name:<15} GOSPA {st.gospa:8.2f}  median "
                  f"{fmt_ms(st.median_ms)} ms/scan  {st.status} {st.reason}", flush=True)
    lines = dense_table(results, args)
    print("\n" + "\n".join(lines))
    return {"mode": "dense", "environment": env, "targets": n, "scans": scans,
            "clutter_per_scan": args.dense_clutter, "half_width_m": args.dense_half_width,
            "true_q": args.true_q, "seeds": args.dense_seeds, "gospa_c": args.c,
            "gospa_p": args.p, "table": lines,
            "results": {k: [dataclasses.asdict(s) for s in v] for k, v in results.items()}}


def dense_table(results: dict[str, list[RunStats]], args: argparse.Namespace) -> list[str]:
    """One row per tracker: mean GOSPA over the seeds (and its parts), time per scan, verdicts
    of issue 14's bar for cuas's default against the peers."""
    head = (f"{'tracker':<15} {'GOSPA':>8} {'per seed':>26} {'loc/missed/false (m^p)':>24} "
            f"{'median ms':>10} {'p95 ms':>8}  note")
    lines = [head, "-" * len(head)]
    means: dict[str, float] = {}
    for name, runs in results.items():
        ok = [r for r in runs if r.usable]
        if len(ok) < len(runs) or not ok:
            note = "; ".join(sorted({f"{r.status}: {r.reason}" for r in runs if not r.usable}))
            lines.append(f"{name:<15} {'-':>8} {'-':>26} {'-':>24} {'-':>10} {'-':>8}  {note}")
            continue
        means[name] = float(np.mean([r.gospa for r in ok]))
        per_seed = ", ".join(f"{r.gospa:.1f}" for r in ok)
        parts = "/".join(f"{np.mean([getattr(r, a) for r in ok]):.0f}"
                         for a in ("gospa_localisation", "gospa_missed", "gospa_false"))
        med = float(np.median(np.concatenate([r.timed_ms for r in ok])))
        p95 = float(np.percentile(np.concatenate([r.timed_ms for r in ok]), 95))
        lines.append(f"{name:<15} {means[name]:>8.2f} {per_seed:>26} {parts:>24} "
                     f"{fmt_ms(med):>10} {fmt_ms(p95):>8}")
    lines.append("")
    ref = means.get(CUAS)
    for peer, bar, text in ((SS_GNN, 0.9, "at least 10 % better than"),
                            (SS_JPDA, 1.0, "no worse than")):
        if ref is None or peer not in means:
            lines.append(f"cuas default {text} {peer}: not measured")
            continue
        gain = 100.0 * (1.0 - ref / means[peer])
        verdict = "PASS" if ref <= bar * means[peer] else "FAIL"
        lines.append(f"cuas default {text} {peer}: GOSPA {ref:.2f} vs {means[peer]:.2f} "
                     f"({gain:+.1f} % better) [{verdict}]")
    if CUAS_JPDA in means and ref is not None:
        lines.append(f"cuas jpda vs cuas default: GOSPA {means[CUAS_JPDA]:.2f} vs {ref:.2f}")
    return lines


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The ``--dense`` mode's options."""
    ap.add_argument("--dense", action="store_true",
                    help="accuracy mode: crossing targets packed densely in clutter; cuas "
                         "(default and jpda) against Stone Soup GNN and JPDA given the true model")
    ap.add_argument("--dense-targets", type=int, default=20)
    ap.add_argument("--dense-half-width", type=float, default=700.0,
                    help="half-width (m) of the square the crossings lie in")
    ap.add_argument("--dense-clutter", type=float, default=20.0, help="false alarms per scan")
    ap.add_argument("--dense-scans", type=int, default=40)
    ap.add_argument("--dense-seeds", type=int, default=3)
    ap.add_argument("--true-q", type=float, default=0.05,
                    help="the peers' process noise (m^2/s^3): the truth flies straight lines")
    ap.add_argument("--jpda-max-targets", type=int, default=100,
                    help="Stone Soup JPDA runs only up to this many targets")

