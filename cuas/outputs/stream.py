"""The one subscriber to the daemon's track stream: ``cuas tracks``, the CoT and SAPIENT
exporters and ``cuas demo`` all read ``trk``/``alert``/``status.`` through :class:`TrackStream`.

It subscribes (with CURVE client keys when the site's bus is secured), decodes and validates
each message, checks it came on its own topic, counts and skips malformed ones (they never end
a stream), and tells how long the feed has been silent. ZeroMQ reconnects the subscription by
itself when the daemon restarts, so there is no back-off to do here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final

import zmq.asyncio

from cuas import bus, wire
from cuas.errors import DecodeError

log = logging.getLogger(__name__)

#: Everything the daemon publishes for consumers (its detections' copy goes to the recorder).
TRACK_TOPICS: Final = ("trk", "alert", "status.")
#: A feed with no valid message for this long (s) is stale: the daemon sends a heartbeat at
#: least every 5 s (the contract), and snapshots at 2 Hz.
STALE_AFTER_S: Final = 5.0


@dataclass(slots=True)
class StreamCounts:
    """Valid messages received by kind, malformed ones skipped, and the last problem."""

    tracks: int = 0
    alerts: int = 0
    statuses: int = 0
    #: Messages dropped as malformed (bad frames, invalid payload, topic not matching the type).
    bad: int = 0
    last_error: str | None = None

    @property
    def messages(self) -> int:
        """Valid messages received."""
        return self.tracks + self.alerts + self.statuses


class TrackStream:
    """A subscription to ``endpoint`` for ``topics``; close it (or use ``with``) when done.

    ``context``: the ZeroMQ context (not terminated here; default the process-wide one).
    ``security``: CURVE client keys (:func:`cuas.bus.security`). ``on_malformed`` is called
    with the error of each skipped message, after it is counted.
    """

    def __init__(self, endpoint: str, *, topics: tuple[str, ...] = TRACK_TOPICS,
                 context: zmq.asyncio.Context | None = None,
                 security: bus.CurveKeys | None = None,
                 on_malformed: Callable[[DecodeError], None] | None = None) -> None:
        ctx = zmq.asyncio.Context.instance() if context is None else context
        self.endpoint = endpoint
        self.counts = StreamCounts()
        self._on_malformed = on_malformed
        self._sock = bus.sub_socket(ctx, endpoint, bind=False, topics=topics, security=security)
        self._pending: asyncio.Future[list[bytes]] | None = None
        self._last_valid = time.monotonic()  # the silence is counted from the subscription

    def __enter__(self) -> TrackStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop receiving (a receive in progress is cancelled)."""
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        self._pending = None
        self._sock.close(linger=0)

    def silent_s(self) -> float:
        """Seconds since the last valid message (since the subscription, before the first)."""
        return time.monotonic() - self._last_valid

    def stale(self, after_s: float = STALE_AFTER_S) -> bool:
        """Whether no valid message came for ``after_s`` seconds."""
        return self.silent_s() > after_s

    def decode(self, parts: list[bytes]) -> tuple[str, wire.Message] | None:
        """Topic and message of received frames, counted; None (counted as bad) if malformed."""
        try:
            topic, msg = bus.parse_frames(parts)
            expected = wire.topic_for(msg)
            if topic != expected:
                raise DecodeError(f"a {msg.type} message on topic {topic!r} "
                                  f"(expected {expected!r})", key="topic")
        except DecodeError as exc:
            self.counts.bad += 1
            self.counts.last_error = str(exc)
            log.warning("skipped a malformed message from %s: %s", self.endpoint, exc)
            if self._on_malformed is not None:
                self._on_malformed(exc)
            return None
        if isinstance(msg, wire.Tracks):
            self.counts.tracks += 1
        elif isinstance(msg, wire.Alert):
            self.counts.alerts += 1
        elif isinstance(msg, wire.Status):
            self.counts.statuses += 1
        self._last_valid = time.monotonic()
        return topic, msg

    async def receive(self, timeout_s: float | None = None, stop: asyncio.Event | None = None
                      ) -> tuple[str, wire.Message] | None:
        """The next valid message as (topic, message), skipping malformed ones; None when
        ``timeout_s`` seconds pass or ``stop`` is set first. A message arriving after that is
        kept for the next call, never lost."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        stopper = None if stop is None else asyncio.ensure_future(stop.wait())
        try:
            while stop is None or not stop.is_set():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                if self._pending is None:
                    self._pending = asyncio.ensure_future(self._sock.recv_multipart())
                waiting: set[asyncio.Future[Any]] = {self._pending}
                if stopper is not None:
                    waiting.add(stopper)
                done, _ = await asyncio.wait(waiting, timeout=left,
                                             return_when=asyncio.FIRST_COMPLETED)
                if self._pending not in done:
                    continue
                parts, self._pending = self._pending.result(), None
                got = self.decode(parts)
                if got is not None:
                    return got
            return None
        finally:
            if stopper is not None:
                stopper.cancel()

    async def messages(self, stop: asyncio.Event) -> AsyncIterator[tuple[str, wire.Message]]:
        """Every valid message as (topic, message) until ``stop`` is set."""
        while not stop.is_set():
            got = await self.receive(stop=stop)
            if got is not None:
                yield got
