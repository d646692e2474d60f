#!/usr/bin/env python3
"""Where a scenario's false tracks come from: every confirmed track that never matched a truth
object, with what started it and what it lived on.

The simulator knows which mover caused every detection (``SimMessage.truth_ids``; ``None`` for a
false alarm or a fixed clutter return). The scenario runs through the fusion engine as
``bench_scenarios.py`` runs it (snapshots after every batch here); the tracker's births and
associations are watched. Each false track (confirmed or coasting at a scored step, never
matched within c = 20 m) is printed with: its birth (time, sensor, the mover of the detection
that started it or ``-``), the birth's clutter-map penalty, when it was confirmed and at what
score, how many detections it took of movers and of clutter, how far it moved from its
birthplace, and how long it lived. Then a summary by cause:

- ``clutter-still``: started by clutter and never took a mover's detection, moved < 60 m
  (fixed clutter: the clutter map's business);
- ``clutter-moving``: started by clutter, never took a mover's detection, moved farther (false
  alarms lining up by chance: the SPRT's threshold and the clutter density);
- ``mover``: took a mover's detections (a duplicate or a track that slid off its mover).

Run ``python benchmarks/false_tracks.py [--seed 1] [NAME ...]`` (default: crossing-clutter).
"""

from __future__ import annotations

import argparse
import collections
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:
    import cuas  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cuas import wire
from cuas.eval import matching, tracklog
from cuas.eval import truth as truth_mod
from cuas.fusion.engine import FusionEngine
from cuas.sim.runner import simulate_scenario, write_scenario_truth
from cuas.sim.scenario import load_scenario
from cuas.tracking.state import TENTATIVE

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "recordings" / "scenarios"
#: A false track that moved less than this (m) from its birthplace is "still".
STILL_M = 60.0


@dataclass
class Life:
    """What one track did (times UTC s, positions site ENU m)."""

    born_t: float
    born_kind: str
    born_owner: str | None
    born_pos: np.ndarray
    penalty: float
    confirmed_t: float | None = None
    confirm_score: float | None = None
    last_t: float = 0.0
    last_pos: np.ndarray = field(default_factory=lambda: np.zeros(3))
    takes: collections.Counter[str] = field(default_factory=collections.Counter)
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)


def run(name: str, seed: int, tmp: Path) -> dict[str, Any]:
    """One run of scenario ``name``; its false tracks and their causes."""
    sc = load_scenario(SCENARIOS / f"{name}.toml")
    sim = simulate_scenario(sc, seed)
    truth_path = tmp / f"{name}-{seed}.truth.jsonl"
    write_scenario_truth(sim, truth_path)
    truths = {(m.batch.sensor, m.batch.seq): np.array(m.truth_ids, dtype=object)
              for m in sim.messages}
    lives: dict[int, Life] = {}
    current: dict[str, Any] = {}
    snapshots: list[wire.Tracks] = []
    engine = FusionEngine(sc.config, classify=False,
                          on_fused=lambda b, r: fused(b, r))
    trk = engine.tracker
    original_initiate = trk._initiate
    original_bearings = trk._initiate_from_bearings

    def initiate(meas: Any, fresh: Any, sensor_col: int, map_penalty: Any) -> Any:
        ids, var = original_initiate(meas, fresh, sensor_col, map_penalty)
        for i, d in zip(ids, fresh[: len(ids)], strict=False):
            lives[i] = Life(meas.t, current["kind"], current["truth"][meas.source[d]],
                            meas.pos[d].copy(), float(map_penalty[d]))
        return ids, var

    def bearings(meas: Any, unclaimed: Any, sensor_col: int) -> Any:
        ids, var = original_bearings(meas, unclaimed, sensor_col)
        tab = trk.table
        for i in ids:
            r = int(np.flatnonzero(tab.ids == i)[0])
            lives[i] = Life(meas.t, "bearings", None, tab.x[r, :3].copy(), 0.0)
        return ids, var

    trk._initiate = initiate  # type: ignore[method-assign]
    trk._initiate_from_bearings = bearings  # type: ignore[method-assign]

    def fused(batch: wire.Detections, result: Any) -> None:
        if not result.accepted:
            return
        tab = trk.table
        for (src, tid), _w in result.weights.items():
            life = lives.get(tid)
            if life is not None:
                g = current["truth"][src]
                life.takes["mover" if g is not None else "clutter"] += 1
                life.kinds[batch.kind] += 1
        for r in range(tab.n):
            life = lives.get(int(tab.ids[r]))
            if life is None:
                continue
            if tab.t_update[r] == batch.t:
                life.last_t = batch.t
                life.last_pos = tab.x[r, :3].copy()
            if life.confirmed_t is None and tab.status[r] != TENTATIVE:
                life.confirmed_t = batch.t
                life.confirm_score = float(tab.llr[r])
        snapshots.append(engine.snapshot(batch.t, seq=len(snapshots)))

    original_process = engine.process

    def process(batch: wire.Detections) -> Any:
        current["truth"] = truths[(batch.sensor, batch.seq)]
        current["kind"] = batch.kind
        return original_process(batch)

    engine.process = process  # type: ignore[method-assign]
    for m in sim.messages:
        engine.push(m.batch)
    engine.flush()
    truth = truth_mod.read_truth(truth_path)
    ev = matching.evaluate(truth, tracklog.tracks_from_messages(snapshots))
    matched = {i for o in ev.objects.values() for i in o.track_ids}
    counted = {tr.id for s in snapshots for tr in s.tracks
               if tr.status in matching.DEFAULT_STATUSES}
    false_ids = sorted(counted - matched)
    rows = []
    causes: collections.Counter[str] = collections.Counter()
    for i in false_ids:
        life = lives.get(i)
        if life is None:
            causes["unknown"] += 1
            continue
        moved = float(np.linalg.norm(life.last_pos - life.born_pos))
        if life.takes["mover"] or life.born_owner is not None:
            cause = "mover"
        else:
            cause = "clutter-still" if moved < STILL_M else "clutter-moving"
        causes[cause] += 1
        rows.append((i, life, moved, cause))
    return {"ev": ev, "rows": rows, "causes": causes, "t0": sc.t0,
            "born": len(lives), "confirmed": sum(x.confirmed_t is not None
                                                 for x in lives.values())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", default=["crossing-clutter"])
    ap.add_argument("--seed", type=int, action="append", default=None)
    ap.add_argument("--tmp", type=Path, default=Path("/tmp"))
    args = ap.parse_args(argv)
    for name in args.names:
        for seed in args.seed or [1]:
            out = run(name, seed, args.tmp)
            ev = out["ev"]
            print(f"{name}, seed {seed}: {len(out['rows'])} false tracks "
                  f"({ev.false_tracks_per_hour:.0f}/h), {out['born']} born, "
                  f"{out['confirmed']} confirmed; causes {dict(out['causes'])}")
            print(f"  {'id':>6} {'born s':>7} {'by':>8} {'owner':>8} {'penalty':>7} "
                  f"{'conf s':>7} {'score':>6} {'mover':>5} {'clut':>5} {'moved m':>8} "
                  f"{'life s':>7} {'range m':>8} {'height':>7}  cause")
            for i, life, moved, cause in out["rows"]:
                conf = life.confirmed_t - life.born_t if life.confirmed_t is not None else -1
                print(f"  {i:>6} {life.born_t - out['t0']:>7.1f} {life.born_kind:>8} "
                      f"{life.born_owner or '-':>8} {life.penalty:>7.2f} {conf:>7.1f} "
                      f"{life.confirm_score or 0:>6.1f} {life.takes['mover']:>5} "
                      f"{life.takes['clutter']:>5} {moved:>8.0f} "
                      f"{life.last_t - life.born_t:>7.1f} "
                      f"{float(np.linalg.norm(life.born_pos[:2])):>8.0f} "
                      f"{life.born_pos[2]:>7.0f}  {cause}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
