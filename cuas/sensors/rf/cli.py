"""``cuas sensor rf``: the RF adapter's command-line arguments and its run."""

from __future__ import annotations

import argparse
import dataclasses

from cuas import bus
from cuas.sensors.cli_common import (
    add_common_arguments,
    load_sensor,
    run_adapter,
    usage_error,
)
from cuas.sensors.rf.settings import RfSettings
from cuas.sensors.rf.source import RfSensor


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas sensor rf``."""
    add_common_arguments(parser, "rf", "rtltcp://HOST:PORT, rtlsdr://INDEX or a cu8 file "
                         "NAME_<freq>_<rate>.cu8 (overrides the config)", speed=False)
    parser.add_argument("--all", action="store_true", help="publish every emitter (ISM devices "
                        "too, with attrs.link 'none'), not only control and video links")


def run(args: argparse.Namespace) -> int:
    """Run the adapter until the file ends or Ctrl-C / SIGTERM; prints a summary line."""
    config, sid, sc = load_sensor(args, "rf")
    settings = sc.settings_for("rf", RfSettings) if sc is not None else RfSettings()
    if args.all:
        settings = dataclasses.replace(settings, publish="all")
    source = args.source or settings.source
    if not source:
        return usage_error("rf", "no source: give --source rtltcp://HOST:PORT, rtlsdr://INDEX or "
                           f"a cu8 file, or source in [sensors.{sid}.rf]")
    endpoint = bus.endpoint_override(config, args.publish, "--publish")
    return run_adapter("rf", lambda: RfSensor(
        source, endpoint, sensor_id=sid, settings=settings, wait_s=args.wait,
        security=bus.security(config)), f"{source} -> {endpoint} as det.{sid}")


