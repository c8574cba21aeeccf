"""outer, tril/triu, repeat, einsum (compositions of other ops) and split/chunk against PyTorch on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

RNG = np.random.default_rng(5)

EINSUM = ["bij,bjk->bik", "bij,bjk->bki", "bij,bjk", "bij,bjk->", "bij,bjk->j", "bij->bji", "bij->j", "bij",
          "i,j->ij", "i,i->", "ij,ij->i", "bij,ck->bijck", "ij, jk -> ik"]
SHAPES = {"b": 2, "i": 3, "j": 4, "k": 5, "c": 2}


@pytest.mark.parametrize("backend", mg.testing.available_backends())
def test_composites_match_pytorch(backend):
    torch = pytest.importorskip("torch")
    for equation in EINSUM:
        terms = equation.replace(" ", "").split("->")[0].split(",")
        arrays = [RNG.standard_normal(tuple(SHAPES[c] for c in t)) for t in terms]
        ours = [mg.tensor(a, backend=backend, requires_grad=True) for a in arrays]
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
        out, expected = mg.einsum(equation, *ours), torch.einsum(equation, *theirs)
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=equation)
        g = RNG.standard_normal(expected.shape)
        (out * mg.tensor(g, backend=backend)).sum().backward()
        (expected * torch.tensor(g)).sum().backward()
        for x, t in zip(ours, theirs):
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=equation)
    x = RNG.standard_normal((2, 3, 4))
    xm, xt = mg.tensor(x, backend=backend), torch.tensor(x)
    for d in (-2, 0, 1, 4):
        np.testing.assert_array_equal(xm.tril(d).numpy(), xt.tril(d).numpy())
        np.testing.assert_array_equal(mg.triu(xm, diagonal=d).numpy(), torch.triu(xt, diagonal=d).numpy())
    for sizes in ((1, 1, 1), (2, 1, 3), (2, 2, 1, 2), (0, 1, 1)):
        np.testing.assert_array_equal(xm.repeat(*sizes).numpy(), xt.repeat(*sizes).numpy())
    np.testing.assert_array_equal(xm.repeat((3, 1, 1)).numpy(), xt.repeat((3, 1, 1)).numpy())
    v, w = RNG.standard_normal(3), RNG.standard_normal(5)
    np.testing.assert_array_equal(mg.tensor(v, backend=backend).outer(mg.tensor(w, backend=backend)).numpy(),
                                  torch.outer(torch.tensor(v), torch.tensor(w)).numpy())
    for ours, theirs in ((xm.split(2, dim=2), xt.split(2, dim=2)), (xm.split([1, 2], 1), xt.split([1, 2], 1)),
                         (xm.chunk(3, dim=-1), xt.chunk(3, dim=-1)), (mg.chunk(xm, 2), torch.chunk(xt, 2))):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_composites_have_second_order_gradients():
    a = mg.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    b = mg.tensor(RNG.standard_normal((3, 2)), requires_grad=True)
    assert mg.gradgradcheck(lambda x, y: mg.einsum("ij,jk->ik", x, y) ** 2, (a, b))
    assert mg.gradgradcheck(lambda x: x.repeat(2, 1, 2) ** 2, (a,))
    assert mg.gradgradcheck(lambda x: x.tril(-1) * x + x.triu(1) ** 2, (a,))
    assert mg.gradgradcheck(lambda x, y: mg.outer(x[0], y[:, 0]) ** 2, (a, b))


def test_composites_refuse_what_they_do_not_support():
    x = mg.ones(2, 2)
    with pytest.raises(NotImplementedError, match="ellipsis"):
        mg.einsum("...ij->...ji", x)
    with pytest.raises(ValueError, match="repeated letter"):
        mg.einsum("ii->i", x)
    with pytest.raises(ValueError, match="one or two"):
        mg.einsum("ij,jk,kl->il", x, x, x)
    with pytest.raises(mg.ShapeError, match="sizes 2 and 3"):
        mg.einsum("ij,jk->ik", x, mg.ones(3, 2))
    with pytest.raises(mg.ShapeError, match="at least one per dimension"):
        x.repeat(2)
    with pytest.raises(mg.ShapeError, match="1-D"):
        mg.outer(x, x)
    with pytest.raises(mg.ShapeError, match="at least 2 dimensions"):
        mg.ones(3).tril()
