"""Linear maps and convolutions: ``linear``, ``bilinear``, ``unfold``/``fold``, ``conv1d``/``conv2d`` and
``conv_transpose1d``/``conv_transpose2d``.
"""

from __future__ import annotations

from ...errors import ShapeError
from ...ops import conv as _conv
from ...ops import pad
from ...ops._common import binary_operands
from ...ops.movement import _reshape_or_self
from ...tensor import Tensor
from ._common import _check_4d, _check_windows, _pair, _public, _single, _tensors, _triple, _unbatched


@_public
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """input @ weight.T + bias, with weight of shape (out_features, in_features)."""
    if input.shape[-1] != weight.shape[-1]:
        raise ShapeError(f"linear: input has {input.shape[-1]} features (shape {input.shape}) but weight "
                         f"expects {weight.shape[-1]} (weight shape {weight.shape})")
    out = input @ weight.mT
    return out if bias is None else out + bias


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
    out = _reshape_or_self((mixed * x2.unsqueeze(1)).sum(-1), (*batch, out_features))
    return out if bias is None else out + bias


@_public
@_unbatched(4)
def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:  # noqa: A002
    """Sliding windows of a (N, C, H, W) input as columns (N, C * kh * kw, L), like ``F.unfold``."""
    _check_4d(input, "unfold")
    kernel, dilation, padding, stride = (_pair(kernel_size, "kernel_size"), _pair(dilation, "dilation"),
                                         _pair(padding, "padding"), _pair(stride, "stride"))
    _check_windows("unfold", input.shape[2:], kernel, stride, padding, dilation)
    return _conv.unfold(input, kernel, dilation, padding, stride)


@_public
@_unbatched(3)
def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:  # noqa: A002
    """Sum columns (N, C * kh * kw, L) back into (N, C, H, W), like ``F.fold`` (the adjoint of unfold)."""
    output_size, kernel = _pair(output_size, "output_size"), _pair(kernel_size, "kernel_size")
    dilation, padding, stride = _pair(dilation, "dilation"), _pair(padding, "padding"), _pair(stride, "stride")
    oh, ow = _check_windows("fold", output_size, kernel, stride, padding, dilation)
    k = kernel[0] * kernel[1]
    if input.ndim != 3 or input.shape[1] % k or input.shape[2] != oh * ow:
        raise ShapeError(f"fold: expected input (C * {k}, {oh * ow}) or (N, C * {k}, {oh * ow}) for output_size "
                         f"{output_size}, "
                         f"got shape {input.shape}")
    return _conv.fold(input, output_size, kernel, dilation, padding, stride)


@_public
@_unbatched(4)
def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
           padding: int | tuple | str = 0, dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) or (C, H, W) with weight (O, C // groups, kh, kw): im2col and one
    GEMM. ``padding`` an int, a pair, "valid" or "same" (an even effective kernel padded one more after the input,
    as PyTorch)."""
    _check_4d(input, "conv2d")
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: weight must be 4-D (out, in // groups, kh, kw), got shape {weight.shape}")
    o, cg, kh, kw = weight.shape
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    if isinstance(padding, str):
        if padding == "same":
            input, padding = _same_padding("conv2d", input, (kh, kw), stride, dilation)
        elif padding == "valid":
            padding = 0
        else:
            raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    padding = _pair(padding, "padding")
    n, c, h, w = input.shape
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


@_public
@_unbatched(3)
def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
           padding: int | tuple | str = 0, dilation=1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of (N, C, L) with weight (O, C // groups, k): conv2d on a height-1 image."""
    if not isinstance(input, Tensor) or input.ndim != 3:
        raise ShapeError(f"conv1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{getattr(input, 'shape', None)}")
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: weight must be 3-D (out, in // groups, k), got shape {weight.shape}")
    stride, dilation = _single(stride, "stride"), _single(dilation, "dilation")
    padding = padding if isinstance(padding, str) else (0, _single(padding, "padding"))
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride), padding, (1, dilation), groups)
    return out.squeeze(2)


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
@_unbatched(4)
def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transposed 2-D convolution (the gradient of ``conv2d`` with respect to its input) of (N, C_in, H, W)
    or (C_in, H, W) with weight (C_in, C_out // groups, kh, kw): one GEMM per group, then ``fold`` adds the
    overlapping windows up (``ops.conv.ConvTranspose2d``), so gradients of every order follow."""
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise ShapeError(f"conv_transpose2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
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


# -- 3-D convolutions: conv3d on Conv2d's N-d op (ops.conv), conv_transpose3d a composite over FoldBatchInner ----
def _same_padding(op: str, input: Tensor, kernel, stride, dilation) -> tuple[Tensor, tuple]:  # noqa: A002
    """PyTorch's padding='same': total d * (k - 1) per axis, half on each side; an odd total puts the extra
    element after the input (padded explicitly, as PyTorch's ``_convolution_mode`` does)."""
    if any(s != 1 for s in stride):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    extra = [t % 2 for t in total]
    if any(extra):
        widths: list[int] = []
        for e in reversed(extra):
            widths += [0, e]
        input = pad(input, tuple(widths))
    return input, tuple(t // 2 for t in total)


@_public
@_unbatched(5)
def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
           padding: int | tuple | str = 0, dilation=1, groups: int = 1) -> Tensor:
    """3-D cross-correlation of (N, C, D, H, W) or (C, D, H, W) with weight (O, C // groups, kd, kh, kw):
    im2col over 3-D windows and one GEMM per group (``ops.conv.Conv2d``, N-d); ``padding`` an int, a triple,
    "valid" or "same" (an even effective kernel padded one more after the input, as PyTorch)."""
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        raise ShapeError(f"conv3d: expected a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if not isinstance(weight, Tensor) or weight.ndim != 5:
        raise ShapeError(f"conv3d: weight must be 5-D (out, in // groups, kd, kh, kw), got shape "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    c, o, cg, kernel = input.shape[1], weight.shape[0], weight.shape[1], tuple(weight.shape[2:])
    stride, dilation = _triple(stride, "stride"), _triple(dilation, "dilation")
    if isinstance(padding, str):
        if padding == "same":
            input, padding = _same_padding("conv3d", input, kernel, stride, dilation)
        elif padding == "valid":
            padding = 0
        else:
            raise ValueError(f"conv3d: padding must be an int, a triple, 'valid' or 'same', got {padding!r}")
    padding = _triple(padding, "padding")
    if not isinstance(groups, int) or groups < 1 or c % groups or o % groups:
        raise ValueError(f"conv3d: groups={groups} must divide both in_channels {c} and out_channels {o}")
    if cg * groups != c:
        raise ShapeError(f"conv3d: input has {c} channels but weight {weight.shape} with groups={groups} "
                         f"expects {cg * groups}")
    _check_windows("conv3d", input.shape[2:], kernel, stride, padding, dilation)
    input, weight = binary_operands(input, weight)
    if bias is not None:
        bias = binary_operands(weight, bias)[1]
        if bias.ndim != 1 or bias.shape[0] != o:
            raise ShapeError(f"conv3d: bias must have shape ({o},) for {o} output channels, got {bias.shape}")
    return _conv.conv3d(input, weight, bias, stride, padding, dilation, groups)


@_public
@_unbatched(5)
def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,  # noqa: A002
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transposed 3-D convolution (the gradient of ``conv3d`` with respect to its input) of (N, C_in, D, H, W)
    or (C_in, D, H, W) with weight (C_in, C_out // groups, kd, kh, kw): one GEMM per group on the input in
    batch-inner order, whose columns ``FoldBatchInner`` adds up into the output. Made of differentiable ops
    (``MatMul``, ``FoldBatchInner``, whose backward is ``UnfoldBatchInner``), so gradients of every order follow."""
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        raise ShapeError(f"conv_transpose3d: expected a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if not isinstance(weight, Tensor) or weight.ndim != 5:
        raise ShapeError(f"conv_transpose3d: weight must be 5-D (in, out // groups, kd, kh, kw), got shape "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    n, c, spatial = input.shape[0], input.shape[1], tuple(input.shape[2:])
    cin, og, kernel = weight.shape[0], weight.shape[1], tuple(weight.shape[2:])
    stride, padding = _triple(stride, "stride"), _triple(padding, "padding")
    output_padding, dilation = _triple(output_padding, "output_padding"), _triple(dilation, "dilation")
    if not isinstance(groups, int) or groups < 1 or c % groups:
        raise ValueError(f"conv_transpose3d: groups={groups} must divide the input's {c} channels")
    if cin != c:
        raise ShapeError(f"conv_transpose3d: input has {c} channels but weight {weight.shape} expects {cin}")
    out = _transposed_sizes("conv_transpose3d", spatial, kernel, stride, padding, output_padding, dilation)
    input, weight = binary_operands(input, weight)
    if bias is not None:
        bias = binary_operands(weight, bias)[1]
        if bias.ndim != 1 or bias.shape[0] != og * groups:
            raise ShapeError(f"conv_transpose3d: bias must have shape ({og * groups},) for {og * groups} output "
                             f"channels, got {bias.shape}")
    # As conv_transpose2d: fold sees out_size(out) windows per axis, more than the input's when output_padding
    # reaches the stride; the extra windows read zeros.
    windows = tuple(_conv.out_size(*args) for args in zip(out, kernel, stride, padding, dilation))
    if windows != spatial:
        widths: list[int] = []
        for wn, sn in zip(reversed(windows), reversed(spatial)):
            widths += [0, wn - sn]
        input = pad(input, tuple(widths))
    volume, cg = windows[0] * windows[1] * windows[2], c // groups
    k = og * kernel[0] * kernel[1] * kernel[2]
    xb = input.permute(1, 0, 2, 3, 4).reshape(groups, cg, n * volume)
    cols = (weight.reshape(groups, cg, k).mT @ xb).reshape(groups * k, n * volume)  # rows (o, *kernel)
    result = _conv.FoldBatchInner.apply(cols, out, kernel, dilation, padding, stride)  # (N, O, *out)
    return result if bias is None else result + bias.reshape(1, og * groups, 1, 1, 1)
