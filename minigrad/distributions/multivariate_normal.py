"""``MultivariateNormal``: N(loc, Σ) from the covariance, the precision or the Cholesky factor of Σ."""

from __future__ import annotations

import math

import numpy as np

from .. import creation as _creation
from .. import linalg as _linalg
from ..ops import flip
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import _diagonal, _standard_normal, lazy_property

__all__ = ["MultivariateNormal"]


def _eye_like(matrix: Tensor) -> Tensor:
    return _creation.eye(matrix.shape[-1], dtype=matrix.dtype, backend=matrix.backend)


def _tril_solve(L: Tensor, B: Tensor) -> Tensor:  # noqa: N803 - matrix names
    """L⁻¹ B for lower-triangular L (broadcast batches), as ``torch.linalg.solve_triangular(L, B, upper=False)``:
    only L's lower triangle is read (so entries above the diagonal get no gradient, as in PyTorch)."""
    batch = np.broadcast_shapes(tuple(L.shape[:-2]), tuple(B.shape[:-2]))
    return _linalg.solve(L.tril().expand(*batch, *L.shape[-2:]), B.expand(*batch, *B.shape[-2:]))


def _batch_mv(bmat: Tensor, bvec: Tensor) -> Tensor:
    return (bmat @ bvec.unsqueeze(-1)).squeeze(-1)


def _batch_mahalanobis(bL: Tensor, bx: Tensor) -> Tensor:  # noqa: N803
    """xᵀ (L Lᵀ)⁻¹ x = |L⁻¹ x|², batched and broadcast."""
    return _tril_solve(bL, bx.unsqueeze(-1)).pow(2).sum((-2, -1))


def _precision_to_scale_tril(P: Tensor) -> Tensor:  # noqa: N803
    """The Cholesky factor of P⁻¹ without inverting P (PyTorch's formula)."""
    Lf = _linalg.cholesky(flip(P, (-2, -1)))  # noqa: N806
    L_inv = flip(Lf, (-2, -1)).mT  # noqa: N806
    return _tril_solve(L_inv, _eye_like(P)).tril()


class MultivariateNormal(Distribution):
    """The multivariate normal with mean ``loc`` and exactly one of ``covariance_matrix``, ``precision_matrix``
    or ``scale_tril`` (lower-triangular with positive diagonal, Σ = L Lᵀ)."""

    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite, "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, covariance_matrix: Tensor | None = None, precision_matrix: Tensor | None = None,
                 scale_tril: Tensor | None = None, validate_args: bool | None = None) -> None:
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        matrix, name = next((m, n) for m, n in ((scale_tril, "scale_tril"), (covariance_matrix, "covariance_matrix"),
                                                (precision_matrix, "precision_matrix")) if m is not None)
        if matrix.ndim < 2:
            raise ValueError(f"{name} matrix must be at least two-dimensional, with optional leading batch dimensions")
        n = loc.shape[-1]
        if matrix.shape[-2:] != (n, n):
            raise ValueError(f"MultivariateNormal: {name} of shape {tuple(matrix.shape)} does not match loc of shape "
                             f"{tuple(loc.shape)} (expected (..., {n}, {n}))")
        batch_shape = tuple(np.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1])))
        setattr(self, name, matrix.expand(*batch_shape, n, n))
        self.loc = loc.expand(*batch_shape, n)
        super().__init__(batch_shape, loc.shape[-1:], validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = _linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = tuple(batch_shape)
        loc_shape = batch_shape + self._event_shape
        cov_shape = loc_shape + self._event_shape
        new.loc = self.loc.expand(*loc_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(*cov_shape))
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril  # noqa: N806
        return (L @ L.mT).expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @lazy_property
    def precision_matrix(self):
        L_inv = _tril_solve(self._unbroadcasted_scale_tril, _eye_like(self._unbroadcasted_scale_tril)).tril()  # noqa: N806
        return (L_inv.mT @ L_inv).expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(*self._batch_shape, *self._event_shape)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = _standard_normal(shape, self.loc)
        return self.loc + _batch_mv(self._unbroadcasted_scale_tril, eps)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        M = _batch_mahalanobis(self._unbroadcasted_scale_tril, diff)  # noqa: N806
        half_log_det = _diagonal(self._unbroadcasted_scale_tril).log().sum(-1)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + M) - half_log_det

    def entropy(self):
        half_log_det = _diagonal(self._unbroadcasted_scale_tril).log().sum(-1)
        H = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + half_log_det  # noqa: N806
        return H if len(self._batch_shape) == 0 else H.expand(*self._batch_shape)
