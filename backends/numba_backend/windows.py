"""Sliding-window kernels on planes (P, H, W), P = batch * channels: ``fold_windows_2d`` (col2im, the adjoint
of ``sliding_windows``) and max pooling's forward and backward.

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
def fold_windows_2d(cols, out, sh, sw, dh, dw):
    """Sum the windows ``cols`` (P, kh, kw, oh, ow) into the zeroed ``out`` (P, H, W), one plane per task."""
    kh, kw, oh, ow = cols.shape[1], cols.shape[2], cols.shape[3], cols.shape[4]
    for p in prange(out.shape[0]):
        for i in range(kh):
            for j in range(kw):
                for y in range(oh):
                    r = i * dh + y * sh
                    c0 = j * dw
                    for x in range(ow):
                        out[p, r, c0 + x * sw] += cols[p, i, j, y, x]


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
def max_pool2d_backward(grad, slot, out, kw, sh, sw, ph, pw, dh, dw):
    """Zero ``out`` (P, H, W) and add each ``grad`` (P, oh, ow) at its window's argmax ``slot``.

    Windows run in reverse raster order: a window further down (or right, in the same row) holds a shared
    input element at a smaller slot, so the element receives its gradients in ascending slot order, as in
    the NumPy reference's loop over slots."""
    h, w, oh, ow = out.shape[1], out.shape[2], grad.shape[1], grad.shape[2]
    for p in prange(out.shape[0]):
        for r in range(h):
            for c in range(w):
                out[p, r, c] = 0
        for y in range(oh - 1, -1, -1):
            for xo in range(ow - 1, -1, -1):
                k = slot[p, y, xo]
                i = k // kw
                r = y * sh - ph + i * dh
                c = xo * sw - pw + (k - i * kw) * dw
                if 0 <= r < h and 0 <= c < w:  # a maximum in the padding (an all -inf window) goes nowhere
                    out[p, r, c] += grad[p, y, xo]
