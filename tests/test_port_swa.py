"""``minigrad.optim.swa_utils`` (AveragedModel, SWALR, update_bn, the averaging functions) against their
definitions, and against PyTorch's ``torch.optim.swa_utils`` where it is installed."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import swa_utils


def _net(lib, dtype):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.ReLU(), lib.nn.Linear(4, 2)).to(dtype)


def _set_params(model, arrays, lib):
    with lib.no_grad():
        for p, a in zip(model.parameters(), arrays):
            p.copy_(lib.tensor(a, dtype=p.dtype) if lib is not mg else mg.tensor(a, dtype=p.dtype, backend=p.backend))


def _snapshots(steps, dtype):
    rng = np.random.default_rng(1)
    shapes = [(4, 3), (4,), (4,), (4,), (2, 4), (2,)]
    return [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]


def test_the_default_average_is_the_mean_of_the_models_seen():
    model = _net(mg, mg.float64)
    averaged = swa_utils.AveragedModel(model)
    snapshots = _snapshots(5, np.float64)
    for arrays in snapshots:
        _set_params(model, arrays, mg)
        averaged.update_parameters(model)
    assert averaged.n_averaged.item() == 5
    for i, p in enumerate(averaged.module.parameters()):
        np.testing.assert_allclose(p.numpy(), np.mean([s[i] for s in snapshots], axis=0), rtol=1e-14, atol=1e-15)


def test_ema_follows_its_recursion():
    model = _net(mg, mg.float64)
    ema = swa_utils.AveragedModel(model, avg_fn=swa_utils.get_ema_avg_fn(0.8))
    snapshots = _snapshots(4, np.float64)
    expected = None
    for arrays in snapshots:
        _set_params(model, arrays, mg)
        ema.update_parameters(model)
        expected = [a.copy() for a in arrays] if expected is None else [
            0.8 * e + (1 - 0.8) * a for e, a in zip(expected, arrays)]
    for p, e in zip(ema.module.parameters(), expected):
        np.testing.assert_allclose(p.numpy(), e, rtol=1e-14, atol=1e-15)


def test_errors_name_the_argument():
    model = _net(mg, mg.float32)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="decay value 1.5"):
        swa_utils.get_ema_multi_avg_fn(1.5)
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy"):
        swa_utils.SWALR(opt, 0.05, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs"):
        swa_utils.SWALR(opt, 0.05, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr"):
        swa_utils.SWALR(opt, [0.05, 0.01])


def _averagers(lib, model, su):
    return {"swa": su.AveragedModel(model),
            "swa multi": su.AveragedModel(model, multi_avg_fn=su.get_swa_multi_avg_fn()),
            "ema": su.AveragedModel(model, avg_fn=su.get_ema_avg_fn(0.9)),
            "ema multi buffers": su.AveragedModel(model, multi_avg_fn=su.get_ema_multi_avg_fn(0.75), use_buffers=True)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_averages_equal_pytorchs_bit_for_bit(dtype):
    """The same parameter snapshots averaged by each kind of AveragedModel: every bit as PyTorch's."""
    torch = pytest.importorskip("torch")
    from torch.optim import swa_utils as tsu

    snapshots = _snapshots(5, np.dtype(dtype))
    results = {}
    for lib, su in ((torch, tsu), (mg, swa_utils)):
        model = _net(lib, getattr(lib, dtype))
        averagers = _averagers(lib, model, su)
        for arrays in snapshots:
            _set_params(model, arrays, lib)
            with lib.no_grad():
                model[1].running_mean.copy_(lib.tensor(arrays[2] * 3, dtype=model[1].running_mean.dtype))
            for averager in averagers.values():
                averager.update_parameters(model)
        results[lib.__name__] = {name: {k: v.detach().numpy().copy() for k, v in a.state_dict().items()}
                                 for name, a in averagers.items()}
    for name, states in results["torch"].items():
        assert list(states) == list(results["minigrad"][name]), name
        for key, value in states.items():
            np.testing.assert_array_equal(results["minigrad"][name][key], value, err_msg=f"{name} {key}")


@pytest.mark.parametrize("strategy, anneal_epochs", [("cos", 3), ("linear", 4), ("cos", 0)])
def test_swalr_rates_equal_pytorchs(strategy, anneal_epochs):
    torch = pytest.importorskip("torch")
    from torch.optim import swa_utils as tsu

    rates = {}
    for lib, su in ((torch, tsu), (mg, swa_utils)):
        a, b = lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)
        opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
        sched = su.SWALR(opt, swa_lr=[0.02, 0.3], anneal_epochs=anneal_epochs, anneal_strategy=strategy)
        seen = [sched.get_last_lr()]
        for step in range(7):
            opt.step()
            if step == 2:
                opt.param_groups[0]["lr"] = 0.07  # a manual change composes with the recursion
            sched.step()
            seen.append(sched.get_last_lr())
        state = sched.state_dict()
        sched.load_state_dict(state)
        sched.step()
        seen.append(sched.get_last_lr())
        rates[lib.__name__] = seen
    assert rates["minigrad"] == rates["torch"]


def test_update_bn_equals_pytorchs():
    torch = pytest.importorskip("torch")
    from torch.optim import swa_utils as tsu

    rng = np.random.default_rng(2)
    batches = [rng.standard_normal((5, 3)) for _ in range(3)]
    stats = {}
    for lib, su in ((torch, tsu), (mg, swa_utils)):
        model = _net(lib, lib.float64)
        _set_params(model, _snapshots(1, np.float64)[0], lib)
        model.eval()
        momentum = model[1].momentum
        su.update_bn([(lib.tensor(x), 0) for x in batches], model)
        assert not model.training and model[1].momentum == momentum
        bn = model[1]
        stats[lib.__name__] = [bn.running_mean.numpy().copy(), bn.running_var.numpy().copy(),
                               int(bn.num_batches_tracked.item())]
    for got, expected in zip(stats["minigrad"], stats["torch"]):
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


def test_swa_training_loop_ports():
    """PyTorch's documented SWA recipe, step for step (float64)."""
    torch = pytest.importorskip("torch")
    from torch.optim import swa_utils as tsu

    rng = np.random.default_rng(3)
    data = [(rng.standard_normal((6, 3)), rng.standard_normal((6, 2))) for _ in range(4)]
    out = {}
    for lib, su in ((torch, tsu), (mg, swa_utils)):
        model = _net(lib, lib.float64)
        _set_params(model, _snapshots(1, np.float64)[0], lib)
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        swa_model, swa_sched = su.AveragedModel(model), su.SWALR(opt, swa_lr=0.05, anneal_epochs=2)
        for epoch in range(5):
            for x, y in data:
                opt.zero_grad()
                loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
                loss.backward()
                opt.step()
            if epoch >= 2:
                swa_model.update_parameters(model)
                swa_sched.step()
        su.update_bn([(lib.tensor(x), lib.tensor(y)) for x, y in data], swa_model)
        out[lib.__name__] = {k: v.detach().numpy().copy() for k, v in swa_model.state_dict().items()}
    for key, value in out["torch"].items():
        np.testing.assert_allclose(out["minigrad"][key], value, rtol=1e-10, atol=1e-12, err_msg=key)


def test_averaged_model_on_numba_matches_numpy():
    if "numba" not in mg.backends.available():
        pytest.skip("numba backend not installed")
    results = []
    for backend in ("numpy", "numba"):
        model = _net(mg, mg.float32).to(backend)
        averaged = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.5))
        for arrays in _snapshots(3, np.float32):
            _set_params(model, arrays, mg)
            averaged.update_parameters(model)
        results.append([p.numpy().copy() for p in averaged.parameters()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
