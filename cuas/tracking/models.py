"""Motion and measurement models as objects, batched over tracks.

State per track: ``[e, n, u, ve, vn, vu]`` in site ENU (metres, m/s). Covariances are 6×6.
Every method takes stacked arrays (leading axis = track or track–detection pair) and returns
stacked arrays; nothing here loops in Python. The stages (hypothesiser, updater, initiator)
ask a model what it is (dimension, angular components, whether it fixes a point or may start a
track) instead of switching on frame codes: a new measurement or motion model is a new class
here, not an edit of every stage.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from cuas.geo import SensorFrame, local_to_rae, rae_jacobian, rae_to_local

F64 = NDArray[np.float64]

POS = slice(0, 3)
VEL = slice(3, 6)


# --------------------------------------------------------------------------- motion models


class ConstantVelocity:
    """Nearly constant velocity: the discretised continuous white-noise acceleration model.

    ``q_h``/``q_v`` are the acceleration spectral densities (m²/s³) of the horizontal axes and
    of the vertical axis.
    """

    def __init__(self, q_h: float, q_v: float) -> None:
        self.q_h = q_h
        self.q_v = q_v

    @staticmethod
    def transition(dt: F64) -> F64:
        """Transition matrices F (K,6,6) for time steps ``dt`` (K,) seconds."""
        k = len(dt)
        F = np.broadcast_to(np.eye(6), (k, 6, 6)).copy()
        F[:, 0, 3] = F[:, 1, 4] = F[:, 2, 5] = dt
        return F

    def process_noise(self, dt: F64) -> F64:
        """Process noise Q (K,6,6) for time steps ``dt`` (K,) seconds."""
        k = len(dt)
        q = np.array([self.q_h, self.q_h, self.q_v])
        Q = np.zeros((k, 6, 6))
        d2 = (dt**2 / 2.0)[:, None] * q
        idx = np.arange(3)
        Q[:, idx, idx] = (dt**3 / 3.0)[:, None] * q
        Q[:, idx, idx + 3] = d2
        Q[:, idx + 3, idx] = d2
        Q[:, idx + 3, idx + 3] = dt[:, None] * q
        return Q

    def predict(self, x: F64, P: F64, dt: F64) -> tuple[F64, F64]:
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
        q = np.array([self.q_h, self.q_h, self.q_v])
        idx = np.arange(3)
        P_new[:, idx, idx] += (dt**3 / 3.0)[:, None] * q
        cross = (dt**2 / 2.0)[:, None] * q
        P_new[:, idx, idx + 3] += cross
        P_new[:, idx + 3, idx] += cross
        P_new[:, idx + 3, idx + 3] += dt[:, None] * q
        return x_new, P_new


# --------------------------------------------------------------------------- measurement models


class MeasurementModel:
    """What every measurement model declares. Subclasses set the class attributes and
    implement :meth:`predict` (h(x) and its Jacobian) and :meth:`to_site`."""

    #: Number of measured components (0: the detection carries no position).
    dim: ClassVar[int] = 0
    #: Which components are angles in degrees (their residuals wrap at ±180).
    angular: ClassVar[NDArray[np.bool_]] = np.zeros(0, dtype=bool)
    #: When H simply picks these state components, the Kalman products become slices.
    selects: ClassVar[slice | None] = None
    #: The measurement fixes a point in space (so :meth:`to_site` gives one).
    has_point: ClassVar[bool] = False
    #: A detection no track claims may start a tentative track on its own.
    starts_track: ClassVar[bool] = False
    #: A bearing: it starts tracks only where it crosses another sensor's bearings.
    is_bearing: ClassVar[bool] = False

    def predict(self, x: F64) -> tuple[F64, F64]:
        """Predicted measurements (K,dim) and Jacobians H (K,dim,6) for states x (K,6)."""
        raise NotImplementedError

    def to_site(self, z: F64, R: F64) -> tuple[F64, F64]:
        """Site-ENU points (K,3) and their covariances (K,3,3) of measurements z (K,dim) with
        covariances R (K,dim,dim); NaN where the measurement fixes no point."""
        k = len(z)
        return np.full((k, 3), np.nan), np.full((k, 3, 3), np.nan)


class CartesianModel(MeasurementModel):
    """Linear Cartesian position in site ENU (frames ``enu``, and ``lla`` once converted)."""

    dim = 3
    angular = np.zeros(3, dtype=bool)
    selects = POS
    has_point = True
    starts_track = True

    def predict(self, x: F64) -> tuple[F64, F64]:
        H = np.zeros((len(x), 3, 6))
        H[:, 0, 0] = H[:, 1, 1] = H[:, 2, 2] = 1.0
        return x[:, POS].copy(), H

    def to_site(self, z: F64, R: F64) -> tuple[F64, F64]:
        return z.copy(), R.copy()


class RangeAzElModel(MeasurementModel):
    """Range (m), azimuth (deg, true north clockwise) and elevation (deg) from a sensor: EKF.

    The sensor's own ENU frame is related to the site frame by a rigid transform, so the
    prediction is exact at any distance; only the linearisation is approximate.
    """

    dim = 3
    angular = np.array([False, True, False])
    has_point = True
    starts_track = True

    def __init__(self, sensor: SensorFrame) -> None:
        self.sensor = sensor

    def predict(self, x: F64) -> tuple[F64, F64]:
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

    def to_site(self, z: F64, R: F64) -> tuple[F64, F64]:
        pos = self.sensor.local_to_site(rae_to_local(z))
        J = self.sensor.rotation.T @ rae_jacobian(z)
        return pos, J @ R @ np.swapaxes(J, 1, 2)


class AzElModel(MeasurementModel):
    """Azimuth and elevation (deg) from a sensor, no range (cameras). It fixes no point, so a
    bearing alone never starts a track; crossed with other sensors' bearings it does."""

    dim = 2
    angular = np.array([True, False])
    is_bearing = True

    def __init__(self, sensor: SensorFrame) -> None:
        self.sensor = sensor
        self._rae = RangeAzElModel(sensor)

    def predict(self, x: F64) -> tuple[F64, F64]:
        zhat, H = self._rae.predict(x)
        return zhat[:, 1:], H[:, 1:, :]

    @staticmethod
    def directions(z: F64) -> F64:
        """Unit vectors (K,3) in the sensor's local ENU frame of bearings z (K,≥2) [az, el] deg."""
        az = np.radians(z[:, 0])
        el = np.radians(z[:, 1])
        return np.column_stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])


class PositionlessModel(MeasurementModel):
    """A detection with no position (RF presence, a Remote ID broadcast without a fix): it
    never enters the filter; fusion keeps it as evidence for the classifier."""


def wrap_residual(y: F64, angular: NDArray[np.bool_]) -> F64:
    """Wrap the angular components of residuals y (K,m) into [-180, 180) degrees."""
    if angular.any():
        y = y.copy()
        y[:, angular] = (y[:, angular] + 180.0) % 360.0 - 180.0
    return y
