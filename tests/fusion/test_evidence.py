"""Class evidence on detections reaches the right track through the engine, once each; the
site travels with a recording (MCAP metadata) and --config accepts a scenario file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cuas import wire
from cuas.cli.common import site_config
from cuas.fusion.engine import FusionEngine
from cuas.record.site import read_site, site_metadata
from cuas.sim.runner import simulate_scenario, write_scenario
from cuas.sim.scenario import load_scenario
from tests.classify.helpers import T0, wembley

ROOT = Path(__file__).resolve().parents[2]
DRONE = {"uav": 0.8, "bird": 0.1, "manned": 0.05, "clutter": 0.1}
BIRD = {"uav": 0.14, "bird": 0.85, "manned": 0.05, "clutter": 0.15}


def batch(t: float, seq: int, points: list[tuple[float, float, float]],
          evidence: list[dict[str, float] | None], sensor: str = "radar-x") -> wire.Detections:
    dets: list[dict[str, Any]] = []
    for p, ev in zip(points, evidence, strict=True):
        d: dict[str, Any] = {"frame": "enu", "z": list(p), "sigma": [3.0] * 3}
        if ev is not None:
            d["evidence"] = {"likelihood": ev, "confidence": 0.7, "label": "x",
                             "basis": "micro-doppler"}
        dets.append(d)
    msg = wire.from_dict({"v": 1, "type": "detections", "src": sensor, "seq": seq, "t": t,
                          "sensor": sensor, "kind": "radar", "dets": dets})
    assert isinstance(msg, wire.Detections)
    return msg


def run(n: int = 30, repeat: bool = False) -> tuple[FusionEngine, wire.Tracks]:
    engine = FusionEngine(wembley())
    snap = None
    for k in range(n):
        t = T0 + k
        # Two targets 400 m apart flying alike at 10 m/s, 1 km out: only their evidence differs.
        pts = [(1000.0 + 10 * k, 1000.0, 60.0), (1000.0 + 10 * k, 1400.0, 60.0)]
        b = batch(t, k, pts, [DRONE, BIRD])
        engine.process(b)
        if repeat:
            engine.process(batch(t, k, pts, [DRONE, BIRD], sensor="radar-x"))  # same again
        snap = engine.snapshot(t)
    assert snap is not None
    return engine, snap


def test_each_track_gets_its_own_detections_evidence() -> None:
    engine, snap = run()
    live = sorted((t for t in snap.tracks if t.status != "deleted"), key=lambda t: t.enu[1])
    assert len(live) == 2
    drone, bird = live
    assert drone.class_probs["uav"] > 0.9 > bird.class_probs["uav"]
    assert bird.class_probs["bird"] > 0.9
    assert any(r.startswith("radar-x: x ") for r in drone.reasons), drone.reasons
    assert engine.counters["evidence_used"] >= 2 * 27


def test_a_detection_delivered_twice_counts_once() -> None:
    once, snap1 = run()
    twice, snap2 = run(repeat=True)
    # The repeats are refused as late batches or as evidence already counted.
    p1 = sorted(t.class_probs["uav"] for t in snap1.tracks)
    p2 = sorted(t.class_probs["uav"] for t in snap2.tracks)
    assert p1 == pytest.approx(p2, abs=1e-9)


def test_a_scenario_recording_carries_its_site(tmp_path: Path) -> None:
    sc = load_scenario(ROOT / "recordings" / "scenarios" / "single-inbound.toml")
    rec, truth = tmp_path / "r.mcap", tmp_path / "t.jsonl"
    write_scenario(simulate_scenario(sc, 1), rec, truth)
    carried = read_site(rec)
    assert carried is not None
    assert [z.id for z in carried.zones] == [z.id for z in sc.config.zones]
    assert carried.assets == sc.config.assets
    assert read_site(truth) is None  # JSON Lines carries none
    meta = site_metadata(sc.config)
    assert meta is not None and meta["source"].endswith("wembley.toml")


def test_config_accepts_a_scenario_file_and_defaults_to_the_bundled_site() -> None:
    cfg = site_config(str(ROOT / "recordings" / "scenarios" / "single-inbound.toml"))
    assert [z.id for z in cfg.zones] == ["bowl", "inner", "outer", "olympic-way"]
    default = site_config(None)
    assert default.zones and default.assets
    assert default.path is not None and default.path.endswith("configs/wembley.toml")
