"""Neural-network building blocks, PyTorch-style: ``Module``, ``Parameter``, layers, ``functional``, ``init``.

Modules are documented in ``docs/nn.md``; differences from PyTorch are listed there.
"""

from . import functional, init, utils
from .containers import ModuleList, Sequential
from .layers import (
    ELU,
    GELU,
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    Hardtanh,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module, Parameter, StateDictError

__all__ = [
    "ELU", "GELU", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Conv2d",
    "CrossEntropyLoss", "Dropout", "Flatten", "Hardtanh", "Identity", "IncompatibleKeys", "LayerNorm",
    "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool2d", "Module", "ModuleList", "NLLLoss", "Parameter",
    "ReLU", "Sequential", "Sigmoid", "SiLU", "Softmax", "Softplus", "StateDictError", "Tanh", "functional",
    "init", "utils",
]

_LAZY = {"BatchNorm1d": ".batchnorm", "BatchNorm2d": ".batchnorm", "BatchNorm3d": ".batchnorm"}


def __getattr__(name: str):
    """BatchNorm modules live in ``nn/batchnorm.py`` (written separately) and load on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'minigrad.nn' has no attribute {name!r}")
