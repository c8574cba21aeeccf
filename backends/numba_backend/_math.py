"""Scalar helpers shared by the kernels, written once for both float widths.

Numba (without Intel SVML) calls the scalar libm for ``exp``/``tanh``/``log1p``; NumPy's float32 versions
are SIMD and several times faster. For float32 results we therefore evaluate in float64 with plain
arithmetic that LLVM vectorises: exp(v) = exp(v / 256) ** 256 with a degree-9 Taylor polynomial, which is
within 0.5 ulp of float32 after rounding. float64 results keep libm's accuracy.

Each helper takes ``like``, the output array, only to pick the float32 or float64 path at compile time
(through ``overload``); with ``NUMBA_DISABLE_JIT=1`` the plain Python versions below run instead.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload, register_jitable


@register_jitable
def _exp_poly(r):
    """exp(r) for |r| <= 0.41 (Taylor, degree 9)."""
    return 1.0 + r * (1.0 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (
        1 / 720 + r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880)))))))))


@register_jitable
def exp32(v):
    """exp(v) in float64, accurate to float32 precision, vectorisable."""
    # Outside [-104, 89] float32 gives 0 or inf anyway; clamping keeps the polynomial in range. NaN passes.
    if v < -104.0:
        v = -104.0
    elif v > 89.0:
        v = 89.0
    p = _exp_poly(v * 0.00390625)
    for _ in range(8):
        p = p * p
    return p


@register_jitable
def expm1_32(v):
    """exp(v) - 1 for v <= 0, relative accuracy kept near 0 (squaring (q + 1)**2 - 1 = q * (q + 2))."""
    if v < -104.0:
        v = -104.0
    r = v * 0.00390625
    q = r * (1.0 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r * (
        1 / 5040 + r * (1 / 40320 + r * (1 / 362880)))))))))
    for _ in range(8):
        q = q * (q + 2.0)
    return q


@register_jitable
def log1p_small32(z):
    """log(1 + z) for 0 <= z <= 1 via 2 * atanh(z / (2 + z)), float32 accuracy."""
    u = z / (2.0 + z)
    u2 = u * u
    return 2.0 * u * (1.0 + u2 * (1 / 3 + u2 * (1 / 5 + u2 * (1 / 7 + u2 * (1 / 9 + u2 * (
        1 / 11 + u2 * (1 / 13 + u2 * (1 / 15 + u2 * (1 / 17)))))))))


# -- dtype-dispatched helpers: ``v`` is float64, ``like`` the output array -------------------------------
def exp(v, like):
    """exp(v) to the precision of ``like``'s dtype."""
    return np.exp(v)


def tanh(v, like):
    """tanh(v) to the precision of ``like``'s dtype."""
    return np.tanh(v)


def log1p_exp(v, like):
    """log(1 + exp(v)) for v <= 0, to the precision of ``like``'s dtype."""
    return np.log1p(np.exp(v))


def _single(like) -> bool:
    return isinstance(like, types.Array) and like.dtype == types.float32


@overload(exp)
def _exp_impl(v, like):
    if _single(like):
        return lambda v, like: exp32(v)
    return lambda v, like: math.exp(v)


@overload(tanh)
def _tanh_impl(v, like):
    if _single(like):
        def impl(v, like):
            q = expm1_32(-2.0 * abs(v))
            t = -q / (2.0 + q)
            return -t if v < 0 else t
        return impl
    return lambda v, like: math.tanh(v)


@overload(log1p_exp)
def _log1p_exp_impl(v, like):
    if _single(like):
        return lambda v, like: log1p_small32(exp32(v))
    return lambda v, like: math.log1p(math.exp(v))
