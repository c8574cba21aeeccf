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
``OMP_WAIT_POLICY=PASSIVE``. libgomp reads that variable once, when it is loaded, so it is set only while
Numba loads its threading layer and then removed: child processes keep their defaults.

Another OpenMP runtime may be loaded already. PyTorch's wheel loads its own copy of libgomp, with
``RTLD_GLOBAL``; Numba's layer links another file, so its libgomp is a fresh load that reads the passive
policy, but the dynamic linker would bind the layer's ``GOMP_*`` calls to the global copy first, and Numba's
kernels would run on PyTorch's spinning threads (docs/backends.md has the figures). The layer is therefore loaded
with ``RTLD_DEEPBIND``, which binds it to the libgomp it links; PyTorch's runtime keeps its own settings.
Only when that very file was loaded earlier (nothing new is mapped) is its spinning policy fixed, and then
we prefer ``workqueue``: do not run parallel kernels from two Python threads at once there (or set
``OMP_WAIT_POLICY=PASSIVE`` before starting Python). In the other order (minigrad's Numba backend started
first, then ``import torch``), PyTorch's library finds a libgomp already loaded under its name and uses it:
PyTorch's OpenMP threads then also sleep when idle.

Caveat of GNU OpenMP: a process forked from one that ran a parallel kernel must not run parallel kernels
itself (Numba aborts); use the ``spawn`` start method, or ``NUMBA_THREADING_LAYER=tbb``.
"""

from __future__ import annotations

import importlib
import os
import re
import sys

import numba
from numba.np.ufunc import parallel as _parallel

PREFERRED = ["omp", "tbb", "workqueue"]
PREFERRED_AFTER_LIBGOMP = ["workqueue", "tbb", "omp"]
_USER_LAYER = ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY")
_USER_WAIT = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_OPENMP_RUNTIME = re.compile(r"/lib[gi]?omp[^/]*$")  # GNU libgomp, LLVM libomp, Intel libiomp5


def _openmp_runtimes() -> set[str]:
    """The OpenMP runtime files mapped into this process (empty where ``/proc`` cannot tell)."""
    try:
        with open("/proc/self/maps") as maps:
            return {path for path in (line.split()[-1] for line in maps) if _OPENMP_RUNTIME.search(path)}
    except OSError:
        return set()


def _load_own_openmp() -> bool | None:
    """Load Numba's OpenMP layer and the runtime it links; whether that runtime is a fresh load, one whose
    settings the current environment decides (``None``: the layer is not installed).

    A runtime loaded earlier can be another copy of libgomp: PyTorch's wheel loads its own with
    ``RTLD_GLOBAL``, and the dynamic linker binds symbols to global libraries first, so Numba's parallel
    regions would run on PyTorch's spinning threads even though Numba's libgomp is loaded too.
    ``RTLD_DEEPBIND`` makes the layer bind to the runtime it links. If that file was loaded already (the
    same libgomp), nothing new is mapped and its settings are fixed.
    """
    before = _openmp_runtimes()
    deepbind = getattr(os, "RTLD_DEEPBIND", 0)
    if before and not deepbind:
        return False
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | deepbind if before else flags)
    try:
        importlib.import_module("numba.np.ufunc.omppool")
    except ImportError:
        return None
    finally:
        sys.setdlopenflags(flags)
    return not before or bool(_openmp_runtimes() - before)


def _configure() -> str:
    """Apply the policy (once: this module runs once per process) and describe the policy in use."""
    if numba.config.DISABLE_JIT:
        return "none (JIT disabled)"
    if _parallel._is_initialized:  # someone ran a parallel kernel first: too late to choose
        return f"{numba.threading_layer()} (started before minigrad's Numba backend)"
    user_layer = any(os.environ.get(k) for k in _USER_LAYER)
    user_wait = any(os.environ.get(k) for k in _USER_WAIT)
    may_use_omp = os.environ.get("NUMBA_THREADING_LAYER", "default").lower() not in ("tbb", "workqueue", "safe")
    if not user_wait:  # read by libgomp when it loads, so set only while Numba's layer loads
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        own = _load_own_openmp() if may_use_omp else None
        if not user_layer:
            # An OpenMP runtime loaded before ours with its default (spinning) wait policy starves OpenBLAS
            # (docs/backends.md). The pool-less workqueue layer avoids that, at the price of its thread caveat.
            spinning_omp = own is False and not user_wait
            numba.config.THREADING_LAYER_PRIORITY = PREFERRED_AFTER_LIBGOMP if spinning_omp else list(PREFERRED)
        _parallel._launch_threads()
    finally:
        if not user_wait:
            del os.environ["OMP_WAIT_POLICY"]
    layer = numba.threading_layer()
    chosen = "user's choice" if user_layer else "minigrad's default"
    if layer != "omp":
        return f"{layer} ({chosen})"
    if own and not user_wait:
        return f"omp, OMP_WAIT_POLICY=PASSIVE ({chosen})"
    wait = ", ".join(f"{k}={os.environ[k]}" for k in _USER_WAIT if os.environ.get(k))
    return f"omp, {wait or 'wait policy as found (its OpenMP runtime was loaded earlier)'} ({chosen})"


POLICY = _configure()
