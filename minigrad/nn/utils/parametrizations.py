"""PyTorch's ``torch.nn.utils.parametrizations``: ``weight_norm`` and ``spectral_norm`` as parametrizations
(``nn.utils.parametrize``), with PyTorch's state-dict keys."""

from __future__ import annotations

from ... import ops as _ops
from ...grad_mode import no_grad
from ...tensor import Tensor
from ..functional import normalize
from ..module import Module
from .parametrize import register_parametrization
from .spectral_norm import _check_iterations, _default_dim, _power_iteration, _weight_matrix
from .weight_norm import _weight_norm, norm_except_dim

__all__ = ["spectral_norm", "weight_norm"]


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
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, _default_dim(module, dim), eps))
    return module
