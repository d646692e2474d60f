"""``cuas sim``: simulate a seeded scenario and write a recording plus its ground truth.

``SCENARIO`` is a scenario file (``.toml``, see docs/truth-format.md), the name of one in
``recordings/scenarios/`` (``cuas sim stadium-reference ...``), or one of the built-in
single-sensor generators (random, crossing, formation, inbound) whose options follow.

For the built-in generators the site comes from ``--config`` or the reference defaults; when the
configuration names the simulated sensor (``--sensor``) with an origin or a maximum range,
those are used too, so that a replay through the daemon sees the same sensor geometry. A
scenario file names its own site configuration and sensors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cuas.cli.common import site_config
from cuas.config import Config
from cuas.errors import ConfigError
from cuas.sim.generators import SCENARIOS, SIM_FRAMES, SimParams, simulate, write_outputs

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "recordings" / "scenarios"


def scenario_path(name: str) -> Path | None:
    """The scenario file ``name`` refers to (a path, or a name in recordings/scenarios/), or
    None for a built-in generator."""
    if name in SCENARIOS:
        return None
    p = Path(name)
    if p.suffix == ".toml" or p.exists():
        return p
    candidate = SCENARIO_DIR / f"{name}.toml"
    if candidate.exists():
        return candidate
    known = sorted(x.stem for x in SCENARIO_DIR.glob("*.toml"))
    raise ConfigError(f"no scenario {name!r}: give a .toml file, one of {', '.join(known)}, or "
                      f"a built-in generator ({', '.join(SCENARIOS)})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas sim``."""
    parser.add_argument("scenario", nargs="?", default="random", metavar="SCENARIO",
                        help="scenario file, or name in recordings/scenarios/, or a built-in "
                             f"generator ({', '.join(SCENARIOS)}; default: random)")
    parser.add_argument("--out", required=True, metavar="REC",
                        help="recording to write (.jsonl for JSON Lines, otherwise MCAP)")
    parser.add_argument("--truth", required=True, metavar="TRUTH",
                        help="ground-truth file to write (JSON Lines, docs/truth-format.md)")
    parser.add_argument("--seed", required=True, type=int, metavar="N", help="random seed (>= 0)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="length of the run in seconds (default: the scenario's, or 60 for "
                             "a built-in generator); a scenario file is cut short to it")
    gen = parser.add_argument_group("built-in generators only")
    gen.add_argument("--targets", type=int, default=10, metavar="N",
                     help="number of targets (default: 10)")
    gen.add_argument("--scan-period", type=float, default=1.0, metavar="S",
                     help="seconds between scans (default: 1)")
    gen.add_argument("--pd", type=float, default=0.9, metavar="P",
                     help="probability of detection per scan (default: 0.9)")
    gen.add_argument("--clutter", type=float, default=5.0, metavar="C",
                     help="mean number of false alarms per scan (default: 5)")
    gen.add_argument("--frame", choices=SIM_FRAMES, default="enu",
                     help="frame of the detections (default: enu)")
    gen.add_argument("--sensor", default="radar-sim", metavar="ID",
                     help="sensor id of the batches (default: radar-sim)")
    gen.add_argument("--config", metavar="CFG",
                     help="site configuration (TOML) or a scenario file; default: the "
                     "bundled configs/wembley.toml")


def run(args: argparse.Namespace) -> int:
    """Generate the scenario, write both files and print a one-line summary."""
    path = scenario_path(args.scenario)
    if path is not None:
        return _run_file(args, path)
    config: Config = site_config(args.config)
    sensor = config.sensors.get(args.sensor)
    params = SimParams(
        seed=args.seed,
        n_targets=args.targets,
        duration_s=60.0 if args.duration is None else args.duration,
        scenario=args.scenario,
        scan_period_s=args.scan_period,
        pd=args.pd,
        clutter_per_scan=args.clutter,
        frame=args.frame,
        sensor_id=args.sensor,
        sensor_origin=sensor.origin if sensor is not None else None,
        max_range_m=sensor.max_range_m if sensor is not None else None,
    )
    result = simulate(params, config.site)
    write_outputs(result, args.out, args.truth)
    print(f"cuas sim {args.scenario}: {len(result.batches)} scans, {result.n_detections} detections "
          f"({result.n_clutter} clutter), {params.n_targets} targets, frame {params.frame} "
          f"-> {args.out}, truth {args.truth}")
    return 0


def _run_file(args: argparse.Namespace, path: Path) -> int:
    from cuas.sim.runner import simulate_scenario, write_scenario
    from cuas.sim.scenario import load_scenario, replace_duration

    sc = load_scenario(path)
    if args.duration is not None:
        if not 1.0 <= args.duration <= sc.duration_s:
            raise ConfigError(f"--duration must lie in [1, {sc.duration_s:g}] s for this "
                              f"scenario, got {args.duration}")
        sc = replace_duration(sc, args.duration)
    result = simulate_scenario(sc, args.seed)
    write_scenario(result, args.out, args.truth)
    sensors = ", ".join(f"{s.id} ({s.kind})" for s in sc.sensors)
    print(f"cuas sim {sc.name}: {sc.duration_s:g} s, {len(result.truth.ids)} movers "
          f"({int(result.truth.threat.sum())} threats), {len(result.messages)} messages, "
          f"{result.n_detections} detections ({result.n_false} false) from {sensors} "
          f"-> {args.out}, truth {args.truth}")
    return 0
