"""Helpers shared by the distributions: ``broadcast_all``, probs/logits conversions, ``lazy_property``."""

from __future__ import annotations

from numbers import Number

import numpy as np

from .. import creation as _creation
from ..dtypes import DEFAULT_FLOAT
from ..grad_mode import enable_grad
from ..tensor import Tensor, tensor

euler_constant = 0.57721566490153286060  # Euler-Mascheroni constant


def broadcast_all(*values) -> tuple:
    """Tensors of one broadcast shape from tensors and numbers (numbers take the first tensor's dtype and
    backend, or the default float dtype when all are numbers), as ``torch.distributions.utils.broadcast_all``."""
    if not all(isinstance(v, (Tensor, Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number or minigrad.Tensor, got "
                         f"{[type(v).__name__ for v in values]}")
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        values = tuple(tensor(float(v), dtype=DEFAULT_FLOAT) for v in values)
    else:
        values = tuple(v if isinstance(v, Tensor) else tensor(v, dtype=like.dtype, backend=like.backend)
                       for v in values)
    shape = np.broadcast_shapes(*(tuple(v.shape) for v in values))
    return tuple(v if tuple(v.shape) == shape else v.expand(*shape) for v in values)


def finfo(dtype) -> np.finfo:
    return np.finfo(np.dtype(dtype))


def clamp_probs(probs: Tensor) -> Tensor:
    """``probs`` clamped to [eps, 1 - eps] of its dtype."""
    eps = float(finfo(probs.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return ps_clamped.log() - (-ps_clamped).log1p()
    return ps_clamped.log()


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    if is_binary:
        return logits.sigmoid()
    return logits.softmax(-1)


def _sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """Sum over the ``dim`` right-most axes."""
    if dim == 0:
        return value
    return value.reshape(*value.shape[: value.ndim - dim], -1).sum(-1)


def _standard_normal(shape: tuple, like: Tensor) -> Tensor:
    return _creation.randn(*shape, dtype=like.dtype, backend=like.backend)


def _uniform(shape: tuple, like: Tensor, low: float = 0.0, high: float = 1.0) -> Tensor:
    """Uniform on [low, high) in ``like``'s dtype and backend (no gradient)."""
    u = _creation.rand(*shape, dtype=like.dtype, backend=like.backend)
    return u if (low, high) == (0.0, 1.0) else u * (high - low) + low


def _diagonal(matrix: Tensor) -> Tensor:
    """The diagonal of the last two axes (batched), differentiable."""
    n = matrix.shape[-1]
    return (matrix * _creation.eye(n, dtype=matrix.dtype, backend=matrix.backend)).sum(-1)


class lazy_property:  # noqa: N801 - PyTorch's name
    """A property computed on first access and then stored on the instance (``torch.distributions``'s)."""

    def __init__(self, wrapped) -> None:
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with enable_grad():  # computed once for all later uses: in the graph even when first read under no_grad
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


# Wichura (1988), algorithm AS 241 (PPND16): the normal quantile to about 1e-16, as three rational functions.
