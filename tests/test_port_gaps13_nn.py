"""Porting gaps, the nn part: the lazy norms and transposed convolutions (LazyBatchNorm1d/2d/3d,
LazyInstanceNorm1d/2d/3d, LazyConvTranspose1d/2d/3d, LazyConv3d) and lazy modules loaded inside a parent,
fractional max pooling (2-D and 3-D) and AdaptiveLogSoftmaxWithLoss: PyTorch's outputs, indices and gradients
from the same weights and samples (float64, random upstream gradients), finite differences and the errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad import nn
from minigrad.errors import ShapeError


def _state_of(torch_module) -> dict:
    return {k: mg.tensor(v.detach().numpy()) for k, v in torch_module.state_dict().items()}


def _compare_with_pytorch(ours, theirs, x: np.ndarray, train: bool = True) -> None:
    """Materialise both with ``x``, give ours PyTorch's weights, then compare outputs, input gradients and
    parameter gradients for a random upstream gradient (and the buffers after the forward)."""
    ours.train(train)
    theirs.train(train)
    theirs(torch.tensor(x))  # materialises PyTorch's (and, in training mode, moves its running statistics)
    with torch.no_grad():
        theirs_fresh = type(theirs)  # the eager class PyTorch's became
    assert type(ours).__name__ == "Lazy" + theirs_fresh.__name__
    ours(mg.tensor(x))
    assert type(ours).__name__ == theirs_fresh.__name__
    ours.load_state_dict(_state_of(theirs))
    rng = np.random.default_rng(x.size)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_m, out_t = ours(xm), theirs(xt)
    g = rng.standard_normal(tuple(out_t.shape))
    np.testing.assert_allclose(out_m.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    (out_m * mg.tensor(g)).sum().backward()
    (out_t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, b in theirs.named_buffers():
        np.testing.assert_allclose(getattr(ours, name).numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


_NORMS = [
    ("BatchNorm1d", {}, (4, 3)), ("BatchNorm1d", {"momentum": None}, (4, 3, 5)), ("BatchNorm2d", {}, (2, 3, 4, 4)),
    ("BatchNorm3d", {"affine": False}, (2, 2, 3, 2, 2)), ("InstanceNorm1d", {}, (2, 3, 6)),
    ("InstanceNorm1d", {"affine": False, "track_running_stats": False}, (1, 3, 7)),
    ("InstanceNorm2d", {"eps": 1e-3}, (2, 3, 4, 5)), ("InstanceNorm3d", {}, (1, 3, 2, 3, 3)),
]


@pytest.mark.filterwarnings("ignore:input's size at dim")  # PyTorch's lazy norm without parameters keeps 0 features
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize(("name", "kwargs", "shape"), _NORMS)
def test_lazy_norms_match_pytorch(name, kwargs, shape, train):
    x = np.random.default_rng(len(shape)).standard_normal(shape) * 2 + 0.5
    ours = getattr(nn, "Lazy" + name)(**kwargs, dtype="float64")
    theirs = getattr(torch.nn, "Lazy" + name)(**kwargs, dtype=torch.float64)
    _compare_with_pytorch(ours, theirs, x, train)
    assert ours.num_features == shape[1]


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_lazy_instance_norm_unbatched_input(dims):
    # PyTorch's lazy norms take input.shape[1] even for an unbatched (C, ...) input, then refuse that input
    # (affine) or warn (not affine); minigrad takes the channel dimension, as the eager module reads it
    shape = (3,) + (4, 3, 2)[:dims]
    x = mg.tensor(np.random.default_rng(dims).standard_normal(shape))
    lazy = getattr(nn, f"LazyInstanceNorm{dims}d")()
    out = lazy(x)
    assert lazy.num_features == 3
    eager = getattr(nn, f"InstanceNorm{dims}d")(3, affine=True, track_running_stats=True)
    eager.load_state_dict(lazy.state_dict())
    np.testing.assert_array_equal(out.numpy(), eager(x).numpy())


_CONV_TRANSPOSES = [
    ("ConvTranspose1d", (4, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 3, 5)),
    ("ConvTranspose1d", (4, 2), {"groups": 2, "bias": False}, (4, 6)),  # unbatched (C, L)
    ("ConvTranspose2d", (2, 3), {"stride": (2, 1), "dilation": 2}, (1, 3, 4, 3)),
    ("ConvTranspose3d", (2, 2), {"groups": 2, "padding": 1}, (1, 4, 3, 3, 2)),
]


def test_lazy_conv3d_matches_pytorch():
    x = np.random.default_rng(3).standard_normal((1, 4, 4, 3, 3))
    ours = nn.LazyConv3d(2, 2, groups=2, padding=1, dtype="float64")
    _compare_with_pytorch(ours, torch.nn.LazyConv3d(2, 2, groups=2, padding=1, dtype=torch.float64), x)
    assert ours.in_channels == 4 and ours.weight.shape == (2, 2, 2, 2, 2)


@pytest.mark.parametrize(("name", "args", "kwargs", "shape"), _CONV_TRANSPOSES)
def test_lazy_conv_transpose_matches_pytorch(name, args, kwargs, shape):
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    ours = getattr(nn, "Lazy" + name)(*args, **kwargs, dtype="float64")
    theirs = getattr(torch.nn, "Lazy" + name)(*args, **kwargs, dtype=torch.float64)
    _compare_with_pytorch(ours, theirs, x)
    in_channels = shape[1] if len(shape) == int(name[-2]) + 2 else shape[0]
    assert ours.in_channels == in_channels
    assert ours.weight.shape == (in_channels, args[0] // kwargs.get("groups", 1)) + ours.kernel_size


def test_lazy_conv_transpose_output_size_and_initialisation():
    lazy = nn.LazyConvTranspose2d(3, 3, stride=2)
    x = mg.randn(1, 2, 4, 4)
    out = lazy(x, output_size=(10, 10))  # forward keyword arguments pass through the first call
    assert type(lazy) is nn.ConvTranspose2d and out.shape == (1, 3, 10, 10)
    bound = 1 / np.sqrt(3 * 9)  # ConvTranspose's bias bound: fan_in = weight.shape[1] * kernel
    assert np.abs(lazy.bias.numpy()).max() <= bound
    eager = nn.ConvTranspose2d(2, 3, 3, stride=2)
    eager.load_state_dict(lazy.state_dict())
    np.testing.assert_array_equal(eager(x, output_size=(10, 10)).numpy(), out.numpy())


def test_lazy_modules_are_empty_until_the_first_forward_and_infer_from_it():
    for lazy in (nn.LazyBatchNorm2d(), nn.LazyInstanceNorm1d(), nn.LazyConvTranspose1d(2, 3)):
        assert list(lazy.parameters()) == [] and list(lazy.buffers()) == []
    bn = nn.LazyBatchNorm1d()
    bn(mg.randn(5, 4))
    assert type(bn) is nn.BatchNorm1d and bn.num_features == 4 and bn.num_batches_tracked.item() == 1
    assert [tuple(p.shape) for p in bn.parameters()] == [(4,), (4,)]
    plain = nn.LazyInstanceNorm2d(affine=False, track_running_stats=False)
    plain(mg.randn(2, 3, 4, 4))
    assert type(plain) is nn.InstanceNorm2d and list(plain.state_dict()) == []


def test_lazy_modules_inside_a_parent_load_a_state_dict_as_pytorch():
    source = nn.Sequential(nn.Conv1d(2, 4, 3), nn.BatchNorm1d(4), nn.ConvTranspose1d(4, 3, 2), nn.Linear(7, 2),
                           nn.InstanceNorm1d(3, affine=True, track_running_stats=True))
    source(mg.randn(2, 2, 8))  # running statistics away from their initial values
    model = nn.Sequential(nn.LazyConv1d(4, 3), nn.LazyBatchNorm1d(), nn.LazyConvTranspose1d(3, 2), nn.LazyLinear(2),
                          nn.LazyInstanceNorm1d())
    result = model.load_state_dict(source.state_dict())
    assert result == nn.IncompatibleKeys([], [])
    assert [type(m) for m in model] == [type(m) for m in source]
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value.numpy())
    x = mg.randn(3, 2, 8)
    np.testing.assert_array_equal(model.eval()(x).numpy(), source.eval()(x).numpy())

    theirs = torch.nn.Sequential(torch.nn.LazyLinear(3), torch.nn.LazyBatchNorm1d())
    ours = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    reference = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.BatchNorm1d(3)).double()
    theirs.load_state_dict(reference.state_dict())
    ours.load_state_dict(_state_of(reference))
    x = np.random.default_rng(0).standard_normal((4, 5))
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs.double()(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10)


def test_lazy_load_failures_leave_the_model_unchanged():
    model = nn.Sequential(nn.LazyLinear(3), nn.ReLU(), nn.LazyBatchNorm1d())
    bad = {"0.weight": mg.zeros(3, 5), "0.bias": mg.zeros(4), "2.weight": mg.ones(3), "2.bias": mg.zeros(3),
           "2.running_mean": mg.zeros(3), "2.running_var": mg.ones(3), "2.num_batches_tracked": mg.tensor(0)}
    with pytest.raises(nn.StateDictError, match=r"size mismatch for '0.bias': the checkpoint has shape \(4,\)"):
        model.load_state_dict(bad)
    assert type(model[0]) is nn.LazyLinear and type(model[2]) is nn.LazyBatchNorm1d
    assert list(model.parameters()) == [] and list(model.buffers()) == []
    model(mg.randn(2, 6))  # still lazy: the dry run works afterwards
    assert model[0].in_features == 6 and model[2].num_features == 3


def test_lazy_modules_missing_from_the_checkpoint():
    model = nn.Sequential(nn.LazyLinear(3), nn.LazyConvTranspose2d(4, 2, groups=2))
    with pytest.raises(nn.StateDictError, match=r"missing key\(s\): '0.weight', '0.bias', '1.weight', '1.bias'"):
        model.load_state_dict({})
    with pytest.raises(nn.StateDictError, match="dry run"):
        nn.LazyBatchNorm2d().load_state_dict({})
    mg.manual_seed(5)
    assert model.load_state_dict({}, strict=False).missing_keys == ["0.weight", "0.bias", "1.weight", "1.bias"]
    after = mg.rand(3).numpy()
    mg.manual_seed(5)
    np.testing.assert_array_equal(after, mg.rand(3).numpy())  # the random stream is untouched
    assert type(model[0]) is nn.LazyLinear and list(model.parameters()) == []
    theirs = torch.nn.Sequential(torch.nn.LazyLinear(3))
    with pytest.raises(RuntimeError, match="Missing key"):  # PyTorch reports them too
        theirs.load_state_dict({})


def test_lazy_module_loaded_directly_keeps_hooks_and_mode():
    eager = nn.InstanceNorm3d(2, affine=True, track_running_stats=True)
    lazy = nn.LazyInstanceNorm3d().eval()
    seen = []
    lazy.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    lazy.load_state_dict(eager.state_dict())
    assert type(lazy) is nn.InstanceNorm3d and lazy.num_features == 2 and not lazy.training
    lazy(mg.randn(1, 2, 2, 2, 2))
    assert seen == [(1, 2, 2, 2, 2)]


def test_lazy_errors():
    with pytest.raises(ShapeError, match=r"LazyBatchNorm2d: expected a 4-D input, got shape \(2, 3\)"):
        nn.LazyBatchNorm2d()(mg.randn(2, 3))
    with pytest.raises(ShapeError, match=r"LazyInstanceNorm1d: expected a 2-D or 3-D input, got shape \(4,\)"):
        nn.LazyInstanceNorm1d()(mg.randn(4))
    with pytest.raises(ShapeError, match="LazyConvTranspose3d: expected a 4-D or 5-D input"):
        nn.LazyConvTranspose3d(2, 2)(mg.randn(2, 3, 4))
    lazy = nn.LazyBatchNorm1d(bias=False)  # PyTorch 2.13's keyword: the weight without a bias
    lazy(mg.randn(4, 3))
    assert lazy.bias is None and list(lazy.state_dict()) == ["weight", "running_mean", "running_var",
                                                             "num_batches_tracked"]
    with pytest.raises(ValueError, match="ConvTranspose1d: groups=2 must divide in_channels=3"):
        nn.LazyConvTranspose1d(4, 2, groups=2)(mg.randn(1, 3, 5))
    with pytest.raises(ValueError, match='LazyConvTranspose2d: only "zeros" padding_mode is supported'):
        nn.LazyConvTranspose2d(2, 3, padding_mode="reflect")
    with pytest.raises(TypeError, match="LazyBatchNorm3d: the first forward needs an input tensor"):
        nn.LazyBatchNorm3d()()


# -- fractional max pooling -----------------------------------------------------------------------------------
def _fractional(dims: int, ours: bool):
    if ours:
        return nn.functional.fractional_max_pool2d if dims == 2 else nn.functional.fractional_max_pool3d
    return torch.nn.functional.fractional_max_pool2d if dims == 2 else torch.nn.functional.fractional_max_pool3d


_FRACTIONAL = [
    (2, (2, 3, 7, 8), 2, {"output_size": (3, 4)}), (2, (3, 10, 7), (3, 2), {"output_size": (5, 3)}),
    (2, (1, 2, 9, 9), 3, {"output_ratio": (0.5, 0.7)}), (2, (8, 8, 25, 25), 2, {"output_size": 13}),
    (2, (1, 1, 5, 5), 2, {"output_size": (4, 1)}),
    (3, (1, 2, 5, 6, 7), 2, {"output_size": (3, 4, 3)}), (3, (2, 6, 7, 5), (2, 3, 2), {"output_ratio": 0.5}),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("dims", "shape", "kernel", "kwargs"), _FRACTIONAL)
def test_fractional_max_pool_matches_pytorch(dims, shape, kernel, kwargs, dtype):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(dtype)
    batch = shape[0] if len(shape) == dims + 2 else 1
    samples = rng.random((batch, shape[-dims - 1], dims)).astype(dtype)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_m, idx_m = _fractional(dims, True)(xm, kernel, return_indices=True, _random_samples=mg.tensor(samples),
                                           **kwargs)
    out_t, idx_t = _fractional(dims, False)(xt, kernel, return_indices=True, _random_samples=torch.tensor(samples),
                                            **kwargs)
    assert out_m.dtype == np.dtype(dtype) and idx_m.dtype == np.int64
    np.testing.assert_array_equal(out_m.numpy(), out_t.detach().numpy())
    np.testing.assert_array_equal(idx_m.numpy(), idx_t.numpy())
    g = rng.standard_normal(tuple(out_t.shape)).astype(dtype)
    (out_m * mg.tensor(g)).sum().backward()
    (out_t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-6 if dtype == "float32" else 1e-14,
                               atol=0)


@pytest.mark.parametrize("dims", [2, 3])
def test_fractional_max_pool_nan_inf_and_ties_match_pytorch(dims):
    rng = np.random.default_rng(dims)
    shape = (2, 3) + (6,) * dims
    x = rng.integers(-2, 3, shape).astype(np.float64)  # many ties
    x[rng.random(shape) < 0.15] = np.nan
    x[rng.random(shape) < 0.1] = -np.inf
    x[0, 0] = -np.inf  # whole windows of -inf
    samples = rng.random((2, 3, dims))
    kwargs = {"output_size": 3, "return_indices": True}
    out_m, idx_m = _fractional(dims, True)(mg.tensor(x), 2, _random_samples=mg.tensor(samples), **kwargs)
    out_t, idx_t = _fractional(dims, False)(torch.tensor(x), 2, _random_samples=torch.tensor(samples), **kwargs)
    np.testing.assert_array_equal(out_m.numpy(), out_t.numpy())
    np.testing.assert_array_equal(idx_m.numpy(), idx_t.numpy())


@pytest.mark.parametrize("dims", [2, 3])
def test_fractional_max_pool_gradcheck_and_indices(dims):
    rng = np.random.default_rng(10 + dims)
    shape = (1, 2) + (5,) * dims
    x = rng.permutation(np.prod(shape)).reshape(shape) / 7.0  # distinct values: no ties for finite differences
    samples = mg.tensor(rng.random((1, 2, dims)))
    pool = _fractional(dims, True)
    leaf = mg.tensor(x, requires_grad=True)
    assert mg.gradcheck(lambda t: pool(t, 2, output_size=3, _random_samples=samples), (leaf,))
    out, idx = pool(mg.tensor(x), 2, output_size=3, _random_samples=samples, return_indices=True)
    flat = x.reshape(1, 2, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(1, 2, -1), 2),
                                  out.numpy().reshape(1, 2, -1))


def test_fractional_max_pool_windows_follow_pytorchs_formula():
    # start_i = int((i + u) alpha) - int(u alpha), alpha = (n - k) / (o - 1); the last window ends at the input's end
    x = mg.tensor(np.arange(10.0).reshape(1, 1, 1, 10))  # increasing: each window's maximum is its last element
    u = 0.3
    out, idx = nn.functional.fractional_max_pool2d(x, (1, 2), output_size=(1, 4), return_indices=True,
                                                   _random_samples=mg.tensor([[[u, 0.5]]], dtype="float64"))
    alpha = (10 - 2) / 3
    starts = [int((i + u) * alpha) - int(u * alpha) for i in range(3)] + [8]
    assert idx.numpy().ravel().tolist() == [s + 1 for s in starts]
    np.testing.assert_array_equal(out.numpy().ravel(), np.array(starts, dtype=float) + 1)


def test_fractional_max_pool_default_samples_and_module():
    mg.manual_seed(0)
    x = mg.randn(2, 3, 9, 9)
    a = nn.functional.fractional_max_pool2d(x, 2, output_ratio=0.5)
    mg.manual_seed(0)
    x2 = mg.randn(2, 3, 9, 9)
    np.testing.assert_array_equal(nn.functional.fractional_max_pool2d(x2, 2, output_ratio=0.5).numpy(), a.numpy())
    assert a.shape == (2, 3, 4, 4)
    samples = mg.rand(4, 3, 2)  # more samples than batches: the first ones are used, as PyTorch
    module = nn.FractionalMaxPool2d(2, output_size=(4, 5), return_indices=True, _random_samples=samples)
    assert list(module.state_dict()) == ["_random_samples"]
    out, idx = module(x)
    ref_out, ref_idx = nn.functional.fractional_max_pool2d(x, 2, (4, 5), None, True, samples[:2])
    np.testing.assert_array_equal(out.numpy(), ref_out.numpy())
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())
    module3 = nn.FractionalMaxPool3d((1, 2, 2), output_ratio=(0.5, 0.5, 0.6))
    assert module3(mg.randn(2, 4, 4, 5)).shape == (2, 2, 2, 3)
    empty = nn.functional.fractional_max_pool2d(x, 1, output_size=(0, 3), _random_samples=samples[:2])
    assert empty.shape == (2, 3, 0, 3)


def test_fractional_max_pool_errors():
    F = nn.functional  # noqa: N806 - PyTorch's convention
    x = mg.randn(2, 3, 7, 8)
    with pytest.raises(ValueError, match="fractional_max_pool2d requires specifying either an output_size or an"):
        F.fractional_max_pool2d(x, 2)
    with pytest.raises(ValueError, match=r"fractional_max_pool2d\(\): pool height 2 too large relative to input "
                                         r"height 7 \(output height 7\)"):
        F.fractional_max_pool2d(x, 2, output_size=7)
    with pytest.raises(TypeError, match="expected _random_samples to have the input's dtype float32, got float64"):
        F.fractional_max_pool2d(x, 2, output_size=3, _random_samples=mg.rand(2, 3, 2, dtype="float64"))
    with pytest.raises(ShapeError, match=r"_random_samples of shape \(1, 3, 2\) does not fit an input of shape "
                                         r"\(2, 3, 7, 8\): expected \(N' >= 2, 3, 2\)"):
        F.fractional_max_pool2d(x, 2, output_size=3, _random_samples=mg.rand(1, 3, 2))
    with pytest.raises(ShapeError, match=r"_random_samples to be a 3-D tensor \(N, C, 3\), got \(6, 3\)"):
        F.fractional_max_pool3d(mg.randn(1, 2, 5, 5, 5), 2, output_size=3, _random_samples=mg.rand(6, 3))
    with pytest.raises(ValueError, match="_random_samples must be finite and non-negative"):
        F.fractional_max_pool2d(x, 2, output_size=3, _random_samples=-mg.rand(2, 3, 2))
    with pytest.raises(ShapeError, match=r"fractional_max_pool2d\(\): expected a 3-D or 4-D input, got shape \(3, 7\)"):
        F.fractional_max_pool2d(mg.randn(3, 7), 2, output_size=3)
    with pytest.raises(TypeError, match="expected a floating input, got int64"):
        F.fractional_max_pool2d(mg.tensor(np.zeros((1, 1, 4, 4), np.int64)), 2, output_size=2)
    with pytest.raises(ValueError, match="FractionalMaxPool2d requires specifying either an output size"):
        nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match="only one of output_size and output_ratio may be specified"):
        nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5)
    with pytest.raises(ValueError, match=r"output_ratio must be between 0 and 1 \(got 1.5\)"):
        nn.FractionalMaxPool3d(2, output_ratio=1.5)
    with pytest.raises(ValueError, match="kernel_size must be greater than 0, but got 0"):
        nn.FractionalMaxPool2d(0, output_size=2)


# -- AdaptiveLogSoftmaxWithLoss -------------------------------------------------------------------------------
def _adaptive_pair(in_features=8, n_classes=20, cutoffs=(4, 10, 15), **kwargs):
    """PyTorch's module and ours with PyTorch's (float64) weights."""
    with warnings.catch_warnings():  # a cluster projection of 8 // 4**3 = 0 features: PyTorch warns at its init
        warnings.simplefilter("ignore", UserWarning)
        theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, list(cutoffs), **kwargs).double()
    ours = nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, **kwargs, dtype="float64")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(_state_of(theirs))
    return ours, theirs


@pytest.mark.parametrize(("kwargs", "targets"), [
    ({"div_value": 2.0, "head_bias": True}, [7, 17, 7, 16, 4, 9, 6, 4, 17, 16, 2, 18]),  # cluster 10..15 empty
    ({}, [0, 3, 4, 9, 10, 14, 15, 19, 1]),  # every cluster and both ends of each
    ({"cutoffs": (5,), "div_value": 1.5}, [0, 1, 2, 3, 4, 2]),  # shortlist only
])
def test_adaptive_log_softmax_forward_and_gradients_match_pytorch(kwargs, targets):
    cutoffs = kwargs.pop("cutoffs", (4, 10, 15))
    ours, theirs = _adaptive_pair(cutoffs=cutoffs, **kwargs)
    rng = np.random.default_rng(len(targets))
    x, y = rng.standard_normal((len(targets), 8)), np.array(targets)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_m, loss_m = ours(xm, mg.tensor(y))
    out_t, loss_t = theirs(xt, torch.tensor(y))
    np.testing.assert_allclose(out_m.numpy(), out_t.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(loss_m.item(), loss_t.item(), rtol=1e-13)
    g = rng.standard_normal(len(targets))
    ((out_m * mg.tensor(g)).sum() + loss_m * 0.7).backward()
    ((out_t * torch.tensor(g)).sum() + loss_t * 0.7).backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        if p.grad is None:  # a cluster without targets in the batch: no gradient in either
            assert params[name].grad is None
        else:
            np.testing.assert_allclose(params[name].grad.numpy(), p.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_adaptive_log_softmax_is_a_distribution_with_exact_gradients():
    mg.manual_seed(3)
    ours = nn.AdaptiveLogSoftmaxWithLoss(8, 20, [4, 10, 15], div_value=2.0, dtype="float64")
    x = np.random.default_rng(1).standard_normal((5, 8))
    log_prob = ours.log_prob(mg.tensor(x))
    np.testing.assert_allclose(np.exp(log_prob.numpy()).sum(1), 1.0, rtol=1e-14)
    y = np.array([0, 5, 11, 19, 3])
    out, loss = ours(mg.tensor(x), mg.tensor(y))  # the targets' entries of the full distribution
    np.testing.assert_allclose(out.numpy(), log_prob.numpy()[np.arange(5), y], rtol=1e-13)
    np.testing.assert_allclose(loss.item(), -out.numpy().mean(), rtol=1e-15)
    target = mg.tensor(y)
    assert mg.gradcheck(lambda t: ours(t, target).output, (mg.tensor(x, requires_grad=True),))
    assert mg.gradcheck(lambda t: ours.log_prob(t), (mg.tensor(x[:2], requires_grad=True),))


def test_adaptive_log_softmax_unbatched_and_log_prob_match_pytorch():
    ours, theirs = _adaptive_pair()
    x = np.random.default_rng(1).standard_normal((5, 8))
    single_m, single_t = ours(mg.tensor(x[0]), mg.tensor(12)), theirs(torch.tensor(x[0]), torch.tensor(12))
    assert type(single_m).__name__ == "_ASMoutput" and single_m._fields == ("output", "loss")
    assert single_m.output.shape == () and single_m.loss.shape == ()
    np.testing.assert_allclose(single_m.output.item(), single_t.output.item(), rtol=1e-13)
    np.testing.assert_allclose(ours.log_prob(mg.tensor(x)).numpy(),
                               theirs.log_prob(torch.tensor(x)).detach().numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("cluster_bias", [-30.0, 0.0, 30.0])  # all in the shortlist, mixed, none in it
def test_adaptive_log_softmax_predict_matches_pytorch(cluster_bias):
    ours, theirs = _adaptive_pair(head_bias=True)
    with torch.no_grad():
        theirs.head.bias[4:] += cluster_bias
    ours.load_state_dict(_state_of(theirs))
    x = np.random.default_rng(2).standard_normal((16, 8)) * 2
    predicted = ours.predict(mg.tensor(x))
    in_shortlist = int((ours.head(mg.tensor(x)).numpy().argmax(1) < 4).sum())
    assert in_shortlist == 16 if cluster_bias < 0 else in_shortlist == 0 if cluster_bias > 0 else 0 < in_shortlist < 16
    assert predicted.dtype == np.int64
    np.testing.assert_array_equal(predicted.numpy(), theirs.predict(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(predicted.numpy(), ours.log_prob(mg.tensor(x)).numpy().argmax(1))


def test_adaptive_log_softmax_errors():
    with pytest.raises(ValueError, match="cutoffs should be a sequence of length larger than 0"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [])
    for cutoffs in ([5, 3], [0, 4], [4, 10], [4, 4], [2.5]):
        with pytest.raises(ValueError, match="cutoffs should be a sequence of unique, positive integers"):
            nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs)
    module = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [4])
    x = mg.randn(3, 8)
    with pytest.raises(IndexError, match=r"target values should be in \[0, 9\], but values in range \[0, 10\]"):
        module(x, mg.tensor([0, 10, 3]))
    with pytest.raises(ShapeError, match=r"a 1-D target expects a 2-D input with the same batch size, got input "
                                         r"\(3, 8\) and target \(2,\)"):
        module(x, mg.tensor([0, 1]))
    with pytest.raises(ShapeError, match=r"a 0-D target expects a 1-D input, got input \(3, 8\)"):
        module(x, mg.tensor(1))
    with pytest.raises(ShapeError, match="multi-target not supported"):
        module(x, mg.tensor([[1, 2, 3]]))
    with pytest.raises(ShapeError, match=r"expected input with 8 features, got \(3, 5\)"):
        module(mg.randn(3, 5), mg.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="target must be an integer tensor, got float32"):
        module(x, mg.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ShapeError, match=r"AdaptiveLogSoftmaxWithLoss.predict: expected a \(N, 8\) input"):
        module.predict(mg.randn(8))
