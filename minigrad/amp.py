"""PyTorch's mixed-precision entry points, as far as they mean something without float16.

- ``GradScaler``: loss scaling with PyTorch's full behaviour (scale, ``unscale_``, ``step`` skipped when a
  gradient is inf/NaN, ``update`` with growth and backoff, ``state_dict``). It works on float32/float64 on
  every backend: besides porting, it guards a float32 run against gradient overflow.
- ``autocast``: minigrad has no float16/bfloat16, so ``enabled=False`` is a no-op context manager and
  decorator, and ``enabled=True`` raises (a silent no-op would let a script believe it runs in half precision).
"""

from __future__ import annotations

import functools
import math
from collections import abc
from typing import Any

import numpy as np

from .grad_mode import no_grad
from .tensor import Tensor

__all__ = ["GradScaler", "autocast"]

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


def _f32(value: float) -> float:
    """``value`` rounded to float32, as PyTorch keeps its scale in a float32 tensor."""
    return float(np.float32(value))


class GradScaler:
    """Dynamic loss scaling, as ``torch.amp.GradScaler`` (``torch.cuda.amp.GradScaler``).

    ``scaler.scale(loss).backward()`` multiplies the gradients by the scale; ``scaler.step(optimizer)`` divides
    them back (``unscale_``) and steps unless one of them is inf/NaN; ``scaler.update()`` then halves the scale
    (``backoff_factor``) after a skipped step, or doubles it (``growth_factor``) after ``growth_interval``
    steps in a row without one. ``device`` is accepted for PyTorch's signature: the scaler works on every
    backend (PyTorch disables a "cuda" scaler when CUDA is absent; minigrad does not need to).
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = str(device)
        self._enabled = bool(enabled)
        if self._enabled:
            if not growth_factor > 1.0:
                raise ValueError(f"GradScaler: growth_factor should be > 1, got {growth_factor}")
            if not backoff_factor < 1.0:
                raise ValueError(f"GradScaler: backoff_factor should be < 1, got {backoff_factor}")
            if isinstance(growth_interval, bool) or not isinstance(growth_interval, int) or growth_interval <= 0:
                raise ValueError(f"GradScaler: growth_interval should be a positive int, got {growth_interval!r}")
        self._init_scale = float(init_scale)
        self._scale: float | None = None  # made on the first scale(), as PyTorch's lazily made tensor
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._init_growth_tracker = 0
        self._growth_tracker: int | None = None
        self._per_optimizer_states: dict[int, dict[str, Any]] = {}

    def _state(self, optimizer) -> dict[str, Any]:
        return self._per_optimizer_states.setdefault(id(optimizer), {"stage": _READY, "found_inf": None})

    def _check_scale_growth_tracker(self, funcname: str) -> None:
        if self._scale is None or self._growth_tracker is None:
            raise RuntimeError(f"GradScaler.{funcname}: the scale was never set; this may indicate your script did "
                               "not use scaler.scale(loss or outputs) earlier in the iteration")

    def _lazy_init(self) -> None:
        if self._scale is None:
            self._scale = _f32(self._init_scale)
            self._growth_tracker = self._init_growth_tracker

    # -- the four steps of an iteration ------------------------------------------------------------
    def scale(self, outputs):
        """``outputs`` (a tensor, or lists/tuples/iterables of them) multiplied by the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            self._lazy_init()
            return outputs * self._scale

        def apply(value):
            if isinstance(value, Tensor):
                self._lazy_init()
                return value * self._scale
            if isinstance(value, abc.Iterable):
                scaled = map(apply, value)
                return type(value)(scaled) if isinstance(value, (list, tuple)) else scaled
            raise ValueError("GradScaler.scale: outputs must be a Tensor or an iterable of Tensors")

        return apply(outputs)

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale (in place) and record whether any is inf/NaN. Optional
        before ``step`` (which calls it), e.g. to clip the true gradients; once per optimizer per iteration."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._state(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError("GradScaler.unscale_() has already been called on this optimizer since the last "
                               "update()")
        if state["stage"] == _STEPPED:
            raise RuntimeError("GradScaler.unscale_() is being called after step()")
        inv_scale = _f32(1.0 / self._scale)  # PyTorch: the reciprocal in float64, then float32
        found_inf = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if not found_inf:
                        found_inf = not bool(p.grad.isfinite().all().item())
                    p.grad.mul_(inv_scale)
        state["found_inf"] = found_inf
        state["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``unscale_(optimizer)`` unless done, then ``optimizer.step(*args, **kwargs)`` unless a gradient is
        inf/NaN (then the step is skipped and None returned)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("GradScaler.step: closure use is not currently supported if GradScaler is enabled")
        self._check_scale_growth_tracker("step")
        state = self._state(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("GradScaler.step() has already been called since the last update()")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        retval = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return retval

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Back the scale off if any step since the last update met inf/NaN, else grow it every
        ``growth_interval`` clean steps; or set ``new_scale`` (a float or a 1-element tensor)."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                if new_scale.numel() != 1 or new_scale.requires_grad or new_scale.dtype.kind != "f":
                    raise ValueError("GradScaler.update: new_scale should be a float or a 1-element floating "
                                     "tensor with requires_grad=False")
                new_scale = new_scale.item()
            elif not isinstance(new_scale, float):
                raise TypeError(f"GradScaler.update: new_scale should be a float or a 1-element tensor, got "
                                f"{type(new_scale).__name__}")
            self._scale = _f32(new_scale)
        else:
            found = [s["found_inf"] for s in self._per_optimizer_states.values() if s["found_inf"] is not None]
            if not found:
                raise RuntimeError("GradScaler.update: no inf checks were recorded prior to update (call "
                                   "scaler.step(optimizer) first)")
            if any(found):  # PyTorch's _amp_update_scale_
                self._scale = _f32(self._scale * self._backoff_factor)
                self._growth_tracker = 0
            else:
                successful = self._growth_tracker + 1
                if successful == self._growth_interval:
                    grown = _f32(self._scale * self._growth_factor)
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
                else:
                    self._growth_tracker = successful
        self._per_optimizer_states = {}

    # -- queries and settings -------------------------------------------------------------------------
    def get_scale(self) -> float:
        """The current scale (``init_scale`` before the first ``scale``), or 1.0 when disabled."""
        if not self._enabled:
            return 1.0
        return _f32(self._init_scale) if self._scale is None else self._scale

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict[str, Any]:
        """``scale``, ``growth_factor``, ``backoff_factor``, ``growth_interval`` and ``_growth_tracker`` (PyTorch's
        keys, so a checkpoint's scaler state loads in either); ``{}`` when disabled."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s values (a no-op when this scaler is disabled)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("GradScaler.load_state_dict: the source state dict is empty, possibly because it "
                               "was saved from a disabled instance of GradScaler")
        missing = {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"} - set(state_dict)
        if missing:
            raise KeyError(f"GradScaler.load_state_dict: missing keys {sorted(missing)}")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = _f32(self._init_scale)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = self._init_growth_tracker


class autocast:  # noqa: N801 - PyTorch's name
    """``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: a context manager and a
    decorator. minigrad has no float16 or bfloat16, so only ``enabled=False`` is accepted (then nothing changes,
    exactly what PyTorch does when disabled); ``enabled=True`` raises ``RuntimeError`` saying so."""

    def __init__(self, device_type: str = "cuda", dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):
            raise TypeError(f"autocast: expected device_type to be a str, got {type(device_type).__name__}")
        if enabled:
            raise RuntimeError(
                f"autocast(device_type={device_type!r}, enabled=True): minigrad has no float16 or bfloat16 "
                "(its kernels compute in float32/float64), so there is no lower precision to cast to. Pass "
                "enabled=False (or remove the autocast) to run in full precision; GradScaler still works")
        self.device = device_type
        self.fast_dtype = dtype
        self._enabled = False

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapped
