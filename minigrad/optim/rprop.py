"""ASGD and Rprop with PyTorch's update formulas and state names."""

from __future__ import annotations

from collections.abc import Iterable

from .. import creation as _creation
from ..ops.arithmetic import where
from .optimizer import Optimizer


class ASGD(Optimizer):
    """Averaged SGD: p *= 1 - lambd eta; p -= eta g; ax averages the iterates from step ``t0`` on (mu =
    1 / max(1, step - t0)); eta = lr / (1 + lambd lr step) ** alpha. ``weight_decay`` adds ``weight_decay * p``
    to the gradient. ``eta`` and ``mu`` are Python floats (PyTorch: 0-d tensors of its default dtype)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, maximize: bool = False) -> None:
        if lr < 0.0:
            raise ValueError(f"ASGD: invalid learning rate {lr}")
        if weight_decay < 0.0:
            raise ValueError(f"ASGD: invalid weight_decay {weight_decay}")
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr, lambd, alpha, t0, weight_decay = (group[k] for k in ("lr", "lambd", "alpha", "t0", "weight_decay"))
        for p, grad, state in self._gradients(group):
            if not state:
                state.update(step=0, eta=float(lr), mu=1.0, ax=_creation.zeros_like(p))
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + p * weight_decay
            eta = state["eta"]
            p.mul_(1 - lambd * eta)
            p.add_(grad, alpha=-eta)
            if state["mu"] != 1:
                state["ax"].add_((p - state["ax"]) * state["mu"])
            else:
                state["ax"].copy_(p)
            step = state["step"]
            state["eta"] = lr / ((1 + lambd * lr * step) ** alpha)
            state["mu"] = 1 / max(1, step - t0)


class Rprop(Optimizer):
    """Resilient backpropagation: each entry's step size is multiplied by ``etas[1]`` while its gradient keeps
    its sign and by ``etas[0]`` when it flips (clamped to ``step_sizes``); p -= sign(g) step_size, skipping (and
    forgetting) the gradients that flipped. Step sizes start at ``lr``."""

    def __init__(self, params: Iterable, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, maximize: bool = False) -> None:
        if lr < 0.0:
            raise ValueError(f"Rprop: invalid learning rate {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: invalid etas {tuple(etas)}; they need 0 < etas[0] < 1 < etas[1]")
        super().__init__(params, dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize))

    def _update_group(self, group: dict) -> None:
        (etaminus, etaplus), (step_size_min, step_size_max) = group["etas"], group["step_sizes"]
        for p, grad, state in self._gradients(group):
            if not state:
                state.update(step=0, prev=_creation.zeros_like(p), step_size=_creation.full_like(p, group["lr"]))
            state["step"] += 1
            sign = (grad * state["prev"]).sign()
            factor = where(sign > 0, _creation.full_like(p, etaplus),
                           where(sign < 0, _creation.full_like(p, etaminus), _creation.ones_like(p)))
            state["step_size"].mul_(factor).clamp_(step_size_min, step_size_max)
            grad = where(sign < 0, _creation.zeros_like(p), grad)
            p.add_(grad.sign() * state["step_size"], alpha=-1)
            state["prev"].copy_(grad)
