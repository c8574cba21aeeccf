"""Row-wise softmax, log_softmax and softmax cross-entropy, forward and backward fused per row.

Inputs are 2-D C-contiguous (rows, n) arrays: the softmax axis is the last one (the backend moves any other
axis there first). Rows are independent, so a ``prange`` over rows never shares an output element. Row sums
accumulate in float64.
"""

from __future__ import annotations

import math

from numba import njit, prange

from ._math import exp, maxnum
from .elementwise import HELPER, INLINE, kernel


# The row helpers are written as separate simple loops (max; exp and store; sum) so that LLVM vectorises
# each of them: a loop that mixes a float64 sum with the stores, or a NaN test in the max, stays scalar.
# "reassoc" (scoped to the sums) lets the float64 sums use vector lanes, in an order fixed by the build, so
# results are reproducible. The max ignores NaN (maxnum); a NaN in a row still gives a row of NaN, as in
# NumPy, because it reaches the row's sum.
@njit(**INLINE)
def _row_max(x, i):
    """The row's maximum, in x's dtype (a row of -inf gives NaN below: -inf - -inf, as in NumPy)."""
    m = x[i, 0]
    for j in range(1, x.shape[1]):
        m = maxnum(m, x[i, j])
    return m


@njit(fastmath={"reassoc"}, **HELPER)
def _row_sum(a, i):
    s = 0.0
    for j in range(a.shape[1]):
        s += a[i, j]
    return s


@njit(fastmath={"reassoc"}, **HELPER)
def _row_dot(a, b, i):
    s = 0.0
    for j in range(a.shape[1]):
        s += a[i, j] * float(b[i, j])
    return s


@njit(**INLINE)
def _softmax_row(x, out, i, log):
    m = _row_max(x, i)  # x - m in x's dtype, as NumPy does: float32 SIMD all the way
    # The exponentials go through ``out`` (the row stays in L1) even for log_softmax: the loop that
    # only stores runs at full float32 width, one that also sums into a float64 at half width.
    for j in range(x.shape[1]):
        out[i, j] = exp(x[i, j] - m, out)
    s = _row_sum(out, i)
    if log:
        shift = m + math.log(s)
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] - shift
    else:
        inv = 1.0 / s
        for j in range(x.shape[1]):
            out[i, j] = out[i, j] * inv


@kernel
def softmax_forward(x, out, log):
    """softmax (``log=False``) or log_softmax (``log=True``) of each row."""
    for i in prange(x.shape[0]):
        _softmax_row(x, out, i, log)


@njit(**INLINE)
def _softmax_backward_row(g, y, out, i):
    dot = _row_dot(g, y, i)
    for j in range(g.shape[1]):
        out[i, j] = y[i, j] * (g[i, j] - dot)


@kernel
def softmax_backward(g, y, out):
    """y * (g - sum(g * y)) per row, y the softmax output."""
    for i in prange(g.shape[0]):
        _softmax_backward_row(g, y, out, i)


@njit(**INLINE)
def _log_softmax_backward_row(g, y, out, i):
    s = _row_sum(g, i)
    for j in range(g.shape[1]):
        out[i, j] = g[i, j] - exp(float(y[i, j]), out) * s


@kernel
def log_softmax_backward(g, y, out):
    """g - exp(y) * sum(g) per row, y the log_softmax output."""
    for i in prange(g.shape[0]):
        _log_softmax_backward_row(g, y, out, i)


@kernel
def cross_entropy_forward(logits, targets, log_probs, loss):
    """log_probs = log_softmax(logits) per row and loss[i] = -log_probs[i, targets[i]]."""
    for i in prange(logits.shape[0]):
        _softmax_row(logits, log_probs, i, True)
        loss[i] = -log_probs[i, targets[i]]


@njit(**INLINE)
def _cross_entropy_backward_row(g, log_probs, targets, out, i):
    gi = float(g[i])
    for j in range(log_probs.shape[1]):
        out[i, j] = gi * exp(float(log_probs[i, j]), out)
    out[i, targets[i]] -= gi


@kernel
def cross_entropy_backward(g, log_probs, targets, out):
    """out[i] = g[i] * (softmax - onehot(targets[i])), the softmax recovered as exp(log_probs)."""
    for i in prange(log_probs.shape[0]):
        _cross_entropy_backward_row(g, log_probs, targets, out, i)
