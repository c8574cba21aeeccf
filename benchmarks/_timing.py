"""Shared timing helpers for the benchmark scripts.

Candidates are timed round-robin (A, B, A, B, ...) and each keeps its fastest sample, so that load from
other processes during the run hits every candidate alike and ratios stay meaningful.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def _sample(fn: Callable[[], object], min_time: float) -> float:
    calls = 0
    start = time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


def compare(candidates: dict[str, Callable[[], object]], *, repeat: int = 9, min_time: float = 0.05,
            warmup: int = 3) -> dict[str, float]:
    """Seconds per call of each candidate: the fastest of ``repeat`` interleaved samples."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    best = {name: float("inf") for name in candidates}
    for _ in range(repeat):
        for name, fn in candidates.items():
            best[name] = min(best[name], _sample(fn, min_time))
    return best


def compare_groups(groups: list[dict[str, Callable[[], object]]], **kwargs) -> dict[str, float]:
    """``compare`` for each group in turn, results merged.

    Candidates whose libraries keep threads spinning after a call (OpenBLAS after a GEMM, PyTorch's
    OpenMP pool) take a core from whichever candidate runs next in a round-robin: on 2 cores they made
    Numba's BatchNorm step 2x slower and PyTorch's CNN step ~25% slower. Each such library gets a group
    of its own, so that it only ever follows itself.
    """
    times: dict[str, float] = {}
    for group in groups:
        if group:
            times.update(compare(group, **kwargs))
    return times


def measure(fn: Callable[[], object], **kwargs) -> float:
    """Seconds per call of one function (see ``compare``)."""
    return compare({"fn": fn}, **kwargs)["fn"]


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} us"
    return f"{seconds * 1e3:8.2f} ms"


def print_times(times: dict[str, float], columns: dict[str, float], reference: float | None,
                against: str) -> None:
    """One row per candidate: its time per unit of each column (seconds / the column's count) and, when a
    reference time is given, its ratio to that reference."""
    print(f"{'':32s} " + " ".join(f"{name:>11s}" for name in columns) + (f"   x {against}" if reference else ""))
    for label, seconds in times.items():
        ratio = f"   {seconds / reference:6.2f}x" if reference else ""
        print(f"{label:32s} " + " ".join(f"{fmt(seconds / count):>11s}" for count in columns.values()) + ratio)


def import_torch():
    """``torch`` if installed, else None. Scripts that compare with PyTorch call this before minigrad starts
    Numba's threads, so that each library keeps its own OpenMP runtime at its defaults, as for a user who
    imports PyTorch first: PyTorch's idle threads spin, Numba's sleep. Imported after Numba's backend,
    PyTorch would reuse Numba's passive runtime and be timed in a setting its users do not have
    (docs/backends.md, threading policy)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def retain_freed_memory() -> str:
    """Stop glibc from handing freed blocks back to the OS; returns a label for the report.

    With glibc's own heuristics, depending on the order in which a step frees its outputs and on what
    ran before, a freed 16 MiB block may go back to the OS and be page-faulted in again at the next step.
    That moved single candidates by up to 1.9x from run to run (PyTorch's step had ~4000 faults in one
    loop), which says nothing about the kernels. It is process-wide, so only the benchmarks do it
    (``--malloc system`` in the scripts that call it keeps glibc's heuristics).
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        if libc.mallopt(m_trim_threshold, 1 << 30) and libc.mallopt(m_mmap_threshold, 1 << 29):
            return "freed memory retained (mallopt)"
    except (OSError, AttributeError):
        pass
    return "system malloc (mallopt unavailable)"


def add_malloc_option(parser) -> None:
    """``--malloc retain|system`` on a script's parser; ``malloc_from_option`` applies it."""
    parser.add_argument("--malloc", choices=("retain", "system"), default="retain",
                        help="retain: keep freed memory in the process (glibc mallopt; default), so that no "
                             "candidate page-faults its freed arrays back in at the next call; system: glibc's "
                             "own heuristics")


def malloc_from_option(args) -> str:
    """Apply ``--malloc`` (``add_malloc_option``); returns a label for the report."""
    return retain_freed_memory() if args.malloc == "retain" else "system malloc"


def limit_blas_threads(threads: int | None) -> None:
    """Cap BLAS threads (through threadpoolctl) for the rest of the run; ``None`` keeps library defaults."""
    if not threads:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise SystemExit("--threads needs threadpoolctl (pip install threadpoolctl)") from None
    threadpool_limits(threads, user_api="blas")
