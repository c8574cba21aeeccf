"""The special functions of the NumPy backend against PyTorch CPU on one thread, as ratios measured in one run.

    python benchmarks/bench_special.py [--size 1000000] [--only erfc,lgamma] [--dtypes float64,float32]
                                       [--repeat 3] [--malloc retain|system]

Each function runs on ``--size`` elements drawn uniformly over its domain (the ranges below), in each dtype,
through the backend method that minigrad's op calls (no autograd) and through ``torch.special``'s (or torch's)
function on the same values with ``torch.set_num_threads(1)``. The Gamma lines time one standard gamma draw per
element and the reparameterisation gradient of those draws (``torch._standard_gamma``/``_standard_gamma_grad``).
Candidates are timed round-robin (minigrad, torch, minigrad, ...), each keeping its fastest sample
(``benchmarks/_timing.py``); the ratio column is minigrad / torch. Without PyTorch only minigrad's times print.
The load average (2 cores shared) is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import add_malloc_option, compare, fmt, import_torch, malloc_from_option  # noqa: E402

torch = import_torch()

import minigrad as mg  # noqa: E402
from minigrad.distributions._gamma_sampler import sample_standard_gamma, standard_gamma_grad  # noqa: E402

# name -> (low, high) of the uniform inputs (a pair for the two-argument functions)
DOMAINS = {
    "erfc": (-6.0, 28.0),
    "erfinv": (-1.0, 1.0),
    "lgamma": (-30.0, 60.0),
    "digamma": (-30.0, 60.0),
    "polygamma(1)": (-30.0, 60.0),
    "polygamma(3)": (0.0, 60.0),
    "mvlgamma(p=3)": (1.001, 60.0),
    "i0": (-80.0, 80.0),
    "i1": (-80.0, 80.0),
    "logit": (0.0, 1.0),
    "igamma": ((0.0, 20.0), (0.0, 40.0)),
    "igammac": ((0.0, 20.0), (0.0, 40.0)),
    "gamma sample": (0.05, 10.0),
    "gamma grad": (0.05, 10.0),
}


def case(be, name: str, x: np.ndarray, a: np.ndarray | None = None):
    """(minigrad closure, torch closure or None) of one function on x (and a, for igamma's a)."""
    t = None if torch is None else torch.from_numpy(x)
    if a is not None:
        ta = None if torch is None else torch.from_numpy(a)
        return (lambda: getattr(be, name)(a, x)), (lambda: getattr(torch, name)(ta, t))
    if name.startswith("polygamma"):
        n = int(name[10])
        return (lambda: be.polygamma(n, x)), (lambda: torch.special.polygamma(n, t))
    if name.startswith("mvlgamma"):  # a composite: through the op
        return (lambda: mg.mvlgamma(mg.tensor(x), 3)), (lambda: torch.special.multigammaln(t, 3))
    if name == "logit":
        return (lambda: be.logit(x, None)), (lambda: torch.special.logit(t))
    gen = np.random.default_rng(1)
    if name == "gamma sample":
        return (lambda: sample_standard_gamma(x, gen.standard_normal, gen.random)), (lambda: torch._standard_gamma(t))
    if name == "gamma grad":
        draws = sample_standard_gamma(x, gen.standard_normal, gen.random).astype(x.dtype)
        td = None if torch is None else torch.from_numpy(draws)
        return (lambda: standard_gamma_grad(draws, x)), (lambda: torch._standard_gamma_grad(t, td))
    f = getattr(be, name)
    g = None if torch is None else getattr(torch.special, name, None) or getattr(torch, name)
    return (lambda: f(x)), (lambda: g(t))


def cases(size: int, dtype: str, rng, names):
    """name -> (minigrad closure, torch closure or None), on inputs drawn over ``DOMAINS``."""
    be = mg.backends.load("numpy")
    out = {}
    for name in names:
        low, high = DOMAINS[name]
        if isinstance(low, tuple):
            a, x = rng.uniform(*low, size).astype(dtype), rng.uniform(*high, size).astype(dtype)
            ours, theirs = case(be, name, x, a)
        else:
            ours, theirs = case(be, name, rng.uniform(low, high, size).astype(dtype))
        out[name] = ours, (theirs if torch is not None else None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--only", default=",".join(DOMAINS), help="comma-separated subset of: " + ", ".join(DOMAINS))
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved samples per candidate")
    add_malloc_option(parser)
    args = parser.parse_args()
    malloc = malloc_from_option(args)
    names = [n.strip() for n in args.only.split(",")]
    unknown = set(names) - set(DOMAINS)
    if unknown:
        raise SystemExit(f"unknown names: {sorted(unknown)}")
    if torch is not None:
        torch.set_num_threads(1)
    print(f"{args.size} elements, {malloc}, PyTorch {'on 1 thread' if torch else 'not installed'}; "
          f"load average before: {os.getloadavg()[0]:.2f} (1 min)")
    print(f"{'function':16s} {'dtype':8s} {'minigrad':>11s} {'torch':>11s} {'ratio':>7s}")
    rng = np.random.default_rng(0)
    for dtype in args.dtypes.split(","):
        for name, (ours, theirs) in cases(args.size, dtype, rng, names).items():
            group = {"minigrad": ours} if theirs is None else {"minigrad": ours, "torch": theirs}
            t = compare(group, repeat=args.repeat, min_time=0.0, warmup=1)
            ratio = f"{t['minigrad'] / t['torch']:6.1f}x" if "torch" in t else "      -"
            torch_time = fmt(t["torch"]) if "torch" in t else "-"
            print(f"{name:16s} {dtype:8s} {fmt(t['minigrad']):>11s} {torch_time:>11s} {ratio:>7s}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min, 2 cores)")


if __name__ == "__main__":
    main()
