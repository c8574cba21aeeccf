"""PyTorch's shape queries and indexing functions that ported code calls: ``diagonal``, ``select``, ``index_add``,
``index_put``, ``take``, ``tensor_split``, ``rot90``, the ``*_scatter`` family, ``unique_consecutive``, ...

Except ``diagonal`` (a view op of its own), all are composites of ``getitem``, ``index_put``, ``gather``,
``scatter_add`` and the movement ops, so their gradients (to any order) are those ops' gradients. Positions are
computed on the host from shapes (and, where the values decide them, from the values, outside the graph). Views
where PyTorch has views (``diagonal``, ``select``, ``unflatten``, the splits), copies where it copies.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..function import Function
from ..tensor import Tensor, tensor
from ._registry import METHODS, public
from .arithmetic import floor_divide, ne, remainder
from .composites import _movedim_or_self, diag, flip, unbind
from .movement import (
    IndexScatter,
    _check_dim,
    _convert_index,
    _expand_or_self,
    _reshape_or_self,
    _shape_arg,
    concatenate,
    gather,
    getitem,
    index_put,
    reshape,
    scatter_add,
    split,
    transpose,
)
from .reduction import sum_to
from .sorting import nonzero


def _check_tensor(op: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")


def _host_index(op: str, index, length: int | None = None, *, ndim: int | None = 1) -> np.ndarray:
    """An integer index (tensor, list or int) as a host int64 array, checked against ``length`` (negative
    entries count from the end where PyTorch allows them: callers pass ``length`` to allow them)."""
    values = index.numpy() if isinstance(index, Tensor) else np.asarray(index)
    if values.dtype.kind not in "iu" and not (values.size == 0 and values.dtype.kind == "f"):
        raise TypeError(f"{op}: index must be an integer tensor, got {values.dtype}")
    if ndim is not None and values.ndim > ndim:
        raise ShapeError(f"{op}: index must have at most {ndim} dimension(s), got shape {values.shape}")
    values = values.astype(np.int64)
    if length is not None and values.size and (values.min() < -length or values.max() >= length):
        raise IndexError(f"{op}: index values [{values.min()}, {values.max()}] are out of range for a dimension "
                         f"of size {length}")
    return values % length if length else values


def _on(x: Tensor, values: np.ndarray) -> Tensor:
    return tensor(values, backend=x.backend)


# -- metadata -------------------------------------------------------------------------------------------------
@public(spec=False)
def is_floating_point(input: Tensor) -> bool:  # noqa: A002 - PyTorch's names
    """Whether the dtype is a floating-point one."""
    _check_tensor("is_floating_point", input)
    return input.dtype.kind == "f"


@public(spec=False)
def is_complex(input: Tensor) -> bool:  # noqa: A002
    """Always False: minigrad has no complex dtypes."""
    _check_tensor("is_complex", input)
    return False


@public(spec=False)
def is_signed(input: Tensor) -> bool:  # noqa: A002
    """Whether the dtype is signed (floating or signed integer; not bool or uint8)."""
    _check_tensor("is_signed", input)
    return input.dtype.kind in "fi"


@public(spec=False)
def is_same_size(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """Whether the two shapes are equal."""
    _check_tensor("is_same_size", other)
    return tuple(input.shape) == tuple(other.shape)


@public(spec=False)
def is_nonzero(input: Tensor) -> bool:  # noqa: A002
    """The truth value of a one-element tensor (PyTorch's errors for none or several elements)."""
    _check_tensor("is_nonzero", input)
    if input.numel() == 0:
        raise RuntimeError("is_nonzero: Boolean value of Tensor with no values is ambiguous")
    if input.numel() > 1:
        raise RuntimeError(f"is_nonzero: Boolean value of Tensor with more than one value is ambiguous "
                           f"(shape {input.shape})")
    return bool(input.item())


@public(spec=False)
def get_device(input: Tensor) -> int:  # noqa: A002
    """-1 for a tensor in host memory, else its CUDA device's index."""
    _check_tensor("get_device", input)
    device = input.device
    return -1 if device.type == "cpu" else int(device.index or 0)


# -- views and movement ---------------------------------------------------------------------------------------
@public(top_level=False)
def reshape_as(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """``input`` reshaped to ``other``'s shape."""
    return reshape(input, tuple(other.shape))


@public
def unflatten(input: Tensor, dim: int, sizes) -> Tensor:  # noqa: A002
    """Dimension ``dim`` expanded into ``sizes`` (one of them may be -1)."""
    axis = _check_dim(dim, input.ndim, "unflatten")
    sizes = _shape_arg((sizes,))
    if not sizes:
        raise ValueError("unflatten: sizes must be non-empty")
    n = input.shape[axis]
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (-1 in sizes and (known == 0 or n % known)):
        raise ShapeError(f"unflatten: sizes {sizes} do not multiply to {n}, the size of dimension {dim} "
                         f"(shape {input.shape})")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return reshape(input, tuple(input.shape[:axis]) + sizes + tuple(input.shape[axis + 1:]))


@public
def ravel(input: Tensor) -> Tensor:  # noqa: A002
    """The elements as a 1-D tensor, in row-major order."""
    return reshape(input, (-1,))


@public
def select(input: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    """The slice at ``index`` along ``dim``, without that dimension (``x.select(1, 2)`` is ``x[:, 2]``)."""
    axis = _check_dim(dim, input.ndim, "select")
    n = input.shape[axis]
    if not -n <= index < n:
        raise IndexError(f"select: index {index} is out of range for dimension {dim} of size {n}")
    return getitem(input, (slice(None),) * axis + (int(index) % n,))


def _diagonal_index(rows: int, cols: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    start = np.arange(length)
    return start - min(offset, 0), start + max(offset, 0)


def _diagonal_dims(op: str, ndim: int, dim1: int, dim2: int) -> tuple[int, int]:
    d1, d2 = _check_dim(dim1, ndim, op), _check_dim(dim2, ndim, op)
    if d1 == d2:
        raise ValueError(f"{op}: dim1 and dim2 name the same dimension ({dim1}, {dim2})")
    return d1, d2


class Diagonal(Function):
    """A diagonal of the planes over two dimensions, as a view (the array's own ``diagonal``), so that writes
    into it outside autograd (``x.diagonal().add_(eps)``) reach ``x``, as in PyTorch."""

    is_view = True

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        ctx.in_shape, ctx.where = x.shape, (offset, dim1, dim2)
        view = x.array.diagonal(offset, dim1, dim2)
        flags = getattr(view, "flags", None)
        if flags is not None and not flags.writeable and getattr(x.array, "flags", flags).writeable:
            flags.writeable = True  # NumPy hands out its diagonal read-only (for a deprecation); PyTorch's is not
        return view

    @staticmethod
    def backward(ctx, g):
        return diagonal_scatter(g.new_zeros(ctx.in_shape), g, *ctx.where), None, None, None


@public
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The diagonal ``offset`` of the planes over ``dim1`` and ``dim2``: those dimensions removed, the diagonal
    appended last (PyTorch's ``diagonal``), a view of ``input``."""
    _check_tensor("diagonal", input)
    d1, d2 = _diagonal_dims("diagonal", input.ndim, dim1, dim2)
    return Diagonal.apply(input, int(offset), d1, d2)


@public
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """Planes over ``dim1`` and ``dim2`` (of the output) holding the last dimension of ``input`` on their
    diagonal ``offset``, zeros elsewhere."""
    _check_tensor("diag_embed", input)
    d1, d2 = _diagonal_dims("diag_embed", input.ndim + 1, dim1, dim2)
    n = (input.shape[-1] if input.ndim else 1) + abs(offset)
    values = input if input.ndim else reshape(input, (1,))
    rows, cols = _diagonal_index(n, n, offset)
    out = index_put(input.new_zeros(tuple(values.shape[:-1]) + (n, n)), values,
                    (Ellipsis, _on(input, rows), _on(input, cols)))
    return _movedim_or_self(out, (-2, -1), (d1, d2))


@public
def diagflat(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002
    """A square matrix with the flattened ``input`` on its diagonal ``offset``."""
    _check_tensor("diagflat", input)
    return diag(reshape(input, (-1,)), offset)


def fill_diagonal_mask(shape: tuple, wrap: bool) -> np.ndarray:
    """The positions ``fill_diagonal_`` writes (NumPy's and PyTorch's rule, ``wrap`` for tall matrices)."""
    if len(shape) < 2:
        raise ShapeError(f"fill_diagonal_: the tensor must have at least 2 dimensions, got shape {shape}")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise ShapeError(f"fill_diagonal_: all dimensions of a tensor with more than 2 must be equal, got {shape}")
    size = math.prod(shape)
    step = shape[1] + 1 if len(shape) == 2 else 1 + int(np.cumprod(shape[:-1]).sum())
    end = size if wrap or len(shape) > 2 else min(size, shape[1] * shape[1])
    mask = np.zeros(size, bool)
    mask[:end:step] = True
    return mask.reshape(shape)


# -- indexed writes -------------------------------------------------------------------------------------------
def _dim_index(op: str, x: Tensor, dim: int, index) -> tuple[int, np.ndarray]:
    axis = _check_dim(dim, max(x.ndim, 1), op)
    if isinstance(index, Tensor) and index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got {index.dtype.name}")
    return axis, _host_index(op, index, x.shape[axis] if x.ndim else 1)


def _check_source(op: str, x: Tensor, axis: int, count: int, source: Tensor) -> None:
    _check_tensor(op, source)
    if x.ndim == 0:
        if not source.numel() == count <= 1:
            raise ShapeError(f"{op}: a 0-d tensor takes an index of at most one element and a source of as many, got "
                             f"{count} index value(s) and a source of shape {source.shape}")
    elif tuple(source.shape) != (expected := tuple(x.shape[:axis]) + (count,) + tuple(x.shape[axis + 1:])):
        raise ShapeError(f"{op}: source of shape {source.shape} must have shape {expected} (the tensor's shape "
                         f"{x.shape} with {count} along dim {axis}, the index's length)")
    if source.dtype != x.dtype:
        raise TypeError(f"{op}: source is {source.dtype.name} but the tensor is {x.dtype.name}; cast one")


@public
def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``alpha * source`` added at ``index`` (1-D) along ``dim``; repeated indices
    accumulate."""
    _check_tensor("index_add", input)
    axis, idx = _dim_index("index_add", input, dim, index)
    _check_source("index_add", input, axis, idx.size, source)
    if input.ndim == 0:
        return input + (source * alpha).sum() if idx.size else input.clone()
    lines = np.broadcast_to(idx.reshape([-1 if d == axis else 1 for d in range(input.ndim)]), source.shape)
    return scatter_add(input, axis, _on(input, np.ascontiguousarray(lines)), source if alpha == 1 else source * alpha)


@public
def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``source``'s slices written at ``index`` (1-D) along ``dim``."""
    _check_tensor("index_copy", input)
    axis, idx = _dim_index("index_copy", input, dim, index)
    _check_source("index_copy", input, axis, idx.size, source)
    if input.ndim == 0:
        return reshape(source, ()).clone() if idx.size else input.clone()
    return index_put(input, source, (slice(None),) * axis + (_on(input, idx),))


@public
def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``value`` (a number or a 0-d tensor) at ``index`` along ``dim``; a tensor value
    gets the gradient of the positions filled (each once, as PyTorch)."""
    _check_tensor("index_fill", input)
    axis, idx = _dim_index("index_fill", input, dim, index)
    if isinstance(value, Tensor):
        if value.ndim:
            raise ShapeError(f"index_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        value = value.astype(input.dtype)
    if input.ndim == 0:
        return index_put(input, value, ()) if idx.size else input.clone()
    return index_put(input, value, (slice(None),) * axis + (_on(input, np.unique(idx)),))


def _index_put_values(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:  # noqa: A002
    """PyTorch's ``index_put``: a copy of ``input`` with ``values`` written (or, with ``accumulate``, added:
    repeated positions add up) at ``indices``, a tuple of integer or bool tensors (``input[indices]``)."""
    _check_tensor("index_put", input)
    if not isinstance(indices, (tuple, list)) or not all(isinstance(i, Tensor) or i is None for i in indices):
        raise TypeError(f"index_put: indices must be a tuple of tensors, got {type(indices).__name__}")
    if len(indices) > max(input.ndim, 1):
        raise IndexError(f"index_put: {len(indices)} indices for a tensor of shape {input.shape}")
    index = _convert_index(tuple(slice(None) if i is None else i for i in indices), input)
    values = values.astype(input.dtype) if isinstance(values, Tensor) and values.dtype != input.dtype else values
    if not accumulate:
        return index_put(input, values, index)
    target = tuple(input._backend.getitem(input.array, index).shape)
    if not isinstance(values, Tensor):
        values = tensor(values, dtype=input.dtype, backend=input.backend)
    try:
        values = _expand_or_self(values, target)
    except (ShapeError, ValueError) as exc:
        raise ShapeError(f"index_put: values of shape {values.shape} do not broadcast to {target}, the shape "
                         f"indexed") from exc
    return input + IndexScatter.apply(values, index, tuple(input.shape), True)


METHODS["index_put"] = _index_put_values  # not PUBLIC["index_put"]: that is ``x[index] = value``'s op
index_put_values = _index_put_values


def index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:  # noqa: A002
    """``input.index_put_(indices, values, accumulate)``: PyTorch's function spelling."""
    return input.index_put_(indices, values, accumulate)


@public
def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``source``'s first elements (row-major) written where ``mask`` (broadcast to
    ``input``'s shape) holds, in row-major order."""
    _check_tensor("masked_scatter", input)
    if not isinstance(mask, Tensor) or mask.dtype.kind != "b":
        raise TypeError("masked_scatter: mask must be a bool tensor")
    _check_tensor("masked_scatter", source)
    if source.dtype != input.dtype:
        raise TypeError(f"masked_scatter: source is {source.dtype.name} but the tensor is {input.dtype.name}")
    try:
        where_set = np.broadcast_to(mask.numpy(), input.shape)
    except ValueError:
        raise ShapeError(f"masked_scatter: mask of shape {mask.shape} does not broadcast to {input.shape}") from None
    count = int(where_set.sum())
    if count > source.numel():
        raise ShapeError(f"masked_scatter: the mask selects {count} elements but source has {source.numel()}")
    if input.ndim == 0:  # a 0-d bool index does not write through NumPy's setitem: one element, flattened
        return reshape(masked_scatter(reshape(input, (1,)), reshape(mask, (1,)), source), ())
    return index_put(input, getitem(reshape(source, (-1,)), slice(0, count)),
                     _on(input, np.ascontiguousarray(where_set)))


@public
def take(input: Tensor, index: Tensor) -> Tensor:  # noqa: A002
    """The elements of the flattened ``input`` at ``index`` (negative counts from the end), in ``index``'s shape."""
    _check_tensor("take", input)
    if not isinstance(index, Tensor):
        raise TypeError(f"take: index must be a tensor, got {type(index).__name__}")
    idx = _host_index("take", index, input.numel(), ndim=None)
    return getitem(reshape(input, (-1,)), _on(input, idx))


@public
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """``gather`` with ``input`` and ``indices`` broadcast against each other outside ``dim``; without
    ``dim``, ``take`` on the flattened tensors."""
    _check_tensor("take_along_dim", input)
    if not isinstance(indices, Tensor) or indices.dtype.kind not in "iu":
        raise TypeError("take_along_dim: indices must be an integer tensor")
    if dim is None:
        return getitem(reshape(input, (-1,)), reshape(indices, (-1,)))
    if input.ndim != indices.ndim:
        raise ShapeError(f"take_along_dim: input and indices must have the same number of dimensions, got "
                         f"shapes {input.shape} and {indices.shape}")
    axis = _check_dim(dim, input.ndim, "take_along_dim")
    try:
        common = np.broadcast_shapes(*[tuple(1 if d == axis else n for d, n in enumerate(s))
                                       for s in (input.shape, indices.shape)])
    except ValueError:
        raise ShapeError(f"take_along_dim: shapes {input.shape} and {indices.shape} do not broadcast outside dim "
                         f"{dim}") from None
    x = _expand_or_self(input, common[:axis] + (input.shape[axis],) + common[axis + 1:])
    i = _expand_or_self(indices, common[:axis] + (indices.shape[axis],) + common[axis + 1:])
    return gather(x, axis, i)


@public
def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``source``'s elements written (or added, with ``accumulate``) at the flat
    positions ``index`` (negative counts from the end); ``index`` and ``source`` have one number of elements."""
    _check_tensor("put", input)
    _check_tensor("put", source)
    idx = _host_index("put", index, input.numel(), ndim=None).reshape(-1)
    if idx.size != source.numel():
        raise ShapeError(f"put: index has {idx.size} elements but source {source.numel()}; they must match")
    if source.dtype != input.dtype:
        raise TypeError(f"put: source is {source.dtype.name} but the tensor is {input.dtype.name}")
    flat = _index_put_values(reshape(input, (-1,)), (_on(input, idx),), reshape(source, (-1,)), accumulate)
    return _reshape_or_self(flat, input.shape)


# -- splitting --------------------------------------------------------------------------------------------
def _slices(x: Tensor, axis: int, bounds: list[int]) -> tuple:
    n = x.shape[axis]
    edges = [0] + [min(max(b + n if b < 0 else b, 0), n) for b in bounds] + [n]
    lead = (slice(None),) * axis
    return tuple(getitem(x, lead + (slice(a, max(a, b)),)) for a, b in zip(edges, edges[1:]))


@public
def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:  # noqa: A002
    """Pieces along ``dim``: ``sections`` (an int) of sizes differing by at most one (the larger first), or cut
    at the listed ``indices``."""
    _check_tensor("tensor_split", input)
    axis = _check_dim(dim, input.ndim, "tensor_split")
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec.dtype.kind not in "iu" or spec.ndim > 1:
            raise TypeError("tensor_split: a tensor indices_or_sections must be a 0-d or 1-D integer tensor")
        spec = int(spec.item()) if spec.ndim == 0 else [int(v) for v in spec.tolist()]
    n = input.shape[axis]
    if isinstance(spec, (int, np.integer)):
        k = int(spec)
        if k <= 0:
            raise ValueError(f"tensor_split: number of sections must be positive, got {k}")
        small, extra = divmod(n, k)
        bounds = list(np.cumsum([small + 1] * extra + [small] * (k - extra))[:-1])
        return _slices(input, axis, [int(b) for b in bounds])
    return _slices(input, axis, [int(b) for b in spec])


def _directional_split(op: str, x: Tensor, sections, axis: int, min_dims: int) -> tuple:
    _check_tensor(op, x)
    if x.ndim < min_dims:
        raise ShapeError(f"{op}: needs a tensor of at least {min_dims} dimension(s), got shape {x.shape}")
    if isinstance(sections, (int, np.integer)):
        if sections <= 0 or x.shape[axis] % sections:
            raise ValueError(f"{op}: {sections} sections do not divide dimension {axis} of size {x.shape[axis]} "
                             f"evenly")
    return tensor_split(x, sections, axis)


@public
def hsplit(input: Tensor, indices_or_sections) -> tuple:  # noqa: A002
    """``tensor_split`` along dim 1 (dim 0 for a 1-D tensor); an int must divide that dimension."""
    return _directional_split("hsplit", input, indices_or_sections, 0 if input.ndim == 1 else 1, 1)


@public
def vsplit(input: Tensor, indices_or_sections) -> tuple:  # noqa: A002
    """``tensor_split`` along dim 0 of a tensor of at least 2 dimensions; an int must divide it."""
    return _directional_split("vsplit", input, indices_or_sections, 0, 2)


@public
def dsplit(input: Tensor, indices_or_sections) -> tuple:  # noqa: A002
    """``tensor_split`` along dim 2 of a tensor of at least 3 dimensions; an int must divide it."""
    return _directional_split("dsplit", input, indices_or_sections, 2, 3)


@public(aliases=("unsafe_split_with_sizes",))
def split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:  # noqa: A002
    """Pieces of the listed sizes along ``dim`` (they must add up to its length)."""
    _check_tensor("split_with_sizes", input)
    return split(input, [int(s) for s in split_sizes], dim)


# -- flips and rotations --------------------------------------------------------------------------------
@public
def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:  # noqa: A002
    """Rotated ``k`` quarter turns in the plane of ``dims``, from the first towards the second."""
    _check_tensor("rot90", input)
    dims = tuple(dims)
    if len(dims) != 2:
        raise ValueError(f"rot90: dims must name two dimensions, got {dims}")
    if input.ndim < 2:
        raise ShapeError(f"rot90: needs a tensor of at least 2 dimensions, got shape {input.shape}")
    d0, d1 = (_check_dim(d, input.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise ValueError(f"rot90: dims must be different, got {dims}")
    k %= 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return transpose(flip(input, d0), d0, d1)
    return input.clone()


@public
def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    """Columns in reverse order (dim 1; at least 2 dimensions)."""
    if input.ndim < 2:
        raise ShapeError(f"fliplr: needs a tensor of at least 2 dimensions, got shape {input.shape}")
    return flip(input, 1)


@public
def flipud(input: Tensor) -> Tensor:  # noqa: A002
    """Rows in reverse order (dim 0; at least 1 dimension)."""
    if input.ndim < 1:
        raise ShapeError(f"flipud: needs a tensor of at least 1 dimension, got shape {input.shape}")
    return flip(input, 0)


# -- embedding a slice ------------------------------------------------------------------------------------
def _embedded(op: str, input: Tensor, src: Tensor, index, expected: tuple) -> Tensor:  # noqa: A002
    _check_tensor(op, src)
    if tuple(src.shape) != tuple(expected):
        raise ShapeError(f"{op}: src of shape {src.shape} must have shape {tuple(expected)}, that of the slice "
                         "it replaces")
    if src.dtype != input.dtype:
        raise TypeError(f"{op}: src is {src.dtype.name} but the tensor is {input.dtype.name}")
    return index_put(input, src, index)


@public
def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``src`` written at ``input.select(dim, index)``."""
    _check_tensor("select_scatter", input)
    axis = _check_dim(dim, input.ndim, "select_scatter")
    n = input.shape[axis]
    if not -n <= index < n:
        raise IndexError(f"select_scatter: index {index} is out of range for dimension {dim} of size {n}")
    position = (slice(None),) * axis + (int(index) % n,)
    return _embedded("select_scatter", input, src, position, input.shape[:axis] + input.shape[axis + 1:])


@public
def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,  # noqa: A002
                  step: int = 1) -> Tensor:
    """A copy of ``input`` with ``src`` written at ``input[..., start:end:step, ...]`` (along ``dim``)."""
    _check_tensor("slice_scatter", input)
    axis = _check_dim(dim, input.ndim, "slice_scatter")
    if step <= 0:
        raise ValueError(f"slice_scatter: step must be positive, got {step}")
    position = (slice(None),) * axis + (slice(start, end, step),)
    expected = input._backend.getitem(input.array, position).shape
    return _embedded("slice_scatter", input, src, position, expected)


@public
def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``src`` written on ``input.diagonal(offset, dim1, dim2)``."""
    _check_tensor("diagonal_scatter", input)
    d1, d2 = _diagonal_dims("diagonal_scatter", input.ndim, dim1, dim2)
    moved = _movedim_or_self(input, (d1, d2), (-2, -1))
    rows, cols = _diagonal_index(input.shape[d1], input.shape[d2], offset)
    expected = tuple(moved.shape[:-2]) + (rows.size,)
    out = _embedded("diagonal_scatter", moved, src, (Ellipsis, _on(input, rows), _on(input, cols)), expected)
    return _movedim_or_self(out, (-2, -1), (d1, d2))


# -- positions and runs (no gradient) --------------------------------------------------------------------
@public(spec=False)
def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    """The indices of the non-zero elements, one row each (int64, shape (count, ndim)), as ``nonzero``."""
    _check_tensor("argwhere", input)
    return nonzero(input)


@public(spec=False)
def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
                       dim: int | None = None):
    """Each run of equal consecutive elements (or slices along ``dim``) kept once; with ``return_inverse``
    each element's (slice's) run number, with ``return_counts`` each run's length. No gradient."""
    _check_tensor("unique_consecutive", input)
    host = input.numpy()
    if dim is None:
        flat = host.reshape(-1)
        starts = np.ones(flat.size, bool)
        starts[1:] = flat[1:] != flat[:-1]
        values = flat[starts]
        inverse_shape = host.shape
    else:
        axis = _check_dim(dim, max(input.ndim, 1), "unique_consecutive")
        moved = np.moveaxis(host, axis, 0).reshape(host.shape[axis], -1)
        starts = np.ones(moved.shape[0], bool)
        starts[1:] = np.any(moved[1:] != moved[:-1], axis=1)
        values = np.compress(starts, host, axis=axis)
        inverse_shape = (host.shape[axis],)
    out = [_on(input, np.ascontiguousarray(values).astype(host.dtype))]
    if return_inverse:
        out.append(_on(input, (np.cumsum(starts) - 1).astype(np.int64).reshape(inverse_shape)))
    if return_counts:
        edges = np.append(np.flatnonzero(starts), starts.size)
        out.append(_on(input, np.diff(edges).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


@public(top_level=False)
def sum_to_size(input: Tensor, *size) -> Tensor:  # noqa: A002
    """``input`` summed down to ``size``, to which it must be expandable (the gradient of ``expand``)."""
    shape = _shape_arg(size)
    try:
        expandable = np.broadcast_shapes(shape, tuple(input.shape)) == tuple(input.shape)
    except ValueError:
        expandable = False
    if not expandable or len(shape) > input.ndim:
        raise ShapeError(f"sum_to_size: size {shape} is not expandable to the tensor's size {input.shape}")
    return sum_to(input, shape)


def _run_differences(x: Tensor, axis: int) -> Tensor:
    lead = (slice(None),) * axis
    after, before = getitem(x, lead + (slice(1, None),)), getitem(x, lead + (slice(None, -1),))
    return ne(after, before) if x.dtype.kind == "b" else after - before


@public
def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,  # noqa: A002
         append: Tensor | None = None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (``!=`` for bool), after ``prepend`` and ``append`` are
    concatenated there."""
    _check_tensor("diff", input)
    if input.ndim == 0:
        raise ShapeError("diff: expects input to be at least one-dimensional")
    if n < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}")
    axis = _check_dim(dim, input.ndim, "diff")
    if n == 0:  # PyTorch's: the input unchanged, prepend and append ignored
        return input.clone()
    parts = [p for p in (prepend, input, append) if p is not None]
    x = concatenate(parts, axis) if len(parts) > 1 else input
    for _ in range(n):
        if x.shape[axis] == 0:
            break
        x = _run_differences(x, axis)
    return x


def _gradient_steps(input: Tensor, spacing, dims: list, dim_given: bool) -> list:  # noqa: A002
    """``gradient``'s ``spacing`` as one step per dimension of ``dims``: a number, or a 1-D tensor of coordinates."""
    if isinstance(spacing, Tensor) and spacing.ndim == 0:
        spacing = spacing.item()
    if isinstance(spacing, (int, float, np.number)) and not isinstance(spacing, bool):
        return [spacing] * len(dims)
    if not isinstance(spacing, (list, tuple)):
        raise TypeError(f"gradient: spacing must be a number, a list of numbers or a list of 1-D tensors, got "
                        f"{type(spacing).__name__}")
    if len(spacing) != len(dims):
        where = f"dim ({len(dims)} dimensions)" if dim_given else f"the input ({input.ndim} dimensions)"
        raise ValueError(f"gradient: spacing must be a number or a list of one entry per dimension of {where}, got a "
                         f"list of length {len(spacing)}")
    for step, d in zip(spacing, dims):
        if isinstance(step, Tensor) and (step.ndim != 1 or step.shape[0] != input.shape[d]):
            raise ShapeError(f"gradient: the coordinates of dimension {d} must be a 1-D tensor of its size "
                             f"{input.shape[d]}, got shape {tuple(step.shape)}")
    return list(spacing)


@public(spec=False, method=False)
def gradient(input: Tensor, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:  # noqa: A002
    """Numerical derivatives of ``input`` along each dimension of ``dim`` (all by default), as NumPy's
    ``gradient``: central differences inside, one-sided ones of order ``edge_order`` (1 or 2) at both ends.
    ``spacing``: one number for every dimension, one number per dimension, or one 1-D tensor of coordinates per
    dimension (unevenly spaced samples). PyTorch's formulas, as composites: differentiable in ``input`` and in the
    coordinates."""
    _check_tensor("gradient", input)
    if edge_order not in (1, 2) or isinstance(edge_order, bool):
        raise ValueError(f"gradient: only supports edge_order=1 and edge_order=2, got {edge_order!r}")
    named = list(range(input.ndim)) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    dims = [_check_dim(d, input.ndim, "gradient") for d in named]
    if len(set(dims)) != len(dims):
        raise ValueError(f"gradient: dim {dim} names a dimension twice")
    steps = _gradient_steps(input, spacing, dims, dim is not None)
    if any(input.shape[d] < edge_order + 1 for d in dims):
        raise ShapeError(f"gradient: expected each dimension size to be at least edge_order+1 = {edge_order + 1}, got "
                         f"shape {tuple(input.shape)}")
    out = []
    for d, step in zip(dims, steps):
        def x(start, stop=None, d=d):
            return getitem(input, (slice(None),) * d + (slice(start, stop),))

        if isinstance(step, Tensor):  # coordinates: second-order differences of unevenly spaced samples
            h = diff(step)
            h1, h2 = h[:-1], h[1:]
            along = [-1 if i == d else 1 for i in range(input.ndim)]
            a, b, c = (reshape(v, along) for v in (-h2 / (h1 * (h1 + h2)), (h2 - h1) / (h1 * h2),
                                                   h1 / (h2 * (h1 + h2))))
            center = a * x(0, -2) + b * x(1, -1) + c * x(2)
            if edge_order == 1:
                first, last = (x(1, 2) - x(0, 1)) / h[0], (x(-1) - x(-2, -1)) / h[-1]
            else:
                first = (-(2.0 * h[0] + h[1]) / (h[0] * (h[0] + h[1])) * x(0, 1)
                         + (h[0] + h[1]) / (h[0] * h[1]) * x(1, 2) + -h[0] / (h[1] * (h[0] + h[1])) * x(2, 3))
                last = (h[-1] / (h[-2] * (h[-1] + h[-2])) * x(-3, -2)
                        + -(h[-1] + h[-2]) / (h[-1] * h[-2]) * x(-2, -1)
                        + (2 * h[-1] + h[-2]) / (h[-1] * (h[-1] + h[-2])) * x(-1))
        else:
            center = (x(2) - x(0, -2)) / step / 2
            if edge_order == 1:
                first, last = (x(1, 2) - x(0, 1)) / step, (x(-1) - x(-2, -1)) / step
            else:
                first = (-1.5 * x(0, 1) + 2 * x(1, 2) - 0.5 * x(2, 3)) / step
                last = (0.5 * x(-3, -2) - 2 * x(-2, -1) + 1.5 * x(-1)) / step
        out.append(concatenate([first, center, last], d))
    return tuple(out)


@public(spec=False, method=False)
def unravel_index(indices: Tensor, shape) -> tuple:
    """The coordinates in a tensor of ``shape`` of the flat (row-major) ``indices``: one int64 tensor per dimension,
    each of ``indices``' shape. As PyTorch's, values outside [0, numel) wrap (floor division, then modulo)."""
    _check_tensor("unravel_index", indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"unravel_index: expected 'indices' to be integer dtype, but got {indices.dtype.name}")
    sizes = (shape,) if isinstance(shape, (int, np.integer)) else shape
    if not isinstance(sizes, (tuple, list)) or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                                                          for n in sizes):
        raise TypeError(f"unravel_index: expected 'shape' to be an int or a sequence of ints, got {shape!r}")
    sizes = tuple(int(n) for n in sizes)
    if any(n <= 0 for n in sizes):
        raise ValueError(f"unravel_index: 'shape' must hold positive sizes, got {sizes}")
    strides = [math.prod(sizes[i + 1:]) for i in range(len(sizes))]
    flat = indices.astype("int64").unsqueeze(-1)
    coords = remainder(floor_divide(flat, _on(indices, np.array(strides, np.int64))),
                       _on(indices, np.array(sizes, np.int64)))
    return unbind(coords, -1)

