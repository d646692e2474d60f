"""Tamper evidence: the recorder's signed hash chain over its chunks, and ``cuas verify``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cuas import wire
from cuas.cli.main import main
from cuas.record.manifest import (
    load_public_key,
    load_signing_key,
    manifest_path,
    verify,
    write_signing_key,
)
from cuas.record.recording import RecordingReader
from cuas.record.writer import RecordingWriter

ROOT = Path(__file__).resolve().parents[2]


def status(i: int) -> wire.Status:
    return wire.Status(src="cuas", seq=i, t=1790000000.0 + i, state="ok", uptime_s=float(i),
                       counters={"n": i})


def write(path: Path, n: int, key_dir: Path | None = None, chunk_size: int = 400) -> None:
    key = None
    if key_dir is not None:
        write_signing_key("rec", key_dir, force=True)
        key = load_signing_key(key_dir / "rec.sign.key")
    with RecordingWriter(path, chunk_size=chunk_size, manifest=True, signing_key=key) as w:
        for i in range(n):
            w.write_message(status(i))


def segments(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in manifest_path(path).read_text().splitlines()[1:]]


def test_intact_recording_verifies_and_reads(tmp_path: Path) -> None:
    rec = tmp_path / "r.mcap"
    write(rec, 60, tmp_path)
    segs = segments(rec)
    assert len(segs) >= 5 and segs[-1].get("final") is True
    assert segs[0]["start"] == 0 and segs[-1]["end"] == rec.stat().st_size
    v = verify(rec, trusted_key=load_public_key(tmp_path / "rec.sign.pub"))
    assert v.status == "intact" and v.signed and v.key_trusted, v.message
    assert v.segments == len(segs) and v.verified_bytes == rec.stat().st_size
    assert sum(1 for _ in RecordingReader(rec)) == 60  # the hashing wrapper changed nothing


def test_flipping_any_byte_names_its_chunk(tmp_path: Path) -> None:
    rec = tmp_path / "r.mcap"
    write(rec, 30, tmp_path)
    original = rec.read_bytes()
    segs = segments(rec)
    assert len(segs) >= 4
    for pos in range(len(original)):  # every byte of the file
        data = bytearray(original)
        data[pos] ^= 0x01
        rec.write_bytes(bytes(data))
        v = verify(rec)
        expected = next(s["i"] for s in segs
                        if int(s["start"]) <= pos < int(s["end"]))  # type: ignore[call-overload]
        assert v.status == "altered" and v.first_bad == expected, (pos, v)
        assert f"segment {expected} " in v.message
    rec.write_bytes(original)
    assert verify(rec).status == "intact"


def test_altered_manifest_or_wrong_key_fails(tmp_path: Path) -> None:
    rec = tmp_path / "r.mcap"
    write(rec, 30, tmp_path)
    man = manifest_path(rec)
    original = man.read_bytes()
    for pos in range(0, len(original), 7):
        data = bytearray(original)
        data[pos] ^= 0x04
        man.write_bytes(bytes(data))
        assert verify(rec).status == "altered", pos
    man.write_bytes(original)
    # A forger who rewrites the recording and re-chains the manifest with their own key:
    # only the trusted key tells.
    write(rec, 31, tmp_path / "other")
    assert verify(rec).status == "intact"
    v = verify(rec, trusted_key=load_public_key(tmp_path / "rec.sign.pub"))
    assert v.status == "altered" and "not the trusted key" in v.message


def test_appended_bytes_and_missing_manifest(tmp_path: Path) -> None:
    rec = tmp_path / "r.mcap"
    write(rec, 10)
    assert verify(rec).status == "intact" and not verify(rec).signed
    with open(rec, "ab") as f:
        f.write(b"x")
    assert verify(rec).status == "altered"
    manifest_path(rec).unlink()
    assert verify(rec).status == "unverifiable"


WRITER = """
import sys, time
from cuas import wire
from cuas.record.manifest import load_signing_key
from cuas.record.writer import RecordingWriter
w = RecordingWriter(sys.argv[1], chunk_size=300, flush_interval_s=0.05, manifest=True,
                    signing_key=load_signing_key(sys.argv[2]))
i = 0
while True:
    w.write_message(wire.Status(src="cuas", seq=i, t=1790000000.0 + i, state="ok",
                                uptime_s=float(i), counters={"n": i}))
    i += 1
    if i == 40:
        print("ready", flush=True)
    time.sleep(0.002)
"""


def test_kill_9_recording_verifies_up_to_its_last_chunk(tmp_path: Path) -> None:
    rec = tmp_path / "torn.mcap"
    write_signing_key("rec", tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(rec), str(tmp_path / "rec.sign.key")],
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    v = verify(rec, trusted_key=load_public_key(tmp_path / "rec.sign.pub"))
    assert v.status == "torn", v.message
    assert v.segments >= 5 and 0 < v.verified_bytes <= rec.stat().st_size
    assert f"(chunk {v.segments - 1})" in v.message and "torn" in v.message
    # The covered prefix is still protected: damage inside it is found.
    data = bytearray(rec.read_bytes())
    data[v.verified_bytes // 2] ^= 0x80
    rec.write_bytes(bytes(data))
    assert verify(rec).status == "altered"


def test_cli_keys_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "--sign", "site-a", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "site-a.sign.key").stat().st_mode & 0o777 == 0o600
    assert main(["keys", "--sign", "site-a", "--dir", str(tmp_path)]) == 1  # no overwrite
    key = load_signing_key(tmp_path / "site-a.sign.key")
    rec = tmp_path / "r.mcap"
    with RecordingWriter(rec, chunk_size=300, signing_key=key) as w:
        for i in range(20):
            w.write_message(status(i))
    capsys.readouterr()
    assert main(["verify", str(rec), "--key", str(tmp_path / "site-a.sign.pub")]) == 0
    assert "intact" in capsys.readouterr().out
    data = bytearray(rec.read_bytes())
    data[len(data) // 2] ^= 1
    rec.write_bytes(bytes(data))
    assert main(["verify", str(rec)]) == 1
    out = capsys.readouterr().out
    assert "ALTERED" in out and "chunk" in out
    assert main(["verify", str(tmp_path / "site-a.sign.pub")]) == 1  # no manifest


def test_the_recorder_writes_a_manifest(tmp_path: Path) -> None:
    from cuas.record.recorder import Recorder

    write_signing_key("rec", tmp_path)
    rec = Recorder(tmp_path / "bus.mcap", tracks_endpoint=None,
                   bind_detections="tcp://127.0.0.1:*",
                   signing_key=load_signing_key(tmp_path / "rec.sign.key"))
    for i in range(5):
        assert rec.write([b"status.cuas", wire.encode(status(i))])
    rec.close()
    v = verify(tmp_path / "bus.mcap", trusted_key=load_public_key(tmp_path / "rec.sign.pub"))
    assert v.status == "intact" and v.key_trusted, v.message


def test_prune_removes_the_manifest_with_its_recording(tmp_path: Path) -> None:
    from cuas.record.retention import prune

    rec = tmp_path / "old.mcap"
    write(rec, 5)
    write(tmp_path / "new.mcap", 5)  # the newest is never pruned (it may be being written)
    assert manifest_path(rec).exists()
    os.utime(rec, (1_000_000, 1_000_000))
    gone = prune(tmp_path, now=time.time(), max_age_s=3600.0, max_total_bytes=None)
    assert [f.path for f in gone] == [rec]
    assert not rec.exists() and not manifest_path(rec).exists()
    assert manifest_path(tmp_path / "new.mcap").exists()
