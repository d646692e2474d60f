"""Joint probabilistic data association (JPDA): marginal association probabilities per
conflict cluster, and the PDA-style update they weight, batched over all tracks.

A joint event assigns each track of a cluster at most one of its gated detections and each
detection at most one track. Its probability is proportional to the product, over assigned
pairs, of ``Pd N(y; 0, S) / λ`` (the pair's likelihood ratio against clutter) and, over tracks
left without a detection, of ``1 − Pd``. The marginals ``beta[track, detection]`` and
``beta[track, none]`` sum these over all events.

* Small clusters (at most :data:`MAX_EXACT_BITS` tracks or detections on one side, at most
  :data:`MAX_EXACT_SIDE` on the other) are exact: a forward–backward sum over one side's
  members with the other side's "already used" set as a bit mask, which enumerates every
  joint event implicitly. Clusters of the same shape are solved together as one array.
* Larger clusters use loopy belief propagation on the bipartite association graph (Williams &
  Lau, "Approximate evaluation of marginal association probabilities with belief propagation",
  IEEE TAES 2014), as segment sums over the pair arrays of all such clusters at once.

Weights are handled relative to each track's miss weight (dividing every option of a track by
one constant leaves the marginals unchanged), so a pair's weight is
``ψ = exp(ln Pd + ln N − ln λ − ln(1 − Pd))`` and missing (or leaving a detection to clutter)
weighs 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from cuas.tracking.associator import clusters, gnn_assign
from cuas.tracking.hypothesiser import Hypotheses
from cuas.tracking.imm import IMM, mode_update
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.state import TrackTable

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Exact enumeration when one side of a cluster has at most this many members (the bit mask
#: of "used" members has 2**MAX_EXACT_BITS states) ...
MAX_EXACT_BITS: Final = 8
#: ... and the other side at most this many.
MAX_EXACT_SIDE: Final = 16
#: Loopy belief propagation: stop when no message changes by more than this (relative), or
#: after this many sweeps.
LBP_TOL: Final = 1e-9
LBP_MAX_ITER: Final = 500
#: Log pair weights are clipped to this magnitude so that no product overflows.
LOG_CLIP: Final = 300.0


@dataclass(frozen=True, slots=True)
class Marginals:
    """Association probabilities of one scan: ``pair`` (K,) for each gated pair (aligned with
    the pair arrays given), ``none`` (n_tracks,) that a track got no detection, ``clutter``
    (n_dets,) that a detection came from no track (clutter or a new target)."""

    pair: F64
    none: F64
    clutter: F64


def marginals(track: I64, det: I64, log_lik: F64, pd: F64, log_clutter: F64 | float,
              n_tracks: int, n_dets: int, *, exact_bits: int = MAX_EXACT_BITS,
              exact_side: int = MAX_EXACT_SIDE) -> Marginals:
    """Marginal association probabilities of gated pairs ``track``/``det`` (K,), each with its
    measurement log-likelihood ``log_lik`` (K,) = ln N(y; 0, S); ``pd`` (n_tracks,) each
    track's detection probability (times the gate probability); ``log_clutter`` the log
    clutter density λ (scalar or (K,) per pair, in the measurement space of ``log_lik``).

    Each track's probabilities (its pairs and ``none``) sum to 1, as do each detection's."""
    track = np.asarray(track, dtype=np.int64)
    det = np.asarray(det, dtype=np.int64)
    pd = np.asarray(pd, dtype=np.float64)
    lam = np.broadcast_to(np.asarray(log_clutter, dtype=np.float64), track.shape)
    log_w = np.log(pd[track]) + log_lik - lam - np.log1p(-pd[track])
    return marginals_from_log_weights(track, det, log_w, n_tracks, n_dets,
                                      exact_bits=exact_bits, exact_side=exact_side)


def marginals_from_log_weights(track: I64, det: I64, log_w: F64, n_tracks: int, n_dets: int,
                               *, exact_bits: int = MAX_EXACT_BITS,
                               exact_side: int = MAX_EXACT_SIDE) -> Marginals:
    """As :func:`marginals`, given each pair's log weight relative to its track's miss and
    its detection's clutter option (ln ψ, ψ = Pd N / (λ (1 − Pd)))."""
    k = len(track)
    beta = np.zeros(k)
    none = np.ones(n_tracks)
    clutter = np.ones(n_dets)
    if k == 0:
        return Marginals(beta, none, clutter)
    log_w = np.clip(np.where(np.isnan(log_w), -LOG_CLIP, log_w), -LOG_CLIP, LOG_CLIP)
    label, t_local, d_local, nt, nd = clusters(track, det, n_tracks, n_dets)
    # Orient each cluster so that the bit mask runs over its smaller side.
    flip = nd > nt
    small = np.minimum(nt, nd)
    big = np.maximum(nt, nd)
    exact = (small <= exact_bits) & (big <= exact_side)
    pair_exact = exact[label]
    if pair_exact.any():
        sel = np.flatnonzero(pair_exact)
        f = flip[label[sel]]
        rows = np.where(f, d_local[sel], t_local[sel])  # the side summed over, one by one
        cols = np.where(f, t_local[sel], d_local[sel])  # the side in the bit mask
        beta[sel] = _exact(label[sel], rows, cols, log_w[sel], big, small)
    if not pair_exact.all():
        sel = np.flatnonzero(~pair_exact)
        beta[sel] = _lbp(track[sel], det[sel], log_w[sel], n_tracks, n_dets)
    beta = np.clip(beta, 0.0, 1.0)
    none = np.clip(1.0 - np.bincount(track, weights=beta, minlength=n_tracks), 0.0, 1.0)
    clutter = np.clip(1.0 - np.bincount(det, weights=beta, minlength=n_dets), 0.0, 1.0)
    return Marginals(beta, none, clutter)


def _exact(label: I64, rows: I64, cols: I64, log_w: F64, n_rows: I64, n_cols: I64) -> F64:
    """Exact marginals of pairs (local ``rows``/``cols`` in cluster ``label``) by a
    forward–backward sum over rows with the used columns as a bit mask; clusters of one shape
    are one array operation. ``n_rows``/``n_cols`` are per cluster (indexed by label)."""
    out = np.zeros(len(label))
    uniq, inv = np.unique(label, return_inverse=True)
    shape_r = n_rows[uniq]
    shape_c = n_cols[uniq]
    shape_key = shape_r * 1024 + shape_c
    for key in np.unique(shape_key).tolist():
        cl = np.flatnonzero(shape_key == key)  # positions in uniq
        r, c = key // 1024, key % 1024
        slot = np.full(len(uniq), -1, dtype=np.int64)
        slot[cl] = np.arange(len(cl))
        pairs = np.flatnonzero(slot[inv] >= 0)
        s = slot[inv[pairs]]
        # Relative weights, each row scaled by its largest option (1 = the row's miss).
        W = np.zeros((len(cl), r, c))
        W[s, rows[pairs], cols[pairs]] = log_w[pairs]
        present = np.zeros((len(cl), r, c), dtype=bool)
        present[s, rows[pairs], cols[pairs]] = True
        top = np.maximum(np.where(present, W, -np.inf).max(axis=2), 0.0)  # (C, r)
        W = np.where(present, np.exp(W - top[:, :, None]), 0.0)
        miss = np.exp(-top)  # (C, r)
        P = _forward_backward(W, miss)
        out[pairs] = P[s, rows[pairs], cols[pairs]]
    return out


def _forward_backward(W: F64, miss: F64) -> F64:
    """Marginals P (C,r,c) that row i takes column j, for C clusters with pair weights W
    (C,r,c) (0 = not gated) and row miss weights ``miss`` (C,r); an unused column weighs 1."""
    n_c, r, c = W.shape
    n_mask = 1 << c
    masks = np.arange(n_mask)
    bit = [(masks >> j) & 1 == 1 for j in range(c)]
    # F[i][:, m]: weight of rows < i having used exactly the columns m.
    F = np.zeros((r + 1, n_c, n_mask))
    F[0, :, 0] = 1.0
    for i in range(r):
        F[i + 1] = F[i] * miss[:, i, None]
        for j in range(c):
            has = bit[j]
            F[i + 1][:, has] += F[i][:, masks[has] ^ (1 << j)] * W[:, i, j, None]
        # Keep the numbers in range: rescale each step (marginals are ratios).
        scale = F[i + 1].max(axis=1, keepdims=True)
        F[i + 1] /= np.where(scale > 0, scale, 1.0)
    # B[i][:, m]: weight of rows >= i given the columns m are already used.
    B = np.zeros((r + 1, n_c, n_mask))
    B[r] = 1.0
    for i in range(r - 1, -1, -1):
        B[i] = B[i + 1] * miss[:, i, None]
        for j in range(c):
            free = ~bit[j]
            B[i][:, free] += W[:, i, j, None] * B[i + 1][:, masks[free] | (1 << j)]
        scale = B[i].max(axis=1, keepdims=True)
        B[i] /= np.where(scale > 0, scale, 1.0)
    P = np.zeros((n_c, r, c))
    for i in range(r):
        stay = (F[i] * B[i + 1] * miss[:, i, None]).sum(axis=1)
        take = np.zeros((n_c, c))
        for j in range(c):
            free = ~bit[j]
            take[:, j] = (F[i][:, free] * B[i + 1][:, masks[free] | (1 << j)]).sum(axis=1)
        take *= W[:, i, :]
        total = stay + take.sum(axis=1)
        P[:, i, :] = take / np.where(total > 0, total, 1.0)[:, None]
    return P


def _lbp(track: I64, det: I64, log_w: F64, n_tracks: int, n_dets: int) -> F64:
    """Approximate marginals of pairs by loopy belief propagation (Williams & Lau 2014), all
    clusters at once: messages live on the pairs; sums over a node's pairs are bincounts."""
    # Scale each track's options by its largest (so weights are <= 1 and the miss may be < 1).
    top = np.zeros(n_tracks)
    np.maximum.at(top, track, log_w)
    miss = np.exp(-top)  # per track
    psi = np.exp(log_w - top[track])
    nu = np.ones(len(track))  # detection -> track messages
    for _ in range(LBP_MAX_ITER):
        s_t = np.bincount(track, weights=psi * nu, minlength=n_tracks)
        # track -> detection: ψ / (miss + Σ over the track's other pairs ψ ν)
        mu_new = psi / np.maximum(miss[track] + s_t[track] - psi * nu, 1e-300)
        s_d = np.bincount(det, weights=mu_new, minlength=n_dets)
        nu_new = 1.0 / (1.0 + s_d[det] - mu_new)
        change = float(np.max(np.abs(nu_new - nu) / np.maximum(nu, 1e-300)))
        nu = nu_new
        if change < LBP_TOL:
            break
    s_t = np.bincount(track, weights=psi * nu, minlength=n_tracks)
    return np.asarray(psi * nu / (miss[track] + s_t[track]), dtype=np.float64)


def pda_combine(x0: F64, P0: F64, beta0: F64, xu: F64, Pu: F64, beta: F64, row: I64,
                n_rows: int) -> tuple[F64, F64]:
    """The PDA posterior of ``n_rows`` tracks as one moment-matched Gaussian: each track's
    prediction x0 (N,n), P0 (N,n,n) weighed by ``beta0`` (N,) (no detection), and its pairs'
    Kalman posteriors xu (K,n), Pu (K,n,n) (pair k of track ``row[k]``) by ``beta`` (K,).

    For a linear measurement with one innovation covariance this is the classical combined
    innovation x0 + K Σβ_j y_j with covariance β0 P0 + (1 − β0) P_c + K (Σβ_j y_j y_jᵀ − ν νᵀ) Kᵀ
    (the spread-of-innovations term); written as a mixture it also holds for detections of
    different measurement models, and for posteriors that used a measured velocity too."""
    x = beta0[:, None] * x0 + _sum_per_row(beta[:, None] * xu, row, n_rows)
    d0 = x0 - x
    du = xu - x[row]
    P = beta0[:, None, None] * (P0 + d0[:, :, None] * d0[:, None, :]) + _sum_per_row(
        beta[:, None, None] * (Pu + du[:, :, None] * du[:, None, :]), row, n_rows)
    return x, 0.5 * (P + np.swapaxes(P, 1, 2))


def _sum_per_row(values: F64, row: I64, n_rows: int) -> F64:
    """Sums of ``values`` (K, ...) grouped by ``row`` (K,) into (n_rows, ...) (a sort and one
    ``add.reduceat``: much faster than ``add.at`` on stacked matrices)."""
    out = np.zeros((n_rows, *values.shape[1:]))
    if not len(row):
        return out
    order = np.argsort(row, kind="stable")
    sorted_row = row[order]
    starts = np.flatnonzero(np.r_[True, sorted_row[1:] != sorted_row[:-1]])
    out[sorted_row[starts]] = np.add.reduceat(values[order], starts, axis=0)
    return out


#: A detection starts no new track when it is in the most probable joint event or the tracks
#: claim it with at least this total probability.
CLAIM_PROBABILITY: Final = 0.5


@dataclass(frozen=True, slots=True)
class SoftUpdate:
    """The JPDA posterior of the tracks that had any gated detection: ``rows`` (R,) their
    table rows; mode states ``xm`` (R,M,6), ``Pm`` (R,M,6,6), probabilities ``mu`` (R,M);
    the combined ``x`` (R,6), ``P`` (R,6,6); ``hit`` (R,) whether each row has a detection in
    the most probable joint event (its hit/miss bookkeeping, as under GNN); ``best`` (R,) the
    index (into the pair arrays) of that pair (-1 without);
    ``log_lr`` (R,) each row's log-likelihood ratio of the look, ln((1 − Pd) + Σ Pd N / λ)."""

    rows: I64
    xm: F64
    Pm: F64
    mu: F64
    x: F64
    P: F64
    hit: NDArray[np.bool_]
    best: I64
    log_lr: F64


def soft_update(imm: IMM, xm_pred: F64, Pm_pred: F64, cbar: F64, meas: MeasurementBatch,
                track: I64, det: I64, beta: F64, none: F64, log_ratio: F64,
                log_miss: float, chosen: I64) -> SoftUpdate:
    """IMM-JPDA update of every track with a gated pair: each motion mode of track ``track[k]``
    (rows of the predicted ``xm_pred`` (N,M,6), ``Pm_pred``, ``cbar`` (N,M)) updated with each
    of its detections ``det[k]`` and mixed by the pairs' marginals ``beta`` (K,) and the
    tracks' ``none`` (N,) (:func:`pda_combine`); the mode probabilities from each mode's PDA
    likelihood. ``log_ratio`` (K,) is ln(Pd / λ) per pair (λ: clutter density in the pair's
    measurement space), ``log_miss`` ln(1 − Pd); ``chosen`` the pairs (indices) of the most
    probable joint event (:func:`jpda_stages`): their tracks count as detected."""
    rows, local = np.unique(track, return_inverse=True)
    n_rows = len(rows)
    xu, Pu, loglik = mode_update(xm_pred[track], Pm_pred[track], meas, det)
    n_modes = xm_pred.shape[1]
    xm = np.empty((n_rows, n_modes, 6))
    Pm = np.empty((n_rows, n_modes, 6, 6))
    lik = np.empty((n_rows, n_modes))
    for j in range(n_modes):
        xm[:, j], Pm[:, j] = pda_combine(xm_pred[rows, j], Pm_pred[rows, j], none[rows],
                                         xu[:, j], Pu[:, j], beta, local, n_rows)
        lik[:, j] = _log_sum_per_row(log_ratio + loglik[:, j], local, n_rows, log_miss)
    mu = imm.posterior_mu(cbar[rows], lik)
    x, P = imm.combine(xm, Pm, mu)
    # The combined likelihood ratio of the look (mode-mixed), for the track score.
    top = lik.max(axis=1)
    log_lr = np.log(np.maximum(np.einsum("kj,kj->k", cbar[rows], np.exp(lik - top[:, None])),
                               1e-300)) + top
    hit = np.zeros(n_rows, dtype=bool)
    hit[local[chosen]] = True
    best = np.full(n_rows, -1, dtype=np.int64)
    best[local[chosen]] = chosen
    return SoftUpdate(rows, xm, Pm, mu, x, P, hit, best, log_lr)


def _log_sum_per_row(a: F64, row: I64, n_rows: int, log_miss: float) -> F64:
    """ln(exp(log_miss) + Σ_{k of row} exp(a_k)) per row, overflow-safe."""
    top = np.full(n_rows, log_miss)
    np.maximum.at(top, row, np.where(np.isfinite(a), a, -np.inf))
    s = np.exp(log_miss - top) + np.bincount(row, weights=np.exp(a - top[row]),
                                             minlength=n_rows)
    return np.asarray(top + np.log(s), dtype=np.float64)


def jpda_stages(track: I64, det: I64, log_w: F64, firm: NDArray[np.bool_], n_tracks: int,
                n_dets: int) -> tuple[F64, F64, F64, I64]:
    """Marginals in two stages, as the GNN: the established tracks' pairs (``firm`` (K,))
    first; tentative tracks then compete only for the detections the established ones claim
    with less than :data:`CLAIM_PROBABILITY` (a wide clutter-born track must not pull a
    confirmed track's detection away). Returns beta (K,), none (n_tracks,), each detection's
    total claim (n_dets,), the probability that some track took it, and the pairs (indices)
    of the most probable joint event, found in the same two stages (``gnn_assign`` on cost
    −ln ψ, a miss costing 0)."""
    beta = np.zeros(len(track))
    first = np.flatnonzero(firm)
    m1 = marginals_from_log_weights(track[first], det[first], log_w[first], n_tracks, n_dets)
    beta[first] = m1.pair
    claim = 1.0 - m1.clutter
    second = np.flatnonzero(~firm & (claim[det] < CLAIM_PROBABILITY))
    m2 = marginals_from_log_weights(track[second], det[second], log_w[second], n_tracks, n_dets)
    beta[second] = m2.pair
    best1 = first[gnn_assign(track[first], det[first], -log_w[first], np.zeros(len(first)),
                             n_tracks, n_dets)]
    taken = np.zeros(n_dets, dtype=bool)
    taken[det[best1]] = True
    second = second[~taken[det[second]]]
    best2 = second[gnn_assign(track[second], det[second], -log_w[second],
                              np.zeros(len(second)), n_tracks, n_dets)]
    return (beta, np.minimum(m1.none, m2.none), claim + (1.0 - m2.clutter),
            np.concatenate([best1, best2]))


def gnn_weights(sources: I64, ids: I64) -> dict[tuple[int, int], float]:
    """StepResult weights of a GNN assignment: 1.0 per (message index, track id) pair."""
    return dict.fromkeys(zip(sources.tolist(), ids.tolist(), strict=True), 1.0)


#: The preference an identity match gets, as a log weight (e^50: the pair takes the track).
IDENTITY_LOG_BONUS: Final = 50.0
#: Pair probabilities below this are left out of the engine's weights.
MIN_WEIGHT: Final = 1e-3
LN_2PI: Final = float(np.log(2.0 * np.pi))


def jpda_associate(imm: IMM, ids: I64, hyp: Hypotheses, pick: I64, evidence: F64,
                   same: NDArray[np.bool_], firm: NDArray[np.bool_], meas: MeasurementBatch,
                   local: F64, log_miss: float, xm_pred: F64, Pm_pred: F64, cbar: F64,
                   ) -> tuple[SoftUpdate | None, I64, F64, dict[tuple[int, int], float]]:
    """The tracker's JPDA step over its gated pairs ``pick`` (indices into ``hyp``; track
    ``ids`` (N,)): each pair's ``evidence`` ln(Pd N / λ), whether it shares an identity
    (``same``), whether its track is established (``firm``), and ``local``, how much the
    clutter map lowers it (the track's map penalty). Returns the soft update (None without pairs), the pairs (indices
    into ``hyp``) of the most probable joint event, each detection's claim (1 for those in
    that event) and the weights {(message index, track id): probability} for the engine."""
    trk, det = hyp.track[pick], hyp.det[pick]
    # ψ = Pd N / (λ (1 − Pd)), as the GNN's cost (the clutter map weighs on the score only).
    log_w = evidence[pick] - log_miss + np.where(same[pick], IDENTITY_LOG_BONUS, 0.0)
    beta, none, claim, best = jpda_stages(trk, det, log_w, firm, len(ids), meas.m)
    if not len(pick):
        return None, pick, claim, {}
    # ln(Pd / λ) per pair: the evidence without its Gaussian, which each mode has its own of.
    dim = meas.per_model([m.dim for m in meas.models], np.int64)[det]
    log_ratio = evidence[pick] - local + 0.5 * (hyp.d2[pick] + hyp.logdet[pick] + dim * LN_2PI)
    soft = soft_update(imm, xm_pred, Pm_pred, cbar, meas, trk, det, beta, none, log_ratio,
                       log_miss, best)
    claim[det[best]] = np.maximum(claim[det[best]], 1.0)
    keep = beta >= MIN_WEIGHT
    weights = dict(zip(zip(meas.source[det[keep]].tolist(), ids[trk[keep]].tolist(), strict=True),
                       beta[keep].tolist(), strict=True))
    return soft, pick[best], claim, weights


def apply_soft(tab: TrackTable, soft: SoftUpdate, x_new: F64, P_new: F64, t: float,
               max_score: float) -> int:
    """Write a JPDA update into ``tab`` (and the step's ``x_new``/``P_new``): every row with a
    pair takes its posterior (its state's time moves to ``t`` s); a detected row's score gains
    its look's likelihood ratio (capped at ``max_score``). Returns how many rows were left
    alone for non-finite numbers."""
    good = (np.all(np.isfinite(soft.x), axis=1) & np.all(np.isfinite(soft.P), axis=(1, 2))
            & np.all(np.isfinite(soft.Pm), axis=(1, 2, 3)) & np.all(np.isfinite(soft.mu), axis=1))
    rows = soft.rows[good]
    x_new[rows] = soft.x[good]
    P_new[rows] = soft.P[good]
    tab.xm[rows] = soft.xm[good]
    tab.Pm[rows] = soft.Pm[good]
    tab.mode_prob[rows] = soft.mu[good]
    tab.x[rows] = soft.x[good]
    tab.P[rows] = soft.P[good]
    tab.t[rows] = t
    hit = good & soft.hit
    tab.llr[soft.rows[hit]] = np.minimum(tab.llr[soft.rows[hit]] + soft.log_lr[hit], max_score)
    return int((~good).sum())
