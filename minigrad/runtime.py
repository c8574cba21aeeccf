"""PyTorch's process-wide switches: ``set_num_threads``/``get_num_threads``, ``seed``/``initial_seed`` and
``use_deterministic_algorithms``, mapped to what minigrad's backends really have."""

from __future__ import annotations

import os
import warnings

import numpy as np

from . import backends as _backends

__all__ = ["are_deterministic_algorithms_enabled", "compile", "get_num_threads", "initial_seed",
           "is_deterministic_algorithms_warn_only_enabled", "seed", "set_num_threads",
           "use_deterministic_algorithms"]


def set_num_threads(n: int) -> None:
    """Threads for the parallel kernels of backends that have them: the Numba backend's (``numba.set_num_threads``,
    at most ``NUMBA_NUM_THREADS``), now if it is loaded and else when it loads. NumPy's and CuPy's kernels are
    single-threaded or on the GPU; BLAS threads (OpenBLAS/MKL behind matmul) are not touched: set
    ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` before starting Python, or use ``threadpoolctl``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    for backend in _backends._loaded.values():
        if hasattr(backend, "set_num_threads"):
            backend.set_num_threads(int(n))  # Numba refuses more than NUMBA_NUM_THREADS before we record it
    _backends._num_threads = int(n)


def get_num_threads() -> int:
    """The Numba backend's thread count where it is loaded; else what ``set_num_threads`` asked for, or the
    number of CPUs (what Numba would start with)."""
    numba_backend = _backends._loaded.get("numba")
    if numba_backend is not None:
        return int(numba_backend.get_num_threads())
    return _backends._num_threads or os.cpu_count() or 1


# -- seeds ----------------------------------------------------------------------------------------------
def seed() -> int:
    """Seed every backend from the operating system's entropy (as ``torch.seed``) and return the seed."""
    value = int(np.random.SeedSequence().entropy) & ((1 << 63) - 1)
    _backends.manual_seed(value)
    return value


def initial_seed() -> int:
    """The seed of the backends' random numbers (``manual_seed``'s or ``seed``'s). minigrad's backends start
    from OS entropy with no seed to report (PyTorch starts from a fixed one), so before any seeding this seeds
    them as ``seed()`` does, once, and returns that seed: later draws then reproduce from it."""
    if _backends._seed is None:
        return seed()
    return _backends._seed


# -- determinism ----------------------------------------------------------------------------------------
_deterministic = {"enabled": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """PyTorch's switch for run-to-run reproducible kernels. minigrad's NumPy and Numba kernels are
    deterministic already (Numba's parallel sums split the work by a fixed rule; the result can depend on the
    thread count, never on timing). On CuPy, index accumulation (``x[idx] += ...`` backward, embedding
    backward, ``index_add``/``scatter_add`` on repeated indices) uses atomic adds: with this mode on it raises
    ``RuntimeError`` there (a warning with ``warn_only=True``), as PyTorch does for its nondeterministic kernels."""
    if not isinstance(mode, (bool, np.bool_)):
        raise TypeError(f"use_deterministic_algorithms: mode must be a bool, got {type(mode).__name__}")
    _deterministic.update(enabled=bool(mode), warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic["enabled"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic["enabled"] and _deterministic["warn_only"]


def alert_nondeterministic(what: str) -> None:
    """Called by a kernel without a deterministic implementation (PyTorch's ``alertNotDeterministic``)."""
    if not _deterministic["enabled"]:
        return
    message = (f"{what} does not have a deterministic implementation, but you set "
               "'minigrad.use_deterministic_algorithms(True)'; turn it off or use the NumPy/Numba backend")
    if _deterministic["warn_only"]:
        warnings.warn(message, UserWarning, stacklevel=3)
    else:
        raise RuntimeError(message)


# -- torch.compile --------------------------------------------------------------------------------------
def compile(model=None, *, fullgraph: bool = False, dynamic: bool | None = None, backend="inductor",  # noqa: A001
            mode: str | None = None, options: dict | None = None, disable: bool = False):
    """``torch.compile``'s signature, as a correct compiler that changes nothing: returns ``model`` (a module or
    function) itself, so a ported script runs unchanged and eagerly. minigrad has no graph compiler; its
    speed comes from the backend (Numba's JIT kernels, CuPy). Without ``model``, a decorator."""
    if mode is not None and options is not None:
        raise RuntimeError("compile: either mode or options can be specified, but both can't be specified at the "
                           "same time")
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise RuntimeError(f"compile: model must be a callable (a Module or a function), got {type(model).__name__}")
    return model
