"""The batched filter equals a per-track filterpy KalmanFilter (the reference oracle).

The oracle's F and Q are written out here from the textbook (constant velocity; discretised
continuous white-noise acceleration, Bar-Shalom et al. 6.2.2), not taken from cuas, so a
mistake in the project's models cannot hide in both sides."""

from __future__ import annotations

import numpy as np
from filterpy.kalman import KalmanFilter
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.tracking.models import POS, ConstantVelocity
from cuas.tracking.updater import innovation_covariance, kalman_update

TOL = 1e-9


def random_spd(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    a = rng.normal(size=(n, n)) * scale
    return a @ a.T + np.eye(n) * scale * scale * 0.1


def textbook_F(dt: float) -> np.ndarray:
    """x' = x + dt·v, v' = v on each of the e, n, u axes; state [e, n, u, ve, vn, vu]."""
    return np.array([
        [1, 0, 0, dt, 0, 0],
        [0, 1, 0, 0, dt, 0],
        [0, 0, 1, 0, 0, dt],
        [0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 1],
    ], dtype=float)


def textbook_Q(dt: float, q_h: float, q_v: float) -> np.ndarray:
    """Per axis with spectral density q: [[q dt³/3, q dt²/2], [q dt²/2, q dt]]."""
    a, b, c = dt**3 / 3, dt**2 / 2, dt
    h, v = q_h, q_v
    return np.array([
        [a * h, 0, 0, b * h, 0, 0],
        [0, a * h, 0, 0, b * h, 0],
        [0, 0, a * v, 0, 0, b * v],
        [b * h, 0, 0, c * h, 0, 0],
        [0, b * h, 0, 0, c * h, 0],
        [0, 0, b * v, 0, 0, c * v],
    ])


def reference(x, P, dt, q_h, q_v, z, R):
    kf = KalmanFilter(dim_x=6, dim_z=3)
    kf.x = x.copy()
    kf.P = P.copy()
    kf.F = textbook_F(dt)
    kf.Q = textbook_Q(dt, q_h, q_v)
    kf.H = np.hstack([np.eye(3), np.zeros((3, 3))])
    kf.R = R.copy()
    kf.predict()
    x_pred, P_pred = kf.x.copy(), kf.P.copy()
    kf.update(z)  # filterpy uses the Joseph form too
    return x_pred, P_pred, kf.x.copy(), kf.P.copy()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 12),
    q_h=st.floats(0.01, 50.0),
    q_v=st.floats(0.01, 50.0),
    pos_scale=st.floats(0.5, 500.0),
)
def test_batched_predict_update_equals_filterpy(seed, k, q_h, q_v, pos_scale):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(k, 6)) * np.array([1e3, 1e3, 100, 20, 20, 5])
    P = np.stack([random_spd(rng, 6, pos_scale) for _ in range(k)])
    dt = rng.uniform(0.0, 5.0, size=k)
    z = x[:, :3] + rng.normal(size=(k, 3)) * 30
    R = np.stack([random_spd(rng, 3, rng.uniform(0.5, 50)) for _ in range(k)])

    x_pred, P_pred = ConstantVelocity(q_h, q_v).predict(x, P, dt)
    H = np.broadcast_to(np.hstack([np.eye(3), np.zeros((3, 3))]), (k, 3, 6)).copy()
    x_post, P_post = kalman_update(x_pred, P_pred, z - x_pred[:, :3], H, R)
    # The sliced path the tracker uses for position measurements must agree with the generic.
    x_fast, P_fast = kalman_update(x_pred, P_pred, z - x_pred[:, :3], None, R, selects=POS)
    assert np.allclose(x_fast, x_post, rtol=0, atol=TOL * max(1.0, np.abs(x_post).max()))
    assert np.allclose(P_fast, P_post, rtol=0, atol=TOL * max(1.0, np.abs(P_post).max()))

    for i in range(k):
        rx, rP, ux, uP = reference(x[i], P[i], dt[i], q_h, q_v, z[i], R[i])
        scale_x = max(1.0, np.abs(rx).max())
        scale_P = max(1.0, np.abs(rP).max())
        assert np.allclose(x_pred[i], rx, rtol=0, atol=TOL * scale_x)
        assert np.allclose(P_pred[i], rP, rtol=0, atol=TOL * scale_P)
        assert np.allclose(x_post[i], ux, rtol=0, atol=TOL * max(1.0, np.abs(ux).max()))
        assert np.allclose(P_post[i], uP, rtol=0, atol=TOL * max(1.0, np.abs(uP).max()))


def test_covariances_stay_symmetric_positive_definite_over_long_runs():
    rng = np.random.default_rng(7)
    k = 50
    x = np.zeros((k, 6))
    P = np.stack([np.diag([1e4, 1e4, 1e4, 900, 900, 64.0])] * k)
    H = np.broadcast_to(np.hstack([np.eye(3), np.zeros((3, 3))]), (k, 3, 6)).copy()
    for _ in range(20_000):
        dt = rng.uniform(1e-4, 2.0, size=k)
        x, P = ConstantVelocity(0.5, 0.1).predict(x, P, dt)
        R = np.broadcast_to(np.diag(rng.uniform(1e-4, 1e4, size=3)), (k, 3, 3)).copy()
        z = rng.normal(size=(k, 3))
        x, P = kalman_update(x, P, z - x[:, :3], H, R)
    assert np.allclose(P, np.swapaxes(P, 1, 2), atol=0, rtol=0) or np.abs(
        P - np.swapaxes(P, 1, 2)
    ).max() < 1e-9 * np.abs(P).max()
    assert np.all(np.linalg.eigvalsh(P) > 0)


def test_innovation_covariance_is_symmetric():
    rng = np.random.default_rng(3)
    P = np.stack([random_spd(rng, 6, 3.0) for _ in range(5)])
    H = rng.normal(size=(5, 3, 6))
    R = np.stack([random_spd(rng, 3, 1.0) for _ in range(5)])
    S = innovation_covariance(P, H, R)
    assert np.array_equal(S, np.swapaxes(S, 1, 2))


@settings(max_examples=30, deadline=None)
@given(dt=st.floats(0.0, 30.0), q_h=st.floats(0.0, 50.0), q_v=st.floats(0.0, 50.0))
def test_motion_model_matrices_are_the_textbook_ones(dt, q_h, q_v):
    model = ConstantVelocity(q_h, q_v)
    F = model.transition(np.array([dt]))[0]
    Q = model.process_noise(np.array([dt]))[0]
    assert np.array_equal(F, textbook_F(dt))
    assert np.allclose(Q, textbook_Q(dt, q_h, q_v), rtol=1e-12, atol=1e-12)
