"""Functional forms of the layers and losses, with PyTorch's names, arguments and semantics.

Everything here is differentiable to any order: the composites are built from differentiable ops, and the
ops (``Unfold``/``Fold``/``MaxPool2d`` in ``minigrad.ops.conv``, ``SoftmaxCrossEntropy`` in
``minigrad.ops.loss``, ``batch_norm`` from ``minigrad.ops.batchnorm``) have backward rules written in tensor ops.
``OPS`` is the explicit registry of the public differentiable functions, each registered where it is defined.
"""

from __future__ import annotations

import math

from .. import creation as _creation
from ..errors import ShapeError
from ..grad_mode import no_grad
from ..ops import conv as _conv
from ..ops import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    pad,  # PyTorch's F.pad; registered (and tested) with the tensor ops
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from ..ops import where as _where
from ..ops._common import binary_operands, constant
from ..ops.batchnorm import batch_norm
from ..ops.loss import softmax_cross_entropy
from ..ops.movement import TakeAlong
from ..tensor import Tensor

# The public differentiable functions, each registered where it is defined (``@_public``) or, for the ops
# re-exported from minigrad.ops, right here: this module's ``__all__`` is built from it (with ``one_hot``).
OPS: dict = {}


def _public(fn):
    OPS[fn.__name__] = fn
    return fn


for _op in (batch_norm, elu, gelu, hardtanh, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus, tanh):
    _public(_op)
del _op

_REDUCTIONS = ("mean", "sum", "none")


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair  # type: ignore[return-value]


def _check_4d(x: Tensor, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W), got shape {x.shape}")


def _check_windows(op: str, hw, kernel, stride, padding, dilation) -> tuple[int, int]:
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive and padding non-negative, "
                         f"got kernel_size={kernel}, stride={stride}, padding={padding}, dilation={dilation}")
    out = tuple(_conv.out_size(n, k, s, p, d) for n, k, s, p, d in zip(hw, kernel, stride, padding, dilation))
    if min(out) < 1:
        raise ShapeError(f"{op}: input of spatial size {tuple(hw)} is too small for kernel_size {kernel} with "
                         f"padding {padding} and dilation {dilation} (output would be {out})")
    return out  # type: ignore[return-value]


# -- linear layers ----------------------------------------------------------------------------------
@_public
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """input @ weight.T + bias, with weight of shape (out_features, in_features)."""
    if input.shape[-1] != weight.shape[-1]:
        raise ShapeError(f"linear: input has {input.shape[-1]} features (shape {input.shape}) but weight "
                         f"expects {weight.shape[-1]} (weight shape {weight.shape})")
    out = input @ weight.mT
    return out if bias is None else out + bias


@_public
def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:  # noqa: A002
    """Sliding windows of a (N, C, H, W) input as columns (N, C * kh * kw, L), like ``F.unfold``."""
    _check_4d(input, "unfold")
    kernel, dilation, padding, stride = (_pair(kernel_size, "kernel_size"), _pair(dilation, "dilation"),
                                         _pair(padding, "padding"), _pair(stride, "stride"))
    _check_windows("unfold", input.shape[2:], kernel, stride, padding, dilation)
    return _conv.unfold(input, kernel, dilation, padding, stride)


@_public
def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:  # noqa: A002
    """Sum columns (N, C * kh * kw, L) back into (N, C, H, W), like ``F.fold`` (the adjoint of unfold)."""
    output_size, kernel = _pair(output_size, "output_size"), _pair(kernel_size, "kernel_size")
    dilation, padding, stride = _pair(dilation, "dilation"), _pair(padding, "padding"), _pair(stride, "stride")
    oh, ow = _check_windows("fold", output_size, kernel, stride, padding, dilation)
    k = kernel[0] * kernel[1]
    if input.ndim != 3 or input.shape[1] % k or input.shape[2] != oh * ow:
        raise ShapeError(f"fold: expected input (N, C * {k}, {oh * ow}) for output_size {output_size}, "
                         f"got shape {input.shape}")
    return _conv.fold(input, output_size, kernel, dilation, padding, stride)


@_public
def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
           padding: int | tuple | str = 0, dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) with weight (O, C // groups, kh, kw): im2col and one GEMM."""
    _check_4d(input, "conv2d")
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: weight must be 4-D (out, in // groups, kh, kw), got shape {weight.shape}")
    n, c, h, w = input.shape
    o, cg, kh, kw = weight.shape
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    if isinstance(padding, str):
        padding = _string_padding(padding, (kh, kw), stride, dilation)
    padding = _pair(padding, "padding")
    if groups < 1 or c % groups or o % groups:
        raise ValueError(f"conv2d: groups={groups} must divide both in_channels {c} and out_channels {o}")
    if cg * groups != c:
        raise ShapeError(f"conv2d: input has {c} channels but weight {weight.shape} with groups={groups} "
                         f"expects {cg * groups}")
    oh, ow = _check_windows("conv2d", (h, w), (kh, kw), stride, padding, dilation)
    # The promotion rule of every op: an int64 image (or weight, or bias) takes the float operand's dtype.
    input, weight = binary_operands(input, weight)
    if bias is not None:
        bias = binary_operands(weight, bias)[1]
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != o):
        raise ShapeError(f"conv2d: bias must have shape ({o},) for {o} output channels, got {bias.shape}")
    return _conv.conv2d(input, weight, bias, stride, padding, dilation, groups)


def _string_padding(padding: str, kernel, stride, dilation) -> tuple[int, int]:
    if padding == "valid":
        return (0, 0)
    if padding != "same":
        raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    if stride != (1, 1):
        raise ValueError("conv2d: padding='same' needs stride 1")
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    if any(t % 2 for t in total):
        raise NotImplementedError("conv2d: padding='same' with an even effective kernel (asymmetric "
                                  "padding) is not supported; pad explicitly with minigrad.pad")
    return (total[0] // 2, total[1] // 2)


@_public
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
           padding: int | tuple | str = 0, dilation=1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of (N, C, L) with weight (O, C // groups, k): conv2d on a height-1 image."""
    if not isinstance(input, Tensor) or input.ndim != 3:
        raise ShapeError(f"conv1d: expected a 3-D input (N, C, L), got shape {getattr(input, 'shape', None)}")
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: weight must be 3-D (out, in // groups, k), got shape {weight.shape}")
    stride, dilation = _single(stride, "stride"), _single(dilation, "dilation")
    padding = padding if isinstance(padding, str) else (0, _single(padding, "padding"))
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride), padding, (1, dilation), groups)
    return out.squeeze(2)


def _single(value, name: str) -> int:
    single = value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
    if not isinstance(single, int):
        raise ValueError(f"{name} must be an int or a 1-tuple of ints, got {value!r}")
    return single


# -- pooling ----------------------------------------------------------------------------------------
def _pool_args(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    _check_4d(input, op)
    if ceil_mode:
        raise NotImplementedError(f"{op}: ceil_mode=True is not supported")
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else _pair(stride, "stride")
    padding, dilation = _pair(padding, "padding"), _pair(dilation, "dilation")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    out = _check_windows(op, input.shape[2:], kernel, stride, padding, dilation)
    return kernel, stride, padding, dilation, out


@_public
def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """Maximum over windows; stride defaults to kernel_size. Ties send the gradient to the first maximum."""
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported")
    kernel, stride, padding, dilation, _ = _pool_args("max_pool2d", input, kernel_size, stride, padding,
                                                      dilation, ceil_mode)
    return _conv.max_pool2d(input, kernel, stride, padding, dilation)


@_public
def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over windows; padded zeros count unless ``count_include_pad=False``."""
    kernel, stride, padding, dilation, (oh, ow) = _pool_args("avg_pool2d", input, kernel_size, stride,
                                                             padding, 1, ceil_mode)
    n, c = input.shape[:2]
    k = kernel[0] * kernel[1]
    sums = _conv.unfold(input, kernel, dilation, padding, stride).reshape(n, c, k, oh, ow).sum(2)
    if divisor_override is not None:
        return sums / divisor_override
    if count_include_pad or not any(padding):
        return sums / k
    ones = Tensor(input._backend.ones((1, 1) + input.shape[2:], input.dtype), input._backend)
    counts = _conv.unfold(ones, kernel, dilation, padding, stride).sum(1).reshape(1, 1, oh, ow)
    return sums / counts


def _adaptive_bins(size: int, out: int, like: Tensor):
    """(out, size) averaging matrix with PyTorch's bins: [floor(i * size / out), ceil((i + 1) * size / out))."""
    import numpy as np

    matrix = np.zeros((out, size), like.dtype)
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return constant(like._backend, like._backend.from_numpy(matrix))


@_public
def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:  # noqa: A002
    """Mean over PyTorch's adaptive bins of a (N, C, H, W) or (C, H, W) input: two matmuls with bin matrices.

    ``output_size`` is an int or a pair; ``None`` in the pair keeps that input size."""
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise ShapeError(f"adaptive_avg_pool2d: expected a 3-D or 4-D input, got shape "
                         f"{getattr(input, 'shape', None)}")
    if input.dtype.kind != "f":
        raise TypeError(f"adaptive_avg_pool2d: expected a floating input, got {input.dtype.name}")
    pair = (output_size, output_size) if isinstance(output_size, int) or output_size is None else tuple(output_size)
    h, w = input.shape[-2:]
    oh, ow = (h if pair[0] is None else pair[0]), (w if pair[1] is None else pair[1])
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 1 for v in (oh, ow)):
        raise ValueError(f"adaptive_avg_pool2d: output_size must be a positive int or a pair, got {output_size!r}")
    if h < 1 or w < 1:
        raise ShapeError(f"adaptive_avg_pool2d: empty spatial size {(h, w)}")
    return _adaptive_bins(h, oh, input) @ input @ _adaptive_bins(w, ow, input).mT


# -- regularisation and normalisation -------------------------------------------------------------
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
    if p == 1.0:
        return input * 0.0
    out = input * _keep_mask(input, input.shape, p)
    if inplace:
        return input.copy_(out)
    return out


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
    out = (centered * (var + eps).rsqrt()).reshape(input.shape)
    per_channel = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    if bias is not None:
        out = out + bias.reshape(per_channel)
    return out


def _value_range(t: Tensor) -> tuple:
    """The smallest and largest element of a non-empty tensor, as Python numbers."""
    be = t._backend
    return be.to_numpy(be.min(t.array, None, False)).item(), be.to_numpy(be.max(t.array, None, False)).item()


# -- sparse -----------------------------------------------------------------------------------------
@_public
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,  # noqa: A002
              max_norm: float | None = None, norm_type: float = 2.0) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at the integer indices ``input``; the row ``padding_idx`` gets
    no gradient (its value is still returned, as in PyTorch). With ``max_norm``, the looked-up rows whose
    ``norm_type`` norm exceeds it are first rescaled in place to norm ``max_norm`` (PyTorch's renorm)."""
    if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    rows = weight.shape[0]
    if input.numel():
        low, high = _value_range(input)
        if low < 0 or high >= rows:
            raise IndexError(f"embedding: index {low if low < 0 else high} is out of range for {rows} embeddings")
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    out = weight[input]
    if padding_idx is None:
        return out
    if padding_idx < 0:
        padding_idx += rows
    keep = (input != padding_idx).unsqueeze(-1)
    return _where(keep, out, out.detach())


def _renorm_rows(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:  # noqa: A002
    import numpy as np

    from ..grad_mode import no_grad

    be = input._backend
    rows = Tensor(be.from_numpy(np.unique(be.to_numpy(input.array))), be)
    with no_grad():
        selected = weight[rows]
        norms = selected.norm(norm_type, dim=1, keepdim=True)
        weight[rows] = _where(norms > max_norm, selected * (max_norm / (norms + 1e-7)), selected)


# -- losses -----------------------------------------------------------------------------------------
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
        raise TypeError(f"{op}: target must hold integer class indices, got {target.dtype.name} (class "
                        "probabilities as targets are not supported)")
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
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """-input[i, target[i]] (input holds log-probabilities), weighted and reduced as in PyTorch."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
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
        return loss.reshape(loss_shape)
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
                  ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over axis 1, then the negative log-likelihood of the target classes (PyTorch's semantics).

    ``input`` is (N, C) or (N, C, d1, ...) (or (C,)), ``target`` integer classes; ``label_smoothing``
    mixes in the uniform distribution as (1 - eps) * nll + eps / C * sum_c(-w_c log p_c).
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
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
        return loss.reshape(loss_shape)
    return _weighted_reduce(loss, row_weight, reduction, "cross_entropy")


@_public
def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """(input - target) ** 2, reduced."""
    if tuple(input.shape) != tuple(target.shape):
        raise ShapeError(f"mse_loss: input {input.shape} and target {target.shape} must have one shape "
                         "(PyTorch would broadcast with a warning; minigrad refuses)")
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


@_public
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """-[pos_weight * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x))], computed stably.

    Written as (1 - t) * x + (1 + (pos_weight - 1) * t) * softplus(-x): no exp of a large argument.
    """
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
def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:  # noqa: A002
    """|input - target|, reduced."""
    _pointwise_operands(input, target, "l1_loss", reduction)
    return _reduce((input - target).abs(), reduction, "l1_loss")


@_public
def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean",  # noqa: A002
                   beta: float = 1.0) -> Tensor:
    """0.5 d² / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta = 0 is l1_loss."""
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
               delta: float = 1.0) -> Tensor:
    """0.5 d² where |d| <= delta, else delta (|d| - 0.5 delta): smooth_l1_loss(beta=delta) * delta."""
    _pointwise_operands(input, target, "huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    diff = input - target
    size = diff.abs()
    loss = _where(size <= delta, diff * diff * 0.5, (size - 0.5 * delta) * delta)
    return _reduce(loss, reduction, "huber_loss")


def _clamped_log(x: Tensor) -> Tensor:
    """max(log(x), -100), PyTorch's clamp in binary_cross_entropy, with a finite gradient (0) where clamped."""
    with_log = x > math.exp(-100.0)
    safe = _where(with_log, x, 1.0)  # log never sees 0, so no inf * 0 in the gradient
    return _where(with_log, safe.log(), -100.0)


@_public
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """-[t log(p) + (1 - t) log(1 - p)] for probabilities p in [0, 1]; each log clamped at -100 (PyTorch)."""
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
def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:  # noqa: A002
    """Pointwise KL divergence t (log t - input) with ``input`` log-probabilities (0 where t = 0); with
    ``log_target`` the target is log-probabilities too: exp(t) (t - input). ``"batchmean"`` divides the sum
    by the batch size (the true KL divergence); ``"mean"`` by the element count, as PyTorch."""
    _pointwise_operands(input, target, "kl_div", "mean" if reduction == "batchmean" else reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target > 0
        loss = _where(positive, target * _where(positive, target, 1.0).log(), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction, "kl_div")


# -- margin, embedding and likelihood losses --------------------------------------------------------------
def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str, op: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` pair, mapped to ``reduction`` as ``_Reduction`` does."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        import warnings

        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' "
                      "instead.", UserWarning, stacklevel=3)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _tensors(op: str, **operands) -> None:
    for name, value in operands.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}: {name} must be a tensor, got {type(value).__name__}")


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
        from ..ops import minimum

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
    return input.reshape(input.shape[0] if input.ndim == 2 else 1, classes), classes


def _host(t: Tensor):
    """A tensor's values as a NumPy array (integer targets and lengths are read on the host)."""
    return t._backend.to_numpy(t.array)


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


# -- bilinear and bags of embeddings ------------------------------------------------------------------------
@_public
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o] (one matmul and a reduction)."""
    _tensors("bilinear", input1=input1, input2=input2, weight=weight)
    if input1.ndim != input2.ndim or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]) or input1.ndim == 0:
        raise ShapeError(f"bilinear: input1 {input1.shape} and input2 {input2.shape} must have the same batch "
                         "dimensions")
    if weight.ndim != 3 or weight.shape[1] != input1.shape[-1] or weight.shape[2] != input2.shape[-1]:
        raise ShapeError(f"bilinear: weight must have shape (out, {input1.shape[-1]}, {input2.shape[-1]}) for inputs "
                         f"{input1.shape} and {input2.shape}, got {weight.shape}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        raise ShapeError(f"bilinear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    out_features, in1, in2 = weight.shape
    batch = input1.shape[:-1]
    x1, x2 = input1.reshape(-1, in1), input2.reshape(-1, in2)
    mixed = (x1 @ weight.permute(1, 0, 2).reshape(in1, out_features * in2)).reshape(-1, out_features, in2)
    out = (mixed * x2.unsqueeze(1)).sum(-1).reshape(*batch, out_features)
    return out if bias is None else out + bias


def _bags(input: Tensor, offsets: Tensor | None, include_last_offset: bool, op: str):  # noqa: A002
    """Host arrays: the flat indices and the bag of each, and the number of bags (PyTorch's layouts)."""
    import numpy as np

    indices = _host(input)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: if input is 2-D, offsets has to be None (each row is a bag), got offsets of "
                             f"shape {offsets.shape}")
        rows, width = indices.shape
        return indices.reshape(-1), np.repeat(np.arange(rows), width), rows
    if input.ndim != 1:
        raise ShapeError(f"{op}: input has to be 1-D or 2-D, got shape {input.shape}")
    if offsets is None or offsets.ndim != 1:
        raise ValueError(f"{op}: with a 1-D input, offsets has to be a 1-D tensor, got "
                         f"{None if offsets is None else offsets.shape}")
    if offsets.dtype.kind not in "iu":
        raise TypeError(f"{op}: offsets must be an integer tensor, got {offsets.dtype.name}")
    starts = _host(offsets).astype(np.int64)
    if starts.size and starts[0] != 0:
        raise ValueError(f"{op}: offsets[0] has to be 0 (the first bag starts at position 0), got {starts[0]}")
    if np.any(np.diff(starts) < 0) or (starts.size and starts[-1] > indices.size):
        raise ValueError(f"{op}: offsets must be non-decreasing and at most the input's length {indices.size}, got "
                         f"{starts.tolist()}")
    ends = np.append(starts[1:], indices.size)
    if include_last_offset:  # CSR: offsets also holds the end of the last bag, which must be the input's length
        if not starts.size or starts[-1] != indices.size:
            raise ValueError(f"{op}: with include_last_offset=True the last offset must equal the number of indices "
                             f"({indices.size}), got offsets {starts.tolist()}")
        starts, ends = starts[:-1], starts[1:]
    bag = np.full(indices.size, -1)
    covered = np.repeat(np.arange(len(starts)), ends - starts)  # bags tile positions 0 .. ends[-1]
    bag[:covered.size] = covered
    return indices, bag, len(starts)


@_public
def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,  # noqa: A002
                  max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                  mode: str = "mean", sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of the ``weight`` rows of each bag: the rows of a 2-D ``input``, or the runs of a 1-D
    ``input`` that start at ``offsets``. Entries equal to ``padding_idx`` are left out; an empty bag gives zeros;
    ``per_sample_weights`` (mode 'sum') scales each row and gets its gradient."""
    import numpy as np

    op = "embedding_bag"
    _tensors(op, input=input, weight=weight)
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{op}: scale_grad_by_freq and sparse are not supported")
    if input.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor, got {input.dtype.name}")
    if weight.ndim != 2:
        raise ShapeError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"{op}: per_sample_weights is only supported for mode='sum' (got mode={mode!r})")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ShapeError(f"{op}: per_sample_weights {per_sample_weights.shape} must have the input's shape "
                             f"{input.shape}")
    rows, dim = weight.shape
    indices, bag, bags = _bags(input, offsets, include_last_offset, op)
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise IndexError(f"{op}: index {bad} is out of range for {rows} embeddings")
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(f"{op}: padding_idx {padding_idx} is out of range for {rows} embeddings")
        bag = np.where(indices == padding_idx % rows, -1, bag)
    be = weight._backend
    if max_norm is not None:
        _renorm_rows(weight, Tensor(be.from_numpy(indices[bag >= 0]), be), max_norm, norm_type)
    used = np.flatnonzero(bag >= 0)
    looked_up = weight[Tensor(be.from_numpy(indices[used]), be)]  # (entries, dim)
    counts = np.bincount(bag[used], minlength=bags)
    if mode == "max":
        width = int(counts.max()) if bags and used.size else 0
        slots = np.zeros((bags, width), np.int64)
        present = np.zeros((bags, width), bool)
        order = np.argsort(bag[used], kind="stable")
        position = np.arange(used.size) - np.repeat(np.cumsum(counts) - counts, counts)
        slots[bag[used][order], position] = order
        present[bag[used][order], position] = True
        if not width:
            return _creation.zeros((bags, dim), dtype=weight.dtype, backend=weight.backend)
        gathered = looked_up[Tensor(be.from_numpy(slots), be)]  # (bags, width, dim)
        mask = Tensor(be.from_numpy(present[:, :, None]), be)
        best = _where(mask, gathered, -math.inf).max(1).values  # a tie's gradient goes to the bag's first, as PyTorch
        return _where(Tensor(be.from_numpy(counts[:, None] > 0), be), best, 0.0)
    if per_sample_weights is not None:
        looked_up = looked_up * per_sample_weights.reshape(-1)[Tensor(be.from_numpy(used), be)].unsqueeze(1)
    target = Tensor(be.from_numpy(np.repeat(bag[used][:, None], dim, 1)), be)
    out = _creation.zeros((bags, dim), dtype=looked_up.dtype, backend=weight.backend).scatter_add(0, target,
                                                                                                  looked_up)
    if mode == "mean":
        out = out / constant(be, be.from_numpy(np.maximum(counts, 1)[:, None].astype(looked_up.dtype)))
    return out


# -- connectionist temporal classification -----------------------------------------------------------------
def _lengths(value, count: int, name: str, op: str):
    import numpy as np

    array = np.asarray(_host(value) if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "iu" or array.ndim > 1 or array.size != count:
        raise ShapeError(f"{op}: {name} must hold {count} integer length(s), got {array.tolist()}")
    return array.reshape(count).astype(np.int64)


@_public
def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """-log p(target | input) summed over every alignment, by the forward (alpha) recursion in log space; its
    gradient is autograd's through that recursion, the exact one (with the backward pass over alphas playing the
    beta recursion's part). ``log_probs`` (T, N, C) or (T, C); ``targets`` (N, S) padded or 1-D concatenated;
    'mean' divides each loss by its target length, then averages; an impossible alignment gives inf (0 with
    ``zero_infinity``)."""
    import numpy as np

    op = "ctc_loss"
    _tensors(op, log_probs=log_probs, targets=targets)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if log_probs.ndim not in (2, 3) or log_probs.dtype.kind != "f":
        raise ShapeError(f"{op}: log_probs must be a floating (T, N, C) or (T, C) tensor, got {log_probs.shape} "
                         f"{log_probs.dtype.name}")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must hold integer class indices, got {targets.dtype.name}")
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    steps, batch, classes = lp.shape
    if not 0 <= blank < classes:
        raise ValueError(f"{op}: blank {blank} must be in the label range [0, {classes})")
    in_lengths = _lengths(input_lengths, batch, "input_lengths", op)
    out_lengths = _lengths(target_lengths, batch, "target_lengths", op)
    if in_lengths.min() < 0 or in_lengths.max() > steps:
        raise ValueError(f"{op}: input_lengths must be in [0, T={steps}], got {in_lengths.tolist()}")
    labels = _host(targets)
    if out_lengths.min() < 0:
        raise ValueError(f"{op}: target_lengths must be non-negative, got {out_lengths.tolist()}")
    if batched and labels.ndim == 2:
        if labels.shape[0] != batch or out_lengths.max() > labels.shape[1]:
            raise ShapeError(f"{op}: padded targets {labels.shape} must be (N={batch}, S) with S at least the longest "
                             f"target length {out_lengths.max()}")
        rows = [labels[n, :out_lengths[n]] for n in range(batch)]
    elif labels.ndim == 1:
        if out_lengths.sum() > labels.size:
            raise ShapeError(f"{op}: concatenated targets hold {labels.size} labels, fewer than the target lengths' "
                             f"sum {out_lengths.sum()}")
        rows = np.split(labels[:out_lengths.sum()], np.cumsum(out_lengths)[:-1])
    else:
        raise ShapeError(f"{op}: targets must be (N, S) padded or 1-D concatenated, got {labels.shape}")
    for row in rows:
        if row.size and (row.min() < 0 or row.max() >= classes or np.any(row == blank)):
            raise ValueError(f"{op}: target labels must be in [0, {classes}) and differ from blank={blank}, got "
                             f"{row.tolist()}")
    width = 2 * int(out_lengths.max(initial=0)) + 1
    extended = np.full((batch, width), blank, np.int64)  # blank, l1, blank, l2, ..., blank (then blank padding)
    for n, row in enumerate(rows):
        extended[n, 1:2 * row.size:2] = row
    skip = np.zeros((batch, width), bool)  # l'(s - 2) -> l'(s) is allowed between two different labels
    skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    be = lp._backend
    # Log-probability 0 is kept finite (far below any real one): no inf - inf in the gradient, and an impossible
    # target ends far below -1e29, which marks it.
    never = -1e30
    emissions = lp.gather(2, Tensor(be.from_numpy(np.broadcast_to(extended, (steps, batch, width)).copy()), be))
    no_skip = Tensor(be.from_numpy(~skip), be)
    start = np.full((batch, width), never, lp.dtype)
    start[:, 0] = 0.0  # before the first frame: the empty prefix, with probability 1
    alpha = constant(be, be.from_numpy(start))
    pad1 = constant(be, be.from_numpy(np.full((batch, 1), never, lp.dtype)))
    pad2 = constant(be, be.from_numpy(np.full((batch, 2), never, lp.dtype)))
    from ..ops import cat

    for t in range(int(in_lengths.max(initial=0))):
        stay, step = alpha, cat([pad1, alpha[:, :-1]], 1)
        jump = _where(no_skip, never, cat([pad2, alpha[:, :-2]], 1))
        top = stay.detach().maximum(step.detach()).maximum(jump.detach())
        moved = top + ((stay - top).exp() + (step - top).exp() + (jump - top).exp()).log() + emissions[t]
        running = Tensor(be.from_numpy((t < in_lengths)[:, None]), be)
        alpha = _where(running, moved, alpha)
    last = Tensor(be.from_numpy((2 * out_lengths)[:, None]), be)
    before = Tensor(be.from_numpy(np.maximum(2 * out_lengths - 1, 0)[:, None]), be)
    end, end_before = alpha.gather(1, last).squeeze(1), alpha.gather(1, before).squeeze(1)
    end_before = _where(Tensor(be.from_numpy(out_lengths > 0), be), end_before, never)
    top = end.detach().maximum(end_before.detach())
    loss = -(top + ((end - top).exp() + (end_before - top).exp()).log())
    impossible = loss.detach() > -never / 10
    loss = _where(impossible, 0.0 if zero_infinity else math.inf, loss)
    if reduction == "mean":
        per_label = constant(be, be.from_numpy(np.maximum(out_lengths, 1).astype(lp.dtype)))
        return (loss / per_label).mean()
    if reduction == "sum":
        return loss.sum()
    return loss if batched else loss.reshape(())


# -- activations made of other ops (their gradients are those ops') ----------------------------------------
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


def one_hot(target: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a new last axis of length ``num_classes``."""
    be = target._backend
    if num_classes < 0:
        num_classes = int(be.to_numpy(be.max(target.array, None, False))) + 1
    positions = _creation.arange(num_classes, backend=target.backend)
    return (target.unsqueeze(-1) == positions).long()


# -- attention --------------------------------------------------------------------------------------
@_public
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key.T * scale + mask) @ value over the last two axes, as PyTorch's: (..., L, E), (..., S, E),
    (..., S, Ev) give (..., L, Ev); ``scale`` defaults to 1 / sqrt(E). A bool ``attn_mask`` is True where a query
    may attend, a float one is added to the scores; ``is_causal`` lets query i attend to keys 0..i. A query that
    may attend nowhere gives zeros (PyTorch's kernels do the same). ``dropout_p`` drops attention weights
    (always, as PyTorch's: pass 0 in eval); ``enable_gqa`` repeats the key/value heads (dimension -3)."""
    op = "scaled_dot_product_attention"
    if not all(isinstance(t, Tensor) for t in (query, key, value)):
        raise TypeError(f"{op}: query, key and value must be tensors")
    if min(query.ndim, key.ndim, value.ndim) < 2 or query.shape[-1] != key.shape[-1] \
            or key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"{op}: expected query (..., L, E), key (..., S, E) and value (..., S, Ev), got shapes "
                         f"{query.shape}, {key.shape} and {value.shape}")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: Explicit attn_mask should not be set when is_causal=True")
    if enable_gqa and key.ndim >= 3 and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        if key.shape[-3] != value.shape[-3] or query.shape[-3] % key.shape[-3]:
            raise ShapeError(f"{op}: with enable_gqa the query heads ({query.shape[-3]}) must be a multiple of the "
                             f"key and value heads ({key.shape[-3]}, {value.shape[-3]})")
        repeats = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(repeats, -3), value.repeat_interleave(repeats, -3)
    length, source = query.shape[-2], key.shape[-2]
    scores = query @ key.mT * (1.0 / math.sqrt(query.shape[-1]) if scale is None else scale)
    if is_causal:
        rows = _creation.arange(length, backend=query.backend).unsqueeze(-1)
        attn_mask = _creation.arange(source, backend=query.backend) <= rows
    if attn_mask is not None:
        if attn_mask.dtype == "bool":
            scores = _where(attn_mask, scores, -math.inf)
        else:
            scores = scores + attn_mask
        # A row of -inf scores (nowhere to attend) gives zeros, not softmax's NaN, and no gradient.
        dead = scores.detach().amax(-1, keepdim=True) == -math.inf
        weights = _where(dead, 0.0, softmax(_where(dead, 0.0, scores), -1))
    else:
        weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value


# -- transposed convolution, resampling, 1-D pooling, pixel shuffle, instance norm -----------------------------
def _transposed_sizes(op: str, spatial, kernel, stride, padding, output_padding, dilation) -> tuple:
    """The output's spatial size: (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1."""
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(output_padding) < 0:
        raise ValueError(f"{op}: stride and dilation must be positive, padding and output_padding non-negative, got "
                         f"stride={stride}, padding={padding}, output_padding={output_padding}, dilation={dilation}")
    if any(q >= s and q >= d for q, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"{op}: output_padding {output_padding} must be smaller than either stride {stride} or "
                         f"dilation {dilation}")
    out = tuple((n - 1) * s - 2 * p + d * (k - 1) + q + 1
                for n, k, s, p, q, d in zip(spatial, kernel, stride, padding, output_padding, dilation))
    if min(out) < 1:
        raise ShapeError(f"{op}: input of spatial size {tuple(spatial)} with kernel_size {kernel}, stride {stride}, "
                         f"padding {padding} and dilation {dilation} gives an empty output {out}")
    return out


@_public
def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transposed 2-D convolution (the gradient of ``conv2d`` with respect to its input) of (N, C_in, H, W)
    or (C_in, H, W) with weight (C_in, C_out // groups, kh, kw): one GEMM per group, then ``fold`` adds the
    overlapping windows up (``ops.conv.ConvTranspose2d``), so gradients of every order follow."""
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise ShapeError(f"conv_transpose2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if input.ndim == 3:
        return conv_transpose2d(input.unsqueeze(0), weight, bias, stride, padding, output_padding, groups,
                                dilation).squeeze(0)
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ShapeError(f"conv_transpose2d: weight must be 4-D (in, out // groups, kh, kw), got shape "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    n, c, h, w = input.shape
    cin, og, kh, kw = weight.shape
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    output_padding, dilation = _pair(output_padding, "output_padding"), _pair(dilation, "dilation")
    if groups < 1 or c % groups:
        raise ValueError(f"conv_transpose2d: groups={groups} must divide the input's {c} channels")
    if cin != c:
        raise ShapeError(f"conv_transpose2d: input has {c} channels but weight {weight.shape} expects {cin}")
    out_hw = _transposed_sizes("conv_transpose2d", (h, w), (kh, kw), stride, padding, output_padding, dilation)
    input, weight = binary_operands(input, weight)
    if bias is not None:
        bias = binary_operands(weight, bias)[1]
        if bias.ndim != 1 or bias.shape[0] != og * groups:
            raise ShapeError(f"conv_transpose2d: bias must have shape ({og * groups},) for {og * groups} output "
                             f"channels, got {bias.shape}")
    # fold sees out_size(out) windows per axis: the input's size, or more when output_padding >= stride
    # (allowed below the dilation); the extra windows read zeros.
    windows = [_conv.out_size(o, k, s, p, d) for o, k, s, p, d in zip(out_hw, (kh, kw), stride, padding, dilation)]
    if windows != [h, w]:
        input = pad(input, (0, windows[1] - w, 0, windows[0] - h))
    return _conv.conv_transpose2d(input, weight, bias, out_hw, stride, padding, dilation, groups)


@_public
def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transposed 1-D convolution of (N, C_in, L) or (C_in, L) with weight (C_in, C_out // groups, k):
    ``conv_transpose2d`` on a height-1 image."""
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ShapeError(f"conv_transpose1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if not isinstance(weight, Tensor) or weight.ndim != 3:
        raise ShapeError(f"conv_transpose1d: weight must be 3-D (in, out // groups, k), got shape "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    args = [_single(v, name) for v, name in ((stride, "stride"), (padding, "padding"),
                                             (output_padding, "output_padding"), (dilation, "dilation"))]
    s, p, q, d = args
    out = conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(2), bias, (1, s), (0, p), (0, q), groups, (1, d))
    return out.squeeze(-2)


_INTERPOLATE_NDIM = {"linear": 3, "bilinear": 4, "trilinear": 5, "bicubic": 4}


def _interpolate_sizes(input: Tensor, size, scale_factor, mode: str, recompute_scale_factor) -> tuple:
    """PyTorch's output sizes and the scales its kernels see (None where the size alone decides)."""
    dim = input.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
        sizes = tuple(size) if isinstance(size, (list, tuple)) else (size,) * dim
        if len(sizes) != dim:
            raise ValueError(f"interpolate: input with spatial dimensions {tuple(input.shape[2:])} needs an output "
                             f"size of {dim} values, got {size!r}")
        if not all(isinstance(v, int) and v >= 1 for v in sizes):
            raise ValueError(f"interpolate: size must hold positive ints, got {size!r}")
        return sizes, (None,) * dim
    if scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    scales = tuple(float(v) for v in scale_factor) if isinstance(scale_factor, (list, tuple)) else \
        (float(scale_factor),) * dim
    if len(scales) != dim:
        raise ValueError(f"interpolate: input with spatial dimensions {tuple(input.shape[2:])} needs {dim} scale "
                         f"factors, got {scale_factor!r}")
    if not all(s > 0 for s in scales):
        raise ValueError(f"interpolate: scale_factor must be positive, got {scale_factor!r}")
    sizes = tuple(math.floor(float(n) * s) for n, s in zip(input.shape[2:], scales))
    if min(sizes) < 1:
        raise ShapeError(f"interpolate: scale_factor {scale_factor!r} makes an empty output {sizes} from input "
                         f"of shape {input.shape}")
    if recompute_scale_factor or mode == "area":  # the kernels then see the sizes only
        scales = (None,) * dim
    return sizes, scales


def _nearest_source(size: int, out: int, scale: float | None, exact: bool, shortcut: bool):
    """PyTorch's nearest source index per output index, in its float32 arithmetic. With ``shortcut`` (PyTorch's
    2-D 'nearest' kernel), an output as large as the input, or twice as large, copies or halves the index instead,
    whatever the scale factor."""
    import numpy as np

    j = np.arange(out)
    if shortcut and out == size:
        return j
    if shortcut and out == 2 * size:
        return j >> 1
    ratio = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(size) / np.float32(out)
    position = (j.astype(np.float32) + np.float32(0.5 if exact else 0.0)) * ratio
    return np.minimum(np.floor(position).astype(np.int64), size - 1)


def _linear_source(size: int, out: int, scale: float | None, align_corners: bool, dtype):
    """PyTorch's two source indices and weights per output index (in the input's precision)."""
    import numpy as np

    j = np.arange(out)
    if out == size:
        return j, j, np.ones(out, dtype), np.zeros(out, dtype)
    one = dtype.type(1)
    if align_corners:
        ratio = dtype.type(size - 1) / dtype.type(out - 1) if out > 1 else dtype.type(0)
        real = ratio * j.astype(dtype)
    else:
        ratio = dtype.type(1.0 / scale) if scale is not None and scale > 0 else dtype.type(size) / dtype.type(out)
        real = np.maximum(ratio * (j.astype(dtype) + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    i0 = np.minimum(np.floor(real).astype(np.int64), size - 1)
    lambda1 = np.clip(real - i0.astype(dtype), 0, one).astype(dtype)
    i1 = i0 + (i0 < size - 1)
    return i0, i1, (one - lambda1).astype(dtype), lambda1


def _cubic_source(size: int, out: int, scale: float | None, align_corners: bool, dtype):
    """PyTorch's four source indices (clamped to the input) and cubic-convolution weights (A = -0.75) per output
    index, in the input's precision."""
    import numpy as np

    t = dtype.type
    j = np.arange(out).astype(dtype)
    if align_corners:
        real = (t(size - 1) / t(out - 1) if out > 1 else t(0)) * j
    else:  # no clamp at 0 for cubic
        ratio = t(1.0 / scale) if scale is not None and scale > 0 else t(size) / t(out)
        real = ratio * (j + t(0.5)) - t(0.5)
    base = np.minimum(np.floor(real).astype(np.int64), size - 1)
    x = np.clip(real - base.astype(dtype), t(0), t(1)).astype(dtype)
    a = t(-0.75)

    def near(x):  # |x| <= 1
        return ((a + t(2)) * x - (a + t(3))) * x * x + t(1)

    def far(x):  # 1 < |x| < 2
        return ((a * x - t(5) * a) * x + t(8) * a) * x - t(4) * a

    weights = [far(x + t(1)), near(x), near(t(1) - x), far(t(2) - x)]
    return [(np.clip(base - 1 + k, 0, size - 1), w.astype(dtype)) for k, w in enumerate(weights)]


def _along(x: Tensor, axis: int, index) -> Tensor:
    import numpy as np

    n, o = x.shape[axis], len(index)
    if o % n == 0 and np.array_equal(index, np.arange(o) // (o // n)):
        # each element repeated r times (nearest by an integer factor): a broadcast, whose gradient adds slices
        # instead of a scatter-add
        from ..ops.resample import RepeatAlong

        return RepeatAlong.apply(x, axis, o // n)
    return TakeAlong.apply(x, axis, index)


@_public
def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",  # noqa: A002
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resample (N, C, *spatial) to ``size`` or by ``scale_factor``, with PyTorch's index and weight rules.

    Modes: "nearest" (PyTorch's floor(i * in / out)), "nearest-exact" (floor((i + 0.5) * in / out)), "linear"
    (3-D), "bilinear" and "bicubic" (4-D), "trilinear" (5-D), each with ``align_corners``, and "area" (3-D, 4-D:
    adaptive average pooling). Nearest modes gather along each axis; the others apply each axis's sparse
    interpolation matrix (two or four entries a row: ``ops.resample.Resample``), so gradients of every order
    follow.
    """
    import numpy as np

    if not isinstance(input, Tensor) or input.ndim not in (3, 4, 5):
        raise ShapeError(f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if mode not in ("nearest", "nearest-exact", "area", *_INTERPOLATE_NDIM):
        raise ValueError(f"interpolate: mode must be one of 'nearest', 'nearest-exact', 'linear', 'bilinear', "
                         f"'trilinear', 'area' or 'bicubic', got {mode!r}")
    linear = mode in _INTERPOLATE_NDIM
    if not linear and align_corners is not None:
        raise ValueError(f"interpolate: align_corners can only be set with the interpolating modes linear, bilinear, "
                         f"bicubic and trilinear, not {mode!r}")
    if linear and input.ndim != _INTERPOLATE_NDIM[mode]:
        raise NotImplementedError(f"interpolate: got {input.ndim}-D input (shape {input.shape}), but mode {mode!r} "
                                  f"needs {_INTERPOLATE_NDIM[mode]}-D input")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if input.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating input, got {input.dtype.name}")
    if min(input.shape[2:]) < 1:
        raise ShapeError(f"interpolate: the input's spatial sizes must be positive, got shape {input.shape}")
    sizes, scales = _interpolate_sizes(input, size, scale_factor, mode, recompute_scale_factor)
    if mode == "area":
        if input.ndim == 5:
            raise NotImplementedError("interpolate: mode 'area' is supported for 3-D and 4-D inputs only")
        return adaptive_avg_pool2d(input, sizes) if input.ndim == 4 else adaptive_avg_pool1d(input, sizes[0])
    from ..ops.resample import AxisMatrix, resample

    out = input
    dtype = np.dtype(input.dtype.name)
    for axis in reversed(range(2, input.ndim)):  # the last axis first: PyTorch's order of the weighted sums
        n, o, s = input.shape[axis], sizes[axis - 2], scales[axis - 2]
        if not linear:
            exact = mode == "nearest-exact"
            out = _along(out, axis, _nearest_source(n, o, s, exact, not exact and input.ndim == 4))
            continue
        if mode == "bicubic":
            taps = _cubic_source(n, o, s, bool(align_corners), dtype)
        else:
            i0, i1, w0, w1 = _linear_source(n, o, s, bool(align_corners), dtype)
            if np.array_equal(i0, i1) and not w1.any():
                out = _along(out, axis, i0)  # the same size: a copy
                continue
            taps = [(i0, w0), (i1, w1)]
        out = resample(out, axis, AxisMatrix.from_taps(n, taps))  # the taps in PyTorch's order of summation
    return out


@_public
def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:  # noqa: A002
    """Mean over PyTorch's adaptive bins of a (N, C, L) or (C, L) input: a matmul with the bin matrix."""
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ShapeError(f"adaptive_avg_pool1d: expected a 2-D or 3-D input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if input.dtype.kind != "f":
        raise TypeError(f"adaptive_avg_pool1d: expected a floating input, got {input.dtype.name}")
    out = _single(output_size, "output_size")
    if out < 1 or input.shape[-1] < 1:
        raise ValueError(f"adaptive_avg_pool1d: output_size must be positive and the input non-empty, got "
                         f"output_size={output_size!r} for input of shape {input.shape}")
    return input @ _adaptive_bins(input.shape[-1], out, input).mT


def _adaptive_windows(size: int, out: int):
    """Each adaptive bin's input indices, padded to the longest bin by repeating the bin's first index (after
    the real ones, so a repeat never comes first in a tie)."""
    import numpy as np

    starts = [(i * size) // out for i in range(out)]
    ends = [-((-(i + 1) * size) // out) for i in range(out)]
    longest = max(e - s for s, e in zip(starts, ends))
    return np.array([list(range(s, e)) + [s] * (longest - (e - s)) for s, e in zip(starts, ends)], np.int64)


@_public
def adaptive_max_pool2d(input: Tensor, output_size,  # noqa: A002
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over PyTorch's adaptive bins of a (N, C, H, W) or (C, H, W) input; the gradient goes to the first
    maximum of each bin in row-major order. ``return_indices`` also gives each maximum's flat index h * W + w."""
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise ShapeError(f"adaptive_max_pool2d: expected a 3-D or 4-D input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    pair = (output_size, output_size) if isinstance(output_size, int) or output_size is None else tuple(output_size)
    h, w = input.shape[-2:]
    if len(pair) != 2:
        raise ValueError(f"adaptive_max_pool2d: output_size must be an int or a pair, got {output_size!r}")
    oh, ow = (h if pair[0] is None else pair[0]), (w if pair[1] is None else pair[1])
    if not all(isinstance(v, int) and v >= 1 for v in (oh, ow)) or h < 1 or w < 1:
        raise ValueError(f"adaptive_max_pool2d: output_size must be positive ints and the input non-empty, got "
                         f"output_size={output_size!r} for input of shape {input.shape}")
    rows, cols = _adaptive_windows(h, oh), _adaptive_windows(w, ow)  # (oh, lh), (ow, lw)
    be, lead = input._backend, input.shape[:-2]
    k = len(lead)
    windows = input[(Ellipsis, Tensor(be.from_numpy(rows.reshape(-1)), be), slice(None))]  # (..., oh * lh, W)
    windows = windows[(Ellipsis, Tensor(be.from_numpy(cols.reshape(-1)), be))]  # (..., oh * lh, ow * lw)
    windows = windows.reshape(*lead, oh, rows.shape[1], ow, cols.shape[1])
    windows = windows.permute(*range(k), k, k + 2, k + 1, k + 3).reshape(*lead, oh, ow, -1)
    values, slots = windows.max(-1)
    if not return_indices:
        return values
    flat = (rows[:, None, :, None] * w + cols[None, :, None, :]).reshape(oh, ow, -1)
    table = Tensor(be.from_numpy(flat), be).expand(*lead, oh, ow, flat.shape[-1])
    return values, table.gather(-1, slots.unsqueeze(-1)).squeeze(-1)


@_public
def adaptive_max_pool1d(input: Tensor, output_size,  # noqa: A002
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over PyTorch's adaptive bins of a (N, C, L) or (C, L) input: ``adaptive_max_pool2d`` on a
    height-1 image."""
    x = _as_height_one(input, "adaptive_max_pool1d")
    out = adaptive_max_pool2d(x, (1, _single(output_size, "output_size")), return_indices)
    squeeze = (lambda t: t.squeeze(-2)) if input.ndim == 3 else (lambda t: t.squeeze(0).squeeze(-2))
    return tuple(squeeze(t) for t in out) if return_indices else squeeze(out)


@_public
def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """Maximum over windows of (N, C, L) or (C, L): ``max_pool2d`` on a height-1 image."""
    x = _as_height_one(input, "max_pool1d")
    stride = None if stride is None else (1, _single(stride, "stride"))
    out = max_pool2d(x, (1, _single(kernel_size, "kernel_size")), stride, (0, _single(padding, "padding")),
                     (1, _single(dilation, "dilation")), ceil_mode, return_indices)
    return out.squeeze(-2) if input.ndim == 3 else out.squeeze(0).squeeze(-2)


@_public
def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of (N, C, L) or (C, L): ``avg_pool2d`` on a height-1 image."""
    x = _as_height_one(input, "avg_pool1d")
    stride = None if stride is None else (1, _single(stride, "stride"))
    out = avg_pool2d(x, (1, _single(kernel_size, "kernel_size")), stride, (0, _single(padding, "padding")),
                     ceil_mode, count_include_pad)
    return out.squeeze(-2) if input.ndim == 3 else out.squeeze(0).squeeze(-2)


def _as_height_one(input: Tensor, op: str) -> Tensor:
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    return (input if input.ndim == 3 else input.unsqueeze(0)).unsqueeze(-2)


@_public
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C * r * r, H, W) to (*, C, H * r, W * r): a reshape and a permute."""
    r = upscale_factor
    if not isinstance(input, Tensor) or input.ndim < 3 or r < 1 or input.shape[-3] % (r * r):
        raise ShapeError(f"pixel_shuffle: expected (*, C * {r}², H, W) with upscale_factor {r} >= 1, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    *lead, c, h, w = input.shape
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    k = len(lead)
    return x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2).reshape(*lead, c // (r * r), h * r, w * r)


@_public
def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C, H * r, W * r) to (*, C * r * r, H, W), the inverse of ``pixel_shuffle``."""
    r = downscale_factor
    if not isinstance(input, Tensor) or input.ndim < 3 or r < 1 or input.shape[-2] % r or input.shape[-1] % r:
        raise ShapeError(f"pixel_unshuffle: expected (*, C, H * {r}, W * {r}) with downscale_factor {r} >= 1, got "
                         f"shape {getattr(input, 'shape', type(input).__name__)}")
    *lead, c, h, w = input.shape
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    k = len(lead)
    return x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3).reshape(*lead, c * r * r, h // r, w // r)


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



# -- exported names ---------------------------------------------------------------------------------
__all__ = ["OPS", "one_hot", "pad", *sorted(OPS)]  # one_hot: int64 output, not differentiable, so not in OPS
