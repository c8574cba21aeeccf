"""Gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``) and the flat parameter vector
(``parameters_to_vector``, ``vector_to_parameters``), as ``torch.nn.utils``; ``rnn``: padding and packing;
``parametrize`` and ``parametrizations``: tensors re-expressed as functions of others."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ... import ops as _ops
from ...errors import ShapeError
from ...grad_mode import no_grad
from ...ops.movement import _reshape_or_self
from ...tensor import Tensor
from . import fusion, parametrizations, parametrize, rnn, stateless  # noqa: F401 - torch.nn.utils' submodule paths
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights  # noqa: F401
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401


def _grads(parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients in place so that their joint norm (of all gradients together) is at most
    ``max_norm``; returns that norm before clipping. PyTorch's rule and its two halves: ``get_total_norm``
    of the gradients, then ``clip_grads_with_norm_``. ``foreach`` is accepted (there are no foreach kernels)."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)  # a generator is read once
    total = _total_norm(_grads(params), norm_type, error_if_nonfinite, "clip_grad_norm_")
    clip_grads_with_norm_(params, max_norm, total)
    return total


def get_total_norm(tensors: Iterable[Tensor] | Tensor, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The norm of order ``norm_type`` of all the tensors together (the norm of their norms), as PyTorch's:
    a 0-d tensor, zero for no tensors."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    return _total_norm(tensors, norm_type, error_if_nonfinite, "get_total_norm")


def _total_norm(tensors: list[Tensor], norm_type: float, error_if_nonfinite: bool, op: str) -> Tensor:
    if not tensors:
        from ...creation import zeros

        return zeros(())
    norm_type = float(norm_type)
    first = tensors[0]
    with no_grad():
        norms = [_ops.norm(t, norm_type).to(first.backend, first.dtype) for t in tensors]
        total = _ops.norm(_ops.stack(norms), norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"{op}: the total norm of order {norm_type} of the gradients is {total.item()}; pass "
                           "error_if_nonfinite=False to clip anyway")
    return total


def clip_grads_with_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, total_norm,
                          foreach: bool | None = None) -> None:
    """Scale the gradients in place by ``min(1, max_norm / (total_norm + 1e-6))``, computed as PyTorch does in
    ``total_norm``'s dtype (a NaN norm spreads NaN, as in PyTorch)."""
    grads = _grads(parameters)
    if not grads:
        return
    if not isinstance(total_norm, Tensor):
        from ...creation import tensor

        total_norm = tensor(float(total_norm), dtype=grads[0].dtype, backend=grads[0].backend)
    with no_grad():
        # PyTorch's ``max_norm / tensor`` is ``tensor.reciprocal() * max_norm`` (two roundings), so that too
        coefficient = ((total_norm + 1e-6).reciprocal() * float(max_norm)).clamp(max=1.0)
        for g in grads:
            g.mul_(coefficient.to(g.backend))


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient in place to ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)


def _same_backend(parameters: Iterable[Tensor], op: str) -> list[Tensor]:
    params = list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected tensors as parameters, got {type(p).__name__}")
        if p.backend != params[0].backend:
            raise TypeError(f"{op}: found parameters on different backends ({params[0].backend!r} and "
                            f"{p.backend!r}), which is not supported (as PyTorch refuses different devices)")
    return params


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All the parameters flattened and joined into one 1-D tensor (differentiable: a concatenation of views)."""
    params = _same_backend(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: expected at least one parameter, got none")
    return _ops.concatenate([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters, in order, outside autograd (as
    PyTorch's ``param.data = ...``). Elements of ``vec`` beyond the parameters' total are ignored, as in
    PyTorch; a ``vec`` too short is refused before any parameter changes."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor for vec, but got: {type(vec).__name__}")
    params = _same_backend(parameters, "vector_to_parameters")
    if vec.ndim != 1:
        raise ShapeError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    total = sum(p.numel() for p in params)
    if vec.numel() < total:
        raise ShapeError(f"vector_to_parameters: vec has {vec.numel()} elements but the parameters "
                         f"{[p.shape for p in params]} hold {total}")
    if params and vec.backend != params[0].backend:
        raise TypeError(f"vector_to_parameters: vec is on backend {vec.backend!r} but the parameters on "
                        f"{params[0].backend!r}")
    pointer = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(_reshape_or_self(vec[pointer:pointer + n], p.shape))
            pointer += n
