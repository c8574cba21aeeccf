"""PyTorch's ``torch.random`` spelling of the global random-number functions (``minigrad.manual_seed``, ...),
and ``fork_rng``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .creation import get_rng_state, manual_seed, set_rng_state
from .generator import default_generator
from .runtime import initial_seed, seed

__all__ = ["default_generator", "fork_rng", "get_rng_state", "initial_seed", "manual_seed", "seed", "set_rng_state"]


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, device_type: str = "cuda") -> Iterator[None]:
    """Restore every backend's random-number state on exit, so random numbers drawn inside the block leave the
    stream outside it unchanged (``torch.random.fork_rng``). ``devices`` and ``device_type`` are accepted for
    PyTorch's signature: minigrad forks every backend's state at once."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
