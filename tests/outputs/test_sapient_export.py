"""``cuas sapient export`` on its own: fed by a real ZeroMQ PUB standing for the daemon, sending to
a real TCP listener standing for the higher node; reconnects after the link drops, and a full
queue drops its oldest message and counts it."""

from __future__ import annotations

import asyncio
import time

import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.config import reference_config
from cuas.outputs.sapient import SapientExporter
from cuas.sapient import convert
from cuas.sapient.framing import parse
from cuas.sapient.proto import SapientMessage
from cuas.sapient.validate import validate
from tests.fusion.test_daemon import run_async
from tests.sapient.conftest import MODULE_ID
from tests.sapient.test_node import Peer


def snapshot(seq: int, status: str = "confirmed") -> wire.Tracks:
    trk = wire.Track(id=11, status=status, lla=(51.556, -0.279, 150.0), enu=(0, 0, 60),
                     vel=(5.0, 0.0, 0.0), pos_sigma=(4.0, 4.0, 6.0), t_update=time.time(),
                     sources=("radar-north",),
                     class_probs={"uav": 0.85, "bird": 0.05, "manned": 0.05, "clutter": 0.05},
                     threat="medium")
    return wire.Tracks(src="cuas", seq=seq, t=time.time(), tracks=(trk,))


def test_reconnects_and_registers_again_after_the_link_drops() -> None:
    received: asyncio.Queue[tuple[int, SapientMessage]] = asyncio.Queue()
    sessions = 0

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sessions
        sessions += 1
        session = sessions
        peer = Peer(reader, writer)
        try:
            reg = await peer.next("registration")
            await received.put((session, reg))
            await peer.send(convert.registration_ack(MODULE_ID, time.time(), reg.node_id, True))
            if session == 1:
                return  # drop the first link at once
            while data := await reader.read(65536):
                frames, peer.rest = parse(peer.rest + data)
                for fr in frames:
                    assert fr.message is not None
                    await received.put((session, fr.message))
        finally:
            peer.close()

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        pub = bus.pub_socket(ctx, "tcp://127.0.0.1:*", bind=True)
        tracks_endpoint = pub.getsockopt_string(zmq.LAST_ENDPOINT)
        listener = await asyncio.start_server(upstream, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        exporter = SapientExporter(reference_config(), tracks_endpoint, f"127.0.0.1:{port}",
                                   context=ctx)
        stop = asyncio.Event()
        task = asyncio.create_task(exporter.run(stop))
        try:
            kinds: dict[int, list[str]] = {1: [], 2: []}
            deadline = time.monotonic() + 20
            seq = 0
            while "detection_report" not in kinds[2] and time.monotonic() < deadline:
                seq += 1
                await pub.send_multipart(bus.frames(snapshot(seq)))
                try:
                    session, msg = await asyncio.wait_for(received.get(), 0.2)
                except TimeoutError:
                    continue
                assert validate(msg) == []
                kinds[session].append(msg.WhichOneof("content"))
            assert kinds[1] == ["registration"]
            assert kinds[2][0] == "registration" and "detection_report" in kinds[2]
            assert "status_report" in kinds[2]
        finally:
            stop.set()
            summary = await asyncio.wait_for(task, 10)
            listener.close()
            pub.close(0)
            ctx.term()
        assert summary.counters["connects"] >= 2 and summary.counters["disconnects"] >= 1
        assert summary.counters["sent_registration"] >= 2

    run_async(main, 60)


def test_full_queue_drops_the_oldest_and_counts() -> None:
    async def main() -> None:
        exporter = SapientExporter(reference_config(), "tcp://127.0.0.1:1", "127.0.0.1:1",
                                   queue_size=3)
        for seq in range(1, 8):
            exporter.take(snapshot(seq))
        exporter.take(wire.Alert(src="cuas", seq=1, t=time.time(), track_id=11,
                                 threat="high", previous="medium", reasons=("fast inbound",)))
        assert exporter.counters["snapshots"] == 7 and exporter.counters["alerts"] == 1
        assert exporter.counters["dropped_queue_full"] == 5
        queued = list(exporter._queue)
        assert [m.WhichOneof("content") for m in queued] == [
            "detection_report", "detection_report", "alert"]
        # Tentative tracks are not exported unless asked.
        exporter.take(snapshot(9, "tentative"))
        assert len(exporter._queue) == 3 and exporter.counters["dropped_queue_full"] == 5

    run_async(main, 10)
