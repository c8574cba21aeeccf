"""PyTorch's stacking and shape helpers (``vstack``, ``atleast_2d``, ``block_diag``, ``tensordot``, ...), its
sorted-sequence searches (``searchsorted``, ``bucketize``, ``isin``) and its integration rules (``trapezoid``,
``cumulative_trapezoid``): compositions of other ops, so their gradients, to any order, are those ops'."""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..errors import ShapeError
from ..grad_mode import no_grad
from ..tensor import Tensor, tensor
from ._common import result_dtype
from ._registry import public
from .arithmetic import where
from .linalg import matmul
from .movement import _check_dim, _expand_or_self, _permute_or_self, _reshape_or_self, concatenate, getitem, reshape


def _tensors(args: tuple, op: str) -> tuple[list[Tensor], bool]:
    """The tensors of ``f(a, b, c)`` or ``f([a, b, c])``, and whether they came as one sequence."""
    sequence = len(args) == 1 and isinstance(args[0], (list, tuple))
    tensors = list(args[0]) if sequence else list(args)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected tensors, got {type(t).__name__}")
    return tensors, sequence


def _atleast(args: tuple, ndim: int, op: str):
    tensors, sequence = _tensors(args, op)
    out = []
    for t in tensors:
        if t.ndim < ndim:
            if ndim == 3 and t.ndim == 2:
                t = reshape(t, (*t.shape, 1))
            elif ndim == 3 and t.ndim == 1:
                t = reshape(t, (1, t.shape[0], 1))
            else:  # a 0-d tensor, or a 1-d one made 2-d: ones in front
                t = reshape(t, (1,) * (ndim - t.ndim) + t.shape)
        out.append(t)
    return out[0] if len(out) == 1 and not sequence else tuple(out)


@public(method=False)
def atleast_1d(*tensors):
    """Each tensor with at least one dimension (a 0-d one becomes shape (1,)); one tensor in, one out,
    several (or a list) in, a tuple out."""
    return _atleast(tensors, 1, "atleast_1d")


@public(method=False)
def atleast_2d(*tensors):
    """Each tensor with at least two dimensions: 0-d -> (1, 1), (n,) -> (1, n)."""
    return _atleast(tensors, 2, "atleast_2d")


@public(method=False)
def atleast_3d(*tensors):
    """Each tensor with at least three dimensions: 0-d -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _atleast(tensors, 3, "atleast_3d")


def _sequence(tensors, op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expects a non-empty list of tensors")
    return _tensors((tensors,), op)[0]


@public(method=False, aliases=("row_stack",))
def vstack(tensors) -> Tensor:
    """Tensors stacked row-wise: ``cat`` along dim 0 of their ``atleast_2d`` forms (``row_stack`` too)."""
    return concatenate(atleast_2d(_sequence(tensors, "vstack")), 0)


@public(method=False)
def hstack(tensors) -> Tensor:
    """Tensors stacked column-wise: ``cat`` along dim 0 when they are 1-d (after ``atleast_1d``), else dim 1."""
    tensors = atleast_1d(_sequence(tensors, "hstack"))
    return concatenate(tensors, 0 if tensors[0].ndim == 1 else 1)


@public(method=False)
def dstack(tensors) -> Tensor:
    """Tensors stacked depth-wise: ``cat`` along dim 2 of their ``atleast_3d`` forms."""
    return concatenate(atleast_3d(_sequence(tensors, "dstack")), 2)


@public(method=False)
def column_stack(tensors) -> Tensor:
    """0-d and 1-d tensors become columns (n, 1); all are then joined along dim 1."""
    tensors = _sequence(tensors, "column_stack")
    return concatenate([reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in tensors], 1)


@public(spec=False, method=False)
def broadcast_shapes(*shapes) -> tuple:
    """The shape that tensors of ``shapes`` (tuples or ints) broadcast to; ``ShapeError`` if they do not."""
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"broadcast_shapes: shapes {', '.join(map(str, shapes))} do not broadcast") from None


@public(method=False)
def broadcast_tensors(*tensors) -> tuple:
    """The tensors expanded to their common broadcast shape (views; gradients sum back)."""
    tensors, _ = _tensors(tensors, "broadcast_tensors")
    try:
        shape = tuple(np.broadcast_shapes(*(t.shape for t in tensors)))
    except ValueError:
        raise ShapeError(f"broadcast_tensors: shapes {', '.join(str(t.shape) for t in tensors)} do not "
                         "broadcast") from None
    return tuple(_expand_or_self(t, shape) for t in tensors)  # a tensor of that shape itself, as PyTorch's


@public(method=False)
def block_diag(*tensors) -> Tensor:
    """The block-diagonal matrix of 0-d (1 x 1), 1-d (1 x n) and 2-d tensors, zeros elsewhere, in their
    promoted dtype."""
    tensors, _ = _tensors(tensors, "block_diag")
    if not tensors:
        from ..dtypes import default_float

        return tensor(np.zeros((1, 0), default_float()))
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise ShapeError(f"block_diag: input {i} must have 2 or fewer dimensions, got shape {t.shape}")
    blocks = [reshape(t, (1, 1)) if t.ndim == 0 else reshape(t, (1, t.shape[0])) if t.ndim == 1 else t
              for t in tensors]
    dt = result_dtype([b.dtype for b in blocks])
    blocks = [b.astype(dt) for b in blocks]
    widths = [b.shape[1] for b in blocks]
    total = sum(widths)
    rows, left = [], 0
    for b in blocks:
        pieces = [b.new_zeros(b.shape[0], left), b, b.new_zeros(b.shape[0], total - left - b.shape[1])]
        rows.append(concatenate(pieces, 1))
        left += b.shape[1]
    return concatenate(rows, 0)


def _dims_pair(dims, a: Tensor, b: Tensor) -> tuple[list[int], list[int]]:
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        if not 0 <= dims <= min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: dims={dims} must be in [0, {min(a.ndim, b.ndim)}] for shapes {a.shape} "
                             f"and {b.shape}")
        return list(range(a.ndim - dims, a.ndim)), list(range(dims))
    if isinstance(dims, (list, tuple)) and len(dims) == 2:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
        if len(da) != len(db):
            raise ValueError(f"tensordot: both lists of dims must have one length, got {da} and {db}")
        return [_check_dim(d, a.ndim, "tensordot") for d in da], [_check_dim(d, b.ndim, "tensordot") for d in db]
    raise TypeError(f"tensordot: dims must be an int or a pair of lists of dims, got {dims!r}")


@public(method=False)
def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Sum of products over ``dims``: an int n (the last n dims of ``a`` with the first n of ``b``) or a pair
    of lists ``([dims of a], [dims of b])``. One matmul of the permuted, flattened operands."""
    da, db = _dims_pair(dims, a, b)
    if len(set(da)) != len(da) or len(set(db)) != len(db):
        raise ValueError(f"tensordot: a dim is contracted twice in {da} or {db}")
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(f"tensordot: contracted dimension {i} of a (shape {a.shape}) has size {a.shape[i]} "
                             f"but dimension {j} of b (shape {b.shape}) has size {b.shape[j]}")
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    left = _reshape_or_self(_permute_or_self(a, (*free_a, *da)), (math.prod(a.shape[d] for d in free_a), k))
    right = _reshape_or_self(_permute_or_self(b, (*db, *free_b)), (k, math.prod(b.shape[d] for d in free_b)))
    return _reshape_or_self(matmul(left, right), (*(a.shape[d] for d in free_a), *(b.shape[d] for d in free_b)))


@public(method=False)
def cartesian_prod(*tensors) -> Tensor:
    """Every combination of one element from each 1-d tensor, as rows (N, k); one tensor comes back itself."""
    tensors, _ = _tensors(tensors, "cartesian_prod")
    if not tensors:
        raise ValueError("cartesian_prod: expects at least one tensor")
    for t in tensors:
        if t.ndim != 1:
            raise ShapeError(f"cartesian_prod: expects 1-d tensors, got shape {t.shape}")
    if len(tensors) == 1:
        return tensors[0]
    from .composites import meshgrid
    from .movement import stack

    dt = result_dtype([t.dtype for t in tensors])
    return stack([reshape(g, (-1,)) for g in meshgrid(*[t.astype(dt) for t in tensors], indexing="ij")], 1)


@public(method=False)
def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:  # noqa: A002
    """The length-``r`` combinations of a 1-d tensor's elements, as rows (``itertools.combinations`` order,
    ``combinations_with_replacement`` with ``with_replacement=True``); ``r=0`` gives an empty 1-d tensor."""
    if not isinstance(input, Tensor) or input.ndim != 1:
        raise ShapeError(f"combinations: expects a 1-d tensor, got "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if isinstance(r, bool) or not isinstance(r, int) or r < 0:
        raise ValueError(f"combinations: r must be an int >= 0, got {r!r}")
    if r == 0:  # PyTorch's empty result is outside the graph
        return input.detach().new_zeros(0)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    index = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return getitem(input, tensor(index, backend=input.backend))


def _triangle_indices(row: int, col: int, offset: int, lower: bool, dtype, backend, device, op: str) -> Tensor:
    from ..creation import _make
    from ..dtypes import as_dtype, int64

    for name, v in (("row", row), ("col", col), ("offset", offset)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{op}: {name} must be an int, got {type(v).__name__}")
    if row < 0 or col < 0:
        raise ValueError(f"{op}: row and col must be >= 0, got row={row}, col={col}")
    dt = as_dtype(dtype or int64)
    i, j = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    host = np.stack([i, j]).astype(dt)
    return _make(lambda be: be.from_numpy(host), dt, False, backend, device, op)


@public(spec=False, method=False)
def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, backend=None, device=None) -> Tensor:
    """The (2, N) row and column indices of the lower triangle (j - i <= offset) of a row x col matrix, in
    row-major order, int64 unless ``dtype``."""
    return _triangle_indices(row, col, offset, True, dtype, backend, device, "tril_indices")


@public(spec=False, method=False)
def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, backend=None, device=None) -> Tensor:
    """The (2, N) row and column indices of the upper triangle (j - i >= offset) of a row x col matrix."""
    return _triangle_indices(row, col, offset, False, dtype, backend, device, "triu_indices")


@public(spec=False, method=False)
def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, requires_grad: bool = False,
             backend=None, device=None) -> Tensor:
    """``steps`` values ``base ** v`` for v evenly spaced from ``start`` to ``end`` (both included), in the
    default dtype unless ``dtype``: PyTorch's values bit for bit (its exponents: ``start`` and ``end`` in the dtype,
    the step and the exponents in float64, the first half from ``start``, the second from ``end``; C's ``pow``)."""
    import math

    from ..creation import _make
    from ..dtypes import as_dtype, default_float

    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"logspace: steps must be an int >= 0, got {steps!r}")
    dt = as_dtype(dtype or default_float())
    steps = int(steps)
    if dt.kind == "f":
        first, last = dt.type(start), dt.type(end)
        with np.errstate(all="ignore"):
            span = float(last - first)  # in the dtype, as PyTorch's
        base = float(base)
    else:  # integer dtypes: integer ends, truncated results (PyTorch's)
        first, last = int(start), int(end)
        span, base = float(last - first), float(base)
    if steps == 1:
        exponents = [float(start)]
    else:
        step, half = span / max(steps - 1, 1), steps // 2
        exponents = [float(first) + step * i if i < half else float(last) - step * (steps - i - 1)
                     for i in range(steps)]

    def power(v: float) -> float:  # C's pow (libm), as PyTorch's; NumPy's vectorised power can differ by an ulp
        try:
            return math.pow(base, v)
        except OverflowError:
            return -math.inf if base < 0 and v % 2 == 1 else math.inf
        except ValueError:  # 0 to a negative power, or a negative base to a fractional one
            return math.inf if base == 0 else math.nan

    host = np.array([power(v) for v in exponents], np.float64)
    if dt.kind != "f":
        host = np.trunc(host)  # PyTorch truncates towards zero for integer dtypes
    return _make(lambda be: be.from_numpy(host.astype(dt)), dt, requires_grad, backend, device, "logspace()")


# -- searches in sorted sequences ---------------------------------------------------------------------------
def _binary_search(seq: Tensor, n: int, values: Tensor, offsets, right: bool) -> Tensor:
    """PyTorch's lower/upper bound of each value in its row of ``seq`` (rows of length ``n``, flattened; a value's
    row starts at ``offsets``), step by step as its kernel does, so NaNs land where PyTorch's do (a NaN value goes
    past the end). Each step reads one element per value: no (values x sequence) intermediate."""
    from ..creation import full

    start = full(values.shape, 0, dtype="int64", backend=values.backend)
    end = full(values.shape, n, dtype="int64", backend=values.backend)
    for _ in range(n.bit_length()):
        active = start < end
        mid = (start + end) // 2
        mid_val = getitem(seq, offsets + mid.clamp(0, n - 1))
        # lower bound: move right unless mid_val >= value; upper bound: unless mid_val > value
        go_right = ~(mid_val > values) if right else ~(mid_val >= values)
        start = where(active & go_right, mid + 1, start)
        end = where(active & ~go_right, mid, end)
    return start


@public(spec=False, method=False)
def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False,  # noqa: A002
                 side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """Where each value of ``input`` would be inserted in the last dimension of ``sorted_sequence`` to keep it
    sorted: the first such index (``side="left"``, default) or the last (``right=True`` / ``side="right"``).
    An N-d sequence is searched row by row (its leading dims must match ``input``'s); ``sorter`` holds the
    indices that sort an unsorted sequence. int64 (int32 with ``out_int32``); no gradient."""
    if not isinstance(sorted_sequence, Tensor):
        raise TypeError(f"searchsorted: sorted_sequence must be a tensor, got {type(sorted_sequence).__name__}")
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ValueError("searchsorted: side='left' and right=True contradict each other")
        right = side == "right"
    seq = sorted_sequence
    if seq.ndim == 0:
        raise ShapeError("searchsorted: sorted_sequence must have at least one dimension, got a 0-d tensor")
    scalar = not isinstance(input, Tensor)
    values = tensor(input, backend=seq.backend) if scalar else input
    if scalar and seq.ndim != 1:
        raise ShapeError(f"searchsorted: a number input needs a 1-d sorted_sequence, got shape {seq.shape}")
    if sorter is not None:
        if not isinstance(sorter, Tensor) or sorter.shape != seq.shape or sorter.dtype.kind not in "iu":
            raise ShapeError(f"searchsorted: sorter must be an integer tensor of the sequence's shape {seq.shape}, "
                             f"got {getattr(sorter, 'shape', type(sorter).__name__)}")
        from .movement import gather

        seq = gather(seq, -1, sorter)
    if seq.ndim > 1 and seq.shape[:-1] != values.shape[:-1]:
        raise ShapeError(f"searchsorted: the leading dimensions of sorted_sequence {sorted_sequence.shape} and "
                         f"input {values.shape} must match")
    with no_grad():
        dt = result_dtype([seq.dtype, values.dtype])
        seq, values = seq.detach().astype(dt), values.detach().astype(dt)
        n = seq.shape[-1]
        if seq.ndim == 1:
            flat, offsets = reshape(values, (-1,)), 0
        else:
            from ..creation import arange

            rows = math.prod(seq.shape[:-1])
            flat = reshape(values, (rows, -1))
            offsets = reshape(arange(rows, backend=seq.backend) * n, (rows, 1))
        out = _reshape_or_self(_binary_search(reshape(seq, (-1,)), n, flat, offsets, right), values.shape)
    return out.astype("int32" if out_int32 else "int64")


@public(spec=False, method=False)
def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:  # noqa: A002
    """The bucket of each value of ``input`` among the sorted 1-d ``boundaries``: i with boundaries[i-1] < x <=
    boundaries[i] (``right=False``), or boundaries[i-1] <= x < boundaries[i] (``right=True``)."""
    if not isinstance(boundaries, Tensor) or boundaries.ndim != 1:
        raise ShapeError(f"bucketize: boundaries must be a 1-d tensor, got "
                         f"{getattr(boundaries, 'shape', type(boundaries).__name__)}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


@public(spec=False, method=False)
def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """A bool tensor of ``elements``' shape: whether each is in ``test_elements`` (either may be a number;
    NaN is in nothing); ``invert=True`` negates it. ``assume_unique`` is accepted (it only speeds PyTorch up)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin: expected a tensor among elements and test_elements")
    like = elements if isinstance(elements, Tensor) else test_elements
    be = like._backend
    xs = elements.array if isinstance(elements, Tensor) else be.from_numpy(np.asarray(elements))
    ts = test_elements.array if isinstance(test_elements, Tensor) else be.from_numpy(np.asarray(test_elements))
    host_x, host_t = be.to_numpy(xs), be.to_numpy(ts)
    found = np.isin(host_x, host_t, invert=bool(invert))
    return Tensor(be.from_numpy(np.asarray(found, dtype=bool)), be)


@public(spec=False, method=True)
def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """True when both tensors have one shape and equal elements (NaN equals nothing); no broadcasting."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"equal: expected two tensors, got {type(input).__name__} and {type(other).__name__}")
    if input.shape != other.shape:
        return False
    with no_grad():
        return bool((input.detach() == other.detach()).all().item()) if input.numel() else True


def _moments(input: Tensor, dim, unbiased, keepdim: bool, correction, fn_name: str):
    from . import reduction

    if isinstance(dim, bool):  # std_mean(x, True): PyTorch's old positional unbiased
        dim, unbiased = None, dim
    fn = getattr(reduction, fn_name)
    spread = fn(input, dim, unbiased, keepdim, correction=correction)
    return spread, reduction.mean(input, dim, keepdim)


@public(method=False)
def std_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
             correction: int | None = None) -> tuple:
    """``(std(input, dim, ...), mean(input, dim, ...))`` in one call, as a tuple (``correction`` 1 unless given)."""
    return _moments(input, dim, unbiased, keepdim, correction, "std")


@public(method=False)
def var_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
             correction: int | None = None) -> tuple:
    """``(var(input, dim, ...), mean(input, dim, ...))`` in one call, as a tuple."""
    return _moments(input, dim, unbiased, keepdim, correction, "var")


# -- integration -------------------------------------------------------------------------------------------
def _trapezoid_pieces(y: Tensor, x, dx, dim: int, op: str) -> tuple[Tensor, int]:
    """The area of each interval along ``dim`` (length n - 1), and ``dim`` made non-negative."""
    if not isinstance(y, Tensor):
        raise TypeError(f"{op}: y must be a tensor, got {type(y).__name__}")
    if x is not None and dx is not None:
        raise TypeError(f"{op}: give x or dx, not both")
    axis = _check_dim(dim, y.ndim, op)
    if y.dtype.kind != "f":
        from ..dtypes import default_float

        y = y.astype(default_float())
    n = y.shape[axis]
    lo = getitem(y, (slice(None),) * axis + (slice(0, max(n - 1, 0)),))
    hi = getitem(y, (slice(None),) * axis + (slice(1, None),))
    mean = (lo + hi) / 2
    if x is None:
        return mean * (1.0 if dx is None else dx), axis
    if not isinstance(x, Tensor):
        x = tensor(x, dtype=y.dtype, backend=y.backend)
    if x.ndim == 1:
        if x.shape[0] != n:
            raise ShapeError(f"{op}: a 1-d x must have y's length {n} along dim {dim}, got shape {x.shape}")
        spacing = x[1:] - x[:-1]
        spacing = reshape(spacing, (-1,) + (1,) * (y.ndim - 1 - axis))
    else:
        xa = axis - y.ndim + x.ndim
        if xa < 0 or x.shape[xa] != n:
            raise ShapeError(f"{op}: x of shape {x.shape} does not match y of shape {y.shape} along dim {dim}")
        spacing = getitem(x, (slice(None),) * xa + (slice(1, None),)) - getitem(
            x, (slice(None),) * xa + (slice(0, max(n - 1, 0)),))
        try:
            np.broadcast_shapes(spacing.shape, mean.shape)
        except ValueError:
            raise ShapeError(f"{op}: x of shape {x.shape} does not broadcast with y of shape {y.shape}") from None
    return mean * spacing, axis


@public(method=False, aliases=("trapz",))
def trapezoid(y: Tensor, x=None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    """The trapezoidal rule along ``dim``: sum of (y[i] + y[i+1]) / 2 times the spacing, which is ``x``'s
    differences (a 1-d ``x`` along ``dim``, or one that broadcasts with ``y``) or the constant ``dx`` (1)."""
    pieces, axis = _trapezoid_pieces(y, x, dx, dim, "trapezoid")
    if y.shape[axis] == 0:  # PyTorch's zeros for an empty dim, outside the graph
        return pieces.detach().sum(axis)
    return pieces.sum(axis)


@public(method=False)
def cumulative_trapezoid(y: Tensor, x=None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    """The running trapezoidal rule along ``dim``: n - 1 partial integrals."""
    from .reduction import cumsum

    pieces, axis = _trapezoid_pieces(y, x, dx, dim, "cumulative_trapezoid")
    return cumsum(pieces, axis)
