"""Arithmetic and binary elementwise ops."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..function import Function
from ..tensor import Tensor
from ._common import binary_operands, constant, data


class Add(Function):
    """a + b"""

    @staticmethod
    def forward(ctx, a, b):
        return ctx.backend.add(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """a - b"""

    @staticmethod
    def forward(ctx, a, b):
        return ctx.backend.subtract(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """a * b"""

    @staticmethod
    def forward(ctx, a, b):
        # Save only what the gradient needs: d/da needs b, d/db needs a.
        need_a, need_b = ctx.needs_input_grad
        if need_a or need_b:
            ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return ctx.backend.multiply(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


class Div(Function):
    """a / b"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return ctx.backend.divide(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g / b
        gb = -ga * a / b if ctx.needs_input_grad[1] else None
        return (ga if ctx.needs_input_grad[0] else None), gb


def _save_operands(ctx, a, b) -> None:
    """Save both operands: tensors with save_for_backward (freed after backward), numbers on ctx."""
    ctx.save_for_backward(a if isinstance(a, Tensor) else None, b if isinstance(b, Tensor) else None)
    ctx.numbers = (None if isinstance(a, Tensor) else a, None if isinstance(b, Tensor) else b)


def _saved_operands(ctx) -> tuple:
    a, b = ctx.saved_tensors
    return (ctx.numbers[0] if a is None else a), (ctx.numbers[1] if b is None else b)


def _zero_base() -> np.errstate:
    """Pow's backward masks the points where a zero base makes its formulas inf or NaN (replaced by PyTorch's
    values), so NumPy's warnings about computing them there are noise."""
    return np.errstate(divide="ignore", invalid="ignore")


class Pow(Function):
    """a ** b, for a tensor or number on either side."""

    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return ctx.backend.power(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = _saved_operands(ctx)
        be = ctx.backend
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if isinstance(b, Tensor):
                # d/da a**0 is 0, also at a = 0, where b * a**(b - 1) is 0 * inf (PyTorch gives 0 too).
                # Masking only there keeps the expression, and its derivatives, everywhere else.
                at_zero = be.logical_and(be.equal(b.data, 0), be.equal(a.data, 0))
                with _zero_base():
                    ga = Where.apply(constant(ctx, at_zero), 0.0, g * b * a ** (b - 1))
            elif b == 2:
                ga = g * a * 2
            elif b == 1:
                ga = g
            elif b == 0:
                ga = g * 0.0  # not g * 0 * a ** -1, which is NaN at a = 0 (PyTorch gives 0 too)
            else:
                ga = g * b * a ** (b - 1)
        if ctx.needs_input_grad[1]:
            # d/db a**b = a**b * log(a). At a = 0 with b >= 0 it is 0 * -inf or 1 * -inf: the limit from
            # a > 0 is 0 for b > 0, and PyTorch defines it as 0 for b = 0 as well.
            if isinstance(a, Tensor):
                with _zero_base():
                    gb = g * ctx.output * a.log()
                at_zero = be.logical_and(be.equal(a.data, 0), be.greater_equal(b.data, 0))
                gb = Where.apply(constant(ctx, at_zero), 0.0, gb)
            elif a == 0:  # 0**b is inf for b < 0, so the product there is -inf (times the sign of g)
                gb = Where.apply(constant(ctx, be.greater_equal(b.data, 0)), 0.0, g * -math.inf)
            else:
                gb = g * ctx.output * (math.log(a) if a > 0 else math.nan)
        return ga, gb


class Neg(Function):
    """-x"""

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.negative(x.data)

    @staticmethod
    def backward(ctx, g):
        return (-g,)


def _tie_weights(ctx, a, b, first_wins):
    """How much of the gradient goes to ``a``: 1 where it is selected, 1/2 on ties, else 0."""
    be = ctx.backend
    a_, b_ = data(a), data(b)
    dtype = (a if isinstance(a, Tensor) else b).dtype
    return be.where(first_wins(a_, b_), be.asarray(1, dtype), be.where(be.equal(a_, b_), be.asarray(0.5, dtype),
                                                                          be.asarray(0, dtype)))


class Maximum(Function):
    """Elementwise maximum; ties split the gradient evenly."""

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return ctx.backend.maximum(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = _saved_operands(ctx)
        w = constant(ctx, _tie_weights(ctx, a, b, ctx.backend.greater))
        return g * w, g * (1 - w)


class Minimum(Function):
    """Elementwise minimum; ties split the gradient evenly."""

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return ctx.backend.minimum(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = _saved_operands(ctx)
        w = constant(ctx, _tie_weights(ctx, a, b, ctx.backend.less))
        return g * w, g * (1 - w)


class Where(Function):
    """``a`` where ``condition`` holds, else ``b``; no gradient for the condition."""

    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.condition = condition
        return ctx.backend.where(data(condition), data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        c = ctx.condition
        ga = Where.apply(c, g, 0.0) if ctx.needs_input_grad[1] else None
        gb = Where.apply(c, 0.0, g) if ctx.needs_input_grad[2] else None
        return None, ga, gb


# -- public functions -------------------------------------------------------------------------------
def add(a, b) -> Tensor:
    """a + b, broadcasting."""
    return Add.apply(*binary_operands(a, b))


def sub(a, b) -> Tensor:
    """a - b, broadcasting."""
    return Sub.apply(*binary_operands(a, b))


def mul(a, b) -> Tensor:
    """a * b, broadcasting."""
    return Mul.apply(*binary_operands(a, b))


def div(a, b) -> Tensor:
    """a / b (true division), broadcasting."""
    a, b = binary_operands(a, b)
    if not isinstance(a, Tensor) or a.dtype.kind != "f":
        if isinstance(b, Tensor) and b.dtype.kind != "f":
            b = b.float()
        if isinstance(a, Tensor) and a.dtype.kind != "f":
            a = a.float()
    return Div.apply(a, b)


def pow(a, b) -> Tensor:  # noqa: A001 - PyTorch's name
    """a ** b, broadcasting."""
    return Pow.apply(*binary_operands(a, b))


def neg(x: Tensor) -> Tensor:
    """-x"""
    return Neg.apply(x)


def maximum(a, b) -> Tensor:
    """Elementwise maximum; at ties each side gets half the gradient."""
    return Maximum.apply(*binary_operands(a, b))


def minimum(a, b) -> Tensor:
    """Elementwise minimum; at ties each side gets half the gradient."""
    return Minimum.apply(*binary_operands(a, b))


def where(condition, a, b) -> Tensor:
    """Pick ``a`` where ``condition`` is true, else ``b``, broadcasting all three."""
    from ..tensor import tensor

    a, b = binary_operands(a, b)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    if not isinstance(condition, Tensor):
        condition = tensor(condition, dtype="bool", backend=None if like is None else like.backend)
    if condition.dtype.kind != "b":
        raise TypeError(f"where: the condition must be a bool tensor, got {condition.dtype.name}")
    if like is None:  # two numbers: the first gets the default dtype (float32 for a float), not float64
        a = tensor(a, backend=condition.backend)
    return Where.apply(condition, a, b)


def masked_fill(x: Tensor, mask: Tensor, value) -> Tensor:
    """PyTorch's ``masked_fill`` (out of place): ``value`` where the bool ``mask`` (broadcast to ``x``'s shape)
    holds, else ``x``; keeps ``x``'s dtype. The gradient flows to ``x`` where the mask is false, and to a tensor
    ``value`` (0-d) from where it is true."""
    from ..tensor import tensor

    if not isinstance(mask, Tensor) or mask.dtype.kind != "b":
        raise TypeError(f"masked_fill: mask must be a bool tensor, got "
                        f"{mask.dtype.name if isinstance(mask, Tensor) else type(mask).__name__}")
    try:
        fits = np.broadcast_shapes(mask.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"masked_fill: a mask of shape {mask.shape} does not broadcast to the tensor's shape "
                         f"{x.shape}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        value = value.astype(x.dtype)
    else:
        value = tensor(value, dtype=x.dtype, backend=x.backend)
    return Where.apply(mask, value, x)


# -- comparisons and logic: bool results, no gradient -------------------------------------------------
def _compare(name: str, a, b) -> Tensor:
    a, b = binary_operands(a, b)
    like = a if isinstance(a, Tensor) else b
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._backend is not b._backend:
        from ..errors import BackendMismatchError

        raise BackendMismatchError(f"{name}: inputs live on different backends ({a.backend!r} and {b.backend!r})")
    backend = like._backend
    try:
        result = getattr(backend, name)(data(a), data(b))
    except ValueError as exc:
        from ..errors import ShapeError

        shapes = [getattr(x, "shape", type(x).__name__) for x in (a, b)]
        raise ShapeError(f"{name}: operands with shapes {shapes[0]} and {shapes[1]} do not broadcast") from exc
    return Tensor(backend.asarray(result), backend)


def eq(a, b) -> Tensor:
    """a == b, elementwise."""
    return _compare("equal", a, b)


def ne(a, b) -> Tensor:
    """a != b, elementwise."""
    return _compare("not_equal", a, b)


def lt(a, b) -> Tensor:
    """a < b, elementwise."""
    return _compare("less", a, b)


def le(a, b) -> Tensor:
    """a <= b, elementwise."""
    return _compare("less_equal", a, b)


def gt(a, b) -> Tensor:
    """a > b, elementwise."""
    return _compare("greater", a, b)


def ge(a, b) -> Tensor:
    """a >= b, elementwise."""
    return _compare("greater_equal", a, b)


def logical_and(a, b) -> Tensor:
    return _compare("logical_and", a, b)


def logical_or(a, b) -> Tensor:
    return _compare("logical_or", a, b)


def logical_not(x: Tensor) -> Tensor:
    return Tensor(x._backend.logical_not(x.data), x._backend)


def isnan(x: Tensor) -> Tensor:
    """Where ``x`` is NaN (bool, no gradient)."""
    return Tensor(x._backend.asarray(x._backend.isnan(x.data)), x._backend)


def isfinite(x: Tensor) -> Tensor:
    """Where ``x`` is neither NaN nor infinite (bool, no gradient)."""
    return Tensor(x._backend.asarray(x._backend.isfinite(x.data)), x._backend)
