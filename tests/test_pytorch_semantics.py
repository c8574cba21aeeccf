"""Where minigrad accepts a PyTorch spelling it behaves as PyTorch, or refuses it with a clear error.

Each test pins a difference that once ran silently with a wrong answer (``v, i = x.max(dim=1)`` unpacking two
rows of maxima, ``x.var(1, True)`` read as keepdims, ...). Comparisons with PyTorch run where it is installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

RNG = np.random.default_rng(7)


def _leaf(array) -> mg.Tensor:
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("spelling", ["positional", "dim", "axis"])
def test_max_min_with_a_dim_return_values_and_indices(name, spelling):
    values = RNG.permutation(12).reshape(2, 6).astype(np.float64)
    x = _leaf(values)
    call = {"positional": lambda: getattr(x, name)(1), "dim": lambda: getattr(x, name)(dim=1),
            "axis": lambda: getattr(mg, name)(x, axis=1)}[spelling]
    result = call()
    v, i = result  # unpacks into exactly two fields, whatever the batch size
    assert type(result).__name__ == name and result.values is v and result.indices is i
    pick = np.argmax if name == "max" else np.argmin
    np.testing.assert_array_equal(i.numpy(), pick(values, 1))
    assert i.dtype == np.int64 and v.shape == (2,)
    np.testing.assert_array_equal(v.numpy(), np.take_along_axis(values, pick(values, 1)[:, None], 1)[:, 0])


def test_max_keepdim_and_full_reduction():
    x = _leaf(RNG.permutation(6).reshape(2, 3))
    v, i = x.max(1, keepdim=True)
    assert v.shape == (2, 1) and i.shape == (2, 1)
    assert isinstance(x.max(), mg.Tensor) and x.max().shape == ()


def test_max_of_two_tensors_is_maximum_and_several_dims_are_refused():
    a, b = _leaf([1.0, 5.0]), _leaf([3.0, 2.0])
    np.testing.assert_array_equal(a.max(b).numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(mg.min(a, b).numpy(), [1.0, 2.0])
    with pytest.raises(TypeError, match="amax"):
        a.reshape(1, 2).max((0, 1))
    with pytest.raises(TypeError, match="amin"):
        mg.min(a.reshape(1, 2), dim=[0, 1])


def test_max_with_dim_tie_goes_to_the_returned_index_while_amax_splits():
    x = _leaf([[2.0, 7.0, 7.0]])
    g = mg.tensor(np.array([3.0]))
    x.max(1).values.backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 3.0, 0.0]])
    x.grad = None
    x.amax(1).backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.5, 1.5]])


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_positional_order_is_pytorchs(op):
    x = _leaf(RNG.standard_normal((3, 4)))
    biased = getattr(x, op)(1, False)  # PyTorch: var(dim, unbiased)
    assert biased.shape == (3,)
    expected = getattr(np, op)(x.numpy(), 1, ddof=0)
    np.testing.assert_allclose(biased.numpy(), expected)
    np.testing.assert_allclose(getattr(x, op)(1, keepdim=True).numpy()[:, 0], getattr(np, op)(x.numpy(), 1, ddof=1))
    with pytest.raises(TypeError, match="unbiased or correction"):
        getattr(x, op)(1, True, correction=0)
    with pytest.raises(TypeError, match="unbiased must be a bool"):
        getattr(x, op)(1, 2)


def test_softmax_without_dim_is_refused_beyond_two_dimensions():
    x = mg.randn(2, 3, 4)
    with pytest.raises(TypeError, match="pass dim"):
        mg.softmax(x)
    with pytest.raises(TypeError, match="pass dim"):
        mg.nn.LogSoftmax()(x)
    y = mg.randn(2, 3)
    np.testing.assert_allclose(mg.softmax(y).numpy(), mg.softmax(y, dim=1).numpy())


def test_sort_argsort_topk_ties_are_stable():
    x = mg.tensor([[1.0, 3.0, 3.0, 0.0, 3.0]])
    v, i = x.sort(descending=True)
    np.testing.assert_array_equal(i.numpy(), [[1, 2, 4, 0, 3]])
    np.testing.assert_array_equal(v.numpy(), [[3.0, 3.0, 3.0, 1.0, 0.0]])
    np.testing.assert_array_equal(x.argsort().numpy(), [[3, 0, 1, 2, 4]])
    top = x.topk(2)
    np.testing.assert_array_equal(top.indices.numpy(), [[1, 2]])
    bottom = mg.topk(x, 2, largest=False)
    np.testing.assert_array_equal(bottom.indices.numpy(), [[3, 0]])
    with pytest.raises(ValueError, match="k=6"):
        x.topk(6)


def test_sort_gradient_goes_back_to_the_source_positions():
    x = _leaf([[0.5, -1.0, 2.0], [3.0, 1.0, -2.0]])
    g = RNG.standard_normal((2, 2))
    x.topk(2, dim=1).values.backward(mg.tensor(g))
    expected = np.zeros((2, 3))
    expected[0, [2, 0]] = g[0]
    expected[1, [0, 1]] = g[1]
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_gather_and_scatter_add_check_their_index():
    x = mg.zeros(2, 3)
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        x.gather(1, mg.tensor([[0, 3]]))
    with pytest.raises(TypeError, match="integer tensor"):
        x.gather(1, mg.tensor([[0.0]]))
    with pytest.raises(mg.ShapeError, match="dimension"):
        x.gather(1, mg.tensor([0]))
    with pytest.raises(TypeError, match="float64"):
        mg.scatter_add(x, 0, mg.tensor([[1]]), mg.ones(1, 1, dtype="float64"))


@pytest.mark.parametrize("backend", mg.testing.available_backends())
def test_sorting_ops_against_pytorch(backend):
    torch = pytest.importorskip("torch")
    values = RNG.standard_normal((3, 5))
    values[0, 1] = values[0, 3]  # a tie
    x = mg.tensor(values, backend=backend, requires_grad=True)
    t = torch.tensor(values, requires_grad=True)
    g = RNG.standard_normal((3, 2))
    pairs = [
        (lambda a: a.max(1), lambda a: a.max(1)),
        (lambda a: a.min(dim=0, keepdim=True), lambda a: a.min(dim=0, keepdim=True)),
        (lambda a: a.sort(descending=True, stable=True), lambda a: a.sort(descending=True, stable=True)),
        (lambda a: a.sort(dim=0, stable=True), lambda a: a.sort(dim=0, stable=True)),
        (lambda a: a.topk(2), lambda a: a.topk(2)),
        (lambda a: a.topk(2, largest=False), lambda a: a.topk(2, largest=False)),
    ]
    for ours, theirs in pairs:
        (v, i), (tv, ti) = ours(x), theirs(t)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(v.numpy(), tv.detach().numpy())
    index = np.array([[0, 4], [2, 2], [1, 0]])
    ours = x.gather(1, mg.tensor(index, backend=backend))
    theirs = t.gather(1, torch.tensor(index))
    (ours * mg.tensor(g, backend=backend)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    src = RNG.standard_normal((3, 2))
    ours = mg.scatter_add(mg.tensor(values, backend=backend), 1, mg.tensor(index, backend=backend),
                          mg.tensor(src, backend=backend))
    theirs = torch.tensor(values).scatter_add(1, torch.tensor(index), torch.tensor(src))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert mg.tensor(values, backend=backend).argsort(1, descending=True).tolist() == \
        torch.tensor(values).argsort(dim=1, descending=True, stable=True).tolist()


def test_max_with_dim_gradients_to_second_order():
    x = _leaf(RNG.permutation(12).reshape(3, 4) * 0.3)
    assert mg.gradgradcheck(lambda a: a.max(1).values * a.sum(1), (x,))
    assert mg.gradgradcheck(lambda a: a.sort(0).values ** 2, (x,))


def test_int64_inputs_meet_float32_as_in_add():
    images = mg.tensor(RNG.integers(0, 255, (2, 1, 4, 4)))
    assert (images.reshape(2, 16) @ mg.randn(16, 3)).dtype == np.float32
    assert (mg.randn(3, 2) @ mg.tensor(np.arange(6).reshape(2, 3))).dtype == np.float32
    assert mg.nn.Linear(16, 3)(images.reshape(2, 16)).dtype == np.float32
    conv = mg.nn.Conv2d(1, 2, 3)
    out = conv(images)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), conv(images.float()).numpy(), rtol=1e-6)
    assert mg.cat([images.reshape(2, 16), mg.randn(1, 16)]).dtype == np.float32


def test_format_spec_on_one_element_tensors():
    assert f"{mg.tensor(3.14159):.2f}" == "3.14"
    assert format(mg.tensor([2.5], dtype="float64"), ".1e") == "2.5e+00"
    assert f"{mg.tensor(7):d}" == "7"
    assert f"{mg.tensor([1.0, 2.0])}" == str(mg.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="one-element"):
        format(mg.tensor([1.0, 2.0]), ".2f")


def test_load_of_files_not_written_by_minigrad_save_says_what_to_do(tmp_path):
    np.savez(tmp_path / "a.npz", w=np.ones(3))
    with pytest.raises(mg.SerializationError, match=r"numpy.savez.*not a file written by minigrad.save.*from_numpy"):
        mg.load(tmp_path / "a.npz")
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(3)}, tmp_path / "b.pt")
    with pytest.raises(mg.SerializationError, match=r"torch.save file, not a file written by minigrad.save"):
        mg.load(tmp_path / "b.pt")


@pytest.mark.parametrize("backend", mg.testing.available_backends())
def test_everyday_ops_against_pytorch(backend):
    torch = pytest.importorskip("torch")
    values = RNG.uniform(-2, 2, (3, 4))
    values[1, 2] = 0.0  # a zero: prod's gradient is the product of the others
    values[2, 0] = values[2, 3] = 0.0  # two zeros in one row: that row's gradients are all 0
    mask = RNG.random((3, 1)) < 0.5
    pairs = {
        "prod": (lambda a: a.prod(), lambda a: a.prod()),
        "prod_dim": (lambda a: a.prod(1), lambda a: a.prod(1)),
        "prod_dim0_keep": (lambda a: a.prod(0, keepdim=True), lambda a: a.prod(0, keepdim=True)),
        "cumsum": (lambda a: a.cumsum(1), lambda a: a.cumsum(1)),
        "cumsum_neg": (lambda a: mg.cumsum(a, dim=-2), lambda a: torch.cumsum(a, dim=-2)),
        "masked_fill": (lambda a: a.masked_fill(mg.tensor(mask, backend=backend), -3.0),
                        lambda a: a.masked_fill(torch.tensor(mask), -3.0)),
        "norm": (lambda a: a.norm(), lambda a: a.norm()),
        "norm_1_dim": (lambda a: a.norm(1, dim=1), lambda a: a.norm(1, dim=1)),
        "norm_inf": (lambda a: a.norm(float("inf"), dim=0, keepdim=True),
                     lambda a: a.norm(float("inf"), dim=0, keepdim=True)),
        "norm_3": (lambda a: mg.norm(a, 3, dim=(0, 1)), lambda a: torch.norm(a, 3, dim=(0, 1))),
    }
    for name, (ours, theirs) in pairs.items():
        x = mg.tensor(values, backend=backend, requires_grad=True)
        t = torch.tensor(values, requires_grad=True)
        out, tout = ours(x), theirs(t)
        g = RNG.standard_normal(tuple(tout.shape))
        out.backward(mg.tensor(g, backend=backend))
        tout.backward(torch.tensor(g))
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-15, err_msg=name)
    special = np.array([[0.0, np.nan, np.inf], [-np.inf, 1.0, 0.0]])
    x, t = mg.tensor(special, backend=backend), torch.tensor(special)
    for name in ("isnan", "isfinite"):
        assert getattr(x, name)().tolist() == getattr(t, name)().tolist(), name
    for name in ("all", "any"):
        assert getattr(x, name)().item() == getattr(t, name)().item(), name
        assert getattr(mg, name)(x, 1).tolist() == getattr(torch, name)(t, 1).tolist(), name
        assert getattr(x, name)(dim=0, keepdim=True).tolist() == getattr(t, name)(dim=0, keepdim=True).tolist()
    ints = mg.tensor(np.arange(1, 5))
    assert ints.prod().dtype == np.int64 and ints.prod().item() == 24
    assert ints.cumsum(0).tolist() == [1, 3, 6, 10]


def test_pad_takes_pytorchs_positional_order():
    x = mg.ones(1, 2)
    assert mg.pad(x, (1, 0), "constant", 2.0).tolist() == [[2.0, 1.0, 1.0]]
    assert mg.pad(x, (0, 1), value=3.0).tolist() == [[1.0, 1.0, 3.0]]
    with pytest.raises(TypeError, match="value=..."):
        mg.pad(x, (1, 1), 0.5)  # PyTorch reads the third argument as the mode
    assert mg.pad(mg.tensor([[1.0, 2.0]]), (1, 1), "reflect").tolist() == [[2.0, 1.0, 2.0, 1.0]]
    with pytest.raises(ValueError, match="'constant', 'reflect', 'replicate' or 'circular'"):
        mg.pad(x, (1, 1), "symmetric")


# Every method that takes a dimension, in PyTorch's spellings (positional, dim=, keepdim=): same result as
# PyTorch, or (for names PyTorch lacks) a clear error. Methods are called identically on both sides.
DIM_CALLS = [
    ("sum", (1,), {}), ("sum", (), {"dim": (0, 2), "keepdim": True}), ("sum", (1, True), {}),
    ("mean", (-1,), {"keepdim": True}), ("mean", (), {"dim": 0}),
    ("var", (1,), {}), ("var", (1, False), {}), ("var", (), {"dim": 2, "unbiased": False, "keepdim": True}),
    ("var", (), {"dim": 0, "correction": 0}), ("std", (2, True, True), {}), ("std", (), {"dim": (0, 1)}),
    ("logsumexp", (1,), {}), ("logsumexp", (), {"dim": 2, "keepdim": True}),
    ("argmax", (1,), {}), ("argmax", (), {"dim": 2, "keepdim": True}), ("argmin", (0,), {}),
    ("max", (1,), {}), ("max", (), {"dim": 2, "keepdim": True}), ("max", (1, True), {}), ("max", (), {}),
    ("min", (0,), {}), ("min", (), {"dim": -1}),
    ("amax", ((0, 2),), {}), ("amax", (), {"dim": 1, "keepdim": True}), ("amin", (-1,), {}),
    ("prod", (1,), {}), ("prod", (), {"dim": 2, "keepdim": True}), ("cumsum", (1,), {}), ("cumsum", (), {"dim": 0}),
    ("softmax", (1,), {}), ("softmax", (), {"dim": -1}), ("log_softmax", (0,), {}),
    ("sort", (1,), {}), ("sort", (), {"dim": 0, "descending": True}), ("argsort", (), {"dim": 2}),
    ("topk", (2,), {}), ("topk", (2, 1), {"largest": False}),
    ("norm", (), {"dim": 1}), ("norm", (1, 2), {}), ("norm", (2, (0, 1), True), {}),
    ("squeeze", (), {"dim": 1}), ("unsqueeze", (), {"dim": 3}), ("flatten", (1,), {}),
    ("transpose", (0, 2), {}), ("split", (2,), {"dim": 2}), ("chunk", (2,), {"dim": 1}),
    ("all", (), {"dim": 1}), ("any", (2, True), {}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), DIM_CALLS, ids=lambda v: repr(v)[:30])
def test_methods_with_a_dim_agree_with_pytorch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    values = RNG.permutation(24).reshape(2, 3, 4) * 0.25 - 2.9  # distinct: no ties in max/sort
    if name in ("squeeze",):
        values = values[:, :1]
    if name in ("all", "any"):
        values = values > 0
    ours = getattr(mg.tensor(values), name)(*args, **kwargs)
    theirs = getattr(torch.tensor(values), name)(*args, **kwargs)
    ours = tuple(ours) if isinstance(ours, tuple) else (ours,)
    theirs = tuple(theirs) if isinstance(theirs, tuple) else (theirs,)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_torch_keyword_aliases_on_functions():
    torch = pytest.importorskip("torch")
    values = RNG.standard_normal((2, 3))
    x, t = mg.tensor(values), torch.tensor(values)
    np.testing.assert_allclose(mg.cat([x, x], dim=1).numpy(), torch.cat([t, t], dim=1).numpy())
    np.testing.assert_allclose(mg.stack([x, x], dim=2).numpy(), torch.stack([t, t], dim=2).numpy())
    np.testing.assert_allclose(mg.softmax(x, dim=0).numpy(), torch.softmax(t, dim=0).numpy())
    np.testing.assert_allclose(mg.nn.functional.log_softmax(x, dim=1).numpy(),
                               torch.nn.functional.log_softmax(t, dim=1).numpy())
    for ours, theirs in zip(mg.split(x, [1, 2], dim=1), torch.split(t, [1, 2], dim=1)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
    assert mg.argmax(x).item() == torch.argmax(t).item()
