"""Seeded built-in generators: ground truth plus the detections one sensor would report.

The built-in single-sensor generators (:class:`SimParams`, :func:`simulate`); scenario files
with many sensors and movers are :mod:`cuas.sim.scenario` and :mod:`cuas.sim.runner`.

It feeds the tracker's tests and benchmarks, so it is deterministic (same :class:`SimParams`,
same site -> identical output), vectorised over targets with numpy, and honest about what it
knows: every detection carries the index of the truth object that caused it (``-1`` for
clutter) in the raw :class:`Scan` arrays, never in the wire batches.

Conventions: times are UTC seconds since the Unix epoch (``t0`` + seconds into the run);
positions are metres east, north, up (ENU) in the site frame (``SiteConfig``); velocities m/s in
the same frame; azimuth in degrees from true north, clockwise; elevation in degrees above the
sensor's horizontal. Heights in the altitude band are ``up`` in the site's tangent plane.

Scenarios (:data:`SCENARIOS`):

``random``
    Targets born uniformly over the region with random headings and speeds; a share
    (``churn_fraction``) appears after the start and, independently, a share disappears before
    the end.
``crossing``
    Pairs of targets whose straight paths cross at the same point, height and scan time, at
    crossing angles between 20 and 160 degrees, in clutter: the classic test of data
    association (a nearest-neighbour tracker swaps or merges the two).
``formation``
    Groups of three flying abreast 40 m apart with a common velocity (and common turns): tests
    whether closely spaced targets keep separate tracks.
``inbound``
    Targets start near the edge of the region and fly towards the site origin (the protected
    venue), give or take 10 degrees: tests threat and zone logic.

A share ``manoeuvre_fraction`` of the targets (all scenarios but ``crossing``, whose paths must
stay straight to cross where intended) flies one coordinated turn at 3-15 deg/s for part of
the run, and constant velocity before and after.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeAlias

import numpy as np
from numpy.typing import NDArray

from cuas import geo, wire
from cuas.config import SiteConfig
from cuas.errors import SimParamError

F64: TypeAlias = NDArray[np.float64]
SimFrame: TypeAlias = Literal["enu", "rae", "lla"]

SCENARIOS: Final[tuple[str, ...]] = ("random", "crossing", "formation", "inbound")
SIM_FRAMES: Final[tuple[str, ...]] = ("enu", "rae", "lla")
#: Default 1-sigma measurement noise per frame: metres E, N, U for enu and lla (the contract
#: gives lla uncertainty in metres too); range m, azimuth deg, elevation deg for rae.
DEFAULT_SIGMA: Final[dict[str, tuple[float, float, float]]] = {
    "enu": (5.0, 5.0, 8.0),
    "lla": (5.0, 5.0, 8.0),
    "rae": (7.5, 0.3, 0.5),
}
#: Default region half-width per sqrt(target) (m): about one target per km^2 whatever the count,
#: so large benchmarks spread targets out instead of piling them up.
HALF_WIDTH_PER_SQRT_TARGET_M: Final = 500.0
MIN_HALF_WIDTH_M: Final = 1000.0
#: Height of the default sensor above the site origin (m): a radar on the stadium roof.
DEFAULT_SENSOR_RAISE_M: Final = 30.0
FORMATION_SIZE: Final = 3
FORMATION_SPACING_M: Final = 40.0
CROSSING_ANGLE_DEG: Final = (20.0, 160.0)
INBOUND_HEADING_ERROR_DEG: Final = 10.0
#: Nothing in the wire contract may have a range of zero; noise around a target right next to
#: the sensor could produce one.
_MIN_RANGE_M: Final = 0.1
_MAX_SCANS: Final = 1_000_000


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SimParamError(name, f"must be a finite number, got {value!r}")
    return float(value)


def _triple(name: str, value: Sequence[float]) -> tuple[float, float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3:
        raise SimParamError(name, f"must be 3 numbers, got {value!r}")
    a, b, c = (_finite(f"{name}[{i}]", v) for i, v in enumerate(value))
    return (a, b, c)


def _pair(name: str, value: Sequence[float], *, lo: float, strict: bool = False) -> None:
    """Check a (min, max) pair: lo <= min (lo < min if strict) and min <= max."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise SimParamError(name, f"must be a (min, max) pair, got {value!r}")
    a, b = (_finite(f"{name}[{i}]", v) for i, v in enumerate(value))
    if a < lo or (strict and a == lo):
        raise SimParamError(name, f"min must be {'>' if strict else '>='} {lo}, got {value!r}")
    if a > b:
        raise SimParamError(name, f"min must be <= max, got {value!r}")


@dataclass(frozen=True)
class SimParams:
    """Everything that determines a simulated run (with the site).

    Units: seconds, metres, m/s, degrees, deg/s; ``t0`` in UTC seconds. ``None`` means "derive
    a default": ``sensor_origin`` the site origin raised 30 m, ``sigma`` the frame's default
    (:data:`DEFAULT_SIGMA`), ``region_half_width_m`` grows with sqrt(n_targets) (constant
    density), ``max_range_m`` unlimited. Construction validates every field and raises
    :class:`SimParamError` naming the field.
    """

    seed: int
    n_targets: int
    duration_s: float
    scenario: str = "random"
    scan_period_s: float = 1.0
    t0: float = 1_790_000_000.0
    #: Probability that a target inside the sensor's coverage is detected on a scan.
    pd: float = 0.9
    #: Mean of the Poisson number of false alarms per scan, uniform over the surveillance
    #: volume (the region times the altitude band, within the sensor's coverage).
    clutter_per_scan: float = 5.0
    frame: SimFrame = "enu"
    sensor_id: str = "radar-sim"
    kind: str = "sim"
    #: Sensor position (lat deg, lon deg, h m above WGS-84); the origin of rae batches.
    sensor_origin: tuple[float, float, float] | None = None
    #: 1-sigma measurement noise in the detection's frame (see :data:`DEFAULT_SIGMA`).
    sigma: tuple[float, float, float] | None = None
    #: Horizontal speed range (m/s) and largest vertical speed (m/s).
    speed_range: tuple[float, float] = (5.0, 25.0)
    max_vertical_speed: float = 2.0
    #: Height band above the site origin (m, site-ENU up); targets stay inside it all run.
    altitude_range: tuple[float, float] = (30.0, 300.0)
    manoeuvre_fraction: float = 0.2
    turn_rate_range: tuple[float, float] = (3.0, 15.0)
    #: Share of targets (``random`` only) born after the start; independently, share that
    #: disappears before the end.
    churn_fraction: float = 0.3
    region_half_width_m: float | None = None
    #: rae only: the sensor reports targets within this slant range (m) ...
    max_range_m: float | None = None
    #: ... and at or above this true elevation (deg): the horizon, give or take multipath.
    min_elevation_deg: float = -1.0

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise SimParamError("seed", f"must be an integer >= 0, got {self.seed!r}")
        if (isinstance(self.n_targets, bool) or not isinstance(self.n_targets, int)
                or not 0 <= self.n_targets <= 10_000_000):
            raise SimParamError("n_targets", f"must be an integer in [0, 1e7], got {self.n_targets!r}")
        if self.scenario not in SCENARIOS:
            raise SimParamError("scenario", f"{self.scenario!r} is not one of {SCENARIOS}")
        if self.scenario == "crossing" and self.n_targets % 2:
            raise SimParamError("n_targets", f"'crossing' needs an even number, got {self.n_targets}")
        if _finite("duration_s", self.duration_s) <= 0:
            raise SimParamError("duration_s", f"must be > 0, got {self.duration_s}")
        if _finite("scan_period_s", self.scan_period_s) <= 0:
            raise SimParamError("scan_period_s", f"must be > 0, got {self.scan_period_s}")
        if self.n_scans > _MAX_SCANS:
            raise SimParamError("scan_period_s", f"gives {self.n_scans} scans (max {_MAX_SCANS})")
        t0 = _finite("t0", self.t0)
        if t0 < wire.T_MIN or t0 + self.duration_s >= wire.T_MAX:
            raise SimParamError("t0", "the run must lie within 2000..2100 (UTC seconds)")
        if not 0.0 <= _finite("pd", self.pd) <= 1.0:
            raise SimParamError("pd", f"must lie in [0, 1], got {self.pd}")
        if not 0.0 <= _finite("clutter_per_scan", self.clutter_per_scan) <= 1e6:
            raise SimParamError("clutter_per_scan", f"must lie in [0, 1e6], got {self.clutter_per_scan}")
        if self.frame not in SIM_FRAMES:
            raise SimParamError("frame", f"{self.frame!r} is not one of {SIM_FRAMES}")
        # The sensor id is also the messages' `src`, which the contract caps shorter.
        for name, limit in (("sensor_id", wire.MAX_SRC), ("kind", wire.MAX_STR)):
            v = getattr(self, name)
            if not isinstance(v, str) or not 0 < len(v) <= limit:
                raise SimParamError(name, f"must be a non-empty string of <= {limit} characters")
        if self.sensor_origin is not None:
            lat, lon, h = _triple("sensor_origin", self.sensor_origin)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180 and -12_000 <= h <= 100_000):
                raise SimParamError("sensor_origin", f"must be (lat, lon, h) in degrees and metres, "
                                    f"got {self.sensor_origin!r}")
        if self.sigma is not None:
            sig = _triple("sigma", self.sigma)
            if min(sig) <= 0 or max(sig) > 1e6:
                raise SimParamError("sigma", f"each value must lie in (0, 1e6], got {self.sigma!r}")
        _pair("speed_range", self.speed_range, lo=0.0)
        if _finite("max_vertical_speed", self.max_vertical_speed) < 0:
            raise SimParamError("max_vertical_speed", "must be >= 0")
        _pair("altitude_range", self.altitude_range, lo=-1000.0)
        if self.altitude_range[1] > 100_000:
            raise SimParamError("altitude_range", "must stay below 100 km")
        _pair("turn_rate_range", self.turn_rate_range, lo=0.0, strict=True)
        for name in ("manoeuvre_fraction", "churn_fraction"):
            if not 0.0 <= _finite(name, getattr(self, name)) <= 1.0:
                raise SimParamError(name, f"must lie in [0, 1], got {getattr(self, name)}")
        for name in ("region_half_width_m", "max_range_m"):
            v = getattr(self, name)
            if v is not None and not 0 < _finite(name, v) <= 1e7:
                raise SimParamError(name, f"must lie in (0, 1e7] metres, got {v}")
        if not -90.0 <= _finite("min_elevation_deg", self.min_elevation_deg) < 90.0:
            raise SimParamError("min_elevation_deg", f"must lie in [-90, 90), got {self.min_elevation_deg}")

    @property
    def n_scans(self) -> int:
        """Scans at t0 + k * scan_period_s for every k >= 0 with k * scan_period_s < duration_s."""
        # The epsilon keeps 20 s / 0.1 s from becoming 201 scans through rounding.
        return max(1, math.ceil(self.duration_s / self.scan_period_s - 1e-9))

    @property
    def measurement_sigma(self) -> tuple[float, float, float]:
        """The 1-sigma noise in the detection frame (explicit ``sigma`` or the frame default)."""
        if self.sigma is not None:
            return _triple("sigma", self.sigma)
        return DEFAULT_SIGMA[self.frame]

    @property
    def half_width_m(self) -> float:
        """Half-width (m) of the square region, centred on the site origin, targets start in."""
        if self.region_half_width_m is not None:
            return float(self.region_half_width_m)
        return max(MIN_HALF_WIDTH_M, HALF_WIDTH_PER_SQRT_TARGET_M * math.sqrt(self.n_targets))

    def origin_for(self, site: SiteConfig) -> tuple[float, float, float]:
        """The sensor position (lat, lon, h): ``sensor_origin``, or the site origin raised 30 m."""
        if self.sensor_origin is not None:
            return _triple("sensor_origin", self.sensor_origin)
        return (site.lat, site.lon, site.h + DEFAULT_SENSOR_RAISE_M)


@dataclass(frozen=True)
class SimTruth:
    """Ground truth as struct-of-arrays over K scan times and N objects.

    ``enu`` (K,N,3) metres and ``vel`` (K,N,3) m/s in the site ENU frame; ``alive`` (K,N) says
    whether an object exists at that time (positions of objects not alive are still filled in,
    on the extension of their path, but mean nothing). ``times`` (K,) UTC s.
    """

    times: F64
    ids: tuple[str, ...]
    enu: F64
    vel: F64
    alive: NDArray[np.bool_]
    classes: tuple[str, ...]
    threat: NDArray[np.bool_]


@dataclass(frozen=True)
class Scan:
    """One scan's detections as raw arrays, for benchmarks that feed a tracker directly.

    ``z`` (M,3) in the run's frame (enu: metres site ENU; rae: range m, az deg, el deg from the
    sensor; lla: lat deg, lon deg, h m), ``sigma`` (3,) its 1-sigma noise (metres for lla),
    ``truth_index`` (M,) the truth object behind each row or -1 for clutter. Rows are shuffled.
    """

    t: float
    z: F64
    sigma: F64
    truth_index: NDArray[np.int64]


@dataclass(frozen=True)
class SimArrays:
    """Truth and raw scans of a run (what :func:`simulate_arrays` returns)."""

    params: SimParams
    site: SiteConfig
    sensor_origin: tuple[float, float, float]
    truth: SimTruth
    scans: tuple[Scan, ...]


@dataclass(frozen=True)
class SimResult(SimArrays):
    """A run as wire batches (one per scan, ``seq`` +1 each) plus truth and the raw scans."""

    batches: tuple[wire.Detections, ...] = ()

    @property
    def n_detections(self) -> int:
        """All detections of the run, clutter included."""
        return sum(len(s.truth_index) for s in self.scans)

    @property
    def n_clutter(self) -> int:
        """False alarms of the run."""
        return sum(int(np.count_nonzero(s.truth_index < 0)) for s in self.scans)


# --------------------------------------------------------------------------- motion


@dataclass(frozen=True)
class _Motion:
    """Per-target kinematics (arrays over N targets); times in seconds since t0.

    Straight flight at ``v0`` (E, N m/s) until ``turn_start``, a coordinated turn at ``omega``
    (rad/s, positive = anticlockwise seen from above, i.e. to the left) lasting ``turn_len``,
    then straight again; ``vu`` constant. ``turn_start`` is +inf for targets that never turn.
    """

    p0: F64
    v0: F64
    vu: F64
    omega: F64
    turn_start: F64
    turn_len: F64
    birth: F64
    death: F64

    def state(self, t: float) -> tuple[F64, F64, NDArray[np.bool_]]:
        """Positions (N,3) m, velocities (N,3) m/s and alive mask (N,) at ``t`` s since t0."""
        before = np.minimum(t, self.turn_start)
        turning = np.clip(t - self.turn_start, 0.0, self.turn_len)
        after = np.maximum(t - self.turn_start - self.turn_len, 0.0)
        theta = self.omega * turning
        # Integral of the rotating velocity over the turn, written with sinc so that omega -> 0
        # (and the non-turning targets, whose turning time is 0) need no special case:
        # sin(theta)/omega and (1 - cos(theta))/omega.
        s = turning * np.sinc(theta / np.pi)
        c = 0.5 * self.omega * turning**2 * np.sinc(theta / (2.0 * np.pi)) ** 2
        vx, vy = self.v0[:, 0], self.v0[:, 1]
        cos_t, sin_t = np.cos(theta), np.sin(theta)
        vx1 = cos_t * vx - sin_t * vy
        vy1 = sin_t * vx + cos_t * vy
        pos = np.empty_like(self.p0)
        pos[:, 0] = self.p0[:, 0] + vx * before + s * vx - c * vy + vx1 * after
        pos[:, 1] = self.p0[:, 1] + vy * before + c * vx + s * vy + vy1 * after
        pos[:, 2] = self.p0[:, 2] + self.vu * t
        vel = np.column_stack([vx1, vy1, self.vu])
        alive = (self.birth <= t) & (t < self.death)
        return pos, vel, alive


def _heading_velocity(rng: np.random.Generator, heading: F64, p: SimParams) -> F64:
    """Horizontal velocities (N,2) for headings (rad, math convention) at random speeds."""
    speed = rng.uniform(p.speed_range[0], p.speed_range[1], len(heading))
    return np.column_stack([speed * np.cos(heading), speed * np.sin(heading)])


def _vertical_speed(rng: np.random.Generator, u0: F64, p: SimParams) -> F64:
    """Vertical speeds within +-max_vertical_speed that keep each target in the altitude band
    for the whole run (the interval always contains 0 because u0 starts inside the band)."""
    lo_u, hi_u = p.altitude_range
    lo = np.maximum(-p.max_vertical_speed, (lo_u - u0) / p.duration_s)
    hi = np.minimum(p.max_vertical_speed, (hi_u - u0) / p.duration_s)
    return lo + (hi - lo) * rng.random(len(u0))


def _manoeuvres(rng: np.random.Generator, n: int, p: SimParams) -> tuple[F64, F64, F64]:
    """(omega rad/s, turn_start s, turn_len s); round(manoeuvre_fraction * n) targets turn."""
    omega = np.zeros(n)
    start = np.full(n, np.inf)
    length = np.zeros(n)
    k = round(p.manoeuvre_fraction * n) if p.scenario != "crossing" else 0
    idx = rng.permutation(n)[:k]
    rate = np.radians(rng.uniform(p.turn_rate_range[0], p.turn_rate_range[1], k))
    omega[idx] = rate * rng.choice(np.array([-1.0, 1.0]), k)
    start[idx] = rng.uniform(0.1, 0.6, k) * p.duration_s
    length[idx] = rng.uniform(0.2, 0.4, k) * p.duration_s
    return omega, start, length


def _motion(rng: np.random.Generator, p: SimParams) -> _Motion:
    n, w, d = p.n_targets, p.half_width_m, p.duration_s
    lo_u, hi_u = p.altitude_range
    birth = np.full(n, -np.inf)
    death = np.full(n, np.inf)
    if p.scenario == "crossing":
        pairs = n // 2
        centre = rng.uniform(-0.8 * w, 0.8 * w, (pairs, 2))
        # Crossing on a scan time puts both targets at the same point in the same batch.
        t_cross = rng.integers(round(0.3 * p.n_scans), round(0.7 * p.n_scans), pairs,
                               endpoint=True) * p.scan_period_s
        height = rng.uniform(lo_u, hi_u, pairs)
        h1 = rng.uniform(0.0, 2.0 * np.pi, pairs)
        angle = np.radians(rng.uniform(*CROSSING_ANGLE_DEG, pairs))
        h2 = h1 + angle * rng.choice(np.array([-1.0, 1.0]), pairs)
        v0 = np.empty((n, 2))
        v0[0::2] = _heading_velocity(rng, h1, p)
        v0[1::2] = _heading_velocity(rng, h2, p)
        p0 = np.empty((n, 3))
        p0[:, :2] = np.repeat(centre, 2, axis=0) - v0 * np.repeat(t_cross, 2)[:, None]
        p0[:, 2] = np.repeat(height, 2)
        vu = np.zeros(n)
    elif p.scenario == "formation":
        groups = -(-n // FORMATION_SIZE)
        centre = rng.uniform(-w, w, (groups, 2))
        heading = rng.uniform(0.0, 2.0 * np.pi, groups)
        gv = _heading_velocity(rng, heading, p)
        gu = rng.uniform(lo_u, hi_u, groups)
        gvu = _vertical_speed(rng, gu, p)
        member = np.arange(n) % FORMATION_SIZE
        group = np.arange(n) // FORMATION_SIZE
        # Abreast: offsets across the direction of flight, centred on the group's middle.
        lateral = (member - (FORMATION_SIZE - 1) / 2.0) * FORMATION_SPACING_M
        across = np.column_stack([-np.sin(heading), np.cos(heading)])[group]
        p0 = np.empty((n, 3))
        p0[:, :2] = centre[group] + lateral[:, None] * across
        p0[:, 2] = gu[group]
        v0 = gv[group]
        vu = gvu[group]
    else:
        if p.scenario == "inbound":
            bearing = rng.uniform(0.0, 2.0 * np.pi, n)
            radius = w * rng.uniform(0.8, 1.0, n)
            xy = radius[:, None] * np.column_stack([np.cos(bearing), np.sin(bearing)])
            err = np.radians(rng.uniform(-INBOUND_HEADING_ERROR_DEG, INBOUND_HEADING_ERROR_DEG, n))
            heading = bearing + np.pi + err
        else:
            xy = rng.uniform(-w, w, (n, 2))
            heading = rng.uniform(0.0, 2.0 * np.pi, n)
        p0 = np.column_stack([xy, rng.uniform(lo_u, hi_u, n)])
        v0 = _heading_velocity(rng, heading, p)
        vu = _vertical_speed(rng, p0[:, 2], p)
        if p.scenario == "random":
            late = rng.random(n) < p.churn_fraction
            early = rng.random(n) < p.churn_fraction
            # Windows keep every target alive for at least a tenth of the run.
            birth = np.where(late, rng.uniform(0.05, 0.45, n) * d, birth)
            death = np.where(early, rng.uniform(0.55, 0.95, n) * d, death)
    omega, start, length = _manoeuvres(rng, n, p)
    if p.scenario == "formation":
        # The whole group turns together (same velocity, same turn: a rigid translation).
        lead = (np.arange(n) // FORMATION_SIZE) * FORMATION_SIZE
        omega, start, length = omega[lead], start[lead], length[lead]
    return _Motion(p0=p0, v0=v0, vu=vu, omega=omega, turn_start=start, turn_len=length,
                   birth=birth, death=death)


# --------------------------------------------------------------------------- measurement


def _to_frame(enu: F64, p: SimParams, site_frame: geo.SiteFrame,
              sensor: geo.SensorFrame) -> F64:
    """Noise-free site-ENU points (M,3) expressed in the run's frame."""
    if p.frame == "rae":
        return geo.local_to_rae(sensor.site_to_local(enu))
    if p.frame == "lla":
        return site_frame.enu_to_lla(enu)
    return enu


def _clean_rae(rae: F64) -> F64:
    """Make noisy rae legal on the wire: range > 0, az in [0, 360), el in [-90, 90]."""
    rae[:, 0] = np.maximum(rae[:, 0], _MIN_RANGE_M)
    # Twice: a tiny negative azimuth mod 360 rounds to exactly 360.0, the second pass maps it
    # to 0 so that the wire decoder's own `% 360` leaves every value unchanged.
    rae[:, 1] = np.mod(np.mod(rae[:, 1], 360.0), 360.0)
    rae[:, 2] = np.clip(rae[:, 2], -90.0, 90.0)
    return rae


def _in_coverage(rae: F64, p: SimParams) -> NDArray[np.bool_]:
    ok = rae[:, 2] >= p.min_elevation_deg
    if p.max_range_m is not None:
        ok &= rae[:, 0] <= p.max_range_m
    return np.asarray(ok, dtype=np.bool_)


def simulate_arrays(params: SimParams, site: SiteConfig) -> SimArrays:
    """Run the scenario and return the truth and the raw per-scan arrays (no wire objects).

    Truth and measurements draw from two independent streams spawned from ``seed``: changing
    pd, clutter, frame or noise leaves the trajectories of a given seed unchanged.
    """
    p = params
    truth_seed, meas_seed = np.random.SeedSequence(p.seed).spawn(2)
    rng_truth = np.random.default_rng(truth_seed)
    rng = np.random.default_rng(meas_seed)
    motion = _motion(rng_truth, p)
    site_frame = geo.SiteFrame(site)
    origin = p.origin_for(site)
    sensor = site_frame.sensor(origin)
    sigma = np.asarray(p.measurement_sigma, dtype=np.float64)
    n, k_scans, w = p.n_targets, p.n_scans, p.half_width_m
    lo_u, hi_u = p.altitude_range

    rel_times = np.arange(k_scans, dtype=np.float64) * p.scan_period_s
    enu_all = np.empty((k_scans, n, 3))
    vel_all = np.empty((k_scans, n, 3))
    alive_all = np.empty((k_scans, n), dtype=np.bool_)
    scans: list[Scan] = []
    for k, t_rel in enumerate(rel_times):
        pos, vel, alive = motion.state(float(t_rel))
        enu_all[k], vel_all[k], alive_all[k] = pos, vel, alive
        # Drawn for every target on every scan so that the stream does not depend on coverage.
        hit = alive & (rng.random(n) < p.pd)
        if p.frame == "rae":
            true_rae = geo.local_to_rae(sensor.site_to_local(pos))
            hit &= _in_coverage(true_rae, p)
            idx = np.flatnonzero(hit)
            z_targets = _clean_rae(true_rae[idx] + rng.standard_normal((len(idx), 3)) * sigma)
        else:
            idx = np.flatnonzero(hit)
            noisy = pos[idx] + rng.standard_normal((len(idx), 3)) * sigma
            z_targets = site_frame.enu_to_lla(noisy) if p.frame == "lla" else noisy
        m = int(rng.poisson(p.clutter_per_scan))
        clutter_enu = np.column_stack([rng.uniform(-w, w, (m, 2)), rng.uniform(lo_u, hi_u, m)])
        z_clutter = _to_frame(clutter_enu, p, site_frame, sensor)
        if p.frame == "rae":
            z_clutter = _clean_rae(z_clutter[_in_coverage(z_clutter, p)])
        z = np.vstack([z_targets, z_clutter]) if len(z_clutter) else z_targets
        tidx = np.concatenate([idx.astype(np.int64), np.full(len(z_clutter), -1, dtype=np.int64)])
        # Shuffle so that the order of detections says nothing about which are real.
        perm = rng.permutation(len(tidx))
        scans.append(Scan(t=p.t0 + float(t_rel), z=np.ascontiguousarray(z[perm]),
                          sigma=sigma.copy(), truth_index=tidx[perm]))

    width = len(str(max(n - 1, 0)))
    truth = SimTruth(
        times=p.t0 + rel_times,
        ids=tuple(f"T{i:0{width}d}" for i in range(n)),
        enu=enu_all,
        vel=vel_all,
        alive=alive_all,
        classes=("uav",) * n,
        threat=np.ones(n, dtype=np.bool_),
    )
    return SimArrays(params=p, site=site, sensor_origin=origin, truth=truth, scans=tuple(scans))


def to_batches(arrays: SimArrays) -> tuple[wire.Detections, ...]:
    """The wire batches of a run: one ``detections`` message per scan, ``seq`` 0, 1, 2, ..."""
    p = arrays.params
    frame: wire.Frame = p.frame
    origin = arrays.sensor_origin if p.frame == "rae" else None
    batches = []
    for seq, scan in enumerate(arrays.scans):
        sig = tuple(scan.sigma.tolist())
        # R built exactly as the wire decoder builds it from sigma, so that decode(encode(b))
        # compares equal to b.
        cov = tuple((sig[i] * sig[i] if i == j else 0.0) for i in range(3) for j in range(3))
        dets = tuple(wire.Detection(frame=frame, z=tuple(row), R=cov, sigma=sig)
                     for row in scan.z.tolist())
        batches.append(wire.Detections(src=p.sensor_id, seq=seq, t=scan.t, sensor=p.sensor_id,
                                       kind=p.kind, dets=dets, origin=origin))
    return tuple(batches)


def simulate(params: SimParams, site: SiteConfig) -> SimResult:
    """Run the scenario at ``site``: wire batches, truth and raw scans (see :class:`SimResult`)."""
    arrays = simulate_arrays(params, site)
    return SimResult(params=arrays.params, site=arrays.site, sensor_origin=arrays.sensor_origin,
                     truth=arrays.truth, scans=arrays.scans, batches=to_batches(arrays))


# --------------------------------------------------------------------------- output


def write_truth(truth: SimTruth, site: SiteConfig, path: str | Path) -> None:
    """Write ``truth`` as a truth file (docs/truth-format.md) via :mod:`cuas.eval.truth`: the
    header (site, each object's class and threat flag), then one line per scan time listing the
    objects alive then with their ENU position (m) and velocity (m/s)."""
    # Imported here: the truth-file module pulls in scipy, which generating scenarios does not need.
    from cuas.eval import truth as truth_file

    header = truth_file.TruthHeader(
        site=truth_file.Site(lat=site.lat, lon=site.lon, h=site.h),
        objects={oid: truth_file.ObjectInfo(object_class=cls, threat=bool(th))
                 for oid, cls, th in zip(truth.ids, truth.classes, truth.threat.tolist(),
                                         strict=True)},
    )

    def samples() -> Iterator[truth_file.TruthSample]:
        for k, t in enumerate(truth.times.tolist()):
            idx = np.flatnonzero(truth.alive[k])
            yield truth_file.TruthSample(t=t, ids=tuple(truth.ids[i] for i in idx.tolist()),
                                         enu=truth.enu[k, idx], vel=truth.vel[k, idx])

    truth_file.write_truth(path, header, samples())


def write_outputs(result: SimResult, out_path: str | Path, truth_path: str | Path) -> None:
    """Write the recording (MCAP, or JSON Lines for a ``.jsonl`` path) and the truth file."""
    from cuas.record import writer as recording_writer  # only writing needs the MCAP library

    with recording_writer.open_writer(out_path) as writer:
        for batch in result.batches:
            writer.write_message(batch)
    write_truth(result.truth, result.site, truth_path)
