"""One training step of a small CNN, minigrad against PyTorch CPU, as ratios measured in one run.

The model: Conv2d(1, 16, 3, padding=1)-BatchNorm2d-ReLU-MaxPool2d(2) ->
Conv2d(16, 32, 3, padding=1)-BatchNorm2d-ReLU-MaxPool2d(2) -> Flatten -> Linear(32 * 7 * 7, 10), float32, on a
batch of 32 images of 28 x 28. A step is forward, softmax cross-entropy, ``zero_grad``, backward and a plain
SGD update, on the same batch every time (data loading is not part of it).

- minigrad: the numpy backend, and numba when it loads, with fused BatchNorm (the default); ``--composite``
  adds composite-BatchNorm variants.
- PyTorch: the same architecture, started from minigrad's initial weights (the first step's losses are
  printed side by side as a check that both compute the same thing). Skipped cleanly when not installed.

The first step's wall time is printed per candidate too: on Numba with an empty cache it holds the kernels'
compilation (``NUMBA_CACHE_DIR=$(mktemp -d)`` to see it).

Candidates are timed round-robin and each keeps its fastest sample (``benchmarks/_timing.py``), so load from
other processes hits all of them alike; PyTorch is timed in a round-robin of its own (``compare_groups``).
``--breakdown`` prints instead where one step's time goes: the time inside each op's forward and backward
(exclusive of the ops it calls), per op and input shape, for each backend.
Run: ``python benchmarks/bench_cnn.py [--batch-size 32] [--threads N] [--mnist DIR] [--breakdown]
[--malloc retain|system]``. Multi-threaded BLAS and PyTorch suffer badly when other processes load the
machine: compare figures from a quiet machine, or with ``--threads 1`` for both sides.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import (  # noqa: E402
    add_malloc_option,
    compare_groups,
    import_torch,
    limit_blas_threads,
    malloc_from_option,
    print_times,
)

import minigrad as mg  # noqa: E402
from minigrad import nn, optim  # noqa: E402

LR = 0.01


def minigrad_model(fused: bool = True) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16, fused=fused), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32, fused=fused), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )


def initial_state() -> dict[str, np.ndarray]:
    """The initial weights and buffers, from minigrad's initialisers under a fixed seed, as NumPy arrays."""
    mg.manual_seed(0)
    with mg.backend("numpy"):
        return {name: t.numpy().copy() for name, t in minigrad_model().state_dict().items()}


def minigrad_step(state: dict, x: np.ndarray, y: np.ndarray, backend: str, fused: bool):
    with mg.backend(backend):
        model = minigrad_model(fused)
        model.load_state_dict({name: mg.tensor(value) for name, value in state.items()})
        xb, yb = mg.tensor(x), mg.tensor(y)
    opt = optim.SGD(model.parameters(), lr=LR)

    def step():
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def torch_step(state: dict, x: np.ndarray, y: np.ndarray):
    try:
        import torch
    except ImportError:
        return None
    tnn = torch.nn
    model = tnn.Sequential(
        tnn.Conv2d(1, 16, 3, padding=1), tnn.BatchNorm2d(16), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, 3, padding=1), tnn.BatchNorm2d(32), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10),
    )
    model.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in state.items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xb, yb = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def breakdown(step, steps: int = 30, rounds: int = 5, top: int = 16) -> None:
    """Print the time spent inside each op's forward and backward during a step (the fastest of ``rounds``
    rounds of ``steps`` steps), exclusive of the ops it calls; the rest is the engine, the optimizer, Python."""
    from minigrad.function import Function

    spent: dict = collections.defaultdict(float)
    stack: list[float] = []

    def timed(cls, name):
        method = cls.__dict__[name].__func__

        def run(*args, **kwargs):
            shape = next((tuple(a.shape) for a in args[1:] if hasattr(a, "shape")), ())
            start = time.perf_counter()
            stack.append(0.0)
            try:
                return method(*args, **kwargs)
            finally:
                elapsed, inner = time.perf_counter() - start, stack.pop()
                spent[f"{cls.__name__}.{name} {shape}"] += elapsed - inner
                if stack:
                    stack[-1] += elapsed
        return staticmethod(run)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for _ in range(3):
        step()
    originals = {(cls, name): cls.__dict__[name] for cls in set(subclasses(Function))
                 for name in ("forward", "backward") if isinstance(cls.__dict__.get(name), staticmethod)}
    for (cls, name) in originals:
        setattr(cls, name, timed(cls, name))
    try:
        best = None
        for _ in range(rounds):
            spent.clear()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            total = (time.perf_counter() - start) / steps
            if best is None or total < best[0]:
                best = (total, {k: v / steps for k, v in spent.items()})
    finally:
        for (cls, name), method in originals.items():
            setattr(cls, name, method)
    total, per_op = best
    print(f"  step {total * 1e3:.2f} ms, in ops {sum(per_op.values()) * 1e3:.2f} ms:")
    for key, seconds in sorted(per_op.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {seconds * 1e3:8.3f} ms  {key}")


def batch(size: int, mnist: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    if mnist:
        from minigrad.data import datasets

        images, labels = datasets.mnist(mnist, train=False)
        x = np.asarray(images[:size], np.float32).reshape(size, 1, 28, 28)
        return x, np.asarray(labels[:size], np.int64), "MNIST test images"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size, 1, 28, 28)).astype(np.float32)
    return x, rng.integers(0, 10, size).astype(np.int64), "random N(0, 1) images"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--mnist", metavar="DIR", default=None, help="use MNIST test images from DIR (default: random)")
    p.add_argument("--composite", action="store_true", help="also time composite (unfused) BatchNorm")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--breakdown", action="store_true", help="print each op's share of a step instead")
    p.add_argument("--threads", type=int, default=None,
                   help="cap BLAS (via threadpoolctl) and PyTorch intra-op threads; default: library defaults")
    add_malloc_option(p)
    args = p.parse_args()
    malloc_label = malloc_from_option(args)
    import_torch()  # before minigrad starts Numba: each keeps its own OpenMP runtime
    limit_blas_threads(args.threads)  # PyTorch gets torch.set_num_threads below

    x, y, source = batch(args.batch_size, args.mnist)
    state = initial_state()
    print(f"one training step: batch {args.batch_size} x 1 x 28 x 28 ({source}), float32, "
          "[Conv3x3-BN-ReLU-MaxPool2] x 2 (16, 32 channels) - Linear(1568, 10), cross-entropy, SGD")
    print(f"{malloc_label}; load average {os.getloadavg()[0]:.2f}")

    candidates = {"minigrad numpy": minigrad_step(state, x, y, "numpy", True)}
    if args.composite:
        candidates["minigrad numpy, composite BN"] = minigrad_step(state, x, y, "numpy", False)
    status = mg.backends.available()
    if status.get("numba") is True:
        candidates["minigrad numba"] = minigrad_step(state, x, y, "numba", True)
        if args.composite:
            candidates["minigrad numba, composite BN"] = minigrad_step(state, x, y, "numba", False)
    else:
        print(f"(numba skipped: {status.get('numba')})")
    if args.breakdown:
        for label, fn in candidates.items():
            print(label)
            breakdown(fn)
        return
    torch_candidate = torch_step(state, x, y)
    if torch_candidate is not None:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        print("(PyTorch not installed: minigrad timings only)")

    # The first step of every candidate from the same weights: the losses must agree (a sanity check that the
    # models match, not a test). Later steps differ slightly: float32 rounding differs per implementation.
    groups = [candidates, {"torch": torch_candidate} if torch_candidate is not None else {}]
    first, first_time = {}, {}
    for label, fn in ((label, fn) for group in groups for label, fn in group.items()):
        start = time.perf_counter()
        first[label] = fn()
        first_time[label] = time.perf_counter() - start
    print("first-step loss: " + ", ".join(f"{label} {loss:.6f}" for label, loss in first.items()))
    # What a user waits for before the first step ends: Numba's compilation, when its cache is empty.
    print("first step, wall: " + ", ".join(f"{label} {t:.2f} s" for label, t in first_time.items()))

    # PyTorch in a group of its own: OpenBLAS's threads, spinning after minigrad's GEMMs, slowed it ~25%.
    times = compare_groups(groups, repeat=args.repeat, min_time=0.2, warmup=2)
    print_times(times, {"per step": 1}, times.get("torch"), "PyTorch")


if __name__ == "__main__":
    main()
