"""Sliding-window kernels: ``fold_windows`` (col2im, the adjoint of ``sliding_windows``) for 2-D windows.

``fold_windows`` takes C-contiguous columns (P, kh, kw, oh, ow), P = the product of the leading axes
(batch * channels), and a zeroed output (P, H, W); it adds ``cols[p, i, j, y, x]`` into
``out[p, i * dh + y * sh, j * dw + x * sw]``. Overlapping windows make several columns add into one output
element, so the parallel split is over planes: each ``prange`` iteration owns one output plane and no
other iteration reads or writes it. Within a plane the additions run in the NumPy reference's order (kernel
offsets (i, j) in row-major order, each added to the running sum in the array's dtype), so results are
bitwise identical to ``NumpyBackend.fold_windows`` and independent of the thread count.
"""

from __future__ import annotations

from numba import njit, prange

from . import _cache, _threads  # noqa: F401 - cache directory and threading policy, before any kernel
from .elementwise import kernel


@njit(error_model="numpy")
def _fold_plane(cols, out, p, sh, sw, dh, dw):
    kh, kw, oh, ow = cols.shape[1], cols.shape[2], cols.shape[3], cols.shape[4]
    for i in range(kh):
        for j in range(kw):
            for y in range(oh):
                r = i * dh + y * sh
                c0 = j * dw
                for x in range(ow):
                    out[p, r, c0 + x * sw] += cols[p, i, j, y, x]


@kernel
def fold_windows_2d(cols, out, sh, sw, dh, dw, parallel):
    """Sum the windows ``cols`` (P, kh, kw, oh, ow) into the zeroed ``out`` (P, H, W), one plane per task."""
    planes = out.shape[0]
    if parallel:
        for p in prange(planes):
            _fold_plane(cols, out, p, sh, sw, dh, dw)
    else:
        for p in range(planes):
            _fold_plane(cols, out, p, sh, sw, dh, dw)
