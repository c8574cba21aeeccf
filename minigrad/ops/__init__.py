"""Every differentiable op, one class each, and the public functions that apply them.

Each public function registers itself where it is defined (``_registry.public`` and the declarations next to
it), so importing the op modules below fills the tables this package, ``minigrad`` and ``Tensor`` are built
from: ``OPS`` holds the differentiable ones (each has a spec in the agreement suite and a gradcheck).
"""

from __future__ import annotations

from . import (  # noqa: F401 - each registers its ops
    arithmetic,
    composites,
    cumulative,
    distance,
    elementwise,
    indexing,
    linalg,
    linalg_extra,
    matrix,
    movement,
    pointwise,
    reduction,
    segments,
    softmax,
    sorting,
    special,
    stacking,
    statistics,
    strided,
    tensor_methods,
)
from ._registry import METHODS, OPS, PUBLIC, TOP_LEVEL  # noqa: F401 - read by minigrad and Tensor

globals().update(PUBLIC)

__all__ = ["OPS", *sorted(PUBLIC)]
