"""Zones and protected assets of a site, queried for all tracks at once with shapely.

Zones are horizontal polygons in the site's ENU frame (metres; ``lla`` vertices are converted
once at start-up) with a height band above the site origin. Assets are points with a radius.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from cuas.config import Config
from cuas.geo import SiteFrame
from cuas.vocabulary import THREAT_LEVELS

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

#: At most this many zones (they are a bit mask per track).
MAX_ZONES = 62
#: Closing slower than this (m/s) is not an approach.
MIN_CLOSING = 0.5


@dataclass(frozen=True, slots=True)
class Approach:
    """Each track's nearest protected asset by time to reach it at its current velocity."""

    asset: NDArray[np.int64]  # index into SiteGeometry.asset_names, -1 when there are none
    distance: F64  # m from the asset's edge (0 inside)
    closing: F64  # m/s towards the asset (negative: opening)
    tta: F64  # s to the edge at the closing speed; inf when not closing; 0 inside


class SiteGeometry:
    """The site's zones and assets in site ENU."""

    def __init__(self, config: Config, site: SiteFrame | None = None) -> None:
        site = site if site is not None else SiteFrame(config.site)
        zones = config.zones[:MAX_ZONES]
        self.zone_ids = tuple(z.id for z in zones)
        self.zone_names = tuple(z.name for z in zones)
        self.zone_kinds = tuple(z.kind for z in zones)
        self.zone_level = np.asarray([THREAT_LEVELS.index(z.level) for z in zones], dtype=np.int8)
        self.zone_crowd = np.asarray([z.crowd for z in zones], dtype=bool)
        self.zone_floor = np.asarray([z.floor_m for z in zones])
        self.zone_ceiling = np.asarray([z.ceiling_m for z in zones])
        self.polygons: list[shapely.Polygon] = []
        for z in zones:
            if z.enu is not None:
                pts = np.asarray(z.enu)
            else:
                assert z.lla is not None
                lla = np.column_stack([np.asarray(z.lla), np.full(len(z.lla), site.h0)])
                pts = site.lla_to_enu(lla)[:, :2]
            poly = shapely.Polygon(pts)
            shapely.prepare(poly)
            self.polygons.append(poly)
        assets = config.assets
        self.asset_names = tuple(a.name for a in assets)
        centres = np.zeros((len(assets), 3))
        for i, a in enumerate(assets):
            if a.enu is not None:
                centres[i] = a.enu
            else:
                assert a.lla is not None
                centres[i] = site.lla_to_enu(np.asarray([a.lla]))[0]
        self.asset_centre = centres
        self.asset_radius = np.asarray([a.radius_m for a in assets])

    @property
    def n_zones(self) -> int:
        return len(self.polygons)

    def inside(self, enu: F64) -> B:
        """(N, Z) bool: which zones each point (N,3) is inside, height band included."""
        out = np.zeros((len(enu), self.n_zones), dtype=bool)
        for k, poly in enumerate(self.polygons):
            band = (enu[:, 2] >= self.zone_floor[k]) & (enu[:, 2] <= self.zone_ceiling[k])
            idx = np.flatnonzero(band)
            if len(idx):
                out[idx, k] = shapely.contains_xy(poly, enu[idx, 0], enu[idx, 1])
        return out

    def approach(self, enu: F64, vel: F64) -> Approach:
        """Nearest asset by time to reach it (then by distance) for points (N,3), velocity (N,3)."""
        n, a = len(enu), len(self.asset_radius)
        if not a:
            return Approach(np.full(n, -1, dtype=np.int64), np.full(n, np.inf),
                            np.zeros(n), np.full(n, np.inf))
        rel = self.asset_centre[None, :, :] - enu[:, None, :]  # (N, A, 3) towards the asset
        rng = np.linalg.norm(rel, axis=2)
        dist = np.maximum(rng - self.asset_radius[None, :], 0.0)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            closing = np.where(rng > 0, (rel * vel[:, None, :]).sum(axis=2) / rng, 0.0)
            tta = np.where(dist <= 0, 0.0,
                           np.where(closing > MIN_CLOSING, dist / closing, np.inf))
        # Lexicographic (tta, distance): a finite tta always beats inf.
        key = np.where(np.isfinite(tta), tta, 1e12 + dist)
        best = np.argmin(key, axis=1)
        r = np.arange(n)
        return Approach(best.astype(np.int64), dist[r, best], closing[r, best], tta[r, best])
