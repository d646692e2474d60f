"""Settings of the track outputs: ``[cot]`` (Cursor on Target to TAK) and ``[sapient]``
(``cuas sapient serve`` and ``export``), and a sensor's ``[sensors.<id>.sapient]`` table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cuas.config.bus import is_host_port
from cuas.config.coerce import build
from cuas.errors import ConfigError
from cuas.validation import brief

#: ``cot.url`` schemes: UDP (multicast or unicast), a TAK server over TCP or TLS.
COT_SCHEMES = ("udp", "tcp", "tls")


@dataclass(frozen=True, slots=True)
class CotConfig:
    """``[cot]``: ``cuas export cot``, Cursor on Target to TAK (seconds; file paths)."""

    #: ``udp://239.2.3.1:6969`` (the TAK SA multicast group), ``tcp://HOST:8087`` or
    #: ``tls://HOST:8089`` (a TAK server).
    url: str = "udp://239.2.3.1:6969"
    #: Multicast hop limit (1: this network only) and the IPv4 address of the interface.
    ttl: int = 1
    interface: str | None = None
    #: TLS: the CA that signed the server's certificate (default: the system's), and this
    #: client's certificate and key (PEM) when the server asks for one.
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    #: Seconds between updates of an unchanged track, and between node announcements.
    period_s: float = 1.0
    node_period_s: float = 30.0
    #: Send birds and clutter too (normally only UAVs and manned aircraft).
    send_all: bool = False

    def __post_init__(self) -> None:
        scheme, sep, rest = self.url.partition("://")
        host, _, port = rest.rpartition(":")
        if not sep or scheme not in COT_SCHEMES or not host or not port.isdigit() \
                or not 0 < int(port) < 65536:
            raise ConfigError(f"expected udp://, tcp:// or tls://HOST:PORT, got "
                              f"{brief(self.url)}", key="cot.url")
        if not 0 <= self.ttl <= 255:
            raise ConfigError("must lie in [0, 255]", key="cot.ttl")
        if not 0.05 <= self.period_s <= 3600.0:
            raise ConfigError("must lie in [0.05, 3600] s", key="cot.period_s")
        if not 1.0 <= self.node_period_s <= 3600.0:
            raise ConfigError("must lie in [1, 3600] s", key="cot.node_period_s")


@dataclass(frozen=True, slots=True)
class SapientConfig:
    """``[sapient]``: ``cuas sapient serve`` (a SAPIENT fusion node) and ``cuas sapient export``
    (cuas reporting upward). Lengths in metres, angles in degrees."""

    #: ``HOST:PORT`` that ``cuas sapient serve`` listens on for sensor modules.
    listen: str = "127.0.0.1:5020"
    #: ``HOST:PORT`` of the higher fusion node that ``cuas sapient export`` reports to.
    export_to: str | None = None
    #: Name of cuas as a SAPIENT node; its node id is a UUID derived from it unless given.
    node_name: str = "cuas"
    node_id: str | None = None
    #: 1-sigma used when a report gives no error: horizontal position (m), angles (degrees),
    #: and height (m) when a location has no z at all (it is then the site's height).
    default_sigma_m: float = 25.0
    default_angle_sigma_deg: float = 2.0
    unknown_height_sigma_m: float = 300.0
    #: Largest SAPIENT message accepted (bytes).
    max_message_bytes: int = 1 << 20
    #: Export tentative tracks too (default: confirmed and coasting ones only).
    export_tentative: bool = False
    #: Seconds between the StatusReports ``cuas sapient export`` sends upward.
    status_interval_s: float = 5.0
    #: TLS (PEM files; relative paths are relative to the configuration file). ``tls_cert`` and
    #: ``tls_key``: this node's certificate chain and key (the server certificate of ``serve``,
    #: the client certificate of ``export``). ``tls_ca``: the CA certificates that verify the
    #: peer (the modules' client certificates, which ``serve`` then requires; the higher node's
    #: server certificate). ``serve`` refuses a non-loopback ``listen`` without all three.
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None

    def __post_init__(self) -> None:
        for name in ("default_sigma_m", "unknown_height_sigma_m"):
            if not 0.1 <= getattr(self, name) <= 100_000.0:
                raise ConfigError("must lie in [0.1, 100000] m", key=f"sapient.{name}")
        if not 0.01 <= self.default_angle_sigma_deg <= 90.0:
            raise ConfigError("must lie in [0.01, 90] degrees",
                              key="sapient.default_angle_sigma_deg")
        if not 64 <= self.max_message_bytes <= 64 << 20:
            raise ConfigError("must lie in [64, 67108864] bytes", key="sapient.max_message_bytes")
        if not 0.1 <= self.status_interval_s <= 3600.0:
            raise ConfigError("must lie in [0.1, 3600] s", key="sapient.status_interval_s")
        if self.node_id is not None:
            import uuid

            try:
                uuid.UUID(self.node_id)
            except ValueError:
                raise ConfigError("must be a UUID", key="sapient.node_id") from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("give both tls_cert and tls_key, or neither",
                              key="sapient.tls_key" if self.tls_key is None else "sapient.tls_cert")
        for name in ("listen", "export_to"):
            value = getattr(self, name)
            if value is not None and not is_host_port(value):
                raise ConfigError(f"expected HOST:PORT, got {brief(value)}",
                                  key=f"sapient.{name}")


@dataclass(frozen=True, slots=True)
class SapientNodeConfig:
    """``[sensors.<id>.sapient]``: a SAPIENT sensor module (ASM) known to the site; its
    detections are published as sensor ``<id>`` and its range-bearing reports measured from the
    sensor's ``origin`` when its StatusReport gives no node location."""

    #: The module's SAPIENT node id (a UUID).
    node_id: str = ""
    #: Degrees added to the module's azimuths to give true-north azimuths, for modules that
    #: report against magnetic north (the declination) or their platform's heading.
    north_offset_deg: float | None = None
    #: UTM zone (e.g. ``30U``) for UTM locations that do not name their own.
    utm_zone: str | None = None


def parse_sapient_node(table: Any, key: str, path: str | None) -> SapientNodeConfig:
    """Validate a ``[sensors.<id>.sapient]`` table."""
    import uuid

    cfg = build(SapientNodeConfig, table, key, path)
    try:
        uuid.UUID(cfg.node_id)
    except ValueError:
        raise ConfigError("must be the module's node id (a UUID)", path=path,
                          key=f"{key}.node_id") from None
    if cfg.north_offset_deg is not None and not -360.0 <= cfg.north_offset_deg <= 360.0:
        raise ConfigError("must lie in [-360, 360] degrees", path=path,
                          key=f"{key}.north_offset_deg")
    return cfg

