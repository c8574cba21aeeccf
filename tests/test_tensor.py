"""Tensors: creation and dtype rules, conversions, attributes, repr, dtype changes and in-place ops."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

# -- creation and dtype rules ----------------------------------------------------------------------


@pytest.mark.parametrize(("data", "dtype"), [
    (1.5, np.float32),
    ([1.0, 2.0], np.float32),
    ([[1, 2.5], [3, 4]], np.float32),
    (3, np.int64),
    ([1, 2, 3], np.int64),
    (True, np.bool_),
    ([True, False], np.bool_),
    (np.array([1.0, 2.0]), np.float64),  # a NumPy array keeps its dtype
    (np.array([1.0], dtype=np.float32), np.float32),
    (np.array([1, 2], dtype=np.int32), np.int32),
    (np.array([1, 2], dtype=np.uint8), np.uint8),
    (np.float64(2.5), np.float64),
    (np.arange(6.0).reshape(2, 3).T, np.float64),
])
def test_tensor_dtype_rules(data, dtype):
    t = mg.tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=dtype))


@pytest.mark.parametrize("dtype", ["float64", mg.float64, np.float64, "double"])
def test_dtype_argument_accepts_names_and_objects(dtype):
    assert mg.tensor([1, 2], dtype=dtype).dtype == np.float64
    assert mg.zeros(2, dtype=dtype).dtype == np.float64


def test_dtype_objects_and_names():
    assert mg.float32 == np.float32 and mg.float64 == np.float64 and mg.int64 == np.int64
    assert mg.bool == np.bool_
    assert mg.tensor([1, 0], dtype="bool").dtype == mg.bool
    assert mg.tensor([1.7], dtype=int).dtype == mg.int64
    # Python's float is float64, as in PyTorch (torch.tensor([1], dtype=float) is float64); minigrad.float is float32
    assert mg.tensor([1], dtype=float).dtype == mg.float64
    assert mg.zeros(2, dtype=float).dtype == mg.float64 and mg.ones(2).to(float).dtype == mg.float64
    assert mg.tensor([1], dtype=mg.float).dtype == mg.float32


def test_tensor_copies_its_data():
    source = np.array([1.0, 2.0])
    t = mg.tensor(source)
    source[0] = 100.0
    assert t.numpy()[0] == 1.0
    u = mg.tensor(t)
    u.add_(1.0)
    assert t.numpy()[0] == 1.0 and u.numpy()[0] == 2.0


def test_tensor_requires_grad_and_from_numpy():
    t = mg.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None
    array = np.arange(4, dtype=np.int32).reshape(2, 2)
    f = mg.from_numpy(array)
    assert f.dtype == np.int32 and f.shape == (2, 2)
    np.testing.assert_array_equal(f.numpy(), array)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        mg.from_numpy([1, 2])


def test_zeros_ones_full_empty():
    assert mg.zeros(2, 3).shape == (2, 3) and mg.zeros((2, 3)).shape == (2, 3)
    assert mg.zeros(2, 3).dtype == np.float32
    np.testing.assert_array_equal(mg.zeros(2).numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(mg.ones(2, dtype="int64").numpy(), [1, 1])
    assert mg.ones(()).shape == () and mg.ones(()).item() == 1.0
    full = mg.full((2, 2), 7.5)
    assert full.dtype == np.float32 and np.all(full.numpy() == 7.5)
    assert mg.full((2,), 3).dtype == np.int64
    assert mg.full((2,), True).dtype == np.bool_
    assert mg.full((2,), 3, dtype="float64").dtype == np.float64
    e = mg.empty(3, 2, dtype="float64")
    assert e.shape == (3, 2) and e.dtype == np.float64
    with pytest.raises(ValueError, match="negative"):
        mg.zeros(-1, 2)


def test_arange_linspace_eye():
    a = mg.arange(5)
    assert a.dtype == np.int64 and a.tolist() == [0, 1, 2, 3, 4]
    assert mg.arange(2, 5).tolist() == [2, 3, 4]
    b = mg.arange(0, 1, 0.25)
    assert b.dtype == np.float32 and b.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert mg.arange(3, dtype="float64").dtype == np.float64
    lin = mg.linspace(0, 1, 5)
    assert lin.dtype == np.float32
    np.testing.assert_allclose(lin.numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(mg.eye(3).numpy(), np.eye(3))
    np.testing.assert_array_equal(mg.eye(2, 3, dtype="float64").numpy(), np.eye(2, 3))


def test_like_functions_keep_shape_and_dtype():
    x = mg.tensor(np.ones((2, 3)))
    for fn in (mg.zeros_like, mg.ones_like, mg.empty_like, mg.rand_like, mg.randn_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == np.float64 and y.backend == x.backend
    assert mg.zeros_like(x, dtype="float32").dtype == np.float32
    full = mg.full_like(x, 4.0)
    assert full.dtype == np.float64 and np.all(full.numpy() == 4.0)
    np.testing.assert_array_equal(mg.ones_like(x).numpy(), np.ones((2, 3)))
    assert mg.zeros_like(x, requires_grad=True).requires_grad


def test_random_creation():
    mg.manual_seed(0)
    r = mg.rand(1000)
    assert r.dtype == np.float32 and r.shape == (1000,)
    assert 0.0 <= r.numpy().min() and r.numpy().max() < 1.0
    n = mg.randn(4000, dtype="float64")
    assert n.dtype == np.float64
    assert abs(n.numpy().mean()) < 0.1 and abs(n.numpy().std() - 1) < 0.1
    i = mg.randint(3, 7, (500,))
    assert i.dtype == np.int64 and set(i.tolist()) == {3, 4, 5, 6}
    j = mg.randint(4, size=(2, 2))
    assert j.shape == (2, 2) and j.numpy().max() < 4
    assert mg.randn(2, 3, requires_grad=True).requires_grad


def test_manual_seed_makes_random_tensors_reproducible():
    def draw():
        return [mg.rand(3).numpy(), mg.randn(2, 2).numpy(), mg.randint(0, 100, (5,)).numpy()]

    mg.manual_seed(1234)
    first = draw()
    mg.manual_seed(1234)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    mg.manual_seed(4321)
    assert not np.array_equal(draw()[1], first[1])


# -- conversions -----------------------------------------------------------------------------------


def test_numpy_item_tolist_and_python_numbers():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(t.numpy(), np.ndarray) and t.numpy().dtype == np.float32
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    s = mg.tensor(2.5)
    assert s.item() == 2.5 and isinstance(s.item(), float)
    assert mg.tensor([7]).item() == 7 and isinstance(mg.tensor([7]).item(), int)
    assert float(s) == 2.5 and int(mg.tensor(3)) == 3
    assert bool(mg.tensor([True])) is True
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)
    np.testing.assert_array_equal(np.asarray(t), t.numpy())
    assert [10, 20, 30][mg.tensor(1)] == 20


# -- attributes and repr ---------------------------------------------------------------------------


def test_attributes():
    x = mg.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3
    assert x.dtype == np.float64
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.numel() == 24 and len(x) == 2
    assert x.backend == "numpy"
    assert x.T.shape == (4, 3, 2)
    np.testing.assert_array_equal(x.T.numpy(), x.numpy().T)
    assert x.mT.shape == (2, 4, 3)
    assert x.requires_grad and x.grad is None and x.grad_fn is None and x.is_leaf
    y = x * 2
    assert y.requires_grad and y.grad_fn is not None and not y.is_leaf and y.grad is None
    y.sum().backward()
    assert x.grad.shape == x.shape and y.grad is None
    c = mg.tensor([1.0])
    assert not c.requires_grad and not (c * 2).requires_grad and (c * 2).grad_fn is None
    with pytest.raises(TypeError, match="0-d"):
        len(mg.tensor(1.0))


def test_repr_shows_values_dtype_backend_and_grad_fn():
    t = mg.tensor([1.5, -2.0])
    text = repr(t)
    assert "1.5" in text and "-2." in text and "dtype=float32" in text and "backend=numpy" in text
    assert "grad_fn" not in text and "requires_grad" not in text
    w = mg.tensor([1.0], dtype="float64", requires_grad=True)
    assert "requires_grad=True" in repr(w) and "float64" in repr(w)
    assert "grad_fn=<MulBackward>" in repr(w * 2)
    assert "int64" in repr(mg.arange(3))
    big = repr(mg.zeros(1000))
    assert "..." in big and len(big) < 1000


# -- dtype changes ---------------------------------------------------------------------------------


def test_astype_float_double_long_bool():
    x = mg.tensor([1.5, -2.0, 0.0])
    assert x.astype("float32") is x
    assert x.double().dtype == np.float64 and x.float() is x
    assert x.long().tolist() == [1, -2, 0] and x.long().dtype == np.int64
    assert x.bool().tolist() == [True, True, False]
    assert x.astype(mg.float64).dtype == np.float64
    assert x.to("float64").dtype == np.float64
    assert mg.arange(3).float().dtype == np.float32


def test_astype_is_differentiable_between_floating_dtypes():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * mg.tensor(np.array([0.5, 3.0]))
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 3.0])
    assert not x.long().requires_grad


# -- in-place ops ----------------------------------------------------------------------------------


def test_in_place_arithmetic_returns_the_same_tensor_and_bumps_the_version():
    x = mg.tensor([1.0, 2.0, 3.0])
    version = x._version
    assert x.add_(1.0) is x and x.tolist() == [2.0, 3.0, 4.0]
    assert x.sub_(mg.tensor([1.0, 1.0, 1.0])) is x and x.tolist() == [1.0, 2.0, 3.0]
    assert x.mul_(2) is x and x.tolist() == [2.0, 4.0, 6.0]
    assert x.div_(4) is x and x.tolist() == [0.5, 1.0, 1.5]
    assert x.add_(mg.tensor([2.0]), alpha=2) is x and x.tolist() == [4.5, 5.0, 5.5]
    assert x.sub_(1.0, alpha=0.5) is x and x.tolist() == [4.0, 4.5, 5.0]
    assert x._version == version + 6
    assert x.fill_(7.0) is x and x.tolist() == [7.0, 7.0, 7.0]
    assert x.zero_() is x and x.tolist() == [0.0, 0.0, 0.0]
    assert x.dtype == np.float32


def test_augmented_assignment_keeps_identity_and_dtype():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    original = x
    x += mg.tensor([10.0, 20.0])  # broadcast other
    x -= 1
    x *= mg.tensor([[2.0], [3.0]])
    x /= 2.0
    assert x is original and x.dtype == np.float32
    np.testing.assert_allclose(x.numpy(), [[10.0, 21.0], [18.0, 34.5]])
    x += np.float64(0.5) * mg.tensor(np.ones(2))  # a float64 operand is cast into the float32 tensor
    assert x.dtype == np.float32


def test_integer_in_place_rules():
    i = mg.arange(4)
    i += 2
    i *= 3
    assert i.tolist() == [6, 9, 12, 15] and i.dtype == np.int64
    with pytest.raises(TypeError):
        i /= 2  # true division gives a float, which does not fit an int tensor (as in PyTorch)
    assert i.tolist() == [6, 9, 12, 15]


def test_copy_broadcasts_and_casts():
    x = mg.zeros(2, 3)
    assert x.copy_(mg.tensor(np.array([1.0, 2.0, 3.0]))) is x
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), [[1, 2, 3], [1, 2, 3]])
    x.copy_([[5.0, 6.0, 7.0], [8.0, 9.0, 10.0]])
    assert x.tolist() == [[5, 6, 7], [8, 9, 10]]


def test_copy_is_differentiable_into_a_non_leaf():
    src = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    dst = mg.zeros(3, 2, dtype="float64")
    dst.copy_(src)
    assert dst.requires_grad and dst.grad_fn is not None
    dst.backward(mg.tensor(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])))
    np.testing.assert_array_equal(src.grad.numpy(), [9.0, 12.0])


@pytest.mark.parametrize(("index", "value"), [
    (0, 5.0),
    ((1, 2), -1.0),
    (slice(None, None, 2), mg.tensor([9.0, 8.0, 7.0])),
    ((Ellipsis, 1), mg.tensor([4.0, 5.0, 6.0])),
    ([0, 2], 3.0),
    (np.array([[True, False, True], [False, False, True], [True, True, False]]), 0.5),
    ((slice(None), [0, 2]), mg.tensor([[1.0], [2.0], [3.0]])),
])
def test_setitem_matches_numpy(index, value):
    x = mg.tensor(np.arange(9.0, dtype=np.float32).reshape(3, 3))
    expected = x.numpy().copy()
    expected[index] = value.numpy() if isinstance(value, mg.Tensor) else value
    version = x._version
    x[index] = value
    np.testing.assert_array_equal(x.numpy(), expected)
    assert x._version == version + 1 and x.dtype == np.float32


def test_setitem_from_a_mask_tensor():
    x = mg.tensor([1.0, -2.0, 3.0, -4.0])
    x[x < 0] = 0.0
    assert x.tolist() == [1.0, 0.0, 3.0, 0.0]


def test_views_share_memory_with_their_base():
    x = mg.tensor(np.zeros((2, 3)))
    row = x[1]
    row.add_(1.0)
    flat = x.reshape(6)
    flat[0] = 5.0
    np.testing.assert_array_equal(x.numpy(), [[5, 0, 0], [1, 1, 1]])
    d = x.detach()
    d.mul_(2.0)
    np.testing.assert_array_equal(x.numpy(), [[10, 0, 0], [2, 2, 2]])


def test_in_place_on_a_leaf_requiring_grad_only_under_no_grad():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(mg.InplaceError, match="no_grad"):
        w += 1
    with pytest.raises(mg.InplaceError):
        w[0] = 3.0
    with mg.no_grad():
        w += 1
        w[0] = 0.5
        w.mul_(2)
    assert w.tolist() == [1.0, 6.0] and w.is_leaf and w.requires_grad and w.grad_fn is None


def test_in_place_with_a_tensor_requiring_grad_makes_the_target_part_of_the_graph():
    w = mg.tensor([2.0, 3.0], requires_grad=True)
    x = mg.ones(2)
    x.mul_(w)
    assert x.requires_grad and not x.is_leaf
    x.backward(mg.tensor([0.5, -1.0]))
    assert w.grad.tolist() == [0.5, -1.0]


def test_clone_and_contiguous_own_their_memory():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    c = x.clone()
    c.add_(1.0)
    assert x.numpy()[0, 0] == 0.0
    t = x.T.contiguous()
    assert t.numpy().flags.c_contiguous
    np.testing.assert_array_equal(t.numpy(), x.numpy().T)
