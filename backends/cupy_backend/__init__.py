"""The CuPy backend: CuPy arrays on the current CUDA device, with fused numba-cuda kernels.

The backend inherits the NumPy backend's protocol methods, which are written against the array module
``xp``; this package swaps in CuPy and its kernels (``kernels/``). Importing it needs neither CuPy nor a
device: ``CupyBackend.check_available`` says what is missing and how to install it.
"""

from .backend import CupyBackend

__all__ = ["CupyBackend"]
