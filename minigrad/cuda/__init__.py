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


def _backend():
    """The CuPy backend if CUDA is available, else None."""
    return _backends.load(CUDA_BACKEND) if is_available() else None


def manual_seed(seed: int) -> None:
    """Seed the CUDA (CuPy backend's) generator. Without CUDA this does nothing, as in PyTorch, so scripts
    that seed every device run unchanged on the CPU."""
    backend = _backend()
    if backend is not None:
        backend.manual_seed(int(seed))


manual_seed_all = manual_seed  # one device: PyTorch's "all devices" is that one


def empty_cache() -> None:
    """Hand the CuPy memory pool's unused blocks back to the device (nothing to do without CUDA)."""
    if _backend() is not None:
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()


def synchronize(device=None) -> None:
    """Wait for the device's queued work (``device`` accepted for PyTorch's signature: there is one)."""
    if _backend() is None:
        raise BackendUnavailableError("minigrad.cuda.synchronize(): no CUDA device (the CuPy backend needs CuPy "
                                      "and a GPU); drop the call on the CPU")
    import cupy

    cupy.cuda.runtime.deviceSynchronize()


def __getattr__(name: str):
    """``minigrad.cuda.amp`` (PyTorch's older spelling of ``minigrad.amp``) loads on first use."""
    if name == "amp":
        import importlib

        return importlib.import_module(f"{__name__}.amp")
    raise AttributeError(f"module 'minigrad.cuda' has no attribute {name!r}")


__all__ = ["amp", "device_count", "empty_cache", "is_available", "manual_seed", "manual_seed_all", "synchronize"]
