"""Recordings: MCAP and JSON Lines round trips, torn files cut at any byte, malformed input."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcap.reader import make_reader
from mcap.writer import CompressionType
from mcap.writer import Writer as McapWriter

from cuas import wire
from cuas.errors import DecodeError, RecordingError
from cuas.record import recording
from cuas.record.recording import (
    Record,
    RecordingReader,
    iter_messages,
    t_to_ns,
)
from cuas.record.writer import (
    JsonlWriter,
    RecordingWriter,
    open_writer,
    write_jsonl,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(__file__).parents[2] / ".." / "shared"
EXAMPLE_JSONL = SHARED / "spec" / "examples" / "detections.jsonl"

T0 = 1_790_000_000.0


def _messages(n: int = 8) -> list[wire.Message]:
    """A mix of every message type, built through the contract."""
    out: list[wire.Message] = []
    for i in range(n):
        t = T0 + 0.1 * i
        kind = i % 4
        if kind == 0:
            d: dict[str, Any] = {
                "v": 1, "type": "detections", "src": "radar-1", "seq": i, "t": t,
                "sensor": "radar-1", "kind": "radar", "origin": [51.5, -0.28, 75.0],
                "dets": [{"frame": "rae", "z": [800.0 + i, 201.7, 4.9], "sigma": [7.5, 0.4, 0.6],
                          "attrs": {"snr_db": 17.2}}],
            }
        elif kind == 1:
            d = {
                "v": 1, "type": "tracks", "src": "cuasd", "seq": i, "t": t,
                "tracks": [{
                    "id": 7, "status": "confirmed", "lla": [51.56, -0.28, 120.0],
                    "enu": [10.0, 20.0, 45.0], "vel": [1.0, -2.0, 0.0], "pos_sigma": [3.0, 3.0, 5.0],
                    "t_update": t, "sources": ["radar-1"],
                    "class": {"uav": 0.7, "bird": 0.2, "manned": 0.05, "clutter": 0.05},
                    "threat": "medium", "malicious": False, "reasons": ["slow, low"],
                }],
            }
        elif kind == 2:
            d = {"v": 1, "type": "alert", "src": "cuasd", "seq": i, "t": t, "track_id": 7,
                 "threat": "high", "previous": "medium", "reasons": ["entered zone"], "zone": "pitch"}
        else:
            d = {"v": 1, "type": "status", "src": "cam-1", "seq": i, "t": t, "state": "ok",
                 "uptime_s": 12.5 + i, "counters": {"published": i}}
        out.append(wire.from_dict(d))
    return out


def _payload_records(sizes: list[int], topics: int = 3) -> list[Record]:
    """Records with unique, findable payloads (``PAYLOAD<k>`` then filler)."""
    recs = []
    for k, size in enumerate(sizes):
        payload = b"PAYLOAD%05d|" % k + bytes((k + j) % 251 for j in range(size))
        t_ns = 1_790_000_000_000_000_000 + k * 1_000_000
        recs.append(Record(f"det.s{k % topics}", payload, t_ns + 5, t_ns))
    return recs


def _write_mcap(path: Path, recs: list[Record], **kw: Any) -> bytes:
    with RecordingWriter(path, **kw) as w:
        for r in recs:
            w.write(r.topic, r.payload, log_time_ns=r.log_time_ns, publish_time_ns=r.publish_time_ns)
    return path.read_bytes()


def _message_ends(data: bytes, recs: list[Record]) -> list[int]:
    """Byte offset just past each record's payload (chunks are uncompressed)."""
    ends, pos = [], 0
    for r in recs:
        start = data.find(r.payload, pos)
        assert start >= 0
        pos = start + len(r.payload)
        ends.append(pos)
    return ends


def _read(path: Path, **kw: Any) -> tuple[RecordingReader, list[Record]]:
    reader = RecordingReader(path, **kw)
    return reader, list(reader)


@pytest.fixture(autouse=True)
def _quiet_recording_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="cuas.record.recording")


# --------------------------------------------------------------------------- round trips


def test_t_to_ns_uses_the_decimal_value() -> None:
    assert t_to_ns(1_790_000_000.04) == 1_790_000_000_040_000_000
    assert t_to_ns(1_790_000_000) == 1_790_000_000_000_000_000
    assert t_to_ns(0.5e-9) == 0  # half to even


def test_mcap_round_trip_of_typed_messages(tmp_path: Path) -> None:
    msgs = _messages()
    path = tmp_path / "run.mcap"
    with RecordingWriter(path) as w:
        for i, m in enumerate(msgs):
            w.write_message(m, log_time_ns=None if i % 2 else t_to_ns(m.t) + 123)
    reader, recs = _read(path)
    assert (reader.format, reader.records, reader.skipped, reader.torn) == ("mcap", len(msgs), 0, False)
    for i, (rec, m) in enumerate(zip(recs, msgs, strict=True)):
        assert rec.topic == wire.topic_for(m)
        assert rec.payload == wire.encode(m)
        assert rec.publish_time_ns == t_to_ns(m.t)
        assert rec.log_time_ns == rec.publish_time_ns + (0 if i % 2 else 123)
    assert [d for _, d in iter_messages(recs)] == msgs


def test_mcap_layout_is_canonical(tmp_path: Path) -> None:
    msgs = _messages(12)
    path = tmp_path / "run.mcap"
    with open_writer(path) as w:
        for m in msgs:
            w.write_message(m)
    with open(path, "rb") as f:
        mr = make_reader(f)
        header = mr.get_header()
        summary = mr.get_summary()
        assert summary is not None and summary.statistics is not None
        assert (header.profile, header.library) == ("", "cuas")
        topics = sorted(c.topic for c in summary.channels.values())
        assert topics == sorted({wire.topic_for(m) for m in msgs})
        assert all(c.message_encoding == "msgpack" and c.schema_id == 0
                   for c in summary.channels.values())
        assert summary.statistics.message_count == len(msgs)
        assert all(ci.compression == "" for ci in summary.chunk_indexes)
        got = [(c.topic, m.data, m.log_time) for _, c, m in mr.iter_messages(log_time_order=False)]
    assert got == [(wire.topic_for(m), wire.encode(m), t_to_ns(m.t)) for m in msgs]


def test_mcap_keeps_payloads_byte_for_byte(tmp_path: Path) -> None:
    recs = _payload_records([0, 1, 500, 70_000, 3]) + [Record("x", b"", 0, 2**64 - 1)]
    _write_mcap(tmp_path / "raw.mcap", recs, chunk_size=1000)
    reader, got = _read(tmp_path / "raw.mcap")
    assert got == recs
    assert not reader.torn


def test_jsonl_round_trip(tmp_path: Path) -> None:
    msgs = _messages()
    path = tmp_path / "scenario.jsonl"
    assert write_jsonl(path, msgs) == len(msgs)
    reader, recs = _read(path)
    assert (reader.format, reader.records, reader.skipped, reader.torn) == ("jsonl", len(msgs), 0, False)
    # JSON keeps key order and float reprs, so the re-encoded payload is the wire encoding.
    assert [r.payload for r in recs] == [wire.encode(m) for m in msgs]
    assert [r.topic for r in recs] == [wire.topic_for(m) for m in msgs]
    assert all(r.log_time_ns == r.publish_time_ns == t_to_ns(m.t) for r, m in zip(recs, msgs, strict=True))
    assert [d for _, d in iter_messages(recs)] == msgs


def test_open_writer_chooses_format_by_suffix(tmp_path: Path) -> None:
    msgs = _messages(5)
    decoded = {}
    for name, cls in (("a.jsonl", JsonlWriter), ("a.JSONL", JsonlWriter), ("a.mcap", RecordingWriter)):
        with open_writer(tmp_path / name) as w:
            assert isinstance(w, cls)
            for m in msgs:
                w.write_message(m)
        reader = RecordingReader(tmp_path / name)
        decoded[name] = [d for _, d in iter_messages(reader)]
    assert decoded["a.jsonl"] == decoded["a.mcap"] == msgs


def test_example_detections_jsonl() -> None:
    if not EXAMPLE_JSONL.is_file():
        pytest.skip(f"shared spec examples not present at {EXAMPLE_JSONL}")
    reader = RecordingReader(EXAMPLE_JSONL)
    pairs = list(iter_messages(reader))
    assert pairs and reader.skipped == 0 and not reader.torn
    for rec, msg in pairs:
        assert not isinstance(msg, DecodeError), msg
        assert rec.topic == wire.topic_for(msg)
        assert rec.publish_time_ns == t_to_ns(msg.t)
    times = [r.publish_time_ns for r, _ in pairs]
    assert times == sorted(times)


def test_iter_messages_yields_decode_errors(tmp_path: Path) -> None:
    good = _messages(1)[0]
    with RecordingWriter(tmp_path / "m.mcap") as w:
        w.write("det.x", b"\xc1not msgpack", log_time_ns=1, publish_time_ns=1)
        w.write("det.x", msgpack.packb({"v": 1, "type": "detections"}), log_time_ns=2, publish_time_ns=2)
        w.write_message(good)
    out = [d for _, d in iter_messages(RecordingReader(tmp_path / "m.mcap"))]
    assert isinstance(out[0], DecodeError) and isinstance(out[1], DecodeError)
    assert out[2] == good


def test_reading_twice_resets_counters(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"topic": "a", "msg": {"t": 1}}\nbad\n{"topic": "a", "msg": {"t": 2}}\n')
    reader = RecordingReader(path)
    assert len(list(reader)) == len(list(reader)) == 2
    assert (reader.records, reader.skipped) == (2, 1)


# --------------------------------------------------------------------------- torn MCAP


def test_mcap_cut_at_every_offset(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="cuas.record.recording")  # one warning per cut otherwise
    recs = _payload_records([40, 3, 120, 0, 60, 10, 30], topics=3)
    data = _write_mcap(tmp_path / "full.mcap", recs, chunk_size=150)
    ends = _message_ends(data, recs)
    cut_path = tmp_path / "cut.mcap"
    cut_path.write_bytes(data)
    for cut in range(len(data), -1, -1):  # truncating in place is far cheaper than rewriting
        os.truncate(cut_path, cut)
        reader, got = _read(cut_path)
        # Every message whose bytes are all in the file is replayed, chunk cut or not.
        assert got == [r for r, end in zip(recs, ends, strict=True) if end <= cut], cut
        assert reader.torn == (cut < len(data)), cut
        assert reader.records == len(got)
        if cut % 3:
            continue
        unsalvaged, got2 = _read(cut_path, salvage=False)
        assert got2 == recs[: len(got2)] and len(got2) <= len(got)
        assert unsalvaged.torn == reader.torn and unsalvaged.salvaged == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(0, 400), min_size=0, max_size=40),
    chunk_size=st.integers(1, 3000),
    frac=st.floats(0.0, 1.0),
)
def test_mcap_cut_at_random_offset(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], chunk_size: int, frac: float
) -> None:
    d = tmp_path_factory.mktemp("mcap_cut")
    recs = _payload_records(sizes)
    data = _write_mcap(d / "full.mcap", recs, chunk_size=chunk_size)
    cut = round(frac * len(data))
    (d / "cut.mcap").write_bytes(data[:cut])
    reader, got = _read(d / "cut.mcap")
    ends = _message_ends(data, recs)
    assert got == [r for r, end in zip(recs, ends, strict=True) if end <= cut]
    assert reader.torn == (cut < len(data))


def test_mcap_cut_in_a_compressed_chunk_loses_that_chunk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("zstandard")
    caplog.set_level(logging.ERROR, logger="cuas.record.recording")
    recs = _payload_records([300] * 12, topics=1)
    path = tmp_path / "zstd.mcap"
    with open(path, "wb") as f:
        w = McapWriter(f, chunk_size=1000, compression=CompressionType.ZSTD)
        w.start()
        ch = w.register_channel("det.s0", "msgpack", 0)
        for r in recs:
            w.add_message(ch, r.log_time_ns, r.payload, r.publish_time_ns)
        w.finish()
    data = path.read_bytes()
    reader, got = _read(path)
    assert got == recs and not reader.torn
    counts = []
    for cut in range(len(data) - 1, -1, -7):
        os.truncate(path, cut)
        reader, got = _read(path)
        assert got == recs[: len(got)] and reader.torn and reader.salvaged == 0
        counts.append(len(got))
    assert counts == sorted(counts, reverse=True) and counts[0] > 0


def test_mcap_zero_filled_tail_is_torn(tmp_path: Path) -> None:
    recs = _payload_records([100] * 10)
    data = _write_mcap(tmp_path / "full.mcap", recs, chunk_size=300)
    ends = _message_ends(data, recs)
    cut = ends[5] + 3
    (tmp_path / "z.mcap").write_bytes(data[:cut] + bytes(4096))  # power loss on some filesystems
    reader, got = _read(tmp_path / "z.mcap")
    assert reader.torn and got == recs[: len(got)] and len(got) >= 4


def test_mcap_chunk_with_bad_crc_is_skipped(tmp_path: Path) -> None:
    recs = _payload_records([100] * 9, topics=1)
    data = bytearray(_write_mcap(tmp_path / "full.mcap", recs, chunk_size=250))
    start = data.find(recs[4].payload)
    data[start + 20] ^= 0xFF
    (tmp_path / "bad.mcap").write_bytes(bytes(data))
    reader, got = _read(tmp_path / "bad.mcap")
    assert reader.skipped == 1 and not reader.torn
    assert 0 < len(got) < len(recs)
    assert recs[4] not in got
    assert got == [r for r in recs if r in got]  # the rest, in order


def test_mcap_other_encodings_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "foreign.mcap"
    with open(path, "wb") as f:
        w = McapWriter(f, compression=CompressionType.NONE)
        w.start()
        js = w.register_channel("/odom", "json", 0)
        mp = w.register_channel("det.a", "msgpack", 0)
        for i in range(3):
            w.add_message(js, i, b"{}", i)
            w.add_message(mp, i, b"\x80", i)
        w.finish()
    reader, got = _read(path)
    assert [r.topic for r in got] == ["det.a"] * 3
    assert reader.skipped == 3
    assert sum("'/odom'" in r.getMessage() for r in caplog.records) == 1


def test_killed_writer_leaves_a_replayable_file(tmp_path: Path) -> None:
    path = tmp_path / "killed.mcap"
    script = textwrap.dedent(
        f"""
        import sys, time
        from cuas.record.writer import RecordingWriter
        w = RecordingWriter({str(path)!r}, chunk_size=2000, flush_interval_s=3600)
        for i in range(400):
            w.write("det.a", b"m%05d" % i + bytes(50), log_time_ns=i, publish_time_ns=i)
        w.flush()
        for i in range(400, 410):
            w.write("det.a", b"m%05d" % i + bytes(50), log_time_ns=i, publish_time_ns=i)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    reader, got = _read(path)
    assert reader.torn
    assert [r.log_time_ns for r in got] == list(range(400))  # the open chunk (10 msgs) is lost


def test_writer_flushes_each_chunk(tmp_path: Path) -> None:
    path = tmp_path / "live.mcap"
    w = RecordingWriter(path, flush_interval_s=0.0)
    try:
        for i in range(5):
            w.write("det.a", b"\x80", log_time_ns=i, publish_time_ns=i)
            reader, got = _read(path)
            assert len(got) == i + 1 and reader.torn
    finally:
        w.close()
    w.close()  # idempotent
    reader, got = _read(path)
    assert len(got) == 5 and not reader.torn
    with pytest.raises(ValueError, match="closed"):
        w.write("det.a", b"", log_time_ns=0, publish_time_ns=0)


def test_writer_rejects_bad_arguments_without_damaging_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.mcap"
    with RecordingWriter(path) as w:
        w.write("det.a", b"1", log_time_ns=1, publish_time_ns=1)
        with pytest.raises(ValueError):
            w.write("det.a", b"2", log_time_ns=-1, publish_time_ns=1)
        with pytest.raises(ValueError):
            w.write("det.b", b"2", log_time_ns=1, publish_time_ns=2**64)
        with pytest.raises(ValueError):
            w.write("", b"2", log_time_ns=1, publish_time_ns=1)
        with pytest.raises(UnicodeEncodeError):
            w.write("det.\udc80", b"2", log_time_ns=1, publish_time_ns=1)
        with pytest.raises(TypeError):
            w.write("det.a", "text", log_time_ns=1, publish_time_ns=1)  # type: ignore[arg-type]
        w.write("det.a", bytearray(b"3"), log_time_ns=3, publish_time_ns=3)
    reader, got = _read(path)
    assert [r.payload for r in got] == [b"1", b"3"] and not reader.torn
    with pytest.raises(ValueError):
        RecordingWriter(tmp_path / "x.mcap", chunk_size=0)
    with pytest.raises(RecordingError, match="nodir"):
        RecordingWriter(tmp_path / "nodir" / "x.mcap")


# --------------------------------------------------------------------------- torn JSON Lines


def _jsonl_bytes(msgs: list[wire.Message]) -> tuple[bytes, list[tuple[int, int]]]:
    """The JSON Lines text and each line's (start, end without newline)."""
    lines = [json.dumps({"topic": wire.topic_for(m), "msg": wire.to_dict(m)}).encode() for m in msgs]
    spans, pos = [], 0
    for line in lines:
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return b"".join(line + b"\n" for line in lines), spans


def _check_jsonl_cut(path: Path, spans: list[tuple[int, int]], full: list[Record], cut: int) -> None:
    """Read ``path``, which holds the JSON Lines text cut to ``cut`` bytes."""
    reader, got = _read(path)
    # A line is complete once its closing brace is in, newline or not.
    assert got == [r for r, (_, end) in zip(full, spans, strict=True) if end <= cut], cut
    inside = any(start < cut < end for start, end in spans)
    assert reader.torn == inside, cut
    assert reader.skipped == 0


def test_jsonl_cut_at_every_offset(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="cuas.record.recording")
    msgs = _messages(4)
    data, spans = _jsonl_bytes(msgs)
    path = tmp_path / "cut.jsonl"
    path.write_bytes(data)
    _, full = _read(path)
    for cut in range(len(data), -1, -1):
        os.truncate(path, cut)
        _check_jsonl_cut(path, spans, full, cut)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 12), frac=st.floats(0.0, 1.0))
def test_jsonl_cut_at_random_offset(tmp_path_factory: pytest.TempPathFactory, n: int, frac: float) -> None:
    d = tmp_path_factory.mktemp("jsonl_cut")
    msgs = _messages(n)
    data, spans = _jsonl_bytes(msgs)
    (d / "full.jsonl").write_bytes(data)
    _, full = _read(d / "full.jsonl")
    assert len(full) == n
    cut = round(frac * len(data))
    (d / "cut.jsonl").write_bytes(data[:cut])
    _check_jsonl_cut(d / "cut.jsonl", spans, full, cut)


def test_malformed_jsonl_lines_are_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = b'{"topic": "det.a", "msg": {"v": 1, "t": 1790000000.5}}\n'
    bad = [
        b"not json at all\n",
        b"[1, 2, 3]\n",
        b'{"topic": 3, "msg": {}}\n',
        b'{"topic": "det.a"}\n',
        b'{"topic": "det.a", "msg": {"s": "\xff\xfe"}}\n',
        b'{"topic": "det.a", "msg": {"seq": 100000000000000000000000000000}}\n',
    ]
    path = tmp_path / "m.jsonl"
    path.write_bytes(good + b"".join(bad) + b"\n   \n" + good.replace(b".5", b".75"))
    reader, got = _read(path)
    assert (reader.records, reader.skipped, reader.torn) == (2, len(bad), False)
    assert [r.publish_time_ns for r in got] == [1_790_000_000_500_000_000, 1_790_000_000_750_000_000]
    assert msgpack.unpackb(got[0].payload) == {"v": 1, "t": 1790000000.5}
    logged = [r.getMessage() for r in caplog.records if "skipped malformed line" in r.getMessage()]
    assert [m.split(":")[1] for m in logged] == [str(i) for i in range(2, 2 + len(bad))]


def test_jsonl_without_t_and_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"topic": "a", "msg": {"t": "soon"}}\r\n{"topic": "b", "msg": {}}')
    reader, got = _read(path)
    assert [(r.topic, r.publish_time_ns, r.log_time_ns) for r in got] == [("a", 0, 0), ("b", 0, 0)]
    assert not reader.torn


def test_jsonl_overlong_line_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "MAX_LINE_BYTES", 64)
    line = b'{"topic": "a", "msg": {}}\n'
    path = tmp_path / "long.jsonl"
    path.write_bytes(line + b'{"topic": "a", "msg": {"x": "' + b"y" * 500 + b'"}}\n' + line + b"{" * 300)
    reader, got = _read(path)
    assert (len(got), reader.skipped, reader.torn) == (2, 1, True)


# --------------------------------------------------------------------------- not recordings


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02garbage" * 50,
        b"hello, world\n",
        b"\x89PNG\r\n\x1a\n" + bytes(100),
        b'{\n  "v": 1,\n  "type": "tracks"\n}\n',  # pretty-printed JSON, not JSON Lines
        b'{"v": 1, "type": "status"}\n{"v": 1}\n',  # messages without the envelope
    ],
)
def test_not_a_recording_raises(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "thing.bin"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match="thing.bin"):
        RecordingReader(path)


def test_missing_file_and_directory_raise(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="nope.mcap"):
        RecordingReader(tmp_path / "nope.mcap")
    with pytest.raises(RecordingError, match=str(tmp_path)):
        RecordingReader(tmp_path)


def test_empty_and_magic_only_files(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_bytes(b"")
    reader, got = _read(tmp_path / "e.jsonl")
    assert (reader.format, got, reader.torn) == ("jsonl", [], False)
    for content in (b"", b"\x89MC", recording.MCAP_MAGIC):
        (tmp_path / "e.mcap").write_bytes(content)
        reader, got = _read(tmp_path / "e.mcap")
        assert (reader.format, got, reader.torn) == ("mcap", [], True)
