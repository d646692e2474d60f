"""The array entry point through the engine and the live daemon: the same tracks as the
per-detection path, and the recorder's copy of every message byte for byte the same."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from itertools import islice
from pathlib import Path

import zmq.asyncio

from cuas import bus, wire
from cuas.config import Config, DaemonConfig, load_config, reference_config
from cuas.fusion.admission import Admission, RateLimitedLog
from cuas.fusion.daemon import _recorder_frames
from cuas.fusion.engine import FusionEngine
from cuas.record.recording import RecordingReader
from cuas.wire.arrays import ArrayDetections, decode_detections
from tests.fusion.test_daemon import Client, run_async, running_daemon, scenario

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_bundled_recording_gives_the_same_tracks_and_evidence_from_arrays() -> None:
    """Real feeds: the bundled radar's plots carry attrs (snr_db) and class evidence, and its
    radar is calibrated (RCS evidence): they take the array path, with the same snapshots,
    evidence and counters as the per-detection path."""
    config = load_config(ROOT / "configs" / "wembley.toml")
    a, b = FusionEngine(config), FusionEngine(config)
    kinds: Counter[str] = Counter()
    records = (r for r in RecordingReader(ROOT / "recordings" / "wembley-demo.mcap")
               if r.topic.startswith("det."))
    for k, record in enumerate(islice(records, 900)):
        fast, slow = decode_detections(record.payload), wire.decode(record.payload)
        assert isinstance(fast, wire.Detections) and isinstance(slow, wire.Detections)
        kinds[f"{fast.kind}/{type(fast).__name__}"] += 1
        assert _recorder_frames(fast) == bus.frames(slow)
        a.push(fast)
        b.push(slow)
        if k % 25 == 0 and a.time is not None:
            assert wire.encode(a.snapshot(a.time)) == wire.encode(b.snapshot(b.time))
    a.flush()
    b.flush()
    assert kinds["radar/ArrayDetections"] > 50 and not kinds["radar/Detections"]
    assert a.counters == b.counters and a.counters["evidence_used"] > 0
    assert wire.encode(a.snapshot(a.time)) == wire.encode(b.snapshot(b.time))


def test_attrs_over_the_cap_are_removed_from_an_array_message() -> None:
    config = Config(daemon=DaemonConfig(max_attrs_bytes=64))
    counters: Counter[str] = Counter()
    gate = Admission(config, counters, OrderedDict(), RateLimitedLog(logging.getLogger("t")),
                     replay=True)
    dets = [wire.Detection(frame="enu", z=(300.0, 200.0 + k, 80.0), sigma=(3.0,) * 3,
                           attrs={"blob": "y" * 200} if k == 1 else {"snr_db": 10.0})
            for k in range(3)]
    payload = wire.encode(wire.Detections(src="r", seq=0, t=1.8e9, sensor="r", kind="radar",
                                          dets=tuple(dets)))
    msg = decode_detections(payload)
    assert isinstance(msg, ArrayDetections)
    out = gate.admit("det.r", msg, 1.8e9, len(payload))
    assert isinstance(out, ArrayDetections) and counters["attrs_removed"] == 1
    assert [d.attrs for d in out.dets] == [{"snr_db": 10.0}, {}, {"snr_db": 10.0}]
    assert msg.dets[1].attrs == {"blob": "y" * 200}  # the received message is not changed
