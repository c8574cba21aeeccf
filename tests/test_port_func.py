"""``minigrad.func`` (PyTorch's ``torch.func``): the transforms against their definitions, and against
``torch.func`` on the same float64 inputs where PyTorch is installed (those comparisons skip without it)."""

from __future__ import annotations

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad import func as mf

RNG = np.random.default_rng(21)
X, Y = RNG.standard_normal(4), RNG.standard_normal(4)
A = RNG.standard_normal((3, 4))


def _mg(a):
    return mg.tensor(a, dtype=mg.float64)


def _torch(a):
    return torch.tensor(a, dtype=torch.float64)


def _np(tree):
    if isinstance(tree, dict):
        return {k: _np(v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(_np(v) for v in tree)
    return tree.detach().numpy()


def _assert_close(got, expected):
    if isinstance(expected, dict):
        assert list(got) == list(expected)
        for k in expected:
            _assert_close(got[k], expected[k])
    elif isinstance(expected, (tuple, list)):
        assert type(got) is type(expected) and len(got) == len(expected)
        for g, e in zip(got, expected):
            _assert_close(g, e)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


def scalar_fn(lib, x, y):
    return (x ** 3 * y.sin()).sum() + (x * y).exp().mean()


def vector_fn(lib, x, y):
    return (x * y).tanh(), x.cos() * 2


CASES = {
    "grad": lambda lib, f: f.grad(lambda x, y: scalar_fn(lib, x, y))(*_args(lib)),
    "grad argnums": lambda lib, f: f.grad(lambda x, y: scalar_fn(lib, x, y), argnums=(0, 1))(*_args(lib)),
    "grad has_aux": lambda lib, f: f.grad(lambda x, y: (scalar_fn(lib, x, y), x * 2), has_aux=True)(*_args(lib)),
    "grad_and_value": lambda lib, f: f.grad_and_value(lambda x, y: scalar_fn(lib, x, y))(*_args(lib)),
    "grad of grad": lambda lib, f: f.grad(lambda x: f.grad(lambda y: (y ** 3).sum() * x.sum())(x).sum())(
        _args(lib)[0]),
    "grad dict": lambda lib, f: f.grad(lambda p, x: (p["w"] @ x + p["b"]).pow(2).sum())(
        {"w": _args(lib, A)[0], "b": _args(lib)[0][:3]}, _args(lib)[1]),
    "jacrev": lambda lib, f: f.jacrev(lambda x, y: vector_fn(lib, x, y), argnums=(0, 1))(*_args(lib)),
    "jacfwd": lambda lib, f: f.jacfwd(lambda x: (x * x.sum()).sin())(_args(lib)[0]),
    "hessian": lambda lib, f: f.hessian(lambda x, y: scalar_fn(lib, x, y))(*_args(lib)),
    "hessian argnums": lambda lib, f: f.hessian(lambda x, y: scalar_fn(lib, x, y), argnums=1)(*_args(lib)),
    "vjp": lambda lib, f: _vjp_case(lib, f),
    "jvp": lambda lib, f: f.jvp(lambda x, y: vector_fn(lib, x, y), _args(lib), _args(lib, Y[::-1].copy(), X)),
    "vmap": lambda lib, f: f.vmap(lambda a, b: (a * b).sum() + a, in_dims=(0, None))(*_args(lib, A, X)),
    "vmap out_dims": lambda lib, f: f.vmap(lambda a: (a.exp(), a * 3), in_dims=1, out_dims=(0, 1))(_args(lib, A)[0]),
    "per-sample grads": lambda lib, f: _per_sample(lib, f),
}


def _args(lib, *arrays):
    arrays = arrays or (X, Y)
    return tuple((_mg if lib is mg else _torch)(a) for a in arrays)


def _vjp_case(lib, f):
    out, fn = f.vjp(lambda x, y: vector_fn(lib, x, y), *_args(lib))
    return out, fn(_args(lib, Y, X))


def _per_sample(lib, f):
    lib.manual_seed(0)
    model = lib.nn.Linear(4, 2).double()
    with lib.no_grad():
        model.weight.copy_(_args(lib, RNG.standard_normal((2, 4)) * 0 + A[:2])[0])
        model.bias.copy_(_args(lib, np.array([0.5, -0.25]))[0])
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, x, y):
        return ((f.functional_call(model, p, (x.unsqueeze(0),)) - y) ** 2).sum()

    xs, ys = _args(lib, A, A[:, :2])
    return f.vmap(f.grad(loss), in_dims=(None, 0, 0))(params, xs, ys)


@pytest.mark.parametrize("case", list(CASES))
def test_func_equals_torch_func(case):
    tf = pytest.importorskip("torch.func")

    expected = _np(CASES[case](torch, tf))
    got = _np(CASES[case](mg, mf))
    _assert_close(got, expected)


@pytest.mark.parametrize("case", list(CASES))
def test_top_level_results_are_plain_tensors(case):
    leaves = []

    def collect(tree):
        if isinstance(tree, dict):
            tree = list(tree.values())
        if isinstance(tree, (tuple, list)):
            for t in tree:
                collect(t)
        else:
            leaves.append(tree)

    collect(CASES[case](mg, mf))
    assert leaves and all(isinstance(t, mg.Tensor) and not t.requires_grad for t in leaves)


# Transforms of functions that use a captured tensor ``w`` and an argument ``x`` that may require grad: at the top
# level the results carry the graph back to whichever of the two requires grad, as PyTorch's do.
CAPTURED = {
    "grad": lambda f, x, w: f.grad(lambda v: (w * v ** 3).sum() + (v * w).sin().sum())(x),
    "grad_and_value": lambda f, x, w: f.grad_and_value(lambda v: (w * v.exp()).sum())(x),
    "vjp": lambda f, x, w: _captured_vjp(f, x, w),
    "jvp": lambda f, x, w: f.jvp(lambda v: (w * v).tanh(), (x,), (x.detach() * 0 + 0.5,)),
    "jacrev": lambda f, x, w: f.jacrev(lambda v: w * v.sin() * v.sum())(x),
    "hessian": lambda f, x, w: f.hessian(lambda v: (w * v ** 3).sum() * v.sum())(x),
    "vmap of grad": lambda f, x, w: f.vmap(f.grad(lambda v: (w * v ** 3).sum()))(x.unsqueeze(0) * x.unsqueeze(1)),
}


def _captured_vjp(f, x, w):
    out, fn = f.vjp(lambda v: (w * v).cos() * v, x)
    return out, fn(out.detach() * 0 + 1.5)


def _captured_run(lib, f, case, x_grad, w_grad):
    make = _mg if lib is mg else _torch
    x, w = make(X).requires_grad_(x_grad), make(np.array(0.7)).requires_grad_(w_grad)
    results = CAPTURED[case](f, x, w)
    leaves = [results] if not isinstance(results, tuple) else [t for r in results for t in (
        r if isinstance(r, tuple) else (r,))]
    flags = [t.requires_grad for t in leaves]
    tracked = [t for t in leaves if t.requires_grad]
    if tracked:
        rng = np.random.default_rng(5)
        total = sum((t * make(rng.standard_normal(tuple(t.shape)))).sum() for t in tracked)
        total.backward()
    grads = [None if t.grad is None else t.grad.numpy() for t in (x, w)]
    return flags, grads


@pytest.mark.parametrize("x_grad, w_grad", [(True, True), (False, True), (True, False), (False, False)])
@pytest.mark.parametrize("case", list(CAPTURED))
def test_top_level_results_keep_the_callers_graph_as_torch_func(case, x_grad, w_grad):
    tf = pytest.importorskip("torch.func")
    expected_flags, expected_grads = _captured_run(torch, tf, case, x_grad, w_grad)
    flags, grads = _captured_run(mg, mf, case, x_grad, w_grad)
    assert flags == expected_flags
    for got, expected in zip(grads, expected_grads):
        assert (got is None) == (expected is None)
        if expected is not None:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


def test_a_captured_tensor_gets_the_gradient_through_a_transform():
    w = mg.tensor(0.7, dtype=mg.float64, requires_grad=True)
    x = _mg(X)
    g = mf.grad(lambda v: (w * v ** 3).sum())(x)  # 3 w x^2
    assert g.requires_grad and not x.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), (3 * X ** 2).sum(), rtol=1e-14)
    with mg.no_grad():  # no graph is built where grad mode is off, as in PyTorch
        assert not mf.grad(lambda v: (w * v ** 3).sum())(x).requires_grad


def test_definitions_without_pytorch():
    x = _mg(X)
    np.testing.assert_allclose(mf.grad(lambda v: (v ** 2).sum())(x).numpy(), 2 * X, rtol=1e-15)
    q = _mg(A.T @ A)
    np.testing.assert_allclose(mf.hessian(lambda v: v @ q @ v)(x).numpy(), 2 * A.T @ A, rtol=1e-12, atol=1e-12)
    looped = np.stack([np.tanh(row * X).sum(0) for row in A])
    np.testing.assert_allclose(mf.vmap(lambda r: (r * x).tanh().sum())(_mg(A)).numpy(), looped, rtol=1e-14)
    jac = mf.jacrev(lambda v: _mg(A) @ v)(x)
    np.testing.assert_allclose(jac.numpy(), A, rtol=1e-15)


def test_functional_call_leaves_the_module_as_it_was_and_checks_keys():
    model = mg.nn.Linear(3, 2)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    zeros = {k: mg.zeros_like(v) for k, v in model.named_parameters()}
    assert mf.functional_call(model, zeros, (mg.ones(1, 3),)).numpy().tolist() == [[0.0, 0.0]]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    with pytest.raises(RuntimeError, match=r"missing keys \['bias'\]"):
        mf.functional_call(model, {"weight": zeros["weight"]}, (mg.ones(1, 3),), strict=True)
    with pytest.raises(AttributeError, match="no parameter or buffer named"):
        mf.functional_call(model, {"wieght": zeros["weight"]}, (mg.ones(1, 3),))
    with pytest.raises(ValueError, match="multiple values for keys"):
        mf.functional_call(model, ({"bias": zeros["bias"]}, {"bias": zeros["bias"]}), (mg.ones(1, 3),))


def test_functional_call_replaces_tied_weights_together():
    emb = mg.nn.Embedding(5, 3)
    head = mg.nn.Linear(3, 5, bias=False)
    head.weight = emb.weight
    model = mg.nn.Sequential(emb, head)
    new = mg.ones(5, 3)
    out = mf.functional_call(model, {"0.weight": new}, (mg.tensor([1]),))
    np.testing.assert_array_equal(out.numpy(), np.full((1, 5), 3.0))


def test_errors_name_the_transform():
    x = _mg(X)
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor, got tensor with 1 dims"):
        mf.grad(lambda v: v * 2)(x)
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        mf.vmap(lambda a, b: a + b)(mg.ones(3), mg.ones(4))
    with pytest.raises(ValueError, match="at least one input must be batched"):
        mf.vmap(lambda a: a, in_dims=None)(mg.ones(3))
    with pytest.raises(NotImplementedError, match="randomness='same'"):
        mf.vmap(lambda a: a, randomness="same")
    with pytest.raises(TypeError, match="floating-point"):
        mf.grad(lambda v: v.sum())(mg.tensor([1, 2]))
    assert mg.vmap is mf.vmap
