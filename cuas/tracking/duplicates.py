"""Duplicate tracks: two firm tracks of one object (a camera ray pair and a radar that each
started one) found by a track-to-track test, batched over all tracks.

Two tracks are candidates when their states agree: the difference of their positions and
velocities, weighed by the sum of their covariances (cross-covariance ignored), is inside the
χ² gate of 6 degrees of freedom. One object gives one plot per look of a sensor, so two tracks
that the same look updated (the same update time) are two objects, whatever their states say.
A pair that stays a candidate over ``looks`` consecutive checks is merged: the older id stays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cuas.tracking.updater import close_pairs, inverse, mahalanobis2

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Largest distance (m) at which two tracks are compared at all.
MAX_REACH_M = 300.0


def candidate_partners(x: F64, P: F64, t_update: F64, gate: float) -> I64:
    """For each of N tracks (states x (N,6), covariances P (N,6,6) at one time, last update
    times (N,)): the row of its best-fitting duplicate partner, or -1."""
    n = len(x)
    out = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return out
    # Coarse: positions within reach of each other (d² ≤ gate·(tr P_i + tr P_j) bounds the
    # fine test). One sweep at the reach of the tighter 90 % of tracks, capped: a few very
    # wide tracks must not make it all pairs of a crowded site (they are left for later).
    var = np.trace(P[:, :3, :3], axis1=1, axis2=2)
    own = np.sqrt(gate * 2.0 * var)
    cap = min(float(np.quantile(own, 0.9)), MAX_REACH_M)
    i, j = close_pairs(x[:, :3], cap)
    if not len(i):
        return out
    near = np.sum((x[i, :3] - x[j, :3]) ** 2, axis=1) <= gate * (var[i] + var[j])
    apart = near & (t_update[i] != t_update[j])  # the same look updated both: two objects
    i, j = i[apart], j[apart]
    if not len(i):
        return out
    d = x[i] - x[j]
    S = P[i] + P[j]
    d2 = mahalanobis2(d, inverse(0.5 * (S + np.swapaxes(S, 1, 2))))
    ok = np.isfinite(d2) & (d2 <= gate)
    i, j, d2 = i[ok], j[ok], d2[ok]
    if not len(i):
        return out
    # Each track's best partner: sort by d2 descending, so the best is written last.
    order = np.argsort(-d2, kind="stable")
    out[i[order]] = j[order]
    out[j[order]] = i[order]
    return out
