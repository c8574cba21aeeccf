"""Pooling: max and average pools (1-D and 2-D) and the adaptive average and max pools."""

from __future__ import annotations

import math

from ...errors import ShapeError
from ...ops import conv as _conv
from ...ops._common import constant
from ...ops.movement import _expand_or_self, _reshape_or_self
from ...tensor import Tensor
from ._common import _check_4d, _check_windows, _pair, _public, _single, _triple, _unbatched, _value_range


def _pool_args(op, input, kernel_size, stride, padding, dilation):
    _check_4d(input, op)
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else _pair(stride, "stride")
    padding, dilation = _pair(padding, "padding"), _pair(dilation, "dilation")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    out = _check_windows(op, input.shape[2:], kernel, stride, padding, dilation)
    return kernel, stride, padding, dilation, out


@_public
@_unbatched(4)
def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """Maximum over windows; stride defaults to kernel_size. Ties send the gradient to the first maximum."""
    kernel, stride, padding, dilation, out = _pool_args("max_pool2d", input, kernel_size, stride, padding,
                                                        dilation)
    if ceil_mode:  # the 3-D pool on a depth-1 volume: its windows past the input's end, PyTorch's rule
        pooled = max_pool3d(input.unsqueeze(2), (1, *kernel), (1, *stride), (0, *padding), (1, *dilation), True,
                            return_indices)
        return tuple(t.squeeze(2) for t in pooled) if return_indices else pooled.squeeze(2)
    values = _conv.max_pool2d(input, kernel, stride, padding, dilation)
    return (values, _max_pool2d_indices(input, kernel, stride, padding, dilation, out)) if return_indices else values


def _max_pool2d_indices(input, kernel, stride, padding, dilation, out) -> Tensor:  # noqa: A002
    """Each window's maximum as a flat index h * W + w into its (H, W) plane, by PyTorch's CPU kernel's rule: a
    scan in row-major window order over the positions inside the input, keeping a value greater than the
    kept one or a NaN; so the first maximum wins, the last NaN wins over everything, and a window of -inf
    gives its first position inside the input."""
    import numpy as np

    be, (n, c, h, w), k = input._backend, input.shape, kernel[0] * kernel[1]
    x = be.to_numpy(input.array)
    if x.dtype.kind != "f":
        raise TypeError(f"max_pool2d: return_indices needs a floating input, got {x.dtype.name}")
    widths = ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2)
    padded = np.pad(x, widths, constant_values=-np.inf)
    positions = np.pad(np.arange(h * w, dtype=np.int64).reshape(h, w), widths[2:], constant_values=-1)
    rows = (np.arange(out[0]) * stride[0])[:, None] + np.arange(kernel[0])[None, :] * dilation[0]  # (oh, kh)
    cols = (np.arange(out[1]) * stride[1])[:, None] + np.arange(kernel[1])[None, :] * dilation[1]  # (ow, kw)
    windows = padded[:, :, rows[:, None, :, None], cols[None, :, None, :]].reshape(n, c, out[0], out[1], k)
    where = positions[rows[:, None, :, None], cols[None, :, None, :]].reshape(out[0], out[1], k)
    valid = where >= 0
    nan = np.isnan(windows)
    ordered = np.where(valid & ~nan, windows, -np.inf)
    first_max = (valid & (ordered == ordered.max(-1, keepdims=True))).argmax(-1)
    last_nan = k - 1 - nan[..., ::-1].argmax(-1)
    slots = np.where(nan.any(-1), last_nan, first_max)
    flat = np.take_along_axis(np.broadcast_to(where, windows.shape), slots[..., None], -1)[..., 0]
    return Tensor(be.from_numpy(np.ascontiguousarray(flat)), be)


@_public
@_unbatched(4)
def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over windows; padded zeros count unless ``count_include_pad=False``."""
    kernel, stride, padding, dilation, (oh, ow) = _pool_args("avg_pool2d", input, kernel_size, stride,
                                                             padding, 1)
    if ceil_mode:  # as max_pool2d: the 3-D pool on a depth-1 volume, whose divisors follow PyTorch's rules
        return avg_pool3d(input.unsqueeze(2), (1, *kernel), (1, *stride), (0, *padding), True, count_include_pad,
                          divisor_override).squeeze(2)
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


def _as_height_one(input: Tensor, op: str) -> Tensor:
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    return input.unsqueeze(-2)


@_public
@_unbatched(3)
def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """Maximum over windows of (N, C, L) or (C, L): ``max_pool2d`` on a height-1 image."""
    x = _as_height_one(input, "max_pool1d")
    stride = None if stride is None else (1, _single(stride, "stride"))
    out = max_pool2d(x, (1, _single(kernel_size, "kernel_size")), stride, (0, _single(padding, "padding")),
                     (1, _single(dilation, "dilation")), ceil_mode, return_indices)
    return tuple(t.squeeze(-2) for t in out) if return_indices else out.squeeze(-2)


@_public
@_unbatched(3)
def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of (N, C, L) or (C, L): ``avg_pool2d`` on a height-1 image."""
    x = _as_height_one(input, "avg_pool1d")
    stride = None if stride is None else (1, _single(stride, "stride"))
    out = avg_pool2d(x, (1, _single(kernel_size, "kernel_size")), stride, (0, _single(padding, "padding")),
                     ceil_mode, count_include_pad)
    return out.squeeze(-2)


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
@_unbatched(3)
def adaptive_max_pool1d(input: Tensor, output_size,  # noqa: A002
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over PyTorch's adaptive bins of a (N, C, L) or (C, L) input: ``adaptive_max_pool2d`` on a
    height-1 image."""
    x = _as_height_one(input, "adaptive_max_pool1d")
    out = adaptive_max_pool2d(x, (1, _single(output_size, "output_size")), return_indices)
    return tuple(t.squeeze(-2) for t in out) if return_indices else out.squeeze(-2)


# -- 3-D pools: windows from ops.conv's N-d Unfold; ceil_mode supported (the input padded after its end) ----------
def _pool3d_geometry(op: str, input, kernel_size, stride, padding, dilation, ceil_mode: bool) -> tuple:
    """kernel, stride, padding, dilation, the output size and the extra padding after the input that ceil_mode's
    last windows need, per axis (PyTorch's ``pooling_output_shape``)."""
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        raise ShapeError(f"{op}: expected a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating input, got {input.dtype.name}")
    kernel = _triple(kernel_size, "kernel_size")
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else _triple(stride,
                                                                                                         "stride")
    padding, dilation = _triple(padding, "padding"), _triple(dilation, "dilation")
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive and padding non-negative, got "
                         f"kernel_size={kernel}, stride={stride}, padding={padding}, dilation={dilation}")
    if any(p > ((k - 1) * d + 1) // 2 for p, k, d in zip(padding, kernel, dilation)):
        raise ValueError(f"{op}: padding {padding} must be at most half the effective kernel size (kernel_size "
                         f"{kernel}, dilation {dilation})")
    out, extra = [], []
    for n, k, s, p, d in zip(input.shape[-3:], kernel, stride, padding, dilation):
        span = n + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if ceil_mode else span // s) + 1 if span >= 0 else 0
        if ceil_mode and o > 0 and (o - 1) * s >= n + p:  # the last window must start inside the input or its padding
            o -= 1
        out.append(o)
        extra.append(max(0, (o - 1) * s + d * (k - 1) + 1 - (n + 2 * p)))
    if min(out) < 1:
        raise ShapeError(f"{op}: input of spatial size {tuple(input.shape[-3:])} is too small for kernel_size "
                         f"{kernel} with padding {padding} and dilation {dilation} (output would be {tuple(out)})")
    return kernel, stride, padding, dilation, tuple(out), tuple(extra)


def _window_max(windows: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """The maximum along ``dim`` and its index by PyTorch's pooling rule: a value is taken when greater than the
    best so far or NaN, so the first maximum wins, and in a window with NaNs the last NaN (``max(dim)`` takes the
    first NaN: where NaNs are present the index is corrected and the values gathered there)."""
    from ...ops import where

    values, slots = windows.max(dim)
    nan = windows.detach().isnan()
    if not bool(nan.any().item()):
        return values, slots
    be, k = windows._backend, windows.shape[dim]
    rank = Tensor(be.reshape(be.arange(0, k, 1, slots.dtype), (k,) + (1,) * (windows.ndim - 1 - dim % windows.ndim)),
                  be)
    last = where(nan, rank, -1).max(dim).values
    slots = where(last >= 0, last, slots)
    return windows.gather(dim, slots.unsqueeze(dim)).squeeze(dim), slots


def _padded_windows(x: Tensor, kernel, stride, padding, dilation, extra, fill: float) -> Tensor:
    """Every window of (N, C, D, H, W) padded by ``fill`` (plus ``extra`` after the input), as (N, C, K, *out)."""
    from ...ops import pad

    widths = (padding[2], padding[2] + extra[2], padding[1], padding[1] + extra[1], padding[0], padding[0] + extra[0])
    if any(widths):
        x = pad(x, widths, value=fill)
    cols = _conv.unfold(x, kernel, dilation, (0, 0, 0), stride)  # (N, C * K, L)
    out = tuple(_conv.out_size(n, k, s, 0, d) for n, k, s, d in zip(x.shape[2:], kernel, stride, dilation))
    return cols.reshape(x.shape[0], x.shape[1], kernel[0] * kernel[1] * kernel[2], *out)


@_public
@_unbatched(5)
def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over windows of (N, C, D, H, W) or (C, D, H, W) (padding counts as -inf); stride defaults to
    kernel_size. The gradient goes to the first maximum of each window; ``return_indices`` also gives its flat
    index d * H * W + h * W + w into the input's spatial volume."""
    kernel, stride, padding, dilation, out, extra = _pool3d_geometry("max_pool3d", input, kernel_size, stride,
                                                                     padding, dilation, ceil_mode)
    values, slots = _window_max(_padded_windows(input, kernel, stride, padding, dilation, extra, float("-inf")), 2)
    if not return_indices:
        return values
    be, volume = input._backend, input.shape[2] * input.shape[3] * input.shape[4]
    positions = Tensor(be.reshape(be.arange(0, volume, 1, slots.dtype), (1, 1) + tuple(input.shape[2:])), be)
    table = _padded_windows(positions, kernel, stride, padding, dilation, extra, -1)  # (1, 1, K, *out)
    indices = _expand_or_self(table, (*slots.shape[:2], *table.shape[2:])).gather(2, slots.unsqueeze(2)).squeeze(2)
    return values, indices


@_public
@_unbatched(5)
def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over windows of (N, C, D, H, W) or (C, D, H, W). The divisor is ``divisor_override`` when given, else
    the window's size within the padded input (``count_include_pad``) or its count of input elements, as
    PyTorch's (ceil_mode's last windows may reach past the padding: that part is never counted)."""
    import numpy as np

    kernel, stride, padding, _, out, extra = _pool3d_geometry("avg_pool3d", input, kernel_size, stride, padding,
                                                              1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override == 0):
        raise ValueError(f"avg_pool3d: divisor_override must be a non-zero int, got {divisor_override!r}")
    sums = _padded_windows(input, kernel, stride, padding, (1, 1, 1), extra, 0.0).sum(2)
    if divisor_override is not None:
        return sums / divisor_override
    per_axis = []
    for n, o, k, s, p in zip(input.shape[2:], out, kernel, stride, padding):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        per_axis.append(end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0))
    counts = per_axis[0][:, None, None] * per_axis[1][None, :, None] * per_axis[2][None, None, :]
    return sums / constant(input._backend, input._backend.from_numpy(counts.astype(input.dtype)))


def _adaptive_triple(op: str, input, output_size, dims: int = 3) -> tuple:
    if not isinstance(input, Tensor) or input.ndim not in (dims + 1, dims + 2):
        raise ShapeError(f"{op}: expected a {dims + 1}-D or {dims + 2}-D input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    sizes = (output_size,) * dims if isinstance(output_size, int) or output_size is None else tuple(output_size)
    if len(sizes) != dims:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {dims}, got {output_size!r}")
    spatial = tuple(input.shape[-dims:])
    sizes = tuple(n if o is None else o for n, o in zip(spatial, sizes))
    if not all(isinstance(v, int) and v >= 1 for v in sizes) or min(spatial) < 1:
        raise ValueError(f"{op}: output_size must be positive ints (or None) and the input non-empty, got "
                         f"output_size={output_size!r} for input of shape {input.shape}")
    return spatial, sizes


@_public
def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:  # noqa: A002
    """Mean over PyTorch's adaptive bins of a (N, C, D, H, W) or (C, D, H, W) input: one matmul with a bin matrix
    per axis. ``output_size`` is an int or a triple; ``None`` in it keeps that input size."""
    (d, h, w), (od, oh, ow) = _adaptive_triple("adaptive_avg_pool3d", input, output_size)
    if input.dtype.kind != "f":
        raise TypeError(f"adaptive_avg_pool3d: expected a floating input, got {input.dtype.name}")
    lead = input.shape[:-3]
    y = _adaptive_bins(h, oh, input) @ (input @ _adaptive_bins(w, ow, input).mT)  # (..., D, oh, ow)
    return (_adaptive_bins(d, od, input) @ y.reshape(*lead, d, oh * ow)).reshape(*lead, od, oh, ow)


@_public
def adaptive_max_pool3d(input: Tensor, output_size,  # noqa: A002
                        return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over PyTorch's adaptive bins of a (N, C, D, H, W) or (C, D, H, W) input; the gradient goes to the
    first maximum of each bin in row-major order (a bin's padding repeats its first index, after the real ones,
    so a repeat never comes first). ``return_indices`` also gives each maximum's flat index d * H * W + h * W + w."""
    (d, h, w), (od, oh, ow) = _adaptive_triple("adaptive_max_pool3d", input, output_size)
    be, lead = input._backend, input.shape[:-3]
    k = len(lead)
    bins = [_adaptive_windows(n, o) for n, o in zip((d, h, w), (od, oh, ow))]  # (o, l) each
    windows = input
    for axis, index in zip((-3, -2, -1), bins):
        where = (Ellipsis, Tensor(be.from_numpy(index.reshape(-1)), be)) + (slice(None),) * (-1 - axis)
        windows = windows[where]
    (ld, lh, lw) = (b.shape[1] for b in bins)
    windows = windows.reshape(*lead, od, ld, oh, lh, ow, lw)
    windows = windows.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3, k + 5).reshape(*lead, od, oh, ow, -1)
    values, slots = _window_max(windows, -1)
    if not return_indices:
        return values
    rows, cols, deps = bins[1], bins[2], bins[0]
    flat = (deps[:, None, None, :, None, None] * (h * w) + rows[None, :, None, None, :, None] * w
            + cols[None, None, :, None, None, :]).reshape(od, oh, ow, -1)
    table = Tensor(be.from_numpy(flat), be).expand(*lead, od, oh, ow, flat.shape[-1])
    return values, table.gather(-1, slots.unsqueeze(-1)).squeeze(-1)
# -- max unpooling, power-average pooling, pdist and Gumbel-softmax ------------------------------------------------
def _unpool(op: str, input: Tensor, indices: Tensor, kernel, stride, padding, output_size,  # noqa: A002
            spatial: int) -> Tensor:
    if not isinstance(input, Tensor) or not isinstance(indices, Tensor):
        raise TypeError(f"{op}: input and indices must be tensors")
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ShapeError(f"{op}: expected a {spatial + 1}-D or {spatial + 2}-D input, got shape {input.shape}")
    if tuple(indices.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: expected shape of indices to be same as that of the input tensor "
                         f"({input.shape}) but got indices tensor with shape {indices.shape}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor, got {indices.dtype.name}")
    sizes = input.shape[-spatial:]
    default = tuple((i - 1) * s - 2 * p + k for i, k, s, p in zip(sizes, kernel, stride, padding))
    if output_size is None:
        out = default
    else:
        out = tuple(output_size)[-spatial:]
        if len(out) != spatial:
            raise ValueError(f"{op}: output_size must have {spatial} elements, got {output_size!r}")
        for o, d, s in zip(out, default, stride):
            if not d - s < o < d + s:
                raise ValueError(f"{op}: output_size {tuple(output_size)} is not in the range of sizes between "
                                 f"{tuple(x - y for x, y in zip(default, stride))} and "
                                 f"{tuple(x + y for x, y in zip(default, stride))} (exclusive)")
    total = math.prod(out)
    lead = input.shape[:-spatial]
    if indices.numel():
        low, high = _value_range(indices)
        if low < 0 or high >= total:
            raise IndexError(f"{op}: found an invalid max index {high if high >= total else low} (output volumes "
                             f"are of size {'x'.join(map(str, out))})")
    be = input._backend
    zeros = Tensor(be.zeros(lead + (total,), input.dtype), be)
    flat_in, flat_idx = input.reshape(*lead, -1), indices.reshape(*lead, -1).astype("int64")
    return _reshape_or_self(zeros.scatter(-1, flat_idx, flat_in), (*lead, *out))


@_public
def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None) -> Tensor:
    """The partial inverse of ``max_pool2d(..., return_indices=True)``: each value goes to its flat index
    h * W + w of a zero (H, W) plane; H, W default to (in - 1) * stride - 2 * padding + kernel_size."""
    kernel = _pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else _pair(stride, "stride")
    return _unpool("max_unpool2d", input, indices, kernel, stride, _pair(padding, "padding"), output_size, 2)


@_public
def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None) -> Tensor:
    """The partial inverse of ``max_pool1d(..., return_indices=True)`` on (N, C, L) or (C, L)."""
    kernel = (_single(kernel_size, "kernel_size"),)
    stride = kernel if stride is None else (_single(stride, "stride"),)
    return _unpool("max_unpool1d", input, indices, kernel, stride, (_single(padding, "padding"),), output_size, 1)


def _lp_finish(out: Tensor, norm_type: float, count: int) -> Tensor:
    from ...ops import relu

    return (out.sign() * relu(out.abs()) * count) ** (1.0 / norm_type)  # PyTorch's formula, gradients included


@_public
def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None,  # noqa: A002
              ceil_mode: bool = False) -> Tensor:
    """(sum over each window of x ** norm_type) ** (1 / norm_type): PyTorch's power-average pool."""
    kh, kw = _pair(kernel_size, "kernel_size")
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise ShapeError(f"lp_pool2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    return _lp_finish(avg_pool2d(input ** norm_type, (kh, kw), stride, 0, ceil_mode), norm_type, kh * kw)


@_public
def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None,  # noqa: A002
              ceil_mode: bool = False) -> Tensor:
    """(sum over each window of x ** norm_type) ** (1 / norm_type) on (N, C, L) or (C, L)."""
    k = _single(kernel_size, "kernel_size")
    out = avg_pool1d(input ** norm_type, k, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, k)


@_public
def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None) -> Tensor:
    """The partial inverse of ``max_pool3d(..., return_indices=True)`` on (N, C, D, H, W) or (C, D, H, W): each value
    goes to its flat index d * H * W + h * W + w of a zero volume."""
    kernel = _triple(kernel_size, "kernel_size")
    stride = kernel if stride is None else _triple(stride, "stride")
    return _unpool("max_unpool3d", input, indices, kernel, stride, _triple(padding, "padding"), output_size, 3)


@_public
def lp_pool3d(input: Tensor, norm_type: float, kernel_size, stride=None,  # noqa: A002
              ceil_mode: bool = False) -> Tensor:
    """(sum over each window of x ** norm_type) ** (1 / norm_type) on (N, C, D, H, W) or (C, D, H, W)."""
    kd, kh, kw = _triple(kernel_size, "kernel_size")
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        raise ShapeError(f"lp_pool3d: expected a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    out = avg_pool3d(input ** norm_type, (kd, kh, kw), stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, kd * kh * kw)


@_public
def pdist(input: Tensor, p: float = 2.0) -> Tensor:  # noqa: A002
    """The p-norm distances between the rows of an (N, M) input, for each pair i < j in row-major order."""
    import numpy as np

    if not isinstance(input, Tensor) or input.ndim != 2:
        raise ShapeError(f"pdist: only supports 2D tensors, got shape {getattr(input, 'shape', type(input).__name__)}")
    if p < 0:
        raise ValueError(f"pdist: only supports non-negative p values, got {p}")
    first, second = np.triu_indices(input.shape[0], 1)
    be = input._backend
    a = input[Tensor(be.from_numpy(first.astype(np.int64)), be)]
    b = input[Tensor(be.from_numpy(second.astype(np.int64)), be)]
    return (a - b).norm(p, 1)


@_public
def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """softmax((logits + g) / tau) with g drawn from Gumbel(0, 1) (the backend's generator); with ``hard``, the
    one-hot of the argmax in the forward pass and the soft sample's gradient (straight-through)."""
    from ...ops import softmax

    be = logits._backend
    uniform = be.rand(logits.shape, logits.dtype)
    gumbels = constant(be, be.negative(be.log(be.negative(be.log1p(be.negative(uniform))))))  # -log(Exp(1))
    soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    index = soft.detach().argmax(dim, keepdim=True)
    one_hot = Tensor(be.zeros(logits.shape, logits.dtype), be).scatter(dim, index, 1.0)
    return one_hot - soft.detach() + soft


# PyTorch's ``*_with_indices`` spellings: always (values, indices), whatever ``return_indices`` says (as PyTorch's).
def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``max_pool1d(..., return_indices=True)``."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``max_pool2d(..., return_indices=True)``."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size,  # noqa: A002
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool1d(..., return_indices=True)``."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size,  # noqa: A002
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool2d(..., return_indices=True)``."""
    return adaptive_max_pool2d(input, output_size, True)


def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``max_pool3d(..., return_indices=True)``."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size,  # noqa: A002
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool3d(..., return_indices=True)``."""
    return adaptive_max_pool3d(input, output_size, True)


WITH_INDICES = {f.__name__: f for f in (max_pool1d_with_indices, max_pool2d_with_indices,
                                        adaptive_max_pool1d_with_indices, adaptive_max_pool2d_with_indices,
                                        max_pool3d_with_indices, adaptive_max_pool3d_with_indices)}


# -- fractional max pooling: PyTorch's pseudo-random window starts from ``_random_samples`` ----------------------
def _fractional_starts(xp, samples, size: int, out: int, pool: int):
    """PyTorch's ``generate_intervals``, per plane, in the samples' dtype (its kernel computes in the input's):
    start_i = int((i + u) alpha) - int(u alpha), alpha = (size - pool) / (out - 1), the last at size - pool."""
    dtype = samples.dtype.type
    starts = xp.empty(samples.shape + (out,), dtype=xp.int64)
    if out > 1:
        alpha = dtype(size - pool) / dtype(out - 1)
        i = xp.arange(out - 1, dtype=samples.dtype)
        starts[..., :-1] = (xp.trunc((i + samples[..., None]) * alpha).astype(xp.int64)
                            - xp.trunc(samples * alpha).astype(xp.int64)[..., None])
    if out > 0:
        starts[..., -1] = size - pool
    return starts


def _fractional_max_pool(op: str, input: Tensor, kernel_size, output_size, output_ratio,  # noqa: A002
                         return_indices: bool, _random_samples, dims: int):
    """Fractional max pooling over the last ``dims`` axes: the window starts come from one sample in [0, 1) per
    (batch, channel, axis), the maximum is the first in row-major order (the last NaN where there is one), as
    PyTorch's kernel; the values are a gather from the input, so the gradient is exact (summed where windows
    overlap)."""
    from ...creation import rand

    name = f"{op}()"
    if not isinstance(input, Tensor) or input.ndim not in (dims + 1, dims + 2):
        raise ShapeError(f"{name}: expected a {dims + 1}-D or {dims + 2}-D input, got shape "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating input, got {input.dtype.name} (PyTorch does not implement it "
                        "for integers either)")
    spatial = input.shape[-dims:]
    if any(n == 0 for n in input.shape[-dims - 1:]):
        raise ShapeError(f"{name}: expected an input with non-zero size in its non-batch dimensions, got shape "
                         f"{input.shape}")
    as_tuple = _pair if dims == 2 else _triple
    kernel = as_tuple(kernel_size, "kernel_size")
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        ratio = (output_ratio,) * dims if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
        if len(ratio) != dims:
            raise ValueError(f"{op}: output_ratio must be a number or {dims} numbers, got {output_ratio!r}")
        size = tuple(int(n * r) for n, r in zip(spatial, ratio))
    else:
        size = as_tuple(output_size, "output_size")
    if any(k < 1 for k in kernel) or any(o < 0 for o in size):
        raise ValueError(f"{name}: kernel_size must be positive and output_size non-negative, got kernel_size="
                         f"{kernel}, output_size={size}")
    for axis, n, k, o in zip(("time", "height", "width")[-dims:], spatial, kernel, size):
        if o + k - 1 > n:
            raise ValueError(f"{name}: pool {axis} {k} too large relative to input {axis} {n} (output {axis} {o})")
    batched = input.ndim == dims + 2
    x = input if batched else input.unsqueeze(0)
    batch, channels = x.shape[0], x.shape[1]
    if _random_samples is None:
        samples = rand(batch, channels, dims, dtype=x.dtype, backend=x.backend)
    else:
        samples = _random_samples
        if not isinstance(samples, Tensor) or samples.ndim != 3:
            raise ShapeError(f"{name}: expected _random_samples to be a 3-D tensor (N, C, {dims}), got "
                             f"{getattr(samples, 'shape', type(samples).__name__)}")
        if samples.dtype != x.dtype:
            raise TypeError(f"{name}: expected _random_samples to have the input's dtype {x.dtype.name}, got "
                            f"{samples.dtype.name}")
        if samples.shape[0] < batch or samples.shape[1] != channels or samples.shape[2] != dims:
            raise ShapeError(f"{name}: _random_samples of shape {samples.shape} does not fit an input of shape "
                             f"{input.shape}: expected (N' >= {batch}, {channels}, {dims})")
    be = x._backend
    xp = be.xp
    u = samples.detach().array[:batch]
    if not bool(xp.all((u >= 0) & xp.isfinite(u))):
        raise ValueError(f"{name}: _random_samples must be finite and non-negative (PyTorch draws them in [0, 1))")
    # 2-D: PyTorch's samples are (width, height); 3-D: (time, height, width)
    order = (1, 0) if dims == 2 else (0, 1, 2)
    starts = [_fractional_starts(xp, u[..., j], n, o, k) for j, n, o, k in zip(order, spatial, size, kernel)]
    # every window's flat input indices: (N, C, *size, *kernel)
    strides = [math.prod(spatial[d + 1:]) for d in range(dims)]
    flat = xp.zeros((batch, channels) + size + kernel, dtype=xp.int64)
    for d in range(dims):
        where = [None] * dims
        where[d] = slice(None)
        offsets = starts[d][(slice(None), slice(None)) + tuple(where) + (None,) * dims]
        kshape = [1] * dims
        kshape[d] = kernel[d]
        flat = flat + (offsets + xp.arange(kernel[d]).reshape(kshape)) * strides[d]
    flat = flat.reshape(batch, channels, math.prod(size), math.prod(kernel))
    plane = x.detach().array.reshape(batch, channels, -1)
    values = xp.take_along_axis(plane, flat.reshape(batch, channels, -1), axis=2).reshape(flat.shape)
    nan = xp.isnan(values)
    last_nan = nan.shape[-1] - 1 - xp.argmax(nan[..., ::-1], axis=-1)
    slot = xp.where(nan.any(-1), last_nan, xp.argmax(values, axis=-1))
    chosen = xp.take_along_axis(flat, slot[..., None], axis=-1)[..., 0]  # (N, C, prod(size))
    index = Tensor(chosen, be)
    out = x.reshape(batch, channels, -1).gather(2, index).reshape(batch, channels, *size)
    index = index.reshape(batch, channels, *size)
    if not batched:
        out, index = out.squeeze(0), index.squeeze(0)
    return (out, index) if return_indices else out


@_public
def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,  # noqa: A002
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """Max pooling of a (N, C, H, W) or (C, H, W) input over pseudo-random windows of ``kernel_size`` (Graham's
    fractional max pooling) to ``output_size``, or to ``output_ratio`` times the input size. ``_random_samples``
    ((N, C, 2), the input's dtype, in [0, 1)) fixes the windows (drawn with ``minigrad.rand`` otherwise);
    ``return_indices`` also gives each maximum's flat index h * W + w."""
    return _fractional_max_pool("fractional_max_pool2d", input, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples, 2)


@_public
def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,  # noqa: A002
                          return_indices: bool = False, _random_samples: Tensor | None = None):
    """``fractional_max_pool2d`` over the last three axes of a (N, C, T, H, W) or (C, T, H, W) input;
    ``_random_samples`` is (N, C, 3) and the indices are t * H * W + h * W + w."""
    return _fractional_max_pool("fractional_max_pool3d", input, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples, 3)


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size, output_size=None,  # noqa: A002
                                       output_ratio=None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``fractional_max_pool2d(..., return_indices=True)``."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size, output_size=None,  # noqa: A002
                                       output_ratio=None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``fractional_max_pool3d(..., return_indices=True)``."""
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True, _random_samples)


WITH_INDICES.update({f.__name__: f for f in (fractional_max_pool2d_with_indices,
                                             fractional_max_pool3d_with_indices)})
