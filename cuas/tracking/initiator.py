"""Initiator: new tentative tracks from detections that no track claimed."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cuas.tracking.measurements import MeasurementBatch

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def initial_states(batch: MeasurementBatch, dets: I64, speed_sigma: float,
                   vspeed_sigma: float) -> tuple[F64, F64]:
    """States (K,6) and covariances (K,6,6) of tracks started from detections ``dets``.

    Position and its covariance come from the detection's site-ENU point (range/az/el already
    converted with its Jacobian). Velocity is the measured one when the sensor gave it (ADS-B,
    Remote ID); otherwise zero with a 1-sigma of ``speed_sigma`` horizontally and
    ``vspeed_sigma`` vertically (m/s), wide enough for the fastest drone to be caught next look.
    """
    k = len(dets)
    x = np.zeros((k, 6))
    P = np.zeros((k, 6, 6))
    x[:, :3] = batch.pos[dets]
    P[:, :3, :3] = batch.pos_cov[dets]
    idx = np.arange(3, 6)
    P[:, idx, idx] = np.array([speed_sigma, speed_sigma, vspeed_sigma]) ** 2
    measured = batch.has_vel[dets]
    if measured.any():
        rows = np.flatnonzero(measured)
        x[rows, 3:] = batch.vel[dets[rows]]
        P[rows, 3:, 3:] = batch.vel_R[dets[rows]]
    return x, P
