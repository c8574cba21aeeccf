"""The global spellings at the top of training scripts: ``torch.backends.cudnn.*`` flags, ``torch.cuda``'s
seeding and cache calls, ``torch.random`` and ``torch.utils.data`` without an import of their own."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import BackendUnavailableError


def test_utils_data_needs_no_import_of_its_own():
    script = "import minigrad as torch; print(torch.utils.data.DataLoader is torch.data.DataLoader)"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"


def test_random_module_is_the_global_generator():
    mg.manual_seed(3)
    expected = mg.rand(4).numpy()
    assert mg.random.manual_seed(3) is mg.default_generator
    assert np.array_equal(mg.rand(4).numpy(), expected)
    assert mg.random.initial_seed() == mg.initial_seed() == 3
    state = mg.random.get_rng_state()
    first = mg.rand(3).numpy()
    mg.random.set_rng_state(state)
    assert np.array_equal(mg.rand(3).numpy(), first)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_fork_rng_leaves_the_stream_outside_unchanged(backend):
    if backend not in mg.backends.available():
        pytest.skip(f"{backend} backend not installed")
    mg.manual_seed(5)
    expected = mg.randn(6, backend=backend).numpy()
    mg.manual_seed(5)
    with mg.random.fork_rng():
        inside = mg.randn(6, backend=backend).numpy()
        mg.manual_seed(99)
        mg.rand(10, backend=backend)
    assert np.array_equal(inside, expected)  # the block starts from the state it forked
    assert np.array_equal(mg.randn(6, backend=backend).numpy(), expected)  # and leaves it as it was
    mg.manual_seed(5)
    with mg.random.fork_rng(enabled=False):
        mg.randn(6, backend=backend)
    assert not np.array_equal(mg.randn(6, backend=backend).numpy(), expected)


def test_cudnn_and_tf32_flags_keep_what_scripts_set():
    cudnn, matmul = mg.backends.cudnn, mg.backends.cuda.matmul
    saved = dict(vars(cudnn)), dict(vars(matmul))
    try:
        cudnn.benchmark = True
        cudnn.deterministic = True
        matmul.allow_tf32 = True
        assert (cudnn.benchmark, cudnn.deterministic, matmul.allow_tf32) == (True, True, True)
    finally:
        vars(cudnn).update(saved[0])
        vars(matmul).update(saved[1])
    assert not cudnn.is_available() and cudnn.version() is None
    assert not mg.backends.mps.is_available() and not mg.backends.cuda.is_built()


def test_flag_defaults_are_pytorchs():
    torch = pytest.importorskip("torch")
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(mg.backends.cudnn, name) == getattr(torch.backends.cudnn, name), name
    for name in ("allow_tf32", "allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction"):
        assert getattr(mg.backends.cuda.matmul, name) == getattr(torch.backends.cuda.matmul, name), name


def test_cuda_seeding_and_cache_calls_are_silent_without_a_gpu():
    if mg.cuda.is_available():
        pytest.skip("a CUDA device is present: test_cuda_calls_on_a_gpu covers it")
    mg.manual_seed(11)
    expected = mg.rand(5).numpy()
    mg.manual_seed(11)
    mg.cuda.manual_seed(0)
    mg.cuda.manual_seed_all(1)
    mg.cuda.empty_cache()
    assert np.array_equal(mg.rand(5).numpy(), expected)  # the host stream is not touched
    with pytest.raises(BackendUnavailableError, match="synchronize"):
        mg.cuda.synchronize()


@pytest.mark.gpu
def test_cuda_calls_on_a_gpu():
    if not mg.cuda.is_available():
        pytest.skip("needs a CUDA device")
    mg.cuda.manual_seed_all(7)
    first = mg.rand(5, device="cuda").numpy()
    mg.cuda.manual_seed(7)
    assert np.array_equal(mg.rand(5, device="cuda").numpy(), first)
    mg.cuda.synchronize()
    mg.cuda.empty_cache()
