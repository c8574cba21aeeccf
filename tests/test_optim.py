"""Optimizers and schedulers: trajectories against PyTorch, state dicts, in-place semantics."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.optim import lr_scheduler


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((5, 4)),
            rng.standard_normal((5, 3)))


def _loss(w, b, x, y):
    return (((x @ w + b).tanh() - y) ** 2).sum()


def _trajectories(torch, make_ours, make_theirs, steps=6, dtype="float64", groups=False):
    w0, b0, xa, ya = _problem()
    w, b = (mg.tensor(a, dtype=dtype, requires_grad=True) for a in (w0, b0))
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    tw, tb = (torch.tensor(a, dtype=tdtype, requires_grad=True) for a in (w0, b0))
    x, y = mg.tensor(xa, dtype=dtype), mg.tensor(ya, dtype=dtype)
    tx, ty = torch.tensor(xa, dtype=tdtype), torch.tensor(ya, dtype=tdtype)
    if groups:
        ours = make_ours([{"params": [w]}, {"params": [b], "lr": 0.05}])
        theirs = make_theirs([{"params": [tw]}, {"params": [tb], "lr": 0.05}])
    else:
        ours, theirs = make_ours([w, b]), make_theirs([tw, tb])
    for _ in range(steps):
        ours.zero_grad()
        theirs.zero_grad()
        _loss(w, b, x, y).backward()
        _loss(tw, tb, tx, ty).backward()
        ours.step()
        theirs.step()
    return (w, b), (tw, tb), ours, theirs


SGD_CASES = [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9, dampening=0.3),
             dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.1, momentum=0.5, weight_decay=0.1),
             dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)]
ADAM_CASES = [dict(), dict(lr=0.01, betas=(0.8, 0.9)), dict(lr=0.01, weight_decay=0.1),
              dict(lr=0.01, amsgrad=True), dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)]


def _check(ours_params, theirs_params, rtol=1e-12, atol=1e-12):
    for p, tp in zip(ours_params, theirs_params):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("kw", SGD_CASES, ids=str)
def test_sgd_matches_torch(torch, kw):
    ours, theirs, _, _ = _trajectories(torch, lambda p: optim.SGD(p, **kw), lambda p: torch.optim.SGD(p, **kw))
    _check(ours, theirs)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("kw", ADAM_CASES, ids=str)
def test_adam_and_adamw_match_torch(torch, name, kw):
    ours, theirs, _, _ = _trajectories(torch, lambda p: getattr(optim, name)(p, **kw),
                                       lambda p: getattr(torch.optim, name)(p, **kw))
    _check(ours, theirs)


def test_param_groups_and_float32(torch):
    ours, theirs, opt, _ = _trajectories(torch, lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                         lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), groups=True)
    _check(ours, theirs)
    assert opt.param_groups[1]["lr"] == 0.05 and opt.param_groups[0]["lr"] == 0.1
    ours, theirs, _, _ = _trajectories(torch, lambda p: optim.Adam(p, lr=0.01),
                                       lambda p: torch.optim.Adam(p, lr=0.01), dtype="float32")
    assert all(p.dtype == mg.float32 for p in ours)
    _check(ours, theirs, rtol=1e-5, atol=1e-6)


def test_step_skips_parameters_without_grad_and_closure():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0], requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(a.numpy(), [0.0, 0.0])
    np.testing.assert_allclose(b.numpy(), [3.0])


def test_updates_are_in_place_and_seen_by_version_counters():
    model = nn.Linear(3, 2)
    weight = model.weight
    opt = optim.Adam(model.parameters(), lr=0.1)
    x = mg.randn(4, 3, requires_grad=True)
    model(x).sum().backward()
    version = weight._version
    opt.step()
    assert model.weight is weight and weight._version > version
    y = model(x).sum()  # saves the weight for x's gradient
    model(x).sum().backward()
    opt.step()
    with pytest.raises(mg.InplaceError):
        y.backward()


def _sgd_reference(w, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                   maximize=False):
    """PyTorch's documented SGD rule, written out in NumPy."""
    buf = None
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * w
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
    return w


@pytest.mark.parametrize("kw", SGD_CASES, ids=str)
def test_sgd_matches_the_written_out_rule(kw):
    """Without PyTorch: every SGD option against its formula, with gradients that change each step."""
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(4)]
    p = mg.tensor(w0, requires_grad=True)
    opt = optim.SGD([p], **kw)
    for g in grads:
        p.grad = mg.tensor(g)
        opt.step()
    np.testing.assert_allclose(p.numpy(), _sgd_reference(w0, grads, **kw), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_step_bumps_versions_and_keeps_float32(momentum):
    p = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=momentum)
    for _ in range(2):
        p.grad = mg.tensor(np.full(3, 0.5, np.float32))
        version = p._version
        opt.step()
        assert p._version == version + 1
    assert p.dtype == mg.float32
    if momentum:
        assert opt.state[p]["momentum_buffer"].dtype == mg.float32


def test_sgd_rejects_a_gradient_that_does_not_match_its_parameter():
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = mg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(mg.ShapeError, match=r"SGD: the gradient \(\(3,\) float32.*\(\(2,\) float32"):
        opt.step()
    np.testing.assert_array_equal(p.numpy(), [1.0, 2.0])  # nothing changed


def test_zero_grad():
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and not p.grad.numpy().any()
    opt.zero_grad()
    assert p.grad is None


def test_invalid_arguments():
    p = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
                                  lambda p: optim.AdamW([{"params": p[:1]}, {"params": p[1:], "lr": 0.1}])])
def test_state_dict_resume_equals_uninterrupted(make):
    def setup():
        w0, b0, xa, ya = _problem(1)
        w, b = (mg.tensor(a, dtype="float64", requires_grad=True) for a in (w0, b0))
        return [w, b], mg.tensor(xa, dtype="float64"), mg.tensor(ya, dtype="float64")

    def train(params, opt, x, y, steps):
        for _ in range(steps):
            opt.zero_grad()
            _loss(*params, x, y).backward()
            opt.step()

    params, x, y = setup()
    opt = make(params)
    train(params, opt, x, y, 6)

    params2, x, y = setup()
    opt2 = make(params2)
    train(params2, opt2, x, y, 3)
    sd = opt2.state_dict()
    assert set(sd) == {"state", "param_groups"} and sorted(sd["state"]) == [0, 1]
    assert sd["param_groups"][0]["params"] == [0] or sd["param_groups"][0]["params"] == [0, 1]
    # Round trip through host arrays (as a saved file would be) into a fresh optimizer.
    host = {"state": {str(k): {n: (v.numpy().copy() if isinstance(v, mg.Tensor) else v) for n, v in s.items()}
                      for k, s in sd["state"].items()},
            "param_groups": sd["param_groups"]}
    opt3 = make(params2)
    opt3.load_state_dict(host)
    assert all(isinstance(v, mg.Tensor) for s in opt3.state.values() for k, v in s.items() if k != "step")
    train(params2, opt3, x, y, 3)
    for p, q in zip(params, params2):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-13)


def test_load_state_dict_errors():
    a, b = mg.tensor([1.0], requires_grad=True), mg.tensor([2.0], requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    with pytest.raises(ValueError, match="parameter group"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="1 parameters"):
        opt.load_state_dict(optim.SGD([a], lr=0.1).state_dict())


# -- schedulers -------------------------------------------------------------------------------------
def _lrs(opt, sched, steps):
    out = []
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append([g["lr"] for g in opt.param_groups])
    return out


@pytest.mark.parametrize("kind", ["step", "cosine", "cosine_cycles"])
def test_schedulers_match_torch(torch, kind):
    p = mg.tensor([1.0], requires_grad=True)
    tp = torch.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [p]}, {"params": [mg.tensor([1.0], requires_grad=True)], "lr": 0.5}], lr=0.1)
    topt = torch.optim.SGD([{"params": [tp]}, {"params": [torch.tensor([1.0], requires_grad=True)], "lr": 0.5}],
                           lr=0.1)
    if kind == "step":
        sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=3, gamma=0.5)
    else:
        t_max = 10 if kind == "cosine" else 4
        sched = lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=0.001)
        tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=t_max, eta_min=0.001)
    assert sched.get_last_lr() == tsched.get_last_lr()
    ours, theirs = _lrs(opt, sched, 25), _lrs(topt, tsched, 25)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-16)
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-14)


def test_scheduler_state_dict_and_closed_form():
    opt = optim.SGD([mg.tensor([1.0], requires_grad=True)], lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    _lrs(opt, sched, 5)
    state = sched.state_dict()
    assert state["last_epoch"] == 5 and "optimizer" not in state
    opt2 = optim.SGD([mg.tensor([1.0], requires_grad=True)], lr=1.0)
    sched2 = lr_scheduler.StepLR(opt2, step_size=2, gamma=0.1)
    sched2.load_state_dict(state)
    assert sched2.last_epoch == 5
    sched2.step(7)
    assert opt2.param_groups[0]["lr"] == pytest.approx(1e-3)


ALL_OR_NOTHING = {
    "Adam": lambda p: optim.Adam(p, lr=0.1, weight_decay=0.1, amsgrad=True),
    "AdamW": lambda p: optim.AdamW(p, lr=0.1),
    "SGD-momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
}


def _snapshot(params, opt):
    state = {id(p): {k: (v.backend, v.dtype, v.numpy().copy()) if isinstance(v, mg.Tensor) else v
                     for k, v in s.items()} for p, s in opt.state.items()}
    return [(p.backend, p.dtype, p.numpy().copy(), p._version) for p in params], state


@pytest.mark.parametrize("name", sorted(ALL_OR_NOTHING))
@pytest.mark.parametrize("failure", ["shape", "dtype", "backend", "lr"])
def test_a_failed_step_changes_nothing(name, failure):
    """Validate first, then write: the last parameter's bad gradient (or a bad lr) leaves every parameter and
    every state entry exactly as before, including the ones checked earlier."""
    rng = np.random.default_rng(3)
    params = [mg.tensor(rng.standard_normal(s), dtype="float64", requires_grad=True) for s in [(3, 2), (2,)]]
    opt = ALL_OR_NOTHING[name](params)
    for _ in range(2):  # live state
        opt.zero_grad()
        ((params[0] * params[0]).sum() + params[1].exp().sum()).backward()
        opt.step()
    for p in params:
        p.grad = mg.tensor(rng.standard_normal(p.shape), dtype="float64")
    bad = params[-1]
    if failure == "shape":
        bad.grad = mg.tensor(rng.standard_normal(3), dtype="float64")
    elif failure == "dtype":
        bad.grad = bad.grad.float()
    elif failure == "backend":
        bad.grad = bad.grad.to("numba") if "numba" in mg.testing.available_backends() else bad.grad.float()
    else:
        opt.param_groups[0]["lr"] = "0.1"
    before = _snapshot(params, opt)
    with pytest.raises((mg.ShapeError, TypeError), match=f"{name.split('-')[0]}"):
        opt.step()
    after = _snapshot(params, opt)
    for (b0, d0, v0, ver0), (b1, d1, v1, ver1) in zip(before[0], after[0]):
        assert (b0, d0, ver0) == (b1, d1, ver1)
        np.testing.assert_array_equal(v0, v1)
    assert before[1].keys() == after[1].keys()
    for key in before[1]:
        for k, v in before[1][key].items():
            w = after[1][key][k]
            if isinstance(v, tuple):
                assert v[:2] == w[:2]
                np.testing.assert_array_equal(v[2], w[2])
            else:
                assert v == w


MOVES = [("numba", None), (None, "float32")]


@pytest.mark.parametrize("name", sorted(ALL_OR_NOTHING))
@pytest.mark.parametrize(("backend", "dtype"), MOVES, ids=["backend", "dtype"])
def test_state_follows_a_model_moved_mid_training(name, backend, dtype):
    """model.to(...) between steps: the optimizer's live state moves with the parameters at the next step, and
    training goes on as an uninterrupted run (there and back: numpy -> numba -> numpy, float64 -> float32 ->
    float64)."""
    if backend is not None and backend not in mg.testing.available_backends():
        pytest.skip(f"backend {backend!r} is not available")
    rng = np.random.default_rng(5)
    xa, ya = rng.standard_normal((6, 4)), rng.standard_normal((6, 2))

    def run(moves):
        mg.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 3, dtype="float64"), nn.Tanh(), nn.Linear(3, 2, dtype="float64"))
        opt = ALL_OR_NOTHING[name](model.parameters())
        for step in range(6):
            if step in moves:
                model.to(moves[step])
            p = next(model.parameters())
            x, y = (mg.tensor(a, dtype=p.dtype, backend=p.backend) for a in (xa, ya))
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
            for state in opt.state.values():
                for v in state.values():
                    if isinstance(v, mg.Tensor):
                        assert (v.backend, v.dtype) == (p.backend, p.dtype)
        return [q.to("numpy", "float64").numpy() for q in model.parameters()]

    target = backend or dtype
    uninterrupted = run({})
    moved = run({2: target, 4: "numpy" if backend else "float64"})
    # float32 for two steps rounds the state; the backends compute the same float64 values
    tol = 1e-5 if dtype else 1e-12
    for a, b in zip(uninterrupted, moved):
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
