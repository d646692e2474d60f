#!/usr/bin/env python3
"""Where a scenario's ID switches come from: the tracker as configured against an oracle
associator, and the association errors, births and deaths behind each.

The simulator knows which mover caused every detection (``SimMessage.truth_ids``). Each track is
given an *owner*: the mover whose detection started it (or, for a track crossed from bearings,
the first it took), then the mover of each detection it takes. Two runs of one scenario:

- ``tracker``: the tracker as it is; counts how often a track takes another mover's detection
  (a *slide*) or a false alarm, how many births were of a mover already held by a firm track,
  and how many firm tracks died while their mover had no other (a *loss*);
- ``oracle``: the same filters, initiation and life cycle, but a track may only be paired with
  detections of its own mover (false alarms never): the ID switches a perfect associator would
  leave with these filters.

Both are scored as ``bench_scenarios.py`` scores them (CLEAR-MOT, c = 20 m).

Run ``python benchmarks/tracker_oracle.py [--seed 1] [NAME ...]`` (default: bird-flock-drone).
``--only tracker --set association=mht`` runs the multi-scan associator and prints its counters
(``mht_next_prefers_*``: how often the next batch alone favoured a kept alternative over the
committed assignment, and the reverse); its revisions bypass the oracle, so compare it only
in the ``tracker`` column.
"""

from __future__ import annotations

import argparse
import collections
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

try:
    import cuas  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cuas import wire
from cuas.eval import matching, report, tracklog
from cuas.eval import truth as truth_mod
from cuas.fusion.engine import FusionEngine
from cuas.sim.runner import simulate_scenario, write_scenario_truth
from cuas.sim.scenario import load_scenario
from cuas.tracking import associator, hypothesiser
from cuas.tracking import tracker as tracker_mod
from cuas.tracking.state import TENTATIVE

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "recordings" / "scenarios"


@dataclass
class Audit:
    """Owner bookkeeping of one run (track id -> mover id) and what it counted."""

    oracle: bool
    #: Sensor kinds the oracle associates (None: every kind).
    kinds: frozenset[str] | None = None
    kind: str = ""
    owner: dict[int, str] = field(default_factory=dict)
    truth_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    counts: collections.Counter[str] = field(default_factory=collections.Counter)


def _install(engine: FusionEngine, audit: Audit) -> None:
    """Wrap the engine's tracker so that it reports to ``audit`` (and, as oracle, gates by it)."""
    trk = engine.tracker
    original_hyp = hypothesiser.hypothesise
    original_gnn = associator.gnn_assign
    current: list[Any] = [None]

    def hyp(x: Any, P: Any, meas: Any, gate: Any, extra: Any = None) -> Any:
        current[0] = meas
        return original_hyp(x, P, meas, gate, extra)

    def gnn(track: Any, det: Any, cost: Any, miss: Any, n: int, m: int) -> Any:
        """The oracle: only pairs of a track with its own mover's detections are eligible
        (what the clutter estimate and map saw is left as the tracker had it)."""
        if (not audit.oracle or not len(track)
                or (audit.kinds is not None and audit.kind not in audit.kinds)):
            return original_gnn(track, det, cost, miss, n, m)
        det_truth = audit.truth_of[current[0].source[det]]
        own = [audit.owner.get(int(i)) for i in trk.table.ids[track]]
        keep = np.flatnonzero([d is not None and (o is None or o == d)
                               for o, d in zip(own, det_truth, strict=True)])
        return keep[original_gnn(track[keep], det[keep], cost[keep], miss[keep], n, m)]

    tracker_mod.hypothesise = hyp  # type: ignore[assignment]
    tracker_mod.gnn_assign = gnn  # type: ignore[assignment]

    original_initiate = trk._initiate

    def initiate(meas: Any, fresh: Any, sensor_col: int, map_penalty: Any) -> Any:
        before = {int(i) for i in trk.table.ids[trk.table.status != TENTATIVE]}
        firm_owners = {audit.owner.get(i) for i in before}
        ids, var = original_initiate(meas, fresh, sensor_col, map_penalty)
        for i, d in zip(ids, fresh[: len(ids)], strict=False):
            g = audit.truth_of[meas.source[d]]
            if g is None:
                audit.counts["births_false_alarm"] += 1
                continue
            audit.owner[i] = g
            audit.counts["births_held_mover" if g in firm_owners else "births_free_mover"] += 1
        return ids, var

    trk._initiate = initiate  # type: ignore[method-assign]

    original_merge = trk._merge_duplicates

    def merge(t: float) -> Any:
        gone = original_merge(t)
        for i in gone:
            o = audit.owner.get(i)
            others = [j for j, g in audit.owner.items() if g == o and j != i
                      and j in set(trk.table.ids.tolist())]
            audit.counts["merged_same_mover" if others else "merged_other_mover"] += 1
        return gone

    trk._merge_duplicates = merge  # type: ignore[method-assign]


def run(name: str, seed: int, oracle: bool, tmp: Path,
        settings: dict[str, Any] | None = None,
        kinds: frozenset[str] | None = None) -> dict[str, Any]:
    """One run of scenario ``name`` (tracker ``settings`` overriding the site's); its figures."""
    sc = load_scenario(SCENARIOS / f"{name}.toml")
    if settings:
        sc = replace(sc, config=replace(sc.config, tracker=replace(sc.config.tracker, **settings)))
    sim = simulate_scenario(sc, seed)
    truth_path = tmp / f"{name}-{seed}.truth.jsonl"
    write_scenario_truth(sim, truth_path)
    truths = {(m.batch.sensor, m.batch.seq): np.array(m.truth_ids, dtype=object)
              for m in sim.messages}
    audit = Audit(oracle, kinds)
    snapshots: list[wire.Tracks] = []
    errors: list[tuple[float, float]] = []
    engine: FusionEngine

    def fused(batch: wire.Detections, result: Any) -> None:
        if not result.accepted:
            return
        tab = engine.tracker.table
        firm_ids = set(tab.ids[tab.status != TENTATIVE].tolist())
        kind = batch.kind
        in_batch = set(audit.truth_of.tolist())
        took = {tid for (_s, tid) in result.weights}
        for tid in firm_ids - took:
            if audit.owner.get(tid) in in_batch:
                audit.counts[f"firm_missed_own_det_{kind}"] += 1
        for (src, tid), _w in result.weights.items():
            g = audit.truth_of[src]
            o = audit.owner.get(tid)
            firm = tid in firm_ids
            if g is None:
                audit.counts["firm_took_false_alarm" if firm else "tent_took_false_alarm"] += 1
                continue
            audit.counts[f"firm_assoc_{kind}" if firm else "tent_assoc"] += 1
            if o is not None and o != g:
                audit.counts[f"firm_slides_{kind}" if firm else "tent_slides"] += 1
                if firm and o not in in_batch:  # its own mover gave no detection
                    audit.counts[f"firm_slides_{kind}_own_missed"] += 1
            audit.owner[tid] = g
        upd = np.flatnonzero((tab.t == batch.t) & (tab.status != TENTATIVE))
        if len(upd):
            enu, _vel, alive = sim.truth.at(np.array([batch.t - sc.t0]))
            col = {g: k for k, g in enumerate(sim.truth.ids)}
            for r in upd:
                k = col.get(audit.owner.get(int(tab.ids[r]), ""), -1)
                if k >= 0 and alive[0, k]:
                    d = tab.x[r, :3] - enu[0, k]
                    errors.append((float(np.hypot(d[0], d[1])), abs(float(d[2]))))
        live = set(tab.ids.tolist())
        held = collections.Counter(audit.owner.get(i) for i in firm_ids)
        for tid in result.deleted:
            o = audit.owner.get(tid)
            if o is not None and held.get(o, 0) == 0 and tid not in live:
                audit.counts["deaths_mover_left_bare"] += 1
        snapshots.append(engine.snapshot(batch.t, seq=len(snapshots)))

    engine = FusionEngine(sc.config, classify=False, on_fused=fused)
    original_process = engine.process

    def process(batch: wire.Detections) -> Any:
        audit.truth_of = truths[(batch.sensor, batch.seq)]
        audit.kind = batch.kind
        return original_process(batch)

    engine.process = process  # type: ignore[method-assign]
    try:
        _install(engine, audit)
        for m in sim.messages:
            engine.push(m.batch)
        engine.flush()
    finally:
        tracker_mod.hypothesise = hypothesiser.hypothesise  # type: ignore[assignment]
        tracker_mod.gnn_assign = associator.gnn_assign  # type: ignore[assignment]
    ev = matching.evaluate(truth_mod.read_truth(truth_path),
                           tracklog.tracks_from_messages(snapshots))
    n_firm = [sum(t.status in ("confirmed", "coasting") for t in s.tracks) for s in snapshots]
    matched = sum(o.matched_steps for o in ev.objects.values())
    steps = sum(o.steps for o in ev.objects.values())
    err = np.array(errors) if errors else np.zeros((1, 2))
    gospa = report.to_json(ev)
    mht = {k: v for k, v in engine.tracker.counters.items() if k.startswith("mht_")}
    return dict(audit.counts, **mht, gospa_mean=float(gospa["gospa_mean"] or 0.0),
                false_tracks_per_h=float(gospa["false_tracks_per_hour"] or 0.0),
                confirmed_ids=len({tr.id for s in snapshots for tr in s.tracks
                                   if tr.status == "confirmed"}),
                err_h_median=float(np.median(err[:, 0])),
                err_v_median=float(np.median(err[:, 1])),
                err_h_p90=float(np.percentile(err[:, 0], 90)),
                err_v_p90=float(np.percentile(err[:, 1], 90)), id_switches=ev.id_switches, fragmentations=ev.fragmentations,
                matched_pct=100.0 * matched / max(steps, 1),
                firm_tracks_median=float(np.median(n_firm)) if n_firm else 0.0,
                movers=len(sim.truth.ids))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", default=["bird-flock-drone"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tmp", type=Path, default=Path("/tmp"))
    ap.add_argument("--only", choices=("tracker", "oracle"), default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a tracker setting (experiments), e.g. accel_noise_h=2")
    ap.add_argument("--oracle-kinds", default=None, metavar="KIND,...",
                    help="the oracle associates only these sensor kinds' batches (e.g. radar)")
    args = ap.parse_args(argv)
    kinds = frozenset(args.oracle_kinds.split(",")) if args.oracle_kinds else None
    settings: dict[str, Any] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            settings[key] = int(value) if value.isdigit() else float(value)
        except ValueError:
            settings[key] = value
    keys = ("movers", "id_switches", "fragmentations", "gospa_mean", "false_tracks_per_h",
            "confirmed_ids", "matched_pct", "firm_tracks_median",
            "err_h_median", "err_h_p90", "err_v_median", "err_v_p90",
            "firm_assoc_radar", "firm_slides_radar", "firm_slides_radar_own_missed",
            "firm_missed_own_det_radar",
            "firm_assoc_camera", "firm_slides_camera", "firm_missed_own_det_camera",
            "firm_took_false_alarm", "tent_assoc", "tent_slides",
            "births_free_mover", "births_held_mover", "births_false_alarm",
            "deaths_mover_left_bare", "merged_same_mover", "merged_other_mover",
            "mht_hypotheses", "mht_settled", "mht_revised", "mht_next_prefers_alternative",
            "mht_next_prefers_committed")
    modes = [args.only] if args.only else ["tracker", "oracle"]
    for name in args.names:
        rows = {mode: run(name, args.seed, mode == "oracle", args.tmp, settings, kinds) for mode in modes}
        print(f"{name}, seed {args.seed}")
        print(f"  {'':24}" + "".join(f"{m:>10}" for m in modes))
        for k in keys:
            vals = [rows[m].get(k, 0) for m in modes]
            print(f"  {k:24}" + "".join(f"{v:>10.1f}" if isinstance(v, float) else f"{v:>10}"
                                        for v in vals))
    return 0


if __name__ == "__main__":
    sys.exit(main())

