"""``cuas sapient serve``: a SAPIENT fusion node on TCP. Sensor modules connect, register and
report; their detections go onto the cuas bus (``det.<sensor>``, connected to the daemon's
detection endpoint like every sensor adapter), their StatusReports become ``status``
messages. The protocol logic is :class:`cuas.sensors.sapient.node_state.FusionNodeState`; this is the I/O.

A connection survives bad frames and invalid messages (each answered with an Error); it is
closed after an oversized length prefix (the stream cannot be followed past it), when the
module stops reading its replies, or when the module closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Final

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.config import Config
from cuas.sapient.framing import CHUNK, FramingStats, encode, parse, split_host_port
from cuas.sapient.tls import server_context
from cuas.sensors.sapient.node_state import FusionNodeState

log = logging.getLogger(__name__)

#: A module that leaves its replies unread this long (s) is disconnected.
DRAIN_TIMEOUT_S: Final = 5.0
#: Most modules connected at once.
MAX_CONNECTIONS: Final = 256
#: A TLS handshake must complete within this (s), so half-open connections cannot pile up.
TLS_HANDSHAKE_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class ServeSummary:
    """What one run of the fusion node saw."""

    connections: int
    counters: dict[str, int]

    def line(self) -> str:
        c = self.counters
        return (f"sapient serve: {self.connections} connections, {c.get('accepted', 0)} messages "
                f"accepted, {c.get('rejected', 0)} rejected, {c.get('detections', 0)} detections "
                f"published")


class SapientServer:
    """Listens on ``listen`` (``HOST:PORT``, port 0 for any) and publishes to ``endpoint``.

    With ``[sapient]`` TLS files, every module must complete a TLS handshake with a client
    certificate the configured CA signed (refusals counted as ``tls_refused``); without them,
    only a loopback ``listen`` is allowed (:class:`ConfigError` otherwise, here). Each node id
    belongs to the connection that registered it (:class:`FusionNodeState`).
    """

    def __init__(self, config: Config, endpoint: str, *, listen: str | None = None,
                 context: zmq.asyncio.Context | None = None, status_period_s: float = 1.0,
                 component_id: str = "sapient") -> None:
        self.config = config
        self.endpoint = endpoint
        self.listen = listen or config.sapient.listen
        self._tls = server_context(config, split_host_port(self.listen)[0])
        # asyncio completes TLS handshakes before calling us and drops failed ones without a
        # word: a handshake is counted when the ClientHello arrives (the SNI callback runs for
        # every one) and refused is started less accepted (less those still in progress).
        self._tls_started = self._tls_accepted = 0
        if self._tls is not None:
            self._tls.sni_callback = self._tls_hello
        self.state = FusionNodeState(config)
        self.framing = FramingStats()
        self.status_period_s = status_period_s
        self.component_id = component_id
        self._ctx = context
        self._sock: zmq.asyncio.Socket | None = None
        self._connections = 0
        self._open: set[asyncio.Task[None]] = set()
        self._status_seq = 0
        self._started = time.time()
        #: (host, port) really listened on, once :attr:`ready` is set.
        self.address: tuple[str, int] | None = None
        self.ready = asyncio.Event()
        #: Set once the daemon's subscription has been seen.
        self.subscribed = asyncio.Event()

    # ------------------------------------------------------------------ counters

    def _tls_hello(self, *_: object) -> None:
        self._tls_started += 1

    def all_counters(self) -> dict[str, int]:
        out = dict(self.state.counters)
        if self._tls is not None:
            out["tls_handshakes"] = self._tls_started
            out["tls_refused"] = self._tls_started - self._tls_accepted
        out.update(self.framing.as_counters())
        out["connections"] = self._connections
        out["nodes"] = len(self.state.nodes)
        return out

    def _status(self, state: str) -> wire.Status:
        self._status_seq += 1
        return wire.Status(src=self.component_id, seq=self._status_seq, t=time.time(),
                           state=state, uptime_s=max(0.0, time.time() - self._started),
                           counters=self.all_counters())

    # ------------------------------------------------------------------ run

    async def run(self, stop: asyncio.Event) -> ServeSummary:
        """Serve until ``stop`` is set."""
        own_ctx = self._ctx is None
        ctx = zmq.asyncio.Context() if self._ctx is None else self._ctx
        # CURVE client keys when the site's bus is encrypted ([bus] security = "curve").
        self._sock = bus.xpub_socket(ctx, self.endpoint, security=bus.security(self.config))
        host, port = split_host_port(self.listen)
        if self._tls is None:
            server = await asyncio.start_server(self._client, host, port, limit=CHUNK)
        else:
            server = await asyncio.start_server(self._client, host, port, limit=CHUNK,
                                                ssl=self._tls,
                                                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)
        sockname = server.sockets[0].getsockname()
        self.address = (sockname[0], sockname[1])
        log.info("SAPIENT fusion node %s listening on %s:%d", self.state.node_id, *self.address)
        self.ready.set()
        tasks = [asyncio.create_task(self._watch_subscriber(stop), name="sapient-sub"),
                 asyncio.create_task(self._status_loop(), name="sapient-status")]
        try:
            await stop.wait()
        finally:
            server.close()
            for task in [*tasks, *self._open]:
                task.cancel()
            for task in [*tasks, *self._open]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(OSError):
                await server.wait_closed()
            self._send_bus(self._status("down"))
            self._sock.close(linger=2000)
            if own_ctx:
                await asyncio.to_thread(ctx.term)
        return ServeSummary(self._connections, self.all_counters())

    async def _watch_subscriber(self, stop: asyncio.Event) -> None:
        assert self._sock is not None
        while not stop.is_set():
            if await bus.wait_for_subscriber(self._sock, "det.", 1.0):
                self.subscribed.set()
                return

    async def _status_loop(self) -> None:
        while True:
            self._send_bus(self._status("ok"))
            await asyncio.sleep(self.status_period_s)

    def _send_bus(self, msg: wire.Message) -> None:
        assert self._sock is not None
        if isinstance(msg, wire.Detections) and not self.subscribed.is_set():
            # ZeroMQ would drop it silently: no daemon has subscribed yet.
            self.state.counters["dropped_no_subscriber"] += 1
            return
        try:
            # The plain socket's method: it raises Again now, where the asyncio wrapper
            # would only fail a future nobody awaits.
            zmq.Socket.send_multipart(self._sock, bus.frames(msg), flags=zmq.DONTWAIT)
        except zmq.Again:
            self.state.counters["dropped_queue_full"] += 1
            return
        except zmq.ZMQError as exc:
            self.state.counters["publish_errors"] += 1
            log.warning("cannot publish: %s", exc)
            return
        if isinstance(msg, wire.Detections):
            self.state.counters["published"] += 1

    # ------------------------------------------------------------------ one module

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        peer = writer.get_extra_info("peername")
        if self._tls is not None:
            self._tls_accepted += 1  # asyncio calls us only after a verified handshake
        if len(self._open) >= MAX_CONNECTIONS:
            self.state.counters["connections_refused"] += 1
            writer.close()
            return
        if task is not None:
            self._open.add(task)
        self._connections += 1
        log.info("module connected from %s", peer)
        rest = b""
        try:
            while True:
                try:
                    data = await reader.read(CHUNK)
                except OSError as exc:
                    log.info("connection from %s: %s", peer, exc)
                    break
                if not data:
                    break
                frames, rest = parse(rest + data, self.framing,
                                     self.config.sapient.max_message_bytes)
                close = False
                for fr in frames:
                    out = self.state.handle(fr, time.time(), conn=writer)
                    for msg in out.publish:
                        self._send_bus(msg)
                    for reply in out.replies:
                        writer.write(encode(reply))
                    close = close or out.close
                try:
                    await asyncio.wait_for(writer.drain(), DRAIN_TIMEOUT_S)
                except (TimeoutError, OSError):
                    self.state.counters["slow_or_broken_clients"] += 1
                    break
                if close:
                    log.warning("closing the connection from %s after an unusable frame", peer)
                    break
            if rest:
                self.framing.truncated += 1  # the connection ended inside a frame
        except asyncio.CancelledError:
            # Our own shutdown. Not re-raised: asyncio's server callback would log a cancelled
            # connection task as an error (Python 3.11).
            pass
        finally:
            if task is not None:
                self._open.discard(task)
            self.state.release(writer)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()
            log.info("module at %s disconnected", peer)
