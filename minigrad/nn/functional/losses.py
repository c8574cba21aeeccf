"""The classic losses: negative log-likelihood, cross-entropy, binary cross-entropy, MSE, L1, smooth L1,
Huber and KL divergence, with the class-target and reduction helpers they share.
"""

from __future__ import annotations

import math

from ...errors import ShapeError
from ...ops import softplus
from ...ops import where as _where
from ...ops._common import constant
from ...ops.loss import softmax_cross_entropy
from ...ops.movement import _reshape_or_self
from ...tensor import Tensor
from ._common import _REDUCTIONS, _legacy_reduction, _public, _value_range


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _class_last_2d(input: Tensor, target: Tensor, op: str) -> tuple[Tensor, Tensor, tuple]:
    """(N, C, d1, ...) logits and (N, d1, ...) targets as (M, C) and (M,), plus the loss shape."""
    if not isinstance(target, Tensor):
        raise TypeError(f"{op}: target must be a tensor of class indices, got {type(target).__name__}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {target.dtype.name}")
    if input.ndim == 1:
        input, target = input.unsqueeze(0), target.reshape(1)
        loss_shape: tuple = ()
    else:
        loss_shape = (input.shape[0],) + input.shape[2:]
    if input.ndim < 2 or tuple(target.shape) != loss_shape and loss_shape != ():
        raise ShapeError(f"{op}: input {input.shape} (N, C, ...) needs target of shape {loss_shape}, got "
                         f"{target.shape}")
    if input.ndim > 2:
        c = input.shape[1]
        input = input.permute(0, *range(2, input.ndim), 1).reshape(-1, c)
        target = target.reshape(-1)
    return input, target, loss_shape


def _check_targets(target: Tensor, classes: int, ignore_index: int, op: str) -> Tensor | None:
    """The mask of rows that count (None when all do); errors for out-of-range classes."""
    be = target._backend
    valid = be.not_equal(target.array, ignore_index)
    all_valid = bool(be.to_numpy(be.min(valid, None, False))) if target.numel() else True
    checked = target.array if all_valid else be.where(valid, target.array, 0)
    if target.numel():
        low, high = int(be.to_numpy(be.min(checked, None, False))), int(be.to_numpy(be.max(checked, None, False)))
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise IndexError(f"{op}: target {bad} is out of bounds for {classes} classes "
                             f"(ignore_index={ignore_index})")
    return None if all_valid else valid


def _weighted_reduce(loss: Tensor, row_weight: Tensor | None, reduction: str, op: str) -> Tensor:
    """PyTorch's reduction for class-index losses: 'mean' divides by the total weight of counted rows."""
    if reduction == "mean" and row_weight is not None:
        return loss.sum() / row_weight.sum()
    return _reduce(loss, reduction, op)


@_public
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
             size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
             reduction: str = "mean") -> Tensor:
    """-input[i, target[i]] (input holds log-probabilities), weighted and reduced as in PyTorch."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "nll_loss")
    flat, t, loss_shape = _class_last_2d(input, target, "nll_loss")
    classes = flat.shape[1]
    valid = _check_targets(t, classes, ignore_index, "nll_loss")
    be = t._backend
    safe = t if valid is None else Tensor(be.where(valid, t.array, 0), be)
    rows = Tensor(be.arange(0, flat.shape[0], 1, t.dtype), be)
    loss = -flat[rows, safe]
    row_weight = _row_weights(weight, safe, valid, flat)
    if row_weight is not None:
        loss = loss * row_weight
    if reduction == "none":
        return _reshape_or_self(loss, loss_shape)
    return _weighted_reduce(loss, row_weight, reduction, "nll_loss")


def _row_weights(weight: Tensor | None, target: Tensor, valid, like: Tensor) -> Tensor | None:
    """Per-row weight w[target] (0 for ignored rows), or None when every row weighs 1."""
    be = like._backend
    if weight is None:
        if valid is None:
            return None
        return constant(like._backend, be.astype(valid, like.dtype))
    if weight.ndim != 1 or weight.shape[0] != like.shape[1]:
        raise ShapeError(f"weight must have shape ({like.shape[1]},), got {weight.shape}")
    w = weight.astype(like.dtype)[target]
    if valid is not None:
        w = w * constant(like._backend, be.astype(valid, like.dtype))
    return w


@_public
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                  size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over axis 1, then the negative log-likelihood of the target classes (PyTorch's semantics).

    ``input`` is (N, C) or (N, C, d1, ...) (or (C,)), ``target`` integer classes, or class probabilities of the
    input's shape; ``label_smoothing`` mixes in the uniform distribution as
    (1 - eps) * nll + eps / C * sum_c(-w_c log p_c).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        return _cross_entropy_probabilities(input, target, weight, ignore_index, reduction, label_smoothing)
    flat, t, loss_shape = _class_last_2d(input, target, "cross_entropy")
    classes = flat.shape[1]
    valid = _check_targets(t, classes, ignore_index, "cross_entropy")
    be = t._backend
    safe = t if valid is None else Tensor(be.where(valid, t.array, 0), be)
    row_weight = _row_weights(weight, safe, valid, flat)
    nll = softmax_cross_entropy(flat, safe)  # one fused op: (M,) per-row losses
    if row_weight is not None:
        nll = nll * row_weight
    if label_smoothing > 0.0:
        log_p = flat.log_softmax(1)
        if weight is not None:
            log_p = log_p * weight.astype(flat.dtype)
        smooth = -log_p.sum(1)
        if valid is not None:
            smooth = smooth * constant(flat._backend, be.astype(valid, flat.dtype))
        loss = nll * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)
    else:
        loss = nll
    if reduction == "none":
        return _reshape_or_self(loss, loss_shape)
    return _weighted_reduce(loss, row_weight, reduction, "cross_entropy")


def _cross_entropy_probabilities(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,  # noqa: A002
                                 reduction: str, label_smoothing: float) -> Tensor:
    """``cross_entropy`` with class probabilities as the target (same shape as the input), PyTorch's form:
    -sum_c w_c t_c log p_c per position, t smoothed to t (1 - eps) + eps / C; "mean" divides by the number of
    positions (not by the weights, unlike class-index targets)."""
    index_shape = tuple(input.shape[:1]) + tuple(input.shape[2:]) if input.ndim >= 2 else ()
    if tuple(target.shape) != tuple(input.shape) and tuple(target.shape) == index_shape:
        raise TypeError(f"cross_entropy: a target of shape {target.shape} must hold integer class indices, got "
                        f"{target.dtype.name} (class probabilities have the input's shape {input.shape})")
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"cross_entropy: class-probability targets must have the input's shape {input.shape}, got "
                         f"{target.shape} (class-index targets are integers)")
    if ignore_index != -100:
        raise ValueError("cross_entropy: ignore_index is only for class-index targets, not class probabilities")
    if input.ndim < 1:
        raise ShapeError(f"cross_entropy: input must have a class axis, got shape {input.shape}")
    dim = 1 if input.ndim >= 2 else 0
    classes = input.shape[dim]
    log_p = input.log_softmax(dim)
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    if weight is not None:
        if tuple(weight.shape) != (classes,):
            raise ShapeError(f"cross_entropy: weight must have shape ({classes},), got {weight.shape}")
        log_p = log_p * _reshape_or_self(weight.astype(input.dtype), (classes,) + (1,) * (input.ndim - dim - 1))
    loss = -(log_p * target).sum(dim)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _elementwise_weight(loss: Tensor, weight: Tensor | None, reduction: str, op: str, mean_by_weight: bool) -> Tensor:
    """PyTorch's ``weight=`` of mse_loss, l1_loss and huber_loss: one weight per element (the input's shape);
    "mean" divides by the sum of the weights for the first two, by the element count for huber_loss."""
    if weight is None:
        return _reduce(loss, reduction, op)
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a tensor, got {type(weight).__name__}")
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError(f"{op}: weight must have the input's shape {loss.shape}, got {weight.shape}")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction, op)


@_public
def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,  # noqa: A002
             reduce: bool | None = None, reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """(input - target) ** 2, reduced; with ``weight``, times the weights, and "mean" is sum / sum(weight)."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "mse_loss")
    if tuple(input.shape) != tuple(target.shape):
        raise ShapeError(f"mse_loss: input {input.shape} and target {target.shape} must have one shape "
                         "(PyTorch would broadcast with a warning; minigrad refuses)")
    diff = input - target
    return _elementwise_weight(diff * diff, weight, reduction, "mse_loss", True)


@_public
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """-[pos_weight * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x))], computed stably.

    Written as (1 - t) * x + (1 + (pos_weight - 1) * t) * softplus(-x): no exp of a large argument.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction, "binary_cross_entropy_with_logits")
    if tuple(input.shape) != tuple(target.shape):
        raise ShapeError(f"binary_cross_entropy_with_logits: input {input.shape} and target {target.shape} "
                         "must have one shape")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"binary_cross_entropy_with_logits: reduction must be one of {_REDUCTIONS}, "
                         f"got {reduction!r}")
    log_sig_neg = softplus(-input, 1.0, math.inf)  # -log(sigmoid(x)), never linearised
    if pos_weight is None:
        loss = (1 - target) * input + log_sig_neg
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * log_sig_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _pointwise_operands(input: Tensor, target: Tensor, op: str, reduction: str) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ShapeError(f"{op}: input {input.shape} and target {target.shape} must have one shape "
                         "(PyTorch would broadcast with a warning; minigrad refuses)")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


@_public
def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,  # noqa: A002
            reduce: bool | None = None, reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """|input - target|, reduced; with ``weight``, times the weights, and "mean" is sum / sum(weight)."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "l1_loss")
    _pointwise_operands(input, target, "l1_loss", reduction)
    return _elementwise_weight((input - target).abs(), weight, reduction, "l1_loss", True)


@_public
def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,  # noqa: A002
                   reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d² / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta = 0 is l1_loss."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "smooth_l1_loss")
    _pointwise_operands(input, target, "smooth_l1_loss", reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    diff = input - target
    size = diff.abs()
    if beta == 0.0:
        return _reduce(size, reduction, "smooth_l1_loss")
    loss = _where(size < beta, diff * diff * (0.5 / beta), size - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


@_public
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean",  # noqa: A002
               delta: float = 1.0, weight: Tensor | None = None) -> Tensor:
    """0.5 d² where |d| <= delta, else delta (|d| - 0.5 delta): smooth_l1_loss(beta=delta) * delta; with
    ``weight``, times the weights (and "mean" still divides by the element count, as PyTorch)."""
    _pointwise_operands(input, target, "huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    diff = input - target
    size = diff.abs()
    loss = _where(size <= delta, diff * diff * 0.5, (size - 0.5 * delta) * delta)
    return _elementwise_weight(loss, weight, reduction, "huber_loss", False)


def _clamped_log(x: Tensor) -> Tensor:
    """max(log(x), -100), PyTorch's clamp in binary_cross_entropy, with a finite gradient (0) where clamped."""
    with_log = x > math.exp(-100.0)
    safe = _where(with_log, x, 1.0)  # log never sees 0, so no inf * 0 in the gradient
    return _where(with_log, safe.log(), -100.0)


@_public
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """-[t log(p) + (1 - t) log(1 - p)] for probabilities p in [0, 1]; each log clamped at -100 (PyTorch)."""
    reduction = _legacy_reduction(size_average, reduce, reduction, "binary_cross_entropy")
    _pointwise_operands(input, target, "binary_cross_entropy", reduction)
    if input.numel():
        low, high = _value_range(input)
        if not (0.0 <= low and high <= 1.0):
            raise ValueError(f"binary_cross_entropy: input values must be probabilities in [0, 1], got values "
                             f"in [{low}, {high}] (for logits use binary_cross_entropy_with_logits)")
    loss = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


@_public
def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,  # noqa: A002
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise KL divergence t (log t - input) with ``input`` log-probabilities (0 where t = 0); with
    ``log_target`` the target is log-probabilities too: exp(t) (t - input). ``"batchmean"`` divides the sum
    by the batch size (the true KL divergence); ``"mean"`` by the element count, as PyTorch."""
    if size_average is not None or reduce is not None:
        # As PyTorch: the legacy pair sets the reduction, and "batchmean" still divides that by the batch size.
        legacy = _legacy_reduction(size_average, reduce, "mean", "kl_div")
        loss = kl_div(input, target, reduction=legacy, log_target=log_target)
        return loss / input.shape[0] if reduction == "batchmean" and input.ndim else loss
    _pointwise_operands(input, target, "kl_div", "mean" if reduction == "batchmean" else reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target > 0
        loss = _where(positive, target * _where(positive, target, 1.0).log(), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction, "kl_div")
