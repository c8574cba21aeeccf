"""Resampling: ``interpolate`` (nearest, linear, bilinear, bicubic, trilinear, area) and
``pixel_shuffle``/``pixel_unshuffle``.
"""

from __future__ import annotations

import math

from ...errors import ShapeError
from ...ops.movement import TakeAlong
from ...tensor import Tensor
from ._common import _public
from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d

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
        from ...ops.resample import RepeatAlong

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
    from ...ops.resample import AxisMatrix, resample

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


# -- PyTorch's deprecated spellings of interpolate (with its warnings; not in OPS: interpolate has the spec) ---------
def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",  # noqa: A002
             align_corners: bool | None = None) -> Tensor:
    """Deprecated: ``interpolate(input, size, scale_factor, mode, align_corners)``."""
    import warnings

    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:  # noqa: A002
    """Deprecated: ``interpolate(input, size, scale_factor, mode="nearest")``."""
    import warnings

    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:  # noqa: A002
    """Deprecated: ``interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)``."""
    import warnings

    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


DEPRECATED = {f.__name__: f for f in (upsample, upsample_nearest, upsample_bilinear)}
