"""Scenario files: a site, its sensors and the movers of a situation.

A scenario is a TOML file (``recordings/scenarios/*.toml``, format in docs/truth-format.md,
"Scenario files"). It names a site configuration (site origin, zones, assets), describes the
sensors (each ``[sensors.<id>]`` the spec of its kind's simulated model, from the sensor kind
registry) and the movers: multirotor and fixed-wing drones, birds (single or flocks), manned
aircraft, each flying waypoints with holds, or an orbit, with optional flapping undulation and
random wander. Their ground truth is :mod:`cuas.sim.truth`.

Conventions: times are seconds into the run (``t0`` + s is UTC); positions are metres east,
north, up in the site's ENU frame (up from the site origin, which is ground level at the
reference site); velocities m/s in the same frame.
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

from cuas.config import Config, load_config, reference_config
from cuas.config.coerce import build
from cuas.errors import ConfigError
from cuas.sensors import registry

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
T = TypeVar("T")

#: Time step of the truth grid (s); sensors interpolate linearly between grid samples.
GRID_DT_S: Final = 0.1
#: Largest truth grid (movers x steps) and number of looks per sensor a scenario may ask for.
MAX_GRID_CELLS: Final = 2e7
MAX_LOOKS: Final = 1e6



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
    simulated = {k.name: k for k in registry.kinds() if k.simulated}
    if not isinstance(kind, str) or kind not in simulated:
        raise ConfigError(f"kind must be one of {', '.join(simulated)}, got {kind!r}",
                          path=path, key=f"{key}.kind")
    spec_ref = simulated[kind].sim_spec
    assert spec_ref is not None
    spec_type: type[SensorSpec] = registry.resolve(spec_ref)
    outages = _vectors(t.pop("outages"), 2, f"{key}.outages", path) if "outages" in t else ()
    extra: dict[str, Any] = {}
    # A sensor's own classifier (radar labels): range bands and one confusion matrix each.
    if "label_ranges_m" in t:
        extra["label_ranges_m"] = _vectors(t.pop("label_ranges_m"), None,
                                           f"{key}.label_ranges_m", path)
    if "label_confusion" in t:
        bands = t.pop("label_confusion")
        if not isinstance(bands, list):
            raise ConfigError("expected a list of 4x4 matrices", path=path,
                              key=f"{key}.label_confusion")
        extra["label_confusion"] = tuple(
            _vectors(m, 4, f"{key}.label_confusion[{i}]", path) for i, m in enumerate(bands))
    return _make(spec_type, t, key, path, id=sid, kind=kind, outages=outages, **extra)


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

