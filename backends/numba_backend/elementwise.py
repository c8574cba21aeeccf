"""Elementwise kernels: activations with their fused backward, and broadcasting binary ops.

Unary kernels take flat C-contiguous arrays (``x``, ``out``, ...). Each kernel's loop is written once, as a
``prange`` loop, and compiled twice (see ``kernel``): the backend calls the serial variant, where ``prange``
is a plain ``range``, on small arrays (a parallel loop costs microseconds to start) and the ``.parallel``
variant from its size thresholds on. Every element is independent, so no ``prange`` iteration writes an
element another one reads. Arithmetic is done in float64 and rounded once on store, except where noted.
"""

from __future__ import annotations

import math
import types

from numba import njit, prange

from . import _cache, _threads  # noqa: F401 - cache directory and threading policy, before any kernel
from ._math import exp, log1p_exp, sigmoid, tanh

# Only explicit ``prange`` loops run in parallel. With ``parallel=True`` Numba would also turn array
# expressions and allocations such as np.zeros(n) into parallel regions, even outside the ``prange`` loops:
# the BatchNorm kernel at (60, 100) then woke the thread pool three times and took 4x as long. These flags
# stop most of it, but not np.zeros (nor np.full/np.ones): allocate with np.empty and fill in a loop inside
# parallel-compiled kernels (see batchnorm._zeros).
PARALLEL = dict(prange=True, numpy=False, comprehension=False, reduction=False, inplace_binop=False,
                setitem=False, stencil=False, fusion=False)
SERIAL = dict(cache=True, nogil=True, error_model="numpy")


def kernel(py_func=None, **options):
    """A kernel as two dispatchers of one function, each compiled on its first call only.

    The dispatcher returned is compiled without Numba's parallel backend (``prange`` runs as ``range``); its
    ``.parallel`` attribute is compiled with ``parallel=PARALLEL``. The backend calls ``.parallel`` only from
    its size thresholds on, so a run whose arrays stay below ``parallel_threshold`` never pays for the
    parallel compilation (parfor analysis and the threaded gufunc: several times the serial compile time,
    docs/backends.md). The serial one is compiled from a copy of the function named ``<name>_serial``:
    Numba names its cache files by function and its index ignores compiler flags, so each variant needs its
    own name. ``options`` (e.g. ``fastmath``) apply to both.
    """
    if py_func is None:
        return lambda f: kernel(f, **options)
    copy = types.FunctionType(py_func.__code__, py_func.__globals__, py_func.__name__, py_func.__defaults__,
                              py_func.__closure__)
    copy.__qualname__ = py_func.__qualname__ + "_serial"
    copy.__module__, copy.__doc__ = py_func.__module__, py_func.__doc__
    serial = njit(**SERIAL, **options)(copy)
    serial.parallel = njit(**SERIAL, parallel=PARALLEL, **options)(py_func)
    return serial

_INV_SQRT2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


# -- scalar bodies (inlined into the loops below) --------------------------------------------------------
# error_model="numpy" on the helpers too: with Python's, a division checks for zero and may raise, and that
# branch alone stops LLVM from vectorising the kernel's loop.
HELPER = dict(error_model="numpy")
# Helpers are inlined into their kernel in Numba's IR, so they are not compiled and optimised as functions
# of their own (each of those compilations costs about as much as a small kernel's). Inlined code takes the
# kernel's compiler flags, so a helper with its own (``fastmath``) stays a function; so do helpers that
# allocate, which a parallel kernel's parfor pass would otherwise see.
INLINE = dict(HELPER, inline="always")


@njit(**INLINE)
def _gelu(v, tanh_approx, like):
    if tanh_approx:
        return 0.5 * v * (1.0 + tanh(_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v), like))
    return 0.5 * v * (1.0 + math.erf(v * _INV_SQRT2))


@njit(**INLINE)
def _gelu_slope(v, tanh_approx, like):
    if tanh_approx:
        t = tanh(_SQRT_2_OVER_PI * (v + 0.044715 * v * v * v), like)
        return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * v * v)
    return 0.5 * (1.0 + math.erf(v * _INV_SQRT2)) + v * _INV_SQRT_2PI * exp(-0.5 * v * v, like)


@njit(**HELPER)
def _softplus(v, beta, threshold, like):
    bx = v * beta
    if bx > threshold:
        return v
    return (max(bx, 0.0) + log1p_exp(-abs(bx), like)) / beta


# -- forward kernels ------------------------------------------------------------------------------------
@kernel
def sigmoid_forward(x, out):
    for i in prange(x.size):
        out[i] = sigmoid(x[i], out)


@kernel
def tanh_forward(x, out):
    for i in prange(x.size):
        out[i] = tanh(x[i], out)


@kernel
def relu_forward(x, out):
    # "not v <= 0" keeps NaN (as np.maximum) and maps -0.0 and -inf to 0.0.
    for i in prange(x.size):
        out[i] = x[i] if not x[i] <= 0 else 0.0


@kernel
def leaky_relu_forward(x, out, slope):
    # ``slope`` arrives in x's dtype, so the product rounds exactly as NumPy's does.
    for i in prange(x.size):
        out[i] = x[i] if x[i] > 0 else x[i] * slope


@kernel
def gelu_forward(x, out, tanh_approx):
    for i in prange(x.size):
        out[i] = _gelu(float(x[i]), tanh_approx, out)


@kernel
def softplus_forward(x, out, beta, threshold):
    for i in prange(x.size):
        out[i] = _softplus(float(x[i]), beta, threshold, out)


@kernel
def silu_forward(x, out):
    for i in prange(x.size):
        out[i] = x[i] * sigmoid(x[i], out)


@kernel
def elu_forward(x, out, alpha):
    # ``alpha`` arrives in x's dtype; math.expm1 keeps the digits of e^x - 1 near 0, as NumPy's expm1.
    for i in prange(x.size):
        out[i] = x[i] if x[i] > 0 else math.expm1(x[i]) * alpha


# -- fused backward kernels: grad * f'(x), one pass -------------------------------------------------------
# sigmoid and tanh backward stay in the arrays' dtype (``one``): the results are bitwise NumPy's, and float32
# arithmetic vectorises at twice the width (the int literal 1 would promote the loop to float64: 1.7x slower).
@kernel
def sigmoid_backward(g, y, out):
    one = y.dtype.type(1)
    for i in prange(g.size):
        out[i] = g[i] * y[i] * (one - y[i])


@kernel
def tanh_backward(g, y, out):
    one = y.dtype.type(1)
    for i in prange(g.size):
        out[i] = g[i] * (one - y[i] * y[i])


@kernel
def leaky_relu_backward(g, x, out, slope):
    # f'(0) = slope (0 for relu), as the ops document; g * 0 matches NumPy's g * (x > 0) (NaN for inf).
    for i in prange(g.size):
        out[i] = g[i] if x[i] > 0 else g[i] * slope


@kernel
def gelu_backward(g, x, out, tanh_approx):
    for i in prange(g.size):
        out[i] = g[i] * _gelu_slope(float(x[i]), tanh_approx, out)


@kernel
def softplus_backward(g, x, out, beta, threshold):
    for i in prange(g.size):
        bx = x[i] * beta
        out[i] = g[i] if bx > threshold else g[i] * sigmoid(bx, out)


@kernel
def silu_backward(g, x, out):
    one = x.dtype.type(1)
    for i in prange(g.size):
        s = sigmoid(x[i], out)
        out[i] = g[i] * (s * (one + x[i] * (one - s)))


@kernel
def elu_backward(g, x, out, alpha):
    for i in prange(g.size):
        out[i] = g[i] if x[i] > 0 else g[i] * (exp(x[i], out) * alpha)


# -- binary ops with broadcasting --------------------------------------------------------------------------
# Operands are 2-D C-contiguous (rows, cols) arrays whose rows and cols are each either the output's or 1
# (broadcast); the backend reduces every broadcast pattern it accepts to that form. The inner loop runs
# over a row with the broadcast operand's column index fixed at 0 or stepping with j, so it vectorises.
ADD, SUB, MUL, DIV, MAX, MIN = range(6)


@njit(**HELPER)
def _apply(op, a, b):
    if op == ADD:
        return a + b
    if op == SUB:
        return a - b
    if op == MUL:
        return a * b
    if op == DIV:
        return a / b
    if op == MAX:  # NaN wins, as np.maximum
        return a if (a > b or a != a) else b
    return a if (a < b or a != a) else b


@njit(**HELPER)
def _binary_row(op, a, ai, b, bi, out, i):
    n = out.shape[1]
    if a.shape[1] == n and b.shape[1] == n:
        for j in range(n):
            out[i, j] = _apply(op, a[ai, j], b[bi, j])
    elif a.shape[1] == n:
        bv = b[bi, 0]
        for j in range(n):
            out[i, j] = _apply(op, a[ai, j], bv)
    elif b.shape[1] == n:
        av = a[ai, 0]
        for j in range(n):
            out[i, j] = _apply(op, av, b[bi, j])
    else:
        v = _apply(op, a[ai, 0], b[bi, 0])
        for j in range(n):
            out[i, j] = v


@kernel
def binary(op, a, b, out):
    rows = out.shape[0]
    a_step = 1 if a.shape[0] == rows else 0  # 0: the operand's single row is broadcast
    b_step = 1 if b.shape[0] == rows else 0
    for i in prange(rows):
        _binary_row(op, a, i * a_step, b, i * b_step, out, i)


# -- optimizer updates ------------------------------------------------------------------------------------
@kernel
def add_scaled(out, x, alpha):
    """out += alpha * x in one pass over flat arrays. ``alpha`` comes in out's dtype and nothing is
    widened, so float32 rounds exactly as NumPy's multiply-then-add does (no fastmath: no FMA)."""
    for i in prange(out.size):
        out[i] += alpha * x[i]
