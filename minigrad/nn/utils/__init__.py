"""Gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``) and the flat parameter vector
(``parameters_to_vector``, ``vector_to_parameters``), as ``torch.nn.utils``; ``rnn``: padding and packing."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ... import ops as _ops
from ...errors import ShapeError
from ...grad_mode import no_grad
from ...tensor import Tensor
from . import rnn  # noqa: F401 - torch.nn.utils.rnn's path


def _grads(parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients in place so that their joint norm (of all gradients together) is at most
    ``max_norm``; returns that norm before clipping. PyTorch's rule: the scale is
    ``min(1, max_norm / (norm + 1e-6))``."""
    grads = _grads(parameters)
    if not grads:
        from ...creation import zeros

        return zeros(())
    norm_type = float(norm_type)
    first = grads[0]
    with no_grad():
        norms = [_ops.norm(g, norm_type).to(first.backend, first.dtype) for g in grads]
        total = _ops.norm(_ops.stack(norms), norm_type)
        value = total.item()
        if error_if_nonfinite and not math.isfinite(value):
            raise RuntimeError(
                f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {value}; pass "
                "error_if_nonfinite=False to clip anyway"
            )
        coefficient = float(max_norm) / (value + 1e-6)
        scale = coefficient if math.isnan(coefficient) else min(1.0, coefficient)  # NaN spreads, as in PyTorch
        for g in grads:
            g.mul_(scale)
    return total


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
            p.copy_(vec[pointer:pointer + n].reshape(p.shape))
            pointer += n
