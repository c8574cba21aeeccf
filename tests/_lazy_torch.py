"""``torch`` for test files whose PyTorch comparisons sit beside tests that need no PyTorch.

``from _lazy_torch import torch`` gives an object that imports PyTorch on first attribute access, through
``pytest.importorskip``: without PyTorch, a test that touches ``torch.<anything>`` is skipped, and the file's
other tests (finite-difference gradchecks, error messages) still run, instead of the whole file being skipped.
"""

from __future__ import annotations

import pytest


class _LazyTorch:
    def __getattr__(self, name: str):
        # pytest's collector probes module attributes (``__test__``, ``pytestmark``, ...): those must not import.
        if name.startswith("_") or name.startswith("pytest"):
            raise AttributeError(name)
        return getattr(pytest.importorskip("torch"), name)


torch = _LazyTorch()
