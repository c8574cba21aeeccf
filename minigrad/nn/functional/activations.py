"""Activations made of other ops (their gradients are those ops'), and ``normalize`` and
``cosine_similarity``.
"""

from __future__ import annotations

import math

from ...errors import ShapeError
from ...ops import hardtanh, relu, softmax, softplus, tanh
from ...ops._common import binary_operands
from ...tensor import Tensor
from ._common import _public


@_public
def relu6(input: Tensor) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6): ``hardtanh(x, 0, 6)``."""
    return hardtanh(input, 0.0, 6.0)


@_public
def hardsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """relu6(x + 3) / 6."""
    return relu6(input + 3.0) / 6.0


@_public
def hardswish(input: Tensor) -> Tensor:  # noqa: A002
    """x * relu6(x + 3) / 6."""
    return input * hardsigmoid(input)


@_public
def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """log(sigmoid(x)) = -softplus(-x), without softplus's linear cut-off, so it stays exact for x << 0."""
    return -softplus(-input, 1.0, math.inf)


@_public
def mish(input: Tensor) -> Tensor:  # noqa: A002
    """x * tanh(softplus(x))."""
    return input * tanh(softplus(input))


@_public
def softmin(input: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """softmax(-x) along ``dim`` (the same implicit choice of dim as ``softmax``)."""
    return softmax(-input, dim)


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
