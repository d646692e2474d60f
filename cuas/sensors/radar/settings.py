"""``[sensors.<id>.radar]``: what the fuser knows of a radar that publishes plots itself.

A radar that declares its calibration here has each plot's ``snr_db`` (``attrs``) and range
turned into a radar cross-section estimate and class evidence (:mod:`cuas.sensors.radar.rcs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cuas.config.coerce import build
from cuas.errors import ConfigError


@dataclass(frozen=True, slots=True)
class RadarSettings:
    """``[sensors.<id>.radar]``: the radar's calibration (dB, metres).

    ``snr_1km_db``: the signal-to-noise ratio (dB) the radar reports for a 1 m² (0 dBsm)
    target at 1 km, i.e. its radar-equation constant; None (the default) declares no
    calibration, and then no RCS evidence is made. ``rcs_confidence``: how much one plot's RCS
    counts (see :data:`cuas.sensors.radar.rcs.LOOK_CONFIDENCE`)."""

    snr_1km_db: float | None = None
    rcs_confidence: float = 0.05


def parse_settings(table: Any, key: str, path: str | None) -> RadarSettings:
    """Validate a ``[sensors.<id>.radar]`` table."""
    cfg = build(RadarSettings, table, key, path)
    if cfg.snr_1km_db is not None and not -50.0 <= cfg.snr_1km_db <= 150.0:
        raise ConfigError("not a plausible radar constant: must lie in [-50, 150] dB", path=path,
                          key=f"{key}.snr_1km_db")
    if not 0.0 < cfg.rcs_confidence <= 1.0:
        raise ConfigError("must lie in (0, 1]", path=path, key=f"{key}.rcs_confidence")
    return cfg
