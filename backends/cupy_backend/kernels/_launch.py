"""Launch geometry shared by the kernels."""

from __future__ import annotations

import math

from numba import config, cuda

SIMULATED = bool(config.ENABLE_CUDASIM)  # Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), not a device
# Threads per block: of the elementwise kernels, and of the row kernels (one block per row; a power of
# two). The simulator runs every thread as a Python thread, so CI simulates smaller blocks: the same
# code, with fewer threads to wait for. Row kernels wait at a barrier per step of the block reduction,
# so under the simulator they use 8 threads (3 steps, not 5 of 32): rows longer than the block (its
# strided loop) then appear from 9 columns on, and a shorter row still leaves threads idle.
THREADS = 32 if SIMULATED else 256
ROW_THREADS = 8 if SIMULATED else 128
MAX_BLOCKS = 65535  # grid-stride loops cover the rest


def blocks(n: int, threads: int = THREADS) -> int:
    """Blocks for ``n`` items of work, at least one, at most MAX_BLOCKS (the kernels loop over the rest)."""
    return max(1, min(MAX_BLOCKS, math.ceil(n / threads)))


@cuda.jit(device=True, inline="always")
def block_sum(shared, value):
    """Sum of ``value`` over the threads of a one-dimensional block of ROW_THREADS threads."""
    t = cuda.threadIdx.x
    shared[t] = value
    cuda.syncthreads()
    step = ROW_THREADS // 2
    while step > 0:
        if t < step:
            shared[t] += shared[t + step]
        cuda.syncthreads()
        step //= 2
    total = shared[0]
    cuda.syncthreads()  # the caller may reuse ``shared`` right away
    return total


@cuda.jit(device=True, inline="always")
def block_max(shared, value):
    """Maximum of ``value`` over the threads of a one-dimensional block of ROW_THREADS threads."""
    t = cuda.threadIdx.x
    shared[t] = value
    cuda.syncthreads()
    step = ROW_THREADS // 2
    while step > 0:
        if t < step and shared[t + step] > shared[t]:
            shared[t] = shared[t + step]
        cuda.syncthreads()
        step //= 2
    total = shared[0]
    cuda.syncthreads()
    return total
