"""The ZeroMQ bus: endpoints, sockets and the two-frame message form of the wire contract.

Every message is two frames: the topic (UTF-8: ``det.<sensor>``, ``trk``, ``alert``,
``status.<component>``) and the msgpack payload. The daemon binds both endpoints; sensors and
operators connect, so either side can restart and ZeroMQ reconnects.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import zmq
import zmq.asyncio

from cuas import wire
from cuas.config import Config
from cuas.errors import DecodeError

#: ZeroMQ drops (and disconnects) a peer sending a frame larger than this, so a flood of
#: giant messages cannot exhaust memory; anything between the contract's limit and this is
#: received, then dropped as oversized and counted.
MAX_FRAME_BYTES: Final = 4 * wire.MAX_PAYLOAD_BYTES
#: Messages ZeroMQ may queue per socket before it drops (PUB) or stops reading (SUB).
DEFAULT_HWM: Final = 100_000


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the daemon listens for detections and publishes tracks (ZeroMQ URLs)."""

    detections: str
    tracks: str


def endpoints(config: Config, detections: str | None = None, tracks: str | None = None) -> Endpoints:
    """The configured endpoints, each overridden by its command-line value when given."""
    return Endpoints(detections or config.bus.detections, tracks or config.bus.tracks)


def frames(msg: wire.Message) -> list[bytes]:
    """The two frames of a message on the bus: topic, msgpack payload."""
    return [wire.topic_for(msg).encode(), wire.encode(msg)]


def parse_frames(parts: Sequence[bytes]) -> tuple[str, wire.Message]:
    """Topic and validated message from received frames; raises :class:`DecodeError`."""
    if len(parts) != 2:
        raise DecodeError(f"expected 2 frames (topic, payload), got {len(parts)}")
    try:
        topic = bytes(parts[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("topic is not UTF-8", key="topic", data=bytes(parts[0][:64])) from None
    return topic, wire.decode(bytes(parts[1]))


def pub_socket(ctx: zmq.asyncio.Context, endpoint: str, *, bind: bool,
               hwm: int = DEFAULT_HWM) -> zmq.asyncio.Socket:
    """A PUB socket bound to or connected to ``endpoint``."""
    sock = ctx.socket(zmq.PUB)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.LINGER, 1000)
    (sock.bind if bind else sock.connect)(endpoint)
    return sock


def sub_socket(ctx: zmq.asyncio.Context, endpoint: str, *, bind: bool,
               topics: Sequence[str] = ("",), hwm: int = DEFAULT_HWM) -> zmq.asyncio.Socket:
    """A SUB socket bound to or connected to ``endpoint``, subscribed to topic prefixes."""
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
    sock.setsockopt(zmq.LINGER, 0)
    for topic in topics:
        sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
    (sock.bind if bind else sock.connect)(endpoint)
    return sock


def xpub_socket(ctx: zmq.asyncio.Context, endpoint: str, *, hwm: int = DEFAULT_HWM) -> zmq.asyncio.Socket:
    """A publisher connected to ``endpoint`` that can see subscriptions (XPUB), so that it can
    wait for its subscriber before sending: what a PUB sends before the subscription arrives
    is silently lost (ZeroMQ's slow-joiner effect), and a replay must lose nothing."""
    sock = ctx.socket(zmq.XPUB)
    # Pass every subscription up, repeats included: after the subscriber restarts, its
    # fresh subscription is the only sign that it is back.
    sock.setsockopt(zmq.XPUB_VERBOSE, 1)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.LINGER, 5000)
    sock.connect(endpoint)
    return sock


async def wait_for_subscriber(sock: zmq.asyncio.Socket, topic: str, timeout_s: float) -> bool:
    """Wait until a subscription covering ``topic`` reaches an XPUB socket; False on timeout."""
    deadline = time.monotonic() + timeout_s
    wanted = topic.encode()
    while (left := deadline - time.monotonic()) > 0:
        if not await sock.poll(timeout=max(1, int(left * 1000))):
            break
        msg = await sock.recv()
        if msg[:1] == b"\x01" and wanted.startswith(msg[1:]):
            return True
    return False
