"""``[web]``: the operator's browser console (``cuas web``): where it listens, its accounts,
audit log, TLS, basemap and the bounds of what it keeps (seconds; file paths relative to the
configuration file's directory)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cuas.config.bus import is_host_port
from cuas.errors import ConfigError
from cuas.validation import brief


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class WebConfig:
    """``[web]``: the console. It binds loopback unless TLS and accounts are configured."""

    #: ``HOST:PORT`` to listen on; anything but loopback needs ``tls_cert`` and ``tls_key``.
    listen: str = "127.0.0.1:8080"
    #: The accounts (JSON, argon2 hashes) that ``cuas web user add`` writes.
    users_file: str = "web-users.json"
    #: The append-only, hash-chained audit log (JSON Lines): logins, acknowledgements, users.
    audit_log: str = "web-audit.jsonl"
    #: TLS: this server's certificate chain and key (PEM).
    tls_cert: str | None = None
    tls_key: str | None = None
    #: An offline basemap: a PMTiles file served to the browser with HTTP range requests.
    basemap: str | None = None
    #: A raster tile URL template (``https://host/{z}/{x}/{y}.png``), only when named here.
    tile_url: str | None = None
    #: Attribution shown for the basemap or tiles.
    attribution: str = ""
    #: Seconds of trail drawn behind each track.
    trail_s: float = 60.0
    #: Seconds of picture kept for the look-back slider, one frame every ``history_period_s``.
    history_s: float = 900.0
    history_period_s: float = 1.0
    #: A session ends after this many idle seconds, and after ``session_max_s`` in any case.
    session_idle_s: float = 1800.0
    session_max_s: float = 43_200.0
    #: Failed logins allowed per ``login_window_s`` per client address and per user name.
    login_attempts: int = 5
    login_window_s: float = 60.0
    #: Browsers connected at once (further WebSocket upgrades are refused).
    max_clients: int = 32
    #: Acknowledgements are published on this endpoint (default: ``bus.detections``).
    ack_endpoint: str | None = None

    def __post_init__(self) -> None:
        if not is_host_port(self.listen):
            raise ConfigError(f"expected HOST:PORT, got {brief(self.listen)}", key="web.listen")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("give both tls_cert and tls_key, or neither",
                              key="web.tls_key" if self.tls_key is None else "web.tls_cert")
        if self.tile_url is not None and not (
                self.tile_url.startswith(("http://", "https://")) and "{z}" in self.tile_url):
            raise ConfigError("expected an http(s) URL template with {z}, {x} and {y}",
                              key="web.tile_url")
        for name, lo, hi in (("trail_s", 0.0, 3600.0), ("history_s", 0.0, 86_400.0),
                             ("history_period_s", 0.1, 60.0), ("session_idle_s", 10.0, 86_400.0),
                             ("session_max_s", 10.0, 30 * 86_400.0),
                             ("login_window_s", 1.0, 86_400.0)):
            if not lo <= getattr(self, name) <= hi:
                raise ConfigError(f"must lie in [{lo:g}, {hi:g}] s", key=f"web.{name}")
        if not 1 <= self.login_attempts <= 1000:
            raise ConfigError("must lie in [1, 1000]", key="web.login_attempts")
        if not 1 <= self.max_clients <= 10_000:
            raise ConfigError("must lie in [1, 10000]", key="web.max_clients")

    @property
    def tls(self) -> bool:
        """Whether the console serves HTTPS."""
        return self.tls_cert is not None

    @property
    def host_port(self) -> tuple[str, int]:
        """``listen`` split into host (brackets removed) and port."""
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def loopback(self) -> bool:
        """Whether ``listen`` is reachable from this machine only."""
        return is_loopback_host(self.host_port[0])
