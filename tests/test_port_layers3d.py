"""The 3-D conv-net layers (F.conv3d, F.conv_transpose3d, the 3-D max/avg/adaptive pools, F.dropout3d and the
modules Conv3d, ConvTranspose3d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d/AdaptiveMaxPool3d, InstanceNorm3d,
Dropout3d, the 3-D padding modules): PyTorch's forward values and gradients on the same inputs (float64, random
upstream gradients, double backward), float64 finite differences, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
import minigrad.nn.functional as F  # noqa: N812
from minigrad import nn
from minigrad.errors import ShapeError

TIGHT = {"rtol": 1e-10, "atol": 1e-10}


def _pair(array, requires_grad=True):
    array = np.array(array, dtype=np.float64)
    return (mg.tensor(array.copy(), requires_grad=requires_grad),
            torch.tensor(array.copy(), requires_grad=requires_grad))


def _agree(mg_fn, torch_fn, arrays, rng, *, create_graph=True):
    """Forward, gradients for a random upstream gradient and the gradient of a random projection of those
    gradients (double backward): each equal to PyTorch's on the same inputs."""
    pairs = [_pair(a) for a in arrays]
    ours = mg_fn(*[m for m, _ in pairs])
    theirs = torch_fn(*[t for _, t in pairs])
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **TIGHT)
    g = rng.standard_normal(ours.shape)
    ours_g = mg.grad(ours, [m for m, _ in pairs], mg.tensor(g), create_graph=create_graph)
    theirs_g = torch.autograd.grad(theirs, [t for _, t in pairs], torch.tensor(g), create_graph=create_graph)
    for a, b in zip(ours_g, theirs_g):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TIGHT)
    if not create_graph:
        return
    weights = [rng.standard_normal(a.shape) for a in ours_g]
    ours_proj = sum((a * mg.tensor(w)).sum() for a, w in zip(ours_g, weights))
    theirs_proj = sum((b * torch.tensor(w)).sum() for b, w in zip(theirs_g, weights))
    if not ours_proj.requires_grad:  # linear in every input (a pool): PyTorch's second-order terms are zero too
        theirs_gg = torch.autograd.grad(theirs_proj, [t for _, t in pairs], allow_unused=True) \
            if theirs_proj.requires_grad else []
        assert all(b is None or not b.any() for b in theirs_gg)
        return
    ours_gg = mg.grad(ours_proj, [m for m, _ in pairs], allow_unused=True)
    theirs_gg = torch.autograd.grad(theirs_proj, [t for _, t in pairs], allow_unused=True)
    for a, b in zip(ours_gg, theirs_gg):
        if b is None:
            assert a is None or not np.any(a.numpy())
        else:
            np.testing.assert_allclose(a.numpy(), b.numpy(), **TIGHT)


def _gradchecks(fn, arrays):
    args = [mg.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    mg.gradcheck(fn, args)
    mg.gradgradcheck(fn, args)


# -- conv3d ------------------------------------------------------------------------------------------------------
CONV3D = [  # (input shape, weight shape, bias, kwargs)
    ((2, 4, 5, 6, 7), (6, 2, 2, 3, 2), True, {"stride": (1, 2, 1), "padding": (1, 0, 1), "dilation": (2, 1, 1),
                                              "groups": 2}),
    ((1, 3, 4, 5, 4), (2, 3, 3, 3, 3), False, {"padding": 1}),  # window volume 81: the batch-inner layout
    ((2, 2, 5, 4, 6), (4, 1, 3, 2, 3), True, {"padding": "same", "dilation": (1, 2, 1), "groups": 2}),
    ((1, 2, 5, 5, 5), (3, 2, 2, 2, 3), True, {"padding": "same"}),  # even kernels: one more after the input
    ((2, 2, 4, 4, 4), (3, 2, 2, 2, 2), True, {"padding": "valid", "stride": 2}),
    ((3, 3, 4, 5), (2, 3, 2, 2, 2), True, {"padding": 1}),  # unbatched (C, D, H, W)
]


@pytest.mark.parametrize("case", range(len(CONV3D)))
def test_conv3d_matches_torch(case):
    xs, ws, has_bias, kwargs = CONV3D[case]
    rng = np.random.default_rng(case)
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)] + ([rng.standard_normal(ws[0])] if has_bias else [])
    _agree(lambda *t: F.conv3d(*t, **kwargs), lambda *t: torch.nn.functional.conv3d(*t, **kwargs), arrays, rng)


def test_conv3d_gradcheck():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((1, 2, 3, 3, 4)), rng.standard_normal((2, 1, 2, 2, 2)), rng.standard_normal(2)]
    _gradchecks(lambda x, w, b: F.conv3d(x, w, b, stride=(1, 1, 2), padding=(1, 0, 1), groups=2), arrays)
    arrays = [rng.standard_normal((1, 1, 3, 3, 3)), rng.standard_normal((1, 1, 2, 2, 2))]
    _gradchecks(lambda x, w: F.conv3d(x, w, padding="same"), arrays)


def test_conv3d_numba_backend_matches_numpy():
    pytest.importorskip("numba")
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 4, 4, 5, 6)), rng.standard_normal((4, 2, 3, 2, 3)), rng.standard_normal(4)
    outs = []
    for backend in ("numpy", "numba"):
        xt, wt = mg.tensor(x, backend=backend, requires_grad=True), mg.tensor(w, backend=backend, requires_grad=True)
        y = F.conv3d(xt, wt, mg.tensor(b, backend=backend), padding=1, groups=2)
        y.backward(mg.tensor(np.cos(np.arange(y.numel()).reshape(y.shape)), backend=backend))
        outs.append((y.numpy(), xt.grad.numpy(), wt.grad.numpy()))
    for a, b_ in zip(*outs):
        np.testing.assert_allclose(a, b_, **TIGHT)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [(1, 0, 2), "same"])
def test_conv3d_module_matches_torch(mode, padding):
    torch.manual_seed(0)
    theirs = torch.nn.Conv3d(2, 4, (3, 2, 3), padding=padding, padding_mode=mode, groups=2).double()
    ours = nn.Conv3d(2, 4, (3, 2, 3), padding=padding, padding_mode=mode, groups=2, dtype="float64")
    ours.weight.data = mg.tensor(theirs.weight.detach().numpy().copy())
    ours.bias.data = mg.tensor(theirs.bias.detach().numpy().copy())
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 4, 5, 6))
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), **TIGHT)
    assert ours.weight.shape == tuple(theirs.weight.shape) and repr(ours) == repr(theirs)


def test_conv3d_module_init_bounds():
    layer = nn.Conv3d(3, 8, 3)
    bound = 1 / np.sqrt(3 * 27)
    assert layer.weight.shape == (8, 3, 3, 3, 3) and np.abs(layer.weight.numpy()).max() <= bound
    assert np.abs(layer.bias.numpy()).max() <= bound


def test_conv3d_errors():
    x, w = mg.zeros(1, 4, 3, 3, 3), mg.zeros(2, 2, 2, 2, 2)
    with pytest.raises(ShapeError, match="conv3d: expected a 4-D"):
        F.conv3d(mg.zeros(4, 3, 3), mg.zeros(2, 4, 2, 2, 2))
    with pytest.raises(ShapeError, match="conv3d: weight must be 5-D"):
        F.conv3d(x, mg.zeros(2, 4, 2, 2))
    with pytest.raises(ShapeError, match="4 channels"):
        F.conv3d(x, w)
    with pytest.raises(ValueError, match="groups=3"):
        F.conv3d(x, w, groups=3)
    with pytest.raises(ValueError, match="strided"):
        F.conv3d(x, w, stride=2, padding="same", groups=2)
    with pytest.raises(ShapeError, match="too small"):
        F.conv3d(mg.zeros(1, 4, 1, 3, 3), w, groups=2)
    with pytest.raises(ShapeError, match="bias"):
        F.conv3d(x, w, mg.zeros(3), groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv3d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="strided"):
        nn.Conv3d(2, 2, 3, stride=2, padding="same")


# -- conv_transpose3d --------------------------------------------------------------------------------------------
CONVT3D = [
    ((2, 4, 3, 2, 3), (4, 3, 2, 3, 2), True, {"stride": (2, 1, 3), "padding": (1, 0, 1), "output_padding": (1, 0, 2),
                                              "groups": 2, "dilation": (1, 2, 1)}),
    ((1, 2, 2, 3, 2), (2, 2, 3, 3, 3), False, {"stride": 2, "padding": 1, "output_padding": 1}),
    ((2, 2, 2, 2), (2, 1, 2, 2, 2), True, {"dilation": 2, "output_padding": 1}),  # output_padding < dilation
    ((2, 3, 3, 2, 2), (3, 2, 1, 2, 2), True, {}),
]


@pytest.mark.parametrize("case", range(len(CONVT3D)))
def test_conv_transpose3d_matches_torch(case):
    xs, ws, has_bias, kwargs = CONVT3D[case]
    rng = np.random.default_rng(10 + case)
    bias_size = ws[1] * kwargs.get("groups", 1)
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)] + ([rng.standard_normal(bias_size)] if has_bias else [])
    _agree(lambda *t: F.conv_transpose3d(*t, **kwargs), lambda *t: torch.nn.functional.conv_transpose3d(*t, **kwargs),
           arrays, rng)


def test_conv_transpose3d_gradcheck():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((1, 2, 2, 2, 2)), rng.standard_normal((2, 1, 2, 1, 2)), rng.standard_normal(2)]
    kwargs = {"stride": (2, 1, 2), "padding": (0, 0, 1), "output_padding": (1, 0, 1), "groups": 2}
    _gradchecks(lambda x, w, b: F.conv_transpose3d(x, w, b, **kwargs), arrays)


def test_conv_transpose3d_module_matches_torch():
    torch.manual_seed(1)
    theirs = torch.nn.ConvTranspose3d(2, 4, (2, 3, 2), stride=2, padding=(1, 0, 0), groups=2).double()
    ours = nn.ConvTranspose3d(2, 4, (2, 3, 2), stride=2, padding=(1, 0, 0), groups=2, dtype="float64")
    ours.weight.data = mg.tensor(theirs.weight.detach().numpy().copy())
    ours.bias.data = mg.tensor(theirs.bias.detach().numpy().copy())
    x = np.random.default_rng(4).standard_normal((1, 2, 3, 3, 3))
    for size in (None, (5, 7, 6), (1, 4, 5, 8, 7)):
        np.testing.assert_allclose(ours(mg.tensor(x), output_size=size).numpy(),
                                   theirs(torch.tensor(x), output_size=size).detach().numpy(), **TIGHT)
    assert repr(ours) == repr(theirs)


def test_conv_transpose3d_errors():
    x = mg.zeros(1, 4, 2, 2, 2)
    with pytest.raises(ShapeError, match="conv_transpose3d: expected"):
        F.conv_transpose3d(mg.zeros(4, 2, 2), mg.zeros(4, 1, 2, 2, 2))
    with pytest.raises(ShapeError, match="expects 3"):
        F.conv_transpose3d(x, mg.zeros(3, 1, 2, 2, 2))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose3d(x, mg.zeros(4, 1, 2, 2, 2), output_padding=1)
    with pytest.raises(ValueError, match="groups=3"):
        F.conv_transpose3d(x, mg.zeros(4, 1, 2, 2, 2), groups=3)


# -- pools -------------------------------------------------------------------------------------------------------
MAXPOOL3D = [
    ((2, 3, 5, 6, 7), {"kernel_size": 2}),
    ((1, 2, 5, 6, 7), {"kernel_size": (3, 2, 3), "stride": (2, 1, 2), "padding": (1, 1, 0), "dilation": (1, 2, 1)}),
    ((1, 2, 5, 6, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ((2, 4, 6, 5), {"kernel_size": (2, 3, 2), "stride": (2, 2, 3), "ceil_mode": True}),  # unbatched
    ((1, 1, 6, 6, 6), {"kernel_size": 2, "stride": 3, "ceil_mode": True}),  # a last window past the padding
]


@pytest.mark.parametrize("case", range(len(MAXPOOL3D)))
def test_max_pool3d_matches_torch(case):
    shape, kwargs = MAXPOOL3D[case]
    rng = np.random.default_rng(20 + case)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.1 - 5.0  # distinct: one maximum per window
    _agree(lambda t: F.max_pool3d(t, **kwargs), lambda t: torch.nn.functional.max_pool3d(t, **kwargs), [x], rng)
    values, indices = F.max_pool3d(mg.tensor(x), **kwargs, return_indices=True)
    tv, ti = torch.nn.functional.max_pool3d(torch.tensor(x), **kwargs, return_indices=True)
    np.testing.assert_array_equal(values.numpy(), tv.numpy())
    np.testing.assert_array_equal(indices.numpy(), ti.numpy())
    assert indices.dtype == np.int64


def test_max_pool3d_ties_send_gradient_to_first_maximum():
    x = np.zeros((1, 1, 2, 2, 2))
    ours, theirs = _pair(x)
    F.max_pool3d(ours, 2).sum().backward()
    torch.nn.functional.max_pool3d(theirs, 2).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


AVGPOOL3D = [
    ((2, 3, 5, 6, 7), {"kernel_size": 2}),
    ((1, 2, 5, 6, 7), {"kernel_size": (3, 2, 3), "stride": (2, 1, 2), "padding": (1, 1, 0)}),
    ((1, 2, 5, 6, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    ((1, 2, 5, 6, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ((1, 2, 5, 6, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}),
    ((2, 5, 6, 5), {"kernel_size": (2, 3, 2), "stride": (2, 2, 3), "ceil_mode": True}),
    ((1, 1, 6, 6, 6), {"kernel_size": 2, "stride": 3, "ceil_mode": True, "padding": 1}),
    ((1, 2, 4, 4, 4), {"kernel_size": 3, "padding": 1, "divisor_override": 5}),
]


@pytest.mark.parametrize("case", range(len(AVGPOOL3D)))
def test_avg_pool3d_matches_torch(case):
    shape, kwargs = AVGPOOL3D[case]
    rng = np.random.default_rng(30 + case)
    _agree(lambda t: F.avg_pool3d(t, **kwargs), lambda t: torch.nn.functional.avg_pool3d(t, **kwargs),
           [rng.standard_normal(shape)], rng)


@pytest.mark.parametrize("output_size", [(2, 3, 2), 3, (None, 2, 4), (5, 7, 3)])
def test_adaptive_pools_3d_match_torch(output_size):
    rng = np.random.default_rng(40)
    for shape in ((2, 2, 5, 7, 3), (3, 5, 7, 3)):
        x = rng.permutation(np.prod(shape)).reshape(shape) * 0.25
        _agree(lambda t: F.adaptive_avg_pool3d(t, output_size),
               lambda t: torch.nn.functional.adaptive_avg_pool3d(t, output_size), [x], rng)
        _agree(lambda t: F.adaptive_max_pool3d(t, output_size),
               lambda t: torch.nn.functional.adaptive_max_pool3d(t, output_size), [x], rng)
        values, indices = F.adaptive_max_pool3d(mg.tensor(x), output_size, return_indices=True)
        tv, ti = torch.nn.functional.adaptive_max_pool3d(torch.tensor(x), output_size, return_indices=True)
        np.testing.assert_array_equal(values.numpy(), tv.numpy())
        np.testing.assert_array_equal(indices.numpy(), ti.numpy())


def test_pools_3d_gradcheck():
    rng = np.random.default_rng(5)
    x = [rng.permutation(60).reshape(1, 1, 3, 4, 5) * 0.1]
    _gradchecks(lambda t: F.max_pool3d(t, 2, stride=(1, 2, 2), padding=1, ceil_mode=True), x)
    _gradchecks(lambda t: F.avg_pool3d(t, 2, padding=1, ceil_mode=True, count_include_pad=False), x)
    _gradchecks(lambda t: F.adaptive_avg_pool3d(t, (2, 3, 2)), x)
    _gradchecks(lambda t: F.adaptive_max_pool3d(t, (2, 3, 2)), x)


def test_pool_modules_3d_match_torch():
    rng = np.random.default_rng(6)
    x = rng.permutation(2 * 3 * 5 * 6 * 7).reshape(2, 3, 5, 6, 7) * 0.01
    pairs = [(nn.MaxPool3d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool3d(3, 2, 1, ceil_mode=True)),
             (nn.AvgPool3d(2, count_include_pad=False, padding=1), torch.nn.AvgPool3d(2, count_include_pad=False,
                                                                                     padding=1)),
             (nn.AdaptiveAvgPool3d((2, None, 3)), torch.nn.AdaptiveAvgPool3d((2, None, 3))),
             (nn.AdaptiveMaxPool3d(2), torch.nn.AdaptiveMaxPool3d(2))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), **TIGHT)
    values, indices = nn.MaxPool3d(2, return_indices=True)(mg.tensor(x))
    tv, ti = torch.nn.MaxPool3d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(indices.numpy(), ti.numpy())


def test_pools_3d_errors():
    x = mg.zeros(1, 1, 3, 3, 3)
    with pytest.raises(ShapeError, match="max_pool3d: expected a 4-D"):
        F.max_pool3d(mg.zeros(1, 3, 3), 2)
    with pytest.raises(ValueError, match="at most half"):
        F.max_pool3d(x, 2, padding=2)
    with pytest.raises(ShapeError, match="too small"):
        F.avg_pool3d(x, 4)
    with pytest.raises(TypeError, match="floating"):
        F.max_pool3d(mg.zeros(1, 1, 3, 3, 3, dtype="int64"), 2)
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool3d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="kernel_size"):
        F.max_pool3d(x, (2, 2))
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_avg_pool3d(x, (2, 2))
    with pytest.raises(ShapeError, match="adaptive_max_pool3d"):
        F.adaptive_max_pool3d(mg.zeros(3, 3, 3), 2)


# -- instance norm, dropout, padding -----------------------------------------------------------------------------
def test_instance_norm3d_matches_torch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 3, 4, 5))
    torch.manual_seed(0)
    theirs = torch.nn.InstanceNorm3d(3, affine=True, track_running_stats=True).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(rng.standard_normal(3)))
        theirs.bias.copy_(torch.tensor(rng.standard_normal(3)))
    ours = nn.InstanceNorm3d(3, affine=True, track_running_stats=True, dtype="float64")
    ours.weight.data = mg.tensor(theirs.weight.detach().numpy().copy())
    ours.bias.data = mg.tensor(theirs.bias.detach().numpy().copy())
    _agree(ours, theirs, [x], rng)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), **TIGHT)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(mg.tensor(x[0])).numpy(), theirs(torch.tensor(x[0])).detach().numpy(), **TIGHT)


def test_dropout3d_zeroes_whole_channels():
    mg.manual_seed(0)
    x = mg.ones(4, 8, 2, 3, 2, dtype="float64", requires_grad=True)
    y = F.dropout3d(x, 0.5)
    per_channel = y.numpy().reshape(4, 8, -1)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # constant over each channel's volume
    y.backward(mg.ones(*y.shape, dtype="float64"))
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())
    layer = nn.Dropout3d(0.3)
    layer.eval()
    assert layer(x) is x
    assert F.dropout3d(mg.ones(3, 2, 2, 2), 0.5).shape == (3, 2, 2, 2)
    with pytest.raises(ShapeError, match="dropout3d"):
        F.dropout3d(mg.ones(2, 2, 2), 0.5)
    with pytest.raises(ValueError, match="dropout3d: p"):
        F.dropout3d(x, 1.5)


@pytest.mark.parametrize("name", ["ConstantPad3d", "ZeroPad3d", "ReflectionPad3d", "ReplicationPad3d",
                                  "CircularPad3d"])
def test_padding_modules_3d_match_torch(name):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 2, 3, 4, 5))
    for padding in (1, (1, 2, 0, 1, 2, 1)):
        args = (padding, 0.5) if name == "ConstantPad3d" else (padding,)
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        _agree(ours, theirs, [x], rng, create_graph=False)
        _agree(ours, theirs, [x[0]], rng, create_graph=False)
        assert repr(ours) == repr(theirs)
    with pytest.raises(ValueError, match="6 ints"):
        getattr(nn, name)(*(((1, 2), 0.5) if name == "ConstantPad3d" else ((1, 2),)))


def test_upsample_trilinear_matches_torch():
    rng = np.random.default_rng(9)
    for kwargs in ({"scale_factor": 2, "mode": "trilinear"}, {"size": (3, 5, 4), "mode": "trilinear",
                                                               "align_corners": True}):
        _agree(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), [rng.standard_normal((1, 2, 2, 3, 2))], rng)


@pytest.mark.parametrize("pool", ["max_pool3d", "adaptive_max_pool3d"])
def test_max_pools_3d_nan_windows_match_torch(pool):
    """PyTorch's pooling rule takes the last NaN of a window (not max(dim)'s first): indices and gradients agree."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 2, 4, 4, 4))
    x[0, 0, 0, 0, :2] = np.nan
    x[0, 1, 1, 1, 1] = x[0, 1, 0, 1, 1] = np.nan
    args = (2,) if pool == "max_pool3d" else ((2, 2, 2),)
    ours, theirs = _pair(x)
    values, indices = getattr(F, pool)(ours, *args, return_indices=True)
    tv, ti = getattr(torch.nn.functional, pool)(theirs, *args, return_indices=True)
    np.testing.assert_array_equal(values.detach().numpy(), tv.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), ti.numpy())
    g = rng.standard_normal(values.shape)
    values.backward(mg.tensor(g))
    tv.backward(torch.tensor(g))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_modules_3d_reprs_and_unbatched_padding_modes_match_torch():
    pairs = [(nn.MaxPool3d(2), torch.nn.MaxPool3d(2)), (nn.AvgPool3d(2, 1), torch.nn.AvgPool3d(2, 1)),
             (nn.AdaptiveAvgPool3d(2), torch.nn.AdaptiveAvgPool3d(2)),
             (nn.AdaptiveMaxPool3d(2), torch.nn.AdaptiveMaxPool3d(2)), (nn.Dropout3d(), torch.nn.Dropout3d()),
             (nn.ConvTranspose3d(2, 4, 3, 2), torch.nn.ConvTranspose3d(2, 4, 3, 2))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    x = np.random.default_rng(12).standard_normal((2, 4, 5, 6))
    for mode in ("reflect", "circular"):
        theirs = torch.nn.Conv3d(2, 3, 3, padding=1, padding_mode=mode).double()
        ours = nn.Conv3d(2, 3, 3, padding=1, padding_mode=mode, dtype="float64")
        ours.weight.data = mg.tensor(theirs.weight.detach().numpy().copy())
        ours.bias.data = mg.tensor(theirs.bias.detach().numpy().copy())
        np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), **TIGHT)
        assert repr(ours) == repr(theirs)
