"""Scenario files: a site, its sensors and the movers of a situation, and their ground truth.

A scenario is a TOML file (``recordings/scenarios/*.toml``, format in docs/truth-format.md,
"Scenario files"). It names a site configuration (site origin, zones, assets), describes the
sensors (:mod:`cuas.sim.sensor_models` turns them into detections) and the movers: multirotor and
fixed-wing drones, birds (single or flocks), manned aircraft, each flying waypoints with holds,
or an orbit, with optional flapping undulation and random wander.

Conventions: times are seconds into the run (``t0`` + s is UTC); positions are metres east,
north, up in the site's ENU frame (up from the site origin, which is ground level at the
reference site); velocities m/s in the same frame.

Truth is computed on a fine grid (:data:`GRID_DT_S`): each mover's piecewise-linear waypoint
path is smoothed with a Gaussian kernel so that corners are flown as turns and starts and stops
as accelerations (bounded, checked by the tests), then group offsets, wander and flapping are
added; velocity is the derivative of the final positions. Everything random is drawn from the
scenario seed, mover by mover, so the same seed gives identical truth.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d

from cuas.config import Config, load_config, reference_config
from cuas.config.coerce import build
from cuas.errors import ConfigError

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
T = TypeVar("T")

#: Time step of the truth grid (s); sensors interpolate linearly between grid samples.
GRID_DT_S: Final = 0.1
#: Largest truth grid (movers x steps) and number of looks per sensor a scenario may ask for.
MAX_GRID_CELLS: Final = 2e7
MAX_LOOKS: Final = 1e6


@dataclass(frozen=True, slots=True)
class MoverType:
    """Physical envelope of a kind of mover: truth class, top speed (m/s), largest
    acceleration (m/s^2) and ceiling (m above the site origin); checked at load and in tests."""

    object_class: str
    max_speed: float
    max_accel: float
    ceiling_m: float
    rcs_dbsm: float
    size_m: float


MOVER_TYPES: Final[Mapping[str, MoverType]] = {
    "multirotor": MoverType("uav", 30.0, 15.0, 1_000.0, -15.0, 0.5),
    "fixedwing": MoverType("uav", 45.0, 15.0, 3_000.0, -10.0, 2.0),
    "bird": MoverType("bird", 22.0, 25.0, 2_000.0, -25.0, 0.5),
    "helicopter": MoverType("manned", 90.0, 10.0, 4_000.0, 10.0, 12.0),
    "airliner": MoverType("manned", 290.0, 10.0, 13_000.0, 20.0, 40.0),
}
SENSOR_KINDS: Final = ("radar", "camera", "adsb", "remoteid", "rf")


# --------------------------------------------------------------------------- sensors


@dataclass(frozen=True, kw_only=True, slots=True)
class SensorSpec:
    """What every simulated sensor has: where it is, how often it reports, how late, how
    reliably. ``origin`` (lat deg, lon deg, h m WGS-84); ``rate_hz`` looks (or messages per
    target) per second; ``latency_s`` mean delay from measurement to receipt with uniform
    ``latency_jitter_s`` either side; ``dropout`` probability that a message is lost;
    ``outages`` [[start_s, end_s], ...] windows with no output at all; ``max_range_m`` m."""

    id: str
    kind: str
    origin: tuple[float, float, float]
    rate_hz: float = 1.0
    latency_s: float = 0.1
    latency_jitter_s: float = 0.02
    dropout: float = 0.0
    outages: tuple[tuple[float, float], ...] = ()
    max_range_m: float = 5_000.0

    def __post_init__(self) -> None:
        if not 0.01 <= self.rate_hz <= 100.0:
            raise ConfigError("must lie in [0.01, 100]", key=f"sensors.{self.id}.rate_hz")
        if not 0.0 <= self.latency_jitter_s <= self.latency_s <= 0.45:
            raise ConfigError("need 0 <= latency_jitter_s <= latency_s <= 0.45 (the daemon's "
                              "lateness window is 0.5 s)", key=f"sensors.{self.id}.latency_s")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("must lie in [0, 1)", key=f"sensors.{self.id}.dropout")
        if not 0.0 < self.max_range_m <= 1e6:
            raise ConfigError("must lie in (0, 1e6] m", key=f"sensors.{self.id}.max_range_m")
        lat, lon, _ = self.origin
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ConfigError("must be [lat, lon, h]", key=f"sensors.{self.id}.origin")

    def in_outage(self, t_rel: F64) -> B:
        """Which run times (s) fall inside an outage window."""
        out = np.zeros(np.shape(t_rel), dtype=bool)
        for a, b in self.outages:
            out |= (t_rel >= a) & (t_rel < b)
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class RadarSpec(SensorSpec):
    """A staring 3-D radar reporting range/azimuth/elevation once per look. Probability of
    detection from the radar equation with Swerling-1 fluctuation: SNR (dB) = ``snr_1km_db``
    + RCS (dBsm) - 40 log10(range / 1 km); Pd = pfa ** (1 / (1 + SNR)). ``sigma`` m, deg, deg;
    ``false_alarms`` mean Poisson number per look spread over the coverage; ``clutter_points``
    fixed ground-clutter returns (detected with ``clutter_pd``) below ``clutter_max_range_m``."""

    snr_1km_db: float = 45.0
    pfa: float = 1e-6
    sigma: tuple[float, float, float] = (5.0, 0.4, 0.8)
    min_elevation_deg: float = -2.0
    max_elevation_deg: float = 70.0
    min_range_m: float = 50.0
    false_alarms: float = 3.0
    clutter_points: int = 0
    clutter_pd: float = 0.4
    clutter_max_range_m: float = 2_000.0


@dataclass(frozen=True, kw_only=True, slots=True)
class CameraSpec(SensorSpec):
    """A fixed camera looking along ``azimuth_deg``/``elevation_deg`` with an ``hfov_deg`` x
    ``vfov_deg`` field of view on a ``width_px`` x ``height_px`` sensor (degrees per pixel =
    hfov / width). A target is seen (with ``pd``) when it is in the field of view, within range
    and at least ``min_size_px`` across; its bearing carries ``pixel_sigma`` px of centroid noise,
    i.e. an angle sigma of pixel_sigma * deg-per-pixel. ``false_blobs`` mean per frame."""

    azimuth_deg: float = 0.0
    elevation_deg: float = 5.0
    hfov_deg: float = 40.0
    vfov_deg: float = 22.5
    width_px: int = 1920
    height_px: int = 1080
    pixel_sigma: float = 1.5
    min_size_px: float = 2.0
    pd: float = 0.9
    false_blobs: float = 0.1


@dataclass(frozen=True, kw_only=True, slots=True)
class AdsbSpec(SensorSpec):
    """An ADS-B receiver: ``rate_hz`` airborne-position messages per aircraft (2 Hz in the
    standard), each received with probability 1 - ``dropout``; NACp gives the sigma."""

    nacp: int = 9


@dataclass(frozen=True, kw_only=True, slots=True)
class RemoteIdSpec(SensorSpec):
    """A Remote ID receiver (Bluetooth/Wi-Fi broadcast, location message at ``rate_hz``)."""

    sigma_h_m: float = 4.0
    sigma_v_m: float = 6.0


@dataclass(frozen=True, kw_only=True, slots=True)
class RfSpec(SensorSpec):
    """An RF scanner: one sweep every 1 / ``rate_hz`` s reporting each active control link
    whose received power (free-space loss from the link's EIRP) is above ``sensitivity_dbm``."""

    sensitivity_dbm: float = -95.0
    noise_floor_dbm: float = -105.0


_SENSOR_CLASSES: Final[Mapping[str, type[SensorSpec]]] = {
    "radar": RadarSpec, "camera": CameraSpec, "adsb": AdsbSpec, "remoteid": RemoteIdSpec,
    "rf": RfSpec,
}


# --------------------------------------------------------------------------- movers


@dataclass(frozen=True, slots=True)
class RfLinkSpec:
    """A drone's control link as an RF scanner hears it (Hz, Hz, dBm) and when it is on (s)."""

    freq_hz: float = 2.44e9
    bw_hz: float = 10e6
    protocol: str = "ocusync"
    eirp_dbm: float = 20.0
    burst_s: float = 0.004
    on_s: float = 0.0
    off_s: float = 1e9


@dataclass(frozen=True, slots=True)
class RemoteIdBroadcast:
    """What a drone broadcasts on Remote ID: its serial, its operator's position (site ENU m)
    and ``offset_m``, added to every reported position (0 for an honest drone; a spoofer lies)."""

    serial: str
    operator: tuple[float, float, float] = (0.0, 0.0, 0.0)
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    transport: str = "bt4"
    ua_type: str = "multirotor"


@dataclass(frozen=True, slots=True)
class AdsbIdentity:
    """An aircraft's ICAO address (6 hex) and callsign."""

    icao: str
    callsign: str = ""

    def __post_init__(self) -> None:
        if len(self.icao) != 6 or any(c not in "0123456789abcdef" for c in self.icao):
            raise ConfigError(f"icao must be 6 lower-case hex digits, got {self.icao!r}",
                              key="movers.adsb.icao")


@dataclass(frozen=True, slots=True)
class Orbit:
    """A circle: centre (site ENU m), radius (m), climb rate (m/s, soaring in a thermal),
    starting angle (deg, math convention) and direction (+1 anticlockwise, -1 clockwise)."""

    centre: tuple[float, float, float]
    radius_m: float
    climb_mps: float = 0.0
    phase_deg: float = 0.0
    direction: int = 1


@dataclass(frozen=True, kw_only=True)
class MoverSpec:
    """One mover, or a group of ``count`` (a flock, a swarm) spread ``spread_m`` around it.

    Either ``waypoints`` (site ENU m) flown at ``speed`` m/s (or per-leg ``speeds``),
    holding ``hold_s`` s at each waypoint (hover), repeated when ``loop``; or an ``orbit``
    flown at ``speed``. Alive from ``start_s`` to ``end_s`` (default: the end of the run, or
    the end of the path when ``end_at_path_end``). ``flap_amplitude_m``/``flap_period_s``:
    vertical undulation of flapping flight; ``wander_m``: slow random drift (gusts, a pilot's
    hand, a bird's weaving). ``threat``: the truth flag scored by ``cuas eval``."""

    id: str
    type: str
    threat: bool = False
    start_s: float = 0.0
    end_s: float | None = None
    waypoints: tuple[tuple[float, float, float], ...] = ()
    speed: float = 10.0
    speeds: tuple[float, ...] = ()
    hold_s: tuple[float, ...] = ()
    loop: bool = False
    end_at_path_end: bool = False
    orbit: Orbit | None = None
    count: int = 1
    spread_m: float = 0.0
    wander_m: float = 0.0
    flap_amplitude_m: float = 0.0
    flap_period_s: float = 2.0
    smooth_s: float = 1.5
    rcs_dbsm: float | None = None
    size_m: float | None = None
    rf: RfLinkSpec | None = None
    remoteid: RemoteIdBroadcast | None = None
    adsb: AdsbIdentity | None = None

    @property
    def kind(self) -> MoverType:
        return MOVER_TYPES[self.type]

    @property
    def member_ids(self) -> tuple[str, ...]:
        """Truth ids: the mover's id, or ``id-00`` ... for a group."""
        if self.count == 1:
            return (self.id,)
        width = len(str(self.count - 1))
        return tuple(f"{self.id}-{i:0{width}d}" for i in range(self.count))


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario: run length and start (UTC s), the site config, sensors and movers."""

    name: str
    description: str
    duration_s: float
    t0: float
    truth_rate_hz: float
    config: Config
    sensors: tuple[SensorSpec, ...]
    movers: tuple[MoverSpec, ...]
    path: str | None = None


# --------------------------------------------------------------------------- loading


def _vectors(value: Any, width: int | None, key: str, path: str | None) -> tuple[Any, ...]:
    """A list of numbers (width None) or of [width numbers] lists, as tuples of floats."""
    if not isinstance(value, list):
        raise ConfigError("expected a list", path=path, key=key)
    out: list[Any] = []
    for i, v in enumerate(value):
        item = v if width is not None else [v]
        if (not isinstance(item, list) or (width is not None and len(item) != width)
                or not all(isinstance(x, int | float) and not isinstance(x, bool)
                           and math.isfinite(x) for x in item)):
            what = f"[{width} numbers]" if width is not None else "a number"
            raise ConfigError(f"item {i}: expected {what}, got {v!r}"[:200], path=path, key=key)
        out.append(tuple(float(x) for x in item) if width is not None else float(item[0]))
    return tuple(out)


def _make(cls: type[T], table: Any, key: str, path: str | None, **extra: Any) -> T:
    """``cls`` from a TOML table (cuas.config's strict builder), naming a missing required key."""
    if isinstance(table, dict):
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            required = (f.default is dataclasses.MISSING
                        and f.default_factory is dataclasses.MISSING)
            if required and f.name not in table and f.name not in extra:
                raise ConfigError("required key missing", path=path, key=f"{key}.{f.name}")
    return build(cls, table, key, path, **extra)


def _table(v: Any, key: str, path: str | None) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ConfigError("expected a table", path=path, key=key)
    return dict(v)


def _sensor(sid: str, table: Any, path: str | None) -> SensorSpec:
    key = f"sensors.{sid}"
    t = _table(table, key, path)
    kind = t.pop("kind", None)
    if not isinstance(kind, str) or kind not in _SENSOR_CLASSES:
        raise ConfigError(f"kind must be one of {', '.join(SENSOR_KINDS)}, got {kind!r}",
                          path=path, key=f"{key}.kind")
    outages = _vectors(t.pop("outages"), 2, f"{key}.outages", path) if "outages" in t else ()
    return _make(_SENSOR_CLASSES[kind], t, key, path, id=sid, kind=kind, outages=outages)


def _mover(index: int, table: Any, duration_s: float, path: str | None) -> MoverSpec:
    key = f"movers[{index}]"
    t = _table(table, key, path)
    extra: dict[str, Any] = {}
    if "waypoints" in t:
        extra["waypoints"] = _vectors(t.pop("waypoints"), 3, f"{key}.waypoints", path)
    for name in ("speeds", "hold_s"):
        if name in t:
            extra[name] = _vectors(t.pop(name), None, f"{key}.{name}", path)
    for name, cls in (("orbit", Orbit), ("rf", RfLinkSpec), ("remoteid", RemoteIdBroadcast),
                      ("adsb", AdsbIdentity)):
        if name in t:
            extra[name] = _make(cls, t.pop(name), f"{key}.{name}", path)
    m = _make(MoverSpec, t, key, path, **extra)
    _check_mover(m, duration_s, key, path)
    return m


def _check_mover(m: MoverSpec, duration_s: float, key: str, path: str | None) -> None:
    def bad(problem: str, sub: str) -> ConfigError:
        return ConfigError(problem, path=path, key=f"{key}.{sub}")

    if m.type not in MOVER_TYPES:
        raise bad(f"must be one of {', '.join(MOVER_TYPES)}", "type")
    kind = m.kind
    if (m.orbit is None) == (not m.waypoints):
        raise bad("give either waypoints or an orbit", "waypoints")
    if not 0.0 < m.speed <= kind.max_speed:
        raise bad(f"must lie in (0, {kind.max_speed:g}] m/s for a {m.type}", "speed")
    for s in m.speeds:
        if not 0.0 < s <= kind.max_speed:
            raise bad(f"each must lie in (0, {kind.max_speed:g}] m/s for a {m.type}", "speeds")
    if m.speeds and len(m.speeds) != max(len(m.waypoints) - 1 + int(m.loop), 0):
        raise bad("need one speed per leg", "speeds")
    if m.hold_s and (len(m.hold_s) != len(m.waypoints) or min(m.hold_s) < 0):
        raise bad("need one hold time (s, >= 0) per waypoint", "hold_s")
    heights = [p[2] for p in m.waypoints] + ([m.orbit.centre[2]] if m.orbit else [])
    if heights and not (min(heights) >= 0.0 and max(heights) <= kind.ceiling_m):
        raise bad(f"heights must lie in [0, {kind.ceiling_m:g}] m for a {m.type}", "waypoints")
    end = m.end_s if m.end_s is not None else duration_s
    if not 0.0 <= m.start_s < end <= duration_s:
        raise bad("need 0 <= start_s < end_s <= duration_s", "start_s")
    if not 1 <= m.count <= 1000:
        raise bad("must lie in [1, 1000]", "count")
    if m.orbit is not None and m.orbit.radius_m <= 0:
        raise bad("must be > 0", "orbit.radius_m")
    if m.flap_period_s <= 0 or m.smooth_s <= 0:
        raise bad("flap_period_s and smooth_s must be > 0", "flap_period_s")
    for name in ("spread_m", "wander_m", "flap_amplitude_m"):
        if not 0.0 <= getattr(m, name) <= 1000.0:
            raise bad("must lie in [0, 1000] m", name)


def parse_scenario(doc: Mapping[str, Any], path: str | None = None,
                   base_dir: Path | None = None) -> Scenario:
    """A :class:`Scenario` from a parsed TOML document; ``scenario.config`` is resolved
    relative to ``base_dir`` (the scenario file's folder). Raises ConfigError naming the key."""
    doc = dict(doc)
    head = _table(doc.pop("scenario", None), "scenario", path)
    sensors_t = _table(doc.pop("sensors", {}), "sensors", path)
    movers_t = doc.pop("movers", [])
    if doc:
        raise ConfigError("unknown table (known: scenario, sensors, movers)", path=path,
                          key=next(iter(doc)))
    name = head.pop("name", None)
    description = head.pop("description", "")
    duration = head.pop("duration_s", None)
    t0 = head.pop("t0", 1_790_000_000.0)
    rate = head.pop("truth_rate_hz", 1.0)
    config_ref = head.pop("config", None)
    if head:
        raise ConfigError("unknown key (known: name, description, duration_s, t0, "
                          "truth_rate_hz, config)", path=path, key=f"scenario.{next(iter(head))}")
    if not isinstance(name, str) or not name:
        raise ConfigError("expected a non-empty string", path=path, key="scenario.name")
    if not isinstance(description, str):
        raise ConfigError("expected a string", path=path, key="scenario.description")
    for k, v, lo, hi in (("duration_s", duration, 1.0, 86_400.0), ("t0", t0, 946_684_800.0,
                         4_000_000_000.0), ("truth_rate_hz", rate, 0.1, 10.0)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
            raise ConfigError(f"expected a number in [{lo:g}, {hi:g}]", path=path,
                              key=f"scenario.{k}")
    assert isinstance(duration, int | float) and isinstance(t0, int | float)
    assert isinstance(rate, int | float)
    if config_ref is None:
        config = reference_config()
    elif isinstance(config_ref, str):
        config = load_config((base_dir or Path.cwd()) / config_ref)
    else:
        raise ConfigError("expected a path (relative to the scenario file)", path=path,
                          key="scenario.config")
    sensors = tuple(_sensor(sid, tbl, path) for sid, tbl in sensors_t.items())
    if not isinstance(movers_t, list):
        raise ConfigError("expected an array of tables [[movers]]", path=path, key="movers")
    movers = tuple(_mover(i, m, float(duration), path) for i, m in enumerate(movers_t))
    ids = [mid for m in movers for mid in m.member_ids]
    if len(set(ids)) != len(ids):
        raise ConfigError("mover ids must be unique", path=path, key="movers")
    # The truth grid holds every mover at every grid step: keep it within a few hundred MB.
    if len(ids) * float(duration) / GRID_DT_S > MAX_GRID_CELLS:
        raise ConfigError(f"{len(ids)} movers over {duration} s exceed {MAX_GRID_CELLS:.0e} "
                          "mover-steps of truth: shorten the run or thin the groups",
                          path=path, key="movers")
    for sp in sensors:
        if sp.rate_hz * float(duration) > MAX_LOOKS:
            raise ConfigError(f"more than {MAX_LOOKS:.0e} looks in the run", path=path,
                              key=f"sensors.{sp.id}.rate_hz")
    return Scenario(name=name, description=description, duration_s=float(duration),
                    t0=float(t0), truth_rate_hz=float(rate), config=config, sensors=sensors,
                    movers=movers, path=path)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file (ConfigError naming the file and key)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(p)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(p)) from None
    return parse_scenario(doc, str(p), p.parent)


# --------------------------------------------------------------------------- truth


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
    from cuas.classify.zones import SiteGeometry  # shapely: only needed here

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


def replace_duration(scenario: Scenario, duration_s: float) -> Scenario:
    """The same scenario cut to ``duration_s`` (movers ending later are cut too; movers that
    start later are dropped). For short tests of long scenarios."""
    movers = []
    for m in scenario.movers:
        if m.start_s >= duration_s:
            continue
        end = m.end_s if m.end_s is not None and m.end_s <= duration_s else None
        movers.append(dataclasses.replace(m, end_s=end))
    return dataclasses.replace(scenario, duration_s=duration_s, movers=tuple(movers))

