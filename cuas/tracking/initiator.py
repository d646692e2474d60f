"""Initiator: new tentative tracks from detections that no track claimed.

A detection that fixes a point (``enu``, ``lla``, ``rae``) starts a track by itself. A bearing
(``ae``: a camera) fixes none: it waits, for a short window, for a bearing of the same target
from another sensor, and the two (or more) are triangulated (:func:`cuas.geo.triangulate`)
into the new track's position. A single camera alone never starts a track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cuas.geo import Triangulated, triangulate
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.models import AzElModel

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


# --------------------------------------------------------------------------- bearings


#: Bearings kept waiting for a partner from another sensor, at most (oldest dropped first).
MAX_PENDING_BEARINGS = 4096


@dataclass(frozen=True, slots=True)
class Bearings:
    """Bearing rays as arrays (K = number of rays): time ``t`` (K,) UTC s, ``sensor`` (K,)
    the tracker's sensor column, ``origin`` (K,3) sensor position and ``dir`` (K,3) unit
    direction in site ENU metres, ``sigma`` (K,) angular 1-sigma across the ray (rad)."""

    t: F64
    sensor: I64
    origin: F64
    dir: F64
    sigma: F64

    @classmethod
    def empty(cls) -> Bearings:
        return cls(np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros((0, 3)), np.zeros((0, 3)),
                   np.zeros(0))

    def __len__(self) -> int:
        return len(self.t)

    def take(self, rows: I64 | NDArray[np.bool_]) -> Bearings:
        return Bearings(self.t[rows], self.sensor[rows], self.origin[rows], self.dir[rows],
                        self.sigma[rows])

    def concat(self, other: Bearings) -> Bearings:
        return Bearings(np.concatenate([self.t, other.t]),
                        np.concatenate([self.sensor, other.sensor]),
                        np.concatenate([self.origin, other.origin]),
                        np.concatenate([self.dir, other.dir]),
                        np.concatenate([self.sigma, other.sigma]))


def bearings_of(model: AzElModel, batch: MeasurementBatch, dets: I64, sensor_col: int) -> Bearings:
    """The rays of bearings ``dets`` of a batch (all of ``model``), in site ENU.

    The angular sigma across the ray is the larger of the elevation's sigma and the azimuth's
    sigma times cos(elevation) (an azimuth error spans less arc towards the zenith)."""
    if not len(dets):
        return Bearings.empty()
    frame = model.sensor
    el = np.radians(batch.z[dets, 1])
    dirs = model.directions(batch.z[dets]) @ frame.rotation  # sensor-ENU to site-ENU vectors
    s_az = np.sqrt(batch.R[dets, 0, 0]) * np.cos(el)
    s_el = np.sqrt(batch.R[dets, 1, 1])
    k = len(dets)
    return Bearings(np.full(k, batch.t), np.full(k, sensor_col, dtype=np.int64),
                    np.broadcast_to(frame.offset, (k, 3)).copy(), dirs,
                    np.radians(np.maximum(s_az, s_el)))


@dataclass(frozen=True, slots=True)
class BearingFix:
    """Points fixed by crossing bearings: ``point`` (G,3) and ``cov`` (G,3,3) site ENU metres,
    ``new`` (G,) the index of each group's ray in the current batch, ``partners`` (G,R) the
    pending rays it crossed (-1 padding), ``sensors`` (G,R+1) the sensor columns involved
    (-1 padding)."""

    point: F64
    cov: F64
    new: I64
    partners: I64
    sensors: I64


def cross_bearings(new: Bearings, pending: Bearings, *, window_s: float, speed_ms: float,
                   gate_sigma: float, max_sigma_m: float) -> BearingFix:
    """Fix points where the current batch's rays ``new`` cross rays of *other* sensors still
    ``pending`` (taken within ``window_s`` before): least-squares triangulation with the
    ray-miss gate, each ray used once.

    Pairs are scored all at once and taken greedily, best fit first (smallest chi-square);
    each accepted pair then takes in the best-fitting pending ray of every further sensor that
    passes the gate, and the group is refitted. A ray taken ``dt`` seconds earlier may miss by
    the target's motion, ``speed_ms`` × ``dt`` metres, on top of its angular sigma."""
    empty = BearingFix(np.zeros((0, 3)), np.zeros((0, 3, 3)), np.zeros(0, dtype=np.int64),
                       np.zeros((0, 1), dtype=np.int64), np.zeros((0, 2), dtype=np.int64))
    if not len(new) or not len(pending):
        return empty
    t_now = float(new.t.max())
    ni, pj = np.nonzero((new.sensor[:, None] != pending.sensor[None, :])
                        & (t_now - pending.t[None, :] <= window_s))
    if not len(ni):
        return empty

    def fit(rows_new: I64, rows_pend: I64, valid: NDArray[np.bool_]) -> Triangulated:
        """Groups of one new ray and R pending ones (padding marked in ``valid`` (G,R+1))."""
        origin = np.concatenate([new.origin[rows_new][:, None], pending.origin[rows_pend]], 1)
        dirs = np.concatenate([new.dir[rows_new][:, None], pending.dir[rows_pend]], 1)
        sigma = np.concatenate([new.sigma[rows_new][:, None], pending.sigma[rows_pend]], 1)
        dt = np.concatenate([np.zeros((len(rows_new), 1)),
                             np.maximum(t_now - pending.t[rows_pend], 0.0)], 1)
        return triangulate(origin, dirs, sigma, valid, speed_ms * dt, gate_sigma=gate_sigma,
                           max_sigma_m=max_sigma_m)

    pairs = fit(ni, pj[:, None], np.ones((len(ni), 2), dtype=bool))
    good = np.flatnonzero(pairs.ok)
    order = good[np.argsort(pairs.chi2[good], kind="stable")]
    used_new = np.zeros(len(new), dtype=bool)
    used_pend = np.zeros(len(pending), dtype=bool)
    groups: list[tuple[int, list[int]]] = []
    for p in order.tolist():
        i, j = int(ni[p]), int(pj[p])
        if used_new[i] or used_pend[j]:
            continue
        used_new[i] = used_pend[j] = True
        groups.append((i, [j]))
    if not groups:
        return empty
    # Further sensors: each group takes at most one more ray per sensor, the best that fits.
    for gi, (i, members) in enumerate(groups):
        cands = np.flatnonzero(~used_pend & (pending.sensor != new.sensor[i])
                               & (pending.sensor != pending.sensor[members[0]])
                               & (t_now - pending.t <= window_s))
        if not len(cands):
            continue
        rows = np.column_stack([np.full(len(cands), members[0]), cands])
        tri = fit(np.full(len(cands), i), rows, np.ones((len(cands), 3), dtype=bool))
        fits = np.flatnonzero(tri.ok)
        taken: set[int] = {int(pending.sensor[members[0]])}
        for c in fits[np.argsort(tri.chi2[fits], kind="stable")].tolist():
            j = int(cands[c])
            if int(pending.sensor[j]) in taken:
                continue
            taken.add(int(pending.sensor[j]))
            used_pend[j] = True
            members.append(j)
        groups[gi] = (i, members)
    width = max(len(m) for _, m in groups)
    rows_new = np.asarray([i for i, _ in groups], dtype=np.int64)
    partners = np.full((len(groups), width), -1, dtype=np.int64)
    for gi, (_, members) in enumerate(groups):
        partners[gi, :len(members)] = members
    valid = np.concatenate([np.ones((len(groups), 1), dtype=bool), partners >= 0], 1)
    final = fit(rows_new, np.maximum(partners, 0), valid)
    keep = final.ok
    sensors = np.where(valid, np.concatenate(
        [new.sensor[rows_new][:, None], pending.sensor[np.maximum(partners, 0)]], 1), -1)
    return BearingFix(final.point[keep], final.cov[keep], rows_new[keep], partners[keep],
                      sensors[keep])
