"""JPDA oracles: marginals against brute-force enumeration of joint events, the loopy belief
propagation approximation against the exact answer, the PDA update against the classical
combined-innovation formula, and crossing targets tracked end to end with association "jpda"."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from cuas.config import Config, TrackerConfig
from cuas.fusion.engine import FusionEngine
from cuas.tracking.jpda import (
    _lbp,
    jpda_stages,
    marginals,
    marginals_from_log_weights,
    pda_combine,
)
from tests.tracking.helpers import T0, batch, enu_det, shallow_crossing_ids

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def brute_force(track: I64, det: I64, log_w: F64, n_tracks: int) -> F64:
    """Marginal of every pair by listing every joint event (each track: none or one of its
    pairs; no detection twice), each weighing the product of its pairs' weights."""
    options = [[-1, *np.flatnonzero(track == i).tolist()] for i in range(n_tracks)]
    beta = np.zeros(len(track))
    total = 0.0
    for event in itertools.product(*options):
        taken = [k for k in event if k >= 0]
        if len({int(det[k]) for k in taken}) < len(taken):
            continue
        w = float(np.exp(sum(log_w[k] for k in taken)))
        total += w
        beta[taken] += w
    return beta / total


@st.composite
def clusters(draw: st.DrawFn, max_tracks: int = 5, max_dets: int = 5) -> tuple[I64, I64, F64,
                                                                                 int, int]:
    nt = draw(st.integers(1, max_tracks))
    nd = draw(st.integers(1, max_dets))
    gated = np.array(draw(st.lists(st.booleans(), min_size=nt * nd, max_size=nt * nd)),
                     dtype=bool).reshape(nt, nd)
    t, d = np.nonzero(gated)
    log_w = np.array(draw(st.lists(st.floats(-12.0, 12.0), min_size=len(t), max_size=len(t))))
    return t.astype(np.int64), d.astype(np.int64), log_w, nt, nd


@settings(max_examples=300, deadline=None)
@given(clusters())
def test_exact_marginals_equal_brute_force_enumeration(c: tuple[I64, I64, F64, int, int]) -> None:
    t, d, log_w, nt, nd = c
    m = marginals_from_log_weights(t, d, log_w, nt, nd)
    assert np.allclose(m.pair, brute_force(t, d, log_w, nt), rtol=0, atol=1e-9)
    # Each track: its pairs and "none" sum to 1; each detection: its pairs and clutter.
    assert np.allclose(np.bincount(t, m.pair, minlength=nt) + m.none, 1.0, atol=1e-9)
    assert np.allclose(np.bincount(d, m.pair, minlength=nd) + m.clutter, 1.0, atol=1e-9)
    assert np.all((m.pair >= 0) & (m.pair <= 1))


@settings(max_examples=60, deadline=None)
@given(clusters(max_tracks=3, max_dets=12))
def test_wide_clusters_are_exact_with_the_mask_over_the_short_side(
        c: tuple[I64, I64, F64, int, int]) -> None:
    """More detections than the bit mask holds: the cluster is turned round (tracks in the
    mask), and still exact."""
    t, d, log_w, nt, nd = c
    m = marginals_from_log_weights(t, d, log_w, nt, nd, exact_bits=4)
    assert np.allclose(m.pair, brute_force(t, d, log_w, nt), atol=1e-9)


def test_marginals_use_pd_and_clutter_density_as_defined() -> None:
    """Event weight = Π_assigned Pd·N/λ · Π_missed (1 − Pd): marginals() builds exactly that."""
    rng = np.random.default_rng(3)
    t = np.array([0, 0, 1, 1, 2])
    d = np.array([0, 1, 1, 2, 2])
    log_lik = rng.normal(-8.0, 2.0, 5)
    pd = np.array([0.9, 0.6, 0.8])
    log_lam = np.log(2e-4)
    m = marginals(t, d, log_lik, pd, log_lam, 3, 3)
    # Brute force straight from the definition (absolute weights, miss included).
    options = [[-1, *np.flatnonzero(t == i).tolist()] for i in range(3)]
    beta, none, total = np.zeros(5), np.zeros(3), 0.0
    for event in itertools.product(*options):
        taken = [k for k in event if k >= 0]
        if len({int(d[k]) for k in taken}) < len(taken):
            continue
        w = 1.0
        for i, k in enumerate(event):
            w *= (1 - pd[i]) if k < 0 else pd[i] * np.exp(log_lik[k]) / np.exp(log_lam)
        total += w
        beta[taken] += w
        none[[i for i, k in enumerate(event) if k < 0]] += w
    assert np.allclose(m.pair, beta / total, atol=1e-12)
    assert np.allclose(m.none, none / total, atol=1e-12)


def test_independent_clusters_of_every_shape_in_one_call() -> None:
    """Many clusters of mixed shapes (and lone pairs) solved together equal each solved alone."""
    rng = np.random.default_rng(11)
    ts, ds, ws, off_t, off_d, parts = [], [], [], 0, 0, []
    for _ in range(40):
        nt, nd = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        gated = rng.random((nt, nd)) < 0.7
        gated[0, 0] = True
        t, d = np.nonzero(gated)
        w = rng.normal(0, 4, len(t))
        parts.append(brute_force(t, d, w, nt))
        ts.append(t + off_t)
        ds.append(d + off_d)
        ws.append(w)
        off_t += nt + 1  # a track without any pair between clusters
        off_d += nd
    t, d, w = np.concatenate(ts), np.concatenate(ds), np.concatenate(ws)
    m = marginals_from_log_weights(t, d, w, off_t, off_d)
    assert np.allclose(m.pair, np.concatenate(parts), atol=1e-9)
    lone = np.setdiff1d(np.arange(off_t), t)
    assert np.all(m.none[lone] == 1.0)


def test_belief_propagation_is_exact_on_trees_and_close_on_loops() -> None:
    """Stated tolerance of the approximation used for large clusters: on small random
    clusters (up to 6 x 6, log weights N(0, 3)) its marginals lie within 0.25 of the exact
    ones at worst and 0.01 on average; on clusters without loops it is exact."""
    rng = np.random.default_rng(5)
    errors = []
    for _ in range(400):
        nt, nd = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        t, d = np.nonzero(rng.random((nt, nd)) < 0.6)
        if not len(t):
            continue
        w = rng.normal(0, 3, len(t))
        errors.append(np.abs(_lbp(t, d, w, nt, nd) - marginals_from_log_weights(t, d, w, nt,
                                                                                nd).pair).max())
    assert max(errors) < 0.25
    assert float(np.mean(errors)) < 0.01
    # A chain (a tree): track i gates detections i and i + 1.
    n = 7
    t = np.repeat(np.arange(n), 2)
    d = t + np.tile([0, 1], n)
    w = rng.normal(0, 2, len(t))
    assert np.allclose(_lbp(t, d, w, n, n + 1), brute_force(t, d, w, n), atol=1e-8)


def test_large_clusters_use_belief_propagation_and_stay_normalised() -> None:
    """A 30-track, 30-detection flock (beyond exact): probabilities stay in [0, 1], every
    track's and detection's sum to 1, and a clearly separated pair is near certain."""
    rng = np.random.default_rng(9)
    n = 30
    t, d = np.nonzero(np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]) <= 2)
    w = np.where(t == d, 6.0, rng.normal(0.0, 1.0, len(t)))
    m = marginals_from_log_weights(t, d, w, n, n)
    assert np.allclose(np.bincount(t, m.pair, minlength=n) + m.none, 1.0, atol=1e-9)
    assert np.all(np.bincount(d, m.pair, minlength=n) <= 1.0 + 1e-9)
    assert np.all(m.pair[t == d] > 0.8)


def test_two_stages_keep_established_tracks_first() -> None:
    """A tentative track competes only for what the established ones leave."""
    t = np.array([0, 1, 1])
    d = np.array([0, 0, 1])
    w = np.array([5.0, 8.0, 1.0])
    firm = np.array([True, False, False])
    beta, none, claim, best = jpda_stages(t, d, w, firm, 2, 2)
    assert beta[1] == 0.0  # detection 0 is the established track's
    assert beta[0] == pytest.approx(np.exp(5) / (1 + np.exp(5)))
    assert beta[2] == pytest.approx(np.exp(1) / (1 + np.exp(1)))
    assert claim[0] == pytest.approx(beta[0]) and none[1] == pytest.approx(1 - beta[2])
    assert best.tolist() == [0, 2]  # the most probable joint event, in the same stages


def test_pda_update_equals_the_combined_innovation_formula() -> None:
    """Linear position measurements: the mixture of the pairs' Kalman posteriors equals
    x + K ν, β0 P + (1 − β0) P_c + K (Σ β y yᵀ − ν νᵀ) Kᵀ."""
    rng = np.random.default_rng(2)
    A = rng.normal(size=(6, 6))
    P = A @ A.T + 6 * np.eye(6)
    x = rng.normal(size=6)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    R = np.diag([4.0, 9.0, 16.0])
    S = H @ P @ H.T + R
    K = P @ H.T @ np.linalg.inv(S)
    Pc = (np.eye(6) - K @ H) @ P
    ys = rng.normal(size=(3, 3)) * 3
    beta = np.array([0.5, 0.2, 0.1])
    beta0 = 1 - beta.sum()
    xu = x + ys @ K.T
    Pu = np.broadcast_to(Pc, (3, 6, 6))
    xm, Pm = pda_combine(x[None], P[None], np.array([beta0]), xu, Pu, beta,
                         np.zeros(3, dtype=np.int64), 1)
    nu = beta @ ys
    spread = np.einsum("k,ki,kj->ij", beta, ys, ys) - np.outer(nu, nu)
    assert np.allclose(xm[0], x + K @ nu, atol=1e-10)
    assert np.allclose(Pm[0], beta0 * P + (1 - beta0) * Pc + K @ spread @ K.T, atol=1e-9)


def jpda_engine() -> FusionEngine:
    return FusionEngine(dataclasses.replace(Config(), tracker=TrackerConfig(association="jpda")))


def test_two_crossing_targets_keep_their_identities_with_jpda() -> None:
    """Two drones crossing at a shallow angle at one height (within each other's gate for
    several scans): after the crossing each is held by the track that held it before."""
    engine = jpda_engine()
    before, after = shallow_crossing_ids(engine)
    assert before == after
    assert before["a"] != before["b"]


def test_step_weights_are_association_probabilities() -> None:
    """StepResult.weights: JPDA gives each gated (message index, track id) its marginal
    (a detection's weights sum to at most 1); GNN gives 1.0 per assignment."""
    for engine, soft in ((jpda_engine(), True), (FusionEngine(), False)):
        for k in range(6):
            dets = [enu_det([30.0 * k, 0.0, 100.0], 5.0), enu_det([30.0 * k, 15.0, 100.0], 5.0)]
            result = engine.process(batch(T0 + k, dets))
        assert result.weights
        ids = {tr.id for tr in engine.snapshot(T0 + 5).tracks}
        per_det: dict[int, float] = {}
        for (i, tid), w in result.weights.items():
            assert i in (0, 1) and tid in ids and 0.0 < w <= 1.0
            per_det[i] = per_det.get(i, 0.0) + w
        assert all(v <= 1.0 + 1e-9 for v in per_det.values())
        if not soft:
            assert set(result.weights.values()) == {1.0}
        else:
            assert any(w < 0.999 for w in result.weights.values())


def test_association_key_is_validated() -> None:
    from cuas.errors import ConfigError

    assert TrackerConfig().association == "gnn"
    with pytest.raises(ConfigError, match="tracker.association"):
        TrackerConfig(association="nearest")
