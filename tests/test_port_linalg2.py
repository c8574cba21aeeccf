"""minigrad.linalg's second group (solve_triangular, lstsq, LU, matrix_exp, matrix_rank, cond, tensorinv,
tensorsolve, vander, the *_ex variants) and the top-level triangular_solve/lu_unpack/matrix_exp: forward and
gradients (random upstream weights) equal to PyTorch's in float64, finite-difference gradcheck/gradgradcheck,
the CuPy stand-in, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip
from test_port_linalg import RNG, _mg, _t, assert_like_torch, spd, well_conditioned

import minigrad as mg
import minigrad.linalg as LA  # noqa: N812
from minigrad.errors import LinAlgError, ShapeError


def triangular(n, batch=(), upper=False):
    """A well-conditioned triangle: diagonal in [1, 2] with random signs, small off-diagonal entries."""
    a = RNG.uniform(-0.5, 0.5, (*batch, n, n)) / n
    d = RNG.uniform(1.0, 2.0, (*batch, n)) * RNG.choice([-1, 1], (*batch, n))
    a = a + d[..., None] * np.eye(n)
    return np.triu(a) if upper else np.tril(a)


# -- solve_triangular, triangular_solve ---------------------------------------------------------------------
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unitriangular", [False, True])
@pytest.mark.parametrize("a_batch,b_shape", [((), (4, 3)), ((2,), (2, 4, 2)), ((2, 1), (3, 4, 4))])
def test_solve_triangular(upper, left, unitriangular, a_batch, b_shape):
    a = RNG.standard_normal((*a_batch, 4, 4)) * 0.3 + 3 * np.eye(4)  # both triangles filled: only one is read
    b = RNG.standard_normal(b_shape if left else (*b_shape[:-2], b_shape[-1], b_shape[-2]))
    assert_like_torch(lambda x, y: LA.solve_triangular(x, y, upper=upper, left=left, unitriangular=unitriangular),
                      lambda x, y: torch.linalg.solve_triangular(x, y, upper=upper, left=left,
                                                                 unitriangular=unitriangular), [a, b], tol=1e-12)


@pytest.mark.parametrize("upper,unitriangular", [(False, False), (True, True)])
def test_solve_triangular_gradcheck(upper, unitriangular):
    a, b = _mg(triangular(4, (2,), upper)), _mg(RNG.standard_normal((2, 4, 3)))
    fn = lambda x, y: LA.solve_triangular(x, y, upper=upper, unitriangular=unitriangular)  # noqa: E731
    assert mg.gradcheck(fn, (a, b))
    assert mg.gradgradcheck(fn, (a, b))


def test_solve_triangular_exact_and_zero_diagonal():
    n = 60  # substitution is exact to rounding: the residual is at the level of eps times the entries
    a, b = triangular(n, upper=True), RNG.standard_normal((n, 5))
    x = LA.solve_triangular(mg.tensor(a), mg.tensor(b), upper=True).numpy()
    np.testing.assert_allclose(a @ x, b, rtol=0, atol=1e-12)
    a[1, 1] = 0.0  # as PyTorch (LAPACK's trtrs unchecked): inf/NaN, no error
    out = LA.solve_triangular(mg.tensor(a[:3, :3]), mg.tensor(np.ones((3, 1))), upper=True).numpy()
    expected = torch.linalg.solve_triangular(torch.tensor(a[:3, :3]), torch.ones(3, 1, dtype=torch.float64),
                                             upper=True).numpy()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(expected))


@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("transpose", [False, True])
def test_triangular_solve_old_spelling(upper, transpose):
    a, b = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3), RNG.standard_normal((2, 3, 2))
    assert_like_torch(lambda y, x: mg.triangular_solve(y, x, upper, transpose),
                      lambda y, x: torch.triangular_solve(y, x, upper, transpose), [b, a], tol=1e-12)
    sol, coefficient = mg.tensor(b).triangular_solve(mg.tensor(a), upper=upper)
    assert isinstance(mg.triangular_solve(mg.tensor(b), mg.tensor(a)), mg.return_types.triangular_solve)
    np.testing.assert_array_equal(coefficient.numpy(), a)


def test_solve_triangular_errors():
    a = _mg(np.eye(3))
    with pytest.raises(TypeError, match="upper"):
        LA.solve_triangular(a, a)  # upper is required, as PyTorch
    with pytest.raises(ShapeError, match=r"solve_triangular: A of shape \(3, 3\) and B of shape \(3,\)"):
        LA.solve_triangular(a, _mg(np.ones(3)), upper=True)
    with pytest.raises(ShapeError, match="solve_triangular: A of shape"):
        LA.solve_triangular(a, _mg(np.ones((2, 2))), upper=True)
    with pytest.raises(TypeError, match="one dtype"):
        LA.solve_triangular(a, mg.tensor(np.ones((3, 1)), dtype="float32"), upper=True)


# -- lstsq -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("shape,b_shape", [((5, 3), (5, 2)), ((3, 5), (3, 2)), ((2, 4, 4), (2, 4, 1)),
                                           ((5, 3), (5,)), ((2, 6, 3), (2, 6, 2))])
def test_lstsq(driver, shape, b_shape):
    a = well_conditioned(shape[-2], shape[-1], batch=shape[:-2])
    b = RNG.standard_normal(b_shape)
    out, tout = LA.lstsq(_mg(a, False), _mg(b, False), driver=driver), torch.linalg.lstsq(_t(a, False), _t(b, False),
                                                                                        driver=driver)
    assert isinstance(out, mg.return_types.linalg_lstsq)
    for o, to in zip(out, tout):
        assert o.shape == tuple(to.shape) and o.dtype.name == str(to.dtype).removeprefix("torch.")
        np.testing.assert_allclose(o.numpy(), to.numpy(), rtol=1e-10, atol=1e-10)
    fields = lambda r: [r.solution] + ([r.residuals] if r.residuals.numel() else [])  # noqa: E731
    assert_like_torch(lambda x, y: fields(LA.lstsq(x, y, driver=driver)),
                      lambda x, y: fields(torch.linalg.lstsq(x, y, driver=driver)), [a, b])


def test_lstsq_rank_deficient():
    a = np.array([[1.0, 2.0], [2.0, 4.0], [1.0, 2.0], [2.0, 4.0]])  # rank 1
    b = RNG.standard_normal((4, 2))
    for driver in ("gelsy", "gelsd", "gelss"):
        out, tout = LA.lstsq(_mg(a), _mg(b), driver=driver), torch.linalg.lstsq(_t(a), _t(b), driver=driver)
        np.testing.assert_allclose(out.solution.detach().numpy(), tout.solution.detach().numpy(), atol=1e-12)
        assert out.rank.item() == 1 and out.residuals.numel() == 0 and tout.residuals.numel() == 0


def test_lstsq_errors():
    with pytest.raises(ValueError, match="driver must be one of"):
        LA.lstsq(_mg(np.eye(2)), _mg(np.ones((2, 1))), driver="gelsx")
    with pytest.raises(ShapeError, match=r"lstsq: A of shape \(3, 2\) and B of shape \(2, 1\)"):
        LA.lstsq(_mg(np.ones((3, 2))), _mg(np.ones((2, 1))))


# -- LU ------------------------------------------------------------------------------------------------------------
LU_SHAPES = [(4, 4), (2, 3, 3), (5, 3), (3, 5), (2, 2, 4, 2)]


@pytest.mark.parametrize("shape", LU_SHAPES)
def test_lu_factor_and_lu(shape):
    a = RNG.standard_normal(shape)
    lu_, piv = LA.lu_factor(_mg(a, False))
    tlu, tpiv = torch.linalg.lu_factor(_t(a, False))
    assert piv.dtype == mg.int32
    np.testing.assert_array_equal(piv.numpy(), tpiv.numpy())
    np.testing.assert_allclose(lu_.numpy(), tlu.numpy(), rtol=1e-12, atol=1e-12)
    assert_like_torch(lambda x: LA.lu_factor(x).LU, lambda x: torch.linalg.lu_factor(x).LU, [a])
    assert_like_torch(lambda x: LA.lu_factor_ex(x)[0], lambda x: torch.linalg.lu_factor_ex(x)[0], [a])
    assert_like_torch(lambda x: list(LA.lu(x)), lambda x: list(torch.linalg.lu(x)), [a])
    p, low, up = LA.lu(_mg(a, False))
    np.testing.assert_allclose((p @ low @ up).numpy(), a, atol=1e-13)


@pytest.mark.parametrize("shape", LU_SHAPES)
def test_lu_unpack(shape):
    a = RNG.standard_normal(shape)
    lu_, piv = torch.linalg.lu_factor(_t(a, False))
    assert_like_torch(lambda x: list(mg.lu_unpack(x, mg.tensor(piv.numpy()))),
                      lambda x: list(torch.lu_unpack(x, piv)), [lu_.numpy()])
    p, low, up = mg.lu_unpack(_mg(lu_.numpy()), mg.tensor(piv.numpy()), unpack_data=False)
    assert low.numel() == 0 and up.numel() == 0 and p.shape == (*shape[:-1], shape[-2])


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [False, True])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_lu_solve(left, adjoint, batch):
    a, b = well_conditioned(4, batch=batch), RNG.standard_normal((*batch, 4, 2) if left else (*batch, 2, 4))

    def ours(x, y):
        return LA.lu_solve(*LA.lu_factor(x), y, left=left, adjoint=adjoint)

    def theirs(x, y):
        return torch.linalg.lu_solve(*torch.linalg.lu_factor(x), y, left=left, adjoint=adjoint)

    assert_like_torch(ours, theirs, [a, b])


def test_lu_singular_and_errors():
    s = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])  # a zero pivot at the third step
    with pytest.raises(LinAlgError, match="lu_factor: the matrix is singular"):
        LA.lu_factor(_mg(s))
    lu_, piv, info = LA.lu_factor_ex(_mg(s, False))
    tlu, tpiv, tinfo = torch.linalg.lu_factor_ex(_t(s, False))
    np.testing.assert_allclose(lu_.numpy(), tlu.numpy(), atol=1e-15)
    np.testing.assert_array_equal(piv.numpy(), tpiv.numpy())
    assert info.item() == tinfo.item() and info.dtype == mg.int32
    with pytest.raises(LinAlgError, match="lu_factor_ex"):
        LA.lu_factor_ex(_mg(s), check_errors=True)
    with pytest.raises(NotImplementedError, match="without pivoting"):
        LA.lu(_mg(s), pivot=False)
    with pytest.raises(ShapeError, match="lu_unpack: LU_pivots of shape"):
        mg.lu_unpack(_mg(s), mg.tensor(np.array([1, 2], dtype=np.int32)))


# -- matrix_exp --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [0.01, 0.5, 3.0])
@pytest.mark.parametrize("batch", [(), (3,)])
def test_matrix_exp(scale, batch):
    a = RNG.standard_normal((*batch, 4, 4)) * scale
    # PyTorch's Taylor approximants at small norms are ~1e-12 off exp (SciPy's expm and ours agree to 1e-16)
    assert_like_torch(LA.matrix_exp, torch.linalg.matrix_exp, [a], tol=1e-10 if scale < 3 else 1e-9)
    assert_like_torch(lambda x: x.matrix_exp(), lambda x: x.matrix_exp(), [a], tol=1e-9)


def test_matrix_exp_known_values():
    t = 0.7  # exp of a rotation generator, and of a nilpotent matrix
    rot = LA.matrix_exp(mg.tensor([[0.0, -t], [t, 0.0]], dtype=mg.float64)).numpy()
    np.testing.assert_allclose(rot, [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], atol=1e-15)
    nil = LA.matrix_exp(mg.tensor([[0.0, 5.0], [0.0, 0.0]], dtype=mg.float64)).numpy()
    np.testing.assert_allclose(nil, [[1.0, 5.0], [0.0, 1.0]], atol=1e-15)
    big = LA.matrix_exp(mg.tensor(np.diag([20.0, -3.0]))).numpy()  # scaled and squared 3 times
    np.testing.assert_allclose(np.diag(big), np.exp([20.0, -3.0]), rtol=1e-13)


# -- matrix_rank, cond -------------------------------------------------------------------------------------------
def test_matrix_rank():
    a = RNG.standard_normal((2, 5, 3)) @ RNG.standard_normal((2, 3, 4))  # rank 3
    a[1, :, 0] = 0
    for kwargs in ({}, {"atol": 1.0}, {"rtol": 0.1}, {"atol": 0.5, "rtol": 0.01}):
        r = LA.matrix_rank(mg.tensor(a), **kwargs)
        assert r.dtype == mg.int64
        np.testing.assert_array_equal(r.numpy(), torch.linalg.matrix_rank(torch.tensor(a), **kwargs).numpy())
    s = a[0] @ a[0].T
    assert LA.matrix_rank(mg.tensor(s), hermitian=True).item() == torch.linalg.matrix_rank(
        torch.tensor(s), hermitian=True).item() == 3


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", math.inf, -math.inf, 1, -1])
def test_cond(p):
    a = well_conditioned(4, batch=(2,))
    if p in (None, 2, -2):
        assert_like_torch(lambda x: LA.cond(x, p), lambda x: torch.linalg.cond(x, p), [a])
        assert_like_torch(lambda x: LA.cond(x, p), lambda x: torch.linalg.cond(x, p), [well_conditioned(5, 3)])
    else:  # PyTorch 2.13's backward of these fails (an in-place fill of inv_ex's output): its definition instead
        assert_like_torch(lambda x: LA.cond(x, p), lambda x: torch.linalg.cond(x, p), [a], grad=False)
        assert_like_torch(lambda x: LA.cond(x, p), lambda x: torch.linalg.matrix_norm(x, p)
                          * torch.linalg.matrix_norm(torch.linalg.inv(x), p), [a])


def test_cond_singular():
    s = np.stack([np.zeros((3, 3)), well_conditioned(3)])
    for p in ("fro", 1, math.inf):
        out, expected = LA.cond(_mg(s, False), p).numpy(), torch.linalg.cond(_t(s, False), p).numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-12)
        assert out[0] == math.inf
    with pytest.raises(ValueError, match="linalg.cond: p must be"):
        LA.cond(_mg(s), 3)
    with pytest.raises(ShapeError, match="square"):
        LA.cond(_mg(np.ones((3, 2))), "fro")


# -- tensorinv, tensorsolve, vander ------------------------------------------------------------------------------
def test_tensorinv_tensorsolve():
    a = well_conditioned(6).reshape(6, 2, 3)
    assert_like_torch(lambda x: LA.tensorinv(x, 1), lambda x: torch.linalg.tensorinv(x, 1), [a])
    a4 = well_conditioned(6).reshape(2, 3, 6)
    assert_like_torch(lambda x: LA.tensorinv(x, 2), lambda x: torch.linalg.tensorinv(x, 2), [a4])
    b = RNG.standard_normal((2, 3))
    assert_like_torch(LA.tensorsolve, torch.linalg.tensorsolve, [a4, b])
    a_moved = np.moveaxis(a4, 2, 0)  # (6, 2, 3): dims=(0,) moves the 6 back to the end
    assert_like_torch(lambda x, y: LA.tensorsolve(x, y, dims=(0,)),
                      lambda x, y: torch.linalg.tensorsolve(x, y, dims=(0,)), [a_moved, b])
    with pytest.raises(ValueError, match="N must be greater than 1"):
        LA.vander(_mg(np.ones(3)), N=1)
    with pytest.raises(ShapeError, match="tensorinv"):
        LA.tensorinv(_mg(np.ones((2, 3))), 1)


@pytest.mark.parametrize("shape,n", [((4,), None), ((2, 3), 5), ((3,), 2)])
def test_vander(shape, n):
    x = RNG.standard_normal(shape)
    x.flat[0] = 0.0  # a zero: gradient of 0^k is finite
    assert_like_torch(lambda v: LA.vander(v, N=n), lambda v: torch.linalg.vander(v, N=n), [x])


# -- householder_product (orgqr) ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,k", [((4, 4), 4), ((5, 3), 2), ((2, 6, 3), 3), ((3, 1), 0)])
def test_householder_product(shape, k):
    a, tau = RNG.standard_normal(shape), RNG.standard_normal((*shape[:-2], k))
    assert_like_torch(LA.householder_product, torch.linalg.householder_product, [a, tau])
    assert_like_torch(lambda x, t: mg.orgqr(x, t), lambda x, t: torch.orgqr(x, t), [a, tau])


def test_householder_product_of_geqrf_is_qr_q():
    a = RNG.standard_normal((5, 3))
    reflectors, tau = torch.geqrf(torch.tensor(a))
    q = LA.householder_product(mg.tensor(reflectors.numpy()), mg.tensor(tau.numpy()))
    np.testing.assert_allclose(q.numpy(), torch.linalg.qr(torch.tensor(a)).Q.numpy(), atol=1e-14)
    with pytest.raises(ShapeError, match="at least as many rows"):
        LA.householder_product(_mg(np.ones((2, 3))), _mg(np.ones(2)))
    with pytest.raises(ShapeError, match=r"tau of shape \(4,\)"):
        LA.householder_product(_mg(np.ones((4, 3))), _mg(np.ones(4)))


# -- geqrf, ormqr and the other top-level spellings ---------------------------------------------------------------
@pytest.mark.parametrize("shape,other_cols", [((4, 3), 2), ((2, 5, 5), 3), ((3, 2), 1)])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("transpose", [False, True])
def test_geqrf_ormqr(shape, other_cols, left, transpose):
    a = RNG.standard_normal(shape)
    refl, tau = mg.geqrf(mg.tensor(a))
    trefl, ttau = torch.geqrf(torch.tensor(a))
    np.testing.assert_allclose(refl.numpy(), trefl.numpy(), atol=1e-13)
    np.testing.assert_allclose(tau.numpy(), ttau.numpy(), atol=1e-13)
    m = shape[-2]
    c = RNG.standard_normal((*shape[:-2], m, other_cols) if left else (*shape[:-2], other_cols, m))
    t = RNG.standard_normal(ttau.shape)  # any tau: ormqr is differentiable in it
    assert_like_torch(lambda x, y, z: mg.ormqr(x, y, z, left, transpose),
                      lambda x, y, z: torch.ormqr(x, y, z, left, transpose), [refl.numpy(), t, c])


def test_ormqr_errors():
    with pytest.raises(ShapeError, match="ormqr: other of shape"):
        mg.ormqr(_mg(np.ones((3, 2))), _mg(np.ones(2)), _mg(np.ones((2, 2))))
    with pytest.raises(ShapeError, match="ormqr: tau of shape"):
        mg.ormqr(_mg(np.ones((3, 2))), _mg(np.ones(3)), _mg(np.ones((3, 2))))


@pytest.mark.filterwarnings("ignore:torch.lu is deprecated", "ignore:torch.lu_solve is deprecated",
                            "ignore:torch.chain_matmul is deprecated")
def test_top_level_spellings():
    a, b = spd(3, (2,)), RNG.standard_normal((2, 3, 2))
    low = np.linalg.cholesky(a)
    for upper in (False, True):
        f = np.swapaxes(low, -1, -2) if upper else low
        assert_like_torch(lambda y, x, u=upper: mg.cholesky_solve(y, x, u),
                          lambda y, x, u=upper: torch.cholesky_solve(y, x, u), [b, f])
        assert_like_torch(lambda x, u=upper: x.cholesky_inverse(u), lambda x, u=upper: x.cholesky_inverse(u), [f[0]])
    assert_like_torch(lambda x: mg.pinverse(x), lambda x: torch.pinverse(x), [well_conditioned(3, 4)])
    assert_like_torch(lambda x: x.pinverse(rcond=0.6), lambda x: x.pinverse(rcond=0.6), [well_conditioned(4, 3)])
    for n, inc in ((None, False), (4, True), (1, False), (0, True)):  # PyTorch 2.13's vander backward fails (an
        assert_like_torch(lambda x, n=n, inc=inc: mg.vander(x, n, inc),  # in-place cumprod): finite differences
                          lambda x, n=n, inc=inc: torch.vander(x, n, inc), [b[0, :, 0]], grad=False)  # below
    mats = [RNG.standard_normal(s) for s in ((2, 3), (3, 4), (4, 2))]
    assert_like_torch(mg.chain_matmul, torch.chain_matmul, mats)
    lu_, piv = mg.lu(_mg(a[0]))
    tlu, tpiv = torch.lu(_t(a[0]))
    np.testing.assert_allclose(lu_.detach().numpy(), tlu.detach().numpy(), atol=1e-14)
    out = mg.lu(_mg(np.zeros((2, 2))), get_infos=True)
    assert isinstance(out, mg.return_types._lu_with_info)
    assert out.info.item() == torch.lu(torch.zeros(2, 2), get_infos=True).info.item() == 1  # the first zero pivot
    with pytest.raises(LinAlgError):
        mg.lu(_mg(np.zeros((2, 2))))
    assert_like_torch(lambda y, x: y.lu_solve(*mg.lu(x)), lambda y, x: y.lu_solve(*torch.lu(x)), [b, a])
    x = mg.tensor(RNG.standard_normal((2, 3, 3)))
    np.testing.assert_array_equal(LA.diagonal(x, offset=1).numpy(), torch.linalg.diagonal(
        torch.tensor(x.numpy()), offset=1).numpy())
    np.testing.assert_array_equal(LA.matmul(x, x).numpy(), (x @ x).numpy())


# -- finite-difference gradients (no PyTorch needed) -------------------------------------------------------------
def _lu_cases():
    for shape in LU_SHAPES:
        yield f"lu{shape}", lambda x: list(LA.lu(x))[1:], [RNG.standard_normal(shape)], False
        yield f"lu_factor{shape}", lambda x: LA.lu_factor(x).LU, [RNG.standard_normal(shape)], True


def _geqrf_input(shape, cols, left):
    a = RNG.standard_normal(shape)
    refl, tau = (t.numpy() for t in mg.geqrf(mg.tensor(a)))
    m = shape[-2]
    return [refl, RNG.standard_normal(tau.shape),
            RNG.standard_normal((*shape[:-2], m, cols) if left else (*shape[:-2], cols, m))]


_SPD_LOW = np.linalg.cholesky(spd(3, (2,)))
GRAD_CASES = [
    ("lstsq gelsd", lambda p, q: LA.lstsq(p, q, driver="gelsd")[:2],
     [well_conditioned(5, 3), RNG.standard_normal((5, 2))], False),
    ("lstsq wide", lambda p, q: LA.lstsq(p, q).solution, [well_conditioned(3, 5), RNG.standard_normal((3, 2))], True),
    *_lu_cases(),
    *[(f"lu_solve left={left} adjoint={adj}",
       lambda x, y, left=left, adj=adj: LA.lu_solve(*LA.lu_factor(x), y, left=left, adjoint=adj),
       [well_conditioned(4, batch=(2,)), RNG.standard_normal((2, 4, 2) if left else (2, 2, 4))], False)
      for left in (True, False) for adj in (False, True)],
    *[(f"matrix_exp x{scale}", LA.matrix_exp, [RNG.standard_normal((2, 4, 4)) * scale], scale < 3)
      for scale in (0.01, 0.5, 3.0)],
    *[(f"cond {p}", lambda x, p=p: LA.cond(x, p), [well_conditioned(4, batch=(2,))], False)
      for p in (None, 2, -2, "fro", "nuc", math.inf, -math.inf, 1, -1)],
    ("cond wide", LA.cond, [well_conditioned(3, 5)], False),
    *[(f"linalg.vander N={n}", lambda v, n=n: LA.vander(v, N=n), [RNG.standard_normal(s)], False)
      for s, n in (((4,), None), ((2, 3), 5), ((3,), 2))],
    *[(f"vander N={n} increasing={inc}", lambda v, n=n, inc=inc: mg.vander(v, n, inc), [RNG.standard_normal(3)],
       False) for n, inc in ((None, False), (4, True), (1, False))],
    *[(f"householder_product {s} k={k}", LA.householder_product,
       [RNG.standard_normal(s), RNG.standard_normal((*s[:-2], k))], False)
      for s, k in (((4, 4), 4), ((5, 3), 2), ((2, 6, 3), 3), ((3, 1), 0))],
    *[(f"ormqr {s} left={left} transpose={tr}", lambda x, y, z, left=left, tr=tr: x.ormqr(y, z, left, tr),
       _geqrf_input(s, c, left), False)
      for s, c in (((4, 3), 2), ((2, 5, 5), 3)) for left in (True, False) for tr in (False, True)],
    # PyTorch's gradient treats L as dense; along perturbations of the triangle read it is the true derivative
    ("cholesky_solve", lambda y, x: mg.cholesky_solve(y, x.tril()), [RNG.standard_normal((2, 3, 2)), _SPD_LOW],
     True),
    ("cholesky_solve upper", lambda y, x: mg.cholesky_solve(y, x.triu(), upper=True),
     [RNG.standard_normal((2, 3, 2)), np.swapaxes(_SPD_LOW, -1, -2)], False),
    ("cholesky_inverse", lambda x: mg.cholesky_inverse(x.tril()), [_SPD_LOW[0]], False),
    ("tensorinv", lambda x: LA.tensorinv(x, 2), [well_conditioned(6).reshape(2, 3, 6)], False),
    ("tensorsolve", LA.tensorsolve, [well_conditioned(6).reshape(2, 3, 6), RNG.standard_normal((2, 3))], False),
    ("ex variants", lambda x, y: [LA.inv_ex(x)[0], LA.solve_ex(x, y)[0], LA.cholesky_ex((x + x.mT) / 2)[0]],
     [spd(3), RNG.standard_normal((3, 2))], False),
]


@pytest.mark.parametrize("name,fn,arrays,second_order", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_against_finite_differences(name, fn, arrays, second_order):
    inputs = tuple(_mg(a) for a in arrays)
    assert mg.gradcheck(fn, inputs)
    if second_order:
        assert mg.gradgradcheck(fn, inputs)


# -- the *_ex variants -------------------------------------------------------------------------------------------
def test_ex_variants():
    a, b = spd(3, (2,)), RNG.standard_normal((2, 3, 2))
    assert_like_torch(lambda x: LA.cholesky_ex(x).L, lambda x: torch.linalg.cholesky_ex(x).L, [a])
    assert_like_torch(lambda x: LA.inv_ex(x).inverse, lambda x: torch.linalg.inv_ex(x).inverse, [a])
    assert_like_torch(lambda x, y: LA.solve_ex(x, y).result, lambda x, y: torch.linalg.solve_ex(x, y).result, [a, b])
    info = LA.inv_ex(_mg(a)).info
    assert info.dtype == mg.int32 and info.shape == (2,) and not info.numpy().any()


def test_ex_variants_report_failures():
    bad = np.stack([spd(3), np.diag([1.0, -1.0, 2.0])])  # the second is not positive-definite at order 2
    out, info = LA.cholesky_ex(_mg(bad, False))
    np.testing.assert_array_equal(info.numpy(), torch.linalg.cholesky_ex(_t(bad, False)).info.numpy())
    np.testing.assert_allclose(out.numpy()[0], torch.linalg.cholesky(_t(bad[0], False)).numpy(), atol=1e-15)
    assert np.isnan(out.numpy()[1]).all()
    sing = np.stack([well_conditioned(3), np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]])])
    for ours, theirs in ((LA.inv_ex(_mg(sing, False)), torch.linalg.inv_ex(_t(sing, False))),
                         (LA.solve_ex(_mg(sing, False), _mg(np.ones((2, 3, 1)), False)),
                          torch.linalg.solve_ex(_t(sing, False), _t(np.ones((2, 3, 1)), False)))):
        np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())
        np.testing.assert_allclose(ours[0].numpy()[0], theirs[0].numpy()[0], atol=1e-12)
        assert np.isnan(ours[0].numpy()[1]).all()
    vec, tvec = LA.solve_ex(_mg(sing, False), _mg(np.ones((2, 3)), False)), torch.linalg.solve_ex(
        _t(sing, False), _t(np.ones((2, 3)), False))  # a batch of vectors
    assert vec.result.shape == tuple(tvec.result.shape) == (2, 3)
    np.testing.assert_allclose(vec.result.numpy()[0], tvec.result.numpy()[0], atol=1e-12)
    assert np.isnan(vec.result.numpy()[1]).all() and vec.info.tolist() == tvec.info.tolist()
    with pytest.raises(LinAlgError, match=r"inv_ex: .*info \[0, 3\]"):
        LA.inv_ex(_mg(sing), check_errors=True)


# -- other backends ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numba", "cupy-standin"])
def test_backends_agree_with_numpy(backend, monkeypatch):
    if backend == "cupy-standin":
        standin = pytest.importorskip("_cupy_standin", reason="numba-cuda is not installed: no CuPy stand-in")
        from _dummy_backend import register

        register(monkeypatch, standin.NAME, standin.CupyStandIn)
    elif mg.backends.available().get(backend) is not True:
        pytest.skip(f"{backend} unavailable")
    a, b = well_conditioned(4, batch=(2,)), RNG.standard_normal((2, 4, 3))
    fns = [lambda x, y: LA.solve_triangular(x, y, upper=True), lambda x, y: LA.lu_solve(*LA.lu_factor(x), y),
           lambda x, y: LA.lu(x)[1], lambda x, y: LA.matrix_exp(x), lambda x, y: LA.lstsq(x, y).solution,
           lambda x, y: LA.cond(x, 1), lambda x, y: LA.vander(y[..., 0]),
           lambda x, y: LA.inv_ex(x).inverse]
    for fn in fns:
        results = []
        for name in ("numpy", backend):
            x = mg.tensor(a, requires_grad=True, backend=name)
            y = mg.tensor(b, requires_grad=True, backend=name)
            out = fn(x, y)
            assert out.backend == name
            (out * out).sum().backward()
            results.append([out.numpy()] + [t.grad.numpy() for t in (x, y) if t.grad is not None])
        assert len(results[0]) == len(results[1])
        for ref, got in zip(*results):
            np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
    rank = LA.matrix_rank(mg.tensor(a, backend=backend))
    assert rank.backend == backend and rank.tolist() == [4, 4]


# -- empty matrices and batches ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,fn,tfn,shapes", [
    ("lu_factor", lambda a: list(LA.lu_factor(a)), lambda a: list(torch.linalg.lu_factor(a)), [(2, 0, 0)]),
    ("lu", lambda a: list(LA.lu(a)), lambda a: list(torch.linalg.lu(a)), [(3, 0)]),
    ("lu wide", lambda a: list(LA.lu(a)), lambda a: list(torch.linalg.lu(a)), [(0, 3)]),
    ("lu batch", lambda a: list(LA.lu(a)), lambda a: list(torch.linalg.lu(a)), [(0, 3, 3)]),
    ("matrix_exp", LA.matrix_exp, lambda a: torch.linalg.matrix_exp(a), [(2, 0, 0)]),
    ("matrix_exp batch", LA.matrix_exp, lambda a: torch.linalg.matrix_exp(a), [(0, 3, 3)]),
    ("cond", LA.cond, lambda a: torch.linalg.cond(a), [(2, 0, 0)]),
    ("cond fro", lambda a: LA.cond(a, "fro"), lambda a: torch.linalg.cond(a, "fro"), [(2, 0, 0)]),
    ("solve_triangular", lambda a, b: LA.solve_triangular(a, b, upper=True),
     lambda a, b: torch.linalg.solve_triangular(a, b, upper=True), [(0, 0), (0, 2)]),
    ("lstsq", lambda a, b: list(LA.lstsq(a, b)), lambda a, b: list(torch.linalg.lstsq(a, b)), [(3, 0), (3, 2)]),
])
def test_empty(name, fn, tfn, shapes):
    arrays = [np.zeros(s) for s in shapes]
    outs = fn(*[mg.tensor(a) for a in arrays])
    touts = tfn(*[torch.tensor(a) for a in arrays])
    for o, t in zip(outs if isinstance(outs, list) else [outs], touts if isinstance(touts, list) else [touts]):
        assert o.shape == tuple(t.shape), name
        np.testing.assert_array_equal(o.numpy(), t.numpy())
