"""An acknowledgement's way over the bus: the console publishes an ``ack`` on the daemon's
detection endpoint, the daemon republishes it on its track endpoint (where recorders and other
consoles hear it), and only on its own topic."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.fusion.daemon import Daemon
from cuas.web import audit
from tests.web.helpers import jar, login, serving, site_config

LOOPBACK = bus.Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")


async def _next_ack(sub: zmq.asyncio.Socket, timeout_s: float = 10.0) -> tuple[str, wire.Ack]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if await sub.poll(timeout=100):
            topic, msg = bus.parse_frames(await sub.recv_multipart())
            if isinstance(msg, wire.Ack):
                return topic, msg
    raise AssertionError("no ack arrived")


def test_the_daemon_republishes_acks_from_its_detection_endpoint(tmp_path: Path) -> None:
    config = site_config(tmp_path)

    async def scenario() -> None:
        daemon = Daemon(config, LOOPBACK, status_period_s=0.2, replay=True)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 10)
        ctx = zmq.asyncio.Context()
        sub = bus.sub_socket(ctx, daemon.bound.tracks, bind=False, topics=("ack",))
        pub = bus.xpub_socket(ctx, daemon.bound.detections)
        try:
            assert await bus.wait_for_subscriber(pub, "ack", 5.0)
            ack = wire.Ack(src="cuas.web", seq=0, t=1_800_000_000.0, alert_id="cuas:4",
                           action="dismissed", user="olivia", note="a kite", track_id=12)
            # On another topic it is refused (a sender cannot slip one in as detections).
            await pub.send_multipart([b"det.radar", wire.encode(ack)])
            await pub.send_multipart(bus.frames(ack))
            topic, got = await _next_ack(sub)
            assert (topic, got) == ("ack", ack)
            assert daemon.state.counters["acks_received"] == 1
            assert daemon.state.counters["dropped_wrong_type"] == 1

            # The console: an operator's acknowledgement goes out on the bus, comes back
            # through the daemon and settles the alert in the console's inbox.
            async with serving(config, tracks_endpoint=daemon.bound.tracks,
                               ack_endpoint=daemon.bound.detections) as console, \
                    aiohttp.ClientSession(cookie_jar=jar()) as http:
                assert console.url is not None
                await asyncio.sleep(0.5)  # the console's connections settle
                console.feed.picture.add_alert(wire.Alert(
                    "cuas", 9, 1_800_000_000.0, 3, "high", "low", ("inside the bowl",), "bowl"))
                csrf = (await login(http, console.url, "olivia"))["csrf"]
                async with http.post(console.url + "api/ack", json={
                        "alert_id": "cuas:9", "action": "acknowledged", "note": "on it"},
                        headers={"X-CSRF-Token": csrf}) as r:
                    assert r.status == 200 and (await r.json())["published"]
                topic, got = await _next_ack(sub)
                assert (got.alert_id, got.action, got.user, got.note, got.track_id) == (
                    "cuas:9", "acknowledged", "olivia", "on it", 3)
                assert got.src == f"{config.daemon_id}.web"
                entry = console.feed.picture.alerts["cuas:9"]
                assert (entry["state"], entry["by"]) == ("acknowledged", "olivia")
            assert daemon.state.counters["acks_received"] == 2
        finally:
            sub.close(0)
            pub.close(0)
            ctx.term()
            stop.set()
            await asyncio.wait_for(task, 20)
        record = audit.read(tmp_path / "audit.jsonl")[-1]
        assert (record["action"], record["alert_id"], record["track_id"], record["note"]) == (
            "acknowledged", "cuas:9", 3, "on it")

    asyncio.run(asyncio.wait_for(scenario(), 90))
