"""Tensor functions written as compositions of other ops (no op class of their own): ``outer``, ``tril``,
``triu``, ``repeat``, ``tile``, ``einsum``, and the movements ``flip``, ``t``, ``roll``, ``narrow``, ``unbind``
and ``movedim``. Their gradients, to any order, are those of the ops they are made of."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..grad_mode import no_grad
from ..tensor import Tensor, tensor
from ._registry import public
from .arithmetic import where
from .linalg import matmul
from .movement import (
    _check_dim,
    _expand_or_self,
    _permute_or_self,
    _reshape_or_self,
    concatenate,
    getitem,
    index_put,
    permute,
    reshape,
    transpose,
)


@public
def outer(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """The outer product of two 1-D tensors: out[i, j] = input[i] * vec2[j]."""
    if input.ndim != 1 or vec2.ndim != 1:
        raise ShapeError(f"outer: expected two 1-D tensors, got shapes {input.shape} and {vec2.shape}")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


def _triangle(x: Tensor, diagonal: int, lower: bool, op: str) -> Tensor:
    if x.ndim < 2:
        raise ShapeError(f"{op}: expected a tensor of at least 2 dimensions (..., M, N), got shape {x.shape}")
    from ..creation import arange

    rows = arange(x.shape[-2], backend=x.backend).unsqueeze(1)
    cols = arange(x.shape[-1], backend=x.backend).unsqueeze(0)
    keep = (cols - rows <= diagonal) if lower else (cols - rows >= diagonal)
    return where(keep, x, x.new_zeros(()))  # a zero of x's dtype: a Python 0 would turn bool into int64


@public
def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle of the last two dimensions (j - i <= diagonal); zeros above it."""
    return _triangle(input, diagonal, True, "tril")


@public
def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle of the last two dimensions (j - i >= diagonal); zeros below it."""
    return _triangle(input, diagonal, False, "triu")


@public(spec=False)
def flip(x: Tensor, dims) -> Tensor:
    """A copy with the order along each of ``dims`` reversed (PyTorch's ``flip``): a reversed slice, so its
    gradient is the upstream gradient flipped back, to any order."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    axes = {_check_dim(d, x.ndim, "flip") for d in dims}
    if len(axes) != len(dims):
        raise ValueError(f"flip: dims {dims} name a dimension twice (shape {x.shape})")
    if all(x.shape[d] <= 1 for d in axes):  # nothing to reverse: still a copy, as PyTorch's
        return x.clone()
    return getitem(x, tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(x.ndim))).contiguous()


@public(spec=False)
def t(x: Tensor) -> Tensor:
    """The transpose of a tensor of at most 2 dimensions (PyTorch's ``t``): a new view, of 0-D and 1-D ones too."""
    if x.ndim > 2:
        raise ShapeError(f"t: expects a tensor of at most 2 dimensions, got shape {x.shape}; use "
                         "transpose(dim0, dim1) or .mT")
    return transpose(x, 0, -1)


@public(spec=False)
def roll(x: Tensor, shifts, dims=None) -> Tensor:
    """Elements shifted ``shifts`` places along ``dims``, wrapping around (PyTorch's ``roll``); without
    ``dims`` the tensor is rolled as if flattened. Two slices concatenated per dimension."""
    if dims is None:
        if not isinstance(shifts, int):
            raise TypeError(f"roll: without dims, shifts must be one int, got {shifts!r}")
        if shifts % max(x.numel(), 1) == 0:  # whole turns: a copy, as PyTorch's
            return x.clone()
        return reshape(roll(reshape(x, (-1,)), shifts, 0), tuple(x.shape))
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: {len(shifts)} shift(s) for {len(dims)} dim(s)")
    rolled = x
    for shift, dim in zip(shifts, dims):
        axis = _check_dim(dim, x.ndim, "roll")
        n = x.shape[axis]
        k = shift % n if n else 0
        if k:
            head = (slice(None),) * axis
            rolled = concatenate([getitem(rolled, head + (slice(n - k, None),)),
                                  getitem(rolled, head + (slice(0, n - k),))], axis)
    return rolled if rolled is not x else x.clone()  # shifted by whole turns: still a copy, as PyTorch's


@public(spec=False)
def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` elements from ``start`` along ``dim`` (a negative start counts from the end), as a view."""
    axis = _check_dim(dim, x.ndim, "narrow")
    n = x.shape[axis]
    begin = start + n if start < 0 else start
    if not 0 <= begin <= n or length < 0 or begin + length > n:
        raise IndexError(f"narrow: start {start} and length {length} do not fit dimension {dim} of size {n}")
    return getitem(x, (slice(None),) * axis + (slice(begin, begin + length),))


@public(spec=False)
def unbind(x: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, each without that dimension (PyTorch's ``unbind``)."""
    axis = _check_dim(dim, x.ndim, "unbind")
    return tuple(getitem(x, (slice(None),) * axis + (i,)) for i in range(x.shape[axis]))


@public(spec=False, aliases=("moveaxis",))
def movedim(x: Tensor, source, destination) -> Tensor:
    """Dimensions ``source`` moved to positions ``destination`` (ints or sequences of one length); the
    others keep their order (PyTorch's ``movedim``, NumPy's ``moveaxis``). A new view, also when nothing moves."""
    return permute(x, _movedim_axes(x, source, destination))


def _movedim_or_self(x: Tensor, source, destination) -> Tensor:
    """``movedim`` for the library's own code: ``x`` itself when no dimension moves (see ``_reshape_or_self``)."""
    return _permute_or_self(x, _movedim_axes(x, source, destination))


def _movedim_axes(x: Tensor, source, destination) -> tuple:
    """The permutation that moves dimensions ``source`` to ``destination`` (checked)."""
    source = (source,) if isinstance(source, int) else tuple(source)
    destination = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(source) != len(destination):
        raise ValueError(f"movedim: {len(source)} source dim(s) but {len(destination)} destination(s)")
    src = [_check_dim(d, x.ndim, "movedim") for d in source]
    dst = [_check_dim(d, x.ndim, "movedim") for d in destination]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dims in source {source} or destination {destination}")
    rest = iter(d for d in range(x.ndim) if d not in src)
    placed = dict(zip(dst, src))
    return tuple(placed[i] if i in placed else next(rest) for i in range(x.ndim))


def _fused_multiply_add(a, b, c):
    """a * b + c rounded once, as an FMA instruction does, for float64 tensors (or numbers) without gradient:
    the product split exactly into p + e (Dekker's two-product) and the sums done error-free (Knuth's
    two-sum), so only the last addition rounds (correct except in rare double-rounding ties). Where a split
    overflows (|a| or |b| above ~1e300) the plain a * b + c stands."""
    plain = a * b + c
    p = a * b
    t = 134217729.0 * a  # 2**27 + 1: splits a float64 into two halves of 26 bits
    a_hi = t - (t - a)
    a_lo = a - a_hi
    t = 134217729.0 * b
    b_hi = t - (t - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    s = p + c
    back = s - p
    fused = s + (((p - (s - back)) + (c - back)) + e)
    return where(fused.isfinite() if isinstance(fused, Tensor) else np.isfinite(fused), fused, plain)


@public(spec=False)
def lerp(input: Tensor, end, weight) -> Tensor:  # noqa: A002 - PyTorch's names
    """input + weight * (end - input), with ``end`` and ``weight`` tensors or numbers, rounded as PyTorch's:
    from ``end`` as end - (end - input) * (1 - weight) where the weight is 0.5 or more (so weight 1 gives
    ``end`` exactly), with the multiply-add rounded once, as its fused one. In float32 that is the float64
    result rounded (a float32 product is exact in float64); in float64 an exact emulation of the fused
    multiply-add gives the forward value, while the gradient is the plain formula's."""
    diff = end - input  # rounded in the inputs' dtype, as PyTorch's
    wide = isinstance(diff, Tensor) and diff.dtype == np.float32
    if isinstance(weight, Tensor):
        one_minus = 1 - weight  # in the weight's dtype, as PyTorch's
        small = (weight.detach().abs() < 0.5)
    else:
        weight32 = np.float32(weight) if wide else weight  # PyTorch's scalar in the op's float32 arithmetic
        one_minus, small = float(1 - weight32), abs(weight) < 0.5
        weight = float(weight32)
    if wide:
        input_, end_, diff_ = (t.double() if isinstance(t, Tensor) else t for t in (input, end, diff))
        weight_, one_minus_ = (t.double() if isinstance(t, Tensor) else t for t in (weight, one_minus))
    else:
        input_, end_, diff_, weight_, one_minus_ = input, end, diff, weight, one_minus
    if isinstance(small, Tensor):
        with np.errstate(invalid="ignore"):  # inf - inf in the formula not taken
            result = where(small, input_ + weight_ * diff_, end_ - diff_ * one_minus_)
    else:
        result = input_ + weight_ * diff_ if small else end_ - diff_ * one_minus_
    if wide:
        return result.float()
    if isinstance(result, Tensor) and result.dtype == np.float64:
        with no_grad():
            fused = (where(small, _fused_multiply_add(weight_, diff_, input_),
                           _fused_multiply_add(-diff_, one_minus_, end_)) if isinstance(small, Tensor)
                     else _fused_multiply_add(weight_, diff_, input_) if small
                     else _fused_multiply_add(-diff_, one_minus_, end_))
            plain = result.detach()
            # within an ulp of each other, so the difference and the sum are exact (nothing to do at infinities)
            correction = where(plain.isfinite(), fused - plain, plain.new_zeros(()))
        result = result + correction
    return result


@public(spec=False, method=False)
def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-D tensors: ``indexing="ij"`` (PyTorch's default: the first tensor varies
    along the first dimension) or ``"xy"`` (the first two swapped, as NumPy's default). Expanded views."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if any(not isinstance(t, Tensor) or t.ndim > 1 for t in tensors):
        raise ShapeError("meshgrid: expected 0-D or 1-D tensors")
    flat = [reshape(t, (-1,)) for t in tensors]
    if indexing == "xy" and len(flat) >= 2:
        flat[0], flat[1] = flat[1], flat[0]
    shape = tuple(t.shape[0] for t in flat)
    grids = [_expand_or_self(reshape(t, tuple(-1 if d == i else 1 for d in range(len(flat)))), shape)
             for i, t in enumerate(flat)]
    if indexing == "xy" and len(grids) >= 2:  # back in the order of the arguments
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


@public(spec=False)
def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries at ``index`` (a 1-D integer tensor) along ``dim``; repeated indices add their gradients."""
    axis = _check_dim(dim, max(x.ndim, 1), "index_select")
    if not isinstance(index, Tensor) or index.ndim > 1 or index.dtype.kind not in "iu":
        raise TypeError(f"index_select: index must be a 0-D or 1-D integer tensor, got "
                        f"{getattr(index, 'shape', type(index).__name__)} {getattr(index, 'dtype', '')}")
    return getitem(x, (slice(None),) * axis + (index.reshape(-1),))


@public(spec=False)
def masked_select(x: Tensor, mask: Tensor) -> Tensor:
    """The elements where ``mask`` (bool, broadcast with ``x``) is true, as a 1-D tensor in row-major order."""
    if not isinstance(mask, Tensor) or mask.dtype.kind != "b":
        raise TypeError(f"masked_select: mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
    try:
        shape = tuple(np.broadcast_shapes(tuple(x.shape), tuple(mask.shape)))
    except ValueError:
        raise ShapeError(f"masked_select: mask of shape {mask.shape} and input of shape {x.shape} do not "
                         "broadcast") from None
    return getitem(_expand_or_self(x, shape), _expand_or_self(mask, shape))


def _diagonal_positions(rows: int, cols: int, diagonal: int, like: Tensor) -> tuple:
    from ..creation import arange

    start_row, start_col = max(-diagonal, 0), max(diagonal, 0)
    n = max(min(rows - start_row, cols - start_col), 0)
    return (arange(start_row, start_row + n, backend=like.backend),
            arange(start_col, start_col + n, backend=like.backend))


@public(spec=False)
def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """PyTorch's ``diag``: a 1-D tensor becomes a square matrix with it on diagonal ``diagonal`` (zeros
    elsewhere); a 2-D tensor gives its diagonal ``diagonal`` as a 1-D tensor."""
    if x.ndim == 1:
        from ..creation import zeros

        size = x.shape[0] + abs(diagonal)
        rows, cols = _diagonal_positions(size, size, diagonal, x)
        return index_put(zeros(size, size, dtype=x.dtype, backend=x.backend), x, (rows, cols))
    if x.ndim == 2:
        return getitem(x, _diagonal_positions(x.shape[0], x.shape[1], diagonal, x))
    raise ShapeError(f"diag: expected a 1-D or 2-D tensor, got shape {x.shape}")


@public(spec=False)
def trace(x: Tensor) -> Tensor:
    """The sum of a 2-D tensor's main diagonal."""
    if x.ndim != 2:
        raise ShapeError(f"trace: expected a 2-D tensor, got shape {x.shape}")
    return diag(x).sum()


@public(spec=False)
def repeat_interleave(x: Tensor, repeats=None, dim: int | None = None, *, output_size: int | None = None) -> Tensor:
    """Each element repeated ``repeats`` times along ``dim`` (flattened first without ``dim``); ``repeats`` is
    an int, or a 1-D integer tensor with one count per element along ``dim``. ``output_size``, PyTorch's hint,
    must be the length of the result along ``dim``. Without ``repeats``, ``x`` holds the counts and the result
    repeats their indices (``repeat_interleave(tensor([2, 3]))`` is [0, 0, 1, 1, 1]), as PyTorch's."""
    if repeats is None:
        if not isinstance(x, Tensor) or x.ndim > 1 or x.dtype.kind not in "iu":
            raise ValueError(f"repeat_interleave: without repeats, the input must be a 0-D or 1-D integer tensor of "
                             f"counts, got {getattr(x, 'shape', type(x).__name__)}")
        from ..creation import arange

        x, repeats = arange(x.numel(), backend=x.backend), x.reshape(-1)
    if dim is None:
        x, dim = reshape(x, (-1,)), 0
    axis = _check_dim(dim, max(x.ndim, 1), "repeat_interleave")
    if isinstance(repeats, Tensor):
        counts = repeats._backend.to_numpy(repeats.array)  # the output's size depends on them: on the host
        valid = counts.ndim <= 1 and counts.dtype.kind in "iu" and counts.size in (1, x.shape[axis])
        if not valid or (counts < 0).any():
            raise ValueError(f"repeat_interleave: repeats must be non-negative integers, one or one per element "
                             f"along dim {dim} (size {x.shape[axis]}), got shape {counts.shape}")
        positions = np.repeat(np.arange(x.shape[axis]), np.broadcast_to(counts.reshape(-1), (x.shape[axis],)))
        _check_output_size(output_size, len(positions))
        return index_select(x, axis, tensor(positions, backend=x.backend))
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 0:
        raise ValueError(f"repeat_interleave: repeats must be an int >= 0 or a tensor, got {repeats!r}")
    _check_output_size(output_size, x.shape[axis] * repeats)
    before, n, after = tuple(x.shape[:axis]), x.shape[axis], tuple(x.shape[axis + 1:])
    if repeats == 1:  # a copy, as PyTorch's
        return x.clone()
    spread = _expand_or_self(reshape(x, before + (n, 1) + after), before + (n, repeats) + after)
    return reshape(spread, before + (n * repeats,) + after)


def _check_output_size(output_size: int | None, size: int) -> None:
    if output_size is not None and output_size != size:  # PyTorch's error too
        raise RuntimeError(f"repeat_interleave: output_size is {output_size} but the repeats give {size} elements")


@public
def repeat(x: Tensor, *sizes) -> Tensor:
    """PyTorch's ``repeat`` (NumPy's ``tile``): the tensor tiled ``sizes[d]`` times along dimension d; extra
    leading sizes add dimensions. An expand of a view with unit axes, then a reshape."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if not all(isinstance(s, int) and s >= 0 for s in sizes):
        raise ValueError(f"repeat: sizes must be non-negative ints, got {sizes}")
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: {len(sizes)} sizes for a tensor of {x.ndim} dimensions (shape {x.shape}); "
                         "give at least one per dimension")
    shape = (1,) * (len(sizes) - x.ndim) + tuple(x.shape)
    interleaved = [n for s in shape for n in (1, s)]
    tiled = [n for r, s in zip(sizes, shape) for n in (r, s)]
    if all(r == 1 for r in sizes):  # a copy, as PyTorch's, not a view of x
        return _reshape_or_self(x, shape).clone()
    out = _expand_or_self(_reshape_or_self(x, interleaved), tiled)
    return _reshape_or_self(out, tuple(r * s for r, s in zip(sizes, shape)))


@public(spec=False)
def tile(x: Tensor, *dims) -> Tensor:
    """PyTorch's ``tile``: ``repeat`` where fewer ``dims`` than dimensions are padded with leading 1s."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return repeat(x, *((1,) * (x.ndim - len(dims)) + tuple(dims)))


@public(method=False)
def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation over one or two operands (``"ij->ji"``, ``"ii"`` is not supported): sums of
    dimensions, permutes, and for two operands one batched matmul (batch letters in both operands and the
    output, contracted letters in both but not the output). Explicit ``->`` or implicit output (the letters
    that occur once, sorted); no ``...``, no letter repeated within one operand."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    equation = equation.replace(" ", "")
    if "." in equation:
        raise NotImplementedError("einsum: '...' (ellipsis) is not supported; name every dimension")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands) or len(operands) not in (1, 2):
        raise ValueError(f"einsum: {equation!r} names {len(terms)} operand(s), got {len(operands)} (one or two "
                         "are supported)")
    for term, x in zip(terms, operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum: operands must be tensors, got {type(x).__name__}")
        if not term.isalpha() or len(set(term)) != len(term) or len(term) != x.ndim:
            raise ValueError(f"einsum: subscripts {term!r} do not fit an operand of shape {x.shape} (one distinct "
                             "letter per dimension; a repeated letter, a diagonal, is not supported)")
    if not arrow:
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(set(output)) != len(output) or not set(output) <= set("".join(terms)):
        raise ValueError(f"einsum: output subscripts {output!r} must be distinct letters of the inputs")
    sizes: dict[str, int] = {}
    for term, x in zip(terms, operands):
        for letter, n in zip(term, x.shape):
            if sizes.setdefault(letter, n) != n:
                raise ShapeError(f"einsum: dimension {letter!r} has sizes {sizes[letter]} and {n} in {equation!r}")
    keep = set(output) | (set(terms[1]) & set(terms[0]) if len(terms) == 2 else set())
    reduced = []
    for term, x in zip(terms, operands):  # sum the letters that no other operand and not the output need
        gone = [i for i, c in enumerate(term) if c not in keep]
        if gone:
            x = x.sum(tuple(gone))
            term = "".join(c for c in term if c in keep)
        reduced.append((term, x))
    if len(reduced) == 1:
        term, x = reduced[0]
        return permute(x, tuple(term.index(c) for c in output)) if term != output else x
    (ta, a), (tb, b) = reduced
    batch = [c for c in ta if c in tb and c in output]
    contract = [c for c in ta if c in tb and c not in output]
    left = [c for c in ta if c not in tb]
    right = [c for c in tb if c not in ta]

    def grouped(term, x, groups):
        order = [term.index(c) for group in groups for c in group]
        shape = tuple(math.prod(sizes[c] for c in group) for group in groups)
        return _reshape_or_self(_permute_or_self(x, order), shape)

    product = matmul(grouped(ta, a, (batch, left, contract)), grouped(tb, b, (batch, contract, right)))
    letters = batch + left + right
    product = _reshape_or_self(product, tuple(sizes[c] for c in letters))
    return permute(product, tuple(letters.index(c) for c in output)) if letters != list(output) else product
