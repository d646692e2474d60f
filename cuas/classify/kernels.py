# numba compiles these from their Python source; mypy cannot type its njit dispatchers, so the
# module is checked by its bit-identity tests (tests/classify/test_kernels.py) instead.
# mypy: ignore-errors
"""Compiled per-track kernels (numba) for the classifier's hot loops.

:func:`curve_terms` evaluates every likelihood curve of every track in one pass, with
``np.interp``'s arithmetic (same breakpoint search, same slope, same expression) and the terms
summed in the classifier's order, so the probabilities are the numpy path's to the last bit
(:meth:`cuas.classify.model.CurveTable.terms` with the kernels off is the oracle).
:func:`window_features` computes the window features of :func:`cuas.classify.features.features`
with numpy's order of sums (its oracle: ``features._window_features``). :func:`order_reasons`
orders each track's reason weights as a stable argsort of the negated weights does.

numba is imported only here, and this module only when a kernel is first needed
(:func:`cuas.classify.model.kernels`), so ``import cuas.classify`` stays light.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def curve_terms(values, xs, llr, nbs, clips, kinematic, terms, kin):
    """Add every curve's clipped term to ``terms`` (N, 4), and the kinematic curves' to ``kin``.

    ``values`` (K, N) feature values (non-finite: no evidence, a term of 0); ``xs`` (K, B)
    breakpoints padded to B; ``llr`` (K, 4, B); ``nbs`` (K,) breakpoints per curve; ``clips``
    (K,); ``kinematic`` (K,) bool. Curves are added in k order, as the classifier's loop does;
    each value is placed among the breakpoints once for all four classes, and the term is
    ``np.interp``'s: the end value outside the range or on a breakpoint, else the slope times
    the offset from the breakpoint below plus its value.
    """
    n = values.shape[1]
    for k in range(values.shape[0]):
        nb = nbs[k]
        x = xs[k]
        f = llr[k]
        clip = clips[k]
        is_kin = kinematic[k]
        for i in range(n):
            v = values[k, i]
            # Where v falls: -1 missing, -2 below the first breakpoint, -3 at or above the
            # last, -4 - j exactly on breakpoint j, else j with x[j] < v < x[j + 1].
            if not math.isfinite(v):
                where = -1
            elif v < x[0]:
                where = -2
            elif v >= x[nb - 1]:
                where = -3
            else:
                j = 0
                while x[j + 1] <= v:
                    j += 1
                where = -4 - j if x[j] == v else j
            for c in range(4):
                if where == -1:
                    term = 0.0
                else:
                    if where == -2:
                        term = f[c, 0]
                    elif where == -3:
                        term = f[c, nb - 1]
                    elif where <= -4:
                        term = f[c, -4 - where]
                    else:
                        slope = (f[c, where + 1] - f[c, where]) / (x[where + 1] - x[where])
                        term = slope * (v - x[where]) + f[c, where]
                    if term < -clip:
                        term = -clip
                    elif term > clip:
                        term = clip
                terms[i, c] = terms[i, c] + term
                if is_kin:
                    kin[i, c] = kin[i, c] + term


@njit(cache=True)
def order_reasons(W, limit, order, count):
    """Per row of weights ``W`` (N, S): the columns of its ``limit`` largest positive weights,
    largest first and ties in column order (a stable argsort of -W), into ``order`` (N, limit);
    how many there are into ``count`` (N,)."""
    n, s = W.shape
    for i in range(n):
        m = 0
        for j in range(s):
            w = W[i, j]
            if not w > 0.0:
                continue
            # Insert j after every kept column of weight >= w (ties keep column order).
            p = m if m < limit else limit
            while p > 0 and W[i, order[i, p - 1]] < w:
                if p < limit:
                    order[i, p] = order[i, p - 1]
                p -= 1
            if p < limit:
                order[i, p] = j
            if m < limit:
                m += 1
        count[i] = m


@njit(cache=True, inline="always")
def _row_sum(a, m, pairwise):
    """``a[:m].sum()`` as numpy reduces a row of an (N, m) array along axis 1: ``pairwise``
    (rows contiguous): eight accumulators for 8 <= m <= 128 (the caller keeps m <= 128),
    plain from zero below 8; else (columns contiguous) column after column from the first."""
    if m < 8 or not pairwise:
        res = 0.0
        for i in range(m):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
    r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
    i = 8
    while i < m - (m % 8):
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < m:
        res += a[i]
        i += 1
    return res


@njit(cache=True, error_model="numpy")
def window_features(e, n, u, t, count, sig_h2, min_path, min_seg, hover_speed, hover_height,
                    rows_contiguous, out):
    """The window features of :func:`cuas.classify.features.features` for N tracks, with its
    numpy operations in their order (row sums as numpy's pairwise reduction): positions
    ``e``, ``n``, ``u`` (N, D) oldest first, sample times ``t`` (D,), valid samples ``count``
    (N,) (the newest), horizontal position variance ``sig_h2`` (N,). Writes ``out`` (6, N):
    straightness, turn rate (deg/s), hover time (s), loiter radius (m), displacement (m),
    window (s). ``rows_contiguous``: whether the window's rows are contiguous: numpy then sums
    the path and turn rows pairwise, else column by column (its arrays follow the window's
    layout); the hover and moment sums are over arrays numpy lays out by rows either way."""
    pw = rows_contiguous
    nt, d = e.shape
    nan = math.nan
    dt = np.empty(d - 1)
    for j in range(d - 1):
        v = t[j + 1] - t[j]
        dt[j] = v if (math.isfinite(v) and v > 0) else 0.0
    de = np.empty(d - 1)
    dn = np.empty(d - 1)
    length = np.empty(d - 1)
    buf = np.empty(d)
    for i in range(nt):
        cnt = count[i]
        lo = d - cnt  # first valid sample
        for j in range(d - 1):
            de[j] = e[i, j + 1] - e[i, j]
            dn[j] = n[i, j + 1] - n[i, j]
            length[j] = math.sqrt(de[j] * de[j] + dn[j] * dn[j]) if j >= lo else 0.0
        path = _row_sum(length, d - 1, pw)
        first = min(lo, d - 1)
        net_e = e[i, d - 1] - e[i, first]
        net_n = n[i, d - 1] - n[i, first]
        net = math.sqrt(net_e * net_e + net_n * net_n)
        if path >= min_path and path >= 3.0 * math.sqrt(sig_h2[i]):  # NaN: not long enough
            q = net / path
            straight = q if (q != q or q <= 1.0) else 1.0
        else:
            straight = nan
        # Turns between consecutive moving segments.
        npair = 0
        for j in range(d - 2):
            if length[j] >= min_seg and length[j + 1] >= min_seg:
                cross = de[j] * dn[j + 1] - dn[j] * de[j + 1]
                dot = de[j] * de[j + 1] + dn[j] * dn[j + 1]
                buf[j] = abs(math.atan2(cross, dot))
                npair += 1
            else:
                buf[j] = 0.0
        turned = _row_sum(buf, d - 2, pw)
        for j in range(d - 2):
            moving = length[j] >= min_seg and length[j + 1] >= min_seg
            buf[j] = dt[j + 1] if moving else 0.0
        span = _row_sum(buf, d - 2, pw)
        turn = turned * (180.0 / math.pi) / span if (npair >= 2 and span > 0) else nan
        for j in range(d - 1):
            slow = j >= lo and length[j] < hover_speed * dt[j] and u[i, j + 1] > hover_height
            buf[j] = dt[j] if slow else 0.0
        hover = _row_sum(buf, d - 1, True) if cnt >= 2 else nan
        # Radius of gyration from the first and second moments of the valid samples.
        k = max(cnt, 1)
        last = e[i, d - 1]
        for j in range(d):
            buf[j] = e[i, j] - last if j >= lo else 0.0
        me = _row_sum(buf, d, True) / k
        for j in range(d):
            buf[j] = buf[j] * buf[j]
        see = _row_sum(buf, d, True)
        last = n[i, d - 1]
        for j in range(d):
            buf[j] = n[i, j] - last if j >= lo else 0.0
        mn = _row_sum(buf, d, True) / k
        for j in range(d):
            buf[j] = buf[j] * buf[j]
        snn = _row_sum(buf, d, True)
        var = see / k - me * me + snn / k - mn * mn
        rg = math.sqrt(var if (var != var or var >= 0.0) else 0.0)
        out[0, i] = straight
        out[1, i] = turn
        out[2, i] = hover
        out[3, i] = rg
        out[4, i] = net
        out[5, i] = t[d - 1] - t[first] if cnt >= 2 else 0.0
