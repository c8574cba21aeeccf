"""The benchmarks compare like with like: every candidate of a comparison computes the same training step.

Timings are never asserted here; only that the steps timed against each other give the same losses.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # the scripts import their shared _timing module
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _losses(steps, count=3):
    return [[step().item() for step in steps] for _ in range(count)]


def test_bench_core_mlp_steps_agree():
    """minigrad (optim.SGD and the update loop) and the hand-written NumPy step follow one trajectory."""
    core = _load("bench_core")
    steps = [core.mlp_minigrad("numpy"), core.mlp_minigrad("numpy", "manual"), core.mlp_numpy()]
    for row in _losses(steps):
        np.testing.assert_allclose(row, row[0], rtol=1e-5)


def test_bench_core_mlp_step_matches_pytorch():
    torch = pytest.importorskip("torch")
    core = _load("bench_core")
    steps = [core.mlp_minigrad("numpy"), core.mlp_torch(torch), core.mlp_torch(torch, "manual")]
    for row in _losses(steps):
        np.testing.assert_allclose(row, row[0], rtol=1e-5)


@pytest.mark.skipif(mg.backends.available().get("numba") is not True, reason="numba backend not available")
def test_bench_numba_mlp_step_is_the_same_on_both_backends():
    bench = _load("bench_numba")
    namespace: dict = {}
    exec(bench.MLP_SCRIPT, namespace)  # noqa: S102 - the benchmark's own step, as it times it
    models = {name: namespace["make_mlp"](name) for name in ("numpy", "numba")}
    steps = [lambda m=models[name]: namespace["step"](*m) for name in models]
    for row in _losses(steps):
        np.testing.assert_allclose(row, row[0], rtol=1e-5)
