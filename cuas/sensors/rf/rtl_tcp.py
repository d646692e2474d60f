"""The rtl_tcp protocol, pure: the server's 12-byte greeting and the client's 5-byte commands.

On connecting, rtl_tcp sends ``RTL0``, the tuner type and the number of gain steps (two
big-endian uint32), then raw cu8 samples for as long as the connection lasts. The client sends
commands of one byte code and one big-endian uint32 argument. (pyrtlsdr's own TCP client
speaks a different protocol of its own and cannot talk to rtl_tcp.)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from cuas.errors import DecodeError

MAGIC: Final = b"RTL0"
HEADER_LEN: Final = 12
COMMAND_LEN: Final = 5

SET_FREQUENCY: Final = 0x01
SET_SAMPLE_RATE: Final = 0x02
SET_GAIN_MODE: Final = 0x03  # 0 automatic, 1 manual
SET_GAIN: Final = 0x04  # tenths of a dB
SET_FREQ_CORRECTION: Final = 0x05  # ppm (two's complement)
SET_IF_GAIN: Final = 0x06
SET_TEST_MODE: Final = 0x07
SET_AGC_MODE: Final = 0x08
SET_DIRECT_SAMPLING: Final = 0x09
SET_OFFSET_TUNING: Final = 0x0A
SET_RTL_XTAL: Final = 0x0B
SET_TUNER_XTAL: Final = 0x0C
SET_GAIN_BY_INDEX: Final = 0x0D
SET_BIAS_TEE: Final = 0x0E

#: Tuner type numbers in the greeting (librtlsdr's enum rtlsdr_tuner).
TUNERS: Final = {0: "unknown", 1: "E4000", 2: "FC0012", 3: "FC0013", 4: "FC2580", 5: "R820T",
                 6: "R828D"}
#: The R820T/R828D gain table (dB), which rtl_tcp's manual gain snaps to.
R820T_GAINS_DB: Final = (0.0, 0.9, 1.4, 2.7, 3.7, 7.7, 8.7, 12.5, 14.4, 15.7, 16.6, 19.7, 20.7,
                         22.9, 25.4, 28.0, 29.7, 32.8, 33.8, 36.4, 37.2, 38.6, 40.2, 42.1, 43.4,
                         43.9, 44.5, 48.0, 49.6)


@dataclass(frozen=True, slots=True)
class Greeting:
    """The server's 12-byte greeting: tuner type and how many gain steps it has."""

    tuner: int
    gain_count: int

    @property
    def tuner_name(self) -> str:
        return TUNERS.get(self.tuner, f"type {self.tuner}")


def parse_greeting(buf: bytes) -> Greeting:
    """The 12-byte greeting; :class:`DecodeError` naming the bytes when short or not ``RTL0``."""
    if len(buf) < HEADER_LEN:
        raise DecodeError(f"rtl_tcp greeting is {HEADER_LEN} bytes, got {len(buf)}",
                          key="header", data=bytes(buf[:HEADER_LEN]))
    if buf[:4] != MAGIC:
        raise DecodeError("not an rtl_tcp server (greeting does not start with RTL0)",
                          key="header", data=bytes(buf[:HEADER_LEN]))
    tuner, gains = struct.unpack(">II", buf[4:HEADER_LEN])
    return Greeting(tuner, gains)


def greeting(tuner: int = 5, gain_count: int = len(R820T_GAINS_DB)) -> bytes:
    """The greeting a server sends (for servers and tests)."""
    return MAGIC + struct.pack(">II", tuner, gain_count)


def command(code: int, value: int) -> bytes:
    """One 5-byte command; ``value`` is sent as a uint32 (negative values two's complement)."""
    if not 0 <= code <= 0xFF:
        raise ValueError(f"command code must be one byte, got {code}")
    return struct.pack(">BI", code, value & 0xFFFFFFFF)


def parse_commands(buf: bytes) -> tuple[list[tuple[int, int]], bytes]:
    """Commands in ``buf`` (code, uint32 value) and the incomplete rest (a server's parser)."""
    n = len(buf) // COMMAND_LEN
    out = [struct.unpack_from(">BI", buf, i * COMMAND_LEN) for i in range(n)]
    return [(int(c), int(v)) for c, v in out], bytes(buf[n * COMMAND_LEN:])


def nearest_gain_tenths(gain_db: float, table: tuple[float, ...] = R820T_GAINS_DB) -> int:
    """The tuner's gain step nearest ``gain_db``, in the tenths of a dB rtl_tcp expects."""
    return int(round(10 * min(table, key=lambda g: abs(g - gain_db))))


def gain_below(gain_db: float, table: tuple[float, ...] = R820T_GAINS_DB) -> float | None:
    """The next gain step below ``gain_db`` (about 3 dB lower), or None at the bottom."""
    lower = [g for g in table if g <= gain_db - 2.5]
    return max(lower) if lower else None
