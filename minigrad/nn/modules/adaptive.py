"""PyTorch's ``torch.nn.modules.adaptive`` import path: minigrad's own classes, not copies."""

from ..adaptive import AdaptiveLogSoftmaxWithLoss

__all__ = ["AdaptiveLogSoftmaxWithLoss"]
