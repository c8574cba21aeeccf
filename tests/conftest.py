"""Shared pytest configuration: Hypothesis profiles.

- ``ci`` (the default): derandomized (the same examples every run), sized for the CI budget.
- ``thorough``: ``MINIGRAD_HYPOTHESIS_PROFILE=thorough pytest``: random, many more examples.

Both use ``deadline=None``: JIT backends compile on their first call. Tests that need a different number
of examples scale ``settings().max_examples`` (see tests/test_agreement.py) so both profiles apply.

CUDA kernels run under Numba's CUDA simulator unless ``MINIGRAD_GPU_TESTS=1`` (benchmarks/gpu_check.sh sets it
on a GPU machine). Numba reads the switch when it is first imported, so it is set here, before any test
module imports Numba.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

GPU_TESTS = os.environ.get("MINIGRAD_GPU_TESTS") == "1"
if not GPU_TESTS:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

PROFILE_ENV_VAR = "MINIGRAD_HYPOTHESIS_PROFILE"
_SLOW_DRAWS = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=20, print_blob=True,
                          suppress_health_check=_SLOW_DRAWS)
settings.register_profile("thorough", deadline=None, max_examples=400, print_blob=True,
                          suppress_health_check=_SLOW_DRAWS)
settings.load_profile(os.environ.get(PROFILE_ENV_VAR, "ci"))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need a CUDA device: they run only with MINIGRAD_GPU_TESTS=1."""
    if GPU_TESTS:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (MINIGRAD_GPU_TESTS=1, benchmarks/gpu_check.sh)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def cupy_device(monkeypatch):
    """The CuPy backend's name for a test: the real backend on a GPU machine (MINIGRAD_GPU_TESTS=1), else its CPU
    stand-in, registered for this test only."""
    pytest.importorskip("numba_cuda", reason="the CuPy backend's kernels need numba-cuda (pip install -e '.[dev]')")
    from _cupy_standin import NAME, CupyStandIn
    from _dummy_backend import register

    if GPU_TESTS:
        return "cupy"
    register(monkeypatch, NAME, CupyStandIn)
    return NAME
