"""The console's side of the bus: the track stream in (through the shared
:class:`~cuas.outputs.stream.TrackStream`), acknowledgements out.

Snapshots are coalesced: browsers get at most :data:`MAX_FRAME_HZ` frames a second whatever
rate the daemon publishes at, each a delta from the last one sent. Alerts, acknowledgements
and health go out as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Final

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.config import Config
from cuas.outputs.stream import TRACK_TOPICS, TrackStream
from cuas.web.picture import Picture

if TYPE_CHECKING:
    from cuas.web.server import Console

log = logging.getLogger(__name__)

#: Frames a second sent to browsers at most.
MAX_FRAME_HZ: Final = 4.0


class Feed:
    """Follows ``tracks_endpoint`` (default ``bus.tracks``) into a :class:`Picture` and
    publishes acknowledgements on ``ack_endpoint`` (default ``web.ack_endpoint``, else
    ``bus.detections``, where the daemon takes them in and republishes them)."""

    def __init__(self, config: Config, console: Console, *, tracks_endpoint: str | None = None,
                 ack_endpoint: str | None = None) -> None:
        w = config.web
        self.config = config
        self.console = console
        self.tracks_endpoint = tracks_endpoint or config.bus.tracks
        self.ack_endpoint = ack_endpoint or w.ack_endpoint or config.bus.detections
        self.picture = Picture(trail_s=w.trail_s, history_s=w.history_s,
                               history_period_s=w.history_period_s,
                               sensors_known=tuple(sorted(config.sensors)))
        self.security = bus.security(config)
        self.src = f"{config.daemon_id}.web"[:wire.MAX_SRC]
        self._ctx: zmq.asyncio.Context | None = None
        self._stream: TrackStream | None = None
        self._pub: zmq.asyncio.Socket | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._latest: wire.Tracks | None = None
        self._snap = asyncio.Event()
        self._stop = asyncio.Event()
        self._ack_seq = 0

    def stream_counts(self) -> dict[str, Any]:
        """The subscription's counts (valid messages by kind, malformed ones skipped)."""
        if self._stream is None:
            return {}
        c = self._stream.counts
        return {"tracks": c.tracks, "alerts": c.alerts, "statuses": c.statuses, "bad": c.bad,
                "silent_s": round(self._stream.silent_s(), 1)}

    async def start(self) -> None:
        """Subscribe and connect (ZeroMQ reconnects by itself when the daemon restarts)."""
        self._ctx = zmq.asyncio.Context()
        self._stream = TrackStream(self.tracks_endpoint, topics=(*TRACK_TOPICS, "ack"),
                                   context=self._ctx, security=self.security)
        self._pub = bus.pub_socket(self._ctx, self.ack_endpoint, bind=False,
                                   security=self.security)
        self._tasks = [asyncio.create_task(self._receive(), name="web-receive"),
                       asyncio.create_task(self._frames(), name="web-frames"),
                       asyncio.create_task(self._watch_stale(), name="web-stale")]

    async def stop(self) -> None:
        """Stop receiving and close the sockets."""
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._stream is not None:
            self._stream.close()
        if self._pub is not None:
            self._pub.close(linger=500)
        if self._ctx is not None:
            self._ctx.term()

    async def _receive(self) -> None:
        assert self._stream is not None
        async for _, msg in self._stream.messages(self._stop):
            if isinstance(msg, wire.Tracks):
                self._latest = msg
                self._snap.set()
            elif isinstance(msg, wire.Alert):
                self._flush()  # the alert's track is in the picture before the alert
                self.console.broadcast(self.picture.add_alert(msg))
            elif isinstance(msg, wire.Status):
                self.console.broadcast(self.picture.status(msg))
            elif isinstance(msg, wire.Ack):
                self.console.broadcast(self.picture.settle(msg.alert_id, msg.action, msg.user,
                                                           msg.note, msg.t))

    def _flush(self) -> None:
        latest, self._latest = self._latest, None
        if latest is not None:
            self.console.broadcast(self.picture.apply(latest))

    async def _frames(self) -> None:
        period = 1.0 / MAX_FRAME_HZ
        while True:
            await self._snap.wait()
            self._snap.clear()
            started = time.monotonic()
            self._flush()
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))

    async def _watch_stale(self) -> None:
        """Tell browsers when the daemon falls silent (its heartbeat is at least every 5 s)."""
        was_stale = False
        while True:
            await asyncio.sleep(1.0)
            assert self._stream is not None
            stale = self._stream.stale()
            if stale != was_stale:
                was_stale = stale
                self.console.broadcast({"type": "feed", "stale": stale,
                                        "silent_s": round(self._stream.silent_s(), 1)})

    async def publish_ack(self, alert_id: str, action: str, user: str, note: str,
                          track_id: int | None, t: float) -> bool:
        """Publish an ``ack`` for the daemon to republish; whether it was sent."""
        if self._pub is None:
            return False
        msg = wire.Ack(src=self.src, seq=self._ack_seq, t=t, alert_id=alert_id, action=action,
                       user=user, note=note, track_id=track_id)
        self._ack_seq += 1
        try:
            await self._pub.send_multipart(bus.frames(msg), flags=zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            log.warning("could not publish an acknowledgement: %s", exc)
            self.console.counters["ack_publish_errors"] += 1
            return False
        self.console.counters["acks_published"] += 1
        return True
