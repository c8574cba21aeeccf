"""The registry of public differentiable functions (``OPS``, ``@_public``) and the argument checks and
conversions the other modules share (``_pair``, ``_single``, ``_triple``, ``_tuple``, window sizes, reductions).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from ..._quiet import quiet
from ...errors import ShapeError
from ...ops import conv as _conv
from ...tensor import Tensor

# The public differentiable functions, each registered where it is defined (``@_public``) or, for the ops
# re-exported from minigrad.ops, in the package's __init__, whose ``__all__`` is built from it (with ``one_hot``).
OPS: dict = {}


def _public(fn):
    # Composites call backend methods outside any op, so they get NumPy's warnings off themselves (_quiet.py).
    fn = quiet(fn)
    OPS[fn.__name__] = fn
    return fn


_REDUCTIONS = ("mean", "sum", "none")


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair  # type: ignore[return-value]


def _single(value, name: str) -> int:
    single = value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
    if not isinstance(single, int):
        raise ValueError(f"{name} must be an int or a 1-tuple of ints, got {value!r}")
    return single


def _tuple(value, name: str, n: int, op: str | None = None) -> tuple:
    """``n`` ints from an int or an iterable of ints (PyTorch's ``_ntuple``): kernel_size, stride, padding, ...
    The error names ``op`` where given (a module's class; the functional callers' errors name no function)."""
    values = tuple(value) if isinstance(value, Iterable) else (value,) * n
    if len(values) != n or not all(isinstance(v, int) for v in values):
        raise ValueError(f"{op + ': ' if op else ''}{name} must be an int or a tuple of {n} ints, got {value!r}")
    return values


def _triple(value, name: str) -> tuple[int, int, int]:
    return _tuple(value, name, 3)  # type: ignore[return-value]


def _unbatched(batched_ndim: int):
    """PyTorch's unbatched form: an input with one dimension fewer than ``batched_ndim`` (a (C, H, W) image for
    a 2-D op) runs as a batch of one, and the batch axis is dropped from the result (each of a tuple's)."""

    def wrap(fn):
        @functools.wraps(fn)
        def run(input, *args, **kwargs):  # noqa: A002
            if isinstance(input, Tensor) and input.ndim == batched_ndim - 1:
                out = fn(input.unsqueeze(0), *args, **kwargs)
                return tuple(t.squeeze(0) for t in out) if isinstance(out, tuple) else out.squeeze(0)
            return fn(input, *args, **kwargs)

        return run

    return wrap


def _check_4d(x: Tensor, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")


def _check_windows(op: str, hw, kernel, stride, padding, dilation) -> tuple[int, int]:
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive and padding non-negative, "
                         f"got kernel_size={kernel}, stride={stride}, padding={padding}, dilation={dilation}")
    out = tuple(_conv.out_size(n, k, s, p, d) for n, k, s, p, d in zip(hw, kernel, stride, padding, dilation))
    if min(out) < 1:
        raise ShapeError(f"{op}: input of spatial size {tuple(hw)} is too small for kernel_size {kernel} with "
                         f"padding {padding} and dilation {dilation} (output would be {out})")
    return out  # type: ignore[return-value]


def _value_range(t: Tensor) -> tuple:
    """The smallest and largest element of a non-empty tensor, as Python numbers."""
    be = t._backend
    return be.to_numpy(be.min(t.array, None, False)).item(), be.to_numpy(be.max(t.array, None, False)).item()


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


def _host(t: Tensor):
    """A tensor's values as a NumPy array (integer targets and lengths are read on the host)."""
    return t._backend.to_numpy(t.array)
