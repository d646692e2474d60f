"""The command-line pieces every ``cuas sensor <kind>`` shares: the arguments that say where
the configuration, the source and the daemon are, and which sensor id to publish as."""

from __future__ import annotations

import argparse

from cuas.config import Config


def add_common_arguments(parser: argparse.ArgumentParser, kind: str, source_help: str, *,
                         speed: bool = True) -> None:
    """``--config``, ``--source``, ``--publish``, ``--speed`` (files), ``--sensor-id`` and
    ``--wait`` for the adapter of ``kind``."""
    parser.add_argument("--config", metavar="CFG", help="site configuration (TOML); the sensor's "
                        f"[sensors.<id>.{kind}] table and the detection endpoint come from it")
    parser.add_argument("--source", metavar="SRC", help=source_help)
    parser.add_argument("--publish", metavar="URL",
                        help="the daemon's detection endpoint (overrides the config)")
    if speed:
        parser.add_argument("--speed", type=float, metavar="X", default=1.0,
                            help="files: 1 real time (default), X times faster, 0 as fast as "
                            "possible")
    parser.add_argument("--sensor-id", metavar="ID", help="sensor id (topic det.<ID>); default: "
                        f"the config's only {kind} sensor, else '{kind}'")
    parser.add_argument("--wait", type=float, metavar="S", default=10.0,
                        help="files: how long to wait for the daemon's subscription (default 10)")


def sensor_id(config: Config, kind: str, given: str | None) -> str:
    """The id to publish as: the one given, else the config's only sensor of ``kind``, else
    ``kind`` itself."""
    if given:
        return given
    ids = [sid for sid, s in config.sensors.items() if s.kind == kind]
    return ids[0] if len(ids) == 1 else kind
