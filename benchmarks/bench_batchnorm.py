"""BatchNorm training forward+backward: fused vs composite, Numba vs PyTorch CPU, vs a copy's bandwidth.

Each shape also gets one line for the eval-mode forward (running statistics), fused and composite.

Ratios are taken within this one run. For each shape the candidates are timed round-robin and keep their
fastest sample (``benchmarks/_timing.py``), so load from other processes hits them alike, in three groups
timed one after the other: the copy, the streaming floor and the Numba candidates (fused, composite,
kernels only); the NumPy candidates; PyTorch. Kept apart, no group's spinning threads (OpenBLAS's,
PyTorch's OpenMP pool) slow another group's candidates. Run:

    python benchmarks/bench_batchnorm.py [--repeat 9] [--malloc retain|system] [--shapes 4096x1024,...] [--no-torch]
    python benchmarks/bench_batchnorm.py --paths --shapes 256x100x2,16x256x4x4   # the Numba designs

Targets: fused >= 2x faster than composite at (4096, 1024) and (32, 64, 32, 32) on NumPy and Numba; Numba
fused <= 1.3x the streaming floor and <= 0.7x PyTorch at (4096, 1024), and <= 0.6x PyTorch at
(32, 64, 32, 32).

Two lower bounds are printed. The *8-pass bound* is four single-threaded copies (``np.copyto``): the
forward reads x twice and writes y, the backward reads dy and x twice and writes dx. The *streaming floor*
runs those same eight passes on two threads with trivial arithmetic (``streaming_floor``), and it includes
the cache effects of the real step. No kernel with this pass structure can beat it.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import add_malloc_option, compare_groups, import_torch, malloc_from_option  # noqa: E402

import minigrad  # noqa: E402
from minigrad.ops.batchnorm import batch_norm  # noqa: E402
from minigrad.tensor import Tensor  # noqa: E402

SHAPES = [(60, 100), (256, 1024), (4096, 1024), (32, 64, 32, 32)]
# The targets: composite/fused at least 2x on both backends at the two large shapes, and the Numba fused
# step at most these fractions of the streaming floor's and of PyTorch's time.
SPEEDUP_SHAPES = {(4096, 1024), (32, 64, 32, 32)}
FLOOR_MULTIPLE = {(4096, 1024): 1.3}
TORCH_FRACTION = {(4096, 1024): 0.7, (32, 64, 32, 32): 0.6}


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
        return x.grad

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
        return x.grad

    return step


def minigrad_eval_step(backend, x0, fused: bool):
    """Eval-mode forward (running statistics), no graph."""
    c = x0.shape[1]
    x = Tensor(backend.from_numpy(x0), backend)
    w, b, rm, rv = (Tensor(backend.from_numpy(np.full(c, v, np.float32)), backend) for v in (1.5, 0.5, 3.0, 4.0))

    def step():
        with minigrad.no_grad():
            return batch_norm(x, rm, rv, w, b, training=False, fused=fused)

    return step


def torch_eval_step(x0):
    import torch

    c = x0.shape[1]
    x = torch.tensor(x0)
    w, b, rm, rv = (torch.full((c,), v) for v in (1.5, 0.5, 3.0, 4.0))

    def step():
        with torch.no_grad():
            return torch.nn.functional.batch_norm(x, rm, rv, w, b, training=False)

    return step


def backend_candidates(label: str, backend, x0, g0) -> dict:
    """The fused and composite steps, the bare kernels, and both eval forwards, on one backend."""
    return {f"{label} fused": minigrad_step(backend, x0, g0, True),
            f"{label} composite": minigrad_step(backend, x0, g0, False),
            f"{label} kernels": kernel_step(backend, x0, g0),
            f"{label} eval fused": minigrad_eval_step(backend, x0, True),
            f"{label} eval composite": minigrad_eval_step(backend, x0, False)}


def streaming_floor(x0, g0):
    """The fused step's memory traffic with trivial arithmetic, as Numba row-chunk kernels on all threads:
    a column sum of x, y = 2x, column sums of dy and dy * x, dx = 2 dy + x. Returns None without Numba."""
    try:
        import numba
        from numba import njit, prange
    except ImportError:
        return None

    @njit(parallel=True, fastmath=True, nogil=True)
    def column_sums(a, b, chunks):
        n, c = a.shape
        rows = -(-n // chunks)
        acc = np.zeros((chunks, c), a.dtype)
        for t in prange(chunks):
            for i in range(t * rows, min(n, (t + 1) * rows)):
                ar, br = a[i], b[i]
                for j in range(c):
                    acc[t, j] += ar[j] * br[j]
        return acc

    @njit(parallel=True, fastmath=True, nogil=True)
    def write(a, b, out, chunks):
        n, c = a.shape
        rows = -(-n // chunks)
        for t in prange(chunks):
            for i in range(t * rows, min(n, (t + 1) * rows)):
                ar, br, o = a[i], b[i], out[i]
                for j in range(c):
                    o[j] = 2 * ar[j] + br[j]

    x2, g2 = x0.reshape(x0.shape[0], -1), g0.reshape(g0.shape[0], -1)
    chunks = numba.get_num_threads()

    def step():
        column_sums(x2, x2, chunks)  # the forward: statistics (one read of x) ...
        write(x2, x2, np.empty_like(x2), chunks)  # ... and y (x read again, y written)
        sums = column_sums(g2, x2, chunks)  # the backward: the two sums (dy and x read) ...
        dx = np.empty_like(x2)
        write(g2, x2, dx, chunks)  # ... and dx (both read again, dx written)
        return sums, dx

    step.threads = chunks
    return step


def kernel_step(backend, x0, g0):
    """The backend kernels alone (no graph): forward, then backward."""
    w = np.ones(x0.shape[1], np.float32)
    b = np.zeros(x0.shape[1], np.float32)

    def step():
        out, mean, var = backend.batch_norm_forward(x0, w, b, 1e-5)
        return backend.batch_norm_backward(g0, x0, mean, 1.0 / np.sqrt(var + 1e-5), w)[0]

    return step


def numba_path_steps(x0, g0) -> dict:
    """The Numba kernels (forward, then backward) forced onto each parallel design that can run ``x0``;
    the one ``path_for`` picks is marked with a star."""
    from functools import partial
    from types import SimpleNamespace

    from minigrad_backends.numba_backend import batchnorm as kernels

    be = minigrad.backends.load("numba")
    chosen = kernels.path_for(x0, be.parallel_threshold)

    def forced(path):  # the kernels' module functions, as backend methods fixed to one design
        return SimpleNamespace(batch_norm_forward=partial(kernels.batch_norm_forward, path=path),
                               batch_norm_backward=partial(kernels.batch_norm_backward, path=path))

    return {path + ("*" if path == chosen else ""): kernel_step(forced(path), x0, g0)
            for path in ("serial", "blocks", "rows-serial", "rows")}


def compare_paths(shapes, repeat: int) -> None:
    """``--paths``: how the Numba designs compare, shape by shape (how ``_path``'s rules were set)."""
    rng = np.random.default_rng(0)
    for shape in shapes:
        x0 = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
        g0 = rng.standard_normal(shape).astype(np.float32)
        t = compare_groups([numba_path_steps(x0, g0)], repeat=repeat, min_time=0.03)
        print(f"{shape}: " + "  ".join(f"{name} {sec * 1e3:.3f} ms" for name, sec in t.items()))


def target_verdicts(shape: tuple, t: dict) -> list[str]:
    """One line per target that applies to ``shape``, from the times ``t`` of one run.

    A fraction-of-PyTorch target that the streaming floor itself misses in this run is reported as out of
    reach: no kernel that makes the step's eight passes can beat the floor.
    """
    lines = []
    if shape in SPEEDUP_SHAPES:
        for label in ("numpy", "numba"):
            if f"{label} fused" in t:
                ratio = t[f"{label} composite"] / t[f"{label} fused"]
                lines.append(f"{label} composite/fused {ratio:.2f}x, target >= 2x: {'met' if ratio >= 2 else 'missed'}")
    limit = FLOOR_MULTIPLE.get(shape)
    if limit is not None and "numba fused" in t and "floor" in t:
        ratio = t["numba fused"] / t["floor"]
        lines.append(f"numba fused/floor {ratio:.2f}x, target <= {limit}x: {'met' if ratio <= limit else 'missed'}")
    limit = TORCH_FRACTION.get(shape)
    if limit is not None and "numba fused" in t and "torch" in t:
        ratio = t["numba fused"] / t["torch"]
        line = f"numba fused/torch {ratio:.2f}x, target <= {limit}x: {'met' if ratio <= limit else 'missed'}"
        if ratio > limit and "floor" in t and t["floor"] / t["torch"] > limit:
            line += f" (out of reach in this run: the streaming floor alone is {t['floor'] / t['torch']:.2f}x)"
        lines.append(line)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="round-robin samples per candidate")
    parser.add_argument("--shapes", default=None,
                        help="comma-separated shapes, e.g. 256x1024,60x100,256x100x2 (default: the four in SHAPES)")
    parser.add_argument("--paths", action="store_true",
                        help="only compare the Numba kernels' parallel designs at the shapes (e.g. with "
                             "--shapes 256x100x2,16x256x4x4)")
    parser.add_argument("--no-torch", action="store_true",
                        help="leave PyTorch out even where it is installed (it is otherwise imported before "
                             "the Numba backend starts, as a user's script would; "
                             "benchmarks/bench_beside_torch.py compares the orders)")
    add_malloc_option(parser)
    args = parser.parse_args()
    malloc_label = malloc_from_option(args)
    shapes = SHAPES
    if args.shapes:
        wanted = {tuple(int(n) for n in s.split("x")) for s in args.shapes.split(",")}
        shapes = [s for s in SHAPES if s in wanted] + sorted(wanted - set(SHAPES))
    if args.paths:
        if minigrad.backends.available().get("numba") is not True:
            raise SystemExit("--paths needs the numba backend")
        print("Numba BatchNorm fwd+bwd kernels, forced onto each design (* marks the one chosen)")
        compare_paths(shapes, args.repeat)
        return
    rng = np.random.default_rng(0)
    numpy_be = minigrad.backends.load("numpy")
    torch = None if args.no_torch else import_torch()  # before Numba's threads start: see import_torch
    numba_be, numba_label = numba_backend()
    if torch is not None:
        torch_label = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    else:
        torch_label = "torch left out" if args.no_torch else "torch not installed"
    policy = f" ({numba_be.threading_policy})" if numba_be is not None else ""
    print(f"backends: numpy; {numba_label}{policy}; {torch_label}; load average {os.getloadavg()[0]:.2f}"
          + f"; {malloc_label}")

    for shape in shapes:
        x0 = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
        g0 = rng.standard_normal(shape).astype(np.float32)
        mib = x0.nbytes / 2**20
        dst = np.empty_like(x0)
        dst.fill(0)  # touch the pages once: the copy then measures bandwidth, not page faults
        # Three comparisons, each round-robin within itself: OpenBLAS's threads (the NumPy kernels' column
        # sums) and PyTorch's OpenMP threads keep spinning after a call and slowed whichever candidate
        # came next, up to 2x for the Numba fused step at (32, 64, 32, 32).
        first = {"copy": lambda dst=dst, x0=x0: np.copyto(dst, x0)}  # one read + write pass
        # The floor only means something where the passes, not the thread launches, take the time.
        floor = streaming_floor(x0, g0) if numba_be is not None and x0.size >= 2**20 else None
        if floor is not None:
            first["floor"] = floor
        if numba_be is not None:
            first.update(backend_candidates("numba", numba_be, x0, g0))
        groups = [first, backend_candidates("numpy", numpy_be, x0, g0)]
        if torch is not None:
            groups.append({"torch": torch_step(x0, g0), "torch eval": torch_eval_step(x0)})
        t = compare_groups(groups, repeat=args.repeat, min_time=0.05)
        t_copy, t_torch = t["copy"], t.get("torch")
        print(f"\n{shape} float32 ({mib:.1f} MiB): copy {t_copy * 1e3:.3f} ms "
              f"-> 8-pass bound {4 * t_copy * 1e3:.2f} ms, 5-pass bound {2.5 * t_copy * 1e3:.2f} ms")
        t_floor = t.get("floor")
        if t_floor is not None:
            print(f"  streaming floor (8 passes, {floor.threads} threads)  {t_floor * 1e3:8.3f} ms"
                  + (f"  floor/torch {t_floor / t_torch:4.2f}x" if t_torch is not None else ""))
        if t_torch is not None:
            print(f"  torch CPU batch_norm fwd+bwd         {t_torch * 1e3:8.3f} ms")
        for label in ("numpy", "numba"):
            if f"{label} fused" not in t:
                continue
            t_fused, t_comp, t_kern = t[f"{label} fused"], t[f"{label} composite"], t[f"{label} kernels"]
            line = (f"  {label:5s} fused {t_fused * 1e3:8.3f} ms  composite {t_comp * 1e3:8.3f} ms  "
                    f"composite/fused {t_comp / t_fused:5.2f}x  kernels only {t_kern * 1e3:7.3f} ms")
            if label == "numba":
                line += f"  fused/8-pass bound {t_fused / (4 * t_copy):4.2f}"
                if t_floor is not None:
                    line += f"  fused/floor {t_fused / t_floor:4.2f}"
                if t_torch is not None:
                    line += f"  fused/torch {t_fused / t_torch:4.2f}x  kernels/torch {t_kern / t_torch:4.2f}x"
            print(line)
        evals = [f"{label} fused {t[f'{label} eval fused'] * 1e3:.3f} ms, composite "
                 f"{t[f'{label} eval composite'] * 1e3:.3f} ms"
                 for label in ("numpy", "numba") if f"{label} eval fused" in t]
        if "torch eval" in t:
            evals.append(f"torch {t['torch eval'] * 1e3:.3f} ms")
        print("  eval forward: " + "; ".join(evals))
        for verdict in target_verdicts(shape, t):
            print(f"  target: {verdict}")
    print(f"\nload average after: {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
    main()
