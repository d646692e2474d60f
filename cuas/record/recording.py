"""Recordings: reading the canonical MCAP form and the hand-made JSON Lines form.

See "Recordings" in ``shared/spec/wire.md``. A :class:`Record` is one message as it was on the
bus: its topic, its msgpack payload byte for byte, when it was received (``log_time_ns``) and
its ``t`` (``publish_time_ns``); both are UTC nanoseconds since the Unix epoch.

Writing them is :mod:`cuas.record.writer` (MCAP written there is schema-less, one channel per
topic, message encoding ``msgpack``, uncompressed chunks flushed as each closes).

:class:`RecordingReader` never raises on a recording that was cut short at any byte: it replays
every complete record and sets ``torn``. For MCAP, the messages of the chunk that was being
written when the file was cut are salvaged one by one as long as the chunk is uncompressed
(ours always are), so nothing complete is lost; a cut *compressed* chunk (other writers) is
lost whole, because it cannot be decompressed or CRC-checked in part.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import IO, Any, Final, Literal, cast

import msgpack
from mcap.data_stream import ReadDataStream
from mcap.exceptions import McapError, UnsupportedCompressionError
from mcap.opcode import Opcode
from mcap.records import Channel, Chunk, McapRecord, Message
from mcap.stream_reader import StreamReader, breakup_chunk

from cuas import wire
from cuas.errors import DecodeError, RecordingError

__all__ = [
    "MCAP_MAGIC",
    "Record",
    "RecordingReader",
    "iter_messages",
    "t_to_ns",
]

log = logging.getLogger(__name__)

MCAP_MAGIC: Final = b"\x89MCAP0\r\n"
MESSAGE_ENCODING: Final = "msgpack"
LIBRARY: Final = "cuas"
#: Longest JSON Lines line read (bytes); a longer one is skipped without being held in memory.
MAX_LINE_BYTES: Final = 64 * 1024 * 1024
_BOM: Final = b"\xef\xbb\xbf"
_NS_PER_S: Final = Decimal(1_000_000_000)


def t_to_ns(t: float) -> int:
    """UTC seconds (a message's ``t``) to integer UTC nanoseconds.

    Rounds the shortest decimal form of the float, so ``1790000000.04`` gives
    ``1790000000040000000`` rather than the binary float's ``...039999962``.
    """
    return int((Decimal(repr(float(t))) * _NS_PER_S).to_integral_value(ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class Record:
    """One recorded message: topic, msgpack payload (as on the wire), times in UTC ns."""

    topic: str
    payload: bytes
    #: When the message was received (UTC ns).
    log_time_ns: int
    #: The message's ``t`` (UTC ns).
    publish_time_ns: int


# --------------------------------------------------------------------------- reading


class _Cut(McapError):
    """The file ends before the bytes a record says it has."""


class _ExactReader:
    """A file view for mcap's stream reader that refuses short reads.

    mcap's ``ReadDataStream`` silently accepts a short read (it only fails on an empty one),
    which would turn a cut message into a truncated payload. This raises instead, and it checks
    lengths against the file size before reading, so a garbage length allocates nothing.
    """

    def __init__(self, f: IO[bytes], available: int) -> None:
        self._f = f
        self._left = available
        self.pos = 0  # bytes consumed through this view

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self._left:
            raise _Cut(f"record needs {n} bytes, {self._left} left in the file")
        data = self._f.read(n)
        if len(data) != n:
            raise _Cut(f"short read: {len(data)} of {n} bytes")
        self._left -= n
        self.pos += n
        return data


class RecordingReader:
    """Iterate the :class:`Record` s of an MCAP or JSON Lines recording, in file order.

    The format is recognised by content (MCAP magic, else JSON Lines). A missing file, or one
    that is neither format, raises :class:`RecordingError` here, in the constructor. Iterating
    never raises on damage (except :class:`RecordingError` for an MCAP chunk compressed with a
    codec that is not installed); after (or during) iteration these attributes tell what
    happened:

    ``records``
        records yielded.
    ``skipped``
        malformed JSON Lines lines, or unreadable MCAP records (a chunk failing its CRC, a
        message on an unknown or non-msgpack channel), each logged.
    ``torn``
        the file ends mid-record (cut MCAP, or a final unterminated JSON Lines line that does
        not parse); everything before was replayed. ``torn_at`` is the byte offset where the
        incomplete tail begins.
    ``salvaged``
        records recovered from a cut MCAP chunk (not CRC-checked: the CRC covers the whole chunk).

    JSON Lines: each line is ``{"topic": str, "msg": {...}}``; ``msg`` is re-encoded with
    msgpack unvalidated (``wire.decode`` validates downstream); ``publish_time_ns`` is ``msg.t``
    and ``log_time_ns`` the same (0 when ``t`` is not a finite number). Blank lines are ignored.
    The first non-blank line, if complete, must be a valid record, otherwise the file is not
    taken for a recording; later malformed lines are skipped.

    Iterating again re-reads the file and resets the counters. Memory stays bounded by one MCAP
    chunk or one JSON line.
    """

    def __init__(self, path: str | os.PathLike[str], *, salvage: bool = True) -> None:
        self.path = Path(path)
        self.salvage = salvage
        self.records = 0
        self.skipped = 0
        self.salvaged = 0
        self.torn = False
        self.torn_at: int | None = None
        self._warned: set[int] = set()
        self.format: Literal["mcap", "jsonl"] = self._detect()

    def __repr__(self) -> str:
        return f"RecordingReader({str(self.path)!r}, format={self.format!r})"

    def __iter__(self) -> Iterator[Record]:
        self.records = self.skipped = self.salvaged = 0
        self.torn = False
        self.torn_at = None
        if self.format == "mcap":
            yield from self._iter_mcap()
        else:
            yield from self._iter_jsonl()

    # ---- format detection

    def _open(self) -> IO[bytes]:
        try:
            return open(self.path, "rb")
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot open recording: {exc.strerror or exc}") from exc

    def _detect(self) -> Literal["mcap", "jsonl"]:
        with self._open() as f:
            head = f.read(len(MCAP_MAGIC))
            if head and MCAP_MAGIC.startswith(head):
                return "mcap"  # complete magic, or a file cut inside it
            if not head:
                # A cut MCAP file, or an empty scenario: only the name can tell.
                return "jsonl" if self.path.suffix.lower() == ".jsonl" else "mcap"
            f.seek(0)
            self._check_jsonl_start(f)
            return "jsonl"

    def _check_jsonl_start(self, f: IO[bytes]) -> None:
        line_no = 0
        while raw := f.readline(MAX_LINE_BYTES):
            line_no += 1
            if line_no == 1:
                raw = raw.removeprefix(_BOM)
            if not raw.strip():
                continue
            if not raw.lstrip().startswith(b"{"):
                raise RecordingError(
                    f"{self.path}: not a recording: no MCAP magic, and line {line_no} is not a "
                    "JSON object"
                )
            if not raw.endswith(b"\n"):
                if len(raw) >= MAX_LINE_BYTES:
                    raise RecordingError(
                        f"{self.path}: line {line_no} is longer than {MAX_LINE_BYTES} bytes"
                    )
                return  # a lone unterminated first line: a cut recording, judged when read
            parsed = _parse_jsonl_line(raw)
            if isinstance(parsed, str):
                raise RecordingError(
                    f"{self.path}: not a JSON Lines recording: line {line_no}: {parsed}"
                )
            return

    # ---- JSON Lines

    def _iter_jsonl(self) -> Iterator[Record]:
        with self._open() as f:
            offset = 0
            line_no = 0
            while raw := f.readline(MAX_LINE_BYTES):
                line_no += 1
                start = offset
                offset += len(raw)
                terminated = raw.endswith(b"\n")
                if not terminated and len(raw) >= MAX_LINE_BYTES:
                    # Overlong: drop the rest of the line without holding it.
                    while more := f.readline(MAX_LINE_BYTES):
                        offset += len(more)
                        if more.endswith(b"\n"):
                            terminated = True
                            break
                    if terminated:
                        self._skip_line(line_no, f"longer than {MAX_LINE_BYTES} bytes")
                    else:
                        self._tear(start, f"line {line_no} is unterminated and overlong")
                    continue
                if line_no == 1:
                    raw = raw.removeprefix(_BOM)
                if not raw.strip():
                    continue
                parsed = _parse_jsonl_line(raw)
                if isinstance(parsed, Record):
                    self.records += 1
                    yield parsed
                elif terminated:
                    self._skip_line(line_no, parsed)
                else:
                    self._tear(start, f"final line {line_no} is unterminated: {parsed}")

    def _skip_line(self, line_no: int, reason: str) -> None:
        self.skipped += 1
        log.warning("%s:%d: skipped malformed line: %s", self.path, line_no, reason)

    def _tear(self, offset: int, reason: str) -> None:
        self.torn = True
        self.torn_at = offset
        log.warning(
            "%s: recording is torn at byte %d (%s); replayed up to the last complete record",
            self.path, offset, reason,
        )

    # ---- MCAP

    def _iter_mcap(self) -> Iterator[Record]:
        channels: dict[int, str | None] = {}
        self._warned = set()
        with self._open() as f:
            size = os.fstat(f.fileno()).st_size
            view = _ExactReader(f, size)
            stream = StreamReader(cast(IO[bytes], view), emit_chunks=True, record_size_limit=None)
            it = stream.records
            good_end = 0  # end of the last complete top-level record
            while True:
                try:
                    rec = next(it)
                except StopIteration:
                    return  # footer and closing magic read: complete
                except Exception as exc:  # a cut or damaged tail: stop there, never raise
                    self._tear(good_end, f"{type(exc).__name__}: {exc}")
                    break
                good_end = view.pos
                if isinstance(rec, Chunk):
                    try:
                        inner = breakup_chunk(rec, validate_crc=True)
                    except UnsupportedCompressionError as exc:
                        raise RecordingError(f"{self.path}: {exc}; install that codec") from exc
                    except Exception as exc:
                        self.skipped += 1
                        log.warning(
                            "%s: skipped unreadable chunk ending at byte %d: %s: %s",
                            self.path, good_end, type(exc).__name__, exc,
                        )
                        continue
                    for r in inner:
                        if (out := self._on_mcap_record(r, channels)) is not None:
                            yield out
                elif (out := self._on_mcap_record(rec, channels)) is not None:
                    yield out
            if self.salvage and good_end > 0:
                for r in self._salvage_chunk(f, good_end, size):
                    if (out := self._on_mcap_record(r, channels)) is not None:
                        self.salvaged += 1
                        yield out
                if self.salvaged:
                    log.warning(
                        "%s: salvaged %d records from the cut chunk at byte %d",
                        self.path, self.salvaged, good_end,
                    )

    def _on_mcap_record(self, r: McapRecord, channels: dict[int, str | None]) -> Record | None:
        if isinstance(r, Channel):
            if r.message_encoding == MESSAGE_ENCODING:
                channels[r.id] = r.topic
            else:
                channels[r.id] = None
                self._warn_channel(
                    r.id, f"channel {r.id} ({r.topic!r}) has message encoding "
                    f"{r.message_encoding!r}, not {MESSAGE_ENCODING!r}: its messages are skipped",
                )
            return None
        if not isinstance(r, Message):
            return None
        topic = channels.get(r.channel_id)
        if topic is None:
            self.skipped += 1
            if r.channel_id not in channels:
                self._warn_channel(
                    r.channel_id, f"messages on channel {r.channel_id}, never defined, are skipped"
                )
            return None
        self.records += 1
        return Record(
            topic=topic,
            payload=bytes(r.data),
            log_time_ns=r.log_time,
            publish_time_ns=r.publish_time,
        )

    def _warn_channel(self, channel_id: int, text: str) -> None:
        if channel_id not in self._warned:
            self._warned.add(channel_id)
            log.warning("%s: %s", self.path, text)

    def _salvage_chunk(self, f: IO[bytes], offset: int, size: int) -> Iterator[McapRecord]:
        """Complete channel and message records at the start of a cut, uncompressed chunk."""
        f.seek(offset)
        s = ReadDataStream(cast(IO[bytes], _ExactReader(f, size - offset)))
        try:
            if s.read1() != Opcode.CHUNK:
                return
            s.read8()  # record length
            s.read(8 + 8 + 8 + 4)  # message start/end time, uncompressed size, CRC
            compression = s.read_prefixed_string()
            left = s.read8()  # length of the records
        except Exception:
            return
        if compression:
            log.warning("%s: cannot salvage a cut %s-compressed chunk", self.path, compression)
            return
        while left >= 9:
            try:
                opcode = s.read1()
                length = s.read8()
                if length > left - 9:
                    return
                body = s.read(length)
            except Exception:
                return  # the cut
            left -= 9 + length
            try:
                inner = ReadDataStream(io.BytesIO(body))
                if opcode == Opcode.CHANNEL:
                    yield Channel.read(inner)
                elif opcode == Opcode.MESSAGE and length >= 22:
                    yield Message.read(inner, length)
            except Exception:
                return  # garbage: stop salvaging


def _parse_jsonl_line(raw: bytes) -> Record | str:
    """A JSON Lines record, or the reason the line is not one."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return f"not UTF-8 ({exc.reason} at byte {exc.start})"
    except (ValueError, RecursionError) as exc:
        return f"not JSON ({exc})"
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    topic = obj.get("topic")
    if not isinstance(topic, str) or not topic:
        return "'topic' is missing or not a non-empty string"
    msg = obj.get("msg")
    if not isinstance(msg, dict):
        return "'msg' is missing or not an object"
    try:
        payload = msgpack.packb(msg, use_bin_type=True)
    except (ValueError, OverflowError, TypeError) as exc:
        return f"'msg' cannot be packed as msgpack ({exc})"
    t_ns = _json_t_ns(msg.get("t"))
    return Record(topic=topic, payload=payload, log_time_ns=t_ns, publish_time_ns=t_ns)


def _json_t_ns(t: Any) -> int:
    if isinstance(t, bool) or not isinstance(t, int | float):
        return 0
    try:
        f = float(t)
    except OverflowError:
        return 0
    return t_to_ns(f) if math.isfinite(f) else 0


def iter_messages(records: Iterable[Record]) -> Iterator[tuple[Record, wire.Message | DecodeError]]:
    """Decode each record with :func:`wire.decode`; a malformed one yields its error instead.

    Callers count the errors as malformed drops; iteration goes on.
    """
    for rec in records:
        try:
            yield rec, wire.decode(rec.payload)
        except DecodeError as exc:
            yield rec, exc
