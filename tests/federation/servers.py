"""Real ``nats-server`` processes for the federation tests and benchmark: a hub with
JetStream and leaf nodes (one per site) linked to it, each through a TCP proxy on loopback
that can cut the link. Everything binds 127.0.0.1 on free ports; configs are written here."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

NATS_SERVER = shutil.which("nats-server") or (
    "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None)

#: Credentials the test servers are configured with.
FEDERATE_USER = ("federate", "fed-secret-1")
LEAF_LINK_USER = ("leaflink", "leaf-secret-2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nats-server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nats-server did not listen on {port}")


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_server(name: str, conf: str, port: int, workdir: Path) -> Server:
    path = workdir / f"{name}.conf"
    path.write_text(conf)
    log = (workdir / f"{name}.log").open("wb")
    assert NATS_SERVER is not None
    proc = subprocess.Popen([NATS_SERVER, "-c", str(path)], stdout=log, stderr=subprocess.STDOUT)
    _wait_port(port, proc)
    return Server(name, port, proc)


def hub_conf(port: int, leaf_port: int, store: Path) -> str:
    """The hub: JetStream (the alerts stream lives here), the federate's user, leaf links."""
    return f"""
server_name: hub
listen: 127.0.0.1:{port}
jetstream {{ store_dir: "{store}", max_memory_store: 64MB, max_file_store: 1GB }}
authorization {{
  users = [ {{ user: {FEDERATE_USER[0]}, password: {FEDERATE_USER[1]} }} ]
}}
leafnodes {{
  listen: 127.0.0.1:{leaf_port}
  # Leaves must reach the hub only through their own link (the proxy): the address the hub
  # tells them about is one nobody listens on (2.9 still passes it with no_advertise).
  no_advertise: true
  advertise: "127.0.0.1:{free_port()}"
  authorization {{ user: {LEAF_LINK_USER[0]}, password: {LEAF_LINK_USER[1]} }}
}}
"""


def leaf_conf(name: str, port: int, hub_leaf_port: int, user: tuple[str, str]) -> str:
    """A site's leaf node: its bridge's user, and a link to the hub (through ``hub_leaf_port``)."""
    return f"""
server_name: {name}
listen: 127.0.0.1:{port}
authorization {{
  users = [ {{ user: {user[0]}, password: {user[1]} }} ]
}}
leafnodes {{
  reconnect: 1
  remotes = [ {{ url: "nats-leaf://{LEAF_LINK_USER[0]}:{LEAF_LINK_USER[1]}@127.0.0.1:{hub_leaf_port}" }} ]
}}
"""


class Proxy:
    """A TCP proxy on loopback (a site's WAN link), running in its own thread: :meth:`cut`
    drops every connection and refuses new ones until :meth:`restore`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.up = True
        self._conns: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True, name="proxy")
        self._thread.start()
        self._ready.wait(5)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
            self._ready.set()

        self._loop.run_until_complete(serve())
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._conns.update((writer, uw))

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.transport.abort()

        await asyncio.gather(pipe(reader, uw), pipe(ur, writer))
        self._conns.difference_update((writer, uw))

    def _cut(self) -> None:
        self.up = False
        for w in list(self._conns):
            w.transport.abort()
        self._conns.clear()

    def cut(self) -> None:
        """Drop the link (both directions, at once) and refuse reconnections."""
        self._loop.call_soon_threadsafe(self._cut)

    def restore(self) -> None:
        """Accept connections again (the leaf node reconnects by itself)."""
        self.up = True

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
