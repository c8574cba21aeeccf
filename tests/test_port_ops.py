"""scatter (and Tensor.scatter_/scatter_add_), cumprod, cummax/cummin, logcumsumexp, cdist and
nn.utils.parameters_to_vector/vector_to_parameters: PyTorch's forward values and gradients on the same inputs
(float64, random upstream gradients), float64 finite differences, and the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad import nn
from minigrad.errors import InplaceError, ShapeError

TIGHT = {"rtol": 1e-10, "atol": 1e-10}


def _pair(array, requires_grad=True):
    """The same float64 values as a minigrad leaf and a torch leaf."""
    array = np.array(array, dtype=np.float64)
    return (mg.tensor(array.copy(), requires_grad=requires_grad),
            torch.tensor(array.copy(), requires_grad=requires_grad))


def _agree(mg_fn, torch_fn, arrays, rng, *, create_graph=False):
    """Forward, gradients for a random upstream gradient, and (with ``create_graph``) the gradient of a random
    projection of those gradients: each equal to PyTorch's on the same inputs."""
    pairs = [_pair(a) for a in arrays]
    ours = mg_fn(*[m for m, _ in pairs])
    theirs = torch_fn(*[t for _, t in pairs])
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **TIGHT)
    g = rng.standard_normal(ours.shape)
    ours_g = mg.grad(ours, [m for m, _ in pairs], mg.tensor(g), create_graph=create_graph)
    theirs_g = torch.autograd.grad(theirs, [t for _, t in pairs], torch.tensor(g), create_graph=create_graph)
    for a, b in zip(ours_g, theirs_g):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TIGHT)
    if create_graph:
        weights = [rng.standard_normal(a.shape) for a in ours_g]
        ours_proj = sum((a * mg.tensor(w)).sum() for a, w in zip(ours_g, weights))
        theirs_proj = sum((b * torch.tensor(w)).sum() for b, w in zip(theirs_g, weights))
        if not theirs_proj.requires_grad:  # a linear op (scatter): no second-order term on either side
            assert not ours_proj.requires_grad
            return
        ours_gg = mg.grad(ours_proj, [m for m, _ in pairs], allow_unused=True)
        theirs_gg = torch.autograd.grad(theirs_proj, [t for _, t in pairs], allow_unused=True)
        for a, b in zip(ours_gg, theirs_gg):
            if b is None:
                assert a is None or not np.any(a.numpy())
            else:
                np.testing.assert_allclose(a.numpy(), b.numpy(), **TIGHT)


def _unique_index(rng, shape, dim, size):
    """An index of ``shape`` whose values along ``dim`` never repeat (a slice of a permutation per line)."""
    moved = list(shape)
    n = moved.pop(dim)
    lines = [rng.permutation(size)[:n] for _ in range(math.prod(moved))]
    return np.moveaxis(np.array(lines).reshape(*moved, n), -1, dim).astype(np.int64)


# -- scatter -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_matches_pytorch_forward_and_gradients(dim):
    rng = np.random.default_rng(1 + dim)
    x = rng.standard_normal((4, 5, 3))
    index_shape = [3, 4, 2]
    index = _unique_index(rng, index_shape, dim % 3, x.shape[dim])
    src = rng.standard_normal(index_shape)
    _agree(lambda a, s: mg.scatter(a, dim, mg.tensor(index), s),
           lambda a, s: torch.scatter(a, dim, torch.tensor(index), s), [x, src], rng, create_graph=True)
    # a src larger than index: only its leading index-shaped block is used (PyTorch has no gradient for it)
    big = rng.standard_normal((4, 5, 3))
    np.testing.assert_array_equal(mg.scatter(mg.tensor(x), dim, mg.tensor(index), mg.tensor(big)).numpy(),
                                  torch.scatter(torch.tensor(x), dim, torch.tensor(index), torch.tensor(big)).numpy())


def test_scatter_gradients_with_repeated_indices_are_pytorchs():
    """With repeats the value written is unspecified in PyTorch, but its gradients are not: the input's is zero
    where written, and every src element aimed at a position gets that position's gradient."""
    rng = np.random.default_rng(7)
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    index = np.array([[0, 1, 1, 2], [0, 1, 1, 2], [2, 2, 0, 0], [0, 1, 2, 2], [1, 1, 1, 1]])
    (xm, xt), (sm, st) = _pair(x), _pair(src)
    g = rng.standard_normal((3, 4))
    mg.scatter(xm, 0, mg.tensor(index), sm).backward(mg.tensor(g))
    torch.scatter(xt, 0, torch.tensor(index), st).backward(torch.tensor(g))
    np.testing.assert_array_equal(xm.grad.numpy(), xt.grad.numpy())
    np.testing.assert_array_equal(sm.grad.numpy(), st.grad.numpy())


def test_scatter_with_repeats_writes_the_last_value_in_row_major_order():
    x = np.zeros((2, 3))
    index = np.array([[1, 0, 1], [1, 0, 1]])
    src = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out = mg.scatter(mg.tensor(x), 0, mg.tensor(index), mg.tensor(src)).numpy()
    expected = x.copy()
    for i, j in np.ndindex(*index.shape):  # sequential writes: the later one stays
        expected[index[i, j], j] = src[i, j]
    np.testing.assert_array_equal(out, expected)


def test_scatter_a_number_and_value_keyword_match_pytorch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4))
    index = _unique_index(rng, (3, 2), 1, 4)
    xm, xt = _pair(x)
    for ours, theirs in ((mg.scatter(xm, 1, mg.tensor(index), 2.5), torch.scatter(xt, 1, torch.tensor(index), 2.5)),
                         (xm.scatter(1, mg.tensor(index), value=-1.0),
                          xt.scatter(1, torch.tensor(index), value=-1.0))):
        np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    g = rng.standard_normal((3, 4))
    mg.scatter(xm, 1, mg.tensor(index), 2.5).backward(mg.tensor(g))
    torch.scatter(xt, 1, torch.tensor(index), 2.5).backward(torch.tensor(g))
    np.testing.assert_array_equal(xm.grad.numpy(), xt.grad.numpy())


def test_scatter_in_place_matches_pytorch_and_records_the_gradient():
    rng = np.random.default_rng(4)
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    index = _unique_index(rng, (2, 4), 0, 3)
    (xm, xt), (sm, st) = _pair(x), _pair(src)
    ym, yt = xm * 2, xt * 2
    assert ym.scatter_(0, mg.tensor(index), sm) is ym
    yt.scatter_(0, torch.tensor(index), st)
    np.testing.assert_array_equal(ym.numpy(), yt.detach().numpy())
    g = rng.standard_normal((3, 4))
    ym.backward(mg.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(sm.grad.numpy(), st.grad.numpy(), **TIGHT)


def test_scatter_add_method_and_in_place_match_pytorch():
    rng = np.random.default_rng(5)
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    index = rng.integers(0, 3, (3, 4))
    (xm, xt), (sm, st) = _pair(x), _pair(src)
    np.testing.assert_allclose(xm.scatter_add(0, mg.tensor(index), sm).numpy(),
                               xt.scatter_add(0, torch.tensor(index), st).detach().numpy(), **TIGHT)
    ym, yt = xm + 0, xt + 0
    ym.scatter_add_(0, mg.tensor(index), sm)
    yt.scatter_add_(0, torch.tensor(index), st)
    g = rng.standard_normal((3, 4))
    ym.backward(mg.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(sm.grad.numpy(), st.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), **TIGHT)


def test_scatter_zero_dim_and_empty_index():
    x = mg.tensor(1.5, dtype="float64")
    np.testing.assert_array_equal(mg.scatter(x, 0, mg.tensor(0), mg.tensor(4.0, dtype="float64")).numpy(),
                                  torch.scatter(torch.tensor(1.5, dtype=torch.float64), 0, torch.tensor(0),
                                                torch.tensor(4.0, dtype=torch.float64)).numpy())
    y = mg.tensor(np.arange(6.0).reshape(2, 3))
    out = mg.scatter(y, 1, mg.tensor(np.zeros((2, 0), np.int64)), 9.0)
    np.testing.assert_array_equal(out.numpy(), y.numpy())


def test_scatter_finite_differences():
    """Without repeated positions (with them, src's gradient is PyTorch's convention, not a derivative)."""
    rng = np.random.default_rng(6)
    index = mg.tensor(_unique_index(rng, (2, 3), 0, 3))
    x = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    src = mg.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    assert mg.gradcheck(lambda a, s: mg.scatter(a, 0, index, s), (x, src))
    assert mg.gradgradcheck(lambda a, s: mg.scatter(a, 0, index, s) ** 2, (x, src))


def test_scatter_errors_name_the_problem_and_change_nothing():
    x = mg.tensor(np.zeros((2, 3)))
    before = x.numpy().copy()
    index = mg.tensor([[0, 1, 0]])
    with pytest.raises(NotImplementedError, match="scatter: reduce='add'"):
        x.scatter_(0, index, 1.0, reduce="add")
    with pytest.raises(TypeError, match="scatter: src is float32 but the tensor is float64"):
        x.scatter_(0, index, mg.ones(1, 3))
    with pytest.raises(IndexError, match=r"scatter: index values must lie in \[0, 2\)"):
        x.scatter_(0, mg.tensor([[0, 2, 0]]), 1.0)
    with pytest.raises(ShapeError, match=r"scatter: src of shape \(1, 2\) must be at least index's shape \(1, 3\)"):
        x.scatter_(0, index, mg.ones(1, 2, dtype="float64"))
    with pytest.raises(ShapeError, match=r"scatter: index of shape \(1, 4\) is larger"):
        x.scatter_(0, mg.tensor([[0, 0, 0, 0]]), 1.0)
    with pytest.raises(TypeError, match="scatter: give exactly one of src"):
        x.scatter_(0, index, 1.0, value=2.0)
    with pytest.raises(TypeError, match="scatter: index must be an integer tensor"):
        x.scatter_(0, mg.tensor([[0.0, 1.0, 0.0]]), 1.0)
    np.testing.assert_array_equal(x.numpy(), before)
    leaf = mg.zeros(2, 3, requires_grad=True)
    with pytest.raises(InplaceError, match="scatter_: a leaf tensor that requires grad"):
        leaf.scatter_(0, index, 1.0)


# -- cumprod ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("zeros", [0, 1, 2, 3])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod_matches_pytorch_with_zeros_to_second_order(zeros, dim):
    rng = np.random.default_rng(10 * zeros + dim + 1)
    x = rng.uniform(0.5, 1.5, (3, 6, 2)) * rng.choice([-1, 1], (3, 6, 2))
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, zeros, replace=False)] = 0.0
    if zeros:  # and a line with zeros in two places along dim, one of them first
        line = [slice(None)] * 3
        line[dim] = 0
        x[tuple(line)] = 0.0
        x[(1,) * 3] = 0.0
    _agree(lambda a: a.cumprod(dim), lambda a: a.cumprod(dim), [x], rng, create_graph=True)


def test_cumprod_finite_differences_with_zeros():
    x = mg.tensor([[0.5, 0.0, 2.0, -1.5, 0.0, 1.2], [1.1, -0.7, 0.0, 0.9, 1.3, 0.8]], dtype="float64",
                  requires_grad=True)
    assert mg.gradcheck(lambda a: mg.cumprod(a, 1), (x,))
    assert mg.gradgradcheck(lambda a: mg.cumprod(a, 1), (x,))


def test_cumprod_dtypes_and_in_place_follow_pytorch():
    ints = np.array([[1, 2, 3], [4, 0, 6]], dtype=np.int32)
    scalar = np.float64(2.5)
    for ours, theirs in ((mg.cumprod(mg.tensor(ints), 1), torch.cumprod(torch.tensor(ints), 1)),
                         (mg.tensor(ints > 2).cumprod(0), torch.tensor(ints > 2).cumprod(0)),
                         (mg.tensor(ints).cumprod(1, dtype="float64"),
                          torch.tensor(ints).cumprod(1, dtype=torch.float64)),
                         (mg.tensor(scalar).cumprod(0), torch.tensor(scalar).cumprod(0))):
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    y = mg.tensor([[1.0, 2.0, 3.0]])
    y.cumprod_(1)
    np.testing.assert_array_equal(y.numpy(), [[1.0, 2.0, 6.0]])
    with pytest.raises(IndexError, match="cumprod: axis 2 is out of range"):
        mg.cumprod(y, 2)
    with pytest.raises(TypeError, match="cumprod: dim must be one int"):
        mg.cumprod(y, (0, 1))


# -- cummax / cummin ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_match_pytorch_with_ties_and_nan(name):
    rng = np.random.default_rng(11)
    x = rng.integers(-3, 4, (4, 7)).astype(np.float64)  # many ties
    x[2, 3] = np.nan
    x[3, 1] = x[3, 5] = np.nan
    for dim in (0, 1, -1):
        xm, xt = _pair(x)
        ours, theirs = getattr(mg, name)(xm, dim), getattr(torch, name)(xt, dim)
        assert isinstance(ours, getattr(mg.return_types, name))
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.detach().numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        assert ours.indices.dtype.name == "int64"
        g = rng.standard_normal(x.shape)
        ours.values.backward(mg.tensor(g))
        theirs.values.backward(torch.tensor(g))
        np.testing.assert_array_equal(xm.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_integers_zero_dim_and_second_order(name):
    for ints in (np.array([[3, 1, 4, 1, 5, 9, 2, 6]]), np.array([[True, False, True, True, False]])):
        ours, theirs = getattr(mg.tensor(ints), name)(1), getattr(torch.tensor(ints), name)(1)
        assert ours.values.dtype.name == str(theirs.values.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    values, indices = getattr(mg, name)(mg.tensor(2.0), 0)
    assert values.shape == () and indices.shape == () and indices.item() == 0 and values.item() == 2.0
    rng = np.random.default_rng(12)
    x = rng.permutation(15).reshape(3, 5) * 0.3  # distinct values: finite differences see no tie
    _agree(lambda a: getattr(mg, name)(a, 1).values ** 2, lambda a: getattr(torch, name)(a, 1).values ** 2, [x], rng,
           create_graph=True)
    assert mg.gradcheck(lambda a: getattr(mg, name)(a, 0).values, (mg.tensor(x, requires_grad=True),))


# -- logcumsumexp -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_logcumsumexp_matches_pytorch_to_second_order(dim):
    rng = np.random.default_rng(20 + dim)
    x = rng.standard_normal((5, 9, 3)) * 3
    _agree(lambda a: mg.logcumsumexp(a, dim), lambda a: torch.logcumsumexp(a, dim), [x], rng, create_graph=True)


def test_logcumsumexp_is_stable_for_huge_and_tiny_values():
    rng = np.random.default_rng(21)
    x = np.array([[-1000.0, 0.0, 1000.0, 1000.0, -1e300, 999.0, 3.0], [-5e3, -5e3 + 1, -4e3, 7e2, 7e2, 1e-3, -1e4]])
    _agree(lambda a: mg.logcumsumexp(a, 1), lambda a: torch.logcumsumexp(a, 1), [x], rng)
    neg = np.array([-np.inf, -np.inf, 0.5, -np.inf])
    np.testing.assert_array_equal(mg.logcumsumexp(mg.tensor(neg), 0).numpy(),
                                  torch.logcumsumexp(torch.tensor(neg), 0).numpy())
    f32 = np.array([80.0, 90.0, -90.0, 100.0], dtype=np.float32)  # exp overflows float32 unshifted
    np.testing.assert_allclose(mg.logcumsumexp(mg.tensor(f32), 0).numpy(),
                               torch.logcumsumexp(torch.tensor(f32), 0).numpy(), rtol=1e-6)


def test_logcumsumexp_finite_differences_and_errors():
    x = mg.tensor(np.random.default_rng(22).standard_normal((3, 6)), requires_grad=True)
    assert mg.gradcheck(lambda a: mg.logcumsumexp(a, 1), (x,))
    assert mg.gradgradcheck(lambda a: mg.logcumsumexp(a, 0), (x,))
    with pytest.raises(TypeError, match="logcumsumexp: needs a floating-point tensor, got int64"):
        mg.logcumsumexp(mg.tensor([1, 2]), 0)
    assert mg.tensor(1.5).logcumsumexp(0).item() == 1.5


# -- cdist ----------------------------------------------------------------------------------------------------
P_VALUES = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, math.inf]


@pytest.mark.parametrize("p", P_VALUES)
def test_cdist_matches_pytorch_batched_with_zero_distances(p):
    rng = np.random.default_rng(int(30 + (p if p < 10 else 9) * 2))
    x1 = rng.standard_normal((2, 4, 3))
    x2 = rng.standard_normal((1, 5, 3))  # the batch dimension broadcasts
    x2[0, 1] = x1[0, 2]  # a zero distance
    x2[0, 3, 0] = x1[1, 0, 0]  # a zero coordinate difference
    x1[0, 1], x2[0, 4] = [0.5, 1.25, 0.1], [1.25, 0.5, 0.1]  # tied largest coordinates (p = inf), exactly
    # PyTorch's cdist has no second derivative: ours is checked by finite differences below
    _agree(lambda a, b: mg.cdist(a, b, p), lambda a, b: torch.cdist(a, b, p, "donot_use_mm_for_euclid_dist"),
           [x1, x2], rng)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf, 0.7])
def test_cdist_finite_differences(p):
    rng = np.random.default_rng(40)
    x1 = mg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x2 = mg.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    assert mg.gradcheck(lambda a, b: mg.cdist(a, b, p), (x1, x2))
    assert mg.gradgradcheck(lambda a, b: mg.cdist(a, b, p), (x1, x2))


def test_cdist_float32_and_errors():
    rng = np.random.default_rng(41)
    a, b = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(mg.cdist(mg.tensor(a), mg.tensor(b)).numpy(),
                               torch.cdist(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-5, atol=1e-6)
    assert mg.cdist(mg.tensor(a), mg.tensor(b)).dtype.name == "float32"
    empty = mg.cdist(mg.zeros(2, 0), mg.zeros(3, 0))
    np.testing.assert_array_equal(empty.numpy(), torch.cdist(torch.zeros(2, 0), torch.zeros(3, 0)).numpy())
    x = mg.tensor(a)
    with pytest.raises(ShapeError, match=r"cdist: x1 must have at least 2 dimensions .* shape \(4,\)"):
        mg.cdist(mg.tensor(a[0]), x)
    with pytest.raises(ShapeError, match=r"cdist: x1 and x2 must have the same number of columns, got shapes "
                                         r"\(6, 4\) and \(6, 3\)"):
        mg.cdist(x, mg.tensor(a[:, :3]))
    with pytest.raises(ShapeError, match="batch dimensions"):
        mg.cdist(mg.zeros(2, 1, 2), mg.zeros(3, 1, 2))
    with pytest.raises(ValueError, match="cdist: p must be non-negative, got -1.0"):
        mg.cdist(x, x, p=-1)
    with pytest.raises(TypeError, match="cdist: only floating-point tensors are supported, x1 is int64"):
        mg.cdist(mg.tensor([[1, 2]]), mg.tensor([[1, 2]]))
    with pytest.raises(TypeError, match="cdist: x1 is float32 but x2 is float64"):
        mg.cdist(x, x.double())
    with pytest.raises(ValueError, match="'bad' is not a valid compute_mode"):
        mg.cdist(x, x, compute_mode="bad")


# -- nn.utils.parameters_to_vector / vector_to_parameters -------------------------------------------------------
def test_parameters_to_vector_and_back_match_pytorch():
    rng = np.random.default_rng(50)
    weights = [rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((1, 2, 2))]
    ours = [mg.tensor(w, requires_grad=True) for w in weights]
    theirs = [torch.tensor(w, requires_grad=True) for w in weights]
    vm, vt = nn.utils.parameters_to_vector(ours), torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(vm.numpy(), vt.detach().numpy())
    g = rng.standard_normal(vm.shape)
    vm.backward(mg.tensor(g))
    vt.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    new = rng.standard_normal(vm.shape[0] + 2)  # longer than needed: the tail is ignored, as in PyTorch
    nn.utils.vector_to_parameters(mg.tensor(new), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())
        assert a.requires_grad and a.grad_fn is None


def test_vector_to_parameters_errors_change_nothing():
    model = nn.Linear(3, 2)
    before = [p.numpy().copy() for p in model.parameters()]
    with pytest.raises(TypeError, match="vector_to_parameters: expected a Tensor for vec, but got: list"):
        nn.utils.vector_to_parameters([0.0] * 8, model.parameters())
    with pytest.raises(ShapeError, match=r"vec has 7 elements but the parameters \[\(2, 3\), \(2,\)\] hold 8"):
        nn.utils.vector_to_parameters(mg.zeros(7), model.parameters())
    with pytest.raises(ShapeError, match=r"vec must be 1-D, got shape \(2, 4\)"):
        nn.utils.vector_to_parameters(mg.zeros(2, 4), model.parameters())
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), b)
    with pytest.raises(ValueError, match="parameters_to_vector: expected at least one parameter"):
        nn.utils.parameters_to_vector([])
    with pytest.raises(TypeError, match="parameters_to_vector: expected tensors as parameters, got ndarray"):
        nn.utils.parameters_to_vector([np.zeros(2)])


# -- scatter_reduce -----------------------------------------------------------------------------------------------
REDUCTIONS = ["sum", "prod", "mean", "amax", "amin"]


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_reduce_matches_pytorch_with_repeats_ties_and_zeros(reduce, include_self, dim):
    rng = np.random.default_rng(60 + dim)
    x = rng.integers(-2, 3, (4, 5, 3)).astype(np.float64)  # small integers: ties (amax/amin) and zeros (prod)
    src = rng.integers(-2, 3, (3, 4, 3)).astype(np.float64)
    src[0, 0, 0] = 0.0
    index = rng.integers(0, x.shape[dim], src.shape)  # repeats; some positions never aimed at
    _agree(lambda a, s: mg.scatter_reduce(a, dim, mg.tensor(index), s, reduce, include_self=include_self),
           lambda a, s: torch.scatter_reduce(a, dim, torch.tensor(index), s, reduce, include_self=include_self),
           [x, src], rng)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean"])
def test_scatter_reduce_second_order_matches_pytorch(reduce):
    rng = np.random.default_rng(61)
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    src[1, 2] = 0.0
    index = rng.integers(0, 3, (5, 4))
    _agree(lambda a, s: mg.scatter_reduce(a, 0, mg.tensor(index), s, reduce) ** 2,
           lambda a, s: torch.scatter_reduce(a, 0, torch.tensor(index), s, reduce) ** 2, [x, src], rng,
           create_graph=True)


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_scatter_reduce_finite_differences(reduce, include_self):
    rng = np.random.default_rng(62)
    x = mg.tensor(rng.permutation(12).reshape(3, 4) * 0.25 + 0.5, requires_grad=True)  # distinct: no ties
    src = mg.tensor(rng.permutation(20).reshape(5, 4) * 0.25 - 2.4, requires_grad=True)
    index = mg.tensor(rng.integers(0, 3, (5, 4)))
    fn = lambda a, s: mg.scatter_reduce(a, 0, index, s, reduce, include_self=include_self)  # noqa: E731
    assert mg.gradcheck(fn, (x, src))
    assert mg.gradgradcheck(fn, (x, src))


def test_scatter_reduce_prod_finite_differences_with_zeros():
    """Per column, a group (x's value and two src values) holding one zero, two zeros, or none."""
    x = mg.tensor([[0.7, 0.0, 1.2, -0.3]], dtype="float64", requires_grad=True)
    src = mg.tensor([[0.0, 1.5, 0.0, -0.5], [2.0, 0.0, 0.3, 0.9]], dtype="float64", requires_grad=True)
    index = mg.tensor(np.zeros((2, 4), np.int64))
    for include_self in (True, False):
        def fn(a, s, include_self=include_self):
            return mg.scatter_reduce(a, 0, index, s, "prod", include_self=include_self)

        assert mg.gradcheck(fn, (x, src))
        assert mg.gradgradcheck(fn, (x, src))


def test_scatter_reduce_integers_in_place_and_errors():
    ints = np.array([7, -7, 7])
    for include_self in (True, False):
        ours = mg.tensor(ints).scatter_reduce(0, mg.tensor([0, 0, 1]), mg.tensor([2, -3, 2]), "mean",
                                              include_self=include_self)
        theirs = torch.tensor(ints).scatter_reduce(0, torch.tensor([0, 0, 1]), torch.tensor([2, -3, 2]), "mean",
                                                   include_self=include_self)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert ours.dtype.name == "int64"
    y = mg.tensor([1.0, 2.0, 3.0])
    assert y.scatter_reduce_(0, mg.tensor([2, 2]), mg.tensor([4.0, 5.0]), "amax") is y
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0, 5.0])
    with pytest.raises(ValueError, match="reduce must be one of sum, prod, mean, amax, amin, got 'max'"):
        y.scatter_reduce_(0, mg.tensor([0]), mg.tensor([1.0]), "max")
    with pytest.raises(TypeError, match="scatter_reduce: src is float64 but the tensor is float32"):
        y.scatter_reduce_(0, mg.tensor([0]), mg.tensor([1.0], dtype="float64"), "sum")
    with pytest.raises(IndexError, match=r"scatter_reduce: index values must lie in \[0, 3\)"):
        y.scatter_reduce_(0, mg.tensor([3]), mg.tensor([1.0]), "prod")
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0, 5.0])
