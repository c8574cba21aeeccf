"""minigrad: a small reverse-mode autograd engine with NumPy, Numba and CuPy backends.

``import minigrad`` imports NumPy only; other backends load on first use.
"""

from . import backends
from ._version import __version__
from .backends import get_backend, set_backend
from .backends import use as backend
from .creation import (
    arange,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    get_rng_state,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    set_rng_state,
    zeros,
    zeros_like,
)
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
from .grad_mode import (
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from .gradcheck import GradcheckReport, gradcheck, gradgradcheck
from .ops import (
    abs,
    add,
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    clone,
    concatenate,
    cos,
    cumsum,
    div,
    einsum,
    eq,
    erf,
    exp,
    expand,
    flatten,
    gather,
    ge,
    gelu,
    gt,
    isfinite,
    isnan,
    le,
    leaky_relu,
    log,
    log_softmax,
    logsumexp,
    lt,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    ne,
    neg,
    norm,
    outer,
    pad,
    permute,
    pow,
    prod,
    relu,
    repeat,
    reshape,
    rsqrt,
    scatter_add,
    sigmoid,
    sign,
    sin,
    softmax,
    softplus,
    sort,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    topk,
    transpose,
    tril,
    triu,
    unsqueeze,
    var,
    where,
)
from .tensor import Tensor, tensor

bool = bool_  # noqa: A001 - minigrad.bool, as torch.bool

__all__ = [
    "BackendMismatchError", "BackendUnavailableError", "DatasetError", "DatasetNotFoundError", "Function",
    "GradcheckError", "GradcheckReport", "InplaceError", "MinigradError", "SerializationError", "ShapeError",
    "Tensor", "UnknownBackendError", "__version__", "abs", "add", "all", "amax", "amin", "any", "arange",
    "argmax", "argmin", "argsort", "backend", "backends", "bool", "bool_", "broadcast_to", "cat", "chunk",
    "clamp", "clip", "clone", "concatenate", "cos", "cumsum", "detect_anomaly", "div", "einsum", "empty", "empty_like",
    "enable_grad", "eq", "erf", "exp", "expand", "eye", "flatten", "float32", "float64", "from_numpy", "full",
    "full_like", "gather", "ge", "gelu", "get_backend", "get_rng_state", "grad", "gradcheck", "gradgradcheck",
    "gt", "int32", "int64", "is_anomaly_enabled", "is_grad_enabled", "isfinite", "isnan", "le", "leaky_relu",
    "linspace", "log", "log_softmax", "logsumexp", "lt", "manual_seed", "masked_fill", "matmul", "max",
    "maximum", "mean", "min", "minimum", "mul", "ne", "neg", "no_grad", "norm", "ones", "ones_like", "outer", "pad",
    "permute", "pow", "prod", "rand", "rand_like", "randint", "randn", "randn_like", "relu", "repeat", "reshape",
    "rsqrt", "scatter_add", "set_backend", "set_detect_anomaly", "set_grad_enabled", "set_rng_state",
    "sigmoid", "sign", "sin", "softmax", "softplus", "sort", "split", "sqrt", "squeeze", "stack", "std",
    "sub", "sum", "tanh", "tensor", "topk", "transpose", "tril", "triu", "uint8", "unsqueeze", "var", "where", "zeros",
    "zeros_like",
]

_LAZY_MODULES = ("nn", "optim", "data", "testing")


def __getattr__(name: str):
    """Submodules that import more than NumPy (``nn``, ``optim``, ``data``, ``testing``) load on first use;
    ``save``/``load`` come from ``minigrad.serialization``."""
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in ("save", "load"):
        return getattr(importlib.import_module(f"{__name__}.serialization"), name)
    raise AttributeError(f"module 'minigrad' has no attribute {name!r}")
