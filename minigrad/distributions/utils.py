"""Helpers shared by the distributions: ``broadcast_all``, probs/logits conversions, ``lazy_property``, erfinv."""

from __future__ import annotations

import math
from numbers import Number

import numpy as np

from .. import creation as _creation
from ..dtypes import DEFAULT_FLOAT
from ..function import Function
from ..grad_mode import enable_grad, no_grad
from ..ops.arithmetic import where
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
_A = (3.387132872796366608, 133.14166789178437745, 1971.5909503065514427, 13731.693765509461125,
      45921.953931549871457, 67265.770927008700853, 33430.575583588128105, 2509.0809287301226727)
_B = (1.0, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077, 21213.794301586595867,
      39307.89580009271061, 28729.085735721942674, 5226.495278852545925)
_C = (1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055, 3.64784832476320460504,
      1.27045825245236838258, 0.24178072517745061177, 0.0227238449892691845833, 7.7454501427834140764e-4)
_D = (1.0, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455, 0.14810397642748007459,
      0.0151986665636164571966, 5.475938084995344946e-4, 1.05075007164441684324e-9)
_E = (6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358, 0.29656057182850489123,
      0.026532189526576123093, 0.0012426609473880784386, 2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525, 7.868691311456132591e-4,
      1.8463183175100546818e-5, 1.4215117583164458887e-7, 2.04426310338993978564e-15)


def _rational(num, den, r: Tensor) -> Tensor:
    p, q = r * 0 + num[-1], r * 0 + den[-1]
    for a, b in zip(num[-2::-1], den[-2::-1]):
        p, q = p * r + a, q * r + b
    return p / q


class _Erfinv(Function):
    """The inverse error function: erf(erfinv(y)) = y on (-1, 1), ±inf at ±1, NaN outside."""

    save_output = True

    @staticmethod
    def forward(ctx, y):
        with no_grad():
            y = Tensor(y.array, y._backend)
            inside = y.abs() < 1
            y_in = where(inside, y.abs(), 0.0)  # erfinv(|y|) = ndtri((1 + |y|) / 2) / sqrt(2)
            half = y_in * 0.5  # ndtri's p - 1/2, exact
            central = half * _rational(_A, _B, 0.180625 - half * half)
            # sqrt(-log(1 - p)) from 1 - p = (1 - |y|) / 2, exact for |y| >= 1/2
            r = (((1 - y_in) * 0.5).clamp(min=float(finfo(y.dtype).tiny))).log().neg().sqrt()
            tail = where(r <= 5, _rational(_C, _D, r - 1.6), _rational(_E, _F, r - 5))
            x = where(half <= 0.425, central, tail) * (y.sign() / math.sqrt(2))
            x = where(inside, x, where(y > 0, math.inf, -math.inf))
            x = where(y.abs() <= 1, x, math.nan)
        return x.array

    @staticmethod
    def backward(ctx, g):
        out = ctx.output
        return g * (out * out).exp() * (math.sqrt(math.pi) / 2)


def erfinv(y: Tensor) -> Tensor:
    """The inverse error function, differentiable (d/dy erfinv(y) = sqrt(pi)/2 exp(erfinv(y)^2))."""
    if y.dtype.kind != "f":
        y = y.astype(DEFAULT_FLOAT)
    return _Erfinv.apply(y)
