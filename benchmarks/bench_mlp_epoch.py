"""One training epoch of the main job's MLP, minigrad against PyTorch CPU, as ratios measured in one run.

The model is the one of ``examples/train.py``: in-128-BN-ReLU-128-BN-ReLU-10, SGD (Nesterov momentum 0.9,
weight decay 1e-4), softmax cross-entropy, shuffled mini-batches with ``drop_last``. An epoch is everything
the training loop does: shuffling, batching, forward, backward and the optimizer step.

- minigrad: ``DataLoader`` batches; numpy backend with fused and composite BatchNorm, numba if available.
- PyTorch: the fastest idiomatic loop (``randperm`` + index the tensors), and ``torch.utils.data.DataLoader``
  over a ``TensorDataset`` for reference. Skipped cleanly when PyTorch is not installed.

Data: the digits training split (1,438 x 64, the main job), or with ``--mnist DIR`` the official MNIST test
set's first 8,000 images (784 inputs). The minigrad loops are timed round-robin, and the PyTorch loops in
a round-robin of their own (``benchmarks/_timing.py``, ``compare_groups``). Run:
``python benchmarks/bench_mlp_epoch.py [--batch-size 64] [--threads N]``. Multi-threaded BLAS and PyTorch
suffer badly when other processes load the machine: compare figures from a quiet machine, or with
``--threads 1`` for both sides.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import compare_groups, import_torch, limit_blas_threads, print_times  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad import nn, optim  # noqa: E402
from minigrad.data import DataLoader, datasets  # noqa: E402

HIDDEN = 128


def minigrad_epoch(x: np.ndarray, y: np.ndarray, batch: int, backend: str, fused: bool):
    with mg.backend(backend):
        mg.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(x.shape[1], HIDDEN), nn.BatchNorm1d(HIDDEN, fused=fused), nn.ReLU(),
            nn.Linear(HIDDEN, HIDDEN), nn.BatchNorm1d(HIDDEN, fused=fused), nn.ReLU(),
            nn.Linear(HIDDEN, 10),
        )
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    loader = DataLoader((x, y), batch_size=batch, shuffle=True, drop_last=True, seed=0, backend=backend)

    def epoch():
        for xb, yb in loader:
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss.item()

    return epoch


def torch_epochs(x: np.ndarray, y: np.ndarray, batch: int):
    try:
        import torch
    except ImportError:
        return {}
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.BatchNorm1d(HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.BatchNorm1d(HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, 10),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt, yt), batch_size=batch, shuffle=True,
                                         drop_last=True, generator=generator)

    def step(xb, yb):
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    def indexed():
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, len(xt) - batch + 1, batch):
            idx = order[start:start + batch]
            loss = step(xt[idx], yt[idx])
        return loss.item()

    def with_loader():
        for xb, yb in loader:
            loss = step(xb, yb)
        return loss.item()

    return {"torch (randperm + index)": indexed, "torch (DataLoader)": with_loader}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--mnist", metavar="DIR", default=None,
                   help="use the first 8,000 images of the MNIST test set found in DIR instead of digits")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=None,
                   help="cap BLAS (via threadpoolctl) and PyTorch intra-op threads; default: library defaults")
    args = p.parse_args()
    import_torch()  # before minigrad starts Numba: each keeps its own OpenMP runtime
    limit_blas_threads(args.threads)  # PyTorch gets torch.set_num_threads below

    if args.mnist:
        x, y = datasets.mnist(args.mnist, train=False)
        x, y = x[:8000].reshape(8000, -1), y[:8000]
        name = "MNIST test set, first 8,000"
    else:
        x, y = datasets.digits(train=True)
        name = "digits training split"
    steps = len(x) // args.batch_size
    print(f"one epoch: {name}, {x.shape[0]} x {x.shape[1]}, batch {args.batch_size} ({steps} steps), "
          f"MLP {x.shape[1]}-{HIDDEN}-BN-ReLU-{HIDDEN}-BN-ReLU-10, SGD")

    candidates = {
        "minigrad numpy, fused BN": minigrad_epoch(x, y, args.batch_size, "numpy", True),
        "minigrad numpy, composite BN": minigrad_epoch(x, y, args.batch_size, "numpy", False),
    }
    status = mg.backends.available()
    if status.get("numba") is True:
        candidates["minigrad numba, fused BN"] = minigrad_epoch(x, y, args.batch_size, "numba", True)
        candidates["minigrad numba, composite BN"] = minigrad_epoch(x, y, args.batch_size, "numba", False)
    else:
        print(f"(numba skipped: {status.get('numba')})")
    torch_candidates = torch_epochs(x, y, args.batch_size)
    if torch_candidates:
        import torch
        if args.threads:
            torch.set_num_threads(args.threads)
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        print("(PyTorch not installed: minigrad timings only)")

    # PyTorch in a group of its own (see _timing.compare_groups).
    times = compare_groups([candidates, torch_candidates], repeat=args.repeat, min_time=0.2, warmup=2)
    torch_times = [t for label, t in times.items() if label.startswith("torch")]
    reference = min(torch_times) if torch_times else None  # the faster PyTorch loop: a conservative ratio
    print_times(times, {"per epoch": 1, "per step": steps}, reference, "fastest PyTorch")


if __name__ == "__main__":
    main()
