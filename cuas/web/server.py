"""The console's HTTP and WebSocket server (aiohttp): pages, the JSON API, the live socket.

Every route needs a session except the login page, the login call and static files. State
changes (login aside) need the session's CSRF token in ``X-CSRF-Token`` and, when the browser
sends one, an ``Origin`` of this server. The socket refuses a browser without a session and a
foreign ``Origin``; each message it receives is checked, and a malformed one is refused with
an error reply and counted (ten in a row end the connection).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import math
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

from aiohttp import WSMsgType, web

from cuas.config import Config
from cuas.errors import AccountError, ConfigError, DecodeError
from cuas.web import audit as audit_mod
from cuas.web.accounts import ROLES, Accounts, check_name, may
from cuas.web.audit import AuditLog
from cuas.web.feed import Feed
from cuas.web.sessions import RateLimiter, Session, Sessions
from cuas.web.site import site_layers

log = logging.getLogger(__name__)

STATIC: Final = Path(__file__).resolve().parent / "static"
#: Paths served without a session.
PUBLIC_PATHS: Final = frozenset({"/login", "/api/login", "/favicon.ico"})
#: Largest message a browser may send on the socket (bytes), and malformed ones in a row
#: before the socket is closed.
MAX_WS_MESSAGE: Final = 4096
MAX_WS_MALFORMED: Final = 10
#: Largest JSON body of an API call (bytes).
MAX_BODY: Final = 16 * 1024
#: Queued messages per browser; a browser that falls this far behind is sent the whole
#: picture again instead (it never makes the server buffer without bound).
CLIENT_QUEUE: Final = 32

SESSION_KEY: Final = web.RequestKey("session", Session)


def parse_client_message(data: str) -> dict[str, Any]:
    """A browser's socket message, checked: ``{"type": "ping"}`` or ``{"type": "history",
    "t": UTC s}``; anything else raises :class:`DecodeError`."""
    if len(data) > MAX_WS_MESSAGE:
        raise DecodeError(f"longer than {MAX_WS_MESSAGE} characters")
    try:
        msg = json.loads(data)
    except (ValueError, RecursionError):
        raise DecodeError("not JSON") from None
    kind = msg.get("type") if isinstance(msg, dict) else None
    if kind == "ping" and len(msg) == 1:
        return {"type": "ping"}
    if kind == "history" and set(msg) == {"type", "t"}:
        t = msg["t"]
        if isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t):
            return {"type": "history", "t": float(t)}
    raise DecodeError('expected {"type": "ping"} or {"type": "history", "t": UTC seconds}')


def resolve(config: Config, value: str) -> Path:
    """A path from ``[web]``: relative ones are relative to the configuration file."""
    p = Path(value)
    if p.is_absolute() or config.path is None:
        return p
    return Path(config.path).resolve().parent / p


class Client:
    """One connected browser: its socket, session and outgoing queue."""

    def __init__(self, ws: web.WebSocketResponse, session: Session) -> None:
        self.ws = ws
        self.session = session
        self.queue: collections.deque[str] = collections.deque()
        self.wake = asyncio.Event()
        self.malformed_in_row = 0


class Console:
    """The console for ``config``; ``await console.run(stop)`` serves until ``stop`` is set.

    ``tracks_endpoint``/``ack_endpoint`` override the configuration's bus endpoints.
    """

    def __init__(self, config: Config, *, tracks_endpoint: str | None = None,
                 ack_endpoint: str | None = None, listen: str | None = None) -> None:
        self.config = config
        w = config.web
        self.listen = listen or w.listen
        self.accounts = Accounts(resolve(config, w.users_file))
        self._accounts_mtime = self._mtime()
        self.audit = AuditLog(resolve(config, w.audit_log))
        self.sessions = Sessions(w.session_idle_s, w.session_max_s)
        self.limiter = RateLimiter(w.login_attempts, w.login_window_s)
        self.counters: collections.Counter[str] = collections.Counter()
        self.clients: set[Client] = set()
        self.feed = Feed(config, self, tracks_endpoint=tracks_endpoint,
                         ack_endpoint=ack_endpoint)
        self.basemap = resolve(config, w.basemap) if w.basemap else None
        self.url: str | None = None
        self.ready = asyncio.Event()
        self._site = site_layers(config)
        self.check_bind()

    # ------------------------------------------------------------------ set-up

    def check_bind(self) -> None:
        """Refuse a non-loopback address unless TLS and accounts are configured."""
        from cuas.config.web import is_loopback_host

        host = self.listen.rpartition(":")[0]
        if is_loopback_host(host):
            return
        if not self.config.web.tls or not len(self.accounts):
            raise ConfigError(f"the console binds {self.listen} only with TLS (tls_cert, "
                              "tls_key) and at least one account (`cuas web user add`); "
                              "without them it listens on 127.0.0.1 only",
                              path=self.config.path, key="web.listen")

    def _mtime(self) -> float:
        try:
            return self.accounts.path.stat().st_mtime
        except OSError:
            return 0.0

    def _fresh_accounts(self) -> Accounts:
        """The accounts, read again if ``cuas web user`` changed the file."""
        mtime = self._mtime()
        if mtime != self._accounts_mtime:
            self.accounts.reload()
            self._accounts_mtime = mtime
        return self.accounts

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of ``[web]``'s certificate and key (None without TLS)."""
        w = self.config.web
        if w.tls_cert is None or w.tls_key is None:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(resolve(self.config, w.tls_cert), resolve(self.config, w.tls_key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the certificate and key: {exc}",
                              path=self.config.path, key="web.tls_cert") from None
        return ctx

    def app(self) -> web.Application:
        """The aiohttp application (routes, middlewares, headers)."""
        app = web.Application(middlewares=[self._auth], client_max_size=MAX_BODY)
        r = app.router
        r.add_get("/", self._index)
        r.add_get("/login", self._login_page)
        r.add_post("/api/login", self._login)
        r.add_post("/api/logout", self._logout)
        r.add_get("/api/session", self._session)
        r.add_get("/api/site", self._site_layers)
        r.add_get("/api/stats", self._stats)
        r.add_post("/api/ack", self._ack)
        r.add_get("/api/users", self._users)
        r.add_post("/api/users", self._user_add)
        r.add_post("/api/users/{name}/role", self._user_role)
        r.add_delete("/api/users/{name}", self._user_remove)
        r.add_get("/basemap.pmtiles", self._basemap)
        r.add_get("/ws", self._ws)
        r.add_static("/static", STATIC, follow_symlinks=False, show_index=False)
        app.on_response_prepare.append(self._headers)
        return app

    # ------------------------------------------------------------------ middleware

    @property
    def _cookie(self) -> str:
        return "__Host-cuas_session" if self.config.web.tls else "cuas_session"

    def session_of(self, request: web.Request) -> Session | None:
        """The live session whose cookie ``request`` carries."""
        return self.sessions.get(request.cookies.get(self._cookie))

    @staticmethod
    def _same_origin(request: web.Request, required: bool) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return not required
        return origin == f"{request.scheme}://{request.host}"

    @web.middleware
    async def _auth(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        path = request.path
        if path in PUBLIC_PATHS or path.startswith("/static/"):
            return await handler(request)
        session = self.session_of(request)
        if session is None:
            self.counters["refused_no_session"] += 1
            if path == "/" and request.method == "GET":
                raise web.HTTPFound("/login")  # the page: to the login page
            return web.json_response({"error": "not logged in"}, status=401)
        if request.method not in ("GET", "HEAD") and (
                not self._same_origin(request, False)
                or not session.csrf_ok(request.headers.get("X-CSRF-Token"))):
            self.counters["refused_csrf"] += 1
            return web.json_response({"error": "missing or wrong CSRF token"}, status=403)
        request[SESSION_KEY] = session
        return await handler(request)

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        h = response.headers
        extra = ""
        tile_url = self.config.web.tile_url
        if tile_url:
            scheme, _, rest = tile_url.partition("://")
            extra = f" {scheme}://{rest.split('/', 1)[0]}"
        h.setdefault("Content-Security-Policy",
                     "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                     f"img-src 'self' data: blob:{extra}; connect-src 'self'{extra}; "
                     "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
                     "form-action 'self'; frame-ancestors 'none'")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "no-referrer")
        if not request.path.startswith("/static/") and request.path != "/basemap.pmtiles":
            h.setdefault("Cache-Control", "no-store")
        if self.config.web.tls:
            h.setdefault("Strict-Transport-Security", "max-age=31536000")

    # ------------------------------------------------------------------ pages

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _login_page(self, request: web.Request) -> web.StreamResponse:
        if self.session_of(request) is not None:
            raise web.HTTPFound("/")
        return web.FileResponse(STATIC / "login.html")

    async def _basemap(self, request: web.Request) -> web.StreamResponse:
        if self.basemap is None or not self.basemap.is_file():
            return web.json_response({"error": "no basemap configured"}, status=404)
        return web.FileResponse(self.basemap, headers={"Content-Type":
                                                       "application/vnd.pmtiles"})

    # ------------------------------------------------------------------ API

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="expected application/json")
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text="not JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        return body

    def _remote(self, request: web.Request) -> str:
        return request.remote or "?"

    async def _login(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request, False):
            self.counters["refused_csrf"] += 1
            return web.json_response({"error": "foreign origin"}, status=403)
        body = await self._json(request)
        name, password = body.get("name"), body.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            return web.json_response({"error": "give name and password"}, status=400)
        keys = (f"ip:{self._remote(request)}", f"user:{name[:64]}")
        if any(self.limiter.blocked(k) for k in keys):
            self.counters["login_rate_limited"] += 1
            wait = max(self.limiter.retry_after_s(k) for k in keys)
            return web.json_response({"error": "too many failed logins; try again later"},
                                     status=429, headers={"Retry-After": str(math.ceil(wait))})
        accounts = self._fresh_accounts()
        loop = asyncio.get_running_loop()
        account = await loop.run_in_executor(None, accounts.verify, name, password)
        if account is None:
            for k in keys:
                self.limiter.fail(k)
            self.counters["login_failed"] += 1
            try:
                shown = check_name(name)
            except AccountError:
                shown = "?"
            self.audit.append(shown, "", "login_failed",
                              note=f"from {self._remote(request)}")
            return web.json_response({"error": "wrong name or password"}, status=401)
        session = self.sessions.new(account.name, account.role)
        self.audit.append(account.name, account.role, "login",
                          note=f"from {self._remote(request)}")
        response = web.json_response({"user": session.user, "role": session.role,
                                      "csrf": session.csrf})
        response.set_cookie(self._cookie, session.token, httponly=True, samesite="Strict",
                            secure=self.config.web.tls, path="/")
        return response

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        session = request[SESSION_KEY]
        self.sessions.end(session.token)
        self.audit.append(session.user, session.role, "logout")
        await self._close_clients(lambda c: c.session.token == session.token)
        response = web.json_response({"ok": True})
        response.del_cookie(self._cookie, path="/")
        return response

    async def _session(self, request: web.Request) -> web.StreamResponse:
        s = request[SESSION_KEY]
        w = self.config.web
        return web.json_response({"user": s.user, "role": s.role, "csrf": s.csrf,
                                  "basemap": self.basemap is not None,
                                  "tile_url": w.tile_url, "attribution": w.attribution})

    async def _site_layers(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._site)

    async def _stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"counters": dict(self.counters), "clients": len(self.clients),
                                  "stream": self.feed.stream_counts()})

    async def _ack(self, request: web.Request) -> web.StreamResponse:
        session = request[SESSION_KEY]
        if not may(session.role, "operator"):
            self.counters["refused_role"] += 1
            return web.json_response({"error": "a viewer cannot acknowledge"}, status=403)
        body = await self._json(request)
        aid, action, note = body.get("alert_id"), body.get("action"), body.get("note", "")
        if not isinstance(aid, str) or not 0 < len(aid) <= 256:
            return web.json_response({"error": "alert_id: expected an alert id"}, status=400)
        if action not in ("acknowledged", "dismissed"):
            return web.json_response({"error": "action: acknowledged or dismissed"}, status=400)
        if not isinstance(note, str) or len(note) > audit_mod.MAX_NOTE:
            return web.json_response({"error": "note: text up to 1000 characters"}, status=400)
        entry = self.feed.picture.alerts.get(aid)
        if entry is None:
            return web.json_response({"error": "no such alert in the inbox"}, status=404)
        record = self.audit.append(session.user, session.role, action, alert_id=aid,
                                   track_id=entry["track_id"], note=note)
        published = await self.feed.publish_ack(aid, action, session.user, note,
                                                entry["track_id"], record["t"])
        self.broadcast(self.feed.picture.settle(aid, action, session.user, note, record["t"]))
        return web.json_response({"ok": True, "published": published})

    async def _users(self, request: web.Request) -> web.StreamResponse:
        if not may(request[SESSION_KEY].role, "admin"):
            return web.json_response({"error": "admins only"}, status=403)
        return web.json_response({"users": [{"name": n, "role": r} for n, r in
                                            self._fresh_accounts().names()], "roles": ROLES})

    async def _user_add(self, request: web.Request) -> web.StreamResponse:
        session = request[SESSION_KEY]
        if not may(session.role, "admin"):
            return web.json_response({"error": "admins only"}, status=403)
        body = await self._json(request)
        try:
            accounts = self._fresh_accounts()
            account = accounts.add(body.get("name"), body.get("role"),  # type: ignore[arg-type]
                                   body.get("password"))  # type: ignore[arg-type]
        except AccountError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self._accounts_mtime = self._mtime()
        self.sessions.end_user(account.name)
        self.audit.append(session.user, session.role, "user_added",
                          note=f"{account.name} as {account.role}")
        return web.json_response({"ok": True})

    async def _user_role(self, request: web.Request) -> web.StreamResponse:
        session = request[SESSION_KEY]
        if not may(session.role, "admin"):
            return web.json_response({"error": "admins only"}, status=403)
        name = request.match_info["name"]
        body = await self._json(request)
        try:
            self._fresh_accounts().set_role(name, body.get("role"))  # type: ignore[arg-type]
        except AccountError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        self._accounts_mtime = self._mtime()
        self.sessions.end_user(name)
        await self._close_clients(lambda c: c.session.user == name)
        self.audit.append(session.user, session.role, "role_changed",
                          note=f"{name} to {body.get('role')}")
        return web.json_response({"ok": True})

    async def _user_remove(self, request: web.Request) -> web.StreamResponse:
        session = request[SESSION_KEY]
        if not may(session.role, "admin"):
            return web.json_response({"error": "admins only"}, status=403)
        name = request.match_info["name"]
        try:
            self._fresh_accounts().remove(name)
        except AccountError as exc:
            return web.json_response({"error": str(exc)}, status=404)
        self._accounts_mtime = self._mtime()
        self.sessions.end_user(name)
        await self._close_clients(lambda c: c.session.user == name)
        self.audit.append(session.user, session.role, "user_removed", note=name)
        return web.json_response({"ok": True})

    # ------------------------------------------------------------------ WebSocket

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        session = request[SESSION_KEY]
        if not self._same_origin(request, True):
            self.counters["ws_refused_origin"] += 1
            return web.json_response({"error": "foreign origin"}, status=403)
        if len(self.clients) >= self.config.web.max_clients:
            self.counters["ws_refused_full"] += 1
            return web.json_response({"error": "too many browsers"}, status=503)
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_WS_MESSAGE, compress=True)
        await ws.prepare(request)
        client = Client(ws, session)
        self.clients.add(client)
        self.counters["ws_accepted"] += 1
        self._queue(client, json.dumps(self.feed.picture.init(), separators=(",", ":")))
        sender = asyncio.create_task(self._sender(client))
        try:
            async for msg in ws:
                if self.sessions.get(session.token) is None:
                    break  # logged out (or expired) elsewhere: the socket ends with it
                if msg.type == WSMsgType.TEXT:
                    await self._incoming(client, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self._malformed(client, "binary messages are not accepted")
                elif msg.type == WSMsgType.ERROR:
                    self.counters["ws_malformed"] += 1  # oversized or broken frames
                    break
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            await ws.close()
        return ws

    async def _incoming(self, client: Client, data: str) -> None:
        try:
            msg = parse_client_message(data)
        except DecodeError as exc:
            await self._malformed(client, str(exc))
            return
        client.malformed_in_row = 0
        if msg["type"] == "ping":
            self._queue(client, '{"type":"pong"}')
        else:
            self._queue(client, json.dumps(self.feed.picture.past_frame(msg["t"]),
                                           separators=(",", ":")))

    async def _malformed(self, client: Client, why: str) -> None:
        self.counters["ws_malformed"] += 1
        client.malformed_in_row += 1
        log.info("refused a malformed socket message from %s: %s", client.session.user, why)
        self._queue(client, json.dumps({"type": "error", "error": why}))
        if client.malformed_in_row >= MAX_WS_MALFORMED:
            await client.ws.close(code=1008, message=b"too many malformed messages")

    def _queue(self, client: Client, text: str) -> None:
        if len(client.queue) >= CLIENT_QUEUE:
            # Too far behind: drop what it has not read and start it again from the picture.
            self.counters["ws_resynced"] += 1
            client.queue.clear()
            text = json.dumps(self.feed.picture.init(), separators=(",", ":"))
        client.queue.append(text)
        client.wake.set()

    async def _sender(self, client: Client) -> None:
        while True:
            await client.wake.wait()
            client.wake.clear()
            while client.queue:
                text = client.queue.popleft()
                try:
                    await client.ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    return
                self.counters["ws_messages_sent"] += 1
                self.counters["ws_bytes_sent"] += len(text)

    def broadcast(self, message: dict[str, Any] | None) -> None:
        """Send ``message`` to every browser (encoded once)."""
        if message is None or not self.clients:
            return
        text = json.dumps(message, separators=(",", ":"))
        for client in list(self.clients):
            self._queue(client, text)

    async def _close_clients(self, which: Callable[[Client], bool]) -> None:
        for client in [c for c in self.clients if which(c)]:
            await client.ws.close(code=4001, message=b"session ended")

    async def _sweep(self, period_s: float = 5.0) -> None:
        """An open socket keeps its session alive (a console watched without a click is in
        use), until the session's maximum age or its end elsewhere closes the socket."""
        while True:
            await asyncio.sleep(period_s)
            ended = [c for c in self.clients if self.sessions.get(c.session.token) is None]
            for client in ended:
                await client.ws.close(code=4001, message=b"session ended")

    # ------------------------------------------------------------------ run

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; :attr:`url` and :attr:`ready` tell when it listens."""
        ctx = self.ssl_context()
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False,
                               shutdown_timeout=1.0)
        await runner.setup()
        host, _, port = self.listen.rpartition(":")
        site = web.TCPSite(runner, host.strip("[]"), int(port), ssl_context=ctx)
        try:
            await site.start()
            bound = runner.addresses[0]
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            self.url = f"{'https' if ctx else 'http'}://{shown}:{bound[1]}/"
            await self.feed.start()
            sweeper = asyncio.create_task(self._sweep())
            self.ready.set()
            log.info("console at %s", self.url)
            await stop.wait()
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        finally:
            await self._close_clients(lambda c: True)
            await self.feed.stop()
            await runner.cleanup()
            self.audit.close()

