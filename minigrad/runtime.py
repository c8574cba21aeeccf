"""PyTorch's process-wide switches: ``set_num_threads``/``get_num_threads``, ``seed``/``initial_seed``,
``use_deterministic_algorithms``, ``set_warn_always`` and the switches minigrad has nothing behind (interop threads,
denormal flushing), mapped to what minigrad's backends really have."""

from __future__ import annotations

import os
import warnings

import numpy as np

from . import backends as _backends

__all__ = ["are_deterministic_algorithms_enabled", "compile", "get_deterministic_debug_mode",
           "get_float32_matmul_precision", "get_num_interop_threads", "get_num_threads", "initial_seed",
           "is_deterministic_algorithms_warn_only_enabled", "is_warn_always_enabled", "seed",
           "set_deterministic_debug_mode", "set_flush_denormal", "set_num_interop_threads", "set_num_threads",
           "set_float32_matmul_precision", "set_printoptions", "set_warn_always", "use_deterministic_algorithms"]


def set_num_threads(n: int) -> None:
    """Threads for the parallel kernels of backends that have them: the Numba backend's (``numba.set_num_threads``,
    at most ``NUMBA_NUM_THREADS``), now if it is loaded and else when it loads. NumPy's and CuPy's kernels are
    single-threaded or on the GPU; BLAS threads (OpenBLAS/MKL behind matmul) are not touched: set
    ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` before starting Python, or use ``threadpoolctl``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    try:  # checked now, not when the Numba backend loads later (importing numba starts no threads)
        import numba
    except ImportError:
        numba = None
    if numba is not None and n > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"set_num_threads: {n} threads asked for, but Numba starts at most NUMBA_NUM_THREADS="
                         f"{numba.config.NUMBA_NUM_THREADS} (set that environment variable before starting Python)")
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


_interop_threads: list = []  # set_num_interop_threads's value, once


def set_num_interop_threads(n: int) -> None:
    """PyTorch's size of the pool that runs independent ops concurrently. minigrad runs ops one after another in
    the calling thread, so the value is only recorded (``get_num_interop_threads``); as in PyTorch, it can be set
    once."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_interop_threads: expected a positive int, got {n!r}")
    if _interop_threads:
        raise RuntimeError("set_num_interop_threads: cannot set the number of interop threads after "
                           "set_num_interop_threads was called")
    _interop_threads.append(int(n))


def get_num_interop_threads() -> int:
    """``set_num_interop_threads``'s value, else the number of CPUs (PyTorch's default)."""
    return _interop_threads[0] if _interop_threads else os.cpu_count() or 1


def set_flush_denormal(mode: bool) -> bool:
    """PyTorch's switch for flushing subnormal floats to zero on the CPU. NumPy offers no control of the FPU's
    flush-to-zero mode, so minigrad cannot do it and returns False, as PyTorch does on CPUs without the feature."""
    if not isinstance(mode, (bool, np.bool_)):
        raise TypeError(f"set_flush_denormal: mode must be a bool, got {type(mode).__name__}")
    return False


# -- warnings PyTorch gives once per process ---------------------------------------------------------------
_warn_always = [False]
_warned: set = set()


def set_warn_always(b: bool) -> None:
    """Give the warnings that minigrad, as PyTorch, gives once per process (deprecated spellings such as
    ``minigrad.qr``) every time instead (``True``), or once again (``False``)."""
    if not isinstance(b, (bool, np.bool_)):
        raise TypeError(f"set_warn_always: expects a bool, got {type(b).__name__}")
    _warn_always[0] = bool(b)


def is_warn_always_enabled() -> bool:
    return _warn_always[0]


def warn_once(message: str, category=UserWarning, stacklevel: int = 3) -> None:
    """``warnings.warn`` the first time per process for this message (PyTorch's ``TORCH_WARN_ONCE``), every time
    after ``set_warn_always(True)``."""
    if message in _warned and not _warn_always[0]:
        return
    _warned.add(message)
    warnings.warn(message, category, stacklevel=stacklevel)


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


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode) -> None:
    """``use_deterministic_algorithms`` by PyTorch's other spelling: 0 or "default" (off), 1 or "warn"
    (``warn_only=True``), 2 or "error" (on)."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"set_deterministic_debug_mode: invalid mode {debug_mode!r}; expected 'default', "
                               "'warn' or 'error'")
        debug_mode = _DEBUG_MODES[debug_mode]
    if isinstance(debug_mode, bool) or not isinstance(debug_mode, (int, np.integer)):
        raise TypeError(f"set_deterministic_debug_mode: debug_mode must be a str or an int, got "
                        f"{type(debug_mode).__name__}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"set_deterministic_debug_mode: invalid mode {debug_mode}; expected 0, 1 or 2")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    """0 (off), 1 (warn only) or 2 (error): ``use_deterministic_algorithms``'s state."""
    if not _deterministic["enabled"]:
        return 0
    return 1 if _deterministic["warn_only"] else 2


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


# -- float32 matmul precision -------------------------------------------------------------------------------
_matmul_precision = ["highest"]


def set_float32_matmul_precision(precision: str) -> None:
    """PyTorch's permission to compute float32 matmuls faster and less accurately ("high": TF32, "medium":
    bfloat16 passes). minigrad's backends always compute them in full float32, which every setting allows: the
    setting is recorded (``get_float32_matmul_precision``) and results stay "highest"."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got {precision!r}")
    _matmul_precision[0] = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision[0]


# -- print options -----------------------------------------------------------------------------------------
_DEFAULT_PRINT = {"precision": 8, "threshold": 200, "edgeitems": 3, "linewidth": 75, "sci_mode": None}
PRINT_OPTIONS = dict(_DEFAULT_PRINT)  # read by Tensor.__repr__


def set_printoptions(precision: int | None = None, threshold: int | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """How tensors print, as ``torch.set_printoptions``: ``precision`` digits, summarised (``edgeitems`` per edge)
    beyond ``threshold`` elements, lines of ``linewidth``, ``sci_mode`` True/False to force or forbid scientific
    notation (None: automatic). ``profile`` "default" restores minigrad's defaults (NumPy's 8 digits, threshold
    200), "short" is 2 digits and 2 edge items, "full" never summarises; the other arguments then apply on top."""
    if profile is not None:
        if profile not in ("default", "short", "full"):
            raise ValueError(f"set_printoptions: profile must be 'default', 'short' or 'full', got {profile!r}")
        PRINT_OPTIONS.update(_DEFAULT_PRINT)
        if profile == "short":
            PRINT_OPTIONS.update(precision=2, edgeitems=2)
        elif profile == "full":
            PRINT_OPTIONS.update(threshold=2 ** 63 - 1)
    for key, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                       ("linewidth", linewidth)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"set_printoptions: {key} must be an int >= 0, got {value!r}")
            PRINT_OPTIONS[key] = value
    if sci_mode is not None or profile is not None:
        PRINT_OPTIONS["sci_mode"] = None if sci_mode is None else bool(sci_mode)


def format_array(array: np.ndarray, prefix: str) -> str:
    """``array`` as ``np.array2string`` prints it under the print options (for ``Tensor.__repr__``)."""
    o = PRINT_OPTIONS
    formatter = None
    if o["sci_mode"] and array.dtype.kind == "f":
        formatter = {"float_kind": lambda v: np.format_float_scientific(v, precision=o["precision"], unique=False)}
    return np.array2string(array, separator=", ", prefix=prefix, threshold=o["threshold"], edgeitems=o["edgeitems"],
                           max_line_width=o["linewidth"], precision=o["precision"],
                           suppress_small=o["sci_mode"] is False, formatter=formatter)
