"""Peer trackers for the benchmark, each fed the same per-scan ENU detections as cuas.

* :class:`FilterpyGNN`: the straightforward design: one ``filterpy.kalman.KalmanFilter`` per
  track, a Python loop over tracks to predict them and fill a dense Mahalanobis cost matrix
  (vectorised over the detections of each row), one ``scipy.optimize.linear_sum_assignment`` on
  the whole matrix, an update per assigned track, and an M-of-N life cycle like cuas's.
* :func:`build_stonesoup`: Stone Soup's ``MultiTargetTracker`` with ``KalmanPredictor`` /
  ``KalmanUpdater``, a ``DistanceHypothesiser`` on the Mahalanobis distance, global nearest
  neighbour by 2-D assignment (plain ``GNNWith2DAssignment``, or the KD-tree pre-gated
  ``DetectionKDTreeGNN2D``), ``MultiMeasurementInitiator`` and ``UpdateTimeStepsDeleter``.

* :class:`NumpyGNN`: a plain batched-numpy GNN written from scratch, the floor a few array
  operations give: every track predicted at once (one F, Q per scan), the innovation
  covariances inverted at once, a KD-tree pre-gate, singleton pairs taken as they are and each
  conflict cluster solved by ``linear_sum_assignment``, one batched Kalman update, the same
  M-of-N life cycle, all as arrays.

All of them use the same model as cuas: the state [e, n, u, ve, vn, vu] (Stone Soup orders it
[e, ve, n, vn, u, vu]) with constant velocity and the discretised continuous white-noise
acceleration process noise (spectral density ``q_h`` on the horizontal axes, ``q_v`` on the
vertical), a linear position measurement with covariance ``R``, the same χ² gate and the same
initial velocity uncertainty. Stone Soup is imported lazily: it is an optional extra.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

from cuas.config import TrackerConfig

F64 = NDArray[np.float64]

#: Cost of a gated-out cell in the filterpy peer's dense cost matrix.
_BIG = 1e9


@dataclass(frozen=True)
class ModelParams:
    """The model and life-cycle parameters every tracker of a run shares (metres, seconds)."""

    q_h: float
    q_v: float
    R: F64
    gate_chi2: float
    init_speed_sigma: float
    init_vspeed_sigma: float
    confirm_m: int
    confirm_n: int
    delete_misses_tentative: int
    delete_misses_confirmed: int
    max_pos_sigma: float

    @classmethod
    def from_cuas(cls, cfg: TrackerConfig, R: F64) -> ModelParams:
        """The parameters cuas itself runs with (its gate is χ²₃ at ``gate_probability``)."""
        return cls(
            q_h=cfg.accel_noise_h,
            q_v=cfg.accel_noise_v,
            R=np.asarray(R, dtype=np.float64),
            gate_chi2=float(chi2.ppf(cfg.gate_probability, 3)),
            init_speed_sigma=cfg.init_speed_sigma,
            init_vspeed_sigma=cfg.init_vspeed_sigma,
            confirm_m=cfg.confirm_m,
            confirm_n=cfg.confirm_n,
            delete_misses_tentative=cfg.delete_misses_tentative,
            delete_misses_confirmed=cfg.delete_misses_confirmed,
            max_pos_sigma=cfg.max_pos_sigma,
        )


class Runner(Protocol):
    """One tracker fed one scenario scan by scan."""

    name: str

    def step(self, k: int) -> None:
        """Process scan ``k`` (this call is what is timed)."""

    def positions(self, k: int) -> F64:
        """ENU positions (K,3) of the confirmed (and coasting) tracks at scan ``k``'s time."""


# --------------------------------------------------------------------------- filterpy peer


def cv_matrices(delta: float, q_h: float, q_v: float) -> tuple[F64, F64]:
    """F and Q (6×6) of the constant-velocity model over ``delta`` seconds, state
    [e, n, u, ve, vn, vu]: Q is the discretised continuous white-noise acceleration."""
    F = np.eye(6)
    Q = np.zeros((6, 6))
    for axis, q in enumerate((q_h, q_h, q_v)):
        F[axis, axis + 3] = delta
        Q[axis, axis] = q * delta**3 / 3.0
        Q[axis, axis + 3] = Q[axis + 3, axis] = q * delta**2 / 2.0
        Q[axis + 3, axis + 3] = q * delta
    return F, Q


class _FTrack:
    __slots__ = ("confirmed", "kf", "looks", "misses", "t")

    def __init__(self, kf: Any, t: float) -> None:
        self.kf = kf
        self.t = t
        self.looks = 1  # bit history, newest look in bit 0
        self.misses = 0
        self.confirmed = False


class FilterpyGNN:
    """Per-object filterpy Kalman filters, a dense gated cost matrix and one global assignment.

    Life cycle as cuas's: a track is confirmed once it has ``confirm_m`` hits among its last
    ``confirm_n`` looks; a tentative track dies after ``delete_misses_tentative`` consecutive
    misses, a confirmed one after ``delete_misses_confirmed``, any track once its position
    1-sigma exceeds ``max_pos_sigma``.
    """

    def __init__(self, params: ModelParams) -> None:
        from filterpy.kalman import KalmanFilter

        self._kf_class = KalmanFilter
        self.p = params
        self.tracks: list[_FTrack] = []
        self.H = np.hstack([np.eye(3), np.zeros((3, 3))])
        self._mats: dict[float, tuple[F64, F64]] = {}
        self._window = (1 << params.confirm_n) - 1

    def _matrices(self, delta: float) -> tuple[F64, F64]:
        found = self._mats.get(delta)
        if found is None:
            found = self._mats[delta] = cv_matrices(delta, self.p.q_h, self.p.q_v)
        return found

    def step(self, t: float, Z: F64) -> None:
        """One scan at ``t``: detections ``Z`` (M,3) in site ENU, all with covariance R."""
        p = self.p
        R = p.R
        tracks = self.tracks
        n, m = len(tracks), len(Z)
        for tr in tracks:
            F, Q = self._matrices(t - tr.t)
            tr.kf.predict(F=F, Q=Q)
            tr.t = t
        assigned_det = np.zeros(m, dtype=bool)
        hit = np.zeros(n, dtype=bool)
        if n and m:
            cost = np.empty((n, m))
            for i, tr in enumerate(tracks):
                S = tr.kf.P[:3, :3] + R
                y = Z - tr.kf.x[:3]
                d2 = np.einsum("mi,ij,mj->m", y, np.linalg.inv(S), y)
                cost[i] = np.where(d2 <= p.gate_chi2, d2, _BIG)
            rows, cols = linear_sum_assignment(cost)
            good = cost[rows, cols] <= p.gate_chi2
            for i, j in zip(rows[good].tolist(), cols[good].tolist(), strict=True):
                tracks[i].kf.update(Z[j])
                hit[i] = True
                assigned_det[j] = True
        survivors: list[_FTrack] = []
        for i, tr in enumerate(tracks):
            h = bool(hit[i])
            tr.looks = ((tr.looks << 1) | int(h)) & 0xFFFFFFFF
            tr.misses = 0 if h else tr.misses + 1
            if not tr.confirmed and (tr.looks & self._window).bit_count() >= p.confirm_m:
                tr.confirmed = True
            limit = p.delete_misses_confirmed if tr.confirmed else p.delete_misses_tentative
            pos_sigma = math.sqrt(float(np.max(np.diagonal(tr.kf.P)[:3])))
            if tr.misses < limit and pos_sigma <= p.max_pos_sigma:
                survivors.append(tr)
        for j in np.flatnonzero(~assigned_det).tolist():
            survivors.append(self._start(t, Z[j]))
        self.tracks = survivors

    def _start(self, t: float, z: F64) -> _FTrack:
        p = self.p
        kf = self._kf_class(dim_x=6, dim_z=3)
        kf.x = np.concatenate([z, np.zeros(3)])
        P = np.zeros((6, 6))
        P[:3, :3] = p.R
        P[3, 3] = P[4, 4] = p.init_speed_sigma**2
        P[5, 5] = p.init_vspeed_sigma**2
        kf.P = P
        kf.H = self.H
        kf.R = p.R.copy()
        return _FTrack(kf, t)

    def confirmed_positions(self) -> F64:
        pts = [tr.kf.x[:3] for tr in self.tracks if tr.confirmed]
        return np.asarray(pts, dtype=np.float64).reshape(-1, 3)


class FilterpyRunner:
    name = "filterpy+scipy"

    def __init__(self, times: Sequence[float], scans: Sequence[F64], params: ModelParams) -> None:
        self.times = times
        self.scans = scans
        self.tracker = FilterpyGNN(params)

    def step(self, k: int) -> None:
        self.tracker.step(self.times[k], self.scans[k])

    def positions(self, k: int) -> F64:
        return self.tracker.confirmed_positions()


# --------------------------------------------------------------------------- batched numpy peer


class NumpyGNN:
    """A track table as arrays and a scan as a handful of array operations (see the module
    docstring); life cycle as :class:`FilterpyGNN`'s."""

    def __init__(self, params: ModelParams) -> None:
        self.p = params
        self.x = np.zeros((0, 6))
        self.P = np.zeros((0, 6, 6))
        self.t = np.zeros(0)
        self.looks = np.zeros(0, dtype=np.int64)
        self.misses = np.zeros(0, dtype=np.int64)
        self.confirmed = np.zeros(0, dtype=bool)
        self._window = (1 << params.confirm_n) - 1

    def step(self, t: float, Z: F64) -> None:
        """One scan at ``t``: detections ``Z`` (M,3) in site ENU, all with covariance R."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components
        from scipy.spatial import cKDTree

        p = self.p
        n, m = len(self.x), len(Z)
        hit = np.zeros(n, dtype=bool)
        used = np.zeros(m, dtype=bool)
        if n:
            delta = float(t - self.t[0])  # every track is predicted every scan: one step
            F, Q = cv_matrices(delta, p.q_h, p.q_v)
            self.x = self.x @ F.T
            self.P = F @ self.P @ F.T + Q
            self.t[:] = t
        if n and m:
            S = self.P[:, :3, :3] + p.R
            Si = np.linalg.inv(S)
            # Euclidean pre-gate at the widest track's reach (|y|² ≤ g·λmax(S) ≤ g·tr S).
            reach = math.sqrt(p.gate_chi2 * float(np.trace(S, axis1=1, axis2=2).max()))
            pairs = cKDTree(self.x[:, :3]).sparse_distance_matrix(
                cKDTree(Z), reach, output_type="ndarray")
            ti, dj = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
            y = Z[dj] - self.x[ti, :3]
            d2 = np.einsum("ki,kij,kj->k", y, Si[ti], y)
            ok = d2 <= p.gate_chi2
            ti, dj, d2 = ti[ok], dj[ok], d2[ok]
            chosen = self._assign(ti, dj, d2, n, m, coo_matrix, connected_components)
            rows, cols = ti[chosen], dj[chosen]
            K = self.P[rows, :, :3] @ Si[rows]
            self.x[rows] += np.einsum("kij,kj->ki", K, Z[cols] - self.x[rows, :3])
            IKH = np.broadcast_to(np.eye(6), (len(rows), 6, 6)).copy()
            IKH[:, :, :3] -= K
            self.P[rows] = IKH @ self.P[rows]
            hit[rows] = True
            used[cols] = True
        self.looks = ((self.looks << 1) | hit) & 0xFFFFFFFF
        self.misses = np.where(hit, 0, self.misses + 1)
        ones = np.bitwise_count(self.looks & self._window) if hasattr(np, "bitwise_count") \
            else np.asarray([bin(v).count("1") for v in (self.looks & self._window).tolist()])
        self.confirmed |= ones >= p.confirm_m
        limit = np.where(self.confirmed, p.delete_misses_confirmed, p.delete_misses_tentative)
        sigma = np.sqrt(np.diagonal(self.P[:, :3, :3], axis1=1, axis2=2).max(axis=1)) if n \
            else np.zeros(0)
        keep = (self.misses < limit) & (sigma <= p.max_pos_sigma)
        new = Z[~used]
        k = len(new)
        x0 = np.zeros((k, 6))
        x0[:, :3] = new
        P0 = np.zeros((k, 6, 6))
        P0[:, :3, :3] = p.R
        P0[:, [3, 4, 5], [3, 4, 5]] = (p.init_speed_sigma**2, p.init_speed_sigma**2,
                                       p.init_vspeed_sigma**2)
        self.x = np.concatenate([self.x[keep], x0])
        self.P = np.concatenate([self.P[keep], P0])
        self.t = np.concatenate([self.t[keep], np.full(k, t)])
        self.looks = np.concatenate([self.looks[keep], np.ones(k, dtype=np.int64)])
        self.misses = np.concatenate([self.misses[keep], np.zeros(k, dtype=np.int64)])
        self.confirmed = np.concatenate([self.confirmed[keep], np.zeros(k, dtype=bool)])

    @staticmethod
    def _assign(ti: Any, dj: Any, d2: F64, n: int, m: int, coo_matrix: Any,
                connected_components: Any) -> Any:
        """Indices of the chosen pairs: lone pairs as they are, each cluster by assignment
        (a pair may stay out: every track and detection can go unassigned at the gate's cost)."""
        lone = (np.bincount(ti, minlength=n)[ti] == 1) & (np.bincount(dj, minlength=m)[dj] == 1)
        chosen = [np.flatnonzero(lone)]
        rest = np.flatnonzero(~lone)
        if len(rest):
            graph = coo_matrix((np.ones(len(rest)), (ti[rest], dj[rest] + n)),
                               shape=(n + m, n + m))
            _, label = connected_components(graph, directed=False)
            comp = label[ti[rest]]
            order = np.argsort(comp, kind="stable")
            for group in np.split(rest[order], np.flatnonzero(np.diff(comp[order])) + 1):
                tu, tl = np.unique(ti[group], return_inverse=True)
                du, dl = np.unique(dj[group], return_inverse=True)
                cost = np.full((len(tu), len(du)), _BIG)
                cost[tl, dl] = d2[group]
                r, c = linear_sum_assignment(cost)
                pair = np.full((len(tu), len(du)), -1)
                pair[tl, dl] = group
                picked = pair[r, c]
                chosen.append(picked[picked >= 0])
        return np.concatenate(chosen)

    def confirmed_positions(self) -> F64:
        return np.asarray(self.x[self.confirmed, :3], dtype=np.float64).reshape(-1, 3)


class NumpyRunner:
    name = "numpy-gnn"

    def __init__(self, times: Sequence[float], scans: Sequence[F64], params: ModelParams) -> None:
        self.times = times
        self.scans = scans
        self.tracker = NumpyGNN(params)

    def step(self, k: int) -> None:
        self.tracker.step(self.times[k], self.scans[k])

    def positions(self, k: int) -> F64:
        return self.tracker.confirmed_positions()


# --------------------------------------------------------------------------- Stone Soup peers


class StoneSoupMissing(RuntimeError):
    """Stone Soup (the optional ``bench`` extra) is not installed."""


#: The Stone Soup classes the peers use, by module.
_SS_CLASSES: dict[str, str] = {
    "GNNWith2DAssignment": "stonesoup.dataassociator.neighbour",
    "DetectionKDTreeGNN2D": "stonesoup.dataassociator.tree",
    "UpdateTimeStepsDeleter": "stonesoup.deleter.time",
    "DistanceHypothesiser": "stonesoup.hypothesiser.distance",
    "MultiMeasurementInitiator": "stonesoup.initiator.simple",
    "Mahalanobis": "stonesoup.measures",
    "LinearGaussian": "stonesoup.models.measurement.linear",
    "CombinedLinearGaussianTransitionModel": "stonesoup.models.transition.linear",
    "ConstantVelocity": "stonesoup.models.transition.linear",
    "KalmanPredictor": "stonesoup.predictor.kalman",
    "MultiTargetTracker": "stonesoup.tracker.simple",
    "CovarianceMatrix": "stonesoup.types.array",
    "StateVector": "stonesoup.types.array",
    "Detection": "stonesoup.types.detection",
    "GaussianState": "stonesoup.types.state",
    "KalmanUpdater": "stonesoup.updater.kalman",
    "JPDAwithEHM": "stonesoup.dataassociator.probability",
    "PDAHypothesiser": "stonesoup.hypothesiser.probability",
    "MultiTargetMixtureTracker": "stonesoup.tracker.simple",
}


def _import_stonesoup() -> dict[str, Any]:
    """The classes of :data:`_SS_CLASSES`, imported now (Stone Soup is optional)."""
    try:
        with warnings.catch_warnings():
            # stonesoup.dataassociator.tree warns when the optional rtree package is absent;
            # only its TPR-tree classes need it.
            warnings.simplefilter("ignore")
            return {name: getattr(importlib.import_module(module), name)
                    for name, module in _SS_CLASSES.items()}
    except ImportError as exc:
        raise StoneSoupMissing(
            f"Stone Soup is not installed ({exc}); install the benchmark extra with "
            "`pip install .[bench]` (or `pip install stonesoup`)"
        ) from None


#: Stone Soup's state order: [e, ve, n, vn, u, vu].
SS_POS = (0, 2, 4)


@dataclass
class StoneSoupParts:
    tracker: Any
    measurement_model: Any
    detection_class: Any
    state_vector_class: Any


def build_stonesoup(params: ModelParams, kdtree: bool) -> StoneSoupParts:
    """A Stone Soup GNN tracker with the shared model (``kdtree`` picks the associator)."""
    ss = _import_stonesoup()
    transition = ss["CombinedLinearGaussianTransitionModel"](
        [ss["ConstantVelocity"](params.q_h), ss["ConstantVelocity"](params.q_h),
         ss["ConstantVelocity"](params.q_v)]
    )
    measurement = ss["LinearGaussian"](ndim_state=6, mapping=SS_POS,
                                       noise_covar=ss["CovarianceMatrix"](params.R))
    predictor = ss["KalmanPredictor"](transition)
    updater = ss["KalmanUpdater"](measurement)
    hypothesiser = ss["DistanceHypothesiser"](
        predictor, updater, measure=ss["Mahalanobis"](), missed_distance=math.sqrt(params.gate_chi2)
    )

    def associator() -> Any:
        if not kdtree:
            return ss["GNNWith2DAssignment"](hypothesiser)
        # The Euclidean pre-gate must never lose a pair the Mahalanobis gate keeps. A pair in
        # the gate has |y|² ≤ g·λmax(S) ≤ g·3·max(diag S); the KD-tree's radius is
        # multiplier·max(diag S), and max(diag S) ≥ max(diag R), so this multiplier suffices.
        multiplier = math.sqrt(3.0 * params.gate_chi2 / float(np.max(np.diag(params.R))))
        return ss["DetectionKDTreeGNN2D"](
            hypothesiser=hypothesiser, predictor=predictor, updater=updater,
            number_of_neighbours=None, max_distance=np.inf,
            max_distance_covariance_multiplier=multiplier,
        )

    prior_var = np.zeros(6)
    prior_var[[1, 3]] = params.init_speed_sigma**2
    prior_var[5] = params.init_vspeed_sigma**2
    prior = ss["GaussianState"](ss["StateVector"](np.zeros(6)),
                                ss["CovarianceMatrix"](np.diag(prior_var)))
    initiator = ss["MultiMeasurementInitiator"](
        prior_state=prior,
        measurement_model=measurement,
        deleter=ss["UpdateTimeStepsDeleter"](params.delete_misses_tentative),
        data_associator=associator(),
        updater=updater,
        min_points=params.confirm_m,
    )
    tracker = ss["MultiTargetTracker"](
        initiator=initiator,
        deleter=ss["UpdateTimeStepsDeleter"](params.delete_misses_confirmed),
        detector=None,
        data_associator=associator(),
        updater=updater,
    )
    return StoneSoupParts(tracker, measurement, ss["Detection"], ss["StateVector"])


class StoneSoupRunner:
    """Stone Soup's tracker on pre-built ``Detection`` sets (building them is not timed)."""

    def __init__(self, times: Sequence[float], scans: Sequence[F64], params: ModelParams,
                 kdtree: bool) -> None:
        self.name = "stonesoup-kdtree" if kdtree else "stonesoup-plain"
        self._setup(build_stonesoup(params, kdtree), times, scans)

    def _setup(self, parts: StoneSoupParts, times: Sequence[float], scans: Sequence[F64]) -> None:
        self.tracker = parts.tracker
        self.stamps = [dt.datetime.fromtimestamp(t, tz=dt.UTC).replace(tzinfo=None) for t in times]
        self.detections = [
            {parts.detection_class(parts.state_vector_class(z), timestamp=stamp,
                                   measurement_model=parts.measurement_model)
             for z in Z}
            for stamp, Z in zip(self.stamps, scans, strict=True)
        ]

    def step(self, k: int) -> None:
        self.tracker.update_tracker(self.stamps[k], self.detections[k])

    def positions(self, k: int) -> F64:
        pts = [np.asarray(tr.state_vector, dtype=np.float64)[SS_POS, 0]
               for tr in self.tracker.tracks]
        return np.asarray(pts, dtype=np.float64).reshape(-1, 3)


def build_stonesoup_jpda(params: ModelParams, clutter_density: float, pd: float) -> StoneSoupParts:
    """Stone Soup's JPDA (``JPDAwithEHM``: exact marginals by efficient hypothesis management;
    plain ``JPDA`` enumerates joint events and took minutes per scan on the dense benchmark),
    with a ``PDAHypothesiser`` given the true Pd and clutter density, in
    ``MultiTargetMixtureTracker``; tracks started as by the GNN peers."""
    ss = _import_stonesoup()
    gnn = build_stonesoup(params, kdtree=False)
    transition = ss["CombinedLinearGaussianTransitionModel"](
        [ss["ConstantVelocity"](params.q_h), ss["ConstantVelocity"](params.q_h),
         ss["ConstantVelocity"](params.q_v)]
    )
    predictor = ss["KalmanPredictor"](transition)
    updater = ss["KalmanUpdater"](gnn.measurement_model)
    gate = float(chi2.cdf(params.gate_chi2, 3))
    hypothesiser = ss["PDAHypothesiser"](predictor=predictor, updater=updater,
                                         clutter_spatial_density=clutter_density,
                                         prob_detect=pd, prob_gate=gate)
    tracker = ss["MultiTargetMixtureTracker"](
        initiator=gnn.tracker.initiator,
        deleter=ss["UpdateTimeStepsDeleter"](params.delete_misses_confirmed),
        detector=None,
        data_associator=ss["JPDAwithEHM"](hypothesiser=hypothesiser),
        updater=updater,
    )
    return StoneSoupParts(tracker, gnn.measurement_model, ss["Detection"], ss["StateVector"])


class StoneSoupJPDARunner(StoneSoupRunner):
    """Stone Soup's JPDA tracker on pre-built ``Detection`` sets (building them is not timed)."""

    def __init__(self, times: Sequence[float], scans: Sequence[F64], params: ModelParams,
                 clutter_density: float, pd: float) -> None:
        parts = build_stonesoup_jpda(params, clutter_density, pd)
        self._setup(parts, times, scans)
        self.name = "stonesoup-jpda"
