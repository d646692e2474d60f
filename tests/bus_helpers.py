"""What the tests on real loopback sockets share: the ephemeral endpoint, a bounded asyncio
run, and collecting a sensor's detections and status messages from a SUB socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import zmq.asyncio

from cuas import bus, wire

#: Bind to an ephemeral port on loopback only.
LOOPBACK_ANY = "tcp://127.0.0.1:*"
T = TypeVar("T")


def run_bounded(fn: Callable[[], Awaitable[T]], timeout_s: float = 20.0) -> T:
    """Run the coroutine ``fn()`` on a fresh loop, failing after ``timeout_s`` seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(fn(), timeout_s)

    return asyncio.run(bounded())


async def collect_detections(sock: zmq.asyncio.Socket, kind: str,
                             until: Callable[[list[wire.Detections]], bool],
                             statuses: list[wire.Status], timeout_s: float = 10.0
                             ) -> list[wire.Detections]:
    """``detections`` of ``kind`` received on ``sock`` until ``until(got)`` holds (each on its
    sensor's topic); ``status`` messages go to ``statuses``. Fails after ``timeout_s``."""
    got: list[wire.Detections] = []
    deadline = time.monotonic() + timeout_s
    while not until(got):
        left = deadline - time.monotonic()
        assert left > 0, f"received only {len(got)} detections"
        if await sock.poll(timeout=int(left * 1000)):
            topic, msg = bus.parse_frames(await sock.recv_multipart())
            if isinstance(msg, wire.Detections):
                assert topic == f"det.{msg.sensor}" and msg.kind == kind
                got.append(msg)
            elif isinstance(msg, wire.Status):
                statuses.append(msg)
    return got
