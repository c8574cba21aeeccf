"""Dropout (``dropout``, ``dropout1d``, ``dropout2d``) and the layer, group and instance norms."""

from __future__ import annotations

import math

from ...errors import ShapeError
from ...grad_mode import no_grad
from ...ops._common import constant
from ...ops.movement import _reshape_or_self
from ...tensor import Tensor
from ._common import _public


def _keep_mask(input: Tensor, shape: tuple, p: float) -> Tensor:
    """A constant mask of ``shape``: 0 with probability ``p``, else 1 / (1 - p) (the backend's generator)."""
    be = input._backend
    keep = be.less(be.rand(shape, input.dtype), 1.0 - p)
    return constant(be, be.multiply(be.astype(keep, input.dtype), 1.0 / (1.0 - p)))


@_public
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (backend RNG)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    out = input * 0.0 if p == 1.0 else input * _keep_mask(input, input.shape, p)
    return input.copy_(out) if inplace else out


@_public
def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of a (N, C, L) or (C, L) input with probability ``p``; scale the rest."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout1d: p must be in [0, 1], got {p}")
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ShapeError(f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if not training or p == 0.0:
        return input
    out = input * 0.0 if p == 1.0 else input * _keep_mask(input, input.shape[:-1] + (1,), p)
    return input.copy_(out) if inplace else out


@_public
def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of a (N, C, H, W) or (C, H, W) input with probability ``p``; scale the rest."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be in [0, 1], got {p}")
    if input.ndim not in (3, 4):
        raise ShapeError(f"dropout2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {input.shape}")
    if not training or p == 0.0:
        return input
    out = input * 0.0 if p == 1.0 else input * _keep_mask(input, input.shape[:-2] + (1, 1), p)
    return input.copy_(out) if inplace else out


@_public
def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes (biased variance), then scale and shift."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape or len(shape) > input.ndim:
        raise ShapeError(f"layer_norm: normalized_shape {shape} does not match the trailing dimensions of "
                         f"input shape {input.shape}")
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    mean = input.mean(axes, keepdims=True)
    centered = input - mean
    var = (centered * centered).mean(axes, keepdims=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


@_public
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each of ``num_groups`` channel groups of (N, C, ...) per sample (biased variance), then apply
    the per-channel ``weight`` and ``bias``."""
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise ShapeError(f"group_norm: num_groups={num_groups} must divide the channels of input shape "
                         f"{input.shape} (N, C, ...)")
    n, c = input.shape[:2]
    grouped = input.reshape(n, num_groups, -1)
    mean = grouped.mean(2, keepdims=True)
    centered = grouped - mean
    var = (centered * centered).mean(2, keepdims=True)
    out = _reshape_or_self(centered * (var + eps).rsqrt(), input.shape)
    per_channel = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out


@_public
def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,  # noqa: A002
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample over its spatial axes (biased variance), then apply the per-channel
    ``weight`` and ``bias``. With ``use_input_stats`` the running statistics, when given, move towards the
    batch's average of the per-instance mean and unbiased variance (in place, outside the graph, as PyTorch);
    without it they normalise instead."""
    if not isinstance(input, Tensor) or input.ndim < 3:
        raise ShapeError(f"instance_norm: expected an input (N, C, *spatial) with spatial axes, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    c, axes = input.shape[1], tuple(range(2, input.ndim))
    per_channel = (1, c) + (1,) * (input.ndim - 2)
    for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
        if stat is not None and tuple(stat.shape) != (c,):
            raise ShapeError(f"instance_norm: {name} must have shape ({c},) for input of shape {input.shape}, "
                             f"got {stat.shape}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: running_mean and running_var are needed when use_input_stats=False")
        mean, var = running_mean.astype(input.dtype), running_var.astype(input.dtype)
        out = (input - mean.reshape(per_channel)) * (var + eps).rsqrt().reshape(per_channel)
        if weight is not None:
            out = out * weight.reshape(per_channel)
        return out if bias is None else out + bias.reshape(per_channel)
    if math.prod(input.shape[2:]) <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element per channel, got input of shape "
                         f"{input.shape}")
    if running_mean is not None or running_var is not None:
        with no_grad():
            if running_mean is not None:
                update = input.mean(axes).mean(0).astype(running_mean.dtype)
                running_mean.mul_(1.0 - momentum).add_(update * momentum)
            if running_var is not None:
                update = input.var(axes, correction=1).mean(0).astype(running_var.dtype)
                running_var.mul_(1.0 - momentum).add_(update * momentum)
    return group_norm(input, c, weight, bias, eps)


# -- RMS norm, local response norm, alpha dropouts, dropout3d and channel shuffle (PyTorch's formulas) ----------
@_public
def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,  # noqa: A002
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x ** 2) + eps) over the trailing ``normalized_shape`` axes, times ``weight``; ``eps=None``
    is the machine epsilon of the input's dtype (PyTorch's)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) > input.ndim or tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise ShapeError(f"rms_norm: normalized_shape {shape} does not match the trailing dimensions of input "
                         f"shape {input.shape}")
    if weight is not None and tuple(weight.shape) != shape:
        raise ShapeError(f"rms_norm: weight of shape {weight.shape} must have normalized_shape {shape}")
    if input.dtype.kind != "f" or weight is not None and weight.dtype.kind != "f":
        raise TypeError(f"rms_norm: the input and weight must be floating, got {input.dtype.name}"
                        + ("" if weight is None else f" and {weight.dtype.name}"))
    if eps is None:
        import numpy as np

        eps = float(np.finfo(input.dtype).eps)
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    out = input * ((input * input).mean(axes, keepdims=True) + eps).rsqrt()
    return out if weight is None else out * weight


@_public
def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,  # noqa: A002
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha * mean of x ** 2 over ``size`` neighbouring channels) ** beta, the window zero-padded by
    size // 2 channels before and (size - 1) // 2 after (PyTorch's average, which counts the padding)."""
    if not isinstance(input, Tensor) or input.ndim < 3:
        raise ShapeError(f"local_response_norm: expected 3D or higher dimensionality input (got shape "
                         f"{getattr(input, 'shape', type(input).__name__)})")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    if input.numel() == 0:
        return input
    from ... import ops as _ops

    c = input.shape[1]
    squared = input * input
    widths = [(0, 0)] * input.ndim
    widths[1] = (size // 2, (size - 1) // 2)
    padded = _ops.pad(squared, tuple(w for pair in reversed(widths[1:]) for w in pair))
    window = padded[:, 0:c]
    for j in range(1, size):
        window = window + padded[:, j:j + c]
    return input / (window * (alpha / size) + k) ** beta


def _alpha_dropout(input: Tensor, p: float, training: bool, inplace: bool, mask_shape, op: str) -> Tensor:  # noqa: A002
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        out = input * 0.0
        return input.copy_(out) if inplace else out
    alpha = 1.7580993408473766  # -scale * alpha of SELU: the value a dropped SELU unit is set to (times -1)
    a = 1.0 / math.sqrt((alpha * alpha * p + 1.0) * (1.0 - p))
    be = input._backend
    keep = be.astype(be.less(be.rand(mask_shape, input.dtype), 1.0 - p), input.dtype)
    scale = constant(be, be.multiply(keep, a))
    shift = constant(be, be.add(be.multiply(be.subtract(keep, 1.0), alpha * a), alpha * a * p))
    out = input * scale + shift
    return input.copy_(out) if inplace else out


@_public
def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:  # noqa: A002
    """Dropout for SELU networks: dropped elements take SELU's negative saturation value, then an affine map
    keeps mean and variance (PyTorch's constants); identity unless ``training`` (False by default, as PyTorch)."""
    return _alpha_dropout(input, p, training, inplace, input.shape, "alpha_dropout")


@_public
def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,  # noqa: A002
                          inplace: bool = False) -> Tensor:
    """``alpha_dropout`` of whole channels of an (N, C, *) input (one draw per sample and channel)."""
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise ShapeError(f"feature_alpha_dropout: expected an input of at least 2 dimensions (N, C, *), got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    return _alpha_dropout(input, p, training, inplace, input.shape[:2] + (1,) * (input.ndim - 2),
                          "feature_alpha_dropout")


@_public
def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of a (N, C, D, H, W) or (C, D, H, W) input with probability ``p``; scale the rest."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout3d: p must be in [0, 1], got {p}")
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        raise ShapeError(f"dropout3d: expected a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if not training or p == 0.0:
        return input
    out = input * 0.0 if p == 1.0 else input * _keep_mask(input, input.shape[:-3] + (1, 1, 1), p)
    return input.copy_(out) if inplace else out


@_public
def channel_shuffle(input: Tensor, groups: int) -> Tensor:  # noqa: A002
    """Reorder the C channels of (N, C, *) as (groups, C / groups) transposed (ShuffleNet's shuffle)."""
    if not isinstance(input, Tensor) or input.ndim < 3:
        raise ShapeError(f"channel_shuffle: expects input to have at least 3 dimensions, but got input of shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"channel_shuffle: number of groups to divide channels in must be positive, got {groups!r}")
    n, c = input.shape[:2]
    if c % groups:
        raise ShapeError(f"channel_shuffle: number of channels {c} must be divisible by groups {groups}")
    rest = input.shape[2:]
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(input.shape)
