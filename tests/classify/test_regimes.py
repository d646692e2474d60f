"""Evidence that keeps threat honest where a sensor's labels cannot (issue 16): a track the
radar hits on only some looks (fixed clutter) is not a threat however its few labels read."""

from __future__ import annotations

import pytest

from cuas.classify import Classifier
from cuas.classify.evidence import Observation
from cuas.classify.model import UAV
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
