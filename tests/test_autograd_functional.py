"""``minigrad.autograd`` and ``minigrad.autograd.functional`` (vjp, jvp, jacobian, hessian, vhp, hvp).

Each function of the inputs is written once, against a module ``lib`` that is either ``torch`` or ``minigrad``,
and the results are compared with ``torch.autograd.functional`` in float64 on random inputs and vectors. The
torch-free tests check the Jacobian and Hessian against central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import functional as AF  # noqa: N812 - as torch.autograd.functional is often imported

BACKENDS = mg.testing.available_backends()
RNG = np.random.default_rng(20261207)


def _arrays(*shapes):
    return [RNG.standard_normal(s) for s in shapes]


def _mg(arrays, backend="numpy"):
    return tuple(mg.tensor(a, dtype="float64", backend=backend) for a in arrays)


def _torch(arrays):
    torch = pytest.importorskip("torch")
    return tuple(torch.tensor(a, dtype=torch.float64) for a in arrays)


def _np(value):
    """Nested tuples of tensors (either library) as nested tuples of float64 arrays."""
    if isinstance(value, (tuple, list)):
        return tuple(_np(v) for v in value)
    if hasattr(value, "detach"):
        value = value.detach()
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)


def _assert_same(got, expected, rtol=1e-10, atol=1e-12):
    got, expected = _np(got), _np(expected)
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            _assert_same(g, e, rtol, atol)
    else:
        assert not isinstance(got, tuple), f"expected a tensor, got a tuple of {len(got)}"
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


# Functions written once for both libraries. Shapes: the inputs' shapes for each case.
def _one_to_one(x):
    return (x.sin() * x.exp()).matmul(x.transpose(0, 1)) if x.ndim == 2 else x.tanh() * x


def _two_to_one(x, y):
    return (x.matmul(y)).tanh()


def _one_to_two(x):
    return x.sin(), (x * x).sum(-1)


def _two_to_two(x, y):
    return x * y.exp(), (x.matmul(y.transpose(0, 1))).sigmoid()


def _scalar_one(x):
    return (x.sin() * x * x).sum() + (x.tanh()).prod()


def _scalar_two(x, y):
    return (x.matmul(y).tanh() ** 2).sum() + (x * x).sum() * y.sum()


CASES = [
    ("one_to_one", _one_to_one, [(3, 2)], False),
    ("one_to_one_vector", _one_to_one, [(4,)], False),
    ("two_to_one", _two_to_one, [(2, 3), (3, 2)], True),
    ("one_to_two", _one_to_two, [(2, 3)], False),
    ("two_to_two", _two_to_two, [(2, 3), (2, 3)], True),
]
SCALAR_CASES = [
    ("scalar_one", _scalar_one, [(2, 3)], False),
    ("scalar_two", _scalar_two, [(2, 3), (3, 2)], True),
]


def _inputs(shapes, as_tuple, backend="numpy"):
    arrays = _arrays(*shapes)
    ours, theirs = _mg(arrays, backend), _torch(arrays)
    return (ours, theirs) if as_tuple else (ours[0], theirs[0])


def _output_shapes(fn, inputs):
    out = fn(*(inputs if isinstance(inputs, tuple) else (inputs,)))
    return [tuple(o.shape) for o in (out if isinstance(out, tuple) else (out,))]


def _like(shapes, as_tuple):
    arrays = _arrays(*shapes)
    ours, theirs = _mg(arrays), _torch(arrays)
    return (ours, theirs) if as_tuple else (ours[0], theirs[0])


@pytest.mark.parametrize("name,fn,shapes,as_tuple", CASES, ids=[c[0] for c in CASES])
def test_vjp_and_jvp_equal_torch(name, fn, shapes, as_tuple):
    torch = pytest.importorskip("torch")
    ours, theirs = _inputs(shapes, as_tuple)
    out_shapes = _output_shapes(fn, ours)
    out_tuple = isinstance(fn(*(ours if as_tuple else (ours,))), tuple)
    v_ours, v_theirs = _like(out_shapes, out_tuple)
    _assert_same(AF.vjp(fn, ours, v_ours), torch.autograd.functional.vjp(fn, theirs, v_theirs))
    u_ours, u_theirs = _like(shapes, as_tuple)
    _assert_same(AF.jvp(fn, ours, u_ours), torch.autograd.functional.jvp(fn, theirs, u_theirs))


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("name,fn,shapes,as_tuple", CASES, ids=[c[0] for c in CASES])
def test_jacobian_equals_torch(name, fn, shapes, as_tuple, strategy):
    torch = pytest.importorskip("torch")
    ours, theirs = _inputs(shapes, as_tuple)
    # PyTorch computes forward mode only with vectorize=True; ours gives the same numbers either way.
    expected = torch.autograd.functional.jacobian(fn, theirs, vectorize=strategy == "forward-mode",
                                                  strategy=strategy)
    _assert_same(AF.jacobian(fn, ours, strategy=strategy), expected)
    _assert_same(AF.jacobian(fn, ours, strategy=strategy, vectorize=True), expected)


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("name,fn,shapes,as_tuple", SCALAR_CASES, ids=[c[0] for c in SCALAR_CASES])
def test_hessian_vhp_hvp_equal_torch(name, fn, shapes, as_tuple, strategy):
    torch = pytest.importorskip("torch")
    ours, theirs = _inputs(shapes, as_tuple)
    _assert_same(AF.hessian(fn, ours, outer_jacobian_strategy=strategy),
                 torch.autograd.functional.hessian(fn, theirs, vectorize=strategy == "forward-mode",
                                                   outer_jacobian_strategy=strategy))
    v_ours, v_theirs = _like(shapes, as_tuple)
    _assert_same(AF.vhp(fn, ours, v_ours), torch.autograd.functional.vhp(fn, theirs, v_theirs))
    _assert_same(AF.hvp(fn, ours, v_ours), torch.autograd.functional.hvp(fn, theirs, v_theirs))


def test_create_graph_results_can_be_differentiated_again():
    """With create_graph=True the results stay in the graph: d/dx of <w, H(x) v> equals PyTorch's."""
    torch = pytest.importorskip("torch")
    x_np, v_np, w_np = _arrays((2, 3), (2, 3), (2, 3))
    x = mg.tensor(x_np, dtype="float64", requires_grad=True)
    _, hv = AF.hvp(_scalar_one, x, mg.tensor(v_np, dtype="float64"), create_graph=True)
    (ours,) = mg.grad((hv * mg.tensor(w_np, dtype="float64")).sum(), x)
    xt = torch.tensor(x_np, requires_grad=True)
    _, hvt = torch.autograd.functional.hvp(_scalar_one, xt, torch.tensor(v_np), create_graph=True)
    (theirs,) = torch.autograd.grad((hvt * torch.tensor(w_np)).sum(), xt)
    _assert_same(ours, theirs)
    jac = AF.jacobian(_one_to_one, x, create_graph=True)
    (ours,) = mg.grad((jac ** 2).sum(), x)
    jact = torch.autograd.functional.jacobian(_one_to_one, xt, create_graph=True)
    (theirs,) = torch.autograd.grad((jact ** 2).sum(), xt)
    _assert_same(ours, theirs)


def test_results_are_detached_and_inputs_untouched_without_create_graph():
    x = mg.tensor(_arrays((3,))[0], dtype="float64", requires_grad=True)
    out, g = AF.vjp(lambda t: (t * t).sum(), x)
    h = AF.hessian(lambda t: (t ** 3).sum(), x)
    for t in (out, g, h):
        assert not t.requires_grad and t.grad_fn is None
    assert x.grad is None and x.requires_grad
    y = mg.tensor([1.0, 2.0], dtype="float64")
    AF.jacobian(lambda t: t.exp(), y)
    assert not y.requires_grad and y.grad is None


def _fd_jacobian(f, x: np.ndarray, eps=1e-6) -> np.ndarray:
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        jac[(Ellipsis, *idx)] = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps)
    return jac


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacobian_and_hessian_match_finite_differences(backend):
    """No PyTorch needed: the Jacobian against central differences of the function, the Hessian against
    central differences of the gradient, on every backend."""
    x_np = _arrays((2, 3))[0]

    def f(a):
        return _one_to_one(mg.tensor(a, dtype="float64", backend=backend)).numpy()

    def grad_f(a):
        t = mg.tensor(a, dtype="float64", backend=backend, requires_grad=True)
        (g,) = mg.grad(_scalar_one(t), t)
        return g.numpy()

    x = mg.tensor(x_np, dtype="float64", backend=backend)
    for strategy in ("reverse-mode", "forward-mode"):
        jac = AF.jacobian(_one_to_one, x, strategy=strategy)
        assert jac.backend == backend
        np.testing.assert_allclose(jac.numpy(), _fd_jacobian(f, x_np), rtol=1e-7, atol=1e-8)
        hess = AF.hessian(_scalar_one, x, outer_jacobian_strategy=strategy)
        np.testing.assert_allclose(hess.numpy(), _fd_jacobian(grad_f, x_np), rtol=1e-7, atol=1e-8)
    v = mg.tensor(_arrays((2, 3))[0], dtype="float64", backend=backend)
    h = hess.numpy().reshape(6, 6)
    np.testing.assert_allclose(AF.hvp(_scalar_one, x, v)[1].numpy().ravel(), h @ v.numpy().ravel(), rtol=1e-10)
    np.testing.assert_allclose(AF.vhp(_scalar_one, x, v)[1].numpy().ravel(), v.numpy().ravel() @ h, rtol=1e-10)


def test_unused_input_gets_zeros_or_strict_error():
    x, y = _mg(_arrays((3,), (2,)))

    def f(a, b):
        return a.exp()

    _, (gx, gy) = AF.vjp(f, (x, y), mg.ones(3, dtype="float64"))
    np.testing.assert_array_equal(gy.numpy(), np.zeros(2))
    np.testing.assert_allclose(gx.numpy(), np.exp(x.numpy()))
    jx, jy = AF.jacobian(f, (x, y))
    assert jy.shape == (3, 2) and not jy.numpy().any()
    for call in (lambda: AF.vjp(f, (x, y), mg.ones(3, dtype="float64"), strict=True),
                 lambda: AF.jacobian(f, (x, y), strict=True),
                 lambda: AF.jvp(f, (x, y), (mg.ones(3, dtype="float64"), mg.ones(2, dtype="float64")), strict=True),
                 lambda: AF.hessian(lambda a, b: (a ** 3).sum(), (x, y), strict=True)):
        with pytest.raises(RuntimeError, match="input 1.*strict=True"):
            call()


def test_unused_input_matches_torch_zeros():
    torch = pytest.importorskip("torch")
    arrays = _arrays((3,), (2,))

    def f(a, b):
        return (a ** 3).sum()

    _assert_same(AF.hessian(f, _mg(arrays)), torch.autograd.functional.hessian(f, _torch(arrays)))
    v = _arrays((3,), (2,))
    _assert_same(AF.hvp(f, _mg(arrays), _mg(v)), torch.autograd.functional.hvp(f, _torch(arrays), _torch(v)))


def test_constant_output_gets_zero_jacobian():
    x = mg.tensor([1.0, 2.0], dtype="float64")
    jac = AF.jacobian(lambda t: mg.ones(3, dtype="float64"), x)
    assert jac.shape == (3, 2) and not jac.numpy().any()
    with pytest.raises(RuntimeError, match="output 0 of the function does not depend on the inputs"):
        AF.jacobian(lambda t: mg.ones(3, dtype="float64"), x, strict=True)


def test_errors_name_the_function_and_shapes():
    x = mg.tensor(_arrays((2, 3))[0], dtype="float64")
    with pytest.raises(mg.ShapeError, match=r"vjp: v\[0\] has shape \(3,\) but the output\[0\] has shape \(2, 3\)"):
        AF.vjp(lambda t: t.sin(), x, mg.ones(3, dtype="float64"))
    with pytest.raises(mg.ShapeError, match=r"jvp: v has 2 tensors but the input has 1"):
        AF.jvp(lambda t: t.sin(), x, (x, x))
    with pytest.raises(RuntimeError, match=r"vjp: v can be omitted only when the output is a single tensor"):
        AF.vjp(lambda t: t.sin(), x)
    with pytest.raises(RuntimeError, match=r"hessian: the function should return a tensor with a single element, "
                                           r"got shape \(2, 3\)"):
        AF.hessian(lambda t: t.sin(), x)
    with pytest.raises(RuntimeError, match="hvp: the function should return a single tensor"):
        AF.hvp(lambda t: (t.sum(), t.sum()), x, x)
    with pytest.raises(ValueError, match="jacobian: strategy must be one of"):
        AF.jacobian(lambda t: t, x, strategy="sideways")
    with pytest.raises(ValueError, match="hessian: outer_jacobian_strategy must be one of"):
        AF.hessian(lambda t: t.sum(), x, outer_jacobian_strategy="sideways")
    with pytest.raises(TypeError, match="jacobian: the inputs must be a tensor or a tuple of tensors, but item 1"):
        AF.jacobian(lambda a, b: a, (x, 3.0))
    with pytest.raises(TypeError, match="jacobian: the outputs of the user-provided function must be a tensor"):
        AF.jacobian(lambda t: 3.0, x)


def test_v_may_be_omitted_for_one_element():
    torch = pytest.importorskip("torch")
    (x_np,) = _arrays((1,))
    ours, theirs = _mg([x_np]), _torch([x_np])
    _assert_same(AF.vjp(lambda t: (t * t).sum(), ours[0]),
                 torch.autograd.functional.vjp(lambda t: (t * t).sum(), theirs[0]))
    _assert_same(AF.jvp(lambda t: t.exp(), ours[0]), torch.autograd.functional.jvp(lambda t: t.exp(), theirs[0]))
    _assert_same(AF.hvp(lambda t: (t ** 4).sum(), ours[0]),
                 torch.autograd.functional.hvp(lambda t: (t ** 4).sum(), theirs[0]))


def test_grad_materialize_grads():
    x = mg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = mg.tensor([3.0], dtype="float64", requires_grad=True)
    gx, gy = mg.autograd.grad((x * x).sum(), (x, y), materialize_grads=True)
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(gy.numpy(), [0.0])
    assert mg.grad((x * x).sum(), (x, y), allow_unused=True)[1] is None
    with pytest.raises(ValueError, match="materialize_grads=True needs allow_unused"):
        mg.grad((x * x).sum(), (x, y), allow_unused=False, materialize_grads=True)
    with pytest.raises(RuntimeError, match="input 1 .* was not used"):
        mg.grad((x * x).sum(), (x, y))


def test_autograd_namespace_has_torch_autograd_names():
    from minigrad import autograd

    for name in ("grad", "backward", "Function", "gradcheck", "gradgradcheck", "no_grad", "enable_grad",
                 "set_grad_enabled", "inference_mode", "detect_anomaly", "set_detect_anomaly", "functional"):
        assert hasattr(autograd, name), name
    assert autograd.grad is mg.grad and autograd.Function is mg.Function
    x = mg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    autograd.backward((x ** 2).sum())
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_create_graph_differentiates_the_input_apart_from_its_other_uses():
    """With create_graph, the function's input is a view of the caller's tensor with a node of its own: a
    Jacobian with respect to it leaves out the function's other uses of that tensor (a closure), as PyTorch's
    ``view_as`` does; then differentiating the result again goes through both."""
    from minigrad.autograd.functional import jacobian

    x0 = np.array([0.5, -1.0, 2.0])
    x = mg.tensor(x0, requires_grad=True)
    (jac,) = (jacobian(lambda y: (y ** 3).sum() * x.sum(), (x,), create_graph=True),)
    np.testing.assert_allclose(jac[0].numpy(), 3 * x0 ** 2 * x0.sum(), rtol=1e-15)
    (second,) = mg.autograd.grad(jac[0].sum(), [x])
    np.testing.assert_allclose(second.numpy(), 6 * x0 * x0.sum() + (3 * x0 ** 2).sum(), rtol=1e-15)
