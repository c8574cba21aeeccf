"""The Numba backend's threading policy when an OpenMP runtime was loaded before it (PyTorch loads its own
libgomp), each case in a fresh process: the layer and wait policy chosen, the OpenMP runtime Numba's
parallel regions really call (the dynamic linker's ``LD_DEBUG=bindings`` trace), the environment left as
found, and kernels that agree with the NumPy backend. No timing: ``benchmarks/bench_beside_torch.py``
measures it.
"""

from __future__ import annotations

import ctypes.util
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")

USER_SETTINGS = ("NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in USER_SETTINGS}

# Runs a parallel kernel (512K elements, above parallel_threshold); REPORT prints the policy, the environment's
# OMP_WAIT_POLICY and the libgomp files mapped.
KERNEL = textwrap.dedent("""
    import os
    import numpy as np
    import minigrad as mg
    be = mg.backends.load("numba")
    x = np.random.default_rng(0).standard_normal((1024, 512)).astype(np.float32)
    assert np.allclose(be.softmax(x, -1), mg.backends.load("numpy").softmax(x, -1), atol=1e-6)
""")
REPORT = textwrap.dedent("""
    runtimes = sorted({line.split()[-1] for line in open("/proc/self/maps") if "libgomp" in line})
    print(be.threading_policy, os.environ.get("OMP_WAIT_POLICY"), runtimes, sep="|")
""")


def _run(script: str, env: dict | None = None) -> tuple[str, str, list[str]]:
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env or CLEAN_ENV, timeout=300)
    assert result.returncode == 0, result.stderr
    policy, wait, runtimes = result.stdout.strip().splitlines()[-1].split("|")
    return policy, wait, eval(runtimes)  # noqa: S307 - our own printed list of strings


def _system_libgomp() -> str:
    name = ctypes.util.find_library("gomp")
    if name is None or not sys.platform.startswith("linux"):
        pytest.skip("needs Linux and libgomp")
    script = (f"import ctypes; ctypes.CDLL({name!r})\n"
              "print(*{line.split()[-1] for line in open('/proc/self/maps') if 'gomp' in line})")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()


def _omppool_bindings(trace_dir) -> set[str]:
    """The libraries that Numba's OpenMP layer bound ``GOMP_parallel`` to, from the ``LD_DEBUG`` trace."""
    bound = set()
    for trace in trace_dir.iterdir():
        for line in trace.read_text(errors="replace").splitlines():
            if "omppool" in line and "`GOMP_parallel'" in line:
                bound.add(re.search(r" to (\S+) \[", line).group(1))
    return bound


@pytest.mark.parametrize(("mode", "user_env", "chosen"), [
    ("RTLD_GLOBAL", {}, "minigrad's default"),
    ("RTLD_GLOBAL", {"NUMBA_THREADING_LAYER": "omp"}, "user's choice"),
    ("RTLD_LOCAL", {}, "minigrad's default"),
])
def test_numba_binds_its_own_libgomp_when_another_copy_was_loaded(tmp_path, mode, user_env, chosen):
    """A second copy of libgomp loaded first, globally as PyTorch's wheel loads its bundled one, or locally as
    scikit-learn's: Numba's layer still loads and calls its own libgomp, started passive, so the omp layer
    is kept."""
    copy = tmp_path / "lib" / "libgomp.so.1"
    copy.parent.mkdir()
    shutil.copy(_system_libgomp(), copy)
    trace = tmp_path / "trace"
    trace.mkdir()
    script = f"import ctypes; ctypes.CDLL({str(copy)!r}, mode=ctypes.{mode})\n" + KERNEL + REPORT
    env = dict(CLEAN_ENV, LD_DEBUG="bindings", LD_DEBUG_OUTPUT=str(trace / "ld"), **user_env)
    policy, wait, runtimes = _run(script, env)
    assert wait == "None"  # set only while Numba's layer loaded
    assert str(copy) in runtimes and len(runtimes) == 2, runtimes
    assert policy == f"omp, OMP_WAIT_POLICY=PASSIVE ({chosen})"
    bound = _omppool_bindings(trace)
    assert bound and str(copy) not in bound, bound


def test_workqueue_when_numbas_own_libgomp_was_loaded_first():
    """The same libgomp file loaded first: its (spinning) wait policy is fixed, so the pool-less workqueue
    layer is chosen."""
    script = f"import ctypes; ctypes.CDLL({_system_libgomp()!r})\n" + KERNEL + REPORT
    policy, wait, runtimes = _run(script)
    assert wait == "None" and len(runtimes) == 1, runtimes
    assert policy.startswith(("workqueue", "tbb")), policy


@pytest.mark.parametrize("order", ["torch first", "torch after"])
def test_beside_pytorch(order):
    """With PyTorch imported before or after the backend starts, both compute correctly and the backend's
    policy is the one it takes alone whenever Numba's libgomp is another file than PyTorch's."""
    pytest.importorskip("torch")
    torch_ops = textwrap.dedent("""
        import torch
        t = torch.from_numpy(x)
        assert torch.allclose(torch.softmax(t, -1), torch.from_numpy(be.softmax(x, -1)), atol=1e-6)
        assert torch.allclose((t @ t.T)[:3, :3], torch.from_numpy(x[:3] @ x[:3].T), atol=1e-3)
    """)
    script = KERNEL + torch_ops + REPORT
    policy, wait, runtimes = _run("import torch\n" + script if order == "torch first" else script)
    assert wait == "None"
    if len(runtimes) == 2 or order == "torch after":
        assert policy == "omp, OMP_WAIT_POLICY=PASSIVE (minigrad's default)"
    else:  # one libgomp file shared with PyTorch
        assert policy.startswith(("workqueue", "tbb")), policy
