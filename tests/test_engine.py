"""The reverse-mode engine: graph shapes, accumulation, retain_graph, grad mode, depth, in-place detection,
dtypes, ``minigrad.grad``, higher orders and custom ``Function``s. Upstream gradients are random."""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad import Function

RNG = np.random.default_rng(12345)


def leaf(values, dtype="float64") -> mg.Tensor:
    return mg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def upstream(shape, dtype="float64") -> mg.Tensor:
    """A random upstream gradient (never all ones)."""
    return mg.tensor(RNG.standard_normal(shape).astype(dtype))


# -- graph shapes --------------------------------------------------------------------------------


def test_diamond_graph_sums_both_paths():
    x_np = np.array([0.3, -1.2, 0.8])
    x = leaf(x_np)
    a = x * 2.0
    b = x.exp()
    y = a * b  # x reaches y through a and through b
    g = upstream(3)
    y.backward(g)
    expected = g.numpy() * (2 * np.exp(x_np) + 2 * x_np * np.exp(x_np))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_diamond_with_shared_intermediate():
    x = leaf([0.5, -0.25])
    h = x.sin()
    y = h * h.cos() + h  # h feeds three consumers
    g = upstream(2)
    y.backward(g)
    hv = np.sin(x.numpy())
    dy_dh = np.cos(hv) - hv * np.sin(hv) + 1
    np.testing.assert_allclose(x.grad.numpy(), g.numpy() * dy_dh * np.cos(x.numpy()), rtol=1e-12)


def test_fan_out_accumulates_every_use():
    x = leaf([[1.0, -2.0], [0.5, 3.0]])
    w = [0.5, -1.5, 2.0, 3.25]
    y = x * w[0] + x * w[1] + (x * w[2]).sum(0, keepdims=True) + x * w[3]
    g = upstream((2, 2))
    y.backward(g)
    expected = g.numpy() * (w[0] + w[1] + w[3]) + g.numpy().sum(0, keepdims=True) * w[2]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_x_times_x():
    x = leaf([1.5, -0.5, 2.0])
    g = upstream(3)
    (x * x).backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() * g.numpy())


def test_same_leaf_in_both_operands_of_add_and_matmul():
    x = leaf(RNG.standard_normal((3, 3)))
    g = upstream((3, 3))
    (x @ x + x).backward(g)
    xv, gv = x.numpy(), g.numpy()
    np.testing.assert_allclose(x.grad.numpy(), gv @ xv.T + xv.T @ gv + gv, rtol=1e-12)


def test_backward_on_a_leaf_and_on_a_scalar():
    x = leaf([1.0, 2.0])
    g = upstream(2)
    x.backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), g.numpy())
    s = leaf(3.0)
    (s * s * s).backward()
    assert s.grad.item() == pytest.approx(27.0)


def test_grad_fn_names_the_op_and_links_inputs():
    x = leaf([1.0])
    y = (x * 2).exp()
    assert "Exp" in y.grad_fn.name()
    assert "Exp" in repr(y)
    (parent, _), = y.grad_fn.next_functions
    assert "Mul" in parent.name()
    assert x.is_leaf and not y.is_leaf and x.grad_fn is None


# -- accumulation and retain_graph ---------------------------------------------------------------


def test_leaves_accumulate_across_backward_calls():
    x = leaf([0.5, -1.0])
    g1, g2 = upstream(2), upstream(2)
    (x * 3.0).backward(g1)
    x.exp().backward(g2)
    np.testing.assert_allclose(x.grad.numpy(), 3 * g1.numpy() + np.exp(x.numpy()) * g2.numpy())
    x.grad = None
    (x * 3.0).backward(g1)
    np.testing.assert_allclose(x.grad.numpy(), 3 * g1.numpy())


def test_stored_gradients_never_alias_each_other_or_the_upstream_gradient():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = upstream(2)
    g_before = g.numpy().copy()
    (a + b).backward(g)
    a.grad.add_(1.0)
    np.testing.assert_array_equal(b.grad.numpy(), g_before)
    np.testing.assert_array_equal(g.numpy(), g_before)
    x = leaf([1.0, 2.0])
    x.backward(g)
    x.grad.mul_(2.0)
    np.testing.assert_array_equal(g.numpy(), g_before)


def test_second_backward_through_freed_graph_raises_a_clear_error():
    x = leaf([0.5, 1.5])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([0.5, 1.5])
    y = x.exp() * x.sin()
    g = upstream(2)
    y.backward(g, retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward(g)


def test_grad_frees_the_graph_unless_retained():
    x = leaf([0.5, 1.5])
    y = (x * x.exp()).sum()
    mg.grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        mg.grad(y, x)


# -- grad mode -----------------------------------------------------------------------------------


def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2 + x.exp()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_enable_grad_inside_no_grad_and_set_grad_enabled():
    x = leaf([1.0, 2.0])
    with mg.no_grad():
        with mg.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad
    with mg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    mg.set_grad_enabled(False)
    try:
        assert not mg.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        mg.set_grad_enabled(True)
    assert mg.is_grad_enabled()


def test_no_grad_as_decorator():
    @mg.no_grad()
    def f(t):
        return t * 3

    x = leaf([1.0])
    assert not f(x).requires_grad
    assert (x * 3).requires_grad


def test_set_grad_enabled_as_decorator_does_not_change_the_mode_at_decoration():
    @mg.set_grad_enabled(False)
    def f(t):
        return t * 3

    assert mg.is_grad_enabled()
    x = leaf([1.0])
    assert not f(x).requires_grad
    assert (x * 3).requires_grad


def test_grad_mode_is_thread_local():
    seen = {}

    def worker():
        seen["enabled"] = mg.is_grad_enabled()
        seen["requires_grad"] = (leaf([1.0]) * 2).requires_grad

    with mg.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen == {"enabled": True, "requires_grad": True}


def test_detach_and_requires_grad_():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    w = mg.tensor([1.0, 2.0]).requires_grad_()
    assert w.requires_grad and w.is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)


# -- depth and memory ----------------------------------------------------------------------------


def test_100k_op_chain_backward_without_recursion_error_and_without_leaking():
    x = mg.tensor(0.5, requires_grad=True)
    y = x
    for i in range(100_000):
        y = y * 1.0 if i % 2 else y + 0.0
        if i == 50_000:
            probe = weakref.ref(y.grad_fn)
    y.backward()
    assert x.grad.item() == 1.0
    assert x.grad.grad_fn is None
    del y
    gc.collect()
    assert probe() is None, "the graph is still alive after backward and del"


def test_graph_without_backward_is_freed_by_reference_counting():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sigmoid()
    probe = weakref.ref(y.grad_fn)
    gc.disable()
    try:
        del y
        assert probe() is None, "a reference cycle keeps the graph alive"
    finally:
        gc.enable()


RELEASE_CASES = {
    "mul": lambda h: h * h, "div": lambda h: 1.0 / h, "pow": lambda h: h ** 3, "rpow": lambda h: 2.0 ** h,
    "pow_tensor": lambda h: h ** h, "maximum": lambda h: mg.maximum(h, 0.5), "minimum": lambda h: mg.minimum(0.5, h),
    "where": lambda h: mg.where(h > 2, h, 0.0), "abs": mg.abs, "exp": mg.exp, "log": mg.log, "sqrt": mg.sqrt,
    "rsqrt": mg.rsqrt, "sin": mg.sin, "tanh": mg.tanh, "sigmoid": mg.sigmoid, "relu": mg.relu,
    "leaky_relu": mg.leaky_relu, "gelu": mg.gelu, "softplus": mg.softplus, "clip": lambda h: h.clip(0, 3),
    "max": lambda h: h.max(0).values, "logsumexp": lambda h: mg.logsumexp(h, 1), "var": lambda h: h.var(1),
    "softmax": mg.softmax, "log_softmax": mg.log_softmax, "matmul": lambda h: h @ h.T,
    "getitem": lambda h: h[[0, 0]], "reshape": lambda h: h.reshape(4) * h.reshape(4),
}


@pytest.mark.parametrize("name", sorted(RELEASE_CASES))
def test_backward_releases_saved_intermediates(name):
    """After a backward without retain_graph, the graph no longer pins the intermediate values it saved."""
    x = leaf([[1.0, 2.0], [3.0, 0.5]])
    h = x * 2.0
    probe = weakref.ref(h)
    y = RELEASE_CASES[name](h)
    del h
    y.backward(upstream(y.shape))
    assert probe() is None, f"{name}: the output still pins its input after backward"
    assert y.grad_fn is not None  # the output (and its node) are still alive


# -- in-place detection --------------------------------------------------------------------------


def test_modifying_a_saved_input_is_detected_at_backward_naming_the_op():
    x = leaf([0.5, 1.0])
    a = x * 2.0
    y = a.sin()  # Sin saves a
    a.add_(1.0)
    with pytest.raises(mg.InplaceError, match="Sin"):
        y.backward(upstream(2))


def test_modifying_a_saved_output_is_detected_at_backward_naming_the_op():
    x = leaf([0.5, 1.0])
    y = x.exp()  # Exp saves its output
    z = y * 1.0
    y.mul_(2.0)
    with pytest.raises(mg.InplaceError, match="Exp"):
        z.backward(upstream(2))


def test_modifying_through_a_detached_alias_is_detected():
    x = leaf([0.5, 1.0])
    h = x * 3.0
    y = h.log()
    with mg.no_grad():
        h.detach().add_(1.0)  # shares memory and version counter with h
    with pytest.raises(mg.InplaceError, match="Log"):
        y.backward(upstream(2))


def test_in_place_change_of_a_leaf_that_requires_grad_is_refused_outside_no_grad():
    w = leaf([1.0, 2.0])
    for change in (lambda: w.add_(1.0), lambda: w.mul_(2.0), lambda: w.__setitem__(0, 5.0), lambda: w.zero_()):
        with pytest.raises(mg.InplaceError, match="no_grad"):
            change()
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


def test_in_place_under_no_grad_is_fine_and_later_graphs_are_correct():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    with mg.no_grad():
        w -= 0.1 * w.grad  # an SGD step
        w.grad.zero_()
    np.testing.assert_allclose(w.numpy(), [0.8, 1.6])
    assert w.is_leaf and w.requires_grad
    g = upstream(2)
    (w * w).backward(g)
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.array([0.8, 1.6]) * g.numpy())


def test_in_place_ops_on_non_leaves_give_correct_gradients():
    x, w = leaf([1.0, -2.0, 0.5]), leaf([3.0, 0.25, -1.5])
    y = x * 1.0
    y.mul_(w)
    y.div_(w * w)
    y.add_(x)
    y.clamp_(-10.0, 10.0)
    g = upstream(3)
    y.backward(g)
    xv, wv, gv = x.numpy(), w.numpy(), g.numpy()
    np.testing.assert_allclose(y.numpy(), xv / wv + xv)
    np.testing.assert_allclose(x.grad.numpy(), gv * (1 / wv + 1))
    np.testing.assert_allclose(w.grad.numpy(), -gv * xv / wv**2)


def test_untracked_in_place_does_not_block_a_later_tracked_one():
    buf = mg.zeros(3, dtype="float64")
    buf.fill_(1.0)  # untracked: nothing requires grad
    w = leaf([1.0, 2.0, 3.0])
    buf.mul_(w)  # tracked now
    g = upstream(3)
    buf.backward(g)
    np.testing.assert_allclose(w.grad.numpy(), g.numpy())


def test_setitem_records_the_graph_on_a_fresh_tensor():
    w = leaf([2.0, -1.0])
    out = mg.zeros(2, 3, dtype="float64")
    out[:, 1] = w * w
    assert out.requires_grad and not out.is_leaf
    g = upstream((2, 3))
    out.backward(g)
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.numpy() * g.numpy()[:, 1])


def test_in_place_on_a_tensor_with_views_under_autograd_is_refused():
    """Documented design choice: we do not rebase views, so the in-place change is refused."""
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    h = x * 1.0
    v = h[0]
    with pytest.raises(mg.InplaceError, match="view"):
        h.add_(x)
    with pytest.raises(mg.InplaceError, match="view"):
        v.mul_(x[0])
    with mg.no_grad():
        v.add_(1.0)  # untracked changes are fine and visible through the base
    np.testing.assert_array_equal(h.numpy(), [[2.0, 3.0], [3.0, 4.0]])


# -- dtypes --------------------------------------------------------------------------------------


def test_float32_in_float32_grads_out_with_python_scalars():
    x = mg.tensor([0.5, 1.5, -0.25], requires_grad=True)
    assert x.dtype == np.float32
    y = ((x * 2.5 + 1.5) ** 2.0 / 3.0 - 0.5).exp() * 0.1 + x.sigmoid() - 2 ** x + mg.maximum(x, 0.25)
    y = y.mean() + x.var() + x.std(correction=0) + mg.logsumexp(x, 0) + mg.softmax(x, 0)[0] + x.max()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_float64_stays_float64():
    x = leaf([0.5, 1.5])
    y = (x * 2.5 + 1).tanh().sum() / 3
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64


def test_mixed_float32_float64_grads_match_each_input():
    a = leaf([1.0, 2.0], dtype="float32")
    b = leaf([[0.5], [1.5]], dtype="float64")
    y = a * b + a.exp() @ mg.ones(2, dtype="float64") + b.sin()
    assert y.dtype == np.float64
    y.backward(upstream((2, 2)))
    assert a.grad.dtype == np.float32 and a.grad.shape == (2,)
    assert b.grad.dtype == np.float64 and b.grad.shape == (2, 1)


def test_numpy_scalars_act_like_python_numbers():
    x = mg.tensor([1.0, 4.0], requires_grad=True)
    ys = [x * np.float64(2), np.float64(2) * x, x / np.sqrt(4.0), x + np.int64(1), x ** np.float64(2),
          mg.maximum(x, np.float64(1.5)), mg.where(x > 1, x, np.float64(0)), np.float32(3) - x]
    assert [y.dtype for y in ys] == [np.float32] * len(ys)
    sum(y.sum() for y in ys).backward()
    assert x.grad.dtype == np.float32


def test_promotion_across_kinds_keeps_the_float_dtype():
    """float32 with an int64 tensor stays float32 (NumPy would give float64); int with bool stays int."""
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    i = mg.arange(2)
    assert (x + i).dtype == np.float32 and (i * x).dtype == np.float32 and (i - x).dtype == np.float32
    assert (x / (i + 1)).dtype == np.float32 and mg.maximum(i, x).dtype == np.float32
    assert (x * mg.tensor([True, False])).dtype == np.float32
    assert (mg.tensor(np.array([1, 2], np.int32)) + mg.tensor([True, False])).dtype == np.int32
    assert (mg.tensor(np.ones(2)) + x).dtype == np.float64  # same kind: NumPy's (and PyTorch's) promotion
    (x * i + x.double()).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])
    assert mg.where(mg.tensor([True, False]), 1.0, 0.0).dtype == np.float32


def test_integer_tensor_with_float_number_becomes_float32():
    i = mg.arange(3)
    assert i.dtype == np.int64
    assert (i * 0.5).dtype == np.float32
    assert (i / 2).dtype == np.float32
    assert i.exp().dtype == np.float32


# -- retain_grad and minigrad.grad ---------------------------------------------------------------


def test_non_leaves_keep_grad_only_with_retain_grad():
    x = leaf([1.0, 2.0])
    h = x * 2
    k = x * 3
    h.retain_grad()
    assert h.retains_grad and not k.retains_grad
    g = upstream(2)
    (h * h + k).backward(g, retain_graph=True)
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy() * g.numpy())
    assert k.grad is None
    (h * h + k).backward(g)
    np.testing.assert_allclose(h.grad.numpy(), 4 * h.numpy() * g.numpy())  # accumulates like a leaf


def test_grad_returns_gradients_without_touching_dot_grad():
    x, y = leaf([0.5, -1.0]), leaf([2.0, 3.0])
    out = x * y + x.exp()
    g = upstream(2)
    gx, gy = mg.grad(out, [x, y], g)
    np.testing.assert_allclose(gx.numpy(), g.numpy() * (y.numpy() + np.exp(x.numpy())))
    np.testing.assert_allclose(gy.numpy(), g.numpy() * x.numpy())
    assert x.grad is None and y.grad is None
    assert not gx.requires_grad


def test_grad_allow_unused():
    x, unused = leaf([1.0]), leaf([2.0])
    out = (x * 3).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        mg.grad(out, [x, unused], retain_graph=True)
    gx, gu = mg.grad(out, [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 3.0


def test_grad_with_respect_to_non_leaf_inputs():
    x = leaf([0.5, 1.5])
    h = x.sin()
    out = (h * h).sum() + x.sum()
    gh, gx = mg.grad(out, [h, x])
    np.testing.assert_allclose(gh.numpy(), 2 * np.sin(x.numpy()))
    np.testing.assert_allclose(gx.numpy(), 2 * np.sin(x.numpy()) * np.cos(x.numpy()) + 1)


def test_grad_of_several_outputs_with_grad_outputs():
    x = leaf([0.5, 1.5])
    a, b = x.exp(), x * x
    ga, gb = upstream(2), upstream(2)
    (gx,) = mg.grad([a, b], [x], [ga, gb])
    np.testing.assert_allclose(gx.numpy(), ga.numpy() * np.exp(x.numpy()) + gb.numpy() * 2 * x.numpy())


def test_grad_create_graph_gives_a_differentiable_gradient():
    x = leaf([0.5, -1.0])
    (gx,) = mg.grad((x ** 3).sum(), x, create_graph=True)
    assert gx.requires_grad
    (gx * gx).sum().backward()  # d/dx sum((3x^2)^2) = 36 x^3
    np.testing.assert_allclose(x.grad.numpy(), 36 * x.numpy() ** 3)


def test_backward_create_graph_then_double_backward():
    x = leaf([0.3, 0.9])
    y = (x * x.sin()).sum()
    y.backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    x.grad = None
    first.sum().backward()
    xv = x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(xv) - xv * np.sin(xv))


THIRD_ORDER = {
    "sin": (mg.sin, lambda x: (np.cos(x), -np.sin(x), -np.cos(x)), (-2, 2)),
    "exp": (mg.exp, lambda x: (np.exp(x),) * 3, (-1, 1)),
    "log": (mg.log, lambda x: (1 / x, -1 / x**2, 2 / x**3), (0.5, 2)),
    "cube": (lambda t: t ** 3, lambda x: (3 * x**2, 6 * x, 6 + 0 * x), (-1, 1)),
    "rsqrt": (mg.rsqrt, lambda x: (-0.5 * x**-1.5, 0.75 * x**-2.5, -1.875 * x**-3.5), (0.5, 2)),
    "tanh": (mg.tanh, lambda x: (1 - np.tanh(x) ** 2, -2 * np.tanh(x) * (1 - np.tanh(x) ** 2),
                                 (1 - np.tanh(x) ** 2) * (6 * np.tanh(x) ** 2 - 2)), (-2, 2)),
    "sigmoid": (mg.sigmoid, lambda x: _sigmoid_derivatives(x), (-3, 3)),
    "softplus": (mg.softplus, lambda x: _sigmoid_derivatives(x, shift=True), (-3, 3)),
}


def _sigmoid_derivatives(x, shift=False):
    s = 1 / (1 + np.exp(-x))
    d1, d2, d3 = s * (1 - s), s * (1 - s) * (1 - 2 * s), s * (1 - s) * (1 - 6 * s + 6 * s * s)
    return (s, d1, d2) if shift else (d1, d2, d3)


@pytest.mark.parametrize("name", sorted(THIRD_ORDER))
def test_third_order_derivatives_match_analytic(name):
    fn, derivatives, (low, high) = THIRD_ORDER[name]
    xv = RNG.uniform(low, high, 4)
    x = leaf(xv)
    y = fn(x)
    got = []
    for order in range(3):
        (y,) = mg.grad(y.sum(), x, create_graph=order < 2)
        got.append(y.numpy())
    for order, (g, expected) in enumerate(zip(got, derivatives(xv)), start=1):
        np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-12, err_msg=f"order {order}")


def test_backward_with_random_upstream_gradient_matches_vjp():
    w_np = RNG.standard_normal((3, 4))
    x = leaf(RNG.standard_normal((2, 3)))
    w = mg.tensor(w_np)
    y = (x @ w).tanh()
    g = upstream((2, 4))
    y.backward(g)
    t = np.tanh(x.numpy() @ w_np)
    np.testing.assert_allclose(x.grad.numpy(), (g.numpy() * (1 - t * t)) @ w_np.T, rtol=1e-12)


def test_backward_needs_a_gradient_for_non_scalars_and_the_right_shape():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="single-element"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(mg.tensor(np.ones(3)))


def test_backward_inputs_restricts_accumulation():
    a, b = leaf([1.0]), leaf([2.0])
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 2.0 and b.grad is None


def test_backward_inputs_accumulates_into_non_leaves_too():
    x = leaf([1.0, 2.0])
    h = x + 1.0  # Add passes its gradient through unchanged: h.grad and x.grad must not share memory
    g = upstream(2)
    (h * 3.0).backward(g, inputs=[h, x])
    np.testing.assert_allclose(h.grad.numpy(), 3 * g.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 3 * g.numpy())
    h.grad.add_(1.0)
    np.testing.assert_allclose(x.grad.numpy(), 3 * g.numpy())


# -- custom Functions ----------------------------------------------------------------------------


class ScaledCube(Function):
    """Worked example: y = scale * x**3, with dy/dx = 3 * scale * x**2.

    ``forward`` gets tensors (and plain values) and returns a backend array; ``backward`` gets the output's
    gradient as a tensor and returns one gradient per forward argument (None for the non-tensor ``scale``).
    Writing backward with tensor ops makes it differentiable again (create_graph / gradgradcheck).
    """

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return ctx.backend.multiply(ctx.backend.power(x.array, 3), scale)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (x * x) * (3 * ctx.scale), None


class WeightedProduct(Function):
    """y = a * b; uses ``ctx.needs_input_grad`` to skip the gradients nobody asked for."""

    calls: list = []

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.backend.multiply(a.array, b.array)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        WeightedProduct.calls.append(ctx.needs_input_grad)
        ga = grad_output * b if ctx.needs_input_grad[0] else None
        gb = grad_output * a if ctx.needs_input_grad[1] else None
        return ga, gb


def test_custom_function_worked_example():
    x = leaf([0.5, -1.0, 2.0])
    y = ScaledCube.apply(x, 0.5)
    assert "ScaledCube" in y.grad_fn.name()
    np.testing.assert_allclose(y.numpy(), 0.5 * x.numpy() ** 3)
    g = upstream(3)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 1.5 * x.numpy() ** 2 * g.numpy())
    assert mg.gradcheck(lambda t: ScaledCube.apply(t, 0.5), leaf([0.5, -1.0, 2.0]))
    assert mg.gradgradcheck(lambda t: ScaledCube.apply(t, 0.5), leaf([0.5, -1.0, 2.0]))


def test_custom_function_needs_input_grad():
    WeightedProduct.calls.clear()
    a = leaf([1.0, 2.0])
    b = mg.tensor([3.0, 4.0], dtype="float64")
    y = WeightedProduct.apply(a, b)
    g = upstream(2)
    y.backward(g)
    assert WeightedProduct.calls == [(True, False)]
    np.testing.assert_allclose(a.grad.numpy(), g.numpy() * b.numpy())
    with mg.no_grad():
        assert not WeightedProduct.apply(a, b).requires_grad
    assert mg.gradcheck(WeightedProduct.apply, (leaf([1.0, 2.0]), leaf([3.0, -4.0])))


def test_custom_function_broadcasting_is_undone_by_the_engine():
    a, b = leaf([[1.0], [2.0]]), leaf([3.0, 4.0, 5.0])
    y = WeightedProduct.apply(a, b)
    assert y.shape == (2, 3)
    g = upstream((2, 3))
    y.backward(g)
    np.testing.assert_allclose(a.grad.numpy(), (g.numpy() * b.numpy()).sum(1, keepdims=True))
    np.testing.assert_allclose(b.grad.numpy(), (g.numpy() * a.numpy()).sum(0))


def test_custom_function_with_a_bad_backward_is_reported():
    class WrongArity(Function):
        @staticmethod
        def forward(ctx, a, b):
            return ctx.backend.add(a.array, b.array)

        @staticmethod
        def backward(ctx, grad_output):
            return (grad_output,)

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, a):
            return ctx.backend.copy(a.array)

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output.sum(keepdims=True).reshape(1, 1, 1)

    with pytest.raises(RuntimeError, match="WrongArity.*1 gradient"):
        WrongArity.apply(leaf([1.0]), leaf([2.0])).backward()
    with pytest.raises(RuntimeError, match=r"WrongShape.*\(1, 1, 1\)"):
        WrongShape.apply(leaf([1.0, 2.0])).backward(upstream(2))


class SplitScaled(Function):
    """(2x, 3x, mean(x)): two differentiable outputs and a statistic without gradient."""

    @staticmethod
    def forward(ctx, x):
        mean = x.array.mean(keepdims=True)
        ctx.mark_non_differentiable(mean)
        return x.array * 2, x.array * 3, mean

    @staticmethod
    def backward(ctx, g_double, g_triple, g_mean):
        assert g_mean is None
        parts = [g * k for g, k in ((g_double, 2), (g_triple, 3)) if g is not None]
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]


def test_custom_function_with_several_outputs():
    rng = np.random.default_rng(3)
    x0, u, v = (rng.standard_normal(4) for _ in range(3))
    x = mg.tensor(x0, requires_grad=True)
    double, triple, mean = SplitScaled.apply(x)
    assert double.requires_grad and triple.requires_grad and not mean.requires_grad
    ((double * mg.tensor(u)).sum() + (triple * triple * mg.tensor(v)).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * u + 18 * x0 * v, rtol=1e-12)
    x.grad = None
    (SplitScaled.apply(x)[1] * mg.tensor(u)).sum().backward()  # one output only: the other gets None
    np.testing.assert_allclose(x.grad.numpy(), 3 * u, rtol=1e-12)
    x64 = mg.tensor(x0, requires_grad=True)
    assert mg.gradgradcheck(lambda t: SplitScaled.apply(t)[0] * SplitScaled.apply(t)[1], (x64,))


def test_forward_returning_a_list_is_refused():
    class Listed(Function):
        @staticmethod
        def forward(ctx, x):
            return [x.array, x.array]

    with pytest.raises(TypeError, match="listed: forward returned a list; return a tuple"):
        Listed.apply(mg.ones(2))


def test_a_zero_dim_tensor_takes_a_dimensioned_ones_dtype_within_its_kind():
    """PyTorch's rule: within one kind a 0-d tensor does not widen a dimensioned one (float32 + 0-d float64 is
    float32, int32 + 0-d int64 is int32); of a higher kind it still decides (int32 + 0-d float64 is float64).
    The gradient reaching the 0-d float64 operand is float64, as PyTorch's."""
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    s = mg.tensor(3.0, dtype="float64", requires_grad=True)
    y = x * s
    assert y.dtype == np.float32 and (s - x).dtype == np.float32 and mg.maximum(s, x).dtype == np.float32
    y.sum().backward()
    assert s.grad.dtype == np.float64 and float(s.grad) == 3.0
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    i32 = mg.tensor(np.array([1, 2], np.int32))
    assert (i32 + mg.tensor(5)).dtype == np.int32
    assert (i32 + mg.tensor(0.5, dtype="float64")).dtype == np.float64
    assert (mg.tensor(1.0) + mg.tensor(2.0, dtype="float64")).dtype == np.float64  # both 0-d: the wider


def test_binary_promotion_matches_pytorch_for_every_dtype_pair_and_rank():
    torch = pytest.importorskip("torch")
    import itertools

    dtypes = ["float32", "float64", "int32", "int64", "uint8", "bool"]
    for da, db in itertools.product(dtypes, dtypes):
        for sa, sb in [((3,), ()), ((), (3,)), ((3,), (3,)), ((), ())]:
            a, b = np.ones(sa, da), np.ones(sb, db)
            expected = (torch.tensor(a) + torch.tensor(b)).dtype
            assert (mg.tensor(a) + mg.tensor(b)).dtype.name == str(expected).removeprefix("torch."), (da, db, sa, sb)
