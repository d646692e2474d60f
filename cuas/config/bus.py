"""The message bus: ZeroMQ endpoints, their security, and endpoint/address checks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cuas.errors import ConfigError
from cuas.validation import brief


def is_host_port(text: str) -> bool:
    """True for ``HOST:PORT`` with a port in 0..65535 (``[v6addr]:PORT`` allowed)."""
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit() and int(port) <= 65535)


#: ``bus.security`` values: ``none`` (plain ZeroMQ, loopback and ipc only: development) and
#: ``curve`` (CurveZMQ encryption, the daemon accepting only listed client keys).
BUS_SECURITY = ("none", "curve")


def is_local_endpoint(endpoint: str) -> bool:
    """True for a ZeroMQ endpoint no other machine can reach: ``ipc://``, ``inproc://`` or
    ``tcp://`` on a loopback address (127.0.0.0/8, ``localhost``, ``::1``)."""
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = rest.split(";")[-1].rpartition(":")[0]  # "src;dst" connect form: the destination
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "localhost":
        return True
    try:
        # A name such as "127.evil.example" is not an address: only a parsed loopback counts.
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_plain_endpoint(security: str, endpoint: str, key: str) -> None:
    """Raise :class:`ConfigError` when plain ZeroMQ (``security = "none"``) would listen on or
    reach ``endpoint`` from another machine; ``key`` names the setting or option at fault."""
    if security == "none" and not is_local_endpoint(endpoint):
        raise ConfigError(
            f"plain ZeroMQ (security = \"none\") is only for loopback or ipc endpoints, not "
            f"{brief(endpoint)}; set bus.security = \"curve\" with keys from `cuas keys`",
            key=key)


@dataclass(frozen=True, slots=True)
class BusConfig:
    """ZeroMQ endpoints: the daemon binds both; sensors connect to `detections`.

    Key files are those ``cuas keys`` writes (ZeroMQ certificate files); a relative path is
    relative to the configuration file's directory.
    """

    detections: str = "tcp://127.0.0.1:5550"
    tracks: str = "tcp://127.0.0.1:5551"
    #: ``none`` or ``curve`` (see :data:`BUS_SECURITY`); ``none`` is refused on any endpoint
    #: another machine could reach.
    security: str = "none"
    #: Daemon: its secret key file (``<name>.key_secret``).
    server_secret_key: str | None = None
    #: Sensors and operators: the daemon's public key file (``<name>.key``).
    server_public_key: str | None = None
    #: Sensors and operators: their own secret key file.
    client_secret_key: str | None = None
    #: Daemon: directory of the public key files (``*.key``) of the clients it accepts; the
    #: default of both lists below.
    allowed_clients: str | None = None
    #: Daemon: directory of the public keys that may publish detections (sensors) on the
    #: detection endpoint (default: ``allowed_clients``).
    allowed_producers: str | None = None
    #: Daemon: directory of the public keys that may subscribe to the track endpoint
    #: (operators, exporters, recorders; default: ``allowed_clients``).
    allowed_consumers: str | None = None

    def __post_init__(self) -> None:
        if self.security not in BUS_SECURITY:
            raise ConfigError(f"unknown security {brief(self.security)} (known: "
                              f"{', '.join(BUS_SECURITY)})", key="bus.security")
        for name in ("detections", "tracks"):
            check_plain_endpoint(self.security, getattr(self, name), f"bus.{name}")

