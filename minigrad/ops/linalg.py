"""Matrix products."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..function import Function
from ..tensor import Tensor
from ._common import as_operand, binary_operands, keepdims_shape, normalize_axis
from ._registry import public
from .arithmetic import Where, where
from .movement import _reshape_or_self
from .reduction import amax, amin, sum


class MatMul(Function):
    """op(a) @ op(b), where op transposes the last two axes when asked; batch dimensions broadcast.

    The transpose flags keep backward to two products without separate transpose ops, and the gradient
    of a flagged product is again a flagged product, so every order of derivative stays in this op.
    """

    op_name = "matmul"

    @staticmethod
    def forward(ctx, a, b, transpose_a=False, transpose_b=False):
        if ctx.recording:  # (not a call per product in first-order backward, which records nothing)
            need_a, need_b, _, _ = ctx.needs_input_grad
            ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.ta, ctx.tb = transpose_a, transpose_b
        be = ctx.backend
        x, y = a.array, b.array
        if transpose_a:
            x = be.transpose(x, _SWAP_2D if x.ndim == 2 else _swap_last(x.ndim))
        if transpose_b:
            y = be.transpose(y, _SWAP_2D if y.ndim == 2 else _swap_last(y.ndim))
        return be.matmul(x, y)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b, _, _ = ctx.needs_input_grad
        ta, tb = ctx.ta, ctx.tb
        ga = gb = None
        if need_a:  # C = op(A) op(B)  =>  dop(A) = G op(B)^T
            ga = MatMul.apply(g, b, False, not tb) if not ta else MatMul.apply(b, g, tb, True)
        if need_b:  # dop(B) = op(A)^T G
            gb = MatMul.apply(a, g, not ta, False) if not tb else MatMul.apply(g, a, True, ta)
        return ga, gb, None, None  # the engine sums broadcast batch dimensions back


_SWAP_2D = (1, 0)


def _swap_last(ndim: int) -> tuple:
    """The axes that swap the last two dimensions."""
    return tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)


@public
def matmul(input, other) -> Tensor:  # noqa: A002 - PyTorch's names
    """Matrix product with NumPy's semantics, 1-D operands and broadcast batches included."""
    a, b = input, other
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        sa, sb = a.array.shape, b.array.shape
        if len(sa) == 2 and len(sb) == 2 and sa[1] == sb[0] and a.array.dtype is b.array.dtype:
            return MatMul.apply(a, b, False, False)  # the common case, already valid
    a = as_operand(a, b if isinstance(b, Tensor) else None)
    b = as_operand(b, a)
    a, b = binary_operands(a, b)  # the promotion rule of every op: int64 @ float32 is float32
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k_a != k_b:
        raise ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: {k_a} (last dim of the first) != "
            f"{k_b} ({'second-to-last' if b.ndim > 1 else 'only'} dim of the second)"
        )
    if a.ndim == 1 and b.ndim == 1:
        return MatMul.apply(a.unsqueeze(0), b.unsqueeze(-1), False, False).reshape(())
    if a.ndim == 1:
        return matmul(a.unsqueeze(0), b).squeeze(-2)
    if b.ndim == 1:
        return matmul(a, b.unsqueeze(-1)).squeeze(-1)
    if a.ndim > 2 or b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ShapeError(f"matmul: batch dimensions of {a.shape} and {b.shape} do not broadcast") from None
    return MatMul.apply(a, b, False, False)


@public(spec=False)
def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """The product of two matrices (2-D only, as PyTorch's ``mm``; ``matmul`` broadcasts)."""
    if not (isinstance(input, Tensor) and isinstance(mat2, Tensor)) or input.ndim != 2 or mat2.ndim != 2:
        raise ShapeError(f"mm: expected two 2-D tensors, got {_described(input)} and {_described(mat2)}")
    return matmul(input, mat2)


@public(spec=False)
def bmm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """Batched matrix products of (B, N, M) and (B, M, P) tensors (3-D only and one batch size, as PyTorch's
    ``bmm``; ``matmul`` broadcasts)."""
    if (not (isinstance(input, Tensor) and isinstance(mat2, Tensor)) or input.ndim != 3 or mat2.ndim != 3
            or input.shape[0] != mat2.shape[0]):
        raise ShapeError(f"bmm: expected two 3-D tensors with one batch size, got {_described(input)} and "
                         f"{_described(mat2)}")
    return matmul(input, mat2)


@public(spec=False)
def dot(input: Tensor, tensor: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """The inner product of two 1-D tensors of one length (a 0-d tensor), as PyTorch's ``dot``."""
    if (not (isinstance(input, Tensor) and isinstance(tensor, Tensor)) or input.ndim != 1 or tensor.ndim != 1
            or input.shape != tensor.shape):
        raise ShapeError(f"dot: expected two 1-D tensors of one length, got {_described(input)} and "
                         f"{_described(tensor)}")
    return matmul(input, tensor)


@public(spec=False)
def mv(input: Tensor, vec: Tensor) -> Tensor:  # noqa: A002 - PyTorch's names
    """The product of a (N, M) matrix and a vector of length M, as PyTorch's ``mv``."""
    if not (isinstance(input, Tensor) and isinstance(vec, Tensor)) or input.ndim != 2 or vec.ndim != 1:
        raise ShapeError(f"mv: expected a 2-D and a 1-D tensor, got {_described(input)} and {_described(vec)}")
    return matmul(input, vec)


def _described(x) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__


class EuclideanNorm(Function):
    """sqrt(sum(x²)) over ``axes``; the gradient x / norm is 0 where the norm is 0 (as PyTorch)."""

    save_output = True

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.save_for_backward(x)
        ctx.axes, ctx.keepdims = axes, keepdims
        be = ctx.backend
        return be.sqrt(be.sum(be.multiply(x.array, x.array), axes, keepdims))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        out = ctx.output
        if not ctx.keepdims:
            shape = keepdims_shape(x.shape, ctx.axes)
            g, out = _reshape_or_self(g, shape), _reshape_or_self(out, shape)
        zero = out == 0
        return where(zero, 0.0, g / where(zero, 1.0, out)) * x, None, None


@public
def norm(x: Tensor, p="fro", dim=None, keepdim: bool = False) -> Tensor:
    """PyTorch's ``norm``: the vector norm of the elements (all, or along ``dim``: an int or a tuple).

    ``p``: 2 or ``"fro"`` (Euclidean), 1, ``inf``/``-inf`` (largest/smallest magnitude; ties share the gradient
    evenly), or any other number (``sum(|x|**p) ** (1/p)``); ``"nuc"``: the nuclear norm of the matrices over
    two dims (the last two without ``dim``; ``linalg.matrix_norm``). Differentiable to any order; the gradient
    of the 2-norm at 0 is 0.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"norm: expected a tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"norm: needs a floating-point tensor, got {x.dtype.name}; use .float() first")
    if p == "nuc":  # the matrix norm (sum of singular values), over two dims
        from .matrix import matrix_norm

        if dim is None and x.ndim != 2:
            raise ShapeError(f"norm: p='nuc' without dim needs a 2-D tensor, got shape {x.shape}")
        return matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim)
    axes = normalize_axis(dim, x.ndim, "norm") if dim is not None and x.ndim else None
    if p == "fro" or p == 2:
        return EuclideanNorm.apply(x, axes, bool(keepdim))
    if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, (int, float)):
        raise ValueError(f"norm: p must be a number, inf, -inf or 'fro', 'fro' or 'nuc', got {p!r}")
    magnitude = x.abs()
    if p == math.inf:
        return amax(magnitude, axes, keepdim)
    if p == -math.inf:
        return amin(magnitude, axes, keepdim)
    if p == 1:
        return sum(magnitude, axes, keepdim)
    if p == 0:  # a count: still in the graph (PyTorch's result has a grad_fn), with a zero gradient
        count = sum((x != 0).astype(x.dtype), axes, keepdim)
        if not x.requires_grad:
            return count
        return count + sum(where(Tensor(x._backend.full((), False, np.dtype(bool)), x._backend), x, 0.0), axes,
                           keepdim)
    return sum(magnitude ** p, axes, keepdim) ** (1.0 / p)


# -- beta * input + alpha * product (PyTorch's addmm family) ---------------------------------------------------
def _add_scaled(name: str, input: Tensor, product: Tensor, beta, alpha) -> Tensor:  # noqa: A002
    """beta * input + alpha * product, ``input`` broadcast to the product's shape. With beta = 0, ``input`` is
    ignored (NaN and inf in it do not propagate) and gets a zero gradient, as in PyTorch."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a tensor, got {type(input).__name__}")
    try:
        fits = np.broadcast_shapes(input.shape, product.shape) == product.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"{name}: input of shape {input.shape} does not broadcast to the product's shape "
                         f"{product.shape}")
    input, product = binary_operands(input, product)
    if product.dtype.kind != "f" and any(isinstance(v, float) for v in (beta, alpha)):
        raise TypeError(f"{name}: for integer tensors beta and alpha must be integers, got beta={beta!r}, "
                        f"alpha={alpha!r}")
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        from ..tensor import tensor

        return Where.apply(tensor(True, backend=product.backend), product, input)
    return product + (input if beta == 1 else input * beta)


def _check_matrices(name: str, shapes: str, *operands) -> None:
    """Each operand a tensor of the expected rank (``shapes``: "2,2", "2,1", "3,3"), inner sizes matching."""
    ranks = [int(r) for r in shapes.split(",")]
    ok = all(isinstance(t, Tensor) and t.ndim == r for t, r in zip(operands, ranks))
    if ok:
        a, b = operands
        ok = a.shape[-1] == b.shape[-2 if b.ndim > 1 else 0] and (a.ndim < 3 or a.shape[0] == b.shape[0])
    if not ok:
        what = {"2,2": "two matrices (n, m) and (m, p)", "2,1": "a matrix (n, m) and a vector (m,)",
                "3,3": "two batches (b, n, m) and (b, m, p)"}[shapes]
        raise ShapeError(f"{name}: expected {what}, got {' and '.join(_described(t) for t in operands)}")


@public(spec=False)
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta * input + alpha * (mat1 @ mat2), ``input`` broadcast to (n, p)."""
    _check_matrices("addmm", "2,2", mat1, mat2)
    return _add_scaled("addmm", input, matmul(mat1, mat2), beta, alpha)


@public(spec=False)
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta * input + alpha * (mat @ vec), ``input`` broadcast to (n,)."""
    _check_matrices("addmv", "2,1", mat, vec)
    return _add_scaled("addmv", input, matmul(mat, vec), beta, alpha)


@public(spec=False)
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta * input + alpha * (batch1 @ batch2) per batch, ``input`` broadcast to (b, n, p)."""
    _check_matrices("baddbmm", "3,3", batch1, batch2)
    return _add_scaled("baddbmm", input, matmul(batch1, batch2), beta, alpha)


@public(spec=False)
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """beta * input + alpha * (the sum over the batch of batch1[i] @ batch2[i]), ``input`` broadcast to (n, p)."""
    _check_matrices("addbmm", "3,3", batch1, batch2)
    return _add_scaled("addbmm", input, sum(matmul(batch1, batch2), 0), beta, alpha)
