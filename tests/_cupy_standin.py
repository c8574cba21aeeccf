"""A CPU stand-in for the CuPy backend, for tests only (never offered to users as a backend).

``CupyStandIn`` is ``CupyBackend`` itself with NumPy as its array module and SciPy/NumPy in place of cupyx,
while its kernels run under Numba's CUDA simulator (tests/conftest.py). So every line of the backend's own
Python code and every kernel runs in CI. What it cannot show: that CuPy's functions behave exactly as
NumPy's (CuPy documents its differences), device memory and streams, speed, and the absence of a host
round trip hidden in a NumPy call that CuPy would refuse. Those need a GPU (benchmarks/gpu_check.sh).
"""

from __future__ import annotations

import types

import numpy as np
from minigrad_backends.cupy_backend import CupyBackend
from minigrad_backends.numpy_backend import NumpyBackend

NAME = "cupy-standin"


def _scatter_add(a, index, values) -> None:
    np.add.at(a, index, values)


def _cupyx_standin():
    import scipy.special

    return types.SimpleNamespace(scatter_add=_scatter_add, scipy=types.SimpleNamespace(special=scipy.special))


class CupyStandIn(CupyBackend):
    """The CuPy backend's code on NumPy arrays, with simulated CUDA kernels."""

    name = NAME

    # NumPy's generator: its state is NumPy's (CuPy's raises).
    get_rng_state = NumpyBackend.get_rng_state
    set_rng_state = NumpyBackend.set_rng_state

    def __init__(self) -> None:
        super().__init__(xp=np, xpx=_cupyx_standin())

    def describe(self) -> str:
        return "NumPy stand-in for CuPy (tests only)"

    def to_numpy(self, array) -> np.ndarray:
        return np.array(array, copy=True)  # a copy, as from a device

    @classmethod
    def check_available(cls) -> None:
        import numba.cuda  # noqa: F401  (numba-cuda)
        from numba import config

        if not config.ENABLE_CUDASIM:
            raise RuntimeError("the CuPy stand-in needs Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1)")
