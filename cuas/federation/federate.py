"""``cuas federate``: the regional node. Subscribes to every site's subjects on the hub, fuses
the picture (:class:`cuas.federation.regional.Regional`) and publishes it in the track
contract twice: on NATS as ``cuas.<region>.trk`` and on a local ZeroMQ PUB (``trk``,
``alert``, ``status.<region>``), so ``cuas tracks``, ``cuas export cot`` and ``cuas sapient
export`` read it unchanged.

Alerts come from the JetStream stream through a durable pull consumer: each is forwarded once
(ids de-duplicated, redeliveries dropped), in the stream's order, which is each site's order,
and acknowledged only after it went out; a ``cuas.<site>.ack`` record then tells the site.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Final

import nats.errors
import nats.js.errors
import zmq
import zmq.asyncio
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from cuas import bus, wire
from cuas.config import FederationConfig
from cuas.federation import link
from cuas.federation.regional import Regional

log = logging.getLogger(__name__)

#: Seconds between the federate's own heartbeats (the contract asks for at most 5).
STATUS_PERIOD_S: Final = 2.0
#: Alerts fetched from JetStream per request.
FETCH_BATCH: Final = 256


@dataclass(frozen=True, slots=True)
class FederateSummary:
    """What a federate run did: snapshots and alerts published, and its counters."""

    snapshots: int
    alerts: int
    counters: dict[str, int]


class Federate:
    """The regional node for ``cfg``; ``publish`` overrides ``cfg.publish`` (ZeroMQ endpoint)."""

    def __init__(self, cfg: FederationConfig, publish: str | None = None) -> None:
        self.cfg = cfg
        self.regional = Regional(cfg)
        self.endpoint = publish or cfg.publish
        self.snapshots = 0
        self.alerts = 0
        self._status_seq = 0
        self._started = time.monotonic()

    def _on_site_message(self, msg: Msg) -> None:
        where = link.split_subject(msg.subject)
        if where is None or where[0] == self.cfg.region:
            return
        try:
            self.regional.accept(where[0], where[1], msg.data)
        except Exception:  # a bug must not end the subscription: count it, log it, go on
            self.regional.counters["dropped_internal"] += 1
            log.exception("failed on a message from %s", msg.subject)

    async def _alerts(self, nc: Client, pub: zmq.asyncio.Socket, stop: asyncio.Event,
                      site: str = "*") -> None:
        """Forward the alerts of ``site`` (``*``: every site) from a durable pull consumer."""
        js = nc.jetstream()
        sub = None
        durable = f"federate-{self.cfg.region}" + ("" if site == "*" else f"-{site}")
        while not stop.is_set():
            try:
                if sub is None:
                    await link.ensure_stream(js, self.cfg.stream)
                    sub = await js.pull_subscribe(
                        link.subject(site, "alert"), durable=durable, stream=self.cfg.stream,
                        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT,
                                              deliver_policy=DeliverPolicy.ALL,
                                              max_ack_pending=FETCH_BATCH * 4, ack_wait=30.0))
                batch = await sub.fetch(FETCH_BATCH, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                self.regional.counters["alert_fetch_errors"] += 1
                log.warning("alert consumer: %s; retrying", exc)
                await asyncio.sleep(1.0)
                continue
            for m in batch:
                await self._alert(nc, pub, m)

    async def _alert(self, nc: Client, pub: zmq.asyncio.Socket, m: Msg) -> None:
        where = link.split_subject(m.subject)
        if where is not None and where[0] != self.cfg.region:
            site = where[0]
            got = self.regional.accept(site, "alert", m.data)
            msg_id = (m.headers or {}).get("Nats-Msg-Id") or f"{site}.js{m.metadata.sequence.stream}"
            if isinstance(got, wire.Alert) and self.regional.alert_once(msg_id):
                regional = self.regional.regional_alert(site, got, time.time())
                await pub.send_multipart(bus.frames(regional))
                nc_payload = wire.encode(regional)
                await nc.publish(link.subject(self.cfg.region, "alert"), nc_payload,
                                 headers={"Nats-Msg-Id": link.alert_msg_id(
                                     self.cfg.region, regional.seq, regional.t)})
                await nc.publish(link.subject(site, "ack"), json.dumps(
                    {"alert": msg_id, "by": self.cfg.region, "t": time.time()}).encode())
                self.alerts += 1
        # Malformed and duplicate alerts are acknowledged too: redelivering them forever
        # would only repeat the drop.
        with contextlib.suppress(nats.errors.Error):
            await m.ack()

    async def run(self, stop: asyncio.Event, nc: Client | None = None) -> FederateSummary:
        """Run until ``stop`` is set (connecting with ``[federation]`` unless ``nc`` is given)."""
        own = nc is None
        nc = await link.connect(self.cfg) if nc is None else nc
        ctx = zmq.asyncio.Context.instance()
        pub = bus.pub_socket(ctx, self.endpoint, bind=True)
        # A shard subscribes to its own sites only (docs/federation.md, scaling).
        shard = self.cfg.site_list or ("*",)
        subs = [await nc.subscribe(link.subject(site, kind), cb=self._async_cb)
                for site in shard for kind in ("trk", "status")]
        consumers = [asyncio.create_task(self._alerts(nc, pub, stop, site),
                                         name=f"federate-alerts-{site}") for site in shard]
        period = 1.0 / self.cfg.rate_hz
        next_status = 0.0
        try:
            while not stop.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=period)
                now = time.time()
                snap = self.regional.picture(now)
                frames = bus.frames(snap)
                await pub.send_multipart(frames)
                with contextlib.suppress(nats.errors.Error):
                    await nc.publish(link.subject(self.cfg.region, "trk"), frames[1])
                self.snapshots += 1
                if time.monotonic() >= next_status:
                    next_status = time.monotonic() + STATUS_PERIOD_S
                    await pub.send_multipart(bus.frames(self.status(now)))
        finally:
            for task in consumers:
                task.cancel()
            for task in consumers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for s in subs:
                with contextlib.suppress(nats.errors.Error):
                    await s.unsubscribe()
            pub.close(linger=500)
            if own:
                await link.close(nc)
        return FederateSummary(self.snapshots, self.alerts, dict(self.regional.counters))

    async def _async_cb(self, msg: Msg) -> None:
        self._on_site_message(msg)

    def status(self, now: float) -> wire.Status:
        """The federate's heartbeat: its counters and when each site was last heard from."""
        self._status_seq += 1
        last_seen = {name: s.last_t for name, s in self.regional.sites.items() if s.last_t}
        counters = {k: int(v) for k, v in self.regional.counters.items()}
        counters.update(snapshots=self.snapshots, alerts=self.alerts,
                        sites=len(self.regional.sites))
        return wire.Status(src=self.cfg.region, seq=self._status_seq, t=now, state="ok",
                           uptime_s=time.monotonic() - self._started, counters=counters,
                           last_seen=last_seen)
