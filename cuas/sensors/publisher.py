"""What every sensor adapter's I/O shell does with the bus, in one place: an XPUB connected to
the daemon's detection endpoint that waits for the subscription (what a publisher sends before
it is lost), ``status`` heartbeats, and sending ``detections`` that never block a live feed
(a full queue drops and counts) yet lose nothing from a file (a full queue waits for room).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Final

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.errors import NoSubscriberError
from cuas.record.bus_replay import _send as send_nodrop  # the replay's wait-for-room send
from cuas.sdnotify import Notifier

log = logging.getLogger(__name__)

#: A live source waiting for its subscriber says so this often (s).
WAIT_WARN_EVERY_S: Final = 10


def send_now(sock: zmq.Socket, parts: list[bytes]) -> None:
    """Send the two frames now or raise ``zmq.Again``, through the plain socket methods (the
    asyncio socket's own ``send`` makes a future per frame, which cost several times the
    encoding per message). Once the first frame is queued ZeroMQ accepts the rest."""
    send = zmq.Socket.send
    send(sock, parts[0], zmq.SNDMORE | zmq.DONTWAIT)
    send(sock, parts[1], zmq.DONTWAIT, copy=False)


class SensorPublisher:
    """The bus side of one adapter, publishing as ``sensor_id`` to ``endpoint``.

    ``counters`` is shared with the adapter (``published``, ``encode_errors``,
    ``dropped_queue_full``); ``extra_counters`` adds the adapter's own to each status.
    """

    def __init__(self, endpoint: str, sensor_id: str, counters: Counter[str], *,
                 live: bool, wait_s: float = 10.0,
                 context: zmq.asyncio.Context | None = None, hwm: int = bus.DEFAULT_HWM,
                 status_period_s: float = 1.0,
                 extra_counters: Callable[[], dict[str, int]] | None = None,
                 security: bus.CurveKeys | None = None,
                 notifier: Notifier | None = None) -> None:
        self.endpoint = endpoint
        self.sensor_id = sensor_id
        self.counters = counters
        self.live = live
        self.wait_s = wait_s
        self.status_period_s = status_period_s
        self.state = "degraded"
        self._extra = extra_counters
        self._own_ctx = context is None
        self._ctx = context if context is not None else zmq.asyncio.Context()
        self._hwm = hwm
        self._security = security  # CURVE client keys when the site's bus is secured
        self._sock: zmq.asyncio.Socket | None = None
        self._status_seq = 0
        self._seq = 0
        self._started = time.time()
        self._status_task: asyncio.Task[None] | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        self._linger_ms = 0
        #: systemd notifications (default: ``$NOTIFY_SOCKET``; a no-op outside systemd).
        self.notifier = notifier if notifier is not None else Notifier()

    def all_counters(self) -> dict[str, int]:
        out = dict(self.counters)
        if self._extra is not None:
            out.update(self._extra())
        return out

    def status(self, state: str | None = None) -> wire.Status:
        self._status_seq += 1
        return wire.Status(src=self.sensor_id, seq=self._status_seq, t=time.time(),
                           state=state or self.state,
                           uptime_s=max(0.0, time.time() - self._started),
                           counters=self.all_counters())

    async def open(self, stop: asyncio.Event) -> None:
        """Connect, wait for the daemon's subscription, start the heartbeats. A file source
        raises :class:`NoSubscriberError` after ``wait_s``; a live one waits until ``stop``."""
        sock = self._sock = bus.xpub_socket(self._ctx, self.endpoint, hwm=self._hwm,
                                            security=self._security)
        sock.setsockopt(zmq.XPUB_NODROP, 1)
        topic = f"det.{self.sensor_id}"
        # Up once connected: waiting for the daemon may take as long as the daemon is down,
        # and the watchdog pings from this loop meanwhile (a hang here gets a restart too).
        self.notifier.ready(f"publishing {topic} to {self.endpoint}")
        self._watchdog_task = asyncio.create_task(self.notifier.keep_alive(),
                                                  name="sensor-watchdog")
        if not self.live:
            if not await bus.wait_for_subscriber(sock, topic, self.wait_s):
                raise NoSubscriberError(
                    f"nobody subscribed to {topic!r} at {self.endpoint} within {self.wait_s:g} "
                    "s: is the daemon running (`cuas run`) and bound to that detection endpoint?")
        else:
            waited = 0
            while not stop.is_set() and not await bus.wait_for_subscriber(sock, topic, 1.0):
                waited += 1
                if waited % WAIT_WARN_EVERY_S == 0:
                    log.warning("waiting %d s for a subscriber to %s at %s", waited, topic,
                                self.endpoint)
        self._status_task = asyncio.create_task(self._status_loop(), name="sensor-status")

    def finished(self) -> None:
        """The source ended normally: let the queued messages out when closing."""
        self._linger_ms = 30_000

    async def close(self) -> None:
        """Stop the heartbeats, say ``down``, close the socket (and an own context)."""
        self.notifier.stopping()
        for task in (self._status_task, self._watchdog_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._sock is not None:
            with contextlib.suppress(zmq.ZMQError):
                await self._sock.send_multipart(bus.frames(self.status("down")),
                                                flags=zmq.DONTWAIT)
            self._sock.close(linger=self._linger_ms)
        if self._own_ctx:
            await asyncio.to_thread(self._ctx.term)

    async def _status_loop(self) -> None:
        assert self._sock is not None
        while True:
            with contextlib.suppress(zmq.ZMQError):
                await self._sock.send_multipart(bus.frames(self.status()), flags=zmq.DONTWAIT)
            await asyncio.sleep(self.status_period_s)

    async def publish(self, t: float, kind: str, dets: tuple[wire.Detection, ...],
                      origin: wire.Vec3 | None = None) -> bool:
        """Send one ``detections`` message measured at ``t`` (UTC s); False if it was dropped."""
        assert self._sock is not None
        self._seq += 1
        msg = wire.Detections(src=self.sensor_id, seq=self._seq, t=t, sensor=self.sensor_id,
                              kind=kind, dets=dets, origin=origin)
        try:
            parts = bus.frames(msg)
        except Exception:  # never one bad value stopping the feed
            self.counters["encode_errors"] += 1
            return False
        try:
            send_now(self._sock, parts)
        except zmq.Again:
            if self.live:
                self.counters["dropped_queue_full"] += 1
                return False
            await send_nodrop(self._sock, parts)
        self.counters["published"] += 1
        return True


class PublishingAdapter:
    """What every adapter shows of its bus side ``self.pub``: its state (``ok`` or
    ``degraded``, sent in ``status``), every counter, and a ``status`` message."""

    pub: SensorPublisher

    @property
    def state(self) -> str:
        """``ok``, or ``degraded`` while the source is unreachable (what ``status`` says)."""
        return self.pub.state

    @state.setter
    def state(self, value: str) -> None:
        self.pub.state = value

    def all_counters(self) -> dict[str, int]:
        """Every counter: publishing, and the adapter's own (monotonic integers)."""
        return self.pub.all_counters()

    def status(self, state: str | None = None) -> wire.Status:
        return self.pub.status(state)
