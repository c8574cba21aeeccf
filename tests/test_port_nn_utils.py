"""``nn.utils``' BatchNorm folding (``fuse_conv_bn_eval``, ``fuse_linear_bn_eval`` and their ``*_weights``),
``get_total_norm`` / ``clip_grads_with_norm_`` (the two halves of ``clip_grad_norm_``) and the ``stateless``
path: against their definitions, and against PyTorch bit for bit in float32 where it is installed."""

from __future__ import annotations

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad import nn


def _randomize(lib, bn):
    """Running statistics and affine parameters away from their defaults (same values for both libraries)."""
    rng = np.random.default_rng(7)
    c = bn.num_features
    values = {"running_mean": rng.standard_normal(c), "running_var": rng.uniform(0.5, 2.0, c)}
    if bn.affine:
        values.update(weight=rng.uniform(0.5, 1.5, c), bias=rng.standard_normal(c))
    with lib.no_grad():
        for name, value in values.items():
            getattr(bn, name).copy_(lib.tensor(value, dtype=getattr(bn, name).dtype))


def _pair(lib, kind, dtype):
    lib.manual_seed(3)
    layers = {
        "conv": (lambda: lib.nn.Conv2d(3, 4, 3), lambda: lib.nn.BatchNorm2d(4), (2, 3, 6, 6)),
        "conv no bias, bn no affine": (lambda: lib.nn.Conv2d(3, 4, 3, bias=False),
                                       lambda: lib.nn.BatchNorm2d(4, affine=False), (2, 3, 6, 6)),
        "conv transpose": (lambda: lib.nn.ConvTranspose2d(4, 3, 3), lambda: lib.nn.BatchNorm2d(3), (2, 4, 5, 5)),
        "linear": (lambda: lib.nn.Linear(5, 4), lambda: lib.nn.BatchNorm1d(4), (6, 5)),
        "linear, one-feature bn": (lambda: lib.nn.Linear(5, 4), lambda: lib.nn.BatchNorm1d(1), (6, 1, 5)),
    }
    make_layer, make_bn, shape = layers[kind]
    layer, bn = make_layer(), make_bn()
    with lib.no_grad():
        for p in layer.parameters():
            p.copy_(lib.tensor(np.random.default_rng(5).standard_normal(tuple(p.shape)), dtype=p.dtype))
    layer, bn = layer.to(dtype).eval(), bn.to(dtype).eval()
    _randomize(lib, bn)
    return layer, bn, shape


def _fuse(lib, kind, layer, bn):
    fusion = lib.nn.utils.fusion
    if kind.startswith("linear"):
        return fusion.fuse_linear_bn_eval(layer, bn)
    return fusion.fuse_conv_bn_eval(layer, bn, transpose=kind == "conv transpose")


KINDS = ["conv", "conv no bias, bn no affine", "conv transpose", "linear", "linear, one-feature bn"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_fused_layer_computes_bn_of_the_layer(kind):
    layer, bn, shape = _pair(mg, kind, mg.float64)
    fused = _fuse(mg, kind, layer, bn)
    x = mg.tensor(np.random.default_rng(9).standard_normal(shape))
    np.testing.assert_allclose(fused(x).numpy(), bn(layer(x)).numpy(), rtol=1e-12, atol=1e-12)
    assert fused is not layer and fused.weight.requires_grad and isinstance(fused.bias, nn.Parameter)
    assert layer.weight is not fused.weight  # the original layer is left as it was


@pytest.mark.parametrize("kind", KINDS)
def test_fused_parameters_equal_pytorchs_bit_for_bit(kind):
    fused = {}
    for name, lib in (("torch", torch), ("minigrad", mg)):
        layer, bn, _ = _pair(lib, kind, lib.float32)
        f = _fuse(lib, kind, layer, bn)
        fused[name] = [f.weight.detach().numpy(), f.bias.detach().numpy()]
    for got, expected in zip(fused["minigrad"], fused["torch"]):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_fusion_errors():
    layer, bn, _ = _pair(mg, "linear", mg.float32)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        nn.utils.fuse_linear_bn_eval(layer.train(), bn)
    with pytest.raises(AssertionError, match="out_features=4 and bn.num_features=3"):
        nn.utils.fuse_linear_bn_eval(layer.eval(), nn.BatchNorm1d(3).eval())


def _grads(lib, dtype):
    rng = np.random.default_rng(4)
    params = [lib.zeros(s, dtype=dtype, requires_grad=True) for s in ((3, 4), (4,), (2, 2, 2))]
    for p in params:
        p.grad = lib.tensor(rng.standard_normal(tuple(p.shape)) * 3, dtype=dtype)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.5])
def test_total_norm_and_clipping_equal_pytorchs(norm_type):
    """Bit for bit for the 2- and inf-norms (the clip factor rounded as PyTorch's ``max_norm / norm``)."""
    results = {}
    for name, lib in (("torch", torch), ("minigrad", mg)):
        utils = lib.nn.utils
        params = _grads(lib, lib.float32)
        total = utils.get_total_norm([p.grad for p in params], norm_type)
        utils.clip_grads_with_norm_(params, 1.5, total)
        clipped = [p.grad.numpy().copy() for p in params]
        params = _grads(lib, lib.float32)
        again = utils.clip_grad_norm_(params, 1.5, norm_type)
        results[name] = [total.numpy(), again.numpy()] + clipped + [p.grad.numpy() for p in params]
    for got, expected in zip(results["minigrad"], results["torch"]):
        if norm_type in (2.0, float("inf")):
            np.testing.assert_array_equal(got, expected)
        else:  # float32 sums of |g|^p: NumPy and PyTorch add in different orders (a few ulp)
            np.testing.assert_allclose(got, expected, rtol=8 * np.finfo(np.float32).eps, atol=0)


def test_clip_grads_with_norm_scales_to_the_given_norm():
    params = _grads(mg, mg.float64)
    total = nn.utils.get_total_norm([p.grad for p in params])
    expected = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in params))
    np.testing.assert_allclose(total.item(), expected, rtol=1e-15)
    nn.utils.clip_grads_with_norm_(params, 2.0, total)
    np.testing.assert_allclose(nn.utils.get_total_norm([p.grad for p in params]).item(), 2.0 * expected /
                               (expected + 1e-6), rtol=1e-14)
    assert nn.utils.get_total_norm([]).item() == 0.0
    with pytest.raises(RuntimeError, match="get_total_norm: the total norm of order 2.0 of the gradients is inf"):
        nn.utils.get_total_norm([mg.tensor([np.inf])], error_if_nonfinite=True)


def test_stateless_functional_call_is_funcs():
    assert nn.utils.stateless.functional_call is mg.func.functional_call


def _weight_norm_module(lib, kind, dim):
    lib.manual_seed(0)
    module = {"linear": lambda: lib.nn.Linear(4, 3), "conv": lambda: lib.nn.Conv2d(2, 3, 3),
              "conv transpose": lambda: lib.nn.ConvTranspose2d(3, 2, 3)}[kind]().double()
    with lib.no_grad():
        for i, p in enumerate(module.parameters()):
            p.copy_(lib.tensor(np.random.default_rng(i).standard_normal(tuple(p.shape))))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # PyTorch points to its parametrizations version
        return lib.nn.utils.weight_norm(module, dim=dim)


@pytest.mark.parametrize("kind, dim", [("linear", 0), ("conv", 0), ("conv transpose", 1), ("conv", None),
                                       ("linear", 1)])
def test_weight_norm_equals_pytorchs(kind, dim):
    shapes = {"linear": (5, 4), "conv": (2, 2, 6, 6), "conv transpose": (2, 3, 4, 4)}
    x = np.random.default_rng(8).standard_normal(shapes[kind])
    results = {}
    for name, lib in (("torch", torch), ("minigrad", mg)):
        module = _weight_norm_module(lib, kind, dim)
        xs = lib.tensor(x, requires_grad=True)
        out = module(xs)
        upstream = lib.tensor(np.random.default_rng(9).standard_normal(tuple(out.shape)))
        (out * upstream).sum().backward()
        opt = lib.optim.SGD(module.parameters(), lr=0.1)
        opt.step()
        after = module(xs).detach().numpy()  # the hook recomputes the weight from the updated g and v
        results[name] = ([k for k in module.state_dict()], out.detach().numpy(), xs.grad.numpy(),
                         module.weight_g.grad.numpy(), module.weight_v.grad.numpy(), after)
        lib.nn.utils.remove_weight_norm(module)
        results[name] += ([k for k in module.state_dict()], module.weight.detach().numpy())
    ours, theirs = results["minigrad"], results["torch"]
    assert ours[0] == theirs[0] and ours[6] == theirs[6]
    for got, expected in zip(ours[1:6] + ours[7:], theirs[1:6] + theirs[7:]):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


def test_weight_norm_definition_and_errors():
    module = _weight_norm_module(mg, "linear", 0)
    v, g = module.weight_v.detach().numpy(), module.weight_g.detach().numpy()
    np.testing.assert_allclose(g, np.linalg.norm(v, axis=1, keepdims=True), rtol=1e-15)
    np.testing.assert_allclose(module.weight.detach().numpy(), v, rtol=1e-15)  # w = g v / ||v|| = v at first
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same parameter weight"):
        nn.utils.weight_norm(module)
    nn.utils.remove_weight_norm(module)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(module)
