"""Which backend a tensor gets, and where ops run.

Precedence, highest first: explicit ``backend=`` / ``t.to(name)`` > the innermost ``with minigrad.backend(name)``
> ``minigrad.set_backend(name)`` > ``MINIGRAD_BACKEND`` > ``"numpy"``. A renamed NumPy backend ("dummy", from
``_dummy_backend``) stands in for a second backend, so none of this needs Numba or CuPy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from _dummy_backend import DummyBackend, register

import minigrad as mg
from minigrad import backends


class Dummy2(DummyBackend):
    name = "dummy2"


@pytest.fixture
def two_backends(monkeypatch):
    register(monkeypatch, "dummy", DummyBackend)
    register(monkeypatch, "dummy2", Dummy2)
    return monkeypatch


def _run(code: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != backends.ENV_VAR}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                          timeout=60)


# -- precedence ----------------------------------------------------------------------------------


def test_default_is_numpy(two_backends):
    assert mg.get_backend() == "numpy"
    assert mg.ones(2).backend == "numpy"


def test_full_precedence_chain(two_backends):
    two_backends.setenv(backends.ENV_VAR, "dummy")
    assert mg.get_backend() == "dummy" and mg.zeros(1).backend == "dummy"  # env beats "numpy"

    mg.set_backend("dummy2")
    assert mg.get_backend() == "dummy2" and mg.tensor([1.0]).backend == "dummy2"  # set_backend beats env

    with mg.backend("numpy") as name:  # the context beats set_backend
        assert name == "numpy"
        assert mg.get_backend() == "numpy" and mg.randn(2).backend == "numpy"
        with mg.backend("dummy"):  # the innermost context wins
            assert mg.arange(3).backend == "dummy"
            assert mg.ones(2, backend="dummy2").backend == "dummy2"  # explicit beats everything
            assert mg.ones(2).to("numpy").backend == "numpy"
        assert mg.eye(2).backend == "numpy"
    assert mg.get_backend() == "dummy2"

    mg.set_backend("numpy")
    assert mg.get_backend() == "numpy"


def test_every_creation_function_takes_an_explicit_backend(two_backends):
    made = [
        mg.tensor([1.0], backend="dummy"), mg.from_numpy(np.ones(2), backend="dummy"),
        mg.zeros(2, backend="dummy"), mg.ones(2, backend="dummy"), mg.empty(2, backend="dummy"),
        mg.full((2,), 3.0, backend="dummy"), mg.arange(3, backend="dummy"), mg.linspace(0, 1, 3, backend="dummy"),
        mg.eye(2, backend="dummy"), mg.rand(2, backend="dummy"), mg.randn(2, backend="dummy"),
        mg.randint(0, 5, (2,), backend="dummy"),
    ]
    assert {t.backend for t in made} == {"dummy"}


def test_like_functions_follow_their_input(two_backends):
    x = mg.ones(2, backend="dummy")
    with mg.backend("dummy2"):
        for fn in (mg.zeros_like, mg.ones_like, mg.empty_like, mg.rand_like, mg.randn_like):
            assert fn(x).backend == "dummy"
        assert mg.full_like(x, 2.0).backend == "dummy"
        assert mg.zeros_like(x, backend="numpy").backend == "numpy"


def test_context_is_restored_after_an_exception(two_backends):
    with pytest.raises(KeyError):
        with mg.backend("dummy"):
            raise KeyError
    assert mg.get_backend() == "numpy"


def test_set_backend_with_a_bad_name_keeps_the_previous_default(two_backends):
    mg.set_backend("dummy")
    with pytest.raises(mg.UnknownBackendError):
        mg.set_backend("nope")
    assert mg.get_backend() == "dummy"


def test_environment_variable_in_a_fresh_process():
    code = "import minigrad as mg; print(mg.get_backend(), mg.ones(1).backend)"
    assert _run(code).stdout.split() == ["numpy", "numpy"]
    assert _run(code, MINIGRAD_BACKEND="numpy").stdout.split() == ["numpy", "numpy"]
    bad = _run(code, MINIGRAD_BACKEND="nope")
    assert bad.returncode != 0 and "UnknownBackendError" in bad.stderr and "'nope'" in bad.stderr
    assert "numpy" in bad.stderr.splitlines()[-1]


def test_context_is_per_thread(two_backends):
    seen = {}

    def worker(key, name):
        if name is None:
            seen[key] = mg.ones(1).backend
        else:
            with mg.backend(name):
                barrier.wait()
                seen[key] = mg.ones(1).backend
                barrier.wait()

    barrier = threading.Barrier(2)
    with mg.backend("dummy"):
        plain = threading.Thread(target=worker, args=("plain", None))
        plain.start()
        plain.join()
        other = threading.Thread(target=worker, args=("other", "dummy2"))
        other.start()
        barrier.wait()  # the other thread is inside its own block now
        seen["main"] = mg.ones(1).backend
        barrier.wait()
        other.join()
    assert seen == {"plain": "numpy", "other": "dummy2", "main": "dummy"}


# -- where ops run -------------------------------------------------------------------------------


def test_ops_run_on_their_inputs_backend_and_numbers_adopt_it(two_backends):
    x = mg.tensor([[1.0, -2.0], [0.5, 3.0]], backend="dummy", requires_grad=True)
    with mg.backend("dummy2"):
        results = [
            x + 1, 2.0 * x, 1 - x, x / 3, 2 ** x, x ** 2, -x, x.exp(), x @ x, x.sum(), x.max(axis=0).values, x[0],
            x[[1, 0]], x.T, x.reshape(4), mg.where(x > 0, x, 0.0), mg.maximum(x, 0.0), x > 0, x == 1.0,
            x.argmax(), mg.softmax(x), mg.concatenate([x, x]), mg.stack([x, x]), x + [1.0, 2.0],
            mg.pad(x, (1, 1)), x.clip(-1, 1),
        ]
        assert {r.backend for r in results} == {"dummy"}
        (x * x).sum().backward()
    assert x.grad.backend == "dummy"


def test_to_moves_between_backends_differentiably(two_backends):
    x = mg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    assert x.to("numpy") is x
    y = x.to("dummy")
    assert y.backend == "dummy" and y.dtype == np.float64 and y.requires_grad
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    g = np.array([0.5, -1.5])
    (y * y).backward(mg.tensor(g, backend="dummy"))
    assert x.grad.backend == "numpy"
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() * g)
    assert mg.gradcheck(lambda t: (t.to("dummy") * 3).to("numpy").sin(), x)
    assert mg.gradgradcheck(lambda t: (t.to("dummy") ** 3).to("numpy"), x)


def test_to_takes_pytorchs_forms(two_backends):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    both = x.to("dummy", "float64")
    assert (both.backend, both.dtype) == ("dummy", np.float64)
    keyword = x.to(dtype="float64", backend="dummy")
    assert (keyword.backend, keyword.dtype) == ("dummy", np.float64)
    like = x.to(mg.zeros(1, dtype="float64", backend="dummy"))
    assert (like.backend, like.dtype) == ("dummy", np.float64)
    assert x.to(dtype=mg.float32) is x
    copied = x.to("numpy", copy=True)
    assert copied is not x and copied.requires_grad
    copied.array[0] = 5.0
    assert x.tolist() == [1.0, 2.0]  # copy=True owns its memory
    g = np.array([0.25, -2.0])
    (both * 3).backward(mg.tensor(g, dtype="float64", backend="dummy"))
    assert (x.grad.backend, x.grad.dtype) == ("numpy", np.float32)
    np.testing.assert_allclose(x.grad.numpy(), 3 * g)
    with pytest.raises(TypeError, match=r"to\(\): expected at most a backend \(or device\) and a dtype, got 3"):
        x.to("dummy", "float64", "float32")
    with pytest.raises(mg.UnknownBackendError, match="to\\(\\): unknown backend 'gpu'"):
        x.to(backend="gpu")
    with pytest.raises(mg.UnknownBackendError, match="neither a known backend"):
        x.to("gpu")


def test_module_to_takes_pytorchs_forms(two_backends):
    net = mg.nn.BatchNorm1d(2)
    params = [id(p) for p in net.parameters()]
    net.to("dummy", "float64")
    assert [id(p) for p in net.parameters()] == params
    assert {(t.backend, t.dtype) for t in net.parameters()} == {("dummy", np.dtype("float64"))}
    assert net.num_batches_tracked.dtype == np.int64 and net.num_batches_tracked.backend == "dummy"
    net.to(dtype="float32", backend="numpy")
    assert {(t.backend, t.dtype) for t in net.buffers() if t.dtype.kind == "f"} == {("numpy", np.dtype("float32"))}
    net.to(mg.zeros(1, dtype="float64", backend="dummy"))
    assert net.running_var.backend == "dummy" and net.running_var.dtype == np.float64
    with pytest.raises(TypeError, match="Module.to: only floating dtypes are supported, got int64"):
        net.to("int64")


def test_manual_seed_reaches_backends_loaded_later(two_backends):
    mg.manual_seed(7)
    first = mg.randn(4, backend="numpy").numpy()
    dummy = mg.randn(4, backend="dummy").numpy()  # loaded after the seed
    np.testing.assert_array_equal(first, dummy)


# -- registry and environment --------------------------------------------------------------------


def test_available_maps_each_name_to_true_or_a_reason(two_backends):
    class Broken(DummyBackend):
        name = "broken"

        @classmethod
        def check_available(cls):
            raise RuntimeError("no device; see docs/backends.md")

    register(two_backends, "broken", Broken)
    state = backends.available()
    assert set(state) == set(backends.names())
    assert {"numpy", "dummy", "dummy2", "broken"} <= set(state)
    assert state["numpy"] is True and state["dummy"] is True
    assert isinstance(state["broken"], str) and "no device" in state["broken"]
    assert isinstance(backends.load("dummy"), DummyBackend)


def test_numpy_backend_is_registered_through_the_entry_point_group():
    from importlib import metadata

    entry_points = {ep.name: ep for ep in metadata.entry_points(group=backends.ENTRY_POINT_GROUP)}
    assert entry_points["numpy"].value == "minigrad_backends.numpy_backend:NumpyBackend"
    assert backends.available()["numpy"] is True


def test_python_dash_m_minigrad_prints_versions_and_every_backend():
    result = subprocess.run([sys.executable, "-m", "minigrad"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"minigrad {mg.__version__}" in out
    assert "Python" in out and ".".join(map(str, sys.version_info[:2])) in out
    assert "NumPy" in out and np.__version__ in out
    for name in backends.names():
        lines = [line for line in out.splitlines() if line.strip().startswith(name)]
        assert lines, f"backend {name!r} missing from:\n{out}"
        assert "available" in lines[0]
    assert any(line.strip().startswith("numpy") and "not available" not in line for line in out.splitlines())


def test_import_minigrad_imports_neither_numba_nor_cupy():
    code = (
        "import sys, minigrad as mg\n"
        "x = mg.randn(3, 3, requires_grad=True)\n"
        "(x @ x).sum().backward()\n"
        "print(sorted(m for m in ('numba', 'cupy', 'torch', 'scipy') if m in sys.modules))\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
