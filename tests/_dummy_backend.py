"""A second backend for tests that need two: a renamed NumPy backend registered for the test's duration.

``minigrad.backends`` finds backends through entry points (``_registry()``) and caches loaded ones in
``_loaded``; ``register(monkeypatch, name, cls)`` adds an entry to both caches through ``monkeypatch`` so
that everything is restored when the test ends.
"""

from __future__ import annotations

from minigrad_backends.numpy_backend import NumpyBackend

from minigrad import backends


class DummyBackend(NumpyBackend):
    """The NumPy backend under another name: arrays are ndarrays, but tensors on it are another backend."""

    name = "dummy"


class _EntryPoint:
    """The part of ``importlib.metadata.EntryPoint`` the registry uses."""

    def __init__(self, name: str, cls) -> None:
        self.name = name
        self.value = f"tests:{cls.__name__}"
        self.group = backends.ENTRY_POINT_GROUP
        self._cls = cls

    def load(self):
        return self._cls


def register(monkeypatch, name: str = "dummy", cls=DummyBackend) -> None:
    """Register ``cls`` as backend ``name`` until the end of the test (and isolate the selection state)."""
    registry = dict(backends._registry())
    registry[name] = _EntryPoint(name, cls)
    monkeypatch.setattr(backends, "_entry_points", registry)
    monkeypatch.setattr(backends, "_loaded", dict(backends._loaded))
    monkeypatch.setattr(backends, "_failures", dict(backends._failures))
    monkeypatch.setattr(backends, "_default", None)
    monkeypatch.delenv(backends.ENV_VAR, raising=False)
