"""RMSprop, Adagrad and the schedulers MultiStepLR, LambdaLR, LinearLR, SequentialLR, OneCycleLR and
ReduceLROnPlateau, compared step for step with torch.optim (float64), with their state dicts."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim

RNG = np.random.default_rng(7)
BACKENDS = mg.testing.available_backends()


def _trajectories(torch, make_ours, make_theirs, backend="numpy", steps=6):
    """Minimise a quadratic with random gradients-like targets on both libraries; the parameters after each step."""
    start = [RNG.standard_normal((3, 2)), RNG.standard_normal(4)]
    targets = [[RNG.standard_normal(a.shape) for a in start] for _ in range(steps)]
    ours = [mg.tensor(a.copy(), backend=backend, requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt, topt = make_ours(ours), make_theirs(theirs)
    for step_targets in targets:
        for p, tp, target in zip(ours, theirs, step_targets):
            p.grad = (p.detach() - mg.tensor(target, backend=backend)) * 2.0
            tp.grad = (tp.detach() - torch.tensor(target)) * 2.0
        opt.step()
        topt.step()
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-12)
    return opt, topt


RMSPROP = [dict(), dict(alpha=0.9, eps=1e-6), dict(momentum=0.9), dict(centered=True, weight_decay=0.1),
           dict(centered=True, momentum=0.5, maximize=True)]
ADAGRAD = [dict(), dict(lr_decay=0.1), dict(initial_accumulator_value=0.5, eps=1e-6),
           dict(weight_decay=0.2, maximize=True)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs", RMSPROP, ids=str)
def test_rmsprop_matches_torch(kwargs, backend):
    torch = pytest.importorskip("torch")
    opt, topt = _trajectories(torch, lambda p: optim.RMSprop(p, lr=0.05, **kwargs),
                              lambda p: torch.optim.RMSprop(p, lr=0.05, **kwargs), backend)
    theirs = topt.state_dict()["state"][0]
    for key, value in opt.state_dict()["state"][0].items():
        expected = theirs[key]
        np.testing.assert_allclose(np.asarray(value.numpy() if hasattr(value, "numpy") else value),
                                   expected.numpy(), rtol=1e-12, err_msg=key)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs", ADAGRAD, ids=str)
def test_adagrad_matches_torch(kwargs, backend):
    torch = pytest.importorskip("torch")
    opt, topt = _trajectories(torch, lambda p: optim.Adagrad(p, lr=0.3, **kwargs),
                              lambda p: torch.optim.Adagrad(p, lr=0.3, **kwargs), backend)
    np.testing.assert_allclose(opt.state_dict()["state"][1]["sum"].numpy(),
                               topt.state_dict()["state"][1]["sum"].numpy(), rtol=1e-12)


@pytest.mark.parametrize("cls", ["RMSprop", "Adagrad"])
def test_a_failed_step_changes_nothing(cls):
    p, q = mg.tensor(np.ones(3), requires_grad=True), mg.tensor(np.ones(2), requires_grad=True)
    opt = getattr(optim, cls)([p, q], lr=0.1, weight_decay=0.1)
    p.grad, q.grad = mg.tensor(np.full(3, 0.5)), mg.tensor(np.full(2, 0.5))
    opt.step()
    before = (p.numpy().copy(), q.numpy().copy(), {k: v.numpy().copy() if hasattr(v, "numpy") else v
                                                    for k, v in opt.state[p].items()})
    q.grad = mg.tensor(np.ones(3))  # wrong shape: the whole step is refused
    with pytest.raises(mg.ShapeError, match="nothing was updated"):
        opt.step()
    np.testing.assert_array_equal(p.numpy(), before[0])
    np.testing.assert_array_equal(q.numpy(), before[1])
    for key, value in opt.state[p].items():
        np.testing.assert_array_equal(value.numpy() if hasattr(value, "numpy") else value, before[2][key])
    with pytest.raises(ValueError, match="invalid"):
        getattr(optim, cls)([p], lr=-1.0)


# -- schedulers -------------------------------------------------------------------------------------------
def _pair_of_optimizers(torch, cls="SGD", **kwargs):
    groups = [{"params": [RNG.standard_normal(2)], "lr": 0.1}, {"params": [RNG.standard_normal(3)], "lr": 0.02}]
    ours = getattr(optim, cls)([{"params": [mg.tensor(g["params"][0], requires_grad=True)], "lr": g["lr"]}
                                for g in groups], **kwargs)
    theirs = getattr(torch.optim, cls)([{"params": [torch.tensor(g["params"][0], requires_grad=True)],
                                         "lr": g["lr"]} for g in groups], **kwargs)
    return ours, theirs


class Warmup:
    """A callable object: LambdaLR keeps its attributes in the state dict."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


SCHEDULERS = {
    "multistep": lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.5),
    "lambda": lambda s, o: s.LambdaLR(o, lambda epoch: 0.9 ** epoch),
    "lambda_per_group": lambda s, o: s.LambdaLR(o, [Warmup(4), lambda epoch: 1 / (1 + epoch)]),
    "linear": lambda s, o: s.LinearLR(o, start_factor=0.1, total_iters=4),
    "exponential": lambda s, o: s.ExponentialLR(o, gamma=0.8),
    "warm_restarts": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3, eta_min=0.01),
    "warm_restarts_mult": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2),
    "constant": lambda s, o: s.ConstantLR(o, factor=0.25, total_iters=3),
    "multiplicative": lambda s, o: s.MultiplicativeLR(o, [Warmup(3), lambda epoch: 0.95]),
    "polynomial": lambda s, o: s.PolynomialLR(o, total_iters=8, power=2.0),
    "sequential_constant": lambda s, o: s.SequentialLR(
        o, [s.ConstantLR(o, factor=0.5, total_iters=2), s.ExponentialLR(o, gamma=0.9)], milestones=[2]),
    "linear_down": lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=6),
    "sequential": lambda s, o: s.SequentialLR(
        o, [s.LinearLR(o, start_factor=0.25, total_iters=3), s.CosineAnnealingLR(o, T_max=6)], milestones=[3]),
    "sequential3": lambda s, o: s.SequentialLR(
        o, [s.LinearLR(o, 0.5, total_iters=2), s.StepLR(o, 2, 0.5), s.MultiStepLR(o, [1, 2])], milestones=[3, 7]),
    "onecycle": lambda s, o: s.OneCycleLR(o, max_lr=[0.5, 0.1], total_steps=12),
    "onecycle_linear": lambda s, o: s.OneCycleLR(o, max_lr=0.3, epochs=3, steps_per_epoch=4, pct_start=0.25,
                                                 anneal_strategy="linear", div_factor=10.0),
    "onecycle_three_phase": lambda s, o: s.OneCycleLR(o, max_lr=0.4, total_steps=13, three_phase=True,
                                                      cycle_momentum=False),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_schedulers_match_torch_step_for_step(name):
    torch = pytest.importorskip("torch")
    make = SCHEDULERS[name]
    ours_opt, theirs_opt = _pair_of_optimizers(torch, momentum=0.0)
    ours, theirs = make(optim.lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, theirs_opt)
    steps = 12 if name.startswith("onecycle") else 14
    for step in range(steps):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-13), step
        for group, tgroup in zip(ours_opt.param_groups, theirs_opt.param_groups):
            assert group["lr"] == pytest.approx(tgroup["lr"], rel=1e-13)
            assert group["momentum"] == pytest.approx(tgroup["momentum"], rel=1e-13)
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        if step == 4:  # resume from a checkpoint: a fresh scheduler, then both state dicts loaded
            state, opt_state = ours.state_dict(), ours_opt.state_dict()
            ours = make(optim.lr_scheduler, ours_opt)
            ours_opt.load_state_dict(opt_state)
            ours.load_state_dict(state)


def test_onecycle_cycles_adams_beta1_and_refuses_extra_steps():
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = _pair_of_optimizers(torch, "Adam")
    ours = optim.lr_scheduler.OneCycleLR(ours_opt, max_lr=0.1, total_steps=5)
    theirs = torch.optim.lr_scheduler.OneCycleLR(theirs_opt, max_lr=0.1, total_steps=5)
    for _ in range(5):
        assert ours_opt.param_groups[0]["betas"] == pytest.approx(theirs_opt.param_groups[0]["betas"], rel=1e-13)
        ours_opt.step()
        theirs_opt.step()
        if ours.last_epoch < 5:
            ours.step()
            theirs.step()
    with pytest.raises(ValueError, match="total_steps is 5"):
        ours.step()


PLATEAU = [dict(), dict(mode="max", factor=0.5, patience=1, threshold=0.1, threshold_mode="abs"),
           dict(patience=0, cooldown=2, min_lr=[0.03, 0.001]), dict(patience=1, factor=0.2, min_lr=0.05, eps=1e-3)]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=str)
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = _pair_of_optimizers(torch)
    ours = optim.lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.899, 0.9, 0.7, 0.71, 0.72, 0.73, 0.8, 0.69, 0.69, 0.69, 0.5, 0.6] * 2
    for i, metric in enumerate(metrics):
        ours.step(metric)
        theirs.step(metric)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-13), i
        assert (ours.num_bad_epochs, ours.cooldown_counter) == (theirs.num_bad_epochs, theirs.cooldown_counter)
        if i == 10:
            state = ours.state_dict()
            ours = optim.lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
            ours.load_state_dict(state)
    assert math.isfinite(ours.best)


@pytest.mark.parametrize("t_mult", [1, 2, 3])
def test_warm_restarts_with_fractional_epochs_match_torch(t_mult):
    """``step(epoch + batch / batches)``, once per batch, as PyTorch documents it."""
    torch = pytest.importorskip("torch")
    ours_opt, theirs_opt = _pair_of_optimizers(torch, momentum=0.0)
    ours = optim.lr_scheduler.CosineAnnealingWarmRestarts(ours_opt, T_0=2, T_mult=t_mult, eta_min=0.001)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(theirs_opt, T_0=2, T_mult=t_mult, eta_min=0.001)
    for epoch in range(9):
        for batch in range(4):
            ours.step(epoch + batch / 4)
            theirs.step(epoch + batch / 4)
            assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-13), (epoch, batch)


def test_scheduler_arguments_are_checked():
    opt = optim.SGD([mg.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="start_factor"):
        optim.lr_scheduler.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match=r"ConstantLR: factor must be in \(0, 1\]"):
        optim.lr_scheduler.ConstantLR(opt, factor=0.0)
    with pytest.raises(ValueError, match="PolynomialLR: total_iters"):
        optim.lr_scheduler.PolynomialLR(opt, total_iters=0)
    with pytest.raises(ValueError, match="CosineAnnealingWarmRestarts: T_mult must be an int >= 1"):
        optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="CosineAnnealingWarmRestarts: epoch must be >= 0"):
        optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2).step(-1)
    with pytest.raises(ValueError, match="milestones"):
        optim.lr_scheduler.SequentialLR(opt, [optim.lr_scheduler.LinearLR(opt)], milestones=[2])
    with pytest.raises(ValueError, match="total_steps"):
        optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="factor"):
        optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="cycle_momentum"):
        optim.lr_scheduler.OneCycleLR(optim.Adagrad([mg.zeros(1, requires_grad=True)]), 1.0, total_steps=3)
