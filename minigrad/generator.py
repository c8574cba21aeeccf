"""``minigrad.Generator``: a host-side, seedable random-number generator, as ``torch.Generator``.

It drives the samplers, ``random_split`` and ``DataLoader`` shuffling (``generator=`` arguments). The
stream is NumPy's PCG64, so the numbers differ from PyTorch's; seeding, state and reproducibility work
the same way.
"""

from __future__ import annotations

import json

import numpy as np

from . import backends as _backends
from .dtypes import int64

__all__ = ["Generator", "default_generator"]

_DEFAULT_SEED = 67280421310721  # torch.Generator().initial_seed()
_MASK = (1 << 64) - 1


class Generator:
    """A host random-number generator: ``Generator().manual_seed(0)`` as in PyTorch (``device`` "cpu")."""

    def __init__(self, device: str = "cpu") -> None:
        if str(device) != "cpu":
            raise ValueError(f"Generator: minigrad's generators live on the host (device='cpu'), got device={device!r}")
        self.device = "cpu"
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Reset the stream to ``seed`` (an int in [-2**63, 2**64); negative ones wrap as in PyTorch)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {type(seed).__name__}")
        seed = int(seed)
        if not -(1 << 63) <= seed <= _MASK:
            raise ValueError(f"Generator.manual_seed: seed {seed} is outside [-2**63, 2**64)")
        self._initial_seed = seed & _MASK
        self._rng = np.random.Generator(np.random.PCG64(self._initial_seed))
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy and return that seed."""
        value = int(np.random.SeedSequence().entropy) & _MASK
        self.manual_seed(value)
        return value

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self):
        """The state as a 1-d uint8 tensor (for ``set_state``)."""
        from .creation import from_numpy

        state = {"format": "minigrad.Generator", "initial_seed": self._initial_seed,
                 "bit_generator": self._rng.bit_generator.state}
        return from_numpy(np.frombuffer(json.dumps(state).encode("utf-8"), dtype=np.uint8).copy(), backend="numpy")

    def set_state(self, new_state) -> Generator:
        """Restore a state from ``get_state``; nothing changes if it is not one."""
        host = new_state.numpy() if hasattr(new_state, "numpy") else np.asarray(new_state)
        if host.dtype != np.uint8 or host.ndim != 1:
            raise TypeError(f"Generator.set_state: expected the 1-d uint8 tensor get_state returned, got "
                            f"{host.dtype} of shape {host.shape}")
        try:
            state = json.loads(host.tobytes().decode("utf-8"))
            if state.get("format") != "minigrad.Generator":
                raise ValueError("unknown format")
            bit_generator = np.random.PCG64()
            bit_generator.state = state["bit_generator"]
            initial = int(state["initial_seed"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"Generator.set_state: not a state from Generator.get_state ({exc})") from None
        self._initial_seed, self._rng = initial, np.random.Generator(bit_generator)
        return self

    def __repr__(self) -> str:
        return f"<minigrad.Generator initial_seed={self._initial_seed}>"


class _DefaultGenerator(Generator):
    """``minigrad.default_generator``, as ``torch.default_generator``: the backends' own generators, which
    ``minigrad.manual_seed`` seeds. ``generator=default_generator`` draws a fresh stream seeded from them (the
    same numbers as ``generator=None`` only where a function itself draws that way, as ``nn.init`` does)."""

    def __init__(self) -> None:
        self.device = "cpu"

    def manual_seed(self, seed: int) -> Generator:
        Generator().manual_seed(seed)  # the same checks of the seed
        _backends.manual_seed(int(seed) & _MASK)
        return self

    def seed(self) -> int:
        from .runtime import seed

        return seed()

    def initial_seed(self) -> int:
        from .runtime import initial_seed

        return initial_seed()

    def get_state(self):
        from .creation import get_rng_state

        return get_rng_state()

    def set_state(self, new_state) -> Generator:
        from .creation import set_rng_state

        set_rng_state(new_state)
        return self

    @property
    def _rng(self) -> np.random.Generator:
        return _resolve(None, "default_generator")

    def __repr__(self) -> str:
        return "<minigrad.default_generator (the backends' generators)>"


default_generator = _DefaultGenerator()


def _resolve(generator: Generator | None, where: str) -> np.random.Generator:
    """The NumPy stream behind ``generator``; without one, a fresh stream seeded by one draw from the current
    backend's generator (which ``minigrad.manual_seed`` seeds), as PyTorch seeds from its default generator."""
    if generator is None:
        be = _backends.current()
        seed = int(be.to_numpy(be.randint(0, 1 << 62, (), int64)))
        return np.random.Generator(np.random.PCG64(seed))
    if not isinstance(generator, Generator):
        raise TypeError(f"{where}: generator must be a minigrad.Generator or None, got {type(generator).__name__}")
    return generator._rng
