"""PyTorch's device spelling: ``minigrad.device``, ``.to("cpu")``/``.to("cuda")``, ``device=`` on creation,
``Tensor.device``, ``minigrad.cuda`` and ``minigrad.utils.data`` (docs/porting.md, "Devices")."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

HOST_BACKENDS = [b for b in mg.testing.available_backends() if b != "cupy"]
HAS_CUPY = mg.backends.available().get("cupy") is True
needs_numba = pytest.mark.skipif("numba" not in HOST_BACKENDS, reason="the Numba backend is not installed")


def test_device_parses_pytorch_spellings():
    assert mg.device("cpu").type == "cpu" and mg.device("cpu").index is None
    assert (mg.device("cuda:1").type, mg.device("cuda:1").index) == ("cuda", 1)
    assert mg.device("cuda", 0) == mg.device("cuda:0") == "cuda:0"
    assert mg.device(mg.device("cuda:0")) == mg.device("cuda", 0)
    assert mg.device("cpu") != mg.device("cuda") and mg.device("cpu") != "not a device"
    assert str(mg.device("cuda", 2)) == "cuda:2" and str(mg.device("cpu")) == "cpu"
    assert repr(mg.device("cuda", 0)) == "device(type='cuda', index=0)"
    assert len({mg.device("cpu"), mg.device("cpu"), mg.device("cuda", 0)}) == 2


@pytest.mark.parametrize("args, error, match", [
    (("tpu",), ValueError, "unknown device type 'tpu'"),
    (("cuda:x",), ValueError, "invalid index"),
    (("cuda:1", 1), ValueError, "given twice"),
    (("cuda", -1), ValueError, "int >= 0"),
    ((3,), TypeError, "expected a string"),
])
def test_device_rejects_what_pytorch_rejects(args, error, match):
    with pytest.raises(error, match=match):
        mg.device(*args)


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_cpu_keeps_a_host_tensor_where_it_is(backend):
    x = mg.randn(2, 3, backend=backend)
    assert x.device == mg.device("cpu") and not x.is_cuda
    assert x.to("cpu") is x
    assert x.to(mg.device("cpu")) is x
    assert x.to(device="cpu") is x
    assert x.cpu() is x
    y = x.to("cpu", mg.float64)
    assert y.backend == backend and y.dtype == mg.float64


@needs_numba
def test_cpu_tensor_to_cpu_stays_on_numba_and_gradients_flow():
    x = mg.randn(3, 4, backend="numba", requires_grad=True)
    y = (x.to("cpu") * 2).sum()
    y.backward()
    assert x.grad.backend == "numba"
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2, np.float32))


def test_to_with_backend_and_device_is_ambiguous():
    with pytest.raises(TypeError, match="backend= or device="):
        mg.zeros(2).to(backend="numpy", device="cpu")


def test_other_cpu_and_cuda_indices_are_refused_by_name():
    x = mg.zeros(2)
    with pytest.raises(ValueError, match=r"to\(\): 'cuda:1': the CuPy backend runs on CUDA's current device"):
        x.to("cuda:1")
    with pytest.raises(ValueError, match=r"to\(\): 'cpu:1': there is one CPU device"):
        x.to("cpu:1")
    with pytest.raises(ValueError, match=r"zeros\(\): device: unknown device type 'tpu'"):
        mg.zeros(2, device="tpu")
    with pytest.raises(mg.UnknownBackendError, match="a device \\('cpu', 'cuda'\\)"):
        x.to("gpu")


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed: the CUDA backend is there")
def test_cuda_without_cupy_says_how_to_get_it():
    assert mg.cuda.is_available() is False and mg.cuda.device_count() == 0
    for move in (lambda: mg.zeros(2).to("cuda"), lambda: mg.zeros(2).cuda(), lambda: mg.zeros(2, device="cuda"),
                 lambda: nn.Linear(2, 2).to("cuda")):
        with pytest.raises(mg.BackendUnavailableError, match="pip install"):
            move()


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_creation_on_cpu_follows_the_current_host_backend(backend):
    with mg.backend(backend):
        made = [mg.zeros(2, device="cpu"), mg.ones(2, device="cpu"), mg.empty(2, device="cpu"),
                mg.full((2,), 1.5, device="cpu"), mg.arange(3, device=mg.device("cpu")),
                mg.linspace(0, 1, 3, device="cpu"), mg.eye(2, device="cpu"), mg.rand(2, device="cpu"),
                mg.randn(2, device="cpu"), mg.randint(0, 5, (2,), device="cpu"), mg.tensor([1.0], device="cpu")]
    assert {t.backend for t in made} == {backend}
    assert mg.zeros(2, device="cpu", backend=backend).backend == backend  # consistent: both honoured


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_like_functions_on_cpu_keep_their_model(backend):
    x = mg.randn(2, 3, backend=backend, dtype=mg.float64)
    for fn in (mg.zeros_like, mg.ones_like, mg.empty_like, mg.rand_like, mg.randn_like):
        out = fn(x, device="cpu")
        assert (out.backend, out.dtype, out.shape) == (backend, mg.float64, (2, 3))
    out = mg.full_like(x, 7.0, device="cpu")
    assert out.backend == backend and np.all(out.numpy() == 7.0)


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_module_to_device_keeps_identity_and_backend(backend):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).to(backend)
    weight = model[0].weight
    assert model.to("cpu") is model and model[0].weight is weight
    assert model.to(device=mg.device("cpu"), dtype=mg.float64) is model
    assert {t.backend for t in list(model.parameters()) + list(model.buffers())} == {backend}
    assert model[0].weight.dtype == mg.float64 and model[1].num_batches_tracked.dtype == mg.int64


def test_a_ported_training_step_with_device_idioms_matches_the_plain_one():
    """The lines a PyTorch script carries (device choice, .to(device), device= on creation) change nothing."""
    def run(with_devices: bool):
        mg.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
        opt = mg.optim.SGD(model.parameters(), lr=0.1)
        rng = np.random.default_rng(1)
        x, y = mg.tensor(rng.standard_normal((16, 5)).astype(np.float32)), mg.tensor(rng.integers(0, 3, 16))
        if with_devices:
            device = mg.device("cuda" if mg.cuda.is_available() else "cpu")
            model.to(device)
            x, y = x.to(device), y.to(device)
            noise = mg.zeros(16, 5, device=device)
            x = x + noise
        for _ in range(3):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        return [p.detach().cpu().numpy() for p in model.parameters()]

    for a, b in zip(run(True), run(False)):
        np.testing.assert_array_equal(a, b)


def test_utils_data_is_minigrad_data():
    from minigrad.utils.data import DataLoader, TensorDataset

    assert DataLoader is mg.data.DataLoader and TensorDataset is mg.data.TensorDataset
    loader = DataLoader(TensorDataset(mg.arange(6).reshape(3, 2), mg.arange(3)), batch_size=2)
    assert [tuple(xb.shape) for xb, _ in loader] == [(2, 2), (1, 2)]
