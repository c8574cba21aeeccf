"""PyTorch's ``torch.nn.modules.linear`` import path: minigrad's own classes, not copies."""

from ..layers import Identity, Linear
from ..lazy import LazyLinear
from ..sparse import Bilinear

__all__ = ["Bilinear", "Identity", "LazyLinear", "Linear"]
