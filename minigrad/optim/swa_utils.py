"""PyTorch's ``torch.optim.swa_utils``: weight averaging (SWA, EMA) with ``AveragedModel``, the ``SWALR``
schedule and ``update_bn``, step for step as PyTorch computes them on the CPU."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import dtypes
from ..grad_mode import no_grad
from ..nn.module import Module
from ..ops.composites import lerp
from .lr_scheduler import LRScheduler, _per_group
from .optimizer import Optimizer

__all__ = ["SWALR", "AveragedModel", "get_ema_avg_fn", "get_ema_multi_avg_fn", "get_swa_avg_fn",
           "get_swa_multi_avg_fn", "update_bn"]


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def _lerp_(start, end, weight) -> None:
    """``start`` moved in place towards ``end`` by ``weight``, rounded as PyTorch's ``_foreach_lerp_``."""
    start.copy_(lerp(start, end, float(weight)))


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """An in-place exponential moving average for ``AveragedModel(multi_avg_fn=...)``:
    ema = decay * ema + (1 - decay) * current, as a ``lerp`` by ``1 - decay``."""
    _check_decay(decay)

    def ema_update(ema_params: list, current_params: list, _num_averaged) -> None:
        with no_grad():
            for ema, current in zip(ema_params, current_params):
                if ema.is_floating_point():
                    _lerp_(ema, current, 1 - decay)
                else:
                    ema.copy_(ema * decay + current * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """An in-place equal-weight running average for ``AveragedModel(multi_avg_fn=...)``."""

    def swa_update(averaged_params: list, current_params: list, num_averaged) -> None:
        with no_grad():
            for averaged, current in zip(averaged_params, current_params):
                if averaged.is_floating_point():
                    _lerp_(averaged, current, _as_float32(1 / (num_averaged + 1)))
                else:
                    averaged.copy_(averaged + (current - averaged) / (num_averaged + 1))

    return swa_update


def _as_float32(value) -> float:
    """A 0-d tensor's value, or a Python number rounded to float32 (PyTorch's weight ``1 / (n + 1)`` is a
    float32 tensor when ``n`` is the int64 counter)."""
    return float(value.item()) if hasattr(value, "item") else float(np.float32(value))


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """``avg_fn`` of an exponential moving average: returns decay * ema + (1 - decay) * current."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, _num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable:
    """``avg_fn`` of an equal-weight running average: returns averaged + (current - averaged) / (n + 1)."""

    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and, with ``use_buffers``, buffers) are a running average of
    ``model``'s, updated by ``update_parameters(model)``: an equal-weight average (SWA) by default, or
    ``avg_fn(averaged, current, n)`` per tensor, or ``multi_avg_fn(averaged_list, current_list, n)`` in place.
    The first update copies the model. Without ``use_buffers`` the buffers (BatchNorm's running statistics)
    are copied from ``model`` at each update; ``update_bn`` recomputes them for the averaged weights."""

    def __init__(self, model: Module, device=None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        from ..creation import tensor

        self.register_buffer("n_averaged", tensor(0, dtype=dtypes.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Average ``model``'s current parameters (and buffers, with ``use_buffers``) into this model's."""
        if self.use_buffers:
            pairs = zip(itertools.chain(self.module.parameters(), self.module.buffers()),
                        itertools.chain(model.parameters(), model.buffers()))
        else:
            pairs = zip(self.module.parameters(), model.parameters())
        averaged, current = [], []
        first = self.n_averaged.item() == 0
        with no_grad():
            for p_averaged, p_model in pairs:
                p_model = p_model.detach().to(p_averaged.device)
                averaged.append(p_averaged.detach())
                current.append(p_model)
                if first:
                    averaged[-1].copy_(p_model)
            if not first:
                self._average(averaged, current)
            if not self.use_buffers:
                for b_averaged, b_model in zip(self.module.buffers(), model.buffers()):
                    b_averaged.detach().copy_(b_model.detach().to(b_averaged.device))
            self.n_averaged += 1

    def _average(self, averaged: list, current: list) -> None:
        if self.avg_fn is not None:
            for p_averaged, p_model in zip(averaged, current):
                p_averaged.copy_(self.avg_fn(p_averaged, p_model, self.n_averaged.to(p_averaged.device)))
            return
        groups: dict[tuple, tuple[list, list]] = {}  # PyTorch groups by device and dtype before averaging
        for p_averaged, p_model in zip(averaged, current):
            group = groups.setdefault((str(p_averaged.device), p_averaged.dtype), ([], []))
            group[0].append(p_averaged)
            group[1].append(p_model)
        for (device, _), (params, models) in groups.items():
            n_averaged = self.n_averaged.to(device)
            if self.multi_avg_fn is not None:
                self.multi_avg_fn(params, models, n_averaged)
            elif device.startswith("cuda"):  # PyTorch's foreach kernels: a lerp by 1 / (n + 1)
                get_swa_multi_avg_fn()(params, models, n_averaged)
            else:  # on the CPU, the division of get_swa_avg_fn
                swa = get_swa_avg_fn()
                for p_averaged, p_model in zip(params, models):
                    p_averaged.copy_(swa(p_averaged, p_model, n_averaged))


def update_bn(loader: Iterable[Any], model: Module, device=None) -> None:
    """Recompute the running statistics of every BatchNorm layer of ``model`` from one pass over ``loader``
    (the first element of each batch that is a list or tuple), as cumulative averages; ``model`` is left in
    the training mode it had and its layers with their momentum."""
    from ..nn.batchnorm import _BatchNorm

    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's rate to its ``swa_lr`` over ``anneal_epochs`` steps (``"cos"`` or ``"linear"``),
    then holds it, with PyTorch's recursive formula."""

    def __init__(self, optimizer: Optimizer, swa_lr, anneal_epochs: int = 10, anneal_strategy: str = "cos",
                 last_epoch: int = -1) -> None:
        for value, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        # The rate before this step's annealing is recovered from the current one, so manual changes compose.
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [group["swa_lr"] * alpha + lr * (1 - alpha) for group, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def _set_anneal_func(self, anneal_strategy: str) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def state_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
