"""PyTorch's torch.<name> functions a ported script calls: stacking and shape helpers, sorted searches, the
integration rules, the dtype API (default dtype, finfo/iinfo, promotion), the process-wide switches (seeds,
threads, determinism), poisson, Size, amp (GradScaler, autocast) and compile. Forward values and gradients equal
PyTorch's on the same inputs (float64, random upstream gradients), float64 finite differences, and the errors."""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad import nn
from minigrad.errors import ShapeError

TIGHT = {"rtol": 1e-10, "atol": 1e-10}


def _leaves(arrays):
    return [mg.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _agree(mg_fn, torch_fn, arrays, rng):
    """Forward values (every output) and the gradients of a random projection of them: PyTorch's."""
    ours_in = _leaves(arrays)
    theirs_in = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    ours, theirs = _flat(mg_fn(*ours_in)), _flat(torch_fn(*theirs_in))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert tuple(a.shape) == tuple(b.shape) and a.dtype.name == str(b.dtype).removeprefix("torch.")
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TIGHT)
    if not any(b.requires_grad for b in theirs):  # outside the graph in PyTorch (combinations with r=0)
        assert not any(a.requires_grad for a in ours)
        return
    weights = [rng.standard_normal(a.shape) for a in ours]
    ours_loss = sum((a * mg.tensor(w)).sum() for a, w in zip(ours, weights))
    theirs_loss = sum((b * torch.tensor(w)).sum() for b, w in zip(theirs, weights))
    ours_g = mg.grad(ours_loss, ours_in, allow_unused=True)
    theirs_g = torch.autograd.grad(theirs_loss, theirs_in, allow_unused=True)
    for a, b in zip(ours_g, theirs_g):
        if b is None:
            assert a is None or not np.any(a.numpy())
        else:
            np.testing.assert_allclose(a.numpy(), b.numpy(), **TIGHT)


def _gradcheck(fn, arrays, *, double=True):
    """Finite differences in float64 of a random projection of every output (random upstream gradients)."""
    rng = np.random.default_rng(len(arrays))
    leaves = _leaves(arrays)
    weights = [mg.tensor(rng.standard_normal(o.shape)) for o in _flat(fn(*leaves))]

    def projected(*xs):
        return sum((o * w).sum() for o, w in zip(_flat(fn(*xs)), weights))

    assert mg.gradcheck(projected, leaves)
    if double:
        assert mg.gradgradcheck(projected, leaves)


# -- stacking and shape helpers -------------------------------------------------------------------------------
SHAPES_FOR_STACKING = [[(), ()], [(3,), (3,)], [(2, 3), (4, 3)], [(2, 3, 2), (1, 3, 2)]]


@pytest.mark.parametrize("name", ["vstack", "row_stack"])
@pytest.mark.parametrize("shapes", SHAPES_FOR_STACKING)
def test_vstack_matches_pytorch(name, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    _agree(lambda *xs: getattr(mg, name)(list(xs)), lambda *xs: getattr(torch, name)(list(xs)), arrays, rng)


@pytest.mark.parametrize("shapes", [[(), ()], [(3,), (2,)], [(2, 3), (2, 1)], [(2, 3, 2), (2, 1, 2)]])
def test_hstack_matches_pytorch(shapes):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in shapes]
    _agree(lambda *xs: mg.hstack(xs), lambda *xs: torch.hstack(xs), arrays, rng)


@pytest.mark.parametrize("shapes", [[(), ()], [(3,), (3,)], [(2, 3), (2, 3)], [(2, 3, 1), (2, 3, 2)]])
def test_dstack_matches_pytorch(shapes):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in shapes]
    _agree(lambda *xs: mg.dstack(xs), lambda *xs: torch.dstack(xs), arrays, rng)


@pytest.mark.parametrize("shapes", [[(), ()], [(3,), (3, 2)], [(2, 3), (2,)]])
def test_column_stack_matches_pytorch(shapes):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in shapes]
    _agree(lambda *xs: mg.column_stack(xs), lambda *xs: torch.column_stack(xs), arrays, rng)


def test_stacking_promotes_dtypes_as_pytorch():
    a, b = np.arange(3), np.ones(3, np.float32)
    ours = mg.vstack([mg.tensor(a), mg.tensor(b)])
    theirs = torch.vstack([torch.tensor(a), torch.tensor(b)])
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 4)])
def test_atleast_nd_matches_pytorch(n, shape):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    name = f"atleast_{n}d"
    _agree(lambda t: getattr(mg, name)(t), lambda t: getattr(torch, name)(t), [x], rng)
    # several tensors, or a list of one, give a tuple
    pair = getattr(mg, name)(mg.tensor(x), mg.tensor(x))
    listed = getattr(mg, name)([mg.tensor(x)])
    assert isinstance(pair, tuple) and len(pair) == 2 and isinstance(listed, tuple) and len(listed) == 1
    assert pair[0].shape == tuple(getattr(torch, name)(torch.tensor(x)).shape) == listed[0].shape


def test_atleast_1d_of_one_tensor_returns_it_unchanged():
    x = mg.tensor([1.0, 2.0])
    assert mg.atleast_1d(x) is x


@pytest.mark.parametrize("shapes", [[(3, 1), (1, 4)], [(2, 1, 3), (3,), ()], [(5,)]])
def test_broadcast_tensors_matches_pytorch(shapes):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s) for s in shapes]
    _agree(mg.broadcast_tensors, torch.broadcast_tensors, arrays, rng)
    assert mg.broadcast_shapes(*shapes) == tuple(torch.broadcast_shapes(*shapes))


def test_broadcast_errors_name_the_shapes():
    with pytest.raises(ShapeError, match=r"broadcast_tensors.*\(2,\).*\(3,\)"):
        mg.broadcast_tensors(mg.zeros(2), mg.zeros(3))
    with pytest.raises(ShapeError, match="broadcast_shapes"):
        mg.broadcast_shapes((2, 3), 4)


@pytest.mark.parametrize("shapes", [[(2, 2), (3,), ()], [(1, 3), (2, 0), (0, 2)], [(3, 2)]])
def test_block_diag_matches_pytorch(shapes):
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s) for s in shapes]
    _agree(mg.block_diag, torch.block_diag, arrays, rng)


def test_block_diag_promotes_dtypes_gradchecks_and_rejects_3d():
    ours = mg.block_diag(mg.tensor([[1, 2]]), mg.tensor([0.5]))
    theirs = torch.block_diag(torch.tensor([[1, 2]]), torch.tensor([0.5]))
    assert ours.dtype == mg.float32 and theirs.dtype == torch.float32
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    rng = np.random.default_rng(7)
    _gradcheck(mg.block_diag, [rng.standard_normal((2, 2)), rng.standard_normal(3)])
    with pytest.raises(ShapeError, match=r"block_diag: input 1 .*\(1, 2, 2\)"):
        mg.block_diag(mg.zeros(2), mg.zeros(1, 2, 2))


@pytest.mark.parametrize("shapes, dims", [
    [((2, 3, 4), (3, 4, 5)), 2],
    [((2, 3), (3, 2)), 1],
    [((2, 3), (4,)), 0],
    [((2, 3, 4), (4, 2, 3)), ([1, 0], [2, 1])],
    [((3, 4), (4, 3)), ([0], [1])],
    [((3, 4), (4, 3)), [[0, 1], [1, 0]]],
])
def test_tensordot_matches_pytorch_and_gradchecks(shapes, dims):
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal(s) for s in shapes]
    _agree(lambda a, b: mg.tensordot(a, b, dims), lambda a, b: torch.tensordot(a, b, dims), arrays, rng)
    _gradcheck(lambda a, b: mg.tensordot(a, b, dims=dims), arrays)


def test_tensordot_errors():
    a, b = mg.zeros(2, 3), mg.zeros(4, 2)
    with pytest.raises(ShapeError, match=r"tensordot: contracted dimension 1 of a \(shape \(2, 3\)\) has size 3 but "
                                         r"dimension 0 of b \(shape \(4, 2\)\) has size 4"):
        mg.tensordot(a, b, 1)
    with pytest.raises(ValueError, match="dims=3"):
        mg.tensordot(a, b, 3)
    with pytest.raises(ValueError, match="one length"):
        mg.tensordot(a, b, ([0, 1], [1]))


@pytest.mark.parametrize("sizes", [(2,), (2, 3), (1, 3, 2), (2, 0)])
def test_cartesian_prod_matches_pytorch(sizes):
    rng = np.random.default_rng(9)
    arrays = [rng.standard_normal(n) for n in sizes]
    _agree(mg.cartesian_prod, torch.cartesian_prod, arrays, rng)


@pytest.mark.parametrize("n, r, replace", [(4, 2, False), (4, 3, True), (3, 0, False), (2, 3, False), (3, 1, True),
                                           (0, 2, False)])
def test_combinations_matches_pytorch(n, r, replace):
    rng = np.random.default_rng(10)
    _agree(lambda x: mg.combinations(x, r, replace), lambda x: torch.combinations(x, r, replace),
           [rng.standard_normal(n)], rng)


def test_combinations_and_cartesian_prod_errors():
    with pytest.raises(ShapeError, match="combinations: expects a 1-d tensor"):
        mg.combinations(mg.zeros(2, 2))
    with pytest.raises(ValueError, match="r must be an int >= 0"):
        mg.combinations(mg.zeros(3), -1)
    with pytest.raises(ShapeError, match=r"cartesian_prod: expects 1-d tensors, got shape \(2, 2\)"):
        mg.cartesian_prod(mg.zeros(2), mg.zeros(2, 2))


@pytest.mark.parametrize("name", ["tril_indices", "triu_indices"])
@pytest.mark.parametrize("row, col, offset", [(3, 3, 0), (3, 4, 1), (4, 3, -2), (0, 3, 0), (3, 5, 7), (2, 2, -5)])
def test_triangle_indices_match_pytorch(name, row, col, offset):
    ours = getattr(mg, name)(row, col, offset)
    theirs = getattr(torch, name)(row, col, offset)
    assert ours.dtype == mg.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert getattr(mg, name)(row, col, offset, dtype="int32").dtype == mg.int32


@pytest.mark.parametrize("start, end, steps, base", [(0, 2, 3, 10.0), (-1.5, 2.5, 7, 2.0), (1, 0, 5, math.e),
                                                    (0, 1, 1, 10.0), (0, 1, 0, 10.0), (0, 1, 3, -2.0)])
def test_logspace_matches_pytorch(start, end, steps, base):
    for dtype, tol in ((mg.float64, TIGHT), (mg.float32, {"rtol": 2e-7, "atol": 0})):
        ours = mg.logspace(start, end, steps, base, dtype=dtype)
        theirs = torch.logspace(start, end, steps, base, dtype=getattr(torch, dtype.name))
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), **tol)
    for end in (3, 1, -1):  # integer dtypes truncate: 10 ** 0.5 -> 3
        np.testing.assert_array_equal(mg.logspace(0, end, 3, dtype="int64").numpy(),
                                      torch.logspace(0, end, 3, dtype=torch.int64).numpy())


# -- sorted searches, isin, equal -------------------------------------------------------------------------------
SEQ = np.array([-1.0, 0.5, 0.5, 2.0, 3.0, np.nan])
VALUES = np.array([[-2.0, 0.5, 1.0], [3.0, 4.0, np.nan]])


@pytest.mark.parametrize("kwargs", [{}, {"right": True}, {"side": "right"}, {"side": "left"},
                                    {"out_int32": True}])
def test_searchsorted_matches_pytorch_with_nans_and_ties(kwargs):
    ours = mg.searchsorted(mg.tensor(SEQ), mg.tensor(VALUES), **kwargs)
    theirs = torch.searchsorted(torch.tensor(SEQ), torch.tensor(VALUES), **kwargs)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_searchsorted_rows_sorter_scalars_and_empty_sequence():
    rng = np.random.default_rng(11)
    seq = np.sort(rng.integers(0, 6, (2, 3, 5)).astype(np.float64), -1)
    values = rng.integers(-1, 7, (2, 3, 4)).astype(np.float64)
    for right in (False, True):
        np.testing.assert_array_equal(
            mg.searchsorted(mg.tensor(seq), mg.tensor(values), right=right).numpy(),
            torch.searchsorted(torch.tensor(seq), torch.tensor(values), right=right).numpy())
    unsorted = rng.standard_normal(7)
    sorter = np.argsort(unsorted)
    probe = rng.standard_normal(5)
    np.testing.assert_array_equal(
        mg.searchsorted(mg.tensor(unsorted), mg.tensor(probe), sorter=mg.tensor(sorter)).numpy(),
        torch.searchsorted(torch.tensor(unsorted), torch.tensor(probe), sorter=torch.tensor(sorter)).numpy())
    ours = mg.searchsorted(mg.tensor([1.0, 2.0, 3.0]), 2.5)
    assert ours.shape == () and ours.item() == torch.searchsorted(torch.tensor([1.0, 2.0, 3.0]), 2.5).item()
    np.testing.assert_array_equal(mg.searchsorted(mg.zeros(0), mg.tensor([1.0, -1.0])).numpy(),
                                  torch.searchsorted(torch.zeros(0), torch.tensor([1.0, -1.0])).numpy())


def test_searchsorted_errors():
    with pytest.raises(ValueError, match="contradict"):
        mg.searchsorted(mg.tensor([1.0]), mg.tensor([1.0]), right=True, side="left")
    with pytest.raises(ValueError, match="side must be"):
        mg.searchsorted(mg.tensor([1.0]), mg.tensor([1.0]), side="middle")
    with pytest.raises(ShapeError, match="leading dimensions"):
        mg.searchsorted(mg.zeros(2, 3), mg.zeros(3, 1))
    with pytest.raises(ShapeError, match="sorter"):
        mg.searchsorted(mg.zeros(3), mg.zeros(1), sorter=mg.tensor([0, 1]))


@pytest.mark.parametrize("right", [False, True])
def test_bucketize_matches_pytorch(right):
    boundaries = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
    values = np.array([[3.0, 6.0, 9.0], [3.0, 6.0, np.nan], [0.0, 10.0, 1.0]])
    np.testing.assert_array_equal(mg.bucketize(mg.tensor(values), mg.tensor(boundaries), right=right).numpy(),
                                  torch.bucketize(torch.tensor(values), torch.tensor(boundaries), right=right).numpy())
    assert mg.bucketize(4, mg.tensor(boundaries), right=right).item() == \
        torch.bucketize(4, torch.tensor(boundaries), right=right).item()
    with pytest.raises(ShapeError, match="bucketize: boundaries must be a 1-d tensor"):
        mg.bucketize(mg.zeros(2), mg.zeros(2, 2))


@pytest.mark.parametrize("invert", [False, True])
def test_isin_matches_pytorch(invert):
    elements = np.array([[1.0, 2.0, np.nan], [4.0, 2.0, -0.0]])
    tests = np.array([2.0, 0.0, np.nan, 7.0])
    cases = [(mg.tensor(elements), mg.tensor(tests), torch.tensor(elements), torch.tensor(tests)),
             (mg.tensor(elements), 2.0, torch.tensor(elements), 2.0),
             (4.0, mg.tensor(tests), 4.0, torch.tensor(tests)),
             (mg.tensor([1, 2, 3]), mg.tensor([3, 1]), torch.tensor([1, 2, 3]), torch.tensor([3, 1]))]
    for a, b, ta, tb in cases:
        ours, theirs = mg.isin(a, b, invert=invert), torch.isin(ta, tb, invert=invert)
        assert ours.dtype == mg.bool and ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_equal_matches_pytorch():
    pairs = [([1.0, 2.0], [1.0, 2.0]), ([1.0, 2.0], [1.0, 3.0]), ([1.0], [[1.0]]), ([np.nan], [np.nan]), ([], [])]
    for a, b in pairs:
        assert mg.equal(mg.tensor(a), mg.tensor(b)) is torch.equal(torch.tensor(a), torch.tensor(b))
        assert mg.tensor(a).equal(mg.tensor(b)) is torch.equal(torch.tensor(a), torch.tensor(b))
    assert mg.equal(mg.tensor([1, 2]), mg.tensor([1.0, 2.0])) is torch.equal(torch.tensor([1, 2]),
                                                                              torch.tensor([1.0, 2.0]))


# -- std_mean, var_mean ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["std_mean", "var_mean"])
@pytest.mark.parametrize("kwargs", [{}, {"dim": 1}, {"dim": (0, 2), "keepdim": True}, {"dim": 1, "correction": 0},
                                    {"dim": -1, "correction": 2}, {"dim": 0, "unbiased": False}])
def test_std_mean_var_mean_match_pytorch(name, kwargs):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 4, 5))
    _agree(lambda t: getattr(mg, name)(t, **kwargs), lambda t: getattr(torch, name)(t, **kwargs), [x], rng)
    out = getattr(mg, name)(mg.tensor(x), **kwargs)
    assert isinstance(out, tuple) and len(out) == 2


def test_std_mean_gradchecks():
    rng = np.random.default_rng(13)
    _gradcheck(lambda t: mg.std_mean(t, 1, correction=0), [rng.standard_normal((3, 4))])
    _gradcheck(lambda t: mg.var_mean(t, dim=0, keepdim=True), [rng.standard_normal((3, 4))])


# -- trapezoid, cumulative_trapezoid -----------------------------------------------------------------------------
TRAPEZOID_CASES = [((5,), None, {}), ((3, 5), None, {"dx": 0.25}), ((3, 5), (5,), {}), ((4, 3), (4,), {"dim": 0}),
                   ((2, 3, 4), (2, 3, 4), {"dim": 1}), ((3, 1), None, {}), ((3, 0), None, {})]


@pytest.mark.parametrize("name", ["trapezoid", "cumulative_trapezoid", "trapz"])
@pytest.mark.parametrize("y_shape, x_shape, kwargs", TRAPEZOID_CASES)
def test_trapezoid_matches_pytorch(name, y_shape, x_shape, kwargs):
    if name == "trapz" and "dx" in kwargs:
        kwargs = {**kwargs}
    rng = np.random.default_rng(14)
    y = rng.standard_normal(y_shape)
    if x_shape is None:
        _agree(lambda t: getattr(mg, name)(t, **kwargs), lambda t: getattr(torch, name)(t, **kwargs), [y], rng)
    else:
        x = np.cumsum(rng.uniform(0.1, 1.0, x_shape), axis=kwargs.get("dim", -1))
        _agree(lambda t, s: getattr(mg, name)(t, s, **kwargs), lambda t, s: getattr(torch, name)(t, s, **kwargs),
               [y, x], rng)


def test_trapezoid_gradchecks_in_y_and_x():
    rng = np.random.default_rng(15)
    y, x = rng.standard_normal((3, 5)), np.cumsum(rng.uniform(0.1, 1.0, 5))
    _gradcheck(lambda a, b: mg.trapezoid(a, b), [y, x])
    _gradcheck(lambda a, b: mg.cumulative_trapezoid(a, b, dim=-1), [y, x])
    _gradcheck(lambda a: mg.cumulative_trapezoid(a, dx=0.5, dim=0), [y])


def test_trapezoid_of_integers_and_errors():
    ours, theirs = mg.trapezoid(mg.tensor([1, 2, 4])), torch.trapezoid(torch.tensor([1, 2, 4]))
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    assert ours.item() == theirs.item()
    with pytest.raises(TypeError, match="x or dx, not both"):
        mg.trapezoid(mg.zeros(3), mg.zeros(3), dx=1.0)
    with pytest.raises(ShapeError, match=r"trapezoid: a 1-d x must have y's length 3"):
        mg.trapezoid(mg.zeros(3), mg.zeros(4))
    with pytest.raises(IndexError, match="cumulative_trapezoid"):
        mg.cumulative_trapezoid(mg.zeros(3), dim=2)


def test_randint_like_matches_pytorchs_shape_dtype_and_range():
    x = mg.zeros(3, 4, dtype="float64")
    mg.manual_seed(0)
    a = mg.randint_like(x, 5)
    b = mg.randint_like(x, 2, 5, dtype="int64")
    assert a.dtype == torch.randint_like(torch.zeros(3, 4, dtype=torch.float64), 5).numpy().dtype
    assert a.shape == (3, 4) and b.dtype == mg.int64
    assert a.numpy().min() >= 0 and a.numpy().max() < 5 and b.numpy().min() >= 2 and b.numpy().max() < 5
    mg.manual_seed(0)
    np.testing.assert_array_equal(mg.randint_like(x, 5).numpy(), a.numpy())
    g1, g2 = mg.Generator().manual_seed(3), mg.Generator().manual_seed(3)
    np.testing.assert_array_equal(mg.randint_like(x, 9, generator=g1).numpy(),
                                  mg.randint_like(x, 9, generator=g2).numpy())
    with pytest.raises(ValueError, match="low < high"):
        mg.randint_like(x, 3, 3)


# -- dtypes: default dtype, finfo/iinfo, promotion ------------------------------------------------------------
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"]


@pytest.fixture
def default_float64():
    mg.set_default_dtype(mg.float64)
    try:
        yield
    finally:
        mg.set_default_dtype(mg.float32)


def test_set_default_dtype_flows_through_creation_promotion_and_modules(default_float64):
    assert mg.get_default_dtype() == mg.float64
    made = [mg.tensor([0.1]), mg.zeros(2), mg.ones(2), mg.empty(2), mg.full((2,), 0.5), mg.arange(0.0, 1.0, 0.5),
            mg.linspace(0, 1, 3), mg.eye(2), mg.rand(2), mg.randn(2), mg.logspace(0, 1, 3), mg.normal(0.0, 1.0, (2,)),
            mg.tensor([1, 2]) * 0.5, mg.tensor([1, 2]) / mg.tensor([2, 4]), mg.tensor([1, 2]).exp(), mg.finfo(),
            mg.block_diag(), mg.data.TensorDataset([0.5, 1.5])[0][0], mg.trapezoid(mg.tensor([1, 2]))]
    for t in made:
        assert t.dtype == mg.float64 or t.dtype == "float64", t
    np.testing.assert_array_equal(mg.tensor([0.1]).numpy(), np.array([0.1]))  # not rounded through float32
    for module in (nn.Linear(3, 2), nn.Conv2d(1, 2, 3), nn.LSTM(2, 3), nn.BatchNorm1d(2), nn.Embedding(3, 2)):
        assert {p.dtype for p in module.parameters()} == {mg.float64}
    assert nn.Parameter().dtype == mg.float64
    x, seq = mg.randn(2, 3, 6, 6), mg.randn(5, 2, 4)
    outputs = [nn.Conv2d(3, 4, 3)(x), nn.BatchNorm2d(3)(x), nn.LayerNorm(6)(x), nn.LSTM(4, 3)(seq)[0],
               nn.MultiheadAttention(4, 2)(seq, seq, seq)[0], nn.TransformerEncoderLayer(4, 2, 8)(seq),
               nn.functional.cross_entropy(mg.randn(4, 3), mg.tensor([0, 1, 2, 0]))]
    assert {o.dtype for o in outputs} == {mg.float64}
    assert mg.tensor([1, 2]).dtype == mg.int64  # integers keep their dtype


def test_set_default_dtype_matches_pytorch_and_refuses_integers():
    previous = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float64)
        mg.set_default_dtype("float64")
        for ours, theirs in [(mg.tensor([1, 2]) + 1.5, torch.tensor([1, 2]) + 1.5),
                             (mg.tensor([1.5]), torch.tensor([1.5])), (mg.arange(0.5, 2), torch.arange(0.5, 2))]:
            assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    finally:
        torch.set_default_dtype(previous)
        mg.set_default_dtype(mg.float32)
    with pytest.raises(TypeError, match="only floating-point types"):
        mg.set_default_dtype(mg.int64)
    assert mg.get_default_dtype() == mg.float32 and mg.tensor([0.5]).dtype == mg.float32


@pytest.mark.parametrize("name", ["float32", "float64"])
def test_finfo_matches_pytorch(name):
    ours, theirs = mg.finfo(getattr(mg, name)), torch.finfo(getattr(torch, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert mg.finfo(name) == ours and mg.finfo().dtype == "float32"
    with pytest.raises(TypeError, match="finfo: expected a floating dtype"):
        mg.finfo(mg.int32)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_matches_pytorch(name):
    ours, theirs = mg.iinfo(getattr(mg, name)), torch.iinfo(getattr(torch, name))
    for field in ("bits", "max", "min", "dtype"):
        assert getattr(ours, field) == getattr(theirs, field), field
    with pytest.raises(TypeError, match="iinfo: expected an integer dtype"):
        mg.iinfo(mg.float32)


def test_promote_types_and_can_cast_match_pytorch_for_every_pair():
    for a, b in itertools.product(DTYPES, repeat=2):
        theirs = torch.promote_types(getattr(torch, a), getattr(torch, b))
        assert mg.promote_types(a, b).name == str(theirs).removeprefix("torch."), (a, b)
        assert mg.can_cast(a, b) is torch.can_cast(getattr(torch, a), getattr(torch, b)), (a, b)


def _operands(name, zero_dim):
    shape = () if zero_dim else (2,)
    values = np.ones(shape, dtype=name)
    return mg.tensor(values), torch.tensor(values)


def test_result_type_matches_pytorch():
    scalars = [True, 3, 2.5]
    for a, b in itertools.product(DTYPES, repeat=2):
        for za, zb in itertools.product((False, True), repeat=2):
            (ma, ta), (mb, tb) = _operands(a, za), _operands(b, zb)
            expected = str(torch.result_type(ta, tb)).removeprefix("torch.")
            assert mg.result_type(ma, mb).name == expected, (a, za, b, zb)
        for s in scalars:
            (ma, ta) = _operands(a, False)
            assert mg.result_type(ma, s).name == str(torch.result_type(ta, s)).removeprefix("torch."), (a, s)
            assert mg.result_type(s, ma).name == str(torch.result_type(s, ta)).removeprefix("torch."), (s, a)


@pytest.mark.parametrize("name", ["int8", "int16"])
def test_small_integer_dtypes_compute_and_promote_as_pytorch(name):
    values = np.array([-3, 5, 7], dtype=name)
    ours, theirs = mg.tensor(values), torch.tensor(values)
    assert ours.dtype == getattr(mg, name)
    for fn in (lambda t: t + t, lambda t: t * 2, lambda t: t + mg_or_torch(t).tensor([1], dtype="uint8"
                                                                                   if isinstance(t, mg.Tensor)
                                                                                   else torch.uint8),
               lambda t: t * 1.5, lambda t: t.sum(), lambda t: -t):
        a, b = fn(ours), fn(theirs)
        assert a.dtype.name == str(b.dtype).removeprefix("torch."), name
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert mg.short is mg.int16


def test_dtype_aliases_and_conversion_methods_match_pytorch():
    for name in ("float", "double", "long", "int", "short", "bool", "uint8", "int8", "int16"):
        assert getattr(mg, name).name == str(getattr(torch, name)).removeprefix("torch."), name
    values = np.array([-1.5, 0.25, 300.0])
    for method in ("short", "char", "byte", "int", "long", "float", "double", "bool"):
        ours, theirs = getattr(mg.tensor(values), method)(), getattr(torch.tensor(values), method)()
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), method
        if method != "char" and method != "byte":  # out-of-range casts are undefined behaviour in C and NumPy
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def mg_or_torch(t):
    return mg if isinstance(t, mg.Tensor) else torch


def test_half_precision_names_give_a_porting_hint():
    for name in ("float16", "half", "bfloat16"):
        with pytest.raises(AttributeError, match="float32/float64 only"):
            getattr(mg, name)


# -- Size -------------------------------------------------------------------------------------------------------
def test_size_is_a_tuple_with_pytorchs_repr_and_numel():
    size = mg.zeros(2, 3).size()
    assert isinstance(size, mg.Size) and isinstance(size, tuple) and size == (2, 3)
    assert repr(size) == "minigrad.Size([2, 3])" == repr(torch.Size([2, 3])).replace("torch", "minigrad")
    assert size.numel() == 6 == torch.Size([2, 3]).numel() and mg.Size([]).numel() == 1
    assert isinstance(size[1:], mg.Size) and size[1] == 3 and isinstance(size + (4,), mg.Size)
    assert mg.zeros(2, 3).size(1) == 3 and mg.zeros(2, 3).view(size).shape == (2, 3)
    assert pickle.loads(pickle.dumps(size)) == size


# -- seeds, threads, determinism, poisson -------------------------------------------------------------------------
def test_seed_initial_seed_and_default_generator():
    assert mg.manual_seed(1234) is mg.default_generator
    assert mg.initial_seed() == 1234 == mg.default_generator.initial_seed()
    first = mg.rand(4).numpy()
    assert mg.default_generator.manual_seed(1234) is mg.default_generator
    np.testing.assert_array_equal(mg.rand(4).numpy(), first)
    state = mg.default_generator.get_state()
    again = mg.randn(3).numpy()
    mg.default_generator.set_state(state)
    np.testing.assert_array_equal(mg.randn(3).numpy(), again)
    s = mg.seed()
    assert mg.initial_seed() == s and 0 <= s < 2 ** 63
    mg.manual_seed(5)
    drawn = mg.rand(3, generator=mg.default_generator).numpy()
    mg.manual_seed(5)
    np.testing.assert_array_equal(mg.rand(3, generator=mg.default_generator).numpy(), drawn)
    with pytest.raises(TypeError, match="seed must be an int"):
        mg.default_generator.manual_seed(1.5)


def test_initial_seed_of_an_unseeded_process_reproduces_its_stream():
    import subprocess
    import sys

    code = ("import numpy as np, minigrad as mg; s = mg.initial_seed(); a = mg.rand(4).numpy(); "
            "assert s == mg.initial_seed(); mg.manual_seed(s); assert np.array_equal(mg.rand(4).numpy(), a)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_set_num_threads_sets_numbas_threads():
    numba = pytest.importorskip("numba")
    import minigrad.backends as backends

    before_backend, before_numba = backends._num_threads, numba.get_num_threads()
    try:
        mg.set_num_threads(1)
        assert mg.get_num_threads() == 1
        be = backends.load("numba")
        assert be.get_num_threads() == 1 == numba.get_num_threads()
        mg.set_num_threads(before_numba)
        assert mg.get_num_threads() == before_numba
    finally:
        backends._num_threads = before_backend
        numba.set_num_threads(before_numba)
    with pytest.raises(ValueError, match="positive int"):
        mg.set_num_threads(0)
    with pytest.raises(ValueError, match="NUMBA_NUM_THREADS"):
        mg.set_num_threads(numba.config.NUMBA_NUM_THREADS + 1)
    assert backends._num_threads == before_backend
    # set before the Numba backend loads: applied when it does (a fresh process, where it is not loaded yet)
    import subprocess
    import sys

    code = ("import minigrad as mg; mg.set_num_threads(1); import sys; assert 'numba' not in mg.backends._loaded; "
            "assert mg.get_num_threads() == 1; assert mg.backends.load('numba').get_num_threads() == 1")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_deterministic_algorithms_flag_and_cupy_alert(cupy_device):
    assert mg.are_deterministic_algorithms_enabled() is False
    x = mg.tensor([1.0, 2.0, 3.0], backend=cupy_device, requires_grad=True)
    index = mg.tensor([0, 0, 2], backend=cupy_device)
    try:
        mg.use_deterministic_algorithms(True)
        assert mg.are_deterministic_algorithms_enabled() and not mg.is_deterministic_algorithms_warn_only_enabled()
        np.testing.assert_array_equal(mg.tensor([1.0, 2.0]).index_select(0, mg.tensor([1, 1])).numpy(), [2.0, 2.0])
        with pytest.raises(RuntimeError, match="does not have a deterministic implementation"):
            x[index].sum().backward()
        mg.use_deterministic_algorithms(True, warn_only=True)
        with pytest.warns(UserWarning, match="deterministic"):
            x[index].sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 1.0])
    finally:
        mg.use_deterministic_algorithms(False)
    assert not mg.is_deterministic_algorithms_warn_only_enabled()
    with pytest.raises(TypeError, match="mode must be a bool"):
        mg.use_deterministic_algorithms("yes")


def test_poisson_samples_reproduce_and_check_rates():
    rates = mg.tensor([[0.0, 1.0, 4.0], [10.0, 0.5, 100.0]], dtype="float64", requires_grad=True)
    g = mg.Generator().manual_seed(0)
    a = mg.poisson(rates, generator=g)
    b = mg.poisson(rates, generator=mg.Generator().manual_seed(0))
    assert a.dtype == mg.float64 and a.shape == (2, 3) and not a.requires_grad
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.numpy()[0, 0] == 0 and np.all(a.numpy() == np.round(a.numpy()))
    mg.manual_seed(3)
    c = mg.poisson(rates)
    mg.manual_seed(3)
    np.testing.assert_array_equal(mg.poisson(rates).numpy(), c.numpy())
    big = mg.poisson(mg.full((20000,), 3.0), generator=mg.Generator().manual_seed(1)).numpy()
    assert abs(big.mean() - 3.0) < 0.05 and abs(big.var() - 3.0) < 0.15  # 4+ standard errors
    for bad in ([-1.0], [np.nan]):
        with pytest.raises(ValueError, match="non-negative"):
            mg.poisson(mg.tensor(bad))
    with pytest.raises(TypeError, match="floating tensor"):
        mg.poisson(mg.tensor([1, 2]))


# -- amp: GradScaler, autocast; compile -----------------------------------------------------------------------------
def _twin_models(dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s).astype(dtype) for s in ((4, 3), (4,), (1, 4), (1,))]
    ours = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).to(dtype)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    theirs = theirs.to(getattr(torch, dtype))
    with mg.no_grad(), torch.no_grad():
        for (pm, pt), value in zip(zip(ours.parameters(), theirs.parameters()), values):
            pm.copy_(mg.tensor(value))
            pt.copy_(torch.tensor(value))
    return ours, theirs


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the NaN input, on purpose
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the scaled float32 loss, on purpose
@pytest.mark.parametrize("dtype, init_scale, backoff, growth_interval", [
    ("float64", 2.0 ** 16, 0.5, 2), ("float64", 1000.3, 0.5, 3),
    ("float32", 2.0 ** 127, 2.0 ** -20, 2),  # the scaled float32 loss (~100 * 2**127) overflows: skipped, backed off
])
def test_grad_scaler_matches_pytorch_over_iterations_with_overflows(dtype, init_scale, backoff, growth_interval):
    rng = np.random.default_rng(16)
    ours, theirs = _twin_models(dtype)
    opt_m = mg.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    settings = {"init_scale": init_scale, "backoff_factor": backoff, "growth_interval": growth_interval}
    scaler_m, scaler_t = mg.amp.GradScaler("cpu", **settings), torch.amp.GradScaler("cpu", **settings)
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == "float64" else {"rtol": 1e-5, "atol": 1e-6}
    overflows = (0, 3, 6) if dtype == "float32" else (3, 6)
    for it in range(9):
        x, y = rng.standard_normal((5, 3)).astype(dtype), (10 * rng.standard_normal((5, 1))).astype(dtype)
        if it in (3, 6):
            x[1, 0] = np.inf if it == 3 else np.nan  # the gradients overflow: the step is skipped
        before = [p.numpy().copy() for p in ours.parameters()]
        for model, opt, scaler, lib in ((ours, opt_m, scaler_m, mg), (theirs, opt_t, scaler_t, torch)):
            opt.zero_grad()
            loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
            scaler.scale(loss).backward()
            if it % 2:
                scaler.unscale_(opt)  # e.g. to clip: then step() does not unscale again
            scaler.step(opt)
            scaler.update()
        skipped = all(np.array_equal(b, p.numpy()) for b, p in zip(before, ours.parameters()))
        assert skipped == (it in overflows)
        assert scaler_m.get_scale() == scaler_t.get_scale()
        assert scaler_m._get_growth_tracker() == scaler_t._get_growth_tracker()
        for pm, pt in zip(ours.parameters(), theirs.parameters()):
            np.testing.assert_allclose(pm.numpy(), pt.detach().numpy(), **tol)
    assert scaler_m.state_dict() == scaler_t.state_dict()


def test_grad_scaler_scales_iterables_and_sets_scales():
    scaler = mg.amp.GradScaler(init_scale=4.0)
    a, b = mg.tensor(1.5), mg.tensor([2.0], dtype="float64")
    out = scaler.scale([a, (b, a)])
    assert isinstance(out, list) and isinstance(out[1], tuple)
    assert out[0].item() == 6.0 and out[1][0].numpy().tolist() == [8.0] and out[1][0].dtype == mg.float64
    scaler.update(new_scale=8.0)
    assert scaler.get_scale() == 8.0
    scaler.update(mg.tensor([2.0]))
    assert scaler.get_scale() == 2.0
    with pytest.raises(ValueError, match="1-element"):
        scaler.update(mg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="iterable of Tensors"):
        scaler.scale([a, 3.0])


def test_grad_scaler_state_dict_roundtrip_and_pytorch_compatibility():
    scaler = mg.amp.GradScaler(init_scale=128.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=7)
    state = scaler.state_dict()
    theirs = torch.amp.GradScaler("cpu", init_scale=128.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=7)
    assert state == theirs.state_dict()
    other = mg.amp.GradScaler()
    other.load_state_dict(state)
    assert other.state_dict() == state and other.get_scale() == 128.0
    other.scale(mg.tensor(1.0))
    other.load_state_dict({**state, "scale": 32.0, "_growth_tracker": 5})
    assert other.get_scale() == 32.0 and other._get_growth_tracker() == 5
    with pytest.raises(RuntimeError, match="empty"):
        other.load_state_dict({})
    assert pickle.loads(pickle.dumps(other)).state_dict() == other.state_dict()


def test_grad_scaler_misuse_errors_and_disabled_pass_through():
    model = nn.Linear(2, 1)
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    scaler = mg.amp.GradScaler()
    with pytest.raises(RuntimeError, match="did not use scaler.scale"):
        scaler.step(opt)
    scaler.scale(model(mg.ones(1, 2)).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="closure"):
        scaler.step(opt, closure=lambda: 0.0)
    scaler.update()
    with pytest.raises(RuntimeError, match="no inf checks"):
        scaler.update()
    with pytest.raises(ValueError, match="growth_factor"):
        mg.amp.GradScaler(growth_factor=1.0)
    off = mg.amp.GradScaler(enabled=False)
    loss = model(mg.ones(1, 2)).sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {} and not off.is_enabled()
    before = [p.numpy().copy() for p in model.parameters()]
    opt.zero_grad()
    loss.backward()
    off.unscale_(opt)
    off.step(opt)
    off.update()
    changed = [not np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters())]
    assert all(changed)


def test_cuda_amp_spellings():
    from minigrad.cuda.amp import GradScaler, autocast

    scaler = GradScaler(init_scale=256.0, growth_interval=3)
    assert isinstance(scaler, mg.amp.GradScaler) and scaler.get_scale() == 256.0
    assert scaler.get_growth_interval() == 3 and mg.cuda.amp.GradScaler is GradScaler
    with autocast(enabled=False):
        pass
    with pytest.raises(RuntimeError, match="no float16 or bfloat16"):
        autocast()


def test_autocast_disabled_is_a_no_op_and_enabled_is_refused():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.autocast("cuda", enabled=False):
        y = (x * 2).sum()
    assert y.dtype == mg.float32 and y.item() == 6.0

    @mg.amp.autocast(device_type="cpu", enabled=False)
    def double(t):
        return t * 2

    assert double.__name__ == "double" and double(x).dtype == mg.float32
    assert mg.amp.autocast is mg.autocast
    for kwargs in ({}, {"dtype": "bfloat16"}, {"enabled": True}):
        with pytest.raises(RuntimeError, match="Pass enabled=False"):
            mg.autocast("cuda", **kwargs)


def test_compile_returns_the_model_itself():
    model = nn.Linear(2, 2)
    assert mg.compile(model) is model and mg.compile(model, mode="max-autotune", fullgraph=True) is model

    def f(t):
        return t + 1

    assert mg.compile(f) is f and mg.compile()(f) is f and mg.compile(dynamic=True)(f) is f
    with pytest.raises(RuntimeError, match="mode or options"):
        mg.compile(model, mode="default", options={})
    with pytest.raises(RuntimeError, match="callable"):
        mg.compile(3)


@pytest.mark.parametrize("where", ["numba", "cupy"])
def test_search_and_index_helpers_agree_on_every_backend(where, request):
    if where == "numba":
        pytest.importorskip("numba")
        backend = "numba"
    else:
        backend = request.getfixturevalue("cupy_device")
    rng = np.random.default_rng(17)
    seq = np.sort(rng.integers(0, 5, (2, 6)).astype(np.float64), -1)
    seq[1, -1] = np.nan
    values = rng.integers(-1, 6, (2, 4)).astype(np.float64)
    values[0, 0] = np.nan
    for right in (False, True):
        ours = mg.searchsorted(mg.tensor(seq, backend=backend), mg.tensor(values, backend=backend), right=right)
        assert ours.backend == backend
        np.testing.assert_array_equal(ours.numpy(), mg.searchsorted(mg.tensor(seq), mg.tensor(values),
                                                                    right=right).numpy())
    found = mg.isin(mg.tensor(values, backend=backend), mg.tensor(seq, backend=backend))
    assert found.backend == backend
    np.testing.assert_array_equal(found.numpy(), mg.isin(mg.tensor(values), mg.tensor(seq)).numpy())
    assert mg.equal(mg.tensor(seq, backend=backend), mg.tensor(seq, backend=backend)) is False  # NaN
    for made in (mg.tril_indices(3, 4, 1, backend=backend), mg.logspace(0, 2, 3, backend=backend),
                 mg.randint_like(mg.zeros(2, backend=backend), 4),
                 mg.poisson(mg.ones(3, backend=backend), generator=mg.Generator().manual_seed(0))):
        assert made.backend == backend
    np.testing.assert_array_equal(mg.tril_indices(3, 4, 1, backend=backend).numpy(), mg.tril_indices(3, 4, 1).numpy())


# -- windows, scalar_tensor, concat, matmul precision, print options ------------------------------------------------
@pytest.mark.parametrize("name, extra", [("hann_window", {}), ("hamming_window", {}),
                                         ("hamming_window", {"alpha": 0.5, "beta": 0.3}), ("blackman_window", {}),
                                         ("bartlett_window", {}), ("kaiser_window", {}),
                                         ("kaiser_window", {"beta": 3.5})])
@pytest.mark.parametrize("length", [0, 1, 2, 5, 8])
@pytest.mark.parametrize("periodic", [True, False])
def test_window_functions_match_pytorch(name, extra, length, periodic):
    for dtype, tol in (("float64", TIGHT), ("float32", {"rtol": 1e-6, "atol": 1e-6})):
        ours = getattr(mg, name)(length, periodic, **extra, dtype=dtype)
        theirs = getattr(torch, name)(length, periodic, **extra, dtype=getattr(torch, dtype))
        assert ours.dtype == dtype and ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), **tol)
    assert getattr(mg, name)(4).dtype == mg.float32


def test_window_errors():
    with pytest.raises(ValueError, match="hann_window: window_length must be an int >= 0"):
        mg.hann_window(-1)
    with pytest.raises(TypeError, match="floating dtype"):
        mg.hann_window(4, dtype="int64")


def test_scalar_tensor_and_concat_match_pytorch():
    for value, kwargs in ((3, {}), (2.5, {}), (True, {}), (7, {"dtype": "int64"})):
        ours = mg.scalar_tensor(value, **kwargs)
        theirs = torch.scalar_tensor(value, **{k: getattr(torch, v) for k, v in kwargs.items()})
        assert ours.shape == () and ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        assert ours.item() == theirs.item()
    rng = np.random.default_rng(18)
    _agree(lambda a, b: mg.concat([a, b], dim=1), lambda a, b: torch.concat([a, b], dim=1),
           [rng.standard_normal((2, 3)), rng.standard_normal((2, 1))], rng)


def test_float32_matmul_precision_is_recorded_and_validated():
    assert mg.get_float32_matmul_precision() == "highest" == torch.get_float32_matmul_precision()
    try:
        for precision in ("high", "medium", "highest"):
            mg.set_float32_matmul_precision(precision)
            assert mg.get_float32_matmul_precision() == precision
        with pytest.raises(RuntimeError, match="'highest', 'high' or 'medium'"):
            mg.set_float32_matmul_precision("low")
    finally:
        mg.set_float32_matmul_precision("highest")


def test_set_printoptions_changes_tensor_printing():
    from minigrad import runtime

    x = mg.tensor([1.23456789, 2.0, 1e-5], dtype="float64")
    default = repr(x)
    try:
        mg.set_printoptions(precision=2)
        assert repr(x).startswith("tensor([1.23e+00, 2.00e+00, 1.00e-05]")  # automatic: NumPy picks scientific
        assert repr(mg.tensor([1.23456, 2.0])).startswith("tensor([1.23, 2.  ]")
        mg.set_printoptions(sci_mode=False)
        assert repr(x).startswith("tensor([1.23, 2.  , 0.  ]")
        mg.set_printoptions(sci_mode=True)
        assert repr(x).startswith("tensor([1.23e+00, 2.00e+00, 1.00e-05]")
        mg.set_printoptions(threshold=5, edgeitems=2)
        assert repr(mg.arange(10)).startswith("tensor([0, 1, ..., 8, 9]")
        mg.set_printoptions(profile="full")
        assert "..." not in repr(mg.arange(1000))
        mg.set_printoptions(profile="short")
        assert runtime.PRINT_OPTIONS["precision"] == 2 and runtime.PRINT_OPTIONS["edgeitems"] == 2
        with pytest.raises(ValueError, match="profile"):
            mg.set_printoptions(profile="long")
        with pytest.raises(ValueError, match="precision must be an int >= 0"):
            mg.set_printoptions(precision=-1)
    finally:
        mg.set_printoptions(profile="default")
    assert repr(x) == default
