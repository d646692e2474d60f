"""Track-to-track association and covariance intersection (pure batched functions)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.federation import fuse


def _spd(rng: np.random.Generator, n: int, scale: float = 10.0) -> np.ndarray:
    a = rng.normal(size=(n, 3, 3)) * scale
    return np.einsum("nij,nkj->nik", a, a) + np.eye(3) * scale


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_ci_is_consistent_for_any_cross_correlation(seed: int, rho: float) -> None:
    """CI's covariance bounds the true error covariance of the fused estimate whatever the
    correlation between the inputs (here Pab = rho * sqrt(Pa) sqrt(Pb)^T)."""
    rng = np.random.default_rng(seed)
    Pa, Pb = _spd(rng, 1), _spd(rng, 1)
    x, P, w = fuse.covariance_intersection(np.zeros((1, 3)), Pa, np.zeros((1, 3)), Pb)
    assert 0.0 <= w[0] <= 1.0
    La, Lb = np.linalg.cholesky(Pa[0]), np.linalg.cholesky(Pb[0])
    Pab = rho * La @ Lb.T
    # The fused estimate is K_a x_a + K_b x_b; its true error covariance:
    Ia, Ib = np.linalg.inv(Pa[0]), np.linalg.inv(Pb[0])
    Ka, Kb = P[0] @ (w[0] * Ia), P[0] @ ((1 - w[0]) * Ib)
    true = Ka @ Pa[0] @ Ka.T + Kb @ Pb[0] @ Kb.T + Ka @ Pab @ Kb.T + Kb @ Pab.T @ Ka.T
    assert np.linalg.eigvalsh(P[0] - true).min() >= -1e-6 * np.abs(P[0]).max()
    # And it is never worse than the better input (det).
    assert np.linalg.det(P[0]) <= min(np.linalg.det(Pa[0]), np.linalg.det(Pb[0])) * (1 + 1e-6)


def test_ci_of_identical_estimates_is_the_estimate_not_half_of_it() -> None:
    """The same information twice is counted once: CI returns it unchanged (a Kalman fusion
    of two independent estimates would halve the covariance)."""
    P = np.diag([4.0, 9.0, 16.0])[None]
    x = np.array([[1.0, 2.0, 3.0]])
    fx, fP, _ = fuse.covariance_intersection(x, P, x, P)
    np.testing.assert_allclose(fx, x)
    np.testing.assert_allclose(fP, P, rtol=1e-9)


def test_ci_prefers_the_sharper_estimate() -> None:
    xa, xb = np.array([[0.0, 0.0, 0.0]]), np.array([[10.0, 0.0, 0.0]])
    Pa, Pb = np.eye(3)[None] * 1.0, np.eye(3)[None] * 100.0
    fx, fP, w = fuse.covariance_intersection(xa, Pa, xb, Pb)
    assert w[0] > 0.9 and abs(fx[0, 0]) < 1.0 and fP[0, 0, 0] <= 1.0 + 1e-9


def test_association_joins_one_object_across_sites_never_within_one() -> None:
    pos = np.array([[0.0, 0.0, 50.0], [3.0, -2.0, 51.0],   # one drone, sites 0 and 1
                    [4.0, 1.0, 50.0],                        # another drone of site 0 nearby
                    [500.0, 0.0, 50.0], [1500.0, 0.0, 60.0]])
    cov = np.repeat(np.eye(3)[None] * 25.0, 5, axis=0)
    site = np.array([0, 1, 0, 1, 2])
    labels = fuse.associate(pos, cov, site, gate_chi2=16.27)
    assert labels[0] != labels[2]  # same site: never merged
    assert labels[1] in (labels[0], labels[2])
    assert len(set(labels.tolist())) == 4
    for lab in set(labels.tolist()):
        members = site[labels == lab]
        assert len(members) == len(set(members.tolist()))


def test_fuse_clusters_batches_many_sizes() -> None:
    rng = np.random.default_rng(3)
    n = 30
    pos = rng.normal(size=(n, 3)) * 1000
    vel = rng.normal(size=(n, 3))
    cov = _spd(rng, n, 3.0)
    labels = np.array([i // 3 for i in range(n)])  # clusters of three
    uniq, members, fpos, fvel, fcov = fuse.fuse_clusters(labels, pos, vel, cov)
    assert len(uniq) == 10 and all(len(m) == 3 for m in members)
    for m, idx in enumerate(members):
        # sequential CI by hand for cluster m
        x, P = pos[idx[:1]], cov[idx[:1]]
        for i in idx[1:]:
            x, P, _ = fuse.covariance_intersection(x, P, pos[[i]], cov[[i]])
        np.testing.assert_allclose(fpos[m], x[0], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(fcov[m], P[0], rtol=1e-9, atol=1e-9)


def test_regional_frame_is_the_local_frame_at_the_origin() -> None:
    origin = (51.5, -0.1, 40.0)
    lla = np.array([[51.5, -0.1, 140.0]])
    pos, vel, cov = fuse.to_regional(lla, np.array([[1.0, 2.0, 3.0]]),
                                     np.array([[2.0, 3.0, 4.0]]), origin)
    np.testing.assert_allclose(pos, [[0.0, 0.0, 100.0]], atol=1e-6)
    np.testing.assert_allclose(vel, [[1.0, 2.0, 3.0]], atol=1e-9)
    np.testing.assert_allclose(np.diagonal(cov[0]), [4.0, 9.0, 16.0], atol=1e-9)
    # 20 km east the axes turn by about 0.14 degrees: a northward velocity there gains a
    # small east component in the regional frame, and keeps its length.
    far = np.array([[51.5, -0.1 + 20000 / (111320 * np.cos(np.radians(51.5))), 40.0]])
    _, v2, _ = fuse.to_regional(far, np.array([[0.0, 10.0, 0.0]]), np.ones((1, 3)), origin)
    assert abs(np.linalg.norm(v2) - 10.0) < 1e-9 and 0.0 < abs(v2[0, 0]) < 0.1
