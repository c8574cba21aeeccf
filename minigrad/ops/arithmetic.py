"""Arithmetic and binary elementwise ops."""

from __future__ import annotations

import math

import numpy as np

from ..dtypes import default_float
from ..errors import ShapeError
from ..function import Function
from ..grad_mode import no_grad
from ..tensor import Tensor, tensor
from ._common import binary_operands, data, zero_gradient
from ._registry import no_gradient, public


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
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if isinstance(b, Tensor):
                # d/da a**0 is 0, also at a = 0, where b * a**(b - 1) is 0 * inf (PyTorch gives 0 too).
                # Masking only there keeps the expression, and its derivatives, everywhere else.
                with _zero_base():
                    ga = Where.apply((b == 0) & (a == 0), 0.0, g * b * a ** (b - 1))
            elif b == 2:
                ga = g * a * 2
            elif b == 1:
                ga = g
            elif b == 0:
                ga = zero_gradient(g)  # not g * 0 * a ** -1, which is NaN at a = 0 (PyTorch gives 0 too)
            else:
                ga = g * b * a ** (b - 1)
        if ctx.needs_input_grad[1]:
            # d/db a**b = a**b * log(a). At a = 0 with b >= 0 it is 0 * -inf or 1 * -inf: the limit from
            # a > 0 is 0 for b > 0, and PyTorch defines it as 0 for b = 0 as well.
            if isinstance(a, Tensor):
                with _zero_base():
                    gb = g * ctx.output * a.log()
                gb = Where.apply((a == 0) & (b >= 0), 0.0, gb)
            elif a == 0:  # 0**b is inf for b < 0, so the product there is -inf (times the sign of g)
                gb = Where.apply(b >= 0, 0.0, g * -math.inf)
            else:
                gb = g * ctx.output * (math.log(a) if a > 0 else math.nan)
        return ga, gb


class Neg(Function):
    """-x"""

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.negative(x.array)

    @staticmethod
    def backward(ctx, g):
        return (-g,)


def _tie_weights(a, b, first_wins):
    """How much of the gradient goes to ``a``: 1 where it is selected, 1/2 on ties, else 0."""
    dtype = (a if isinstance(a, Tensor) else b).dtype
    return Where.apply(eq(a, b), 0.5, first_wins(a, b).astype(dtype))


class Maximum(Function):
    """Elementwise maximum; ties split the gradient evenly."""

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return ctx.backend.maximum(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = _saved_operands(ctx)
        w = _tie_weights(a, b, gt)
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
        w = _tie_weights(a, b, lt)
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
@public
def add(input, other, *, alpha=1) -> Tensor:  # noqa: A002 - PyTorch's names
    """input + alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(*binary_operands(input, other))


@public
def sub(input, other, *, alpha=1) -> Tensor:  # noqa: A002 - PyTorch's names
    """input - alpha * other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Sub.apply(*binary_operands(input, other))


@public
def mul(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """input * other, broadcasting."""
    return Mul.apply(*binary_operands(input, other))


@public(aliases=("divide",))
def div(input, other, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """input / other (true division), broadcasting; ``rounding_mode="trunc"`` or ``"floor"`` rounds the quotient
    (integers stay integers) and gives zero gradients, as PyTorch."""
    a, b = input, other
    if rounding_mode is not None:
        return _rounded_division(a, b, rounding_mode)
    a, b = binary_operands(a, b)
    if not isinstance(a, Tensor) or a.dtype.kind != "f":
        if isinstance(b, Tensor) and b.dtype.kind != "f":
            b = b.astype(default_float())
        if isinstance(a, Tensor) and a.dtype.kind != "f":
            a = a.astype(default_float())
    return Div.apply(a, b)


@public
def pow(input, exponent) -> Tensor:  # noqa: A001, A002 - PyTorch's names
    """input ** exponent, broadcasting."""
    return Pow.apply(*binary_operands(input, exponent))


@public(method_aliases=("negative",))
def neg(x: Tensor) -> Tensor:
    """-x"""
    return Neg.apply(x)


@public
def maximum(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """Elementwise maximum; at ties each side gets half the gradient."""
    return Maximum.apply(*binary_operands(input, other))


@public
def minimum(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """Elementwise minimum; at ties each side gets half the gradient."""
    return Minimum.apply(*binary_operands(input, other))


_ONE_ARGUMENT = object()


@public(method=False)
def where(condition, input=_ONE_ARGUMENT, other=_ONE_ARGUMENT):  # noqa: A002 - PyTorch's names
    """Pick ``input`` where ``condition`` is true, else ``other``, broadcasting all three. With the condition
    alone, ``nonzero(condition, as_tuple=True)``, as PyTorch."""
    a, b = input, other
    if a is _ONE_ARGUMENT and b is _ONE_ARGUMENT:
        from .sorting import nonzero

        return nonzero(condition, as_tuple=True)
    if a is _ONE_ARGUMENT or b is _ONE_ARGUMENT:
        raise TypeError("where: give both input and other, or the condition alone")
    a, b = binary_operands(a, b)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    if not isinstance(condition, Tensor):
        condition = tensor(condition, dtype="bool", backend=None if like is None else like.backend)
    if condition.dtype.kind != "b":
        raise TypeError(f"where: the condition must be a bool tensor, got {condition.dtype.name}")
    if like is None:  # two numbers: the first gets the default dtype (float32 for a float), not float64
        a = tensor(a, backend=condition.backend)
    return Where.apply(condition, a, b)


@public
def masked_fill(x: Tensor, mask: Tensor, value) -> Tensor:
    """PyTorch's ``masked_fill`` (out of place): ``value`` where the bool ``mask`` (broadcast to ``x``'s shape)
    holds, else ``x``; keeps ``x``'s dtype. The gradient flows to ``x`` where the mask is false, and to a tensor
    ``value`` (0-d) from where it is true."""
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
@no_gradient("equal")
def eq(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """input == other, elementwise."""


@no_gradient("not_equal")
def ne(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """input != other, elementwise."""


@no_gradient("less")
def lt(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """input < other, elementwise."""


@no_gradient("less_equal")
def le(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """input <= other, elementwise."""


@no_gradient("greater")
def gt(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """input > other, elementwise."""


@no_gradient("greater_equal")
def ge(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """input >= other, elementwise."""


@no_gradient("logical_and")
def logical_and(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """input and other, elementwise."""


@no_gradient("logical_or")
def logical_or(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """input or other, elementwise."""


@no_gradient("logical_not")
def logical_not(x: Tensor) -> Tensor:
    """not x, elementwise."""


@no_gradient("logical_xor")
def logical_xor(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """input xor other, elementwise."""


@no_gradient("isinf")
def isinf(x: Tensor) -> Tensor:
    """Where ``x`` is +inf or -inf (bool, no gradient)."""


@no_gradient("isnan")
def isnan(x: Tensor) -> Tensor:
    """Where ``x`` is NaN (bool, no gradient)."""


@no_gradient("isfinite")
def isfinite(x: Tensor) -> Tensor:
    """Where ``x`` is neither NaN nor infinite (bool, no gradient)."""


@public(spec=False)
def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:  # noqa: A002
    """Where |input - other| <= atol + rtol * |other| (bool, no gradient), PyTorch's test: an infinity is close
    to itself only, and NaN to NaN only with ``equal_nan``. The shapes must broadcast."""
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    like = input if isinstance(input, Tensor) else other
    if not isinstance(like, Tensor):
        raise TypeError(f"isclose: expected a tensor, got {type(input).__name__} and {type(other).__name__}")
    a, b = (v if isinstance(v, Tensor) else tensor(v, backend=like.backend) for v in (input, other))
    a, b = binary_operands(a, b)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"isclose: shapes {a.shape} and {b.shape} do not broadcast") from None
    with no_grad():
        finite = isfinite(a) & isfinite(b)  # an infinity is close only to an equal one (a == b)
        a0, b0 = where(finite, a, 0), where(finite, b, 0)  # no inf - inf in the difference
        close = (a == b) | (finite & ((a0 - b0).abs() <= atol + rtol * b0.abs()))
        return close | (isnan(a) & isnan(b)) if equal_nan else close


@public(spec=False)
def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:  # noqa: A002
    """Whether ``isclose`` holds everywhere: a Python bool, as PyTorch's ``allclose``."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


# -- more binary elementwise ops ------------------------------------------------------------------------------
def _operands(name: str, a, b, *, floating: bool, integers: bool = True) -> tuple:
    """``binary_operands`` for an op that needs a tensor among its operands; ``floating``: integer and bool
    tensors become float32 (PyTorch's atan2(int, int) is float32); ``integers=False``: they are refused, as
    PyTorch refuses them (hypot, logaddexp)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected a tensor among the operands, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    a, b = binary_operands(a, b)
    kinds = [x.dtype for x in (a, b) if isinstance(x, Tensor)]
    if not integers and any(d.kind != "f" for d in kinds):
        raise TypeError(f"{name}: expected floating tensors, got {', '.join(d.name for d in kinds)} "
                        "(PyTorch does not implement it for integers either)")
    if floating:
        a, b = (x.astype(default_float()) if isinstance(x, Tensor) and x.dtype.kind != "f" else x for x in (a, b))
    return a, b


def _grads(ctx, ga, gb) -> tuple:
    """Each gradient only where its input needs one (a number operand never does)."""
    need_a, need_b = ctx.needs_input_grad
    return (ga() if need_a else None), (gb() if need_b else None)


class Atan2(Function):
    """atan2(a, b), the angle of the point (b, a)."""

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return ctx.backend.arctan2(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = _saved_operands(ctx)
        # PyTorch's formula, whose 1 / (a^2 + b^2) is 0 where a^2 + b^2 is 0 (the origin, or squares that
        # underflow): the gradient there is a signed 0.
        squares = a * a + b * b
        with _zero_base():
            recip = Where.apply(squares == 0, 0.0, squares.reciprocal())
        return _grads(ctx, lambda: g * b * recip, lambda: g * -a * recip)


class Hypot(Function):
    """sqrt(a^2 + b^2) without overflow or underflow in the squares."""

    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return ctx.backend.hypot(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = _saved_operands(ctx)
        y = ctx.output
        return _grads(ctx, lambda: g * a / y, lambda: g * b / y)


class Logaddexp(Function):
    """log(e^a + e^b) without overflow."""

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return ctx.backend.logaddexp(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = _saved_operands(ctx)
        return _grads(ctx, lambda: g / ((b - a).exp() + 1), lambda: g / ((a - b).exp() + 1))


class Xlogy(Function):
    """x * log(y), and 0 where x == 0 unless y is NaN."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return ctx.backend.xlogy(x.array, y.array)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        # PyTorch's d/dx: xlogy(g, y) (0 where g is 0, even where log(y) is -inf), and 0 where x == 0 and y <= 0,
        # where the rule takes log(1) rather than a NaN that detect_anomaly would report.
        def grad_x():
            zero = (x == 0) & (y <= 0)
            return Where.apply(zero, 0.0, Xlogy.apply(g, Where.apply(zero, 1.0, y)))

        return _grads(ctx, grad_x, lambda: g * x / y)


def _quotient(a, b, rounding: str):
    """``div(a, b, rounding_mode=...)`` outside the graph: the rounded quotient is piecewise constant."""
    with no_grad():
        return div(a, b, rounding_mode=rounding)


class Remainder(Function):
    """a - b * floor(a / b): the sign of b, as Python's %."""

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return ctx.backend.remainder(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = _saved_operands(ctx)
        return _grads(ctx, lambda: g, lambda: -g * _quotient(a, b, "floor"))


class Fmod(Function):
    """a - b * trunc(a / b): the sign of a, as C's fmod."""

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return ctx.backend.fmod(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, b = _saved_operands(ctx)
        return _grads(ctx, lambda: g, lambda: -g * _quotient(a, b, "trunc"))


class FloorDivide(Function):
    """floor(a / b). Recorded, but without a derivative, as in PyTorch: backward through it raises."""

    @staticmethod
    def forward(ctx, a, b):
        return ctx.backend.floor_divide(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("floor_divide: the derivative is not implemented (PyTorch has none either); detach its "
                           "operands, or write the gradient you want with floor(a / b), whose derivative is 0")


class RoundedDivide(Function):
    """a / b rounded toward zero or down (PyTorch's ``div`` with a rounding mode): piecewise constant, so the
    gradients are 0, as PyTorch's."""

    @staticmethod
    def forward(ctx, a, b, mode):
        kernel = ctx.backend.floor_divide if mode == "floor" else ctx.backend.trunc_divide
        return kernel(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        need_a, need_b, _ = ctx.needs_input_grad
        return (zero_gradient(g) if need_a else None), (zero_gradient(g) if need_b else None), None


def _rounded_division(a, b, mode) -> Tensor:
    if mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {mode!r}")
    a, b = _operands("div", a, b, floating=False)
    _integer_division("div", a, b)
    return RoundedDivide.apply(a, b, mode)


def _integer_division(name: str, a, b) -> None:
    """Integer division by zero is an error, as in PyTorch (NumPy would return 0 with a warning)."""
    if isinstance(b, Tensor) and b.dtype.kind in "iub" and (not isinstance(a, Tensor) or a.dtype.kind in "iub"):
        zero = bool((b == 0).any())
    else:
        zero = isinstance(b, int) and b == 0 and isinstance(a, Tensor) and a.dtype.kind in "iub"
    if zero:
        raise ZeroDivisionError(f"{name}: integer division by zero")


@public(aliases=("arctan2",))
def atan2(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002 - PyTorch's names
    """The angle of the point (other, input), in [-pi, pi], broadcasting; integer tensors give float32."""
    return Atan2.apply(*_operands("atan2", input, other, floating=True))


@public
def hypot(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002 - PyTorch's names
    """sqrt(input^2 + other^2) elementwise, broadcasting, without overflow; floating tensors only."""
    return Hypot.apply(*_operands("hypot", input, other, floating=True, integers=False))


@public
def logaddexp(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002 - PyTorch's names
    """log(exp(input) + exp(other)) elementwise, broadcasting, without overflow; floating tensors only."""
    return Logaddexp.apply(*_operands("logaddexp", input, other, floating=True, integers=False))


@public
def xlogy(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002 - PyTorch's names
    """input * log(other), and 0 where input == 0 unless other is NaN; broadcasting, integers give float32."""
    x, y = _operands("xlogy", input, other, floating=True)
    like = x if isinstance(x, Tensor) else y
    x, y = (v if isinstance(v, Tensor) else tensor(v, dtype=like.dtype, backend=like.backend) for v in (x, y))
    return Xlogy.apply(x, y)


@public
def remainder(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002 - PyTorch's names
    """input - other * floor(input / other), broadcasting: the sign of ``other``, as Python's ``%`` (``Tensor %``)."""
    a, b = _operands("remainder", input, other, floating=False)
    _integer_division("remainder", a, b)
    return Remainder.apply(a, b)


@public
def fmod(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002 - PyTorch's names
    """input - other * trunc(input / other), broadcasting: the sign of ``input``, as C's ``fmod``."""
    a, b = _operands("fmod", input, other, floating=False)
    _integer_division("fmod", a, b)
    return Fmod.apply(a, b)


@public(spec=False)
def floor_divide(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002 - PyTorch's names
    """floor(input / other), broadcasting (``Tensor //``); integers stay integers. No derivative, as in PyTorch."""
    a, b = _operands("floor_divide", input, other, floating=False)
    _integer_division("floor_divide", a, b)
    return FloorDivide.apply(a, b)
