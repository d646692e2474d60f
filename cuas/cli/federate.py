"""``cuas federate``: the regional picture of many sites.

Subscribes to every site's ``cuas.<site>.*`` subjects at ``[federation] servers`` (the hub),
fuses tracks of one object seen by overlapping sites (covariance intersection) and publishes
the regional picture in the track contract on ``federation.publish`` (ZeroMQ: read it with
``cuas tracks --endpoint``) and on NATS as ``cuas.<region>.trk``. Runs until Ctrl-C / SIGTERM
(or ``--duration``), then prints its counters.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys

from cuas.cli.common import stop_on_signals
from cuas.config import load_config, reference_config
from cuas.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas federate``."""
    parser.add_argument("--config", metavar="CFG", help="configuration (TOML) with "
                        "[federation]; default: the reference settings")
    parser.add_argument("--servers", metavar="URLS", help="NATS server URLs, comma-separated "
                        "(overrides federation.servers)")
    parser.add_argument("--publish", metavar="URL", help="ZeroMQ endpoint of the regional "
                        "picture (overrides federation.publish)")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")


def run(args: argparse.Namespace) -> int:
    """Federate until stopped; prints the counters."""
    from cuas.federation.federate import Federate

    config = load_config(args.config) if args.config else reference_config()
    fed = config.federation
    try:
        if args.servers:
            fed = dataclasses.replace(fed, servers=args.servers)
    except ConfigError as exc:
        print(f"cuas federate: error: {exc.problem}", file=sys.stderr)
        return 2

    async def main() -> int:
        stop = stop_on_signals(args.duration)
        node = Federate(fed, publish=args.publish)
        print(f"cuas federate: {fed.servers} -> {node.endpoint} as region {fed.region}",
              file=sys.stderr, flush=True)
        summary = await node.run(stop)
        print(f"cuas federate: {summary.snapshots} snapshots, {summary.alerts} alerts; " +
              ", ".join(f"{k}={v}" for k, v in sorted(summary.counters.items())),
              file=sys.stderr)
        return 0

    return asyncio.run(main())
