"""The batched IMM equals filterpy's ``IMMEstimator`` run per track (the reference oracle).

Every track gets its own filterpy IMM of three ``KalmanFilter``s whose F and Q are written out
here from the textbook (hover: position random walk, velocity reset; constant velocity;
manoeuvre: constant velocity with high noise), not taken from cuas. Both sides run the same
detections; states, covariances and mode probabilities must agree to 1e-9 at every step.
"""

from __future__ import annotations

import numpy as np
from filterpy.kalman import IMMEstimator, KalmanFilter
from hypothesis import given, settings
from hypothesis import strategies as st

from cuas.tracking.imm import IMM, mode_update
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.models import CartesianModel

TOL = 1e-9


def cv_F(dt: float) -> np.ndarray:
    F = np.eye(6)
    F[0, 3] = F[1, 4] = F[2, 5] = dt
    return F


def cv_Q(dt: float, q_h: float, q_v: float) -> np.ndarray:
    Q = np.zeros((6, 6))
    for axis, q in enumerate((q_h, q_h, q_v)):
        Q[axis, axis] = q * dt**3 / 3
        Q[axis, axis + 3] = Q[axis + 3, axis] = q * dt**2 / 2
        Q[axis + 3, axis + 3] = q * dt
    return Q


def hover_F() -> np.ndarray:
    F = np.zeros((6, 6))
    F[0, 0] = F[1, 1] = F[2, 2] = 1.0
    return F


def hover_Q(dt: float, q: float, speed_sigma: float) -> np.ndarray:
    return np.diag([q * dt] * 3 + [speed_sigma**2] * 3)


def switching(dt: float, sojourn: float) -> np.ndarray:
    stay = np.exp(-dt / sojourn)
    M = np.full((3, 3), (1 - stay) / 2)
    np.fill_diagonal(M, stay)
    return M


def batch_of(z: np.ndarray, R: np.ndarray) -> MeasurementBatch:
    k = len(z)
    return MeasurementBatch(
        t=0.0, models=(CartesianModel(),), model=np.zeros(k, dtype=np.int8), z=z, R=R,
        pos=z.copy(), pos_cov=R.copy(), vel=np.full((k, 3), np.nan), vel_R=np.zeros((k, 3, 3)),
        has_vel=np.zeros(k, dtype=bool), ident=np.full(k, -1, dtype=np.int64),
        source=np.arange(k, dtype=np.int64))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), dt=st.floats(0.1, 3.0), k=st.integers(1, 6),
       q_cv=st.floats(0.05, 5.0), q_man=st.floats(5.0, 80.0), q_hover=st.floats(0.01, 2.0),
       sojourn=st.floats(2.0, 60.0), steps=st.integers(1, 12))
def test_batched_imm_equals_filterpy_per_track(seed, dt, k, q_cv, q_man, q_hover, sojourn, steps):
    rng = np.random.default_rng(seed)
    speed_sigma = 0.5
    imm = IMM.standard(q_hover, speed_sigma, q_cv, q_cv / 4, q_man, q_man / 4, sojourn)
    M = switching(dt, sojourn)
    x0 = np.column_stack([rng.normal(0, 500, (k, 3)), rng.normal(0, 10, (k, 3))])
    P0 = np.stack([np.diag(rng.uniform(1, 50, 6)) for _ in range(k)])
    mu0 = rng.dirichlet(np.ones(3), size=k)
    oracles = []
    for i in range(k):
        filters = []
        for F, Q in ((hover_F(), hover_Q(dt, q_hover, speed_sigma)),
                     (cv_F(dt), cv_Q(dt, q_cv, q_cv / 4)),
                     (cv_F(dt), cv_Q(dt, q_man, q_man / 4))):
            kf = KalmanFilter(dim_x=6, dim_z=3)
            kf.F, kf.Q = F, Q
            kf.H = np.hstack([np.eye(3), np.zeros((3, 3))])
            kf.x, kf.P = x0[i].copy(), P0[i].copy()
            filters.append(kf)
        oracles.append(IMMEstimator(filters, mu0[i].copy(), M))
    xm = np.repeat(x0[:, None, :], 3, axis=1)
    Pm = np.repeat(P0[:, None], 3, axis=1)
    mu = mu0.copy()
    truth = x0.copy()
    for _ in range(steps):
        truth[:, :3] += dt * truth[:, 3:] + rng.normal(0, 3, (k, 3))
        R = np.stack([np.diag(rng.uniform(1, 30, 3)) for _ in range(k)])
        z = truth[:, :3] + rng.normal(0, 4, (k, 3))
        xp, Pp, cbar = imm.predict(xm, Pm, mu, np.full(k, dt))
        xm, Pm, loglik = mode_update(xp, Pp, batch_of(z, R), np.arange(k))
        mu = imm.posterior_mu(cbar, loglik)
        x, P = imm.combine(xm, Pm, mu)
        for i, o in enumerate(oracles):
            for f in o.filters:
                f.R = R[i]
            o.predict()
            o.update(z[i])
            assert np.allclose(mu[i], o.mu, rtol=0, atol=TOL)
            assert np.allclose(x[i], o.x, rtol=TOL, atol=TOL)
            assert np.allclose(P[i], o.P, rtol=TOL, atol=TOL)
            for j, f in enumerate(o.filters):
                assert np.allclose(xm[i, j], f.x, rtol=TOL, atol=TOL)
                assert np.allclose(Pm[i, j], f.P, rtol=TOL, atol=TOL)


def test_mode_probabilities_follow_the_motion():
    """A target that stands still ends up in hover; one that turns hard, in manoeuvre."""
    imm = IMM.standard(0.5, 0.5, 0.5, 0.2, 40.0, 10.0, 10.0)
    rng = np.random.default_rng(1)
    R = np.repeat(np.eye(3)[None] * 4.0, 2, axis=0)
    xm = np.zeros((2, 3, 6))
    Pm = np.repeat(np.diag([25.0] * 3 + [100.0] * 3)[None, None], 2, axis=0).repeat(3, axis=1)
    mu = np.tile([0.0, 1.0, 0.0], (2, 1))
    pos = np.zeros((2, 3))
    for step in range(40):
        # Target 0 hovers; target 1 flies a tight circle (radius 30 m at 15 m/s).
        a = step * 0.5
        pos[1] = [30 * np.cos(a), 30 * np.sin(a), 50.0]
        z = pos + rng.normal(0, 2, (2, 3))
        xp, Pp, cbar = imm.predict(xm, Pm, mu, np.ones(2))
        xm, Pm, loglik = mode_update(xp, Pp, batch_of(z, R), np.arange(2))
        mu = imm.posterior_mu(cbar, loglik)
    assert mu[0].argmax() == 0 and mu[0, 0] > 0.7
    assert mu[1].argmax() == 2 and mu[1, 2] > 0.7
