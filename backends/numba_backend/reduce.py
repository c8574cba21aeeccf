"""Reductions (sum, max, min) of a (outer, n, inner) C-contiguous array over its middle axis.

Reproducibility: the work is split into tasks fixed by the shape alone (never by the thread count), each
task computes its result in a fixed order, and partial results are combined in a fixed order after the
parallel loop. So a result is bitwise identical from run to run, whatever the thread count. Each ``prange``
iteration writes only its own task's elements. Sums accumulate in float64.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .elementwise import HELPER, INLINE, kernel

CHUNK = 1 << 14  # elements per task when reducing along contiguous memory (inner == 1)
BLOCK = 256  # output columns per task when reducing across rows (inner > 1)
SUM, MAX, MIN = range(3)


@njit(**INLINE)
def _combine(kind, acc, v):
    if kind == SUM:
        return acc + v
    if kind == MAX:  # NaN wins, as np.max
        return v if (v > acc or v != v) else acc
    return v if (v < acc or v != v) else acc


@njit(**INLINE)
def _initial(kind):
    if kind == SUM:
        return 0.0
    return -math.inf if kind == MAX else math.inf


@njit(fastmath={"reassoc"}, **HELPER)
def _sum_span(x, o, start, stop):
    # "reassoc" lets LLVM split the float64 sum over vector lanes: a fixed order for a given build.
    # A contiguous 1-D slice: indexing x[o, i, 0] directly kept the loop scalar (10x slower).
    row = x.reshape(x.shape[0], x.shape[1])[o, start:stop]
    s = 0.0
    for i in range(row.shape[0]):
        s += row[i]
    return s


@njit(**HELPER)
def _reduce_span(kind, x, o, start, stop):
    if kind == SUM:
        return _sum_span(x, o, start, stop)
    # Eight interleaved accumulators: independent dependency chains the CPU can overlap (a fixed order).
    acc = np.full(8, _initial(kind))
    i = start
    while i + 8 <= stop:
        for k in range(8):
            acc[k] = _combine(kind, acc[k], float(x[o, i + k, 0]))
        i += 8
    for k in range(stop - i):
        acc[k] = _combine(kind, acc[k], float(x[o, i + k, 0]))
    r = acc[0]
    for k in range(1, 8):
        r = _combine(kind, r, acc[k])
    return r


@kernel
def reduce_contiguous(kind, x, out):
    """out[o] = reduce(x[o, :, 0]) for x of shape (outer, n, 1), in chunks of CHUNK elements."""
    outer, n = x.shape[0], x.shape[1]
    chunks = max(1, (n + CHUNK - 1) // CHUNK)
    partial = np.empty((outer, chunks))
    for t in prange(outer * chunks):
        o, c = t // chunks, t % chunks
        partial[o, c] = _reduce_span(kind, x, o, c * CHUNK, min(n, (c + 1) * CHUNK))
    for o in range(outer):
        r = partial[o, 0]
        for c in range(1, chunks):
            r = _combine(kind, r, partial[o, c])
        out[o, 0] = r


@njit(**HELPER)
def _reduce_block(kind, x, out, o, j0, j1):
    acc = np.full(j1 - j0, _initial(kind))
    # One inner loop per kind over a row slice: elementwise across j, so each vectorises. With the kind
    # tested per element, or offset indexing x[o, k, j0 + j], the loop stayed scalar (13x slower).
    for k in range(x.shape[1]):
        row = x[o, k, j0:j1]
        if kind == SUM:
            for j in range(row.shape[0]):
                acc[j] += row[j]
        elif kind == MAX:
            for j in range(row.shape[0]):
                v = float(row[j])
                acc[j] = v if (v > acc[j] or v != v) else acc[j]
        else:
            for j in range(row.shape[0]):
                v = float(row[j])
                acc[j] = v if (v < acc[j] or v != v) else acc[j]
    for j in range(j1 - j0):
        out[o, j0 + j] = acc[j]


@kernel
def reduce_strided(kind, x, out):
    """out[o, j] = reduce(x[o, :, j]) for x of shape (outer, n, inner), by blocks of BLOCK columns."""
    outer, inner = x.shape[0], x.shape[2]
    blocks = (inner + BLOCK - 1) // BLOCK
    for t in prange(outer * blocks):
        o, b = t // blocks, t % blocks
        _reduce_block(kind, x, out, o, b * BLOCK, min(inner, (b + 1) * BLOCK))
