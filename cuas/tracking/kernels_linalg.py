# numba compiles these from their Python source; mypy cannot type its intrinsics or njit
# dispatchers, so the module is checked by its bit-identity tests instead.
# mypy: ignore-errors
"""Compiled small linear algebra for the tracker (numba): inverses, log-determinants,
innovation covariances and Mahalanobis distances of stacked 1×1 to 3×3 matrices, in the exact
floating-point order of the numpy/OpenBLAS code they replace (see :mod:`cuas.tracking.kernels`,
which uses them per track). Imported only through :func:`cuas.tracking.updater.kernels`.

Compiled kernels are cached on disk (``cache=True``; where: see
:func:`cuas.tracking.updater.kernels`).
"""
from __future__ import annotations

import llvmlite.ir as _ir
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

LN_2PI = float(np.log(2.0 * np.pi))


@intrinsic
def _fma(typingctx, a, b, c):
    """a·b + c rounded once (what OpenBLAS's FMA kernels compute)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = _ir.DoubleType()
        fn = cgutils.get_or_insert_function(builder.module, _ir.FunctionType(d, [d, d, d]),
                                            "llvm.fma.f64")
        return builder.call(fn, args)

    return sig, codegen


# --------------------------------------------------------------------------- small linear algebra


@njit(cache=True, error_model="numpy")
def _lu(S, n, a, piv):
    """LU of S (n×n, n ≤ 3) into ``a`` with row permutation ``piv`` as OpenBLAS's getf2
    (left-looking: each column takes the earlier ones' updates, then its pivot, then the
    reciprocal scales the rest). Returns False when a pivot is zero (singular)."""
    for r in range(n):
        piv[r] = r
        for c in range(n):
            a[r, c] = S[r, c]
    ok = True
    for j in range(n):
        # the column's U part: a[i, j] -= Σ_{l<i} a[i, l] a[l, j] (a dot product per row)
        for i in range(1, j):
            acc = 0.0
            for m in range(i):
                acc = acc + a[i, m] * a[m, j]
            a[i, j] = a[i, j] - acc
        # the rest of the column: a[i, j] -= Σ_{l<j} a[i, l] a[l, j] (gemv)
        if j > 0:
            for i in range(j, n):
                acc = a[i, 0] * a[0, j]
                for m in range(1, j):
                    acc = acc + a[i, m] * a[m, j]
                a[i, j] = a[i, j] - acc
        jp = j
        big = abs(a[j, j])
        for i in range(j + 1, n):
            if abs(a[i, j]) > big:
                big = abs(a[i, j])
                jp = i
        if jp != j:
            for c in range(n):
                t = a[j, c]
                a[j, c] = a[jp, c]
                a[jp, c] = t
            t2 = piv[j]
            piv[j] = piv[jp]
            piv[jp] = t2
        p = a[j, j]
        if p == 0.0:
            ok = False
            continue
        r = 1.0 / p
        for i in range(j + 1, n):
            a[i, j] = a[i, j] * r
    return ok


@njit(cache=True, error_model="numpy")
def _inv_into(S, n, out, a, piv):
    """out = S⁻¹ (n ≤ 3) as numpy's ``inv`` gets it from OpenBLAS's dgesv (LU, then forward
    and backward substitution on the permuted identity, the diagonal as reciprocals)."""
    ok = _lu(S, n, a, piv)
    for c in range(n):
        y0 = 1.0 if piv[0] == c else 0.0
        y1 = 0.0
        y2 = 0.0
        if n > 1:
            y1 = _fma(-a[1, 0], y0, 1.0 if piv[1] == c else 0.0)
        if n > 2:
            y2 = _fma(-a[2, 1], y1, _fma(-a[2, 0], y0, 1.0 if piv[2] == c else 0.0))
        if n == 1:
            out[0, c] = y0 * (1.0 / a[0, 0])
        elif n == 2:
            x1 = y1 * (1.0 / a[1, 1])
            out[1, c] = x1
            out[0, c] = (y0 - a[0, 1] * x1) * (1.0 / a[0, 0])
        else:
            x2 = y2 * (1.0 / a[2, 2])
            x1 = (y1 - a[1, 2] * x2) * (1.0 / a[1, 1])
            out[2, c] = x2
            out[1, c] = x1
            out[0, c] = ((y0 - a[0, 2] * x2) - a[0, 1] * x1) * (1.0 / a[0, 0])
    return ok


@njit(cache=True, error_model="numpy")
def _logdet(a, n, ok):
    """log|det| from an LU (numpy's slogdet: the logs of the pivots summed in order)."""
    if not ok:
        return -np.inf
    acc = 0.0
    for i in range(n):
        acc = acc + np.log(abs(a[i, i]))
    return acc


@njit(cache=True, error_model="numpy")
def inverse(S):
    """Inverses (K,n,n) of stacked S (K,n,n), n ≤ 3, and whether every one was regular."""
    k, n = S.shape[0], S.shape[1]
    out = np.empty_like(S)
    a = np.empty((3, 3))
    piv = np.empty(3, np.int64)
    ok = True
    for i in range(k):
        if not _inv_into(S[i], n, out[i], a, piv):
            ok = False
    return out, ok


@njit(cache=True, error_model="numpy")
def logdet(S):
    """log|det S| (K,) of stacked S (K,n,n), n ≤ 3 (numpy's slogdet(S)[1]; −inf if singular)."""
    k, n = S.shape[0], S.shape[1]
    out = np.empty(k)
    a = np.empty((3, 3))
    piv = np.empty(3, np.int64)
    for i in range(k):
        out[i] = _logdet(a, n, _lu(S[i], n, a, piv))
    return out


@njit(cache=True, error_model="numpy")
def innovation_covariance(P, H, R):
    """S = (H P) Hᵀ + R, symmetrised, for P (K,6,6), H (K,m,6), R (K,m,m), m ≤ 3."""
    k, m = H.shape[0], H.shape[1]
    S = np.empty((k, m, m))
    T = np.empty((3, 6))
    for t in range(k):
        for r in range(m):
            for c in range(6):
                acc = 0.0
                for i in range(6):
                    acc = _fma(H[t, r, i], P[t, i, c], acc)
                T[r, c] = acc
        for r in range(m):
            for c in range(m):
                acc = 0.0
                for i in range(6):
                    acc = _fma(T[r, i], H[t, c, i], acc)
                S[t, r, c] = acc + R[t, r, c]
        for r in range(m):
            for c in range(r + 1, m):
                v = 0.5 * (S[t, r, c] + S[t, c, r])
                S[t, r, c] = v
                S[t, c, r] = v
    return S


@njit(cache=True, error_model="numpy")
def mahalanobis2(y, S_inv):
    """yᵀ S⁻¹ y (K,) for residuals y (K,m) (einsum's order, see _mahalanobis)."""
    k, m = y.shape
    out = np.empty(k)
    rows = k == 1 and m == 2
    for i in range(k):
        out[i] = _mahalanobis(y[i], S_inv[i], m, rows)
    return out


@njit(cache=True, error_model="numpy")
def _mahalanobis(y, Si, m, rows):
    """yᵀ S⁻¹ y in einsum's order: the products (y_r S⁻¹_rc) y_c summed row-major from zero;
    ``rows``: each row summed first, then the rows (numpy's einsum does this for a single
    2-component residual, K = 1, where its iterator drops the track axis)."""
    acc = 0.0
    for r in range(m):
        if rows:
            row = 0.0
            for c in range(m):
                row = row + (y[r] * Si[r, c]) * y[c]
            acc = acc + row
        else:
            for c in range(m):
                acc = acc + (y[r] * Si[r, c]) * y[c]
    return acc
