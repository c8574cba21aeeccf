"""Scalar helpers shared by the kernels, written once for both float widths.

Numba (without Intel SVML) calls the scalar libm for ``exp``/``tanh``/``log1p``, which LLVM cannot
vectorise; NumPy's float32 versions are SIMD and several times faster. For float32 we therefore use
float32 arithmetic that LLVM vectorises (AVX-512: 16 lanes), in the classic Cephes form: a range reduction
to |r| <= ln(2) / 2, a minimax polynomial, and 2**k built from its bits. That is within 1-2 ulp, as NumPy's
and PyTorch's SIMD versions are. (Evaluating in float64 instead was 2x slower than NumPy: half the lanes,
and float64 division is slow.) float64 keeps libm's accuracy.

Each helper takes ``like``, the output array, only to pick the float32 or float64 path at compile time
(through ``overload``); with ``NUMBA_DISABLE_JIT=1`` the plain Python versions below run instead. The
helpers use ``error_model="numpy"``: Python's checks divisions for zero, and that branch stops
vectorisation of any loop the helper is inlined into.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload, register_jitable

F32 = np.float32
_LOG2E = F32(1.4426950408889634)
_LN2_HI = F32(0.693359375)  # ln 2 in two parts (Cody-Waite): k * _LN2_HI is exact for |k| <= 2**15
_LN2_LO = F32(-2.12194440e-4)
_EXP_LO, _EXP_HI = F32(-104.0), F32(89.0)  # beyond these float32 gives 0 or inf anyway
_HALF, _ONE, _TWO = F32(0.5), F32(1.0), F32(2.0)
# Cephes expf: exp(r) = 1 + r + r**2 * P(r) for |r| <= ln(2) / 2.
_EP = (F32(1.9875691500e-4), F32(1.3981999507e-3), F32(8.3334519073e-3), F32(4.1665795894e-2),
       F32(1.6666665459e-1), F32(5.0000001201e-1))
# Cephes tanhf: tanh(x) = x + x * z * Q(z), z = x**2, for |x| < 0.625.
_TQ = (F32(-5.70498872745e-3), F32(2.06390887954e-2), F32(-5.37397155531e-2), F32(1.33314422036e-1),
       F32(-3.33332819422e-1))
_TANH_SMALL = F32(0.625)


@intrinsic
def _pow2f(typingctx, k):
    """2.0 ** k as float32 for an int32 k in [-126, 127], built from its bits (vectorises, unlike ldexp)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        bits = builder.shl(builder.add(args[0], ir.Constant(ir.IntType(32), 127)), ir.Constant(ir.IntType(32), 23))
        return builder.bitcast(bits, ir.FloatType())

    return sig, codegen


@intrinsic
def _maxnum(typingctx, a, b):
    """LLVM's maxnum: LLVM vectorises a max-reduction written with it (not one written as compare-select)."""
    sig = a(a, b)

    def codegen(context, builder, signature, args):
        ty = args[0].type
        return builder.call(builder.module.declare_intrinsic("llvm.maxnum", [ty], ir.FunctionType(ty, [ty, ty])), args)

    return sig, codegen


@register_jitable(error_model="numpy")
def exp32(v):
    """exp(v) for a float32 v, in float32 arithmetic."""
    if v < _EXP_LO:
        v = _EXP_LO
    elif v > _EXP_HI:
        v = _EXP_HI
    k = np.floor(v * _LOG2E + _HALF)  # float32 (math.floor would give an int64)
    if k != k:  # NaN: any finite k, the polynomial still gives NaN (int32(NaN) would be undefined)
        k = F32(0.0)
    r = v - k * _LN2_HI - k * _LN2_LO
    p = ((((((_EP[0] * r + _EP[1]) * r + _EP[2]) * r + _EP[3]) * r + _EP[4]) * r + _EP[5]) * (r * r) + r) + _ONE
    # 2**k in two normal factors: k runs over [-150, 128], beyond a single float32 exponent's range.
    k1 = np.int32(k) >> 1
    return p * _pow2f(k1) * _pow2f(np.int32(k) - k1)


@register_jitable(error_model="numpy")
def tanh32(v):
    """tanh(v) for a float32 v, in float32 arithmetic (both branches are computed, then selected)."""
    a = abs(v)
    z = a * a
    small = ((((_TQ[0] * z + _TQ[1]) * z + _TQ[2]) * z + _TQ[3]) * z + _TQ[4]) * z * a + a
    large = _ONE - _TWO / (exp32(_TWO * a) + _ONE)
    return math.copysign(small if a < _TANH_SMALL else large, v)  # keeps -0.0 and NaN


@register_jitable(error_model="numpy")
def sigmoid32(v):
    """1 / (1 + exp(-v)) for a float32 v, in float32 arithmetic; exp(-|v|) never overflows."""
    z = exp32(-abs(v))
    s = _ONE / (_ONE + z)
    return s if v >= 0 else z * s


@register_jitable(error_model="numpy")
def log1p_small32(z):
    """log(1 + z) for 0 <= z <= 1 via 2 * atanh(z / (2 + z)), float32 accuracy (in float64)."""
    u = z / (2.0 + z)
    u2 = u * u
    return 2.0 * u * (1.0 + u2 * (1 / 3 + u2 * (1 / 5 + u2 * (1 / 7 + u2 * (1 / 9 + u2 * (
        1 / 11 + u2 * (1 / 13 + u2 * (1 / 15 + u2 * (1 / 17)))))))))


# -- dtype-dispatched helpers: ``like`` is the output array ---------------------------------------------
# Their results have ``like``'s dtype on the float32 path (callers may keep computing in float64).
def exp(v, like):
    """exp(v) to the precision of ``like``'s dtype."""
    return np.exp(v)


def tanh(v, like):
    """tanh(v) to the precision of ``like``'s dtype."""
    return np.tanh(v)


def sigmoid(v, like):
    """The logistic sigmoid to the precision of ``like``'s dtype."""
    z = np.exp(-abs(v))
    return 1.0 / (1.0 + z) if v >= 0 else z / (1.0 + z)


def log1p_exp(v, like):
    """log(1 + exp(v)) for v <= 0, to the precision of ``like``'s dtype."""
    return np.log1p(np.exp(v))


def maxnum(a, b):
    """max(a, b) of two floats of one dtype, ignoring a NaN operand (IEEE maxNum, np.fmax)."""
    return np.fmax(a, b)


@overload(maxnum)
def _maxnum_impl(a, b):
    if isinstance(a, types.Float) and a == b:
        return lambda a, b: _maxnum(a, b)


def _single(like) -> bool:
    return isinstance(like, types.Array) and like.dtype == types.float32


@overload(exp, jit_options=dict(error_model="numpy"))
def _exp_impl(v, like):
    if _single(like):
        return lambda v, like: exp32(F32(v))
    return lambda v, like: math.exp(v)


@overload(tanh, jit_options=dict(error_model="numpy"))
def _tanh_impl(v, like):
    if _single(like):
        return lambda v, like: tanh32(F32(v))
    return lambda v, like: math.tanh(v)


@overload(sigmoid, jit_options=dict(error_model="numpy"))
def _sigmoid_impl(v, like):
    if _single(like):
        return lambda v, like: sigmoid32(F32(v))

    def impl(v, like):
        z = math.exp(-abs(v))
        s = 1.0 / (1.0 + z)
        return s if v >= 0 else z * s  # the form that keeps precision on each side of 0

    return impl


@overload(log1p_exp, jit_options=dict(error_model="numpy"))
def _log1p_exp_impl(v, like):
    if _single(like):
        return lambda v, like: log1p_small32(float(exp32(F32(v))))
    return lambda v, like: math.log1p(math.exp(v))
