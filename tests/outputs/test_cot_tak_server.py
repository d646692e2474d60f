"""CoT through a stand-in TAK server on 127.0.0.1 (real TCP sockets) that does to a client's
stream what FreeTAKServer 2.2.1 was measured doing (issue 22): it takes the first event of a
connection as the client's login (relayed to no one, and a delete for that uid sent to the
others when the connection ends), moves a ``<remarks>`` element without attributes into a
``remarks`` attribute of ``detail`` (which ATAK does not read), and removes every newline.

An ATAK stand-in connected to the same server checks what an operator would see: the reasons
intact, and every track update, across reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable

from cuas import wire
from cuas.config import Config, CotConfig
from cuas.outputs import cot
from cuas.outputs.cot_sender import CotExporter, StreamSender

NOW = 1_800_000_000.0
POLICY = cot.CotPolicy(site="wembley")
ATAK_UID = "ANDROID-0123456789abcdef"


def _newlines_removed(text: str) -> str:
    return text.replace("\n", "").replace("\r", "")


def as_relayed(event: bytes) -> bytes:
    """What the server relays of one event: newlines removed everywhere, a bare ``remarks``
    element moved into ``detail``'s ``remarks`` attribute."""
    ev = ET.fromstring(event)
    for el in ev.iter():
        if el.text is not None:
            el.text = _newlines_removed(el.text)
        for key, value in el.attrib.items():
            el.set(key, _newlines_removed(value))
    detail = ev.find("detail")
    if detail is not None:
        for remarks in detail.findall("remarks"):
            if not remarks.attrib:
                detail.remove(remarks)
                detail.set("remarks", remarks.text or "")
    return ET.tostring(ev)


def delete_event(uid: str) -> bytes:
    """The server's notice that a client left: ``t-x-d-d`` linked to its login uid."""
    now = cot.cot_time(NOW)
    return (f'<event version="2.0" uid="delete-{uid}" type="t-x-d-d" how="h-g-i-g-o" '
            f'time="{now}" start="{now}" stale="{now}"><point lat="0" lon="0" hae="0" '
            f'ce="9999999.0" le="9999999.0"/><detail><link uid="{uid}" relation="p-p" '
            f'type="a-f-G-U-C"/></detail></event>').encode()


class StandInTakServer:
    """The server: every connection's first event is its login, the rest are relayed (as
    :func:`as_relayed`) to every other connection. ``drop_after``: the first connection whose
    login is not ``keep`` is aborted (a reset: what it had not read is lost) after that many
    relayed events, as a server restart would."""

    def __init__(self, *, keep: str = ATAK_UID, drop_after: int | None = None) -> None:
        self.keep = keep
        self.drop_after = drop_after
        self.logins: list[str] = []
        self.relayed: list[bytes] = []
        self._clients: dict[asyncio.StreamWriter, str] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._clients):
            writer.transport.abort()
        await asyncio.wait_for(asyncio.gather(*self._handlers, return_exceptions=True), 5)
        await self._server.wait_closed()

    async def _relay(self, event: bytes, sender: asyncio.StreamWriter | None) -> None:
        self.relayed.append(event)
        for writer in list(self._clients):
            if writer is not sender:
                with contextlib.suppress(ConnectionError):
                    writer.write(event)
                    await writer.drain()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        buffer = b""
        login: str | None = None
        relayed = 0
        try:
            while data := await reader.read(65536):
                buffer += data
                while b"</event>" in buffer:
                    raw, _, buffer = buffer.partition(b"</event>")
                    event = raw.strip() + b"</event>"
                    if login is None:
                        login = ET.fromstring(event).get("uid", "")
                        self.logins.append(login)
                        self._clients[writer] = login
                        continue
                    await self._relay(as_relayed(event), writer)
                    relayed += 1
                    if login != self.keep and relayed == self.drop_after:
                        self.drop_after = None
                        writer.transport.abort()
                        return
        except ConnectionError:
            pass
        finally:
            self._clients.pop(writer, None)
            writer.close()
            if login is not None:
                await self._relay(delete_event(login), None)


class AtakClient:
    """An ATAK stand-in: logs in with its own position report, then keeps what it is sent."""

    def __init__(self) -> None:
        self.received = bytearray()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int) -> None:
        reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        now, stale = cot.cot_time(NOW), cot.cot_time(NOW + 60)
        self._writer.write(
            f'<event version="2.0" uid="{ATAK_UID}" type="a-f-G-U-C" how="h-e" time="{now}" '
            f'start="{now}" stale="{stale}"><point lat="51.55" lon="-0.28" hae="90" ce="5" '
            f'le="5"/><detail><contact callsign="OPERATOR"/></detail></event>'.encode())
        await self._writer.drain()

        async def read() -> None:
            while data := await reader.read(65536):
                self.received.extend(data)

        self._task = asyncio.create_task(read())

    def events(self) -> list[ET.Element]:
        """Every complete event received, parsed."""
        chunks = bytes(self.received).split(b"</event>")[:-1]
        return [ET.fromstring(chunk.strip() + b"</event>") for chunk in chunks]

    async def close(self) -> None:
        assert self._writer is not None and self._task is not None
        self._writer.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await self._task


async def _until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), timeout_s)


def _with_server(body: Callable[[StandInTakServer, AtakClient], Awaitable[None]],
                 **server_kw: object) -> tuple[StandInTakServer, list[ET.Element]]:
    """Run ``body`` with a server and a logged-in ATAK; the server, and what the ATAK got."""

    async def main() -> tuple[StandInTakServer, list[ET.Element]]:
        server = StandInTakServer(**server_kw)  # type: ignore[arg-type]
        await server.start()
        client = AtakClient()
        await client.connect(server.port)
        await _until(lambda: ATAK_UID in server.logins)
        try:
            await body(server, client)
        finally:
            await client.close()
            await server.stop()
        return server, client.events()

    return asyncio.run(main())


def track(id_: int = 17, **kw: object) -> wire.Track:
    base: dict[str, object] = dict(
        id=id_, status="confirmed", lla=(51.5565, -0.2790, 150.0), enu=(40.0, 55.0, 60.0),
        vel=(10.0, 0.0, 0.0), pos_sigma=(4.0, 6.0, 9.0), t_update=NOW - 1.0,
        sources=("radar-north", "rf-1"),
        class_probs={"uav": 0.9, "bird": 0.05, "manned": 0.03, "clutter": 0.02},
        threat="high", malicious=True,
        reasons=("in zone stadium bowl", "RF link: DJI OcuSync <2.4 GHz> & 5.8 GHz"))
    base.update(kw)
    return wire.Track(**base)  # type: ignore[arg-type]


def node(now: float = NOW) -> bytes:
    return cot.node_event((51.556, -0.2796, 90.0), "wembley", now,
                          {"daemon": "ok", "tracks": 3})


# ------------------------------------------------------------------- the stand-in itself


def test_the_stand_in_does_what_the_server_does_to_an_old_style_stream() -> None:
    """Without the fixes (no announcement, bare multi-line remarks) the operator loses the
    first track update and every remark, and the first track is deleted on disconnect: the
    stand-in reproduces the damage the fixes below avoid."""
    first, second = (ET.fromstring(cot.track_events(track(id_=i), NOW, POLICY)[0])
                     for i in (1, 2))
    for ev in (first, second):  # the remarks as cuas wrote them before issue 22
        remarks = ev.find("detail/remarks")
        assert remarks is not None
        remarks.attrib.clear()
        remarks.text = "Threat: HIGH\nin zone stadium bowl"

    async def body(server: StandInTakServer, client: AtakClient) -> None:
        sender = StreamSender(f"tcp://127.0.0.1:{server.port}")
        for ev in (first, second):
            await sender.send(ET.tostring(ev))
        await _until(lambda: len(server.logins) == 2 and len(server.relayed) == 1)
        await sender.close()
        await _until(lambda: any(e.get("type") == "t-x-d-d" for e in client.events()))

    server, seen = _with_server(body)
    assert server.logins == [ATAK_UID, "cuas-wembley-1"]  # a track taken for a user
    got = [e for e in seen if e.get("type") != "t-x-d-d"]
    assert [e.get("uid") for e in got] == ["cuas-wembley-2"]  # the first update is lost
    detail = got[0].find("detail")
    assert detail is not None and detail.find("remarks") is None  # ATAK shows no remarks
    assert detail.get("remarks") == "Threat: HIGHin zone stadium bowl"
    assert _deleted(seen) == ["cuas-wembley-1"]


def _deleted(events: list[ET.Element]) -> list[str]:
    """The uids the server told the ATAK to delete."""
    links = [e.find("detail/link") for e in events if e.get("type") == "t-x-d-d"]
    return [link.get("uid", "") for link in links if link is not None]


# ------------------------------------------------------------------------- what cuas does


def test_reasons_reach_the_operator_intact_through_the_server() -> None:
    reasons = ("in zone stadium bowl\nfor 12 s", "RF link: DJI OcuSync <2.4 GHz> & 5.8 GHz",
               "tab\there, bell\x07, nul\x00 and a lone \ud800 surrogate")
    exporter_config = Config()
    uid = f"cuas-{exporter_config.site.name}-17"

    async def body(server: StandInTakServer, client: AtakClient) -> None:
        sender = StreamSender(f"tcp://127.0.0.1:{server.port}")
        exporter = CotExporter(exporter_config, sender, settings=CotConfig(period_s=0.1))
        await exporter.handle(wire.Tracks(src="fusion", seq=1, t=NOW, tracks=(
            track(reasons=reasons),)))
        await _until(lambda: any(e.get("uid") == uid for e in client.events()))
        await sender.close()

    server, seen = _with_server(body)
    (ev,) = [e for e in seen if e.get("uid") == uid]
    remarks = ev.find("detail/remarks")
    assert remarks is not None and remarks.get("source") == "cuas"
    detail = ev.find("detail")
    assert detail is not None and detail.get("remarks") is None
    assert (remarks.text or "").split(" | ") == [
        "Threat: HIGH (malicious)", "in zone stadium bowl for 12 s",
        "RF link: DJI OcuSync <2.4 GHz> & 5.8 GHz",
        "tab here, bell , nul and a lone surrogate", "Sources: radar-north, rf-1"]
    # The node went first: it is the login, and the only uid the server deleted.
    assert server.logins == [ATAK_UID, f"cuas-{exporter_config.site.name}-node"]


def test_no_track_update_is_lost_across_reconnects() -> None:
    """The server resets cuas's connection after 10 relayed events with more in flight; cuas
    reconnects, announces itself first and sends again what the reset may have lost."""
    updates = [cot.track_events(track(id_=1 + i % 3), NOW + i, POLICY)[0] for i in range(40)]
    node_uid = "cuas-wembley-node"

    def delivered(events: list[ET.Element]) -> set[tuple[str, str]]:
        return {(e.get("uid", ""), e.get("time", "")) for e in events
                if e.get("uid", "").startswith("cuas-wembley-") and e.get("uid") != node_uid}

    want = delivered([ET.fromstring(u) for u in updates])
    assert len(want) == 40

    async def body(server: StandInTakServer, client: AtakClient) -> None:
        sender = StreamSender(f"tcp://127.0.0.1:{server.port}")
        sender.announce(node)
        for update in updates:
            await sender.send(update)
        await _until(lambda: delivered(client.events()) == want)
        assert sender.counters["connects"] == 2 and sender.counters["announced"] == 2
        assert sender.counters["resent"] >= 1
        await sender.close()
        await _until(lambda: len(_deleted(client.events())) == 2)

    server, seen = _with_server(body, drop_after=10)
    # Every connection logged in as the node, never as a track; only the node was deleted.
    assert server.logins == [ATAK_UID, node_uid, node_uid]
    assert _deleted(seen) == [node_uid, node_uid]
