"""``cuas run``: the fusion daemon."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cuas.cli.common import site_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="CFG",
                        help="site configuration (TOML) or a scenario file; "
                        "default: the bundled configs/wembley.toml")
    parser.add_argument("--det-endpoint", metavar="URL",
                        help="bind the detection endpoint here (overrides the config)")
    parser.add_argument("--trk-endpoint", metavar="URL",
                        help="bind the track endpoint here (overrides the config)")
    parser.add_argument("--snapshot-hz", type=float,
                        help="most tracks snapshots per second (overrides daemon.snapshot_hz)")
    parser.add_argument("--replay", action="store_true",
                        help="keep time by the stream, for a recording of the past played into "
                             "the daemon (overrides daemon.replay)")


def run(args: argparse.Namespace) -> int:
    from cuas import bus
    from cuas.fusion.daemon import serve

    config = site_config(args.config)
    if args.snapshot_hz is not None and not 0 < args.snapshot_hz <= 1000:
        print("cuas run: error: --snapshot-hz must lie in (0, 1000]", file=sys.stderr)
        return 2
    eps = bus.endpoints(config, args.det_endpoint, args.trk_endpoint)
    print(f"cuas run: detections on {eps.detections}, tracks on {eps.tracks} (Ctrl-C stops)",
          file=sys.stderr)
    state = asyncio.run(serve(config, eps, snapshot_hz=args.snapshot_hz,
                              replay=True if args.replay else None))
    c = state.counters
    print(f"cuas run: stopped; received {c['received']}, fused {c['batches_fused']} batches, "
          f"dropped {c['dropped_malformed']} malformed, {c['dropped_overflow']} on overflow",
          file=sys.stderr)
    return 0
