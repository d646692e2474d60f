"""Shared set-up of the console tests: a site configuration on free loopback ports, accounts,
and a console served in-process on a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from cuas.config import Config, load_config
from cuas.web.accounts import Accounts
from cuas.web.server import Console

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"olivia": "operator-pass", "victor": "viewer-pass1", "ada": "admin-pass12"}
ROLES = {"olivia": "operator", "victor": "viewer", "ada": "admin"}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def site_config(tmp: Path, extra_web: str = "", users: bool = True) -> Config:
    """The Wembley site on free loopback ports, its ``[web]`` files in ``tmp``; with the three
    test users (operator olivia, viewer victor, admin ada) unless ``users`` is False."""
    text = (ROOT / "configs" / "wembley.toml").read_text()
    det, trk, web = free_port(), free_port(), free_port()
    text = text.replace("tcp://127.0.0.1:5550", f"tcp://127.0.0.1:{det}")
    text = text.replace("tcp://127.0.0.1:5551", f"tcp://127.0.0.1:{trk}")
    text += (f'\n[web]\nlisten = "127.0.0.1:{web}"\nusers_file = "users.json"\n'
             f'audit_log = "audit.jsonl"\n{extra_web}\n')
    path = tmp / "site.toml"
    path.write_text(text)
    config = load_config(path)
    if users:
        accounts = Accounts(tmp / "users.json")
        for name, password in PASSWORDS.items():
            accounts.add(name, ROLES[name], password)
    return config


@contextlib.asynccontextmanager
async def serving(config: Config, **kwargs: Any) -> AsyncIterator[Console]:
    """A console for ``config`` listening until the block ends."""
    console = Console(config, **kwargs)
    stop = asyncio.Event()
    task = asyncio.create_task(console.run(stop))
    ready = asyncio.create_task(console.ready.wait())
    await asyncio.wait([task, ready], timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # raises what stopped it
    assert console.url is not None
    try:
        yield console
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def login(http: aiohttp.ClientSession, url: str, name: str,
                password: str | None = None) -> dict[str, Any]:
    """Log ``name`` in on ``http`` (its cookie jar keeps the session); the session body."""
    async with http.post(url + "api/login", json={
            "name": name, "password": PASSWORDS[name] if password is None else password}) as r:
        body: dict[str, Any] = await r.json()
        assert r.status == 200, body
        return body


def jar() -> aiohttp.CookieJar:
    """A cookie jar that keeps cookies of a bare IP address (127.0.0.1)."""
    return aiohttp.CookieJar(unsafe=True)


def until(what: str, check: Any, timeout_s: float) -> Any:
    """Poll ``check()`` every 0.1 s until it returns something truthy, and return that;
    fail the test naming ``what`` after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
