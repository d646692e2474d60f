"""``cuas sensor adsb``: the ADS-B adapter's command-line arguments and its run."""

from __future__ import annotations

import argparse

from cuas import bus
from cuas.sensors.adsb.settings import AdsbSettings
from cuas.sensors.adsb.source import AdsbSource
from cuas.sensors.cli_common import (
    add_common_arguments,
    bad_speed,
    load_sensor,
    run_adapter,
    usage_error,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas sensor adsb``."""
    add_common_arguments(parser, "adsb", "tcp://HOST:PORT of dump1090/readsb (Beast 30005 or "
                         "SBS 30003), or a capture file (overrides the config)")
    parser.add_argument("--format", choices=("auto", "beast", "sbs", "avr"),
                        help="feed format (default: the config's, else detected)")


def run(args: argparse.Namespace) -> int:
    """Run the adapter until the file ends or Ctrl-C / SIGTERM; prints a summary line."""
    if (status := bad_speed(args, "adsb")) is not None:
        return status
    config, sid, sc = load_sensor(args, "adsb")
    settings = sc.settings_for("adsb", AdsbSettings) if sc is not None else AdsbSettings()
    source = args.source or settings.source
    if not source:
        return usage_error("adsb", "no source: give --source tcp://HOST:PORT or a file, or "
                           f"source in [sensors.{sid}.adsb]")
    endpoint = bus.endpoint_override(config, args.publish, "--publish")
    return run_adapter("adsb", lambda: AdsbSource(
        source, endpoint, sensor_id=sid, settings=settings, fmt=args.format, speed=args.speed,
        wait_s=args.wait, security=bus.security(config)), f"{source} -> {endpoint} as det.{sid}")
