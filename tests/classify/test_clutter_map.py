"""The clutter map: where stationary anonymous tracks ended, and what a new track there reads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.classify import Classifier
from cuas.classify.clutter_map import ClutterMap
from cuas.classify.model import CLUTTER, UAV
from tests.classify.helpers import T0, inputs, site

pytestmark = pytest.mark.filterwarnings("error")


def test_a_recorded_place_is_found_nearby_and_nowhere_else_and_decays() -> None:
    cmap = ClutterMap(cell_m=30.0, half_life_s=600.0)
    cmap.record(T0, np.array([[500.0, -200.0, 40.0]]), np.array([60.0]))
    near = cmap.lookup(T0, np.array([[520.0, -190.0, 45.0], [480.0, -230.0, 30.0]]))
    assert np.allclose(near, 60.0)  # the neighbours of its cell hold it too
    assert cmap.lookup(T0, np.array([[900.0, -200.0, 40.0]]))[0] == 0.0
    assert np.isclose(cmap.lookup(T0 + 600.0, np.array([[500.0, -200.0, 40.0]]))[0], 30.0)
    cmap.record(T0 + 600.0, np.array([[505.0, -195.0, 41.0]]), np.array([10.0]))
    assert np.isclose(cmap.lookup(T0 + 600.0, np.array([[500.0, -200.0, 40.0]]))[0], 40.0)


@given(st.lists(st.tuples(st.floats(-1e7, 1e7), st.floats(-1e7, 1e7), st.floats(-1e4, 1e5),
                          st.floats(0.0, 1e6)), max_size=30))
@settings(max_examples=100, deadline=None)
def test_any_positions_and_lifetimes_keep_the_map_bounded_and_finite(
        rows: list[tuple[float, float, float, float]]) -> None:
    cmap = ClutterMap(max_cells=200)
    for i, (e, n, u, life) in enumerate(rows):
        cmap.record(T0 + i, np.array([[e, n, u]]), np.array([life]))
    assert len(cmap.keys) <= 200 and bool((np.diff(cmap.keys) > 0).all())
    out = cmap.lookup(T0 + len(rows), np.array([[r[0], r[1], r[2]] for r in rows] or [[0.0] * 3]))
    assert np.isfinite(out).all() and (out >= 0).all()


def _hold(clf: Classifier, ids: list[int], x: list[list[float]], t0: float, seconds: int,
          deleted_at_end: bool = True) -> np.ndarray:
    """Feed ``seconds`` one-second snapshots of tracks ``ids`` at states ``x`` (moving by their
    velocity), then report them deleted; the probabilities of the last live snapshot."""
    xs = np.asarray(x, dtype=float)
    probs = np.zeros((len(ids), 4))
    for k in range(seconds):
        now = xs.copy()
        now[:, :3] += xs[:, 3:] * k
        probs = clf.classify(inputs(now, t=t0 + k, ids=ids, age=float(k), n_sources=1.0)).probs
    if deleted_at_end:
        now = xs.copy()
        now[:, :3] += xs[:, 3:] * seconds
        clf.classify(inputs(now, t=t0 + seconds, ids=ids, age=float(seconds), n_sources=1.0,
                            deleted=[True] * len(ids)))
    return probs


def test_a_new_track_where_stationary_tracks_died_leans_to_clutter() -> None:
    clf = Classifier(site())
    mast = [600.0, 600.0, 40.0, 0.0, 0.0, 0.0]
    _hold(clf, [1], [mast], T0, 40)  # a return that sat still for 40 s, then dropped
    again = _hold(clf, [2, 3], [mast, [-600.0, 600.0, 40.0, 0.0, 0.0, 0.0]], T0 + 60, 8, False)
    assert again[0, CLUTTER] > again[1, CLUTTER] + 0.2  # same look, but a known clutter spot
    assert again[0, UAV] < again[1, UAV]


def test_a_track_that_moved_or_had_an_identity_marks_nothing() -> None:
    clf = Classifier(site())
    _hold(clf, [1], [[600.0, 600.0, 40.0, 5.0, 0.0, 0.0]], T0, 40)  # flew 200 m
    ident = np.array([0])
    for k in range(40):  # a Remote ID drone hovering, then gone
        clf.classify(inputs([[-600.0, -600.0, 40.0, 0, 0, 0]], t=T0 + k, ids=[7], age=float(k),
                            ident=ident))
    clf.classify(inputs([[-600.0, -600.0, 40.0, 0, 0, 0]], t=T0 + 40, ids=[7], age=40.0,
                        ident=ident, deleted=[True]))
    assert len(clf.clutter_map.keys) == 0
