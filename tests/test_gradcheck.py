"""gradcheck and gradgradcheck: they pass on correct ops, insist on float64, and catch planted bugs."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import Function


def leaf(values, dtype="float64") -> mg.Tensor:
    return mg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


X = [[0.4, -0.7, 1.1], [0.9, 0.3, -1.3]]


# -- correct ops pass ----------------------------------------------------------------------------


def test_passes_on_correct_ops_and_returns_a_truthy_report():
    report = mg.gradcheck(lambda a, b: (a * b.exp()).sum(1) / (1 + a * a).sum(), (leaf(X), leaf([0.5, -0.2, 0.1])))
    assert isinstance(report, mg.GradcheckReport) and report and report.passed
    assert report.max_abs_error < 1e-6
    assert "passed" in report.message()
    assert mg.gradgradcheck(lambda a: (a.tanh() @ a.T).sigmoid(), leaf(X))


def test_several_outputs_and_inputs_that_do_not_require_grad():
    w = mg.tensor(np.array([[1.0, 2.0], [0.5, -1.0], [0.25, 0.75]]))
    assert mg.gradcheck(lambda a: (a @ w, a.exp()), leaf(X))
    assert mg.gradgradcheck(lambda a, b: (a @ b, (a * a).sum()), (leaf(X), leaf(w.numpy())))


def test_needs_float64():
    with pytest.raises(TypeError, match=r"input 0.*float32.*float64"):
        mg.gradcheck(mg.exp, leaf(X, dtype="float32"))
    with pytest.raises(TypeError, match="float64"):
        mg.gradgradcheck(mg.exp, leaf(X, dtype="float32"))


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        mg.gradcheck(mg.exp, mg.tensor(np.ones(2)))


def test_restores_the_inputs():
    x = leaf(X)
    before = x.numpy().copy()
    mg.gradcheck(mg.sin, x)
    mg.gradgradcheck(mg.sin, x)
    np.testing.assert_array_equal(x.numpy(), before)


# -- planted bugs --------------------------------------------------------------------------------


class WrongSign(Function):
    """sin with d/dx = -cos (wrong sign)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.sin(x.array)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * x.cos()


class MissingFactor(Function):
    """x**2 with d/dx = x (the factor 2 is missing)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.multiply(x.array, x.array)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x


class WrongSecondInput(Function):
    """a * b where the gradient of b is wrong (uses b instead of a); a's gradient is right."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.multiply(a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g * b


class DetachedCube(Function):
    """x**3 whose backward is right to first order but uses x**2 as a constant: its double backward is 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.power(x.array, 3)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        x_squared = mg.Tensor(ctx.backend.multiply(x.array, x.array), ctx.backend)  # outside the graph
        return g * x_squared * 3


class IgnoresUpstreamInDoubleBackward(Function):
    """exp whose backward is right to first order but whose second-order path drops the upstream gradient."""

    save_output = True

    @staticmethod
    def forward(ctx, x):
        return ctx.backend.exp(x.array)

    @staticmethod
    def backward(ctx, g):
        return _HalfRightBackward.apply(g, ctx.output)


class _HalfRightBackward(Function):
    """g * y, whose own backward returns the right gradient for g but a wrong one (gg instead of gg * g) for y."""

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return ctx.backend.multiply(g.array, y.array)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        return gg * y, gg


@pytest.mark.parametrize(("fn", "values"), [
    (WrongSign.apply, X),
    (MissingFactor.apply, X),
    (lambda a, b: WrongSecondInput.apply(a, b), None),
])
def test_gradcheck_catches_wrong_first_derivatives(fn, values):
    inputs = (leaf(X),) if values is not None else (leaf(X), leaf(np.array(X) * 0.5 + 1))
    with pytest.raises(mg.GradcheckError, match="analytic .* vs numeric"):
        mg.gradcheck(fn, inputs)
    # (gradgradcheck differentiates the analytic first derivative, as PyTorch's does: a backward that is
    # wrong but self-consistent passes it, which is why every op gets both checks.)


@pytest.mark.parametrize("fn", [DetachedCube.apply, IgnoresUpstreamInDoubleBackward.apply])
def test_only_gradgradcheck_catches_wrong_second_derivatives(fn):
    assert mg.gradcheck(fn, leaf(X))
    with pytest.raises(mg.GradcheckError):
        mg.gradgradcheck(fn, leaf(X))


def test_error_message_names_input_index_values_and_tolerances():
    a, b = leaf([0.5, 1.0]), leaf([2.0, -3.0])
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(WrongSecondInput.apply, (a, b), atol=1e-6, rtol=1e-4)
    message = str(info.value)
    report = info.value.report
    # Only input 1 (b) is wrong; its worst element is index 1 (analytic g*b = -3, numeric a = 1).
    assert report.input_index == 1 and report.input_element == (1,) and report.output_element == (1,)
    assert report.analytic == pytest.approx(-3.0) and report.numeric == pytest.approx(1.0, rel=1e-6)
    assert report.atol == 1e-6 and report.rtol == 1e-4
    for fact in ("input 1", "[1]", "-3.0", "1.0", "atol 1e-06", "rtol 0.0001"):
        assert fact in message, (fact, message)


def test_raise_exception_false_returns_a_report_with_the_same_facts():
    a, b = leaf([0.5, 1.0]), leaf([2.0, -3.0])
    report = mg.gradcheck(WrongSecondInput.apply, (a, b), raise_exception=False)
    assert not report and report.passed is False
    assert report.input_index == 1 and report.input_element == (1,)
    assert report.analytic == pytest.approx(-3.0) and report.numeric == pytest.approx(1.0, rel=1e-6)
    assert report.max_abs_error == pytest.approx(4.0, rel=1e-6)
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(WrongSecondInput.apply, (a, b))
    assert str(info.value) == report.message()
    second = mg.gradgradcheck(DetachedCube.apply, leaf(X), raise_exception=False)
    assert not second and second.analytic is not None and second.numeric is not None
    assert "analytic" in second.message() and "numeric" in second.message()


def test_tolerances_are_not_vacuous():
    """A 1% error in the derivative is caught at the default tolerances."""

    class SlightlyOff(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return ctx.backend.exp(x.array)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.exp() * 1.01

    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(SlightlyOff.apply, leaf(X))
    assert mg.gradcheck(SlightlyOff.apply, leaf(X), rtol=0.05, atol=0.0)


def test_a_nan_gradient_fails():
    class NanGrad(Function):
        @staticmethod
        def forward(ctx, x):
            return ctx.backend.copy(x.array)

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(NanGrad.apply, leaf([1.0, 2.0]))


def test_an_output_that_ignores_an_input_has_zero_gradient():
    assert mg.gradcheck(lambda a, b: a * 2.0, (leaf([1.0]), leaf([3.0])))
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(lambda a, b: a * b.detach(), (leaf([1.0]), leaf([3.0])))


def test_gradcheck_says_when_the_function_is_not_deterministic():
    x = mg.tensor(np.linspace(-1, 1, 4), requires_grad=True)
    with pytest.raises(mg.GradcheckError, match="not deterministic: output 0 changed between two calls"):
        mg.gradcheck(lambda a: a * mg.randn(4, dtype="float64"), x)
    # 64 elements: two dropout masks agree with probability 2**-64 (with 4, 1/16: the test was flaky)
    wide = mg.tensor(np.linspace(-1, 1, 64), requires_grad=True)
    with pytest.raises(mg.GradcheckError, match="not deterministic"):
        mg.gradcheck(lambda a: mg.nn.functional.dropout(a, 0.5), wide)


def test_gradgradcheck_failure_names_the_second_order_check_and_its_indices():
    class WrongSecondDerivative(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.array ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x * x).detach() * 3  # right first derivative, detached: no second

    x = mg.tensor(np.linspace(0.5, 1.5, 3), requires_grad=True)
    assert mg.gradcheck(WrongSecondDerivative.apply, x)
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradgradcheck(WrongSecondDerivative.apply, x)
    message = str(info.value)
    assert message.startswith("gradgradcheck (second-order check) failed: d(output 0")
    assert "output k is the gradient" in message and "input j >= 1 is the upstream gradient" in message
