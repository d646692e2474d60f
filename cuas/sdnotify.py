"""systemd service notifications (``sd_notify``): READY, STOPPING, WATCHDOG, STATUS.

A ``Type=notify`` unit tells systemd it is up by sending ``READY=1`` as a datagram to the
AF_UNIX socket named in ``$NOTIFY_SOCKET`` (an ``@`` prefix names an abstract socket). With
``WatchdogSec=`` set, systemd passes ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID`` and restarts the
service when no ``WATCHDOG=1`` arrives within that time. The ping is sent by a task on the
service's own asyncio loop, so a loop that hangs (a blocking call, a busy handler) stops the
pings and systemd restarts it, which a thread pinging on its own could never show.

Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op, so the same code runs in a
terminal, in tests and under systemd.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

__all__ = ["Notifier", "watchdog_period_s"]


def watchdog_period_s(environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout systemd set for this process (s), or None when there is none.

    ``$WATCHDOG_USEC`` is the timeout in microseconds; ``$WATCHDOG_PID``, when set, names the
    process it is meant for (a child started by the service must not take it for its own).
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 if value > 0 else None


class Notifier:
    """Sends notifications to systemd's ``$NOTIFY_SOCKET``; silent when there is none.

    A failed send (socket gone, systemd restarting) is logged once and never raised: a service
    must not die because its supervisor's socket hiccupped. Sends never block: a datagram
    socket whose reader lags (Linux queues only ``net.unix.max_dgram_qlen`` datagrams, 10 by
    default) would otherwise stall the very event loop the watchdog pings prove alive; such a
    datagram is dropped and counted in ``failed``.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        self.address: str | None = None
        if path.startswith("@"):
            self.address = "\0" + path[1:]  # Linux abstract namespace
        elif path.startswith("/"):
            self.address = path
        self.watchdog_s = watchdog_period_s(env)
        self.sent = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        """True when running under a service manager that listens for notifications."""
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` fields in one datagram; True when sent."""
        if self.address is None:
            return False
        data = "\n".join(fields).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(data, socket.MSG_DONTWAIT, self.address)
        except OSError as exc:
            self.failed += 1
            if self.failed == 1:
                log.warning("could not notify systemd at %r: %s", self.address, exc)
            return False
        self.sent += 1
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (with a human-readable ``STATUS=``): start-up is complete."""
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def stopping(self) -> bool:
        """``STOPPING=1``: shutting down on request (not a crash)."""
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        """``STATUS=``: one line shown by ``systemctl status``."""
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the service's loop is alive."""
        return self.notify("WATCHDOG=1")

    async def keep_alive(self) -> None:
        """Ping the watchdog at half its period from the calling event loop, until cancelled.

        Does nothing (returns at once) when systemd set no watchdog.
        """
        if self.address is None or self.watchdog_s is None:
            return
        period = max(0.05, self.watchdog_s / 2)
        while True:
            self.watchdog()
            await asyncio.sleep(period)

