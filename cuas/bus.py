"""The ZeroMQ bus: endpoints, sockets and the two-frame message form of the wire contract.

Every message is two frames: the topic (UTF-8: ``det.<sensor>``, ``trk``, ``alert``,
``status.<component>``) and the msgpack payload. The daemon binds both endpoints; sensors and
operators connect, so either side can restart and ZeroMQ reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import stat
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import zmq
import zmq.asyncio
import zmq.auth
from zmq.auth.asyncio import AsyncioAuthenticator
from zmq.utils.monitor import parse_monitor_message

from cuas import wire
from cuas.config import Config
from cuas.config.bus import check_plain_endpoint
from cuas.errors import ConfigError, DecodeError

log = logging.getLogger(__name__)

#: ZeroMQ drops (and disconnects) a peer sending a frame larger than this, so a flood of
#: giant messages cannot exhaust memory; anything between the contract's limit and this is
#: received, then dropped as oversized and counted.
MAX_FRAME_BYTES: Final = 4 * wire.MAX_PAYLOAD_BYTES
#: Messages ZeroMQ may queue per socket before it drops (PUB) or stops reading (SUB).
DEFAULT_HWM: Final = 100_000


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the daemon listens for detections and publishes tracks (ZeroMQ URLs)."""

    detections: str
    tracks: str


def endpoints(config: Config, detections: str | None = None, tracks: str | None = None) -> Endpoints:
    """The configured endpoints, each overridden by its command-line value when given.

    An override obeys the configuration's rule for plain ZeroMQ (loopback or ipc only under
    ``bus.security = "none"``): raises :class:`ConfigError` naming the option otherwise.
    """
    for value, option in ((detections, "--det-endpoint"), (tracks, "--trk-endpoint")):
        if value:
            check_plain_endpoint(config.bus.security, value, option)
    return Endpoints(detections or config.bus.detections, tracks or config.bus.tracks)


def endpoint_override(config: Config, value: str | None, option: str, *,
                      tracks: bool = False) -> str:
    """The detection (or, with ``tracks``, track) endpoint: ``value`` from the command-line
    ``option`` when given, checked like the configuration's (loopback or ipc only under
    ``bus.security = "none"``: :class:`ConfigError` naming ``option`` otherwise)."""
    if value:
        check_plain_endpoint(config.bus.security, value, option)
        return value
    return config.bus.tracks if tracks else config.bus.detections


def frames(msg: wire.Message) -> list[bytes]:
    """The two frames of a message on the bus: topic, msgpack payload."""
    return [wire.topic_for(msg).encode(), wire.encode(msg)]


def parse_frames(parts: Sequence[bytes]) -> tuple[str, wire.Message]:
    """Topic and validated message from received frames; raises :class:`DecodeError`."""
    if len(parts) != 2:
        raise DecodeError(f"expected 2 frames (topic, payload), got {len(parts)}")
    try:
        topic = bytes(parts[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("topic is not UTF-8", key="topic", data=bytes(parts[0][:64])) from None
    return topic, wire.decode(bytes(parts[1]))


def pub_socket(ctx: zmq.asyncio.Context, endpoint: str, *, bind: bool,
               hwm: int = DEFAULT_HWM, security: CurveKeys | None = None) -> zmq.asyncio.Socket:
    """A PUB socket bound to or connected to ``endpoint`` (CURVE server when bound, client when
    connected, if ``security`` is given)."""
    sock = ctx.socket(zmq.PUB)
    secure(sock, security, server=bind)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.LINGER, 1000)
    (sock.bind if bind else sock.connect)(endpoint)
    return sock


def sub_socket(ctx: zmq.asyncio.Context, endpoint: str, *, bind: bool,
               topics: Sequence[str] = ("",), hwm: int = DEFAULT_HWM,
               security: CurveKeys | None = None) -> zmq.asyncio.Socket:
    """A SUB socket bound to or connected to ``endpoint``, subscribed to topic prefixes (CURVE
    server when bound, client when connected, if ``security`` is given)."""
    sock = ctx.socket(zmq.SUB)
    secure(sock, security, server=bind)
    sock.setsockopt(zmq.RCVHWM, hwm)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
    sock.setsockopt(zmq.LINGER, 0)
    for topic in topics:
        sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
    (sock.bind if bind else sock.connect)(endpoint)
    return sock


def xpub_socket(ctx: zmq.asyncio.Context, endpoint: str, *, hwm: int = DEFAULT_HWM,
                security: CurveKeys | None = None) -> zmq.asyncio.Socket:
    """A publisher connected to ``endpoint`` that can see subscriptions (XPUB), so that it can
    wait for its subscriber before sending: what a PUB sends before the subscription arrives
    is silently lost (ZeroMQ's slow-joiner effect), and a replay must lose nothing."""
    sock = ctx.socket(zmq.XPUB)
    secure(sock, security, server=False)
    # Pass every subscription up, repeats included: after the subscriber restarts, its
    # fresh subscription is the only sign that it is back.
    sock.setsockopt(zmq.XPUB_VERBOSE, 1)
    sock.setsockopt(zmq.SNDHWM, hwm)
    sock.setsockopt(zmq.LINGER, 5000)
    sock.connect(endpoint)
    return sock


async def wait_for_subscriber(sock: zmq.asyncio.Socket, topic: str, timeout_s: float) -> bool:
    """Wait until a subscription covering ``topic`` reaches an XPUB socket; False on timeout."""
    deadline = time.monotonic() + timeout_s
    wanted = topic.encode()
    while (left := deadline - time.monotonic()) > 0:
        if not await sock.poll(timeout=max(1, int(left * 1000))):
            break
        msg = await sock.recv()
        if msg[:1] == b"\x01" and wanted.startswith(msg[1:]):
            return True
    return False


# ---------------------------------------------------------------------------- CURVE security


#: The ZAP domains of bound CURVE sockets: a bound SUB hears producers (sensors publishing
#: detections), a bound PUB serves consumers (operators, exporters, recorders); each domain has
#: its own allow list, so a consumer's key cannot publish detections.
PRODUCERS_DOMAIN: Final = "cuas.producers"
CONSUMERS_DOMAIN: Final = "cuas.consumers"


@dataclass(frozen=True, slots=True)
class CurveKeys:
    """CurveZMQ keys of one process, Z85-encoded (40 characters each), from ``[bus]``.

    The daemon needs its own pair (``server_public``, ``server_secret``) and the allow list;
    a sensor or operator needs the daemon's public key and its own pair.
    """

    server_public: bytes | None = None
    server_secret: bytes | None = None
    client_public: bytes | None = None
    client_secret: bytes | None = None
    #: Directory of the public key files of the producers (sensors) a bound SUB accepts.
    allowed_producers: Path | None = None
    #: Directory of the public key files of the consumers a bound PUB accepts.
    allowed_consumers: Path | None = None

    @property
    def allowed_clients(self) -> Path | None:
        """The producers' directory when both allow lists are set, else None (a server cannot
        run without both)."""
        if self.allowed_producers is None or self.allowed_consumers is None:
            return None
        return self.allowed_producers


def _key_path(config: Config, value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute() and config.path is not None:
        path = Path(config.path).parent / path
    return path


def _load_cert(config: Config, field: str, secret: bool) -> tuple[bytes, bytes | None]:
    value = getattr(config.bus, field)
    path = _key_path(config, value)
    try:
        public, secret_key = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read key file {str(path)!r}: {exc}", path=config.path,
                          key=f"bus.{field}") from None
    if secret and secret_key is None:
        raise ConfigError(f"{str(path)!r} holds no secret key (use the .key_secret file)",
                          path=config.path, key=f"bus.{field}")
    if secret:
        check_secret_file(path, config.path, f"bus.{field}")
    return public, secret_key


def check_secret_file(path: Path, config_path: str | None, key: str) -> None:
    """Raise :class:`ConfigError` when a secret key file is readable or writable by its group
    or by others (``cuas keys`` writes them 0600): a leaked secret key is a forged sensor."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read key file {str(path)!r}: {exc}", path=config_path,
                          key=key) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"secret key file {str(path)!r} is accessible by group or others "
                          f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}`",
                          path=config_path, key=key)


def security(config: Config) -> CurveKeys | None:
    """The CURVE keys ``[bus]`` names (None when ``security = "none"``); raises
    :class:`ConfigError` naming the key when a file cannot be read or a needed one is missing."""
    bus = config.bus
    if bus.security == "none":
        return None
    if not (bus.server_secret_key or bus.server_public_key):
        raise ConfigError('security = "curve" needs server_public_key (clients) or '
                          'server_secret_key (the daemon)', path=config.path,
                          key="bus.server_public_key")
    server_public = server_secret = client_public = client_secret = None
    if bus.server_secret_key:
        server_public, server_secret = _load_cert(config, "server_secret_key", secret=True)
    if bus.server_public_key:
        public, _ = _load_cert(config, "server_public_key", secret=False)
        if server_public is not None and public != server_public:
            raise ConfigError("server_public_key does not match server_secret_key",
                              path=config.path, key="bus.server_public_key")
        server_public = public
    if bus.client_secret_key:
        client_public, client_secret = _load_cert(config, "client_secret_key", secret=True)
    lists: list[Path | None] = []
    for field in ("allowed_producers", "allowed_consumers"):
        # Each list defaults to allowed_clients (one directory for everyone, as before).
        name = field if getattr(bus, field) else "allowed_clients"
        value = getattr(bus, name)
        allowed = _key_path(config, value) if value else None
        if allowed is not None and not allowed.is_dir():
            raise ConfigError(f"{str(allowed)!r} is not a directory of public key files",
                              path=config.path, key=f"bus.{name}")
        lists.append(allowed)
    return CurveKeys(server_public, server_secret, client_public, client_secret, *lists)


def secure(sock: zmq.Socket, keys: CurveKeys | None, *, server: bool) -> None:
    """Make ``sock`` a CURVE server (the daemon's bound sockets) or client; no-op for None.

    Must be called before bind/connect. A server's ZAP domain follows its type: a SUB hears
    producers, anything else serves consumers (:data:`PRODUCERS_DOMAIN`). Raises
    :class:`ConfigError` when the role's keys are missing.
    """
    if keys is None:
        return
    if server:
        if keys.server_secret is None or keys.server_public is None:
            raise ConfigError("a bound CURVE socket needs the daemon's secret key",
                              key="bus.server_secret_key")
        sock.curve_server = True
        sock.curve_secretkey = keys.server_secret
        sock.curve_publickey = keys.server_public
        producers = sock.type in (zmq.SUB, zmq.XSUB, zmq.PULL)
        sock.zap_domain = (PRODUCERS_DOMAIN if producers else CONSUMERS_DOMAIN).encode()
        # Without a ZAP handler libzmq would accept every client key; enforced, a server bound
        # without the authenticator (start_authenticator) refuses everyone instead.
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
    else:
        if keys.server_public is None:
            raise ConfigError("a CURVE client needs the daemon's public key",
                              key="bus.server_public_key")
        if keys.client_secret is None or keys.client_public is None:
            raise ConfigError("a CURVE client needs its own secret key",
                              key="bus.client_secret_key")
        sock.curve_serverkey = keys.server_public
        sock.curve_publickey = keys.client_public
        sock.curve_secretkey = keys.client_secret


class AllowList:
    """The client public keys a bound socket accepts (every ``*.key`` file in a directory), as
    a ZAP credentials provider; a refused key is logged (once a minute per key)."""

    def __init__(self, directory: Path, role: str = "client") -> None:
        self.directory = directory
        self.role = role
        self.keys: frozenset[bytes] = frozenset()
        self._logged: dict[bytes, float] = {}
        self.reload()

    def reload(self) -> int:
        """(Re)read the directory; returns the number of keys. Unreadable files are skipped; a
        directory that cannot be read leaves nobody accepted."""
        keys = set()
        try:
            paths = sorted(self.directory.glob("*.key"))
        except OSError as exc:
            log.error("cannot read the %s allow list %s: %s", self.role, self.directory, exc)
            paths = []
        for path in paths:
            try:
                public, _ = zmq.auth.load_certificate(path)
            except (OSError, ValueError) as exc:
                log.warning("skipping unreadable public key file %s: %s", path, exc)
                continue
            keys.add(public)
        self.keys = frozenset(keys)
        self._logged.clear()
        return len(self.keys)

    def callback(self, domain: str, client_key: bytes) -> bool:
        """ZAP check of one handshake: True when ``client_key`` (Z85) is listed."""
        if client_key in self.keys:
            return True
        now = time.monotonic()
        if now - self._logged.get(client_key, -1e9) >= 60.0 and len(self._logged) < 10_000:
            self._logged[client_key] = now
            log.warning("refused a CURVE %s with public key %s (not in %s)", self.role,
                        client_key.decode(errors="replace"), self.directory)
        return False


class BusAuth:
    """ZAP on one context: producers and consumers each checked against their own allow list,
    both re-read on SIGHUP (or :meth:`reload`), so a revoked key is refused at its next
    handshake without a restart. Start it before binding; :meth:`stop` it at the end."""

    def __init__(self, ctx: zmq.asyncio.Context, keys: CurveKeys) -> None:
        if keys.allowed_producers is None or keys.allowed_consumers is None:
            raise ConfigError("a CURVE server needs allowed_clients (or both allowed_producers "
                              "and allowed_consumers), the directories of the client public "
                              "keys it accepts", key="bus.allowed_clients")
        self.producers = AllowList(keys.allowed_producers, "producer")
        self.consumers = AllowList(keys.allowed_consumers, "consumer")
        for allow in (self.producers, self.consumers):
            if not allow.keys:
                log.warning("no public keys in %s: every %s will be refused", allow.directory,
                            allow.role)
        self._auth = AsyncioAuthenticator(ctx, log=logging.getLogger(__name__ + ".zap"))
        self._auth.start()
        self._auth.configure_curve_callback(domain=PRODUCERS_DOMAIN,
                                            credentials_provider=self.producers)
        self._auth.configure_curve_callback(domain=CONSUMERS_DOMAIN,
                                            credentials_provider=self.consumers)
        self._loop: asyncio.AbstractEventLoop | None = None
        try:
            loop = asyncio.get_running_loop()
            if threading.current_thread() is threading.main_thread():
                loop.add_signal_handler(signal.SIGHUP, self.reload)
                self._loop = loop
        except (RuntimeError, NotImplementedError, ValueError):
            pass  # no loop, or not the main thread: reload() by hand only

    def reload(self) -> None:
        """Re-read both allow lists (what SIGHUP does); logs the new counts."""
        n_prod, n_cons = self.producers.reload(), self.consumers.reload()
        log.info("reloaded the allow lists: %d producer keys (%s), %d consumer keys (%s)",
                 n_prod, self.producers.directory, n_cons, self.consumers.directory)

    def stop(self) -> None:
        """Stop answering ZAP requests and give SIGHUP back."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_signal_handler(signal.SIGHUP)
            self._loop = None
        self._auth.stop()


def start_authenticator(ctx: zmq.asyncio.Context, keys: CurveKeys) -> BusAuth:
    """Start ZAP on ``ctx`` (before binding) accepting only the listed client keys; the caller
    stops it. Without both allow lists nobody could be accepted: raises :class:`ConfigError`."""
    return BusAuth(ctx, keys)


#: Monitor events that mean a peer failed the security handshake.
_REJECTIONS: Final[dict[int, str]] = {
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "authentication refused",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "protocol error",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake failed",
}


class HandshakeMonitor:
    """Counts and logs rejected handshakes on a socket (ZeroMQ drops them silently), and, when
    ``disconnects`` names a counter, closed peer connections too.

    ``counters[name]`` grows by one per rejection (``rejections`` False: none are watched);
    ``counters[disconnects]`` by one per closed connection. A peer whose message is over
    :data:`MAX_FRAME_BYTES` is cut off by ZeroMQ without a word to the application: the
    closed connection is the only trace of it. :meth:`run` reads the monitor until cancelled.
    """

    def __init__(self, sock: zmq.asyncio.Socket, counters: Counter[str],
                 name: str = "auth_rejected", *, rejections: bool = True,
                 disconnects: str | None = None) -> None:
        events = 0
        for event in _REJECTIONS if rejections else ():
            events |= event
        if disconnects is not None:
            events |= zmq.EVENT_DISCONNECTED
        self._mon = sock.get_monitor_socket(events)
        self._sock = sock
        self.counters = counters
        self.name = name
        self.disconnects = disconnects
        self._last_log = -1e9
        self._unlogged = 0

    async def run(self) -> None:
        """Read monitor events until cancelled; closes the monitor socket at the end."""
        try:
            while True:
                parts = await self._mon.recv_multipart()
                try:
                    event = parse_monitor_message(parts)
                except RuntimeError:
                    continue
                if int(event["event"]) == zmq.EVENT_DISCONNECTED and self.disconnects:
                    self.counters[self.disconnects] += 1
                    self._log("a peer's connection closed (it stopped, or it sent a message "
                              f"over {MAX_FRAME_BYTES // 2**20} MiB, which ZeroMQ refuses by "
                              "closing the connection)", event["endpoint"])
                    continue
                what = _REJECTIONS.get(int(event["event"]))
                if what is None:
                    continue
                self.counters[self.name] += 1
                self._log(f"rejected a handshake: {what}", event["endpoint"])
        finally:
            with contextlib.suppress(zmq.ZMQError):
                self._sock.disable_monitor()
            self._mon.close(0)

    def _log(self, what: str, endpoint: bytes) -> None:
        now = time.monotonic()
        if now - self._last_log < 1.0:
            self._unlogged += 1
            return
        more = f" (and {self._unlogged} more)" if self._unlogged else ""
        log.warning("on %s: %s%s", endpoint.decode(errors="replace"), what, more)
        self._last_log = now
        self._unlogged = 0


def monitor_task(sock: zmq.asyncio.Socket, counters: Counter[str], *, rejections: bool = True,
                 disconnects: str | None = None) -> asyncio.Task[None]:
    """Start a :class:`HandshakeMonitor` on ``sock`` as a task (cancel it to stop)."""
    return asyncio.create_task(HandshakeMonitor(sock, counters, rejections=rejections,
                                                disconnects=disconnects).run(),
                               name="handshake-monitor")
