"""Kinematic and track-quality features of every track at once.

A short position history per track lives in :class:`History`, a struct-of-arrays ring buffer
keyed by track id. Every snapshot samples all its tracks at the same time, so one write pointer
and one time column serve all of them; a track's history is just how many of the newest samples
are its own. Tracks absent from a snapshot (deleted ones are reported once, then gone) are
evicted, so memory is bounded by the live tracks times the depth.

Units: metres in the site's ENU frame, seconds (UTC), m/s, degrees/s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

#: Horizontal speed below which a target counts as hovering (m/s), and the least height (m).
HOVER_SPEED = 1.0
HOVER_MIN_HEIGHT = 3.0
#: A segment shorter than this (m) has no reliable heading (filtered positions still wander).
MIN_SEGMENT_M = 2.0
#: Straightness needs a path at least this long (m) and this many times the position sigma.
MIN_PATH_M = 20.0
#: Mean earth radius (m), for the curvature correction of heights.
EARTH_RADIUS_M = 6_371_000.0
#: Velocity is a feature only once the filter knows it to this 1-sigma (m/s); a new track's
#: velocity is a guess.
MAX_VEL_SIGMA = 5.0


@dataclass(frozen=True, slots=True)
class Features:
    """Per-track features (N,); NaN means unknown, and an unknown feature is no evidence."""

    speed: F64  # horizontal speed, m/s
    climb: F64  # |vertical speed|, m/s
    height: F64  # height above the site origin's ground, m (curvature-corrected)
    turn_rate: F64  # mean absolute turn rate over the window, deg/s
    straightness: F64  # net / path length over the window, 0..1
    hover_s: F64  # time spent hovering within the window, s
    loiter_radius: F64  # horizontal radius of gyration over the window, m
    window_s: F64  # time spanned by the track's history, s
    age: F64  # s since the track was born
    hit_ratio: F64  # fraction of recent looks that hit
    n_sources: F64  # sensors that contributed

    def as_dict(self) -> dict[str, F64]:
        return {name: getattr(self, name) for name in self.__slots__}


class History:
    """Recent site-ENU positions of each track (ring buffer of ``depth`` samples, one sample per
    snapshot at most every ``min_dt`` seconds)."""

    def __init__(self, depth: int = 24, min_dt: float = 0.5) -> None:
        self.depth = depth
        self.min_dt = min_dt
        self.ids = np.zeros(0, dtype=np.int64)  # sorted ascending
        self.pos = np.zeros((0, depth, 3))
        self.count = np.zeros(0, dtype=np.int64)
        self.t = np.full(depth, np.nan)
        self.head = depth - 1
        self.last_t = -np.inf

    def rows_of(self, ids: I64) -> I64:
        """Row of each id in the stored arrays, -1 where the id has no history."""
        if not len(self.ids):
            return np.full(len(ids), -1, dtype=np.int64)
        r = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.where(self.ids[r] == ids, r, -1)

    def update(self, t: float, ids: I64, pos: F64, keep: B) -> tuple[F64, F64, B]:
        """Add the snapshot at ``t`` (ids (N,), positions (N,3)); keep only rows where ``keep``.

        Returns the window for the given rows, oldest first: positions (N,D,3), sample times
        (D,) and a validity mask (N,D).
        """
        n, d = len(ids), self.depth
        rows = self.rows_of(ids)
        found = rows >= 0
        hist = np.zeros((n, d, 3))
        count = np.zeros(n, dtype=np.int64)
        hist[found] = self.pos[rows[found]]
        count[found] = self.count[rows[found]]
        if t >= self.last_t + self.min_dt:  # all tracks share the sample
            self.head = (self.head + 1) % d
            self.t[self.head] = t
            self.last_t = t
            hist[:, self.head] = pos
            count = np.minimum(count + 1, d)
        else:  # too soon: refresh the newest sample instead of adding one
            self.t[self.head] = t
            hist[:, self.head] = pos
            count = np.maximum(count, 1)
        order = np.argsort(ids[keep], kind="stable")
        self.ids = ids[keep][order]
        self.pos = hist[keep][order]
        self.count = count[keep][order]
        slots = (self.head + 1 + np.arange(d)) % d  # oldest .. newest
        valid = np.arange(d)[None, :] >= (d - count)[:, None]
        return hist[:, slots], self.t[slots], valid


def features(t: float, x: F64, pos_sigma: F64, vel_sigma: F64, t_birth: F64, hit_ratio: F64,
             n_sources: F64, window: tuple[F64, F64, B]) -> Features:
    """All features of N tracks: states ``x`` (N,6) predicted to ``t``, their 1-sigmas (N,3)."""
    P, T, V = window
    vel_known = np.hypot(vel_sigma[:, 0], vel_sigma[:, 1]) <= MAX_VEL_SIGMA
    speed = np.where(vel_known, np.hypot(x[:, 3], x[:, 4]), np.nan)
    climb = np.where(vel_sigma[:, 2] <= MAX_VEL_SIGMA, np.abs(x[:, 5]), np.nan)
    # ENU "up" drops below the geodetic height with range (earth curvature: ~785 m at 100 km);
    # adding r^2 / 2R restores height above the site's ground to metres out to ~200 km.
    height = x[:, 2] + (x[:, 0] ** 2 + x[:, 1] ** 2) / (2.0 * EARTH_RADIUS_M)

    seg = P[:, 1:, :2] - P[:, :-1, :2]  # (N, D-1, 2)
    seg_ok = V[:, 1:] & V[:, :-1]
    dt = np.diff(T)
    dt = np.where(np.isfinite(dt) & (dt > 0), dt, np.nan)
    length = np.hypot(seg[..., 0], seg[..., 1])
    path = np.where(seg_ok, length, 0.0).sum(axis=1)
    n_valid = V.sum(axis=1)
    first = P.shape[1] - n_valid  # index of each track's oldest valid sample
    oldest = P[np.arange(len(P)), np.minimum(first, P.shape[1] - 1), :2]
    net = np.hypot(*(P[:, -1, :2] - oldest).T) if len(P) else np.zeros(0)
    long_enough = path >= np.maximum(MIN_PATH_M, 3.0 * np.hypot(pos_sigma[:, 0], pos_sigma[:, 1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        straight = np.where(long_enough, np.minimum(net / path, 1.0), np.nan)

        moving = seg_ok & (length >= MIN_SEGMENT_M)
        heading = np.degrees(np.arctan2(seg[..., 0], seg[..., 1]))
        dh = np.abs((np.diff(heading, axis=1) + 180.0) % 360.0 - 180.0)
        pair = moving[:, 1:] & moving[:, :-1]
        turn_time = np.where(pair, dt[None, 1:], 0.0)
        turned = np.where(pair, dh, 0.0).sum(axis=1)
        span = np.nansum(turn_time, axis=1)
        turn = np.where((pair.sum(axis=1) >= 2) & (span > 0), turned / span, np.nan)

        seg_speed = length / dt[None, :]
        low = seg_ok & (seg_speed < HOVER_SPEED) & (P[:, 1:, 2] > HOVER_MIN_HEIGHT)
        hover = np.where(low, dt[None, :], 0.0)
        hover_s = np.where(seg_ok.any(axis=1), np.nansum(hover, axis=1), np.nan)

        w = V.astype(np.float64)
        nv = np.maximum(n_valid, 1)[:, None]
        mean = (P[..., :2] * w[..., None]).sum(axis=1) / nv
        dev = ((P[..., :2] - mean[:, None, :]) ** 2).sum(axis=2)
        rg = np.sqrt((dev * w).sum(axis=1) / nv[:, 0])
        t_old = T[np.minimum(first, len(T) - 1)] if len(T) else np.zeros(0)
        window_s = np.where(n_valid >= 2, T[-1] - t_old, 0.0)
    return Features(speed=speed, climb=climb, height=height, turn_rate=turn,
                    straightness=straight, hover_s=hover_s, loiter_radius=rg,
                    window_s=np.nan_to_num(window_s), age=np.maximum(t - t_birth, 0.0),
                    hit_ratio=hit_ratio, n_sources=n_sources)
