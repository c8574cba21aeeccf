"""``RemovableHandle``: what ``Tensor.register_hook`` and the module hook registrations return."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count()


class RemovableHandle:
    """Removes its hook from the registry it was added to: ``handle.remove()``, or leaving a ``with`` block."""

    __slots__ = ("_hooks", "_flags", "id")

    def __init__(self, hooks: dict, flags: tuple[set, ...] = ()) -> None:
        self._hooks = hooks
        self._flags = flags  # sets of hook ids with an option on (a forward hook's with_kwargs, always_call)
        self.id = next(_ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        for ids in self._flags:
            ids.discard(self.id)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def add_hook(hooks: dict, hook, flags: tuple[set, ...] = ()) -> RemovableHandle:
    """Register ``hook`` in ``hooks`` (run in registration order) and return its handle, which also removes
    its id from ``flags``."""
    if not callable(hook):
        raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks, flags)
    hooks[handle.id] = hook
    return handle
