"""The whole system as separate processes on loopback: the fusion daemon (``cuas run
--replay``), the console (``cuas web``), and a listener on the daemon's track endpoint that
keeps what the bus carried (the last snapshot, every acknowledgement)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import zmq

from cuas import wire
from cuas.config import Config
from cuas.errors import DecodeError
from tests.web.helpers import ROOT


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cuas(*args: str, log: Path, root: Path = ROOT) -> subprocess.Popen[bytes]:
    """``cuas ARGS`` as its own process, its output in ``log``; the package from ``root``
    (this checkout unless told: the benchmark runs an older one beside it)."""
    fh: IO[bytes] = open(log, "wb")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen([sys.executable, "-m", "cuas.cli.main", *args], cwd=root,
                            env=_env(root), stdout=fh, stderr=subprocess.STDOUT)


def wait_for_line(log: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float) -> str:
    """The first line of ``log`` holding ``text`` (fails if the process ends first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if text in line:
                return line
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} ended ({proc.returncode}):\n{log.read_text()}")
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} in {log} within {timeout_s} s:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it does not end within 15 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class BusListener:
    """Subscribes to ``trk`` and ``ack`` on a track endpoint in a thread."""

    endpoint: str
    last: wire.Tracks | None = None
    acks: list[wire.Message] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> BusListener:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.SUB)
        for topic in (b"trk", b"ack"):
            sock.setsockopt(zmq.SUBSCRIBE, topic)
        sock.connect(self.endpoint)
        try:
            while not self._stop.is_set():
                if not sock.poll(100):
                    continue
                parts = sock.recv_multipart()
                try:
                    msg = wire.decode(parts[1])
                except (DecodeError, IndexError):
                    continue
                if isinstance(msg, wire.Tracks):
                    self.last = msg
                elif parts[0] == b"ack":
                    self.acks.append(msg)
        finally:
            sock.close(0)
            ctx.term()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def publish(endpoint: str, messages: list[wire.Message], settle_s: float = 0.5) -> None:
    """Publish ``messages`` to a detection endpoint (after the connection settles)."""
    from cuas import bus

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.connect(endpoint)
    time.sleep(settle_s)
    for msg in messages:
        sock.send_multipart(bus.frames(msg))
        time.sleep(0.05)
    sock.close(linger=2000)
    ctx.term()


def config_path(config: Config) -> str:
    assert config.path is not None
    return config.path
