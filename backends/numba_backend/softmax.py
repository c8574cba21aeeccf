"""Row-wise softmax, log_softmax and softmax cross-entropy, forward and backward fused per row.

Inputs are 2-D C-contiguous (rows, n) arrays: the softmax axis is the last one (the backend moves any other
axis there first). Rows are independent, so a ``prange`` over rows never shares an output element. Row sums
accumulate in float64.
"""

from __future__ import annotations

import math

from numba import njit, prange

from ._math import exp
from .elementwise import JIT


@njit
def _row_max(x, i):
    m = -math.inf
    for j in range(x.shape[1]):
        v = x[i, j]
        if v > m or v != v:  # NaN propagates, as np.max
            m = v
    return m  # a row of -inf gives NaN, as the NumPy backend's softmax does


@njit
def _softmax_row(x, out, i, log):
    m = float(_row_max(x, i))
    s = 0.0
    for j in range(x.shape[1]):
        e = exp(x[i, j] - m, out)
        s += e
        if not log:
            out[i, j] = e
    if log:
        shift = m + math.log(s)
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] - shift
    else:
        inv = 1.0 / s
        for j in range(x.shape[1]):
            out[i, j] = out[i, j] * inv


@njit(**JIT)
def softmax_forward(x, out, log, parallel):
    """softmax (``log=False``) or log_softmax (``log=True``) of each row."""
    if parallel:
        for i in prange(x.shape[0]):
            _softmax_row(x, out, i, log)
    else:
        for i in range(x.shape[0]):
            _softmax_row(x, out, i, log)


@njit
def _softmax_backward_row(g, y, out, i):
    dot = 0.0
    for j in range(g.shape[1]):
        dot += g[i, j] * float(y[i, j])
    for j in range(g.shape[1]):
        out[i, j] = y[i, j] * (g[i, j] - dot)


@njit(**JIT)
def softmax_backward(g, y, out, parallel):
    """y * (g - sum(g * y)) per row, y the softmax output."""
    if parallel:
        for i in prange(g.shape[0]):
            _softmax_backward_row(g, y, out, i)
    else:
        for i in range(g.shape[0]):
            _softmax_backward_row(g, y, out, i)


@njit
def _log_softmax_backward_row(g, y, out, i):
    s = 0.0
    for j in range(g.shape[1]):
        s += g[i, j]
    for j in range(g.shape[1]):
        out[i, j] = g[i, j] - exp(float(y[i, j]), out) * s


@njit(**JIT)
def log_softmax_backward(g, y, out, parallel):
    """g - exp(y) * sum(g) per row, y the log_softmax output."""
    if parallel:
        for i in prange(g.shape[0]):
            _log_softmax_backward_row(g, y, out, i)
    else:
        for i in range(g.shape[0]):
            _log_softmax_backward_row(g, y, out, i)


@njit(**JIT)
def cross_entropy_forward(logits, targets, log_probs, loss, parallel):
    """log_probs = log_softmax(logits) per row and loss[i] = -log_probs[i, targets[i]]."""
    if parallel:
        for i in prange(logits.shape[0]):
            _softmax_row(logits, log_probs, i, True)
            loss[i] = -log_probs[i, targets[i]]
    else:
        for i in range(logits.shape[0]):
            _softmax_row(logits, log_probs, i, True)
            loss[i] = -log_probs[i, targets[i]]


@njit
def _cross_entropy_backward_row(g, log_probs, targets, out, i):
    gi = float(g[i])
    for j in range(log_probs.shape[1]):
        out[i, j] = gi * exp(float(log_probs[i, j]), out)
    out[i, targets[i]] -= gi


@njit(**JIT)
def cross_entropy_backward(g, log_probs, targets, out, parallel):
    """out[i] = g[i] * (softmax - onehot(targets[i])), the softmax recovered as exp(log_probs)."""
    if parallel:
        for i in prange(log_probs.shape[0]):
            _cross_entropy_backward_row(g, log_probs, targets, out, i)
    else:
        for i in range(log_probs.shape[0]):
            _cross_entropy_backward_row(g, log_probs, targets, out, i)
