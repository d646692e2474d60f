"""SAPIENT framing on a TCP stream: each ``SapientMessage`` is its protobuf encoding behind a
4-byte little-endian length prefix (BSI Flex 335 v2.0). Pure functions on bytes.

A bad protobuf body is one bad frame: the length prefix still says where the next message
starts, so the stream stays usable. A length beyond :data:`MAX_MESSAGE_BYTES` cannot be trusted
to resynchronise (it may be garbage rather than a big message), so it ends the stream: the
caller answers with an Error and closes the connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cuas.sapient.proto import SapientMessage

#: Largest message accepted (bytes). Dstl's reference messages are 0.1-4 kB; a Registration
#: with a large taxonomy stays far below this.
MAX_MESSAGE_BYTES: Final = 1 << 20
PREFIX_BYTES: Final = 4
#: Bytes read from a SAPIENT connection at a time.
CHUNK: Final = 65536


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame cut from the stream.

    ``payload`` is the frame's body (for an oversized frame: its 4 prefix bytes);
    ``message`` the decoded message, or None with ``error`` saying why not. ``fatal`` marks a
    frame after which the stream cannot be followed (an oversized length).
    """

    payload: bytes
    message: SapientMessage | None
    error: str | None = None
    fatal: bool = False


@dataclass(slots=True)
class FramingStats:
    """Counters of one stream's framing (monotonic integers)."""

    frames: int = 0
    bytes: int = 0
    bad_protobuf: int = 0
    oversized: int = 0
    truncated: int = 0

    def as_counters(self) -> dict[str, int]:
        return {"frames": self.frames, "frame_bytes": self.bytes,
                "bad_protobuf": self.bad_protobuf, "oversized": self.oversized,
                "truncated": self.truncated}


def encode(msg: SapientMessage) -> bytes:
    """A message as it goes on the wire: length prefix (uint32 LE) then its protobuf bytes."""
    body = msg.SerializeToString()
    return len(body).to_bytes(PREFIX_BYTES, "little") + body


def decode_body(body: bytes) -> tuple[SapientMessage | None, str | None]:
    """Decode one frame body; returns (message, None) or (None, reason)."""
    msg = SapientMessage()
    try:
        msg.ParseFromString(body)
    except Exception as exc:  # protobuf's own DecodeError, or deeper failures on hostile input
        return None, f"not a SapientMessage protobuf: {exc}"
    return msg, None


def parse(buf: bytes, stats: FramingStats | None = None,
          max_bytes: int = MAX_MESSAGE_BYTES) -> tuple[list[Frame], bytes]:
    """Cut ``buf`` into frames; returns the frames and the unconsumed rest (an incomplete
    frame to be completed by the next read). After a ``fatal`` frame the rest is empty: the
    stream cannot be followed further."""
    stats = stats if stats is not None else FramingStats()
    frames: list[Frame] = []
    pos = 0
    end = len(buf)
    while end - pos >= PREFIX_BYTES:
        n = int.from_bytes(buf[pos:pos + PREFIX_BYTES], "little")
        if n > max_bytes:
            stats.oversized += 1
            frames.append(Frame(bytes(buf[pos:pos + PREFIX_BYTES]), None,
                                f"frame length {n} bytes exceeds the limit of {max_bytes}",
                                fatal=True))
            return frames, b""
        if end - pos - PREFIX_BYTES < n:
            break
        body = bytes(buf[pos + PREFIX_BYTES:pos + PREFIX_BYTES + n])
        pos += PREFIX_BYTES + n
        stats.frames += 1
        stats.bytes += PREFIX_BYTES + n
        msg, err = decode_body(body)
        if msg is None:
            stats.bad_protobuf += 1
        frames.append(Frame(body, msg, err))
    return frames, bytes(buf[pos:])


def split_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) -> (host, port) of a SAPIENT peer."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)
