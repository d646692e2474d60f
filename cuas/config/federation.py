"""``[federation]``: sharing a site's tracks and alerts over NATS (``cuas bridge nats``) and the
regional picture of many sites (``cuas federate``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cuas.config.coerce import brief
from cuas.errors import ConfigError

#: A site or region name is one NATS subject token: no dots, spaces or wildcards.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: NATS server URL schemes nats-py accepts.
NATS_SCHEMES = ("nats", "tls")


@dataclass(frozen=True, slots=True)
class FederationConfig:
    """``[federation]`` (seconds; metres; file paths relative to the working directory)."""

    #: This site's name: the ``<site>`` of its subjects ``cuas.<site>.trk|alert|status|ack``.
    site: str = "site"
    #: Comma-separated NATS server URLs (``nats://HOST:4222``, ``tls://HOST:4222``): at a site,
    #: its local leaf node; for ``cuas federate``, the hub.
    servers: str = "nats://127.0.0.1:4222"
    #: Credentials: user and password, or an NKeys seed file (``*.nk``), not both.
    user: str | None = None
    password: str | None = None
    nkeys_seed_file: str | None = None
    #: TLS: the CA of the servers' certificates, and this client's certificate and key (PEM).
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    #: The JetStream stream holding every site's alerts and acknowledgements.
    stream: str = "CUAS_ALERTS"
    #: Alerts held by the bridge while the link is down (oldest dropped and counted beyond).
    max_buffered: int = 100_000
    #: ``cuas federate``: the name its regional picture is published under
    #: (``cuas.<region>.trk``, wire ``src``), and the regional frame's origin (deg, deg, m).
    region: str = "region"
    region_lat: float = 51.556
    region_lon: float = -0.2796
    region_h: float = 50.0
    #: Site messages whose time differs from the federate's clock by more than this are
    #: dropped as clock-skewed (s).
    max_skew_s: float = 10.0
    #: A site track not refreshed for this long leaves the regional picture (s).
    stale_s: float = 5.0
    #: Association gate: squared Mahalanobis distance (chi-square, 3 dof; 16.27 is 99.9 %).
    gate_chi2: float = 16.27
    #: Regional snapshots per second.
    rate_hz: float = 2.0
    #: Local ZeroMQ endpoint the regional picture is published on, in the track contract.
    publish: str = "tcp://127.0.0.1:5651"
    #: ``cuas federate``: the sites of this shard, comma-separated (default: every site).
    sites: str | None = None

    def __post_init__(self) -> None:
        for name in ("site", "region"):
            if not _TOKEN.match(getattr(self, name)):
                raise ConfigError(f"expected 1-64 letters, digits, '_' or '-', got "
                                  f"{brief(getattr(self, name))}", key=f"federation.{name}")
        for url in self.server_list:
            scheme, sep, rest = url.partition("://")
            if not sep or scheme not in NATS_SCHEMES or not rest:
                raise ConfigError(f"expected nats://HOST:PORT or tls://HOST:PORT, got "
                                  f"{brief(url)}", key="federation.servers")
        if (self.user is None) != (self.password is None):
            raise ConfigError("user and password go together", key="federation.password")
        if self.user is not None and self.nkeys_seed_file is not None:
            raise ConfigError("give user/password or an NKeys seed file, not both",
                              key="federation.nkeys_seed_file")
        if (self.cert_file is None) != (self.key_file is None):
            raise ConfigError("cert_file and key_file go together", key="federation.key_file")
        if self.sites is not None and not all(_TOKEN.match(x) for x in self.site_list):
            raise ConfigError("expected comma-separated site names", key="federation.sites")
        if not _TOKEN.match(self.stream):
            raise ConfigError("expected a JetStream stream name", key="federation.stream")
        if not 1 <= self.max_buffered <= 10_000_000:
            raise ConfigError("must lie in [1, 10000000]", key="federation.max_buffered")
        if not (-90.0 <= self.region_lat <= 90.0 and -180.0 <= self.region_lon <= 180.0):
            raise ConfigError("region_lat/region_lon out of range", key="federation.region_lat")
        for name, lo, hi in (("max_skew_s", 0.1, 3600.0), ("stale_s", 0.5, 600.0),
                             ("gate_chi2", 1.0, 1000.0), ("rate_hz", 0.1, 50.0)):
            if not lo <= getattr(self, name) <= hi:
                raise ConfigError(f"must lie in [{lo:g}, {hi:g}]", key=f"federation.{name}")

    @property
    def site_list(self) -> tuple[str, ...]:
        """The sites of this shard (empty: every site)."""
        if self.sites is None:
            return ()
        return tuple(x.strip() for x in self.sites.split(","))

    @property
    def server_list(self) -> tuple[str, ...]:
        """The NATS server URLs, in order."""
        return tuple(u.strip() for u in self.servers.split(",") if u.strip())
