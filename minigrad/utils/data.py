"""``minigrad.data`` under PyTorch's path, so ``from torch.utils.data import DataLoader, TensorDataset`` ports
by renaming ``torch`` alone."""

from ..data import DataLoader, TensorDataset, datasets

__all__ = ["DataLoader", "TensorDataset", "datasets"]
