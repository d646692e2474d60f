"""Reconnect with back-off, defined once: the pause before the next attempt starts at
``BACKOFF_FIRST_S`` and doubles after each failure up to ``BACKOFF_MAX_S``.

Used by every live input (ADS-B, camera, RF sources) and output link (SAPIENT export, CoT to a
TAK server). A leaf module: imports nothing from cuas.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

#: First pause after a failed or lost connection, and the longest pause (s).
BACKOFF_FIRST_S: Final = 0.5
BACKOFF_MAX_S: Final = 10.0


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile (reconnect back-off)."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class Backoff:
    """The pause before the next reconnect attempt: ``delay`` (s) doubles after each wait up to
    ``max_s``; :meth:`reset` after a connection that worked starts again from ``first_s``."""

    def __init__(self, first_s: float = BACKOFF_FIRST_S, max_s: float = BACKOFF_MAX_S) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self.delay = first_s

    def reset(self) -> None:
        """A connection worked: the next failure waits ``first_s`` again."""
        self.delay = self.first_s

    async def wait(self, stop: asyncio.Event | None = None) -> None:
        """Sleep the current delay (cut short when ``stop`` is set), then double it."""
        if stop is None:
            await asyncio.sleep(self.delay)
        else:
            await sleep_or_stop(stop, self.delay)
        self.delay = min(self.delay * 2.0, self.max_s)
