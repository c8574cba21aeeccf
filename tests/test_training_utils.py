"""Training utilities: gradient clipping, tensor and module hooks, RNG state (against PyTorch where installed)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim

RNG = np.random.default_rng(11)


def _grads_pair(torch, scale):
    shapes = [(3, 4), (4,), (2, 2)]
    arrays = [RNG.standard_normal(s) * scale for s in shapes]
    ours = [mg.tensor(np.zeros(s), requires_grad=True) for s in shapes]
    theirs = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    for p, tp, a in zip(ours, theirs, arrays):
        p.grad, tp.grad = mg.tensor(a), torch.tensor(a)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
@pytest.mark.parametrize("scale", [0.01, 10.0])  # under and over the limit
def test_clip_grad_norm_matches_torch(norm_type, scale):
    torch = pytest.importorskip("torch")
    ours, theirs = _grads_pair(torch, scale)
    total = nn.utils.clip_grad_norm_(ours, 1.5, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type)
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    for p, tp in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_nonfinite():
    torch = pytest.importorskip("torch")
    ours, theirs = _grads_pair(torch, 3.0)
    nn.utils.clip_grad_value_(ours, 0.5)
    torch.nn.utils.clip_grad_value_(theirs, 0.5)
    for p, tp in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
    ours[0].grad = mg.tensor(np.array([[np.inf]]))
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        nn.utils.clip_grad_norm_(ours[:1], 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([mg.tensor([1.0], requires_grad=True)], 1.0).item() == 0.0  # no grads


def test_tensor_hooks_see_and_replace_gradients():
    x = mg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 3
    y.register_hook(lambda g: g * 10)  # a non-leaf: changes what flows upstream
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], 10 * 3 * 2 * np.array([3.0, 6.0]))
    np.testing.assert_allclose(x.grad.numpy(), seen[0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    assert len(seen) == 1 and x.grad.tolist() == [2.0, 2.0]
    x.register_hook(lambda g: g * 0.5)
    assert mg.grad((x * x).sum(), x)[0].tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).register_hook(print)
    x.register_hook(lambda g: g[:1])
    with pytest.raises(RuntimeError, match="hook must return"):
        (x * 2).sum().backward()


def test_hook_logging_gradient_norms_matches_torch():
    """The porting scenario: a hook per parameter logs gradient norms during training."""
    torch = pytest.importorskip("torch")
    w0 = RNG.standard_normal((3, 2))
    x = RNG.standard_normal((5, 3))
    w = mg.tensor(w0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    ours, theirs = [], []
    w.register_hook(lambda g: ours.append(g.norm().item()))
    tw.register_hook(lambda g: theirs.append(g.norm().item()))
    for _ in range(3):
        (mg.tensor(x) @ w).tanh().sum().backward()
        (torch.tensor(x) @ tw).tanh().sum().backward()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_module_forward_hooks():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    calls = []
    pre = model[0].register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    post = model[2].register_forward_hook(lambda m, args, out: calls.append((args[0].shape, out.shape)))
    x = mg.randn(5, 3)
    out = model(x)
    assert calls == [((5, 4), (5, 2))]
    zero_in = model[2](model[1](model[0].bias.reshape(1, 4).expand(5, 4)))
    np.testing.assert_allclose(out.numpy(), zero_in.numpy(), rtol=1e-6)
    pre.remove()
    with model[2].register_forward_hook(lambda m, args, out: out * 2):
        doubled = model(x)
    np.testing.assert_allclose(doubled.numpy(), 2 * model(x).numpy(), rtol=1e-6)
    assert len(calls) == 4  # model(x), model[2](...), and the two calls just above
    post.remove()
    model(x)
    assert len(calls) == 4


def _dropout_run(steps, resume_from=None, path=None):
    mg.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 1))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = mg.tensor(RNG_FIXED[0]), mg.tensor(RNG_FIXED[1])
    start = 0
    if resume_from is not None:
        checkpoint = mg.load(resume_from)
        model.load_state_dict(checkpoint["model"])
        opt.load_state_dict(checkpoint["optimizer"])
        mg.set_rng_state(checkpoint["rng"])
        start = int(checkpoint["step"])
    for step in range(start, steps):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        if path is not None and step == 2:
            mg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": mg.get_rng_state(),
                     "step": step + 1}, path)
    return [p.numpy().copy() for p in model.parameters()]


RNG_FIXED = (np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32),
             np.random.default_rng(1).standard_normal((6, 1)).astype(np.float32))


def test_rng_state_in_a_checkpoint_makes_a_resumed_dropout_run_exact(tmp_path):
    path = tmp_path / "ckpt.npz"
    uninterrupted = _dropout_run(6, path=path)
    mg.manual_seed(12345)  # a different stream before resuming: the checkpoint must restore it
    mg.randn(10)
    resumed = _dropout_run(6, resume_from=path)
    for a, b in zip(uninterrupted, resumed):
        np.testing.assert_array_equal(a, b)


def test_rng_state_round_trip_and_errors():
    mg.manual_seed(0)
    state = mg.get_rng_state()
    assert state.dtype == np.uint8 and state.ndim == 1
    first = mg.rand(4).numpy()
    mg.set_rng_state(state)
    np.testing.assert_array_equal(mg.rand(4).numpy(), first)
    mg.set_rng_state(state.numpy())  # an array, as np.load would give
    np.testing.assert_array_equal(mg.rand(4).numpy(), first)
    with pytest.raises(TypeError, match="uint8"):
        mg.set_rng_state(mg.zeros(3))
    with pytest.raises(ValueError, match="not a state"):
        mg.set_rng_state(np.frombuffer(b"{}", dtype=np.uint8))


@pytest.mark.parametrize("backend", mg.testing.available_backends())
def test_ported_mlp_with_clipping_topk_and_max_matches_torch_step_for_step(backend):
    """A training loop written as a PyTorch user would (clip_grad_norm_, AdamW, ``values, idx = out.max(1)``
    for accuracy, ``topk`` for top-2 accuracy), run side by side with PyTorch in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    model = nn.Sequential(nn.Linear(5, 8, dtype="float64", backend=backend), nn.Tanh(),
                          nn.Linear(8, 3, dtype="float64", backend=backend))
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    with torch.no_grad():
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            tp.copy_(torch.tensor(p.numpy()))
    opt = optim.AdamW(model.parameters(), lr=0.05)
    topt = torch.optim.AdamW(tmodel.parameters(), lr=0.05)
    xs, ys = mg.tensor(x, backend=backend), mg.tensor(y, backend=backend)
    txs, tys = torch.tensor(x), torch.tensor(y)
    for _ in range(5):
        opt.zero_grad()
        topt.zero_grad()
        out, tout = model(xs), tmodel(txs)
        loss = nn.functional.cross_entropy(out, ys)
        tloss = torch.nn.functional.cross_entropy(tout, tys)
        loss.backward()
        tloss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        tnorm = torch.nn.utils.clip_grad_norm_(tmodel.parameters(), 0.5)
        opt.step()
        topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-10)
        assert norm.item() == pytest.approx(tnorm.item(), rel=1e-10)
        _, predicted = out.max(1)
        _, tpredicted = tout.max(1)
        assert predicted.tolist() == tpredicted.tolist()
        top2 = (out.topk(2, dim=1).indices == ys.unsqueeze(1)).any(1).float().mean().item()
        ttop2 = (tout.topk(2, dim=1).indices == tys.unsqueeze(1)).any(1).double().mean().item()
        assert top2 == ttop2
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-9, atol=1e-12)
