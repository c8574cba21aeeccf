"""Tensor-method gaps: Tensor.unfold and as_strided (views, with gradients), torch.cross's dim, dist, addr/ger,
msort, histogram, index_reduce, Tensor.where, the complex-number queries of real tensors and the in-place view
changes (squeeze_, t_, resize_, ...): PyTorch's values, gradients (random upstream gradients, float64) and errors,
float64 finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip
from _pairs import mg_tensor as _mg
from _pairs import pt_tensor as _pt

import minigrad as mg
from minigrad.errors import InplaceError, ShapeError

RNG = np.random.default_rng(13)


def _compare(fn_mg, fn_pt, arrays, *, grad=True, tol=1e-12):
    """fn on minigrad and PyTorch tensors made of ``arrays`` (floating ones require grad): equal values and, with a
    random upstream gradient, equal gradients."""
    mts = [_mg(a, grad and a.dtype.kind == "f", a.dtype.name) for a in arrays]
    pts = [_pt(a, grad and a.dtype.kind == "f", a.dtype.name) for a in arrays]
    out, expected = fn_mg(*mts), fn_pt(*pts)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    assert out.shape == tuple(expected.shape)
    if grad:
        g = RNG.standard_normal(out.shape)
        (out * _mg(g)).sum().backward()
        (expected * _pt(g)).sum().backward()
        for m, p in zip(mts, pts):
            if p.requires_grad:
                np.testing.assert_allclose(m.grad.numpy(), p.grad.numpy(), rtol=tol, atol=tol)
    return out


# -- unfold ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, dim, size, step", [
    ((8,), 0, 3, 2), ((8,), 0, 3, 1), ((8,), -1, 8, 1), ((8,), 0, 0, 1), ((2, 7, 3), 1, 2, 3), ((2, 7, 3), -3, 1, 1),
    ((3, 4), 1, 4, 5), ((), 0, 1, 1), ((), -1, 0, 2),
])
def test_unfold_matches_pytorch(shape, dim, size, step):
    x = RNG.standard_normal(shape)
    _compare(lambda t: t.unfold(dim, size, step), lambda t: t.unfold(dim, size, step), [x])


def test_unfold_is_a_view_with_double_backward():
    x = _mg(np.arange(8.0))
    u = x.unfold(0, 2, 2)
    assert u._base is x and u.stride() == (2, 1)
    with mg.no_grad():
        u[1, 0] = 100.0  # windows that do not overlap write through
        x[0] = -1.0
    assert x.tolist()[2] == 100.0 and u.tolist()[0][0] == -1.0
    a = _mg(RNG.standard_normal((3, 6)), True)
    assert mg.gradcheck(lambda t: t.unfold(1, 3, 2), [a])
    assert mg.gradgradcheck(lambda t: t.unfold(1, 3, 2) ** 2, [a])
    assert mg.gradcheck(lambda t: t.unfold(0, 2, 1).exp(), [a])


def test_unfold_errors():
    x = _mg(np.arange(8.0))
    with pytest.raises(ShapeError, match=r"unfold: maximum size for tensor at dimension 0 is 8 but size is 9"):
        x.unfold(0, 9, 1)
    with pytest.raises(ValueError, match=r"unfold: step is 0 but must be > 0"):
        x.unfold(0, 3, 0)
    with pytest.raises(ValueError, match=r"unfold: size is -1 but must be >= 0"):
        x.unfold(0, -1, 1)
    with pytest.raises(IndexError, match=r"unfold"):
        x.unfold(1, 3, 1)
    with pytest.raises(ShapeError, match=r"at dimension 0 is 1 but size is 2"):
        _mg(5.0).unfold(0, 2, 1)


# -- Tensor.where, cross, dist, addr/ger/outer, msort ------------------------------------------------------------
def test_tensor_where_matches_pytorch():
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((4,))
    cond = RNG.random((3, 4)) > 0.5
    out = _compare(lambda a, b: a.where(_mg(cond, dtype=bool), b), lambda a, b: a.where(torch.tensor(cond), b),
                   [x, y])
    assert out.shape == (3, 4)
    np.testing.assert_array_equal(_mg(x).where(_mg(cond, dtype=bool), 0.0).numpy(), np.where(cond, x, 0.0))


@pytest.mark.parametrize("shapes, dim", [(((3, 3), (3, 3)), None), (((2, 3), (2, 3)), None), (((1, 3), (3, 3)), None),
                                         (((4, 3, 2), (4, 3, 2)), 1), (((3, 5), (3, 5)), -2), (((2, 3), (2, 3)), -1)])
def test_cross_matches_pytorch(shapes, dim):
    a, b = (RNG.standard_normal(s) for s in shapes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _compare(lambda x, y: mg.cross(x, y, dim), lambda x, y: torch.cross(x, y, dim), [a, b])
        _compare(lambda x, y: x.cross(y, dim=dim), lambda x, y: x.cross(y, dim=dim), [a, b])


def test_cross_default_dim_warns_and_errors():
    a, b = _mg(RNG.standard_normal((2, 3))), _mg(RNG.standard_normal((2, 3)))
    with pytest.warns(UserWarning, match=r"torch.cross without specifying the dim arg is deprecated"):
        out = mg.cross(a, b)
    np.testing.assert_allclose(out.numpy(), np.cross(a.numpy(), b.numpy()), rtol=1e-14, atol=1e-14)
    with pytest.raises(ShapeError, match=r"cross: no dimension of size 3 in input \(shape \(2, 4\)\)"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mg.cross(_mg(np.ones((2, 4))), _mg(np.ones((2, 4))))
    with pytest.raises(ShapeError, match=r"size 3 along dim 0"):
        mg.cross(_mg(np.ones((2, 3))), _mg(np.ones((2, 3))), dim=0)
    x, y = _mg(RNG.standard_normal((4, 3)), True), _mg(RNG.standard_normal((4, 3)), True)
    assert mg.gradcheck(lambda s, t: mg.cross(s, t, dim=1), [x, y])


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, 0, float("inf"), float("-inf")])
def test_dist_matches_pytorch(p):
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4,))
    grad = p != 0  # PyTorch's backward of p=0 fails ("Expected a proper Tensor but got None"); here it is zero
    _compare(lambda x, y: mg.dist(x, y, p), lambda x, y: torch.dist(x, y, p), [a, b], grad=grad)
    _compare(lambda x, y: x.dist(y, p=p), lambda x, y: x.dist(y, p=p), [a, b], grad=grad)
    if not grad:
        x, y = _mg(a, True), _mg(b, True)
        (mg.dist(x, y, 0) * 1.5).backward()
        assert x.grad.tolist() == np.zeros((3, 4)).tolist() and y.grad.tolist() == [0.0] * 4


def test_dist_gradcheck_and_errors():
    x, y = _mg(RNG.standard_normal((2, 3)), True), _mg(RNG.standard_normal((3,)), True)
    assert mg.gradcheck(lambda s, t: mg.dist(s, t), [x, y])
    assert mg.gradcheck(lambda s, t: mg.dist(s, t, 3), [x, y])
    assert mg.gradgradcheck(lambda s, t: mg.dist(s, t), [x, y])
    with pytest.raises(TypeError, match=r"dist: input dtype should be floating point, got int64"):
        mg.dist(mg.tensor([1, 2]), mg.tensor([1, 3]))
    with pytest.raises(ShapeError):
        mg.dist(_mg([1.0, 2.0, 3.0]), _mg([1.0, 2.0]))


def test_dist_of_equal_tensors_has_pytorchs_zero_gradient():
    _compare(lambda x, y: mg.dist(x, y), lambda x, y: torch.dist(x, y), [np.array([1.0, 2.0]), np.array([1.0, 2.0])])


@pytest.mark.parametrize("in_shape, beta, alpha", [((2, 3), 1, 1), ((2, 3), 0.5, -2.0), ((3,), 2, 1), ((2, 1), 1, 3),
                                                  ((), -1.5, 0.25), ((2, 3), 0, 2.0)])
def test_addr_matches_pytorch(in_shape, beta, alpha):
    m, v1, v2 = RNG.standard_normal(in_shape), RNG.standard_normal(2), RNG.standard_normal(3)
    _compare(lambda a, b, c: mg.addr(a, b, c, beta=beta, alpha=alpha),
             lambda a, b, c: torch.addr(a, b, c, beta=beta, alpha=alpha), [m, v1, v2])
    _compare(lambda a, b, c: a.addr(b, c, beta=beta, alpha=alpha),
             lambda a, b, c: a.addr(b, c, beta=beta, alpha=alpha), [m, v1, v2])


def test_addr_beta_zero_ignores_nan_integers_and_inplace():
    nan = np.full((2, 2), np.nan)
    out = mg.addr(_mg(nan), _mg([1.0, 2.0]), _mg([3.0, 4.0]), beta=0)
    np.testing.assert_array_equal(out.numpy(), [[3.0, 4.0], [6.0, 8.0]])
    ints = mg.addr(mg.tensor(np.ones((2, 2), np.int64)), mg.tensor([1, 2]), mg.tensor([3, 4]), beta=2, alpha=3)
    assert ints.dtype == np.int64 and ints.tolist() == [[11, 14], [20, 26]]
    with pytest.raises(TypeError, match=r"addr: for integral input tensors, beta and alpha must not be floating"):
        mg.addr(mg.tensor(np.ones((2, 2), np.int64)), mg.tensor([1, 2]), mg.tensor([3, 4]), beta=2.5)
    with pytest.raises(ShapeError, match=r"addr: expected 1-D argument vec1, but got 2-D"):
        mg.addr(_mg(np.ones((2, 2))), _mg(np.ones((2, 1))), _mg(np.ones(2)))
    with pytest.raises(ShapeError, match=r"addr: input of shape \(3,\) does not broadcast to the result's shape"):
        mg.addr(_mg(np.ones(3)), _mg(np.ones(2)), _mg(np.ones(2)))
    base = _mg(np.ones((2, 2)))
    assert base.addr_(_mg([1.0, 2.0]), _mg([3.0, 4.0]), alpha=2) is base
    assert base.tolist() == [[7.0, 9.0], [13.0, 17.0]]
    m, a, b = (_mg(RNG.standard_normal(s), True) for s in ((2, 3), (2,), (3,)))
    assert mg.gradcheck(lambda x, y, z: mg.addr(x, y, z, beta=0.5, alpha=2.0), [m, a, b])
    assert mg.gradgradcheck(lambda x, y, z: mg.addr(x, y, z, beta=0.5, alpha=2.0), [m, a, b])


def test_ger_and_outer_match_pytorch():
    a, b = RNG.standard_normal(3), RNG.standard_normal(4)
    _compare(mg.ger, torch.ger, [a, b])
    _compare(lambda x, y: x.ger(y), lambda x, y: x.ger(y), [a, b])
    _compare(mg.outer, torch.outer, [a, b])
    _compare(lambda x, y: x.outer(y), lambda x, y: x.outer(y), [a, b])


def test_msort_and_tensor_where_gradcheck():
    x = _mg(RNG.permutation(12).astype(np.float64).reshape(4, 3), True)
    assert mg.gradcheck(lambda t: mg.msort(t) ** 2, [x])
    np.testing.assert_array_equal(mg.msort(x).numpy(), np.sort(x.numpy(), 0))
    y = _mg(RNG.standard_normal(3), True)
    cond = mg.tensor(np.array([[True, False, True]] * 4))
    assert mg.gradcheck(lambda a, b: a.where(cond, b), [x, y])


@pytest.mark.parametrize("shape", [(5,), (4, 3), (3, 2, 2), ()])
def test_msort_matches_pytorch(shape):
    x = RNG.permutation(max(1, int(np.prod(shape)))).astype(np.float64).reshape(shape)
    _compare(mg.msort, torch.msort, [x])
    _compare(lambda t: t.msort(), lambda t: t.msort(), [x])


# -- histogram --------------------------------------------------------------------------------------------------
_HIST_VALUES = np.array([1.0, 2.0, 1.0, 0.3, -2.5, 7.25, 3.0, 3.0, 0.1, 2.2, -0.7])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", [{"bins": 4}, {"bins": 7, "range": (-1.0, 3.0)}, {"bins": 3, "density": True},
                                    {"bins": 5, "weight": True}, {"bins": 6, "weight": True, "density": True},
                                    {"bins": [-3.0, 0.0, 0.5, 3.0, 8.0]}, {"bins": [0.0, 1.0, 2.0], "weight": True},
                                    {"bins": 1}, {"bins": 13, "range": (0.1, 0.1)}])
def test_histogram_matches_pytorch(dtype, kwargs):
    x = _HIST_VALUES.astype(dtype).reshape(1, -1)
    w = RNG.random(x.shape).astype(dtype)
    mk, pk = dict(kwargs), dict(kwargs)
    if isinstance(kwargs["bins"], list):
        mk["bins"], pk["bins"] = _mg(kwargs["bins"], dtype=dtype), _pt(kwargs["bins"], dtype=dtype)
    if kwargs.get("weight"):
        mk["weight"], pk["weight"] = _mg(w, dtype=dtype), _pt(w, dtype=dtype)
    got, expected = mg.histogram(_mg(x, dtype=dtype), **mk), torch.histogram(_pt(x, dtype=dtype), **pk)
    hist, edges = got
    assert got.hist is hist and got.bin_edges is edges
    assert hist.dtype == np.dtype(dtype) and edges.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(edges.numpy(), expected.bin_edges.numpy())  # PyTorch's linspace, bit for bit
    np.testing.assert_allclose(hist.numpy(), expected.hist.numpy(), rtol=1e-6 if dtype == "float32" else 1e-14)
    method = _mg(x, dtype=dtype).histogram(**mk)
    np.testing.assert_array_equal(method.hist.numpy(), hist.numpy())


def test_histogram_edges_empty_and_no_gradient():
    out = mg.histogram(_mg([0.0, 1.0, 2.0, 3.0]), bins=3, range=(0.0, 3.0))  # the last bin holds its right edge
    assert out.hist.tolist() == [1.0, 1.0, 2.0] and out.bin_edges.tolist() == [0.0, 1.0, 2.0, 3.0]
    empty = mg.histogram(_mg(np.zeros(0)), bins=3)
    assert empty.hist.tolist() == [0.0] * 3
    assert empty.bin_edges.tolist() == [0.0, 1 / 3, 1 - 1 / 3, 1.0]  # PyTorch's linspace: the second half from the end
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nan = mg.histogram(_mg(np.zeros(0)), bins=2, density=True)  # 0 / 0, quietly
    assert np.isnan(nan.hist.numpy()).all()
    same = mg.histogram(_mg([1.0, 1.0]), bins=2)
    assert same.hist.tolist() == [0.0, 2.0] and same.bin_edges.tolist() == [0.5, 1.0, 1.5]
    x = _mg([1.0, 2.0], True)
    assert not mg.histogram(x, bins=2).hist.requires_grad


def test_histogram_errors():
    x = _mg([1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match=r"histogram: bins must be > 0, but got 0"):
        mg.histogram(x, bins=0)
    with pytest.raises(ValueError, match=r"histogram: min should not exceed max, but got min 2.0 max 1.0"):
        mg.histogram(x, bins=3, range=(2.0, 1.0))
    with pytest.raises(ValueError, match=r"histogram: range \[1.0, inf\] is not finite"):
        mg.histogram(_mg([1.0, np.inf]), bins=2)
    with pytest.raises(TypeError, match=r"histogram: input must be floating point, got int64"):
        mg.histogram(mg.tensor([1, 2]), bins=2)
    with pytest.raises(TypeError, match=r"histogram: input and bins tensors should have the same dtype"):
        mg.histogram(x, bins=_mg([0.0, 1.0], dtype="float32"))
    with pytest.raises(ShapeError, match=r"histogram: bins tensor should have one dimension, got shape \(1, 2\)"):
        mg.histogram(x, bins=_mg([[0.0, 1.0]]))
    with pytest.raises(ShapeError, match=r"histogram: weight of shape \(2,\) must have as many elements"):
        mg.histogram(x, bins=2, weight=_mg([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"histogram: input and weight should have the same dtype"):
        mg.histogram(x, bins=2, weight=_mg([1.0, 2.0, 3.0], dtype="float32"))


# -- index_reduce -----------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_reduce_matches_pytorch(reduce, include_self, dim):
    x = RNG.integers(-2, 3, (4, 5)).astype(np.float64)  # small integers: ties for amax/amin, zeros for prod
    index = np.array([0, 2, 0, 3, 2, 0])[: 6 if dim == 0 else 5] % x.shape[dim]
    src_shape = list(x.shape)
    src_shape[dim] = len(index)
    src = RNG.integers(-2, 3, src_shape).astype(np.float64)
    _compare(lambda a, s: a.index_reduce(dim, _mg(index, dtype="int64"), s, reduce, include_self=include_self),
             lambda a, s: a.index_reduce(dim, torch.tensor(index), s, reduce, include_self=include_self), [x, src])


def test_index_reduce_inplace_integers_gradcheck_and_errors():
    x = mg.tensor([5, 6, 7])
    out = mg.index_reduce(x, 0, mg.tensor([0, 0, 2]), mg.tensor([2, 3, 4]), "mean")
    assert out.dtype == np.int64 and out.tolist() == [3, 6, 5]  # integer mean rounds down, as PyTorch's
    y = _mg(np.ones(3))
    assert y.index_reduce_(0, mg.tensor([0, 0, 2]), _mg([2.0, 3.0, 4.0]), "prod") is y
    assert y.tolist() == [6.0, 1.0, 4.0]
    a, s = _mg(RNG.standard_normal((3, 4)), True), _mg(RNG.standard_normal((3, 3)), True)
    idx = mg.tensor([1, 3, 1])
    for reduce in ("prod", "mean", "amax"):
        assert mg.gradcheck(lambda p, q, r=reduce: mg.index_reduce(p, 1, idx, q, r), [a, s])
    with pytest.raises(ValueError, match=r"index_reduce: reduce must be one of prod, mean, amax, amin, got 'sum'"):
        mg.index_reduce(y, 0, mg.tensor([0]), _mg([1.0]), "sum")
    with pytest.raises(IndexError):
        mg.index_reduce(y, 0, mg.tensor([0, 0, 5]), _mg([1.0, 2.0, 3.0]), "mean")
    with pytest.raises(ShapeError, match=r"index_reduce: source of shape \(3,\) must have shape \(2,\)"):
        mg.index_reduce(y, 0, mg.tensor([0, 0]), _mg([1.0, 2.0, 3.0]), "mean")
    with pytest.raises(TypeError, match=r"index_reduce: index must be an integer tensor"):
        mg.index_reduce(y, 0, _mg([0.0]), _mg([1.0]), "mean")
    before = y.tolist()
    with pytest.raises(ValueError):
        y.index_reduce_(0, mg.tensor([0]), _mg([1.0]), "sum")
    assert y.tolist() == before


# -- as_strided, storage_offset, data_ptr, narrow_copy ------------------------------------------------------------
@pytest.mark.parametrize("size, stride, offset", [((2, 2), (1, 2), 1), ((3, 2), (2, 1), None), ((2, 3), (1, 1), 0),
                                                  ((4,), (0,), 2), ((2, 2, 2), (4, 1, 2), 3), ((0, 3), (1, 1), 0)])
def test_as_strided_matches_pytorch(size, stride, offset):
    x = RNG.standard_normal(12)
    _compare(lambda t: mg.as_strided(t, size, stride, offset), lambda t: torch.as_strided(t, size, stride, offset),
             [x])
    _compare(lambda t: t.reshape(3, 4).as_strided(size, stride, offset),
             lambda t: t.reshape(3, 4).as_strided(size, stride, offset), [x])


def test_as_strided_of_a_view_uses_its_storage():
    x = RNG.standard_normal((3, 4))
    _compare(lambda t: (t * 1.0)[1:].as_strided((2,), (1,)), lambda t: (t * 1.0)[1:].as_strided((2,), (1,)), [x])
    _compare(lambda t: (t * 1.0)[1:].as_strided((2, 2), (1, 3), 0),
             lambda t: (t * 1.0)[1:].as_strided((2, 2), (1, 3), 0), [x])
    _compare(lambda t: (t * 1.0)[:, 1:3].as_strided((3,), (2,), 5),
             lambda t: (t * 1.0)[:, 1:3].as_strided((3,), (2,), 5), [x])
    a = _mg(x, True)
    assert mg.gradcheck(lambda t: t.as_strided((2, 3), (3, 1), 2) ** 2, [a])
    assert mg.gradgradcheck(lambda t: (t * 1.0)[1:].as_strided((2, 2), (2, 2)) ** 2, [a])


def test_as_strided_is_a_view_and_errors():
    x = _mg(np.arange(6.0))
    v = x.as_strided((2, 2), (1, 2), 1)
    assert v._base is x
    with mg.no_grad():
        x[1] = 50.0
    assert v.tolist()[0][0] == 50.0
    with pytest.raises(ShapeError, match=r"as_strided: sizes \[2, 2\], strides \[3, 3\] and storage offset 1 need a "
                                         r"storage of 8 elements, but the storage has 6"):
        mg.as_strided(x, (2, 2), (3, 3), 1)
    with pytest.raises(ValueError, match=r"as_strided: negative strides are not supported"):
        mg.as_strided(x, (2, 2), (-1, 2))
    with pytest.raises(ValueError, match=r"as_strided: mismatch in length of strides and shape"):
        mg.as_strided(x, (2,), (1, 2))
    expanded = _mg([1.0, 2.0], True).expand(3, 2)
    with pytest.raises(ValueError, match=r"as_strided: the input's elements overlap in memory"):
        expanded.as_strided((2,), (1,))
    with pytest.raises(ValueError, match=r"as_strided: the tensor of shape \(2, 3\) and strides \(1, 2\) lies in no "
                                         r"contiguous memory"):
        mg.tensor(np.ones((3, 2)).T).as_strided((2,), (1,))


def test_storage_offset_and_data_ptr_match_pytorch():
    x, t = _mg(np.arange(12.0).reshape(3, 4)), torch.arange(12.0, dtype=torch.float64).reshape(3, 4)
    for view in (lambda a: a, lambda a: a[1:], lambda a: a[:, 2:], lambda a: a[2, 1:].unfold(0, 2, 1),
                 lambda a: a.t()[1], lambda a: a.reshape(12)[5:]):
        assert view(x).storage_offset() == view(t).storage_offset()
        assert view(x).data_ptr() - x.data_ptr() == view(t).data_ptr() - t.data_ptr()
    assert x.data_ptr() == x[:2].data_ptr() == x.view(12).data_ptr() == x.data_ptr()
    assert x.clone().data_ptr() != x.data_ptr()


def test_narrow_copy_matches_pytorch():
    x = RNG.standard_normal((4, 5))
    out = _compare(lambda t: mg.narrow_copy(t, 1, 1, 3), lambda t: torch.narrow_copy(t, 1, 1, 3), [x])
    assert out._base is None
    _compare(lambda t: t.narrow_copy(0, 2, 2), lambda t: t.narrow_copy(0, 2, 2), [x])


# -- complex-number queries of real tensors -----------------------------------------------------------------------
def test_real_tensor_complex_queries_match_pytorch():
    x = _mg(RNG.standard_normal((2, 3)))
    for f in (lambda a: a.conj(), lambda a: a.resolve_conj(), lambda a: a.resolve_neg(), lambda a: a.real,
              lambda a: mg.conj(a), lambda a: mg.real(a), lambda a: mg.resolve_conj(a), lambda a: mg.resolve_neg(a)):
        assert f(x) is x
    assert not x.is_conj() and not x.is_neg() and not mg.is_conj(x)
    assert mg.isreal(x).dtype == np.bool_ and x.isreal().tolist() == [[True] * 3] * 2
    with pytest.raises(TypeError, match=r"imag is not implemented for tensors with non-complex dtypes"):
        x.imag  # noqa: B018 - the property raises
    with pytest.raises(TypeError, match=r"imag is not implemented"):
        mg.imag(x)
    b = RNG.standard_normal((2, 3, 4))
    _compare(lambda a: a.mH, lambda a: a.mH, [b])
    _compare(lambda a: a.adjoint(), lambda a: a.adjoint(), [b])
    _compare(lambda a: mg.adjoint(a), lambda a: torch.adjoint(a), [b])
    _compare(lambda a: a.H, lambda a: a.H, [b[0]])
    with pytest.raises(ShapeError, match=r"tensor.H is only supported on matrices \(2-D tensors\), got a 3-D"):
        _mg(b).H  # noqa: B018
    with pytest.raises(ShapeError, match=r"tensor.mH is only supported on matrices or batches of matrices"):
        _mg([1.0]).mH  # noqa: B018
    with pytest.raises(ShapeError, match=r"adjoint: only supported on matrices"):
        _mg([1.0]).adjoint()


# -- in-place view changes ------------------------------------------------------------------------------------------
_INPLACE_VIEWS = [("squeeze_", (), (2, 1, 3, 1)), ("squeeze_", (1,), (2, 1, 3)), ("squeeze_", (0,), (2, 3)),
                  ("unsqueeze_", (1,), (2, 3)), ("unsqueeze_", (-1,), (2, 3)), ("transpose_", (0, 2), (2, 3, 4)),
                  ("swapaxes_", (0, -1), (2, 3)), ("swapdims_", (1, 0), (2, 3)), ("t_", (), (2, 3)), ("t_", (), (3,))]


@pytest.mark.parametrize("name, args, shape", _INPLACE_VIEWS)
def test_inplace_views_match_pytorch(name, args, shape):
    x = RNG.standard_normal(shape)

    def through(t):  # on a non-leaf: recorded as the view op
        y = t * 2.0
        assert getattr(y, name)(*args) is y
        return y

    _compare(through, through, [x])
    m, p = _mg(x), _pt(x)
    getattr(m, name)(*args), getattr(p, name)(*args)
    assert m.shape == tuple(p.shape) and m.stride() == p.stride()
    np.testing.assert_array_equal(m.numpy(), p.numpy())
    assert m._version == p._version == 1


def test_inplace_views_autograd_rules():
    leaf = _mg(np.ones((2, 1)), True)
    with pytest.raises(InplaceError, match=r"t_: a leaf tensor that requires grad cannot be changed in place"):
        leaf.t_()
    assert leaf.shape == (2, 1)
    with mg.no_grad():
        leaf.squeeze_()  # allowed outside grad mode, as PyTorch
    assert leaf.shape == (2,) and leaf.is_leaf
    a = _mg([1.0, 2.0, 3.0], True)
    d = a * 1.0
    e = d * d  # saves d
    d.unsqueeze_(0)
    with pytest.raises(Exception, match=r"modified|version|in place|in-place"):
        e.sum().backward()
    f = _mg(np.ones((2, 3)))
    with pytest.raises(IndexError):
        f.transpose_(0, 5)
    with pytest.raises(ShapeError, match=r"t_: expects a tensor with <= 2 dimensions, but self is 3-D"):
        _mg(np.ones((2, 3, 4))).t_()
    assert f.shape == (2, 3) and f._version == 0
    v = f.view(3, 2)
    f.t_()
    assert f.shape == (3, 2) and v._version == f._version == 1


@pytest.mark.parametrize("sizes", [(2, 3), (7,), (2, 4), (0,), (3, 1)])
def test_resize_matches_pytorch(sizes):
    x, t = _mg(np.arange(6.0)), torch.arange(6.0, dtype=torch.float64)
    assert x.resize_(*sizes) is x
    t.resize_(*sizes)
    n = min(6, int(np.prod(sizes)))  # elements past the old memory are uninitialized in PyTorch
    assert x.shape == tuple(t.shape)
    np.testing.assert_array_equal(x.numpy().reshape(-1)[:n], t.numpy().reshape(-1)[:n])
    assert x._version == t._version


def test_resize_rules():
    x = _mg(np.arange(12.0)).reshape(3, 4)[1:]  # a view: resize_ keeps its storage and offset
    x.resize_(5)
    assert x.tolist() == [4.0, 5.0, 6.0, 7.0, 8.0]
    y = _mg(np.arange(4.0))
    y.resize_as_(_mg(np.zeros((2, 2))))
    assert y.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    g = _mg([1.0, 2.0], True)
    with pytest.raises(InplaceError, match=r"resize_: cannot resize a tensor that requires grad"):
        g.resize_(3)
    with mg.no_grad(), pytest.raises(InplaceError, match=r"cannot resize"):
        g.resize_(3)
    with pytest.raises(ValueError, match=r"resize_: sizes must be non-negative"):
        y.resize_(-1)
    assert y.shape == (2, 2) and g.shape == (2,)


# -- new_empty_strided, register_post_accumulate_grad_hook ------------------------------------------------------------
@pytest.mark.parametrize("size, stride", [((2, 3), (1, 2)), ((2, 3), (3, 1)), ((4,), (2,)), ((0, 2), (2, 1)), ((), ())])
def test_new_empty_strided_matches_pytorch(size, stride):
    x, t = _mg([1.0], dtype="float32"), torch.tensor([1.0])
    got, expected = x.new_empty_strided(size, stride), t.new_empty_strided(size, stride)
    assert got.shape == tuple(expected.shape) and got.stride() == expected.stride()
    assert got.dtype == np.float32 and not got.requires_grad
    other = x.new_empty_strided(size, stride, dtype="float64", requires_grad=True)
    assert other.dtype == np.float64 and other.requires_grad and other.is_leaf
    with pytest.raises(ValueError, match=r"new_empty_strided: mismatch in length of strides and shape"):
        x.new_empty_strided((2,), (1, 1))


def test_post_accumulate_grad_hook_matches_pytorch():
    seen = {"mg": [], "pt": []}
    x, t = _mg([1.0, 2.0], True), _pt([1.0, 2.0], True)
    handle = x.register_post_accumulate_grad_hook(lambda a: seen["mg"].append(a.grad.tolist()))
    t.register_post_accumulate_grad_hook(lambda a: seen["pt"].append(a.grad.tolist()))
    g = RNG.standard_normal(2)
    for a, wrap in ((x, _mg), (t, _pt)):
        (a * a * wrap(g)).sum().backward()
        (a * 3.0).sum().backward()
    assert seen["mg"] == seen["pt"] and len(seen["mg"]) == 2  # called after each accumulation, with the new .grad
    handle.remove()
    (x * 3.0).sum().backward()
    assert len(seen["mg"]) == 2


def test_post_accumulate_grad_hook_rules():
    y = _mg([1.0, 2.0], True)
    calls = []
    y.register_post_accumulate_grad_hook(lambda a: calls.append(a.grad.tolist()))
    mg.autograd.grad((y * 2.0).sum(), y)  # not accumulated into .grad: no call, as PyTorch
    assert calls == [] and y.grad is None
    (y * 2.0).sum().backward()
    assert calls == [[2.0, 2.0]]
    with pytest.raises(RuntimeError, match=r"post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (y * 2.0).register_post_accumulate_grad_hook(lambda a: None)
    with pytest.raises(RuntimeError, match=r"cannot register a hook on a tensor that doesn't require gradient"):
        _mg([1.0]).register_post_accumulate_grad_hook(lambda a: None)
    y.register_post_accumulate_grad_hook(lambda a: 5)
    with pytest.raises(TypeError, match=r"a post accumulate grad hook must return None"):
        (y * 2.0).sum().backward()
