"""``[sensors.<id>.adsb]``: the ADS-B adapter's settings, validated where the file is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cuas.config.coerce import build
from cuas.errors import ConfigError
from cuas.validation import brief

#: Formats the ADS-B adapter reads (``auto``: detected from the first bytes).
ADSB_FORMATS = ("auto", "beast", "sbs", "avr")


@dataclass(frozen=True, slots=True)
class AdsbSettings:
    """``[sensors.<id>.adsb]``: the ADS-B adapter's feed and decoding (degrees, metres, s)."""

    #: ``tcp://HOST:PORT`` of a dump1090/readsb feed (Beast 30005, SBS 30003, AVR 30002) or a
    #: capture file.
    source: str | None = None
    format: str = "auto"
    #: Zone of the SBS feed's time stamps (SBS-1 sends local time without a zone): an IANA
    #: name such as ``Europe/Moscow``, or ``UTC``.
    sbs_timezone: str = "UTC"
    #: UTC time (s) of the first frame of a Beast capture file (default: a 10-digit Unix time
    #: in the file name, else the file's modification time).
    start_time: float | None = None
    #: Receiver position [lat, lon]: a CPR reference for an aircraft's first message, used only
    #: when given (never a default that may be far away), and only for solutions within
    #: ``reference_range_km`` of it.
    reference: tuple[float, float] | None = None
    reference_range_km: float = 300.0
    #: Per-aircraft decoding state is forgotten after this much silence (s).
    evict_after_s: float = 60.0
    #: Horizontal 1-sigma (m) when a message gives no accuracy (NACp/NIC/NUCp), and for SBS.
    default_sigma_m: float = 100.0


def parse_settings(table: Any, key: str, path: str | None) -> AdsbSettings:
    """Validate a ``[sensors.<id>.adsb]`` table."""
    cfg = build(AdsbSettings, table, key, path)
    if cfg.format not in ADSB_FORMATS:
        raise ConfigError(f"unknown format (known: {', '.join(ADSB_FORMATS)})", path=path,
                          key=f"{key}.format")
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(cfg.sbs_timezone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ConfigError(f"unknown time zone {brief(cfg.sbs_timezone)}", path=path,
                          key=f"{key}.sbs_timezone") from None
    if cfg.reference is not None and not (-90 <= cfg.reference[0] <= 90
                                          and -180 <= cfg.reference[1] <= 180):
        raise ConfigError("must be [lat, lon] in degrees", path=path, key=f"{key}.reference")
    # CPR local decoding is unambiguous only within half a latitude zone (3 degrees, ~333 km).
    if not 0 < cfg.reference_range_km <= 300.0:
        raise ConfigError("must lie in (0, 300] km", path=path, key=f"{key}.reference_range_km")
    if not 1.0 <= cfg.evict_after_s <= 86_400.0:
        raise ConfigError("must lie in [1, 86400] s", path=path, key=f"{key}.evict_after_s")
    if not 1.0 <= cfg.default_sigma_m <= 100_000.0:
        raise ConfigError("must lie in [1, 100000] m", path=path, key=f"{key}.default_sigma_m")
    if cfg.start_time is not None and not 946_684_800.0 <= cfg.start_time < 4_102_444_800.0:
        raise ConfigError("must be UTC seconds within 2000..2100", path=path,
                          key=f"{key}.start_time")
    return cfg

