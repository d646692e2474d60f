"""``[sensors.<id>.remoteid]``: the Remote ID adapter's settings, validated where the file is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cuas.config.coerce import build
from cuas.errors import ConfigError


@dataclass(frozen=True, slots=True)
class RemoteIdSettings:
    """``[sensors.<id>.remoteid]``: the Remote ID receiver (metres, seconds)."""

    #: A pcap/pcapng capture file, ``iface:NAME`` (a monitor-mode Wi-Fi interface, Linux,
    #: needs CAP_NET_RAW) or ``wardragon://HOST:PORT`` (a WarDragon/DragonSync ZeroMQ feed).
    source: str | None = None
    #: Horizontal 1-sigma (m) when a message's accuracy class is "unknown".
    default_sigma_m: float = 50.0
    #: Height above the WGS-84 ellipsoid (m) of the ground the drones take off from, used when a
    #: message gives only a height above take-off or ground (default: the site origin's).
    ground_h: float | None = None
    #: A transmitter's decoding state (its ids, the operator) is forgotten after this silence.
    evict_after_s: float = 120.0
    #: At most one identity-only report (no valid position) per transmitter per this many s.
    identity_period_s: float = 1.0


def parse_settings(table: Any, key: str, path: str | None) -> RemoteIdSettings:
    """Validate a ``[sensors.<id>.remoteid]`` table."""
    cfg = build(RemoteIdSettings, table, key, path)
    if not 0.1 <= cfg.default_sigma_m <= 100_000.0:
        raise ConfigError("must lie in [0.1, 100000] m", path=path, key=f"{key}.default_sigma_m")
    if cfg.ground_h is not None and not -12_000.0 <= cfg.ground_h <= 10_000.0:
        raise ConfigError("not a plausible height (m)", path=path, key=f"{key}.ground_h")
    if not 1.0 <= cfg.evict_after_s <= 86_400.0:
        raise ConfigError("must lie in [1, 86400] s", path=path, key=f"{key}.evict_after_s")
    if not 0.0 <= cfg.identity_period_s <= 3_600.0:
        raise ConfigError("must lie in [0, 3600] s", path=path, key=f"{key}.identity_period_s")
    return cfg

