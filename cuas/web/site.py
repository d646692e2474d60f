"""The site's layers for the map, from the configuration, as GeoJSON (lon, lat degrees):
zones with their labels and levels, protected assets with their radii, sensors with range
rings (or sectors), and the site origin."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cuas.config import Config
from cuas.geo import SiteFrame

#: Vertices of a drawn circle.
RING_POINTS = 72


def _ring(frame: SiteFrame, centre_enu: tuple[float, float], radius_m: float,
          start_deg: float = 0.0, end_deg: float = 360.0) -> list[list[float]]:
    """A circle (or a sector, from ``start_deg`` to ``end_deg`` clockwise from north) of
    ``radius_m`` around a point in site ENU metres, as [lon, lat] pairs."""
    e0, n0 = centre_enu
    span = (end_deg - start_deg) % 360.0 or 360.0
    steps = max(4, int(RING_POINTS * span / 360.0))
    az = np.radians(start_deg + span * np.arange(steps + 1) / steps)
    enu = np.column_stack([e0 + radius_m * np.sin(az), n0 + radius_m * np.cos(az),
                           np.zeros_like(az)])
    if span < 360.0:
        enu = np.vstack([[e0, n0, 0.0], enu, [e0, n0, 0.0]])
    lla = frame.enu_to_lla(enu)
    return [[round(float(lon), 7), round(float(lat), 7)] for lat, lon, _ in lla]


def _feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def site_layers(config: Config) -> dict[str, Any]:
    """``{"origin", "zones", "assets", "sensors", "coverage"}``: the map's site layers."""
    frame = SiteFrame(config.site)
    zones = []
    for z in config.zones:
        if z.enu is not None:
            lla = frame.enu_to_lla(np.asarray([[e, n, 0.0] for e, n in z.enu]))
            ring = [[round(float(lon), 7), round(float(lat), 7)] for lat, lon, _ in lla]
        else:
            ring = [[lon, lat] for lat, lon in (z.lla or ())]
        ring.append(ring[0])
        zones.append(_feature({"type": "Polygon", "coordinates": [ring]}, id=z.id, label=z.name,
                              kind=z.kind, level=z.level, crowd=z.crowd,
                              floor_m=z.floor_m, ceiling_m=z.ceiling_m))
    assets, coverage, sensors = [], [], []
    for a in config.assets:
        if a.enu is not None:
            lat, lon, _ = frame.enu_to_lla(np.asarray([a.enu]))[0]
            e, n = a.enu[0], a.enu[1]
        else:
            assert a.lla is not None
            lat, lon = a.lla[0], a.lla[1]
            e, n, _ = frame.lla_to_enu(np.asarray([a.lla]))[0]
        assets.append(_feature({"type": "Point", "coordinates": [float(lon), float(lat)]},
                               id=a.id, label=a.name, radius_m=a.radius_m))
        if a.radius_m > 0:
            coverage.append(_feature({"type": "Polygon",
                                      "coordinates": [_ring(frame, (e, n), a.radius_m)]},
                                     id=a.id, what="asset"))
    for sid, s in sorted(config.sensors.items()):
        if s.origin is None:
            continue
        lat, lon, h = s.origin
        sensors.append(_feature({"type": "Point", "coordinates": [lon, lat]}, id=sid,
                                kind=s.kind, h=h))
        e, n, _ = frame.lla_to_enu(np.asarray([s.origin]))[0]
        sector = _sector(s.settings)
        if s.max_range_m is not None or sector is not None:
            radius = s.max_range_m if s.max_range_m is not None else 1000.0
            start, end = sector if sector is not None else (0.0, 360.0)
            coverage.append(_feature({"type": "Polygon", "coordinates": [
                _ring(frame, (float(e), float(n)), radius, start, end)]}, id=sid, what="sensor"))
    origin = _feature({"type": "Point", "coordinates": [config.site.lon, config.site.lat]},
                      label=config.site.name)
    return {"name": config.site.name, "center": [config.site.lon, config.site.lat],
            "origin": origin,
            "zones": {"type": "FeatureCollection", "features": zones},
            "assets": {"type": "FeatureCollection", "features": assets},
            "sensors": {"type": "FeatureCollection", "features": sensors},
            "coverage": {"type": "FeatureCollection", "features": coverage}}


def _sector(settings: Any) -> tuple[float, float] | None:
    """A directional sensor's azimuth sector (degrees), when its settings name one."""
    for table in settings.values():
        bearing = getattr(table, "bearing", None)
        if (isinstance(bearing, tuple) and len(bearing) == 2
                and all(isinstance(b, float) and math.isfinite(b) for b in bearing)):
            return float(bearing[0]), float(bearing[1])
    return None
