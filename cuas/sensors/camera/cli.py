"""``cuas sensor camera``: the camera adapter's command-line arguments and its run."""

from __future__ import annotations

import argparse

from cuas import bus
from cuas.sensors.camera.settings import CameraSettings
from cuas.sensors.camera.source import CameraSource
from cuas.sensors.cli_common import (
    add_common_arguments,
    bad_speed,
    load_sensor,
    run_adapter,
    usage_error,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cuas sensor camera``."""
    add_common_arguments(parser, "camera", "a device index (0), an RTSP/HTTP URL or a video "
                         "file (overrides the config); a file plays at its frame rate times "
                         "--speed")
    parser.add_argument("--max-frames", type=int, metavar="N",
                        help="stop after N frames")


def run(args: argparse.Namespace) -> int:
    """Run the adapter until the file ends or Ctrl-C / SIGTERM; prints a summary line."""
    if (status := bad_speed(args, "camera")) is not None:
        return status
    if args.max_frames is not None and args.max_frames < 1:
        return usage_error("camera", "--max-frames must be >= 1")
    config, sid, sc = load_sensor(args, "camera")
    settings = sc.settings_for("camera", CameraSettings) if sc is not None else CameraSettings()
    source = args.source or settings.source
    if not source:
        return usage_error("camera", "no source: give --source (device index, URL or file) "
                           f"or source in [sensors.{sid}.camera]")
    endpoint = bus.endpoint_override(config, args.publish, "--publish")
    return run_adapter("camera", lambda: CameraSource(
        source, endpoint, sensor_id=sid, settings=settings,
        origin=sc.origin if sc is not None else None, speed=args.speed, wait_s=args.wait,
        max_frames=args.max_frames, security=bus.security(config)),
        f"{source} -> {endpoint} as det.{sid}")
