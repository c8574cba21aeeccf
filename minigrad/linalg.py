"""``minigrad.linalg``: PyTorch's ``torch.linalg`` (norms, inv, det, slogdet, solve, cholesky, qr, eigh, svd,
pinv, ...), each differentiable to any order on every backend. The ops live in ``minigrad.ops.matrix``."""

from __future__ import annotations

from .errors import LinAlgError
from .ops import linalg_extra  # noqa: F401 - adds solve_triangular, lstsq, lu, ... to LINALG
from .ops.matrix import LINALG

OPS: dict = dict(LINALG)  # the differentiable functions, each with a spec in tests/op_specs.py

globals().update(OPS)
globals().update(linalg_extra.LINALG_EXTRA)  # not differentiable: matrix_rank

__all__ = ["LinAlgError", *sorted(OPS), *sorted(linalg_extra.LINALG_EXTRA)]
