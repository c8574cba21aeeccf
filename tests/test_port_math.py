"""The math API a port meets: in-place variants of the elementwise ops (one table through Tensor._inplace),
addcmul/addcdiv, float_power, exp2, logaddexp2, ldexp, copysign, fmax/fmin, heaviside, signbit, gcd/lcm, the
bitwise ops and operators, PyTorch's aliases, and the special functions (erfc, erfinv, lgamma, digamma,
polygamma, mvlgamma, i0, logit): PyTorch's values and gradients on the same inputs (float64, random upstream
gradients), float64 finite differences, poles and edges, and the errors."""

from __future__ import annotations

import operator

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad.errors import InplaceError, ShapeError

TIGHT = {"rtol": 1e-10, "atol": 1e-12}
SPECIAL = {"rtol": 1e-13, "atol": 0.0}  # the special functions, in float64, where no cancellation is inherent


def _torch_of(array, requires_grad=False):
    return torch.tensor(np.array(array, dtype=np.float64), requires_grad=requires_grad)


def _mg_of(array, requires_grad=False):
    return mg.tensor(np.array(array, dtype=np.float64), requires_grad=requires_grad)


# -- in-place variants --------------------------------------------------------------------------------------
UNARY_INPLACE = [
    "abs_", "absolute_", "neg_", "negative_", "exp_", "log_", "log1p_", "log2_", "log10_", "expm1_", "sqrt_",
    "rsqrt_", "square_", "reciprocal_", "sigmoid_", "relu_", "tanh_", "sin_", "cos_", "tan_", "asin_", "acos_",
    "atan_", "sinh_", "cosh_", "asinh_", "acosh_", "atanh_", "arcsin_", "arccos_", "arctan_", "arcsinh_",
    "arccosh_", "arctanh_", "floor_", "ceil_", "round_", "trunc_", "frac_", "fix_", "sign_", "sgn_", "erf_",
    "erfc_", "erfinv_", "deg2rad_", "rad2deg_", "sinc_", "logit_", "lgamma_", "digamma_", "i0_", "exp2_",
]
_POSITIVE = {"log_", "log2_", "log10_", "sqrt_", "rsqrt_", "logit_"}


def _unary_input(name: str, rng) -> np.ndarray:
    if name in ("acosh_", "arccosh_"):
        return rng.uniform(1.1, 3.0, (3, 4))
    magnitude = rng.uniform(0.1, 0.9, (3, 4))
    return magnitude if name in _POSITIVE else magnitude * rng.choice([-1.0, 1.0], (3, 4))


@pytest.mark.parametrize("name", UNARY_INPLACE)
def test_unary_inplace_matches_pytorch_values_and_gradients(name):
    rng = np.random.default_rng(len(name))
    x, g = _unary_input(name, rng), rng.standard_normal((3, 4))
    a, ta = _mg_of(x, True), _torch_of(x, True)
    y = a * 1.0  # a non-leaf: in place is allowed while recording
    version = y._version
    assert getattr(y, name)() is y
    assert y._version > version
    b = _mg_of(x, True)
    out_of_place = getattr(b, name[:-1])()
    np.testing.assert_array_equal(y.numpy(), out_of_place.numpy())
    (y * mg.tensor(g)).sum().backward()
    if out_of_place.requires_grad:
        np.testing.assert_array_equal(a.grad.numpy(), mg.grad(out_of_place, [b], mg.tensor(g))[0].numpy())
    else:  # sign and sgn have no derivative: the in-place form passes a zero gradient, as PyTorch's
        np.testing.assert_array_equal(a.grad.numpy(), np.zeros_like(x))
    np.testing.assert_allclose(y.numpy(), getattr(_torch_of(x), name)().numpy(), **TIGHT)
    if name == "digamma_":  # its derivative is trigamma, where PyTorch's is inaccurate (5e-10): SciPy's instead
        expected = g * pytest.importorskip("scipy.special").polygamma(1, x)
    else:  # PyTorch's out-of-place gradient: its asinh_, acosh_ and atanh_ have no derivative
        (getattr(ta * 1.0, name[:-1])() * torch.tensor(g)).sum().backward()
        expected = ta.grad.numpy(force=True)  # sgn's gradient is a ZeroTensor
    np.testing.assert_allclose(a.grad.numpy(), expected, **TIGHT)


@pytest.mark.parametrize("name", ["exp_", "abs_", "sign_", "floor_"])
def test_unary_inplace_outside_autograd_and_on_a_leaf(name):
    x = np.array([[-1.5, 0.25], [2.0, 0.75]])
    t = _mg_of(x)
    assert getattr(t, name)() is t
    np.testing.assert_array_equal(t.numpy(), getattr(_mg_of(x), name[:-1])().numpy())
    leaf = _mg_of(x, True)
    with pytest.raises(InplaceError, match=f"{name}: a leaf tensor that requires grad"):
        getattr(leaf, name)()
    np.testing.assert_array_equal(leaf.numpy(), x)  # nothing written
    with mg.no_grad():
        getattr(leaf, name)()
    np.testing.assert_array_equal(leaf.numpy(), getattr(_mg_of(x), name[:-1])().numpy())


def test_inplace_change_of_a_saved_tensor_fails_backward():
    a = _mg_of([0.5, 1.5], True)
    y = a * 1.0
    z = y.sin()  # saves y
    y.exp_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation|version"):
        z.sum().backward()


def test_inplace_into_an_integer_tensor_refuses_a_floating_result():
    t = mg.tensor([1, 2, 3])
    with pytest.raises(TypeError, match="exp_: a float32 result cannot be stored in place into a int64 tensor"):
        t.exp_()
    assert t.tolist() == [1, 2, 3]
    assert t.neg_().tolist() == [-1, -2, -3]  # integer results fit


def _binary_cases(rng):
    x, y, w = rng.uniform(0.2, 2.0, (3, 4)), rng.uniform(0.2, 2.0, (4,)), rng.uniform(0.0, 1.0, (3, 4))
    return {
        "atan2_": ((y,), {}), "arctan2_": ((y,), {}), "hypot_": ((y,), {}), "fmod_": ((y * 0.3,), {}),
        "remainder_": ((y * 0.3,), {}), "lerp_": ((y, w), {}), "xlogy_": ((y,), {}), "copysign_": ((-y,), {}),
        "ldexp_": ((np.round(y * 2),), {}), "float_power_": ((y,), {}), "clip_": ((), {"min": 0.5, "max": 1.5}),
        "addcmul_": ((y, w), {"value": -0.5}), "addcdiv_": ((w, y), {"value": 2.0}), "nextafter_": ((y,), {}),
    }, x


@pytest.mark.parametrize("name", ["atan2_", "arctan2_", "hypot_", "fmod_", "remainder_", "lerp_", "xlogy_",
                                  "copysign_", "ldexp_", "float_power_", "clip_", "addcmul_", "addcdiv_",
                                  "nextafter_"])
def test_binary_inplace_matches_pytorch_values_and_gradients(name):
    rng = np.random.default_rng(3)
    cases, x = _binary_cases(rng)
    args, kwargs = cases[name]
    a, ta = _mg_of(x, True), _torch_of(x, True)
    others = [_mg_of(v, True) for v in args]
    t_others = [_torch_of(v, True) for v in args]
    y, ty = a * 1.0, ta * 1.0
    assert getattr(y, name)(*others, **kwargs) is y
    getattr(ty, name)(*t_others, **kwargs)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TIGHT)
    g = rng.standard_normal(x.shape)
    ours = mg.grad((y * mg.tensor(g)).sum(), [a, *others], allow_unused=True)
    theirs = torch.autograd.grad((ty * torch.tensor(g)).sum(), [ta, *t_others], allow_unused=True)
    for o, t in zip(ours, theirs):
        if o is None or t is None:  # no gradient on one side (copysign's sign source): zeros on the other
            assert not np.any((t if o is None else o).numpy())
        else:
            np.testing.assert_allclose(o.numpy(), t.numpy(), **TIGHT)


def test_masked_fill_tril_triu_inplace_match_pytorch():
    rng = np.random.default_rng(4)
    x, g = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    mask = rng.random((4,)) > 0.5
    for name, args, targs in [("masked_fill_", (mg.tensor(mask), 2.5), (torch.tensor(mask), 2.5)),
                              ("tril_", (1,), (1,)), ("triu_", (-1,), (-1,))]:
        a, ta = _mg_of(x, True), _torch_of(x, True)
        y, ty = a * 1.0, ta * 1.0
        getattr(y, name)(*args)
        getattr(ty, name)(*targs)
        np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
        (y * mg.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())


@pytest.mark.parametrize("name", ["addmm_", "addmv_", "addbmm_", "baddbmm_", "cumsum_"])
def test_matrix_and_cumulative_inplace_match_pytorch(name):
    rng = np.random.default_rng(5)
    shapes = {"addmm_": ((3, 4), (3, 2), (2, 4)), "addmv_": ((3,), (3, 2), (2,)),
              "addbmm_": ((3, 4), (5, 3, 2), (5, 2, 4)), "baddbmm_": ((5, 3, 4), (5, 3, 2), (5, 2, 4)),
              "cumsum_": ((3, 4),)}[name]
    arrays = [rng.standard_normal(shape) for shape in shapes]
    kwargs = {"dim": 1} if name == "cumsum_" else {"beta": 0.5, "alpha": -2.0}
    ours_in, theirs_in = [_mg_of(a, True) for a in arrays], [_torch_of(a, True) for a in arrays]
    y, ty = ours_in[0] * 1.0, theirs_in[0] * 1.0
    assert getattr(y, name)(*ours_in[1:], **kwargs) is y
    getattr(ty, name)(*theirs_in[1:], **kwargs)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TIGHT)
    g = rng.standard_normal(y.shape)
    for o, t in zip(mg.grad(y, ours_in, mg.tensor(g)), torch.autograd.grad(ty, theirs_in, torch.tensor(g))):
        np.testing.assert_allclose(o.numpy(), t.numpy(), **TIGHT)


COMPARISONS = ["eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "greater_equal_", "less_", "less_equal_",
               "not_equal_", "logical_and_", "logical_or_", "logical_xor_"]


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparison_inplace_writes_ones_and_zeros_with_a_zero_gradient(name):
    x = np.array([[0.0, 1.0, 2.0], [-1.0, 1.0, 0.0]])
    other = np.array([1.0, 1.0, 0.0])
    a, ta = _mg_of(x, True), _torch_of(x)
    y = a * 1.0
    assert getattr(y, name)(_mg_of(other)) is y
    expected = getattr(ta.clone(), name)(_torch_of(other)).numpy()
    np.testing.assert_array_equal(y.numpy(), expected)
    assert y.dtype == np.float64
    (y * mg.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros((2, 3)))  # no derivative: zero (PyTorch's for eq_ & co)
    ints = mg.tensor([0, 3, 5])
    getattr(ints, name)(mg.tensor([0, 2, 7]))
    assert ints.dtype == np.int64
    np.testing.assert_array_equal(ints.numpy(), getattr(torch.tensor([0, 3, 5]), name)(torch.tensor([0, 2, 7])))


def test_logical_not_inplace_and_sign_inplace():
    t = mg.tensor([0.0, 2.0, -1.0])
    np.testing.assert_array_equal(t.logical_not_().numpy(), [1.0, 0.0, 0.0])
    s = mg.tensor([0.0, 2.0, -3.0, np.nan], dtype="float64")
    np.testing.assert_array_equal(s.sign_().numpy(), torch.tensor([0.0, 2.0, -3.0, np.nan]).double().sign_())


def test_integer_and_bitwise_inplace_match_pytorch():
    a, b = np.array([12, -7, 5, 0]), np.array([8, 3, -2, 6])
    for name in ["gcd_", "lcm_", "bitwise_and_", "bitwise_or_", "bitwise_xor_", "bitwise_left_shift_",
                 "bitwise_right_shift_"]:
        rhs = np.abs(b) if "shift" in name else b
        ours = getattr(mg.tensor(a), name)(mg.tensor(rhs))
        theirs = getattr(torch.tensor(a), name)(torch.tensor(rhs))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)
    np.testing.assert_array_equal(mg.tensor(a).bitwise_not_().numpy(), torch.tensor(a).bitwise_not_().numpy())


def test_operator_inplace_bit_operations():
    ours, theirs = mg.tensor([12, 5]), torch.tensor([12, 5])
    for op, value in [(operator.iand, [10, 4]), (operator.ior, 1), (operator.ixor, [3, 3]), (operator.ilshift, 2),
                      (operator.irshift, [1, 2])]:
        same = ours
        ours = op(ours, mg.tensor(value) if isinstance(value, list) else value)
        theirs = op(theirs, torch.tensor(value) if isinstance(value, list) else value)
        assert ours is same  # in place
        assert ours.tolist() == theirs.tolist()


def test_alias_inplace_methods():
    x = np.array([1.0, 2.0, 4.0])
    for name, ref in [("multiply_", x * 2), ("subtract_", x - 2), ("divide_", x / 2), ("true_divide_", x / 2)]:
        np.testing.assert_array_equal(getattr(_mg_of(x), name)(2.0).numpy(), ref)


def test_float_power_inplace_needs_a_float64_tensor():
    t = mg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="float_power_: the result is float64 but the tensor is float32"):
        t.float_power_(2)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


def test_inplace_result_of_another_shape_is_refused_and_nothing_changes():
    t = _mg_of([[1.0, 2.0]])
    with pytest.raises(ShapeError, match="atan2_: the result has shape"):
        t.atan2_(_mg_of([[1.0], [2.0]]))
    np.testing.assert_array_equal(t.numpy(), [[1.0, 2.0]])


def test_polygamma_and_mvlgamma_inplace():
    x = np.array([0.7, 1.9, 3.2])
    np.testing.assert_allclose(_mg_of(x).polygamma_(2).numpy(), _torch_of(x).polygamma_(2).numpy(), **SPECIAL)
    np.testing.assert_allclose(_mg_of(x + 1).mvlgamma_(2).numpy(), _torch_of(x + 1).mvlgamma_(2).numpy(),
                               rtol=1e-14)
    np.testing.assert_allclose(_mg_of(x).polygamma(3).numpy(), torch.polygamma(3, _torch_of(x)).numpy(), **SPECIAL)


# -- pointwise functions --------------------------------------------------------------------------------------
def _agree(mg_fn, torch_fn, arrays, rng, *, create_graph=True, tol=TIGHT):
    """Forward, gradients for a random upstream gradient and (with ``create_graph``) the gradients of a random
    projection of those gradients: each equal to PyTorch's on the same float64 inputs."""
    ours_in = [_mg_of(a, True) for a in arrays]
    theirs_in = [_torch_of(a, True) for a in arrays]
    ours, theirs = mg_fn(*ours_in), torch_fn(*theirs_in)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **tol)
    g = rng.standard_normal(ours.shape)
    ours_g = mg.grad(ours, ours_in, mg.tensor(g), create_graph=create_graph, allow_unused=True)
    theirs_g = torch.autograd.grad(theirs, theirs_in, torch.tensor(g), create_graph=create_graph, allow_unused=True)
    for a, b in zip(ours_g, theirs_g):
        if a is None:  # no gradient (copysign's sign source): PyTorch's is zeros
            assert not np.any(b.detach().numpy())
        else:
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **tol)
    if not create_graph:
        return
    ours_g = [a if a is not None else mg.tensor(np.zeros(b.shape)) for a, b in zip(ours_g, theirs_g)]
    weights = [rng.standard_normal(a.shape) for a in ours_g]
    ours_p = sum((a * mg.tensor(w)).sum() for a, w in zip(ours_g, weights))
    theirs_p = sum((b * torch.tensor(w)).sum() for b, w in zip(theirs_g, weights))
    if not theirs_p.requires_grad or not ours_p.requires_grad:
        assert not ours_p.requires_grad and not theirs_p.requires_grad
        return
    ours_gg = mg.grad(ours_p, ours_in, allow_unused=True)
    theirs_gg = torch.autograd.grad(theirs_p, theirs_in, allow_unused=True)
    for a, b in zip(ours_gg, theirs_gg):
        if a is None or b is None:  # no second-order term on one side: none or zeros on the other
            assert a is b or not np.any((b if a is None else a).numpy())
        else:
            np.testing.assert_allclose(a.numpy(), b.numpy(), **tol)


@pytest.mark.parametrize("name", ["addcmul", "addcdiv", "float_power", "exp2", "logaddexp2", "ldexp", "copysign",
                                  "fmax", "fmin"])
def test_pointwise_functions_match_pytorch(name):
    rng = np.random.default_rng(7)
    x, y, z = rng.uniform(0.3, 2.0, (2, 3)), rng.uniform(-2.0, 2.0, (3,)), rng.uniform(0.5, 2.0, (2, 3))
    fns = {
        "addcmul": ((x, y, z), lambda m, a, b, c: m.addcmul(a, b, c, value=0.3)),
        "addcdiv": ((x, y, z), lambda m, a, b, c: m.addcdiv(a, b, c, value=-1.5)),
        "float_power": ((x, y), lambda m, a, b: m.float_power(a, b)),
        "exp2": ((y,), lambda m, a: m.exp2(a)),
        "logaddexp2": ((x, y), lambda m, a, b: m.logaddexp2(a, b)),
        "ldexp": ((x, np.round(y * 3)), lambda m, a, b: m.ldexp(a, b)),
        "copysign": ((y, x - 1.1), lambda m, a, b: m.copysign(a, b)),
        "fmax": ((x - 1, y), lambda m, a, b: m.fmax(a, b)),
        "fmin": ((x - 1, y), lambda m, a, b: m.fmin(a, b)),
    }
    arrays, fn = fns[name]
    assert mg.gradcheck(lambda *t: fn(mg, *t), tuple(_mg_of(a, True) for a in arrays))
    _agree(lambda *t: fn(mg, *t), lambda *t: fn(torch, *t), arrays, rng)
    # methods too, where PyTorch has them
    np.testing.assert_allclose(getattr(_mg_of(arrays[0]), name)(*[_mg_of(a) for a in arrays[1:]]).numpy(),
                               getattr(_torch_of(arrays[0]), name)(*[_torch_of(a) for a in arrays[1:]]).numpy(),
                               **TIGHT)


def test_pointwise_dtypes_follow_pytorch():
    i, f = mg.tensor([1, 2, 3]), mg.tensor([0.5, 1.0, 2.0])
    ti, tf = torch.tensor([1, 2, 3]), torch.tensor([0.5, 1.0, 2.0])
    for ours, theirs in [(mg.float_power(f, 2), torch.float_power(tf, 2)), (mg.exp2(i), torch.exp2(ti)),
                         (mg.ldexp(f, i), torch.ldexp(tf, ti)), (mg.copysign(i, -1.0), torch.copysign(ti, -1.0)),
                         (mg.addcmul(i, i, i), torch.addcmul(ti, ti, ti)), (mg.fmax(i, i), torch.fmax(ti, ti)),
                         (mg.float_power(i, i), torch.float_power(ti, ti))]:
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_copysign_at_zero_and_signed_zero():
    a = _mg_of([0.0, 2.0, -3.0, 1.0], True)
    b = np.array([-1.0, -0.0, 0.0, np.nan])
    ta = _torch_of([0.0, 2.0, -3.0, 1.0], True)
    out, tout = mg.copysign(a, _mg_of(b)), torch.copysign(ta, _torch_of(b))
    np.testing.assert_array_equal(np.signbit(out.numpy()), np.signbit(tout.detach().numpy()))
    g = np.array([0.5, -1.0, 2.0, 3.0])
    out.backward(mg.tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())  # 0 where a == 0, PyTorch's rule


def test_fmax_fmin_ignore_nan_and_give_ties_to_the_first():
    a_v, b_v = np.array([1.0, np.nan, 2.0, np.nan, 3.0]), np.array([np.nan, 4.0, 2.0, np.nan, 1.0])
    for name in ("fmax", "fmin"):
        a, b = _mg_of(a_v, True), _mg_of(b_v, True)
        ta, tb = _torch_of(a_v, True), _torch_of(b_v, True)
        out, tout = getattr(mg, name)(a, b), getattr(torch, name)(ta, tb)
        np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
        g = np.arange(1.0, 6.0)
        out.backward(mg.tensor(g))
        tout.backward(torch.tensor(g))
        np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
        np.testing.assert_array_equal(b.grad.numpy(), tb.grad.numpy())


def test_nextafter_isposinf_isneginf_rsub_match_pytorch():
    rng = np.random.default_rng(8)
    x_v, o_v = rng.standard_normal(6), np.array([np.inf, -np.inf, 0.0, 1.0, -1.0, np.nan])
    x, o, tx, to = _mg_of(x_v, True), _mg_of(o_v, True), _torch_of(x_v, True), _torch_of(o_v, True)
    out, tout = mg.nextafter(x, o), torch.nextafter(tx, to)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    g = rng.standard_normal(6)
    for a, b in zip(mg.grad(out, [x, o], mg.tensor(g)), torch.autograd.grad(tout, [tx, to], torch.tensor(g))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # 1 for input, 0 for other
    f = np.array([1.0, np.inf, -np.inf, np.nan, 0.0])
    for name in ("isposinf", "isneginf"):
        np.testing.assert_array_equal(getattr(mg, name)(_mg_of(f)).numpy(), getattr(torch, name)(_torch_of(f)).numpy())
        np.testing.assert_array_equal(getattr(mg.tensor([1, 2]), name)().numpy(), [False, False])
    a, ta = _mg_of(x_v, True), _torch_of(x_v, True)
    np.testing.assert_allclose(mg.rsub(a, 5.0, alpha=2).numpy(), torch.rsub(ta, 5.0, alpha=2).detach().numpy(), **TIGHT)
    assert mg.gradcheck(lambda t: mg.rsub(t, _mg_of(x_v[::-1].copy()), alpha=0.5), (_mg_of(x_v, True),))


def test_heaviside_signbit_and_their_lack_of_gradient():
    x = np.array([-1.5, 0.0, -0.0, 2.0, np.nan])
    values = np.array([0.5, 0.5, 0.25, 0.5, 0.5])
    np.testing.assert_array_equal(mg.heaviside(_mg_of(x), _mg_of(values)).numpy(),
                                  torch.heaviside(_torch_of(x), _torch_of(values)).numpy())
    np.testing.assert_array_equal(mg.signbit(_mg_of(x)).numpy(), torch.signbit(_torch_of(x)).numpy())
    assert mg.signbit(_mg_of(x)).dtype == np.bool_
    a = _mg_of(x, True)
    with pytest.raises(RuntimeError, match="heaviside: the derivative is not implemented"):
        mg.heaviside(a, _mg_of(values)).sum().backward()
    with pytest.raises(TypeError, match=r"heaviside: input \(float64\) and values \(float32\)"):
        mg.heaviside(_mg_of(x), mg.tensor(values, dtype="float32"))


def test_integer_functions_and_bit_operators_match_pytorch():
    a_v, b_v = np.array([12, -18, 7, 0, -5]), np.array([8, 12, -21, 6, 0])
    a, b, ta, tb = mg.tensor(a_v), mg.tensor(b_v), torch.tensor(a_v), torch.tensor(b_v)
    for name in ("gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor"):
        np.testing.assert_array_equal(getattr(mg, name)(a, b).numpy(), getattr(torch, name)(ta, tb).numpy())
        np.testing.assert_array_equal(getattr(a, name)(b).numpy(), getattr(ta, name)(tb).numpy())
    shift = mg.tensor([1, 2, 3, 0, 4])
    tshift = torch.tensor([1, 2, 3, 0, 4])
    pairs = [(a & b, ta & tb), (a | b, ta | tb), (a ^ b, ta ^ tb), (~a, ~ta), (a << shift, ta << tshift),
             (a >> shift, ta >> tshift), (3 & a, 3 & ta), (3 | a, 3 | ta), (3 ^ a, 3 ^ ta),
             (mg.bitwise_left_shift(a, shift), torch.bitwise_left_shift(ta, tshift)),
             (mg.bitwise_right_shift(a, shift), torch.bitwise_right_shift(ta, tshift)),
             (mg.bitwise_not(a), torch.bitwise_not(ta))]
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    m, n = mg.tensor([True, False, True]), mg.tensor([True, True, False])
    tm, tn = torch.tensor([True, False, True]), torch.tensor([True, True, False])
    for ours, theirs in [(m & n, tm & tn), (m | n, tm | tn), (m ^ n, tm ^ tn), (~m, ~tm)]:
        assert ours.dtype == np.bool_
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_bit_operations_refuse_floats():
    f = mg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="bitwise_and: expected integer or bool tensors, got float32"):
        _ = f & f
    with pytest.raises(TypeError, match="bitwise_not: expected an integer or bool tensor, got float32"):
        _ = ~f
    with pytest.raises(TypeError, match="gcd: expected integer tensors, got bool"):
        mg.gcd(mg.tensor([True]), mg.tensor([1]))
    with pytest.raises(TypeError, match="addcdiv: integer division"):
        mg.addcdiv(f, mg.tensor([1, 2]), mg.tensor([3, 4]))


def test_aliases_are_the_same_functions():
    x, y = mg.tensor([1.0, 4.0]), mg.tensor([2.0, 4.0])
    pairs = [("multiply", "mul"), ("subtract", "sub"), ("true_divide", "div"), ("divide", "div"),
             ("greater", "gt"), ("greater_equal", "ge"), ("less", "lt"), ("less_equal", "le"),
             ("not_equal", "ne")]
    for alias, name in pairs:
        assert getattr(mg, alias) is getattr(mg, name)
        np.testing.assert_array_equal(getattr(x, alias)(y).numpy(), getattr(x, name)(y).numpy())
    assert mg.negative(x).tolist() == [-1.0, -4.0]
    assert mg.positive(x) is x and x.positive() is x
    with pytest.raises(TypeError, match="positive: not supported for bool"):
        mg.positive(mg.tensor([True]))


# -- special functions ----------------------------------------------------------------------------------------
def _wide(rng, lo, hi, n=400):
    return np.concatenate([rng.uniform(lo, hi, n), rng.uniform(lo / 10, hi / 10, n // 4)])


def test_erfc_and_erfinv_match_pytorch_on_wide_ranges():
    rng = np.random.default_rng(11)
    x = np.concatenate([_wide(rng, -27.0, 27.0), [0.0, -0.0, 1.0, 1.5, 26.5, np.inf, -np.inf, np.nan]])
    # beyond x = 26.55 erfc is subnormal: there only absolute precision (a few 5e-324) is meaningful
    np.testing.assert_allclose(mg.erfc(_mg_of(x)).numpy(), torch.erfc(_torch_of(x)).numpy(), rtol=1e-13, atol=3e-323)
    p = np.concatenate([rng.uniform(-1, 1, 400), 1 - 10.0 ** -rng.uniform(1, 15.9, 100),
                        -1 + 10.0 ** -rng.uniform(1, 15.9, 100),
                        [0.0, -0.0, 1e-300, 0.5, 1 - 2 ** -53, 1.0, -1.0, 1.5, -2.0, np.nan]])
    ours, theirs = mg.erfinv(_mg_of(p)).numpy(), torch.erfinv(_torch_of(p)).numpy()
    np.testing.assert_allclose(ours, theirs, **SPECIAL)
    number = ~np.isnan(theirs)
    np.testing.assert_array_equal(np.signbit(ours[number]), np.signbit(theirs[number]))  # erfinv(-0.0) = -0.0


def test_lgamma_matches_pytorch_including_poles():
    rng = np.random.default_rng(12)
    x = np.concatenate([_wide(rng, -40.0, 40.0), 10.0 ** rng.uniform(-300, 305, 200), -rng.uniform(1, 1e6, 100),
                        [1.0, 2.0, 1 + 1e-10, 2 - 1e-12, 0.5, 1e-300, -1e-300, 0.0, -0.0, -1.0, -7.0, -1e20,
                         3e305, np.inf, -np.inf, np.nan]])
    ours, theirs = mg.lgamma(_mg_of(x)).numpy(), torch.lgamma(_torch_of(x)).numpy()
    # Near the zeros of lgamma on the negative axis (-2.457..., -2.747..., ...), the reflection formula's terms
    # cancel: an absolute error of a few ulps of 1 remains, so those points get that much absolute tolerance.
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=2e-15)
    near_roots = (x < 0) & (np.abs(theirs) < 0.1)
    np.testing.assert_allclose(ours[~near_roots], theirs[~near_roots], **SPECIAL)
    assert np.isinf(ours[np.isin(x, [0.0, -1.0, -7.0, -1e20, np.inf, -np.inf])]).all()


def test_digamma_matches_pytorch_including_poles():
    rng = np.random.default_rng(13)
    x = np.concatenate([_wide(rng, -30.0, 30.0), 10.0 ** rng.uniform(-300, 300, 200),
                        [1.0, 2.0, 3.0, 10.0, 0.5, 1e-300, -1e-300, 0.0, -0.0, -1.0, -5.0, np.inf, np.nan]])
    ours, theirs = mg.digamma(_mg_of(x)).numpy(), torch.digamma(_torch_of(x)).numpy()
    # the same steps as PyTorch's (Cephes'): equal to a few ulps of the terms summed, also near the root 1.4616
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(ours[-9:], theirs[-9:])  # +-inf at +-0, NaN at the negative integers


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_polygamma_matches_scipy_and_pytorch(n):
    rng = np.random.default_rng(20 + n)
    x = np.concatenate([_wide(rng, -8.0, 30.0), 10.0 ** rng.uniform(-5, 8, 100)])
    x = x[np.abs(x - np.round(x)) > 1e-3]  # off the poles
    ours = mg.polygamma(n, _mg_of(x)).numpy()
    if n == 1:
        # PyTorch's trigamma truncates its asymptotic series early (errors up to ~5e-10 relative): SciPy's
        # polygamma (Hurwitz zeta) is the reference here
        special = pytest.importorskip("scipy.special")
        np.testing.assert_allclose(ours, special.polygamma(1, x), **SPECIAL)
    else:
        np.testing.assert_allclose(ours, torch.polygamma(n, _torch_of(x)).numpy(), rtol=1e-13, atol=0)
    poles = np.array([0.0, -1.0, -3.0])
    assert (mg.polygamma(n, _mg_of(poles)).numpy() == (-1) ** (n + 1) * np.inf).all()
    np.testing.assert_array_equal(mg.polygamma(n, _mg_of([np.inf, np.nan])).numpy(), [0.0, np.nan])


def test_i0_matches_pytorch_and_stays_finite_past_exp_overflow():
    rng = np.random.default_rng(14)
    x = np.concatenate([_wide(rng, -700.0, 700.0), [0.0, 20.0, 8.0, np.nan]])
    np.testing.assert_allclose(mg.i0(_mg_of(x)).numpy(), torch.i0(_torch_of(x)).numpy(), rtol=1e-13, atol=0)
    # I0(711) = 1.2e307 is finite; PyTorch's e^x * series overflows from x = 709.78
    big = mg.i0(_mg_of([711.0, 713.0, 714.0])).numpy()
    assert np.isfinite(big[:2]).all() and big[2] == np.inf
    mpmath = pytest.importorskip("mpmath")
    np.testing.assert_allclose(big[:2], [float(mpmath.besseli(0, v)) for v in (711, 713)], rtol=1e-13)


def test_logit_and_mvlgamma_match_pytorch():
    rng = np.random.default_rng(15)
    p = np.concatenate([rng.uniform(0, 1, 200), [0.0, 1.0, -0.5, 1.5, 0.05, 0.95]])
    for eps in (None, 0.05, 1e-6):
        np.testing.assert_allclose(mg.logit(_mg_of(p), eps).numpy(), torch.logit(_torch_of(p), eps).numpy(),
                                   rtol=1e-14, atol=0)
    x = rng.uniform(1.6, 30.0, 50)
    for dim in (1, 2, 4):
        np.testing.assert_allclose(mg.mvlgamma(_mg_of(x + dim / 2), dim).numpy(),
                                   torch.mvlgamma(_torch_of(x + dim / 2), dim).numpy(), rtol=1e-14)
    # Below (p - 1) / 2 PyTorch 2.x computes the same sum of log|Gamma| terms (inf at their poles), no error.
    low = np.array([0.2, 0.6, 0.9, -1.3, 0.5, 1.0, -2.0])
    ours, theirs = _mg_of(low).requires_grad_(), _torch_of(low).requires_grad_()
    upstream = rng.standard_normal(low.size)
    mg.mvlgamma(ours, 3).backward(mg.tensor(upstream))
    torch.mvlgamma(theirs, 3).backward(torch.tensor(upstream))
    np.testing.assert_allclose(mg.mvlgamma(_mg_of(low), 3).numpy(), torch.mvlgamma(_torch_of(low), 3).detach().numpy(),
                               rtol=1e-13)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-11)  # inf and NaN where PyTorch's


SPECIAL_GRADS = {
    "erfc": (lambda m, t: m.erfc(t), (-4.0, 4.0)),
    "erfinv": (lambda m, t: m.erfinv(t), (-0.98, 0.98)),
    "lgamma": (lambda m, t: m.lgamma(t), (0.1, 12.0)),
    "lgamma_negative": (lambda m, t: m.lgamma(t), (-3.9, -3.1)),
    "i0": (lambda m, t: m.i0(t), (-12.0, 12.0)),
    "logit": (lambda m, t: m.logit(t), (0.05, 0.95)),
    "logit_eps": (lambda m, t: m.logit(t, eps=0.2), (0.05, 0.95)),
    "mvlgamma": (lambda m, t: m.mvlgamma(t, 3), (1.2, 9.0)),
    "polygamma2": (lambda m, t: m.polygamma(2, t), (0.3, 6.0)),
}


@pytest.mark.parametrize("name", sorted(SPECIAL_GRADS))
def test_special_gradients_match_pytorch_and_finite_differences(name):
    fn, (lo, hi) = SPECIAL_GRADS[name]
    rng = np.random.default_rng(len(name))
    x = rng.uniform(lo, hi, (3, 4))
    if name == "logit_eps":
        x = x[np.abs(x - 0.2) > 0.02][:8]  # off the clamp's kinks
        x = x[np.abs(x - 0.8) > 0.02]
    # lgamma'' and mvlgamma'' are trigamma, where PyTorch's is inaccurate: first order only for those
    second = name not in ("lgamma", "lgamma_negative", "mvlgamma")
    a = _mg_of(x, True)
    assert mg.gradcheck(lambda t: fn(mg, t), (a,))
    assert mg.gradgradcheck(lambda t: fn(mg, t), (a,))
    _agree(lambda t: fn(mg, t), lambda t: fn(torch, t), [x], rng, create_graph=second,
           tol={"rtol": 1e-12, "atol": 1e-14})


def test_digamma_and_trigamma_gradients_are_the_next_polygamma():
    """digamma' = polygamma(1), polygamma(n)' = polygamma(n + 1), lgamma'' = polygamma(1): each equal to SciPy's
    polygamma, and to finite differences."""
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(16)
    x_v = np.concatenate([rng.uniform(0.2, 9.0, 10), rng.uniform(-2.9, -2.1, 4)])
    g_v = rng.standard_normal(x_v.shape)
    x = _mg_of(x_v, True)
    (d1,) = mg.grad(mg.lgamma(x), [x], mg.tensor(g_v), create_graph=True)
    np.testing.assert_allclose(d1.numpy(), g_v * special.psi(x_v), rtol=1e-13, atol=1e-15)
    (d2,) = mg.grad(d1.sum(), [x], create_graph=True)
    np.testing.assert_allclose(d2.numpy(), g_v * special.polygamma(1, x_v), rtol=1e-13)
    (d3,) = mg.grad(d2.sum(), [x])
    np.testing.assert_allclose(d3.numpy(), g_v * special.polygamma(2, x_v), rtol=1e-13)
    for fn in (mg.digamma, lambda t: mg.polygamma(1, t), lambda t: mg.polygamma(4, t)):
        assert mg.gradcheck(fn, (_mg_of(x_v, True),))
        assert mg.gradgradcheck(fn, (_mg_of(x_v, True),))


def test_i0_gradient_at_zero_and_i1_slope():
    x = _mg_of([0.0, 1e-8, -2.0], True)
    (g,) = mg.grad(mg.i0(x).sum(), [x], create_graph=True)
    (gg,) = mg.grad(g.sum(), [x])
    tx = _torch_of([0.0, 1e-8, -2.0], True)
    (tg,) = torch.autograd.grad(torch.i0(tx).sum(), [tx], create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), [tx])
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-13, atol=0)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-13, atol=0)  # i1'(0) = 1/2


def test_special_functions_take_integers_and_keep_float32():
    i = mg.tensor([1, 2, 3])
    for name in ("erfc", "lgamma", "digamma", "i0", "erfinv", "logit"):
        assert getattr(mg, name)(i).dtype == np.float32
    assert mg.polygamma(2, i).dtype == np.float32
    f = mg.tensor([0.25, 0.5, 3.75])
    for name in ("erfc", "erfinv", "lgamma", "digamma", "i0", "logit"):
        ours = getattr(mg, name)(f)
        assert ours.dtype == np.float32
        # computed in float64 and rounded once: PyTorch's float64 values rounded to float32 (its float32 digamma
        # is off by a few ulps)
        expected = getattr(torch, name)(torch.tensor([0.25, 0.5, 3.75], dtype=torch.float64)).float().numpy()
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1.2e-7, atol=0)


def test_special_function_errors():
    with pytest.raises(ValueError, match="polygamma: n must be a non-negative int, got -1"):
        mg.polygamma(-1, mg.tensor([1.0]))
    with pytest.raises(ValueError, match="mvlgamma: p must be an int >= 1"):
        mg.mvlgamma(mg.tensor([3.0]), 0)
    with pytest.raises(TypeError, match="erfc: expected a tensor"):
        mg.erfc(0.5)


@pytest.mark.parametrize("backend", ["numba", "cupy-standin"])
def test_special_functions_agree_across_backends(backend, request):
    if backend == "cupy-standin":
        backend = request.getfixturevalue("cupy_device")
    else:
        pytest.importorskip("numba")
    x = np.array([0.3, 1.7, 4.5, -2.5])
    for fn in (mg.erfc, mg.lgamma, mg.digamma, mg.i0, lambda t: mg.polygamma(3, t), lambda t: mg.erfinv(t / 5)):
        ours = fn(mg.tensor(x, backend=backend)).numpy()
        np.testing.assert_array_equal(ours, fn(_mg_of(x)).numpy())


def test_special_namespace_names_and_its_own_functions():
    from minigrad import special

    for alias, name in [("expit", "sigmoid"), ("gammaln", "lgamma"), ("psi", "digamma"), ("multigammaln", "mvlgamma"),
                        ("erfinv", "erfinv"), ("polygamma", "polygamma"), ("xlogy", "xlogy")]:
        assert getattr(special, alias) is getattr(mg, name)
    rng = np.random.default_rng(17)
    x = np.concatenate([rng.uniform(-30, 30, 40), [0.0, -0.0, 37.0, -37.0]])
    for name in ("ndtr", "i1"):
        fn = getattr(special, name)
        assert mg.gradcheck(fn, (_mg_of(x[:20], True),))
        assert mg.gradgradcheck(fn, (_mg_of(x[:20], True),))
    # PyTorch's ndtr loses the lower tail (0 where the CDF is 1e-92): SciPy's is the reference for its values
    scipy_special = pytest.importorskip("scipy.special")
    np.testing.assert_allclose(special.ndtr(_mg_of(x)).numpy(), scipy_special.ndtr(x), rtol=1e-13, atol=0)
    np.testing.assert_allclose(special.i1(_mg_of(x)).numpy(), torch.special.i1(_torch_of(x)).numpy(), rtol=1e-13,
                               atol=0)
    _agree(special.i1, torch.special.i1, [x[:20]], rng, tol={"rtol": 1e-12, "atol": 1e-14})
    upper = x[x > -1]  # where PyTorch's ndtr is accurate; its gradient is exact everywhere
    _agree(special.ndtr, torch.special.ndtr, [upper], rng, tol={"rtol": 1e-12, "atol": 1e-14})
    assert special.ndtr(mg.tensor([0, 1])).dtype == np.float32 and special.i1(mg.tensor([0, 1])).dtype == np.float32


def _lerp_cases(dtype):
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal(4096).astype(dtype), rng.standard_normal(4096).astype(dtype)
    special = np.array([np.inf, -np.inf, np.nan, 1e30, -1e30, 0.0, 1e-40, -2.5], dtype)
    return np.concatenate([a, special]), np.concatenate([b, special[::-1]]), rng.uniform(-1, 2, a.size + 8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weight", [0.25, 1 / 3, 0.5, 0.7, 1.0, 2.7, -0.3, "tensor"])
def test_lerp_rounds_as_pytorchs_fused_multiply_add(dtype, weight):
    """Bit for bit: PyTorch's two formulas (from ``end`` at weights of 0.5 and more) with one rounding."""
    a, b, w = _lerp_cases(np.dtype(dtype))
    weight_mg = mg.tensor(w.astype(dtype)) if weight == "tensor" else weight
    weight_torch = torch.tensor(w.astype(dtype)) if weight == "tensor" else weight
    got = mg.lerp(mg.tensor(a), mg.tensor(b), weight_mg).numpy()
    expected = torch.lerp(torch.tensor(a), torch.tensor(b), weight_torch).numpy()
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_lerp_weight_one_gives_end_exactly_and_gradients_are_the_formulas():
    a, b = mg.tensor([0.1, -3.0, 7.5], dtype=mg.float64), mg.tensor([1e-3, 2.0, -7.5], dtype=mg.float64)
    assert mg.lerp(a, b, 1.0).tolist() == b.tolist()
    rng = np.random.default_rng(9)
    upstream = mg.tensor(rng.standard_normal(3))
    for weight in (0.3, 0.8, mg.tensor(rng.uniform(0, 1, 3), requires_grad=True)):
        assert mg.gradcheck(lambda x, y, w=weight: (mg.lerp(x, y, w) * upstream).sum(),
                            (a.detach().requires_grad_(), b.detach().requires_grad_()))
    w = mg.tensor(rng.uniform(0, 1, 3), requires_grad=True)
    assert mg.gradcheck(lambda x, y, v: (mg.lerp(x, y, v) * upstream).sum(),
                        (a.detach().requires_grad_(), b.detach().requires_grad_(), w))
    assert mg.gradgradcheck(lambda x, y, v: (mg.lerp(x, y, v) * upstream).sum(),
                            (a.detach().requires_grad_(), b.detach().requires_grad_(), w))
