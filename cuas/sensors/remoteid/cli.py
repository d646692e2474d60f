"""``cuas sensor remoteid``: the Remote ID adapter's command-line arguments and its run."""

from __future__ import annotations

import argparse

from cuas import bus
from cuas.sensors.cli_common import (
    add_common_arguments,
    bad_speed,
    load_sensor,
    run_adapter,
    usage_error,
)
from cuas.sensors.remoteid.settings import RemoteIdSettings
from cuas.sensors.remoteid.source import RemoteIdSource


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas sensor remoteid``."""
    add_common_arguments(parser, "remoteid", "a pcap/pcapng capture, iface:NAME (monitor-mode "
                         "Wi-Fi, needs CAP_NET_RAW) or wardragon://HOST:4224 (overrides the config)")


def run(args: argparse.Namespace) -> int:
    """Run the receiver until the file ends or Ctrl-C / SIGTERM; prints a summary line."""
    if (status := bad_speed(args, "remoteid")) is not None:
        return status
    config, sid, sc = load_sensor(args, "remoteid")
    settings = sc.settings_for("remoteid", RemoteIdSettings) if sc is not None else RemoteIdSettings()
    source = args.source or settings.source
    if not source:
        return usage_error("remoteid", "no source: give --source FILE, iface:NAME or "
                           f"wardragon://HOST:PORT, or source in [sensors.{sid}.remoteid]")
    endpoint = bus.endpoint_override(config, args.publish, "--publish")
    return run_adapter("remoteid", lambda: RemoteIdSource(
        source, endpoint, sensor_id=sid, settings=settings, ground_h=config.site.h,
        speed=args.speed, wait_s=args.wait, origin=sc.origin if sc is not None else None,
        security=bus.security(config)), f"{source} -> {endpoint} as det.{sid}")
