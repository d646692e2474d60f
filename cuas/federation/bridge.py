"""``cuas bridge nats``: a site's tracks, alerts and heartbeats onto NATS.

Reads the site daemon's track endpoint with :class:`cuas.outputs.stream.TrackStream` (already
validated) and publishes each message's contract payload on ``cuas.<site>.<kind>``. Track
snapshots and heartbeats are latest values (core NATS: one lost in an outage is replaced by
the next). Alerts go to JetStream and wait for the stream's acknowledgement: while the link is
down they are held in order (``buffered``), resent when it is back (``resent``; the stream
drops a duplicate by its ``Nats-Msg-Id``), and only the oldest beyond ``max_buffered`` are
``dropped``. A later alert never overtakes an earlier one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from dataclasses import dataclass
from typing import Final

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from cuas import bus, wire
from cuas.backoff import Backoff
from cuas.config import FederationConfig
from cuas.federation import link
from cuas.outputs.stream import TrackStream

log = logging.getLogger(__name__)

#: Seconds to wait for the stream's acknowledgement of one alert.
ACK_TIMEOUT_S: Final = 2.0


@dataclass(frozen=True, slots=True)
class BridgeSummary:
    """What a bridge run did (counter name -> count)."""

    counters: dict[str, int]


class Bridge:
    """One site's bridge for ``cfg`` ([federation])."""

    def __init__(self, cfg: FederationConfig) -> None:
        self.cfg = cfg
        self.counters: Counter[str] = Counter()
        self._pending: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()

    def queue_alert(self, alert: wire.Alert) -> None:
        """Hold an alert for JetStream, dropping (and counting) the oldest beyond the bound."""
        self._pending.append((link.alert_msg_id(self.cfg.site, alert.seq, alert.t),
                              wire.encode(alert)))
        if len(self._pending) > self.cfg.max_buffered:
            self._pending.popleft()
            self.counters["alerts_dropped"] += 1
        self._wake.set()

    @property
    def pending(self) -> int:
        """Alerts not yet acknowledged by the stream."""
        return len(self._pending)

    async def _send_alerts(self, nc: Client, stop: asyncio.Event) -> None:
        js = nc.jetstream()
        subj = link.subject(self.cfg.site, "alert")
        backoff = Backoff(first_s=0.25, max_s=2.0)
        failed = False
        while not stop.is_set():
            if not self._pending:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                continue
            msg_id, payload = self._pending[0]
            try:
                ack = await js.publish(subj, payload, timeout=ACK_TIMEOUT_S, stream=self.cfg.stream,
                                       headers={"Nats-Msg-Id": msg_id})
            except (TimeoutError, nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                if not failed:
                    self.counters["alerts_buffered"] += len(self._pending)
                    log.warning("alerts held (%d): %s", len(self._pending), exc)
                failed = True
                self.counters["publish_failures"] += 1
                await backoff.wait(stop)
                continue
            self._pending.popleft()
            backoff.reset()
            self.counters["alerts_sent"] += 1
            if failed:
                self.counters["alerts_resent"] += 1
                if not self._pending:
                    failed = False
            if ack.duplicate:
                self.counters["alerts_duplicate"] += 1

    async def _on_ack(self, msg: Msg) -> None:
        self.counters["acks_received"] += 1

    async def run(self, endpoint: str, stop: asyncio.Event, *,
                  security: bus.CurveKeys | None = None, nc: Client | None = None
                  ) -> BridgeSummary:
        """Bridge ``endpoint`` (the daemon's tracks) to NATS until ``stop`` is set; the alerts
        still held at the end are counted as ``alerts_unsent``."""
        own = nc is None
        nc = await link.connect(self.cfg) if nc is None else nc
        sender = asyncio.create_task(self._send_alerts(nc, stop), name="bridge-alerts")
        ack_sub = await nc.subscribe(link.subject(self.cfg.site, "ack"), cb=self._on_ack)
        stream = TrackStream(endpoint, security=security)
        try:
            async for _topic, msg in stream.messages(stop):
                if isinstance(msg, wire.Alert):
                    self.queue_alert(msg)
                    continue
                kind = "trk" if isinstance(msg, wire.Tracks) else "status"
                try:
                    await nc.publish(link.subject(self.cfg.site, kind), wire.encode(msg))
                    self.counters[f"{kind}_published"] += 1
                except nats.errors.Error:
                    self.counters[f"{kind}_dropped"] += 1
        finally:
            stream.close()
            self.counters["malformed_in"] = stream.counts.bad
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            with contextlib.suppress(nats.errors.Error):
                await ack_sub.unsubscribe()
            self.counters["alerts_unsent"] = len(self._pending)
            if own:
                await link.close(nc)
        return BridgeSummary(dict(self.counters))
