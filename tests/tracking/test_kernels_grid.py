"""The compiled spatial gates (cuas.tracking.kernels_grid) against their KD-tree oracle.

The grid must give exactly the pairs the KD-tree path gives, in the same (sorted) order, for
any scene: tight and wide tracks, one point or thousands, coincident points, a scene wider than
the grid's cell budget, and points that are not finite.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from cuas.tracking import updater
from cuas.tracking.hypothesiser import candidate_pairs
from cuas.tracking.updater import close_pairs

GATE = 11.34  # χ²(0.99, 3)


pytestmark = pytest.mark.usefixtures("kernels_on")


def both(fn, *args):  # type: ignore[no-untyped-def]
    """``fn(*args)`` compiled and with the kernels off (the KD-tree oracle)."""
    got = fn(*args)
    updater.use_kernels(False)
    try:
        want = fn(*args)
    finally:
        updater.use_kernels(True)
    return got, want


def scene(rng: np.random.Generator, n: int, m: int, extent: float,
          wide: float) -> tuple[np.ndarray, ...]:
    """n tracks over ``extent`` (m), a share of them ``wide`` times the usual variance, and m
    detections: half near tracks, half anywhere."""
    tp = rng.uniform(-extent, extent, (n, 3))
    tp[:, 2] *= 0.1
    near = rng.integers(0, n, m // 2)
    dp = np.concatenate([tp[near] + rng.normal(0.0, 20.0, (len(near), 3)),
                         rng.uniform(-extent, extent, (m - len(near), 3))])
    tr2 = rng.exponential(100.0, n) * np.where(rng.random(n) < 0.1, wide, 1.0)
    dr2 = rng.exponential(50.0, m)
    return tp, tr2, dp, dr2


def assert_same_pairs(got: tuple[np.ndarray, np.ndarray],
                      want: tuple[np.ndarray, np.ndarray]) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize(("n", "m", "extent", "wide"), [
    (200, 300, 5_000.0, 100.0),     # sparse, a few wide tracks
    (1_000, 1_100, 20_000.0, 1.0),  # the benchmark's shape
    (300, 300, 50.0, 1.0),          # a crowd: most pairs gate
    (100, 2_000, 1e5, 1e6),         # wide tracks that reach every detection
])
def test_gate_pairs_match_the_kd_tree(n: int, m: int, extent: float, wide: float) -> None:
    rng = np.random.default_rng(n + m)
    tp, tr2, dp, dr2 = scene(rng, n, m, extent, wide)
    got, want = both(candidate_pairs, tp, tr2, dp, dr2, GATE)
    assert len(want[0]) > 0
    assert_same_pairs(got, want)
    # Sorted by track, then detection: the order the small-problem path has always had.
    key = got[0] * m + got[1]
    assert np.all(np.diff(key) > 0)


def test_gate_pairs_agree_with_every_pair_tested() -> None:
    """The brute-force definition: every pair inside gate·(r²_track + r²_det)."""
    rng = np.random.default_rng(3)
    tp, tr2, dp, dr2 = scene(rng, 150, 120, 2_000.0, 50.0)
    d2 = np.sum((tp[:, None, :] - dp[None, :, :]) ** 2, axis=2)
    ti, dj = np.nonzero(d2 <= GATE * (tr2[:, None] + dr2[None, :]))
    assert_same_pairs(candidate_pairs(tp, tr2, dp, dr2, GATE), (ti, dj))


def test_non_finite_points_pair_with_nothing() -> None:
    rng = np.random.default_rng(4)
    tp, tr2, dp, dr2 = scene(rng, 200, 200, 3_000.0, 1.0)
    tp[5] = np.nan
    tp[6, 0] = np.inf
    got = candidate_pairs(tp, tr2, dp, dr2, GATE)
    assert not np.isin(got[0], [5, 6]).any()
    pts = tp.copy()
    i, j = close_pairs(pts, 500.0)
    assert not np.isin(i, [5, 6]).any() and not np.isin(j, [5, 6]).any()


@pytest.mark.parametrize("r", [0.0, 1.0, 150.0, 5_000.0])
def test_close_pairs_match_query_pairs(r: float) -> None:
    rng = np.random.default_rng(int(r) + 7)
    pts = rng.uniform(-3_000.0, 3_000.0, (800, 3))
    pts[:50] = pts[50:100] + rng.normal(0.0, 0.5, (50, 3))  # near-duplicates
    pts[100:110] = pts[110]  # coincident points
    got, want = both(close_pairs, pts, r)
    assert_same_pairs(got, want)
    ref = cKDTree(pts).query_pairs(r, output_type="ndarray")
    assert len(got[0]) == len(ref)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 300), m=st.integers(1, 300),
       extent=st.floats(1.0, 1e6), wide=st.floats(1.0, 1e8),
       r=st.floats(0.0, 1e5))
def test_grid_agrees_with_the_kd_tree_on_any_scene(seed: int, n: int, m: int, extent: float,
                                                  wide: float, r: float) -> None:
    rng = np.random.default_rng(seed)
    tp, tr2, dp, dr2 = scene(rng, n, m, extent, wide)
    assert_same_pairs(*both(candidate_pairs, tp, tr2, dp, dr2, GATE))
    assert_same_pairs(*both(close_pairs, tp, r))
