"""Matrix products."""

from __future__ import annotations

from ..errors import ShapeError
from ..function import Function
from ..tensor import Tensor
from ._common import as_operand


class MatMul(Function):
    """a @ b for operands with at least 2 dimensions; batch dimensions broadcast."""

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        return ctx.backend.matmul(a.data, b.data)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g @ b.mT if need_a else None
        gb = a.mT @ g if need_b else None
        return ga, gb  # the engine sums broadcast batch dimensions back


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's semantics, 1-D operands and broadcast batches included."""
    a = as_operand(a, b if isinstance(b, Tensor) else None)
    b = as_operand(b, a)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k_a != k_b:
        raise ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: {k_a} (last dim of the first) != "
            f"{k_b} ({'second-to-last' if b.ndim > 1 else 'only'} dim of the second)"
        )
    if a.ndim == 1:
        return matmul(a.unsqueeze(0), b).squeeze(-2)
    if b.ndim == 1:
        return matmul(a, b.unsqueeze(-1)).squeeze(-1)
    try:
        import numpy as np

        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ShapeError(f"matmul: batch dimensions of {a.shape} and {b.shape} do not broadcast") from None
    return MatMul.apply(a, b)
