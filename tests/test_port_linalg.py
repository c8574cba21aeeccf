"""minigrad.linalg (torch.linalg) and the top-level aliases: forward and gradients equal to PyTorch's in float64,
finite-difference gradcheck/gradgradcheck, and errors.

Matrices are well conditioned by construction: Q diag(s) Q2ᵀ with orthogonal Q, Q2 and distinct s in
[0.5, 2]; symmetric ones Q diag(s) Qᵀ (distinct eigenvalues). Decompositions are compared through quantities
invariant to the sign gauge of eigen/singular vectors (U diag(S) Vh, |U|, U diag(f(λ)) Uᵀ).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
import minigrad.linalg as LA  # noqa: N812 - as torch.linalg is often imported
from minigrad.errors import LinAlgError, ShapeError

RNG = np.random.default_rng(1234)


def _orth(n, batch=()):
    q, _ = np.linalg.qr(RNG.standard_normal((*batch, n, n)))
    return q


def _values(k, batch=(), low=0.5, high=2.0):
    """Distinct values in [low, high], spaced at least (high - low) / (2k) apart."""
    base = np.linspace(low, high, k)
    jitter = RNG.uniform(-0.2, 0.2, (*batch, k)) * (high - low) / max(k, 1) / 2
    return base + jitter


def well_conditioned(m, n=None, batch=()):
    n = m if n is None else n
    k = min(m, n)
    s = _values(k, batch)
    return (_orth(m, batch)[..., :k] * s[..., None, :]) @ np.swapaxes(_orth(n, batch)[..., :k], -1, -2)


def symmetric(n, batch=(), low=-2.0, high=2.0):
    q = _orth(n, batch)
    return (q * _values(n, batch, low, high)[..., None, :]) @ np.swapaxes(q, -1, -2)


def spd(n, batch=()):
    return symmetric(n, batch, 0.5, 2.0)


def _mg(a, grad=True):
    return mg.tensor(np.array(a, dtype=np.float64), requires_grad=grad)


def _t(a, grad=True):
    return torch.tensor(np.array(a, dtype=np.float64), requires_grad=grad)


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def assert_like_torch(fn_mg, fn_t, arrays, *, tol=1e-10, grad=True):
    """Outputs equal, and gradients of sum(w * outputs) with random w equal."""
    xs, ts = [_mg(a, grad) for a in arrays], [_t(a, grad) for a in arrays]
    outs, touts = _flat(fn_mg(*xs)), _flat(fn_t(*ts))
    assert len(outs) == len(touts)
    for o, to in zip(outs, touts):
        assert o.shape == tuple(to.shape)
        np.testing.assert_allclose(o.numpy(), to.detach().numpy(), rtol=tol, atol=tol)
    if not grad:
        return
    weights = [RNG.standard_normal(o.shape) for o in outs]
    loss = sum((o * mg.tensor(w)).sum() for o, w in zip(outs, weights))
    tloss = sum((o * torch.tensor(w)).sum() for o, w in zip(touts, weights))
    loss.backward()
    tgrads = torch.autograd.grad(tloss, ts, allow_unused=True)
    for x, tg in zip(xs, tgrads):
        expected = np.zeros(x.shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=tol, atol=tol)


# -- norms -----------------------------------------------------------------------------------------------------
VECTOR_ORDS = [2, 1, 3, 0.5, -1.5, math.inf, -math.inf]


@pytest.mark.parametrize("ord", VECTOR_ORDS)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), ((0, 2), True), (-1, False)])
def test_vector_norm(ord, dim, keepdim):
    x = RNG.uniform(0.3, 2.0, (2, 3, 4)) * RNG.choice([-1, 1], (2, 3, 4))
    assert_like_torch(lambda a: LA.vector_norm(a, ord, dim, keepdim),
                      lambda a: torch.linalg.vector_norm(a, ord, dim, keepdim), [x])


def test_vector_norm_zero_ord_and_dtype():
    x = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]])
    assert_like_torch(lambda a: LA.vector_norm(a, 0, 1), lambda a: torch.linalg.vector_norm(a, 0, 1), [x],
                      grad=False)
    out = LA.vector_norm(mg.tensor(x, dtype="float32"), dtype=mg.float64)
    assert out.dtype == mg.float64
    np.testing.assert_allclose(out.item(), torch.linalg.vector_norm(torch.tensor(x)).item(), rtol=1e-15)


MATRIX_ORDS = ["fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2]


@pytest.mark.parametrize("ord", MATRIX_ORDS)
@pytest.mark.parametrize("shape,dim,keepdim", [((3, 4), (-2, -1), False), ((2, 4, 3), (-2, -1), True),
                                               ((3, 2, 4), (0, 2), False), ((3, 2, 4), (2, 0), True)])
def test_matrix_norm(ord, shape, dim, keepdim):
    x = RNG.uniform(-2, 2, shape)
    assert_like_torch(lambda a: LA.matrix_norm(a, ord, dim, keepdim),
                      lambda a: torch.linalg.matrix_norm(a, ord, dim, keepdim), [x])


@pytest.mark.parametrize("ord,dim,shape", [(None, None, (2, 3, 4)), (None, 1, (2, 3)), (3, -1, (2, 3)),
                                           ("nuc", None, (3, 4)), (math.inf, None, (3, 4)), (-2, None, (4, 3)),
                                           (1, None, (5,)), (None, (0, 1), (3, 4, 2)), (2, (1, 2), (2, 3, 4))])
def test_norm_dispatch(ord, dim, shape):
    x = RNG.uniform(-2, 2, shape)
    assert_like_torch(lambda a: LA.norm(a, ord, dim), lambda a: torch.linalg.norm(a, ord, dim), [x])


def test_top_level_norm_nuc_is_the_matrix_norm():
    x = RNG.uniform(-2, 2, (3, 4))
    assert_like_torch(lambda a: mg.norm(a, "nuc"), lambda a: torch.norm(a, "nuc"), [x])
    assert_like_torch(lambda a: mg.norm(a, "fro", (0, 1)), lambda a: torch.norm(a, "fro", (0, 1)), [x])


def test_norm_errors():
    x = _mg(RNG.standard_normal((2, 3, 4)))
    with pytest.raises(ValueError, match="matrix_norm: ord"):
        LA.matrix_norm(x, 3)
    with pytest.raises(ValueError, match="ord 'fro' needs two dims"):
        LA.norm(x, "fro", 1)
    with pytest.raises(ShapeError, match=r"1-D or 2-D, got shape \(2, 3, 4\)"):
        LA.norm(x, 2)
    with pytest.raises(TypeError, match="floating-point"):
        LA.vector_norm(mg.tensor([1, 2]))
    with pytest.raises(TypeError, match="ord must be a number"):
        LA.vector_norm(x, "fro")


# -- inverse, determinants, solve ----------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_inv_det_slogdet(batch):
    a = well_conditioned(4, batch=batch) * RNG.choice([-1, 1], (*batch, 1, 1))
    assert_like_torch(LA.inv, torch.linalg.inv, [a])
    assert_like_torch(LA.det, torch.linalg.det, [a])
    assert_like_torch(lambda x: LA.slogdet(x).logabsdet, lambda x: torch.linalg.slogdet(x).logabsdet, [a])
    sign = LA.slogdet(_mg(a)).sign
    assert not sign.requires_grad
    np.testing.assert_array_equal(sign.numpy(), torch.linalg.slogdet(_t(a)).sign.detach().numpy())


def _cofactors(a):
    """The cofactor matrix of each square matrix in ``a``, from its minors."""
    out = np.empty_like(a)
    n = a.shape[-1]
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=-2), j, axis=-1)
            out[..., i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return out


_RANK2 = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]])
SINGULAR = (_RANK2, np.outer([1.0, 2.0, -1.0], [0.5, 1.0, 3.0]), np.stack([_RANK2, well_conditioned(3)]))


def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix():
    # exactly singular (det == 0): rank n - 1 and rank n - 2, one of them in a batch with an invertible matrix.
    # The gradient is checked against the cofactors, not PyTorch: PyTorch 2.13's MKL build gave zeros for the rank
    # n - 1 matrix on an AMD EPYC machine (and the cofactors on an Intel Xeon).
    for a in SINGULAR:
        assert (LA.det(_mg(a)).numpy().reshape(-1)[:1] == 0).all()
        x = _mg(a, True)
        w = RNG.standard_normal(a.shape[:-2])
        (LA.det(x) * mg.tensor(w)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), w[..., None, None] * _cofactors(a), rtol=1e-12, atol=1e-12)
        assert mg.gradcheck(LA.det, (_mg(a),))
    assert mg.gradgradcheck(LA.det, (_mg(SINGULAR[0]),))  # distinct singular values: through svd's gradient


def test_det_of_singular_matrices_equals_pytorchs():
    for a in SINGULAR:
        assert_like_torch(LA.det, torch.linalg.det, [a], grad=False)


@pytest.mark.filterwarnings("ignore:torch.cholesky is deprecated")
def test_top_level_aliases_and_methods():
    a = spd(3)
    assert_like_torch(mg.inverse, torch.inverse, [a])
    assert_like_torch(lambda x: x.det(), lambda x: x.det(), [a])
    assert_like_torch(mg.logdet, torch.logdet, [a])
    assert_like_torch(lambda x: x.slogdet()[1], lambda x: x.slogdet()[1], [a])
    assert_like_torch(lambda x: mg.cholesky(x, True), lambda x: torch.cholesky(x, True), [a])
    assert_like_torch(lambda x: x.matrix_power(3), lambda x: x.matrix_power(3), [a])
    neg = -spd(3)  # det < 0 for odd n: logdet is NaN, as PyTorch
    assert math.isnan(mg.logdet(_mg(neg)).item()) and math.isnan(torch.logdet(_t(neg)).item())


@pytest.mark.parametrize("a_shape,b_shape,left", [((3, 3), (3, 2), True), ((3, 3), (3,), True),
                                                  ((2, 3, 3), (2, 3), True), ((2, 3, 3), (3, 4), True),
                                                  ((3, 3), (2, 3, 1), True), ((2, 1, 3, 3), (4, 3, 2), True),
                                                  ((3, 3), (2, 3), False), ((2, 3, 3), (4, 3), False)])
def test_solve(a_shape, b_shape, left):
    a = well_conditioned(3, batch=a_shape[:-2])
    b = RNG.standard_normal(b_shape)
    assert_like_torch(lambda x, y: LA.solve(x, y, left=left), lambda x, y: torch.linalg.solve(x, y, left=left),
                      [a, b])


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("batch", [(), (3,)])
def test_cholesky(upper, batch):
    # The input is symmetrized inside, as PyTorch's own tests do: only then is the gradient a true derivative.
    a = spd(4, batch)
    assert_like_torch(lambda x: LA.cholesky(x, upper=upper), lambda x: torch.linalg.cholesky(x, upper=upper), [a])
    assert mg.gradcheck(lambda x: LA.cholesky((x + x.mT) / 2, upper=upper), (_mg(a),))
    assert mg.gradgradcheck(lambda x: LA.cholesky((x + x.mT) / 2, upper=upper), (_mg(a),))


@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 5])
def test_matrix_power(n):
    a = well_conditioned(3, batch=(2,))
    assert_like_torch(lambda x: LA.matrix_power(x, n), lambda x: torch.linalg.matrix_power(x, n), [a])


def test_cross_vecdot_multi_dot():
    a, b = RNG.standard_normal((2, 1, 3)), RNG.standard_normal((1, 4, 3))
    assert_like_torch(lambda x, y: LA.cross(x, y), lambda x, y: torch.linalg.cross(x, y), [a, b])
    c, d = RNG.standard_normal((3, 2)), RNG.standard_normal((3, 1))
    assert_like_torch(lambda x, y: LA.cross(x, y, dim=0), lambda x, y: torch.linalg.cross(x, y, dim=0), [c, d])
    assert_like_torch(lambda x, y: LA.vecdot(x, y, dim=0), lambda x, y: torch.linalg.vecdot(x, y, dim=0),
                      [RNG.standard_normal((3, 4)), RNG.standard_normal((3, 1))])
    for shapes in [[(3,), (3, 4), (4,)], [(2, 3), (3, 4), (4, 5), (5, 2)], [(3, 4), (4,)]]:
        arrays = [RNG.standard_normal(s) for s in shapes]
        assert_like_torch(lambda *t: LA.multi_dot(t), lambda *t: torch.linalg.multi_dot(t), arrays)


@pytest.mark.parametrize("shapes", [[(2, 40), (40, 3), (3, 50)], [(40, 2), (2, 30), (30, 40)],
                                    [(10, 30), (30, 5), (5, 60), (60, 2), (2, 70)], [(3, 3), (3, 3), (3, 3)]])
def test_multi_dot_multiplies_in_the_cheapest_order(shapes, monkeypatch):
    """The chain is multiplied in the order with the fewest scalar multiplications, as PyTorch's (not left to
    right, which costs 9x and 2.4x as much for the second and third chains here)."""
    from minigrad.ops import matrix

    done = []
    real = matrix.matmul
    monkeypatch.setattr(matrix, "matmul", lambda a, b: done.append((a.shape[0], a.shape[1], b.shape[1])) or real(a, b))
    arrays = [RNG.standard_normal(s) for s in shapes]
    out = LA.multi_dot([mg.tensor(a) for a in arrays])
    dims = [s[0] for s in shapes] + [shapes[-1][1]]
    assert len(done) == len(shapes) - 1
    assert sum(m * k * n for m, k, n in done) == _cheapest_cost(dims)
    np.testing.assert_allclose(out.numpy(), np.linalg.multi_dot(arrays), rtol=1e-12, atol=1e-12)


def _cheapest_cost(dims):
    """Brute force over every parenthesisation: the fewest scalar multiplications of the chain."""
    from functools import lru_cache

    @lru_cache(None)
    def cost(i, j):
        return 0 if i == j else min(cost(i, k) + cost(k + 1, j) + dims[i] * dims[k + 1] * dims[j + 1]
                                    for k in range(i, j))
    return cost(0, len(dims) - 2)


# -- decompositions ------------------------------------------------------------------------------------------------
def _svd_invariants(lib):
    def fn(x, full=False):
        u, s, vh = lib.svd(x, full_matrices=full)
        k = s.shape[-1]
        return (u[..., :k] * s.unsqueeze(-2)) @ vh[..., :k, :], s, u[..., :k].abs(), vh[..., :k, :].abs()
    return fn


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3)])
def test_svd(shape):
    a = well_conditioned(shape[-2], shape[-1], shape[:-2])
    assert_like_torch(_svd_invariants(LA), _svd_invariants(torch.linalg), [a])
    assert_like_torch(LA.svdvals, torch.linalg.svdvals, [a])
    # a gauge-invariant function of U and Vh alone exercises the (I - U Uᵀ) terms of rectangular matrices
    w_u = RNG.standard_normal(min(shape[-2:]))

    def uv(lib):
        def fn(x):
            u, _, vh = lib.svd(x, full_matrices=False)
            return (u * torch.tensor(w_u) if lib is torch.linalg else u * mg.tensor(w_u)) @ vh
        return fn

    assert_like_torch(uv(LA), uv(torch.linalg), [a])
    assert mg.gradcheck(lambda x: _svd_invariants(LA)(x)[0] + 0, (_mg(a),))
    assert mg.gradgradcheck(uv(LA), (_mg(a),))


def test_svd_full_matrices():
    a = well_conditioned(4, 2)
    assert_like_torch(lambda x: _svd_invariants(LA)(x, True), lambda x: _svd_invariants(torch.linalg)(x, True), [a])
    # the gradients of the extra columns of U (not unique) are ignored, as PyTorch documents
    assert_like_torch(lambda x: LA.svd(x, full_matrices=True)[0][:, 2:] ** 2,
                      lambda x: torch.linalg.svd(x, full_matrices=True)[0][:, 2:] ** 2, [a])
    u, s, vh = LA.svd(_mg(a), full_matrices=True)
    assert u.shape == (4, 4) and vh.shape == (2, 2)
    np.testing.assert_allclose((u.mT @ u).numpy(), np.eye(4), atol=1e-12)  # (the extra columns: any basis)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (2, 3, 3)])
def test_eigh(shape):
    a = symmetric(shape[-1], shape[:-2])
    f = RNG.standard_normal(shape[-1])

    def fn(lib):
        def go(x):
            lam, u = lib.eigh(x)
            scale = torch.tensor(f) if lib is torch.linalg else mg.tensor(f)
            return lam, (u * (lam * scale).unsqueeze(-2)) @ u.mT, u.abs()
        return go

    if shape[-1] != shape[-2]:
        with pytest.raises(ShapeError, match="square"):
            LA.eigh(_mg(RNG.standard_normal(shape)))
        return
    assert_like_torch(fn(LA), fn(torch.linalg), [a])
    assert_like_torch(LA.eigvalsh, torch.linalg.eigvalsh, [a])
    assert_like_torch(lambda x: LA.eigvalsh(x, "U"), lambda x: torch.linalg.eigvalsh(x, "U"), [a])
    assert mg.gradcheck(lambda x: fn(LA)((x + x.mT) / 2)[1], (_mg(a),))
    assert mg.gradgradcheck(lambda x: fn(LA)((x + x.mT) / 2)[1], (_mg(a),))


def test_eigvalsh_at_repeated_eigenvalues_has_a_gradient():
    a = np.eye(3) * 2.0
    assert_like_torch(LA.eigvalsh, torch.linalg.eigvalsh, [a])


@pytest.mark.parametrize("shape,mode", [((4, 4), "reduced"), ((5, 3), "reduced"), ((3, 5), "reduced"),
                                        ((3, 5), "complete"), ((2, 4, 3), "reduced"), ((4, 3), "complete")])
def test_qr(shape, mode):
    a = well_conditioned(shape[-2], shape[-1], shape[:-2])
    grad = not (mode == "complete" and shape[-2] > shape[-1])
    assert_like_torch(lambda x: LA.qr(x, mode), lambda x: torch.linalg.qr(x, mode), [a], grad=grad)
    if grad:
        assert mg.gradcheck(lambda x: LA.qr(x, mode), (_mg(a),))
        assert mg.gradgradcheck(lambda x: LA.qr(x, mode), (_mg(a),))
    else:
        with pytest.raises(LinAlgError, match="mode='complete'"):
            LA.qr(_mg(a), mode).Q.sum().backward()
    q, r = LA.qr(_mg(a), "r")
    assert q.shape == (0,)
    np.testing.assert_allclose(r.numpy(), torch.linalg.qr(_t(a), "r").R.detach().numpy(), rtol=1e-10, atol=1e-10)
    with pytest.raises(LinAlgError, match="mode='r'"):
        r.sum().backward()


@pytest.mark.parametrize("shape,hermitian", [((4, 4), False), ((5, 3), False), ((3, 5), False),
                                             ((2, 3, 4), False), ((4, 4), True)])
def test_pinv(shape, hermitian):
    a = symmetric(shape[-1]) if hermitian else well_conditioned(shape[-2], shape[-1], shape[:-2])
    assert_like_torch(lambda x: LA.pinv(x, hermitian=hermitian), lambda x: torch.linalg.pinv(x, hermitian=hermitian),
                      [a])
    assert mg.gradgradcheck(lambda x: LA.pinv(x), (_mg(a),))


def test_pinv_cutoff_drops_small_singular_values():
    a = well_conditioned(3, 3)
    u, s, vh = np.linalg.svd(a)
    low_rank = (u * np.array([2.0, 1.0, 1e-3])) @ vh
    assert_like_torch(lambda x: LA.pinv(x, rtol=0.01), lambda x: torch.linalg.pinv(x, rtol=0.01), [low_rank])
    assert_like_torch(lambda x: LA.pinv(x, atol=0.5), lambda x: torch.linalg.pinv(x, atol=0.5), [low_rank])


# -- finite differences ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["inv", "det", "logabsdet", "solve", "matrix_power", "svdvals", "eigvalsh",
                                  "matrix_norm_nuc", "matrix_norm_2", "cross", "multi_dot"])
def test_gradcheck_and_gradgradcheck(name):
    a = well_conditioned(3, batch=(2,))
    b = RNG.standard_normal((2, 3, 2))
    cases = {
        "inv": (LA.inv, (a,)),
        "det": (LA.det, (a,)),
        "logabsdet": (lambda x: LA.slogdet(x).logabsdet, (a,)),
        "solve": (LA.solve, (a, b)),
        "matrix_power": (lambda x: LA.matrix_power(x, -2), (a,)),
        "svdvals": (LA.svdvals, (well_conditioned(4, 3, (2,)),)),
        "eigvalsh": (lambda x: LA.eigvalsh((x + x.mT) / 2), (symmetric(3, (2,)),)),
        "matrix_norm_nuc": (lambda x: LA.matrix_norm(x, "nuc"), (a,)),
        "matrix_norm_2": (lambda x: LA.matrix_norm(x, -2), (a,)),
        "cross": (LA.cross, (RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3)))),
        "multi_dot": (lambda x, y: LA.multi_dot([x, y, x]), (RNG.standard_normal((3, 3)),) * 2),
    }
    fn, arrays = cases[name]
    inputs = tuple(_mg(x) for x in arrays)
    assert mg.gradcheck(fn, inputs)
    assert mg.gradgradcheck(fn, inputs)


# -- errors -------------------------------------------------------------------------------------------------------
def test_errors():
    with pytest.raises(ShapeError, match=r"linalg.inv: expected a square matrix .* got shape \(2, 3\)"):
        LA.inv(_mg(np.ones((2, 3))))
    with pytest.raises(TypeError, match="linalg.det: expected a floating-point tensor, got int64"):
        LA.det(mg.tensor([[1, 2], [3, 4]]))
    with pytest.raises(LinAlgError, match="linalg.inv: the input is singular"):
        LA.inv(_mg([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(LinAlgError, match="not positive-definite"):
        LA.cholesky(_mg([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(LinAlgError, match="singular"):
        LA.solve(_mg([[1.0, 2.0], [2.0, 4.0]]), _mg([1.0, 1.0]))
    with pytest.raises(ShapeError, match=r"linalg.solve: A of shape \(3, 3\) and B of shape \(2,\)"):
        LA.solve(_mg(np.eye(3)), _mg([1.0, 1.0]))
    with pytest.raises(ShapeError, match="size 3 along dim"):
        LA.cross(_mg(np.ones(4)), _mg(np.ones(4)))
    with pytest.raises(ValueError, match="UPLO"):
        LA.eigh(_mg(np.eye(2)), "X")
    with pytest.raises(ValueError, match="mode must be"):
        LA.qr(_mg(np.eye(2)), "raw")
    with pytest.raises(TypeError, match="n must be an int"):
        LA.matrix_power(_mg(np.eye(2)), 1.5)
    with pytest.raises(ShapeError, match="tensor 1 must be 2-D"):
        LA.multi_dot([_mg(np.ones(2)), _mg(np.ones(2)), _mg(np.ones((2, 2)))])
    with pytest.raises(LinAlgError, match="gradient at a singular matrix is not supported"):
        LA.slogdet(_mg([[1.0, 2.0], [2.0, 4.0]])).logabsdet.backward()


def test_inplace_change_of_an_output_is_caught():
    a = _mg(symmetric(3))
    lam, u = LA.eigh(a)
    loss = (u * u).sum() + lam.sum()
    with pytest.raises(mg.InplaceError):  # u is a view of the op's packed output, which backward reads
        u.mul_(2)
        loss.backward()


# -- other backends ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numba", "cupy-standin"])
def test_backends_agree_with_numpy(backend, monkeypatch):
    if backend == "cupy-standin":
        standin = pytest.importorskip("_cupy_standin", reason="numba-cuda is not installed: no CuPy stand-in")
        from _dummy_backend import register

        register(monkeypatch, standin.NAME, standin.CupyStandIn)
    elif mg.backends.available().get(backend) is not True:
        pytest.skip(f"{backend} unavailable")
    a, s = well_conditioned(3, 4, (2,)), spd(3, (2,))
    fns = [lambda x, y: _svd_invariants(LA)(x)[0], lambda x, y: LA.qr(x)[1], lambda x, y: LA.pinv(x),
           lambda x, y: LA.eigh(y)[0], lambda x, y: LA.cholesky(y), lambda x, y: LA.inv(y),
           lambda x, y: LA.slogdet(y)[1], lambda x, y: LA.det(y), lambda x, y: LA.solve(y, x),
           lambda x, y: LA.matrix_norm(x, "nuc"), lambda x, y: LA.eigh(y)[1].abs()]
    for fn in fns:
        results = []
        for name in ("numpy", backend):
            x = mg.tensor(a, requires_grad=True, backend=name)
            y = mg.tensor(s, requires_grad=True, backend=name)
            out = fn(x, y)
            assert out.backend == name
            (out * out).sum().backward()
            results.append([out.numpy()] + [t.grad.numpy() for t in (x, y) if t.grad is not None])
        assert len(results[0]) == len(results[1])
        for ref, got in zip(*results):
            np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
