"""Remote ID receiver: Open Drone ID broadcasts (Wi-Fi beacon and NaN, Bluetooth 4 and 5) or a
WarDragon/DragonSync decoder's ZeroMQ JSON in, ``detections`` (``kind`` ``remoteid``) out.

Layers:

* :mod:`cuas.sensors.remoteid.odid` (pure): frame bytes -> F3411 messages;
* :class:`RemoteIdDecoder` (pure, stateful per transmitter): messages -> contract detections.
  A transmitter's ids (serial, CAA registration, session id, UTM UUID, its MAC) are joined into
  one identity: ``ident.rid`` is the best (serial first), the rest are ``ident.aliases``, so a
  drone heard over Wi-Fi and Bluetooth at once is one identity. A Location without a valid
  position (0/0, out of range, or unknown) gives an identity-only detection (frame ``none``),
  never a fix at 0 degrees, 0 degrees;
* :func:`wardragon_messages` (pure): one WarDragon JSON document -> the same messages;
* :class:`RemoteIdSource` (I/O): a pcap/pcapng file replayed at capture pace (or as fast as
  possible), a monitor-mode Wi-Fi interface (``iface:NAME``: an AF_PACKET raw socket, Linux,
  needs CAP_NET_RAW), or ``wardragon://HOST:PORT`` (ZeroMQ SUB, reconnecting by itself);
  ``cuas sensor remoteid`` is :mod:`.cli`.

Units: degrees, metres (heights above the WGS-84 ellipsoid), m/s, UTC seconds.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import struct
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.errors import CuasError, DecodeError
from cuas.sensors.publisher import PublishingAdapter, SensorPublisher
from cuas.sensors.remoteid import odid
from cuas.sensors.remoteid.pcap import (
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    CaptureReader,
)
from cuas.sensors.remoteid.settings import RemoteIdSettings

#: 95 % radius of a circular 2-D Gaussian is 2.448 sigma; a 95 % one-dimensional bound 1.960.
K95_2D: Final = 2.448
K95_1D: Final = 1.960
#: Vertical 1-sigma (m) when only a height above take-off/ground is known, or nothing at all.
SIGMA_V_HEIGHT: Final = 15.0
SIGMA_V_NONE: Final = 100.0
#: Vertical speed 1-sigma (m/s) when the vertical speed is unknown (0 is sent).
SIGMA_VS_UNKNOWN: Final = 5.0
#: A Location time stamp within this of the receive time (s) is the detection's time.
MAX_CLOCK_SKEW_S: Final = 5.0
#: Most transmitters followed at once (the least recently heard is forgotten first).
MAX_TRANSMITTERS: Final = 10_000
#: Order in which Basic ID types become ``ident.rid``: serial, CAA, UTM UUID, session id, and
#: last an id sent with type 0 ("none": test transmitters do)...
_RID_ORDER: Final = (1, 2, 3, 4, 0)
_ALIAS_PREFIX: Final = {1: "serial", 2: "caa", 3: "utm", 4: "session", 0: "id"}


# --------------------------------------------------------------------------- decoder


@dataclass(slots=True)
class _Transmitter:
    """What one transmitter (one MAC on one transport) has said so far."""

    mac: str
    transport: str
    last_t: float
    ids: dict[int, str] = field(default_factory=dict)
    ua_type: int | None = None
    operator_id: str | None = None
    self_id: str | None = None
    system: odid.System | None = None
    last_identity_t: float = -math.inf


@dataclass(slots=True)
class DecoderStats:
    """Counters of the decoder (monotonic)."""

    frames: int = 0
    bad_frames: int = 0
    messages: int = 0
    positions: int = 0
    no_position: int = 0
    identity_only: int = 0
    clock_skew: int = 0
    evicted: int = 0


@dataclass(frozen=True, slots=True)
class Report:
    """One detection to publish, measured at ``t`` (UTC s)."""

    t: float
    det: wire.Detection


class RemoteIdDecoder:
    """Turns each transmitter's messages into contract detections (see the module docstring).

    ``ground_h``: height above the ellipsoid (m) of the take-off ground, for messages that give
    only a height above take-off/ground.
    """

    def __init__(self, settings: RemoteIdSettings | None = None, ground_h: float = 0.0) -> None:
        self.settings = settings if settings is not None else RemoteIdSettings()
        self.ground_h = self.settings.ground_h if self.settings.ground_h is not None else ground_h
        self.stats = DecoderStats()
        self._tx: OrderedDict[str, _Transmitter] = OrderedDict()

    @property
    def transmitters(self) -> int:
        return len(self._tx)

    def feed_packet(self, linktype: int, data: bytes, t_rx: float) -> list[Report]:
        """One captured packet; a broken Remote ID frame is counted in ``bad_frames``."""
        try:
            frame = odid.extract(linktype, data)
        except (DecodeError, ValueError, IndexError, struct.error):
            self.stats.bad_frames += 1  # never one frame stopping a feed: counted
            return []
        if frame is None:
            return []
        return self.feed_frame(frame, t_rx)

    def feed_frame(self, frame: odid.Frame, t_rx: float) -> list[Report]:
        """One decoded frame received at ``t_rx``."""
        self.stats.frames += 1
        return self.feed_messages(frame.transport, frame.mac, frame.rssi_dbm, frame.messages,
                                  t_rx)

    def feed_messages(self, transport: str, mac: str, rssi: float | None,
                      messages: Sequence[odid.Message], t_rx: float) -> list[Report]:
        """Messages of one transmitter heard at ``t_rx``: state updated, detections returned
        (one per Location; an identity-only one now and then for a transmitter with no fix)."""
        self.stats.messages += len(messages)
        tx = self._transmitter(transport, mac, t_rx)
        locations: list[odid.Location] = []
        for m in messages:
            if isinstance(m, odid.BasicId):
                if m.uas_id and m.id_type in _ALIAS_PREFIX:
                    tx.ids[m.id_type] = m.uas_id
                if m.ua_type:
                    tx.ua_type = m.ua_type
            elif isinstance(m, odid.Location):
                locations.append(m)
            elif isinstance(m, odid.System):
                tx.system = m
            elif isinstance(m, odid.OperatorId) and m.operator_id:
                tx.operator_id = m.operator_id
            elif isinstance(m, odid.SelfId) and m.text and m.desc_type == 0:
                tx.self_id = m.text
        out = [self._report(tx, loc, rssi, t_rx) for loc in locations]
        # A transmitter heard without any Location (or between them) is still announced, at
        # most once per identity_period_s: its identity is news even without a position.
        if not out and (tx.ids or tx.operator_id) \
                and t_rx - tx.last_identity_t >= self.settings.identity_period_s:
            out.append(self._identity_only(tx, None, rssi, t_rx))
        return out

    def evict(self, now: float) -> int:
        """Forget transmitters silent for ``evict_after_s``; returns how many."""
        limit = now - self.settings.evict_after_s
        gone = [k for k, tx in self._tx.items() if tx.last_t < limit]
        for k in gone:
            del self._tx[k]
        self.stats.evicted += len(gone)
        return len(gone)

    # ------------------------------------------------------------------ internals

    def _transmitter(self, transport: str, mac: str, t: float) -> _Transmitter:
        # Wi-Fi beacon and NaN from one chip share a MAC and are one transmitter; Bluetooth is
        # another radio (the serial joins them in the tracker).
        radio = "bt" if transport.startswith("bt") else "wifi"
        key = f"{radio}/{mac}"
        tx = self._tx.get(key)
        if tx is None:
            tx = self._tx[key] = _Transmitter(mac, transport, t)
            if len(self._tx) > MAX_TRANSMITTERS:
                self._tx.popitem(last=False)
                self.stats.evicted += 1
        else:
            self._tx.move_to_end(key)
        tx.last_t = max(tx.last_t, t)
        tx.transport = transport
        return tx

    def _ident(self, tx: _Transmitter) -> wire.Ident:
        ids = [(k, tx.ids[k]) for k in _RID_ORDER if k in tx.ids]
        aliases = [f"{_ALIAS_PREFIX[k]}:{v}" for k, v in ids[1:]]
        if tx.mac:
            aliases.append(f"mac:{tx.mac}")
        rid = ids[0][1] if ids else (f"mac:{tx.mac}" if tx.mac else None)
        if rid is not None and rid.startswith("mac:"):
            aliases = [a for a in aliases if a != rid]
        op = None
        s = tx.system
        if s is not None and s.operator_lat is not None and s.operator_lon is not None:
            op = (s.operator_lat, s.operator_lon,
                  s.operator_alt_m if s.operator_alt_m is not None else self.ground_h)
        return wire.Ident(rid=rid, operator_lla=op, aliases=tuple(aliases[:wire.MAX_ALIASES]))

    def _attrs(self, tx: _Transmitter, loc: odid.Location | None,
               rssi: float | None) -> dict[str, Any]:
        attrs: dict[str, Any] = {"transport": tx.transport}
        if tx.mac:
            attrs["mac"] = tx.mac
        if rssi is not None:
            attrs["rssi_dbm"] = rssi
        if tx.ua_type is not None:
            attrs["ua_type"] = odid.UA_TYPES[tx.ua_type]
        if loc is not None:
            attrs["status"] = (odid.STATUSES[loc.status] if loc.status < len(odid.STATUSES)
                               else "reserved")
        if tx.operator_id:
            attrs["operator_id"] = tx.operator_id
        if tx.self_id:
            attrs["self_id"] = tx.self_id
        return attrs

    def _time(self, loc: odid.Location | None, t_rx: float) -> float:
        if loc is None or loc.tenths_past_hour is None:
            return t_rx
        t = odid.resolve_time(loc.tenths_past_hour, t_rx)
        if abs(t - t_rx) > MAX_CLOCK_SKEW_S:
            self.stats.clock_skew += 1
            return t_rx
        return t

    def _identity_only(self, tx: _Transmitter, loc: odid.Location | None, rssi: float | None,
                       t_rx: float) -> Report:
        self.stats.identity_only += 1
        tx.last_identity_t = t_rx
        det = wire.Detection(frame="none", z=(), ident=self._ident(tx),
                             attrs=self._attrs(tx, loc, rssi))
        return Report(self._time(loc, t_rx), det)

    def _report(self, tx: _Transmitter, loc: odid.Location, rssi: float | None,
                t_rx: float) -> Report:
        if not loc.has_position:
            self.stats.no_position += 1
            return self._identity_only(tx, loc, rssi, t_rx)
        assert loc.lat is not None and loc.lon is not None
        self.stats.positions += 1
        tx.last_identity_t = t_rx
        h_bound = odid.HORIZONTAL_ACCURACY_M.get(loc.h_accuracy)
        sig_h = h_bound / K95_2D if h_bound is not None else self.settings.default_sigma_m
        v_bound = odid.VERTICAL_ACCURACY_M.get(loc.v_accuracy)
        attrs = self._attrs(tx, loc, rssi)
        if loc.alt_geo_m is not None:
            h, sig_v, src = loc.alt_geo_m, (v_bound / K95_1D if v_bound else 30.0), "geodetic"
        elif loc.height_m is not None:
            h, sig_v, src = self.ground_h + loc.height_m, SIGMA_V_HEIGHT, "height"
        elif loc.alt_baro_m is not None:
            # Pressure altitude is referenced to 1013.25 hPa, not the ellipsoid: tens of metres.
            h, sig_v, src = loc.alt_baro_m, 60.0, "baro"
        else:
            h, sig_v, src = self.ground_h, SIGMA_V_NONE, "none"
        attrs["alt_source"] = src
        if loc.height_m is not None:
            attrs["height_m"] = loc.height_m
        vel = vel_sigma = None
        if loc.speed_ms is not None and loc.direction_deg is not None:
            a = math.radians(loc.direction_deg)
            vu = loc.vspeed_ms if loc.vspeed_ms is not None else 0.0
            vel = (loc.speed_ms * math.sin(a), loc.speed_ms * math.cos(a), vu)
            s_bound = odid.SPEED_ACCURACY_MS.get(loc.speed_accuracy)
            s = s_bound / K95_1D if s_bound is not None else 3.0
            vel_sigma = (s, s, s if loc.vspeed_ms is not None else SIGMA_VS_UNKNOWN)
        det = wire.Detection(frame="lla", z=(loc.lat, loc.lon, h), sigma=(sig_h, sig_h, sig_v),
                             vel=vel, vel_sigma=vel_sigma, ident=self._ident(tx), attrs=attrs)
        return Report(self._time(loc, t_rx), det)


# --------------------------------------------------------------------------- WarDragon JSON

#: WarDragon/DroneID block names -> the F3411 message they carry.
_BLOCKS: Final = {"Basic ID": "basic", "Location/Vector Message": "location",
                  "System Message": "system", "Operator ID Message": "operator",
                  "Self-ID Message": "self_id"}
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
_STATUS_WORDS: Final = {"undeclared": 0, "ground": 1, "airborne": 2, "emergency": 3,
                        "system failure": 4, "remote id system failure": 4}


def _num(v: Any) -> float | None:
    """A number from a JSON value: 12, 12.5 or text such as "100.000000 m" (None if none)."""
    if isinstance(v, bool):
        return None
    try:
        if isinstance(v, int | float):
            f = float(v)
        elif isinstance(v, str):
            m = _NUMBER.search(v[:64])
            if m is None:
                return None
            f = float(m.group())
        else:
            return None
    except OverflowError:  # an integer of hundreds of digits
        return None
    return f if math.isfinite(f) else None


def accuracy_bound(v: Any) -> float | None:
    """A 95 % accuracy bound in metres (or m/s) from a WarDragon field: a number, or text such
    as "< 3m", "<10 m", "< 0.3 m/s", "< 18.52 km"; unknown (or ">= ...") gives None."""
    if isinstance(v, str):
        text = v.strip().lower()
        if not text or "unknown" in text or text.startswith(">"):
            return None
        value = _num(text)
        if value is None:
            return None
        if re.search(r"\d\s*km", text):
            value *= 1000.0
        elif re.search(r"\d\s*nm\b", text):
            value *= 1852.0
        return value if value > 0 else None
    value = _num(v)
    return value if value is not None and value > 0 else None


def _class_of(bound: float | None, table: dict[int, float]) -> int:
    """The accuracy class whose bound is the given one (0, unknown, if none is within 1 %)."""
    if bound is None:
        return 0
    for code, b in table.items():
        if abs(b - bound) <= 0.01 * b:
            return code
    # Not a class bound: the tightest class it still satisfies.
    ok = [c for c, b in table.items() if b >= bound]
    return max(ok) if ok else 0


def _id_type(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v if 0 <= v <= 15 else 0
    text = str(v).lower()
    if "serial" in text:
        return 1
    if "caa" in text or "registration" in text:
        return 2
    if "utm" in text or "uuid" in text:
        return 3
    if "session" in text:
        return 4
    return 0


def _ua_type(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v if 0 <= v <= 15 else 0
    text = str(v).lower()
    for code, name in ((2, "multirotor"), (2, "helicopter"), (1, "aeroplane"), (1, "airplane"),
                       (4, "hybrid"), (6, "glider"), (3, "gyroplane"), (7, "kite")):
        if name in text:
            return code
    return 0


def _status(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v if 0 <= v <= 15 else 0
    return _STATUS_WORDS.get(str(v).strip().lower(), 0)


def _latlon(lat: Any, lon: Any) -> tuple[float | None, float | None]:
    la, lo = _num(lat), _num(lon)
    if la is None or lo is None or (la == 0 and lo == 0) or not (-90 <= la <= 90
                                                                and -180 <= lo <= 180):
        return None, None
    return la, lo


def _text_field(v: Any) -> str:
    return v.strip()[:64] if isinstance(v, str) else ""


@dataclass(frozen=True, slots=True)
class WarDragonFrame:
    """The messages of one WarDragon document and the transmitter it names."""

    mac: str
    rssi_dbm: float | None
    transport: str
    messages: tuple[odid.Message, ...]


def wardragon_messages(doc: Any) -> WarDragonFrame:
    """One WarDragon/DroneID JSON document (already parsed) as F3411 messages.

    Shapes: a list of single-key blocks named after the F3411 messages (``Basic ID``,
    ``Location/Vector Message``, ``System Message``, ``Operator ID Message``,
    ``Self-ID Message``; other blocks ignored), the same blocks as keys of one dict (ESP32
    receivers), or an ESP32 flat dict (``drone_lat``, ``drone_long``, ``drone_altitude``,
    ``pilot_lat``, ``pilot_long``, ``basic_id``, ``mac``, ``rssi``). DecodeError if it is none
    of these.
    """
    if isinstance(doc, dict) and isinstance(doc.get("messages"), list):
        doc = doc["messages"]
    blocks: dict[str, dict[str, Any]] = {}
    basics: list[dict[str, Any]] = []  # a drone may send several Basic IDs (serial and CAA)
    if isinstance(doc, list):
        for item in doc:
            if isinstance(item, dict):
                for name, body in item.items():
                    if name == "Basic ID" and isinstance(body, dict):
                        basics.append(body)
                    if name in _BLOCKS and isinstance(body, dict) and _BLOCKS[name] not in blocks:
                        blocks[_BLOCKS[name]] = body
    elif isinstance(doc, dict):
        for name, body in doc.items():
            if name in _BLOCKS and isinstance(body, dict):
                blocks[_BLOCKS[name]] = body
        if not blocks and any(k in doc for k in ("drone_lat", "basic_id", "uas_id")):
            blocks = _flat_blocks(doc)
    else:
        raise DecodeError(f"expected a JSON list or object, got {type(doc).__name__}")
    if not blocks:
        raise DecodeError("no Remote ID block (Basic ID, Location/Vector Message, ...) found")
    mac = rssi = None
    for body in blocks.values():
        mac = mac or body.get("MAC") or body.get("mac")
        if rssi is None:
            rssi = _num(body.get("RSSI", body.get("rssi")))
    if isinstance(doc, dict):
        mac = mac or doc.get("MAC") or doc.get("mac")
        rssi = rssi if rssi is not None else _num(doc.get("RSSI", doc.get("rssi")))
    mac_text = mac.strip().lower()[:32] if isinstance(mac, str) else ""
    transport = "wardragon"
    msgs: list[odid.Message] = []
    for b in basics or ([blocks["basic"]] if "basic" in blocks else []):
        uas_id = _text_field(b.get("id") or b.get("uas_id"))
        msgs.append(odid.BasicId(_id_type(b.get("id_type", 1)), _ua_type(b.get("ua_type", 0)),
                                 uas_id))
    loc = blocks.get("location")
    if loc is not None:
        msgs.append(_wd_location(loc))
    s = blocks.get("system")
    if s is not None:
        la, lo = _latlon(s.get("operator_lat", s.get("latitude")),
                         s.get("operator_lon", s.get("longitude")))
        op_alt = _num(s.get("operator_alt_geo", s.get("operator_altitude")))
        msgs.append(odid.System(0, 0, la, lo, 0, 0.0, None, None, 0, 0, op_alt, None))
    o = blocks.get("operator")
    if o is not None:
        msgs.append(odid.OperatorId(0, _text_field(o.get("operator_id"))))
    sid = blocks.get("self_id")
    if sid is not None:
        msgs.append(odid.SelfId(0, _text_field(sid.get("text"))))
    return WarDragonFrame(mac_text, rssi, transport, tuple(msgs))


def _flat_blocks(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        "basic": {"id": doc.get("basic_id", doc.get("uas_id")), "id_type": doc.get("id_type", 1),
                  "ua_type": doc.get("ua_type", 0)},
        "location": {"latitude": doc.get("drone_lat"), "longitude": doc.get("drone_long",
                                                                            doc.get("drone_lon")),
                     "geodetic_altitude": doc.get("drone_altitude"),
                     "height_agl": doc.get("drone_height"), "speed": doc.get("drone_speed"),
                     "direction": doc.get("drone_heading", doc.get("drone_direction")),
                     "vert_speed": doc.get("drone_vertical_speed"),
                     "op_status": doc.get("status", 0)},
    }
    if "pilot_lat" in doc:
        out["system"] = {"operator_lat": doc.get("pilot_lat"),
                         "operator_lon": doc.get("pilot_long", doc.get("pilot_lon"))}
    if "operator_id" in doc:
        out["operator"] = {"operator_id": doc.get("operator_id")}
    return out


def _wd_location(loc: dict[str, Any]) -> odid.Location:
    lat, lon = _latlon(loc.get("latitude"), loc.get("longitude"))

    def alt(*keys: str) -> float | None:
        for k in keys:
            v = _num(loc.get(k))
            if v is not None and v > -999.0:  # -1000 m is F3411's "unknown"
                return v
        return None

    speed = _num(loc.get("speed"))
    direction = _num(loc.get("direction"))
    if direction is not None and not 0 <= direction <= 360:
        direction = None
    if speed is not None and not 0 <= speed < 255:
        speed = None
    vs = _num(loc.get("vert_speed"))
    if vs is not None and not -62 <= vs <= 62:
        vs = None
    height_type = 1 if "agl" in str(loc.get("height_type", "")).lower() else 0
    return odid.Location(
        status=_status(loc.get("op_status", loc.get("status", 0))),
        direction_deg=None if direction is None else direction % 360.0, speed_ms=speed,
        vspeed_ms=vs, lat=lat, lon=lon,
        alt_baro_m=alt("pressure_altitude", "alt_pressure"),
        alt_geo_m=alt("geodetic_altitude"), height_m=alt("height_agl", "height"),
        height_type=height_type,
        h_accuracy=_class_of(accuracy_bound(loc.get("horizontal_accuracy",
                                                    loc.get("horiz_acc"))),
                             odid.HORIZONTAL_ACCURACY_M),
        v_accuracy=_class_of(accuracy_bound(loc.get("vertical_accuracy", loc.get("vert_acc"))),
                             odid.VERTICAL_ACCURACY_M),
        baro_accuracy=_class_of(accuracy_bound(loc.get("baro_accuracy", loc.get("baro_acc"))),
                                odid.VERTICAL_ACCURACY_M),
        speed_accuracy=_class_of(accuracy_bound(loc.get("speed_accuracy", loc.get("speed_acc"))),
                                 odid.SPEED_ACCURACY_MS),
        tenths_past_hour=None, ts_accuracy_s=None)


def decode_wardragon(payload: bytes) -> WarDragonFrame:
    """One ZeroMQ message of a WarDragon feed (UTF-8 JSON); DecodeError if it is not one."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise DecodeError(f"not JSON: {exc}", data=bytes(payload[:64])) from None
    return wardragon_messages(doc)


# --------------------------------------------------------------------------- I/O shell

#: At speed 0, let the event loop run other tasks after this many packets.
_YIELD_EVERY: Final = 64
#: ETH_P_ALL, for the raw packet socket; a packet the host sent; a bare 802.11 interface.
_ETH_P_ALL: Final = 0x0003
_PACKET_OUTGOING: Final = 4
_ARPHRD_IEEE80211: Final = 801
CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """What one run of the adapter read and published."""

    source: str
    packets: int
    frames: int
    positions: int
    published: int
    counters: dict[str, int]
    elapsed_s: float

    def line(self) -> str:
        c = self.counters
        return (f"remoteid: {self.source}: {self.packets} packets, {self.frames} Remote ID "
                f"frames, {self.positions} positions, {c.get('identity_only', 0)} identity-only, "
                f"{self.published} published in {self.elapsed_s:.2f} s; bad frames "
                f"{c.get('bad_frames', 0)}")


class RemoteIdSource(PublishingAdapter):
    """Reads one Remote ID source and publishes ``detections`` on ``det.<sensor_id>``.

    ``source``: a capture file (pcap/pcapng; every frame published, paced by its time stamps at
    ``speed`` times real time, 0 as fast as possible; waits ``wait_s`` for the daemon's
    subscription first), ``iface:NAME`` (a monitor-mode interface delivering radiotap frames)
    or ``wardragon://HOST:PORT`` (ZeroMQ SUB to a WarDragon/DroneID decoder).
    """

    def __init__(self, source: str, endpoint: str, *, sensor_id: str = "remoteid",
                 settings: RemoteIdSettings | None = None, ground_h: float = 0.0,
                 speed: float = 1.0, wait_s: float = 10.0,
                 context: zmq.asyncio.Context | None = None, status_period_s: float = 1.0,
                 hwm: int = bus.DEFAULT_HWM, origin: wire.Vec3 | None = None,
                 security: bus.CurveKeys | None = None) -> None:
        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be a finite number >= 0, got {speed}")
        self.source = source
        self.endpoint = endpoint
        self.sensor_id = sensor_id
        self.settings = settings if settings is not None else RemoteIdSettings()
        self.decoder = RemoteIdDecoder(self.settings, ground_h)
        self.speed = speed
        #: The receiver's position (lat, lon, h), sent as each message's ``origin``: the fusion
        #: side judges signal strength against the claimed range from it.
        self.origin = origin
        self.counters: Counter[str] = Counter()
        self.live = source.startswith(("wardragon://", "iface:"))
        self._own_ctx = context is None
        self._ctx = context if context is not None else zmq.asyncio.Context()
        self._reader = CaptureReader()
        self.pub = SensorPublisher(endpoint, sensor_id, self.counters, live=self.live,
                                   wait_s=wait_s, context=self._ctx, hwm=hwm,
                                   status_period_s=status_period_s,
                                   extra_counters=self._decoder_counters, security=security)
        #: Set once the subscriber has been seen.
        self.subscribed = asyncio.Event()

    def _decoder_counters(self) -> dict[str, int]:
        out = {k: getattr(self.decoder.stats, k) for k in self.decoder.stats.__slots__}
        out["capture_bad_records"] = self._reader.stats.bad_records
        out["packets"] = self.counters["packets"]
        return out

    async def run(self, stop: asyncio.Event | None = None) -> SourceSummary:
        """Publish until the file ends, or (live) until ``stop`` is set."""
        stop = stop if stop is not None else asyncio.Event()
        # A file or interface that cannot be read fails now, not after the wait for the daemon.
        data = None if self.live else self._read_file(Path(self.source))
        raw = self._open_iface() if self.source.startswith("iface:") else None
        started = time.monotonic()
        try:
            await self.pub.open(stop)
            self.subscribed.set()
            if data is not None:
                await self._run_file(data, stop)
            elif self.source.startswith("wardragon://"):
                await self._run_wardragon(self._ctx, stop)
            elif raw is not None:
                await self._run_iface(raw, stop)
            self.pub.finished()
        finally:
            if raw is not None:
                raw.close()
            await self.pub.close()
            if self._own_ctx:
                await asyncio.to_thread(self._ctx.term)
        c = self.all_counters()
        return SourceSummary(self.source, c.get("packets", 0), c["frames"], c["positions"],
                             c.get("published", 0), c, time.monotonic() - started)

    async def _publish(self, reports: Iterable[Report]) -> None:
        for r in reports:
            await self.pub.publish(r.t, "remoteid", (r.det,), origin=self.origin)

    # ------------------------------------------------------------------ file

    def _read_file(self, path: Path) -> bytes:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CuasError(f"cannot read {path}: {exc.strerror}") from None
        try:
            CaptureReader().feed(data[:64])  # says now, before waiting, if it is no capture
        except DecodeError as exc:
            raise CuasError(f"{path}: {exc}") from None
        if len(data) < 24:  # the smallest header of either format
            raise CuasError(f"{path}: {len(data)} bytes: too short to be a pcap or pcapng capture")
        return data

    async def _run_file(self, data: bytes, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        self.state = "ok"
        first_t: float | None = None
        started = loop.time()
        sent = 0
        for pos in range(0, max(len(data), 1), CHUNK):
            if stop.is_set():
                break
            try:
                packets = self._reader.feed(data[pos:pos + CHUNK])
            except DecodeError:
                self.counters["bad_capture"] += 1
                break
            for p in packets:
                self.counters["packets"] += 1
                if not math.isfinite(p.t):
                    continue
                reports = self.decoder.feed_packet(p.linktype, p.data, p.t)
                if not reports:
                    continue
                if first_t is None:
                    first_t = p.t
                    started = loop.time()
                if self.speed > 0:
                    delay = started + (p.t - first_t) / self.speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif sent % _YIELD_EVERY == _YIELD_EVERY - 1:
                    await asyncio.sleep(0)
                await self._publish(reports)
                sent += 1
                if sent % 1024 == 0:
                    self.decoder.evict(p.t)
        if self._reader.pending:
            self.counters["capture_cut_records"] += 1  # the file ends inside a record

    # ------------------------------------------------------------------ WarDragon

    async def _run_wardragon(self, ctx: zmq.asyncio.Context, stop: asyncio.Event) -> None:
        """SUB to the decoder's PUB; ZeroMQ reconnects by itself, the status says ``degraded``
        while nothing arrives for 10 s."""
        rest = self.source[len("wardragon://"):]
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit():
            raise CuasError(f"{self.source}: expected wardragon://HOST:PORT")
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.setsockopt(zmq.RCVHWM, 10_000)
        sub.setsockopt(zmq.LINGER, 0)
        sub.connect(f"tcp://{host}:{port}")
        self.state = "degraded"
        try:
            while not stop.is_set():
                if not await sub.poll(timeout=1000):
                    self.state = "degraded" if self.counters["wardragon_messages"] == 0 else \
                        self.state
                    continue
                parts = await sub.recv_multipart()
                self.state = "ok"
                self.counters["wardragon_messages"] += 1
                payload = parts[-1]
                if len(payload) > 1 << 20:
                    self.decoder.stats.bad_frames += 1
                    continue
                try:
                    frame = decode_wardragon(payload)
                except (DecodeError, ValueError, TypeError, OverflowError, RecursionError):
                    self.decoder.stats.bad_frames += 1  # counted; the feed goes on
                    continue
                self.decoder.stats.frames += 1
                await self._publish(self.decoder.feed_messages(
                    frame.transport, frame.mac, frame.rssi_dbm, frame.messages, time.time()))
        finally:
            sub.close(linger=0)

    # ------------------------------------------------------------------ monitor interface

    def _open_iface(self) -> socket.socket:
        """The raw packet socket of ``iface:NAME`` (raises CuasError saying what is missing)."""
        name = self.source[len("iface:"):]
        if not hasattr(socket, "AF_PACKET"):
            raise CuasError("monitor-mode capture needs Linux (AF_PACKET sockets)")
        try:
            raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        except PermissionError:
            raise CuasError(f"{name}: a raw socket needs CAP_NET_RAW (run as root, or "
                            "`setcap cap_net_raw+ep` the Python binary, or "
                            "AmbientCapabilities=CAP_NET_RAW in the unit)") from None
        try:
            raw.bind((name, 0))
        except OSError as exc:
            raw.close()
            raise CuasError(f"{name}: {exc.strerror}") from None
        raw.setblocking(False)
        return raw

    async def _run_iface(self, raw: socket.socket, stop: asyncio.Event) -> None:
        """A monitor-mode Wi-Fi interface: every frame with its radiotap header (or bare
        802.11 on an ARPHRD_IEEE80211 interface), through an AF_PACKET raw socket. Frames the
        host itself sends are skipped."""
        loop = asyncio.get_running_loop()
        self.state = "ok"
        try:
            while not stop.is_set():
                try:
                    data, addr = await asyncio.wait_for(loop.sock_recvfrom(raw, 65536),
                                                        timeout=1.0)
                except TimeoutError:
                    continue
                if addr[2] == _PACKET_OUTGOING:
                    continue
                self.counters["packets"] += 1
                linktype = LINKTYPE_IEEE802_11 if addr[3] == _ARPHRD_IEEE80211 else \
                    LINKTYPE_IEEE802_11_RADIOTAP
                await self._publish(self.decoder.feed_packet(linktype, data, time.time()))
                if self.counters["packets"] % 4096 == 0:
                    self.decoder.evict(time.time())
        finally:
            raw.close()
