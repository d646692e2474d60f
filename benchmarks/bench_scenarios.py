#!/usr/bin/env python3
"""Benchmark: score every scenario of the library and print one table.

For each ``recordings/scenarios/*.toml``: simulate it with the seed (``cuas sim``), run the
recording through the tracker and classifier offline with the scenario's site configuration
(``cuas replay --offline``), and score the tracks against the truth (``cuas eval``). One row per
scenario: GOSPA (c = 20 m, p = 2; mean over snapshots), ID switches, median time to confirm a
true object, confirmed track ids handed out, false tracks per hour, each threat's time from zone entry to its first malicious
flag, false alarms per hour, and the seconds spent simulating and replaying. A change's effect
on accuracy is this one command.

Run ``python benchmarks/bench_scenarios.py [--seed 1] [--only NAME ...] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

try:
    import cuas  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cuas import wire
from cuas.eval import matching, report, tracklog, truth
from cuas.fusion.offline import replay_offline
from cuas.sim.runner import simulate_scenario, write_scenario
from cuas.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "recordings" / "scenarios"


class _Discard:
    """A text sink for the replay's tracks lines (the snapshots are kept in memory)."""

    def write(self, _s: str) -> int:
        return 0


def score(path: Path, seed: int, tmp: Path) -> dict[str, Any]:
    """Simulate, replay and evaluate one scenario file; the figures of its table row."""
    sc = load_scenario(path)
    started = time.perf_counter()
    run = simulate_scenario(sc, seed)
    rec, truth_path = tmp / f"{sc.name}.mcap", tmp / f"{sc.name}.truth.jsonl"
    write_scenario(run, rec, truth_path)
    t_sim = time.perf_counter() - started
    snapshots: list[wire.Tracks] = []
    started = time.perf_counter()
    replay_offline(rec, _Discard(), sc.config, on_snapshot=snapshots.append)  # type: ignore[arg-type]
    t_replay = time.perf_counter() - started
    ev = matching.evaluate(truth.read_truth(truth_path),
                           tracklog.tracks_from_messages(snapshots))
    figures = report.to_json(ev)
    flags = [o.time_to_flag_s for o in ev.threats]
    figures.update(
        scenario=sc.name, duration_s=sc.duration_s, movers=len(run.truth.ids),
        n_threats=len(ev.threats), detections=run.n_detections, messages=len(run.messages),
        threats_flagged=sum(f is not None for f in flags),
        time_to_flag_median_s=(statistics.median(f for f in flags if f is not None)
                               if any(f is not None for f in flags) else None),
        sim_s=round(t_sim, 2), replay_s=round(t_replay, 2),
        # What an operator sees: how many confirmed track numbers the run handed out.
        confirmed_ids=len({tr.id for s in snapshots for tr in s.tracks
                           if tr.status == "confirmed"}),
    )
    for key in ("gospa", "gospa_t", "objects"):
        figures.pop(key)
    return figures


def _fmt(x: Any, spec: str = ".1f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return format(x, spec)


def table(rows: list[dict[str, Any]]) -> str:
    """The scenario table (Markdown)."""
    head = ("| scenario | s | movers (threats) | detections | GOSPA mean m | ID switches "
            "| confirmed ids | confirm median s | false tracks /h | threats flagged | zone entry → flag s "
            "| false alarms /h | sim + replay s |")
    out = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        flag = "; ".join(f"{_fmt(v['time_to_flag_s'], '+.1f')}" for v in r["threats"].values())
        if len(r["threats"]) > 3:
            flag = f"median {_fmt(r['time_to_flag_median_s'], '+.1f')}"
        out.append(
            f"| {r['scenario']} | {r['duration_s']:.0f} | {r['movers']} ({r['n_threats']}) "
            f"| {r['detections']:,} | {_fmt(r['gospa_mean'])} | {r['id_switches']} "
            f"| {r['confirmed_ids']} | {_fmt(r['time_to_confirm_median_s'])} | {_fmt(r['false_tracks_per_hour'], '.0f')} "
            f"| {r['threats_flagged']} of {r['n_threats']} | {flag or '–'} "
            f"| {_fmt(r['false_alarms_per_hour'], '.0f')} "
            f"| {r['sim_s']:.1f} + {r['replay_s']:.1f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*", metavar="NAME", help="scenario names to run")
    ap.add_argument("--json", metavar="OUT", help="also write every row as JSON")
    args = ap.parse_args(argv)
    import tempfile

    paths = sorted(SCENARIOS.glob("*.toml"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only]
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in paths:
            rows.append(score(p, args.seed, Path(tmp)))
            print(f"  {p.stem}: done in {rows[-1]['sim_s'] + rows[-1]['replay_s']:.1f} s",
                  file=sys.stderr)
    print(table(rows))
    print(f"\n{len(rows)} scenarios, seed {args.seed}, GOSPA c = 20 m, p = 2; "
          f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, allow_nan=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
