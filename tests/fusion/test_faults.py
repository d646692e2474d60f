"""Faults: kill -9 of the daemon and of the recorder under load, a daemon restart that sensors
and operators ride out, a sensor that restarts, clock jumps, and fuzzing of what the daemon
and the recording reader accept. Real processes, real ZeroMQ on 127.0.0.1, every run bounded.

Fuzzing already elsewhere (not repeated here): wire messages (tests/wire/test_codec.py), Beast/SBS/AVR
framing (tests/sensors/adsb/test_adsb_framing.py), configuration (tests/test_config.py), cut
recordings (tests/record/test_recording.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest
import zmq
import zmq.asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas import bus, wire
from cuas.config import Config, TrackerConfig
from cuas.errors import RecordingError
from cuas.fusion.daemon import Daemon
from cuas.record.recording import RecordingReader
from cuas.record.writer import RecordingWriter
from tests.fusion.test_daemon import LOOPBACK, Client, running_daemon

ROOT = Path(__file__).resolve().parents[2]
#: Sensor batches per second in the process tests.
RATE_HZ = 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cuas(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NOTIFY_SOCKET", None)
    return subprocess.Popen([sys.executable, "-m", "cuas.cli.main", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill9(proc)


def _batch(seq: int, t: float, k: float = 0.0) -> wire.Detections:
    """One look of a radar at a target drifting east at 1 m/s (metres ENU, UTC s)."""
    det = wire.Detection(frame="enu", z=(300.0 + k, 200.0, 80.0), sigma=(3.0, 3.0, 3.0))
    return wire.Detections(src="radar-1", seq=seq, t=t, sensor="radar-1", kind="radar",
                           dets=(det,))


async def _wait_for(sub: zmq.asyncio.Socket, want: Callable[[wire.Message], object],
                    timeout_s: float) -> wire.Message:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if await sub.poll(timeout=100):
            try:
                _, msg = bus.parse_frames(await sub.recv_multipart())
            except Exception:
                continue
            if want(msg):
                return msg
    raise AssertionError("nothing matching arrived in time")


def test_kill9_of_daemon_and_recorder_under_load(tmp_path: Path) -> None:
    """The daemon is killed with SIGKILL under load and restarted on the same ports; the sensor
    and operator sockets (never reopened) and the recorder recover by themselves. Then the
    recorder is killed with SIGKILL: its file is readable and lacks at most ~1 s."""
    det_port, trk_port = _free_port(), _free_port()
    det, trk = f"tcp://127.0.0.1:{det_port}", f"tcp://127.0.0.1:{trk_port}"
    out = tmp_path / "audit.mcap"
    procs: list[subprocess.Popen[bytes]] = []

    def daemon() -> subprocess.Popen[bytes]:
        p = _cuas("run", "--det-endpoint", det, "--trk-endpoint", trk, "--snapshot-hz", "10")
        procs.append(p)
        return p

    async def main() -> dict[str, float]:
        ctx = zmq.asyncio.Context()
        sensor = bus.xpub_socket(ctx, det)
        operator = bus.sub_socket(ctx, trk, bind=False)
        first = daemon()
        assert await bus.wait_for_subscriber(sensor, "det.", 30.0)
        recorder = _cuas("record", "--out", str(out), "--trk-endpoint", trk)
        procs.append(recorder)
        await _wait_for(operator, lambda m: isinstance(m, wire.Status), 30.0)
        await asyncio.sleep(1.0)  # the recorder's subscription
        sent: dict[int, float] = {}
        seq = 0

        async def send_for(seconds: float) -> None:
            nonlocal seq
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                now = time.time()
                try:
                    await sensor.send_multipart(bus.frames(_batch(seq, now, seq * 0.01)),
                                                flags=zmq.NOBLOCK)
                    sent[seq] = now
                except zmq.Again:
                    pass
                seq += 1
                await asyncio.sleep(1.0 / RATE_HZ)

        await send_for(2.0)
        killed_daemon_at = time.time()
        _kill9(first)
        await send_for(0.5)  # into the void: the daemon is dead
        daemon()
        # What a sensor sends before the new daemon has subscribed is dropped at the sensor's
        # socket (and counted by the adapters): "lost" starts when the daemon died and ends
        # when its successor is listening.
        assert await bus.wait_for_subscriber(sensor, "det.", 30.0)
        restarted_at = time.time()
        await send_for(3.0)
        # The operator's SUB, never reopened, gets the new daemon's picture.
        fresh = await _wait_for(operator, lambda m: isinstance(m, wire.Tracks) and m.tracks
                                and m.t > restarted_at, 15.0)
        assert isinstance(fresh, wire.Tracks)
        killed_recorder_at = time.time()
        _kill9(recorder)
        sensor.close(0)
        operator.close(0)
        ctx.term()

        # The recording: readable to its last complete chunk, both daemons' traffic in it.
        reader = RecordingReader(out)
        records = list(reader)
        det_seqs = {}
        for r in records:
            if r.topic == "det.radar-1":
                msg = wire.decode(r.payload)
                assert isinstance(msg, wire.Detections)
                det_seqs[msg.seq] = r.log_time_ns / 1e9
        topics = {r.topic for r in records}
        assert {"det.radar-1", "trk"} <= topics and any(t.startswith("status.") for t in topics)
        before = [s for s, t in sent.items() if t < killed_daemon_at - 0.5]
        after = [s for s, t in sent.items() if restarted_at + 0.5 < t < killed_recorder_at - 1.5]
        assert before and after
        assert set(before) <= det_seqs.keys()  # nothing accepted before the kill was lost
        assert set(after) <= det_seqs.keys()   # the recorder rode out the daemon's death
        last_recorded = max(det_seqs.values())
        return {"recorder_loss_s": killed_recorder_at - last_recorded,
                "records": float(len(records)),
                "daemon_outage_s": restarted_at - killed_daemon_at}

    try:
        figures = asyncio.run(asyncio.wait_for(main(), 90))
    finally:
        for p in procs:
            _stop(p)
    print(f"kill -9 of the recorder lost the last {figures['recorder_loss_s']:.2f} s "
          f"({figures['records']:.0f} records readable); the daemon was back "
          f"{figures['daemon_outage_s']:.2f} s after its kill -9")
    # The writer closes a chunk every second at most: ~1 s lost, with slack for a busy machine.
    assert figures["recorder_loss_s"] < 2.0


def test_a_sensor_that_restarts_from_seq_0_is_accepted_and_gaps_are_not_invented() -> None:
    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as daemon:
            for _run in range(2):  # the sensor process restarts: new socket, seq from 0
                client = Client(ctx, daemon)
                await client.ready()
                for k in range(5):
                    await client.pub.send_multipart(bus.frames(_batch(k, time.time(), k)))
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
                client.close()
            health = daemon.state.sensors["radar-1"]
            assert health.received == 10
            assert health.seq_gaps == 0
        ctx.term()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_clock_jumps_in_sensor_time_stamps_are_dropped_and_counted_and_tracking_goes_on() -> None:
    config = Config(tracker=TrackerConfig(lateness_s=0.05))

    async def main() -> None:
        ctx = zmq.asyncio.Context()
        daemon = Daemon(config, LOOPBACK, snapshot_hz=50.0, status_period_s=0.1)
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await daemon.ready.wait()
        client = Client(ctx, daemon)
        await client.ready()
        seq = 0

        async def look(jump_s: float = 0.0) -> None:
            nonlocal seq
            await client.pub.send_multipart(bus.frames(_batch(seq, time.time() + jump_s,
                                                              seq * 0.1)))
            seq += 1
            await asyncio.sleep(0.1)

        for _ in range(6):
            await look()
        await look(+3600.0)  # the sensor's clock leaps an hour ahead
        await look(-30.0)    # ... and 30 s back
        await look(+3600.0)
        for _ in range(6):
            await look()
        # Every sound look was fused; the three that jumped were dropped and counted.
        status = await client.next(lambda topic, m: isinstance(m, wire.Status)
                                   and m.counters.get("batches_fused", 0) == 12)
        assert isinstance(status, wire.Status)
        c = status.counters
        # Live, a batch stamped ahead of the wall clock is refused on arrival (the fusion
        # clock never runs ahead of it); the one 30 s back is late.
        assert c["dropped_clock_ahead"] + c["dropped_future"] + c["dropped_late"] == 3, c
        assert c["dropped_clock_ahead"] == 2
        msg = await client.next(lambda topic, m: isinstance(m, wire.Tracks)
                                and abs(m.t - time.time()) < 2.0)
        assert isinstance(msg, wire.Tracks)
        # One track, still where the target is: the jumps neither moved it nor split it.
        confirmed = [t for t in msg.tracks if t.status == "confirmed"]
        assert len(confirmed) == 1
        assert abs(confirmed[0].enu[0] - 301.0) < 15.0 and abs(confirmed[0].enu[1] - 200.0) < 15.0
        stop.set()
        await asyncio.wait_for(task, 10)
        client.close()
        ctx.term()

    asyncio.run(asyncio.wait_for(main(), 60))


# ---------------------------------------------------------------------------- fuzzing

#: Random multipart messages: any number of frames, random bytes, or msgpack of random
#: structures, or valid-looking envelopes with junk inside.
_junk = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
_envelope = st.fixed_dictionaries({"type": st.sampled_from(["detections", "status", "tracks",
                                                            "alert", "nope"]),
                                   "src": st.text(max_size=10),
                                   "seq": st.integers(-(2**63), 2**64 - 1),
                                   "t": st.floats()}, optional={"dets": _junk,
                                                                 "sensor": _junk})
_payload = st.one_of(st.binary(max_size=200), _junk.map(
    lambda o: msgpack.packb(o, use_bin_type=True)), _envelope.map(
    lambda o: msgpack.packb(o, use_bin_type=True)))
_message = st.lists(st.one_of(st.sampled_from([b"det.x", b"status.x", b"\xff\xfe"]),
                              _payload), min_size=0, max_size=4)


@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_message, min_size=1, max_size=40))
def test_fuzzed_frames_never_stop_the_daemon_and_every_one_is_counted(
        messages: list[list[bytes]]) -> None:
    """12 examples x up to 40 random multipart messages at a live daemon; after them a valid
    batch is still accepted and every message that passed the subscription was received."""
    async def main() -> None:
        ctx = zmq.asyncio.Context()
        async with running_daemon() as daemon:
            client = Client(ctx, daemon)
            await client.ready()
            sent = 0
            for parts in messages:
                if parts:  # ZeroMQ cannot send an empty multipart message
                    await client.pub.send_multipart(parts)
                    # The daemon subscribes to det. and status.: ZeroMQ filters the rest.
                    sent += parts[0].startswith((b"det.", b"status."))
            await client.pub.send_multipart(bus.frames(_batch(10**6, time.time())))
            deadline = time.monotonic() + 10
            while daemon.state.counters["received"] < sent + 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            c = daemon.state.counters
            assert c["received"] == sent + 1
            assert daemon.state.sensors["radar-1"].received >= 1
            client.close()
        ctx.term()

    asyncio.run(asyncio.wait_for(main(), 60))


@pytest.fixture(scope="module")
def good_recording(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("rec") / "good.mcap"
    with RecordingWriter(path, chunk_size=600) as w:
        for k in range(60):
            msg = _batch(k, 1_800_000_000.0 + k * 0.1)
            w.write(wire.topic_for(msg), wire.encode(msg), log_time_ns=k, publish_time_ns=k)
    return path.read_bytes()


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                max_size=8))
def test_corrupted_recordings_never_crash_the_reader(
        good_recording: bytes, tmp_path_factory: pytest.TempPathFactory,
        flips: list[tuple[int, int]]) -> None:
    """150 recordings with 1-8 bytes overwritten anywhere (header, chunks, CRCs, summary): the
    reader yields what it can and counts the rest, or refuses the file with RecordingError."""
    data = bytearray(good_recording)
    for where, value in flips:
        data[where % len(data)] = value
    path = tmp_path_factory.mktemp("bad") / "bad.mcap"
    path.write_bytes(bytes(data))
    try:
        reader = RecordingReader(path)
        records = list(reader)
    except RecordingError:
        return
    assert len(records) <= 60
    for r in records:
        assert isinstance(r.topic, str) and isinstance(r.payload, bytes)
