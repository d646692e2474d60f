"""The systemd units (verify, security exposure), sd_notify from the daemon's own loop, and
recording rotation."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cuas import bus
from cuas.cli.main import main as cli_main
from cuas.config import reference_config
from cuas.fusion.daemon import Daemon
from cuas.record.retention import FileInfo, choose
from cuas.sdnotify import Notifier, watchdog_period_s
from cuas.sensors import registry

UNITS = Path(__file__).resolve().parent.parent / "systemd"
SERVICES = sorted(p.name for p in UNITS.glob("*.service"))
#: The exposure `systemd-analyze security` may rate a unit at most (0 safe .. 10 unsafe).
MAX_EXPOSURE = 2.0

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (.ci/run installs the systemd package)")


def _installed_copy(tmp_path: Path) -> Path:
    """The units as installed, except that ExecStart points at this checkout's `cuas` (verify
    insists the binary exists; the README installs it as /usr/local/bin/cuas)."""
    cuas = Path(sys.executable).parent / "cuas"
    assert cuas.exists()
    out = tmp_path / "units"
    out.mkdir()
    for unit in UNITS.iterdir():
        (out / unit.name).write_text(unit.read_text().replace("/usr/local/bin/cuas", str(cuas)))
    return out


def test_the_expected_units_exist_and_name_real_commands() -> None:
    assert {"cuas.service", "cuas-record.service", "cuas-prune.service",
            "cuas-export-cot.service", "cuas-sensor-adsb@.service",
            "cuas-sensor-rf@.service", "cuas-web.service"} <= set(SERVICES)
    assert (UNITS / "cuas-prune.timer").exists()
    daemon = (UNITS / "cuas.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "PrivateTmp=yes", "RestrictAddressFamilies=",
                 "StateDirectory=cuas", "PrivateDevices=yes"):
        assert line in daemon, line
    for name in SERVICES:
        text = (UNITS / name).read_text()
        assert "User=cuas" in text and "CapabilityBoundingSet=\n" in text, name
        # Device access only for the SDR and the camera.
        assert ("DeviceAllow=" in text) == (name in ("cuas-sensor-rf@.service",
                                                     "cuas-sensor-camera@.service")), name
        match = re.search(r"cuas sensor (\w+)", text)
        if match and match.group(1) != "camera":  # the camera adapter is being written
            assert registry.get(match.group(1)).cli is not None, name


@needs_analyze
def test_units_verify(tmp_path: Path) -> None:
    units = _installed_copy(tmp_path)
    files = [str(units / n) for n in SERVICES] + [str(units / "cuas-prune.timer")]
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *files],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ours = [line for line in done.stderr.splitlines() if "cuas" in line]
    assert ours == [], ours


@pytest.mark.machine_dependent
@needs_analyze
@pytest.mark.parametrize("name", SERVICES)
def test_unit_security_exposure_is_at_most_2(tmp_path: Path, name: str) -> None:
    units = _installed_copy(tmp_path)
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                           str(units / name)], capture_output=True, text=True, timeout=120)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    if match is None and "offline" in done.stderr:
        pytest.skip(f"this systemd-analyze cannot rate unit files offline: {done.stderr[:200]}")
    assert match is not None, done.stdout[-500:] + done.stderr[-500:]
    exposure = float(match.group(1))
    print(f"{name}: exposure {exposure}")
    assert exposure <= MAX_EXPOSURE, done.stdout


# ---------------------------------------------------------------------------- sd_notify


class FakeSystemd:
    """The receiving end of $NOTIFY_SOCKET: a real AF_UNIX datagram socket, read as datagrams
    arrive (as systemd does) by a thread that stamps each with its arrival time."""

    def __init__(self, path: Path, reading: bool = True) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.02)
        self.received: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        if reading:
            self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.received.append((time.monotonic(), data.decode()))

    def drain(self) -> list[str]:
        """Every message received so far."""
        time.sleep(0.05)  # let the reader take what is in flight
        with self._lock:
            return [m for _, m in self.received]

    def close(self) -> None:
        self._stop.set()
        if self._reader.is_alive():
            self._reader.join(timeout=2)
        self.sock.close()


def test_a_notify_socket_nobody_reads_never_blocks_the_sender(tmp_path: Path) -> None:
    """Linux queues at most net.unix.max_dgram_qlen (10) unread datagrams; the next send must
    fail fast and be counted, not block the event loop that is feeding the watchdog."""
    systemd = FakeSystemd(tmp_path / "notify", reading=False)
    notifier = Notifier({"NOTIFY_SOCKET": str(systemd.path)})
    started = time.monotonic()
    results = [notifier.watchdog() for _ in range(50)]
    elapsed = time.monotonic() - started
    systemd.close()
    assert results[0] and not all(results)
    assert notifier.failed == results.count(False) > 0
    assert elapsed < 5.0  # (blocking would never return)


def test_notifier_is_silent_without_systemd_and_parses_the_watchdog() -> None:
    quiet = Notifier({})
    assert not quiet.enabled and not quiet.ready() and not quiet.watchdog()
    assert watchdog_period_s({"WATCHDOG_USEC": "10000000"}) == 10.0
    assert watchdog_period_s({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_period_s({"WATCHDOG_USEC": "junk"}) is None
    assert Notifier({"NOTIFY_SOCKET": "@abstract"}).address == "\0abstract"
    # A socket that is gone is a logged failure, never an exception.
    gone = Notifier({"NOTIFY_SOCKET": "/nonexistent/notify"})
    assert gone.enabled and not gone.ready() and gone.failed == 1


def test_daemon_notifies_ready_feeds_the_watchdog_from_its_loop_and_says_stopping(
        tmp_path: Path) -> None:
    systemd = FakeSystemd(tmp_path / "notify")
    env = {"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "200000",
           "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier(env)
    assert notifier.watchdog_s == 0.2

    async def main() -> tuple[float, float]:
        daemon = Daemon(reference_config(), bus.Endpoints("tcp://127.0.0.1:*",
                                                          "tcp://127.0.0.1:*"),
                        status_period_s=0.1, notifier=notifier)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 5)
        await asyncio.sleep(0.5)
        # Hang the loop: the pings must stop while it is stuck (that is what makes systemd
        # restart a hung daemon), and resume after.
        hung_from = time.monotonic()
        time.sleep(0.6)  # blocking on purpose: a hung loop
        hung_to = time.monotonic()
        systemd.drain()
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, 10)
        return hung_from, hung_to

    hung_from, hung_to = asyncio.run(main())
    messages = systemd.drain()
    systemd.close()
    assert messages[0].startswith("READY=1\nSTATUS=detections on tcp://127.0.0.1:")
    assert "STOPPING=1" in messages
    assert messages.index("STOPPING=1") > messages.index("WATCHDOG=1")
    pings = [t for t, m in systemd.received if m == "WATCHDOG=1"]
    assert len(pings) >= 5
    # Nothing arrived while the loop was blocked; pings came at ~0.1 s intervals otherwise.
    assert not any(hung_from + 0.01 < t < hung_to for t in pings)
    gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
    assert max(gaps) >= 0.5 and sorted(gaps)[len(gaps) // 2] < 0.3
    assert any(m.startswith("STATUS=ok: 0 tracks") for m in messages)


def test_a_sensor_adapter_notifies_ready_on_connecting_pings_while_waiting_and_stops(
        tmp_path: Path) -> None:
    """The sensor units are Type=notify too: the shared SensorPublisher says READY once its
    socket is connected, feeds the watchdog from the adapter's loop even while no daemon
    subscribes yet, and says STOPPING when it closes."""
    from collections import Counter

    from cuas.sensors.publisher import SensorPublisher

    systemd = FakeSystemd(tmp_path / "notify")
    notifier = Notifier({"NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "200000"})

    async def main() -> None:
        pub = SensorPublisher("tcp://127.0.0.1:1", "adsb-test", Counter(), live=True,
                              notifier=notifier)
        stop = asyncio.Event()
        opening = asyncio.create_task(pub.open(stop))  # nobody will subscribe
        await asyncio.sleep(0.6)
        stop.set()
        await asyncio.wait_for(opening, 5)
        await pub.close()

    asyncio.run(main())
    messages = systemd.drain()
    systemd.close()
    assert messages[0] == "READY=1\nSTATUS=publishing det.adsb-test to tcp://127.0.0.1:1"
    assert messages.count("WATCHDOG=1") >= 3
    assert messages[-1] == "STOPPING=1"


# ---------------------------------------------------------------------------- rotation


def _f(name: str, size: int, mtime: float) -> FileInfo:
    return FileInfo(Path(name), size, mtime)


def test_rotation_deletes_by_age_then_oldest_beyond_the_size_cap() -> None:
    day = 86400.0
    files = [_f("a.mcap", 100, 0.0), _f("b.mcap", 100, 5 * day), _f("c.mcap", 100, 9 * day),
             _f("d.mcap", 100, 10 * day)]
    now = 10 * day + 60
    assert [f.path.name for f in choose(files, now=now, max_age_s=7 * day,
                                        max_total_bytes=None)] == ["a.mcap"]
    assert [f.path.name for f in choose(files, now=now, max_age_s=7 * day,
                                        max_total_bytes=200)] == ["a.mcap", "b.mcap"]
    # The newest (being written) is never deleted, however small the cap.
    assert [f.path.name for f in choose(files, now=now, max_age_s=None,
                                        max_total_bytes=1)] == ["a.mcap", "b.mcap", "c.mcap"]
    assert choose([], now=now, max_age_s=1.0, max_total_bytes=1) == []


def test_cuas_prune_on_real_files(tmp_path: Path) -> None:
    now = time.time()
    for i, age_days in enumerate((30, 20, 3, 1, 0)):
        path = tmp_path / f"cuas-{i}.mcap"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (now - age_days * 86400, now - age_days * 86400))
    (tmp_path / "notes.txt").write_text("not a recording")
    assert cli_main(["prune", str(tmp_path), "--max-age-days", "14",
                     "--max-total-gb", str(2500 / 1e9)]) == 0
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["cuas-3.mcap", "cuas-4.mcap", "notes.txt"]
    assert cli_main(["prune", str(tmp_path)]) == 2


def _setting(text: str, name: str) -> str | None:
    """The last value of ``name=`` in a unit file (later lines override earlier ones)."""
    found = re.findall(rf"^{name}=(.*)$", text, flags=re.MULTILINE)
    return found[-1].strip() if found else None


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|min)?", value)
    assert match, value
    return float(match.group(1)) * {"ms": 1e-3, "s": 1.0, "min": 60.0, None: 1.0}[match.group(2)]


@pytest.mark.parametrize("name", SERVICES)
def test_restarting_units_never_give_up_and_wait_between_attempts(name: str) -> None:
    text = (UNITS / name).read_text()
    restart = _setting(text, "Restart")
    if restart in (None, "no"):
        assert _setting(text, "Type") == "oneshot", name  # only the timer's job runs once
        return
    # StartLimitIntervalSec=0 disables the start rate limit: systemd never leaves the unit
    # failed for good after a burst of quick failures (a sensor plugged back in hours later).
    assert _setting(text, "StartLimitIntervalSec") == "0", name
    delay = _setting(text, "RestartSec")
    assert delay is not None and _seconds(delay) >= 1.0, (name, delay)
