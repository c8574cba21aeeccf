"""View calls that change nothing (``x.view(x.shape)``, an identity ``permute``, ``t()`` of a vector, ``expand`` to
the same shape, ...) return a new view of ``x``, as in PyTorch, so that ``detach_``, ``requires_grad_``, hooks,
``autograd.grad`` and in-place changes act on the view, not on ``x``; calls that PyTorch answers with ``x`` itself
(``contiguous()``, ``flatten`` of one dimension, ``to()`` with nothing to do, ...) return ``x``. Checked call by
call against PyTorch (float64, random upstream gradients) on the host backends; the library's own code keeps
its no-op reshapes free of graph nodes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad.ops.composites import _movedim_or_self
from minigrad.ops.movement import _expand_or_self, _permute_or_self, _reshape_or_self

BACKENDS = [b for b in mg.testing.available_backends() if b != "cupy"]
RNG = np.random.default_rng(29)
VIEW, SELF = "a new view", "the input itself"

# (name, input shape, the call on minigrad (m = minigrad) or PyTorch (m = torch), what PyTorch returns)
CASES = [
    ("view(x.shape)", (3, 4), lambda m, x: x.view(x.shape), VIEW),
    ("view(-1) of 1-D", (5,), lambda m, x: x.view(-1), VIEW),
    ("view(()) of 0-D", (), lambda m, x: x.view(()), VIEW),
    ("view_as(x)", (3, 4), lambda m, x: x.view_as(x), VIEW),
    ("reshape(x.shape)", (3, 4), lambda m, x: x.reshape(x.shape), VIEW),
    ("reshape(-1) of 1-D", (5,), lambda m, x: x.reshape(-1), VIEW),
    ("reshape(x, shape)", (3, 4), lambda m, x: m.reshape(x, (3, 4)), VIEW),
    ("reshape_as(x)", (3, 4), lambda m, x: x.reshape_as(x), VIEW),
    ("unflatten to one size", (3, 4), lambda m, x: x.unflatten(1, (4,)), VIEW),
    ("ravel of 1-D", (5,), lambda m, x: x.ravel(), VIEW),
    ("permute(0, 1)", (3, 4), lambda m, x: x.permute(0, 1), VIEW),
    ("permute(()) of 0-D", (), lambda m, x: x.permute(()), VIEW),
    ("transpose(0, 0)", (3, 4), lambda m, x: x.transpose(0, 0), VIEW),
    ("transpose(0, -1) of 1-D", (5,), lambda m, x: x.transpose(0, -1), VIEW),
    ("transpose(0, -1) of 0-D", (), lambda m, x: x.transpose(0, -1), VIEW),
    ("swapdims(0, 0) of 1-D", (5,), lambda m, x: x.swapdims(0, 0), VIEW),
    ("swapaxes(1, 1)", (3, 4), lambda m, x: x.swapaxes(1, 1), VIEW),
    ("movedim(0, 0)", (3, 4), lambda m, x: x.movedim(0, 0), VIEW),
    ("moveaxis(x, 1, 1)", (3, 4), lambda m, x: m.moveaxis(x, 1, 1), VIEW),
    ("t() of 2-D", (3, 4), lambda m, x: x.t(), VIEW),
    ("t() of 1-D", (5,), lambda m, x: x.t(), VIEW),
    ("t() of 0-D", (), lambda m, x: x.t(), VIEW),
    ("t(x) of 1-D", (5,), lambda m, x: m.t(x), VIEW),
    ("T of 1-D", (5,), lambda m, x: x.T, VIEW),
    ("T of 0-D", (), lambda m, x: x.T, VIEW),
    ("mT of 2-D", (3, 4), lambda m, x: x.mT, VIEW),
    ("mH of 2-D", (3, 4), lambda m, x: x.mH, VIEW),
    ("expand(3, 4)", (3, 4), lambda m, x: x.expand(3, 4), VIEW),
    ("expand(-1, -1)", (3, 4), lambda m, x: x.expand(-1, -1), VIEW),
    ("expand(()) of 0-D", (), lambda m, x: x.expand(()), VIEW),
    ("expand_as(x)", (3, 4), lambda m, x: x.expand_as(x), VIEW),
    ("broadcast_to(x, x.shape)", (3, 4), lambda m, x: m.broadcast_to(x, (3, 4)), VIEW),
    ("squeeze() with no size-1 dim", (3, 4), lambda m, x: x.squeeze(), VIEW),
    ("squeeze(0) of size 3", (3, 4), lambda m, x: x.squeeze(0), VIEW),
    ("squeeze((0, 1))", (3, 4), lambda m, x: x.squeeze((0, 1)), VIEW),
    ("squeeze() of 0-D", (), lambda m, x: x.squeeze(), VIEW),
    ("squeeze(-1) of 0-D", (), lambda m, x: x.squeeze(-1), VIEW),
    ("unsqueeze(0).squeeze(0)", (3, 4), lambda m, x: x.unsqueeze(0).squeeze(0), VIEW),
    ("flatten() of 0-D", (), lambda m, x: x.flatten(), VIEW),
    ("narrow(0, 0, 3)", (3, 4), lambda m, x: x.narrow(0, 0, 3), VIEW),
    ("x[:]", (3, 4), lambda m, x: x[:], VIEW),
    ("x[...]", (3, 4), lambda m, x: x[...], VIEW),
    ("x[()] of 0-D", (), lambda m, x: x[()], VIEW),
    ("split into one chunk", (3, 4), lambda m, x: x.split(3)[0], VIEW),
    ("chunk(1)", (3, 4), lambda m, x: x.chunk(1)[0], VIEW),
    ("atleast_1d of 0-D", (), lambda m, x: m.atleast_1d(x), VIEW),
    ("flatten() of 1-D", (5,), lambda m, x: x.flatten(), SELF),
    ("flatten(1, 1)", (3, 4), lambda m, x: x.flatten(1, 1), SELF),
    ("contiguous()", (3, 4), lambda m, x: x.contiguous(), SELF),
    ("to(float64)", (3, 4), lambda m, x: x.to(m.float64), SELF),
    ("to('cpu')", (3, 4), lambda m, x: x.to("cpu"), SELF),
    ("cpu()", (3, 4), lambda m, x: x.cpu(), SELF),
    ("double()", (3, 4), lambda m, x: x.double(), SELF),
    ("type_as(x)", (3, 4), lambda m, x: x.type_as(x), SELF),
    ("real(x)", (3, 4), lambda m, x: m.real(x), SELF),
    ("conj()", (3, 4), lambda m, x: x.conj(), SELF),
    ("positive(x)", (3, 4), lambda m, x: m.positive(x), SELF),
    ("+x", (3, 4), lambda m, x: +x, SELF),
    ("atleast_1d of 1-D", (5,), lambda m, x: m.atleast_1d(x), SELF),
    ("atleast_2d of 2-D", (3, 4), lambda m, x: m.atleast_2d(x), SELF),
    ("broadcast_tensors(x, x)", (3, 4), lambda m, x: m.broadcast_tensors(x, x)[0], SELF),
    ("mT of 0-D", (), lambda m, x: x.mT, SELF),
    ("mH of 0-D", (), lambda m, x: x.mH, SELF),
    ("adjoint() of 0-D", (), lambda m, x: x.adjoint(), SELF),
]
VIEWS = [c for c in CASES if c[3] == VIEW]


def _ids(cases):
    return [c[0] for c in cases]


def _mg(array, backend="numpy", requires_grad=False):
    return mg.tensor(array, dtype="float64", backend=backend, requires_grad=requires_grad)


def _pt(array, requires_grad=False):
    return torch.tensor(array, dtype=torch.float64, requires_grad=requires_grad)


def _same(a, b, tol=1e-12):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("name, shape, call, kind", CASES, ids=_ids(CASES))
def test_pytorch_returns_what_the_table_says(name, shape, call, kind):
    x = _pt(RNG.standard_normal(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch deprecates T of a vector and mT of a 0-D tensor
        y = call(torch, x)
    assert (y is x) == (kind == SELF)
    assert (y._base is x) == (kind == VIEW)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, shape, call, kind", CASES, ids=_ids(CASES))
def test_minigrad_returns_what_pytorch_does(name, shape, call, kind, backend):
    x = _mg(RNG.standard_normal(shape), backend)
    y = call(mg, x)
    if kind == SELF:
        assert y is x
        return
    assert y is not x and y._base is x and x._base is None
    assert np.shares_memory(y.numpy(), x.numpy())
    with mg.no_grad():
        y.mul_(2.0)  # a write through the view reaches x and bumps the counter the two share
    assert x._version == y._version == 1


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, shape, call, kind", VIEWS, ids=_ids(VIEWS))
def test_detach__of_a_view_is_refused_as_in_pytorch(name, shape, call, kind, backend):
    x = _mg(RNG.standard_normal(shape), backend, requires_grad=True)
    for y in (call(mg, x), call(mg, x.detach())):
        with pytest.raises(RuntimeError, match="can't detach views in-place"):
            y.detach_()
    assert x.requires_grad and x.grad_fn is None
    out = call(mg, x).detach()  # detach() of a view is no view: detach_ is fine there
    assert out.detach_() is out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, shape, call, kind", VIEWS, ids=_ids(VIEWS))
def test_hooks_retain_grad_and_grad_of_the_view_match_pytorch(name, shape, call, kind, backend):
    x_np, c_np = RNG.standard_normal(shape), RNG.standard_normal(shape)
    g_np = RNG.standard_normal(call(mg, _mg(x_np)).shape)

    def run(m, x, c, g):
        y = call(m, x)
        assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
        out = (y.sin() * g).sum() + (x * x * c).sum()
        (grad_y,) = m.autograd.grad(out, y, retain_graph=True)  # d out / d y: g cos(y), not x's gradient
        (grad_x,) = m.autograd.grad(out, x, retain_graph=True)
        seen = []
        y.register_hook(lambda grad: (seen.append(grad.detach().clone()), grad * 3.0)[1])
        y.retain_grad()
        out.backward()  # the hook sees the view's gradient and scales what reaches x
        return grad_y, grad_x, x.grad, y.grad, seen

    ours = run(mg, _mg(x_np, backend, True), _mg(c_np, backend), _mg(g_np, backend))
    theirs = run(torch, _pt(x_np, True), _pt(c_np), _pt(g_np))
    for a, b in zip(ours[:4], theirs[:4]):
        _same(a, b)
    assert len(ours[4]) == len(theirs[4]) == 1
    _same(ours[4][0], theirs[4][0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, shape, call, kind", VIEWS, ids=_ids(VIEWS))
def test_requires_grad__acts_on_the_view_not_on_its_base(name, shape, call, kind, backend):
    x_np = RNG.standard_normal(shape)

    def run(m, x):
        y = call(m, x).requires_grad_()
        assert y.is_leaf and y.requires_grad and not x.requires_grad
        (y * (y.detach() * 0.5 + 0.25)).sum().backward()
        assert x.grad is None
        return y.grad

    _same(run(mg, _mg(x_np, backend)), run(torch, _pt(x_np)))
    x = _mg(x_np, backend, requires_grad=True)
    with pytest.raises(RuntimeError, match="only allowed on leaf tensors"):
        call(mg, x).requires_grad_(False)  # a view of a tensor that requires grad is no leaf


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, shape, call, kind", VIEWS, ids=_ids(VIEWS))
def test_in_place_changes_through_the_view(name, shape, call, kind, backend):
    x_np, g_np = RNG.standard_normal(shape), RNG.standard_normal(shape)

    def run(m, x, g):
        with pytest.raises(RuntimeError, match="view of a leaf" if m is mg else None):
            call(m, x).mul_(2.0)  # PyTorch's rule for a view of a leaf that requires grad (and of split's outputs)
        saved = (x * x).sum()  # saves x for its gradient
        with m.no_grad():
            call(m, x).mul_(2.0)  # untracked: allowed, x's values change
        with pytest.raises(RuntimeError):
            saved.backward()  # ... and the graph that saved the old ones refuses to backward
        (x.sin() * g).sum().backward()
        return x.detach(), x.grad

    for a, b in zip(run(mg, _mg(x_np, backend, True), _mg(g_np, backend)), run(torch, _pt(x_np, True), _pt(g_np))):
        _same(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, shape, call, kind", VIEWS, ids=_ids(VIEWS))
def test_recorded_in_place_change_of_a_view_of_a_non_leaf_is_refused(name, shape, call, kind, backend):
    """A documented difference: PyTorch rebases the view's history, minigrad refuses (docs/autograd.md)."""
    a = _mg(RNG.standard_normal(shape), backend, requires_grad=True)
    x = a * 1.0
    before = x.numpy().copy()
    with pytest.raises(mg.InplaceError, match="view"):
        call(mg, x).mul_(2.0)
    np.testing.assert_array_equal(x.numpy(), before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_d_dims_and_matrix_transposes_follow_pytorch(backend):
    v, s = _mg(RNG.standard_normal(5), backend), _mg(1.5, backend)
    with pytest.raises(mg.ShapeError, match=r"tensor\.mT is only supported on matrices or batches of matrices"):
        v.mT  # noqa: B018 - PyTorch refuses a vector too
    with pytest.raises(IndexError, match="transpose: dims -2, -1 out of range for shape"):
        v.transpose(-2, -1)
    with pytest.raises(IndexError, match="transpose: dims 1, 0 out of range for shape"):
        s.transpose(1, 0)
    with pytest.raises(IndexError, match="squeeze: dim 1 is out of range"):
        s.squeeze(1)
    assert s.H is s and s.mT is s


def test_the_library_s_no_op_movements_cost_no_node():
    x = mg.randn(3, 4, requires_grad=True)
    assert _reshape_or_self(x, (3, 4)) is x and _permute_or_self(x, (0, 1)) is x and _expand_or_self(x, (3, 4)) is x
    assert _movedim_or_self(x, -1, 1) is x and _movedim_or_self(x, 0, 1).shape == (4, 3)
    assert _reshape_or_self(x, (4, 3))._base is x and _permute_or_self(x, (1, 0)).shape == (4, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_steps_record_no_view_nodes_of_their_own(backend):
    """The hot paths (bench_core's MLP step, cross-entropy with reduction="none", a one-head attention) build no
    Reshape, Permute or Expand nodes where their shapes are already right."""
    with mg.backend(backend):
        x, w, b = mg.randn(6, 5), mg.randn(5, 4, requires_grad=True), mg.randn(4, requires_grad=True)
        y = mg.tensor([0, 3, 1, 2, 3, 0])
        linear = mg.nn.Linear(5, 4)
    logits = (x @ w + b).sigmoid()
    loss = -mg.log_softmax(logits, axis=1)[mg.arange(6, backend=backend), y].mean()
    loss = loss + mg.nn.functional.cross_entropy(logits, y, reduction="none").sum()
    assert not {"Reshape", "Permute", "Expand"} & _node_names(loss)
    # F.linear transposes its weight: one Permute, no more
    assert sorted(n for n in _node_names_list(linear(x).sum()) if n in ("Reshape", "Permute", "Expand")) == [
        "Permute"]


def _node_names_list(out) -> list:
    seen, stack, names = set(), [out.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        stack.extend(n for n, _ in node.next_functions)
    return names


def _node_names(out) -> set:
    return set(_node_names_list(out))


# Calls that copy in PyTorch even where nothing moves: the result must not share x's memory.
COPIES = [
    ("flip(())", (2, 3), lambda m, x: x.flip(())),
    ("flip of a size-1 dimension", (1, 3), lambda m, x: x.flip(0)),
    ("roll by 0", (2, 3), lambda m, x: x.roll(0, 1)),
    ("roll by a whole turn", (2, 3), lambda m, x: x.roll(3, 1)),
    ("roll flattened by a whole turn", (2, 3), lambda m, x: x.roll(6)),
    ("repeat(1, 1)", (2, 3), lambda m, x: x.repeat(1, 1)),
    ("repeat(1, 1, 1)", (2, 3), lambda m, x: x.repeat(1, 1, 1)),
    ("tile((1,))", (2, 3), lambda m, x: x.tile((1,))),
    ("repeat_interleave(1, dim=0)", (2, 3), lambda m, x: x.repeat_interleave(1, dim=0)),
    ("repeat_interleave(1)", (2, 3), lambda m, x: x.repeat_interleave(1)),
    ("pad reflect by 0", (1, 2, 3), lambda m, x: m.nn.functional.pad(x, (0, 0), mode="reflect")),
    ("pad replicate by 0", (1, 2, 3), lambda m, x: m.nn.functional.pad(x, (0, 0), mode="replicate")),
    ("pad circular by 0", (1, 2, 3), lambda m, x: m.nn.functional.pad(x, (0, 0), mode="circular")),
    ("reshape of a transpose", (2, 3), lambda m, x: x.T.reshape(-1)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name, shape, call", COPIES, ids=[c[0] for c in COPIES])
def test_calls_that_copy_in_pytorch_do_not_alias_the_input(name, shape, call, backend):
    values = RNG.standard_normal(shape)
    x = mg.tensor(values, backend=backend)
    y = call(mg, x)
    assert y._base is not x
    with mg.no_grad():
        y.add_(1.0)
    np.testing.assert_array_equal(x.numpy(), values)
    leaf = mg.tensor(values, requires_grad=True, backend=backend)
    out = call(mg, leaf * 1.0)
    out.mul_(2.0)  # allowed while recording: not a view
    upstream = RNG.standard_normal(out.shape)
    (out * mg.tensor(upstream, backend=backend)).sum().backward()
    t = torch.tensor(values, requires_grad=True)
    expected = call(torch, t * 1.0)
    assert expected._base is None or expected.data_ptr() != t.data_ptr()
    expected.mul_(2.0)
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), t.grad.numpy(), rtol=1e-15)
