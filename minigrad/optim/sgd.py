"""Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and weight-decay rules."""

from __future__ import annotations

from collections.abc import Iterable

from ..tensor import Tensor
from .optimizer import Optimizer


class SGD(Optimizer):
    """p -= lr * d, where g' = g + weight_decay * p, buf = momentum * buf + (1 - dampening) * g' (buf = g'
    at the first step), and d = g' + momentum * buf (Nesterov) or buf (or g' without momentum)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False) -> None:
        if lr < 0.0:
            raise ValueError(f"SGD: invalid learning rate {lr}")
        if momentum < 0.0:
            raise ValueError(f"SGD: invalid momentum {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"SGD: invalid weight_decay {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _update_group(self, group: dict) -> None:
        # One backend call per parameter (a fused kernel on a device backend), outside autograd. Every write
        # bumps the tensor's version counter, as an in-place tensor op would.
        hyper = {k: group[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")}
        for p in group["params"]:
            if p.grad is None:
                continue  # the gradient was checked against the parameter by _prepare_step
            be, buf, first = p._backend, None, False
            if group["momentum"] != 0:
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                first = buf is None
                if first:
                    buf = state["momentum_buffer"] = Tensor(be.empty(p.shape, p.dtype), be)
            be.sgd_step_(p.array, p.grad.array, None if buf is None else buf.array, first=first, **hyper)
            p._bump_version()
            if buf is not None and not first:
                buf._bump_version()
