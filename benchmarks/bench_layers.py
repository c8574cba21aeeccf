"""Forward + backward of the newer conv-net layers, minigrad against PyTorch CPU, as ratios measured in one run.

Layers (a U-Net decoder's / a GAN generator's): ``F.interpolate(x, scale_factor=2)`` in modes "bilinear" and
"nearest", ``nn.ConvTranspose2d(C, C // 2, 4, 2, 1)``, ``nn.ReflectionPad2d(1)`` and ``nn.ReplicationPad2d(1)``,
on float32 inputs of shape (32, 64, 16, 16) and (8, 32, 16, 16). A call is the layer's forward and the backward
of a fixed random upstream gradient into the input (and the weights), gradients cleared first.

- minigrad: the numpy backend, and numba when it loads;
- ``--before REV``: also minigrad as it was at git revision REV (its ``minigrad`` package extracted to a
  temporary directory and imported under another name), so that before/after figures come from one run;
- PyTorch when installed (imported first, ``_timing.import_torch``), from the same weights; skipped cleanly
  when absent. Outputs are checked against each other before timing (a sanity check, not a test).

Candidates are timed round-robin and each keeps its fastest sample (``benchmarks/_timing.py``), so load from
other processes hits all of them alike; PyTorch is timed in a round-robin of its own (``compare_groups``).
Run: ``python benchmarks/bench_layers.py [--threads 1] [--before REV] [--only bilinear,...] [--repeat 7]
[--malloc retain|system]``. Compare figures from a quiet machine, or with ``--threads 1`` for both sides.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile

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

SHAPES = ((32, 64, 16, 16), (8, 32, 16, 16))
LAYERS = ("bilinear", "nearest", "conv_transpose", "reflection_pad", "replication_pad")


def make_layer(lib, name: str, channels: int):
    """The layer as a callable of ``lib``: minigrad (the current package or an older copy) or torch, whose
    ``nn`` spell these layers alike."""
    nn = lib.nn
    if name in ("bilinear", "nearest"):
        return lambda x: nn.functional.interpolate(x, scale_factor=2, mode=name)
    if name == "conv_transpose":
        return nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1)
    return nn.ReflectionPad2d(1) if name == "reflection_pad" else nn.ReplicationPad2d(1)


def minigrad_case(mg, backend: str, name: str, x0: np.ndarray, g0: np.ndarray, weights: dict):
    """(step, output): ``step`` runs forward and backward once; ``output`` the forward's result as NumPy."""
    with mg.backend(backend):
        layer = make_layer(mg, name, x0.shape[1])
        if weights:
            layer.load_state_dict({k: mg.tensor(v) for k, v in weights.items()})
        x, g = mg.tensor(x0, requires_grad=True), mg.tensor(g0)
    params = list(layer.parameters()) if hasattr(layer, "parameters") else []

    def step():
        x.grad = None
        for p in params:
            p.grad = None
        out = layer(x)
        out.backward(g)
        return out

    return step, step().numpy()


def torch_case(torch, name: str, x0: np.ndarray, g0: np.ndarray, weights: dict):
    layer = make_layer(torch, name, x0.shape[1])
    if weights:
        layer.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
    x, g = torch.tensor(x0, requires_grad=True), torch.from_numpy(g0)
    params = list(layer.parameters()) if hasattr(layer, "parameters") else []

    def step():
        x.grad = None
        for p in params:
            p.grad = None
        out = layer(x)
        out.backward(g)
        return out

    return step, step().detach().numpy()


def load_before(rev: str):
    """minigrad as it was at ``rev``: its package extracted to a temporary directory as ``minigrad_before``
    (minigrad imports itself only relatively; the backends are a separate package, shared)."""
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True,
                          cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="minigrad_before_")
    archive = subprocess.run(["git", "archive", rev, "minigrad"], capture_output=True, check=True, cwd=root).stdout
    subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
    os.rename(os.path.join(tmp, "minigrad"), os.path.join(tmp, "minigrad_before"))
    sys.path.insert(0, tmp)
    return importlib.import_module("minigrad_before")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--only", default=",".join(LAYERS), help=f"comma-separated subset of {','.join(LAYERS)}")
    p.add_argument("--before", metavar="REV", default=None, help="also time minigrad as at git revision REV")
    p.add_argument("--threads", type=int, default=None,
                   help="cap BLAS (via threadpoolctl) and PyTorch intra-op threads; default: library defaults")
    add_malloc_option(p)
    args = p.parse_args()
    malloc_label = malloc_from_option(args)
    torch = import_torch()  # before minigrad starts Numba: each keeps its own OpenMP runtime
    limit_blas_threads(args.threads)
    import minigrad as mg

    versions = {"": mg}
    if args.before:
        versions[f" (before, {args.before})"] = load_before(args.before)
    backends = ["numpy"]
    status = mg.backends.available()
    if status.get("numba") is True:
        backends.append("numba")
    else:
        print(f"(numba skipped: {status.get('numba')})")
    if torch is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        print("(PyTorch not installed: minigrad timings only)")
    print(f"forward + backward, float32; {malloc_label}; load average {os.getloadavg()[0]:.2f}")

    rng = np.random.default_rng(0)
    for shape in SHAPES:
        for name in args.only.split(","):
            if name not in LAYERS:
                raise SystemExit(f"--only: unknown layer {name!r}, expected some of {', '.join(LAYERS)}")
            x0 = rng.standard_normal(shape).astype(np.float32)
            weights = {}
            if name == "conv_transpose":
                mg.manual_seed(0)
                with mg.backend("numpy"):
                    weights = {k: t.numpy().copy() for k, t in
                               make_layer(mg, name, shape[1]).state_dict().items()}
            ours, outputs = {}, {}
            # the upstream gradient needs the output's shape: one forward first
            with mg.backend("numpy"):
                layer = make_layer(mg, name, shape[1])
                if weights:
                    layer.load_state_dict({k: mg.tensor(v) for k, v in weights.items()})
                out_shape = layer(mg.tensor(x0)).shape
            g0 = rng.standard_normal(out_shape).astype(np.float32)
            for suffix, module in versions.items():
                for backend in backends:
                    label = f"minigrad {backend}{suffix}"
                    ours[label], outputs[label] = minigrad_case(module, backend, name, x0, g0, weights)
            groups = [ours]
            if torch is not None:
                step, outputs["torch"] = torch_case(torch, name, x0, g0, weights)
                groups.append({"torch": step})
            reference = outputs["minigrad numpy"]
            for label, out in outputs.items():
                if out.shape != reference.shape or not np.allclose(out, reference, rtol=1e-4, atol=1e-5):
                    raise SystemExit(f"{name} {shape}: {label}'s output differs from minigrad numpy's")
            print(f"\n{name} {shape} -> {tuple(out_shape)}")
            times = compare_groups(groups, repeat=args.repeat, min_time=0.1, warmup=2)
            print_times(times, {"per call": 1}, times.get("torch"), "PyTorch")


if __name__ == "__main__":
    main()
