"""Shape movement: reshape, permute, expand, indexing, concatenation, padding, backend transfer."""

from __future__ import annotations

import numpy as np

from .. import backends as _backends
from ..errors import ShapeError
from ..function import Function
from ..tensor import Tensor
from ._common import result_dtype
from ._registry import public
from .padding import BorderPad


class Reshape(Function):
    """Same data, new shape."""

    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        out = ctx.backend.reshape(x.array, shape)
        # Where the strides do not allow a view the array module copies: then the result is no view of x (PyTorch's
        # reshape copies there too), so writes to it are free of x's view rules.
        ctx.copied = not ctx.backend.xp.may_share_memory(out, x.array)
        return out

    @staticmethod
    def backward(ctx, g):
        return _reshape_or_self(g, ctx.in_shape), None


class Permute(Function):
    """Reorder the axes."""

    is_view = True

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return ctx.backend.transpose(x.array, axes)

    @staticmethod
    def backward(ctx, g):
        return _permute_or_self(g, tuple(int(i) for i in np.argsort(ctx.axes))), None


class Expand(Function):
    """Broadcast to a larger shape without copying."""

    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        if shape == x.shape:  # nothing to broadcast: a writable view, as PyTorch's (broadcast_to's is read-only)
            return ctx.backend.reshape(x.array, shape)
        return ctx.backend.broadcast_to(x.array, shape)

    @staticmethod
    def backward(ctx, g):
        return g, None  # the engine sums the gradient back to the input's shape


class BasicIndex(Function):
    """x[index] with ints, slices, None and Ellipsis: a view."""

    op_name = "getitem"
    is_view = True

    @staticmethod
    def forward(ctx, x, index):
        ctx.in_shape, ctx.index = x.shape, index
        be = ctx.backend
        out = be.getitem(x.array, index)
        if out.__class__ is not be.array_type:  # one element, as a NumPy scalar (a copy): a 0-d view instead
            out = be.getitem(x.array, (index if isinstance(index, tuple) else (index,)) + (Ellipsis,))
        return out

    @staticmethod
    def backward(ctx, g):
        return IndexScatter.apply(g, ctx.index, ctx.in_shape, False), None


class AdvancedIndex(Function):
    """x[index] with integer or boolean arrays: a copy; duplicate indices accumulate in backward."""

    op_name = "getitem"

    @staticmethod
    def forward(ctx, x, index):
        ctx.in_shape, ctx.index = x.shape, index
        return ctx.backend.getitem(x.array, index)

    @staticmethod
    def backward(ctx, g):
        return IndexScatter.apply(g, ctx.index, ctx.in_shape, True), None


class IndexScatter(Function):
    """The gradient of indexing: zeros of ``shape`` with ``g`` added at ``index``."""

    @staticmethod
    def forward(ctx, g, index, shape, advanced):
        ctx.index, ctx.advanced = index, advanced
        be = ctx.backend
        if advanced:
            return be.scatter_add(shape, index, g.array, g.dtype)
        out = be.zeros(shape, g.dtype)
        be.setitem(out, index, g.array)
        return out

    @staticmethod
    def backward(ctx, gg):
        op = AdvancedIndex if ctx.advanced else BasicIndex
        return op.apply(gg, ctx.index), None, None, None


class IndexPut(Function):
    """A copy of x with x[index] = value (the out-of-place half of ``x[index] = value``)."""

    op_name = "setitem"

    @staticmethod
    def forward(ctx, x, value, index):
        ctx.index = index
        out = ctx.backend.copy(x.array)
        ctx.backend.setitem(out, index, value.array if isinstance(value, Tensor) else value)
        return out

    @staticmethod
    def backward(ctx, g):
        gx = IndexPut.apply(g, 0.0, ctx.index) if ctx.needs_input_grad[0] else None
        gv = None
        if ctx.needs_input_grad[1]:
            gv = _index_op(ctx.index).apply(g, ctx.index)
        return gx, gv, None


class Gather(Function):
    """``x``'s values at ``index`` (an int64 tensor of ``x``'s rank) along ``dim``: PyTorch's ``gather``."""

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.in_shape, ctx.dim, ctx.index = x.shape, dim, index
        return ctx.backend.gather(x.array, index.array, dim)

    @staticmethod
    def backward(ctx, g):
        return ScatterAlong.apply(g, ctx.dim, ctx.index, ctx.in_shape), None, None


class ScatterAlong(Function):
    """Zeros of ``shape`` with ``src`` added at ``index`` along ``dim`` (duplicates accumulate): the adjoint of
    ``Gather``."""

    @staticmethod
    def forward(ctx, src, dim, index, shape):
        ctx.dim, ctx.index = dim, index
        return ctx.backend.scatter_add_along(shape, index.array, src.array, dim, src.dtype)

    @staticmethod
    def backward(ctx, g):
        return Gather.apply(g, ctx.dim, ctx.index), None, None, None


class Concatenate(Function):
    """Join tensors along an existing axis."""

    @staticmethod
    def forward(ctx, *tensors, axis):
        ctx.axis = axis
        ctx.sizes = [t.shape[axis] for t in tensors]
        return ctx.backend.concatenate([t.array for t in tensors], axis=axis)

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        lead = (slice(None),) * ctx.axis
        for size, needed in zip(ctx.sizes, ctx.needs_input_grad):
            grads.append(BasicIndex.apply(g, lead + (slice(start, start + size),)) if needed else None)
            start += size
        return tuple(grads)


class Pad(Function):
    """Constant padding; ``widths`` holds a (before, after) pair per axis."""

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.index = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return ctx.backend.pad(x.array, widths, value)

    @staticmethod
    def backward(ctx, g):
        return BasicIndex.apply(g, ctx.index), None, None


class ToBackend(Function):
    """Move to another backend; the gradient moves back."""

    @staticmethod
    def forward(ctx, x, target):
        ctx.source = x.backend
        ctx.output_backend = target
        return target.from_numpy(ctx.backend.to_numpy(x.array))

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.source), None


class BroadcastCopy(Function):
    """``src`` broadcast to the shape and dtype of ``dst`` (the out-of-place half of ``copy_``)."""

    @staticmethod
    def forward(ctx, dst, src):
        be = ctx.backend
        return be.astype(be.broadcast_to(src.array, dst.shape), dst.dtype)

    @staticmethod
    def backward(ctx, g):
        return None, g


class Clone(Function):
    """A copy that owns its memory."""

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.copy(x.array)

    @staticmethod
    def backward(ctx, g):
        return (g,)


# -- index normalisation ----------------------------------------------------------------------------
def _index_op(index):
    items = index if isinstance(index, tuple) else (index,)
    return BasicIndex if all(_is_basic(i) for i in items) else AdvancedIndex


def _is_basic(item) -> bool:
    return item is None or item is Ellipsis or isinstance(item, (int, slice, np.integer))


def _convert_index(index, x: Tensor):
    """Tensors and lists in an index become backend arrays; everything else passes through."""
    if isinstance(index, tuple):
        return tuple(_convert_item(i, x) for i in index)
    return _convert_item(index, x)


def _convert_item(item, x: Tensor):
    if _is_basic(item):
        return item
    if isinstance(item, Tensor):
        if item._backend is not x._backend:
            from ..errors import BackendMismatchError

            raise BackendMismatchError(
                f"getitem: the index is on backend {item.backend!r} but the tensor on {x.backend!r}"
            )
        array = item.array
    else:
        host = np.asarray(item)
        if host.size == 0 and host.dtype.kind == "f":
            host = host.astype(np.int64)  # [] is an empty index list (NumPy reads it as float64)
        if host.dtype.kind not in "iub":
            raise IndexError(f"getitem: indices must be integers, slices, None, ... or bool/int arrays, got {item!r}")
        array = x._backend.from_numpy(host)
    if array.dtype.kind not in "iub":
        raise IndexError(f"getitem: index arrays must be integer or bool, got {array.dtype}")
    return array


# -- public functions -------------------------------------------------------------------------------
@public(method_aliases=("view",))
def reshape(x: Tensor, *shape) -> Tensor:
    """Same data in a new shape; one dimension may be -1. A new view of ``x``, also when the shape is ``x``'s own
    (as in PyTorch)."""
    shape = _shape_arg(shape)
    size = x.array.size
    known = 1
    for n in shape:
        if n != -1:
            known *= n
    if shape.count(-1) > 1 or any(n < -1 for n in shape) or (
        -1 not in shape and known != size) or (-1 in shape and (known == 0 or size % known)):
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} ({size} elements) into {shape}")
    return Reshape.apply(x, shape)


@public
def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the dimensions from ``start_dim`` to ``end_dim`` into one; ``x`` itself when that is one dimension
    already (as in PyTorch), a view otherwise."""
    if x.ndim == 0:
        return x.reshape(1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    if start == end:
        return x
    merged = 1
    for n in x.shape[start:end + 1]:
        merged *= n
    return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])


@public
def permute(x: Tensor, *axes, dims=None) -> Tensor:
    """Reorder the dimensions: ``permute(x, 2, 0, 1)``, ``permute(x, (2, 0, 1))`` or PyTorch's ``dims=``."""
    if dims is not None:
        if axes:
            raise TypeError(f"permute: give the dimensions positionally or as dims=, not both (got {axes} and "
                            f"dims={dims})")
        axes = (tuple(dims),)
    axes = _shape_arg(axes)
    if (len(axes) != x.ndim or any(not -x.ndim <= a < x.ndim for a in axes)
            or sorted(a % x.ndim for a in axes) != list(range(x.ndim))):
        raise ShapeError(f"permute: {axes} is not a permutation of the {x.ndim} dimensions of shape {x.shape}")
    return Permute.apply(x, tuple(a % x.ndim for a in axes))  # a new view even when no axis moves, as PyTorch's


@public(aliases=("swapdims",))
def transpose(x: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two dimensions (PyTorch's ``transpose``); a 0-d tensor, like a 1-d one, has dimension 0 (or -1) to
    name, and swapping a dimension with itself gives a new view, as in PyTorch."""
    ndim = max(x.ndim, 1)
    if not (-ndim <= dim0 < ndim and -ndim <= dim1 < ndim):
        raise IndexError(f"transpose: dims {dim0}, {dim1} out of range for shape {x.shape}")
    axes = list(range(x.ndim))
    if x.ndim:
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute.apply(x, tuple(axes))


@public(spec=False)
def swapaxes(x: Tensor, axis0: int, axis1: int) -> Tensor:
    """``transpose`` under NumPy's argument names (PyTorch's ``swapaxes(input, axis0, axis1)``)."""
    return transpose(x, axis0, axis1)


@public
def squeeze(x: Tensor, dim=None) -> Tensor:
    """Drop dimensions of size 1 (all of them, or the ones named): a new view, also when none is dropped."""
    if dim is None:
        return x.reshape(tuple(n for n in x.shape if n != 1))
    # a 0-d tensor has dimension 0 (or -1) to name, as in PyTorch
    dims = {_check_dim(d, max(x.ndim, 1), "squeeze") for d in ((dim,) if isinstance(dim, int) else dim)}
    return x.reshape(tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


@public
def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim``."""
    ndim = x.ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: dim {dim} out of range for a result with {ndim} dimensions")
    dim %= ndim
    return x.reshape(x.shape[:dim] + (1,) + x.shape[dim:])


@public
def broadcast_to(x: Tensor, shape) -> Tensor:
    """Broadcast to ``shape`` as NumPy does: a view, read-only where it repeats elements (PyTorch refuses writes
    there too); a new, writable view when ``shape`` is ``x``'s own."""
    shape = tuple(shape)
    try:
        np.broadcast_shapes(x.shape, shape)
        if len(shape) < x.ndim or np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ShapeError(f"broadcast_to: shape {x.shape} cannot be broadcast to {shape}") from None
    return Expand.apply(x, shape)


@public
def expand(x: Tensor, *sizes) -> Tensor:
    """PyTorch's ``expand``: broadcast to ``sizes``, where -1 keeps a dimension."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    return broadcast_to(x, shape)


# -- the library's own movements that may change nothing ------------------------------------------------------
# The public functions above return a new view even when nothing moves, as PyTorch's do: the view has its own
# graph node, so hooks, requires_grad_, detach_ and in-place rules apply to it and not to x. Library code that
# only needs the values in a shape calls these instead where the shape may already be right: x itself then,
# without a node on the hot path.
def _reshape_or_self(x: Tensor, shape) -> Tensor:
    """``reshape(x, shape)``, or ``x`` itself when it has ``shape`` already (a tuple of sizes, no -1)."""
    return x if tuple(shape) == x.shape else reshape(x, tuple(shape))


def _permute_or_self(x: Tensor, axes) -> Tensor:
    """``permute(x, axes)``, or ``x`` itself when ``axes`` (non-negative) leave every dimension in place."""
    return x if tuple(axes) == tuple(range(x.ndim)) else permute(x, tuple(axes))


def _expand_or_self(x: Tensor, shape) -> Tensor:
    """``expand(x, shape)``, or ``x`` itself when it has ``shape`` already (a tuple of sizes)."""
    return x if tuple(shape) == x.shape else expand(x, tuple(shape))


@public(top_level=False, method=False)
def getitem(x: Tensor, index) -> Tensor:
    """x[index]: ints, slices (with steps), None, Ellipsis, integer or bool arrays and tensors."""
    index = _convert_index(index, x)
    return _index_op(index).apply(x, index)


@public(top_level=False, method=False)
def index_put(x: Tensor, value, index) -> Tensor:
    """A copy of ``x`` with ``x[index] = value``."""
    index = _convert_index(index, x)
    if isinstance(value, Tensor) and value.dtype != x.dtype:
        value = value.astype(x.dtype)
    elif not isinstance(value, (Tensor, int, float, bool)):
        from ..tensor import tensor

        value = tensor(value, dtype=x.dtype, backend=x.backend)
    return IndexPut.apply(x, value, index)


@public(method=False, aliases=("cat", "concat"))
def concatenate(tensors, axis: int = 0, *, dim=None) -> Tensor:
    """Join tensors along an existing axis (``cat``)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    axis = axis if dim is None else dim
    first = tensors[0]
    axis = _check_dim(axis, first.ndim, "concatenate")
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(
            a != b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if d != axis
        ):
            shapes = ", ".join(str(u.shape) for u in tensors)
            raise ShapeError(f"concatenate: shapes {shapes} differ outside axis {axis}")
    if len({t.dtype for t in tensors}) > 1:
        common = result_dtype([t.dtype for t in tensors])
        tensors = [t.astype(common) for t in tensors]
    return Concatenate.apply(*tensors, axis=axis)




@public(method=False)
def stack(tensors, axis: int = 0, *, dim=None) -> Tensor:
    """Join tensors of one shape along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    axis = axis if dim is None else dim
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"stack: all tensors must have one shape, got {sorted(shapes)}")
    return concatenate([unsqueeze(t, axis) for t in tensors], axis)


@public(aliases=("unsafe_split",))
def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """PyTorch's ``split``: chunks of one size (the last may be smaller), or the listed sizes."""
    dim = _check_dim(dim, x.ndim, "split")
    length = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, length - s) for s in range(0, length, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != length:
            raise ShapeError(f"split: sizes {sizes} do not add up to {length}, the length of dimension {dim}")
    lead = (slice(None),) * dim
    out, start = [], 0
    for size in sizes:
        out.append(getitem(x, lead + (slice(start, start + size),)))
        start += size
    return tuple(out)


@public(spec=False, aliases=("unsafe_chunk",))
def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of (nearly) equal size."""
    length = x.shape[dim]
    return split(x, -(-length // chunks), dim)


@public(method=False)
def pad(x: Tensor, pad: tuple, mode: str = "constant", value: float | None = None) -> Tensor:
    """``F.pad``: widths in PyTorch's order (last_before, last_after, prev_before, ...), ``mode`` one of
    "constant" (fill ``value``, default 0), "reflect", "replicate" or "circular"."""
    pad = tuple(int(p) for p in pad)
    if mode != "constant":
        if not isinstance(mode, str) or mode not in _PAD_INDICES:
            raise (ValueError if isinstance(mode, str) else TypeError)(
                f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}; pass the fill "
                "value as value=..., PyTorch's F.pad(input, pad, mode, value)"
            )
        return _pad_by_index(x, pad, mode, value)
    value = 0.0 if value is None else value
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: needs pairs for at most {x.ndim} dimensions, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(p < 0 for p in pad):  # negative widths crop, as PyTorch's constant padding
        for d, (before, after) in enumerate(widths):
            if x.shape[d] + before + after < 0:
                raise ShapeError(f"pad: the input size {x.shape[d]} of dimension {d}, plus negative padding {before} "
                                 f"and {after}, gives a negative output size")
        x = getitem(x, tuple(slice(max(-before, 0), n - max(-after, 0))
                             for n, (before, after) in zip(x.shape, widths)))
        widths = [(max(before, 0), max(after, 0)) for before, after in widths]
    return Pad.apply(x, tuple(widths), value)


class TakeAlong(Function):
    """``x``'s entries at ``index`` (a 1-D NumPy integer array, repeats allowed) along ``axis``: the resampling
    gathers of ``pad``'s modes and ``F.interpolate``. The gradient adds up each source entry's copies as one
    gather of the gradient per copy (sources with fewer copies read an appended zero), instead of a scatter-add
    (NumPy's ``add.at``, several times slower); that is made of differentiable ops, so every order follows."""

    @staticmethod
    def forward(ctx, x, axis, index):
        ctx.axis, ctx.index, ctx.size = axis, index, x.shape[axis]
        be = ctx.backend
        return be.take(x.array, be.from_numpy(index), axis)

    @staticmethod
    def backward(ctx, g):
        axis, index, n = ctx.axis, ctx.index, ctx.size
        be = ctx.backend
        counts = np.bincount(index, minlength=n)
        order = np.argsort(index, kind="stable")  # the copies of each source in output order
        copy = np.arange(len(index)) - np.repeat(np.cumsum(counts) - counts, counts)
        slots = np.full((n, max(int(counts.max()), 1)), len(index), np.int64)  # unused slots read a zero
        slots[index[order], copy] = order
        shape = tuple(g.shape)
        zero = Tensor(be.zeros(shape[:axis] + (1,) + shape[axis + 1:], g.dtype), be)
        padded = concatenate([g, zero], axis)
        total = TakeAlong.apply(padded, axis, slots[:, 0])
        for copy in range(1, slots.shape[1]):  # a few full-size adds: faster than a sum over a short middle axis
            total = total + TakeAlong.apply(padded, axis, slots[:, copy])
        return total, None, None


def _reflect(j: np.ndarray, n: int) -> np.ndarray:
    j = np.abs(j)
    return np.where(j >= n, 2 * (n - 1) - j, j)


# Which input position each output position of a padded axis reads: j runs over [-before, n + after).
_PAD_INDICES = {
    "reflect": _reflect,
    "replicate": lambda j, n: np.clip(j, 0, n - 1),
    "circular": lambda j, n: j % n,
}


def _pad_by_index(x: Tensor, pad: tuple, mode: str, value) -> Tensor:
    """Reflect, replicate or circular padding: non-negative widths by slices (``ops.padding.BorderPad``), negative
    ones (crops, circular wraps of what is left) by a gather per axis; the gradients add the copies back (to any
    order). PyTorch's rules: 1, 2 or 3 trailing axes of an input with one or two more; negative
    widths crop."""
    k = len(pad) // 2
    if value is not None:
        raise ValueError(f"pad: mode {mode!r} takes no fill value, got value={value!r}")
    if len(pad) % 2 or k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise NotImplementedError(f"pad: mode {mode!r} pads the last 1, 2 or 3 dimensions of an input with one or "
                                  f"two more (batch, channels); got {len(pad)} widths for an input of shape {x.shape}")
    out, widths = x, [(0, 0)] * x.ndim
    for i in range(k):
        axis, (before, after) = x.ndim - 1 - i, pad[2 * i:2 * i + 2]
        n = x.shape[axis]
        # circular crops first (negative widths) and wraps around what is left, as PyTorch
        lo, hi = (max(-before, 0), max(-after, 0)) if mode == "circular" else (0, 0)
        m = n - lo - hi
        too_wide = (mode == "reflect" and max(before, after) >= n) or (mode == "circular" and max(before, after) > n)
        if too_wide or n + before + after < 1 or m < 1:
            limit = "less than" if mode == "reflect" else "at most"
            raise ValueError(f"pad: mode {mode!r} needs widths {limit} the size of the dimension they pad (and a "
                             f"non-empty result), got ({before}, {after}) for dimension {axis} of shape {x.shape}")
        if before >= 0 and after >= 0:  # padded below, all such axes at once
            widths[axis] = (before, after)
            continue
        index = lo + _PAD_INDICES[mode](np.arange(-before - lo, m + after + hi), m)
        out = TakeAlong.apply(out, axis, index)  # the axes are independent: crops first, then the rest
    if any(lo or hi for lo, hi in widths):
        return BorderPad.apply(out, tuple(widths), mode)
    return out if out is not x else x.clone()  # zero widths: still a copy, as PyTorch's


@public(top_level=False, method=False)
def to_backend(x: Tensor, name: str) -> Tensor:
    """``x`` on backend ``name`` (differentiable); itself when already there."""
    target = _backends.load(name)
    if target is x._backend:
        return x
    return ToBackend.apply(x, target)


@public(spec=False, top_level=False, method=False)
def broadcast_copy(dst: Tensor, src: Tensor) -> Tensor:
    """``src`` broadcast to ``dst``'s shape and dtype (the out-of-place half of ``copy_``)."""
    return BroadcastCopy.apply(dst, src)


@public
def clone(x: Tensor) -> Tensor:
    """A copy that owns its memory (differentiable)."""
    return Clone.apply(x)


@public(spec=False, top_level=False)
def contiguous(x: Tensor) -> Tensor:
    """``x`` itself if C-contiguous, else a contiguous copy."""
    flags = getattr(x.array, "flags", None)
    if flags is not None and flags.c_contiguous:
        return x
    return Clone.apply(x)


@public
def gather(x: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """PyTorch's ``gather``: ``out[i][j][k] = x[index[i][j][k]][j][k]`` for ``dim=0`` (and so on).

    ``index`` is an integer tensor of ``x``'s rank, at most ``x``'s size in every other dimension; the output
    has its shape. The gradient adds back into the gathered positions (repeated indices accumulate).
    ``sparse_grad=True`` is refused: minigrad has no sparse tensors.
    """
    if sparse_grad:
        raise NotImplementedError("gather: sparse_grad=True asks for a sparse gradient, and minigrad has no sparse "
                                  "tensors; leave it False (the gradient is dense)")
    dim = _check_index_arg("gather", x, dim, index)
    if x.ndim == 0:  # a 0-d tensor gathers along its one implicit dimension
        return Gather.apply(x.reshape(1), 0, index.reshape(1)).reshape(())
    return Gather.apply(x, dim, index)


@public
def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """PyTorch's ``scatter_add`` (out of place): ``x`` plus ``src``'s values added at ``index`` along ``dim``
    (for ``dim=0``: ``out[index[i][j]][j] += src[i][j]``); repeated indices accumulate."""
    dim = _check_index_arg("scatter_add", x, dim, index)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    src = _src_block("scatter_add", x, index, src)
    if x.ndim == 0:
        return x + ScatterAlong.apply(src.reshape(1), 0, index.reshape(1), (1,)).reshape(())
    return x + ScatterAlong.apply(src, dim, index, x.shape)


@public
def scatter(x: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce: str | None = None) -> Tensor:
    """PyTorch's ``scatter`` (out of place): a copy of ``x`` with ``src``'s values (or the number ``value``)
    written at ``index`` along ``dim`` (for ``dim=0``: ``out[index[i][j]][j] = src[i][j]``).

    Gradients are PyTorch's: ``x`` gets the upstream gradient with the written positions zeroed, ``src`` the
    upstream gradient gathered at ``index``. Where ``index`` repeats a position, the value written is one of
    them (PyTorch leaves the choice unspecified; NumPy and Numba keep the last in row-major order), and every
    ``src`` element aimed at it still gets that position's gradient, as in PyTorch. ``reduce=`` is refused: use
    ``scatter_add`` or ``scatter_reduce``.
    """
    if reduce is not None:
        raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported (PyTorch deprecates it and it has "
                                  "no gradient there); use scatter_add or scatter_reduce")
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor or a number) and value=")
    dim = _check_index_arg("scatter", x, dim, index)
    source = value if src is None else src
    if isinstance(source, Tensor):
        source = _src_block("scatter", x, index, source)
    elif isinstance(source, (bool, int, float, np.number)):
        source = source.item() if isinstance(source, np.number) else source
    else:
        raise TypeError(f"scatter: src must be a tensor or a number, got {type(source).__name__}")
    if x.ndim == 0:
        flat = source.reshape(1) if isinstance(source, Tensor) else source
        return scatter(x.reshape(1), 0, index.reshape(1), flat).reshape(())
    if index.numel() == 0:
        return x.clone()
    from ..creation import arange

    # The positions written, as one advanced index: index along dim, the element's own position elsewhere.
    positions = tuple(index if d == dim else
                      arange(n, backend=x.backend).reshape([n if e == d else 1 for e in range(index.ndim)])
                      for d, n in enumerate(index.shape))
    return index_put(x, source, positions)


def _src_block(op: str, x: Tensor, index: Tensor, src: Tensor) -> Tensor:
    """The scatter ops' ``src``: ``x``'s dtype, at least ``index``'s shape; only its leading block of ``index``'s
    shape is used, as in PyTorch."""
    if src.dtype != x.dtype:
        raise TypeError(f"{op}: src is {src.dtype.name} but the tensor is {x.dtype.name}; cast one")
    if src.ndim != index.ndim or any(s < n for s, n in zip(src.shape, index.shape)):
        raise ShapeError(f"{op}: src of shape {src.shape} must be at least index's shape {index.shape}")
    if src.shape != index.shape:
        src = getitem(src, tuple(slice(n) for n in index.shape))
    return src


def _check_index_arg(op: str, x: Tensor, dim: int, index) -> int:
    """``dim`` normalised, after checking ``index``'s type, rank, shape and (host-side) range."""
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got "
                        f"{index.dtype.name if isinstance(index, Tensor) else type(index).__name__}")
    ndim = max(x.ndim, 1)
    if index.ndim != x.ndim:
        raise ShapeError(f"{op}: index has {index.ndim} dimension(s) but the tensor {x.ndim} (shape {x.shape}); "
                         "they must match")
    dim = _check_dim(dim, ndim, op)
    if x.ndim and any(n > m for i, (n, m) in enumerate(zip(index.shape, x.shape)) if i != dim):
        raise ShapeError(f"{op}: index of shape {index.shape} is larger than the tensor's shape {x.shape} "
                         f"outside dim {dim}")
    if index.numel():
        values = index.numpy()
        size = x.shape[dim] if x.ndim else 1
        if values.min() < 0 or values.max() >= size:
            raise IndexError(f"{op}: index values must lie in [0, {size}) along dim {dim}, got "
                             f"[{values.min()}, {values.max()}]")
    return dim


def _check_dim(dim: int, ndim: int, op: str) -> int:
    """``dim`` as a non-negative axis of a tensor with ``ndim`` dimensions, or an IndexError naming ``op``."""
    if not -ndim <= dim < ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimension(s)")
    return dim % ndim


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(int(n) for n in shape)
    except TypeError:
        raise TypeError(f"shape must be integers, got {shape!r}") from None
