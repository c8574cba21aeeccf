"""Margin, embedding and likelihood losses (ranking, hinge, triplet, multi-margin, Poisson and
Gaussian NLL), and ``pairwise_distance``, which the triplet losses use.
"""

from __future__ import annotations

import math

from ... import creation as _creation
from ...errors import ShapeError
from ...ops import relu, softplus
from ...ops import where as _where
from ...ops._common import constant
from ...ops.movement import _reshape_or_self
from ...tensor import Tensor
from ._common import _REDUCTIONS, _host, _legacy_reduction, _public, _tensors, _value_range
from .activations import logsigmoid
from .losses import _reduce


@_public
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin), target in {1, -1}; the operands broadcast but must have one
    number of dimensions (PyTorch's check)."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "margin_ranking_loss")
    _tensors("margin_ranking_loss", input1=input1, input2=input2, target=target)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ShapeError(f"margin_ranking_loss: all input tensors should have the same number of dimensions, got "
                         f"input1 {input1.shape}, input2 {input2.shape} and target {target.shape}")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction, "margin_ranking_loss")


@_public
def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,  # noqa: A002
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """input where target == 1, max(0, margin - input) where target == -1 (other targets add both, as PyTorch)."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "hinge_embedding_loss")
    _tensors("hinge_embedding_loss", input=input, target=target)
    loss = _where(target != 1, (margin - input).clamp(min=0.0), 0.0) + _where(target != -1, input, 0.0)
    return _reduce(loss, reduction, "hinge_embedding_loss")


@_public
def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,  # noqa: A002
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input)), computed as a softplus without cut-off (finite for any input)."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "soft_margin_loss")
    _tensors("soft_margin_loss", input=input, target=target)
    return _reduce(softplus(-input * target, 1.0, math.inf), reduction, "soft_margin_loss")


@_public
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1; rows of (N, D) inputs
    with a (N,) target, or (D,) vectors with a 0-d target. cos = x1.x2 / sqrt((|x1|² + 1e-12) (|x2|² + 1e-12))."""
    op = "cosine_embedding_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    _tensors(op, input1=input1, input2=input2, target=target)
    if target.ndim not in (0, 1):
        raise ShapeError(f"{op}: expected a 0-D or 1-D target (multi-target is not supported), got {target.shape}")
    dim = target.ndim
    if input1.ndim != dim + 1 or input2.ndim != dim + 1:
        raise ShapeError(f"{op}: a {dim}-D target expects {dim + 1}-D inputs, got input1 {input1.shape} and input2 "
                         f"{input2.shape}")
    eps = 1e-12  # PyTorch's EPSILON in the squared magnitudes
    cos = (input1 * input2).sum(dim) / (((input1 * input1).sum(dim) + eps) * ((input2 * input2).sum(dim) + eps)).sqrt()
    loss = _where(target == 1, 1 - cos, 0.0) + _where(target == -1, (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(loss, reduction, op)


@_public
def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dimension (the operands broadcast), as PyTorch's."""
    _tensors("pairwise_distance", x1=x1, x2=x2)
    return (x1 - x2 + eps).norm(p, max(x1.ndim, x2.ndim) - 1 if max(x1.ndim, x2.ndim) else None, keepdim)


def _same_ndim(op: str, anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    _tensors(op, anchor=anchor, positive=positive, negative=negative)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ShapeError(f"{op}: the anchor, positive and negative tensors must have the same number of dimensions, "
                         f"got anchor {anchor.shape}, positive {positive.shape} and negative {negative.shape}")


def _triplet(dist_pos: Tensor, dist_neg: Tensor, dist_swap: Tensor | None, margin: float, reduction: str,
             op: str) -> Tensor:
    if dist_swap is not None:
        from ...ops import minimum

        dist_neg = minimum(dist_neg, dist_swap)
    return _reduce((margin + dist_pos - dist_neg).clamp(min=0.0), reduction, op)


@_public
def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) with d = ``pairwise_distance(., ., p, eps)``; ``swap`` uses
    min(d(a, n), d(p, n)) as the negative distance."""
    op = "triplet_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    _same_ndim(op, anchor, positive, negative)
    swapped = pairwise_distance(positive, negative, p, eps) if swap else None
    return _triplet(pairwise_distance(anchor, positive, p, eps), pairwise_distance(anchor, negative, p, eps),
                    swapped, margin, reduction, op)


@_public
def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """``triplet_margin_loss`` with any distance (default ``pairwise_distance``)."""
    op = "triplet_margin_with_distance_loss"
    reduction = _legacy_reduction(None, None, reduction, op)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    _same_ndim(op, anchor, positive, negative)
    distance = pairwise_distance if distance_function is None else distance_function
    swapped = distance(positive, negative) if swap else None
    return _triplet(distance(anchor, positive), distance(anchor, negative), swapped, margin, reduction, op)


def _margin_frames(op: str, input: Tensor, target: Tensor) -> tuple[Tensor, int]:  # noqa: A002
    """(N, C) view of a (N, C), (C,) or 0-d input, and C; PyTorch's non-empty check."""
    _tensors(op, input=input, target=target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {target.dtype.name}")
    if input.ndim > 2 or (input.ndim and input.shape[-1] == 0):
        raise ShapeError(f"{op}: expected a non-empty vector or matrix with optional 0-dim batch size, got "
                         f"{input.shape}")
    classes = input.shape[-1] if input.ndim else 1
    return _reshape_or_self(input, (input.shape[0] if input.ndim == 2 else 1, classes)), classes


@_public
def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,  # noqa: A002
                      weight: Tensor | None = None, size_average: bool | None = None, reduce: bool | None = None,
                      reduction: str = "mean") -> Tensor:
    """sum over classes j != y of max(0, margin - x[y] + x[j]) ** p * weight[y], divided by C (p is 1 or 2)."""
    op = "multi_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got {p}")
    if weight is not None and weight.ndim != 1:
        raise ValueError(f"{op}: weight must be one-dimensional, got shape {weight.shape}")
    flat, classes = _margin_frames(op, input, target)
    frames = flat.shape[0]
    if target.ndim > 1 or target.numel() != frames:
        raise ShapeError(f"{op}: inconsistent target size, expected {frames} target(s) for input {input.shape}, got "
                         f"{target.shape}")
    if weight is not None and weight.numel() != classes:
        raise ShapeError(f"{op}: inconsistent weight size, expected {classes} but got {weight.shape}")
    t = target.reshape(frames, 1)
    if frames:
        low, high = _value_range(t)
        if low < 0 or high >= classes:
            raise IndexError(f"{op}: target {low if low < 0 else high} is out of range for {classes} classes")
    xy = flat.gather(1, t)
    z = relu(margin - xy + flat)
    z = _where(_creation.arange(classes, backend=input.backend) == t, 0.0, z * z if p == 2 else z)
    if weight is not None:
        z = z * weight.astype(flat.dtype)[t]
    loss = z.sum(1) / classes
    return _reduce(loss if input.ndim == 2 else loss.reshape(()), reduction, op)


@_public
def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,  # noqa: A002
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])), divided by C. Each row of
    ``target`` lists class indices up to its first negative entry (PyTorch's -1 padding)."""
    import numpy as np

    op = "multilabel_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    flat, classes = _margin_frames(op, input, target)
    expected = tuple(input.shape) if input.ndim == 2 else (classes,)
    if (input.ndim == 2 and tuple(target.shape) != expected) or (input.ndim < 2 and (
            target.ndim > 1 or target.numel() != classes)):
        raise ShapeError(f"{op}: inconsistent target size {target.shape} for input of size {input.shape}")
    labels = _host(target).reshape(flat.shape)
    counts = np.zeros(flat.shape, flat.dtype)  # how often each class is listed (a repeated class counts again)
    for row, listed in enumerate(labels):
        for j in listed:
            if j < 0:
                break
            if j >= classes:
                raise IndexError(f"{op}: target {j} is out of range for {classes} classes")
            counts[row, j] += 1
    be = input._backend
    non_target = constant(be, be.from_numpy((counts == 0).astype(flat.dtype)))
    counts_t = constant(be, be.from_numpy(counts))
    pair = relu(1 - flat.unsqueeze(2) + flat.unsqueeze(1))  # [n, j, i] = max(0, 1 - x[j] + x[i])
    loss = (pair * counts_t.unsqueeze(2) * non_target.unsqueeze(1)).sum((1, 2)) / classes
    return _reduce(loss if input.ndim == 2 else loss.reshape(()), reduction, op)


@_public
def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """-(t log sigmoid(x) + (1 - t) log sigmoid(-x)) * weight, averaged over the last (class) dimension."""
    op = "multilabel_soft_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    _tensors(op, input=input, target=target)
    if input.ndim == 0:
        raise ShapeError(f"{op}: expected an input with a class dimension, got a 0-d tensor")
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.sum(input.ndim - 1) / input.shape[-1], reduction, op)


@_public
def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,  # noqa: A002
                     size_average: bool | None = None, eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """exp(input) - target * input (``log_input``), else input - target * log(input + eps); ``full`` adds
    Stirling's term t log t - t + log(2 pi t) / 2 where t > 1."""
    op = "poisson_nll_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction, op)
    _tensors(op, input=input, target=target)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        above = target > 1
        safe = _where(above, target, 2.0)  # log never sees t <= 0, so no NaN in the gradient
        loss = loss + _where(above, safe * safe.log() - safe + 0.5 * (safe * (2 * math.pi)).log(), 0.0)
    return _reduce(loss, reduction, op)


@_public
def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,  # noqa: A002
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """(log(max(var, eps)) + (input - target)² / max(var, eps)) / 2 (+ log(2 pi) / 2 with ``full``). ``var`` is a
    float, input's shape, input's shape without its last dimension, or input's shape with one dimension of size 1
    (PyTorch's rules). The clamp is outside autograd, as PyTorch's: var's gradient is the unclamped formula's."""
    op = "gaussian_nll_loss"
    _tensors(op, input=input, target=target)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{op}: var has negative entry/entries ({var})")
        var = _creation.full(input.shape, float(var), dtype=input.dtype, backend=input.backend)
    _tensors(op, var=var)
    if var.numel() and _value_range(var)[0] < 0:
        raise ValueError(f"{op}: var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ShapeError(f"{op}: var is of incorrect size {var.shape} for input {input.shape}: expected the "
                             "input's shape, that shape without its last dimension, or with one dimension of size 1")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    diff = input - target
    if var.dtype.kind != "f":  # an integer var takes the floating operand's dtype, as every op's operands
        var = var.astype(diff.dtype if diff.dtype.kind == "f" else "float32")
    clamped = var + (var.detach().clamp(min=eps) - var.detach())
    loss = 0.5 * (clamped.log() + diff * diff / clamped)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, op)
