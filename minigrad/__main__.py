"""``python -m minigrad``: versions and the state of every known backend."""

from __future__ import annotations

import argparse
import platform
import sys

import numpy as np

from . import __version__, backends


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minigrad",
        description="Print minigrad's version, the Python and NumPy versions, and whether each "
        "registered backend is available (or why not, and how to fix it).",
    )
    parser.parse_args(argv)
    print(f"minigrad {__version__}")
    print(f"Python   {platform.python_version()} ({sys.executable})")
    print(f"NumPy    {np.__version__}")
    print(f"default backend: {backends.get_backend()}")
    print("backends:")
    for name, state in backends.available().items():
        if state is True:
            print(f"  {name:<8} available ({backends.load(name).describe()})")
        else:
            print(f"  {name:<8} not available: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
