"""The CuPy backend: registration and the messages when it cannot load, and its code on the CPU stand-in.

The whole agreement suite also runs on the stand-in (tests/test_agreement.py); with ``MINIGRAD_GPU_TESTS=1``
on a GPU machine the real backend replaces it.
"""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pytest

import minigrad as mg
from minigrad import backends, nn

pytest.importorskip("numba_cuda", reason="the CuPy backend's kernels need numba-cuda (pip install -e '.[dev]')")

from _cupy_standin import NAME, CupyStandIn  # noqa: E402
from _dummy_backend import register  # noqa: E402
from conftest import GPU_TESTS  # noqa: E402
from minigrad_backends.cupy_backend import CupyBackend  # noqa: E402

DEVICE = "cupy" if GPU_TESTS else NAME


@pytest.fixture
def device(monkeypatch):
    """The backend under test: the real CuPy backend on a GPU machine, the stand-in elsewhere."""
    if not GPU_TESTS:
        register(monkeypatch, NAME, CupyStandIn)
    return DEVICE


def test_import_minigrad_never_imports_cupy():
    code = "import sys, minigrad; minigrad.backends.available(); print('cupy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_cupy_is_registered_and_listed():
    assert "cupy" in backends.names()
    done = subprocess.run([sys.executable, "-m", "minigrad"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "  cupy " in done.stdout, done.stdout + done.stderr


@pytest.mark.skipif(GPU_TESTS, reason="CuPy is installed on a GPU machine")
def test_without_cupy_available_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    monkeypatch.setattr(backends, "_failures", {})
    monkeypatch.setattr(backends, "_loaded", dict(backends._loaded))
    reason = backends.available()["cupy"]
    assert isinstance(reason, str) and "CuPy is not installed" in reason and "minigrad[cuda13]" in reason
    with pytest.raises(mg.BackendUnavailableError, match="minigrad\\[cuda12\\]"):
        mg.zeros(2, backend="cupy")


@pytest.mark.skipif(GPU_TESTS, reason="a GPU machine has a device")
def test_without_a_device_available_says_what_cupy_said(monkeypatch):
    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    fake_x = types.ModuleType("cupyx")
    fake_x.scipy = types.ModuleType("cupyx.scipy")
    fake_x.scipy.special = types.ModuleType("cupyx.scipy.special")
    for name, module in {"cupy": fake, "cupyx": fake_x, "cupyx.scipy": fake_x.scipy,
                         "cupyx.scipy.special": fake_x.scipy.special}.items():
        monkeypatch.setitem(sys.modules, name, module)
    with pytest.raises(RuntimeError, match="no usable CUDA device or driver: cudaErrorNoDevice"):
        CupyBackend.check_available()


def test_protocol_functions_are_the_array_modules(device):
    be = backends.load(device)
    xp = be.xp
    assert be.add is xp.add and be.matmul is xp.matmul and be.abs is xp.absolute
    assert be.host_memory is False


def _train(backend, steps=3):
    """A small net with BatchNorm, trained with SGD + momentum; returns the losses and the eval output."""
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.Tanh(), nn.Linear(7, 3)).to(backend)
    opt = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = mg.tensor(rng.standard_normal((9, 5)), backend=backend)
    y = mg.tensor(rng.integers(0, 3, 9), backend=backend)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with mg.no_grad():
        return losses, model(x).numpy(), model[1].running_var.numpy()


def test_training_matches_the_numpy_backend(device):
    want = _train("numpy")
    got = _train(device)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-5)


def test_transfers_are_explicit(device):
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    d = t.to(device)
    assert d.backend == device and d.requires_grad
    (d * d).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[2, 4], [6, 8]])  # the copy is differentiable
    back = d.cpu()
    assert back.backend == "numpy" and isinstance(d.numpy(), np.ndarray)
    np.testing.assert_array_equal(back.numpy(), t.numpy())
    with pytest.raises(mg.BackendMismatchError):
        t + d


def test_data_loader_batches_land_on_the_device(device):
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    loader = mg.data.DataLoader(mg.data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=0, backend=device)
    seen = []
    for xb, yb in loader:
        assert xb.backend == yb.backend == device and xb.shape[1] == 2
        np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())  # rows stay paired
        seen.extend(yb.numpy().tolist())
    assert sorted(seen) == list(range(10))


@pytest.mark.parametrize("make", [
    lambda ps: mg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: mg.optim.SGD(ps, lr=0.1, momentum=0.5, dampening=0.2, maximize=True),
    lambda ps: mg.optim.Adam(ps, lr=0.01, weight_decay=0.1, amsgrad=True),
    lambda ps: mg.optim.AdamW(ps, lr=0.01, maximize=True),
], ids=["sgd-nesterov", "sgd-maximize", "adam-amsgrad", "adamw-maximize"])
def test_fused_optimizer_updates_match_the_numpy_backend(device, make):
    """The optimizers call the backend's sgd_step_/adam_step_: the CUDA kernels here, NumPy's reference there."""
    rng = np.random.default_rng(1)
    start = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    grads = [[rng.standard_normal(a.shape) for a in start] for _ in range(3)]

    def run(backend):
        params = [mg.tensor(a, backend=backend, requires_grad=True) for a in start]
        opt = make(params)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = mg.tensor(g, backend=backend)
            opt.step()
        return [p.numpy() for p in params], [v.numpy() for s in opt.state.values() for v in s.values()
                                             if isinstance(v, mg.Tensor)]

    (want_p, want_s), (got_p, got_s) = run("numpy"), run(device)
    for a, b in zip(got_p + got_s, want_p + want_s):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_plain_sgd_without_momentum(device):
    w = mg.tensor([1.0, 2.0, 3.0], backend=device, requires_grad=True)
    w.grad = mg.tensor([0.5, -1.0, 2.0], backend=device)
    mg.optim.SGD([w], lr=0.1).step()
    np.testing.assert_allclose(w.numpy(), [0.95, 2.1, 2.8], rtol=1e-6)


def test_rng_state_is_refused_on_cupy(device):
    be = backends.load(device)
    for method, args in ((CupyBackend.get_rng_state, ()), (CupyBackend.set_rng_state, ({},))):
        with pytest.raises(NotImplementedError, match="reseed with minigrad.manual_seed"):
            method(be, *args)
