"""``cuas sapient export``: cuas as a SAPIENT child node reporting its fused picture upward.

Subscribes to the daemon's track endpoint (``trk`` and ``alert``), connects over TCP to a
higher fusion node, registers (and waits for its RegistrationAck), then sends a StatusReport
every ``status_interval_s`` and, for each ``tracks`` snapshot, one DetectionReport per
exported track; each ``alert`` becomes an Alert. The link reconnects with back-off (0.5 s
doubling to 10 s). Messages wait in a bounded queue; when it is full the oldest is dropped and
counted, so a dead link never grows memory.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Final

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.backoff import Backoff
from cuas.config import Config
from cuas.errors import DecodeError
from cuas.outputs.stream import TrackStream
from cuas.sapient import convert, outbound
from cuas.sapient.framing import CHUNK, Frame, FramingStats, encode, parse, split_host_port
from cuas.sapient.proto import SapientMessage, node_uuid
from cuas.sapient.tls import client_context
from cuas.sapient.validate import validate

log = logging.getLogger(__name__)

#: How long to wait for the RegistrationAck (s).
ACK_TIMEOUT_S: Final = 10.0
#: Messages waiting for the link; beyond this the oldest is dropped.
QUEUE_SIZE: Final = 10_000


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What one run of the exporter did."""

    target: str
    counters: dict[str, int]

    def line(self) -> str:
        c = self.counters
        return (f"sapient export -> {self.target}: {c.get('snapshots', 0)} snapshots, "
                f"{c.get('sent_detection_report', 0)} DetectionReports, "
                f"{c.get('sent_alert', 0)} Alerts sent, {c.get('dropped_queue_full', 0)} "
                f"dropped, {c.get('connects', 0)} connects")


class SapientExporter:
    """Forwards the daemon's tracks at ``tracks_endpoint`` to the SAPIENT node at ``target``."""

    def __init__(self, config: Config, tracks_endpoint: str, target: str, *,
                 context: zmq.asyncio.Context | None = None,
                 queue_size: int = QUEUE_SIZE) -> None:
        self.config = config
        self.tracks_endpoint = tracks_endpoint
        self.target = target
        self.host, self.port = split_host_port(target)
        # TLS when [sapient] names TLS files (read now: a bad file fails at start-up).
        self._tls = client_context(config)
        s = config.sapient
        self.node_id = s.node_id or node_uuid(s.node_name)
        self.reporter = outbound.Reporter(self.node_id, export_tentative=s.export_tentative)
        self.counters: Counter[str] = Counter()
        self.framing = FramingStats()
        self._queue: collections.deque[SapientMessage] = collections.deque()
        self._queue_size = queue_size
        self._wake = asyncio.Event()
        self._ctx = context
        #: Set while registered with the higher node.
        self.registered = asyncio.Event()
        #: Set once the track subscription is connected.
        self.ready = asyncio.Event()

    def all_counters(self) -> dict[str, int]:
        out = dict(self.counters)
        out.update({f"upstream_{k}": v for k, v in self.framing.as_counters().items()})
        return out

    # ------------------------------------------------------------------ queue

    def _enqueue(self, msg: SapientMessage) -> None:
        if len(self._queue) >= self._queue_size:
            self._queue.popleft()
            self.counters["dropped_queue_full"] += 1
        self._queue.append(msg)
        self._wake.set()

    def take(self, message: wire.Message) -> None:
        """Turn one bus message into SAPIENT messages waiting to be sent."""
        if isinstance(message, wire.Tracks):
            self.counters["snapshots"] += 1
            for rep in self.reporter.reports(message):
                self._enqueue(rep)
        elif isinstance(message, wire.Alert):
            self.counters["alerts"] += 1
            self._enqueue(self.reporter.alert(message))

    # ------------------------------------------------------------------ run

    async def run(self, stop: asyncio.Event) -> ExportSummary:
        own_ctx = self._ctx is None
        ctx = zmq.asyncio.Context() if self._ctx is None else self._ctx

        def count_bad(_: DecodeError) -> None:
            self.counters["dropped_malformed"] += 1

        stream = TrackStream(self.tracks_endpoint, topics=("trk", "alert"), context=ctx,
                             security=bus.security(self.config), on_malformed=count_bad)
        self.ready.set()
        tasks = [asyncio.create_task(self._receive(stream), name="sapient-export-sub"),
                 asyncio.create_task(self._link(stop), name="sapient-export-link")]
        try:
            stopped = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            stopped.cancel()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            stream.close()
            if own_ctx:
                await asyncio.to_thread(ctx.term)
        return ExportSummary(self.target, self.all_counters())

    async def _receive(self, stream: TrackStream) -> None:
        while True:
            got = await stream.receive()
            if got is not None:
                self.take(got[1])

    async def _link(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port, ssl=self._tls,
                                            server_hostname=self.host if self._tls else None),
                    timeout=5.0)
            except (TimeoutError, OSError) as exc:  # ssl.SSLError is an OSError
                self.counters["connect_failures"] += 1
                log.warning("cannot connect to %s (%s); retrying in %.1f s", self.target, exc,
                            backoff.delay)
                await backoff.wait(stop)
                continue
            self.counters["connects"] += 1
            healthy = False
            try:
                healthy = await self._session(reader, writer, stop)
            except (OSError, TimeoutError) as exc:
                log.warning("link to %s: %s", self.target, exc)
            finally:
                self.registered.clear()
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            if stop.is_set():
                break
            self.counters["disconnects"] += 1
            if healthy:
                backoff.reset()
            log.warning("link to %s closed; reconnecting in %.1f s", self.target, backoff.delay)
            await backoff.wait(stop)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       stop: asyncio.Event) -> bool:
        """Register, then send until the link fails; True if the registration was accepted."""
        s = self.config.sapient
        self._send(writer, outbound.registration(self.node_id, time.time(), s.node_name,
                                                s.status_interval_s))
        await writer.drain()
        rest = b""
        ack = None
        after: list[Frame] = []  # what came behind the ack in the same read
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while ack is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no RegistrationAck within {ACK_TIMEOUT_S:g} s")
            data = await asyncio.wait_for(reader.read(CHUNK), left)
            if not data:
                return False
            frames, rest = parse(rest + data, self.framing, s.max_message_bytes)
            for i, fr in enumerate(frames):
                if fr.message is not None and not validate(fr.message) \
                        and fr.message.WhichOneof("content") == "registration_ack":
                    ack = fr.message.registration_ack
                    after = frames[i + 1:]
                    break
                self._note_upstream(fr.message)
        if not ack.acceptance:
            self.counters["registrations_refused"] += 1
            log.error("%s refused our registration: %s", self.target,
                      "; ".join(ack.ack_response_reason) or "no reason given")
            return False
        self.registered.set()
        log.info("registered with %s as node %s", self.target, self.node_id)
        for fr in after:
            self._upstream_frame(fr, writer)
        reading = asyncio.create_task(self._read_upstream(reader, writer, rest))
        try:
            next_status = 0.0
            while not stop.is_set() and not reading.done():
                now = time.monotonic()
                if now >= next_status:
                    self._send(writer, outbound.status_report(self.node_id, time.time(), "ok"))
                    next_status = now + s.status_interval_s
                while self._queue:
                    self._send(writer, self._queue.popleft())
                await asyncio.wait_for(writer.drain(), 10.0)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(),
                                           max(0.01, next_status - time.monotonic()))
            if stop.is_set():
                self._send(writer, outbound.status_report(self.node_id, time.time(), "down"))
                with contextlib.suppress(TimeoutError, OSError):
                    await asyncio.wait_for(writer.drain(), 2.0)
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
        return True

    def _send(self, writer: asyncio.StreamWriter, msg: SapientMessage) -> None:
        writer.write(encode(msg))
        self.counters[f"sent_{msg.WhichOneof('content')}"] += 1

    async def _read_upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                             rest: bytes) -> None:
        """Read (and count) what the higher node sends: Errors are logged; a Task is answered
        with a TaskAck rejecting it (cuas's picture is not steerable from above)."""
        while True:
            data = await reader.read(CHUNK)
            if not data:
                return
            frames, rest = parse(rest + data, self.framing, self.config.sapient.max_message_bytes)
            for fr in frames:
                self._upstream_frame(fr, writer)
                if fr.fatal:
                    return

    def _upstream_frame(self, fr: Frame, writer: asyncio.StreamWriter) -> None:
        self._note_upstream(fr.message)
        msg = fr.message
        if msg is not None and msg.WhichOneof("content") == "task" and not validate(msg):
            self._send(writer, convert.task_ack(
                self.node_id, time.time(), msg.node_id, msg.task.task_id,
                "cuas exports its fused tracks and takes no tasks"))
            self._wake.set()

    def _note_upstream(self, msg: SapientMessage | None) -> None:
        if msg is None:
            self.counters["upstream_undecodable"] += 1
            return
        content = msg.WhichOneof("content") or "none"
        self.counters[f"upstream_{content}"] += 1
        if content == "error":
            log.warning("%s reports an error: %s", self.target,
                        "; ".join(msg.error.error_message)[:500])
