"""The Remote ID adapter end to end: a real capture replayed onto a real ZeroMQ SUB bound on
127.0.0.1, a WarDragon-shaped ZeroMQ publisher on 127.0.0.1 feeding ``wardragon://``, both JSON
shapes, accuracy text, fuzzed JSON, the CLI and the configuration table."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import zmq
import zmq.asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas import bus, wire
from cuas.config import parse_config
from cuas.errors import ConfigError, CuasError, DecodeError
from cuas.sensors.remoteid import odid
from cuas.sensors.remoteid.decode import K95_2D, RemoteIdDecoder
from cuas.sensors.remoteid.settings import RemoteIdSettings
from cuas.sensors.remoteid.source import RemoteIdSource
from cuas.sensors.remoteid.wardragon import accuracy_bound, decode_wardragon, wardragon_messages
from tests.bus_helpers import LOOPBACK_ANY, collect_detections, run_bounded

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "remoteid"
ANAFI = DATA / "rirx_parrot_anafi4_real.pcapng"
needs_data = pytest.mark.skipif(
    not ANAFI.exists(),
    reason=f"the shared Remote ID captures are not at {DATA} (see shared/data/remoteid/SOURCES.md)")
T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]], timeout_s: float = 30.0) -> T:
    return run_bounded(fn, timeout_s)


async def collect(sock: zmq.asyncio.Socket, n: int, timeout_s: float = 15.0
                  ) -> tuple[list[wire.Detections], list[wire.Status]]:
    statuses: list[wire.Status] = []
    got = await collect_detections(sock, "remoteid", lambda g: len(g) >= n, statuses, timeout_s)
    return got, statuses


# --------------------------------------------------------------------------- capture replay


@needs_data
def test_capture_replay_publishes_every_position_on_a_real_socket() -> None:
    async def main() -> tuple[list[wire.Detections], dict[str, int]]:
        ctx = zmq.asyncio.Context()
        sub = bus.sub_socket(ctx, LOOPBACK_ANY, bind=True, topics=("det.", "status."))
        endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
        try:
            src = RemoteIdSource(str(ANAFI), endpoint, sensor_id="rid-test", speed=0.0,
                                 context=ctx, ground_h=500.0)
            task = asyncio.create_task(src.run())
            got, _ = await collect(sub, 1140)
            summary = await task
            return got, summary.counters
        finally:
            sub.close(0)
            ctx.term()

    got, counters = run(main)
    assert len(got) == 1140 == counters["published"] == counters["positions"]
    assert counters["packets"] == 5091 and counters["bad_frames"] == 0
    assert [m.seq for m in got] == list(range(1, 1141))
    dets = [m.dets[0] for m in got]
    assert all(d.frame == "lla" and d.R is not None for d in dets)
    assert dets[-1].ident is not None and dets[-1].ident.rid == "1588E040445AC004418"
    assert dets[-1].ident.aliases == ("mac:90:3a:e6:5b:c8:a8",)
    assert dets[-1].attrs["transport"] == "wifi-beacon"
    # Detections carry the capture's times (it spans ~123 s), not the fast replay's.
    assert got[-1].t - got[0].t > 100


@needs_data
def test_cli_replays_a_capture_and_exits(tmp_path: Path) -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"det.")
    sub.bind(LOOPBACK_ANY)
    endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
    cfg = tmp_path / "site.toml"
    cfg.write_text(f'[bus]\ndetections = "{endpoint}"\n[sensors.rid1]\nkind = "remoteid"\n'
                   f'origin = [47.1987, 8.7302, 480.0]\n'
                   f'[sensors.rid1.remoteid]\nsource = "{ANAFI}"\nground_h = 480.0\n')
    proc = subprocess.Popen([sys.executable, "-m", "cuas.cli.main", "sensor", "remoteid",
                             "--config", str(cfg), "--speed", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    n = 0
    deadline = time.monotonic() + 60
    try:
        while n < 1140 and time.monotonic() < deadline:
            if sub.poll(200):
                topic, msg = bus.parse_frames(sub.recv_multipart())
                assert topic == "det.rid1" and isinstance(msg, wire.Detections)
                assert msg.origin == (47.1987, 8.7302, 480.0)  # the receiver, from the config
                n += 1
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        sub.close(0)
        ctx.term()
    assert proc.returncode == 0, err
    assert n == 1140
    assert "1140 positions" in err and "bad frames 0" in err


# --------------------------------------------------------------------------- WarDragon

LIST_DOC: list[dict[str, Any]] = [
    {"Basic ID": {"protocol_version": "F3411.22", "id_type": "Serial Number (ANSI/CTA-2063-A)",
                  "ua_type": "Helicopter (or Multirotor)", "id": "1581F5FJD239C00DW22E",
                  "MAC": "60:60:1F:AA:BB:CC", "RSSI": -71}},
    {"Basic ID": {"id_type": "CAA Assigned Registration ID", "id": "GBR-RP-1234ABCD"}},
    {"Location/Vector Message": {
        "latitude": 51.5571, "longitude": -0.2801, "speed": 7.25, "vert_speed": -1.5,
        "geodetic_altitude": "141.500000 m", "height_agl": "52.0 m", "direction": 270,
        "op_status": "Airborne", "height_type": "Above Takeoff",
        "horizontal_accuracy": "< 3m", "vertical_accuracy": "< 10 m",
        "speed_accuracy": "< 0.3 m/s", "timestamp": 123}},
    {"System Message": {"latitude": 51.5590, "longitude": -0.2830}},
    {"Operator ID Message": {"operator_id": "GBR-OP-ABCDEFGH"}},
    {"Self-ID Message": {"text": "Survey flight"}},
    {"Frequency Message": {"frequency": 2437000000}},
]
FLAT_DOC: dict[str, Any] = {
    "mac": "aa:bb:cc:dd:ee:01", "rssi": -80, "basic_id": "ESP32TESTSERIAL01",
    "drone_lat": 51.5541, "drone_long": -0.2765, "drone_altitude": 130.0,
    "pilot_lat": 51.5530, "pilot_long": -0.2750,
}


def test_wardragon_list_shape() -> None:
    f = wardragon_messages(LIST_DOC)
    assert f.mac == "60:60:1f:aa:bb:cc" and f.rssi_dbm == -71
    dec = RemoteIdDecoder(ground_h=90.0)
    (r,) = dec.feed_messages(f.transport, f.mac, f.rssi_dbm, f.messages, 1.7e9)
    d = r.det
    assert d.frame == "lla" and d.z == (51.5571, -0.2801, 141.5)
    assert d.sigma is not None and d.sigma[0] == pytest.approx(3.0 / K95_2D)  # "< 3m"
    assert d.vel is not None and d.vel[0] == pytest.approx(-7.25) and abs(d.vel[1]) < 1e-9
    assert d.vel[2] == -1.5 and d.vel_sigma is not None and d.vel_sigma[0] == pytest.approx(
        0.3 / 1.96)
    assert d.ident == wire.Ident(rid="1581F5FJD239C00DW22E", operator_lla=(51.559, -0.283, 90.0),
                                 aliases=("caa:GBR-RP-1234ABCD", "mac:60:60:1f:aa:bb:cc"))
    assert d.attrs["ua_type"] == "multirotor" and d.attrs["status"] == "airborne"
    assert d.attrs["operator_id"] == "GBR-OP-ABCDEFGH" and d.attrs["self_id"] == "Survey flight"


def test_wardragon_flat_esp32_shapes() -> None:
    dec = RemoteIdDecoder()
    f = wardragon_messages(FLAT_DOC)
    (r,) = dec.feed_messages(f.transport, f.mac, f.rssi_dbm, f.messages, 1.7e9)
    assert r.det.z == (51.5541, -0.2765, 130.0) and r.det.ident is not None
    assert r.det.ident.rid == "ESP32TESTSERIAL01" and r.det.attrs["rssi_dbm"] == -80
    assert r.det.sigma is not None and r.det.sigma[0] == dec.settings.default_sigma_m
    keyed = {"index": 3, "runtime": 10, "Basic ID": {"id": "KEYED1", "id_type": "Serial"},
             "Location/Vector Message": {"latitude": 0, "longitude": 0}}
    f2 = wardragon_messages(keyed)
    (r2,) = dec.feed_messages(f2.transport, "k", None, f2.messages, 1.7e9)
    # 0, 0 is "no fix": identity only, never a position in the Gulf of Guinea.
    assert r2.det.frame == "none" and r2.det.z == () and r2.det.ident is not None
    assert r2.det.ident.rid == "KEYED1"


@pytest.mark.parametrize(("text", "bound"), [
    ("< 3m", 3.0), ("<10 m", 10.0), ("< 0.3 m/s", 0.3), ("< 18.52 km", 18_520.0),
    (">= 18.52 km", None), ("Unknown", None), (30, 30.0), ("", None), (None, None)])
def test_accuracy_text(text: Any, bound: float | None) -> None:
    assert accuracy_bound(text) == bound


def test_wardragon_rejects_what_is_not_remote_id() -> None:
    for payload in (b"not json", b"42", b'{"hello": 1}', b"[]", b'[{"Frequency Message": {}}]',
                    b"[" * 100_000):
        with pytest.raises(DecodeError):
            decode_wardragon(payload)
    # Absurd values inside a real shape: no fix, no exception.
    huge = json.dumps([{"Basic ID": {"id": "X", "id_type": [1]}},
                       {"Location/Vector Message": {"latitude": 10**400, "longitude": "9e999",
                                                    "speed": float("nan")}}]).encode()
    f = decode_wardragon(huge)
    (r,) = RemoteIdDecoder().feed_messages(f.transport, "m", None, f.messages, 1.7e9)
    assert r.det.frame == "none"


JSON = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers()
                    | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(
                        ["Basic ID", "Location/Vector Message", "System Message", "latitude",
                         "longitude", "id", "id_type", "speed", "direction", "MAC", "RSSI",
                         "drone_lat", "drone_long", "basic_id", "horizontal_accuracy",
                         "geodetic_altitude", "Operator ID Message", "operator_id"]), inner,
                        max_size=6), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_fuzz_wardragon_json(doc: Any) -> None:
    try:
        f = wardragon_messages(doc)
    except DecodeError:
        return
    dec = RemoteIdDecoder()
    for r in dec.feed_messages(f.transport, f.mac, f.rssi_dbm, f.messages, 1.7e9):
        wire.decode(wire.encode(wire.Detections(src="w", seq=1, t=r.t, sensor="w",
                                                kind="remoteid", dets=(r.det,))))


def test_wardragon_zmq_feed_end_to_end() -> None:
    """A WarDragon-shaped publisher (ZeroMQ PUB, JSON text) on 127.0.0.1 feeds the adapter,
    whose detections arrive on a real SUB; bad documents are counted, not fatal."""

    async def main() -> tuple[list[wire.Detections], dict[str, int]]:
        ctx = zmq.asyncio.Context()
        sub = bus.sub_socket(ctx, LOOPBACK_ANY, bind=True, topics=("det.", "status."))
        endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
        pub = ctx.socket(zmq.PUB)
        pub.bind(LOOPBACK_ANY)
        port = pub.getsockopt_string(zmq.LAST_ENDPOINT).rsplit(":", 1)[1]
        stop = asyncio.Event()
        src = RemoteIdSource(f"wardragon://127.0.0.1:{port}", endpoint, sensor_id="wd",
                             context=ctx, status_period_s=0.1)
        task = asyncio.create_task(src.run(stop))
        try:
            deadline = time.monotonic() + 10
            while not src.subscribed.is_set():  # a SUB sends its subscription while used
                assert time.monotonic() < deadline, "the adapter never saw the subscription"
                await sub.poll(timeout=50)
            got: list[wire.Detections] = []
            deadline = time.monotonic() + 15
            k = 0
            # PUB/SUB joins take a moment: publish until the adapter has seen enough.
            while len(got) < 5 and time.monotonic() < deadline:
                doc = json.loads(json.dumps(LIST_DOC))
                doc[2]["Location/Vector Message"]["latitude"] = 51.5571 + k * 1e-5
                await pub.send_string(json.dumps(doc))
                await pub.send(b"{broken")
                await pub.send_string(json.dumps(FLAT_DOC))
                k += 1
                more, _ = await collect(sub, 1, timeout_s=1.0) if await sub.poll(200) else (
                    [], [])
                got += more
            stop.set()
            summary = await task
            return got, summary.counters
        finally:
            stop.set()
            if not task.done():
                task.cancel()
            pub.close(0)
            sub.close(0)
            ctx.term()

    got, counters = run(main)
    assert len(got) >= 5
    rids = {m.dets[0].ident.rid for m in got if m.dets[0].ident is not None}
    assert rids <= {"1581F5FJD239C00DW22E", "ESP32TESTSERIAL01"} and rids
    assert counters["bad_frames"] >= 1 and counters["wardragon_messages"] >= 3


def test_remoteid_config_table() -> None:
    cfg = parse_config({"sensors": {"r": {"kind": "remoteid", "remoteid": {
        "source": "wardragon://127.0.0.1:4224", "default_sigma_m": 20.0}}}})
    rid = cfg.sensors["r"].settings["remoteid"]
    assert isinstance(rid, RemoteIdSettings) and rid.source == "wardragon://127.0.0.1:4224"
    with pytest.raises(ConfigError, match=r"sensors\.r\.remoteid\.default_sigma_m"):
        parse_config({"sensors": {"r": {"remoteid": {"default_sigma_m": 0.0}}}})
    with pytest.raises(ConfigError, match=r"sensors\.r\.remoteid\.colour"):
        parse_config({"sensors": {"r": {"remoteid": {"colour": "red"}}}})


def test_identity_only_reports_are_rate_limited() -> None:
    dec = RemoteIdDecoder()
    basic = (odid.BasicId(1, 2, "SER9"),)
    out = [dec.feed_messages("bt4", "01:02:03:04:05:06", -70.0, basic, 100.0 + 0.1 * k)
           for k in range(30)]
    assert sum(len(o) for o in out) == 3  # at 100.0, 101.0, 102.0 (identity_period_s = 1)


@pytest.mark.machine_dependent
def test_raw_interface_source_on_loopback() -> None:
    """``iface:lo`` through a real AF_PACKET socket (CAP_NET_RAW: root in CI): beacons sent on
    the loopback interface come out as detections; the host's own sending is not counted
    twice, and other traffic there is counted, not fatal."""
    import socket

    from .test_odid import basic_id_bytes, beacon, location_bytes, pack

    try:
        tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        tx.bind(("lo", 0))
    except (PermissionError, AttributeError, OSError) as exc:
        pytest.skip(f"no raw packet socket here: {exc}")
    frame = beacon(pack(basic_id_bytes("1581F5IFACE001"), location_bytes()))

    async def main() -> tuple[list[wire.Detections], dict[str, int]]:
        ctx = zmq.asyncio.Context()
        sub = bus.sub_socket(ctx, LOOPBACK_ANY, bind=True, topics=("det.",))
        endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
        stop = asyncio.Event()
        src = RemoteIdSource("iface:lo", endpoint, sensor_id="mon", context=ctx)
        task = asyncio.create_task(src.run(stop))
        try:
            deadline = time.monotonic() + 10
            while not src.subscribed.is_set():
                assert time.monotonic() < deadline, "the adapter never saw the subscription"
                await sub.poll(timeout=50)
            got: list[wire.Detections] = []
            while len(got) < 3 and time.monotonic() < deadline:
                tx.send(frame)
                if await sub.poll(timeout=200):
                    _, msg = bus.parse_frames(await sub.recv_multipart())
                    assert isinstance(msg, wire.Detections)
                    got.append(msg)
            stop.set()
            summary = await task
            return got, summary.counters
        finally:
            stop.set()
            if not task.done():
                task.cancel()
            sub.close(0)
            ctx.term()

    try:
        got, counters = run(main)
    finally:
        tx.close()
    assert len(got) >= 3
    d = got[0].dets[0]
    assert d.frame == "lla" and d.ident is not None and d.ident.rid == "1581F5IFACE001"
    assert d.attrs["rssi_dbm"] == -60 and d.attrs["mac"] == "60:60:1f:01:02:03"
    assert counters["positions"] <= counters["packets"]


def test_silent_transmitters_are_forgotten() -> None:
    dec = RemoteIdDecoder()
    for k in range(5):
        dec.feed_messages("bt4", f"00:00:00:00:00:0{k}", None, (odid.BasicId(1, 2, f"S{k}"),),
                          100.0 + k)
    assert dec.transmitters == 5
    # evict_after_s (120 s) after the third one was last heard, the first three are gone.
    assert dec.evict(102.0 + dec.settings.evict_after_s + 0.5) == 3
    assert dec.transmitters == 2 and dec.stats.evicted == 3


def test_what_is_not_a_capture_is_refused_before_waiting(tmp_path: Path) -> None:
    for name, data in (("short.pcap", b"vm\n"), ("text.pcap", b"hello, this is not a capture")):
        path = tmp_path / name
        path.write_bytes(data)
        src = RemoteIdSource(str(path), "tcp://127.0.0.1:9", wait_s=60.0)
        # Refused at once: waiting the 60 s for a subscriber would end in run()'s 30 s timeout.
        with pytest.raises(CuasError, match="capture"):
            run(src.run)


def test_capture_replay_over_a_curve_secured_bus(tmp_path: Path) -> None:
    """A site with ``bus.security = "curve"``: the adapter connects as a CURVE client with the
    daemon's public key and its own pair; a bound CURVE-server SUB receives every position."""
    beacons = DATA / "odid_wifi_bcn_sample.pcap"
    if not beacons.exists():
        pytest.skip(f"no {beacons}")
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    # The bound side's allow list holds the adapter's key (a CURVE server without its
    # authenticator would refuse everyone: bus.secure enforces ZAP).
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "rid.key").write_text(
        f'curve\n    public-key = "{client_public.decode()}"\n')
    server_keys = bus.CurveKeys(server_public=server_public, server_secret=server_secret,
                                allowed_producers=allowed, allowed_consumers=allowed)

    async def main() -> list[wire.Detections]:
        ctx = zmq.asyncio.Context()
        auth = bus.start_authenticator(ctx, server_keys)
        sub = bus.sub_socket(ctx, LOOPBACK_ANY, bind=True, topics=("det.",),
                             security=server_keys)
        endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
        try:
            src = RemoteIdSource(str(beacons), endpoint, sensor_id="rid-curve", speed=0.0,
                                 context=ctx, security=bus.CurveKeys(
                                     server_public=server_public, client_public=client_public,
                                     client_secret=client_secret))
            task = asyncio.create_task(src.run())
            got, _ = await collect(sub, 21)
            await task
            return got
        finally:
            auth.stop()
            sub.close(0)
            ctx.term()

    got = run(main)
    assert len(got) == 21
    assert {m.dets[0].ident.rid for m in got if m.dets[0].ident} == {"MFG1A0123456789"}
