"""PyTorch's ``torch.nn.modules.container`` import path: minigrad's own classes, not copies."""

from ..containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential

__all__ = ["ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"]
