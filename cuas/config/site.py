"""Where the site is and what it protects: the ENU origin, zones, assets, allow and deny lists.

The built-in defaults describe the reference site, Wembley Stadium, London.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cuas.config.coerce import build, coerce, points
from cuas.errors import ConfigError
from cuas.validation import brief
from cuas.vocabulary import THREAT_LEVELS

#: Wembley Stadium, London: centre spot of the pitch. Height above the WGS-84 ellipsoid:
#: ground ~44 m above mean sea level plus ~46 m geoid undulation in north-west London.
WEMBLEY = (51.5560, -0.2796, 90.0)


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """The site origin of the local ENU frame (degrees, metres above the WGS-84 ellipsoid)."""

    name: str = "wembley"
    lat: float = WEMBLEY[0]
    lon: float = WEMBLEY[1]
    h: float = WEMBLEY[2]

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat <= 90.0:
            raise ConfigError(f"latitude {self.lat} outside [-90, 90]", key="site.lat")
        if not -180.0 <= self.lon <= 180.0:
            raise ConfigError(f"longitude {self.lon} outside [-180, 180]", key="site.lon")
        if not -12_000.0 <= self.h <= 10_000.0:
            raise ConfigError(f"height {self.h} m is not plausible", key="site.h")



#: Zone kinds. ``no_fly``: no drone may be here; ``perimeter``: a security ring around the
#: venue; ``takeoff_exclusion``: where a launch is itself a threat; ``crowd``: people below.
ZONE_KINDS = ("no_fly", "perimeter", "takeoff_exclusion", "crowd")


@dataclass(frozen=True, slots=True)
class ZoneConfig:
    """A zone: a horizontal polygon with a height band and its rule.

    ``enu`` vertices are metres east/north of the site origin; ``lla`` vertices are
    [lat, lon] degrees (exactly one of the two is given). ``floor_m``/``ceiling_m`` are heights
    above the site origin (m). ``level`` is the least threat of a likely drone inside;
    ``crowd`` marks people below (loitering over it is a threat of its own).
    """

    id: str
    label: str = ""
    kind: str = "no_fly"
    enu: tuple[tuple[float, float], ...] | None = None
    lla: tuple[tuple[float, float], ...] | None = None
    floor_m: float = -100.0
    ceiling_m: float = 10_000.0
    level: str = "high"
    crowd: bool = False

    @property
    def name(self) -> str:
        """What an operator reads: the label, or the id."""
        return self.label or self.id


@dataclass(frozen=True, slots=True)
class AssetConfig:
    """A protected asset: a point (``enu`` metres, or ``lla`` [lat, lon, h]) and a radius (m)."""

    id: str
    label: str = ""
    enu: tuple[float, float, float] | None = None
    lla: tuple[float, float, float] | None = None
    radius_m: float = 0.0

    @property
    def name(self) -> str:
        return self.label or self.id


@dataclass(frozen=True, slots=True)
class IdentityList:
    """Remote ID serials and ICAO addresses (6 lower-case hex), each with a label for people."""

    rid: Mapping[str, str] = field(default_factory=dict)
    icao: Mapping[str, str] = field(default_factory=dict)


def parse_zone(zid: str, table: Any, path: str | None) -> ZoneConfig:
    """A zone table, with its vertices checked: 3 or more, one frame, a valid simple polygon."""
    key = f"zones.{zid}"
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table, got {brief(table)}", path=path, key=key)
    plain = {k: v for k, v in table.items() if k not in ("enu", "lla")}
    zone = build(ZoneConfig, plain, key, path, id=zid)
    have = [f for f in ("enu", "lla") if f in table]
    if len(have) != 1:
        raise ConfigError("give the vertices as exactly one of enu or lla", path=path,
                          key=f"{key}.enu")
    frame = have[0]
    pts = points(table[frame], 2, f"{key}.{frame}", path)
    if len(pts) < 3:
        raise ConfigError("a polygon needs at least 3 vertices", path=path, key=f"{key}.{frame}")
    if frame == "lla" and not all(-90 <= a <= 90 and -180 <= b <= 180 for a, b in pts):
        raise ConfigError("vertices must be [lat, lon] in degrees", path=path, key=f"{key}.lla")
    if frame == "enu" and not all(abs(a) <= 1e6 and abs(b) <= 1e6 for a, b in pts):
        raise ConfigError("vertices must lie within 1000 km of the site", path=path,
                          key=f"{key}.enu")
    import shapely  # only sites with zones pay for it

    if not shapely.Polygon(pts).is_valid:
        raise ConfigError("the polygon crosses itself or has no area", path=path,
                          key=f"{key}.{frame}")
    if zone.kind not in ZONE_KINDS:
        raise ConfigError(f"unknown kind (known: {', '.join(ZONE_KINDS)})", path=path,
                          key=f"{key}.kind")
    if zone.level not in THREAT_LEVELS:
        raise ConfigError(f"unknown level (known: {', '.join(THREAT_LEVELS)})", path=path,
                          key=f"{key}.level")
    if not zone.floor_m < zone.ceiling_m:
        raise ConfigError("floor_m must be below ceiling_m", path=path, key=f"{key}.floor_m")
    pairs = tuple((float(a), float(b)) for a, b in pts)
    if frame == "enu":
        return dataclasses.replace(zone, enu=pairs)
    return dataclasses.replace(zone, lla=pairs)


def parse_asset(aid: str, table: Any, path: str | None) -> AssetConfig:
    key = f"assets.{aid}"
    asset = build(AssetConfig, table, key, path, id=aid)
    if (asset.enu is None) == (asset.lla is None):
        raise ConfigError("give the position as exactly one of enu or lla", path=path,
                          key=f"{key}.enu")
    if asset.lla is not None and not (-90 <= asset.lla[0] <= 90 and -180 <= asset.lla[1] <= 180):
        raise ConfigError("must be [lat, lon, h] in degrees and metres", path=path,
                          key=f"{key}.lla")
    if asset.enu is not None and not all(abs(c) <= 1e6 for c in asset.enu):
        raise ConfigError("must lie within 1000 km of the site", path=path, key=f"{key}.enu")
    if not 0.0 <= asset.radius_m <= 100_000.0:
        raise ConfigError("must lie in [0, 100000]", path=path, key=f"{key}.radius_m")
    return asset


def parse_identity_list(doc: Mapping[str, Any], section: str, path: str | None) -> IdentityList:
    """``[allow]``/``[deny]``: tables ``rid`` and ``icao`` mapping an identity to a label."""
    table = doc.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table, got {brief(table)}", path=path, key=section)
    out: dict[str, dict[str, str]] = {"rid": {}, "icao": {}}
    for kind, entries in table.items():
        if kind not in out:
            raise ConfigError("unknown key (known: icao, rid)", path=path, key=f"{section}.{kind}")
        if not isinstance(entries, dict):
            raise ConfigError("expected a table of identity = \"label\"", path=path,
                              key=f"{section}.{kind}")
        for ident, label in entries.items():
            k = f"{section}.{kind}.{ident}"
            label = coerce(label, str, k, path)
            if kind == "icao":
                if len(ident) != 6 or any(c not in "0123456789abcdefABCDEF" for c in ident):
                    raise ConfigError("an ICAO address is 6 hex characters", path=path, key=k)
                ident = ident.lower()
            elif not ident or len(ident) > 256:
                raise ConfigError("a Remote ID serial is 1 to 256 characters", path=path, key=k)
            out[kind][ident] = label
    return IdentityList(rid=out["rid"], icao=out["icao"])

