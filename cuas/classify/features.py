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

from cuas.classify.model import kernels
from cuas.vocabulary import EARTH_RADIUS_M

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
#: How far a track has ever been from where it was first seen is a feature only once it has
#: been watched this long (s): every track has roamed little in its first seconds.
ROAM_MIN_AGE_S = 20.0
#: A track that has never been farther than this (m, 3-D), or than 3 times its position
#: sigma, from where it was first seen has not moved: the clutter map remembers where such
#: tracks ended, and is read for such tracks only.
STATIONARY_M = 15.0
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
    displacement: F64  # horizontal distance from the window's oldest sample to the newest, m
    roam: F64  # farthest distance (3-D) ever from where the track was first seen, m
    clutter_map_s: F64  # stationary tracks' seconds remembered where this unmoved track is, s
    window_s: F64  # time spanned by the track's history, s
    age: F64  # s since the track was born
    hit_ratio: F64  # fraction of recent looks that hit
    n_sources: F64  # sensors that contributed

    def as_dict(self) -> dict[str, F64]:
        return {name: getattr(self, name) for name in self.__slots__}


class History:
    """Recent site-ENU positions of each track: a ring buffer of ``depth`` samples, one per
    snapshot at most every ``min_dt`` seconds. East, north and up are separate (N, depth) arrays
    so that every feature works on contiguous memory."""

    def __init__(self, depth: int = 12, min_dt: float = 1.0) -> None:
        self.depth = depth
        self.min_dt = min_dt
        self.ids = np.zeros(0, dtype=np.int64)  # sorted ascending
        self.pos = np.zeros((3, 0, depth))  # e, n, u
        self.count = np.zeros(0, dtype=np.int64)
        self.t = np.full(depth, np.nan)
        self.head = depth - 1
        self.last_t = -np.inf
        self.first = np.zeros((3, 0))  # e, n, u where each track was first seen
        self.first_t = np.zeros(0)  # when, UTC s
        self.roam = np.zeros(0)  # farthest it has been from there, m

    def rows_of(self, ids: I64) -> I64:
        """Row of each id in the stored arrays, -1 where the id has no history."""
        if not len(self.ids):
            return np.full(len(ids), -1, dtype=np.int64)
        r = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.where(self.ids[r] == ids, r, -1)

    def update(self, t: float, ids: I64, pos: F64, keep: B) -> Window:
        """Add the snapshot at ``t`` (ids (N,), positions (N,3)); keep only rows where ``keep``.

        Returns the window of the given rows, oldest sample first.
        """
        n, d = len(ids), self.depth
        if n == len(self.ids) and np.array_equal(ids, self.ids):  # the usual case: same tracks
            hist, count = self.pos, self.count  # written in place: they are replaced below
            first, first_t, roam = self.first, self.first_t, self.roam
        else:
            rows = self.rows_of(ids)
            found = rows >= 0
            hist = np.zeros((3, n, d))
            count = np.zeros(n, dtype=np.int64)
            hist[:, found] = self.pos[:, rows[found]]
            count[found] = self.count[rows[found]]
            first = pos.T.copy()
            first[:, found] = self.first[:, rows[found]]
            first_t = np.full(n, t)
            first_t[found] = self.first_t[rows[found]]
            roam = np.zeros(n)
            roam[found] = self.roam[rows[found]]
        # A track reported deleted was coasting: its last position is a prediction, not a look.
        roam = np.where(keep, np.maximum(roam, np.linalg.norm(pos - first.T, axis=1)), roam)
        if t >= self.last_t + self.min_dt:  # all tracks share the sample
            self.head = (self.head + 1) % d
            self.last_t = t
            count = np.minimum(count + 1, d)
        else:  # too soon: refresh the newest sample instead of adding one
            count = np.maximum(count, 1)
        self.t[self.head] = t
        hist[:, :, self.head] = pos.T
        if keep.all() and (n < 2 or bool((ids[1:] > ids[:-1]).all())):
            self.ids, self.pos, self.count = ids.copy(), hist, count
            self.first, self.first_t, self.roam = first, first_t, roam
        else:
            order = np.argsort(ids[keep], kind="stable")
            self.ids = ids[keep][order]
            self.pos = hist[:, keep][:, order]
            self.count = count[keep][order]
            self.first = first[:, keep][:, order]
            self.first_t = first_t[keep][order]
            self.roam = roam[keep][order]
        if self.head == d - 1:
            ordered, times = hist, self.t.copy()
        else:
            slots = (self.head + 1 + np.arange(d)) % d  # oldest .. newest
            ordered, times = hist[:, :, slots], self.t[slots]
        valid = np.arange(d)[None, :] >= (d - count)[:, None]
        return Window(ordered[0], ordered[1], ordered[2], times, valid, count, roam, first_t,
                      first.T)


@dataclass(frozen=True, slots=True)
class Window:
    """Positions (N, D) per axis, oldest first; sample times (D,); validity (N, D); counts."""

    e: F64
    n: F64
    u: F64
    t: F64
    valid: B
    count: I64
    #: Farthest distance (3-D) of each track from its first sample, over its whole life (m).
    roam: F64
    #: When each track's first sample was taken (UTC s), and where (N, 3), site ENU m.
    first_t: F64
    first: F64


def stationary_limit(pos_sigma: F64) -> F64:
    """How far (m) a track may wander from where it was first seen and still not have moved:
    STATIONARY_M, or 3 times its 3-D position sigma (N, 3) where the sensor is coarser."""
    return np.maximum(STATIONARY_M, 3.0 * np.linalg.norm(pos_sigma, axis=1))


def features(t: float, x: F64, pos_sigma: F64, vel_sigma: F64, t_birth: F64, hit_ratio: F64,
             n_sources: F64, w: Window, clutter_s: F64 | None = None) -> Features:
    """All features of N tracks: states ``x`` (N,6) predicted to ``t``, their 1-sigmas (N,3);
    ``clutter_s``: the clutter map's seconds at each track (N,), if there is a map."""
    n_tr, d = w.e.shape
    vel_known = vel_sigma[:, 0] ** 2 + vel_sigma[:, 1] ** 2 <= MAX_VEL_SIGMA**2
    speed = np.where(vel_known, np.sqrt(x[:, 3] ** 2 + x[:, 4] ** 2), np.nan)
    climb = np.where(vel_sigma[:, 2] <= MAX_VEL_SIGMA, np.abs(x[:, 5]), np.nan)
    # ENU "up" drops below the geodetic height with range (earth curvature: ~785 m at 100 km);
    # adding r^2 / 2R restores height above the site's ground to metres out to ~200 km.
    height = x[:, 2] + (x[:, 0] ** 2 + x[:, 1] ** 2) / (2.0 * EARTH_RADIUS_M)

    sig_h2 = pos_sigma[:, 0] ** 2 + pos_sigma[:, 1] ** 2
    kern = kernels()
    if kern is not None and 3 <= d <= 129:
        out = np.empty((6, n_tr))
        kern.window_features(w.e, w.n, w.u, w.t, w.count, sig_h2, MIN_PATH_M, MIN_SEGMENT_M,
                             HOVER_SPEED, HOVER_MIN_HEIGHT, _rows_first(w.e), out)
        straight, turn, hover_s, rg, net, window_s = out
    else:
        straight, turn, hover_s, rg, net, window_s = _window_features(w, sig_h2)
    return Features(speed=speed, climb=climb, height=height, turn_rate=turn,
                    straightness=straight, hover_s=hover_s, loiter_radius=rg, displacement=net,
                    roam=np.where(t - w.first_t >= ROAM_MIN_AGE_S, w.roam, np.nan),
                    clutter_map_s=(np.where(w.roam < stationary_limit(pos_sigma), clutter_s,
                                            np.nan)
                                   if clutter_s is not None else np.full(n_tr, np.nan)),
                    window_s=np.nan_to_num(window_s), age=np.maximum(t - t_birth, 0.0),
                    hit_ratio=hit_ratio, n_sources=n_sources)


def _rows_first(a: F64) -> bool:
    """Whether numpy walks an (N, D) array (and the arrays it derives from it, which keep its
    layout) row by row: the rows are its fastest axis (or there is one row). Its row sums are
    then pairwise, else column after column, which can differ in the last bit."""
    return a.shape[0] <= 1 or abs(a.strides[1]) < abs(a.strides[0])


def _window_features(w: Window, sig_h2: F64) -> tuple[F64, ...]:
    """Straightness, turn rate, hover time, loiter radius, displacement and window span of each
    track's window (the numpy oracle of :func:`cuas.classify.kernels.window_features`)."""
    n_tr, d = w.e.shape
    V = w.valid
    de = np.diff(w.e, axis=1)  # (N, D-1) segments
    dn = np.diff(w.n, axis=1)
    seg_ok = V[:, :-1]  # validity is a suffix, so a segment is valid when its start is
    dt = np.diff(w.t)
    dt = np.where(np.isfinite(dt) & (dt > 0), dt, 0.0)
    length = np.sqrt(de * de + dn * dn)
    length[~seg_ok] = 0.0
    path = length.sum(axis=1)
    first = np.minimum(d - w.count, d - 1)  # each track's oldest valid sample
    r = np.arange(n_tr)
    net_e = w.e[:, -1] - w.e[r, first]
    net_n = w.n[:, -1] - w.n[r, first]
    net = np.sqrt(net_e * net_e + net_n * net_n)
    long_enough = path >= np.maximum(MIN_PATH_M, 3.0 * np.sqrt(sig_h2))
    with np.errstate(invalid="ignore", divide="ignore"):
        straight = np.where(long_enough, np.minimum(net / path, 1.0), np.nan)

        # Turn between consecutive moving segments: the angle between them, from their cross
        # and dot products (one arctan2, no heading wrap-around).
        moving = length >= MIN_SEGMENT_M
        pair = moving[:, 1:] & moving[:, :-1]
        cross = de[:, :-1] * dn[:, 1:] - dn[:, :-1] * de[:, 1:]
        dot = de[:, :-1] * de[:, 1:] + dn[:, :-1] * dn[:, 1:]
        turned = np.where(pair, np.abs(np.arctan2(cross, dot)), 0.0).sum(axis=1)
        span = (pair * dt[None, 1:]).sum(axis=1)
        turn = np.where((pair.sum(axis=1) >= 2) & (span > 0), np.degrees(turned) / span, np.nan)

        slow = seg_ok & (length < HOVER_SPEED * dt[None, :]) & (w.u[:, 1:] > HOVER_MIN_HEIGHT)
        hover_s = np.where(w.count >= 2, (slow * dt[None, :]).sum(axis=1), np.nan)

        # Radius of gyration from first and second moments over the valid samples.
        k = np.maximum(w.count, 1)
        e0 = np.where(V, w.e - w.e[:, -1:], 0.0)  # relative to the newest, for precision
        n0 = np.where(V, w.n - w.n[:, -1:], 0.0)
        me, mn = e0.sum(axis=1) / k, n0.sum(axis=1) / k
        var = (e0 * e0).sum(axis=1) / k - me * me + (n0 * n0).sum(axis=1) / k - mn * mn
        rg = np.sqrt(np.maximum(var, 0.0))
        window_s = np.where(w.count >= 2, w.t[-1] - w.t[first], 0.0)
    return straight, turn, hover_s, rg, net, window_s


#: Sustained hover: at most this long (s) between updates counts, and it halves this often
#: (s) while the track does not hover.
MAX_HOVER_STEP_S = 5.0
HOVER_FADE_S = 20.0
#: Hovering without an IMM: the track's last STILL_WINDOW_S s within STILL_RADIUS_M (m).
STILL_WINDOW_S = 8.0
STILL_RADIUS_M = 10.0


def held_hover(dt: F64, f: Features, mode_prob: F64 | None, held: F64) -> F64:
    """Seconds each track has hovered over its life (N,), from ``held`` (the previous value)
    after ``dt`` seconds (N,) since each track's previous update, halving every HOVER_FADE_S
    while it does not hover.

    With the tracker's IMM (``mode_prob`` (N, 3) rows other than (0, 1, 0)), the time counts
    in proportion to the hover mode's probability (an expected hover time: a mode that
    flickers between hover and flight adds little and fades) and fades in proportion to the
    rest. Without one, a track hovers when its speed is under HOVER_SPEED m/s or, since a radar
    track's speed of a still target is noisy (1-2 m/s at 1 km), when its last STILL_WINDOW_S
    seconds stayed within STILL_RADIUS_M (radius of gyration and net displacement: a circling
    bird holds a 15-20 m radius at least); in both cases HOVER_MIN_HEIGHT m up."""
    dt = np.clip(dt, 0.0, MAX_HOVER_STEP_S)
    with np.errstate(invalid="ignore"):
        up = f.height > HOVER_MIN_HEIGHT
        still_window = (f.window_s >= STILL_WINDOW_S) & (
            f.loiter_radius <= STILL_RADIUS_M) & (f.displacement <= STILL_RADIUS_M)
        p = (((f.speed < HOVER_SPEED) | still_window) & up).astype(np.float64)
    if mode_prob is not None and len(mode_prob) == len(p):
        from_imm = np.abs(mode_prob[:, 1] - 1.0) > 1e-9  # (0, 1, 0) is "no IMM yet"
        p = np.where(from_imm, np.clip(mode_prob[:, 0], 0.0, 1.0) * up, p)
    return held * 0.5 ** (dt * (1.0 - p) / HOVER_FADE_S) + dt * p
