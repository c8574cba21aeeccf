"""Where Numba caches this package's kernels; imported before any kernel module is compiled.

Numba's default (``__pycache__`` next to the source) fails when the package is installed read-only, so the
kernels go to a per-user cache directory (or below ``NUMBA_CACHE_DIR`` when that is set). Numba picks a
function's cache location when a ``cache=True`` function is decorated, so this must run before the kernel
modules are imported.

Within it, each build gets its own subdirectory, named by the package's import name and a hash of this
package's sources, because Numba's own index has two blind spots:

- it checks only the decorated function's file, so an edit of a shared helper module (``_math.py``) would
  leave kernels that inline the old helper in the cache;
- an entry records the module by name; loading one written under another import name (the tree imported
  as ``backends.numba_backend`` from a checkout instead of ``minigrad_backends.numba_backend``) fails or
  imports a second copy of the package.

The kernels' files go straight into that subdirectory through a cache locator of our own, which Numba
consults first and which answers only for this package's files. Numba's own locator for ``CACHE_DIR`` adds
a hash of the source file's directory, so every checkout or clone of the same sources (CI's fresh clone
each run) would compile everything again; the build key already names the sources. The locator also
leaves ``numba.config.CACHE_DIR`` alone, so the user's other cached functions stay where they were. Where
Numba's locator list cannot be extended (a Numba without it, or ``NUMBA_CACHE_LOCATOR_CLASSES`` set), the
kernels fall back to ``config.CACHE_DIR`` set to the subdirectory, as before.

Old subdirectories are not pruned; deleting the cache directory is always safe.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

import numba
from numba.core import caching as _caching


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


_HERE = os.path.dirname(os.path.abspath(__file__))


class KernelCacheLocator(_caching._SourceFileBackedLocatorMixin, _caching._CacheLocator):
    """Numba's cache locator for the kernels of this package: ``CACHE_DIR`` itself, whatever the path of the
    checkout. Numba's source stamp (a hash of the file) and disambiguator (the line) are kept."""

    def __init__(self, py_func, py_file) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno

    def get_cache_path(self) -> str:
        return CACHE_DIR

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.dirname(os.path.abspath(py_file)) != _HERE:
            return None  # another library's function: Numba's own locators decide
        return super().from_function(py_func, py_file)


def _install_locator() -> bool:
    """Put ``KernelCacheLocator`` first in Numba's list; False where Numba has no such list or the user chose the
    locators (``NUMBA_CACHE_LOCATOR_CLASSES``)."""
    impl = getattr(_caching, "CacheImpl", None) or getattr(_caching, "_CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    if not isinstance(classes, list) or getattr(numba.config, "CACHE_LOCATOR_CLASSES", None):
        return False
    if KernelCacheLocator not in classes:
        classes.insert(0, KernelCacheLocator)
    return True


def configure() -> str:
    """Choose the cache directory (below an explicit ``NUMBA_CACHE_DIR`` if set) and return it."""
    global CACHE_DIR
    base = os.environ.get("NUMBA_CACHE_DIR") or user_cache_dir()
    path = os.path.join(base, build_key())
    if not _writable(path):  # e.g. a read-only home: a per-user temporary directory still caches
        uid = os.getuid() if hasattr(os, "getuid") else 0
        path = os.path.join(tempfile.gettempdir(), f"minigrad-numba-{uid}", build_key())
        os.makedirs(path, exist_ok=True)
    CACHE_DIR = path
    if not _install_locator():
        numba.config.CACHE_DIR = path
    return path


CACHE_DIR = ""
configure()
