# numba compiles these from their Python source; mypy cannot type its intrinsics or njit
# dispatchers, so the module is checked by its bit-identity tests instead.
# mypy: ignore-errors
"""Compiled per-track kernels (numba) for the tracker's small-matrix work.

One compiled call per stage, a loop over tracks with the 6×6 and 3×3 products written out:
IMM mixing and per-mode prediction (and the moment-matched combination), the per-mode
Kalman/EKF update with its log-likelihood, the mode-probability update, and the small
inverses and log-determinants the gates use. The numpy code in :mod:`~cuas.tracking.imm`,
:mod:`~cuas.tracking.models` and :mod:`~cuas.tracking.updater` is their oracle.

Every kernel does the same floating-point operations in the same order as that numpy code,
so the tracker's output is bit for bit the same (the golden digests hold): sums run in the
order numpy's ``einsum`` runs them, a product that numpy hands to OpenBLAS (``@``) is a fused
multiply-add chain from zero as OpenBLAS's Haswell kernel does it, and the inverses and
log-determinants follow OpenBLAS's ``dgesv``/``dgetrf`` (left-looking LU with the reciprocal
pivot, as its ``getf2`` and ``trsm`` do). tests/tracking/test_kernels.py checks them against
the numpy code to the last bit (and to 1e-9 on inputs hypothesis picks).

numba is imported only here and in :mod:`~cuas.tracking.kernels_linalg` (the small linear
algebra), and these modules only when a kernel is first needed
(:func:`cuas.tracking.updater.kernels`, which also says where compiled kernels are cached), so
``import cuas.tracking`` stays light.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cuas.tracking.kernels_grid import close_pairs, gate_pairs
from cuas.tracking.kernels_linalg import (
    LN_2PI,
    _fma,
    _inv_into,
    _logdet,
    _mahalanobis,
    innovation_covariance,
    inverse,
    logdet,
    mahalanobis2,
)

__all__ = ["close_pairs", "gate_pairs", "innovation_covariance", "inverse", "logdet",
           "mahalanobis2"]

# Motion model kinds (IMM modes): what _predict_mode does for each.
HOVER_KIND = 0  # tracking.imm.NearlyConstantPosition
CV_KIND = 1  # tracking.models.ConstantVelocity
#: Motion modes the IMM kernels are compiled for (the tracker's hover, constant velocity and
#: manoeuvre): a constant lets the compiler unroll every loop over modes (a third faster);
#: an IMM of another size takes the numpy path (tracking.imm).
NM = 3
# Measurement kinds per pair in mode_update.
NO_MEAS = 0  # no position: the modes pass through unchanged
SELECT_POS = 1  # H picks the position (Cartesian)
LINEARISED = 2  # EKF: residual and Jacobian given


# --------------------------------------------------------------------------- IMM predict


@njit(cache=True, error_model="numpy")
def _predict_mode(kind, q_h, q_v, speed_sigma, dt, x0, P0, j, xo, Po, t):
    """One mode's motion model: mode j of (x0, P0) forward by dt into track t's mode j of
    (xo, Po), in models.py's order (indices, not views: no reference counting per track)."""
    q0 = q_h
    q2 = q_v
    if kind == HOVER_KIND:
        for i in range(3):
            xo[t, j, i] = x0[j, i]
            xo[t, j, i + 3] = 0.0
        for r in range(6):
            for c in range(6):
                Po[t, j, r, c] = P0[j, r, c] if (r < 3 and c < 3) else 0.0
        Po[t, j, 0, 0] = Po[t, j, 0, 0] + dt * q0
        Po[t, j, 1, 1] = Po[t, j, 1, 1] + dt * q0
        Po[t, j, 2, 2] = Po[t, j, 2, 2] + dt * q2
        v = speed_sigma * speed_sigma
        Po[t, j, 3, 3] = v
        Po[t, j, 4, 4] = v
        Po[t, j, 5, 5] = v
        return
    for i in range(3):
        xo[t, j, i] = x0[j, i] + dt * x0[j, i + 3]
        xo[t, j, i + 3] = x0[j, i + 3]
    dd = dt * dt
    for r in range(3):
        for c in range(3):
            Po[t, j, r, c] = ((P0[j, r, c] + dt * (P0[j, r, c + 3] + P0[j, c, r + 3]))
                              + dd * P0[j, r + 3, c + 3])
            bdc = P0[j, r, c + 3] + dt * P0[j, r + 3, c + 3]
            Po[t, j, r, c + 3] = bdc
            Po[t, j, c + 3, r] = bdc
            Po[t, j, r + 3, c + 3] = P0[j, r + 3, c + 3]
    d3 = np.power(dt, 3.0) / 3.0
    d2 = dd / 2.0
    for i in range(3):
        q = q2 if i == 2 else q0
        Po[t, j, i, i] = Po[t, j, i, i] + d3 * q
        cross = d2 * q
        Po[t, j, i, i + 3] = Po[t, j, i, i + 3] + cross
        Po[t, j, i + 3, i] = Po[t, j, i + 3, i] + cross
        Po[t, j, i + 3, i + 3] = Po[t, j, i + 3, i + 3] + dt * q


@njit(cache=True, error_model="numpy")
def _combine_into(xm, Pm, mu, x, P, t):
    """Track t's moment-matched x[t] (6,), P[t] (6,6) of its mode states xm[t] (M,6),
    Pm[t] (M,6,6) with weights mu[t] (M,); M = NM."""
    nm = NM
    for n in range(6):
        acc = 0.0
        for j in range(nm):
            acc = acc + mu[t, j] * xm[t, j, n]
        x[t, n] = acc
    for r in range(6):
        for c in range(6):
            acc = 0.0
            for j in range(nm):
                acc = acc + mu[t, j] * (Pm[t, j, r, c]
                                        + (xm[t, j, r] - x[t, r]) * (xm[t, j, c] - x[t, c]))
            P[t, r, c] = acc
    for r in range(6):
        for c in range(r, 6):
            s = 0.5 * (P[t, r, c] + P[t, c, r])
            P[t, r, c] = s
            P[t, c, r] = s


@njit(cache=True, error_model="numpy")
def combine(xm, Pm, mu):
    """IMM.combine: x (K,6), P (K,6,6) of xm (K,M,6), Pm (K,M,6,6), mu (K,M); M = NM."""
    k = xm.shape[0]
    x = np.empty((k, 6))
    P = np.empty((k, 6, 6))
    for i in range(k):
        _combine_into(xm, Pm, mu, x, P, i)
    return x, P


@njit(cache=True, error_model="numpy")
def _unmixed(w, xm, Pm, t, nm):
    """Whether the mixing weights w (nm,nm) of track t are exactly the identity and its mode
    states small enough (|v| < 1e300: no difference of two overflows, no 0·∞) that mixing
    gives every mode its own state back, bit for bit."""
    for i in range(nm):
        for j in range(nm):
            if w[i, j] != (1.0 if i == j else 0.0):
                return False
    for i in range(nm):
        for n in range(6):
            if not abs(xm[t, i, n]) < 1e300:
                return False
        for r in range(6):
            for c in range(6):
                if not abs(Pm[t, i, r, c]) < 1e300:
                    return False
    return True


@njit(cache=True, error_model="numpy")
def imm_predict(xm, Pm, mu, dt, rows, sojourn, kinds, q_h, q_v, speed_sigma, stop_mode,
                max_decel, stop_speed, with_combined):
    """IMM.predict (mix, then each mode's model) for K tracks, track t being row rows[t] of
    xm, Pm, mu (a subset without a copy of the table) and stepping dt[t]; with
    ``with_combined`` also IMM.combine of the result (else x, P are empty). Returns xp, Pp,
    cbar, x, P. M = NM."""
    k, nm = rows.shape[0], NM
    xp = np.empty((k, nm, 6))
    Pp = np.empty((k, nm, 6, 6))
    cbar = np.empty((k, nm))
    kc = k if with_combined else 0
    x = np.empty((kc, 6))
    P = np.empty((kc, 6, 6))
    Pi = np.empty((nm, nm))
    w = np.empty((nm, nm))
    f = np.empty(nm)
    x0 = np.empty((nm, 6))
    P0 = np.empty((nm, 6, 6))
    dm = np.empty((nm, 6))
    wdm = np.empty((nm, 6))
    for t in range(k):
        src = rows[t]
        d = dt[t]
        dpos = d if not d < 0.0 else 0.0  # np.maximum(dt, 0): NaN passes through
        for i in range(nm):
            stay = np.exp(-dpos / sojourn[i])
            off = (1.0 - stay) / (nm - 1)
            for j in range(nm):
                Pi[i, j] = stay if i == j else off
        if stop_mode >= 0:
            s = stop_mode
            for i in range(nm):
                v3 = xm[src, i, 3]
                v4 = xm[src, i, 4]
                speed = np.sqrt(v3 * v3 + v4 * v4)
                var = Pm[src, i, 3, 3] + Pm[src, i, 4, 4]
                sigma = np.sqrt(var if not var < 1e-12 else 1e-12)
                reach = stop_speed + max_decel * dpos
                ex = speed - reach
                ex = (ex if not ex < 0.0 else 0.0) / sigma
                f[i] = np.exp(-0.5 * ex * ex)
            f[s] = 1.0
            for i in range(nm):
                cut = Pi[i, s] * (1.0 - f[i])
                Pi[i, s] = Pi[i, s] - cut
                Pi[i, i] = Pi[i, i] + cut
        for j in range(nm):
            acc = 0.0
            for i in range(nm):
                acc = acc + mu[src, i] * Pi[i, j]
            cbar[t, j] = acc
        for j in range(nm):
            ok = cbar[t, j] > 0.0
            den = cbar[t, j] if ok else 1.0
            for i in range(nm):
                w[i, j] = (mu[src, i] * Pi[i, j]) / den if ok else (1.0 if i == j else 0.0)
        if _unmixed(w, xm, Pm, src, nm):
            # No switching over the step (dt = 0: a track updated at this very time, as the
            # duplicate check and a snapshot at the batch time ask): the mixed state of each
            # mode is its own, exactly what the sums below give (x + 0.0: their zero is +0).
            for j in range(nm):
                for n in range(6):
                    x0[j, n] = xm[src, j, n] + 0.0
                for r in range(6):
                    for c in range(6):
                        P0[j, r, c] = Pm[src, j, r, c] + 0.0
                _predict_mode(kinds[j], q_h[j], q_v[j], speed_sigma[j], d, x0, P0, j, xp, Pp, t)
            if with_combined:
                _combine_into(xp, Pp, cbar, x, P, t)
            continue
        for j in range(nm):
            for n in range(6):
                acc = 0.0
                for i in range(nm):
                    acc = acc + w[i, j] * xm[src, i, n]
                x0[j, n] = acc
            for i in range(nm):  # the spread of the modes about the mixed state
                for n in range(6):
                    dm[i, n] = xm[src, i, n] - x0[j, n]
                    wdm[i, n] = w[i, j] * dm[i, n]
            for r in range(6):
                for c in range(6):
                    acc = 0.0
                    for i in range(nm):
                        acc = _fma(w[i, j], Pm[src, i, r, c], acc)
                    spread = 0.0
                    for i in range(nm):
                        spread = spread + wdm[i, r] * dm[i, c]
                    P0[j, r, c] = acc + spread
            _predict_mode(kinds[j], q_h[j], q_v[j], speed_sigma[j], d, x0, P0, j, xp, Pp, t)
        if with_combined:
            _combine_into(xp, Pp, cbar, x, P, t)
    return xp, Pp, cbar, x, P


@njit(cache=True, error_model="numpy")
def posterior_mu(cbar, loglik):
    """IMM.posterior_mu: mode probabilities (K,M) from predicted ones and log-likelihoods."""
    k, nm = cbar.shape
    out = np.empty((k, nm))
    a = np.empty(nm)
    for i in range(k):
        for j in range(nm):
            c = cbar[i, j]
            a[j] = np.log(c if not c < 1e-300 else 1e-300) + loglik[i, j]
        top = a[0]
        for j in range(1, nm):  # np.max: NaN wins
            if a[j] > top or a[j] != a[j] or top != top:
                top = a[j] if top == top else top
        for j in range(nm):
            a[j] = np.exp(a[j] - top)
        tot = a[0]
        for j in range(1, nm):
            tot = tot + a[j]
        for j in range(nm):
            out[i, j] = a[j] / tot
    return out


# --------------------------------------------------------------------------- update


@njit(cache=True, error_model="numpy")
def _update(x, P, y, m, H, sel0, R, xo, Po, w, rows):
    """One Kalman/EKF update of (x, P) with residual y (m,) and noise R (m,m) into (xo, Po);
    returns (log N(y; 0, S), regular). ``sel0`` ≥ 0: H picks the state components sel0 ..
    sel0+m−1 (updater.py's ``selects``), else H (m,6) is the Jacobian; ``rows``: see
    _mahalanobis. The operations and
    their order are updater.kalman_update's and imm.gaussian_loglik's."""
    S, Si, a, piv, PHt, K, IKH, T1, KR = w
    if sel0 >= 0:
        for r in range(m):
            for c in range(m):
                S[r, c] = P[sel0 + r, sel0 + c] + R[r, c]
            for c in range(m):
                PHt[r, c] = 0.0
        for r in range(6):
            for c in range(m):
                PHt[r, c] = P[r, sel0 + c]
    else:
        for r in range(m):  # H P into T1's first rows, then (H P) Hᵀ + R
            for c in range(6):
                acc = 0.0
                for i in range(6):
                    acc = _fma(H[r, i], P[i, c], acc)
                T1[r, c] = acc
        for r in range(m):
            for c in range(m):
                acc = 0.0
                for i in range(6):
                    acc = _fma(T1[r, i], H[c, i], acc)
                S[r, c] = acc + R[r, c]
        for r in range(6):
            for c in range(m):
                acc = 0.0
                for i in range(6):
                    acc = _fma(P[r, i], H[c, i], acc)
                PHt[r, c] = acc
    for r in range(m):
        for c in range(r + 1, m):
            s = 0.5 * (S[r, c] + S[c, r])
            S[r, c] = s
            S[c, r] = s
    if not _inv_into(S, m, Si, a, piv):
        return np.nan, False
    ll = -0.5 * ((_mahalanobis(y, Si, m, rows) + _logdet(a, m, True)) + m * LN_2PI)
    for r in range(6):  # K = P Hᵀ S⁻¹
        for c in range(m):
            acc = 0.0
            for i in range(m):
                acc = _fma(PHt[r, i], Si[i, c], acc)
            K[r, c] = acc
    for r in range(6):  # x + K y in einsum("knm,km->kn")'s order: lanes (0, 2), then 1
        if m == 3:
            xo[r] = x[r] + ((K[r, 0] * y[0] + K[r, 2] * y[2]) + K[r, 1] * y[1])
        elif m == 2:
            xo[r] = x[r] + (K[r, 0] * y[0] + K[r, 1] * y[1])
        else:
            xo[r] = x[r] + K[r, 0] * y[0]
    if sel0 >= 0 and m == 3 and _joseph_select(P, K, R, sel0, IKH, T1, KR, Po):
        return ll, True
    for r in range(6):  # I − K H
        for c in range(6):
            IKH[r, c] = 1.0 if r == c else 0.0
        if sel0 >= 0:
            for c in range(m):
                IKH[r, sel0 + c] = IKH[r, sel0 + c] - K[r, c]
        else:
            for c in range(6):
                acc = 0.0
                for i in range(m):
                    acc = _fma(K[r, i], H[i, c], acc)
                IKH[r, c] = IKH[r, c] - acc
    for r in range(6):  # Joseph form: ((I − KH) P)(I − KH)ᵀ + (K R) Kᵀ
        for c in range(6):
            acc = 0.0
            for i in range(6):
                acc = _fma(IKH[r, i], P[i, c], acc)
            T1[r, c] = acc
        for c in range(m):
            acc = 0.0
            for i in range(m):
                acc = _fma(K[r, i], R[i, c], acc)
            KR[r, c] = acc
    for r in range(6):
        for c in range(6):
            acc = 0.0
            for i in range(6):
                acc = _fma(T1[r, i], IKH[c, i], acc)
            acc2 = 0.0
            for i in range(m):
                acc2 = _fma(KR[r, i], K[c, i], acc2)
            Po[r, c] = acc + acc2
    for r in range(6):
        for c in range(r + 1, 6):
            s = 0.5 * (Po[r, c] + Po[c, r])
            Po[r, c] = s
            Po[c, r] = s
    return ll, True


@njit(cache=True, error_model="numpy")
def _finite36(A):
    """Whether every entry of the 6×6 A is finite."""
    for r in range(6):
        for c in range(6):
            v = A[r, c]
            if v - v != 0.0:  # inf − inf and NaN − NaN are NaN
                return False
    return True


@njit(cache=True, error_model="numpy")
def _joseph_select(P, K, R, s, IKH, T1, KR, Po):
    """The Joseph update of _update when H picks the three state components s, s+1, s+2:
    the same fused multiply-adds in the same order, without the ones whose factor of I − KH
    is a structural 0 (a term 0·p added to a sum leaves it as it is while p is finite) and
    with the structural 1 as the plain addition fma(1, p, acc) is. Returns False, writing
    nothing final, when P or (I − KH) P is not finite (0·∞ is NaN: the full path then runs)."""
    if not _finite36(P):
        return False
    for r in range(6):  # the three columns of I − K H that K touches (IKH[:, :3])
        for i in range(3):
            IKH[r, i] = (1.0 if r == s + i else 0.0) - K[r, i]
    for r in range(6):
        for c in range(6):
            acc = 0.0
            if r < s:
                acc = acc + P[r, c]
            for i in range(3):
                acc = _fma(IKH[r, i], P[s + i, c], acc)
            if r >= s + 3:
                acc = acc + P[r, c]
            T1[r, c] = acc
        for c in range(3):
            acc = 0.0
            for i in range(3):
                acc = _fma(K[r, i], R[i, c], acc)
            KR[r, c] = acc
    if not _finite36(T1):
        return False
    for r in range(6):
        for c in range(6):
            acc = 0.0
            if c < s:
                acc = acc + T1[r, c]
            for i in range(3):
                acc = _fma(T1[r, s + i], IKH[c, i], acc)
            if c >= s + 3:
                acc = acc + T1[r, c]
            acc2 = 0.0
            for i in range(3):
                acc2 = _fma(KR[r, i], K[c, i], acc2)
            Po[r, c] = acc + acc2
    for r in range(6):
        for c in range(r + 1, 6):
            v = 0.5 * (Po[r, c] + Po[c, r])
            Po[r, c] = v
            Po[c, r] = v
    return True


@njit(cache=True, error_model="numpy")
def mode_update(xp, Pp, src, kind, dim, z, Y, H, R, has_vel, vel, vel_R, alone):
    """imm.mode_update for K track–detection pairs: every mode of rows src (K,) of xp (N,M,6),
    Pp (N,M,6,6) updated with its pair's measurement (``kind``: NO_MEAS, SELECT_POS with z (K,3), or
    LINEARISED with residuals Y (K,M,3) and Jacobians H (K,M,3,6); ``dim`` (K,) components,
    noise R (K,3,3)), then with its velocity where ``has_vel``; ``alone`` (K,): the pair is
    the only one of its measurement model in the batch (numpy sums its 2-D Mahalanobis
    distance by rows then). Returns xu, Pu, the per-mode
    log-likelihoods (K,M) and whether every innovation covariance was regular."""
    k, nm = src.shape[0], xp.shape[1]
    xu = np.empty((k, nm, 6))
    Pu = np.empty((k, nm, 6, 6))
    loglik = np.zeros((k, nm))
    w = (np.empty((3, 3)), np.empty((3, 3)), np.empty((3, 3)), np.empty(3, np.int64),
         np.empty((6, 3)), np.empty((6, 3)), np.empty((6, 6)), np.empty((6, 6)),
         np.empty((6, 3)))
    y = np.empty(3)
    xt = np.empty(6)
    Pt = np.empty((6, 6))
    ok = True
    for t in range(k):
        for j in range(nm):
            if kind[t] == NO_MEAS:
                xu[t, j] = xp[src[t], j]
                Pu[t, j] = Pp[src[t], j]
            # One call site for both updates (position, then velocity): the kernel is
            # compiled (and inlined) once, which keeps numba's first compile short.
            for stage in range(2):
                if stage == 0:
                    if kind[t] == NO_MEAS:
                        continue
                    xt[:] = xp[src[t], j]
                    Pt[:, :] = Pp[src[t], j]
                    m = dim[t]
                    if kind[t] == SELECT_POS:
                        sel0 = 0
                        for i in range(3):
                            y[i] = z[t, i] - xt[i]
                    else:
                        sel0 = -1
                        y[:] = Y[t, j]
                    Rm = R[t]
                    rows = kind[t] == LINEARISED and alone[t] and m == 2
                else:
                    if not has_vel[t]:
                        continue
                    xt[:] = xu[t, j]
                    Pt[:, :] = Pu[t, j]
                    m = 3
                    sel0 = 3
                    for i in range(3):
                        y[i] = vel[t, i] - xt[3 + i]
                    Rm = vel_R[t]
                    rows = False
                ll, good = _update(xt, Pt, y, m, H[t, j], sel0, Rm, xu[t, j], Pu[t, j], w, rows)
                ok &= good
                loglik[t, j] += ll
    return xu, Pu, loglik, ok


@njit(cache=True, error_model="numpy")
def compact_rows(a, src, first):
    """Table compaction in place (tracking.state.TrackTable.keep): row ``first + q`` of the
    byte rows a (R,B) takes row src[q], src ascending with src[q] >= first + q (so no row is
    read after it was overwritten, and no temporary copy of the table is made)."""
    for q in range(src.shape[0]):
        i = src[q]
        j = first + q
        if i != j:
            for b in range(a.shape[1]):
                a[j, b] = a[i, b]


_warmed = False


def warm() -> None:
    """Compile every kernel, or load it from the on-disk cache, for the argument types the
    tracker passes, once per process: a tracker built before the daemon's watchdog starts
    then never stalls its first batch compiling (tens of seconds the very first time)."""
    global _warmed
    if _warmed:
        return
    one3 = np.eye(3)[None].copy()
    xm = np.zeros((1, 3, 6))
    Pm = np.tile(np.eye(6), (1, 3, 1, 1))
    mu = np.full((1, 3), 1.0 / 3.0)
    f3 = np.ones(3)
    inverse(one3)
    logdet(one3)
    innovation_covariance(np.eye(6)[None].copy(), np.zeros((1, 3, 6)), one3)
    mahalanobis2(np.ones((1, 3)), one3)
    one = np.zeros(1, np.int64)
    xp, Pp, cbar, _, _ = imm_predict(xm, Pm, mu, np.ones(1), one, f3, np.array([0, 1, 1]), f3,
                                     f3, f3, 0, 1.0, 1.0, True)
    combine(xp, Pp, cbar)
    posterior_mu(cbar, np.zeros((1, 3)))
    mode_update(xp, Pp, one, np.ones(1, np.int64), np.full(1, 3), np.zeros((1, 3)),
                np.zeros((1, 3, 3)), np.zeros((1, 3, 3, 6)), one3, np.ones(1, np.bool_),
                np.zeros((1, 3)), one3, np.zeros(1, np.bool_))
    pts = np.zeros((2, 3))
    gate_pairs(pts, np.ones(2), pts, np.ones(2), 1.0, 1.0)
    close_pairs(pts, 1.0)
    compact_rows(np.zeros((2, 8), np.uint8), np.ones(1, np.int64), 0)
    _warmed = True
