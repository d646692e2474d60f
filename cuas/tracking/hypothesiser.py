"""Hypothesiser: which track–detection pairs are plausible, and how far apart they are.

Two stages, both batched:

1. a coarse Euclidean gate with a KD-tree over the detections' site-ENU points. A pair can pass
   the Mahalanobis gate g only if its distance d satisfies d² ≤ g·(λmax(P_pos) + λmax(R_pos)),
   and the trace bounds λmax, so the coarse gate never loses a pair the fine gate would keep;
2. the exact Mahalanobis distance for the surviving pairs, in each detection's own measurement
   space (EKF for range/az/el), all pairs at once.

Cost therefore grows with the number of plausible pairs, not with N×M.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.models import AzElModel, wrap_residual
from cuas.tracking.updater import (
    innovation_covariance,
    inverse,
    kernels,
    log_abs_det,
    mahalanobis2,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Below this many track×detection pairs the coarse gate compares every pair directly.
SMALL_PROBLEM = 4096


@dataclass(frozen=True, slots=True)
class Hypotheses:
    """Gated pairs: track row, detection index, squared Mahalanobis distance, and what the
    updater needs again (residual y (K,3), H (K,3,6), S⁻¹ (K,3,3); angle-only rows padded),
    and ln det S (K,) of each pair's innovation covariance, in its measurement's units."""

    track: I64
    det: I64
    d2: F64
    y: F64
    H: F64
    S_inv: F64
    logdet: F64

    @classmethod
    def empty(cls) -> Hypotheses:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3, 6)), np.zeros((0, 3, 3)),
                   np.zeros(0))


def candidate_pairs(track_pos: F64, track_radius2: F64, det_pos: F64, det_radius2: F64,
                    gate: float) -> tuple[I64, I64]:
    """Pairs (track row, det index) whose Euclidean distance² ≤ gate·(r²_track + r²_det), by
    track row and then det index.

    ``track_radius2``/``det_radius2`` bound the largest eigenvalue of each position covariance
    (m²). Detections with NaN points (bearing-only) are not considered here. The compiled grid
    (:func:`cuas.tracking.kernels_grid.gate_pairs`) serves when numba runs; the KD-tree below is
    its oracle (and fallback), sorted into the same order.
    """
    n, m = len(track_pos), len(det_pos)
    empty = np.zeros(0, dtype=np.int64)
    if n == 0 or m == 0:
        return empty, empty
    if n * m <= SMALL_PROBLEM:
        # A handful of tracks and plots: every pair at once is cheaper than building trees.
        d2 = np.sum((track_pos[:, None, :] - det_pos[None, :, :]) ** 2, axis=2)
        ti, dj = np.nonzero(d2 <= gate * (track_radius2[:, None] + det_radius2[None, :]))
        return ti.astype(np.int64), dj.astype(np.int64)
    dr_max = float(det_radius2.max())
    reach = np.sqrt(gate * (track_radius2 + dr_max))
    # Most tracks have similar uncertainty; a few (coasting, just born) are much wider. The
    # bulk's reach sizes the grid's cells (or the tree's one fixed-radius sweep); the wide
    # ones look further.
    cap = float(np.quantile(reach, 0.9)) if n > 16 else float(reach.max())
    if (kern := kernels()) is not None:
        f = np.ascontiguousarray
        ti_k, dj_k = kern.gate_pairs(f(track_pos, dtype=np.float64),
                                     f(track_radius2, dtype=np.float64),
                                     f(det_pos, dtype=np.float64),
                                     f(det_radius2, dtype=np.float64), float(gate), cap)
        return np.asarray(ti_k, dtype=np.int64), np.asarray(dj_k, dtype=np.int64)
    return _kd_pairs(track_pos, track_radius2, det_pos, det_radius2, gate, reach, cap)


def _kd_pairs(track_pos: F64, track_radius2: F64, det_pos: F64, det_radius2: F64, gate: float,
              reach: F64, cap: float) -> tuple[I64, I64]:
    """:func:`candidate_pairs` with KD-trees (the grid's oracle): one sweep at ``cap`` (m) for
    the tracks whose ``reach`` (m) is within it, a ball per track for the rest."""
    from scipy.spatial import cKDTree  # here: scipy.spatial slows `import cuas.tracking`

    empty = np.zeros(0, dtype=np.int64)
    tree_d = cKDTree(det_pos)
    narrow = reach <= cap
    rows_n = np.flatnonzero(narrow)
    ti_parts: list[I64] = []
    dj_parts: list[I64] = []
    if len(rows_n):
        tree_t = cKDTree(track_pos[rows_n])
        sdm = tree_t.sparse_distance_matrix(tree_d, cap, output_type="ndarray")
        ti_parts.append(rows_n[sdm["i"].astype(np.int64)])
        dj_parts.append(sdm["j"].astype(np.int64))
    rows_w = np.flatnonzero(~narrow)
    if len(rows_w):
        found = tree_d.query_ball_point(track_pos[rows_w], reach[rows_w])
        lens = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(rows_w))
        if lens.sum():
            ti_parts.append(np.repeat(rows_w, lens))
            dj_parts.append(np.concatenate([np.asarray(f, dtype=np.int64) for f in found if f]))
    if not ti_parts:
        return empty, empty
    ti = np.concatenate(ti_parts)
    dj = np.concatenate(dj_parts)
    d2 = np.sum((track_pos[ti] - det_pos[dj]) ** 2, axis=1)
    ok = d2 <= gate * (track_radius2[ti] + det_radius2[dj])
    ti, dj = ti[ok], dj[ok]
    order = np.lexsort((dj, ti))
    return ti[order], dj[order]


def bearing_pairs(track_pos: F64, track_radius2: F64, model: AzElModel, batch: MeasurementBatch,
                  dets: I64, gate: float) -> tuple[I64, I64]:
    """Candidate pairs for bearings ``dets`` of ``model``: compare directions from the sensor.

    A KD-tree over unit direction vectors; the chord between two unit vectors is at most the
    angle between them (radians), so a radius of g·(σ_angle + σ_track/range) is conservative.
    """
    empty = np.zeros(0, dtype=np.int64)
    if len(track_pos) == 0 or len(dets) == 0:
        return empty, empty
    local = model.sensor.site_to_local(track_pos)
    rng = np.maximum(np.linalg.norm(local, axis=1), 1.0)
    t_dir = local / rng[:, None]
    d_dir = model.directions(batch.z[dets])
    det_sigma = np.radians(np.sqrt(batch.R[dets, 0, 0] + batch.R[dets, 1, 1]))
    trk_sigma = np.sqrt(track_radius2) / rng
    reach = np.sqrt(gate) * (trk_sigma + float(det_sigma.max()))
    from scipy.spatial import cKDTree  # here: scipy.spatial slows `import cuas.tracking`

    tree = cKDTree(d_dir)
    found = tree.query_ball_point(t_dir, np.minimum(reach, 2.0))
    lens = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
    if not lens.sum():
        return empty, empty
    ti = np.repeat(np.arange(len(track_pos), dtype=np.int64), lens)
    dj = dets[np.concatenate([np.asarray(f, dtype=np.int64) for f in found if f])]
    return ti, dj


def hypothesise(x: F64, P: F64, batch: MeasurementBatch, gate: dict[int, float],
                extra_pairs: tuple[I64, I64] | None = None) -> Hypotheses:
    """All gated pairs between predicted tracks (x (N,6), P (N,6,6)) and a batch.

    ``gate`` maps measurement dimension to the χ² gate. ``extra_pairs`` are pairs to score even
    if the coarse gate missed them (identity matches); they still face the fine gate chosen by
    the caller afterwards, so their d² is returned unfiltered.
    """
    if len(x) == 0 or batch.m == 0:
        return Hypotheses.empty()
    track_r2 = np.trace(P[:, :3, :3], axis1=1, axis2=2)
    pointed = np.flatnonzero(batch.per_model([m.has_point for m in batch.models], bool))
    ti_parts: list[I64] = []
    dj_parts: list[I64] = []
    g3 = gate[3]
    if len(pointed):
        det_r2 = np.trace(batch.pos_cov[pointed], axis1=1, axis2=2)
        ti, dj = candidate_pairs(x[:, :3], track_r2, batch.pos[pointed], det_r2, g3)
        ti_parts.append(ti)
        dj_parts.append(pointed[dj])
    for code, model in enumerate(batch.models):
        if isinstance(model, AzElModel):
            bearing = np.flatnonzero(batch.model == code)
            if len(bearing):
                ti, dj = bearing_pairs(x[:, :3], track_r2, model, batch, bearing, gate[model.dim])
                ti_parts.append(ti)
                dj_parts.append(dj)
    if extra_pairs is not None and len(extra_pairs[0]):
        ti_parts.append(extra_pairs[0])
        dj_parts.append(extra_pairs[1])
    ti = np.concatenate(ti_parts) if ti_parts else np.zeros(0, dtype=np.int64)
    dj = np.concatenate(dj_parts) if dj_parts else np.zeros(0, dtype=np.int64)
    if len(ti) == 0:
        return Hypotheses.empty()
    if extra_pairs is not None and len(extra_pairs[0]):
        # The same pair may come from both the geometric and the identity route.
        key = ti * max(batch.m, 1) + dj
        _, first = np.unique(key, return_index=True)
        ti, dj = ti[first], dj[first]

    k = len(ti)
    d2 = np.empty(k)
    y = np.zeros((k, 3))
    H = np.zeros((k, 3, 6))
    S_inv = np.zeros((k, 3, 3))
    logdet = np.zeros(k)
    for code, model in enumerate(batch.models):
        sel = np.flatnonzero(batch.model[dj] == code)
        if not len(sel):
            continue
        m = model.dim
        zhat, Hm = model.predict(x[ti[sel]])
        ym = wrap_residual(batch.z[dj[sel], :m] - zhat, model.angular)
        Rm = batch.R[dj[sel], :m, :m]
        if model.selects is not None:  # H picks state components: H P Hᵀ is a slice
            Sm = P[ti[sel], model.selects, model.selects] + Rm
            Sm_inv = inverse(0.5 * (Sm + np.swapaxes(Sm, 1, 2)))
        else:
            Sm_inv = inverse(innovation_covariance(P[ti[sel]], Hm, Rm))
        d2[sel] = mahalanobis2(ym, Sm_inv)
        logdet[sel] = -log_abs_det(Sm_inv)
        y[sel, :m] = ym
        H[sel, :m] = Hm
        S_inv[sel, :m, :m] = Sm_inv
    return Hypotheses(ti, dj, d2, y, H, S_inv, logdet)
