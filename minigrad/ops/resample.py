"""Resampling along one axis: by a small sparse matrix (``F.interpolate``'s linear modes), ``Resample``; by
repeating each entry an integer number of times (nearest upsampling), ``RepeatAlong`` and its adjoint
``SumRepeats``.

An axis of n entries resampled to o is y = A x for an (o, n) matrix A with a few entries per row (2 for linear,
4 for cubic), listed in the order PyTorch sums them; the gradient is A^T g, the same op with the transposed
matrix, so gradients of any order follow.

Where the axis is short and the input finite, A is applied densely, as one (batched) GEMM instead of gathers,
products and sums (figures: docs/performance.md, "Newer conv-net layers"). A dense product is
only exact for finite inputs, though: there 0 * x adds nothing, whereas an inf or NaN entry would spread NaN over
its whole row, not just to the outputs that read it. So an input whose sum is not finite (which includes every
input holding an inf or a NaN) takes the sparse path: one gather per entry of a row, weighted and summed in
order, as PyTorch's kernels, with no zero-weight terms that PyTorch does not have.
"""

from __future__ import annotations

import numpy as np

from ..function import Function


class AxisMatrix:
    """A sparse (o, n) matrix as entries (rows, cols, vals) on the host, in summation order per row."""

    def __init__(self, shape: tuple, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> None:
        self.shape, self.rows, self.cols, self.vals = shape, rows, cols, vals

    @classmethod
    def from_taps(cls, n: int, taps: list) -> AxisMatrix:
        """Row j holding ``w[j]`` at column ``index[j]`` for each (index, w) of ``taps``, summed in that order."""
        o = len(taps[0][0])
        rows = np.tile(np.arange(o), len(taps))
        cols = np.concatenate([np.asarray(index, np.int64) for index, _ in taps])
        return cls((o, n), rows, cols, np.concatenate([w for _, w in taps]))

    @property
    def T(self) -> AxisMatrix:  # noqa: N802 - the transposed matrix, as NumPy's spelling
        return AxisMatrix(self.shape[::-1], self.cols, self.rows, self.vals)

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, self.vals.dtype)
        np.add.at(out, (self.rows, self.cols), self.vals)
        return out

    def slots(self) -> list:
        """The entries as (start, stop, cols, vals) pieces: the k-th entry of each row in ``range(start, stop)``,
        for k = 0, 1, ...; a piece covers a run of consecutive rows, so that it is added as a slice."""
        order = np.argsort(self.rows, kind="stable")  # within a row, the entries' own order
        rows, cols, vals = self.rows[order], self.cols[order], self.vals[order]
        counts = np.bincount(rows, minlength=self.shape[0])
        rank = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        pieces = []
        for k in range(int(counts.max(initial=0))):
            pick = np.flatnonzero(rank == k)
            runs = np.split(pick, np.flatnonzero(np.diff(rows[pick]) != 1) + 1)
            pieces += [(int(rows[r[0]]), int(rows[r[-1]]) + 1, cols[r], vals[r]) for r in runs]
        return pieces


class Resample(Function):
    """y = A x along ``axis`` for an ``AxisMatrix`` A (o, n): the axis's size goes from n to o."""

    # Up to this many input entries per row, a dense product beat the gathers (docs/nn.md); beyond it, its
    # n multiply-adds per output cost more than the sparse path's few passes over the output.
    DENSE_MAX = 64

    @staticmethod
    def forward(ctx, x, axis, matrix):
        ctx.axis, ctx.matrix = axis, matrix
        be, a = ctx.backend, x.array
        shape = tuple(x.shape)
        o, n = matrix.shape
        lead = int(np.prod(shape[:axis], dtype=np.int64))
        rest = int(np.prod(shape[axis + 1:], dtype=np.int64))
        out_shape = shape[:axis] + (o,) + shape[axis + 1:]
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, overflow: the sum's answer, not a fault
            finite = n <= Resample.DENSE_MAX and np.isfinite(be.to_numpy(be.sum(a, None, False)))
        if finite:
            dense = be.from_numpy(matrix.dense().astype(a.dtype, copy=False))
            if rest == 1:  # the last axis: one GEMM
                y = be.matmul(be.reshape(a, (lead, n)), be.transpose(dense, (1, 0)))
            else:  # a batch of (o, n) @ (n, rest) products
                y = be.matmul(dense, be.reshape(a, (lead, n, rest)))
            return be.reshape(y, out_shape)
        a3 = be.reshape(a, (lead, n, rest))
        pieces = matrix.slots()
        covered = sum(stop - start for start, stop, _, _ in pieces[:1]) == o
        y = be.empty((lead, o, rest), a.dtype) if covered else be.zeros((lead, o, rest), a.dtype)
        with np.errstate(invalid="ignore"):  # inf * 0 and inf - inf give NaN, as PyTorch's kernels, silently
            for k, (start, stop, cols, vals) in enumerate(pieces):
                Resample._add_piece(be, a3, y, k == 0 and covered, start, stop, cols, vals)
        return be.reshape(y, out_shape)

    @staticmethod
    def _add_piece(be, a3, y, first, start, stop, cols, vals):
        """y[:, start:stop] (+)= vals * a3[:, cols]: one entry of each row of a run."""
        term = be.take(a3, be.from_numpy(cols), 1)
        term = be.multiply(term, be.from_numpy(vals.astype(a3.dtype).reshape(-1, 1)), out=term)
        target = be.getitem(y, (slice(None), slice(start, stop)))
        if first:
            be.setitem(target, Ellipsis, term)
        else:
            be.add(target, term, out=target)

    @staticmethod
    def backward(ctx, g):
        return Resample.apply(g, ctx.axis, ctx.matrix.T), None, None


def _split(shape: tuple, axis: int, r: int) -> tuple:
    """``shape`` as (lead, n, r, rest): the axis split into its n entries and their r copies."""
    lead = int(np.prod(shape[:axis], dtype=np.int64))
    rest = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return lead, shape[axis] // r, r, rest


class RepeatAlong(Function):
    """Each entry along ``axis`` repeated ``r`` times in place (nearest upsampling by an integer factor): one
    broadcast copy. Its gradient, ``SumRepeats``, adds each entry's r copies as r slices: NumPy's reduction over
    a short contiguous axis (what ``expand``'s gradient is) is much slower (docs/performance.md)."""

    @staticmethod
    def forward(ctx, x, axis, r):
        ctx.axis, ctx.r = axis, r
        be, shape = ctx.backend, tuple(x.shape)
        lead, n, _, rest = _split(shape, axis, 1)
        copies = be.broadcast_to(be.reshape(x.array, (lead, n, 1, rest)), (lead, n, r, rest))
        return be.reshape(be.ascontiguous(copies), shape[:axis] + (n * r,) + shape[axis + 1:])

    @staticmethod
    def backward(ctx, g):
        return SumRepeats.apply(g, ctx.axis, ctx.r), None, None


class SumRepeats(Function):
    """The adjoint of ``RepeatAlong``: the sum of each run of ``r`` consecutive entries along ``axis``."""

    @staticmethod
    def forward(ctx, g, axis, r):
        ctx.axis, ctx.r = axis, r
        be, shape = ctx.backend, tuple(g.shape)
        lead, n, _, rest = _split(shape, axis, r)
        runs = be.reshape(g.array, (lead, n, r, rest))
        copy = [be.getitem(runs, (slice(None), slice(None), k)) for k in range(r)]
        total = be.add(copy[0], copy[1]) if r > 1 else be.copy(copy[0])
        for k in range(2, r):
            be.add(total, copy[k], out=total)
        return be.reshape(total, shape[:axis] + (n,) + shape[axis + 1:])

    @staticmethod
    def backward(ctx, gg):
        return RepeatAlong.apply(gg, ctx.axis, ctx.r), None, None


def resample(x, axis: int, matrix: AxisMatrix):
    return Resample.apply(x, axis, matrix)
