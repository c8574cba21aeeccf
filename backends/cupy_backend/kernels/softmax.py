"""Row kernels: softmax and log-softmax forward and backward, and the fused softmax cross-entropy.

One block per row (grid-stride over rows), its threads striding over the row's columns; the row's maximum
and sums meet in shared memory (float64, so that float32 rows sum as accurately as the NumPy reference).
"""

from __future__ import annotations

import math

from numba import cuda, float64

from ._launch import MAX_BLOCKS, ROW_THREADS, THREADS, block_max, block_sum, blocks


@cuda.jit(device=True, inline="always")
def _row_exp_sum(shared, x, row, c):
    """(peak, total): the row's maximum and sum(exp(x[row] - peak)), agreed on by every thread of the block."""
    t = cuda.threadIdx.x
    peak = -math.inf
    for j in range(t, c, ROW_THREADS):
        peak = max(peak, x[row, j])
    peak = block_max(shared, peak)
    total = 0.0
    for j in range(t, c, ROW_THREADS):
        total += math.exp(x[row, j] - peak)
    return peak, block_sum(shared, total)


@cuda.jit
def _softmax(x, out, log):
    shared = cuda.shared.array(ROW_THREADS, float64)
    t = cuda.threadIdx.x
    n, c = x.shape
    for row in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        peak, total = _row_exp_sum(shared, x, row, c)
        if log:
            shift = peak + math.log(total)
            for j in range(t, c, ROW_THREADS):
                out[row, j] = x[row, j] - shift
        else:
            for j in range(t, c, ROW_THREADS):
                out[row, j] = math.exp(x[row, j] - peak) / total


@cuda.jit
def _softmax_backward(grad, out, res, log):
    """softmax: out * (grad - sum(grad * out)); log-softmax: grad - exp(out) * sum(grad)."""
    shared = cuda.shared.array(ROW_THREADS, float64)
    t = cuda.threadIdx.x
    n, c = out.shape
    for row in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        total = 0.0
        for j in range(t, c, ROW_THREADS):
            total += grad[row, j] if log else grad[row, j] * out[row, j]
        total = block_sum(shared, total)
        for j in range(t, c, ROW_THREADS):
            if log:
                res[row, j] = grad[row, j] - math.exp(out[row, j]) * total
            else:
                res[row, j] = out[row, j] * (grad[row, j] - total)


@cuda.jit
def _cross_entropy(logits, targets, log_probs, loss):
    shared = cuda.shared.array(ROW_THREADS, float64)
    t = cuda.threadIdx.x
    n, c = logits.shape
    for row in range(cuda.blockIdx.x, n, cuda.gridDim.x):
        peak, total = _row_exp_sum(shared, logits, row, c)
        shift = peak + math.log(total)
        for j in range(t, c, ROW_THREADS):
            log_probs[row, j] = logits[row, j] - shift
        if t == 0:
            loss[row] = shift - logits[row, targets[row]]


@cuda.jit
def _cross_entropy_backward(grad_per_row, log_probs, targets, res):
    n, c = log_probs.shape
    for i in range(cuda.grid(1), n * c, cuda.gridsize(1)):
        row, j = i // c, i % c
        p = math.exp(log_probs[row, j])
        res[row, j] = grad_per_row[row] * (p - 1 if j == targets[row] else p)


def _rows(xp, x, axis):
    """x as contiguous (rows, columns) with ``axis`` last, and a function that undoes the move."""
    moved = xp.moveaxis(x, axis, -1)
    shape = moved.shape
    rows = xp.ascontiguousarray(moved).reshape(-1, shape[-1] if shape else 1)
    return rows, lambda r: xp.moveaxis(r.reshape(shape), -1, axis)


def _row_blocks(n):
    return max(1, min(n, MAX_BLOCKS))


def softmax(xp, x, axis, log=False):
    rows, restore = _rows(xp, x, axis)
    out = xp.empty_like(rows)
    if out.size:
        _softmax[_row_blocks(rows.shape[0]), ROW_THREADS](rows, out, log)
    return restore(out)


def softmax_backward(xp, grad, out, axis, log=False):
    g, _ = _rows(xp, grad, axis)
    o, restore = _rows(xp, out, axis)
    res = xp.empty(o.shape, dtype=xp.result_type(g, o))
    if res.size:
        _softmax_backward[_row_blocks(o.shape[0]), ROW_THREADS](g, o, res, log)
    return restore(res)


def cross_entropy_forward(xp, logits, targets):
    """(loss_per_row, log_probs) for (N, C) logits and (N,) int64 targets already checked in range."""
    logits = xp.ascontiguousarray(logits)
    log_probs = xp.empty_like(logits)
    loss = xp.empty(logits.shape[0], dtype=logits.dtype)
    if logits.size:
        _cross_entropy[_row_blocks(logits.shape[0]), ROW_THREADS](logits, targets, log_probs, loss)
    return loss, log_probs


def cross_entropy_backward(xp, grad_per_row, log_probs, targets):
    log_probs = xp.ascontiguousarray(log_probs)
    res = xp.empty_like(log_probs)
    if res.size:
        grad_per_row = xp.ascontiguousarray(grad_per_row, dtype=log_probs.dtype)
        _cross_entropy_backward[blocks(res.size), THREADS](grad_per_row, log_probs, targets, res)
    return res


KERNELS = {
    _softmax: "(a2, a2, boolean)",
    _softmax_backward: "(a2, a2, a2, boolean)",
    _cross_entropy: "(a2, int64[::1], a2, a)",
    _cross_entropy_backward: "(a, a2, int64[::1], a2)",
}
