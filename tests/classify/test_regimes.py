"""Evidence that keeps threat honest where a sensor's labels cannot (issue 16): a track the
radar hits on only some looks (fixed clutter) is not a threat however its few labels read; a
"gull" that stops and hovers after a crowd drops its bird history; a track relabelled in a
crowd by one sensor's labels is as young as its new evidence."""

from __future__ import annotations

import numpy as np
import pytest

from cuas.classify import Classifier
from cuas.classify.evidence import EvidenceLedger, Observation
from cuas.classify.model import BIRD, UAV
from tests.classify.helpers import T0, inputs, site

pytestmark = pytest.mark.filterwarnings("error")

DRONE = (0.8, 0.1, 0.05, 0.1)
GULL = (0.14, 0.85, 0.05, 0.15)
#: Inside the test site's no-fly box, 40 m up, still.
IN_ZONE = [10.0, 10.0, 40.0, 0.0, 0.0, 0.0]


def zone_track(hit_ratio: float, n_sources: float) -> bool:
    """Whether a single still track in the no-fly zone, labelled drone on its looks, ends
    malicious."""
    clf = Classifier(site())
    out = None
    for k in range(20):
        clf.evidence.add(Observation(1, T0 + k, "radar", DRONE, 0.7))
        out = clf.classify(inputs(IN_ZONE, t=T0 + k, age=30.0 + k, hit_ratio=hit_ratio,
                                  n_sources=n_sources))
    assert out is not None and out.probs[0, UAV] > 0.5
    return bool(out.malicious[0])


def test_a_track_hit_on_few_looks_is_not_flagged_however_it_is_labelled() -> None:
    assert zone_track(0.95, 1.0)  # a drone the radar sees on every look: flagged
    assert not zone_track(0.45, 1.0)  # ground clutter comes and goes: not
    assert zone_track(0.45, 2.0)  # two sensors see it: it is there


def gull_history(ledger: EvidenceLedger, crowd: bool, n: int = 60) -> None:
    for k in range(n):
        ledger.add(Observation(1, T0 + k, "radar", GULL, 0.7, ambiguous=crowd))


def test_a_bird_history_from_a_crowd_is_dropped_once() -> None:
    ledger = EvidenceLedger()
    gull_history(ledger, crowd=True)
    for k in range(3):  # the stop: the drone's own labels come in
        ledger.add(Observation(1, T0 + 60 + k, "radar", DRONE, 0.7, ambiguous=True))
    ids = np.asarray([1])
    before = ledger.log_evidence(T0 + 63, ids)[0]
    assert np.argmax(before) == BIRD
    dropped = ledger.drop_history(T0 + 63, ids, ledger.slots(ids), BIRD)
    assert dropped.tolist() == [0] and ledger.n_switches == 1
    after = ledger.log_evidence(T0 + 63, ids)[0]
    assert after[UAV] - after[BIRD] > before[UAV] - before[BIRD] + 5.0
    # Not again straight away, and not a history from no crowd.
    assert not len(ledger.drop_history(T0 + 64, ids, ledger.slots(ids), UAV))
    alone = EvidenceLedger()
    gull_history(alone, crowd=False)
    assert not len(alone.drop_history(T0 + 63, ids, alone.slots(ids), BIRD))


def hover_after_flock(crowd: bool) -> float | None:
    """Seconds from the stop until a track with a gull's crowd history, which then hovers with
    the drone's labels, reads as a drone (None: not within 40 s)."""
    clf = Classifier(site())
    x = [-900.0, 300.0, 60.0, 10.0, 0.0, 0.0]
    for k in range(60):  # flying with the flock, labelled gull
        x = [x[0] + 10.0, *x[1:]]
        clf.evidence.add(Observation(1, T0 + k, "radar", GULL, 0.7, ambiguous=crowd))
        clf.classify(inputs(x, t=T0 + k, age=k + 1.0, n_sources=1.0))
    still = [x[0], x[1], x[2], 0.0, 0.0, 0.0]
    for k in range(60, 100):
        clf.evidence.add(Observation(1, T0 + k, "radar", DRONE, 0.7, ambiguous=crowd))
        out = clf.classify(inputs(still, t=T0 + k, age=k + 1.0, n_sources=1.0))
        if out.probs[0, UAV] > 0.5:
            return float(k - 60)
    return None


def test_a_gull_track_that_stops_and_hovers_after_a_crowd_is_rejudged() -> None:
    crowded, alone = hover_after_flock(True), hover_after_flock(False)
    assert crowded is not None and crowded <= 8.0
    # Without a crowd no history is dropped: the gull's evidence must fade instead.
    assert alone is None or alone >= crowded + 5.0
