"""NumPy's floating-point warnings off while minigrad computes, as in PyTorch.

PyTorch returns IEEE results (inf, NaN, a signed zero) without a word; NumPy warns ("divide by zero
encountered in log") from deep inside our backends, or raises under a ``warnings`` "error" filter, so a
script or test suite that runs quietly on PyTorch would not on minigrad. ``Function.apply`` and the
backward engine therefore run ops with NumPy's error state set to "ignore"; ``detect_anomaly()`` is the way
to find where a NaN appears, and it names the op.

NumPy >= 2 keeps that state in a context variable. Setting it to a prepared value costs ~0.15 us per op,
where entering ``np.errstate`` costs ~0.8 us, which the tiny-op benchmark (two ops and a backward) would
feel. Older NumPy takes the ``np.errstate`` way.
"""

from __future__ import annotations

import functools

import numpy as np

try:  # NumPy >= 2.0
    from numpy._core._ufunc_config import _extobj_contextvar as _state
except ImportError:  # pragma: no cover - NumPy 1.x
    _state = None

if _state is not None and hasattr(_state, "set"):
    with np.errstate(all="ignore"):
        _IGNORE = _state.get()

    def silence():
        """Switch NumPy's floating-point warnings off; returns the token for ``restore``."""
        return _state.set(_IGNORE)

    def restore(token) -> None:
        """Put back the error state that ``silence`` replaced."""
        _state.reset(token)

else:  # pragma: no cover - NumPy 1.x

    def silence():
        """Switch NumPy's floating-point warnings off; returns the token for ``restore``."""
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def restore(token) -> None:
        """Put back the error state that ``silence`` replaced."""
        token.__exit__(None, None, None)


def quiet(function):
    """``function`` run with NumPy's floating-point warnings off: for code that calls backend methods
    directly, outside ``Function.apply``."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        token = silence()
        try:
            return function(*args, **kwargs)
        finally:
            restore(token)

    return run
