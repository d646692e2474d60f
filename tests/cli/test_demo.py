"""`cuas demo`: daemon, bus replay and summary together, on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from cuas.cli.main import main


def test_demo_runs_a_recording_through_the_daemon_and_scores_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec, truth = tmp_path / "small.mcap", tmp_path / "small.truth.jsonl"
    assert main(["sim", "random", "--seed", "8", "--targets", "4", "--duration", "30",
                 "--clutter", "3", "--out", str(rec), "--truth", str(truth)]) == 0
    capsys.readouterr()
    out = tmp_path / "live.jsonl"
    assert main(["demo", "--recording", str(rec), "--speed", "0", "--no-view",
                 "--tracks-out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "replayed 30 detection messages" in text
    assert "the daemon fused 30 batches" in text
    assert "GOSPA (alpha = 2, c = 20 m, p = 2)" in text  # the truth beside it was found
    assert out.read_text().count("\n") > 0


def test_demo_on_the_bundled_recording_exists() -> None:
    from cuas.cli.demo import DEFAULT_CONFIG, DEFAULT_RECORDING, _truth_for

    assert DEFAULT_RECORDING.exists() and DEFAULT_CONFIG.exists()
    assert _truth_for(DEFAULT_RECORDING) is not None
