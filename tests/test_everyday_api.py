"""Everyday PyTorch names a ported script uses: ``mm``, ``bmm``, ``t``, ``flip``, ``isclose``/``allclose``,
``view_as``/``expand_as``/``type_as``/``int``, ``is_tensor``, ``numel``, ``as_tensor``, ``get_default_dtype``
and ``inference_mode`` (docs/nn.md, "Tensor ops with PyTorch's spelling"). Each is compared with NumPy, and
with PyTorch where it is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg

BACKENDS = [b for b in mg.testing.available_backends() if b != "cupy"]


def _rand(rng, *shape):
    return rng.standard_normal(shape)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mm_and_bmm_are_matmul_with_pytorchs_shape_rules(backend):
    rng = np.random.default_rng(0)
    a, b = _rand(rng, 3, 4), _rand(rng, 4, 5)
    x, y = _rand(rng, 2, 3, 4), _rand(rng, 2, 4, 5)
    with mg.backend(backend):
        np.testing.assert_allclose(mg.mm(mg.tensor(a), mg.tensor(b)).numpy(), a @ b, rtol=1e-5)
        np.testing.assert_allclose(mg.tensor(x).bmm(mg.tensor(y)).numpy(), x @ y, rtol=1e-5)
        with pytest.raises(mg.ShapeError, match=r"mm: expected two 2-D tensors, got shape \(2, 3, 4\)"):
            mg.mm(mg.tensor(x), mg.tensor(b))
        with pytest.raises(mg.ShapeError, match="bmm: expected two 3-D tensors with one batch size"):
            mg.bmm(mg.tensor(x), mg.tensor(y[:1]))  # matmul would broadcast the batch of 1
    assert mg.gradcheck(mg.mm, (mg.tensor(a, dtype="float64", requires_grad=True),
                                mg.tensor(b, dtype="float64", requires_grad=True)))
    assert mg.gradcheck(mg.bmm, (mg.tensor(x, dtype="float64", requires_grad=True),
                                 mg.tensor(y, dtype="float64", requires_grad=True)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_flip_reverses_and_sends_the_gradient_back_flipped(backend):
    rng = np.random.default_rng(1)
    a, g = _rand(rng, 2, 3, 4), _rand(rng, 2, 3, 4)
    x = mg.tensor(a, dtype="float64", requires_grad=True, backend=backend)
    for dims in (0, (1,), (0, 2), [-1, 0, 1]):
        out = x.flip(dims)
        np.testing.assert_array_equal(out.numpy(), np.flip(a, dims))
        assert not np.shares_memory(out.numpy(), x.numpy())  # a copy, as PyTorch's
        x.grad = None
        out.backward(mg.tensor(g, dtype="float64", backend=backend))
        np.testing.assert_array_equal(x.grad.numpy(), np.flip(g, dims))
    assert mg.gradgradcheck(lambda t: mg.flip(t, (0, 2)) ** 2, (x,))
    with pytest.raises(ValueError, match="flip: dims .* name a dimension twice"):
        x.flip((1, -2))
    with pytest.raises(IndexError, match="flip: dim 3 is out of range"):
        x.flip(3)


def test_t_transposes_two_dimensions_and_leaves_fewer_alone():
    m = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(m.t().numpy(), np.arange(6.0).reshape(2, 3).T)
    v = mg.arange(3.0)
    assert v.t()._base is v and mg.t(mg.tensor(2.0)).shape == ()  # a new view with nothing swapped, as PyTorch's
    (m.t() * mg.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), np.arange(6.0).reshape(3, 2).T)
    with pytest.raises(mg.ShapeError, match=r"t: expects a tensor of at most 2 dimensions, got shape \(1, 2, 3\)"):
        mg.zeros(1, 2, 3).t()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("equal_nan", [False, True])
def test_isclose_matches_numpys_test_on_special_values(backend, equal_nan):
    inf, nan = np.inf, np.nan
    a = np.array([1.0, 1.0 + 1e-6, 1.0 + 1e-3, inf, inf, -inf, nan, nan, 0.0, 1e-9], np.float32)
    b = np.array([1.0, 1.0, 1.0, inf, -inf, -inf, nan, 1.0, 1e-9, 0.0], np.float32)
    x, y = mg.tensor(a, backend=backend), mg.tensor(b, backend=backend)
    got = mg.isclose(x, y, equal_nan=equal_nan)
    assert got.dtype == mg.bool and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), np.isclose(a, b, equal_nan=equal_nan))
    np.testing.assert_array_equal(x.isclose(1.0, rtol=0.0, atol=1e-5).numpy(), np.isclose(a, 1.0, rtol=0.0, atol=1e-5))
    assert mg.allclose(x[:2], y[:2]) is True and mg.allclose(x[:3], y[:3]) is False
    assert mg.allclose(x[6:7], y[6:7], equal_nan=equal_nan) is equal_nan


def test_isclose_broadcasts_and_names_its_errors():
    x = mg.zeros(3, 1)
    assert mg.isclose(x, mg.zeros(4)).shape == (3, 4)
    assert mg.allclose(mg.arange(3), mg.tensor([0.0, 1.0, 2.0]))  # int64 against float32
    with pytest.raises(mg.ShapeError, match=r"isclose: shapes \(3, 1\) and \(2, 3\) do not broadcast"):
        mg.isclose(x, mg.zeros(2, 3))
    with pytest.raises(ValueError, match="isclose: rtol and atol must be >= 0"):
        mg.isclose(x, x, atol=-1.0)
    with pytest.raises(TypeError, match="isclose: expected a tensor"):
        mg.isclose(1.0, 2.0)


def test_like_methods_and_small_functions():
    x = mg.randn(2, 6, dtype="float64")
    assert x.view_as(mg.zeros(3, 4)).shape == (3, 4)
    assert mg.ones(1, 6).expand_as(x).shape == (2, 6)
    assert mg.arange(3).type_as(x).dtype == mg.float64
    assert x.int().dtype == mg.int32 and x.long().dtype == mg.int64
    assert mg.is_tensor(x) and not mg.is_tensor(x.numpy()) and mg.numel(x) == 12
    assert mg.get_default_dtype() == mg.float32 == mg.zeros(1).dtype
    assert mg.as_tensor(x) is x and mg.as_tensor(x, dtype="float64", device="cpu") is x
    assert mg.as_tensor(x, dtype="float32").dtype == mg.float32
    made = mg.as_tensor([1, 2], device="cpu")
    assert made.dtype == mg.int64 and made.tolist() == [1, 2]


def test_inference_mode_is_no_grad_as_a_block_and_a_decorator():
    w = mg.ones(2, requires_grad=True)
    with mg.inference_mode():
        assert not (w * 2).requires_grad
    with mg.inference_mode(False):
        assert (w * 2).requires_grad

    @mg.inference_mode()
    def predict(x):
        return x * w

    assert not predict(mg.ones(2)).requires_grad and mg.is_grad_enabled()


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a = _rand(rng, 3, 4)
    for make in (lambda lib, t: lib.flip(t, (0, 1)), lambda lib, t: t.t(), lambda lib, t: lib.mm(t, t.t())):
        tx = torch.tensor(a, requires_grad=True)
        mx = mg.tensor(a, dtype="float64", requires_grad=True)
        to, mo = make(torch, tx), make(mg, mx)
        np.testing.assert_allclose(mo.numpy(), to.detach().numpy(), rtol=1e-12)
        up = rng.standard_normal(tuple(to.shape))
        to.backward(torch.tensor(up))
        mo.backward(mg.tensor(up, dtype="float64"))
        np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    special = np.array([1.0, np.inf, -np.inf, np.nan, 1.0 + 1e-6, 0.0])
    other = np.array([1.0, np.inf, np.inf, np.nan, 1.0, 1e-9])
    for equal_nan in (False, True):
        np.testing.assert_array_equal(
            mg.isclose(mg.tensor(special), mg.tensor(other), equal_nan=equal_nan).numpy(),
            torch.isclose(torch.tensor(special), torch.tensor(other), equal_nan=equal_nan).numpy())


def test_float64_data_is_not_rounded_through_float32():
    """PyTorch's torch.tensor([0.1], dtype=torch.float64) holds the double 0.1; so does minigrad's now."""
    values = [0.1, -1.7, 1 / 3]
    np.testing.assert_array_equal(mg.tensor(values, dtype="float64").numpy(), np.array(values))
    assert mg.tensor(0.1, dtype=mg.float64).item() == 0.1
    assert mg.tensor(values).dtype == mg.float32  # without a dtype, Python floats still give float32


@pytest.mark.parametrize("backend", BACKENDS)
def test_new_elementwise_functions_match_numpy_and_pytorchs_integer_rules(backend):
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.7, 0.2], np.float64)
    t = mg.tensor(x, dtype="float64", backend=backend)
    for name, ref in (("floor", np.floor), ("ceil", np.ceil), ("round", np.round), ("trunc", np.trunc),
                      ("square", np.square), ("reciprocal", np.reciprocal), ("expm1", np.expm1)):
        np.testing.assert_array_equal(getattr(mg, name)(t).numpy(), ref(x), err_msg=name)
    ints = mg.arange(-2, 3, backend=backend)
    assert mg.square(ints).dtype == mg.int64 and mg.floor(ints).dtype == mg.int64  # integers stay integers
    assert mg.reciprocal(ints[3:]).dtype == mg.float32
    special = mg.tensor([1.0, np.inf, -np.inf, np.nan], backend=backend)
    assert mg.isinf(special).tolist() == [False, True, True, False]
    a, b = mg.tensor([True, True, False], backend=backend), mg.tensor([True, False, False], backend=backend)
    assert mg.logical_xor(a, b).tolist() == [False, True, False]
    assert a.logical_and(b).tolist() == [True, False, False] and mg.logical_not(a).tolist() == [False, False, True]


def test_rounding_has_zero_gradient():
    x = mg.tensor([0.3, 1.7, -2.2], dtype="float64", requires_grad=True)
    (mg.floor(x) + mg.ceil(x) + mg.round(x) + mg.trunc(x)).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_dot_and_mv():
    rng = np.random.default_rng(3)
    a, b, m = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal((3, 4))
    assert mg.dot(mg.tensor(a, dtype="float64"), mg.tensor(b, dtype="float64")).item() == pytest.approx(a @ b)
    np.testing.assert_allclose(mg.mv(mg.tensor(m, dtype="float64"), mg.tensor(a, dtype="float64")).numpy(), m @ a)
    assert mg.gradcheck(mg.mv, (mg.tensor(m, dtype="float64", requires_grad=True),
                                mg.tensor(a, dtype="float64", requires_grad=True)))
    with pytest.raises(mg.ShapeError, match=r"dot: expected two 1-D tensors of one length, got shape \(4,\) and "
                                            r"shape \(3,\)"):
        mg.dot(mg.tensor(a), mg.tensor(a[:3]))
    with pytest.raises(mg.ShapeError, match="mv: expected a 2-D and a 1-D tensor"):
        mg.mv(mg.tensor(m), mg.tensor(m))


@pytest.mark.parametrize("backend", BACKENDS)
def test_new_methods_create_on_the_tensors_backend_and_dtype(backend):
    x = mg.randn(2, 3, dtype="float64", backend=backend)
    made = [x.new_zeros(2, 2), x.new_ones((3,)), x.new_empty(1), x.new_full((2,), 7.0), x.new_tensor([1, 2])]
    assert {(t.backend, t.dtype) for t in made} == {(backend, mg.float64)}
    assert made[0].tolist() == [[0.0, 0.0], [0.0, 0.0]] and made[3].tolist() == [7.0, 7.0]
    assert x.new_zeros(2, dtype="int64").dtype == mg.int64 and x.new_ones(1, requires_grad=True).requires_grad


@pytest.mark.parametrize("backend", BACKENDS)
def test_randperm_normal_bernoulli_are_seeded_samples(backend):
    def draw():
        mg.manual_seed(7)
        return (mg.randperm(50, backend=backend).tolist(), mg.normal(1.0, 2.0, (20000,), backend=backend),
                mg.bernoulli(mg.full((20000,), 0.3, backend=backend)))

    (perm, z, coin), (perm2, z2, coin2) = draw(), draw()
    assert perm == perm2 and sorted(perm) == list(range(50))
    np.testing.assert_array_equal(z.numpy(), z2.numpy())
    np.testing.assert_array_equal(coin.numpy(), coin2.numpy())
    # 20000 samples: the standard errors are 0.014 (mean), 0.01 (std) and 0.0032 (rate); bounds at ~5 of them.
    assert abs(float(z.mean()) - 1.0) < 0.07 and abs(float(z.std()) - 2.0) < 0.05
    assert set(np.unique(coin.numpy())) <= {0.0, 1.0} and abs(float(coin.mean()) - 0.3) < 0.016
    mean = mg.zeros(3, 1, backend=backend, requires_grad=True)
    sample = mg.normal(mean, mg.ones(4, backend=backend))
    assert sample.shape == (3, 4) and sample.backend == backend and not sample.requires_grad


def test_random_functions_name_bad_arguments():
    with pytest.raises(ValueError, match="randperm: n must be an int >= 0"):
        mg.randperm(-1)
    with pytest.raises(TypeError, match="normal: with a number mean and std, give the output size"):
        mg.normal(0.0, 1.0)
    with pytest.raises(ValueError, match="normal: std must be >= 0"):
        mg.normal(0.0, -1.0, (2,))
    with pytest.raises(ValueError, match=r"bernoulli: probabilities must lie in \[0, 1\]"):
        mg.bernoulli(mg.tensor([0.5, np.nan]))
    with pytest.raises(TypeError, match="bernoulli: expected a floating tensor"):
        mg.bernoulli(mg.arange(3))


def test_functional_normalize_cosine_similarity_and_pad_against_pytorch():
    torch = pytest.importorskip("torch")
    mf, tf = mg.nn.functional, torch.nn.functional
    rng = np.random.default_rng(4)
    a, b, up = rng.standard_normal((3, 5)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    a[1] = 1e-14  # a row below eps: both clamp the norm
    assert mf.pad is mg.pad
    for dim in (0, 1):
        ta, ma = torch.tensor(a, requires_grad=True), mg.tensor(a, dtype="float64", requires_grad=True)
        tb, mb = torch.tensor(b, requires_grad=True), mg.tensor(b, dtype="float64", requires_grad=True)
        tn, mn = tf.normalize(ta, dim=dim), mf.normalize(ma, dim=dim)
        np.testing.assert_allclose(mn.numpy(), tn.detach().numpy(), rtol=1e-12, atol=1e-15)
        tc, mc = tf.cosine_similarity(ta, tb, dim=dim), mf.cosine_similarity(ma, mb, dim=dim)
        np.testing.assert_allclose(mc.numpy(), tc.detach().numpy(), rtol=1e-12, atol=1e-15)
        g = rng.standard_normal(tuple(tc.shape))
        ((tn * torch.tensor(up)).sum() + (tc * torch.tensor(g)).sum()).backward()
        ((mn * mg.tensor(up, dtype="float64")).sum() + (mc * mg.tensor(g, dtype="float64")).sum()).backward()
        np.testing.assert_allclose(ma.grad.numpy(), ta.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(mb.grad.numpy(), tb.grad.numpy(), rtol=1e-9, atol=1e-12)
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(mg.round(mg.tensor(x, dtype="float64")).numpy(), torch.round(torch.tensor(x)).numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_movement_functions_match_numpy_and_send_gradients_back(backend):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3, 4))
    cases = [
        (lambda t: mg.roll(t, 1, 2), lambda v: np.roll(v, 1, 2)),
        (lambda t: t.roll((1, -2), (0, 2)), lambda v: np.roll(v, (1, -2), (0, 2))),
        (lambda t: t.roll(5), lambda v: np.roll(v, 5)),
        (lambda t: t.narrow(2, -3, 2), lambda v: v[:, :, 1:3]),
        (lambda t: mg.stack(t.unbind(1), 0), lambda v: np.moveaxis(v, 1, 0)),
        (lambda t: mg.movedim(t, (0, 1), (2, 0)), lambda v: np.moveaxis(v, (0, 1), (2, 0))),
        (lambda t: t.swapaxes(0, 2), lambda v: np.swapaxes(v, 0, 2)),
        (lambda t: mg.tile(t, (2,)), lambda v: np.tile(v, 2)),
        (lambda t: t.tile(2, 1, 1, 1), lambda v: np.tile(v, (2, 1, 1, 1))),
    ]
    for i, (ours, ref) in enumerate(cases):
        x = mg.tensor(a, dtype="float64", requires_grad=True, backend=backend)
        out = ours(x)
        expected = ref(a)
        np.testing.assert_array_equal(out.numpy(), expected, err_msg=str(i))
        # The gradient of a pure movement is the upstream gradient moved back: compare with NumPy's adjoint
        # through the index map (each input element's position in the output).
        index = np.arange(a.size, dtype=np.float64).reshape(a.shape)
        where = ref(index).astype(np.int64).ravel()
        g = rng.standard_normal(expected.shape)
        out.backward(mg.tensor(g, dtype="float64", backend=backend))
        adjoint = np.zeros(a.size)
        np.add.at(adjoint, where, g.ravel())
        np.testing.assert_array_equal(x.grad.numpy(), adjoint.reshape(a.shape), err_msg=str(i))


def test_movement_functions_name_bad_arguments():
    x = mg.zeros(2, 3)
    with pytest.raises(IndexError, match="narrow: start 2 and length 2 do not fit dimension 0 of size 2"):
        x.narrow(0, 2, 2)
    with pytest.raises(ValueError, match=r"roll: 2 shift\(s\) for 1 dim\(s\)"):
        x.roll((1, 2), 0)
    with pytest.raises(TypeError, match="roll: without dims, shifts must be one int"):
        x.roll((1, 2))
    with pytest.raises(ValueError, match="movedim: repeated dims"):
        x.movedim((0, 0), (0, 1))
    with pytest.raises(IndexError, match="unbind: dim 2 is out of range"):
        x.unbind(2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_index_functions_match_numpy(backend):
    rng = np.random.default_rng(6)
    a = rng.standard_normal((3, 4))
    x = mg.tensor(a, dtype="float64", requires_grad=True, backend=backend)
    idx = mg.tensor([0, 2, 2], backend=backend)
    np.testing.assert_array_equal(x.index_select(1, idx).numpy(), a[:, [0, 2, 2]])
    mask = mg.tensor(a > 0, backend=backend)
    np.testing.assert_array_equal(mg.masked_select(x, mask).numpy(), a[a > 0])
    row_mask = mg.tensor([True, False, True, False], backend=backend)  # broadcast over the rows
    np.testing.assert_array_equal(x.masked_select(row_mask).numpy(), a[:, [0, 2]].ravel())
    np.testing.assert_array_equal(mg.nonzero(mask).numpy(), np.argwhere(a > 0))
    assert [t.tolist() for t in mg.nonzero(mask, as_tuple=True)] == [i.tolist() for i in np.nonzero(a > 0)]
    assert mg.nonzero(mg.zeros(2, 3, backend=backend)).shape == (0, 2)
    for k in (-2, -1, 0, 1, 3):
        np.testing.assert_array_equal(x.diag(k).numpy(), np.diag(a, k))
        np.testing.assert_array_equal(mg.diag(x.diag(k), k).numpy(), np.diag(np.diag(a, k), k))
    assert mg.trace(x).item() == pytest.approx(np.trace(a))
    np.testing.assert_array_equal(x.repeat_interleave(2, 1).numpy(), np.repeat(a, 2, 1))
    np.testing.assert_array_equal(mg.repeat_interleave(x, 3).numpy(), np.repeat(a, 3))
    counts = mg.tensor([1, 0, 2], backend=backend)
    np.testing.assert_array_equal(x.repeat_interleave(counts, dim=0).numpy(), np.repeat(a, [1, 0, 2], 0))
    fixed = mg.tensor(a > 0, backend=backend)
    for fn in (lambda t: t.index_select(1, idx), lambda t: mg.masked_select(t, fixed), lambda t: mg.diag(t, 1),
               lambda t: mg.diag(mg.diag(t)), lambda t: t.repeat_interleave(counts, dim=0), mg.trace):
        assert mg.gradcheck(fn, (x,))


def test_index_functions_name_bad_arguments():
    x = mg.zeros(2, 3)
    with pytest.raises(TypeError, match="index_select: index must be a 0-D or 1-D integer tensor"):
        x.index_select(0, mg.tensor([0.5]))
    with pytest.raises(TypeError, match="masked_select: mask must be a bool tensor"):
        mg.masked_select(x, mg.ones(2, 3))
    with pytest.raises(mg.ShapeError, match="masked_select: mask of shape .* do not broadcast"):
        mg.masked_select(x, mg.tensor([True, False]))
    with pytest.raises(mg.ShapeError, match=r"diag: expected a 1-D or 2-D tensor, got shape \(1, 2, 3\)"):
        mg.diag(mg.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="repeat_interleave: repeats must be non-negative integers"):
        x.repeat_interleave(mg.tensor([1, -1]), dim=0)


def test_new_activation_modules_against_pytorch():
    torch = pytest.importorskip("torch")
    x = np.linspace(-8, 8, 41) + 0.013  # off the kinks at -3, 0, 3 and 6
    up = np.random.default_rng(7).standard_normal(x.shape)
    for name in ("ReLU6", "Hardsigmoid", "Hardswish", "LogSigmoid", "Mish"):
        ours, theirs = getattr(mg.nn, name)(), getattr(torch.nn, name)()
        xm, xt = mg.tensor(x, dtype="float64", requires_grad=True), torch.tensor(x, requires_grad=True)
        ym, yt = ours(xm), theirs(xt)
        np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=name)
        ym.backward(mg.tensor(up, dtype="float64"))
        yt.backward(torch.tensor(up))
        # PyTorch's hardsigmoid/hardswish backward multiply by a float32 1/6 (5e-9 relative off in float64)
        np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-7, atol=1e-12, err_msg=name)
    far = mg.tensor([-60.0, 60.0], dtype="float64")
    np.testing.assert_allclose(mg.nn.functional.logsigmoid(far).numpy(), [-60.0, -np.exp(-60.0)], rtol=1e-12)
    b = np.random.default_rng(8).standard_normal((2, 3, 4))
    np.testing.assert_allclose(mg.nn.Softmin(dim=1)(mg.tensor(b, dtype="float64")).numpy(),
                               torch.nn.Softmin(dim=1)(torch.tensor(b)).numpy(), rtol=1e-12)
    prelu_m, prelu_t = mg.nn.PReLU(3, init=0.1, dtype="float64"), torch.nn.PReLU(3, init=0.1).double()
    prelu_m.load_state_dict({"weight": mg.tensor(prelu_t.weight.detach().numpy())})  # torch's init is float32's 0.1
    xm, xt = mg.tensor(b, dtype="float64", requires_grad=True), torch.tensor(b, requires_grad=True)
    g = np.random.default_rng(9).standard_normal(b.shape)
    prelu_m(xm).backward(mg.tensor(g, dtype="float64"))
    prelu_t(xt).backward(torch.tensor(g))
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(prelu_m.weight.grad.numpy(), prelu_t.weight.grad.numpy(), rtol=1e-12)
    cos_m, cos_t = mg.nn.CosineSimilarity(dim=2), torch.nn.CosineSimilarity(dim=2)
    np.testing.assert_allclose(cos_m(mg.tensor(b, dtype="float64"), mg.tensor(g, dtype="float64")).numpy(),
                               cos_t(torch.tensor(b), torch.tensor(g)).numpy(), rtol=1e-12)


def test_unflatten_and_prelu_shapes():
    x = mg.randn(2, 12)
    assert mg.nn.Unflatten(1, (3, 4))(x).shape == (2, 3, 4)
    assert mg.nn.Unflatten(-1, (2, -1))(x).shape == (2, 2, 6)
    with pytest.raises(mg.ShapeError, match=r"Unflatten: \(5, 2\) does not hold the 12 elements"):
        mg.nn.Unflatten(1, (5, 2))(x)
    with pytest.raises(mg.ShapeError, match="prelu: weight of shape"):
        mg.nn.PReLU(5)(mg.zeros(2, 3))
    layer = mg.nn.PReLU()
    assert [name for name, _ in layer.named_parameters()] == ["weight"] and layer.weight.tolist() == [0.25]


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 2, 3)])
def test_orthogonal_init_gives_orthonormal_rows_or_columns(shape):
    from minigrad.nn import init

    mg.manual_seed(1)
    w = init.orthogonal_(mg.empty(*shape, dtype="float64"), gain=2.0)
    m = w.numpy().reshape(shape[0], -1)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, 4.0 * np.eye(len(gram)), atol=1e-12)
    mg.manual_seed(1)
    np.testing.assert_array_equal(init.orthogonal_(mg.empty(*shape, dtype="float64"), gain=2.0).numpy(), w.numpy())


DIRAC_CASES = [((6, 4, 3, 3), 1), ((6, 2, 3), 3), ((4, 8, 3, 5, 1), 2), ((3, 5, 5, 3), 1)]


@pytest.mark.parametrize("shape, groups", DIRAC_CASES)
def test_dirac_init_passes_the_input_through_a_convolution(shape, groups):
    from minigrad.nn import init

    w = init.dirac_(mg.randn(*shape, dtype="float64"), groups)
    per_group, channels = shape[0] // groups, min(shape[0] // groups, shape[1])
    # A 'same' convolution copies input channel d of each group to its output channel d, zeros beyond.
    x = mg.randn(2, shape[1] * groups, *[6] * (len(shape) - 2), dtype="float64")
    conv = getattr(mg.nn.functional, f"conv{len(shape) - 2}d")
    out = conv(x, w, padding=tuple(n // 2 for n in shape[2:]), groups=groups).numpy()
    for g in range(groups):
        np.testing.assert_array_equal(out[:, g * per_group:g * per_group + channels],
                                      x.numpy()[:, g * shape[1]:g * shape[1] + channels])
        assert not out[:, g * per_group + channels:(g + 1) * per_group].any()
    with pytest.raises(ValueError, match=r"dirac_: groups must be a positive int dividing dim 0 \(6\), got 4"):
        init.dirac_(mg.empty(6, 2, 3), 4)
    with pytest.raises(ValueError, match="dirac_: needs a 3-, 4- or 5-D"):
        init.dirac_(mg.empty(6, 2))


@pytest.mark.parametrize("shape, groups", DIRAC_CASES + [((4, 2, 4, 2), 2)])
def test_dirac_init_equals_pytorchs(shape, groups):
    torch = pytest.importorskip("torch")
    from minigrad.nn import init

    np.testing.assert_array_equal(init.dirac_(mg.empty(*shape), groups).numpy(),
                                  torch.nn.init.dirac_(torch.empty(shape), groups).numpy())


def test_sparse_init_zeroes_a_fraction_of_every_column():
    from minigrad.nn import init

    mg.manual_seed(3)
    w = init.sparse_(mg.empty(40, 300, dtype="float64"), sparsity=0.3, std=0.5)
    v = w.numpy()
    assert ((v == 0).sum(0) == 12).all()  # ceil(0.3 * 40) per column
    assert abs(v[v != 0].std() - 0.5) < 0.02  # 8400 normal draws: standard error 0.004
    mg.manual_seed(3)
    np.testing.assert_array_equal(init.sparse_(mg.empty(40, 300, dtype="float64"), 0.3, 0.5).numpy(), v)
    with pytest.raises(ValueError, match="sparse_: needs a 2-D tensor"):
        init.sparse_(mg.empty(3), 0.5)
    with pytest.raises(ValueError, match=r"sparse_: sparsity .* in \[0, 1\], got 1.5"):
        init.sparse_(mg.empty(3, 2), 1.5)


def test_trunc_normal_eye_and_inplace_random_fills():
    from minigrad.nn import init

    mean, std, a, b = 0.5, 1.0, -1.0, 1.5
    t = init.trunc_normal_(mg.empty(20000, dtype="float64"), mean, std, a, b)
    v = t.numpy()
    assert v.min() >= a and v.max() <= b
    lo, hi = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    mass = 0.5 * (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2)))
    expected = mean + std * (pdf(lo) - pdf(hi)) / mass  # the truncated normal's mean, 0.355
    assert abs(v.mean() - expected) < 0.03  # its standard error here is 0.005
    with pytest.raises(ValueError, match=r"trunc_normal_: \[5, 6\] holds 2.9e-07"):
        init.trunc_normal_(mg.empty(3), 0.0, 1.0, 5, 6)
    assert init.eye_(mg.empty(2, 3)).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match="eye_: needs a 2-D tensor"):
        init.eye_(mg.empty(3))
    w = mg.zeros(20000, dtype="float64")
    assert w.normal_(1.0, 0.02) is w and abs(float(w.std()) - 0.02) < 0.001 and abs(float(w.mean()) - 1.0) < 0.001
    u = mg.zeros(20000).uniform_(-1.0, 3.0)
    assert float(u.min()) >= -1.0 and float(u.max()) < 3.0 and abs(float(u.mean()) - 1.0) < 0.05


@pytest.mark.parametrize("backend", BACKENDS)
def test_unique_where_meshgrid_lerp(backend):
    a = np.array([[3, 1, 2], [3, 1, 7]])
    x = mg.tensor(a, backend=backend)
    values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    assert mg.unique(x).tolist() == values.tolist()
    got = x.unique(return_inverse=True, return_counts=True)
    assert [t.tolist() for t in got] == [values.tolist(), inverse.reshape(a.shape).tolist(), counts.tolist()]
    with pytest.raises(NotImplementedError, match="unique: dim="):
        mg.unique(x, dim=0)
    mask = x > 2
    assert [t.tolist() for t in mg.where(mask)] == [i.tolist() for i in np.nonzero(a > 2)]
    with pytest.raises(TypeError, match="where: give both input and other"):
        mg.where(mask, 1.0)
    for indexing, sizes in (("ij", (2, 3)), ("xy", (2, 3)), ("xy", (2, 3, 4))):
        grids = mg.meshgrid(*[mg.arange(k, backend=backend) for k in sizes], indexing=indexing)
        expected = np.meshgrid(*[np.arange(k) for k in sizes], indexing=indexing)
        assert all(np.array_equal(g.numpy(), e) for g, e in zip(grids, expected))
    start = mg.tensor([0.0, 1.0], dtype="float64", requires_grad=True, backend=backend)
    end = mg.tensor([2.0, 5.0], dtype="float64", requires_grad=True, backend=backend)
    weight = mg.tensor([0.25, 0.5], dtype="float64", requires_grad=True, backend=backend)
    assert mg.lerp(start, end, weight).tolist() == [0.5, 3.0] and start.lerp(end, 0.5).tolist() == [1.0, 3.0]
    assert mg.gradcheck(mg.lerp, (start, end, weight))


# -- generator= on the random functions (PyTorch's torch.Generator) --------------------------------------------
_RANDOM_CALLS = [
    ("rand", lambda g, b: mg.rand(2, 3, generator=g, backend=b)),
    ("randn", lambda g, b: mg.randn(4, generator=g, dtype="float64", backend=b)),
    ("randint", lambda g, b: mg.randint(0, 10, (5,), generator=g, backend=b)),
    ("randperm", lambda g, b: mg.randperm(7, generator=g, backend=b)),
    ("normal", lambda g, b: mg.normal(1.0, 2.0, (3,), generator=g, backend=b)),
    ("normal[tensor]", lambda g, b: mg.normal(mg.zeros(3, backend=b), mg.ones(3, backend=b), generator=g)),
    ("bernoulli", lambda g, b: mg.bernoulli(mg.full((6,), 0.5, backend=b), generator=g)),
    ("normal_", lambda g, b: mg.empty(3, backend=b).normal_(0.0, 1.0, generator=g)),
    ("uniform_", lambda g, b: mg.empty(3, backend=b).uniform_(-1.0, 1.0, generator=g)),
    ("init.normal_", lambda g, b: mg.nn.init.normal_(mg.empty(3, backend=b), generator=g)),
]


@pytest.mark.parametrize("name,call", _RANDOM_CALLS, ids=[c[0] for c in _RANDOM_CALLS])
def test_generator_makes_draws_reproducible_on_every_backend(name, call):
    """The same seed gives the same numbers, on every backend, whatever the global generator did meanwhile;
    another seed gives other numbers."""
    results = []
    for backend in mg.testing.available_backends():
        first = call(mg.Generator().manual_seed(3), backend)
        mg.manual_seed(99)  # the global stream must not matter
        mg.rand(10)
        again = call(mg.Generator().manual_seed(3), backend)
        assert first.backend == backend
        np.testing.assert_array_equal(first.numpy(), again.numpy())
        results.append(first.numpy())
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])
    assert not np.array_equal(call(mg.Generator().manual_seed(4), "numpy").numpy(), results[0])


def test_generator_advances_and_is_checked():
    g = mg.Generator().manual_seed(0)
    a, b = mg.randn(5, generator=g), mg.randn(5, generator=g)
    assert not np.array_equal(a.numpy(), b.numpy())
    assert sorted(mg.randperm(6, generator=g).tolist()) == list(range(6))
    assert mg.randint(3, (4,), generator=g).dtype == np.int64
    with pytest.raises(TypeError, match=r"randn\(\): generator must be a minigrad.Generator, got int"):
        mg.randn(3, generator=0)


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float32", "float64"])
def test_triu_and_tril_keep_the_dtype(dtype):
    """As PyTorch's: a bool mask stays bool (it came back int64, since where(mask, x, 0) promoted it)."""
    x = mg.tensor(np.arange(1, 13).reshape(3, 4) % 3 > 0).astype(dtype)
    for fn, np_fn in ((mg.triu, np.triu), (mg.tril, np.tril)):
        for diagonal in (-1, 0, 2):
            out = fn(x, diagonal)
            assert out.dtype == np.dtype(dtype), (fn.__name__, out.dtype)
            np.testing.assert_array_equal(out.numpy(), np_fn(x.numpy(), diagonal))
