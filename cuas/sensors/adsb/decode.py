"""ADS-B decoding (pure): Mode S messages to ``detections`` (``kind`` ``adsb``, frame ``lla``).

The ADS-B kind's layers, each testable on its own:

* :mod:`.framing`: Beast (port 30005), SBS-1 BaseStation (port 30003) and AVR hex (port 30002)
  feeds from dump1090 or readsb, bytes in, frames and the unconsumed rest out;
* :mod:`.clock`: the receiver's free-running 12 MHz counter mapped to UTC;
* :mod:`.cpr`: Compact Position Reporting, global (even/odd pair) and local decoding;
* here, :class:`AdsbDecoder`: Mode S fields decoded by rs1090 in batches (its CRC check
  included), CPR positions resolved per aircraft (global from an even/odd pair, else local
  against the aircraft's own last position), accuracy, velocity and identity attached;
* :mod:`.source`: the I/O shell (TCP with reconnect, or a capture file) publishing on the bus,
  and ``cuas sensor adsb`` (:mod:`.cli`).

Heights: ADS-B airborne positions carry barometric (pressure) altitude for type codes 9-18 and
GNSS height above the ellipsoid for 20-22. A barometric altitude is corrected to the ellipsoid
with the aircraft's own ``geo_minus_baro`` (from its velocity messages) when known; otherwise it
is used as is with a larger vertical sigma, and ``attrs.alt_source`` says which.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cuas import wire
from cuas.sensors.adsb.cpr import cpr_global, cpr_local, distance_m
from cuas.sensors.adsb.framing import BeastFrame, SbsRecord
from cuas.sensors.adsb.settings import AdsbSettings

# --------------------------------------------------------------------------- accuracy

FT: Final = 0.3048
KT: Final = 1852.0 / 3600.0
#: NACp -> 95 % horizontal position accuracy bound (EPU, m); DO-260B table.
_NACP_EPU: Final = {11: 3.0, 10: 10.0, 9: 30.0, 8: 92.6, 7: 185.2, 6: 555.6, 5: 926.0,
                    4: 1852.0, 3: 3704.0, 2: 7408.0, 1: 18520.0}
#: NUCp (version 0, from the type code) -> horizontal protection limit (m).
_NUCP_HPL: Final = {9: 7.5, 8: 25.0, 7: 185.2, 6: 370.4, 5: 926.0, 4: 1852.0, 3: 3704.0,
                    2: 18520.0, 1: 37040.0}
#: NACv -> 95 % horizontal velocity error bound (m/s).
_NACV: Final = {4: 0.3, 3: 1.0, 2: 3.0, 1: 10.0}
#: Signal byte -> power in dB below full scale: dump1090 and readsb send
#: round(sqrt(power) * 255), so 20 log10(signal / 255).
_RSSI_DBFS: Final = [round(20.0 * math.log10(max(i, 1) / 255.0), 1) for i in range(256)]
#: A 2-D 95 % radius is 2.45 sigma of each axis.
_R95_TO_SIGMA: Final = 1.0 / 2.45
#: Floor of the horizontal sigma (m): CPR quantisation (~5 m) and the aircraft's motion during
#: the unknown latency between measurement and transmission.
SIGMA_FLOOR_M: Final = 5.0
#: Vertical 1-sigma (m): GNSS height; barometric corrected with the aircraft's geo_minus_baro;
#: barometric uncorrected (pressure-altitude vs ellipsoid: weather and geoid, tens of metres).
SIGMA_V_GNSS: Final = 15.0
SIGMA_V_BARO_CORRECTED: Final = 20.0
SIGMA_V_BARO: Final = 60.0


def horizontal_sigma(nacp: int | None, nucp: int | None, default: float) -> float:
    """1-sigma per horizontal axis (m) from NACp (preferred), else NUCp/NIC, else ``default``."""
    if nacp is not None and nacp in _NACP_EPU:
        return max(SIGMA_FLOOR_M, _NACP_EPU[nacp] * _R95_TO_SIGMA)
    if nucp is not None and nucp in _NUCP_HPL:
        return max(SIGMA_FLOOR_M, _NUCP_HPL[nucp] * _R95_TO_SIGMA)
    return default


# --------------------------------------------------------------------------- decoding

#: DF17 type codes worth handing to rs1090: identification, airborne positions, velocity,
#: target state (NACp), operational status (NACp). Everything else is counted and skipped.
_WANTED_TC: Final = frozenset([1, 2, 3, 4, *range(9, 19), 19, 20, 21, 22, 29, 31])


@dataclass(slots=True)
class _Aircraft:
    """What decoding one aircraft needs to remember."""

    last_seen: float
    even: tuple[int, int, float] | None = None  # lat_cpr, lon_cpr, t
    odd: tuple[int, int, float] | None = None
    pos: tuple[float, float, float] | None = None  # lat, lon, t of the last position
    callsign: str | None = None
    callsign_t: float = 0.0
    vel: tuple[float, float, float] | None = None  # ve, vn, vu (m/s)
    vel_t: float = 0.0
    vel_sigma: float | None = None
    geo_minus_baro_ft: float | None = None
    nacp: int | None = None
    nacp_t: float = 0.0
    ident: wire.Ident | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """One decoded position, ready to publish: measurement time ``t`` (UTC s) and detection."""

    t: float
    det: wire.Detection


@dataclass(slots=True)
class DecodeStats:
    """Decoder counters (monotonic)."""

    modeac: int = 0
    short: int = 0
    skipped: int = 0  # long frames of other DFs / type codes: not needed for positions
    redundant: int = 0  # DF17 messages that would only refresh fresh state: not decoded
    decoded: int = 0
    crc_fail: int = 0
    decode_errors: int = 0
    positions: int = 0
    cpr_global: int = 0
    cpr_local: int = 0
    cpr_reference: int = 0
    cpr_rejected: int = 0
    cpr_waiting: int = 0  # position messages waiting for their pair
    no_altitude: int = 0  # airborne position messages without an altitude
    surface_skipped: int = 0
    evicted: int = 0


#: Pair of even/odd messages must be this close in time for a global decode (s).
PAIR_MAX_S: Final = 10.0
#: A velocity older than this is not attached to a position (s).
VEL_MAX_AGE_S: Final = 5.0
#: Velocity messages are decoded at most this often per aircraft (s); they come at ~2 Hz.
VEL_REFRESH_S: Final = 1.0
#: A known callsign or accuracy (NACp) is re-read at most this often per aircraft (s).
STATIC_REFRESH_S: Final = 30.0
#: Fastest plausible aircraft (m/s), for rejecting a CPR solution that jumps.
MAX_AIRCRAFT_SPEED: Final = 600.0


class AdsbDecoder:
    """Per-aircraft state and rs1090 batch decoding (one instance per feed)."""

    def __init__(self, settings: AdsbSettings | None = None) -> None:
        self.settings = settings if settings is not None else AdsbSettings()
        self.aircraft: dict[str, _Aircraft] = {}
        self.stats = DecodeStats()
        self._last_evict = -math.inf

    # ---- Beast

    def feed_beast(self, frames: Sequence[BeastFrame], times: Callable[[int], float]
                   ) -> list[Position]:
        """Decode a batch of Beast frames; ``times(ticks)`` gives each kept frame's UTC time.
        Returns the positions in frame order."""
        import rs1090

        st = self.stats
        kinds = [fr[0] for fr in frames]
        st.modeac += kinds.count(1)
        st.short += kinds.count(2)
        keep: list[BeastFrame] = []
        when: list[float] = []
        aircraft = self.aircraft
        for fr in frames:
            if fr[0] != 3:
                continue
            m = fr[3]
            tc = m[4] >> 3
            if m[0] >> 3 != 17 or tc not in _WANTED_TC:
                st.skipped += 1
                continue
            t = times(fr[1])
            if tc < 9 or tc == 19 or tc > 28:
                # Messages that only refresh what the aircraft's state already knows are not
                # decoded (rs1090 costs ~12 us a message): velocity heard < 1 s ago, a known
                # callsign or accuracy heard < 30 s ago. Positions are always decoded.
                ac = aircraft.get(m[1:4].hex())
                if ac is not None and (
                    (tc == 19 and 0.0 <= t - ac.vel_t < VEL_REFRESH_S)
                    or (tc < 9 and ac.callsign is not None
                        and 0.0 <= t - ac.callsign_t < STATIC_REFRESH_S)
                    or (tc > 28 and ac.nacp is not None
                        and 0.0 <= t - ac.nacp_t < STATIC_REFRESH_S)):
                    st.redundant += 1
                    continue
            keep.append(fr)
            when.append(t)
        if not keep:
            return []
        hexes = [fr.msg.hex() for fr in keep]
        try:
            decoded: list[Any] = rs1090.decode(hexes, batch=len(hexes))
        except BaseException as exc:  # noqa: BLE001 - rs1090 panics surface as BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit | asyncio.CancelledError):
                raise
            decoded = []
            for h in hexes:
                try:
                    decoded.append(rs1090.decode(h))
                except BaseException as exc2:  # noqa: BLE001
                    if isinstance(exc2, KeyboardInterrupt | SystemExit):
                        raise
                    st.decode_errors += 1
                    decoded.append(None)
        out: list[Position] = []
        for fr, t, d in zip(keep, when, decoded, strict=True):
            if d is None:
                st.crc_fail += 1
                continue
            st.decoded += 1
            p = self._message(d, t, fr[2])
            if p is not None:
                out.append(p)
        return out

    def _state(self, icao: str, t: float) -> _Aircraft:
        ac = self.aircraft.get(icao)
        if ac is None:
            ac = self.aircraft[icao] = _Aircraft(last_seen=t)
        elif t > ac.last_seen:
            ac.last_seen = t
        return ac

    def _message(self, d: dict[str, Any], t: float, signal: int | None) -> Position | None:
        bds = d.get("bds")
        icao = d.get("icao24")
        if not isinstance(icao, str):
            return None
        ac = self._state(icao, t)
        if bds == "05":
            return self._position(icao, ac, d, t, signal)
        if bds == "09":
            gs, trk = d.get("groundspeed"), d.get("track")
            if gs is not None and trk is not None:
                vr = d.get("vertical_rate") or 0
                r = math.radians(trk)
                v = gs * KT
                ac.vel = (v * math.sin(r), v * math.cos(r), vr * FT / 60.0)
                ac.vel_t = t
                nacv = d.get("NACv")
                ac.vel_sigma = _NACV.get(nacv, 10.0) / 1.96 if isinstance(nacv, int) else None
            gmb = d.get("geo_minus_baro")
            if gmb is not None:
                ac.geo_minus_baro_ft = float(gmb)
        elif bds == "08":
            cs = (d.get("callsign") or "").strip("_ #").strip()
            if cs:
                ac.callsign = cs
                ac.callsign_t = t
        elif bds in ("65", "62"):
            nacp = d.get("NACp")
            if isinstance(nacp, int) and nacp > 0:
                ac.nacp = nacp
                ac.nacp_t = t
        elif bds == "06":
            self.stats.surface_skipped += 1
        return None

    def _position(self, icao: str, ac: _Aircraft, d: dict[str, Any], t: float,
                  signal: int | None) -> Position | None:
        st = self.stats
        lat_cpr, lon_cpr, parity = d.get("lat_cpr"), d.get("lon_cpr"), d.get("parity")
        alt = d.get("altitude")
        if lat_cpr is None or lon_cpr is None or alt is None:
            st.no_altitude += 1  # altitude not available: no 3-D position to publish
            return None
        odd = parity == "odd"
        if odd:
            ac.odd = (lat_cpr, lon_cpr, t)
            other = ac.even
        else:
            ac.even = (lat_cpr, lon_cpr, t)
            other = ac.odd
        pos: tuple[float, float] | None = None
        how = ""
        if other is not None and abs(t - other[2]) <= PAIR_MAX_S:
            e = ac.even if ac.even is not None else (0, 0, 0.0)
            o = ac.odd if ac.odd is not None else (0, 0, 0.0)
            pos = cpr_global((e[0], e[1]), (o[0], o[1]), newest_odd=odd)
            how = "global"
        if pos is None and ac.pos is not None:
            pos = cpr_local((lat_cpr, lon_cpr), odd, (ac.pos[0], ac.pos[1]))
            how = "local"
        if pos is None and self.settings.reference is not None:
            ref = self.settings.reference
            cand = cpr_local((lat_cpr, lon_cpr), odd, ref)
            if distance_m(cand, ref) <= self.settings.reference_range_km * 1000.0:
                pos, how = cand, "reference"
        if pos is None:
            st.cpr_waiting += 1
            return None
        if not (-90.0 <= pos[0] <= 90.0 and -180.0 <= pos[1] <= 180.0):
            st.cpr_rejected += 1  # a local decode near a pole can leave the globe
            return None
        if ac.pos is not None:
            dt = abs(t - ac.pos[2])
            if distance_m(pos, (ac.pos[0], ac.pos[1])) > MAX_AIRCRAFT_SPEED * dt + 2000.0:
                st.cpr_rejected += 1
                # A bad pair (or a stale last position): forget it so that the next pair decides.
                if how == "global":
                    ac.pos = None
                return None
        ac.pos = (pos[0], pos[1], t)
        if how == "global":
            st.cpr_global += 1
        elif how == "local":
            st.cpr_local += 1
        else:
            st.cpr_reference += 1
        st.positions += 1
        return Position(t, self._detection(icao, ac, pos, float(alt), d, t, signal))

    def _detection(self, icao: str, ac: _Aircraft, pos: tuple[float, float], alt_ft: float,
                   d: dict[str, Any], t: float, signal: int | None) -> wire.Detection:
        source = d.get("source")
        attrs: dict[str, Any] = {"protocol": "adsb", "alt_ft": alt_ft}
        if source == "GNSS":
            h, sv = alt_ft * FT, SIGMA_V_GNSS
            attrs["alt_source"] = "gnss"
        elif ac.geo_minus_baro_ft is not None:
            h, sv = (alt_ft + ac.geo_minus_baro_ft) * FT, SIGMA_V_BARO_CORRECTED
            attrs["alt_source"] = "baro+geo_minus_baro"
        else:
            h, sv = alt_ft * FT, SIGMA_V_BARO
            attrs["alt_source"] = "baro"
        nucp = d.get("NUCp")
        sh = horizontal_sigma(ac.nacp, nucp if isinstance(nucp, int) else None,
                              self.settings.default_sigma_m)
        if signal is not None:
            attrs["signal"] = signal
            if 0 < signal < 256:
                attrs["rssi_dbfs"] = _RSSI_DBFS[signal]
        vel = vs = None
        if ac.vel is not None and abs(t - ac.vel_t) <= VEL_MAX_AGE_S:
            vel = ac.vel
            s = ac.vel_sigma if ac.vel_sigma is not None else 5.0
            vs = (s, s, 1.0)
        return wire.Detection(
            frame="lla", z=(pos[0], pos[1], h), sigma=(sh, sh, sv),
            # R as the wire reader builds it from sigma: in-process consumers (the tracker)
            # read R, and the encoder leaves it out again since it equals diag(sigma^2).
            R=(sh * sh, 0.0, 0.0, 0.0, sh * sh, 0.0, 0.0, 0.0, sv * sv),
            vel=vel, vel_sigma=vs,
            ident=self._ident(icao, ac), attrs=attrs,
        )

    @staticmethod
    def _ident(icao: str, ac: _Aircraft) -> wire.Ident:
        """The aircraft's identity, rebuilt only when its callsign changes."""
        if ac.ident is None or ac.ident.callsign != ac.callsign:
            ac.ident = wire.Ident(icao=icao, callsign=ac.callsign)
        return ac.ident

    # ---- SBS

    def feed_sbs(self, records: Sequence[SbsRecord]) -> list[Position]:
        """Turn SBS records into positions (MSG,3 with lat/lon), merging the callsign (MSG,1)
        and velocity (MSG,4) last heard from the same aircraft. dump1090 already resolved CPR
        and sends no accuracy: sigma is the configured default."""
        out: list[Position] = []
        for r in records:
            ac = self._state(r.icao, r.t)
            if r.callsign:
                ac.callsign = r.callsign
            if r.groundspeed_kt is not None and r.track_deg is not None:
                rad = math.radians(r.track_deg)
                v = r.groundspeed_kt * KT
                ac.vel = (v * math.sin(rad), v * math.cos(rad),
                          (r.vrate_fpm or 0.0) * FT / 60.0)
                ac.vel_t = r.t
                ac.vel_sigma = None
            if r.lat is None or r.lon is None or r.altitude_ft is None:
                continue
            ac.pos = (r.lat, r.lon, r.t)
            self.stats.positions += 1
            sh = self.settings.default_sigma_m
            attrs: dict[str, Any] = {"protocol": "adsb", "alt_ft": r.altitude_ft,
                                     "alt_source": "baro"}
            vel = vs = None
            if ac.vel is not None and abs(r.t - ac.vel_t) <= VEL_MAX_AGE_S:
                vel, vs = ac.vel, (5.0, 5.0, 1.0)
            det = wire.Detection(
                frame="lla", z=(r.lat, r.lon, r.altitude_ft * FT), sigma=(sh, sh, SIGMA_V_BARO),
                R=(sh * sh, 0.0, 0.0, 0.0, sh * sh, 0.0, 0.0, 0.0, SIGMA_V_BARO ** 2),
                vel=vel, vel_sigma=vs,
                ident=wire.Ident(icao=r.icao, callsign=ac.callsign), attrs=attrs)
            out.append(Position(r.t, det))
        return out

    # ---- state

    def evict(self, now: float) -> int:
        """Forget aircraft silent for longer than ``evict_after_s``; returns how many."""
        limit = now - self.settings.evict_after_s
        gone = [k for k, ac in self.aircraft.items() if ac.last_seen < limit]
        for k in gone:
            del self.aircraft[k]
        self.stats.evicted += len(gone)
        return len(gone)

    def maybe_evict(self, now: float) -> None:
        """Evict at most once per second of stream time (cheap to call per batch)."""
        if now - self._last_evict >= 1.0 or now < self._last_evict:
            self._last_evict = now
            self.evict(now)

