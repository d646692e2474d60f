"""The multi-target tracker: predictor, hypothesiser, associator, updater, initiator and
deleter, each batched over all tracks of the table at once.

Feed it validated ``detections`` messages in time order (see :mod:`cuas.tracking.reorder`);
ask it for a ``tracks`` snapshot at any time at or after the last batch.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from cuas import wire
from cuas.classify.classifier import AlertEvent, Classification, Classifier, TrackInputs
from cuas.classify.inputs import ICAO, RID, IdentReports, RfLog, RfReport
from cuas.config import Config, reference_config
from cuas.geo import SiteFrame
from cuas.tracking.associator import gnn_assign
from cuas.tracking.deleter import next_status, silence_limits
from cuas.tracking.hypothesiser import Hypotheses, hypothesise
from cuas.tracking.initiator import (
    MAX_PENDING_BEARINGS,
    Bearings,
    bearings_of,
    cross_bearings,
    initial_states,
)
from cuas.tracking.measurements import (
    FRAME_AE,
    FRAME_POS,
    FRAME_RAE,
    MeasurementBatch,
    to_measurements,
)
from cuas.tracking.models import POS, VEL, cv_predict
from cuas.tracking.state import (
    COASTING,
    CONFIRMED,
    DELETED,
    NO_IDENT,
    STATUS_NAMES,
    TENTATIVE,
    TrackTable,
)
from cuas.tracking.updater import inverse, kalman_update, mahalanobis2

log = logging.getLogger(__name__)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: An identity match (same ICAO or Remote ID serial) is accepted this many times further out
#: than the ordinary gate (in squared Mahalanobis distance): the identity is strong evidence,
#: but a jump of kilometres is a spoof or a decoding error, not the same aircraft.
IDENTITY_GATE_FACTOR = 100.0
#: Velocity gate for an anonymous detection joining a track that holds an identity.
VELOCITY_GATE_PROBABILITY = 0.99
#: Sensor kinds that relay what an aircraft broadcasts about itself (the rest observe it).
COOPERATIVE_KINDS = frozenset({"adsb", "remoteid"})
#: Deleted tracks waiting for the next snapshot to report them, at most.
MAX_DELETED_HELD = 100_000


@dataclass(frozen=True, slots=True)
class _Rows:
    """A copy of some table rows, with states predicted to an output time."""

    ids: I64
    x: F64
    P: F64
    status: NDArray[np.int8]
    t_update: F64
    ident: I64
    sources: NDArray[np.bool_]
    t_birth: F64
    looks: NDArray[np.uint32]
    n_looks: NDArray[np.int16]

    @classmethod
    def of(cls, tab: TrackTable, rows: I64, x: F64, P: F64) -> _Rows:
        return cls(tab.ids[rows], x, P, tab.status[rows], tab.t_update[rows], tab.ident[rows],
                   tab.sources[rows], tab.t_birth[rows], tab.looks[rows], tab.n_looks[rows])

    @classmethod
    def concat(cls, blocks: list[_Rows]) -> _Rows:
        """One block of several (the sources matrix may have grown between them)."""
        if len(blocks) == 1:
            return blocks[0]
        width = max(b.sources.shape[1] for b in blocks)

        def cat(name: str) -> Any:
            return np.concatenate([getattr(b, name) for b in blocks])

        src = np.concatenate([np.pad(b.sources, ((0, 0), (0, width - b.sources.shape[1])))
                              for b in blocks])
        return cls(cat("ids"), cat("x"), cat("P"), cat("status"), cat("t_update"), cat("ident"),
                   src, cat("t_birth"), cat("looks"), cat("n_looks"))


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


class Tracker:
    """Batched multi-target Kalman tracker over a site's ENU frame (metres, seconds UTC)."""

    def __init__(self, config: Config | None = None, *, classify: bool | None = None) -> None:
        """``classify`` (default: the configuration's ``classify.enabled``) runs the classifier
        on every snapshot; without it tracks carry the contract's neutral values."""
        self.config = config if config is not None else reference_config()
        self.cfg = self.config.tracker
        self.site = SiteFrame(self.config.site)
        self.table = TrackTable()
        self.time: float | None = None
        self.counters: Counter[str] = Counter()
        self._next_id = 1
        self._ident_index: dict[str, int] = {}
        self._ident_info: dict[int, wire.Ident] = {}
        self._sensor_index: dict[str, int] = {}
        self._sensor_names: list[str] = []
        self._sensor_coop: list[bool] = []
        self._receivers: dict[tuple[float, float, float], F64] = {}
        self._deleted: list[_Rows] = []
        self._n_deleted_held = 0
        self._gate = {d: float(chi2.ppf(self.cfg.gate_probability, d)) for d in (1, 2, 3)}
        self._velocity_gate = float(chi2.ppf(VELOCITY_GATE_PROBABILITY, 3))
        #: Unclaimed camera bearings waiting for another sensor's to cross (initiator).
        self._bearings = Bearings.empty()
        self._warned_drop: set[str] = set()
        # What the classifier reads besides states; the numeric core never uses these.
        self.ident_reports = IdentReports()
        self.rf_log = RfLog()
        enabled = self.config.classify.enabled if classify is None else classify
        self.classifier = Classifier(self.config, self.site) if enabled else None
        self._alerts: list[AlertEvent] = []

    # ------------------------------------------------------------------ public API

    def process(self, batch: wire.Detections) -> StepResult:
        """Run one batch (all measured at ``batch.t``) through every stage.

        A batch older than the last one processed is dropped and counted, never applied: the
        tracker's state only moves forward in time.
        """
        self.counters["batches_received"] += 1
        if self.time is not None and batch.t < self.time:
            self.counters["batches_dropped_late"] += 1
            return StepResult(batch.t, False, f"batch at {batch.t} is older than {self.time}")
        sensor = self.config.sensor(batch.sensor, batch.kind)
        meas = to_measurements(batch, self.site, sensor.origin, self._ident_index)
        if meas.n_dropped:
            self.counters["detections_dropped"] += meas.n_dropped
            if batch.sensor not in self._warned_drop:
                self._warned_drop.add(batch.sensor)
                log.warning("sensor %s: dropped detections: %s", batch.sensor, meas.drop_reasons[0])
        self.counters["detections_nonpositional"] += meas.n_nonpositional
        if meas.n_nonpositional:
            self._remember_rf(batch)
        self.counters["detections_used"] += meas.m
        if meas.merged:
            self._merge_identities(meas.merged)
        self._remember_idents(batch, meas)
        result = self._step(meas, sensor.is_scanning, sensor.max_range_m)
        self.counters["batches_processed"] += 1
        self.time = batch.t
        return result

    def snapshot(self, t: float | None = None, src: str | None = None, seq: int = 0) -> wire.Tracks:
        """All live tracks predicted to ``t`` (default: the last batch time), plus each track
        deleted since the previous snapshot, once, with status ``deleted``."""
        if t is None:  # before any batch, "now" is the only honest time
            t = self.time if self.time is not None else time.time()
        tab = self.table
        blocks = list(self._deleted)
        if tab.n:
            dt = np.maximum(t - tab.t, 0.0)
            x, P = cv_predict(tab.x, tab.P, dt, self.cfg.accel_noise_h, self.cfg.accel_noise_v)
            blocks.append(_Rows.of(tab, np.arange(tab.n), x, P))
        self._deleted = []
        self._n_deleted_held = 0
        tracks: list[wire.Track] = []
        if blocks:
            rows = _Rows.concat(blocks)
            result = self._classify(t, rows)
            tracks = self._export(rows, result)
        return wire.Tracks(src=src or self.config.daemon_id, seq=seq, t=t, tracks=tuple(tracks))

    def take_alerts(self) -> list[AlertEvent]:
        """Alerts raised by the snapshots since the last call (oldest first)."""
        alerts, self._alerts = self._alerts, []
        return alerts

    @property
    def n_tracks(self) -> int:
        return self.table.n

    # ------------------------------------------------------------------ stages

    def _step(self, meas: MeasurementBatch, scanning: bool, max_range: float | None) -> StepResult:
        t = meas.t
        tab = self.table
        expired = self._expire(t)
        n = tab.n
        sensor_col = self._sensor_col(meas.sensor, meas.kind)
        tab.ensure_sensors(len(self._sensor_names))

        # Predictor: every track to this batch's time (each from its own last update).
        if n:
            x_pred, P_pred = cv_predict(tab.x, tab.P, t - tab.t, self.cfg.accel_noise_h,
                                        self.cfg.accel_noise_v)
        else:
            x_pred, P_pred = np.zeros((0, 6)), np.zeros((0, 6, 6))

        # Hypothesiser: gated pairs, plus identity pairs wherever they are.
        id_pairs = self._identity_pairs(meas)
        hyp = hypothesise(x_pred, P_pred, meas, self._gate, id_pairs)
        dims = np.where(meas.model[hyp.det] == FRAME_AE, 2, 3)
        gate = np.where(dims == 2, self._gate[2], self._gate[3])
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
        cost = np.where(same[pick], -gate[pick], hyp.d2[pick])  # a kept identity always wins

        # Associator: global nearest neighbour per independent cluster, established tracks
        # first. A tentative track born of clutter is wide and would otherwise bid for (and
        # win) a confirmed track's detection; it only gets what the confirmed ones leave.
        firm = tab.status[hyp.track[pick]] != TENTATIVE if n else np.zeros(0, dtype=bool)
        first = np.flatnonzero(firm)
        chosen_first = first[gnn_assign(hyp.track[pick[first]], hyp.det[pick[first]],
                                        cost[first], gate[pick[first]], n, meas.m)]
        taken = np.zeros(meas.m, dtype=bool)
        taken[hyp.det[pick[chosen_first]]] = True
        second = np.flatnonzero(~firm & ~taken[hyp.det[pick]])
        chosen_second = second[gnn_assign(hyp.track[pick[second]], hyp.det[pick[second]],
                                          cost[second], gate[pick[second]], n, meas.m)]
        chosen = pick[np.concatenate([chosen_first, chosen_second])]
        rows = hyp.track[chosen]
        dets = hyp.det[chosen]

        # Updater.
        x_new, P_new = x_pred.copy(), P_pred.copy()
        if len(rows):
            x_u, P_u = self._update(x_pred[rows], P_pred[rows], meas, dets, hyp, chosen)
            good = np.all(np.isfinite(x_u), axis=1) & np.all(np.isfinite(P_u), axis=(1, 2))
            if not good.all():
                self.counters["updates_rejected_numeric"] += int((~good).sum())
                rows, dets, x_u, P_u = rows[good], dets[good], x_u[good], P_u[good]
            x_new[rows] = x_u
            P_new[rows] = P_u
        hit = np.zeros(n, dtype=bool)
        hit[rows] = True
        self._commit(x_new, P_new, hit, rows, dets, meas, sensor_col, scanning, max_range)
        pos_var = np.diagonal(P_new[:, :3, :3], axis1=1, axis2=2).max(axis=1) if n else np.zeros(0)

        # Initiator: unclaimed detections that fix a point start tentative tracks.
        claimed = np.zeros(meas.m, dtype=bool)
        claimed[dets] = True
        fresh = np.flatnonzero(~claimed & (meas.model != FRAME_AE))
        created, new_var = self._initiate(meas, fresh, sensor_col)
        # Bearings fix no point alone: they start tracks only where they cross another
        # sensor's (a single camera never invents a range).
        bearing = np.flatnonzero(~claimed & (meas.model == FRAME_AE))
        if len(bearing) or len(self._bearings):
            crossed, crossed_var = self._initiate_from_bearings(meas, bearing, sensor_col)
            created += crossed
            new_var = np.concatenate([new_var, crossed_var])

        # Deleter.
        deleted = expired + self._apply_life_cycle(t, np.concatenate([pos_var, new_var]))
        self.counters["associations"] += len(rows)
        return StepResult(t, True, assigned=len(rows), created=created, deleted=deleted,
                          dropped_detections=meas.n_dropped)

    def _update(self, x: F64, P: F64, meas: MeasurementBatch, dets: I64, hyp: Hypotheses,
                chosen: I64) -> tuple[F64, F64]:
        """Posteriors of the chosen pairs (tracks' predicted x (K,6), P (K,6,6))."""
        x_u = np.empty_like(x)
        P_u = np.empty_like(P)
        model = meas.model[dets]
        for code, m, selects in ((FRAME_POS, 3, POS), (FRAME_RAE, 3, None), (FRAME_AE, 2, None)):
            sel = np.flatnonzero(model == code)
            if not len(sel):
                continue
            c = chosen[sel]
            x_u[sel], P_u[sel] = kalman_update(
                x[sel], P[sel], hyp.y[c, :m], hyp.H[c, :m], meas.R[dets[sel], :m, :m],
                hyp.S_inv[c, :m, :m], selects=selects,
            )
        with_vel = np.flatnonzero(meas.has_vel[dets])
        if len(with_vel):  # a second, sequential update: the noises are independent
            y = meas.vel[dets[with_vel]] - x_u[with_vel, 3:]
            x_u[with_vel], P_u[with_vel] = kalman_update(
                x_u[with_vel], P_u[with_vel], y, None, meas.vel_R[dets[with_vel]], selects=VEL
            )
        return x_u, P_u

    def _commit(self, x_new: F64, P_new: F64, hit: NDArray[np.bool_], rows: I64, dets: I64,
                meas: MeasurementBatch, sensor_col: int, scanning: bool,
                max_range: float | None) -> None:
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
        if scanning:
            # A full look: every track it could have seen and did not is missed.
            missed = ~hit
            if max_range is not None and meas.sensor_frame is not None:
                rng = np.linalg.norm(meas.sensor_frame.site_to_local(x_new[:, :3]), axis=1)
                missed &= rng <= max_range
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

    def _initiate(self, meas: MeasurementBatch, fresh: I64,
                  sensor_col: int) -> tuple[tuple[int, ...], F64]:
        """Start tentative tracks; returns their ids and largest position variances (m²)."""
        tab = self.table
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
        tab.sources[rows, sensor_col] = True
        self.counters["tracks_created"] += len(fresh)
        return tuple(int(i) for i in ids), np.diagonal(P0[:, :3, :3], axis1=1, axis2=2).max(axis=1)

    def _initiate_from_bearings(self, meas: MeasurementBatch, dets: I64,
                                sensor_col: int) -> tuple[tuple[int, ...], F64]:
        """Cross this batch's unclaimed bearings ``dets`` with other sensors' pending ones:
        tentative tracks where they meet; the rest wait (``bearing_window_s``) for a partner.
        Returns the new tracks' ids and largest position variances (m²)."""
        cfg = self.cfg
        t = meas.t
        pending = self._bearings
        if len(pending):
            pending = pending.take((t - pending.t <= cfg.bearing_window_s) & (pending.t <= t))
        new = bearings_of(meas, dets, sensor_col)
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
        k = len(fix.point)
        if not k:
            return (), np.zeros(0)
        tab = self.table
        x0 = np.zeros((k, 6))
        x0[:, :3] = fix.point
        P0 = np.zeros((k, 6, 6))
        P0[:, :3, :3] = fix.cov
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
        g, c = np.nonzero(fix.sensors >= 0)
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
        self._hold_deleted(_Rows.of(tab, rows, tab.x[rows].copy(), tab.P[rows].copy()))
        ids = tuple(int(i) for i in tab.ids[rows])
        self.counters["tracks_deleted"] += len(rows)
        tab.keep(~gone)
        return ids

    def _apply_life_cycle(self, t: float, pos_var: F64) -> tuple[int, ...]:
        """Confirm, coast and delete; ``pos_var`` (N,) is each track's largest position
        variance at ``t`` (m²)."""
        tab = self.table
        if not tab.n:
            return ()
        pos_sigma = np.sqrt(pos_var)
        old = tab.status.copy()
        tab.status[:] = next_status(old, tab.looks, tab.misses, t - tab.t_update, pos_sigma,
                                    self.cfg, tab.ident >= 0)
        self.counters["tracks_confirmed"] += int(((old == TENTATIVE) & (tab.status == 1)).sum())
        gone = tab.status == DELETED
        if not gone.any():
            return ()
        return self._remove(gone)

    # ------------------------------------------------------------------ helpers

    def _sensor_col(self, sensor: str, kind: str = "sim") -> int:
        col = self._sensor_index.get(sensor)
        if col is None:
            col = self._sensor_index[sensor] = len(self._sensor_names)
            self._sensor_names.append(sensor)
            # Cooperative feeds report what the aircraft says of itself; the others see it.
            self._sensor_coop.append(kind in COOPERATIVE_KINDS)
        return col

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

    def _remember_idents(self, batch: wire.Detections, meas: MeasurementBatch) -> None:
        for j in np.flatnonzero(meas.ident >= 0):
            det = batch.dets[int(meas.source[j])]
            assert det.ident is not None
            key = int(meas.ident[j])
            prev = self._ident_info.get(key)
            ident = det.ident
            if prev is not None:  # one message may carry the callsign, another the position
                ident = _merge_idents(prev, ident)
            self._ident_info[key] = ident
            if det.ident.icao is not None:
                self.ident_reports.record(key, ICAO, det.ident.icao, ident.callsign, batch.t,
                                          meas.pos[j], meas.vel[j])
            elif ident.rid is not None:
                self.ident_reports.record(key, RID, ident.rid, None, batch.t, meas.pos[j],
                                          meas.vel[j])
                self._judge_rid(batch, det, key, meas.pos[j])

    def _merge_identities(self, merged: tuple[tuple[int, int], ...]) -> None:
        """Identities found to be one aircraft (a drone known by its MAC until a report joined
        it to its serial): the old identity's track takes the new one, or, when a track already
        holds the new one, is deleted as its duplicate (one drone, one track)."""
        tab = self.table
        for old, new in merged:
            olds = tab.ident == old
            if olds.any():
                if (tab.ident == new).any():
                    self.counters["tracks_merged_identity"] += int(olds.sum())
                    self._remove(olds)
                else:
                    tab.ident[olds] = new
            info_old = self._ident_info.pop(old, None)
            info_new = self._ident_info.get(new)
            if info_old is not None:
                self._ident_info[new] = (info_old if info_new is None
                                         else _merge_idents(info_old, info_new))

    def _judge_rid(self, batch: wire.Detections, det: wire.Detection, key: int,
                   pos: F64) -> None:
        """Spoofing evidence of one Remote ID report (jumps, two places at once, a frozen
        signal), judged per transmitter against the receiving sensor's position if known."""
        mac = det.attrs.get("mac")
        rssi = det.attrs.get("rssi_dbm")
        origin = batch.origin or self.config.sensor(batch.sensor, batch.kind).origin
        receiver = None
        if origin is not None:
            receiver = self._receivers.get(origin)
            if receiver is None:
                receiver = self._receivers[origin] = self.site.lla_to_enu(np.asarray([origin]))[0]
                if len(self._receivers) > 10_000:  # bounded: origins come from messages too
                    self._receivers.clear()
        speed = math.hypot(det.vel[0], det.vel[1]) if det.vel is not None else None
        self.ident_reports.record_rid(
            key, batch.t, pos, f"{batch.sensor}/{mac}" if isinstance(mac, str) else None,
            float(rssi) if isinstance(rssi, int | float) and not isinstance(rssi, bool) else None,
            receiver, speed)

    def _hold_deleted(self, block: _Rows) -> None:
        """Keep deleted tracks until the next snapshot reports them, within a memory bound
        (a caller that never asks for snapshots must not make the tracker grow)."""
        self._deleted.append(block)
        self._n_deleted_held += len(block.ids)
        while self._n_deleted_held > MAX_DELETED_HELD and len(self._deleted) > 1:
            old = self._deleted.pop(0)
            self._n_deleted_held -= len(old.ids)
            self.counters["deleted_not_reported"] += len(old.ids)

    def _classify(self, t: float, rows: _Rows) -> Classification | None:
        """Run the classifier once over every row of a snapshot (deleted ones included)."""
        if self.classifier is None:
            return None
        var_pos = np.maximum(np.diagonal(rows.P[:, :3, :3], axis1=1, axis2=2), 0.0)
        var_vel = np.maximum(np.diagonal(rows.P[:, 3:, 3:], axis1=1, axis2=2), 0.0)
        hits = np.bitwise_count(rows.looks) if hasattr(np, "bitwise_count") else np.asarray(
            [bin(v).count("1") for v in rows.looks.tolist()], dtype=np.int64)
        inp = TrackInputs(
            t=t, ids=rows.ids, x=rows.x, pos_sigma=np.sqrt(var_pos), vel_sigma=np.sqrt(var_vel),
            firm=(rows.status == CONFIRMED) | (rows.status == COASTING),
            deleted=rows.status == DELETED, t_birth=rows.t_birth,
            hit_ratio=hits / np.maximum(rows.n_looks, 1), n_sources=rows.sources.sum(axis=1)
            .astype(np.float64), ident=rows.ident,
            independent=(rows.sources & ~np.asarray(
                self._sensor_coop[:rows.sources.shape[1]]
                + [True] * (rows.sources.shape[1] - len(self._sensor_coop)), dtype=bool)
                [None, :]).any(axis=1))
        result = self.classifier.classify(inp, self.ident_reports, self.rf_log.reports)
        self._alerts.extend(result.alerts)
        del self._alerts[:-10_000]  # a caller that never takes alerts must not make this grow
        return result

    def _remember_rf(self, batch: wire.Detections) -> None:
        """Keep positionless detections (RF presence) for the classifier. One with an identity
        (a Remote ID broadcast with no fix) names a drone; it is not an anonymous link. One
        that its RF sensor itself calls no link (``attrs.link == "none"``: a car key, a meter,
        published with ``--all``) is ISM background, not evidence of a drone."""
        links = [det for det in batch.dets
                 if det.frame == "none" and det.ident is None and det.attrs.get("link") != "none"]
        for det in links:
            self.rf_log.add(RfReport.from_attrs(batch.t, batch.sensor, det.attrs, len(links)))

    def _export(self, rows: _Rows, cls: Classification | None = None) -> list[wire.Track]:
        """Contract tracks for a block of rows (states already predicted to the output time),
        with the classifier's results when there are any."""
        if not len(rows.ids):
            return []
        x, P = rows.x, rows.P
        lla = self.site.enu_to_lla(x[:, :3])
        sig = np.sqrt(np.maximum(np.diagonal(P[:, :3, :3], axis1=1, axis2=2), 0.0))
        n_cols = rows.sources.shape[1]
        names = np.asarray(self._sensor_names[:n_cols] + [""] * (n_cols - len(self._sensor_names)))
        out: list[wire.Track] = []
        ids = rows.ids.tolist()
        t_upd = rows.t_update.tolist()
        idents = rows.ident.tolist()
        src = rows.sources
        x_l, lla_l, sig_l, st = x.tolist(), lla.tolist(), sig.tolist(), rows.status.tolist()
        if cls is not None:
            probs = cls.probs.tolist()
            levels = [wire.THREAT_LEVELS[v] for v in cls.level.tolist()]
            malicious = cls.malicious.tolist()
            reasons = cls.reasons
        for k in range(len(ids)):
            ident = self._ident_info.get(idents[k]) if idents[k] >= 0 else None
            if cls is not None:
                extra = {"class_probs": dict(zip(wire.CLASSES, probs[k], strict=True)),
                         "threat": levels[k], "malicious": malicious[k], "reasons": reasons[k]}
            else:
                extra = {"class_probs": wire.NEUTRAL_CLASS}
            out.append(wire.Track(
                id=ids[k],
                status=STATUS_NAMES[st[k]],
                lla=(lla_l[k][0], lla_l[k][1], lla_l[k][2]),
                enu=(x_l[k][0], x_l[k][1], x_l[k][2]),
                vel=(x_l[k][3], x_l[k][4], x_l[k][5]),
                pos_sigma=(sig_l[k][0], sig_l[k][1], sig_l[k][2]),
                t_update=t_upd[k],
                sources=tuple(names[src[k]].tolist()),
                ident=ident,
                **extra,
            ))
        return out


def _merge_idents(prev: wire.Ident, new: wire.Ident) -> wire.Ident:
    """What is known of one identity after a new report: the newest of each field, except that
    a serial (or other broadcast id) is never replaced by a bare ``mac:`` stand-in, and the
    aliases of both (at most :data:`wire.MAX_ALIASES`)."""
    rid = new.rid or prev.rid
    if new.rid is not None and new.rid.startswith("mac:") and prev.rid is not None \
            and not prev.rid.startswith("mac:"):
        rid = prev.rid
    aliases = tuple(a for a in dict.fromkeys((*prev.aliases, *new.aliases, *(
        [new.rid] if new.rid and new.rid != rid else []), *(
        [prev.rid] if prev.rid and prev.rid != rid else [])))
        if a != rid)[:wire.MAX_ALIASES]
    return wire.Ident(icao=new.icao or prev.icao, callsign=new.callsign or prev.callsign,
                      rid=rid, operator_lla=new.operator_lla or prev.operator_lla,
                      aliases=aliases)
