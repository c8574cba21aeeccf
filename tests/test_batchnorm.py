"""BatchNorm: fused and composite forms against each other and a float64 NumPy reference, on every
available backend; gradcheck / gradgradcheck; module semantics; the Numba kernels path by path.

Float32 tolerances scale with the reduction length m and, for the composite form only, with the channel's
conditioning |mean| / std (its float32 mean loses that many digits; the fused form must not).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.nn.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from minigrad.ops.batchnorm import batch_norm

BACKENDS = ["numpy"] + (["numba"] if mg.backends.available().get("numba") is True else [])
EPS = 1e-5


def _examples(fraction: float) -> int:
    return max(1, int(settings().max_examples * fraction))


# -- float64 reference ----------------------------------------------------------------------------------
def reference(x, w, b, dy, eps=EPS):
    """out, dx, dweight, dbias, batch mean, biased var, all float64, straight from the definitions."""
    x = x.astype(np.float64)
    dy = dy.astype(np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    m = x.size // x.shape[1]
    mu = x.mean(axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axes, keepdims=True)
    inv = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * inv
    out = xhat * w.reshape(shape) + b.reshape(shape)
    sdy = dy.sum(axes, keepdims=True)
    sdyx = (dy * xhat).sum(axes, keepdims=True)
    dx = w.reshape(shape) * inv / m * (m * dy - sdy - xhat * sdyx)
    return out, dx, sdyx.ravel(), sdy.ravel(), mu.ravel(), var.ravel()


def _axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _run(x0, w0, b0, dy0, backend, fused, dtype, rm=None, rv=None, momentum=0.1):
    x = mg.tensor(x0, dtype=dtype, requires_grad=True, backend=backend)
    w = mg.tensor(w0, dtype=dtype, requires_grad=True, backend=backend)
    b = mg.tensor(b0, dtype=dtype, requires_grad=True, backend=backend)
    y = batch_norm(x, rm, rv, w, b, training=True, momentum=momentum, fused=fused)
    y.backward(mg.tensor(dy0, dtype=dtype, backend=backend))
    return y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()


@st.composite
def batches(draw, max_spatial=2):
    """(shape, dtype, per-channel means, per-channel stds, seed)."""
    ndim = draw(st.integers(2, 2 + max_spatial))
    shape = (draw(st.integers(2, 8)), draw(st.integers(1, 3))) + tuple(
        draw(st.integers(1, 4)) for _ in range(ndim - 2))
    c = shape[1]
    means = np.array(draw(st.lists(st.floats(-1e4, 1e4), min_size=c, max_size=c)))
    log_vars = np.array(draw(st.lists(st.floats(-4, 4), min_size=c, max_size=c)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    return shape, dtype, means, np.sqrt(10.0**log_vars), seed


def _sample(shape, dtype, means, stds, rng):
    cshape = (1, -1) + (1,) * (len(shape) - 2)
    x = rng.standard_normal(shape) * stds.reshape(cshape) + means.reshape(cshape)
    return x.astype(dtype)  # the reference sees the very same (rounded) values


def _tolerances(dtype, m, x):
    """Per-channel error allowances in units of xhat: (fused, composite).

    Both forms round x - mean; the composite computes the mean in x's dtype, so it loses
    cond = |mean| / std digits of that dtype, while the fused form's float64 mean loses them in float64.
    """
    eps = np.finfo(dtype).eps
    axes = _axes(x.ndim)
    x64 = x.astype(np.float64)
    cond = 1 + np.abs(x64.mean(axes)) / np.sqrt(x64.var(axes) + EPS)
    base = 16 * eps * math.sqrt(m)
    return base + 16 * np.finfo(np.float64).eps * math.sqrt(m) * cond, base * cond


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=_examples(1.0))
@given(batch=batches())
def test_fused_and_composite_agree_with_reference(backend, batch):
    shape, dtype, means, stds, seed = batch
    rng = np.random.default_rng(seed)
    x0 = _sample(shape, dtype, means, stds, rng)
    c = shape[1]
    w0, b0 = rng.standard_normal(c), rng.standard_normal(c)
    dy0 = rng.standard_normal(shape)  # random, never all ones
    w0, b0, dy0 = w0.astype(dtype), b0.astype(dtype), dy0.astype(dtype)
    out, dx, dw, db, _, _ = reference(x0, w0.astype(np.float64), b0.astype(np.float64), dy0)
    m = x0.size // c
    axes = _axes(x0.ndim)
    tol_fused, tol_comp = _tolerances(dtype, m, x0)
    inv = 1 / np.sqrt(x0.astype(np.float64).var(axes) + EPS)
    xhat_max = np.abs(reference(x0, np.ones(c), np.zeros(c), dy0)[0]).max(axes)
    scale_out = np.abs(w0) * xhat_max + np.abs(b0)  # also covers rounding of the "+ b"
    scale_dx = np.abs(w0) * inv * np.abs(dy0).max(axes)
    scale_sum = np.abs(dy0).astype(np.float64).sum(axes)
    results = {}
    for fused, tol in ((True, tol_fused), (False, tol_comp)):
        got = _run(x0, w0, b0, dy0, backend, fused, dtype)
        results[fused] = got
        for name, value, want, scale in (("out", got[0], out, scale_out), ("dx", got[1], dx, scale_dx),
                                         ("dweight", got[2], dw, scale_sum), ("dbias", got[3], db, scale_sum)):
            assert value.dtype == dtype, name
            err = np.abs(value.astype(np.float64) - want)
            if err.ndim > 1:
                err = err.max(axes)
            limit = tol * scale + 1e-30
            assert np.all(err <= limit), f"fused={fused} {name}: error {err} > {limit}"
    for a, b, name in zip(results[True], results[False], ("out", "dx", "dweight", "dbias")):
        assert np.all(np.isfinite(a)) and np.all(np.isfinite(b)), name


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=_examples(0.5))
@given(batch=batches(max_spatial=1), momentum=st.sampled_from([0.1, 0.5, 1.0]))
def test_running_stats_after_several_steps(backend, batch, momentum):
    shape, dtype, means, stds, seed = batch
    rng = np.random.default_rng(seed)
    c = shape[1]
    buffers = {}
    for fused in (True, False):
        rm = mg.tensor(np.zeros(c), dtype=dtype, backend=backend)
        rv = mg.tensor(np.ones(c), dtype=dtype, backend=backend)
        buffers[fused] = (rm, rv)
    want_m, want_v = np.zeros(c), np.ones(c)
    allow_m, allow_v = np.zeros(c), np.zeros(c)
    for _ in range(3):
        x0 = _sample(shape, dtype, means, stds, rng)
        dy0 = rng.standard_normal(shape)
        w0, b0 = rng.standard_normal(c), rng.standard_normal(c)
        m = x0.size // c
        _, _, _, _, mu, var = reference(x0, w0, b0, dy0)
        want_m = (1 - momentum) * want_m + momentum * mu
        want_v = (1 - momentum) * want_v + momentum * var * m / (m - 1)
        tol_fused, tol_comp = _tolerances(dtype, m, x0)
        allow_m += 4 * np.finfo(dtype).eps * np.abs(want_m) + tol_comp * np.sqrt(var + EPS)
        allow_v += (4 * tol_fused + tol_comp**2 * 4) * want_v + 4 * np.finfo(dtype).eps
        for fused, (rm, rv) in buffers.items():
            _run(x0, w0, b0, dy0, backend, fused, dtype, rm, rv, momentum)
    for fused, (rm, rv) in buffers.items():
        assert rm.dtype == dtype and rv.dtype == dtype
        assert np.all(np.abs(rm.numpy() - want_m) <= allow_m), (fused, rm.numpy(), want_m)
        assert np.all(np.abs(rv.numpy() - want_v) <= allow_v), (fused, rv.numpy(), want_v)
        assert np.all(rv.numpy() >= 0)


# -- robustness -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(4096, 2), (64, 2, 8, 8), (3, 2)])
def test_large_mean_small_spread_float32(backend, shape):
    rng = np.random.default_rng(0)
    cshape = (1, -1) + (1,) * (len(shape) - 2)
    x0 = (rng.standard_normal(shape) * 0.1 + np.array([1e4, -1e4]).reshape(cshape)).astype(np.float32)
    want = reference(x0, np.ones(2), np.zeros(2), x0)[0]
    x = mg.tensor(x0, backend=backend)
    out = batch_norm(x, None, None, training=True).numpy()
    assert out.dtype == np.float32
    assert np.abs(out - want).max() < 1e-3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(512, 256), (2048, 512), (64, 32, 8, 8)])
def test_eval_two_coefficient_form_only_where_it_is_accurate(backend, shape):
    """The eval forward computes x * scale + offset (one pass less on NumPy) when every channel has
    |running_mean| * invstd <= 8: the rounded offset then errs by at most ~8 eps / 2 |weight|. Ill-conditioned
    channels (mean 1e4, std 0.1) among them make the whole call centre first, keeping them within 1e-3.
    The two-coefficient form would be off by up to ~eps * 1e5 |weight| / 2 there (a rounding of the offset,
    so smaller by luck in some channels: there are eight)."""
    from minigrad_backends.numpy_backend import NumpyBackend

    assert math.prod(shape) >= NumpyBackend._BN_FOLD_FROM
    rng = np.random.default_rng(31)
    c = shape[1]
    cshape = (1, -1) + (1,) * (len(shape) - 2)
    std = np.linspace(0.5, 2.0, c)
    mean = 0.95 * NumpyBackend._BN_FOLD_RATIO * std * np.where(np.arange(c) % 2, 1, -1)
    w0, b0 = np.linspace(-2, 2, c), np.linspace(-1, 1, c)
    for ill in (False, True):
        m, sd = mean.copy(), std.copy()
        bad = np.arange(3, c, 4)[:8] if ill else []
        m[bad], sd[bad] = 1e4, 0.1
        z = rng.standard_normal(shape)
        z = (z - z.mean(_axes(len(shape)), keepdims=True)) / z.std(_axes(len(shape)), keepdims=True)
        x0 = (z * sd.reshape(cshape) + m.reshape(cshape)).astype(np.float32)
        x64 = x0.astype(np.float64)
        bm, bv = x64.mean(_axes(len(shape))), x64.var(_axes(len(shape)))
        want = ((x64 - bm.reshape(cshape)) / np.sqrt(bv + EPS).reshape(cshape) * w0.reshape(cshape)
                + b0.reshape(cshape))
        x, w, b = (mg.tensor(a, dtype="float32", backend=backend) for a in (x0, w0, b0))
        rm, rv = (mg.tensor(a, dtype="float32", backend=backend) for a in (bm, bv))
        got = batch_norm(x, rm, rv, w, b, training=False).numpy().astype(np.float64)
        err = np.abs(got - want).max(_axes(len(shape)))
        # per channel: ~8 eps/2 |w| from the offset, plus the output's own rounding
        bound = 2e-6 * np.abs(w0) + 2 * np.finfo(np.float32).eps * np.abs(want).max(_axes(len(shape)))
        if ill:
            assert np.all(err[bad] < 1e-3), err[bad]
            bound[bad] = np.inf
        assert np.all(err <= bound), (ill, err.max(), np.argmax(err / bound))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_constant_channel_outputs_beta(backend, fused, dtype):
    x0 = np.full((5, 3, 2), 1234.5678)
    x0[:, 1] = np.arange(10.0).reshape(5, 2)  # one ordinary channel next to the constant ones
    x0[:, 2] = -7e3
    x = mg.tensor(x0, dtype=dtype, requires_grad=True, backend=backend)
    w = mg.tensor([2.0, 3.0, 4.0], dtype=dtype, requires_grad=True, backend=backend)
    b = mg.tensor([0.5, -1.0, 1.5], dtype=dtype, requires_grad=True, backend=backend)
    rm = mg.zeros(3, dtype=dtype, backend=backend)
    rv = mg.ones(3, dtype=dtype, backend=backend)
    y = batch_norm(x, rm, rv, w, b, training=True, fused=fused)
    y.backward(mg.tensor(np.random.default_rng(1).standard_normal(x0.shape), dtype=dtype, backend=backend))
    out = y.numpy()
    for grad in (x.grad, w.grad, b.grad):
        assert np.all(np.isfinite(grad.numpy()))
    # the fused form gets the constant's mean exactly; the composite's float32 mean may be off by an ulp
    atol = 0.0 if fused or dtype == "float64" else 1e-3 * 4 * 316
    assert np.all(np.abs(out[:, 0] - 0.5) <= atol) and np.all(np.abs(out[:, 2] - 1.5) <= atol)
    assert np.all(np.isfinite(out))
    assert rv.numpy()[0] == pytest.approx(0.9, abs=1e-6 if dtype == "float64" or fused else 1e-3)


def test_variance_is_never_negative():
    # E[x^2] - E[x]^2 in float32 would cancel to a negative number here.
    x0 = np.full((1000, 1), 1e4, dtype=np.float32)
    x0[::2] = np.nextafter(np.float32(1e4), np.float32(2e4))
    be = mg.backends.load("numpy")
    _, _, var = be.batch_norm_forward(x0, None, None, EPS)
    assert var[0] >= 0 and var[0] == pytest.approx(x0.astype(np.float64).var(), rel=1e-6)



@pytest.mark.parametrize("shape", [(300, 300), (3000, 2), (64, 2, 8), (300, 70, 3), (20, 3, 8, 8), (8, 3, 4),
                                   (20, 3, 9, 9)])
def test_numpy_kernels_tiled_rows_and_first_row_outlier(shape):
    """The NumPy kernels on (N, C) inputs large enough for tiled operands (300 rows: 54-row groups and a
    tail), on (N, C, S) with a short S as (N, C * S) rows (and S or N just outside that rule), and with
    x[0] far from the mean, which makes them centre again on the mean."""
    be = mg.backends.load("numpy")
    rng = np.random.default_rng(14)
    c = shape[1]
    x = (rng.standard_normal(shape) * 1e-2 + 1.0).astype(np.float32)
    x[(0, slice(None)) + (0,) * (len(shape) - 2)] = 1e3  # each channel's first value, the kernels' shift
    dy = rng.standard_normal(shape).astype(np.float32)
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    out, mean, var = be.batch_norm_forward(x, w, b, EPS)
    out_r, dx_r, dw_r, db_r, mean_r, var_r = reference(x, w, b, dy)
    assert out.dtype == np.float32
    np.testing.assert_allclose(mean, mean_r, rtol=1e-6)  # x[0] = 1e3 sits in a float32 block sum
    np.testing.assert_allclose(var, var_r, rtol=1e-6)
    np.testing.assert_allclose(out, out_r, atol=1e-4 * (np.abs(w) + np.abs(b)).max())
    dx, dw, db = be.batch_norm_backward(dy, x, mean_r, 1 / np.sqrt(var_r + EPS), w)
    assert dx.dtype == np.float32
    np.testing.assert_allclose(dx, dx_r, rtol=0, atol=1e-4 * np.abs(dx_r).max())
    np.testing.assert_allclose(dw, dw_r, rtol=1e-4, atol=1e-4 * np.abs(dw_r).max())
    np.testing.assert_allclose(db, db_r, rtol=1e-5, atol=1e-4)
    k, sc, sh = rng.standard_normal((3, c))
    cshape = (1, c) + (1,) * (len(shape) - 2)
    want = (x - k.astype(np.float32).reshape(cshape)) * sc.astype(np.float32).reshape(cshape) \
        + sh.astype(np.float32).reshape(cshape)
    np.testing.assert_allclose(be.batch_norm_affine(x, k, sc, sh), want, rtol=1e-6, atol=1e-3)

# -- gradcheck ------------------------------------------------------------------------------------------
GRAD_SHAPES = [(4, 2), (3, 2, 3), (2, 2, 2, 2)]


def _bn_fn(training, fused, rm, rv, affine=True):
    def fn(x, w, b):
        if affine:
            return batch_norm(x, rm, rv, w, b, training=training, momentum=0.0, fused=fused)
        return batch_norm(x, rm, rv, training=training, momentum=0.0, fused=fused) * w.sum() + b.sum()

    return fn


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", GRAD_SHAPES)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
def test_gradcheck_and_gradgradcheck(backend, shape, training, fused):
    rng = np.random.default_rng(sum(shape))
    c = shape[1]
    x = mg.tensor(rng.standard_normal(shape) * 3 + 2, dtype="float64", requires_grad=True, backend=backend)
    w = mg.tensor(rng.standard_normal(c), dtype="float64", requires_grad=True, backend=backend)
    b = mg.tensor(rng.standard_normal(c), dtype="float64", requires_grad=True, backend=backend)
    # momentum 0 keeps the running statistics fixed while gradcheck perturbs x
    rm = mg.tensor(rng.standard_normal(c), dtype="float64", backend=backend)
    rv = mg.tensor(rng.random(c) + 0.5, dtype="float64", backend=backend)
    fn = _bn_fn(training, fused, rm, rv)
    assert mg.gradcheck(fn, (x, w, b))
    assert mg.gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
def test_gradgradcheck_without_affine(fused):
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.standard_normal((3, 2, 2)), dtype="float64", requires_grad=True)
    assert mg.gradgradcheck(lambda x: batch_norm(x, None, None, training=True, fused=fused), (x,))


def test_third_order_fused_matches_composite():
    rng = np.random.default_rng(4)
    x0, w0 = rng.standard_normal((4, 3, 2)) * 2 + 3, rng.standard_normal(3)
    g0, v0, u0 = (rng.standard_normal((4, 3, 2)) for _ in range(3))
    results = []
    for fused in (True, False):
        x = mg.tensor(x0, requires_grad=True)
        w = mg.tensor(w0, requires_grad=True)
        y = batch_norm(x, None, None, w, None, training=True, fused=fused)
        (dx,) = mg.grad(y, [x], mg.tensor(g0), create_graph=True)
        ddx, dw = mg.grad((dx * mg.tensor(v0)).sum(), [x, w], create_graph=True)
        (dddx,) = mg.grad((ddx * mg.tensor(u0)).sum() + (dw * dw).sum(), [x])
        results.append([t.numpy() for t in (dx, ddx, dw, dddx)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


# -- eval mode: one kernel (BatchNormEval) ----------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(7, 5), (6, 4, 9), (3, 4, 5, 6), (600, 1000), (8, 16, 64, 64)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mean", [50, 1], ids=["centred", "two-coefficient"])
def test_eval_fused_matches_composite(backend, shape, dtype, mean):
    """Output and every gradient, with a random upstream gradient; the large shapes run the parallel
    Numba kernels and, with |running_mean| / std small, the two-coefficient form."""
    rng = np.random.default_rng(sum(shape))
    c = shape[1]
    x0 = rng.standard_normal(shape) * 3 + mean
    dy0 = rng.standard_normal(shape)
    got = {}
    for fused in (True, False):
        x = mg.tensor(x0, dtype=dtype, requires_grad=True, backend=backend)
        w = mg.tensor(np.linspace(-2, 2, c), dtype=dtype, requires_grad=True, backend=backend)
        b = mg.tensor(np.linspace(1, 3, c), dtype=dtype, requires_grad=True, backend=backend)
        rm = mg.tensor(np.linspace(mean - 1, mean + 1, c), dtype=dtype, backend=backend)
        rv = mg.tensor(np.linspace(4, 16, c), dtype=dtype, backend=backend)
        y = batch_norm(x, rm, rv, w, b, training=False, fused=fused)
        y.backward(mg.tensor(dy0, dtype=dtype, backend=backend))
        got[fused] = [y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()]
        assert all(v.dtype == np.dtype(dtype) for v in got[fused])
    m = x0.size // c
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for name, a, b in zip(("out", "dx", "dweight", "dbias"), got[True], got[False]):
        scale = np.abs(b).max() * (math.sqrt(m) if name in ("dweight", "dbias") else 1)
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("optional", ["all", "no center", "no shift", "no weight"])
def test_eval_op_gradcheck_and_gradgradcheck_in_every_input(backend, optional):
    """BatchNormEval in x, center (running mean), invstd, weight and shift; None for the optional ones."""
    from minigrad.ops.batchnorm import BatchNormEval

    rng = np.random.default_rng(21)
    shape = (4, 3, 5)

    def t(*size):
        return mg.tensor(rng.standard_normal(size), dtype="float64", requires_grad=True, backend=backend)

    x, center, invstd, weight, shift = t(*shape), t(3), t(3), t(3), t(3)
    if optional == "no center":
        inputs, fn = (x, invstd, weight, shift), lambda x, s, w, b: BatchNormEval.apply(x, None, s, w, b)
    elif optional == "no shift":
        inputs, fn = (x, center, invstd, weight), lambda x, k, s, w: BatchNormEval.apply(x, k, s, w, None)
    elif optional == "no weight":
        inputs, fn = (x, center, invstd, shift), lambda x, k, s, b: BatchNormEval.apply(x, k, s, None, b)
    else:
        inputs, fn = (x, center, invstd, weight, shift), BatchNormEval.apply
    assert mg.gradcheck(fn, inputs)
    assert mg.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_eval_fused_mixed_dtypes_promote_like_the_composite(backend):
    """float64 input, float32 running statistics: the fused form falls back to promoting ops."""
    rng = np.random.default_rng(22)
    x = mg.tensor(rng.standard_normal((5, 3)) * 2 + 7, dtype="float64", backend=backend)
    rm = mg.tensor([7.0, 6.5, 7.5], dtype="float32", backend=backend)
    rv = mg.tensor([4.0, 3.0, 5.0], dtype="float32", backend=backend)
    fused, composite = (batch_norm(x, rm, rv, training=False, fused=f) for f in (True, False))
    assert fused.dtype == composite.dtype
    np.testing.assert_allclose(fused.numpy(), composite.numpy(), rtol=1e-6)


@pytest.mark.parametrize("shape", [(60, 100), (600, 1000), (5, 3, 7), (64, 8, 3), (8, 16, 64, 64), (1, 2, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_eval_kernel_matches_numpy_kernel(shape, dtype):
    """Serial and parallel, (N, C) and (N, C * S) rows and (N * C, S) runs; None centre and shift."""
    pytest.importorskip("numba")
    from minigrad_backends.numba_backend import batchnorm as nbk

    ref = mg.backends.load("numpy")
    rng = np.random.default_rng(23)
    c = shape[1]
    x = (rng.standard_normal(shape) + 1e3).astype(dtype)
    center, scale, shift = rng.standard_normal(c) + 1e3, rng.standard_normal(c), rng.standard_normal(c)
    tol = 8 * np.finfo(dtype).eps
    for args in ((center, scale, shift), (None, scale, None)):
        got = nbk.batch_norm_affine(x, *args, serial_below=mg.backends.load("numba").parallel_threshold)
        want = ref.batch_norm_affine(x, *args)
        assert got.dtype == dtype and got.shape == x.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * np.abs(want).max())


# -- functional and module semantics --------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1)])
@pytest.mark.parametrize("fused", [True, False])
def test_one_value_per_channel_is_an_error_in_training(shape, fused):
    x = mg.ones(*shape)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training, got input size"):
        batch_norm(x, None, None, training=True, fused=fused)
    module = BatchNorm2d(3) if len(shape) == 4 else BatchNorm1d(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        module(x)
    module.eval()
    assert module(x).shape == shape  # eval uses the running statistics: fine


@pytest.mark.parametrize("fused", [True, False])
def test_momentum_none_is_a_cumulative_average(fused):
    rng = np.random.default_rng(6)
    module = BatchNorm1d(3, momentum=None, fused=fused).double()
    means, variances = [], []
    for _ in range(4):
        spread, center = rng.random(3).reshape(1, 3, 1) * 4, rng.standard_normal(3).reshape(1, 3, 1)
        x0 = rng.standard_normal((7, 3, 2)) * spread + center
        module(mg.tensor(x0))
        means.append(x0.mean((0, 2)))
        variances.append(x0.var((0, 2), ddof=1))
    assert int(module.num_batches_tracked.item()) == 4
    np.testing.assert_allclose(module.running_mean.numpy(), np.mean(means, 0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(module.running_var.numpy(), np.mean(variances, 0), rtol=1e-12)


def test_momentum_none_without_counter_is_an_error():
    with pytest.raises(ValueError, match="num_batches_tracked"):
        batch_norm(mg.ones(4, 2), mg.zeros(2), mg.ones(2), training=True, momentum=None)


@pytest.mark.parametrize("fused", [True, False])
def test_eval_uses_running_stats_and_leaves_them(fused):
    rng = np.random.default_rng(7)
    module = BatchNorm2d(2, fused=fused).double()
    for _ in range(3):
        module(mg.tensor(rng.standard_normal((4, 2, 3, 3)) * 2 + 1))
    rm, rv = module.running_mean.numpy().copy(), module.running_var.numpy().copy()
    with mg.no_grad():
        module.weight.copy_(mg.tensor([1.5, -0.5], dtype="float64"))
        module.bias.copy_(mg.tensor([0.25, 2.0], dtype="float64"))
    module.eval()
    x0 = rng.standard_normal((2, 2, 3, 3))
    x = mg.tensor(x0, requires_grad=True)
    y = module(x)
    shape = (1, 2, 1, 1)
    want = (x0 - rm.reshape(shape)) / np.sqrt(rv.reshape(shape) + EPS) * np.array([1.5, -0.5]).reshape(shape) \
        + np.array([0.25, 2.0]).reshape(shape)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)
    dy0 = rng.standard_normal(x0.shape)
    y.backward(mg.tensor(dy0))
    np.testing.assert_allclose(x.grad.numpy(), dy0 * np.array([1.5, -0.5]).reshape(shape)
                               / np.sqrt(rv.reshape(shape) + EPS), rtol=1e-12)
    np.testing.assert_allclose(module.bias.grad.numpy(), dy0.sum((0, 2, 3)), rtol=1e-12)
    np.testing.assert_array_equal(module.running_mean.numpy(), rm)
    np.testing.assert_array_equal(module.running_var.numpy(), rv)
    assert int(module.num_batches_tracked.item()) == 3


@pytest.mark.parametrize("fused", [True, False])
def test_without_running_stats_batch_stats_are_used_in_both_modes(fused):
    rng = np.random.default_rng(8)
    module = BatchNorm1d(3, track_running_stats=False, fused=fused).double()
    assert module.running_mean is None and module.running_var is None and module.num_batches_tracked is None
    assert list(module.state_dict()) == ["weight", "bias"]
    x0 = rng.standard_normal((6, 3)) * 3 + 1
    want = reference(x0, np.ones(3), np.zeros(3), x0)[0]
    train_out = module(mg.tensor(x0)).numpy()
    module.eval()
    eval_out = module(mg.tensor(x0)).numpy()
    np.testing.assert_allclose(train_out, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(eval_out, want, rtol=1e-10, atol=1e-12)


def test_state_dict_keys_and_parameters():
    for cls in (BatchNorm1d, BatchNorm2d, BatchNorm3d):
        module = cls(4)
        assert list(module.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                             "num_batches_tracked"]
        assert module.num_batches_tracked.dtype == np.int64
        assert [p.shape for p in module.parameters()] == [(4,), (4,)]
        plain = cls(4, affine=False)
        assert list(plain.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
        assert list(plain.parameters()) == []
        loaded = cls(4)
        loaded.load_state_dict(module.state_dict())


def test_reset_parameters_restores_the_initial_state():
    module = BatchNorm3d(2)
    module(mg.randn(3, 2, 2, 2, 2) * 4 + 1)
    with mg.no_grad():
        module.weight.mul_(3.0)
        module.bias.add_(1.0)
    module.reset_parameters()
    fresh = BatchNorm3d(2).state_dict()
    for key, value in module.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), fresh[key].numpy(), err_msg=key)
    assert module.weight.requires_grad and module.bias.requires_grad


@pytest.mark.parametrize("backend", BACKENDS)
def test_modules_take_dtype_and_backend(backend):
    module = BatchNorm2d(3, dtype="float64", backend=backend)
    for name, value in module.state_dict().items():
        assert value.backend == backend, name
        assert value.dtype == (np.int64 if name == "num_batches_tracked" else np.float64), name
    x = mg.randn(4, 3, 2, 2, dtype="float64", backend=backend)
    y = module(x)
    assert y.dtype == np.float64 and y.backend == backend
    assert module.num_batches_tracked.item() == 1


def test_batchnorm3d_normalises_each_channel_over_batch_and_volume():
    rng = np.random.default_rng(14)
    x0 = rng.standard_normal((3, 2, 2, 3, 2)) * np.array([2.0, 0.5]).reshape(1, 2, 1, 1, 1) + 5
    module = BatchNorm3d(2).double()
    y = module(mg.tensor(x0)).numpy()
    axes = (0, 2, 3, 4)
    want = (x0 - x0.mean(axes, keepdims=True)) / np.sqrt(x0.var(axes, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(module.running_var.numpy(), 0.9 + 0.1 * x0.var(axes, ddof=1), rtol=1e-12)


def test_input_errors():
    with pytest.raises(ValueError, match="expected 4D"):
        BatchNorm2d(3)(mg.ones(2, 3))
    with pytest.raises(ValueError, match="expected 2D"):
        BatchNorm1d(3)(mg.ones(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"expected 5D \(N, C, D, H, W\) input, got shape \(2, 3, 2, 2\)"):
        BatchNorm3d(3)(mg.ones(2, 3, 2, 2))
    with pytest.raises(ValueError, match="expected 3 channels"):
        BatchNorm1d(3)(mg.ones(2, 4))
    with pytest.raises(ValueError, match=r"weight must be a tensor of shape \(3,\)"):
        batch_norm(mg.ones(2, 3), None, None, mg.ones(4), training=True)
    with pytest.raises(ValueError, match="running_mean and running_var must be given"):
        batch_norm(mg.ones(2, 3), None, None)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        batch_norm(mg.ones(3), None, None, training=True)


@pytest.mark.skipif("numba" not in BACKENDS, reason="needs a second backend")
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
def test_running_stats_on_another_backend_are_an_error(fused):
    x = mg.randn(4, 3)
    rm, rv = mg.zeros(3, backend="numba"), mg.ones(3, backend="numba")
    with pytest.raises(mg.BackendMismatchError, match="batch_norm: running_mean is on backend 'numba' but the input"):
        batch_norm(x, rm, rv, training=True, fused=fused)
    np.testing.assert_array_equal(rm.numpy(), np.zeros(3))


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
def test_running_stats_update_bumps_versions_and_refuses_read_only_buffers(fused):
    rm, rv = mg.zeros(3), mg.ones(3)
    versions = rm._version, rv._version
    batch_norm(mg.randn(4, 3), rm, rv, training=True, fused=fused)
    assert (rm._version, rv._version) == (versions[0] + 1, versions[1] + 1)
    frozen = mg.Tensor(np.broadcast_to(np.float32(0.0), (3,)), rm._backend)
    with pytest.raises(mg.InplaceError, match="batch_norm: cannot update the running statistics"):
        batch_norm(mg.randn(4, 3), frozen, None, training=True, fused=fused)


# -- PyTorch --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize(("cls", "shape"), [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                            ("BatchNorm2d", (3, 3, 4, 2)), ("BatchNorm3d", (2, 3, 2, 3, 2))])
def test_matches_pytorch(fused, momentum, cls, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    ours = getattr(mg.nn.batchnorm, cls)(3, momentum=momentum, fused=fused).double()
    theirs = getattr(torch.nn, cls)(3, momentum=momentum).double()
    for step in range(3):
        x0 = rng.standard_normal(shape) * 3 + step
        dy0 = rng.standard_normal(shape)
        x = mg.tensor(x0, requires_grad=True)
        xt = torch.tensor(x0, requires_grad=True)
        y, yt = ours(x), theirs(xt)
        y.backward(mg.tensor(dy0))
        yt.backward(torch.tensor(dy0))
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-9, atol=1e-12)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12, err_msg=key)
    ours.eval()
    theirs.eval()
    x0 = rng.standard_normal(shape)
    np.testing.assert_allclose(ours(mg.tensor(x0)).numpy(), theirs(torch.tensor(x0)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_functional_matches_pytorch_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    x0 = (rng.standard_normal((8, 4, 3)) * 2 + 5).astype(np.float32)
    w0, b0 = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    for training in (True, False):
        rm, rv = mg.zeros(4), mg.ones(4)
        rmt, rvt = torch.zeros(4), torch.ones(4)
        y = batch_norm(mg.tensor(x0), rm, rv, mg.tensor(w0), mg.tensor(b0), training=training, momentum=0.3)
        yt = torch.nn.functional.batch_norm(torch.tensor(x0), rmt, rvt, torch.tensor(w0), torch.tensor(b0),
                                            training=training, momentum=0.3)
        np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(rm.numpy(), rmt.numpy(), rtol=1e-6)
        np.testing.assert_allclose(rv.numpy(), rvt.numpy(), rtol=1e-6)


# -- Numba kernels, path by path ------------------------------------------------------------------------
KERNEL_CASES = [((60, 100), "serial"), ((5, 3, 7), "serial"), ((40, 37), "blocks"), ((6, 5, 4, 3), "blocks"),
                ((300, 7), "rows"), ((9, 3), "rows"), ((3, 700), "rows"), ((300, 7), "rows-serial"),
                ((70, 33), "rows-serial"), ((60, 100), "rows-serial"), ((2, 5), "rows-serial"),
                ((6, 5, 4, 3), "rows"), ((9, 3, 5), "rows"), ((300, 7, 2), "rows-serial"), ((2, 3, 1, 1), "rows")]


@pytest.mark.parametrize(("shape", "path"), KERNEL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_kernels_match_numpy_kernels(shape, path, dtype):
    pytest.importorskip("numba")
    from minigrad_backends.numba_backend import batchnorm as nbk

    ref = mg.backends.load("numpy")
    rng = np.random.default_rng(11)
    c = shape[1]
    x = (rng.standard_normal(shape) * 0.1 + rng.uniform(-1e4, 1e4, c).reshape((1, c) + (1,) * (len(shape) - 2)))
    x = x.astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    out, mean, var = nbk.batch_norm_forward(x, w, b, EPS, path)
    out_r, mean_r, var_r = ref.batch_norm_forward(x, w, b, EPS)
    tol = 64 * np.finfo(dtype).eps + 64 * np.finfo(np.float64).eps * 1e5  # cond = |mean| / std <= 1e5
    assert out.dtype == dtype
    np.testing.assert_allclose(out, out_r, rtol=0, atol=tol * (np.abs(w) + np.abs(b)).max())
    np.testing.assert_allclose(mean, mean_r, rtol=1e-13)
    np.testing.assert_allclose(var, var_r, rtol=1e-5 if dtype == np.float32 else 1e-10)
    invstd = 1 / np.sqrt(var_r + EPS)
    got = nbk.batch_norm_backward(dy, x, mean_r, invstd, w, path)
    want = ref.batch_norm_backward(dy, x, mean_r, invstd, w)
    for g, r in zip(got, want):
        np.testing.assert_allclose(g, r, rtol=0, atol=tol * np.abs(r).max() * 4)


@pytest.mark.parametrize("channels_per_block", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_blocks_design_with_cache_sized_blocks(monkeypatch, channels_per_block, dtype):
    """Training inputs above EVEN_BLOCKS_UP_TO take blocks of about BLOCK_BYTES (a few channels, the last
    block shorter) instead of one block per thread; forced on a small input, the results still match the
    NumPy kernels, and eval keeps one block per thread."""
    pytest.importorskip("numba")
    import numba
    from minigrad_backends.numba_backend import batchnorm as nbk

    ref = mg.backends.load("numpy")
    rng = np.random.default_rng(12)
    shape = (6, 7, 4, 5)
    x = (rng.standard_normal(shape) * 0.1 + rng.uniform(-1e3, 1e3, 7).reshape(1, 7, 1, 1)).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    w, b = rng.standard_normal(7), rng.standard_normal(7)
    channel_bytes = 6 * 20 * np.dtype(dtype).itemsize
    monkeypatch.setattr(nbk, "EVEN_BLOCKS_UP_TO", 0)
    monkeypatch.setattr(nbk, "BLOCK_BYTES", channels_per_block * channel_bytes)
    x3 = x.reshape(6, 7, 20)
    assert nbk._block(x3, True) == min(channels_per_block, -(-7 // numba.get_num_threads()))
    assert nbk._block(x3, False) == -(-7 // numba.get_num_threads())
    out, mean, var = nbk.batch_norm_forward(x, w, b, EPS, "blocks")
    out_r, mean_r, var_r = ref.batch_norm_forward(x, w, b, EPS)
    tol = 64 * np.finfo(dtype).eps + 64 * np.finfo(np.float64).eps * 1e4
    np.testing.assert_allclose(out, out_r, rtol=0, atol=tol * (np.abs(w) + np.abs(b)).max())
    np.testing.assert_allclose(mean, mean_r, rtol=1e-13)
    np.testing.assert_allclose(var, var_r, rtol=1e-5 if dtype == np.float32 else 1e-10)
    invstd = 1 / np.sqrt(var_r + EPS)
    for g, r in zip(nbk.batch_norm_backward(dy, x, mean_r, invstd, w, "blocks"),
                    ref.batch_norm_backward(dy, x, mean_r, invstd, w)):
        np.testing.assert_allclose(g, r, rtol=0, atol=tol * np.abs(r).max() * 4)


def test_numba_kernels_without_jit():
    """NUMBA_DISABLE_JIT=1 runs the same kernels as Python: results must not change."""
    pytest.importorskip("numba")
    script = """
import numpy as np
from minigrad_backends.numba_backend import batchnorm as nbk
from minigrad_backends.numpy_backend import NumpyBackend
ref = NumpyBackend()
rng = np.random.default_rng(0)
for shape, path in [((4, 3), "serial"), ((4, 3, 2), "blocks"), ((5, 3), "blocks"), ((7, 2), "rows"),
                    ((7, 2, 3), "rows"), ((7, 2), "rows-serial")]:
    x = rng.standard_normal(shape) * 2 + 50
    dy = rng.standard_normal(shape)
    out, mean, var = nbk.batch_norm_forward(x, None, None, 1e-5, path)
    out_r, mean_r, var_r = ref.batch_norm_forward(x, None, None, 1e-5)
    assert np.allclose(out, out_r, atol=1e-12) and np.allclose(var, var_r, rtol=1e-12), path
    inv = 1 / np.sqrt(var_r + 1e-5)
    for g, r in zip(nbk.batch_norm_backward(dy, x, mean_r, inv, None, path),
                    ref.batch_norm_backward(dy, x, mean_r, inv, None)):
        assert np.allclose(g, r, atol=1e-12), path
for shape in [(4, 3), (4, 3, 2)]:
    x = rng.standard_normal(shape)
    k, s, b = rng.standard_normal((3, 3))
    assert np.allclose(nbk.batch_norm_affine(x, k, s, b, serial_below=0), ref.batch_norm_affine(x, k, s, b))
print("ok")
"""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_numba_backend_uses_its_batchnorm_kernels():
    if mg.backends.available().get("numba") is not True:
        pytest.skip("numba backend not available")
    from minigrad_backends.numba_backend import batchnorm as nbk
    from minigrad_backends.numpy_backend import NumpyBackend

    be = mg.backends.load("numba")
    assert type(be).batch_norm_forward is not NumpyBackend.batch_norm_forward
    x = np.random.default_rng(12).standard_normal((600, 500)).astype(np.float32)  # the row kernels
    assert nbk.path_for(x, be.parallel_threshold) == "rows-serial"  # below ROWS_PARALLEL_FROM
    assert nbk.path_for(x[:60, :100], be.parallel_threshold) == "rows-serial"  # few rows too (vectorises)
    assert nbk.path_for(np.empty((60, 4, 5)), be.parallel_threshold) == "rows-serial"  # small S, enough rows
    assert nbk.path_for(np.empty((16, 4, 5, 5)), be.parallel_threshold) == "serial"
    assert nbk.path_for(np.empty((32, 64, 32, 32)), be.parallel_threshold) == "blocks"
    assert nbk.path_for(np.empty((2048, 512), np.float32), be.parallel_threshold) == "rows"
    out, mean, var = be.batch_norm_forward(x, None, None, EPS)
    np.testing.assert_allclose(out, NumpyBackend().batch_norm_forward(x, None, None, EPS)[0], atol=1e-5)
    dx, dw, db = be.batch_norm_backward(x, x, mean, 1 / np.sqrt(var + EPS), None)
    assert dx.shape == x.shape and dw.shape == db.shape == (500,)


@pytest.mark.parametrize(("shape", "path"), [((3000, 2), "rows"), ((3000, 2), "rows-serial"), ((64, 2, 8), "blocks"),
                                             ((40, 2), "serial"), ((1500, 2, 2), "rows"), ((300, 2, 3), "rows-serial")])
def test_numba_kernels_first_row_outlier(shape, path):
    """The shift x[0] far from the mean triggers the re-centring pass; the variance stays accurate."""
    pytest.importorskip("numba")
    from minigrad_backends.numba_backend import batchnorm as nbk

    rng = np.random.default_rng(13)
    x = (rng.standard_normal(shape) * 1e-2 + 1.0).astype(np.float32)
    x[0] = 1e3
    out, mean, var = nbk.batch_norm_forward(x, None, None, EPS, path)
    x64 = x.astype(np.float64)
    axes = _axes(x.ndim)
    np.testing.assert_allclose(mean, x64.mean(axes), rtol=1e-7)  # rows: float32 runs of 16 rows
    np.testing.assert_allclose(var, x64.var(axes), rtol=1e-6)
    assert np.abs(out - reference(x, np.ones(2), np.zeros(2), x)[0]).max() < 1e-4
