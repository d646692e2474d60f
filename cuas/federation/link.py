"""The NATS side shared by ``cuas bridge nats`` and ``cuas federate``: subjects, the connection
(credentials and TLS from ``[federation]``) and the JetStream stream of alerts and acks.

Subjects: ``cuas.<site>.trk`` (track snapshots, latest values: a lost one is replaced by the
next), ``cuas.<site>.status`` (heartbeats), ``cuas.<site>.alert`` and ``cuas.<site>.ack``
(durable, in the JetStream stream; each alert carries the ``Nats-Msg-Id`` header
``<site>.<seq>.<t>`` so a resent one is stored once). Payloads are the wire contract's msgpack.
"""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path
from typing import Any, Final

import nats
import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from cuas.config import FederationConfig
from cuas.errors import ConfigError

#: The kinds of message a site shares, the last token of its subjects.
KINDS: Final = ("trk", "alert", "status", "ack")
#: Seconds a resent alert is recognised as a duplicate by the stream (longer than any outage
#: the bridge buffers through would be better, but JetStream keeps the ids in memory).
DUPLICATE_WINDOW_S: Final = 600.0


def subject(site: str, kind: str) -> str:
    """The subject a site publishes ``kind`` on."""
    return f"cuas.{site}.{kind}"


def split_subject(subj: str) -> tuple[str, str] | None:
    """``(site, kind)`` of a ``cuas.<site>.<kind>`` subject, None for anything else."""
    parts = subj.split(".")
    if len(parts) != 3 or parts[0] != "cuas" or parts[2] not in KINDS or not parts[1]:
        return None
    return parts[1], parts[2]


def alert_msg_id(site: str, seq: int, t: float) -> str:
    """The de-duplication id of a site's alert (``t`` separates a restarted daemon's seqs)."""
    return f"{site}.{seq}.{t:.6f}"


def _tls(cfg: FederationConfig) -> ssl.SSLContext | None:
    if cfg.ca_file is None and cfg.cert_file is None and not any(
            u.startswith("tls://") for u in cfg.server_list):
        return None
    try:
        ctx = ssl.create_default_context(cafile=cfg.ca_file)
        if cfg.cert_file is not None and cfg.key_file is not None:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load TLS files: {exc}", key="federation.ca_file") from None
    return ctx


def connect_options(cfg: FederationConfig) -> dict[str, Any]:
    """Keyword arguments of :func:`nats.connect` for ``[federation]``: servers, credentials,
    TLS, and reconnecting forever (a site's link is expected to drop and come back)."""
    opts: dict[str, Any] = {
        "servers": list(cfg.server_list),
        "name": f"cuas-{cfg.site}",
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 5,
        "allow_reconnect": True,
    }
    if cfg.user is not None:
        opts["user"], opts["password"] = cfg.user, cfg.password
    if cfg.nkeys_seed_file is not None:
        if not Path(cfg.nkeys_seed_file).is_file():
            raise ConfigError("file not found", key="federation.nkeys_seed_file")
        opts["nkeys_seed"] = cfg.nkeys_seed_file
    tls = _tls(cfg)
    if tls is not None:
        opts["tls"] = tls
    return opts


async def connect(cfg: FederationConfig, **extra: Any) -> Client:
    """A NATS connection for ``[federation]``; ``extra`` overrides :func:`connect_options`."""
    opts = connect_options(cfg)
    opts.update(extra)
    return await nats.connect(**opts)


async def ensure_stream(js: JetStreamContext, name: str) -> None:
    """Create the alerts-and-acks stream if it does not exist (file storage, de-duplication)."""
    try:
        await js.stream_info(name)
        return
    except nats.js.errors.NotFoundError:
        pass
    await js.add_stream(StreamConfig(
        name=name, subjects=["cuas.*.alert", "cuas.*.ack"], storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S, discard=DiscardPolicy.OLD,
        max_age=7 * 86400.0, max_bytes=1 << 30))


async def close(nc: Client, timeout_s: int = 2) -> None:
    """Flush what was published (for at most ``timeout_s``) and close. Not ``drain()``: that
    waits up to 30 s for subscriptions while the link may be down."""
    with contextlib.suppress(nats.errors.Error, TimeoutError):
        await nc.flush(timeout=timeout_s)
    with contextlib.suppress(nats.errors.Error):
        await nc.close()
