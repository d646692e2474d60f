"""The fusion engine: reorder buffer → tracker → identity registry → classifier → alerts →
wire export, the one pipeline behind the live daemon, offline replay and (later) a regional
federation node.

Push validated ``detections`` messages in any order; the engine releases them in time order
through the reorder buffer, turns each into arrays, runs the numeric tracker, and keeps what
the classifier needs. A snapshot predicts every track to a time, classifies them all at once
and exports contract ``tracks``; alerts raised by a snapshot wait in :meth:`take_alerts`.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable

import numpy as np

from cuas import wire
from cuas.classify import AlertEvent, Classification, Classifier, TrackInputs
from cuas.classify.inputs import RfLog, RfReport
from cuas.config import Config, reference_config
from cuas.fusion.evidence import attribute
from cuas.fusion.export import track_columns
from cuas.fusion.identities import IdentityRegistry
from cuas.fusion.measurements import to_measurements
from cuas.fusion.merge import merge_runs
from cuas.geo import SiteFrame
from cuas.sensors import registry
from cuas.sensors.radar.settings import RadarSettings
from cuas.tracking import StepResult, Tracker
from cuas.tracking.coverage import Coverage
from cuas.tracking.measurements import MeasurementBatch
from cuas.tracking.reorder import ReorderBuffer
from cuas.tracking.state import COASTING, CONFIRMED, DELETED, TrackRows
from cuas.wire.arrays import ArrayDetections
from cuas.wire.columns import TrackColumns

log = logging.getLogger(__name__)

#: Alerts waiting for :meth:`FusionEngine.take_alerts`, at most (oldest dropped).
MAX_ALERTS_HELD = 10_000

#: Called after each released batch is fused, with the batch and what the tracker did.
OnFused = Callable[[wire.Detections, StepResult], None]


class FusionEngine:
    """One site's fusion pipeline over its ENU frame (metres, seconds UTC).

    ``clock`` (live) gives the current UTC time to the reorder buffer, or None while the stream
    keeps its own time (a replay of the past); without it the newest batch time stands in.
    ``on_fused`` sees every batch the engine fuses, in time order, right after it is fused
    (before the next one), so a caller can snapshot each. ``classify`` (default: the
    configuration's ``classify.enabled``) runs the classifier on every snapshot; without it
    tracks carry the contract's neutral values. ``merge_window_s`` > 0: a cooperative feed's
    messages released together within that many seconds are fused as one step
    (:mod:`cuas.fusion.merge`); 0 fuses every message on its own.
    """

    def __init__(self, config: Config | None = None, *, classify: bool | None = None,
                 clock: Callable[[], float | None] | None = None,
                 on_fused: OnFused | None = None, merge_window_s: float = 0.0) -> None:
        self.config = config if config is not None else reference_config()
        self.site = SiteFrame(self.config.site)
        #: What the pipeline counted: batches, detections, tracks (the tracker counts into it
        #: too; the reorder buffer's own counts are in ``buffer.counters``).
        self.counters: Counter[str] = Counter()
        self.tracker = Tracker(self.config.tracker, self.counters)
        self.buffer: ReorderBuffer[wire.Detections] = ReorderBuffer(
            self.config.tracker.lateness_s, self.config.tracker.max_future_s, clock=clock)
        self.identities = IdentityRegistry(self.site)
        #: Positionless RF detections, which the classifier reads as link evidence.
        self.rf_log = RfLog()
        enabled = self.config.classify.enabled if classify is None else classify
        self.classifier = Classifier(self.config, self.site) if enabled else None
        self.on_fused = on_fused
        self.merge_window_s = merge_window_s
        #: The messages the batch being fused stands for (itself, or a merged run's parts).
        self.fused_parts: tuple[wire.Detections, ...] = ()
        # Sensor name to sources-matrix column, least recently seen first (at most
        # tracker.max_sensors: a sender inventing ids must not widen the matrix).
        self._sensor_index: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._sensor_names: list[str] = []
        self._sensor_coop: list[bool] = []
        self._warned_drop: set[str] = set()
        self._alerts: list[AlertEvent] = []
        self._work_warned = -1e9

    # ------------------------------------------------------------------ feeding

    def push(self, batch: wire.Detections, *, backlog: bool = False) -> int:
        """Buffer one validated batch and fuse every batch now due; returns how many were.

        ``backlog``: more batches already wait to be pushed (see :meth:`ReorderBuffer.due`).
        """
        return self._fuse(self.buffer.push(batch, backlog))

    def push_all(self, batches: list[wire.Detections], *, backlog: bool = False) -> int:
        """:meth:`push` each of ``batches`` (in arrival order), then fuse what became due, all
        together (so that a cooperative feed's messages can share a step); returns how many
        messages were fused. ``backlog``: more wait after these."""
        due: list[wire.Detections] = []
        last = len(batches) - 1
        for i, batch in enumerate(batches):
            due += self.buffer.push(batch, backlog or i < last)
        return self._fuse(due)

    def release(self) -> int:
        """Fuse the buffered batches whose lateness window has passed (call on a timer when
        live); returns how many were fused."""
        return self._fuse(self.buffer.due())

    def flush(self) -> int:
        """Fuse every buffered batch (end of a recording, shutdown); returns how many."""
        return self._fuse(self.buffer.flush())

    def process(self, batch: wire.Detections) -> StepResult:
        """Fuse one batch now, bypassing the reorder buffer.

        A batch older than the last one fused is dropped and counted, never applied: the
        tracks only move forward in time.
        """
        counters = self.counters
        counters["batches_received"] += 1
        last = self.tracker.time
        if last is not None and batch.t < last:
            counters["batches_dropped_late"] += 1
            return StepResult(batch.t, False, f"batch at {batch.t} is older than {last}")
        sensor = self.config.sensor(batch.sensor, batch.kind)
        meas = to_measurements(batch, self.site, sensor.origin, self.identities.index)
        if meas.n_dropped:
            counters["detections_dropped"] += meas.n_dropped
            if batch.sensor not in self._warned_drop:
                self._warned_drop.add(batch.sensor)
                log.warning("sensor %s: dropped detections: %s", batch.sensor, meas.drop_reasons[0])
        counters["detections_nonpositional"] += meas.n_nonpositional
        if meas.n_nonpositional:
            self._remember_rf(batch)
        budget = self.config.tracker.max_pairs_per_batch
        if meas.m * max(self.tracker.n_tracks, 1) > budget:
            keep = max(1, budget // max(self.tracker.n_tracks, 1))
            counters["detections_dropped_work"] += meas.m - keep
            if time.monotonic() - self._work_warned > 1.0:  # rate-limited: floods repeat
                self._work_warned = time.monotonic()
                log.warning("sensor %s: batch of %d detections against %d tracks is over the work "
                            "bound (tracker.max_pairs_per_batch): kept %d", batch.sensor[:64],
                            meas.m, self.tracker.n_tracks, keep)
            meas = dataclasses.replace(meas, **{
                name: getattr(meas, name)[:keep] for name in (
                    "model", "z", "R", "pos", "pos_cov", "vel", "vel_R", "has_vel", "ident",
                    "source")})
        counters["detections_used"] += meas.m
        if meas.merged:
            self.tracker.merge_identities(meas.merged)
            self.identities.merge(meas.merged)
        self.identities.remember(batch, meas, sensor.origin)
        # An array message (cuas/wire/arrays.py) carries no identity: its detections are not
        # built as objects only to find none.
        plain = isinstance(batch, ArrayDetections)
        if self.classifier is not None and not plain:
            for det in batch.dets:  # Remote ID authentication (issue 21: attrs.auth)
                auth = det.attrs.get("auth") if det.ident is not None and det.ident.rid else None
                if isinstance(auth, str):
                    self.classifier.note_rid_auth(det.ident.rid, auth)  # type: ignore[union-attr,arg-type]
        col = self._sensor_col(batch.sensor, batch.kind)
        result = self.tracker.step(meas, col, coverage=Coverage(
            scanning=sensor.is_scanning, max_range_m=sensor.max_range_m,
            azimuth_deg=sensor.sector_deg, elevation_deg=sensor.elevation_band_deg,
            revisit_s=sensor.revisit_s or 0.0, pd_half_range_m=sensor.pd_half_range_m))
        radar = sensor.settings.get("radar")  # a radar's declared calibration: RCS evidence
        radar = radar if isinstance(radar, RadarSettings) and radar.snr_1km_db is not None \
            else None
        # An array message says whether it holds attrs (snr_db, for RCS) or evidence.
        if self.classifier is not None and result.accepted and (
                (radar is not None and not batch.bare) or batch.has_evidence
                if isinstance(batch, ArrayDetections) else radar is not None or any(
                    getattr(d, "evidence", None) is not None for d in batch.dets)):
            self._take_evidence(batch, meas, col, result, radar)
        # After the step: this batch's identities are then held by their tracks (or were
        # dropped with their detections), so only identities no live track holds are forgotten.
        if self.identities.index.n_indices > self.config.tracker.max_identities:
            counters["identities_evicted"] += self.identities.evict(
                self.config.tracker.max_identities, self.tracker.table.ident)
        return result

    # ------------------------------------------------------------------ output

    def snapshot(self, t: float | None = None, src: str | None = None, seq: int = 0) -> wire.Tracks:
        """All live tracks predicted to ``t`` (default: the last batch time), plus each track
        deleted since the previous snapshot, once, with status ``deleted``; classified when
        the classifier runs (its alerts wait in :meth:`take_alerts`)."""
        t, cols = self.snapshot_columns(t)
        return cols.to_message(src or self.config.daemon_id, seq, t)

    def snapshot_columns(self, t: float | None = None) -> tuple[float, TrackColumns]:
        """:meth:`snapshot` as columns (no per-track object), with the time it is at; encode
        them with :func:`cuas.wire.columns.encode_track_columns`."""
        if t is None:  # before any batch, "now" is the only honest time
            t = self.tracker.time if self.tracker.time is not None else time.time()
        rows = self.tracker.snapshot(t)
        if not len(rows):
            return t, TrackColumns.empty()
        result = self._classify(t, rows)
        return t, track_columns(rows, self.site, self._sensor_names, self.identities, result,
                               modes=True)

    def take_alerts(self) -> list[AlertEvent]:
        """Alerts raised by the snapshots since the last call (oldest first)."""
        alerts, self._alerts = self._alerts, []
        return alerts

    @property
    def time(self) -> float | None:
        """The time of the last fused batch (UTC s), None before any."""
        return self.tracker.time

    @property
    def n_tracks(self) -> int:
        return self.tracker.n_tracks

    # ------------------------------------------------------------------ internals

    def _fuse(self, batches: list[wire.Detections]) -> int:
        runs = (merge_runs(batches, self.merge_window_s)
                if self.merge_window_s > 0.0 and len(batches) > 1
                else [(batch, (batch,)) for batch in batches])
        for batch, parts in runs:
            self.fused_parts = parts
            if len(parts) > 1:
                self.counters["batches_merged"] += len(parts) - 1
            result = self.process(batch)
            if self.on_fused is not None:
                self.on_fused(batch, result)
        return len(batches)

    def _sensor_col(self, sensor: str, kind: str) -> int:
        col = self._sensor_index.get(sensor)
        if col is not None:
            self._sensor_index.move_to_end(sensor)
            return col
        # Cooperative feeds report what the aircraft says of itself; the others see it.
        coop = registry.get(kind).cooperative
        if len(self._sensor_names) < self.config.tracker.max_sensors:
            col = self._sensor_index[sensor] = len(self._sensor_names)
            self._sensor_names.append(sensor)
            self._sensor_coop.append(coop)
            return col
        # Full: the least recently seen sensor's column is wiped and reused.
        _, col = self._sensor_index.popitem(last=False)
        self.counters["sensors_evicted"] += 1
        self.tracker.forget_sensor(col)
        self._sensor_index[sensor] = col
        self._sensor_names[col] = sensor
        self._sensor_coop[col] = coop
        return col

    def expire(self, t: float) -> int:
        """Delete tracks silent too long at ``t`` (UTC s) though no batch came (live, on a
        timer); returns how many went (reported by the next snapshot)."""
        return len(self.tracker.expire(t))

    def _remember_rf(self, batch: wire.Detections) -> None:
        """Keep positionless detections (RF presence) for the classifier. One with an identity
        (a Remote ID broadcast with no fix) names a drone; it is not an anonymous link. One
        that its RF sensor itself calls no link (``attrs.link == "none"``: a car key, a meter,
        published with ``--all``) is ISM background, not evidence of a drone."""
        links = [det for det in batch.dets
                 if wire.FRAME_DIM[det.frame] == 0 and det.ident is None
                 and det.attrs.get("link") != "none"]
        for det in links:
            self.rf_log.add(RfReport.from_attrs(batch.t, batch.sensor, det.attrs, len(links)))

    def _take_evidence(self, batch: wire.Detections, meas: MeasurementBatch, col: int,
                       result: StepResult, radar: RadarSettings | None = None) -> None:
        """Give each detection's class evidence to the track it went to (the tracks this batch
        updated; the tracker's association weights when it reports them)."""
        assert self.classifier is not None
        tab = self.tracker.table
        if not tab.n or col >= tab.sources.shape[1]:
            return
        updated = np.flatnonzero((tab.t_update == batch.t) & tab.sources[:, col])
        weights = getattr(result, "weights", None)
        ledger = self.classifier.evidence
        drops: dict[str, int] = {}
        for obs in attribute(batch, meas, tab.ids[updated], tab.x[updated], weights, radar,
                             drops):
            if ledger.add(obs):
                self.counters["evidence_used"] += 1
            else:
                self.counters["evidence_duplicate"] += 1
        for name, count in drops.items():  # plots whose snr_db gave no usable RCS
            self.counters[f"evidence_{name}"] += count

    def _classify(self, t: float, rows: TrackRows) -> Classification | None:
        """Run the classifier once over every row of a snapshot (deleted ones included)."""
        if self.classifier is None:
            return None
        var_pos = np.maximum(np.diagonal(rows.P[:, :3, :3], axis1=1, axis2=2), 0.0)
        var_vel = np.maximum(np.diagonal(rows.P[:, 3:, 3:], axis1=1, axis2=2), 0.0)
        hits = np.bitwise_count(rows.looks) if hasattr(np, "bitwise_count") else np.asarray(
            [bin(v).count("1") for v in rows.looks.tolist()], dtype=np.int64)
        n_cols = rows.sources.shape[1]
        # Columns not (yet) named count as cooperative: they contributed to no row anyway.
        coop = np.asarray(self._sensor_coop[:n_cols] + [True] * (n_cols - len(self._sensor_coop)),
                          dtype=bool)
        inp = TrackInputs(
            t=t, ids=rows.ids, x=rows.x, pos_sigma=np.sqrt(var_pos), vel_sigma=np.sqrt(var_vel),
            firm=(rows.status == CONFIRMED) | (rows.status == COASTING),
            deleted=rows.status == DELETED, t_birth=rows.t_birth,
            hit_ratio=hits / np.maximum(rows.n_looks, 1),
            n_sources=rows.sources.sum(axis=1).astype(np.float64), ident=rows.ident,
            independent=(rows.sources & ~coop[None, :]).any(axis=1),
            mode_prob=rows.mode_prob)
        result = self.classifier.classify(inp, self.identities.reports, self.rf_log.reports)
        self._alerts.extend(result.alerts)
        del self._alerts[:-MAX_ALERTS_HELD]  # a caller that never takes alerts must not grow it
        return result
