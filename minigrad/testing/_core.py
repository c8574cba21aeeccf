"""Machinery shared by ``assert_backends_agree``, the project's agreement suite and the reproducers.

Nothing here imports Hypothesis. The pieces:

- ``Layout``: how a test input sits in memory (contiguous, transposed, strided, reversed), rebuilt
  identically on every backend through the backend protocol (``from_numpy``, ``getitem``, ``transpose``).
- ``Input`` and ``evaluate``: run a function on one backend and collect, as float64 host arrays, its
  outputs, the gradients for a seeded random upstream gradient and, optionally, second-order gradients.
- ``assert_close`` / ``compare_evaluations``: elementwise ``|actual - expected| <= atol + rtol * |expected|``
  with a message that names what disagreed, where, by how much and against which tolerance.
- ``write_reproducer``: save a failing case as ``.npz`` plus a one-line command that replays it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import backends as _backends
from ..engine import grad as _grad
from ..tensor import Tensor

REFERENCE_BACKEND = "numpy"
REPRO_ENV_VAR = "MINIGRAD_REPRO_DIR"
FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))


# -- tolerances ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tolerance:
    """``|actual - expected| <= atol + rtol * |expected|``, elementwise."""

    rtol: float
    atol: float

    def scaled(self, factor: float) -> Tolerance:
        return Tolerance(self.rtol * factor, self.atol * factor)


# Same-dtype agreement between two backends: a few ulps of relative error plus an absolute floor that
# assert_backends_agree scales by the largest |expected| of each tensor (cancellation in sums).
_DEFAULT_TOLERANCES = {
    np.dtype("float32"): Tolerance(rtol=1e-5, atol=1e-6),
    np.dtype("float64"): Tolerance(rtol=1e-10, atol=1e-12),
}


def default_tolerance(dtype) -> Tolerance:
    """The default backend-agreement tolerance for ``dtype`` (float32 or float64)."""
    dtype = np.dtype(dtype)
    if dtype in _DEFAULT_TOLERANCES:
        return _DEFAULT_TOLERANCES[dtype]
    if dtype.kind == "f":  # float16 and friends: a few ulps
        eps = float(np.finfo(dtype).eps)
        return Tolerance(rtol=8 * eps, atol=8 * eps)
    return Tolerance(rtol=0.0, atol=0.0)  # integers and bools must match exactly


def _fmt(value: float) -> str:
    return f"{value:.9g}"


def assert_close(actual, expected, rtol: float | None = None, atol: float | None = None, *,
                 name: str = "value", actual_label: str = "actual", expected_label: str = "expected") -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise (NaN only matches NaN).

    ``actual``/``expected`` are tensors, arrays or numbers; the defaults come from ``expected``'s dtype.
    The message names ``name``, the worst index, both values and the tolerances.
    """
    a = _host(actual)
    e = _host(expected)
    dtype = _dtype_of(actual, expected)
    if rtol is None or atol is None:
        tol = default_tolerance(dtype)
        rtol = tol.rtol if rtol is None else rtol
        atol = tol.atol if atol is None else atol
    if a.shape != e.shape:
        raise AssertionError(
            f"{name}: shapes differ: {actual_label} has shape {a.shape}, {expected_label} has shape {e.shape}"
        )
    a64 = a.astype(np.float64) if a.dtype.kind in "fiub" else a
    e64 = e.astype(np.float64) if e.dtype.kind in "fiub" else e
    both_nan = np.isnan(a64) & np.isnan(e64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a64 - e64)
        allowed = atol + rtol * np.abs(e64)
        same_inf = (a64 == e64) & np.isinf(e64)
        bad = ~((diff <= allowed) | both_nan | same_inf)
    if not bad.any():
        return
    excess = np.where(bad, np.nan_to_num(diff - allowed, nan=np.inf, posinf=np.inf), -np.inf)
    flat = int(np.argmax(excess))
    index = tuple(int(i) for i in np.unravel_index(flat, a.shape)) if a.ndim else ()
    av, ev = a64[index], e64[index]
    raise AssertionError(
        f"{name}: {int(bad.sum())} of {bad.size} element(s) differ; worst at index {index}: "
        f"{actual_label}={_fmt(av)}, {expected_label}={_fmt(ev)}, |difference|={_fmt(abs(av - ev))} > "
        f"atol {atol:.3g} + rtol {rtol:.3g} * |{expected_label}| = {_fmt(atol + rtol * abs(ev))}"
    )


def _host(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return np.asarray(x.numpy())
    return np.asarray(x)


def _dtype_of(*xs) -> np.dtype:
    for x in xs:
        dtype = getattr(x, "dtype", None)
        if dtype is not None and np.dtype(dtype).kind == "f":
            return np.dtype(dtype)
    return np.dtype("float64")


# -- memory layouts -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """How an input sits in memory: ``perm`` stores the axes in that order (so the tensor is a transposed
    view), ``steps`` takes every ``|step|``-th element of a larger buffer along each axis (negative: reversed).

    ``Layout()`` is C-contiguous. The padding that strided views skip is NaN, so a kernel that reads outside
    its view produces NaN instead of a plausible number.
    """

    perm: tuple[int, ...] | None = None
    steps: tuple[int, ...] | None = None

    @property
    def contiguous(self) -> bool:
        return (self.perm is None or self.perm == tuple(range(len(self.perm)))) and (
            self.steps is None or all(s == 1 for s in self.steps))

    def describe(self) -> str:
        if self.contiguous:
            return "contiguous"
        parts = []
        if self.perm is not None and self.perm != tuple(range(len(self.perm))):
            parts.append(f"stored transposed as axes {self.perm}")
        if self.steps is not None and any(s != 1 for s in self.steps):
            parts.append("view [" + ", ".join("::" + str(s) if s != 1 else ":" for s in self.steps) + "]")
        return ", ".join(parts)

    def build(self, values: np.ndarray, backend) -> Any:
        """A backend array equal to ``values`` with this layout (``backend`` is a backend object)."""
        values = np.asarray(values)
        if self.contiguous or values.ndim == 0:
            return backend.from_numpy(np.array(values, order="C", copy=True))
        ndim = values.ndim
        perm = self.perm if self.perm is not None else tuple(range(ndim))
        steps = self.steps if self.steps is not None else (1,) * ndim
        if len(perm) != ndim or len(steps) != ndim:
            raise ValueError(f"layout {self} does not fit an array with {ndim} dimension(s)")
        stored = values.transpose(perm)
        stored_steps = [steps[a] for a in perm]
        fill = np.nan if values.dtype.kind in "fc" else 0
        buffer = np.full([n * abs(s) for n, s in zip(stored.shape, stored_steps)], fill, dtype=values.dtype)
        index = tuple(slice(None, None, s) for s in stored_steps)
        buffer[index] = stored
        array = backend.from_numpy(buffer)
        if any(s != 1 for s in stored_steps):
            array = backend.getitem(array, index)
        if perm != tuple(range(ndim)):
            array = backend.transpose(array, tuple(int(i) for i in np.argsort(perm)))
        return array

    @classmethod
    def of(cls, array) -> Layout:
        """Best-effort description of a host array's layout (its transposition and step sizes)."""
        array = np.asarray(array)
        if array.ndim == 0 or array.flags.c_contiguous:
            return cls()
        strides, shape = array.strides, array.shape
        perm = tuple(sorted(range(array.ndim), key=lambda i: (-abs(strides[i]) if shape[i] > 1 else 0, i)))
        steps = [1] * array.ndim
        expected = array.itemsize
        for axis in reversed(perm):
            stride = strides[axis]
            if shape[axis] > 1 and stride and expected and stride % expected == 0:
                steps[axis] = stride // expected
            expected = abs(steps[axis]) * expected * shape[axis]
        return cls(perm if perm != tuple(range(array.ndim)) else None,
                   tuple(steps) if any(s != 1 for s in steps) else None)


# -- running a function on one backend --------------------------------------------------------------------
@dataclass
class Input:
    """One positional argument: a tensor (``values`` + ``layout`` + ``requires_grad``) or a passthrough."""

    values: np.ndarray | None = None
    layout: Layout = field(default_factory=Layout)
    requires_grad: bool = False
    passthrough: Any = None

    @property
    def is_tensor(self) -> bool:
        return self.values is not None

    def materialize(self, backend):
        if not self.is_tensor:
            return self.passthrough
        t = Tensor(self.layout.build(self.values, backend), backend)
        if self.requires_grad:
            t.requires_grad_(True)
        return t

    @classmethod
    def from_argument(cls, arg) -> Input:
        """Tensors keep their values, layout and ``requires_grad``; floating NumPy arrays become tensors
        that require grad, other arrays constant tensors; anything else passes through unchanged."""
        if isinstance(arg, Tensor):
            host = np.array(arg.numpy(), copy=True)
            return cls(host, Layout.of(arg.numpy()), bool(arg.requires_grad))
        if isinstance(arg, np.ndarray):
            return cls(np.array(arg, copy=True), Layout.of(arg), arg.dtype.kind == "f")
        return cls(passthrough=arg)


@dataclass
class Evaluation:
    """What one backend computed, as host arrays in the dtypes it produced."""

    backend: str
    outputs: list[np.ndarray]
    grads: list[np.ndarray | None] = field(default_factory=list)  # one per input that requires grad
    grads2: list[np.ndarray] = field(default_factory=list)  # d<g, w>/d(inputs..., upstreams...)
    grad2_labels: list[str] = field(default_factory=list)


def _as_outputs(result, where: str) -> tuple:
    outs = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    for i, out in enumerate(outs):
        if not isinstance(out, Tensor):
            raise TypeError(f"{where}: output {i} is a {type(out).__name__}, not a minigrad Tensor")
    return outs


def _random_like(rng: np.random.Generator, t: Tensor) -> Tensor:
    """A seeded random tensor like ``t`` with values in [-1, -0.1] U [0.1, 1] (never all ones)."""
    magnitude = rng.uniform(0.1, 1.0, t.shape)
    sign = np.where(rng.random(t.shape) < 0.5, -1.0, 1.0)
    values = (magnitude * sign).astype(t.dtype)
    return Tensor(t._backend.from_numpy(values), t._backend)


def _host_copy(t: Tensor) -> np.ndarray:
    return np.array(t.numpy(), copy=True)


def evaluate(fn: Callable, inputs: Sequence[Input], backend: str, *, seed: int = 0, grad: bool = True,
             double_grad: bool = False, kwargs: dict | None = None, where: str = "fn") -> Evaluation:
    """Run ``fn`` on ``backend`` and collect outputs, first- and (optionally) second-order gradients.

    Upstream gradients ``v`` (one per differentiable output) and the second-order weights ``w`` (one per
    input gradient) are drawn from ``seed``, so every backend sees the same ones. The second-order
    gradients are those of ``sum_i <dL/dx_i, w_i>`` with respect to the inputs *and* to ``v`` (the latter
    exercise the backward ops' own gradients in their ``grad_output`` argument).
    """
    be = _backends.load(backend)
    args = [inp.materialize(be) for inp in inputs]
    outs = _as_outputs(fn(*args, **(kwargs or {})), where)
    result = Evaluation(backend, [_host_copy(o) for o in outs])
    xs = [a for a, inp in zip(args, inputs) if inp.is_tensor and inp.requires_grad]
    diff_outs = [o for o in outs if o.requires_grad]
    if not grad or not xs:
        return result
    rng = np.random.default_rng(seed)
    if not diff_outs:
        result.grads = [None] * len(xs)
        return result
    vs = [_random_like(rng, o) for o in diff_outs]
    if double_grad:
        for v in vs:
            v.requires_grad_(True)
    gs = _grad(diff_outs, xs, vs, retain_graph=double_grad, create_graph=double_grad, allow_unused=True)
    for i, (x, g) in enumerate(zip(xs, gs)):
        if g is None:
            continue
        if g.shape != x.shape or g.dtype != x.dtype:
            raise AssertionError(
                f"{where} on backend {backend!r}: the gradient of input {i} has shape {g.shape} and dtype "
                f"{g.dtype.name}, but the input has shape {x.shape} and dtype {x.dtype.name}"
            )
    result.grads = [None if g is None else _host_copy(g) for g in gs]
    if not double_grad:
        return result
    targets = xs + vs
    result.grad2_labels = [f"input {i}" for i in range(len(xs))] + [f"upstream gradient {j}" for j in range(len(vs))]
    ws = [_random_like(rng, x) for x in xs]
    s = None
    for g, w in zip(gs, ws):  # each gradient lives on its input's backend, as does its weight
        if g is not None and g.requires_grad:
            term = (g * w).sum()
            s = term if s is None else s + term
    if s is None:  # no first-order gradient depends on anything: all second-order gradients are zero
        result.grads2 = [np.zeros(t.shape, t.dtype) for t in targets]
        return result
    g2 = _grad(s, targets, allow_unused=True)
    result.grads2 = [np.zeros(t.shape, t.dtype) if g is None else _host_copy(g) for g, t in zip(g2, targets)]
    return result


# -- comparing evaluations ----------------------------------------------------------------------------
ToleranceFor = Callable[[str, np.dtype], Tolerance]  # (kind: "output" | "grad" | "grad2", dtype) -> tolerance


def compare_evaluations(actual: Evaluation, expected: Evaluation, tolerance_for: ToleranceFor, *,
                        scale_atol: bool = False, context: str = "") -> None:
    """Assert that ``actual`` agrees with ``expected`` output by output and gradient by gradient."""
    prefix = f"{context}: " if context else ""
    a_name, e_name = actual.backend, expected.backend
    pair = f"backend {a_name!r} disagrees with {e_name!r}"

    def check(kind: str, label: str, a, e) -> None:
        if a is None and e is None:
            return
        if a is None or e is None:
            a = np.zeros_like(e) if a is None else a
            e = np.zeros_like(a) if e is None else e
        if a.dtype != e.dtype:
            raise AssertionError(f"{prefix}{pair} on the dtype of {label}: {a.dtype} vs {e.dtype}")
        tol = tolerance_for(kind, e.dtype)
        atol = tol.atol
        if scale_atol and e.size:
            atol *= max(1.0, float(np.max(np.abs(e.astype(np.float64)), initial=0.0)))
        desc = f"{prefix}{pair} on {label} (shape {e.shape}, {e.dtype})"
        assert_close(a, e, tol.rtol, atol, name=desc, actual_label=a_name, expected_label=e_name)

    if len(actual.outputs) != len(expected.outputs):
        raise AssertionError(f"{prefix}{pair}: {len(actual.outputs)} vs {len(expected.outputs)} outputs")
    for i, (a, e) in enumerate(zip(actual.outputs, expected.outputs)):
        check("output", f"output {i}", a, e)
    for i, (a, e) in enumerate(zip(actual.grads, expected.grads)):
        check("grad", f"the gradient of input {i}", a, e)
    for label, a, e in zip(expected.grad2_labels, actual.grads2, expected.grads2):
        check("grad2", f"the second-order gradient w.r.t. {label}", a, e)


# -- reproducers --------------------------------------------------------------------------------------
def repro_dir() -> Path:
    """Where reproducers go: ``$MINIGRAD_REPRO_DIR``, else ``./repro``."""
    return Path(os.environ.get(REPRO_ENV_VAR) or "repro")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120] or "case"


def write_reproducer(name: str, entry: str, inputs: Sequence[Input], arguments: dict, message: str,
                     directory: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Save a failing case as ``<directory>/<name>.npz`` and return its path and the replay command.

    ``entry`` names the function that replays it, ``"package.module:function"`` or
    ``"/path/to/file.py:function"``; it is called as ``entry(inputs, **arguments)``.
    """
    folder = Path(directory) if directory is not None else repro_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_safe(name)}.npz"
    arrays = {f"input_{i}": inp.values for i, inp in enumerate(inputs) if inp.is_tensor}
    meta = {
        "entry": entry,
        "arguments": arguments,
        "inputs": [
            {"perm": inp.layout.perm, "steps": inp.layout.steps, "requires_grad": inp.requires_grad,
             "passthrough": inp.passthrough}
            for inp in inputs
        ],
        "message": message,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    # JSON, never pickle: a reproducer is data, and loading it must not run code.
    blob = np.frombuffer(json.dumps(_to_json(meta)).encode(), dtype=np.uint8)
    np.savez(path, __meta__=blob, **arrays)
    command = f"python -m minigrad.testing.repro {shlex.quote(str(path))}"
    return path, command


def read_reproducer(path: str | os.PathLike) -> tuple[dict, list[Input]]:
    """Load a reproducer written by ``write_reproducer``: its metadata and its inputs.

    The metadata is JSON and the arrays are plain ``.npz`` members: reading one never executes code.
    """
    with np.load(path, allow_pickle=False) as data:
        meta = _from_json(json.loads(data["__meta__"].tobytes().decode()))
        inputs = []
        for i, item in enumerate(meta["inputs"]):
            layout = Layout(item["perm"], item["steps"])
            key = f"input_{i}"
            if key in data.files:
                inputs.append(Input(np.array(data[key]), layout, item["requires_grad"]))
            else:
                inputs.append(Input(None, layout, item["requires_grad"], item["passthrough"]))
    return meta, inputs


def _to_json(value):
    """Plain JSON for the metadata; tuples (axes, shapes) are tagged so they come back as tuples."""
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__unreplayable__": repr(value)}


def _from_json(value):
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(_from_json(v) for v in value["__tuple__"])
        if "__unreplayable__" in value:
            raise ValueError(f"this reproducer holds a value that cannot be restored: {value['__unreplayable__']}")
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def function_path(fn: Callable) -> str | None:
    """``"module:qualname"`` if ``fn`` can be imported back by that name, else None."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in qualname or module == "__main__":
        return None
    return f"{module}:{qualname}"
