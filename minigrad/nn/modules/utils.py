"""PyTorch's ``torch.nn.modules.utils`` helpers that ported layers call (``_pair(kernel_size)``, ...), with PyTorch's
meaning: an iterable becomes a tuple as it is, anything else is repeated. (minigrad's own layers check their
arguments with ``nn.functional._common``'s ``_pair``/``_tuple``, which also validate and name the argument.)"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any


def _ntuple(n: int, name: str = "parse") -> Callable[[Any], tuple]:
    def parse(x: Any) -> tuple:
        if isinstance(x, Iterable):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t: tuple, n: int) -> tuple:
    """``t`` reversed, each element ``n`` times: a layer's padding in ``F.pad``'s order."""
    return tuple(x for x in reversed(t) for _ in range(n))
