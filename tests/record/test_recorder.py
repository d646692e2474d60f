"""``cuas record`` on real ZeroMQ sockets bound to 127.0.0.1 (ephemeral ports only)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest
import zmq
import zmq.asyncio

from cuas import bus, wire
from cuas.cli.common import site_config
from cuas.cli.main import main
from cuas.config import reference_config
from cuas.fusion.offline import replay_offline
from cuas.record.bus_replay import replay_on_bus
from cuas.record.recorder import Recorder, payload_time_ns
from cuas.record.recording import Record, RecordingReader, t_to_ns
from cuas.record.writer import RecordingWriter
from cuas.sim import generators as sim
from tests.bus_helpers import LOOPBACK_ANY
from tests.bus_helpers import run_bounded as run

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "data" / "wembley-25s.mcap"  # a cut of the bundled scenario





def sim_batches(n: int = 20, seed: int = 3) -> list[wire.Detections]:
    params = sim.SimParams(seed=seed, n_targets=4, duration_s=float(n), clutter_per_scan=3.0)
    return list(sim.simulate(params, reference_config().site).batches)


def tracks_lines(path: Path) -> list[str]:
    """What ``cuas replay --offline`` without --config writes: the bundled site's tracks."""
    out = io.StringIO()
    replay_offline(path, out, site_config(None))
    return out.getvalue().splitlines()


async def until(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_payload_time() -> None:
    assert payload_time_ns(msgpack.packb({"t": 1790000000.04})) == 1790000000040000000
    assert payload_time_ns(msgpack.packb({"t": 5})) == 5_000_000_000
    for bad in (b"", b"\xc1", msgpack.packb([1, 2]), msgpack.packb({"t": "now"}),
                msgpack.packb({"t": True}), msgpack.packb({"t": float("nan")}),
                msgpack.packb({"t": -1.0}), msgpack.packb({"t": 1e300}), msgpack.packb({})):
        assert payload_time_ns(bad) is None


def test_records_what_the_bus_carries_byte_for_byte(tmp_path: Path) -> None:
    """Topics, payloads (even undecodable ones), times; malformed frames are dropped, counted."""
    out = tmp_path / "rec.mcap"
    dets = [wire.encode(b) for b in sim_batches(5)]
    sent = [("det.radar-sim", p) for p in dets]
    sent += [("trk", msgpack.packb({"v": 1, "type": "tracks", "t": 1790000000.5, "tracks": []})),
             ("status.cuas", b"\xc1 not msgpack"),
             ("alert", msgpack.packb({"t": "yesterday"}))]

    async def scenario() -> Recorder:
        ctx = zmq.asyncio.Context()
        pub = ctx.socket(zmq.XPUB)
        pub.bind(LOOPBACK_ANY)
        endpoint = pub.getsockopt_string(zmq.LAST_ENDPOINT)
        rec = Recorder(out, tracks_endpoint=endpoint, context=ctx)
        stop = asyncio.Event()
        task = asyncio.create_task(rec.run(stop))
        try:
            assert await bus.wait_for_subscriber(pub, "det.radar-sim", 5.0)
            for topic, payload in sent:
                await pub.send_multipart([topic.encode(), payload])
            await pub.send_multipart([b"only one frame"])
            await pub.send_multipart([b"\xff\xfe", b"\x80"])  # topic not UTF-8
            await pub.send_multipart([b"det.x", b"\x80", b"a third frame"])
            await until(lambda: rec.messages + rec.malformed == len(sent) + 3, 10, "messages")
            stop.set()
            await task
        finally:
            pub.close(linger=0)
            ctx.term()
        return rec

    before = time.time_ns()
    rec = run(scenario)
    after = time.time_ns()
    summary = rec.summary()
    assert summary.messages == len(sent) and summary.malformed == 3 and summary.untimed == 2
    assert summary.per_topic == {"det.radar-sim": 5, "trk": 1, "status.cuas": 1, "alert": 1}
    assert summary.payload_bytes == sum(len(p) for _, p in sent)
    assert summary.file_bytes == out.stat().st_size
    assert "recorded 8 messages" in summary.line()

    reader = RecordingReader(out)
    records = list(reader)
    assert not reader.torn and reader.skipped == 0
    assert [(r.topic, r.payload) for r in records] == sent
    for r in records:
        assert before <= r.log_time_ns <= after
    assert [r.publish_time_ns for r in records[:5]] == [t_to_ns(wire.decode(p).t) for p in dets]
    assert records[5].publish_time_ns == t_to_ns(1790000000.5)
    assert all(r.publish_time_ns == r.log_time_ns for r in records[6:])  # no readable t


def test_record_stops_after_its_duration(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)  # something to connect to; it sends nothing
    pub.bind(LOOPBACK_ANY)
    endpoint = pub.getsockopt_string(zmq.LAST_ENDPOINT)
    out = tmp_path / "sub" / "quiet.mcap"
    try:
        started = time.monotonic()
        assert main(["record", "--out", str(out), "--duration", "0.3",
                     "--trk-endpoint", endpoint]) == 0
        assert 0.25 <= time.monotonic() - started < 10
    finally:
        pub.close(linger=0)
        ctx.term()
    reader = RecordingReader(out)
    assert list(reader) == [] and not reader.torn
    err = capsys.readouterr().err
    assert f"connected to {endpoint}" in err and "recorded 0 messages" in err


def test_record_bind_error_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = zmq.Context()
    taken = ctx.socket(zmq.SUB)
    taken.bind(LOOPBACK_ANY)  # the port a daemon would hold
    endpoint = taken.getsockopt_string(zmq.LAST_ENDPOINT)
    try:
        assert main(["record", "--out", str(tmp_path / "x.mcap"), "--duration", "0.1",
                     "--trk-endpoint", endpoint, "--det-endpoint", endpoint,
                     "--bind-detections"]) == 1
    finally:
        taken.close(linger=0)
        ctx.term()
    assert "cuas record: error: cannot" in capsys.readouterr().err


def _start_recorder(out: Path, trk_endpoint: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cuas.cli.main", "record", "--out", str(out),
         "--trk-endpoint", trk_endpoint],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _records_on_disk(path: Path) -> list[Record]:
    return list(RecordingReader(path)) if path.exists() else []


@pytest.mark.parametrize("how", ["kill", "term"])
def test_recorder_process_killed_or_stopped(tmp_path: Path, how: str) -> None:
    """kill -9: the file holds every message flushed by the ~1 s timer and replays up to its
    last complete record; SIGTERM: the file is closed properly (summary, footer)."""
    source = tmp_path / "source.mcap"
    batches = sim_batches(20)
    with RecordingWriter(source) as w:
        for b in batches:
            w.write_message(b)
    payloads = [r.payload for r in RecordingReader(source)]
    out = tmp_path / "captured.mcap"

    async def scenario() -> subprocess.Popen[bytes]:
        ctx = zmq.asyncio.Context()
        pub = ctx.socket(zmq.XPUB)
        pub.bind(LOOPBACK_ANY)
        proc = _start_recorder(out, pub.getsockopt_string(zmq.LAST_ENDPOINT))
        try:
            assert await bus.wait_for_subscriber(pub, "det.", 15.0), "recorder never subscribed"
            for p in payloads:
                await pub.send_multipart([b"det.radar-sim", p])
            sent_at = time.monotonic()
            # No more messages: only the recorder's timer can flush the open chunk.
            await until(lambda: len(_records_on_disk(out)) == len(payloads), 10, "timed flush")
            assert time.monotonic() - sent_at < 5
            proc.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 10)
            return proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            pub.close(linger=0)
            ctx.term()

    proc = run(scenario, timeout_s=30)
    reader = RecordingReader(out)
    records = list(reader)
    assert [r.payload for r in records] == payloads
    if how == "kill":
        assert proc.returncode == -signal.SIGKILL
        assert reader.torn  # no summary, no footer: cut short
        assert main(["replay", str(out), "--offline", "--tracks-out",
                     str(tmp_path / "t.jsonl")]) == 0
        assert (tmp_path / "t.jsonl").read_text().splitlines() == tracks_lines(source)
    else:
        assert proc.returncode == 0
        assert not reader.torn
        assert b"recorded 20 messages (det.radar-sim 20)" in proc.stderr.read()  # type: ignore[union-attr]


def test_record_replay_offline_round_trip(tmp_path: Path) -> None:
    """recording -> replay on the bus -> recorder (standalone bind) -> offline replay gives the
    very same tracks as the offline replay of the original."""
    captured = tmp_path / "captured.mcap"
    original = list(RecordingReader(DEMO))

    async def scenario() -> None:
        ctx = zmq.asyncio.Context()
        rec = Recorder(captured, tracks_endpoint=None, bind_detections=LOOPBACK_ANY, context=ctx)
        assert rec.detections_endpoint is not None
        assert rec.detections_endpoint.startswith("tcp://127.0.0.1:")
        stop = asyncio.Event()
        task = asyncio.create_task(rec.run(stop))
        try:
            summary = await replay_on_bus(DEMO, rec.detections_endpoint, speed=0, wait_s=5.0)
            assert summary.sent == len(original)
            await until(lambda: rec.messages == len(original), 10, "the recorder")
        finally:
            stop.set()
            await task
            ctx.term()

    run(scenario)
    records = list(RecordingReader(captured))
    assert [(r.topic, r.payload, r.publish_time_ns) for r in records] == [
        (r.topic, r.payload, r.publish_time_ns) for r in original]
    want = tracks_lines(DEMO)
    assert len(want) == len(original)
    assert tracks_lines(captured) == want
