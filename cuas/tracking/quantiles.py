"""The chi-square quantile the gates need, without importing ``scipy.stats``.

``scipy.stats`` takes 0.7-3 s to import (it loads every distribution) and the tracker needs one
``chi2.ppf`` per gate dimension at start-up, so the command-line tools paid for it on every
start. ``chi2.ppf(p, dof)`` here inverts the regularised lower incomplete gamma function
P(dof/2, x/2) by safeguarded Newton steps; tests/tracking/test_quantiles.py holds it to
``scipy.stats.chi2.ppf`` within 1e-9 (relative).
"""

from __future__ import annotations

import math

_EPS = 1e-16
_MAX_ITER = 500


def _gamma_pq(a: float, x: float) -> tuple[float, float]:
    """The regularised incomplete gamma functions (P(a, x), Q(a, x) = 1 - P), a > 0, x >= 0,
    each computed directly where it is small so that neither tail loses its precision."""
    if x <= 0.0:
        return 0.0, 1.0
    front = math.exp(a * math.log(x) - x - math.lgamma(a))
    if x < a + 1.0:
        # Power series for P: converges fast below the mode.
        term = total = 1.0 / a
        ap = a
        for _ in range(_MAX_ITER):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        p = min(1.0, total * front)
        return p, 1.0 - p
    # Continued fraction for Q (modified Lentz): converges fast above the mode.
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    q = max(0.0, front * h)
    return 1.0 - q, q


def _chi2_pdf(x: float, dof: float) -> float:
    if x <= 0.0:
        return 0.0
    k = 0.5 * dof
    return math.exp((k - 1.0) * math.log(x) - 0.5 * x - k * math.log(2.0) - math.lgamma(k))


class _Chi2:
    """``chi2.ppf`` with scipy's signature for the one use the tracker makes of it."""

    @staticmethod
    def ppf(p: float, dof: float) -> float:
        """The ``p`` quantile of the chi-square distribution with ``dof`` degrees of freedom
        (0 < p < 1, dof > 0): the squared Mahalanobis distance a gate of probability ``p``
        admits."""
        p, dof = float(p), float(dof)
        if not dof > 0.0:
            raise ValueError(f"degrees of freedom must be > 0, got {dof}")
        if p == 0.0:
            return 0.0
        if p == 1.0:
            return math.inf
        if not 0.0 < p < 1.0:
            raise ValueError(f"probability must lie in [0, 1], got {p}")
        # Solve P = p in the lower half and Q = 1 - p in the upper one (each small there).
        upper = p > 0.5
        target = 1.0 - p if upper else p

        def excess(x: float) -> float:  # increasing in x, zero at the quantile
            pp, qq = _gamma_pq(0.5 * dof, 0.5 * x)
            return target - qq if upper else pp - target

        # Bracket the root, then Newton steps kept inside the bracket (bisection otherwise).
        lo, hi = 0.0, max(1.0, dof)
        while excess(hi) < 0.0:
            lo, hi = hi, hi * 2.0
        x = 0.5 * (lo + hi)
        for _ in range(_MAX_ITER):
            f = excess(x)
            if f == 0.0:
                return x
            if f < 0.0:
                lo = x
            else:
                hi = x
            dens = _chi2_pdf(x, dof)
            nxt = x - f / dens if dens > 0.0 else 0.5 * (lo + hi)
            if not lo < nxt < hi:
                nxt = 0.5 * (lo + hi)
            if abs(nxt - x) <= 1e-15 * x:
                return nxt
            x = nxt
        return x


#: Drop-in for ``scipy.stats.chi2`` where only ``ppf`` is needed.
chi2 = _Chi2()
