"""Adamax, NAdam, RAdam, Adadelta compared with torch.optim step for step (float64, many steps, parameter
groups, a state-dict round trip mid-run)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim

BACKENDS = mg.testing.available_backends()
# Keys PyTorch keeps in every parameter group for its foreach/fused/compiled paths, which minigrad lacks.
TORCH_ONLY_GROUP_KEYS = {"foreach", "differentiable", "capturable", "fused"}


@contextlib.contextmanager
def _torch_float64(torch):
    """PyTorch keeps some scalar state (NAdam's mu_product, ASGD's eta and mu) in the default dtype; minigrad
    keeps Python floats, which equal PyTorch's when its default dtype is float64."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def _value(v):
    if hasattr(v, "detach"):
        return v.detach().numpy()
    return np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64)


def _compare_states(ours, theirs):
    """Same layout (indices, state names, group keys) and the same values."""
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for index, values in tsd["state"].items():
        assert list(sd["state"][index]) == list(values), index
        for key, expected in values.items():
            np.testing.assert_allclose(_value(sd["state"][index][key]), _value(expected), rtol=1e-11, atol=1e-14,
                                       err_msg=f"state[{index}][{key!r}]")
    for group, tgroup in zip(sd["param_groups"], tsd["param_groups"]):
        assert set(tgroup) - set(group) <= TORCH_ONLY_GROUP_KEYS
        assert set(group) <= set(tgroup)
        for key, value in group.items():
            assert value == (tuple(tgroup[key]) if isinstance(value, tuple) else tgroup[key]), key


def _run(torch, cls, kwargs, backend="numpy", steps=40, groups=False, reload_at=17, seed=0):
    """Both optimizers on the same parameters and the same gradients (those of a moving quadratic); parameters
    agree after every step; at ``reload_at`` ours is rebuilt from its state dict."""
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal((3, 2)), rng.standard_normal(4), rng.standard_normal((2, 2))]
    ours = [mg.tensor(a.copy(), backend=backend, requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]

    def arrange(params):
        if not groups:
            return params
        return [{"params": params[:2]}, {"params": params[2:], "lr": 0.03, "weight_decay": 0.05}]

    def make_ours():
        return getattr(optim, cls)(arrange(ours), **kwargs)

    opt, topt = make_ours(), getattr(torch.optim, cls)(arrange(theirs), **kwargs)
    for step in range(steps):
        targets = [rng.standard_normal(a.shape) for a in start]
        for i, (p, tp, target) in enumerate(zip(ours, theirs, targets)):
            if i == 1 and step % 5 == 3:  # a parameter without a gradient this step is skipped
                p.grad = tp.grad = None
                continue
            g = 2.0 * (tp.detach().numpy() - target) + np.sin(3.0 * tp.detach().numpy())
            p.grad = mg.tensor(g.copy(), backend=backend)
            tp.grad = torch.tensor(g.copy())
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-11, atol=1e-13, err_msg=str(step))
        if step == reload_at:
            saved = opt.state_dict()
            opt = make_ours()
            opt.load_state_dict(saved)
    _compare_states(opt, topt)
    return opt, topt


CASES = {
    "Adamax": [dict(), dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6), dict(lr=0.02, weight_decay=0.1),
               dict(lr=0.01, maximize=True)],
    "NAdam": [dict(), dict(lr=0.05, momentum_decay=0.01, betas=(0.85, 0.995)), dict(lr=0.02, weight_decay=0.1),
              dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True), dict(lr=0.01, maximize=True)],
    "RAdam": [dict(), dict(lr=0.05, betas=(0.9, 0.9)), dict(lr=0.02, weight_decay=0.1, eps=1e-4),
              dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True), dict(lr=0.01, maximize=True)],
    "Adadelta": [dict(), dict(lr=0.5, rho=0.8, eps=1e-4), dict(weight_decay=0.1), dict(lr=0.3, maximize=True)],
}
PARAMS = [(cls, kwargs) for cls, cases in CASES.items() for kwargs in cases]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("cls", "kwargs"), PARAMS, ids=[f"{c}-{k}" for c, k in PARAMS])
def test_matches_torch_step_for_step(cls, kwargs, backend):
    torch = pytest.importorskip("torch")
    with _torch_float64(torch):
        _run(torch, cls, kwargs, backend)


@pytest.mark.parametrize("cls", list(CASES))
def test_parameter_groups_match_torch(cls):
    torch = pytest.importorskip("torch")
    with _torch_float64(torch):
        _run(torch, cls, CASES[cls][-1], groups=True, seed=1)


def test_radam_switches_to_the_rectified_step():
    """With beta2 = 0.9, rho_t passes 5 at the sixth step: both branches of the rule run in this range."""
    torch = pytest.importorskip("torch")
    beta2, rho_inf = 0.9, 2 / (1 - 0.9) - 1
    rho = [rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t) for t in range(1, 12)]
    assert min(rho) <= 5.0 < max(rho)
    _run(torch, "RAdam", dict(lr=0.05, betas=(0.9, beta2)), steps=12, reload_at=3)


def test_defaults_are_pytorchs():
    torch = pytest.importorskip("torch")
    for cls in CASES:
        ours = getattr(optim, cls)([mg.zeros(2, requires_grad=True)])
        theirs = getattr(torch.optim, cls)([torch.zeros(2, requires_grad=True)])
        for key, value in ours.defaults.items():
            expected = theirs.defaults[key]
            assert value == (tuple(expected) if isinstance(value, tuple) else expected), (cls, key)
        assert set(theirs.defaults) - set(ours.defaults) <= TORCH_ONLY_GROUP_KEYS, cls


@pytest.mark.parametrize("cls", list(CASES))
def test_a_failed_step_changes_nothing(cls):
    p, q = mg.tensor(np.ones(3), requires_grad=True), mg.tensor(np.ones(2), requires_grad=True)
    opt = getattr(optim, cls)([p, q], lr=0.1, weight_decay=0.1)
    p.grad, q.grad = mg.tensor(np.full(3, 0.5)), mg.tensor(np.full(2, 0.25))
    opt.step()
    before = (p.numpy().copy(), q.numpy().copy(), p._version,
              {k: v.numpy().copy() if hasattr(v, "numpy") else v for k, v in opt.state[p].items()})
    q.grad = mg.tensor(np.ones(3))  # wrong shape: the whole step is refused, p's update included
    with pytest.raises(mg.ShapeError, match="nothing was updated"):
        opt.step()
    np.testing.assert_array_equal(p.numpy(), before[0])
    np.testing.assert_array_equal(q.numpy(), before[1])
    assert p._version == before[2]
    for key, value in opt.state[p].items():
        np.testing.assert_array_equal(value.numpy() if hasattr(value, "numpy") else value, before[3][key])


@pytest.mark.parametrize("cls", list(CASES))
def test_steps_bump_versions_and_state_follows_the_parameter(cls):
    """After ``p.to("float32")`` the next step moves the state to float32 (as for Adam)."""
    p = mg.tensor(np.linspace(-1, 1, 4), requires_grad=True)
    opt = getattr(optim, cls)([p], lr=0.1)
    p.grad = mg.tensor(np.full(4, 0.5))
    version = p._version
    opt.step()
    assert p._version > version
    q = mg.tensor(p.numpy().astype(np.float32), requires_grad=True)
    opt2 = getattr(optim, cls)([q], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    assert all(v.dtype == np.float32 for v in opt2.state[q].values() if isinstance(v, mg.Tensor))
    q.grad = mg.tensor(np.full(4, 0.5, dtype=np.float32))
    opt2.step()
    assert q.dtype == np.float32


@pytest.mark.parametrize(("cls", "kwargs", "match"), [
    ("Adamax", dict(lr=-1.0), "Adamax: invalid learning rate -1.0"),
    ("Adamax", dict(betas=(1.0, 0.9)), r"Adamax: invalid betas \(1.0, 0.9\)"),
    ("NAdam", dict(momentum_decay=-0.1), "NAdam: invalid momentum_decay -0.1"),
    ("NAdam", dict(eps=-1e-8), "NAdam: invalid epsilon"),
    ("RAdam", dict(weight_decay=-0.1), "RAdam: invalid weight_decay -0.1"),
    ("Adadelta", dict(rho=1.5), r"Adadelta: invalid rho 1.5; it must be in \[0, 1\]"),
    ("Adadelta", dict(lr=-0.5), "Adadelta: invalid lr -0.5"),
])
def test_arguments_are_checked(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(optim, cls)([mg.zeros(1, requires_grad=True)], **kwargs)
