"""PyTorch's ``torch.nn.modules.channelshuffle`` import path: minigrad's own classes, not copies."""

from ..regularization import ChannelShuffle

__all__ = ["ChannelShuffle"]
