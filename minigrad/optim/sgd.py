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
        # On the backend arrays, not through tensor ops: the update is outside autograd anyway, and this
        # loop runs once per parameter per step. Every write bumps the tensor's version counter, as an
        # in-place tensor op would.
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            be, w = p._backend, p.data
            d_p = grad.data  # checked against the parameter by _prepare_step
            if maximize:
                d_p = be.negative(d_p)
            if weight_decay != 0:
                d_p = be.add(d_p, be.multiply(w, weight_decay))
            if momentum != 0:
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = Tensor(be.copy(d_p), be)
                else:
                    be.multiply(buf.data, momentum, out=buf.data)
                    be.add_scaled_(buf.data, d_p, 1 - dampening)
                    buf._bump_version()
                d_p = be.add(d_p, be.multiply(buf.data, momentum)) if nesterov else buf.data
            be.add_scaled_(w, d_p, -lr)  # w -= lr * d_p: one fused pass where the backend has one
            p._bump_version()

