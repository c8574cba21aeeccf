"""Adam and AdamW with PyTorch's update formulas (bias correction, optional AMSGrad)."""

from __future__ import annotations

from collections.abc import Iterable

from .. import creation as _creation
from .optimizer import Optimizer


def check_adam_like(name: str, lr: float, betas: tuple[float, float], eps: float, weight_decay: float) -> None:
    """The hyper-parameter checks of the Adam family (Adam, AdamW, Adamax, NAdam, RAdam), with PyTorch's bounds."""
    if lr < 0.0:
        raise ValueError(f"{name}: invalid learning rate {lr}")
    if eps < 0.0:
        raise ValueError(f"{name}: invalid epsilon {eps}")
    if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
        raise ValueError(f"{name}: invalid betas {betas}; each must be in [0, 1)")
    if weight_decay < 0.0:
        raise ValueError(f"{name}: invalid weight_decay {weight_decay}")


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g², p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2); ``AdamW`` decays the weights instead.
    """

    _decoupled = False

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        check_adam_like(type(self).__name__, lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update_group(self, group: dict) -> None:
        # One backend call per parameter (a fused kernel on a device backend), outside autograd.
        (beta1, beta2), amsgrad = group["betas"], group["amsgrad"]
        for p, grad, state in self._gradients(group):
            if not state:
                state["step"] = 0
                state["exp_avg"] = _creation.zeros_like(p)
                state["exp_avg_sq"] = _creation.zeros_like(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = _creation.zeros_like(p)
            state["step"] += 1
            moments = [state["exp_avg"], state["exp_avg_sq"]] + ([state["max_exp_avg_sq"]] if amsgrad else [])
            p._backend.adam_step_(
                p.array, grad.array, *(m.array for m in moments), *([] if amsgrad else [None]), lr=group["lr"],
                beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                decoupled=self._decoupled, amsgrad=amsgrad, step=state["step"])
            for t in (p, *moments):
                t._bump_version()


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam update."""

    _decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
