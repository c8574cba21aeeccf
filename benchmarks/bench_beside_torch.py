"""Numba kernels with PyTorch imported first, and PyTorch with minigrad's Numba backend started first.

    python benchmarks/bench_beside_torch.py [--runs 5] [--repeat 5]

Each run starts one process per mode, in turn, so that load from other processes hits the modes alike:

- ``alone``: minigrad's Numba backend, no PyTorch;
- ``torch first``: ``import torch`` before the backend starts (PyTorch loads its own libgomp);
- ``torch after``: the backend started (and a kernel run), then ``import torch``;
- ``torch alone``: PyTorch, no minigrad.

Each process times the ``bench_numba.py`` kernel lines at (4096, 1024) float32 (Numba against the NumPy
backend, round-robin), the fused BatchNorm forward+backward, and where PyTorch is loaded a few PyTorch ops
and a PyTorch BatchNorm step followed by minigrad's. For every line the driver prints the median over the
runs, the spread (max/min over the runs) and the ratio of its median to the line's median in ``alone``
(``torch alone`` for PyTorch's lines). The policy each process chose and the load average are printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

MODES = ("alone", "torch first", "torch after", "torch alone")
SHAPE = (4096, 1024)


def torch_cases(torch, x0, g0):
    """label -> PyTorch closure: ops whose threads would be the ones slowed by ours."""
    from bench_batchnorm import torch_step

    x = torch.tensor(x0, requires_grad=True)
    g, targets = torch.tensor(g0), torch.randint(0, x0.shape[1], (x0.shape[0],))
    small = torch.tensor(x0[:256])

    def log_softmax_nll():
        x.grad = None
        torch.nn.functional.nll_loss(torch.log_softmax(x, -1), targets).backward()

    return {"torch batch_norm": torch_step(x0, g0), "torch log_softmax+nll": log_softmax_nll,
            "torch sigmoid (256, 1024)": lambda: torch.sigmoid(small),
            "torch matmul 512": lambda: x[:512, :512] @ g[:512, :512]}


def child(mode: str, repeat: int) -> None:
    """Time every line in this process and print them as JSON."""
    torch = None
    if mode in ("torch first", "torch alone"):
        import torch
    sys.path.insert(0, os.path.dirname(__file__))
    import numpy as np
    from _timing import compare, measure, retain_freed_memory
    from bench_batchnorm import minigrad_step, torch_step

    retain_freed_memory()
    rng = np.random.default_rng(0)
    x0, g0 = rng.standard_normal(SHAPE).astype(np.float32), rng.standard_normal(SHAPE).astype(np.float32)
    times, policy = {}, "no Numba backend"
    if mode != "torch alone":
        from bench_numba import kernel_cases

        import minigrad as mg

        nb, ref = mg.backends.load("numba"), mg.backends.load("numpy")
        policy = nb.threading_policy
        nb.softmax(x0, -1)  # the pool runs before PyTorch loads in "torch after"
        if mode == "torch after":
            import torch
        for name, (f_nb, f_ref) in kernel_cases(nb, ref, SHAPE, rng).items():
            t = compare({"numba": f_nb, "numpy": f_ref}, repeat=repeat)
            times[name], times[f"{name} numba/numpy"] = t["numba"], t["numba"] / t["numpy"]
        fused = minigrad_step(nb, x0, g0, fused=True)
        times["fused BatchNorm step"] = measure(fused, repeat=repeat)
        if torch is not None:
            step_torch = torch_step(x0, g0)
            times["torch BN step, then fused BN step"] = measure(lambda: (step_torch(), fused()), repeat=repeat)
    if torch is not None:
        for name, fn in torch_cases(torch, x0, g0).items():
            times[name] = measure(fn, repeat=repeat)
    print(json.dumps({"policy": policy, "load": os.getloadavg()[0], "times": times}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="processes per mode, alternating")
    parser.add_argument("--repeat", type=int, default=5, help="samples per line in each process")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of: " + ", ".join(MODES))
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.repeat)
    modes = [m.strip() for m in args.modes.split(",")]
    try:
        import torch  # noqa: F401 - only whether it is installed; the children import it
    except ImportError:
        raise SystemExit("this benchmark needs PyTorch (pip install torch)") from None
    results: dict[str, list[dict]] = {m: [] for m in modes}
    for run in range(args.runs):
        for mode in modes:
            cmd = [sys.executable, __file__, "--child", mode, "--repeat", str(args.repeat)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[mode].append(json.loads(out.splitlines()[-1]))
            print(f"run {run + 1} {mode:12s} load {results[mode][-1]['load']:.2f}  {results[mode][-1]['policy']}",
                  flush=True)
    report(results)


def report(results: dict[str, list[dict]]) -> None:
    lines = list(dict.fromkeys(k for runs in results.values() for r in runs for k in r["times"]))
    print("\nmedian over runs (ms, or the ratio), spread = max/min over runs, x = median / median in the baseline")
    print(f"{'line':40s}" + "".join(f" {m[:27]:>27s}" for m in results))
    for line in lines:
        base_mode = "torch alone" if line.startswith("torch ") and "fused" not in line else "alone"
        base = results.get(base_mode)
        base_median = statistics.median(r["times"][line] for r in base) if base and line in base[0]["times"] else None
        ratio_line = "numba/numpy" in line
        cells = []
        for runs in results.values():
            values = [r["times"][line] for r in runs if line in r["times"]]
            if not values:
                cells.append(f"{'-':>28s}")
                continue
            med = statistics.median(values)
            shown = f"{med:.2f}" if ratio_line else f"{med * 1e3:.3f}"
            x = f" x{med / base_median:4.2f}" if base_median else "      "
            cells.append(f"{shown:>10s} spread {max(values) / min(values):4.2f}{x}")
        print(f"{line:40s}" + "".join(cells))
    targets(results)


def targets(results: dict[str, list[dict]]) -> None:
    """The targets for the Numba lines: median within 1.2x of "alone", spread over runs at most 1.3x."""
    if "alone" not in results:
        return
    alone = results["alone"]
    numba_lines = [k for k in alone[0]["times"] if not k.startswith("torch ")]
    for mode in ("torch first", "torch after"):
        if mode not in results:
            continue
        for kind, lines in (("time", [k for k in numba_lines if "/" not in k]),
                            ("numba/numpy", [k for k in numba_lines if "/" in k])):
            worst = max((statistics.median(r["times"][k] for r in results[mode])
                         / statistics.median(r["times"][k] for r in alone), k) for k in lines)
            spread = max((max(v) / min(v), k) for k in lines for v in [[r["times"][k] for r in results[mode]]])
            print(f"{mode}, {kind}: worst median/alone {worst[0]:.2f}x ({worst[1]}), target <= 1.2x: "
                  f"{'met' if worst[0] <= 1.2 else 'missed'}; worst spread {spread[0]:.2f}x ({spread[1]}), "
                  f"target <= 1.3x: {'met' if spread[0] <= 1.3 else 'missed'}")
    loads = [r["load"] for runs in results.values() for r in runs]
    print(f"load average (1 min) during the runs: {min(loads):.2f}-{max(loads):.2f} (2 cores)")


if __name__ == "__main__":
    main()
