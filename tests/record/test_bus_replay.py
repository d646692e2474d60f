"""``cuas replay --bus`` on real ZeroMQ sockets bound to 127.0.0.1 (ephemeral ports only)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from cuas import bus
from cuas.cli.main import main
from cuas.errors import NoSubscriberError
from cuas.record.bus_replay import ReplayBusSummary, replay_on_bus
from cuas.record.recording import RecordingReader, t_to_ns
from cuas.record.writer import RecordingWriter
from tests.bus_helpers import LOOPBACK_ANY
from tests.bus_helpers import run_bounded as run

ROOT = Path(__file__).resolve().parents[2]
# A 25-second cut of the bundled stadium scenario (every sensor kind); the full demo is 8,000
# messages, too many for transport tests.
DEMO = ROOT / "tests" / "data" / "wembley-25s.mcap"
N_DEMO = 239
T0 = 1_790_000_000.0





def bound_sub(ctx: zmq.asyncio.Context, topics: tuple[str, ...] = ("det.",)) -> tuple[
        zmq.asyncio.Socket, str]:
    """A SUB bound on an ephemeral loopback port, as the daemon binds one; and its endpoint."""
    sock = bus.sub_socket(ctx, LOOPBACK_ANY, bind=True, topics=topics)
    return sock, sock.getsockopt_string(zmq.LAST_ENDPOINT)


async def receive(sock: zmq.asyncio.Socket, n: int, timeout_s: float = 10.0) -> list[list[bytes]]:
    """Receive ``n`` messages (frames), failing after ``timeout_s``."""
    got: list[list[bytes]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"received only {len(got)} of {n} messages"
        if await sock.poll(timeout=int(left * 1000)):
            got.append(await sock.recv_multipart())
    return got


def write_records(path: Path, records: list[tuple[str, bytes, float]]) -> None:
    """A recording of (topic, payload, t in UTC s) records, in order."""
    with RecordingWriter(path) as w:
        for topic, payload, t in records:
            w.write(topic, payload, log_time_ns=t_to_ns(t), publish_time_ns=t_to_ns(t))


async def replay_into_sub(path: Path, *, speed: float, topics: tuple[str, ...] = ("det.",),
                          expect: int) -> tuple[ReplayBusSummary, list[list[bytes]], float]:
    ctx = zmq.asyncio.Context()
    sub, endpoint = bound_sub(ctx, topics)
    try:
        started = time.monotonic()
        replay = asyncio.create_task(replay_on_bus(path, endpoint, speed=speed, wait_s=5.0))
        got = await receive(sub, expect)
        summary = await replay
        elapsed = time.monotonic() - started
        assert not await sub.poll(timeout=100), "more messages than expected"
        return summary, got, elapsed
    finally:
        sub.close(linger=0)
        ctx.term()


def test_every_detection_arrives_byte_for_byte_and_in_order() -> None:
    want = [(r.topic.encode(), r.payload) for r in RecordingReader(DEMO)]
    assert len(want) == N_DEMO
    summary, got, _ = run(lambda: replay_into_sub(DEMO, speed=0, expect=len(want)))
    assert [(a, b) for a, b in got] == want
    assert summary.sent == N_DEMO and summary.skipped == 0 and summary.records == N_DEMO
    assert summary.bytes_sent == sum(len(p) for _, p in want)
    assert not summary.torn
    # First to last message time in file order (receipt order: sensors' latencies differ).
    times = [r.publish_time_ns for r in RecordingReader(DEMO)]
    assert summary.span_s == pytest.approx((times[-1] - times[0]) / 1e9)


def test_only_detections_are_published_byte_for_byte(tmp_path: Path) -> None:
    rec = tmp_path / "mixed.mcap"
    records = [
        ("det.a", b"\x81\xa1t\xcbA\xda\xabP\x88\x00\x00\x00", T0),
        ("trk", b"\x80", T0 + 0.1),
        ("status.cuas", b"\x80", T0 + 0.2),
        ("alert", b"\x80", T0 + 0.3),
        ("det.b", b"not msgpack at all: published as it is", T0 + 0.4),
        ("det.a", b"\x80", T0 + 0.5),
    ]
    write_records(rec, records)
    summary, got, _ = run(lambda: replay_into_sub(rec, speed=0, topics=("",), expect=3))
    assert got == [[t.encode(), p] for t, p, _ in records if t.startswith("det.")]
    assert (summary.sent, summary.skipped, summary.records) == (3, 3, 6)


def test_pacing_follows_publish_times(tmp_path: Path) -> None:
    rec = tmp_path / "two-seconds.mcap"
    # 2 s of recording; one record goes back in time (a late batch) and is sent at once.
    times = [T0, T0 + 0.5, T0 + 1.0, T0 + 0.8, T0 + 1.5, T0 + 2.0]
    write_records(rec, [("det.r", f"{i}".encode(), t) for i, t in enumerate(times)])
    summary, got, elapsed = run(lambda: replay_into_sub(rec, speed=4, expect=len(times)))
    assert [p for _, p in got] == [f"{i}".encode() for i in range(len(times))]
    assert 0.4 <= elapsed < 5.0  # 0.5 s expected
    assert 0.4 <= summary.elapsed_s < 5.0
    assert summary.span_s == pytest.approx(2.0)
    _, _, fast = run(lambda: replay_into_sub(rec, speed=0, expect=len(times)))
    assert fast < 0.4


def test_nothing_is_dropped_when_the_subscriber_is_slow(tmp_path: Path) -> None:
    """Queues far smaller than the recording and a subscriber that reads late: the replay waits
    for room instead of letting ZeroMQ drop (a plain PUB would lose most of these)."""
    rec = tmp_path / "big.mcap"
    n = 300
    write_records(rec, [("det.r", i.to_bytes(4, "big") * 16_384, T0 + i) for i in range(n)])

    async def scenario() -> list[list[bytes]]:
        ctx = zmq.asyncio.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 4)
        sub.setsockopt(zmq.RCVBUF, 65536)
        sub.setsockopt(zmq.SUBSCRIBE, b"det.")
        sub.bind(LOOPBACK_ANY)
        endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
        try:
            replay = asyncio.create_task(replay_on_bus(rec, endpoint, speed=0, wait_s=5.0, hwm=4))
            await asyncio.sleep(0.5)  # let the queues fill up
            got = await receive(sub, n, timeout_s=15.0)
            summary = await replay
            assert summary.sent == n
            return got
        finally:
            sub.close(linger=0)
            ctx.term()

    got = run(scenario)
    assert [p[:4] for _, p in got] == [i.to_bytes(4, "big") for i in range(n)]


def test_no_subscriber_is_a_clear_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        ctx = zmq.asyncio.Context()
        sub, endpoint = bound_sub(ctx, topics=())  # bound, but subscribed to nothing
        try:
            with pytest.raises(NoSubscriberError, match="nobody subscribed"):
                await replay_on_bus(DEMO, endpoint, speed=0, wait_s=0.3)
        finally:
            sub.close(linger=0)
            ctx.term()

    run(scenario)


def test_progress_bar_is_drawn_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    run(lambda: replay_into_sub(DEMO, speed=0, expect=N_DEMO))
    assert capsys.readouterr().err == ""

    async def with_bar() -> ReplayBusSummary:
        ctx = zmq.asyncio.Context()
        sub, endpoint = bound_sub(ctx)
        try:
            replay = asyncio.create_task(replay_on_bus(DEMO, endpoint, speed=0, wait_s=5.0,
                                                       progress=True))
            await receive(sub, N_DEMO)
            return await replay
        finally:
            sub.close(linger=0)
            ctx.term()

    run(with_bar)
    err = capsys.readouterr().err
    assert err.startswith("\rreplay [") and f"{N_DEMO}/{N_DEMO}" in err and err.endswith("\n")


# ---------------------------------------------------------------------------- command line


def test_cli_replays_on_the_bus(capsys: pytest.CaptureFixture[str]) -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"det.")
    sub.bind(LOOPBACK_ANY)
    endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
    got: list[list[bytes]] = []

    def drain() -> None:
        deadline = time.monotonic() + 15
        while len(got) < N_DEMO and time.monotonic() < deadline:
            if sub.poll(timeout=100):
                got.append(sub.recv_multipart())

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        assert main(["replay", str(DEMO), "--bus", "--speed", "0", "--det-endpoint", endpoint,
                     "--wait", "5"]) == 0
    finally:
        reader.join(20)
        sub.close(linger=0)
        ctx.term()
    assert len(got) == N_DEMO
    err = capsys.readouterr().err
    assert f"published {N_DEMO} detections messages" in err and endpoint in err
    assert "\r" not in err  # no bar without a terminal: one summary line
    assert err.count("\n") == 1


def test_cli_reports_a_missing_daemon(capsys: pytest.CaptureFixture[str]) -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)  # bound, subscribed to nothing: like no daemon at all
    sub.bind(LOOPBACK_ANY)
    endpoint = sub.getsockopt_string(zmq.LAST_ENDPOINT)
    try:
        assert main(["replay", str(DEMO), "--bus", "--det-endpoint", endpoint,
                     "--wait", "0.2"]) == 1
    finally:
        sub.close(linger=0)
        ctx.term()
    err = capsys.readouterr().err
    assert "cuas replay: error: nobody subscribed" in err and "cuas run" in err


@pytest.mark.parametrize("argv", [
    ["--offline", "--bus"],
    [],
    ["--offline"],  # needs --tracks-out
    ["--offline", "--tracks-out", "x.jsonl", "--speed", "2"],
    ["--bus", "--tracks-out", "x.jsonl"],
    ["--bus", "--speed", "-1"],
    ["--bus", "--speed", "nan"],
    ["--bus", "--wait", "-1"],
])
def test_cli_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["replay", str(DEMO), *argv])
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    assert code == 2
    assert "error" in capsys.readouterr().err
