"""PyTorch's ``torch.cuda`` queries, answered by the CuPy backend (``minigrad.devices`` maps ``"cuda"`` to it)."""

from __future__ import annotations

from .. import backends as _backends
from ..devices import CUDA_BACKEND
from ..errors import BackendUnavailableError


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


def __getattr__(name: str):
    """``minigrad.cuda.amp`` (PyTorch's older spelling of ``minigrad.amp``) loads on first use."""
    if name == "amp":
        import importlib

        return importlib.import_module(f"{__name__}.amp")
    raise AttributeError(f"module 'minigrad.cuda' has no attribute {name!r}")


__all__ = ["amp", "device_count", "is_available"]
