"""Testing helpers: check that a function gives the same numbers on every backend.

``assert_backends_agree(fn, *inputs)`` runs ``fn`` on each available backend (with the inputs moved there,
memory layout included) and compares its outputs, its gradients for a random upstream gradient and,
if asked, its second-order gradients against the NumPy reference backend. ``minigrad.testing.strategies``
holds Hypothesis strategies (Hypothesis is imported only there). See ``docs/testing.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .. import backends as _backends
from ._core import (
    FLOAT_DTYPES,
    REFERENCE_BACKEND,
    REPRO_ENV_VAR,
    Evaluation,
    Input,
    Layout,
    Tolerance,
    assert_close,
    compare_evaluations,
    default_tolerance,
    evaluate,
    function_path,
    write_reproducer,
)

__all__ = [
    "FLOAT_DTYPES", "REFERENCE_BACKEND", "REPRO_ENV_VAR", "Evaluation", "Input", "Layout", "Tolerance",
    "assert_backends_agree", "assert_close", "available_backends", "default_tolerance", "evaluate",
]

# Second-order gradients go through about twice as many ops as first-order ones.
_GRAD2_FACTOR = 4.0


def available_backends() -> list[str]:
    """The names of the backends that load on this machine (``numpy`` always does)."""
    return [name for name, ok in _backends.available().items() if ok is True]


def assert_backends_agree(fn: Callable, *inputs, backends: Iterable[str] | None = None, grad: bool = True,
                          double_grad: bool = False, rtol: float | None = None, atol: float | None = None,
                          seed: int = 0, kwargs: dict | None = None,
                          repro_dir: str | None = None) -> list[str]:
    """Assert that ``fn(*inputs, **kwargs)`` gives the same results on every backend as on NumPy.

    - ``inputs``: tensors keep their values, dtype, ``requires_grad`` and memory layout (a transposed or
      strided view is rebuilt as such on each backend); floating NumPy arrays become tensors that require
      grad, other arrays constant tensors; anything else (numbers, tuples) is passed through unchanged.
    - ``backends``: the backends to check (default: every available one); NumPy is always the reference.
    - ``grad``: also compare the gradients of every input that requires grad, for a seeded random upstream
      gradient (never all ones). ``double_grad``: also compare the gradients of
      ``sum_i <grad_i, w_i>`` (random ``w_i``) w.r.t. the inputs and the upstream gradients, computed with
      ``minigrad.grad(..., create_graph=True)``.
    - ``rtol``/``atol``: elementwise ``|actual - numpy| <= atol + rtol * |numpy|``. The defaults depend on the
      dtype (float32: 1e-5 / 1e-6, float64: 1e-10 / 1e-12); the default ``atol`` is multiplied by the largest
      ``|value|`` of each compared tensor, and second-order gradients get 4x the default tolerances.
    - On a disagreement raises ``AssertionError`` naming both backends, the output or input, the worst
      index, both values and the tolerances. If ``repro_dir`` (or ``$MINIGRAD_REPRO_DIR``) is set and ``fn``
      is importable by name, a reproducer is written there first (``python -m minigrad.testing.repro``).

    Returns the names of the backends that were compared with NumPy.
    """
    import os

    cases = [Input.from_argument(a) for a in inputs]
    names = available_backends() if backends is None else list(backends)
    explicit = rtol is not None or atol is not None

    def tolerance_for(kind: str, dtype: np.dtype) -> Tolerance:
        base = default_tolerance(dtype)
        tol = Tolerance(base.rtol if rtol is None else rtol, base.atol if atol is None else atol)
        return tol.scaled(_GRAD2_FACTOR) if kind == "grad2" and not explicit else tol

    where = getattr(fn, "__qualname__", repr(fn))

    def run(name: str) -> Evaluation:
        try:
            return evaluate(fn, cases, name, seed=seed, grad=grad, double_grad=double_grad, kwargs=kwargs,
                            where=where)
        except AssertionError:
            raise
        except Exception as exc:
            raise AssertionError(f"{where} raised on backend {name!r}: {type(exc).__name__}: {exc}") from exc

    compared: list[str] = []
    try:
        expected = run(REFERENCE_BACKEND)
        for name in names:
            if name == REFERENCE_BACKEND:
                continue
            actual = run(name)
            compare_evaluations(actual, expected, tolerance_for, scale_atol=atol is None, context=where)
            compared.append(name)
    except AssertionError as exc:
        folder = repro_dir or os.environ.get(REPRO_ENV_VAR)
        entry = function_path(fn)
        if folder and entry is not None:
            arguments = {"fn": entry, "backends": names, "grad": grad, "double_grad": double_grad,
                         "rtol": rtol, "atol": atol, "seed": seed, "kwargs": kwargs}
            _, command = write_reproducer(f"agree-{entry}", "minigrad.testing:_replay_agreement", cases,
                                          arguments, str(exc), folder)
            raise AssertionError(f"{exc}\nreproduce with: {command}") from exc.__cause__
        raise
    return compared


def _replay_agreement(inputs: list[Input], *, fn: str, backends, grad, double_grad, rtol, atol, seed,
                      kwargs) -> None:
    """Replay entry of reproducers written by ``assert_backends_agree``."""
    from .repro import resolve_entry

    function = resolve_entry(fn)
    args = [inp.materialize(_backends.load(REFERENCE_BACKEND)) if inp.is_tensor else inp.passthrough
            for inp in inputs]
    assert_backends_agree(function, *args, backends=backends, grad=grad, double_grad=double_grad, rtol=rtol,
                          atol=atol, seed=seed, kwargs=kwargs)
