"""Arguments as PyTorch names and takes them: the ``dtype=`` argument of reductions and softmax (PyTorch casts
the input first, and the gradient flows back through the cast), the keyword names of the binary ops
(``input``/``other``, ``exponent``) and ``alpha`` of add/sub, and the result dtypes of integer and bool inputs
where NumPy's rule differs from PyTorch's (unsigned sums, the sign of a bool tensor). Against PyTorch in float64
where it is installed."""

from __future__ import annotations

import numpy as np
import pytest
from _lazy_torch import torch

import minigrad as mg
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention

RNG = np.random.default_rng(77)
CASES = {  # name: (minigrad call, PyTorch call); both on a float32 (2, 3) tensor, asked for float64
    "sum": (lambda x: mg.sum(x, dtype=mg.float64), lambda x: torch.sum(x, dtype=torch.float64)),
    "sum-dim": (lambda x: x.sum(1, dtype=mg.float64), lambda x: x.sum(1, dtype=torch.float64)),
    "mean": (lambda x: x.mean(0, dtype=mg.float64), lambda x: x.mean(0, dtype=torch.float64)),
    "prod": (lambda x: mg.prod(x, 1, dtype=mg.float64), lambda x: torch.prod(x, 1, dtype=torch.float64)),
    "softmax": (lambda x: F.softmax(x, 1, dtype=mg.float64),
                lambda x: torch.nn.functional.softmax(x, 1, dtype=torch.float64)),
    "log_softmax": (lambda x: x.log_softmax(0, dtype=mg.float64), lambda x: x.log_softmax(0, dtype=torch.float64)),
    "softmin": (lambda x: F.softmin(x, 1, dtype=mg.float64),
                lambda x: torch.nn.functional.softmin(x, 1, dtype=torch.float64)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_dtype_argument_matches_pytorch(name):
    ours, theirs = CASES[name]
    x = RNG.uniform(0.5, 1.5, (2, 3)).astype(np.float32)
    a, b = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(a), theirs(b)
    assert out.dtype == mg.float64 and expected.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-14)
    up = RNG.standard_normal(tuple(expected.shape))
    out.backward(mg.tensor(up))
    expected.backward(torch.tensor(up))
    assert a.grad.dtype == mg.float32
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)


def test_dtype_argument_casts_before_the_operation():
    x = mg.tensor(RNG.uniform(0.5, 1.5, (2, 3)).astype(np.float32), requires_grad=True)
    wide = x.double()
    assert np.array_equal(mg.sum(x, dtype=mg.float64).numpy(), wide.sum().numpy())
    assert np.array_equal(F.softmax(x, 1, dtype=mg.float64).numpy(), F.softmax(wide, 1).numpy())
    assert mg.tensor([1, 2, 4]).mean(dtype=mg.float32).item() == pytest.approx(7 / 3)  # integers, with a dtype
    assert mg.gradcheck(lambda t: mg.prod(t, 1, dtype=mg.float64), (mg.tensor(RNG.uniform(0.5, 1.5, (2, 3)),
                                                                                requires_grad=True),))


def test_integer_and_bool_result_dtypes_are_pytorchs():
    assert mg.sum(mg.tensor(np.array([200, 100], np.uint8))).dtype == mg.int64  # NumPy: uint64
    assert mg.sum(mg.tensor(np.array([200, 100], np.uint8))).item() == 300
    assert mg.tensor([True, True, False]).sum().dtype == mg.int64
    signs = mg.sign(mg.tensor([True, False]))
    assert signs.dtype == mg.bool and signs.tolist() == [True, False]


def test_binary_ops_take_pytorchs_keyword_names_and_alpha():
    a = mg.tensor([1.0, 2.0, -3.0], dtype=mg.float64, requires_grad=True)
    b = mg.tensor([0.5, -1.0, 4.0], dtype=mg.float64, requires_grad=True)
    out = mg.add(a, other=b, alpha=2.5) + mg.sub(input=a, other=b, alpha=-1) + a.add(b, alpha=0.5)
    up = np.array([0.3, -1.2, 2.0])
    out.backward(mg.tensor(up))
    expected = a.numpy() + 2.5 * b.numpy() + (a.numpy() + b.numpy()) + (a.numpy() + 0.5 * b.numpy())
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-15)
    np.testing.assert_allclose(a.grad.numpy(), 3 * up, rtol=1e-15)
    np.testing.assert_allclose(b.grad.numpy(), 4 * up, rtol=1e-15)
    assert mg.pow(a, exponent=2).tolist() == [1.0, 4.0, 9.0]
    assert mg.eq(input=a, other=a).all().item() and not mg.gt(a, other=a).any().item()
    assert mg.where(a > 0, input=a, other=b).tolist() == [1.0, 2.0, 4.0]
    assert mg.matmul(a, other=b).item() == pytest.approx(0.5 - 2.0 - 12.0)
    for name in ("mul", "div", "maximum", "minimum", "logical_and"):
        assert np.array_equal(getattr(mg, name)(input=a, other=b).numpy(), getattr(mg, name)(a, b).numpy())


def test_add_with_alpha_matches_pytorch():
    x, y = RNG.standard_normal(4), RNG.standard_normal(4)
    ours = mg.add(mg.tensor(x), mg.tensor(y), alpha=-0.7)
    theirs = torch.add(torch.tensor(x), torch.tensor(y), alpha=-0.7)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-15)
