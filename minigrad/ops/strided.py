"""Strided views as PyTorch's: ``Tensor.unfold`` (sliding windows along one dimension) and ``as_strided``, and
the memory queries they rest on (``storage_offset``, ``data_ptr``).

minigrad has no storage objects: a tensor's *storage* is the C-contiguous array of the tensor it is a view of
(its ``_base``), or its own array. Both views are views of that memory (no copy); their gradients are
``index_add`` of the upstream gradient at the positions each output element reads, so they differentiate again.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..function import Function
from ..tensor import Tensor
from ._registry import public
from .composites import _movedim_or_self
from .movement import _check_dim, _reshape_or_self


def _address(array) -> int:
    """The address of an array's first element (NumPy's or the CUDA array interface's)."""
    interface = getattr(array, "__array_interface__", None) or array.__cuda_array_interface__
    return int(interface["data"][0])


def _strided(backend, array, shape, strides, writeable: bool):
    """A view of ``array``'s memory with ``shape`` and byte ``strides``."""
    if isinstance(array, np.ndarray):
        return np.lib.stride_tricks.as_strided(array, shape, strides, writeable=writeable and array.flags.writeable)
    return backend._as_strided(array, shape, strides)


def _storage(x: Tensor):
    """(storage array, x's offset in it, x's strides in elements): the contiguous array x is a view of, or x's own
    array; ``None`` when x lies in no contiguous memory (a non-contiguous leaf)."""
    itemsize = x.array.dtype.itemsize
    steps = tuple(int(s) // itemsize for s in x.array.strides)
    root = x._base
    if root is not None and root.array.flags.c_contiguous and root.array.dtype == x.array.dtype:
        offset, rest = divmod(_address(x.array) - _address(root.array), itemsize)
        if rest == 0 and 0 <= offset and (x.array.size == 0 or offset + sum(
                (n - 1) * s for n, s in zip(x.shape, steps)) < root.array.size) and min(steps, default=0) >= 0:
            return root.array, offset, steps
    if x.array.flags.c_contiguous:
        return x.array, 0, x.stride()
    return None


def storage_offset(self: Tensor) -> int:
    """The index of this tensor's first element in its storage (PyTorch's ``storage_offset``): non-zero for views
    that start inside the tensor they view (``x[1:]``)."""
    found = _storage(self)
    return 0 if found is None else found[1]


def data_ptr(self: Tensor) -> int:
    """The address of this tensor's first element: the same for a tensor and its views that start where it does,
    and stable while the tensor lives (PyTorch's ``data_ptr``; 0 for an empty tensor, as PyTorch's)."""
    return 0 if self.array.size == 0 else _address(self.array)


class Unfold(Function):
    """``x.unfold(dim, size, step)``: the windows x[..., i*step : i*step + size, ...] along ``dim`` as a new last
    dimension, on x's memory. Writable when windows do not overlap (``step >= size``), as PyTorch's writes are
    refused where elements overlap."""

    is_view = True
    op_name = "unfold"

    @staticmethod
    def forward(ctx, x, dim, size, step):
        ctx.args = (x.shape, dim, size, step)
        a = x.array
        count = (a.shape[dim] - size) // step + 1
        shape = a.shape[:dim] + (count,) + a.shape[dim + 1:] + (size,)
        strides = a.strides[:dim] + (a.strides[dim] * step,) + a.strides[dim + 1:] + (a.strides[dim],)
        return _strided(ctx.backend, a, shape, strides, step >= size)

    @staticmethod
    def backward(ctx, g):
        shape, dim, size, step = ctx.args
        count = g.shape[dim]
        index = (np.arange(count)[:, None] * step + np.arange(size)).reshape(-1)
        rows = _movedim_or_self(g, -1, dim + 1).reshape(shape[:dim] + (count * size,) + shape[dim + 1:])
        zeros = Tensor(g._backend.zeros(shape, g.dtype), g._backend)
        return zeros.index_add(dim, Tensor(g._backend.asarray(index), g._backend), rows), None, None, None


@public(top_level=False)
def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """PyTorch's ``Tensor.unfold``: every slice of length ``size`` along ``dimension``, ``step`` apart, as a new
    last dimension of length ``size`` (a view; a 0-d tensor counts as one element)."""
    if x.ndim == 0:
        _check_dim(dimension, 1, "unfold")
        return unfold(x.reshape(1), 0, size, step).reshape(size)
    dim = _check_dim(dimension, x.ndim, "unfold")
    if size < 0:
        raise ValueError(f"unfold: size is {size} but must be >= 0")
    if step <= 0:
        raise ValueError(f"unfold: step is {step} but must be > 0")
    if size > x.shape[dim]:
        raise ShapeError(f"unfold: maximum size for tensor at dimension {dim} is {x.shape[dim]} but size is {size} "
                         f"(shape {tuple(x.shape)})")
    return Unfold.apply(x, dim, int(size), int(step))


class AsStrided(Function):
    """``as_strided`` of a storage array: the elements at ``offset + sum(i_k * stride_k)``."""

    is_view = True
    op_name = "as_strided"

    @staticmethod
    def forward(ctx, x, storage, offset, shape, steps, out_positions, x_positions):
        ctx.positions, ctx.in_positions, ctx.storage_size = out_positions, x_positions, storage.size
        itemsize = storage.dtype.itemsize
        flat = storage.reshape(-1)[offset:] if storage.size else storage.reshape(-1)
        return _strided(ctx.backend, flat, shape, tuple(s * itemsize for s in steps), True)

    @staticmethod
    def backward(ctx, g):
        be = g._backend
        from .indexing import index_add

        out_positions, x_positions = ctx.positions, ctx.in_positions
        zeros = Tensor(be.zeros((ctx.storage_size,), g.dtype), be)
        grad_storage = index_add(zeros, 0, Tensor(be.asarray(out_positions.reshape(-1)), be), g.reshape(-1))
        grad = grad_storage[Tensor(be.asarray(x_positions.reshape(-1)), be)]
        return _reshape_or_self(grad, x_positions.shape), None, None, None, None, None, None


def _positions(shape, steps, offset: int) -> np.ndarray:
    """The storage index of every element of a (shape, strides, offset) view."""
    pos = np.full(tuple(shape), offset, dtype=np.int64)
    for d, (n, s) in enumerate(zip(shape, steps)):
        pos = pos + (np.arange(n, dtype=np.int64) * s).reshape([n if e == d else 1 for e in range(len(shape))])
    return pos


@public
def as_strided(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:  # noqa: A002
    """PyTorch's ``as_strided``: a view of ``input``'s storage with the given ``size`` and ``stride`` (in
    elements), starting at ``storage_offset`` (by default ``input``'s own). Its gradient is PyTorch's where
    ``input``'s elements do not overlap in memory: each output element's gradient goes to the storage element it
    reads (summed where output elements overlap), and from there to the element of ``input`` there."""
    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise ValueError(f"as_strided: mismatch in length of strides and shape: size {size}, stride {stride}")
    if any(n < 0 for n in size):
        raise ValueError(f"as_strided: sizes must be non-negative, got {size}")
    if any(s < 0 for s in stride):
        raise ValueError(f"as_strided: negative strides are not supported, got strides {stride}")
    found = _storage(input)
    if found is None:
        raise ValueError(f"as_strided: the tensor of shape {tuple(input.shape)} and strides {input.stride()} lies in "
                         "no contiguous memory minigrad knows as its storage; call .contiguous() first")
    storage, own_offset, own_steps = found
    offset = own_offset if storage_offset is None else int(storage_offset)
    if offset < 0:
        raise ValueError(f"as_strided: storage_offset must be >= 0, got {offset}")
    needed = 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if needed > storage.size:
        raise ShapeError(f"as_strided: sizes {list(size)}, strides {list(stride)} and storage offset {offset} need a "
                         f"storage of {needed} elements, but the storage has {storage.size}")
    x_positions = _positions(input.shape, own_steps, own_offset)
    if input.requires_grad and np.unique(x_positions).size != x_positions.size:
        raise ValueError("as_strided: the input's elements overlap in memory (an expanded tensor); its gradient "
                         "is not supported, call .contiguous() first")
    return AsStrided.apply(input, storage, offset, size, stride, _positions(size, stride, offset)
                           if input.requires_grad else np.zeros((0,), np.int64), x_positions)


@public(spec=False)
def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:  # noqa: A002 - PyTorch's name
    """``input.narrow(dim, start, length)`` as a new tensor (a copy, not a view)."""
    return input.narrow(dim, start, length).clone()


Tensor.storage_offset = storage_offset
Tensor.data_ptr = data_ptr
