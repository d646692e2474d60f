"""Multi-scan association (``tracker.association = "mht"``): a close call in one scan is
settled by the next.

A track-oriented multiple-hypothesis tracker with N-scan pruning at N = 1, per conflict
cluster. When several firm tracks compete for one scan's detections, global nearest neighbour
commits its best joint assignment as usual, and this module keeps the cluster's next-best
joint assignments (Murty's k-best ranked assignment) whose cost lies within :data:`MARGIN` of
it, each with the states its tracks would have had. The next batch that any of those tracks
gates is scored under every kept hypothesis (its best assignment of that batch, by the same
log-likelihood cost); the hypothesis with the least two-scan cost wins, and its states replace
the committed ones before that batch is associated. A flock whose plots are as wide as its
spacing is then assigned with two scans' evidence instead of one.

Costs are the tracker's: ``-2 ln(Pd N(y; 0, S) / λ)`` for a pair, ``-2 ln(1 - Pd)`` for a
missed track. Identified tracks (ICAO, Remote ID) are never part of a hypothesis: their
identity settles their association.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from cuas.tracking.associator import clusters, gnn_assign
from cuas.tracking.hypothesiser import hypothesise
from cuas.tracking.imm import IMM, mode_update
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.state import TrackTable

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Alternative joint assignments kept per cluster (besides the committed one).
MAX_ALTERNATIVES: Final = 4
#: An alternative costlier than the committed assignment by more than this (in -2 ln
#: likelihood-ratio units: e^-2, 1 in 7 as likely) is pruned at once: a near-tie only (12,
#: 1 in 400, was measured too: more revisions, no fewer ID switches).
MARGIN: Final = 4.0
#: Hypotheses not settled within this many seconds (no batch gated their tracks) are dropped:
#: the committed assignment stands.
MAX_DEFER_S: Final = 3.0
#: Clusters with more firm tracks than this are left to the single-scan assignment (k-best
#: over them would cost more than the scan is worth).
MAX_CLUSTER_TRACKS: Final = 40
#: A forbidden entry of an assignment matrix.
BIG: Final = 1e12
LN_2PI: Final = float(np.log(2.0 * np.pi))


@dataclass(frozen=True, slots=True)
class _Record:
    """One cluster's kept alternatives: track ``ids`` (T,), and per alternative (K) its extra
    cost over the committed assignment ``delta`` (K,), its mode states ``xm`` (K,T,M,6),
    ``Pm`` (K,T,M,6,6), mode probabilities ``mu`` (K,T,M), all at time ``t`` (s UTC)."""

    ids: I64
    t: float
    delta: F64
    xm: F64
    Pm: F64
    mu: F64


def k_best(matrix: F64, n_rows: int, k: int) -> list[tuple[float, I64]]:
    """The ``k`` cheapest assignments of a square cost ``matrix`` (entries >= :data:`BIG`
    forbidden), by Murty's partitioning over the first ``n_rows`` rows (the rows below are
    dummies whose permutations do not make different solutions). Returns (total cost,
    column of each of the first ``n_rows`` rows), cheapest first."""
    from scipy.optimize import linear_sum_assignment  # here: slows `import cuas.tracking`

    def solve(m: F64) -> tuple[float, I64] | None:
        r, c = linear_sum_assignment(m)
        if (m[r, c] >= 0.5 * BIG).any():  # only a forbidden entry completes it
            return None
        return float(m[r, c].sum()), c[:n_rows].astype(np.int64)

    first = solve(matrix)
    if first is None:
        return []
    count = 0
    heap: list[tuple[float, int, I64, F64]] = [(first[0], count, first[1], matrix)]
    out: list[tuple[float, I64]] = []
    while heap and len(out) < k:
        cost, _, cols, m = heapq.heappop(heap)
        out.append((cost, cols))
        if len(out) == k:
            break
        base = m.copy()
        for i in range(n_rows):
            child = base.copy()
            child[i, cols[i]] = BIG
            sol = solve(child)
            if sol is not None:
                count += 1
                heapq.heappush(heap, (sol[0], count, sol[1], child))
            # The later children keep row i's choice.
            keep = base[i, cols[i]]
            base[i, :] = BIG
            base[:, cols[i]] = BIG
            base[i, cols[i]] = keep
    return out


def _cluster_matrix(t_local: I64, d_local: I64, cost: F64, miss: F64, nt: int,
                    nd: int) -> F64:
    """The augmented assignment matrix of one cluster: [[pairs, track-missed diagonal],
    [detection-unused diagonal, zeros]] (as :func:`associator.gnn_assign` builds it)."""
    matrix = np.full((nt + nd, nd + nt), BIG)
    matrix[t_local, d_local] = cost
    track_miss = np.zeros(nt)
    np.maximum.at(track_miss, t_local, miss)
    matrix[np.arange(nt), nd + np.arange(nt)] = track_miss
    matrix[nt + np.arange(nd), np.arange(nd)] = 0.0
    matrix[nt:, nd:] = 0.0
    return matrix


class MultiScan:
    """The kept hypotheses of the last scan's conflict clusters, and their settling."""

    def __init__(self, imm: IMM, counters: Counter[str], *, alternatives: int = MAX_ALTERNATIVES,
                 margin: float = MARGIN, max_defer_s: float = MAX_DEFER_S) -> None:
        self.imm = imm
        self.counters = counters
        self.alternatives = alternatives
        self.margin = margin
        self.max_defer_s = max_defer_s
        self.records: list[_Record] = []

    # ------------------------------------------------------------------ after a scan

    def record(self, tab: TrackTable, track: I64, det: I64, cost: F64, miss: F64, chosen: I64,
               xm_pred: F64, Pm_pred: F64, cbar: F64, meas: MeasurementBatch) -> None:
        """Keep the alternatives of this scan's conflict clusters. ``track``/``det``/``cost``/
        ``miss`` (K,) are the firm tracks' gated pairs (table rows, detection indices) as the
        assignment saw them, ``chosen`` the indices of the pairs it committed; ``xm_pred``,
        ``Pm_pred``, ``cbar`` every row's predicted mode states and probabilities at ``meas.t``."""
        if len(track) < 2:
            return
        label, t_loc, d_loc, nt, nd = clusters(track, det, tab.n, meas.m)
        multi = np.flatnonzero((nt >= 2) & (nt <= MAX_CLUSTER_TRACKS))
        if not len(multi):
            return
        committed = np.zeros(len(track), dtype=bool)
        committed[chosen] = True
        ident = tab.ident
        order = np.argsort(label, kind="stable")
        bounds = np.searchsorted(label[order], multi)
        ends = np.searchsorted(label[order], multi, side="right")
        alt_rows: list[I64] = []
        alt_dets: list[I64] = []
        plans: list[tuple[I64, F64, int]] = []  # (rows, deltas, number of alternatives)
        for c, lo, hi in zip(multi.tolist(), bounds.tolist(), ends.tolist(), strict=True):
            g = order[lo:hi]
            rows = np.full(int(nt[c]), -1, dtype=np.int64)
            rows[t_loc[g]] = track[g]
            if (ident[rows] >= 0).any():
                continue
            matrix = _cluster_matrix(t_loc[g], d_loc[g], cost[g], miss[g], int(nt[c]), int(nd[c]))
            # The committed assignment's columns and cost (a missed track: its own column).
            cols0 = int(nd[c]) + np.arange(int(nt[c]))
            kept = g[committed[g]]
            cols0[t_loc[kept]] = d_loc[kept]
            cost0 = float(matrix[np.arange(int(nt[c])), cols0].sum())
            found = k_best(matrix, int(nt[c]), self.alternatives + 1)
            alts = [(total - cost0, cols) for total, cols in found
                    if not np.array_equal(cols, cols0) and total - cost0 <= self.margin]
            alts = alts[: self.alternatives]
            if not alts:
                continue
            d_ids = np.zeros(int(nd[c]), dtype=np.int64)
            d_ids[d_loc[g]] = det[g]
            for _, cols in alts:
                alt_rows.append(rows)
                alt_dets.append(np.where(cols < nd[c], d_ids[np.minimum(cols, nd[c] - 1)], -1))
            plans.append((rows, np.array([max(dl, 0.0) for dl, _ in alts]), len(alts)))
        if not plans:
            return
        rows_all = np.concatenate(alt_rows)
        dets_all = np.concatenate(alt_dets)
        xm = xm_pred[rows_all].copy()
        Pm = Pm_pred[rows_all].copy()
        mu = cbar[rows_all].copy()
        hit = np.flatnonzero(dets_all >= 0)
        if len(hit):
            xu, Pu, loglik = mode_update(xm[hit], Pm[hit], meas, dets_all[hit])
            xm[hit], Pm[hit], mu[hit] = xu, Pu, self.imm.posterior_mu(mu[hit], loglik)
        good = (np.all(np.isfinite(xm), axis=(1, 2)) & np.all(np.isfinite(Pm), axis=(1, 2, 3))
                & np.all(np.isfinite(mu), axis=1))
        at = 0
        for rows, delta, k in plans:
            n = len(rows) * k
            sl = slice(at, at + n)
            at += n
            if not good[sl].all():
                continue
            shape = (k, len(rows))
            self.records.append(_Record(
                ids=tab.ids[rows].copy(), t=meas.t, delta=delta,
                xm=xm[sl].reshape(*shape, *xm.shape[1:]), Pm=Pm[sl].reshape(*shape, *Pm.shape[1:]),
                mu=mu[sl].reshape(*shape, mu.shape[1])))
            self.counters["mht_hypotheses"] += k

    # ------------------------------------------------------------------ before a scan

    def resolve(self, tab: TrackTable, meas: MeasurementBatch, gate: dict[int, float],
                log_pd: float, log_miss: float, log_lam: F64) -> None:
        """Score every kept hypothesis whose tracks this batch gates and write the winner's
        states into ``tab`` (before the batch is associated). ``gate`` maps measurement
        dimension to its χ² gate; ``log_pd``/``log_miss`` are ln Pd and ln(1 - Pd);
        ``log_lam`` (4,) the batch sensor's log clutter density per measurement dimension."""
        if not self.records:
            return
        t = meas.t
        live: list[tuple[_Record, I64]] = []
        for rec in self.records:
            rows = tab.rows_of(rec.ids)
            if t - rec.t <= self.max_defer_s and (rows >= 0).all():
                live.append((rec, rows))
        self.records = []
        if not live or meas.m == 0:
            self.records += [rec for rec, _ in live]
            return
        # Virtual tracks: per record, the committed states (the table's) then each alternative.
        xs, Ps, mus, ts, group, rec_of = [], [], [], [], [], []
        g = 0
        for r, (rec, rows) in enumerate(live):
            xs.append(tab.xm[rows][None])
            Ps.append(tab.Pm[rows][None])
            mus.append(tab.mode_prob[rows][None])
            ts.append(tab.t[rows])
            ts.extend([np.full(len(rows), rec.t)] * len(rec.delta))
            xs.append(rec.xm)
            Ps.append(rec.Pm)
            mus.append(rec.mu)
            n_h = 1 + len(rec.delta)
            group.append(np.repeat(np.arange(g, g + n_h), len(rows)))
            rec_of.append(np.full(n_h, r))
            g += n_h
        xm = np.concatenate([a.reshape(-1, *a.shape[2:]) for a in xs])
        Pm = np.concatenate([a.reshape(-1, *a.shape[2:]) for a in Ps])
        mu = np.concatenate([a.reshape(-1, a.shape[-1]) for a in mus])
        tv = np.concatenate(ts)
        grp = np.concatenate(group)
        hyp_rec = np.concatenate(rec_of)
        _, _, _, x, P = self.imm.predict_combined(xm, Pm, mu, np.maximum(t - tv, 0.0))
        hyp = hypothesise(x, P, meas, gate)
        pair_gate = meas.per_model([gate[m.dim] for m in meas.models], np.float64)[hyp.det]
        ok = np.flatnonzero(np.isfinite(hyp.d2) & (hyp.d2 <= pair_gate))
        dims = meas.per_model([m.dim for m in meas.models], np.int64)[hyp.det[ok]]
        evidence = log_pd - 0.5 * (hyp.d2[ok] + hyp.logdet[ok] + dims * LN_2PI) - log_lam[dims]
        vt = hyp.track[ok]
        # Each hypothesis is its own assignment problem: its own copy of the detections.
        key = grp[vt].astype(np.int64) * meas.m + hyp.det[ok]
        uniq, vd = np.unique(key, return_inverse=True)
        miss_cost = -2.0 * log_miss
        cost = -2.0 * evidence
        pick = gnn_assign(vt, vd.astype(np.int64), cost, np.full(len(vt), miss_cost), len(tv),
                          len(uniq))
        n_in = np.bincount(grp, minlength=g)
        n_hit = np.bincount(grp[vt[pick]], minlength=g)
        total = np.bincount(grp[vt[pick]], weights=cost[pick], minlength=g).astype(np.float64)
        total += miss_cost * (n_in - n_hit)
        active = np.bincount(hyp_rec[grp[vt]], minlength=len(live)) > 0
        start = 0
        wins: list[tuple[float, int, int]] = []  # (gain, record, alternative)
        for r, (rec, _rows) in enumerate(live):
            n_h = 1 + len(rec.delta)
            if not active[r]:
                self.records.append(rec)
                start += n_h
                continue
            nxt = total[start:start + n_h]
            scores = nxt + np.r_[0.0, rec.delta]
            start += n_h
            # How often the next batch alone prefers an alternative: about half the time
            # means it carries no evidence on the close call (README: multi-scan association).
            self.counters["mht_next_prefers_alternative"] += int((nxt[1:] < nxt[0]).sum())
            self.counters["mht_next_prefers_committed"] += int((nxt[1:] > nxt[0]).sum())
            best = int(np.argmin(scores))
            self.counters["mht_settled"] += 1
            if best:
                wins.append((float(scores[0] - scores[best]), r, best - 1))
        # Winners sharing a track: the larger gain first, the others stand down.
        touched: set[int] = set()
        for _gain, r, a in sorted(wins, reverse=True):
            rec, rows = live[r]
            if touched.intersection(rows.tolist()):
                continue
            touched.update(rows.tolist())
            tab.xm[rows] = rec.xm[a]
            tab.Pm[rows] = rec.Pm[a]
            tab.mode_prob[rows] = rec.mu[a]
            tab.t[rows] = rec.t
            xc, Pc = self.imm.combine(rec.xm[a], rec.Pm[a], rec.mu[a])
            tab.x[rows] = xc
            tab.P[rows] = Pc
            self.counters["mht_revised"] += 1

