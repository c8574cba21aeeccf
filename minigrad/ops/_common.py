"""Helpers shared by the op modules."""

from __future__ import annotations

import numbers

import numpy as np

from ..dtypes import default_float
from ..tensor import Tensor, tensor

Scalar = (int, float, bool, numbers.Number)
_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}  # promotion across kinds: bool < integer < float


def constant(ctx_or_backend, array) -> Tensor:
    """A tensor outside the graph wrapping ``array`` (masks, weights) on the op's backend."""
    backend = getattr(ctx_or_backend, "backend", ctx_or_backend)
    return Tensor(array, backend)


def zero_gradient(g: Tensor) -> Tensor:
    """The gradient of a piecewise-constant op (floor, sign, ...): zeros like ``g``, outside the graph, as
    PyTorch's ``zeros_like(grad)``; ``g * 0`` would be NaN where g is infinite or NaN."""
    return Tensor(g._backend.zeros(g.shape, g.dtype), g._backend)


def as_operand(x, like: Tensor | None):
    """Python numbers stay numbers (they adopt the tensor's dtype), and so do NumPy scalars (``np.float64(2)``,
    as PyTorch treats them); arrays and lists become tensors."""
    if isinstance(x, Tensor) or isinstance(x, Scalar) and not hasattr(x, "shape"):
        return x
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return x.item()
    return tensor(x, backend=None if like is None else like.backend)


_FAST_NUMBERS = (int, float)


def binary_operands(a, b) -> tuple:
    """Normalise a binary op's operands with PyTorch's promotion: an integer tensor meeting a float number
    becomes the default float dtype (float32), of two tensors of different kinds (bool < integer < float)
    the lower one takes the other's dtype (float32 + int64 is float32, not NumPy's float64), and within one kind
    a 0-d tensor takes a dimensioned one's (float32 + 0-d float64 is float32)."""
    if isinstance(a, Tensor) and b.__class__ in _FAST_NUMBERS and (a.array.dtype.kind == "f" or b.__class__ is int):
        return a, b  # the common ``tensor * 0.5``: nothing to convert
    if isinstance(b, Tensor) and a.__class__ in _FAST_NUMBERS and (b.array.dtype.kind == "f" or a.__class__ is int):
        return a, b
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a.array.dtype, b.array.dtype
        if da is not db:
            if _RANK[da.kind] != _RANK[db.kind]:
                if _RANK[da.kind] < _RANK[db.kind]:
                    return a.astype(db), b
                return a, b.astype(da)
            if (a.array.ndim == 0) != (b.array.ndim == 0):  # within one kind a 0-d tensor takes the other's dtype
                return (a.astype(db), b) if a.array.ndim == 0 else (a, b.astype(da))
        return a, b
    if not isinstance(a, Tensor):
        a = as_operand(a, b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = as_operand(b, a if isinstance(a, Tensor) else None)
    if isinstance(a, float) and isinstance(b, Tensor) and b.dtype.kind != "f":
        b = b.astype(default_float())
    elif isinstance(b, float) and isinstance(a, Tensor) and a.dtype.kind != "f":
        a = a.astype(default_float())
    return a, b


def result_dtype(dtypes) -> np.dtype:
    """The dtype of an op joining tensors of ``dtypes`` (``cat``, ``stack``): the highest kind (bool < integer
    < float) wins, as in ``binary_operands``, and within it NumPy's promotion (float32 + int64 is float32,
    float32 + float64 is float64)."""
    top = max(_RANK[d.kind] for d in dtypes)
    return np.result_type(*[d for d in dtypes if _RANK[d.kind] == top])


def data(x):
    """The backend array of a tensor, or the number itself."""
    return x.array if isinstance(x, Tensor) else x


def normalize_axis(axis, ndim: int, op: str):
    """``None``, or a tuple of non-negative axes (checked against ``ndim``)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):  # a 0-d tensor takes axis 0 or -1, as in PyTorch
            raise IndexError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimension(s)")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(out)


def pick_axis(axis, dim):
    """Accept PyTorch's ``dim`` as an alias of ``axis``."""
    if dim is not None:
        if axis is not None:
            raise TypeError("pass either axis or dim, not both")
        return dim
    return axis


def pick_keepdims(keepdims: bool, keepdim) -> bool:
    return keepdims if keepdim is None else bool(keepdim)


def keepdims_shape(shape: tuple, axes) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))
