"""WarDragon/DragonSync decoder JSON (pure): one document -> the same F3411 messages the
radio path gives (:mod:`cuas.sensors.remoteid.odid`), for :class:`.decode.RemoteIdDecoder`."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Final

from cuas.errors import DecodeError
from cuas.sensors.remoteid import odid

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


