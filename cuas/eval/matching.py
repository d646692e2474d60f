"""Scoring a tracker run against ground truth: GOSPA at every snapshot the truth covers, and
CLEAR-MOT style identity matching (ID switches, track fragmentation, time to confirm and flag).

The exact definitions are in ``docs/truth-format.md``. Typical use (what ``cuas eval`` does)::

    truth = read_truth("truth.jsonl")
    tracks = read_tracks("out.jsonl")
    print(format_report(evaluate(truth, tracks, c=20.0, p=2.0)))
"""

from __future__ import annotations

import collections
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pymap3d
from scipy.optimize import linear_sum_assignment

from cuas import vocabulary
from cuas.errors import EvaluationError
from cuas.eval.gospa import DEFAULT_C, DEFAULT_P, NO_MATCH, check_cp, gospa
from cuas.eval.tracklog import STATUS_CODE, TrackLog
from cuas.eval.truth import DEFAULT_MAX_GAP, FloatArray, IntArray, Truth, truth_at

#: Track statuses that count as tracker output by default.
DEFAULT_STATUSES: Final[tuple[str, ...]] = ("confirmed", "coasting")
#: Median disagreement (m) between a track's ``enu`` and its ``lla`` seen from the truth site
#: above which the report warns that the tracker and the truth used different site origins.
SITE_TOLERANCE_M: Final = 5.0


# --------------------------------------------------------------------------- over a run


@dataclass(frozen=True)
class ObjectScore:
    """Identity figures of one truth object over the scored steps at which it is alive."""

    id: str
    steps: int
    matched_steps: int
    id_switches: int
    fragmentations: int
    #: Track ids matched to this object, in order of first match.
    track_ids: tuple[int, ...]
    #: UTC s: first scored step at which the object is alive; first at which a counted track
    #: matches it (None: never); first at which the matched track is flagged malicious.
    t_first: float | None = None
    t_matched: float | None = None
    t_flagged: float | None = None
    #: The truth's class and threat flag, and (UTC s) when it first entered a protected zone
    #: (header ``entry_t``; None when the truth does not say).
    object_class: str | None = None
    threat: bool = False
    entry_t: float | None = None
    #: UTC s of the object's first detection by any sensor that measures a position or a
    #: bearing (header ``detected_t``; None when the truth does not say).
    detected_t: float | None = None

    @property
    def time_to_confirm_s(self) -> float | None:
        """Seconds from when the object could first be tracked (the later of its first scored
        step and its first detection, header ``detected_t``) to its first match by a counted
        track: a tracker cannot confirm what no sensor has reported yet."""
        if self.t_matched is None or self.t_first is None:
            return None
        start = self.t_first if self.detected_t is None else max(self.t_first, self.detected_t)
        return max(self.t_matched - start, 0.0)

    @property
    def time_to_confirm_from_first_step_s(self) -> float | None:
        """Seconds from the object's first scored step to its first match by a counted track
        (what ``time_to_confirm_s`` was before ``detected_t``: it includes the time before any
        sensor could see the object)."""
        if self.t_matched is None or self.t_first is None:
            return None
        return self.t_matched - self.t_first

    @property
    def time_to_flag_s(self) -> float | None:
        """Seconds from the threat's entry into a protected zone (or, when the truth gives no
        entry time, its first scored step) to the first malicious flag on its track; negative
        when flagged before entering. None when never flagged or not a threat."""
        start = self.entry_t if self.entry_t is not None else self.t_first
        if not self.threat or self.t_flagged is None or start is None:
            return None
        return self.t_flagged - start


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Scores of a run. Per-step arrays cover the scored steps only, at times ``t`` (UTC s).

    GOSPA totals are metres; parts metres**p. Means are over scored steps (NaN if none).
    ``gospa_rms`` is sqrt(mean(total**2)). A match is a GOSPA assignment with d < c.
    """

    c: float
    p: float
    max_gap: float
    statuses: tuple[str, ...]
    n_snapshots: int
    t: FloatArray
    gospa: FloatArray
    localisation: FloatArray
    missed: FloatArray
    false: FloatArray
    n_truths: IntArray
    n_tracks: IntArray
    n_matched: IntArray
    id_switches: int
    fragmentations: int
    objects: Mapping[str, ObjectScore]
    #: Distinct track ids counted at scored steps, and how many of them never matched a truth.
    n_track_ids: int
    n_unmatched_track_ids: int
    notes: tuple[str, ...] = ()
    #: Counted track ids flagged malicious at a scored step that never matched a threat truth.
    false_alarm_track_ids: tuple[int, ...] = ()
    #: Each false alarm: (track id, UTC s of its first malicious flag, the truth object it
    #: matched most often, None for clutter or a false track), in order of the flag.
    false_alarms: tuple[tuple[int, float, str | None], ...] = ()

    @property
    def span_s(self) -> float:
        """Seconds from the first to the last scored step (0 with fewer than two)."""
        return float(self.t[-1] - self.t[0]) if len(self.t) > 1 else 0.0

    def _per_hour(self, n: int) -> float:
        return n * 3600.0 / self.span_s if self.span_s > 0 else math.nan

    @property
    def false_tracks_per_hour(self) -> float:
        """Counted track ids that never matched any truth, per hour of scored time."""
        return self._per_hour(self.n_unmatched_track_ids)

    @property
    def n_false_alarms(self) -> int:
        """Tracks flagged malicious that never matched a threat (a bird, a friendly, clutter)."""
        return len(self.false_alarm_track_ids)

    @property
    def false_alarms_per_hour(self) -> float:
        """False alarms (see :attr:`n_false_alarms`) per hour of scored time."""
        return self._per_hour(self.n_false_alarms)

    @property
    def threats(self) -> tuple[ObjectScore, ...]:
        """Scores of the truth objects flagged as threats (alive at a scored step)."""
        return tuple(o for o in self.objects.values() if o.threat and o.steps)

    @property
    def n_steps(self) -> int:
        """Number of scored time steps."""
        return len(self.t)

    def _mean(self, a: FloatArray) -> float:
        return float(np.mean(a)) if len(a) else math.nan

    @property
    def gospa_mean(self) -> float:
        """Mean GOSPA total over scored steps (m)."""
        return self._mean(self.gospa)

    @property
    def gospa_rms(self) -> float:
        """sqrt(mean(total**2)) over scored steps (m)."""
        return math.sqrt(self._mean(self.gospa**2)) if len(self.gospa) else math.nan

    @property
    def localisation_mean(self) -> float:
        """Mean localisation part (m**p)."""
        return self._mean(self.localisation)

    @property
    def missed_mean(self) -> float:
        """Mean missed part (m**p)."""
        return self._mean(self.missed)

    @property
    def false_mean(self) -> float:
        """Mean false part (m**p)."""
        return self._mean(self.false)

    @property
    def n_truth_objects(self) -> int:
        """Truth objects alive at one scored step at least."""
        return sum(1 for o in self.objects.values() if o.steps)

    @property
    def n_truth_instances(self) -> int:
        """Sum over scored steps of the truths alive (object-steps)."""
        return int(self.n_truths.sum())

    @property
    def n_track_instances(self) -> int:
        """Sum over scored steps of the tracks counted (track-steps)."""
        return int(self.n_tracks.sum())

    @property
    def n_missed_instances(self) -> int:
        """Object-steps with no track closer than c."""
        return int((self.n_truths - self.n_matched).sum())

    @property
    def n_false_instances(self) -> int:
        """Track-steps not matched to a truth."""
        return int((self.n_tracks - self.n_matched).sum())


def _identity_match(truth_xyz: FloatArray, track_xyz: FloatArray, track_ids: IntArray,
                    previous: IntArray, c: float) -> IntArray:
    """The track id matched to each truth object at one step (-1 = none), CLEAR-MOT style.

    A truth keeps last step's track while that track is still closer than ``c`` (m); only the
    rest are matched by optimal assignment on distance. Without this, two tracks that are both
    within ``c`` of two crossing targets would be counted as swapping ids whenever the
    instantaneous optimum flips, although neither track ever changed target.
    """
    out = np.full(len(truth_xyz), NO_MATCH, dtype=np.int64)
    if len(truth_xyz) == 0 or len(track_xyz) == 0:
        return out
    dist = np.linalg.norm(truth_xyz[:, None, :] - track_xyz[None, :, :], axis=2)
    free_truth = np.ones(len(truth_xyz), dtype=bool)
    free_track = np.ones(len(track_xyz), dtype=bool)
    col_of = {int(t): j for j, t in enumerate(track_ids.tolist())}
    for k, tid in enumerate(previous.tolist()):
        j = col_of.get(tid) if tid != NO_MATCH else None
        if j is not None and free_track[j] and dist[k, j] < c:
            out[k] = tid
            free_truth[k] = free_track[j] = False
    rows, cols = np.flatnonzero(free_truth), np.flatnonzero(free_track)
    if len(rows) and len(cols):
        sub = dist[np.ix_(rows, cols)]
        r, q = linear_sum_assignment(np.where(sub < c, sub, c * 1e3))
        ok = sub[r, q] < c
        out[rows[r[ok]]] = track_ids[cols[q[ok]]]
    return out


def _identity(seq: IntArray) -> tuple[int, int]:
    """(ID switches, fragmentations) of one object's matched-id sequence (-1 = no match)."""
    if len(seq) == 0:
        return 0, 0
    some = seq != NO_MATCH
    ids = seq[some]
    switches = int(np.count_nonzero(ids[1:] != ids[:-1]))
    segments = int(some[0]) + int(np.count_nonzero(some[1:] & ~some[:-1]))
    return switches, max(segments - 1, 0)


def _status_codes(statuses: Collection[str]) -> tuple[str, ...]:
    if isinstance(statuses, str):
        statuses = (statuses,)
    out = tuple(dict.fromkeys(statuses))
    for s in out:
        if s not in STATUS_CODE:
            raise EvaluationError(f"unknown track status {s!r}; expected {vocabulary.TRACK_STATUSES}")
    if not out:
        raise EvaluationError("no track status counts: statuses is empty")
    return out


def site_offset_m(truth: Truth, tracks: TrackLog, *, max_points: int = 2000) -> float | None:
    """Median distance (m) between tracks' ``enu`` and their ``lla`` converted to ENU at the
    truth site; large when the tracker and the simulator used different site origins.
    None when there are no tracks."""
    n = len(tracks.ids)
    if n == 0:
        return None
    idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).astype(np.int64))
    lla = tracks.lla[idx]
    s = truth.header.site
    e, nn, u = pymap3d.geodetic2enu(lla[:, 0], lla[:, 1], lla[:, 2], s.lat, s.lon, s.h)
    enu = np.column_stack([e, nn, u])
    return float(np.median(np.linalg.norm(enu - tracks.enu[idx], axis=1)))


def evaluate(
    truth: Truth,
    tracks: TrackLog,
    *,
    c: float = DEFAULT_C,
    p: float = DEFAULT_P,
    statuses: Collection[str] = DEFAULT_STATUSES,
    max_gap: float = DEFAULT_MAX_GAP,
) -> Evaluation:
    """Score ``tracks`` against ``truth`` at every tracks snapshot the truth covers.

    ``c`` GOSPA cutoff (m), ``p`` GOSPA order, ``statuses`` the track statuses that count,
    ``max_gap`` the longest truth interval (s) interpolated across.
    """
    check_cp(c, p)
    if not (math.isfinite(max_gap) and max_gap >= 0.0):
        raise EvaluationError(f"max_gap must be a non-negative number of seconds, got {max_gap}")
    names = _status_codes(statuses)
    counted = np.isin(tracks.status, [STATUS_CODE[s] for s in names])

    at = truth_at(truth, tracks.t, max_gap=max_gap)
    steps = np.flatnonzero(at.scored)
    n_steps, n_obj = len(steps), len(at.ids)
    total, loc, missed, false = (np.zeros(n_steps) for _ in range(4))
    n_truths, n_tracks, n_matched = (np.zeros(n_steps, dtype=np.int64) for _ in range(3))
    matched = np.full((n_steps, n_obj), NO_MATCH, dtype=np.int64)
    alive = at.alive[steps]
    seen_ids: list[IntArray] = []
    infos = truth.header.objects
    is_threat = np.array([infos[o].threat if o in infos else False for o in at.ids], dtype=bool)
    flagged = np.zeros((n_steps, n_obj), dtype=bool)  # the object's matched track is malicious
    malicious_ids: set[int] = set()
    threat_track_ids: set[int] = set()
    first_flag: dict[int, float] = {}
    matched_to: dict[int, collections.Counter[str]] = {}
    for i, s in enumerate(steps):
        a, b = int(tracks.offsets[s]), int(tracks.offsets[s + 1])
        keep = counted[a:b]
        ids = tracks.ids[a:b][keep]
        objs = np.flatnonzero(alive[i])
        r = gospa(at.enu[s, objs], tracks.enu[a:b][keep], c, p)
        total[i], loc[i], missed[i], false[i] = r.total, r.localisation, r.missed, r.false
        n_truths[i], n_tracks[i], n_matched[i] = len(objs), len(ids), r.n_assigned
        prev = matched[i - 1, objs] if i else np.full(len(objs), NO_MATCH, dtype=np.int64)
        matched[i, objs] = _identity_match(at.enu[s, objs], tracks.enu[a:b][keep], ids, prev, c)
        seen_ids.append(ids)
        mal_ids = ids[tracks.malicious[a:b][keep]]
        if len(mal_ids):
            malicious_ids.update(mal_ids.tolist())
            flagged[i, objs] = np.isin(matched[i, objs], mal_ids)
            for tid in mal_ids.tolist():
                first_flag.setdefault(tid, float(tracks.t[s]))
        for k, tid in zip(objs.tolist(), matched[i, objs].tolist(), strict=True):
            if tid != NO_MATCH and tid in malicious_ids:
                matched_to.setdefault(tid, collections.Counter())[at.ids[k]] += 1
        threat_track_ids.update(matched[i, objs][is_threat[objs]].tolist())

    objects: dict[str, ObjectScore] = {}
    t_steps = tracks.t[steps]

    def first(mask: npt.NDArray[np.bool_]) -> float | None:
        k = np.flatnonzero(mask)
        return float(t_steps[k[0]]) if len(k) else None

    for k, oid in enumerate(at.ids):
        seq = matched[alive[:, k], k]
        sw, fr = _identity(seq)
        hits = seq[seq != NO_MATCH]
        info = infos.get(oid)
        entry = info.extra.get("entry_t") if info is not None else None
        detected = info.extra.get("detected_t") if info is not None else None
        objects[oid] = ObjectScore(
            id=oid,
            steps=len(seq),
            matched_steps=len(hits),
            id_switches=sw,
            fragmentations=fr,
            track_ids=tuple(int(x) for x in dict.fromkeys(hits.tolist())),
            t_first=first(alive[:, k]),
            t_matched=first(alive[:, k] & (matched[:, k] != NO_MATCH)),
            t_flagged=first(flagged[:, k]),
            object_class=info.object_class if info is not None else None,
            threat=bool(is_threat[k]),
            entry_t=float(entry) if isinstance(entry, int | float)
            and not isinstance(entry, bool) and math.isfinite(entry) else None,
            detected_t=float(detected) if isinstance(detected, int | float)
            and not isinstance(detected, bool) and math.isfinite(detected) else None,
        )
    all_ids = np.unique(np.concatenate(seen_ids)) if seen_ids else np.zeros(0, dtype=np.int64)
    matched_ids = np.unique(matched[matched != NO_MATCH])

    notes: list[str] = []
    if tracks.torn_tail:
        notes.append(tracks.torn_tail)
    unscored = len(tracks) - n_steps
    if unscored:
        notes.append(
            f"{unscored} of {len(tracks)} snapshots not scored "
            f"(outside the truth span or in a truth gap longer than {max_gap:g} s)"
        )
    if n_steps == 0:
        notes.append("no snapshot was scored: do the truth and tracks files cover the same time?")
    offset = site_offset_m(truth, tracks)
    if offset is not None and offset > SITE_TOLERANCE_M:
        notes.append(
            f"tracks' enu and lla disagree by {offset:.1f} m (median) at the truth site: "
            "the tracker and the truth may use different site origins"
        )

    return Evaluation(
        c=float(c),
        p=float(p),
        max_gap=float(max_gap),
        statuses=names,
        n_snapshots=len(tracks),
        t=tracks.t[steps],
        gospa=total,
        localisation=loc,
        missed=missed,
        false=false,
        n_truths=n_truths,
        n_tracks=n_tracks,
        n_matched=n_matched,
        id_switches=sum(o.id_switches for o in objects.values()),
        fragmentations=sum(o.fragmentations for o in objects.values()),
        objects=objects,
        n_track_ids=len(all_ids),
        n_unmatched_track_ids=int(np.count_nonzero(~np.isin(all_ids, matched_ids))),
        notes=tuple(notes),
        false_alarm_track_ids=tuple(sorted(malicious_ids - threat_track_ids)),
        false_alarms=tuple(sorted(
            ((tid, first_flag[tid], matched_to[tid].most_common(1)[0][0]
              if tid in matched_to else None) for tid in malicious_ids - threat_track_ids),
            key=lambda fa: (fa[1], fa[0]))),
    )


