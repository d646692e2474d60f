"""The array entry point through the engine and the live daemon: the same tracks as the
per-detection path, and the recorder's copy of every message byte for byte the same."""

from __future__ import annotations

import asyncio

import zmq.asyncio

from cuas import bus, wire
from cuas.config import reference_config
from cuas.fusion.engine import FusionEngine
from cuas.wire.arrays import ArrayDetections, decode_detections
from tests.fusion.test_daemon import Client, run_async, running_daemon, scenario


def test_engine_gives_the_same_tracks_from_arrays_as_from_objects() -> None:
    sim = scenario()
    arrays = [decode_detections(wire.encode(b)) for b in sim.batches]
    assert sum(isinstance(b, ArrayDetections) for b in arrays) >= len(arrays) // 2
    a, b = FusionEngine(reference_config()), FusionEngine(reference_config())
    for fast, slow in zip(arrays, sim.batches, strict=True):
        assert isinstance(fast, wire.Detections)
        a.push(fast)
        b.push(slow)
        assert wire.encode(a.snapshot(slow.t)) == wire.encode(b.snapshot(slow.t))
    a.flush()
    b.flush()
    t_end = sim.batches[-1].t
    assert wire.encode(a.snapshot(t_end)) == wire.encode(b.snapshot(t_end))
    assert a.counters == b.counters


def test_the_daemon_republishes_array_messages_unchanged() -> None:
    sim = scenario()
    batches = sim.batches[:40]

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as daemon:
            recorder = bus.sub_socket(ctx, daemon.bound.tracks, bind=False, topics=("det.",))
            await asyncio.sleep(0.3)  # the recorder's subscription reaches the daemon
            client = Client(ctx, daemon)
            await client.ready()
            for batch in batches:
                await client.pub.send_multipart(bus.frames(batch))
            for batch in batches:
                topic, payload = await asyncio.wait_for(recorder.recv_multipart(), 10)
                assert topic == f"det.{batch.sensor}".encode()
                assert payload == wire.encode(batch)
            recorder.close(0)
            client.close()
        ctx.term()

    run_async(main)
