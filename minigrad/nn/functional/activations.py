"""Activations made of other ops (their gradients are those ops'), and ``normalize`` and
``cosine_similarity``.
"""

from __future__ import annotations

import math

from ... import ops as _ops
from ...errors import ShapeError
from ...ops import softmax, softplus, tanh
from ...ops._common import binary_operands, constant
from ...tensor import Tensor
from ._common import _public


@_public
def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6): ``hardtanh(x, 0, 6)``."""
    return _maybe_inplace(input, inplace, "relu6", lambda x: hardtanh(x, 0.0, 6.0))


@_public
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """relu6(x + 3) / 6."""
    return _maybe_inplace(input, inplace, "hardsigmoid", lambda x: relu6(x + 3.0) / 6.0)


@_public
def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * relu6(x + 3) / 6."""
    return _maybe_inplace(input, inplace, "hardswish", lambda x: x * hardsigmoid(x))


@_public
def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """log(sigmoid(x)) = -softplus(-x), without softplus's linear cut-off, so it stays exact for x << 0."""
    return -softplus(-input, 1.0, math.inf)


@_public
def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * tanh(softplus(x))."""
    return _maybe_inplace(input, inplace, "mish", lambda x: x * tanh(softplus(x)))


@_public
def softmin(input: Tensor, dim: int | None = None, *, dtype=None) -> Tensor:  # noqa: A002
    """softmax(-x) along ``dim`` (the same implicit choice of dim as ``softmax``); ``dtype`` casts first."""
    return softmax(-(input if dtype is None else input.astype(dtype)), dim)


@_public
def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """x where x > 0, else weight * x; ``weight`` holds one slope, or one per channel (dimension 1)."""
    if weight.ndim != 1 or (weight.shape[0] != 1 and (input.ndim < 2 or weight.shape[0] != input.shape[1])):
        raise ShapeError(f"prelu: weight of shape {weight.shape} needs 1 element or one per channel of an input "
                         f"of shape {input.shape}")
    slope = weight.reshape((-1,) + (1,) * (input.ndim - 2)) if weight.shape[0] > 1 else weight.reshape(())
    positive = relu(input)
    return positive + slope * (input - positive)  # x - relu(x) = min(x, 0); its gradient at 0 is the slope's


@_public
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:  # noqa: A002
    """input / max(||input||_p along ``dim``, eps), as PyTorch's ``F.normalize``: unit vectors along ``dim``."""
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


@_public
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along ``dim``; the inputs broadcast (PyTorch's
    ``F.cosine_similarity``)."""
    x1, x2 = binary_operands(x1, x2)
    if not (isinstance(x1, Tensor) and isinstance(x2, Tensor)):
        raise TypeError("cosine_similarity: expected two tensors")
    return (x1 * x2).sum(dim) / (x1.norm(2, dim).clamp(min=eps) * x2.norm(2, dim).clamp(min=eps))


# -- activations a ported script still missed (CELU, SELU, GLU, shrinks, threshold, RReLU) and the in-place
# spellings: ``inplace=True`` and ``F.name_`` go through ``Tensor._inplace`` (version counter, leaf and view
# checks), so PyTorch's autograd rules hold. ``relu``, ``elu``, ``leaky_relu`` and ``hardtanh`` are the ops of
# minigrad.ops with PyTorch's ``inplace`` argument added (and ``silu``; ``relu6``, ``hardsigmoid``, ``hardswish``
# and ``mish`` above take it too).
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _maybe_inplace(input: Tensor, inplace: bool, name: str, fn) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a tensor, got {type(input).__name__}")
    return input._inplace(name + "_", fn) if inplace else fn(input)


def _mask(input: Tensor, keep) -> Tensor:  # noqa: A002
    """A constant 0/1 tensor of the input's dtype (no gradient flows through a comparison)."""
    return keep.detach().astype(input.dtype)


@_public
def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(x, 0); relu'(0) = 0."""
    return _maybe_inplace(input, inplace, "relu", _ops.relu)


@_public
def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x if x > 0 else alpha * (e ** x - 1)."""
    return _maybe_inplace(input, inplace, "elu", lambda x: _ops.elu(x, alpha))


@_public
def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """x if x > 0 else negative_slope * x."""
    return _maybe_inplace(input, inplace, "leaky_relu", lambda x: _ops.leaky_relu(x, negative_slope))


@_public
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,  # noqa: A002
             inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]."""
    return _maybe_inplace(input, inplace, "hardtanh", lambda x: _ops.hardtanh(x, min_val, max_val))


@_public
def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * sigmoid(x)."""
    return _maybe_inplace(input, inplace, "silu", _ops.silu)


@_public
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) = alpha * elu(x / alpha)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (ZeroDivisionError in PyTorch)")
    return _maybe_inplace(input, inplace, "celu", lambda x: _ops.elu(x / alpha, 1.0) * alpha)


@_public
def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. (PyTorch's)."""
    return _maybe_inplace(input, inplace, "selu", lambda x: _ops.elu(x, _SELU_ALPHA) * _SELU_SCALE)


@_public
def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """a * sigmoid(b), where a and b are the two halves of ``input`` along ``dim``."""
    if not isinstance(input, Tensor) or input.ndim == 0:
        raise ShapeError("glu: glu does not support scalars because halving size must be even")
    if not -input.ndim <= dim < input.ndim:
        raise IndexError(f"glu: dim {dim} is out of range for an input of shape {input.shape}")
    if input.shape[dim] % 2:
        raise ShapeError(f"glu: halving dimension must be even, but dimension {dim % input.ndim} is size "
                         f"{input.shape[dim]} (input shape {input.shape})")
    a, b = input.chunk(2, dim)
    return a * _ops.sigmoid(b)


def _check_lambd(lambd: float, name: str) -> None:
    if lambd < 0:
        raise ValueError(f"{name}: lambda must be greater or equal to 0, but found to be {lambd}")


@_public
def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """x where |x| > lambd, else 0."""
    _check_lambd(lambd, "hardshrink")
    return input * _mask(input, input.abs() > lambd)


@_public
def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """x - lambd * sign(x) where |x| > lambd, else 0; the gradient is 0 on [-lambd, lambd] (PyTorch's)."""
    _check_lambd(lambd, "softshrink")
    return (input - _mask(input, input.sign()) * lambd) * _mask(input, input.abs() > lambd)


@_public
def tanhshrink(input: Tensor) -> Tensor:  # noqa: A002
    """x - tanh(x)."""
    return input - tanh(input)


@_public
def softsign(input: Tensor) -> Tensor:  # noqa: A002
    """x / (1 + |x|)."""
    return input / (input.abs() + 1.0)


@_public
def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > threshold, else ``value``; the gradient passes where x > threshold."""
    def compute(x: Tensor) -> Tensor:
        keep = _mask(x, x > threshold)
        return x * keep + (1.0 - keep) * value
    return _maybe_inplace(input, inplace, "threshold", compute)


@_public
def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,  # noqa: A002
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: in training, each x <= 0 is multiplied by a slope drawn uniformly from
    [lower, upper] (the backend's generator); in eval, the slope is (lower + upper) / 2."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rrelu: expected a tensor, got {type(input).__name__}")
    if lower > upper:
        raise ValueError(f"rrelu: lower bound should be less than or equal to the upper bound, got lower={lower}, "
                         f"upper={upper}")
    if not training:
        return _maybe_inplace(input, inplace, "rrelu", lambda x: _ops.leaky_relu(x, (lower + upper) / 2))
    be = input._backend
    slopes = be.add(be.multiply(be.rand(input.shape, input.dtype), upper - lower), lower)
    slopes = constant(be, be.astype(slopes, input.dtype))

    def compute(x: Tensor) -> Tensor:
        positive = _mask(x, x > 0)
        return x * (positive + (1.0 - positive) * slopes)
    return _maybe_inplace(input, inplace, "rrelu", compute)


def relu_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``relu``."""
    return relu(input, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """In-place ``elu``."""
    return elu(input, alpha, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    """In-place ``leaky_relu``."""
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:  # noqa: A002
    """In-place ``hardtanh``."""
    return hardtanh(input, min_val, max_val, inplace=True)


_threshold = threshold  # the function, under a name its argument does not shadow


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002
    """In-place ``threshold``."""
    return _threshold(input, threshold, value, inplace=True)


def selu_(input: Tensor) -> Tensor:  # noqa: A002
    """In-place ``selu``."""
    return selu(input, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """In-place ``celu``."""
    return celu(input, alpha, inplace=True)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,  # noqa: A002
           training: bool = False) -> Tensor:
    """In-place ``rrelu``."""
    return rrelu(input, lower, upper, training, inplace=True)


INPLACE = {f.__name__: f for f in (relu_, elu_, leaky_relu_, hardtanh_, threshold_, selu_, celu_, rrelu_)}
