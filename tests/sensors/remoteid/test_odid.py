"""The Open Drone ID parser: messages built byte by byte from the F3411 field layout, the real
captures in ``shared/data/remoteid`` (read in place), and hypothesis fuzzing of every frame and
message parser (no exception escapes; each bad frame is counted)."""

from __future__ import annotations

import math
import struct
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas.errors import DecodeError
from cuas.sensors.remoteid import odid
from cuas.sensors.remoteid.decode import RemoteIdDecoder, Report
from cuas.sensors.remoteid.pcap import (
    LINKTYPE_BLUETOOTH_LE_LL,
    LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    LINKTYPE_NORDIC_BLE,
    CaptureReader,
    read_capture,
)

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "remoteid"
ANAFI = DATA / "rirx_parrot_anafi4_real.pcapng"
BT5 = DATA / "odid_bt5_lr_sample.pcapng"
BEACONS = DATA / "odid_wifi_bcn_sample.pcap"
NAN = DATA / "odid_wifi_sample.pcap"
needs_data = pytest.mark.skipif(
    not all(p.exists() for p in (ANAFI, BT5, BEACONS, NAN)),
    reason=f"the shared Remote ID captures are not at {DATA} (see shared/data/remoteid/SOURCES.md)")


# --------------------------------------------------------------------------- byte builders


def alt(m: float | None) -> int:
    return 0 if m is None else round((m + 1000.0) * 2)


def location_bytes(*, status: int = 2, direction: int = 92, speed: float = 20.5, vs: int = 4,
                   lat: float = 51.556, lon: float = -0.2796, baro: float | None = 140.0,
                   geo: float | None = 150.0, height: float | None = 60.0, h_acc: int = 10,
                   v_acc: int = 4, baro_acc: int = 3, speed_acc: int = 2, ts: int = 12_345,
                   ts_acc: int = 2, height_agl: bool = False) -> bytes:
    """A Location message laid out by hand from the F3411 table (``vs`` in 0.5 m/s units)."""
    ew = direction >= 180
    mult = speed > 63.75
    raw_speed = round((speed - 63.75) / 0.75) if mult else round(speed / 0.25)
    flags = status << 4 | (0x04 if height_agl else 0) | (0x02 if ew else 0) | (0x01 if mult else 0)
    return struct.pack("<BBBBbiiHHHBBHBB", 0x12, flags, direction - 180 if ew else direction,
                       raw_speed, vs, round(lat * 1e7), round(lon * 1e7), alt(baro), alt(geo),
                       alt(height), v_acc << 4 | h_acc, baro_acc << 4 | speed_acc, ts, ts_acc, 0)


def basic_id_bytes(uas_id: str, id_type: int = 1, ua_type: int = 2) -> bytes:
    return bytes([0x02, id_type << 4 | ua_type]) + uas_id.encode().ljust(20, b"\0") + b"\0" * 3


def system_bytes(lat: float, lon: float, op_alt: float | None = 95.0, ts: int = 100) -> bytes:
    return struct.pack("<BBiiHBHHBHIB", 0x42, 0x01 | 1 << 2, round(lat * 1e7), round(lon * 1e7),
                       1, 5, alt(120.0), alt(None), 0x12, alt(op_alt), ts, 0)


def operator_bytes(op: str) -> bytes:
    return b"\x52\x00" + op.encode().ljust(20, b"\0") + b"\0" * 3


def pack(*messages: bytes) -> bytes:
    return bytes([0xF2, 25, len(messages)]) + b"".join(messages)


def beacon(payload: bytes, mac: bytes = b"\x60\x60\x1f\x01\x02\x03", rssi: int = -60,
           counter: int = 7) -> bytes:
    """A radiotap (flags, antenna signal) + 802.11 beacon with the ODID vendor element."""
    radiotap = struct.pack("<BBHIBb", 0, 0, 10, (1 << 1) | (1 << 5), 0, rssi)
    header = b"\x80\x00\x00\x00" + b"\xff" * 6 + mac + mac + b"\x00\x00"
    fixed = b"\x00" * 8 + b"\x64\x00" + b"\x21\x04"
    ssid = b"\x00\x05drone"
    vendor = bytes([0xDD, 5 + len(payload)]) + odid.WIFI_OUI + bytes([0x0D, counter]) + payload
    return radiotap + header + fixed + ssid + vendor


def ble_legacy(message: bytes, adv_addr: bytes = b"\x01\x02\x03\x04\x05\x06") -> bytes:
    """A Bluetooth 4 ADV_NONCONN_IND (link layer, access address first) with ODID service data."""
    ad = bytes([len(message) + 5, 0x16]) + odid.BT_UUID + bytes([0x0D, 1]) + message
    pdu = adv_addr + ad
    return odid.BLE_ADV_ACCESS_ADDRESS + bytes([0x02, len(pdu)]) + pdu + b"\x00\x00\x00"


# --------------------------------------------------------------------------- messages


def test_location_fields_and_encodings() -> None:
    m = odid.decode_message(location_bytes())
    assert isinstance(m, odid.Location)
    assert m.status == 2 and m.direction_deg == 92 and m.speed_ms == 20.5 and m.vspeed_ms == 2.0
    assert m.lat == pytest.approx(51.556, abs=1e-7) and m.lon == pytest.approx(-0.2796, abs=1e-7)
    assert (m.alt_baro_m, m.alt_geo_m, m.height_m) == (140.0, 150.0, 60.0)
    assert (m.h_accuracy, m.v_accuracy, m.baro_accuracy, m.speed_accuracy) == (10, 4, 3, 2)
    assert m.tenths_past_hour == 12_345 and m.ts_accuracy_s == pytest.approx(0.2)
    west = odid.decode_message(location_bytes(direction=271, speed=100.5))
    assert isinstance(west, odid.Location)
    assert west.direction_deg == 271 and west.speed_ms == 100.5  # E/W bit, 0.75 m/s steps


def test_unknown_values_decode_to_none() -> None:
    raw = bytearray(location_bytes(baro=None, geo=None, height=None, lat=0.0, lon=0.0))
    raw[1] |= 0x03  # east/west and multiplier bits
    raw[2], raw[3], raw[4] = 181, 255, 126  # direction 361, speed 255 m/s, vspeed 63 m/s
    raw[21:23] = b"\xff\xff"
    raw[23] = 0
    m = odid.decode_message(bytes(raw))
    assert isinstance(m, odid.Location)
    assert m.direction_deg is None and m.speed_ms is None and m.vspeed_ms is None
    assert m.lat is None and m.lon is None and not m.has_position
    assert m.alt_baro_m is None and m.alt_geo_m is None and m.height_m is None
    assert m.tenths_past_hour is None and m.ts_accuracy_s is None
    out_of_range = odid.decode_message(location_bytes(lat=95.0))
    assert isinstance(out_of_range, odid.Location) and not out_of_range.has_position


def test_basic_system_operator_selfid_auth() -> None:
    b = odid.decode_message(basic_id_bytes("1581F4XFB2120000ABCD", 1, 2))
    assert b == odid.BasicId(1, 2, "1581F4XFB2120000ABCD")
    s = odid.decode_message(system_bytes(51.5, -0.28))
    assert isinstance(s, odid.System)
    assert s.operator_lat == pytest.approx(51.5) and s.operator_lon == pytest.approx(-0.28)
    assert s.operator_location_type == 1 and s.classification_type == 1
    assert s.area_count == 1 and s.area_radius_m == 50.0 and s.area_ceiling_m == 120.0
    assert s.area_floor_m is None and (s.category, s.ua_class) == (1, 2)
    assert s.operator_alt_m == 95.0 and s.timestamp == odid.ODID_EPOCH + 100
    assert odid.decode_message(operator_bytes("GBR-OP-123ABCD")) == odid.OperatorId(
        0, "GBR-OP-123ABCD")
    assert odid.decode_message(b"\x32\x00" + b"Recreational".ljust(23, b"\0")) == odid.SelfId(
        0, "Recreational")
    page0 = odid.decode_message(b"\x22\x10\x02\x2a" + struct.pack("<I", 5) + bytes(range(17)))
    assert page0 == odid.Authentication(1, 0, 2, 42, odid.ODID_EPOCH + 5, bytes(range(17)))
    page1 = odid.decode_message(b"\x22\x11" + bytes(23))
    assert isinstance(page1, odid.Authentication) and page1.page == 1 and len(page1.data) == 23
    # Non-printable bytes in an id stay one visible string.
    odd = odid.decode_message(b"\x02\x12" + b"AB\x07\xffC".ljust(20, b"\0") + b"\0" * 3)
    assert odd == odid.BasicId(1, 2, "AB??C")


def test_message_pack_and_its_errors() -> None:
    msgs = odid.decode_messages(pack(basic_id_bytes("SER1"), location_bytes()))
    assert [type(m) for m in msgs] == [odid.BasicId, odid.Location]
    with pytest.raises(DecodeError, match="bad message pack"):
        odid.decode_messages(pack(basic_id_bytes("SER1"))[:-1])
    with pytest.raises(DecodeError, match="bad message pack"):
        odid.decode_messages(bytes([0xF2, 25, 10]) + b"\0" * 250)
    with pytest.raises(DecodeError, match="unknown message type"):
        odid.decode_message(b"\x72" + b"\0" * 24)
    # A bad message inside a pack is skipped while the others stand.
    assert len(odid.decode_messages(pack(b"\x72" + b"\0" * 24, basic_id_bytes("X")))) == 1
    assert odid.decode_messages(bytes([0xF2, 25, 0]) + b"\0" * 25) == []


def test_resolve_time_crosses_the_hour() -> None:
    t_rx = 1_700_000_000.0  # 22:13:20 UTC
    assert odid.resolve_time(8_000, t_rx) == pytest.approx(t_rx)
    hour = t_rx // 3600 * 3600
    assert odid.resolve_time(35_990, hour + 2.0) == pytest.approx(hour - 1.0)  # last hour's
    assert odid.resolve_time(5, hour + 3599.0) == pytest.approx(hour + 3600.5)  # next hour's


# --------------------------------------------------------------------------- frames


def test_beacon_and_bluetooth_frames_built_by_hand() -> None:
    f = odid.extract(LINKTYPE_IEEE802_11_RADIOTAP, beacon(pack(basic_id_bytes("SER1"),
                                                              location_bytes())))
    assert f is not None and f.transport == "wifi-beacon" and f.mac == "60:60:1f:01:02:03"
    assert f.rssi_dbm == -60 and f.counter == 7 and len(f.messages) == 2
    b = odid.extract(LINKTYPE_BLUETOOTH_LE_LL, ble_legacy(basic_id_bytes("SER1")))
    assert b is not None and b.transport == "bt4" and b.mac == "06:05:04:03:02:01"
    assert b.messages == (odid.BasicId(1, 2, "SER1"),)
    phdr = bytes([37, 0xC4 & 0xFF, 0, 0]) + b"\0" * 4 + struct.pack("<H", 0x0002)
    p = odid.extract(LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, phdr + ble_legacy(location_bytes()))
    assert p is not None and p.rssi_dbm == -60
    other_vendor = beacon(pack(basic_id_bytes("SER1"))).replace(odid.WIFI_OUI, b"\x00\x50\xf2")
    assert odid.extract(LINKTYPE_IEEE802_11, other_vendor[10:]) is None  # no ODID element
    with pytest.raises(DecodeError):  # an ODID element with no message in it
        odid.extract(LINKTYPE_IEEE802_11, beacon(b"")[10:])
    assert odid.extract(12345, b"anything") is None


def decode_capture(path: Path, ground_h: float = 0.0) -> tuple[list[Report], RemoteIdDecoder,
                                                                Counter[str]]:
    packets, stats = read_capture(path.read_bytes())
    assert stats.bad_records == 0
    dec = RemoteIdDecoder(ground_h=ground_h)
    transports: Counter[str] = Counter()
    out: list[Report] = []
    for p in packets:
        try:
            fr = odid.extract(p.linktype, p.data)
        except DecodeError:
            fr = None
        if fr is not None:
            transports[fr.transport] += 1
        out += dec.feed_packet(p.linktype, p.data, p.t)
    return out, dec, transports


@needs_data
def test_parrot_anafi_flight() -> None:
    reports, dec, transports = decode_capture(ANAFI, ground_h=500.0)
    assert transports == {"wifi-beacon": 1140}
    assert dec.stats.frames == 1140 and dec.stats.bad_frames == 0
    assert dec.stats.positions == 1140 and len(reports) == 1140
    airborne = [r for r in reports if r.det.attrs["status"] == "airborne"]
    assert len(airborne) == 1125
    for r in reports:
        lat, lon, h = r.det.z
        # The box SOURCES.md states, to its 5 decimals (about 1 m).
        assert 47.19864 <= round(lat, 5) <= 47.19871 and 8.73018 <= round(lon, 5) <= 8.73024
        assert r.det.attrs["alt_source"] == "height" and 0.0 <= h - 500.0 <= 12.0
    serials = Counter(r.det.ident.rid for r in reports if r.det.ident is not None)
    # Until the first Basic ID the drone is known by its MAC; after, by its serial with the
    # MAC as an alias.
    assert serials == {"1588E040445AC004418": 1125, "mac:90:3a:e6:5b:c8:a8": 15}
    last = reports[-1].det.ident
    assert last is not None and last.aliases == ("mac:90:3a:e6:5b:c8:a8",)
    ops = [r.det.ident.operator_lla for r in reports if r.det.ident and r.det.ident.operator_lla]
    assert len(ops) >= 1100
    # The operator's live GNSS position wanders by metres around the one SOURCES.md states.
    dist = [math.hypot((lat - 47.198656) * 111_195.0,
                       (lon - 8.7302205) * 111_195.0 * math.cos(math.radians(lat)))
            for lat, lon, _ in ops]
    assert max(dist) < 25.0 and sorted(dist)[len(dist) // 2] < 10.0
    assert {r.det.attrs.get("ua_type") for r in airborne} == {"multirotor"}
    # Times are the drone's fix times (tenths past the hour), within a second or two of receipt.
    assert all(abs(a.t - b.t) < 30 for a, b in zip(reports, reports[1:], strict=False))


@needs_data
def test_bluetooth5_long_range_with_no_fix_gives_no_position() -> None:
    reports, dec, transports = decode_capture(BT5)
    assert transports["bt5"] == 244
    assert dec.stats.positions == 0 and dec.stats.no_position > 200
    assert all(r.det.frame == "none" and r.det.z == () for r in reports)
    assert {r.det.ident.rid for r in reports if r.det.ident} == {"SSEVTFG93700070"}
    assert reports[-1].det.attrs["operator_id"] == "FIN87astrdge12kxyz8"
    # CRC-failed packets (the sniffer flags them) are counted, never decoded into a position.
    assert dec.stats.bad_frames == 30


@needs_data
def test_nan_and_beacon_samples_name_the_same_drone_and_operator() -> None:
    bcn, _, t_bcn = decode_capture(BEACONS)
    nan, dec, t_nan = decode_capture(NAN)
    assert t_bcn == {"wifi-beacon": 21}
    assert t_nan == {"wifi-nan": 21, "wifi-beacon": 21}
    assert {r.det.ident.rid for r in bcn if r.det.ident} == {"MFG1A0123456789"}
    assert {r.det.attrs.get("operator_id") for r in bcn} == {"GBR-OP-123ABCD"}
    assert {r.det.attrs.get("operator_id") for r in nan[1:]} == {"GBR-OP-123ABCD"}
    # The NaN sample carries no Basic ID: the same transmitter (MAC) as the beacon sample's.
    assert {r.det.attrs["mac"] for r in nan} == {r.det.attrs["mac"] for r in bcn}
    pos = [r for r in nan if r.det.frame == "lla"]
    assert len(pos) == 31 and dec.stats.bad_frames == 0
    for r in bcn + pos:
        lat, lon, h = r.det.z
        assert abs(lat - 45.545) < 0.01 and abs(lon + 122.97) < 0.01 and h == 237.0
    # The operator's position once a System message has been heard (at once in the packs).
    for r in [*bcn, pos[-1]]:
        assert r.det.ident is not None and r.det.ident.operator_lla is not None
        assert r.det.ident.operator_lla[:2] == pytest.approx((45.5443876, -122.9726866), abs=1e-6)


# --------------------------------------------------------------------------- fuzzing


LINKTYPES = (LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_IEEE802_11, LINKTYPE_NORDIC_BLE,
             LINKTYPE_BLUETOOTH_LE_LL, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR)
SEEDS = [
    (LINKTYPE_IEEE802_11_RADIOTAP, beacon(pack(basic_id_bytes("SER1"), location_bytes(),
                                               system_bytes(51.5, -0.28)))),
    (LINKTYPE_BLUETOOTH_LE_LL, ble_legacy(location_bytes())),
]
if BT5.exists() and NAN.exists():
    for path in (BT5, NAN):
        pk, _ = read_capture(path.read_bytes())
        SEEDS += [(p.linktype, p.data) for p in pk[:3]]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[int, bytes]:
    linktype, data = draw(st.sampled_from(SEEDS))
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 8))):
        if not buf:
            break
        i = draw(st.integers(0, len(buf) - 1))
        buf[i] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(buf)))
    return draw(st.sampled_from((linktype, *LINKTYPES))), bytes(buf[:cut] if draw(
        st.booleans()) else buf)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated(), st.tuples(st.sampled_from(LINKTYPES), st.binary(max_size=300))))
def test_fuzz_frames_never_raise_anything_but_decode_error(sample: tuple[int, bytes]) -> None:
    linktype, data = sample
    try:
        frame = odid.extract(linktype, data)
    except DecodeError:
        frame = None
    if frame is not None:
        for m in frame.messages:
            if isinstance(m, odid.Location) and m.lat is not None:
                assert -90 <= m.lat <= 90 and m.lon is not None and -180 <= m.lon <= 180
    dec = RemoteIdDecoder()
    before = dec.stats.bad_frames
    for r in dec.feed_packet(linktype, data, 1.7e9):
        assert r.det.frame in ("lla", "none")
        assert all(math.isfinite(v) for v in r.det.z)
    try:
        odid.extract(linktype, data)
    except DecodeError:
        assert dec.stats.bad_frames == before + 1  # the decoder counted it


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=260))
def test_fuzz_messages(buf: bytes) -> None:
    try:
        msgs = odid.decode_messages(buf)
    except DecodeError:
        return
    assert len(msgs) <= odid.MAX_PACK


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 64))
def test_fuzz_capture_reader(tail: bytes, step: int) -> None:
    for head in (b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\0" * 8 + b"\xff\xff\0\0\x7f\0\0\0",
                 b"\x0a\x0d\x0d\x0a\x1c\0\0\0\x4d\x3c\x2b\x1a\x01\0\0\0" + b"\xff" * 8
                 + b"\x1c\0\0\0"):
        reader = CaptureReader()
        data = head + tail
        for i in range(0, len(data), step):  # fed in pieces, as a stream arrives
            for p in reader.feed(data[i:i + step]):
                assert isinstance(p.data, bytes)
    with pytest.raises(DecodeError):
        CaptureReader().feed(b"GARBAGE!" + tail)


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-89.9, 89.9), lon=st.floats(-179.9, 179.9),
       geo=st.floats(-999.0, 31_000.0), speed=st.floats(0.0, 254.25),
       direction=st.integers(0, 359), vs=st.integers(-124, 124), ts=st.integers(0, 36_000),
       h_acc=st.integers(0, 15), status=st.integers(0, 4))
def test_location_round_trip(lat: float, lon: float, geo: float, speed: float, direction: int,
                             vs: int, ts: int, h_acc: int, status: int) -> None:
    """Any Location laid out by hand from the F3411 table decodes to its values, within the
    encoding's steps (1e-7 degrees, 0.5 m, 0.25 or 0.75 m/s)."""
    if abs(lat) < 1e-6 and abs(lon) < 1e-6:
        lat = 1.0  # 0/0 is "no position", tested elsewhere
    m = odid.decode_message(location_bytes(lat=lat, lon=lon, geo=geo, speed=speed,
                                           direction=direction, vs=vs, ts=ts, h_acc=h_acc,
                                           status=status))
    assert isinstance(m, odid.Location)
    assert m.lat == pytest.approx(lat, abs=1e-7) and m.lon == pytest.approx(lon, abs=1e-7)
    assert m.alt_geo_m == pytest.approx(geo, abs=0.25)
    assert m.speed_ms == pytest.approx(speed, abs=0.38)
    assert m.direction_deg == direction and m.vspeed_ms == vs * 0.5
    assert m.tenths_past_hour == ts and m.h_accuracy == h_acc and m.status == status


def auth_page_bytes(page: int, *, auth_type: int = 1, last_page: int = 2, ts: int = 5) -> bytes:
    """One Authentication page (message type 0x2) laid out from the F3411 table."""
    head = bytes([0x22, auth_type << 4 | page])
    if page == 0:
        return head + bytes([last_page, 17 + 23 * last_page]) + struct.pack("<I", ts) + bytes(17)
    return head + bytes(23)


def test_authentication_pages_are_reported_in_the_detections_attrs() -> None:
    dec = RemoteIdDecoder()
    t = 1_780_000_000.0
    loc = odid.decode_message(location_bytes())
    ident = odid.decode_message(basic_id_bytes("1581F4XFB2120000ABCD"))

    def attrs(*pages: bytes, at: float = 0.0) -> dict[str, object]:
        msgs = [ident, loc, *(odid.decode_message(p) for p in pages)]
        reports = dec.feed_messages("wifi-beacon", "60:60:1f:01:02:03", -60.0, msgs, t + at)
        assert len(reports) == 1
        return dict(reports[0].det.attrs)

    # A drone that never signs: reported absent (the spoofing evidence can weigh it).
    assert attrs()["auth"] == "absent" and "auth_type" not in attrs()
    # Page 0 of three: a signature under way.
    got = attrs(auth_page_bytes(0), at=1.0)
    assert got["auth"] == "partial" and got["auth_type"] == "uas_id_signature"
    assert attrs(auth_page_bytes(1), at=2.0)["auth"] == "partial"
    assert attrs(auth_page_bytes(2), at=3.0)["auth"] == "present"
    # A new signature (another time stamp) starts over; a silent minute makes it absent.
    assert attrs(auth_page_bytes(0, ts=9), at=4.0)["auth"] == "partial"
    assert attrs(at=4.0 + 61.0)["auth"] == "absent"
    assert dec.stats.auth_pages == 4
    # Type none, and a private method, by name.
    other = RemoteIdDecoder()
    msgs = [ident, loc, odid.decode_message(auth_page_bytes(0, auth_type=0xB, last_page=0))]
    rep = other.feed_messages("bt-legacy", "01:02:03:04:05:06", None, msgs, t)
    assert rep[0].det.attrs["auth"] == "present" and rep[0].det.attrs["auth_type"] == "private"
