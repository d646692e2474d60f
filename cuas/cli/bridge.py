"""``cuas bridge nats``: share this site's tracks, alerts and heartbeats over NATS.

Subscribes to the daemon's track endpoint (``bus.tracks``; CURVE keys from ``[bus]``) and
publishes on ``cuas.<site>.trk|alert|status`` to ``[federation] servers`` (normally the
site's own leaf node). Alerts go through JetStream and survive link outages. Runs until
Ctrl-C / SIGTERM (or ``--duration``), then prints its counters.
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
    """Arguments of ``cuas bridge``."""
    parser.add_argument("transport", choices=["nats"], help="nats: NATS with JetStream")
    parser.add_argument("--config", metavar="CFG", help="site configuration (TOML): "
                        "[federation], [bus]; default: the reference site")
    parser.add_argument("--servers", metavar="URLS", help="NATS server URLs, comma-separated "
                        "(overrides federation.servers)")
    parser.add_argument("--site", help="this site's name (overrides federation.site)")
    parser.add_argument("--trk-endpoint", metavar="URL",
                        help="the daemon's track endpoint (overrides bus.tracks)")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")


def run(args: argparse.Namespace) -> int:
    """Bridge until stopped; prints the counters."""
    from cuas import bus
    from cuas.federation.bridge import Bridge

    config = load_config(args.config) if args.config else reference_config()
    fed = config.federation
    try:
        if args.servers:
            fed = dataclasses.replace(fed, servers=args.servers)
        if args.site:
            fed = dataclasses.replace(fed, site=args.site)
    except ConfigError as exc:
        print(f"cuas bridge: error: {exc.problem}", file=sys.stderr)
        return 2
    endpoint = bus.endpoints(config, tracks=args.trk_endpoint).tracks
    keys = bus.security(config)

    async def main() -> int:
        stop = stop_on_signals(args.duration)
        print(f"cuas bridge nats: {endpoint} -> {fed.servers} as site {fed.site}",
              file=sys.stderr, flush=True)
        summary = await Bridge(fed).run(endpoint, stop, security=keys)
        print("cuas bridge nats: " + ", ".join(f"{k}={v}" for k, v in
                                                sorted(summary.counters.items())),
              file=sys.stderr)
        return 0

    return asyncio.run(main())
