"""Pairwise distances: PyTorch's ``cdist``, a composition of other ops (so its gradients, to any order, are
theirs), written so that the gradient where a distance or a coordinate difference is zero is PyTorch's."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor
from ._registry import public
from .arithmetic import where
from .reduction import amax

_COMPUTE_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _positive_part_power(a: Tensor, exponent: float) -> Tensor:
    """a ** exponent where a > 0, and 0 with a zero gradient where a == 0 (a >= 0): no inf * 0 at zero."""
    positive = a > 0
    return where(positive, where(positive, a, 1) ** exponent, 0)


@public(method=False)
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2`` (..., R, M): shape
    (..., P, R), the batch dimensions broadcast (PyTorch's ``cdist``). ``p`` is 0 (count of differing
    coordinates), 1, 2, ``inf`` or any other non-negative number.

    Gradients are PyTorch's: 0 where a distance is 0 (every p), 0 for a coordinate whose difference is 0, p = inf
    gives the full gradient to every tied largest coordinate, p = 0 has a zero gradient. ``compute_mode`` is
    checked but the differences are always taken directly, never through the matrix-product form PyTorch may
    use for p = 2 (that form loses accuracy for close points).
    """
    for name, t in (("x1", x1), ("x2", x2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"cdist: {name} must be a tensor, got {type(t).__name__}")
        if t.dtype.kind != "f":
            raise TypeError(f"cdist: only floating-point tensors are supported, {name} is {t.dtype.name}")
        if t.ndim < 2:
            raise ShapeError(f"cdist: {name} must have at least 2 dimensions (..., rows, columns), got shape "
                             f"{t.shape}")
    if x1.dtype != x2.dtype:
        raise TypeError(f"cdist: x1 is {x1.dtype.name} but x2 is {x2.dtype.name}; cast one")
    if x1.shape[-1] != x2.shape[-1]:
        raise ShapeError(f"cdist: x1 and x2 must have the same number of columns, got shapes {x1.shape} and "
                         f"{x2.shape}")
    try:
        np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise ShapeError(f"cdist: the batch dimensions of x1 {x1.shape} and x2 {x2.shape} do not broadcast") from None
    if compute_mode not in _COMPUTE_MODES:
        raise ValueError(f"cdist: {compute_mode!r} is not a valid compute_mode; use one of {_COMPUTE_MODES}")
    p = float(p)
    if not p >= 0:  # NaN too
        raise ValueError(f"cdist: p must be non-negative, got {p}")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., P, R, M)
    if diff.shape[-1] == 0:
        return diff.sum(-1)
    if p == 0:
        return where(diff != 0, 1, diff * 0).sum(-1)  # a count; diff * 0 keeps the (zero) gradient in the graph
    a = diff.abs()
    if p == 1:
        return a.sum(-1)
    if p == math.inf:
        top = amax(a, -1, True).detach()
        # top + (a - top) at the largest coordinates: the same value, and the full gradient to each tie
        return top.squeeze(-1) + where(a == top, a - top, 0).sum(-1)
    if p == 2:
        s = (diff * diff).sum(-1)
        positive = s > 0
        return where(positive, where(positive, s, 1).sqrt(), 0)
    return _positive_part_power(_positive_part_power(a, p).sum(-1), 1.0 / p)
