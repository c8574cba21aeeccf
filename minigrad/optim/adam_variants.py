"""Adamax, NAdam and RAdam with PyTorch's update formulas and state names.

The rules use in-place tensor ops under ``no_grad`` (as RMSprop does), so they run on every backend and bump
version counters. Scalar state (``step``, NAdam's ``mu_product``) is kept as Python numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import creation as _creation
from ..ops.arithmetic import maximum
from .adam import check_adam_like
from .optimizer import Optimizer


def _weight_decay(p, grad, lr: float, weight_decay: float, decoupled: bool):
    """NAdam's and RAdam's weight decay: decoupled (p *= 1 - lr weight_decay, in place) or L2 (added to the
    gradient, which is returned)."""
    if weight_decay != 0:
        if decoupled:
            p.mul_(1 - lr * weight_decay)
        else:
            grad = grad + p * weight_decay
    return grad


def _moments(state: dict, p, *names: str) -> None:
    """Create the state at the first step: ``step`` 0 and zero tensors like ``p``."""
    if not state:
        state["step"] = 0
        for name in names:
            state[name] = _creation.zeros_like(p)


class Adamax(Optimizer):
    """Adam with the infinity norm: m = b1 m + (1 - b1) g, u = max(b2 u, |g| + eps),
    p -= lr / (1 - b1^t) * m / u. ``weight_decay`` adds ``weight_decay * p`` to the gradient."""

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        check_adam_like("Adamax", lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update_group(self, group: dict) -> None:
        (beta1, beta2), eps, weight_decay = group["betas"], group["eps"], group["weight_decay"]
        for p, grad, state in self._gradients(group):
            _moments(state, p, "exp_avg", "exp_inf")
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + p * weight_decay
            exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
            exp_avg.add_(grad - exp_avg, alpha=1 - beta1)  # PyTorch's lerp_
            exp_inf.copy_(maximum(exp_inf * beta2, grad.abs() + eps))
            p.add_(exp_avg / exp_inf, alpha=-group["lr"] / (1 - beta1 ** state["step"]))


class NAdam(Optimizer):
    """Adam with Nesterov momentum and the momentum schedule mu_t = b1 (1 - 0.96^(t momentum_decay) / 2):
    p -= lr (1 - mu_t) / (1 - prod mu) g / d + lr mu_{t+1} / (1 - prod mu mu_{t+1}) m / d, with
    d = sqrt(v / (1 - b2^t)) + eps. ``weight_decay`` is L2 (added to the gradient), or decoupled
    (p *= 1 - lr weight_decay) with ``decoupled_weight_decay=True``."""

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:
        check_adam_like("NAdam", lr, betas, eps, weight_decay)
        if momentum_decay < 0.0:
            raise ValueError(f"NAdam: invalid momentum_decay {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        momentum_decay = group["momentum_decay"]
        for p, grad, state in self._gradients(group):
            if not state:
                state.update(step=0, mu_product=1.0, exp_avg=_creation.zeros_like(p),
                             exp_avg_sq=_creation.zeros_like(p))
            state["step"] += 1
            step = state["step"]
            grad = _weight_decay(p, grad, lr, weight_decay, group["decoupled_weight_decay"])
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
            state["mu_product"] *= mu
            mu_product = state["mu_product"]
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.add_(grad - exp_avg, alpha=1 - beta1)
            exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)
            denom = (exp_avg_sq / (1 - beta2 ** step)).sqrt() + eps
            p.add_(grad / denom, alpha=-lr * (1.0 - mu) / (1.0 - mu_product))
            p.add_(exp_avg / denom, alpha=-lr * mu_next / (1.0 - mu_product * mu_next))


class RAdam(Optimizer):
    """Rectified Adam: while the variance's rectification term is undefined (rho_t <= 5), p -= lr m / (1 - b1^t);
    then Adam's step scaled by r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)).
    ``weight_decay`` is L2, or decoupled with ``decoupled_weight_decay=True``."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False) -> None:
        check_adam_like("RAdam", lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        rho_inf = 2 / (1 - beta2) - 1
        for p, grad, state in self._gradients(group):
            _moments(state, p, "exp_avg", "exp_avg_sq")
            state["step"] += 1
            step = state["step"]
            grad = _weight_decay(p, grad, lr, weight_decay, group["decoupled_weight_decay"])
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.add_(grad - exp_avg, alpha=1 - beta1)
            exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)
            bias_correction2 = 1 - beta2 ** step
            corrected = exp_avg / (1 - beta1 ** step)
            rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                adaptive = bias_correction2 ** 0.5 / (exp_avg_sq.sqrt() + eps)
                p.add_(corrected * lr * adaptive * rect, alpha=-1.0)
            else:
                p.add_(corrected * lr, alpha=-1.0)
