"""minigrad.testing itself: assert_backends_agree, assert_close, strategies, layouts and reproducers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minigrad_backends.numpy_backend import NumpyBackend

import minigrad
from minigrad import backends as _backends
from minigrad.testing import (
    Input,
    Layout,
    assert_backends_agree,
    assert_close,
    available_backends,
    default_tolerance,
)
from minigrad.testing import strategies as mst
from minigrad.testing.repro import main as repro_main


class Cube(minigrad.Function):
    """A user-defined op: x ** 3, with a backward written in tensor ops (so it has a double backward)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.multiply(ctx.backend.multiply(x.array, x.array), x.array)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x * x * 3


def cube(x):
    return Cube.apply(x)


class SignFlippedSigmoid(NumpyBackend):
    """A deliberately broken backend: its fused sigmoid backward kernel has the wrong sign."""

    name = "broken"

    def sigmoid_backward(self, grad, out):
        return -super().sigmoid_backward(grad, out)


@pytest.fixture
def broken_backend():
    """Register the broken backend for the duration of one test (not through entry points)."""
    _backends._loaded["broken"] = SignFlippedSigmoid()
    try:
        yield "broken"
    finally:
        del _backends._loaded["broken"]


def test_user_function_agrees_and_gradchecks():
    x = minigrad.tensor(np.linspace(-2, 2, 12).reshape(3, 4), dtype="float64", requires_grad=True)
    compared = assert_backends_agree(cube, x, double_grad=True)
    assert set(compared) == set(available_backends()) - {"numpy"}
    assert minigrad.gradcheck(cube, (x,))
    assert minigrad.gradgradcheck(cube, (x,))


def test_disagreement_names_backends_input_index_and_tolerances(broken_backend):
    x = minigrad.tensor(np.linspace(-2, 2, 6, dtype=np.float32), requires_grad=True)
    with pytest.raises(AssertionError) as info:
        assert_backends_agree(minigrad.sigmoid, x, backends=[broken_backend])
    message = str(info.value)
    assert "backend 'broken' disagrees with 'numpy'" in message
    assert "the gradient of input 0" in message
    assert "worst at index" in message and "atol" in message and "rtol" in message
    # the forward does not use the broken kernel, so it was compared and passed before the gradient
    assert "output 0" not in message


def test_forward_only_does_not_see_a_backward_bug(broken_backend):
    x = minigrad.tensor(np.linspace(-2, 2, 6, dtype=np.float32), requires_grad=True)
    assert assert_backends_agree(minigrad.sigmoid, x, backends=[broken_backend], grad=False) == ["broken"]


def test_reproducer_round_trip(broken_backend, tmp_path, capsys):
    x = minigrad.tensor(np.linspace(-2, 2, 8, dtype=np.float32).reshape(2, 4).T, requires_grad=True)
    with pytest.raises(AssertionError, match="reproduce with: python -m minigrad.testing.repro"):
        assert_backends_agree(minigrad.sigmoid, x, backends=[broken_backend], repro_dir=str(tmp_path))
    (path,) = tmp_path.glob("*.npz")
    assert repro_main([str(path)]) == 1  # still fails while the broken backend is registered
    assert "STILL FAILS" in capsys.readouterr().out


def test_assert_close_message():
    with pytest.raises(AssertionError) as info:
        assert_close(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0]), rtol=1e-6, atol=1e-6, name="thing")
    message = str(info.value)
    assert "thing: 1 of 3 element(s) differ; worst at index (1,)" in message
    assert "actual=2, expected=2.5" in message
    assert_close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0 + 1e-9]), rtol=1e-6, atol=0)


def test_default_tolerances_depend_on_dtype():
    assert default_tolerance(np.float32).rtol > default_tolerance(np.float64).rtol


@given(values=mst.arrays(np.float64, mst.shapes(min_dims=1)), data=st.data())
def test_layouts_preserve_values(values, data):
    layout = data.draw(mst.layouts(values.shape, contiguous=False))
    built = layout.build(values, _backends.load("numpy"))
    assert np.array_equal(built, values)
    if values.size > 1 and max(values.shape) > 1:
        rebuilt = Layout.of(built).build(values, _backends.load("numpy"))
        assert np.array_equal(rebuilt, values)


@given(x=mst.tensors(dtype=np.float32, avoid=(0.0,), margin=0.25, contiguous=False, shape=mst.shapes(min_dims=2)))
def test_tensors_strategy_bounds_and_layout(x):
    values = x.numpy()
    assert x.dtype == np.float32
    assert np.all(np.isfinite(values)) and np.all(np.abs(values) >= 0.25)


@given(arrays=mst.arrays(np.float32, mst.shapes(min_dims=1), distinct=True))
def test_distinct_arrays_have_no_ties(arrays):
    flat = np.sort(arrays.ravel())
    assert np.all(np.diff(flat) > 0)


@given(shapes=mst.broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(shapes):
    np.broadcast_shapes(*shapes)


def test_input_from_argument_keeps_layout_and_flags():
    base = np.arange(12.0).reshape(3, 4)
    inp = Input.from_argument(minigrad.tensor(base).T)
    assert inp.values.shape == (4, 3) and not inp.requires_grad
    assert Input.from_argument(base[:, ::2]).layout.steps == (1, 2)
    assert Input.from_argument(3.5).passthrough == 3.5
