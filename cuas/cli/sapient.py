"""``cuas sapient serve`` (a SAPIENT fusion node for sensor modules) and ``cuas sapient export``
(cuas's fused tracks sent upward as DetectionReports and Alerts). BSI Flex 335 v2.0 over TCP;
needs the optional extra ``pip install 'cuas[sapient]'``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cuas import bus
from cuas.cli.common import site_config, stop_on_signals
from cuas.config import Config, is_host_port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas sapient``."""
    sub = parser.add_subparsers(dest="sapient_command", metavar="SUBCOMMAND")
    serve = sub.add_parser("serve", help="accept SAPIENT sensor modules over TCP and publish "
                           "their detections to the daemon",
                           description="A SAPIENT fusion node: modules connect, register and "
                           "report; DetectionReports become detections on the cuas bus.")
    serve.add_argument("--config", metavar="CFG", help="site configuration (TOML): [sapient], "
                       "[sensors.<id>.sapient] and the detection endpoint come from it")
    serve.add_argument("--listen", metavar="HOST:PORT",
                       help="where modules connect (default: the config's sapient.listen)")
    serve.add_argument("--publish", metavar="URL",
                       help="the daemon's detection endpoint (overrides the config)")
    export = sub.add_parser("export", help="send the daemon's fused tracks to a SAPIENT node "
                            "as DetectionReports and Alerts",
                            description="cuas as a SAPIENT child node reporting upward.")
    export.add_argument("--config", metavar="CFG", help="site configuration (TOML)")
    export.add_argument("--to", metavar="HOST:PORT",
                        help="the higher fusion node (default: the config's sapient.export_to)")
    export.add_argument("--tracks", metavar="URL",
                        help="the daemon's track endpoint (overrides the config)")


def _fail(message: str) -> int:
    print(f"cuas sapient: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run ``serve`` or ``export`` until Ctrl-C / SIGTERM; prints a summary line."""
    command = getattr(args, "sapient_command", None)
    if command not in ("serve", "export"):
        return _fail("give a subcommand: serve or export")
    config = site_config(args.config)
    if command == "serve":
        listen = args.listen or config.sapient.listen
        if not is_host_port(listen):
            return _fail(f"--listen: expected HOST:PORT, got {listen!r}")
        return asyncio.run(_serve(config, listen,
                                  bus.endpoint_override(config, args.publish, "--publish")))
    target = args.to or config.sapient.export_to
    if not target or not is_host_port(target):
        return _fail("give --to HOST:PORT (or sapient.export_to in the configuration)")
    return asyncio.run(_export(config, target, bus.endpoint_override(
        config, args.tracks, "--tracks", tracks=True)))


async def _serve(config: Config, listen: str, endpoint: str) -> int:
    from cuas.sensors.sapient.node import SapientServer

    stop = stop_on_signals()
    server = SapientServer(config, endpoint, listen=listen)
    task = asyncio.create_task(server.run(stop))
    await asyncio.wait([task, asyncio.create_task(server.ready.wait())],
                       return_when=asyncio.FIRST_COMPLETED)
    if server.address is not None:
        print(f"sapient: fusion node {server.state.node_id} on {server.address[0]}:"
              f"{server.address[1]} -> {endpoint}", file=sys.stderr, flush=True)
    summary = await task
    print(summary.line(), file=sys.stderr)
    return 0


async def _export(config: Config, target: str, tracks: str) -> int:
    from cuas.outputs.sapient import SapientExporter

    stop = stop_on_signals()
    exporter = SapientExporter(config, tracks, target)
    print(f"sapient: {tracks} -> {target} as node {exporter.node_id}", file=sys.stderr,
          flush=True)
    summary = await exporter.run(stop)
    print(summary.line(), file=sys.stderr)
    return 0
