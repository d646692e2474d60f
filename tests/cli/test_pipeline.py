"""End to end through the command line: cuas sim -> cuas replay --offline -> cuas eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cuas import wire
from cuas.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def run_pipeline(tmp_path: Path, *sim_args: str) -> tuple[Path, Path, Path]:
    rec, truth, tracks = tmp_path / "rec.mcap", tmp_path / "truth.jsonl", tmp_path / "tracks.jsonl"
    assert main(["sim", *sim_args, "--out", str(rec), "--truth", str(truth)]) == 0
    assert main(["replay", str(rec), "--offline", "--tracks-out", str(tracks)]) == 0
    return rec, truth, tracks


def test_sim_replay_eval_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, truth, tracks = run_pipeline(tmp_path, "crossing", "--seed", "5", "--targets", "4",
                                    "--duration", "40", "--clutter", "5", "--frame", "rae")
    lines = tracks.read_text().splitlines()
    assert len(lines) == 40  # one snapshot per detections message
    times = [json.loads(line)["t"] for line in lines]
    assert times == sorted(times)
    for line in lines:
        msg = wire.from_dict(json.loads(line))
        assert isinstance(msg, wire.Tracks)
    out_json = tmp_path / "eval.json"
    capsys.readouterr()
    assert main(["eval", "--truth", str(truth), "--tracks", str(tracks), "--json", str(out_json)]) == 0
    report = capsys.readouterr().out
    assert "c = 20 m, p = 2" in report and "ID switches" in report
    figures = json.loads(out_json.read_text())
    # Four well-separated-most-of-the-time targets with 5 false alarms per scan: a working
    # tracker holds them; a broken one misses them (missed part alone would be ~800 m^2).
    assert figures["steps"] == 40
    assert figures["gospa_mean"] < 20.0
    assert figures["missed_mean"] < 200.0


def test_replay_is_deterministic(tmp_path: Path) -> None:
    rec, _, tracks = run_pipeline(tmp_path, "random", "--seed", "11", "--targets", "8",
                                  "--duration", "20", "--clutter", "8")
    again = tmp_path / "again.jsonl"
    assert main(["replay", str(rec), "--offline", "--tracks-out", str(again)]) == 0
    assert again.read_bytes() == tracks.read_bytes()


def test_torn_recording_replays_up_to_its_last_complete_record(tmp_path: Path) -> None:
    rec, _, tracks = run_pipeline(tmp_path, "random", "--seed", "2", "--targets", "5",
                                  "--duration", "30", "--clutter", "3")
    data = rec.read_bytes()
    torn = tmp_path / "torn.mcap"
    torn.write_bytes(data[: int(len(data) * 0.6)])
    torn_tracks = tmp_path / "torn-tracks.jsonl"
    assert main(["replay", str(torn), "--offline", "--tracks-out", str(torn_tracks)]) == 0
    full = tracks.read_text().splitlines()
    cut = torn_tracks.read_text().splitlines()
    assert 0 < len(cut) < len(full)
    assert cut == full[: len(cut)]  # the same pipeline on the same prefix


def test_replay_counts_malformed_messages_and_goes_on(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    good = {"v": 1, "type": "detections", "src": "r", "seq": 0, "t": 1790000000.0,
            "sensor": "r", "kind": "radar", "dets": [
                {"frame": "enu", "z": [10.0, 20.0, 100.0], "sigma": [5.0, 5.0, 5.0]}]}
    bad_nan = json.loads(json.dumps(good))
    bad_nan["dets"][0]["sigma"] = [5.0, -1.0, 5.0]
    bad_type = dict(good, t="yesterday")
    future = dict(good, t=1790000000.0 + 86400 * 365)
    lines = [good, bad_nan, bad_type, future, dict(good, t=1790000001.0, seq=1)]
    rec = tmp_path / "rec.jsonl"
    rec.write_text("".join(json.dumps({"topic": "det.r", "msg": m}) + "\n" for m in lines)
                   + "{\"topic\": \"det.r\", \"msg\": {\"v\": 1,")  # torn last line
    out = tmp_path / "tracks.jsonl"
    assert main(["replay", str(rec), "--offline", "--tracks-out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "dropped_malformed=2" in err and "dropped_future=1" in err and "torn" in err
    assert len(out.read_text().splitlines()) == 2


def test_replay_with_the_reference_config(tmp_path: Path) -> None:
    _, _, tracks = run_pipeline(tmp_path, "random", "--seed", "1", "--targets", "3",
                                "--duration", "10")
    out = tmp_path / "cfg.jsonl"
    rec = tmp_path / "rec.mcap"
    assert main(["replay", str(rec), "--offline", "--tracks-out", str(out),
                 "--config", str(ROOT / "configs" / "wembley.toml")]) == 0
    first = json.loads(out.read_text().splitlines()[0])
    assert first["src"] == "cuas-wembley"


def test_errors_are_clear_not_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_cfg = tmp_path / "bad.toml"
    bad_cfg.write_text("[tracker]\nconfirm_m = 'three'\n")
    rec = tmp_path / "missing.mcap"
    assert main(["replay", str(rec), "--offline", "--tracks-out", str(tmp_path / "o.jsonl"),
                 "--config", str(bad_cfg)]) == 1
    assert "tracker.confirm_m" in capsys.readouterr().err
    assert main(["replay", str(rec), "--offline", "--tracks-out", str(tmp_path / "o.jsonl")]) == 1
    assert "missing.mcap" in capsys.readouterr().err
    assert main(["eval", "--truth", str(rec), "--tracks", str(rec)]) == 1
