"""Sliding-window kernels on planes (P, H, W), P = batch * channels: ``unfold_windows_2d`` (im2col),
``fold_windows_2d`` (col2im, its adjoint) and max pooling's forward and backward. Padding is never copied:
the kernels test bounds instead.

The parallel split is over planes: each ``prange`` iteration owns one output plane and no other iteration
reads or writes it. Within a plane the additions run in the NumPy reference's order (in window-slot order,
each added to the running sum in the array's dtype), so results are bitwise identical to the NumPy
backend's and independent of the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from . import _cache, _threads  # noqa: F401 - cache directory and threading policy, before any kernel
from .elementwise import kernel


@kernel
def unfold_windows_2d(x, cols, sh, sw, ph, pw, dh, dw):
    """Every window of ``x`` (P, H, W), zero-padded by ``ph``/``pw``, into ``cols`` (P, kh, kw, oh, ow)."""
    h, w = x.shape[1], x.shape[2]
    kh, kw, oh, ow = cols.shape[1], cols.shape[2], cols.shape[3], cols.shape[4]
    for p in prange(x.shape[0]):
        for i in range(kh):
            for j in range(kw):
                for y in range(oh):
                    r = y * sh - ph + i * dh
                    for xo in range(ow):
                        c = xo * sw - pw + j * dw
                        cols[p, i, j, y, xo] = x[p, r, c] if 0 <= r < h and 0 <= c < w else 0


@kernel
def fold_windows_2d(cols, out, sh, sw, ph, pw, dh, dw):
    """Sum the windows ``cols`` (P, kh, kw, oh, ow) into the zeroed ``out`` (P, H, W) padded by ``ph``/``pw``
    (what falls into the padding is dropped), one plane per task."""
    h, w = out.shape[1], out.shape[2]
    kh, kw, oh, ow = cols.shape[1], cols.shape[2], cols.shape[3], cols.shape[4]
    for p in prange(out.shape[0]):
        for i in range(kh):
            for j in range(kw):
                for y in range(oh):
                    r = y * sh - ph + i * dh
                    if 0 <= r < h:
                        for xo in range(ow):
                            c = xo * sw - pw + j * dw
                            if 0 <= c < w:
                                out[p, r, c] += cols[p, i, j, y, xo]


@kernel
def unfold_batch_inner_2d(x, cols, sh, sw, ph, pw, dh, dw):
    """Every window of ``x`` (N, C, H, W), zero-padded by ``ph``/``pw``, into ``cols`` (C, kh, kw, N, oh, ow),
    one task per (channel, window slot), each writing its own contiguous block of ``cols``. The row loop
    selects zero for padding columns rather than splitting the row at them: rows are short, and three
    loops per row measured slower than one."""
    n_, c_, h, w = x.shape
    kh, kw, oh, ow = cols.shape[1], cols.shape[2], cols.shape[4], cols.shape[5]
    for q in prange(c_ * kh * kw):
        c, i, j = q // (kh * kw), (q // kw) % kh, q % kw
        for n in range(n_):
            for y in range(oh):
                r = y * sh - ph + i * dh
                if 0 <= r < h:
                    for xo in range(ow):
                        col = xo * sw - pw + j * dw
                        cols[c, i, j, n, y, xo] = x[n, c, r, col] if 0 <= col < w else 0
                else:
                    for xo in range(ow):
                        cols[c, i, j, n, y, xo] = 0


@kernel
def fold_batch_inner_2d(cols, out, sh, sw, ph, pw, dh, dw):
    """Zero ``out`` (N, C, H, W) and sum the windows ``cols`` (C, kh, kw, N, oh, ow) into it, padded by
    ``ph``/``pw`` (what falls into the padding is dropped), one (image, channel) plane per task."""
    n_, c_, h, w = out.shape
    kh, kw, oh, ow = cols.shape[1], cols.shape[2], cols.shape[4], cols.shape[5]
    for p in prange(n_ * c_):
        c, n = p // n_, p % n_  # channel-major: consecutive tasks read adjacent (N, oh, ow) runs of cols
        for r in range(h):
            for col in range(w):
                out[n, c, r, col] = 0
        for i in range(kh):
            for j in range(kw):
                for y in range(oh):
                    r = y * sh - ph + i * dh
                    if 0 <= r < h:
                        for xo in range(ow):
                            col = xo * sw - pw + j * dw
                            if 0 <= col < w:
                                out[n, c, r, col] += cols[c, i, j, n, y, xo]


@kernel
def max_pool2d_forward(x, out, slot, kh, kw, sh, sw, ph, pw, dh, dw):
    """Each window's maximum into ``out`` and its slot (i * kw + j) into ``slot``, both (P, oh, ow), from
    ``x`` (P, H, W) with ``ph``/``pw`` rows/columns of -inf padding. As PyTorch, a value is taken when it is
    greater than the best so far or NaN. Starting from (-inf, slot 0) gives the reference's result (which
    starts from slot 0's value), and a padding -inf is never taken, so padding is skipped, not read."""
    h, w, oh, ow = x.shape[1], x.shape[2], out.shape[1], out.shape[2]
    for p in prange(x.shape[0]):
        for y in range(oh):
            for xo in range(ow):
                best = -np.inf
                at = 0
                for i in range(kh):
                    r = y * sh - ph + i * dh
                    for j in range(kw):
                        c = xo * sw - pw + j * dw
                        if 0 <= r < h and 0 <= c < w:
                            v = x[p, r, c]
                            take = (v > best) | (v != v)  # selects, not branches: random data mispredicts
                            best = v if take else best
                            at = i * kw + j if take else at
                out[p, y, xo] = best
                slot[p, y, xo] = at


@kernel
def max_pool2d_forward_2x2(x, out, slot):
    """``max_pool2d_forward`` for the common 2x2 window, stride 2, no padding or dilation: the four slots
    compared in order with the same rule, without the general kernel's loops and bounds tests."""
    oh, ow = out.shape[1], out.shape[2]
    for p in prange(x.shape[0]):
        for y in range(oh):
            for xo in range(ow):
                best = x[p, 2 * y, 2 * xo]
                at = 0
                v = x[p, 2 * y, 2 * xo + 1]
                take = (v > best) | (v != v)
                best = v if take else best
                at = 1 if take else at
                v = x[p, 2 * y + 1, 2 * xo]
                take = (v > best) | (v != v)
                best = v if take else best
                at = 2 if take else at
                v = x[p, 2 * y + 1, 2 * xo + 1]
                take = (v > best) | (v != v)
                out[p, y, xo] = v if take else best
                slot[p, y, xo] = 3 if take else at


@kernel
def max_pool2d_backward_2x2(grad, slot, out):
    """``max_pool2d_backward`` for the 2x2 window, stride 2, no padding or dilation: the windows tile the
    input, so each element is written once, its window's gradient or zero (as the reference's tiled path);
    rows and columns past the last window get zero."""
    h, w, oh, ow = out.shape[1], out.shape[2], grad.shape[1], grad.shape[2]
    for p in prange(out.shape[0]):
        for y in range(oh):
            for i in range(2):
                for xo in range(ow):
                    k, g = slot[p, y, xo] - 2 * i, grad[p, y, xo]
                    out[p, 2 * y + i, 2 * xo] = g if k == 0 else 0
                    out[p, 2 * y + i, 2 * xo + 1] = g if k == 1 else 0
                for c in range(2 * ow, w):
                    out[p, 2 * y + i, c] = 0
        for r in range(2 * oh, h):
            for c in range(w):
                out[p, r, c] = 0


@kernel
def max_pool2d_backward(grad, slot, out, kh, kw, sh, sw, ph, pw, dh, dw):
    """Zero ``out`` (P, H, W) and add each ``grad`` (P, oh, ow) at its window's argmax ``slot``.

    Windows run in reverse raster order: a window further down (or right, in the same row) holds a shared
    input element at a smaller slot, so the element receives its gradients in ascending slot order, as in
    the NumPy reference's loop over slots."""
    h, w, oh, ow = out.shape[1], out.shape[2], grad.shape[1], grad.shape[2]
    down = np.empty(kh * kw, np.int64)  # each slot's offset from the window's corner: a table, since a
    right = np.empty(kh * kw, np.int64)  # division per element (slot // kw) cost more than the whole scatter
    for k in range(kh * kw):
        down[k], right[k] = (k // kw) * dh - ph, (k % kw) * dw - pw
    for p in prange(out.shape[0]):
        for r in range(h):
            for c in range(w):
                out[p, r, c] = 0
        for y in range(oh - 1, -1, -1):
            for xo in range(ow - 1, -1, -1):
                k = slot[p, y, xo]
                r = y * sh + down[k]
                c = xo * sw + right[k]
                if 0 <= r < h and 0 <= c < w:  # a maximum in the padding (an all -inf window) goes nowhere
                    out[p, r, c] += grad[p, y, xo]
