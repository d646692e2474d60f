"""Kalman (and extended Kalman) update, batched over track–detection pairs.

The covariance update is the Joseph form, (I − KH) P (I − KH)ᵀ + K R Kᵀ, and the result is
re-symmetrised: over days of operation the simple form (I − KH) P loses symmetry and positive
definiteness to rounding, and a tracker that runs at a stadium all weekend must not.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


def innovation_covariance(P: F64, H: F64, R: F64) -> F64:
    """S = H P Hᵀ + R for stacked P (K,n,n), H (K,m,n), R (K,m,m)."""
    S = H @ P @ np.swapaxes(H, 1, 2) + R
    return 0.5 * (S + np.swapaxes(S, 1, 2))


def inverse(S: F64) -> F64:
    """Inverses of stacked square matrices S (K,m,m) (as filterpy, an explicit inverse: it
    serves both the gate and the gain)."""
    return np.asarray(np.linalg.inv(S), dtype=np.float64)


def mahalanobis2(y: F64, S_inv: F64) -> F64:
    """Squared Mahalanobis distances yᵀ S⁻¹ y for residuals y (K,m) and inverse innovation
    covariances S⁻¹ (K,m,m)."""
    return np.einsum("ki,kij,kj->k", y, S_inv, y)


def kalman_update(x: F64, P: F64, y: F64, H: F64 | None, R: F64, S_inv: F64 | None = None,
                  *, selects: slice | None = None) -> tuple[F64, F64]:
    """Posterior states (K,n) and covariances (K,n,n) given residuals y = z − h(x) (K,m).

    ``S_inv`` (the inverse innovation covariance) may be passed when the caller already
    computed it for gating: one inversion per pair serves both. When the measurement simply
    picks state components (H = rows ``selects`` of the identity: position, or velocity),
    pass ``selects`` instead of H, and the products with H become slices.
    """
    if selects is not None:
        PHt = P[:, :, selects]
        HPHt = P[:, selects, selects]
    else:
        assert H is not None
        PHt = P @ np.swapaxes(H, 1, 2)
        HPHt = H @ PHt
    if S_inv is None:
        S = HPHt + R
        S_inv = inverse(0.5 * (S + np.swapaxes(S, 1, 2)))
    K = PHt @ S_inv
    x_new = x + np.einsum("knm,km->kn", K, y)
    IKH = np.broadcast_to(np.eye(P.shape[1]), P.shape).copy()
    if selects is not None:
        IKH[:, :, selects] -= K
    else:
        assert H is not None
        IKH -= K @ H
    P_new = IKH @ P @ np.swapaxes(IKH, 1, 2) + K @ R @ np.swapaxes(K, 1, 2)
    P_new = 0.5 * (P_new + np.swapaxes(P_new, 1, 2))
    return x_new, P_new
