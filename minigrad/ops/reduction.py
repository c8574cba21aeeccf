"""Reductions over axes: sum, mean, var, std, max, min, amax, amin, prod, cumsum, all, any, logsumexp, argmax,
argmin."""

from __future__ import annotations

import math

import numpy as np

from .. import return_types
from ..function import Function
from ..tensor import Tensor
from ._common import constant, keepdims_shape, normalize_axis, pick_axis, pick_keepdims
from ._registry import public
from .arithmetic import maximum, minimum, where
from .movement import _expand_or_self, _reshape_or_self, gather

_COPY_BELOW = 1 << 14  # elements; a broadcast view costs ~2 us to build, a copy of this size about as much


def _expand_back(g: Tensor, ctx, scale: float = 1.0) -> Tensor:
    """Broadcast a reduced gradient back over the reduced axes (times ``scale``), as one op."""
    return ExpandReduced.apply(g, ctx.axes, ctx.in_shape, ctx.keepdims, scale)


class ExpandReduced(Function):
    """The gradient of a reduction: ``g`` (times ``scale``) broadcast back over the reduced axes.

    The output is a read-only broadcast, so nothing can change it in place behind autograd's back.
    """

    @staticmethod
    def forward(ctx, g, axes, shape, keepdims, scale):
        ctx.axes, ctx.keepdims, ctx.scale = axes, keepdims, scale
        be = ctx.backend
        data = g.array if keepdims else be.reshape(g.array, keepdims_shape(shape, axes))
        if scale != 1.0:
            data = be.multiply(data, scale)
        if data.shape == shape:
            return data
        if math.prod(shape) <= _COPY_BELOW:
            # A small result is cheaper to fill than to build as a broadcast view (fresh memory is as
            # safe from in-place writes as a read-only view).
            out = be.empty(shape, g.dtype)
            be.setitem(out, Ellipsis, data)
            return out
        return be.broadcast_to(data, shape)

    @staticmethod
    def backward(ctx, gg):
        out = Sum.apply(gg, ctx.axes, ctx.keepdims)
        return (out * ctx.scale if ctx.scale != 1.0 else out), None, None, None, None


class Sum(Function):
    """Sum over ``axes`` (all when None)."""

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.in_shape, ctx.axes, ctx.keepdims = x.shape, axes, keepdims
        return ctx.backend.sum(x.array, axes, keepdims)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx), None, None


class Mean(Function):
    """Mean over ``axes`` (all when None)."""

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.in_shape, ctx.axes, ctx.keepdims = x.shape, axes, keepdims
        size = x.array.size
        count = size if axes is None else _count(x.shape, axes)
        ctx.scale = 1.0 / count if count else float("nan")
        return ctx.backend.multiply(ctx.backend.sum(x.array, axes, keepdims), ctx.scale)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx, ctx.scale), None, None


class SumTo(Function):
    """Sum a broadcast gradient back to ``shape`` (the engine's way of undoing broadcasting)."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.array.shape
        return SumTo.reduce(ctx.backend, x.array, shape)

    @staticmethod
    def reduce(backend, data, shape):
        """``data`` summed back to ``shape``, as an array (the engine calls it directly when nothing records)."""
        in_shape = data.shape
        lead = len(in_shape) - len(shape)
        # Leading axes that broadcasting added, then the axes where the target has size 1.
        axes = tuple(range(lead))
        if 1 in shape:
            axes += tuple(i + lead for i, n in enumerate(shape) if n == 1 and in_shape[i + lead] != 1)
        out = backend.sum(data, axes, False) if axes else data
        return out if out.shape == shape else backend.reshape(out, shape)

    @staticmethod
    def backward(ctx, g):
        return _expand_or_self(g, ctx.in_shape), None


class Extremum(Function):
    """Shared max/min reduction: the gradient is split evenly between tied extrema."""

    save_output = True
    kernel = "max"

    @classmethod
    def forward(cls, ctx, x, axes, keepdims):
        ctx.save_for_backward(x)
        ctx.in_shape, ctx.axes, ctx.keepdims = x.shape, axes, keepdims
        if x.array.size == 0:
            raise ValueError(f"{cls.kernel}: cannot reduce an empty tensor")
        return getattr(ctx.backend, cls.kernel)(x.array, axes, keepdims)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        out = ctx.output if ctx.keepdims else _reshape_or_self(ctx.output, keepdims_shape(ctx.in_shape, ctx.axes))
        # The extrema, NaN included where the result is NaN (PyTorch's rule: the NaNs share the gradient).
        # Comparisons have no gradient, so the weights are constants of any later differentiation.
        mask = ((x == out) | (x.isnan() & out.isnan())).to(x.dtype)
        weights = mask / mask.sum(ctx.axes, keepdim=True)
        return _expand_back(g, ctx) * weights, None, None


class Max(Extremum):
    """Maximum over ``axes``."""

    kernel = "max"


class Min(Extremum):
    """Minimum over ``axes``."""

    kernel = "min"


class Prod(Function):
    """Product along one axis. Its gradient is the product of the other elements: ``out / x`` where no
    element is zero, else computed directly (so zeros give PyTorch's exact gradients, to any order)."""

    save_output = True

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.save_for_backward(x)
        ctx.axis, ctx.keepdims = axis, keepdims
        return ctx.backend.prod(x.array, axis, keepdims)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        axis = ctx.axis
        out = ctx.output
        if not ctx.keepdims:
            g, out = g.unsqueeze(axis), out.unsqueeze(axis)
        if not (x == 0).any().item():
            return g * out / x, None, None
        return g * _product_of_others(x, axis), None, None


def _product_of_others(x: Tensor, axis: int) -> Tensor:
    """For each element, the product of the others along ``axis``: each row repeated n times with the
    element's own place set to 1, then multiplied out (O(n²), only used when the row holds a zero)."""
    be = x._backend
    moved = x.transpose(axis, -1) if axis != x.ndim - 1 else x
    n = moved.shape[-1]
    rows = _expand_or_self(moved.unsqueeze(-2), (*moved.shape[:-1], n, n))
    own = constant(be, be.eye(n, n, np.dtype(bool)))
    others = Prod.apply(where(own, 1.0, rows), rows.ndim - 1, False)
    return others.transpose(axis, -1) if axis != x.ndim - 1 else others


class Cumsum(Function):
    """Running sum along ``axis`` (``reverse``: from the end); each direction is the other's backward."""

    @staticmethod
    def forward(ctx, x, axis, reverse):
        ctx.axis, ctx.reverse = axis, reverse
        return ctx.backend.cumsum(x.array, axis, reverse)

    @staticmethod
    def backward(ctx, g):
        return Cumsum.apply(g, ctx.axis, not ctx.reverse), None, None


class LogSumExp(Function):
    """log(sum(exp(x))) over ``axes``, shifted by the maximum for stability."""

    save_output = True

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.save_for_backward(x)
        ctx.in_shape, ctx.axes, ctx.keepdims = x.shape, axes, keepdims
        return ctx.backend.logsumexp(x.array, axes, keepdims)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        out = ctx.output
        if not ctx.keepdims:
            out = _reshape_or_self(out, keepdims_shape(ctx.in_shape, ctx.axes))
        return _expand_back(g, ctx) * (x - out).exp(), None, None


def _count(shape: tuple, axes: tuple) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _reduce(op_cls, name, x, axis, keepdims, dim, keepdim):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a tensor, got {type(x).__name__}")
    if axis is None and dim is None and keepdim is None:
        return op_cls.apply(x, None, keepdims)
    axes = normalize_axis(pick_axis(axis, dim), x.ndim, name)
    if x.ndim == 0:
        axes = None  # the one element is the whole reduction
    return op_cls.apply(x, axes, pick_keepdims(keepdims, keepdim))


# -- public functions -------------------------------------------------------------------------------
@public
def sum(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None, dtype=None) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or None for all); ``dim``/``keepdim`` are accepted too. Bool and
    integer tensors sum in int64, as PyTorch; ``dtype`` casts the input first (its gradient flows back)."""
    if dtype is not None:
        x = _as_dtype(x, dtype, "sum")
    elif x.dtype.kind in "bu":  # NumPy would keep unsigned (uint8 sums to uint64); PyTorch gives int64
        x = x.long()
    return _reduce(Sum, "sum", x, axis, keepdims, dim, keepdim)


def _as_dtype(x: Tensor, dtype, op: str) -> Tensor:
    """``x`` cast to a reduction's ``dtype=`` argument, as PyTorch casts the input before the operation."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")
    return x.astype(dtype)


@public
def mean(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None, dtype=None) -> Tensor:
    """Arithmetic mean over ``axis``; ``dtype`` casts the input first (so integers may give a floating mean)."""
    if dtype is not None:
        x = _as_dtype(x, dtype, "mean")
    if x.dtype.kind != "f":
        raise TypeError(f"mean: needs a floating-point tensor, got {x.dtype.name}; use .float() first")
    return _reduce(Mean, "mean", x, axis, keepdims, dim, keepdim)


@public
def var(x: Tensor, axis=None, unbiased: bool | None = None, keepdims: bool = False, *, correction: int | None = None,
        dim=None, keepdim=None) -> Tensor:
    """Variance over ``axis``, dividing by N - correction (default 1, the unbiased estimate, as PyTorch).

    The positional order is PyTorch's ``var(dim, unbiased, keepdim)``: ``x.var(1, False)`` is the biased
    variance (correction 0), not keepdims.
    """
    correction = _correction("var", unbiased, correction)
    axis = pick_axis(axis, dim)
    keepdims = pick_keepdims(keepdims, keepdim)
    axes = normalize_axis(axis, x.ndim, "var")
    if x.ndim == 0:
        axes = None
    n = x.array.size if axes is None else _count(x.shape, axes)
    centered = x - mean(x, axes, keepdims=True)
    scale = 1.0 / (n - correction) if n > correction else float("nan")
    return sum(centered * centered, axes, keepdims) * scale


@public
def std(x: Tensor, axis=None, unbiased: bool | None = None, keepdims: bool = False, *, correction: int | None = None,
        dim=None, keepdim=None) -> Tensor:
    """Standard deviation over ``axis`` (see ``var``; positional order ``std(dim, unbiased, keepdim)``)."""
    return var(x, axis, unbiased, keepdims, correction=correction, dim=dim, keepdim=keepdim).sqrt()


def _correction(op: str, unbiased, correction) -> int:
    if unbiased is None:
        return 1 if correction is None else correction
    if correction is not None:
        raise TypeError(f"{op}: pass either unbiased or correction, not both")
    if not isinstance(unbiased, (bool, np.bool_)):
        raise TypeError(f"{op}: unbiased must be a bool (PyTorch's {op}(dim, unbiased, keepdim)), got {unbiased!r}; "
                        "pass keepdim=/keepdims= by keyword")
    return int(bool(unbiased))


@public
def max(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):  # noqa: A001
    """PyTorch's ``max``. ``max(x)``: the largest value, tied maxima sharing the gradient evenly.
    ``max(x, dim)`` (positional, ``dim=`` or ``axis=``): the named tuple ``(values, indices)`` along that one
    dimension, the gradient going to the index returned (the first maximum). ``max(x, other)``:
    ``maximum(x, other)``. Several dimensions at once: ``amax``."""
    return _extremum(Max, x, axis, keepdims, dim, keepdim)


@public
def min(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):  # noqa: A001
    """PyTorch's ``min``: the smallest value, ``(values, indices)`` along one dimension, or ``minimum`` (see
    ``max``)."""
    return _extremum(Min, x, axis, keepdims, dim, keepdim)


@public
def amax(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Maximum over ``dim`` (an int, a tuple, or None for all): values only, tied maxima share the gradient
    evenly (PyTorch's ``amax``)."""
    return _reduce(Max, "amax", x, None if dim == () else dim, keepdim, axis, keepdims)


@public
def amin(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Minimum over ``dim`` (an int, a tuple, or None for all); see ``amax``."""
    return _reduce(Min, "amin", x, None if dim == () else dim, keepdim, axis, keepdims)


def _extremum(op_cls, x, axis, keepdims, dim, keepdim):
    name = op_cls.kernel
    if isinstance(axis, Tensor) or isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return (maximum if name == "max" else minimum)(x, axis if dim is None else dim)
    axis = pick_axis(axis, dim)
    if axis is None:
        return _reduce(op_cls, name, x, None, keepdims, None, keepdim)
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(
            f"{name}: with a dim, {name} takes one dimension (an int) and returns (values, indices), as in "
            f"PyTorch; got {axis!r}. For several dimensions use a{name}(x, dims), which returns the values only"
        )
    return _with_indices(name, x, int(axis), pick_keepdims(keepdims, keepdim))


def _with_indices(name: str, x: Tensor, axis: int, keepdim: bool):
    """``(values, indices)`` of max/min along ``axis``: indices by argmax/argmin, values gathered at them."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a tensor, got {type(x).__name__}")
    (axis,) = normalize_axis(axis, x.ndim, name)
    if x.array.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor")
    be = x._backend
    if x.ndim == 0:
        index = Tensor(be.zeros((), "int64"), be)
        return getattr(return_types, name)(gather(x, 0, index), index)
    index = Tensor(be.astype(be.asarray(getattr(be, "arg" + name)(x.array, axis, True)), "int64"), be)
    values = gather(x, axis, index)
    if not keepdim:
        values = values.squeeze(axis)
        index = Tensor(be.reshape(index.array, values.shape), be)
    return getattr(return_types, name)(values, index)


@public
def logsumexp(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """log(sum(exp(x))) over ``axis``, stable for large magnitudes."""
    return _reduce(LogSumExp, "logsumexp", x, axis, keepdims, dim, keepdim)


@public
def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, *, axis=None, keepdims=None,
         dtype=None) -> Tensor:
    """Product of all elements, or along one ``dim`` (PyTorch's ``prod``); integer and bool tensors give int64,
    ``dtype`` casts the input first. Zeros get exact gradients (the product of the other elements)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"prod: expected a tensor, got {type(x).__name__}")
    if dtype is not None:
        x = x.astype(dtype)
    dim = pick_axis(dim, axis)
    keep = pick_keepdims(keepdim, keepdims)
    if x.dtype.kind != "f":
        x = x.long()
    if dim is None:
        out = Prod.apply(x.reshape(-1), 0, False)
        return _reshape_or_self(out, (1,) * x.ndim) if keep else out
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"prod: dim must be one int (PyTorch's prod takes one dimension), got {dim!r}")
    (dim,) = normalize_axis(int(dim), x.ndim, "prod")
    if x.ndim == 0:
        return x.clone()
    return Prod.apply(x, dim, keep)


@public
def cumsum(x: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running sum along ``dim`` (PyTorch's ``cumsum``); integer and bool tensors give int64 unless ``dtype``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"cumsum: expected a tensor, got {type(x).__name__}")
    if dtype is not None:
        x = x.astype(dtype)
    elif x.dtype.kind != "f":
        x = x.long()
    (dim,) = normalize_axis(dim, x.ndim, "cumsum")
    if x.ndim == 0:
        return x.clone()
    return Cumsum.apply(x, dim, False)


def _logical_reduce(name: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a tensor, got {type(x).__name__}")
    be = x._backend
    data = x.array if x.dtype.kind == "b" else be.not_equal(x.array, 0)
    axes = None if dim is None or x.ndim == 0 else normalize_axis(dim, x.ndim, name)
    return Tensor(be.asarray(getattr(be, name)(data, axes, bool(keepdim))), be)


@public(spec=False)
def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether every element (along ``dim``) is true / non-zero (bool, no gradient)."""
    return _logical_reduce("all", x, dim, keepdim)


@public(spec=False)
def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether some element (along ``dim``) is true / non-zero (bool, no gradient)."""
    return _logical_reduce("any", x, dim, keepdim)


def _arg(name: str, x: Tensor, axis, keepdims, dim, keepdim) -> Tensor:
    axis = pick_axis(axis, dim)
    if axis is not None:
        axis = normalize_axis(axis, x.ndim, name)
        if len(axis) != 1:
            raise ValueError(f"{name}: takes a single axis, got {axis}")
        axis = axis[0] if x.ndim else None
    if x.array.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor")
    keep = pick_keepdims(keepdims, keepdim)
    result = getattr(x._backend, name)(x.array, axis, keep)
    be = x._backend
    return Tensor(be.astype(be.asarray(result), "int64"), be)


@public(spec=False)
def argmax(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the maximum (int64, no gradient)."""
    return _arg("argmax", x, axis, keepdims, dim, keepdim)


@public(spec=False)
def argmin(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the minimum (int64, no gradient)."""
    return _arg("argmin", x, axis, keepdims, dim, keepdim)


@public(top_level=False, method=False)
def sum_to(x: Tensor, shape: tuple) -> Tensor:
    """Sum ``x`` down to ``shape``, which must broadcast to ``x.shape``."""
    return SumTo.apply(x, tuple(shape))
