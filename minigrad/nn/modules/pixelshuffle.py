"""PyTorch's ``torch.nn.modules.pixelshuffle`` import path: minigrad's own classes, not copies."""

from ..spatial import PixelShuffle, PixelUnshuffle

__all__ = ["PixelShuffle", "PixelUnshuffle"]
