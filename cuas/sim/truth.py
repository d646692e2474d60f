"""Ground truth of a scenario: every mover's trajectory on a fine time grid.

Each mover's piecewise-linear waypoint path (or orbit) is smoothed with a Gaussian kernel so
that corners are flown as turns and starts and stops as accelerations (bounded, checked by the
tests), then group offsets, wander and flapping are added; velocity is the derivative of the
final positions. Everything random is drawn from the scenario seed, mover by mover, so the
same seed gives identical truth. Positions site ENU metres, times seconds into the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

from cuas.sim.scenario import GRID_DT_S, MoverSpec, Scenario

F64 = NDArray[np.float64]
B = NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class ScenarioTruth:
    """Every mover on the truth grid: ``t`` (K,) s into the run, ``enu`` (K, N, 3) m,
    ``vel`` (K, N, 3) m/s, ``alive`` (K, N); per mover ``ids``, ``classes``, ``threat``,
    ``types``, and ``owner`` (index of its :class:`MoverSpec` in the scenario)."""

    t: F64
    enu: F64
    vel: F64
    alive: B
    ids: tuple[str, ...]
    classes: tuple[str, ...]
    types: tuple[str, ...]
    threat: B
    owner: NDArray[np.int64]

    def at(self, t_rel: F64) -> tuple[F64, F64, B]:
        """Positions (M, N, 3), velocities (M, N, 3) and alive (M, N) at run times ``t_rel`` (s),
        linearly interpolated on the grid."""
        x = np.clip(np.asarray(t_rel, dtype=np.float64) / GRID_DT_S, 0.0, len(self.t) - 1.0)
        k0 = np.minimum(np.floor(x).astype(np.int64), len(self.t) - 2)
        w = (x - k0)[:, None, None]
        pos = self.enu[k0] * (1.0 - w) + self.enu[k0 + 1] * w
        vel = self.vel[k0] * (1.0 - w) + self.vel[k0 + 1] * w
        alive = self.alive[k0] & self.alive[k0 + 1]
        return pos, vel, alive


def _path_track(m: MoverSpec, tau: F64) -> F64:
    """Piecewise-linear waypoint positions (len(tau), 3) at times ``tau`` s since start."""
    pts = np.asarray(m.waypoints, dtype=np.float64)
    if m.loop:
        pts = np.vstack([pts, pts[:1]])
    n_legs = len(pts) - 1
    speeds = np.asarray(m.speeds) if m.speeds else np.full(n_legs, m.speed)
    holds = np.asarray(m.hold_s) if m.hold_s else np.zeros(len(m.waypoints))
    if m.loop:
        holds = np.append(holds, 0.0)
    key_t: list[float] = []
    key_p: list[F64] = []
    t = 0.0
    for i in range(len(pts)):
        key_t.append(t)
        key_p.append(pts[i])
        if holds[i] > 0:
            t += float(holds[i])
            key_t.append(t)
            key_p.append(pts[i])
        if i < n_legs:
            t += max(float(np.linalg.norm(pts[i + 1] - pts[i])) / float(speeds[i]), 1e-3)
    kt, kp = np.asarray(key_t), np.asarray(key_p)
    before = np.minimum(tau, 0.0)
    if m.loop and kt[-1] > 0:
        tau = np.where(tau > 0, np.mod(tau, kt[-1]), tau)
    out = np.column_stack([np.interp(tau, kt, kp[:, j]) for j in range(3)])
    if holds[0] == 0 and n_legs:
        # Already flying at the start: before it, the mover was on its way along the first
        # leg (which keeps the smoothing from slowing it down at the start).
        d = pts[1] - pts[0]
        out += before[:, None] * (d / max(float(np.linalg.norm(d)), 1e-9) * float(speeds[0]))
    return out


def path_duration(m: MoverSpec) -> float:
    """Seconds to fly a (non-looping) path, holds included."""
    pts = np.asarray(m.waypoints, dtype=np.float64)
    legs = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    speeds = np.asarray(m.speeds) if m.speeds else np.full(len(legs), m.speed)
    return float(np.sum(legs / speeds[: len(legs)]) + (sum(m.hold_s) if m.hold_s else 0.0))


def _orbit_track(m: MoverSpec, tau: F64) -> F64:
    o = m.orbit
    assert o is not None
    ang = math.radians(o.phase_deg) + o.direction * m.speed / o.radius_m * tau
    return np.column_stack([o.centre[0] + o.radius_m * np.cos(ang),
                            o.centre[1] + o.radius_m * np.sin(ang),
                            o.centre[2] + o.climb_mps * tau])


def _wander(rng: np.random.Generator, t: F64, amplitude: float) -> F64:
    """Smooth random drift (len(t), 3): two sinusoids per axis, periods 8-40 s, vertical a
    third of the horizontal amplitude; zero-mean and bounded by ~2 x amplitude."""
    if amplitude <= 0:
        return np.zeros((len(t), 3))
    out = np.zeros((len(t), 3))
    scale = np.array([1.0, 1.0, 1.0 / 3.0]) * amplitude / math.sqrt(2.0)
    for _ in range(2):
        period = rng.uniform(8.0, 40.0, 3)
        phase = rng.uniform(0.0, 2.0 * math.pi, 3)
        out += scale * np.sin(2.0 * math.pi * t[:, None] / period + phase)
    return out


def compute_truth(scenario: Scenario, seed: int) -> ScenarioTruth:
    """Every mover's trajectory on the grid (see the module docstring); deterministic in
    (scenario, seed)."""
    grid = np.arange(0.0, scenario.duration_s + GRID_DT_S / 2, GRID_DT_S)
    streams = np.random.SeedSequence([seed, 1]).spawn(max(len(scenario.movers), 1))
    cols_p: list[F64] = []
    cols_a: list[B] = []
    ids: list[str] = []
    classes: list[str] = []
    types: list[str] = []
    threat: list[bool] = []
    owner: list[int] = []
    for mi, (m, ss) in enumerate(zip(scenario.movers, streams, strict=False)):
        rng = np.random.default_rng(ss)
        # Smoothed on a grid padded beyond both ends, so that a mover already flying at the
        # start (whose path is extended backwards) is not slowed down by the filter's edge.
        sigma = m.smooth_s / GRID_DT_S
        pad = math.ceil(4.0 * sigma)
        ext = np.arange(-pad, len(grid) + pad, dtype=np.float64) * GRID_DT_S
        tau = ext - m.start_s
        base = _orbit_track(m, tau) if m.orbit is not None else _path_track(m, tau)
        base = gaussian_filter1d(base, sigma, axis=0, mode="nearest")[pad:pad + len(grid)]
        end = m.end_s if m.end_s is not None else scenario.duration_s
        if m.end_at_path_end and m.orbit is None and not m.loop:
            end = min(end, m.start_s + path_duration(m))
        alive = (grid >= m.start_s) & (grid <= end)
        for _k in range(m.count):
            pos = base.copy()
            if m.count > 1:
                r = m.spread_m * math.sqrt(rng.random())
                a = rng.uniform(0.0, 2.0 * math.pi)
                pos += np.array([r * math.cos(a), r * math.sin(a),
                                 rng.uniform(-0.25, 0.25) * m.spread_m])
            pos += _wander(rng, grid, m.wander_m)
            if m.flap_amplitude_m > 0:
                period = m.flap_period_s * rng.uniform(0.85, 1.15)
                pos[:, 2] += m.flap_amplitude_m * np.sin(
                    2.0 * math.pi * grid / period + rng.uniform(0.0, 2.0 * math.pi))
            pos[:, 2] = np.maximum(pos[:, 2], 0.0)
            cols_p.append(pos)
            cols_a.append(alive)
            owner.append(mi)
        ids.extend(m.member_ids)
        classes.extend([m.kind.object_class] * m.count)
        types.extend([m.type] * m.count)
        threat.extend([m.threat] * m.count)
    n = len(cols_p)
    enu = np.stack(cols_p, axis=1) if n else np.zeros((len(grid), 0, 3))
    vel = np.gradient(enu, GRID_DT_S, axis=0) if n else enu.copy()
    alive_all = np.stack(cols_a, axis=1) if n else np.zeros((len(grid), 0), dtype=bool)
    return ScenarioTruth(t=grid, enu=enu, vel=vel, alive=alive_all, ids=tuple(ids),
                         classes=tuple(classes), types=tuple(types),
                         threat=np.asarray(threat, dtype=bool),
                         owner=np.asarray(owner, dtype=np.int64))


def zone_entry_times(scenario: Scenario, truth: ScenarioTruth) -> dict[str, float]:
    """First run time (s) at which each mover is alive inside any zone of the site config."""
    from cuas.zones import SiteGeometry  # shapely: only needed here

    geom = SiteGeometry(scenario.config)
    out: dict[str, float] = {}
    if geom.n_zones == 0:
        return out
    for j, oid in enumerate(truth.ids):
        inside = geom.inside(truth.enu[:, j]).any(axis=1) & truth.alive[:, j]
        k = np.flatnonzero(inside)
        if len(k):
            out[oid] = float(truth.t[k[0]])
    return out
