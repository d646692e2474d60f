"""The IMM's motion modes as class evidence, against synthetic mode histories (the tracker gives
``mode_prob`` rows over hover, constant velocity, manoeuvre), and a still track without them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.classify import Classifier
from cuas.classify.model import BIRD, UAV
from tests.classify.helpers import T0, inputs, site

pytestmark = pytest.mark.filterwarnings("error")

#: Outside the test site's zone, 60 m up, moving slowly enough that speed alone says little.
X = [300.0, 300.0, 60.0, 2.0, 1.5, 0.0]


def run(modes: list[tuple[float, float, float]], x: list[float] = X) -> tuple[float, float]:
    """(p(uav), held hover s) of one track after one update per second with these modes."""
    clf = Classifier(site())
    out = None
    for k, mp in enumerate(modes):
        at = [x[0] + x[3] * k, x[1] + x[4] * k, x[2], *x[3:]]  # flown on at its velocity
        inp = dataclasses.replace(inputs(at, t=T0 + k, n_sources=1.0),
                                  mode_prob=np.asarray([mp], dtype=np.float64))
        out = clf.classify(inp)
    assert out is not None
    return float(out.probs[0, UAV]), float(clf._state.cols["hover"][0])


def test_a_sustained_hover_mode_makes_a_drone() -> None:
    p, held = run([(0.95, 0.04, 0.01)] * 45)
    assert held > 35.0
    assert p > 0.8


def test_a_flickering_hover_mode_adds_little() -> None:
    # Flap-glide: the IMM's hover mode a few seconds at a time, then flight.
    flicker = [(0.7, 0.2, 0.1) if k % 6 < 2 else (0.05, 0.35, 0.6) for k in range(45)]
    p_flicker, held_flicker = run(flicker)
    p_hover, held_hover = run([(0.95, 0.04, 0.01)] * 45)
    assert held_flicker < 0.5 * held_hover
    assert p_flicker < p_hover


def test_no_imm_rows_fall_back_to_the_track_itself() -> None:
    # (0, 1, 0) means no IMM: a still track (no speed) is judged on its own motion.
    _, held = run([(0.0, 1.0, 0.0)] * 30, x=[300.0, 300.0, 60.0, 0.0, 0.0, 0.0])
    assert held >= 25.0
    _, held_moving = run([(0.0, 1.0, 0.0)] * 30, x=[300.0, 300.0, 60.0, 10.0, 0.0, 0.0])
    assert held_moving == 0.0


def test_a_noisy_still_track_hovers_by_its_window() -> None:
    # A radar track of a hovering drone: its velocity estimate wanders at 1.5-2 m/s, its
    # position within a few metres; the window (8 s within 10 m) says it holds still.
    clf = Classifier(site())
    rng = np.random.default_rng(3)
    out = None
    for k in range(60):
        x = [300.0 + rng.normal(0, 2.0), 300.0 + rng.normal(0, 2.0), 60.0,
             1.5 * np.cos(k), 1.5 * np.sin(k), 0.0]
        out = clf.classify(inputs(x, t=T0 + k, n_sources=1.0))
    assert out is not None
    assert clf._state.cols["hover"][0] > 40.0
    assert out.probs[0, UAV] > out.probs[0, BIRD]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=40), st.floats(0.0, 1.0))
def test_more_hover_mode_never_lowers_the_drone_probability(p_hover: list[float],
                                                            extra: float) -> None:
    base = [(p, 1.0 - p - 1e-3 if p < 1.0 else 0.0, 1e-3 if p < 1.0 else 0.0) for p in p_hover]
    more = [(min(1.0, p + extra * (1.0 - p)), 0.0, 1.0 - min(1.0, p + extra * (1.0 - p)))
            for p in p_hover]
    p_base, held_base = run(base)
    p_more, held_more = run(more)
    assert held_more >= held_base - 1e-9
    assert p_more >= p_base - 1e-9
