"""The track table: every live track's state held as struct-of-arrays.

Row ``i`` of every array is one track. Rows are appended at the end and removed by a stable
compaction, so ``ids`` stays sorted ascending and a track's row is found by binary search.
Capacity doubles as needed, so appending is amortised O(1) and no per-track object exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from cuas.tracking.updater import kernels

F64 = NDArray[np.float64]

# Status codes index cuas.vocabulary.TRACK_STATUSES.
TENTATIVE: Final = 0
CONFIRMED: Final = 1
COASTING: Final = 2
DELETED: Final = 3

NO_IDENT: Final = -1


class TrackTable:
    """Struct-of-arrays storage for N tracks (use the properties; they are views of length N)."""

    _FIELDS: Final = (
        ("_x", (6,), np.float64, 0.0),  # state [e, n, u, ve, vn, vu] at _t, m and m/s, site ENU
        ("_P", (6, 6), np.float64, 0.0),  # state covariance
        ("_t", (), np.float64, 0.0),  # time of the state (UTC s): the last update or birth
        ("_t_update", (), np.float64, 0.0),  # time of the last detection used (UTC s)
        ("_t_birth", (), np.float64, 0.0),
        ("_ids", (), np.int64, -1),
        ("_status", (), np.int8, TENTATIVE),
        ("_looks", (), np.uint32, 0),  # bit history of recent looks, 1 = hit, newest in bit 0
        ("_n_looks", (), np.int16, 0),
        ("_hits", (), np.int32, 0),
        ("_misses", (), np.int16, 0),  # consecutive misses
        ("_ident", (), np.int64, NO_IDENT),  # index into the tracker's identity registry
        # IMM: one state per motion mode (hover, constant velocity, manoeuvre) at _t, and the
        # mode probabilities; _x/_P above are their moment-matched combination.
        ("_xm", (3, 6), np.float64, 0.0),
        ("_Pm", (3, 6, 6), np.float64, 0.0),
        ("_mode_prob", (3,), np.float64, (0.0, 1.0, 0.0)),
        # Track score: log-likelihood ratio of target against clutter (cuas.tracking.score).
        ("_llr", (), np.float64, 0.0),
        # What the clutter map takes off each of the track's hits, fixed where it was born
        # (from plots seen before it): its own plots must not count against it.
        ("_map_penalty", (), np.float64, 0.0),
        # When a sensor last charged the track a miss (UTC s; 0 never): see tracking.coverage.
        ("_t_missed", (), np.float64, 0.0),
        # Duplicate test (tracking.duplicates): the id of the track this one has matched at
        # consecutive checks (-1 none), and how many.
        ("_dup_of", (), np.int64, -1),
        ("_dup_n", (), np.int16, 0),
    )

    # The backing arrays (capacity rows); created from _FIELDS in __init__.
    _x: F64
    _P: F64
    _t: F64
    _t_update: F64
    _t_birth: F64
    _ids: NDArray[np.int64]
    _status: NDArray[np.int8]
    _looks: NDArray[np.uint32]
    _n_looks: NDArray[np.int16]
    _hits: NDArray[np.int32]
    _misses: NDArray[np.int16]
    _ident: NDArray[np.int64]
    _xm: F64
    _Pm: F64
    _mode_prob: F64
    _llr: F64
    _map_penalty: F64
    _t_missed: F64
    _dup_of: NDArray[np.int64]
    _dup_n: NDArray[np.int16]

    def __init__(self, capacity: int = 64, n_sensors: int = 8) -> None:
        self.n = 0
        self._cap = max(1, capacity)
        for name, shape, dtype, fill in self._FIELDS:
            setattr(self, name, np.full((self._cap, *shape), fill, dtype=dtype))
        self._sources = np.zeros((self._cap, max(1, n_sensors)), dtype=bool)

    # Views of the live rows. Writing into them writes the table.
    @property
    def x(self) -> F64:
        return self._x[: self.n]

    @property
    def P(self) -> F64:
        return self._P[: self.n]

    @property
    def t(self) -> F64:
        return self._t[: self.n]

    @property
    def t_update(self) -> F64:
        return self._t_update[: self.n]

    @property
    def t_birth(self) -> F64:
        return self._t_birth[: self.n]

    @property
    def ids(self) -> NDArray[np.int64]:
        return self._ids[: self.n]

    @property
    def status(self) -> NDArray[np.int8]:
        return self._status[: self.n]

    @property
    def looks(self) -> NDArray[np.uint32]:
        return self._looks[: self.n]

    @property
    def n_looks(self) -> NDArray[np.int16]:
        return self._n_looks[: self.n]

    @property
    def hits(self) -> NDArray[np.int32]:
        return self._hits[: self.n]

    @property
    def misses(self) -> NDArray[np.int16]:
        return self._misses[: self.n]

    @property
    def ident(self) -> NDArray[np.int64]:
        return self._ident[: self.n]

    @property
    def xm(self) -> F64:
        """(N,3,6) state of each motion mode (columns of :attr:`mode_prob`)."""
        return self._xm[: self.n]

    @property
    def Pm(self) -> F64:
        return self._Pm[: self.n]

    @property
    def mode_prob(self) -> F64:
        """(N,3) probabilities of the motion modes hover, constant velocity, manoeuvre
        (cuas.vocabulary.MOTION_MODES order); a new track starts at (0, 1, 0)."""
        return self._mode_prob[: self.n]

    @property
    def llr(self) -> F64:
        """(N,) track score: log-likelihood ratio, target against clutter."""
        return self._llr[: self.n]

    @property
    def map_penalty(self) -> F64:
        """(N,) score taken off each hit by the clutter map at the track's birthplace."""
        return self._map_penalty[: self.n]

    @property
    def t_missed(self) -> F64:
        """(N,) when a sensor last charged the track a miss (UTC s; 0 never)."""
        return self._t_missed[: self.n]

    @property
    def dup_of(self) -> NDArray[np.int64]:
        return self._dup_of[: self.n]

    @property
    def dup_n(self) -> NDArray[np.int16]:
        return self._dup_n[: self.n]

    @property
    def sources(self) -> NDArray[np.bool_]:
        """(N, S) bool: which registered sensors have contributed to each track."""
        return self._sources[: self.n]

    def ensure_sensors(self, n_sensors: int) -> None:
        """Grow the sources matrix to at least ``n_sensors`` columns."""
        if n_sensors > self._sources.shape[1]:
            cols = max(n_sensors, 2 * self._sources.shape[1])
            grown = np.zeros((self._cap, cols), dtype=bool)
            grown[:, : self._sources.shape[1]] = self._sources
            self._sources = grown

    def _grow(self, needed: int) -> None:
        cap = self._cap
        while cap < needed:
            cap *= 2
        if cap == self._cap:
            return
        for name, shape, dtype, fill in self._FIELDS:
            old = getattr(self, name)
            new = np.full((cap, *shape), fill, dtype=dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)
        src = np.zeros((cap, self._sources.shape[1]), dtype=bool)
        src[: self.n] = self._sources[: self.n]
        self._sources = src
        self._cap = cap

    def append(self, ids: NDArray[np.int64], x: F64, P: F64, t: float) -> slice:
        """Append K new tentative tracks born at ``t``; returns the slice of their rows."""
        k = len(ids)
        start = self.n
        self._grow(start + k)
        rows = slice(start, start + k)
        for name, _shape, _dtype, fill in self._FIELDS:
            getattr(self, name)[rows] = fill
        self._x[rows] = x
        self._P[rows] = P
        self._xm[rows] = x[:, None, :]
        self._Pm[rows] = P[:, None, :, :]
        self._t[rows] = t
        self._t_update[rows] = t
        self._t_birth[rows] = t
        self._ids[rows] = ids
        self._sources[rows] = False
        self.n = start + k
        return rows

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Keep only the rows where ``mask`` is true, preserving order (so ids stay sorted)."""
        idx = np.flatnonzero(mask)
        kept = len(idx)
        if kept == self.n:
            return
        # Rows before the first removed one stay where they are; the rest move up, gathered
        # by one index array (a boolean mask would be turned into it again for every field).
        first = int(np.argmin(mask[: self.n])) if kept else 0
        src = idx[first:]
        kern = kernels()  # compiled: in place, no temporary copy of a large table
        for arr in [getattr(self, f[0]) for f in self._FIELDS] + [self._sources]:
            if kern is not None:
                kern.compact_rows(arr.reshape(self._cap, -1).view(np.uint8), src, first)
            else:
                arr[first:kept] = arr[src]
        self.n = kept
        if self._cap > 256 and kept < self._cap // 4:
            self._shrink(max(64, 2 * kept))

    def _shrink(self, cap: int) -> None:
        """Give memory back after a flood of tracks has gone: copy the live rows into
        arrays of ``cap`` rows."""
        for name, shape, dtype, fill in self._FIELDS:
            new = np.full((cap, *shape), fill, dtype=dtype)
            new[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, new)
        src = np.zeros((cap, self._sources.shape[1]), dtype=bool)
        src[: self.n] = self._sources[: self.n]
        self._sources = src
        self._cap = cap

    def rows_of(self, ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Row index of each track id (-1 where the id is not live)."""
        live = self.ids
        rows = np.searchsorted(live, ids)
        rows = np.minimum(rows, max(self.n - 1, 0))
        found = (self.n > 0) & (live[rows] == ids) if self.n else np.zeros(len(ids), dtype=bool)
        return np.where(found, rows, -1).astype(np.int64)


@dataclass(frozen=True, slots=True)
class TrackRows:
    """A copy of some table rows, states predicted to an output time: what a snapshot reports.

    ``sources`` (K,S) marks the sensor columns that contributed to each track; ``ident`` the
    identity index each holds (-1 = none); ``status`` one of the status codes above;
    ``mode_prob`` (K,3) the motion-mode probabilities (see :attr:`TrackTable.mode_prob`).
    """

    ids: NDArray[np.int64]
    x: F64
    P: F64
    status: NDArray[np.int8]
    t_update: F64
    ident: NDArray[np.int64]
    sources: NDArray[np.bool_]
    t_birth: F64
    looks: NDArray[np.uint32]
    n_looks: NDArray[np.int16]
    #: (K,3) motion mode probabilities (hover, constant velocity, manoeuvre).
    mode_prob: F64

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def of(cls, tab: TrackTable, rows: NDArray[np.int64], x: F64, P: F64) -> TrackRows:
        """Rows ``rows`` of ``tab`` with states x (K,6) and covariances P (K,6,6)."""
        return cls(tab.ids[rows], x, P, tab.status[rows], tab.t_update[rows], tab.ident[rows],
                   tab.sources[rows], tab.t_birth[rows], tab.looks[rows], tab.n_looks[rows],
                   tab.mode_prob[rows])

    @classmethod
    def empty(cls) -> TrackRows:
        return cls.of(TrackTable(capacity=1), np.zeros(0, dtype=np.int64), np.zeros((0, 6)),
                      np.zeros((0, 6, 6)))

    @classmethod
    def concat(cls, blocks: list[TrackRows]) -> TrackRows:
        """One block of several (the sources matrix may have grown between them)."""
        if len(blocks) == 1:
            return blocks[0]
        width = max(b.sources.shape[1] for b in blocks)

        def cat(name: str) -> Any:
            return np.concatenate([getattr(b, name) for b in blocks])

        src = np.concatenate([np.pad(b.sources, ((0, 0), (0, width - b.sources.shape[1])))
                              for b in blocks])
        return cls(cat("ids"), cat("x"), cat("P"), cat("status"), cat("t_update"), cat("ident"),
                   src, cat("t_birth"), cat("looks"), cat("n_looks"), cat("mode_prob"))
