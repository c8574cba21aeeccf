"""RMSprop, Adagrad and Adadelta with PyTorch's update formulas."""

from __future__ import annotations

from collections.abc import Iterable

from .. import creation as _creation
from .optimizer import Optimizer


def _check(name: str, **values: float) -> None:
    for key, value in values.items():
        if value < 0.0:
            raise ValueError(f"{name}: invalid {key} {value}; it must be non-negative")


class RMSprop(Optimizer):
    """v = alpha v + (1 - alpha) g²; p -= lr g / (sqrt(v) + eps), or with ``momentum`` buf = momentum buf +
    g / (sqrt(v) + eps), p -= lr buf. ``centered`` subtracts the square of the running mean gradient from v
    under the root. ``weight_decay`` adds ``weight_decay * p`` to the gradient."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        _check("RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        for p, grad, state in self._gradients(group):
            if not state:
                state["step"] = 0
                state["square_avg"] = _creation.zeros_like(p)
                if momentum > 0:
                    state["momentum_buffer"] = _creation.zeros_like(p)
                if centered:
                    state["grad_avg"] = _creation.zeros_like(p)
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + p * weight_decay
            square_avg = state["square_avg"]
            square_avg.mul_(alpha).add_(grad * grad, alpha=1 - alpha)
            if centered:
                grad_avg = state["grad_avg"]
                grad_avg.add_(grad - grad_avg, alpha=1 - alpha)  # PyTorch's lerp_
                avg = (square_avg - grad_avg * grad_avg).sqrt() + eps
            else:
                avg = square_avg.sqrt() + eps
            if momentum > 0:
                buf = state["momentum_buffer"]
                buf.mul_(momentum).add_(grad / avg)
                p.add_(buf, alpha=-lr)
            else:
                p.add_(grad / avg, alpha=-lr)


class Adagrad(Optimizer):
    """sum += g²; p -= lr / (1 + (step - 1) lr_decay) * g / (sqrt(sum) + eps). The sum starts at
    ``initial_accumulator_value``; ``weight_decay`` adds ``weight_decay * p`` to the gradient. State is created
    at the first step (PyTorch creates it when the optimizer is built)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        _check("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
               initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr, lr_decay, eps, weight_decay = group["lr"], group["lr_decay"], group["eps"], group["weight_decay"]
        for p, grad, state in self._gradients(group):
            if not state:
                state["step"] = 0
                state["sum"] = _creation.full_like(p, group["initial_accumulator_value"])
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + p * weight_decay
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            state["sum"].add_(grad * grad)
            p.add_(grad / (state["sum"].sqrt() + eps), alpha=-clr)


class Adadelta(Optimizer):
    """v = rho v + (1 - rho) g²; delta = sqrt(u + eps) / sqrt(v + eps) * g; u = rho u + (1 - rho) delta²;
    p -= lr delta. ``weight_decay`` adds ``weight_decay * p`` to the gradient."""

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        _check("Adadelta", lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: invalid rho {rho}; it must be in [0, 1]")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
        for p, grad, state in self._gradients(group):
            if not state:
                state.update(step=0, square_avg=_creation.zeros_like(p), acc_delta=_creation.zeros_like(p))
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + p * weight_decay
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            square_avg.mul_(rho).add_(grad * grad, alpha=1 - rho)
            delta = (acc_delta + eps).sqrt() / (square_avg + eps).sqrt() * grad
            acc_delta.mul_(rho).add_(delta * delta, alpha=1 - rho)
            p.add_(delta, alpha=-lr)
