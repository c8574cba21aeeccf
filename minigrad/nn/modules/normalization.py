"""PyTorch's ``torch.nn.modules.normalization`` import path: minigrad's own classes, not copies."""

from ..layers import GroupNorm, LayerNorm
from ..regularization import LocalResponseNorm, RMSNorm

__all__ = ["GroupNorm", "LayerNorm", "LocalResponseNorm", "RMSNorm"]
