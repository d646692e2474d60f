"""GOSPA (alpha = 2) between a truth set and a track set at one time, the metric that splits
into localisation, missed and false parts (Rahmathullah, Garcia-Fernandez, Svensson 2017).

Positions metres; totals metres; parts metres**p (as Stone Soup reports them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from cuas.errors import EvaluationError
from cuas.eval.truth import FloatArray, IntArray

#: GOSPA alpha; fixed at 2, the value for which the metric splits into localisation, missed
#: and false parts.
ALPHA: Final = 2
#: Default GOSPA cutoff c (m) and order p; the reasons are in docs/truth-format.md.
DEFAULT_C: Final = 20.0
DEFAULT_P: Final = 2.0
#: Assignment entry meaning "no match".
NO_MATCH: Final = -1


# --------------------------------------------------------------------------- GOSPA


@dataclass(frozen=True, eq=False)
class GospaResult:
    """GOSPA (alpha = 2) between a truth set and a track set at one time.

    ``total`` in metres; ``localisation``, ``missed``, ``false`` in metres**p, with
    ``total**p == localisation + missed + false`` (Stone Soup's convention).
    ``assignment`` (n,) gives, per truth, the index of its track, or -1 when it is missed
    (unassigned, or assigned at a distance >= c).
    """

    total: float
    localisation: float
    missed: float
    false: float
    assignment: IntArray

    @property
    def n_assigned(self) -> int:
        """Number of truth-track pairs closer than c."""
        return int(np.count_nonzero(self.assignment >= 0))


def check_cp(c: float, p: float) -> None:
    """Raise EvaluationError unless ``c`` > 0 (m) and ``p`` >= 1, both finite."""
    if not (math.isfinite(c) and c > 0.0):
        raise EvaluationError(f"GOSPA cutoff c must be a positive number of metres, got {c}")
    if not (math.isfinite(p) and p >= 1.0):
        raise EvaluationError(f"GOSPA order p must be >= 1, got {p}")


def _as_set(x: npt.ArrayLike, what: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return a.reshape(0, a.shape[-1] if a.ndim == 2 else 3)
    if a.ndim != 2:
        raise EvaluationError(f"{what} must be an (n, d) array of positions, got shape {a.shape}")
    return a


def gospa(
    truth_xyz: npt.ArrayLike,
    track_xyz: npt.ArrayLike,
    c: float = DEFAULT_C,
    p: float = DEFAULT_P,
) -> GospaResult:
    """GOSPA with alpha = 2 between truth positions (n, 3) and track positions (m, 3), metres.

    The optimal assignment minimises sum(min(d, c)**p) (scipy ``linear_sum_assignment``); pairs
    with d < c form the localisation part, every other truth costs c**p / 2 (missed) and every
    other track c**p / 2 (false).
    """
    check_cp(c, p)
    x = _as_set(truth_xyz, "truth_xyz")
    y = _as_set(track_xyz, "track_xyz")
    n, m = len(x), len(y)
    assignment = np.full(n, NO_MATCH, dtype=np.int64)
    loc = 0.0
    if n and m:
        if x.shape[1] != y.shape[1]:
            raise EvaluationError(f"truth is {x.shape[1]}-D but tracks are {y.shape[1]}-D")
        d = cdist(x, y)
        rows, cols = linear_sum_assignment(np.minimum(d, c) ** p)
        dij = d[rows, cols]
        close = dij < c
        loc = float(np.sum(dij[close] ** p))
        assignment[rows[close]] = cols[close]
    k = int(np.count_nonzero(assignment >= 0))
    half = c**p / ALPHA
    missed = half * (n - k)
    false = half * (m - k)
    total = (loc + missed + false) ** (1.0 / p)
    return GospaResult(total, loc, missed, false, assignment)


