"""What several ``cuas`` commands share."""

from __future__ import annotations

import asyncio
import signal
import tomllib
from pathlib import Path

from cuas.config import Config, load_config, reference_config

#: The site configuration every command uses without ``--config`` (its zones and assets).
BUNDLED_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "wembley.toml"


def site_config(path: str | None) -> Config:
    """``--config``: a site file, or a scenario file (the site it names); without one the
    bundled ``configs/wembley.toml`` (the reference defaults when it is not installed)."""
    if path is None:
        return load_config(BUNDLED_CONFIG) if BUNDLED_CONFIG.is_file() else reference_config()
    try:
        with open(path, "rb") as f:
            is_scenario = "scenario" in tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        is_scenario = False  # load_config says what is wrong with it
    if is_scenario:
        from cuas.sim.scenario import load_scenario

        return load_scenario(path).config
    return load_config(path)


def stop_on_signals(duration_s: float | None = None) -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, or after ``duration_s`` seconds when given.

    Call it inside the running event loop (it installs the loop's signal handlers)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration_s is not None:
        loop.call_later(duration_s, stop.set)
    return stop
