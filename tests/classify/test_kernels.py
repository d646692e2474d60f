"""The compiled classifier kernels (cuas.classify.kernels) against their numpy oracle.

The curve kernel promises ``np.interp``'s arithmetic and the classifier's order of sums, the
reason ordering a stable argsort's order: on seeded random inputs (breakpoints hit exactly,
values out of range, missing values, ties) the results must be equal to the last bit, and a whole
classifier run must give the same classification with the kernels on and off.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.classify import Classifier, model
from cuas.classify.classifier import KINEMATIC
from cuas.classify.features import History, features
from cuas.classify.model import CurveTable, load_model
from tests.classify.helpers import T0, inputs, wembley

MAX_REASONS = 6


@pytest.fixture(autouse=True)
def _kernels_on() -> Iterator[None]:
    model.use_kernels(True)
    assert model.kernels() is not None, "numba must run here (see pyproject)"
    yield
    model.use_kernels(True)


def feature_values(rng: np.random.Generator, curve: model.Curve, n: int) -> np.ndarray:
    """Values inside, outside and exactly on the breakpoints, some missing."""
    lo, hi = float(curve.x[0]), float(curve.x[-1])
    span = hi - lo
    v = rng.uniform(lo - 0.2 * span, hi + 0.2 * span, n)
    on = rng.random(n) < 0.2
    v[on] = rng.choice(curve.x, on.sum())
    v[rng.random(n) < 0.05] = np.nan
    v[rng.random(n) < 0.01] = np.inf
    return v


def both(table: CurveTable, values: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    n = len(values[0])
    out = []
    for on in (True, False):
        model.use_kernels(on)
        terms, kin = np.zeros((n, 4)), np.zeros((n, 4))
        table.terms(values, terms, kin)
        out += [terms, kin]
    model.use_kernels(True)
    return tuple(out)


def test_curve_terms_are_numpys_to_the_last_bit() -> None:
    m = load_model()
    rng = np.random.default_rng(3)
    table = CurveTable.of(m.curves, KINEMATIC)
    values = [feature_values(rng, c, 5000) for c in m.curves.values()]
    terms, kin, terms0, kin0 = both(table, values)
    assert terms.tobytes() == terms0.tobytes()
    assert kin.tobytes() == kin0.tobytes()
    assert np.abs(terms).sum() > 0 and not np.array_equal(terms, kin)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=6, unique=True),
       st.lists(st.floats(-5, 5), min_size=24, max_size=24),
       st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1,
                max_size=40),
       st.floats(0.1, 3.0))
def test_curve_terms_on_any_curve(xs: list[float], llr: list[float], v: list[float],
                                  clip: float) -> None:
    x = np.sort(np.asarray(xs))
    if not (np.diff(x) > 0).all():
        return
    table = CurveTable.of({"c": model.Curve("c", "", x, np.asarray(llr[: 4 * len(x)]).reshape(
        4, len(x)), clip)}, frozenset({"c"}))
    terms, kin, terms0, kin0 = both(table, [np.asarray(v)])
    assert terms.tobytes() == terms0.tobytes() and kin.tobytes() == kin0.tobytes()


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.integers(1, 25))
def test_reason_order_is_a_stable_argsort(seed: int, n: int, slots: int) -> None:
    kern = model.kernels()
    rng = np.random.default_rng(seed)
    # Few distinct weights, so ties are common; zeros are "no reason".
    W = rng.choice([0.0, 0.0, 0.2, 0.3, 0.3, 0.45, 0.9, 1.0], (n, slots))
    order = np.zeros((n, MAX_REASONS), dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    kern.order_reasons(W, MAX_REASONS, order, count)
    want = np.argsort(-W, axis=1, kind="stable")[:, :MAX_REASONS]
    want_count = np.minimum((W > 0).sum(axis=1), MAX_REASONS)
    assert (count == want_count).all()
    for r in range(n):
        assert order[r, : count[r]].tolist() == want[r, : count[r]].tolist()


def test_a_classifier_run_is_the_same_with_and_without_kernels() -> None:
    rng = np.random.default_rng(5)
    n = 400
    x0 = np.zeros((n, 6))
    x0[:, :2] = rng.uniform(-800, 800, (n, 2))
    x0[:, 2] = rng.choice([20.0, 60.0, 300.0, 3000.0], n)
    x0[:, 3:5] = rng.normal(0, 1, (n, 2)) * rng.choice([0.1, 5.0, 15.0, 60.0], n)[:, None]
    ids = np.arange(1, n + 1)
    runs = []
    for on in (True, False):
        model.use_kernels(on)
        clf = Classifier(wembley())
        out = []
        for k in range(15):
            # Tracks come and go: every few updates a different tenth is missing.
            live = (ids + k // 4) % 10 != 0
            x = x0[live] + np.hstack([x0[live, 3:] * k, np.zeros((live.sum(), 3))])
            c = clf.classify(inputs(x, t=T0 + k, ids=ids[live], age=5.0 + k, n_sources=1.0))
            out.append((c.probs.tobytes(), c.score.tobytes(), c.level.tobytes(), c.reasons))
        runs.append(out)
    model.use_kernels(True)
    assert runs[0] == runs[1]


def test_window_features_are_numpys_to_the_last_bit() -> None:
    """Tracks still, hovering, wandering and flying, snapshots at irregular times, through a
    whole turn of the history ring (its window is laid out by rows at one point of the turn,
    by columns at the others, and numpy sums those in different orders)."""
    rng = np.random.default_rng(2)
    n = 1500
    pos = rng.uniform(-500, 500, (n, 3))
    pos[:, 2] = rng.choice([2.0, 30.0, 300.0], n)
    vel = rng.normal(0, 1, (n, 3)) * rng.choice([0.0, 0.0, 0.1, 0.3, 3.0, 15.0], n)[:, None]
    vel[:, 2] = 0.0
    hist = History()
    t = T0
    layouts = set()
    ids = np.arange(n)
    for k in range(3 * hist.depth):
        t += 1.0 + 0.37 * rng.random()
        pos = pos + vel + rng.normal(0, 0.6, (len(ids), 3)) * rng.choice([0, 1], len(ids))[
            :, None]
        # Now and then a few tracks are reported deleted (the history then keeps a copy of
        # the survivors, another layout again).
        keep = rng.random(len(ids)) > 0.01 if k > hist.depth and k % 5 == 4 else np.ones(
            len(ids), bool)
        w = hist.update(t, ids, pos, keep)
        layouts.add((abs(w.e.strides[1]) < abs(w.e.strides[0]), w.e.flags.c_contiguous))
        got = []
        for on in (True, False):
            model.use_kernels(on)
            m = len(ids)
            got.append(features(t, np.hstack([pos, vel]), np.full((m, 3), 3.0),
                                np.full((m, 3), 1.0), np.full(m, T0 - 10), np.ones(m),
                                np.ones(m), w))
        model.use_kernels(True)
        for name in ("straightness", "turn_rate", "hover_s", "loiter_radius", "displacement",
                     "window_s"):
            a, b = getattr(got[0], name), getattr(got[1], name)
            assert a.tobytes() == b.tobytes(), name
        ids, pos, vel = ids[keep], pos[keep], vel[keep]
    # Rows first and contiguous, columns first, and rows first in a strided copy.
    assert layouts >= {(True, True), (False, False), (True, False)}
    assert np.isfinite(got[0].turn_rate).sum() > 100 and (got[0].hover_s > 3).sum() > 100
