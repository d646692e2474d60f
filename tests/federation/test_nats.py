"""The federation end to end with real ``nats-server`` processes on loopback: a hub with
JetStream and three leaf nodes (one per site), each leaf linked to the hub through a TCP proxy
the test can cut. Site daemons are real ZeroMQ publishers of the track contract; their
bridges, the federate process and the reader of the regional picture are the real ones."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors
import numpy as np
import pytest
import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.config import FederationConfig
from cuas.federation.bridge import Bridge
from cuas.federation.federate import Federate
from cuas.outputs.stream import TrackStream
from tests.federation import servers as S
from tests.federation.helpers import ORIGIN, noisy, snapshot, track

pytestmark = pytest.mark.skipif(
    S.NATS_SERVER is None,
    reason="nats-server is not installed (apt-get install nats-server; .ci/run installs it)")

SITE_USERS = [("site1", "pw-one"), ("site2", "pw-two"), ("site3", "pw-three")]


@dataclass
class Federation:
    hub: S.Server
    leaves: list[S.Server]
    proxies: list[S.Proxy]

    def federate_cfg(self, region: str) -> FederationConfig:
        return FederationConfig(site=region, region=region, servers=self.hub.url,
                                user=S.FEDERATE_USER[0], password=S.FEDERATE_USER[1],
                                region_lat=ORIGIN[0], region_lon=ORIGIN[1], region_h=ORIGIN[2],
                                rate_hz=4.0)

    def site_cfg(self, leaf: int, site: str) -> FederationConfig:
        user, password = SITE_USERS[leaf]
        return FederationConfig(site=site, servers=self.leaves[leaf].url, user=user,
                                password=password)


@pytest.fixture(scope="module")
def federation() -> Iterator[Federation]:
    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        hub_port, hub_leaf = S.free_port(), S.free_port()
        hub = S.start_server("hub", S.hub_conf(hub_port, hub_leaf, wd / "js"), hub_port, wd)
        proxies, leaves = [], []
        try:
            for i, user in enumerate(SITE_USERS):
                px = S.Proxy(hub_leaf)
                proxies.append(px)
                port = S.free_port()
                leaves.append(S.start_server(f"leaf{i}", S.leaf_conf(f"leaf{i}", port, px.port,
                                                                     user), port, wd))
            time.sleep(1.0)  # leaf links up
            yield Federation(hub, leaves, proxies)
        finally:
            for leaf in leaves:
                leaf.stop()
            for px in proxies:
                px.close()
            hub.stop()


def _endpoint() -> str:
    return f"tcp://127.0.0.1:{S.free_port()}"


class SiteDaemon:
    """A site daemon's track endpoint: a real ZeroMQ PUB sending contract messages."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.endpoint = _endpoint()
        self.sock = bus.pub_socket(zmq.asyncio.Context.instance(), self.endpoint, bind=True)
        self.seq = 0

    async def send(self, msg: wire.Message) -> None:
        await self.sock.send_multipart(bus.frames(msg))

    async def tracks(self, tracks: list[wire.Track]) -> None:
        self.seq += 1
        now = time.time()
        await self.send(snapshot(self.name, self.seq, now, tracks))

    def close(self) -> None:
        self.sock.close(linger=0)


def _alert(src: str, seq: int) -> wire.Alert:
    return wire.Alert(src=src, seq=seq, t=time.time(), track_id=7, threat="high",
                      previous="low", reasons=("entered zone",), zone="pitch")


async def _collect(endpoint: str, seconds: float, out: list[wire.Message]) -> None:
    with TrackStream(endpoint) as stream:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            got = await stream.receive(timeout_s=left)
            if got is not None:
                out.append(got[1])


def test_a_drone_seen_by_two_sites_is_one_regional_track(federation: Federation) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        node = Federate(federation.federate_cfg("overlap"), publish=_endpoint())
        fed_task = asyncio.create_task(node.run(stop))
        daemons = [SiteDaemon(f"d{i}") for i in range(3)]
        bridges = [Bridge(federation.site_cfg(i, f"ov{i}")) for i in range(3)]
        tasks = [asyncio.create_task(b.run(d.endpoint, stop)) for b, d in zip(bridges, daemons, strict=True)]
        # The regional picture is also on NATS, in the same contract.
        nc = await nats.connect(federation.hub.url, user=S.FEDERATE_USER[0],
                                password=S.FEDERATE_USER[1])
        on_nats: list[wire.Message] = []

        async def on_msg(m: nats.aio.msg.Msg) -> None:
            on_nats.append(wire.decode(m.data))

        sub = await nc.subscribe("cuas.overlap.trk", cb=on_msg)
        seen: list[wire.Message] = []
        reader = asyncio.create_task(_collect(node.endpoint, 6.0, seen))
        rng = np.random.default_rng(11)
        a, b = np.array([500.0, 200.0, 100.0]), np.array([5000.0, 0.0, 120.0])
        t_end = time.monotonic() + 6.0
        while time.monotonic() < t_end:
            now = time.time()
            await daemons[0].tracks([track(3, noisy(rng, a, 6.0), 6.0, t=now)])
            await daemons[1].tracks([track(9, noisy(rng, a, 3.0), 3.0, t=now)])
            await daemons[2].tracks([track(1, noisy(rng, b, 5.0), 5.0, t=now)])
            await asyncio.sleep(0.2)
        await reader
        stop.set()
        await asyncio.gather(fed_task, *tasks)
        await sub.unsubscribe()
        await nc.close()
        for d in daemons:
            d.close()
        snaps = [m for m in seen if isinstance(m, wire.Tracks)]
        assert any(isinstance(m, wire.Status) and m.src == "overlap" for m in seen)
        late = snaps[len(snaps) // 2:]
        assert len(late) >= 5
        misses = 0
        ids = set()
        for snap in late:
            assert len(snap.tracks) == 2, snap.tracks
            near = min(snap.tracks, key=lambda tr: float(np.linalg.norm(np.subtract(tr.enu, a))))
            ids.add(near.id)
            assert {s.split("/")[0] for s in near.sources} == {"ov0", "ov1"}
            assert min(near.pos_sigma) >= 3.0 - 1e-6  # never sharper than the better site
            err = (np.asarray(near.enu) - a) / np.asarray(near.pos_sigma)
            misses += float(np.sum(err**2)) > 14.16  # outside the CI 3-sigma bound
        assert misses <= max(1, len(late) // 10), misses
        assert len(ids) == 1  # one regional identity throughout
        assert on_nats and all(isinstance(m, wire.Tracks) for m in on_nats)

    asyncio.run(main())


def test_alerts_arrive_exactly_once_in_order_after_a_20_s_link_cut(
        federation: Federation) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        node = Federate(federation.federate_cfg("cutregion"), publish=_endpoint())
        fed_task = asyncio.create_task(node.run(stop))
        daemons = [SiteDaemon("cut-a"), SiteDaemon("cut-b")]
        # Site A's leaf is the one whose link is cut; site B's stays up.
        bridges = [Bridge(federation.site_cfg(2, "cuta")), Bridge(federation.site_cfg(0, "cutb"))]
        tasks = [asyncio.create_task(b.run(d.endpoint, stop)) for b, d in zip(bridges, daemons, strict=True)]
        seen: list[wire.Message] = []
        reader = asyncio.create_task(_collect(node.endpoint, 33.0, seen))
        # Wait until both bridges hear their daemon (ZeroMQ subscriptions take a moment).
        for _ in range(50):
            for d in daemons:
                await d.tracks([])
            await asyncio.sleep(0.1)
            if all(b.counters["trk_published"] for b in bridges):
                break
        sent = {"cuta": 0, "cutb": 0}

        async def fire(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for d, site in zip(daemons, sent, strict=True):
                    sent[site] += 1
                    await d.send(_alert(d.name, sent[site]))
                await asyncio.sleep(0.25)

        await fire(2.0)
        federation.proxies[2].cut()
        await fire(20.0)
        assert bridges[0].pending > 0, bridges[0].counters  # held while the link is down
        federation.proxies[2].restore()
        await fire(2.0)
        await reader
        stop.set()
        results = await asyncio.gather(fed_task, *tasks)
        for d in daemons:
            d.close()
        got: dict[str, list[int]] = {"cuta": [], "cutb": []}
        for m in seen:
            if isinstance(m, wire.Alert):
                match = re.fullmatch(r"from (\w+)#(\d+)", m.reasons[-1])
                assert match, m.reasons
                got[match.group(1)].append(int(match.group(2)))
                assert m.zone == f"{match.group(1)}/pitch"
        for site, n in sent.items():
            assert got[site] == list(range(1, n + 1)), (site, got[site][:5], n)
        counters = results[1].counters
        assert counters["alerts_buffered"] > 0 and counters["alerts_resent"] > 0
        assert counters.get("alerts_dropped", 0) == 0 and counters["alerts_unsent"] == 0
        assert results[0].counters.get("dropped_malformed", 0) == 0

    asyncio.run(main())


def test_wrong_credentials_can_neither_publish_nor_read(federation: Federation) -> None:
    async def main() -> None:
        watcher = await nats.connect(federation.hub.url, user=S.FEDERATE_USER[0],
                                     password=S.FEDERATE_USER[1])
        heard: list[str] = []

        async def note(m: nats.aio.msg.Msg) -> None:
            heard.append(m.subject)

        await watcher.subscribe("cuas.>", cb=note)
        await watcher.flush()
        for url in (federation.leaves[0].url, federation.hub.url):
            with pytest.raises((nats.errors.Error, OSError)):
                await nats.connect(url, user="site1", password="wrong", allow_reconnect=False,
                                   max_reconnect_attempts=0, connect_timeout=2)
        # The raw protocol too: a client that ignores the refusal and publishes and subscribes
        # anyway gets only the error and a closed connection.
        port = federation.leaves[0].port
        reply = await asyncio.to_thread(_raw_attempt, port)
        assert "Authorization Violation" in reply and "MSG " not in reply
        await asyncio.sleep(1.0)
        await watcher.close()
        assert not any(s.startswith("cuas.intruder.") for s in heard), heard

    asyncio.run(main())


def _raw_attempt(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.recv(4096)  # INFO
        s.sendall(b'CONNECT {"user":"site1","pass":"nope","verbose":false}\r\n'
                  b"SUB cuas.> 1\r\nPUB cuas.intruder.alert 5\r\nhello\r\nPING\r\n")
        data = b""
        with contextlib.suppress(OSError):
            while chunk := s.recv(4096):
                data += chunk
        return data.decode(errors="replace")


def test_bad_site_messages_are_counted_and_dropped(federation: Federation) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        node = Federate(federation.federate_cfg("badregion"), publish=_endpoint())
        fed_task = asyncio.create_task(node.run(stop))
        nc = await nats.connect(federation.leaves[1].url, user=SITE_USERS[1][0],
                                password=SITE_USERS[1][1])
        js_hub = await nats.connect(federation.hub.url, user=S.FEDERATE_USER[0],
                                    password=S.FEDERATE_USER[1])
        await asyncio.sleep(1.0)
        now = time.time()
        good = wire.encode(snapshot("x", 10, now, [track(1, (0.0, 0.0, 50.0), t=now)]))
        await nc.publish("cuas.badsite.trk", good)
        for junk in (b"", b"\xc1\xc1", b"\x81\xa1v\x02", wire.encode(_alert("x", 1))):
            await nc.publish("cuas.badsite.trk", junk)
        await nc.publish("cuas.badsite.trk", good)  # a replay
        skewed = wire.encode(snapshot("x", 11, now - 3600, []))
        await nc.publish("cuas.badsite.trk", skewed)
        await js_hub.publish("cuas.badsite.alert", b"\x00garbage")  # into JetStream
        await nc.flush()
        before = node.snapshots
        await asyncio.sleep(1.5)
        seen: list[wire.Message] = []
        await _collect(node.endpoint, 1.0, seen)
        stop.set()
        summary = await fed_task
        await nc.close()
        await js_hub.close()
        c = summary.counters
        assert c["dropped_malformed"] >= 4 and c["dropped_wrong_type"] == 1
        assert c["dropped_replayed"] == 1 and c["dropped_skewed"] == 1
        assert summary.snapshots > before  # still publishing after all that
        # The regional picture kept flowing, with the one valid track the site sent.
        snaps = [m for m in seen if isinstance(m, wire.Tracks)]
        assert snaps and len(snaps[-1].tracks) == 1

    asyncio.run(main())


def test_the_commands_run_from_a_config_file(federation: Federation, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """``cuas federate`` and ``cuas bridge nats`` as a user runs them: a TOML file, a duration,
    their counters printed at the end."""
    from cuas.cli.main import main as cli_main

    region = tmp_path / "region.toml"
    region.write_text(f"""[federation]
region = "clitest"
servers = "{federation.hub.url}"
user = "{S.FEDERATE_USER[0]}"
password = "{S.FEDERATE_USER[1]}"
publish = "{_endpoint()}"
""")
    site = tmp_path / "site.toml"
    site.write_text(f"""[federation]
site = "clisite"
servers = "{federation.leaves[0].url}"
user = "{SITE_USERS[0][0]}"
password = "{SITE_USERS[0][1]}"
""")
    assert cli_main(["federate", "--config", str(region), "--duration", "1.5"]) == 0
    err = capsys.readouterr().err
    assert "as region clitest" in err and "snapshots" in err
    assert cli_main(["bridge", "nats", "--config", str(site), "--duration", "1.0",
                     "--trk-endpoint", _endpoint()]) == 0
    err = capsys.readouterr().err
    assert "as site clisite" in err and "alerts_unsent=0" in err
    # A bad override is a usage error naming the problem, not a traceback.
    assert cli_main(["bridge", "nats", "--config", str(site), "--site", "a.b"]) == 2


def test_a_shard_federates_only_its_sites(federation: Federation) -> None:
    """``federation.sites``: a regional shard subscribes to (and forwards the alerts of) its
    own sites only; the others' messages never reach it."""
    async def main() -> None:
        import dataclasses

        stop = asyncio.Event()
        cfg = dataclasses.replace(federation.federate_cfg("shardregion"), sites="shin,shin2")
        node = Federate(cfg, publish=_endpoint())
        fed_task = asyncio.create_task(node.run(stop))
        nc = await nats.connect(federation.leaves[1].url, user=SITE_USERS[1][0],
                                password=SITE_USERS[1][1])
        await asyncio.sleep(1.0)
        seen: list[wire.Message] = []
        reader = asyncio.create_task(_collect(node.endpoint, 3.5, seen))
        for k in range(8):
            now = time.time()
            for site, x in (("shin", 0.0), ("shout", 3000.0)):
                snap = snapshot(site, k + 1, now, [track(1, (x, 0.0, 50.0), t=now)])
                await nc.publish(f"cuas.{site}.trk", wire.encode(snap))
            await asyncio.sleep(0.25)
        js_pub = await nats.connect(federation.hub.url, user=S.FEDERATE_USER[0],
                                    password=S.FEDERATE_USER[1])
        for site in ("shin", "shout"):
            await js_pub.publish(f"cuas.{site}.alert", wire.encode(_alert(site, 1)))
        await reader
        stop.set()
        await fed_task
        await nc.close()
        await js_pub.close()
        snaps = [m for m in seen if isinstance(m, wire.Tracks)]
        assert snaps and all(len(s.tracks) <= 1 for s in snaps)
        assert any(s.tracks for s in snaps)
        assert all(src.startswith("shin/") for s in snaps for tr in s.tracks for src in tr.sources)
        alerts = [m for m in seen if isinstance(m, wire.Alert)]
        assert [a.reasons[-1] for a in alerts] == ["from shin#1"]
        assert "shout" not in node.regional.sites

    asyncio.run(main())
