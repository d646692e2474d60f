"""What several ``cuas`` commands share."""

from __future__ import annotations

import asyncio
import signal


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
