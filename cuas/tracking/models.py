"""Transition and measurement models, batched over tracks.

State per track: ``[e, n, u, ve, vn, vu]`` in site ENU (metres, m/s). Covariances are 6×6.
Every function takes stacked arrays (leading axis = track or track–detection pair) and returns
stacked arrays; nothing here loops in Python.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cuas.geo import SensorFrame, local_to_rae

F64 = NDArray[np.float64]

POS = slice(0, 3)
VEL = slice(3, 6)


def cv_transition_matrix(dt: F64) -> F64:
    """Constant-velocity transition matrices F (K,6,6) for time steps ``dt`` (K,) seconds."""
    k = len(dt)
    F = np.broadcast_to(np.eye(6), (k, 6, 6)).copy()
    F[:, 0, 3] = F[:, 1, 4] = F[:, 2, 5] = dt
    return F


def cv_process_noise(dt: F64, q_h: float, q_v: float) -> F64:
    """Process noise Q (K,6,6) of the discretised continuous white-noise acceleration model.

    ``q_h``/``q_v`` are the acceleration spectral densities (m^2/s^3) for the horizontal axes and
    the vertical axis; ``dt`` (K,) in seconds.
    """
    k = len(dt)
    q = np.array([q_h, q_h, q_v])
    Q = np.zeros((k, 6, 6))
    d3 = (dt**3 / 3.0)[:, None] * q
    d2 = (dt**2 / 2.0)[:, None] * q
    d1 = dt[:, None] * q
    idx = np.arange(3)
    Q[:, idx, idx] = d3
    Q[:, idx, idx + 3] = d2
    Q[:, idx + 3, idx] = d2
    Q[:, idx + 3, idx + 3] = d1
    return Q


def cv_predict(x: F64, P: F64, dt: F64, q_h: float, q_v: float) -> tuple[F64, F64]:
    """Predict states x (K,6) and covariances P (K,6,6) forward by ``dt`` (K,) seconds.

    Uses the block structure of F = [[I, dt I], [0, I]] instead of two 6×6 matrix products:
    with P = [[A, B], [Bᵀ, C]], F P Fᵀ = [[A + dt(B + Bᵀ) + dt² C, B + dt C], [Bᵀ + dt C, C]].
    """
    d = dt[:, None, None]
    x_new = x.copy()
    x_new[:, POS] += dt[:, None] * x[:, VEL]
    A = P[:, POS, POS]
    B = P[:, POS, VEL]
    C = P[:, VEL, VEL]
    P_new = np.empty_like(P)
    BdC = B + d * C
    P_new[:, POS, POS] = A + d * (B + np.swapaxes(B, 1, 2)) + d * d * C
    P_new[:, POS, VEL] = BdC
    P_new[:, VEL, POS] = np.swapaxes(BdC, 1, 2)
    P_new[:, VEL, VEL] = C
    # Add Q on its four diagonals in place instead of building it (hot path).
    q = np.array([q_h, q_h, q_v])
    idx = np.arange(3)
    P_new[:, idx, idx] += (dt**3 / 3.0)[:, None] * q
    cross = (dt**2 / 2.0)[:, None] * q
    P_new[:, idx, idx + 3] += cross
    P_new[:, idx + 3, idx] += cross
    P_new[:, idx + 3, idx + 3] += dt[:, None] * q
    return x_new, P_new


# --------------------------------------------------------------------------- measurement models


class PositionModel:
    """Linear Cartesian position measurement in site ENU (frames ``enu`` and converted ``lla``)."""

    dim = 3
    angular = np.zeros(3, dtype=bool)
    #: H selects these state components (the Kalman products become slices).
    selects: slice | None = POS

    def predict(self, x: F64) -> tuple[F64, F64]:
        """Predicted measurements (K,3) and Jacobians H (K,3,6) for states x (K,6)."""
        H = np.zeros((len(x), 3, 6))
        H[:, 0, 0] = H[:, 1, 1] = H[:, 2, 2] = 1.0
        return x[:, POS].copy(), H


class RangeAzElModel:
    """Range (m), azimuth (deg, true north clockwise) and elevation (deg) from a sensor: EKF.

    The sensor's own ENU frame is related to the site frame by a rigid transform, so the
    prediction is exact at any distance; only the linearisation is approximate.
    """

    dim = 3
    angular = np.array([False, True, False])
    selects: slice | None = None

    def __init__(self, sensor: SensorFrame) -> None:
        self.sensor = sensor

    def predict(self, x: F64) -> tuple[F64, F64]:
        """Predicted [range, az, el] (K,3) and Jacobians H (K,3,6) w.r.t. site-ENU states x (K,6)."""
        local = self.sensor.site_to_local(x[:, POS])
        zhat = local_to_rae(local)
        e, n, u = local[:, 0], local[:, 1], local[:, 2]
        rho2 = np.maximum(e * e + n * n, 1e-6)  # a target straight overhead has no azimuth
        rho = np.sqrt(rho2)
        r = np.maximum(zhat[:, 0], 1e-3)
        r2 = r * r
        deg = 180.0 / np.pi
        J = np.empty((len(x), 3, 3))  # d(rae)/d(local enu)
        J[:, 0, 0] = e / r
        J[:, 0, 1] = n / r
        J[:, 0, 2] = u / r
        J[:, 1, 0] = deg * n / rho2
        J[:, 1, 1] = -deg * e / rho2
        J[:, 1, 2] = 0.0
        J[:, 2, 0] = -deg * e * u / (r2 * rho)
        J[:, 2, 1] = -deg * n * u / (r2 * rho)
        J[:, 2, 2] = deg * rho / r2
        H = np.zeros((len(x), 3, 6))
        H[:, :, POS] = J @ self.sensor.rotation
        return zhat, H


class AzElModel:
    """Azimuth and elevation (deg) from a sensor, no range (cameras): the interface for
    bearing-only fusion. Tracks are never started from it (a bearing fixes no position)."""

    dim = 2
    angular = np.array([True, False])
    selects: slice | None = None

    def __init__(self, sensor: SensorFrame) -> None:
        self._rae = RangeAzElModel(sensor)

    def predict(self, x: F64) -> tuple[F64, F64]:
        """Predicted [az, el] (K,2) and Jacobians H (K,2,6) w.r.t. site-ENU states x (K,6)."""
        zhat, H = self._rae.predict(x)
        return zhat[:, 1:], H[:, 1:, :]


def wrap_residual(y: F64, angular: NDArray[np.bool_]) -> F64:
    """Wrap the angular components of residuals y (K,m) into [-180, 180) degrees."""
    if angular.any():
        y = y.copy()
        y[:, angular] = (y[:, angular] + 180.0) % 360.0 - 180.0
    return y
