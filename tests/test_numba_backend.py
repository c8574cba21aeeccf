"""The Numba backend: every kernel against the NumPy backend, end to end through autograd (first and second
order), with ``NUMBA_DISABLE_JIT=1``, bitwise determinism of parallel reductions, and the thread API.

Kernels are run on small arrays three times: with the default ``numpy_below`` thresholds (mostly the NumPy
fallbacks at these sizes), through their serial variants (thresholds at 0), and, with a lowered
``parallel_threshold``, through their parallel variants; one test uses arrays above the default thresholds.
The first two run in float32 and float64, the parallel variants in float32 only: a parallel variant is its
serial variant's code compiled with Numba's parallel backend, so the dtype-specific code (float32 math,
rounding) is checked by the serial runs and what the parallel runs add, the ``prange`` split, does not
depend on the dtype (compiling every parallel variant for float64 too only added compile time to CI).
For the same reason the activations' parallel variants run for ``PARALLEL_SAMPLE`` only: each activation
kernel is the same independent loop ``out[i] = f(x[i])`` around a different scalar body, so the split
cannot differ between them, and the sample covers each kind of body (the vectorised float32 helpers,
erf, parameters). Every kernel with a split that matters (rows, reductions, scatter, windows,
BatchNorm) runs in parallel. Upstream gradients are random.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("numba")

from minigrad_backends.numba_backend import NumbaBackend  # noqa: E402
from minigrad_backends.numpy_backend import NumpyBackend  # noqa: E402

import minigrad as mg  # noqa: E402

DTYPES = [np.float32, np.float64]
REF = NumpyBackend()


@pytest.fixture(scope="module")
def serial() -> NumbaBackend:
    return mg.backends.load("numba")


BACKENDS = ["default", "serial kernels", "parallel kernels"]
BACKEND_DTYPES = [(b, d) for b in BACKENDS for d in DTYPES if b != "parallel kernels" or d == np.float32]


@pytest.fixture(scope="module")
def be(request, serial) -> NumbaBackend:
    """The backend named by the test's parameter (one of BACKENDS)."""
    if request.param == "default":
        return serial
    backend = NumbaBackend()
    backend.numpy_below = dict.fromkeys(backend.numpy_below, 0)  # every kernel runs, whatever the size
    if request.param == "parallel kernels":
        backend.parallel_threshold = backend.memory_bound_parallel = 16  # through its prange path
    return backend


def tol(dtype) -> dict:
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def close(actual, expected, dtype) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype == dtype
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, equal_nan=True, **tol(dtype))


def arrays(dtype, shape=(13, 37), count=2, scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * scale).astype(dtype) for _ in range(count)]


def layouts(x):
    """The same values C-contiguous, as a strided slice, and transposed (Fortran order)."""
    wide = np.repeat(x, 2, axis=-1)
    return {"c": x, "strided": wide[..., ::2], "transposed": np.ascontiguousarray(x.T).T}


UNARY = [
    ("sigmoid", ()), ("tanh", ()), ("relu", ()), ("leaky_relu", (0.2,)), ("gelu", ("none",)),
    ("gelu", ("tanh",)), ("softplus", (1.0, 20.0)), ("softplus", (2.0, 1.5)), ("silu", ()),
    ("elu", (1.0,)), ("elu", (0.3,)), ("hardtanh", (-1.0, 1.0)),
]


PARALLEL_SAMPLE = {"sigmoid", "gelu", "softplus"}


def activations(be, cases):
    """The activation cases to run on ``be``: all, or the sample on the parallel-kernels backend."""
    parallel = be.parallel_threshold < NumbaBackend.parallel_threshold
    return [case for case in cases if not parallel or case[0] in PARALLEL_SAMPLE]


@pytest.mark.parametrize(("be", "dtype", "name", "args"),
                         [(b, d, name, args) for b, d in BACKEND_DTYPES for name, args in UNARY
                          if b != "parallel kernels" or name in PARALLEL_SAMPLE], indirect=["be"])
def test_unary_forward(be, dtype, name, args):
    (x,) = arrays(dtype, count=1)
    for view in layouts(x).values():
        close(getattr(be, name)(view, *args), getattr(REF, name)(view, *args), dtype)


@pytest.mark.parametrize(("be", "dtype"), BACKEND_DTYPES, indirect=["be"])
def test_special_values(be, dtype):
    for name, args in activations(be, UNARY):  # 0-d arrays keep their shape
        assert getattr(be, name)(np.asarray(0.5, dtype), *args).shape == ()
    special = np.array([-np.inf, -1e4, -90, -1, -0.0, 0, 1e-30, 1, 90, 1e4, np.inf, np.nan], dtype)
    with np.errstate(all="ignore"):
        for name, args in activations(be, UNARY):
            close(getattr(be, name)(special, *args), getattr(REF, name)(special, *args), dtype)


@pytest.mark.parametrize(("be", "dtype"), BACKEND_DTYPES, indirect=["be"])
def test_fused_backward_kernels(be, dtype):
    x, g = arrays(dtype)
    sample = {name for name, _ in activations(be, UNARY)}
    for view in layouts(g).values():
        y = REF.sigmoid(x)
        close(be.sigmoid_backward(view, y), REF.sigmoid_backward(view, y), dtype)
        if "tanh" in sample:
            y = REF.tanh(x)
            close(be.tanh_backward(view, y), REF.tanh_backward(view, y), dtype)
        if "relu" in sample:
            close(be.relu_backward(view, x), view * (x > 0), dtype)
            close(be.leaky_relu_backward(view, x, 0.2), view * np.where(x > 0, 1, 0.2).astype(dtype), dtype)
    # gelu'/softplus'/silu' against float64 central differences of the NumPy forward.
    x64 = x.astype(np.float64)
    h = 1e-6
    for name, args in activations(be, [("gelu", ("none",)), ("gelu", ("tanh",)), ("softplus", (1.0, 20.0)),
                                       ("softplus", (2.0, 1.5)), ("silu", ()), ("elu", (1.0,)), ("elu", (0.3,))]):
        slope = (getattr(REF, name)(x64 + h, *args) - getattr(REF, name)(x64 - h, *args)) / (2 * h)
        got = getattr(be, f"{name}_backward")(g, x, *args)
        np.testing.assert_allclose(got, (g * slope).astype(dtype), rtol=1e-5, atol=1e-5)
        assert got.dtype == dtype


BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum"]
SHAPES = [((64, 48), (64, 48)), ((64, 48), (48,)), ((64, 48), (64, 1)), ((64, 1), (1, 48)),
          ((4, 16, 48), (16, 48)), ((4, 16, 48), (4, 1, 1)), ((3000,), (3000,)), ((4, 16, 48), (4, 1, 48))]


@pytest.mark.parametrize(("be", "dtype"), BACKEND_DTYPES, indirect=["be"])
@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcasting_is_bitwise_numpy(be, dtype, name):
    rng = np.random.default_rng(1)
    for sa, sb in SHAPES:
        a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
        b[..., :1] = 0 if name != "divide" else b[..., :1]  # ties for maximum/minimum
        for x, y in [(a, b), (b, a), (a, 2.5), (3, a), (a.T, a.T), (a, np.asarray(1.5, dtype))]:
            expected = getattr(REF, name)(x, y)
            got = getattr(be, name)(x, y)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)
    a = rng.standard_normal((64, 48)).astype(dtype)
    a[::3] = np.nan
    np.testing.assert_array_equal(getattr(be, name)(a, a.T[:1].T), getattr(REF, name)(a, a.T[:1].T))


@pytest.mark.parametrize("be", BACKENDS, indirect=True)
@pytest.mark.parametrize("name", BINARY)
def test_binary_out_argument(be, name):
    rng = np.random.default_rng(11)
    x, b = rng.standard_normal((40, 30)).astype(np.float32), rng.standard_normal(30).astype(np.float32)
    for other in [b, 2.0, "x", "row0"]:  # "x": out is the operand; "row0": overlaps it (NumPy's path)
        got, expected = x.copy(), x.copy()
        operand = {"x": got, "row0": got[0]}.get(other, other) if isinstance(other, str) else other
        ref_operand = {"x": expected, "row0": expected[0]}.get(other, other) if isinstance(other, str) else other
        assert getattr(be, name)(got, operand, out=got) is got
        getattr(REF, name)(expected, ref_operand, out=expected)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("be", BACKENDS, indirect=True)
def test_binary_falls_back_for_other_dtypes(be):
    a = np.arange(6000, dtype=np.int64).reshape(60, 100)
    for name in BINARY:
        np.testing.assert_array_equal(getattr(be, name)(a, 3), getattr(REF, name)(a, 3))
    mixed = be.add(a.astype(np.float32), np.ones(100, np.float64))
    assert mixed.dtype == np.float64


@pytest.mark.parametrize(("be", "dtype"), BACKEND_DTYPES, indirect=["be"])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_family(be, dtype, axis):
    x, g = arrays(dtype, shape=(6, 17, 9))
    x[0, 0, 0] = x[1, 2, 3] = -np.inf
    for view in layouts(x).values():
        y = REF.softmax(view, axis)
        close(be.softmax(view, axis), y, dtype)
        close(be.softmax_backward(g, y, axis), REF.softmax_backward(g, y, axis), dtype)
        ly = REF.log_softmax(view, axis)
        close(be.log_softmax(view, axis), ly, dtype)
        close(be.log_softmax_backward(g, ly, axis), REF.log_softmax_backward(g, ly, axis), dtype)


@pytest.mark.parametrize(("be", "dtype"), BACKEND_DTYPES, indirect=["be"])
def test_softmax_cross_entropy(be, dtype):
    (logits,) = arrays(dtype, shape=(40, 11), count=1)
    targets = np.random.default_rng(2).integers(0, 11, 40)
    for view in layouts(logits).values():
        loss, log_probs = be.softmax_cross_entropy_forward(view, targets)
        ref_loss, ref_log_probs = REF.softmax_cross_entropy_forward(view, targets)
        close(loss, ref_loss, dtype)
        close(log_probs, ref_log_probs, dtype)
        np.testing.assert_allclose(ref_loss, -REF.log_softmax(view, -1)[np.arange(40), targets], **tol(dtype))
        g = np.random.default_rng(3).standard_normal(40).astype(dtype)
        grad = be.softmax_cross_entropy_backward(g, log_probs, targets)
        close(grad, REF.softmax_cross_entropy_backward(g, ref_log_probs, targets), dtype)
        onehot = np.eye(11, dtype=dtype)[targets]
        np.testing.assert_allclose(grad, g[:, None] * (REF.softmax(view, -1) - onehot), **tol(dtype))
    for backend in (be, REF):
        with pytest.raises(IndexError, match="outside"):
            backend.softmax_cross_entropy_forward(logits, np.full(40, 11))
        with pytest.raises(ValueError, match="targets"):
            backend.softmax_cross_entropy_forward(logits, targets[:3])


@pytest.mark.parametrize(("be", "dtype"), BACKEND_DTYPES, indirect=["be"])
@pytest.mark.parametrize("name", ["sum", "max", "min"])
def test_reductions(be, dtype, name):
    # Reductions run a kernel only above numpy_below["reduction"]; the kernel fixtures lower it to 0.
    (x,) = arrays(dtype, shape=(5, 32, 21), count=1)
    x[0, 0, 0] = x[1, 0, 0] = x.max()  # ties
    for view in layouts(x).values():
        for axis in [None, 0, 1, 2, -1, (0, 1), (1, 2), (0, 1, 2), (0, 2)]:
            for keepdims in (False, True):
                got, expected = getattr(be, name)(view, axis, keepdims), getattr(REF, name)(view, axis, keepdims)
                assert np.shape(got) == np.shape(expected)
                np.testing.assert_allclose(got, expected, **tol(dtype))
                assert np.asarray(got).dtype == dtype
    x[2, 3, 4] = np.nan
    assert np.isnan(getattr(be, name)(x, None, False))


@pytest.mark.parametrize(("be", "dtype"), BACKEND_DTYPES, indirect=["be"])
def test_scatter_add(be, dtype):
    rng = np.random.default_rng(4)
    values = rng.standard_normal((50, 7)).astype(dtype)
    idx = rng.integers(-20, 20, 50)  # negative indices and duplicates
    mask = np.zeros((20, 7), bool)
    mask[::3, 1] = True
    cases = [((20, 7), idx, values), ((20, 7), (np.arange(50) % 20, idx % 7), values[:, 0]),
             ((20, 7, 3), idx, np.repeat(values[..., None], 3, axis=2)),
             ((20, 7), (slice(None), idx[:3] % 7), values[:20, :3]),  # slices: NumPy's np.add.at
             ((20, 7), mask, values[: mask.sum(), 0])]  # a boolean mask: NumPy's np.add.at
    for shape, index, v in cases:
        close(be.scatter_add(shape, index, v, dtype), REF.scatter_add(shape, index, v, dtype), dtype)
    with pytest.raises(IndexError, match="out of bounds"):
        be.scatter_add((20, 7), np.array([20]), values[:1], dtype)


def test_above_default_threshold(serial):
    assert serial.parallel_threshold <= 1200 * 1000 and serial.numpy_below["reduction"] <= 1200 * 1000
    x, g = arrays(np.float32, shape=(1200, 1000))
    close(serial.sigmoid(x), REF.sigmoid(x), np.float32)
    close(serial.add(x, g[0]), REF.add(x, g[0]), np.float32)
    # The kernels' float32 sums accumulate in float64, so compare with float64 sums (NumPy's float32 ones
    # drift). Rows of 1000 are shorter than numpy_below["reduction_run"]: NumPy sums axis 1.
    for axis in (0, 1, None):
        got = serial.sum(x, axis, False)
        assert got.dtype == np.float32
        expected = REF.sum(x, axis, False) if axis == 1 else x.astype(np.float64).sum(axis)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)
    close(serial.log_softmax(x, -1), REF.log_softmax(x, -1), np.float32)
    close(serial.scatter_add((1200, 1000), np.arange(1200)[::-1], g, np.float32), g[::-1], np.float32)


# -- end to end through autograd -------------------------------------------------------------------------
E2E = {
    "sigmoid": lambda x: mg.sigmoid(x), "tanh": lambda x: mg.tanh(x), "exp": lambda x: mg.exp(x * 0.5),
    "log": lambda x: mg.log(x * x + 0.5), "relu": lambda x: mg.relu(x), "leaky_relu": lambda x: mg.leaky_relu(x, 0.1),
    "gelu": lambda x: mg.gelu(x), "gelu_tanh": lambda x: mg.gelu(x, approximate="tanh"),
    "softplus": lambda x: mg.softplus(x, beta=2.0, threshold=3.0), "softmax": lambda x: mg.softmax(x, -1),
    "log_softmax0": lambda x: mg.log_softmax(x, 0), "sum": lambda x: mg.sum(x * x, 1),
    "max": lambda x: mg.amax(x, 0) * 2.0, "mean": lambda x: mg.mean(x * x), "bias": lambda x: x * x + x[0],
    "div": lambda x: x / (x * x + 1.0), "maximum": lambda x: mg.maximum(x, x * 0.5) + mg.minimum(x, 0.25),
    "index": lambda x: x[np.array([0, 2, 2, 5]), np.array([1, 1, 1, 0])] * x[1:3].sum(),
    "matmul": lambda x: mg.tanh(x @ x.T),
}


@pytest.mark.parametrize("name", sorted(E2E))
def test_ops_agree_with_numpy_to_second_order(name):
    fn = E2E[name]
    rng = np.random.default_rng(5)
    x0, v0 = rng.standard_normal((6, 5)), None
    results = {}
    for backend in ("numpy", "numba"):
        x = mg.tensor(x0, requires_grad=True, backend=backend)
        out = fn(x)
        if v0 is None:
            v0 = rng.standard_normal(out.shape)
            w0 = rng.standard_normal(x0.shape)
        v, w = mg.tensor(v0, backend=backend), mg.tensor(w0, backend=backend)
        (g,) = mg.grad((out * v).sum(), x, create_graph=True)
        second = (g * w).sum()  # piecewise-linear ops have a constant first gradient
        gg = mg.grad(second, x, allow_unused=True)[0] if second.requires_grad else None
        results[backend] = [out.numpy(), g.numpy(), None if gg is None else gg.numpy()]
        assert out.backend == g.backend == backend
    for got, expected in zip(results["numba"], results["numpy"]):
        if expected is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_float32_mlp_step_agrees():
    rng = np.random.default_rng(6)
    x0, w0, t0 = rng.standard_normal((60, 30)), rng.standard_normal((30, 10)) * 0.3, rng.integers(0, 10, 60)
    grads = {}
    for backend in ("numpy", "numba"):
        x = mg.tensor(x0.astype(np.float32), backend=backend)
        w = mg.tensor(w0.astype(np.float32), requires_grad=True, backend=backend)
        logp = mg.log_softmax(mg.sigmoid(x @ w) @ mg.tensor(np.eye(10, dtype=np.float32), backend=backend), -1)
        loss = -logp[np.arange(60), t0].mean()
        loss.backward()
        assert w.grad.dtype == np.float32
        grads[backend] = (loss.item(), w.grad.numpy())
    np.testing.assert_allclose(grads["numba"][0], grads["numpy"][0], rtol=1e-5)
    np.testing.assert_allclose(grads["numba"][1], grads["numpy"][1], rtol=1e-4, atol=1e-6)


# -- modes, determinism, threads, caching --------------------------------------------------------------
def test_disable_jit_gives_the_same_results():
    script = textwrap.dedent("""
        import numpy as np, numba
        assert numba.config.DISABLE_JIT
        from minigrad_backends.numba_backend import NumbaBackend
        from minigrad_backends.numpy_backend import NumpyBackend
        be, ref = NumbaBackend(), NumpyBackend()
        be.parallel_threshold = be.memory_bound_parallel = 16
        be.numpy_below = dict.fromkeys(be.numpy_below, 16)
        rng = np.random.default_rng(0)
        for dt in (np.float32, np.float64):
            x, g = (rng.standard_normal((9, 11)) * 3).astype(dt), rng.standard_normal((9, 11)).astype(dt)
            tol = dict(rtol=2e-5, atol=2e-6) if dt == np.float32 else dict(rtol=1e-12, atol=1e-13)
            rows = np.arange(9) % 3
            pairs = [(be.sigmoid(x), ref.sigmoid(x)), (be.tanh(x), ref.tanh(x)),
                     (be.tanh(x * 0.01), ref.tanh(x * 0.01)),
                     (be.gelu(x, "none"), ref.gelu(x, "none")), (be.softplus(x, 1.0, 20.0), ref.softplus(x, 1.0, 20.0)),
                     (be.relu(x), ref.relu(x)), (be.leaky_relu(x, 0.1), ref.leaky_relu(x, 0.1)),
                     (be.log_softmax(x, 1), ref.log_softmax(x, 1)),
                     (be.softmax_backward(g, x, 0), ref.softmax_backward(g, x, 0)), (be.add(x, g[0]), x + g[0]),
                     (be.sum(x, 0, False), x.sum(0)), (be.max(x, None, False), x.max()),
                     (be.scatter_add((3, 11), rows, g, dt), ref.scatter_add((3, 11), rows, g, dt)),
                     (be.softmax_cross_entropy_forward(x, rows)[0], ref.softmax_cross_entropy_forward(x, rows)[0])]
            with np.errstate(all="ignore"):
                special = np.array([-np.inf, -200, 0, 200, np.inf, np.nan], dt)
                pairs += [(be.sigmoid(special), ref.sigmoid(special)), (be.tanh(special), ref.tanh(special)),
                          (be.softplus(special, 1.0, 20.0), ref.softplus(special, 1.0, 20.0))]
            for got, expected in pairs:
                assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
                np.testing.assert_allclose(got, expected, equal_nan=True, **tol)
        be.warmup(parallel=True)  # the warm-up code runs (compiling it all would cost CI a minute)
        print("OK", be.describe())
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "JIT disabled" in result.stdout


def test_parallel_reductions_are_bitwise_reproducible(serial):
    x = np.random.default_rng(7).standard_normal((1025, 1024)).astype(np.float32) * 100
    rows = x.reshape(64, -1)  # rows of 16400: long enough for the kernel (numpy_below["reduction_run"])
    for array, axis in [(x, None), (x, 0), (x, 1), (rows, 1)]:
        first = serial.sum(array, axis, False)
        for _ in range(3):
            assert serial.sum(array, axis, False).tobytes() == first.tobytes()
    x64 = np.random.default_rng(8).standard_normal(1 << 20) * 1e6
    assert serial.sum(x64, None, False).tobytes() == serial.sum(x64, None, False).tobytes()


def test_thread_count_api(serial):
    import numba

    default = serial.get_num_threads()
    assert default == numba.config.NUMBA_NUM_THREADS or default == numba.get_num_threads()
    assert f"{default} threads" in serial.describe() and numba.__version__ in serial.describe()
    x = np.random.default_rng(9).standard_normal((1025, 1024)).astype(np.float32)
    with_all = serial.sum(x, None, False)
    try:
        serial.set_num_threads(1)
        assert serial.get_num_threads() == 1 and "1 threads" in serial.describe()
        # The chunking is fixed by the shape, so even another thread count gives the same bits.
        assert serial.sum(x, None, False).tobytes() == with_all.tobytes()
        close(serial.sigmoid(x), REF.sigmoid(x), np.float32)
    finally:
        serial.set_num_threads(default)
    with pytest.raises(ValueError):
        serial.set_num_threads(numba.config.NUMBA_NUM_THREADS + 1)


def test_cache_directory(monkeypatch, tmp_path):
    from minigrad_backends.numba_backend import _cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _cache.user_cache_dir() == str(tmp_path / "minigrad" / "numba")
    import numba

    key = _cache.build_key()  # the import name and a hash of the sources: stale entries cannot load
    assert key.startswith("minigrad_backends.numba_backend-")
    previous, numbas = _cache.CACHE_DIR, numba.config.CACHE_DIR
    try:
        monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
        assert _cache.configure() == str(tmp_path / "minigrad" / "numba" / key) == _cache.CACHE_DIR
        assert os.path.isdir(_cache.CACHE_DIR)
        monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "explicit"))
        assert _cache.configure() == str(tmp_path / "explicit" / key)  # an explicit NUMBA_CACHE_DIR is the base
        assert numba.config.CACHE_DIR == numbas  # Numba's own setting, for the user's other functions, untouched
    finally:
        _cache.CACHE_DIR = previous


def test_read_only_install_caches_in_the_user_directory(tmp_path):
    """A read-only copy of the packages, imported first, with NUMBA_CACHE_DIR unset: a kernel compiles and
    its cache files land under ~/.cache/minigrad/numba (HOME is a temporary directory), none in the tree."""
    import shutil

    import minigrad_backends

    tree, home = tmp_path / "site", tmp_path / "home"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in (mg, minigrad_backends):
        shutil.copytree(os.path.dirname(package.__file__), tree / package.__name__, ignore=skip)
    home.mkdir()
    before = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
    for p in [tree, *tree.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    script = textwrap.dedent("""
        import numpy as np
        import minigrad as mg
        be = mg.backends.load("numba")
        be.numpy_below = dict(be.numpy_below, activation=0)  # the kernel, whatever the size
        x = np.array([-1.0, 0.0, 2.0])
        assert np.array_equal(be.relu(x), [0.0, 0.0, 2.0])  # compiles relu_forward (float64) only
        print(mg.__file__, type(be).__module__, be.cache_dir, sep="\\n")
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_", "PYTHON"))}
    # HOME and the temporary directory are ours: neither the user's cache nor /tmp's shared fallback is used.
    env.update(HOME=str(home), TMPDIR=str(tmp_path), PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    try:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                                cwd=tmp_path, timeout=120)
    finally:
        for p in [tree, *tree.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)  # let tmp_path be cleaned up
    assert result.returncode == 0, result.stderr
    init, module, cache_dir = result.stdout.splitlines()
    assert init.startswith(str(tree)) and module == "minigrad_backends.numba_backend.backend"
    assert cache_dir.startswith(str(home / ".cache" / "minigrad" / "numba"))
    cached = {p.suffix for p in (home / ".cache").rglob("*") if p.is_file()}
    assert {".nbi", ".nbc"} <= cached, cached  # Numba's index and compiled code
    # Nothing was written next to the sources (as root the chmod does not stop writes: this check does).
    assert sorted(str(p.relative_to(tree)) for p in tree.rglob("*")) == before


def test_two_checkouts_of_the_same_sources_share_the_cache_and_other_functions_keep_numbas_setting(tmp_path):
    """Copies of the packages at two paths (two clones, CI's fresh one each run): the second loads the kernel the
    first compiled. A function of the user's own with cache=True still caches where Numba would put it."""
    import shutil

    import minigrad_backends

    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for tree in ("a", "b"):
        for package in (mg, minigrad_backends):
            shutil.copytree(os.path.dirname(package.__file__), tmp_path / tree / package.__name__, ignore=skip)
    (tmp_path / "user").mkdir()
    user_code = "import numba\n@numba.njit(cache=True)\ndef twice(v):\n    return 2 * v\n"
    (tmp_path / "user" / "mine.py").write_text(user_code)
    script = textwrap.dedent("""
        import numba, numpy as np
        before = numba.config.CACHE_DIR
        import minigrad as mg
        be = mg.backends.load("numba")
        be.numpy_below = dict(be.numpy_below, activation=0)
        assert np.array_equal(be.relu(np.array([-1.0, 2.0])), [0.0, 2.0])
        from minigrad_backends.numba_backend import elementwise
        stats = elementwise.relu_forward.stats
        import mine
        assert mine.twice(2.0) == 4.0
        print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()), numba.config.CACHE_DIR == before)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "PYTHON"))}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                           env=dict(env, PYTHONPATH=f"{tmp_path / tree}{os.pathsep}{tmp_path / 'user'}"))
            for tree in ("a", "b")]
    for result in runs:
        assert result.returncode == 0, result.stderr
    assert [r.stdout.split() for r in runs] == [["0", "1", "True"], ["1", "0", "True"]]
    index = {p.name.split("-")[0]: p.parent.name for p in (tmp_path / "cache").rglob("*.nbi")}
    assert index["elementwise.relu_forward_serial"].startswith("minigrad_backends.numba_backend-")
    assert not index["mine.twice"].startswith("minigrad_backends")  # Numba's place for it, not ours


def test_kernels_compile_lazily_per_variant_and_a_second_process_hits_the_cache(tmp_path):
    """Nothing compiles at start-up; a small array compiles only the serial variant of its kernel, a large one
    only the parallel variant; a second process with the same cache directory loads both from it, and a
    kernel with inlined helpers, helpers compiled apart (fastmath) and dtype-dispatched math (cross-entropy)."""
    script = textwrap.dedent("""
        import numpy as np
        import minigrad as mg
        from minigrad_backends.numba_backend import batchnorm, elementwise, reduce, scatter, softmax, windows
        be = mg.backends.load("numba")
        be.numpy_below = dict(be.numpy_below, activation=0)
        be.parallel_threshold = 64
        x32, x64 = np.linspace(-1, 1, 63, dtype=np.float32), np.linspace(-1, 1, 64)
        assert np.array_equal(be.relu(x32), np.maximum(x32, 0))  # below parallel_threshold: serial
        assert np.array_equal(be.relu(x64), np.maximum(x64, 0))  # from parallel_threshold: parallel
        loss, _ = be.softmax_cross_entropy_forward(x32[:60].reshape(6, 10), np.arange(6))
        assert np.allclose(loss, -mg.backends.load("numpy").log_softmax(x32[:60].reshape(6, 10), 1)[range(6), range(6)])
        kernels = {f"{m.__name__}.{name}": k for m in (batchnorm, elementwise, reduce, scatter, softmax, windows)
                   for name, k in vars(m).items() if hasattr(k, "parallel")}
        for name, k in sorted(kernels.items()):
            for variant, d in (("serial", k), ("parallel", k.parallel)):
                if d.signatures:
                    hits, misses = sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values())
                    print(name, variant, [str(s[0].dtype) for s in d.signatures], hits, misses)
        print(len(kernels))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
            for _ in range(2)]
    for result in runs:
        assert result.returncode == 0, result.stderr
    first, second = (r.stdout.splitlines() for r in runs)
    assert int(first[-1]) >= 25  # every kernel module was searched
    relu, ce = (f"minigrad_backends.numba_backend.{k}" for k in ("elementwise.relu_forward",
                                                                   "softmax.cross_entropy_forward"))
    assert first[:-1] == [f"{relu} serial ['float32'] 0 1", f"{relu} parallel ['float64'] 0 1",
                          f"{ce} serial ['float32'] 0 1"]
    assert second[:-1] == [f"{relu} serial ['float32'] 1 0", f"{relu} parallel ['float64'] 1 0",
                           f"{ce} serial ['float32'] 1 0"]


def test_threading_policy_and_concurrent_parallel_kernels():
    """The default policy (passive OpenMP, env restored afterwards), and two Python threads running parallel
    kernels at once (the workqueue layer would abort the process here)."""
    script = textwrap.dedent("""
        import os
        from concurrent.futures import ThreadPoolExecutor
        import numpy as np
        import minigrad as mg
        be = mg.backends.load("numba")
        x = np.random.default_rng(0).standard_normal((512, 256)).astype(np.float32)
        expected = be.softmax(x, -1)
        def work(_):
            return all(np.array_equal(be.softmax(x, -1), expected) for _ in range(50))
        with ThreadPoolExecutor(2) as pool:
            assert all(pool.map(work, range(4)))
        print(be.threading_policy, "|", os.environ.get("OMP_WAIT_POLICY"))
    """)
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    policy, wait = result.stdout.strip().rsplit("|", 1)
    assert wait.strip() == "None"  # set only while the threading layer loaded
    assert "minigrad's default" in policy
    if policy.startswith("omp"):
        assert "PASSIVE" in policy


def test_importing_minigrad_does_not_import_numba():
    code = "import sys, minigrad; minigrad.tensor([1.0]); print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_warmup_and_missing_numba_message(serial, monkeypatch):
    from minigrad_backends.numba_backend import elementwise, softmax

    serial.warmup()  # every serial variant compiled (or loaded from the cache) for both dtypes
    for k in (elementwise.relu_forward, elementwise.binary, softmax.cross_entropy_backward):
        assert len(k.signatures) >= 2
    monkeypatch.setitem(sys.modules, "numba", None)
    with pytest.raises(ImportError, match=r"pip install 'minigrad\[numba\]'"):
        NumbaBackend.check_available()


def test_warmup_reaches_every_kernel_variant(monkeypatch):
    """``warmup(parallel=True)`` calls the serial and the parallel variant of every kernel in every kernel
    module, so a kernel added without a warm-up entry fails here rather than compiling silently on a user's
    first call. The kernels are swapped for recorders: nothing compiles."""
    import importlib

    from numba.core.registry import CPUDispatcher

    called, kernels = set(), set()

    class Recorder:
        def __init__(self, name):
            self.name = name
            kernels.add(name)

        def __call__(self, *args):
            called.add(self.name)

    for name in ("elementwise", "reduce", "scatter", "softmax", "windows", "batchnorm"):
        module = importlib.import_module(f"minigrad_backends.numba_backend.{name}")
        for attr, value in list(vars(module).items()):
            if isinstance(value, CPUDispatcher) and hasattr(value, "parallel"):  # made by elementwise.kernel
                recorder = Recorder(f"{name}.{attr}")
                recorder.parallel = Recorder(f"{name}.{attr}.parallel")
                monkeypatch.setattr(module, attr, recorder)
    assert len(kernels) > 50  # the search found the kernels
    with np.errstate(all="ignore"):  # the recorders leave their outputs uninitialised
        NumbaBackend().warmup(parallel=True)
    assert kernels - called == set()


@pytest.mark.parametrize(("op", "kernel"), [
    (lambda x: x.sigmoid(), "sigmoid_backward"), (lambda x: x.tanh(), "tanh_backward"),
    (lambda x: x.relu(), "relu_backward"), (lambda x: x.leaky_relu(0.1), "leaky_relu_backward"),
    (lambda x: x.gelu(), "gelu_backward"), (lambda x: x.gelu(approximate="tanh"), "gelu_backward"),
    (lambda x: x.softplus(), "softplus_backward"),
])
def test_autograd_reaches_the_fused_activation_backward_kernels(op, kernel, monkeypatch):
    """Each activation's first-order backward is one call of its fused kernel, and agrees with NumPy."""
    be = NumbaBackend()
    be.numpy_below = dict.fromkeys(be.numpy_below, 0)
    calls = []
    original = getattr(be, kernel)
    monkeypatch.setattr(be, kernel, lambda *args: calls.append(kernel) or original(*args))
    data = np.random.default_rng(5).standard_normal((6, 7)).astype(np.float32)
    upstream = np.random.default_rng(6).standard_normal((6, 7)).astype(np.float32)
    x = mg.Tensor(data.copy(), be, requires_grad=True)
    op(x).backward(mg.Tensor(upstream, be))
    assert calls == [kernel]
    ref = mg.tensor(data, requires_grad=True)
    op(ref).backward(mg.tensor(upstream))
    np.testing.assert_allclose(x.grad.numpy(), ref.grad.numpy(), **tol(np.float32))


@pytest.mark.parametrize(("be", "dtype"), BACKEND_DTYPES, indirect=["be"])
@pytest.mark.parametrize("shape", [(), (7,), (30, 40)])
def test_add_scaled_matches_numpy_bitwise(be, dtype, shape):
    """The optimizer update out += alpha * x: float32 stays float32 arithmetic, rounded as NumPy rounds."""
    rng = np.random.default_rng(9)
    out = rng.standard_normal(shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    expected = REF.add_scaled_(out.copy(), x, -0.1)
    got = be.add_scaled_(out, x, -0.1)
    assert got is out and out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    same = out.copy()
    be.add_scaled_(same, same, 0.5)  # x is out: each element reads itself before the write
    np.testing.assert_array_equal(same, REF.add_scaled_(out.copy(), out.copy(), 0.5))


def test_add_scaled_parallel_and_fallbacks(serial):
    be = NumbaBackend()
    be.memory_bound_parallel = 16  # through the prange loop
    rng = np.random.default_rng(10)
    out, x = rng.standard_normal(1000).astype(np.float32), rng.standard_normal(1000).astype(np.float32)
    expected = REF.add_scaled_(out.copy(), x, 0.3)
    np.testing.assert_array_equal(be.add_scaled_(out, x, 0.3), expected)
    strided = rng.standard_normal(2000).astype(np.float32)[::2]  # not contiguous: NumPy runs it
    target = rng.standard_normal(1000).astype(np.float32)
    np.testing.assert_array_equal(serial.add_scaled_(target.copy(), strided, 2.0),
                                  REF.add_scaled_(target.copy(), strided, 2.0))
    buf = rng.standard_normal(1001).astype(np.float32)  # overlapping operands: NumPy buffers them
    expected = buf[1:] + buf[:-1]
    np.testing.assert_array_equal(serial.add_scaled_(buf[1:], buf[:-1], 1.0), expected)


def test_sgd_on_numba_matches_numpy_bitwise():
    rng = np.random.default_rng(11)
    w0, grads = rng.standard_normal((20, 30)).astype(np.float32), rng.standard_normal((3, 20, 30)).astype(np.float32)
    results = {}
    for name in ("numpy", "numba"):
        p = mg.tensor(w0, requires_grad=True, backend=name)
        opt = mg.optim.SGD([p], lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)
        for g in grads:
            p.grad = mg.tensor(g, backend=name)
            opt.step()
        results[name] = p.numpy()
    np.testing.assert_array_equal(results["numba"], results["numpy"])
