"""PyTorch's ``torch.nn.modules.fold`` import path: minigrad's own classes, not copies."""

from ..pooling import Fold, Unfold

__all__ = ["Fold", "Unfold"]
