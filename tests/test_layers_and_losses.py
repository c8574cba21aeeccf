"""Embedding, Conv1d, AdaptiveAvgPool2d, GroupNorm, Dropout2d, SiLU, ELU, the pointwise losses and the containers:
modules against PyTorch's (same parameters, random upstream gradients) on every backend, and the composites'
gradients to second order in float64."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention

RNG = np.random.default_rng(18)
BACKENDS = mg.testing.available_backends()


def _copy_parameters(ours: nn.Module, theirs) -> None:
    """Give our module the torch module's parameter values (float64)."""
    ours.load_state_dict({k: v.detach().double().numpy() for k, v in theirs.state_dict().items()})


def _compare(torch, ours: nn.Module, theirs, inputs: list[np.ndarray], backend: str, rtol: float = 1e-10) -> None:
    """Forward, then backward of a random upstream gradient: outputs, input and parameter gradients agree."""
    theirs = theirs.double()
    ours.double()
    _copy_parameters(ours, theirs)
    ours.to(backend)
    xs = [mg.tensor(a, backend=backend, requires_grad=a.dtype.kind == "f") for a in inputs]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    out, expected = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=rtol)
    g = RNG.standard_normal(expected.shape)
    (out * mg.tensor(g, backend=backend)).sum().backward()
    (expected * torch.tensor(g)).sum().backward()
    for x, t in zip(xs, ts):
        if t.grad is not None:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=rtol)
    values = dict(theirs.named_parameters())  # equal after the forward too (Embedding's max_norm writes in place)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.numpy(), values[name].detach().numpy(), rtol=rtol, atol=rtol, err_msg=name)
    grads = {name: p.grad for name, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        if grads[name] is None:
            assert p.grad is None or not np.any(p.grad.numpy()), name
        else:
            np.testing.assert_allclose(p.grad.numpy(), grads[name].numpy(), rtol=rtol, atol=rtol, err_msg=name)


LAYERS = {
    "embedding": (lambda m: m.Embedding(7, 3), lambda: [RNG.integers(0, 7, (2, 5))]),
    "embedding_padding": (lambda m: m.Embedding(7, 3, padding_idx=2), lambda: [np.array([[2, 0, 2], [6, 2, 1]])]),
    "embedding_max_norm": (lambda m: m.Embedding(7, 3, max_norm=1.2), lambda: [np.array([[3, 0, 3], [6, 4, 1]])]),
    "embedding_max_norm_l1": (lambda m: m.Embedding(7, 3, max_norm=0.8, norm_type=1.0), lambda: [np.arange(7)]),
    "conv1d": (lambda m: m.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2),
               lambda: [RNG.standard_normal((2, 4, 11))]),
    "conv1d_same": (lambda m: m.Conv1d(3, 2, 5, padding="same", bias=False), lambda: [RNG.standard_normal((2, 3, 8))]),
    "adaptive_avg_pool_3x2": (lambda m: m.AdaptiveAvgPool2d((3, 2)), lambda: [RNG.standard_normal((2, 3, 7, 5))]),
    "adaptive_avg_pool_1": (lambda m: m.AdaptiveAvgPool2d(1), lambda: [RNG.standard_normal((2, 3, 4, 6))]),
    "adaptive_avg_pool_grow": (lambda m: m.AdaptiveAvgPool2d((5, None)), lambda: [RNG.standard_normal((3, 3, 4))]),
    "group_norm": (lambda m: m.GroupNorm(3, 6), lambda: [RNG.standard_normal((2, 6, 3, 2))]),
    "group_norm_plain": (lambda m: m.GroupNorm(2, 4, affine=False), lambda: [RNG.standard_normal((3, 4, 5))]),
    "silu": (lambda m: m.SiLU(), lambda: [RNG.standard_normal((3, 4)) * 4]),
    "elu": (lambda m: m.ELU(alpha=0.7), lambda: [RNG.standard_normal((3, 4)) * 4]),
    "softplus": (lambda m: m.Softplus(beta=2.0, threshold=3.0), lambda: [RNG.standard_normal((3, 4)) * 2]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(LAYERS))
def test_layers_match_pytorch(name, backend):
    torch = pytest.importorskip("torch")
    make, inputs = LAYERS[name]
    _compare(torch, make(nn), make(torch.nn), inputs(), backend)


def _losses(m):
    return {
        "l1": (m.L1Loss(), m.L1Loss(reduction="sum")),
        "smooth_l1": (m.SmoothL1Loss(beta=0.5), m.SmoothL1Loss(reduction="none", beta=0.0)),
        "huber": (m.HuberLoss(delta=0.7), m.HuberLoss(reduction="sum", delta=2.0)),
        "kl_div": (m.KLDivLoss(reduction="batchmean"), m.KLDivLoss(reduction="sum", log_target=True)),
        "bce": (m.BCELoss(), m.BCELoss(weight=None, reduction="none")),
    }


def _loss_inputs(name):
    x, t = RNG.standard_normal((4, 5)) * 2, RNG.standard_normal((4, 5)) * 2
    if name == "kl_div":
        x = np.log(RNG.dirichlet(np.ones(5), 4))
        t = RNG.dirichlet(np.ones(5), 4)
        t[0, 2] = 0.0  # a zero target: contributes 0
    if name == "bce":
        x, t = RNG.uniform(0.02, 0.98, (4, 5)), RNG.uniform(0, 1, (4, 5))
    return x, t


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["l1", "smooth_l1", "huber", "kl_div", "bce"])
def test_losses_match_pytorch(name, backend):
    torch = pytest.importorskip("torch")
    for ours, theirs in zip(_losses(nn)[name], _losses(torch.nn)[name]):
        x, t = _loss_inputs(name)
        if getattr(theirs, "log_target", False):
            t = np.log(t + 0.1)
        xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
        xm = mg.tensor(x, backend=backend, requires_grad=True)
        tm = mg.tensor(t, backend=backend, requires_grad=True)
        out, expected = ours(xm, tm), theirs(xt, tt)
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
        g = RNG.standard_normal(expected.shape)
        (out * mg.tensor(g, backend=backend)).sum().backward()
        (expected * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        if name != "bce":  # PyTorch does not differentiate binary_cross_entropy with respect to the target
            # kl_div at a zero target: PyTorch's gradient is NaN (log 0), ours the limit of the t log t term's
            # masked branch (0) plus -input: finite.
            known = np.isfinite(tt.grad.numpy())
            assert np.all(np.isfinite(tm.grad.numpy()))
            np.testing.assert_allclose(tm.grad.numpy()[known], tt.grad.numpy()[known], rtol=1e-10, atol=1e-12)


def test_binary_cross_entropy_clamps_its_logs_like_pytorch():
    torch = pytest.importorskip("torch")
    p = np.array([0.0, 1.0, 1e-50, 0.5, 1.0, 0.0])
    t = np.array([1.0, 0.0, 1.0, 0.3, 1.0, 0.0])
    ours = F.binary_cross_entropy(mg.tensor(p), mg.tensor(t), reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    x = mg.tensor(p, requires_grad=True)
    F.binary_cross_entropy(x, mg.tensor(t)).backward()
    assert np.all(np.isfinite(x.grad.numpy()))  # no inf * 0 at the clamped ends
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*with_logits"):
        F.binary_cross_entropy(mg.tensor([1.5]), mg.tensor([1.0]))


def test_bce_with_logits_weights_match_pytorch():
    torch = pytest.importorskip("torch")
    x, t = RNG.standard_normal((4, 3)) * 30, RNG.uniform(0, 1, (4, 3))  # large logits: stays finite
    w, pw = RNG.uniform(0.5, 2, (3,)), RNG.uniform(0.5, 3, (3,))
    ours = nn.BCEWithLogitsLoss(weight=mg.tensor(w), pos_weight=mg.tensor(pw))(mg.tensor(x), mg.tensor(t))
    theirs = torch.nn.BCEWithLogitsLoss(weight=torch.tensor(w), pos_weight=torch.tensor(pw))(torch.tensor(x),
                                                                                           torch.tensor(t))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)


def _leaf(a):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def test_composites_have_second_order_gradients():
    x4 = _leaf(RNG.standard_normal((2, 4, 3, 3)))
    w, b = _leaf(RNG.standard_normal(4)), _leaf(RNG.standard_normal(4))
    assert mg.gradgradcheck(lambda a, s, c: F.group_norm(a, 2, s, c), (x4, w, b))
    assert mg.gradgradcheck(lambda a: F.adaptive_avg_pool2d(a, (2, 3)) ** 2, (x4,))
    x3, k = _leaf(RNG.standard_normal((2, 2, 6))), _leaf(RNG.standard_normal((3, 2, 2)))
    assert mg.gradgradcheck(lambda a, c: F.conv1d(a, c, stride=2, padding=1) ** 2, (x3, k))
    y = _leaf(RNG.standard_normal((3, 4)) * 3)
    assert mg.gradgradcheck(lambda a: F.elu(a, 0.5) * a + F.silu(a) * a, (y,))
    t = _leaf(RNG.standard_normal((3, 4)) * 3)
    assert mg.gradgradcheck(lambda a, c: F.smooth_l1_loss(a, c, beta=1.5) + F.huber_loss(a, c, delta=0.5)
                            + F.l1_loss(a * a, c), (y, t))
    q = _leaf(RNG.uniform(0.1, 0.9, (3, 4)))
    assert mg.gradgradcheck(lambda a, c: F.binary_cross_entropy(a, c) + F.kl_div(a.log(), c, reduction="batchmean"),
                            (q, q))
    weights = _leaf(RNG.standard_normal((5, 3)))
    index = mg.tensor(np.array([[1, 0, 1], [4, 1, 3]]))
    assert mg.gradgradcheck(lambda m: F.embedding(index, m, padding_idx=1) ** 2, (weights,))


def test_embedding_checks_its_indices_and_from_pretrained_freezes():
    e = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index 4 is out of range for 4 embeddings"):
        e(mg.tensor([1, 4]))
    with pytest.raises(TypeError, match="integer tensor"):
        e(mg.tensor([1.0]))
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(4, 2, sparse=True)
    table = mg.randn(4, 2)
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(mg.tensor([3, 0])).numpy(), table.numpy()[[3, 0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout2d_zeros_whole_channels(backend):
    mg.manual_seed(3)
    x = mg.ones(8, 16, 3, 3, backend=backend)
    out = nn.Dropout2d(0.25)(x).numpy()
    per_channel = out.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 1 / 0.75).all(-1))  # all or nothing per channel
    assert 0 < (per_channel[..., 0] == 0).mean() < 0.6
    layer = nn.Dropout2d(0.25).eval()
    assert layer(x) is x
    mg.manual_seed(3)
    again = F.dropout2d(x, 0.25).numpy()
    np.testing.assert_array_equal(again, out)  # the backend generator: reproducible
    with pytest.raises(mg.ShapeError, match="3-D"):
        F.dropout2d(mg.ones(4, 4))


def test_module_dict_and_parameter_list_register_their_contents():
    torch = pytest.importorskip("torch")
    blocks = nn.ModuleDict({"enc": nn.Linear(3, 4), "dec": nn.Linear(4, 3)})
    blocks["act"] = nn.ReLU()
    assert list(blocks) == ["enc", "dec", "act"] and "dec" in blocks and len(blocks) == 3
    assert [n for n, _ in blocks.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert isinstance(blocks.pop("act"), nn.ReLU) and list(blocks.keys()) == ["enc", "dec"]
    params = nn.ParameterList([mg.randn(2), nn.Parameter(mg.randn(3, 2))])
    params.append(mg.zeros(1))
    assert [n for n, _ in params.named_parameters()] == ["0", "1", "2"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in params)
    assert params[-1].shape == (1,) and len(params[:2]) == 2

    def model(m, ones):
        holder = m.Module()
        holder.heads = m.ModuleDict({"a": m.Linear(2, 1)})
        holder.scales = m.ParameterList([m.Parameter(ones(1))])
        return holder

    ours, theirs = model(nn, mg.ones), model(torch.nn, torch.ones)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["heads.a.weight", "heads.a.bias", "scales.0"]
    with pytest.raises(TypeError, match="ParameterList holds tensors"):
        params.append(3.0)
