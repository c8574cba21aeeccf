"""Elementwise math and the addmm family with PyTorch's names (docs/nn.md, "Elementwise math"): trigonometric
and hyperbolic functions, atan2, hypot, logaddexp, xlogy, sinc, remainder/fmod/floor_divide (and ``%``/``//``),
clamp_min/clamp_max, nan_to_num, deg2rad/rad2deg, frac, sgn, addmm/addmv/baddbmm/addbmm.

Forward values, gradients and second-order gradients are compared with PyTorch on the same float64 inputs
(random upstream gradients), edge values (signed zeros, infinities, the points PyTorch defines by convention)
bit for bit, and the composites with float64 finite differences. The ops with an agreement spec are also
covered on every backend by tests/test_agreement.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg

BACKENDS = [b for b in mg.testing.available_backends() if b != "cupy"]
RTOL = 1e-12  # float64 against PyTorch: the same formulas, a few roundings apart


def _mg(a, requires_grad=False, backend=None):
    return mg.tensor(np.asarray(a), requires_grad=requires_grad, backend=backend)


def _close(actual, expected, rtol=RTOL, atol=1e-13, what=""):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def _same_bits(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    """Equal values, NaN where NaN, and the same sign of zero."""
    assert actual.dtype == expected.dtype, (what, actual.dtype, expected.dtype)
    np.testing.assert_array_equal(actual, expected, err_msg=what)
    zeros = actual == 0
    np.testing.assert_array_equal(np.signbit(actual[zeros]), np.signbit(expected[zeros]), err_msg=f"{what}: sign of 0")


def _same_specials(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    """NaN where NaN, the same infinities, and finite values within a few ulps (libm implementations differ)."""
    assert actual.dtype == expected.dtype, (what, actual.dtype, expected.dtype)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: NaN")
    np.testing.assert_array_equal(actual[np.isinf(expected)], expected[np.isinf(expected)], err_msg=f"{what}: inf")
    _close(actual, expected, rtol=1e-15, atol=0, what=what)


def _against_torch(mg_fn, torch_fn, arrays, *, seed=0, second_order=True, differentiable=None):
    """Forward, gradient (random upstream) and second-order gradient of ``mg_fn`` and ``torch_fn`` on the same
    float64 arrays; ``differentiable``: which arrays require grad (default all)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    differentiable = differentiable or [True] * len(arrays)
    mx = [_mg(a, d) for a, d in zip(arrays, differentiable)]
    tx = [torch.tensor(a, requires_grad=d) for a, d in zip(arrays, differentiable)]
    my, ty = mg_fn(*mx), torch_fn(*tx)
    assert my.shape == tuple(ty.shape) and my.dtype == np.float64
    _close(my.numpy(), ty.detach().numpy(), what="forward")
    g = rng.standard_normal(my.shape)
    wrt_m = [t for t, d in zip(mx, differentiable) if d]
    wrt_t = [t for t, d in zip(tx, differentiable) if d]
    mg_grads = mg.grad(my, wrt_m, _mg(g), create_graph=second_order)
    torch_grads = torch.autograd.grad(ty, wrt_t, torch.tensor(g), create_graph=second_order)
    for i, (mgr, tgr) in enumerate(zip(mg_grads, torch_grads)):
        _close(mgr.numpy(), tgr.detach().numpy(), what=f"gradient {i}")
    if not second_order:
        return
    vs = [rng.standard_normal(t.shape) for t in mg_grads]
    m_total = sum((gr * _mg(v)).sum() for gr, v in zip(mg_grads, vs))
    t_total = sum((gr * torch.tensor(v)).sum() for gr, v in zip(torch_grads, vs))
    if not m_total.requires_grad:  # the gradient does not depend on the input (a linear op, remainder's)
        if t_total.requires_grad:  # PyTorch records ops whose derivative is 0 (remainder's rounded quotient)
            for i, b in enumerate(torch.autograd.grad(t_total, wrt_t, allow_unused=True)):
                assert b is None or not np.any(b.numpy()), f"second-order gradient {i}: PyTorch's is not 0"
        return
    m2 = mg.grad(m_total, wrt_m, allow_unused=True)
    t2 = torch.autograd.grad(t_total, wrt_t, allow_unused=True)
    for i, (a, b) in enumerate(zip(m2, t2)):
        if b is None:
            assert a is None or not np.any(a.numpy()), f"second-order gradient {i}: PyTorch has none"
        else:
            _close(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12, what=f"second-order gradient {i}")


# -- one-input ops -----------------------------------------------------------------------------------------
UNARY = [  # name, PyTorch's name, the domain drawn from (away from poles and the domain's ends)
    ("tan", "tan", -1.4, 1.4),
    ("asin", "asin", -0.95, 0.95),
    ("acos", "acos", -0.95, 0.95),
    ("atan", "atan", -5.0, 5.0),
    ("sinh", "sinh", -4.0, 4.0),
    ("cosh", "cosh", -4.0, 4.0),
    ("asinh", "asinh", -5.0, 5.0),
    ("acosh", "acosh", 1.05, 6.0),
    ("atanh", "atanh", -0.95, 0.95),
    ("sinc", "sinc", -3.0, 3.0),
    ("deg2rad", "deg2rad", -400.0, 400.0),
    ("rad2deg", "rad2deg", -7.0, 7.0),
    ("frac", "frac", -4.0, 4.0),
]


@pytest.mark.parametrize("name, torch_name, lo, hi", UNARY, ids=[u[0] for u in UNARY])
def test_unary_op_equals_pytorch_forward_gradient_and_second_order(name, torch_name, lo, hi):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).uniform(lo, hi, (3, 4))
    _against_torch(getattr(mg, name), getattr(torch, torch_name), [x])
    _against_torch(lambda t: getattr(t, name)(), lambda t: getattr(t, torch_name)(), [x], second_order=False)
    x32 = x.astype(np.float32)  # float32 stays float32, within a few ulps of PyTorch's
    out = getattr(mg, name)(_mg(x32))
    assert out.dtype == np.float32
    _close(out.numpy(), getattr(torch, torch_name)(torch.tensor(x32)).numpy(), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "sinc",
                                  "deg2rad", "rad2deg"])
def test_unary_op_of_an_integer_tensor_is_float32_as_pytorch(name):
    torch = pytest.importorskip("torch")
    ints = np.array([-2, 0, 1, 3])
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN and inf outside the domain, as PyTorch and log
        out = getattr(mg, name)(_mg(ints))
    expected = getattr(torch, name)(torch.tensor(ints))
    assert out.dtype == np.float32 and expected.dtype == torch.float32
    _close(out.numpy(), expected.numpy(), rtol=2e-6, atol=1e-6)  # NaN outside the domain, as PyTorch


def test_arc_aliases_are_the_same_functions_and_methods():
    pairs = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh", "arccosh": "acosh",
             "arctanh": "atanh", "arctan2": "atan2"}
    for alias, name in pairs.items():
        assert getattr(mg, alias) is getattr(mg, name)
        assert getattr(mg.Tensor, alias) is getattr(mg.Tensor, name)


def test_outside_the_domain_is_nan_and_at_the_poles_inf_as_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([-2.0, -1.0, 1.0, 2.0, 0.5, np.inf, -np.inf, np.nan])
    with np.errstate(invalid="ignore", divide="ignore"):  # NumPy warns where the answer is NaN or inf, as for log
        for name in ("asin", "acos", "atanh", "acosh", "tan", "sinh", "cosh", "asinh", "atan", "sinc"):
            _same_specials(getattr(mg, name)(_mg(x)).numpy(), getattr(torch, name)(torch.tensor(x)).numpy(), name)


def test_sinc_is_one_at_zero_with_pytorchs_gradient_zero_there():
    torch = pytest.importorskip("torch")
    x = np.array([0.0, -0.0, 1e-3, -2.5, 1.0])
    xm, xt = _mg(x, True), torch.tensor(x, requires_grad=True)
    g = np.random.default_rng(2).standard_normal(5)
    ym, yt = mg.sinc(xm), torch.sinc(xt)
    _close(ym.numpy(), yt.detach().numpy())
    assert ym.numpy()[0] == 1.0
    ym.backward(_mg(g))
    yt.backward(torch.tensor(g))
    _close(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-9)  # cancellation at 1e-3: PyTorch's formula, same digits
    assert xm.grad.numpy()[0] == 0.0
    x0 = _mg([0.0, 1.5], True)
    with mg.detect_anomaly():  # no 0 / 0 inside the rule
        mg.sinc(x0).backward(_mg([1.0, 1.0]))
    _close(x0.grad.numpy(), [0.0, (1.5 * math.pi * math.cos(1.5 * math.pi) - math.sin(1.5 * math.pi))
                             / (math.pi * 1.5 ** 2)])
    assert mg.gradcheck(mg.sinc, (_mg([-2.7, -0.4, 0.3, 1.2, 2.9], True),))
    assert mg.gradgradcheck(mg.sinc, (_mg([-2.7, -0.4, 0.3, 1.2, 2.9], True),))


def test_frac_keeps_the_sign_and_refuses_integers_as_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([-2.75, -0.5, -0.0, 0.0, 1.25, 3.0, np.inf, np.nan])
    with np.errstate(invalid="ignore"):
        _same_bits(mg.frac(_mg(x)).numpy(), torch.frac(torch.tensor(x)).numpy(), "frac")
    with pytest.raises(TypeError, match="frac: expected a floating tensor, got int64"):
        mg.frac(_mg([1, 2]))


def test_sgn_is_sign_for_real_tensors_keeping_the_dtype():
    torch = pytest.importorskip("torch")
    for x in (np.array([-3, 0, 5]), np.array([-1.5, -0.0, 0.0, 2.0, np.nan])):
        out = mg.sgn(_mg(x))
        _same_bits(out.numpy(), torch.sgn(torch.tensor(x)).numpy(), "sgn")
        _same_bits(_mg(x).sgn().numpy(), out.numpy(), "Tensor.sgn")
    assert mg.sgn(_mg([1.0, -2.0], True)).requires_grad  # as sign, and as PyTorch: in the graph, gradient 0


# -- two-input ops -----------------------------------------------------------------------------------------
def _away_from_zero(rng, shape, lo=0.3, hi=3.0):
    return rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


@pytest.mark.parametrize("name", ["atan2", "hypot", "logaddexp", "xlogy"])
def test_binary_op_equals_pytorch_with_broadcasting(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a = _away_from_zero(rng, (3, 1, 4))
    b = rng.uniform(0.2, 3.0, (2, 4)) if name == "xlogy" else _away_from_zero(rng, (2, 4))
    _against_torch(getattr(mg, name), getattr(torch, name), [a, b])
    _against_torch(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), [a, b], second_order=False)
    _against_torch(getattr(mg, name), getattr(torch, name), [a, b], differentiable=[False, True])
    swapped = (lambda x, y: mg.xlogy(y, x.abs())) if name == "xlogy" else (lambda x, y: getattr(mg, name)(y, x))
    for fn in (getattr(mg, name), swapped):
        assert mg.gradgradcheck(fn, (_mg(a, True), _mg(b, True)))


def test_binary_ops_promote_as_pytorch_and_accept_a_number():
    torch = pytest.importorskip("torch")
    f32, i64 = np.array([0.5, -1.5, 2.0], np.float32), np.array([1, -2, 3])
    for name in ("atan2", "xlogy"):  # integer tensors give float32
        out = getattr(mg, name)(_mg(i64), _mg(i64 + 4))
        expected = getattr(torch, name)(torch.tensor(i64), torch.tensor(i64 + 4))
        assert out.dtype == np.float32 and expected.dtype == torch.float32
        _close(out.numpy(), expected.numpy(), rtol=1e-6)
    for name in ("atan2", "hypot", "logaddexp", "xlogy"):  # float32 with int64 is float32
        out = getattr(mg, name)(_mg(f32), _mg(i64 + 4))
        expected = getattr(torch, name)(torch.tensor(f32), torch.tensor(i64 + 4))
        assert out.dtype == np.float32 and expected.dtype == torch.float32
        _close(out.numpy(), expected.numpy(), rtol=1e-6)
        # a number operand (PyTorch needs a tensor for atan2, hypot, logaddexp: minigrad takes either)
        scalar = getattr(mg, name)(_mg(f32), 2.5)
        assert scalar.dtype == np.float32
        _close(scalar.numpy(), getattr(torch, name)(torch.tensor(f32), torch.tensor(2.5)).numpy(), rtol=1e-6)
    _close(mg.xlogy(2.0, _mg(f32 + 2)).numpy(), torch.xlogy(2.0, torch.tensor(f32 + 2)).numpy(), rtol=1e-6)
    for name in ("hypot", "logaddexp"):
        with pytest.raises(TypeError, match=f"{name}: expected floating tensors, got int64, int64"):
            getattr(mg, name)(_mg(i64), _mg(i64))
    with pytest.raises(TypeError, match="atan2: expected a tensor among the operands, got float and int"):
        mg.atan2(1.0, 2)


def test_atan2_quadrants_signed_zeros_and_infinities_bit_for_bit():
    torch = pytest.importorskip("torch")
    v = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan])
    a, b = np.meshgrid(v, v)
    _same_bits(mg.atan2(_mg(a), _mg(b)).numpy(), torch.atan2(torch.tensor(a), torch.tensor(b)).numpy(), "atan2")


def test_atan2_and_hypot_gradients_at_the_origin_are_pytorchs():
    """Neither is differentiable at (0, 0): PyTorch gives atan2 a signed 0 there (also where a^2 + b^2
    underflows to 0, and inf where it is subnormal), hypot NaN (0 / 0); minigrad the same."""
    torch = pytest.importorskip("torch")
    a = np.array([0.0, 0.0, -0.0, 1e-200, 0.0, 1e-160, 3.0, np.inf, 1.0, 0.0])
    b = np.array([0.0, -0.0, 0.0, 0.0, -1e-200, 1e-160, 4.0, 1.0, np.inf, np.nan])
    g = np.array([-1.0, 2.0, 0.5, 1.0, -3.0, 1.0, 2.0, 1.0, -1.0, 1.0])
    for name in ("atan2", "hypot"):
        am, bm = _mg(a, True), _mg(b, True)
        at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            getattr(mg, name)(am, bm).backward(_mg(g))
        getattr(torch, name)(at, bt).backward(torch.tensor(g))
        _same_bits(am.grad.numpy(), at.grad.numpy(), f"{name} d/da")
        _same_bits(bm.grad.numpy(), bt.grad.numpy(), f"{name} d/db")


def test_hypot_and_logaddexp_do_not_overflow():
    big = np.array([1e30, -2e38], np.float32)  # squares overflow; the result (* sqrt 2) does not
    np.testing.assert_allclose(mg.hypot(_mg(big), _mg(big)).numpy(), np.abs(big.astype(np.float64)) * math.sqrt(2),
                               rtol=1e-6)
    out = mg.logaddexp(_mg(np.array([1000.0, -1000.0])), _mg(np.array([1000.0, -1001.0])))
    np.testing.assert_allclose(out.numpy(), [1000 + math.log(2), -1000 + math.log1p(math.exp(-1))], rtol=1e-15)


def test_xlogy_is_zero_where_x_is_zero_unless_y_is_nan_with_pytorchs_gradients():
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 0.0, 0.0, 0.0, 2.0, -1.0, 3.0, np.nan])
    y = np.array([0.0, 2.0, np.nan, np.inf, 0.0, 0.5, np.nan, 1.0])
    xm, ym = _mg(x, True), _mg(y, True)
    xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    g = np.random.default_rng(4).standard_normal(8)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = mg.xlogy(xm, ym)
        _same_bits(out.numpy(), torch.xlogy(xt, yt).detach().numpy(), "xlogy")
        out.backward(_mg(g))
    torch.xlogy(xt, yt).backward(torch.tensor(g))
    _same_bits(xm.grad.numpy(), xt.grad.numpy(), "xlogy d/dx")
    _same_bits(ym.grad.numpy(), yt.grad.numpy(), "xlogy d/dy")
    xm = _mg([0.0, 0.0, 2.0], True)
    with mg.detect_anomaly():  # no log of a negative number inside the rule where x == 0 and y <= 0
        mg.xlogy(xm, _mg([-1.0, 3.0, 0.5])).backward(_mg([1.0, 2.0, 3.0]))
    _close(xm.grad.numpy(), [0.0, 2 * math.log(3.0), 3 * math.log(0.5)])


# -- remainder, fmod, floor_divide ---------------------------------------------------------------------------
_EDGES = np.array([5.5, -5.5, 7.0, -7.0, 0.0, -0.0, 2.0, -2.0, 1e-30, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["remainder", "fmod", "floor_divide"])
def test_division_ops_match_pytorch_bit_for_bit_on_edge_values(name, backend):
    """Signed zeros, infinities, NaN, division by zero; float64 and float32 (PyTorch's remainder keeps a zero
    remainder's sign from the dividend, NumPy's from the divisor)."""
    torch = pytest.importorskip("torch")
    a, b = np.meshgrid(_EDGES, _EDGES)
    for dtype in (np.float64, np.float32):
        at, bt = a.astype(dtype), b.astype(dtype)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            out = getattr(mg, name)(_mg(at, backend=backend), _mg(bt, backend=backend)).numpy()
        _same_bits(out, getattr(torch, name)(torch.tensor(at), torch.tensor(bt)).numpy(), f"{name} {dtype.__name__}")


@pytest.mark.parametrize("name", ["remainder", "fmod", "floor_divide"])
def test_integer_division_ops_keep_the_dtype_and_refuse_zero_as_pytorch(name):
    torch = pytest.importorskip("torch")
    a, b = np.array([7, -7, 7, -7, 0, 3]), np.array([2, 2, -2, -2, 5, -4])
    out = getattr(mg, name)(_mg(a), _mg(b))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), getattr(torch, name)(torch.tensor(a), torch.tensor(b)).numpy())
    for number in (3, -3):
        np.testing.assert_array_equal(getattr(mg, name)(_mg(a), number).numpy(),
                                      getattr(torch, name)(torch.tensor(a), number).numpy())
    mixed = getattr(mg, name)(_mg(a), 2.5)  # an integer tensor with a float number: float32
    assert mixed.dtype == np.float32
    np.testing.assert_array_equal(mixed.numpy(), getattr(torch, name)(torch.tensor(a), 2.5).numpy())
    for zero in (0, _mg(np.array([1, 0, 1]))):
        with pytest.raises(ZeroDivisionError, match=f"{name}: integer division by zero"):
            getattr(mg, name)(_mg(np.array([1, 2, 3])), zero)


def test_percent_and_floor_division_operators_are_pytorchs():
    torch = pytest.importorskip("torch")
    a = np.array([[5.5, -5.5], [-3.0, 3.25]])
    b = np.array([2.0, -1.5])
    am, at = _mg(a), torch.tensor(a)
    for mg_out, torch_out in [(am % _mg(b), at % torch.tensor(b)), (am // _mg(b), at // torch.tensor(b)),
                              (am % 2, at % 2), (am // -2, at // -2), (7 % am, 7 % at), (7.5 // am, 7.5 // at)]:
        assert mg_out.dtype == np.float64
        _same_bits(mg_out.numpy(), torch_out.numpy())
    ints = np.array([-7, -1, 0, 1, 7])
    im, it = _mg(ints), torch.tensor(ints)
    for mg_out, torch_out in [(im % 3, it % 3), (im // 3, it // 3), (im % -3, it % -3), (im // -3, it // -3),
                              (10 // _mg(np.array([3, -3])), 10 // torch.tensor([3, -3]))]:
        assert mg_out.dtype == np.int64
        np.testing.assert_array_equal(mg_out.numpy(), torch_out.numpy())
    held = im  # in place: the same tensor changes, as PyTorch's %= and //=
    im %= 4
    it %= 4
    assert held is im
    np.testing.assert_array_equal(im.numpy(), it.numpy())
    im //= -2
    it //= -2
    np.testing.assert_array_equal(im.numpy(), it.numpy())


def test_remainder_and_fmod_gradients_equal_pytorchs():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    b = rng.choice([-2.0, -0.5, 0.75, 3.0], (2, 4))
    a = (rng.integers(-8, 8, (3, 1, 4)) + rng.uniform(0.1, 0.9, (3, 1, 4))) * 0.75  # a / b off the integers
    for name in ("remainder", "fmod"):
        _against_torch(getattr(mg, name), getattr(torch, name), [a, b])
        _against_torch(lambda x, y, f=name: getattr(x, f)(y), lambda x, y, f=name: getattr(x, f)(y), [a, b],
                       second_order=False)
        _against_torch(lambda x, f=name: getattr(mg, f)(x, 0.75), lambda x, f=name: getattr(torch, f)(x, 0.75), [a])
        assert mg.gradcheck(getattr(mg, name), (_mg(a, True), _mg(b, True)))
    _against_torch(lambda x, y: x % y, lambda x, y: x % y, [a, b])
    # a number as the dividend: d/db = -floor(a / b) (PyTorch records remainder(Scalar, Tensor) without one)
    bm = _mg(b, True)
    (5.0 % bm).backward(_mg(np.ones_like(b) * 0.5))
    np.testing.assert_array_equal(bm.grad.numpy(), -0.5 * np.floor_divide(5.0, b))


def test_floor_divide_is_recorded_without_a_derivative_as_pytorch():
    torch = pytest.importorskip("torch")
    x = _mg([1.5, -2.5], True)
    y = x // 2
    assert y.requires_grad == (torch.tensor([1.5], requires_grad=True) // 2).requires_grad
    with pytest.raises(RuntimeError, match="floor_divide: the derivative is not implemented"):
        (y * x).sum().backward()
    assert x.grad is None
    with mg.no_grad():
        assert not (x // 2).requires_grad


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_with_a_rounding_mode_matches_pytorch_with_zero_gradients(mode, backend):
    torch = pytest.importorskip("torch")
    a, b = np.meshgrid(_EDGES, _EDGES)
    for dtype in (np.float64, np.float32):
        at, bt = a.astype(dtype), b.astype(dtype)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            out = mg.div(_mg(at, backend=backend), _mg(bt, backend=backend), rounding_mode=mode).numpy()
        _same_bits(out, torch.div(torch.tensor(at), torch.tensor(bt), rounding_mode=mode).numpy(), f"div {mode}")
    ints = np.array([7, -7, 7, -7, 0, 6, -6]), np.array([2, 2, -2, -2, 3, 3, -4])
    out = _mg(ints[0], backend=backend).div(_mg(ints[1], backend=backend), rounding_mode=mode)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), torch.div(*map(torch.tensor, ints), rounding_mode=mode).numpy())
    np.testing.assert_array_equal(mg.divide(_mg(ints[0]), -4, rounding_mode=mode).numpy(),
                                  torch.divide(torch.tensor(ints[0]), -4, rounding_mode=mode).numpy())
    with pytest.raises(ZeroDivisionError, match="div: integer division by zero"):
        mg.div(_mg(ints[0]), 0, rounding_mode=mode)
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal((2, 3)), _away_from_zero(rng, (3,))
    _against_torch(lambda p, q: mg.div(p, q, rounding_mode=mode), lambda p, q: torch.div(p, q, rounding_mode=mode),
                   [x, y])
    assert mg.div(3.0, _mg(y, True), rounding_mode=mode).requires_grad


def test_div_refuses_an_unknown_rounding_mode():
    with pytest.raises(ValueError, match="div: rounding_mode must be None, 'trunc' or 'floor', got 'round'"):
        mg.div(_mg([1.0]), 2.0, rounding_mode="round")
    assert mg.divide is mg.div


def test_in_place_variants_write_pytorchs_result_into_the_tensor():
    torch = pytest.importorskip("torch")
    values = np.array([np.nan, -np.inf, -5.5, -0.25, 0.75, 7.0, np.inf])
    calls = [("remainder_", (2.0,)), ("fmod_", (-2.0,)), ("floor_divide_", (2.0,)), ("clamp_min_", (0.5,)),
             ("clamp_max_", (-0.5,)), ("nan_to_num_", ()), ("nan_to_num_", (1.0, 9.0, -9.0))]
    for name, args in calls:
        xm, xt = _mg(values), torch.tensor(values)
        memory, version = xm.array, xm._version
        with np.errstate(invalid="ignore", divide="ignore"):
            assert getattr(xm, name)(*args) is xm
        getattr(xt, name)(*args)
        assert xm.array is memory and xm._version == version + 1, name
        _same_bits(xm.numpy(), xt.numpy(), name)
    leaf = _mg([1.0, 2.0], True)
    with pytest.raises(mg.InplaceError):
        leaf.remainder_(2.0)
    ints = _mg(np.array([5, 7]))
    with pytest.raises(TypeError):
        ints.fmod_(2.5)  # a float result cannot go into an int64 tensor, as in PyTorch
    np.testing.assert_array_equal(ints.numpy(), [5, 7])


# -- clamp_min, clamp_max, nan_to_num ------------------------------------------------------------------------
def test_clamp_min_and_max_with_numbers_equal_clamp():
    torch = pytest.importorskip("torch")
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0, np.nan])
    for name, bound in [("clamp_min", -0.5), ("clamp_max", 0.5)]:
        _same_bits(getattr(mg, name)(_mg(x), bound).numpy(), getattr(torch, name)(torch.tensor(x), bound).numpy())
        _same_bits(getattr(_mg(x), name)(bound).numpy(), getattr(torch.tensor(x), name)(bound).numpy())
        _against_torch(lambda t, f=name, v=bound: getattr(mg, f)(t, v),
                       lambda t, f=name, v=bound: getattr(torch, f)(t, v), [x[:5]])


@pytest.mark.parametrize("name", ["clamp_min", "clamp_max"])
def test_clamp_with_a_tensor_bound_gives_both_pytorchs_gradients(name):
    """Ties go to x (PyTorch's x >= min / x <= max), NaN in either gives NaN and no gradient."""
    torch = pytest.importorskip("torch")
    x = np.array([[-1.0, 0.5, 2.0, np.nan], [0.25, 0.5, -3.0, 1.0]])
    bound = np.array([0.5, 0.5, 0.5, 0.5]) if name == "clamp_min" else np.array([0.5, 0.5, np.nan, 0.5])
    _against_torch(getattr(mg, name), getattr(torch, name), [x, bound], second_order=False)
    _against_torch(lambda a, b: getattr(a, name)(b), lambda a, b: getattr(a, name)(b), [x, bound],
                   second_order=False)
    with mg.detect_anomaly():  # inf against -inf: no inf - inf computed on the way
        _against_torch(getattr(mg, name), getattr(torch, name), [np.array([np.inf, -np.inf, 1.0]),
                                                                 np.array([-np.inf, np.inf, 2.0])],
                       second_order=False)
    rng = np.random.default_rng(6)
    xs, bs = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, 4)
    _against_torch(getattr(mg, name), getattr(torch, name), [xs, bs])
    assert mg.gradcheck(getattr(mg, name), (_mg(xs, True), _mg(bs, True)))


def test_clamp_with_tensor_bounds_gives_the_bounds_their_gradients():
    """clamp(x, min=tensor, max=tensor | number) as PyTorch: each bound gets the gradient where it is the result
    (a tensor bound once went into the backend's clip as a constant, and got no gradient)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x, lo, hi = rng.uniform(-2, 2, (3, 4)), rng.uniform(-1.5, 0, 4), rng.uniform(0, 1.5, (3, 1))
    for fn in ("clamp", "clip"):
        _against_torch(lambda a, b, c, f=fn: getattr(mg, f)(a, min=b, max=c),
                       lambda a, b, c, f=fn: getattr(torch, f)(a, min=b, max=c), [x, lo, hi])
        _against_torch(lambda a, b, f=fn: getattr(a, f)(b), lambda a, b, f=fn: getattr(a, f)(b), [x, lo])
        _against_torch(lambda a, c, f=fn: getattr(mg, f)(a, max=c), lambda a, c, f=fn: getattr(torch, f)(a, max=c),
                       [x, hi])
    crossed = rng.uniform(0.5, 1.0, 4)  # min > max everywhere: the result is max, which gets the gradient
    _against_torch(lambda a, b, c: mg.clamp(a, b, c), lambda a, b, c: torch.clamp(a, b, c), [x, crossed, hi])
    assert mg.gradcheck(lambda a, b, c: mg.clamp(a, b, c), (_mg(x, True), _mg(lo, True), _mg(hi, True)))
    inplace = _mg(x)
    inplace.clamp_(_mg(lo), _mg(hi))
    _close(inplace.numpy(), torch.tensor(x).clamp_(torch.tensor(lo), torch.tensor(hi)).numpy())


def test_nan_to_num_equals_pytorch_with_its_gradient():
    torch = pytest.importorskip("torch")
    x = np.array([np.nan, np.inf, -np.inf, -1.5, 0.0, 2.0])
    for dtype in (np.float64, np.float32):
        for kwargs in ({}, {"nan": 1.5}, {"posinf": 1e300, "neginf": -7.0}, {"nan": -1.0, "posinf": 2.0}):
            xm, xt = _mg(x.astype(dtype), True), torch.tensor(x.astype(dtype), requires_grad=True)
            out, expected = mg.nan_to_num(xm, **kwargs), torch.nan_to_num(xt, **kwargs)
            assert out.dtype == dtype
            _same_bits(out.numpy(), expected.detach().numpy(), f"nan_to_num {kwargs}")
            g = np.random.default_rng(7).standard_normal(6).astype(dtype)
            out.backward(_mg(g))
            expected.backward(torch.tensor(g))
            np.testing.assert_array_equal(xm.grad.numpy(), xt.grad.numpy(), err_msg=f"gradient {kwargs}")
    ints = _mg(np.array([1, -2]))
    out = ints.nan_to_num()
    assert out.dtype == np.int64 and out is not ints
    np.testing.assert_array_equal(out.numpy(), [1, -2])


# -- addmm, addmv, baddbmm, addbmm ---------------------------------------------------------------------------
_MATMUL_FAMILY = {  # name: (input shape, operand shapes)
    "addmm": ((4,), ((3, 5), (5, 4))),
    "addmv": ((3,), ((3, 5), (5,))),
    "baddbmm": ((3, 1), ((2, 3, 5), (2, 5, 4))),
    "addbmm": ((3, 4), ((2, 3, 5), (2, 5, 4))),
}


@pytest.mark.parametrize("name", list(_MATMUL_FAMILY))
@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, -2.0), (0, 1.5), (2, 0)])
def test_matmul_family_equals_pytorch(name, beta, alpha):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    input_shape, shapes = _MATMUL_FAMILY[name]
    arrays = [rng.standard_normal(input_shape)] + [rng.standard_normal(s) for s in shapes]
    kw = {"beta": beta, "alpha": alpha}
    _against_torch(lambda *t: getattr(mg, name)(*t, **kw), lambda *t: getattr(torch, name)(*t, **kw), arrays)
    _against_torch(lambda i, *t: getattr(i, name)(*t, **kw), lambda i, *t: getattr(i, name)(*t, **kw), arrays,
                   second_order=False)
    assert mg.gradcheck(lambda *t: getattr(mg, name)(*t, **kw), tuple(_mg(a, True) for a in arrays))


@pytest.mark.parametrize("name", list(_MATMUL_FAMILY))
def test_matmul_family_with_beta_zero_ignores_nan_in_input_as_pytorch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    input_shape, shapes = _MATMUL_FAMILY[name]
    bad = np.full(input_shape, np.nan)
    arrays = [bad] + [rng.standard_normal(s) for s in shapes]
    _against_torch(lambda *t: getattr(mg, name)(*t, beta=0), lambda *t: getattr(torch, name)(*t, beta=0), arrays,
                   second_order=False)
    assert not np.isnan(getattr(mg, name)(*[_mg(a) for a in arrays], beta=0).numpy()).any()


def test_matmul_family_errors_name_the_function_and_shapes():
    m, v, b = _mg(np.ones((3, 5))), _mg(np.ones(5)), _mg(np.ones((2, 3, 5)))
    cases = [
        (lambda: mg.addmm(_mg(np.ones(3)), m, m), r"addmm: expected two matrices \(n, m\) and \(m, p\), got shape "
                                                   r"\(3, 5\) and shape \(3, 5\)"),
        (lambda: mg.addmm(_mg(np.ones((3, 3))), m, _mg(np.ones((5, 4)))),
         r"addmm: input of shape \(3, 3\) does not broadcast to the product's shape \(3, 4\)"),
        (lambda: mg.addmv(_mg(np.ones(3)), m, m), r"addmv: expected a matrix \(n, m\) and a vector \(m,\), got"),
        (lambda: mg.addmv(_mg(np.ones(5)), m, v), r"addmv: input of shape \(5,\) does not broadcast"),
        (lambda: mg.baddbmm(_mg(np.ones(1)), b, _mg(np.ones((3, 5, 2)))),
         r"baddbmm: expected two batches \(b, n, m\) and \(b, m, p\), got shape \(2, 3, 5\) and shape \(3, 5, 2\)"),
        (lambda: mg.addbmm(_mg(np.ones((2, 3, 3))), b, _mg(np.ones((2, 5, 3)))),
         r"addbmm: input of shape \(2, 3, 3\) does not broadcast to the product's shape \(3, 3\)"),
    ]
    for call, message in cases:
        with pytest.raises(mg.ShapeError, match=message):
            call()
    ints = _mg(np.ones((2, 2), np.int64))
    with pytest.raises(TypeError, match="addmm: for integer tensors beta and alpha must be integers, got beta=0.5"):
        mg.addmm(ints, ints, ints, beta=0.5)
    np.testing.assert_array_equal(mg.addmm(ints, ints, ints, beta=2, alpha=3).numpy(), np.full((2, 2), 8))


def test_matmul_family_leaves_its_inputs_alone_on_error():
    x = _mg(np.arange(6.0).reshape(2, 3), True)
    before = x.numpy().copy()
    with pytest.raises(mg.ShapeError):
        mg.addmm(x, x, x)
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None and x._version == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_xlogy_takes_the_log_in_the_promoted_dtype(backend):
    """float64 x with float32 y: the log is taken in float64, as PyTorch's (a float32 log promoted afterwards is
    off by ~5e-8, which Beta.log_prob showed)."""
    x = np.array([0.3, -1.7, 2.5])
    y = np.array([0.1, 3.3, 7.9], np.float32)
    out = mg.xlogy(mg.tensor(x, backend=backend), mg.tensor(y, backend=backend))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.numpy(), x * np.log(y.astype(np.float64)))
