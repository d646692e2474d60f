"""``cuas sapient serve`` and ``cuas sapient export`` as the user runs them: two real
processes around a real daemon on 127.0.0.1, a sensor module connecting over TCP, and a
higher node listening for the exported DetectionReports."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time

import pymap3d

from cuas.cli.main import main
from cuas.config import reference_config
from cuas.sapient import convert
from cuas.sapient.framing import parse
from cuas.sapient.proto import SapientMessage, new_ulid
from cuas.sapient.validate import validate
from tests.fusion.test_daemon import run_async, running_daemon
from tests.sapient.conftest import MODULE_ID, location_report, status_report
from tests.sapient.test_node import Peer, register


def test_usage_errors() -> None:
    assert main(["sapient"]) == 2
    assert main(["sapient", "export"]) == 2
    assert main(["sapient", "serve", "--listen", "nowhere"]) == 2


async def start(*args: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cuas.cli.main", "sapient", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)


async def stop(proc: asyncio.subprocess.Process) -> str:
    """SIGTERM, then everything it wrote to stderr."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    return err.decode()


def test_serve_and_export_commands_end_to_end() -> None:
    site = reference_config().site
    reports: asyncio.Queue[SapientMessage] = asyncio.Queue()

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(reader, writer)
        try:
            reg = await peer.next("registration")
            await peer.send(convert.registration_ack(MODULE_ID, time.time(), reg.node_id, True))
            while data := await reader.read(65536):
                frames, peer.rest = parse(peer.rest + data)
                for fr in frames:
                    if fr.message is not None and \
                            fr.message.WhichOneof("content") == "detection_report":
                        await reports.put(fr.message)
        finally:
            peer.close()

    async def body() -> None:
        async with running_daemon() as daemon:
            listener = await asyncio.start_server(upstream, "127.0.0.1", 0)
            up_port = listener.sockets[0].getsockname()[1]
            serve = await start("serve", "--listen", "127.0.0.1:0",
                                "--publish", daemon.bound.detections)
            export = await start("export", "--to", f"127.0.0.1:{up_port}",
                                 "--tracks", daemon.bound.tracks)
            try:
                assert serve.stderr is not None
                line = (await asyncio.wait_for(serve.stderr.readline(), 20)).decode()
                found = re.search(r"on 127\.0\.0\.1:(\d+) ->", line)
                assert found, line
                module = Peer(*await asyncio.open_connection("127.0.0.1", int(found[1])))
                assert (await register(module)).registration_ack.acceptance
                await module.send(status_report(MODULE_ID, site.lat, site.lon, site.h))
                oid = new_ulid(time.time())
                got = None
                deadline = time.monotonic() + 30
                k = 0
                while got is None and time.monotonic() < deadline:
                    lat, lon, h = pymap3d.enu2geodetic(-150.0 + 5.0 * k * 0.2, 80.0, 40.0,
                                                       site.lat, site.lon, site.h)
                    await module.send(location_report(MODULE_ID, oid, float(lat), float(lon),
                                                      float(h)))
                    k += 1
                    try:
                        got = await asyncio.wait_for(reports.get(), 0.2)
                    except TimeoutError:
                        continue
                assert got is not None, "no DetectionReport from `cuas sapient export`"
                assert validate(got) == []
                loc = got.detection_report.location
                e, n, _ = pymap3d.geodetic2enu(loc.y, loc.x, loc.z, site.lat, site.lon, site.h)
                assert abs(n - 80.0) < 30.0 and -200.0 < e < 100.0
                module.close()
            finally:
                serve_err = await stop(serve)
                export_err = await stop(export)
                listener.close()
            assert re.search(r"sapient serve: 1 connections, \d+ messages accepted, 0 rejected",
                             serve_err), serve_err
            assert "DetectionReports" in export_err and "1 connects" in export_err, export_err

    run_async(body, 90)
