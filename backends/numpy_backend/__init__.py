"""The NumPy reference backend: the protocol in ``backend.py``, the BatchNorm kernels in ``batchnorm.py``."""

from .backend import NumpyBackend

__all__ = ["NumpyBackend"]
