"""More pointwise math with PyTorch's names: addcmul/addcdiv, float_power, exp2, logaddexp2, ldexp, copysign,
fmax/fmin, heaviside, signbit, gcd/lcm, the bitwise ops, and PyTorch's aliases of existing ops (multiply,
subtract, greater, ...)."""

from __future__ import annotations

import math

from ..function import Function
from ..tensor import Tensor
from ._common import binary_operands, data, zero_gradient
from ._registry import no_gradient, public
from .arithmetic import (
    Where,
    _grads,
    _operands,
    _save_operands,
    _saved_operands,
    div,
    ge,
    gt,
    isinf,
    isnan,
    le,
    lt,
    mul,
    ne,
    neg,
    pow,
    sub,
)
from .arithmetic import logaddexp as _logaddexp
from .elementwise import abs, trunc  # noqa: A004 - PyTorch's name


@public(spec=False)
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:  # noqa: A002
    """input + value * tensor1 * tensor2, broadcasting (the optimizers' second-moment update)."""
    return input + (tensor1 if value == 1 else value * tensor1) * tensor2


@public(spec=False)
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:  # noqa: A002
    """input + value * tensor1 / tensor2, broadcasting; integer tensor1 and tensor2 are refused, as PyTorch
    refuses them (it once divided them as integers)."""
    if all(isinstance(t, Tensor) and t.dtype.kind in "iub" for t in (tensor1, tensor2)):
        raise TypeError(f"addcdiv: integer division of tensor1 ({tensor1.dtype.name}) by tensor2 "
                        f"({tensor2.dtype.name}) is not supported, as in PyTorch; use addcmul(input, tensor1, "
                        "1 / tensor2) or floating tensors")
    return input + (tensor1 if value == 1 else value * tensor1) / tensor2


def _double(x):
    return x.double() if isinstance(x, Tensor) else float(x)


@public(spec=False)
def float_power(input: Tensor | float, exponent: Tensor | float) -> Tensor:  # noqa: A002
    """input ** exponent computed in float64 whatever the dtypes (PyTorch's), broadcasting."""
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power: expected a tensor among the operands")
    return pow(_double(input), _double(exponent))


@public(spec=False)
def exp2(input: Tensor) -> Tensor:  # noqa: A002
    """2 ** input; integer tensors give float32."""
    return pow(2.0, input)


@public(spec=False)
def logaddexp2(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002
    """log2(2 ** input + 2 ** other) without overflow; floating tensors only, as PyTorch."""
    a, b = _operands("logaddexp2", input, other, floating=True, integers=False)
    return _logaddexp(a * math.log(2), b * math.log(2)) / math.log(2)


@public(spec=False)
def ldexp(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """input * 2 ** other (PyTorch's ldexp, differentiable in both); integers give float32."""
    return mul(input, pow(2.0, other))


class Copysign(Function):
    """|a| with the sign of b (-0.0 and -NaN count as negative); b gets no gradient, as in PyTorch."""

    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, None)
        return ctx.backend.copysign(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        a, _ = _saved_operands(ctx)
        # PyTorch's rule: g * (result / a), 0 where a == 0; the ratio is written without 0 / 0 there.
        zero = a == 0
        ratio = ctx.output / Where.apply(zero, 1.0, a)
        return Where.apply(zero, 0.0, g * ratio), None


@public
def copysign(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002
    """|input| with the sign of ``other``, broadcasting; integers become floating. Differentiable in ``input``."""
    return Copysign.apply(*_operands("copysign", input, other, floating=True))


def _nan_aware_extremum(name: str, kernel: str, keeps_first):
    """fmax/fmin: NaN only where both are NaN. The gradient goes to ``input`` where it is the result (ties
    included, as PyTorch's), else to ``other``."""

    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return getattr(ctx.backend, kernel)(data(a), data(b))

    def backward(ctx, g):
        a, b = _saved_operands(ctx)
        first = keeps_first(a, b) | isnan(b) if isinstance(b, Tensor) else keeps_first(a, b)
        return _grads(ctx, lambda: Where.apply(first, g, 0.0), lambda: Where.apply(first, 0.0, g))

    return type(name, (Function,), {"__doc__": f"PyTorch's {kernel}.", "forward": staticmethod(forward),
                                    "backward": staticmethod(backward)})


Fmax = _nan_aware_extremum("Fmax", "fmax", ge)
Fmin = _nan_aware_extremum("Fmin", "fmin", le)


@public
def fmax(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002
    """Elementwise maximum that ignores NaN (NaN only where both are); at ties the gradient goes to ``input``."""
    return Fmax.apply(*_operands("fmax", input, other, floating=False))


@public
def fmin(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002
    """Elementwise minimum that ignores NaN (NaN only where both are); at ties the gradient goes to ``input``."""
    return Fmin.apply(*_operands("fmin", input, other, floating=False))


class Heaviside(Function):
    """0 where x < 0, ``values`` where x == 0, 1 where x > 0. Recorded without a derivative, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, values):
        return ctx.backend.heaviside(data(x), data(values))

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("heaviside: the derivative is not implemented (PyTorch has none either); detach the "
                           "input")


@public(spec=False)
def heaviside(input: Tensor, values: Tensor) -> Tensor:  # noqa: A002
    """The Heaviside step: 0 below 0, ``values`` at 0, 1 above; both tensors of one dtype, as PyTorch asks."""
    if not isinstance(input, Tensor) or not isinstance(values, Tensor):
        raise TypeError(f"heaviside: expected two tensors, got {type(input).__name__} and {type(values).__name__}")
    if input.dtype != values.dtype:
        raise TypeError(f"heaviside: input ({input.dtype.name}) and values ({values.dtype.name}) must have the "
                        "same dtype, as in PyTorch")
    return Heaviside.apply(input, values)


class Nextafter(Function):
    """The next float after a in the direction of b; PyTorch's gradient: 1 for a, 0 for b."""

    @staticmethod
    def forward(ctx, a, b):
        return ctx.backend.nextafter(data(a), data(b))

    @staticmethod
    def backward(ctx, g):
        return _grads(ctx, lambda: g, lambda: zero_gradient(g))


@public
def nextafter(input: Tensor | float, other: Tensor | float) -> Tensor:  # noqa: A002
    """The next representable value after ``input`` towards ``other``, broadcasting; floating tensors only."""
    return Nextafter.apply(*_operands("nextafter", input, other, floating=True, integers=False))


@public(spec=False)
def isposinf(input: Tensor) -> Tensor:  # noqa: A002
    """Where ``input`` is +inf (bool, no gradient)."""
    return isinf(input) & gt(input, 0)


@public(spec=False)
def isneginf(input: Tensor) -> Tensor:  # noqa: A002
    """Where ``input`` is -inf (bool, no gradient)."""
    return isinf(input) & lt(input, 0)


@public(spec=False, method=False)
def rsub(input: Tensor | float, other: Tensor | float, *, alpha: float = 1) -> Tensor:  # noqa: A002
    """other - alpha * input (PyTorch's reversed subtraction)."""
    return sub(other, input if alpha == 1 else alpha * input)


@no_gradient("signbit")
def signbit(x: Tensor) -> Tensor:
    """Whether the sign bit is set (true for -0.0), bool; no gradient."""


def _integer_operands(name: str, a, b, *, bools: bool) -> tuple:
    for x in (a, b):
        kind = x.dtype.kind if isinstance(x, Tensor) else ("b" if isinstance(x, bool) else
                                                           "i" if isinstance(x, int) else "f")
        if kind == "f" or kind == "b" and not bools:
            raise TypeError(f"{name}: expected {'integer or bool' if bools else 'integer'} tensors, got "
                            f"{x.dtype.name if isinstance(x, Tensor) else type(x).__name__} (as PyTorch)")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected a tensor among the operands")
    return binary_operands(a, b)


def _integer_op(kernel: str, name: str, bools: bool, doc: str):
    """A binary op on integer (and bool) tensors: no gradient, outside the graph."""
    cls = type("".join(p.title() for p in name.split("_")), (Function,), {
        "__doc__": doc, "differentiable": False,
        "forward": staticmethod(lambda ctx, a, b: getattr(ctx.backend, kernel)(data(a), data(b)))})

    def op(input, other):  # noqa: A002 - PyTorch's names
        return cls.apply(*_integer_operands(name, input, other, bools=bools))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    op.function = cls
    return public(op, spec=False)


gcd = _integer_op("gcd", "gcd", False, "The greatest common divisor, elementwise (>= 0); integer tensors.")
lcm = _integer_op("lcm", "lcm", False, "The least common multiple, elementwise (>= 0); integer tensors.")
bitwise_and = _integer_op("bitwise_and", "bitwise_and", True, "a & b bit by bit; integer or bool tensors.")
bitwise_or = _integer_op("bitwise_or", "bitwise_or", True, "a | b bit by bit; integer or bool tensors.")
bitwise_xor = _integer_op("bitwise_xor", "bitwise_xor", True, "a ^ b bit by bit; integer or bool tensors.")
bitwise_left_shift = _integer_op("left_shift", "bitwise_left_shift", False, "a << b; integer tensors.")
bitwise_right_shift = _integer_op("right_shift", "bitwise_right_shift", False,
                                  "a >> b (arithmetic: the sign is kept); integer tensors.")


class BitwiseNot(Function):
    """~x bit by bit (logical not for bool)."""

    differentiable = False

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.bitwise_not(x.array)


@public(spec=False)
def bitwise_not(input: Tensor) -> Tensor:  # noqa: A002
    """~input bit by bit: -x - 1 for integers, logical not for bool; floating tensors are refused, as PyTorch."""
    if input.dtype.kind == "f":
        raise TypeError(f"bitwise_not: expected an integer or bool tensor, got {input.dtype.name} (as PyTorch)")
    return BitwiseNot.apply(input)


@public(spec=False)
def positive(input: Tensor) -> Tensor:  # noqa: A002
    """``input`` itself (PyTorch's unary plus); bool tensors are refused, as PyTorch."""
    if input.dtype.kind == "b":
        raise TypeError("positive: not supported for bool tensors (as PyTorch)")
    return input


# PyTorch's other names for existing ops.
public(mul, spec=False, aliases=("multiply",))
public(sub, spec=False, aliases=("subtract",))
public(div, spec=False, aliases=("true_divide",))
public(neg, spec=False, aliases=("negative",))
public(gt, spec=False, aliases=("greater",))
public(ge, spec=False, aliases=("greater_equal",))
public(lt, spec=False, aliases=("less",))
public(le, spec=False, aliases=("less_equal",))
public(ne, spec=False, aliases=("not_equal",))
public(trunc, spec=False, aliases=("fix",))
public(abs, spec=False, aliases=("absolute",))
