"""The hypothesiser never loses a pair the full N×M gate keeps; GNN is optimal per cluster."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.tracking.associator import gnn_assign
from cuas.tracking.hypothesiser import candidate_pairs


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), m=st.integers(0, 40),
       spread=st.floats(10.0, 5000.0))
def test_coarse_gate_keeps_every_pair_the_exact_bound_keeps(seed: int, n: int, m: int,
                                                           spread: float) -> None:
    rng = np.random.default_rng(seed)
    tp = rng.uniform(-spread, spread, (n, 3))
    dp = rng.uniform(-spread, spread, (m, 3))
    tr2 = rng.uniform(1.0, 100.0, n) ** 2 * rng.choice([1.0, 1.0, 50.0], n)  # a few wide tracks
    dr2 = rng.uniform(1.0, 30.0, m) ** 2
    gate = 11.34
    ti, dj = candidate_pairs(tp, tr2, dp, dr2, gate)
    got = set(zip(ti.tolist(), dj.tolist(), strict=True))
    d2 = ((tp[:, None, :] - dp[None, :, :]) ** 2).sum(-1)
    want = {(i, j) for i in range(n) for j in range(m) if d2[i, j] <= gate * (tr2[i] + dr2[j])}
    assert got == want


def brute_force(track: np.ndarray, det: np.ndarray, cost: np.ndarray, miss: np.ndarray) -> float:
    """Least total cost over every one-to-one subset of pairs (unassigned tracks pay `miss`)."""
    tracks = sorted(set(track.tolist()))
    miss_of = {t: max(miss[track == t]) for t in tracks}
    best = float(sum(miss_of.values()))
    k = len(track)
    for r in range(1, k + 1):
        for subset in itertools.combinations(range(k), r):
            ts = track[list(subset)]
            ds = det[list(subset)]
            if len(set(ts.tolist())) < r or len(set(ds.tolist())) < r:
                continue
            total = float(cost[list(subset)].sum()) + sum(
                miss_of[t] for t in tracks if t not in set(ts.tolist()))
            best = min(best, total)
    return best


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5), m=st.integers(1, 5),
       density=st.floats(0.1, 1.0))
def test_gnn_is_optimal(seed: int, n: int, m: int, density: float) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < density
    track, det = np.nonzero(mask)
    if len(track) > 9:
        keep = rng.choice(len(track), 9, replace=False)
        track, det = track[keep], det[keep]
    gate = 11.34
    cost = rng.uniform(0.0, gate, len(track))
    miss = np.full(len(track), gate)
    chosen = gnn_assign(track.astype(np.int64), det.astype(np.int64), cost, miss, n, m)
    assert len(set(track[chosen].tolist())) == len(chosen)
    assert len(set(det[chosen].tolist())) == len(chosen)
    assigned = set(track[chosen].tolist())
    total = float(cost[chosen].sum()) + gate * len(set(track.tolist()) - assigned)
    assert total <= brute_force(track, det, cost, miss) + 1e-9
