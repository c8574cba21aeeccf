"""``MultivariateNormal``: N(loc, Σ) from the covariance, the precision or the Cholesky factor of Σ."""

from __future__ import annotations

import math

import numpy as np

from .. import creation as _creation
from .. import linalg as _linalg
from ..ops import flip
from ..ops.movement import _expand_or_self
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import _diagonal, _standard_normal, lazy_property

__all__ = ["LowRankMultivariateNormal", "MultivariateNormal"]


def _eye_like(matrix: Tensor) -> Tensor:
    return _creation.eye(matrix.shape[-1], dtype=matrix.dtype, backend=matrix.backend)


def _tril_solve(L: Tensor, B: Tensor) -> Tensor:  # noqa: N803 - matrix names
    """L⁻¹ B for lower-triangular L (broadcast batches), as PyTorch's: only L's lower triangle is read (so entries
    above the diagonal get no gradient)."""
    return _linalg.solve_triangular(L, B, upper=False)


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
        setattr(self, name, _expand_or_self(matrix, (*batch_shape, n, n)))
        self.loc = _expand_or_self(loc, (*batch_shape, n))
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
        return _expand_or_self(self._unbroadcasted_scale_tril,
                               (*self._batch_shape, *self._event_shape, *self._event_shape))

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril  # noqa: N806
        return _expand_or_self(L @ L.mT, (*self._batch_shape, *self._event_shape, *self._event_shape))

    @lazy_property
    def precision_matrix(self):
        L_inv = _tril_solve(self._unbroadcasted_scale_tril, _eye_like(self._unbroadcasted_scale_tril)).tril()  # noqa: N806
        return _expand_or_self(L_inv.mT @ L_inv, (*self._batch_shape, *self._event_shape, *self._event_shape))

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return _expand_or_self(self._unbroadcasted_scale_tril.pow(2).sum(-1), self._batch_shape + self._event_shape)

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
        return H if len(self._batch_shape) == 0 else _expand_or_self(H, self._batch_shape)


def _batch_capacitance_tril(W: Tensor, D: Tensor) -> Tensor:  # noqa: N803
    """The Cholesky factor of I + Wᵀ D⁻¹ W (the capacitance matrix), batched."""
    Wt_Dinv = W.mT / D.unsqueeze(-2)  # noqa: N806
    return _linalg.cholesky(Wt_Dinv @ W + _eye_like(Wt_Dinv @ W))


def _batch_lowrank_logdet(W: Tensor, D: Tensor, capacitance_tril: Tensor) -> Tensor:  # noqa: N803
    """log|W Wᵀ + D| = log|C| + log|D| (matrix determinant lemma)."""
    return 2 * _diagonal(capacitance_tril).log().sum(-1) + D.log().sum(-1)


def _batch_lowrank_mahalanobis(W: Tensor, D: Tensor, x: Tensor, capacitance_tril: Tensor) -> Tensor:  # noqa: N803
    """xᵀ (W Wᵀ + D)⁻¹ x by the Woodbury identity, through the capacitance matrix only."""
    Wt_Dinv = W.mT / D.unsqueeze(-2)  # noqa: N806
    return (x.pow(2) / D).sum(-1) - _batch_mahalanobis(capacitance_tril, _batch_mv(Wt_Dinv, x))


class LowRankMultivariateNormal(Distribution):
    """The multivariate normal with covariance ``cov_factor @ cov_factor.mT + diag(cov_diag)``: log_prob and entropy
    cost a rank x rank Cholesky factorisation (Woodbury identity, determinant lemma)."""

    arg_constraints = {"loc": constraints.real_vector, "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, cov_factor: Tensor, cov_diag: Tensor, validate_args: bool | None = None) -> None:
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        event_shape = tuple(loc.shape[-1:])
        if cov_factor.ndim < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional leading batch dimensions")
        if tuple(cov_factor.shape[-2:-1]) != event_shape:
            raise ValueError(f"cov_factor must be a batch of matrices with shape {event_shape[0]} x m")
        if tuple(cov_diag.shape[-1:]) != event_shape:
            raise ValueError(f"cov_diag must be a batch of vectors with shape {event_shape}")
        try:
            shape = tuple(np.broadcast_shapes((*loc.shape, 1), tuple(cov_factor.shape), (*cov_diag.shape, 1)))
        except ValueError:
            raise ValueError(f"Incompatible batch shapes: loc {tuple(loc.shape)}, cov_factor "
                             f"{tuple(cov_factor.shape)}, cov_diag {tuple(cov_diag.shape)}") from None
        self.cov_factor = _expand_or_self(cov_factor, shape)
        self.loc = _expand_or_self(loc, shape[:-1])
        self.cov_diag = _expand_or_self(cov_diag, shape[:-1])
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        self._capacitance_tril = _batch_capacitance_tril(cov_factor, cov_diag)
        super().__init__(shape[:-2], event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LowRankMultivariateNormal, _instance)
        loc_shape = tuple(batch_shape) + self._event_shape
        new.loc = self.loc.expand(*loc_shape)
        new.cov_diag = self.cov_diag.expand(*loc_shape)
        new.cov_factor = self.cov_factor.expand(*loc_shape, self.cov_factor.shape[-1])
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        Distribution.__init__(new, tuple(batch_shape), self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        return _expand_or_self(self._unbroadcasted_cov_factor.pow(2).sum(-1) + self._unbroadcasted_cov_diag,
                               self._batch_shape + self._event_shape)

    def _full_shape(self) -> tuple:
        return (*self._batch_shape, *self._event_shape, *self._event_shape)

    @lazy_property
    def scale_tril(self):
        d_sqrt = self._unbroadcasted_cov_diag.sqrt().unsqueeze(-1)
        Dinvsqrt_W = self._unbroadcasted_cov_factor / d_sqrt  # noqa: N806
        K = Dinvsqrt_W @ Dinvsqrt_W.mT  # noqa: N806
        return _expand_or_self(d_sqrt * _linalg.cholesky(K + _eye_like(K)), self._full_shape())

    @lazy_property
    def covariance_matrix(self):
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag  # noqa: N806
        eye = _creation.eye(D.shape[-1], dtype=D.dtype, backend=D.backend)
        return _expand_or_self(W @ W.mT + D.unsqueeze(-1) * eye, self._full_shape())

    @lazy_property
    def precision_matrix(self):
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag  # noqa: N806
        A = _tril_solve(self._capacitance_tril, W.mT / D.unsqueeze(-2))  # noqa: N806
        eye = _creation.eye(D.shape[-1], dtype=D.dtype, backend=D.backend)
        return _expand_or_self(D.reciprocal().unsqueeze(-1) * eye - A.mT @ A, self._full_shape())

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps_w = _standard_normal((*shape[:-1], self.cov_factor.shape[-1]), self.loc)
        eps_d = _standard_normal(shape, self.loc)
        return self.loc + _batch_mv(self._unbroadcasted_cov_factor, eps_w) + self._unbroadcasted_cov_diag.sqrt() * eps_d

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        W, D, C = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag, self._capacitance_tril  # noqa: N806
        M = _batch_lowrank_mahalanobis(W, D, value - self.loc, C)  # noqa: N806
        log_det = _batch_lowrank_logdet(W, D, C)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + log_det + M)

    def entropy(self):
        log_det = _batch_lowrank_logdet(self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag,
                                        self._capacitance_tril)
        H = 0.5 * (self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + log_det)  # noqa: N806
        return H if len(self._batch_shape) == 0 else _expand_or_self(H, self._batch_shape)
