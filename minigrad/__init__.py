"""minigrad: a small reverse-mode autograd engine with NumPy, Numba and CuPy backends.

``import minigrad`` imports NumPy only; other backends load on first use.
"""

from . import backends
from ._version import __version__
from .backends import get_backend, set_backend
from .backends import use as backend
from .creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    get_default_dtype,
    get_rng_state,
    linspace,
    manual_seed,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    set_rng_state,
    zeros,
    zeros_like,
)
from .devices import device
from .dtypes import bool_, float32, float64, int32, int64, uint8
from .engine import grad
from .errors import (
    BackendMismatchError,
    BackendUnavailableError,
    DatasetError,
    DatasetNotFoundError,
    GradcheckError,
    InplaceError,
    MinigradError,
    SerializationError,
    ShapeError,
    UnknownBackendError,
)
from .function import Function
from .generator import Generator
from .grad_mode import (
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from .gradcheck import GradcheckReport, gradcheck, gradgradcheck
from .ops import PUBLIC as _OPS
from .ops import TOP_LEVEL as _OPS_TOP_LEVEL
from .tensor import Tensor, is_tensor, numel, tensor

bool = bool_  # noqa: A001 - minigrad.bool, as torch.bool

# The ops (minigrad.abs, minigrad.add, ...) come from their registry, where each is declared once.
globals().update({name: _OPS[name] for name in _OPS_TOP_LEVEL})

__all__ = [
    "DatasetError", "DatasetNotFoundError", "as_tensor", "bernoulli", "get_default_dtype", "inference_mode",
    "is_tensor", "normal", "numel", "randperm", "SerializationError", "BackendMismatchError",
    "BackendUnavailableError", "Function", "GradcheckError", "GradcheckReport", "InplaceError", "MinigradError",
    "ShapeError", "Tensor", "UnknownBackendError", "__version__", "arange", "backend", "backends", "bool",
    "bool_", "detect_anomaly", "device", "empty", "empty_like", "enable_grad", "eye", "float32", "float64",
    "from_dlpack", "from_numpy", "full", "full_like", "get_backend", "get_rng_state", "grad", "gradcheck",
    "gradgradcheck", "int32", "int64",
    "is_anomaly_enabled", "is_grad_enabled", "linspace", "manual_seed", "no_grad", "ones", "ones_like", "rand",
    "rand_like", "randint", "randn", "randn_like", "set_backend", "set_detect_anomaly", "set_grad_enabled",
    "set_rng_state", "tensor", "uint8", "zeros", "zeros_like",
    "Generator",
    *sorted(_OPS_TOP_LEVEL),
]

# PyTorch's index_put/index_put_ (ops.index_put is ``x[index] = value``'s op) and the samplers.
from .ops.indexing import index_put_  # noqa: E402
from .ops.indexing import index_put_values as index_put  # noqa: E402
from .sampling import multinomial  # noqa: E402

__all__ += ["index_put", "index_put_", "multinomial"]

_LAZY_MODULES = ("nn", "optim", "data", "testing", "cuda", "utils", "autograd", "linalg")


def __getattr__(name: str):
    """Submodules that import more than NumPy (``nn``, ``optim``, ``data``, ``testing``) and PyTorch's
    ``cuda`` and ``utils.data`` spellings load on first use; ``save``/``load`` come from
    ``minigrad.serialization``."""
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in ("save", "load"):
        return getattr(importlib.import_module(f"{__name__}.serialization"), name)
    raise AttributeError(f"module 'minigrad' has no attribute {name!r}")
