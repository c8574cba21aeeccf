"""nn.functional: gradcheck and gradgradcheck of every op (float64), agreement with PyTorch, errors."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import functional as F  # noqa: N812 - PyTorch convention
from minigrad.testing import available_backends

BACKENDS = available_backends()


def t64(rng, shape, backend="numpy", requires_grad=True, scale=1.0):
    return mg.tensor(rng.standard_normal(shape) * scale, dtype="float64", requires_grad=requires_grad,
                     backend=backend)


@pytest.fixture(params=["batched", "batch_inner"])
def conv_layout(request, monkeypatch):
    """Run a conv test with each of Conv2d's column layouts (chosen by window volume, so small test shapes
    would otherwise see only the batched one)."""
    from minigrad.ops.conv import Conv2d

    monkeypatch.setattr(Conv2d, "BATCH_INNER_MIN_K", 0 if request.param == "batch_inner" else 1 << 62)
    return request.param


def check_grads(fn, inputs, second_order=True, **tol):
    mg.gradcheck(fn, inputs, **tol)
    if second_order:
        mg.gradgradcheck(fn, inputs, **tol)


# -- gradcheck / gradgradcheck of every functional op ------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_grads(backend):
    rng = np.random.default_rng(0)
    x, w, b = t64(rng, (3, 4), backend), t64(rng, (2, 4), backend), t64(rng, (2,), backend)
    check_grads(F.linear, (x, w, b))
    check_grads(lambda x, w: F.linear(x, w), (x, w))


CONV_CASES = [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=1, padding=(1, 0), dilation=(2, 1), groups=1),
    dict(stride=(1, 2), padding=1, dilation=1, groups=2),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_grads(backend, case, conv_layout):
    rng = np.random.default_rng(1)
    x = t64(rng, (1, 2, 5, 4), backend)
    w = t64(rng, (2, 2 // case["groups"], 2, 2), backend)
    b = t64(rng, (2,), backend)
    check_grads(lambda x, w, b: F.conv2d(x, w, b, **case), (x, w, b))


@pytest.mark.parametrize("backend", BACKENDS)
def test_unfold_fold_grads_and_adjoint(backend):
    rng = np.random.default_rng(2)
    x = t64(rng, (1, 2, 4, 5), backend)
    kw = dict(kernel_size=(2, 3), dilation=1, padding=1, stride=(2, 1))
    check_grads(lambda x: F.unfold(x, **kw), (x,))
    cols = F.unfold(x, **kw)
    c = t64(rng, cols.shape, backend)
    check_grads(lambda c: F.fold(c, (4, 5), **kw), (c,))
    # <unfold(x), c> == <x, fold(c)>: fold is unfold's adjoint.
    lhs = float((cols * c).sum().item())
    rhs = float((x * F.fold(c, (4, 5), **kw)).sum().item())
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2)], ids=str)
def test_max_pool2d_grads(backend, kw):
    rng = np.random.default_rng(3)
    # Distinct, well-separated values: no ties, and finite differences never cross a maximum.
    values = rng.permutation(2 * 5 * 5).reshape(1, 2, 5, 5).astype(np.float64) * 0.1
    x = mg.tensor(values, requires_grad=True, backend=backend)
    check_grads(lambda x: F.max_pool2d(x, **kw), (x,))


@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool2d_gradient_goes_to_the_first_maximum_or_nan(backend):
    """As PyTorch: the first maximum of each window gets the gradient, and in a window with NaNs the last
    NaN (PyTorch's kernel takes every NaN it meets)."""
    a = np.array([[[[2.0, 2.0, 1.0, 3.0], [0.0, 2.0, 3.0, 3.0],
                    [np.nan, 5.0, 1.0, np.nan], [5.0, np.nan, 1.0, 1.0]]]])
    x = mg.tensor(a, requires_grad=True, backend=backend)
    y = F.max_pool2d(x, 2)
    g = np.array([[[[0.5, -2.0], [3.0, 7.0]]]])
    y.backward(mg.tensor(g, backend=backend))
    want = np.zeros_like(a)
    want[0, 0, 0, 0], want[0, 0, 0, 3], want[0, 0, 3, 1], want[0, 0, 2, 3] = 0.5, -2.0, 3.0, 7.0
    np.testing.assert_array_equal(x.grad.numpy(), want)
    assert np.isnan(y.numpy()[0, 0, 1]).all() and y.numpy()[0, 0, 0].tolist() == [2.0, 3.0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=1, padding=1, count_include_pad=False),
                                dict(kernel_size=2, divisor_override=3)], ids=str)
def test_avg_pool2d_grads(backend, kw):
    rng = np.random.default_rng(4)
    check_grads(lambda x: F.avg_pool2d(x, **kw), (t64(rng, (1, 2, 4, 5), backend),))


@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_norm_grads(backend):
    rng = np.random.default_rng(5)
    x, w, b = t64(rng, (2, 3, 4), backend), t64(rng, (3, 4), backend), t64(rng, (3, 4), backend)
    check_grads(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), (x, w, b))
    check_grads(lambda x: F.layer_norm(x, 4), (x,))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum"), dict(reduction="none"),
                                dict(label_smoothing=0.2), dict(weight=True, ignore_index=1),
                                dict(weight=True, label_smoothing=0.1, reduction="none")], ids=str)
def test_cross_entropy_grads(backend, kw):
    rng = np.random.default_rng(6)
    x = t64(rng, (4, 3), backend)
    target = mg.tensor([0, 2, 1, 2], backend=backend)
    kw = dict(kw)
    if kw.pop("weight", False):
        kw["weight"] = mg.tensor([0.5, 2.0, 1.5], dtype="float64", backend=backend)
    check_grads(lambda x: F.cross_entropy(x, target, **kw), (x,))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_spatial_grads(backend):
    rng = np.random.default_rng(7)
    x = t64(rng, (2, 3, 2, 2), backend)
    target = mg.tensor(rng.integers(0, 3, (2, 2, 2)), backend=backend)
    check_grads(lambda x: F.cross_entropy(x, target, label_smoothing=0.1), (x,))


@pytest.mark.parametrize("backend", BACKENDS)
def test_nll_mse_bce_grads(backend):
    rng = np.random.default_rng(8)
    x = t64(rng, (4, 3), backend)
    target = mg.tensor([0, 2, 1, 2], backend=backend)
    weight = mg.tensor([0.5, 2.0, 1.5], dtype="float64", backend=backend)
    check_grads(lambda x: F.nll_loss(x.log_softmax(1), target, weight=weight), (x,))
    y = t64(rng, (4, 3), backend)
    check_grads(F.mse_loss, (x, y))
    probs = mg.tensor(rng.random((4, 3)), dtype="float64", requires_grad=True, backend=backend)
    pos_weight = mg.tensor(rng.random(3) * 3, dtype="float64", backend=backend)
    check_grads(lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=pos_weight), (x, probs))
    check_grads(lambda x: F.binary_cross_entropy_with_logits(x, probs.detach(), reduction="none"), (x,))


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_grads(backend):
    rng = np.random.default_rng(9)
    x = t64(rng, (3, 4), backend)

    def fn(x):
        mg.manual_seed(3)  # the same mask at every evaluation
        return F.dropout(x, 0.4)

    check_grads(fn, (x,))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softplus", "silu", "elu", "softmax",
                                  "log_softmax"])
def test_activation_grads(backend, name):
    rng = np.random.default_rng(10)
    x = mg.tensor(rng.uniform(0.2, 2.0, (2, 3)) * rng.choice([-1, 1], (2, 3)), dtype="float64",
                  requires_grad=True, backend=backend)  # away from the kink at 0
    fn = getattr(F, name)
    check_grads((lambda x: fn(x, 1)) if "softmax" in name else fn, (x,))


# -- agreement with PyTorch -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def torch_mod():
    return pytest.importorskip("torch")


def _pair(rng, shape, backend, torch):
    a = rng.standard_normal(shape)
    return mg.tensor(a, requires_grad=True, backend=backend), torch.tensor(a, requires_grad=True)


def _agree(y, ty, pairs, rng, torch, atol=1e-10):
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=atol)
    upstream = rng.standard_normal(tuple(ty.shape))
    y.backward(mg.tensor(upstream, dtype=y.dtype, backend=y.backend))
    ty.backward(torch.tensor(upstream))
    for a, ta in pairs:
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=atol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CONV_CASES + [dict(stride=1, padding="same", dilation=2, groups=1),
                                               dict(stride=3, padding=0, dilation=1, groups=4)], ids=str)
def test_conv2d_matches_torch(torch_mod, backend, case, conv_layout):
    torch = torch_mod
    rng = np.random.default_rng(11)
    x, tx = _pair(rng, (2, 4, 9, 8), backend, torch)
    w, tw = _pair(rng, (8, 4 // case["groups"], 3, 3), backend, torch)
    b, tb = _pair(rng, (8,), backend, torch)
    y = F.conv2d(x, w, b, **case)
    ty = torch.nn.functional.conv2d(tx, tw, tb, **case)
    _agree(y, ty, [(x, tx), (w, tw), (b, tb)], rng, torch)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=2)], ids=str)
def test_max_pool2d_matches_torch(torch_mod, backend, kw):
    torch = torch_mod
    rng = np.random.default_rng(12)
    x, tx = _pair(rng, (2, 3, 9, 8), backend, torch)
    _agree(F.max_pool2d(x, **kw), torch.nn.functional.max_pool2d(tx, **kw), [(x, tx)], rng, torch)


@pytest.mark.parametrize("a", [
    np.array([[[[1.0, 1.0, 0.0], [1.0, 0.5, 1.0], [0.0, 1.0, 1.0]]]]),
    np.array([[[[np.nan, 1.0, np.nan], [1.0, np.nan, 2.0], [np.nan, 2.0, 2.0]]]]),
], ids=["ties", "nans"])
def test_max_pool2d_ties_and_nans_as_pytorch(torch_mod, a):
    torch = torch_mod
    x, tx = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    g = np.array([[[[0.5, -1.0], [2.0, 3.0]]]])
    F.max_pool2d(x, 2, 1).backward(mg.tensor(g))
    torch.nn.functional.max_pool2d(tx, 2, 1).backward(torch.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=1, padding=1, count_include_pad=False),
                                dict(kernel_size=(2, 3), divisor_override=5)], ids=str)
def test_avg_pool2d_matches_torch(torch_mod, backend, kw):
    torch = torch_mod
    rng = np.random.default_rng(13)
    x, tx = _pair(rng, (2, 3, 7, 8), backend, torch)
    _agree(F.avg_pool2d(x, **kw), torch.nn.functional.avg_pool2d(tx, **kw), [(x, tx)], rng, torch)


@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_norm_matches_torch(torch_mod, backend):
    torch = torch_mod
    rng = np.random.default_rng(14)
    x, tx = _pair(rng, (3, 4, 5), backend, torch)
    w, tw = _pair(rng, (5,), backend, torch)
    b, tb = _pair(rng, (5,), backend, torch)
    _agree(F.layer_norm(x, 5, w, b), torch.nn.functional.layer_norm(tx, (5,), tw, tb),
           [(x, tx), (w, tw), (b, tb)], rng, torch)


CE_CASES = [dict(), dict(reduction="sum"), dict(reduction="none"), dict(label_smoothing=0.25),
            dict(weight=True), dict(weight=True, label_smoothing=0.3), dict(ignore=True),
            dict(ignore=True, weight=True, label_smoothing=0.1), dict(ignore=True, reduction="none", weight=True)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spatial", [False, True])
@pytest.mark.parametrize("case", CE_CASES, ids=str)
def test_cross_entropy_and_nll_match_torch(torch_mod, backend, spatial, case):
    torch = torch_mod
    rng = np.random.default_rng(15)
    shape, tshape = ((4, 5, 3, 2), (4, 3, 2)) if spatial else ((6, 5), (6,))
    target = rng.integers(0, 5, tshape)
    kw, tkw = {}, {}
    case = dict(case)
    if case.pop("ignore", False):
        target.reshape(-1)[[1, 4]] = 3
        kw["ignore_index"] = tkw["ignore_index"] = 3
    if case.pop("weight", False):
        weight = rng.random(5) + 0.1
        kw["weight"], tkw["weight"] = mg.tensor(weight, backend=backend), torch.tensor(weight)
    kw.update(case)
    tkw.update(case)
    x, tx = _pair(rng, shape, backend, torch)
    mt, tt = mg.tensor(target, backend=backend), torch.tensor(target)
    _agree(F.cross_entropy(x, mt, **kw), torch.nn.functional.cross_entropy(tx, tt, **tkw), [(x, tx)], rng, torch)
    if "label_smoothing" not in case:
        x, tx = _pair(rng, shape, backend, torch)
        _agree(F.nll_loss(x, mt, **kw), torch.nn.functional.nll_loss(tx, tt, **tkw), [(x, tx)], rng, torch)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_and_bce_match_torch(torch_mod, backend, reduction):
    torch = torch_mod
    rng = np.random.default_rng(16)
    x, tx = _pair(rng, (4, 3), backend, torch)
    y, ty = _pair(rng, (4, 3), backend, torch)
    _agree(F.mse_loss(x, y, reduction=reduction), torch.nn.functional.mse_loss(tx, ty, reduction=reduction),
           [(x, tx), (y, ty)], rng, torch)
    target = rng.random((4, 3))
    weight, pos_weight = rng.random((4, 3)), rng.random(3) * 3
    x, tx = _pair(rng, (4, 3), backend, torch)
    y = F.binary_cross_entropy_with_logits(x, mg.tensor(target, backend=backend),
                                           mg.tensor(weight, backend=backend), reduction=reduction,
                                           pos_weight=mg.tensor(pos_weight, backend=backend))
    ty = torch.nn.functional.binary_cross_entropy_with_logits(
        tx, torch.tensor(target), torch.tensor(weight), reduction=reduction, pos_weight=torch.tensor(pos_weight))
    _agree(y, ty, [(x, tx)], rng, torch)


def test_bce_with_logits_is_stable_for_huge_logits():
    x = mg.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], requires_grad=True)
    t = mg.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [1000.0, 0.0, np.log(2), 0.0, 1000.0], rtol=1e-6, atol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 0.0, -0.5, 0.0, 1.0], atol=1e-6)
    assert np.isfinite(x.grad.numpy()).all()


def test_cross_entropy_float32_stays_float32_and_is_stable():
    x = mg.tensor([[1000.0, -1000.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor([1, 2]))
    assert loss.dtype == mg.float32
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx((2000.0 + np.log(3)) / 2, rel=1e-6)
    loss.backward()
    assert x.grad.dtype == mg.float32


# -- dropout ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_reproducible_and_scaled(backend):
    x = mg.ones(1000, 10, backend=backend)
    mg.manual_seed(123)
    a = F.dropout(x, 0.3).numpy()
    mg.manual_seed(123)
    b = F.dropout(x, 0.3).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a).tolist()) <= {0.0, np.float32(1 / 0.7)}
    assert abs((a == 0).mean() - 0.3) < 0.02
    assert F.dropout(x, 0.3, training=False) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    with pytest.raises(ValueError):
        F.dropout(x, 1.5)


# -- errors -----------------------------------------------------------------------------------------
def test_errors_are_clear():
    x = mg.randn(2, 3, 5, 5)
    with pytest.raises(mg.ShapeError, match="3 channels"):
        F.conv2d(x, mg.randn(4, 2, 3, 3))
    with pytest.raises(mg.ShapeError, match=r"3-D \(C, H, W\) or 4-D"):
        F.conv2d(mg.randn(5, 5), mg.randn(4, 3, 3, 3))
    with pytest.raises(mg.ShapeError, match="too small"):
        F.conv2d(x, mg.randn(4, 3, 7, 7))
    with pytest.raises(ValueError, match="groups"):
        F.conv2d(x, mg.randn(4, 1, 3, 3), groups=2)
    with pytest.raises(mg.ShapeError, match=r"bias must have shape \(4,\)"):
        F.conv2d(x, mg.randn(4, 3, 3, 3), mg.randn(4, 1))
    with pytest.raises(ValueError, match="half the kernel"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(mg.randn(2, 3), mg.tensor([0, 3]))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(mg.randn(2, 3), mg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(mg.randn(2, 3), mg.tensor([0, 1]), reduction="avg")
    with pytest.raises(mg.ShapeError, match="features"):
        F.linear(mg.randn(2, 3), mg.randn(4, 5))
    with pytest.raises(mg.ShapeError):
        F.mse_loss(mg.randn(2, 3), mg.randn(3))
