"""The recorder: write what travels on the bus into the canonical MCAP recording.

Where the messages come from:

* The daemon's track endpoint (a SUB socket *connected* to it, subscribed to everything):
  ``trk``, ``alert``, ``status.<id>``, and the detections the daemon re-publishes there. The
  detections travel sensor -> daemon on the detection endpoint, where the daemon binds the only
  SUB, so a recorder cannot listen there while the daemon runs; the daemon therefore re-publishes
  every detections message it receives, byte for byte and under its ``det.<sensor>`` topic, on
  its track endpoint.
* Optionally the detection endpoint itself (a SUB socket *bound* there), for capturing sensors
  without a daemon (``cuas record --bind-detections``); the sensors connect to it as they would
  to the daemon.

Each message is written as received: its topic, its payload byte for byte, ``log_time`` the
receive time (``time.time_ns()``) and ``publish_time`` the payload's ``t`` (only ``t`` is
read). A payload without a readable ``t`` is still recorded, with ``publish_time = log_time``,
and counted (``untimed``). A message that is not two frames or whose topic is not UTF-8 cannot
be recorded under a topic; it is counted (``malformed``) and dropped.

The writer closes a chunk at about 64 KiB or 1 s after its first message, and a timer flushes
every ``flush_interval_s`` as well, so a recorder killed with ``kill -9`` loses at most about
one second of messages; ``cuas replay`` reads such a file up to its last complete record.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import zmq
import zmq.asyncio

from cuas import bus
from cuas.record.manifest import SigningKey
from cuas.record.recording import t_to_ns
from cuas.record.writer import ClosesOnExit, RecordingWriter

__all__ = ["Recorder", "RecorderSummary", "payload_time_ns", "record"]

log = logging.getLogger(__name__)

_U64 = 2**64


@dataclass(frozen=True, slots=True)
class RecorderSummary:
    """What a recording session wrote."""

    path: Path
    #: Messages written.
    messages: int
    #: Payload bytes written.
    payload_bytes: int
    #: Size of the finished file (bytes).
    file_bytes: int
    #: Messages written per topic.
    per_topic: dict[str, int] = field(default_factory=dict)
    #: Messages written whose payload has no readable ``t`` (publish time = receive time).
    untimed: int = 0
    #: Messages dropped because they were not (topic, payload) with a UTF-8 topic.
    malformed: int = 0
    #: Wall-clock seconds from start to stop.
    duration_s: float = 0.0

    def line(self) -> str:
        """A one-line, human-readable summary."""
        topics = ", ".join(f"{t} {n}" for t, n in sorted(self.per_topic.items())) or "nothing"
        extra = []
        if self.untimed:
            extra.append(f"{self.untimed} without a readable t")
        if self.malformed:
            extra.append(f"{self.malformed} malformed dropped")
        tail = f"; {', '.join(extra)}" if extra else ""
        return (
            f"recorded {self.messages} messages ({topics}), {self.payload_bytes} payload bytes, "
            f"{self.file_bytes} bytes on disk in {self.duration_s:.1f} s -> {self.path}{tail}"
        )


def payload_time_ns(payload: bytes) -> int | None:
    """The ``t`` of a msgpack payload as UTC ns, or None when it has no usable ``t``.

    Only the map's ``t`` is looked at; the rest of the message is not validated.
    """
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except Exception:  # msgpack raises several unrelated types for bad input
        return None
    if not isinstance(obj, dict):
        return None
    t = obj.get("t")
    if isinstance(t, bool) or not isinstance(t, int | float):
        return None
    try:
        f = float(t)
    except OverflowError:
        return None
    if not math.isfinite(f) or f < 0:
        return None
    ns = t_to_ns(f)
    return ns if ns < _U64 else None


class Recorder(ClosesOnExit):
    """Subscribe to the bus and write every message to an MCAP file.

    Sockets and file are opened in the constructor (so a bind or file error raises there, and
    :attr:`detections_endpoint` gives the real address of a ``tcp://...:*`` bind); :meth:`run`
    records until stopped, then closes the file properly. Use as a context manager, or call
    :meth:`close`, if :meth:`run` is never awaited.

    ``tracks_endpoint``: connect a SUB there (None: do not). ``bind_detections``: bind a SUB on
    this endpoint too (None: do not). ``context``: a ZeroMQ context to share (default: the
    process-wide one). ``flush_interval_s``: the timer that bounds what a kill loses (s).
    ``security``: CURVE keys (:func:`cuas.bus.security`): a client of the track endpoint, a
    server on a bound one, whose authenticator (ZAP) accepts only ``allowed_producers`` keys:
    binding a CURVE server without it would accept any key. Construct inside the event loop
    (the allow lists are re-read on SIGHUP). ``signing_key``: sign the recording's manifest
    (``PATH.manifest``, written either way; see :mod:`cuas.record.manifest`).
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        tracks_endpoint: str | None,
        bind_detections: str | None = None,
        context: zmq.asyncio.Context | None = None,
        flush_interval_s: float = 1.0,
        topics: Sequence[str] = ("",),
        security: bus.CurveKeys | None = None,
        signing_key: SigningKey | None = None,
        site: dict[str, str] | None = None,
    ) -> None:
        """``site``: the site configuration's metadata to carry (:mod:`cuas.record.site`)."""
        if not flush_interval_s > 0:
            raise ValueError(f"flush_interval_s must be > 0 s, got {flush_interval_s}")
        self.path = Path(out)
        self.flush_interval_s = flush_interval_s
        ctx = context if context is not None else zmq.asyncio.Context.instance()
        self._socks: list[zmq.asyncio.Socket] = []
        self.tracks_endpoint = tracks_endpoint
        self.detections_endpoint: str | None = None
        self._auth: bus.BusAuth | None = None
        try:
            if bind_detections is not None and security is not None:
                self._auth = bus.start_authenticator(ctx, security)
            if tracks_endpoint is not None:
                self._socks.append(bus.sub_socket(ctx, tracks_endpoint, bind=False, topics=topics,
                                                  security=security))
            if bind_detections is not None:
                sock = bus.sub_socket(ctx, bind_detections, bind=True, topics=topics,
                                      security=security)
                self._socks.append(sock)
                last = sock.getsockopt(zmq.LAST_ENDPOINT)
                self.detections_endpoint = last.decode() if isinstance(last, bytes) else str(last)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Every recording gets its manifest (tamper evidence), signed when a key is given.
            self._writer = RecordingWriter(self.path, flush_interval_s=flush_interval_s,
                                           manifest=True, signing_key=signing_key)
            if site is not None:
                from cuas.record.site import METADATA_NAME

                self._writer.add_metadata(METADATA_NAME, site)
        except BaseException:
            for s in self._socks:
                s.close(linger=0)
            if self._auth is not None:
                self._auth.stop()
            raise
        self.per_topic: Counter[str] = Counter()
        self.messages = 0
        self.payload_bytes = 0
        self.untimed = 0
        self.malformed = 0
        self._started = time.monotonic()
        self._summary: RecorderSummary | None = None

    def write(self, parts: Sequence[bytes], log_time_ns: int | None = None) -> bool:
        """Record one received message (its frames); False when it was dropped as malformed."""
        now_ns = time.time_ns() if log_time_ns is None else log_time_ns
        if len(parts) != 2:
            self.malformed += 1
            log.warning("dropped a message of %d frames (expected topic, payload)", len(parts))
            return False
        try:
            topic = bytes(parts[0]).decode("utf-8")
        except UnicodeDecodeError:
            topic = ""
        if not topic:
            self.malformed += 1
            log.warning("dropped a message whose topic is empty or not UTF-8: %r",
                        bytes(parts[0][:64]))
            return False
        payload = bytes(parts[1])
        pub_ns = payload_time_ns(payload)
        if pub_ns is None:
            self.untimed += 1
            pub_ns = now_ns
        self._writer.write(topic, payload, log_time_ns=now_ns, publish_time_ns=pub_ns)
        self.messages += 1
        self.payload_bytes += len(payload)
        self.per_topic[topic] += 1
        return True

    async def run(self, stop: asyncio.Event | None = None,
                  duration_s: float | None = None) -> RecorderSummary:
        """Record until ``stop`` is set or ``duration_s`` (s) has passed (or the task is
        cancelled), then take what is already queued, close the file and return the summary.
        An error while writing (disk full) closes the file and propagates."""
        stop = stop if stop is not None else asyncio.Event()
        self._started = time.monotonic()
        tasks = [asyncio.create_task(self._receive(s)) for s in self._socks]
        tasks.append(asyncio.create_task(self._flush_timer()))
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopper, *tasks], timeout=duration_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopper, *tasks):
                task.cancel()
            results = await asyncio.gather(stopper, *tasks, return_exceptions=True)
            try:
                failure = next((r for r in results if isinstance(r, Exception)
                                and not isinstance(r, asyncio.CancelledError)), None)
                if failure is None:
                    self._drain()
            finally:
                self.close()
        if failure is not None:
            raise failure
        return self.summary()

    def _drain(self, limit: int = bus.DEFAULT_HWM) -> None:
        """Write what the sockets have already queued, without waiting (at most ``limit``)."""
        for sock in self._socks:
            raw: zmq.Socket[bytes] = zmq.Socket.shadow(sock.underlying)  # plain, non-blocking
            for _ in range(limit):
                try:
                    parts = raw.recv_multipart(flags=zmq.DONTWAIT)
                except zmq.Again:
                    break
                self.write(parts)

    async def _receive(self, sock: zmq.asyncio.Socket) -> None:
        while True:
            parts = await sock.recv_multipart(copy=True)
            self.write(parts)

    async def _flush_timer(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            self._writer.flush()

    def close(self) -> None:
        """Close the sockets and finish the file (summary, footer). Idempotent."""
        if self._summary is not None:
            return
        for s in self._socks:
            s.close(linger=0)
        if self._auth is not None:
            self._auth.stop()
        self._writer.close()
        self._summary = RecorderSummary(
            path=self.path,
            messages=self.messages,
            payload_bytes=self.payload_bytes,
            file_bytes=self.path.stat().st_size if self.path.exists() else 0,
            per_topic=dict(self.per_topic),
            untimed=self.untimed,
            malformed=self.malformed,
            duration_s=time.monotonic() - self._started,
        )

    def summary(self) -> RecorderSummary:
        """The summary so far (final once closed)."""
        if self._summary is not None:
            return self._summary
        return RecorderSummary(
            path=self.path, messages=self.messages, payload_bytes=self.payload_bytes,
            file_bytes=self.path.stat().st_size if self.path.exists() else 0,
            per_topic=dict(self.per_topic), untimed=self.untimed, malformed=self.malformed,
            duration_s=time.monotonic() - self._started,
        )


async def record(
    out: str | os.PathLike[str],
    *,
    tracks_endpoint: str | None,
    bind_detections: str | None = None,
    stop: asyncio.Event | None = None,
    duration_s: float | None = None,
    context: zmq.asyncio.Context | None = None,
    flush_interval_s: float = 1.0,
) -> RecorderSummary:
    """Open a :class:`Recorder` and run it until ``stop`` or ``duration_s``; the summary."""
    rec = Recorder(out, tracks_endpoint=tracks_endpoint, bind_detections=bind_detections,
                   context=context, flush_interval_s=flush_interval_s)
    return await rec.run(stop, duration_s)
