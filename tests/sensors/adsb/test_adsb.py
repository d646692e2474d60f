"""The ADS-B adapter on the real captures in ``shared/data/adsb`` (read in place): decoding
against dump1090's own decoding, a TCP feeder on 127.0.0.1 that disconnects mid-stream, and
publishing into a real SUB bound on 127.0.0.1 (ephemeral ports only)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path
from typing import TypeVar

import pytest
import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.config import parse_config
from cuas.errors import ConfigError
from cuas.sensors.adsb.clock import BeastClock
from cuas.sensors.adsb.cpr import distance_m
from cuas.sensors.adsb.decode import AdsbDecoder, Position
from cuas.sensors.adsb.framing import FramingStats, file_epoch, parse_beast, parse_sbs
from cuas.sensors.adsb.settings import AdsbSettings
from cuas.sensors.adsb.source import AdsbSource
from tests.bus_helpers import LOOPBACK_ANY, collect_detections, run_bounded

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "adsb"
BEAST = DATA / "beastblackbox_ulss7_1522782148.beast"
ORACLE = DATA / "beastblackbox_ulss7_1522782148_decoded.sbs"
PYMODES = DATA / "pymodes_sample_data_adsb.csv"
pytestmark = pytest.mark.skipif(
    not BEAST.exists() or not ORACLE.exists(),
    reason=f"the shared ADS-B captures are not at {DATA} (see shared/data/adsb/SOURCES.md)")

T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]], timeout_s: float = 20.0) -> T:
    return run_bounded(fn, timeout_s)


def decode_file(path: Path) -> list[Position]:
    clock = BeastClock(epoch=file_epoch(path))
    frames, rest = parse_beast(path.read_bytes())
    assert rest == b""
    return AdsbDecoder().feed_beast(frames, lambda ticks: clock.utc(ticks, None))


def oracle() -> tuple[dict[str, list[tuple[float, float, float, float]]], dict[str, str]]:
    """dump1090's positions (t, lat, lon, alt ft) and callsigns, per ICAO."""
    records, _ = parse_sbs(ORACLE.read_bytes(), UTC)
    pos: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    calls: dict[str, str] = {}
    for r in records:
        if r.lat is not None and r.lon is not None and r.altitude_ft is not None:
            pos[r.icao].append((r.t, r.lat, r.lon, r.altitude_ft))
        if r.callsign:
            calls[r.icao] = r.callsign
    return pos, calls


def by_icao(positions: list[Position]) -> dict[str, list[Position]]:
    out: dict[str, list[Position]] = defaultdict(list)
    for p in positions:
        assert p.det.ident is not None and p.det.ident.icao is not None
        out[p.det.ident.icao].append(p)
    return out


def test_positions_and_callsigns_match_dump1090() -> None:
    ours = by_icao(decode_file(BEAST))
    ref_pos, ref_calls = oracle()
    assert set(ours) == set(ref_pos) and len(ours) == 11
    for icao, ref in ref_pos.items():
        got = ours[icao]
        # Same messages resolved, in the same order: compare one to one.
        assert len(got) == len(ref), icao
        for p, (_, lat, lon, alt_ft) in zip(got, ref, strict=True):
            assert distance_m((p.det.z[0], p.det.z[1]), (lat, lon)) < 50.0, icao
            assert p.det.attrs["alt_ft"] == alt_ft
        assert {p.det.ident.callsign for p in got if p.det.ident and p.det.ident.callsign} == {
            ref_calls[icao]}, icao
    # Times: the capture's own clock, anchored at the start time in the file name.
    t0 = min(p.t for ps in ours.values() for p in ps)
    assert 1522782148.0 <= t0 < 1522782150.0


def test_detections_are_valid_wire_messages_with_velocity_sigma_and_signal() -> None:
    positions = decode_file(BEAST)
    with_vel = 0
    for i, p in enumerate(positions):
        msg = wire.Detections(src="adsb", seq=i + 1, t=p.t, sensor="adsb", kind="adsb",
                              dets=(p.det,))
        back = wire.decode(wire.encode(msg))
        assert isinstance(back, wire.Detections) and back.dets[0].frame == "lla"
        d = p.det
        assert d.sigma is not None and 5.0 <= d.sigma[0] <= 1000.0
        assert d.attrs["alt_source"] in ("gnss", "baro", "baro+geo_minus_baro")
        assert isinstance(d.attrs["signal"], int)
        if d.vel is not None:
            with_vel += 1
            assert max(abs(c) for c in d.vel[:2]) < 350.0  # airliners, m/s
    assert with_vel > 0.8 * len(positions)


@pytest.mark.skipif(not PYMODES.exists(), reason=f"{PYMODES} is absent")
def test_pymodes_sample_positions() -> None:
    """2,000 DF17 messages of EZY85MH (406B90): pyModeS resolves 929 positions; first
    51.14839 N 7.22794 E, last 51.70003 N 4.77341 E at 36,000 ft."""
    from cuas.sensors.adsb.framing import BeastFrame

    rows = list(csv.reader(PYMODES.open()))
    frames = [BeastFrame(3, 0, 0, bytes.fromhex(r[1])) for r in rows]
    times = iter(float(r[0]) for r in rows)
    dec = AdsbDecoder()
    pos: list[Position] = []
    for fr in frames:  # one at a time, so the time source stays in step with the frames
        t = next(times)
        pos += dec.feed_beast([fr], lambda _ticks, t=t: t)
    assert 900 <= len(pos) <= 940
    first, last = pos[0].det, pos[-1].det
    # pyModeS waits for a later pair than we do; its first fix is among ours.
    assert min(distance_m(p.det.z[:2], (51.14839, 7.22794)) for p in pos) < 50
    assert distance_m(last.z[:2], (51.70003, 4.77341)) < 50
    assert first.ident is not None and first.ident.icao == "406b90"
    assert last.ident is not None and last.ident.callsign == "EZY85MH"
    assert last.attrs["alt_ft"] == 36000


def test_adsb_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"site\.toml: sensors\.a\.adsb\.sbs_timezone"):
        parse_config({"sensors": {"a": {"kind": "adsb", "adsb": {"sbs_timezone": "Nowhere/X"}}}},
                     "site.toml")
    with pytest.raises(ConfigError, match=r"sensors\.a\.adsb\.bogus"):
        parse_config({"sensors": {"a": {"kind": "adsb", "adsb": {"bogus": 1}}}}, "site.toml")
    cfg = parse_config({"sensors": {"a": {"kind": "adsb", "adsb": {
        "source": "tcp://127.0.0.1:30005", "reference": [59.8, 30.3]}}}})
    adsb = cfg.sensors["a"].settings["adsb"]
    assert isinstance(adsb, AdsbSettings) and adsb.reference == (59.8, 30.3) and adsb.format == "auto"


# --------------------------------------------------------------------------- bus and TCP


def bound_sub(ctx: zmq.asyncio.Context) -> tuple[zmq.asyncio.Socket, str]:
    sock = bus.sub_socket(ctx, LOOPBACK_ANY, bind=True, topics=("det.", "status."))
    return sock, sock.getsockopt_string(zmq.LAST_ENDPOINT)


async def collect(sock: zmq.asyncio.Socket, until: Callable[[list[wire.Detections]], bool],
                  statuses: list[wire.Status], timeout_s: float = 10.0) -> list[wire.Detections]:
    return await collect_detections(sock, "adsb", until, statuses, timeout_s)


async def drain(sock: zmq.asyncio.Socket, statuses: list[wire.Status],
                quiet_s: float = 0.3) -> list[wire.Detections]:
    """Detections received until no detection has come for ``quiet_s``."""
    got: list[wire.Detections] = []
    last = time.monotonic()
    while time.monotonic() - last < quiet_s:
        if await sock.poll(timeout=50):
            _, msg = bus.parse_frames(await sock.recv_multipart())
            if isinstance(msg, wire.Detections):
                got.append(msg)
                last = time.monotonic()
            elif isinstance(msg, wire.Status):
                statuses.append(msg)
    return got


def test_file_publishes_every_position_to_a_bound_sub() -> None:
    expected = len(decode_file(BEAST))

    async def main() -> tuple[list[wire.Detections], dict[str, int]]:
        ctx = zmq.asyncio.Context()
        sub, endpoint = bound_sub(ctx)
        try:
            src = AdsbSource(str(BEAST), endpoint, sensor_id="adsb-test", speed=0.0,
                             context=ctx)
            task = asyncio.create_task(src.run())
            got = await collect(sub, lambda g: len(g) >= expected, [])
            summary = await task
            return got, summary.counters
        finally:
            sub.close(0)
            ctx.term()

    got, counters = run(main)
    assert len(got) == expected == counters["published"]
    assert [m.seq for m in got] == list(range(1, expected + 1))
    assert counters["frames"] == 13954 and counters["garbage_bytes"] == 0
    assert counters["clock_backward"] > 1000  # the capture's counter is not monotonic


async def serve(chunks: list[bytes], pause_s: float = 0.0) -> tuple[asyncio.Server, int, list[int]]:
    """A feeder on 127.0.0.1 (ephemeral port) sending chunks[k] to its k-th client, then
    closing; later clients get nothing (and are closed)."""
    served: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        k = len(served)
        served.append(k)
        if k < len(chunks):
            data = chunks[k]
            for i in range(0, len(data), 4096):  # in pieces, as a socket would deliver
                writer.write(data[i:i + 4096])
                await writer.drain()
                if pause_s:
                    await asyncio.sleep(pause_s)
            if k == len(chunks) - 1:
                # The last feed stays open, as a live feeder's does, until the test ends.
                with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                    await asyncio.wait_for(reader.read(), 30)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port, served


def split_mid_frame(buf: bytes, at: int) -> tuple[bytes, bytes]:
    """The stream cut at byte ``at`` (inside a frame), and what a feeder sends after a
    reconnect: the stream from the next frame start on."""
    frames, _ = parse_beast(buf[:at])
    nxt = at
    while not (buf[nxt] == 0x1A and buf[nxt + 1] in (0x31, 0x32, 0x33) and buf[nxt - 1] != 0x1A):
        nxt += 1
    return buf[:at], buf[nxt:]


def test_tcp_feed_with_disconnect_and_reconnect() -> None:
    raw = BEAST.read_bytes()
    first, second = split_mid_frame(raw, len(raw) // 2 + 5)
    ref_pos, _ = oracle()

    async def main() -> tuple[list[wire.Detections], list[wire.Status], dict[str, int]]:
        ctx = zmq.asyncio.Context()
        sub, endpoint = bound_sub(ctx)
        server, port, served = await serve([first, second])
        stop = asyncio.Event()
        statuses: list[wire.Status] = []
        try:
            src = AdsbSource(f"tcp://127.0.0.1:{port}", endpoint, sensor_id="adsb-live",
                             context=ctx, status_period_s=0.05)
            task = asyncio.create_task(src.run(stop))
            got = await collect(sub, lambda g: len(g) >= 1440 and len(served) >= 2, statuses,
                                timeout_s=15.0)
            got += await drain(sub, statuses)  # the rest, and statuses while connected again
            counters = src.all_counters()
            stop.set()
            await task
            return got, statuses, counters
        finally:
            server.close()
            sub.close(0)
            ctx.term()

    got, statuses, counters = run(main)
    assert counters["connects"] == 2 and counters["disconnects"] == 1
    assert counters["bad_frames"] == 1  # the frame cut by the disconnect
    states = [s.state for s in statuses]
    assert "degraded" in states and states[-1] == "ok"
    assert {m.dets[0].ident.icao for m in got if m.dets[0].ident} == set(ref_pos)
    # Live positions carry the arrival clock's time (now), not 2018.
    assert abs(got[-1].t - time.time()) < 60
    # The 60 s capture arrives in a fraction of a second, so the live clock (arrival time)
    # squeezes it and the jump check rejects a few fixes; besides those, at most the cut
    # frame's position and a pair per aircraft are lost across the reconnect.
    assert len(got) + counters["cpr_rejected"] >= sum(len(v) for v in ref_pos.values()) - 12


def test_sbs_feed_over_tcp() -> None:
    raw = ORACLE.read_bytes()
    ref_pos, ref_calls = oracle()
    n = sum(len(v) for v in ref_pos.values())

    async def main() -> list[wire.Detections]:
        ctx = zmq.asyncio.Context()
        sub, endpoint = bound_sub(ctx)
        server, port, _ = await serve([raw])
        stop = asyncio.Event()
        try:
            src = AdsbSource(f"tcp://127.0.0.1:{port}", endpoint, sensor_id="sbs",
                             context=ctx)
            task = asyncio.create_task(src.run(stop))
            got = await collect(sub, lambda g: len(g) >= n, [])
            stop.set()
            await task
            return got
        finally:
            server.close()
            sub.close(0)
            ctx.term()

    got = run(main)
    assert len(got) == n
    calls = {m.dets[0].ident.icao: m.dets[0].ident.callsign for m in got if m.dets[0].ident}
    assert {k: v for k, v in calls.items() if v} == ref_calls


def test_cli_publishes_a_capture_and_exits() -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"det.")
    sub.bind(LOOPBACK_ANY)
    endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
    extract = DATA / "beastblackbox_extract_71be34.beast"
    try:
        # Popen, and read meanwhile: a SUB sends its subscription only while it is being used.
        proc = subprocess.Popen(
            [sys.executable, "-m", "cuas.cli.main", "sensor", "adsb", "--source", str(extract),
             "--publish", endpoint, "--speed", "0", "--sensor-id", "cli"],
            stderr=subprocess.PIPE, text=True)
        n = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (proc.poll() is None or sub.poll(300)):
            if sub.poll(50):
                topic, payload = sub.recv_multipart()
                msg = wire.decode(payload)
                assert topic == b"det.cli" and isinstance(msg, wire.Detections)
                ident = msg.dets[0].ident
                assert ident is not None and ident.icao == "71be34"
                n += 1
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert n > 100 and f"{n} published" in err
    finally:
        sub.close(0)
        ctx.term()


def test_framing_stats_are_in_status_counters() -> None:
    stats = FramingStats(frames=3, garbage_bytes=2)
    assert stats.as_counters() == {"frames": 3, "garbage_bytes": 2, "bad_frames": 0,
                                   "unknown_frames": 0}


def test_tracks_keep_icao_and_callsign() -> None:
    """The tracker makes tracks of the adapter's detections and keeps their identity (site
    near the receiver, Pulkovo; the first 20 s of the capture)."""
    from cuas.config import Config, SiteConfig
    from cuas.fusion.engine import FusionEngine as Tracker

    positions = sorted(decode_file(BEAST), key=lambda p: p.t)
    positions = [p for p in positions if p.t < positions[0].t + 20.0]
    tracker = Tracker(Config(site=SiteConfig(name="pulkovo", lat=59.80, lon=30.27, h=80.0)))
    for i, p in enumerate(positions):
        tracker.process(wire.Detections(src="adsb", seq=i + 1, t=p.t, sensor="adsb",
                                        kind="adsb", dets=(p.det,)))
    _, ref_calls = oracle()
    live = [t for t in tracker.snapshot().tracks if t.status != "deleted"]
    idents = {t.ident.icao: t.ident.callsign for t in live if t.ident is not None}
    assert len(idents) >= 9
    assert all(ref_calls[icao] == cs for icao, cs in idents.items() if cs)
    assert sum(1 for t in live if t.status == "confirmed") >= 8


def test_silent_aircraft_are_evicted() -> None:
    dec = AdsbDecoder(AdsbSettings(evict_after_s=5.0))
    clock = BeastClock(epoch=file_epoch(BEAST))
    frames, _ = parse_beast(BEAST.read_bytes())
    dec.feed_beast(frames[:3000], lambda ticks: clock.utc(ticks, None))
    assert dec.aircraft
    last = max(ac.last_seen for ac in dec.aircraft.values())
    n = len(dec.aircraft)
    older = sum(1 for ac in dec.aircraft.values() if ac.last_seen < last - 1.0)
    assert dec.evict(last + 4.0) == older < n  # silent for more than 5 s
    assert dec.evict(last + 5.0 + 1e-3) == n - older
    assert not dec.aircraft and dec.stats.evicted > 0


def test_receiver_reference_is_used_only_when_configured_and_in_range() -> None:
    """An aircraft's first, unpaired position message: no fix without a reference; with the
    receiver's position configured, rs1090's own reference decoding of it."""
    import rs1090

    from cuas.sensors.adsb.framing import BeastFrame

    frames, _ = parse_beast(BEAST.read_bytes())
    first = next(f for f in frames if f.kind == 3 and f.msg[0] >> 3 == 17
                 and 9 <= f.msg[4] >> 3 <= 18 and f.msg[1:4].hex() == "71be34")
    assert rs1090.decode(first.msg.hex())["icao24"] == "71be34"
    one = [BeastFrame(3, first.ticks, first.signal, first.msg)]
    assert AdsbDecoder().feed_beast(one, lambda _t: 1522782149.0) == []
    near = AdsbDecoder(AdsbSettings(reference=(59.80, 30.27)))
    (p,) = near.feed_beast(one, lambda _t: 1522782149.0)
    assert near.stats.cpr_reference == 1
    own = rs1090.decode(first.msg.hex(), reference=(59.80, 30.27))
    assert p.det.z[:2] == pytest.approx((own["latitude"], own["longitude"]), abs=1e-9)
    ref_pos, _ = oracle()  # dump1090's first fix, a pair later (0.3 s, < 300 m on)
    assert min(distance_m(p.det.z[:2], (lat, lon)) for _, lat, lon, _ in ref_pos["71be34"]) < 300
    far = AdsbDecoder(AdsbSettings(reference=(51.5, -0.3), reference_range_km=300.0))
    assert far.feed_beast(one, lambda _t: 1522782149.0) == []  # London: out of range


def test_avr_capture_decodes_like_beast(tmp_path: Path) -> None:
    """The Beast capture rewritten as AVR with counter and signal (``<...;``) gives the same
    positions through the adapter's file path."""
    frames, _ = parse_beast(BEAST.read_bytes())
    avr = tmp_path / "ulss7-1522782148.avr"
    avr.write_text("".join(f"<{f.ticks:012X}{f.signal:02X}{f.msg.hex().upper()};\n"
                           for f in frames))
    src = AdsbSource(str(avr), "tcp://127.0.0.1:1", sensor_id="avr")
    src.fmt = "avr"
    positions, rest = src._decode("avr", avr.read_bytes(), None)
    assert rest == b""
    want = decode_file(BEAST)
    assert [(p.t, p.det.z) for p in positions] == [(p.t, p.det.z) for p in want]


def test_cli_takes_source_and_endpoint_from_the_site_config(tmp_path: Path) -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"det.")
    sub.bind(LOOPBACK_ANY)
    endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
    cfg = tmp_path / "site.toml"
    cfg.write_text(f'[bus]\ndetections = "{endpoint}"\n\n[sensors.roof]\nkind = "adsb"\n\n'
                   f'[sensors.roof.adsb]\nsource = "{DATA / "beastblackbox_extract_71be34.beast"}"\n')
    try:
        proc = subprocess.Popen([sys.executable, "-m", "cuas.cli.main", "sensor", "adsb",
                                 "--config", str(cfg), "--speed", "0"],
                                stderr=subprocess.PIPE, text=True)
        topics = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (proc.poll() is None or sub.poll(300)):
            if sub.poll(50):
                topics.add(sub.recv_multipart()[0])
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert topics == {b"det.roof"}
    finally:
        sub.close(0)
        ctx.term()


def test_reconnect_backs_off_doubling_while_degraded() -> None:
    """Nobody listens on the feed's port: attempts at 0, 0.5 and 1.5 s (then 3.5 s), with the
    status saying degraded all along."""
    import socket

    # A port bound but not listening refuses connections, and nothing else can take it.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]

    async def main() -> tuple[dict[str, int], list[wire.Status]]:
        ctx = zmq.asyncio.Context()
        sub, endpoint = bound_sub(ctx)
        stop = asyncio.Event()
        statuses: list[wire.Status] = []
        try:
            src = AdsbSource(f"tcp://127.0.0.1:{port}", endpoint, sensor_id="down",
                             context=ctx, status_period_s=0.2)
            task = asyncio.create_task(src.run(stop))
            # Use the SUB meanwhile: ZeroMQ sends its subscription from the calling thread.
            while not src.subscribed.is_set():
                await sub.poll(50)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 2.4:
                await drain(sub, statuses, quiet_s=0.1)
            counters = src.all_counters()
            stop.set()
            await task
            return counters, statuses
        finally:
            ctx.destroy(linger=0)

    try:
        counters, statuses = run(main)
    finally:
        closed.close()
    assert counters["connect_failures"] == 3 and counters.get("connects", 0) == 0
    assert statuses and {s.state for s in statuses} == {"degraded"}
