"""The nn modules and F. functions a ported script still missed: activations (and their in-place spellings),
RMSNorm / LocalResponseNorm / alpha dropouts / Dropout3d / ChannelShuffle, ParameterDict, the lazy modules,
Fold/Unfold modules, max-pool indices and unpooling, LPPool, pdist and gumbel_softmax. Forward values and
gradients equal PyTorch's on the same float64 inputs (random upstream gradients), float64 finite differences,
in-place autograd rules, and the errors."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
import minigrad.nn.functional as F  # noqa: N812 - PyTorch's convention
from minigrad import nn
from minigrad.errors import InplaceError, ShapeError

TIGHT = {"rtol": 1e-10, "atol": 1e-10}


def _agree(mg_fn, torch_fn, arrays, rng, *, second_order=True):
    """Forward, gradients for a random upstream gradient and (``second_order``) the gradient of a random
    projection of those gradients: each equal to PyTorch's on the same float64 inputs."""
    ours_in = [mg.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    ours, theirs = mg_fn(*ours_in), torch_fn(*theirs_in)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **TIGHT)
    g = rng.standard_normal(ours.shape)
    ours_g = mg.grad(ours, ours_in, mg.tensor(g), create_graph=second_order)
    theirs_g = torch.autograd.grad(theirs, theirs_in, torch.tensor(g), create_graph=second_order)
    for a, b in zip(ours_g, theirs_g):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TIGHT)
    if not second_order:
        return
    weights = [rng.standard_normal(a.shape) for a in ours_g]
    ours_p = sum((a * mg.tensor(w)).sum() for a, w in zip(ours_g, weights))
    theirs_p = sum((b * torch.tensor(w)).sum() for b, w in zip(theirs_g, weights))
    zeros = [np.zeros(np.shape(a)) for a in arrays]
    ours_gg = mg.grad(ours_p, ours_in, allow_unused=True) if ours_p.requires_grad else [None] * len(arrays)
    theirs_gg = (torch.autograd.grad(theirs_p, theirs_in, allow_unused=True) if theirs_p.requires_grad
                 else [None] * len(arrays))
    for a, b, z in zip(ours_gg, theirs_gg, zeros):  # None: no second-order term (zero)
        np.testing.assert_allclose(z if a is None else a.numpy(), z if b is None else b.numpy(), **TIGHT)


def _away_from(rng, shape, kinks, margin=0.05, scale=3.0):
    x = rng.standard_normal(shape) * scale
    for k in kinks:
        near = np.abs(x - k) < margin
        x[near] = k + np.where(x[near] >= k, margin, -margin) * 2
    return x


# -- activations ------------------------------------------------------------------------------------------
ACTIVATIONS = [
    ("celu", lambda x: F.celu(x), lambda x: torch.nn.functional.celu(x), (0.0,)),
    ("celu alpha", lambda x: F.celu(x, 0.5), lambda x: torch.nn.functional.celu(x, 0.5), (0.0,)),
    ("selu", F.selu, lambda x: torch.nn.functional.selu(x), (0.0,)),
    ("hardshrink", lambda x: F.hardshrink(x, 0.7), lambda x: torch.nn.functional.hardshrink(x, 0.7), (-0.7, 0.7)),
    ("softshrink", lambda x: F.softshrink(x), lambda x: torch.nn.functional.softshrink(x), (-0.5, 0.5)),
    ("tanhshrink", F.tanhshrink, lambda x: torch.nn.functional.tanhshrink(x), ()),
    ("softsign", F.softsign, lambda x: torch.nn.functional.softsign(x), (0.0,)),
    ("threshold", lambda x: F.threshold(x, 0.3, -1.5), lambda x: torch.nn.functional.threshold(x, 0.3, -1.5), (0.3,)),
    ("rrelu eval", lambda x: F.rrelu(x), lambda x: torch.nn.functional.rrelu(x), (0.0,)),
    ("rrelu eval bounds", lambda x: F.rrelu(x, 0.1, 0.6), lambda x: torch.nn.functional.rrelu(x, 0.1, 0.6), (0.0,)),
    ("relu", F.relu, lambda x: torch.nn.functional.relu(x), (0.0,)),
    ("elu", lambda x: F.elu(x, 0.4), lambda x: torch.nn.functional.elu(x, 0.4), (0.0,)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: torch.nn.functional.leaky_relu(x, 0.2), (0.0,)),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: torch.nn.functional.hardtanh(x, -0.5, 2.0),
     (-0.5, 2.0)),
]


@pytest.mark.parametrize(("name", "ours", "theirs", "kinks"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_pytorch(name, ours, theirs, kinks):
    rng = np.random.default_rng(0)
    _agree(ours, theirs, [_away_from(rng, (3, 5), kinks)], rng)


@pytest.mark.parametrize(("name", "ours", "theirs", "kinks"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_gradcheck(name, ours, theirs, kinks):
    rng = np.random.default_rng(1)
    x = mg.tensor(_away_from(rng, (2, 4), kinks), requires_grad=True)
    assert mg.gradcheck(ours, [x])
    assert mg.gradgradcheck(ours, [x])


def test_celu_gradient_is_exact_for_any_alpha():
    """PyTorch's celu backward rounds 1 / alpha to float32 (1e-9 off in float64 for alpha = 0.7); ours is
    exp(x / alpha) for x < 0, to float64 precision, and the forward equals PyTorch's."""
    x = mg.tensor([-0.5, -1.3, 0.8], dtype=mg.float64, requires_grad=True)
    (grad,) = mg.grad(F.celu(x, 0.7).sum(), [x])
    np.testing.assert_allclose(grad.numpy(), [math.exp(-0.5 / 0.7), math.exp(-1.3 / 0.7), 1.0], rtol=1e-15)
    theirs = torch.nn.functional.celu(torch.tensor(x.numpy()), 0.7)
    np.testing.assert_allclose(F.celu(x, 0.7).numpy(), theirs.numpy(), **TIGHT)


@pytest.mark.parametrize("dim", [-1, 0, 1, 2])
def test_glu_matches_pytorch(dim):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 2, 6))
    _agree(lambda t: F.glu(t, dim), lambda t: torch.nn.functional.glu(t, dim), [x], rng)
    assert mg.gradcheck(lambda t: F.glu(t, dim), [mg.tensor(x[:2], requires_grad=True)])


def test_activation_modules_match_pytorch():
    rng = np.random.default_rng(3)
    x = _away_from(rng, (2, 3, 4, 4), (0.0, 0.5, -0.5, 0.2))
    pairs = [(nn.CELU(0.8), torch.nn.CELU(0.8)), (nn.SELU(), torch.nn.SELU()), (nn.GLU(1), torch.nn.GLU(1)),
             (nn.Hardshrink(), torch.nn.Hardshrink()), (nn.Softshrink(), torch.nn.Softshrink()),
             (nn.Tanhshrink(), torch.nn.Tanhshrink()), (nn.Softsign(), torch.nn.Softsign()),
             (nn.Threshold(0.2, 7.0), torch.nn.Threshold(0.2, 7.0)), (nn.Softmax2d(), torch.nn.Softmax2d())]
    for ours, theirs in pairs:
        x4 = x[:, :2] if isinstance(ours, nn.GLU) else x
        np.testing.assert_allclose(ours(mg.tensor(x4)).numpy(), theirs(torch.tensor(x4)).numpy(), **TIGHT)
        np.testing.assert_allclose(ours(mg.tensor(x4[0])).numpy(), theirs(torch.tensor(x4[0])).numpy(), **TIGHT)
    rrelu, trrelu = nn.RReLU(0.2, 0.4).eval(), torch.nn.RReLU(0.2, 0.4).eval()
    np.testing.assert_allclose(rrelu(mg.tensor(x)).numpy(), trrelu(torch.tensor(x)).numpy(), **TIGHT)
    assert repr(nn.CELU(0.8)) == repr(torch.nn.CELU(0.8))
    assert repr(nn.Threshold(0.2, 7.0)) == repr(torch.nn.Threshold(0.2, 7.0))
    assert repr(nn.Hardshrink()) == repr(torch.nn.Hardshrink())


def test_rrelu_training_draws_slopes_in_bounds_reproducibly():
    x = mg.tensor(np.linspace(-3.0, 3.0, 400).reshape(20, 20), requires_grad=True)
    mg.manual_seed(11)
    first = F.rrelu(x, 0.1, 0.3, training=True)
    mg.manual_seed(11)
    again = F.rrelu(x, 0.1, 0.3, training=True)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    xs, out = x.numpy(), first.numpy()
    np.testing.assert_array_equal(out[xs > 0], xs[xs > 0])
    slopes = out[xs < 0] / xs[xs < 0]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and len(np.unique(slopes)) > 1
    (grad,) = mg.grad(first.sum(), [x])  # the gradient of x * slope is the slope drawn, 1 for x > 0
    np.testing.assert_allclose(grad.numpy()[xs < 0], slopes, rtol=1e-12)
    np.testing.assert_array_equal(grad.numpy()[xs > 0], 1.0)
    module = nn.RReLU(0.1, 0.3)
    assert module.training
    mg.manual_seed(11)
    np.testing.assert_array_equal(module(x).numpy(), out)


# -- in-place spellings -----------------------------------------------------------------------------------
INPLACE = [
    ("relu_", lambda t: F.relu_(t), lambda t: torch.nn.functional.relu_(t)),
    ("elu_", lambda t: F.elu_(t, 0.5), lambda t: torch.nn.functional.elu_(t, 0.5)),
    ("leaky_relu_", lambda t: F.leaky_relu_(t, 0.3), lambda t: torch.nn.functional.leaky_relu_(t, 0.3)),
    ("hardtanh_", lambda t: F.hardtanh_(t, -0.5, 0.5), lambda t: torch.nn.functional.hardtanh_(t, -0.5, 0.5)),
    ("threshold_", lambda t: F.threshold_(t, 0.1, 2.0), lambda t: torch.nn.functional.threshold_(t, 0.1, 2.0)),
    ("selu_", lambda t: F.selu_(t), lambda t: torch.nn.functional.selu_(t)),
    ("celu_", lambda t: F.celu_(t, 1.5), lambda t: torch.nn.functional.celu_(t, 1.5)),
    ("rrelu_", lambda t: F.rrelu_(t), lambda t: torch.nn.functional.rrelu_(t)),
    ("relu inplace", lambda t: F.relu(t, inplace=True), lambda t: torch.nn.functional.relu(t, inplace=True)),
    ("celu inplace", lambda t: F.celu(t, inplace=True), lambda t: torch.nn.functional.celu(t, inplace=True)),
    ("threshold inplace", lambda t: F.threshold(t, 0.1, 2.0, True),
     lambda t: torch.nn.functional.threshold(t, 0.1, 2.0, True)),
    ("relu6 inplace", lambda t: F.relu6(t, True), lambda t: torch.nn.functional.relu6(t, True)),
    ("hardsigmoid inplace", lambda t: F.hardsigmoid(t, True), lambda t: torch.nn.functional.hardsigmoid(t, True)),
    ("hardswish inplace", lambda t: F.hardswish(t, True), lambda t: torch.nn.functional.hardswish(t, True)),
    ("silu inplace", lambda t: F.silu(t, True), lambda t: torch.nn.functional.silu(t, True)),
    ("mish inplace", lambda t: F.mish(t, True), lambda t: torch.nn.functional.mish(t, True)),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), INPLACE, ids=[i[0] for i in INPLACE])
def test_inplace_spelling_matches_pytorch(name, ours, theirs):
    rng = np.random.default_rng(4)
    x = _away_from(rng, (3, 4), (0.0, 0.1, 0.5, -0.5))
    g = rng.standard_normal((3, 4))
    a = mg.tensor(x, requires_grad=True)
    y = a * 2.0
    version = y._version
    out = ours(y)
    assert out is y and y._version == version + 1  # written into y's memory, version counter bumped
    (ours_grad,) = mg.grad(y, [a], mg.tensor(g))
    b = torch.tensor(x, requires_grad=True)
    z = b * 2.0
    theirs(z)
    (theirs_grad,) = torch.autograd.grad(z, [b], torch.tensor(g))
    np.testing.assert_allclose(y.detach().numpy(), z.detach().numpy(), **TIGHT)
    if name == "hardsigmoid inplace":  # PyTorch's backward multiplies by 1/6 rounded to float32 (3e-8 off)
        active = np.abs(2 * x) < 3
        np.testing.assert_allclose(ours_grad.numpy(), np.where(active, 2 * g / 6, 0.0), **TIGHT)
        np.testing.assert_allclose(ours_grad.numpy(), theirs_grad.numpy(), rtol=1e-7, atol=0)
        return
    np.testing.assert_allclose(ours_grad.numpy(), theirs_grad.numpy(), **TIGHT)


@pytest.mark.parametrize(("name", "ours", "theirs"), INPLACE, ids=[i[0] for i in INPLACE])
def test_inplace_refuses_a_leaf_and_invalidates_saved_tensors(name, ours, theirs):
    leaf = mg.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    before = leaf.numpy().copy()
    with pytest.raises(InplaceError, match="leaf tensor that requires grad"):
        ours(leaf)
    np.testing.assert_array_equal(leaf.numpy(), before)  # nothing written
    y = leaf * 1.0
    product = (y * y).sum()  # saves y for its gradient
    ours(y)
    with pytest.raises(InplaceError, match="modified by an in-place operation"):
        product.backward()
    with mg.no_grad():  # outside autograd a leaf may change in place
        ours(leaf)
    assert not np.array_equal(leaf.numpy(), before) or name.startswith("hardtanh")


def test_modules_with_inplace_write_into_their_input():
    for module in (nn.ReLU(inplace=True), nn.LeakyReLU(0.1, inplace=True), nn.ELU(inplace=True),
                   nn.Hardtanh(inplace=True), nn.CELU(inplace=True), nn.SELU(inplace=True),
                   nn.Threshold(0.0, 3.0, inplace=True), nn.RReLU(inplace=True), nn.ReLU6(inplace=True),
                   nn.Hardsigmoid(inplace=True), nn.Hardswish(inplace=True), nn.SiLU(inplace=True),
                   nn.Mish(inplace=True)):
        x = mg.tensor([-2.0, -0.5, 0.5, 2.0])
        out = module(x)
        assert out is x, type(module).__name__
        assert x.numpy()[0] != -2.0
    x = mg.tensor([-2.0, 2.0])
    assert nn.ReLU()(x) is not x and x.numpy()[0] == -2.0


# -- normalisation and regularisation -------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3, 5), (4, 6), (2, 3, 2, 4)])
def test_rms_norm_matches_pytorch(shape):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    normalized = shape[1:]
    w = rng.standard_normal(normalized)
    _agree(lambda t, v: F.rms_norm(t, normalized, v), lambda t, v: torch.nn.functional.rms_norm(t, normalized, v),
           [x, w], rng)
    _agree(lambda t: F.rms_norm(t, shape[-1], eps=1e-3),
           lambda t: torch.nn.functional.rms_norm(t, (shape[-1],), eps=1e-3), [x], rng)
    tiny = np.full(shape, 1e-9)  # eps=None: the dtype's machine epsilon, which matters for tiny inputs
    for dtype, tdtype in ((np.float64, torch.float64), (np.float32, torch.float32)):
        np.testing.assert_allclose(F.rms_norm(mg.tensor(tiny.astype(dtype)), normalized).numpy(),
                                   torch.nn.functional.rms_norm(torch.tensor(tiny, dtype=tdtype), normalized).numpy(),
                                   rtol=1e-6)


def test_rms_norm_module_matches_pytorch():
    rng = np.random.default_rng(6)
    ours, theirs = nn.RMSNorm([3, 4], eps=1e-4), torch.nn.RMSNorm([3, 4], eps=1e-4, dtype=torch.float64)
    w = rng.standard_normal((3, 4))
    with mg.no_grad():
        ours.weight.copy_(mg.tensor(w.astype(np.float32)))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(ours(mg.tensor(x.astype(np.float32))).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert nn.RMSNorm(4, elementwise_affine=False).weight is None
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize(("shape", "size"), [((2, 5, 3), 3), ((2, 6, 3, 4), 2), ((1, 4, 2, 3, 2), 5), ((2, 3, 4), 1)])
def test_local_response_norm_matches_pytorch(shape, size):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape)
    _agree(lambda t: F.local_response_norm(t, size, 0.3, 0.6, 1.5),
           lambda t: torch.nn.functional.local_response_norm(t, size, 0.3, 0.6, 1.5), [x], rng)
    ours, theirs = nn.LocalResponseNorm(size), torch.nn.LocalResponseNorm(size)
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), **TIGHT)
    assert mg.gradcheck(lambda t: F.local_response_norm(t, size, 0.3, 0.6, 1.5),
                        [mg.tensor(x[:1], requires_grad=True)])


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_channel_shuffle_matches_pytorch(groups):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 6, 3))
    _agree(lambda t: F.channel_shuffle(t, groups), lambda t: torch.nn.functional.channel_shuffle(t, groups), [x], rng)
    np.testing.assert_array_equal(nn.ChannelShuffle(groups)(mg.tensor(x)).numpy(),
                                  torch.nn.ChannelShuffle(groups)(torch.tensor(x)).numpy())


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_alpha_dropout_takes_pytorchs_two_values_on_zeros(p):
    """On a zero input the output is the shift alone: alpha * a * p where kept, alpha * a * (p - 1) where dropped.
    PyTorch's own output on zeros gives those two numbers (its generator differs, its values must not)."""
    zeros = np.zeros(4000)
    theirs = np.unique(torch.nn.functional.alpha_dropout(torch.tensor(zeros), p, True).numpy())
    ours_out = F.alpha_dropout(mg.tensor(zeros), p, training=True).numpy()
    ours = np.unique(ours_out)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert len(ours) == 2
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    np.testing.assert_allclose(sorted(ours), [alpha * a * (p - 1), alpha * a * p], rtol=1e-12)


def test_alpha_dropout_scales_kept_values_and_passes_their_gradient():
    p, alpha = 0.3, 1.7580993408473766
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    x = mg.tensor(np.linspace(-2.0, 2.0, 300), requires_grad=True)
    mg.manual_seed(3)
    out = F.alpha_dropout(x, p, training=True)
    kept = np.isclose(out.numpy(), a * x.numpy() + alpha * a * p, rtol=0, atol=1e-12)
    dropped = np.isclose(out.numpy(), alpha * a * (p - 1), rtol=0, atol=1e-12)
    assert np.all(kept ^ dropped) and kept.any() and dropped.any()
    (grad,) = mg.grad(out.sum(), [x])
    np.testing.assert_allclose(grad.numpy(), np.where(kept, a, 0.0), rtol=1e-12)
    assert F.alpha_dropout(x, p) is x  # training=False by default, as PyTorch's functional
    module = nn.AlphaDropout(p)
    assert module.eval()(x) is x


def test_feature_alpha_dropout_drops_whole_channels():
    p = 0.5
    x = mg.tensor(np.zeros((4, 8, 3, 3)))
    out = F.feature_alpha_dropout(x, p, training=True).numpy()
    per_channel = out.reshape(4, 8, -1)
    assert np.all(per_channel == per_channel[..., :1])  # one draw per sample and channel
    theirs = np.unique(torch.nn.functional.feature_alpha_dropout(torch.zeros(4, 8, 3, 3, dtype=torch.float64),
                                                                 p, True).numpy())
    np.testing.assert_allclose(np.unique(out), theirs, rtol=1e-12)
    assert nn.FeatureAlphaDropout(p).eval()(x) is x


def test_dropout3d_zeroes_whole_channels():
    x = mg.tensor(np.ones((2, 6, 2, 3, 2)), requires_grad=True)
    out = F.dropout3d(x, 0.5)
    values = out.numpy().reshape(2, 6, -1)
    assert np.all(values == values[..., :1]) and set(np.unique(values)) <= {0.0, 2.0}
    (grad,) = mg.grad(out.sum(), [x])
    np.testing.assert_array_equal(grad.numpy(), out.numpy())
    assert F.dropout3d(x, 0.5, training=False) is x
    unbatched = F.dropout3d(mg.tensor(np.ones((6, 2, 3, 2))), 0.5).numpy().reshape(6, -1)
    assert np.all(unbatched == unbatched[:, :1])
    module = nn.Dropout3d(0.25)
    assert repr(module) == repr(torch.nn.Dropout3d(0.25))
    with pytest.raises(ShapeError, match="dropout3d"):
        F.dropout3d(mg.tensor(np.ones((2, 3, 4))))


# -- containers and lazy modules -----------------------------------------------------------------------------
def test_parameter_dict_follows_pytorchs_order_and_registration():
    rng = np.random.default_rng(9)
    values = {"b": rng.standard_normal(2), "a": rng.standard_normal(3), "c": rng.standard_normal(1)}
    ours = nn.ParameterDict({k: mg.tensor(v) for k, v in values.items()})
    theirs = torch.nn.ParameterDict({k: torch.tensor(v) for k, v in values.items()})
    assert list(ours) == list(theirs) == ["a", "b", "c"]  # a plain dict is sorted, as PyTorch
    ordered = OrderedDict((k, mg.tensor(v)) for k, v in values.items())
    assert list(nn.ParameterDict(ordered)) == list(values)
    assert list(nn.ParameterDict([("z", mg.tensor([1.0])), ("y", mg.tensor([2.0]))])) == ["z", "y"]
    assert isinstance(ours["a"], nn.Parameter) and ours["a"].requires_grad

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.params = nn.ParameterDict({"w": mg.tensor([1.0, 2.0])})

    holder = Holder()
    assert [n for n, _ in holder.named_parameters()] == ["params.w"]
    assert list(holder.state_dict()) == ["params.w"]
    ours["d"] = mg.tensor([5.0])
    assert "d" in ours and len(ours) == 4
    assert ours.pop("d").numpy().tolist() == [5.0] and "d" not in ours
    assert ours.get("missing") is None
    assert ours.setdefault("e", mg.tensor([1.0])).numpy().tolist() == [1.0]
    merged = ours | nn.ParameterDict({"f": mg.tensor([0.0])})
    assert list(merged) == ["a", "b", "c", "e", "f"] and "f" not in ours
    assert ours.popitem()[0] == "e"
    optimizer = mg.optim.SGD(holder.parameters(), lr=0.1)
    (holder.params["w"] * holder.params["w"]).sum().backward()
    optimizer.step()
    np.testing.assert_allclose(holder.params["w"].numpy(), [0.8, 1.6], rtol=1e-6)
    with pytest.raises(TypeError, match="ParameterDict holds tensors"):
        ours["bad"] = 3.0
    with pytest.raises(KeyError):
        ours["missing"]
    with pytest.raises(ValueError, match="has length 3"):
        nn.ParameterDict([("a", mg.tensor([1.0]), 3)])


def test_lazy_linear_infers_in_features_then_is_a_linear():
    lazy = nn.LazyLinear(3)
    assert list(lazy.parameters()) == []
    with pytest.raises(RuntimeError, match="dry run"):
        lazy.load_state_dict({})
    assert list(lazy.parameters()) == []  # nothing built on error
    x = mg.randn(4, 5)
    out = lazy(x)
    assert type(lazy) is nn.Linear and lazy.in_features == 5 and lazy.weight.shape == (3, 5)
    np.testing.assert_allclose(out.numpy(), (x @ lazy.weight.T + lazy.bias).numpy(), rtol=1e-6)
    bound = 1 / math.sqrt(5)  # Linear's initialisation, for the inferred fan-in
    assert np.abs(lazy.weight.numpy()).max() <= bound and np.abs(lazy.bias.numpy()).max() <= bound
    eager = nn.Linear(5, 3)
    eager.load_state_dict(lazy.state_dict())
    np.testing.assert_array_equal(eager(x).numpy(), lazy(x).numpy())
    optimizer = mg.optim.SGD(lazy.parameters(), lr=0.1)  # built after the dry run, as PyTorch documents
    before = lazy.weight.numpy().copy()
    lazy(x).sum().backward()
    optimizer.step()
    assert not np.array_equal(lazy.weight.numpy(), before)
    assert nn.LazyLinear(2, bias=False)(x).shape == (4, 2)


def test_lazy_module_loaded_directly_takes_the_checkpoints_shape():
    eager = nn.Linear(6, 2)
    lazy = nn.LazyLinear(2)
    lazy.load_state_dict(eager.state_dict())
    assert type(lazy) is nn.Linear and lazy.in_features == 6
    np.testing.assert_array_equal(lazy.weight.numpy(), eager.weight.numpy())
    conv = nn.Conv2d(4, 6, 3, groups=2)
    lazy_conv = nn.LazyConv2d(6, 3, groups=2)
    lazy_conv.load_state_dict(conv.state_dict())
    assert lazy_conv.in_channels == 4
    x = mg.randn(1, 4, 5, 5)
    np.testing.assert_array_equal(lazy_conv(x).numpy(), conv(x).numpy())
    wrong = nn.LazyLinear(3)
    with pytest.raises(nn.StateDictError, match="size mismatch"):  # the eager class's own check
        wrong.load_state_dict(eager.state_dict())
    assert type(wrong) is nn.LazyLinear and list(wrong.parameters()) == []  # nothing changed on error


def test_lazy_module_keeps_its_hooks_and_mode():
    lazy = nn.LazyLinear(2).eval()
    seen = []
    lazy.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    lazy(mg.randn(3, 4))
    assert seen == [(3, 2)] and not lazy.training


def test_lazy_linear_inside_a_model():
    model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    assert list(model.parameters()) == []
    model(mg.randn(3, 7))
    assert [tuple(p.shape) for p in model.parameters()] == [(4, 7), (4,), (2, 4), (2,)]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


@pytest.mark.parametrize(("lazy", "eager", "shape"), [
    (lambda: nn.LazyConv2d(4, 3, padding=1), nn.Conv2d, (2, 3, 5, 5)),
    (lambda: nn.LazyConv1d(4, 2, stride=2), nn.Conv1d, (2, 3, 8)),
])
def test_lazy_conv_infers_in_channels(lazy, eager, shape):
    module = lazy()
    x = mg.randn(*shape)
    out = module(x)
    assert type(module) is eager and module.in_channels == 3
    reference = eager(3, 4, module.kernel_size, module.stride, module.padding)
    reference.load_state_dict(module.state_dict())
    np.testing.assert_array_equal(out.numpy(), reference(x).numpy())
    with pytest.raises(ShapeError, match="Lazy"):
        lazy()(mg.randn(3))


def test_fold_and_unfold_modules_match_pytorch():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, 6, 5))
    ours, theirs = nn.Unfold((2, 3), dilation=1, padding=1, stride=2), torch.nn.Unfold((2, 3), 1, 1, 2)
    cols = ours(mg.tensor(x))
    np.testing.assert_allclose(cols.numpy(), theirs(torch.tensor(x)).numpy(), **TIGHT)
    fold, tfold = nn.Fold((6, 5), (2, 3), 1, 1, 2), torch.nn.Fold((6, 5), (2, 3), 1, 1, 2)
    np.testing.assert_allclose(fold(cols).numpy(), tfold(torch.tensor(cols.numpy())).numpy(), **TIGHT)
    assert repr(ours) == repr(theirs) and repr(fold) == repr(tfold)


# -- pooling ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"), [(2, None, 0, 1), (3, 2, 1, 1), (3, 1, 1, 2),
                                                                      ((2, 3), (1, 2), (1, 0), 1)])
def test_max_pool2d_indices_match_pytorch(kernel, stride, padding, dilation):
    rng = np.random.default_rng(12)
    x = rng.integers(-2, 3, (2, 3, 7, 6)).astype(np.float64)  # many ties: the first maximum wins in both
    x[0, 0, 1, 1] = np.nan
    ours, idx = F.max_pool2d(mg.tensor(x), kernel, stride, padding, dilation, return_indices=True)
    theirs, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride, padding, dilation,
                                                  return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert idx.dtype == np.int64
    module = nn.MaxPool2d(kernel, stride, padding, dilation, return_indices=True)
    np.testing.assert_array_equal(module(mg.tensor(x))[1].numpy(), tidx.numpy())


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(3, 2, 1), (2, 1, 1), (3, 1, 1)])
def test_max_pool2d_indices_of_infinities_and_nans_match_pytorch(kernel, stride, padding):
    """PyTorch's scan: a window of -inf gives its first position inside the input (never the padding), and a
    window with NaNs gives its last NaN, even after a +inf."""
    x = np.full((1, 1, 4, 4), -np.inf)
    x[0, 0, 2, 2], x[0, 0, 2, 1], x[0, 0, 3, 0], x[0, 0, 3, 1] = 1.0, np.inf, np.nan, np.nan
    values, idx = F.max_pool2d(mg.tensor(x), kernel, stride, padding, return_indices=True)
    tvalues, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride, padding, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(values.numpy(), tvalues.numpy())  # NaN where PyTorch has NaN


def test_with_indices_spellings_match_pytorch():
    rng = np.random.default_rng(22)
    x = rng.standard_normal((2, 3, 7, 6))
    for name, args in (("max_pool2d_with_indices", (3, 2, 1)), ("adaptive_max_pool2d_with_indices", ((3, 4),))):
        ours, theirs = getattr(F, name)(mg.tensor(x), *args), getattr(torch.nn.functional, name)(torch.tensor(x), *args)
        np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    for name, args in (("max_pool1d_with_indices", (2,)), ("adaptive_max_pool1d_with_indices", (4,))):
        ours, theirs = getattr(F, name)(mg.tensor(x[0]), *args), getattr(torch.nn.functional, name)(torch.tensor(x[0]),
                                                                                                  *args)
        np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())


def test_max_pool1d_indices_and_unpool_match_pytorch():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 9))
    values, idx = F.max_pool1d(mg.tensor(x), 3, 2, 1, return_indices=True)
    tvalues, tidx = torch.nn.functional.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    _agree(lambda v: F.max_unpool1d(v, idx, 3, 2, 1, output_size=[9]),
           lambda v: torch.nn.functional.max_unpool1d(v, tidx, 3, 2, 1, output_size=[9]), [values.numpy()],
           rng)
    unbatched = F.max_pool1d(mg.tensor(x[0]), 2, return_indices=True)[1]
    np.testing.assert_array_equal(unbatched.numpy(), torch.nn.functional.max_pool1d(torch.tensor(x[0]), 2,
                                                                                    return_indices=True)[1].numpy())
    module = nn.MaxUnpool1d(3, 2, 1)
    np.testing.assert_allclose(module(values, idx, (2, 3, 9)).numpy(),
                               torch.nn.MaxUnpool1d(3, 2, 1)(tvalues, tidx, (2, 3, 9)).numpy(), **TIGHT)


@pytest.mark.parametrize(("kernel", "stride", "padding", "size"), [(2, None, 0, None), (3, 2, 1, (7, 6)),
                                                                   ((2, 3), (2, 2), 0, (7, 6))])
def test_max_unpool2d_matches_pytorch(kernel, stride, padding, size):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 3, 7, 6))
    values, idx = F.max_pool2d(mg.tensor(x), kernel, stride, padding, return_indices=True)
    tidx = torch.tensor(idx.numpy())
    _agree(lambda v: F.max_unpool2d(v, idx, kernel, stride, padding, size),
           lambda v: torch.nn.functional.max_unpool2d(v, tidx, kernel, stride, padding, size), [values.numpy()], rng)
    flat = idx.numpy().reshape(6, -1)
    if all(len(np.unique(row)) == len(row) for row in flat):  # overlapping windows can share a maximum: its
        # later copies overwrite the first (PyTorch's too), and finite differences see only the last one
        assert mg.gradcheck(lambda v: F.max_unpool2d(v, idx, kernel, stride, padding, size),
                            [mg.tensor(values.numpy(), requires_grad=True)])
    np.testing.assert_allclose(nn.MaxUnpool2d(kernel, stride, padding)(values, idx, size).numpy(),
                               torch.nn.MaxUnpool2d(kernel, stride, padding)(torch.tensor(values.numpy()), tidx,
                                                                             size).numpy(), **TIGHT)


def test_max_unpool_errors():
    values, idx = F.max_pool2d(mg.randn(1, 1, 4, 4), 2, return_indices=True)
    with pytest.raises(IndexError, match="max_unpool2d: found an invalid max index 99"):
        F.max_unpool2d(values, idx * 0 + 99, 2)
    with pytest.raises(ShapeError, match="max_unpool2d: expected shape of indices"):
        F.max_unpool2d(values, idx[..., :1], 2)
    with pytest.raises(ValueError, match="output_size"):
        F.max_unpool2d(values, idx, 2, output_size=(9, 9))
    with pytest.raises(TypeError, match="integer"):
        F.max_unpool2d(values, idx.float(), 2)


@pytest.mark.parametrize(("norm_type", "kernel", "stride"), [(2.0, 2, None), (1.0, 3, 1), (3.0, (2, 3), (1, 2)),
                                                             (1.5, 2, 1)])
def test_lp_pool2d_matches_pytorch(norm_type, kernel, stride):
    rng = np.random.default_rng(15)
    x = rng.uniform(0.2, 2.0, (2, 3, 6, 7))
    _agree(lambda t: F.lp_pool2d(t, norm_type, kernel, stride),
           lambda t: torch.nn.functional.lp_pool2d(t, norm_type, kernel, stride), [x], rng)
    np.testing.assert_allclose(nn.LPPool2d(norm_type, kernel, stride)(mg.tensor(x[0])).numpy(),
                               torch.nn.LPPool2d(norm_type, kernel, stride)(torch.tensor(x[0])).numpy(), **TIGHT)
    assert mg.gradcheck(lambda t: F.lp_pool2d(t, norm_type, kernel, stride), [mg.tensor(x[:1], requires_grad=True)])


@pytest.mark.parametrize(("norm_type", "kernel", "stride"), [(2.0, 2, None), (1.0, 3, 1), (4.0, 3, 2)])
def test_lp_pool1d_matches_pytorch(norm_type, kernel, stride):
    rng = np.random.default_rng(16)
    x = rng.standard_normal((2, 3, 8)) if norm_type in (2.0, 4.0) else rng.uniform(0.2, 2.0, (2, 3, 8))
    _agree(lambda t: F.lp_pool1d(t, norm_type, kernel, stride),
           lambda t: torch.nn.functional.lp_pool1d(t, norm_type, kernel, stride), [x], rng)
    np.testing.assert_allclose(nn.LPPool1d(norm_type, kernel, stride)(mg.tensor(x)).numpy(),
                               torch.nn.LPPool1d(norm_type, kernel, stride)(torch.tensor(x)).numpy(), **TIGHT)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_pdist_matches_pytorch(p):
    rng = np.random.default_rng(17)
    x = rng.standard_normal((5, 3))
    # PyTorch has no double backward for pdist
    _agree(lambda t: F.pdist(t, p), lambda t: torch.nn.functional.pdist(t, p), [x], rng, second_order=False)
    assert mg.gradcheck(lambda t: F.pdist(t, p), [mg.tensor(x, requires_grad=True)])


def test_pdist_p0_and_errors():
    x = np.array([[0.0, 1.0], [0.0, 2.0], [3.0, 1.0]])
    np.testing.assert_array_equal(F.pdist(mg.tensor(x), 0).numpy(), torch.nn.functional.pdist(torch.tensor(x), 0))
    with pytest.raises(ShapeError, match="pdist: only supports 2D"):
        F.pdist(mg.randn(2, 3, 4))
    with pytest.raises(ValueError, match="non-negative"):
        F.pdist(mg.randn(3, 2), -1.0)


def test_gumbel_softmax_soft_and_straight_through():
    rng = np.random.default_rng(18)
    logits = mg.tensor(rng.standard_normal((4, 6)), requires_grad=True)
    g = mg.tensor(rng.standard_normal((4, 6)))
    mg.manual_seed(5)
    soft = F.gumbel_softmax(logits, tau=0.5)
    mg.manual_seed(5)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
    np.testing.assert_allclose(soft.numpy().sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(hard.numpy(), np.eye(6)[soft.numpy().argmax(-1)])
    (soft_grad,) = mg.grad((soft * g).sum(), [logits])
    (hard_grad,) = mg.grad((hard * g).sum(), [logits])
    np.testing.assert_allclose(hard_grad.numpy(), soft_grad.numpy(), rtol=1e-12, atol=1e-15)

    def fixed_noise(t):  # the same noise for every evaluation of the gradcheck
        mg.manual_seed(5)
        return F.gumbel_softmax(t, tau=0.5)

    assert mg.gradcheck(fixed_noise, [logits])
    along0 = F.gumbel_softmax(logits, dim=0, hard=True).numpy()
    np.testing.assert_array_equal(along0.sum(0), 1.0)



# -- affine_grid and grid_sample ---------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Since version 1.3.0, affine_grid behavior has changed for unit-size grids")
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (2, 2, 3, 1)])
def test_affine_grid_matches_pytorch(size, align_corners):
    rng = np.random.default_rng(19)
    theta = rng.standard_normal((2, 2, 3))
    _agree(lambda t: F.affine_grid(t, size, align_corners),
           lambda t: torch.nn.functional.affine_grid(t, size, align_corners), [theta], rng)


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_matches_pytorch(mode, padding_mode, align_corners):
    rng = np.random.default_rng(20)
    x = rng.standard_normal((2, 3, 5, 6))
    grid = rng.uniform(-1.7, 1.7, (2, 4, 7, 2))  # inside and outside the image
    if mode == "bilinear":
        _agree(lambda a, g: F.grid_sample(a, g, mode, padding_mode, align_corners),
               lambda a, g: torch.nn.functional.grid_sample(a, g, mode, padding_mode, align_corners), [x, grid], rng)
    else:  # no gradient with respect to the grid (PyTorch's is zeros)
        _agree(lambda a: F.grid_sample(a, mg.tensor(grid), mode, padding_mode, align_corners),
               lambda a: torch.nn.functional.grid_sample(a, torch.tensor(grid), mode, padding_mode, align_corners),
               [x], rng)


def test_spatial_transformer_gradient_reaches_theta():
    rng = np.random.default_rng(21)
    x, theta = rng.standard_normal((2, 2, 6, 6)), np.tile(np.array([[0.9, 0.1, 0.05], [-0.1, 0.8, 0.1]]), (2, 1, 1))

    def ours(a, t):
        return F.grid_sample(a, F.affine_grid(t, (2, 2, 4, 4), False), align_corners=False)

    def theirs(a, t):
        return torch.nn.functional.grid_sample(a, torch.nn.functional.affine_grid(t, (2, 2, 4, 4), False),
                                               align_corners=False)

    _agree(ours, theirs, [x, theta], rng)
    assert mg.gradcheck(ours, [mg.tensor(x, requires_grad=True), mg.tensor(theta, requires_grad=True)])


def test_grid_functions_warn_and_refuse_as_pytorch():
    theta = mg.tensor(np.zeros((1, 2, 3)))
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(theta, (1, 1, 2, 2))
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(mg.randn(1, 1, 2, 2), mg.zeros(1, 1, 1, 2))
    with pytest.warns(UserWarning, match="unit-size grids"):  # as PyTorch: a 1-pixel side has no corners to align
        F.affine_grid(theta, (1, 1, 1, 2), True)
    with pytest.raises(ShapeError, match="Nx2x3"):
        F.affine_grid(mg.tensor(np.zeros((1, 3, 3))), (1, 1, 2, 2), False)
    with pytest.raises(ValueError, match="floating point"):
        F.affine_grid(mg.tensor(np.zeros((1, 2, 3), np.int64)), (1, 1, 2, 2), False)
    with pytest.raises(ValueError, match="expected mode"):
        F.grid_sample(mg.randn(1, 1, 2, 2), mg.zeros(1, 1, 1, 2), "linear", align_corners=False)
    with pytest.raises(ValueError, match="expected padding_mode"):
        F.grid_sample(mg.randn(1, 1, 2, 2), mg.zeros(1, 1, 1, 2), padding_mode="wrap", align_corners=False)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.grid_sample(mg.randn(1, 1, 2, 2), mg.zeros(1, 1, 1, 2), "bicubic", align_corners=False)
    with pytest.raises(ShapeError, match="grid of shape"):
        F.grid_sample(mg.randn(1, 1, 2, 2), mg.zeros(2, 1, 1, 2), align_corners=False)
    with pytest.raises(TypeError, match="same dtype"):
        F.grid_sample(mg.randn(1, 1, 2, 2), mg.zeros(1, 1, 1, 2, dtype=mg.float64), align_corners=False)

def test_module_reprs_match_pytorch():
    pairs = [("LPPool2d", (2, 3)), ("LPPool1d", (1.5, 3, 2)), ("MaxUnpool2d", (2,)), ("MaxUnpool1d", (3, 2, 1)),
             ("LocalResponseNorm", (3,)), ("ChannelShuffle", (2,)), ("AlphaDropout", (0.2,)),
             ("FeatureAlphaDropout", ()), ("RReLU", ()), ("RReLU", (0.1, 0.2, True)), ("SELU", (True,)), ("GLU", ()),
             ("Softshrink", ()), ("CELU", (1.0, True)), ("Softmax2d", ()), ("Threshold", (0.1, 2.0, True)),
             ("RMSNorm", (4,)), ("ParameterDict", ()), ("Tanhshrink", ()), ("Softsign", ()), ("Dropout3d", ()),
             ("ReLU6", (True,)), ("Hardswish", ()), ("Fold", ((4, 5), 2)), ("Unfold", (3,))]
    for name, args in pairs:
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args)), name


def test_torch_namespace_spellings():
    x = mg.tensor([-1.0, 0.25, 2.0])
    np.testing.assert_array_equal(mg.celu(x).numpy(), F.celu(x).numpy())
    np.testing.assert_array_equal(mg.hardshrink(x, 0.3).numpy(), F.hardshrink(x, 0.3).numpy())
    np.testing.assert_array_equal(mg.threshold(x, 0.0, 5.0).numpy(), [5.0, 0.25, 2.0])
    assert mg.native_channel_shuffle is F.channel_shuffle and mg.pdist is F.pdist and mg.rms_norm is F.rms_norm
    y = x * 1.0
    assert mg.relu_(y) is y and y.numpy().tolist() == [0.0, 0.25, 2.0]
    assert mg.selu_ is F.selu_ and mg.celu_ is F.celu_ and mg.rrelu_ is F.rrelu_ and mg.threshold_ is F.threshold_
    assert mg.selu is F.selu and mg.rrelu is F.rrelu and mg.prelu is F.prelu
    np.testing.assert_array_equal(x.hardshrink(0.3).numpy(), [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(x.prelu(mg.tensor([0.5])).numpy(), [-0.5, 0.25, 2.0])


# -- errors -----------------------------------------------------------------------------------------------------
def test_errors_name_the_function_and_values():
    x = mg.randn(2, 3)
    with pytest.raises(ShapeError, match="glu: halving dimension must be even, but dimension 1 is size 3"):
        F.glu(x)
    with pytest.raises(ValueError, match="hardshrink: lambda must be greater or equal to 0, but found to be -1"):
        F.hardshrink(x, -1.0)
    with pytest.raises(ValueError, match="softshrink: lambda"):
        F.softshrink(x, -0.5)
    with pytest.raises(ValueError, match="celu: alpha"):
        F.celu(x, 0.0)
    with pytest.raises(ValueError, match="rrelu: lower bound"):
        F.rrelu(x, 0.5, 0.1)
    with pytest.raises(ShapeError, match="channel_shuffle: number of channels 3 must be divisible by groups 2"):
        F.channel_shuffle(mg.randn(2, 3, 4), 2)
    with pytest.raises(ShapeError, match="local_response_norm: expected 3D"):
        F.local_response_norm(x, 2)
    with pytest.raises(ShapeError, match="rms_norm: normalized_shape"):
        F.rms_norm(x, (4,))
    with pytest.raises(TypeError, match="rms_norm: the input and weight must be floating"):
        F.rms_norm(mg.tensor([1, 2]), (2,))
    with pytest.raises(ValueError, match="alpha_dropout: dropout probability"):
        F.alpha_dropout(x, 1.5, True)
    with pytest.raises(ShapeError, match="Softmax2d"):
        nn.Softmax2d()(x)
    with pytest.raises(ShapeError, match="lp_pool2d"):
        F.lp_pool2d(x, 2, 2)


# -- ceil_mode on the 1-D and 2-D pools (the 3-D pool's windows on a depth-1 volume) --------------------------------
CEIL_CASES = [(3, 2, 0, 1), (3, 2, 1, 1), (2, 2, 0, 1), ((3, 2), (2, 3), (1, 0), 1), (2, 3, 1, 2)]


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"), CEIL_CASES)
def test_max_pool2d_ceil_mode_matches_pytorch(kernel, stride, padding, dilation):
    rng = np.random.default_rng(31)
    x = rng.standard_normal((2, 3, 7, 8))
    _agree(lambda t: F.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode=True),
           lambda t: torch.nn.functional.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode=True), [x], rng)
    ours = F.max_pool2d(mg.tensor(x), kernel, stride, padding, dilation, ceil_mode=True, return_indices=True)
    theirs = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride, padding, dilation, ceil_mode=True,
                                            return_indices=True)
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    module = nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=True)
    np.testing.assert_array_equal(module(mg.tensor(x)).numpy(), theirs[0].numpy())


@pytest.mark.parametrize(("kernel", "stride", "padding", "_"), CEIL_CASES[:4])
@pytest.mark.parametrize(("count_include_pad", "divisor_override"), [(True, None), (False, None), (True, 5)])
def test_avg_pool2d_ceil_mode_matches_pytorch(kernel, stride, padding, _, count_include_pad, divisor_override):
    rng = np.random.default_rng(32)
    x = rng.standard_normal((2, 3, 7, 8))
    _agree(lambda t: F.avg_pool2d(t, kernel, stride, padding, True, count_include_pad, divisor_override),
           lambda t: torch.nn.functional.avg_pool2d(t, kernel, stride, padding, True, count_include_pad,
                                                    divisor_override), [x], rng)


def test_1d_pools_ceil_mode_match_pytorch():
    rng = np.random.default_rng(33)
    x = rng.standard_normal((2, 3, 10))
    _agree(lambda t: F.max_pool1d(t, 3, 2, 1, ceil_mode=True),
           lambda t: torch.nn.functional.max_pool1d(t, 3, 2, 1, ceil_mode=True), [x], rng)
    _agree(lambda t: F.avg_pool1d(t, 4, 3, 0, ceil_mode=True, count_include_pad=False),
           lambda t: torch.nn.functional.avg_pool1d(t, 4, 3, 0, ceil_mode=True, count_include_pad=False), [x], rng)
    out = nn.MaxPool1d(3, 2, ceil_mode=True)(mg.tensor(x))
    assert out.shape == (2, 3, 5)  # floor mode gives 4


@pytest.mark.parametrize("backend", mg.testing.available_backends())
def test_pool2d_ceil_mode_gradcheck(backend):
    rng = np.random.default_rng(34)
    x = mg.tensor(rng.standard_normal((1, 2, 5, 6)), requires_grad=True, backend=backend)
    assert mg.gradcheck(lambda t: F.max_pool2d(t, 2, 2, ceil_mode=True), (x,))
    assert mg.gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False), (x,))
    assert mg.gradgradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True), (x,))
