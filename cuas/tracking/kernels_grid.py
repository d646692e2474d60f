# numba compiles these from their Python source; mypy cannot type its intrinsics or njit
# dispatchers, so the module is checked by its tests against the numpy/KD-tree path instead.
# mypy: ignore-errors
"""Compiled spatial gates (numba): which track–detection pairs, and which track–track pairs,
are close enough to be compared at all, without building a KD-tree per scan.

The points of one side are binned in a uniform east–north grid (a counting sort, at most about
four cells per point); each query point visits the cells its reach can touch, or every point when
that would be more cells than points (a very wide track). Pairs come out in one canonical
order, by the first index and then the second, the order the numpy path sorts its KD-tree
pairs into (:func:`cuas.tracking.hypothesiser.candidate_pairs`,
:func:`cuas.tracking.duplicates.candidate_partners`), and every test is the numpy path's own
arithmetic, so both paths give the same pairs.

Imported only through :func:`cuas.tracking.updater.kernels` (with the other kernels).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Relative slack on the cell size: a query whose reach equals the cell size still visits only
#: the 3 × 3 cells about it, and rounding in ``floor(x / h)`` can never hide a neighbour.
_SLACK = 1e-6


@njit(cache=True, error_model="numpy")
def _grid(pos, h):
    """Bin the finite rows of pos (K,3) in east–north cells of side at least h (m), at most
    about 4K cells (the cell grows for a sparse, wide scene): returns the cell size, the grid
    origin (x0, y0), its size in cells (nx, ny), the rows ordered by cell (by index inside
    one), and each cell's first position in that order (start, nx·ny + 1 entries)."""
    k = pos.shape[0]
    x0 = np.inf
    y0 = np.inf
    x1 = -np.inf
    y1 = -np.inf
    for i in range(k):
        x = pos[i, 0]
        y = pos[i, 1]
        if abs(x) < np.inf and abs(y) < np.inf and abs(pos[i, 2]) < np.inf:
            x0 = min(x0, x)
            y0 = min(y0, y)
            x1 = max(x1, x)
            y1 = max(y1, y)
    if not x0 <= x1:  # nothing finite
        return 1.0, 0.0, 0.0, 1, 1, np.zeros(0, np.int64), np.zeros(2, np.int64)
    if not h > 0.0:
        h = 1.0
    budget = 4 * k + 64
    while True:
        fx = np.floor((x1 - x0) / h) + 1.0
        fy = np.floor((y1 - y0) / h) + 1.0
        if fx * fy <= budget:
            break
        h = h * max(np.sqrt(fx * fy / budget), 1.0 + _SLACK)
    nx = int(fx)
    ny = int(fy)
    cell = np.empty(k, np.int64)
    start = np.zeros(nx * ny + 1, np.int64)
    for i in range(k):
        x = pos[i, 0]
        y = pos[i, 1]
        if abs(x) < np.inf and abs(y) < np.inf and abs(pos[i, 2]) < np.inf:
            cx = min(int(np.floor((x - x0) / h)), nx - 1)
            cy = min(int(np.floor((y - y0) / h)), ny - 1)
            cell[i] = cx * ny + cy
            start[cell[i] + 1] += 1
        else:
            cell[i] = -1
    for c in range(nx * ny):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    order = np.empty(start[nx * ny], np.int64)
    for i in range(k):  # a counting sort: stable, so by index inside each cell
        c = cell[i]
        if c >= 0:
            order[fill[c]] = i
            fill[c] += 1
    return h, x0, y0, nx, ny, order, start


@njit(cache=True, error_model="numpy")
def _visit(px, py, reach, h, x0, y0, nx, ny, order, start, n_all, buf):
    """Indices of every binned point whose cell a query at (px, py) with ``reach`` (m) can
    touch, ascending, written into buf (grown as needed); returns (buf, count). A query with a
    non-finite position or reach, or one spanning more cells than there are points, gets every
    index 0..n_all-1 (the exact test decides)."""
    kcells = reach / h * (1.0 + _SLACK) + _SLACK
    kc = 0
    ok = abs(px) < np.inf and abs(py) < np.inf and kcells < 1e9
    if ok:
        kc = int(np.ceil(kcells))
        ok = (2 * kc + 1) * (2 * kc + 1) <= n_all + 9
    if not ok:
        if buf.shape[0] < n_all:
            buf = np.empty(2 * n_all, np.int64)
        for i in range(n_all):
            buf[i] = i
        return buf, n_all
    fx = np.floor((px - x0) / h)
    fy = np.floor((py - y0) / h)
    if not (-kc - 1 <= fx <= nx + kc and -kc - 1 <= fy <= ny + kc):
        return buf, 0  # farther from every binned point than its reach
    cx = int(fx)
    cy = int(fy)
    lo_y = max(cy - kc, 0)
    hi_y = min(cy + kc, ny - 1)
    if lo_y > hi_y:
        return buf, 0
    cnt = 0
    for gx in range(max(cx - kc, 0), min(cx + kc, nx - 1) + 1):
        s = start[gx * ny + lo_y]
        e = start[gx * ny + hi_y + 1]
        if cnt + e - s > buf.shape[0]:
            grown = np.empty(2 * (cnt + e - s) + 16, np.int64)
            grown[:cnt] = buf[:cnt]
            buf = grown
        for q in range(s, e):
            v = order[q]
            p = cnt  # insertion: the few candidates of a query come out ascending
            while p > 0 and buf[p - 1] > v:
                buf[p] = buf[p - 1]
                p -= 1
            buf[p] = v
            cnt += 1
    return buf, cnt


@njit(cache=True, error_model="numpy")
def _push(ti, dj, n_out, a, b):
    """Append the pair (a, b) to the output arrays, doubling them when full."""
    if n_out >= ti.shape[0]:
        cap = 2 * ti.shape[0] + 64
        t2 = np.empty(cap, np.int64)
        d2 = np.empty(cap, np.int64)
        t2[:n_out] = ti[:n_out]
        d2[:n_out] = dj[:n_out]
        ti = t2
        dj = d2
    ti[n_out] = a
    dj[n_out] = b
    return ti, dj


@njit(cache=True, error_model="numpy")
def gate_pairs(track_pos, track_radius2, det_pos, det_radius2, gate, cell):
    """hypothesiser.candidate_pairs: pairs (track row, det index) with
    ((dx² + dy²) + dz²) ≤ gate·(r²_track + r²_det), by track then detection. ``cell`` (m):
    the grid's cell size (the reach of most tracks)."""
    n = track_pos.shape[0]
    m = det_pos.shape[0]
    h, x0, y0, nx, ny, order, start = _grid(det_pos, cell * (1.0 + _SLACK))
    dr_max = 0.0
    for j in range(m):
        if det_radius2[j] > dr_max:
            dr_max = det_radius2[j]
    ti = np.empty(n + m + 64, np.int64)
    dj = np.empty(n + m + 64, np.int64)
    buf = np.empty(64, np.int64)
    n_out = 0
    for i in range(n):
        reach = np.sqrt(gate * (track_radius2[i] + dr_max))
        if not reach < np.inf:
            reach = np.inf
        buf, cnt = _visit(track_pos[i, 0], track_pos[i, 1], reach, h, x0, y0, nx, ny, order,
                          start, m, buf)
        for q in range(cnt):
            j = buf[q]
            a = track_pos[i, 0] - det_pos[j, 0]
            b = track_pos[i, 1] - det_pos[j, 1]
            c = track_pos[i, 2] - det_pos[j, 2]
            if (a * a + b * b) + c * c <= gate * (track_radius2[i] + det_radius2[j]):
                ti, dj = _push(ti, dj, n_out, i, j)
                n_out += 1
    return ti[:n_out].copy(), dj[:n_out].copy()


@njit(cache=True, error_model="numpy")
def close_pairs(pos, r):
    """Pairs (i, j), i < j, of points pos (N,3) with ((dx² + dy²) + dz²) ≤ r², by i then j
    (what ``cKDTree.query_pairs(r)`` finds, sorted)."""
    n = pos.shape[0]
    h, x0, y0, nx, ny, order, start = _grid(pos, r * (1.0 + _SLACK))
    ti = np.empty(n + 64, np.int64)
    dj = np.empty(n + 64, np.int64)
    buf = np.empty(64, np.int64)
    n_out = 0
    r2 = r * r
    for i in range(n):
        if not (abs(pos[i, 0]) < np.inf and abs(pos[i, 1]) < np.inf and abs(pos[i, 2]) < np.inf):
            continue  # a KD-tree has no place for it either
        buf, cnt = _visit(pos[i, 0], pos[i, 1], r, h, x0, y0, nx, ny, order, start, n, buf)
        for q in range(cnt):
            j = buf[q]
            if j <= i:
                continue
            a = pos[i, 0] - pos[j, 0]
            b = pos[i, 1] - pos[j, 1]
            c = pos[i, 2] - pos[j, 2]
            if (a * a + b * b) + c * c <= r2:
                ti, dj = _push(ti, dj, n_out, i, j)
                n_out += 1
    return ti[:n_out].copy(), dj[:n_out].copy()
