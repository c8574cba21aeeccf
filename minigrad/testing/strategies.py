"""Hypothesis strategies for minigrad: shapes, dtypes, backends, arrays and tensors.

This is the only module of minigrad that imports Hypothesis (``pip install hypothesis``).

- ``tensors(shape=..., dtype=..., elements=..., contiguous=...)`` draws tensors, including non-contiguous
  ones: views of a larger buffer that are transposed, strided (``[::2]``) or reversed (``[::-1]``).
- ``broadcastable_shapes(n)`` draws ``n`` shapes that broadcast together.
- ``backends()`` draws the name of an available backend.
- Floats are bounded and drawn at the dtype's width (no NaN, no infinity, no subnormals).
- Kinks by construction, not by ``assume``: ``avoid=(0.0,)`` keeps every value at least ``margin`` away
  from 0 (relu, abs); ``distinct=True`` makes all values differ by a clear gap (no ties for max/min).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import backends as _backends
from ..tensor import Tensor
from ._core import FLOAT_DTYPES, Layout

__all__ = [
    "FLOAT_DTYPES", "arrays", "backends", "broadcastable_shapes", "distinct_arrays", "dtypes", "elements",
    "layouts", "shapes", "tensors",
]

SearchStrategy = st.SearchStrategy


def dtypes(names: Iterable[str] = ("float32", "float64")) -> SearchStrategy[np.dtype]:
    """A floating dtype (float32 or float64 by default)."""
    return st.sampled_from([np.dtype(n) for n in names])


def backends(names: Iterable[str] | None = None) -> SearchStrategy[str]:
    """The name of an available backend (restricted to ``names`` when given)."""
    found = [name for name, ok in _backends.available().items() if ok is True]
    if names is not None:
        wanted = set(names)
        found = [n for n in found if n in wanted]
    if not found:
        raise ValueError(f"none of the backends {names} is available")
    return st.sampled_from(found)


@st.composite
def shapes(draw, *, min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5,
           max_size: int = 64) -> tuple[int, ...]:
    """A shape with ``min_dims``..``max_dims`` dimensions of ``min_side``..``max_side`` and at most
    ``max_size`` elements (sides shrink to fit the budget; it never filters)."""
    ndim = draw(st.integers(min_dims, max_dims))
    budget = max_size
    shape = []
    for i in range(ndim):
        rest = ndim - i - 1
        cap = max_side if min_side == 0 else min(max_side, budget // max(1, min_side ** rest))
        side = draw(st.integers(min_side, max(min_side, cap)))
        shape.append(side)
        budget = budget // max(side, 1)
    return tuple(shape)


@st.composite
def broadcastable_shapes(draw, n: int = 2, *, min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
                         max_side: int = 5, max_size: int = 64) -> tuple[tuple[int, ...], ...]:
    """``n`` shapes that broadcast together: each is a suffix of a common shape with some sides set to 1."""
    full = draw(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side,
                       max_size=max_size))
    out = []
    for _ in range(n):
        ndim = draw(st.integers(min(min_dims, len(full)), len(full)))
        suffix = full[len(full) - ndim:]
        ones = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
        out.append(tuple(1 if one else side for one, side in zip(ones, suffix)))
    return tuple(out)


def _width(dtype: np.dtype) -> int:
    return 8 * np.dtype(dtype).itemsize


def _representable(value: float, dtype: np.dtype, upward: bool) -> float:
    """The nearest value of ``dtype`` on the inside of a bound (``upward`` for a lower bound)."""
    v = np.asarray(value, dtype=dtype)
    if upward and v < value:
        v = np.nextafter(v, np.asarray(np.inf, dtype=dtype))
    elif not upward and v > value:
        v = np.nextafter(v, np.asarray(-np.inf, dtype=dtype))
    return float(v)


def elements(dtype=np.float32, min_value: float = -10.0, max_value: float = 10.0, *,
             avoid: Sequence[float] = (), margin: float | None = None) -> SearchStrategy[float]:
    """Finite floats of ``dtype`` in [min_value, max_value], at least ``margin`` away from each ``avoid``
    point (default margin: 1/200 of the range). Drawn at the dtype's width, subnormals excluded."""
    dtype = np.dtype(dtype)
    lo, hi = float(min_value), float(max_value)
    if margin is None:
        margin = (hi - lo) / 200
    intervals = [(lo, hi)]
    for k in sorted(avoid):
        next_intervals = []
        for a, b in intervals:
            if k + margin <= a or k - margin >= b:
                next_intervals.append((a, b))
                continue
            if a < k - margin:
                next_intervals.append((a, k - margin))
            if k + margin < b:
                next_intervals.append((k + margin, b))
        intervals = next_intervals
    parts = []
    for a, b in intervals:
        a, b = _representable(a, dtype, True), _representable(b, dtype, False)
        if a <= b:
            parts.append(st.floats(a, b, width=_width(dtype), allow_nan=False, allow_infinity=False,
                                   allow_subnormal=False))
    if not parts:
        raise ValueError(f"no values of [{lo}, {hi}] are {margin} away from {tuple(avoid)}")
    return st.one_of(*parts)


@st.composite
def distinct_arrays(draw, dtype, shape, min_value: float = -10.0, max_value: float = 10.0) -> np.ndarray:
    """An array whose values are all different, any two at least (max - min) / (2 * size) apart:
    a random permutation of evenly spaced slots, each jittered inside its slot."""
    dtype = np.dtype(dtype)
    shape = draw(shape) if isinstance(shape, SearchStrategy) else tuple(shape)
    n = math.prod(shape)
    if n == 0:
        return np.zeros(shape, dtype)
    order = np.array(draw(st.permutations(range(n))), dtype=np.float64)
    jitter = draw(hnp.arrays(np.float64, n, elements=st.floats(0.0, 0.5), fill=st.nothing()))
    gap = (float(max_value) - float(min_value)) / n
    values = float(min_value) + (order + 0.25 + jitter) * gap
    return values.astype(dtype).reshape(shape)


def arrays(dtype=np.float32, shape=None, *, elements_strategy: SearchStrategy | None = None,
           min_value: float = -10.0, max_value: float = 10.0, avoid: Sequence[float] = (),
           margin: float | None = None, distinct: bool = False) -> SearchStrategy[np.ndarray]:
    """A NumPy array of ``dtype`` and ``shape`` (a tuple or a strategy; default ``shapes()``), every element
    drawn on its own (no fill value), so neighbours differ and layout bugs show."""
    dtype = np.dtype(dtype)
    shape = shapes() if shape is None else shape
    if distinct:
        return distinct_arrays(dtype, shape, min_value, max_value)
    if dtype.kind != "f":
        return hnp.arrays(dtype, shape, elements=elements_strategy, fill=st.nothing())
    if elements_strategy is None:
        elements_strategy = elements(dtype, min_value, max_value, avoid=avoid, margin=margin)
    return hnp.arrays(dtype, shape, elements=elements_strategy, fill=st.nothing())


@st.composite
def layouts(draw, shape: Sequence[int], contiguous: bool | None = None) -> Layout:
    """A memory layout for ``shape``: contiguous, or (``contiguous=False`` forces it when ``shape`` has a
    dimension) a transposed and/or strided/reversed view of a larger buffer. ``None`` draws either."""
    ndim = len(shape)
    if contiguous is True or ndim == 0:
        return Layout()
    if contiguous is None and draw(st.booleans()):
        return Layout()
    kinds = ["strided", "transposed", "both"] if ndim >= 2 else ["strided"]
    kind = draw(st.sampled_from(kinds))
    perm = steps = None
    if kind in ("transposed", "both"):
        perm = tuple(draw(st.permutations(range(ndim))))
        if perm == tuple(range(ndim)):
            perm = tuple(reversed(perm))
    if kind in ("strided", "both"):
        steps = list(draw(st.lists(st.sampled_from([1, 2, -1, -2]), min_size=ndim, max_size=ndim)))
        if all(s == 1 for s in steps):
            steps[draw(st.integers(0, ndim - 1))] = draw(st.sampled_from([2, -1, -2]))
        steps = tuple(steps)
    return Layout(perm, steps)


@st.composite
def tensors(draw, shape=None, dtype=None, elements=None, contiguous: bool | None = None, *,
            backend=None, requires_grad: bool = False, min_value: float = -10.0, max_value: float = 10.0,
            avoid: Sequence[float] = (), margin: float | None = None, distinct: bool = False) -> Tensor:
    """A leaf tensor.

    ``shape``, ``dtype`` and ``backend`` are values or strategies (defaults: ``shapes()``, ``dtypes()``, the
    current backend); ``elements`` a strategy for the values (default: bounded floats, see ``elements()``,
    honouring ``avoid``/``margin``); ``contiguous``: True, False or None (either); ``distinct``: no ties.
    """
    shape = draw(shape) if isinstance(shape, SearchStrategy) else (draw(shapes()) if shape is None else tuple(shape))
    dtype = draw(dtype) if isinstance(dtype, SearchStrategy) else (draw(dtypes()) if dtype is None else np.dtype(dtype))
    values = draw(arrays(dtype, shape, elements_strategy=elements, min_value=min_value, max_value=max_value,
                         avoid=avoid, margin=margin, distinct=distinct))
    layout = draw(layouts(shape, contiguous))
    name = draw(backend) if isinstance(backend, SearchStrategy) else (backend or _backends.get_backend())
    be = _backends.load(name)
    out = Tensor(layout.build(values, be), be)
    if requires_grad:
        out.requires_grad_(True)
    return out
