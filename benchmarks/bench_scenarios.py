#!/usr/bin/env python3
"""Benchmark: score every scenario of the library and print one table.

For each ``recordings/scenarios/*.toml``: simulate it with the seed (``cuas sim``), run the
recording through the tracker and classifier offline with the scenario's site configuration
(``cuas replay --offline``), and score the tracks against the truth (``cuas eval``). One row per
scenario: GOSPA (c = 20 m, p = 2; mean over snapshots), ID switches, median time to confirm a
true object (from its first detection, and from its first scored step: docs/truth-format.md),
confirmed track ids handed out, false tracks per hour, each threat's time from zone entry to its first malicious
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
    figures["tradeoff"] = tradeoff(truth.read_truth(truth_path), snapshots)
    return figures


#: The threat levels the trade-off moves the malicious threshold over.
TRADEOFF_LEVELS = ("medium", "high", "critical")


def tradeoff(tr: truth.Truth, snapshots: list[wire.Tracks]) -> dict[str, dict[str, Any]]:
    """False alarms per hour and the median zone entry → flag delay (s) if ``malicious``
    began at each of TRADEOFF_LEVELS (today: ``high``), from the same snapshots."""
    import dataclasses

    out = {}
    for level in TRADEOFF_LEVELS:
        k = wire.THREAT_LEVELS.index(level)
        moved = [dataclasses.replace(s, tracks=tuple(dataclasses.replace(
            t, malicious=wire.THREAT_LEVELS.index(t.threat) >= k) for t in s.tracks))
            for s in snapshots]
        ev = matching.evaluate(tr, tracklog.tracks_from_messages(moved))
        delays = [o.time_to_flag_s for o in ev.threats if o.time_to_flag_s is not None]
        out[level] = {"false_alarms_per_hour": ev.false_alarms_per_hour,
                      "flag_delay_median_s": statistics.median(delays) if delays else None,
                      "flagged": len(delays), "threats": len(ev.threats)}
    return out


def plot_tradeoff(rows: list[dict[str, Any]], path: str) -> None:
    """False alarms per hour against the median flag delay, one line per scenario with a
    threat, one point per malicious threshold (TRADEOFF_LEVELS)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for r in rows:
        pts = [(v["flag_delay_median_s"], v["false_alarms_per_hour"], lv)
               for lv, v in r["tradeoff"].items() if v["flag_delay_median_s"] is not None]
        if not pts:
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=r["scenario"])
        for x, y, lv in pts:
            ax.annotate(lv, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("median time from zone entry to malicious flag (s)")
    ax.set_ylabel("false alarms per hour")
    ax.set_title("malicious threshold at medium / high / critical")
    ax.axvline(3.0, color="grey", lw=0.8, ls="--")
    ax.axhline(10.0, color="grey", lw=0.8, ls="--")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _fmt(x: Any, spec: str = ".1f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return format(x, spec)


def table(rows: list[dict[str, Any]]) -> str:
    """The scenario table (Markdown)."""
    head = ("| scenario | s | movers (threats) | detections | GOSPA mean m | ID switches "
            "| confirmed ids | confirm median s | from start s | false tracks /h | threats flagged | zone entry → flag s "
            "| false alarms /h | sim + replay s |")
    out = [head, "| --- |" + " ---: |" * 13]
    for r in rows:
        flag = "; ".join(f"{_fmt(v['time_to_flag_s'], '+.1f')}" for v in r["threats"].values())
        if len(r["threats"]) > 3:
            flag = f"median {_fmt(r['time_to_flag_median_s'], '+.1f')}"
        out.append(
            f"| {r['scenario']} | {r['duration_s']:.0f} | {r['movers']} ({r['n_threats']}) "
            f"| {r['detections']:,} | {_fmt(r['gospa_mean'])} | {r['id_switches']} "
            f"| {r['confirmed_ids']} | {_fmt(r['time_to_confirm_median_s'])} "
            f"| {_fmt(r['time_to_confirm_from_first_step_median_s'])} "
            f"| {_fmt(r['false_tracks_per_hour'], '.0f')} "
            f"| {r['threats_flagged']} of {r['n_threats']} | {flag or '–'} "
            f"| {_fmt(r['false_alarms_per_hour'], '.0f')} "
            f"| {r['sim_s']:.1f} + {r['replay_s']:.1f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*", metavar="NAME", help="scenario names to run")
    ap.add_argument("--json", metavar="OUT", help="also write every row as JSON")
    ap.add_argument("--plot", metavar="PNG", help="also draw the alert trade-off (false alarms "
                    "per hour against flag delay as the malicious threshold moves)")
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
    if args.plot:
        plot_tradeoff(rows, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
