"""``cuas export cot``: the daemon's tracks to TAK as Cursor on Target.

Subscribes to the daemon's track endpoint (``bus.tracks``; CURVE keys from ``[bus]``) and
sends each confirmed track to ``[cot] url``: the TAK SA multicast group
``udp://239.2.3.1:6969`` by default, or a TAK server ``tcp://HOST:8087`` /
``tls://HOST:8089``. Runs until Ctrl-C / SIGTERM (or ``--duration``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys

from cuas.cli.common import site_config, stop_on_signals
from cuas.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas export``."""
    parser.add_argument("format", choices=["cot"], help="cot: Cursor on Target for TAK")
    parser.add_argument("--config", metavar="CFG", help="site configuration (TOML): [cot], "
                        "[bus], site name, allow list; default: the reference site")
    parser.add_argument("--to", metavar="URL", help="udp://GROUP:PORT, tcp://HOST:PORT or "
                        "tls://HOST:PORT (overrides cot.url)")
    parser.add_argument("--trk-endpoint", metavar="URL",
                        help="the daemon's track endpoint (overrides bus.tracks)")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")


def run(args: argparse.Namespace) -> int:
    """Export until stopped; prints a summary line."""
    from cuas import bus
    from cuas.cli.check import check_cot_files
    from cuas.outputs.cot_sender import CotExporter, open_sender

    config = site_config(args.config)
    settings = config.cot
    if args.to:
        try:
            settings = dataclasses.replace(settings, url=args.to)
        except ConfigError as exc:
            print(f"cuas export: error: --to: {exc.problem}", file=sys.stderr)
            return 2
    endpoint = bus.endpoints(config, tracks=args.trk_endpoint).tracks
    keys = bus.security(config)
    check_cot_files(config)  # a missing TLS file: one line naming the key, not a traceback

    async def main() -> int:
        stop = stop_on_signals(args.duration)
        exporter = CotExporter(config, open_sender(settings), settings=settings)
        print(f"cuas export cot: {endpoint} -> {settings.url}", file=sys.stderr, flush=True)
        summary = await exporter.run(endpoint, stop, security=keys)
        replayed = (f" ({summary.replayed} of a replay, moved onto the wall clock)"
                    if summary.replayed else "")
        print(f"cuas export cot: {summary.snapshots} snapshots{replayed}, {summary.events} "
              f"events sent, {summary.bad_messages} malformed skipped", file=sys.stderr)
        return 0

    return asyncio.run(main())
