"""Where Numba writes its on-disk cache; imported before any kernel module is compiled.

Numba's default (``__pycache__`` next to the source) fails when the package is installed read-only, so
we point ``numba.config.CACHE_DIR`` at a per-user cache directory (or under ``NUMBA_CACHE_DIR`` when that
is set). Numba reads ``config.CACHE_DIR`` when a ``cache=True`` function is decorated, so this must run
before the kernel modules are imported.

Within it, each build gets its own subdirectory, named by the package's import name and a hash of this
package's sources, because Numba's own index has two blind spots:

- it checks only the decorated function's file, so an edit of a shared helper module (``_math.py``) would
  leave kernels that inline the old helper in the cache;
- an entry records the module by name; loading one written under another import name (the tree imported
  as ``backends.numba_backend`` from a checkout instead of ``minigrad_backends.numba_backend``) fails or
  imports a second copy of the package.

Old subdirectories are not pruned; deleting the cache directory is always safe.
"""

from __future__ import annotations

import hashlib
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


def build_key() -> str:
    """``<import name>-<hash of this package's .py files>``: one cache per build and import name."""
    here = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha1(numba.__version__.encode())
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return f"{__package__}-{digest.hexdigest()[:12]}"


def configure() -> str:
    """Choose the cache directory (below an explicit ``NUMBA_CACHE_DIR`` if set) and return it."""
    base = os.environ.get("NUMBA_CACHE_DIR") or user_cache_dir()
    path = os.path.join(base, build_key())
    if not _writable(path):  # e.g. a read-only home: a per-user temporary directory still caches
        uid = os.getuid() if hasattr(os, "getuid") else 0
        path = os.path.join(tempfile.gettempdir(), f"minigrad-numba-{uid}", build_key())
        os.makedirs(path, exist_ok=True)
    numba.config.CACHE_DIR = path
    return path


CACHE_DIR = configure()
