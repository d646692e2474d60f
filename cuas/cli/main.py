"""``cuas`` entry point. Subcommand modules are imported only when their command runs, so that
``cuas --help`` is fast and a sensor's optional dependencies are needed only by that sensor.

Each subcommand module defines ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from cuas import __version__
from cuas.errors import CuasError

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "replay": ("cuas.cli.replay", "replay a recording through the tracker, or onto the bus"),
    "record": ("cuas.cli.record", "record everything on the bus into an MCAP file"),
    "sim": ("cuas.cli.sim", "simulate a seeded scenario: a recording plus its ground truth"),
    "eval": ("cuas.cli.evaluate", "score a tracks file against ground truth (GOSPA, ID switches)"),
    "demo": ("cuas.cli.demo", "the daemon on the bundled stadium recording, with the live view"),
    "run": ("cuas.cli.run", "run the fusion daemon"),
    "check": ("cuas.cli.check", "validate a site configuration without starting anything"),
    "tracks": ("cuas.cli.tracks", "live view of the daemon's tracks and alerts (--json for scripts)"),
    "sensor": ("cuas.cli.sensor", "run a sensor adapter (adsb, ...) publishing detections"),
    "sapient": ("cuas.cli.sapient", "SAPIENT (BSI Flex 335 v2.0): serve sensor modules, export tracks"),
    "keys": ("cuas.cli.keys", "generate CURVE key pairs for the bus (daemon, sensors, operators)"),
    "prune": ("cuas.cli.prune", "delete old recordings by age and total size (rotation)"),
    "export": ("cuas.cli.export", "send the daemon's tracks to TAK as Cursor on Target (cot)"),
    "bridge": ("cuas.cli.bridge", "share this site's tracks and alerts over NATS (nats)"),
    "federate": ("cuas.cli.federate", "the regional picture of many sites on NATS, fused"),
    "web": ("cuas.cli.web", "the operator's browser console (map, alerts, health); its accounts"),
    "report": ("cuas.cli.report", "incident report or export of a recording (pdf, html, kml, "
               "geojson, csv, gpx, foxglove); --summary: pattern of life"),
    "verify": ("cuas.cli.verify", "check a recording against its signed manifest (tamper evidence)"),
}


def _build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cuas", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"cuas {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:  # import only the module of the command being run
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cuas`` command line; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser(args_list)
    args = parser.parse_args(args_list)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.command:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args))
    except CuasError as exc:
        print(f"cuas {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
