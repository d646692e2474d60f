"""The message bus: ZeroMQ endpoints, their security, and endpoint/address checks."""

from __future__ import annotations

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
    host = rest.rsplit(":", 1)[0].split(";")[-1]  # "src;dst" connect form: the destination
    host = host.strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


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
    #: Daemon: directory of the public key files (``*.key``) of the clients it accepts.
    allowed_clients: str | None = None

    def __post_init__(self) -> None:
        if self.security not in BUS_SECURITY:
            raise ConfigError(f"unknown security {brief(self.security)} (known: "
                              f"{', '.join(BUS_SECURITY)})", key="bus.security")
        if self.security == "none":
            for name in ("detections", "tracks"):
                if not is_local_endpoint(getattr(self, name)):
                    raise ConfigError(
                        "plain ZeroMQ (security = \"none\") is only for loopback or ipc "
                        "endpoints; set bus.security = \"curve\" with keys from `cuas keys`",
                        key=f"bus.{name}")

