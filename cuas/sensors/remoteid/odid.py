"""Open Drone ID (ASTM F3411-22a / ASD-STAN EN 4709-002 direct Remote ID): the 25-byte
messages and the radio frames that carry them, decoded by pure functions on bytes.

Messages (first byte: type in the high nibble, protocol version in the low one):
Basic ID (0), Location/Vector (1), Authentication (2), Self-ID (3), System (4), Operator ID (5)
and the Message Pack (0xF, up to 9 messages of 25 bytes). Every field follows the standard's
encoding: latitudes and longitudes in 1e-7 degrees (0, 0 = no position), altitudes as
``0.5 m * v - 1000 m`` (-1000 m = unknown), horizontal speed in 0.25 m/s steps or, with the
multiplier bit, 0.75 m/s steps above 63.75 m/s (255 = unknown), vertical speed in 0.5 m/s
steps (63 = unknown), direction 0..359 degrees true with an east/west bit (361 = unknown), the
location time stamp in tenths of a second past the hour (0xFFFF = unknown), System and
Authentication time stamps in seconds since 2019-01-01 00:00 UTC. An unknown value decodes to
``None``, never to a number that looks like a measurement.

Frames (:func:`extract`): Wi-Fi beacons with the vendor element OUI FA:0B:BC type 0x0D, Wi-Fi
NaN service discovery frames (service id 88:69:19:9D:92:09), and Bluetooth 4 legacy and
Bluetooth 5 (Long Range, extended) advertisements with service data UUID 0xFFFA, app code 0x0D;
802.11 behind a radiotap header (with or without FCS) or bare, Bluetooth behind the Nordic
sniffer header or the LE link-layer pseudo-headers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, TypeAlias

from cuas.errors import DecodeError
from cuas.sensors.remoteid.pcap import (
    LINKTYPE_BLUETOOTH_LE_LL,
    LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    LINKTYPE_NORDIC_BLE,
)

MESSAGE_SIZE: Final = 25
MAX_PACK: Final = 9
#: 2019-01-01 00:00:00 UTC, the epoch of System and Authentication time stamps (Unix s).
ODID_EPOCH: Final = 1_546_300_800

# Message types.
BASIC_ID: Final = 0
LOCATION: Final = 1
AUTH: Final = 2
SELF_ID: Final = 3
SYSTEM: Final = 4
OPERATOR_ID: Final = 5
PACK: Final = 0xF

#: Basic ID types.
ID_TYPES: Final = {0: "none", 1: "serial", 2: "caa", 3: "utm", 4: "session"}
#: UA types.
UA_TYPES: Final = ("none", "aeroplane", "multirotor", "gyroplane", "hybrid_lift", "ornithopter",
                   "glider", "kite", "free_balloon", "captive_balloon", "airship",
                   "parachute", "rocket", "tethered", "ground_obstacle", "other")
#: Location status.
STATUSES: Final = ("undeclared", "ground", "airborne", "emergency", "system_failure")

#: 95 % bounds (m) of the horizontal accuracy classes 1..12 (class 0 and 13..15: unknown).
HORIZONTAL_ACCURACY_M: Final = {1: 18_520.0, 2: 7_408.0, 3: 3_704.0, 4: 1_852.0, 5: 926.0,
                                6: 555.6, 7: 185.2, 8: 92.6, 9: 30.0, 10: 10.0, 11: 3.0,
                                12: 1.0}
#: 95 % bounds (m) of the vertical (geodetic and barometric) accuracy classes 1..6.
VERTICAL_ACCURACY_M: Final = {1: 150.0, 2: 45.0, 3: 25.0, 4: 10.0, 5: 3.0, 6: 1.0}
#: 95 % bounds (m/s) of the speed accuracy classes 1..4.
SPEED_ACCURACY_MS: Final = {1: 10.0, 2: 3.0, 3: 1.0, 4: 0.3}

WIFI_OUI: Final = b"\xfa\x0b\xbc"
WIFI_VENDOR_TYPE: Final = 0x0D
NAN_SERVICE_ID: Final = bytes.fromhex("8869199d9209")
BT_UUID: Final = b"\xfa\xff"  # 0xFFFA little-endian
BT_APP_CODE: Final = 0x0D
BLE_ADV_ACCESS_ADDRESS: Final = b"\xd6\xbe\x89\x8e"
_WIFI_SIGNATURE: Final = WIFI_OUI + bytes([WIFI_VENDOR_TYPE])


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class BasicId:
    """Who the drone is: ``id_type`` 0..15 (:data:`ID_TYPES`), ``ua_type`` 0..15
    (:data:`UA_TYPES`), ``uas_id`` the serial number, CAA registration, UTM UUID or session id."""

    id_type: int
    ua_type: int
    uas_id: str


@dataclass(frozen=True, slots=True)
class Location:
    """Where the drone is. Degrees (WGS-84), metres, m/s, degrees true clockwise; ``None`` =
    unknown. ``height_type`` 0: above take-off, 1: above ground. Accuracies are the 95 % class
    codes (0 = unknown); ``tenths_past_hour`` the fix time in 0.1 s past the UTC hour."""

    status: int
    direction_deg: float | None
    speed_ms: float | None
    vspeed_ms: float | None
    lat: float | None
    lon: float | None
    alt_baro_m: float | None
    alt_geo_m: float | None
    height_m: float | None
    height_type: int
    h_accuracy: int
    v_accuracy: int
    baro_accuracy: int
    speed_accuracy: int
    tenths_past_hour: int | None
    ts_accuracy_s: float | None

    @property
    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True, slots=True)
class Authentication:
    """One page of an authentication: page 0 carries the last page index, the length (bytes)
    and a time stamp (Unix s); ``data`` is that page's share of the signature."""

    auth_type: int
    page: int
    last_page: int | None
    length: int | None
    timestamp: float | None
    data: bytes


@dataclass(frozen=True, slots=True)
class SelfId:
    """Free text: ``desc_type`` 0 text, 1 emergency, 2 extended status, 201..255 private."""

    desc_type: int
    text: str


@dataclass(frozen=True, slots=True)
class System:
    """The operator's position (degrees, metres HAE; ``None`` = unknown),
    ``operator_location_type`` 0 take-off, 1 live GNSS, 2 fixed; the group area (count, radius
    m, ceiling and floor m); EU category and class; ``timestamp`` Unix s."""

    operator_location_type: int
    classification_type: int
    operator_lat: float | None
    operator_lon: float | None
    area_count: int
    area_radius_m: float
    area_ceiling_m: float | None
    area_floor_m: float | None
    category: int
    ua_class: int
    operator_alt_m: float | None
    timestamp: float | None


@dataclass(frozen=True, slots=True)
class OperatorId:
    """The operator's registration (``id_type`` 0 = operator id)."""

    id_type: int
    operator_id: str


Message: TypeAlias = BasicId | Location | Authentication | SelfId | System | OperatorId


def _text(raw: bytes) -> str:
    """ASCII text of a fixed field: NUL padding removed; bytes that are not printable ASCII
    become '?', so a corrupt id stays one visible string."""
    raw = raw.split(b"\x00", 1)[0]
    return "".join(chr(b) if 0x20 <= b < 0x7F else "?" for b in raw).strip()


def _alt(v: int) -> float | None:
    """Altitude encoding: 0.5 m steps from -1000 m; -1000 m itself means unknown."""
    return None if v == 0 else v * 0.5 - 1000.0


def _latlon(lat_raw: int, lon_raw: int) -> tuple[float | None, float | None]:
    lat, lon = lat_raw * 1e-7, lon_raw * 1e-7
    if (lat_raw == 0 and lon_raw == 0) or not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None, None  # 0/0 is "no position", not the Gulf of Guinea
    return lat, lon


def decode_message(buf: bytes) -> Message:
    """One 25-byte message (not a pack); DecodeError for a wrong size or an unknown type."""
    if len(buf) != MESSAGE_SIZE:
        raise DecodeError(f"a message is {MESSAGE_SIZE} bytes, got {len(buf)}", data=bytes(buf))
    mtype = buf[0] >> 4
    if mtype == BASIC_ID:
        return BasicId(buf[1] >> 4, buf[1] & 0x0F, _text(buf[2:22]))
    if mtype == LOCATION:
        return _location(buf)
    if mtype == AUTH:
        page = buf[1] & 0x0F
        if page == 0:
            ts = struct.unpack_from("<I", buf, 4)[0]
            return Authentication(buf[1] >> 4, 0, buf[2], buf[3],
                                  ODID_EPOCH + ts if ts else None, bytes(buf[8:25]))
        return Authentication(buf[1] >> 4, page, None, None, None, bytes(buf[2:25]))
    if mtype == SELF_ID:
        return SelfId(buf[1], _text(buf[2:25]))
    if mtype == SYSTEM:
        (op_lat, op_lon, count, radius, ceiling, floor, cat_class, op_alt,
         ts) = struct.unpack_from("<iiHBHHBHI", buf, 2)
        lat, lon = _latlon(op_lat, op_lon)
        return System(buf[1] & 0x03, (buf[1] >> 2) & 0x07, lat, lon, count, radius * 10.0,
                      _alt(ceiling), _alt(floor), cat_class >> 4, cat_class & 0x0F, _alt(op_alt),
                      ODID_EPOCH + ts if ts else None)
    if mtype == OPERATOR_ID:
        return OperatorId(buf[1], _text(buf[2:22]))
    raise DecodeError(f"unknown message type {mtype:#x}", data=bytes(buf))


def _location(buf: bytes) -> Location:
    flags = buf[1]
    # 0..179 plus 180 with the east/west bit; 361 (181 with the bit) is unknown.
    direction: float | None = float(buf[2] + (180 if flags & 0x02 else 0))
    if buf[2] >= 180 or direction is None:
        direction = None
    raw_speed = buf[3]
    speed: float | None = raw_speed * 0.75 + 63.75 if flags & 0x01 else raw_speed * 0.25
    if flags & 0x01 and raw_speed == 255:
        speed = None
    vraw = struct.unpack_from("<b", buf, 4)[0]
    vspeed = None if vraw == 126 else vraw * 0.5
    lat_raw, lon_raw, baro, geo, height = struct.unpack_from("<iiHHH", buf, 5)
    lat, lon = _latlon(lat_raw, lon_raw)
    ts = struct.unpack_from("<H", buf, 21)[0]
    ts_acc = buf[23] & 0x0F
    return Location(
        status=flags >> 4, direction_deg=direction,
        speed_ms=speed, vspeed_ms=vspeed, lat=lat, lon=lon, alt_baro_m=_alt(baro),
        alt_geo_m=_alt(geo), height_m=_alt(height), height_type=(flags >> 2) & 0x01,
        h_accuracy=buf[19] & 0x0F, v_accuracy=buf[19] >> 4, baro_accuracy=buf[20] >> 4,
        speed_accuracy=buf[20] & 0x0F, tenths_past_hour=None if ts > 36_000 else ts,
        ts_accuracy_s=ts_acc * 0.1 if ts_acc else None)


def decode_messages(buf: bytes) -> list[Message]:
    """A single message or a Message Pack, expanded. DecodeError for a bad pack (a wrong
    message size or count, or fewer bytes than it claims); a bad message inside a good pack is
    skipped (raise only if none is left)."""
    if len(buf) < MESSAGE_SIZE:
        raise DecodeError(f"a message is {MESSAGE_SIZE} bytes, got {len(buf)}", data=bytes(buf))
    if buf[0] >> 4 != PACK:
        return [decode_message(buf[:MESSAGE_SIZE])]
    size, count = buf[1], buf[2]
    if count == 0 and size == MESSAGE_SIZE:
        return []  # an empty pack (test transmitters send them between packs): nothing said
    if size != MESSAGE_SIZE or not 1 <= count <= MAX_PACK or len(buf) < 3 + count * size:
        raise DecodeError(f"bad message pack (size {size}, count {count}, {len(buf)} bytes)",
                          data=bytes(buf[:3]))
    out: list[Message] = []
    problems: list[str] = []
    for i in range(count):
        part = buf[3 + i * size:3 + (i + 1) * size]
        if part[0] >> 4 == PACK:
            problems.append("pack inside a pack")
            continue
        try:
            out.append(decode_message(part))
        except DecodeError as exc:
            problems.append(exc.problem)
    if not out:
        raise DecodeError(f"no valid message in the pack: {problems[0]}", data=bytes(buf[:3]))
    return out


# --------------------------------------------------------------------------- frames


@dataclass(frozen=True, slots=True)
class Frame:
    """The Remote ID content of one received radio frame.

    ``transport``: ``wifi-beacon``, ``wifi-nan``, ``bt4`` (legacy advertising) or ``bt5``
    (extended advertising, Long Range when on the coded PHY). ``mac`` the transmitter address
    (lower-case, colon separated), ``rssi_dbm`` the received signal when the capture says,
    ``counter`` the transmitter's message counter, ``messages`` in frame order.
    """

    transport: str
    mac: str
    rssi_dbm: float | None
    counter: int
    messages: tuple[Message, ...]


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def extract(linktype: int, data: bytes) -> Frame | None:
    """The Remote ID frame in one captured packet, or None if the packet carries none (other
    traffic). DecodeError when it is a Remote ID frame but broken."""
    if linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        body, rssi = _radiotap(data)
        return _wifi(body, rssi)
    if linktype == LINKTYPE_IEEE802_11:
        return _wifi(data, None)
    if linktype == LINKTYPE_NORDIC_BLE:
        return _nordic(data)
    if linktype == LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR:
        if len(data) < 10:
            return None
        flags = struct.unpack_from("<H", data, 8)[0]
        rssi = float(struct.unpack_from("<b", data, 1)[0]) if flags & 0x0002 else None
        return _ble(data[10:], rssi, coded=False)
    if linktype == LINKTYPE_BLUETOOTH_LE_LL:
        return _ble(data, None, coded=False)
    return None


#: Radiotap fields before the antenna signal (bit 5): (alignment, size) of bits 0..4.
_RT_FIELDS: Final = ((8, 8), (1, 1), (1, 1), (2, 4), (1, 2))


def _radiotap(data: bytes) -> tuple[bytes, float | None]:
    """The 802.11 frame behind a radiotap header (FCS removed) and the antenna signal (dBm)."""
    if len(data) < 8 or data[0] != 0:
        raise DecodeError("bad radiotap header", data=bytes(data[:8]))
    length = struct.unpack_from("<H", data, 2)[0]
    if not 8 <= length <= len(data):
        raise DecodeError(f"radiotap length {length} outside the packet", data=bytes(data[:8]))
    present = struct.unpack_from("<I", data, 4)[0]
    pos = 8
    word = present
    while word & 0x80000000 and pos + 4 <= length:  # extended presence bitmaps
        word = struct.unpack_from("<I", data, pos)[0]
        pos += 4
    fcs = False
    rssi: float | None = None
    for bit, (align, size) in enumerate(_RT_FIELDS):
        if not present & (1 << bit):
            continue
        pos = (pos + align - 1) // align * align
        if bit == 1 and pos < length:
            fcs = bool(data[pos] & 0x10)
            if data[pos] & 0x40:  # the receiver's FCS check failed
                raise DecodeError("802.11 FCS error", data=bytes(data[:length]))
        pos += size
    if present & (1 << 5) and pos < length:
        rssi = float(struct.unpack_from("<b", data, pos)[0])
    body = data[length:]
    if fcs:
        body = body[:-4]
    return bytes(body), rssi


def _wifi(frame: bytes, rssi: float | None) -> Frame | None:
    if len(frame) < 24:
        return None
    fc = frame[0]
    if (fc >> 2) & 0x03 != 0:  # not a management frame
        return None
    subtype = fc >> 4
    if subtype in (8, 5):  # beacon, probe response: fixed fields then elements
        # Most beacons on the air are access points': skip them at C speed unless the element
        # signature is somewhere in the frame, then walk the elements to find it for sure.
        if frame.find(_WIFI_SIGNATURE, 36) < 0:
            return None
        mac = _mac(frame[10:16])
        pos = 36
        while pos + 2 <= len(frame):
            eid, elen = frame[pos], frame[pos + 1]
            body = frame[pos + 2:pos + 2 + elen]
            if len(body) < elen:
                break  # a cut element ends the list (a capture without FCS flag, a snap length)
            if eid == 0xDD and elen >= 5 and body[:3] == WIFI_OUI and body[3] == WIFI_VENDOR_TYPE:
                return Frame("wifi-beacon", mac, rssi, body[4],
                             tuple(decode_messages(body[5:])))
            pos += 2 + elen
        return None
    if subtype == 13:  # action: public (4), vendor specific (9), Wi-Fi Alliance NAN
        body = frame[24:]
        if len(body) < 6 or body[:6] != b"\x04\x09\x50\x6f\x9a\x13" \
                or body.find(NAN_SERVICE_ID, 6) < 0:
            return None
        mac = _mac(frame[10:16])
        pos = 6
        while pos + 3 <= len(body):
            aid = body[pos]
            alen = struct.unpack_from("<H", body, pos + 1)[0]
            attr = body[pos + 3:pos + 3 + alen]
            if len(attr) < alen:
                raise DecodeError("NAN attribute cut short", data=bytes(body[pos:pos + 3]))
            if aid == 0x03 and attr[:6] == NAN_SERVICE_ID:
                return _nan_service(attr, mac, rssi)
            pos += 3 + alen
    return None


def _nan_service(attr: bytes, mac: str, rssi: float | None) -> Frame:
    """A NAN Service Descriptor Attribute of the Open Drone ID service."""
    if len(attr) < 9:
        raise DecodeError("NAN service descriptor cut short", data=bytes(attr))
    control = attr[8]
    pos = 9
    if control & 0x40:  # binding bitmap
        pos += 2
    for present in (control & 0x04, control & 0x08):  # matching filter, service response filter
        if present:
            if pos >= len(attr):
                raise DecodeError("NAN service descriptor cut short", data=bytes(attr))
            pos += 1 + attr[pos]
    if not control & 0x10 or pos >= len(attr):
        raise DecodeError("NAN Remote ID service without service info", data=bytes(attr[:9]))
    info = attr[pos + 1:pos + 1 + attr[pos]]
    if len(info) < 1 + MESSAGE_SIZE:
        raise DecodeError("NAN service info too short for a message", data=bytes(info))
    return Frame("wifi-nan", mac, rssi, info[0], tuple(decode_messages(info[1:])))


def _nordic(data: bytes) -> Frame | None:
    """Nordic nRF Sniffer for Bluetooth LE header (protocol versions 2 and 3)."""
    if len(data) < 8 or data[3] < 2:
        return None
    hdr_len = data[7]
    if hdr_len < 10 or len(data) < 7 + hdr_len:
        return None
    flags = data[8]
    if not flags & 0x01:  # the sniffer's CRC check failed: the bytes are not what was sent
        raise DecodeError("Bluetooth CRC error", data=bytes(data[:17]))
    rssi = -float(data[10])
    coded = (flags >> 4) & 0x07 == 2
    return _ble(data[7 + hdr_len:], rssi, coded=coded)


def _ble(ll: bytes, rssi: float | None, *, coded: bool) -> Frame | None:
    """A link-layer advertising packet (access address first)."""
    if len(ll) < 6 or ll[:4] != BLE_ADV_ACCESS_ADDRESS:
        return None
    pos = 5 if coded else 4  # the coding indicator precedes the PDU on the coded PHY
    if len(ll) < pos + 2:
        return None
    pdu_type, length = ll[pos] & 0x0F, ll[pos + 1]
    pdu = ll[pos + 2:pos + 2 + length]
    if pdu_type in (0, 2, 4, 6):  # ADV_IND, ADV_NONCONN_IND, SCAN_RSP, ADV_SCAN_IND
        if len(pdu) < 6:
            return None
        return _ad_structures(pdu[6:], _mac(pdu[5::-1]), rssi, "bt4")
    if pdu_type == 7:  # extended advertising (ADV_EXT_IND, AUX_ADV_IND, AUX_CHAIN_IND)
        if not pdu:
            return None
        ext_len = pdu[0] & 0x3F
        if 1 + ext_len > len(pdu):
            return None
        mac = ""
        if ext_len and pdu[1] & 0x01 and ext_len >= 7:
            mac = _mac(pdu[7:1:-1])
        return _ad_structures(pdu[1 + ext_len:], mac, rssi, "bt5")
    return None


def _ad_structures(adv: bytes, mac: str, rssi: float | None, transport: str) -> Frame | None:
    pos = 0
    while pos + 2 <= len(adv):
        length = adv[pos]
        if length == 0:
            break
        ad = adv[pos + 1:pos + 1 + length]
        if len(ad) < length:
            return None
        if length >= 4 and ad[0] == 0x16 and ad[1:3] == BT_UUID and ad[3] == BT_APP_CODE:
            if len(ad) < 5:
                raise DecodeError("Remote ID service data without a message", data=bytes(ad))
            return Frame(transport, mac, rssi, ad[4], tuple(decode_messages(ad[5:])))
        pos += 1 + length
    return None


def resolve_time(tenths_past_hour: int, t_rx: float) -> float:
    """Absolute UTC time (s) of a Location time stamp (0.1 s past the hour), taking the hour
    from the receive time ``t_rx``: the one that puts the fix nearest to reception."""
    hour = (t_rx // 3600.0) * 3600.0
    t = hour + tenths_past_hour / 10.0
    if t - t_rx > 1800.0:
        t -= 3600.0
    elif t_rx - t > 1800.0:
        t += 3600.0
    return t
