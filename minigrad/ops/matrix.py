"""``minigrad.linalg`` (PyTorch's ``torch.linalg``): norms, inverse, determinants, solve, Cholesky, QR, eigh,
SVD, pinv, and the top-level aliases ``inverse``, ``det``, ``logdet``, ``slogdet``, ``cholesky``,
``matrix_power``.

Each decomposition is one op whose forward is a backend method (``xp.linalg``) and whose backward is
PyTorch's formula written in tensor ops on the op's own outputs, so gradients of every order work on every
backend. An op with several outputs (eigh, svd, qr) returns them packed in one tensor, which the public
function slices: its backward then reads graph-connected outputs (``ctx.output``), and an in-place change to
an output is caught as for any saved tensor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import return_types
from .._quiet import quiet
from ..errors import LinAlgError, ShapeError
from ..function import Function
from ..tensor import Tensor
from ._registry import METHODS, PUBLIC, TOP_LEVEL, public
from .arithmetic import where
from .composites import _movedim_or_self, tril
from .linalg import matmul
from .linalg import norm as _torch_norm
from .movement import _expand_or_self, _reshape_or_self, broadcast_to, concatenate, getitem, reshape
from .reduction import amax, amin
from .reduction import sum as _sum

LINALG: dict = {}  # minigrad.linalg's differentiable functions (its OPS)


def _linalg(fn):
    # Composites call backend methods outside any op, so they get NumPy's warnings off themselves (_quiet.py).
    fn = quiet(fn)
    LINALG[fn.__name__] = fn
    return fn


# -- checks and helpers -------------------------------------------------------------------------------------
def _floating(name: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg.{name}: expected a tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"linalg.{name}: expected a floating-point tensor, got {x.dtype.name}")
    return x


def _square(name: str, a) -> Tensor:
    _floating(name, a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"linalg.{name}: expected a square matrix or a batch of them (..., n, n), got shape "
                         f"{tuple(a.shape)}")
    return a


def _matrix(name: str, a) -> Tensor:
    _floating(name, a)
    if a.ndim < 2:
        raise ShapeError(f"linalg.{name}: expected a matrix or a batch of them (..., m, n), got shape "
                         f"{tuple(a.shape)}")
    return a


def _call(name: str, what: str, fn, *args):
    """A backend decomposition; NumPy's LinAlgError (a ValueError) becomes minigrad's, naming the op."""
    try:
        return fn(*args)
    except ValueError as exc:
        raise LinAlgError(f"linalg.{name}: {what} ({exc})") from exc


def _eye(n: int, like: Tensor) -> Tensor:
    from ..creation import eye

    return eye(n, dtype=like.dtype, backend=like.backend)


def _diag_embed(v: Tensor) -> Tensor:
    return v.unsqueeze(-1) * _eye(v.shape[-1], v)


def _diagonal(x: Tensor) -> Tensor:
    return _sum(x * _eye(x.shape[-1], x), -1)


def _off_diagonal_quotient(num: Tensor, den: Tensor) -> Tensor:
    """num / den off the diagonal, 0 on it, and 0 where both are 0 (an output whose gradient is zero, as
    an unused one in PyTorch, contributes nothing even at repeated eigenvalues); a zero ``den`` under a
    non-zero ``num`` gives inf, as the gradient there is undefined. No 0/0 in any order of derivative."""
    n = num.shape[-1]
    off = ~_eye(n, num).astype("bool")
    safe = off & ~((num == 0) & (den == 0))
    return where(safe, num / where(safe, den, 1.0), 0.0)


def _safe_divide(num: Tensor, den: Tensor) -> Tensor:
    """num / den, and 0 where num is 0 (a zero gradient through a zero singular value stays zero)."""
    zero = num == 0
    return where(zero, 0.0, num / where(zero, 1.0, den))


def _batch(shape) -> tuple:
    return tuple(shape[:-2])


# -- inverse, determinants, solve ---------------------------------------------------------------------------
class Inv(Function):
    """A⁻¹; gradient -A⁻ᵀ G A⁻ᵀ."""

    op_name = "linalg.inv"
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return _call("inv", "the input is singular", ctx.backend.inv, a.array)

    @staticmethod
    def backward(ctx, g):
        y = ctx.output.mT
        return -matmul(matmul(y, g), y)


@_linalg
def inv(A: Tensor) -> Tensor:  # noqa: N803 - PyTorch's argument names
    """The inverse of each square matrix; a singular one raises ``LinAlgError`` (on NumPy and Numba)."""
    return Inv.apply(_square("inv", A))


class Det(Function):
    """det(A); gradient g times the cofactor matrix: det(A) A⁻ᵀ, or, where some determinant is exactly 0,
    det(U) det(Vh) U diag(∏_{j≠i} σ_j) Vh from an SVD (PyTorch's choice: defined at singular matrices too)."""

    op_name = "linalg.det"
    save_output = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.backend.det(a.array)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        d = ctx.output
        if bool((d == 0).any()):  # (one host read, to pick the formula)
            return g.unsqueeze(-1).unsqueeze(-1) * _cofactors(a)
        return (g * d).unsqueeze(-1).unsqueeze(-1) * _inv_for_gradient("det", a).mT


def _cofactors(a: Tensor) -> Tensor:
    from .reduction import prod

    u, s, vh = svd(a, full_matrices=False)
    be = a._backend
    sign = Tensor(be.multiply(be.slogdet(u.array)[0], be.slogdet(vh.array)[0]), be)  # ±1, no gradient
    others = prod(where(_eye(s.shape[-1], s).astype("bool"), 1.0, s.unsqueeze(-2)), -1)  # ∏_{j≠i} σ_j
    return matmul(u * others.unsqueeze(-2), vh) * sign.unsqueeze(-1).unsqueeze(-1)


def _inv_for_gradient(name: str, a: Tensor) -> Tensor:
    try:
        return inv(a)
    except LinAlgError as exc:
        raise LinAlgError(f"linalg.{name}: its gradient at a singular matrix is not supported (PyTorch's "
                          f"is, through an SVD): {exc}") from exc


@_linalg
def det(A: Tensor) -> Tensor:  # noqa: N803
    """The determinant of each square matrix."""
    return Det.apply(_square("det", A))


class LogAbsDet(Function):
    """log|det(A)|; gradient g A⁻ᵀ."""

    op_name = "linalg.slogdet"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.backend.slogdet(a.array)[1]

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g.unsqueeze(-1).unsqueeze(-1) * _inv_for_gradient("slogdet", a).mT


@_linalg
def slogdet(A: Tensor) -> return_types.slogdet:  # noqa: N803
    """(sign, log|det|) of each square matrix, a named tuple; ``sign`` has no gradient (0 for a singular
    matrix, whose ``logabsdet`` is -inf)."""
    _square("slogdet", A)
    sign = Tensor(A._backend.slogdet(A.array)[0], A._backend)
    return return_types.slogdet(sign, LogAbsDet.apply(A))


@public(spec=False)
def logdet(input: Tensor) -> Tensor:  # noqa: A002
    """log det(A) (PyTorch's ``logdet``): NaN where the determinant is negative, -inf where it is 0."""
    sign, logabsdet = slogdet(input)
    return where(sign < 0, math.nan, logabsdet)


class Solve(Function):
    """X = A⁻¹ B for B (..., n, k) of A's batch shape; gradients gB = A⁻ᵀ G, gA = -gB Xᵀ."""

    op_name = "linalg.solve"
    save_output = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a)
        return _call("solve", "the matrix A is singular", ctx.backend.solve, a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        gb = Solve.apply(a.mT, g)
        ga = -matmul(gb, ctx.output.mT) if ctx.needs_input_grad[0] else None
        return ga, gb


@_linalg
def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803
    """X with A X = B (``left=False``: X A = B). B is (..., n, k), or a vector (n,) / a batch of vectors
    (..., n) of A's batch shape, as PyTorch; batch dimensions broadcast."""
    _square("solve", A)
    _floating("solve", B)
    if A.dtype != B.dtype:
        raise TypeError(f"linalg.solve: A and B must have one dtype, got {A.dtype.name} and {B.dtype.name}")
    a, b = A, B  # PyTorch's argument names above
    n = a.shape[-1]
    vector = left and (b.ndim == 1 or (b.ndim == a.ndim - 1 and tuple(b.shape) == tuple(a.shape[:-1])))
    if vector:
        b = b.unsqueeze(-1)
    if b.ndim < 2 or b.shape[-2 if left else -1] != n:
        b_shape = tuple(b.shape if not vector else b.shape[:-1])
        raise ShapeError(f"linalg.solve: A of shape {tuple(a.shape)} and B of shape {b_shape} do not fit "
                         f"({'A X = B' if left else 'X A = B'})")
    if not left:
        return solve(a.mT, b.mT).mT
    try:
        batch = np.broadcast_shapes(_batch(a.shape), _batch(b.shape))
    except ValueError:
        raise ShapeError(f"linalg.solve: batch dimensions of A {tuple(a.shape)} and B {tuple(b.shape)} do not "
                         "broadcast") from None
    if _batch(a.shape) != batch:
        a = broadcast_to(a, (*batch, n, n))
    if _batch(b.shape) != batch:
        b = broadcast_to(b, (*batch, *b.shape[-2:]))
    x = Solve.apply(a, b)
    return x.squeeze(-1) if vector else x


# -- Cholesky -----------------------------------------------------------------------------------------------
class Cholesky(Function):
    """L with A = L Lᵀ from A's lower triangle; PyTorch's gradient L⁻ᵀ Φ(Lᵀ G) L⁻¹, symmetrized (Φ: the lower
    triangle with the diagonal halved)."""

    op_name = "linalg.cholesky"
    save_output = True

    @staticmethod
    def forward(ctx, a):
        return _call("cholesky", "the input is not positive-definite", ctx.backend.cholesky, a.array)

    @staticmethod
    def backward(ctx, g):
        low = ctx.output
        p = matmul(low.mT, g)
        phi = tril(p) - 0.5 * _diag_embed(_diagonal(p))
        linv = inv(low)
        ga = matmul(matmul(linv.mT, phi), linv)
        return 0.5 * (ga + ga.mT)


@_linalg
def cholesky(A: Tensor, upper: bool = False) -> Tensor:  # noqa: N803
    """The Cholesky factor of each symmetric positive-definite matrix: lower L (A = L Lᵀ), or upper U = Lᵀ.
    Only the lower triangle of A is read; a matrix that is not positive-definite raises ``LinAlgError``."""
    low = Cholesky.apply(_square("cholesky", A))
    return low.mT if upper else low


# -- matrix products --------------------------------------------------------------------------------------
@_linalg
def matrix_power(A: Tensor, n: int) -> Tensor:  # noqa: N803
    """A to the integer power n (products by repeated squaring); n < 0 inverts first, n = 0 gives identities."""
    _square("matrix_power", A)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {n!r}")
    n = int(n)
    if n == 0:
        return A * 0 + _eye(A.shape[-1], A)  # as PyTorch: the result depends on A, with zero gradient
    base = inv(A) if n < 0 else A
    n = abs(n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


@_linalg
def multi_dot(tensors: Sequence[Tensor]) -> Tensor:
    """The product of a chain of matrices; the first may be a 1-D row vector and the last a 1-D column vector
    (squeezed from the result), as PyTorch's. Multiplied in the order that costs the fewest scalar
    multiplications, as PyTorch's."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ValueError(f"linalg.multi_dot: expected at least 2 tensors, got {len(tensors)}")
    for i, t in enumerate(tensors):
        _floating("multi_dot", t)
        allowed = (1, 2) if i in (0, len(tensors) - 1) else (2,)
        if t.ndim not in allowed:
            raise ShapeError(f"linalg.multi_dot: tensor {i} must be {' or '.join(f'{d}-D' for d in allowed)}, got "
                             f"shape {tuple(t.shape)}")
    first, last = tensors[0], tensors[-1]
    chain = [first.unsqueeze(0) if first.ndim == 1 else first, *tensors[1:-1],
             last.unsqueeze(-1) if last.ndim == 1 else last]
    for i in range(len(chain) - 1):
        if chain[i].shape[1] != chain[i + 1].shape[0]:
            raise ShapeError(f"linalg.multi_dot: tensors {i} {tuple(tensors[i].shape)} and {i + 1} "
                             f"{tuple(tensors[i + 1].shape)} cannot be multiplied")
    out = _chain_product(chain, _chain_order([t.shape[0] for t in chain] + [chain[-1].shape[1]]), 0, len(chain) - 1)
    if first.ndim == 1:
        out = out.squeeze(0)
    if last.ndim == 1:
        out = out.squeeze(-1)
    return out


def _chain_order(dims: list[int]) -> list[list[int]]:
    """The cheapest order for the chain of matrices ``dims[i] x dims[i + 1]`` (the classic dynamic programme,
    ties to the leftmost split, as PyTorch's): ``split[i][j]`` is where the product of matrices i..j splits.
    PyTorch decides three matrices by a formula of its own, whose tie is ``(AB)C``: kept, so that products
    round as PyTorch's do."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    if n == 3:
        a, b, c, d = dims
        split[0][2] = 0 if a * c * (b + d) > b * d * (a + c) else 1
    return split


def _chain_product(chain: list[Tensor], split: list[list[int]], i: int, j: int) -> Tensor:
    if i == j:
        return chain[i]
    k = split[i][j]
    return matmul(_chain_product(chain, split, i, k), _chain_product(chain, split, k + 1, j))


@_linalg
def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot product of vectors along ``dim`` (after broadcasting)."""
    _floating("vecdot", x)
    _floating("vecdot", y)
    try:
        shape = np.broadcast_shapes(tuple(x.shape), tuple(y.shape))
    except ValueError:
        raise ShapeError(f"linalg.vecdot: shapes {tuple(x.shape)} and {tuple(y.shape)} do not broadcast") from None
    if not -len(shape) <= dim < len(shape):
        raise IndexError(f"linalg.vecdot: dim {dim} out of range for the broadcast shape {shape}")
    return _sum(x * y, dim)


@_linalg
def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:  # noqa: A002
    """The cross product of 3-vectors along ``dim`` (after broadcasting)."""
    _floating("cross", input)
    _floating("cross", other)
    try:
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
    except ValueError:
        raise ShapeError(f"linalg.cross: shapes {tuple(input.shape)} and {tuple(other.shape)} do not "
                         "broadcast") from None
    if input.ndim != other.ndim:
        raise ShapeError(f"linalg.cross: inputs must have the same number of dimensions, got shapes "
                         f"{tuple(input.shape)} and {tuple(other.shape)}")
    if not -len(shape) <= dim < len(shape):
        raise IndexError(f"linalg.cross: dim {dim} out of range for the broadcast shape {shape}")
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise ShapeError(f"linalg.cross: inputs must have size 3 along dim {dim}, got shapes "
                         f"{tuple(input.shape)} and {tuple(other.shape)}")
    a, b = _expand_or_self(input, shape), _expand_or_self(other, shape)
    axis = dim % len(shape)

    def part(t, i):
        return getitem(t, (slice(None),) * axis + (slice(i, i + 1),))

    a0, a1, a2 = (part(a, i) for i in range(3))
    b0, b1, b2 = (part(b, i) for i in range(3))
    return concatenate([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis)


# -- eigh -----------------------------------------------------------------------------------------------------
class Eigh(Function):
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices, packed (..., n + 1, n): row 0 the values,
    rows 1.. the vectors. PyTorch's gradient U (diag(gL) + (Uᵀ gU) / E) Uᵀ, E_ij = λ_j - λ_i off the diagonal,
    symmetrized: defined for distinct eigenvalues (or where the vectors' gradient is zero)."""

    op_name = "linalg.eigh"
    save_output = True

    @staticmethod
    def forward(ctx, a, uplo):
        be = ctx.backend
        w, v = be.eigh(a.array, uplo)
        return be.concatenate([be.reshape(w, (*w.shape[:-1], 1, w.shape[-1])), v], -2)

    @staticmethod
    def backward(ctx, g):
        packed = ctx.output
        lam, u = packed[..., 0, :], packed[..., 1:, :]
        g_lam, g_u = g[..., 0, :], g[..., 1:, :]
        inner = _off_diagonal_quotient(matmul(u.mT, g_u), lam.unsqueeze(-2) - lam.unsqueeze(-1))
        ga = matmul(matmul(u, inner + _diag_embed(g_lam)), u.mT)
        return 0.5 * (ga + ga.mT), None


def _uplo(name: str, UPLO) -> str:  # noqa: N803
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.{name}: UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO


@_linalg
def eigh(A: Tensor, UPLO: str = "L") -> return_types.linalg_eigh:  # noqa: N803
    """(eigenvalues ascending, eigenvectors as columns) of each symmetric matrix, read from its ``UPLO``
    triangle. Eigenvectors are unique only up to sign: compare functions invariant to it (U diag(f(λ)) Uᵀ)."""
    packed = Eigh.apply(_square("eigh", A), _uplo("eigh", UPLO))
    return return_types.linalg_eigh(packed[..., 0, :], packed[..., 1:, :])


class Eigvalsh(Function):
    """The eigenvalues alone; gradient U diag(g) Uᵀ, the eigenvectors recomputed by ``eigh`` in backward (so
    second-order gradients go through eigh's)."""

    op_name = "linalg.eigvalsh"

    @staticmethod
    def forward(ctx, a, uplo):
        ctx.save_for_backward(a)
        ctx.uplo = uplo
        return ctx.backend.eigh(a.array, uplo)[0]

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        u = eigh(a, ctx.uplo).eigenvectors
        return matmul(u * g.unsqueeze(-2), u.mT), None


@_linalg
def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803
    """The eigenvalues (ascending) of each symmetric matrix."""
    return Eigvalsh.apply(_square("eigvalsh", A), _uplo("eigvalsh", UPLO))


# -- SVD ------------------------------------------------------------------------------------------------------
def _svd_shapes(shape, full_matrices: bool):
    m, n = shape[-2:]
    k = min(m, n)
    return m, n, k, (m if full_matrices else k), (n if full_matrices else k)


class Svd(Function):
    """U, S, Vh packed flat along the last axis: U (m·ku), S (k), Vh (kv·n). PyTorch's gradient: defined for
    distinct non-zero singular values; with full_matrices and m != n, the gradients of U[..., k:] and
    Vh[..., k:, :] are ignored (PyTorch's documented rule)."""

    op_name = "linalg.svd"
    save_output = True

    @staticmethod
    def forward(ctx, a, full_matrices):
        be = ctx.backend
        ctx.full = full_matrices
        u, s, vh = be.svd(a.array, full_matrices)
        batch = _batch(a.shape)
        return be.concatenate([be.reshape(u, (*batch, -1)), s, be.reshape(vh, (*batch, -1))], -1)

    @staticmethod
    def backward(ctx, g):
        shape = ctx.input_meta[0][0]
        u, s, vh = _svd_unpack(ctx.output, shape, ctx.full)
        gu, gs, gvh = _svd_unpack(g, shape, ctx.full)
        m, n, k, ku, kv = _svd_shapes(shape, ctx.full)
        if ku != k or kv != k:  # the extra vectors are not unique: their gradients are ignored, as PyTorch's
            u, gu, vh, gvh = u[..., :k], gu[..., :k], vh[..., :k, :], gvh[..., :k, :]
        v, gv = vh.mT, gvh.mT
        uhgu, vhgv = matmul(u.mT, gu), matmul(v.mT, gv)
        skew_u, skew_v = uhgu - uhgu.mT, vhgv - vhgv.mT
        s2 = s * s
        core = _off_diagonal_quotient(skew_u * s.unsqueeze(-2) + s.unsqueeze(-1) * skew_v,
                                      s2.unsqueeze(-2) - s2.unsqueeze(-1)) + _diag_embed(gs)
        if m > n:
            gu_s = _safe_divide(gu, s.unsqueeze(-2))
            ga = matmul(matmul(u, core) + gu_s - matmul(u, matmul(u.mT, gu_s)), vh)
        elif m < n:
            gv_s = _safe_divide(gv, s.unsqueeze(-2)).mT
            ga = matmul(u, matmul(core, vh) + gv_s - matmul(matmul(gv_s, v), vh))
        else:
            ga = matmul(matmul(u, core), vh)
        return ga, None


def _svd_unpack(packed: Tensor, shape, full_matrices: bool):
    m, n, k, ku, kv = _svd_shapes(shape, full_matrices)
    batch = _batch(shape)
    u = reshape(packed[..., : m * ku], (*batch, m, ku))
    s = packed[..., m * ku: m * ku + k]
    vh = reshape(packed[..., m * ku + k:], (*batch, kv, n))
    return u, s, vh


@_linalg
def svd(A: Tensor, full_matrices: bool = True) -> return_types.linalg_svd:  # noqa: N803
    """(U, S, Vh) with A = U diag(S) Vh, S descending. Singular vectors are unique only up to a sign per
    pair: compare invariant quantities (U diag(S) Vh, |U|)."""
    _matrix("svd", A)
    full = bool(full_matrices)
    return return_types.linalg_svd(*_svd_unpack(Svd.apply(A, full), A.shape, full))


class Svdvals(Function):
    """The singular values alone; gradient U diag(g) Vh from an SVD recomputed in backward (so second-order
    gradients go through svd's)."""

    op_name = "linalg.svdvals"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.backend.svd(a.array, False)[1]

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        u, _, vh = svd(a, full_matrices=False)
        return matmul(u * g.unsqueeze(-2), vh)


@_linalg
def svdvals(A: Tensor) -> Tensor:  # noqa: N803
    """The singular values of each matrix, descending."""
    return Svdvals.apply(_matrix("svdvals", A))


# -- QR -------------------------------------------------------------------------------------------------------
def _qr_shapes(shape, mode: str):
    m, n = shape[-2:]
    k = min(m, n)
    kq = m if mode == "complete" else k
    return m, n, k, kq


class Qr(Function):
    """Q and R packed flat along the last axis. Gradient (Liao et al. 2019, as PyTorch's): for m >= n,
    (gQ + Q copyltu(M)) R⁻ᵀ with M = R gRᵀ - gQᵀ Q; for m < n, that of the square left block, with
    Y = A[:, m:] adding Y gR₂ᵀ to gQ and giving gY = Q gR₂. Needs R of full rank."""

    op_name = "linalg.qr"
    save_output = True

    @staticmethod
    def forward(ctx, a, mode):
        be = ctx.backend
        ctx.mode = mode
        ctx.save_for_backward(a)
        if mode == "r":
            return be.qr(a.array, "r")
        q, r = be.qr(a.array, mode)
        batch = _batch(a.shape)
        return be.concatenate([be.reshape(q, (*batch, -1)), be.reshape(r, (*batch, -1))], -1)

    @staticmethod
    def backward(ctx, g):
        if ctx.mode == "r":
            raise LinAlgError("linalg.qr: the derivative depends on Q, which is not computed when mode='r'; use "
                              "mode='reduced' to differentiate through qr")
        shape = ctx.input_meta[0][0]
        m, n, k, _ = _qr_shapes(shape, ctx.mode)
        if ctx.mode == "complete" and m > n:
            raise LinAlgError("linalg.qr: not differentiable with mode='complete' and more rows than columns "
                              f"(shape {tuple(shape)}): Q is not unique")
        q, r = _qr_unpack(ctx.output, shape, ctx.mode)
        gq, gr = _qr_unpack(g, shape, ctx.mode)
        if m >= n:
            return _qr_backward_tall(q, r, gq, gr), None
        y = ctx.saved_tensors[0][..., m:]
        gr1, gr2 = gr[..., :m], gr[..., m:]
        gx = _qr_backward_tall(q, r[..., :m], gq + matmul(y, gr2.mT), gr1)
        return concatenate([gx, matmul(q, gr2)], -1), None


def _qr_backward_tall(q, r, gq, gr):
    mm = matmul(r, gr.mT) - matmul(gq.mT, q)
    low = tril(mm, -1)
    b = gq + matmul(q, low + low.mT + _diag_embed(_diagonal(mm)))
    return solve(r, b.mT).mT  # b R⁻ᵀ


def _qr_unpack(packed: Tensor, shape, mode: str):
    m, n, k, kq = _qr_shapes(shape, mode)
    batch = _batch(shape)
    q = reshape(packed[..., : m * kq], (*batch, m, kq))
    r = reshape(packed[..., m * kq:], (*batch, kq, n))
    return q, r


@_linalg
def qr(A: Tensor, mode: str = "reduced") -> return_types.linalg_qr:  # noqa: N803
    """(Q, R) with A = Q R: ``mode`` "reduced" (Q (m, k), R (k, n)), "complete" (Q (m, m), R (m, n)) or "r"
    (R alone, Q an empty tensor; not differentiable, as PyTorch)."""
    _matrix("qr", A)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    if mode == "r":
        from ..creation import empty

        return return_types.linalg_qr(empty(0, dtype=A.dtype, backend=A.backend), Qr.apply(A, "r"))
    return return_types.linalg_qr(*_qr_unpack(Qr.apply(A, mode), A.shape, mode))


# -- pinv -------------------------------------------------------------------------------------------------------
class Pinv(Function):
    """The pseudo-inverse from an SVD (or eigh, ``hermitian``), singular values at or below the cutoff dropped.
    PyTorch's gradient (valid where the rank is locally constant), in tensor ops on A and A⁺."""

    op_name = "linalg.pinv"
    save_output = True

    @staticmethod
    def forward(ctx, a, atol, rtol, hermitian):
        ctx.save_for_backward(a)
        be = ctx.backend
        x = a.array
        if hermitian:
            s, u = be.eigh(x, "L")
            vh = be.transpose(u, (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2))
            mag = be.abs(s)
        else:
            u, s, vh = be.svd(x, False)
            mag = s
        cutoff = be.maximum(be.multiply(be.max(mag, (mag.ndim - 1,), True), rtol), atol) if mag.shape[-1] else mag
        keep = be.greater(mag, cutoff)
        s_inv = be.where(keep, be.divide(1.0, be.where(keep, s, be.ones((), s.dtype))), be.zeros((), s.dtype))
        ndim = x.ndim
        swap = (*range(ndim - 2), ndim - 1, ndim - 2)
        v_scaled = be.multiply(be.transpose(vh, swap), be.reshape(s_inv, (*s_inv.shape[:-1], 1, s_inv.shape[-1])))
        return be.matmul(v_scaled, be.transpose(u, swap))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        p = ctx.output
        m, n = a.shape[-2:]
        gh = g.mT
        if m <= n:
            kk = matmul(gh, p)
            kp = matmul(kk, p.mT)
            ga = (-matmul(p, kk).mT + kp - matmul(matmul(a, p), kp)
                  + matmul(matmul(p.mT, p), gh - matmul(kk, a)))
        else:
            kk = matmul(p, gh)
            pk = matmul(p.mT, kk)
            ga = (-matmul(kk, p).mT + pk - matmul(pk, matmul(p, a))
                  + matmul(gh - matmul(a, kk), matmul(p, p.mT)))
        return ga, None, None, None


@_linalg
def pinv(A: Tensor, *, atol: float | None = None, rtol: float | None = None,  # noqa: N803
         hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse: singular values at most max(atol, rtol · σ_max) count as zero;
    without either, rtol = eps · max(m, n) (PyTorch's default). ``hermitian``: A symmetric, through eigh.
    Tensor tolerances are not supported (numbers only)."""
    _matrix("pinv", A)
    if hermitian and A.shape[-1] != A.shape[-2]:
        raise ShapeError(f"linalg.pinv: hermitian=True needs square matrices, got shape {tuple(A.shape)}")
    for label, value in (("atol", atol), ("rtol", rtol)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TypeError(f"linalg.pinv: {label} must be a number or None, got {type(value).__name__}")
    if rtol is None:
        rtol = float(np.finfo(A.dtype.name).eps) * max(A.shape[-2:]) if atol is None or atol <= 0 else 0.0
    return Pinv.apply(A, float(atol or 0.0), float(rtol), bool(hermitian))


# -- norms ----------------------------------------------------------------------------------------------------
def _dims(name: str, dim, ndim: int) -> tuple:
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"linalg.{name}: dim {d} out of range for a tensor of {ndim} dimensions")
        out.append(d % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"linalg.{name}: dim {dim} names a dimension twice")
    return tuple(out)


def _cast(name: str, x, dtype) -> Tensor:
    _floating(name, x)
    if dtype is not None:
        x = x.to(dtype=dtype)
        _floating(name, x)
    return x


@_linalg
def vector_norm(x: Tensor, ord: float = 2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """The vector ``ord``-norm over ``dim`` (an int, a tuple, or None: all elements): ``ord`` any number,
    inf/-inf (largest/smallest magnitude; ties share the gradient) or 0 (the count of non-zeros, no gradient).
    ``dtype``: cast the input first."""
    x = _cast("vector_norm", x, dtype)
    if isinstance(ord, (str, bool)) or not isinstance(ord, (int, float)):
        raise TypeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    if dim is not None:
        dim = _dims("vector_norm", dim, x.ndim)
    if dim is None or (x.ndim == 0 and dim == (0,)):
        flat = reshape(x, (-1,))
        out = _torch_norm(flat, ord, None, False)
        return _reshape_or_self(out, (1,) * x.ndim) if keepdim else out
    return _torch_norm(x, ord, dim, keepdim)


_MATRIX_ORDS = ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)


@_linalg
def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,  # noqa: A002, N803
                dtype=None) -> Tensor:
    """The matrix norm over the two dims ``dim``: "fro", "nuc" (sum of singular values), inf/-inf (max/min
    absolute row sum), 1/-1 (max/min absolute column sum), 2/-2 (largest/smallest singular value). Ties in
    inf/1 share the gradient; "nuc"/2/-2 differentiate through ``svdvals`` (second order through svd's, which
    needs distinct singular values)."""
    A = _cast("matrix_norm", A, dtype)  # noqa: N806
    if A.ndim < 2:
        raise ShapeError(f"linalg.matrix_norm: expected a matrix or a batch of them, got shape {tuple(A.shape)}")
    if ord not in _MATRIX_ORDS or isinstance(ord, bool):
        raise ValueError(f"linalg.matrix_norm: ord must be one of 'fro', 'nuc', inf, -inf, 1, -1, 2, -2, got {ord!r}")
    dims = _dims("matrix_norm", dim, A.ndim)
    if len(dims) != 2:
        raise ValueError(f"linalg.matrix_norm: dim must name 2 dimensions, got {dim!r}")
    d0, d1 = dims
    if ord == "fro":
        return _torch_norm(A, 2, dims, keepdim)
    if ord in (math.inf, -math.inf, 1, -1):
        rows, cols = (d0, d1) if ord in (math.inf, -math.inf) else (d1, d0)
        sums = _sum(A.abs(), cols, True)
        out = (amax if ord > 0 else amin)(sums, rows, True)
    else:
        vals = svdvals(_movedim_or_self(A, (d0, d1), (-2, -1)))
        if ord == "nuc":
            out = _sum(vals, -1)
        else:
            out = vals[..., 0] if ord == 2 else vals[..., -1]
        for d in sorted((d0, d1)):
            out = out.unsqueeze(d)
    return out if keepdim else out.squeeze(dims)


@_linalg
def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002, N803
    """PyTorch's ``linalg.norm``: a vector norm when ``dim`` is an int (or one dim), a matrix norm when it is
    two dims; with ``dim=None``, the 2-norm of all elements if ``ord`` is None, else ``A`` must be 1-D (vector
    norm) or 2-D (matrix norm)."""
    _floating("norm", A)
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) == 1:
            if isinstance(ord, str):
                raise ValueError(f"linalg.norm: ord {ord!r} needs two dims (a matrix norm), got dim={dim!r}")
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        raise ValueError(f"linalg.norm: dim must be an int or name 1 or 2 dimensions, got {dim!r}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 1:
        if isinstance(ord, str):
            raise ValueError(f"linalg.norm: ord {ord!r} is a matrix norm; the input is 1-D")
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise ShapeError(f"linalg.norm: with ord={ord!r} and dim=None the input must be 1-D or 2-D, got shape "
                     f"{tuple(A.shape)}")


# -- PyTorch's top-level names (torch.inverse, torch.det, ...) and Tensor methods ------------------------------
for _name, _fn in (("inverse", inv), ("det", det), ("slogdet", slogdet), ("cholesky", cholesky),
                   ("matrix_power", matrix_power)):
    PUBLIC[_name] = _fn
    TOP_LEVEL.add(_name)
    METHODS[_name] = _fn
del _name, _fn
