"""``cuas sapient serve`` and ``cuas sapient export`` end to end on 127.0.0.1: a sensor module
connects over real TCP and registers with Dstl's reference Registration, reports a drone;
the detections reach a real cuas daemon; the fused track comes out of the exporter to a TCP
listener as a DetectionReport that parses and passes the ICD rules. Plus the connection's
behaviour on bad frames: answered with Error, still usable, or closed cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pymap3d
import zmq.asyncio

from cuas import bus
from cuas.config import reference_config
from cuas.fusion.daemon import Daemon
from cuas.outputs.sapient import SapientExporter
from cuas.sapient import convert, outbound
from cuas.sapient.framing import encode, parse
from cuas.sapient.proto import SapientMessage, from_json, new_ulid
from cuas.sapient.validate import validate
from cuas.sensors.sapient.node import SapientServer
from tests.fusion.test_daemon import run_async, running_daemon
from tests.sapient.conftest import (
    MODULE_ID,
    data_dir,
    location_report,
    read_text,
    status_report,
)
from tests.test_curve import _site as curve_site


class Peer:
    """One end of a SAPIENT TCP link: send messages, read framed replies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.rest = b""
        self.got: list[SapientMessage] = []

    async def send(self, msg: SapientMessage | bytes) -> None:
        self.writer.write(msg if isinstance(msg, bytes) else encode(msg))
        await self.writer.drain()

    async def next(self, content: str, timeout_s: float = 10.0) -> SapientMessage:
        """The next received message whose content is ``content``."""
        deadline = time.monotonic() + timeout_s
        while True:
            for i, m in enumerate(self.got):
                if m.WhichOneof("content") == content:
                    return self.got.pop(i)
            left = deadline - time.monotonic()
            assert left > 0, f"no {content} arrived within {timeout_s} s"
            data = await asyncio.wait_for(self.reader.read(65536), left)
            assert data, f"connection closed while waiting for {content}"
            frames, self.rest = parse(self.rest + data)
            for fr in frames:
                assert fr.message is not None, fr.error
                self.got.append(fr.message)

    async def closed(self, timeout_s: float = 5.0) -> bool:
        """True once the other side has closed (reads to the end)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while await self.reader.read(65536):
                    pass
                return True
        return False

    def close(self) -> None:
        self.writer.close()


@asynccontextmanager
async def sapient_server(detections: str) -> AsyncIterator[SapientServer]:
    server = SapientServer(reference_config(), detections, listen="127.0.0.1:0",
                           status_period_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(server.run(stop))
    await asyncio.wait_for(server.ready.wait(), 5)
    try:
        yield server
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def connect(server: SapientServer) -> Peer:
    assert server.address is not None
    return Peer(*await asyncio.open_connection(*server.address))


async def register(peer: Peer) -> SapientMessage:
    """Register with Dstl's reference Registration (node id changed to ours, time now)."""
    reg = from_json(read_text(data_dir("valid") / "Registration.FullMesssage.json"))
    reg.node_id = MODULE_ID
    reg.timestamp.CopyFrom(convert.timestamp(time.time()))
    await peer.send(reg)
    return await peer.next("registration_ack")


def test_module_to_daemon_to_export_upstream() -> None:
    site = reference_config().site
    upstream_msgs: asyncio.Queue[SapientMessage] = asyncio.Queue()

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A higher fusion node: acks the registration, queues everything else."""
        peer = Peer(reader, writer)
        try:
            reg = await peer.next("registration")
            assert validate(reg) == []
            await peer.send(convert.registration_ack(MODULE_ID, time.time(), reg.node_id, True))
            # A task from above: cuas answers it with a TaskAck refusing it.
            await peer.send(from_json(read_text(data_dir("valid") /
                                                "Task.FullMessage.LookAt.json")))
            while data := await reader.read(65536):
                frames, peer.rest = parse(peer.rest + data)
                for fr in frames:
                    assert fr.message is not None
                    await upstream_msgs.put(fr.message)
        finally:
            peer.close()

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as daemon, sapient_server(daemon.bound.detections) as server:
            await asyncio.wait_for(server.subscribed.wait(), 5)
            listener = await asyncio.start_server(upstream, "127.0.0.1", 0)
            port = listener.sockets[0].getsockname()[1]
            exporter = SapientExporter(reference_config(), daemon.bound.tracks,
                                       f"127.0.0.1:{port}", context=ctx)
            stop_export = asyncio.Event()
            export_task = asyncio.create_task(exporter.run(stop_export))
            await asyncio.wait_for(exporter.registered.wait(), 10)

            module = await connect(server)
            ack = await register(module)
            assert ack.registration_ack.acceptance is True
            assert validate(ack) == []
            await module.send(status_report(MODULE_ID, site.lat, site.lon, site.h))
            # A drone 300 m north-east of the site origin, climbing east at 8 m/s.
            object_id = new_ulid(time.time())
            sent = []
            for k in range(16):
                e, n, u = 200.0 + 8.0 * k * 0.15, 220.0, 60.0
                lat, lon, h = pymap3d.enu2geodetic(e, n, u, site.lat, site.lon, site.h)
                sent.append((e, n, u))
                await module.send(location_report(MODULE_ID, object_id, float(lat), float(lon),
                                                  float(h), vel=(8.0, 0.0, 0.0)))
                if k == 5:  # an invalid report mid-stream: answered, and the link goes on
                    bad = location_report(MODULE_ID, object_id, float(lat), float(lon),
                                          float(h))
                    bad.detection_report.ClearField("object_id")
                    await module.send(bad)
                    err = await module.next("error")
                    assert any("object_id" in r and "is_mandatory" in r
                               for r in err.error.error_message)
                    assert err.error.packet == bad.SerializeToString()
                await asyncio.sleep(0.15)

            # Upstream: a DetectionReport for the fused track, valid, near what was sent.
            deadline = time.monotonic() + 15
            report = task_ack = None
            while (report is None or task_ack is None) and time.monotonic() < deadline:
                msg = await asyncio.wait_for(upstream_msgs.get(), 15)
                if msg.WhichOneof("content") == "detection_report":
                    report = msg
                elif msg.WhichOneof("content") == "task_ack":
                    task_ack = msg
            assert report is not None, "no DetectionReport came out of the exporter"
            assert task_ack is not None and validate(task_ack) == []
            assert task_ack.task_ack.task_status == task_ack.task_ack.TASK_STATUS_REJECTED
            assert validate(report) == []
            raw = encode(report)
            frames, rest = parse(raw)
            assert rest == b"" and frames[0].message == report
            loc = report.detection_report.location
            e, n, u = pymap3d.geodetic2enu(loc.y, loc.x, loc.z, site.lat, site.lon, site.h)
            assert min(abs(e - s[0]) + abs(n - s[1]) for s in sent) < 40.0
            assert abs(u - 60.0) < 30.0
            classes = {c.type for c in report.detection_report.classification}
            assert classes == set(outbound.CLASS_TO_SAPIENT.values())
            assert report.detection_report.behaviour[0].type.startswith("Threat ")
            assert report.node_id == exporter.node_id

            c = server.all_counters()
            assert c["registrations"] == 1 and c["detections"] == 16 and c["published"] == 16
            assert c["rejected"] == 1 and c["rejected_is_mandatory"] == 1
            assert daemon.state.counters["received"] >= 16
            module.close()
            stop_export.set()
            summary = await asyncio.wait_for(export_task, 10)
            assert summary.counters["sent_registration"] == 1
            assert summary.counters["sent_detection_report"] >= 1
            listener.close()
        ctx.term()

    run_async(main, 90)


def test_reports_before_registration_are_refused_then_used() -> None:
    async def main() -> None:
        async with sapient_server("tcp://127.0.0.1:1") as server:
            module = await connect(server)
            site = reference_config().site
            await module.send(location_report(MODULE_ID, new_ulid(time.time()), site.lat,
                                              site.lon, 50.0))
            err = await module.next("error")
            assert "has not registered" in err.error.error_message[0]
            await register(module)
            await module.send(location_report(MODULE_ID, new_ulid(time.time()), site.lat,
                                              site.lon, 50.0))
            await module.send(status_report(MODULE_ID, site.lat, site.lon, site.h))
            await asyncio.sleep(0.2)
            c = server.all_counters()
            assert c["unregistered"] == 1 and c["detections"] == 1
            module.close()

    run_async(main, 30)


def test_garbage_and_truncated_frames_answered_and_link_stays_usable() -> None:
    async def main() -> None:
        async with sapient_server("tcp://127.0.0.1:1") as server:
            module = await connect(server)
            # A frame whose body is not protobuf: an Error echoing it, and the link goes on.
            junk = b"\xff\xff\xff\xff\x0f"
            await module.send(len(junk).to_bytes(4, "little") + junk)
            err = await module.next("error")
            assert err.error.packet == junk
            assert "not a SapientMessage" in err.error.error_message[0]
            # An empty frame decodes as an empty message: every mandatory rule fails.
            await module.send(b"\0\0\0\0")
            err = await module.next("error")
            assert any("timestamp" in r for r in err.error.error_message)
            # Still usable: the registration is acknowledged.
            ack = await register(module)
            assert ack.registration_ack.acceptance
            # A frame cut by the connection closing: counted as truncated, no reply.
            await module.send(b"\x10\0\0\0abc")
            module.writer.write_eof()
            assert await module.closed()
            await asyncio.sleep(0.1)
            c = server.all_counters()
            assert c["bad_protobuf"] == 1 and c["rejected_protobuf"] == 1
            assert c["truncated"] == 1 and c["registrations"] == 1
            module.close()

    run_async(main, 30)


def test_oversized_length_prefix_gets_error_and_clean_close() -> None:
    async def main() -> None:
        async with sapient_server("tcp://127.0.0.1:1") as server:
            module = await connect(server)
            await module.send((0xFFFFFFF0).to_bytes(4, "little") + b"x" * 100)
            err = await module.next("error")
            assert "exceeds the limit" in err.error.error_message[0]
            assert await module.closed()
            # The server itself is unharmed: a new connection registers.
            again = await connect(server)
            assert (await register(again)).registration_ack.acceptance
            again.close()
            module.close()
            assert server.all_counters()["oversized"] == 1

    run_async(main, 30)


def test_status_report_becomes_bus_status() -> None:
    """A module's StatusReport reaches the daemon as a ``status`` of its sensor id."""

    async def main() -> None:
        async with running_daemon() as daemon, sapient_server(daemon.bound.detections) as server:
            await asyncio.wait_for(server.subscribed.wait(), 5)
            module = await connect(server)
            await register(module)
            site = reference_config().site
            await module.send(status_report(MODULE_ID, site.lat, site.lon, site.h))
            deadline = time.monotonic() + 10
            # The status reached the daemon (health itself comes from detections only).
            while not daemon.state.counters["status_received"] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert daemon.state.counters["status_received"] >= 1
            node = server.state.nodes[MODULE_ID]
            assert node.info.origin is not None
            assert abs(node.info.origin[0] - site.lat) < 1e-9
            module.close()

    run_async(main, 30)



def test_curve_bus_carries_sapient_detections(tmp_path: Path) -> None:
    """On a site whose bus is encrypted, the fusion node publishes with its CURVE client
    keys and its detections reach the daemon."""
    site_cfg, keys = curve_site(tmp_path)
    client_bus = dataclasses.replace(site_cfg.bus, server_secret_key=None, allowed_clients=None,
                                     client_secret_key=str(keys / "sensor.key_secret"))
    sensor_cfg = dataclasses.replace(site_cfg, bus=client_bus)
    site = site_cfg.site

    async def main() -> None:
        daemon = Daemon(site_cfg, bus.Endpoints("tcp://127.0.0.1:*", "tcp://127.0.0.1:*"),
                        snapshot_hz=20.0, status_period_s=0.2)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 5)
        try:
            server = SapientServer(sensor_cfg, daemon.bound.detections, listen="127.0.0.1:0")
            stop_server = asyncio.Event()
            serving = asyncio.create_task(server.run(stop_server))
            await asyncio.wait_for(server.subscribed.wait(), 10)
            module = await connect(server)
            await register(module)
            for _ in range(3):
                await module.send(location_report(MODULE_ID, new_ulid(time.time()), site.lat,
                                                  site.lon, 120.0))
            deadline = time.monotonic() + 10
            while daemon.state.counters["received"] < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert daemon.state.counters["received"] >= 3
            module.close()
            stop_server.set()
            await asyncio.wait_for(serving, 10)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)

    run_async(main, 60)


def test_detections_before_the_daemon_subscribes_are_counted_as_dropped() -> None:
    async def main() -> None:
        async with sapient_server("tcp://127.0.0.1:1") as server:  # nobody listens there
            module = await connect(server)
            await register(module)
            site = reference_config().site
            for _ in range(2):
                await module.send(location_report(MODULE_ID, new_ulid(time.time()), site.lat,
                                                  site.lon, 50.0))
            deadline = time.monotonic() + 5
            while server.all_counters().get("detections", 0) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            c = server.all_counters()
            assert c["detections"] == 2 and c["dropped_no_subscriber"] == 2
            assert c.get("published", 0) == 0
            module.close()

    run_async(main, 30)
