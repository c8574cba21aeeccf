"""Every op x every available backend against the float64 reference and the NumPy backend.

Driven by the table in tests/op_specs.py. Per example: forward vs the NumPy float64 reference (and the
output dtype), gradients and double gradients vs the NumPy backend for a random upstream gradient; on NumPy,
float64 finite differences (gradcheck/gradgradcheck). Fused kernels are compared with their composite
definitions on every backend. A failure writes a reproducer (see minigrad.testing.repro).
"""

from __future__ import annotations

import importlib.util
import inspect
import pkgutil
from pathlib import Path

import numpy as np
import pytest
from _dummy_backend import register
from hypothesis import given, settings
from hypothesis import strategies as st
from op_specs import (
    FUSED_CHECKS,
    MIXED_DTYPE_EXEMPT,
    SPECS,
    check_mixed_dtypes,
    draw_inputs,
    public_ops,
    run_and_record,
    unregistered_public_names,
)

import minigrad.ops

try:
    from _cupy_standin import NAME as STANDIN
    from _cupy_standin import CupyStandIn
except ImportError:  # numba-cuda is not installed: no stand-in
    STANDIN = CupyStandIn = None
from minigrad.function import Function
from minigrad.testing import available_backends
from minigrad.testing import strategies as mst

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = available_backends()
# The CuPy backend's own code also runs on its CPU stand-in (tests/_cupy_standin.py): NumPy arrays, and its
# kernels under Numba's CUDA simulator, which runs every GPU thread in Python; hence a smaller share of the
# example budget. On a GPU machine (MINIGRAD_GPU_TESTS=1) the real cupy backend is in BACKENDS instead.
STANDIN_BACKENDS = [STANDIN] if STANDIN and "cupy" not in BACKENDS else []
STANDIN_SHARE = 0.15
AGREEMENT_MAX_SIZE = 48  # elements per input array
GRADCHECK_MAX_SIZE = 12  # finite differences cost two evaluations per element (more for double backward)
SEEDS = st.integers(0, 2**32 - 1)


@pytest.fixture(autouse=True)
def _standin_registered(request, monkeypatch):
    """Register the CuPy stand-in for the tests that run on it (and only for them)."""
    callspec = getattr(request.node, "callspec", None)
    if STANDIN and callspec is not None and callspec.params.get("backend") == STANDIN:
        register(monkeypatch, STANDIN, CupyStandIn)


def _examples(fraction: float) -> int:
    """A share of the active profile's example budget (so the thorough profile scales every test)."""
    return max(1, int(settings().max_examples * fraction))


def _params(items, backends, skip_of):
    params = []
    for item in items:
        for backend in backends:
            reason = skip_of(item).get(backend)
            marks = [pytest.mark.skip(reason=f"known gap: {reason}")] if reason else []
            params.append(pytest.param(item, backend, marks=marks, id=f"{item.name}-{backend}"))
    return params


@pytest.mark.parametrize(("spec", "backend"), _params(SPECS, BACKENDS, lambda s: s.skip))
@settings(max_examples=_examples(2.5))
@given(data=st.data())
def test_op_agrees(spec, backend, data):
    _agrees(spec, backend, data)


@pytest.mark.parametrize(("spec", "backend"), _params(SPECS, STANDIN_BACKENDS, lambda s: s.skip))
@settings(max_examples=_examples(STANDIN_SHARE))
@given(data=st.data())
def test_op_agrees_on_cupy_standin(spec, backend, data):
    _agrees(spec, backend, data)


def _agrees(spec, backend, data):
    dtype = data.draw(mst.dtypes(), label="dtype")
    case = data.draw(spec.case(dtype, AGREEMENT_MAX_SIZE), label="case")
    inputs = data.draw(draw_inputs(case), label="inputs")
    seed = data.draw(SEEDS, label="seed")
    run_and_record("agreement", spec.name, case, inputs, backend, seed)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.gradcheck], ids=lambda s: s.name)
@settings(max_examples=_examples(1.0))
@given(data=st.data())
def test_gradcheck_float64_numpy(spec, data):
    case = data.draw(spec.case(np.dtype("float64"), GRADCHECK_MAX_SIZE), label="case")
    inputs = data.draw(draw_inputs(case), label="inputs")
    run_and_record("gradcheck", spec.name, case, inputs, "numpy", 0)


@pytest.mark.parametrize(("check", "backend"), _params(FUSED_CHECKS, BACKENDS, lambda c: {}))
@settings(max_examples=_examples(2.5))
@given(data=st.data())
def test_fused_matches_composite(check, backend, data):
    _fused_matches(check, backend, data)


@pytest.mark.parametrize(("check", "backend"), _params(FUSED_CHECKS, STANDIN_BACKENDS, lambda c: {}))
@settings(max_examples=_examples(STANDIN_SHARE))
@given(data=st.data())
def test_fused_matches_composite_on_cupy_standin(check, backend, data):
    _fused_matches(check, backend, data)


def _fused_matches(check, backend, data):
    dtype = data.draw(mst.dtypes(), label="dtype")
    case = data.draw(check.case(dtype, AGREEMENT_MAX_SIZE), label="case")
    inputs = data.draw(draw_inputs(case), label="inputs")
    seed = data.draw(SEEDS, label="seed")
    run_and_record("fused", check.name, case, inputs, backend, seed)


MIXED_SPECS = [s for s in SPECS if s.name not in MIXED_DTYPE_EXEMPT]


@pytest.mark.parametrize(("spec", "backend"), _params(MIXED_SPECS, BACKENDS, lambda s: s.skip))
@settings(max_examples=_examples(0.5))
@given(data=st.data())
def test_integer_operand_takes_the_float_dtype(spec, backend, data):
    """One promotion rule for every op (docs/architecture.md): a float32 tensor meeting an int64 tensor gives
    float32, whichever operand is the integer one (``int64 @ float32``, an int64 image into conv2d, ...)."""
    case = data.draw(spec.case(np.dtype("float32"), AGREEMENT_MAX_SIZE), label="case")
    floating = [i for i, a in enumerate(case.arrays) if a.dtype.kind == "f"]
    if len(floating) < 2:
        return  # a single floating operand: nothing to mix
    which = data.draw(st.sampled_from(floating), label="integer operand")
    check_mixed_dtypes(spec, case, which, backend)


def test_mixed_dtype_exemptions_are_ops_with_several_float_operands():
    assert set(MIXED_DTYPE_EXEMPT) <= {s.name for s in SPECS}


def test_every_public_op_has_a_spec():
    covered = {id(spec.op) for spec in SPECS}
    missing = sorted(name for name, fn in public_ops().items() if id(fn) not in covered)
    assert not missing, (
        f"public differentiable ops without a spec: {', '.join(missing)}. Add a Spec to SPECS in "
        "tests/op_specs.py (or list the name in NO_SPEC with a reason), then run python tools/gen_coverage.py"
    )


def test_every_public_function_is_registered():
    """A public function defined in nn.functional without ``@_public`` would escape the spec check above (ops
    cannot: an undeclared op is not exported): each must be registered or listed in UNREGISTERED with a reason."""
    missing = unregistered_public_names()
    assert not missing, (
        f"public functions in no registry: {', '.join(missing)}. Register each (@_public in nn.functional, if "
        "differentiable) or list it in UNREGISTERED in tests/op_specs.py with a reason"
    )


def _fused_backward_ops() -> dict[str, type]:
    """Function subclasses in minigrad.ops named *Backward: fused kernels used by backward rules."""
    found = {}
    for info in pkgutil.iter_modules(minigrad.ops.__path__):
        module = importlib.import_module(f"minigrad.ops.{info.name}")
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, Function) and name.endswith("Backward") \
                    and obj.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_fused_backward_op_has_a_composite_check():
    checked = {c.name.split(" ")[0] for c in FUSED_CHECKS}
    missing = sorted(name for name, cls in _fused_backward_ops().items() if cls.__name__ not in checked)
    assert not missing, (
        f"fused backward ops without a FusedCheck: {', '.join(missing)}. Add one to FUSED_CHECKS in "
        "tests/op_specs.py, named '<ClassName> vs <composite>'"
    )


def test_coverage_doc_is_fresh():
    spec = importlib.util.spec_from_file_location("gen_coverage", ROOT / "tools" / "gen_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = ROOT / "docs" / "coverage.md"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    assert current == module.render(), "docs/coverage.md is stale: run python tools/gen_coverage.py"
