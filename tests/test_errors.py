"""Bad input raises an error that names the op and the shapes, dtypes or backends involved; nothing is left
half-modified."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _dummy_backend import DummyBackend, register

import minigrad as mg


@pytest.fixture
def dummy(monkeypatch):
    register(monkeypatch)
    return "dummy"


def _shapes(*shapes) -> list[str]:
    """Patterns that match a shape printed as (2, 3) or as (2,3)."""
    return [r"\(" + r",\s?".join(str(n) for n in s) + r",?\)" for s in shapes]


def assert_names(exc_info, *parts) -> None:
    message = str(exc_info.value)
    for part in parts:
        assert re.search(part, message), f"{part!r} not in {message!r}"


# -- shapes --------------------------------------------------------------------------------------

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "maximum": mg.maximum,
    "minimum": mg.minimum,
    "equal": lambda a, b: a == b,
    "less": lambda a, b: a < b,
}


@pytest.mark.parametrize("op", sorted(BINARY))
def test_non_broadcastable_operands_name_the_op_and_both_shapes(op):
    a, b = mg.ones(2, 3), mg.ones(4, 5)
    with pytest.raises(mg.ShapeError) as info:
        BINARY[op](a, b)
    assert_names(info, op, *_shapes((2, 3), (4, 5)))
    assert "Traceback" not in str(info.value)


def test_shape_errors_are_value_errors_and_minigrad_errors():
    with pytest.raises(ValueError):
        mg.ones(2) + mg.ones(3)
    with pytest.raises(mg.MinigradError):
        mg.ones(2) + mg.ones(3)


def test_where_names_all_three_shapes():
    with pytest.raises(mg.ShapeError) as info:
        mg.where(mg.tensor([True, False, True]), mg.ones(2, 3), mg.ones(4, 1))
    assert_names(info, "where", *_shapes((3,), (2, 3), (4, 1)))


@pytest.mark.parametrize(("a", "b", "detail"), [
    ((2, 3), (4, 5), "3.*4"),
    ((3,), (4,), "3.*4"),
    ((2, 3), (4,), "3.*4"),
    ((2, 2, 3), (3, 3, 4), "batch"),
])
def test_matmul_incompatible_shapes(a, b, detail):
    with pytest.raises(mg.ShapeError) as info:
        mg.ones(*a) @ mg.ones(*b)
    assert_names(info, "matmul", *_shapes(a, b), detail)


def test_matmul_of_a_scalar():
    with pytest.raises(mg.ShapeError) as info:
        mg.matmul(mg.ones(3), mg.tensor(2.0))
    assert_names(info, "matmul", r"\(3,\)", r"\(\)")


@pytest.mark.parametrize("target", [(4, 2), (-1, 4), (-1, -1), (7,)])
def test_impossible_reshape(target):
    with pytest.raises(mg.ShapeError) as info:
        mg.ones(2, 3).reshape(*target)
    assert_names(info, "reshape", *_shapes((2, 3), target), "6 elements")


@pytest.mark.parametrize(("call", "op", "parts"), [
    (lambda: mg.concatenate([mg.ones(2, 3), mg.ones(2, 4)]), "concatenate", _shapes((2, 3), (2, 4))),
    (lambda: mg.stack([mg.ones(2, 3), mg.ones(3, 2)]), "stack", _shapes((2, 3), (3, 2))),
    (lambda: mg.ones(2, 3).broadcast_to((3, 3)), "broadcast_to", _shapes((2, 3), (3, 3))),
    (lambda: mg.ones(2, 3).expand(4, 3), "broadcast_to", _shapes((2, 3), (4, 3))),
    (lambda: mg.ones(2, 3).permute(0, 0), "permute", _shapes((2, 3))),
    (lambda: mg.ones(2, 3).permute(0, 3), "permute", _shapes((2, 3))),
    (lambda: mg.split(mg.ones(5), [2, 2]), "split", [r"\[2, 2\]", "5"]),
])
def test_movement_shape_errors(call, op, parts):
    with pytest.raises(mg.ShapeError) as info:
        call()
    assert_names(info, op, *parts)


@pytest.mark.parametrize(("call", "op"), [
    (lambda: mg.ones(2, 3).sum(axis=2), "sum"),
    (lambda: mg.ones(2, 3).max(axis=-3), "max"),
    (lambda: mg.ones(2, 3).mean(axis=(0, 5)), "mean"),
    (lambda: mg.softmax(mg.ones(2, 3), 2), "softmax"),
    (lambda: mg.concatenate([mg.ones(2, 3), mg.ones(2, 3)], axis=2), "concatenate"),
    (lambda: mg.squeeze(mg.ones(1, 3), 2), "squeeze"),
    (lambda: mg.unsqueeze(mg.ones(2), 3), "unsqueeze"),
    (lambda: mg.ones(2, 3).transpose(0, 2), "transpose"),
    (lambda: mg.split(mg.ones(2, 3), 1, dim=2), "split"),
    (lambda: mg.ones(2, 3)[2], "index"),
    (lambda: mg.ones(2, 3)[0, 0, 0], "index"),
])
def test_axis_and_index_out_of_range(call, op):
    with pytest.raises(IndexError) as info:
        call()
    assert_names(info, op)


def test_bad_index_types():
    x = mg.ones(2, 3)
    with pytest.raises(IndexError, match="getitem.*float32"):
        x[mg.tensor([0.5])]
    with pytest.raises(IndexError, match="getitem"):
        x[["a"]]


def test_backward_with_a_gradient_of_the_wrong_shape():
    x = mg.ones(2, 3, requires_grad=True)
    with pytest.raises(ValueError) as info:
        (x * 2).backward(mg.ones(3, 2))
    assert_names(info, "backward", *_shapes((3, 2), (2, 3)))


# -- dtypes and data -----------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda: mg.tensor([1.0], dtype="float16"),
    lambda: mg.zeros(2, dtype="complex64"),
    lambda: mg.ones(2).astype("float16"),
    lambda: mg.ones(2).astype(object),
])
def test_unknown_dtype_lists_the_supported_ones(call):
    with pytest.raises(TypeError) as info:
        call()
    assert_names(info, "dtype", "float32", "float64", "int64", "bool")


@pytest.mark.parametrize(("data", "type_name"), [
    ("abc", "str"),
    ([1.0, None], "list"),
    ({"a": 1}, "dict"),
    (None, "NoneType"),
    ([[1, 2], [3]], "list"),
    (object(), "object"),
    (np.array([1 + 2j]), "complex128"),
])
def test_non_numeric_data(data, type_name):
    with pytest.raises(TypeError) as info:
        mg.tensor(data)
    assert_names(info, r"tensor\(\)", type_name)


def test_non_numeric_operand_of_an_op():
    with pytest.raises(TypeError, match="str"):
        mg.ones(2) + "abc"
    with pytest.raises(TypeError, match="exp.*str"):
        mg.exp("abc")


def test_only_floating_tensors_can_require_grad():
    with pytest.raises(TypeError, match="int64"):
        mg.arange(3).requires_grad_()
    with pytest.raises(TypeError, match="int64"):
        mg.tensor([1, 2], requires_grad=True)


def test_float_result_cannot_be_stored_in_an_int_tensor():
    i = mg.arange(3)
    with pytest.raises(TypeError) as info:
        i += 0.5
    assert_names(info, "add_", "int64")
    np.testing.assert_array_equal(i.numpy(), [0, 1, 2])


# -- backends ------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda: mg.tensor([1.0], backend="nope"),
    lambda: mg.zeros(2, backend="nope"),
    lambda: mg.set_backend("nope"),
    lambda: mg.backend("nope").__enter__(),
    lambda: mg.ones(2).to("nope"),
])
def test_unknown_backend_lists_the_known_ones(call):
    with pytest.raises(mg.UnknownBackendError) as info:
        call()
    assert_names(info, "'nope'", "numpy", *mg.backends.names())


def test_unknown_backend_in_the_environment(monkeypatch):
    monkeypatch.setattr(mg.backends, "_default", None)
    monkeypatch.setenv("MINIGRAD_BACKEND", "nope")
    with pytest.raises(mg.UnknownBackendError, match="'nope'.*numpy"):
        mg.ones(2)


def test_unavailable_backend_says_why_and_how_to_fix_it(monkeypatch):
    class Unavailable(DummyBackend):
        name = "broken"

        @classmethod
        def check_available(cls):
            raise ImportError("the 'fancy' package is not installed; pip install 'minigrad[fancy]'")

    register(monkeypatch, "broken", Unavailable)
    for _ in range(2):  # the reason is remembered
        with pytest.raises(mg.BackendUnavailableError) as info:
            mg.tensor([1.0], backend="broken")
        assert_names(info, "'broken'", "not available", "pip install")
    state = mg.backends.available()
    assert state["numpy"] is True and "pip install" in state["broken"]


OPS_ACROSS_BACKENDS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: b * a,
    "matmul": lambda a, b: a @ b,
    "maximum": mg.maximum,
    "where": lambda a, b: mg.where(a > 0, a, b),
    "concatenate": lambda a, b: mg.concatenate([a, b]),
    "equal": lambda a, b: a == b,
    "copy_": lambda a, b: a.copy_(b),
    "getitem": lambda a, b: a[mg.tensor([0, 1], backend="dummy")],
}


@pytest.mark.parametrize("op", sorted(OPS_ACROSS_BACKENDS))
def test_backend_mismatch_names_the_op_and_both_backends(dummy, op):
    a = mg.ones(2, 2, requires_grad=op != "copy_")
    b = mg.ones(2, 2, backend=dummy)
    with pytest.raises(mg.BackendMismatchError) as info:
        OPS_ACROSS_BACKENDS[op](a, b)
    assert_names(info, op, "'numpy'", "'dummy'")


def test_backward_gradient_on_another_backend(dummy):
    x = mg.ones(2, requires_grad=True)
    with pytest.raises(mg.BackendMismatchError, match="backward.*'dummy'.*'numpy'"):
        (x * 2).backward(mg.ones(2, backend=dummy))


# -- nothing half-modified -----------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    lambda t: t.add_(mg.ones(4, 3)),
    lambda t: t.add_(mg.ones(2, 1, 3)),  # broadcasts, but to a bigger shape
    lambda t: t.sub_(mg.ones(3, 1)),
    lambda t: t.mul_(mg.ones(2, 2)),
    lambda t: t.div_(mg.ones(5)),
    lambda t: t.copy_(mg.ones(3, 3)),
    lambda t: t.__setitem__(0, mg.ones(4)),
    lambda t: t.__setitem__((slice(None), 5), 1.0),
    lambda t: t.__iadd__(mg.ones(1, 2, 3)),
])
@pytest.mark.parametrize("tracked", [False, True])
def test_failed_in_place_leaves_the_tensor_unchanged(change, tracked):
    values = np.arange(6.0).reshape(2, 3)
    w = mg.tensor(np.full((2, 3), 0.5), requires_grad=True)
    t = mg.tensor(values) * w if tracked else mg.tensor(values)
    before_values, before_fn, before_version = t.numpy().copy(), t.grad_fn, t._version
    with pytest.raises((ValueError, IndexError)) as info:
        change(t)
    assert isinstance(info.value, mg.MinigradError), f"bare error: {info.value!r}"
    np.testing.assert_array_equal(t.numpy(), before_values)
    assert t.grad_fn is before_fn and t._version == before_version
    if tracked:
        t.backward(mg.tensor(np.ones((2, 3)) * 0.25))
        np.testing.assert_array_equal(w.grad.numpy(), values * 0.25)


def test_refused_in_place_on_a_leaf_leaves_it_unchanged():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(mg.InplaceError):
        w.mul_(3.0)
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    assert w._version == 0 and w.is_leaf
