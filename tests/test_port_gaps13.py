"""Porting gaps, the math part: round(decimals=), frexp, and the regularized incomplete gamma
functions (igamma/igammac, special.gammainc/gammaincc): PyTorch's values and gradients on the same inputs
(float64, random upstream gradients), mpmath's values to 1e-12, float64 finite differences, edges and errors."""

from __future__ import annotations

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip
from _pairs import mg_tensor as _mg
from _pairs import pt_tensor as _pt

import minigrad as mg

# -- round(decimals=) ---------------------------------------------------------------------------------------
_ROUND_VALUES = [1.2345, -2.5, 2.675, 1234.5, 0.125, -0.0049, 1e-7, 123456.789, -987.654321, 0.5, 1.5, np.inf, np.nan]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("decimals", [0, 1, 2, 3, -1, -2, 5, 40, -400])
def test_round_decimals_matches_pytorch(dtype, decimals):
    x = np.array(_ROUND_VALUES, dtype=dtype)
    got = mg.round(_mg(x, dtype=dtype), decimals=decimals)
    expected = torch.round(_pt(x, dtype=dtype), decimals=decimals)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())  # bit for bit (NaN where PyTorch's is NaN)
    np.testing.assert_array_equal(_mg(x, dtype=dtype).round(decimals=decimals).numpy(), expected.numpy())


def test_round_decimals_is_the_scaled_nearest_integer_halves_to_even():
    x = np.array([0.25, 0.35, -1.25, 12.5, 15.0, 25.0], dtype=np.float64)
    np.testing.assert_array_equal(mg.round(_mg(x), decimals=1).numpy(), np.rint(x * 10.0) / 10.0)
    np.testing.assert_array_equal(mg.round(_mg(x), decimals=-1).numpy(), np.rint(x / 10.0) * 10.0)
    ints = mg.tensor([3, -7, 12])
    out = mg.round(ints)  # decimals=0 keeps integer tensors as they are
    assert out.dtype == np.int64 and out.tolist() == [3, -7, 12]


def test_round_decimals_gradient_is_zero_and_inplace_works():
    rng = np.random.default_rng(0)
    x, g = rng.uniform(-3, 3, 6), rng.standard_normal(6)
    a = _mg(x, True)
    (mg.round(a, decimals=2) * _mg(g)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros(6))
    y = _mg(x, True) * 1.0
    assert y.round_(decimals=1) is y
    np.testing.assert_array_equal(y.numpy(), np.rint(x * 10.0) / 10.0)
    ta = _pt(x, True)
    (torch.round(ta, decimals=2) * _pt(g)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())


def test_round_decimals_errors():
    with pytest.raises(TypeError, match=r"round: decimals=1 needs a floating tensor, got int64"):
        mg.round(mg.tensor([1, 2]), decimals=1)
    with pytest.raises(TypeError, match=r"round: decimals must be an int, got 1.5"):
        mg.round(_mg([1.0]), decimals=1.5)
    with pytest.raises(TypeError, match=r"round: decimals must be an int, got True"):
        mg.round(_mg([1.0]), decimals=True)
    with pytest.raises(TypeError, match=r"round\(\) takes 1 positional argument"):
        mg.round(_mg([1.0]), 2)  # keyword-only, as PyTorch's


# -- frexp ----------------------------------------------------------------------------------------------------
_FREXP_VALUES = [3.0, -3.5, 0.0, -0.0, 1.0, 0.5, np.inf, -np.inf, np.nan, 7e-5]
_FREXP_EXTREMES = {"float64": [1e-310, -2.5e-320, 1e300], "float32": [1e-40, -3e-45, 3e38]}  # subnormal, huge


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_frexp_matches_pytorch(dtype):
    x = np.array(_FREXP_VALUES + _FREXP_EXTREMES[dtype], dtype=dtype)
    got = mg.frexp(_mg(x, dtype=dtype))
    expected = torch.frexp(_pt(x, dtype=dtype))
    assert type(got).__name__ == "frexp" and got._fields == ("mantissa", "exponent")
    assert got.mantissa.dtype == np.dtype(dtype) and got.exponent.dtype == np.int32
    np.testing.assert_array_equal(got.mantissa.numpy(), expected.mantissa.numpy())
    np.testing.assert_array_equal(got.exponent.numpy(), expected.exponent.numpy())
    mantissa, exponent = _mg(x, dtype=dtype).frexp()  # unpacks as a tuple; the Tensor method too
    np.testing.assert_array_equal(mantissa.numpy(), expected.mantissa.numpy())


def test_frexp_reconstructs_the_input_exactly():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(50) * 10.0 ** rng.integers(-300, 300, 50)
    m, e = mg.frexp(_mg(x))
    finite = np.abs(m.numpy())
    assert np.all((finite >= 0.5) & (finite < 1))
    np.testing.assert_array_equal(np.ldexp(m.numpy(), e.numpy()), x)
    assert not e.requires_grad


def test_frexp_gradient_matches_finite_differences_and_pytorch():
    x = np.array([0.7, -1.3, 3.1, 9.5, -0.2])  # away from the powers of two, where the mantissa jumps
    assert mg.gradcheck(lambda t: mg.frexp(t).mantissa, (_mg(x, True),))
    assert mg.gradgradcheck(lambda t: mg.frexp(t).mantissa * t, (_mg(x, True),))
    rng = np.random.default_rng(2)
    x = rng.uniform(-40, 40, 8)
    g = rng.standard_normal(8)
    a, ta = _mg(x, True), _pt(x, True)
    (mg.frexp(a).mantissa * _mg(g)).sum().backward()
    (torch.frexp(ta).mantissa * _pt(g)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-15, atol=0)


def test_frexp_gradient_is_exact_beyond_float32_exponents():
    # PyTorch takes 2^-exponent in float32 (0 or inf here); the derivative is exactly 2^-exponent
    x = _mg([1e60, 1e-60, 3e38], True)
    m, e = mg.frexp(x)
    m.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ldexp(1.0, -e.numpy()))


def test_frexp_errors():
    with pytest.raises(TypeError, match=r"frexp: only floating tensors are supported \(as PyTorch's\), got int64"):
        mg.frexp(mg.tensor([1, 2]))
    with pytest.raises(TypeError, match="frexp: expected a tensor, got list"):
        mg.frexp([1.0])


# -- igamma / igammac -----------------------------------------------------------------------------------------
def _mpmath_pq(a, x):
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(40):
        p = [float(mpmath.gammainc(ai, 0, xi, regularized=True)) for ai, xi in zip(a, x)]
        q = [float(mpmath.gammainc(ai, xi, mpmath.inf, regularized=True)) for ai, xi in zip(a, x)]
    return np.array(p), np.array(q)


def test_igamma_values_match_mpmath_to_1e_12():
    rng = np.random.default_rng(3)
    a = np.concatenate([np.exp(rng.uniform(-6, 6, 40)),
                        [1e-10, 0.3, 1.2, 25.0, 25.0, 37.9, 150.0, 400.0, 0.5, 2.0]])
    x = np.concatenate([np.exp(rng.uniform(-6, 6, 40)),
                        [0.3, 1e-10, 0.7, 25.5, 5.0, 0.002, 600.0, 390.0, 1e-3, 800.0]])
    p_ref, q_ref = _mpmath_pq(a, x)
    p, q = mg.igamma(_mg(a), _mg(x)).numpy(), mg.igammac(_mg(a), _mg(x)).numpy()
    np.testing.assert_allclose(p, p_ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(q, q_ref, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(mg.special.gammainc(_mg(a), _mg(x)).numpy(), p)
    np.testing.assert_array_equal(mg.special.gammaincc(_mg(a), _mg(x)).numpy(), q)


def test_igamma_tiny_a_and_x():
    # a, x -> 0: Gamma(a, x) -> E1(x) = -gamma - log(x) + O(x) and 1 / Gamma(a) = a + O(a^2), so Q = a (-gamma - log x)
    q = mg.igammac(_mg([1e-300]), _mg([1e-300])).item()
    np.testing.assert_allclose(q, 1e-300 * (300 * np.log(10) - np.euler_gamma), rtol=1e-13)
    assert mg.igamma(_mg([1e-300]), _mg([1e-300])).item() == 1.0  # 1 - 6.9e-298


def test_igamma_large_a_near_x_matches_mpmath():
    # a >= 1e9 with x near a: Temme's expansion (the series would take ~sqrt(a) steps)
    a = np.array([1e9, 1e9, 4e9, 2e10])
    x = np.array([1e9 + 1e4, 1e9 - 3e4, 4e9 + 5e4, 2e10 + 1e5])
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(30):
        q_ref = np.array([float(mpmath.gammainc(ai, xi, mpmath.inf, regularized=True)) for ai, xi in zip(a, x)])
    q = mg.igammac(_mg(a), _mg(x)).numpy()
    p = mg.igamma(_mg(a), _mg(x)).numpy()
    np.testing.assert_allclose(q, q_ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(p, 1 - q_ref, rtol=1e-12, atol=0)


def test_igamma_matches_pytorch_where_pytorch_is_accurate():
    # PyTorch's uniform asymptotic expansion (a > 20, |x - a| < 0.3 a) is off by up to ~1e-9 in float64 (mpmath
    # and SciPy agree with minigrad there): compared elsewhere
    rng = np.random.default_rng(4)
    a = np.concatenate([rng.uniform(0.05, 20, 40), rng.uniform(20, 80, 20)])
    x = np.concatenate([rng.uniform(0.01, 40, 40), rng.uniform(0.01, 0.6, 10) * a[40:50], 1.5 * a[50:]])
    for mine, theirs in ((mg.igamma, torch.igamma), (mg.igammac, torch.igammac)):
        got, expected = mine(_mg(a), _mg(x)).numpy(), theirs(_pt(a), _pt(x)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)


def test_igamma_edges_match_pytorch():
    inf, nan = np.inf, np.nan
    a = np.array([0.0, 0.0, -1.0, 1.0, inf, inf, 2.0, nan, 2.0, 0.0, 3.0, inf])
    x = np.array([0.0, 1.0, 1.0, -1.0, 1.0, inf, inf, 1.0, nan, inf, 0.0, 0.0])
    for mine, theirs in ((mg.igamma, torch.igamma), (mg.igammac, torch.igammac)):
        np.testing.assert_array_equal(mine(_mg(a), _mg(x)).numpy(), theirs(_pt(a), _pt(x)).numpy())


def test_igamma_complements_and_dtypes():
    rng = np.random.default_rng(5)
    a, x = rng.uniform(0.1, 30, (3, 1)), rng.uniform(0.1, 30, (1, 4))
    p, q = mg.igamma(_mg(a), _mg(x)), mg.igammac(_mg(a), _mg(x))
    assert p.shape == (3, 4)
    np.testing.assert_allclose(p.numpy() + q.numpy(), 1.0, rtol=0, atol=4e-16)
    f32 = mg.igamma(_mg(a, dtype="float32"), _mg(x, dtype="float32"))
    assert f32.dtype == np.float32
    mixed = mg.igamma(mg.tensor([2, 3]), _mg([1.5, 2.5], dtype="float32"))  # the integer operand is promoted
    assert mixed.dtype == np.float32
    np.testing.assert_allclose(mixed.numpy(), mg.igamma(_mg([2.0, 3.0]), _mg([1.5, 2.5])).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(_mg(a).igamma(_mg(x)).numpy(), p.numpy())
    np.testing.assert_array_equal(_mg(a).igammac(_mg(x)).numpy(), q.numpy())
    y = _mg(np.broadcast_to(a, (3, 4)).copy())
    assert y.igamma_(_mg(x)) is y
    np.testing.assert_array_equal(y.numpy(), p.numpy())


def test_igamma_gradient_in_x_matches_pytorch():
    rng = np.random.default_rng(6)
    a, x, g = rng.uniform(0.3, 9, 7), rng.uniform(0.05, 12, 7), rng.standard_normal(7)
    for mine, theirs in ((mg.igamma, torch.igamma), (mg.igammac, torch.igammac)):
        xm, xt = _mg(x, True), _pt(x, True)
        (mine(_mg(a), xm) * _mg(g)).sum().backward()
        (theirs(_pt(a), xt) * _pt(g)).sum().backward()
        np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("op", [mg.igamma, mg.igammac])
def test_igamma_gradcheck_in_x(op):
    rng = np.random.default_rng(7)
    a, x = _mg(rng.uniform(0.5, 6, 4)), _mg(rng.uniform(0.2, 8, 4), True)
    assert mg.gradcheck(lambda t: op(a, t), (x,))
    assert mg.gradgradcheck(lambda t: op(a, t), (x,))


@pytest.mark.parametrize("op, name", [(mg.igamma, "igamma"), (mg.igammac, "igammac")])
def test_igamma_gradient_in_a_raises_as_pytorch(op, name):
    a, x = _mg([1.5, 2.0], True), _mg([1.0, 3.0], True)
    out = op(a, x)
    with pytest.raises(NotImplementedError, match=rf"{name}: the derivative with respect to input \(a\) is not"):
        out.sum().backward()
    assert a.grad is None and x.grad is None
    with pytest.raises(NotImplementedError):  # PyTorch's error, in the same place (backward)
        getattr(torch, name)(_pt([1.5], True), _pt([1.0])).sum().backward()


def test_igamma_errors():
    with pytest.raises(TypeError, match=r"igamma: expected floating tensors, got int64 and int64"):
        mg.igamma(mg.tensor([1, 2]), mg.tensor([1, 2]))
    with pytest.raises(TypeError, match=r"igammac: expected two tensors, got Tensor and float"):
        mg.igammac(_mg([1.0]), 2.0)
    with pytest.raises(ValueError, match="broadcast"):
        mg.igamma(_mg([1.0, 2.0]), _mg([1.0, 2.0, 3.0]))
