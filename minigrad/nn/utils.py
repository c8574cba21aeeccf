"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``, as ``torch.nn.utils``."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .. import ops as _ops
from ..grad_mode import no_grad
from ..tensor import Tensor


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
        from ..creation import zeros

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
