"""Adamax, NAdam, RAdam, Adadelta, ASGD, Rprop and LBFGS compared with torch.optim step for step (float64, many
steps, parameter groups, a state-dict round trip mid-run); CyclicLR and ChainedScheduler compared with
torch.optim.lr_scheduler."""

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
    "ASGD": [dict(), dict(lr=0.05, lambd=1e-2, alpha=0.6, t0=10), dict(lr=0.02, t0=0, weight_decay=0.1),
             dict(lr=0.01, t0=5, maximize=True)],
    "Rprop": [dict(), dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2)), dict(lr=0.01, maximize=True)],
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


@pytest.mark.parametrize("cls", list(CASES))
def test_a_pytorch_state_dict_as_numpy_arrays_resumes_the_run(cls):
    """PyTorch's state dict, its tensors turned into arrays, loads into ours; both runs then go on equal."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    start = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    ours = [mg.tensor(a.copy(), requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    with _torch_float64(torch):
        topt = getattr(torch.optim, cls)(theirs, **CASES[cls][1])
        opt = getattr(optim, cls)(ours, **CASES[cls][1])
        for step in range(16):
            grads = [rng.standard_normal(a.shape) for a in start]
            for tp, g in zip(theirs, grads):
                tp.grad = torch.tensor(g)
            topt.step()
            if step < 7:
                continue
            if step == 7:
                for p, tp in zip(ours, theirs):
                    p.array[...] = tp.detach().numpy()
                saved = topt.state_dict()
                opt.load_state_dict({"param_groups": saved["param_groups"], "state": {
                    i: {k: v.numpy() for k, v in values.items()} for i, values in saved["state"].items()}})
                continue
            for p, g in zip(ours, grads):
                p.grad = mg.tensor(g)
            opt.step()
            for p, tp in zip(ours, theirs):
                np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-11, atol=1e-13)


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


@pytest.mark.parametrize("name", [*CASES, "LBFGS", "lr_scheduler.CyclicLR", "lr_scheduler.ChainedScheduler"])
def test_signatures_are_pytorchs(name):
    """Argument names, order, kinds and defaults, less PyTorch's foreach/fused/compiled switches."""
    import inspect

    torch = pytest.importorskip("torch")

    def signature(module):
        obj = module
        for part in name.split("."):
            obj = getattr(obj, part)
        return [(p.name, p.kind, p.default) for p in inspect.signature(obj).parameters.values()
                if p.name not in TORCH_ONLY_GROUP_KEYS]

    assert signature(optim) == signature(torch.optim)


@pytest.mark.parametrize("cls", list(CASES))
def test_a_failed_step_changes_nothing(cls):
    p, q = mg.tensor(np.ones(3), requires_grad=True), mg.tensor(np.ones(2), requires_grad=True)
    opt = getattr(optim, cls)([p, q], lr=0.1, **({} if cls == "Rprop" else dict(weight_decay=0.1)))
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
    ("ASGD", dict(weight_decay=-1.0), "ASGD: invalid weight_decay -1.0"),
    ("Rprop", dict(etas=(0.5, 0.9)), r"Rprop: invalid etas \(0.5, 0.9\); they need 0 < etas\[0\] < 1 < etas\[1\]"),
])
def test_arguments_are_checked(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(optim, cls)([mg.zeros(1, requires_grad=True)], **kwargs)


# -- CyclicLR and ChainedScheduler ------------------------------------------------------------------------
def _optimizer_pair(torch, cls="SGD", **kwargs):
    rng = np.random.default_rng(3)
    groups = [(rng.standard_normal(2), 0.1), (rng.standard_normal(3), 0.02)]
    ours = getattr(optim, cls)([{"params": [mg.tensor(a, requires_grad=True)], "lr": lr} for a, lr in groups],
                               **kwargs)
    theirs = getattr(torch.optim, cls)([{"params": [torch.tensor(a, requires_grad=True)], "lr": lr}
                                        for a, lr in groups], **kwargs)
    return ours, theirs


class HalfLife:
    """A callable object: CyclicLR keeps its attributes (not those of a function) in the state dict."""

    def __init__(self, half_life):
        self.half_life = half_life

    def __call__(self, x):
        return 0.5 ** (x / self.half_life)


SCHEDULERS = {
    "cyclic_triangular": ("SGD", lambda s, o: s.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4)),
    "cyclic_triangular2": ("SGD", lambda s, o: s.CyclicLR(o, base_lr=[0.01, 0.001], max_lr=[0.2, 0.05],
                                                          step_size_up=3, step_size_down=5, mode="triangular2",
                                                          base_momentum=[0.7, 0.75], max_momentum=[0.95, 0.9])),
    "cyclic_exp_range": ("SGD", lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=2, step_size_down=4,
                                                        mode="exp_range", gamma=0.97)),
    "cyclic_scale_fn_cycle": ("SGD", lambda s, o: s.CyclicLR(o, 0.02, 0.3, 3, scale_fn=HalfLife(2.0),
                                                             cycle_momentum=False)),
    "cyclic_scale_fn_iterations": ("SGD", lambda s, o: s.CyclicLR(o, 0.02, 0.3, 5, 1, scale_fn=HalfLife(7.0),
                                                                  scale_mode="iterations")),
    "cyclic_adam_beta1": ("Adam", lambda s, o: s.CyclicLR(o, 1e-3, 1e-2, step_size_up=3, mode="triangular2")),
    "chained": ("SGD", lambda s, o: s.ChainedScheduler([s.ConstantLR(o, factor=0.1, total_iters=5),
                                                        s.ExponentialLR(o, gamma=0.9)])),
    "chained_with_optimizer": ("SGD", lambda s, o: s.ChainedScheduler(
        [s.LinearLR(o, start_factor=0.2, total_iters=4), s.MultiStepLR(o, [3, 8], 0.5),
         s.CosineAnnealingLR(o, T_max=7)], optimizer=o)),
    "chained_cyclic": ("SGD", lambda s, o: s.ChainedScheduler([s.CyclicLR(o, 0.01, 0.1, 3, cycle_momentum=False),
                                                               s.MultiplicativeLR(o, lambda epoch: 0.98)])),
}


def _momentum(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_schedulers_match_torch_step_for_step(name):
    torch = pytest.importorskip("torch")
    cls, make = SCHEDULERS[name]
    ours_opt, theirs_opt = _optimizer_pair(torch, cls)
    ours, theirs = make(optim.lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, theirs_opt)
    for step in range(30):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-13, abs=0), step
        for group, tgroup in zip(ours_opt.param_groups, theirs_opt.param_groups):
            assert group["lr"] == pytest.approx(tgroup["lr"], rel=1e-13, abs=0), step
            assert _momentum(group) == pytest.approx(_momentum(tgroup), rel=1e-13, abs=0), step
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        if step in (6, 13):  # resume from a checkpoint: a fresh scheduler, then both state dicts loaded
            state, opt_state = ours.state_dict(), ours_opt.state_dict()
            if isinstance(ours, optim.lr_scheduler.CyclicLR) and isinstance(ours._scale_fn_custom, HalfLife):
                assert state["_scale_fn_custom"] == {"half_life": ours._scale_fn_custom.half_life}
            ours = make(optim.lr_scheduler, ours_opt)
            ours_opt.load_state_dict(opt_state)
            ours.load_state_dict(state)


def test_cyclic_state_dict_has_pytorchs_keys_and_restores_a_scale_object():
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = _optimizer_pair(torch)
    ours = optim.lr_scheduler.CyclicLR(ours_opt, 0.01, 0.1, 3, scale_fn=HalfLife(2.0))
    theirs = torch.optim.lr_scheduler.CyclicLR(theirs_opt, 0.01, 0.1, 3, scale_fn=HalfLife(2.0))
    assert set(ours.state_dict()) <= set(theirs.state_dict())
    ours._scale_fn_custom.half_life = 5.0
    state = ours.state_dict()
    fresh = optim.lr_scheduler.CyclicLR(ours_opt, 0.01, 0.1, 3, scale_fn=HalfLife(2.0))
    fresh.load_state_dict(state)
    assert fresh._scale_fn_custom.half_life == 5.0
    assert "_scale_fn_custom" in state  # loading did not consume the caller's dict
    plain = optim.lr_scheduler.CyclicLR(ours_opt, 0.01, 0.1, 3, scale_fn=lambda x: 1.0)
    assert plain.state_dict()["_scale_fn_custom"] is None


def test_scheduler_arguments_are_checked():
    opt = optim.SGD([mg.zeros(1, requires_grad=True)], lr=0.1)
    sched = optim.lr_scheduler
    with pytest.raises(ValueError, match="CyclicLR: mode must be"):
        sched.CyclicLR(opt, 0.01, 0.1, mode="cosine")
    with pytest.raises(ValueError, match="CyclicLR: step_size_up must be > 0"):
        sched.CyclicLR(opt, 0.01, 0.1, step_size_up=0)
    with pytest.raises(ValueError, match="CyclicLR: scale_mode"):
        sched.CyclicLR(opt, 0.01, 0.1, scale_fn=lambda x: 1.0, scale_mode="epochs")
    with pytest.raises(ValueError, match="expected 1 values for max_lr"):
        sched.CyclicLR(opt, 0.01, [0.1, 0.2])
    with pytest.raises(ValueError, match="CyclicLR: cycle_momentum needs"):
        sched.CyclicLR(optim.Adagrad([mg.zeros(1, requires_grad=True)]), 0.01, 0.1)
    with pytest.raises(ValueError, match="at least one"):
        sched.ChainedScheduler([])
    other = optim.SGD([mg.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="scheduler 1 .ExponentialLR. belongs to another optimizer"):
        sched.ChainedScheduler([sched.ExponentialLR(opt, 0.9), sched.ExponentialLR(other, 0.9)])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        sched.ChainedScheduler([sched.ReduceLROnPlateau(opt)])


# -- LBFGS ------------------------------------------------------------------------------------------------
def _rosenbrock(constant, x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


LSQ_RNG = np.random.default_rng(11)
LSQ_A, LSQ_B = LSQ_RNG.standard_normal((9, 3)), LSQ_RNG.standard_normal((9, 2))


def _least_squares(constant, w, b):
    a, target = constant(LSQ_A), constant(LSQ_B)
    return ((a @ w + b - target) ** 2).sum() + 0.1 * (w ** 2).sum()


PROBLEMS = {
    "rosenbrock": (_rosenbrock, [np.array([-1.5, 2.0, -0.5, 1.2])]),
    "least_squares": (_least_squares, [LSQ_RNG.standard_normal((3, 2)), LSQ_RNG.standard_normal(2)]),
}
LBFGS_CASES = [
    ("rosenbrock", dict(line_search_fn="strong_wolfe")),
    ("rosenbrock", dict(line_search_fn="strong_wolfe", history_size=3, max_iter=7)),
    ("rosenbrock", dict(lr=0.05, max_iter=4)),
    ("rosenbrock", dict(lr=0.5, line_search_fn="strong_wolfe", max_iter=30, max_eval=40, tolerance_change=1e-12)),
    ("least_squares", dict()),
    ("least_squares", dict(line_search_fn="strong_wolfe", history_size=2, max_iter=3)),
    ("least_squares", dict(lr=0.3, max_iter=6, tolerance_grad=0.2)),  # stops at the gradient tolerance
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("problem", "kwargs"), LBFGS_CASES, ids=[f"{p}-{k}" for p, k in LBFGS_CASES])
def test_lbfgs_matches_torch_iterates(problem, kwargs, backend):
    torch = pytest.importorskip("torch")
    loss_fn, start = PROBLEMS[problem]
    ours = [mg.tensor(a.copy(), backend=backend, requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]

    def closure_for(constant, params, opt_box):
        def closure():
            opt_box[0].zero_grad()
            loss = loss_fn(constant, *params)
            loss.backward()
            return loss
        return closure

    opt_box, topt_box = [optim.LBFGS(ours, **kwargs)], [torch.optim.LBFGS(theirs, **kwargs)]
    closure = closure_for(lambda a: mg.tensor(a, backend=backend), ours, opt_box)
    tclosure = closure_for(torch.tensor, theirs, topt_box)
    losses = []
    for step in range(6):
        loss, tloss = opt_box[0].step(closure), topt_box[0].step(tclosure)
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-10, abs=1e-12), step
        losses.append(tloss.item())
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-9, atol=1e-11, err_msg=str(step))
        state, tstate = opt_box[0].state[ours[0]], topt_box[0].state[theirs[0]]
        assert (state["func_evals"], state["n_iter"]) == (tstate["func_evals"], tstate["n_iter"]), step
        assert len(state["old_dirs"]) == len(tstate["old_dirs"])
        if step == 2:  # resume from the state dict
            saved = opt_box[0].state_dict()
            assert list(saved["state"][0]) == list(topt_box[0].state_dict()["state"][0])
            opt_box[0] = optim.LBFGS(ours, **kwargs)
            opt_box[0].load_state_dict(saved)
    assert losses[-1] < losses[0]  # the problem is being solved, not only reproduced


def test_lbfgs_resumes_from_a_pytorch_state_dict_as_numpy_arrays():
    torch = pytest.importorskip("torch")
    start = PROBLEMS["rosenbrock"][1][0]
    x, tx = mg.tensor(start.copy(), requires_grad=True), torch.tensor(start.copy(), requires_grad=True)
    kwargs = dict(line_search_fn="strong_wolfe", history_size=3, max_iter=4)
    opt, topt = optim.LBFGS([x], **kwargs), torch.optim.LBFGS([tx], **kwargs)

    def closure_for(optimizer, param):
        def closure():
            optimizer.zero_grad()
            loss = _rosenbrock(None, param)
            loss.backward()
            return loss
        return closure

    topt.step(closure_for(topt, tx))

    def as_arrays(value):
        if isinstance(value, list):
            return [as_arrays(v) for v in value]
        return value.detach().numpy() if isinstance(value, torch.Tensor) else value

    saved = topt.state_dict()
    opt.load_state_dict({"param_groups": saved["param_groups"],
                         "state": {i: {k: as_arrays(v) for k, v in s.items()} for i, s in saved["state"].items()}})
    x.array[...] = tx.detach().numpy()
    for _ in range(3):
        loss, tloss = opt.step(closure_for(opt, x)), topt.step(closure_for(topt, tx))
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-10)
        np.testing.assert_allclose(x.numpy(), tx.detach().numpy(), rtol=1e-9, atol=1e-11)
    assert opt.state[x]["func_evals"] == topt.state[tx]["func_evals"]


def test_lbfgs_arguments_are_checked():
    p = mg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [p]}, {"params": [mg.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe', got 'armijo'"):
        optim.LBFGS([p], line_search_fn="armijo")
    opt = optim.LBFGS([p])
    with pytest.raises(ValueError, match="per-parameter options"):
        opt.add_param_group({"params": [mg.zeros(1, requires_grad=True)]})
    with pytest.raises(TypeError, match="LBFGS.step needs a closure"):
        opt.step(None)

    def bad_closure():
        p.grad = mg.zeros(3)
        return (p * 1.0).sum()

    with pytest.raises(mg.ShapeError, match=r"LBFGS: the gradient \(\(3,\)"):
        opt.step(bad_closure)
    np.testing.assert_array_equal(p.numpy(), np.zeros(2))


def test_lbfgs_failure_mid_step_restores_parameters_and_state():
    """The closure fails at its fourth call, after the step has moved the parameters: all is put back."""
    x = mg.tensor(np.array([-1.5, 2.0, -0.5]), requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=5)
    calls = []

    def closure(fail_at=None):
        calls.append(1)
        if len(calls) == fail_at:
            raise FloatingPointError("diverged")
        opt.zero_grad()
        loss = _rosenbrock(None, x)
        loss.backward()
        return loss

    opt.step(closure)
    before_x = x.numpy().copy()
    before = {k: (v.numpy().copy() if isinstance(v, mg.Tensor) else list(v) if isinstance(v, list) else v)
              for k, v in opt.state[x].items()}
    calls.clear()
    with pytest.raises(FloatingPointError, match="diverged"):
        opt.step(lambda: closure(fail_at=4))
    np.testing.assert_array_equal(x.numpy(), before_x)
    state = opt.state[x]
    assert list(state) == list(before)
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(state[key].numpy(), value, err_msg=key)
        elif key in ("old_dirs", "old_stps"):
            assert [id(v) for v in state[key]] == [id(v) for v in value], key
        else:
            assert state[key] == value, key


# -- the CuPy backend's code (its CPU stand-in) ------------------------------------------------------------
DEVICE_CASES = [(cls, CASES[cls][-1]) for cls in CASES] + [("LBFGS", dict(line_search_fn="strong_wolfe"))]


@pytest.mark.parametrize(("cls", "kwargs"), DEVICE_CASES, ids=[c for c, _ in DEVICE_CASES])
def test_updates_on_the_cupy_backend_match_numpy(cupy_device, cls, kwargs):
    rng = np.random.default_rng(2)
    start = [rng.standard_normal((3, 2)), rng.standard_normal(2)]

    def run(backend):
        params = [mg.tensor(a, backend=backend, requires_grad=True) for a in start]
        opt = getattr(optim, cls)(params, **kwargs)
        for _ in range(4):
            if cls == "LBFGS":
                def closure():
                    opt.zero_grad()
                    loss = _least_squares(lambda a: mg.tensor(a, backend=backend), *params)
                    loss.backward()
                    return loss
                opt.step(closure)
            else:
                for p in params:
                    p.grad = mg.tensor(np.sin(3 * p.numpy()) + p.numpy(), backend=backend)
                opt.step()
        return [p.numpy() for p in params]

    for got, want in zip(run(cupy_device), run("numpy")):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
