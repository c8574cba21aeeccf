"""More of ``torch.linalg``: triangular solves, least squares, LU (factor, solve, unpack), the matrix exponential,
rank, condition numbers, tensorinv/tensorsolve, vander and the ``*_ex`` variants, with PyTorch's top-level
spellings ``triangular_solve``, ``lu_unpack``, ``lu_solve``, ``matrix_exp``.

Forwards are backend methods (array ops, so CuPy runs them on the device); backwards are PyTorch's formulas in
tensor ops, so every order of derivative works. Composites where a composite is exact.
"""

from __future__ import annotations

import math

import numpy as np

from .. import return_types
from .._quiet import quiet
from ..errors import LinAlgError, ShapeError
from ..function import Function
from ..tensor import Tensor
from ._registry import METHODS, OPS, PUBLIC, TOP_LEVEL
from .composites import tril, triu
from .linalg import matmul
from .matrix import (
    _batch,
    _eye,
    _floating,
    _linalg,
    _matrix,
    _square,
    cholesky,
    inv,
    matrix_norm,
    pinv,
    qr,
    solve,
    svd,
    svdvals,
    vector_norm,
)
from .movement import _expand_or_self, _reshape_or_self, broadcast_to, concatenate, reshape
from .reduction import sum as _sum


def _linalg_top(fn):
    """A top-level torch function (``torch.ormqr``) with a spec, also a Tensor method."""
    fn = quiet(fn)  # as ``_linalg``
    OPS[fn.__name__] = fn
    return fn


def _int_tensor(array, like: Tensor) -> Tensor:
    return Tensor(array, like._backend)


def _broadcast_batches(name: str, a: Tensor, b: Tensor):
    """a and b (stacks of matrices) broadcast to one batch shape."""
    try:
        batch = np.broadcast_shapes(_batch(a.shape), _batch(b.shape))
    except ValueError:
        raise ShapeError(f"linalg.{name}: batch dimensions of A {tuple(a.shape)} and B {tuple(b.shape)} do not "
                         "broadcast") from None
    if _batch(a.shape) != batch:
        a = broadcast_to(a, (*batch, *a.shape[-2:]))
    if _batch(b.shape) != batch:
        b = broadcast_to(b, (*batch, *b.shape[-2:]))
    return a, b


def _same_dtype(name: str, a: Tensor, b: Tensor) -> None:
    if a.dtype != b.dtype:
        raise TypeError(f"linalg.{name}: A and B must have one dtype, got {a.dtype.name} and {b.dtype.name}")


# -- triangular solves ----------------------------------------------------------------------------------------
class SolveTriangular(Function):
    """X = tri(A)⁻¹ B by substitution (only the ``upper``/lower triangle of A is read; ``unitriangular``: its
    diagonal taken as ones). Gradients gB = tri(A)⁻ᵀ G, gA = tri(-gB Xᵀ)."""

    op_name = "linalg.solve_triangular"
    save_output = True

    @staticmethod
    def forward(ctx, a, b, upper, unitriangular):
        ctx.save_for_backward(a)
        ctx.upper, ctx.unit = upper, unitriangular
        return ctx.backend.solve_triangular(a.array, b.array, upper, unitriangular)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        gb = SolveTriangular.apply(a.mT, g, not ctx.upper, ctx.unit)
        ga = None
        if ctx.needs_input_grad[0]:
            full = -matmul(gb, ctx.output.mT)
            shift = 1 if ctx.unit else 0
            ga = triu(full, shift) if ctx.upper else tril(full, -shift)
        return ga, gb, None, None


@_linalg
def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,  # noqa: N803
                     unitriangular: bool = False) -> Tensor:
    """X with A X = B (``left=False``: X A = B) for triangular A: only its upper (``upper=True``) or lower
    triangle is read, and with ``unitriangular`` its diagonal is taken as ones. B is (..., n, k); batches
    broadcast. A zero on the diagonal gives inf/NaN, as PyTorch (no error)."""
    _square("solve_triangular", A)
    _floating("solve_triangular", B)
    _same_dtype("solve_triangular", A, B)
    n = A.shape[-1]
    if B.ndim < 2 or B.shape[-2 if left else -1] != n:
        raise ShapeError(f"linalg.solve_triangular: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} "
                         f"do not fit ({'A X = B' if left else 'X A = B'}; B must be a matrix or a batch of them)")
    if not left:
        return solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT
    a, b = _broadcast_batches("solve_triangular", A, B)
    return SolveTriangular.apply(a, b, bool(upper), bool(unitriangular))


def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,  # noqa: N803
                     unitriangular: bool = False) -> return_types.triangular_solve:
    """PyTorch's deprecated ``torch.triangular_solve(b, A)``: (solution of op(A) X = b, a copy of A), with
    op(A) = Aᵀ when ``transpose``."""
    _square("triangular_solve", A)
    a = A.mT if transpose else A
    x = solve_triangular(a, b, upper=bool(upper) != bool(transpose), unitriangular=unitriangular)
    return return_types.triangular_solve(x, A.clone())


# -- least squares ----------------------------------------------------------------------------------------------
_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


@_linalg
def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *,  # noqa: N803
          driver: str | None = None) -> return_types.linalg_lstsq:
    """(solution, residuals, rank, singular_values) of min ||A X - B||, PyTorch's CPU semantics: ``driver``
    "gelsy" (the default), "gels" (A of full rank), "gelsd", "gelss". The solution is the minimum-norm one,
    pinv(A) B with singular values at most ``rcond``·σ_max dropped (rcond default eps·max(m, n)); ``rank``
    (empty for "gels") and ``singular_values`` ("gelsd"/"gelss", else empty) have no gradient; ``residuals``
    ||A X - B||² per column only for m > n, every matrix of full rank and a driver other than "gelsy" (else
    empty). Differentiable in A and B (A's gradient where the rank is locally constant)."""
    _matrix("lstsq", A)
    _floating("lstsq", B)
    _same_dtype("lstsq", A, B)
    if driver is None:
        driver = "gelsy"
    if driver not in _DRIVERS:
        raise ValueError(f"linalg.lstsq: driver must be one of {', '.join(map(repr, _DRIVERS))} or None, got "
                         f"{driver!r}")
    if rcond is not None and (isinstance(rcond, bool) or not isinstance(rcond, (int, float))):
        raise TypeError(f"linalg.lstsq: rcond must be a number or None, got {type(rcond).__name__}")
    m, n = A.shape[-2:]
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    b = B.unsqueeze(-1) if vector else B
    if b.ndim < 2 or b.shape[-2] != m:
        raise ShapeError(f"linalg.lstsq: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} do not fit "
                         "(B must have A's number of rows)")
    a, b = _broadcast_batches("lstsq", A, b)
    if rcond is None or rcond < 0:
        rcond = float(np.finfo(A.dtype.name).eps) * max(m, n)
    x = matmul(pinv(a, rtol=0.0 if driver == "gels" else float(rcond)), b)
    from ..creation import empty

    sv = svdvals(a.detach()) if (driver != "gels" or m > n) else None
    rank_array = None
    if driver != "gels":
        be = a._backend
        cutoff = be.multiply(be.max(sv.array, (sv.ndim - 1,), True), float(rcond)) if sv.shape[-1] else sv.array
        rank_array = be.sum(be.greater(sv.array, cutoff), (sv.ndim - 1,), False).astype(np.int64)
        rank = _int_tensor(rank_array, a)
    else:
        rank = empty(0, dtype="int64", backend=a.backend)
    full_rank = m > n and driver != "gelsy" and (
        bool((sv.array.min(-1) > 0).all()) if rank_array is None else bool((rank_array == n).all()))
    if full_rank:
        residuals = _sum((matmul(a, x) - b) ** 2, -2)  # (..., 1) for a vector B too, as PyTorch
    else:
        residuals = empty(0, dtype=A.dtype, backend=A.backend)
    singular_values = sv if driver in ("gelsd", "gelss") else empty(0, dtype=A.dtype, backend=A.backend)
    return return_types.linalg_lstsq(x.squeeze(-1) if vector else x, residuals, rank, singular_values)


# -- LU ---------------------------------------------------------------------------------------------------------
def _unpack_lu(lu: Tensor, m: int, n: int):
    k = min(m, n)
    low = tril(lu[..., :, :k], -1) + _eye_rect(m, k, lu)
    up = triu(lu[..., :k, :])
    return low, up


def _eye_rect(m: int, k: int, like: Tensor) -> Tensor:
    from ..creation import eye

    return eye(m, k, dtype=like.dtype, backend=like.backend)


def _permutation_matrix(pivots: Tensor, m: int, dtype, like: Tensor) -> Tensor:
    """P with A = P L U: P[..., i, j] = 1 where perm[j] = i."""
    be = like._backend
    perm = be.lu_permutation(pivots.array, m)
    xp = be.xp
    p = (xp.arange(m)[:, None] == perm[..., None, :]).astype(dtype)
    return Tensor(p, be)


class LuFactor(Function):
    """The packed LU of A = P L U (computed before the op, with its pivots); PyTorch's gradient
    (linalg_lu_backward), square, wide and tall, in triangular solves."""

    op_name = "linalg.lu_factor"
    save_output = True

    @staticmethod
    def forward(ctx, a, lu, perm_matrix):
        ctx.perm = perm_matrix
        return lu

    @staticmethod
    def backward(ctx, g):
        m, n = ctx.output.shape[-2:]
        low, up = _unpack_lu(ctx.output, m, n)
        g_low, g_up = _unpack_lu(g, m, n)  # only the strict lower and the upper parts enter the formula
        return ctx.perm @ _lu_backward(low, up, g_low, g_up, m, n), None, None


def _lu_backward(low, up, g_low, g_up, m, n):
    k = min(m, n)
    if m == n:
        ga = tril(matmul(low.mT, g_low), -1) + triu(matmul(g_up, up.mT))
        ga = solve_triangular(up.mT, ga, upper=False, left=False)
        return solve_triangular(low.mT, ga, upper=True, unitriangular=True)
    if m < n:
        up1, g_up1, g_up2 = up[..., :k], g_up[..., :k], g_up[..., k:]
        ga = matmul(low.mT, g_low) - matmul(triu(g_up), up.mT)
        ga = solve_triangular(up1.mT, tril(ga, -1), upper=False, left=False)
        ga = concatenate([ga + triu(g_up1), g_up2], -1)
        return solve_triangular(low.mT, ga, upper=True, unitriangular=True)
    low1, g_low1, g_low2 = low[..., :k, :], g_low[..., :k, :], g_low[..., k:, :]
    ga = matmul(g_up, up.mT) - matmul(low.mT, tril(g_low, -1))
    ga = solve_triangular(low1.mT, triu(ga), upper=True, unitriangular=True)
    ga = concatenate([ga + tril(g_low1, -1), g_low2], -2)
    return solve_triangular(up.mT, ga, upper=False, left=False)


def _factor(name: str, A: Tensor, pivot: bool):  # noqa: N803
    _matrix(name, A)
    if not pivot:
        raise NotImplementedError(f"linalg.{name}: LU without pivoting is not implemented on the CPU (as "
                                  "PyTorch's CPU kernels); use pivot=True")
    be = A._backend
    lu, piv = be.lu_factor(A.array)
    pivots = _int_tensor(piv, A)
    perm = _permutation_matrix(pivots, A.shape[-2], lu.dtype, A)
    return LuFactor.apply(A, lu, perm), pivots, perm


def _lu_info(lu: Tensor) -> Tensor:
    """LAPACK's info per matrix: the 1-based index of the first zero on U's diagonal, else 0."""
    be = lu._backend
    xp = be.xp
    k = min(lu.shape[-2:])
    diag = xp.diagonal(lu.array, 0, -2, -1)[..., :k]
    zero = diag == 0
    first = xp.argmax(zero, axis=-1) + 1 if k else xp.zeros(diag.shape[:-1], dtype=np.int64)
    return Tensor(xp.where(xp.any(zero, axis=-1), first, 0).astype(np.int32), be)


@_linalg
def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False) -> return_types.linalg_lu_factor_ex:  # noqa: N803
    """(LU, pivots, info): the packed LU factorization with partial pivoting, 1-based int32 ``pivots`` (row i
    swapped with pivots[i] - 1, in order), and ``info`` the 1-based index of the first zero pivot (0: none)."""
    lu, pivots, _ = _factor("lu_factor_ex", A, pivot)
    info = _lu_info(lu)
    if check_errors and bool((info.array > 0).any()):
        raise LinAlgError(f"linalg.lu_factor_ex: U has a zero on its diagonal (info {info.tolist()})")
    return return_types.linalg_lu_factor_ex(lu, pivots, info)


@_linalg
def lu_factor(A: Tensor, *, pivot: bool = True) -> return_types.linalg_lu_factor:  # noqa: N803
    """(LU, pivots): the packed LU factorization with partial pivoting (PyTorch's pivot convention: 1-based
    int32). A singular matrix (a zero pivot) raises ``LinAlgError``, as PyTorch; ``lu``/``lu_factor_ex`` do not."""
    lu, pivots, _ = _factor("lu_factor", A, pivot)
    info = _lu_info(lu)
    if bool((info.array > 0).any()):
        raise LinAlgError(f"linalg.lu_factor: the matrix is singular (a zero pivot, info {info.tolist()}); use "
                          "linalg.lu or linalg.lu_factor_ex to factor it anyway")
    return return_types.linalg_lu_factor(lu, pivots)


@_linalg
def lu(A: Tensor, *, pivot: bool = True) -> return_types.linalg_lu:  # noqa: N803
    """(P, L, U) with A = P L U: P a permutation matrix (A's dtype), L unit lower (m, k), U upper (k, n)."""
    packed, _, perm = _factor("lu", A, pivot)
    low, up = _unpack_lu(packed, *A.shape[-2:])
    return return_types.linalg_lu(perm, low, up)


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,  # noqa: N803
              unpack_pivots: bool = True) -> return_types.lu_unpack:
    """PyTorch's ``torch.lu_unpack``: (P, L, U) from ``lu_factor``'s output; an unpacked part left out is an
    empty tensor. Differentiable in ``LU_data``."""
    _matrix("lu_unpack", LU_data)
    if not isinstance(LU_pivots, Tensor) or LU_pivots.dtype.kind not in "iu":
        raise TypeError("lu_unpack: LU_pivots must be an integer tensor (lu_factor's pivots)")
    m, n = LU_data.shape[-2:]
    if tuple(LU_pivots.shape) != (*_batch(LU_data.shape), min(m, n)):
        raise ShapeError(f"lu_unpack: LU_pivots of shape {tuple(LU_pivots.shape)} do not fit LU_data of shape "
                         f"{tuple(LU_data.shape)}")
    from ..creation import empty

    nothing = empty(0, dtype=LU_data.dtype, backend=LU_data.backend)
    p = _permutation_matrix(LU_pivots, m, LU_data.array.dtype, LU_data) if unpack_pivots else nothing
    low, up = _unpack_lu(LU_data, m, n) if unpack_data else (nothing, nothing)
    return return_types.lu_unpack(p, low, up)


@_linalg
def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,  # noqa: N803
             adjoint: bool = False) -> Tensor:
    """X with A X = B from A's ``lu_factor`` (``adjoint``: Aᵀ X = B; ``left=False``: X A = B). Differentiable
    in LU and B."""
    _square("lu_solve", LU)
    _floating("lu_solve", B)
    _same_dtype("lu_solve", LU, B)
    n = LU.shape[-1]
    if B.ndim < 2 or B.shape[-2 if left else -1] != n:
        raise ShapeError(f"linalg.lu_solve: LU of shape {tuple(LU.shape)} and B of shape {tuple(B.shape)} do "
                         "not fit")
    if not left:  # X A = B  <=>  Aᵀ Xᵀ = Bᵀ
        return lu_solve(LU, pivots, B.mT, adjoint=not adjoint).mT
    p, low, up = lu_unpack(LU, pivots)
    if not adjoint:  # X = U⁻¹ L⁻¹ Pᵀ B
        y = solve_triangular(low, matmul(p.mT, B), upper=False, unitriangular=True)
        return solve_triangular(up, y, upper=True)
    y = solve_triangular(up.mT, B, upper=False)  # Aᵀ = Uᵀ Lᵀ Pᵀ: X = P L⁻ᵀ U⁻ᵀ B
    return matmul(p, solve_triangular(low.mT, y, upper=True, unitriangular=True))


# -- matrix exponential -------------------------------------------------------------------------------------
class MatrixExp(Function):
    """exp(A); the gradient is the upper-right block of exp([[Aᵀ, G], [0, Aᵀ]]) (the Fréchet derivative's
    adjoint), itself a matrix_exp, so every order of derivative is exact."""

    op_name = "linalg.matrix_exp"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.backend.matrix_exp(a.array)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        n = a.shape[-1]
        at = a.mT
        zero = at * 0
        block = concatenate([concatenate([at, g], -1), concatenate([zero, at], -1)], -2)
        return MatrixExp.apply(block)[..., :n, n:]


@_linalg
def matrix_exp(A: Tensor) -> Tensor:  # noqa: N803
    """The matrix exponential of each square matrix (scaling and squaring, degree-13 Padé)."""
    return MatrixExp.apply(_square("matrix_exp", A))


# -- rank, condition number -------------------------------------------------------------------------------
def _tolerances(name: str, A: Tensor, atol, rtol):  # noqa: N803
    for label, value in (("atol", atol), ("rtol", rtol)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TypeError(f"linalg.{name}: {label} must be a number or None, got {type(value).__name__}")
    if rtol is None:
        rtol = float(np.finfo(A.dtype.name).eps) * max(A.shape[-2:]) if atol is None or atol <= 0 else 0.0
    return float(atol or 0.0), float(rtol)


def matrix_rank(A: Tensor, *, atol: float | None = None, rtol: float | None = None,  # noqa: N803
                hermitian: bool = False) -> Tensor:
    """The number of singular values (|eigenvalues| with ``hermitian``) above max(atol, rtol·σ_max), int64;
    without either tolerance rtol = eps·max(m, n). Not differentiable (an integer)."""
    _matrix("matrix_rank", A)
    atol, rtol = _tolerances("matrix_rank", A, atol, rtol)
    be = A._backend
    if hermitian:
        if A.shape[-1] != A.shape[-2]:
            raise ShapeError(f"linalg.matrix_rank: hermitian=True needs square matrices, got {tuple(A.shape)}")
        s = be.abs(be.eigh(A.array, "L")[0])
    else:
        s = be.svd(A.array, False)[1]
    if not s.shape[-1]:
        return Tensor(be.zeros(s.shape[:-1], np.int64), be)
    cutoff = be.maximum(be.multiply(be.max(s, (s.ndim - 1,), True), rtol), atol)
    return Tensor(be.sum(be.greater(s, cutoff), (s.ndim - 1,), False).astype(np.int64), be)


@_linalg
def cond(A: Tensor, p=None) -> Tensor:  # noqa: N803
    """The condition number: ``p`` None or 2 (σ_max/σ_min), -2 (σ_min/σ_max) for any (m, n); "fro", "nuc",
    inf, -inf, 1, -1 (‖A‖·‖A⁻¹‖, square A; inf where A is singular, as PyTorch)."""
    _matrix("cond", A)
    if p is not None and p not in (2, -2, "fro", "nuc", math.inf, -math.inf, 1, -1) or isinstance(p, bool):
        raise ValueError(f"linalg.cond: p must be None, 2, -2, 'fro', 'nuc', inf, -inf, 1 or -1, got {p!r}")
    if 0 in A.shape[-2:]:
        if p not in (None, 2, -2):
            _square("cond", A)
        return _sum(A, (-2, -1)) * 0  # PyTorch's 0 for empty matrices
    if p is None or (p in (2, -2) and not isinstance(p, bool)):
        s = svdvals(A)
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    if p not in ("fro", "nuc", math.inf, -math.inf, 1, -1) or isinstance(p, bool):
        raise ValueError(f"linalg.cond: p must be None, 2, -2, 'fro', 'nuc', inf, -inf, 1 or -1, got {p!r}")
    _square("cond", A)
    info = _lu_info(Tensor(A._backend.lu_factor(A.array)[0], A._backend))
    singular = info.array > 0
    if not bool(singular.any()):
        return matrix_norm(A, p) * matrix_norm(inv(A), p)
    from .arithmetic import where

    mask = Tensor(singular, A._backend)
    safe = where(mask.unsqueeze(-1).unsqueeze(-1), _eye(A.shape[-1], A), A)
    return where(mask, math.inf, matrix_norm(safe, p) * matrix_norm(inv(safe), p))


# -- tensorinv, tensorsolve, vander ---------------------------------------------------------------------------
@_linalg
def tensorinv(A: Tensor, ind: int = 2) -> Tensor:  # noqa: N803
    """The inverse for ``tensordot`` over ``ind`` dims: A reshaped to (prod(shape[:ind]), prod(shape[ind:]))
    must be square; the result has shape shape[ind:] + shape[:ind]."""
    _floating("tensorinv", A)
    if isinstance(ind, bool) or not isinstance(ind, int) or ind <= 0:
        raise ValueError(f"linalg.tensorinv: ind must be a positive int, got {ind!r}")
    rows, cols = A.shape[:ind], A.shape[ind:]
    if math.prod(rows) != math.prod(cols):
        raise ShapeError(f"linalg.tensorinv: prod(shape[:ind]) must equal prod(shape[ind:]), got shape "
                         f"{tuple(A.shape)} with ind={ind}")
    return _reshape_or_self(inv(_reshape_or_self(A, (math.prod(rows), math.prod(cols)))), (*cols, *rows))


@_linalg
def tensorsolve(A: Tensor, B: Tensor, dims=None) -> Tensor:  # noqa: N803
    """X with tensordot(A, X, X.ndim) = B; ``dims``: A's dims moved to the end first."""
    _floating("tensorsolve", A)
    _floating("tensorsolve", B)
    _same_dtype("tensorsolve", A, B)
    if dims is not None:
        from .composites import _movedim_or_self

        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        A = _movedim_or_self(A, dims, tuple(range(A.ndim - len(dims), A.ndim)))  # noqa: N806
    rows = tuple(A.shape[:B.ndim])
    if rows != tuple(B.shape):
        raise ShapeError(f"linalg.tensorsolve: B's shape {tuple(B.shape)} must lead A's {tuple(A.shape)}")
    cols = tuple(A.shape[B.ndim:])
    if math.prod(rows) != math.prod(cols):
        raise ShapeError(f"linalg.tensorsolve: A of shape {tuple(A.shape)} is not 'square' for B of shape "
                         f"{tuple(B.shape)} (prod {math.prod(rows)} != {math.prod(cols)})")
    x = solve(_reshape_or_self(A, (math.prod(rows), math.prod(cols))), _reshape_or_self(B, (math.prod(rows),)))
    return _reshape_or_self(x, cols)


@_linalg
def vander(x: Tensor, *, N: int | None = None) -> Tensor:  # noqa: N803
    """The Vandermonde matrix (..., n, N) of increasing powers x^0, x^1, ..., x^(N-1) (N default n)."""
    if not isinstance(x, Tensor) or x.ndim < 1:
        raise ShapeError("linalg.vander: expected a tensor of at least 1 dimension")
    if N is None:
        N = x.shape[-1]  # noqa: N806
    if isinstance(N, bool) or not isinstance(N, int) or N < 2:
        raise ValueError(f"linalg.vander: N must be greater than 1 (as PyTorch), got {N!r}")
    column = x.unsqueeze(-1)
    cols = [column * 0 + 1]
    for _ in range(N - 1):
        cols.append(cols[-1] * column)
    return concatenate(cols, -1)


# -- Householder products -------------------------------------------------------------------------------------
@_linalg
def householder_product(A: Tensor, tau: Tensor) -> Tensor:  # noqa: N803
    """The first n columns of H_1 ⋯ H_k, H_i = I - tau_i v_i v_iᵀ with v_i = (0, ..., 0, 1, A[i+1:, i]) (LAPACK's
    orgqr: Q from ``geqrf``'s reflectors). A (..., m, n) with m >= n, tau (..., k) with k <= n."""
    _matrix("householder_product", A)
    _floating("householder_product", tau)
    _same_dtype("householder_product", A, tau)
    m, n = A.shape[-2:]
    if m < n:
        raise ShapeError(f"linalg.householder_product: A must have at least as many rows as columns, got shape "
                         f"{tuple(A.shape)}")
    k = tau.shape[-1] if tau.ndim else -1
    if tau.ndim != A.ndim - 1 or k > n or tuple(tau.shape[:-1]) != _batch(A.shape):
        raise ShapeError(f"linalg.householder_product: tau of shape {tuple(tau.shape)} does not fit A of shape "
                         f"{tuple(A.shape)} (expected (..., k) with A's batch shape and k <= {n})")
    from ..creation import arange
    from .arithmetic import where

    rows = arange(m, backend=A.backend)
    q = A * 0 + _eye_rect(m, n, A)  # as matrix_power(A, 0): connected to A, with zero gradient when k = 0
    if k == 0:  # tau empty: still an input with a (empty) gradient, as PyTorch's
        q = q + _sum(tau, -1).unsqueeze(-1).unsqueeze(-1) * 0
    for i in range(k - 1, -1, -1):  # Q = H_1 (H_2 (⋯ (H_k I[:, :n])))
        v = where(rows > i, A[..., :, i], where(rows == i, 1.0, 0.0)).unsqueeze(-1)
        q = q - tau[..., i].unsqueeze(-1).unsqueeze(-1) * matmul(v, matmul(v.mT, q))
    return q


def _reflect(c: Tensor, a: Tensor, tau: Tensor, i: int, left: bool) -> Tensor:
    """H_i c (``left``) or c H_i, H_i = I - tau_i v_i v_iᵀ, v_i = (0, ..., 0, 1, a[i+1:, i])."""
    from ..creation import arange
    from .arithmetic import where

    rows = arange(a.shape[-2], backend=a.backend)
    v = where(rows > i, a[..., :, i], where(rows == i, 1.0, 0.0)).unsqueeze(-1)
    t = tau[..., i].unsqueeze(-1).unsqueeze(-1)
    return c - t * matmul(v, matmul(v.mT, c)) if left else c - t * matmul(matmul(c, v), v.mT)


def geqrf(input: Tensor) -> return_types.geqrf:  # noqa: A002
    """PyTorch's ``geqrf``: LAPACK's QR in Householder form, (a, tau): R in a's upper triangle, the reflectors
    below it (see ``householder_product``, ``ormqr``). Not differentiable, as PyTorch's."""
    _matrix("geqrf", input)
    be = input._backend
    h, tau = be.qr(input.array, "raw")
    return return_types.geqrf(Tensor(be.transpose(h, (*range(h.ndim - 2), h.ndim - 1, h.ndim - 2)).copy(), be),
                              Tensor(tau, be))


@_linalg_top
def ormqr(input: Tensor, tau: Tensor, other: Tensor, left: bool = True,  # noqa: A002
          transpose: bool = False) -> Tensor:
    """PyTorch's ``ormqr``: Q·other (``left``) or other·Q, Q (Qᵀ with ``transpose``) the m x m product of the
    Householder reflectors in ``input`` (m, n) and ``tau`` (k <= n) from ``geqrf``. Differentiable in all three."""
    _matrix("ormqr", input)
    for t in (tau, other):
        _floating("ormqr", t)
        _same_dtype("ormqr", input, t)
    m = input.shape[-2]
    k = tau.shape[-1] if tau.ndim else -1
    if tau.ndim != input.ndim - 1 or k > min(input.shape[-2:]) or tuple(tau.shape[:-1]) != _batch(input.shape):
        raise ShapeError(f"ormqr: tau of shape {tuple(tau.shape)} does not fit input of shape "
                         f"{tuple(input.shape)}")
    if other.ndim != input.ndim or other.shape[-2 if left else -1] != m:
        raise ShapeError(f"ormqr: other of shape {tuple(other.shape)} does not fit input of shape "
                         f"{tuple(input.shape)} ({'Q other' if left else 'other Q'}, Q {m} x {m})")
    # Q = H_1 ⋯ H_k: Q c applies H_k first; Qᵀ c, c Q apply H_1 first; c Qᵀ applies H_k first
    order = range(k) if left == bool(transpose) else range(k - 1, -1, -1)
    out = other * 1  # a new tensor even for k = 0
    for i in order:
        out = _reflect(out, input, tau, i, left)
    return out


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:  # noqa: A002
    """PyTorch's ``pinverse``: ``linalg.pinv`` with singular values at most rcond·σ_max dropped."""
    return pinv(input, rtol=rcond)


class CholeskySolve(Function):
    """X = (L Lᵀ)⁻¹ B from the triangle of L (lower, or upper: A = Uᵀ U). PyTorch's gradient, which treats L as
    a dense matrix (so the unread triangle gets a gradient too, as in PyTorch): gB = cholesky_solve(G, L),
    C = gB Xᵀ + X gBᵀ, gL = -C L (upper: -L C)."""

    op_name = "cholesky_solve"
    save_output = True

    @staticmethod
    def forward(ctx, b, low, upper):
        ctx.save_for_backward(low)
        ctx.upper = upper
        be = ctx.backend
        swap = (*range(low.ndim - 2), low.ndim - 1, low.ndim - 2)
        tri = be.transpose(low.array, swap) if upper else low.array
        y = be.solve_triangular(tri, b.array, False, False)
        return be.solve_triangular(be.transpose(tri, swap), y, True, False)

    @staticmethod
    def backward(ctx, g):
        (low,) = ctx.saved_tensors
        gb = CholeskySolve.apply(g, low, ctx.upper)
        gl = None
        if ctx.needs_input_grad[1]:
            common = matmul(gb, ctx.output.mT)
            common = common + common.mT
            gl = -matmul(low, common) if ctx.upper else -matmul(common, low)
        return gb, gl, None


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:  # noqa: N803
    """PyTorch's ``cholesky_solve(B, L)``: X with A X = B for A = L Lᵀ (``upper``: A = Uᵀ U), from the Cholesky
    factor (only its triangle is read); batches broadcast. Differentiable in B and L, with PyTorch's gradient."""
    _square("cholesky_solve", L)
    _floating("cholesky_solve", B)
    if B.dtype != L.dtype:
        raise TypeError(f"cholesky_solve: B and L must have one dtype, got {B.dtype.name} and {L.dtype.name}")
    if B.ndim < 2 or B.shape[-2] != L.shape[-1]:
        raise ShapeError(f"cholesky_solve: B of shape {tuple(B.shape)} does not fit L of shape {tuple(L.shape)}")
    low, b = _broadcast_batches("cholesky_solve", L, B)
    return CholeskySolve.apply(b, low, bool(upper))


def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:  # noqa: N803
    """PyTorch's ``cholesky_inverse(L)``: A⁻¹ for A = L Lᵀ (``upper``: A = Uᵀ U)."""
    _square("cholesky_inverse", L)
    return cholesky_solve(_expand_or_self(_eye(L.shape[-1], L), L.shape), L, upper)


def torch_vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803
    """PyTorch's top-level ``vander(x, N=None, increasing=False)``: x 1-D, powers decreasing unless ``increasing``
    (``linalg.vander`` is the increasing, batched one)."""
    if not isinstance(x, Tensor) or x.ndim != 1:
        raise ShapeError(f"vander: x must be a 1-D tensor, got {_described_shape(x)}")
    if N is None:
        N = x.shape[0]  # noqa: N806
    if isinstance(N, bool) or not isinstance(N, int) or N < 0:
        raise ValueError(f"vander: N must be a non-negative int, got {N!r}")
    if x.dtype.kind == "b":
        x = x.astype("int64")
    column = x.unsqueeze(-1)
    cols = [column * 0 + 1]
    for _ in range(N - 1):
        cols.append(cols[-1] * column)
    if N == 0:
        return (column * 0)[..., :0]
    return concatenate(cols if increasing else cols[::-1], -1)


def _described_shape(x) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__


def chain_matmul(*matrices: Tensor) -> Tensor:
    """PyTorch's deprecated ``chain_matmul``: ``linalg.multi_dot`` of 2-D tensors (one tensor: itself)."""
    from .matrix import multi_dot

    if len(matrices) == 1:
        return matrices[0] * 1
    return multi_dot(matrices)


def lu_old(A: Tensor, pivot: bool = True, get_infos: bool = False):  # noqa: N803
    """PyTorch's deprecated ``torch.lu``: (LU, pivots), raising on a singular matrix, or with ``get_infos``
    (LU, pivots, info) without raising."""
    lu_, pivots, info = lu_factor_ex(A, pivot=pivot, check_errors=not get_infos)
    return return_types._lu_with_info(lu_, pivots, info) if get_infos else (lu_, pivots)


def lu_solve_old(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:  # noqa: N803
    """PyTorch's deprecated ``torch.lu_solve(b, LU_data, LU_pivots)`` (``linalg.lu_solve`` with its arguments
    reordered)."""
    return lu_solve(LU_data, LU_pivots, b)


# -- PyTorch's deprecated svd/qr/norm spellings, and the functions it removed -------------------------------------
def svd_old(input: Tensor, some: bool = True, compute_uv: bool = True) -> return_types.svd:  # noqa: A002
    """PyTorch's deprecated ``torch.svd``: (U, S, V) with A = U diag(S) Vᵀ (V, where ``linalg.svd`` gives Vᵀ),
    reduced unless ``some=False``; with ``compute_uv=False``, U and V are zeros of shape (m, m) and (n, n) and only
    S is differentiable (through ``linalg.svdvals``)."""
    from ..creation import zeros

    if not compute_uv:
        values = svdvals(input)
        *batch, m, n = input.shape
        return return_types.svd(zeros(*batch, m, m, dtype=input.dtype, backend=input.backend), values,
                                zeros(*batch, n, n, dtype=input.dtype, backend=input.backend))
    u, s, vh = svd(input, full_matrices=not some)
    return return_types.svd(u, s, vh.mT)


def qr_old(input: Tensor, some: bool = True) -> return_types.qr:  # noqa: A002
    """PyTorch's deprecated ``torch.qr``: ``linalg.qr`` in mode "reduced" (``some=True``) or "complete", with
    PyTorch's deprecation warning, once per process."""
    from ..runtime import warn_once

    warn_once("qr is deprecated in favor of linalg.qr and will be removed in a future PyTorch release.\nThe "
              "boolean parameter 'some' has been replaced with a string parameter 'mode'.\nQ, R = qr(A, some)\n"
              "should be replaced with\nQ, R = linalg.qr(A, 'reduced' if some else 'complete')")
    return return_types.qr(*qr(input, "reduced" if some else "complete"))


def nuclear_norm(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """PyTorch's deprecated ``nuclear_norm(input, keepdim=False)`` / ``nuclear_norm(input, dim, keepdim=False)``:
    ``linalg.matrix_norm(input, "nuc", dim)``, over the last two dimensions by default."""
    from ..runtime import warn_once

    if isinstance(dim, bool):  # the overload without dim: nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    warn_once("nuclear_norm is deprecated and it is just left for JIT compatibility. It will be removed in a future "
              "PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead")
    return matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim)


def frobenius_norm(input: Tensor, dim, keepdim: bool = False) -> Tensor:  # noqa: A002
    """PyTorch's deprecated ``frobenius_norm``: ``linalg.vector_norm(input, 2, dim, keepdim)`` over one or two
    dimensions."""
    from ..runtime import warn_once

    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) > 2:
        raise ValueError(f"frobenius_norm: expected at most 2 dimensions, but got {len(dims)} dimensions instead")
    warn_once("frobenius_norm is deprecated and it is just left for JIT compatibility. It will be removed in a "
              "future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, keepdim)` instead")
    return vector_norm(input, 2, dims, keepdim)


def _removed(name: str, advice: str):
    def removed(*args, **kwargs):
        raise RuntimeError(f"{name}: this function was deprecated since PyTorch 1.9 and is now removed. {advice}")

    removed.__name__ = removed.__qualname__ = name
    removed.__doc__ = f"Removed from PyTorch: raises ``RuntimeError`` with the ``linalg`` spelling to use ({name})."
    return removed


_REMOVED = {name: _removed(name, advice) for name, advice in (
    ("matrix_rank", "Please use the `minigrad.linalg.matrix_rank` function instead. The parameter 'symmetric' was "
                    "renamed in `linalg.matrix_rank()` to 'hermitian'."),
    ("solve", "`linalg.solve` has its arguments reversed and does not return the LU factorization (see "
              "`linalg.lu_factor`).\nX = solve(B, A).solution should be replaced with:\n"
              "X = minigrad.linalg.solve(A, B)"),
    ("lstsq", "`linalg.lstsq` has reversed arguments and does not return the QR decomposition (see `linalg.qr`).\n"
              "X, _ = lstsq(B, A).solution[:A.size(1)] should be replaced with:\n"
              "X = minigrad.linalg.lstsq(A, B).solution"),
    ("symeig", "The default triangle is now the lower one.\nL, _ = symeig(A, upper=upper) should be replaced with:\n"
               "L = minigrad.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\nand L, V = symeig(A, eigenvectors=True) "
               "with:\nL, V = minigrad.linalg.eigh(A, UPLO='U' if upper else 'L')"),
    ("eig", "Its replacement, `linalg.eig`, returns complex tensors, which minigrad does not have; for a symmetric "
            "matrix use minigrad.linalg.eigh (or eigvalsh for the eigenvalues alone)."),
)}


# -- the *_ex variants: (result, info) ------------------------------------------------------------------------
def _ex_result(name: str, fn, A: Tensor, check_errors: bool, compute_info, safe):  # noqa: N803
    """(fn(A), info). Where a matrix fails, PyTorch returns LAPACK's partial result with info > 0; minigrad
    returns NaN there (the other matrices exact and differentiable) with the same info."""
    be = A._backend
    try:
        out = fn(A)
        if bool(be.xp.isfinite(out.array).all()):  # (one host read) CuPy gives NaN where NumPy raises
            return out, Tensor(be.zeros(_batch(A.shape), np.int32), be)
    except LinAlgError:
        out = None
    info = compute_info()
    if out is not None and not bool((info.array > 0).any()):
        return out, info  # not finite from the input's own NaN/inf: nothing failed
    if check_errors:
        raise LinAlgError(f"linalg.{name}: the input is singular or not positive-definite (info "
                          f"{info.tolist()})")
    from .arithmetic import where

    failed = Tensor(info.array > 0, A._backend)
    batch = tuple(failed.shape)
    out = fn(where(reshape(failed, (*batch, 1, 1)), safe, A))
    return where(reshape(failed, (*batch, *(1,) * (out.ndim - len(batch)))), math.nan, out), info


def _cholesky_info(A: Tensor) -> Tensor:  # noqa: N803
    """The order of the first leading minor that is not positive-definite, per matrix (0: none), on the host."""
    be = A._backend
    a = be.to_numpy(A.array).reshape(-1, *A.shape[-2:])
    out = np.zeros(a.shape[0], np.int32)
    for i in range(a.shape[0]):
        for k in range(1, a.shape[-1] + 1):
            try:
                np.linalg.cholesky(a[i, :k, :k])
            except np.linalg.LinAlgError:
                out[i] = k
                break
    return Tensor(be.from_numpy(out.reshape(_batch(A.shape))), be)


def _singular_info(A: Tensor) -> Tensor:  # noqa: N803
    return _lu_info(Tensor(A._backend.lu_factor(A.array)[0], A._backend))


@_linalg
def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False) -> return_types.linalg_cholesky_ex:  # noqa: N803, E501
    """(L, info): ``cholesky`` and, per matrix, the order of the first leading minor that is not
    positive-definite (0: none). Such a matrix's factor is NaN (PyTorch: LAPACK's partial factor)."""
    _square("cholesky_ex", A)
    out, info = _ex_result("cholesky_ex", lambda a: cholesky(a, upper=upper), A, check_errors,
                           lambda: _cholesky_info(A), _eye(A.shape[-1], A))
    return return_types.linalg_cholesky_ex(out, info)


@_linalg
def inv_ex(A: Tensor, *, check_errors: bool = False) -> return_types.linalg_inv_ex:  # noqa: N803
    """(inverse, info): ``inv`` and, per matrix, the 1-based index of LU's first zero pivot (0: invertible).
    A singular matrix's inverse is NaN (PyTorch: a partial result)."""
    _square("inv_ex", A)
    out, info = _ex_result("inv_ex", inv, A, check_errors, lambda: _singular_info(A), _eye(A.shape[-1], A))
    return return_types.linalg_inv_ex(out, info)


@_linalg
def solve_ex(A: Tensor, B: Tensor, *, left: bool = True,  # noqa: N803
             check_errors: bool = False) -> return_types.linalg_solve_ex:
    """(solution, info): ``solve`` and ``info`` as ``inv_ex``'s (NaN solutions where A is singular). A is not
    broadcast against B's batch here: give A the full batch shape."""
    _square("solve_ex", A)
    out, info = _ex_result("solve_ex", lambda a: solve(a, B, left=left), A, check_errors,
                           lambda: _singular_info(A), _eye(A.shape[-1], A))
    return return_types.linalg_solve_ex(out, info)


# -- PyTorch's top-level spellings and Tensor methods --------------------------------------------------------
_NOT_METHODS = {"lu_unpack", "chain_matmul", "vander", "nuclear_norm", "frobenius_norm", "matrix_rank"}  # as PyTorch
for _name, _fn in (("triangular_solve", triangular_solve), ("lu_unpack", lu_unpack), ("matrix_exp", matrix_exp),
                   ("orgqr", householder_product), ("ormqr", ormqr), ("geqrf", geqrf), ("pinverse", pinverse),
                   ("cholesky_solve", cholesky_solve), ("cholesky_inverse", cholesky_inverse),
                   ("vander", torch_vander), ("chain_matmul", chain_matmul), ("lu", lu_old),
                   ("lu_solve", lu_solve_old), ("svd", svd_old), ("qr", qr_old), ("nuclear_norm", nuclear_norm),
                   ("frobenius_norm", frobenius_norm), *_REMOVED.items()):
    PUBLIC[_name] = _fn
    TOP_LEVEL.add(_name)
    if _name not in _NOT_METHODS:
        METHODS[_name] = _fn
del _name, _fn
# minigrad.linalg's functions without a spec: matrix_rank (no gradient), and PyTorch's aliases of top-level ops
LINALG_EXTRA: dict = {"matrix_rank": matrix_rank}


def _linalg_aliases() -> None:
    from .indexing import diagonal as _diagonal_op

    def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: N803
        """``torch.linalg.diagonal``: ``diagonal`` with the last two dims as defaults."""
        return _diagonal_op(A, offset, dim1, dim2)

    LINALG_EXTRA.update(diagonal=diagonal, matmul=matmul)


_linalg_aliases()
