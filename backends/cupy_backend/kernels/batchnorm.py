"""BatchNorm kernels: per-channel statistics, normalisation (the eval affine too) and the closed-form backward.

x is seen as (N, M) rows with M = C * S (S the product of the spatial sizes), so that column j belongs to
channel j // S and a warp reads 32 neighbouring columns of a row (coalesced). Column kernels give each
block 32 columns and a chunk of rows; each thread keeps float64 partial results over its rows, the block
combines them in shared memory, and each chunk writes one partial per column. The array module then combines
the (chunks, M) partials, then each channel's S columns: small arrays, no host round trip.

Statistics use Welford's update and Chan's combination, so a channel with a large mean and a tiny spread
keeps its digits and the variance is never negative. A training step moves x 8 times: statistics (read x),
normalise (read x, write y), the backward's sums (read dy and x), the input gradient (read dy and x, write dx).
"""

from __future__ import annotations

import math

from numba import cuda, float64

from ._launch import SIMULATED, THREADS, blocks

# Columns per block (one warp across a row), threads per column (each over its own rows), and the rows a
# block covers (fewer chunks: fewer partials to combine). Smaller under the simulator, which runs every
# thread in Python; there a few dozen rows already span several chunks.
COLUMNS, ROW_LANES, ROWS_PER_CHUNK = (8, 2, 16) if SIMULATED else (32, 8, 256)


@cuda.jit(device=True, inline="always")
def _block_place(n_rows, rows_per_chunk):
    """This thread's lane (tx, ty), its block's row chunk, its column j, and its rows: first, then every
    ROW_LANES-th before ``stop``."""
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    chunk = cuda.blockIdx.y
    start = chunk * rows_per_chunk
    return tx, ty, chunk, cuda.blockIdx.x * COLUMNS + tx, start + ty, min(n_rows, start + rows_per_chunk)


@cuda.jit
def _column_moments(x, rows_per_chunk, count, mean, m2):
    """Per (chunk, column): the number of rows, their mean and the sum of squared deviations (Welford)."""
    s_n = cuda.shared.array((ROW_LANES, COLUMNS), float64)
    s_mean = cuda.shared.array((ROW_LANES, COLUMNS), float64)
    s_m2 = cuda.shared.array((ROW_LANES, COLUMNS), float64)
    tx, ty, chunk, j, first, stop = _block_place(x.shape[0], rows_per_chunk)
    n_cols = x.shape[1]
    k, mu, acc = 0.0, 0.0, 0.0
    if j < n_cols:
        for r in range(first, stop, ROW_LANES):
            v = float64(x[r, j])  # explicit: the simulator would keep float32 arithmetic
            k += 1.0
            delta = v - mu
            mu += delta / k
            acc += delta * (v - mu)
    s_n[ty, tx], s_mean[ty, tx], s_m2[ty, tx] = k, mu, acc
    cuda.syncthreads()
    step = ROW_LANES // 2
    while step > 0:
        if ty < step:  # Chan et al.: merge lane ty + step into lane ty
            nb = s_n[ty + step, tx]
            if nb > 0:
                na = s_n[ty, tx]
                total = na + nb
                delta = s_mean[ty + step, tx] - s_mean[ty, tx]
                s_mean[ty, tx] += delta * nb / total
                s_m2[ty, tx] += s_m2[ty + step, tx] + delta * delta * na * nb / total
                s_n[ty, tx] = total
        cuda.syncthreads()
        step //= 2
    if ty == 0 and j < n_cols:
        count[chunk, j], mean[chunk, j], m2[chunk, j] = s_n[0, tx], s_mean[0, tx], s_m2[0, tx]


@cuda.jit
def _column_grad_sums(dy, x, center, s, rows_per_chunk, sum_dy, sum_dy_xc):
    """Per (chunk, column): sum(dy) and sum(dy * (x - center[channel])), in float64."""
    s_a = cuda.shared.array((ROW_LANES, COLUMNS), float64)
    s_b = cuda.shared.array((ROW_LANES, COLUMNS), float64)
    tx, ty, chunk, j, first, stop = _block_place(x.shape[0], rows_per_chunk)
    n_cols = x.shape[1]
    a, b = 0.0, 0.0
    if j < n_cols:
        c = center[j // s]
        for r in range(first, stop, ROW_LANES):
            g = float64(dy[r, j])
            a += g
            b += g * (float64(x[r, j]) - c)
    s_a[ty, tx], s_b[ty, tx] = a, b
    cuda.syncthreads()
    step = ROW_LANES // 2
    while step > 0:
        if ty < step:
            s_a[ty, tx] += s_a[ty + step, tx]
            s_b[ty, tx] += s_b[ty + step, tx]
        cuda.syncthreads()
        step //= 2
    if ty == 0 and j < n_cols:
        sum_dy[chunk, j], sum_dy_xc[chunk, j] = s_a[0, tx], s_b[0, tx]


@cuda.jit
def _affine(x, center, scale, shift, channels, s, out):
    """out = (x - center[c]) * scale[c] + shift[c] with c the channel of each element, in float64."""
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        c = (i // s) % channels
        out[i] = (x[i] - center[c]) * scale[c] + shift[c]


@cuda.jit
def _input_grad(dy, x, center, k, u, v, channels, s, dx):
    """dx = k[c] * (dy - (x - center[c]) * u[c] - v[c])."""
    for i in range(cuda.grid(1), dx.size, cuda.gridsize(1)):
        c = (i // s) % channels
        dx[i] = k[c] * (dy[i] - (x[i] - center[c]) * u[c] - v[c])


def _layout(x):
    n, c = x.shape[0], x.shape[1]
    return n, c, math.prod(x.shape[2:])


def _column_grid(n, m):
    chunks = max(1, math.ceil(n / ROWS_PER_CHUNK))
    return (math.ceil(m / COLUMNS), chunks), (COLUMNS, ROW_LANES), chunks


def moments(xp, x):
    """Per-channel (mean, biased variance) of x (N, C, *spatial) over every axis but 1, float64 (C,)."""
    n, c, s = _layout(x)
    rows = xp.ascontiguousarray(x).reshape(n, c * s)
    grid, block, chunks = _column_grid(n, c * s)
    count, mean, m2 = (xp.empty((chunks, c * s), dtype=xp.float64) for _ in range(3))
    _column_moments[grid, block](rows, ROWS_PER_CHUNK, count, mean, m2)
    # Chan's combination, first over the row chunks, then over each channel's S columns.
    mean, m2 = _combine(xp, count, mean, m2, n)
    mean, m2 = _combine(xp, xp.float64(n), mean.reshape(c, s).T, m2.reshape(c, s).T, n * s)
    return mean, m2 / (n * s)


def _combine(xp, count, mean, m2, total):
    """Combine groups along axis 0: each with ``count`` items, ``mean`` and ``m2``; ``total`` items in all."""
    overall = (count * mean).sum(axis=0) / total
    return overall, m2.sum(axis=0) + (count * (mean - overall) ** 2).sum(axis=0)


def _per_channel(xp, v, c):
    return xp.zeros(c) if v is None else xp.ascontiguousarray(v, dtype=xp.float64)


def affine(xp, x, center, scale, shift):
    """(x - center) * scale + shift per channel (axis 1); ``center``/``shift`` may be None (zero)."""
    n, c, s = _layout(x)
    flat = xp.ascontiguousarray(x).reshape(-1)
    out = xp.empty(x.shape, dtype=x.dtype)
    if out.size:
        _affine[blocks(out.size), THREADS](flat, _per_channel(xp, center, c), _per_channel(xp, scale, c),
                                           _per_channel(xp, shift, c), c, s, out.reshape(-1))
    return out


def forward(xp, x, weight, bias, eps):
    """Training-mode BatchNorm: ``(out, mean, var)``, the statistics float64 (C,) with the biased variance."""
    n, c, s = _layout(x)
    if x.size == 0:
        return xp.empty(x.shape, dtype=x.dtype), xp.full(c, xp.nan), xp.full(c, xp.nan)
    mean, var = moments(xp, x)
    scale = 1.0 / xp.sqrt(var + eps)
    if weight is not None:
        scale = scale * weight
    return affine(xp, x, mean, scale, bias), mean, var


def backward(xp, grad, x, mean, invstd, weight):
    """Closed-form backward: ``(dx, dweight, dbias)``, dweight/dbias float64 (C,).

    dx = w * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)) with xhat = (x - mean) * invstd.
    """
    n, c, s = _layout(x)
    if x.size == 0:
        return xp.empty(x.shape, dtype=x.dtype), xp.zeros(c), xp.zeros(c)
    m = n * s
    rows = xp.ascontiguousarray(x).reshape(n, c * s)
    dy = xp.ascontiguousarray(grad).reshape(n, c * s)
    mean = xp.ascontiguousarray(mean, dtype=xp.float64)
    grid, block, chunks = _column_grid(n, c * s)
    sum_dy, sum_dy_xc = (xp.empty((chunks, c * s), dtype=xp.float64) for _ in range(2))
    _column_grad_sums[grid, block](dy, rows, mean, s, ROWS_PER_CHUNK, sum_dy, sum_dy_xc)
    dbias = sum_dy.sum(axis=0).reshape(c, s).sum(axis=1)
    dweight = invstd * sum_dy_xc.sum(axis=0).reshape(c, s).sum(axis=1)
    k = invstd if weight is None else invstd * weight
    u = invstd * dweight / m
    v = dbias / m
    dx = xp.empty(x.shape, dtype=x.dtype)
    _input_grad[blocks(dx.size), THREADS](dy.reshape(-1), rows.reshape(-1), mean, _per_channel(xp, k, c),
                                          u, v, c, s, dx.reshape(-1))
    return dx, dweight, dbias


KERNELS = {
    _column_moments: "(a2, int64, f2, f2, f2)",
    _column_grad_sums: "(a2, a2, f1, int64, int64, f2, f2)",
    _affine: "(a, f1, f1, f1, int64, int64, a)",
    _input_grad: "(a, a, f1, f1, f1, f1, int64, int64, a)",
}
