"""A clutter map: where stationary tracks have lived and died.

Fixed clutter (a mast, a crane, a roof edge) returns from the same place scan after scan, and
its tracks die and are born again there whenever a few looks miss. One track alone cannot tell
such a return from a drone hovering since it was first seen; the place's past can. This map
keeps, per cell of site ENU space, the decaying sum of the lifetimes (s) of tracks that ended
there without ever having moved, the way a radar's clutter map remembers the cells that keep
returning (Skolnik, "Introduction to Radar Systems", 3rd ed., 2001, ch. 3).

Cells are packed into sorted int64 keys so that looking up every track of a snapshot is one
vectorised ``searchsorted``; recording (rare: a stationary track's end) rebuilds the arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Bits per packed cell coordinate, and the offset that makes coordinates non-negative.
_BITS = 21
_OFFSET = 1 << (_BITS - 1)


class ClutterMap:
    """Decaying stationary-track seconds per ``cell_m`` cube of site ENU space (metres).

    A lifetime is recorded into the cell where the track sat and its 26 neighbours, so that a
    return whose position wanders across a cell edge is still found by a one-cell lookup.
    Values halve every ``half_life_s``; at most ``max_cells`` cells are kept (the weakest go).
    """

    def __init__(self, cell_m: float = 30.0, half_life_s: float = 1800.0,
                 max_cells: int = 20_000) -> None:
        self.cell_m = cell_m
        self.half_life_s = half_life_s
        self.max_cells = max_cells
        self.keys = np.zeros(0, dtype=np.int64)  # sorted
        self.seconds = np.zeros(0)  # at time self.t
        self.t = -math.inf

    def _cells(self, pos: F64) -> I64:
        """Packed cell keys of ENU positions (N, 3), metres."""
        idx = np.floor(np.nan_to_num(pos) / self.cell_m).astype(np.int64)
        idx = np.clip(idx + _OFFSET, 0, (1 << _BITS) - 1)
        return (idx[:, 0] << (2 * _BITS)) | (idx[:, 1] << _BITS) | idx[:, 2]

    def _decay_to(self, t: float) -> None:
        if math.isfinite(self.t) and t > self.t:
            self.seconds = self.seconds * 0.5 ** ((t - self.t) / self.half_life_s)
        self.t = max(self.t, t)

    def record(self, t: float, pos: F64, life_s: F64) -> None:
        """Tracks that ended at ``t`` (UTC s) after sitting at ``pos`` (K, 3) for ``life_s``."""
        if not len(pos):
            return
        self._decay_to(t)
        offs = np.stack(np.meshgrid(*([np.array([-1.0, 0.0, 1.0])] * 3), indexing="ij"),
                        axis=-1).reshape(-1, 3) * self.cell_m
        cells = self._cells((pos[:, None, :] + offs[None, :, :]).reshape(-1, 3))
        add = np.repeat(np.asarray(life_s, dtype=np.float64), len(offs))
        keys = np.concatenate([self.keys, cells])
        vals = np.concatenate([self.seconds, add])
        self.keys, inv = np.unique(keys, return_inverse=True)
        self.seconds = np.bincount(inv.ravel(), weights=vals,
                                   minlength=len(self.keys)).astype(np.float64)
        if len(self.keys) > self.max_cells:
            strongest = np.sort(np.argsort(self.seconds)[-self.max_cells:])
            self.keys, self.seconds = self.keys[strongest], self.seconds[strongest]

    def lookup(self, t: float, pos: F64) -> F64:
        """Stationary-track seconds remembered at each of ``pos`` (N, 3) at ``t`` (UTC s)."""
        out = np.zeros(len(pos))
        if not len(self.keys) or not len(pos):
            return out
        cells = self._cells(pos)
        i = np.minimum(np.searchsorted(self.keys, cells), len(self.keys) - 1)
        hit = self.keys[i] == cells
        scale = 0.5 ** (max(t - self.t, 0.0) / self.half_life_s)
        out[hit] = self.seconds[i[hit]] * scale
        return out
