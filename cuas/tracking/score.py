"""Track scores: sequential log-likelihood ratios (target vs clutter) and the clutter density
they are measured against, estimated online per sensor.

A track's score starts at 0 when it is born and changes with every look of a sensor that
should have seen it: a hit adds ln(Pd · N(y; 0, S) / λ), the detection's likelihood under the
track against the clutter density λ of that sensor's measurement space; a miss adds ln(1 − Pd).
Wald's sequential probability ratio test confirms a tentative track when its score reaches
ln(1/α) and drops it below ln(β): α is the probability that a clutter-born track is confirmed,
set from the target false-track rate and the rate at which tentative tracks are born, β the
probability of dropping a real target.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from cuas.tracking.measurements import MeasurementBatch

F64 = NDArray[np.float64]
LN_2PI = float(np.log(2.0 * np.pi))

#: Smallest extent a sensor's coverage is given per axis, in sigmas of its measurement noise,
#: so the first few detections cannot claim a vanishing volume.
MIN_SPAN_SIGMAS = 20.0
#: Weight of each new batch in the clutter count's running mean.
COUNT_WEIGHT = 0.05
#: The clutter map rates a cell over at least this many looks of its sensor.
MIN_LOOKS = 30.0
#: Births per hour assumed before any was seen (it keeps α sane at start-up).
MIN_BIRTHS_PER_H = 360.0
#: Time constant (s) of the running birth rate.
BIRTH_RATE_TAU_S = 600.0
#: The birth rate is never taken over less than this window (s): the first batch's births
#: are a look's worth, not an instant's.
MIN_BIRTH_WINDOW_S = 1.0
#: α and β are clipped to these (ln 1/α at most about 16).
MIN_ALPHA = 1e-7
MAX_ALPHA = 0.1


class ClutterDensity:
    """Per sensor column: a running mean of the detections no track claimed per look
    and the extent of everything the sensor reported (each measurement axis, in its units),
    whose ratio is the clutter density λ (per m·deg² for range/az/el, per m³ for Cartesian,
    per deg² for bearings)."""

    def __init__(self) -> None:
        self.lo = np.full((0, 3), np.inf)
        self.hi = np.full((0, 3), -np.inf)
        self.sigma = np.zeros((0, 3))
        self.count = np.zeros(0)
        self.seen = np.zeros(0, dtype=np.int64)

    def _ensure(self, col: int) -> None:
        n = len(self.count)
        if col >= n:
            k = max(col + 1, 2 * n)
            self.lo = np.vstack([self.lo, np.full((k - n, 3), np.inf)])
            self.hi = np.vstack([self.hi, np.full((k - n, 3), -np.inf)])
            self.sigma = np.vstack([self.sigma, np.zeros((k - n, 3))])
            self.count = np.concatenate([self.count, np.zeros(k - n)])
            self.seen = np.concatenate([self.seen, np.zeros(k - n, dtype=np.int64)])

    def extend(self, col: int, z: F64, R: F64, dim: int) -> None:
        """Widen sensor ``col``'s coverage to its detections z (M,≥dim), covariances R
        (M,≥dim,≥dim), of one look."""
        self._ensure(col)
        if len(z) and dim:
            zz = z[:, :dim]
            fin = np.all(np.isfinite(zz), axis=1)
            if fin.any():
                sig = np.sqrt(np.diagonal(R[fin, :dim, :dim], axis1=1, axis2=2).max(axis=0))
                self.sigma[col, :dim] = np.maximum(self.sigma[col, :dim], sig)
                self.lo[col, :dim] = np.minimum(self.lo[col, :dim], zz[fin].min(axis=0))
                self.hi[col, :dim] = np.maximum(self.hi[col, :dim], zz[fin].max(axis=0))

    def count_unclaimed(self, col: int, unclaimed: int) -> None:
        """One look of sensor ``col`` left ``unclaimed`` detections to no track."""
        self._ensure(col)
        w = max(COUNT_WEIGHT, 1.0 / (self.seen[col] + 1))
        self.count[col] += w * (unclaimed - self.count[col])
        self.seen[col] += 1

    def log_density(self, col: int, dim: int) -> float:
        """ln λ of sensor ``col`` in its ``dim``-dimensional measurement space."""
        self._ensure(col)
        if dim == 0:
            return 0.0
        span = self.hi[col, :dim] - self.lo[col, :dim]
        least = np.maximum(MIN_SPAN_SIGMAS * self.sigma[col, :dim], 1e-3)
        span = np.where(np.isfinite(span), np.maximum(span, least), least)
        # At least a tenth of a detection per look: a sensor with no clutter yet is not
        # taken to have none at all (an infinite score for any hit).
        return float(math.log(max(self.count[col], 0.1)) - np.log(span).sum())


class BirthRate:
    """Tentative tracks born per hour: an exponentially weighted count over the time constant
    ``tau_s`` divided by the weighted time actually elapsed, so the estimate is unbiased from
    the first batch on. (A running mean started at zero, as before, read a few percent of
    the true rate in the first seconds: the SPRT's confirm threshold was then low, and fixed
    clutter seen at start-up, before the clutter map knew it, was confirmed within 1-3 s.)"""

    def __init__(self, tau_s: float = BIRTH_RATE_TAU_S) -> None:
        self.tau = tau_s
        self.count = 0.0
        self.window = 0.0
        self.t: float | None = None

    def add(self, t: float, born: int) -> None:
        """``born`` tracks started at ``t`` (UTC s, batches in time order)."""
        dt = 0.0 if self.t is None else max(t - self.t, 0.0)
        decay = math.exp(-dt / self.tau)
        self.count = self.count * decay + born
        self.window = self.window * decay + self.tau * (1.0 - decay)
        self.t = t if self.t is None else max(self.t, t)

    def per_hour(self) -> float:
        """Births per hour (at least ``MIN_BIRTHS_PER_H``)."""
        rate = self.count / max(self.window, MIN_BIRTH_WINDOW_S) * 3600.0
        return max(rate, MIN_BIRTHS_PER_H)


def thresholds(false_tracks_per_h: float, births_per_h: float,
               miss_probability: float) -> tuple[float, float]:
    """(confirm, drop) score thresholds of the SPRT: ln(1/α) and ln(β), where α = the target
    false-track rate over the rate of births (per hour) and β = ``miss_probability``."""
    alpha = min(MAX_ALPHA, max(MIN_ALPHA, false_tracks_per_h / max(births_per_h, 1e-9)))
    beta = min(MAX_ALPHA, max(MIN_ALPHA, miss_probability))
    return math.log(1.0 / alpha), math.log(beta)


class ClutterMap:
    """Where plots recur without motion, per sensor: a decaying count of the plots no track took
    or that a track known not to move took, per cube of ``cell_m`` metres of site ENU (hashed
    into a fixed table, so memory is bounded whatever the sensor reports), against the
    decaying count of that sensor's looks: their ratio is how many plots per look the cell
    gives. Fixed clutter (masts, trees, wind turbines) is a point source whose plots spread
    like the sensor's noise, so a hit there is scored against that source as well as against
    the uniform clutter: tracks born on it confirm only on far stronger evidence, while a
    target passing through leaves a few plots at most."""

    SIZE = 1 << 18

    def __init__(self, cell_m: float = 50.0, tau_s: float = 600.0) -> None:
        self.cell = cell_m
        self.tau = tau_s
        self.count = np.zeros(self.SIZE)
        self.t_cell = np.zeros(self.SIZE)
        self.looks = np.zeros(0)
        self.t_look = np.zeros(0)

    def _keys(self, col: int, pos: F64, shift: NDArray[np.int64] | None = None
              ) -> NDArray[np.int64]:
        ijk = np.floor(pos / self.cell).astype(np.int64)
        if shift is not None:
            ijk = ijk + shift
        h = (ijk[:, 0] * 73856093) ^ (ijk[:, 1] * 19349663) ^ (ijk[:, 2] * 83492791) ^ (
            col * 2654435761)
        return np.asarray(h & (self.SIZE - 1), dtype=np.int64)

    def _decayed(self, keys: NDArray[np.int64], t: float) -> F64:
        return np.asarray(self.count[keys] * np.exp(-np.maximum(t - self.t_cell[keys], 0.0)
                                                    / self.tau), dtype=np.float64)

    def look(self, col: int, t: float, still_pos: F64) -> None:
        """One look of sensor ``col`` at ``t`` (UTC s) with the site points (K,3) of its plots
        no track took or a track known not to move took (NaN rows ignored)."""
        if col >= len(self.looks):
            k = max(col + 1, 2 * len(self.looks))
            self.looks = np.concatenate([self.looks, np.zeros(k - len(self.looks))])
            self.t_look = np.concatenate([self.t_look, np.full(k - len(self.t_look), t)])
        self.looks[col] = self.looks[col] * math.exp(-max(t - self.t_look[col], 0.0) / self.tau) + 1
        self.t_look[col] = t
        pos = still_pos[np.all(np.isfinite(still_pos), axis=1)]
        if not len(pos):
            return
        # One count per cell per look: a fixed return gives one plot a look, and a passing
        # swarm's many plots in one cell are not many looks of a fixed return.
        uk = np.unique(self._keys(col, pos))
        self.count[uk] = self._decayed(uk, t) + 1.0
        self.t_cell[uk] = t

    def rate(self, col: int, t: float, pos: F64) -> F64:
        """Plots per look of sensor ``col`` around site points (K,3): in the 2×2×2 cells
        nearest each point, so a source on a cell border is not split (0 where a point is
        NaN or the sensor has not looked yet)."""
        out = np.zeros(len(pos))
        if col >= len(self.looks) or self.looks[col] <= 0:
            return out
        fin = np.all(np.isfinite(pos), axis=1)
        if fin.any():
            looks = self.looks[col] * math.exp(-max(t - self.t_look[col], 0.0) / self.tau)
            # Over at least MIN_LOOKS looks: one plot is not yet a recurring one.
            p = pos[fin]
            frac = p / self.cell - np.floor(p / self.cell)
            side = np.where(frac >= 0.5, 1, -1).astype(np.int64)  # the nearer neighbour
            total = np.zeros(len(p))
            for corner in np.ndindex(2, 2, 2):
                total += self._decayed(self._keys(col, p, side * np.asarray(corner)), t)
            out[fin] = total / max(looks, MIN_LOOKS)
        return out


def local_clutter(cmap: ClutterMap, meas: MeasurementBatch, col: int, log_lam: F64) -> F64:
    """How much sensor ``col``'s clutter map lowers the evidence of a hit on each detection of
    ``meas`` (M,): ln((λ + λ_map) / λ), where a cell giving p plots per look is a point source
    of density p N(0; 0, R) at its plots (measurement space, like λ; ``log_lam`` ln λ per
    measurement dimension 0..3)."""
    out = np.zeros(meas.m)
    rate = cmap.rate(col, meas.t, meas.pos)
    some = np.flatnonzero(rate > 0)
    if not len(some):
        return out
    dims = meas.per_model([m.dim for m in meas.models], np.int64)[some]
    for dim in np.unique(dims).tolist():
        if dim == 0:
            continue
        sel = dims == dim
        _, logdet_r = np.linalg.slogdet(meas.R[some[sel], :dim, :dim])
        log_src = np.log(rate[some[sel]]) - 0.5 * (dim * LN_2PI + logdet_r)
        out[some[sel]] = np.logaddexp(log_lam[dim], log_src) - log_lam[dim]
    return np.where(np.isfinite(out), out, 0.0)
