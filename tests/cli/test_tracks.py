"""``cuas tracks`` against a real PUB socket on 127.0.0.1 (ephemeral port).

The test publisher repeats its messages in a loop until the test is done, so the subscriber's
late join (ZeroMQ drops what a PUB sends before the subscription arrives) cannot make a test
flaky; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import zmq

from cuas import bus, wire
from cuas.cli.main import main
from cuas.cli.tracks import WatchSummary, endpoint_of, watch

T0 = 1_790_000_000.0


def tracks_msg(seq: int) -> wire.Tracks:
    tr = wire.Track(id=17, status="confirmed", lla=(51.5549, -0.2818, 141.6),
                    enu=(-153.1, -122.3, 51.6), vel=(0.5, -0.3, 0.0), pos_sigma=(2.0, 2.0, 3.0),
                    t_update=T0 + seq * 0.5 - 0.2, sources=("radar-north",),
                    class_probs={"uav": 0.97, "bird": 0.02, "manned": 0.0, "clutter": 0.01},
                    threat="high", malicious=True, reasons=("inside the no-fly zone",))
    return wire.Tracks(src="cuas-test", seq=seq, t=T0 + seq * 0.5, tracks=(tr,))


ALERT = wire.Alert(src="cuas-test", seq=0, t=T0, track_id=17, threat="high", previous="low",
                   reasons=("inside the no-fly zone",), zone="pitch")
STATUS = wire.Status(src="cuas-test", seq=0, t=T0, state="ok", uptime_s=3.0,
                     counters={"received": 5, "published": 9})
GARBAGE: list[list[bytes]] = [
    [b"trk", b"\xc1 not msgpack"],
    [b"trk"],  # one frame
    [b"alert", wire.encode(tracks_msg(0))],  # a tracks payload on the alert topic
]


class Publisher:
    """A PUB bound on an ephemeral port of 127.0.0.1 that repeats ``cycle`` every few ms."""

    def __init__(self, cycle: Sequence[list[bytes] | str]) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint: str = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.cycle = cycle
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        seq = 0
        while not self.done.is_set():
            for item in self.cycle:
                if item == "trk":
                    self.sock.send_multipart(bus.frames(tracks_msg(seq)))
                    seq += 1
                elif isinstance(item, list):
                    self.sock.send_multipart(item)
            self.done.wait(0.01)

    def __enter__(self) -> Publisher:
        if self.cycle:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        self.sock.close()
        self.ctx.term()


@pytest.fixture
def feed() -> Iterator[Publisher]:
    cycle: list[list[bytes] | str] = [bus.frames(STATUS), bus.frames(ALERT), *GARBAGE, "trk"]
    with Publisher(cycle) as pub:
        yield pub


def test_json_lines(feed: Publisher, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tracks", "--json", "--count", "3", "--timeout", "10",
                 "--trk-endpoint", feed.endpoint])
    out, err = capsys.readouterr()
    assert code == 0
    lines = out.splitlines()
    records = [json.loads(line) for line in lines]
    topics = [r["topic"] for r in records]
    assert topics.count("trk") == 3 and topics[-1] == "trk"
    assert set(topics) <= {"trk", "alert", "status.cuas-test"}
    for r in records:
        msg = wire.from_dict(r["msg"])
        assert wire.topic_for(msg) == r["topic"]
        if r["topic"] == "trk":
            assert isinstance(msg, wire.Tracks) and msg.tracks[0].id == 17
    seqs = [r["msg"]["seq"] for r in records if r["topic"] == "trk"]
    assert seqs == sorted(seqs)
    # The garbage was skipped and counted, not printed; the summary goes to stderr.
    assert "3 trk" in err and "malformed skipped" in err


def test_table_in_process(feed: Publisher) -> None:
    out = io.StringIO()
    summary = asyncio.run(watch(feed.endpoint, count=2, timeout_s=10, out=out))
    assert summary.tracks == 2 and not summary.timed_out
    text = out.getvalue()
    assert "\x1b" not in text  # not a terminal: no colour, no cursor movement
    last = text.rstrip("\n").split("\n\n")[-1]
    assert "id status" in last and "trk #" in last
    row = next(line for line in last.split("\n") if line[3:8].strip() == "17")
    assert row.startswith("!!") and "uav 0.97" in row and "high" in row


def test_stop_event_ends_the_watch(feed: Publisher) -> None:
    async def scenario() -> WatchSummary:
        stop = asyncio.Event()
        out = io.StringIO()
        task = asyncio.create_task(watch(feed.endpoint, json_out=True, stop=stop, out=out))
        for _ in range(500):  # until something arrived, at most 5 s
            if out.getvalue():
                break
            await asyncio.sleep(0.01)
        stop.set()
        return await asyncio.wait_for(task, timeout=5)

    summary = asyncio.run(scenario())
    assert summary.messages > 0 and not summary.timed_out


def test_timeout_with_nothing_received(capsys: pytest.CaptureFixture[str]) -> None:
    with Publisher([]) as silent:
        code = main(["tracks", "--json", "--timeout", "0.3", "--trk-endpoint", silent.endpoint])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "nothing valid received from " + silent.endpoint in err


def test_timeout_with_only_garbage(capsys: pytest.CaptureFixture[str]) -> None:
    with Publisher(GARBAGE) as pub:
        code = main(["tracks", "--json", "--timeout", "0.5", "--trk-endpoint", pub.endpoint])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "malformed skipped" in err


def test_timeout_after_messages_is_success(feed: Publisher,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tracks", "--json", "--timeout", "0.5", "--trk-endpoint", feed.endpoint])
    out, _ = capsys.readouterr()
    assert code == 0 and out.count("\n") > 0


def test_endpoint_from_config_or_override(tmp_path: Path) -> None:
    def args(config: str | None, url: str | None) -> argparse.Namespace:
        return argparse.Namespace(config=config, trk_endpoint=url)

    assert endpoint_of(args(None, None)) == "tcp://127.0.0.1:5551"  # the reference site
    cfg = tmp_path / "site.toml"
    cfg.write_text('[bus]\ntracks = "tcp://127.0.0.1:6001"\n')
    assert endpoint_of(args(str(cfg), None)) == "tcp://127.0.0.1:6001"
    assert endpoint_of(args(str(cfg), "ipc:///tmp/x")) == "ipc:///tmp/x"


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["tracks", "--count", "0"])
    assert exc.value.code == 2
    assert main(["tracks", "--config", "/nonexistent/site.toml", "--timeout", "0.1"]) == 1
    assert "file not found" in capsys.readouterr().err
