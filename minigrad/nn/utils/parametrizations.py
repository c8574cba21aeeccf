"""PyTorch's ``torch.nn.utils.parametrizations``: ``weight_norm``, ``spectral_norm`` and ``orthogonal`` as
parametrizations (``nn.utils.parametrize``), with PyTorch's state-dict keys."""

from __future__ import annotations

from ... import creation as _creation
from ... import linalg as _linalg
from ... import ops as _ops
from ...dtypes import finfo
from ...grad_mode import no_grad
from ...tensor import Tensor
from ..functional import normalize
from ..module import Module
from .parametrize import register_parametrization
from .spectral_norm import _check_iterations, _default_dim, _power_iteration, _weight_matrix
from .weight_norm import _weight_norm, norm_except_dim

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    """``original0 = g`` and ``original1 = v`` give ``g * v / ||v||``, the norm over every dimension but ``dim``."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Re-express ``module.<name>`` as ``g * v / ||v||`` (``parametrizations.<name>.original0`` is ``g``,
    ``original1`` is ``v``), the norm over every dimension but ``dim`` (all of them for ``None``). Returns the
    module."""
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


def _tensor_named(module: Module, name: str) -> Tensor:
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    return weight


class _SpectralNorm(Module):
    """``W / sigma``, ``sigma = u . (W v)`` with the buffers ``_u`` and ``_v`` the singular vectors' estimates, moved
    by ``n_power_iterations`` steps of the power method at each call in training mode (a 1-D weight: ``W / ||W||``)."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        _check_iterations(n_power_iterations)
        self.dim = dim % ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with no_grad():
                weight_mat = _weight_matrix(weight, self.dim)
                h, w = weight_mat.shape
                self.register_buffer("_u", normalize(weight_mat.new_empty(h).normal_(0, 1), dim=0, eps=eps))
                self.register_buffer("_v", normalize(weight_mat.new_empty(w).normal_(0, 1), dim=0, eps=eps))
            _power_iteration(weight_mat, self._u, self._v, 15, eps)  # start near the singular vectors

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        weight_mat = _weight_matrix(weight, self.dim)
        if self.training:
            _power_iteration(weight_mat, self._u, self._v, self.n_power_iterations, self.eps)
        # The graph keeps copies: the buffers change in place at the next call (a GAN's two discriminator calls
        # before one backward)
        u, v = self._u.clone(), self._v.clone()
        return weight / _ops.vdot(u, _ops.mv(weight_mat, v))

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Re-express ``module.<name>`` as ``W / sigma(W)``, ``sigma`` its largest singular value estimated by the power
    method (``parametrizations.<name>.0._u`` and ``._v``; ``n_power_iterations`` steps per access in training mode,
    15 at registration); ``dim`` (default 0, 1 for transposed convolutions) is the output dimension. Returns the
    module."""
    weight = _tensor_named(module, name)
    register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, _default_dim(module, dim), eps))
    return module


def _make_orthogonal(a: Tensor) -> Tensor:
    """Q of the QR factorisation of the tall ``a``, its columns' signs chosen so that R's diagonal is positive."""
    x, tau = _ops.geqrf(a)
    return _linalg.householder_product(x, tau) * x.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


def _is_orthogonal(q: Tensor) -> bool:
    n, k = q.shape[-2:]
    identity = _creation.eye(k, dtype=q.dtype, backend=q.backend)
    return bool(_ops.allclose(q.mT @ q, identity, atol=10.0 * n * finfo(q.dtype).eps))


class _Orthogonal(Module):
    """A matrix (or a batch) with orthonormal columns (rows, if wide): the exponential or the Cayley transform of
    a skew-symmetric matrix made from the lower triangle, or a product of Householder reflectors. With the
    trivialization, the result is multiplied by the buffer ``base``, which assignment sets."""

    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool = True) -> None:
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2:]
        transposed = n < k
        if transposed:
            x = x.mT
            n, k = k, n
        if self.orthogonal_map == "householder":
            a = x.tril(diagonal=-1)
            q = _linalg.householder_product(a, 2.0 / (1.0 + (a * a).sum(dim=-2)))
            # x's diagonal, unused by the reflectors, holds each column's sign (+-1, from right_inverse)
            q = q * x.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        else:
            x = x.tril()
            if n != k:
                x = _ops.concatenate([x, x.new_zeros(*x.shape[:-1], n - k)], dim=-1)
            a = x - x.mT  # skew-symmetric
            if self.orthogonal_map == "matrix_exp":
                q = _ops.matrix_exp(a)
            else:
                identity = _creation.eye(n, dtype=a.dtype, backend=a.backend)
                q = _linalg.solve(identity - 0.5 * a, identity + 0.5 * a)
            q = q[..., :k]
        if "base" in self._buffers:
            q = self.base @ q
        return q.mT if transposed else q

    def right_inverse(self, q: Tensor) -> Tensor:
        if tuple(q.shape) != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape "
                             f"{tuple(q.shape)}.")
        with no_grad():
            return self._right_inverse(q)

    def _right_inverse(self, q_init: Tensor) -> Tensor:
        q = q_init
        n, k = q.shape[-2:]
        transposed = n < k
        if transposed:
            q = q.mT
            n, k = k, n
        if "base" not in self._buffers:
            if self.orthogonal_map != "householder":
                raise NotImplementedError("It is not possible to assign to the matrix exponential or the Cayley "
                                          "parametrizations when use_trivialization=False.")
            a, tau = _ops.geqrf(q)
            # forward multiplies by the diagonal's signs: those of R, flipped where a reflector is the identity
            signs = a.diagonal(dim1=-2, dim2=-1).sign()
            a = _ops.diagonal_scatter(a, _ops.where(tau == 0.0, -signs, signs), 0, -2, -1)
            return a.mT if transposed else a
        if n == k:
            q = q.clone() if _is_orthogonal(q) else _make_orthogonal(q)
        else:  # completed to a square orthogonal matrix by random columns
            noise = _creation.randn(*q.shape[:-2], n, n - k, dtype=q.dtype, backend=q.backend)
            q = _make_orthogonal(_ops.concatenate([q, noise], dim=-1))
        self.base = q
        # forward(-I) is the identity, so the weight is base[..., :k] (transposed back if wide)
        return _creation.zeros_like(q_init) - _creation.eye(*q_init.shape[-2:], dtype=q.dtype, backend=q.backend)


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Make ``module.<name>`` orthogonal (orthonormal columns, or rows if wide; a batch over the leading
    dimensions). ``orthogonal_map``: ``"matrix_exp"`` (the default for square matrices), ``"cayley"`` or
    ``"householder"`` (the default otherwise). With ``use_trivialization``, ``parametrizations.<name>.0.base`` holds
    the weight's orthogonalised start. Returns the module."""
    weight = _tensor_named(module, name)
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in ("matrix_exp", "cayley", "householder"):
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    register_parametrization(module, name, orth, unsafe=True)
    return module
