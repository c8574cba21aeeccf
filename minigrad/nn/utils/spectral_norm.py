"""PyTorch's ``torch.nn.utils.spectral_norm`` (the hook-based version): a weight divided by its largest singular
value, estimated by the power method, with ``<name>_orig`` the parameter and ``<name>_u``, ``<name>_v`` the
singular-vector estimates (buffers). The power-method helpers serve ``parametrizations.spectral_norm`` too."""

from __future__ import annotations

from ... import ops as _ops
from ...grad_mode import no_grad
from ...tensor import Tensor
from ..functional import normalize
from ..module import Parameter
from ..spatial import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .weight_norm import _find_pre_hook, _remove_pre_hook

__all__ = ["SpectralNorm", "remove_spectral_norm", "spectral_norm"]


def _default_dim(module, dim: int | None) -> int:
    """PyTorch's default output dimension: 1 for transposed convolutions (weight (in, out, ...)), else 0."""
    if dim is not None:
        return dim
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0


def _check_iterations(n_power_iterations: int) -> None:
    if n_power_iterations <= 0:
        raise ValueError(f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}")


def _weight_matrix(weight: Tensor, dim: int) -> Tensor:
    """The weight as a matrix with dimension ``dim`` as its rows."""
    if dim != 0:
        weight = weight.permute(dim, *(d for d in range(weight.ndim) if d != dim))
    return weight.reshape(weight.shape[0], -1)


def _power_iteration(matrix: Tensor, u: Tensor, v: Tensor, n: int, eps: float) -> None:
    """``n`` steps of the power method, in place, outside autograd: ``u = normalize(matrix v)``, then
    ``v = normalize(matrix^T u)``. In place, as PyTorch, so that every view of the buffers sees the update."""
    with no_grad():
        for _ in range(n):
            u.copy_(normalize(_ops.mv(matrix, v), dim=0, eps=eps))
            v.copy_(normalize(_ops.mv(matrix.T, u), dim=0, eps=eps))


class SpectralNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_orig``, ``<name>_u`` and ``<name>_v``
    (a power-method step first, in training mode)."""

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        _check_iterations(n_power_iterations)
        self.name = name
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        return _weight_matrix(weight, self.dim)

    def compute_weight(self, module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            # PyTorch updates v first, then u: the power method on the transpose, with the roles swapped
            _power_iteration(weight_mat.T, v, u, self.n_power_iterations, self.eps)
            u, v = u.clone(), v.clone()  # the graph keeps these, not the buffers that the next call changes
        return weight / _ops.dot(u, _ops.mv(weight_mat, v))

    def remove(self, module) -> None:
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name: str, n_power_iterations: int, dim: int, eps: float) -> SpectralNorm:
        if _find_pre_hook(module, SpectralNorm, name) is not None:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        with no_grad():
            h, w = fn.reshape_weight_to_matrix(weight).shape
            u = normalize(weight.new_empty(h).normal_(0, 1), dim=0, eps=fn.eps)
            v = normalize(weight.new_empty(w).normal_(0, 1), dim=0, eps=fn.eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.data)  # a plain attribute until the first forward, as in PyTorch
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None):
    """Re-express ``module.<name>`` as ``W / sigma(W)``, ``sigma`` estimated by ``n_power_iterations`` steps of
    the power method before each forward in training mode; ``dim`` (default 0, 1 for transposed convolutions) is
    the output dimension. Returns the module."""
    SpectralNorm.apply(module, name, n_power_iterations, _default_dim(module, dim), eps)
    return module


def remove_spectral_norm(module, name: str = "weight"):
    """Put ``module.<name>`` back as one parameter (its current value, without a power-method step); returns the
    module."""
    return _remove_pre_hook(module, SpectralNorm, name, "spectral_norm")
