"""Data loading: ``DataLoader``, ``TensorDataset`` and the ``datasets`` module (digits, MNIST)."""

from . import datasets
from .loader import DataLoader, TensorDataset

__all__ = ["DataLoader", "TensorDataset", "datasets"]
