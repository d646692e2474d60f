"""Interacting multiple model (IMM) filtering, batched over tracks.

Each track carries one state per motion mode (``xm`` (K,M,6), ``Pm`` (K,M,6,6)) and the mode
probabilities ``mu`` (K,M). One IMM cycle is: mix the mode states with the switching
probabilities over the step, predict each mixed state with its own motion model, update each
with the same detection, weigh the modes by how well each predicted it, and combine them into
the one state the rest of the tracker sees. Every stage is an array operation over all tracks;
the only Python loop is over the M (three) modes.

The order of the modes is :data:`MODES` (the contract's ``modes`` keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

import numpy as np
from numpy.typing import NDArray

from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.models import POS, VEL, ConstantVelocity, wrap_residual
from cuas.tracking.updater import (
    innovation_covariance,
    inverse,
    kalman_update,
    kernels,
    mahalanobis2,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Motion modes, in the order of every ``mu`` column (cuas.vocabulary.MOTION_MODES).
MODES: Final = ("hover", "constant_velocity", "manoeuvre")
HOVER: Final = 0
CV: Final = 1
MANOEUVRE: Final = 2
#: Mode probabilities of a new track: nothing yet says it hovers or turns.
BIRTH_MU: Final = (0.0, 1.0, 0.0)


class MotionModel(Protocol):
    def predict(self, x: F64, P: F64, dt: F64) -> tuple[F64, F64]: ...


class NearlyConstantPosition:
    """Hover: the position wanders as a random walk and the velocity is (nearly) zero.

    ``q_h``/``q_v`` are the position diffusion densities (m²/s) horizontally and vertically;
    ``speed_sigma`` (m/s) the 1-sigma of the small velocity a hovering target still shows.
    """

    def __init__(self, q_h: float, q_v: float, speed_sigma: float) -> None:
        self.q_h = q_h
        self.q_v = q_v
        self.speed_sigma = speed_sigma

    @staticmethod
    def transition(dt: F64) -> F64:
        """F (K,6,6): position kept, velocity reset to zero."""
        F = np.zeros((len(dt), 6, 6))
        F[:, 0, 0] = F[:, 1, 1] = F[:, 2, 2] = 1.0
        return F

    def process_noise(self, dt: F64) -> F64:
        """Q (K,6,6) for steps ``dt`` (K,) s."""
        Q = np.zeros((len(dt), 6, 6))
        idx = np.arange(3)
        Q[:, idx, idx] = dt[:, None] * np.array([self.q_h, self.q_h, self.q_v])
        Q[:, idx + 3, idx + 3] = self.speed_sigma**2
        return Q

    def predict(self, x: F64, P: F64, dt: F64) -> tuple[F64, F64]:
        """x (K,6), P (K,6,6) forward by ``dt`` (K,) s (F P Fᵀ + Q by blocks)."""
        x_new = x.copy()
        x_new[:, VEL] = 0.0
        P_new = np.zeros_like(P)
        P_new[:, POS, POS] = P[:, POS, POS]
        idx = np.arange(3)
        P_new[:, idx, idx] += dt[:, None] * np.array([self.q_h, self.q_h, self.q_v])
        P_new[:, idx + 3, idx + 3] = self.speed_sigma**2
        return x_new, P_new


class IMM:
    """The mode models (aligned with :data:`MODES`) and how often targets switch between
    them: a target stays in mode i for an exponentially distributed time of mean
    ``sojourn_s[i]`` seconds, then moves to either other mode with equal probability."""

    def __init__(self, models: Sequence[MotionModel], sojourn_s: Sequence[float],
                 stop_mode: int | None = None, max_decel: float | None = None,
                 stop_speed: float = 0.0) -> None:
        if len(models) != len(sojourn_s) or len(models) < 2:
            raise ValueError("one sojourn time per mode, at least two modes")
        self.models = tuple(models)
        self.sojourn = np.asarray(sojourn_s, dtype=np.float64)
        self.m = len(models)
        #: Mode ``stop_mode`` (hover) is reachable from a moving mode only at the speed a
        #: target can shed in one step at ``max_decel`` (m/s²) plus ``stop_speed`` (m/s):
        #: an airliner does not stop dead between two reports (None: plain Markov switching).
        self.stop_mode = stop_mode
        self.max_decel = max_decel
        self.stop_speed = stop_speed
        # What the compiled predict needs to know of each mode's model (kernels.HOVER_KIND 0,
        # CV_KIND 1); None when a model is of another kind (then the numpy path runs).
        self._kinds: tuple[I64, F64, F64, F64] | None = None
        params = [_kernel_params(m) for m in self.models]
        if all(p is not None for p in params):
            cols = np.array(params, dtype=np.float64).T
            self._kinds = (cols[0].astype(np.int64), cols[1].copy(), cols[2].copy(),
                           cols[3].copy())
        if (kern := kernels()) is not None:
            kern.warm()  # compile or load them now, not in the middle of the first batch

    @classmethod
    def standard(cls, hover_q: float, hover_speed: float, q_h: float, q_v: float,
                 man_q_h: float, man_q_v: float, sojourn_s: float,
                 max_decel: float | None = None) -> IMM:
        """Hover, constant velocity and manoeuvre (a constant-velocity model with high noise);
        ``max_decel`` (m/s²) bounds how fast a mover can come to a hover (None: no bound)."""
        return cls((NearlyConstantPosition(hover_q, hover_q, hover_speed),
                    ConstantVelocity(q_h, q_v), ConstantVelocity(man_q_h, man_q_v)),
                   (sojourn_s,) * 3, stop_mode=HOVER if max_decel is not None else None,
                   max_decel=max_decel, stop_speed=3.0 * hover_speed)

    def switching(self, dt: F64) -> F64:
        """Mode transition matrices Π (K,M,M) over steps ``dt`` (K,) s; Π[k, i, j] = P(j | i)."""
        stay = np.exp(-np.maximum(dt, 0.0)[:, None] / self.sojourn[None, :])  # (K,M)
        off = (1.0 - stay) / (self.m - 1)
        Pi = np.broadcast_to(off[:, :, None], (len(dt), self.m, self.m)).copy()
        i = np.arange(self.m)
        Pi[:, i, i] = stay
        return Pi

    def _limit_stops(self, Pi: F64, xm: F64, Pm: F64, dt: F64) -> None:
        """Scale each moving mode's switch into the stop mode by the probability that its
        horizontal speed (K,) is within what the target can shed in ``dt``; the rest stays."""
        if self.stop_mode is None or self.max_decel is None:
            return
        s = self.stop_mode
        v = xm[:, :, 3:5]  # (K,M,2)
        speed = np.sqrt(np.sum(v * v, axis=2))
        sigma = np.sqrt(np.maximum(Pm[:, :, 3, 3] + Pm[:, :, 4, 4], 1e-12))
        reach = self.stop_speed + self.max_decel * np.maximum(dt, 0.0)[:, None]
        excess = np.maximum(speed - reach, 0.0) / sigma
        f = np.exp(-0.5 * excess * excess)  # (K,M)
        f[:, s] = 1.0
        cut = Pi[:, :, s] * (1.0 - f)
        Pi[:, :, s] -= cut
        i = np.arange(self.m)
        Pi[:, i, i] += cut

    def predict(self, xm: F64, Pm: F64, mu: F64, dt: F64) -> tuple[F64, F64, F64]:
        """Mix and predict: mode states xm (K,M,6), Pm (K,M,6,6) and probabilities mu (K,M)
        forward by ``dt`` (K,) s. Returns the predicted mode states and the predicted mode
        probabilities c̄ (K,M)."""
        out = self._compiled_predict(xm, Pm, mu, dt, False)
        if out is not None:
            return out[0], out[1], out[2]
        return self.predict_numpy(xm, Pm, mu, dt)

    def predict_combined(self, xm: F64, Pm: F64, mu: F64, dt: F64,
                         rows: I64 | None = None) -> tuple[F64, F64, F64, F64, F64]:
        """:meth:`predict`, then :meth:`combine` of its result, in one pass: the predicted
        mode states, c̄, and the combined x (K,6), P (K,6,6). ``rows`` (K,): predict only
        these rows of xm, Pm, mu (``dt`` is then per row taken), without copying them out."""
        out = self._compiled_predict(xm, Pm, mu, dt, True, rows)
        if out is not None:
            return out
        if rows is not None:
            xm, Pm, mu = xm[rows], Pm[rows], mu[rows]
        xp, Pp, cbar = self.predict_numpy(xm, Pm, mu, dt)
        x, P = self.combine(xp, Pp, cbar)
        return xp, Pp, cbar, x, P

    def _compiled_predict(self, xm: F64, Pm: F64, mu: F64, dt: F64, combined: bool,
                          rows: I64 | None = None) -> tuple[F64, F64, F64, F64, F64] | None:
        kern = kernels()
        if kern is None or self._kinds is None or self.m != kern.NM or xm.shape[1:] != (
                kern.NM, 6):
            return None
        kinds, q_h, q_v, speed_sigma = self._kinds
        f = np.ascontiguousarray
        stop = self.stop_mode if (self.stop_mode is not None
                                  and self.max_decel is not None) else -1
        out: tuple[F64, F64, F64, F64, F64] = kern.imm_predict(
            f(xm, dtype=np.float64), f(Pm, dtype=np.float64), f(mu, dtype=np.float64),
            f(dt, dtype=np.float64),
            np.arange(len(xm), dtype=np.int64) if rows is None else f(rows, dtype=np.int64),
            self.sojourn, kinds, q_h, q_v, speed_sigma, stop,
            float(self.max_decel or 0.0), float(self.stop_speed), combined)
        return out

    def predict_numpy(self, xm: F64, Pm: F64, mu: F64, dt: F64) -> tuple[F64, F64, F64]:
        """:meth:`predict` in numpy: the compiled kernel's oracle (and its fallback)."""
        Pi = self.switching(dt)
        self._limit_stops(Pi, xm, Pm, dt)
        cbar = np.einsum("ki,kij->kj", mu, Pi)
        ok = cbar > 0.0
        w = mu[:, :, None] * Pi / np.where(ok, cbar, 1.0)[:, None, :]  # w[k,i,j] = μ(i | j)
        if not ok.all():  # a mode nothing can reach keeps its own state
            kk, jj = np.nonzero(~ok)
            w[kk, :, jj] = 0.0
            w[kk, jj, jj] = 1.0
        x0 = np.einsum("kij,kin->kjn", w, xm)
        d = xm[:, :, None, :] - x0[:, None, :, :]  # (K,i,j,6)
        # Σ_i w_ij (P_i + d_ij d_ijᵀ), without building the (K,i,j,6,6) spread.
        P0 = np.matmul(np.swapaxes(w, 1, 2), Pm.reshape(len(xm), self.m, 36)).reshape(Pm.shape)
        wd = w[..., None] * d  # (K,i,j,6)
        P0 += np.einsum("kijn,kijm->kjnm", wd, d)
        xp = np.empty_like(xm)
        Pp = np.empty_like(Pm)
        for mode, model in enumerate(self.models):
            xp[:, mode], Pp[:, mode] = model.predict(x0[:, mode], P0[:, mode], dt)
        return xp, Pp, cbar

    @staticmethod
    def combine(xm: F64, Pm: F64, mu: F64) -> tuple[F64, F64]:
        """The moment-matched single state x (K,6), P (K,6,6) of mode states and probabilities."""
        kern = kernels()
        if kern is not None and xm.shape[1:] == (kern.NM, 6):
            f = np.ascontiguousarray
            x, P = kern.combine(f(xm, dtype=np.float64), f(Pm, dtype=np.float64),
                                f(mu, dtype=np.float64))
            return x, P
        return IMM.combine_numpy(xm, Pm, mu)

    @staticmethod
    def combine_numpy(xm: F64, Pm: F64, mu: F64) -> tuple[F64, F64]:
        """:meth:`combine` in numpy (the kernel's oracle)."""
        x = np.einsum("kj,kjn->kn", mu, xm)
        d = xm - x[:, None, :]
        P = np.einsum("kj,kjnm->knm", mu, Pm + d[..., :, None] * d[..., None, :])
        return x, 0.5 * (P + np.swapaxes(P, 1, 2))

    @staticmethod
    def posterior_mu(cbar: F64, loglik: F64) -> F64:
        """Mode probabilities (K,M) after an update with per-mode log-likelihoods (K,M)."""
        kern = kernels()
        if kern is not None:
            f = np.ascontiguousarray
            return np.asarray(kern.posterior_mu(f(cbar, dtype=np.float64),
                                                f(loglik, dtype=np.float64)))
        return IMM.posterior_mu_numpy(cbar, loglik)

    @staticmethod
    def posterior_mu_numpy(cbar: F64, loglik: F64) -> F64:
        """:meth:`posterior_mu` in numpy (the kernel's oracle)."""
        a = np.log(np.maximum(cbar, 1e-300)) + loglik
        a -= a.max(axis=1, keepdims=True)
        p = np.exp(a)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)


def _kernel_params(model: MotionModel) -> tuple[float, float, float, float] | None:
    """(kind, q_h, q_v, speed_sigma) of a model the compiled predict knows, else None."""
    if type(model) is NearlyConstantPosition:
        return (0.0, model.q_h, model.q_v, model.speed_sigma)  # kernels.HOVER_KIND
    if type(model) is ConstantVelocity:
        return (1.0, model.q_h, model.q_v, 0.0)  # kernels.CV_KIND
    return None


def mode_update(xp: F64, Pp: F64, meas: MeasurementBatch, dets: I64,
                rows: I64 | None = None) -> tuple[F64, F64, F64]:
    """Update every mode of K tracks (predicted xp (K,M,6), Pp (K,M,6,6)) with detections
    ``dets`` (K,) of ``meas``, one per track; returns the posterior mode states and each
    mode's log-likelihood of its detection (K,M) (position and, when measured, velocity).
    ``rows`` (K,): the tracks are these rows of xp, Pp (read in place, not copied out)."""
    kern = kernels()
    if kern is None or xp.shape[-1] != 6:
        if rows is not None:
            xp, Pp = xp[rows], Pp[rows]
        return mode_update_numpy(xp, Pp, meas, dets)
    k, n_modes = len(dets), xp.shape[1]
    src = np.arange(k, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    xp = np.ascontiguousarray(xp, dtype=np.float64)
    Pp = np.ascontiguousarray(Pp, dtype=np.float64)
    model_of = meas.model[dets]
    kind = np.zeros(k, dtype=np.int64)  # kernels.NO_MEAS
    dim = np.zeros(k, dtype=np.int64)
    Y = np.zeros((k, n_modes, 3))
    H = np.zeros((k, n_modes, 3, 6))
    alone = np.zeros(k, dtype=bool)
    for code, mm in enumerate(meas.models):
        if mm.dim == 0:
            continue
        sel = np.flatnonzero(model_of == code)
        if not len(sel):
            continue
        m = mm.dim
        dim[sel] = m
        alone[sel] = len(sel) == 1
        if mm.selects == POS:
            kind[sel] = kern.SELECT_POS
            continue
        if mm.selects is not None:  # a model picking other components: the numpy path
            return mode_update_numpy(xp[src], Pp[src], meas, dets)
        kind[sel] = kern.LINEARISED
        for j in range(n_modes):  # h(x) and its Jacobian stay the model's (numpy) code
            zhat, Hj = mm.predict(xp[src[sel], j])
            Y[sel, j, :m] = wrap_residual(meas.z[dets[sel], :m] - zhat, mm.angular)
            H[sel, j, :m] = Hj
    xu, Pu, loglik, ok = kern.mode_update(xp, Pp, src, kind, dim, meas.z[dets], Y, H,
                                          meas.R[dets],
                                          meas.has_vel[dets], meas.vel[dets],
                                          meas.vel_R[dets], alone)
    if not ok:
        raise np.linalg.LinAlgError("Singular matrix")
    return xu, Pu, loglik


def mode_update_numpy(xp: F64, Pp: F64, meas: MeasurementBatch,
                      dets: I64) -> tuple[F64, F64, F64]:
    """:func:`mode_update` in numpy (the kernel's oracle)."""
    k, n_modes = xp.shape[:2]
    xu = np.empty_like(xp)
    Pu = np.empty_like(Pp)
    loglik = np.zeros((k, n_modes))
    model_of = meas.model[dets]
    for j in range(n_modes):
        for code, mm in enumerate(meas.models):
            sel = np.flatnonzero(model_of == code)
            if not len(sel) or mm.dim == 0:
                continue
            m = mm.dim
            x, P = xp[sel, j], Pp[sel, j]
            zhat, H = mm.predict(x)
            y = wrap_residual(meas.z[dets[sel], :m] - zhat, mm.angular)
            R = meas.R[dets[sel], :m, :m]
            S = (P[:, mm.selects, mm.selects] + R if mm.selects is not None
                 else innovation_covariance(P, H, R))
            S = 0.5 * (S + np.swapaxes(S, 1, 2))
            S_inv = inverse(S)
            loglik[sel, j] = gaussian_loglik(y, S, S_inv)
            xu[sel, j], Pu[sel, j] = kalman_update(x, P, y, H, R, S_inv, selects=mm.selects)
        with_vel = np.flatnonzero(meas.has_vel[dets])
        if len(with_vel):  # a second, sequential update: the noises are independent
            x, P = xu[with_vel, j], Pu[with_vel, j]
            y = meas.vel[dets[with_vel]] - x[:, VEL]
            R = meas.vel_R[dets[with_vel]]
            S = P[:, VEL, VEL] + R
            S = 0.5 * (S + np.swapaxes(S, 1, 2))
            S_inv = inverse(S)
            loglik[with_vel, j] += gaussian_loglik(y, S, S_inv)
            xu[with_vel, j], Pu[with_vel, j] = kalman_update(x, P, y, None, R, S_inv,
                                                             selects=VEL)
    return xu, Pu, loglik


def gaussian_loglik(y: F64, S: F64, S_inv: F64) -> F64:
    """log N(y; 0, S) for residuals y (K,m) with covariances S (K,m,m) and their inverses."""
    _, logdet = np.linalg.slogdet(S)
    m = y.shape[1]
    return np.asarray(-0.5 * (mahalanobis2(y, S_inv) + logdet + m * np.log(2.0 * np.pi)),
                      dtype=np.float64)
