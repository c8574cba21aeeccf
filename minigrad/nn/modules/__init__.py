"""PyTorch's ``torch.nn.modules`` import paths (``torch.nn.modules.batchnorm._BatchNorm``, ``...loss._Loss``,
``...module.register_module_forward_hook``): each submodule names minigrad's own classes that PyTorch's file of
that name holds, and the package holds every layer class, as PyTorch's. Only what minigrad has (docs/nn.md)."""

from . import (  # noqa: F401 - reached as attributes (nn.modules.utils._pair), as PyTorch's
    activation,
    adaptive,
    batchnorm,
    channelshuffle,
    container,
    conv,
    distance,
    dropout,
    flatten,
    fold,
    instancenorm,
    linear,
    loss,
    module,
    normalization,
    padding,
    pixelshuffle,
    pooling,
    rnn,
    sparse,
    transformer,
    upsampling,
    utils,
)
from .module import Module

_LAYERS = (activation, adaptive, batchnorm, channelshuffle, container, conv, distance, dropout, flatten, fold,
           instancenorm, linear, loss, normalization, padding, pixelshuffle, pooling, rnn, sparse, transformer,
           upsampling)
globals().update({name: getattr(sub, name) for sub in _LAYERS for name in sub.__all__ if not name.startswith("_")})

__all__ = ["Module", *sorted(name for sub in _LAYERS for name in sub.__all__ if not name.startswith("_"))]
