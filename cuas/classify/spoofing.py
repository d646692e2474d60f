"""Remote ID spoofing evidence per track for one update: what the identity registry judged
recently (a position jump, two places at once, a frozen signal, an impossible speed) and
lockstep pairs (a broadcast displaced from the drone other sensors see).

Imports only ``cuas.classify`` siblings; the classifier turns the evidence into threat and
reasons (:mod:`cuas.classify.reasons`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cuas.classify.features import Features
from cuas.classify.inputs import IdentReports

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

#: A Remote ID report older than this (s) is not compared with its track.
RID_FRESH_S = 5.0
#: Spoofing evidence (a jump, two places at once, a frozen signal) stays a reason this long (s).
SPOOF_HOLD_S = 30.0
#: Lockstep: a Remote ID track no observing sensor confirms, and an unidentified track that
#: observing sensors see, within this distance (m), both moving at least LOCKSTEP_MIN_SPEED
#: (m/s) with velocities within LOCKSTEP_VEL (m/s): the broadcast is that drone's, displaced.
LOCKSTEP_MAX_M = 3000.0
LOCKSTEP_MIN_SPEED = 2.0
LOCKSTEP_VEL = 3.0
#: A lockstep pair stands while the offset between its tracks moves less than this (m).
LOCK_KEEP_M = 50.0


@dataclass(slots=True)
class SpoofEvidence:
    """Per-track Remote ID spoofing evidence of one update (N,)."""

    jump: B
    jump_speed: F64
    two: B
    two_dist: F64
    frozen: B
    frozen_move: F64
    frozen_rssi: F64
    fast: B
    fast_speed: F64
    lock_of: I64  # the row of the partner track in a lockstep, -1 none
    lock_d: F64

    @classmethod
    def empty(cls, n: int) -> SpoofEvidence:
        z = np.zeros(n)
        return cls(np.zeros(n, dtype=bool), z.copy(), np.zeros(n, dtype=bool), z.copy(),
                   np.zeros(n, dtype=bool), z.copy(), z.copy(), np.zeros(n, dtype=bool),
                   z.copy(), np.full(n, -1, dtype=np.int64), z.copy())

    @property
    def any(self) -> B:
        return self.jump | self.two | self.frozen | self.fast | (self.lock_of >= 0)

    def from_reports(self, t: float, rows: I64, idx: I64, is_rid: B,
                     idents: IdentReports) -> None:
        """What the identity reports judged recently (within SPOOF_HOLD_S of ``t``)."""
        def recent(times: F64) -> B:
            age = t - times[idx]
            return is_rid & np.isfinite(age) & (age <= SPOOF_HOLD_S)

        self.jump[rows] = recent(idents.jump_t)
        self.jump_speed[rows] = idents.jump_speed[idx]
        self.two[rows] = recent(idents.two_t)
        self.two_dist[rows] = idents.two_dist[idx]
        self.frozen[rows] = recent(idents.frozen_t)
        self.frozen_move[rows] = idents.frozen_move[idx]
        self.frozen_rssi[rows] = idents.frozen_rssi[idx]
        self.fast[rows] = recent(idents.fast_t)
        self.fast_speed[rows] = idents.fast_speed[idx]

    def lockstep(self, x: F64, firm: B, deleted: B, f: Features, rid: B, indep: B, has_id: B,
                 age: F64, min_m: float) -> None:
        """Pair each Remote ID track that no observing sensor confirms with the nearest
        unidentified track observing sensors see that moves alike (see LOCKSTEP_*).

        ``x`` (N, 6) track states (m, m/s, site ENU); ``firm``, ``deleted`` as in
        :class:`~cuas.classify.classifier.TrackInputs`."""
        if not rid.any():
            return
        with np.errstate(invalid="ignore"):
            live = firm & ~deleted & (f.speed >= LOCKSTEP_MIN_SPEED)  # NaN: unknown
            r_rows = np.flatnonzero(live & rid & ~indep & (age <= RID_FRESH_S))
        if not len(r_rows):
            return
        a_rows = np.flatnonzero(live & ~has_id & indep)
        if not len(a_rows):
            return
        d = np.hypot(x[r_rows, 0][:, None] - x[a_rows, 0][None, :],
                     x[r_rows, 1][:, None] - x[a_rows, 1][None, :])
        dv = np.linalg.norm(x[r_rows, None, 3:5] - x[None, a_rows, 3:5], axis=2)
        ok = (d > min_m) & (d <= LOCKSTEP_MAX_M) & (dv <= LOCKSTEP_VEL)
        d = np.where(ok, d, np.inf)
        best = np.argmin(d, axis=1)
        for k, (r, b) in enumerate(zip(r_rows.tolist(), best.tolist(), strict=True)):
            dist = float(d[k, b])
            if not np.isfinite(dist):
                continue
            a = int(a_rows[b])
            self.lock_of[r], self.lock_d[r] = a, dist
            if self.lock_of[a] < 0 or dist < self.lock_d[a]:
                self.lock_of[a], self.lock_d[a] = r, dist
