"""Unary elementwise ops and activations.

Conventions at kinks: relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = negative_slope, and clip passes the
gradient where min <= x <= max (both ends included), as PyTorch does.
"""

from __future__ import annotations

import math

import numpy as np

from ..dtypes import as_dtype, default_float
from ..errors import ShapeError
from ..function import Function
from ..grad_mode import no_grad
from ..tensor import Tensor, tensor
from ._common import binary_operands, zero_gradient
from ._registry import activation, elementwise, public
from .arithmetic import Where, ge, gt, isfinite, isnan, le, lt, where

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


# -- one-line gradients ----------------------------------------------------------------------------------
@elementwise(lambda g, x: g * x.sign(), floating=False)
def abs(x: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    """|x|; abs'(0) = 0."""


@elementwise(grad_of_output=lambda g, y: g * y)
def exp(x: Tensor) -> Tensor:
    """e ** x"""


@elementwise(lambda g, x: g / x)
def log(x: Tensor) -> Tensor:
    """Natural logarithm."""


@elementwise(grad_of_output=lambda g, y: g / (y * 2))
def sqrt(x: Tensor) -> Tensor:
    """Square root."""


@elementwise(grad_of_output=lambda g, y: g * (y * y * y) * -0.5)
def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x)."""


@elementwise(lambda g, x: g * x.cos())
def sin(x: Tensor) -> Tensor:
    """Sine."""


@elementwise(lambda g, x: -g * x.sin())
def cos(x: Tensor) -> Tensor:
    """Cosine."""


@elementwise(lambda g, x: g * (-(x * x)).exp() * (2 / math.sqrt(math.pi)))
def erf(x: Tensor) -> Tensor:
    """The error function."""


@elementwise(lambda g, x: g / (x + 1))
def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for small x."""


@elementwise(grad_of_output=lambda g, y: g * (y + 1))
def expm1(x: Tensor) -> Tensor:
    """e ** x - 1, accurate for small x."""


@elementwise(lambda g, x: g / (x * math.log(2)))
def log2(x: Tensor) -> Tensor:
    """Base-2 logarithm."""


@elementwise(lambda g, x: g / (x * math.log(10)))
def log10(x: Tensor) -> Tensor:
    """Base-10 logarithm."""


@elementwise(lambda g, x: g * x * 2, floating=False)
def square(x: Tensor) -> Tensor:
    """x * x (an integer tensor stays integer, as in PyTorch)."""


@elementwise(grad_of_output=lambda g, y: -g * y * y)
def reciprocal(x: Tensor) -> Tensor:
    """1 / x."""


# Rounding: piecewise constant, so the gradient is zero everywhere (PyTorch's choice at the jumps too).
def _zero_gradient(g, x):
    return zero_gradient(g)


@elementwise(_zero_gradient, floating=False)
def floor(x: Tensor) -> Tensor:
    """The largest integer <= x, in x's dtype; zero gradient."""


@elementwise(_zero_gradient, floating=False)
def ceil(x: Tensor) -> Tensor:
    """The smallest integer >= x, in x's dtype; zero gradient."""


class Round(Function):
    """x rounded to ``decimals`` decimal places, halves to even: PyTorch's nearbyint(x * 10^d) / 10^d (and
    nearbyint(x / 10^-d) * 10^-d for d < 0), computed in x's dtype as PyTorch's CPU kernel."""

    @staticmethod
    def forward(ctx, x, decimals):
        be, array = ctx.backend, x.array
        if decimals == 0:
            return be.round(array)
        try:
            scale = 10.0 ** (decimals if decimals > 0 else -decimals)
        except OverflowError:  # std::pow's inf
            scale = math.inf
        with np.errstate(all="ignore"):
            return be.round(array / scale) * scale if decimals < 0 else be.round(array * scale) / scale

    @staticmethod
    def backward(ctx, g):
        return zero_gradient(g), None


@public
def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001, A002 - PyTorch's names
    """The nearest integer, halves to even (as PyTorch), in x's dtype; with ``decimals``, rounded to that many
    decimal places (negative: to tens, hundreds, ...; floating tensors only). Zero gradient."""
    if not isinstance(input, Tensor):
        raise TypeError(f"round: expected a tensor, got {type(input).__name__}")
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    if decimals != 0 and input.dtype.kind != "f":
        raise TypeError(f"round: decimals={decimals} needs a floating tensor, got {input.dtype.name} (PyTorch does "
                        "not implement it for integers either)")
    return Round.apply(input, decimals)


@elementwise(_zero_gradient, floating=False)
def trunc(x: Tensor) -> Tensor:
    """x rounded toward zero, in x's dtype; zero gradient."""


# -- activations with a fused backward kernel (``<name>_backward`` in the backend) ---------------------------
@activation(lambda y: y * -2, of_output=True)
def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""


@activation(lambda y: 1 - y * 2, of_output=True)
def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid, 1 / (1 + e ** -x), computed without overflow."""


@activation(floating=False)
def relu(x: Tensor) -> Tensor:
    """max(x, 0); relu'(0) = 0."""


@activation(floating=False)
def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x if x > 0 else negative_slope * x; leaky_relu'(0) = negative_slope."""
    return (float(negative_slope),)


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


@activation(_gelu_second_derivative)
def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x); ``approximate="tanh"`` uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return (approximate,)


def _softplus_slope_derivative(x: Tensor, beta: float, threshold: float) -> Tensor:
    """d/dx sigmoid(beta x) = beta s (1 - s) below the threshold, 0 in the linear part."""
    bx = x * beta if beta != 1 else x
    s = bx.sigmoid()
    return Where.apply(bx > threshold, 0.0, s * (1 - s) * beta)


@activation(_softplus_slope_derivative)
def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as in PyTorch)."""
    return float(beta), float(threshold)


def _silu_second_derivative(x: Tensor) -> Tensor:
    """silu''(x) = s (1 - s) (2 + x (1 - 2 s)) with s = sigmoid(x), from silu' = s (1 + x (1 - s))."""
    s = x.sigmoid()
    return s * (1 - s) * (2 + x * (1 - s * 2))


@activation(_silu_second_derivative)
def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish)."""


def _elu_second_derivative(x: Tensor, alpha: float) -> Tensor:
    """elu''(x) = alpha e^x for x <= 0, else 0 (e^x of the clamped x, so that no inf meets a zero mask)."""
    negative = Where.apply(x > 0, 0.0, x)
    return Where.apply(x > 0, 0.0, negative.exp() * alpha)


@activation(_elu_second_derivative)
def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else alpha * (e ** x - 1); elu'(0) = alpha, as in PyTorch."""
    return (float(alpha),)


@activation()
def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient passes where min_val < x < max_val (PyTorch's)."""
    if not min_val < max_val:
        raise ValueError(f"hardtanh: max_val must be greater than min_val, got {min_val} and {max_val}")
    return float(min_val), float(max_val)


Tanh, TanhBackward = tanh.function, tanh.backward_function
Sigmoid, SigmoidBackward = sigmoid.function, sigmoid.backward_function
Relu, ReluBackward = relu.function, relu.backward_function
LeakyRelu, LeakyReluBackward = leaky_relu.function, leaky_relu.backward_function
Gelu, GeluBackward = gelu.function, gelu.backward_function
Softplus, SoftplusBackward = softplus.function, softplus.backward_function
Silu, SiluBackward = silu.function, silu.backward_function
Elu, EluBackward = elu.function, elu.backward_function
Hardtanh, HardtanhBackward = hardtanh.function, hardtanh.backward_function


class Clip(Function):
    """min(max(x, low), high); the gradient passes where low <= x <= high."""

    @staticmethod
    def forward(ctx, x, low, high):
        ctx.save_for_backward(x)
        ctx.low, ctx.high = low, high
        return ctx.backend.clip(x.array, low, high)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        inside = None
        if ctx.low is not None:
            inside = x >= ctx.low
        if ctx.high is not None:
            inside = x <= ctx.high if inside is None else inside & (x <= ctx.high)
        return Where.apply(inside, g, 0.0), None, None  # a mask, not a product: an inf or NaN outside gives 0


class Cast(Function):
    """Convert to another dtype; the gradient is converted back."""

    @staticmethod
    def forward(ctx, x, dtype):
        return ctx.backend.astype(x.array, dtype)

    @staticmethod
    def backward(ctx, g):
        return g, None  # the engine casts the gradient to the input's dtype


class Fill(Function):
    """A tensor of x's shape and dtype filled with ``value``, a number or a 0-d tensor (which gets the sum of the
    gradient, as PyTorch's); no gradient flows to x."""

    @staticmethod
    def forward(ctx, x, value):
        ctx.value_is_tensor = isinstance(value, Tensor)
        return ctx.backend.full(x.shape, value.item() if ctx.value_is_tensor else value, x.dtype)

    @staticmethod
    def backward(ctx, g):
        return None, g.sum() if ctx.value_is_tensor else None


# -- public functions -------------------------------------------------------------------------------
@public(aliases=("clamp",))
def clip(x: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Clamp to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # A tensor bound gets a gradient of its own: PyTorch's clamp is clamp_max(clamp_min(x, min), max).
        out = x if min is None else clamp_min(x, min)
        return out if max is None else clamp_max(out, max)
    return Clip.apply(x, min, max)



@public(top_level=False, method=False)
def cast(x: Tensor, dtype) -> Tensor:
    """x converted to ``dtype``; differentiable between floating dtypes."""
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        with no_grad():
            return Cast.apply(x, dtype)
    return Cast.apply(x, dtype)


@public(spec=False, method=False)
def fill(input: Tensor, value) -> Tensor:  # noqa: A002 - PyTorch's name
    """A tensor like ``input`` filled with ``value``, a number or a 0-d tensor (the out-of-place ``fill_``)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fill: expected a tensor, got {type(input).__name__}")
    if isinstance(value, Tensor) and value.ndim:
        raise ShapeError(f"fill: the value must be a number or a 0-d tensor, got a tensor of shape "
                         f"{tuple(value.shape)}")
    return Fill.apply(input, value)


@elementwise(_zero_gradient, floating=False)
def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 elementwise (0 for NaN, as PyTorch); zero gradient, as PyTorch's SignBackward."""


# -- trigonometric and hyperbolic functions: gradients as PyTorch writes them; outside the domain NaN, as log --
@elementwise(grad_of_output=lambda g, y: g * (1 + y * y))
def tan(x: Tensor) -> Tensor:
    """Tangent."""


@elementwise(lambda g, x: g * (1 - x * x).rsqrt(), aliases=("arcsin",))
def asin(x: Tensor) -> Tensor:
    """Inverse sine, in [-pi/2, pi/2]."""


@elementwise(lambda g, x: -g * (1 - x * x).rsqrt(), aliases=("arccos",))
def acos(x: Tensor) -> Tensor:
    """Inverse cosine, in [0, pi]."""


@elementwise(lambda g, x: g / (1 + x * x), aliases=("arctan",))
def atan(x: Tensor) -> Tensor:
    """Inverse tangent, in (-pi/2, pi/2)."""


@elementwise(lambda g, x: g * x.cosh())
def sinh(x: Tensor) -> Tensor:
    """Hyperbolic sine."""


@elementwise(lambda g, x: g * x.sinh())
def cosh(x: Tensor) -> Tensor:
    """Hyperbolic cosine."""


@elementwise(lambda g, x: g * (x * x + 1).rsqrt(), aliases=("arcsinh",))
def asinh(x: Tensor) -> Tensor:
    """Inverse hyperbolic sine."""


@elementwise(lambda g, x: g * (x * x - 1).rsqrt(), aliases=("arccosh",))
def acosh(x: Tensor) -> Tensor:
    """Inverse hyperbolic cosine, for x >= 1."""


@elementwise(lambda g, x: g / (1 - x * x), aliases=("arctanh",))
def atanh(x: Tensor) -> Tensor:
    """Inverse hyperbolic tangent, for -1 < x < 1."""


def _sinc_grad(g, x):
    """sinc'(x) = (pi x cos(pi x) - sin(pi x)) / (pi x^2), and 0 at x = 0 (PyTorch's formula and value). The
    formula runs on 1 where x is 0, so no 0 / 0 is computed (detect_anomaly stays quiet, as PyTorch's)."""
    at_zero = x == 0
    safe = Where.apply(at_zero, 1.0, x)
    px = safe * math.pi
    return g * Where.apply(at_zero, 0.0, (px * px.cos() - px.sin()) / (px * safe))


@elementwise(_sinc_grad)
def sinc(x: Tensor) -> Tensor:
    """The normalised sinc, sin(pi x) / (pi x), and 1 at x = 0."""


# -- composites with PyTorch's names -------------------------------------------------------------------------
@public(spec=False)
def deg2rad(x: Tensor) -> Tensor:
    """Degrees to radians, x * pi / 180; integer tensors give float32."""
    return (x if x.dtype.kind == "f" else x.astype(default_float())) * (math.pi / 180)


@public(spec=False)
def rad2deg(x: Tensor) -> Tensor:
    """Radians to degrees, x * 180 / pi; integer tensors give float32."""
    return (x if x.dtype.kind == "f" else x.astype(default_float())) * (180 / math.pi)


@public(spec=False)
def frac(x: Tensor) -> Tensor:
    """x - trunc(x), with x's sign; the gradient passes unchanged (PyTorch's). Floating tensors only, as PyTorch."""
    if x.dtype.kind != "f":
        raise TypeError(f"frac: expected a floating tensor, got {x.dtype.name} (PyTorch refuses integers too)")
    return x - x.trunc()


@public(spec=False)
def sgn(x: Tensor) -> Tensor:
    """sign(x): PyTorch's sgn, which equals sign for real tensors; zero gradient (it is made of sign)."""
    return sign(x)


def _clamp_to_tensor(x: Tensor, bound: Tensor, lower: bool) -> Tensor:
    """PyTorch's clamp_min/clamp_max with a tensor bound: x where it is inside (x >= min, x <= max), the bound
    where x is outside, NaN where either is NaN; each gets the gradient where it is the result."""
    x, bound = binary_operands(x, bound)
    inside, outside = (ge(x, bound), lt(x, bound)) if lower else (le(x, bound), gt(x, bound))
    with no_grad():
        nan = where(isnan(x), x, bound)  # where neither test holds one of them is NaN: that one
    return Where.apply(inside, x, Where.apply(outside, bound, nan))


@public(spec=False)
def clamp_min(x: Tensor, min: float | Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """max(x, min) as ``clamp(x, min=min)``; ``min`` a number or a tensor (broadcasting, with its gradient)."""
    return _clamp_to_tensor(x, min, True) if isinstance(min, Tensor) else clip(x, min=min)


@public(spec=False)
def clamp_max(x: Tensor, max: float | Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """min(x, max) as ``clamp(x, max=max)``; ``max`` a number or a tensor (broadcasting, with its gradient)."""
    return _clamp_to_tensor(x, max, False) if isinstance(max, Tensor) else clip(x, max=max)


@public(spec=False)
def nan_to_num(x: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (default: the dtype's largest and
    smallest finite values); integer tensors are copied. The gradient passes where x is finite, else 0."""
    if x.dtype.kind != "f":
        return x.clone()
    info = np.finfo(x.dtype)
    with np.errstate(over="ignore"):  # a replacement beyond the dtype's range becomes inf, as in PyTorch
        nan_v, pos_v, neg_v = (tensor(np.asarray(v, dtype=np.float64).astype(x.dtype), backend=x.backend)
                               for v in (nan, info.max if posinf is None else posinf,
                                         info.min if neginf is None else neginf))
    with no_grad():
        replacement = where(isnan(x), nan_v, where(x > 0, pos_v, neg_v))
    return Where.apply(isfinite(x), x, replacement)
