"""Corner cases where PyTorch's behaviour is the reference: zeros in pow, 0-d reductions, empty indexes,
in-place ops through detached aliases, and the op names that errors use."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.function import Function


def _grads(a_value, b_value):
    a = mg.tensor([a_value], dtype="float64", requires_grad=True)
    b = mg.tensor([b_value], dtype="float64", requires_grad=True)
    with np.errstate(divide="ignore"):  # 0 ** -1 = inf in the forward (the handled points do not warn)
        (a ** b).sum().backward()
    return a.grad.item(), b.grad.item()


# Expected values are PyTorch 2.13's for the same inputs.
@pytest.mark.parametrize(("a", "b", "ga", "gb"), [
    (0.0, 0.0, 0.0, 0.0),  # 0 * inf and 1 * log(0) are both defined as 0
    (0.0, 2.0, 0.0, 0.0),
    (0.0, 0.5, np.inf, 0.0),
    (0.0, -1.0, -np.inf, -np.inf),
    (2.0, 0.0, 0.0, np.log(2.0)),
    (3.0, 1.5, 1.5 * np.sqrt(3.0), 3.0 ** 1.5 * np.log(3.0)),
])
def test_pow_with_a_tensor_exponent_at_zero(a, b, ga, gb):
    assert _grads(a, b) == pytest.approx((ga, gb), rel=1e-12)


def test_pow_of_a_number_base_zero_and_negative():
    b = mg.tensor([0.0, 1.0, 2.0], dtype="float64", requires_grad=True)
    (0.0 ** b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 0.0, 0.0])
    b.grad = None
    with np.errstate(invalid="ignore"):
        (-2.0 ** b).sum().backward()  # -(2 ** b): a positive base
    np.testing.assert_allclose(b.grad.numpy(), -(2.0 ** np.arange(3.0)) * np.log(2.0))
    b.grad = None
    with np.errstate(invalid="ignore"):
        ((-2.0) ** b).sum().backward()  # log of a negative base: NaN, as in PyTorch
    assert np.isnan(b.grad.numpy()).all()


@pytest.mark.parametrize("axis", [0, -1])
def test_reductions_and_softmax_of_a_0d_tensor(axis):
    x = mg.tensor(3.0, dtype="float64", requires_grad=True)
    results = {
        "sum": x.sum(axis), "mean": x.mean(axis), "max": x.max(axis).values, "logsumexp": x.logsumexp(axis),
        "var0": x.var(axis, correction=0), "softmax": mg.softmax(x, axis), "log_softmax": mg.log_softmax(x, axis),
    }
    expected = {"sum": 3.0, "mean": 3.0, "max": 3.0, "logsumexp": 3.0, "var0": 0.0, "softmax": 1.0, "log_softmax": 0.0}
    for name, y in results.items():
        assert y.shape == () and y.item() == pytest.approx(expected[name]), name
    assert x.sum(axis, keepdims=True).shape == ()
    assert x.argmax(axis).item() == 0
    mg.softmax(x, axis).backward()
    assert x.grad.item() == 0.0
    with pytest.raises(IndexError, match="sum: axis 1 is out of range"):
        x.sum(1)


def test_empty_index_list():
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x[[]]
    assert y.shape == (0, 3)
    assert x[:, []].shape == (2, 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


def test_recorded_in_place_op_on_a_detached_alias():
    """Allowed, as in PyTorch: the alias joins the graph; the shared memory and version counter still
    make graphs that saved the original refuse to backward."""
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    y = h.exp()  # saves its output, not h
    z = h * x  # saves h
    alias = h.detach()
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    alias.mul_(w)
    assert alias.grad_fn is not None and not alias.is_leaf
    alias.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])  # the old value of the alias
    np.testing.assert_array_equal(h.numpy(), [6.0, 16.0])  # the same memory
    y.sum().backward()  # did not save h: fine
    with pytest.raises(mg.InplaceError, match="Mul"):
        z.sum().backward()


def test_recorded_in_place_op_on_a_tensor_with_a_detached_alias():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    h = x * 2.0
    alias = h.detach()
    h.add_(w)
    np.testing.assert_array_equal(alias.numpy(), [5.0, 8.0])
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])


def test_in_place_op_on_a_real_view_is_still_refused_while_recording():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    view = h[0:1]
    with pytest.raises(mg.InplaceError, match="view"):
        h.add_(x)
    with pytest.raises(mg.InplaceError, match="view"):
        view.add_(x[0:1])


@pytest.mark.parametrize(("call", "name", "error"), [
    (lambda x: x[5], "getitem", IndexError),
    (lambda x: x[[0, 7]], "getitem", IndexError),
    (lambda x: x.__setitem__(9, 1.0), "setitem", IndexError),
    (lambda x: x.__setitem__(slice(0, 2), mg.tensor([1.0, 2.0, 3.0])), "setitem", mg.ShapeError),
    (lambda x: x.reshape(2, 2) @ mg.ones(3, 1), "matmul", mg.ShapeError),
])
def test_errors_name_the_public_op(call, name, error):
    x = mg.tensor([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(error, match=f"^{name}: "):
        call(x)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0, 3.0, 4.0])


def test_default_op_names_are_snake_case():
    class LogSomethingOdd(Function):
        pass

    assert LogSomethingOdd.op_name == "log_something_odd"
    from minigrad.ops.softmax import LogSoftmax

    assert LogSoftmax.op_name == "log_softmax"


def test_a_value_error_that_is_not_about_shapes_is_not_a_shape_error():
    class Refuses(Function):
        @staticmethod
        def forward(ctx, x):
            raise ValueError("this value makes no sense")

    with pytest.raises(ValueError, match="refuses: invalid inputs.*makes no sense") as info:
        Refuses.apply(mg.tensor([1.0]))
    assert isinstance(info.value, mg.MinigradError) and not isinstance(info.value, mg.ShapeError)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("backend", mg.testing.available_backends())
def test_handled_cases_raise_no_numpy_warning(backend):
    """Where minigrad handles an edge case itself, NumPy's warnings about its intermediate values stay inside."""
    with mg.backend(backend):
        a = mg.tensor([0.0, 0.0, 2.0], dtype="float64", requires_grad=True)
        b = mg.tensor([0.0, 0.5, -1.0], dtype="float64", requires_grad=True)
        (a ** b).sum().backward()
        row = mg.tensor([[-np.inf, -np.inf], [0.0, 1.0]], dtype="float64")
        assert mg.logsumexp(row, 1).numpy()[0] == -np.inf


@pytest.mark.parametrize("op", ["max", "min"])  # (PyTorch's amax gives NaN gradients there; ours follows max)
def test_a_nan_extremum_gets_the_gradient_as_in_pytorch(op):
    torch = pytest.importorskip("torch")
    values = np.array([1.0, np.nan, 3.0, np.nan])
    x = mg.tensor(values, requires_grad=True)
    t = torch.tensor(values, requires_grad=True)
    getattr(x, op)().backward()
    getattr(t, op)().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "pow0", "div_floor", "div_trunc"])
def test_piecewise_constant_ops_pass_exact_zeros_even_for_non_finite_upstream_gradients(name):
    """PyTorch's rule for these is zeros_like(grad): an inf or NaN upstream still gives 0, not inf * 0."""
    x = mg.tensor([1.5, -2.0, 0.0], dtype=mg.float64, requires_grad=True)
    y = {"pow0": lambda: x ** 0.0, "div_floor": lambda: mg.div(x, 2.0, rounding_mode="floor"),
         "div_trunc": lambda: mg.div(x, 2.0, rounding_mode="trunc")}.get(name, lambda: getattr(mg, name)(x))()
    y.backward(mg.tensor([np.inf, np.nan, -np.inf], dtype=mg.float64))
    assert np.array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_sign_is_differentiable_with_a_zero_gradient_as_pytorch():
    x = mg.tensor([1.5, -2.0, 0.0, np.nan], dtype=mg.float64, requires_grad=True)
    for y in (x.sign(), mg.sgn(x)):
        assert y.requires_grad and np.array_equal(y.numpy(), [1.0, -1.0, 0.0, 0.0])
        (grad,) = mg.autograd.grad(y, x, mg.tensor([1.0, np.inf, 2.0, 3.0], dtype=mg.float64))
        assert np.array_equal(grad.numpy(), [0.0, 0.0, 0.0, 0.0])


def test_a_given_gradient_is_cast_to_its_outputs_dtype_as_pytorch():
    """backward(gradient) and autograd.grad(grad_outputs) round a float64 gradient of a float32 output to float32
    (and widen a float32 or integer one exactly), as PyTorch's engine does."""
    upstream = np.array([0.1, 1 / 3])
    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    (x.float() * 1).backward(mg.tensor(upstream, dtype=mg.float64))
    assert np.array_equal(x.grad.numpy(), upstream.astype(np.float32).astype(np.float64))
    (g,) = mg.autograd.grad(x * 1, x, mg.tensor([1, 2]))
    assert g.dtype == mg.float64 and np.array_equal(g.numpy(), [1.0, 2.0])
