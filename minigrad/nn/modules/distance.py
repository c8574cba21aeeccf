"""PyTorch's ``torch.nn.modules.distance`` import path: minigrad's own classes, not copies."""

from ..layers import CosineSimilarity
from ..losses import PairwiseDistance

__all__ = ["CosineSimilarity", "PairwiseDistance"]
