"""The CuPy backend on a GPU: BatchNorm against its memory floor and PyTorch CUDA, and the main job's MLP step.

Needs a CUDA device, CuPy and numba-cuda; PyTorch CUDA lines are skipped when it is absent. Every candidate
ends with a device synchronisation, so the times are those of the GPU work, not of the kernel launches.
Candidates are timed round-robin and keep their fastest sample (``benchmarks/_timing.py``). Run:

    python benchmarks/bench_gpu.py [--shape 65536x1024] [--batch 64] [--repeat 9]

Lines:
- copy: ``cupy.copyto`` of the BatchNorm input, giving the device's copy bandwidth (read + write);
- 8 passes: four such copies, the time a fused training forward+backward needs at least (the statistics
  read x; the normalisation reads x and writes y; the backward's sums read dy and x; dx reads dy and x and
  writes it);
- BatchNorm fused and composite forward+backward on minigrad's CuPy backend, and ``F.batch_norm`` in PyTorch;
- one SGD step of the main job's MLP (examples/train.py, batch 64) on CuPy and in PyTorch CUDA. At this
  size a step is a few dozen kernel launches and Python calls: launch and Python overhead, not the GPU's
  arithmetic, set its time.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from _timing import compare, fmt  # noqa: E402

import minigrad  # noqa: E402
from minigrad import nn  # noqa: E402
from minigrad.ops.batchnorm import batch_norm  # noqa: E402

TARGETS = {"fused / 8 passes": 1.5, "fused / PyTorch": 1.0, "fused / composite": 1 / 3, "MLP step / PyTorch": 2.0}


def synced(fn, sync):
    def run():
        out = fn()
        sync()
        return out
    return run


def minigrad_bn_step(x0, g0, fused, backend="cupy"):
    c = x0.shape[1]
    dev = lambda a, grad=False: minigrad.tensor(a, backend=backend, requires_grad=grad)
    x, g = dev(x0, True), dev(g0)
    w, b = dev(np.ones(c, np.float32), True), dev(np.zeros(c, np.float32), True)
    rm, rv = dev(np.zeros(c, np.float32)), dev(np.ones(c, np.float32))

    def step():
        x.grad = w.grad = b.grad = None
        batch_norm(x, rm, rv, w, b, training=True, fused=fused).backward(g)
        return x.grad
    return step


def torch_bn_step(torch, x0, g0):
    c = x0.shape[1]
    x = torch.tensor(x0, device="cuda", requires_grad=True)
    g = torch.tensor(g0, device="cuda")
    w = torch.ones(c, device="cuda", requires_grad=True)
    b = torch.zeros(c, device="cuda", requires_grad=True)
    rm, rv = torch.zeros(c, device="cuda"), torch.ones(c, device="cuda")

    def step():
        x.grad = w.grad = b.grad = None
        torch.nn.functional.batch_norm(x, rm, rv, w, b, training=True).backward(g)
    return step


def minigrad_mlp_step(x0, y0, backend="cupy", hidden=128):
    from train import build_model

    minigrad.manual_seed(0)
    model = build_model(fused=True, hidden=hidden).to(backend)
    opt = minigrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = minigrad.tensor(x0, backend=backend), minigrad.tensor(y0, backend=backend)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def torch_mlp_step(torch, x0, y0, hidden=128):
    tnn = torch.nn
    model = tnn.Sequential(tnn.Linear(64, hidden), tnn.BatchNorm1d(hidden), tnn.ReLU(),
                           tnn.Linear(hidden, hidden), tnn.BatchNorm1d(hidden), tnn.ReLU(),
                           tnn.Linear(hidden, 10)).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.tensor(x0, device="cuda"), torch.tensor(y0, device="cuda")

    def step():
        opt.zero_grad()
        tnn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def main(argv=None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="65536x1024", help="BatchNorm input N x C (default: 65536x1024)")
    p.add_argument("--batch", type=int, default=64, help="MLP batch size (default: 64, as the main job)")
    p.add_argument("--repeat", type=int, default=9, help="round-robin samples per candidate (default: 9)")
    args = p.parse_args(argv)
    if minigrad.backends.available().get("cupy") is not True:
        raise SystemExit(f"bench_gpu needs the cupy backend: {minigrad.backends.available().get('cupy')}")
    import cupy

    try:
        import torch
        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    sync_all = (lambda: (cupy.cuda.Device().synchronize(), torch.cuda.synchronize())) if torch else \
        (lambda: cupy.cuda.Device().synchronize())

    shape = tuple(int(v) for v in args.shape.split("x"))
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(shape).astype(np.float32)
    g0 = rng.standard_normal(shape).astype(np.float32)
    src, dst = cupy.asarray(x0), cupy.empty(shape, cupy.float32)
    candidates = {
        "copy": lambda: cupy.copyto(dst, src),
        "BatchNorm fused": minigrad_bn_step(x0, g0, True),
        "BatchNorm composite": minigrad_bn_step(x0, g0, False),
    }
    if torch:
        candidates["BatchNorm PyTorch"] = torch_bn_step(torch, x0, g0)
    times = compare({k: synced(f, sync_all) for k, f in candidates.items()}, repeat=args.repeat)
    times["8 passes"] = 4 * times["copy"]
    gbytes = x0.nbytes / 1e9
    print(f"device: {cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)['name'].decode()}, "
          f"BatchNorm shape {shape} float32 ({x0.nbytes / 2**20:.0f} MiB)")
    print(f"copy bandwidth (read + write): {2 * gbytes / times['copy']:.0f} GB/s")
    for name in ("8 passes", "BatchNorm fused", "BatchNorm composite", "BatchNorm PyTorch"):
        if name in times:
            print(f"  {name:24s} {fmt(times[name])}")

    xm = rng.standard_normal((args.batch, 64)).astype(np.float32)
    ym = rng.integers(0, 10, args.batch)
    mlp = {"MLP step cupy": minigrad_mlp_step(xm, ym)}
    if torch:
        mlp["MLP step PyTorch"] = torch_mlp_step(torch, xm, ym)
    times.update(compare({k: synced(f, sync_all) for k, f in mlp.items()}, repeat=args.repeat))
    for name in mlp:
        print(f"  {name:24s} {fmt(times[name])}")

    ratios = {"fused / 8 passes": times["BatchNorm fused"] / times["8 passes"],
              "fused / composite": times["BatchNorm fused"] / times["BatchNorm composite"]}
    if torch:
        ratios["fused / PyTorch"] = times["BatchNorm fused"] / times["BatchNorm PyTorch"]
        ratios["MLP step / PyTorch"] = times["MLP step cupy"] / times["MLP step PyTorch"]
    print("ratios (target):")
    for name, value in ratios.items():
        verdict = "met" if value <= TARGETS[name] else "missed"
        print(f"  {name:24s} {value:6.2f}x  (<= {TARGETS[name]:.2f}x: {verdict})")
    return ratios


if __name__ == "__main__":
    main()
