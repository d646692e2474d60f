"""``cuas sim``: simulate a seeded scenario and write a recording plus its ground truth.

The site (ENU origin) comes from ``--config`` or the built-in reference defaults; when the
configuration names the simulated sensor (``--sensor``) with an origin or a maximum range,
those are used too, so that a replay through the daemon sees the same sensor geometry.
"""

from __future__ import annotations

import argparse

from cuas import sim
from cuas.config import Config, load_config, reference_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas sim``."""
    parser.add_argument("scenario", nargs="?", default="random", choices=sim.SCENARIOS,
                        help="scenario to generate (default: random)")
    parser.add_argument("--out", required=True, metavar="REC",
                        help="recording to write (.jsonl for JSON Lines, otherwise MCAP)")
    parser.add_argument("--truth", required=True, metavar="TRUTH",
                        help="ground-truth file to write (JSON Lines, docs/truth-format.md)")
    parser.add_argument("--seed", required=True, type=int, metavar="N", help="random seed (>= 0)")
    parser.add_argument("--targets", type=int, default=10, metavar="N",
                        help="number of targets (default: 10)")
    parser.add_argument("--duration", type=float, default=60.0, metavar="S",
                        help="length of the run in seconds (default: 60)")
    parser.add_argument("--scan-period", type=float, default=1.0, metavar="S",
                        help="seconds between scans (default: 1)")
    parser.add_argument("--pd", type=float, default=0.9, metavar="P",
                        help="probability of detection per scan (default: 0.9)")
    parser.add_argument("--clutter", type=float, default=5.0, metavar="C",
                        help="mean number of false alarms per scan (default: 5)")
    parser.add_argument("--frame", choices=sim.SIM_FRAMES, default="enu",
                        help="frame of the detections (default: enu)")
    parser.add_argument("--sensor", default="radar-sim", metavar="ID",
                        help="sensor id of the batches (default: radar-sim)")
    parser.add_argument("--config", metavar="CFG",
                        help="site configuration (TOML); default: the reference site")


def run(args: argparse.Namespace) -> int:
    """Generate the scenario, write both files and print a one-line summary."""
    config: Config = load_config(args.config) if args.config else reference_config()
    sensor = config.sensors.get(args.sensor)
    params = sim.SimParams(
        seed=args.seed,
        n_targets=args.targets,
        duration_s=args.duration,
        scenario=args.scenario,
        scan_period_s=args.scan_period,
        pd=args.pd,
        clutter_per_scan=args.clutter,
        frame=args.frame,
        sensor_id=args.sensor,
        sensor_origin=sensor.origin if sensor is not None else None,
        max_range_m=sensor.max_range_m if sensor is not None else None,
    )
    result = sim.simulate(params, config.site)
    sim.write_outputs(result, args.out, args.truth)
    print(f"cuas sim {args.scenario}: {len(result.batches)} scans, {result.n_detections} detections "
          f"({result.n_clutter} clutter), {params.n_targets} targets, frame {params.frame} "
          f"-> {args.out}, truth {args.truth}")
    return 0
