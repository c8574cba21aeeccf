"""The CuPy backend's CUDA kernels against the NumPy reference.

Without a GPU they run under Numba's CUDA simulator (tests/conftest.py switches it on), thread by thread on
NumPy arrays; with ``MINIGRAD_GPU_TESTS=1`` on a GPU machine the same tests launch them on CuPy arrays.
Shapes cover sizes that are not a multiple of the block, one row, one channel, several column blocks and
row chunks, and non-contiguous inputs. Every kernel also compiles to PTX for sm_90 without a device.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="the CUDA kernels need numba-cuda (pip install -e '.[dev]')")

from conftest import GPU_TESTS  # noqa: E402
from minigrad_backends.cupy_backend.kernels import activation, batchnorm, optim, softmax  # noqa: E402
from minigrad_backends.numpy_backend import NumpyBackend  # noqa: E402

import minigrad as mg  # noqa: E402

REF = NumpyBackend()
DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-6, atol=2e-6), np.float64: dict(rtol=1e-13, atol=1e-13)}


@pytest.fixture(scope="module")
def xp():
    if GPU_TESTS:
        return pytest.importorskip("cupy")
    return np


def host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def normal(rng, shape, dtype, scale=1.0, loc=0.0):
    return (rng.standard_normal(shape) * scale + loc).astype(dtype)


def noncontiguous(a):
    """A transposed copy: the same values in a non-C-contiguous layout (shape reversed)."""
    return np.ascontiguousarray(a.T).T


def close(got, want, dtype, scale=1.0):
    tol = TOL[dtype]
    np.testing.assert_allclose(host(got), want, rtol=tol["rtol"], atol=tol["atol"] * scale)


ELEMENTWISE_SHAPES = [(1,), (257,), (3, 7, 5), "noncontiguous"]


def _elementwise_input(rng, shape, dtype):
    if shape == "noncontiguous":
        x, g = noncontiguous(normal(rng, (6, 9), dtype, 3)), noncontiguous(normal(rng, (6, 9), dtype))
        assert not x.flags.c_contiguous
        return x, g
    return normal(rng, shape, dtype, 3), normal(rng, shape, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=str)
@pytest.mark.parametrize("name, params, of_output", [
    ("sigmoid_backward", (), True),
    ("tanh_backward", (), True),
    ("relu_backward", (), False),
    ("leaky_relu_backward", (0.05,), False),
    ("gelu_backward", ("none",), False),
    ("gelu_backward", ("tanh",), False),
    ("softplus_backward", (1.0, 20.0), False),
    ("softplus_backward", (2.0, 1.5), False),
    ("silu_backward", (), False),
    ("elu_backward", (0.3,), False),
    ("hardtanh_backward", (-1.0, 2.0), False),
])
def test_activation_backward(xp, name, params, of_output, shape, dtype):
    rng = np.random.default_rng(0)
    x, g = _elementwise_input(rng, shape, dtype)
    if of_output:  # sigmoid/tanh backward take the forward's output
        x = getattr(REF, name.removesuffix("_backward"))(x).astype(dtype)
    got = getattr(activation, name)(xp, xp.asarray(g), xp.asarray(x), *params)
    assert got.dtype == dtype and got.shape == x.shape
    close(got, getattr(REF, name)(g, x, *params), dtype)


def test_relu_backward_at_zero_is_zero(xp):
    x = np.array([-1.0, 0.0, 2.0], np.float32)
    g = np.array([3.0, 5.0, 7.0], np.float32)
    np.testing.assert_array_equal(host(activation.relu_backward(xp, xp.asarray(g), xp.asarray(x))), [0, 0, 7])


# Row kernels: few rows (the simulator runs every row's block of threads), columns beyond one block's threads.
ROW_CASES = [((1, 1), -1), ((3, 70), -1), ((70, 3), 0), ((2, 3, 2), 1), ("noncontiguous", -1)]


def _row_input(rng, shape, dtype):
    if shape == "noncontiguous":
        return noncontiguous(normal(rng, (3, 40), dtype, 4))
    return normal(rng, shape, dtype, 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", ROW_CASES, ids=str)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_forward_backward(xp, shape, axis, log, dtype):
    rng = np.random.default_rng(1)
    x = _row_input(rng, shape, dtype)
    g = normal(rng, x.shape, dtype)
    want = REF.log_softmax(x, axis) if log else REF.softmax(x, axis)
    got = softmax.softmax(xp, xp.asarray(x), axis, log=log)
    assert got.dtype == dtype and got.shape == x.shape
    close(got, want, dtype)
    backward = REF.log_softmax_backward if log else REF.softmax_backward
    close(softmax.softmax_backward(xp, xp.asarray(g), xp.asarray(want), axis, log=log), backward(g, want, axis),
          dtype)


def test_softmax_of_large_logits_is_finite(xp):
    x = np.array([[1000.0, 999.0, -1000.0]], np.float32)
    close(softmax.softmax(xp, xp.asarray(x), -1), REF.softmax(x, -1), np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (4, 70), (2, 3)])
def test_cross_entropy(xp, shape, dtype):
    rng = np.random.default_rng(2)
    logits = normal(rng, shape, dtype, 3)
    targets = rng.integers(0, shape[1], shape[0])
    loss, log_probs = softmax.cross_entropy_forward(xp, xp.asarray(logits), xp.asarray(targets))
    want_loss, want_log_probs = REF.softmax_cross_entropy_forward(logits, targets)
    close(loss, want_loss, dtype)
    close(log_probs, want_log_probs, dtype)
    g = normal(rng, shape[0], dtype)
    got = softmax.cross_entropy_backward(xp, xp.asarray(g), log_probs, xp.asarray(targets))
    close(got, REF.softmax_cross_entropy_backward(g, want_log_probs, targets), dtype)


# (N, C, *spatial): one row, one channel, several column blocks, several row chunks (at 256 rows a chunk on a
# GPU, 16 under the simulator: there 40 rows are 2 full chunks and a partial one, as 300 rows on a GPU).
BN_SHAPES = [(1, 3), (7, 1), (5, 40), (40, 3, 7), (300 if GPU_TESTS else 40, 2, 3), (4, 2, 3, 5), "noncontiguous"]


def _bn_input(rng, shape, dtype):
    if shape == "noncontiguous":
        x = noncontiguous(normal(rng, (33, 9), dtype, 2, 1))
        assert not x.flags.c_contiguous
        return x
    return normal(rng, shape, dtype, 2, 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_forward_backward(xp, shape, affine, dtype):
    rng = np.random.default_rng(3)
    x = _bn_input(rng, shape, dtype)
    c = x.shape[1]
    weight, bias = (normal(rng, c, dtype), normal(rng, c, dtype)) if affine else (None, None)
    dev = lambda a: None if a is None else xp.asarray(a)
    out, mean, var = batchnorm.forward(xp, dev(x), dev(weight), dev(bias), 1e-5)
    want_out, want_mean, want_var = REF.batch_norm_forward(x, weight, bias, 1e-5)
    assert out.dtype == dtype and mean.dtype == var.dtype == np.float64
    # The statistics are float64 sums of the data as given: compare with exact float64 ones (the NumPy
    # backend centres float32 data in float32 first, so it is the less exact of the two).
    axes = (0, *range(2, x.ndim))
    close(mean, x.astype(np.float64).mean(axis=axes), np.float64)
    close(var, x.astype(np.float64).var(axis=axes), np.float64)
    invstd = 1 / np.sqrt(want_var + 1e-5)
    gain = np.abs(invstd * (1 if weight is None else weight)).max()  # a channel of one value: 1 / sqrt(eps)
    close(out, want_out, dtype, scale=4 * gain)
    g = normal(rng, x.shape, dtype)
    got = batchnorm.backward(xp, dev(g), dev(x), dev(want_mean), dev(invstd), dev(weight))
    want = REF.batch_norm_backward(g, x, want_mean, invstd, weight)
    # dweight and dbias are float64 sums; the reference sums float32 data in float32 stretches first.
    for a, b, scale in zip(got, want, (4 * gain, x.size, x.size)):
        close(a, b, dtype, scale=scale)


def test_batch_norm_large_mean_small_spread(xp):
    """A float32 channel with mean 1e4 and std 0.1: the statistics keep their digits (exact float64 reference)."""
    rng = np.random.default_rng(4)
    x = normal(rng, (300, 4, 2), np.float32, 0.1, 1e4)
    mean, var = batchnorm.moments(xp, xp.asarray(x))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(host(mean), x64.mean(axis=(0, 2)), rtol=1e-14)
    np.testing.assert_allclose(host(var), x64.var(axis=(0, 2)), rtol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 5), (2, 4, 3, 3)])
@pytest.mark.parametrize("with_center, with_shift", [(True, True), (False, True), (True, False)])
def test_batch_norm_affine(xp, shape, with_center, with_shift, dtype):
    rng = np.random.default_rng(5)
    x = normal(rng, shape, dtype, 2, 1)
    c = shape[1]
    center = rng.standard_normal(c) if with_center else None
    scale, shift = rng.standard_normal(c), (rng.standard_normal(c) if with_shift else None)
    dev = lambda a: None if a is None else xp.asarray(a)
    got = batchnorm.affine(xp, dev(x), dev(center), dev(scale), dev(shift))
    close(got, REF.batch_norm_affine(x, center, scale, shift), dtype, scale=4)


def _run_optimizer(make, params, grads, steps):
    """Run minigrad's own optimizer (the NumPy backend): the reference for the fused kernels."""
    tensors = [mg.tensor(p.copy(), requires_grad=True) for p in params]
    opt = make(tensors)
    for step in range(steps):
        for t, g in zip(tensors, grads[step]):
            t.grad = mg.tensor(g)
        opt.step()
    return [t.numpy() for t in tensors]


OPTIMIZERS = {
    "sgd": dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
    "sgd_momentum_decay": dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=False),
    "sgd_nesterov": dict(lr=0.05, momentum=0.8, dampening=0.0, weight_decay=0.0, nesterov=True),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_sgd_step_matches_minigrad_sgd(xp, name, dtype):
    rng = np.random.default_rng(6)
    params, steps = [normal(rng, 300, dtype)], 3
    grads = [[normal(rng, 300, dtype)] for _ in range(steps)]
    kw = OPTIMIZERS[name]
    want = _run_optimizer(lambda ps: mg.optim.SGD(ps, **kw), params, grads, steps)
    p, buf = xp.asarray(params[0].copy()), xp.zeros(300, dtype)
    for step in range(steps):
        optim.sgd_step(p, xp.asarray(grads[step][0]), buf, first=step == 0, **kw)
    close(p, want[0], dtype, scale=10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("decoupled, amsgrad, weight_decay", [(False, False, 0.0), (False, True, 0.05),
                                                              (True, False, 0.1)])
def test_adam_step_matches_minigrad_adam(xp, decoupled, amsgrad, weight_decay, dtype):
    rng = np.random.default_rng(7)
    params, steps = [normal(rng, 300, dtype)], 3
    grads = [[normal(rng, 300, dtype)] for _ in range(steps)]
    kw = dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=weight_decay, amsgrad=amsgrad)
    cls = mg.optim.AdamW if decoupled else mg.optim.Adam
    want = _run_optimizer(lambda ps: cls(ps, **kw), params, grads, steps)
    p = xp.asarray(params[0].copy())
    m, v, vmax = (xp.zeros(300, dtype) for _ in range(3))
    for step in range(steps):
        optim.adam_step(p, xp.asarray(grads[step][0]), m, v, vmax, lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8,
                        weight_decay=weight_decay, decoupled=decoupled, amsgrad=amsgrad, step=step + 1)
    close(p, want[0], dtype, scale=10)


@pytest.mark.skipif(GPU_TESTS, reason="on a GPU machine the kernels above ran compiled for the device")
def test_every_kernel_compiles_to_ptx_for_sm90():
    pytest.importorskip("nvidia.cu13", reason="PTX needs NVRTC/NVVM for CUDA 13 (pip install -e '.[dev]')")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    done = subprocess.run([sys.executable, "-m", "minigrad_backends.cupy_backend.kernels.ptx", "9", "0"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    expected = sum(len(m.KERNELS) for m in (activation, softmax, batchnorm, optim)) * 2
    assert len(lines) == expected and all("for sm_90" in line for line in lines), done.stdout
