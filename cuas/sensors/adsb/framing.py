"""ADS-B framing (pure, bytes in, frames and the unconsumed rest out): Beast binary (port
30005), AVR hex (port 30002) and SBS-1 BaseStation text (port 30003), and telling them apart.

Garbage, lone escape bytes and cut frames are skipped and counted, never raised.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Final, NamedTuple

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
