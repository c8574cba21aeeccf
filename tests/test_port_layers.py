"""Conv-net layers ported from PyTorch (docs/nn.md, "Layers"): ``conv_transpose1d/2d`` and their modules,
``interpolate`` and ``Upsample``, ``F.pad``'s reflect/replicate/circular modes and the padding modules, 1-D
pooling, ``AdaptiveAvgPool1d``, pixel (un)shuffle, ``Dropout1d`` and instance norm.

Each is compared with PyTorch on the same inputs and weights (copied from PyTorch's ``state_dict`` through
NumPy), forward and every gradient, in float64 (and float32 where the arithmetic differs), for random upstream
gradients; gradients are also checked against finite differences (``minigrad.gradcheck``/``gradgradcheck``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention

RTOL = {"float64": 1e-10, "float32": 1e-5}


def _torch():
    return pytest.importorskip("torch")


def _leaf(array: np.ndarray) -> mg.Tensor:
    return mg.tensor(array, requires_grad=True)


def _agree(torch_fn, our_fn, arrays, seed: int = 0, dtype: str = "float64", grads=None) -> None:
    """Forward and the gradient of every input, for one random upstream gradient, against PyTorch."""
    torch = _torch()
    rng = np.random.default_rng(seed)
    arrays = [a.astype(dtype) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = [_leaf(a) for a in arrays]
    expected, actual = torch_fn(*theirs), our_fn(*ours)
    assert tuple(actual.shape) == tuple(expected.shape)
    assert actual.dtype == np.dtype(dtype)
    tol = RTOL[dtype]
    np.testing.assert_allclose(actual.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    upstream = rng.uniform(-1.0, 1.0, tuple(expected.shape)).astype(dtype)
    expected.backward(torch.tensor(upstream))
    (actual * mg.tensor(upstream)).sum().backward()
    for i, (t, o) in enumerate(zip(theirs, ours)):
        if grads is not None and not grads[i]:
            continue
        assert o.grad is not None and o.grad.shape == o.shape and o.grad.dtype == o.dtype
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol, err_msg=f"input {i}")


def _copy_state(ours: nn.Module, theirs) -> None:
    """PyTorch's parameters into ours through NumPy (same keys and shapes, as a ported checkpoint)."""
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert sorted(state) == sorted(ours.state_dict())
    ours.load_state_dict(state)


def _module_agree(ours: nn.Module, theirs, x: np.ndarray, seed: int = 1, **forward_kwargs) -> None:
    """Forward, input gradient and every parameter's gradient of a module against PyTorch's, same weights."""
    torch = _torch()
    theirs = theirs.double()
    theirs.zero_grad()
    ours.double()
    ours.zero_grad()
    _copy_state(ours, theirs)
    assert repr(ours) == repr(theirs)
    tx, mx = torch.tensor(x, requires_grad=True), _leaf(x)
    expected, actual = theirs(tx, **forward_kwargs), ours(mx, **forward_kwargs)
    assert tuple(actual.shape) == tuple(expected.shape)
    np.testing.assert_allclose(actual.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    upstream = np.random.default_rng(seed).uniform(-1.0, 1.0, tuple(expected.shape))
    expected.backward(torch.tensor(upstream))
    (actual * mg.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    for name, p in theirs.named_parameters():
        mine = dict(ours.named_parameters())[name]
        np.testing.assert_allclose(mine.grad.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=name)


# -- conv_transpose ------------------------------------------------------------------------------------
# (groups, in/group, out/group, kernel, stride, padding, output_padding, dilation, input spatial, bias)
CONV_T_CASES = [
    (1, 2, 3, (3, 3), (1, 1), (0, 0), (0, 0), (1, 1), (4, 5), True),
    (1, 3, 2, (3, 2), (2, 1), (1, 0), (1, 0), (1, 1), (3, 4), True),
    (2, 2, 1, (2, 3), (2, 3), (0, 1), (1, 2), (1, 1), (3, 3), False),
    (1, 1, 2, (3, 3), (1, 2), (2, 1), (0, 1), (2, 2), (4, 3), True),
    (3, 1, 2, (1, 1), (3, 2), (0, 0), (2, 0), (1, 1), (2, 5), True),
    (1, 2, 2, (2, 2), (1, 1), (0, 0), (1, 1), (2, 3), (3, 3), True),  # output_padding >= stride, < dilation
    (2, 3, 2, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1), (5, 4), True),  # k = 18: both conv layouts upstream
    (1, 1, 1, (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), (1, 1), True),
]


@pytest.mark.parametrize("case", CONV_T_CASES)
@pytest.mark.parametrize("batched", [True, False])
def test_conv_transpose2d_equals_pytorch(case, batched):
    torch = _torch()
    groups, cin, cout, kernel, stride, padding, output_padding, dilation, spatial, bias = case
    rng = np.random.default_rng(sum(spatial) + groups)
    lead = (2,) if batched else ()
    arrays = [rng.standard_normal(lead + (groups * cin,) + spatial),
              rng.standard_normal((groups * cin, cout) + kernel)]
    if bias:
        arrays.append(rng.standard_normal(groups * cout))
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    _agree(lambda x, w, *b: torch.nn.functional.conv_transpose2d(x, w, *b, **kwargs),
           lambda x, w, *b: F.conv_transpose2d(x, w, *b, **kwargs), arrays)
    _agree(lambda x, w, *b: torch.nn.functional.conv_transpose2d(x, w, *b, **kwargs),
           lambda x, w, *b: F.conv_transpose2d(x, w, *b, **kwargs), arrays, dtype="float32")


def test_conv_transpose2d_positional_order_is_pytorchs():
    """(input, weight, bias, stride, padding, output_padding, groups, dilation): groups before dilation."""
    torch = _torch()
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((1, 4, 3, 3)), rng.standard_normal((4, 1, 2, 2)), rng.standard_normal(2)
    _agree(lambda *t: torch.nn.functional.conv_transpose2d(*t, 2, 1, 1, 2, 1),
           lambda *t: F.conv_transpose2d(*t, 2, 1, 1, 2, 1), [x, w, b])


def test_conv_transpose2d_gradcheck_and_double_backward():
    rng = np.random.default_rng(4)
    x, w, b = (_leaf(rng.standard_normal(s)) for s in ((1, 2, 2, 3), (2, 2, 2, 2), (4,)))

    def fn(x, w, b):
        return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2, dilation=1)

    assert mg.gradcheck(fn, (x, w, b))
    assert mg.gradgradcheck(fn, (x, w, b))


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    """<conv2d(y, w), x> = <y, conv_transpose2d(x, w)> for matching geometry (independent of PyTorch)."""
    rng = np.random.default_rng(5)
    y = mg.tensor(rng.standard_normal((2, 4, 8, 6)))  # 8 rows: conv2d drops one, output_padding restores it
    w = mg.tensor(rng.standard_normal((6, 2, 3, 2)))
    geometry = dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2)
    x = mg.tensor(rng.standard_normal(tuple(F.conv2d(y, w, **geometry).shape)))
    lhs = (F.conv2d(y, w, **geometry) * x).sum().item()
    back = F.conv_transpose2d(x, w, output_padding=(1, 0), **geometry)
    assert back.shape == y.shape
    assert math.isclose(lhs, (y * back).sum().item(), rel_tol=1e-12)


@pytest.mark.parametrize("output_size", [None, (7, 9), [2, 4, 8, 10], (8, 8)])
def test_conv_transpose2d_module_equals_pytorch_on_its_weights(output_size):
    torch = _torch()
    theirs = torch.nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0), groups=2, dilation=1)
    ours = nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0), groups=2, dilation=1)
    assert ours.weight.shape == (4, 3, 3, 2) and ours.bias.shape == (6,)
    x = np.random.default_rng(6).standard_normal((2, 4, 4, 3))
    _module_agree(ours, theirs, x, output_size=output_size)


def test_conv_transpose_modules_init_repr_and_bias_false():
    torch = _torch()
    mg.manual_seed(0)
    layer = nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1, groups=2, bias=True)
    fan_in = 2 * 9  # PyTorch's fan_in of weight (in, out // groups, k, k) is size(1) * k * k
    assert np.abs(layer.weight.numpy()).max() <= 1 / math.sqrt(fan_in)
    assert np.abs(layer.bias.numpy()).max() <= 1 / math.sqrt(fan_in)
    assert np.abs(layer.weight.numpy()).max() > 0.5 / math.sqrt(fan_in)  # the whole range is used
    assert repr(layer) == repr(torch.nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1, groups=2))
    for kwargs in ({"bias": False, "dilation": 2}, {"padding": 2}):
        assert repr(nn.ConvTranspose2d(2, 3, 2, **kwargs)) == repr(torch.nn.ConvTranspose2d(2, 3, 2, **kwargs))
        assert repr(nn.ConvTranspose1d(2, 3, 2, **kwargs)) == repr(torch.nn.ConvTranspose1d(2, 3, 2, **kwargs))
    assert nn.ConvTranspose2d(2, 3, 2, bias=False).bias is None
    assert list(nn.ConvTranspose2d(2, 3, 2, bias=False).state_dict()) == ["weight"]


@pytest.mark.parametrize("kwargs", [
    dict(stride=1, padding=0, output_padding=0, groups=1, dilation=1),
    dict(stride=3, padding=1, output_padding=2, groups=2, dilation=2),
    dict(stride=2, padding=2, output_padding=1, groups=1, dilation=3),
])
def test_conv_transpose1d_equals_pytorch(kwargs):
    torch = _torch()
    rng = np.random.default_rng(7)
    g = kwargs["groups"]
    arrays = [rng.standard_normal((2, 2 * g, 5)), rng.standard_normal((2 * g, 3, 3)), rng.standard_normal(3 * g)]
    _agree(lambda *t: torch.nn.functional.conv_transpose1d(*t, **kwargs),
           lambda *t: F.conv_transpose1d(*t, **kwargs), arrays)
    _agree(lambda x, w: torch.nn.functional.conv_transpose1d(x, w, **kwargs),  # unbatched (C, L), no bias
           lambda x, w: F.conv_transpose1d(x, w, **kwargs), [arrays[0][0], arrays[1]])
    theirs = torch.nn.ConvTranspose1d(2 * g, 3 * g, 3, **kwargs)
    _module_agree(nn.ConvTranspose1d(2 * g, 3 * g, 3, **kwargs), theirs, arrays[0])
    smallest = (5 - 1) * kwargs["stride"] - 2 * kwargs["padding"] + kwargs["dilation"] * 2 + 1
    _module_agree(nn.ConvTranspose1d(2 * g, 3 * g, 3, **kwargs), theirs, arrays[0],
                  output_size=[smallest + kwargs["stride"] - 1])


def test_conv_transpose_errors_name_the_problem_and_mutate_nothing():
    x, w = mg.randn(1, 4, 3, 3), mg.randn(4, 2, 3, 3)
    with pytest.raises(mg.ShapeError, match=r"conv_transpose2d: input has 3 channels but weight \(4, 2, 3, 3\)"):
        F.conv_transpose2d(mg.randn(1, 3, 3, 3), w)
    with pytest.raises(ValueError, match=r"output_padding \(2, 2\) must be smaller than either stride \(2, 2\)"):
        F.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="groups=3 must divide the input's 4 channels"):
        F.conv_transpose2d(x, w, groups=3)
    with pytest.raises(mg.ShapeError, match=r"bias must have shape \(2,\)"):
        F.conv_transpose2d(x, w, mg.randn(3))
    with pytest.raises(mg.ShapeError, match="expected a 3-D .* or 4-D"):
        F.conv_transpose2d(mg.randn(4, 3), w)
    with pytest.raises(mg.ShapeError, match="gives an empty output"):
        F.conv_transpose2d(mg.randn(1, 4, 1, 1), mg.randn(4, 1, 1, 1), padding=1)
    with pytest.raises(mg.ShapeError, match="conv_transpose1d: weight must be 3-D"):
        F.conv_transpose1d(mg.randn(1, 4, 3), w)
    layer = nn.ConvTranspose2d(4, 2, 3, stride=2)
    before = {k: v.numpy().copy() for k, v in layer.state_dict().items()}
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of \(9, 12\), but valid sizes "
                                         r"range from \[7, 7\] to \[8, 8\]"):
        layer(x, output_size=(9, 12))
    with pytest.raises(ValueError, match="for 4-D input, output_size must have 2 or 4 elements"):
        layer(x, output_size=(8,))
    assert all(np.array_equal(before[k], v.numpy()) for k, v in layer.state_dict().items())
    with pytest.raises(ValueError, match='only "zeros" padding_mode'):
        nn.ConvTranspose2d(4, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="groups=3 must divide"):
        nn.ConvTranspose1d(4, 2, 3, groups=3)


# -- interpolate and Upsample --------------------------------------------------------------------------
INTERPOLATE_CASES = [
    # (mode, input shape, keyword arguments)
    ("nearest", (2, 2, 5), {"size": 7}),
    ("nearest", (2, 2, 5), {"scale_factor": 0.6}),
    ("nearest", (1, 2, 4, 5), {"size": (7, 3)}),
    ("nearest", (1, 2, 3, 5), {"scale_factor": 2}),
    ("nearest", (1, 2, 5, 5), {"scale_factor": 1.1}),  # PyTorch's 2-D kernel copies when out == in
    ("nearest", (1, 2, 3, 4), {"scale_factor": (2.3, 1.7)}),
    ("nearest", (1, 2, 3, 4), {"scale_factor": (2.3, 1.7), "recompute_scale_factor": True}),
    ("nearest", (1, 1, 2, 3, 4), {"size": (3, 5, 2)}),
    ("nearest-exact", (2, 2, 5), {"size": 8}),
    ("nearest-exact", (1, 2, 5, 3), {"scale_factor": (0.7, 2.5)}),
    ("nearest-exact", (1, 2, 5, 5), {"scale_factor": 1.1}),
    ("nearest-exact", (1, 1, 2, 3, 4), {"scale_factor": 1.5}),
    ("linear", (2, 3, 5), {"size": 9}),
    ("linear", (2, 3, 5), {"size": 9, "align_corners": True}),
    ("linear", (2, 3, 6), {"scale_factor": 0.4}),
    ("linear", (2, 3, 1), {"size": 4}),
    ("linear", (2, 3, 4), {"size": 1, "align_corners": True}),
    ("bilinear", (2, 2, 4, 5), {"size": (7, 3)}),
    ("bilinear", (2, 2, 4, 5), {"size": (7, 3), "align_corners": True}),
    ("bilinear", (1, 2, 4, 5), {"scale_factor": (1.7, 0.6)}),
    ("bilinear", (1, 2, 4, 5), {"scale_factor": (1.7, 0.6), "recompute_scale_factor": True}),
    ("bilinear", (1, 2, 4, 5), {"scale_factor": 2, "align_corners": True}),
    ("bilinear", (1, 2, 4, 5), {"size": (4, 8)}),  # one axis kept: a copy there
    ("trilinear", (1, 2, 2, 3, 4), {"size": (3, 4, 2)}),
    ("trilinear", (1, 2, 2, 3, 4), {"scale_factor": 1.5, "align_corners": True}),
    ("bicubic", (2, 2, 4, 5), {"size": (7, 3)}),
    ("bicubic", (2, 2, 4, 5), {"size": (7, 3), "align_corners": True}),
    ("bicubic", (1, 2, 3, 5), {"scale_factor": (2.5, 0.6)}),
    ("bicubic", (1, 2, 1, 2), {"size": (3, 4)}),
    ("bicubic", (1, 2, 4, 4), {"size": (4, 4), "align_corners": True}),
    ("area", (2, 2, 7), {"size": 3}),
    ("area", (1, 2, 6, 5), {"size": (4, 2)}),
    ("area", (1, 2, 6, 5), {"scale_factor": 0.5}),
]


@pytest.mark.parametrize("mode,shape,kwargs", INTERPOLATE_CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_interpolate_equals_pytorch(mode, shape, kwargs, dtype):
    torch = _torch()
    x = np.random.default_rng(len(shape) + shape[-1]).standard_normal(shape)
    _agree(lambda t: torch.nn.functional.interpolate(t, mode=mode, **kwargs),
           lambda t: F.interpolate(t, mode=mode, **kwargs), [x], dtype=dtype)


@pytest.mark.parametrize("mode,shape,kwargs", [c for c in INTERPOLATE_CASES if math.prod(c[1]) <= 40])
def test_interpolate_gradcheck(mode, shape, kwargs):
    x = _leaf(np.random.default_rng(8).standard_normal(shape))
    assert mg.gradcheck(lambda t: F.interpolate(t, mode=mode, **kwargs), (x,))
    assert mg.gradgradcheck(lambda t: F.interpolate(t, mode=mode, **kwargs), (x,))


@pytest.mark.parametrize("mode,shape", [("nearest", (1, 2, 5)), ("nearest", (1, 1, 5, 2, 2)),
                                        ("bicubic", (1, 1, 4, 5))])
def test_gradient_is_the_forwards_where_pytorchs_backward_differs(mode, shape):
    """With scale_factor=1.1 the output is as large as the input. PyTorch's 1-D/3-D 'nearest' and its 'bicubic'
    forward still resample with the scale (floor(i / 1.1): elements 0, 0, 1, 2, 3 of 5), but their backward
    kernels treat that size as a copy, so PyTorch's gradient is not its forward's (its gradcheck fails).
    minigrad's forward equals PyTorch's and its gradient is that forward's."""
    torch = _torch()
    x = np.random.default_rng(9).standard_normal(shape)
    expected = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=1.1, mode=mode).numpy()
    ours = F.interpolate(_leaf(x), scale_factor=1.1, mode=mode)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12, atol=1e-12)
    if shape == (1, 2, 5):
        np.testing.assert_array_equal(ours.numpy(), x[..., [0, 0, 1, 2, 3]])
    assert mg.gradcheck(lambda t: F.interpolate(t, scale_factor=1.1, mode=mode), (_leaf(x),))
    assert not torch.autograd.gradcheck(lambda t: torch.nn.functional.interpolate(t, scale_factor=1.1, mode=mode),
                                        (torch.tensor(x, requires_grad=True),), raise_exception=False)


def test_upsample_modules_equal_pytorch():
    torch = _torch()
    x = np.random.default_rng(10).standard_normal((2, 3, 4, 5))
    pairs = [
        (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
        (nn.Upsample(size=(5, 7), mode="bilinear"), torch.nn.Upsample(size=(5, 7), mode="bilinear")),
        (nn.Upsample(scale_factor=(1.5, 0.5), mode="nearest-exact"),
         torch.nn.Upsample(scale_factor=(1.5, 0.5), mode="nearest-exact")),
        (nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True, recompute_scale_factor=True),
         torch.nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True, recompute_scale_factor=True)),
        (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
        (nn.UpsamplingBilinear2d(size=(6, 9)), torch.nn.UpsamplingBilinear2d(size=(6, 9))),
        (nn.Upsample(scale_factor=2, mode="bicubic"), torch.nn.Upsample(scale_factor=2, mode="bicubic")),
    ]
    for ours, theirs in pairs:
        _module_agree(ours, theirs, x)
        assert (ours.size, ours.scale_factor, ours.mode, ours.align_corners) == \
            (theirs.size, theirs.scale_factor, theirs.mode, theirs.align_corners)


def test_interpolate_errors():
    x = mg.randn(1, 2, 4, 4)
    with pytest.raises(NotImplementedError, match=r"got 5-D input .*, but mode 'bicubic' needs 4-D"):
        F.interpolate(mg.randn(1, 1, 2, 2, 2), scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="align_corners can only be set with the interpolating modes"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(NotImplementedError, match=r"4-D input \(shape \(1, 2, 4, 4\)\), but mode 'linear' needs 3-D"):
        F.interpolate(x, size=3, mode="linear")
    with pytest.raises(ValueError, match=r"needs an output size of 2 values, got \(3, 3, 3\)"):
        F.interpolate(x, size=(3, 3, 3))
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful with an explicit size"):
        F.interpolate(x, size=3, recompute_scale_factor=True)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.interpolate(x, size=3, mode="cubic")
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(x, size=3, mode="bilinear", antialias=True)
    with pytest.raises(mg.ShapeError, match="expected a 3-D, 4-D or 5-D input"):
        F.interpolate(mg.randn(4, 4), size=3)
    with pytest.raises(mg.ShapeError, match="makes an empty output"):
        F.interpolate(x, scale_factor=0.1)
    with pytest.raises(mg.ShapeError, match=r"spatial sizes must be positive, got shape \(1, 2, 0, 4\)"):
        F.interpolate(mg.randn(1, 2, 0, 4), size=3)


# -- padding -------------------------------------------------------------------------------------------
PAD_CASES = [
    ((2, 3, 5), (2, 1)),
    ((2, 3, 5), (1, -2)),
    ((3, 5), (-1, 3)),
    ((2, 3, 4, 5), (1, 2, 3, 0)),
    ((3, 4, 5), (0, 4, 2, 2)),
    ((1, 2, 3, 4, 5), (1, 0, 2, 1, 1, 2)),
    ((2, 3, 5), (4, 0)),
    ((2, 3, 5), (-2, 3)),
]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", PAD_CASES)
def test_pad_modes_equal_pytorch(mode, shape, pad):
    torch = _torch()
    x = np.random.default_rng(len(pad)).standard_normal(shape)
    try:
        torch.nn.functional.pad(torch.tensor(x), pad, mode=mode)
    except RuntimeError:  # reflect needs widths below the size
        with pytest.raises(ValueError, match=f"pad: mode '{mode}' needs widths"):
            F.pad(mg.tensor(x), pad, mode=mode)
        return
    _agree(lambda t: torch.nn.functional.pad(t, pad, mode=mode), lambda t: F.pad(t, pad, mode=mode), [x])


def test_circular_pad_wrapping_a_cropped_axis_more_than_once():
    """Widths up to the input's size wrap around the cropped axis as often as needed, as PyTorch's forward; its
    gradient there misses copies, ours (one gather) adds them all up and passes finite differences."""
    torch = _torch()
    x = np.random.default_rng(20).standard_normal((2, 3, 5))
    expected = torch.nn.functional.pad(torch.tensor(x), (-2, 4), mode="circular").numpy()
    np.testing.assert_array_equal(F.pad(mg.tensor(x), (-2, 4), mode="circular").numpy(), expected)
    np.testing.assert_array_equal(expected[..., 3:6], expected[..., :3])
    assert mg.gradcheck(lambda t: F.pad(t, (-2, 4), mode="circular"), (_leaf(x),))
    assert mg.gradgradcheck(lambda t: F.pad(t, (-2, 4), mode="circular"), (_leaf(x),))


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_take_along_gradient_adds_every_copy(axis):
    """The resampling gather (``ops.movement.TakeAlong``) with an unordered index, repeats and unused entries:
    its gradient (one gather per copy, no scatter-add) equals NumPy's add.at, to every order."""
    from minigrad.ops.movement import TakeAlong

    rng = np.random.default_rng(23)
    x = rng.standard_normal((5, 5, 5))
    index = np.array([3, 0, 3, 1, 3, 0])
    out = TakeAlong.apply(_leaf(x), axis, index)
    np.testing.assert_array_equal(out.numpy(), np.take(x, index, axis))
    upstream = rng.uniform(-1, 1, out.shape)
    leaf = _leaf(x)
    (TakeAlong.apply(leaf, axis, index) * mg.tensor(upstream)).sum().backward()
    expected = np.zeros_like(x)
    np.add.at(expected, (slice(None),) * axis + (index,), upstream)
    np.testing.assert_allclose(leaf.grad.numpy(), expected, rtol=1e-15, atol=1e-15)
    assert mg.gradgradcheck(lambda t: TakeAlong.apply(t, axis, index), (_leaf(x),))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_gradcheck(mode):
    x = _leaf(np.random.default_rng(11).standard_normal((1, 2, 3, 4)))
    assert mg.gradcheck(lambda t: mg.pad(t, (2, 1, 1, 2), mode), (x,))
    assert mg.gradgradcheck(lambda t: mg.pad(t, (2, 1, 1, 2), mode), (x,))


def test_pad_mode_errors():
    x = mg.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"pad: mode 'reflect' needs widths less than the size .* got \(4, 0\)"):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: mode 'circular' needs widths at most the size"):
        F.pad(x, (5, 0), mode="circular")
    with pytest.raises(NotImplementedError, match=r"pads the last 1, 2 or 3 dimensions .* shape \(4,\)"):
        F.pad(mg.randn(4), (1, 1), mode="replicate")
    with pytest.raises(NotImplementedError, match="pads the last 1, 2 or 3 dimensions"):
        F.pad(mg.randn(1, 2, 3, 4), (1, 1), mode="reflect")
    with pytest.raises(ValueError, match="mode 'reflect' takes no fill value"):
        F.pad(x, (1, 1), mode="reflect", value=0.0)
    with pytest.raises(ValueError, match="mode must be 'constant', 'reflect', 'replicate' or 'circular'"):
        F.pad(x, (1, 1), mode="symmetric")
    with pytest.raises(TypeError, match="pass the fill value as value="):
        F.pad(x, (1, 1), 0.5)


def test_padding_modules_equal_pytorch():
    torch = _torch()
    x2, x3 = (np.random.default_rng(12).standard_normal(s) for s in ((2, 3, 6), (2, 3, 4, 5)))
    for name, args, x in [
        ("ZeroPad1d", (2,), x2), ("ZeroPad2d", ((1, 0, 2, 3),), x3), ("ZeroPad2d", (1,), x3),
        ("ConstantPad1d", ((1, 3), 2.5), x2), ("ConstantPad2d", (2, -1.0), x3),
        ("ReflectionPad1d", (3,), x2), ("ReflectionPad2d", ((3, 1, 0, 2),), x3),
        ("ReplicationPad1d", ((4, 1),), x2), ("ReplicationPad2d", (2,), x3),
        ("CircularPad1d", ((2, 5),), x2), ("CircularPad2d", ((1, 2, 3, 4),), x3),
    ]:
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert ours.padding == theirs.padding
        _module_agree(ours, theirs, x)
    with pytest.raises(ValueError, match=r"ReflectionPad2d: padding must be an int or a tuple of 4 ints, got \(1, 2\)"):
        nn.ReflectionPad2d((1, 2))


# -- pooling, pixel shuffle, dropout1d, instance norm ----------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2, stride=3, dilation=2),
])
def test_max_pool1d_equals_pytorch(kwargs):
    torch = _torch()
    x = np.random.default_rng(13).permutation(48).reshape(2, 3, 8) / 7.0  # distinct: one maximum per window
    _agree(lambda t: torch.nn.functional.max_pool1d(t, **kwargs), lambda t: F.max_pool1d(t, **kwargs), [x])
    _agree(lambda t: torch.nn.functional.max_pool1d(t, **kwargs), lambda t: F.max_pool1d(t, **kwargs), [x[0]])
    _module_agree(nn.MaxPool1d(**kwargs), torch.nn.MaxPool1d(**kwargs), x)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
])
def test_avg_pool1d_equals_pytorch(kwargs):
    torch = _torch()
    x = np.random.default_rng(14).standard_normal((2, 3, 7))
    _agree(lambda t: torch.nn.functional.avg_pool1d(t, **kwargs), lambda t: F.avg_pool1d(t, **kwargs), [x])
    _agree(lambda t: torch.nn.functional.avg_pool1d(t, **kwargs), lambda t: F.avg_pool1d(t, **kwargs), [x[0]])
    _module_agree(nn.AvgPool1d(**kwargs), torch.nn.AvgPool1d(**kwargs), x)


@pytest.mark.parametrize("size", [1, 3, 4, 9])
def test_adaptive_avg_pool1d_equals_pytorch(size):
    torch = _torch()
    x = np.random.default_rng(15).standard_normal((2, 3, 7))
    _agree(lambda t: torch.nn.functional.adaptive_avg_pool1d(t, size), lambda t: F.adaptive_avg_pool1d(t, size), [x])
    _agree(lambda t: torch.nn.functional.adaptive_avg_pool1d(t, size), lambda t: F.adaptive_avg_pool1d(t, size),
           [x[0]])
    _module_agree(nn.AdaptiveAvgPool1d(size), torch.nn.AdaptiveAvgPool1d(size), x)


@pytest.mark.parametrize("shape,r", [((2, 8, 3, 2), 2), ((18, 2, 1), 3), ((2, 2, 4, 3, 2), 1)])
def test_pixel_shuffle_and_unshuffle_equal_pytorch(shape, r):
    torch = _torch()
    x = np.random.default_rng(16).standard_normal(shape)
    _agree(lambda t: torch.nn.functional.pixel_shuffle(t, r), lambda t: F.pixel_shuffle(t, r), [x])
    _module_agree(nn.PixelShuffle(r), torch.nn.PixelShuffle(r), x)
    y = F.pixel_shuffle(mg.tensor(x), r).numpy()
    _agree(lambda t: torch.nn.functional.pixel_unshuffle(t, r), lambda t: F.pixel_unshuffle(t, r), [y])
    _module_agree(nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r), y)
    np.testing.assert_array_equal(F.pixel_unshuffle(mg.tensor(y), r).numpy(), x)
    with pytest.raises(mg.ShapeError, match="pixel_shuffle: expected"):
        F.pixel_shuffle(mg.randn(1, 3, 2, 2), 2)
    with pytest.raises(mg.ShapeError, match="pixel_unshuffle: expected"):
        F.pixel_unshuffle(mg.randn(1, 1, 3, 2), 2)


@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_modules_equal_pytorch(affine):
    torch = _torch()
    rng = np.random.default_rng(17)
    for ours, theirs, shape in [
        (nn.InstanceNorm1d(3, affine=affine), torch.nn.InstanceNorm1d(3, affine=affine), (2, 3, 5)),
        (nn.InstanceNorm1d(3, affine=affine), torch.nn.InstanceNorm1d(3, affine=affine), (3, 5)),
        (nn.InstanceNorm1d(3, affine=affine, bias=False), torch.nn.InstanceNorm1d(3, affine=affine, bias=False),
         (2, 3, 4)),
        (nn.InstanceNorm2d(3, affine=affine, eps=1e-3), torch.nn.InstanceNorm2d(3, affine=affine, eps=1e-3),
         (2, 3, 4, 2)),
    ]:
        if affine:  # non-trivial affine parameters, set on theirs and copied into ours
            with torch.no_grad():
                theirs.weight.uniform_(0.5, 1.5)
                if theirs.bias is not None:
                    theirs.bias.uniform_(-1, 1)
        _module_agree(ours, theirs, rng.standard_normal(shape))
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal(3), rng.standard_normal(3)
    _agree(lambda *t: torch.nn.functional.instance_norm(t[0], weight=t[1], bias=t[2], eps=1e-4),
           lambda *t: F.instance_norm(t[0], weight=t[1], bias=t[2], eps=1e-4), [x, w, b])
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(mg.randn(2, 3, 1))
    with pytest.raises(ValueError, match="running_mean and running_var are needed when use_input_stats=False"):
        F.instance_norm(mg.randn(2, 3, 4), use_input_stats=False)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_running_statistics_equal_pytorch(momentum, affine):
    """track_running_stats=True: training moves the buffers (per-instance means and unbiased variances averaged
    over the batch; momentum None leaves them, as PyTorch); eval normalises with them."""
    torch = _torch()
    rng = np.random.default_rng(25)
    theirs = torch.nn.InstanceNorm2d(3, momentum=momentum, affine=affine, track_running_stats=True).double()
    ours = nn.InstanceNorm2d(3, momentum=momentum, affine=affine, track_running_stats=True).double()
    _copy_state(ours, theirs)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 5, 4))
        np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-12, atol=1e-12)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), value.numpy(), rtol=1e-12, atol=1e-15,
                                   err_msg=name)
    theirs.eval()
    ours.eval()
    _module_agree(ours, theirs, rng.standard_normal((2, 3, 4, 5)))  # eval: the running statistics normalise
    _module_agree(ours, theirs, rng.standard_normal((3, 4, 5)))  # unbatched
    stats = (mg.tensor(rng.uniform(-1, 1, 3)), mg.tensor(rng.uniform(0.5, 2, 3)))
    assert mg.gradcheck(lambda x, w, b: F.instance_norm(x, *stats, w, b, use_input_stats=False),
                        tuple(_leaf(rng.standard_normal(s)) for s in ((2, 3, 4), (3,), (3,))))


def test_dropout1d_zeroes_whole_channels():
    mg.manual_seed(0)
    x = _leaf(np.random.default_rng(18).uniform(1.0, 2.0, (4, 8, 5)))
    layer = nn.Dropout1d(0.5)
    out = layer(x)
    kept = out.numpy() != 0
    assert (kept.all(-1) | ~kept.any(-1)).all() and 0 < kept.all(-1).sum() < 32  # per channel, some of each
    np.testing.assert_allclose(out.numpy()[kept], 2.0 * x.numpy()[kept], rtol=1e-15)
    upstream = np.random.default_rng(19).uniform(-1, 1, (4, 8, 5))
    (out * mg.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, 2.0 * upstream, 0.0), rtol=1e-15)
    layer.eval()
    assert layer(x) is x
    assert F.dropout1d(mg.randn(3, 4), 0.3).shape == (3, 4)
    with pytest.raises(mg.ShapeError, match="dropout1d: expected a 2-D"):
        F.dropout1d(mg.randn(1, 2, 3, 4))
    assert repr(layer) == "Dropout1d(p=0.5, inplace=False)"


@pytest.mark.parametrize("shape,output_size", [
    ((2, 3, 7, 5), 3), ((2, 3, 7, 5), (2, 4)), ((3, 4, 6), (None, 4)), ((1, 2, 5, 3), (7, 6)), ((1, 1, 4, 4), 1),
])
def test_adaptive_max_pool2d_equals_pytorch_with_indices_and_ties(shape, output_size):
    torch = _torch()
    rng = np.random.default_rng(21)
    distinct = rng.permutation(math.prod(shape)).reshape(shape) / 7.0
    tied = np.round(distinct / 3.0)  # ties inside bins: the gradient goes to the first maximum, row-major
    for x in (distinct, tied):
        _agree(lambda t: torch.nn.functional.adaptive_max_pool2d(t, output_size),
               lambda t: F.adaptive_max_pool2d(t, output_size), [x])
        _module_agree(nn.AdaptiveMaxPool2d(output_size), torch.nn.AdaptiveMaxPool2d(output_size), x)
        _, expected = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), output_size, return_indices=True)
        values, indices = nn.AdaptiveMaxPool2d(output_size, return_indices=True)(mg.tensor(x))
        assert indices.dtype == np.int64
        np.testing.assert_array_equal(indices.numpy(), expected.numpy())
    assert mg.gradcheck(lambda t: F.adaptive_max_pool2d(t, output_size), (_leaf(distinct),))


@pytest.mark.parametrize("size", [1, 3, 4, 9])
def test_adaptive_max_pool1d_equals_pytorch(size):
    torch = _torch()
    x = np.random.default_rng(22).permutation(42).reshape(2, 3, 7) / 5.0
    _agree(lambda t: torch.nn.functional.adaptive_max_pool1d(t, size),
           lambda t: F.adaptive_max_pool1d(t, size), [x])
    _agree(lambda t: torch.nn.functional.adaptive_max_pool1d(t, size),
           lambda t: F.adaptive_max_pool1d(t, size), [x[0]])
    _module_agree(nn.AdaptiveMaxPool1d(size), torch.nn.AdaptiveMaxPool1d(size), x)
    _, expected = torch.nn.functional.adaptive_max_pool1d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(F.adaptive_max_pool1d(mg.tensor(x), size, True)[1].numpy(), expected.numpy())
    with pytest.raises(mg.ShapeError, match="adaptive_max_pool2d: expected a 3-D or 4-D input"):
        F.adaptive_max_pool2d(mg.randn(4, 4), 2)
    with pytest.raises(ValueError, match="adaptive_max_pool2d: output_size must be positive"):
        F.adaptive_max_pool2d(mg.randn(1, 4, 4), 0)


# -- a ported program ----------------------------------------------------------------------------------------
def _autoencoder_program(torch, device, initial):
    """A small image-to-image net as a PyTorch user writes it (transposed convolution, instance norm, bilinear
    upsampling, reflection padding, pixel shuffle), trained with Adam; returns the losses and final weights."""
    model = torch.nn.Sequential(
        # no bias ahead of the instance norm: it would cancel it (a zero gradient, which Adam turns into
        # rounding-noise / eps steps that no two libraries share)
        torch.nn.Conv2d(2, 8, 3, stride=2, padding=1, bias=False), torch.nn.InstanceNorm2d(8, affine=True),
        torch.nn.ReLU(),
        torch.nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1), torch.nn.Tanh(),
        torch.nn.Upsample(scale_factor=2, mode="bilinear"), torch.nn.ReflectionPad2d(1), torch.nn.Conv2d(4, 8, 3),
        torch.nn.PixelUnshuffle(2), torch.nn.Conv2d(32, 2, 1),
    ).double()
    if initial:
        model.load_state_dict(initial)
    else:
        initial.update({k: v.detach().numpy().copy() for k, v in model.state_dict().items()})
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(24)
    x = torch.tensor(rng.standard_normal((3, 2, 8, 8)), device=device)
    target = torch.tensor(rng.standard_normal((3, 2, 8, 8)), device=device)
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy() for p in model.parameters()]


class _MinigradAsTorch:
    nn, optim = mg.nn, mg.optim

    @staticmethod
    def tensor(data, device=None):
        return mg.tensor(data, backend=device)


@pytest.mark.parametrize("backend", mg.testing.available_backends())
def test_ported_autoencoder_trains_like_pytorch(backend):
    torch = _torch()
    torch.manual_seed(0)
    initial: dict = {}
    expected_losses, expected_weights = _autoencoder_program(torch, "cpu", initial)
    losses, weights = _autoencoder_program(_MinigradAsTorch(), backend, initial)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-10)
    assert len(weights) == len(expected_weights)
    for ours, theirs in zip(weights, expected_weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
