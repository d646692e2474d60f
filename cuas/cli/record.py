"""``cuas record``: write every message on the bus into an MCAP recording.

Connects to the daemon's track endpoint and records everything published there: ``trk``,
``alert``, ``status.*`` and the ``det.*`` detections the daemon re-publishes. With
``--bind-detections`` it also binds the detection endpoint itself, to capture sensors when no
daemon runs. Stops on Ctrl-C / SIGTERM or after ``--duration`` and closes the file properly; a
``kill -9`` loses at most about the last second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import zmq

from cuas import bus
from cuas.cli.common import site_config, stop_on_signals
from cuas.record.site import site_metadata


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas record``."""
    parser.add_argument("--out", required=True, metavar="FILE.mcap",
                        help="MCAP recording to write (created or overwritten)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="stop after S seconds (default: run until Ctrl-C or SIGTERM)")
    parser.add_argument("--config", metavar="CFG", help="site configuration (TOML) giving the "
                        "endpoints; default: the bundled configs/wembley.toml")
    parser.add_argument("--trk-endpoint", metavar="URL",
                        help="the daemon's track endpoint to connect to (overrides the config)")
    parser.add_argument("--det-endpoint", metavar="URL",
                        help="the detection endpoint (overrides the config); used only with "
                        "--bind-detections")
    parser.add_argument("--bind-detections", action="store_true",
                        help="also bind the detection endpoint and record what sensors send "
                        "there (standalone capture: no daemon may be running on it)")
    parser.add_argument("--sign-key", metavar="NAME.sign.key",
                        help="sign the recording's manifest (FILE.mcap.manifest, the hash chain "
                        "`cuas verify` checks) with this key from `cuas keys --sign`")


def run(args: argparse.Namespace) -> int:
    """Record until stopped; prints where from at the start and a summary line at the end."""
    from cuas.record.recorder import Recorder

    if args.duration is not None and not args.duration > 0:
        print(f"cuas record: error: --duration must be > 0 s, got {args.duration}", file=sys.stderr)
        return 2
    config = site_config(args.config)
    ends = bus.endpoints(config, args.det_endpoint, args.trk_endpoint)
    if args.det_endpoint and not args.bind_detections:
        print("cuas record: note: --det-endpoint is used only with --bind-detections; "
              "detections are recorded as the daemon re-publishes them on its track endpoint",
              file=sys.stderr)

    signing_key = None
    if args.sign_key:
        from cuas.record.manifest import load_signing_key

        signing_key = load_signing_key(args.sign_key)

    async def main() -> int:
        try:
            rec = Recorder(args.out, tracks_endpoint=ends.tracks, signing_key=signing_key,
                           bind_detections=ends.detections if args.bind_detections else None,
                           security=bus.security(config), site=site_metadata(config))
        except zmq.ZMQError as exc:
            what = f"bind {ends.detections}" if args.bind_detections else ""
            print(f"cuas record: error: cannot connect {ends.tracks}"
                  f"{' or ' + what if what else ''}: {exc}", file=sys.stderr)
            return 1
        stop = stop_on_signals()
        sources = f"connected to {ends.tracks}"
        if rec.detections_endpoint is not None:
            sources += f", bound on {rec.detections_endpoint}"
        until = f"for {args.duration:g} s" if args.duration else "until Ctrl-C"
        print(f"recording {sources} -> {args.out} ({until})", file=sys.stderr, flush=True)
        summary = await rec.run(stop, args.duration)
        print(summary.line(), file=sys.stderr)
        return 0

    return asyncio.run(main())
