"""The command-line pieces every ``cuas sensor <kind>`` shares: the arguments that say where
the configuration, the source and the daemon are, which sensor id to publish as, and running
the adapter until its source ends or a signal stops it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import sys
from collections.abc import Callable
from typing import Any, Protocol

from cuas.config import Config, SensorConfig, load_config, reference_config
from cuas.errors import CuasError, NoSubscriberError


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


def usage_error(kind: str, message: str) -> int:
    """Print a ``cuas sensor KIND`` usage error; the exit status for it (2)."""
    print(f"cuas sensor {kind}: error: {message}", file=sys.stderr)
    return 2


def bad_speed(args: argparse.Namespace, kind: str) -> int | None:
    """Exit status 2 (after saying so) when ``--speed`` is not a finite number >= 0."""
    speed = args.speed
    if math.isfinite(speed) and speed >= 0:
        return None
    return usage_error(kind, f"--speed must be a finite number >= 0, got {speed}")


def load_sensor(args: argparse.Namespace, kind: str) -> tuple[Config, str, SensorConfig | None]:
    """The site configuration (``--config`` or the reference site), the sensor id to publish as
    and that sensor's table, if the configuration has one. Raises ConfigError."""
    config = load_config(args.config) if args.config else reference_config()
    sid = sensor_id(config, kind, args.sensor_id)
    return config, sid, config.sensors.get(sid)


class _Summary(Protocol):
    def line(self) -> str: ...


class _Adapter(Protocol):
    async def run(self, stop: asyncio.Event) -> Any: ...


def run_adapter(kind: str, make: Callable[[], _Adapter], banner: str) -> int:
    """Run one adapter until its source ends or SIGINT/SIGTERM, then print its summary line.

    ``make`` builds the adapter inside the event loop (its sockets belong to that loop).
    Exit status: 0 done, 1 with a one-line error (a source that cannot be read, no daemon
    subscribing in time), 130 on a second Ctrl-C.
    """

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"{kind}: {banner}", file=sys.stderr, flush=True)
        try:
            summary: _Summary = await make().run(stop)  # a bad source may fail in make()
        except (CuasError, NoSubscriberError) as exc:
            print(f"cuas sensor {kind}: error: {exc}", file=sys.stderr)
            return 1
        print(summary.line(), file=sys.stderr)
        return 0

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main())
    return 130
