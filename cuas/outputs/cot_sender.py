"""Sending CoT events to TAK: UDP (the SA multicast group, or unicast), a TAK server over TCP
or TLS, and the exporter that turns the daemon's track stream into events.

The stream senders reconnect with back-off (0.5 s doubling to 10 s) so that a TAK server that
restarts needs nothing done to cuas; while it is away events wait in a bounded queue that
drops its oldest entry, counted, so a long outage costs memory only up to that bound.

A TAK server takes the first event of a connection as the client's login: it relays it to no
one and, when the connection ends, sends a delete for its uid. So on every connection the
stream sender first sends the node's announcement (:meth:`StreamSender.announce`), then what is
queued; and the events written in the last :data:`RESEND_WINDOW_S` of a connection that broke
are sent again on the next one (TCP may have taken them without the server ever reading them;
a repeated CoT event is harmless, a lost one is not).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import logging
import socket
import ssl
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.backoff import Backoff
from cuas.config import Config, CotConfig
from cuas.errors import DecodeError
from cuas.outputs import cot
from cuas.outputs.stream import TrackStream

log = logging.getLogger(__name__)

#: Events a stream sender keeps while its server is unreachable (then drop-oldest).
QUEUE_SIZE = 10_000
#: Events written this long (s) before a connection broke are sent again on the next one.
RESEND_WINDOW_S = 2.0


class Sender(Protocol):
    """Where CoT events go."""

    counters: Counter[str]

    def announce(self, make: Callable[[], bytes]) -> None:
        """What identifies cuas to a server (``make`` builds it fresh): sent first on every
        connection, before any queued event."""

    async def send(self, event: bytes) -> None: ...

    async def close(self) -> None: ...


def _host_port(url: str) -> tuple[str, int]:
    rest = url.partition("://")[2]
    host, _, port = rest.rpartition(":")
    return host.strip("[]"), int(port)


class UdpSender:
    """One datagram per event to ``udp://HOST:PORT``; a multicast group gets ``ttl`` and, when
    given, the outgoing interface (IPv4 address)."""

    def __init__(self, url: str, *, ttl: int = 1, interface: str | None = None) -> None:
        self.host, self.port = _host_port(url)
        self.counters: Counter[str] = Counter()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        try:
            multicast = ipaddress.ip_address(self.host).is_multicast
        except ValueError:
            multicast = False
        if multicast and family == socket.AF_INET:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL,
                                 struct.pack("b", ttl))
            if interface:
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                                     socket.inet_aton(interface))

    def announce(self, make: Callable[[], bytes]) -> None:
        """Nothing to do: a datagram has no connection, and no login to lose."""

    async def send(self, event: bytes) -> None:
        try:
            self.sock.sendto(event, (self.host, self.port))
            self.counters["sent"] += 1
        except OSError as exc:  # no route, buffer full: a lost datagram, counted
            self.counters["send_errors"] += 1
            if self.counters["send_errors"] == 1:
                log.warning("CoT datagram to %s:%d failed: %s", self.host, self.port, exc)

    async def close(self) -> None:
        self.sock.close()


class StreamSender:
    """Events over TCP (``tcp://``) or TLS (``tls://``) to a TAK server, reconnecting.

    ``ssl_context``: for TLS (see :func:`tls_context`). Events are written back to back (TAK
    servers split the stream on ``</event>``). Once :meth:`announce` has been called, every
    connection starts with the announcement.
    """

    def __init__(self, url: str, *, ssl_context: ssl.SSLContext | None = None,
                 queue_size: int = QUEUE_SIZE) -> None:
        self.host, self.port = _host_port(url)
        self.ssl_context = ssl_context
        self.counters: Counter[str] = Counter()
        self._queue: collections.deque[bytes] = collections.deque()
        self._queue_size = queue_size
        # Written on the current connection within RESEND_WINDOW_S: (monotonic s, event).
        self._written: collections.deque[tuple[float, bytes]] = collections.deque()
        self._announcement: Callable[[], bytes] | None = None
        self._wake = asyncio.Event()
        self.connected = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="cot-stream")

    def announce(self, make: Callable[[], bytes]) -> None:
        """Send ``make()`` first on every connection (from the next one on)."""
        self._announcement = make
        self._wake.set()

    async def send(self, event: bytes) -> None:
        if len(self._queue) >= self._queue_size:
            self._queue.popleft()
            self.counters["dropped_overflow"] += 1
        self._queue.append(event)
        self._wake.set()

    async def _run(self) -> None:
        backoff = Backoff()
        while True:
            try:
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, ssl=self.ssl_context,
                    server_hostname=self.host if self.ssl_context else None)
            except (OSError, ssl.SSLError) as exc:
                self.counters["connect_failures"] += 1
                log.warning("TAK server %s:%d unreachable (%s); retrying in %.1f s",
                            self.host, self.port, exc, backoff.delay)
                await backoff.wait()
                continue
            backoff.reset()
            self.counters["connects"] += 1
            self.connected.set()
            try:
                await self._pump(reader, writer)
            except (OSError, ssl.SSLError, ConnectionError) as exc:
                log.warning("TAK server %s:%d connection lost: %s", self.host, self.port, exc)
            finally:
                self.connected.clear()
                self._requeue_written()
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

    def _requeue_written(self) -> None:
        """Put what a broken connection may have lost back at the head of the queue."""
        horizon = time.monotonic() - RESEND_WINDOW_S
        recent = [event for t, event in self._written if t >= horizon]
        self._written.clear()
        self._queue.extendleft(reversed(recent))
        self.counters["resent"] += len(recent)
        while len(self._queue) > self._queue_size:
            self._queue.pop()
            self.counters["dropped_overflow"] += 1

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Announce, then write the queue as it fills, until the server hangs up."""
        heard = asyncio.create_task(reader.read(65536))  # the server may talk; EOF = gone
        announced = False
        try:
            while True:
                if heard.done():
                    if not heard.result():
                        raise ConnectionError("closed by the server")
                    heard = asyncio.create_task(reader.read(65536))  # what it says is unused
                if not announced and self._announcement is not None:
                    writer.write(self._announcement())
                    await writer.drain()
                    announced = True
                    self.counters["announced"] += 1
                if self._queue and (announced or self._announcement is None):
                    event = self._queue.popleft()
                    # Kept until the window passes: a broken link sends it again.
                    self._written.append((time.monotonic(), event))
                    writer.write(event)
                    await writer.drain()
                    self.counters["sent"] += 1
                    continue
                horizon = time.monotonic() - RESEND_WINDOW_S
                while self._written and self._written[0][0] < horizon:
                    self._written.popleft()
                self._wake.clear()
                waiter = asyncio.create_task(self._wake.wait())
                await asyncio.wait([waiter, heard], return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
        finally:
            heard.cancel()

    async def close(self) -> None:
        """Send what is queued (for up to 2 s) and stop."""
        deadline = time.monotonic() + 2.0
        while self._queue and self.connected.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def tls_context(settings: CotConfig) -> ssl.SSLContext:
    """Client TLS for a TAK server: the server's certificate is verified (against
    ``ca_file``, else the system's CAs); ``cert_file``/``key_file`` are this client's."""
    ctx = ssl.create_default_context(cafile=settings.ca_file)
    if settings.cert_file:
        ctx.load_cert_chain(settings.cert_file, settings.key_file)
    return ctx


def open_sender(settings: CotConfig) -> Sender:
    """The sender for ``settings.url`` (call inside a running event loop)."""
    scheme = settings.url.partition("://")[0]
    if scheme == "udp":
        return UdpSender(settings.url, ttl=settings.ttl, interface=settings.interface)
    return StreamSender(settings.url,
                        ssl_context=tls_context(settings) if scheme == "tls" else None)


@dataclass
class ExportSummary:
    """What an export session did."""

    snapshots: int = 0
    #: Snapshots of a replayed stream, moved onto the wall clock (:func:`cot.replay_offset`).
    replayed: int = 0
    events: int = 0
    bad_messages: int = 0


class CotExporter:
    """Subscribes to the daemon's tracks and sends CoT: a track at most every ``period_s``
    unless its type changed or it was deleted (sent at once), the node every
    ``node_period_s`` and first on every connection of a stream sender (its login)."""

    def __init__(self, config: Config, sender: Sender, *, settings: CotConfig | None = None
                 ) -> None:
        self.config = config
        self.settings = settings if settings is not None else config.cot
        self.sender = sender
        self.policy = cot.CotPolicy(
            site=config.site.name, friendly_rid=frozenset(config.allow.rid),
            friendly_icao=frozenset(config.allow.icao),
            delete_after_s=config.tracker.delete_after_s_confirmed,
            delete_after_s_identified=config.tracker.delete_after_s_identified,
            send_all=self.settings.send_all)
        self.summary = ExportSummary()
        self._last_sent: dict[str, tuple[float, str]] = {}
        self._last_status: wire.Status | None = None
        self._last_node = -1e9
        sender.announce(lambda: self._node_event(time.time()))

    async def handle(self, msg: wire.Message) -> None:
        """Send what one message of the track stream calls for: the node first when due, then
        the snapshot's tracks, a replayed snapshot moved onto the wall clock."""
        now = time.time()
        if isinstance(msg, wire.Status):
            self._last_status = msg
        if now - self._last_node >= self.settings.node_period_s:
            self._last_node = now
            await self._send(self._node_event(now))
        if isinstance(msg, wire.Tracks):
            self.summary.snapshots += 1
            offset = cot.replay_offset(msg.t, now)
            if offset is not None:
                self.summary.replayed += 1
            for track in msg.tracks:
                await self._track(track, now, offset)

    def _node_event(self, now: float) -> bytes:
        """The node's announcement at ``now`` (UTC s), with the daemon's last health."""
        return cot.node_event((self.config.site.lat, self.config.site.lon, self.config.site.h),
                              self.config.site.name, now, self._health(),
                              self.settings.node_period_s)

    async def _track(self, track: wire.Track, now: float, replay_offset_s: float | None
                     ) -> None:
        events = cot.track_events(track, now, self.policy, replay_offset_s=replay_offset_s)
        if not events:
            return
        uid = cot.track_uid(track, self.policy)
        kind = f"{cot.event_type(track, self.policy)}:{track.status}"
        last = self._last_sent.get(uid)
        if (track.status != "deleted" and last is not None and last[1] == kind
                and now - last[0] < self.settings.period_s):
            return
        if track.status == "deleted":
            self._last_sent.pop(uid, None)
        else:
            self._last_sent[uid] = (now, kind)
            if len(self._last_sent) > 100_000:  # never grows without bound
                self._last_sent.pop(next(iter(self._last_sent)))
        for event in events:
            await self._send(event)

    async def _send(self, event: bytes) -> None:
        await self.sender.send(event)
        self.summary.events += 1

    def _health(self) -> dict[str, object]:
        st = self._last_status
        if st is None:
            return {"daemon": "no status yet"}
        c = st.counters
        return {"daemon": st.state, "tracks": c.get("tracks", 0),
                "received": c.get("received", 0), "uptime_s": round(st.uptime_s)}

    async def run(self, endpoint: str, stop: asyncio.Event, *,
                  context: zmq.asyncio.Context | None = None,
                  security: bus.CurveKeys | None = None) -> ExportSummary:
        """Subscribe to ``endpoint`` (``trk``, ``status``) until ``stop`` is set."""

        def count_bad(_: DecodeError) -> None:
            self.summary.bad_messages += 1

        stream = TrackStream(endpoint, topics=("trk", "status."), context=context,
                             security=security, on_malformed=count_bad)
        try:
            async for _, msg in stream.messages(stop):
                await self.handle(msg)
        finally:
            stream.close()
            await self.sender.close()
        return self.summary
