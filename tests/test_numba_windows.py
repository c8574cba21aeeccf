"""The Numba ``fold_windows`` kernel (col2im) against the NumPy reference, and conv/fold/pool through minigrad.

The kernel adds in the reference's order, so its results must be bitwise equal to NumPy's, serial and
parallel alike (each parallel task owns one output plane). The serial variants run in float32 and float64,
the parallel ones in float32 only: a parallel variant is the serial code compiled with Numba's parallel
backend, so the dtype is checked by the serial runs and the split does not depend on it.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from minigrad_backends.numba_backend import NumbaBackend  # noqa: E402
from minigrad_backends.numpy_backend import NumpyBackend  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad.nn import functional as fn  # noqa: E402
from minigrad.testing import assert_backends_agree  # noqa: E402

REF = NumpyBackend()
DTYPES = [np.float32, np.float64]


BE_DTYPES = [("serial", np.float32), ("serial", np.float64), ("parallel", np.float32)]


@pytest.fixture(scope="module")
def be(request) -> NumbaBackend:
    """A backend whose window kernels all run serially or all through their prange loop (the parameter)."""
    backend = NumbaBackend()
    if request.param == "parallel":
        backend.parallel_threshold = 16  # every call goes through the prange loop
    else:
        backend.parallel_threshold = 1 << 40  # never parallel
    return backend


def _fold_case(rng, lead, kernel, stride, dilation, out_hw, dtype, extra=(0, 0)):
    """Columns (lead, kh, kw, oh, ow) and the spatial size they fold into (plus ``extra`` unused rows/cols)."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    spatial = ((kh - 1) * dh + (oh - 1) * sh + 1 + extra[0], (kw - 1) * dw + (ow - 1) * sw + 1 + extra[1])
    cols = rng.standard_normal(tuple(lead) + (kh, kw, oh, ow)).astype(dtype)
    return cols, spatial


CASES = [  # lead, kernel, stride, dilation, (oh, ow), extra
    ((2, 3), (3, 3), (1, 1), (1, 1), (5, 6), (0, 0)),
    ((1, 1), (1, 1), (1, 1), (1, 1), (4, 4), (0, 0)),
    ((2, 2), (2, 2), (2, 2), (1, 1), (3, 5), (1, 0)),  # floor mode: a row never covered
    ((3, 1), (3, 2), (2, 3), (2, 1), (4, 3), (0, 2)),
    ((2, 4), (5, 3), (1, 2), (1, 3), (2, 2), (0, 0)),
    ((4,), (3, 3), (3, 3), (1, 1), (3, 3), (0, 0)),  # a single leading axis
    ((), (2, 3), (1, 1), (1, 1), (3, 3), (0, 0)),  # no leading axis
]


@pytest.mark.parametrize(("be", "dtype"), BE_DTYPES, indirect=["be"])
@pytest.mark.parametrize("lead,kernel,stride,dilation,out_hw,extra", CASES)
def test_fold_windows_matches_numpy_bitwise(be, dtype, lead, kernel, stride, dilation, out_hw, extra):
    rng = np.random.default_rng(0)
    cols, spatial = _fold_case(rng, lead, kernel, stride, dilation, out_hw, dtype, extra)
    got = be.fold_windows(cols, spatial, stride, dilation)
    expected = REF.fold_windows(cols, spatial, stride, dilation)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize(("be", "dtype"), BE_DTYPES, indirect=["be"])
def test_fold_windows_non_contiguous_columns(be, dtype):
    rng = np.random.default_rng(1)
    cols = rng.standard_normal((3, 2, 3, 3, 4, 4)).astype(dtype).transpose(1, 0, 2, 3, 4, 5)
    assert not cols.flags.c_contiguous
    got = be.fold_windows(cols, (6, 6), (1, 1), (1, 1))
    assert got.tobytes() == REF.fold_windows(cols, (6, 6), (1, 1), (1, 1)).tobytes()


@pytest.mark.parametrize(("be", "dtype"), BE_DTYPES, indirect=["be"])
def test_fold_windows_is_the_adjoint_of_sliding_windows(be, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    cols = rng.standard_normal(be.sliding_windows(x, (3, 2), (2, 1), (1, 2)).shape).astype(dtype)
    lhs = np.vdot(be.sliding_windows(x, (3, 2), (2, 1), (1, 2)), cols)
    rhs = np.vdot(x, be.fold_windows(cols, x.shape[-2:], (2, 1), (1, 2)))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4 if dtype == np.float32 else 1e-12)


def test_fold_windows_above_the_default_threshold_is_bitwise_and_reproducible():
    be = NumbaBackend()  # default parallel_threshold
    rng = np.random.default_rng(3)
    cols, spatial = _fold_case(rng, (8, 16), (3, 3), (1, 1), (1, 1), (28, 28), np.float32)
    assert cols.size >= be.parallel_threshold
    first = be.fold_windows(cols, spatial, (1, 1), (1, 1))
    assert first.tobytes() == REF.fold_windows(cols, spatial, (1, 1), (1, 1)).tobytes()
    default = be.get_num_threads()
    try:
        be.set_num_threads(1)
        assert be.fold_windows(cols, spatial, (1, 1), (1, 1)).tobytes() == first.tobytes()
    finally:
        be.set_num_threads(default)


@pytest.mark.parametrize("cols,spatial,window", [
    (np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4), (6,), 1),  # 1-D windows
    (np.ones((2, 2, 2, 3, 3), np.int64), (4, 4), 2),  # integer dtype
    (np.ones((1, 2, 2, 2, 2, 2, 2), np.float32), (3, 3, 3), 3),  # 3-D windows
])
@pytest.mark.parametrize("be", ["serial", "parallel"], indirect=True)
def test_fold_windows_other_cases_use_numpy(be, cols, spatial, window):
    ones = (1,) * window
    got = be.fold_windows(cols, spatial, ones, ones)
    expected = REF.fold_windows(cols, spatial, ones, ones)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


PADDED_CASES = [  # lead, kernel, stride, padding, dilation, (H, W)
    ((2, 3), (3, 3), (1, 1), (1, 1), (1, 1), (7, 6)),
    ((1, 2), (3, 2), (2, 1), (2, 1), (1, 2), (5, 8)),
    ((3,), (2, 2), (2, 2), (1, 0), (1, 1), (6, 5)),
    ((2, 1), (5, 3), (1, 2), (2, 2), (1, 1), (3, 4)),  # windows wider than the input: some rows all padding
]


@pytest.mark.parametrize(("be", "dtype"), BE_DTYPES, indirect=["be"])
@pytest.mark.parametrize("lead,kernel,stride,padding,dilation,hw", PADDED_CASES)
def test_unfold_and_fold_windows_with_padding_match_numpy_bitwise(be, dtype, lead, kernel, stride, padding,
                                                                 dilation, hw):
    rng = np.random.default_rng(9)
    x = rng.standard_normal(tuple(lead) + hw).astype(dtype)
    cols = be.unfold_windows(x, kernel, stride, padding, dilation)
    expected = REF.unfold_windows(x, kernel, stride, padding, dilation)
    assert cols.flags.c_contiguous and cols.shape == expected.shape and cols.tobytes() == expected.tobytes()
    g = rng.standard_normal(cols.shape).astype(dtype)
    folded = be.fold_windows(g, hw, stride, dilation, padding)
    assert folded.tobytes() == REF.fold_windows(g, hw, stride, dilation, padding).tobytes()
    # fold is unfold's adjoint: <unfold(x), g> == <x, fold(g)>
    np.testing.assert_allclose(np.vdot(cols, g), np.vdot(x, folded), rtol=1e-4 if dtype == np.float32 else 1e-12)



BATCH_INNER_CASES = [  # (N, C), kernel, stride, padding, dilation, (H, W)
    ((2, 3), (3, 3), (1, 1), (1, 1), (1, 1), (7, 6)),  # "same" convolution
    ((3, 2), (3, 2), (2, 1), (2, 1), (1, 2), (5, 8)),
    ((1, 4), (2, 2), (2, 2), (1, 0), (1, 1), (6, 5)),
    ((2, 1), (5, 3), (1, 2), (2, 2), (1, 1), (3, 4)),  # windows wider than the input: some rows all padding
    ((2, 2), (1, 1), (1, 1), (0, 0), (1, 1), (3, 3)),
]


@pytest.mark.parametrize(("be", "dtype"), BE_DTYPES, indirect=["be"])
@pytest.mark.parametrize("nc,kernel,stride,padding,dilation,hw", BATCH_INNER_CASES)
def test_batch_inner_unfold_and_fold_match_numpy_bitwise(be, dtype, nc, kernel, stride, padding, dilation, hw):
    rng = np.random.default_rng(11)
    x = rng.standard_normal(tuple(nc) + hw).astype(dtype)
    cols = be.unfold_windows_batch_inner(x, kernel, stride, padding, dilation)
    expected = REF.unfold_windows_batch_inner(x, kernel, stride, padding, dilation)
    assert cols.flags.c_contiguous and cols.shape == expected.shape and cols.tobytes() == expected.tobytes()
    # the same values as unfold_windows, with the batch axis moved inside
    np.testing.assert_array_equal(expected, REF.unfold_windows(x, kernel, stride, padding, dilation)
                                  .transpose(1, 2, 3, 0, 4, 5))
    g = rng.standard_normal(cols.shape).astype(dtype)
    folded = be.fold_windows_batch_inner(g, hw, stride, dilation, padding)
    assert folded.tobytes() == REF.fold_windows_batch_inner(g, hw, stride, dilation, padding).tobytes()
    assert folded.tobytes() == REF.fold_windows(np.ascontiguousarray(g.transpose(3, 0, 1, 2, 4, 5)), hw, stride,
                                                dilation, padding).tobytes()
    np.testing.assert_allclose(np.vdot(cols, g), np.vdot(x, folded), rtol=1e-4 if dtype == np.float32 else 1e-12)

def test_unfold_windows_pads_with_zeros():
    x = np.arange(1.0, 5.0).reshape(1, 2, 2)
    cols = REF.unfold_windows(x, (2, 2), (1, 1), (1, 1), (1, 1))  # (1, 2, 2, 3, 3): 9 windows of a 4x4 plane
    np.testing.assert_array_equal(cols[0, 0, 0], [[0, 0, 0], [0, 1, 2], [0, 3, 4]])  # each window's top left
    np.testing.assert_array_equal(cols[0, 1, 1], [[1, 2, 0], [3, 4, 0], [0, 0, 0]])  # and bottom right


POOL_CASES = [  # kernel, stride, padding, dilation, (H, W)
    ((2, 2), (2, 2), (0, 0), (1, 1), (8, 10)),
    ((2, 2), (2, 2), (0, 0), (1, 1), (9, 7)),  # floor mode: the last row and column are in no window
    ((2, 2), (2, 2), (1, 1), (1, 1), (7, 8)),  # tiling windows over a padded input
    ((3, 3), (2, 2), (1, 1), (1, 1), (9, 8)),
    ((3, 3), (1, 1), (1, 1), (1, 1), (6, 6)),  # an element can be the maximum of up to 9 windows
    ((3, 2), (1, 2), (1, 1), (2, 1), (7, 9)),
    ((1, 1), (1, 1), (0, 0), (1, 1), (3, 4)),
]


def _pool_input(rng, shape, dtype):
    """Many ties (values on a coarse grid), NaNs, infinities, and one all -inf plane (whose padded windows'
    maximum is slot 0, in the padding when there is padding)."""
    x = (np.round(rng.standard_normal(shape) * 2) / 2).astype(dtype)
    x.flat[rng.choice(x.size, 6, replace=False)] = [np.nan, np.nan, np.inf, -np.inf, np.nan, np.inf]
    x[0, 0] = -np.inf
    return x


@pytest.mark.parametrize(("be", "dtype"), BE_DTYPES, indirect=["be"])
@pytest.mark.parametrize("kernel,stride,padding,dilation,hw", POOL_CASES)
def test_max_pool2d_kernels_match_numpy(be, dtype, kernel, stride, padding, dilation, hw):
    rng = np.random.default_rng(8)
    x = _pool_input(rng, (2, 3) + hw, dtype)
    out, slot = be.max_pool2d_forward(x, kernel, stride, padding, dilation)
    ref_out, ref_slot = REF.max_pool2d_forward(x, kernel, stride, padding, dilation)
    assert out.dtype == ref_out.dtype and slot.dtype == ref_slot.dtype == np.int32
    np.testing.assert_array_equal(out, ref_out)  # NaN where NaN; equal values (a tie may differ in zero's sign)
    np.testing.assert_array_equal(slot, ref_slot)
    g = rng.standard_normal(out.shape).astype(dtype)
    g.flat[:2] = [np.inf, np.nan]
    got = be.max_pool2d_backward(g, slot, hw, kernel, stride, padding, dilation)
    expected = REF.max_pool2d_backward(g, slot, hw, kernel, stride, padding, dilation)
    assert got.dtype == expected.dtype and got.shape == expected.shape == x.shape
    # The same additions in the same order (NumPy writes tiling windows' values without adding them to
    # zero, which differs only for a -0.0 gradient: +0.0 here, -0.0 there).
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("be", ["serial", "parallel"], indirect=True)
def test_max_pool2d_backward_adds_overlapping_gradients_at_the_shared_maximum(be):
    # 3x3 windows with stride 1 over a 4x4 plane whose maximum is at (1, 1): all four windows pick it.
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = 1.0
    out, slot = be.max_pool2d_forward(x, (3, 3), (1, 1), (0, 0), (1, 1))
    g = np.array([[[[1.0, 2.0], [4.0, 8.0]]]])
    got = be.max_pool2d_backward(g, slot, (4, 4), (3, 3), (1, 1), (0, 0), (1, 1))
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 1, 1] = 15.0
    np.testing.assert_array_equal(got, expected)


# -- through minigrad: conv2d, fold, max_pool2d on numba against numpy, forward and backward ------------------
@pytest.fixture(params=["batched", "batch_inner"])
def conv_layout(request, monkeypatch):
    """Each of Conv2d's column layouts (chosen by window volume: small shapes would see only one)."""
    from minigrad.ops.conv import Conv2d

    monkeypatch.setattr(Conv2d, "BATCH_INNER_MIN_K", 0 if request.param == "batch_inner" else 1 << 62)
    return request.param


def _conv(x, w, b, stride, padding, dilation):
    return fn.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride,padding,dilation", [(1, 1, 1), (2, 0, 1), (1, 2, 2), ((2, 1), (1, 0), (1, 2))])
def test_conv2d_numba_agrees_with_numpy(dtype, stride, padding, dilation, conv_layout):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    assert assert_backends_agree(_conv, x, w, b, stride, padding, dilation, backends=["numba"]) == ["numba"]


def test_conv2d_double_backward_numba_agrees_with_numpy(conv_layout):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    assert_backends_agree(_conv, x, w, None, 1, 1, 1, backends=["numba"], double_grad=True)


def _fold(cols, output_size):
    return fn.fold(cols, output_size, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_fold_numba_agrees_with_numpy(dtype):
    # output 7 x 8, padded 9 x 10: oh = (9 - 2) // 2 + 1 = 4, ow = 10 - 4 - 1 + 1 = 6
    cols = np.random.default_rng(6).standard_normal((2, 3 * 6, 4 * 6)).astype(dtype)
    assert_backends_agree(_fold, cols, (7, 8), backends=["numba"], double_grad=True)


def _pool(x, kernel, stride, padding, dilation):
    return fn.max_pool2d(x, kernel, stride, padding, dilation)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel,stride,padding,dilation",
                         [(2, 2, 0, 1), (3, 2, 1, 1), (3, 1, 1, 2), ((2, 3), (1, 2), 0, 1)])
def test_max_pool2d_numba_agrees_with_numpy(dtype, kernel, stride, padding, dilation):
    x = np.random.default_rng(7).standard_normal((2, 3, 9, 10)).astype(dtype)
    assert_backends_agree(_pool, x, kernel, stride, padding, dilation, backends=["numba"])


def test_max_pool2d_ties_send_the_gradient_to_the_first_maximum():
    for backend in ("numpy", "numba"):
        x = mg.tensor(np.ones((1, 1, 4, 4), np.float32), requires_grad=True, backend=backend)
        fn.max_pool2d(x, 2).sum().backward()
        expected = np.zeros((4, 4), np.float32)
        expected[::2, ::2] = 1
        np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)
