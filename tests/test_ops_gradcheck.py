"""Float64 gradcheck and gradgradcheck of every differentiable op, plus the conventions at kinks.

Inputs are small (a few elements) and drawn away from kinks by construction: values with a random sign
and a magnitude in [0.2, 1] for abs/relu, gaps of at least 0.15 between candidates for max/min, positive
values for log/sqrt, and so on. Every op in ``minigrad.ops.OPS`` must be gradchecked: here, or by its spec
in tests/op_specs.py (the agreement suite).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import minigrad as mg
from minigrad import ops

# -- input factories ------------------------------------------------------------------------------


def _leaf(array) -> mg.Tensor:
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def uniform(rng, *shape, low=-1.0, high=1.0):
    return _leaf(rng.uniform(low, high, shape))


def away(rng, *shape, low=0.2, high=1.0):
    """Values with a random sign and a magnitude in [low, high]: away from a kink at 0."""
    return _leaf(rng.choice([-1.0, 1.0], shape) * rng.uniform(low, high, shape))


def positive(rng, *shape, low=0.5, high=2.0):
    return _leaf(rng.uniform(low, high, shape))


def distinct(rng, *shape):
    """Values at least 0.15 apart from each other (no ties anywhere)."""
    n = int(np.prod(shape))
    values = rng.permutation(n) * 0.25 - n * 0.125 + rng.uniform(-0.05, 0.05, n)
    return _leaf(values.reshape(shape))


def separated(rng, *shape):
    """A pair (a, b) of one shape with |a - b| >= 0.2 everywhere (no ties for maximum/minimum)."""
    a = rng.uniform(-1, 1, shape)
    return _leaf(a), _leaf(a + rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 0.6, shape))


MASK = np.array([[True, False, True, True], [False, True, False, True], [True, True, False, False]])


# -- the cases: (id, op name in OPS or "method", function, input factory) ---------------------------
# Each factory takes a numpy Generator and returns the tuple of inputs.

CASES: list = []


def case(name: str, op: str, fn, make) -> None:
    CASES.append((name, op, fn, make))


# arithmetic, with broadcasting, numbers on either side, and the operators
case("add", "add", mg.add, lambda r: (uniform(r, 2, 3), uniform(r, 3)))
case("add_broadcast_both", "add", lambda a, b: a + b, lambda r: (uniform(r, 2, 1), uniform(r, 1, 3)))
case("radd_scalar", "add", lambda a: 2.5 + a, lambda r: (uniform(r, 3),))
case("sub", "sub", mg.sub, lambda r: (uniform(r, 2, 3), uniform(r, 2, 1)))
case("rsub_scalar", "sub", lambda a: 2.5 - a, lambda r: (uniform(r, 3),))
case("sub_operator", "sub", lambda a, b: a - b, lambda r: (uniform(r, 3), uniform(r, 2, 3)))
case("mul", "mul", mg.mul, lambda r: (uniform(r, 2, 3), uniform(r, 3)))
case("mul_self", "mul", lambda a: a * a, lambda r: (uniform(r, 4),))
case("rmul_scalar", "mul", lambda a: 1.5 * a, lambda r: (uniform(r, 3),))
case("div", "div", mg.div, lambda r: (uniform(r, 2, 3), away(r, 3, low=0.5)))
case("div_operator", "div", lambda a, b: a / b, lambda r: (uniform(r, 3, 1), away(r, 2, 1, 3, low=0.5)))
case("rdiv_scalar", "div", lambda a: 2.0 / a, lambda r: (away(r, 3, low=0.5),))
case("div_scalar", "div", lambda a: a / 4.0, lambda r: (uniform(r, 3),))
case("pow_tensor_exponent", "pow", mg.pow, lambda r: (positive(r, 2, 3), uniform(r, 3)))
case("pow_operator_tensors", "pow", lambda a, b: a ** b, lambda r: (positive(r, 3), uniform(r, 2, 1)))
case("pow_scalar_exponent_2", "pow", lambda a: a ** 2, lambda r: (uniform(r, 4),))
case("pow_scalar_exponent_3", "pow", lambda a: a ** 3, lambda r: (uniform(r, 4),))
case("pow_scalar_exponent_frac", "pow", lambda a: a ** 2.5, lambda r: (positive(r, 4),))
case("pow_scalar_exponent_neg", "pow", lambda a: a ** -1.5, lambda r: (positive(r, 4),))
case("pow_scalar_exponent_1", "pow", lambda a: a ** 1, lambda r: (uniform(r, 3),))
case("rpow_scalar_base", "pow", lambda a: 2.0 ** a, lambda r: (uniform(r, 4),))
case("neg", "neg", mg.neg, lambda r: (uniform(r, 2, 3),))
case("neg_operator", "neg", lambda a: -a, lambda r: (uniform(r, 3),))

# unary elementwise
case("abs", "abs", mg.abs, lambda r: (away(r, 2, 3),))
case("abs_operator", "abs", lambda a: abs(a), lambda r: (away(r, 4),))
case("exp", "exp", mg.exp, lambda r: (uniform(r, 2, 3),))
case("log", "log", mg.log, lambda r: (positive(r, 2, 3),))
case("sqrt", "sqrt", mg.sqrt, lambda r: (positive(r, 2, 3),))
case("rsqrt", "rsqrt", mg.rsqrt, lambda r: (positive(r, 2, 3),))
case("sin", "sin", mg.sin, lambda r: (uniform(r, 2, 3, low=-3, high=3),))
case("cos", "cos", mg.cos, lambda r: (uniform(r, 2, 3, low=-3, high=3),))
case("tanh", "tanh", mg.tanh, lambda r: (uniform(r, 2, 3, low=-2, high=2),))
case("sigmoid", "sigmoid", mg.sigmoid, lambda r: (uniform(r, 2, 3, low=-3, high=3),))
case("erf", "erf", mg.erf, lambda r: (uniform(r, 2, 3, low=-2, high=2),))
case("relu", "relu", mg.relu, lambda r: (away(r, 2, 3),))
case("leaky_relu", "leaky_relu", lambda a: mg.leaky_relu(a, 0.1), lambda r: (away(r, 2, 3),))
case("leaky_relu_default", "leaky_relu", mg.leaky_relu, lambda r: (away(r, 4),))
case("gelu_exact", "gelu", mg.gelu, lambda r: (uniform(r, 2, 3, low=-3, high=3),))
case("gelu_tanh", "gelu", lambda a: mg.gelu(a, approximate="tanh"), lambda r: (uniform(r, 2, 3, low=-3, high=3),))
case("softplus", "softplus", mg.softplus, lambda r: (uniform(r, 2, 3, low=-3, high=3),))
# beta * x on both sides of the threshold (the linear branch), away from it.
case("softplus_beta_threshold", "softplus", lambda a: mg.softplus(a, beta=2.0, threshold=1.0),
     lambda r: (_leaf([[-1.0, -0.3, 0.2], [0.3, 0.7, 1.2]]),))
case("clip_both", "clip", lambda a: mg.clip(a, -0.5, 0.5),
     lambda r: (_leaf(np.array([-0.9, -0.3, 0.1, 0.35, 0.7, -0.65])),))
case("clip_min_only", "clip", lambda a: mg.clip(a, min=0.0), lambda r: (away(r, 2, 3),))
case("clip_max_only", "clip", lambda a: a.clamp(max=0.0), lambda r: (away(r, 2, 3),))
case("maximum", "maximum", mg.maximum, lambda r: separated(r, 2, 3))
case("maximum_broadcast", "maximum", mg.maximum,
     lambda r: (_leaf([[0.1, -0.5, 0.9]]), _leaf([[0.4], [-0.2]])))
case("maximum_scalar", "maximum", lambda a: mg.maximum(a, 0.0), lambda r: (away(r, 4),))
case("minimum", "minimum", mg.minimum, lambda r: separated(r, 2, 3))
case("minimum_broadcast", "minimum", mg.minimum,
     lambda r: (_leaf([[0.1, -0.5, 0.9]]), _leaf([[0.4], [-0.2]])))
case("where", "where", lambda a, b: mg.where(mg.tensor(MASK[:2, :3]), a, b),
     lambda r: (uniform(r, 2, 3), uniform(r, 2, 3)))
case("where_broadcast", "where", lambda a, b: mg.where(mg.tensor(MASK[:, :1]), a, b),
     lambda r: (uniform(r, 1, 2), uniform(r, 3, 1)))
case("where_scalar", "where", lambda a: mg.where(mg.tensor(MASK[0]), a, 0.5), lambda r: (uniform(r, 4),))

# reductions, over all axes, one axis, negative axes and tuples, with and without keepdims
for _axis, _keep in [(None, False), (0, False), (-1, True), ((0, 2), False), ((1, 2), True)]:
    _sfx = f"axis{_axis}_keep{int(_keep)}".replace(" ", "").replace("(", "").replace(")", "").replace(",", "_")
    case(f"sum_{_sfx}", "sum", lambda a, ax=_axis, k=_keep: mg.sum(a, ax, k), lambda r: (uniform(r, 2, 3, 2),))
    case(f"mean_{_sfx}", "mean", lambda a, ax=_axis, k=_keep: a.mean(ax, keepdims=k),
         lambda r: (uniform(r, 2, 3, 2),))
    case(f"var_{_sfx}", "var", lambda a, ax=_axis, k=_keep: mg.var(a, ax, keepdims=k), lambda r: (uniform(r, 2, 3, 2),))
    case(f"std_{_sfx}", "std", lambda a, ax=_axis, k=_keep: mg.std(a, ax, keepdim=k), lambda r: (uniform(r, 2, 3, 2),))
    case(f"amax_{_sfx}", "amax", lambda a, ax=_axis, k=_keep: mg.amax(a, ax, k), lambda r: (distinct(r, 2, 3, 2),))
    case(f"amin_{_sfx}", "amin", lambda a, ax=_axis, k=_keep: a.amin(ax, keepdim=k), lambda r: (distinct(r, 2, 3, 2),))
    case(f"logsumexp_{_sfx}", "logsumexp", lambda a, ax=_axis, k=_keep: mg.logsumexp(a, ax, k),
         lambda r: (uniform(r, 2, 3, 2),))
case("max_all", "max", mg.max, lambda r: (distinct(r, 2, 3),))
case("max_dim", "max", lambda a: a.max(1), lambda r: (distinct(r, 2, 3, 2),))
case("max_dim_keepdim", "max", lambda a: mg.max(a, dim=-1, keepdim=True), lambda r: (distinct(r, 2, 3),))
case("min_dim", "min", lambda a: a.min(0).values, lambda r: (distinct(r, 3, 2),))
case("min_all", "min", lambda a: a.min(), lambda r: (distinct(r, 4),))
case("sort", "sort", lambda a: a.sort(), lambda r: (distinct(r, 2, 4),))
case("sort_descending_dim0", "sort", lambda a: mg.sort(a, 0, descending=True), lambda r: (distinct(r, 3, 2),))
case("topk", "topk", lambda a: a.topk(2, dim=0), lambda r: (distinct(r, 4, 3),))
case("topk_smallest", "topk", lambda a: mg.topk(a, 3, largest=False).values, lambda r: (distinct(r, 2, 5),))
case("gather", "gather", lambda a: a.gather(1, mg.tensor([[0, 2, 2], [1, 0, 0]])), lambda r: (uniform(r, 3, 4),))
case("scatter_add", "scatter_add", lambda a, s: mg.scatter_add(a, 0, mg.tensor([[0, 2, 0], [0, 1, 2]]), s),
     lambda r: (uniform(r, 3, 3), uniform(r, 2, 4)))
case("prod_all", "prod", mg.prod, lambda r: (uniform(r, 2, 3, low=0.5, high=1.5),))
case("prod_dim", "prod", lambda a: a.prod(1, keepdim=True), lambda r: (uniform(r, 3, 4),))
case("prod_one_zero", "prod", lambda a: (a * mg.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]).double()).prod(1),
     lambda r: (uniform(r, 2, 3),))
case("prod_two_zeros", "prod", lambda a: (a * mg.tensor([0.0, 1.0, 0.0, 1.0]).double()).prod(),
     lambda r: (uniform(r, 4),))
case("cumsum", "cumsum", lambda a: a.cumsum(0) * a, lambda r: (uniform(r, 3, 2),))
case("masked_fill", "masked_fill", lambda a: a.masked_fill(mg.tensor(MASK[0]), 2.0) * a,
     lambda r: (uniform(r, 3, 4),))
case("masked_fill_tensor_value", "masked_fill", lambda a, v: a.masked_fill(mg.tensor(MASK), v),
     lambda r: (uniform(r, 3, 4), uniform(r)))
for _p in ("fro", 1, 3, float("inf"), -float("inf")):
    case(f"norm_p{_p}", "norm", lambda a, p=_p: mg.norm(a, p, dim=1), lambda r: (distinct(r, 3, 4),))
case("norm_all", "norm", mg.norm, lambda r: (uniform(r, 2, 3),))
case("outer", "outer", lambda a, b: mg.outer(a, b) * mg.outer(b, a).T, lambda r: (uniform(r, 3), uniform(r, 3)))
case("tril", "tril", lambda a: a.tril(-1) * a, lambda r: (uniform(r, 2, 3, 3),))
case("triu", "triu", lambda a: a.triu(1) * a, lambda r: (uniform(r, 3, 4),))
case("repeat", "repeat", lambda a: a.repeat(2, 1, 3) * a.repeat(2, 1, 3), lambda r: (uniform(r, 2, 2),))
case("einsum_matmul", "einsum", lambda a, b: mg.einsum("bij,bkj->bki", a, b) ** 2,
     lambda r: (uniform(r, 2, 2, 3), uniform(r, 2, 2, 3)))
case("einsum_reduce", "einsum", lambda a: mg.einsum("ijk->ki", a * a), lambda r: (uniform(r, 2, 3, 2),))
case("sum_dim_keepdim", "sum", lambda a: a.sum(dim=1, keepdim=True), lambda r: (uniform(r, 2, 3),))
for _c in (0, 2):
    case(f"var_correction{_c}", "var", lambda a, c=_c: mg.var(a, 1, correction=c), lambda r: (uniform(r, 2, 4),))
    case(f"std_correction{_c}", "std", lambda a, c=_c: a.std(0, correction=c), lambda r: (uniform(r, 4, 2),))

# matmul with NumPy's semantics
case("matmul_2d", "matmul", mg.matmul, lambda r: (uniform(r, 2, 3), uniform(r, 3, 2)))
case("matmul_1d_2d", "matmul", mg.matmul, lambda r: (uniform(r, 3), uniform(r, 3, 2)))
case("matmul_2d_1d", "matmul", mg.matmul, lambda r: (uniform(r, 2, 3), uniform(r, 3)))
case("matmul_1d_1d", "matmul", lambda a, b: a @ b, lambda r: (uniform(r, 3), uniform(r, 3)))
case("matmul_batch_broadcast", "matmul", lambda a, b: a @ b, lambda r: (uniform(r, 2, 1, 2, 3), uniform(r, 3, 3, 2)))
case("matmul_batch_1d", "matmul", mg.matmul, lambda r: (uniform(r, 2, 2, 3), uniform(r, 3)))
case("matmul_self", "matmul", lambda a: a @ a, lambda r: (uniform(r, 3, 3),))

# shape movement
case("reshape", "reshape", lambda a: mg.reshape(a, (3, 2)), lambda r: (uniform(r, 2, 3),))
case("reshape_minus_one", "reshape", lambda a: a.reshape(-1, 2) * 1.5, lambda r: (uniform(r, 2, 3),))
case("view", "reshape", lambda a: a.view(6), lambda r: (uniform(r, 2, 3),))
case("flatten", "flatten", mg.flatten, lambda r: (uniform(r, 2, 1, 3),))
case("flatten_start_dim", "flatten", lambda a: a.flatten(1), lambda r: (uniform(r, 2, 2, 2),))
case("permute", "permute", lambda a: mg.permute(a, (2, 0, 1)), lambda r: (uniform(r, 2, 3, 2),))
case("T", "permute", lambda a: a.T * a.T, lambda r: (uniform(r, 2, 3),))
case("transpose", "transpose", lambda a: mg.transpose(a, 0, 2), lambda r: (uniform(r, 2, 3, 2),))
case("mT", "transpose", lambda a: a.mT @ a, lambda r: (uniform(r, 2, 3, 2),))
case("squeeze", "squeeze", mg.squeeze, lambda r: (uniform(r, 1, 3, 1),))
case("squeeze_dim", "squeeze", lambda a: a.squeeze(-1), lambda r: (uniform(r, 1, 3, 1),))
case("unsqueeze", "unsqueeze", lambda a: mg.unsqueeze(a, 1), lambda r: (uniform(r, 2, 3),))
case("unsqueeze_negative", "unsqueeze", lambda a: a.unsqueeze(-1), lambda r: (uniform(r, 2, 3),))
case("broadcast_to", "broadcast_to", lambda a: mg.broadcast_to(a, (2, 3, 3)), lambda r: (uniform(r, 3, 1),))
case("expand", "expand", lambda a: mg.expand(a, 2, -1, 3), lambda r: (uniform(r, 2, 1),))
case("concatenate", "concatenate", lambda a, b, c: mg.concatenate([a, b, c], axis=1),
     lambda r: (uniform(r, 2, 1), uniform(r, 2, 2), uniform(r, 2, 1)))
case("cat_axis0_reuse", "concatenate", lambda a, b: mg.cat([a, b, a]), lambda r: (uniform(r, 1, 3), uniform(r, 2, 3)))
case("stack", "stack", lambda a, b: mg.stack([a, b]), lambda r: (uniform(r, 2, 3), uniform(r, 2, 3)))
case("stack_last", "stack", lambda a, b: mg.stack([a, b, a], axis=-1), lambda r: (uniform(r, 3), uniform(r, 3)))
case("split_sizes", "split", lambda a: mg.split(a, [1, 3], dim=1), lambda r: (uniform(r, 2, 4),))
case("split_int", "split", lambda a: mg.split(a, 2), lambda r: (uniform(r, 5, 2),))
case("chunk", "split", lambda a: a.chunk(2, 1), lambda r: (uniform(r, 2, 3),))
case("pad", "pad", lambda a: mg.pad(a, (1, 2)), lambda r: (uniform(r, 2, 3),))
case("pad_two_dims_value", "pad", lambda a: mg.pad(a, (0, 1, 2, 0), value=0.5), lambda r: (uniform(r, 2, 3),))

# indexing
_INDICES = {
    "int": 1,
    "negative_int": -1,
    "int_pair": (1, 2),
    "slice": slice(1, None),
    "slice_step": (slice(None), slice(None, None, 2)),
    "slice_negative_step": (slice(None, None, -2), slice(3, 0, -1)),
    "none": (None, 1),
    "ellipsis": (Ellipsis, 2),
    "ellipsis_none": (Ellipsis, None, slice(1, 3)),
    "int_list_duplicates": [0, 2, 0, 0],
    "int_array_2d": np.array([[0, 1], [1, 1]]),
    "int_arrays_pair": ([0, 2, 2], [1, 3, 3]),
    "int_array_and_slice": (slice(None), [3, 0, 3]),
    "int_and_int_array": (1, [0, 0, 2]),
    "bool_mask": MASK,
    "bool_row_mask": np.array([True, False, True]),
}
for _name, _index in _INDICES.items():
    case(f"getitem_{_name}", "getitem", lambda a, i=_index: a[i], lambda r: (uniform(r, 3, 4),))
case("getitem_int_tensor_duplicates", "getitem", lambda a: a[mg.tensor([1, 1, 0, 1])], lambda r: (uniform(r, 3, 4),))
case("getitem_bool_tensor", "getitem", lambda a: a[mg.tensor(MASK)], lambda r: (uniform(r, 3, 4),))
case("getitem_function", "getitem", lambda a: ops.getitem(a, (slice(None), [0, 0])), lambda r: (uniform(r, 3, 4),))
case("index_put_basic", "index_put", lambda a, v: ops.index_put(a, v, (1, slice(None))),
     lambda r: (uniform(r, 3, 4), uniform(r, 4)))
case("index_put_advanced_broadcast", "index_put", lambda a, v: ops.index_put(a, v, (slice(None), [0, 2])),
     lambda r: (uniform(r, 3, 4), uniform(r, 3, 1)))
case("index_put_mask", "index_put", lambda a, v: ops.index_put(a, v, MASK),
     lambda r: (uniform(r, 3, 4), uniform(r, 1)))

# in-place ops on non-leaf tensors (recorded by autograd)
def _inplace(method: str):
    def fn(a, b):
        y = a * 1.0
        getattr(y, method)(b)
        return y

    return fn


case("add_", "add", _inplace("add_"), lambda r: (uniform(r, 2, 3), uniform(r, 3)))
case("sub_", "sub", _inplace("sub_"), lambda r: (uniform(r, 2, 3), uniform(r, 3)))
case("mul_", "mul", _inplace("mul_"), lambda r: (uniform(r, 2, 3), uniform(r, 3)))
case("div_", "div", _inplace("div_"), lambda r: (uniform(r, 2, 3), away(r, 3, low=0.5)))
case("copy_", "clone", _inplace("copy_"), lambda r: (uniform(r, 2, 3), uniform(r, 3)))
case("setitem", "index_put", lambda a, v: _setitem(a, v), lambda r: (uniform(r, 3, 4), uniform(r, 2)))
case("iadd_imul", "mul", lambda a, b: _iops(a, b), lambda r: (uniform(r, 3), away(r, 3, low=0.5)))


def _setitem(a, v):
    y = a.sin() * 2.0  # (a.exp() would fail: Exp saves its output, which the write changes)
    y[1, 1:3] = v
    return y * a


def _iops(a, b):
    y = a + 0.0
    y += b
    y *= b
    y -= a
    y /= b
    return y


# softmax family
case("softmax", "softmax", mg.softmax, lambda r: (uniform(r, 2, 3, low=-2, high=2),))
case("softmax_axis0", "softmax", lambda a: a.softmax(0), lambda r: (uniform(r, 3, 2, low=-2, high=2),))
case("log_softmax", "log_softmax", mg.log_softmax, lambda r: (uniform(r, 2, 3, low=-2, high=2),))
case("log_softmax_axis0", "log_softmax", lambda a: mg.log_softmax(a, dim=0), lambda r: (uniform(r, 3, 2),))

# plumbing
case("clone", "clone", mg.clone, lambda r: (uniform(r, 2, 3),))
case("contiguous_of_transpose", "clone", lambda a: a.T.contiguous(), lambda r: (uniform(r, 2, 3),))
case("cast_to_float64", "cast", lambda a: ops.cast(a, "float64") * a, lambda r: (uniform(r, 2, 3),))
case("to_backend_same", "to_backend", lambda a: ops.to_backend(a, "numpy") * 2, lambda r: (uniform(r, 3),))
case("sum_to", "sum_to", lambda a: ops.sum_to(a, (3, 1)), lambda r: (uniform(r, 2, 3, 4),))
case("sum_to_same_rank", "sum_to", lambda a: ops.sum_to(a, (1, 4)), lambda r: (uniform(r, 3, 4),))
# nextafter moves one ulp: slope 1 in input and 0 in other, which stays 5 away so that no step crosses it
case("nextafter", "nextafter", mg.nextafter, lambda r: (uniform(r, 3), uniform(r, 3, low=4.0, high=6.0)))

# a composite: a small MLP with a loss
case("mlp_composite", "matmul",
     lambda x, w, b: mg.log_softmax(mg.tanh(x @ w + b), 1)[[0, 1], [1, 0]].mean(),
     lambda r: (uniform(r, 2, 3), uniform(r, 3, 2), uniform(r, 2)))


PARAMS = [pytest.param(name, fn, make, id=name) for name, _, fn, make in CASES]


@pytest.mark.parametrize(("name", "fn", "make"), PARAMS)
def test_gradcheck(name, fn, make):
    inputs = make(np.random.default_rng(zlib.crc32(name.encode())))
    assert mg.gradcheck(fn, inputs)


@pytest.mark.parametrize(("name", "fn", "make"), PARAMS)
def test_gradgradcheck(name, fn, make):
    inputs = make(np.random.default_rng(zlib.crc32(name.encode())))
    assert mg.gradgradcheck(fn, inputs)


def test_every_registered_op_is_gradchecked():
    """Here, or by the agreement suite (test_gradcheck_float64_numpy runs gradcheck and gradgradcheck on the
    cases of every spec with ``gradcheck=True``)."""
    from op_specs import SPECS

    covered = {op for _, op, _, _ in CASES}
    covered |= {name for name, fn in ops.OPS.items() if any(s.op is fn and s.gradcheck for s in SPECS)}
    missing = sorted(set(ops.OPS) - covered)
    assert not missing, f"ops in minigrad.ops.OPS without a gradcheck (a case here or a spec): {missing}"


def test_cast_roundtrip_through_float32():
    """float64 -> float32 -> float64: the gradient comes back as float64 (checked with a float32-sized step)."""
    x = uniform(np.random.default_rng(0), 2, 3)
    assert mg.gradcheck(lambda a: ops.cast(ops.cast(a, "float32"), "float64") * 2, x, eps=1e-2, atol=1e-4)
    y = ops.cast(x, "float32")
    y.backward(mg.tensor(np.full((2, 3), 0.5, np.float32)))
    assert x.grad.dtype == np.float64


ZERO_D = {
    "neg": mg.neg, "abs": mg.abs, "exp": mg.exp, "log": mg.log, "sqrt": mg.sqrt, "rsqrt": mg.rsqrt,
    "sin": mg.sin, "cos": mg.cos, "tanh": mg.tanh, "sigmoid": mg.sigmoid, "erf": mg.erf, "relu": mg.relu,
    "leaky_relu": mg.leaky_relu, "gelu": mg.gelu, "softplus": mg.softplus, "clip": lambda a: a.clip(0, 1),
    "pow": lambda a: a ** 3, "sum": mg.sum, "mean": mg.mean, "max": mg.max, "logsumexp": mg.logsumexp,
    "reshape": lambda a: a.reshape(1, 1), "getitem": lambda a: a[None], "mul": lambda a: a * a,
}


@pytest.mark.parametrize("name", sorted(ZERO_D))
def test_zero_dimensional_inputs(name):
    x = _leaf(0.625)
    assert mg.gradcheck(ZERO_D[name], x)
    assert mg.gradgradcheck(ZERO_D[name], x)
    assert ZERO_D[name](mg.tensor(0.625)).dtype == np.float32  # and float32 stays float32


# -- conventions at kinks --------------------------------------------------------------------------


def _grad_of(fn, values, upstream=None):
    x = _leaf(values)
    out = fn(x)
    out.backward(upstream if upstream is not None else mg.ones_like(out))
    return x.grad.numpy()


def test_relu_and_abs_have_zero_gradient_at_zero():
    np.testing.assert_array_equal(_grad_of(mg.relu, [-1.0, 0.0, 2.0]), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(_grad_of(mg.abs, [-1.0, 0.0, 2.0]), [-1.0, 0.0, 1.0])


def test_leaky_relu_at_zero_uses_the_slope_and_clip_passes_at_the_bounds():
    np.testing.assert_allclose(_grad_of(lambda x: mg.leaky_relu(x, 0.1), [-1.0, 0.0, 2.0]), [0.1, 0.1, 1.0])
    np.testing.assert_array_equal(_grad_of(lambda x: x.clip(-1, 1), [-2.0, -1.0, 0.0, 1.0, 2.0]),
                                  [0.0, 1.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("op", [mg.maximum, mg.minimum])
def test_maximum_minimum_ties_split_the_gradient_evenly(op):
    a, b = _leaf([1.0, 2.0, 3.0]), _leaf([1.0, 0.0, 5.0])
    upstream = mg.tensor(np.array([0.4, -0.7, 1.3]))
    op(a, b).backward(upstream)
    first = [0.2, -0.7, 0.0] if op is mg.maximum else [0.2, 0.0, 1.3]
    np.testing.assert_allclose(a.grad.numpy(), first)
    np.testing.assert_allclose(b.grad.numpy(), upstream.numpy() - np.array(first))


def test_pow_with_exponent_zero_has_zero_gradient_even_at_zero():
    np.testing.assert_array_equal(_grad_of(lambda x: x ** 0, [0.0, 2.0]), [0.0, 0.0])
    assert mg.gradgradcheck(lambda x: x ** 0 * x, _leaf([0.0, 2.0]))


def test_maximum_with_a_number_splits_ties_too():
    np.testing.assert_allclose(_grad_of(lambda x: mg.maximum(x, 0.0), [-1.0, 0.0, 2.0]), [0.0, 0.5, 1.0])


def test_max_reduction_ties_split_evenly_among_the_maxima():
    """The full reduction and amax/amin (PyTorch's rule for them): tied extrema share the gradient."""
    np.testing.assert_allclose(_grad_of(mg.max, [1.0, 3.0, 3.0, 2.0, 3.0]), [0, 1 / 3, 1 / 3, 0, 1 / 3])
    grad = _grad_of(lambda x: x.amax(1), [[1.0, 4.0, 4.0], [2.0, 1.0, 0.0]], mg.tensor(np.array([0.6, -2.0])))
    np.testing.assert_allclose(grad, [[0, 0.3, 0.3], [-2.0, 0, 0]])
    grad = _grad_of(lambda x: x.amin(axis=0, keepdims=True), [[1.0, 4.0], [1.0, 0.0]],
                    mg.tensor(np.array([[0.8, 1.0]])))
    np.testing.assert_allclose(grad, [[0.4, 0], [0.4, 1.0]])


def test_max_with_a_dim_sends_the_gradient_to_the_index_returned():
    """max/min along one dim (any spelling): PyTorch's rule, the whole gradient goes to the first extremum."""
    grad = _grad_of(lambda x: x.max(axis=1).values, [[1.0, 4.0, 4.0], [2.0, 1.0, 0.0]],
                    mg.tensor(np.array([0.6, -2.0])))
    np.testing.assert_allclose(grad, [[0, 0.6, 0], [-2.0, 0, 0]])
    grad = _grad_of(lambda x: x.min(0, keepdim=True)[0], [[1.0, 4.0], [1.0, 0.0]], mg.tensor(np.array([[0.8, 1.0]])))
    np.testing.assert_allclose(grad, [[0.8, 0], [0, 1.0]])


# -- stability and non-differentiable ops ------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_softmax_family_is_stable_for_huge_logits(scale):
    logits = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, -2.0]]) * scale
    x = mg.tensor(logits, requires_grad=True)
    shifted = logits - logits.max(axis=1, keepdims=True)
    expected_log = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = mg.log_softmax(x, 1)
    p = mg.softmax(x, 1)
    np.testing.assert_allclose(log_p.numpy(), expected_log)
    np.testing.assert_allclose(p.numpy(), np.exp(expected_log))
    lse = mg.logsumexp(x, 1)
    np.testing.assert_allclose(lse.numpy(), logits.max(axis=1) + np.log(np.exp(shifted).sum(axis=1)))
    upstream = np.random.default_rng(1).standard_normal((2, 3))
    (log_p * mg.tensor(upstream)).sum().backward()
    expected_grad = upstream - np.exp(expected_log) * upstream.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), expected_grad, atol=1e-12)
    x.grad = None
    (p * mg.tensor(upstream)).sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


def test_float32_softmax_is_stable_too():
    x = mg.tensor([[1e4, 0.0, -1e4]], requires_grad=True)
    y = mg.log_softmax(x)
    assert y.dtype == np.float32 and np.all(np.isfinite(y.numpy()))
    (y * mg.tensor([[0.3, -0.2, 0.9]])).sum().backward()
    assert x.grad.dtype == np.float32 and np.all(np.isfinite(x.grad.numpy()))


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_return_bool_without_gradient(name):
    a = mg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    b = mg.tensor([[2.0], [1.0]], requires_grad=True)
    out = getattr(mg, name)(a, b)
    op = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
          "ge": np.greater_equal}[name]
    assert out.dtype == np.bool_ and not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.numpy(), op(a.numpy(), b.numpy()))
    operator_out = {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[name]
    np.testing.assert_array_equal(operator_out.numpy(), out.numpy())
    scalar_out = getattr(mg, name)(a, 2.0)
    np.testing.assert_array_equal(scalar_out.numpy(), op(a.numpy(), 2.0))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_are_int64_without_gradient(name):
    values = np.array([[0.3, -1.0, 2.0], [5.0, 0.1, -3.0]])
    x = mg.tensor(values, requires_grad=True)
    for axis, keep in [(None, False), (0, False), (1, True), (-1, False)]:
        out = getattr(x, name)(axis=axis, keepdims=keep)
        assert out.dtype == np.int64 and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), getattr(np, name)(values, axis=axis, keepdims=keep))


def test_forward_values_match_numpy():
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 2.0, (2, 3))
    b = rng.uniform(-1.0, 1.0, (3,))
    t_a, t_b = mg.tensor(a), mg.tensor(b)
    checks = [
        (t_a + t_b, a + b), (t_a - t_b, a - b), (t_a * t_b, a * b), (t_a / t_b, a / b), (t_a ** t_b, a ** b),
        (2.0 ** t_b, 2.0 ** b), (t_a.log(), np.log(a)), (t_a.rsqrt(), 1 / np.sqrt(a)),
        (t_b.sigmoid(), 1 / (1 + np.exp(-b))), (t_b.relu(), np.maximum(b, 0)),
        (t_b.leaky_relu(0.2), np.where(b > 0, b, 0.2 * b)), (mg.softplus(t_b), np.log1p(np.exp(b))),
        (t_a.var(1, correction=0), a.var(1)), (t_a.std(0), a.std(0, ddof=1)),
        (mg.logsumexp(t_a, 0), np.log(np.exp(a).sum(0))), (t_a @ t_b, a @ b),
        (mg.pad(t_a, (1, 0)), np.pad(a, ((0, 0), (1, 0)))), (t_a[:, [2, 0]], a[:, [2, 0]]),
        (mg.gelu(t_b, approximate="tanh"),
         0.5 * b * (1 + np.tanh(np.sqrt(2 / np.pi) * (b + 0.044715 * b ** 3)))),
    ]
    for got, expected in checks:
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_against_torch_when_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x_np = rng.uniform(-2, 2, (3, 4))
    w_np = rng.uniform(-1, 1, (4, 2))
    up = rng.standard_normal((3, 2))

    def run(lib, x, w):
        h = lib.gelu(x) if lib is mg else torch.nn.functional.gelu(x)
        y = (h @ w).tanh() * x[:, :2].sigmoid()
        return y.log_softmax(1) if lib is mg else torch.log_softmax(y, 1)

    x, w = mg.tensor(x_np, requires_grad=True), mg.tensor(w_np, requires_grad=True)
    tx, tw = torch.tensor(x_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    out, tout = run(mg, x, w), run(torch, tx, tw)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10)
    out.backward(mg.tensor(up))
    tout.backward(torch.tensor(up))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-12)
