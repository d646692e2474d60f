"""The multi-target tracker: predictor, hypothesiser, associator, updater, initiator and
deleter, each batched over all tracks of the table at once.

Numbers in, numbers out: feed it :class:`~cuas.tracking.measurements.MeasurementBatch` arrays in
time order; ask it for the table rows (:class:`~cuas.tracking.state.TrackRows`) predicted to any
time at or after the last batch. Messages, identities' names and classification are fusion's.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from cuas.config import TrackerConfig
from cuas.tracking import jpda
from cuas.tracking.associator import gnn_assign
from cuas.tracking.coverage import COUNTED_FRACTION, Coverage
from cuas.tracking.deleter import next_status, silence_limits
from cuas.tracking.duplicates import candidate_partners
from cuas.tracking.hypothesiser import hypothesise
from cuas.tracking.imm import IMM, mode_update
from cuas.tracking.initiator import (
    MAX_PENDING_BEARINGS,
    Bearings,
    bearings_of,
    cross_bearings,
    initial_states,
)
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.mht import MultiScan
from cuas.tracking.models import AzElModel
from cuas.tracking.quantiles import chi2
from cuas.tracking.score import (
    BirthRate,
    ClutterDensity,
    ClutterMap,
    local_clutter,
    thresholds,
)
from cuas.tracking.state import (
    COASTING,
    CONFIRMED,
    DELETED,
    NO_IDENT,
    TENTATIVE,
    TrackRows,
    TrackTable,
)
from cuas.tracking.updater import inverse, mahalanobis2

log = logging.getLogger(__name__)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: An identity match (same ICAO or Remote ID serial) is accepted this many times further out
#: than the ordinary gate (in squared Mahalanobis distance): the identity is strong evidence,
#: but a jump of kilometres is a spoof or a decoding error, not the same aircraft.
IDENTITY_GATE_FACTOR = 100.0
#: Velocity gate for an anonymous detection joining a track that holds an identity.
VELOCITY_GATE_PROBABILITY = 0.99
#: Deleted tracks waiting for the next snapshot to report them, at most.
MAX_DELETED_HELD = 100_000
#: A track's score is capped here: a long-held track must still be able to lose it.
MAX_SCORE = 100.0
#: An identity match is preferred over any anonymous pair by this much cost.
IDENTITY_BONUS = 1e4
LN_2PI = float(np.log(2.0 * np.pi))
#: Hardest braking (m/s²) a target is assumed capable of: a mover comes to a hover no faster
#: (a multirotor brakes at about 1 g; aircraft far slower).
MAX_DECEL = 10.0
#: Duplicate tracks (tracking.duplicates): checked at most once per this many seconds; a
#: pair that agrees at this many consecutive checks is merged; the test's gate probability.
DUPLICATE_CHECK_S = 1.0
DUPLICATE_LOOKS = 5
DUPLICATE_GATE_PROBABILITY = 0.99
#: Least score a hit gains from a detection that carries the track's identity (ICAO, Remote
#: ID): e^8, about 3,000 times likelier from the identified target than from clutter.
IDENTITY_SCORE = 8.0
#: A track slower than this (m/s, plus two sigmas of its speed) is not known to move: the
#: plots it takes count in the clutter map, once its speed is known to this sigma (m/s).
STILL_SPEED = 1.0
STILL_SPEED_SIGMA = 3.0


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one batch did. ``accepted`` is False when the whole batch was dropped (``reason``)."""

    t: float
    accepted: bool
    reason: str = ""
    assigned: int = 0
    created: tuple[int, ...] = ()
    deleted: tuple[int, ...] = ()
    dropped_detections: int = 0
    #: {(message index, track id): association probability} (GNN: 1.0 per assignment).
    weights: dict[tuple[int, int], float] = field(default_factory=dict)


class Tracker:
    """Batched multi-target Kalman tracker over a site's ENU frame (metres, seconds UTC).

    Sensors are known by column (``sensor_col``, which fusion assigns) and identities by index
    (``ident``, fusion's registry): the tracker only compares them.
    """

    def __init__(self, cfg: TrackerConfig, counters: Counter[str] | None = None) -> None:
        """``counters`` (default: a new one) receives the tracker's counts."""
        self.cfg = cfg
        self.imm = IMM.standard(cfg.hover_noise, cfg.hover_speed_sigma, cfg.accel_noise_h,
                                cfg.accel_noise_v, cfg.manoeuvre_noise_h, cfg.manoeuvre_noise_v,
                                cfg.mode_sojourn_s, max_decel=MAX_DECEL)
        self.table = TrackTable()
        self.time: float | None = None
        self.counters: Counter[str] = counters if counters is not None else Counter()
        self._next_id = 1
        self._deleted: list[TrackRows] = []
        self._n_deleted_held = 0
        self._gate = {d: float(chi2.ppf(cfg.gate_probability, d)) for d in (1, 2, 3)}
        self._velocity_gate = float(chi2.ppf(VELOCITY_GATE_PROBABILITY, 3))
        #: Unclaimed camera bearings waiting for another sensor's to cross (initiator).
        self._bearings = Bearings.empty()
        self._born = 0  # tracks born from the current batch
        self._warned_cap = False
        #: Clutter density per sensor, measured online (the track score's reference).
        self.clutter = ClutterDensity()
        self.clutter_map = ClutterMap()
        self._log_pd = float(np.log(cfg.detection_probability))
        self._log_miss = float(np.log1p(-cfg.detection_probability))
        self._births = BirthRate()  # tentative tracks born per hour
        self._dup_checked = -np.inf  # time of the last duplicate check
        self._dup_gate = float(chi2.ppf(DUPLICATE_GATE_PROBABILITY, 6))
        self._mht = MultiScan(self.imm, self.counters) if cfg.association == "mht" else None

    # ------------------------------------------------------------------ public API

    def step(self, meas: MeasurementBatch, sensor_col: int, scanning: bool = False,
             max_range: float | None = None, coverage: Coverage | None = None) -> StepResult:
        """Run one batch (all measured at ``meas.t``, not before :attr:`time`) through every
        stage. ``sensor_col`` names the reporting sensor; ``coverage`` what its look could
        have seen (a track inside it that the batch does not report is missed); without it,
        ``scanning``: the batch is a full look out to ``max_range`` (m)."""
        if coverage is None:
            coverage = Coverage(scanning=scanning, max_range_m=max_range)
        result = self._step(meas, sensor_col, coverage)
        self.counters["batches_processed"] += 1
        self.time = meas.t
        return result

    def snapshot(self, t: float) -> TrackRows:
        """All live tracks predicted to ``t`` (UTC s), then each track deleted since the
        previous snapshot, once, where it was last seen."""
        tab = self.table
        blocks = list(self._deleted)
        if tab.n:
            dt = np.maximum(t - tab.t, 0.0)
            _, _, _, x, P = self.imm.predict_combined(tab.xm, tab.Pm, tab.mode_prob, dt)
            blocks.append(TrackRows.of(tab, np.arange(tab.n), x, P))
        self._deleted = []
        self._n_deleted_held = 0
        return TrackRows.concat(blocks) if blocks else TrackRows.empty()

    def expire(self, t: float) -> tuple[int, ...]:
        """Delete the tracks silent for longer than their status allows at ``t`` (UTC s, not
        before :attr:`time`): live, on a timer, so tracks go even while no batch arrives."""
        if self.time is not None and t < self.time:
            return ()
        return self._expire(t)

    def merge_identities(self, merged: tuple[tuple[int, int], ...]) -> None:
        """Identities found to be one aircraft (``(old, new)`` indices): the old identity's
        track takes the new one, or, when a track already holds the new one, is deleted as
        its duplicate (one aircraft, one track)."""
        tab = self.table
        for old, new in merged:
            olds = tab.ident == old
            if olds.any():
                if (tab.ident == new).any():
                    self.counters["tracks_merged_identity"] += int(olds.sum())
                    self._remove(olds)
                else:
                    tab.ident[olds] = new

    @property
    def n_tracks(self) -> int:
        return self.table.n

    # ------------------------------------------------------------------ stages

    def _step(self, meas: MeasurementBatch, sensor_col: int, coverage: Coverage) -> StepResult:
        t = meas.t
        tab = self.table
        self._born = 0
        expired = self._expire(t)
        n = tab.n
        tab.ensure_sensors(sensor_col + 1)
        if self._mht is not None and n:  # the last scan's close calls, settled by this batch
            self._mht.resolve(tab, meas, self._gate, self._log_pd, self._log_miss, np.array(
                [self.clutter.log_density(sensor_col, d) for d in range(4)]))

        # Predictor: every track to this batch's time (each from its own last update), each
        # motion mode mixed and predicted, then combined for gating and association.
        if n:
            xm_pred, Pm_pred, cbar, x_pred, P_pred = self.imm.predict_combined(
                tab.xm, tab.Pm, tab.mode_prob, t - tab.t)
        else:
            x_pred, P_pred = np.zeros((0, 6)), np.zeros((0, 6, 6))
            xm_pred, Pm_pred, cbar = np.zeros((0, 3, 6)), np.zeros((0, 3, 6, 6)), np.zeros((0, 3))

        # Hypothesiser: gated pairs, plus identity pairs wherever they are.
        id_pairs = self._identity_pairs(meas)
        hyp = hypothesise(x_pred, P_pred, meas, self._gate, id_pairs)
        gate = meas.per_model([self._gate[m.dim] for m in meas.models], np.float64)[hyp.det]
        t_ident = tab.ident[hyp.track] if n else np.zeros(0, dtype=np.int64)
        d_ident = meas.ident[hyp.det]
        same = (t_ident >= 0) & (t_ident == d_ident)
        clash = (t_ident >= 0) & (d_ident >= 0) & (t_ident != d_ident)
        ok = np.where(same, hyp.d2 <= gate * IDENTITY_GATE_FACTOR, hyp.d2 <= gate) & ~clash
        ok &= np.isfinite(hyp.d2)
        # An anonymous plot near a cooperative aircraft (a drone under the police helicopter)
        # joins the aircraft's track only when the kinematics agree: when the plot carries a
        # velocity, it must match the aircraft's too. (A tighter position gate alone was
        # tried: it splits the aircraft's own plots off whenever it manoeuvres.)
        anon = (t_ident >= 0) & (d_ident < 0)
        if anon.any():
            vel_check = np.flatnonzero(anon & meas.has_vel[hyp.det])
            if len(vel_check):
                rows_v, dets_v = hyp.track[vel_check], hyp.det[vel_check]
                dv = meas.vel[dets_v] - x_pred[rows_v, 3:]
                Sv = P_pred[rows_v, 3:, 3:] + meas.vel_R[dets_v]
                ok[vel_check] &= mahalanobis2(dv, inverse(Sv)) <= self._velocity_gate
        pick = np.flatnonzero(ok)
        # The evidence of each pair: ln(Pd N(y; 0, S) / λ), the measurement's likelihood under
        # the track against the sensor's clutter density. Minus twice it is the assignment
        # cost (a missed track costs -2 ln(1 - Pd), a detection left to clutter nothing), so
        # a tight track's close plot beats a wide track's equally close one.
        dims = meas.per_model([m.dim for m in meas.models], np.int64)
        if meas.m:
            top = int(dims.max())
            self.clutter.extend(sensor_col, meas.z[dims == top], meas.R[dims == top], top)
        log_lam = np.array([self.clutter.log_density(sensor_col, d) for d in range(4)])
        pair_dim = dims[hyp.det]
        evidence = self._log_pd - 0.5 * (hyp.d2 + hyp.logdet + pair_dim * LN_2PI) - log_lam[pair_dim]
        cost = np.where(same[pick], -2.0 * evidence[pick] - IDENTITY_BONUS, -2.0 * evidence[pick])
        miss = np.full(len(pick), -2.0 * self._log_miss)

        # Associator: global nearest neighbour per independent cluster, established tracks
        # first. A tentative track born of clutter is wide and would otherwise bid for (and
        # win) a confirmed track's detection; it only gets what the confirmed ones leave.
        firm = tab.status[hyp.track[pick]] != TENTATIVE if n else np.zeros(0, dtype=bool)
        soft: jpda.SoftUpdate | None = None
        if self.cfg.association == "jpda":  # the same two stages, in jpda.jpda_stages
            soft, chosen, claim, weights = jpda.jpda_associate(
                self.imm, tab.ids, hyp, pick, evidence, same, firm, meas,
                tab.map_penalty[hyp.track[pick]], self._log_miss,
                xm_pred, Pm_pred, cbar)
        else:
            first = np.flatnonzero(firm)
            sel = gnn_assign(hyp.track[pick[first]], hyp.det[pick[first]], cost[first],
                             miss[first], n, meas.m)
            chosen_first = first[sel]
            if self._mht is not None:
                self._mht.record(tab, hyp.track[pick[first]], hyp.det[pick[first]], cost[first],
                                 miss[first], sel, xm_pred, Pm_pred, cbar, meas)
            taken = np.zeros(meas.m, dtype=bool)
            taken[hyp.det[pick[chosen_first]]] = True
            second = np.flatnonzero(~firm & ~taken[hyp.det[pick]])
            chosen_second = second[gnn_assign(hyp.track[pick[second]], hyp.det[pick[second]],
                                              cost[second], miss[second], n, meas.m)]
            chosen = pick[np.concatenate([chosen_first, chosen_second])]
            weights = jpda.gnn_weights(meas.source[hyp.det[chosen]], tab.ids[hyp.track[chosen]])
            claim = np.zeros(meas.m)
        self.clutter.count_unclaimed(sensor_col, meas.m - len(chosen))
        rows = hyp.track[chosen]
        dets = hyp.det[chosen]
        gain = evidence[chosen] - tab.map_penalty[rows]
        # A report carrying the track's own cooperative identity is not clutter, however
        # badly its kinematics fit (a forged velocity is the classifier's to flag).
        gain = np.where(same[chosen], np.maximum(gain, IDENTITY_SCORE), gain)
        # Fixed clutter where each plot falls, from the plots of earlier looks (before this
        # look is counted): a track born here is scored against it on every hit.
        birth_penalty = local_clutter(self.clutter_map, meas, sensor_col, log_lam)
        # The clutter map counts plots no moving track could have made: none inside the gate
        # of a track not known to be still (a flock's plots that no track took are still
        # targets', and counting them would bar births in the flock), the rest (plots no track
        # gated, a fixed return that a still track follows) counted.
        speed = np.linalg.norm(x_pred[:, 3:5], axis=1)
        speed_sigma = np.sqrt(np.maximum(P_pred[:, 3, 3] + P_pred[:, 4, 4], 0.0))
        still = (speed <= STILL_SPEED + 2.0 * speed_sigma) & (speed_sigma <= STILL_SPEED_SIGMA)
        counted = np.ones(meas.m, dtype=bool)
        counted[hyp.det[pick][~still[hyp.track[pick]]]] = False
        self.clutter_map.look(sensor_col, t, meas.pos[counted])

        # Updater: every mode of each chosen track with its detection, the mode probabilities
        # from how well each mode predicted it, and the combined state.
        x_new, P_new = x_pred.copy(), P_pred.copy()
        if soft is not None:
            if bad := jpda.apply_soft(tab, soft, x_new, P_new, t, MAX_SCORE):
                self.counters["updates_rejected_numeric"] += bad
        elif len(rows):
            xm_u, Pm_u, loglik = mode_update(xm_pred, Pm_pred, meas, dets, rows=rows)
            mu = self.imm.posterior_mu(cbar[rows], loglik)
            x_u, P_u = self.imm.combine(xm_u, Pm_u, mu)
            good = (np.all(np.isfinite(x_u), axis=1) & np.all(np.isfinite(P_u), axis=(1, 2))
                    & np.all(np.isfinite(Pm_u), axis=(1, 2, 3)) & np.all(np.isfinite(mu), axis=1))
            if not good.all():
                self.counters["updates_rejected_numeric"] += int((~good).sum())
                rows, dets, x_u, P_u = rows[good], dets[good], x_u[good], P_u[good]
                xm_u, Pm_u, mu, gain = xm_u[good], Pm_u[good], mu[good], gain[good]
            x_new[rows] = x_u
            P_new[rows] = P_u
            tab.xm[rows] = xm_u
            tab.Pm[rows] = Pm_u
            tab.mode_prob[rows] = mu
            tab.llr[rows] = np.minimum(tab.llr[rows] + gain, MAX_SCORE)
        hit = np.zeros(n, dtype=bool)
        hit[rows] = True
        self._commit(x_new, P_new, hit, rows, dets, meas, sensor_col, coverage)
        pos_var = np.diagonal(P_new[:, :3, :3], axis1=1, axis2=2).max(axis=1) if n else np.zeros(0)

        # Initiator: unclaimed detections that fix a point start tentative tracks.
        claimed = claim >= jpda.CLAIM_PROBABILITY  # GNN: none; JPDA: claimed with that probability
        claimed[dets] = True
        starts = meas.per_model([m.starts_track for m in meas.models], bool)
        fresh = np.flatnonzero(~claimed & starts)
        created, new_var = self._initiate(meas, fresh, sensor_col, birth_penalty)
        # Bearings fix no point alone: they start tracks only where they cross another
        # sensor's (a single camera never invents a range).
        bearing = ~claimed & meas.per_model([m.is_bearing for m in meas.models], bool)
        if bearing.any() or len(self._bearings):
            crossed, crossed_var = self._initiate_from_bearings(meas, bearing, sensor_col)
            created += crossed
            new_var = np.concatenate([new_var, crossed_var])

        # Deleter (the SPRT's thresholds follow the rate at which tentative tracks are born).
        self._births.add(t, len(created))
        deleted = expired + self._apply_life_cycle(t, np.concatenate([pos_var, new_var]))
        if t - self._dup_checked >= DUPLICATE_CHECK_S:
            self._dup_checked = t
            deleted += self._merge_duplicates(t)
        self.counters["associations"] += len(rows)
        return StepResult(t, True, assigned=len(rows), created=created, deleted=deleted,
                          dropped_detections=meas.n_dropped, weights=weights)

    def _commit(self, x_new: F64, P_new: F64, hit: NDArray[np.bool_], rows: I64, dets: I64,
                meas: MeasurementBatch, sensor_col: int, coverage: Coverage) -> None:
        """Write posteriors of updated tracks and the hit/miss bookkeeping of this look."""
        tab = self.table
        if not tab.n:
            return
        t = meas.t
        tab.x[rows] = x_new[rows]
        tab.P[rows] = P_new[rows]
        tab.t[rows] = t
        tab.t_update[rows] = t
        tab.misses[rows] = 0
        tab.hits[rows] += 1
        tab.sources[rows, sensor_col] = True
        looked = hit.copy()
        if coverage.scanning:
            # A full look: every track it should have seen and did not is missed, once per
            # revisit, at the sensor's Pd where the track is (tracking.coverage).
            since = t - np.maximum(tab.t_update, tab.t_missed)
            missed = ~hit & coverage.due(since)
            rel = np.ones(tab.n)
            if coverage.needs_frame and meas.sensor_frame is not None and missed.any():
                rel[missed] = coverage.relative_pd(
                    meas.sensor_frame.site_to_local(x_new[missed, :3]))
            missed &= rel > 0.0
            pd = self.cfg.detection_probability * rel[missed]
            tab.llr[missed] += np.log1p(-np.minimum(pd, 1.0 - 1e-9))
            tab.t_missed[missed] = t
            missed &= rel >= COUNTED_FRACTION
            tab.misses[missed] += 1
            looked |= missed
        tab.looks[looked] = (tab.looks[looked] << np.uint32(1)) | hit[looked].astype(np.uint32)
        tab.n_looks[looked] = np.minimum(tab.n_looks[looked] + 1, 32)

        # Identity travels with the detection that carries it.
        with_ident = meas.ident[dets] >= 0
        if with_ident.any():
            new_ident = meas.ident[dets[with_ident]]
            holders = np.isin(tab.ident, new_ident)
            tab.ident[holders] = NO_IDENT  # an identity moving to another track leaves the old
            tab.ident[rows[with_ident]] = new_ident

    def _initiate(self, meas: MeasurementBatch, fresh: I64, sensor_col: int,
                  map_penalty: F64) -> tuple[tuple[int, ...], F64]:
        """Start tentative tracks (``map_penalty`` (M,): the clutter map's score penalty at
        each detection); returns their ids and largest position variances (m²)."""
        tab = self.table
        fresh = fresh[: self._room(len(fresh))]
        if not len(fresh):
            return (), np.zeros(0)
        x0, P0 = initial_states(meas, fresh, self.cfg.init_speed_sigma, self.cfg.init_vspeed_sigma)
        ids = np.arange(self._next_id, self._next_id + len(fresh), dtype=np.int64)
        self._next_id += len(fresh)
        new_ident = meas.ident[fresh]
        given = new_ident[new_ident >= 0]
        if len(given):
            tab.ident[np.isin(tab.ident, given)] = NO_IDENT
        rows = tab.append(ids, x0, P0, meas.t)
        tab.looks[rows] = 1
        tab.n_looks[rows] = 1
        tab.hits[rows] = 1
        tab.status[rows] = TENTATIVE
        tab.ident[rows] = new_ident
        tab.map_penalty[rows] = map_penalty[fresh]
        tab.sources[rows, sensor_col] = True
        self.counters["tracks_created"] += len(fresh)
        return tuple(int(i) for i in ids), np.diagonal(P0[:, :3, :3], axis1=1, axis2=2).max(axis=1)

    def _initiate_from_bearings(self, meas: MeasurementBatch, unclaimed: NDArray[np.bool_],
                                sensor_col: int) -> tuple[tuple[int, ...], F64]:
        """Cross this batch's unclaimed bearings (mask ``unclaimed``) with other sensors' pending ones:
        tentative tracks where they meet; the rest wait (``bearing_window_s``) for a partner.
        Returns the new tracks' ids and largest position variances (m²)."""
        cfg = self.cfg
        t = meas.t
        pending = self._bearings
        if len(pending):
            pending = pending.take((t - pending.t <= cfg.bearing_window_s) & (pending.t <= t))
        new = Bearings.empty()
        for code, model in enumerate(meas.models):
            dets = np.flatnonzero(unclaimed & (meas.model == code))
            if len(dets) and isinstance(model, AzElModel):
                new = new.concat(bearings_of(model, meas, dets, sensor_col))
        fix = cross_bearings(new, pending, window_s=cfg.bearing_window_s,
                             speed_ms=cfg.init_speed_sigma, gate_sigma=cfg.bearing_gate_sigma,
                             max_sigma_m=cfg.max_pos_sigma)
        new_left = np.ones(len(new), dtype=bool)
        new_left[fix.new] = False
        used = np.zeros(len(pending), dtype=bool)
        used[fix.partners[fix.partners >= 0]] = True
        pending = pending.take(~used).concat(new.take(new_left))
        if len(pending) > MAX_PENDING_BEARINGS:  # a flood of clutter must not grow this
            self.counters["bearings_dropped"] += len(pending) - MAX_PENDING_BEARINGS
            pending = pending.take(np.arange(len(pending) - MAX_PENDING_BEARINGS, len(pending)))
        self._bearings = pending
        k = min(len(fix.point), self._room(len(fix.point)))
        if not k:
            return (), np.zeros(0)
        tab = self.table
        x0 = np.zeros((k, 6))
        x0[:, :3] = fix.point[:k]
        P0 = np.zeros((k, 6, 6))
        P0[:, :3, :3] = fix.cov[:k]
        idx = np.arange(3, 6)
        P0[:, idx, idx] = np.array([cfg.init_speed_sigma, cfg.init_speed_sigma,
                                    cfg.init_vspeed_sigma]) ** 2
        ids = np.arange(self._next_id, self._next_id + k, dtype=np.int64)
        self._next_id += k
        rows = np.arange(tab.n, tab.n + k)
        tab.append(ids, x0, P0, t)
        tab.looks[rows] = 1
        tab.n_looks[rows] = 1
        tab.hits[rows] = 1
        tab.status[rows] = TENTATIVE
        tab.ident[rows] = NO_IDENT
        g, c = np.nonzero(fix.sensors[:k] >= 0)
        tab.sources[rows[g], fix.sensors[g, c]] = True
        self.counters["tracks_created"] += k
        self.counters["tracks_triangulated"] += k
        return tuple(int(i) for i in ids), np.diagonal(P0[:, :3, :3], axis1=1, axis2=2).max(axis=1)

    def _expire(self, t: float) -> tuple[int, ...]:
        """Delete, before association, the tracks that have gone without a detection for
        longer than their status allows at ``t``: a stale track must not grab a new plot."""
        tab = self.table
        if not tab.n:
            return ()
        gone = (t - tab.t_update) > silence_limits(tab.status, tab.ident >= 0, self.cfg)
        if not gone.any():
            return ()
        return self._remove(gone)

    def _remove(self, gone: NDArray[np.bool_]) -> tuple[int, ...]:
        """Mark rows ``gone`` deleted, hold them for the next snapshot, and drop them."""
        tab = self.table
        tab.status[gone] = DELETED
        rows = np.flatnonzero(gone)
        # A deleted track is reported where it was last seen, not extrapolated: after a long
        # silence a prediction would be fiction (and could leave the atmosphere).
        self._hold_deleted(TrackRows.of(tab, rows, tab.x[rows].copy(), tab.P[rows].copy()))
        ids = tuple(int(i) for i in tab.ids[rows])
        self.counters["tracks_deleted"] += len(rows)
        tab.keep(~gone)
        return ids

    def _merge_duplicates(self, t: float) -> tuple[int, ...]:
        """Merge firm tracks found to be one object at ``DUPLICATE_LOOKS`` consecutive checks:
        the older id stays, with the tighter of the two states, both tracks' sensors and the
        identity either held. Returns the ids removed."""
        tab = self.table
        firm = np.flatnonzero((tab.status == CONFIRMED) | (tab.status == COASTING))
        tab.dup_n[tab.status == TENTATIVE] = 0
        if len(firm) < 2:
            tab.dup_n[firm] = 0
            return ()
        _, _, _, x, P = self.imm.predict_combined(tab.xm, tab.Pm, tab.mode_prob,
                                                  t - tab.t[firm], rows=firm)
        partner = candidate_partners(x, P, tab.t_update[firm], self._dup_gate)
        pid = np.where(partner >= 0, tab.ids[firm[np.maximum(partner, 0)]], -1)
        again = (pid >= 0) & (pid == tab.dup_of[firm])
        tab.dup_n[firm] = np.where(again, np.minimum(tab.dup_n[firm] + 1, 10_000),
                                   (pid >= 0).astype(np.int16))
        tab.dup_of[firm] = pid
        # Mutual partners, both far enough along; the younger (larger id) goes.
        ready = (tab.dup_n[firm] >= DUPLICATE_LOOKS) & (partner >= 0)
        young = ready & (pid < tab.ids[firm])
        young &= partner[np.maximum(partner, 0)] == np.arange(len(firm))
        # Two different cooperative identities are two aircraft, however close.
        ident = tab.ident[firm]
        other = ident[np.maximum(partner, 0)]
        young &= ~((ident >= 0) & (other >= 0) & (ident != other))
        if not young.any():
            return ()
        keep_rows = firm[partner[young]]
        gone_rows = firm[young]
        tighter = (np.trace(tab.P[gone_rows, :3, :3], axis1=1, axis2=2)
                   < np.trace(tab.P[keep_rows, :3, :3], axis1=1, axis2=2))
        src, dst = gone_rows[tighter], keep_rows[tighter]
        for col in (tab.x, tab.P, tab.xm, tab.Pm, tab.mode_prob, tab.t, tab.t_update):
            col[dst] = col[src]
        tab.llr[keep_rows] = np.maximum(tab.llr[keep_rows], tab.llr[gone_rows])
        tab.sources[keep_rows] |= tab.sources[gone_rows]
        give = (tab.ident[keep_rows] < 0) & (tab.ident[gone_rows] >= 0)
        tab.ident[keep_rows[give]] = tab.ident[gone_rows[give]]
        tab.ident[gone_rows] = NO_IDENT
        tab.dup_n[keep_rows] = 0
        tab.dup_of[keep_rows] = -1
        self.counters["tracks_merged_duplicate"] += len(gone_rows)
        gone = np.zeros(tab.n, dtype=bool)
        gone[gone_rows] = True
        return self._remove(gone)

    def _apply_life_cycle(self, t: float, pos_var: F64) -> tuple[int, ...]:
        """Confirm, coast and delete; ``pos_var`` (N,) is each track's largest position
        variance at ``t`` (m²)."""
        tab = self.table
        if not tab.n:
            return ()
        pos_sigma = np.sqrt(pos_var)
        old = tab.status.copy()
        limits = thresholds(self.cfg.false_tracks_per_h, self._births.per_hour(),
                            self.cfg.score_drop_probability)
        tab.status[:] = next_status(old, tab.looks, tab.misses, t - tab.t_update, pos_sigma,
                                    self.cfg, tab.ident >= 0, tab.llr, limits)
        self.counters["tracks_confirmed"] += int(((old == TENTATIVE) & (tab.status == 1)).sum())
        gone = tab.status == DELETED
        if not gone.any():
            return ()
        return self._remove(gone)

    # ------------------------------------------------------------------ helpers

    def _room(self, wanted: int) -> int:
        """How many of ``wanted`` new tracks the caps allow now (``max_births_per_batch``
        per batch, ``max_tracks`` live); the rest are counted in ``births_refused_cap``."""
        room = max(0, min(self.cfg.max_births_per_batch - self._born,
                          self.cfg.max_tracks - self.table.n))
        refused = max(0, wanted - room)
        if refused:
            self.counters["births_refused_cap"] += refused
            if not self._warned_cap:
                self._warned_cap = True
                log.warning("track caps reached (max_tracks %d, max_births_per_batch %d): "
                            "new tracks refused, counted in births_refused_cap",
                            self.cfg.max_tracks, self.cfg.max_births_per_batch)
        got = wanted - refused
        self._born += got
        return got

    def forget_sensor(self, sensor_col: int) -> None:
        """Sensor column ``sensor_col`` is given to another sensor: no track keeps it."""
        if sensor_col < self.table.sources.shape[1]:
            self.table.sources[:, sensor_col] = False

    def _identity_pairs(self, meas: MeasurementBatch) -> tuple[I64, I64] | None:
        """(track row, det) pairs that share an identity key, found by sorted lookup."""
        tab = self.table
        with_ident = np.flatnonzero(meas.ident >= 0)
        if not len(with_ident) or not tab.n:
            return None
        order = np.argsort(tab.ident, kind="stable")
        sorted_ident = tab.ident[order]
        pos = np.searchsorted(sorted_ident, meas.ident[with_ident])
        pos = np.minimum(pos, tab.n - 1)
        match = sorted_ident[pos] == meas.ident[with_ident]
        return order[pos[match]].astype(np.int64), with_ident[match]

    def _hold_deleted(self, block: TrackRows) -> None:
        """Keep deleted tracks until the next snapshot reports them, within a memory bound
        (a caller that never asks for snapshots must not make the tracker grow)."""
        self._deleted.append(block)
        self._n_deleted_held += len(block.ids)
        while self._n_deleted_held > MAX_DELETED_HELD and len(self._deleted) > 1:
            old = self._deleted.pop(0)
            self._n_deleted_held -= len(old.ids)
            self.counters["deleted_not_reported"] += len(old.ids)
