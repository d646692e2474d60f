"""``[sensors.<id>]``: the sensors a site knows, with each one's kind-specific settings table.

What a kind's table holds, and how it is validated, is the kind's business: this module asks
the sensor kind registry (:mod:`cuas.sensors.registry`) for it and knows no kind by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cuas.config.coerce import build
from cuas.config.outputs import SapientNodeConfig, parse_sapient_node
from cuas.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SensorConfig:
    """A sensor known to the site: where it is and how its batches are to be read."""

    id: str
    kind: str = "sim"
    #: Sensor position (lat, lon, h); used for `rae`/`ae` batches that carry no origin.
    origin: tuple[float, float, float] | None = None
    #: Whether a batch is a full look (a track it does not see has been missed). Defaults by kind.
    scanning: bool | None = None
    #: Tracks beyond this range (m) from the sensor are not counted as missed by it.
    max_range_m: float | None = None
    #: Coverage beyond range (issue 14: a track is missed only by a sensor that should have
    #: seen it): azimuth sector [from, to] (degrees clockwise from north at the sensor),
    #: elevation band [lowest, highest] (degrees above the sensor's horizon), revisit time
    #: (s: one look per revisit charges a miss), and the range (m) where the detection
    #: probability halves.
    sector_deg: tuple[float, float] | None = None
    elevation_band_deg: tuple[float, float] | None = None
    revisit_s: float | None = None
    pd_half_range_m: float | None = None
    #: SAPIENT module settings (``[sensors.<id>.sapient]``), for ``cuas sapient serve``: any
    #: kind of sensor (a radar, a camera) may report through SAPIENT.
    sapient: SapientNodeConfig | None = None
    #: Adapter settings by table name (``[sensors.<id>.adsb]`` -> ``settings["adsb"]``), each
    #: validated into its kind's settings type (see :mod:`cuas.sensors.registry`).
    settings: Mapping[str, object] = field(default_factory=dict)

    @property
    def is_scanning(self) -> bool:
        """True when each batch of this sensor is a full look at its coverage."""
        if self.scanning is not None:
            return self.scanning
        from cuas.sensors import registry  # the registry imports no adapter

        return registry.get(self.kind).scanning

    def settings_for(self, table: str, cls: type[T]) -> T:
        """The validated ``[sensors.<id>.<table>]`` settings, or ``cls()`` (its defaults) when
        the configuration gives no such table."""
        found = self.settings.get(table)
        if found is None:
            return cls()
        if not isinstance(found, cls):
            raise TypeError(f"sensors.{self.id}.{table} holds {type(found).__name__}, "
                            f"not {cls.__name__}")
        return found


def parse_sensor(sid: str, table: Any, path: str | None) -> SensorConfig:
    """Validate one ``[sensors.<id>]`` table and the settings tables inside it."""
    from cuas.sensors import registry

    key = f"sensors.{sid}"
    extra: dict[str, Any] = {}
    settings: dict[str, object] = {}
    if isinstance(table, dict):
        rest = dict(table)
        # Checked here rather than by build(), whose message could not name the kinds' tables.
        tables = {k.settings_table for k in registry.kinds() if k.settings_table is not None}
        known = ({f.name for f in dataclasses.fields(SensorConfig)} - {"id", "settings"}) | tables
        for name in rest:
            if name not in known:
                raise ConfigError(f"unknown key (known: {', '.join(sorted(known))})", path=path,
                                  key=f"{key}.{name}")
        if "sapient" in rest:
            extra["sapient"] = parse_sapient_node(rest.pop("sapient"), f"{key}.sapient", path)
        # Any kind's table is accepted on any sensor, as before kinds were plug-ins.
        for kind in registry.kinds():
            name = kind.settings_table
            if name is not None and name in rest:
                settings[name] = kind.parse_settings(rest.pop(name), f"{key}.{name}", path)
        table = rest
    sensor = build(SensorConfig, table, key, path, id=sid, settings=settings, **extra)
    if sensor.origin is not None:
        lat, lon, h = sensor.origin
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and -12_000 <= h <= 100_000):
            raise ConfigError("origin must be [lat, lon, h] in degrees and metres",
                              path=path, key=f"{key}.origin")
    if sensor.max_range_m is not None and sensor.max_range_m <= 0:
        raise ConfigError("must be > 0", path=path, key=f"{key}.max_range_m")
    for name in ("revisit_s", "pd_half_range_m"):
        v = getattr(sensor, name)
        if v is not None and not 0 < v < 1e7:
            raise ConfigError("must be > 0", path=path, key=f"{key}.{name}")
    if sensor.elevation_band_deg is not None and not (
            -90 <= sensor.elevation_band_deg[0] <= sensor.elevation_band_deg[1] <= 90):
        raise ConfigError("must be [lowest, highest] within [-90, 90] degrees", path=path,
                          key=f"{key}.elevation_band_deg")
    if sensor.sector_deg is not None and not all(-360 <= a <= 360 for a in sensor.sector_deg):
        raise ConfigError("must be [from, to] within [-360, 360] degrees", path=path,
                          key=f"{key}.sector_deg")
    return sensor
