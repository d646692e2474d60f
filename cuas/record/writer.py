"""Writing recordings: the canonical MCAP form (:class:`RecordingWriter`) and the hand-made
JSON Lines form (:class:`JsonlWriter`); :func:`open_writer` picks one by the file name.

MCAP files written here are schema-less (schema id 0), one channel per topic, message encoding
``msgpack``, uncompressed chunks of about ``chunk_size`` bytes. Each chunk is written and the
file flushed as soon as it closes, which happens when it outgrows ``chunk_size`` or when a write
comes ``flush_interval_s`` after the chunk's first message. A writer killed (``kill -9``) thus
loses only the chunk it was filling. Reading is :mod:`cuas.record.recording`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Final, Protocol, Self, cast

from mcap.writer import CompressionType
from mcap.writer import Writer as McapWriter

from cuas import wire
from cuas.errors import RecordingError
from cuas.record.manifest import HashingFile, ManifestWriter, SigningKey
from cuas.record.recording import LIBRARY, MESSAGE_ENCODING, t_to_ns

__all__ = [
    "ClosesOnExit",
    "JsonlWriter",
    "MessageWriter",
    "RecordingWriter",
    "open_writer",
    "write_jsonl",
]

log = logging.getLogger(__name__)

_U64: Final = 2**64


class MessageWriter(Protocol):
    """What both recording writers offer: write typed messages, close, context management."""

    def write_message(self, msg: wire.Message, *, log_time_ns: int | None = None) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def _u64(name: str, v: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int (ns), got {type(v).__name__}")
    if not 0 <= v < _U64:
        raise ValueError(f"{name} must fit in an unsigned 64-bit integer (ns), got {v}")
    return v


class ClosesOnExit:
    """Context management for anything with a ``close()``: ``with X(...) as x:`` closes it."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RecordingWriter(ClosesOnExit):
    """Write the canonical MCAP recording (see the module docstring for the layout).

    ``chunk_size`` (bytes) and ``flush_interval_s`` (seconds) bound what a kill loses: the open
    chunk, i.e. at most about ``chunk_size`` bytes, and, while messages keep coming, about
    ``flush_interval_s`` of them. In a quiet period the open chunk waits for the next write;
    call :meth:`flush` from a timer for a hard time bound. ``fsync=True`` also forces each
    chunk to the disk (against power loss, at the cost of a sync per chunk). ``manifest=True``
    (implied by a ``signing_key``) also writes ``PATH.manifest``, the hash chain over the
    chunks (:mod:`cuas.record.manifest`). Not thread-safe.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        chunk_size: int = 64 * 1024,
        flush_interval_s: float = 1.0,
        fsync: bool = False,
        manifest: bool = False,
        signing_key: SigningKey | None = None,
    ) -> None:
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be > 0 bytes, got {chunk_size}")
        if not flush_interval_s >= 0.0:
            raise ValueError(f"flush_interval_s must be >= 0, got {flush_interval_s}")
        self.path = Path(path)
        self._chunk_size = chunk_size
        self._flush_interval_s = flush_interval_s
        self._fsync = fsync
        try:
            self._file: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot create recording: {exc.strerror or exc}") from exc
        # Tamper evidence (cuas.record.manifest): hash what each flush writes, sign the chain.
        self._manifest: ManifestWriter | None = None
        self._hashing: HashingFile | None = None
        if manifest or signing_key is not None:
            self._hashing = HashingFile(self._file)
            try:
                self._manifest = ManifestWriter(self.path, signing_key, fsync=fsync)
            except BaseException:
                self._file.close()
                raise
        # With Writer.flush (mcap >= 1.6) we decide when a chunk closes; without it mcap closes
        # chunks by size on its own and we can only flush the file.
        self._can_close_chunk = hasattr(McapWriter, "flush")
        self._mcap = McapWriter(
            cast(IO[bytes], self._hashing) if self._hashing is not None else self._file,
            chunk_size=2**62 if self._can_close_chunk else chunk_size,
            compression=CompressionType.NONE,
        )
        self._mcap.start(profile="", library=LIBRARY)
        self._file.flush()
        self._seal()
        self._channels: dict[str, int] = {}
        self._pending = 0  # bytes in the open chunk
        self._opened_at: float | None = None  # time.monotonic() of the open chunk's first write
        self._closed = False
        self.messages = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def write(
        self,
        topic: str,
        payload: bytes | bytearray | memoryview,
        *,
        log_time_ns: int,
        publish_time_ns: int,
    ) -> None:
        """Record one payload (kept byte for byte) on ``topic``; times are UTC ns: when it was
        received, and the message's ``t``. Bad arguments raise before anything is written."""
        if self._closed:
            raise ValueError(f"{self.path}: write to a closed recording")
        # Validate everything before mcap starts building the record: a failure half-way
        # would leave a broken record in the chunk.
        if not isinstance(topic, str) or not topic:
            raise ValueError(f"topic must be a non-empty string, got {topic!r}")
        topic_bytes = topic.encode("utf-8")  # lone surrogates raise here, not inside mcap
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
        data = bytes(payload)
        log_ns = _u64("log_time_ns", log_time_ns)
        pub_ns = _u64("publish_time_ns", publish_time_ns)
        channel_id = self._channels.get(topic)
        if channel_id is None:
            channel_id = self._mcap.register_channel(
                topic=topic, message_encoding=MESSAGE_ENCODING, schema_id=0, metadata={}
            )
            self._channels[topic] = channel_id
            self._pending += 25 + len(topic_bytes) + len(MESSAGE_ENCODING)
        self._mcap.add_message(
            channel_id=channel_id, log_time=log_ns, data=data, publish_time=pub_ns
        )
        self.messages += 1
        self._pending += 31 + len(data)
        now = time.monotonic()
        if self._opened_at is None:
            self._opened_at = now
        if self._pending > self._chunk_size or now - self._opened_at >= self._flush_interval_s:
            self.flush()

    def add_metadata(self, name: str, data: dict[str, str]) -> None:
        """Add an MCAP metadata record (``name``, string keys and values): what the data was
        made with, such as the site configuration (:mod:`cuas.record.site`)."""
        if self._closed:
            raise ValueError(f"{self.path}: write to a closed recording")
        self._mcap.add_metadata(name, dict(data))

    def write_message(self, msg: wire.Message, *, log_time_ns: int | None = None) -> None:
        """Record a typed message (``wire.encode``, ``wire.topic_for``); ``log_time_ns``
        defaults to its ``t`` (UTC ns), which keeps conversions deterministic."""
        t_ns = t_to_ns(msg.t)
        self.write(
            wire.topic_for(msg),
            wire.encode(msg),
            log_time_ns=t_ns if log_time_ns is None else log_time_ns,
            publish_time_ns=t_ns,
        )

    def flush(self) -> None:
        """Close the open chunk (if any), write it out and flush the file (fsync if asked)."""
        if self._closed:
            return
        if self._can_close_chunk:
            self._mcap.flush()
        else:  # pragma: no cover - old mcap without Writer.flush
            self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())
        self._seal()
        self._pending = 0
        self._opened_at = None

    def close(self) -> None:
        """Write the last chunk, the summary and the footer, and close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._mcap.finish()
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())
            self._seal(final=True)
        finally:
            self._file.close()
            if self._manifest is not None:
                self._manifest.close()

    def _seal(self, *, final: bool = False) -> None:
        """Add what the last flush put on disk to the manifest (if this writer keeps one)."""
        if self._manifest is None or self._hashing is None:
            return
        seg = self._hashing.cut()
        if seg is not None:
            self._manifest.add(*seg, final=final)


class JsonlWriter(ClosesOnExit):
    """Write the JSON Lines form, one ``{"topic", "msg"}`` per line, flushed per line.

    The form has no receive time, so ``log_time_ns`` is ignored. A message whose ``attrs``
    hold something JSON cannot (bytes, NaN) raises ``TypeError``/``ValueError``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._file: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot create recording: {exc.strerror or exc}") from exc
        self.messages = 0

    @property
    def closed(self) -> bool:
        return self._file.closed

    def write_message(self, msg: wire.Message, *, log_time_ns: int | None = None) -> None:
        """Append one message as a line."""
        if self._file.closed:
            raise ValueError(f"{self.path}: write to a closed recording")
        line = json.dumps({"topic": wire.topic_for(msg), "msg": wire.to_dict(msg)}, allow_nan=False)
        self._file.write(line.encode("utf-8") + b"\n")
        self._file.flush()
        self.messages += 1

    def close(self) -> None:
        """Close the file. Idempotent."""
        self._file.close()


def write_jsonl(path: str | os.PathLike[str], messages: Iterable[wire.Message]) -> int:
    """Write ``messages`` as a JSON Lines recording; returns how many were written."""
    with JsonlWriter(path) as w:
        for m in messages:
            w.write_message(m)
        return w.messages


def open_writer(path: str | os.PathLike[str]) -> MessageWriter:
    """A JSON Lines writer for a ``.jsonl`` path, else the canonical MCAP writer."""
    if Path(path).suffix.lower() == ".jsonl":
        return JsonlWriter(path)
    return RecordingWriter(path)
