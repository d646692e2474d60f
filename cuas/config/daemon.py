"""The fusion daemon's own settings: tracker, publishing and buffering, classification."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from cuas.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Tracker parameters. Units: metres, seconds, m/s, m/s^2."""

    #: IMM motion modes. Constant velocity: white-noise acceleration spectral density,
    #: horizontal and vertical (m^2/s^3).
    accel_noise_h: float = 0.25
    accel_noise_v: float = 0.25
    #: Manoeuvre: the same model with the noise of a hard turn or dash (m^2/s^3).
    manoeuvre_noise_h: float = 10.0
    manoeuvre_noise_v: float = 2.5
    #: Hover: position random walk (m^2/s) and the 1-sigma speed left to a hovering target (m/s).
    hover_noise: float = 0.5
    hover_speed_sigma: float = 0.5
    #: Mean time (s) a target stays in one motion mode before switching.
    mode_sojourn_s: float = 20.0
    #: 1-sigma of the unknown velocity of a new track (m/s), per horizontal axis / vertical.
    init_speed_sigma: float = 30.0
    init_vspeed_sigma: float = 3.0
    #: Probability that the true detection falls inside the Mahalanobis gate.
    gate_probability: float = 0.9999
    #: Confirmation: "score" (sequential likelihood-ratio test against the clutter density
    #: measured online) or "m_of_n" (M hits in the last N looks).
    initiation: str = "score"
    confirm_m: int = 3
    confirm_n: int = 5
    #: Score: probability that a sensor detects a target it looks at; target false-track rate
    #: (per hour, sets the confirm threshold); probability of dropping a real new target.
    detection_probability: float = 0.9
    false_tracks_per_h: float = 10.0
    score_drop_probability: float = 0.01
    #: A confirmed track coasts after this many consecutive misses or this long without update.
    coast_misses: int = 1
    coast_after_s: float = 2.0
    #: Deletion: consecutive misses, time since the last update, or position uncertainty growth.
    delete_misses_tentative: int = 2
    delete_misses_confirmed: int = 6
    delete_after_s_tentative: float = 5.0
    delete_after_s_confirmed: float = 12.0
    #: Tracks holding a cooperative identity (ICAO, Remote ID) outlive silence longer: an
    #: aircraft heard only now and then is one aircraft, not a new track each time.
    delete_after_s_identified: float = 60.0
    max_pos_sigma: float = 300.0
    #: Reorder buffer: how late a batch may arrive (s) before it is dropped as late.
    lateness_s: float = 0.5
    #: A batch more than this far ahead of the stream's clock (or the wall clock, live) is
    #: dropped as absurd instead of flinging every track into the future.
    max_future_s: float = 300.0
    #: Bearings (cameras): an unclaimed bearing waits this long (s) for one from another
    #: sensor to triangulate a new track with; rays that miss the fitted point by more than
    #: ``bearing_gate_sigma`` of their own uncertainty belong to different targets.
    bearing_window_s: float = 0.25
    bearing_gate_sigma: float = 4.0
    #: Caps against floods (counted when they bite): live tracks at most; tentative tracks
    #: born from one batch at most; distinct sensors remembered (columns of the per-track
    #: sources matrix; the least recently seen is forgotten to make room).
    max_tracks: int = 20_000
    max_births_per_batch: int = 2_048
    max_sensors: int = 256
    #: Distinct cooperative identities remembered (ICAO addresses, Remote ID serials and their
    #: aliases, folded together when they meet): beyond it the least recently heard ones that
    #: no live track holds are forgotten, so a sender inventing ids cannot grow memory.
    max_identities: int = 10_000
    #: Work bound per batch: live tracks x detections (the gating pairs the tracker weighs).
    #: Beyond it the batch keeps only as many detections as fit (the rest counted in
    #: ``detections_dropped_work``), so one message cannot stall the daemon for seconds. The
    #: default admits 10,000 tracks x 10,000 detections: the tracker weighs only the gated pairs.
    max_pairs_per_batch: int = 100_000_000
    #: Data association: "gnn" (global nearest neighbour: one detection per track, the best
    #: joint assignment) or "jpda" (joint probabilistic: each track updated with every gated
    #: detection, weighted by its marginal association probability) or "mht" (GNN whose close
    #: calls in conflict clusters are revisited by the next scan: tracking.mht).
    association: str = "gnn"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and (not math.isfinite(v) or v < 0):
                raise ConfigError(f"must be a finite number >= 0, got {v}", key=f"tracker.{f.name}")
        for name in ("accel_noise_h", "accel_noise_v", "init_speed_sigma", "init_vspeed_sigma",
                     "max_pos_sigma", "manoeuvre_noise_h", "manoeuvre_noise_v", "hover_noise",
                     "hover_speed_sigma", "mode_sojourn_s"):
            if getattr(self, name) <= 0:
                raise ConfigError("must be > 0", key=f"tracker.{name}")
        if not 0.5 <= self.gate_probability < 1.0:
            raise ConfigError("must lie in [0.5, 1)", key="tracker.gate_probability")
        if self.initiation not in ("score", "m_of_n"):
            raise ConfigError('must be "score" or "m_of_n"', key="tracker.initiation")
        if self.association not in ("gnn", "jpda", "mht"):
            raise ConfigError('must be "gnn", "jpda" or "mht"', key="tracker.association")
        for name in ("detection_probability", "score_drop_probability"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError("must lie in (0, 1)", key=f"tracker.{name}")
        if self.false_tracks_per_h <= 0:
            raise ConfigError("must be > 0", key="tracker.false_tracks_per_h")
        if not 1 <= self.confirm_m <= self.confirm_n <= 32:
            raise ConfigError("need 1 <= confirm_m <= confirm_n <= 32", key="tracker.confirm_m")
        for name in ("coast_misses", "delete_misses_tentative", "delete_misses_confirmed"):
            if not 1 <= getattr(self, name) <= 10_000:  # the miss counter is 16-bit
                raise ConfigError("must lie in [1, 10000]", key=f"tracker.{name}")
        if not 0.0 < self.bearing_window_s <= 10.0:
            raise ConfigError("must lie in (0, 10] s", key="tracker.bearing_window_s")
        if not 1.0 <= self.bearing_gate_sigma <= 100.0:
            raise ConfigError("must lie in [1, 100]", key="tracker.bearing_gate_sigma")
        if not 1_000 <= self.max_pairs_per_batch <= 1_000_000_000:
            raise ConfigError("must lie in [1000, 1e9]", key="tracker.max_pairs_per_batch")
        for name in ("max_tracks", "max_births_per_batch", "max_sensors", "max_identities"):
            if not 1 <= getattr(self, name) <= 1_000_000:
                raise ConfigError("must lie in [1, 1000000]", key=f"tracker.{name}")


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """The fusion daemon's publishing and buffering."""

    #: Most tracks snapshots per second (one follows soon after each change, up to this rate;
    #: 20 keeps an operator's detection-to-track latency within about 50 ms plus the window).
    snapshot_hz: float = 20.0
    #: Largest number of received batches waiting for the tracker; beyond it the oldest is
    #: dropped and counted.
    queue_size: int = 10_000
    #: Keep time by the stream instead of the wall clock (replaying a recording of the past
    #: into the daemon). Chosen here or by ``cuas run --replay``, never by a message.
    replay: bool = False
    #: A sensor whose clock model puts its stamps further than this ahead of the wall clock
    #: (s) is quarantined until they come back within half of it.
    max_clock_offset_s: float = 5.0
    #: A message with more detections than this is dropped, counted.
    max_detections_per_message: int = 20_000
    #: A detection whose ``attrs`` encode to more bytes than this loses them, counted.
    max_attrs_bytes: int = 4_096
    #: Live, size the reorder window from each sensor's measured delivery delay (at most
    #: ``tracker.lateness_s``) instead of always waiting ``tracker.lateness_s``.
    adaptive_lateness: bool = True
    #: Fuse a cooperative feed's (ADS-B, Remote ID) messages released together within this
    #: many seconds as one tracker step (0: one step per message); see cuas/fusion/merge.py.
    merge_window_s: float = 0.1

    def __post_init__(self) -> None:
        if not 0.01 <= self.snapshot_hz <= 1000.0:
            raise ConfigError("must lie in [0.01, 1000]", key="daemon.snapshot_hz")
        if not 1 <= self.queue_size <= 10_000_000:
            raise ConfigError("must lie in [1, 10000000]", key="daemon.queue_size")
        if not 0.1 <= self.max_clock_offset_s <= 86_400.0:
            raise ConfigError("must lie in [0.1, 86400] s", key="daemon.max_clock_offset_s")
        if not 1 <= self.max_detections_per_message <= 200_000:
            raise ConfigError("must lie in [1, 200000]", key="daemon.max_detections_per_message")
        if not 0 <= self.max_attrs_bytes <= 16 * 1024 * 1024:
            raise ConfigError("must lie in [0, 16777216]", key="daemon.max_attrs_bytes")
        if not 0.0 <= self.merge_window_s <= 1.0:
            raise ConfigError("must lie in [0, 1] s", key="daemon.merge_window_s")


@dataclass(frozen=True, slots=True)
class ClassifyConfig:
    """Classifier and threat settings (seconds, probabilities in [0, 1])."""

    #: Turn classification and threat off: tracks then carry the contract's neutral values.
    enabled: bool = True
    #: A level may fall only after the score has stayed below its threshold (less
    #: ``hysteresis``) for ``hold_s`` seconds; rising is immediate.
    hysteresis: float = 0.08
    hold_s: float = 5.0
    #: An RF control link heard within this many seconds counts as active.
    rf_window_s: float = 5.0
    #: A Remote ID report farther than this from its track (m) disagrees with it.
    rid_mismatch_m: float = 60.0
    #: Sensor class evidence on a track halves every this many seconds (forgetting).
    evidence_half_life_s: float = 30.0
    #: One sensor's looks at a track closer together than this (s) count as one look.
    evidence_decorrelation_s: float = 1.0
    #: A likely drone this many seconds or less from a protected asset is ``high``.
    tta_high_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.hysteresis <= 0.5:
            raise ConfigError("must lie in [0, 0.5]", key="classify.hysteresis")
        for name in ("hold_s", "rf_window_s", "rid_mismatch_m", "evidence_half_life_s",
                     "evidence_decorrelation_s", "tta_high_s"):
            v = getattr(self, name)
            if not 0.0 <= v <= 86_400.0:
                raise ConfigError("must lie in [0, 86400]", key=f"classify.{name}")

