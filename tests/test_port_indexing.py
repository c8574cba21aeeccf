"""PyTorch's metadata queries, indexing functions (diagonal, select, index_add/copy/fill/put, masked_scatter, take,
put, tensor_split, rot90, the *_scatter family, unique_consecutive, ...) and statistics (nansum, median, quantile,
mode, kthvalue, cov, kron, renorm, ...): forward values and gradients equal to PyTorch's on the same float64
inputs with random upstream gradients, float64 finite differences (these run without PyTorch), in-place rules,
and errors. The random fills and multinomial are checked statistically in tests/test_port_reductions.py."""

from __future__ import annotations

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad.errors import InplaceError, ShapeError

TIGHT = {"rtol": 1e-10, "atol": 1e-10}
RNG_SEED = 20261207


def _values(out):
    """The tensors of an op's result (a tensor, a tuple of tensors, or a named tuple)."""
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _agree(mg_fn, torch_fn, arrays, *, grad=True):
    """Forward equal to PyTorch's; with ``grad``, the gradients of every floating input for random upstream
    gradients of every floating output, equal too."""
    rng = np.random.default_rng(RNG_SEED)
    ours_in = [mg.tensor(a.copy(), requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    theirs_in = [torch.tensor(a.copy(), requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    ours, theirs = _values(mg_fn(*ours_in)), _values(torch_fn(*theirs_in))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TIGHT)
        assert a.dtype.kind == b.detach().numpy().dtype.kind
    if not grad:
        return
    pairs = [(a, b) for a, b in zip(ours, theirs) if b.requires_grad]
    upstream = [rng.standard_normal(a.shape) for a, _ in pairs]
    leaves = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    ours_g = mg.grad([a for a, _ in pairs], [ours_in[i] for i in leaves], [mg.tensor(g) for g in upstream],
                     allow_unused=True)
    theirs_g = torch.autograd.grad([b for _, b in pairs], [theirs_in[i] for i in leaves],
                                   [torch.tensor(g) for g in upstream], allow_unused=True)
    for a, b in zip(ours_g, theirs_g):
        if b is None:
            assert a is None or not np.any(a.numpy())
        else:
            np.testing.assert_allclose(a.numpy(), b.numpy(), **TIGHT)


def _check_grad(fn, arrays):
    """float64 finite differences of every floating input, for each output (runs without PyTorch)."""
    inputs = [mg.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    assert mg.gradcheck(lambda *xs: _values(fn(*xs))[0], tuple(inputs))


R = np.random.default_rng(7)
A34 = R.standard_normal((3, 4))
A234 = R.standard_normal((2, 3, 4))
A333 = R.standard_normal((3, 3, 3))
V5 = R.standard_normal(5)
IDX = np.array([2, 0, 2])  # a repeated index: index_add accumulates
UIDX = np.array([3, 0])


def _t(fn, *consts):
    """``fn`` with integer/bool constants given as NumPy arrays, made tensors on each side."""
    return (lambda *xs: fn(mg, [mg.tensor(c) for c in consts], *xs),
            lambda *xs: fn(torch, [torch.tensor(c) for c in consts], *xs))


# (name, function of (library, constants, *inputs), constants, inputs); each side called the same way.
DIFFERENTIABLE = [
    ("reshape_as", lambda lib, c, x: x.reshape_as(x.new_zeros(4, 3)) if lib is torch else x.reshape_as(mg.zeros(4, 3)),
     (), (A34,)),
    ("unflatten", lambda lib, c, x: lib.unflatten(x, 1, (2, -1)), (), (A34,)),
    ("unflatten_method", lambda lib, c, x: x.unflatten(-1, (2, 2)), (), (A234,)),
    ("ravel", lambda lib, c, x: lib.ravel(x.transpose(0, 1)), (), (A34,)),
    ("select", lambda lib, c, x: lib.select(x, 1, -2), (), (A234,)),
    ("diagonal", lambda lib, c, x: lib.diagonal(x), (), (A34,)),
    ("diagonal_offset_dims", lambda lib, c, x: lib.diagonal(x, 1, 2, 0), (), (A234,)),
    ("diagonal_negative", lambda lib, c, x: x.diagonal(offset=-1, dim1=-1, dim2=-2), (), (A234,)),
    ("diagonal_empty", lambda lib, c, x: lib.diagonal(x, 5), (), (A34,)),
    ("diag_embed", lambda lib, c, x: lib.diag_embed(x), (), (A34,)),
    ("diag_embed_dims", lambda lib, c, x: lib.diag_embed(x, 1, 0, 2), (), (A34,)),
    ("diag_embed_swapped", lambda lib, c, x: lib.diag_embed(x, -2, 2, 0), (), (A34,)),
    ("diagflat", lambda lib, c, x: lib.diagflat(x, -1), (), (A34,)),
    ("index_add", lambda lib, c, x, s: lib.index_add(x, 1, c[0], s, alpha=2.5), (IDX,),
     (A34, R.standard_normal((3, 3)))),
    ("index_add_dim0", lambda lib, c, x, s: x.index_add(0, c[0], s), (IDX,), (A34, R.standard_normal((3, 4)))),
    ("index_copy", lambda lib, c, x, s: lib.index_copy(x, 1, c[0], s), (UIDX,), (A34, R.standard_normal((3, 2)))),
    ("index_fill", lambda lib, c, x: lib.index_fill(x, 1, c[0], -1.5), (IDX,), (A34,)),
    ("index_fill_tensor", lambda lib, c, x, v: x.index_fill(0, c[0], v), (IDX,), (A34, np.array(0.7))),
    ("index_put", lambda lib, c, x, v: lib.index_put(x, (c[0], c[1]), v), (np.array([2, 0]), np.array([1, 2])),
     (A34, R.standard_normal(2))),
    ("index_put_accumulate", lambda lib, c, x, v: x.index_put((c[0],), v, accumulate=True), (np.array([1, 1, 0]),),
     (A34, R.standard_normal((3, 4)))),
    ("index_put_broadcast", lambda lib, c, x, v: x.index_put((c[0],), v, True), (np.array([2, 2]),),
     (A34, R.standard_normal(4))),
    ("index_put_bool", lambda lib, c, x, v: lib.index_put(x, (c[0],), v), (A34 > 0,), (A34, np.array(3.0))),
    ("masked_scatter", lambda lib, c, x, s: lib.masked_scatter(x, c[0], s), (np.array([True, False, True, True]),),
     (A34, R.standard_normal((4, 4)))),
    ("masked_scatter_0d", lambda lib, c, x, s: lib.masked_scatter(x, c[0], s), (np.array(True),),
     (np.array(1.5), R.standard_normal(2))),
    ("take", lambda lib, c, x: lib.take(x, c[0]), (np.array([[0, -1], [5, 5]]),), (A34,)),
    ("take_along_dim", lambda lib, c, x: lib.take_along_dim(x, c[0], 1), (np.array([[0, 3, 3]]),), (A34,)),
    ("take_along_dim_flat", lambda lib, c, x: lib.take_along_dim(x, c[0]), (np.array([11, 0, 4]),), (A34,)),
    ("put", lambda lib, c, x, s: lib.put(x, c[0], s), (np.array([0, -1, 5]),), (A34, R.standard_normal(3))),
    ("put_accumulate", lambda lib, c, x, s: x.put(c[0], s, True), (np.array([[1, 1], [2, 1]]),),
     (A34, R.standard_normal((2, 2)))),
    ("tensor_split_sections", lambda lib, c, x: lib.tensor_split(x, 3, 1), (), (A34,)),
    ("tensor_split_indices", lambda lib, c, x: lib.tensor_split(x, [1, 9, -2], dim=1), (), (A34,)),
    ("tensor_split_tensor", lambda lib, c, x: lib.tensor_split(x, c[0], 1), (np.array([1, 3]),), (A34,)),
    ("hsplit", lambda lib, c, x: lib.hsplit(x, 3), (), (A234,)),
    ("hsplit_1d", lambda lib, c, x: lib.hsplit(x, [2]), (), (V5,)),
    ("vsplit", lambda lib, c, x: lib.vsplit(x, [1]), (), (A234,)),
    ("dsplit", lambda lib, c, x: x.dsplit(2), (), (A234,)),
    ("split_with_sizes", lambda lib, c, x: lib.split_with_sizes(x, [1, 3], 1), (), (A34,)),
    ("rot90", lambda lib, c, x: lib.rot90(x), (), (A34,)),
    ("rot90_k2", lambda lib, c, x: lib.rot90(x, 2, [1, 2]), (), (A234,)),
    ("rot90_k3", lambda lib, c, x: x.rot90(-1, [2, 0]), (), (A234,)),
    ("fliplr", lambda lib, c, x: lib.fliplr(x), (), (A234,)),
    ("flipud", lambda lib, c, x: lib.flipud(x), (), (A234,)),
    ("select_scatter", lambda lib, c, x, s: lib.select_scatter(x, s, 1, -1), (), (A234, R.standard_normal((2, 4)))),
    ("slice_scatter", lambda lib, c, x, s: lib.slice_scatter(x, s, 1, 0, None, 2), (),
     (A34, R.standard_normal((3, 2)))),
    ("slice_scatter_default", lambda lib, c, x, s: x.slice_scatter(s), (), (A34, R.standard_normal((3, 4)))),
    ("diagonal_scatter", lambda lib, c, x, s: lib.diagonal_scatter(x, s, 1), (), (A34, R.standard_normal(3))),
    ("diagonal_scatter_dims", lambda lib, c, x, s: lib.diagonal_scatter(x, s, 0, 2, 0), (),
     (A234, R.standard_normal((3, 2)))),
    ("sum_to_size", lambda lib, c, x: x.sum_to_size(2, 1, 4), (), (A234,)),
    ("sum_to_size_lead", lambda lib, c, x: x.sum_to_size((3, 1)), (), (A234,)),
    ("diff", lambda lib, c, x: lib.diff(x), (), (A34,)),
    ("diff_n_dim", lambda lib, c, x, p, a: lib.diff(x, 2, 0, prepend=p, append=a), (),
     (A34, R.standard_normal((1, 4)), R.standard_normal((2, 4)))),
    ("diff_n0", lambda lib, c, x, p: lib.diff(x, 0, prepend=p), (), (A34, R.standard_normal((3, 1)))),
    ("diff_high_order", lambda lib, c, x: lib.diff(x, 5), (), (A34,)),
    # reductions and statistics
    ("nansum", lambda lib, c, x: lib.nansum(x), (), (np.where(A34 > 1, np.nan, A34),)),
    ("nansum_dim", lambda lib, c, x: x.nansum((0, 1), keepdim=True), (), (np.where(A234 > 1, np.nan, A234),)),
    ("nanmean", lambda lib, c, x: lib.nanmean(x, 1), (), (np.where(A34 > 0.5, np.nan, A34),)),
    ("median", lambda lib, c, x: lib.median(x), (), (A34,)),
    ("median_ties", lambda lib, c, x: x.median(), (), (np.array([1.0, 2.0, 2.0, 3.0, 2.0, 0.0]),)),
    ("median_dim", lambda lib, c, x: lib.median(x, 1), (), (A234,)),
    ("median_dim_keepdim", lambda lib, c, x: x.median(0, keepdim=True), (), (A34,)),
    ("median_dim_ties", lambda lib, c, x: lib.median(x, -1), (),
     (np.array([[3.0, 1, 3, 1, 2, 1], [5, 5, 5, 5, 5, 5]]),)),
    ("nanmedian", lambda lib, c, x: lib.nanmedian(x), (), (np.array([1.0, np.nan, 0.5, 2.0, 0.5]),)),
    ("nanmedian_dim", lambda lib, c, x: lib.nanmedian(x, 1),
     (), (np.array([[1.0, np.nan, 0.0, np.nan, 2.0], [0.5, 0.25, np.nan, 4.0, 0.25]]),)),
    ("kthvalue", lambda lib, c, x: lib.kthvalue(x, 2, 1), (), (A234,)),
    ("kthvalue_ties", lambda lib, c, x: x.kthvalue(4, 0, True), (), (np.array([[2.0, 1], [1, 1], [2, 1], [1, 3]]),)),
    ("mode", lambda lib, c, x: lib.mode(x), (), (np.array([[2.0, 1, 2, 1, 3], [4, 4, 0, 4, 0]]),)),
    ("mode_dim", lambda lib, c, x: x.mode(0, True), (), (np.array([[2.0, 1], [1, 1], [2, 0], [1, 0]]),)),
    ("quantile", lambda lib, c, x: lib.quantile(x, 0.3), (), (A34,)),
    ("quantile_dim", lambda lib, c, x, q: lib.quantile(x, q, dim=1, keepdim=True), (),
     (A234, np.array([0.1, 0.25, 0.9]))),
    ("quantile_q_ends", lambda lib, c, x, q: lib.quantile(x, q, dim=0), (), (A34, np.array([0.0, 1.0]))),
    ("quantile_0d", lambda lib, c, x: lib.quantile(x, 0.5, dim=0), (), (np.array(2.0),)),
    ("quantile_nan", lambda lib, c, x: lib.quantile(x, 0.5, 1), (), (np.array([[1.0, np.nan, 2.0], [3.0, 1.0, 2.0]]),)),
    ("nanquantile", lambda lib, c, x, q: lib.nanquantile(x, q, 1),
     (), (np.array([[1.0, np.nan, 2.0, 0.5], [np.nan] * 4, [3.0, 1.0, 2.0, 8.0]]), np.array([0.1, 0.9]))),
    ("aminmax", lambda lib, c, x: lib.aminmax(x), (), (np.array([[1.0, 3.0, 3.0], [0.0, 0.0, 2.0]]),)),
    ("aminmax_dim", lambda lib, c, x: x.aminmax(dim=1, keepdim=True), (),
     (np.array([[1.0, 3.0, 3.0], [0.0, 0.0, 2.0]]),)),
    ("cov", lambda lib, c, x: lib.cov(x), (), (A34,)),
    ("cov_1d", lambda lib, c, x: lib.cov(x, correction=0), (), (V5,)),
    ("cov_weights", lambda lib, c, x, a: lib.cov(x, correction=2, fweights=c[0], aweights=a), (np.array([1, 2, 0, 3]),),
     (A34, np.array([0.5, 1.5, 2.0, 0.25]))),
    ("cov_fweights", lambda lib, c, x: x.cov(fweights=c[0]), (np.array([1, 2, 1, 3]),), (A34,)),
    ("corrcoef", lambda lib, c, x: lib.corrcoef(x), (), (A34,)),
    ("kron", lambda lib, c, a, b: lib.kron(a, b), (), (R.standard_normal((2, 3)), R.standard_normal((2, 1, 2)))),
    ("inner", lambda lib, c, a, b: lib.inner(a, b), (), (A234, R.standard_normal((5, 4)))),
    ("inner_scalar", lambda lib, c, a, b: a.inner(b), (), (A34, np.array(1.5))),
    ("vdot", lambda lib, c, a, b: lib.vdot(a, b), (), (V5, R.standard_normal(5))),
    ("renorm", lambda lib, c, x: lib.renorm(x, 2, 0, 1.5), (), (A34,)),
    ("renorm_p1_dim", lambda lib, c, x: x.renorm(1, -1, 1.0), (), (A234,)),
    ("renorm_inf", lambda lib, c, x: lib.renorm(x, float("inf"), 1, 0.8), (), (A34,)),
]


def _fns(fn, consts):
    return (lambda *xs: fn(mg, [mg.tensor(c) for c in consts], *xs),
            lambda *xs: fn(torch, [torch.tensor(c) for c in consts], *xs))


@pytest.mark.parametrize("name, fn, consts, arrays", DIFFERENTIABLE, ids=[c[0] for c in DIFFERENTIABLE])
def test_matches_pytorch(name, fn, consts, arrays):
    ours, theirs = _fns(fn, consts)
    _agree(ours, theirs, arrays)


NO_FD = {"diff_n0", "quantile_q_ends", "median_ties", "mode", "mode_dim", "kthvalue_ties", "median_dim_ties", "aminmax",
         "aminmax_dim",
         "nanmedian", "nanmedian_dim", "quantile_nan", "nanquantile", "nansum", "nansum_dim", "nanmean"}


@pytest.mark.parametrize("name, fn, consts, arrays", [c for c in DIFFERENTIABLE if c[0] not in NO_FD],
                         ids=[c[0] for c in DIFFERENTIABLE if c[0] not in NO_FD])
def test_finite_differences(name, fn, consts, arrays):
    ours, _ = _fns(fn, consts)
    _check_grad(ours, arrays)


def test_finite_differences_nan_reductions():
    """Where NaNs or ties make finite differences meaningless, the finite values alone (no NaN, no ties)."""
    x = R.standard_normal((3, 5))
    for fn in (lambda a: mg.nansum(a, 1), lambda a: mg.nanmean(a, 0), lambda a: a.nanmedian(),
               lambda a: a.nanmedian(1).values, lambda a: mg.nanquantile(a, 0.4, 1),
               lambda a: mg.aminmax(a, dim=0).max, lambda a: a.kthvalue(3, 1).values):
        assert mg.gradcheck(fn, (mg.tensor(x, requires_grad=True),))


def test_second_order_through_quantile_and_cov():
    x = mg.tensor(A34.copy(), requires_grad=True)
    assert mg.gradgradcheck(lambda a: mg.quantile(a, 0.3, 1) ** 2, (x,))
    assert mg.gradgradcheck(lambda a: mg.cov(a).sum() * a.sum(), (x,))
    assert mg.gradgradcheck(lambda a: mg.renorm(a, 2, 0, 1.0) ** 2, (x,))


# -- no gradient ----------------------------------------------------------------------------------------------
NONDIFF = [
    ("argwhere", lambda lib, c: lib.argwhere(c[0]), (np.array([[0, 1, 2], [3, 0, 0]]),)),
    ("argwhere_0d", lambda lib, c: lib.argwhere(c[0]), (np.array(0.0),)),
    ("argwhere_0d_true", lambda lib, c: lib.argwhere(c[0]), (np.array(2.0),)),
    ("unique_consecutive", lambda lib, c: lib.unique_consecutive(c[0], return_inverse=True, return_counts=True),
     (np.array([1, 1, 2, 2, 3, 1, 1, 2]),)),
    ("unique_consecutive_dim", lambda lib, c: c[0].unique_consecutive(return_inverse=True, return_counts=True, dim=1),
     (np.array([[1, 1, 2, 2], [0, 0, 0, 1]]),)),
    ("unique_consecutive_2d", lambda lib, c: lib.unique_consecutive(c[0], return_counts=True),
     (np.array([[1.0, 1.0], [1.0, 2.0]]),)),
    ("count_nonzero", lambda lib, c: lib.count_nonzero(c[0]), (np.array([[0.0, 1, 2], [3, 0, 0]]),)),
    ("count_nonzero_dims", lambda lib, c: c[0].count_nonzero((0, 1)), (np.zeros((2, 3, 2)),)),
    ("count_nonzero_dim", lambda lib, c: lib.count_nonzero(c[0], -1), (np.array([[0, 1, 2], [3, 0, 0]]),)),
    ("bincount", lambda lib, c: lib.bincount(c[0]), (np.array([0, 3, 3, 1]),)),
    ("bincount_weights", lambda lib, c: lib.bincount(c[0], c[1], minlength=6), (np.array([0, 3, 3, 1]),
                                                                           np.array([0.5, 1.5, 2.0, 4.0]))),
    ("bincount_int_weights", lambda lib, c: c[0].bincount(c[1]), (np.array([0, 3, 3]), np.array([1, 2, 3]))),
    ("bincount_float32", lambda lib, c: lib.bincount(c[0], c[1]), (np.array([2, 2]), np.array([0.5, 1.5], np.float32))),
    ("bincount_empty", lambda lib, c: lib.bincount(c[0], minlength=3), (np.array([], np.int64),)),
    ("bincount_empty_weights", lambda lib, c: lib.bincount(c[0], c[1], 2), (np.array([], np.int64), np.zeros(0))),
    ("unique_consecutive_dim2", lambda lib, c: lib.unique_consecutive(c[0], return_inverse=True, return_counts=True,
                                                                      dim=2),
     (np.array([[[0, 0, 1], [1, 1, 1]], [[0, 0, 0], [1, 1, 0]]]),)),
    ("histc", lambda lib, c: lib.histc(c[0], bins=4, min=0, max=3), (np.array([1.0, 2, 1, 3, 3.5, -1, 0]),)),
    ("histc_auto", lambda lib, c: c[0].histc(7), (R.standard_normal(50),)),
    ("histc_float32", lambda lib, c: lib.histc(c[0], 10, -2, 2), (R.standard_normal(200).astype(np.float32),)),
    ("histc_constant", lambda lib, c: lib.histc(c[0], 3), (np.full(4, 2.0),)),
    ("quantile_modes", lambda lib, c: [lib.quantile(c[0], c[1], dim=0, interpolation=m)
                                      for m in ("linear", "lower", "higher", "midpoint", "nearest")],
     (np.array([[1.0, 4], [2, 3], [3, 2], [4, 1], [9, 0], [6, 5]]), np.array([0.0, 0.1, 0.3, 0.5, 0.7, 1.0]))),
    ("median_inf", lambda lib, c: [lib.median(c[0]), lib.median(c[1])],
     (np.full(3, np.inf), np.array([1.0, np.inf, np.inf]))),
    ("quantile_inf", lambda lib, c: lib.quantile(c[0], c[1]),
     (np.array([-np.inf, 1.0, 2.0, np.inf]), np.array([0.1, 0.2, 0.5, 0.9]))),
    ("quantile_float32", lambda lib, c: lib.quantile(c[0], 0.37), (R.standard_normal(11).astype(np.float32),)),
    ("is_floating_point", lambda lib, c: [lib.tensor(lib.is_floating_point(c[0])),
                                        lib.tensor(c[1].is_floating_point())],
     (np.zeros(2), np.zeros(2, np.int64))),
    ("is_signed", lambda lib, c: [lib.tensor(lib.is_signed(a)) for a in c], (np.zeros(1), np.zeros(1, np.uint8),
                                                                      np.zeros(1, bool), np.zeros(1, np.int32))),
    ("is_same_size", lambda lib, c: [lib.tensor(lib.is_same_size(c[0], c[1])), lib.tensor(c[0].is_same_size(c[0]))],
     (np.zeros((2, 3)), np.zeros((3, 2)))),
    ("is_nonzero", lambda lib, c: [lib.tensor(lib.is_nonzero(a)) for a in c],
     (np.array([0.0]), np.array(2), np.array([[True]]))),
    ("is_complex", lambda lib, c: lib.tensor(lib.is_complex(c[0])), (np.zeros(2),)),
]


@pytest.mark.parametrize("name, fn, consts", NONDIFF, ids=[c[0] for c in NONDIFF])
def test_matches_pytorch_without_gradient(name, fn, consts):
    ours = _values(fn(mg, [mg.tensor(c) for c in consts]))
    theirs = _values(fn(torch, [torch.tensor(c) for c in consts]))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert tuple(a.shape) == tuple(b.shape)
        assert a.numpy().dtype == b.numpy().dtype, name
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_order_statistic_indices_on_ties_and_nan_match_pytorch():
    """Which index median/nanmedian/kthvalue/mode report (and so where the gradient goes) on many rows of ties and
    NaNs, short and long (mode's sort changes algorithm past 16 elements)."""
    rng = np.random.default_rng(3)
    for length in (7, 40, 300):
        x = rng.integers(0, 4, (60, length)).astype(np.float64)
        x[rng.random(x.shape) < 0.1] = np.nan
        x[0] = np.nan  # an all-NaN row
        ours, theirs = mg.tensor(x), torch.tensor(x)
        for name, args in [("median", (1,)), ("nanmedian", (1,)), ("kthvalue", (3, 1)), ("mode", (1,))]:
            a, b = getattr(ours, name)(*args), getattr(theirs, name)(*args)
            np.testing.assert_array_equal(a.values.numpy(), b.values.numpy())
            np.testing.assert_array_equal(a.indices.numpy(), b.indices.numpy(), err_msg=f"{name}, length {length}")


# -- metadata --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda lib: lib.zeros(2, 3, 4), lambda lib: lib.zeros(2, 3, 4).transpose(0, 2),
                                  lambda lib: lib.zeros(5, 6)[1:4, ::2], lambda lib: lib.zeros(3, 1).expand(3, 4),
                                  lambda lib: lib.zeros(()), lambda lib: lib.zeros(0, 3),
                                  lambda lib: lib.zeros(4, 1, 2)[:, :, :1]],
                         ids=["contiguous", "transposed", "sliced", "expanded", "scalar", "empty", "unit"])
def test_metadata_matches_pytorch(make):
    ours, theirs = make(mg), make(torch)
    assert ours.is_contiguous() == theirs.is_contiguous()
    assert ours.stride() == theirs.stride()
    for d in range(ours.ndim):
        assert ours.stride(d) == theirs.stride(d) == ours.stride(d - ours.ndim)
    assert ours.element_size() == theirs.element_size() == ours.itemsize == theirs.itemsize
    assert ours.nbytes == theirs.nbytes
    assert ours.nelement() == theirs.nelement()
    assert ours.ndimension() == theirs.ndimension()
    assert ours.is_cpu and theirs.is_cpu
    assert ours.get_device() == theirs.get_device() == mg.get_device(ours) == -1


def test_metadata_dtypes():
    for dtype, size in [("float32", 4), ("float64", 8), ("int64", 8), ("int32", 4), ("uint8", 1), ("bool", 1)]:
        t = mg.zeros(3, dtype=dtype)
        assert t.element_size() == size and t.nbytes == 3 * size
    assert mg.zeros(2).is_floating_point() and not mg.zeros(2, dtype="int64").is_floating_point()
    assert not mg.zeros(2).is_complex() and not mg.is_complex(mg.zeros(2))
    with pytest.raises(IndexError, match="stride"):
        mg.zeros(2, 3).stride(2)


def test_is_nonzero_errors():
    with pytest.raises(RuntimeError, match="no values"):
        mg.is_nonzero(mg.zeros(0))
    with pytest.raises(RuntimeError, match="more than one value"):
        mg.zeros(2).is_nonzero()


# -- in place -------------------------------------------------------------------------------------------------
INPLACE = [
    ("index_add_", lambda t, s, lib: t.index_add_(1, lib.tensor(IDX), s, alpha=-2), (3, 3)),
    ("index_copy_", lambda t, s, lib: t.index_copy_(1, lib.tensor(UIDX), s), (3, 2)),
    ("index_fill_", lambda t, s, lib: t.index_fill_(1, lib.tensor(IDX), s.sum()), (2,)),
    ("index_put_", lambda t, s, lib: t.index_put_((lib.tensor([1, 1]), lib.tensor([0, 0])), s, accumulate=True), (2,)),
    ("index_put_fn", lambda t, s, lib: lib.index_put_(t, (lib.tensor([1, 2]),), s), (2, 4)),
    ("masked_scatter_", lambda t, s, lib: t.masked_scatter_(lib.tensor(A34 > 0), s), (12,)),
    ("put_", lambda t, s, lib: t.put_(lib.tensor([0, 7, 7]), s, accumulate=True), (3,)),
    ("fill_diagonal_", lambda t, s, lib: t.fill_diagonal_(2.5), (1,)),
    ("renorm_", lambda t, s, lib: t.renorm_(2, 1, 0.5), (1,)),
]


@pytest.mark.parametrize("name, fn, src_shape", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_matches_pytorch(name, fn, src_shape):
    """The in-place variants change a non-leaf in the graph as PyTorch's do: same values, same gradients of
    the tensor before the change and of the source."""
    src = np.random.default_rng(5).standard_normal(src_shape)
    g = np.random.default_rng(6).standard_normal((3, 4))
    results = []
    for lib in (mg, torch):
        x, s = lib.tensor(A34.copy(), requires_grad=True), lib.tensor(src.copy(), requires_grad=True)
        y = x * 1.0
        out = fn(y, s, lib)
        assert out is y
        if lib is mg:
            grads = mg.grad(y, [x, s], mg.tensor(g), allow_unused=True)
        else:
            grads = torch.autograd.grad(y, [x, s], torch.tensor(g), allow_unused=True)
        results.append([y.detach().numpy()] + [None if v is None else v.numpy() for v in grads])
    for a, b in zip(*results):
        if b is None:
            assert a is None or not np.any(a)
        else:
            np.testing.assert_allclose(a, b, **TIGHT)


def test_inplace_refuses_a_leaf_and_a_saved_tensor():
    leaf = mg.tensor(A34.copy(), requires_grad=True)
    with pytest.raises(InplaceError):
        leaf.index_add_(0, mg.tensor([0]), mg.ones(1, 4, dtype="float64"))
    assert np.array_equal(leaf.numpy(), A34)
    with pytest.raises(InplaceError):
        leaf.fill_diagonal_(0.0)
    x = mg.tensor(A34.copy(), requires_grad=True)
    y = x * 1.0
    z = (y * y).sum()  # saves y
    y.index_fill_(0, mg.tensor([1]), 0.0)
    with pytest.raises(Exception, match="(?i)modified|version|in place|in-place"):
        z.backward()
    with mg.no_grad():
        leaf.index_fill_(0, mg.tensor([1]), 0.0)
    assert not leaf.numpy()[1].any()


def test_diagonal_is_a_view_as_in_pytorch():
    """Writes into a diagonal outside autograd reach the tensor (``cov.diagonal().add_(eps)``); while recording
    they are refused (a view changed in place), and the base's saved values stay checked."""
    for lib in (mg, torch):
        x = lib.tensor(A234.copy())
        x.diagonal(1, 2, 0).add_(100.0)
        x.diagonal().fill_(-1.0)
        if lib is mg:
            ours = x.numpy()
        else:
            np.testing.assert_array_equal(ours, x.numpy())
    y = mg.tensor(A34.copy(), requires_grad=True) * 1.0
    with pytest.raises(InplaceError):
        y.diagonal().zero_()
    leaf = mg.tensor(A34.copy(), requires_grad=True)
    assert mg.gradgradcheck(lambda a: mg.diagonal(a, -1) ** 2, (leaf,))


def test_fill_diagonal_wrap_and_cube():
    for shape, wrap in [((7, 3), True), ((7, 3), False), ((3, 5), True), ((3, 3, 3), False)]:
        ours = mg.zeros(*shape).fill_diagonal_(1.0, wrap)
        theirs = torch.zeros(*shape).fill_diagonal_(1.0, wrap)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# -- errors -----------------------------------------------------------------------------------------------
def test_errors_name_the_function_and_change_nothing():
    x = mg.tensor(A34.copy())
    cases = [
        (ShapeError, "index_add", lambda: x.index_add(0, mg.tensor([0, 1]), mg.ones(3, 4, dtype="float64"))),
        (IndexError, "index_copy", lambda: x.index_copy(1, mg.tensor([4]), mg.ones(3, 1, dtype="float64"))),
        (TypeError, "index_fill", lambda: x.index_fill(1, mg.tensor([0.5]), 1.0)),
        (ShapeError, "masked_scatter", lambda: x.masked_scatter(x > -100, mg.ones(3, dtype="float64"))),
        (IndexError, "take", lambda: mg.take(x, mg.tensor([12]))),
        (ShapeError, "put", lambda: x.put(mg.tensor([0, 1]), mg.ones(3, dtype="float64"))),
        (ValueError, "hsplit", lambda: mg.hsplit(x, 3)),
        (ShapeError, "vsplit", lambda: mg.vsplit(mg.ones(4), 2)),
        (ShapeError, "split", lambda: mg.split_with_sizes(x, [1, 1])),
        (ValueError, "rot90", lambda: mg.rot90(x, 1, [0, 0])),
        (ShapeError, "select_scatter", lambda: mg.select_scatter(x, mg.ones(3, dtype="float64"), 0, 0)),
        (ShapeError, "diagonal_scatter", lambda: mg.diagonal_scatter(x, mg.ones(4, dtype="float64"))),
        (ValueError, "diagonal", lambda: mg.diagonal(x, 0, 1, -1)),
        (ShapeError, "sum_to_size", lambda: x.sum_to_size(2, 4)),
        (ShapeError, "unflatten", lambda: x.unflatten(1, (3, -1))),
        (IndexError, "select", lambda: x.select(0, 3)),
        (ValueError, "quantile", lambda: mg.quantile(x, 1.5)),
        (TypeError, "quantile", lambda: mg.quantile(x, mg.tensor([0.5], dtype="float32"))),
        (ValueError, "quantile", lambda: mg.quantile(x, 0.5, interpolation="cubic")),
        (IndexError, "kthvalue", lambda: x.kthvalue(5, 1)),
        (ValueError, "bincount", lambda: mg.bincount(mg.tensor([-1, 2]))),
        (TypeError, "bincount", lambda: mg.bincount(mg.tensor([[1, 2]]))),
        (TypeError, "bincount", lambda: mg.bincount(mg.tensor([True, False]))),
        (ShapeError, "index_add", lambda: mg.tensor(1.0).index_add(0, mg.tensor([0, 0]), mg.tensor([1.0, 2.0]))),
        (TypeError, "histc", lambda: mg.histc(mg.tensor([1, 2]))),
        (ShapeError, "cov", lambda: mg.cov(x, fweights=mg.tensor([1, 2]))),
        (ShapeError, "inner", lambda: mg.inner(x, mg.ones(3, dtype="float64"))),
        (TypeError, "vdot", lambda: mg.vdot(mg.ones(3), mg.ones(3, dtype="float64"))),
        (ShapeError, "renorm", lambda: mg.renorm(mg.ones(3), 2, 0, 1.0)),
        (ValueError, "renorm", lambda: x.renorm(0, 0, 1.0)),
        (ShapeError, "fill_diagonal_", lambda: mg.zeros(2, 3, 3).fill_diagonal_(1.0)),
        (ShapeError, "diff", lambda: mg.diff(mg.tensor(1.0))),
        (ShapeError, "index_put", lambda: x.index_put((mg.tensor([0]),), mg.ones(3, dtype="float64"), True)),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
    assert np.array_equal(x.numpy(), A34)
    y = mg.tensor(A34.copy())
    with pytest.raises(ShapeError):
        y.index_copy_(1, mg.tensor([0]), mg.ones(3, 2, dtype="float64"))
    with pytest.raises(ShapeError):
        y.masked_scatter_(y > -100, mg.ones(2, dtype="float64"))
    assert np.array_equal(y.numpy(), A34)


def test_other_backends_agree_with_numpy(cupy_device):
    """A few composites on every available backend (the CuPy stand-in included) equal the NumPy results."""
    from minigrad.testing import available_backends

    for backend in sorted(set(available_backends()) | {cupy_device}):
        x = mg.tensor(A234.copy(), backend=backend, requires_grad=True)
        out = (mg.diagonal(x, 1, 2, 0).sum() + x.index_add(1, mg.tensor(IDX, backend=backend),
                                                            mg.ones(2, 3, 4, dtype="float64", backend=backend)).sum()
               + mg.quantile(x, 0.3, 1).sum() + x.median(2).values.sum() + mg.rot90(x).sum())
        out.backward()
        ref = mg.tensor(A234.copy(), requires_grad=True)
        ref_out = (mg.diagonal(ref, 1, 2, 0).sum() + ref.index_add(1, mg.tensor(IDX), mg.ones(2, 3, 4,
                                                                                            dtype="float64")).sum()
                   + mg.quantile(ref, 0.3, 1).sum() + ref.median(2).values.sum() + mg.rot90(ref).sum())
        ref_out.backward()
        np.testing.assert_allclose(out.numpy(), ref_out.numpy(), **TIGHT)
        np.testing.assert_allclose(x.grad.numpy(), ref.grad.numpy(), **TIGHT)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_quantile_interpolates_with_pytorchs_lerp_bit_for_bit(dtype):
    """quantile's linear interpolation is ``lerp``, which rounds as PyTorch's (one rounding of the
    multiply-add), so the quantiles are PyTorch's to the last bit."""
    rng = np.random.default_rng(17)
    a, q = rng.standard_normal((40, 13)).astype(dtype), rng.uniform(0, 1, 9).astype(dtype)
    got = mg.quantile(mg.tensor(a), mg.tensor(q), dim=1).numpy()
    expected = torch.quantile(torch.tensor(a), torch.tensor(q), dim=1).numpy()
    np.testing.assert_array_equal(got, expected)
