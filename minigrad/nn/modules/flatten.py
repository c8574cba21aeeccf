"""PyTorch's ``torch.nn.modules.flatten`` import path: minigrad's own classes, not copies."""

from ..layers import Flatten, Unflatten

__all__ = ["Flatten", "Unflatten"]
