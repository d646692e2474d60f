"""Remote ID decoding (pure, stateful per transmitter): ASTM F3411 messages -> ``detections``.

A transmitter's ids (serial, CAA registration, session id, UTM UUID, its MAC) are joined into
one identity: ``ident.rid`` is the best (serial first), the rest are ``ident.aliases``, so a
drone heard over Wi-Fi and Bluetooth at once is one identity. A Location without a valid
position (0/0, out of range, or unknown) gives an identity-only detection (frame ``none``),
never a fix at 0 degrees, 0 degrees. Units: degrees, metres (heights above the WGS-84
ellipsoid), m/s, UTC seconds.
"""

from __future__ import annotations

import math
import struct
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cuas import wire
from cuas.errors import DecodeError
from cuas.sensors.remoteid import odid
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


#: Authentication types (ASTM F3411-22a, message type 0x2); 0xA..0xF are private.
AUTH_TYPES: Final = ("none", "uas_id_signature", "operator_id_signature",
                     "message_set_signature", "network_remote_id", "specific_method")
#: An authentication heard longer ago than this (s) no longer counts as present.
AUTH_FRESH_S: Final = 60.0


def auth_type_name(code: int) -> str:
    """The name of an Authentication type code (0..15)."""
    if code < len(AUTH_TYPES):
        return AUTH_TYPES[code]
    return "private" if code >= 0xA else "reserved"


@dataclass(slots=True)
class _Auth:
    """The authentication one transmitter is sending: its type, the pages heard of the current
    one (page 0 announces the last page index and starts a new set) and when."""

    auth_type: int
    last_page: int | None = None
    pages: set[int] = field(default_factory=set)
    timestamp: float | None = None
    t: float = -math.inf

    def add(self, m: odid.Authentication, t: float) -> None:
        if m.page == 0:
            if m.auth_type != self.auth_type or m.timestamp != self.timestamp:
                self.pages.clear()
            self.last_page, self.timestamp = m.last_page, m.timestamp
        elif m.auth_type != self.auth_type:
            self.pages.clear()
        self.auth_type = m.auth_type
        self.pages.add(m.page)
        self.t = t

    def state(self, now: float) -> str:
        """``present`` (every page of a signature heard), ``partial`` (some) or ``absent``
        (none recently, or type ``none``)."""
        if self.auth_type == 0 or now - self.t > AUTH_FRESH_S:
            return "absent"
        if self.last_page is not None and self.pages >= set(range(self.last_page + 1)):
            return "present"
        return "partial"


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
    auth: _Auth | None = None


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
    auth_pages: int = 0
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
            elif isinstance(m, odid.Authentication):
                self.stats.auth_pages += 1
                if tx.auth is None:
                    tx.auth = _Auth(m.auth_type)
                tx.auth.add(m, t_rx)
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
        # Whether the transmitter signs what it says (the signature is not verified here: no
        # key infrastructure); a drone that never does is weaker evidence of who it is.
        attrs["auth"] = tx.auth.state(tx.last_t) if tx.auth is not None else "absent"
        if tx.auth is not None and tx.auth.auth_type:
            attrs["auth_type"] = auth_type_name(tx.auth.auth_type)
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


