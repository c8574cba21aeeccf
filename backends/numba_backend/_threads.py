"""The process-wide threading policy for the parallel kernels, applied once, before Numba starts threads.

Measured on 2 cores with NumPy's OpenBLAS (``benchmarks/bench_numba.py`` prints the policy in use):

- Numba's default picks ``tbb`` if installed, else ``omp`` (GNU OpenMP). libgomp's default wait policy
  spins its idle threads for a while after every parallel region; they then fight OpenBLAS's threads
  (which also spin) and the next NumPy call for the cores: a 512x512 GEMM after a parallel kernel took 17x
  its time, and the kernels themselves lost 2-4x.
- ``omp`` with ``OMP_WAIT_POLICY=PASSIVE`` (idle threads sleep at once) costs ~15 us to wake a thread,
  leaves GEMMs alone, and is thread-safe: two Python threads may run parallel kernels at once.
- ``workqueue`` has no spinning pool but aborts the process when two threads launch parallel kernels at
  once (our kernels release the GIL), and measured slower next to OpenBLAS (~120 us per launch).
- ``tbb`` (the ``tbb`` wheel) is thread- and fork-safe, but its workers also spin: 4x slower than passive
  omp on GEMM-then-kernel sequences, and it is one more binary dependency.

So, unless the user chose (``NUMBA_THREADING_LAYER``, ``NUMBA_THREADING_LAYER_PRIORITY``, ``OMP_WAIT_POLICY``
or ``GOMP_SPINCOUNT`` set, or Numba's threads already running), we prefer ``omp`` and start it with
``OMP_WAIT_POLICY=PASSIVE``. When libgomp is already loaded (PyTorch imported first), its policy is fixed
and spinning, so we prefer ``workqueue`` instead: then do not run parallel kernels from two Python threads
at once (or set ``OMP_WAIT_POLICY=PASSIVE`` in the environment before starting Python).
libgomp reads that variable once, when it is loaded, so it is set only while
Numba loads its threading layer and then restored: child processes and other OpenMP runtimes (PyTorch
bundles its own) keep their defaults. Caveat of GNU OpenMP: a process forked from one that ran a parallel
kernel must not run parallel kernels itself (Numba aborts); use the ``spawn`` start method, or
``NUMBA_THREADING_LAYER=tbb``.
"""

from __future__ import annotations

import os

import numba
from numba.np.ufunc import parallel as _parallel

PREFERRED = ["omp", "tbb", "workqueue"]
PREFERRED_AFTER_LIBGOMP = ["workqueue", "tbb", "omp"]
_USER_LAYER = ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY")
_USER_WAIT = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def _libgomp_loaded() -> bool:
    try:
        with open("/proc/self/maps") as maps:
            return "libgomp" in maps.read()
    except OSError:  # not Linux: assume not loaded
        return False


def _configure() -> str:
    """Apply the policy (once: this module runs once per process) and describe the policy in use."""
    if numba.config.DISABLE_JIT:
        return "none (JIT disabled)"
    if _parallel._is_initialized:  # someone ran a parallel kernel first: too late to choose
        return f"{numba.threading_layer()} (started before minigrad's Numba backend)"
    user_layer = any(os.environ.get(k) for k in _USER_LAYER)
    user_wait = any(os.environ.get(k) for k in _USER_WAIT)
    preloaded = _libgomp_loaded()
    if not user_layer:
        # Once libgomp is loaded (``import torch`` before minigrad does it) its wait policy can no longer be
        # made passive, and its spinning threads starved OpenBLAS: a Linear+BatchNorm step took 7.5 ms
        # instead of 0.3 ms. The pool-less workqueue layer avoids that, at the price of its thread caveat.
        spinning_omp = preloaded and not user_wait
        numba.config.THREADING_LAYER_PRIORITY = PREFERRED_AFTER_LIBGOMP if spinning_omp else list(PREFERRED)
    passive = not user_wait and not preloaded
    if passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        _parallel._launch_threads()
    finally:
        if passive:
            del os.environ["OMP_WAIT_POLICY"]
    layer = numba.threading_layer()
    chosen = "user's choice" if user_layer else "minigrad's default"
    if layer != "omp":
        return f"{layer} ({chosen})"
    if passive:
        return f"omp, OMP_WAIT_POLICY=PASSIVE ({chosen})"
    wait = ", ".join(f"{k}={os.environ[k]}" for k in _USER_WAIT if os.environ.get(k))
    return f"omp, {wait or 'wait policy as found (libgomp was loaded earlier)'} ({chosen})"


POLICY = _configure()
