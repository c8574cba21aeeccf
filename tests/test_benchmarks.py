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


@pytest.mark.parametrize("shape", [(96, 40), (6, 5, 4, 3)])
def test_bench_batchnorm_candidates_compute_the_same_gradient(shape):
    """Fused, composite and kernels-only on each backend (and PyTorch, when installed) give one dx."""
    bench = _load("bench_batchnorm")
    rng = np.random.default_rng(0)
    x0 = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    g0 = rng.standard_normal(shape).astype(np.float32)
    names = ["numpy"] + (["numba"] if mg.backends.available().get("numba") is True else [])
    grads = []
    for name in names:
        be = mg.backends.load(name)
        grads += [bench.minigrad_step(be, x0, g0, True)().numpy(), bench.minigrad_step(be, x0, g0, False)().numpy(),
                  np.asarray(bench.kernel_step(be, x0, g0)())]
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        grads.append(bench.torch_step(x0, g0)().numpy())
    for dx in grads[1:]:
        np.testing.assert_allclose(dx, grads[0], rtol=1e-4, atol=1e-4)
    evals = [bench.minigrad_eval_step(mg.backends.load(name), x0, fused)().numpy()
             for name in names for fused in (True, False)]
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        evals.append(bench.torch_eval_step(x0)().numpy())
    for y in evals[1:]:
        np.testing.assert_allclose(y, evals[0], rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(mg.backends.available().get("numba") is not True, reason="numba backend not available")
def test_bench_batchnorm_streaming_floor_makes_its_passes():
    """The floor's kernels do the work they stand for (so the compiler cannot drop a pass)."""
    bench = _load("bench_batchnorm")
    rng = np.random.default_rng(1)
    x0, g0 = rng.standard_normal((2, 64, 33)).astype(np.float32)
    step = bench.streaming_floor(x0, g0)
    sums, dx = step()
    np.testing.assert_allclose(sums.sum(0), (g0 * x0).sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, 2 * g0 + x0, rtol=1e-6)


def test_bench_batchnorm_target_verdicts():
    """The report's verdicts follow the benchmark's targets, and say when the floor alone misses one."""
    bench = _load("bench_batchnorm")
    t = {"numpy fused": 1.0, "numpy composite": 2.5, "numba fused": 1.0, "numba composite": 1.9,
         "torch": 1.2, "floor": 0.9}
    lines = bench.target_verdicts((4096, 1024), t)
    assert lines == ["numpy composite/fused 2.50x, target >= 2x: met",
                     "numba composite/fused 1.90x, target >= 2x: missed",
                     "numba fused/floor 1.11x, target <= 1.3x: met",
                     "numba fused/torch 0.83x, target <= 0.7x: missed (out of reach in this run: the streaming "
                     "floor alone is 0.75x)"]
    t.update(torch=2.0, floor=0.7)  # the floor is within reach of PyTorch's target: no remark; met is met
    lines = bench.target_verdicts((4096, 1024), t)
    assert lines[-2:] == ["numba fused/floor 1.43x, target <= 1.3x: missed",
                          "numba fused/torch 0.50x, target <= 0.7x: met"]
    assert bench.target_verdicts((32, 64, 32, 32), t)[-1] == "numba fused/torch 0.50x, target <= 0.6x: met"
    assert bench.target_verdicts((60, 100), t) == []  # no target at this shape


@pytest.mark.skipif(mg.backends.available().get("numba") is not True, reason="numba backend not available")
@pytest.mark.parametrize("shape", [(60, 100), (64, 8, 3), (4, 6, 5, 5)])
def test_bench_batchnorm_path_steps_agree(shape):
    """``--paths`` times every Numba design on the same input: they compute the same gradient, and the
    chosen design is marked."""
    bench = _load("bench_batchnorm")
    rng = np.random.default_rng(2)
    x0 = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    g0 = rng.standard_normal(shape).astype(np.float32)
    steps = bench.numba_path_steps(x0, g0)
    assert len(steps) == 4 and sum(name.endswith("*") for name in steps) == 1
    grads = [step() for step in steps.values()]
    for dx in grads[1:]:
        np.testing.assert_allclose(dx, grads[0], rtol=1e-5, atol=1e-5)


def test_bench_gpu_minigrad_candidates_run_on_the_cupy_backend_code(monkeypatch):
    """bench_gpu.py's minigrad steps, on the CuPy backend's CPU stand-in: BatchNorm fused and composite give the
    same input gradient, and the MLP step follows the NumPy backend's trajectory."""
    pytest.importorskip("numba_cuda")
    from _cupy_standin import NAME, CupyStandIn
    from _dummy_backend import register

    register(monkeypatch, NAME, CupyStandIn)
    gpu = _load("bench_gpu")
    rng = np.random.default_rng(0)
    x0, g0 = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 4)).astype(np.float32)
    fused, composite = gpu.minigrad_bn_step(x0, g0, True, NAME)(), gpu.minigrad_bn_step(x0, g0, False, NAME)()
    np.testing.assert_allclose(fused.numpy(), composite.numpy(), rtol=1e-4, atol=1e-5)
    xm, ym = rng.standard_normal((8, 64)).astype(np.float32), rng.integers(0, 10, 8)
    # hidden=16, not the benchmark's 128: the same step and kernels (fused BatchNorm, cross-entropy, SGD with
    # momentum; the weights' updates still span several blocks), with about 1/18 of the parameters and so of
    # the simulated GPU threads (each a Python thread).
    steps = [gpu.minigrad_mlp_step(xm, ym, "numpy", hidden=16), gpu.minigrad_mlp_step(xm, ym, NAME, hidden=16)]
    for row in _losses(steps):
        np.testing.assert_allclose(row, row[0], rtol=1e-5)


@pytest.mark.parametrize("name", ["bilinear", "nearest", "conv_transpose", "reflection_pad", "replication_pad"])
def test_bench_layers_candidates_compute_the_same_layer(name):
    """bench_layers.py's minigrad and PyTorch candidates, from the same weights, compute the same output (and run
    their backward: ``minigrad_case`` and ``torch_case`` call the step once)."""
    torch = pytest.importorskip("torch")
    bench = _load("bench_layers")
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    weights = {}
    if name == "conv_transpose":
        mg.manual_seed(0)
        weights = {k: t.numpy().copy() for k, t in bench.make_layer(mg, name, 4).state_dict().items()}
    out_shape = bench.make_layer(torch, name, 4)(torch.from_numpy(x0)).shape
    g0 = rng.standard_normal(tuple(out_shape)).astype(np.float32)
    ours, theirs = bench.minigrad_case(mg, "numpy", name, x0, g0, weights), bench.torch_case(torch, name, x0, g0,
                                                                                            weights)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5, atol=1e-5)


def test_bench_special_candidates_compute_the_same_function():
    """bench_special.py's minigrad and PyTorch candidates compute the same values on the same inputs (the Gamma
    lines are left out: the draws come from different streams, and PyTorch's gradient is an approximation; so is
    trigamma in float32, off by up to 5e-4 in PyTorch)."""
    pytest.importorskip("torch")
    bench = _load("bench_special")
    names = [name for name in bench.DOMAINS if not name.startswith("gamma")]
    for dtype, rtol in (("float64", 1e-9), ("float32", 1e-5)):
        chosen = names if dtype == "float64" else [name for name in names if name != "polygamma(1)"]
        for name, (ours, theirs) in bench.cases(500, dtype, np.random.default_rng(0), chosen).items():
            mine = ours()
            mine = mine.numpy() if isinstance(mine, mg.Tensor) else np.asarray(mine)
            expected = theirs().numpy()
            assert mine.dtype == expected.dtype, name
            np.testing.assert_allclose(mine, expected, rtol=rtol, atol=1e-300 if dtype == "float64" else 1e-37,
                                       err_msg=name)
