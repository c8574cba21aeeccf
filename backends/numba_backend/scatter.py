"""Scatter-add for indexing gradients: out[rows[i], :] += values[i, :], duplicates accumulating."""

from __future__ import annotations

from numba import njit, prange

from .elementwise import INLINE, kernel

BLOCK = 64  # columns per task of the parallel variant


@njit(**INLINE)
def _scatter_columns(rows, values, out, j0, j1):
    # Row slices indexed from 0: with x[r, j0 + j] LLVM cannot prove the index non-negative, keeps
    # Numba's negative-index wraparound per element, and the loop stays scalar.
    for i in range(rows.shape[0]):
        target, source = out[rows[i], j0:j1], values[i, j0:j1]
        for j in range(target.shape[0]):
            target[j] += source[j]


@kernel
def scatter_add_rows(rows, values, out, block):
    """Add each row of ``values`` (m, width) into row ``rows[i]`` of ``out`` (M, width), in index order.

    Duplicate rows make the additions to one element depend on each other, so the work is split over
    blocks of ``block`` columns: every task owns its columns of ``out`` and adds into them in the same order.
    The backend passes BLOCK to the parallel variant and the whole width to the serial one (one pass over
    the rows).
    """
    width = out.shape[1]
    for b in prange((width + block - 1) // block):
        _scatter_columns(rows, values, out, b * block, min(width, (b + 1) * block))
