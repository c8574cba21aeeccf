"""Scatter-add for indexing gradients: out[rows[i], :] += values[i, :], duplicates accumulating."""

from __future__ import annotations

from numba import njit, prange

from .elementwise import kernel

BLOCK = 64  # columns per parallel task


@njit
def _scatter_columns(rows, values, out, j0, j1):
    for i in range(rows.shape[0]):
        r = rows[i]
        for j in range(j0, j1):
            out[r, j] += values[i, j]


@kernel
def scatter_add_rows(rows, values, out, parallel):
    """Add each row of ``values`` (m, width) into row ``rows[i]`` of ``out`` (M, width), in index order.

    Duplicate rows make the additions to one element depend on each other, so the parallel split is over
    blocks of columns: every task owns its columns of ``out`` and adds into them in the same order.
    """
    width = out.shape[1]
    if parallel:
        blocks = (width + BLOCK - 1) // BLOCK
        for b in prange(blocks):
            _scatter_columns(rows, values, out, b * BLOCK, min(width, (b + 1) * BLOCK))
    else:
        _scatter_columns(rows, values, out, 0, width)
