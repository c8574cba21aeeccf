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
