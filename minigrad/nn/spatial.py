"""Layers for convolutional nets beyond the basics: transposed convolutions, ``Upsample``, the padding modules,
1-D pooling, pixel shuffle, ``Dropout1d`` and instance norm, with PyTorch's arguments, parameter names and init."""

from __future__ import annotations

import functools
import math

from ..creation import ones, zeros
from ..dtypes import as_dtype
from ..errors import ShapeError
from ..tensor import Tensor, tensor
from . import functional as F  # noqa: N812 - PyTorch's convention
from . import init
from .functional._common import _tuple
from .layers import Dropout, _AvgPoolNd, _ConvNd, _empty, _MaxPoolNd
from .module import Module


class _ConvTransposeNd(Module):
    """Shared by ConvTranspose1d/2d: weight (in, out // groups, *kernel), PyTorch's init and ``output_size``."""

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", *, dtype=None,
                 backend: str | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding_mode is supported, got {padding_mode!r}')
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        as_tuple = functools.partial(_tuple, n=self.dims, op=name)
        self.kernel_size = as_tuple(kernel_size, "kernel_size")
        self.stride, self.padding = as_tuple(stride, "stride"), as_tuple(padding, "padding")
        self.output_padding, self.dilation = as_tuple(output_padding, "output_padding"), as_tuple(dilation, "dilation")
        self.padding_mode = padding_mode
        self.weight = _empty((in_channels, out_channels // groups) + self.kernel_size, dtype, backend)
        self.register_parameter("bias", _empty((out_channels,), dtype, backend) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's fan_in of this weight is size(1) * receptive field: (out // groups) * prod(kernel).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _output_padding(self, x: Tensor, output_size) -> tuple:
        """PyTorch's rule: ``output_size`` (spatial, or with the leading dimensions) picks the output padding."""
        if output_size is None:
            return self.output_padding
        k, name = self.dims, type(self).__name__
        lead = 2 if x.ndim == k + 2 else 1
        size = tuple(int(v) for v in output_size)
        if len(size) == lead + k:
            size = size[lead:]
        if len(size) != k:
            raise ValueError(f"{name}: for {x.ndim}-D input, output_size must have {k} or {lead + k} elements "
                             f"(got {len(size)})")
        smallest = [(x.shape[lead + d] - 1) * self.stride[d] - 2 * self.padding[d]
                    + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(k)]
        for d in range(k):
            if not smallest[d] <= size[d] <= smallest[d] + self.stride[d] - 1:
                raise ValueError(f"{name}: requested an output size of {size}, but valid sizes range from "
                                 f"{smallest} to {[m + s - 1 for m, s in zip(smallest, self.stride)]} (for an "
                                 f"input of shape {x.shape})")
        return tuple(s - m for s, m in zip(size, smallest))

    def extra_repr(self) -> str:
        k = self.dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * k:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * k:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * k:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution over (N, C, H, W); weight (in, out // groups, kh, kw) as PyTorch's."""

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        output_padding = self._output_padding(x, output_size)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution over (N, C, L); weight (in, out // groups, k) as PyTorch's."""

    dims = 1

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        (output_padding,) = self._output_padding(x, output_size)
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride[0], self.padding[0], output_padding,
                                  self.groups, self.dilation[0])


class Upsample(Module):
    """``F.interpolate`` to a fixed ``size`` or by ``scale_factor`` with ``mode`` (default "nearest")."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling with ``align_corners=True``, as PyTorch's."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class _PadNd(Module):
    """``F.pad`` with a fixed ``padding`` (an int for every side, or a tuple (left, right[, top, bottom]))."""

    mode, dims = "constant", 1

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _tuple(padding, "padding", 2 * self.dims, type(self).__name__)

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    dims = 2


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ZeroPad1d):
    dims = 2


class ReflectionPad1d(_PadNd):
    mode = "reflect"


class ReflectionPad2d(_PadNd):
    mode, dims = "reflect", 2


class ReplicationPad1d(_PadNd):
    mode = "replicate"


class ReplicationPad2d(_PadNd):
    mode, dims = "replicate", 2


class CircularPad1d(_PadNd):
    mode = "circular"


class CircularPad2d(_PadNd):
    mode, dims = "circular", 2


class MaxPool1d(_MaxPoolNd):
    pool = staticmethod(F.max_pool1d)


class AvgPool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size, self.stride = (F._single(kernel_size, "kernel_size"),), None
        self.stride = self.kernel_size if stride is None else (F._single(stride, "stride"),)
        self.padding, self.ceil_mode = (F._single(padding, "padding"),), ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class PixelShuffle(Module):
    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class Dropout1d(Dropout):
    """Zero whole channels of (N, C, L) with probability ``p`` in training mode; identity in eval."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout1d(x, self.p, self.training, self.inplace)


class _InstanceNorm(Module):
    """Per-sample, per-channel normalisation over the spatial axes; optional per-channel affine (ones/zeros) and
    running statistics (buffers as BatchNorm's), used instead of the instance's in eval mode."""

    dims = 2
    _version = 2  # PyTorch's _NormBase version (what state-dict post-hooks see)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, *, bias: bool = True, dtype=None,
                 backend: str | None = None) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.register_parameter("weight", _empty((num_features,), dtype, backend) if affine else None)
        self.register_parameter("bias", _empty((num_features,), dtype, backend) if affine and bias else None)
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)
        if track_running_stats:
            dtype = as_dtype(dtype) if dtype else None
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, backend=backend))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, backend=backend))
            self.register_buffer("num_batches_tracked", tensor(0, dtype="int64", backend=backend))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: Tensor) -> Tensor:
        k = self.dims
        if x.ndim not in (k + 1, k + 2):
            raise ShapeError(f"{type(self).__name__}: expected {k + 1}-D or {k + 2}-D input, got shape {x.shape}")
        unbatched = x.ndim == k + 1
        x = x.unsqueeze(0) if unbatched else x
        if x.shape[1] != self.num_features and (self.affine or self.track_running_stats):
            raise ShapeError(f"{type(self).__name__}: expected input with {self.num_features} channels, got "
                             f"shape {x.shape}")
        # As PyTorch: momentum None means 0 here (the running statistics then never move), and
        # num_batches_tracked is kept for state dicts but never counted.
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.squeeze(0) if unbatched else out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    dims = 1


class InstanceNorm2d(_InstanceNorm):
    dims = 2


class AdaptiveMaxPool2d(Module):
    """Maximum over PyTorch's adaptive bins to ``output_size``; ``return_indices`` also returns flat indices."""

    function = staticmethod(F.adaptive_max_pool2d)

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return type(self).function(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    function = staticmethod(F.adaptive_max_pool1d)


# -- 3-D layers (video/volumetric nets) ---------------------------------------------------------------------------
class Conv3d(_ConvNd):
    """3-D convolution (cross-correlation) over (N, C, D, H, W) or (C, D, H, W); weight
    (out, in // groups, kd, kh, kw)."""

    dims = 3

    def _conv(self, x: Tensor, padding) -> Tensor:
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution over (N, C, D, H, W); weight (in, out // groups, kd, kh, kw) as PyTorch's."""

    dims = 3

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        output_padding = self._output_padding(x, output_size)
        return F.conv_transpose3d(x, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)


class MaxPool3d(_MaxPoolNd):
    pool = staticmethod(F.max_pool3d)


class AvgPool3d(_AvgPoolNd):
    pool = staticmethod(F.avg_pool3d)


class AdaptiveAvgPool3d(AdaptiveAvgPool1d):
    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool3d(x, self.output_size)


class AdaptiveMaxPool3d(AdaptiveMaxPool2d):
    function = staticmethod(F.adaptive_max_pool3d)


class InstanceNorm3d(_InstanceNorm):
    dims = 3


class Dropout3d(Dropout):
    """Zero whole channels of (N, C, D, H, W) with probability ``p`` in training mode; identity in eval."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout3d(x, self.p, self.training, self.inplace)


class ConstantPad3d(ConstantPad1d):
    dims = 3


class ZeroPad3d(ZeroPad1d):
    dims = 3


class ReflectionPad3d(_PadNd):
    mode, dims = "reflect", 3


class ReplicationPad3d(_PadNd):
    mode, dims = "replicate", 3


class CircularPad3d(_PadNd):
    mode, dims = "circular", 3
