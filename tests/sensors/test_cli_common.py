"""What every ``cuas sensor KIND`` command shares: usage errors, and a clear error (exit 1, not a
traceback) when no daemon subscribes to a file's detections in time."""

from __future__ import annotations

import socket
from pathlib import Path

import cv2
import numpy as np
import pytest

from cuas.cli.main import main
from cuas.sensors import registry

#: Every kind with a ``cuas sensor`` command (the registry's, so a new kind is covered too).
KINDS = sorted(k.name for k in registry.kinds() if k.cli is not None)


def test_the_bundled_kinds_have_commands() -> None:
    assert KINDS == ["adsb", "camera", "remoteid", "rf"]


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "rf"])  # rf has no --speed
def test_a_speed_that_is_not_a_finite_non_negative_number_is_a_usage_error(
        kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sensor", kind, "--source", "x", "--speed", "nan"]) == 2
    assert f"cuas sensor {kind}: error: --speed must be a finite number >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("kind", KINDS)
def test_no_source_anywhere_is_a_usage_error_naming_the_config_table(
        kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sensor", kind]) == 2
    assert f"source in [sensors.{kind}.{kind}]" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_file_with_no_daemon_listening_ends_with_a_one_line_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = tmp_path / "sky.avi"
    out = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for _ in range(3):
        out.write(np.full((48, 64, 3), 200, np.uint8))
    out.release()
    status = main(["sensor", "camera", "--source", str(clip), "--wait", "0.3",
                   "--publish", f"tcp://127.0.0.1:{_free_port()}"])
    err = capsys.readouterr().err
    assert status == 1
    assert "cuas sensor camera: error: nobody subscribed to 'det.camera'" in err
    assert "Traceback" not in err
