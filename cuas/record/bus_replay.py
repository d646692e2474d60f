"""Replay on the bus: publish a recording's detections to the daemon's detection endpoint.

The replay connects an XPUB socket to the detection endpoint (the daemon binds a SUB there),
waits until the daemon's subscription arrives (what a publisher sends before that is lost),
then publishes every ``det.*`` record's payload byte for byte, under its recorded topic, in
file order. Records on other topics (``trk``, ``alert``, ``status.*``) are skipped.

Pacing follows the records' publish times (their ``t``, UTC ns): ``speed`` 1 is real time,
``speed`` X is X times faster, ``speed`` 0 as fast as possible. A record whose time goes back
(a late batch) is sent at once; a record without a time (publish time 0) does not move the
clock. Nothing is dropped: the socket refuses rather than drops when its queue is full
(``XPUB_NODROP``), the replay waits for room, and the final close lingers until the queue is
sent (or ``linger_s`` passes).

:func:`replay_on_bus` is a coroutine so that ``cuas demo`` can run it in the daemon's loop; it
never blocks that loop for long (file scan in a thread, a yield every few messages at speed 0).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

import zmq
import zmq.asyncio

from cuas import bus
from cuas.errors import NoSubscriberError
from cuas.record.recording import RecordingReader

__all__ = [
    "DET_PREFIX",
    "NoSubscriberError",
    "ReplayBusSummary",
    "replay_on_bus",
]

#: Topic prefix of the records that are published; everything else is skipped.
DET_PREFIX: Final = "det."
#: Longest pause between two attempts to send while the socket's queue is full (s).
_BACKOFF_MAX_S: Final = 0.05
#: At speed 0, let the event loop run other tasks after this many messages.
_YIELD_EVERY: Final = 16
#: Progress bar redraws at most this often (s).
_REDRAW_S: Final = 0.1
_BAR_WIDTH: Final = 30


@dataclass(frozen=True, slots=True)
class ReplayBusSummary:
    """What a replay on the bus read and sent."""

    #: Records read from the file (all topics).
    records: int
    #: ``det.*`` messages published.
    sent: int
    #: Records on other topics, not published.
    skipped: int
    #: Payload bytes published.
    bytes_sent: int
    #: The file ends mid-record; everything before it was sent.
    torn: bool
    #: Wall-clock seconds from the subscriber's arrival to the last message queued.
    elapsed_s: float
    #: Recording time covered by the published messages (s, from their publish times).
    span_s: float
    endpoint: str
    speed: float


@dataclass(frozen=True, slots=True)
class _Scan:
    """A first pass over the file: how many detections there are and the first topic."""

    det_records: int
    first_topic: str | None


def _scan(path: Path) -> _Scan:
    count = 0
    first: str | None = None
    for rec in RecordingReader(path):
        if rec.topic.startswith(DET_PREFIX):
            count += 1
            if first is None:
                first = rec.topic
    return _Scan(count, first)


class _Progress:
    """A one-line progress bar on a terminal: messages sent / total and recording time."""

    def __init__(self, stream: TextIO, total: int, speed: float) -> None:
        self._stream = stream
        self._total = total
        self._speed = speed
        self._last = 0.0
        self._drawn = False

    def update(self, sent: int, rec_s: float, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < _REDRAW_S:
            return
        self._last = now
        frac = sent / self._total if self._total else 1.0
        filled = int(round(frac * _BAR_WIDTH))
        pace = "max" if self._speed == 0 else f"x{self._speed:g}"
        self._stream.write(
            f"\rreplay [{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {sent}/{self._total} "
            f"{frac * 100:5.1f}%  t+{rec_s:.1f} s  {pace}\x1b[K"
        )
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


async def _send(sock: zmq.asyncio.Socket, parts: list[bytes]) -> None:
    """Send both frames; while the queue is full, wait (growing pauses) and try again."""
    pause = 0.0005
    while True:
        try:
            await sock.send_multipart(parts, flags=zmq.DONTWAIT, copy=False)
            return
        except zmq.Again:
            await asyncio.sleep(pause)
            pause = min(pause * 2, _BACKOFF_MAX_S)


async def replay_on_bus(
    path: str | os.PathLike[str],
    endpoint: str,
    *,
    speed: float = 1.0,
    wait_s: float = 10.0,
    progress: bool = False,
    context: zmq.asyncio.Context | None = None,
    hwm: int = bus.DEFAULT_HWM,
    linger_s: float = 30.0,
    security: bus.CurveKeys | None = None,
) -> ReplayBusSummary:
    """Publish the ``det.*`` records of a recording on ``endpoint`` (ZeroMQ URL, connected).

    ``speed``: 1 real time, X times faster, 0 as fast as possible. ``wait_s``: how long to wait
    for the daemon's subscription before raising :class:`NoSubscriberError`. ``progress``: draw
    a bar on stderr. ``context``: a ZeroMQ context to share (default: a private one, terminated
    in a worker thread at the end so the loop keeps running while the last messages go out).
    ``hwm``: messages queued before the replay waits for room. ``linger_s``: the longest wait
    at the end for queued messages to be sent. ``security``: CURVE client keys
    (:func:`cuas.bus.security`). A file that cannot be read raises
    :class:`~cuas.errors.RecordingError` before anything is connected.
    """
    if not speed >= 0.0 or speed == float("inf"):
        raise ValueError(f"speed must be a finite number >= 0, got {speed}")
    if not wait_s >= 0.0:
        raise ValueError(f"wait_s must be >= 0 s, got {wait_s}")
    path = Path(path)
    RecordingReader(path)  # raises RecordingError now for a missing or foreign file
    scan = await asyncio.to_thread(_scan, path)

    own_ctx = context is None
    ctx = zmq.asyncio.Context() if context is None else context
    sock = bus.xpub_socket(ctx, endpoint, hwm=hwm, security=security)
    sock.setsockopt(zmq.XPUB_NODROP, 1)
    linger_ms = 0
    try:
        if scan.first_topic is not None and not await bus.wait_for_subscriber(
            sock, scan.first_topic, wait_s
        ):
            raise NoSubscriberError(
                f"nobody subscribed to {scan.first_topic!r} at {endpoint} within {wait_s:g} s: "
                "is the daemon running (`cuas run`) and bound to that detection endpoint?"
            )
        summary = await _publish(sock, path, endpoint, scan.det_records, speed, progress)
        linger_ms = int(linger_s * 1000)
        return summary
    finally:
        sock.close(linger=linger_ms)
        if own_ctx:
            # term() waits for the lingering messages; in a thread, so the loop (and a daemon
            # sharing it) keeps running meanwhile.
            await asyncio.to_thread(ctx.term)


async def _publish(sock: zmq.asyncio.Socket, path: Path, endpoint: str, total: int,
                   speed: float, progress: bool) -> ReplayBusSummary:
    loop = asyncio.get_running_loop()
    reader = RecordingReader(path)
    bar = _Progress(sys.stderr, total, speed) if progress else None
    sent = skipped = nbytes = 0
    first_ns: int | None = None  # publish time of the first timed det record
    high_ns = 0  # latest publish time seen (the replay clock never goes back)
    started = loop.time()
    try:
        for rec in reader:
            if not rec.topic.startswith(DET_PREFIX):
                skipped += 1
                continue
            if rec.publish_time_ns > 0:
                if first_ns is None:
                    first_ns = high_ns = rec.publish_time_ns
                    started = loop.time()
                high_ns = max(high_ns, rec.publish_time_ns)
            rec_s = (high_ns - first_ns) / 1e9 if first_ns is not None else 0.0
            if speed > 0:
                delay = started + rec_s / speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif sent % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
            await _send(sock, [rec.topic.encode(), rec.payload])
            sent += 1
            nbytes += len(rec.payload)
            if bar is not None:
                bar.update(sent, rec_s, force=sent == total)
    finally:
        if bar is not None:
            bar.close()
    span = (high_ns - first_ns) / 1e9 if first_ns is not None else 0.0
    return ReplayBusSummary(
        records=reader.records, sent=sent, skipped=skipped, bytes_sent=nbytes,
        torn=reader.torn, elapsed_s=loop.time() - started, span_s=span,
        endpoint=endpoint, speed=speed,
    )
