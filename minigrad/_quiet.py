"""NumPy's floating-point warnings off while minigrad computes, as in PyTorch.

PyTorch returns IEEE results (inf, NaN, a signed zero) without a word; NumPy warns ("divide by zero
encountered in log") from deep inside our backends, or raises under a ``warnings`` "error" filter (pytest's
``filterwarnings = error``), so a script or test suite that runs quietly on PyTorch would not on minigrad.
``detect_anomaly()`` is the way to find where a NaN appears, and it names the op.

Two mechanisms, so that the ops themselves pay nothing (setting NumPy's error state around every op showed on
the tiny-op benchmark; docs/architecture.md):

- A ``warnings`` filter, installed at import, ignores the RuntimeWarnings that NumPy attributes to minigrad's
  own modules (NumPy names the Python frame that called the ufunc). Other code's warnings are untouched.
- Where an "error" filter installed later takes precedence (or the caller's ``np.errstate(...="raise")``),
  the warning arrives as an exception after NumPy has finished the computation. ``Function.apply`` then runs
  the op's forward again under ``np.errstate(all="ignore")`` (``again_quietly``); forwards compute new arrays,
  so running one twice is safe. In-place kernels have written their result by then, so their callers keep it.
- The backward engine does the same per node (a backward rule builds new tensors too), and keeps an in-place
  gradient sum that NumPy finished before raising. ``Optimizer.step`` runs under ``silence()`` (NumPy's error
  state set to "ignore" through its context variable, once a step): an update half done when an exception
  arrives is not something to run again.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

# The modules whose NumPy warnings are minigrad's: the package, its backends as installed, and the backends
# as a checkout imports them.
OWN_MODULES = r"(minigrad|minigrad_backends|backends)(\.|$)"
warnings.filterwarnings("ignore", category=RuntimeWarning, module=OWN_MODULES)

try:  # NumPy >= 2.0
    from numpy._core._ufunc_config import _extobj_contextvar as STATE  # noqa: N812 - a module constant here
except ImportError:  # pragma: no cover - NumPy 1.x
    STATE = None

if STATE is not None and hasattr(STATE, "set"):
    with np.errstate(all="ignore"):
        IGNORE = STATE.get()
else:  # pragma: no cover - NumPy 1.x: np.seterr, which is per thread there, behind the same three calls

    class _SeterrState:
        def get(self):
            return None  # never IGNORE: always set, and put back afterwards

        def set(self, _value):
            return np.seterr(all="ignore")

        def reset(self, old):
            np.seterr(**old)

    STATE, IGNORE = _SeterrState(), object()


def silence():
    """Switch NumPy's floating-point warnings off; returns the token for ``restore`` (None: already off)."""
    return STATE.set(IGNORE) if STATE.get() is not IGNORE else None


def restore(token) -> None:
    """Put back the error state that ``silence`` replaced."""
    if token is not None:
        STATE.reset(token)


def again_quietly(function, *args, **kwargs):
    """``function(*args, **kwargs)`` with NumPy's floating-point warnings off: the second run of a computation
    whose first run a warnings "error" filter turned into an exception."""
    token = STATE.set(IGNORE)
    try:
        return function(*args, **kwargs)
    finally:
        STATE.reset(token)


def quiet(function):
    """``function`` made silent under an "error" filter: a composite that calls backend methods directly,
    outside ``Function.apply``, runs again quietly if NumPy's warning arrives as an exception."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (RuntimeWarning, FloatingPointError):  # an "error" filter, or the caller's np.errstate(raise)
            return again_quietly(function, *args, **kwargs)

    return run
