"""Finite-difference gradient checks: ``gradcheck`` and ``gradgradcheck``.

Both compare the full Jacobian: the analytic one, row by row with one backward pass per output element,
against central differences, column by column with two evaluations per input element. They need float64
inputs, because float32 rounding swamps any useful step size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .engine import grad as _grad
from .errors import GradcheckError
from .tensor import Tensor


@dataclass
class GradcheckReport:
    """What a gradient check found; truthy when it passed."""

    passed: bool
    input_index: int | None = None
    output_index: int | None = None
    input_element: tuple | None = None
    output_element: tuple | None = None
    analytic: float | None = None
    numeric: float | None = None
    atol: float = 0.0
    rtol: float = 0.0
    max_abs_error: float = 0.0
    check: str = "gradcheck"  # or "gradgradcheck (second-order check)"
    legend: str = ""  # what "output i" and "input j" refer to, where it is not the function's own

    def __bool__(self) -> bool:
        return self.passed

    def message(self) -> str:
        if self.passed:
            return f"{self.check} passed (max |analytic - numeric| = {self.max_abs_error:.3g})"
        return (
            f"{self.check} failed: d(output {self.output_index}{list(self.output_element)}) / "
            f"d(input {self.input_index}{list(self.input_element)}): analytic {self.analytic!r} vs numeric "
            f"{self.numeric!r}, |difference| {abs(self.analytic - self.numeric):.3g} exceeds "
            f"atol {self.atol:g} + rtol {self.rtol:g} * |numeric|" + (f". {self.legend}" if self.legend else "")
        )


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn: Callable, inputs: tuple) -> tuple:
    outs = _as_tuple(fn(*inputs))
    for i, out in enumerate(outs):
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: output {i} of the function is a {type(out).__name__}, not a tensor")
    return outs


def _host(t: Tensor) -> np.ndarray:
    return np.array(t.numpy(), dtype=np.float64, copy=True)


def _numeric_jacobians(fn, inputs, wrt, outputs, eps) -> dict:
    """J[(o, i)] with shape (outputs[o].size, inputs[i].size), by central differences."""
    jac = {(o, i): np.zeros((outputs[o].numel(), inputs[i].numel())) for o in range(len(outputs)) for i in wrt}
    for i in wrt:
        t = inputs[i]
        backend = t._backend
        for j, index in enumerate(np.ndindex(*t.shape)):
            original = float(backend.to_numpy(t.array[index]))
            backend.setitem(t.array, index, original + eps)
            plus = [_host(o) for o in _outputs(fn, inputs)]
            backend.setitem(t.array, index, original - eps)
            minus = [_host(o) for o in _outputs(fn, inputs)]
            backend.setitem(t.array, index, original)
            for o in range(len(outputs)):
                jac[(o, i)][:, j] = ((plus[o] - minus[o]) / (2 * eps)).reshape(-1)
    return jac


def _analytic_jacobians(fn, inputs, wrt, outputs) -> dict:
    """J[(o, i)] by one backward pass per output element (one-hot upstream gradients)."""
    jac = {(o, i): np.zeros((outputs[o].numel(), inputs[i].numel())) for o in range(len(outputs)) for i in wrt}
    outs = _outputs(fn, inputs)
    diff_inputs = [inputs[i] for i in wrt]
    for o, out in enumerate(outs):
        if not out.requires_grad:
            continue
        backend = out._backend
        for k in range(out.numel()):
            onehot = np.zeros(out.numel(), dtype=out.dtype)
            onehot[k] = 1
            seed = Tensor(backend.from_numpy(onehot.reshape(out.shape)), backend)
            grads = _grad(out, diff_inputs, seed, retain_graph=True, allow_unused=True)
            for i, g in zip(wrt, grads):
                if g is not None:
                    jac[(o, i)][k, :] = _host(g).reshape(-1)
    return jac


def gradcheck(fn: Callable, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> GradcheckReport:
    """Check ``fn``'s gradients for every input that requires grad against central differences."""
    inputs = _as_tuple(inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; pass tensors with requires_grad=True")
    for i in wrt:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype.name}; gradcheck needs float64 inputs "
                "(use .double())"
            )
    outputs = _outputs(fn, inputs)
    _check_deterministic(fn, inputs, outputs)
    numeric = _numeric_jacobians(fn, inputs, wrt, outputs, eps)
    analytic = _analytic_jacobians(fn, inputs, wrt, outputs)
    report = GradcheckReport(passed=True, atol=atol, rtol=rtol)
    worst_excess = -np.inf
    for (o, i), num in numeric.items():
        ana = analytic[(o, i)]
        if num.size == 0:
            continue
        diff = np.abs(ana - num)
        report.max_abs_error = max(report.max_abs_error, float(diff.max()))
        excess = diff - (atol + rtol * np.abs(num))
        excess = np.where(np.isnan(excess), np.inf, excess)  # a NaN on either side is a failure
        k, j = np.unravel_index(int(np.argmax(excess)), excess.shape)
        if excess[k, j] > 0 and excess[k, j] > worst_excess:
            worst_excess = excess[k, j]
            report.passed = False
            report.input_index, report.output_index = i, o
            report.input_element = np.unravel_index(j, inputs[i].shape) if inputs[i].ndim else ()
            report.output_element = np.unravel_index(k, outputs[o].shape) if outputs[o].ndim else ()
            report.input_element = tuple(int(v) for v in report.input_element)
            report.output_element = tuple(int(v) for v in report.output_element)
            report.analytic, report.numeric = float(ana[k, j]), float(num[k, j])
    if not report.passed and raise_exception:
        raise GradcheckError(report.message(), report)
    return report


def _check_deterministic(fn: Callable, inputs: tuple, outputs: tuple) -> None:
    """Finite differences assume the same input gives the same output: a function that draws random numbers
    (dropout in training mode, randn inside) would be reported as a wrong gradient instead."""
    again = _outputs(fn, inputs)
    for i, (first, second) in enumerate(zip(outputs, again)):
        a, b = _host(first), _host(second)
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
            change = f"max |difference| {np.max(np.abs(a - b)):.3g}" if a.shape == b.shape else "its shape"
            raise GradcheckError(
                f"gradcheck: the function is not deterministic: output {i} changed between two calls with the "
                f"same inputs ({change}), so finite differences cannot check its gradient. Make it "
                "deterministic (no random numbers inside, e.g. dropout in eval mode or a fixed mask)",
                GradcheckReport(passed=False, output_index=i),
            )


def gradgradcheck(fn: Callable, inputs, grad_outputs: Sequence[Tensor] | None = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
                  seed: int = 0) -> GradcheckReport:
    """Check second-order gradients: gradcheck of the map (inputs, v) -> vᵀ·J(inputs).

    The upstream gradients ``v`` are random (seeded) unless given, and are checked as inputs too.
    """
    inputs = _as_tuple(inputs)
    wrt = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(
            Tensor(o._backend.from_numpy(rng.standard_normal(o.shape)), o._backend).requires_grad_()
            for o in outputs
        )
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def first_derivative(*args):
        xs, vs = args[:n], args[n:]
        outs = _as_tuple(fn(*xs))
        pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        grads = _grad([o for o, _ in pairs], [xs[i] for i in wrt], [v for _, v in pairs],
                      create_graph=True, allow_unused=True)
        return tuple(g if g is not None else xs[i] * 0 for i, g in zip(wrt, grads))

    report = gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                       raise_exception=False)
    report.check = "gradgradcheck (second-order check)"
    report.legend = (
        f"Here output k is the gradient (the vector-Jacobian product with the upstream gradients v) with respect "
        f"to the k-th input that requires grad (inputs {wrt}); input j < {n} is the function's input j, input "
        f"j >= {n} is the upstream gradient v of output j - {n}"
    )
    if not report.passed and raise_exception:
        raise GradcheckError(report.message(), report)
    return report
