"""``Tensor.data`` with PyTorch's meaning (a tensor on the same memory, outside autograd, with its own version
counter), its setter, and ``Tensor.array`` (the backend array). The idioms of ported scripts
(``w.data.normal_``, ``p.data.clamp_``, ``p.data.add_(p.grad.data, alpha=-lr)``, ``output.data.max(1)[1]``,
``p.data = t``, ...) are compared with PyTorch on the same weights."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim

HOST_BACKENDS = mg.testing.available_backends()


@pytest.fixture(params=[*HOST_BACKENDS, "cupy-standin"])
def backend(request, monkeypatch):
    """Each host backend, and the CuPy backend's code on its CPU stand-in."""
    if request.param == "cupy-standin":
        pytest.importorskip("numba_cuda", reason="the CuPy backend's kernels need numba-cuda")
        from _cupy_standin import NAME, CupyStandIn
        from _dummy_backend import register

        register(monkeypatch, NAME, CupyStandIn)
    return request.param


def _values(t) -> np.ndarray:
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _mlp_pair(torch, backend: str, seed: int = 0):
    """A 3-4-2 MLP in PyTorch and the same one (float64, same weights) in minigrad."""
    torch.manual_seed(seed)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    mm = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(backend, "float64")
    mm.load_state_dict({k: mg.tensor(v.detach().numpy(), backend=backend) for k, v in tm.state_dict().items()})
    return tm, mm


def _assert_params_equal(tm, mm) -> None:
    for (name, tp), (_, mp) in zip(tm.named_parameters(), mm.named_parameters()):
        np.testing.assert_allclose(mp.numpy(), _values(tp), rtol=1e-12, atol=1e-14, err_msg=name)


# -- the getter ---------------------------------------------------------------------------------------------
def test_data_is_a_tensor_on_the_same_memory_outside_autograd(backend):
    x = mg.tensor([1.0, -2.0, 3.0], backend=backend, requires_grad=True)
    y = x * 2
    for t in (x, y, nn.Parameter(mg.tensor([1.0, 2.0], backend=backend))):
        d = t.data
        assert type(d) is mg.Tensor  # a Parameter's .data is a plain tensor, as in PyTorch
        assert d.array is t.array and d.backend == t.backend
        assert not d.requires_grad and d.grad_fn is None and d.is_leaf and d.grad is None
        assert d is not t.data  # a new tensor each time, as PyTorch's


def test_array_is_the_backend_array_itself(backend):
    x = mg.tensor([1.0, 2.0], backend=backend)
    assert isinstance(x.array, mg.backends.load(backend).array_type)
    x.array[0] = 5.0  # backend-level code writes through it
    assert x.tolist() == [5.0, 2.0]


def test_changes_through_data_are_invisible_to_autograd_as_in_pytorch(backend):
    torch = pytest.importorskip("torch")
    values = np.array([0.5, -1.5, 2.0])
    tx = torch.tensor(values, requires_grad=True)
    x = mg.tensor(values, backend=backend, requires_grad=True)
    ty, y = (tx * tx).sum(), (x * x).sum()
    tx.data.mul_(3.0)
    x.data.mul_(3.0)
    assert (x._version, x.data._version) == (tx._version, tx.data._version) == (0, 0)
    ty.backward()
    y.backward()  # no error: the saved x holds the new values, as PyTorch's does
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * values, rtol=1e-15)


def test_detach_shares_the_version_counter_where_data_does_not(backend):
    torch = pytest.importorskip("torch")
    tx = torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True)
    x = mg.tensor([0.5, 2.0], dtype="float64", backend=backend, requires_grad=True)
    ty, y = (tx * tx).sum(), (x * x).sum()
    tx.detach().mul_(2.0)
    x.detach().mul_(2.0)
    assert x._version == tx._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.backward()
    with pytest.raises(mg.InplaceError, match="modified by an in-place operation"):
        y.backward()


def test_data_of_a_leaf_that_requires_grad_changes_in_place_with_grad_mode_on(backend):
    w = nn.Parameter(mg.zeros(2, 3, backend=backend))
    with pytest.raises(mg.InplaceError, match="leaf tensor that requires grad"):
        w.add_(1.0)  # the tensor itself is refused, as in PyTorch...
    w.data.add_(1.0)  # ...its .data is not
    w.data += 1.0
    assert w.tolist() == [[2.0] * 3] * 2 and w.requires_grad and w.grad_fn is None


# -- the idioms of ported scripts ------------------------------------------------------------------------
def test_weight_data_normal_init_keeps_the_parameter(backend):
    torch = pytest.importorskip("torch")
    tw = torch.nn.Linear(50, 40).weight
    m = nn.Linear(50, 40).to(backend)
    tversion = tw._version
    tw.data.normal_(0, 0.02)
    w, before, version = m.weight, m.weight.numpy().copy(), m.weight._version
    mg.manual_seed(0)
    out = w.data.normal_(0, 0.02)
    assert type(out) is mg.Tensor and out.array is w.array  # returns the .data tensor, as PyTorch
    assert m.weight is w and type(w) is nn.Parameter and w.requires_grad
    assert w._version - version == tw._version - tversion == 0  # unseen by autograd
    assert not np.array_equal(w.numpy(), before)
    # 2000 draws of N(0, 0.02): the sample std is within 5 of its standard errors (0.02 / sqrt(4000))
    assert abs(float(w.numpy().std()) - 0.02) < 5 * 0.02 / np.sqrt(2 * w.numel())
    m.bias.data.zero_()
    m.bias.data.fill_(0.5)
    assert m.bias.tolist() == [0.5] * 40


def test_manual_sgd_with_grad_data_equals_pytorch(backend):
    torch = pytest.importorskip("torch")
    tm, mm = _mlp_pair(torch, backend)
    rng = np.random.default_rng(1)
    x, target = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    tx, ttarget = torch.tensor(x), torch.tensor(target)
    mx, mtarget = mg.tensor(x, backend=backend), mg.tensor(target, backend=backend)
    lr = 0.1
    for _ in range(4):
        tloss = ((tm(tx) - ttarget) ** 2).mean()
        mloss = ((mm(mx) - mtarget) ** 2).mean()
        for model, loss in ((tm, tloss), (mm, mloss)):
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.data.zero_()
            loss.backward()
            for p in model.parameters():
                p.data.add_(p.grad.data, alpha=-lr)
        assert mloss.data.item() == pytest.approx(tloss.data.item(), rel=1e-12)
        assert type(mloss.data.item()) is float
    _assert_params_equal(tm, mm)
    assert all(p.requires_grad and p.grad_fn is None for p in mm.parameters())


def test_wgan_clipping_inside_an_optimizer_loop_equals_pytorch(backend):
    torch = pytest.importorskip("torch")
    tm, mm = _mlp_pair(torch, backend, seed=2)
    topt = torch.optim.RMSprop(tm.parameters(), lr=0.05)
    mopt = optim.RMSprop(mm.parameters(), lr=0.05)
    rng = np.random.default_rng(3)
    clip = 0.3
    for _ in range(5):
        x = rng.standard_normal((6, 3))
        for model, opt, xx in ((tm, topt, torch.tensor(x)), (mm, mopt, mg.tensor(x, backend=backend))):
            opt.zero_grad()
            (-model(xx).mean()).backward()
            opt.step()
            for p in model.parameters():
                p.data.clamp_(-clip, clip)
    _assert_params_equal(tm, mm)
    assert max(float(p.abs().max()) for p in mm.parameters()) <= clip
    # the optimizer's state still refers to the same parameters, which it keeps updating
    assert all(p in mopt.state for p in mm.parameters())


def test_copy_and_assignment_of_data_equal_pytorch(backend):
    torch = pytest.importorskip("torch")
    (ts, ms), (td, md) = _mlp_pair(torch, backend, seed=4), _mlp_pair(torch, backend, seed=5)
    # the soft target-network update of DDPG: p.data.copy_(tau * q.data + (1 - tau) * p.data)
    versions = [p._version for p in md.parameters()]
    for tp, tq in zip(td.parameters(), ts.parameters()):
        tp.data.copy_(0.25 * tq.data + 0.75 * tp.data)
    for mp, mq in zip(md.parameters(), ms.parameters()):
        mp.data.copy_(0.25 * mq.data + 0.75 * mp.data)
    _assert_params_equal(td, md)
    assert [p._version for p in md.parameters()] == versions
    for tp, tq in zip(td.parameters(), ts.parameters()):
        tp.data = tq.data
    for mp, mq in zip(md.parameters(), ms.parameters()):
        mp.data = mq.data
    _assert_params_equal(td, md)
    for mp, mq in zip(md.parameters(), ms.parameters()):
        assert mp.array is mq.array and type(mp) is nn.Parameter and mp.requires_grad


def test_output_data_max_gives_the_argmax_as_pytorch(backend):
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(6).standard_normal((7, 5)).astype(np.float32)
    target = np.array([0, 1, 2, 3, 4, 0, 1])
    tout, mout = torch.tensor(logits, requires_grad=True) * 2, mg.tensor(logits, backend=backend,
                                                                            requires_grad=True) * 2
    tpred, mpred = tout.data.max(1)[1], mout.data.max(1)[1]
    assert mpred.dtype == np.int64 and mpred.tolist() == tpred.tolist() == logits.argmax(1).tolist()
    tcorrect = tpred.eq(torch.tensor(target)).sum().item()
    mcorrect = mpred.eq(mg.tensor(target, backend=backend)).sum().item()
    assert mcorrect == tcorrect and not mout.data.max(1)[0].requires_grad
    assert mout.data.max(1, keepdim=True)[1].shape == tuple(tout.data.max(1, keepdim=True)[1].shape)


def test_data_numpy_shares_memory_on_host_backends(backend):
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([1.0, 2.0], backend=backend, requires_grad=True)
    assert np.array_equal(x.data.numpy(), t.data.numpy())
    host = mg.backends.load(backend).host_memory
    assert np.shares_memory(x.data.numpy(), x.array) == host
    assert np.shares_memory(t.data.numpy(), t.data.numpy())


# -- the setter -----------------------------------------------------------------------------------------------
def test_assigning_data_shares_the_new_memory_and_may_change_shape_and_dtype(backend):
    torch = pytest.importorskip("torch")
    tp = torch.nn.Parameter(torch.zeros(3))
    p = nn.Parameter(mg.zeros(3, backend=backend))
    tnew = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    new = mg.arange(6, dtype="float64", backend=backend).reshape(2, 3)
    tp.data, p.data = tnew, new
    assert p.shape == tuple(tp.shape) and p.dtype == np.float64 and tp.dtype == torch.float64
    assert type(p) is nn.Parameter and p.requires_grad == tp.requires_grad and p.grad_fn is None
    tnew.add_(1.0)
    new.add_(1.0)  # the memory is shared, not copied
    assert p.tolist() == tp.tolist()
    (tp * tp).sum().backward()
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


def test_assigning_data_keeps_the_grad_and_leaves_old_views_alone(backend):
    torch = pytest.importorskip("torch")
    tx, x = torch.arange(4.0), mg.arange(4, dtype="float32", backend=backend)
    tv, v = tx[1:], x[1:]
    tx.data, x.data = torch.zeros(4), mg.zeros(4, backend=backend)
    assert v.tolist() == tv.tolist() == [1.0, 2.0, 3.0]
    x.add_(1.0)
    tx.add_(1.0)
    assert v.tolist() == tv.tolist() and x.tolist() == tx.tolist()
    w = nn.Parameter(mg.ones(2, backend=backend))
    w.grad = mg.full((2,), 3.0, backend=backend)
    w.data = mg.zeros(2, backend=backend)
    assert w.grad.tolist() == [3.0, 3.0]


def test_a_view_given_new_data_is_no_longer_a_view(backend):
    x = mg.arange(4, dtype="float32", backend=backend, requires_grad=True) * 1.0
    v = x[1:]
    v.data = mg.zeros(3, backend=backend)
    assert v._base is None
    with mg.no_grad():
        v.add_(1.0)
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0] and v.tolist() == [1.0, 1.0, 1.0]


def test_a_graph_that_saved_the_tensor_refuses_to_backward_after_data_is_assigned(backend):
    """The one difference from PyTorch (which would use the new values silently): see docs/nn.md."""
    x = mg.tensor([1.0, 2.0], backend=backend, requires_grad=True)
    y = (x * x).sum()
    x.data = mg.tensor([5.0, 6.0], backend=backend)
    with pytest.raises(mg.InplaceError, match="version 0 was saved, it is now version 1"):
        y.backward()
    (x * x).sum().backward()  # a new graph sees the new values
    assert x.grad.tolist() == [10.0, 12.0]


def test_assigning_a_raw_array_of_the_backend_is_accepted(backend):
    be = mg.backends.load(backend)
    x = mg.zeros(2, backend=backend, requires_grad=True)
    array = be.from_numpy(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    x.data = array
    assert x.array is array and x.tolist() == [1.0, 2.0, 3.0] and x.requires_grad


def test_assigning_data_from_another_backend_names_both(backend):
    other = "numba" if backend == "numpy" else "numpy"
    x = mg.tensor([1.0, 2.0], backend=backend)
    before, version = x.array, x._version
    with pytest.raises(mg.BackendMismatchError, match=f"backend '{other}' but the tensor on '{backend}'"):
        x.data = mg.tensor([3.0], backend=other)
    assert x.array is before and x._version == version and x.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(("value", "match"), [
    ([1.0, 2.0], "expected a Tensor .* got list"),
    (3.0, "expected a Tensor .* got float"),
    (np.array(["a"]), "unsupported|not supported|dtype"),
])
def test_assigning_data_refuses_what_is_not_a_tensor(value, match):
    x = mg.tensor([1.0, 2.0], backend="numpy")
    before = x.array
    with pytest.raises(TypeError, match=match):
        x.data = value
    assert x.array is before and x._version == 0


def test_a_tensor_that_requires_grad_refuses_integer_data_as_pytorch():
    torch = pytest.importorskip("torch")
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        tx.data = torch.arange(2)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    before = x.array
    with pytest.raises(TypeError, match="requires grad must stay floating point, got int64"):
        x.data = mg.arange(2)
    assert x.array is before and x._version == 0
    y = mg.tensor([1.0, 2.0])
    y.data = mg.arange(2)  # without requires_grad, as PyTorch
    assert y.dtype == np.int64
