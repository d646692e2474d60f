"""TLS for SAPIENT links: the fusion node's server context (client certificates required) and
the exporter's client context, from ``[sapient]`` ``tls_cert``, ``tls_key`` and ``tls_ca``."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

from cuas.config import Config
from cuas.errors import ConfigError

#: The ``[sapient]`` keys naming TLS files.
TLS_KEYS = ("tls_cert", "tls_key", "tls_ca")


def tls_path(config: Config, name: str) -> Path | None:
    """The file ``sapient.<name>`` names, relative to the configuration file's directory."""
    value = getattr(config.sapient, name)
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute() and config.path is not None:
        path = Path(config.path).parent / path
    return path


def check_files(config: Config) -> list[Path]:
    """The TLS files ``[sapient]`` names, each checked to be a readable file; raises
    :class:`ConfigError` naming the key otherwise."""
    found = []
    for name in TLS_KEYS:
        path = tls_path(config, name)
        if path is None:
            continue
        if not path.is_file():
            raise ConfigError(f"{str(path)!r} is not a file", path=config.path,
                              key=f"sapient.{name}")
        found.append(path)
    return found


def _load(ctx: ssl.SSLContext, config: Config) -> None:
    cert, key, ca = (tls_path(config, n) for n in TLS_KEYS)
    check_files(config)
    try:
        if cert is not None and key is not None:
            ctx.load_cert_chain(cert, key)
        if ca is not None:
            ctx.load_verify_locations(cafile=ca)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"cannot load the TLS files: {exc}", path=config.path,
                          key="sapient.tls_cert") from None


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` or a loopback address (a name is not resolved)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def server_context(config: Config, host: str) -> ssl.SSLContext | None:
    """The fusion node's TLS context: its certificate, and client certificates verified by
    ``tls_ca`` required of every module. None (plain TCP) only when no TLS file is configured
    and ``host`` is loopback; raises :class:`ConfigError` otherwise."""
    sap = config.sapient
    if sap.tls_cert is None and sap.tls_ca is None:
        if not is_loopback_host(host):
            raise ConfigError(
                f"a SAPIENT node listening on {host!r} needs TLS: set sapient.tls_cert, "
                "tls_key and tls_ca (modules must present certificates), or listen on loopback",
                path=config.path, key="sapient.listen")
        return None
    if sap.tls_cert is None or sap.tls_ca is None:
        raise ConfigError("a SAPIENT node over TLS needs tls_cert, tls_key and tls_ca (the CA "
                          "of the modules' client certificates)", path=config.path,
                          key="sapient.tls_ca" if sap.tls_ca is None else "sapient.tls_cert")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load(ctx, config)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(config: Config) -> ssl.SSLContext | None:
    """The exporter's TLS context (None: plain TCP, when no TLS file is configured): the higher
    node's certificate verified by ``tls_ca`` (else the system's CAs) and its host name; our
    certificate presented when ``tls_cert`` is set."""
    sap = config.sapient
    if sap.tls_cert is None and sap.tls_ca is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load(ctx, config)
    return ctx
