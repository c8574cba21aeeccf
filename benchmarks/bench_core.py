"""Foundation benchmarks: per-op overhead and one SGD step of the Ioffe MLP, as ratios in one run.

(a) forward + backward of ``(a + b).sum()`` on 1-element tensors, against PyTorch CPU;
(b) one SGD step of the MLP 784-100-100-100-10 (sigmoid, batch 60, softmax cross-entropy from tensor
    ops), against PyTorch CPU and against the same step written by hand in NumPy. The update goes
    through each framework's ``optim.SGD``; the same step with the update written out as a Python loop
    (``p -= lr * p.grad``) is printed too.

Run: ``python benchmarks/bench_core.py [--backend numpy]``. PyTorch parts are skipped when it is absent.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import compare, fmt, import_torch  # noqa: E402

import minigrad as mg  # noqa: E402

SIZES = (784, 100, 100, 100, 10)
BATCH = 60
LR = 0.1


def tiny_op_minigrad(backend: str):
    a = mg.tensor([1.0], requires_grad=True, backend=backend)
    b = mg.tensor([2.0], requires_grad=True, backend=backend)

    def step():
        (a + b).sum().backward()

    return step


def tiny_op_torch(torch):
    a = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([2.0], requires_grad=True)

    def step():
        (a + b).sum().backward()

    return step


def mlp_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    weights = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        weights.append(np.zeros(fan_out, np.float32))
    return x, y, weights


def mlp_minigrad(backend: str, update: str = "optim"):
    """One step: forward, backward, then the SGD update through ``optim.SGD`` (as a PyTorch script would)
    or, with ``update="manual"``, written out as ``p -= lr * p.grad`` under ``no_grad``."""
    x_np, y_np, ws = mlp_data()
    x = mg.tensor(x_np, backend=backend)
    y = mg.tensor(y_np, backend=backend)
    params = [mg.tensor(w, requires_grad=True, backend=backend) for w in ws]
    rows = mg.arange(BATCH, backend=backend)
    opt = mg.optim.SGD(params, lr=LR)

    def step():
        h = x
        for i in range(0, len(params) - 2, 2):
            h = (h @ params[i] + params[i + 1]).sigmoid()
        logits = h @ params[-2] + params[-1]
        loss = -mg.log_softmax(logits, axis=1)[rows, y].mean()
        loss.backward()
        if update == "optim":
            opt.step()
            opt.zero_grad()
        else:
            with mg.no_grad():
                for p in params:
                    p -= LR * p.grad
                    p.grad = None
        return loss

    return step


def mlp_torch(torch, update: str = "optim"):
    x_np, y_np, ws = mlp_data()
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    params = [torch.tensor(w, requires_grad=True) for w in ws]
    rows = torch.arange(BATCH)
    opt = torch.optim.SGD(params, lr=LR)

    def step():
        h = x
        for i in range(0, len(params) - 2, 2):
            h = torch.sigmoid(h @ params[i] + params[i + 1])
        logits = h @ params[-2] + params[-1]
        loss = -torch.log_softmax(logits, dim=1)[rows, y].mean()
        loss.backward()
        if update == "optim":
            opt.step()
            opt.zero_grad()
        else:
            with torch.no_grad():
                for p in params:
                    p -= LR * p.grad
                    p.grad = None
        return loss

    return step


def mlp_numpy():
    """The same step derived and written by hand: the floor for a Python engine."""
    x, y, ws = mlp_data()
    rows = np.arange(BATCH)

    def step():
        acts = [x]
        h = x
        for i in range(0, len(ws) - 2, 2):
            h = 1 / (1 + np.exp(-(h @ ws[i] + ws[i + 1])))
            acts.append(h)
        logits = h @ ws[-2] + ws[-1]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[rows, y].mean()  # every framework's step returns the loss too
        grad = np.exp(log_probs)
        grad[rows, y] -= 1
        grad /= BATCH
        for i in range(len(ws) - 2, -1, -2):
            a = acts[i // 2]
            gw, gb = a.T @ grad, grad.sum(axis=0)
            if i:
                grad = (grad @ ws[i].T) * a * (1 - a)
            ws[i] -= LR * gw
            ws[i + 1] -= LR * gb
        return loss

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    args = parser.parse_args()
    torch = import_torch()
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
    print(f"minigrad {mg.__version__}, backend {args.backend}, NumPy {np.__version__}, "
          f"PyTorch {torch.__version__ if torch else 'not installed'}, {os.cpu_count()} cores")

    tiny = {"minigrad": tiny_op_minigrad(args.backend)}
    if torch is not None:
        tiny["torch"] = tiny_op_torch(torch)
    t = compare(tiny)
    print(f"(a) tiny op (a + b).sum() fwd+bwd: minigrad {fmt(t['minigrad'])}")
    if torch is not None:
        print(f"    PyTorch {fmt(t['torch'])}   ratio minigrad/PyTorch = {t['minigrad'] / t['torch']:.2f}x "
              "(target <= 1.0x)")

    steps = {"minigrad": mlp_minigrad(args.backend), "minigrad manual": mlp_minigrad(args.backend, "manual"),
             "numpy": mlp_numpy()}
    # PyTorch is timed in a comparison of its own: its OpenMP threads keep spinning for a while after
    # each step and slowed whichever candidate ran next in the round-robin (by up to 15% here).
    t = compare({name: steps[name] for name in ("minigrad", "minigrad manual", "numpy")}, min_time=0.1)
    print(f"(b) MLP SGD step (optim.SGD): minigrad {fmt(t['minigrad'])}, hand-written NumPy {fmt(t['numpy'])}   "
          f"ratio = {t['minigrad'] / t['numpy']:.2f}x (target <= 1.5x)")
    print(f"    the update written as p -= lr * p.grad: minigrad {fmt(t['minigrad manual'])}, ratio to NumPy "
          f"{t['minigrad manual'] / t['numpy']:.2f}x")
    if torch is not None:
        t = compare({"minigrad": steps["minigrad"], "torch": mlp_torch(torch),
                     "minigrad manual": steps["minigrad manual"], "torch manual": mlp_torch(torch, "manual")},
                    min_time=0.1)
        print(f"    PyTorch {fmt(t['torch'])}   ratio minigrad/PyTorch = {t['minigrad'] / t['torch']:.2f}x "
              f"(target <= 1.0x); with the update loop in both: {t['minigrad manual'] / t['torch manual']:.2f}x")


if __name__ == "__main__":
    main()
