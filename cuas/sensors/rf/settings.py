"""``[sensors.<id>.rf]``: the RF adapter's settings, validated where the file is read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from cuas.config.coerce import build, coerce
from cuas.errors import ConfigError

#: What the RF adapter publishes: ``links`` (control and video links only: what the tracker
#: treats as a drone's link) or ``all`` (every emitter, ISM devices too, each with its guess).
RF_PUBLISH = ("links", "all")


@dataclass(frozen=True, slots=True)
class RfSettings:
    """``[sensors.<id>.rf]``: the RTL-SDR adapter's receiver and scan plan (Hz, s, dB, degrees).

    The scan visits each band in hops of the usable width (``rate_hz`` less the cropped
    edges), ``dwell_s`` per hop after ``settle_s`` for the tuner to settle.
    """

    #: ``rtltcp://HOST:PORT``, ``rtlsdr://INDEX`` or a cu8 file (``NAME_<freq>_<rate>.cu8``).
    source: str | None = None
    rate_hz: float = 2_400_000.0
    #: Bands scanned, [[low_hz, high_hz], ...]; default EU868 and 433 MHz ISM.
    bands: tuple[tuple[float, float], ...] = ((863_000_000.0, 870_000_000.0),
                                              (433_050_000.0, 434_790_000.0))
    dwell_s: float = 0.2
    settle_s: float = 0.005
    #: Share of the hop cropped at each edge (the tuner's anti-alias roll-off), 0..0.4.
    crop: float = 0.1
    #: Tuner gain (dB, snapped to the tuner's steps); stepped down when over ``clip_max`` of
    #: a block's bytes sit at the rails. ``agc`` = true leaves the gain to the dongle.
    gain_db: float = 28.0
    agc: bool = False
    clip_max: float = 0.01
    ppm: int = 0
    #: dBm at the antenna that reaches full scale at 0 dB tuner gain: rssi_dbm = power (dBFS)
    #: + full_scale_dbm - gain. The default is nominal for an R820T dongle, not a calibration.
    full_scale_dbm: float = -10.0
    #: Bearing sector [az_from, az_to] (degrees true, clockwise) a directional antenna covers:
    #: detections then carry frame ``ae`` at the sector's centre; else frame ``none``.
    bearing: tuple[float, float] | None = None
    publish: str = "links"
    #: How long chirp packets count towards a band's hop statistics (s).
    hop_window_s: float = 5.0


def parse_settings(table: Any, key: str, path: str | None) -> RfSettings:
    """Validate a ``[sensors.<id>.rf]`` table (``bands`` a list of [low_hz, high_hz])."""
    bands = None
    if isinstance(table, dict) and "bands" in table:
        raw = table["bands"]
        if not isinstance(raw, list) or not raw or len(raw) > 64:
            raise ConfigError("expected a list of 1-64 [low_hz, high_hz] pairs", path=path,
                              key=f"{key}.bands")
        bands = tuple(coerce(b, tuple[float, float], f"{key}.bands[{i}]", path)
                      for i, b in enumerate(raw))
        for i, (lo, hi) in enumerate(bands):
            if not 24e6 <= lo < hi <= 1.8e9:
                raise ConfigError("must be [low_hz, high_hz] with 24 MHz <= low < high <= "
                                  "1.8 GHz (an RTL-SDR's range)", path=path,
                                  key=f"{key}.bands[{i}]")
        table = {k: v for k, v in table.items() if k != "bands"}
    cfg = build(RfSettings, table, key, path)
    if bands is not None:
        cfg = dataclasses.replace(cfg, bands=bands)
    checks = (("rate_hz", 225_001.0, 3_200_000.0), ("dwell_s", 0.01, 60.0),
              ("settle_s", 0.0, 1.0), ("crop", 0.0, 0.4), ("gain_db", 0.0, 50.0),
              ("clip_max", 0.0, 1.0), ("full_scale_dbm", -100.0, 30.0),
              ("hop_window_s", 0.1, 600.0))
    for name, lo_, hi_ in checks:
        if not lo_ <= getattr(cfg, name) <= hi_:
            raise ConfigError(f"must lie in [{lo_:g}, {hi_:g}]", path=path, key=f"{key}.{name}")
    if not -1000 <= cfg.ppm <= 1000:
        raise ConfigError("must lie in [-1000, 1000]", path=path, key=f"{key}.ppm")
    if cfg.publish not in RF_PUBLISH:
        raise ConfigError(f"unknown publish (known: {', '.join(RF_PUBLISH)})", path=path,
                          key=f"{key}.publish")
    if cfg.bearing is not None and not all(0 <= a <= 360 for a in cfg.bearing):
        raise ConfigError("must be [az_from, az_to] in degrees 0..360", path=path,
                          key=f"{key}.bearing")
    return cfg

