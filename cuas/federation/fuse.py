"""Track-to-track fusion for the regional picture, as pure batched functions (arrays in, arrays
out): bringing site tracks into one regional ENU frame, gating and associating tracks of
different sites, and covariance intersection (CI).

Two sites' tracks of one drone are not independent (they may share a sensor, and each has
already been filtered), so their cross-covariance is unknown. CI is the fusion that stays
consistent for any cross-covariance: ``P^-1 = w Pa^-1 + (1-w) Pb^-1``, with ``w`` chosen to
minimise ``det P``. It never counts shared information twice, at the cost of a less
optimistic covariance than the Kalman (independent) fusion.

Shapes: ``N`` tracks, positions and velocities ``(N, 3)`` metres and m/s ENU, covariances
``(N, 3, 3)`` m^2.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pymap3d
from numpy.typing import NDArray
from scipy.spatial import cKDTree

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Candidate CI weights searched (batched grid, then one refinement around the best).
_OMEGAS: Final = np.linspace(0.0, 1.0, 41)


def enu_rotations(lat: F64, lon: F64, lat0: float, lon0: float) -> F64:
    """(N, 3, 3) rotations taking ENU vectors at each (lat, lon) (degrees) to ENU vectors at
    the regional origin (lat0, lon0): ``v_regional = R @ v_local``."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    out = np.empty((lat.size, 3, 3))
    eye = np.eye(3)
    for k in range(3):  # column k: where the local basis vector k points in the regional frame
        x, y, z = pymap3d.enu2ecefv(np.full(lat.size, eye[k, 0]), np.full(lat.size, eye[k, 1]),
                                    np.full(lat.size, eye[k, 2]), lat, lon)
        e, n, u = pymap3d.ecef2enuv(x, y, z, lat0, lon0)
        out[:, :, k] = np.column_stack([e, n, u])
    return out


def to_regional(lla: F64, vel: F64, pos_sigma: F64, origin: tuple[float, float, float]
                ) -> tuple[F64, F64, F64]:
    """Site tracks (WGS-84 ``lla`` (N,3) deg/deg/m, site-ENU ``vel`` (N,3) m/s, per-axis
    1-sigma ``pos_sigma`` (N,3) m) -> regional ENU position, velocity and covariance.

    A site's ENU axes are taken at the track's own position rather than the site's origin: the
    two differ by under 0.05 degrees within 5 km of the site, far below track noise.
    """
    lla = np.asarray(lla, dtype=np.float64).reshape(-1, 3)
    e, n, u = pymap3d.geodetic2enu(lla[:, 0], lla[:, 1], lla[:, 2], *origin)
    pos = np.column_stack([e, n, u]).astype(np.float64)
    rot = enu_rotations(lla[:, 0], lla[:, 1], origin[0], origin[1])
    vel_r = np.einsum("nij,nj->ni", rot, np.asarray(vel, dtype=np.float64).reshape(-1, 3))
    var = np.square(np.asarray(pos_sigma, dtype=np.float64).reshape(-1, 3))
    # An exactly zero sigma (a perfectly known point) would make the covariance singular.
    var = np.maximum(var, 1e-6)
    cov = np.einsum("nij,nj,nkj->nik", rot, var, rot)
    return pos, vel_r, cov


def mahalanobis2(xa: F64, Pa: F64, xb: F64, Pb: F64) -> F64:
    """Squared Mahalanobis distance (N,) between track pairs, on the sum of covariances (the
    gate assumes no cross-correlation: the conservative, wider choice)."""
    d = xa - xb
    S = Pa + Pb
    return np.einsum("ni,ni->n", d, np.linalg.solve(S, d[..., None])[..., 0])


def covariance_intersection(xa: F64, Pa: F64, xb: F64, Pb: F64
                            ) -> tuple[F64, F64, F64]:
    """CI of N pairs of estimates: returns fused (N,d) means, (N,d,d) covariances and the
    weight ``w`` (N,) of ``a`` that minimises ``det P`` (searched on a grid, then refined)."""
    Ia = np.linalg.inv(Pa).astype(np.float64)
    Ib = np.linalg.inv(Pb).astype(np.float64)
    w = _best_omega(Ia, Ib, _OMEGAS[None, :].repeat(len(xa), 0))
    step = _OMEGAS[1] - _OMEGAS[0]
    fine = np.clip(w[:, None] + np.linspace(-step, step, 21)[None, :], 0.0, 1.0)
    w = _best_omega(Ia, Ib, fine)
    info = w[:, None, None] * Ia + (1.0 - w)[:, None, None] * Ib
    P = np.linalg.inv(info).astype(np.float64)
    P = 0.5 * (P + np.swapaxes(P, 1, 2))
    y = w[:, None] * np.einsum("nij,nj->ni", Ia, xa) \
        + (1.0 - w)[:, None] * np.einsum("nij,nj->ni", Ib, xb)
    return np.einsum("nij,nj->ni", P, y), P, w


def _best_omega(Ia: F64, Ib: F64, omegas: F64) -> F64:
    """The weight among ``omegas`` (N,K) maximising ``det(w Ia + (1-w) Ib)`` per pair."""
    info = omegas[:, :, None, None] * Ia[:, None] + (1.0 - omegas)[:, :, None, None] * Ib[:, None]
    _, logdet = np.linalg.slogdet(info)
    return omegas[np.arange(len(omegas)), np.argmax(logdet, axis=1)]


def associate(pos: F64, cov: F64, site: I64, gate_chi2: float) -> I64:
    """Cluster labels (N,) grouping tracks of one object seen by different sites.

    Pairs within the chi-square gate are joined greedily, nearest (smallest Mahalanobis
    distance) first, and a cluster never holds two tracks of one site (a site's own tracker
    already decided those are different objects). Candidate pairs come from a k-d tree, so
    the cost grows with the overlaps rather than with N^2.
    """
    n = len(pos)
    labels = np.arange(n, dtype=np.int64)
    if n < 2:
        return labels
    top = np.linalg.eigvalsh(cov)[:, -1]
    # A pair within the gate is closer than sqrt(gate * 2 * max(top_i, top_j)): query from
    # each point with its own radius finds it from the point of larger variance.
    radius = np.sqrt(gate_chi2 * 2.0 * top)
    tree = cKDTree(pos)
    hits = tree.query_ball_point(pos, radius)
    ii_l: list[int] = []
    jj_l: list[int] = []
    for i, found in enumerate(hits):
        for j in found:
            if j != i:
                ii_l.append(min(i, j))
                jj_l.append(max(i, j))
    if not ii_l:
        return labels
    pairs = np.unique(np.column_stack([ii_l, jj_l]), axis=0)
    ii, jj = pairs[:, 0], pairs[:, 1]
    keep = site[ii] != site[jj]
    ii, jj = ii[keep], jj[keep]
    d2 = mahalanobis2(pos[ii], cov[ii], pos[jj], cov[jj])
    keep = d2 <= gate_chi2
    ii, jj, d2 = ii[keep], jj[keep], d2[keep]
    parent = list(range(n))
    sites: dict[int, set[int]] = {}

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for k in np.argsort(d2, kind="stable"):
        a, b = root(int(ii[k])), root(int(jj[k]))
        if a == b:
            continue
        sa = sites.get(a, {int(site[a])})
        sb = sites.get(b, {int(site[b])})
        if sa & sb:
            continue
        parent[b] = a
        sites[a] = sa | sb
        sites.pop(b, None)
    return np.asarray([root(k) for k in range(n)], dtype=np.int64)


def fuse_clusters(labels: I64, pos: F64, vel: F64, cov: F64
                  ) -> tuple[I64, list[I64], F64, F64, F64]:
    """Fuse each cluster by sequential CI, batched over clusters per round.

    Returns the cluster labels in order (M,), each cluster's member indices, and the fused
    positions (M,3), velocities (M,3) and covariances (M,3,3). Velocities take the same CI
    weights as positions (sites send no velocity covariance).
    """
    uniq, inverse = np.unique(labels, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    members = [order[bounds[m]:bounds[m + 1]].astype(np.int64) for m in range(len(uniq))]
    first = order[bounds[:-1]]
    fpos, fvel, fcov = pos[first].copy(), vel[first].copy(), cov[first].copy()
    sizes = np.diff(bounds)
    for r in range(1, int(sizes.max(initial=1))):
        rows = np.nonzero(sizes > r)[0]
        idx = order[bounds[rows] + r]
        x, P, w = covariance_intersection(fpos[rows], fcov[rows], pos[idx], cov[idx])
        Ia = np.linalg.inv(fcov[rows])
        Ib = np.linalg.inv(cov[idx])
        vy = w[:, None] * np.einsum("nij,nj->ni", Ia, fvel[rows]) \
            + (1.0 - w)[:, None] * np.einsum("nij,nj->ni", Ib, vel[idx])
        fvel[rows] = np.einsum("nij,nj->ni", P, vy)
        fpos[rows], fcov[rows] = x, P
    return uniq.astype(np.int64), members, fpos, fvel, fcov
