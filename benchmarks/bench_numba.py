"""Numba backend against the NumPy backend: each kernel, the MLP step and compile times, as ratios measured in one run.

    python benchmarks/bench_numba.py [--quick] [--no-cold] [--torch-first] [--malloc retain|system]

1. Each JIT kernel, forward + backward, at 4096x1024 and 60x100 float32. The NumPy side does what the
   NumPy backend does for the same op today (its fused ``*_backward`` methods where they exist, otherwise
   the array operations the op's backward rule runs).
2. The MLP step (784-100-100-100-10, sigmoid, batch 60, cross-entropy as log_softmax + indexing + mean)
   through minigrad tensors on each backend (timed first, before the large kernels).
3. A fresh process with a warm cache, to the end of its first MLP step; and the cold-cache compile time of
   every kernel, serial and parallel variants (``warmup(parallel=True)`` with an empty temporary
   ``NUMBA_CACHE_DIR``). Compile time is reported apart from run time: parts 1 and 2 run after it.
4. The targets, met or missed, with the threading policy in use and the load average before and after
   (other processes on 2 cores show up as ratios drifting towards 1 for parallel kernels).

Candidates are timed round-robin (numba, numpy, numba, ...), each keeping its fastest sample
(``benchmarks/_timing.py``), so load from other processes hits both sides alike.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import add_malloc_option, compare, malloc_from_option  # noqa: E402

import minigrad as mg  # noqa: E402


def _inputs(shape, rng):
    """x, an upstream gradient g, a bias row, class targets and scatter rows for a 2-D ``shape``."""
    return (rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32),
            rng.standard_normal(shape[1]).astype(np.float32), rng.integers(0, shape[1], shape[0]),
            rng.integers(0, shape[0], shape[0]))


def kernel_cases(nb, ref, shape, rng):
    """name -> (numba fwd+bwd, numpy fwd+bwd) closures on float32 arrays of ``shape``."""
    x, g, bias, targets, rows = _inputs(shape, rng)

    def ce_nb():
        loss, lp = nb.softmax_cross_entropy_forward(x, targets)
        return nb.softmax_cross_entropy_backward(np.full(shape[0], 1 / shape[0], np.float32), lp, targets)

    weight, zero = np.ones(shape[1], np.float32), np.zeros(shape[1], np.float32)

    def bn(be):
        out, mean, var = be.batch_norm_forward(x, weight, zero, 1e-5)
        return be.batch_norm_backward(g, x, mean, 1.0 / np.sqrt(var + 1e-5), weight)

    def ce_ref():
        loss, lp = ref.softmax_cross_entropy_forward(x, targets)
        return ref.softmax_cross_entropy_backward(np.full(shape[0], 1 / shape[0], np.float32), lp, targets)

    return {
        "sigmoid": (lambda: nb.sigmoid_backward(g, nb.sigmoid(x)), lambda: ref.sigmoid_backward(g, ref.sigmoid(x))),
        "tanh": (lambda: nb.tanh_backward(g, nb.tanh(x)), lambda: ref.tanh_backward(g, ref.tanh(x))),
        "relu": (lambda: (nb.relu(x), nb.relu_backward(g, x)), lambda: (ref.relu(x), ref.relu_backward(g, x))),
        "leaky_relu": (lambda: (nb.leaky_relu(x, 0.01), nb.leaky_relu_backward(g, x, 0.01)),
                       lambda: (ref.leaky_relu(x, 0.01), ref.leaky_relu_backward(g, x, 0.01))),
        "gelu": (lambda: (nb.gelu(x, "none"), nb.gelu_backward(g, x, "none")),
                 lambda: (ref.gelu(x, "none"), ref.gelu_backward(g, x, "none"))),
        "softplus": (lambda: (nb.softplus(x, 1.0, 20.0), nb.softplus_backward(g, x, 1.0, 20.0)),
                     lambda: (ref.softplus(x, 1.0, 20.0), ref.softplus_backward(g, x, 1.0, 20.0))),
        "softmax": (lambda: nb.softmax_backward(g, nb.softmax(x, -1), -1),
                    lambda: ref.softmax_backward(g, ref.softmax(x, -1), -1)),
        "log_softmax": (lambda: nb.log_softmax_backward(g, nb.log_softmax(x, -1), -1),
                        lambda: ref.log_softmax_backward(g, ref.log_softmax(x, -1), -1)),
        "softmax_ce": (ce_nb, ce_ref),
        "batch_norm": (lambda: bn(nb), lambda: bn(ref)),
        "add_bias (+sum axis 0)": (lambda: (nb.add(x, bias), nb.sum(g, 0, False)),
                                   lambda: (ref.add(x, bias), ref.sum(g, 0, False))),
        "mul (+mul)": (lambda: (nb.multiply(x, g), nb.multiply(g, x)),
                       lambda: (ref.multiply(x, g), ref.multiply(g, x))),
        "sum axis -1": (lambda: nb.sum(x, -1, False), lambda: ref.sum(x, -1, False)),
        "max axis 0": (lambda: nb.max(x, 0, False), lambda: ref.max(x, 0, False)),
        "scatter_add rows": (lambda: nb.scatter_add(shape, rows, g, np.float32),
                             lambda: ref.scatter_add(shape, rows, g, np.float32)),
    }


def sweep_cases(nb, ref, shape, rng):
    """family -> {op: (numba, numpy)} for one op at a time, ``nb`` always running its kernels."""
    x, g, bias, targets, rows = _inputs(shape, rng)
    sig, th, sm, lsm = ref.sigmoid(x), ref.tanh(x), ref.softmax(x, -1), ref.log_softmax(x, -1)
    per_row = np.full(shape[0], 1 / shape[0], np.float32)

    def unary(name, *args):
        f_nb, f_ref = getattr(nb, name), getattr(ref, name)
        return lambda: f_nb(x, *args), lambda: f_ref(x, *args)

    return {
        "activation": {"sigmoid": unary("sigmoid"), "tanh": unary("tanh"), "relu": unary("relu"),
                       "leaky_relu": unary("leaky_relu", 0.01), "gelu": unary("gelu", "none"),
                       "softplus": unary("softplus", 1.0, 20.0)},
        "activation_grad": {
            "sigmoid_backward": (lambda: nb.sigmoid_backward(g, sig), lambda: ref.sigmoid_backward(g, sig)),
            "tanh_backward": (lambda: nb.tanh_backward(g, th), lambda: ref.tanh_backward(g, th)),
            "relu_backward": (lambda: nb.relu_backward(g, x), lambda: ref.relu_backward(g, x)),
            "leaky_relu_backward": (lambda: nb.leaky_relu_backward(g, x, 0.01),
                                    lambda: ref.leaky_relu_backward(g, x, 0.01)),
            "gelu_backward": (lambda: nb.gelu_backward(g, x, "none"), lambda: ref.gelu_backward(g, x, "none")),
            "softplus_backward": (lambda: nb.softplus_backward(g, x, 1.0, 20.0),
                                  lambda: ref.softplus_backward(g, x, 1.0, 20.0)),
        },
        "softmax": {
            "softmax": (lambda: nb.softmax(x, -1), lambda: ref.softmax(x, -1)),
            "log_softmax": (lambda: nb.log_softmax(x, -1), lambda: ref.log_softmax(x, -1)),
            "softmax_backward": (lambda: nb.softmax_backward(g, sm, -1), lambda: ref.softmax_backward(g, sm, -1)),
            "log_softmax_backward": (lambda: nb.log_softmax_backward(g, lsm, -1),
                                     lambda: ref.log_softmax_backward(g, lsm, -1)),
            "cross_entropy fwd": (lambda: nb.softmax_cross_entropy_forward(x, targets),
                                  lambda: ref.softmax_cross_entropy_forward(x, targets)),
            "cross_entropy bwd": (lambda: nb.softmax_cross_entropy_backward(per_row, lsm, targets),
                                  lambda: ref.softmax_cross_entropy_backward(per_row, lsm, targets)),
        },
        "binary": {
            "add row": (lambda: nb.add(x, bias), lambda: ref.add(x, bias)),
            "multiply": (lambda: nb.multiply(x, g), lambda: ref.multiply(x, g)),
        },
        "reduction": {
            "sum axis 0": (lambda: nb.sum(x, (0,), False), lambda: ref.sum(x, (0,), False)),
            "sum axis -1": (lambda: nb.sum(x, (1,), False), lambda: ref.sum(x, (1,), False)),
            "max axis 0": (lambda: nb.max(x, (0,), False), lambda: ref.max(x, (0,), False)),
        },
        "scatter": {"scatter_add rows": (lambda: nb.scatter_add(shape, rows, g, np.float32),
                                         lambda: ref.scatter_add(shape, rows, g, np.float32))},
    }


SWEEP_ROWS = (1, 4, 15, 60, 240, 960, 3840, 15360, 61440)  # x 100 columns: 100 to 6.1M elements
OWN_KEY = {"tanh": "tanh", "gelu": "gelu", "gelu_backward": "gelu"}  # ops with their own numpy_below entry


def sweep(nb, ref, repeat: int) -> None:
    """Speed-up (numpy / numba) of each kernel run unconditionally, by size; the break-even is the smallest
    measured size from which the kernel is never slower (``-``: slower even at the largest size)."""
    always = type(nb)()
    always.numpy_below = dict.fromkeys(nb.numpy_below, 0)  # every call runs its kernel
    rng = np.random.default_rng(0)
    table: dict = {}
    for r in SWEEP_ROWS:
        for family, ops in sweep_cases(always, ref, (r, 100), rng).items():
            for name, (f_nb, f_ref) in ops.items():
                t = compare({"numba": f_nb, "numpy": f_ref}, repeat=repeat, min_time=0.01)
                table.setdefault((family, name), []).append(t["numpy"] / t["numba"])
    print(f"break-even sweep, float32 (rows, 100), speed-up = numpy / numba, kernel always run "
          f"(parallel from {nb.parallel_threshold} elements); current numpy_below in brackets")
    print(f"  {'family / op':34s}" + "".join(f"{r * 100:>8d}" for r in SWEEP_ROWS) + "  break-even")
    for (family, name), ratios in table.items():
        even = next((SWEEP_ROWS[i] * 100 for i in range(len(ratios)) if min(ratios[i:]) >= 1.0), None)
        print(f"  {family + ' / ' + name:34s}" + "".join(f"{v:8.2f}" for v in ratios)
              + f"  {even if even is not None else '-':>8}  [{nb.numpy_below[OWN_KEY.get(name, family)]}]")
    print()


MLP_SCRIPT = textwrap.dedent("""
    import numpy as np
    import minigrad as mg

    def make_mlp(backend, seed=0):
        rng = np.random.default_rng(seed)
        sizes = [784, 100, 100, 100, 10]
        params = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            w = rng.standard_normal((n_in, n_out)).astype(np.float32) * np.float32(1 / np.sqrt(n_in))
            params += [mg.tensor(w, requires_grad=True, backend=backend),
                       mg.tensor(np.zeros(n_out, np.float32), requires_grad=True, backend=backend)]
        x = mg.tensor(rng.standard_normal((60, 784)).astype(np.float32), backend=backend)
        t = mg.tensor(rng.integers(0, 10, 60), backend=backend)
        rows = mg.arange(60, backend=backend)
        return params, x, (rows, t), mg.optim.SGD(params, lr=0.1)

    def step(params, x, index, opt):  # the step of bench_core.py's (b)
        h = x
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i < len(params) - 2:
                h = mg.sigmoid(h)
        loss = -mg.log_softmax(h, -1)[index].mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss
""")


def run_mlp(backends, repeat):
    namespace: dict = {}
    exec(MLP_SCRIPT, namespace)  # noqa: S102 - the same code is timed in a fresh process below
    steps = {}
    for name in backends:
        params, x, index, opt = namespace["make_mlp"](name)
        steps[name] = lambda p=params, x=x, i=index, o=opt: namespace["step"](p, x, i, o)
    # Many short samples: with other processes on the 2 cores, OpenBLAS's threads get descheduled in
    # bursts that triple a step's time; the fastest of 4x as many 20 ms samples finds the quiet windows.
    return compare(steps, repeat=4 * repeat, min_time=0.02)


def fresh_process_first_step(backend: str, env: dict) -> float:
    code = MLP_SCRIPT + f"\nstep(*make_mlp({backend!r}))\n"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - start


ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "softplus")
TARGETS = [(f"{name} fwd+bwd at 4096x1024 >= 1.5x", name, 1.5) for name in ACTIVATIONS] + [
    ("softmax_ce fwd+bwd at 4096x1024 >= 1.5x", "softmax_ce", 1.5),
    ("batch_norm fwd+bwd at 4096x1024 >= 1.5x", "batch_norm", 1.5),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-cache compile measurement")
    parser.add_argument("--torch-first", action="store_true",
                        help="import PyTorch before the Numba backend starts, as a user's script may "
                             "(benchmarks/bench_beside_torch.py compares the two orders)")
    add_malloc_option(parser)
    parser.add_argument("--sweep", action="store_true",
                        help="only the break-even sweep behind NumbaBackend.numpy_below")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    load_before = os.getloadavg()
    malloc_label = malloc_from_option(args)

    if args.torch_first:
        import torch  # noqa: F401 - its OpenMP runtime loads before Numba's
    nb, ref = mg.backends.load("numba"), mg.backends.load("numpy")
    start = time.perf_counter()
    nb.warmup(parallel=True)
    print(f"{nb.describe()}; {ref.describe()}; cache {nb.cache_dir}")
    print(f"threading policy: {nb.threading_policy}; {malloc_label}")
    print(f"warmup (compile or cache load, all kernels, float32+float64): {time.perf_counter() - start:.2f} s\n")
    if args.sweep:
        sweep(nb, ref, repeat)
        print(f"load average (1 min) before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (2 cores)")
        return

    # The MLP step first: after the 4096x1024 kernels below, both backends' steps ran ~1.5x slower in the
    # same process (allocator and thread-pool state), which hid the difference between them.
    times = run_mlp(["numpy", "numba"], repeat)
    mlp = times["numpy"] / times["numba"]
    print("MLP step 784-100-100-100-10, sigmoid, batch 60, float32:")
    print(f"  numpy {times['numpy'] * 1e3:.3f} ms  numba {times['numba'] * 1e3:.3f} ms  speed-up {mlp:.2f}x\n")

    rng = np.random.default_rng(0)
    big: dict[str, float] = {}
    for shape, small in [((4096, 1024), False), ((60, 100), True)]:
        unit, scale = ("us", 1e6) if small else ("ms", 1e3)
        print(f"kernel forward+backward, float32 {shape}: best of {repeat} round-robin samples, "
              f"speed-up = numpy / numba")
        for name, (f_nb, f_ref) in kernel_cases(nb, ref, shape, rng).items():
            t = compare({"numba": f_nb, "numpy": f_ref}, repeat=repeat, min_time=0.02 if small else 0.05)
            if not small:
                big[name] = t["numpy"] / t["numba"]
            print(f"  {name:24s} numba {t['numba'] * scale:9.2f}  numpy {t['numpy'] * scale:9.2f}  "
                  f"speed-up {t['numpy'] / t['numba']:5.2f}x")
        print()

    env = dict(os.environ)
    warm_nb = fresh_process_first_step("numba", env)
    warm_np = fresh_process_first_step("numpy", env)
    print(f"fresh process to the end of the first MLP step (warm cache): numba {warm_nb:.2f} s, numpy {warm_np:.2f} s")

    if not args.no_cold:
        with tempfile.TemporaryDirectory() as cache:
            env_cold = dict(os.environ, NUMBA_CACHE_DIR=cache)
            code = ("import time; t = time.perf_counter(); import minigrad as mg; be = mg.backends.load('numba');"
                    "be.warmup(parallel=True); print(f'{time.perf_counter() - t:.2f}')")
            out = subprocess.run([sys.executable, "-c", code], check=True, env=env_cold, capture_output=True, text=True)
            cold_first = fresh_process_first_step("numba", env_cold)  # now warm in the temporary cache
        print(f"cold-cache compile of every kernel (float32+float64): {float(out.stdout):.1f} s "
              f"(then a fresh process's first step: {cold_first:.2f} s)")

    print("\ntargets:")
    for label, name, goal in TARGETS:
        print(f"  {'met   ' if big[name] >= goal else 'MISSED'} {label:44s} {big[name]:5.2f}x")
    print(f"  {'met   ' if mlp >= 1.0 else 'MISSED'} {'MLP step never slower (>= 1.0x)':44s} {mlp:5.2f}x")
    fresh = "fresh process, warm cache, first step < 3 s"
    print(f"  {'met   ' if warm_nb < 3.0 else 'MISSED'} {fresh:44s} {warm_nb:5.2f} s")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == "__main__":
    main()
