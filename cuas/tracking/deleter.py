"""Track life cycle: tentative → confirmed (M of N) → coasting → deleted.

Pure functions over the status arrays; the tracker applies them once per batch to all tracks.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from cuas.config import TrackerConfig
from cuas.tracking.state import COASTING, CONFIRMED, DELETED, TENTATIVE

F64 = NDArray[np.float64]


def popcount_window(looks: NDArray[np.uint32], window: int) -> NDArray[np.int64]:
    """Number of hits among the newest ``window`` looks of each track."""
    masked = looks & np.uint32((1 << window) - 1)
    bits = np.unpackbits(masked.astype(">u4").view(np.uint8).reshape(-1, 4), axis=1)
    return bits.sum(axis=1).astype(np.int64)


def silence_limits(status: NDArray[np.int8], identified: NDArray[np.bool_],
                   cfg: TrackerConfig) -> F64:
    """How long (s) each track may go without a detection before it is deleted."""
    firm = np.where(identified, cfg.delete_after_s_identified, cfg.delete_after_s_confirmed)
    return np.where(status == TENTATIVE, cfg.delete_after_s_tentative, firm)


def next_status(status: NDArray[np.int8], looks: NDArray[np.uint32], misses: NDArray[np.int16],
                since_update: F64, pos_sigma_max: F64, cfg: TrackerConfig,
                identified: NDArray[np.bool_] | None = None, score: F64 | None = None,
                limits: tuple[float, float] | None = None) -> NDArray[np.int8]:
    """The status of each track after a batch (deleted ones marked ``DELETED``).

    ``since_update`` is the time (s) from each track's last detection to the batch;
    ``pos_sigma_max`` the largest 1-sigma of its predicted position (m). With
    ``cfg.initiation == "score"``, ``score`` (N,) and the SPRT ``limits`` (confirm, drop)
    decide confirmation instead of M of N.
    """
    new = status.copy()
    tent = status == TENTATIVE
    silence_limit = silence_limits(
        status, identified if identified is not None else np.zeros(len(status), dtype=bool), cfg)
    firm = (status == CONFIRMED) | (status == COASTING)

    if cfg.initiation == "score" and score is not None and limits is not None:
        confirm = tent & (score >= limits[0])
        low = score <= limits[1]
    else:
        confirm = tent & (popcount_window(looks, cfg.confirm_n) >= cfg.confirm_m)
        low = np.zeros(len(status), dtype=bool)
    new[confirm] = CONFIRMED
    drop_tent = tent & ~confirm & (
        (misses >= cfg.delete_misses_tentative) | (since_update > cfg.delete_after_s_tentative)
        | low
    )
    new[drop_tent] = DELETED

    coast = firm & ((misses >= cfg.coast_misses) | (since_update > cfg.coast_after_s))
    new[firm & ~coast] = CONFIRMED
    new[coast] = COASTING
    drop_firm = firm & (
        (misses >= cfg.delete_misses_confirmed) | (since_update > silence_limit)
    )
    new[drop_firm] = DELETED
    new[pos_sigma_max > cfg.max_pos_sigma] = DELETED
    return new
