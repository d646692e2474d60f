"""Golden digests: end-to-end behaviour pinned byte for byte.

The SHA-256 of ``cuas replay --offline`` output for the bundled recording, and for a seed-1
``cuas sim`` run of every scenario in ``recordings/scenarios/`` (the simulated recording and
its offline replay through the scenario's site configuration). A change that moves any of these
changes behaviour: update ``tests/golden/digests.json`` only in the commit that makes the
change, and say why in its message. ``python -m tests.test_golden`` prints the current digests.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from cuas.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
DIGESTS = ROOT / "tests" / "golden" / "digests.json"
BUNDLED = ROOT / "recordings" / "wembley-demo.mcap"
SCENARIOS = sorted((ROOT / "recordings" / "scenarios").glob("*.toml"))
SEED = 1


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scenario_config(path: Path) -> Path:
    """The site configuration file a scenario names (``scenario.config``)."""
    import tomllib

    ref = tomllib.loads(path.read_text())["scenario"]["config"]
    return (path.parent / ref).resolve()


def bundled_digest(tmp: Path) -> dict[str, str]:
    out = tmp / "bundled.tracks.jsonl"
    assert main(["replay", str(BUNDLED), "--offline", "--tracks-out", str(out)]) == 0
    return {"bundled/tracks": _sha256(out)}


def scenario_digests(path: Path, tmp: Path) -> dict[str, str]:
    rec, truth, tracks = (tmp / f"{path.stem}{s}" for s in (".mcap", ".truth.jsonl",
                                                             ".tracks.jsonl"))
    assert main(["sim", str(path), "--seed", str(SEED), "--out", str(rec),
                 "--truth", str(truth)]) == 0
    assert main(["replay", str(rec), "--offline", "--tracks-out", str(tracks),
                 "--config", str(_scenario_config(path))]) == 0
    return {f"{path.stem}/recording": _sha256(rec), f"{path.stem}/truth": _sha256(truth),
            f"{path.stem}/tracks": _sha256(tracks)}


def _pinned() -> dict[str, str]:
    return dict(json.loads(DIGESTS.read_text()))


def test_every_scenario_is_pinned() -> None:
    pinned = {k.split("/")[0] for k in _pinned()}
    assert pinned == {"bundled"} | {p.stem for p in SCENARIOS}


def test_bundled_recording_replays_to_its_golden_digest(tmp_path: Path) -> None:
    got = bundled_digest(tmp_path)
    assert got == {k: v for k, v in _pinned().items() if k in got}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_simulates_and_replays_to_its_golden_digest(path: Path, tmp_path: Path) -> None:
    got = scenario_digests(path, tmp_path)
    assert got == {k: v for k, v in _pinned().items() if k in got}


if __name__ == "__main__":  # print the digests of the code as it stands
    import contextlib
    import tempfile

    with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(sys.stderr):
        digests = bundled_digest(Path(d))
        for p in SCENARIOS:
            digests.update(scenario_digests(p, Path(d)))
    json.dump(digests, sys.stdout, indent=2, sort_keys=True)
    print()
