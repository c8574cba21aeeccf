"""PyTorch's top-level spellings of functional ops whose signatures differ from ``nn.functional``'s.

``torch.batch_norm``, ``torch.embedding``, ``torch.dropout``, ``torch.kl_div``, ... are ATen's functions: their own
argument order (``embedding(weight, indices)``), no defaults where ATen has none (``dropout(input, p, train)``),
reductions as integers (0: "none", 1: "mean", 2: "sum") and no ``return_indices``. Each is
``nn.functional``'s function with the arguments rearranged. ``minigrad.<name>`` loads them on first use (they
import ``nn``); the top-level names whose signature is ``nn.functional``'s are that function itself.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor
from . import functional as F  # noqa: N812 - PyTorch's convention
from .functional.normalization import _keep_mask

_REDUCTIONS = ("none", "mean", "sum")  # PyTorch's at::Reduction enum: 0, 1, 2


def _reduction(op: str, reduction) -> str:
    if isinstance(reduction, bool) or not isinstance(reduction, (int, np.integer)):
        raise TypeError(f"{op}: reduction must be an int (0: 'none', 1: 'mean', 2: 'sum') at the top level, got "
                        f"{type(reduction).__name__}; nn.functional.{op} takes the names")
    if reduction not in (0, 1, 2):
        raise ValueError(f"{op}: reduction must be 0 ('none'), 1 ('mean') or 2 ('sum'), got {reduction}")
    return _REDUCTIONS[reduction]


# -- normalization and lookup: ATen's argument order ---------------------------------------------------------------
def batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,  # noqa: A002
               running_var: Tensor | None, training: bool, momentum: float, eps: float,
               cudnn_enabled: bool) -> Tensor:
    """``F.batch_norm`` with ATen's argument order (``cudnn_enabled`` has no effect)."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,  # noqa: A002
                  running_var: Tensor | None, use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool) -> Tensor:
    """``F.instance_norm`` with ATen's argument order (``cudnn_enabled`` has no effect)."""
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,  # noqa: A002
               eps: float = 1e-5, cudnn_enable: bool = True) -> Tensor:
    """``F.layer_norm`` (``cudnn_enable`` has no effect)."""
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,  # noqa: A002
               eps: float = 1e-5, cudnn_enabled: bool = True) -> Tensor:
    """``F.group_norm`` (``cudnn_enabled`` has no effect)."""
    return F.group_norm(input, num_groups, weight, bias, eps)


def embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """``F.embedding(indices, weight, padding_idx)``: weight first; a negative ``padding_idx`` means none (ATen's
    convention: ``F.embedding`` turns its negative indices into positive ones before calling it)."""
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse (gradients) are not supported")
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise ShapeError(f"embedding: 'weight' must be 2-D (num_embeddings, embedding_dim), got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    return F.embedding(indices, weight, padding_idx if padding_idx >= 0 else None)


# -- dropout: p and train required, in-place spellings ----------------------------------------------------------
def dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``F.dropout(input, p, train)``."""
    return F.dropout(input, p, train)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``F.dropout(input, p, train, inplace=True)``."""
    return F.dropout(input, p, train, True)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``F.alpha_dropout(input, p, train)``."""
    return F.alpha_dropout(input, p, train)


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``F.alpha_dropout(input, p, train, inplace=True)``."""
    return F.alpha_dropout(input, p, train, True)


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``F.feature_alpha_dropout(input, p, train)``."""
    return F.feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``F.feature_alpha_dropout(input, p, train, inplace=True)``."""
    return F.feature_alpha_dropout(input, p, train, True)


def _feature_dropout(op: str, input: Tensor, p: float, train: bool, inplace: bool) -> Tensor:  # noqa: A002
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise ShapeError(f"{op}: requires at least 2 dimensions in the input (N, C, *), got "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if not train or p == 0.0:
        return input
    out = input * 0.0 if p == 1.0 else input * _keep_mask(input, input.shape[:2] + (1,) * (input.ndim - 2), p)
    return input.copy_(out) if inplace else out


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """Dropout of whole channels of an (N, C, *) input, one draw per sample and channel (what ``F.dropout1d/2d/3d``
    do, for any number of dimensions from 2)."""
    return _feature_dropout("feature_dropout", input, p, train, False)


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """``feature_dropout`` in place."""
    return _feature_dropout("feature_dropout_", input, p, train, True)


# -- losses: reductions as integers -----------------------------------------------------------------------------
def kl_div(input: Tensor, target: Tensor, reduction: int = 1, *, log_target: bool = False) -> Tensor:  # noqa: A002
    """``F.kl_div``; reduction 1 is the mean over all elements (``F.kl_div``'s "batchmean" has no number)."""
    return F.kl_div(input, target, reduction=_reduction("kl_div", reduction), log_target=log_target)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                                     pos_weight: Tensor | None = None, reduction: int = 1) -> Tensor:
    """``F.binary_cross_entropy_with_logits`` (``pos_weight`` before ``reduction``)."""
    op = "binary_cross_entropy_with_logits"
    return F.binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(op, reduction),
                                              pos_weight=pos_weight)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: int = 1) -> Tensor:
    """``F.cosine_embedding_loss``."""
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction("cosine_embedding_loss", reduction))


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction: int = 1) -> Tensor:  # noqa: A002
    """``F.hinge_embedding_loss``."""
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction("hinge_embedding_loss", reduction))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: int = 1) -> Tensor:
    """``F.margin_ranking_loss``."""
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction("margin_ranking_loss", reduction))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction: int = 1) -> Tensor:
    """``F.triplet_margin_loss``."""
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction("triplet_margin_loss", reduction))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float,  # noqa: A002
                     reduction: int) -> Tensor:
    """``F.poisson_nll_loss``, every argument required."""
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction("poisson_nll_loss", reduction))


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0, reduction: int = 1,
             zero_infinity: bool = False) -> Tensor:
    """``F.ctc_loss``."""
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, _reduction("ctc_loss", reduction),
                      zero_infinity)


# -- pooling without return_indices; padding; grid sampling by enum -----------------------------------------------
def _stride(stride):
    return None if stride is None or (isinstance(stride, (tuple, list)) and not stride) else stride  # ATen's []: kernel


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False) -> Tensor:
    """``F.max_pool1d`` (no ``return_indices``: ``max_pool1d_with_indices``)."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False) -> Tensor:
    """``F.max_pool2d`` (no ``return_indices``)."""
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False) -> Tensor:
    """``F.max_pool3d`` (no ``return_indices``)."""
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode: bool = False) -> tuple[Tensor, Tensor]:
    """``F.max_pool1d(..., return_indices=True)``: (values, indices)."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode, True)


def adaptive_max_pool1d(input: Tensor, output_size) -> tuple[Tensor, Tensor]:  # noqa: A002
    """``F.adaptive_max_pool1d(..., return_indices=True)``: ATen's always returns (values, indices)."""
    return F.adaptive_max_pool1d(input, output_size, True)


def constant_pad_nd(input: Tensor, pad, value=0) -> Tensor:  # noqa: A002
    """``F.pad(input, pad, "constant", value)``: negative widths crop."""
    return F.pad(input, pad, "constant", value)


_INTERPOLATION = ("bilinear", "nearest", "bicubic")  # ATen's GridSamplerInterpolation
_PADDING = ("zeros", "border", "reflection")  # ATen's GridSamplerPadding


def grid_sampler(input: Tensor, grid: Tensor, interpolation_mode: int, padding_mode: int,  # noqa: A002
                 align_corners: bool) -> Tensor:
    """``F.grid_sample`` with the modes as ATen's integers: interpolation 0 bilinear, 1 nearest, 2 bicubic;
    padding 0 zeros, 1 border, 2 reflection."""
    for label, value, names in (("interpolation_mode", interpolation_mode, _INTERPOLATION),
                                ("padding_mode", padding_mode, _PADDING)):
        if isinstance(value, bool) or value not in range(len(names)):
            raise ValueError(f"grid_sampler: {label} must be one of "
                             f"{', '.join(f'{i} ({n})' for i, n in enumerate(names))}, got {value!r}")
    return F.grid_sample(input, grid, _INTERPOLATION[interpolation_mode], _PADDING[padding_mode], bool(align_corners))


FUNCTIONS = {f.__name__: f for f in (
    batch_norm, instance_norm, layer_norm, group_norm, embedding, dropout, dropout_, alpha_dropout, alpha_dropout_,
    feature_alpha_dropout, feature_alpha_dropout_, feature_dropout, feature_dropout_, kl_div,
    binary_cross_entropy_with_logits, cosine_embedding_loss, hinge_embedding_loss, margin_ranking_loss,
    triplet_margin_loss, poisson_nll_loss, ctc_loss, max_pool1d, max_pool2d, max_pool3d, max_pool1d_with_indices,
    adaptive_max_pool1d, constant_pad_nd, grid_sampler)}
