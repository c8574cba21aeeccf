"""PyTorch's ``torch.nn.modules.sparse`` import path: minigrad's own classes, not copies."""

from ..layers import Embedding
from ..sparse import EmbeddingBag

__all__ = ["Embedding", "EmbeddingBag"]
