"""A small rtl_tcp-protocol server for tests, on 127.0.0.1 only: it greets like rtl_tcp
(``RTL0``, tuner, gain count), parses and records every 5-byte command it receives, and on
each frequency command streams the capture mapped to that frequency (once, then waits for the
next retune, so that a dwell sees exactly one capture). It can misbehave on purpose: drop the
link after some bytes, send a short or foreign greeting.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from cuas.sensors.rf import rtl_tcp

#: Command codes a client of ours may send; anything else is a protocol error.
KNOWN_CODES = frozenset({rtl_tcp.SET_FREQUENCY, rtl_tcp.SET_SAMPLE_RATE, rtl_tcp.SET_GAIN_MODE,
                         rtl_tcp.SET_GAIN, rtl_tcp.SET_FREQ_CORRECTION, rtl_tcp.SET_AGC_MODE,
                         rtl_tcp.SET_GAIN_BY_INDEX})


@dataclass
class Connection:
    """What one client connection sent and was sent."""

    commands: list[tuple[int, int]] = field(default_factory=list)
    sent: int = 0
    errors: list[str] = field(default_factory=list)


class RtlTcpTestServer:
    """``captures``: tuned frequency (Hz) -> cu8 bytes streamed after that frequency command.

    ``greeting``: bytes sent first (default a proper R820T greeting); ``drop_after``: per
    connection index, close after that many sample bytes; ``chunk``: write size (bytes).
    """

    def __init__(self, captures: dict[int, bytes], *, greeting: bytes | None = None,
                 drop_after: dict[int, int] | None = None, chunk: int = 16384) -> None:
        self.captures = captures
        self.greeting = rtl_tcp.greeting() if greeting is None else greeting
        self.drop_after = drop_after or {}
        self.chunk = chunk
        self.connections: list[Connection] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RtlTcpTestServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"rtltcp://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Connection()
        index = len(self.connections)
        self.connections.append(conn)
        limit = self.drop_after.get(index)
        try:
            writer.write(self.greeting)
            await writer.drain()
            if len(self.greeting) < rtl_tcp.HEADER_LEN or self.greeting[:4] != rtl_tcp.MAGIC:
                return  # a broken server: greet badly and hang up
            rest = b""
            while True:
                data = await reader.read(4096)
                if not data:
                    return
                cmds, rest = rtl_tcp.parse_commands(rest + data)
                for code, value in cmds:
                    conn.commands.append((code, value))
                    if code not in KNOWN_CODES:
                        conn.errors.append(f"unknown command 0x{code:02x}")
                    if code == rtl_tcp.SET_FREQUENCY:
                        payload = self.captures.get(value)
                        if payload is None:
                            conn.errors.append(f"tuned to {value} Hz: no capture there")
                            continue
                        for i in range(0, len(payload), self.chunk):
                            part = payload[i: i + self.chunk]
                            if limit is not None and conn.sent + len(part) > limit:
                                part = part[: max(0, limit - conn.sent)]
                                writer.write(part)
                                conn.sent += len(part)
                                await writer.drain()
                                return  # the link drops mid-stream
                            writer.write(part)
                            conn.sent += len(part)
                            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)
