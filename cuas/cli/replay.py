"""``cuas replay``: run a recording (MCAP or JSON Lines) through the pipeline, or onto the bus.

``--offline --tracks-out OUT``: the fusion engine in-process, as fast as possible, deterministically.
``--bus [--speed X]``: publish the recording's detections to the daemon's detection endpoint at
real time, X times faster, or as fast as possible (``--speed 0``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from cuas.cli.common import site_config
from cuas.config import Config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", metavar="FILE", help="recording: .mcap or JSON Lines")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--offline", action="store_true",
                      help="run the tracker offline, as fast as possible and deterministically")
    mode.add_argument("--bus", action="store_true",
                      help="publish the detections to the daemon's detection endpoint")
    parser.add_argument("--tracks-out", metavar="OUT.jsonl",
                        help="with --offline (required): write one tracks message per processed "
                        "detections message")
    parser.add_argument("--speed", type=float, metavar="X",
                        help="with --bus: 1 real time (default), X times faster, 0 as fast as "
                        "possible")
    parser.add_argument("--det-endpoint", metavar="URL",
                        help="with --bus: the detection endpoint (overrides the config)")
    parser.add_argument("--wait", type=float, metavar="S",
                        help="with --bus: how long to wait for the daemon's subscription "
                        "(default: 10 s)")
    parser.add_argument("--config", metavar="CFG", help="site configuration (TOML) or a scenario "
                        "file (its site); default: the site the recording carries (--offline), "
                        "else the bundled configs/wembley.toml")


def _usage_error(args: argparse.Namespace) -> str | None:
    if args.offline:
        if args.tracks_out is None:
            return "--offline needs --tracks-out"
        extra = [name for name, v in (("--speed", args.speed), ("--det-endpoint", args.det_endpoint),
                                      ("--wait", args.wait)) if v is not None]
        if extra:
            return f"{', '.join(extra)} only with --bus"
        return None
    if args.tracks_out is not None:
        return "--tracks-out only with --offline"
    if args.speed is not None and not (math.isfinite(args.speed) and args.speed >= 0):
        return f"--speed must be a finite number >= 0, got {args.speed}"
    if args.wait is not None and not (math.isfinite(args.wait) and args.wait >= 0):
        return f"--wait must be a finite number of seconds >= 0, got {args.wait}"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _usage_error(args)
    if problem:
        print(f"cuas replay: error: {problem}", file=sys.stderr)
        return 2
    if args.config:
        config = site_config(args.config)
    else:  # the site the recording carries, else the bundled one
        from cuas.record.site import read_site

        carried = read_site(args.recording) if args.offline else None
        config = carried if carried is not None else site_config(None)
    if args.bus:
        return _run_bus(args, config)
    return _run_offline(args, config)


def _run_bus(args: argparse.Namespace, config: Config) -> int:
    import asyncio

    import zmq

    from cuas.bus import endpoint_override, security
    from cuas.record.bus_replay import replay_on_bus

    endpoint = endpoint_override(config, args.det_endpoint, "--det-endpoint")
    speed = 1.0 if args.speed is None else args.speed
    try:
        summary = asyncio.run(replay_on_bus(
            args.recording, endpoint, speed=speed,
            wait_s=10.0 if args.wait is None else args.wait, progress=sys.stderr.isatty(),
            security=security(config),
        ))
    except zmq.ZMQError as exc:
        print(f"cuas replay: error: cannot connect to {endpoint}: {exc}", file=sys.stderr)
        return 1
    pace = "as fast as possible" if speed == 0 else f"at {speed:g}x"
    torn = "; recording is torn (sent up to its last complete record)" if summary.torn else ""
    print(
        f"published {summary.sent} detections messages ({summary.bytes_sent} bytes, "
        f"{summary.span_s:.1f} s of recording) {pace} in {summary.elapsed_s:.2f} s to "
        f"{endpoint}; {summary.skipped} records on other topics skipped{torn}",
        file=sys.stderr,
    )
    return 0


def _run_offline(args: argparse.Namespace, config: Config) -> int:
    from cuas.fusion.offline import replay_offline_to_file

    started = time.perf_counter()
    summary = replay_offline_to_file(args.recording, args.tracks_out, config)
    elapsed = time.perf_counter() - started
    c = summary.counters
    print(
        f"replayed {summary.records} records in {elapsed:.2f} s: "
        f"{c.get('batches_processed', 0)} batches, {c.get('detections_used', 0)} detections, "
        f"{c.get('tracks_created', 0)} tracks started, {c.get('tracks_confirmed', 0)} confirmed, "
        f"{c.get('alerts', 0)} alerts; {summary.snapshots} snapshots -> {args.tracks_out}",
        file=sys.stderr,
    )
    drops = {k: v for k, v in sorted(c.items())
             if v and (k.startswith("dropped") or k.endswith("dropped") or k.startswith("skipped")
                       or "_dropped_" in k)}
    if drops or summary.torn:
        detail = ", ".join(f"{k}={v}" for k, v in drops.items())
        torn = "recording is torn (replayed up to its last complete record)" if summary.torn else ""
        print(f"dropped: {detail}{'; ' if detail and torn else ''}{torn}", file=sys.stderr)
    return 0
