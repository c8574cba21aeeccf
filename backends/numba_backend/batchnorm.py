"""Numba BatchNorm kernels: raw arrays in, raw arrays out (no ``minigrad`` import).

``batch_norm_forward`` / ``batch_norm_backward`` match ``NumpyBackend``'s methods of the same names (plus
the design, ``path_for(x)``); ``NumbaBackend`` exposes them as backend methods. ``x`` is viewed as (N, C, S) with
S = prod(spatial dims), statistics are per channel, accumulated in float64.

Statistics use the shifted-data formula in float64: with K = x[0, c, 0], d = x - K (exact in float64 for
float32 input), var = E[d^2] - E[d]^2. K is a sample of the channel, so E[d] is of the order of the
spread, not of the mean, and float64 leaves ~29 spare bits for the cancellation; the result is clamped at
0. One read of x gives both sums, which is what lets the designs below stay near the bandwidth bound.

Parallel designs (chosen by ``_path``; all race-free: every array element is written by one iteration):

* ``rows``: every (N, C) input, and (N, C, S) with S <= ``ROWS_MAX_S`` and N >= ``ROWS_PER_S`` * S, viewed
  as (N, C * S), with at least ``ROWS_PARALLEL_FROM`` elements. Rows are split into one chunk per thread;
  each chunk accumulates into its own row of a (chunks, C * S) float64 array; these are combined serially
  (the S columns of a channel too), then a second parallel loop normalises (both loops in one call).
* ``rows-serial``: the same kernels with one chunk, which never wakes the thread pool (smaller inputs).
* ``blocks``: the other (N, C, S) inputs. Channels are split into blocks (``_block``: one per thread for
  inputs that fit in cache, else blocks of about ``BLOCK_BYTES``); a block's statistics and its
  normalisation run back to back, so its data is still in cache. Each row of a block is one contiguous run
  of channels x S values, which hardware prefetch follows well.
* ``serial``: those below ``serial_below`` elements (the backend's ``parallel_threshold``), where starting
  threads costs more than the work: the ``blocks`` code as one block.

Rows and blocks are two algorithms (which axis the threads split, where the sums live); each is written
once. A serial design is its parallel kernel with one chunk or block, run by the kernel's serial dispatcher
(``elementwise.kernel``: compiled without the parallel backend, where ``prange`` is ``range``). The eval
affine runs the forward kernels without their statistics, so it compiles nothing of its own.

Compile time is part of a first run (the main job on an empty cache), so the kernels keep their inlined
code small: Numba inlines an ``inline="always"`` helper by copying its IR, which costs per call site and
per size, so the row statistics sit in the kernel body and no helper is inlined twice into one kernel
(measurements in docs/batchnorm.md).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from . import _cache, _threads  # noqa: F401 - cache directory and threading policy, before any kernel
from .elementwise import kernel

# Each kernel is two dispatchers (elementwise.kernel): the serial designs call the one compiled without
# the parallel backend, the parallel designs its ``.parallel``.
FASTMATH = {"reassoc", "contract"}
# The thresholds between the designs; the measurements behind them are in docs/batchnorm.md ("Choosing
# the design"). Every (N, C) input takes the rows design: its inner loops run along the contiguous
# channels and vectorise, while the blocks design's inner loop (over S = 1) stays scalar. Below
# ROWS_PARALLEL_FROM elements the row kernels run as one chunk: waking the pool for each of their four
# passes cost more than the second core gave.
ROWS_PARALLEL_FROM = 1 << 20
# (N, C, S) inputs with small S take the rows design too, as (N, C * S) rows whose S columns per channel are
# combined afterwards: the blocks code's inner loop over a short S barely vectorises. The rows design pays
# per column (C * S of them) and the blocks design per element with a short S, so rows wins for small S
# and enough rows.
ROWS_MAX_S = 16
ROWS_PER_S = 4  # rows needed per value of S
ROWS_PER_FLUSH = 16  # rows summed in x's dtype before adding into the float64 accumulators
RECENTRE = 64.0  # re-centre when (mean - shift)^2 > RECENTRE * var: beyond, cancellation would show
# The blocks design's block size (``_block``): an even share of the channels per thread up to this input
# size (in cache anyway, and fewer tasks cost less), above it blocks of about BLOCK_BYTES of x, which stay
# in L2 (2 MiB per core here) between a block's two passes.
EVEN_BLOCKS_UP_TO = 4 << 20
BLOCK_BYTES = 256 << 10


# -- forward ------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _zeros(n, dtype):
    """Two zeroed arrays of n values. Inlined into a parallel-compiled kernel, np.zeros becomes a parfor that
    wakes the thread pool on every call (PARALLEL's numpy=False does not stop it); np.empty and a loop stay
    serial. One helper for both arrays, as each inlined call adds to the compile time."""
    a = np.empty(n, dtype)
    b = np.empty(n, dtype)
    for i in range(n):
        a[i] = 0
        b[i] = 0
    return a, b


@njit(cache=True, inline="always")
def _channel_sums(x, c, k):
    """Sums of d and d^2 over channel c, d = x - k, in float64 (the rare re-centring pass)."""
    a1 = 0.0
    a2 = 0.0
    for i in range(x.shape[0]):
        for t in range(x.shape[2]):
            d = x[i, c, t] - k
            a1 += d
            a2 += d * d
    return a1, a2


@njit(cache=True, inline="always")
def _fwd_coefficients(c, col, mu, v, weight, bias, eps, mean, var, coef):
    """Channel c's statistics (mean mu, variance v clamped at 0), and in coef's column ``col`` those of
    out = (x - coef[0]) * coef[1] + coef[2]."""
    v = max(v, 0.0)
    mean[c] = mu
    var[c] = v
    sc = weight[c] / math.sqrt(v + eps)
    coef[0, col] = mu  # rounded to x's dtype: x - coef[0] is exact near the mean
    coef[1, col] = sc
    coef[2, col] = bias[c] - (mu - coef[0, col]) * sc


@njit(cache=True, inline="always")
def _copy_column(coef, col, s):
    """Column ``col`` of coef into the next S - 1 columns: the rows designs' S columns of one channel."""
    for j in range(col + 1, col + s):
        for r in range(coef.shape[0]):
            coef[r, j] = coef[r, col]


@njit(cache=True, inline="always")
def _block_statistics(x, weight, bias, eps, c0, c1, mean, var, coef):
    """Statistics of channels [c0, c1) of x (N, C, S), and their coefficients in coef (3, C)."""
    n, _, s = x.shape
    m = n * s
    nc = c1 - c0
    shift = np.empty(nc)
    s1, s2 = _zeros(nc, np.float64)
    for j in range(nc):
        shift[j] = x[0, c0 + j, 0]
    for i in range(n):
        for j in range(nc):
            k = shift[j]
            a1 = 0.0
            a2 = 0.0
            for t in range(s):
                d = x[i, c0 + j, t] - k
                a1 += d
                a2 += d * d
            s1[j] += a1
            s2[j] += a2
    for j in range(nc):
        c = c0 + j
        dm = s1[j] / m
        v = s2[j] / m - dm * dm
        if dm * dm > RECENTRE * v:  # x[0] was far from the mean: cancellation, so centre again
            shift[j] += dm
            a1, a2 = _channel_sums(x, c, shift[j])
            dm = a1 / m
            v = a2 / m - dm * dm
        _fwd_coefficients(c, c, shift[j] + dm, v, weight, bias, eps, mean, var, coef)


@njit(cache=True, inline="always")
def _fwd_block(x, weight, bias, eps, c0, c1, train, out, mean, var, coef):
    """Channels [c0, c1) of x (N, C, S): their statistics and coefficients when ``train``, then
    out = (x - coef[0]) * coef[1] + coef[2]."""
    if train:
        _block_statistics(x, weight, bias, eps, c0, c1, mean, var, coef)
    for i in range(x.shape[0]):
        for c in range(c0, c1):
            cx = coef[0, c]
            cs = coef[1, c]
            cb = coef[2, c]
            for t in range(x.shape[2]):
                out[i, c, t] = (x[i, c, t] - cx) * cs + cb


@kernel(fastmath=FASTMATH)
def _fwd_blocks(x, weight, bias, eps, block, train, out, mean, var, coef):
    """Forward of x (N, C, S) in blocks of ``block`` channels, one per iteration (the serial design: one
    block of all C). Without ``train``, coef holds the eval coefficients and only the output is written."""
    c = x.shape[1]
    for b in prange((c + block - 1) // block):
        _fwd_block(x, weight, bias, eps, b * block, min(c, (b + 1) * block), train, out, mean, var, coef)


# The row-chunk kernels: one chunk of rows per prange iteration.
@njit(cache=True, inline="always")
def _x_sums_chunk(x, center, r0, r1, a1, a2):
    """Column sums over rows [r0, r1) of d = x - center and d^2, added into float64 a1, a2.

    Runs of ``ROWS_PER_FLUSH`` rows are summed in x's dtype (the error stays near 16 eps), four rows per
    sweep: the partial sums are then loaded and stored once per four rows, not once per row (faster at
    (4096, 1024); the same unrolling measured no gain in the other three row kernels, docs/batchnorm.md).
    """
    c = x.shape[1]
    p1, p2 = _zeros(c, x.dtype)
    for i0 in range(r0, r1, ROWS_PER_FLUSH):
        end = min(r1, i0 + ROWS_PER_FLUSH)
        i = i0
        while i + 4 <= end:
            xa, xb, xc, xd = x[i], x[i + 1], x[i + 2], x[i + 3]
            for j in range(c):
                k = center[j]
                da = xa[j] - k
                db = xb[j] - k
                dc = xc[j] - k
                dd = xd[j] - k
                p1[j] += (da + db) + (dc + dd)
                p2[j] += (da * da + db * db) + (dc * dc + dd * dd)
            i += 4
        for r in range(i, end):
            xa = x[r]
            for j in range(c):
                d = xa[j] - center[j]
                p1[j] += d
                p2[j] += d * d
        for j in range(c):
            a1[j] += p1[j]
            a2[j] += p2[j]
            p1[j] = 0
            p2[j] = 0


@njit(cache=True, inline="always")
def _dy_sums_chunk(dy, x, center, r0, r1, a1, a2):
    """Column sums over rows [r0, r1) of dy and dy * (x - center), like ``_x_sums_chunk``."""
    c = x.shape[1]
    p1, p2 = _zeros(c, x.dtype)
    for i0 in range(r0, r1, ROWS_PER_FLUSH):
        for i in range(i0, min(r1, i0 + ROWS_PER_FLUSH)):
            g = dy[i]
            xa = x[i]
            for j in range(c):
                p1[j] += g[j]
                p2[j] += g[j] * (xa[j] - center[j])
        for j in range(c):
            a1[j] += p1[j]
            a2[j] += p2[j]
            p1[j] = 0
            p2[j] = 0


@njit(cache=True, inline="always")
def _affine_chunk(x, coef, r0, r1, out):
    """out = (x - coef[0]) * coef[1] + coef[2], per column, rows [r0, r1)."""
    cx = coef[0]
    cs = coef[1]
    cb = coef[2]
    for i in range(r0, r1):
        xa = x[i]
        o = out[i]
        for j in range(x.shape[1]):
            o[j] = (xa[j] - cx[j]) * cs[j] + cb[j]


@kernel(fastmath=FASTMATH)
def _fwd_rows(x, s, weight, bias, eps, chunks, train, out, mean, var, coef):
    """Forward of x viewed as (N, C * S) rows, in row chunks (one per thread; the serial design: one chunk);
    coef is (3, C * S). Without ``train``, coef holds the eval coefficients and only the output is written.

    Each column j (channel j // S) gets shifted sums around its own first value; the S columns of a channel
    are then combined in float64 (mean of the column means; variance = mean of the column variances plus
    the spread of the column means around the channel mean). With S = 1 this is the plain (N, C) case.
    One call holds both parallel loops and the serial step between them: as separate calls, their
    dispatch and the small NumPy steps in between cost more (docs/batchnorm.md).
    """
    n, cols = x.shape
    rows = (n + chunks - 1) // chunks
    if train:
        center = np.empty(cols, x.dtype)
        for j in range(cols):
            center[j] = x[0, j]
        s1 = np.empty((chunks, cols))
        s2 = np.empty((chunks, cols))
        col_mean = np.empty(cols)  # of d = x - center
        col_var = np.empty(cols)
        for attempt in range(2):
            for t in range(chunks):
                for j in range(cols):
                    s1[t, j] = 0.0
                    s2[t, j] = 0.0
            for t in prange(chunks):
                _x_sums_chunk(x, center, t * rows, min(n, (t + 1) * rows), s1[t], s2[t])
            recentre = False
            for j in range(cols):
                a1 = 0.0
                a2 = 0.0
                for t in range(chunks):
                    a1 += s1[t, j]
                    a2 += s2[t, j]
                dm = a1 / n
                col_mean[j] = dm
                col_var[j] = a2 / n - dm * dm
                recentre = recentre or dm * dm > RECENTRE * col_var[j]
            if not recentre or attempt == 1:
                break
            for j in range(cols):  # x[0] was far from the mean: centre again, on the mean rounded to x's dtype
                center[j] = center[j] + col_mean[j]
        for ch in range(cols // s):
            j0 = ch * s
            mu = 0.0
            for j in range(j0, j0 + s):
                mu += center[j] + col_mean[j]
            mu /= s
            m2 = 0.0
            for j in range(j0, j0 + s):
                spread = center[j] + col_mean[j] - mu
                m2 += col_var[j] + spread * spread
            _fwd_coefficients(ch, j0, mu, m2 / s, weight, bias, eps, mean, var, coef)
            _copy_column(coef, j0, s)
    for t in prange(chunks):
        _affine_chunk(x, coef, t * rows, min(n, (t + 1) * rows), out)


# -- backward -----------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _bwd_block(dy, x, mean, invstd, weight, c0, c1, dx, dweight, dbias, coef):
    """Closed-form backward for channels [c0, c1); coef is (4, C) scratch."""
    n, _, s = x.shape
    m = n * s
    nc = c1 - c0
    sdy, sdyx = _zeros(nc, np.float64)
    for i in range(n):
        for j in range(nc):
            c = c0 + j
            mu = mean[c]
            a1 = 0.0
            a2 = 0.0
            for t in range(s):
                g = dy[i, c, t]
                a1 += g
                a2 += g * (x[i, c, t] - mu)
            sdy[j] += a1
            sdyx[j] += a2
    for j in range(nc):
        c = c0 + j
        _bwd_coefficients(c, c, m, sdy[j], sdyx[j], mean[c], invstd[c], weight[c], dweight, dbias, coef)
    for i in range(n):
        for j in range(nc):
            c = c0 + j
            cx = coef[0, c]
            k = coef[1, c]
            ka = coef[2, c]
            cb = coef[3, c]
            for t in range(s):
                dx[i, c, t] = k * dy[i, c, t] - ka * (x[i, c, t] - cx) + cb


@njit(cache=True, inline="always")
def _bwd_coefficients(c, col, m, sdy, sdyx, mu, inv, w, dweight, dbias, coef):
    """Channel c's dweight and dbias, and in coef's column ``col`` those of dx = k dy - k a (x - mean) - k <dy>,
    a = invstd <dy xhat>, written around mean rounded to x's dtype."""
    dweight[c] = sdyx * inv  # sum(dy * xhat)
    dbias[c] = sdy
    k = inv * w
    ka = k * inv * inv * sdyx / m
    coef[0, col] = mu
    coef[1, col] = k
    coef[2, col] = ka
    coef[3, col] = ka * (mu - coef[0, col]) - k * sdy / m


@kernel(fastmath=FASTMATH)
def _bwd_blocks(dy, x, mean, invstd, weight, block, dx, dweight, dbias, coef):
    """Backward of (N, C, S) in blocks of ``block`` channels, like ``_fwd_blocks``."""
    c = x.shape[1]
    for b in prange((c + block - 1) // block):
        _bwd_block(dy, x, mean, invstd, weight, b * block, min(c, (b + 1) * block), dx, dweight, dbias, coef)


@njit(cache=True, inline="always")
def _bwd_apply_chunk(dy, x, coef, r0, r1, dx):
    """dx = coef[1] dy - coef[2] (x - coef[0]) + coef[3], per column, rows [r0, r1)."""
    cx = coef[0]
    k = coef[1]
    ka = coef[2]
    cb = coef[3]
    for i in range(r0, r1):
        g = dy[i]
        xa = x[i]
        d = dx[i]
        for j in range(x.shape[1]):
            d[j] = k[j] * g[j] - ka[j] * (xa[j] - cx[j]) + cb[j]


@kernel(fastmath=FASTMATH)
def _bwd_rows(dy, x, s, mean, invstd, weight, chunks, dx, dweight, dbias, coef):
    """Closed-form backward of x viewed as (N, C * S) rows, in row chunks like ``_fwd_rows``; coef is
    (4, C * S).

    The sums are centred on the channel mean rounded to x's dtype (exact differences near the mean), then
    the S columns of each channel are added and corrected to the float64 mean.
    """
    n, cols = x.shape
    c = cols // s
    rows = (n + chunks - 1) // chunks
    center = np.empty(cols, x.dtype)
    for ch in range(c):
        for j in range(ch * s, ch * s + s):
            center[j] = mean[ch]
    s1 = np.empty((chunks, cols))
    s2 = np.empty((chunks, cols))
    for t in range(chunks):
        for j in range(cols):
            s1[t, j] = 0.0
            s2[t, j] = 0.0
    for t in prange(chunks):
        _dy_sums_chunk(dy, x, center, t * rows, min(n, (t + 1) * rows), s1[t], s2[t])
    for ch in range(c):
        sdy = 0.0
        sdyc = 0.0
        for j in range(ch * s, ch * s + s):
            for t in range(chunks):
                sdy += s1[t, j]
                sdyc += s2[t, j]
        sdyx = sdyc - (mean[ch] - center[ch * s]) * sdy  # sum(dy * (x - mean))
        _bwd_coefficients(ch, ch * s, n * s, sdy, sdyx, mean[ch], invstd[ch], weight[ch], dweight, dbias, coef)
        _copy_column(coef, ch * s, s)
    for t in prange(chunks):
        _bwd_apply_chunk(dy, x, coef, t * rows, min(n, (t + 1) * rows), dx)


# -- entry points -------------------------------------------------------------------------------------
def _path(n: int, c: int, s: int, serial_below: int) -> str:
    if s == 1 or (s <= ROWS_MAX_S and n >= ROWS_PER_S * s):
        return "rows" if n * c * s >= ROWS_PARALLEL_FROM else "rows-serial"
    if n * c * s < serial_below:
        return "serial"
    return "blocks"


def _layout(x):
    n, c = x.shape[0], x.shape[1]
    return np.ascontiguousarray(x.reshape(n, c, math.prod(x.shape[2:]))), n, c


def _chunks(path: str, n: int) -> int:
    """Row chunks of the rows designs: one for ``rows-serial``, else one per thread."""
    return 1 if path == "rows-serial" else min(n, numba.get_num_threads())


def _per_channel(values, c: int, fill: float):
    return np.full(c, fill) if values is None else np.ascontiguousarray(values, dtype=np.float64)


def _block(x3, train: bool) -> int:
    """Channels per parallel iteration of the ``blocks`` design on x3 (N, C, S).

    An even share per thread, except for training steps on inputs above ``EVEN_BLOCKS_UP_TO`` bytes: there
    blocks of about ``BLOCK_BYTES``, so that a block is still in L2 when its normalisation (or the
    backward's dx pass) reads it again right after its statistics. The eval affine reads x once, so it
    keeps the even share (measurements in docs/batchnorm.md).
    """
    n, c, s = x3.shape
    even = max(1, -(-c // numba.get_num_threads()))
    channel = n * s * x3.itemsize
    if not train or channel * c <= EVEN_BLOCKS_UP_TO:
        return even
    return max(1, min(even, BLOCK_BYTES // channel))


def _forward(x3, weight, bias, eps, path: str, train: bool, out, mean, var, coef) -> None:
    """The forward kernel of ``path`` on x3 (N, C, S); without ``train`` only the output, from coef."""
    n, c, s = x3.shape
    if path in ("rows", "rows-serial"):
        chunks = _chunks(path, n)
        fwd_rows = _fwd_rows.parallel if chunks > 1 else _fwd_rows
        fwd_rows(x3.reshape(n, c * s), s, weight, bias, eps, chunks, train, out.reshape(n, c * s), mean, var, coef)
    elif path == "blocks":
        _fwd_blocks.parallel(x3, weight, bias, eps, _block(x3, train), train, out, mean, var, coef)
    else:
        _fwd_blocks(x3, weight, bias, eps, c, train, out, mean, var, coef)


def batch_norm_forward(x, weight, bias, eps, path: str):
    """``(out, mean, var)``: training-mode output, float64 per-channel mean and biased variance."""
    x3, n, c = _layout(x)
    s = x3.shape[2]
    mean = np.empty(c)
    var = np.empty(c)
    result = np.empty(x.shape, dtype=x3.dtype)  # returned as is: an array that owns its memory
    if x3.size == 0:  # nothing to normalise; the statistics of an empty channel are undefined
        mean[:] = np.nan
        var[:] = np.nan
    else:
        coef = np.empty((3, c * s if path in ("rows", "rows-serial") else c), dtype=x3.dtype)
        _forward(x3, _per_channel(weight, c, 1.0), _per_channel(bias, c, 0.0), float(eps), path, True,
                 result.reshape(x3.shape), mean, var, coef)
    return result, mean, var


def batch_norm_backward(dy, x, mean, invstd, weight, path: str):
    """``(dx, dweight, dbias)`` in closed form; dweight and dbias are float64 (C,) arrays."""
    x3, n, c = _layout(x)
    dy3 = np.ascontiguousarray(dy.reshape(x3.shape))
    s = x3.shape[2]
    w = _per_channel(weight, c, 1.0)
    mean = np.ascontiguousarray(mean, dtype=np.float64)
    invstd = np.ascontiguousarray(invstd, dtype=np.float64)
    result = np.empty(x.shape, dtype=x3.dtype)  # owns its memory: the engine can keep it as .grad
    dx = result.reshape(x3.shape)
    dweight = np.empty(c)
    dbias = np.empty(c)
    if x3.size == 0:
        dweight[:] = 0.0
        dbias[:] = 0.0
    elif path in ("rows", "rows-serial"):
        cols = c * s
        chunks = _chunks(path, n)
        bwd_rows = _bwd_rows.parallel if chunks > 1 else _bwd_rows
        bwd_rows(dy3.reshape(n, cols), x3.reshape(n, cols), s, mean, invstd, w, chunks, dx.reshape(n, cols), dweight,
                 dbias, np.empty((4, cols), dtype=x3.dtype))
    else:
        bwd_blocks, block = (_bwd_blocks.parallel, _block(x3, True)) if path == "blocks" else (_bwd_blocks, c)
        bwd_blocks(dy3, x3, mean, invstd, w, block, dx, dweight, dbias, np.empty((4, c), dtype=x3.dtype))
    return result, dweight, dbias


def batch_norm_affine(x, center, scale, shift, serial_below: int):
    """Eval-mode output ``(x - center) * scale + shift`` per channel, one pass (``center``/``shift`` may be
    ``None``: zero); matches ``NumpyBackend.batch_norm_affine``.

    It runs the training forward kernels without their statistics, so the eval path compiles nothing
    more. Their layout is the training one; one pass is cheap, so it runs in parallel from
    ``serial_below`` elements, below the training kernels' ``ROWS_PARALLEL_FROM``.
    """
    x3, n, c = _layout(x)
    s = x3.shape[2]
    result = np.empty(x.shape, dtype=x3.dtype)
    if x3.size == 0:
        return result
    coef = np.empty((3, c), dtype=x3.dtype)  # every row is set below
    coef[0] = 0.0 if center is None else center
    coef[1] = scale
    coef[2] = 0.0 if shift is None else shift
    path = _path(n, c, s, serial_below)
    if path in ("rows", "rows-serial"):
        path = "rows" if x3.size >= serial_below else "rows-serial"
        coef = np.repeat(coef, s, axis=1) if s > 1 else coef  # one coefficient per column of (N, C * S)
    elif path == "blocks":  # as (1, N * C, S): the threads split all N * C runs evenly, even for a small C
        x3, coef = x3.reshape(1, n * c, s), np.tile(coef, n)
    _forward(x3, _UNUSED, _UNUSED, 0.0, path, False, result.reshape(x3.shape), _UNUSED, _UNUSED, coef)
    return result


_UNUSED = np.empty(0)  # the statistics arguments of an eval call, which reads and writes none


def path_for(x: np.ndarray, serial_below: int) -> str:
    """The parallel design for an (N, C, *spatial) input (see the module docstring)."""
    return _path(x.shape[0], x.shape[1], math.prod(x.shape[2:]), serial_below)
