"""Threat levels from a score in [0, 1], with hysteresis so that a level does not flicker.

A level rises as soon as the score crosses its threshold; it falls only after the score has
stayed below the threshold less a margin for a hold time. Caps (an allow-listed or ADS-B
identity) apply at once, in both directions of time.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from cuas.vocabulary import THREAT_LEVELS

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]

NONE, LOW, MEDIUM, HIGH, CRITICAL = range(5)
#: Score at which each level from ``low`` up begins.
THRESHOLDS: Final = np.asarray([0.2, 0.4, 0.6, 0.8])
#: A representative score inside each level (used by zone rules: "at least ``high``").
LEVEL_SCORE: Final = np.asarray([0.0, 0.3, 0.5, 0.7, 0.9])
#: ``malicious`` is true at this level and above.
MALICIOUS_LEVEL: Final = HIGH


def level_of(score: F64) -> I8:
    """The level each score falls in, with no hysteresis."""
    return np.searchsorted(THRESHOLDS, score, side="right").astype(np.int8)


def name(level: int) -> str:
    return THREAT_LEVELS[level]


def hysteresis(t: float, score: F64, level: I8, below_since: F64, margin: float,
               hold_s: float) -> tuple[I8, F64]:
    """Next levels and below-since times (UTC s, NaN when not falling) of tracks whose previous
    level is ``level`` (-1 for a new track) given this update's ``score``."""
    raw = level_of(score)
    lower = level_of(score + margin)  # what the level may fall to
    rising = raw > level
    falling = ~rising & (lower < level)
    since = np.where(falling, np.where(np.isnan(below_since), t, below_since), np.nan)
    fall_now = falling & (t - since >= hold_s)
    out = np.where(rising, raw, np.where(fall_now, lower, level)).astype(np.int8)
    out = np.maximum(out, 0).astype(np.int8)  # a new track (level -1) starts at its raw level
    since = np.where(fall_now, np.nan, since)
    return out, since
