"""A track that changes objects in a crowd drops the other object's evidence (issue 16: drones
hidden in flocks): the engine marks a detection ambiguous when another updated track is close
to it, and the ledger drops a track's older evidence when its recent looks, near such a
detection, name another class than its whole history."""

from __future__ import annotations

import numpy as np
import pytest

from cuas.classify.evidence import SWITCH_LLR, EvidenceLedger, Observation
from cuas.classify.model import BIRD, UAV
from cuas.fusion.engine import FusionEngine
from tests.classify.helpers import T0, wembley
from tests.fusion.test_evidence import BIRD as BIRD_LIK
from tests.fusion.test_evidence import DRONE as DRONE_LIK
from tests.fusion.test_evidence import batch

pytestmark = pytest.mark.filterwarnings("error")

DRONE = (0.8, 0.1, 0.05, 0.1)
GULL = (0.14, 0.85, 0.05, 0.15)


def looks_until_uav_leads(ambiguous: bool, history: int = 60) -> int:
    """Drone looks (1 Hz) a track with ``history`` gull looks needs before uav leads."""
    ledger = EvidenceLedger(half_life_s=30.0)
    ids = np.asarray([1])
    for k in range(history):
        ledger.add(Observation(1, T0 + k, "radar", GULL, 0.7, ambiguous=ambiguous))
    for k in range(200):
        t = T0 + history + k
        ledger.add(Observation(1, t, "radar", DRONE, 0.7, ambiguous=ambiguous))
        row = ledger.log_evidence(t, ids)[0]
        if row[UAV] > row[BIRD]:
            return k + 1
    return 10**6


def test_a_track_that_changed_objects_in_a_crowd_forgets_the_other_one() -> None:
    crowded, alone = looks_until_uav_leads(True), looks_until_uav_leads(False)
    # From a gull's 60 s, seven or eight drone looks show the switch; alone, the history
    # must fade instead (the 30 s half-life: several times longer).
    assert crowded <= 10
    assert alone >= 3 * crowded


def test_a_few_contrary_looks_do_not_drop_a_history() -> None:
    ledger = EvidenceLedger(half_life_s=30.0)
    for k in range(60):  # a drone's track, in a crowd, with a burst of four bird labels
        lik = GULL if 30 <= k < 34 else DRONE
        ledger.add(Observation(1, T0 + k, "radar", lik, 0.7, ambiguous=True))
    assert ledger.n_switches == 0
    row = ledger.log_evidence(T0 + 60, np.asarray([1]))[0]
    assert row[UAV] - row[BIRD] > 10 * SWITCH_LLR  # the whole history stands


def test_the_summaries_restart_at_a_switch() -> None:
    ledger = EvidenceLedger(half_life_s=30.0)
    for k in range(40):
        ledger.add(Observation(1, T0 + k, "radar", GULL, 0.7, label="bird", ambiguous=True))
    for k in range(40, 60):
        ledger.add(Observation(1, T0 + k, "radar", DRONE, 0.7, label="drone", ambiguous=True))
    assert ledger.n_switches == 1
    said = ledger.describe(1, T0 + 60)
    assert said and said[0][1].startswith("radar: drone") and "bird" not in said[-1][1]


def run_pair(gap_m: float, swap_at: int = 40, n: int = 56) -> float:
    """Two targets ``gap_m`` apart flying alike; the first carries gull labels, the second
    drone labels, and at ``swap_at`` the labels trade places (as when the tracker swaps the
    two tracks). The uav probability of the first track at the end."""
    engine = FusionEngine(wembley())
    snap = None
    for k in range(n):
        t = T0 + k
        pts = [(1000.0 + 10 * k, 1000.0, 60.0), (1000.0 + 10 * k, 1000.0 + gap_m, 60.0)]
        ev = [BIRD_LIK, DRONE_LIK] if k < swap_at else [DRONE_LIK, BIRD_LIK]
        engine.process(batch(t, k, pts, ev))  # type: ignore[arg-type]
        snap = engine.snapshot(t)
    assert snap is not None
    first = min((tr for tr in snap.tracks if tr.status != "deleted"), key=lambda tr: tr.enu[1])
    return first.class_probs["uav"]


def test_the_engine_marks_close_detections_ambiguous() -> None:
    # 30 m apart: ambiguous; 16 looks after the trade the first track reads as a drone.
    assert run_pair(30.0) > 0.5
    # 400 m apart nothing is ambiguous: the first track keeps its 40 s of gull evidence.
    assert run_pair(400.0) < 0.5


def test_a_switched_track_says_so_in_its_reasons() -> None:
    engine = FusionEngine(wembley())
    snap = None
    for k in range(56):  # as run_pair(30.0): the labels trade places at 40 s
        t = T0 + k
        pts = [(1000.0 + 10 * k, 1000.0, 60.0), (1000.0 + 10 * k, 1030.0, 60.0)]
        engine.process(batch(t, k, pts, [BIRD_LIK, DRONE_LIK] if k < 40 else
                             [DRONE_LIK, BIRD_LIK]))  # type: ignore[arg-type]
        snap = engine.snapshot(t)
    assert snap is not None
    said = [r for tr in snap.tracks for r in tr.reasons if r.startswith("changed objects")]
    assert said and all(r.endswith("s ago: older evidence dropped") for r in said)
    assert engine.classifier is not None and engine.classifier.evidence.n_switches >= 1
