"""Compact Position Reporting (CPR) of airborne positions: global decoding of an even/odd
pair, local decoding against a reference, and great-circle distances (degrees, metres)."""

from __future__ import annotations

import bisect
import math
from typing import Final

from cuas.vocabulary import IUGG_MEAN_RADIUS_M

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
    return 2.0 * IUGG_MEAN_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))

