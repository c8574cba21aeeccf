"""Backend registry and selection.

Backends register under the ``minigrad.backends`` entry-point group (the in-tree ones too) and are imported
lazily, on first use. Which backend a *new* tensor gets, highest precedence first: an explicit ``backend=``
(or ``t.to(name)``), the innermost ``with minigrad.backend(name):`` block, ``minigrad.set_backend(name)``,
the ``MINIGRAD_BACKEND`` environment variable, and finally ``"numpy"``. Ops run on their inputs' backend.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from importlib import metadata
from typing import Any

from ._backend_flags import cuda, cudnn, mps  # noqa: F401 - PyTorch's torch.backends flags (no effect here)
from .errors import BackendUnavailableError, UnknownBackendError

ENTRY_POINT_GROUP = "minigrad.backends"
ENV_VAR = "MINIGRAD_BACKEND"

_context: ContextVar[str | None] = ContextVar("minigrad_backend", default=None)
_default: str | None = None
_entry_points: dict[str, metadata.EntryPoint] | None = None
_loaded: dict[str, Any] = {}
_failures: dict[str, str] = {}
_seed: int | None = None
_num_threads: int | None = None  # minigrad.set_num_threads: applied to backends with threads, now and when loaded


def _registry() -> dict[str, metadata.EntryPoint]:
    global _entry_points
    if _entry_points is None:
        found = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
        if not found:
            raise BackendUnavailableError(
                "no minigrad backend is registered: the package metadata is missing. Install minigrad "
                "with pip (for a checkout: pip install -e .) so that its entry points exist."
            )
        _entry_points = found
    return _entry_points


def names() -> list[str]:
    """Every registered backend name, available or not."""
    return sorted(_registry())


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a backend name must be a string, got {type(name).__name__}")
    if name not in _registry():
        raise UnknownBackendError(f"unknown backend {name!r}; known backends: {', '.join(names())}")
    return name


def load(name: str):
    """The backend object for ``name``, imported on first use."""
    backend = _loaded.get(name)
    if backend is not None:
        return backend
    _check_name(name)
    if name in _failures:
        raise BackendUnavailableError(_failures[name])
    try:
        cls = _registry()[name].load()
        cls.check_available()
        backend = cls()
    except (ImportError, AttributeError, RuntimeError, OSError) as exc:
        _failures[name] = f"backend {name!r} is not available: {exc}"
        raise BackendUnavailableError(_failures[name]) from exc
    if _seed is not None:
        backend.manual_seed(_seed)
    if _num_threads is not None and hasattr(backend, "set_num_threads"):
        backend.set_num_threads(_num_threads)
    _loaded[name] = backend
    return backend


def available() -> dict[str, bool | str]:
    """Each registered name mapped to ``True``, or to the reason it cannot be used and how to fix it."""
    result: dict[str, bool | str] = {}
    for name in names():
        try:
            load(name)
            result[name] = True
        except BackendUnavailableError as exc:
            result[name] = str(exc)
    return result


def get_backend() -> str:
    """The name of the backend that new tensors get here and now."""
    name = _context.get()
    if name is not None:
        return name
    if _default is not None:
        return _default
    env = os.environ.get(ENV_VAR)
    if env:
        return _check_name(env.strip())
    return "numpy"


def set_backend(name: str) -> None:
    """Make ``name`` the process-wide default for new tensors (a ``with backend(...)`` block still wins)."""
    global _default
    load(name)
    _default = name


@contextlib.contextmanager
def use(name: str) -> Iterator[str]:
    """``with minigrad.backend(name):`` new tensors inside the block live on ``name``."""
    load(name)
    token = _context.set(name)
    try:
        yield name
    finally:
        _context.reset(token)


def current():
    """The backend object that new tensors get here and now."""
    return load(get_backend())


def resolve(name: str | None):
    """The backend object for an explicit name, or the current one for ``None``."""
    return current() if name is None else load(name)


def manual_seed(seed: int) -> None:
    """Seed every loaded backend's generator, and every backend loaded later."""
    global _seed
    _seed = int(seed)
    for backend in _loaded.values():
        backend.manual_seed(_seed)


def get_rng_state() -> dict:
    """Every loaded backend's generator state, and the seed that backends loaded later will get."""
    return {"seed": _seed, "backends": {name: backend.get_rng_state() for name, backend in _loaded.items()}}


def set_rng_state(state: dict) -> None:
    """Restore what ``get_rng_state`` returned (loading the backends it names)."""
    global _seed
    saved = state["backends"]
    for name, backend_state in saved.items():
        load(name).set_rng_state(backend_state)
    _seed = state["seed"]
    for name, backend in _loaded.items():
        if name not in saved and _seed is not None:
            backend.manual_seed(_seed)  # loaded since: back to how it starts when loaded after the seed
