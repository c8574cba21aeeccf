"""The op classes behind the newer conv-net layers (docs/nn.md, "Layers"): ``ops.conv.ConvTranspose2d`` (both
forwards: by phases and by columns),
``ops.resample.Resample`` (``F.interpolate``'s linear modes), ``RepeatAlong``/``SumRepeats`` (nearest by an
integer factor) and ``ops.padding.BorderPad`` with its adjoint
(``F.pad``'s reflect/replicate/circular modes).

Each against an independent NumPy reference or PyTorch, forward and gradients for random upstream gradients, on
every backend; gradients of the first and second order against finite differences (``gradcheck``/
``gradgradcheck``); and ``Resample``'s two paths (dense product, ordered gathers) against each other, including
inputs and gradients with infs and NaNs, where PyTorch's results are the reference."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention
from minigrad.ops.conv import ConvTranspose2d
from minigrad.ops.padding import BorderPad, BorderPadAdjoint
from minigrad.ops.resample import AxisMatrix, RepeatAlong, Resample, SumRepeats

BACKENDS = [name for name in ("numpy", "numba") if mg.backends.available().get(name) is True]


def _torch():
    return pytest.importorskip("torch")


def _leaf(array: np.ndarray, backend: str = "numpy") -> mg.Tensor:
    return mg.tensor(array, requires_grad=True, backend=backend)


@pytest.fixture(params=["dense", "sparse"])
def path(request, monkeypatch):
    """``Resample``'s path: the dense product (for any axis length) or the ordered gathers (always)."""
    monkeypatch.setattr(Resample, "DENSE_MAX", 10**9 if request.param == "dense" else 0)
    return request.param


# -- Resample --------------------------------------------------------------------------------------------------
def _random_matrix(rng, o: int, n: int) -> AxisMatrix:
    """Up to 3 entries a row, repeated columns and zero weights included, and one row without entries."""
    counts = rng.integers(1, 4, o)
    counts[rng.integers(o)] = 0
    rows = np.repeat(np.arange(o), counts)
    cols = rng.integers(0, n, len(rows))
    vals = rng.standard_normal(len(rows))
    vals[rng.integers(len(rows))] = 0.0
    return AxisMatrix((o, n), rows, cols, vals)


def _apply(matrix: AxisMatrix, x: np.ndarray, axis: int) -> np.ndarray:
    """The reference: A x along ``axis`` from the dense matrix."""
    return np.moveaxis(np.tensordot(matrix.dense(), x, axes=([1], [axis])), 0, axis)


@pytest.mark.parametrize("backend", BACKENDS + ["cupy"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_resample_is_the_matrix_product_along_its_axis(path, backend, axis, request):
    if backend == "cupy":
        backend = request.getfixturevalue("cupy_device")
    rng = np.random.default_rng(axis)
    shape = [3, 4, 5]
    matrix = _random_matrix(rng, 7, shape[axis])
    x = rng.standard_normal(shape)
    mx = _leaf(x, backend)
    y = Resample.apply(mx, axis, matrix)
    np.testing.assert_allclose(y.numpy(), _apply(matrix, x, axis), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(mg.tensor(g, backend=backend))
    assert mx.grad.backend == backend
    np.testing.assert_allclose(mx.grad.numpy(), _apply(matrix.T, g, axis), rtol=1e-12, atol=1e-12)


def test_resample_gradcheck_and_double_backward(path):
    rng = np.random.default_rng(1)
    matrix = _random_matrix(rng, 5, 4)
    x = _leaf(rng.standard_normal((2, 4, 3)))
    assert mg.gradcheck(lambda t: Resample.apply(t, 1, matrix), (x,))
    assert mg.gradgradcheck(lambda t: Resample.apply(t, 1, matrix), (x,))


def test_resample_gathers_sum_a_rows_entries_in_their_order(monkeypatch):
    """The gathers add a row's entries in the order listed (PyTorch's order), so float32 sums round as there:
    (1 + 1e-8) - 1 is 0 in float32, (1 - 1) + 1e-8 is 1e-8."""
    monkeypatch.setattr(Resample, "DENSE_MAX", 0)
    x = mg.tensor(np.array([1.0, 1e-8, -1.0], np.float32))

    def row(order):
        return AxisMatrix((1, 3), np.zeros(3, np.int64), np.array(order), np.ones(3, np.float32))

    assert Resample.apply(x, 0, row([0, 1, 2])).item() == 0.0
    assert Resample.apply(x, 0, row([0, 2, 1])).item() == np.float32(1e-8)


NON_FINITE_CASES = [
    ("bilinear", (2, 2, 5, 4), {"scale_factor": 2}),
    ("bilinear", (2, 2, 5, 4), {"size": (9, 9), "align_corners": True}),
    ("bilinear", (1, 2, 6, 7), {"size": (3, 3)}),  # downsampling: inputs no output reads
    ("bicubic", (2, 2, 5, 4), {"size": (7, 3)}),
    ("linear", (2, 3, 6), {"scale_factor": 1.5}),
    ("trilinear", (1, 2, 3, 4, 3), {"size": (5, 2, 4)}),
]


@pytest.mark.parametrize("mode,shape,kwargs", NON_FINITE_CASES)
def test_interpolate_with_infs_and_nans_equals_pytorch(mode, shape, kwargs):
    """An inf or NaN reaches exactly the outputs (and gradient entries) that PyTorch's kernels let it reach: a
    dense product would spread NaN over its whole row (0 * inf), so such inputs take the ordered gathers."""
    torch = _torch()
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape)
    flat = x.reshape(-1)
    flat[[1, 7, 12]] = [np.inf, np.nan, -np.inf]
    tx = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.interpolate(tx, mode=mode, **kwargs)
    g = rng.standard_normal(tuple(expected.shape))
    g.reshape(-1)[[0, 5]] = [np.inf, np.nan]
    expected.backward(torch.tensor(g))
    mx = _leaf(x)
    actual = F.interpolate(mx, mode=mode, **kwargs)
    actual.backward(mg.tensor(g))
    np.testing.assert_allclose(actual.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode,shape,kwargs", [
    ("bilinear", (2, 3, 70, 5), {"size": (150, 9)}),  # longer than Resample.DENSE_MAX: the gathers
    ("bilinear", (2, 3, 16, 16), {"scale_factor": 2}),  # the dense products, forward and backward
    ("linear", (2, 3, 100), {"size": 41, "align_corners": True}),
    ("bicubic", (1, 2, 80, 6), {"scale_factor": (0.5, 2.5)}),
])
def test_interpolate_on_either_path_equals_pytorch(mode, shape, kwargs, dtype):
    torch = _torch()
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.interpolate(tx, mode=mode, **kwargs)
    g = rng.uniform(-1, 1, tuple(expected.shape)).astype(dtype)
    expected.backward(torch.tensor(g))
    mx = _leaf(x)
    actual = F.interpolate(mx, mode=mode, **kwargs)
    actual.backward(mg.tensor(g))
    tol = 1e-10 if dtype == "float64" else 1e-5
    assert actual.dtype == mx.grad.dtype == np.dtype(dtype)
    np.testing.assert_allclose(actual.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("backend", BACKENDS + ["cupy"])
@pytest.mark.parametrize("axis,r", [(0, 2), (1, 3), (2, 1), (2, 4)])
def test_repeat_along_is_np_repeat_and_its_gradient_sums_the_copies(backend, axis, r, request):
    if backend == "cupy":
        backend = request.getfixturevalue("cupy_device")
    rng = np.random.default_rng(axis + r)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    mx = _leaf(x, backend)
    y = RepeatAlong.apply(mx, axis, r)
    np.testing.assert_array_equal(y.numpy(), np.repeat(x, r, axis))
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(mg.tensor(g, backend=backend))
    runs = g.reshape(x.shape[:axis] + (x.shape[axis], r) + x.shape[axis + 1:])
    np.testing.assert_allclose(mx.grad.numpy(), runs.sum(axis + 1), rtol=1e-6, atol=1e-6)


def test_repeat_along_and_sum_repeats_gradcheck_and_double_backward():
    rng = np.random.default_rng(2)
    x, g = _leaf(rng.standard_normal((2, 3, 2))), _leaf(rng.standard_normal((2, 9, 2)))
    assert mg.gradcheck(lambda t: RepeatAlong.apply(t, 1, 3), (x,))
    assert mg.gradgradcheck(lambda t: RepeatAlong.apply(t, 1, 3), (x,))
    assert mg.gradcheck(lambda t: SumRepeats.apply(t, 1, 3), (g,))
    assert mg.gradgradcheck(lambda t: SumRepeats.apply(t, 1, 3), (g,))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,factor", [((2, 3, 4, 5), 2), ((1, 2, 3, 4), (3, 1)), ((2, 2, 5), 4),
                                          ((1, 2, 2, 3, 2), (2, 1, 3))])
def test_nearest_by_integer_factors_equals_pytorch(shape, factor, dtype):
    torch = _torch()
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.interpolate(tx, scale_factor=factor, mode="nearest")
    g = rng.uniform(-1, 1, tuple(expected.shape)).astype(dtype)
    expected.backward(torch.tensor(g))
    mx = _leaf(x)
    actual = F.interpolate(mx, scale_factor=factor, mode="nearest")
    actual.backward(mg.tensor(g))
    tol = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_array_equal(actual.numpy(), expected.detach().numpy())
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


# -- BorderPad -------------------------------------------------------------------------------------------------
PAD_CASES = [
    ((2, 3, 5), (2, 1)),
    ((2, 3, 5), (0, 4)),
    ((2, 3, 4, 5), (1, 2, 0, 3)),
    ((3, 4, 5), (3, 0, 2, 2)),  # unbatched
    ((1, 2, 3, 4, 5), (1, 0, 2, 1, 0, 2)),
    ((2, 1, 4, 3), (0, 0, 1, 1)),
]
MODES = ["reflect", "replicate", "circular"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,pad", PAD_CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_border_pad_equals_pytorch(mode, shape, pad, dtype):
    torch = _torch()
    if mode == "reflect" and max(pad) >= min(shape[-len(pad) // 2:]):
        pytest.skip("reflect needs widths below the padded size")
    rng = np.random.default_rng(len(shape) + sum(pad))
    x = rng.standard_normal(shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.pad(tx, pad, mode=mode)
    g = rng.uniform(-1, 1, tuple(expected.shape)).astype(dtype)
    expected.backward(torch.tensor(g))
    mx = _leaf(x)
    actual = F.pad(mx, pad, mode=mode)
    actual.backward(mg.tensor(g))
    tol = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_array_equal(actual.numpy(), expected.detach().numpy())  # copies: exact
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("mode", MODES)
def test_border_pad_gradcheck_double_backward_and_adjoint(mode):
    rng = np.random.default_rng(4)
    widths = ((0, 0), (1, 2), (2, 1))
    x = _leaf(rng.standard_normal((2, 3, 4)))
    assert mg.gradcheck(lambda t: BorderPad.apply(t, widths, mode), (x,))
    assert mg.gradgradcheck(lambda t: BorderPad.apply(t, widths, mode), (x,))
    y = _leaf(rng.standard_normal((2, 6, 7)))
    assert mg.gradcheck(lambda t: BorderPadAdjoint.apply(t, (2, 3, 4), widths, mode), (y,))
    # <pad(x), y> == <x, pad^T(y)>: the adjoint is the transpose of the forward map
    lhs = float((BorderPad.apply(x, widths, mode) * y).sum().item())
    rhs = float((x * BorderPadAdjoint.apply(y, (2, 3, 4), widths, mode)).sum().item())
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS[1:] + ["cupy"])
@pytest.mark.parametrize("mode", MODES)
def test_border_pad_on_every_backend_equals_numpy(backend, mode, request):
    if backend == "cupy":
        backend = request.getfixturevalue("cupy_device")
    rng = np.random.default_rng(5)
    x, pad = rng.standard_normal((2, 3, 4, 5)).astype(np.float32), (1, 2, 3, 0)
    ref, ours = _leaf(x), _leaf(x, backend)
    out_ref, out = F.pad(ref, pad, mode=mode), F.pad(ours, pad, mode=mode)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out_ref.backward(mg.tensor(g))
    out.backward(mg.tensor(g, backend=backend))
    assert out.backend == ours.grad.backend == backend
    np.testing.assert_array_equal(out.numpy(), out_ref.numpy())
    np.testing.assert_allclose(ours.grad.numpy(), ref.grad.numpy(), rtol=1e-6, atol=1e-6)


# -- ConvTranspose2d -------------------------------------------------------------------------------------------
# (groups, in/group, out/group, kernel, stride, padding, output_padding, dilation, input spatial)
CONV_T_GEOMETRIES = [
    (1, 3, 2, (4, 4), (2, 2), (1, 1), (0, 0), (1, 1), (5, 4)),  # a decoder's upsampling
    (2, 2, 3, (2, 3), (2, 3), (0, 1), (1, 2), (1, 1), (3, 3)),
    (1, 2, 2, (3, 2), (2, 1), (1, 0), (1, 0), (1, 1), (3, 4)),  # 3 taps over 2 phases: zeros in a sub-kernel
    (1, 2, 1, (3, 3), (2, 3), (2, 1), (1, 2), (2, 2), (4, 3)),  # dilated, output_padding below the dilation
    (3, 1, 2, (1, 1), (3, 2), (0, 0), (2, 0), (1, 1), (2, 5)),  # phases no tap lands in: zeros (+ bias)
    (1, 2, 2, (6, 4), (3, 2), (3, 2), (2, 1), (1, 1), (2, 3)),  # padding wider than the stride
]


@pytest.mark.parametrize("forward", ["phases", "columns"])
@pytest.mark.parametrize("case", CONV_T_GEOMETRIES)
def test_conv_transpose2d_both_forwards_equal_pytorch(case, forward, monkeypatch):
    monkeypatch.setattr(ConvTranspose2d, "PHASE_MAX_WORK", float("inf") if forward == "phases" else 0.0)
    torch = _torch()
    groups, cin, cout, kernel, stride, padding, output_padding, dilation, spatial = case
    rng = np.random.default_rng(sum(spatial) + sum(kernel))
    arrays = [rng.standard_normal((2, groups * cin) + spatial), rng.standard_normal((groups * cin, cout) + kernel),
              rng.standard_normal(groups * cout)]
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = [_leaf(a) for a in arrays]
    expected = torch.nn.functional.conv_transpose2d(*theirs, **kwargs)
    actual = F.conv_transpose2d(*ours, **kwargs)
    np.testing.assert_allclose(actual.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = rng.uniform(-1, 1, tuple(expected.shape))
    expected.backward(torch.tensor(g))
    actual.backward(mg.tensor(g))
    for i, (t, o) in enumerate(zip(theirs, ours)):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=f"input {i}")
    if forward == "phases":
        assert mg.gradgradcheck(lambda *t: F.conv_transpose2d(*t, **kwargs), [_leaf(a[:1]) for a in arrays[:1]]
                                + [_leaf(a) for a in arrays[1:]])


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_transpose2d_gradient_penalty_equals_pytorch(groups):
    """A penalty on the input's gradient (double backward through the op's differentiable backward) gives
    PyTorch's gradients for the input, the weight and the bias."""
    torch = _torch()
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((4, 3, 4, 3)), rng.standard_normal(3 * groups)]
    r = rng.standard_normal((2, 3 * groups, 7, 12))  # the output's shape
    kwargs = dict(stride=2, padding=1, output_padding=1, groups=groups, dilation=(1, 2))

    def penalty(lib, x, w, b):
        out = lib.nn.functional.conv_transpose2d(x, w, b, **kwargs)
        (gx, gw) = lib.autograd.grad((out * lib.tensor(r)).sum(), (x, w), create_graph=True)
        return (gx * gx).sum() + (gw * gw * out.sum()).sum()

    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = [_leaf(a) for a in arrays]
    penalty(torch, *theirs).backward()
    penalty(mg, *ours).backward()
    for i, (t, o) in enumerate(zip(theirs, ours)):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=f"input {i}")


@pytest.mark.parametrize("backend", BACKENDS[1:] + ["cupy"])
def test_conv_transpose2d_on_every_backend_equals_numpy(backend, request):
    if backend == "cupy":
        backend = request.getfixturevalue("cupy_device")
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4, 5, 4), (4, 2, 3, 3), (4,))]
    kwargs = dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2)
    ref, ours = [_leaf(a) for a in arrays], [_leaf(a, backend) for a in arrays]
    out_ref, out = F.conv_transpose2d(*ref, **kwargs), F.conv_transpose2d(*ours, **kwargs)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out_ref.backward(mg.tensor(g))
    out.backward(mg.tensor(g, backend=backend))
    assert out.backend == backend
    np.testing.assert_allclose(out.numpy(), out_ref.numpy(), rtol=1e-5, atol=1e-5)
    for i, (r, o) in enumerate(zip(ref, ours)):
        np.testing.assert_allclose(o.grad.numpy(), r.grad.numpy(), rtol=1e-5, atol=1e-5, err_msg=f"input {i}")
