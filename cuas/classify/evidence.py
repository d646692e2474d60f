"""Per-track Bayesian fusion of sensor class evidence, with forgetting.

Each detection may carry a likelihood over the classes (``wire.ClassEvidence``: P(this
observation | class) for uav, bird, manned, clutter) and the sensor's confidence. Once the
tracker has said which track the detection went to (and with what association probability:
1 for a nearest-neighbour assignment, the JPDA weight once the tracker gives one), the
ledger adds ``weight * confidence * log(likelihood)`` to that track's log-evidence: a tempered
(power) likelihood, so a detection that is half trusted counts half. Four rules keep it
honest:

- **Counted once**: a detection is known by (track, sensor, time); the same one again adds
  nothing.
- **Correlated frames are not independent looks**: a camera sending 10 frames a second of the
  same drone does not learn ten times a second. Each sensor's contribution to a track is scaled
  by the time since its previous one over ``decorrelation_s`` (at most 1).
- **Forgetting**: the log-evidence halves every ``half_life_s`` seconds, so an early mistake
  fades and a track that changes behaviour is re-judged.
- **A track swapped onto another object forgets the first one**: where a detection was
  ambiguous (another track close by, in a flock or a crowd) and the last few looks then name
  another class than the whole history, the history was another object's and is dropped
  (``SWITCH_*`` below).

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
#: Switch detection. Beside each track's evidence the ledger keeps the same sum with a short
#: half-life (s): what the last few looks say. When that recent evidence favours another class
#: than the whole history by SWITCH_LLR (nats of tempered log-likelihood; about seven drone
#: labels in a row after a gull's history, from the scenarios' micro-Doppler matrix), within
#: SWITCH_RECENT_S of an ambiguous detection (another track close by), the track has most
#: likely changed objects in the crowd: its older evidence belonged to the other object and is
#: dropped, keeping only the recent. Without a crowd nearby no history is dropped.
SWITCH_HALF_LIFE_S = 5.0
SWITCH_LLR = 3.0
SWITCH_RECENT_S = 20.0
#: A (sensor, label) summary is shown while its last look is at most this old (s).
WINDOW_S = 60.0
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
    #: Another track was close enough to the detection that the tracker may have given it to
    #: the wrong one (a crowd, a flock): the track may be following another object from here.
    ambiguous: bool = False


@dataclass(slots=True)
class _Summary:
    sensor: str
    label: str
    n: int = 0
    p_sum: float = 0.0  # sum of the normalised likelihood of the label's best class
    best: int = UAV
    t_last: float = -math.inf


@dataclass(slots=True)
class _TrackEvidence:
    slot: int  # row of the ledger's log-evidence and time arrays
    last_by_sensor: dict[str, float] = field(default_factory=dict)
    summaries: dict[tuple[str, str], _Summary] = field(default_factory=dict)


def observation_term(likelihood: F64, confidence: float, weight: float, eff: float) -> F64:
    """The log-evidence (4,) one observation adds: ``weight * confidence * eff`` times the
    log of the floored likelihood, centred (a constant across classes changes nothing)."""
    lik = np.clip(np.asarray(likelihood, dtype=np.float64), LIK_FLOOR, 1.0)
    term = np.log(lik) * (weight * confidence * eff)
    return term - term.mean()


#: Most distinct likelihoods whose logs are remembered (sensors send a few confusion-matrix
#: rows over and over; a sender inventing values must not grow it without bound).
MAX_LOGS = 4096


def _sentence(sm: _Summary) -> tuple[str, float]:
    """("cam-north: drone 0.93 over 14 looks", 0.93) of a summary."""
    mean = sm.p_sum / sm.n
    return f"{sm.sensor}: {sm.label} {mean:.2f} over {sm.n} " \
           f"{'look' if sm.n == 1 else 'looks'}", mean


class EvidenceLedger:
    """The accumulated class log-evidence of every track (see the module docstring).

    The log-evidence and its time live in two arrays, one row per track (a dict maps track
    id to row; a sorted copy of that map answers a snapshot's ids in one search), so that a
    snapshot gathers 1,000 tracks' evidence in one indexing step. The reason sentence a
    snapshot shows per track (:meth:`sensed`) is kept in arrays too, per most probable class,
    and made again only for a track that got a new observation or whose window moved on.
    """

    def __init__(self, half_life_s: float = 30.0, decorrelation_s: float = 1.0) -> None:
        self.half_life_s = half_life_s
        self.decorrelation_s = decorrelation_s
        self._tracks: dict[int, _TrackEvidence] = {}
        self._by_slot: dict[int, _TrackEvidence] = {}
        self._log = np.zeros((64, 4))
        self._fast = np.zeros((64, 4))  # the same sum with SWITCH_HALF_LIFE_S
        self._amb_t = np.full(64, -np.inf)  # last ambiguous observation (UTC s)
        self._switch_t = np.full(64, -np.inf)  # last dropped history (UTC s)
        self._t = np.zeros(64)
        self._free: list[int] = list(range(63, -1, -1))
        # The sentence cache per slot: text and strength per most probable class, the time
        # span (UTC s) it holds for, and whether it is still current (False after an add).
        self._said_text = np.full((64, 4), None, dtype=object)
        self._said_w = np.zeros((64, 4))
        self._said_from = np.full(64, np.inf)
        self._said_until = np.full(64, -np.inf)
        # Sorted track ids and their slots, rebuilt when tracks come or go.
        self._sorted: tuple[I64, I64] | None = None
        self._logs: dict[tuple[float, ...], list[float]] = {}
        #: Observations counted, and those refused as already counted.
        self.n_added = 0
        self.n_duplicate = 0
        #: Histories dropped because a track had changed objects (see SWITCH_LLR).
        self.n_switches = 0

    def __len__(self) -> int:
        return len(self._tracks)

    def _new(self, track_id: int, t: float) -> _TrackEvidence:
        if len(self._tracks) >= MAX_TRACKS:
            oldest = min(self._tracks, key=lambda k: self._t[self._tracks[k].slot])
            gone = self._tracks.pop(oldest).slot
            del self._by_slot[gone]
            self._free.append(gone)
        if not self._free:  # grow by doubling
            cap = len(self._t)
            self._log = np.vstack([self._log, np.zeros((cap, 4))])
            self._fast = np.vstack([self._fast, np.zeros((cap, 4))])
            self._amb_t = np.concatenate([self._amb_t, np.full(cap, -np.inf)])
            self._switch_t = np.concatenate([self._switch_t, np.full(cap, -np.inf)])
            self._t = np.concatenate([self._t, np.zeros(cap)])
            self._said_text = np.vstack([self._said_text, np.full((cap, 4), None, dtype=object)])
            self._said_w = np.vstack([self._said_w, np.zeros((cap, 4))])
            self._said_from = np.concatenate([self._said_from, np.full(cap, np.inf)])
            self._said_until = np.concatenate([self._said_until, np.full(cap, -np.inf)])
            self._free = list(range(2 * cap - 1, cap - 1, -1))
        slot = self._free.pop()
        self._log[slot] = 0.0
        self._fast[slot] = 0.0
        self._amb_t[slot] = -np.inf
        self._switch_t[slot] = -np.inf
        self._t[slot] = t
        self._said_from[slot] = np.inf
        te = self._tracks[track_id] = self._by_slot[slot] = _TrackEvidence(slot)
        self._sorted = None
        return te

    def _log_of(self, lik: tuple[float, ...]) -> list[float]:
        """log of the floored likelihood (numpy's log, as :func:`observation_term` takes)."""
        logs = self._logs.get(lik)
        if logs is None:
            if len(self._logs) >= MAX_LOGS:
                self._logs.clear()
            logs = self._logs[lik] = np.log(np.clip(np.asarray(lik, dtype=np.float64),
                                                    LIK_FLOOR, 1.0)).tolist()
        return logs

    def add(self, obs: Observation) -> bool:
        """Count one observation; False when it was counted already (same track, sensor and
        time, or older than that sensor's last one for the track) or carries nothing.

        Plain float arithmetic on the four classes, in the order :func:`observation_term`
        and numpy's row operations take (the figures are the same to the bit): one
        observation per detection is the engine's hottest path after the tracker."""
        lik = obs.likelihood
        try:
            if len(lik) != 4:
                return False
            l0, l1, l2, l3 = (float(v) for v in lik)
        except (TypeError, ValueError):
            return False
        conf, weight, t = obs.confidence, obs.weight, obs.t
        if not (math.isfinite(l0) and math.isfinite(l1) and math.isfinite(l2)
                and math.isfinite(l3)) or not (l0 > 0 or l1 > 0 or l2 > 0 or l3 > 0) or not (
                0.0 < conf <= 1.0) or not 0.0 < weight <= 1.0 or not math.isfinite(t):
            return False
        te = self._tracks.get(obs.track_id)
        if te is None:
            te = self._new(obs.track_id, t)
        last = te.last_by_sensor.get(obs.sensor)
        if last is not None and t <= last:
            self.n_duplicate += 1
            return False
        eff = 1.0 if last is None or self.decorrelation_s <= 0 else min(
            1.0, (t - last) / self.decorrelation_s)
        te.last_by_sensor[obs.sensor] = t
        slot = te.slot
        row = self._log[slot].tolist()
        fast = self._fast[slot].tolist()
        t_ev = float(self._t[slot])
        if t > t_ev:  # decay the track's evidence to this observation's time
            fac = 0.5 ** ((t - t_ev) / self.half_life_s) if self.half_life_s > 0 else 0.0
            row = [v * fac for v in row]
            fac = 0.5 ** ((t - t_ev) / SWITCH_HALF_LIFE_S)
            fast = [v * fac for v in fast]
            self._t[slot] = t_ev = t
        k = weight * conf * eff
        term = [v * k for v in self._log_of((l0, l1, l2, l3))]
        mean = (((term[0] + term[1]) + term[2]) + term[3]) / 4
        term = [v - mean for v in term]
        fast_term = term
        # Evidence older than the ledger's time for this track (a late sensor) is aged too.
        age = t_ev - t
        if age > 0 and self.half_life_s > 0:
            aged = 0.5 ** (age / self.half_life_s)
            term = [v * aged for v in term]
        if age > 0:
            aged = 0.5 ** (age / SWITCH_HALF_LIFE_S)
            fast_term = [v * aged for v in fast_term]
        row = [a + b for a, b in zip(row, term, strict=True)]
        fast = [a + b for a, b in zip(fast, fast_term, strict=True)]
        if obs.ambiguous:
            self._amb_t[slot] = max(float(self._amb_t[slot]), t)
        if t_ev - float(self._amb_t[slot]) <= SWITCH_RECENT_S and self._switched(row, fast):
            row = fast  # the older evidence was another object's
            te.summaries.clear()
            self._switch_t[slot] = t
            self.n_switches += 1
        self._log[slot] = row
        self._fast[slot] = fast
        sm = self._summarise(te, obs, (l0, l1, l2, l3))
        if len(te.summaries) == 1:
            # The usual case, one sensor and one label: its sentence leads for every class
            # until it leaves the window; made here, with the observation that changed it.
            text, mean = _sentence(sm)
            self._said_text[slot] = text
            self._said_w[slot] = mean
            self._said_from[slot] = -math.inf
            self._said_until[slot] = sm.t_last + WINDOW_S
        else:
            self._said_from[slot] = math.inf  # made again when a snapshot next asks
        self.n_added += 1
        return True

    @staticmethod
    def _switched(row: list[float], fast: list[float]) -> bool:
        """The recent evidence ``fast`` names another class than the whole ``row`` does, by
        SWITCH_LLR or more over the class ``row`` leads with."""
        cf = max(range(4), key=fast.__getitem__)
        cs = max(range(4), key=row.__getitem__)
        return cf != cs and fast[cf] - fast[cs] >= SWITCH_LLR

    def _summarise(self, te: _TrackEvidence, obs: Observation,
                   lik: tuple[float, float, float, float]) -> _Summary:
        best = max(range(4), key=lik.__getitem__)  # the first largest, as argmax
        label = obs.label or _CLASS_NAMES[best]
        key = (obs.sensor, label)
        s = te.summaries.get(key)
        if s is None:
            if len(te.summaries) >= MAX_SUMMARIES:
                stale = min(te.summaries, key=lambda k: te.summaries[k].t_last)
                del te.summaries[stale]
            s = te.summaries[key] = _Summary(obs.sensor, label, best=best)
        s.n += 1
        s.p_sum += lik[best] / (((lik[0] + lik[1]) + lik[2]) + lik[3])
        s.t_last = max(s.t_last, obs.t)
        return s

    def slots(self, ids: I64) -> I64:
        """The ledger row of each of ``ids`` (-1: no evidence), in one sorted search."""
        if not self._tracks or not len(ids):
            return np.full(len(ids), -1, dtype=np.int64)
        if self._sorted is None:
            keys = np.fromiter(self._tracks.keys(), dtype=np.int64, count=len(self._tracks))
            rows = np.fromiter((te.slot for te in self._tracks.values()), dtype=np.int64,
                               count=len(self._tracks))
            order = np.argsort(keys)
            self._sorted = keys[order], rows[order]
        keys, rows = self._sorted
        at = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
        return np.where(keys[at] == ids, rows[at], -1)

    def log_evidence(self, t: float, ids: I64, slots: I64 | None = None) -> F64:
        """(N, 4) log-evidence of tracks ``ids`` at ``t`` (UTC s), decayed to ``t``; zero rows
        for tracks with none. ``slots``: :meth:`slots` of ``ids`` when already known."""
        out = np.zeros((len(ids), 4))
        if not self._tracks:
            return out
        slots = self.slots(ids) if slots is None else slots
        rows = np.flatnonzero(slots >= 0)
        if len(rows):
            s = slots[rows]
            hl = self.half_life_s
            dt = t - self._t[s]
            fac = 0.5 ** (np.maximum(dt, 0.0) / hl) if hl > 0 else np.ones(len(s))
            out[rows] = self._log[s] * fac[:, None]
        return out

    def switched_s(self, t: float, slots: I64) -> F64:
        """Seconds before ``t`` at which each track (its :meth:`slots`) last dropped another
        object's evidence; NaN for none (or no evidence)."""
        out = np.full(len(slots), np.nan)
        have = slots >= 0
        if have.any():
            when = self._switch_t[slots[have]]
            out[have] = np.where(np.isfinite(when), t - when, np.nan)
        return out

    def has(self, ids: I64) -> NDArray[np.bool_]:
        """Which of ``ids`` have any evidence."""
        return self.slots(ids) >= 0

    def describe(self, track_id: int, t: float, window_s: float = WINDOW_S,
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
            window_s: float = WINDOW_S) -> tuple[float, str] | None:
        """The first of :meth:`describe`: the sentence a snapshot shows for a track whose most
        probable class is ``best``."""
        te = self._tracks.get(track_id)
        if te is None:
            return None
        texts, weights, _ = self._leaders(te, t, window_s)
        if best is None or not 0 <= best < 4:
            best = -1
        text = texts[best] if best >= 0 else texts[4]
        return None if text is None else (weights[best] if best >= 0 else weights[4], text)

    def _leaders(self, te: _TrackEvidence, t: float, window_s: float
                 ) -> tuple[list[str | None], list[float], float]:
        """The leading sentence for each most probable class 0..3 and for none (index 4),
        their strengths, and until when (UTC s) they hold: the summaries naming that class
        first, then by weight, the first of equals in the order they came (as :meth:`describe`
        sorts them)."""
        live = [(sm.n * (sm.p_sum / sm.n), sensor, label, sm)
                for (sensor, label), sm in te.summaries.items()
                if not (t - sm.t_last > window_s or not sm.n)]
        if not live:
            return [None] * 5, [0.0] * 5, math.inf
        # min(t_last + w) = min(t_last) + w: rounding is monotone.
        until = min(e[3].t_last for e in live) + window_s
        if len(live) == 1:  # the usual case: one sensor, one label
            text, mean = _sentence(live[0][3])
            return [text] * 5, [mean] * 5, until
        lead: list[tuple[float, str, str, _Summary] | None] = [None] * 5
        for e in live:
            for c in (e[3].best, 4):
                held = lead[c]
                if held is None or e[0] > held[0]:
                    lead[c] = e
        said = {id(e): _sentence(e[3]) for e in lead if e is not None}
        texts: list[str | None] = [None] * 5
        weights = [0.0] * 5
        for c in range(5):
            got = lead[c] if lead[c] is not None else lead[4]
            texts[c], weights[c] = said[id(got)]
        return texts, weights, until

    def sensed(self, t: float, ids: I64, best: I64, slots: I64 | None = None
               ) -> tuple[I64, list[str], F64]:
        """For a snapshot: the rows of ``ids`` with a sentence, that sentence for each row's
        most probable class ``best`` (what :meth:`top` says) and its strength. Sentences are
        kept per track and made again only where an observation came or the window moved."""
        empty: tuple[I64, list[str], F64] = (np.zeros(0, dtype=np.int64), [], np.zeros(0))
        if not self._tracks or not len(ids):
            return empty
        slots = self.slots(ids) if slots is None else slots
        rows = np.flatnonzero(slots >= 0)
        if not len(rows):
            return empty
        s = slots[rows]
        stale = s[(self._said_from[s] > t) | (self._said_until[s] <= t)]
        if len(stale):
            stale = np.unique(stale)
            leaders = self._leaders
            by_slot = self._by_slot
            made = [leaders(by_slot[slot], t, WINDOW_S) for slot in stale.tolist()]
            texts = np.empty((len(made), 4), dtype=object)
            texts[:] = [m[0][:4] for m in made]
            self._said_text[stale] = texts
            self._said_w[stale] = [m[1][:4] for m in made]
            self._said_from[stale] = t
            self._said_until[stale] = [m[2] for m in made]
        b = best[rows]
        text = self._said_text[s, b]
        said = np.flatnonzero(text != None)  # noqa: E711 (elementwise on an object array)
        return rows[said], text[said].tolist(), self._said_w[s[said], b[said]]

    def forget(self, ids: I64) -> None:
        """Drop deleted tracks."""
        for i in ids.tolist():
            te = self._tracks.pop(i, None)
            if te is not None:
                del self._by_slot[te.slot]
                self._free.append(te.slot)
                self._sorted = None
