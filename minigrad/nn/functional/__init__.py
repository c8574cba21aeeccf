"""Functional forms of the layers and losses, with PyTorch's names, arguments and semantics.

Everything here is differentiable to any order: the composites are built from differentiable ops, and the
ops (``Unfold``/``Fold``/``MaxPool2d`` in ``minigrad.ops.conv``, ``SoftmaxCrossEntropy`` in
``minigrad.ops.loss``, ``batch_norm`` from ``minigrad.ops.batchnorm``) have backward rules written in tensor ops.
``OPS`` is the explicit registry of the public differentiable functions, each registered where it is defined.

The functions live in modules by meaning (``conv``, ``pooling``, ``normalization``, ``sparse``, ``losses``,
``margin_losses``, ``ctc``, ``activations``, ``attention``, ``resampling``, ``grid``; shared helpers in
``_common``) and are all exported here, so ``import minigrad.nn.functional as F`` and ``F.name`` work as with PyTorch.
"""

from __future__ import annotations

from ...ops import (
    gelu,
    log_softmax,
    pad,  # PyTorch's F.pad; registered (and tested) with the tensor ops
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from ...ops.batchnorm import batch_norm
from . import (  # noqa: F401 - each registers its public functions in OPS
    activations,
    attention,
    conv,
    ctc,
    grid,
    losses,
    margin_losses,
    normalization,
    pooling,
    resampling,
    sparse,
)
from ._common import OPS, _legacy_reduction, _pair, _public, _single  # noqa: F401 - F._pair etc. are used by nn
from .activations import INPLACE as _INPLACE
from .pooling import WITH_INDICES as _WITH_INDICES
from .resampling import DEPRECATED as _DEPRECATED
from .sparse import one_hot

# The ops re-exported from minigrad.ops are registered here; the functions of this package where they are defined.
# (relu, elu, leaky_relu, hardtanh and silu are defined in .activations, with PyTorch's ``inplace`` argument.)
# They run as ops already (Function.apply), so they are registered as they are, without ``_public``'s wrapper.
for _op in (batch_norm, gelu, log_softmax, sigmoid, softmax, softplus, tanh):
    OPS[_op.__name__] = _op
del _op

globals().update(OPS)
globals().update(_INPLACE)  # relu_, elu_, ...: in-place spellings, not in OPS (no spec runs in place)
globals().update(_WITH_INDICES)  # max_pool2d_with_indices, ...: return_indices=True spellings
globals().update(_DEPRECATED)  # upsample, upsample_nearest, upsample_bilinear: interpolate, with a warning

# -- exported names ---------------------------------------------------------------------------------
# one_hot: int64 output, not differentiable, so not in OPS
__all__ = ["OPS", "one_hot", "pad", *sorted(OPS), *sorted(_INPLACE), *sorted(_WITH_INDICES), *sorted(_DEPRECATED)]
