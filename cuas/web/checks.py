"""``cuas check`` for ``[web]``: opens the files the console would open, so a bad certificate,
a key that is not the certificate's, a key others can read or a broken accounts file is found
before the console is started (or refuses to start at 3 a.m.)."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

from cuas.config import Config
from cuas.errors import AccountError, AuditError, ConfigError


def resolve(config: Config, value: str) -> Path:
    """A path from ``[web]``: relative ones are relative to the configuration file."""
    p = Path(value)
    if p.is_absolute() or config.path is None:
        return p
    return Path(config.path).resolve().parent / p


def _readable(config: Config, key: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise ConfigError(f"{str(path)!r} is not a file", path=config.path, key=key) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc.strerror}", path=config.path,
                          key=key) from None


def _private(config: Config, key: str, path: Path, what: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{str(path)!r} ({what}) is readable or writable by group or others "
                          f"(mode {mode:04o}); chmod 600 it", path=config.path, key=key)


def check_tls(config: Config) -> str | None:
    """Open ``web.tls_cert`` and ``web.tls_key``: both readable, the certificate a PEM
    certificate, the key private to its owner and the certificate's own key. Raises
    :class:`ConfigError` naming the key at fault; a note, or None without TLS."""
    w = config.web
    if w.tls_cert is None or w.tls_key is None:
        return None
    cert, key = resolve(config, w.tls_cert), resolve(config, w.tls_key)
    cert_pem = _readable(config, "web.tls_cert", cert)
    key_pem = _readable(config, "web.tls_key", key)
    if b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        raise ConfigError(f"{str(cert)!r} holds no PEM certificate", path=config.path,
                          key="web.tls_cert")
    if b"PRIVATE KEY-----" not in key_pem:
        raise ConfigError(f"{str(key)!r} holds no PEM private key", path=config.path,
                          key="web.tls_key")
    _private(config, "web.tls_key", key, "the TLS key")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(f"{str(key)!r} is not the key of the certificate {str(cert)!r}",
                              path=config.path, key="web.tls_key") from None
        raise ConfigError(f"cannot load the certificate and key: {exc}", path=config.path,
                          key="web.tls_cert") from None
    return "console TLS certificate and key ok"


def check_users(config: Config) -> tuple[str, int]:
    """Read ``web.users_file`` as the console does (a missing file is no accounts; a present
    one must parse and be private to its owner: it holds the password hashes). Raises
    :class:`ConfigError`; a note and the number of accounts."""
    from cuas.web.accounts import Accounts

    path = resolve(config, config.web.users_file)
    if not path.exists():
        return "no console accounts yet (cuas web user add)", 0
    _readable(config, "web.users_file", path)
    _private(config, "web.users_file", path, "the console's password hashes")
    try:
        accounts = Accounts(path)
    except AccountError as exc:
        raise ConfigError(str(exc), path=config.path, key="web.users_file") from None
    return f"{len(accounts)} console account{'s' if len(accounts) != 1 else ''}", len(accounts)


def check_files(config: Config) -> list[str]:
    """Everything ``[web]`` names: TLS files, accounts, the audit log's chain (when it exists),
    the basemap, and the bind rule (a non-loopback ``listen`` needs TLS and an account).
    Raises :class:`ConfigError` naming the key at fault; else short notes."""
    from cuas.web import audit

    w = config.web
    notes = []
    tls = check_tls(config)
    if tls:
        notes.append(tls)
    users, count = check_users(config)
    notes.append(users)
    if not w.loopback and (tls is None or count == 0):
        raise ConfigError(f"the console binds {w.listen} only with TLS (tls_cert, tls_key) "
                          "and at least one account; without them it listens on loopback only",
                          path=config.path, key="web.listen")
    log = resolve(config, w.audit_log)
    if log.exists():
        try:
            n = audit.verify(log)
        except AuditError as exc:
            raise ConfigError(str(exc), path=config.path, key="web.audit_log") from None
        notes.append(f"console audit log: {n} records, chain intact")
    if w.basemap is not None:
        basemap = resolve(config, w.basemap)
        if not basemap.is_file():
            raise ConfigError(f"{str(basemap)!r} is not a file", path=config.path,
                              key="web.basemap")
    return notes
