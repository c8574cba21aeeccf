"""Named tuples returned by ops with several outputs, as PyTorch's ``torch.return_types``.

``values, indices = x.max(1)`` unpacks like a tuple; ``.values`` and ``.indices`` name the fields.
"""

from __future__ import annotations

from typing import NamedTuple

from .tensor import Tensor


class max(NamedTuple):  # noqa: N801 - PyTorch's names (torch.return_types.max, ...)
    values: Tensor
    indices: Tensor


class min(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class sort(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class topk(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class cummax(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class cummin(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class slogdet(NamedTuple):  # noqa: N801
    sign: Tensor
    logabsdet: Tensor


class linalg_eigh(NamedTuple):  # noqa: N801
    eigenvalues: Tensor
    eigenvectors: Tensor


class linalg_svd(NamedTuple):  # noqa: N801
    U: Tensor  # noqa: N815 - PyTorch's field names
    S: Tensor  # noqa: N815
    Vh: Tensor  # noqa: N815


class linalg_qr(NamedTuple):  # noqa: N801
    Q: Tensor  # noqa: N815
    R: Tensor  # noqa: N815


class median(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class nanmedian(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class kthvalue(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class mode(NamedTuple):  # noqa: N801
    values: Tensor
    indices: Tensor


class aminmax(NamedTuple):  # noqa: N801
    min: Tensor
    max: Tensor


# minigrad.linalg's LU, least squares and *_ex results (ops/linalg_extra.py)
class triangular_solve(NamedTuple):  # noqa: N801
    solution: Tensor
    cloned_coefficient: Tensor


class linalg_lstsq(NamedTuple):  # noqa: N801
    solution: Tensor
    residuals: Tensor
    rank: Tensor
    singular_values: Tensor


class linalg_lu_factor(NamedTuple):  # noqa: N801
    LU: Tensor  # noqa: N815
    pivots: Tensor


class linalg_lu_factor_ex(NamedTuple):  # noqa: N801
    LU: Tensor  # noqa: N815
    pivots: Tensor
    info: Tensor


class linalg_lu(NamedTuple):  # noqa: N801
    P: Tensor  # noqa: N815
    L: Tensor  # noqa: N815
    U: Tensor  # noqa: N815


class lu_unpack(NamedTuple):  # noqa: N801
    P: Tensor  # noqa: N815
    L: Tensor  # noqa: N815
    U: Tensor  # noqa: N815


class linalg_cholesky_ex(NamedTuple):  # noqa: N801
    L: Tensor  # noqa: N815
    info: Tensor


class linalg_inv_ex(NamedTuple):  # noqa: N801
    inverse: Tensor
    info: Tensor


class linalg_solve_ex(NamedTuple):  # noqa: N801
    result: Tensor
    info: Tensor


class geqrf(NamedTuple):  # noqa: N801
    a: Tensor
    tau: Tensor


class _lu_with_info(NamedTuple):  # noqa: N801
    LU: Tensor  # noqa: N815
    pivots: Tensor
    info: Tensor


class frexp(NamedTuple):  # noqa: N801
    mantissa: Tensor
    exponent: Tensor


class histogram(NamedTuple):  # noqa: N801
    hist: Tensor
    bin_edges: Tensor


class histogramdd(NamedTuple):  # noqa: N801
    hist: Tensor
    bin_edges: tuple


class svd(NamedTuple):  # noqa: N801 - the deprecated torch.svd's: V, not Vh
    U: Tensor  # noqa: N815
    S: Tensor  # noqa: N815
    V: Tensor  # noqa: N815


class qr(NamedTuple):  # noqa: N801
    Q: Tensor  # noqa: N815
    R: Tensor  # noqa: N815
