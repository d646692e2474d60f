"""``cuas sensor <kind>``: run one sensor adapter as a process of its own.

The kinds are those of the sensor kind registry (:mod:`cuas.sensors.registry`) that declare a
``cli`` module exposing ``add_arguments(parser)`` and ``run(args) -> int``; only the chosen
kind's module is imported, so one sensor's optional dependencies are needed only by that sensor.
"""

from __future__ import annotations

import argparse

from cuas.sensors import registry


def _runnable() -> dict[str, registry.SensorKind]:
    """The registered kinds that have a ``cuas sensor`` command, by name."""
    return {k.name: k for k in registry.kinds() if k.cli is not None}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas sensor``: the kind, then that kind's own arguments."""
    kinds = _runnable()
    lines = "\n".join(f"  {name:<10} {k.summary}" for name, k in kinds.items())
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = f"kinds:\n{lines}\n\n`cuas sensor KIND --help` lists a kind's options."
    parser.add_argument("kind", choices=sorted(kinds), metavar="KIND", help="sensor kind")
    parser.add_argument("kind_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Parse the kind's own arguments and run it."""
    kind = registry.get(args.kind)
    module = kind.cli_module()
    parser = argparse.ArgumentParser(prog=f"cuas sensor {args.kind}", description=kind.summary)
    module.add_arguments(parser)
    kind_args = parser.parse_args(args.kind_args)
    kind_args.verbose = getattr(args, "verbose", 0)
    return int(module.run(kind_args))
