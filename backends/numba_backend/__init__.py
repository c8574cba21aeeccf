"""The Numba backend: NumPy arrays with JIT-compiled, parallel, fused CPU kernels.

The kernels live in their own modules (``elementwise``, ``softmax``, ``reduce``, ``scatter``), take and
return raw arrays and never import the ``minigrad`` front layer. This package imports numba only when
``NumbaBackend`` is instantiated.
"""

from .backend import NumbaBackend

__all__ = ["NumbaBackend"]
