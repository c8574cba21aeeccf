"""``F.pad``'s reflect, replicate and circular modes with non-negative widths: ``BorderPad`` and its adjoint
``BorderPadAdjoint``, each the other's backward (both linear), so gradients of any order follow.

Each padded axis splits into parts: the input itself, and a border on either side that copies a slice of the
input (reversed for reflect, wrapped around for circular, its edge entry broadcast for replicate). Every
combination of parts over the padded axes (the corners too) is one slice assignment in the forward and one
slice addition in the adjoint, so the forward writes the output once and the adjoint copies the gradient's
interior once, then adds the few border slices in, where a composite (slices, an expand and a concatenation
per axis, each with its own backward) makes several passes (figures: docs/performance.md).
"""

from __future__ import annotations

import itertools

from ..function import Function


def _parts(n: int, before: int, after: int, mode: str) -> list:
    """(slice of the padded axis, slice of the input, whether the border broadcasts one input entry) for each
    part of an axis of n entries padded by (before, after); the interior first."""
    parts = [(slice(before, before + n), slice(0, n), False)]
    end = before + n
    if mode == "reflect":  # padded j < before reads input before - j; j = end + t reads n - 2 - t
        if before:
            parts.append((slice(before - 1, None, -1), slice(1, before + 1), False))
        if after:
            parts.append((slice(end + after - 1, end - 1, -1), slice(n - 1 - after, n - 1), False))
    elif mode == "replicate":
        if before:
            parts.append((slice(0, before), slice(0, 1), True))
        if after:
            parts.append((slice(end, end + after), slice(n - 1, n), True))
    else:  # circular: padded j < before reads n - before + j; j = end + t reads t
        if before:
            parts.append((slice(0, before), slice(n - before, n), False))
        if after:
            parts.append((slice(end, end + after), slice(0, after), False))
    return parts


def _combinations(shape: tuple, widths: tuple, mode: str):
    """(padded index, input index, broadcast axes) for every combination of parts, the interior first."""
    axes = [axis for axis, (lo, hi) in enumerate(widths) if lo or hi]
    per_axis = [_parts(shape[axis], *widths[axis], mode) for axis in axes]
    for combo in itertools.product(*per_axis):
        padded, source = [slice(None)] * len(shape), [slice(None)] * len(shape)
        for axis, (p, s, _) in zip(axes, combo):
            padded[axis], source[axis] = p, s
        yield tuple(padded), tuple(source), tuple(axis for axis, (_, _, b) in zip(axes, combo) if b)


class BorderPad(Function):
    """``x`` padded by ``widths`` (a non-negative (before, after) pair per axis) in mode "reflect", "replicate"
    or "circular"."""

    @staticmethod
    def forward(ctx, x, widths, mode):
        ctx.widths, ctx.mode, ctx.in_shape = widths, mode, tuple(x.shape)
        be, a = ctx.backend, x.array
        out = be.empty(tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, widths)), a.dtype)
        for padded, source, _ in _combinations(ctx.in_shape, widths, mode):
            be.setitem(out, padded, be.getitem(a, source))  # a replicated edge broadcasts over its border
        return out

    @staticmethod
    def backward(ctx, g):
        return BorderPadAdjoint.apply(g, ctx.in_shape, ctx.widths, ctx.mode), None, None


class BorderPadAdjoint(Function):
    """The adjoint of ``BorderPad``: the gradient's interior plus each border added back onto the input entries it
    copied."""

    @staticmethod
    def forward(ctx, g, in_shape, widths, mode):
        ctx.widths, ctx.mode = widths, mode
        be, a = ctx.backend, g.array
        combos = _combinations(in_shape, widths, mode)
        padded, _, _ = next(combos)  # the interior: a copy, into which the borders are added
        out = be.copy(be.getitem(a, padded))
        for padded, source, summed in combos:
            part = be.getitem(a, padded)
            summed = tuple(axis for axis in summed if part.shape[axis] > 1)
            if summed:  # a replicated edge: its border's sum (a border one wide is its own sum)
                part = be.sum(part, summed, True)
            target = be.getitem(out, source)
            be.add(target, part, out=target)
        return out

    @staticmethod
    def backward(ctx, gg):
        return BorderPad.apply(gg, ctx.widths, ctx.mode), None, None, None

