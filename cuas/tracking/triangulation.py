"""Least-squares triangulation of bearing rays (cameras), batched over groups of rays.

A ray i starts at ``o_i`` (the sensor, site ENU metres) along the unit direction ``d_i``; its
angular 1-sigma is ``s_i`` (rad). The point p minimising

    Σ_i |(I − d_i d_iᵀ)(p − o_i)|² / w_i,    w_i = (s_i r_i)² + m_i²

is found in closed form (a 3×3 solve), where ``r_i`` = d_i·(p − o_i) is the range along the ray
(two passes: unweighted by range first, then with the ranges found) and ``m_i`` (m) is an extra
position uncertainty of ray i (the target's motion between unsynchronised frames). The
inverse of the normal matrix is the point's covariance. The *ray-miss gate* rejects a fit when
any ray passes farther from the point than ``gate_sigma`` of its own uncertainty, when the
point lies behind a sensor or too close to it, or when the rays are too nearly parallel for
the range to be known (the covariance's largest axis beyond ``max_sigma_m``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
B = NDArray[np.bool_]

#: A point nearer a sensor than this (m) is no target (a bird on the lens, or a bad fit).
MIN_RANGE_M: Final = 2.0


@dataclass(frozen=True, slots=True)
class Triangulated:
    """Fits of K groups: points (K,3) and covariances (K,3,3) in site ENU metres, each ray's
    miss distance (K,R) m and miss in sigmas (K,R) (NaN for padding), ranges along the rays
    (K,R) m, the chi-square sum of the misses (K,), and ``ok`` (K,) where the gate passed."""

    point: F64
    cov: F64
    miss_m: F64
    miss_sigma: F64
    range_m: F64
    chi2: F64
    ok: B


def triangulate(origins: F64, dirs: F64, sigma_rad: F64, valid: B | None = None,
                extra_m: F64 | None = None, *, gate_sigma: float = 4.0,
                max_sigma_m: float = 500.0, min_range_m: float = MIN_RANGE_M) -> Triangulated:
    """Triangulate K groups of up to R rays: ``origins`` (K,R,3) m, unit ``dirs`` (K,R,3),
    ``sigma_rad`` (K,R); ``valid`` (K,R) marks real rays (default all); ``extra_m`` (K,R) adds
    position uncertainty per ray (m). Groups need two valid, non-parallel rays to pass."""
    o = np.asarray(origins, dtype=np.float64)
    d = np.asarray(dirs, dtype=np.float64)
    k, r = o.shape[:2]
    v = np.ones((k, r), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    s = np.where(v, np.asarray(sigma_rad, dtype=np.float64), 1.0)
    m2 = np.zeros((k, r)) if extra_m is None else np.where(v, np.asarray(extra_m) ** 2, 0.0)
    d = np.where(v[..., None], d, 0.0)
    proj = np.eye(3) - d[..., :, None] * d[..., None, :]  # (K,R,3,3): removes the ray direction
    ranges = np.ones((k, r))
    point = np.zeros((k, 3))
    A = np.zeros((k, 3, 3))
    for _ in range(2):
        w = np.where(v, 1.0 / ((s * ranges) ** 2 + m2), 0.0)
        A = np.einsum("kr,krij->kij", w, proj)
        b = np.einsum("kr,krij,krj->ki", w, proj, o)
        solvable = np.linalg.cond(A) < 1e12
        A_safe = np.where(solvable[:, None, None], A, np.eye(3))
        point = np.linalg.solve(A_safe, b[..., None])[..., 0]
        ranges = np.maximum(np.einsum("krj,krj->kr", d, point[:, None, :] - o), 1e-3)
    cov = np.linalg.inv(np.where(solvable[:, None, None], A, np.eye(3)))
    rel = point[:, None, :] - o
    along = np.einsum("krj,krj->kr", d, rel)
    miss = np.linalg.norm(rel - along[..., None] * d, axis=2)
    scale = np.sqrt((s * np.maximum(along, 1e-3)) ** 2 + m2)
    miss_sigma = np.where(v, miss / scale, np.nan)
    chi2 = np.nansum(miss_sigma**2, axis=1)
    n_rays = v.sum(axis=1)
    in_front = np.all(~v | (along >= min_range_m), axis=1)
    tight = np.all(~v | (miss_sigma <= gate_sigma), axis=1)
    axis_max = np.sqrt(np.maximum(np.linalg.eigvalsh(cov)[:, -1], 0.0))
    ok = solvable & (n_rays >= 2) & in_front & tight & (axis_max <= max_sigma_m)
    ok &= np.all(np.isfinite(point), axis=1)
    return Triangulated(point, cov, np.where(v, miss, np.nan), miss_sigma,
                        np.where(v, along, np.nan), chi2, ok)
