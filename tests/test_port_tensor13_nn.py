"""nn gaps: nn.Buffer, LPPool3d/F.lp_pool3d, MaxUnpool3d/F.max_unpool3d, F.max_pool3d_with_indices,
F.adaptive_max_pool3d_with_indices, the deprecated F.upsample*, SyncBatchNorm (one process), DataParallel (one
device) and F.multi_head_attention_forward: PyTorch's values, gradients (random upstream gradients, float64),
warnings and errors."""

from __future__ import annotations

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip
from _pairs import mg_tensor as _mg
from _pairs import pt_tensor as _pt

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F  # noqa: N812 - PyTorch's convention
from minigrad.errors import ShapeError

RNG = np.random.default_rng(1313)


def _check_grads(out_mg, out_pt, leaves_mg, leaves_pt, tol=1e-12):
    np.testing.assert_allclose(out_mg.numpy(), out_pt.detach().numpy(), rtol=tol, atol=tol)
    g = RNG.standard_normal(out_mg.shape)
    (out_mg * _mg(g)).sum().backward()
    (out_pt * _pt(g)).sum().backward()
    for m, p in zip(leaves_mg, leaves_pt):
        np.testing.assert_allclose(m.grad.numpy(), p.grad.numpy(), rtol=tol, atol=tol)


# -- nn.Buffer --------------------------------------------------------------------------------------------------
def test_buffer_assignment_registers_a_buffer():
    m = nn.Linear(2, 2)
    t = _mg([1.0, 2.0])
    m.stat = nn.Buffer(t)
    m.scratch = nn.Buffer(_mg([3.0]), persistent=False)
    assert dict(m.named_buffers()).keys() == {"stat", "scratch"}
    assert "stat" in m.state_dict() and "scratch" not in m.state_dict()
    assert m.stat.persistent and not m.scratch.persistent
    with mg.no_grad():
        t[0] = 10.0  # shares the memory, as PyTorch's (data.detach())
    assert m.stat.tolist() == [10.0, 2.0] and not m.stat.requires_grad
    assert nn.Buffer(_mg([1.0], True)).requires_grad and nn.Buffer().shape == (0,)
    m.plain = _mg([1.0])  # a plain tensor stays an attribute, as in PyTorch
    assert "plain" not in dict(m.named_buffers())
    m.stat = _mg([5.0, 6.0])  # assigning to a registered buffer name replaces the buffer
    assert m.state_dict()["stat"].tolist() == [5.0, 6.0]


def test_buffer_matches_pytorch_registration():
    tm, mm = torch.nn.Module(), nn.Module()
    tm.a, mm.a = torch.nn.Buffer(torch.ones(2)), nn.Buffer(mg.ones(2))
    tm.b, mm.b = torch.nn.Buffer(torch.zeros(1), persistent=False), nn.Buffer(mg.zeros(1), persistent=False)
    assert [n for n, _ in tm.named_buffers()] == [n for n, _ in mm.named_buffers()]
    assert list(tm.state_dict()) == list(mm.state_dict())


# -- 3-D pooling and unpooling -------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type, kernel, stride, ceil_mode, batched", [
    (2.0, 2, None, False, True), (1.5, (1, 2, 2), (1, 1, 2), False, False), (3.0, 2, 2, True, True)])
def test_lp_pool3d_matches_pytorch(norm_type, kernel, stride, ceil_mode, batched):
    shape = (2, 2, 3, 4, 5) if batched else (2, 3, 4, 5)
    x = RNG.uniform(0.2, 2.0, shape)
    a, b = _mg(x, True), _pt(x, True)
    _check_grads(F.lp_pool3d(a, norm_type, kernel, stride, ceil_mode),
                 torch.nn.functional.lp_pool3d(b, norm_type, kernel, stride, ceil_mode), [a], [b])
    layer, tlayer = nn.LPPool3d(norm_type, kernel, stride, ceil_mode), torch.nn.LPPool3d(norm_type, kernel, stride,
                                                                                          ceil_mode)
    np.testing.assert_allclose(layer(_mg(x)).numpy(), tlayer(_pt(x)).numpy(), rtol=1e-12)


def test_lp_pool3d_gradcheck_and_errors():
    a = _mg(RNG.uniform(0.5, 2.0, (1, 2, 2, 3)), True)
    assert mg.gradcheck(lambda t: F.lp_pool3d(t, 2.0, (1, 2, 2)), [a])
    with pytest.raises(ShapeError, match=r"lp_pool3d: expected a 4-D \(C, D, H, W\) or 5-D"):
        F.lp_pool3d(_mg(np.ones((2, 3, 4))), 2.0, 2)


@pytest.mark.parametrize("batched", [True, False])
def test_max_pool3d_with_indices_and_unpool_match_pytorch(batched):
    shape = (2, 2, 4, 4, 5) if batched else (2, 4, 4, 5)
    x = RNG.standard_normal(shape)
    a, b = _mg(x, True), _pt(x, True)
    out, idx = F.max_pool3d_with_indices(a, 2, (2, 2, 3), return_indices=False)  # always (values, indices)
    tout, tidx = torch.nn.functional.max_pool3d_with_indices(b, 2, (2, 2, 3))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    un = F.max_unpool3d(out, idx, 2, (2, 2, 3))
    tun = torch.nn.functional.max_unpool3d(tout, tidx, 2, (2, 2, 3))
    _check_grads(un, tun, [a], [b])
    layer = nn.MaxUnpool3d(2, (2, 2, 3))
    sized = layer(out.detach(), idx, output_size=shape[-3:])
    np.testing.assert_array_equal(sized.numpy(), torch.nn.MaxUnpool3d(2, (2, 2, 3))(tout.detach(), tidx,
                                                                                    output_size=shape[-3:]).numpy())


def test_adaptive_max_pool3d_with_indices_matches_pytorch():
    x = RNG.standard_normal((1, 2, 5, 4, 3))
    a, b = _mg(x, True), _pt(x, True)
    out, idx = F.adaptive_max_pool3d_with_indices(a, (2, 3, 2))
    tout, tidx = torch.nn.functional.adaptive_max_pool3d_with_indices(b, (2, 3, 2))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    _check_grads(out, tout, [a], [b])


def test_max_unpool3d_errors_and_gradcheck():
    x, idx = _mg(np.ones((1, 1, 1, 1, 1)), True), mg.tensor(np.zeros((1, 1, 1, 1, 1), np.int64))
    assert mg.gradcheck(lambda t: F.max_unpool3d(t * 2.0, idx, 2), [x])
    with pytest.raises(IndexError, match=r"max_unpool3d: found an invalid max index 8"):
        F.max_unpool3d(x, idx + 8, 2)
    with pytest.raises(ShapeError, match=r"max_unpool3d: expected shape of indices to be same as that of the input"):
        F.max_unpool3d(x, mg.tensor(np.zeros((1, 1, 1, 1, 2), np.int64)), 2)


# -- deprecated upsample spellings --------------------------------------------------------------------------------
@pytest.mark.parametrize("name, kwargs", [("upsample", {"scale_factor": 2}),
                                          ("upsample", {"size": (3, 5), "mode": "bilinear", "align_corners": False}),
                                          ("upsample_nearest", {"size": (4, 6)}),
                                          ("upsample_bilinear", {"scale_factor": 2})])
def test_upsample_spellings_warn_and_match_pytorch(name, kwargs):
    x = RNG.standard_normal((1, 2, 2, 3))
    a, b = _mg(x, True), _pt(x, True)
    message = f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` instead."
    with pytest.warns(UserWarning, match=message.replace("(", r"\(").replace(".", r"\.")):
        out = getattr(F, name)(a, **kwargs)
    with pytest.warns(UserWarning):
        expected = getattr(torch.nn.functional, name)(b, **kwargs)
    _check_grads(out, expected, [a], [b])


def test_upsample_warns_without_torch():
    with pytest.warns(UserWarning, match=r"upsample_bilinear` is deprecated"):
        out = F.upsample_bilinear(_mg(np.ones((1, 1, 2, 2))), scale_factor=2)
    assert out.shape == (1, 1, 4, 4) and out.tolist() == np.ones((1, 1, 4, 4)).tolist()


# -- SyncBatchNorm and DataParallel ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 2, 2), (2, 3, 2, 1, 2)])
def test_sync_batchnorm_matches_pytorch(shape):
    x = RNG.standard_normal(shape)
    m, t = nn.SyncBatchNorm(3, momentum=0.3, dtype="float64"), torch.nn.SyncBatchNorm(3, momentum=0.3).double()
    a, b = _mg(x, True), _pt(x, True)
    _check_grads(m(a), t(b), [a, m.weight, m.bias], [b, t.weight, t.bias])
    np.testing.assert_allclose(m.running_mean.numpy(), t.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(m.running_var.numpy(), t.running_var.numpy(), rtol=1e-12)
    m.eval(), t.eval()
    np.testing.assert_allclose(m(_mg(x)).numpy(), t(_pt(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    assert list(m.state_dict()) == list(t.state_dict())


def test_sync_batchnorm_without_bias_matches_pytorch():
    x = RNG.standard_normal((4, 3, 2))
    m, t = nn.SyncBatchNorm(3, bias=False, dtype="float64"), torch.nn.SyncBatchNorm(3, bias=False).double()
    assert m.bias is None and t.bias is None and list(m.state_dict()) == list(t.state_dict())
    a, b = _mg(x, True), _pt(x, True)
    _check_grads(m(a), t(b), [a, m.weight], [b, t.weight])
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    assert converted.bias is None and converted.weight is m.weight


def test_sync_batchnorm_errors_and_conversion():
    with pytest.raises(ValueError, match=r"SyncBatchNorm: expected at least 2D input \(got 1D input\)"):
        nn.SyncBatchNorm(3)(_mg(np.ones(3), dtype="float32"))
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Sequential(nn.BatchNorm1d(2)))
    bn = model[1]
    model.eval()
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model, process_group="group")
    assert converted is model
    assert isinstance(model[1], nn.SyncBatchNorm) and isinstance(model[2][0], nn.SyncBatchNorm)
    assert model[1].weight is bn.weight and model[1].running_mean is bn.running_mean and not model[1].training
    assert model[1].process_group == "group"
    lone = nn.BatchNorm1d(2)
    assert isinstance(nn.SyncBatchNorm.convert_sync_batchnorm(lone), nn.SyncBatchNorm)


def test_sync_batchnorm_conversion_matches_pytorch_keys():
    tm = torch.nn.SyncBatchNorm.convert_sync_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm1d(2),
                                                                           torch.nn.Linear(2, 2)))
    mm = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm1d(2), nn.Linear(2, 2)))
    assert list(tm.state_dict()) == list(mm.state_dict())


def test_data_parallel_wraps_the_module():
    inner = nn.Linear(3, 2, dtype="float64")
    model = nn.DataParallel(inner)
    assert model.module is inner and model.device_ids == []
    x = _mg(RNG.standard_normal((4, 3)))
    np.testing.assert_array_equal(model(x).numpy(), inner(x).numpy())
    assert list(model.state_dict()) == ["module.weight", "module.bias"]
    assert list(model.parameters()) == list(inner.parameters())
    assert nn.DataParallel(inner, device_ids=[0]).device_ids == [0]
    with pytest.raises(ValueError, match=r"DataParallel: minigrad runs on one device, got device_ids=\[0, 1\]"):
        nn.DataParallel(inner, device_ids=[0, 1])
    with pytest.raises(TypeError, match=r"DataParallel: module must be an nn.Module"):
        nn.DataParallel(lambda v: v)


def test_data_parallel_state_dict_keys_match_pytorch():
    assert list(torch.nn.DataParallel(torch.nn.Linear(3, 2)).state_dict()) == \
        list(nn.DataParallel(nn.Linear(3, 2)).state_dict())


# -- F.multi_head_attention_forward ------------------------------------------------------------------------------
def _mha_pair(**kwargs):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(4, 2, dtype=torch.float64, **kwargs)
    mm = nn.MultiheadAttention(4, 2, dtype="float64", **kwargs)
    mm.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return mm, tm


@pytest.mark.parametrize("kwargs, need_weights, masks", [({}, True, False), ({}, False, True),
                                                         ({"add_bias_kv": True, "add_zero_attn": True}, True, True),
                                                         ({"kdim": 3, "vdim": 2}, True, False)])
def test_multi_head_attention_forward_matches_pytorch_and_the_module(kwargs, need_weights, masks):
    mm, tm = _mha_pair(**kwargs)
    q, k, v = RNG.standard_normal((3, 2, 4)), RNG.standard_normal((5, 2, kwargs.get("kdim", 4))), \
        RNG.standard_normal((5, 2, kwargs.get("vdim", 4)))
    pad = np.zeros((2, 5), bool)
    pad[1, 3:] = True
    causal = RNG.standard_normal((3, 5))
    pad = np.where(pad, -np.inf, 0.0)  # float, as attn_mask (PyTorch deprecates mixing the two kinds)
    extra_mg = {"key_padding_mask": _mg(pad), "attn_mask": _mg(causal)} if masks else {}
    extra_pt = {"key_padding_mask": _pt(pad), "attn_mask": _pt(causal)} if masks else {}
    separate = "kdim" in kwargs

    def args(m, wrap):
        weights = [getattr(m, n) for n in ("in_proj_weight", "in_proj_bias", "bias_k", "bias_v")]
        return dict(embed_dim_to_check=4, num_heads=2, in_proj_weight=weights[0], in_proj_bias=weights[1],
                    bias_k=weights[2], bias_v=weights[3], add_zero_attn=m.add_zero_attn, dropout_p=0.0,
                    out_proj_weight=m.out_proj.weight, out_proj_bias=m.out_proj.bias, need_weights=need_weights,
                    use_separate_proj_weight=separate, q_proj_weight=m.q_proj_weight, k_proj_weight=m.k_proj_weight,
                    v_proj_weight=m.v_proj_weight)

    a, b, c = _mg(q, True), _mg(k, True), _mg(v, True)
    ta, tb, tc = _pt(q, True), _pt(k, True), _pt(v, True)
    out, weights = F.multi_head_attention_forward(a, b, c, **args(mm, _mg), **extra_mg)
    tout, tweights = torch.nn.functional.multi_head_attention_forward(ta, tb, tc, **args(tm, _pt), **extra_pt)
    module_out, module_weights = mm(_mg(q), _mg(k), _mg(v), need_weights=need_weights, **extra_mg)
    np.testing.assert_array_equal(out.numpy(), module_out.numpy())  # the module's own computation
    if need_weights:
        np.testing.assert_allclose(weights.numpy(), tweights.detach().numpy(), rtol=1e-12, atol=1e-12)
    else:
        assert weights is None and tweights is None and module_weights is None
    _check_grads(out, tout, [a, b, c], [ta, tb, tc])


def test_multi_head_attention_forward_static_kv_and_errors():
    mm, tm = _mha_pair()
    q, k = RNG.standard_normal((3, 2, 4)), RNG.standard_normal((5, 2, 4))
    sk, sv = RNG.standard_normal((4, 5, 2)), RNG.standard_normal((4, 5, 2))

    def call(lib, m, wrap, **kw):
        f = F if lib is nn else torch.nn.functional
        return f.multi_head_attention_forward(wrap(q), wrap(k), wrap(k), 4, 2, m.in_proj_weight, m.in_proj_bias, None,
                                              None, False, 0.0, m.out_proj.weight, m.out_proj.bias, **kw)

    out, _ = call(nn, mm, _mg, static_k=_mg(sk), static_v=_mg(sv))
    tout, _ = call(torch, tm, _pt, static_k=_pt(sk), static_v=_pt(sv))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ShapeError, match=r"multi_head_attention_forward: was expecting embedding dimension of 6"):
        F.multi_head_attention_forward(_mg(q), _mg(k), _mg(k), 6, 2, mm.in_proj_weight, mm.in_proj_bias, None, None,
                                       False, 0.0, mm.out_proj.weight, mm.out_proj.bias)
    with pytest.raises(ShapeError, match=r"static_k must have shape \(4, 5, 2\)"):
        call(nn, mm, _mg, static_k=_mg(sk[:, :3]))
    with pytest.raises(ValueError, match=r"use_separate_proj_weight is True but q_proj_weight"):
        call(nn, mm, _mg, use_separate_proj_weight=True)


def test_multi_head_attention_forward_dropout_only_in_training():
    mm = nn.MultiheadAttention(4, 2, dtype="float64")
    q = _mg(RNG.standard_normal((3, 1, 4)))
    args = (q, q, q, 4, 2, mm.in_proj_weight, mm.in_proj_bias, None, None, False, 0.9, mm.out_proj.weight,
            mm.out_proj.bias)
    mm.eval()
    np.testing.assert_array_equal(F.multi_head_attention_forward(*args, training=False)[0].numpy(),
                                  mm(q, q, q)[0].numpy())
