"""PyTorch's ``torch.autograd`` spelling: the engine's entry points, ``Function``, gradient checks, grad modes,
and ``functional`` (Jacobians, Hessians and their products).

Everything here is also at ``minigrad.*``; this module exists so that ``torch.autograd.X`` ports as
``minigrad.autograd.X``.
"""

from ..engine import backward, grad
from ..function import Function
from ..grad_mode import (
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from ..gradcheck import gradcheck, gradgradcheck
from . import functional

__all__ = [
    "Function", "backward", "detect_anomaly", "enable_grad", "functional", "grad", "gradcheck", "gradgradcheck",
    "inference_mode", "is_anomaly_enabled", "is_grad_enabled", "no_grad", "set_detect_anomaly",
    "set_grad_enabled",
]
