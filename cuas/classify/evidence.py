"""Per-track Bayesian fusion of sensor class evidence, with forgetting.

Each detection may carry a likelihood over the classes (``wire.ClassEvidence``: P(this
observation | class) for uav, bird, manned, clutter) and the sensor's confidence. Once the
tracker has said which track the detection went to (and with what association probability:
1 for a nearest-neighbour assignment, the JPDA weight once the tracker gives one), the
ledger adds ``weight * confidence * log(likelihood)`` to that track's log-evidence: a tempered
(power) likelihood, so a detection that is half trusted counts half. Three rules keep it
honest:

- **Counted once**: a detection is known by (track, sensor, time); the same one again adds
  nothing.
- **Correlated frames are not independent looks**: a camera sending 10 frames a second of the
  same drone does not learn ten times a second. Each sensor's contribution to a track is scaled
  by the time since its previous one over ``decorrelation_s`` (at most 1).
- **Forgetting**: the log-evidence halves every ``half_life_s`` seconds, so an early mistake
  fades and a track that changes behaviour is re-judged.

What was added is also summarised per (sensor, label) for the reasons an operator reads
("cam-north: drone 0.93 over 14 frames"). Imports numpy and classify siblings only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from cuas.classify.model import BIRD, CLUTTER, MANNED, UAV

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: A likelihood is floored here before its log is taken: no single detection may rule a class
#: out for ever (log 0.01 = -4.6).
LIK_FLOOR = 0.01
#: Most summaries kept per track (the most recent (sensor, label) pairs).
MAX_SUMMARIES = 8
#: Most tracks held (a sender inventing tracks must not grow it without bound): the least
#: recently updated are dropped first.
MAX_TRACKS = 100_000
_CLASS_NAMES = {UAV: "drone", BIRD: "bird", MANNED: "manned aircraft", CLUTTER: "clutter"}


@dataclass(frozen=True, slots=True)
class Observation:
    """One detection's class evidence attributed to a track.

    ``likelihood`` (4,) over CLASSES in [0, 1]; ``confidence`` in [0, 1]; ``weight`` the
    association probability in [0, 1]; ``t`` the detection time (UTC s)."""

    track_id: int
    t: float
    sensor: str
    likelihood: tuple[float, float, float, float]
    confidence: float
    weight: float = 1.0
    label: str | None = None
    basis: str | None = None


@dataclass(slots=True)
class _Summary:
    n: int = 0
    p_sum: float = 0.0  # sum of the normalised likelihood of the label's best class
    best: int = UAV
    t_last: float = -math.inf


@dataclass(slots=True)
class _TrackEvidence:
    log_ev: F64
    t: float
    last_by_sensor: dict[str, float] = field(default_factory=dict)
    summaries: dict[tuple[str, str], _Summary] = field(default_factory=dict)
    #: The strongest sentence per best class, while it holds: best -> (computed at, valid
    #: until (UTC s), (strength, sentence) or None). Cleared by every new observation.
    said: dict[int | None, tuple[float, float, tuple[float, str] | None]] = field(
        default_factory=dict)


def observation_term(likelihood: F64, confidence: float, weight: float, eff: float) -> F64:
    """The log-evidence (4,) one observation adds: ``weight * confidence * eff`` times the
    log of the floored likelihood, centred (a constant across classes changes nothing)."""
    lik = np.clip(np.asarray(likelihood, dtype=np.float64), LIK_FLOOR, 1.0)
    term = np.log(lik) * (weight * confidence * eff)
    return term - term.mean()


class EvidenceLedger:
    """The accumulated class log-evidence of every track (see the module docstring)."""

    def __init__(self, half_life_s: float = 30.0, decorrelation_s: float = 1.0) -> None:
        self.half_life_s = half_life_s
        self.decorrelation_s = decorrelation_s
        self._tracks: dict[int, _TrackEvidence] = {}
        #: Observations counted, and those refused as already counted.
        self.n_added = 0
        self.n_duplicate = 0

    def __len__(self) -> int:
        return len(self._tracks)

    def _decay(self, te: _TrackEvidence, t: float) -> None:
        if t > te.t:
            te.log_ev *= 0.5 ** ((t - te.t) / self.half_life_s) if self.half_life_s > 0 else 0.0
            te.t = t

    def add(self, obs: Observation) -> bool:
        """Count one observation; False when it was counted already (same track, sensor and
        time, or older than that sensor's last one for the track) or carries nothing."""
        lik = np.asarray(obs.likelihood, dtype=np.float64)
        if lik.shape != (4,) or not np.isfinite(lik).all() or not (lik > 0).any() or not (
                0.0 < obs.confidence <= 1.0) or not 0.0 < obs.weight <= 1.0 or not math.isfinite(
                obs.t):
            return False
        te = self._tracks.get(obs.track_id)
        if te is None:
            if len(self._tracks) >= MAX_TRACKS:
                oldest = min(self._tracks, key=lambda k: self._tracks[k].t)
                del self._tracks[oldest]
            te = self._tracks[obs.track_id] = _TrackEvidence(np.zeros(4), obs.t)
        last = te.last_by_sensor.get(obs.sensor)
        if last is not None and obs.t <= last:
            self.n_duplicate += 1
            return False
        eff = 1.0 if last is None or self.decorrelation_s <= 0 else min(
            1.0, (obs.t - last) / self.decorrelation_s)
        te.last_by_sensor[obs.sensor] = obs.t
        self._decay(te, obs.t)
        term = observation_term(lik, obs.confidence, obs.weight, eff)
        # Evidence older than the ledger's time for this track (a late sensor) is aged too.
        age = te.t - obs.t
        if age > 0 and self.half_life_s > 0:
            term *= 0.5 ** (age / self.half_life_s)
        te.log_ev += term
        te.said.clear()
        self._summarise(te, obs, lik)
        # The sentences a snapshot will ask for, made now, as the detection arrives: a
        # snapshot classifies every track at once and must not format them one by one.
        for best in range(4):
            self.top(obs.track_id, obs.t, best)
        self.n_added += 1
        return True

    def _summarise(self, te: _TrackEvidence, obs: Observation, lik: F64) -> None:
        best = int(np.argmax(lik))
        label = obs.label or _CLASS_NAMES[best]
        key = (obs.sensor, label)
        s = te.summaries.get(key)
        if s is None:
            if len(te.summaries) >= MAX_SUMMARIES:
                stale = min(te.summaries, key=lambda k: te.summaries[k].t_last)
                del te.summaries[stale]
            s = te.summaries[key] = _Summary(best=best)
        s.n += 1
        s.p_sum += float(lik[best] / lik.sum())
        s.t_last = max(s.t_last, obs.t)

    def log_evidence(self, t: float, ids: I64) -> F64:
        """(N, 4) log-evidence of tracks ``ids`` at ``t`` (UTC s), decayed to ``t``; zero rows
        for tracks with none."""
        out = np.zeros((len(ids), 4))
        if not self._tracks:
            return out
        hl = self.half_life_s
        get = self._tracks.get
        found = [(k, te) for k, i in enumerate(ids.tolist()) if (te := get(i)) is not None]
        if found:  # one gather and one multiply: a Python loop per row cost ms at 1,000 tracks
            fac = [0.5 ** ((t - te.t) / hl) if t - te.t > 0 and hl > 0 else 1.0
                   for _, te in found]
            out[[k for k, _ in found]] = np.array([te.log_ev for _, te in found]) * np.array(
                fac)[:, None]
        return out

    def has(self, ids: I64) -> NDArray[np.bool_]:
        """Which of ``ids`` have any evidence."""
        tracks = self._tracks
        return np.fromiter((i in tracks for i in ids.tolist()), dtype=bool, count=len(ids))

    def describe(self, track_id: int, t: float, window_s: float = 60.0,
                 best: int | None = None) -> tuple[tuple[float, str], ...]:
        """(strength, sentence) per (sensor, label) seen within ``window_s`` of ``t``, e.g.
        (0.93, "cam-north: drone 0.93 over 14 looks"); those naming class ``best`` (the
        track's most probable) first, then by weight (looks x mean likelihood)."""
        te = self._tracks.get(track_id)
        if te is None:
            return ()
        out = []
        for (sensor, label), s in te.summaries.items():
            if t - s.t_last > window_s or not s.n:
                continue
            mean = s.p_sum / s.n
            what = "look" if s.n == 1 else "looks"
            rank = (s.best == best, s.n * mean)
            out.append((rank, mean, f"{sensor}: {label} {mean:.2f} over {s.n} {what}"))
        out.sort(key=lambda e: e[0], reverse=True)
        return tuple((mean, text) for _, mean, text in out)

    def top(self, track_id: int, t: float, best: int | None = None,
            window_s: float = 60.0) -> tuple[float, str] | None:
        """The first of :meth:`describe`, cached until an observation is added or a summary
        it covers leaves the window (snapshots ask this for every track every update)."""
        te = self._tracks.get(track_id)
        if te is None:
            return None
        hit = te.said.get(best)
        if hit is not None and hit[0] <= t < hit[1]:
            return hit[2]
        said = self.describe(track_id, t, window_s, best)
        live = [s.t_last + window_s for s in te.summaries.values()
                if t - s.t_last <= window_s and s.n]
        te.said[best] = (t, min(live, default=math.inf), said[0] if said else None)
        return said[0] if said else None

    def forget(self, ids: I64) -> None:
        """Drop deleted tracks."""
        for i in ids.tolist():
            self._tracks.pop(i, None)
