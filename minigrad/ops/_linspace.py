"""PyTorch's linspace, bit for bit (``minigrad.linspace``, ``logspace`` and ``histogram``'s bin edges use it).

PyTorch computes, in the dtype, step = (end - start) / (steps - 1), then the first half of the points as
start + step * i and the second half as end - step * (steps - 1 - i), each one fused multiply-add (one rounding).
NumPy has no fused multiply-add, so the products and sums are done here exactly (in float64 for the narrower
dtypes, with error-free transformations in float64), and the rare points where that leaves a doubt are computed
with fractions.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

_SPLIT = 134217729.0  # 2 ** 27 + 1: Veltkamp's split of a float64 into two 26-bit halves


def _round(x: Fraction, dtype: np.dtype):
    """``x`` rounded once to ``dtype`` (to nearest, ties to even)."""
    wide = float(x)  # correctly rounded to float64
    out = dtype.type(wide)
    if dtype.itemsize < 8 and float(out) != wide and Fraction(wide) != x:
        other = np.nextafter(out, dtype.type(np.inf if wide > float(out) else -np.inf))
        if wide == (float(out) + float(other)) / 2:  # float64 landed on the midpoint: x says which side
            out = max(out, other) if x > Fraction(wide) else min(out, other)
    return out


def _fraction_fma(a: float, k: np.ndarray, c: float, dtype) -> np.ndarray:
    fa, fc = Fraction(a), Fraction(c)
    return np.array([_round(fc + fa * int(i), dtype) for i in k], dtype)


def _fma(a, k: np.ndarray, c, dtype: np.dtype) -> np.ndarray:
    """round_dtype(a * k + c) for dtype values ``a``, ``c`` and integers ``k`` (>= 0), rounded once."""
    a, c = float(a), float(c)
    if k.size == 0:
        return np.empty(0, dtype)
    if not (np.isfinite(a) and np.isfinite(c)):
        return (np.float64(c) + np.float64(a) * k).astype(dtype)  # inf / NaN: no rounding question
    if a == 0.0:
        return np.full(k.shape, c, dtype)
    kf = k.astype(np.float64)
    if dtype.itemsize < 8:
        # a has at most 24 significant bits and k < 2 ** 29: the product is exact in float64, the sum rounded once.
        # Rounding that to the dtype again is right unless it landed on a midpoint of the dtype's values.
        exact = c + a * kf
        out = exact.astype(dtype)
        wide = out.astype(np.float64)
        below = np.nextafter(out, dtype.type(-np.inf)).astype(np.float64)
        above = np.nextafter(out, dtype.type(np.inf)).astype(np.float64)
        doubt = (exact == (wide + below) / 2) | (exact == (wide + above) / 2) | (k >= 2 ** 29)
    else:
        if not (1e-280 < abs(a) < 1e280 and abs(c) < 1e280):  # the error terms below could under- or overflow
            return _fraction_fma(a, k, c, dtype)
        p = a * kf  # product and its exact error (Dekker)
        ta = _SPLIT * a
        a_hi = ta - (ta - a)
        a_lo = a - a_hi
        tk = _SPLIT * kf
        k_hi = tk - (tk - kf)
        k_lo = kf - k_hi
        p_err = ((a_hi * k_hi - p) + a_hi * k_lo + a_lo * k_hi) + a_lo * k_lo
        s = c + p  # sum and its exact error (Knuth's two-sum)
        v = s - c
        s_err = (c - (s - v)) + (p - v)
        t = s_err + p_err  # exact when its own error is 0; then s + t is the exact value, rounded once below
        w = t - s_err
        t_err = (s_err - (t - w)) + (p_err - w)
        out = s + t
        doubt = (t_err != 0) | (np.abs(p) < 1e-280) | (k >= 2 ** 53)
    if doubt.any():
        out[doubt] = _fraction_fma(a, k[doubt], c, dtype)
    return out


def torch_linspace(start, end, steps: int, dtype) -> np.ndarray:
    """``torch.linspace(start, end, steps, dtype=dtype)``'s values, as a NumPy array (floating ``dtype``)."""
    dtype = np.dtype(dtype)
    start, end = dtype.type(start), dtype.type(end)
    if steps == 0:
        return np.empty(0, dtype)
    if steps == 1:
        return np.array([start], dtype)
    with np.errstate(all="ignore"):
        step = (end - start) / dtype.type(steps - 1)
        half = steps // 2
        first = _fma(step, np.arange(half, dtype=np.int64), start, dtype)
        second = _fma(-step, np.arange(steps - half - 1, -1, -1, dtype=np.int64), end, dtype)
    return np.concatenate([first, second]).astype(dtype, copy=False)
