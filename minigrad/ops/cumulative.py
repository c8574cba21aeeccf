"""Running (prefix) ops along one dimension, as PyTorch's: ``cumprod``, ``cummax``, ``cummin`` and
``logcumsumexp`` (``cumsum`` is a reduction op of its own).

Each is a composition of other ops, through one inclusive scan by recursive doubling (``_scan``): log2(n) steps,
each combining every element with the one 2^k places before it. So the gradients, to any order, are those of the
ops it is made of: ``cumprod``'s is a chain of products (exact with zeros in the input, no division), and
``logcumsumexp``'s a chain of stable ``logaddexp`` steps. The cost is O(n log n) work and memory per row for
the differentiable scans, instead of a sequential loop's O(n).
"""

from __future__ import annotations

import math

import numpy as np

from .. import return_types
from ..grad_mode import no_grad
from ..tensor import Tensor
from ._common import normalize_axis
from ._registry import public
from .arithmetic import isinf, isnan, maximum, minimum, where
from .composites import narrow
from .movement import _reshape_or_self, concatenate, gather


def _scan(x: Tensor, dim: int, combine) -> Tensor:
    """Inclusive prefix scan of ``x`` along ``dim``: element i becomes ``combine(earlier, later)`` folded over
    elements 0..i. ``combine`` must be associative."""
    n = x.shape[dim]
    step = 1
    while step < n:
        done = narrow(x, dim, 0, step)
        x = concatenate([done, combine(narrow(x, dim, 0, n - step), narrow(x, dim, step, n - step))], dim)
        step *= 2
    return x


def _checked(name: str, x, dim) -> int:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a tensor, got {type(x).__name__}")
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name}: dim must be one int, got {dim!r}")
    (axis,) = normalize_axis(int(dim), x.ndim, name)
    return axis


@public
def cumprod(x: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running product along ``dim`` (PyTorch's ``cumprod``); integer and bool tensors give int64 unless
    ``dtype``. The gradient is exact where the input holds zeros (one or several), to any order."""
    axis = _checked("cumprod", x, dim)
    if dtype is not None:
        x = x.astype(dtype)
    elif x.dtype.kind != "f":
        x = x.long()
    if x.ndim == 0:
        return x.clone()
    return _scan(x, axis, lambda earlier, later: earlier * later)


def _cum_extremum(name: str, x: Tensor, dim) -> tuple:
    """(values, indices) of the running maximum or minimum. PyTorch's rule: a value is taken when it is NaN or
    at least as large (small) as the best so far, so ties and NaN give the latest index. The indices come from
    a scan outside the graph; the values are ``x`` gathered at them, so the gradient flows to those positions."""
    axis = _checked(name, x, dim)
    be = x._backend
    result = getattr(return_types, name)
    if x.ndim == 0:
        index = Tensor(be.zeros((), "int64"), be)
        return result(gather(x, 0, index), index)
    from ..creation import arange

    with no_grad():
        key = x.detach()
        if key.dtype.kind == "b":
            key = key.long()
        best = _scan(key, axis, maximum if name == "cummax" else minimum)
        taken = key == best
        if key.dtype.kind == "f":
            taken = taken | isnan(key)
        n = x.shape[axis]
        positions = _reshape_or_self(arange(n, backend=x.backend), [n if d == axis else 1 for d in range(x.ndim)])
        index = _scan(where(taken, positions, -1), axis, maximum)
    return result(gather(x, axis, index), index)


@public
def cummax(x: Tensor, dim: int):
    """PyTorch's ``cummax``: the named tuple ``(values, indices)`` of the running maximum along ``dim``. Ties and
    NaN take the latest index, as PyTorch; the gradient goes to the index returned, to any order."""
    return _cum_extremum("cummax", x, dim)


@public
def cummin(x: Tensor, dim: int):
    """PyTorch's ``cummin``: ``(values, indices)`` of the running minimum along ``dim`` (see ``cummax``)."""
    return _cum_extremum("cummin", x, dim)


def _logaddexp(a: Tensor, b: Tensor) -> Tensor:
    """log(exp(a) + exp(b)), shifted by the larger one. The shift is outside the graph: the result does not
    depend on it, so neither does the gradient (exp(a - out), exp(b - out)), whichever way a tie would split."""
    shift = maximum(a, b).detach()
    shift = where(isinf(shift), 0, shift)  # both -inf: stays -inf (not NaN); an inf stays inf
    total = (a - shift).exp() + (b - shift).exp()
    positive = total > 0
    return shift + where(positive, where(positive, total, 1).log(), -math.inf)  # log(0) = -inf, without a warning


@public
def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """log(cumsum(exp(x))) along ``dim`` (PyTorch's ``logcumsumexp``), stable for large magnitudes in either
    direction: each step is a shifted ``logaddexp``. Floating-point tensors only, as PyTorch."""
    axis = _checked("logcumsumexp", x, dim)
    if x.dtype.kind != "f":
        raise TypeError(f"logcumsumexp: needs a floating-point tensor, got {x.dtype.name}; use .float() first")
    if x.ndim == 0:
        return x.clone()
    return _scan(x, axis, _logaddexp)
