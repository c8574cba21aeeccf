"""BatchNorm training forward+backward: fused vs composite, Numba vs PyTorch CPU, vs a copy's bandwidth.

Ratios are taken within this one run. Times are the best of ``--repeat`` calls after a warm-up (the
least disturbed by other load on a shared machine; ``--stat median`` for medians). Run:

    python benchmarks/bench_batchnorm.py [--repeat 30]

Targets (issue 4): fused >= 2x faster than composite at (4096, 1024) and (32, 64, 32, 32) on NumPy and
Numba; Numba fused <= 0.5x PyTorch at (4096, 1024) and <= 1.0x at (32, 64, 32, 32).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import minigrad
from minigrad.ops.batchnorm import batch_norm
from minigrad.tensor import Tensor

SHAPES = [(60, 100), (256, 1024), (4096, 1024), (32, 64, 32, 32)]


STAT = min


def timed(fn, repeat: int) -> float:
    """Seconds per call (``STAT`` of ``repeat`` calls); the first calls (JIT compilation) are not counted."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return STAT(times)


def numba_backend():
    """The registered Numba backend (its BatchNorm kernels are in ``numba_backend/batchnorm.py``)."""
    if minigrad.backends.available().get("numba") is not True:
        return None, "numba unavailable"
    return minigrad.backends.load("numba"), "numba"


def minigrad_step(backend, x0, g0, fused: bool):
    c = x0.shape[1]
    x = Tensor(backend.from_numpy(x0), backend, requires_grad=True)
    g = Tensor(backend.from_numpy(g0), backend)
    w = Tensor(backend.from_numpy(np.ones(c, np.float32)), backend, requires_grad=True)
    b = Tensor(backend.from_numpy(np.zeros(c, np.float32)), backend, requires_grad=True)
    rm = Tensor(backend.from_numpy(np.zeros(c, np.float32)), backend)
    rv = Tensor(backend.from_numpy(np.ones(c, np.float32)), backend)

    def step():
        x.grad = w.grad = b.grad = None
        y = batch_norm(x, rm, rv, w, b, training=True, fused=fused)
        y.backward(g)

    return step


def torch_step(x0, g0):
    import torch

    c = x0.shape[1]
    x = torch.tensor(x0, requires_grad=True)
    g = torch.tensor(g0)
    w = torch.ones(c, requires_grad=True)
    b = torch.zeros(c, requires_grad=True)
    rm, rv = torch.zeros(c), torch.ones(c)

    def step():
        x.grad = w.grad = b.grad = None
        y = torch.nn.functional.batch_norm(x, rm, rv, w, b, training=True)
        y.backward(g)

    return step


def kernel_step(backend, x0, g0):
    """The backend kernels alone (no graph): forward, then backward."""
    w = np.ones(x0.shape[1], np.float32)
    b = np.zeros(x0.shape[1], np.float32)

    def step():
        out, mean, var = backend.batch_norm_forward(x0, w, b, 1e-5)
        backend.batch_norm_backward(g0, x0, mean, 1.0 / np.sqrt(var + 1e-5), w)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--stat", choices=["min", "median"], default="min")
    args = parser.parse_args()
    global STAT
    STAT = min if args.stat == "min" else statistics.median
    rng = np.random.default_rng(0)
    numpy_be = minigrad.backends.load("numpy")
    numba_be, numba_label = numba_backend()
    try:
        import torch

        torch_label = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        torch = None
        torch_label = "torch not installed"
    print(f"backends: numpy; {numba_label}; {torch_label}")

    for shape in SHAPES:
        x0 = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
        g0 = rng.standard_normal(shape).astype(np.float32)
        mib = x0.nbytes / 2**20
        dst = np.empty_like(x0)
        dst.fill(0)  # touch the pages once: the copy then measures bandwidth, not page faults
        t_copy = timed(lambda dst=dst, x0=x0: np.copyto(dst, x0), args.repeat)  # read + write pass
        print(f"\n{shape} float32 ({mib:.1f} MiB): copy {t_copy * 1e3:.3f} ms "
              f"-> 8-pass bound {4 * t_copy * 1e3:.2f} ms, 5-pass bound {2.5 * t_copy * 1e3:.2f} ms")
        t_torch = timed(torch_step(x0, g0), args.repeat) if torch is not None else None
        if t_torch is not None:
            print(f"  torch CPU batch_norm fwd+bwd         {t_torch * 1e3:8.3f} ms")
        for label, be in (("numpy", numpy_be), ("numba", numba_be)):
            if be is None:
                continue
            t_fused = timed(minigrad_step(be, x0, g0, True), args.repeat)
            t_comp = timed(minigrad_step(be, x0, g0, False), args.repeat)
            t_kern = timed(kernel_step(be, x0, g0), args.repeat)
            line = (f"  {label:5s} fused {t_fused * 1e3:8.3f} ms  composite {t_comp * 1e3:8.3f} ms  "
                    f"composite/fused {t_comp / t_fused:5.2f}x  kernels only {t_kern * 1e3:7.3f} ms")
            if label == "numba":
                line += f"  fused/8-pass bound {t_fused / (4 * t_copy):4.2f}"
                if t_torch is not None:
                    line += f"  fused/torch {t_fused / t_torch:4.2f}x  kernels/torch {t_kern / t_torch:4.2f}x"
            print(line)


if __name__ == "__main__":
    main()
