"""PyTorch's ``torch.nn.modules.dropout`` import path: minigrad's own classes, not copies."""

from ..layers import Dropout, Dropout2d
from ..regularization import AlphaDropout, FeatureAlphaDropout
from ..spatial import Dropout1d, Dropout3d

__all__ = ["AlphaDropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"]
