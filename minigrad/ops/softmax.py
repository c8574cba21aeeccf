"""softmax and log_softmax along one axis, stable for large logits."""

from __future__ import annotations

from ..function import Function
from ..tensor import Tensor
from ._common import normalize_axis, pick_axis
from ._registry import public


class Softmax(Function):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the maximum."""

    save_output = True

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return ctx.backend.softmax(x.array, axis)

    @staticmethod
    def backward(ctx, g):
        return SoftmaxBackward.apply(g, ctx.output, ctx.axis), None


class SoftmaxBackward(Function):
    """y * (g - sum(g * y)), one fused kernel; differentiable in g and y."""

    @staticmethod
    def forward(ctx, g, y, axis):
        ctx.save_for_backward(g, y)
        ctx.axis = axis
        return ctx.backend.softmax_backward(g.array, y.array, axis)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        axis = ctx.axis
        gg_g = SoftmaxBackward.apply(gg, y, axis) if ctx.needs_input_grad[0] else None
        gg_y = None
        if ctx.needs_input_grad[1]:
            s = (g * y).sum(axis, keepdims=True)
            gg_y = gg * (g - s) - g * (gg * y).sum(axis, keepdims=True)
        return gg_g, gg_y, None


class LogSoftmax(Function):
    """x - logsumexp(x) along ``axis``."""

    save_output = True

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return ctx.backend.log_softmax(x.array, axis)

    @staticmethod
    def backward(ctx, g):
        return LogSoftmaxBackward.apply(g, ctx.output, ctx.axis), None


class LogSoftmaxBackward(Function):
    """g - exp(y) * sum(g), one fused kernel; differentiable in g and y."""

    @staticmethod
    def forward(ctx, g, y, axis):
        ctx.save_for_backward(g, y)
        ctx.axis = axis
        return ctx.backend.log_softmax_backward(g.array, y.array, axis)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        axis = ctx.axis
        p = y.exp()
        gg_g = gg - (gg * p).sum(axis, keepdims=True) if ctx.needs_input_grad[0] else None
        gg_y = -gg * p * g.sum(axis, keepdims=True) if ctx.needs_input_grad[1] else None
        return gg_g, gg_y, None


def _axis(x: Tensor, axis, dim, op: str) -> int:
    """The one axis softmax works along, checked like every reduction's axis. Without one, the last axis of a
    tensor of at most 2 dimensions (where PyTorch's implicit choice is the same); beyond, it must be given
    (PyTorch would pick dim 0 or 1 there)."""
    axis = pick_axis(axis, dim)
    if axis is None and x.ndim > 2:
        raise TypeError(f"{op}: pass dim for a tensor of {x.ndim} dimensions (shape {x.shape}); PyTorch's "
                        "implicit choice (dim 0 or 1) is deprecated and minigrad does not guess")
    if axis is not None and not isinstance(axis, int):
        raise TypeError(f"{op}: takes a single int axis, got {axis!r}")
    return normalize_axis(-1 if axis is None else axis, x.ndim, op)[0]


@public
def softmax(x: Tensor, axis: int | None = None, *, dim: int | None = None, dtype=None) -> Tensor:
    """Softmax along ``axis`` (default: the last, for at most 2 dimensions); ``dtype`` casts the input first,
    as PyTorch (e.g. float32 attention scores computed in float64)."""
    if dtype is not None and isinstance(x, Tensor):
        x = x.astype(dtype)
    return Softmax.apply(x, _axis(x, axis, dim, "softmax"))


@public
def log_softmax(x: Tensor, axis: int | None = None, *, dim: int | None = None, dtype=None) -> Tensor:
    """log(softmax(x)) along ``axis`` (default: the last, for at most 2 dimensions), computed stably; ``dtype``
    casts the input first."""
    if dtype is not None and isinstance(x, Tensor):
        x = x.astype(dtype)
    return LogSoftmax.apply(x, _axis(x, axis, dim, "log_softmax"))
