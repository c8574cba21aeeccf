"""Sorting and index search: sort, argsort, topk, nonzero, unique.

The order is computed outside the graph (the backend's stable ``argsort``); the values are ``gather``-ed at
it, so their gradient scatters back to the positions they came from, to any order.
"""

from __future__ import annotations

import numpy as np

from .. import return_types
from ..tensor import Tensor
from ._registry import public
from .movement import _check_dim, gather


@public(spec=False)
def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Indices (int64) that sort ``x`` along ``dim``. The sort is always stable: tied values keep their
    order (``stable`` is accepted for PyTorch's signature); NaN counts as the largest value."""
    if not isinstance(x, Tensor):
        raise TypeError(f"argsort: expected a tensor, got {type(x).__name__}")
    be = x._backend
    if x.ndim == 0:
        _check_dim(dim, 1, "argsort")
        return Tensor(be.zeros((), "int64"), be)
    dim = _check_dim(dim, x.ndim, "argsort")
    return Tensor(be.astype(be.argsort(x.array, dim, bool(descending)), "int64"), be)


@public
def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> return_types.sort:
    """PyTorch's ``sort``: the named tuple ``(values, indices)`` along ``dim`` (stable, see ``argsort``);
    the values' gradient goes back to the positions they came from."""
    indices = argsort(x, dim, descending, stable)
    return return_types.sort(gather(x, dim if x.ndim else 0, indices), indices)


@public
def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> return_types.topk:  # noqa: A002
    """PyTorch's ``topk``: the ``k`` largest (or smallest) values along ``dim`` and their indices, as the named
    tuple ``(values, indices)``. They always come sorted (``sorted=False`` leaves the order unspecified in
    PyTorch); ties keep their order."""
    length = x.shape[_check_dim(dim, max(x.ndim, 1), "topk")] if x.ndim else 1
    if not (0 <= k <= length if x.ndim else k == 1):
        raise ValueError(f"topk: k={k} is out of range for a dimension of size {length}")
    order = argsort(x, dim, descending=largest)
    if x.ndim == 0:
        return return_types.topk(gather(x, 0, order), order)
    dim = dim % x.ndim
    be = x._backend
    index = (slice(None),) * dim + (slice(0, k),)
    indices = Tensor(be.ascontiguous(be.getitem(order.array, index)), be)
    return return_types.topk(gather(x, dim, indices), indices)


@public(spec=False)
def nonzero(x: Tensor, *, as_tuple: bool = False):
    """Indices of the non-zero elements: an int64 (count, ndim) tensor in row-major order, or with
    ``as_tuple`` one 1-D tensor per dimension (what ``x[...]`` takes). No gradient."""
    if not isinstance(x, Tensor):
        raise TypeError(f"nonzero: expected a tensor, got {type(x).__name__}")
    be = x._backend
    scalar = x.ndim == 0
    if scalar:  # PyTorch: one element of a 1-D tensor for as_tuple, else (count, 0) rows with no dimension to index
        x = x.reshape(1)
    found = Tensor(be.nonzero(x.array), be)
    if not as_tuple:
        return Tensor(be.zeros((found.shape[0], 0), np.dtype(np.int64)), be) if scalar else found
    return tuple(Tensor(be.ascontiguous(be.getitem(found.array, (slice(None), d))), be) for d in range(x.ndim))


@public(spec=False)
def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:  # noqa: A002 - PyTorch's names
    """``nonzero``'s (count, ndim) indices cut to ``size`` rows, or padded to it with rows of ``fill_value``: a
    result whose shape is known before the values are."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise ValueError(f"nonzero_static: 'size' must be a non-negative int, got {size!r}")
    found = nonzero(input)  # (count, ndim): (count, 0) for a 0-d input, as PyTorch's
    be = input._backend
    kept = Tensor(be.ascontiguous(be.getitem(found.array, slice(0, size))), be)
    if kept.shape[0] == size:
        return kept
    padding = be.full((size - kept.shape[0], found.shape[1]), fill_value, np.dtype(np.int64))
    return Tensor(be.concatenate([kept.array, padding], 0), be)


@public(spec=False)
def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim: int | None = None):
    """The distinct values of ``x`` (flattened), sorted; with ``return_inverse`` also each element's index
    into them (in ``x``'s shape), with ``return_counts`` each value's count. No gradient; no ``dim``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"unique: expected a tensor, got {type(x).__name__}")
    if dim is not None:
        raise NotImplementedError("unique: dim= (unique slices) is not supported; call it on the flat values")
    be = x._backend
    values, inverse, counts = be.unique(x.array)
    out = [Tensor(values, be)]
    if return_inverse:
        out.append(Tensor(be.reshape(inverse, tuple(x.shape)), be))
    if return_counts:
        out.append(Tensor(counts, be))
    return out[0] if len(out) == 1 else tuple(out)
