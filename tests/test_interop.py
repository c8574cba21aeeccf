"""Zero-copy interop: minigrad.from_dlpack, Tensor.__dlpack__/__dlpack_device__, __cuda_array_interface__.

Round trips with NumPy on every host backend and with PyTorch where it is installed (CPU here; CUDA tensors
on a GPU machine with ``MINIGRAD_GPU_TESTS=1``). "Zero-copy" is checked by writing through one side and
reading the other.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GPU_TESTS

import minigrad as mg
from minigrad.testing import available_backends

HOST_BACKENDS = [b for b in available_backends() if mg.backends.load(b).host_memory]


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_numpy_round_trip_shares_memory(backend):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = mg.from_dlpack(a, backend=backend)
    assert t.backend == backend and t.dtype == mg.float32 and t.shape == (2, 3) and not t.requires_grad
    a[0, 0] = 7.0
    assert t[0, 0].item() == 7.0
    back = np.from_dlpack(t)
    back[1, 2] = -1.0
    assert a[1, 2] == -1.0


def test_without_backend_host_data_go_to_the_current_host_backend():
    a = np.ones(3)
    assert mg.from_dlpack(a).backend == mg.backends.get_backend()
    if "numba" in HOST_BACKENDS:
        with mg.backend("numba"):
            assert mg.from_dlpack(a).backend == "numba"


def test_export_of_a_tensor_that_requires_grad_is_refused():
    w = mg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="__dlpack__: cannot export a tensor that requires grad"):
        np.from_dlpack(w)
    np.testing.assert_array_equal(np.from_dlpack(w.detach()), [1, 1, 1])


def test_host_tensors_have_no_cuda_array_interface():
    assert not hasattr(mg.ones(2), "__cuda_array_interface__")


def test_bad_inputs():
    with pytest.raises(TypeError, match="from_dlpack: expected an object with __dlpack__"):
        mg.from_dlpack([1.0, 2.0])
    with pytest.raises(TypeError, match="unknown dtype"):
        mg.from_dlpack(np.ones(2, dtype=np.complex64))


@pytest.mark.skipif(GPU_TESTS, reason="the stand-in replaces CuPy only without a GPU")
def test_host_data_are_refused_by_a_device_backend(monkeypatch):
    pytest.importorskip("numba_cuda")
    from _cupy_standin import NAME, CupyStandIn
    from _dummy_backend import register

    register(monkeypatch, NAME, CupyStandIn)
    with pytest.raises(ValueError, match="host memory but backend 'cupy-standin' keeps its arrays in device"):
        mg.from_dlpack(np.ones(2), backend=NAME)


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_torch_cpu_round_trip_shares_memory(backend):
    torch = pytest.importorskip("torch")
    src = torch.arange(6, dtype=torch.float64).reshape(3, 2)
    t = mg.from_dlpack(src, backend=backend)
    assert t.dtype == mg.float64 and t.shape == (3, 2)
    src[2, 1] = 42.0
    assert t[2, 1].item() == 42.0
    back = torch.from_dlpack(t)
    back[0, 0] = -3.0
    assert t[0, 0].item() == -3.0


@pytest.mark.gpu
def test_cupy_and_torch_cuda_round_trips_share_memory():
    cupy = pytest.importorskip("cupy")
    a = cupy.arange(4, dtype=cupy.float32)
    t = mg.from_dlpack(a)
    assert t.backend == "cupy" and t.__cuda_array_interface__["data"][0] == a.data.ptr
    a[1] = 9
    assert t[1].item() == 9
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        tt = torch.from_dlpack(t)
        tt[2] = -5
        assert t[2].item() == -5
        assert mg.from_dlpack(tt).backend == "cupy"
