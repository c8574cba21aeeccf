"""PyTorch's statistics and small products: ``nansum``, ``nanmean``, ``median``, ``nanmedian``, ``quantile``,
``nanquantile``, ``mode``, ``kthvalue``, ``aminmax``, ``count_nonzero``, ``bincount``, ``histc``, ``cov``,
``corrcoef``, ``kron``, ``inner``, ``vdot``, ``renorm``.

The order statistics pick an index per slice on the host, the one PyTorch's CPU kernels report also among
ties (median and nanmedian break ties by position; kthvalue's quick-select and mode's ``std::sort`` are replayed), and
``gather`` the values there, so their gradient goes to the element picked, as PyTorch's
(``value_selecting_reduction_backward``). A global ``median`` shares its gradient evenly between the elements
equal to it (PyTorch's ``evenly_distribute_backward``). The rest are composites of differentiable ops.
"""

from __future__ import annotations

import numpy as np

from .. import return_types
from ..errors import ShapeError
from ..function import Function
from ..tensor import Tensor, tensor
from ._common import normalize_axis
from ._registry import public
from .arithmetic import isnan, ne, where
from .linalg import dot, matmul
from .movement import _check_dim, _reshape_or_self, gather, reshape
from .reduction import amax, amin, sum
from .sorting import sort


def _check_tensor(op: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(x).__name__}")


def _floating(op: str, x: Tensor) -> None:
    _check_tensor(op, x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got {x.dtype.name}")


# -- NaN-ignoring sums ------------------------------------------------------------------------------------
@public
def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """The sum over ``dim`` (all without it) with NaNs counted as zero (their gradient is zero)."""
    _check_tensor("nansum", input)
    x = input if dtype is None else input.astype(dtype)
    if x.dtype.kind == "f":
        x = where(isnan(x), x.new_zeros(()), x)
    return sum(x, dim=None if dim == () else dim, keepdim=keepdim)


@public
def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """The mean over ``dim`` of the values that are not NaN (NaN where all are)."""
    x = input if dtype is None else input.astype(dtype)
    _floating("nanmean", x)
    dim = None if dim == () else dim
    count = sum((~isnan(x)).astype(x.dtype), dim=dim, keepdim=keepdim)
    return nansum(x, dim, keepdim) / count


# -- order statistics --------------------------------------------------------------------------------------
def _picked(op: str, ret, x: Tensor, dim: int, keepdim: bool, choose):
    """``ret(values, indices)`` of the element ``choose(lines)`` picks in each slice along ``dim`` (``lines``:
    the values as (slices, length) on the host; it returns one index per slice); the values are gathered
    there, so the gradient goes to the element picked."""
    _check_tensor(op, x)
    axis = _check_dim(dim, max(x.ndim, 1), op)
    if x.ndim == 0:
        idx = tensor(np.zeros((), np.int64), backend=x.backend)
        return ret(gather(x, 0, idx), idx)
    if x.shape[axis] == 0:
        raise IndexError(f"{op}: cannot select from an empty dimension {dim} (shape {x.shape})")
    host = x.numpy()
    chosen = np.asarray(choose(np.moveaxis(host, axis, -1).reshape(-1, host.shape[axis])), np.int64)
    shape = tuple(x.shape[:axis]) + tuple(x.shape[axis + 1:])
    index = np.expand_dims(chosen.reshape(shape), axis)
    idx = tensor(index, backend=x.backend)
    values = gather(x, axis, idx)
    if not keepdim:
        values, idx = values.squeeze(axis), tensor(index.reshape(shape), backend=x.backend)
    return ret(values, idx)


def _stable_pick(lines: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The index of the element at ``positions`` (one per slice) of each slice's stable order, NaN last: where
    PyTorch's median and nanmedian land (their selection breaks ties by index)."""
    order = np.argsort(lines, axis=-1, kind="stable")
    return np.take_along_axis(order, np.asarray(positions, np.int64).reshape(-1, 1), -1)[:, 0]


def _nan_counts(lines: np.ndarray) -> np.ndarray:
    return np.isnan(lines).sum(-1) if lines.dtype.kind == "f" else np.zeros(len(lines), np.int64)


def _nth_element_of_equals(n: int) -> int:
    """The index libstdc++'s ``std::nth_element`` leaves first when no element orders before another (PyTorch's
    nanmedian of an all-NaN slice): its introselect's pivot swaps and partitions, replayed on positions."""
    items, first, last, depth = list(range(n)), 0, n, 2 * (n.bit_length() - 1)
    while last - first > 3 and depth:
        depth -= 1
        middle = first + (last - first) // 2
        items[first], items[middle] = items[middle], items[first]  # the median of three equals: the middle one
        left, right = first + 1, last
        while True:  # the unguarded partition: every comparison false, so each step swaps
            right -= 1
            if not left < right:
                break
            items[left], items[right] = items[right], items[left]
            left += 1
        last = left
    return items[first]


def _greater_or_nan(a, b) -> bool:
    return (a != a and b == b) or a > b


def _quick_select(values: np.ndarray, k: int) -> int:
    """The index PyTorch's CPU ``kthvalue`` reports: its quick-select (median-of-three pivot, Hoare partition,
    NaN largest) replayed on (value, index) pairs, which decides where tied values land."""
    arr, idx = list(values.tolist()), list(range(len(values)))

    def swap(i, j):
        arr[i], arr[j] = arr[j], arr[i]
        idx[i], idx[j] = idx[j], idx[i]

    left, right = 0, len(arr) - 1
    while right > left:
        if right == left + 1:
            if _greater_or_nan(arr[left], arr[right]):
                swap(left, right)
            break
        swap(left + (right - left) // 2, left + 1)
        if _greater_or_nan(arr[left + 1], arr[right]):
            swap(left + 1, right)
        if _greater_or_nan(arr[left], arr[right]):
            swap(left, right)
        if _greater_or_nan(arr[left + 1], arr[left]):
            swap(left + 1, left)
        i, j, pivot = left + 1, right, arr[left]
        while True:
            i += 1
            while _greater_or_nan(pivot, arr[i]):
                i += 1
            j -= 1
            while _greater_or_nan(arr[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(left, j)
        if j <= k:
            left = i
        if j >= k:
            right = j - 1
    return idx[k]


def _std_sort(items: list) -> list:
    """``items`` ((value, index) pairs) in the order libstdc++'s ``std::sort`` on ``a.value < b.value`` leaves
    them (introsort: median-of-three pivot, unguarded partition, heapsort past the depth limit, then insertion
    sort), which PyTorch's CPU ``mode`` scans: it decides which index among ties (and NaNs) is reported."""
    n = len(items)

    def less(a, b) -> bool:
        return a[0] < b[0]

    def linear_insert(last: int) -> None:
        value, previous = items[last], last - 1
        while less(value, items[previous]):
            items[last] = items[previous]
            last, previous = previous, previous - 1
        items[last] = value

    def insertion_sort(first: int, last: int) -> None:
        for i in range(first + 1, last):
            value = items[i]
            if less(value, items[first]):
                items[first + 1:i + 1] = items[first:i]
                items[first] = value
            else:
                linear_insert(i)

    def adjust_heap(first: int, hole: int, length: int, value) -> None:
        top = child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if less(items[first + child], items[first + child - 1]):
                child -= 1
            items[first + hole], hole = items[first + child], child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            items[first + hole], hole = items[first + child - 1], child - 1
        parent = (hole - 1) // 2
        while hole > top and less(items[first + parent], value):
            items[first + hole], hole = items[first + parent], parent
            parent = (hole - 1) // 2
        items[first + hole] = value

    def heap_sort(first: int, last: int) -> None:
        length = last - first
        for parent in range((length - 2) // 2, -1, -1):
            adjust_heap(first, parent, length, items[first + parent])
        while last - first > 1:
            last -= 1
            value, items[last] = items[last], items[first]
            adjust_heap(first, 0, last - first, value)

    def median_to_first(result: int, a: int, b: int, c: int) -> None:
        if less(items[a], items[b]):
            pick = b if less(items[b], items[c]) else c if less(items[a], items[c]) else a
        else:
            pick = a if less(items[a], items[c]) else c if less(items[b], items[c]) else b
        items[result], items[pick] = items[pick], items[result]

    def partition(first: int, last: int, pivot: int) -> int:
        while True:
            while less(items[first], items[pivot]):
                first += 1
            last -= 1
            while less(items[pivot], items[last]):
                last -= 1
            if not first < last:
                return first
            items[first], items[last] = items[last], items[first]
            first += 1

    def introsort(first: int, last: int, depth: int) -> None:
        while last - first > 16:
            if depth == 0:
                heap_sort(first, last)
                return
            depth -= 1
            median_to_first(first, first + 1, first + (last - first) // 2, last - 1)
            cut = partition(first + 1, last, first)
            introsort(cut, last, depth)
            last = cut

    if n > 1:
        introsort(0, n, 2 * (n.bit_length() - 1))
        insertion_sort(0, min(n, 16))
        for i in range(16, n):
            linear_insert(i)
    return items


def _mode_pick(line: np.ndarray) -> int:
    """PyTorch's CPU ``mode`` on one slice: the pairs sorted as ``std::sort`` leaves them, scanned for runs of
    ``!=``-distinct values; the first longest run wins and reports the index its last pair carries."""
    items = _std_sort(list(zip(line.tolist(), range(len(line)))))
    best, best_count, count = 0, 0, 0
    for i, (value, index) in enumerate(items):
        count += 1
        if i == len(items) - 1 or value != items[i + 1][0]:
            if count > best_count:
                best, best_count = index, count
            count = 0
    return best


class EvenlyShared(Function):
    """A value picked from ``x`` outside the graph (``value``, a backend array), whose gradient goes to ``x``
    times the constant ``weights`` (PyTorch's ``evenly_distribute_backward`` for the global median): the
    forward is the value itself, exact also for infinities."""

    @staticmethod
    def forward(ctx, x, value, weights):
        ctx.weights = weights
        return ctx.backend.copy(value)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.weights, None, None


def _evenly_shared(x: Tensor, value: np.ndarray) -> Tensor:
    """``value`` with its gradient shared evenly by the elements equal to it (the NaNs where it is NaN)."""
    v = tensor(value, dtype=x.dtype, backend=x.backend)
    ties = (x == v) | (isnan(x) & isnan(v))
    weights = ties.astype(x.dtype)
    weights = weights / weights.sum()
    return EvenlyShared.apply(x, v.array, weights)


def _global_median(op: str, x: Tensor, ignore_nan: bool) -> Tensor:
    _check_tensor(op, x)
    host = x.numpy().reshape(-1)
    if host.size == 0:
        if x.dtype.kind != "f":
            raise IndexError(f"{op}: cannot take the median of an empty {x.dtype.name} tensor")
        return tensor(np.nan, dtype=x.dtype, backend=x.backend)
    ordered = np.sort(host, kind="stable")
    nans = int(np.isnan(host).sum()) if host.dtype.kind == "f" else 0
    if nans and not ignore_nan:
        value = ordered[-1]
    else:
        count = host.size - nans if ignore_nan and nans < host.size else host.size
        value = ordered[(count - 1) // 2]
    if x.dtype.kind != "f":
        return tensor(value, dtype=x.dtype, backend=x.backend)
    return _evenly_shared(x, np.asarray(value))


@public
def median(input: Tensor, dim: int | None = None, keepdim: bool = False):  # noqa: A002
    """PyTorch's ``median``: the lower of the two middle values (NaN if any is NaN). Without ``dim`` a 0-d
    tensor (tied elements share the gradient); with it the named tuple ``(values, indices)``."""
    if dim is None:
        return _global_median("median", input, False)

    def choose(lines):
        n, nans = lines.shape[-1], _nan_counts(lines)
        return _stable_pick(lines, np.where(nans > 0, n - nans, (n - 1) // 2))  # the first NaN, if any

    return _picked("median", return_types.median, input, dim, keepdim, choose)


@public
def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):  # noqa: A002
    """``median`` of the values that are not NaN (NaN where all are)."""
    if dim is None:
        return _global_median("nanmedian", input, True)

    def choose(lines):
        n, count = lines.shape[-1], lines.shape[-1] - _nan_counts(lines)
        chosen = _stable_pick(lines, np.maximum(count - 1, 0) // 2)
        return np.where(count > 0, chosen, _nth_element_of_equals(n))  # all NaN: where PyTorch's selection lands

    return _picked("nanmedian", return_types.nanmedian, input, dim, keepdim, choose)


@public
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> return_types.kthvalue:  # noqa: A002
    """The ``k``-th smallest value along ``dim`` (1-based; NaN counts as the largest) and its index."""
    _check_tensor("kthvalue", input)
    n = input.shape[_check_dim(dim, input.ndim, "kthvalue")] if input.ndim else 1
    if not 1 <= k <= n:
        raise IndexError(f"kthvalue: k={k} is out of range for a dimension of size {n}")
    def choose(lines):
        chosen = _stable_pick(lines, np.full(len(lines), k - 1))
        for row, line in enumerate(lines):  # ties (NaN included): where PyTorch's quick-select lands
            if len(np.unique(line)) < len(line):
                chosen[row] = _quick_select(line, k - 1)
        return chosen

    return _picked("kthvalue", return_types.kthvalue, input, dim, keepdim, choose)


@public
def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> return_types.mode:  # noqa: A002
    """The most frequent value along ``dim`` (the smallest of those tied) and the index of it that PyTorch's CPU
    kernel reports (its sort replayed: the last occurrence for slices of up to 16 elements)."""

    def choose(lines):
        return [_mode_pick(line) for line in lines]

    return _picked("mode", return_types.mode, input, dim, keepdim, choose)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(op: str, x: Tensor, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool) -> Tensor:
    _floating(op, x)
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{op}: interpolation must be one of {', '.join(_INTERPOLATIONS)}, got {interpolation!r}")
    if isinstance(q, Tensor):
        if q.dtype != x.dtype:
            raise TypeError(f"{op}: q must have the input's dtype {x.dtype.name}, got {q.dtype.name}")
        if q.ndim > 1:
            raise ShapeError(f"{op}: q must be a number or a 0-d or 1-D tensor, got shape {q.shape}")
        qs, vector = q.numpy().reshape(-1), q.ndim == 1
    else:
        qs, vector = np.asarray([q], dtype=x.dtype), False
    if qs.size and not (np.all(qs >= 0) and np.all(qs <= 1)):
        raise ValueError(f"{op}: q must lie in [0, 1], got {qs.tolist()}")
    if x.numel() == 0:
        raise ValueError(f"{op}: the input tensor must be non-empty")
    if dim is None:
        lines, out_shape = reshape(x, (1, -1)), (1,) * x.ndim if keepdim else ()
    else:
        axis = _check_dim(dim, max(x.ndim, 1), op)
        out_shape = tuple(1 if keepdim and d == axis else n for d, n in enumerate(x.shape) if keepdim or d != axis)
        from .composites import _movedim_or_self

        lines = reshape(_movedim_or_self(x, axis, -1) if x.ndim else x, (-1, x.shape[axis] if x.ndim else 1))
    ordered = sort(lines, -1).values
    host = ordered.numpy()
    n = host.shape[-1]
    nans = np.isnan(host).sum(-1, keepdims=True)
    if ignore_nan:
        scale = (n - nans - 1).astype(x.dtype)
        ranks = (qs * scale).astype(x.dtype)
        ranks = np.where(ranks < 0, 0, ranks).astype(x.dtype)
        valid = scale >= 0
        scale = np.where(valid, scale, 0)
    else:
        ranks = np.where(nans > 0, x.dtype.type(n - 1), (qs * x.dtype.type(n - 1)).astype(x.dtype))
        valid = nans == 0
        scale = np.where(valid, n - 1, 0)
    ranks = np.broadcast_to(ranks, (host.shape[0], qs.size)).astype(x.dtype)
    if interpolation == "lower":
        ranks = np.floor(ranks)
    elif interpolation == "higher":
        ranks = np.ceil(ranks)
    elif interpolation == "nearest":
        ranks = np.round(ranks)  # half to even, as torch.round
    below = ranks.astype(np.int64)
    result = gather(ordered, 1, tensor(below, backend=x.backend))
    if interpolation in ("linear", "midpoint"):
        weights = np.full_like(ranks, 0.5) if interpolation == "midpoint" else ranks - below
        above = gather(ordered, 1, tensor(np.ceil(ranks).astype(np.int64), backend=x.backend))
        weights = tensor(weights, dtype=x.dtype, backend=x.backend)
        if interpolation == "linear" and isinstance(q, Tensor) and q.requires_grad:
            # PyTorch's weights are q * (n - 1) - floor(...): differentiable in q (zero forward change here)
            q_row = reshape(q, (1, -1))
            # (masked where PyTorch fills the ranks of NaN slices: no gradient reaches q from those)
            shift = (q_row - q_row.detach()) * tensor(scale.astype(x.dtype), backend=x.backend)
            weights = weights + where(tensor(np.broadcast_to(valid, ranks.shape).copy(), backend=x.backend), shift,
                                      shift.new_zeros(()))
        from .composites import lerp  # PyTorch's quantile interpolates with its lerp, rounded the same way

        result = lerp(result, above, weights)
    if vector:
        return _reshape_or_self(result.movedim(-1, 0), (qs.size,) + out_shape)
    return _reshape_or_self(result, out_shape)


@public
def quantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,  # noqa: A002
             interpolation: str = "linear") -> Tensor:
    """The ``q``-quantiles (a number, or a 1-D tensor whose length leads the result) along ``dim`` (of all
    elements without it), NaN where a slice holds a NaN; ``interpolation`` between the two nearest ranks is
    PyTorch's: ``linear``, ``lower``, ``higher``, ``midpoint`` or ``nearest``."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


@public
def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,  # noqa: A002
                interpolation: str = "linear") -> Tensor:
    """``quantile`` of the values that are not NaN (NaN where all are)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


@public
def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> return_types.aminmax:  # noqa: A002
    """The named tuple ``(min, max)`` over ``dim`` (all without it); ties share the gradient, as ``amin``."""
    _check_tensor("aminmax", input)
    if input.numel() == 0:
        raise ValueError(f"aminmax: cannot reduce an empty tensor (shape {input.shape})")
    if dim is not None and input.ndim == 0:
        _check_dim(dim, 1, "aminmax")
        return return_types.aminmax(amin(input), amax(input))
    return return_types.aminmax(amin(input, dim, keepdim), amax(input, dim, keepdim))


# -- counting (no gradient) --------------------------------------------------------------------------------
@public(spec=False)
def count_nonzero(input: Tensor, dim=None) -> Tensor:  # noqa: A002
    """The number of non-zero elements (int64) over ``dim`` (an int or a tuple; all without it)."""
    _check_tensor("count_nonzero", input)
    axes = normalize_axis(dim, max(input.ndim, 1), "count_nonzero") if dim is not None else None
    flags = ne(input, 0).numpy()
    counted = np.count_nonzero(flags, axis=axes if input.ndim else None)
    return tensor(np.asarray(counted, np.int64), backend=input.backend)


@public(spec=False)
def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:  # noqa: A002
    """How often each value of the 1-D non-negative integer ``input`` occurs (int64), or the sum of its
    ``weights`` (their floating dtype; float64 for integer weights); length ``max(input) + 1``, at least
    ``minlength``. No gradient (PyTorch has none either)."""
    _check_tensor("bincount", input)
    if input.dtype.kind not in "iu" or input.ndim != 1:
        raise TypeError(f"bincount: input must be a 1-D integer tensor, got {input.dtype.name} of shape {input.shape}")
    if minlength < 0:
        raise ValueError(f"bincount: minlength must be non-negative, got {minlength}")
    values = input.numpy().astype(np.int64)
    if values.size and values.min() < 0:
        raise ValueError(f"bincount: input must be non-negative, got a minimum of {values.min()}")
    if weights is None or values.size == 0:  # PyTorch: int64 zeros for an empty input, weights or not
        return tensor(np.bincount(values, minlength=minlength).astype(np.int64), backend=input.backend)
    _check_tensor("bincount", weights)
    if tuple(weights.shape) != tuple(input.shape):
        raise ShapeError(f"bincount: weights of shape {weights.shape} must have the input's shape {input.shape}")
    dtype = weights.dtype if weights.dtype.kind == "f" else np.dtype(np.float64)
    out = np.bincount(values, weights=weights.numpy().astype(np.float64), minlength=minlength)
    return tensor(out.astype(dtype), backend=input.backend)


@public(spec=False)
def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """A histogram of ``bins`` equal bins over [``min``, ``max``] (the data's range when both are equal),
    values outside ignored, in the input's dtype. No gradient (PyTorch has none either)."""
    _floating("histc", input)
    if bins <= 0:
        raise ValueError(f"histc: bins must be positive, got {bins}")
    if min > max:
        raise ValueError(f"histc: max must be larger than min, got min={min}, max={max}")
    host = input.numpy().reshape(-1)
    dtype = host.dtype.type
    low, high = dtype(min), dtype(max)
    if low == high and host.size:
        low, high = host.min(), host.max()
    if low == high:
        low, high = low - 1, high + 1
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"histc: range of [{low}, {high}] is not finite")
    inside = host[(host >= low) & (host <= high)]
    position = ((inside - low) * dtype(bins) / (high - low)).astype(np.int64)  # PyTorch's order of operations
    position = np.minimum(position, bins - 1)
    return tensor(np.bincount(position, minlength=bins).astype(host.dtype), backend=input.backend)


# -- covariance -----------------------------------------------------------------------------------------
@public
def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,  # noqa: A002
        aweights: Tensor | None = None) -> Tensor:
    """The covariance matrix of the variables in the rows of ``input`` (observations in columns; a 1-D input
    is one variable), with integer frequency weights ``fweights`` and observation weights ``aweights``;
    ``correction`` 1 is Bessel's. Differentiable in ``input`` and ``aweights``."""
    _check_tensor("cov", input)
    if input.ndim > 2:
        raise ShapeError(f"cov: expected a tensor of at most 2 dimensions, got shape {input.shape}")
    x = input if input.dtype.kind == "f" else input.astype("float32")
    x = reshape(x, (1, -1)) if x.ndim < 2 else x
    observations = x.shape[1]
    w = None
    if fweights is not None:
        _check_tensor("cov", fweights)
        if fweights.dtype.kind not in "iu" or fweights.ndim > 1 or fweights.numel() != observations:
            raise ShapeError(f"cov: fweights must be a 0-d or 1-D integer tensor of {observations} elements, got "
                             f"{fweights.dtype.name} of shape {fweights.shape}")
        if fweights.numel() and fweights.numpy().min() < 0:
            raise ValueError("cov: fweights cannot be negative")
        w = reshape(fweights, (-1,)).astype(x.dtype)
    if aweights is not None:
        _check_tensor("cov", aweights)
        if aweights.dtype.kind != "f" or aweights.ndim > 1 or aweights.numel() != observations:
            raise ShapeError(f"cov: aweights must be a 0-d or 1-D floating tensor of {observations} elements, got "
                             f"{aweights.dtype.name} of shape {aweights.shape}")
        if aweights.numel() and aweights.detach().numpy().min() < 0:
            raise ValueError("cov: aweights cannot be negative")
        a = reshape(aweights, (-1,)).astype(x.dtype)
        w = a if w is None else w * a
    if w is None:
        w_sum = float(observations)
        avg = x.sum(1) / w_sum
        norm = w_sum - correction
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1) / w_sum
        if correction and aweights is not None:
            norm = w_sum - correction * (w * a).sum() / w_sum
        else:
            norm = w_sum - correction
    if float(norm.detach().item() if isinstance(norm, Tensor) else norm) <= 0:
        norm = norm * 0 if isinstance(norm, Tensor) else 0.0  # PyTorch warns and divides by zero
    centred = x - avg.unsqueeze(1)
    c = matmul(centred, (centred if w is None else centred * w).T)
    out = c / norm
    return out.squeeze() if out.shape == (1, 1) else out


@public
def corrcoef(input: Tensor) -> Tensor:  # noqa: A002
    """Pearson's correlation coefficients of the rows of ``input`` (``cov`` normalised), clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    c = c / std.unsqueeze(1)
    c = c / std.unsqueeze(0)
    return c.clip(-1, 1)


# -- products -----------------------------------------------------------------------------------------------
@public
def kron(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The Kronecker product: block (i, j, ...) is ``input[i, j, ...] * other`` (fewer dimensions get leading
    ones)."""
    _check_tensor("kron", input)
    _check_tensor("kron", other)
    ndim = max(input.ndim, other.ndim)
    a_shape = (1,) * (ndim - input.ndim) + tuple(input.shape)
    b_shape = (1,) * (ndim - other.ndim) + tuple(other.shape)
    a = _reshape_or_self(input, tuple(v for n in a_shape for v in (n, 1)))
    b = _reshape_or_self(other, tuple(v for n in b_shape for v in (1, n)))
    return _reshape_or_self(a * b, tuple(m * n for m, n in zip(a_shape, b_shape)))


@public
def inner(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The sums of products over the last dimension of both (the product when either is 0-d); the result's
    shape is ``input.shape[:-1] + other.shape[:-1]``."""
    _check_tensor("inner", input)
    _check_tensor("inner", other)
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise ShapeError(f"inner: the last dimensions differ: shapes {input.shape} and {other.shape}")
    k = input.shape[-1]
    out = matmul(reshape(input, (-1, k)), reshape(other, (-1, k)).T)
    return _reshape_or_self(out, tuple(input.shape[:-1]) + tuple(other.shape[:-1]))


@public
def vdot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The dot product of two 1-D tensors of one length and dtype (no conjugation: minigrad is real)."""
    _check_tensor("vdot", input)
    _check_tensor("vdot", other)
    if input.dtype != other.dtype:
        raise TypeError(f"vdot: expected both tensors to have the same dtype, got {input.dtype.name} and "
                        f"{other.dtype.name}")
    return dot(input, other)


@public
def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:  # noqa: A002
    """Each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled to norm ``maxnorm`` (PyTorch's
    ``maxnorm / (norm + 1e-7)``); differentiable through the norm, as PyTorch."""
    _floating("renorm", input)
    if input.ndim < 2:
        raise ShapeError(f"renorm: input needs at least 2 dimensions, got shape {input.shape}")
    if p <= 0:
        raise ValueError(f"renorm: the norm order p must be positive, got {p}")
    if maxnorm < 0:
        raise ValueError(f"renorm: maxnorm must be non-negative, got {maxnorm}")
    from .matrix import vector_norm

    axis = _check_dim(dim, input.ndim, "renorm")
    others = tuple(d for d in range(input.ndim) if d != axis)
    norm = vector_norm(input, p, others, True)
    factor = where(norm > maxnorm, maxnorm / (norm + 1e-7), norm.new_ones(()))
    return input * factor

