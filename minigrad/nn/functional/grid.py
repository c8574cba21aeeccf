"""Spatial transformers: ``affine_grid`` and ``grid_sample`` (2-D, PyTorch's coordinate conventions), made of
differentiable ops (gathers and arithmetic), so the gradients reach both the input and the grid."""

from __future__ import annotations

import warnings

import numpy as np

from ...errors import ShapeError
from ...ops._common import constant
from ...tensor import Tensor
from ._common import _public

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")


def _steps(n: int, align_corners: bool) -> np.ndarray:
    """PyTorch's normalised pixel coordinates in [-1, 1] (pixel centres unless ``align_corners``)."""
    if n <= 1:
        return np.zeros(n)
    values = np.linspace(-1.0, 1.0, n)
    return values if align_corners else values * (n - 1) / n


@_public
def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """The (N, H, W, 2) sampling grid of the 2-D affine maps ``theta`` (N, 2, 3) for an output of ``size``
    (N, C, H, W): theta @ (x, y, 1) for every output pixel, x and y in PyTorch's normalised coordinates."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    if not isinstance(theta, Tensor):
        raise TypeError(f"affine_grid: theta must be a tensor, got {type(theta).__name__}")
    if theta.dtype.kind != "f":
        raise ValueError(f"affine_grid: expected theta to have floating point type, but got {theta.dtype.name}")
    size = tuple(size)
    if len(size) != 4:
        raise NotImplementedError(f"affine_grid: only 4-D sizes (2-D affine transforms) are supported, got size "
                                  f"{size}")
    n, _, h, w = size
    if theta.ndim != 3 or tuple(theta.shape) != (n, 2, 3):
        raise ShapeError(f"affine_grid: expected a batch of 2D affine matrices of shape Nx2x3 for size {size}, got "
                         f"{theta.shape}")
    if align_corners and min(h, w) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", UserWarning, stacklevel=2)
    xs, ys = np.meshgrid(_steps(w, align_corners), _steps(h, align_corners))  # (H, W) each
    base = np.stack([xs, ys, np.ones_like(xs)], -1).reshape(1, h * w, 3).astype(theta.dtype)
    be = theta._backend
    return (constant(be, be.from_numpy(base)) @ theta.mT).reshape(n, h, w, 2)


def _unnormalize(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    return (coord + 1.0) * ((size - 1) / 2) if align_corners else ((coord + 1.0) * size - 1.0) / 2


def _reflect(coord: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """PyTorch's ``reflect_coordinates``: fold ``coord`` into [low, high] by reflections at its ends."""
    if twice_low == twice_high:
        return coord * 0.0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    distance = (coord - low).abs()
    be = coord._backend
    flips = be.floor(be.divide(distance.detach().array, span))
    extra = distance - constant(be, be.multiply(flips, span))
    even = constant(be, be.astype(be.equal(be.remainder(flips, 2.0), 0.0), coord.dtype))
    return even * (extra + low) + (1.0 - even) * (span - extra + low)


def _source(coord: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    coord = _unnormalize(coord, size, align_corners)
    if padding_mode == "reflection":
        coord = _reflect(coord, 0, 2 * (size - 1)) if align_corners else _reflect(coord, -1, 2 * size - 1)
    if padding_mode in ("border", "reflection"):
        coord = coord.clamp(0.0, size - 1.0)
        # As PyTorch's clip, NaN (and the NaN that reflecting an infinity gives) lands on 0, with no gradient.
        nan = coord._backend.isnan(coord.detach().array)
        if nan.any():
            coord = coord.masked_fill(Tensor(nan, coord._backend), 0.0)
    return coord


def _cells(v: np.ndarray) -> np.ndarray:
    """Integer positions of host coordinates ``v``: those outside (or not finite) become -2, outside too, so
    that the cast stays defined."""
    return np.nan_to_num(np.clip(v, -2.0, 2.0 ** 40), nan=-2.0).astype(np.int64)


def _corner(flat: Tensor, xs, ys, h: int, w: int, channels: int):
    """The input values at integer positions (xs, ys) (host arrays (N, P)) and a mask of those inside."""
    be = flat._backend
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    index = np.where(inside, ys * w + xs, 0).astype(np.int64)
    n, p = index.shape
    gathered = flat.gather(2, Tensor(be.from_numpy(np.ascontiguousarray(
        np.broadcast_to(index[:, None, :], (n, channels, p)))), be))
    return gathered, constant(be, be.from_numpy(inside[:, None, :].astype(flat.dtype)))


@_public
def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",  # noqa: A002
                align_corners: bool | None = None) -> Tensor:
    """Sample the (N, C, H, W) input at the (N, Ho, Wo, 2) grid's (x, y) points, in [-1, 1] normalised
    coordinates: ``bilinear`` or ``nearest`` (round half to even, as PyTorch), with ``zeros``, ``border`` or
    ``reflection`` padding. Gradients reach the input and (bilinear) the grid."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"grid_sample: expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"grid_sample: expected padding_mode to be 'zeros', 'border', or 'reflection', but got: "
                         f"'{padding_mode}'")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode='bicubic' is not supported (bilinear and nearest are)")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=2)
        align_corners = False
    if not isinstance(input, Tensor) or not isinstance(grid, Tensor):
        raise TypeError("grid_sample: input and grid must be tensors")
    if input.dtype != grid.dtype or input.dtype.kind != "f":
        raise TypeError(f"grid_sample: expected floating input and grid of the same dtype, but input has "
                        f"{input.dtype.name} and grid has {grid.dtype.name}")
    if input.ndim != 4:
        raise NotImplementedError(f"grid_sample: only 4-D inputs (N, C, H, W) are supported, got shape "
                                  f"{input.shape}")
    if grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ShapeError(f"grid_sample: expected a grid of shape (N, H_out, W_out, 2) with N = {input.shape[0]} "
                         f"for input of shape {input.shape}, got {grid.shape}")
    n, c, h, w = input.shape
    ho, wo = grid.shape[1:3]
    points = grid.reshape(n, ho * wo, 2)
    x = _source(points[..., 0], w, padding_mode, align_corners)  # (N, P)
    y = _source(points[..., 1], h, padding_mode, align_corners)
    flat = input.reshape(n, c, h * w)
    be = input._backend
    xh, yh = be.to_numpy(x.detach().array), be.to_numpy(y.detach().array)
    if mode == "nearest":
        values, inside = _corner(flat, _cells(np.rint(xh)), _cells(np.rint(yh)), h, w, c)
        return (values * inside).reshape(n, c, ho, wo)
    x0, y0 = np.floor(xh), np.floor(yh)
    wx1 = (x - constant(be, be.from_numpy(x0))).unsqueeze(1)  # (N, 1, P): the weights carry the grid's gradient
    wy1 = (y - constant(be, be.from_numpy(y0))).unsqueeze(1)
    wx0, wy0 = 1.0 - wx1, 1.0 - wy1
    x0, y0 = _cells(x0), _cells(y0)
    out = None
    for dx, dy, weight in ((0, 0, wx0 * wy0), (1, 0, wx1 * wy0), (0, 1, wx0 * wy1), (1, 1, wx1 * wy1)):
        values, inside = _corner(flat, x0 + dx, y0 + dy, h, w, c)
        term = values * inside * weight
        out = term if out is None else out + term
    return out.reshape(n, c, ho, wo)
