"""``minigrad.linalg``: PyTorch's ``torch.linalg`` (norms, inv, det, slogdet, solve, cholesky, qr, eigh, svd,
pinv, ...), each differentiable to any order on every backend. The ops live in ``minigrad.ops.matrix``."""

from __future__ import annotations

from .errors import LinAlgError
from .ops.matrix import LINALG

OPS: dict = dict(LINALG)  # the differentiable functions, each with a spec in tests/op_specs.py

globals().update(OPS)

__all__ = ["LinAlgError", *sorted(OPS)]
