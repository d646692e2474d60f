"""ADS-B adapter: Beast (port 30005), SBS-1 BaseStation (port 30003) or AVR hex (port 30002)
feeds from dump1090 or readsb, decoded with rs1090, published as ``detections`` (``kind``
``adsb``, frame ``lla``).

Layers, each testable on its own:

* framing (pure, bytes in, frames and the unconsumed rest out): :func:`parse_beast`,
  :func:`parse_sbs`, :func:`parse_avr`; garbage, lone escape bytes and cut frames are skipped
  and counted;
* :class:`BeastClock`: the receiver's free-running 12 MHz counter mapped to UTC;
* :class:`AdsbDecoder`: Mode S fields decoded by rs1090 in batches (its CRC check included),
  CPR positions resolved per aircraft (global from an even/odd pair, else local against the
  aircraft's own last position), accuracy, velocity and identity attached;
* the I/O shell (:mod:`.source`, TCP with reconnect or a capture file) publishing on the bus,
  and ``cuas sensor adsb`` (:mod:`.cli`) live in their own modules.

Heights: ADS-B airborne positions carry barometric (pressure) altitude for type codes 9-18 and
GNSS height above the ellipsoid for 20-22. A barometric altitude is corrected to the ellipsoid
with the aircraft's own ``geo_minus_baro`` (from its velocity messages) when known; otherwise it
is used as is with a larger vertical sigma, and ``attrs.alt_source`` says which.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import re
import statistics
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Final, NamedTuple

from cuas import wire
from cuas.sensors.adsb.settings import AdsbSettings

# --------------------------------------------------------------------------- Beast framing

ESC: Final = 0x1A
#: Beast frame types and their payload length after the 6-byte timestamp and 1 signal byte:
#: '1' Mode A/C (2 bytes), '2' Mode S short (7 bytes), '3' Mode S long (14 bytes).
_BEAST_LEN: Final[dict[int, int]] = {0x31: 2, 0x32: 7, 0x33: 14}
#: Longest escaped frame: every byte after the type doubled.
_MAX_ESCAPED: Final = 2 + 2 * (6 + 1 + 14)
BEAST_HZ: Final = 12_000_000.0


class BeastFrame(NamedTuple):
    """One Beast frame: ``kind`` 1 (Mode A/C), 2 (56-bit Mode S) or 3 (112-bit Mode S),
    ``ticks`` the receiver's 48-bit 12 MHz counter, ``signal`` 0..255 (dump1090 and readsb
    send round(sqrt(power) * 255)), ``msg`` the message bytes.

    Immutable like the frozen dataclasses elsewhere, but a NamedTuple: one is built per frame,
    hundreds of thousands a second, at a third of a frozen dataclass's cost."""

    kind: int
    ticks: int
    signal: int
    msg: bytes


@dataclass(slots=True)
class FramingStats:
    """Counters of what the deframers skipped (monotonic; updated in place)."""

    frames: int = 0
    #: Bytes outside any frame (dropped while looking for the next frame start).
    garbage_bytes: int = 0
    #: Frames started but broken: a lone escape byte inside (a cut frame), or a bad SBS line.
    bad_frames: int = 0
    #: Well-formed frames of a type this adapter does not read (e.g. readsb's 0xe3 / '4').
    unknown_frames: int = 0

    def as_counters(self, prefix: str = "") -> dict[str, int]:
        return {f"{prefix}{k}": getattr(self, k) for k in self.__slots__}


def parse_beast(buf: bytes, stats: FramingStats | None = None) -> tuple[list[BeastFrame], bytes]:
    """Split a Beast byte stream into frames; returns (frames, rest).

    ``rest`` is an incomplete last frame to prepend to the next read. A frame is 0x1a, a type
    byte, then timestamp (6 bytes, big-endian), signal (1) and message, with every 0x1a in the
    body doubled. Bytes before a frame start are garbage; a lone 0x1a inside a body means the
    frame was cut: it is dropped and that 0x1a is tried as the next frame's start. Both are
    counted in ``stats``. Never raises on any input.
    """
    st = stats if stats is not None else FramingStats()
    frames: list[BeastFrame] = []
    # Splitting on 0x1a in C leaves one token per frame (type byte + body) in a clean stream,
    # so the common case costs one length check; an escaped 0x1a shows up as an empty token
    # followed by the rest of the body, and is stitched back together on the slow path.
    toks = buf.split(b"\x1a")
    ntok = len(toks)
    st.garbage_bytes += len(toks[0])
    append = frames.append
    new = tuple.__new__
    lengths = _BEAST_LEN
    k = 1
    while k < ntok:
        tok = toks[k]  # follows a 0x1a taken as a frame start
        if not tok:
            if k + 1 >= ntok:  # the buffer ends with this 0x1a
                return frames, b"\x1a"
            # 0x1a 0x1a where a frame should start: an escaped byte outside any frame; it and
            # what follows up to the next 0x1a are garbage.
            st.garbage_bytes += 2 + len(toks[k + 1])
            k += 2
            continue
        mlen = lengths.get(tok[0])
        if mlen is None:
            # Another type (readsb status/receiver-id frames): skip it and its escaped bytes.
            j = k + 1
            while j + 1 < ntok and not toks[j]:
                j += 2
            if j >= ntok or (j + 1 == ntok and not toks[j]):
                rest = b"\x1a" + b"\x1a".join(toks[k:])
                if len(rest) > _MAX_ESCAPED:
                    st.unknown_frames += 1
                    # A trailing lone 0x1a may start the next frame: keep it, as for a known one.
                    return frames, b"\x1a" if j < ntok else b""
                return frames, rest
            st.unknown_frames += 1
            k = j
            continue
        full = 7 + mlen
        extra = len(tok) - 1 - full
        if extra >= 0:  # fast path: no escape in the body
            append(new(BeastFrame, (tok[0] - 0x30, int.from_bytes(tok[1:7], "big"), tok[7],
                                    tok[8:8 + mlen])))
            st.frames += 1
            if extra:
                st.garbage_bytes += extra
            k += 1
            continue
        body = tok[1:]
        j = k + 1
        cut = False
        while len(body) < full:
            if j >= ntok or (j + 1 == ntok and not toks[j]):
                # Out of bytes (possibly in the middle of an escape pair): wait for more.
                return frames, b"\x1a" + b"\x1a".join(toks[k:])
            if toks[j]:  # a lone 0x1a: the frame was cut, and that 0x1a starts the next
                cut = True
                break
            body += b"\x1a" + toks[j + 1]
            j += 2
        if cut:
            st.bad_frames += 1
            k = j
            continue
        append(new(BeastFrame, (tok[0] - 0x30, int.from_bytes(body[:6], "big"), body[6],
                                body[7:full])))
        st.frames += 1
        if len(body) > full:
            st.garbage_bytes += len(body) - full
        k = j
    return frames, b""


# --------------------------------------------------------------------------- AVR framing

#: AVR hex lengths (characters) -> Beast frame kind: Mode A/C, 56-bit and 112-bit Mode S.
_AVR_KIND: Final = {4: 1, 14: 2, 28: 3}
_HEX_CHARS: Final = frozenset(b"0123456789abcdefABCDEF")


def parse_avr(buf: bytes, stats: FramingStats | None = None) -> tuple[list[BeastFrame], bytes]:
    """Split AVR hex text (dump1090's port 30002: ``*<hex>;`` per line, or ``@<12 hex
    counter><hex>;`` with the receiver's 12 MHz counter, or ``<<12 hex counter><2 hex
    signal><hex>;``) into frames; returns (frames, rest). Without a counter ``ticks`` is 0 and
    the signal 0. Malformed lines are counted as bad, other text as garbage. Never raises."""
    st = stats if stats is not None else FramingStats()
    frames: list[BeastFrame] = []
    end = buf.rfind(b"\n")
    if end < 0:
        if len(buf) > 256:  # no AVR line is this long: garbage
            st.garbage_bytes += len(buf)
            return frames, b""
        return frames, buf
    for line in buf[:end].split(b"\n"):
        line = line.strip()
        if not line:
            continue
        lead = line[:1]
        if lead not in (b"*", b"@", b"<") or not line.endswith(b";"):
            st.garbage_bytes += len(line)
            continue
        body = line[1:-1]
        ticks = signal = 0
        if lead != b"*":
            head = 14 if lead == b"<" else 12
            if len(body) < head or not _HEX_CHARS.issuperset(body[:head]):
                st.bad_frames += 1
                continue
            ticks = int(body[:12], 16)
            if lead == b"<":
                signal = int(body[12:14], 16)
            body = body[head:]
        kind = _AVR_KIND.get(len(body))
        if kind is None or not _HEX_CHARS.issuperset(body):
            st.bad_frames += 1
            continue
        frames.append(BeastFrame(kind, ticks, signal, bytes.fromhex(body.decode("ascii"))))
        st.frames += 1
    return frames, buf[end + 1:]


# --------------------------------------------------------------------------- SBS framing


@dataclass(frozen=True, slots=True)
class SbsRecord:
    """One SBS-1 ``MSG`` line. ``t``: its generated date/time as UTC seconds (the line's local
    time read in the configured zone). Units as sent: feet, knots, degrees, feet/minute."""

    msg_type: int
    icao: str
    t: float
    callsign: str | None = None
    altitude_ft: float | None = None
    groundspeed_kt: float | None = None
    track_deg: float | None = None
    lat: float | None = None
    lon: float | None = None
    vrate_fpm: float | None = None
    on_ground: bool | None = None


_HEX6 = re.compile(r"[0-9A-Fa-f]{6}")


def parse_sbs(buf: bytes, tz: tzinfo, stats: FramingStats | None = None
              ) -> tuple[list[SbsRecord], bytes]:
    """Split SBS-1 text into ``MSG`` records; returns (records, rest).

    SBS time stamps are the feeder's local time without a zone: ``tz`` says which zone that is
    (``datetime.timezone.utc`` when the feeder runs on UTC). Lines other than ``MSG`` (``SEL``,
    ``ID``, ``AIR``, ``STA``, ``CLK``) are counted as unknown; malformed ``MSG`` lines as bad.
    Never raises on any input.
    """
    st = stats if stats is not None else FramingStats()
    out: list[SbsRecord] = []
    end = buf.rfind(b"\n")
    if end < 0:
        if len(buf) > 4096:  # no line is this long: garbage
            st.garbage_bytes += len(buf)
            return out, b""
        return out, buf
    for line in buf[:end].split(b"\n"):
        line = line.strip()
        if not line:
            continue
        rec = _sbs_line(line, tz)
        if rec is None:
            if line.startswith((b"SEL,", b"ID,", b"AIR,", b"STA,", b"CLK,")):
                st.unknown_frames += 1
            elif line.startswith(b"MSG,"):
                st.bad_frames += 1
            else:
                st.garbage_bytes += len(line)
            continue
        st.frames += 1
        out.append(rec)
    return out, buf[end + 1:]


def _opt_float(s: str) -> float | None:
    if not s:
        return None
    f = float(s)
    if not math.isfinite(f):
        raise ValueError(s)
    return f


def _sbs_line(line: bytes, tz: tzinfo) -> SbsRecord | None:
    if not line.startswith(b"MSG,"):
        return None
    try:
        f = line.decode("ascii").split(",")
        if len(f) < 22 or not _HEX6.fullmatch(f[4]):
            return None
        # "2018/04/03" "19:02:28.136" in the feeder's local zone
        naive = datetime.strptime(f"{f[6]} {f[7]}", "%Y/%m/%d %H:%M:%S.%f")
        t = naive.replace(tzinfo=tz).timestamp()
        lat, lon = _opt_float(f[14]), _opt_float(f[15])
        if lat is not None and not -90 <= lat <= 90 or lon is not None and not -180 <= lon <= 180:
            return None
        return SbsRecord(
            msg_type=int(f[1]), icao=f[4].lower(), t=t,
            callsign=f[10].strip() or None,
            altitude_ft=_opt_float(f[11]), groundspeed_kt=_opt_float(f[12]),
            track_deg=_opt_float(f[13]), lat=lat, lon=lon,
            vrate_fpm=_opt_float(f[16]),
            on_ground=(f[21].strip() in ("1", "-1")) if f[21].strip() else None,
        )
    except (ValueError, UnicodeDecodeError, OverflowError, OSError):
        return None


# --------------------------------------------------------------------------- clock


class BeastClock:
    """Maps the receiver's free-running 12 MHz counter to UTC seconds.

    Live (``rx`` = wall-clock arrival time given): the offset UTC - counter is the median of the
    last ``window`` samples (arrival - counter), moved towards by at most ``max_step_s`` per
    update, so one late, early or corrupt frame cannot move it far. Without ``rx`` (a capture
    file) the offset is anchored at the first frame (``epoch``) and kept. A frame whose counter
    puts it more than ``max_dev_s`` from its arrival (live), or before the last good time by
    more than ``max_dev_s`` or after it by more than ``max_gap_s`` (file), is an outlier: it gets
    the arrival time (or the last good time) and is counted; when a whole window disagrees with
    the mapping (the receiver restarted) the mapping jumps, counted as a reset. Counter steps backwards
    (dump1090 does not emit frames in timestamp order) are harmless; :meth:`note_order` counts them.
    """

    def __init__(self, *, epoch: float | None = None, window: int = 63,
                 max_step_s: float = 0.05, max_dev_s: float = 2.0,
                 max_gap_s: float = 600.0) -> None:
        self.epoch = epoch
        self.offset: float | None = None
        self.max_step_s = max_step_s
        self.max_dev_s = max_dev_s
        self.max_gap_s = max_gap_s
        self._samples: deque[float] = deque(maxlen=window)
        self._since = 0
        self._strikes = 0
        self._last_ticks = -1
        self._last_t: float | None = None
        self.backward = 0
        self.outliers = 0
        self.resets = 0

    def note_order(self, ticks: Sequence[int]) -> None:
        """Count the counter's backward steps over every frame of a batch (in arrival order)."""
        last = self._last_ticks
        back = 0
        for tk in ticks:
            if tk < last:
                back += 1
            last = tk
        self._last_ticks = last
        self.backward += back

    def utc(self, ticks: int, rx: float | None = None) -> float:
        """UTC seconds of a frame with counter ``ticks`` received at ``rx`` (None: from a file)."""
        raw = ticks / BEAST_HZ
        ref = rx if rx is not None else self._last_t
        if ticks == 0:  # feeders without a counter send 0
            t = ref if ref is not None else (self.epoch if self.epoch is not None else time.time())
            self._last_t = t
            return t
        if self.offset is None:
            start = rx if rx is not None else (self.epoch if self.epoch is not None else time.time())
            self.offset = start - raw
        if rx is not None:
            self._samples.append(rx - raw)
            self._since += 1
            if self._since >= 8:
                self._since = 0
                med = statistics.median(self._samples)
                d = med - self.offset
                if abs(d) > self.max_dev_s and len(self._samples) == self._samples.maxlen:
                    self.offset = med
                    self.resets += 1
                else:
                    self.offset += max(-self.max_step_s, min(self.max_step_s, d))
        t = raw + self.offset
        # Live, the arrival time bounds a frame's time both ways. In a file a quiet spell is
        # a forward jump, not a fault: only going back, or ahead by more than max_gap_s, is.
        if ref is not None and (t < ref - self.max_dev_s or t > ref + (
                self.max_dev_s if rx is not None else self.max_gap_s)):
            self.outliers += 1
            if rx is None:
                # A file has no other clock: a long run of consistent outliers is a restart of
                # the receiver's counter, so re-anchor to continue from the last good time.
                self._strikes += 1
                if self._strikes >= (self._samples.maxlen or 63):
                    self.offset = ref - raw
                    self.resets += 1
                    self._strikes = 0
            t = ref
        else:
            self._strikes = 0
        self._last_t = t if rx is None else self._last_t
        return t


# --------------------------------------------------------------------------- CPR


_NZ: Final = 15
_D_LAT: Final = (360.0 / 60.0, 360.0 / 59.0)
_CPR_SCALE: Final = float(1 << 17)


def _nl_table() -> list[float]:
    # Latitudes where the number of longitude zones changes (NL = 59 .. 2): solve the NL
    # equation of the CPR definition for each boundary.
    out = []
    a = 1.0 - math.cos(math.pi / (2.0 * _NZ))
    for nl in range(59, 1, -1):
        out.append(math.degrees(math.acos(math.sqrt(a / (1.0 - math.cos(2.0 * math.pi / nl))))))
    return out  # ascending


_NL_LATS: Final = _nl_table()


def cpr_nl(lat: float) -> int:
    """Number of longitude zones at latitude ``lat`` (degrees), 59 at the equator, 1 at the poles."""
    return 59 - bisect.bisect_right(_NL_LATS, abs(lat))


def cpr_global(even: tuple[int, int], odd: tuple[int, int], newest_odd: bool
               ) -> tuple[float, float] | None:
    """Airborne position (lat, lon degrees) from an even and an odd CPR pair (17-bit lat, lon),
    in the frame of the newer one; None when the two straddle a zone boundary."""
    lat_e, lat_o = even[0] / _CPR_SCALE, odd[0] / _CPR_SCALE
    j = math.floor(59.0 * lat_e - 60.0 * lat_o + 0.5)
    rlat_e = _D_LAT[0] * (j % 60 + lat_e)
    rlat_o = _D_LAT[1] * (j % 59 + lat_o)
    if rlat_e >= 270.0:
        rlat_e -= 360.0
    if rlat_o >= 270.0:
        rlat_o -= 360.0
    if not (-90.0 <= rlat_e <= 90.0 and -90.0 <= rlat_o <= 90.0):
        return None
    nl = cpr_nl(rlat_e)
    if nl != cpr_nl(rlat_o):
        return None
    lon_e, lon_o = even[1] / _CPR_SCALE, odd[1] / _CPR_SCALE
    m = math.floor(lon_e * (nl - 1) - lon_o * nl + 0.5)
    if newest_odd:
        ni = max(nl - 1, 1)
        lat, lon = rlat_o, (360.0 / ni) * (m % ni + lon_o)
    else:
        ni = max(nl, 1)
        lat, lon = rlat_e, (360.0 / ni) * (m % ni + lon_e)
    if lon >= 180.0:
        lon -= 360.0
    return lat, lon


def cpr_local(cpr: tuple[int, int], odd: bool, ref: tuple[float, float]) -> tuple[float, float]:
    """Airborne position (lat, lon degrees) from one CPR message and a reference position that is
    within half a zone of it (about 300 km): the aircraft's own last position, or a receiver."""
    i = 1 if odd else 0
    yz, xz = cpr[0] / _CPR_SCALE, cpr[1] / _CPR_SCALE
    dlat = _D_LAT[i]
    rlat, rlon = ref
    j = math.floor(rlat / dlat) + math.floor(0.5 + (rlat % dlat) / dlat - yz)
    lat = dlat * (j + yz)
    dlon = 360.0 / max(cpr_nl(lat) - i, 1)
    m = math.floor(rlon / dlon) + math.floor(0.5 + (rlon % dlon) / dlon - xz)
    lon = dlon * (m + xz)
    if lon >= 180.0:
        lon -= 360.0
    elif lon < -180.0:
        lon += 360.0
    return lat, lon


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (m) on a sphere of the Earth's mean radius."""
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (math.sin((la2 - la1) / 2) ** 2
         + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2)
    return 2.0 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))


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


def detect_format(head: bytes) -> str:
    """``beast``, ``sbs`` or ``avr`` from the first bytes of a capture; raises ValueError
    otherwise."""
    s = head.lstrip(b"\r\n")
    if s[:1] == b"\x1a":
        return "beast"
    if s.startswith((b"MSG,", b"SEL,", b"ID,", b"AIR,", b"STA,", b"CLK,")):
        return "sbs"
    if s[:1] in (b"*", b"@", b"<"):
        return "avr"
    raise ValueError("neither Beast binary (starts with 0x1a), SBS text (starts with MSG,) nor "
                     "AVR hex (starts with *, @ or <)")


def file_epoch(path: Path) -> float | None:
    """Capture start time (UTC s) from a 10-digit Unix time in the file name, the common way
    of naming ``nc host 30005 > name-<unix time>.beast`` captures; None if there is none."""
    m = re.search(r"(?<!\d)(1[0-9]{9}|2[0-9]{9})(\.\d+)?(?!\d)", path.name)
    return float(m.group(0)) if m else None
