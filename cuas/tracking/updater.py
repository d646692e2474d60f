"""Kalman (and extended Kalman) update, batched over track–detection pairs.

The covariance update is the Joseph form, (I − KH) P (I − KH)ᵀ + K R Kᵀ, and the result is
re-symmetrised: over days of operation the simple form (I − KH) P loses symmetry and positive
definiteness to rounding, and a tracker that runs at a stadium all weekend must not.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

log = logging.getLogger(__name__)

#: The compiled kernels (cuas.tracking.kernels) once loaded; False: not wanted or unusable.
_kernels: ModuleType | bool | None = None


def _numba_cache_dir() -> str | None:
    """Where numba should cache the compiled kernels: None (its default, ``__pycache__`` beside
    the kernels) where that is writable (a checkout, a user's install) or ``NUMBA_CACHE_DIR``
    is set; else systemd's ``$CACHE_DIRECTORY``, ``$XDG_CACHE_HOME``, ``~/.cache`` (under
    ``cuas/numba``) or the temporary directory, the first writable."""
    if os.environ.get("NUMBA_CACHE_DIR") or os.access(Path(__file__).parent, os.W_OK):
        return None
    for base in (os.environ.get("CACHE_DIRECTORY", "").split(":")[0],
                 os.environ.get("XDG_CACHE_HOME", ""),
                 os.path.join(os.path.expanduser("~"), ".cache")):
        if base and os.path.isdir(base) and os.access(base, os.W_OK):
            return os.path.join(base, "cuas", "numba")
    return os.path.join(tempfile.gettempdir(), f"cuas-numba-{os.getuid()}")


def kernels() -> ModuleType | None:
    """The compiled kernels module, imported (with numba) on first use; None when they are
    switched off (:func:`use_kernels`) or numba cannot run here (then the numpy code below,
    their oracle, does the work: same results, slower). Before numba is imported, its cache
    directory is set where the package is read-only (:func:`_numba_cache_dir`)."""
    global _kernels
    if _kernels is None:
        try:
            if (cache := _numba_cache_dir()) is not None:
                os.environ["NUMBA_CACHE_DIR"] = cache
            from cuas.tracking import kernels as mod
        except Exception as exc:  # noqa: BLE001 - any failure leaves the numpy path
            # e.g. systemd's MemoryDenyWriteExecute=yes: no JIT may map executable memory.
            log.warning("compiled tracker kernels unavailable (%s): using the numpy path, "
                        "several times slower", exc)
            _kernels = False
        else:
            _kernels = mod
    return _kernels if isinstance(_kernels, ModuleType) else None


def use_kernels(on: bool) -> None:
    """Switch the compiled kernels on (the default) or off (the numpy path): for the
    before/after benchmarks and the oracle tests."""
    global _kernels
    _kernels = None if on else False


def innovation_covariance(P: F64, H: F64, R: F64) -> F64:
    """S = H P Hᵀ + R for stacked P (K,n,n), H (K,m,n), R (K,m,m)."""
    kern = kernels()
    if (kern is not None and P.ndim == 3 and P.shape[1:] == (6, 6) and H.ndim == 3
            and 1 <= H.shape[1] <= 3 and H.shape[2] == 6 and R.shape == H.shape[:2] + H.shape[1:2]):
        f = np.ascontiguousarray
        return np.asarray(kern.innovation_covariance(f(P, dtype=np.float64),
                                                     f(H, dtype=np.float64),
                                                     f(R, dtype=np.float64)))
    S = H @ P @ np.swapaxes(H, 1, 2) + R
    return 0.5 * (S + np.swapaxes(S, 1, 2))


def inverse(S: F64) -> F64:
    """Inverses of stacked square matrices S (K,m,m) (as filterpy, an explicit inverse: it
    serves both the gate and the gain); raises numpy.linalg.LinAlgError if one is singular."""
    kern = kernels()
    if kern is None or S.ndim != 3 or not 1 <= S.shape[1] <= 3 or S.dtype != np.float64:
        return np.asarray(np.linalg.inv(S), dtype=np.float64)
    out, ok = kern.inverse(np.ascontiguousarray(S))
    if not ok:
        raise np.linalg.LinAlgError("Singular matrix")
    return np.asarray(out, dtype=np.float64)


def log_abs_det(S: F64) -> F64:
    """log|det S| (K,) of stacked square matrices S (K,m,m) (numpy's ``slogdet(S)[1]``)."""
    kern = kernels()
    if kern is None or S.ndim != 3 or not 1 <= S.shape[1] <= 3 or S.dtype != np.float64:
        return np.asarray(np.linalg.slogdet(S)[1], dtype=np.float64)
    return np.asarray(kern.logdet(np.ascontiguousarray(S)), dtype=np.float64)


def mahalanobis2(y: F64, S_inv: F64) -> F64:
    """Squared Mahalanobis distances yᵀ S⁻¹ y for residuals y (K,m) and inverse innovation
    covariances S⁻¹ (K,m,m)."""
    kern = kernels()
    if kern is None or y.dtype != np.float64 or S_inv.dtype != np.float64:
        return np.einsum("ki,kij,kj->k", y, S_inv, y)
    return np.asarray(kern.mahalanobis2(np.ascontiguousarray(y), np.ascontiguousarray(S_inv)),
                      dtype=np.float64)


def close_pairs(points: F64, r: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pairs (i, j), i < j, of points (N,3) (m) no farther than ``r`` (m) apart, by i then j:
    the compiled grid (:func:`cuas.tracking.kernels_grid.close_pairs`), or its oracle, a
    KD-tree's pairs sorted."""
    kern = kernels()
    if kern is not None:
        i, j = kern.close_pairs(np.ascontiguousarray(points, dtype=np.float64), float(r))
        return np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    from scipy.spatial import cKDTree  # here: scipy.spatial slows `import cuas.tracking`

    pairs = cKDTree(points).query_pairs(r, output_type="ndarray").astype(np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order, 0], pairs[order, 1]


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
