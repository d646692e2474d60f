"""The console's security on a real server (aiohttp on 127.0.0.1, real HTTP and WebSocket
clients): sessions on every route, cookies, CSRF, the login rate limit, logout, roles, the
socket's refusals, TLS and the bind rule."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from cuas.errors import ConfigError, DecodeError
from cuas.web import audit
from cuas.web.server import PUBLIC_PATHS, parse_client_message
from tests.web.helpers import jar, login, serving, site_config


def test_no_route_answers_without_a_session_except_login_and_static(tmp_path: Path) -> None:
    config = site_config(tmp_path)

    async def scenario() -> None:
        async with serving(config) as console, aiohttp.ClientSession(cookie_jar=jar()) as http:
            url = console.url
            assert url is not None
            checked = 0
            for route in console.app().router.routes():
                info = route.resource.get_info() if route.resource else {}
                path = info.get("path") or info.get("formatter") or info.get("prefix")
                assert path is not None
                path = re.sub(r"\{[^}]+\}", "someone", path)
                if route.method == "HEAD":
                    continue
                if path in PUBLIC_PATHS or path.startswith("/static"):
                    continue
                async with http.request(route.method, url.rstrip("/") + path,
                                        allow_redirects=False, json={}) as r:
                    if route.method == "GET" and path == "/":
                        assert (r.status, r.headers.get("Location")) == (302, "/login"), path
                    else:
                        assert r.status == 401, (route.method, path, r.status)
                checked += 1
            assert checked >= 12  # every page, API call and the socket were tried
            # What is public: the login page and the static files (the page's code, MapLibre).
            for path in ("login", "static/app.js", "static/vendor/maplibre-gl-csp.js"):
                async with http.get(url + path) as r:
                    assert r.status == 200, path
                    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
            # The static route serves its directory only, however a path is spelt.
            for sneaky in ("static/%2e%2e/users.json", "static/..%2f..%2fusers.json",
                           "static/%2e%2e/server.py"):
                async with http.get(URL(url + sneaky, encoded=True),
                                    allow_redirects=False) as r:
                    assert r.status in (302, 400, 403, 404), sneaky
                    assert b"argon2" not in await r.read() and b"import" not in await r.read()
            assert console.counters["refused_no_session"] == checked

    asyncio.run(scenario())


def test_session_cookie_csrf_and_a_copied_cookie_after_logout(tmp_path: Path) -> None:
    config = site_config(tmp_path)

    async def scenario() -> None:
        async with serving(config) as console, \
                aiohttp.ClientSession(cookie_jar=jar()) as alice, \
                aiohttp.ClientSession(cookie_jar=jar()) as thief:
            url = console.url
            assert url is not None
            async with alice.post(url + "api/login", json={"name": "olivia",
                                                           "password": "operator-pass"}) as r:
                assert r.status == 200
                cookie = r.headers["Set-Cookie"]
                csrf = (await r.json())["csrf"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
            # State changes need the CSRF token, and an Origin of this server when sent.
            body = {"alert_id": "x:1", "action": "acknowledged"}
            async with alice.post(url + "api/ack", json=body) as r:
                assert r.status == 403
            async with alice.post(url + "api/ack", json=body,
                                  headers={"X-CSRF-Token": "wrong"}) as r:
                assert r.status == 403
            async with alice.post(url + "api/ack", json=body, headers={
                    "X-CSRF-Token": csrf, "Origin": "http://evil.example"}) as r:
                assert r.status == 403
            async with alice.post(url + "api/ack", json=body,
                                  headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 404  # past the checks: no such alert in the inbox
            # The cookie copied into another browser works until its owner logs out...
            token = cookie.split(";")[0].split("=", 1)[1]
            thief.cookie_jar.update_cookies({"cuas_session": token})
            async with thief.get(url + "api/session") as r:
                assert r.status == 200
            async with alice.post(url + "api/logout", headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 200
            # ...and then is refused everywhere, the socket included.
            async with thief.get(url + "api/session") as r:
                assert r.status == 401
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await thief.ws_connect(url + "ws", origin=url.rstrip("/"))
            assert refused.value.status == 401
            actions = [r["action"] for r in audit.read(tmp_path / "audit.jsonl")]
            assert actions[-2:] == ["login", "logout"]

    asyncio.run(scenario())


def test_login_rate_limit_and_failed_logins_are_audited(tmp_path: Path) -> None:
    config = site_config(tmp_path, extra_web="login_attempts = 3\nlogin_window_s = 60.0")

    async def scenario() -> None:
        async with serving(config) as console, aiohttp.ClientSession(cookie_jar=jar()) as http:
            url = console.url
            assert url is not None
            for _ in range(3):
                async with http.post(url + "api/login", json={"name": "olivia",
                                                              "password": "guess-guess"}) as r:
                    assert r.status == 401
            async with http.post(url + "api/login", json={"name": "olivia",
                                                          "password": "operator-pass"}) as r:
                assert r.status == 429  # even the right password, until the window passes
                assert int(r.headers["Retry-After"]) > 0
            async with http.post(url + "api/login", json={"name": "nobody", "password": "x" * 9},
                                 headers={"Origin": "http://evil.example"}) as r:
                assert r.status == 403
            assert console.counters["login_rate_limited"] == 1
        records = audit.read(tmp_path / "audit.jsonl")
        assert [r["action"] for r in records] == ["login_failed"] * 3
        assert all(r["user"] == "olivia" for r in records)

    asyncio.run(scenario())


def test_roles_viewer_cannot_acknowledge_or_manage_users(tmp_path: Path) -> None:
    config = site_config(tmp_path)

    async def scenario() -> None:
        async with serving(config) as console, \
                aiohttp.ClientSession(cookie_jar=jar()) as viewer, \
                aiohttp.ClientSession(cookie_jar=jar()) as admin:
            url = console.url
            assert url is not None
            csrf = (await login(viewer, url, "victor"))["csrf"]
            async with viewer.post(url + "api/ack", json={"alert_id": "x:1",
                                                          "action": "acknowledged"},
                                   headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 403
            async with viewer.get(url + "api/users") as r:
                assert r.status == 403
            admin_csrf = (await login(admin, url, "ada"))["csrf"]
            async with admin.post(url + "api/users/victor/role", json={"role": "operator"},
                                  headers={"X-CSRF-Token": admin_csrf}) as r:
                assert r.status == 200
            async with viewer.get(url + "api/session") as r:
                assert r.status == 401  # a role change ends the user's sessions
            async with admin.get(url + "api/users") as r:
                users = {u["name"]: u["role"] for u in (await r.json())["users"]}
            assert users == {"ada": "admin", "olivia": "operator", "victor": "operator"}
        actions = [r["action"] for r in audit.read(tmp_path / "audit.jsonl")]
        assert actions == ["login", "login", "role_changed"]

    asyncio.run(scenario())


def test_malformed_socket_messages_are_refused_and_counted(tmp_path: Path) -> None:
    config = site_config(tmp_path)

    async def scenario() -> None:
        async with serving(config) as console, aiohttp.ClientSession(cookie_jar=jar()) as http:
            url = console.url
            assert url is not None
            with pytest.raises(aiohttp.WSServerHandshakeError):  # no session yet
                await http.ws_connect(url + "ws", origin=url.rstrip("/"))
            await login(http, url, "victor")
            with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
                await http.ws_connect(url + "ws", origin="http://evil.example")
            assert foreign.value.status == 403
            ws = await http.ws_connect(url + "ws", origin=url.rstrip("/"))
            first = json.loads((await ws.receive(timeout=10)).data)
            assert first["type"] == "init"
            bad = ["not json", "[1, 2]", '{"type": "nope"}', '{"type": "history", "t": "x"}',
                   '{"type": "history", "t": 1e999}', '{"type": "ping", "extra": 1}']
            for text in bad:
                await ws.send_str(text)
                reply = json.loads((await ws.receive(timeout=10)).data)
                assert reply["type"] == "error"
            await ws.send_bytes(b"\x00\x01")
            assert json.loads((await ws.receive(timeout=10)).data)["type"] == "error"
            await ws.send_str('{"type": "ping"}')  # still served after refusals
            assert json.loads((await ws.receive(timeout=10)).data) == {"type": "pong"}
            await ws.send_str("x" * 10_000)  # over the size limit: the socket is closed
            closing = await ws.receive(timeout=10)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                    aiohttp.WSMsgType.CLOSING)
            await ws.close()
            await asyncio.sleep(0.2)
            assert console.counters["ws_malformed"] == len(bad) + 2
            assert console.counters["ws_refused_origin"] == 1

    asyncio.run(scenario())


@given(st.text(max_size=300) | st.builds(json.dumps, st.recursive(
    st.none() | st.booleans() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4), max_leaves=12)))
@settings(max_examples=300, deadline=None)
def test_any_socket_text_is_a_valid_request_or_a_decode_error(text: str) -> None:
    try:
        msg = parse_client_message(text)
    except DecodeError:
        return
    assert msg in ({"type": "ping"},) or (msg["type"] == "history" and isinstance(msg["t"], float))


def test_the_bind_rule_and_tls(tmp_path: Path) -> None:
    """Anything but loopback needs TLS and accounts; under TLS the cookie is Secure."""
    from cuas.web.server import Console

    wide = site_config(tmp_path, users=False)
    wide = type(wide)(**{**{f: getattr(wide, f) for f in wide.__slots__},  # type: ignore[attr-defined]
                         "web": type(wide.web)(**{**{f: getattr(wide.web, f)
                                                     for f in wide.web.__slots__},  # type: ignore[attr-defined]
                                                  "listen": "0.0.0.0:0"})})
    with pytest.raises(ConfigError, match="only with TLS"):
        Console(wide)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    no_users = site_config(tls_dir, users=False,
                           extra_web=f'tls_cert = "{cert}"\ntls_key = "{key}"')
    with pytest.raises(ConfigError, match="only with TLS"):
        Console(no_users, listen="0.0.0.0:0")  # TLS but no account yet
    secure = site_config(tls_dir, extra_web=f'tls_cert = "{cert}"\ntls_key = "{key}"')

    async def scenario() -> None:
        async with serving(secure, listen="0.0.0.0:0") as console:
            assert console.url is not None and console.url.startswith("https://")
            port = console.url.rstrip("/").rsplit(":", 1)[1]
            ctx = ssl.create_default_context(cafile=str(cert))
            async with aiohttp.ClientSession(cookie_jar=jar()) as http:
                async with http.post(f"https://127.0.0.1:{port}/api/login", ssl=ctx, json={
                        "name": "olivia", "password": "operator-pass"}) as r:
                    assert r.status == 200
                    cookie = r.headers["Set-Cookie"]
                    assert r.headers["Strict-Transport-Security"]
                assert cookie.startswith("__Host-cuas_session=") and "Secure" in cookie
                with pytest.raises(aiohttp.ClientError):
                    await http.get(f"http://127.0.0.1:{port}/login")  # no plain HTTP

    asyncio.run(scenario())


def test_the_basemap_is_served_with_range_requests_to_sessions_only(tmp_path: Path) -> None:
    data = bytes(range(256)) * 64  # stands for a PMTiles file: served as it is, never parsed
    (tmp_path / "site.pmtiles").write_bytes(data)
    config = site_config(tmp_path, extra_web='basemap = "site.pmtiles"')

    async def scenario() -> None:
        async with serving(config) as console, aiohttp.ClientSession(cookie_jar=jar()) as http:
            url = console.url
            assert url is not None
            async with http.get(url + "basemap.pmtiles", headers={"Range": "bytes=0-15"}) as r:
                assert r.status == 401
            await login(http, url, "victor")
            async with http.get(url + "api/session") as r:
                assert (await r.json())["basemap"] is True
            async with http.get(url + "basemap.pmtiles",
                                headers={"Range": "bytes=1000-1099"}) as r:
                assert r.status == 206
                assert r.headers["Content-Range"] == f"bytes 1000-1099/{len(data)}"
                assert await r.read() == data[1000:1100]

    asyncio.run(scenario())


def test_an_open_socket_closes_when_its_session_ends(tmp_path: Path) -> None:
    config = site_config(tmp_path)

    async def scenario() -> None:
        async with serving(config) as console, aiohttp.ClientSession(cookie_jar=jar()) as http:
            url = console.url
            assert url is not None
            await login(http, url, "victor")
            ws = await http.ws_connect(url + "ws", origin=url.rstrip("/"))
            assert json.loads((await ws.receive(timeout=10)).data)["type"] == "init"
            assert console.sessions.end_user("victor") == 1  # as its maximum age would
            msg = await ws.receive(timeout=15)  # the sweep runs every 5 s
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4001
            await ws.close()

    asyncio.run(scenario())
