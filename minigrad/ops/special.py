"""Special functions with PyTorch's names and exact gradients: erfc, erfinv, lgamma, digamma, polygamma, mvlgamma,
i0 and logit. The kernels are the backend's (written once against its array module, no SciPy); each gradient is
another of these functions, so every order of derivative is exact: lgamma' = digamma, digamma' = polygamma(1),
polygamma(n)' = polygamma(n + 1), i0' = i1, i1' = i0 - i1 / x; and frexp, igamma and igammac."""

from __future__ import annotations

import math

from ..function import Function
from ..tensor import Tensor
from ._common import binary_operands
from ._registry import METHODS, elementwise, public
from .arithmetic import Where


def floating(x: Tensor) -> Tensor:
    """``x``, or an integer or bool ``x`` in the default float dtype: the rule of the elementwise ops, taken
    from arithmetic's promotion (an integer tensor meeting a float)."""
    return x if x.dtype.kind == "f" else binary_operands(x, 0.0)[0]


@elementwise(lambda g, x: g * (-(x * x)).exp() * (-2 / math.sqrt(math.pi)))
def erfc(x: Tensor) -> Tensor:
    """1 - erf(x), accurate where erf(x) is close to 1."""


@elementwise(grad_of_output=lambda g, y: g * (y * y).exp() * (math.sqrt(math.pi) / 2))
def erfinv(x: Tensor) -> Tensor:
    """The inverse of erf on (-1, 1); +-inf at +-1 and NaN outside."""


@elementwise(lambda g, x: g * digamma(x))
def lgamma(x: Tensor) -> Tensor:
    """log|Gamma(x)|; +inf at 0, the negative integers and +-inf."""


@elementwise(lambda g, x: g * polygamma(1, x))
def digamma(x: Tensor) -> Tensor:
    """Gamma'(x) / Gamma(x), PyTorch's: -inf at +0, +inf at -0, NaN at the negative integers."""


class Polygamma(Function):
    """The n-th derivative of digamma."""

    @staticmethod
    def forward(ctx, x, n):
        ctx.save_for_backward(x)
        ctx.n = n
        return ctx.backend.polygamma(n, x.array)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * Polygamma.apply(x, ctx.n + 1), None


@public(method=False)
def polygamma(n: int, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """The n-th derivative of digamma (n = 0: digamma itself); at the poles (0 and the negative integers) the
    limit from the right, (-1)^(n+1) inf. Integer tensors give float32."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"polygamma: n must be a non-negative int, got {n!r}")
    if not isinstance(input, Tensor):
        raise TypeError(f"polygamma: expected a tensor, got {type(input).__name__}")
    x = floating(input)
    return digamma(x) if n == 0 else Polygamma.apply(x, n)


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    """``x.polygamma(n)`` is ``polygamma(n, x)``, as PyTorch's."""
    return polygamma(n, self)


METHODS["polygamma"] = _polygamma_method


@public
def mvlgamma(input: Tensor, p: int) -> Tensor:  # noqa: A002 - PyTorch's names
    """The multivariate log-gamma of dimension p: p (p - 1) / 4 log(pi) + sum_j lgamma(input - j / 2), j < p.
    Defined (as a Gamma-function integral) for input > (p - 1) / 2; below, the same sum of log|Gamma| terms, inf
    at their poles, as PyTorch 2.x computes it (its domain check is gone)."""
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise ValueError(f"mvlgamma: p must be an int >= 1, got {p!r}")
    x = floating(input)
    from ..creation import arange

    offsets = arange(-(p - 1) / 2, 0.5, 0.5, dtype=x.dtype, backend=x.backend)  # PyTorch's order of the terms
    return lgamma(x.unsqueeze(-1) + offsets).sum(-1) + p * (p - 1) * math.log(math.pi) / 4


class I1(Function):
    """The modified Bessel function of the first kind of order 1 (i0's derivative)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.i1(x.array)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        at_zero = x == 0
        safe = Where.apply(at_zero, 1.0, x)
        return g * Where.apply(at_zero, 0.5, i0(x) - I1.apply(x) / safe)  # i1' = i0 - i1 / x, 1/2 at 0


@elementwise(lambda g, x: g * I1.apply(x))
def i0(x: Tensor) -> Tensor:
    """The modified Bessel function of the first kind of order 0."""


class Logit(Function):
    """log(z / (1 - z)) of z = x, or of x clamped to [eps, 1 - eps]."""

    @staticmethod
    def forward(ctx, x, eps):
        ctx.save_for_backward(x)
        ctx.eps = eps
        return ctx.backend.logit(x.array, eps)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        slope = g / (x * (1 - x))
        if ctx.eps is None:  # PyTorch's: NaN outside [0, 1]
            return Where.apply((x < 0) | (x > 1), math.nan, slope), None
        return Where.apply((x < ctx.eps) | (x > 1 - ctx.eps), 0.0, slope), None  # clamped: no gradient


@public
def logit(input: Tensor, eps: float | None = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """log(x / (1 - x)), the inverse of sigmoid; with ``eps``, x is clamped to [eps, 1 - eps] first (and gets no
    gradient where it was clamped). Integer tensors give float32."""
    return Logit.apply(floating(input), None if eps is None else float(eps))


class Frexp(Function):
    """(mantissa, exponent) with input = mantissa * 2^exponent, 0.5 <= |mantissa| < 1 (0, inf and NaN: themselves
    with exponent 0); the exponent is int32 and has no gradient."""

    @staticmethod
    def forward(ctx, x):
        mantissa, exponent = ctx.backend.xp.frexp(x.array)
        exponent = exponent.astype("int32", copy=False)
        ctx.exponent = exponent
        ctx.mark_non_differentiable(exponent)
        return mantissa, exponent

    @staticmethod
    def backward(ctx, g, _exponent):
        # d mantissa / dx = 2^-exponent, in g's dtype: PyTorch's grad / exponent.exp2() takes exp2 in float32,
        # which gives 0 or inf beyond |exponent| = 127
        return g * (2.0 ** -Tensor(ctx.exponent, ctx.backend).astype(g.dtype))


@public
def frexp(input: Tensor):  # noqa: A002 - PyTorch's name
    """The mantissa and the exponent of each element, as ``torch.return_types.frexp`` (``mantissa`` in the input's
    dtype, differentiable; ``exponent`` int32); floating tensors only, as PyTorch."""
    from ..return_types import frexp as frexp_type

    if not isinstance(input, Tensor):
        raise TypeError(f"frexp: expected a tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"frexp: only floating tensors are supported (as PyTorch's), got {input.dtype.name}")
    return frexp_type(*Frexp.apply(input))


class Igamma(Function):
    """The regularized incomplete gamma functions of (a, x): P (lower) or, with ``upper``, Q = 1 - P. The
    gradient in x is PyTorch's, +-x^(a-1) e^-x / Gamma(a); in a it is not implemented (as in PyTorch)."""

    @staticmethod
    def forward(ctx, a, x, upper):
        ctx.save_for_backward(a, x)
        ctx.upper = upper
        return (ctx.backend.igammac if upper else ctx.backend.igamma)(a.array, x.array)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        name = "igammac" if ctx.upper else "igamma"
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(f"{name}: the derivative with respect to input (a) is not implemented, as in "
                                      "PyTorch; only other (x) can require a gradient")
        slope = ((a - 1) * x.log() - x - lgamma(a)).exp()
        return None, (-g if ctx.upper else g) * slope, None


def _incomplete_gamma(name: str, input, other, upper: bool) -> Tensor:
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"{name}: expected two tensors, got {type(input).__name__} and {type(other).__name__}")
    a, x = binary_operands(input, other)
    if a.dtype.kind != "f":
        raise TypeError(f"{name}: expected floating tensors, got {input.dtype.name} and {other.dtype.name} "
                        "(PyTorch does not implement it for integers either)")
    return Igamma.apply(a, x, upper)


@public
def igamma(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """The regularized lower incomplete gamma function P(input, other) = gamma(a, x) / Gamma(a) (also
    ``special.gammainc``), broadcasting. NaN for a < 0 or x < 0; differentiable in ``other`` only."""
    return _incomplete_gamma("igamma", input, other, False)


@public
def igammac(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P (also ``special.gammaincc``),
    computed without the cancellation of 1 - P. Differentiable in ``other`` only."""
    return _incomplete_gamma("igammac", input, other, True)
