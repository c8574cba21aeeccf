"""Unary elementwise ops and activations.

Conventions at kinks: relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = negative_slope, and clip passes the
gradient where min <= x <= max (both ends included), as PyTorch does.
"""

from __future__ import annotations

import math

from ..dtypes import as_dtype
from ..function import Function
from ..grad_mode import no_grad
from ..tensor import Tensor
from ._common import constant

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class Abs(Function):
    """|x|"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.abs(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * constant(ctx, ctx.backend.sign(x.data))


class Exp(Function):
    """e ** x"""

    save_output = True

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.exp(x.data)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.output


class Log(Function):
    """Natural logarithm."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.log(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Sqrt(Function):
    """Square root."""

    save_output = True

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.sqrt(x.data)

    @staticmethod
    def backward(ctx, g):
        return g / (ctx.output * 2)


class Rsqrt(Function):
    """1 / sqrt(x)."""

    save_output = True

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.rsqrt(x.data)

    @staticmethod
    def backward(ctx, g):
        out = ctx.output
        return g * (out * out * out) * -0.5


class Sin(Function):
    """Sine."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.sin(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.cos()


class Cos(Function):
    """Cosine."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.cos(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * x.sin()


class Erf(Function):
    """The error function."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.erf(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (-(x * x)).exp() * (2 / math.sqrt(math.pi))


class Tanh(Function):
    """Hyperbolic tangent."""

    save_output = True

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.tanh(x.data)

    @staticmethod
    def backward(ctx, g):
        return (TanhBackward.apply(g, ctx.output),)


class TanhBackward(Function):
    """g * (1 - y**2), one fused kernel; differentiable in both g and y."""

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return ctx.backend.tanh_backward(g.data, y.data)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        return gg * (1 - y * y), gg * g * y * -2


class Sigmoid(Function):
    """1 / (1 + e ** -x), computed without overflow."""

    save_output = True

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.sigmoid(x.data)

    @staticmethod
    def backward(ctx, g):
        return (SigmoidBackward.apply(g, ctx.output),)


class SigmoidBackward(Function):
    """g * y * (1 - y), one fused kernel; differentiable in both g and y."""

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return ctx.backend.sigmoid_backward(g.data, y.data)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        return gg * y * (1 - y), gg * g * (1 - y * 2)


class Relu(Function):
    """max(x, 0); the gradient at 0 is 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.relu(x.data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ReluBackward.apply(g, x)


class ReluBackward(Function):
    """g * (x > 0), one fused kernel; linear in g, and its derivative in x is 0 (almost everywhere)."""

    @staticmethod
    def forward(ctx, g, x):
        ctx.save_for_backward(x)
        return ctx.backend.relu_backward(g.data, x.data)

    @staticmethod
    def backward(ctx, gg):
        (x,) = ctx.saved_tensors
        return ReluBackward.apply(gg, x), None


class LeakyRelu(Function):
    """x if x > 0 else negative_slope * x."""

    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return ctx.backend.leaky_relu(x.data, negative_slope)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return LeakyReluBackward.apply(g, x, ctx.slope), None


class LeakyReluBackward(Function):
    """g * (1 if x > 0 else negative_slope), one fused kernel; linear in g, 0 derivative in x."""

    @staticmethod
    def forward(ctx, g, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return ctx.backend.leaky_relu_backward(g.data, x.data, negative_slope)

    @staticmethod
    def backward(ctx, gg):
        (x,) = ctx.saved_tensors
        return LeakyReluBackward.apply(gg, x, ctx.slope), None, None


class Gelu(Function):
    """x * Phi(x) (exact, with erf) or its tanh approximation."""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return ctx.backend.gelu(x.data, approximate)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return GeluBackward.apply(g, x, ctx.approximate), None


class GeluBackward(Function):
    """g * gelu'(x), one fused kernel; differentiable in g and x (gelu'' written in tensor ops)."""

    @staticmethod
    def forward(ctx, g, x, approximate):
        ctx.save_for_backward(g, x)
        ctx.approximate = approximate
        return ctx.backend.gelu_backward(g.data, x.data, approximate)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need_g, need_x = ctx.needs_input_grad[:2]
        gg_g = GeluBackward.apply(gg, x, ctx.approximate) if need_g else None
        gg_x = gg * g * _gelu_second_derivative(x, ctx.approximate) if need_x else None
        return gg_g, gg_x, None


def _gelu_second_derivative(x: Tensor, approximate: str) -> Tensor:
    """gelu''(x) in tensor ops (so it differentiates again).

    Exact: gelu' = Phi + x phi, so gelu'' = 2 phi - x^2 phi = phi (2 - x^2).
    tanh: with u = c (x + k x^3), t = tanh(u), gelu' = (1 + t) / 2 + x (1 - t^2) u' / 2, so
    gelu'' = (1 - t^2) (u' - x t u'^2 + x u'' / 2), u' = c (1 + 3 k x^2), u'' = 6 c k x.
    """
    if approximate == "tanh":
        x2 = x * x
        t = ((x + x2 * x * 0.044715) * _SQRT_2_OVER_PI).tanh()
        du = (x2 * (3 * 0.044715) + 1) * _SQRT_2_OVER_PI
        ddu = x * (6 * 0.044715 * _SQRT_2_OVER_PI)
        return (1 - t * t) * (du - x * t * du * du + x * ddu * 0.5)
    pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
    return pdf * (2 - x * x)


class Softplus(Function):
    """log(1 + e ** (beta x)) / beta, linear above ``threshold`` as in PyTorch."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        return ctx.backend.softplus(x.data, beta, threshold)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return SoftplusBackward.apply(g, x, ctx.beta, ctx.threshold), None, None


class SoftplusBackward(Function):
    """g * (1 if beta x > threshold else sigmoid(beta x)), one fused kernel; differentiable in g and x."""

    @staticmethod
    def forward(ctx, g, x, beta, threshold):
        ctx.save_for_backward(g, x)
        ctx.beta, ctx.threshold = beta, threshold
        return ctx.backend.softplus_backward(g.data, x.data, beta, threshold)

    @staticmethod
    def backward(ctx, gg):
        g, x = ctx.saved_tensors
        need_g, need_x = ctx.needs_input_grad[:2]
        beta, threshold = ctx.beta, ctx.threshold
        gg_g = SoftplusBackward.apply(gg, x, beta, threshold) if need_g else None
        gg_x = None
        if need_x:  # d/dx sigmoid(beta x) = beta s (1 - s) below the threshold, 0 in the linear part
            bx = x * beta if beta != 1 else x
            s = bx.sigmoid()
            curve = constant(ctx, ctx.backend.greater(bx.data, threshold))
            gg_x = gg * g * Where.apply(curve, 0.0, s * (1 - s) * beta)
        return gg_g, gg_x, None, None


class Clip(Function):
    """min(max(x, low), high); the gradient passes where low <= x <= high."""

    @staticmethod
    def forward(ctx, x, low, high):
        ctx.save_for_backward(x)
        ctx.low, ctx.high = low, high
        return ctx.backend.clip(x.data, low, high)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        be = ctx.backend
        inside = None
        if ctx.low is not None:
            inside = be.greater_equal(x.data, ctx.low)
        if ctx.high is not None:
            upper = be.less_equal(x.data, ctx.high)
            inside = upper if inside is None else be.logical_and(inside, upper)
        return g * constant(ctx, inside), None, None


class Cast(Function):
    """Convert to another dtype; the gradient is converted back."""

    @staticmethod
    def forward(ctx, x, dtype):
        return ctx.backend.astype(x.data, dtype)

    @staticmethod
    def backward(ctx, g):
        return g, None  # the engine casts the gradient to the input's dtype


class Fill(Function):
    """A tensor of x's shape and dtype filled with ``value``; no gradient flows to x."""

    @staticmethod
    def forward(ctx, x, value):
        return ctx.backend.full(x.shape, value, x.dtype)

    @staticmethod
    def backward(ctx, g):
        return None, None


from .arithmetic import Where  # noqa: E402 - shared op


# -- public functions -------------------------------------------------------------------------------
def abs(x: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    """|x|; abs'(0) = 0."""
    return Abs.apply(x)


def exp(x: Tensor) -> Tensor:
    """e ** x"""
    return Exp.apply(_floating(x, "exp"))


def log(x: Tensor) -> Tensor:
    """Natural logarithm."""
    return Log.apply(_floating(x, "log"))


def sqrt(x: Tensor) -> Tensor:
    """Square root."""
    return Sqrt.apply(_floating(x, "sqrt"))


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x)."""
    return Rsqrt.apply(_floating(x, "rsqrt"))


def sin(x: Tensor) -> Tensor:
    """Sine."""
    return Sin.apply(_floating(x, "sin"))


def cos(x: Tensor) -> Tensor:
    """Cosine."""
    return Cos.apply(_floating(x, "cos"))


def erf(x: Tensor) -> Tensor:
    """The error function."""
    return Erf.apply(_floating(x, "erf"))


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(_floating(x, "tanh"))


def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid."""
    return Sigmoid.apply(_floating(x, "sigmoid"))


def relu(x: Tensor) -> Tensor:
    """max(x, 0); relu'(0) = 0."""
    return Relu.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    return LeakyRelu.apply(x, float(negative_slope))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x); ``approximate="tanh"`` uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return Gelu.apply(_floating(x, "gelu"), approximate)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    return Softplus.apply(_floating(x, "softplus"), float(beta), float(threshold))


def clip(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Clamp to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return Clip.apply(x, min, max)


clamp = clip


def cast(x: Tensor, dtype) -> Tensor:
    """x converted to ``dtype``; differentiable between floating dtypes."""
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        with no_grad():
            return Cast.apply(x, dtype)
    return Cast.apply(x, dtype)


def fill(x: Tensor, value) -> Tensor:
    """A tensor like ``x`` filled with ``value`` (the out-of-place half of ``fill_``)."""
    return Fill.apply(x, value)


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 elementwise; no gradient."""
    return Tensor(x._backend.sign(x.data), x._backend)


def _floating(x, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        return x.float()
    return x
