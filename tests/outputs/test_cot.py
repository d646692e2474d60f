"""Cursor on Target: the pure builder, and the exporter end to end (real daemon, real ZeroMQ,
real UDP and TCP listeners on 127.0.0.1 that parse what arrives as CoT)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import shutil
import socket
import ssl
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
import zmq.asyncio

from cuas import bus, wire
from cuas.config import Config, CotConfig, IdentityList, SiteConfig, reference_config
from cuas.fusion.daemon import Daemon
from cuas.outputs import cot
from cuas.outputs.cot_sender import CotExporter, StreamSender, UdpSender, tls_context
from cuas.sim.generators import SimParams, simulate

NOW = 1_800_000_000.0
POLICY = cot.CotPolicy(site="wembley", friendly_rid=frozenset({"VENUE-DRONE-1"}))
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
#: A CoT type: atom letter, then dash-separated 2525 hierarchy letters.
TYPE = re.compile(r"^[abtuy](-[A-Za-z0-9]+)+$")


def parse_cot(xml: bytes) -> ET.Element:
    """Parse one event and check what every CoT consumer relies on; returns the element."""
    ev = ET.fromstring(xml)
    assert ev.tag == "event"
    assert ev.get("version") == "2.0"
    for attr in ("uid", "type", "how", "time", "start", "stale"):
        assert ev.get(attr), attr
    assert TYPE.match(ev.get("type", "")), ev.get("type")
    times = {a: ev.get(a, "") for a in ("time", "start", "stale")}
    for a, v in times.items():
        assert TIME.match(v), (a, v)
    parsed = {a: datetime.fromisoformat(v.replace("Z", "+00:00")) for a, v in times.items()}
    assert parsed["start"] <= parsed["stale"]
    point = ev.find("point")
    assert point is not None
    lat, lon, hae, ce, le = (float(point.get(k, "nan")) for k in ("lat", "lon", "hae", "ce",
                                                                   "le"))
    assert -90 <= lat <= 90 and -180 <= lon <= 180 and math.isfinite(hae)
    assert ce >= 0 and le >= 0
    assert ev.find("detail") is not None
    return ev


def track(**kw: object) -> wire.Track:
    base: dict[str, object] = dict(
        id=17, status="confirmed", lla=(51.5565, -0.2790, 150.0), enu=(40.0, 55.0, 60.0),
        vel=(10.0, 0.0, 0.0), pos_sigma=(4.0, 6.0, 9.0), t_update=NOW - 1.0,
        sources=("radar-north", "rf-1"),
        class_probs={"uav": 0.9, "bird": 0.05, "manned": 0.03, "clutter": 0.02},
        threat="high", malicious=True, reasons=("in zone stadium bowl", "RF link: DJI OcuSync"))
    base.update(kw)
    return wire.Track(**base)  # type: ignore[arg-type]


def test_hostile_uav_event_has_type_uid_stale_errors_course_and_reasons() -> None:
    (xml,) = cot.track_events(track(), NOW, POLICY)
    ev = parse_cot(xml)
    assert ev.get("type") == "a-h-A-M-F-Q"
    assert ev.get("uid") == "cuas-wembley-17"
    # Stale when cuas would delete the track: 12 s of silence after its last update.
    assert ev.get("stale") == cot.cot_time(NOW - 1.0 + 12.0)
    point = ev.find("point")
    assert point is not None
    assert (float(point.get("ce", "")), float(point.get("le", ""))) == (6.0, 9.0)
    trk = ev.find("detail/track")
    assert trk is not None
    assert float(trk.get("course", "")) == 90.0 and float(trk.get("speed", "")) == 10.0
    remarks = ev.find("detail/remarks")
    assert remarks is not None and remarks.get("source") == "cuas"
    assert (remarks.text or "").split(" | ") == ["Threat: HIGH (malicious)",
                                                 "in zone stadium bowl", "RF link: DJI OcuSync",
                                                 "Sources: radar-north, rf-1"]
    machine = ev.find("detail/__cuas")
    assert machine is not None and machine.get("track_id") == "17"
    assert machine.get("p_uav") == "0.900" and machine.get("sources") == "radar-north,rf-1"
    assert ev.find("detail/contact") is not None


@pytest.mark.parametrize(("kw", "want"), [
    (dict(threat="critical", malicious=False), "a-h-A-M-F-Q"),
    (dict(threat="medium", malicious=False), "a-s-A-M-F-Q"),
    (dict(threat="low", malicious=False), "a-u-A-M-F-Q"),
    (dict(threat="none", malicious=False,
          ident=wire.Ident(rid="VENUE-DRONE-1")), "a-f-A-M-F-Q"),
    # On the allow list but flagged (a spoofed serial): never friendly.
    (dict(threat="high", malicious=True, ident=wire.Ident(rid="VENUE-DRONE-1")), "a-h-A-M-F-Q"),
    (dict(threat="none", malicious=False,
          class_probs={"uav": 0.1, "bird": 0.0, "manned": 0.9, "clutter": 0.0},
          ident=wire.Ident(icao="4ca7b5", callsign="RYR12AB ")), "a-n-A-C-F"),
])
def test_event_type_follows_class_and_threat(kw: dict[str, object], want: str) -> None:
    (xml,) = cot.track_events(track(**kw), NOW, POLICY)
    assert parse_cot(xml).get("type") == want


def test_aircraft_uid_and_callsign_and_identified_stale() -> None:
    t = track(threat="none", malicious=False,
              class_probs={"uav": 0.0, "bird": 0.0, "manned": 1.0, "clutter": 0.0},
              ident=wire.Ident(icao="4ca7b5", callsign="RYR12AB "))
    ev = parse_cot(cot.track_events(t, NOW, POLICY)[0])
    assert ev.get("uid") == "adsb-4ca7b5"
    contact = ev.find("detail/contact")
    assert contact is not None and contact.get("callsign") == "RYR12AB"
    assert ev.get("stale") == cot.cot_time(NOW - 1.0 + 60.0)


def test_what_is_not_sent() -> None:
    bird = {"uav": 0.05, "bird": 0.9, "manned": 0.0, "clutter": 0.05}
    assert cot.track_events(track(status="tentative"), NOW, POLICY) == []
    assert cot.track_events(track(class_probs=bird, threat="none", malicious=False), NOW,
                            POLICY) == []
    # Unknown position: nothing at all (never a drone at 0, 0).
    assert cot.track_events(track(lla=(math.nan, 0.0, 0.0)), NOW, POLICY) == []
    # Birds when asked for.
    everything = cot.CotPolicy(send_all=True)
    (xml,) = cot.track_events(track(class_probs=bird, threat="none", malicious=False), NOW,
                              everything)
    assert parse_cot(xml).get("type") == "a-u-A"


def test_deleted_track_goes_stale_now_and_pilot_is_linked() -> None:
    (gone,) = cot.track_events(track(status="deleted"), NOW, POLICY)
    ev = parse_cot(gone)
    assert ev.get("stale") == ev.get("time") == cot.cot_time(NOW)
    t = track(ident=wire.Ident(rid="1581F5FJD239C00DW22E", operator_lla=(51.55, -0.28, 92.0)))
    drone, pilot = (parse_cot(x) for x in cot.track_events(t, NOW, POLICY))
    assert pilot.get("uid") == f"pilot-{drone.get('uid')}" and pilot.get("type") == "b-m-p-s-m"
    link = pilot.find("detail/link")
    assert link is not None and link.get("uid") == drone.get("uid")
    assert link.get("relation") == "p-p"
    node = parse_cot(cot.node_event((51.556, -0.2796, 90.0), "wembley", NOW, {"daemon": "ok"}))
    assert node.get("type") == "a-f-G-E-S" and "daemon: ok" in (node.findtext("detail/remarks")
                                                                  or "")


# ---------------------------------------------------------------------------- end to end


def _config() -> Config:
    return Config(allow=IdentityList(rid={"VENUE-DRONE-1": "venue drone"}))


async def _run_export(sender: UdpSender | StreamSender,
                      receive_until: Callable[[], Awaitable[list[bytes]]]) -> list[bytes]:
    """Daemon on 127.0.0.1 fed a simulated scenario; the exporter subscribed to it."""
    sim = simulate(SimParams(seed=4, n_targets=3, duration_s=12, clutter_per_scan=0.0,
                             churn_fraction=0.0, pd=1.0), SiteConfig())
    config = _config()
    daemon = Daemon(config, bus.Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*"),
                    snapshot_hz=20.0, status_period_s=0.2, replay=True)
    stop_daemon, stop_export = asyncio.Event(), asyncio.Event()
    dtask = asyncio.create_task(daemon.run(stop_daemon))
    await asyncio.wait_for(daemon.ready.wait(), 5)
    ctx = zmq.asyncio.Context()
    exporter = CotExporter(config, sender, settings=CotConfig(period_s=0.1))
    etask = asyncio.create_task(exporter.run(daemon.bound.tracks, stop_export, context=ctx))
    pub = bus.xpub_socket(ctx, daemon.bound.detections)
    try:
        assert await bus.wait_for_subscriber(pub, "det.", 5.0)
        await asyncio.sleep(0.3)  # the exporter's subscription
        for batch in sim.batches:
            await pub.send_multipart(bus.frames(batch))
        got = await asyncio.wait_for(receive_until(), 20)
    finally:
        stop_export.set()
        await asyncio.wait_for(etask, 10)
        pub.close(0)
        ctx.term()
        stop_daemon.set()
        await asyncio.wait_for(dtask, 10)
    return got


def _track_events(events: list[bytes]) -> list[ET.Element]:
    """Every event parsed as valid CoT; those of tracks (not the node's) returned."""
    parsed = [parse_cot(e) for e in events]
    return [e for e in parsed if e.get("uid", "").startswith("cuas-wembley-")
            and e.get("type") != "a-f-G-E-S"]


def test_exporter_over_udp_to_a_local_listener() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]

    async def main() -> list[bytes]:
        sender = UdpSender(f"udp://127.0.0.1:{port}")
        loop = asyncio.get_running_loop()
        got: list[bytes] = []

        async def receive_until() -> list[bytes]:
            while len({e.get("uid") for e in _track_events(got)}) < 2:
                got.append(await loop.sock_recv(listener, 65536))
            return got

        return await _run_export(sender, receive_until)

    events = asyncio.run(main())
    listener.close()
    tracks = _track_events(events)
    assert len({e.get("uid") for e in tracks}) >= 2
    # The simulated targets fly like light aircraft: the classifier says manned.
    assert {e.get("type") for e in tracks} <= {"a-n-A-C-F", "a-u-A-M-F-Q", "a-h-A-M-F-Q",
                                              "a-s-A-M-F-Q"}
    assert any(e.get("type") == "a-f-G-E-S" for e in map(parse_cot, events))


def test_exporter_over_tcp_survives_a_tak_server_restart() -> None:
    async def main() -> list[bytes]:
        received = bytearray()
        writers: list[asyncio.StreamWriter] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            while data := await reader.read(65536):
                received.extend(data)
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sender = StreamSender(f"tcp://127.0.0.1:{port}")
        await asyncio.wait_for(sender.connected.wait(), 5)
        # The TAK server goes away and comes back on the same port.
        server.close()
        for w in writers:
            w.close()
        await server.wait_closed()
        await asyncio.sleep(0.2)
        server = await asyncio.start_server(handle, "127.0.0.1", port)

        def events() -> list[bytes]:
            return [chunk + b"</event>" for chunk in bytes(received).split(b"</event>")[:-1]]

        async def receive_until() -> list[bytes]:
            while len({e.get("uid") for e in _track_events(events())}) < 2:
                await asyncio.sleep(0.05)
            return events()

        try:
            return await _run_export(sender, receive_until)
        finally:
            assert sender.counters["connects"] >= 2  # reconnected by itself
            server.close()

    got = asyncio.run(main())
    assert len({e.get("uid") for e in _track_events(got)}) >= 2


def test_reference_config_cot_defaults_are_the_tak_multicast_group() -> None:
    assert reference_config().cot.url == "udp://239.2.3.1:6969"
    sender = UdpSender("udp://239.2.3.1:6969", ttl=1)
    assert sender.sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL) == 1
    asyncio.run(sender.close())


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 (openssl CLI)."""
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_tls_to_a_tak_server_verifies_its_certificate(tmp_path: Path) -> None:
    server_cert, server_key = _self_signed(tmp_path, "tak-server")
    other_ca, _ = _self_signed(tmp_path, "someone-else")
    event = cot.track_events(track(), NOW, POLICY)[0]

    async def main() -> tuple[bytes, StreamSender]:
        received = bytearray()
        got_one = asyncio.Event()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                while data := await reader.read(65536):
                    received.extend(data)
                    if b"</event>" in received:
                        got_one.set()
            writer.close()

        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(server_cert, server_key)
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
        url = f"tls://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        # A sender that trusts another CA never delivers (and keeps retrying, counted).
        wrong = StreamSender(url, ssl_context=tls_context(CotConfig(url=url,
                                                                    ca_file=str(other_ca))))
        await wrong.send(event)
        await asyncio.sleep(1.0)
        assert wrong.counters["connect_failures"] >= 1 and wrong.counters["sent"] == 0
        await wrong.close()
        right = StreamSender(url, ssl_context=tls_context(CotConfig(url=url,
                                                                    ca_file=str(server_cert))))
        await right.send(event)
        await asyncio.wait_for(got_one.wait(), 10)
        await right.close()
        server.close()
        return bytes(received), right

    received, sender = asyncio.run(main())
    assert parse_cot(received).get("uid") == "cuas-wembley-17"
    assert sender.counters["sent"] == 1
