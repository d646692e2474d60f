"""``cuas check``: validate a site configuration without starting anything."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="CFG", required=True, help="site configuration (TOML)")


def run(args: argparse.Namespace) -> int:
    from cuas.config import load_config

    cfg = load_config(args.config)  # raises ConfigError naming file and key
    sensors = ", ".join(f"{s.id} ({s.kind})" for s in cfg.sensors.values()) or "none"
    print(f"{args.config}: ok: site {cfg.site.name} at {cfg.site.lat:.5f}, {cfg.site.lon:.5f}, "
          f"{cfg.site.h:.0f} m; detections {cfg.bus.detections}, tracks {cfg.bus.tracks}; "
          f"sensors: {sensors}")
    return 0
