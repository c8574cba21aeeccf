"""PyTorch's ``torch.cuda`` queries, answered by the CuPy backend (``minigrad.devices`` maps ``"cuda"`` to it)."""

from __future__ import annotations

from . import backends as _backends
from .devices import CUDA_BACKEND
from .errors import BackendUnavailableError


def is_available() -> bool:
    """Whether the CuPy backend loads (it needs CuPy and a CUDA device)."""
    try:
        _backends.load(CUDA_BACKEND)
    except BackendUnavailableError:
        return False
    return True


def device_count() -> int:
    """The number of CUDA devices CuPy sees (0 without the CuPy backend)."""
    if not is_available():
        return 0
    import cupy

    return int(cupy.cuda.runtime.getDeviceCount())


__all__ = ["device_count", "is_available"]
