"""PyTorch's ``torch.nn.utils.weight_norm`` (the hook-based version): a weight re-expressed as
``w = g * v / ||v||``, with the norm over every dimension but ``dim``, and ``g`` and ``v`` the parameters."""

from __future__ import annotations

from ...tensor import Tensor

__all__ = ["remove_weight_norm", "weight_norm"]


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:  # noqa: A002 - PyTorch's name
    """The ``pow``-norm of ``v`` over every dimension but ``dim``, shaped to broadcast against ``v`` (over all
    of ``v``, a 0-d tensor, for ``dim=-1``), as ``torch.norm_except_dim``."""
    if dim == -1:
        return v.norm(pow)
    dim = dim % v.ndim
    return v.norm(pow, dim=tuple(d for d in range(v.ndim) if d != dim), keepdim=True)


def _weight_norm(v: Tensor, g: Tensor, dim: int) -> Tensor:
    """``g * v / ||v||``, the norm over every dimension but ``dim`` (``torch._weight_norm``)."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and ``<name>_v``."""

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module) -> Tensor:
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"), self.dim)

    @staticmethod
    def apply(module, name: str, dim: int | None) -> WeightNorm:
        from ..module import Parameter

        if _find_pre_hook(module, WeightNorm, name) is not None:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module) -> None:
        from ..module import Parameter

        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name: str = "weight", dim: int | None = 0):
    """Re-express ``module.<name>`` as ``g * v / ||v||`` (parameters ``<name>_g`` and ``<name>_v``), the norm
    taken over every dimension but ``dim`` (over all of them for ``dim=None``); returns the module."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Put ``module.<name>`` back as one parameter (its current value); returns the module."""
    return _remove_pre_hook(module, WeightNorm, name, "weight_norm")


def _find_pre_hook(module, kind: type, name: str):
    """The id of ``module``'s forward pre-hook of class ``kind`` for ``module.<name>``, or None."""
    hooks = module.__dict__.get("_forward_pre_hooks", {})
    return next((key for key, hook in hooks.items() if isinstance(hook, kind) and hook.name == name), None)


def _remove_pre_hook(module, kind: type, name: str, what: str):
    """Undo ``what`` (a pre-hook of class ``kind``) on ``module.<name>``; returns the module."""
    key = _find_pre_hook(module, kind, name)
    if key is None:
        raise ValueError(f"{what} of '{name}' not found in {module}")
    module._forward_pre_hooks.pop(key).remove(module)
    return module
