"""Where Numba writes its on-disk cache; imported before any kernel module is compiled.

Numba's default (``__pycache__`` next to the source) fails when the package is installed read-only, so
unless ``NUMBA_CACHE_DIR`` is set we point ``numba.config.CACHE_DIR`` at a per-user cache directory. Numba
reads ``config.CACHE_DIR`` when a ``cache=True`` function is decorated, so this must run before the kernel
modules are imported.
"""

from __future__ import annotations

import os
import tempfile

import numba


def user_cache_dir() -> str:
    """``$XDG_CACHE_HOME/minigrad/numba`` (default ``~/.cache/minigrad/numba``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "minigrad", "numba")


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
        return True
    except OSError:
        return False


def configure() -> str:
    """Choose the cache directory (an explicit ``NUMBA_CACHE_DIR`` always wins) and return it."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return numba.config.CACHE_DIR
    path = user_cache_dir()
    if not _writable(path):  # e.g. a read-only home: a per-user temporary directory still caches
        path = os.path.join(tempfile.gettempdir(), f"minigrad-numba-{os.getuid() if hasattr(os, 'getuid') else 0}")
        os.makedirs(path, exist_ok=True)
    numba.config.CACHE_DIR = path
    return path


CACHE_DIR = configure()
