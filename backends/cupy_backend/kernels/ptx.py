"""Compile every kernel to PTX for a given compute capability, without a device.

``python -m minigrad_backends.cupy_backend.kernels.ptx [major minor]`` (default sm_90) compiles each kernel for
float32 and float64 arrays and prints one line per kernel. It needs numba-cuda and NVRTC
(``nvidia-cuda-nvrtc``), not a GPU, and must run without the simulator (``NUMBA_ENABLE_CUDASIM`` unset).
"""

from __future__ import annotations

import sys

from numba import cuda

from . import activation, batchnorm, optim, softmax

MODULES = (activation, softmax, batchnorm, optim)


def signature(template: str, dtype: str) -> str:
    """A KERNELS signature template with ``a``/``a2`` (the data, 1-d/2-d) and ``f1``/``f2`` (float64) filled in."""
    words = {"a": f"{dtype}[::1]", "a2": f"{dtype}[:, ::1]", "f1": "float64[::1]", "f2": "float64[:, ::1]"}
    inner = template.strip("()").split(", ")
    return "(" + ", ".join(words.get(word, word) for word in inner) + ")"


def compile_all(cc: tuple[int, int] = (9, 0)) -> dict[str, int]:
    """{kernel name and dtype: PTX size in characters} for every kernel of every module."""
    sizes = {}
    for module in MODULES:
        for kernel, template in module.KERNELS.items():
            for dtype in ("float32", "float64"):
                ptx, _ = cuda.compile_ptx(kernel.py_func, signature(template, dtype), cc=cc)
                assert f".target sm_{cc[0]}{cc[1]}" in ptx, ptx[:200]
                sizes[f"{module.__name__.rsplit('.', 1)[-1]}.{kernel.py_func.__name__}[{dtype}]"] = len(ptx)
    return sizes


if __name__ == "__main__":
    cc = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) == 3 else (9, 0)
    for name, size in compile_all(cc).items():
        print(f"{name}: {size} characters of PTX for sm_{cc[0]}{cc[1]}")
