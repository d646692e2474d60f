"""A Mode S encoder for tests: DF17 airborne-position messages (type code 11, barometric
altitude) with CPR-encoded positions and a correct CRC-24 parity, built from the published
formulas (ICAO Annex 10 vol. IV; "The 1090 MHz Riddle"), so that the decoder under test is
checked against an independent writer rather than against itself."""

from __future__ import annotations

import math

#: Mode S CRC-24 generator polynomial (x^24 + ... without the leading bit).
CRC24_POLY = 0xFFF409
#: Number of latitude zones between the equator and a pole (CPR NZ).
CPR_NZ = 15
CPR_BITS = 17


def crc24(data: bytes) -> int:
    """The Mode S parity of ``data`` (bit-serial long division by the generator)."""
    crc = 0
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc = ((crc << 1) ^ CRC24_POLY) if crc & 0x800000 else (crc << 1)
            crc &= 0xFFFFFF
    return crc


def cpr_nl(lat: float) -> int:
    """Number of longitude zones at ``lat`` (degrees), from the closed-form expression."""
    if abs(lat) >= 87.0:
        return 1 if abs(lat) > 87.0 else 2
    if lat == 0.0:
        return 59
    a = 1.0 - math.cos(math.pi / (2 * CPR_NZ))
    b = math.cos(math.radians(abs(lat))) ** 2
    return int(math.floor(2.0 * math.pi / math.acos(1.0 - a / b)))


def cpr_encode(lat: float, lon: float, odd: bool) -> tuple[int, int]:
    """The 17-bit airborne CPR (YZ, XZ) of a position (degrees) in the even or odd format."""
    i = int(odd)
    dlat = 360.0 / (4 * CPR_NZ - i)
    scale = 2 ** CPR_BITS
    yz = math.floor(scale * (lat % dlat) / dlat + 0.5)
    rlat = dlat * (yz / scale + math.floor(lat / dlat))
    dlon = 360.0 / max(cpr_nl(rlat) - i, 1)
    xz = math.floor(scale * (lon % dlon) / dlon + 0.5)
    return yz % scale, xz % scale


def airborne_position(icao: int, lat: float, lon: float, alt_ft: int, odd: bool) -> bytes:
    """A 14-byte DF17 type code 11 message: position (degrees), barometric altitude (ft, a
    multiple of 25 from -1000) in the 25 ft (Q = 1) encoding, CRC-24 parity appended."""
    n = (alt_ft + 1000) // 25
    alt = ((n >> 4) << 5) | 0x10 | (n & 0xF)
    yz, xz = cpr_encode(lat, lon, odd)
    me = (11 << 51) | (alt << 36) | (int(odd) << 34) | (yz << 17) | xz
    body = bytes([0x8D]) + icao.to_bytes(3, "big") + me.to_bytes(7, "big")
    return body + crc24(body).to_bytes(3, "big")
