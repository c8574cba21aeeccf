"""The op specification table: one entry per public differentiable op (some ops have several).

It drives ``tests/test_agreement.py`` and ``tools/gen_coverage.py`` (``docs/coverage.md``). A spec says:

- ``op``: the public function it covers (checked by identity against ``REGISTRIES``);
- ``case(dtype, max_size)``: a Hypothesis strategy of ``Case`` (the inputs and keyword arguments), whose
  domain avoids kinks and singularities *by construction* (bounded intervals, margins around kinks,
  distinct values for max/min, lattices for maximum/minimum), never by ``assume``;
- ``call(*tensors, **kwargs)``: how to apply the op; ``reference(*float64 arrays, **kwargs)``: NumPy, float64;
- ``family``: the tolerance family (``FAMILIES``; see docs/testing.md), ``ulps`` to override its factor;
- ``double_grad``/``gradcheck``: whether second-order gradients / finite differences are checked;
- ``skip``: ``{backend: reason}`` for known gaps (shown in docs/coverage.md).

To add an op (nn.functional, BatchNorm, ...): append a ``Spec`` to ``SPECS`` (helpers ``unary``/``binary``
cover the common shapes), and for a fused kernel a ``FusedCheck`` to ``FUSED_CHECKS``; then run
``python tools/gen_coverage.py`` to refresh docs/coverage.md.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import itertools
import math
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

import minigrad
from minigrad import linalg, ops
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention
from minigrad.ops.conv import MaxPool2dBackward
from minigrad.ops.elementwise import (
    EluBackward,
    GeluBackward,
    HardtanhBackward,
    LeakyReluBackward,
    ReluBackward,
    SigmoidBackward,
    SiluBackward,
    SoftplusBackward,
    TanhBackward,
)
from minigrad.ops.loss import softmax_cross_entropy
from minigrad.ops.softmax import LogSoftmaxBackward, SoftmaxBackward
from minigrad.testing import (
    REFERENCE_BACKEND,
    Evaluation,
    Input,
    Layout,
    Tolerance,
    assert_close,
    available_backends,
    compare_evaluations,
    evaluate,
)
from minigrad.testing import strategies as mst
from minigrad.testing._core import write_reproducer

F64 = np.dtype("float64")

# Registries of public differentiable functions that must all have a spec: (module, attribute). Ops in
# ``minigrad.ops`` register themselves where they are declared (``spec=False`` for the others); the functions
# of ``minigrad.nn.functional`` where they are defined (``@_public``).
REGISTRIES: list[tuple[str, str]] = [
    ("minigrad.ops", "OPS"),
    ("minigrad.nn.functional", "OPS"),
    ("minigrad.linalg", "OPS"),
]
# Registry packages whose functions are defined (and registered) in their submodules, e.g.
# ``minigrad.nn.functional.conv``: those submodules are searched for forgotten registrations too.
SPLIT_REGISTRIES: tuple[str, ...] = ("minigrad.nn.functional",)
# Registered (differentiable) functions deliberately without a spec, with the reason.
NO_SPEC: dict[str, str] = {
    "minigrad.nn.functional.dropout": "random mask from the backend's generator: not comparable across backends "
                                      "(its gradient and reproducibility are unit tests in tests/test_functional.py)",
    "minigrad.nn.functional.dropout2d": "random channel mask from the backend's generator, as dropout (unit tests in "
                                        "tests/test_layers_and_losses.py)",
    "minigrad.nn.functional.dropout1d": "random channel mask from the backend's generator, as dropout (unit tests in "
                                        "tests/test_port_layers.py)",
    "minigrad.ops.nextafter": "one step of the dtype's spacing: no float64 reference gives the float32 result "
                              "(tests/test_port_math.py compares it with PyTorch bit for bit, gradients too)",
}
# Public functions defined in a registry module but deliberately left out of its registry, with the reason.
# tests/test_agreement.py fails when a public function is neither registered nor listed here.
UNREGISTERED: dict[str, str] = {
    "minigrad.nn.functional.one_hot": "int64 output: not differentiable",
}


def _registry(module_name: str, attribute: str) -> tuple[object, dict[str, Callable]]:
    module = importlib.import_module(module_name)
    registry = getattr(module, attribute, None)
    if not isinstance(registry, dict):
        raise AssertionError(f"{module_name} must define {attribute}, an explicit dict of its public "
                             "differentiable functions")
    return module, registry


def public_ops() -> dict[str, Callable]:
    """Every registered public differentiable function that needs a spec, as ``{"module.name": function}``."""
    found: dict[str, Callable] = {}
    for module_name, attribute in REGISTRIES:
        _, registry = _registry(module_name, attribute)
        for name, fn in registry.items():
            qualified = f"{module_name}.{name}"
            if qualified not in NO_SPEC:
                found[qualified] = fn
    return found


def unregistered_public_names() -> list[str]:
    """Public functions defined in a registry module (``minigrad.nn.functional``'s ``def relu``, or a declared op)
    that are neither in its registry nor listed in UNREGISTERED: a forgotten registration."""
    missing = []
    for module_name, attribute in REGISTRIES:
        module, registry = _registry(module_name, attribute)
        registered = {id(fn) for fn in registry.values()}
        modules = [module]
        if module_name in SPLIT_REGISTRIES:
            modules += [importlib.import_module(f"{module_name}.{info.name}")
                        for info in pkgutil.iter_modules(module.__path__)]
        for where in modules:
            for name, obj in vars(where).items():
                defined_here = inspect.isfunction(obj) and obj.__module__ == where.__name__
                if name.startswith("_") or not defined_here:
                    continue
                if id(obj) not in registered and f"{module_name}.{name}" not in UNREGISTERED:
                    missing.append(f"{module_name}.{name}")
    return sorted(missing)


# -- tolerances ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Family:
    """``rtol = ulps * eps(dtype) * n`` and ``atol = rtol * max(1, max|input|) ** power``, where ``n`` is the
    reduction length (forward) or the largest array's size (gradients, whose reductions differ)."""

    ulps: float
    power: int = 1
    doc: str = ""


FAMILIES: dict[str, Family] = {
    "exact": Family(0, 1, "copies and selections (movement, max/min, neg, abs): bit-exact forward"),
    "elementwise": Family(4, 1, "correctly rounded arithmetic (+, -, *, /), a few roundings"),
    "transcendental": Family(16, 1, "exp/log/erf/tanh/pow/...: libm-dependent, composite formulas"),
    "reduction": Family(4, 1, "sums and means: error grows with the reduction length n"),
    "variance": Family(8, 2, "var/std: squared deviations, magnitude ** 2"),
    "matmul": Family(4, 2, "dot products of length K: n = K, magnitude |a| * |b|"),
    "softmax": Family(16, 1, "exp + sum + divide/log along an axis"),
    "linalg": Family(32, 1, "LAPACK decompositions and solves of matrices with condition number <= 4"),
}
GRAD_FACTOR = {"output": 1.0, "grad": 2.0, "grad2": 8.0}
MIN_GRAD_ULPS = 4  # gradients of exact ops still sum (broadcasting, duplicate indices) in any order


# -- specs ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One drawn example: the tensor inputs (floats already in the test dtype) and keyword arguments."""

    arrays: tuple[np.ndarray, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    requires_grad: tuple[bool, ...] | None = None  # default: the floating arrays
    n: int = 1  # reduction length of the forward, for tolerances

    def grad_mask(self) -> tuple[bool, ...]:
        if self.requires_grad is not None:
            return self.requires_grad
        return tuple(a.dtype.kind == "f" for a in self.arrays)

    def magnitude(self) -> float:
        floats = [np.max(np.abs(a)) for a in self.arrays if a.dtype.kind == "f" and a.size]
        return max([1.0] + [float(m) for m in floats])

    def largest(self) -> int:
        return max([1] + [a.size for a in self.arrays])


CaseFactory = Callable[[np.dtype, int], st.SearchStrategy]


def family_tolerance(family: str, case: Case, dtype: np.dtype, kind: str, ulps: float | None = None) -> Tolerance:
    """The tolerance for one compared tensor of ``dtype``; ``kind`` is "output", "grad" or "grad2"."""
    if dtype.kind != "f":
        return Tolerance(0.0, 0.0)  # indices (max, sort, topk): exact
    fam = FAMILIES[family]
    ulps = fam.ulps if ulps is None else ulps
    n = case.n
    if kind != "output":
        ulps = max(ulps, MIN_GRAD_ULPS)
        n = max(n, case.largest())
    rtol = ulps * GRAD_FACTOR[kind] * float(np.finfo(dtype).eps) * n
    return Tolerance(rtol, rtol * case.magnitude() ** fam.power)


@dataclass(frozen=True)
class Spec:
    name: str
    op: Callable
    case: CaseFactory
    reference: Callable[..., Any]
    family: str = "transcendental"
    ulps: float | None = None
    double_grad: bool = True
    gradcheck: bool = True
    out_dtype: Callable[[np.dtype, Mapping], np.dtype] | None = None  # default: the input dtype
    skip: Mapping[str, str] = field(default_factory=dict)
    call: Callable[..., Any] | None = None  # how a case's inputs and kwargs reach the op; default: the op itself

    def __post_init__(self) -> None:
        if self.call is None:
            object.__setattr__(self, "call", self.op)

    def tolerance(self, case: Case, dtype: np.dtype, kind: str) -> Tolerance:
        return family_tolerance(self.family, case, dtype, kind, self.ulps)

    def __repr__(self) -> str:
        return f"Spec({self.name!r})"


@dataclass(frozen=True)
class FusedCheck:
    """A fused kernel and the composite expression it must equal, on every backend."""

    name: str
    covers: tuple[str, ...]  # the spec names whose fused path this exercises (for docs/coverage.md)
    case: CaseFactory
    fused: Callable[..., Any]
    composite: Callable[..., Any]
    family: str = "softmax"
    double_grad: bool = True

    def tolerance(self, case: Case, dtype: np.dtype, kind: str) -> Tolerance:
        return family_tolerance(self.family, case, dtype, kind)

    def __repr__(self) -> str:
        return f"FusedCheck({self.name!r})"


# -- drawing cases ----------------------------------------------------------------------------------------
def _arr(dtype, shape, lo=-10.0, hi=10.0, **kw):
    return mst.arrays(dtype, shape, min_value=lo, max_value=hi, **kw)


def unary_case(lo: float = -10.0, hi: float = 10.0, *, avoid=(), margin=None, distinct=False,
               params: st.SearchStrategy | None = None, min_dims: int = 0) -> CaseFactory:
    @st.composite
    def draw_case(draw, dtype, max_size):
        kwargs = draw(params) if params is not None else {}
        shape = draw(mst.shapes(min_dims=min_dims, max_size=max_size))
        x = draw(_arr(dtype, shape, lo, hi, avoid=avoid, margin=margin, distinct=distinct))
        return Case((x,), kwargs)

    return draw_case


def binary_case(a_range=(-10.0, 10.0), b_range=(-10.0, 10.0), *, b_avoid=(), b_margin=None) -> CaseFactory:
    @st.composite
    def draw_case(draw, dtype, max_size):
        sa, sb = draw(mst.broadcastable_shapes(2, max_size=max_size))
        a = draw(_arr(dtype, sa, *a_range))
        b = draw(_arr(dtype, sb, *b_range, avoid=b_avoid, margin=b_margin))
        return Case((a, b))

    return draw_case


@st.composite
def _axes(draw, ndim: int, allow_none: bool = True):
    """None, an int (possibly negative) or a tuple of distinct axes."""
    options = ["int", "tuple"] + (["none"] if allow_none else [])
    if ndim == 0:
        return None if allow_none else draw(st.sampled_from([0, -1]))
    kind = draw(st.sampled_from(options))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return tuple(draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)))


def _reduced(shape, axis) -> int:
    if axis is None:
        return math.prod(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[a] for a in axes) if shape else 1


def reduction_case(lo=-10.0, hi=10.0, *, distinct=False, min_side=1, min_dims=0,
                   extra: st.SearchStrategy | None = None) -> CaseFactory:
    @st.composite
    def draw_case(draw, dtype, max_size):
        shape = draw(mst.shapes(min_dims=min_dims, min_side=min_side, max_size=max_size))
        x = draw(_arr(dtype, shape, lo, hi, distinct=distinct))
        axis = draw(_axes(len(shape)))
        kwargs = {"axis": axis, "keepdims": draw(st.booleans())}
        if extra is not None:
            kwargs.update(draw(extra))
        return Case((x,), kwargs, n=_reduced(shape, axis))

    return draw_case


def unary(name: str, op: Callable, reference: Callable, lo=-10.0, hi=10.0, *, avoid=(), margin=None,
          params=None, family="transcendental", **kw) -> Spec:
    return Spec(name, op, unary_case(lo, hi, avoid=avoid, margin=margin, params=params), reference,
                family, **kw)


def binary(name: str, op: Callable, reference: Callable, a_range=(-10.0, 10.0), b_range=(-10.0, 10.0), *,
           b_avoid=(), b_margin=None, family="elementwise", **kw) -> Spec:
    return Spec(name, op, binary_case(a_range, b_range, b_avoid=b_avoid, b_margin=b_margin), reference, family, **kw)


# -- special-purpose cases ---------------------------------------------------------------------------------
@st.composite
def _lattice_pair(draw, dtype, max_size):
    """maximum/minimum without ties: a's values are k + [0, 0.4], b's are k + [0.5, 0.9] (k integer), so
    |a - b| >= 0.1 everywhere, whatever the broadcasting."""
    sa, sb = draw(mst.broadcastable_shapes(2, max_size=max_size))

    def lattice(shape, offset):
        k = draw(mst.arrays(np.int64, shape, elements_strategy=st.integers(-6, 5)))
        frac = draw(_arr(np.float64, shape, offset, offset + 0.4))
        return (k + frac).astype(dtype)

    return Case((lattice(sa, 0.0), lattice(sb, 0.5)))


@st.composite
def _where_case(draw, dtype, max_size):
    sc, sa, sb = draw(mst.broadcastable_shapes(3, max_size=max_size))
    cond = draw(mst.arrays(np.bool_, sc, elements_strategy=st.booleans()))
    return Case((cond, draw(_arr(dtype, sa)), draw(_arr(dtype, sb))))


@st.composite
def _pow_scalar_exponent(draw, dtype, max_size):
    exponent = draw(st.sampled_from([2, 3, 1, 0.5, -1.5, 2.5]))
    lo, hi = ((-3.0, 3.0) if isinstance(exponent, int) else (0.25, 3.0))
    shape = draw(mst.shapes(max_size=max_size))
    return Case((draw(_arr(dtype, shape, lo, hi)),), {"exponent": exponent})


@st.composite
def _pow_scalar_base(draw, dtype, max_size):
    shape = draw(mst.shapes(max_size=max_size))
    return Case((draw(_arr(dtype, shape, -3.0, 3.0)),), {"base": draw(st.sampled_from([2.0, 0.5, 3.0]))})


@st.composite
def _softplus_case(draw, dtype, max_size):
    beta = draw(st.sampled_from([1.0, 2.0, 0.5]))
    threshold = draw(st.sampled_from([20.0, 3.0]))
    shape = draw(mst.shapes(max_size=max_size))
    x = draw(_arr(dtype, shape, -10.0, 10.0, avoid=(threshold / beta,), margin=0.1))
    return Case((x,), {"beta": beta, "threshold": threshold})


@st.composite
def _clip_case(draw, dtype, max_size):
    low, high = draw(st.sampled_from([(-1.0, 2.0), (None, 1.5), (-2.5, None), (0.5, 0.75)]))
    shape = draw(mst.shapes(max_size=max_size))
    kinks = tuple(v for v in (low, high) if v is not None)
    x = draw(_arr(dtype, shape, -5.0, 5.0, avoid=kinks, margin=0.05))
    return Case((x,), {"min": low, "max": high})


@st.composite
def _matmul_case(draw, dtype, max_size):
    form = draw(st.sampled_from(["matrix", "batched", "vector-matrix", "matrix-vector", "vector-vector"]))
    m, k, n = (draw(st.integers(1, 5)) for _ in range(3))
    if form == "matrix":
        sa, sb = (m, k), (k, n)
    elif form == "vector-matrix":
        sa, sb = (k,), (k, n)
    elif form == "matrix-vector":
        sa, sb = (m, k), (k,)
    elif form == "vector-vector":
        sa, sb = (k,), (k,)
    else:
        ba, bb = draw(mst.broadcastable_shapes(2, min_dims=1, max_dims=2, max_side=3, max_size=6))
        sa, sb = ba + (m, k), bb + (k, n)
    return Case((draw(_arr(dtype, sa, -3.0, 3.0)), draw(_arr(dtype, sb, -3.0, 3.0))), n=k)


def _factorizations(size: int) -> list[int]:
    factors, p, rest = [], 2, size
    while rest > 1:
        while rest % p == 0:
            factors.append(p)
            rest //= p
        p += 1
    return factors


@st.composite
def _reshape_case(draw, dtype, max_size):
    shape = draw(mst.shapes(max_size=max_size))
    x = draw(_arr(dtype, shape))
    factors = draw(st.permutations(_factorizations(x.size)))
    ndim = draw(st.integers(0 if x.size == 1 else 1, max(1, len(factors)) + 1))
    new = [1] * max(ndim, 1 if x.size > 1 else 0)
    for f in factors:
        new[draw(st.integers(0, len(new) - 1))] *= f
    if new and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return Case((x,), {"shape": tuple(new)})


@st.composite
def _flatten_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    start = draw(st.integers(0, len(shape) - 1))
    end = draw(st.integers(start, len(shape) - 1))
    if draw(st.booleans()):
        end -= len(shape)
    return Case((draw(_arr(dtype, shape)),), {"start_dim": start, "end_dim": end})


@st.composite
def _permute_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    return Case((draw(_arr(dtype, shape)),), {"axes": tuple(draw(st.permutations(range(len(shape)))))})


@st.composite
def _transpose_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=2, max_size=max_size))
    d = len(shape)
    dims = {"dim0": draw(st.integers(-d, d - 1)), "dim1": draw(st.integers(-d, d - 1))}
    return Case((draw(_arr(dtype, shape)),), dims)


@st.composite
def _squeeze_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_side=1, max_side=3, max_size=max_size))
    shape = tuple(1 if draw(st.booleans()) else n for n in shape)
    dim = None if not shape or draw(st.booleans()) else draw(st.integers(-len(shape), len(shape) - 1))
    return Case((draw(_arr(dtype, shape)),), {"dim": dim})


@st.composite
def _unsqueeze_case(draw, dtype, max_size):
    shape = draw(mst.shapes(max_dims=3, max_size=max_size))
    d = len(shape) + 1
    return Case((draw(_arr(dtype, shape)),), {"dim": draw(st.integers(-d, d - 1))})


@st.composite
def _broadcast_case(draw, dtype, max_size):
    sx, so = draw(mst.broadcastable_shapes(2, max_size=max_size))
    target = tuple(int(n) for n in np.broadcast_shapes(sx, so))
    return Case((draw(_arr(dtype, sx)),), {"shape": target}, n=max(1, math.prod(target) // max(1, math.prod(sx))))


@st.composite
def _expand_case(draw, dtype, max_size):
    case = draw(_broadcast_case(dtype, max_size))
    (x,) = case.arrays
    lead = len(case.kwargs["shape"]) - x.ndim
    sizes = tuple(-1 if i >= lead and x.shape[i - lead] == n and draw(st.booleans()) else n
                  for i, n in enumerate(case.kwargs["shape"]))
    return Case(case.arrays, {"sizes": sizes}, n=case.n)


@st.composite
def _sum_to_case(draw, dtype, max_size):
    target, other = draw(mst.broadcastable_shapes(2, max_size=max_size))
    full = tuple(int(n) for n in np.broadcast_shapes(target, other))
    return Case((draw(_arr(dtype, full)),), {"shape": target}, n=max(1, math.prod(full) // max(1, math.prod(target))))


@st.composite
def _concatenate_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_dims=3, max_size=max(1, max_size // 3)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    count = draw(st.integers(1, 3))
    arrays = []
    for _ in range(count):
        s = list(shape)
        s[axis] = draw(st.integers(1, 3))
        arrays.append(draw(_arr(dtype, tuple(s))))
    return Case(tuple(arrays), {"axis": axis})


@st.composite
def _stack_case(draw, dtype, max_size):
    shape = draw(mst.shapes(max_dims=3, max_size=max(1, max_size // 3)))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    count = draw(st.integers(1, 3))
    return Case(tuple(draw(_arr(dtype, shape)) for _ in range(count)), {"axis": axis})


@st.composite
def _split_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    dim = draw(st.integers(0, len(shape) - 1))
    length = shape[dim]
    if draw(st.booleans()):
        sections = draw(st.integers(1, length))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, length), max_size=3)))
        bounds = [0] + cuts + [length]
        sections = [b - a for a, b in zip(bounds, bounds[1:])]
    return Case((draw(_arr(dtype, shape)),), {"sections": sections, "dim": dim})


@st.composite
def _pad_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_dims=3, max_size=max_size))
    k = draw(st.integers(1, len(shape)))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(2 * k))
    value = draw(st.sampled_from([0.0, 1.5, -2.0]))
    return Case((draw(_arr(dtype, shape)),), {"pad": pad, "value": value})


@st.composite
def _basic_index(draw, shape):
    """One item per axis of ``shape``: an int, ``:`` or a non-empty slice of either step sign; sometimes a
    ``None`` (new axis) after an item."""
    index = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "all"]))
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == "all":
            index.append(slice(None))
        else:
            a = draw(st.integers(0, n - 1))
            b = draw(st.integers(a + 1, n))
            step = draw(st.sampled_from([1, 2, -1, -2]))
            index.append(slice(a, b, step) if step > 0 else slice(b - 1, a - 1 if a > 0 else None, step))
        if draw(st.integers(0, 5)) == 0:
            index.append(None)
    return tuple(index)


@st.composite
def _getitem_basic_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    k = draw(st.integers(0, len(shape)))
    if draw(st.booleans()):
        index = draw(_basic_index(shape[:k]))  # the first k axes
    else:
        index = (Ellipsis,) + draw(_basic_index(shape[len(shape) - k:]))  # the last k axes
    return Case((draw(_arr(dtype, shape)),), {"index": index})


@st.composite
def _getitem_advanced_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    kind = draw(st.sampled_from(["ints", "int-pair", "mask"]))
    if kind == "ints" or (kind == "int-pair" and len(shape) < 2):  # duplicates on purpose: they accumulate
        axis = draw(st.integers(0, min(1, len(shape) - 1)))
        n = shape[axis]
        idx = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)), np.int64)
        index = (slice(None),) * axis + (idx,)
    elif kind == "int-pair":
        length = draw(st.integers(1, 5))
        index = tuple(np.array(draw(st.lists(st.integers(0, n - 1), min_size=length, max_size=length)), np.int64)
                      for n in shape[:2])
    else:
        index = (draw(mst.arrays(np.bool_, shape[:1], elements_strategy=st.booleans())),)
    return Case((draw(_arr(dtype, shape)),), {"index": index})


@st.composite
def _index_put_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    if draw(st.booleans()):
        index = draw(_basic_index(shape[: draw(st.integers(1, len(shape)))]))
    else:  # unique integer rows: with duplicates, which write wins is unspecified
        rows = draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=shape[0], unique=True))
        index = (np.array(rows, np.int64),)
    x = draw(_arr(dtype, shape))
    value = draw(_arr(dtype, np.empty(shape)[index].shape))
    return Case((x, value), {"index": index})


@st.composite
def _softmax_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return Case((draw(_arr(dtype, shape)),), {"axis": axis}, n=shape[axis])


@st.composite
def _cast_case(draw, dtype, max_size):
    shape = draw(mst.shapes(max_size=max_size))
    target = np.dtype("float32") if dtype == F64 else F64
    return Case((draw(_arr(dtype, shape)),), {"dtype": target})


@st.composite
def _to_backend_case(draw, dtype, max_size):
    shape = draw(mst.shapes(max_size=max_size))
    return Case((draw(_arr(dtype, shape)),), {"target": draw(st.sampled_from(sorted(available_backends())))})


@st.composite
def _one_dim_case(draw, dtype, max_size):
    """max/min along one dim, in each spelling (positional, ``dim=``, ``axis=``); distinct values (no ties)."""
    shape = draw(mst.shapes(max_size=max_size))
    x = draw(_arr(dtype, shape, distinct=True))
    d = max(len(shape), 1)
    dim = draw(st.integers(-d, d - 1))
    keyword = draw(st.sampled_from(["axis", "dim"]))
    return Case((x,), {keyword: dim, "keepdim" if keyword == "dim" else "keepdims": draw(st.booleans())},
                n=shape[dim] if shape else 1)


@st.composite
def _sort_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return Case((draw(_arr(dtype, shape, distinct=True)),), {"dim": dim, "descending": draw(st.booleans())})


@st.composite
def _topk_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    kwargs = {"k": draw(st.integers(0, shape[dim])), "dim": dim, "largest": draw(st.booleans())}
    return Case((draw(_arr(dtype, shape, distinct=True)),), kwargs)


@st.composite
def _index_along(draw, shape, dim, size):
    """An int64 index of ``shape`` with values in [0, size): repeats on purpose (they accumulate)."""
    return draw(mst.arrays(np.int64, shape, elements_strategy=st.integers(0, size - 1)))


@st.composite
def _gather_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    # index: any length along dim, at most x's size elsewhere (PyTorch's rule)
    index_shape = tuple(draw(st.integers(1, 4)) if i == dim % len(shape) else draw(st.integers(1, n))
                        for i, n in enumerate(shape))
    index = draw(_index_along(index_shape, dim, shape[dim]))
    return Case((draw(_arr(dtype, shape)), index), {"dim": dim})


@st.composite
def _scatter_add_case(draw, dtype, max_size):
    case = draw(_gather_case(dtype, max_size))
    (x, index), dim = case.arrays, case.kwargs["dim"]
    src = draw(_arr(dtype, index.shape))
    return Case((x, src, index), {"dim": dim}, n=index.shape[dim] + 1)


@st.composite
def _prod_case(draw, dtype, max_size, zeros=False):
    """Magnitudes in [0.5, 1.5] keep long products in range; ``zeros`` plants exact zeros (one or two per
    row), where the gradient is the product of the other elements."""
    shape = draw(mst.shapes(max_size=max_size))
    x = draw(_arr(dtype, shape, -1.5, 1.5, avoid=(0.0,), margin=0.5))
    if zeros and x.size:
        flat = x.reshape(-1)
        for i in draw(st.lists(st.integers(0, x.size - 1), min_size=1, max_size=2)):
            flat[i] = 0
    dim = None if not shape or draw(st.booleans()) else draw(st.integers(-len(shape), len(shape) - 1))
    n = x.size if dim is None else shape[dim]
    return Case((x,), {"dim": dim, "keepdim": draw(st.booleans())}, n=max(n, 1))


@st.composite
def _cumsum_case(draw, dtype, max_size):
    shape = draw(mst.shapes(max_size=max_size))
    d = max(len(shape), 1)
    dim = draw(st.integers(-d, d - 1))
    return Case((draw(_arr(dtype, shape)),), {"dim": dim}, n=shape[dim] if shape else 1)


@st.composite
def _norm_case(draw, dtype, max_size):
    p = draw(st.sampled_from(["fro", 2, 1, math.inf, -math.inf, 3, 0.5]))
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    # distinct magnitudes away from 0: |x| kinks (p = 1, inf) and ties (inf) stay out of the way
    x = draw(_arr(dtype, shape, 0.2, 5.0, distinct=True))
    signs = draw(mst.arrays(np.int64, shape, elements_strategy=st.sampled_from([-1, 1])))
    x = (x * signs).astype(dtype)
    dim = draw(_axes(len(shape)))
    return Case((x,), {"p": p, "dim": dim, "keepdim": draw(st.booleans())}, n=_reduced(shape, dim))


@st.composite
def _masked_fill_case(draw, dtype, max_size):
    sx, sm = draw(mst.broadcastable_shapes(2, max_size=max_size))
    sm = sm[-len(sx):] if len(sm) > len(sx) else sm  # the mask broadcasts to x's shape, never beyond it
    sm = tuple(1 if n != m else n for n, m in zip(sm, sx[len(sx) - len(sm):]))
    mask = draw(mst.arrays(np.bool_, sm, elements_strategy=st.booleans()))
    return Case((draw(_arr(dtype, sx)), mask), {"value": draw(st.sampled_from([0.0, -1.5, 1e4]))})


@st.composite
def _outer_case(draw, dtype, max_size):
    return Case((draw(_arr(dtype, (draw(st.integers(0, 5)),))), draw(_arr(dtype, (draw(st.integers(0, 5)),)))))


@st.composite
def _triangle_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=2, max_dims=3, max_side=4))
    return Case((draw(_arr(dtype, shape)),), {"diagonal": draw(st.integers(-3, 3))})


@st.composite
def _repeat_case(draw, dtype, max_size):
    shape = draw(mst.shapes(max_dims=3, max_side=3))
    sizes = tuple(draw(st.integers(0 if i else 1, 2)) for i in range(len(shape) + draw(st.integers(0, 1))))
    return Case((draw(_arr(dtype, shape)),), {"sizes": sizes})


_EINSUM_FORMS = ["ij,jk->ik", "bij,bjk->bik", "i,j->ij", "i,i->", "ij,ij->i", "ij,kj->ik", "bij,bkj->bki", "ij->ji",
                 "ij->j", "ijk->", "ij,jk", "ik,jkl->ijl", "ij,k->ijk"]


@st.composite
def _einsum_case(draw, dtype, max_size):
    equation = draw(st.sampled_from(_EINSUM_FORMS))
    sizes = {c: draw(st.integers(1, 3)) for c in set(equation) if c.isalpha()}
    terms = equation.split("->")[0].split(",")
    arrays = tuple(draw(_arr(dtype, tuple(sizes[c] for c in term), -3.0, 3.0)) for term in terms)
    contracted = [c for c in sizes if sum(t.count(c) for t in terms) > 1]
    return Case(arrays, {"equation": equation}, n=math.prod(sizes[c] for c in contracted) if contracted else 1)


# -- references ---------------------------------------------------------------------------------------------
def _prod_ref(x, dim, keepdim):
    return np.prod(x, axis=dim, keepdims=keepdim) if x.ndim else x


def _norm_ref(x, p, dim, keepdim):
    axis = dim if x.ndim else None
    a = np.abs(x)
    if p in ("fro", 2):
        return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdim))
    if p == math.inf:
        return np.max(a, axis=axis, keepdims=keepdim)
    if p == -math.inf:
        return np.min(a, axis=axis, keepdims=keepdim)
    return np.sum(a ** p, axis=axis, keepdims=keepdim) ** (1.0 / p)


def _extremum_ref(values_of, index_of):
    def reference(x, keepdims=False, keepdim=False, **dims):
        (dim,) = dims.values()
        keep = keepdims or keepdim
        if x.ndim == 0:
            return x, np.int64(0)
        return values_of(x, dim, keepdims=keep), index_of(x, dim, keepdims=keep)

    return reference


def _sort_ref(x, dim, descending):
    order = np.argsort(-x if descending else x, axis=dim, kind="stable")
    return np.take_along_axis(x, order, dim), order


def _topk_ref(x, k, dim, largest):
    values, order = _sort_ref(x, dim, largest)
    keep = (slice(None),) * (dim % x.ndim) + (slice(0, k),)
    return values[keep], order[keep]


def _gather_ref(x, dim, index):
    """Explicit loops over index's positions (independent of the backend's advanced indexing)."""
    out = np.empty(index.shape, x.dtype)
    dim %= x.ndim
    for pos in np.ndindex(*index.shape):
        source = list(pos)
        source[dim] = index[pos]
        out[pos] = x[tuple(source)]
    return out


def _scatter_add_ref(x, src, index, dim):
    out = x.copy()
    dim %= x.ndim
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] += src[pos]
    return out


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _softplus(x, beta, threshold):
    return np.where(beta * x > threshold, x, np.logaddexp(0, beta * x) / beta)


def _flatten(x, start_dim, end_dim):
    end = end_dim % x.ndim
    return x.reshape(x.shape[:start_dim] + (-1,) + x.shape[end + 1:])


def _split(x, sections, dim):
    if isinstance(sections, int):
        bounds = list(range(0, x.shape[dim], sections)) + [x.shape[dim]]
    else:
        bounds = list(np.cumsum([0] + list(sections)))
    lead = (slice(None),) * dim
    return tuple(x[lead + (slice(a, b),)] for a, b in zip(bounds, bounds[1:]))


def _pad(x, pad, value):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return np.pad(x, widths, constant_values=value)


def _index_put(x, value, index):
    out = x.copy()
    out[index] = value
    return out


def _squeeze(x, dim):
    if dim is None:
        return np.squeeze(x)
    return np.squeeze(x, dim) if x.shape[dim] == 1 else x


def _expand_ref(x, sizes):
    lead = len(sizes) - x.ndim
    return np.broadcast_to(x, tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes)))


def _sum_to_ref(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    return np.sum(x, axis=axes, keepdims=True).reshape(shape)


# scatter, the running ops (cumprod, cummax, cummin, logcumsumexp) and cdist
@st.composite
def _scatter_case(draw, dtype, max_size):
    """Each position written at most once: where index repeats one, the value kept is one of them and src's
    gradient is PyTorch's convention (every src element aimed there), not a derivative."""
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    axis = draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(draw(st.integers(1, n)) for n in shape)
    others = [n for i, n in enumerate(index_shape) if i != axis]
    lines = [draw(st.permutations(range(shape[axis])))[:index_shape[axis]] for _ in range(math.prod(others))]
    index = np.moveaxis(np.array(lines, np.int64).reshape(*others, index_shape[axis]), -1, axis)
    dim = draw(st.sampled_from([axis, axis - len(shape)]))
    return Case((draw(_arr(dtype, shape)), draw(_arr(dtype, index_shape)), index), {"dim": dim})


def _scatter_ref(x, src, index, dim):
    out = x.copy()
    dim %= x.ndim
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] = src[pos]
    return out


@st.composite
def _scatter_reduce_case(draw, dtype, max_size):
    """Repeated indices; all values distinct (no ties for amax/amin) with magnitudes in [0.5, 1.5] (products
    stay in range)."""
    case = draw(_gather_case(dtype, max_size))
    (x, index), dim = case.arrays, case.kwargs["dim"]
    values = draw(_arr(dtype, (x.size + index.size,), 0.5, 1.5, distinct=True))
    values = values * draw(mst.arrays(np.int64, values.shape, elements_strategy=st.sampled_from([-1, 1])))
    x, src = values[:x.size].reshape(x.shape).astype(dtype), values[x.size:].reshape(index.shape).astype(dtype)
    kwargs = {"dim": dim, "reduce": draw(st.sampled_from(["sum", "prod", "mean", "amax", "amin"])),
              "include_self": draw(st.booleans())}
    return Case((x, src, index), kwargs, n=index.shape[dim] + 1)


def _scatter_reduce_ref(x, src, index, dim, reduce, include_self):
    groups: dict[tuple, list] = {}
    dim %= x.ndim
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        groups.setdefault(tuple(target), [x[tuple(target)]] if include_self else []).append(src[pos])
    out = x.copy()
    for target, members in groups.items():
        out[target] = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce](members)
    return out


@st.composite
def _running_case(draw, dtype, max_size, *, zeros=False, distinct=False):
    """One tensor (0-d too) and a dim. For cumprod (``zeros`` False or True) magnitudes in [0.5, 1.5], so long
    products stay in range, and with ``zeros`` one or two exact zeros; ``zeros=None``: values in [-10, 10],
    ``distinct`` ruling out ties (cummax/cummin)."""
    shape = draw(mst.shapes(max_size=max_size))
    d = max(len(shape), 1)
    dim = draw(st.integers(-d, d - 1))
    if zeros is None:
        x = draw(_arr(dtype, shape, distinct=distinct))
    else:
        x = draw(_arr(dtype, shape, -1.5, 1.5, avoid=(0.0,), margin=0.5))
        if zeros and x.size:
            flat = x.reshape(-1)
            for i in draw(st.lists(st.integers(0, x.size - 1), min_size=1, max_size=2)):
                flat[i] = 0
    return Case((x,), {"dim": dim}, n=shape[dim] if shape else 1)


def _cumprod_ref(x, dim):
    return np.cumprod(x, dim) if x.ndim else x


def _cum_extremum_ref(accumulate):
    """Values by NumPy's accumulate; indices by an explicit search of each prefix (distinct values: no ties)."""
    def reference(x, dim):
        if x.ndim == 0:
            return x, np.int64(0)
        moved = np.moveaxis(x, dim, -1)
        best = accumulate(moved, axis=-1)
        index = np.empty(moved.shape, np.int64)
        for pos in np.ndindex(*moved.shape):
            index[pos] = np.flatnonzero(moved[pos[:-1]][:pos[-1] + 1] == best[pos])[-1]
        return np.moveaxis(best, -1, dim), np.moveaxis(index, -1, dim)

    return reference


def _logcumsumexp_ref(x, dim):
    return np.logaddexp.accumulate(x, dim) if x.ndim else x


@st.composite
def _cdist_case(draw, dtype, max_size):
    """Column m of x1 in 4^m [1, 1.5] and of x2 in 4^m [-0.5, 0]: every coordinate difference lies in
    4^m [1, 2], so none is zero and, per pair of rows, the largest (p = inf) is always the last, untied."""
    columns = draw(st.integers(1, 3))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    batch2 = draw(st.sampled_from([batch, (1,) * len(batch)]))  # the batch broadcasts
    rows1, rows2 = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    scale = (4.0 ** np.arange(columns)).astype(dtype)
    x1 = draw(_arr(dtype, (*batch, rows1, columns), 1.0, 1.5)) * scale
    x2 = draw(_arr(dtype, (*batch2, rows2, columns), -0.5, 0.0)) * scale
    return Case((x1, x2), {"p": draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, math.inf]))}, n=columns)


def _cdist_ref(x1, x2, p):
    diff = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == 0:
        return np.count_nonzero(diff, axis=-1).astype(diff.dtype)
    if p == math.inf:
        return np.max(diff, axis=-1)
    return np.sum(diff ** p, axis=-1) ** (1.0 / p)


# -- the table ---------------------------------------------------------------------------------------------
_params = st.fixed_dictionaries
KINK_MARGIN = 0.05
_CORRECTION = _params({"correction": st.sampled_from([0, 1])})

SPECS: list[Spec] = [
    # arithmetic
    binary("add", ops.add, np.add),
    binary("sub", ops.sub, np.subtract),
    binary("mul", ops.mul, np.multiply),
    binary("div", ops.div, np.divide, b_range=(-4.0, 4.0), b_avoid=(0.0,), b_margin=0.5),
    binary("pow", ops.pow, np.power, a_range=(0.25, 3.0), b_range=(-2.0, 2.0), family="transcendental"),
    Spec("pow[tensor**scalar]", ops.pow, _pow_scalar_exponent,
         lambda x, exponent: np.power(x, exponent), call=lambda x, exponent: ops.pow(x, exponent)),
    Spec("pow[scalar**tensor]", ops.pow, _pow_scalar_base,
         lambda x, base: np.power(base, x), call=lambda x, base: ops.pow(base, x)),
    unary("neg", ops.neg, np.negative, family="exact"),
    Spec("maximum", ops.maximum, _lattice_pair, np.maximum, "exact"),
    Spec("minimum", ops.minimum, _lattice_pair, np.minimum, "exact"),
    Spec("where", ops.where, _where_case, np.where, "exact"),
    # unary elementwise and activations
    unary("abs", ops.abs, np.abs, avoid=(0.0,), margin=KINK_MARGIN, family="exact"),
    unary("exp", ops.exp, np.exp, -8.0, 5.0),
    unary("log", ops.log, np.log, 0.1, 10.0),
    unary("sqrt", ops.sqrt, np.sqrt, 0.1, 10.0),
    unary("rsqrt", ops.rsqrt, lambda x: 1 / np.sqrt(x), 0.1, 10.0),
    unary("sin", ops.sin, np.sin, -5.0, 5.0),
    unary("cos", ops.cos, np.cos, -5.0, 5.0),
    unary("tanh", ops.tanh, np.tanh, -5.0, 5.0),
    unary("sigmoid", ops.sigmoid, lambda x: 1 / (1 + np.exp(-x)), -8.0, 8.0),
    unary("erf", ops.erf, _erf, -3.0, 3.0),
    unary("log1p", ops.log1p, np.log1p, -0.9, 10.0),
    unary("expm1", ops.expm1, np.expm1, -8.0, 5.0),
    unary("log2", ops.log2, np.log2, 0.1, 10.0),
    unary("log10", ops.log10, np.log10, 0.1, 10.0),
    unary("square", ops.square, np.square, -5.0, 5.0, family="elementwise"),
    unary("reciprocal", ops.reciprocal, np.reciprocal, 0.2, 5.0, family="elementwise"),
    # Rounding is piecewise constant: cases keep away from the jumps, where finite differences see a step.
    unary("floor", ops.floor, np.floor, -3.0, 3.0, avoid=tuple(range(-3, 4)), margin=KINK_MARGIN, family="exact"),
    unary("ceil", ops.ceil, np.ceil, -3.0, 3.0, avoid=tuple(range(-3, 4)), margin=KINK_MARGIN, family="exact"),
    unary("trunc", ops.trunc, np.trunc, -3.0, 3.0, avoid=tuple(range(-3, 4)), margin=KINK_MARGIN, family="exact"),
    unary("sign", ops.sign, np.sign, -3.0, 3.0, avoid=(0.0,), margin=KINK_MARGIN, family="exact"),
    unary("round", ops.round, np.round, -3.0, 3.0, avoid=tuple(k + 0.5 for k in range(-4, 3)), margin=KINK_MARGIN,
          family="exact"),
    unary("relu", ops.relu, lambda x: np.maximum(x, 0), avoid=(0.0,), margin=KINK_MARGIN, family="exact"),
    unary("leaky_relu", ops.leaky_relu, lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
          avoid=(0.0,), margin=KINK_MARGIN, family="elementwise",
          params=_params({"negative_slope": st.sampled_from([0.01, 0.2, 1.5])})),
    unary("silu", ops.silu, lambda x: x / (1 + np.exp(-x)), -8.0, 8.0),
    unary("elu", ops.elu, lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))), -8.0, 8.0,
          avoid=(0.0,), margin=KINK_MARGIN, params=_params({"alpha": st.sampled_from([1.0, 0.3])})),
    unary("hardtanh", ops.hardtanh, lambda x: np.clip(x, -1, 1), -3.0, 3.0, avoid=(-1.0, 1.0), margin=KINK_MARGIN,
          family="exact"),
    unary("gelu", ops.gelu, _gelu, -5.0, 5.0, params=_params({"approximate": st.sampled_from(["none", "tanh"])})),
    Spec("softplus", ops.softplus, _softplus_case, _softplus),
    Spec("clip", ops.clip, _clip_case, lambda x, **bounds: np.clip(x, bounds["min"], bounds["max"]), "exact"),
    # reductions
    Spec("sum", ops.sum, reduction_case(), lambda x, axis, keepdims: np.sum(x, axis, keepdims=keepdims), "reduction"),
    Spec("mean", ops.mean, reduction_case(),
         lambda x, axis, keepdims: np.mean(x, axis, keepdims=keepdims), "reduction"),
    Spec("var", ops.var, reduction_case(min_side=2, min_dims=1, extra=_CORRECTION),
         lambda x, axis, keepdims, correction: np.var(x, axis, ddof=correction, keepdims=keepdims),
         "variance"),
    Spec("std", ops.std, reduction_case(min_side=2, min_dims=1, distinct=True, extra=_CORRECTION),
         lambda x, axis, keepdims, correction: np.std(x, axis, ddof=correction, keepdims=keepdims),
         "variance"),
    Spec("amax", ops.amax, reduction_case(distinct=True),
         lambda x, axis, keepdims: np.max(x, axis, keepdims=keepdims), "exact"),
    Spec("amin", ops.amin, reduction_case(distinct=True),
         lambda x, axis, keepdims: np.min(x, axis, keepdims=keepdims), "exact"),
    Spec("max", ops.max, _one_dim_case, _extremum_ref(np.max, np.argmax), "exact"),
    Spec("min", ops.min, _one_dim_case, _extremum_ref(np.min, np.argmin), "exact"),
    Spec("prod", ops.prod, _prod_case, _prod_ref, "reduction"),
    Spec("prod[with zeros]", ops.prod, lambda d, s: _prod_case(d, s, zeros=True), _prod_ref, "reduction"),
    Spec("cumsum", ops.cumsum, _cumsum_case, lambda x, dim: np.cumsum(x, dim) if x.ndim else x, "reduction"),
    Spec("norm", ops.norm, _norm_case, _norm_ref, "reduction"),
    Spec("masked_fill", ops.masked_fill, _masked_fill_case, lambda x, mask, value: np.where(mask, value, x), "exact"),
    # sorting and index-driven ops
    Spec("sort", ops.sort, _sort_case, _sort_ref, "exact"),
    Spec("topk", ops.topk, _topk_case, _topk_ref, "exact"),
    Spec("gather", ops.gather, _gather_case, lambda x, index, dim: _gather_ref(x, dim, index), "exact",
         call=lambda x, index, dim: ops.gather(x, dim, index)),
    Spec("scatter_add", ops.scatter_add, _scatter_add_case, _scatter_add_ref, "reduction",
         call=lambda x, src, index, dim: ops.scatter_add(x, dim, index, src)),
    Spec("logsumexp", ops.logsumexp, reduction_case(), _logsumexp, "softmax"),
    Spec("softmax", ops.softmax, _softmax_case, _softmax, "softmax"),
    Spec("log_softmax", ops.log_softmax, _softmax_case,
         lambda x, axis: x - _logsumexp(x, axis, keepdims=True), "softmax"),
    # linear algebra
    Spec("matmul", ops.matmul, _matmul_case, np.matmul, "matmul"),
    # movement
    Spec("reshape", ops.reshape, _reshape_case, lambda x, shape: np.reshape(x, shape), "exact",
         call=lambda x, shape: ops.reshape(x, shape)),
    Spec("flatten", ops.flatten, _flatten_case, _flatten, "exact"),
    Spec("permute", ops.permute, _permute_case, lambda x, axes: np.transpose(x, axes), "exact",
         call=lambda x, axes: ops.permute(x, axes)),
    Spec("transpose", ops.transpose, _transpose_case, lambda x, dim0, dim1: np.swapaxes(x, dim0, dim1), "exact"),
    Spec("squeeze", ops.squeeze, _squeeze_case, _squeeze, "exact"),
    Spec("unsqueeze", ops.unsqueeze, _unsqueeze_case, lambda x, dim: np.expand_dims(x, dim), "exact"),
    Spec("broadcast_to", ops.broadcast_to, _broadcast_case, np.broadcast_to, "exact"),
    Spec("expand", ops.expand, _expand_case, _expand_ref, "exact", call=lambda x, sizes: ops.expand(x, *sizes)),
    Spec("sum_to", ops.sum_to, _sum_to_case, _sum_to_ref, "reduction"),
    Spec("concatenate", ops.concatenate, _concatenate_case,
         lambda *xs, axis: np.concatenate(xs, axis), "exact", call=lambda *xs, axis: ops.concatenate(xs, axis)),
    Spec("stack", ops.stack, _stack_case, lambda *xs, axis: np.stack(xs, axis), "exact",
         call=lambda *xs, axis: ops.stack(xs, axis)),
    Spec("split", ops.split, _split_case, _split, "exact", call=lambda x, sections, dim: ops.split(x, sections, dim)),
    Spec("pad", ops.pad, _pad_case, _pad, "exact"),
    Spec("getitem[basic]", ops.getitem, _getitem_basic_case, lambda x, index: x[index], "exact"),
    Spec("getitem[advanced]", ops.getitem, _getitem_advanced_case, lambda x, index: x[index], "exact"),
    Spec("index_put", ops.index_put, _index_put_case, _index_put, "exact"),
    Spec("clone", ops.clone, unary_case(), np.copy, "exact"),
    Spec("cast", ops.cast, _cast_case, lambda x, dtype: x.astype(dtype),
         "elementwise", ulps=1, out_dtype=lambda d, kw: kw["dtype"],
         gradcheck=False),  # finite differences through a float32 rounding are noise; its identity
    # gradient is checked against the other backends, and by gradcheck of every op that casts internally
    Spec("to_backend", ops.to_backend, _to_backend_case, lambda x, target: x, "exact",
         call=lambda x, target: ops.to_backend(x, target)),
    Spec("outer", ops.outer, _outer_case, np.outer, "elementwise"),
    Spec("tril", ops.tril, _triangle_case, lambda x, diagonal: np.tril(x, diagonal), "exact"),
    Spec("triu", ops.triu, _triangle_case, lambda x, diagonal: np.triu(x, diagonal), "exact"),
    Spec("repeat", ops.repeat, _repeat_case, lambda x, sizes: np.tile(x, sizes), "exact",
         call=lambda x, sizes: ops.repeat(x, *sizes)),
    Spec("einsum", ops.einsum, _einsum_case, lambda *xs, equation: np.einsum(equation, *xs), "matmul",
         call=lambda *xs, equation: ops.einsum(equation, *xs)),
    Spec("scatter", ops.scatter, _scatter_case, _scatter_ref, "exact",
         call=lambda x, src, index, dim: ops.scatter(x, dim, index, src)),
    Spec("scatter_reduce", ops.scatter_reduce, _scatter_reduce_case, _scatter_reduce_ref, "reduction",
         call=lambda x, src, index, dim, reduce, include_self: ops.scatter_reduce(x, dim, index, src, reduce,
                                                                                  include_self=include_self)),
    Spec("cumprod", ops.cumprod, _running_case, _cumprod_ref, "reduction"),
    Spec("cumprod[with zeros]", ops.cumprod, lambda d, s: _running_case(d, s, zeros=True), _cumprod_ref, "reduction"),
    Spec("cummax", ops.cummax, lambda d, s: _running_case(d, s, zeros=None, distinct=True),
         _cum_extremum_ref(np.maximum.accumulate), "exact"),
    Spec("cummin", ops.cummin, lambda d, s: _running_case(d, s, zeros=None, distinct=True),
         _cum_extremum_ref(np.minimum.accumulate), "exact"),
    Spec("logcumsumexp", ops.logcumsumexp, lambda d, s: _running_case(d, s, zeros=None), _logcumsumexp_ref,
         "softmax"),
    Spec("cdist", ops.cdist, _cdist_case, _cdist_ref),
]

# -- nn.functional ----------------------------------------------------------------------------------------------
# Sliding-window ops (conv2d, unfold, fold, max_pool2d, avg_pool2d). Their geometry is drawn so that the window
# count is chosen first and the input size derived from it: every case is valid by construction (no ``assume``),
# and small, because each example runs forward, backward and double backward on every backend.
def _as_arg(draw, pair: tuple[int, int]):
    """An int when both axes agree (half the time), else the pair: users write both forms."""
    return pair[0] if pair[0] == pair[1] and draw(st.booleans()) else pair


def _windows_touch_input(size: int, kernel: int, stride: int, padding: int, dilation: int, out: int) -> bool:
    """Whether each of the ``out`` windows along an axis covers at least one element of the unpadded input."""
    return all(any(0 <= i * stride - padding + a * dilation < size for a in range(kernel)) for i in range(out))


@st.composite
def _window_geometry(draw, max_size, *, pool=False, dilation=True, default_stride=False):
    """kernel, stride, padding, dilation, input (H, W) and output (oh, ow), per axis.

    ``pool``: padding at most half the kernel (PyTorch's rule for pools, so every window holds a real element);
    otherwise 0 or 1. ``default_stride``: the stride may be the kernel (``stride=None``); returned as None.
    Small budgets (the float64 finite-difference tests) get kernels of at most 2 and at most 2 windows per axis.
    """
    roomy = max_size >= 24
    kernel = tuple(draw(st.integers(1, 3 if roomy else 2)) for _ in range(2))
    stride_is_kernel = default_stride and draw(st.booleans())
    stride = kernel if stride_is_kernel else tuple(draw(st.integers(1, 2)) for _ in range(2))
    dil = tuple(draw(st.integers(1, 2)) if dilation else 1 for _ in range(2))
    out = tuple(draw(st.integers(1, 3 if roomy else 2)) for _ in range(2))
    # The padded size that gives exactly ``o`` windows is (o - 1) * s + d * (k - 1) + 1, plus up to s - 1 spare.
    padded = tuple((o - 1) * s + d * (k - 1) + 1 + draw(st.integers(0, s - 1))
                   for o, s, d, k in zip(out, stride, dil, kernel))
    padding = tuple(draw(st.integers(0, min(k // 2 if pool else 1, (p - 1) // 2))) for k, p in zip(kernel, padded))
    if pool:  # with dilation, a window can still fall entirely into the padding (max = -inf, count = 0):
        padding = tuple(q if _windows_touch_input(p - 2 * q, k, s, q, d, o) else 0  # then that axis is unpadded
                        for p, q, k, s, d, o in zip(padded, padding, kernel, stride, dil, out))
    size = tuple(p - 2 * q for p, q in zip(padded, padding))
    return {"kernel": kernel, "stride": None if stride_is_kernel else stride, "padding": padding,
            "dilation": dil, "size": size, "out": out}


def _window_kwargs(draw, geo, *, dilation=True) -> dict:
    kwargs = {"kernel_size": _as_arg(draw, geo["kernel"]), "padding": _as_arg(draw, geo["padding"])}
    if geo["stride"] is not None:
        kwargs["stride"] = _as_arg(draw, geo["stride"])
    if dilation:
        kwargs["dilation"] = _as_arg(draw, geo["dilation"])
    return kwargs


@st.composite
def _conv2d_case(draw, dtype, max_size):
    groups = draw(st.integers(1, 2))
    c_group, o_group = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    batch = draw(st.integers(1, 2 if max_size >= 24 else 1))
    geo = draw(_window_geometry(max_size))
    kh, kw = geo["kernel"]
    x = draw(_arr(dtype, (batch, groups * c_group) + geo["size"], -3.0, 3.0))
    arrays = (x, draw(_arr(dtype, (groups * o_group, c_group, kh, kw), -3.0, 3.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, (groups * o_group,), -3.0, 3.0)),)
    kwargs = {"stride": _as_arg(draw, geo["stride"]), "padding": _as_arg(draw, geo["padding"]),
              "dilation": _as_arg(draw, geo["dilation"]), "groups": groups}
    same = geo["stride"] == (1, 1) and all(d * (k - 1) == 2 * p for d, k, p in
                                            zip(geo["dilation"], geo["kernel"], geo["padding"]))
    if same and draw(st.booleans()):
        kwargs["padding"] = "same"
    elif geo["padding"] == (0, 0) and draw(st.booleans()):
        kwargs["padding"] = "valid"
    return Case(arrays, kwargs, n=c_group * kh * kw)


@st.composite
def _unfold_case(draw, dtype, max_size):
    geo = draw(_window_geometry(max_size))
    shape = (draw(st.integers(1, 2 if max_size >= 24 else 1)), draw(st.integers(1, 2))) + geo["size"]
    return Case((draw(_arr(dtype, shape)),), _window_kwargs(draw, geo))


@st.composite
def _fold_case(draw, dtype, max_size):
    geo = draw(_window_geometry(max_size))
    kh, kw = geo["kernel"]
    batch, channels = draw(st.integers(1, 2 if max_size >= 24 else 1)), draw(st.integers(1, 2))
    cols = draw(_arr(dtype, (batch, channels * kh * kw, geo["out"][0] * geo["out"][1])))
    kwargs = {"output_size": _as_arg(draw, geo["size"])} | _window_kwargs(draw, geo)
    return Case((cols,), kwargs, n=kh * kw)  # an output element sums at most kh * kw overlapping columns


@st.composite
def _max_pool2d_case(draw, dtype, max_size):
    geo = draw(_window_geometry(max_size, pool=True, default_stride=True))
    shape = (draw(st.integers(1, 2 if max_size >= 24 else 1)), draw(st.integers(1, 2))) + geo["size"]
    # distinct values: no ties inside a window, so the maximum (and its gradient) is unique
    return Case((draw(_arr(dtype, shape, distinct=True)),), _window_kwargs(draw, geo))


@st.composite
def _avg_pool2d_case(draw, dtype, max_size):
    geo = draw(_window_geometry(max_size, pool=True, dilation=False, default_stride=True))
    shape = (draw(st.integers(1, 2 if max_size >= 24 else 1)), draw(st.integers(1, 2))) + geo["size"]
    kwargs = _window_kwargs(draw, geo, dilation=False)
    kwargs["count_include_pad"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        kwargs["divisor_override"] = draw(st.sampled_from([1, 3]))
    kh, kw = geo["kernel"]
    return Case((draw(_arr(dtype, shape)),), kwargs, n=kh * kw)


def _pair2(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _windows_ref(x, kernel_size, stride=None, padding=0, dilation=1, fill=0.0):
    """Every window of (N, C, H, W) as (N, C, kh, kw, oh, ow), one output position at a time (plain slicing,
    independent of minigrad's strided views)."""
    (kh, kw), (ph, pw), (dh, dw) = _pair2(kernel_size), _pair2(padding), _pair2(dilation)
    sh, sw = (kh, kw) if stride is None else _pair2(stride)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.empty(x.shape[:2] + (kh, kw, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[..., i, j] = xp[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
    return out


def _conv2d_ref(x, w, *b, stride, padding, dilation, groups):
    o, c_group, kh, kw = w.shape
    if padding == "same":
        padding = tuple(d * (k - 1) // 2 for d, k in zip(_pair2(dilation), (kh, kw)))
    elif padding == "valid":
        padding = 0
    win = _windows_ref(x, (kh, kw), stride, padding, dilation)  # (N, C, kh, kw, oh, ow)
    n, _, _, _, oh, ow = win.shape
    win = win.reshape(n, groups, c_group, kh, kw, oh, ow)
    out = np.einsum("ngcklij,gocklij->ngoij", win, w.reshape(groups, o // groups, c_group, kh, kw, 1, 1))
    out = out.reshape(n, o, oh, ow)
    return out + b[0].reshape(1, o, 1, 1) if b else out


def _unfold_ref(x, kernel_size, dilation=1, padding=0, stride=1):
    win = _windows_ref(x, kernel_size, stride, padding, dilation)
    n, c, kh, kw, oh, ow = win.shape
    return win.reshape(n, c * kh * kw, oh * ow)  # PyTorch's layout: (c, kh, kw) rows, (oh, ow) columns


def _fold_ref(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Accumulate every column entry into the image position it came from (explicit loops)."""
    (h, w), (kh, kw), (dh, dw) = _pair2(output_size), _pair2(kernel_size), _pair2(dilation)
    (ph, pw), (sh, sw) = _pair2(padding), _pair2(stride)
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    n = cols.shape[0]
    blocks = cols.reshape(n, -1, kh, kw, oh, ow)
    out = np.zeros((n, blocks.shape[1], h + 2 * ph, w + 2 * pw))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    out[:, :, i * sh + a * dh, j * sw + b * dw] += blocks[:, :, a, b, i, j]
    return out[:, :, ph:ph + h, pw:pw + w]


def _max_pool2d_ref(x, kernel_size, stride=None, padding=0, dilation=1):
    return _windows_ref(x, kernel_size, stride, padding, dilation, fill=-np.inf).max(axis=(2, 3))


def _avg_pool2d_ref(x, kernel_size, stride=None, padding=0, count_include_pad=True, divisor_override=None):
    sums = _windows_ref(x, kernel_size, stride, padding).sum(axis=(2, 3))
    if divisor_override is not None:
        return sums / divisor_override
    if count_include_pad:
        kh, kw = _pair2(kernel_size)
        return sums / (kh * kw)
    return sums / _windows_ref(np.ones_like(x), kernel_size, stride, padding).sum(axis=(2, 3))


@st.composite
def _linear_case(draw, dtype, max_size):
    lead = draw(mst.shapes(min_dims=0, max_dims=2, max_side=3, max_size=6))
    n_in, n_out = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    arrays = (draw(_arr(dtype, lead + (n_in,), -3.0, 3.0)), draw(_arr(dtype, (n_out, n_in), -3.0, 3.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, (n_out,), -3.0, 3.0)),)
    return Case(arrays, n=n_in)


_REDUCTION = st.sampled_from(["mean", "sum", "none"])


@st.composite
def _pair_loss_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    return Case((draw(_arr(dtype, shape)), draw(_arr(dtype, shape))), {"reduction": draw(_REDUCTION)},
                n=math.prod(shape))


@st.composite
def _bce_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    x, t = draw(_arr(dtype, shape)), draw(_arr(dtype, shape, 0.0, 1.0))
    return Case((x, t), {"reduction": draw(_REDUCTION)}, requires_grad=(True, False), n=math.prod(shape))


@st.composite
def _classification_case(draw, dtype, max_size, smoothing=False):
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    logits = draw(_arr(dtype, (n, c), -5.0, 5.0))
    targets = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), np.int64)
    kwargs = {"reduction": draw(_REDUCTION)}
    if smoothing:
        kwargs["label_smoothing"] = draw(st.sampled_from([0.0, 0.1]))
    return Case((logits, targets), kwargs, n=n * c)


@st.composite
def _layer_norm_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_dims=3, min_side=2, max_size=max_size))
    k = draw(st.integers(1, len(shape)))
    normalized = shape[len(shape) - k:]
    arrays = (draw(_arr(dtype, shape, distinct=True)),)  # distinct: every group has a clear variance
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, normalized, -2.0, 2.0)), draw(_arr(dtype, normalized, -2.0, 2.0)))
    return Case(arrays, {"normalized_shape": normalized}, n=math.prod(normalized))


@st.composite
def _softmax_cross_entropy_case(draw, dtype, max_size):
    """The fused op alone: (N, C) logits and valid targets, per-row losses (no reduction arguments)."""
    logits, targets = draw(_classification_case(dtype, max_size)).arrays
    return Case((logits, targets), {}, n=logits.shape[1])


def _log_softmax_rows(x):
    return x - _logsumexp(x, 1, keepdims=True)


def _reduce_ref(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def _cross_entropy_ref(x, t, reduction, label_smoothing=0.0):
    lp = _log_softmax_rows(x)
    loss = (1 - label_smoothing) * -lp[np.arange(len(t)), t] + label_smoothing * -lp.mean(1)
    return _reduce_ref(loss, reduction)


@st.composite
def _probability_target_case(draw, dtype, max_size):
    """cross_entropy with class probabilities: (N, C) or (N, C, d) logits and a target of the same shape whose
    class axis sums to 1; both get gradients."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 5))
    shape = (n, c) + ((draw(st.integers(1, 3)),) if draw(st.booleans()) else ())
    logits = draw(_arr(dtype, shape, -5.0, 5.0))
    weights = draw(_arr(dtype, shape, 0.1, 1.0))
    target = (weights / weights.sum(1, keepdims=True)).astype(dtype)
    kwargs = {"reduction": draw(_REDUCTION), "label_smoothing": draw(st.sampled_from([0.0, 0.1]))}
    return Case((logits, target), kwargs, n=c)


def _cross_entropy_probabilities_ref(x, t, reduction, label_smoothing=0.0):
    c = x.shape[1]
    lp = x - _logsumexp(x, 1, keepdims=True)
    loss = -(lp * (t * (1 - label_smoothing) + label_smoothing / c)).sum(1)
    return _reduce_ref(loss, reduction)


def _layer_norm_ref(x, *wb, normalized_shape, eps=1e-5):
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    out = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return out * wb[0] + wb[1] if wb else out


@st.composite
def _batch_norm_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=2, max_dims=4, min_side=2, max_size=max_size))
    arrays = (draw(_arr(dtype, shape, distinct=True)),)  # distinct: every channel has a clear variance
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, shape[1:2], -2.0, 2.0)), draw(_arr(dtype, shape[1:2], -2.0, 2.0)))
    return Case(arrays, {}, n=math.prod(shape) // shape[1])


def _batch_norm_ref(x, *wb, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    cshape = (1, -1) + (1,) * (x.ndim - 2)
    out = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return out * wb[0].reshape(cshape) + wb[1].reshape(cshape) if wb else out


@st.composite
def _batch_norm_eval_case(draw, dtype, max_size):
    """x, running mean and variance (positive), and optionally weight and bias."""
    shape = draw(mst.shapes(min_dims=2, max_dims=4, min_side=1, max_size=max_size))
    c = shape[1:2]
    arrays = (draw(_arr(dtype, shape)), draw(_arr(dtype, c, -2.0, 2.0)), draw(_arr(dtype, c, 0.5, 2.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, c, -2.0, 2.0)), draw(_arr(dtype, c, -2.0, 2.0)))
    return Case(arrays, {})


def _batch_norm_eval(fused: bool) -> Callable:
    """Eval-mode batch_norm (running statistics, differentiable in them too) in one form."""
    return lambda x, rm, rv, *wb: minigrad.nn.functional.batch_norm(x, rm, rv, *wb, training=False, fused=fused)


def _batch_norm_train(fused: bool) -> Callable:
    """Training-mode batch_norm (batch statistics, no running statistics) in one form."""
    return lambda x, *wb: minigrad.nn.functional.batch_norm(x, None, None, *wb, training=True, fused=fused)


@st.composite
def _vectors_case(draw, dtype, max_size, pair=False):
    """Rows of 1-5 values with magnitudes in [0.5, 2] (norms well above eps), and a ``dim`` of 0, 1 or -1."""
    shape = draw(mst.shapes(min_dims=2, max_dims=3, min_side=1, max_side=5, max_size=max_size))
    dim = draw(st.sampled_from([0, 1, -1]))

    def vectors():
        magnitude = draw(_arr(np.float64, shape, 0.5, 2.0))
        sign = np.where(draw(mst.arrays(np.bool_, shape)), -1.0, 1.0)
        return (magnitude * sign).astype(dtype)

    arrays = (vectors(), vectors()) if pair else (vectors(),)
    return Case(arrays, {"dim": dim}, n=shape[dim])


def _normalize_ref(x, dim):
    return x / np.maximum(np.sqrt((x * x).sum(dim, keepdims=True)), 1e-12)


def _cosine_ref(a, b, dim):
    norm = lambda v: np.maximum(np.sqrt((v * v).sum(dim)), 1e-8)  # noqa: E731
    return (a * b).sum(dim) / (norm(a) * norm(b))


@st.composite
def _prelu_case(draw, dtype, max_size):
    """x (N, C, ...) away from the kink at 0, and one slope or one per channel."""
    shape = draw(mst.shapes(min_dims=2, max_dims=4, min_side=1, max_size=max_size))
    x = draw(_arr(dtype, shape, -5.0, 5.0, avoid=(0.0,), margin=KINK_MARGIN))
    slopes = draw(st.sampled_from([1, shape[1]]))
    return Case((x, draw(_arr(dtype, (slopes,), -1.0, 1.0))), {})


def _prelu_ref(x, w):
    slope = w.reshape((-1,) + (1,) * (x.ndim - 2)) if w.size > 1 else w.reshape(())
    return np.where(x > 0, x, slope * x)


def _hardsigmoid_ref(x):
    return np.clip(x + 3, 0, 6) / 6


SPECS += [
    unary("F.relu6", F.relu6, lambda x: np.clip(x, 0, 6), -2.0, 8.0, avoid=(0.0, 6.0), margin=KINK_MARGIN,
          family="exact"),
    unary("F.hardsigmoid", F.hardsigmoid, _hardsigmoid_ref, -5.0, 5.0, avoid=(-3.0, 3.0), margin=KINK_MARGIN,
          family="elementwise"),
    unary("F.hardswish", F.hardswish, lambda x: x * _hardsigmoid_ref(x), -5.0, 5.0, avoid=(-3.0, 3.0),
          margin=KINK_MARGIN, family="elementwise"),
    unary("F.logsigmoid", F.logsigmoid, lambda x: np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))), -30.0, 30.0),
    unary("F.mish", F.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), -8.0, 8.0),
    Spec("F.softmin", F.softmin, _softmax_case, lambda x, axis: _softmax(-x, axis), "softmax",
         call=lambda x, axis: F.softmin(x, axis)),
    Spec("F.prelu", F.prelu, _prelu_case, _prelu_ref, "elementwise"),
    Spec("F.normalize", F.normalize, _vectors_case, _normalize_ref, "variance"),
    Spec("F.cosine_similarity", F.cosine_similarity, lambda d, s: _vectors_case(d, s, pair=True), _cosine_ref,
         "variance"),
    Spec("F.linear", F.linear, _linear_case, lambda x, w, *b: x @ w.T + (b[0] if b else 0), "matmul"),
    Spec("F.mse_loss", F.mse_loss, _pair_loss_case,
         lambda a, b, reduction: _reduce_ref((a - b) ** 2, reduction), "variance"),
    Spec("F.binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
         _bce_case,
         lambda x, t, reduction: _reduce_ref(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))), reduction)),
    Spec("F.cross_entropy", F.cross_entropy, lambda d, s: _classification_case(d, s, True),
         _cross_entropy_ref, "softmax"),
    Spec("F.cross_entropy-probabilities", F.cross_entropy, _probability_target_case, _cross_entropy_probabilities_ref,
         "softmax"),
    # The fused op under F.cross_entropy (one op, its backward an op too), on its own: forward against the
    # reference and finite differences of first and second order; FUSED_CHECKS compares it with its composite.
    Spec("softmax_cross_entropy", softmax_cross_entropy, _softmax_cross_entropy_case,
         lambda x, t: -_log_softmax_rows(x)[np.arange(len(t)), t], "softmax"),
    Spec("F.nll_loss", F.nll_loss, _classification_case,
         lambda x, t, reduction: _reduce_ref(-x[np.arange(len(t)), t], reduction), "reduction"),
    Spec("F.layer_norm", F.layer_norm, _layer_norm_case,
         _layer_norm_ref, "variance", call=lambda x, *wb, normalized_shape: F.layer_norm(x, normalized_shape, *wb)),
    Spec("F.batch_norm", F.batch_norm, _batch_norm_case, _batch_norm_ref, "variance", call=_batch_norm_train(True)),
    Spec("F.conv2d", F.conv2d, _conv2d_case, _conv2d_ref, "matmul"),
    Spec("F.unfold", F.unfold, _unfold_case, _unfold_ref, "exact"),
    Spec("F.fold", F.fold, _fold_case, _fold_ref, "reduction"),
    Spec("F.max_pool2d", F.max_pool2d, _max_pool2d_case, _max_pool2d_ref, "exact"),
    Spec("F.avg_pool2d", F.avg_pool2d, _avg_pool2d_case, _avg_pool2d_ref, "reduction"),
]


@st.composite
def _conv1d_case(draw, dtype, max_size):
    groups, c_group, o_group = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k, stride, dilation, out = (draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2)),
                                draw(st.integers(1, 3)))
    padded = (out - 1) * stride + dilation * (k - 1) + 1
    padding = draw(st.integers(0, min(1, (padded - 1) // 2)))
    x = draw(_arr(dtype, (draw(st.integers(1, 2)), groups * c_group, padded - 2 * padding), -3.0, 3.0))
    arrays = (x, draw(_arr(dtype, (groups * o_group, c_group, k), -3.0, 3.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, (groups * o_group,), -3.0, 3.0)),)
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return Case(arrays, kwargs, n=c_group * k)


def _conv1d_ref(x, w, *b, stride, padding, dilation, groups):
    return _conv2d_ref(x[:, :, None], w[:, :, None], *b, stride=(1, stride), padding=(0, padding),
                       dilation=(1, dilation), groups=groups)[:, :, 0]


@st.composite
def _adaptive_avg_pool2d_case(draw, dtype, max_size):
    lead = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)),)
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    size = draw(st.one_of(st.integers(1, 4), st.tuples(st.one_of(st.none(), st.integers(1, 4)),
                                                       st.one_of(st.none(), st.integers(1, 4)))))
    return Case((draw(_arr(dtype, lead + (h, w))),), {"output_size": size}, n=h * w)


def _adaptive_avg_pool2d_ref(x, output_size):
    h, w = x.shape[-2:]
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    oh, ow = h if oh is None else oh, w if ow is None else ow
    out = np.empty(x.shape[:-2] + (oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            rows = slice(i * h // oh, -(-(i + 1) * h // oh))
            cols = slice(j * w // ow, -(-(j + 1) * w // ow))
            out[..., i, j] = x[..., rows, cols].mean(axis=(-2, -1))
    return out


@st.composite
def _group_norm_case(draw, dtype, max_size):
    groups, per_group = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    spatial = draw(mst.shapes(min_dims=0, max_dims=2, max_side=3))
    if per_group * math.prod(spatial) < 2:
        spatial = (2,) + spatial[1:]  # every group holds at least two values: a clear variance
    shape = (draw(st.integers(1, 2)), groups * per_group) + spatial
    arrays = (draw(_arr(dtype, shape, distinct=True)),)
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, shape[1:2], -2.0, 2.0)), draw(_arr(dtype, shape[1:2], -2.0, 2.0)))
    return Case(arrays, {"num_groups": groups}, n=math.prod(shape) // shape[0] // groups)


def _group_norm_ref(x, *wb, num_groups, eps=1e-5):
    g = x.reshape(x.shape[0], num_groups, -1)
    out = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + eps)).reshape(x.shape)
    per_channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return out * wb[0].reshape(per_channel) + wb[1].reshape(per_channel) if wb else out


@st.composite
def _embedding_case(draw, dtype, max_size):
    rows, dim = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    index_shape = draw(mst.shapes(min_dims=0, max_dims=2, max_side=3))
    index = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=math.prod(index_shape),
                                   max_size=math.prod(index_shape))), np.int64).reshape(index_shape)
    # No padding_idx here: its row gets no gradient by design, which finite differences would contradict
    # (tests/test_layers_and_losses.py compares it with PyTorch).
    return Case((index, draw(_arr(dtype, (rows, dim)))))


@st.composite
def _kinked_pair_case(draw, dtype, max_size, kinks=lambda kwargs: (0.0,), params=None):
    """(input, target) whose difference stays away from the loss's kinks (finite differences see one side)."""
    kwargs = {"reduction": draw(_REDUCTION), **(draw(params) if params is not None else {})}
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    x = draw(_arr(dtype, shape, -5.0, 5.0))
    diff = draw(_arr(dtype, shape, -5.0, 5.0, avoid=kinks(kwargs), margin=0.05))
    return Case((x, (x - diff).astype(dtype)), kwargs, n=math.prod(shape))


def _smooth_l1_ref(x, t, reduction, beta=1.0):
    d = np.abs(x - t)
    return _reduce_ref(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta) if beta else d, reduction)


def _huber_ref(x, t, reduction, delta=1.0):
    d = np.abs(x - t)
    return _reduce_ref(np.where(d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


@st.composite
def _probability_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    arrays = (draw(_arr(dtype, shape, 0.05, 0.95)), draw(_arr(dtype, shape, 0.0, 1.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, shape[-1:], 0.0, 2.0)),)
    return Case(arrays, {"reduction": draw(_REDUCTION)}, requires_grad=(True, False, False)[:len(arrays)],
                n=math.prod(shape))


def _bce_ref(x, t, *w, reduction):
    loss = -(t * np.log(x) + (1 - t) * np.log1p(-x))
    return _reduce_ref(loss * w[0] if w else loss, reduction)


@st.composite
def _kl_div_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    log_target = draw(st.booleans())
    target = draw(_arr(dtype, shape, -3.0, 0.5) if log_target else _arr(dtype, shape, 0.05, 2.0))
    kwargs = {"reduction": draw(st.sampled_from(["mean", "sum", "none", "batchmean"])), "log_target": log_target}
    return Case((draw(_arr(dtype, shape, -5.0, 1.0)), target), kwargs, n=math.prod(shape))


def _kl_div_ref(x, t, reduction, log_target):
    loss = np.exp(t) * (t - x) if log_target else t * (np.log(t) - x)
    return loss.sum() / x.shape[0] if reduction == "batchmean" else _reduce_ref(loss, reduction)


SPECS += [
    Spec("F.conv1d", F.conv1d, _conv1d_case, _conv1d_ref, "matmul"),
    Spec("F.adaptive_avg_pool2d", F.adaptive_avg_pool2d, _adaptive_avg_pool2d_case, _adaptive_avg_pool2d_ref,
         "reduction"),
    Spec("F.group_norm", F.group_norm, _group_norm_case, _group_norm_ref, "variance",
         call=lambda x, *wb, num_groups: F.group_norm(x, num_groups, *wb)),
    Spec("F.embedding", F.embedding, _embedding_case, lambda index, w: w[index], "exact"),
    Spec("F.l1_loss", F.l1_loss, _kinked_pair_case, lambda x, t, reduction: _reduce_ref(np.abs(x - t), reduction),
         "reduction"),
    Spec("F.smooth_l1_loss", F.smooth_l1_loss,
         lambda d, s: _kinked_pair_case(d, s, lambda kw: (0.0, kw["beta"], -kw["beta"]),
                                        _params({"beta": st.sampled_from([0.0, 0.5, 2.0])})),
         _smooth_l1_ref, "variance"),
    Spec("F.huber_loss", F.huber_loss,
         lambda d, s: _kinked_pair_case(d, s, lambda kw: (0.0, kw["delta"], -kw["delta"]),
                                        _params({"delta": st.sampled_from([0.5, 2.0])})),
         _huber_ref, "variance"),
    Spec("F.binary_cross_entropy", F.binary_cross_entropy, _probability_case, _bce_ref),
    Spec("F.kl_div", F.kl_div, _kl_div_case, _kl_div_ref),
]

@st.composite
def _sdpa_case(draw, dtype, max_size):
    """query (..., L, E), key (..., S, E), value (..., S, Ev) and one of: no mask, a bool mask (True = may attend;
    a row may be all False: zeros), an additive float mask (differentiable too), is_causal; an explicit scale."""
    batch = draw(mst.shapes(min_dims=0, max_dims=2, max_side=2))
    length, source, e, ev = (draw(st.integers(1, 4)) for _ in range(4))
    arrays = tuple(draw(_arr(dtype, batch + shape, -2.0, 2.0)) for shape in ((length, e), (source, e), (source, ev)))
    kwargs = {"scale": draw(st.sampled_from([None, 0.7]))}
    mask = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    if mask == "bool":
        arrays += (draw(mst.arrays(np.bool_, (length, source), elements_strategy=st.booleans())),)
    elif mask == "float":
        arrays += (draw(_arr(dtype, (length, source), -2.0, 2.0)),)
    kwargs["is_causal"] = mask == "causal"
    return Case(arrays, kwargs, n=e + source)


def _sdpa_ref(q, k, v, *mask, scale, is_causal):
    scores = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    length, source = scores.shape[-2:]
    allowed = np.tril(np.ones((length, source), bool)) if is_causal else None
    if mask and mask[0].dtype == np.bool_:
        allowed = mask[0]
    elif mask:
        scores = scores + mask[0]
    if allowed is None:
        return _softmax(scores, -1) @ v
    dead = ~allowed.any(-1, keepdims=True)  # nowhere to attend: zeros
    return np.where(dead, 0.0, _softmax(np.where(allowed | dead, scores, -np.inf), -1)) @ v


SPECS += [
    Spec("F.scaled_dot_product_attention", F.scaled_dot_product_attention, _sdpa_case, _sdpa_ref, "matmul", ulps=16,
         call=lambda q, k, v, *mask, scale, is_causal: F.scaled_dot_product_attention(
             q, k, v, mask[0] if mask else None, scale=scale, is_causal=is_causal)),
]


# -- trigonometric, hyperbolic and more binary elementwise ops ------------------------------------------------
@st.composite
def _first_off_zero_case(draw, dtype, max_size):
    """atan2 and hypot: the first operand at least 0.25 from 0, so no case lies on atan2's branch cut (first 0,
    second negative) or at the origin, where neither is differentiable; the second anywhere in [-10, 10]."""
    sa, sb = draw(mst.broadcastable_shapes(2, max_size=max_size))
    return Case((draw(_arr(dtype, sa, avoid=(0.0,), margin=0.25)), draw(_arr(dtype, sb))))


@st.composite
def _division_lattice_case(draw, dtype, max_size):
    """remainder and fmod jump where a / b is an integer: b is one of +-{0.5, 1, 2, 4} and a = k / 2 + [0.1, 0.4]
    (k integer), so a / b stays at least 0.025 from every integer whatever the broadcasting."""
    sa, sb = draw(mst.broadcastable_shapes(2, max_size=max_size))
    k = draw(mst.arrays(np.int64, sa, elements_strategy=st.integers(-12, 11)))
    a = k / 2 + draw(_arr(np.float64, sa, 0.1, 0.4))
    b = draw(mst.arrays(np.float64, sb, elements_strategy=st.sampled_from([-4.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0,
                                                                            4.0])))
    return Case((a.astype(dtype), b.astype(dtype)))


@st.composite
def _xlogy_case(draw, dtype, max_size):
    """x at least 0.25 from 0 (where d/dx jumps from log(y) to PyTorch's 0), y in [0.25, 10]."""
    sa, sb = draw(mst.broadcastable_shapes(2, max_size=max_size))
    return Case((draw(_arr(dtype, sa, avoid=(0.0,), margin=0.25)), draw(_arr(dtype, sb, 0.25, 10.0))))


def _xlogy_ref(x, y):
    return np.where(x == 0, 0.0, x * np.log(y))


SPECS += [
    unary("tan", ops.tan, np.tan, -1.4, 1.4),
    unary("asin", ops.asin, np.arcsin, -0.9, 0.9),
    unary("acos", ops.acos, np.arccos, -0.9, 0.9),
    unary("atan", ops.atan, np.arctan),
    unary("sinh", ops.sinh, np.sinh, -5.0, 5.0),
    unary("cosh", ops.cosh, np.cosh, -5.0, 5.0),
    unary("asinh", ops.asinh, np.arcsinh),
    unary("acosh", ops.acosh, np.arccosh, 1.1, 10.0),
    unary("atanh", ops.atanh, np.arctanh, -0.9, 0.9),
    # sinc's slope (PyTorch's formula) cancels near 0 in float32; its value at 0 is a unit test
    unary("sinc", ops.sinc, np.sinc, -3.0, 3.0, avoid=(0.0,), margin=0.25),
    Spec("atan2", ops.atan2, _first_off_zero_case, np.arctan2),
    Spec("hypot", ops.hypot, _first_off_zero_case, np.hypot),
    binary("logaddexp", ops.logaddexp, np.logaddexp, family="transcendental"),
    Spec("xlogy", ops.xlogy, _xlogy_case, _xlogy_ref),
    Spec("remainder", ops.remainder, _division_lattice_case, np.remainder, "elementwise"),
    Spec("fmod", ops.fmod, _division_lattice_case, np.fmod, "elementwise"),
]

# -- special functions (references: SciPy, a dev dependency, imported when a case runs) ---------------------------
def _scipy_special():
    import scipy.special

    return scipy.special


def _mvlgamma_ref(x, p):
    return sum(_scipy_special().gammaln(x - j / 2) for j in range(p)) + p * (p - 1) / 4 * math.log(math.pi)


def _logit_ref(x, eps):
    z = x if eps is None else np.clip(x, eps, 1 - eps)
    return np.log(z / (1 - z))


@st.composite
def _apart_case(draw, dtype, max_size):
    """fmax and fmin: a = k + [0.1, 0.4] and b = k' + [0.6, 0.9] (k, k' integers), so a and b never tie, whatever
    the broadcasting, and differ by at least 0.2."""
    sa, sb = draw(mst.broadcastable_shapes(2, max_size=max_size))
    a = draw(mst.arrays(np.int64, sa, elements_strategy=st.integers(-5, 4))) + draw(_arr(np.float64, sa, 0.1, 0.4))
    b = draw(mst.arrays(np.int64, sb, elements_strategy=st.integers(-5, 4))) + draw(_arr(np.float64, sb, 0.6, 0.9))
    return Case((a.astype(dtype), b.astype(dtype)))


@st.composite
def _copysign_case(draw, dtype, max_size):
    """copysign: both operands at least 0.25 from 0, where the result (first) or its sign (second) jumps."""
    sa, sb = draw(mst.broadcastable_shapes(2, max_size=max_size))
    return Case((draw(_arr(dtype, sa, avoid=(0.0,), margin=0.25)), draw(_arr(dtype, sb, avoid=(0.0,), margin=0.25))))


SPECS += [
    Spec("copysign", ops.copysign, _copysign_case, np.copysign, "exact"),
    Spec("fmax", ops.fmax, _apart_case, np.fmax, "exact"),
    Spec("fmin", ops.fmin, _apart_case, np.fmin, "exact"),
    unary("erfc", ops.erfc, lambda x: _scipy_special().erfc(x), -5.0, 5.0),
    unary("erfinv", ops.erfinv, lambda x: _scipy_special().erfinv(x), -0.95, 0.95),
    # around the poles (0 and the negative integers) at a distance of 0.1 at least
    unary("lgamma", ops.lgamma, lambda x: _scipy_special().gammaln(x), -4.5, 8.0, avoid=(0.0, -1.0, -2.0, -3.0, -4.0),
          margin=0.1),
    unary("digamma", ops.digamma, lambda x: _scipy_special().psi(x), -3.5, 8.0, avoid=(0.0, -1.0, -2.0, -3.0),
          margin=0.1),
    Spec("polygamma", ops.polygamma,
         unary_case(-2.5, 6.0, avoid=(0.0, -1.0, -2.0), margin=0.15, params=_params({"n": st.integers(1, 3)})),
         lambda x, n: _scipy_special().polygamma(n, x), call=lambda x, n: ops.polygamma(n, x)),
    unary("mvlgamma", ops.mvlgamma, _mvlgamma_ref, 1.5, 8.0, params=_params({"p": st.integers(1, 3)})),
    unary("i0", ops.i0, lambda x: _scipy_special().i0(x), -10.0, 10.0),
    unary("logit", ops.logit, _logit_ref, 0.05, 0.95, avoid=(0.1, 0.9), margin=0.02,
          params=_params({"eps": st.sampled_from([None, 0.1])})),
]


@st.composite
def _incomplete_gamma_case(draw, dtype, max_size):
    """igamma/igammac: a in [0.5, 8] (no gradient, as PyTorch), x in [0.1, 12], broadcasting."""
    sa, sx = draw(mst.broadcastable_shapes(2, max_size=max_size))
    return Case((draw(_arr(dtype, sa, 0.5, 8.0)), draw(_arr(dtype, sx, 0.1, 12.0))), requires_grad=(False, True))


SPECS += [
    Spec("igamma", ops.igamma, _incomplete_gamma_case, lambda a, x: _scipy_special().gammainc(a, x)),
    Spec("igammac", ops.igammac, _incomplete_gamma_case, lambda a, x: _scipy_special().gammaincc(a, x)),
    Spec("frexp", ops.frexp, lambda d, s: _frexp_case(d, s), lambda x: np.frexp(x)[0], "exact",
         call=lambda x: ops.frexp(x).mantissa),
]

@st.composite
def _frexp_case(draw, dtype, max_size):
    """The mantissa jumps at every power of two, infinitely many near 0: magnitudes in [0.3, 3.9] away from 0.5,
    1 and 2, either sign."""
    shape = draw(mst.shapes(max_size=max_size))
    magnitude = draw(_arr(dtype, shape, 0.3, 3.9, avoid=(0.5, 1.0, 2.0), margin=0.05))
    return Case(((magnitude * draw(_signs(dtype, shape))).astype(dtype),))


# -- transposed convolution, resampling, padding modes, 1-D pooling, pixel shuffle, instance norm ----------------
@st.composite
def _conv_transpose_geometry(draw, max_size, dims):
    roomy = max_size >= 24
    kernel = tuple(draw(st.integers(1, 3 if roomy else 2)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    size = tuple(draw(st.integers(1, 3 if roomy else 2)) for _ in range(dims))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    full = tuple((n - 1) * s + d * (k - 1) + 1 for n, s, d, k in zip(size, stride, dilation, kernel))
    padding = tuple(draw(st.integers(0, min(1, (f + q - 1) // 2))) for f, q in zip(full, output_padding))
    return kernel, stride, dilation, size, output_padding, padding


@st.composite
def _conv_transpose2d_case(draw, dtype, max_size):
    groups, c_group, o_group = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel, stride, dilation, size, output_padding, padding = draw(_conv_transpose_geometry(max_size, 2))
    batch = draw(st.integers(1, 2 if max_size >= 24 else 1))
    arrays = (draw(_arr(dtype, (batch, groups * c_group) + size, -3.0, 3.0)),
              draw(_arr(dtype, (groups * c_group, o_group) + kernel, -3.0, 3.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, (groups * o_group,), -3.0, 3.0)),)
    kwargs = {"stride": _as_arg(draw, stride), "padding": _as_arg(draw, padding),
              "output_padding": _as_arg(draw, output_padding), "groups": groups, "dilation": _as_arg(draw, dilation)}
    return Case(arrays, kwargs, n=c_group * kernel[0] * kernel[1])


def _conv_transpose2d_ref(x, w, *b, stride, padding, output_padding, groups, dilation):
    """Every input element scatters its kernel-weighted copy to (i * s + a * d, j * s + b * d); then PyTorch's
    crop of ``padding`` on each side, ``output_padding`` extra rows/columns at the end."""
    (sh, sw), (ph, pw), (qh, qw), (dh, dw) = (_pair2(v) for v in (stride, padding, output_padding, dilation))
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    oh, ow = (h - 1) * sh - 2 * ph + dh * (kh - 1) + qh + 1, (wd - 1) * sw - 2 * pw + dw * (kw - 1) + qw + 1
    full = np.zeros((n, og * groups, oh + 2 * ph, ow + 2 * pw))
    xg, wg = x.reshape(n, groups, c // groups, h, wd), w.reshape(groups, c // groups, og, kh, kw)
    for a in range(kh):
        for bb in range(kw):
            tap = np.einsum("ngcij,gco->ngoij", xg, wg[..., a, bb]).reshape(n, og * groups, h, wd)
            full[:, :, a * dh:a * dh + (h - 1) * sh + 1:sh, bb * dw:bb * dw + (wd - 1) * sw + 1:sw] += tap
    out = full[:, :, ph:ph + oh, pw:pw + ow]
    return out + b[0].reshape(1, -1, 1, 1) if b else out


@st.composite
def _conv_transpose1d_case(draw, dtype, max_size):
    groups, c_group, o_group = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    (k,), (s,), (d,), (length,), (q,), (p,) = draw(_conv_transpose_geometry(max_size, 1))
    arrays = (draw(_arr(dtype, (draw(st.integers(1, 2)), groups * c_group, length), -3.0, 3.0)),
              draw(_arr(dtype, (groups * c_group, o_group, k), -3.0, 3.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, (groups * o_group,), -3.0, 3.0)),)
    kwargs = {"stride": s, "padding": p, "output_padding": q, "groups": groups, "dilation": d}
    return Case(arrays, kwargs, n=c_group * k)


def _conv_transpose1d_ref(x, w, *b, stride, padding, output_padding, groups, dilation):
    return _conv_transpose2d_ref(x[:, :, None], w[:, :, None], *b, stride=(1, stride), padding=(0, padding),
                                 output_padding=(0, output_padding), groups=groups, dilation=(1, dilation))[:, :, 0]


_INTERPOLATE_SPATIAL = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}
_INTERPOLATE_TAPS = {"linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}


@st.composite
def _interpolate_case(draw, dtype, max_size):
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area"]))
    dims = _INTERPOLATE_SPATIAL.get(mode) or draw(st.integers(1, 2 if mode == "area" else 3))
    roomy = max_size >= 24
    spatial = tuple(draw(st.integers(1, 4 if roomy else 2)) for _ in range(dims))
    kwargs: dict = {"mode": mode}
    if draw(st.booleans()):
        kwargs["size"] = tuple(draw(st.integers(1, 6 if roomy else 3)) for _ in range(dims))
    else:
        kwargs["scale_factor"] = tuple(draw(st.sampled_from([0.5, 1.0, 1.1, 1.5, 2.0, 2.5, 3.0])) for _ in range(dims))
        if any(math.floor(n * f) < 1 for n, f in zip(spatial, kwargs["scale_factor"])):
            kwargs["scale_factor"] = tuple(max(f, 1.0) for f in kwargs["scale_factor"])
        if draw(st.booleans()):
            kwargs["recompute_scale_factor"] = True
    if mode in _INTERPOLATE_SPATIAL:
        kwargs["align_corners"] = draw(st.booleans())
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + spatial
    n = _INTERPOLATE_TAPS[mode] ** dims if mode in _INTERPOLATE_SPATIAL else math.prod(spatial) if mode == "area" else 1
    return Case((draw(_arr(dtype, shape)),), kwargs, n=n)


def _interpolate_taps(n, o, scale, mode, align_corners, ndim):
    """PyTorch's source taps [(index, weight), ...] of each output index along one axis (its documented rules:
    nearest in float32 arithmetic, linear in float64)."""
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        if not exact and ndim == 4 and o in (n, 2 * n):  # PyTorch's 2-D kernel: a copy, or a halving
            return [[(i if o == n else i // 2, 1.0)] for i in range(o)]
        ratio = np.float32(1.0 / scale) if scale else np.float32(n) / np.float32(o)
        return [[(min(int(np.floor((np.float32(i) + np.float32(0.5 if exact else 0)) * ratio)), n - 1), 1.0)]
                for i in range(o)]
    if mode == "bicubic":  # cubic convolution with A = -0.75 on the 4 nearest source indices, clamped
        a = -0.75
        ratio = ((n - 1) / (o - 1) if o > 1 else 0.0) if align_corners else (1.0 / scale if scale else n / o)
        taps = []
        for i in range(o):
            real = ratio * i if align_corners else ratio * (i + 0.5) - 0.5
            base = min(math.floor(real), n - 1)
            t = min(max(real - base, 0.0), 1.0)
            weights = []
            for d in (1 + t, t, 1 - t, 2 - t):  # distances to base - 1, base, base + 1, base + 2
                weights.append(((a + 2) * d - (a + 3)) * d * d + 1 if d <= 1 else a * d ** 3 - 5 * a * d * d
                               + 8 * a * d - 4 * a)
            taps.append([(min(max(base - 1 + k, 0), n - 1), w) for k, w in enumerate(weights)])
        return taps
    if o == n:
        return [[(i, 1.0)] for i in range(o)]
    if align_corners:
        real = [(n - 1) / (o - 1) * i if o > 1 else 0.0 for i in range(o)]
    else:
        ratio = 1.0 / scale if scale else n / o
        real = [max(ratio * (i + 0.5) - 0.5, 0.0) for i in range(o)]
    taps = []
    for r in real:
        i0 = min(int(math.floor(r)), n - 1)
        lam = min(max(r - i0, 0.0), 1.0)
        taps.append([(i0, 1.0 - lam), (i0 + (i0 < n - 1), lam)])
    return taps


def _interpolate_ref(x, mode, size=None, scale_factor=None, align_corners=None, recompute_scale_factor=None):
    spatial = x.shape[2:]
    if size is not None:
        out, scales = size, (None,) * len(spatial)
    else:
        out = tuple(math.floor(n * f) for n, f in zip(spatial, scale_factor))
        scales = (None,) * len(spatial) if recompute_scale_factor or mode == "area" else scale_factor
    if mode == "area":
        bins = [[(i * n // o, -(-(i + 1) * n // o)) for i in range(o)] for n, o in zip(spatial, out)]
        result = np.empty(x.shape[:2] + tuple(out))
        for pos in np.ndindex(*out):
            window = x[(Ellipsis,) + tuple(slice(*bins[a][i]) for a, i in enumerate(pos))]
            result[(Ellipsis,) + pos] = window.mean(axis=tuple(range(2, x.ndim)))
        return result
    taps = [_interpolate_taps(n, o, s, mode, align_corners, x.ndim) for n, o, s in zip(spatial, out, scales)]
    result = np.zeros(x.shape[:2] + tuple(out))
    for pos in np.ndindex(*out):  # the sum over every corner of the product of its per-axis weights
        for corner in itertools.product(*(taps[a][i] for a, i in enumerate(pos))):
            weight = math.prod(w for _, w in corner)
            result[(Ellipsis,) + pos] += weight * x[(Ellipsis,) + tuple(j for j, _ in corner)]
    return result


@st.composite
def _pad_modes_case(draw, dtype, max_size):
    mode = draw(st.sampled_from(["reflect", "replicate", "circular"]))
    k = draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(2, 3)) for _ in range(k))
    lead = (draw(st.integers(1, 2)),) * draw(st.integers(1, 2))
    limit = {"reflect": 1, "replicate": 3, "circular": 2}[mode]  # reflect: below the size; circular: at most
    pad = tuple(draw(st.integers(0, min(limit, n - (mode == "reflect")))) for n in reversed(spatial) for _ in "ab")
    return Case((draw(_arr(dtype, lead + spatial)),), {"pad": pad, "mode": mode})


def _pad_modes_ref(x, pad, mode):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode])


@st.composite
def _pool1d_case(draw, dtype, max_size, average=False):
    k, s, out = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    d = 1 if average else draw(st.integers(1, 2))
    padded = (out - 1) * s + d * (k - 1) + 1
    p = draw(st.integers(0, min(k // 2, (padded - 1) // 2)))
    if not average and not all(any(0 <= i * s - p + a * d < padded - 2 * p for a in range(k)) for i in range(out)):
        p = 0  # no window wholly in the padding
    shape = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)), padded - 2 * p)
    kwargs = {"kernel_size": k, "stride": s, "padding": p}
    if average:
        kwargs["count_include_pad"] = draw(st.booleans())
    else:
        kwargs["dilation"] = d
    return Case((draw(_arr(dtype, shape, distinct=not average)),), kwargs, n=k)


def _pool1d_ref(pool2d):
    def ref(x, kernel_size, stride, padding, **kw):
        batched = x if x.ndim == 3 else x[None]
        out = pool2d(batched[:, :, None], (1, kernel_size), (1, stride), (0, padding), **kw)[:, :, 0]
        return out if x.ndim == 3 else out[0]

    return ref


def _max_pool1d_ref(x, kernel_size, stride, padding, dilation):
    return _pool1d_ref(_max_pool2d_ref)(x, kernel_size, stride, padding, dilation=(1, dilation))


@st.composite
def _adaptive_avg_pool1d_case(draw, dtype, max_size):
    shape = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)), draw(st.integers(1, 6)))
    return Case((draw(_arr(dtype, shape)),), {"output_size": draw(st.integers(1, 5))}, n=shape[-1])


def _adaptive_avg_pool1d_ref(x, output_size):
    n = x.shape[-1]
    return np.stack([x[..., i * n // output_size:-(-(i + 1) * n // output_size)].mean(-1)
                     for i in range(output_size)], -1)


@st.composite
def _pixel_shuffle_case(draw, dtype, max_size, unshuffle=False):
    r = draw(st.integers(1, 2))
    lead = draw(mst.shapes(min_dims=0, max_dims=2, max_side=2))
    c, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    shape = lead + ((c, h * r, w * r) if unshuffle else (c * r * r, h, w))
    return Case((draw(_arr(dtype, shape)),), {("downscale_factor" if unshuffle else "upscale_factor"): r})


def _pixel_shuffle_ref(x, upscale_factor):
    r = upscale_factor
    *lead, c, h, w = x.shape
    out = np.empty((*lead, c // (r * r), h * r, w * r))
    for i in range(r):
        for j in range(r):
            out[..., i::r, j::r] = x[..., i * r + j::r * r, :, :]
    return out


def _pixel_unshuffle_ref(x, downscale_factor):
    r = downscale_factor
    *lead, c, h, w = x.shape
    out = np.empty((*lead, c * r * r, h // r, w // r))
    for i in range(r):
        for j in range(r):
            out[..., i * r + j::r * r, :, :] = x[..., i::r, j::r]
    return out


@st.composite
def _instance_norm_case(draw, dtype, max_size):
    spatial = draw(mst.shapes(min_dims=1, max_dims=2, min_side=1, max_side=3))
    if math.prod(spatial) < 2:
        spatial = (2,) + spatial[1:]
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + spatial
    arrays = (draw(_arr(dtype, shape, distinct=True)),)
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, shape[1:2], -2.0, 2.0)), draw(_arr(dtype, shape[1:2], -2.0, 2.0)))
    return Case(arrays, {}, n=math.prod(spatial))


def _instance_norm_ref(x, *wb, eps=1e-5):
    axes = tuple(range(2, x.ndim))
    out = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    per_channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return out * wb[0].reshape(per_channel) + wb[1].reshape(per_channel) if wb else out


SPECS += [
    Spec("F.conv_transpose2d", F.conv_transpose2d, _conv_transpose2d_case, _conv_transpose2d_ref, "matmul"),
    Spec("F.conv_transpose1d", F.conv_transpose1d, _conv_transpose1d_case, _conv_transpose1d_ref, "matmul"),
    Spec("F.interpolate", F.interpolate, _interpolate_case, _interpolate_ref, "reduction"),
    Spec("pad (reflect, replicate, circular)", ops.pad, _pad_modes_case, _pad_modes_ref, "exact"),
    Spec("F.max_pool1d", F.max_pool1d, _pool1d_case, _max_pool1d_ref, "exact"),
    Spec("F.avg_pool1d", F.avg_pool1d, lambda d, s: _pool1d_case(d, s, average=True), _pool1d_ref(_avg_pool2d_ref),
         "reduction"),
    Spec("F.adaptive_avg_pool1d", F.adaptive_avg_pool1d, _adaptive_avg_pool1d_case, _adaptive_avg_pool1d_ref,
         "reduction"),
    Spec("F.pixel_shuffle", F.pixel_shuffle, _pixel_shuffle_case, _pixel_shuffle_ref, "exact"),
    Spec("F.pixel_unshuffle", F.pixel_unshuffle, lambda d, s: _pixel_shuffle_case(d, s, unshuffle=True),
         _pixel_unshuffle_ref, "exact"),
    Spec("F.instance_norm", F.instance_norm, _instance_norm_case, _instance_norm_ref, "variance",
         call=lambda x, *wb: F.instance_norm(x, None, None, *wb)),
]


@st.composite
def _adaptive_max_pool2d_case(draw, dtype, max_size):
    lead = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)),)
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    size = draw(st.one_of(st.integers(1, 4), st.tuples(st.one_of(st.none(), st.integers(1, 4)),
                                                       st.one_of(st.none(), st.integers(1, 4)))))
    return Case((draw(_arr(dtype, lead + (h, w), distinct=True)),), {"output_size": size})


def _adaptive_max_pool2d_ref(x, output_size):
    h, w = x.shape[-2:]
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    oh, ow = h if oh is None else oh, w if ow is None else ow
    out = np.empty(x.shape[:-2] + (oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[..., i, j] = x[..., i * h // oh:-(-(i + 1) * h // oh), j * w // ow:-(-(j + 1) * w // ow)].max((-2, -1))
    return out


@st.composite
def _adaptive_max_pool1d_case(draw, dtype, max_size):
    shape = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)), draw(st.integers(1, 6)))
    return Case((draw(_arr(dtype, shape, distinct=True)),), {"output_size": draw(st.integers(1, 5))})


def _adaptive_max_pool1d_ref(x, output_size):
    n = x.shape[-1]
    return np.stack([x[..., i * n // output_size:-(-(i + 1) * n // output_size)].max(-1)
                     for i in range(output_size)], -1)


SPECS += [
    Spec("F.adaptive_max_pool2d", F.adaptive_max_pool2d, _adaptive_max_pool2d_case, _adaptive_max_pool2d_ref,
         "exact"),
    Spec("F.adaptive_max_pool1d", F.adaptive_max_pool1d, _adaptive_max_pool1d_case, _adaptive_max_pool1d_ref,
         "exact"),
]



# -- margin, embedding and likelihood losses: kinks avoided by construction (margins around them, lattices) -----
def _signs(dtype, shape, values=(-1.0, 1.0)):
    return mst.arrays(dtype, shape, elements_strategy=st.sampled_from(values))


@st.composite
def _margin_ranking_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    margin = draw(st.sampled_from([0.0, 0.5]))
    x1 = draw(_arr(dtype, shape, -3.0, 3.0))
    diff = draw(_arr(dtype, shape, -3.0, 3.0, avoid=(margin, -margin), margin=0.05))
    return Case((x1, (x1 - diff).astype(dtype), draw(_signs(dtype, shape))),
                {"margin": margin, "reduction": draw(_REDUCTION)}, n=math.prod(shape))


def _margin_ranking_ref(x1, x2, t, margin, reduction):
    return _reduce_ref(np.maximum(0.0, -t * (x1 - x2) + margin), reduction)


@st.composite
def _hinge_embedding_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    margin = draw(st.sampled_from([1.0, 0.5]))
    x = draw(_arr(dtype, shape, -3.0, 3.0, avoid=(margin,), margin=0.05))
    return Case((x, draw(_signs(dtype, shape))), {"margin": margin, "reduction": draw(_REDUCTION)},
                requires_grad=(True, False), n=math.prod(shape))


def _hinge_embedding_ref(x, t, margin, reduction):
    return _reduce_ref(np.where(t != 1, np.maximum(0.0, margin - x), 0.0) + np.where(t != -1, x, 0.0), reduction)


@st.composite
def _soft_margin_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    return Case((draw(_arr(dtype, shape, -5.0, 5.0)), draw(_signs(dtype, shape))), {"reduction": draw(_REDUCTION)},
                n=math.prod(shape))


@st.composite
def _cosine_embedding_case(draw, dtype, max_size):
    """Rows (N, D) with a (N,) target or vectors (D,) with a 0-d one; margins outside [-1, 1] keep cos - margin
    away from the kink (always counted, or never)."""
    batch = draw(st.sampled_from([(), (draw(st.integers(1, 4)),)]))
    shape = batch + (draw(st.integers(1, 4)),)
    x1, x2 = (draw(_arr(dtype, shape, -3.0, 3.0, avoid=(0.0,), margin=0.3)) for _ in range(2))
    kwargs = {"margin": draw(st.sampled_from([-1.5, 1.5])), "reduction": draw(_REDUCTION)}
    return Case((x1, x2, draw(_signs(dtype, batch))), kwargs, requires_grad=(True, True, False), n=shape[-1])


def _cosine_embedding_ref(x1, x2, t, margin, reduction):
    cos = (x1 * x2).sum(-1) / np.sqrt(((x1 * x1).sum(-1) + 1e-12) * ((x2 * x2).sum(-1) + 1e-12))
    return _reduce_ref(np.where(t == 1, 1 - cos, 0.0) + np.where(t == -1, np.maximum(0.0, cos - margin), 0.0),
                       reduction)


@st.composite
def _pairwise_distance_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    x1 = draw(_arr(dtype, shape, -3.0, 3.0))
    diff = draw(_arr(dtype, shape, -3.0, 3.0, avoid=(0.0,), margin=0.1))
    kwargs = {"p": draw(st.sampled_from([1.0, 2.0, 3.0])), "keepdim": draw(st.booleans())}
    return Case((x1, (x1 - diff).astype(dtype)), kwargs, n=shape[-1])


def _pairwise_distance_ref(x1, x2, p, keepdim, eps=1e-6):
    return (np.abs(x1 - x2 + eps) ** p).sum(-1, keepdims=keepdim) ** (1 / p)


@st.composite
def _triplet_case(draw, dtype, max_size, with_p=True):
    """positive = anchor + s u1, negative = anchor -/+ s u2 (s random signs, u1 in [0.1, 0.5], u2 in [1, 2]): every
    component of every difference is away from 0, and d(a, n) < d(p, n) (negative "-") or d(p, n) < d(a, n)
    ("+"), so swap's minimum has no tie; a margin of 1000 keeps the hinge active, 0.05 (with "-") inactive."""
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    s = draw(_signs(np.float64, shape))
    a = draw(_arr(np.float64, shape, -3.0, 3.0))
    u1, u2 = draw(_arr(np.float64, shape, 0.1, 0.5)), draw(_arr(np.float64, shape, 1.0, 2.0))
    active = draw(st.booleans())
    side = draw(st.sampled_from([-1.0, 1.0])) if active else -1.0
    kwargs = {"margin": 1000.0 if active else 0.05, "swap": draw(st.booleans()), "reduction": draw(_REDUCTION)}
    if with_p:
        kwargs["p"] = draw(st.sampled_from([1.0, 2.0, 3.0]))
    return Case((a.astype(dtype), (a + s * u1).astype(dtype), (a + side * s * u2).astype(dtype)), kwargs,
                n=shape[-1])


def _triplet_ref(a, pos, neg, margin, swap, reduction, p=2.0):
    dp, dn = _pairwise_distance_ref(a, pos, p, False), _pairwise_distance_ref(a, neg, p, False)
    if swap:
        dn = np.minimum(dn, _pairwise_distance_ref(pos, neg, p, False))
    return _reduce_ref(np.maximum(0.0, margin + dp - dn), reduction)


def _lattice(dtype, shape):
    """Multiples of 0.4 in [-2.4, 2.4]: differences are multiples of 0.4, so never within 0.1 of a margin of 1 or
    0.5 (the hinge's kink)."""
    return mst.arrays(np.int64, shape, elements_strategy=st.integers(-6, 6)).map(lambda k: (k * 0.4).astype(dtype))


@st.composite
def _multi_margin_case(draw, dtype, max_size):
    c = draw(st.integers(1, 5))
    batch = draw(st.sampled_from([(), (draw(st.integers(1, 5)),)]))
    x = draw(_lattice(dtype, batch + (c,)))
    target = draw(mst.arrays(np.int64, batch, elements_strategy=st.integers(0, c - 1)))
    arrays = (x, target)
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, (c,), 0.5, 2.0)),)
    kwargs = {"p": draw(st.sampled_from([1, 2])), "margin": draw(st.sampled_from([1.0, 0.5])),
              "reduction": draw(_REDUCTION)}
    return Case(arrays, kwargs, n=c)


def _multi_margin_ref(x, t, *w, p, margin, reduction):
    x2 = x.reshape(-1, x.shape[-1])
    t2 = t.reshape(-1)
    xy = x2[np.arange(len(t2)), t2][:, None]
    z = np.maximum(0.0, margin - xy + x2) ** p
    z[np.arange(len(t2)), t2] = 0.0
    if w:
        z = z * w[0][t2][:, None]
    loss = z.sum(1) / x2.shape[1]
    return _reduce_ref(loss if x.ndim == 2 else loss.reshape(()), reduction)


@st.composite
def _multilabel_margin_case(draw, dtype, max_size):
    c = draw(st.integers(1, 5))
    batch = draw(st.sampled_from([(), (draw(st.integers(1, 4)),)]))
    x = draw(_lattice(dtype, batch + (c,)))
    rows = []
    for _ in range(math.prod(batch)):
        listed = draw(st.lists(st.integers(0, c - 1), max_size=c))
        tail = draw(st.lists(st.integers(-1, c - 1), min_size=c - len(listed), max_size=c - len(listed)))
        rows.append((listed + [-1] + tail)[:c])  # a -1 ends the list; what follows it is ignored
    return Case((x, np.array(rows, np.int64).reshape(batch + (c,))), {"reduction": draw(_REDUCTION)}, n=c * c)


def _multilabel_margin_ref(x, t, reduction):
    x2, t2 = x.reshape(-1, x.shape[-1]), t.reshape(-1, x.shape[-1])
    losses = []
    for row, listed in zip(x2, t2):
        targets = list(listed[:list(listed).index(-1)] if -1 in list(listed) else listed)
        others = [i for i in range(len(row)) if i not in targets]
        losses.append(sum(max(0.0, 1 - row[j] + row[i]) for j in targets for i in others) / len(row))
    loss = np.array(losses)
    return _reduce_ref(loss if x.ndim == 2 else loss.reshape(()), reduction)


@st.composite
def _multilabel_soft_margin_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_dims=2, max_size=max_size))
    arrays = (draw(_arr(dtype, shape, -5.0, 5.0)), draw(_arr(dtype, shape, 0.0, 1.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, shape[-1:], 0.0, 2.0)),)
    return Case(arrays, {"reduction": draw(_REDUCTION)}, n=math.prod(shape))


def _multilabel_soft_margin_ref(x, t, *w, reduction):
    loss = t * np.logaddexp(0.0, -x) + (1 - t) * np.logaddexp(0.0, x)
    loss = loss * w[0] if w else loss
    return _reduce_ref(loss.sum(-1) / x.shape[-1], reduction)


@st.composite
def _poisson_nll_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    log_input, full = draw(st.booleans()), draw(st.booleans())
    x = draw(_arr(dtype, shape, -3.0, 2.0) if log_input else _arr(dtype, shape, 0.1, 5.0))
    t = draw(_arr(dtype, shape, 0.0, 5.0, avoid=(1.0,), margin=0.05))  # Stirling's term starts at t = 1
    return Case((x, t), {"log_input": log_input, "full": full, "reduction": draw(_REDUCTION)}, n=math.prod(shape))


def _poisson_nll_ref(x, t, log_input, full, reduction, eps=1e-8):
    loss = np.exp(x) - t * x if log_input else x - t * np.log(x + eps)
    if full:
        safe = np.where(t > 1, t, 2.0)
        loss = loss + np.where(t > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe), 0.0)
    return _reduce_ref(loss, reduction)


@st.composite
def _gaussian_nll_case(draw, dtype, max_size):
    """var of the input's shape, that shape without its last dimension, or with one dimension of size 1; values
    above eps (the clamp is outside autograd)."""
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    form = draw(st.sampled_from(["same", "short", "one"]))
    if form == "same":
        var_shape = shape
    elif form == "short":
        var_shape = shape[:-1]
    else:
        axis = draw(st.integers(0, len(shape) - 1))
        var_shape = shape[:axis] + (1,) + shape[axis + 1:]
    arrays = (draw(_arr(dtype, shape, -3.0, 3.0)), draw(_arr(dtype, shape, -3.0, 3.0)),
              draw(_arr(dtype, var_shape, 0.1, 3.0)))
    return Case(arrays, {"full": draw(st.booleans()), "reduction": draw(_REDUCTION)}, n=math.prod(shape))


def _gaussian_nll_ref(x, t, var, full, reduction):
    if var.shape != x.shape and var.shape == x.shape[:-1]:
        var = var[..., None]
    loss = 0.5 * (np.log(var) + (x - t) ** 2 / var) + (0.5 * np.log(2 * np.pi) if full else 0.0)
    return _reduce_ref(loss, reduction)


SPECS += [
    Spec("F.margin_ranking_loss", F.margin_ranking_loss, _margin_ranking_case, _margin_ranking_ref, "reduction"),
    Spec("F.hinge_embedding_loss", F.hinge_embedding_loss, _hinge_embedding_case, _hinge_embedding_ref, "reduction"),
    Spec("F.soft_margin_loss", F.soft_margin_loss, _soft_margin_case,
         lambda x, t, reduction: _reduce_ref(np.logaddexp(0.0, -x * t), reduction)),
    Spec("F.cosine_embedding_loss", F.cosine_embedding_loss, _cosine_embedding_case, _cosine_embedding_ref,
         "variance"),
    Spec("F.pairwise_distance", F.pairwise_distance, _pairwise_distance_case, _pairwise_distance_ref),
    Spec("F.triplet_margin_loss", F.triplet_margin_loss, _triplet_case, _triplet_ref),
    Spec("F.triplet_margin_with_distance_loss", F.triplet_margin_with_distance_loss,
         lambda d, s: _triplet_case(d, s, with_p=False), _triplet_ref),
    Spec("F.multi_margin_loss", F.multi_margin_loss, _multi_margin_case, _multi_margin_ref, "variance",
         call=lambda x, t, *w, **kw: F.multi_margin_loss(x, t, weight=w[0] if w else None, **kw)),
    Spec("F.multilabel_margin_loss", F.multilabel_margin_loss, _multilabel_margin_case, _multilabel_margin_ref,
         "reduction"),
    Spec("F.multilabel_soft_margin_loss", F.multilabel_soft_margin_loss, _multilabel_soft_margin_case,
         _multilabel_soft_margin_ref),
    Spec("F.poisson_nll_loss", F.poisson_nll_loss, _poisson_nll_case, _poisson_nll_ref),
    Spec("F.gaussian_nll_loss", F.gaussian_nll_loss, _gaussian_nll_case, _gaussian_nll_ref),
]


@st.composite
def _bilinear_case(draw, dtype, max_size):
    batch = draw(mst.shapes(min_dims=0, max_dims=2, max_side=3))
    in1, in2, out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    arrays = (draw(_arr(dtype, batch + (in1,), -2.0, 2.0)), draw(_arr(dtype, batch + (in2,), -2.0, 2.0)),
              draw(_arr(dtype, (out, in1, in2), -2.0, 2.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, (out,), -2.0, 2.0)),)
    return Case(arrays, n=in1 * in2)


def _bilinear_ref(x1, x2, w, *b):
    out = np.einsum("...i,oij,...j->...o", x1, w, x2)
    return out + b[0] if b else out


@st.composite
def _embedding_bag_case(draw, dtype, max_size):
    """A 2-D input (each row a bag) or a 1-D one with offsets (empty bags included, CSR offsets with
    include_last_offset), a mode, maybe padding_idx and (mode 'sum') per-sample weights. Distinct weights: no ties
    between different rows for 'max'."""
    rows, dim = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    weight = draw(_arr(dtype, (rows, dim), distinct=True))
    mode = draw(st.sampled_from(["sum", "mean", "max"]))
    kwargs = {"mode": mode, "padding_idx": draw(st.sampled_from([None, 0])),
              "include_last_offset": False}
    if draw(st.booleans()):
        shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        arrays = (draw(mst.arrays(np.int64, shape, elements_strategy=st.integers(0, rows - 1))), weight)
    else:
        length = draw(st.integers(0, 6))
        index = draw(mst.arrays(np.int64, (length,), elements_strategy=st.integers(0, rows - 1)))
        cuts = sorted(draw(st.lists(st.integers(0, length), max_size=3)))
        kwargs["include_last_offset"] = draw(st.booleans())
        offsets = np.array([0] + cuts + ([length] if kwargs["include_last_offset"] else []), np.int64)
        arrays = (index, weight, offsets)
    if mode == "sum" and draw(st.booleans()):
        arrays += (draw(_arr(dtype, arrays[0].shape, -2.0, 2.0)),)
    return Case(arrays, kwargs, n=max(1, arrays[0].size))


def _embedding_bag_call(index, weight, *rest, **kwargs):
    offsets = next((r for r in rest if r.dtype.kind in "iu"), None)
    per_sample = next((r for r in rest if r.dtype.kind == "f"), None)
    return F.embedding_bag(index, weight, offsets, per_sample_weights=per_sample, **kwargs)


def _embedding_bag_ref(index, weight, *rest, mode, padding_idx, include_last_offset):
    offsets = next((r for r in rest if r.dtype.kind in "iu"), None)
    per_sample = next((r for r in rest if r.dtype.kind == "f"), None)
    scale = np.ones(index.shape) if per_sample is None else per_sample
    if index.ndim == 2:
        bags = [(list(i), list(s)) for i, s in zip(index, scale)]
    else:
        ends = list(offsets[1:]) if include_last_offset else list(offsets[1:]) + [len(index)]
        starts = list(offsets[:-1]) if include_last_offset else list(offsets)
        bags = [(list(index[s:e]), list(scale[s:e])) for s, e in zip(starts, ends)]
    out = np.zeros((len(bags), weight.shape[1]))
    for b, (members, weights) in enumerate(bags):
        kept = [(m, w) for m, w in zip(members, weights) if m != padding_idx]
        if not kept:
            continue
        vectors = np.array([weight[m] * w for m, w in kept])
        out[b] = vectors.max(0) if mode == "max" else vectors.sum(0) / (len(kept) if mode == "mean" else 1)
    return out


SPECS += [
    Spec("F.bilinear", F.bilinear, _bilinear_case, _bilinear_ref, "matmul"),
    Spec("F.embedding_bag", F.embedding_bag, _embedding_bag_case, _embedding_bag_ref, "reduction",
         call=_embedding_bag_call),
]


@st.composite
def _ctc_case(draw, dtype, max_size):
    """Normalised log-probabilities (T, N, C) (or (T, C)), targets padded (N, S) or concatenated, free of the
    blank, and input lengths long enough for every target (its labels plus a blank between repeats)."""
    steps, batch, classes = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(2, 4))
    blank = draw(st.integers(0, classes - 1))
    labels = [c for c in range(classes) if c != blank]
    rows, in_lengths = [], []
    for _ in range(batch):
        row = draw(st.lists(st.sampled_from(labels), max_size=3))
        while row and len(row) + sum(a == b for a, b in zip(row, row[1:])) > steps:
            row = row[:-1]
        need = len(row) + sum(a == b for a, b in zip(row, row[1:]))
        rows.append(row)
        in_lengths.append(draw(st.integers(max(need, 1), steps)))
    logits = draw(_arr(np.float64, (steps, batch, classes), -3.0, 3.0))
    log_probs = (logits - _logsumexp(logits, 2, keepdims=True)).astype(dtype)
    lengths = np.array([len(r) for r in rows], np.int64)
    if draw(st.booleans()):
        targets = np.zeros((batch, max(1, lengths.max())), np.int64)
        for n, row in enumerate(rows):
            targets[n, :len(row)] = row
    else:
        targets = np.array([c for row in rows for c in row], np.int64)
    kwargs = {"blank": blank, "reduction": draw(_REDUCTION), "zero_infinity": draw(st.booleans())}
    if batch == 1 and targets.ndim == 1 and draw(st.booleans()):  # unbatched: (T, C), 0-d lengths
        return Case((log_probs[:, 0], targets, np.array(in_lengths[0]), lengths[0]), kwargs, n=steps * 7)
    return Case((log_probs, targets, np.array(in_lengths, np.int64), lengths), kwargs, n=steps * 7)


def _ctc_ref(log_probs, targets, in_lengths, lengths, blank, reduction, zero_infinity):
    """The forward recursion over alignments in probabilities (Graves et al. 2006, eq. 6-7), row by row."""
    lp = log_probs if log_probs.ndim == 3 else log_probs[:, None]
    in_lengths, lengths = np.atleast_1d(in_lengths), np.atleast_1d(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    losses = []
    for n in range(lp.shape[1]):
        row = targets[n, :lengths[n]] if targets.ndim == 2 else targets[starts[n]:starts[n + 1]]
        ext = [blank]
        for c in row:
            ext += [int(c), blank]
        prob = np.exp(lp[:, n])
        alpha = np.zeros(len(ext))
        alpha[0] = 1.0
        for t in range(in_lengths[n]):
            new = np.zeros_like(alpha)
            for s in range(len(ext)):
                total = alpha[s] + (alpha[s - 1] if s >= 1 else 0.0)
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    total += alpha[s - 2]
                new[s] = total * prob[t, ext[s]]
            alpha = new
        losses.append(-np.log(alpha[-1] + (alpha[-2] if len(ext) > 1 else 0.0)))
    loss = np.array(losses)
    if reduction == "mean":
        return (loss / np.maximum(lengths, 1)).mean()
    return loss.sum() if reduction == "sum" else (loss if log_probs.ndim == 3 else loss.reshape(()))


SPECS += [
    Spec("F.ctc_loss", F.ctc_loss, _ctc_case, _ctc_ref, "softmax"),
]



# -- minigrad.linalg --------------------------------------------------------------------------------------------
# Matrices by construction from a drawn seed: Q1 diag(s) Q2ᵀ with orthogonal Q1, Q2 and singular values s spread
# over [0.5, 2] at least 0.3 / k apart (condition number <= 4); symmetric ones Q diag(λ) Qᵀ with distinct λ.
# Decompositions are compared through quantities that do not depend on the sign of each eigen/singular vector.
def _orthogonal(rng, n, batch):
    return np.linalg.qr(rng.standard_normal((*batch, n, n)))[0]


def _spread(rng, k, batch, lo, hi):
    base = np.linspace(lo, hi, k) if k > 1 else np.full(1, (lo + hi) / 2)
    return base + rng.uniform(-0.25, 0.25, (*batch, k)) * (hi - lo) / max(k, 2)


def _conditioned(rng, m, n, batch):
    k = min(m, n)
    s = _spread(rng, k, batch, 0.5, 2.0)
    return (_orthogonal(rng, m, batch)[..., :k] * s[..., None, :]) @ np.swapaxes(_orthogonal(rng, n, batch)[..., :k],
                                                                                -1, -2)


def _symmetric(rng, n, batch, lo=-2.0, hi=2.0):
    q = _orthogonal(rng, n, batch)
    return (q * _spread(rng, n, batch, lo, hi)[..., None, :]) @ np.swapaxes(q, -1, -2)


@st.composite
def _matrix_case(draw, dtype, max_size, *, kind="square", params=None, extra=None):
    """One matrix (or a batch): "square" well conditioned, "rect" any m x n well conditioned, "sym" symmetric
    with distinct eigenvalues, "spd" symmetric positive-definite. ``extra(rng, a)``: further arrays."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch = draw(st.sampled_from([(), (2,)]))
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 4)) if kind == "rect" else n
    if kind in ("square", "rect"):
        a = _conditioned(rng, m, n, batch)
    else:
        a = _symmetric(rng, n, batch, *((0.5, 2.0) if kind == "spd" else (-2.0, 2.0)))
    kwargs = draw(params) if params is not None else {}
    arrays = (a, *(extra(rng, a, kwargs) if extra else ()))
    return Case(tuple(x.astype(dtype) for x in arrays), kwargs, n=max(m, n) ** 2)


def _gauge_weights(k):
    return np.arange(1.0, k + 1.0)


def _projector(u, lib_weights):
    """U diag(c) Uᵀ: invariant to each column's sign."""
    return (u * lib_weights) @ np.swapaxes(u, -1, -2) if isinstance(u, np.ndarray) else (u * lib_weights) @ u.mT


def _sym(a):
    return (a + np.swapaxes(a, -1, -2)) / 2 if isinstance(a, np.ndarray) else (a + a.mT) / 2


def _eigh_call(a, UPLO):  # noqa: N803
    lam, u = linalg.eigh(_sym(a), UPLO)
    return lam, _projector(u, minigrad.tensor(_gauge_weights(u.shape[-1]), dtype=u.dtype, backend=u.backend))


def _eigh_ref(a, UPLO):  # noqa: N803
    lam, u = np.linalg.eigh(_sym(a), UPLO)
    return lam, _projector(u, _gauge_weights(u.shape[-1]))


def _svd_call(a, full_matrices):
    u, s, vh = linalg.svd(a, full_matrices)
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]
    c = minigrad.tensor(_gauge_weights(k), dtype=u.dtype, backend=u.backend)
    return (u * s.unsqueeze(-2)) @ vh, s, _projector(u, c), _projector(vh.mT, c)


def _svd_ref(a, full_matrices):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]
    c = _gauge_weights(k)
    return (u * s[..., None, :]) @ vh, s, _projector(u, c), _projector(np.swapaxes(vh, -1, -2), c)


@st.composite
def _vector_norm_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    x = draw(_arr(dtype, shape, 0.2, 5.0, distinct=True))  # away from |x|'s kink, no ties for inf
    x = (x * draw(mst.arrays(np.int64, shape, elements_strategy=st.sampled_from([-1, 1])))).astype(dtype)
    dim = draw(st.one_of(st.none(), _axes(len(shape))))
    ord_ = draw(st.sampled_from([2, 1, 3, 0.5, -1.5, math.inf, -math.inf]))
    return Case((x,), {"ord": ord_, "dim": dim, "keepdim": draw(st.booleans())},
                n=_reduced(shape, dim) if dim is not None else x.size)


def _vector_norm_ref(x, ord, dim, keepdim):  # noqa: A002
    axes = tuple(range(x.ndim)) if dim is None else dim
    a = np.abs(x)
    if ord == math.inf:
        return np.max(a, axis=axes, keepdims=keepdim)
    if ord == -math.inf:
        return np.min(a, axis=axes, keepdims=keepdim)
    return np.sum(a ** ord, axis=axes, keepdims=keepdim) ** (1.0 / ord)


@st.composite
def _matrix_norm_case(draw, dtype, max_size):
    """inf/1 orders: |a_ij| in [1, 1.5] · 4^i · 16^j, so row sums and column sums are distinct (no ties) and no
    entry is near 0; "fro"/"nuc"/2/-2: a well-conditioned matrix (distinct singular values)."""
    ord_ = draw(st.sampled_from(["fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2]))
    batch = draw(st.sampled_from([(), (2,)]))
    m, n = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if ord_ in (math.inf, -math.inf, 1, -1):
        scale = 4.0 ** np.arange(m)[:, None] * 16.0 ** np.arange(n)[None, :]
        a = draw(_arr(dtype, (*batch, m, n), 1.0, 1.5)) * scale
        a = a * draw(mst.arrays(np.int64, a.shape, elements_strategy=st.sampled_from([-1, 1])))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        a = _conditioned(rng, m, n, batch)
    dim = draw(st.sampled_from([(-2, -1), (-1, -2)] + ([(0, 2), (2, 0)] if batch else [])))
    a = np.moveaxis(a, (-2, -1), dim)  # the rows and columns built above are the ones dim names
    return Case((np.ascontiguousarray(a, dtype=dtype),), {"ord": ord_, "dim": dim, "keepdim": draw(st.booleans())},
                n=m * n)


def _matrix_norm_ref(a, ord, dim, keepdim):  # noqa: A002
    out = np.linalg.norm(np.moveaxis(a, dim, (-2, -1)), ord, axis=(-2, -1))
    for d in sorted(x % a.ndim for x in dim):
        out = np.expand_dims(out, d) if keepdim else out
    return out


_LINALG_NORM_FORMS = st.sampled_from([{"ord": None, "dim": None}, {"ord": "fro", "dim": (-2, -1)},
                                      {"ord": 2, "dim": -1}, {"ord": "nuc", "dim": None}, {"ord": -2, "dim": None}])


def _linalg_norm_case(dtype, max_size):
    def matrix_dims_for_a_batch(case):  # an ord without dim needs a 2-D input: name the dims of a batch
        if case.arrays[0].ndim > 2 and case.kwargs["ord"] is not None and case.kwargs["dim"] is None:
            return Case(case.arrays, {**case.kwargs, "dim": (-2, -1)}, n=case.n)
        return case
    return _matrix_case(dtype, max_size, kind="rect", params=_LINALG_NORM_FORMS).map(matrix_dims_for_a_batch)


def _linalg_norm_ref(a, ord, dim):  # noqa: A002
    if ord is None and dim is None:
        return np.linalg.norm(a.reshape(-1))
    if dim is None:
        return np.linalg.norm(a, ord)
    return np.linalg.norm(a, ord, axis=dim)


def _solve_extra(rng, a, kwargs):
    n = a.shape[-1]
    return (rng.standard_normal((*a.shape[:-2], n, 2) if kwargs["left"] else (*a.shape[:-2], 2, n)),)


def _cross_case(dtype, max_size):
    @st.composite
    def draw_case(draw, dtype, max_size):
        sa, sb = draw(mst.broadcastable_shapes(2, min_dims=1, max_dims=3, max_size=12))
        sa, sb = (*sa[:-1], 3), (*sb[:-1], 3)
        if len(sa) != len(sb):  # PyTorch's linalg.cross wants one number of dimensions
            sb = (1,) * (len(sa) - len(sb)) + sb if len(sa) > len(sb) else sb
            sa = (1,) * (len(sb) - len(sa)) + sa
        return Case((draw(_arr(dtype, sa, -3, 3)), draw(_arr(dtype, sb, -3, 3))), {})
    return draw_case(dtype, max_size)


def _cross_ref(a, b):
    return np.cross(a, b, axis=-1)


def _vecdot_case(dtype, max_size):
    @st.composite
    def draw_case(draw, dtype, max_size):
        sa, sb = draw(mst.broadcastable_shapes(2, min_dims=1, max_dims=3, max_size=max_size))
        dim = draw(st.integers(-min(len(sa), len(sb)), -1))
        shape = np.broadcast_shapes(sa, sb)
        return Case((draw(_arr(dtype, sa, -3, 3)), draw(_arr(dtype, sb, -3, 3))), {"dim": dim}, n=shape[dim])
    return draw_case(dtype, max_size)


def _multi_dot_case(dtype, max_size):
    @st.composite
    def draw_case(draw, dtype, max_size):
        count = draw(st.integers(2, 4))
        sizes = [draw(st.integers(1, 4)) for _ in range(count + 1)]
        shapes = [(sizes[i], sizes[i + 1]) for i in range(count)]
        if draw(st.booleans()):
            shapes[0] = shapes[0][1:]
        if draw(st.booleans()):
            shapes[-1] = shapes[-1][:1]
        return Case(tuple(draw(_arr(dtype, s, -2, 2)) for s in shapes), {}, n=max(sizes) ** 2)
    return draw_case(dtype, max_size)


def _multi_dot_ref(*arrays):
    return np.linalg.multi_dot(arrays)


def _qr_case(dtype, max_size):
    # "complete" has a gradient only for m <= n (where it equals "reduced"): a wide or square matrix for it
    @st.composite
    def draw_case(draw, dtype, max_size):
        case = draw(_matrix_case(dtype, max_size, kind="rect", params=_params({"mode": st.just("reduced")})))
        a = case.arrays[0]
        mode = draw(st.sampled_from(["reduced", "complete"]))
        if mode == "complete" and a.shape[-2] > a.shape[-1]:
            a = np.swapaxes(a, -1, -2).copy()
        return Case((a,), {"mode": mode}, n=case.n)
    return draw_case(dtype, max_size)


def _pinv_case(dtype, max_size):
    @st.composite
    def draw_case(draw, dtype, max_size):
        hermitian = draw(st.booleans())
        case = draw(_matrix_case(dtype, max_size, kind="sym" if hermitian else "rect"))
        return Case(case.arrays, {"hermitian": hermitian}, n=case.n)
    return draw_case(dtype, max_size)


_UPLO = _params({"UPLO": st.sampled_from(["L", "U"])})

SPECS += [
    Spec("linalg.vector_norm", linalg.vector_norm, _vector_norm_case, _vector_norm_ref, "reduction"),
    Spec("linalg.matrix_norm", linalg.matrix_norm, _matrix_norm_case, _matrix_norm_ref, "linalg"),
    Spec("linalg.norm", linalg.norm, _linalg_norm_case, _linalg_norm_ref, "linalg"),
    Spec("linalg.inv", linalg.inv, lambda d, s: _matrix_case(d, s), np.linalg.inv, "linalg"),
    Spec("linalg.det", linalg.det, lambda d, s: _matrix_case(d, s), np.linalg.det, "linalg"),
    Spec("linalg.slogdet", linalg.slogdet, lambda d, s: _matrix_case(d, s), lambda a: np.linalg.slogdet(a)[1],
         "linalg", call=lambda a: linalg.slogdet(a).logabsdet),
    Spec("linalg.solve", linalg.solve,
         lambda d, s: _matrix_case(d, s, params=_params({"left": st.booleans()}), extra=_solve_extra),
         lambda a, b, left: np.linalg.solve(a, b) if left else np.swapaxes(
             np.linalg.solve(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)), -1, -2), "linalg"),
    Spec("linalg.cholesky", linalg.cholesky,
         lambda d, s: _matrix_case(d, s, kind="spd", params=_params({"upper": st.booleans()})),
         lambda a, upper: np.swapaxes(np.linalg.cholesky(a), -1, -2) if upper else np.linalg.cholesky(a), "linalg",
         call=lambda a, upper: linalg.cholesky(_sym(a), upper=upper)),  # gradcheck perturbs both triangles
    Spec("linalg.matrix_power", linalg.matrix_power,
         lambda d, s: _matrix_case(d, s, params=_params({"n": st.integers(-3, 4)})),
         np.linalg.matrix_power, "linalg"),
    Spec("linalg.cross", linalg.cross, _cross_case, _cross_ref, "matmul"),
    Spec("linalg.vecdot", linalg.vecdot, _vecdot_case, lambda x, y, dim: np.sum(x * y, axis=dim), "matmul"),
    Spec("linalg.multi_dot", linalg.multi_dot, _multi_dot_case, _multi_dot_ref, "matmul",
         call=lambda *tensors: linalg.multi_dot(tensors)),
    Spec("linalg.qr", linalg.qr, _qr_case, lambda a, mode: np.linalg.qr(a, mode), "linalg"),
    Spec("linalg.eigh", linalg.eigh, lambda d, s: _matrix_case(d, s, kind="sym", params=_UPLO), _eigh_ref, "linalg",
         call=_eigh_call),
    Spec("linalg.eigvalsh", linalg.eigvalsh, lambda d, s: _matrix_case(d, s, kind="sym", params=_UPLO),
         lambda a, UPLO: np.linalg.eigvalsh(_sym(a), UPLO), "linalg",  # noqa: N803
         call=lambda a, UPLO: linalg.eigvalsh(_sym(a), UPLO)),  # noqa: N803
    Spec("linalg.svd", linalg.svd,
         lambda d, s: _matrix_case(d, s, kind="rect", params=_params({"full_matrices": st.booleans()})),
         _svd_ref, "linalg", call=_svd_call),
    Spec("linalg.svdvals", linalg.svdvals, lambda d, s: _matrix_case(d, s, kind="rect"),
         lambda a: np.linalg.svd(a, compute_uv=False), "linalg"),
    Spec("linalg.pinv", linalg.pinv, _pinv_case, lambda a, hermitian: np.linalg.pinv(a, hermitian=hermitian),
         "linalg", call=lambda a, hermitian: linalg.pinv(_sym(a) if hermitian else a, hermitian=hermitian)),
]


# minigrad.linalg's second group (minigrad/ops/linalg_extra.py): references from NumPy and SciPy, matrix by matrix
def _each_matrix(fn, *arrays):
    """fn applied to each matrix of a batch (SciPy's linalg functions take one matrix)."""
    batch = arrays[0].shape[:-2]
    if not batch:
        return fn(*arrays)
    outs = [fn(*(a[i] for a in arrays)) for i in np.ndindex(batch)]
    if isinstance(outs[0], tuple):
        return tuple(np.stack(o).reshape(*batch, *o[0].shape) for o in zip(*outs))
    return np.stack(outs).reshape(*batch, *outs[0].shape)


@st.composite
def _triangular_case(draw, dtype, max_size):
    """A triangle with diagonal entries of magnitude in [1, 2] and off-diagonal ones at most 0.5 / n (condition
    number a few units), both triangles filled (only one is read), and B fitting ``left``."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch = draw(st.sampled_from([(), (2,)]))
    n = draw(st.integers(1, 4))
    kwargs = draw(_params({"upper": st.booleans(), "left": st.booleans(), "unitriangular": st.booleans()}))
    d = rng.uniform(1.0, 2.0, (*batch, n)) * rng.choice([-1, 1], (*batch, n))
    a = rng.uniform(-0.5, 0.5, (*batch, n, n)) / n * (1 - np.eye(n)) + d[..., None] * np.eye(n)
    b = _solve_extra(rng, a, kwargs)[0]
    return Case((a.astype(dtype), b.astype(dtype)), kwargs, n=n * n)


def _triangular_ref(a, b, upper, left, unitriangular):
    t = np.triu(a) if upper else np.tril(a)
    if unitriangular:
        t = t * (1 - np.eye(a.shape[-1])) + np.eye(a.shape[-1])
    return np.linalg.solve(t, b) if left else np.swapaxes(np.linalg.solve(np.swapaxes(t, -1, -2),
                                                                          np.swapaxes(b, -1, -2)), -1, -2)


def _lstsq_extra(rng, a, kwargs):
    return (rng.standard_normal((*a.shape[:-1], 2)),)


def _lu_solve_extra(rng, a, kwargs):
    return _solve_extra(rng, a, kwargs)


def _lu_solve_ref(a, b, left, adjoint):
    a = np.swapaxes(a, -1, -2) if adjoint else a
    return np.linalg.solve(a, b) if left else np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2),
                                                                          np.swapaxes(b, -1, -2)), -1, -2)


def _scipy_linalg():
    import scipy.linalg

    return scipy.linalg


@st.composite
def _tensor_square_case(draw, dtype, max_size, *, solve):
    """A (6, 6) well-conditioned matrix as (2, 3, 6) (ind=2, or tensorsolve with B (2, 3)) or (6, 2, 3) (ind=1)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = _conditioned(rng, 6, 6, ())
    if solve:
        return Case((a.reshape(2, 3, 6).astype(dtype), rng.standard_normal((2, 3)).astype(dtype)), n=36)
    ind = draw(st.sampled_from([1, 2]))
    return Case((a.reshape((6, 2, 3) if ind == 1 else (2, 3, 6)).astype(dtype),), {"ind": ind}, n=36)


@st.composite
def _vander_case(draw, dtype, max_size):
    shape = draw(st.sampled_from([(2,), (3,), (4,), (2, 3)]))
    x = draw(_arr(dtype, shape, -1.5, 1.5))
    return Case((x,), {"N": draw(st.sampled_from([None, 2, 3, 5]))}, n=5)


def _vander_ref(x, N):  # noqa: N803
    n = x.shape[-1] if N is None else N
    return x[..., None] ** np.arange(n)


@st.composite
def _householder_case(draw, dtype, max_size):
    batch = draw(st.sampled_from([(), (2,)]))
    n = draw(st.integers(1, 3))
    m = draw(st.integers(n, 4))
    k = draw(st.integers(0, n))
    return Case((draw(_arr(dtype, (*batch, m, n), -1.0, 1.0)), draw(_arr(dtype, (*batch, k), -1.0, 1.0))), n=m * m)


def _householder_ref(a, tau):
    m, n = a.shape[-2:]
    q = np.broadcast_to(np.eye(m)[:, :n], (*a.shape[:-2], m, n))
    for i in range(tau.shape[-1] - 1, -1, -1):
        v = np.where(np.arange(m) > i, a[..., :, i], np.arange(m) == i)[..., None]
        q = q - tau[..., i, None, None] * (v @ (np.swapaxes(v, -1, -2) @ q))
    return q

@st.composite
def _ormqr_case(draw, dtype, max_size):
    case = draw(_householder_case(dtype, max_size))
    a, tau = case.arrays
    kwargs = draw(_params({"left": st.booleans(), "transpose": st.booleans()}))
    m = a.shape[-2]
    c_shape = (*a.shape[:-2], m, 2) if kwargs["left"] else (*a.shape[:-2], 2, m)
    return Case((a, tau, draw(_arr(dtype, c_shape, -1.0, 1.0))), kwargs, n=m * m)


def _ormqr_ref(a, tau, other, left, transpose):
    m = a.shape[-2]
    q = _householder_ref(np.concatenate([a, np.zeros((*a.shape[:-1], m - a.shape[-1]))], -1),
                         np.concatenate([tau, np.zeros((*tau.shape[:-1], 0))], -1))  # the full m x m Q
    q = np.swapaxes(q, -1, -2) if transpose else q
    return q @ other if left else other @ q

SPECS += [
    Spec("linalg.solve_triangular", linalg.solve_triangular, _triangular_case, _triangular_ref, "linalg"),
    Spec("linalg.lstsq", linalg.lstsq,
         lambda d, s: _matrix_case(d, s, kind="rect", params=_params({"driver": st.sampled_from(
             [None, "gelsd"])}), extra=_lstsq_extra),
         lambda a, b, driver: np.linalg.pinv(a) @ b, "linalg",
         call=lambda a, b, driver: linalg.lstsq(a, b, driver=driver).solution),
    Spec("linalg.lu_factor", linalg.lu_factor, lambda d, s: _matrix_case(d, s, kind="rect"),
         lambda a: _each_matrix(lambda m: _lu_packed(m), a), "linalg", call=lambda a: linalg.lu_factor(a).LU),
    Spec("linalg.lu_factor_ex", linalg.lu_factor_ex, lambda d, s: _matrix_case(d, s, kind="rect"),
         lambda a: _each_matrix(lambda m: _lu_packed(m), a), "linalg", call=lambda a: linalg.lu_factor_ex(a).LU),
    Spec("linalg.lu", linalg.lu, lambda d, s: _matrix_case(d, s, kind="rect"),
         lambda a: _each_matrix(lambda m: tuple(_scipy_linalg().lu(m)), a), "linalg",
         call=lambda a: tuple(linalg.lu(a))),
    Spec("linalg.lu_solve", linalg.lu_solve,
         lambda d, s: _matrix_case(d, s, params=_params({"left": st.booleans(), "adjoint": st.booleans()}),
                                   extra=_lu_solve_extra), _lu_solve_ref, "linalg",
         call=lambda a, b, left, adjoint: linalg.lu_solve(*linalg.lu_factor(a), b, left=left, adjoint=adjoint)),
    Spec("linalg.matrix_exp", linalg.matrix_exp, lambda d, s: _matrix_case(d, s),
         lambda a: _each_matrix(lambda m: _scipy_linalg().expm(m), a), "linalg"),
    Spec("linalg.cond", linalg.cond,
         lambda d, s: _matrix_case(d, s, params=_params({"p": st.sampled_from([None, 2, -2, "fro", "nuc"])})),
         lambda a, p: np.linalg.cond(a, p), "linalg"),  # inf/1 orders: kinks in |a| and ties (tests/test_port_linalg2)
    Spec("linalg.tensorinv", linalg.tensorinv, lambda d, s: _tensor_square_case(d, s, solve=False),
         lambda a, ind: np.linalg.tensorinv(a, ind), "linalg"),
    Spec("linalg.tensorsolve", linalg.tensorsolve, lambda d, s: _tensor_square_case(d, s, solve=True),
         np.linalg.tensorsolve, "linalg"),
    Spec("linalg.vander", linalg.vander, _vander_case, _vander_ref, "matmul"),
    Spec("linalg.cholesky_ex", linalg.cholesky_ex, lambda d, s: _matrix_case(d, s, kind="spd"),
         np.linalg.cholesky, "linalg", call=lambda a: linalg.cholesky_ex(_sym(a)).L),
    Spec("linalg.inv_ex", linalg.inv_ex, lambda d, s: _matrix_case(d, s), np.linalg.inv, "linalg",
         call=lambda a: linalg.inv_ex(a).inverse),
    Spec("linalg.householder_product", linalg.householder_product, _householder_case, _householder_ref, "matmul"),
    Spec("ormqr", ops.ormqr, _ormqr_case, _ormqr_ref, "matmul"),
    Spec("linalg.solve_ex", linalg.solve_ex,
         lambda d, s: _matrix_case(d, s, params=_params({"left": st.booleans()}), extra=_solve_extra),
         lambda a, b, left: np.linalg.solve(a, b) if left else np.swapaxes(
             np.linalg.solve(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)), -1, -2), "linalg",
         call=lambda a, b, left: linalg.solve_ex(a, b, left=left).result),
]


def _lu_packed(m):
    """LAPACK's packed LU of one (m, n) matrix, from SciPy's P, L, U."""
    _, low, up = _scipy_linalg().lu(m)
    k = min(m.shape)
    packed = np.zeros(m.shape)
    packed[:, :k] += np.tril(low, -1)
    packed[:k, :] += np.triu(up)
    return packed

# the torch namespace helpers (minigrad/ops/stacking.py): stacking, tensordot, block_diag, combinations,
# std_mean/var_mean and the trapezoidal rule
@st.composite
def _stacker_case(draw, dtype, max_size, *, grow_axis):
    """1-3 arrays that join along ``grow_axis`` of their atleast_nd forms (their only differing side)."""
    shape = draw(mst.shapes(max_dims=3, max_side=3))
    arrays = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shape)
        if grow_axis(len(s)) is not None:
            s[grow_axis(len(s))] = draw(st.integers(1, 3))
        arrays.append(draw(_arr(dtype, tuple(s))))
    return Case(tuple(arrays))


@st.composite
def _column_stack_case(draw, dtype, max_size):
    n = draw(st.integers(1, 3))
    shapes = [draw(st.sampled_from([(n,), (n, draw(st.integers(1, 3)))])) for _ in range(draw(st.integers(1, 3)))]
    return Case(tuple(draw(_arr(dtype, s)) for s in shapes))


@st.composite
def _atleast_case(draw, dtype, max_size):
    return Case((draw(_arr(dtype, draw(mst.shapes(max_dims=4, max_side=3)))),))


@st.composite
def _broadcast_tensors_case(draw, dtype, max_size):
    shapes = draw(mst.broadcastable_shapes(draw(st.integers(1, 3)), max_size=max_size))
    return Case(tuple(draw(_arr(dtype, s)) for s in shapes))


@st.composite
def _block_diag_case(draw, dtype, max_size):
    shapes = [draw(mst.shapes(max_dims=2, min_side=0, max_side=3)) for _ in range(draw(st.integers(1, 3)))]
    return Case(tuple(draw(_arr(dtype, s)) for s in shapes))


def _block_diag_ref(*xs):
    blocks = [x.reshape(1, -1) if x.ndim < 2 else x for x in xs]
    out = np.zeros((sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)), blocks[0].dtype)
    r = c = 0
    for b in blocks:
        out[r:r + b.shape[0], c:c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    return out


@st.composite
def _tensordot_case(draw, dtype, max_size):
    a_shape = draw(mst.shapes(max_dims=3, max_side=3))
    if draw(st.booleans()):  # dims=n: a's last n sides lead b's shape
        n = draw(st.integers(0, len(a_shape)))
        b_shape = a_shape[len(a_shape) - n:] + draw(mst.shapes(max_dims=2, max_side=3))
        dims, contracted = n, a_shape[len(a_shape) - n:]
    else:  # a pair of lists, in any order
        k = draw(st.integers(0, len(a_shape)))
        da = draw(st.permutations(range(len(a_shape))))[:k]
        extra = draw(mst.shapes(max_dims=2, max_side=3))
        b_ndim = k + len(extra)
        db = draw(st.permutations(range(b_ndim)))[:k]
        b_shape, rest = [0] * b_ndim, iter(extra)
        for i in range(b_ndim):
            b_shape[i] = a_shape[da[db.index(i)]] if i in db else next(rest)
        dims, b_shape, contracted = (list(da), list(db)), tuple(b_shape), tuple(a_shape[d] for d in da)
    a, b = draw(_arr(dtype, a_shape, -3.0, 3.0)), draw(_arr(dtype, b_shape, -3.0, 3.0))
    return Case((a, b), {"dims": dims}, n=max(1, math.prod(contracted)))


@st.composite
def _cartesian_prod_case(draw, dtype, max_size):
    return Case(tuple(draw(_arr(dtype, (draw(st.integers(1, 3)),))) for _ in range(draw(st.integers(1, 3)))))


def _cartesian_prod_ref(*xs):
    if len(xs) == 1:
        return xs[0]
    return np.stack([g.reshape(-1) for g in np.meshgrid(*xs, indexing="ij")], 1)


@st.composite
def _combinations_case(draw, dtype, max_size):
    x = draw(_arr(dtype, (draw(st.integers(0, 5)),)))
    return Case((x,), {"r": draw(st.integers(1, 3)), "with_replacement": draw(st.booleans())})


def _combinations_ref(x, r, with_replacement):
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    return np.array([[x[i] for i in c] for c in pick(range(len(x)), r)], x.dtype).reshape(-1, r)


@st.composite
def _trapezoid_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_dims=3, max_size=max_size))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    y = draw(_arr(dtype, shape))
    form = draw(st.sampled_from(["dx", "x1d", "xfull"]))
    if form == "dx":
        return Case((y,), {"dim": dim, "dx": draw(st.sampled_from([None, 0.5, -2.0]))}, n=shape[dim])
    x_shape = (shape[dim],) if form == "x1d" else shape
    return Case((y, draw(_arr(dtype, x_shape, -3.0, 3.0))), {"dim": dim}, n=shape[dim])


def _trapezoid_pieces_ref(y, x=None, *, dim, dx=None):
    y = np.moveaxis(y, dim, -1)
    if x is None:
        spacing = 1.0 if dx is None else dx
    else:
        x = np.moveaxis(x, dim, -1) if x.ndim == y.ndim else x
        spacing = np.diff(x, axis=-1)
    return (y[..., 1:] + y[..., :-1]) / 2 * spacing


def _trapezoid_ref(y, *x, dim, dx=None):
    return np.sum(_trapezoid_pieces_ref(y, *x, dim=dim, dx=dx), -1)


def _cumulative_trapezoid_ref(y, *x, dim, dx=None):
    return np.moveaxis(np.cumsum(_trapezoid_pieces_ref(y, *x, dim=dim, dx=dx), -1), -1, dim)


def _moments_ref(spread):
    def reference(x, axis, keepdims, correction):
        return spread(x, axis, ddof=correction, keepdims=keepdims), np.mean(x, axis, keepdims=keepdims)

    return reference


SPECS += [
    Spec("vstack", ops.vstack, lambda d, s: _stacker_case(d, s, grow_axis=lambda n: 0 if n >= 2 else None),
         lambda *xs: np.vstack(xs), "exact", call=lambda *xs: ops.vstack(xs)),
    Spec("hstack", ops.hstack, lambda d, s: _stacker_case(d, s, grow_axis=lambda n: None if n == 0 else min(n, 2) - 1),
         lambda *xs: np.hstack(xs), "exact", call=lambda *xs: ops.hstack(xs)),
    Spec("dstack", ops.dstack, lambda d, s: _stacker_case(d, s, grow_axis=lambda n: 2 if n >= 3 else None),
         lambda *xs: np.dstack(xs), "exact", call=lambda *xs: ops.dstack(xs)),
    Spec("column_stack", ops.column_stack, _column_stack_case, lambda *xs: np.column_stack(xs), "exact",
         call=lambda *xs: ops.column_stack(xs)),
    Spec("atleast_1d", ops.atleast_1d, _atleast_case, np.atleast_1d, "exact"),
    Spec("atleast_2d", ops.atleast_2d, _atleast_case, np.atleast_2d, "exact"),
    Spec("atleast_3d", ops.atleast_3d, _atleast_case, np.atleast_3d, "exact"),
    Spec("broadcast_tensors", ops.broadcast_tensors, _broadcast_tensors_case,
         lambda *xs: tuple(np.broadcast_arrays(*xs)), "exact"),
    Spec("block_diag", ops.block_diag, _block_diag_case, _block_diag_ref, "exact"),
    Spec("tensordot", ops.tensordot, _tensordot_case, lambda a, b, dims: np.tensordot(a, b, dims), "matmul"),
    Spec("cartesian_prod", ops.cartesian_prod, _cartesian_prod_case, _cartesian_prod_ref, "exact"),
    Spec("combinations", ops.combinations, _combinations_case, _combinations_ref, "exact"),
    Spec("std_mean", ops.std_mean, reduction_case(min_side=2, min_dims=1, distinct=True, extra=_CORRECTION),
         _moments_ref(np.std), "variance",
         call=lambda x, axis, keepdims, correction: ops.std_mean(x, axis, keepdim=keepdims, correction=correction)),
    Spec("var_mean", ops.var_mean, reduction_case(min_side=2, min_dims=1, extra=_CORRECTION),
         _moments_ref(np.var), "variance",
         call=lambda x, axis, keepdims, correction: ops.var_mean(x, axis, keepdim=keepdims, correction=correction)),
    Spec("trapezoid", ops.trapezoid, _trapezoid_case, _trapezoid_ref, "reduction",
         call=lambda y, *x, dim, dx=None: ops.trapezoid(y, *x, dx=dx, dim=dim)),
    Spec("cumulative_trapezoid", ops.cumulative_trapezoid, _trapezoid_case, _cumulative_trapezoid_ref, "reduction",
         call=lambda y, *x, dim, dx=None: ops.cumulative_trapezoid(y, *x, dx=dx, dim=dim)),
]

# -- PyTorch's indexing and statistics functions (minigrad/ops/indexing.py, minigrad/ops/statistics.py) --------------
@st.composite
def _dim_case(draw, dtype, max_size, *, min_dims=1, distinct=False, lo=-10.0, hi=10.0):
    """One tensor of at least ``min_dims`` dimensions and one of its dims (negative too)."""
    shape = draw(mst.shapes(min_dims=min_dims, max_size=max_size))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return draw(_arr(dtype, shape, lo, hi, distinct=distinct)), dim


def _two_dims(draw, ndim: int) -> tuple[int, int]:
    d1 = draw(st.integers(0, ndim - 1))
    d2 = draw(st.sampled_from([d for d in range(ndim) if d != d1]))
    return draw(st.sampled_from([d1, d1 - ndim])), draw(st.sampled_from([d2, d2 - ndim]))


@st.composite
def _diagonal_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=2, max_size=max_size))
    dim1, dim2 = _two_dims(draw, len(shape))
    return Case((draw(_arr(dtype, shape)),), {"offset": draw(st.integers(-3, 3)), "dim1": dim1, "dim2": dim2})


def _diagonal_positions(rows: int, cols: int, offset: int):
    length = max(0, min(rows + min(offset, 0), cols - max(offset, 0)))
    return np.arange(length) - min(offset, 0), np.arange(length) + max(offset, 0)


@st.composite
def _diag_embed_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_dims=3, max_size=max(1, max_size // 8)))
    dim1, dim2 = _two_dims(draw, len(shape) + 1)
    return Case((draw(_arr(dtype, shape)),), {"offset": draw(st.integers(-2, 2)), "dim1": dim1, "dim2": dim2})


def _diag_embed_ref(x, offset, dim1, dim2):
    n = x.shape[-1] + abs(offset)
    out = np.zeros(x.shape[:-1] + (n, n), x.dtype)
    rows, cols = _diagonal_positions(n, n, offset)
    out[..., rows, cols] = x
    return np.moveaxis(out, (-2, -1), (dim1 % out.ndim, dim2 % out.ndim))


@st.composite
def _unflatten_case(draw, dtype, max_size):
    x, dim = draw(_dim_case(dtype, max_size))
    n = x.shape[dim]
    first = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    sizes = draw(st.sampled_from([(first, n // first), (first, -1), (-1, n // first, 1), (n,)]))
    return Case((x,), {"dim": dim, "sizes": sizes})


def _unflatten_ref(x, dim, sizes):
    dim %= x.ndim
    return x.reshape(x.shape[:dim] + tuple(sizes) + x.shape[dim + 1:])


@st.composite
def _index_dim_case(draw, dtype, max_size, *, unique=False, source=True):
    """x, a 1-D index along dim (repeats unless ``unique``) and, with ``source``, its source slices."""
    x, dim = draw(_dim_case(dtype, max_size))
    n = x.shape[dim]
    if unique:
        index = np.array(draw(st.permutations(range(n)))[:draw(st.integers(1, n))], np.int64)
    else:
        index = draw(_index_along((draw(st.integers(1, 4)),), 0, n))
    arrays = (x,)
    if source:
        shape = list(x.shape)
        shape[dim] = index.size
        arrays += (draw(_arr(dtype, tuple(shape))),)
    return Case(arrays + (index,), {"dim": dim}, n=index.size + 1)


def _moved_write(x, dim, index, write):
    out = x.copy()
    write(np.moveaxis(out, dim, 0), index)
    return out


@st.composite
def _index_add_case(draw, dtype, max_size):
    case = draw(_index_dim_case(dtype, max_size))
    return Case(case.arrays, {**case.kwargs, "alpha": draw(st.sampled_from([1, 2.5, -0.5]))}, n=case.n)


def _index_add_ref(x, source, index, dim, alpha):
    return _moved_write(x, dim, index, lambda out, i: np.add.at(out, i, alpha * np.moveaxis(source, dim, 0)))


def _index_copy_ref(x, source, index, dim):
    def write(out, i):
        out[i] = np.moveaxis(source, dim, 0)

    return _moved_write(x, dim, index, write)


@st.composite
def _index_fill_case(draw, dtype, max_size):
    case = draw(_index_dim_case(dtype, max_size, source=False))
    return Case(case.arrays, {**case.kwargs, "value": draw(st.sampled_from([0.0, -1.5, 3.0]))})


def _index_fill_ref(x, index, dim, value):
    def write(out, i):
        out[i] = value

    return _moved_write(x, dim, index, write)


@st.composite
def _masked_scatter_case(draw, dtype, max_size):
    shape, mask_shape = draw(mst.broadcastable_shapes(2, max_size=max_size))
    out_shape = np.broadcast_shapes(shape, mask_shape)
    mask = draw(mst.arrays(np.bool_, mask_shape, elements_strategy=st.booleans()))
    x = draw(_arr(dtype, out_shape))
    count = int(np.broadcast_to(mask, out_shape).sum())
    source = draw(_arr(dtype, (count + draw(st.integers(0, 2)),)))
    return Case((x, mask, source))


def _masked_scatter_ref(x, mask, source):
    out = x.copy()
    where = np.broadcast_to(mask, x.shape)
    out[where] = source[:int(where.sum())]
    return out


@st.composite
def _take_case(draw, dtype, max_size):
    x = draw(_arr(dtype, draw(mst.shapes(min_dims=0, max_size=max_size))))
    index_shape = draw(mst.shapes(max_dims=2, max_size=6))
    index = draw(mst.arrays(np.int64, index_shape, elements_strategy=st.integers(-x.size, x.size - 1)))
    return Case((x, index))


@st.composite
def _take_along_dim_case(draw, dtype, max_size):
    x, dim = draw(_dim_case(dtype, max_size))
    if draw(st.booleans()):
        index = draw(mst.arrays(np.int64, (draw(st.integers(1, 5)),), elements_strategy=st.integers(0, x.size - 1)))
        return Case((x, index), {"dim": None})
    shape = [draw(st.sampled_from([1, n])) for n in x.shape]
    shape[dim] = draw(st.integers(1, 4))
    if draw(st.booleans()):  # x broadcast against the index instead
        x = x[tuple(slice(0, 1) if d != dim % x.ndim and draw(st.booleans()) else slice(None) for d in range(x.ndim))]
        x = np.ascontiguousarray(x)
    return Case((x, draw(_index_along(tuple(shape), dim, x.shape[dim]))), {"dim": dim})


def _take_along_dim_ref(x, index, dim):
    if dim is None:
        return x.reshape(-1)[index]
    return np.take_along_axis(x, index, dim)


@st.composite
def _put_case(draw, dtype, max_size):
    x = draw(_arr(dtype, draw(mst.shapes(min_dims=1, max_size=max_size))))
    accumulate = draw(st.booleans())
    count = draw(st.integers(1, min(x.size, 5)))
    if accumulate:  # repeats add up
        index = draw(mst.arrays(np.int64, (count,), elements_strategy=st.integers(-x.size, x.size - 1)))
    else:  # one value per position (PyTorch leaves the winner of a repeat unspecified)
        index = np.array(draw(st.permutations(range(x.size)))[:count], np.int64) - draw(st.sampled_from([0, x.size]))
    return Case((x, draw(_arr(dtype, (count,))), index), {"accumulate": accumulate}, n=count + 1)


def _put_ref(x, source, index, accumulate):
    out = x.copy().reshape(-1)
    if accumulate:
        np.add.at(out, index, source)
    else:
        out[index] = source
    return out.reshape(x.shape)


@st.composite
def _tensor_split_case(draw, dtype, max_size):
    x, dim = draw(_dim_case(dtype, max_size))
    n = x.shape[dim]
    if draw(st.booleans()):
        sections = draw(st.integers(1, n + 2))
    else:
        sections = tuple(draw(st.lists(st.integers(-n - 1, n + 1), max_size=3)))
    return Case((x,), {"sections": sections, "dim": dim})


@st.composite
def _rot90_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=2, max_size=max_size))
    return Case((draw(_arr(dtype, shape)),), {"k": draw(st.integers(-5, 5)), "dims": _two_dims(draw, len(shape))})


@st.composite
def _select_scatter_case(draw, dtype, max_size):
    x, dim = draw(_dim_case(dtype, max_size))
    n = x.shape[dim]
    index = draw(st.integers(-n, n - 1))
    src = draw(_arr(dtype, x.shape[:dim % x.ndim] + x.shape[dim % x.ndim + 1:]))
    return Case((x, src), {"dim": dim, "index": index})


def _select_scatter_ref(x, src, dim, index):
    out = x.copy()
    out[(slice(None),) * (dim % x.ndim) + (index,)] = src
    return out


@st.composite
def _slice_scatter_case(draw, dtype, max_size):
    x, dim = draw(_dim_case(dtype, max_size))
    n = x.shape[dim]
    start = draw(st.one_of(st.none(), st.integers(-n, n)))
    end = draw(st.one_of(st.none(), st.integers(-n, n)))
    step = draw(st.integers(1, 3))
    position = (slice(None),) * (dim % x.ndim) + (slice(start, end, step),)
    src = draw(_arr(dtype, x[position].shape))
    return Case((x, src), {"dim": dim, "start": start, "end": end, "step": step})


def _slice_scatter_ref(x, src, dim, start, end, step):
    out = x.copy()
    out[(slice(None),) * (dim % x.ndim) + (slice(start, end, step),)] = src
    return out


@st.composite
def _diagonal_scatter_case(draw, dtype, max_size):
    case = draw(_diagonal_case(dtype, max_size))
    (x,), kwargs = case.arrays, case.kwargs
    src = draw(_arr(dtype, np.diagonal(x, kwargs["offset"], kwargs["dim1"], kwargs["dim2"]).shape))
    return Case((x, src), kwargs)


def _diagonal_scatter_ref(x, src, offset, dim1, dim2):
    out = x.copy()
    moved = np.moveaxis(out, (dim1 % x.ndim, dim2 % x.ndim), (-2, -1))  # a view: writes go into out
    rows, cols = _diagonal_positions(moved.shape[-2], moved.shape[-1], offset)
    moved[..., rows, cols] = src
    return out


@st.composite
def _diff_case(draw, dtype, max_size):
    x, dim = draw(_dim_case(dtype, max_size))
    ends = []
    for _ in range(2):
        shape = list(x.shape)
        shape[dim] = draw(st.integers(1, 2))
        ends.append(draw(_arr(dtype, tuple(shape))))
    return Case((x, *ends), {"n": draw(st.integers(1, 3)), "dim": dim}, n=8)  # n = 0: tests/test_port_indexing.py


@st.composite
def _nan_case(draw, dtype, max_size, *, distinct=False, with_dim=True):
    """x (finite) and a bool mask of the entries the call turns into NaN; with ``with_dim`` a dim whose every
    slice keeps its first element (no slice is all NaN), else the first element stays."""
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    x = draw(_arr(dtype, shape, distinct=distinct))
    mask = draw(mst.arrays(np.bool_, shape, elements_strategy=st.booleans()))
    if with_dim:
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        first = np.moveaxis(mask, dim, 0)
        first[0] = False
        return Case((x, mask), {"dim": dim, "keepdim": draw(st.booleans())}, n=shape[dim])
    mask.reshape(-1)[0] = False
    return Case((x, mask), {}, n=x.size)


def _with_nan(x, mask):
    """x with NaN where ``mask`` holds: a tensor op (its gradient is zero there) or NumPy, as the inputs are."""
    if isinstance(x, np.ndarray):
        return np.where(mask, np.nan, x)
    return ops.where(mask, minigrad.tensor(float("nan"), dtype=x.dtype, backend=x.backend), x)


def _order_stat_ref(pick):
    """values and indices along dim: ``pick(line)`` gives the chosen index of a 1-D slice."""
    def reference(x, dim, keepdim, **kwargs):
        moved = np.moveaxis(x, dim, -1)
        index = np.apply_along_axis(lambda line: pick(line, **kwargs), -1, moved).astype(np.int64)
        values = np.take_along_axis(moved, index[..., None], -1)[..., 0]
        if keepdim:
            values, index = np.expand_dims(values, dim), np.expand_dims(index, dim)
        return values, index

    return reference


def _lower_median_index(line):
    finite = np.flatnonzero(~np.isnan(line))
    order = finite[np.argsort(line[finite], kind="stable")]
    return order[(order.size - 1) // 2]


@st.composite
def _order_stat_case(draw, dtype, max_size, *, k=False):
    x, dim = draw(_dim_case(dtype, max_size, distinct=True))
    kwargs = {"dim": dim, "keepdim": draw(st.booleans())}
    if k:
        kwargs["k"] = draw(st.integers(1, x.shape[dim]))
    return Case((x,), kwargs, n=x.shape[dim])


@st.composite
def _global_median_case(draw, dtype, max_size):
    shape = draw(mst.shapes(max_size=max_size))
    return Case((draw(_arr(dtype, shape, distinct=True)),))


_QUANTILE_Q = st.sampled_from([0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0])  # exact ranks in any dtype


@st.composite
def _quantile_case(draw, dtype, max_size, *, nan=False):
    if nan:
        case = draw(_nan_case(dtype, max_size, distinct=True))
        arrays, dim, keepdim = case.arrays, case.kwargs["dim"], case.kwargs["keepdim"]
    else:
        shape = draw(mst.shapes(min_dims=0, max_size=max_size))
        arrays = (draw(_arr(dtype, shape, distinct=True)),)
        dim = None if not shape or draw(st.booleans()) else draw(st.integers(-len(shape), len(shape) - 1))
        keepdim = draw(st.booleans())
    q = draw(st.one_of(_QUANTILE_Q, st.lists(_QUANTILE_Q, min_size=1, max_size=3).map(tuple)))
    interpolation = draw(st.sampled_from(["linear", "lower", "higher", "midpoint", "nearest"]))
    return Case(arrays, {"q": q, "dim": dim, "keepdim": keepdim, "interpolation": interpolation})


def _quantile_call(op):
    def call(x, *mask, q, dim, keepdim, interpolation):
        if mask:
            x = _with_nan(x, mask[0])
        q = minigrad.tensor(q, dtype=x.dtype, backend=x.backend) if isinstance(q, tuple) else q
        return op(x, q, dim, keepdim, interpolation=interpolation)

    return call


def _quantile_ref(x, *mask, q, dim, keepdim, interpolation):
    fn = np.quantile
    if mask:
        x, fn = np.where(mask[0], np.nan, x), np.nanquantile
    return fn(x, np.array(q), axis=dim, keepdims=keepdim, method=interpolation)


@st.composite
def _aminmax_case(draw, dtype, max_size):
    shape = draw(mst.shapes(max_size=max_size))
    x = draw(_arr(dtype, shape, distinct=True))
    dim = None if not shape or draw(st.booleans()) else draw(st.integers(-len(shape), len(shape) - 1))
    return Case((x,), {"dim": dim, "keepdim": draw(st.booleans())})


def _aminmax_ref(x, dim, keepdim):
    if dim is None and keepdim:
        return np.min(x, keepdims=True).reshape((1,) * x.ndim), np.max(x, keepdims=True).reshape((1,) * x.ndim)
    return np.min(x, dim, keepdims=keepdim), np.max(x, dim, keepdims=keepdim)


@st.composite
def _cov_case(draw, dtype, max_size):
    rows = draw(st.integers(0, 3))  # 0: a 1-D input
    observations = draw(st.integers(3, 6))
    x = draw(_arr(dtype, (observations,) if rows == 0 else (rows, observations)))
    fweights = draw(mst.arrays(np.int64, (observations,), elements_strategy=st.integers(1, 3)))
    aweights = draw(_arr(dtype, (observations,), 0.5, 2.0))
    weighting = draw(st.sampled_from(["none", "f", "a", "both"]))
    kwargs = {"correction": draw(st.sampled_from([0, 1])), "weighting": weighting}
    return Case((x, fweights, aweights), kwargs, requires_grad=(True, False, weighting in ("a", "both")),
                n=observations * 3)


def _cov_call(x, fweights, aweights, correction, weighting):
    return ops.cov(x, correction=correction, fweights=fweights if weighting in ("f", "both") else None,
                   aweights=aweights if weighting in ("a", "both") else None)


def _cov_ref(x, fweights, aweights, correction, weighting):
    return np.cov(x, ddof=correction, fweights=fweights if weighting in ("f", "both") else None,
                  aweights=aweights if weighting in ("a", "both") else None)


@st.composite
def _corrcoef_case(draw, dtype, max_size):
    """Rows far from collinear by construction (orthogonal centred Helmert contrasts, scaled to entries of about 3,
    plus noise in [-0.5, 0.5]): every correlation off the diagonal stays clear of clip's kinks at -1 and 1."""
    observations = draw(st.integers(4, 6))
    rows = draw(st.integers(1, 3))
    helmert = np.zeros((rows, observations))
    for k in range(1, rows + 1):
        helmert[k - 1, :k], helmert[k - 1, k] = 1.0, -k
        helmert[k - 1] *= 3 * math.sqrt(observations) / np.linalg.norm(helmert[k - 1])
    noise = draw(_arr(dtype, (rows, observations), -0.5, 0.5))
    return Case(((helmert + noise).astype(dtype),), n=18)


@st.composite
def _kron_case(draw, dtype, max_size):
    a = draw(_arr(dtype, draw(mst.shapes(max_dims=3, max_size=8))))
    b = draw(_arr(dtype, draw(mst.shapes(max_dims=3, max_size=8))))
    return Case((a, b))


@st.composite
def _inner_case(draw, dtype, max_size):
    """Batch shapes of at most 2 dimensions before a common last dimension k; sometimes a 0-d operand."""
    k = draw(st.integers(1, 4))
    a_shape, b_shape = (draw(mst.shapes(max_dims=2, max_size=6)) + (k,) for _ in range(2))
    if draw(st.booleans()):
        a_shape = ()
    return Case((draw(_arr(dtype, a_shape)), draw(_arr(dtype, b_shape))), n=k)


@st.composite
def _vdot_case(draw, dtype, max_size):
    n = draw(st.integers(1, 8))
    return Case((draw(_arr(dtype, (n,))), draw(_arr(dtype, (n,)))), n=n)


@st.composite
def _renorm_case(draw, dtype, max_size):
    """maxnorm half-way (geometrically) between two slice norms, or below/above them all: no slice sits at the
    kink norm == maxnorm; distinct magnitudes keep the inf-norm untied."""
    x, dim = draw(_dim_case(dtype, max_size, min_dims=2, distinct=True))
    p = draw(st.sampled_from([1.0, 2.0, 3.0, math.inf]))
    moved = np.abs(np.moveaxis(x.astype(np.float64), dim, 0)).reshape(x.shape[dim], -1)
    norms = np.sort(np.max(moved, 1) if p == math.inf else np.sum(moved ** p, 1) ** (1 / p))
    candidates = [norms[0] / 2, norms[-1] * 2] + [math.sqrt(a * b) for a, b in zip(norms, norms[1:]) if b > 1.2 * a]
    return Case((x,), {"p": p, "dim": dim, "maxnorm": float(draw(st.sampled_from(candidates)))}, n=x.size)


def _renorm_ref(x, p, dim, maxnorm):
    moved = np.moveaxis(x, dim, 0)
    flat = np.abs(moved).reshape(moved.shape[0], -1)
    norms = np.max(flat, 1) if p == math.inf else np.sum(flat ** p, 1) ** (1 / p)
    factor = np.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return np.moveaxis(moved * factor.reshape((-1,) + (1,) * (x.ndim - 1)), 0, dim)


def _mode_ref(x, dim, keepdim):
    """Distinct values: every count is 1, so the mode is the smallest value, at its only index."""
    return _order_stat_ref(lambda line: np.argmin(line))(x, dim, keepdim)


SPECS += [
    Spec("diagonal", ops.diagonal, _diagonal_case,
         lambda x, offset, dim1, dim2: np.diagonal(x, offset, dim1, dim2), "exact"),
    Spec("diag_embed", ops.diag_embed, _diag_embed_case, _diag_embed_ref, "exact"),
    Spec("unflatten", ops.unflatten, _unflatten_case, _unflatten_ref, "exact"),
    Spec("index_add", ops.index_add, _index_add_case, _index_add_ref, "reduction",
         call=lambda x, source, index, dim, alpha: ops.index_add(x, dim, index, source, alpha=alpha)),
    Spec("index_copy", ops.index_copy, lambda d, s: _index_dim_case(d, s, unique=True), _index_copy_ref, "exact",
         call=lambda x, source, index, dim: ops.index_copy(x, dim, index, source)),
    Spec("index_fill", ops.index_fill, _index_fill_case, _index_fill_ref, "exact",
         call=lambda x, index, dim, value: ops.index_fill(x, dim, index, value)),
    Spec("masked_scatter", ops.masked_scatter, _masked_scatter_case, _masked_scatter_ref, "exact"),
    Spec("take", ops.take, _take_case, lambda x, index: x.reshape(-1)[index], "exact"),
    Spec("take_along_dim", ops.take_along_dim, _take_along_dim_case, _take_along_dim_ref, "exact"),
    Spec("put", ops.put, _put_case, _put_ref, "reduction",
         call=lambda x, source, index, accumulate: ops.put(x, index, source, accumulate)),
    Spec("tensor_split", ops.tensor_split, _tensor_split_case,
         lambda x, sections, dim: tuple(np.array_split(x, sections if isinstance(sections, int) else list(sections),
                                                       dim)),
         "exact", call=lambda x, sections, dim: ops.tensor_split(x, sections, dim)),
    Spec("rot90", ops.rot90, _rot90_case, lambda x, k, dims: np.rot90(x, k, dims), "exact"),
    Spec("select_scatter", ops.select_scatter, _select_scatter_case, _select_scatter_ref, "exact"),
    Spec("slice_scatter", ops.slice_scatter, _slice_scatter_case, _slice_scatter_ref, "exact"),
    Spec("diagonal_scatter", ops.diagonal_scatter, _diagonal_scatter_case, _diagonal_scatter_ref, "exact"),
    Spec("diff", ops.diff, _diff_case,
         lambda x, before, after, n, dim: np.diff(x, n, dim, prepend=before, append=after), "reduction",
         call=lambda x, before, after, n, dim: ops.diff(x, n, dim, before, after)),
    Spec("nansum", ops.nansum, _nan_case, lambda x, mask, dim, keepdim: np.nansum(_with_nan(x, mask), dim,
                                                                                  keepdims=keepdim),
         "reduction", call=lambda x, mask, dim, keepdim: ops.nansum(_with_nan(x, mask), dim, keepdim)),
    Spec("nanmean", ops.nanmean, _nan_case, lambda x, mask, dim, keepdim: np.nanmean(_with_nan(x, mask), dim,
                                                                                     keepdims=keepdim),
         "reduction", call=lambda x, mask, dim, keepdim: ops.nanmean(_with_nan(x, mask), dim, keepdim)),
    Spec("median", ops.median, _order_stat_case, _order_stat_ref(_lower_median_index), "exact"),
    Spec("median[all]", ops.median, _global_median_case,
         lambda x: np.sort(x.reshape(-1))[(x.size - 1) // 2], "exact"),
    Spec("nanmedian", ops.nanmedian, lambda d, s: _nan_case(d, s, distinct=True),
         lambda x, mask, dim, keepdim: _order_stat_ref(_lower_median_index)(_with_nan(x, mask), dim, keepdim),
         "exact", call=lambda x, mask, dim, keepdim: ops.nanmedian(_with_nan(x, mask), dim, keepdim)),
    Spec("kthvalue", ops.kthvalue, lambda d, s: _order_stat_case(d, s, k=True),
         _order_stat_ref(lambda line, k: np.argsort(line, kind="stable")[k - 1]), "exact"),
    Spec("mode", ops.mode, _order_stat_case, _mode_ref, "exact"),
    Spec("quantile", ops.quantile, _quantile_case, _quantile_ref, "elementwise", call=_quantile_call(ops.quantile)),
    Spec("nanquantile", ops.nanquantile, lambda d, s: _quantile_case(d, s, nan=True), _quantile_ref, "elementwise",
         call=_quantile_call(ops.nanquantile)),
    Spec("aminmax", ops.aminmax, _aminmax_case, _aminmax_ref, "exact"),
    Spec("cov", ops.cov, _cov_case, _cov_ref, "variance", call=_cov_call),
    Spec("corrcoef", ops.corrcoef, _corrcoef_case, np.corrcoef, "variance"),
    Spec("kron", ops.kron, _kron_case, np.kron, "elementwise"),
    Spec("inner", ops.inner, _inner_case, np.inner, "matmul"),
    Spec("vdot", ops.vdot, _vdot_case, np.vdot, "matmul"),
    Spec("renorm", ops.renorm, _renorm_case, _renorm_ref, "reduction"),
]


@st.composite
def _select_case(draw, dtype, max_size):
    x, dim = draw(_dim_case(dtype, max_size))
    n = x.shape[dim]
    return Case((x,), {"dim": dim, "index": draw(st.integers(-n, n - 1))})


@st.composite
def _reshape_as_case(draw, dtype, max_size):
    x = draw(_arr(dtype, draw(mst.shapes(max_size=max_size))))
    return Case((x,), {"shape": draw(st.sampled_from([x.shape[::-1], (x.size,), (1, x.size), (x.size, 1)]))})


@st.composite
def _diagflat_case(draw, dtype, max_size):
    x = draw(_arr(dtype, draw(mst.shapes(max_dims=2, max_size=6))))
    return Case((x,), {"offset": draw(st.integers(-2, 2))})


@st.composite
def _directional_split_case(draw, dtype, max_size, *, axis, min_dims):
    shape = draw(mst.shapes(min_dims=min_dims, max_size=max_size))
    n = shape[0 if len(shape) == 1 else axis]
    if draw(st.booleans()):
        sections = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    else:
        sections = tuple(sorted(draw(st.lists(st.integers(0, n), max_size=3))))
    return Case((draw(_arr(dtype, shape)),), {"sections": sections})


@st.composite
def _split_with_sizes_case(draw, dtype, max_size):
    x, dim = draw(_dim_case(dtype, max_size))
    cuts = sorted(draw(st.lists(st.integers(0, x.shape[dim]), max_size=3)))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, x.shape[dim]])]
    return Case((x,), {"sizes": sizes, "dim": dim})


@st.composite
def _sum_to_size_case(draw, dtype, max_size):
    shape = draw(mst.shapes(max_size=max_size))
    lead = draw(st.integers(0, len(shape)))
    target = tuple(n if draw(st.booleans()) else 1 for n in shape[lead:])
    if target and draw(st.booleans()):
        target = (1,) * draw(st.integers(0, lead)) + target
    return Case((draw(_arr(dtype, shape)),), {"size": target}, n=max(1, math.prod(shape)))


def _sum_to_size_ref(x, size):
    lead = x.ndim - len(size)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(size) if n == 1 and x.shape[lead + i] != 1)
    return np.sum(x, axis=axes, keepdims=True).reshape(size)


SPECS += [
    Spec("select", ops.select, _select_case, lambda x, dim, index: np.take(x, index, axis=dim), "exact"),
    Spec("ravel", ops.ravel, unary_case(), np.ravel, "exact"),
    Spec("reshape_as", ops.reshape_as, _reshape_as_case, lambda x, shape: x.reshape(shape), "exact",
         call=lambda x, shape: ops.reshape_as(x, minigrad.zeros(*shape, backend=x.backend))),
    Spec("diagflat", ops.diagflat, _diagflat_case, lambda x, offset: np.diagflat(x, offset), "exact"),
    Spec("fliplr", ops.fliplr, unary_case(min_dims=2), np.fliplr, "exact"),
    Spec("flipud", ops.flipud, unary_case(min_dims=1), np.flipud, "exact"),
    Spec("hsplit", ops.hsplit, lambda d, s: _directional_split_case(d, s, axis=1, min_dims=1),
         lambda x, sections: tuple(np.hsplit(x, sections if isinstance(sections, int) else list(sections))), "exact",
         call=lambda x, sections: ops.hsplit(x, sections)),
    Spec("vsplit", ops.vsplit, lambda d, s: _directional_split_case(d, s, axis=0, min_dims=2),
         lambda x, sections: tuple(np.vsplit(x, sections if isinstance(sections, int) else list(sections))), "exact",
         call=lambda x, sections: ops.vsplit(x, sections)),
    Spec("dsplit", ops.dsplit, lambda d, s: _directional_split_case(d, s, axis=2, min_dims=3),
         lambda x, sections: tuple(np.dsplit(x, sections if isinstance(sections, int) else list(sections))), "exact",
         call=lambda x, sections: ops.dsplit(x, sections)),
    Spec("split_with_sizes", ops.split_with_sizes, _split_with_sizes_case,
         lambda x, sizes, dim: tuple(np.split(x, np.cumsum(sizes)[:-1], dim)), "exact",
         call=lambda x, sizes, dim: ops.split_with_sizes(x, sizes, dim)),
    Spec("sum_to_size", ops.sum_to_size, _sum_to_size_case, _sum_to_size_ref, "reduction",
         call=lambda x, size: ops.sum_to_size(x, *size)),
]

# -- 3-D conv-net layers: conv3d, conv_transpose3d, the 3-D max/avg/adaptive pools (tests/test_port_layers3d.py
# compares them with PyTorch). The references loop over output positions and kernel taps on np.pad'ed arrays.
NO_SPEC["minigrad.nn.functional.dropout3d"] = ("random channel mask from the backend's generator, as dropout (unit "
                                               "tests in tests/test_port_layers3d.py)")


def _triple3(value) -> tuple:
    return (value,) * 3 if isinstance(value, int) else tuple(value)


@st.composite
def _window_geometry3d(draw, max_size, *, pool=False, dilation=True, default_stride=False):
    """As ``_window_geometry``, on three axes, kernels and window counts at most 2 (small: three axes)."""
    kernel = tuple(draw(st.integers(1, 2)) for _ in range(3))
    stride_is_kernel = default_stride and draw(st.booleans())
    stride = kernel if stride_is_kernel else tuple(draw(st.integers(1, 2)) for _ in range(3))
    dil = tuple(draw(st.integers(1, 2)) if dilation else 1 for _ in range(3))
    out = tuple(draw(st.integers(1, 2)) for _ in range(3))
    padded = tuple((o - 1) * s + d * (k - 1) + 1 + draw(st.integers(0, s - 1))
                   for o, s, d, k in zip(out, stride, dil, kernel))
    padding = tuple(draw(st.integers(0, min(k // 2 if pool else 1, (p - 1) // 2))) for k, p in zip(kernel, padded))
    if pool:
        padding = tuple(q if _windows_touch_input(p - 2 * q, k, s, q, d, o) else 0
                        for p, q, k, s, d, o in zip(padded, padding, kernel, stride, dil, out))
    size = tuple(p - 2 * q for p, q in zip(padded, padding))
    return {"kernel": kernel, "stride": None if stride_is_kernel else stride, "padding": padding,
            "dilation": dil, "size": size}


def _window_kwargs3d(draw, geo, *, dilation=True) -> dict:
    pick = (lambda t: t[0] if len(set(t)) == 1 and draw(st.booleans()) else t)
    kwargs = {"kernel_size": pick(geo["kernel"]), "padding": pick(geo["padding"])}
    if geo["stride"] is not None:
        kwargs["stride"] = pick(geo["stride"])
    if dilation:
        kwargs["dilation"] = pick(geo["dilation"])
    return kwargs


@st.composite
def _conv3d_case(draw, dtype, max_size):
    groups, c_group, o_group = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    geo = draw(_window_geometry3d(max_size))
    x = draw(_arr(dtype, (draw(st.integers(1, 2)), groups * c_group) + geo["size"], -3.0, 3.0))
    arrays = (x, draw(_arr(dtype, (groups * o_group, c_group) + geo["kernel"], -3.0, 3.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, (groups * o_group,), -3.0, 3.0)),)
    kwargs = {"stride": geo["stride"], "padding": geo["padding"], "dilation": geo["dilation"], "groups": groups}
    if geo["stride"] == (1, 1, 1) and all(d * (k - 1) == 2 * p for d, k, p in
                                          zip(geo["dilation"], geo["kernel"], geo["padding"])) and draw(st.booleans()):
        kwargs["padding"] = "same"
    return Case(arrays, kwargs, n=c_group * int(np.prod(geo["kernel"])))


def _conv3d_ref(x, w, *b, stride, padding, dilation, groups):
    o, cg, kernel = w.shape[0], w.shape[1], w.shape[2:]
    stride, dilation = _triple3(stride), _triple3(dilation)
    padding = tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel)) if padding == "same" else _triple3(padding)
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    out = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(xp.shape[2:], kernel, stride, dilation))
    n = x.shape[0]
    xg, wg = xp.reshape((n, groups, cg) + xp.shape[2:]), w.reshape((groups, o // groups, cg) + tuple(kernel))
    result = np.zeros((n, groups, o // groups) + out)
    for tap in np.ndindex(*kernel):
        sl = tuple(slice(t * d, t * d + (m - 1) * s + 1, s) for t, d, m, s in zip(tap, dilation, out, stride))
        result += np.einsum("ngcxyz,goc->ngoxyz", xg[(Ellipsis,) + sl], wg[(Ellipsis,) + tap])
    result = result.reshape((n, o) + out)
    return result + b[0].reshape(1, o, 1, 1, 1) if b else result


@st.composite
def _conv_transpose3d_case(draw, dtype, max_size):
    groups, c_group, o_group = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel, stride, dilation, size, output_padding, padding = draw(_conv_transpose_geometry(6, 3))
    arrays = (draw(_arr(dtype, (draw(st.integers(1, 2)), groups * c_group) + size, -3.0, 3.0)),
              draw(_arr(dtype, (groups * c_group, o_group) + kernel, -3.0, 3.0)))
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, (groups * o_group,), -3.0, 3.0)),)
    kwargs = {"stride": stride, "padding": padding, "output_padding": output_padding, "groups": groups,
              "dilation": dilation}
    return Case(arrays, kwargs, n=c_group * int(np.prod(kernel)))


def _conv_transpose3d_ref(x, w, *b, stride, padding, output_padding, groups, dilation):
    """Every input element scatters its kernel-weighted copy to i * s + a * d on each axis; then the crop of
    ``padding`` on each side, ``output_padding`` extra at the end."""
    stride, padding, output_padding, dilation = (_triple3(v) for v in (stride, padding, output_padding, dilation))
    n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    og, kernel = w.shape[1], w.shape[2:]
    out = tuple((m - 1) * s - 2 * p + d * (k - 1) + q + 1
                for m, s, p, d, k, q in zip(spatial, stride, padding, dilation, kernel, output_padding))
    full = np.zeros((n, og * groups) + tuple(o + 2 * p for o, p in zip(out, padding)))
    xg, wg = x.reshape((n, groups, c // groups) + spatial), w.reshape((groups, c // groups, og) + tuple(kernel))
    for tap in np.ndindex(*kernel):
        contribution = np.einsum("ngcxyz,gco->ngoxyz", xg, wg[(Ellipsis,) + tap]).reshape((n, og * groups) + spatial)
        sl = tuple(slice(t * d, t * d + (m - 1) * s + 1, s) for t, d, m, s in zip(tap, dilation, spatial, stride))
        full[(Ellipsis,) + sl] += contribution
    result = full[(Ellipsis,) + tuple(slice(p, p + o) for p, o in zip(padding, out))]
    return result + b[0].reshape(1, -1, 1, 1, 1) if b else result


def _pool3d_out_ref(n, k, s, p, d, ceil_mode):
    """PyTorch's pooling_output_shape."""
    span = n + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil_mode else span // s) + 1
    return o - 1 if ceil_mode and (o - 1) * s >= n + p else o


def _pool3d_windows_ref(x, kernel_size, stride, padding, dilation, ceil_mode, fill):
    """Each output position's window of (N, C, D, H, W), padded by ``fill`` (generously: ceil_mode's last windows
    reach past the padding), as a dict position -> (N, C, kd, kh, kw)."""
    kernel, padding, dilation = _triple3(kernel_size), _triple3(padding), _triple3(dilation)
    stride = kernel if stride is None else _triple3(stride)
    out = tuple(_pool3d_out_ref(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation))
    widths = tuple((p, p + d * k + s) for p, d, k, s in zip(padding, dilation, kernel, stride))
    xp = np.pad(x, ((0, 0), (0, 0)) + widths, constant_values=fill)
    return out, kernel, stride, padding, {
        pos: xp[(Ellipsis,) + tuple(slice(i * s, i * s + d * (k - 1) + 1, d)
                                    for i, s, d, k in zip(pos, stride, dilation, kernel))]
        for pos in np.ndindex(*out)}


@st.composite
def _max_pool3d_case(draw, dtype, max_size):
    geo = draw(_window_geometry3d(max_size, pool=True, default_stride=True))
    shape = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)),) + geo["size"]
    kwargs = _window_kwargs3d(draw, geo) | {"ceil_mode": draw(st.booleans())}
    return Case((draw(_arr(dtype, shape, distinct=True)),), kwargs)


def _max_pool3d_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    batched = x.ndim == 5
    x = x if batched else x[None]
    out, _, _, _, windows = _pool3d_windows_ref(x, kernel_size, stride, padding, dilation, ceil_mode, -np.inf)
    result = np.empty(x.shape[:2] + out, x.dtype)
    for pos, window in windows.items():
        result[(Ellipsis,) + pos] = window.max(axis=(2, 3, 4))
    return result if batched else result[0]


@st.composite
def _avg_pool3d_case(draw, dtype, max_size):
    geo = draw(_window_geometry3d(max_size, pool=True, dilation=False, default_stride=True))
    shape = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)),) + geo["size"]
    kwargs = _window_kwargs3d(draw, geo, dilation=False) | {"ceil_mode": draw(st.booleans()),
                                                             "count_include_pad": draw(st.booleans())}
    if draw(st.integers(0, 3)) == 0:
        kwargs["divisor_override"] = draw(st.sampled_from([1, 3]))
    return Case((draw(_arr(dtype, shape)),), kwargs, n=int(np.prod(geo["kernel"])))


def _avg_pool3d_ref(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                    divisor_override=None):
    """PyTorch's divisor: the window clipped to the padded input (count_include_pad), or to the input."""
    batched = x.ndim == 5
    x = x if batched else x[None]
    out, kernel, stride, padding, windows = _pool3d_windows_ref(x, kernel_size, stride, padding, 1, ceil_mode, 0.0)
    result = np.empty(x.shape[:2] + out, x.dtype)
    for pos, window in windows.items():
        starts = [i * s - p for i, s, p in zip(pos, stride, padding)]
        ends = [min(a + k, n + p) for a, k, n, p in zip(starts, kernel, x.shape[2:], padding)]
        if divisor_override is not None:
            divisor = divisor_override
        elif count_include_pad:
            divisor = np.prod([e - a for a, e in zip(starts, ends)])
        else:
            divisor = np.prod([min(e, n) - max(a, 0) for a, e, n in zip(starts, ends, x.shape[2:])])
        result[(Ellipsis,) + pos] = window.sum(axis=(2, 3, 4)) / divisor
    return result if batched else result[0]


@st.composite
def _adaptive_pool3d_case(draw, dtype, max_size, distinct=False):
    lead = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)),)
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(3))
    size = draw(st.one_of(st.integers(1, 3), st.tuples(*(st.one_of(st.none(), st.integers(1, 3)) for _ in range(3)))))
    return Case((draw(_arr(dtype, lead + spatial, distinct=distinct)),), {"output_size": size},
                n=int(np.prod(spatial)))


def _adaptive_pool3d_ref(reduce):
    def reference(x, output_size):
        spatial = x.shape[-3:]
        out = tuple(n if o is None else o for n, o in zip(spatial, _triple3(output_size)))
        result = np.empty(x.shape[:-3] + out, x.dtype)
        for pos in np.ndindex(*out):
            bins = tuple(slice(i * n // o, -(-(i + 1) * n // o)) for i, n, o in zip(pos, spatial, out))
            result[(Ellipsis,) + pos] = reduce(x[(Ellipsis,) + bins], axis=(-3, -2, -1))
        return result
    return reference


SPECS += [
    Spec("F.conv3d", F.conv3d, _conv3d_case, _conv3d_ref, "matmul"),
    Spec("F.conv_transpose3d", F.conv_transpose3d, _conv_transpose3d_case, _conv_transpose3d_ref, "matmul"),
    Spec("F.max_pool3d", F.max_pool3d, _max_pool3d_case, _max_pool3d_ref, "exact"),
    Spec("F.avg_pool3d", F.avg_pool3d, _avg_pool3d_case, _avg_pool3d_ref, "reduction"),
    Spec("F.adaptive_avg_pool3d", F.adaptive_avg_pool3d, _adaptive_pool3d_case, _adaptive_pool3d_ref(np.mean),
         "reduction"),
    Spec("F.adaptive_max_pool3d", F.adaptive_max_pool3d,
         lambda dtype, max_size: _adaptive_pool3d_case(dtype, max_size, distinct=True),
         _adaptive_pool3d_ref(np.max), "exact"),
]

# -- fractional max pooling (tests/test_port_gaps13_nn.py compares with PyTorch) ---------------------------------
def _fractional_case(dims: int):
    """Window starts exact in every dtype: samples on a 1/64 lattice and an integer step alpha = (n - k) / (o - 1),
    so the float32 kernel and the float64 reference pick the same windows."""

    @st.composite
    def draw_case(draw, dtype, max_size):
        kernel = tuple(draw(st.integers(1, 2)) for _ in range(dims))
        out = tuple(draw(st.integers(1, 3 if dims == 2 else 2)) for _ in range(dims))  # small: gradcheck's cost
        size = tuple(k + (draw(st.integers(1, 2)) * (o - 1) if o > 1 else draw(st.integers(0, 2)))
                     for k, o in zip(kernel, out))
        batch = draw(st.integers(0, 2 if dims == 2 else 1))
        channels = draw(st.integers(1, 2))
        shape = ((batch,) if batch else ()) + (channels,) + size
        samples = draw(mst.arrays(np.int64, (max(batch, 1), channels, dims), elements_strategy=st.integers(0, 63)))
        return Case((draw(_arr(dtype, shape, distinct=True)), (samples / 64).astype(dtype)),
                    {"kernel_size": kernel, "output_size": out}, requires_grad=(True, False))

    return draw_case


def _fractional_ref(dims: int):
    def reference(x, samples, kernel_size, output_size):
        batched = x.ndim == dims + 2
        x = x if batched else x[None]
        order = (1, 0) if dims == 2 else (0, 1, 2)  # PyTorch's samples: (width, height) in 2-D
        result = np.empty(x.shape[:2] + tuple(output_size), x.dtype)
        for b, c in np.ndindex(*x.shape[:2]):
            starts = []
            for d in range(dims):
                n, k, o, u = x.shape[2 + d], kernel_size[d], output_size[d], samples[b, c, order[d]]
                alpha = (n - k) / (o - 1) if o > 1 else 0.0
                starts.append([int((i + u) * alpha) - int(u * alpha) for i in range(o - 1)] + [n - k])
            for pos in np.ndindex(*output_size):
                window = tuple(slice(starts[d][p], starts[d][p] + kernel_size[d]) for d, p in enumerate(pos))
                result[(b, c) + pos] = x[(b, c) + window].max()
        return result if batched else result[0]

    return reference


SPECS += [
    Spec("F.fractional_max_pool2d", F.fractional_max_pool2d, _fractional_case(2), _fractional_ref(2), "exact",
         call=lambda x, s, **kw: F.fractional_max_pool2d(x, _random_samples=s, **kw)),
    Spec("F.fractional_max_pool3d", F.fractional_max_pool3d, _fractional_case(3), _fractional_ref(3), "exact",
         call=lambda x, s, **kw: F.fractional_max_pool3d(x, _random_samples=s, **kw)),
]

# -- nn gaps: the activations, norms and pools a ported script still missed (tests/test_port_nn_gaps.py) -------
_SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)


@st.composite
def _glu_case(draw, dtype, max_size):
    shape = list(draw(mst.shapes(min_dims=1, max_dims=3, max_size=max(1, max_size // 2))))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    shape[dim] *= 2
    return Case((draw(_arr(dtype, tuple(shape), -8.0, 8.0)),), {"dim": dim})


def _glu_ref(x, dim):
    a, b = np.split(x, 2, dim)
    return a / (1 + np.exp(-b))


@st.composite
def _rms_norm_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_dims=3, min_side=1, max_size=max_size))
    normalized = shape[len(shape) - draw(st.integers(1, len(shape))):]
    arrays = (draw(_arr(dtype, shape, 0.5, 4.0) if draw(st.booleans()) else _arr(dtype, shape, -4.0, -0.5)),)
    if draw(st.booleans()):
        arrays += (draw(_arr(dtype, normalized, -2.0, 2.0)),)
    return Case(arrays, {"normalized_shape": normalized, "eps": 1e-5}, n=math.prod(normalized))


def _rms_norm_ref(x, *w, normalized_shape, eps):
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    out = x / np.sqrt((x * x).mean(axes, keepdims=True) + eps)
    return out * w[0] if w else out


@st.composite
def _lrn_case(draw, dtype, max_size):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 5))) + draw(mst.shapes(min_dims=1, max_dims=2, max_side=3))
    kwargs = {"size": draw(st.integers(1, 4)), "alpha": 0.5, "beta": 0.75, "k": 2.0}
    return Case((draw(_arr(dtype, shape, -3.0, 3.0)),), kwargs, n=kwargs["size"])


def _lrn_ref(x, size, alpha, beta, k):
    c = x.shape[1]
    sq = np.moveaxis(x * x, 1, 0)
    padded = np.concatenate([np.zeros((size // 2,) + sq.shape[1:]), sq, np.zeros(((size - 1) // 2,) + sq.shape[1:])])
    window = np.moveaxis(sum(padded[j:j + c] for j in range(size)), 0, 1)
    return x / (k + alpha * window / size) ** beta


@st.composite
def _channel_shuffle_case(draw, dtype, max_size):
    groups, per = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), groups * per) + draw(mst.shapes(min_dims=1, max_dims=2, max_side=3))
    return Case((draw(_arr(dtype, shape)),), {"groups": groups})


def _channel_shuffle_ref(x, groups):
    n, c = x.shape[:2]
    return x.reshape(n, groups, c // groups, *x.shape[2:]).swapaxes(1, 2).reshape(x.shape)


@st.composite
def _lp_pool_case(draw, dtype, max_size, dims=2):
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    out = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    spatial = tuple((o - 1) * s + k for o, s, k in zip(out, stride, kernel))
    shape = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)),) + spatial
    kwargs = {"norm_type": draw(st.sampled_from([1.0, 2.0, 1.5, 3.0])),
              "kernel_size": kernel if dims == 2 else kernel[0], "stride": stride if dims == 2 else stride[0]}
    return Case((draw(_arr(dtype, shape, 0.25, 3.0)),), kwargs, n=math.prod(kernel))


def _lp_pool_ref(x, norm_type, kernel_size, stride):
    kernel = (kernel_size,) if isinstance(kernel_size, int) else kernel_size
    stride = (stride,) if isinstance(stride, int) else stride
    spatial = x.shape[-len(kernel):]
    out = tuple((n - k) // s + 1 for n, k, s in zip(spatial, kernel, stride))
    result = np.zeros(x.shape[:-len(kernel)] + out)
    for pos in np.ndindex(*out):
        window = x[(Ellipsis,) + tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, stride, kernel))]
        result[(Ellipsis,) + pos] = (window ** norm_type).sum(tuple(range(-len(kernel), 0))) ** (1 / norm_type)
    return result


@st.composite
def _max_unpool_case(draw, dtype, max_size, dims=2):
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    inner = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    out = tuple((i - 1) * s + k for i, s, k in zip(inner, stride, kernel))
    lead = (draw(st.integers(1, 2)),) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)),)
    planes = math.prod(lead)
    need = math.prod(inner)
    perms = [draw(st.permutations(range(math.prod(out))))[:need] for _ in range(planes)]
    indices = np.array(perms, np.int64).reshape(lead + inner)  # distinct per plane: no write collides
    kwargs = {"kernel_size": kernel if dims == 2 else kernel[0], "stride": stride if dims == 2 else stride[0]}
    return Case((draw(_arr(dtype, lead + inner)), indices), kwargs)


def _max_unpool_ref(x, indices, kernel_size, stride):
    kernel = (kernel_size,) if isinstance(kernel_size, int) else kernel_size
    stride = (stride,) if isinstance(stride, int) else stride
    inner = x.shape[-len(kernel):]
    out = tuple((i - 1) * s + k for i, s, k in zip(inner, stride, kernel))
    lead = x.shape[:-len(kernel)]
    result = np.zeros((math.prod(lead), math.prod(out)))
    np.put_along_axis(result, indices.reshape(len(result), -1), x.reshape(len(result), -1), 1)
    return result.reshape(lead + out)


@st.composite
def _pdist_case(draw, dtype, max_size):
    shape = (draw(st.integers(2, 4)), draw(st.integers(1, 4)))
    p = draw(st.sampled_from([1.0, 2.0, 3.0, math.inf]))
    return Case((draw(_arr(dtype, shape, distinct=True)),), {"p": p}, n=shape[1])


def _pdist_ref(x, p):
    i, j = np.triu_indices(len(x), 1)
    d = np.abs(x[i] - x[j])
    return d.max(1) if p == math.inf else (d ** p).sum(1) ** (1 / p)



@st.composite
def _affine_grid_case(draw, dtype, max_size):
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(2, 4)), draw(st.integers(2, 4))  # unit sides warn
    return Case((draw(_arr(dtype, (n, 2, 3), -2.0, 2.0)),),
                {"size": (n, draw(st.integers(1, 3)), h, w), "align_corners": draw(st.booleans())}, n=3)


def _affine_grid_ref(theta, size, align_corners):
    def steps(k):
        if k <= 1:
            return np.zeros(k)
        v = np.linspace(-1.0, 1.0, k)
        return v if align_corners else v * (k - 1) / k

    xs, ys = np.meshgrid(steps(size[3]), steps(size[2]))
    base = np.stack([xs, ys, np.ones_like(xs)], -1)
    return np.einsum("hwk,njk->nhwj", base, theta)


@st.composite
def _grid_sample_case(draw, dtype, max_size):
    """Sample points in pixel units k + f, f away from 0 and 1/2 (bilinear's floor, nearest's rounding, and the
    reflection and border kinks), then normalised with the drawn align_corners."""
    n, c, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(2, 4)), draw(st.integers(2, 4))
    ho, wo = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    align = draw(st.booleans())
    whole = draw(mst.arrays(np.int64, (n, ho, wo, 2), elements_strategy=st.integers(-2, 4)))
    frac = draw(mst.arrays(np.float64, (n, ho, wo, 2), elements_strategy=st.sampled_from([0.15, 0.3, 0.7, 0.85])))
    pixels = whole + frac
    sizes = np.array([w, h], np.float64)
    grid = pixels * 2 / (sizes - 1) - 1 if align else (pixels * 2 + 1) / sizes - 1
    kwargs = {"mode": draw(st.sampled_from(["bilinear", "nearest"])),
              "padding_mode": draw(st.sampled_from(["zeros", "border", "reflection"])), "align_corners": align}
    return Case((draw(_arr(dtype, (n, c, h, w))), grid.astype(dtype)), kwargs,
                requires_grad=(True, kwargs["mode"] == "bilinear"), n=4)


def _grid_sample_ref(x, grid, mode, padding_mode, align_corners):
    n, c, h, w = x.shape

    def source(coord, size):
        coord = (coord + 1) * (size - 1) / 2 if align_corners else ((coord + 1) * size - 1) / 2
        if padding_mode == "reflection":
            low, high = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
            span = high - low
            d = np.abs(coord - low)
            flips = np.floor(d / span)
            extra = d - flips * span
            coord = np.where(flips % 2 == 0, extra + low, span - extra + low)
        if padding_mode != "zeros":
            coord = np.clip(coord, 0, size - 1)
        return coord

    xs, ys = source(grid[..., 0], w), source(grid[..., 1], h)
    out = np.zeros((n, c) + grid.shape[1:3])

    def at(b, yy, xx):
        return x[b, :, yy, xx] if 0 <= yy < h and 0 <= xx < w else np.zeros(c)

    for b, i, j in np.ndindex(n, *grid.shape[1:3]):
        px, py = xs[b, i, j], ys[b, i, j]
        if mode == "nearest":
            out[b, :, i, j] = at(b, int(np.rint(py)), int(np.rint(px)))
            continue
        x0, y0 = int(np.floor(px)), int(np.floor(py))
        fx, fy = px - x0, py - y0
        out[b, :, i, j] = ((1 - fx) * (1 - fy) * at(b, y0, x0) + fx * (1 - fy) * at(b, y0, x0 + 1)
                           + (1 - fx) * fy * at(b, y0 + 1, x0) + fx * fy * at(b, y0 + 1, x0 + 1))
    return out

SPECS += [
    unary("F.relu", F.relu, lambda x: np.maximum(x, 0), avoid=(0.0,), margin=KINK_MARGIN, family="exact"),
    unary("F.leaky_relu", F.leaky_relu, lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
          avoid=(0.0,), margin=KINK_MARGIN, family="elementwise",
          params=_params({"negative_slope": st.sampled_from([0.01, 0.2, 1.5])})),
    unary("F.elu", F.elu, lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))), -8.0, 8.0,
          avoid=(0.0,), margin=KINK_MARGIN, params=_params({"alpha": st.sampled_from([1.0, 0.3])})),
    unary("F.hardtanh", F.hardtanh, lambda x: np.clip(x, -1, 1), -3.0, 3.0, avoid=(-1.0, 1.0), margin=KINK_MARGIN,
          family="exact"),
    unary("F.silu", F.silu, lambda x: x / (1 + np.exp(-x)), -8.0, 8.0),
    unary("F.celu", F.celu, lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha)),
          -8.0, 8.0, avoid=(0.0,), margin=KINK_MARGIN, params=_params({"alpha": st.sampled_from([1.0, 0.5, 2.0])})),
    unary("F.selu", F.selu, lambda x: _SELU[1] * np.where(x > 0, x, _SELU[0] * np.expm1(np.minimum(x, 0))),
          -8.0, 8.0, avoid=(0.0,), margin=KINK_MARGIN),
    Spec("F.glu", F.glu, _glu_case, _glu_ref),
    unary("F.hardshrink", F.hardshrink, lambda x: np.where(np.abs(x) > 0.5, x, 0), -3.0, 3.0, avoid=(-0.5, 0.5),
          margin=KINK_MARGIN, family="exact"),
    unary("F.softshrink", F.softshrink, lambda x: np.where(np.abs(x) > 0.5, x - 0.5 * np.sign(x), 0), -3.0, 3.0,
          avoid=(-0.5, 0.5), margin=KINK_MARGIN, family="elementwise"),
    unary("F.tanhshrink", F.tanhshrink, lambda x: x - np.tanh(x), -5.0, 5.0),
    unary("F.softsign", F.softsign, lambda x: x / (1 + np.abs(x)), avoid=(0.0,), margin=KINK_MARGIN,
          family="elementwise"),
    unary("F.threshold", F.threshold, lambda x, threshold, value: np.where(x > threshold, x, value), -3.0, 3.0,
          avoid=(0.5,), margin=KINK_MARGIN, family="exact",
          params=_params({"threshold": st.just(0.5), "value": st.sampled_from([-2.0, 0.0])})),
    unary("F.rrelu (eval)", F.rrelu, lambda x: np.where(x > 0, x, x * (1 / 8 + 1 / 3) / 2), avoid=(0.0,),
          margin=KINK_MARGIN, family="elementwise"),
    Spec("F.rms_norm", F.rms_norm, _rms_norm_case, _rms_norm_ref, "variance",
         call=lambda x, *w, normalized_shape, eps: F.rms_norm(x, normalized_shape, *w, eps=eps)),
    Spec("F.local_response_norm", F.local_response_norm, _lrn_case, _lrn_ref, "transcendental"),
    Spec("F.channel_shuffle", F.channel_shuffle, _channel_shuffle_case, _channel_shuffle_ref, "exact"),
    Spec("F.lp_pool2d", F.lp_pool2d, _lp_pool_case, _lp_pool_ref, "transcendental"),
    Spec("F.lp_pool1d", F.lp_pool1d, lambda d, s: _lp_pool_case(d, s, dims=1), _lp_pool_ref, "transcendental"),
    Spec("F.max_unpool2d", F.max_unpool2d, _max_unpool_case, _max_unpool_ref, "exact"),
    Spec("F.max_unpool1d", F.max_unpool1d, lambda d, s: _max_unpool_case(d, s, dims=1), _max_unpool_ref, "exact"),
    Spec("F.pdist", F.pdist, _pdist_case, _pdist_ref, "transcendental"),
    Spec("F.affine_grid", F.affine_grid, _affine_grid_case, _affine_grid_ref, "matmul"),
    Spec("F.grid_sample", F.grid_sample, _grid_sample_case, _grid_sample_ref, "elementwise"),
]
NO_SPEC.update({
    "minigrad.nn.functional.alpha_dropout": "random mask from the backend's generator, as dropout (unit tests and "
                                            "PyTorch's formula in tests/test_port_nn_gaps.py)",
    "minigrad.nn.functional.feature_alpha_dropout": "random channel mask, as alpha_dropout "
                                                    "(tests/test_port_nn_gaps.py)",
    "minigrad.nn.functional.gumbel_softmax": "random Gumbel noise from the backend's generator (its gradient and the "
                                             "straight-through estimator in tests/test_port_nn_gaps.py)",
})
UNREGISTERED.update({f"minigrad.nn.functional.{name}_": "in-place spelling of the registered function; in-place "
                     "autograd rules tested in tests/test_port_nn_gaps.py"
                     for name in ("relu", "elu", "leaky_relu", "hardtanh", "threshold", "selu", "celu", "rrelu")})
UNREGISTERED.update({f"minigrad.nn.functional.{name}_with_indices": f"{name}(..., return_indices=True): its values "
                     f"are the spec'd F.{name}'s, its indices compared with PyTorch's in tests/test_port_nn_gaps.py"
                     for name in ("max_pool1d", "max_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d")})
UNREGISTERED.update({f"minigrad.nn.functional.{name}_with_indices": f"{name}(..., return_indices=True): its values "
                     f"are the spec'd F.{name}'s, its indices compared with PyTorch's in tests/test_port_gaps13_nn.py"
                     for name in ("fractional_max_pool2d", "fractional_max_pool3d")})


# -- strided views (minigrad/ops/strided.py) ---------------------------------------------------------------------
@st.composite
def _unfold_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    size = draw(st.integers(1, shape[dim])) if shape[dim] else 0
    return Case((draw(_arr(dtype, shape)),), {"dimension": dim, "size": size, "step": draw(st.integers(1, 3))})


def _unfold_ref(x, dimension, size, step):
    windows = np.lib.stride_tricks.sliding_window_view(x, size, axis=dimension)
    return windows[(slice(None),) * (dimension % x.ndim) + (slice(None, None, step),)]


@st.composite
def _as_strided_case(draw, dtype, max_size):
    shape = draw(mst.shapes(min_dims=1, max_size=max_size).filter(lambda s: 0 not in s))
    count = int(np.prod(shape))
    size, stride, budget = [], [], count - 1  # valid by construction: the view ends inside the storage
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 3))
        step = draw(st.integers(0, min(2, budget // (n - 1)))) if n > 1 else draw(st.integers(0, 2))
        size.append(n), stride.append(step)
        budget -= (n - 1) * step
    size, stride, span = tuple(size), tuple(stride), count - 1 - budget
    return Case((draw(_arr(dtype, shape)),), {"size": size, "stride": stride,
                                               "storage_offset": draw(st.integers(0, count - 1 - span))})


def _as_strided_ref(x, size, stride, storage_offset):
    flat = np.ascontiguousarray(x).reshape(-1)[storage_offset:]
    return np.lib.stride_tricks.as_strided(flat, size, tuple(s * flat.itemsize for s in stride)).copy()


@st.composite
def _lp_pool3d_case(draw, dtype, max_size):
    kernel, stride = tuple(draw(st.integers(1, 2)) for _ in range(3)), tuple(draw(st.integers(1, 2)) for _ in range(3))
    spatial = tuple((draw(st.integers(1, 2)) - 1) * s + k for s, k in zip(stride, kernel))
    shape = (1,) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)),) + spatial
    kwargs = {"norm_type": draw(st.sampled_from([1.0, 2.0, 1.5])), "kernel_size": kernel, "stride": stride}
    return Case((draw(_arr(dtype, shape, 0.25, 3.0)),), kwargs, n=math.prod(kernel))


@st.composite
def _max_unpool3d_case(draw, dtype, max_size):
    kernel, stride = tuple(draw(st.integers(1, 2)) for _ in range(3)), tuple(draw(st.integers(1, 2)) for _ in range(3))
    inner = tuple(draw(st.integers(1, 2)) for _ in range(3))
    out = tuple((i - 1) * s + k for i, s, k in zip(inner, stride, kernel))
    lead = (1,) * draw(st.integers(0, 1)) + (draw(st.integers(1, 2)),)
    perms = [draw(st.permutations(range(math.prod(out))))[:math.prod(inner)] for _ in range(math.prod(lead))]
    indices = np.array(perms, np.int64).reshape(lead + inner)  # distinct per plane: no write collides
    return Case((draw(_arr(dtype, lead + inner)), indices), {"kernel_size": kernel, "stride": stride})


@st.composite
def _mha_forward_case(draw, dtype, max_size):
    heads, length, source, batch = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), \
        draw(st.integers(1, 2))
    embed = heads * draw(st.integers(1, 2))
    shapes = [(length, batch, embed), (source, batch, embed), (source, batch, embed), (3 * embed, embed),
              (3 * embed,), (embed, embed), (embed,)]
    return Case(tuple(draw(_arr(dtype, s, -1.0, 1.0)) for s in shapes),
                {"num_heads": heads, "need_weights": draw(st.booleans())}, n=embed * source)


def _mha_forward_ref(query, key, value, w, b, out_w, out_b, num_heads, need_weights):
    length, batch, embed = query.shape
    head = embed // num_heads
    q, k, v = (x @ wi.T + bi for x, wi, bi in zip((query, key, value), np.split(w, 3), np.split(b, 3)))
    q, k, v = (x.reshape(len(x), batch * num_heads, head).transpose(1, 0, 2) for x in (q, k, v))
    out = _softmax(q @ k.transpose(0, 2, 1) / math.sqrt(head), -1) @ v  # (N * H, L, head)
    return out.transpose(1, 0, 2).reshape(length, batch, embed) @ out_w.T + out_b


SPECS += [
    Spec("F.multi_head_attention_forward", F.multi_head_attention_forward, _mha_forward_case, _mha_forward_ref,
         "matmul", ulps=16, call=lambda q, k, v, w, b, ow, ob, num_heads, need_weights: F.multi_head_attention_forward(
             q, k, v, q.shape[-1], num_heads, w, b, None, None, False, 0.0, ow, ob, need_weights=need_weights)[0]),
    Spec("F.lp_pool3d", F.lp_pool3d, _lp_pool3d_case, _lp_pool_ref, "transcendental"),
    Spec("F.max_unpool3d", F.max_unpool3d, _max_unpool3d_case, _max_unpool_ref, "exact"),
    Spec("unfold", ops.unfold, _unfold_case, _unfold_ref, "exact"),
    Spec("as_strided", ops.as_strided, _as_strided_case, _as_strided_ref, "exact",
         call=lambda x, **kw: ops.as_strided(x.contiguous(), **kw)),
]
UNREGISTERED.update({f"minigrad.nn.functional.{name}_with_indices": f"{name}(..., return_indices=True): its values "
                     f"are the spec'd F.{name}'s, its indices compared with PyTorch's in tests/test_port_tensor13_nn.py"
                     for name in ("max_pool3d", "adaptive_max_pool3d")})
UNREGISTERED.update({f"minigrad.nn.functional.{name}": "deprecated spelling of the spec'd F.interpolate, with "
                     "PyTorch's warning (tests/test_port_tensor13_nn.py)"
                     for name in ("upsample", "upsample_nearest", "upsample_bilinear")})

SPECS_BY_NAME: dict[str, Spec] = {s.name: s for s in SPECS}
assert len(SPECS_BY_NAME) == len(SPECS), "spec names must be unique"


# -- fused kernels against their composite definitions -------------------------------------------------------
def _one_hot(targets, like):
    """A constant float one-hot matrix of ``targets`` (N,) for ``like`` (N, C), built from tensor ops."""
    classes = minigrad.arange(like.shape[1], dtype="int64", backend=like.backend).unsqueeze(0)
    return ops.eq(targets.unsqueeze(1), classes).astype(like.dtype)


@st.composite
def _activation_backward_case(draw, dtype, max_size, lo, hi):
    """(g, y) for a fused activation backward: y inside the activation's range."""
    shape = draw(mst.shapes(max_size=max_size))
    return Case((draw(_arr(dtype, shape, -2.0, 2.0)), draw(_arr(dtype, shape, lo, hi))))


@st.composite
def _input_backward_case(draw, dtype, max_size, avoid=(), margin=None):
    """(g, x) for a fused activation backward that reads the input: x away from the kinks in ``avoid``."""
    shape = draw(mst.shapes(max_size=max_size))
    return Case((draw(_arr(dtype, shape, -2.0, 2.0)), draw(_arr(dtype, shape, -4.0, 4.0, avoid=avoid, margin=margin))))


def _gelu_slope(x, approximate):
    """gelu'(x) in tensor ops: the composite definition of GeluBackward."""
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        t = ((x + x * x * x * 0.044715) * c).tanh()
        return (t + 1) * 0.5 + x * 0.5 * (1 - t * t) * ((x * x * (3 * 0.044715) + 1) * c)
    return ((x * (1 / math.sqrt(2))).erf() + 1) * 0.5 + x * (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))


_SOFTPLUS_BETA, _SOFTPLUS_THRESHOLD = 2.0, 3.0  # beta x > threshold (the linear part) for x > 1.5


def _softplus_slope(x):
    linear = (x * _SOFTPLUS_BETA > _SOFTPLUS_THRESHOLD).astype(x.dtype)
    return linear + (1 - linear) * (x * _SOFTPLUS_BETA).sigmoid()


@st.composite
def _softmax_backward_case(draw, dtype, max_size, log):
    """(g, y, axis) with y a real (log-)softmax output, so the identities the kernels use hold."""
    shape = draw(mst.shapes(min_dims=1, max_size=max_size))
    axis = draw(st.integers(0, len(shape) - 1))
    logits = draw(_arr(F64, shape, -5.0, 5.0))
    y = logits - _logsumexp(logits, axis, keepdims=True) if log else _softmax(logits, axis)
    return Case((draw(_arr(dtype, shape, -2.0, 2.0)), y.astype(dtype)), {"axis": axis}, n=shape[axis])


def _composite_softmax(x, axis):
    e = (x - x.amax(axis, keepdims=True).detach()).exp()
    return e / e.sum(axis, keepdims=True)


def _composite_log_softmax(x, axis):
    shifted = x - x.amax(axis, keepdims=True).detach()
    return shifted - shifted.exp().sum(axis, keepdims=True).log()


@st.composite
def _max_pool2d_backward_case(draw, dtype, max_size):
    """(g, x) and a pool geometry: x with distinct values (one maximum per window), g of the output's shape."""
    geo = draw(_window_geometry(max_size, pool=True))
    shape = (draw(st.integers(1, 2 if max_size >= 24 else 1)), draw(st.integers(1, 2))) + geo["size"]
    x = draw(_arr(dtype, shape, distinct=True))
    g = draw(_arr(dtype, shape[:2] + geo["out"], -2.0, 2.0))
    kwargs = {name: geo[name] for name in ("kernel", "stride", "padding", "dilation")}
    return Case((g, x), kwargs, requires_grad=(True, False), n=geo["kernel"][0] * geo["kernel"][1])


def _max_pool2d_backward_fused(g, x, kernel, stride, padding, dilation):
    _, slot = x._backend.max_pool2d_forward(x.array, kernel, stride, padding, dilation)
    return MaxPool2dBackward.apply(g, minigrad.Tensor(slot, x._backend), x.shape[2:], kernel, stride, padding,
                                   dilation)


def _max_pool2d_backward_composite(g, x, kernel, stride, padding, dilation):
    """g placed at each window's maximum (found by comparing the windows with their max) and folded back."""
    (ph, pw), (n, c) = padding, x.shape[:2]
    padded = ops.pad(x, (pw, pw, ph, ph), value=-math.inf)
    windows = F.unfold(padded, kernel, dilation, 0, stride).reshape(n, c, kernel[0] * kernel[1], -1)
    hit = ops.eq(windows, windows.amax(2, keepdims=True)).astype(g.dtype)
    cols = (hit * g.reshape(n, c, 1, -1)).reshape(n, -1, windows.shape[3])
    h, w = padded.shape[2:]
    return F.fold(cols, (h, w), kernel, dilation, 0, stride)[:, :, ph:h - ph, pw:w - pw]


FUSED_CHECKS: list[FusedCheck] = [
    FusedCheck("softmax vs exp/sum", ("softmax",), _softmax_case, ops.softmax,
               _composite_softmax),
    FusedCheck("log_softmax vs exp/sum/log", ("log_softmax",), _softmax_case,
               ops.log_softmax, _composite_log_softmax),
    FusedCheck("SigmoidBackward vs g*y*(1-y)", ("sigmoid",),
               lambda d, s: _activation_backward_case(d, s, 0.001, 0.999),
               SigmoidBackward.apply, lambda g, y: g * y * (1 - y), "elementwise"),
    FusedCheck("TanhBackward vs g*(1-y*y)", ("tanh",), lambda d, s: _activation_backward_case(d, s, -0.999, 0.999),
               TanhBackward.apply, lambda g, y: g * (1 - y * y), "elementwise"),
    FusedCheck("ReluBackward vs g*(x>0)", ("relu",), lambda d, s: _input_backward_case(d, s, (0.0,), 0.05),
               ReluBackward.apply, lambda g, x: g * (x > 0).astype(x.dtype), "elementwise"),
    FusedCheck("LeakyReluBackward vs g*where(x>0,1,slope)", ("leaky_relu",),
               lambda d, s: _input_backward_case(d, s, (0.0,), 0.05),
               lambda g, x: LeakyReluBackward.apply(g, x, 0.2),
               lambda g, x: g * ((x > 0).astype(x.dtype) * 0.8 + 0.2), "elementwise"),
    FusedCheck("GeluBackward vs g*gelu'(x) (erf)", ("gelu",), _input_backward_case,
               lambda g, x: GeluBackward.apply(g, x, "none"), lambda g, x: g * _gelu_slope(x, "none"),
               "transcendental"),
    FusedCheck("GeluBackward vs g*gelu'(x) (tanh)", ("gelu",), _input_backward_case,
               lambda g, x: GeluBackward.apply(g, x, "tanh"), lambda g, x: g * _gelu_slope(x, "tanh"),
               "transcendental"),
    FusedCheck("SiluBackward vs g*s*(1+x*(1-s))", ("silu",), _input_backward_case, SiluBackward.apply,
               lambda g, x: g * x.sigmoid() * (1 + x * (1 - x.sigmoid())), "transcendental"),
    FusedCheck("EluBackward vs g*where(x>0,1,alpha*exp(x))", ("elu",),
               lambda d, s: _input_backward_case(d, s, (0.0,), 0.05), lambda g, x: EluBackward.apply(g, x, 0.3),
               lambda g, x: g * ops.where(x > 0, 1.0, x.exp() * 0.3), "transcendental"),
    FusedCheck("HardtanhBackward vs g*(-1<x<1)", ("hardtanh",),
               lambda d, s: _input_backward_case(d, s, (-1.0, 1.0), 0.05),
               lambda g, x: HardtanhBackward.apply(g, x, -1.0, 1.0),
               lambda g, x: g * ((x > -1) & (x < 1)).astype(x.dtype), "elementwise"),
    FusedCheck("SoftplusBackward vs g*where(bx>t,1,sigmoid(bx))", ("softplus",),
               lambda d, s: _input_backward_case(d, s, (_SOFTPLUS_THRESHOLD / _SOFTPLUS_BETA,), 0.05),
               lambda g, x: SoftplusBackward.apply(g, x, _SOFTPLUS_BETA, _SOFTPLUS_THRESHOLD),
               lambda g, x: g * _softplus_slope(x), "transcendental"),
    FusedCheck("SoftmaxBackward vs y*(g-sum(g*y))", ("softmax",), lambda d, s: _softmax_backward_case(d, s, False),
               lambda g, y, axis: SoftmaxBackward.apply(g, y, axis),
               lambda g, y, axis: y * (g - (g * y).sum(axis, keepdims=True))),
    FusedCheck("LogSoftmaxBackward vs g-exp(y)*sum(g)", ("log_softmax",),
               lambda d, s: _softmax_backward_case(d, s, True),
               lambda g, y, axis: LogSoftmaxBackward.apply(g, y, axis),
               lambda g, y, axis: g - y.exp() * g.sum(axis, keepdims=True)),
    FusedCheck("SoftmaxCrossEntropyBackward vs -log_softmax gathered", ("F.cross_entropy", "softmax_cross_entropy"),
               _classification_case, lambda x, t, **_: softmax_cross_entropy(x, t),
               lambda x, t, **_: -(x.log_softmax(1) * _one_hot(t, x)).sum(1)),
    # BatchNorm's large-mean channels (mean 1e4, std 0.1) are in tests/test_batchnorm.py, whose tolerances
    # scale with |mean| / std: the composite form loses those digits in float32 by design.
    FusedCheck("BatchNormBackward vs composite batch_norm", ("F.batch_norm",),
               _batch_norm_case, _batch_norm_train(True), _batch_norm_train(False), "variance"),
    FusedCheck("BatchNormEval vs composite batch_norm (eval)", ("F.batch_norm",),
               _batch_norm_eval_case, _batch_norm_eval(True), _batch_norm_eval(False), "variance"),
    FusedCheck("MaxPool2dBackward vs fold of g at each window's maximum", ("F.max_pool2d",),
               _max_pool2d_backward_case, _max_pool2d_backward_fused, _max_pool2d_backward_composite, "reduction"),
]


# -- running one case ------------------------------------------------------------------------------------------
@st.composite
def draw_inputs(draw, case: Case, contiguous: bool | None = None) -> list[Input]:
    """The tensor inputs of ``case``, floating ones in a drawn memory layout (often non-contiguous)."""
    inputs = []
    for values, grad in zip(case.arrays, case.grad_mask()):
        layout = draw(mst.layouts(values.shape, contiguous)) if values.dtype.kind == "f" else Layout()
        inputs.append(Input(values, layout, grad))
    return inputs


def _float64_arrays(case: Case) -> list[np.ndarray]:
    return [a.astype(F64) if a.dtype.kind == "f" else a for a in case.arrays]


def _outputs(result) -> tuple:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def check_forward(spec: Spec, case: Case, evaluation: Evaluation, dtype: np.dtype) -> None:
    """Outputs against the float64 reference, and the output dtype (no silent up- or downcasting)."""
    expected = _outputs(spec.reference(*_float64_arrays(case), **case.kwargs))
    if len(expected) != len(evaluation.outputs):
        raise AssertionError(f"{spec.name}: {len(evaluation.outputs)} outputs, the reference has {len(expected)}")
    want = spec.out_dtype(dtype, case.kwargs) if spec.out_dtype else dtype
    for i, (out, ref) in enumerate(zip(evaluation.outputs, expected)):
        want = np.dtype(np.int64) if np.asarray(ref).dtype.kind in "iu" else want  # indices (max, sort, ...)
        if out.dtype != want:
            raise AssertionError(f"{spec.name} on {evaluation.backend!r}: output {i} is {out.dtype}, expected {want}")
        tol = spec.tolerance(case, out.dtype, "output")
        assert_close(out, np.asarray(ref), tol.rtol, tol.atol,
                     name=f"{spec.name}: backend {evaluation.backend!r} disagrees with the float64 reference on "
                          f"output {i} (shape {out.shape}, {out.dtype})",
                     actual_label=evaluation.backend, expected_label="reference")


# Specs whose floating operands cannot be integers, with the reason (PyTorch refuses these too).
MIXED_DTYPE_EXEMPT: dict[str, str] = {
    "F.batch_norm": "running statistics and affine parameters must be floating",
    "F.layer_norm": "the affine parameters must be floating",
    "F.group_norm": "the input and the affine parameters must be floating",
    "F.binary_cross_entropy": "probabilities and their weights are floating (PyTorch refuses integers)",
    "F.kl_div": "log-probabilities and targets are floating (PyTorch refuses integers)",
    "scatter_add": "src must have the tensor's dtype, as in PyTorch",
    "index_put": "the value is cast to the tensor's dtype (x[i] = v), not promoted",
    "scatter": "src must have the tensor's dtype, as in PyTorch",
    "cdist": "x1 and x2 must be floating and of one dtype, as in PyTorch",
    "scatter_reduce": "src must have the tensor's dtype, as in PyTorch",
    "F.instance_norm": "the input and the affine parameters must be floating (group_norm underneath)",
    "F.multi_margin_loss": "the scores and class weights are floating (PyTorch refuses integers)",
    "F.embedding_bag": "the embeddings and per-sample weights are floating (PyTorch refuses integers)",
    "broadcast_tensors": "each tensor keeps its own dtype, as in PyTorch (only shapes are broadcast)",
    **{name: "floating operands of one dtype, as PyTorch's linalg (integers are refused)"
       for name in ("linalg.solve", "linalg.cross", "linalg.vecdot", "linalg.multi_dot")},
    "F.rms_norm": "the input and the weight must be floating (PyTorch refuses integers)",
    "F.grid_sample": "input and grid must be floating and of one dtype, as in PyTorch",
}
# minigrad/ops/indexing.py and statistics.py: PyTorch refuses these mixes too
MIXED_DTYPE_EXEMPT.update({name: "the source must have the tensor's dtype, as in PyTorch" for name in (
    "index_add", "index_copy", "masked_scatter", "put", "select_scatter", "slice_scatter", "diagonal_scatter")})
MIXED_DTYPE_EXEMPT["F.cross_entropy-probabilities"] = ("an integer target means class indices, the other form; "
                                                       "integer logits are refused, as PyTorch")
MIXED_DTYPE_EXEMPT.update({"vdot": "both operands of one dtype, as PyTorch's vdot",
                           "cov": "aweights must be floating, as in PyTorch"})
MIXED_DTYPE_EXEMPT.update({name: "floating operands of one dtype, as PyTorch's linalg (integers are refused)"
                           for name in ("linalg.solve_triangular", "linalg.lstsq", "linalg.lu_solve",
                                        "linalg.tensorsolve", "linalg.solve_ex", "linalg.householder_product",
                                        "ormqr")})
MIXED_DTYPE_EXEMPT.update({name: "_random_samples must have the input's dtype, as in PyTorch"
                           for name in ("F.fractional_max_pool2d", "F.fractional_max_pool3d")})


def check_mixed_dtypes(spec: Spec, case: Case, which: int, backend: str) -> None:
    """``spec`` with floating input ``which`` rounded to int64 and the others float32: the output is float32
    and agrees with the float64 reference of the same values."""
    arrays = list(case.arrays)
    # away from zero, so an operand kept off 0 by construction (a divisor, a power's base) stays off it
    arrays[which] = (np.sign(arrays[which]) * np.ceil(np.abs(arrays[which]))).astype(np.int64)
    be = minigrad.backends.load(backend)
    tensors = [minigrad.Tensor(be.from_numpy(a), be) for a in arrays]
    outputs = _outputs(spec.call(*tensors, **case.kwargs))
    expected = _outputs(spec.reference(*[a.astype(F64) if original.dtype.kind == "f" else a
                                         for a, original in zip(arrays, case.arrays)], **case.kwargs))
    for i, (out, ref) in enumerate(zip(outputs, expected)):
        want = np.dtype(np.int64) if np.asarray(ref).dtype.kind in "iu" else np.dtype(np.float32)
        if out.dtype != want:
            raise AssertionError(f"{spec.name} on {backend!r}: with input {which} int64 and the others float32, "
                                 f"output {i} is {out.dtype.name}, expected {want.name}")
        tol = spec.tolerance(case, out.dtype, "output")
        assert_close(out.numpy(), np.asarray(ref), tol.rtol, tol.atol,
                     name=f"{spec.name} on {backend!r} with input {which} int64: output {i}")


def check_agreement(spec: Spec, case: Case, inputs: list[Input], backend: str, seed: int) -> None:
    """Forward against the reference; gradients (and double gradients) against the NumPy backend."""
    dtype = next((a.dtype for a in case.arrays if a.dtype.kind == "f"), F64)
    is_reference = backend == REFERENCE_BACKEND
    double = spec.double_grad and not is_reference
    actual = evaluate(spec.call, inputs, backend, seed=seed, double_grad=double, kwargs=dict(case.kwargs),
                      where=spec.name)
    check_forward(spec, case, actual, dtype)
    if not is_reference:
        expected = evaluate(spec.call, inputs, REFERENCE_BACKEND, seed=seed, double_grad=double,
                            kwargs=dict(case.kwargs), where=spec.name)
        compare_evaluations(actual, expected, lambda kind, dt: spec.tolerance(case, dt, kind), context=spec.name)


def check_fused(check: FusedCheck, case: Case, inputs: list[Input], backend: str, seed: int) -> None:
    """The fused op against its composite expression on one backend: outputs and gradients."""
    kwargs = dict(case.kwargs)
    fused = evaluate(check.fused, inputs, backend, seed=seed, double_grad=check.double_grad, kwargs=kwargs,
                     where=check.name)
    composite = evaluate(check.composite, inputs, backend, seed=seed, double_grad=check.double_grad,
                         kwargs=kwargs, where=check.name)
    fused.backend, composite.backend = f"{backend} fused", f"{backend} composite"
    compare_evaluations(fused, composite, lambda kind, dt: check.tolerance(case, dt, kind), context=check.name)


def run_and_record(kind: str, name: str, case: Case, inputs: list[Input], backend: str, seed: int) -> None:
    """Run one check; on failure write a reproducer and add its replay command to the message."""
    try:
        _dispatch(kind, name, case, inputs, backend, seed)
    except Exception as exc:  # a crash is a failure too, and deserves a reproducer
        crash = f"{name} on {backend!r} raised {type(exc).__name__}: {exc}"
        what = str(exc) if isinstance(exc, AssertionError) else crash
        arguments = {"kind": kind, "name": name, "backend": backend, "seed": seed, "kwargs": dict(case.kwargs),
                     "requires_grad": case.requires_grad, "n": case.n}
        try:
            _, command = write_reproducer(f"{kind}-{name}-{backend}-{_failure_key(what)}",
                                          f"{Path(__file__).resolve()}:replay", inputs, arguments, what)
            note = f"\nreproduce with: {command}"
        except OSError as write_error:  # a read-only checkout must not hide the real failure
            note = f"\n(could not write a reproducer: {write_error})"
        raise AssertionError(f"{what}\ninputs: " + "; ".join(
            f"{inp.values.shape} {inp.values.dtype} {inp.layout.describe()}" for inp in inputs) + note) from exc


def _failure_key(message: str) -> str:
    """Same key for the shrinking steps of one failure (numbers stripped), different keys for distinct ones,
    so that Hypothesis's final, minimal example is the file left for each distinct failure."""
    words = re.sub(r"[-+]?[0-9][0-9.e+-]*", "#", message.splitlines()[0] if message else "")
    return hashlib.sha1(words.encode()).hexdigest()[:8]


def _dispatch(kind: str, name: str, case: Case, inputs: list[Input], backend: str, seed: int) -> None:
    if kind == "agreement":
        check_agreement(SPECS_BY_NAME[name], case, inputs, backend, seed)
    elif kind == "fused":
        check_fused(next(c for c in FUSED_CHECKS if c.name == name), case, inputs, backend, seed)
    elif kind == "gradcheck":
        check_gradients_numerically(SPECS_BY_NAME[name], case, inputs)
    else:
        raise ValueError(f"unknown check kind {kind!r}")


def check_gradients_numerically(spec: Spec, case: Case, inputs: list[Input]) -> None:
    """float64 finite differences on NumPy: gradcheck, and gradgradcheck where double backward is claimed."""
    be = minigrad.backends.load(REFERENCE_BACKEND)
    args = [inp.materialize(be) for inp in inputs]
    kwargs = dict(case.kwargs)

    def fn(*tensors):
        return spec.call(*tensors, **kwargs)

    if not any(inp.requires_grad for inp in inputs):
        return
    minigrad.gradcheck(fn, args)
    if spec.double_grad:
        minigrad.gradgradcheck(fn, args)


def replay(inputs: list[Input], *, kind: str, name: str, backend: str, seed: int, kwargs: dict,
           requires_grad, n: int) -> None:
    """Entry point of the reproducers written by ``run_and_record``."""
    case = Case(tuple(inp.values for inp in inputs), kwargs, requires_grad, n)
    _dispatch(kind, name, case, inputs, backend, seed)

