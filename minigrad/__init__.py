"""minigrad: a small reverse-mode autograd engine with NumPy, Numba and CuPy backends.

``import minigrad`` imports NumPy only; other backends load on first use.
"""

import numpy as _np

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
    AnomalyError,
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
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_anomaly_enabled,
    set_detect_anomaly,
    set_grad_enabled,
)
from .gradcheck import GradcheckReport, gradcheck, gradgradcheck
from .ops import PUBLIC as _OPS
from .ops import TOP_LEVEL as _OPS_TOP_LEVEL
from .tensor import Tensor, is_tensor, numel, tensor, typename

bool = bool_  # noqa: A001 - minigrad.bool, as torch.bool

# The ops (minigrad.abs, minigrad.add, ...) come from their registry, where each is declared once.
globals().update({name: _OPS[name] for name in _OPS_TOP_LEVEL})

__all__ = [
    "DatasetError", "DatasetNotFoundError", "as_tensor", "bernoulli", "get_default_dtype", "inference_mode",
    "is_tensor", "normal", "numel", "randperm", "SerializationError", "AnomalyError", "BackendMismatchError",
    "BackendUnavailableError", "Function", "GradcheckError", "GradcheckReport", "InplaceError", "MinigradError",
    "ShapeError", "Tensor", "UnknownBackendError", "__version__", "arange", "backend", "backends", "bool",
    "bool_", "detect_anomaly", "device", "empty", "empty_like", "enable_grad", "eye", "float32", "float64",
    "from_dlpack", "from_numpy", "full", "full_like", "get_backend", "get_rng_state", "grad", "gradcheck",
    "gradgradcheck", "int32", "int64",
    "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "is_grad_enabled", "is_inference_mode_enabled",
    "set_anomaly_enabled", "typename",
    "linspace", "manual_seed", "no_grad", "ones", "ones_like", "rand",
    "rand_like", "randint", "randn", "randn_like", "set_backend", "set_detect_anomaly", "set_grad_enabled",
    "set_rng_state", "tensor", "uint8", "zeros", "zeros_like",
    "Generator",
    *sorted(_OPS_TOP_LEVEL),
]

# PyTorch's namespace: the dtype API, process-wide switches, randint_like/poisson, amp and compile (the stacking
# and search functions, vstack ... isin, are ops: they come from the registry above).
from . import amp  # noqa: E402
from .amp import autocast  # noqa: E402
from .creation import (  # noqa: E402
    asarray,
    bartlett_window,
    blackman_window,
    frombuffer,
    hamming_window,
    hann_window,
    kaiser_window,
    poisson,
    randint_like,
    scalar_tensor,
    set_default_dtype,
)
from .creation import torch_range as range  # noqa: E402, A004 - PyTorch's deprecated torch.range
from .devices import get_default_device, set_default_device  # noqa: E402
from .dtypes import can_cast, finfo, iinfo, int8, int16, layout, promote_types, result_type, strided  # noqa: E402
from .generator import default_generator  # noqa: E402
from .runtime import (  # noqa: E402
    are_deterministic_algorithms_enabled,
    compile,
    get_deterministic_debug_mode,
    get_float32_matmul_precision,
    get_num_interop_threads,
    get_num_threads,
    initial_seed,
    is_deterministic_algorithms_warn_only_enabled,
    is_warn_always_enabled,
    seed,
    set_deterministic_debug_mode,
    set_float32_matmul_precision,
    set_flush_denormal,
    set_num_interop_threads,
    set_num_threads,
    set_printoptions,
    set_warn_always,
    use_deterministic_algorithms,
)
from .tensor import Size  # noqa: E402

short = int16
dtype = _np.dtype  # minigrad's dtypes are NumPy's: isinstance(x.dtype, minigrad.dtype) holds, as with torch.dtype
# PyTorch's dtype aliases: torch.float is float32 and torch.int is int32 whatever the default dtype
float, double, long, int = float32, float64, int64, int32  # noqa: A001
__all__ += [
    "Size", "amp", "are_deterministic_algorithms_enabled", "autocast", "can_cast", "compile", "default_generator",
    "finfo", "get_num_threads", "iinfo", "initial_seed", "int8", "int16",
    "is_deterministic_algorithms_warn_only_enabled", "poisson", "promote_types", "randint_like", "result_type",
    "seed", "set_default_dtype", "set_num_threads", "short", "float", "double", "long", "int",
    "use_deterministic_algorithms", "bartlett_window", "blackman_window", "hamming_window", "hann_window",
    "kaiser_window", "scalar_tensor", "get_float32_matmul_precision", "set_float32_matmul_precision",
    "set_printoptions", "asarray", "dtype", "frombuffer", "get_default_device", "get_deterministic_debug_mode",
    "get_num_interop_threads", "is_warn_always_enabled", "layout", "range", "set_default_device",
    "set_deterministic_debug_mode", "set_flush_denormal", "set_num_interop_threads", "set_warn_always", "strided",
]
_NO_HALF = ("float16", "half", "bfloat16")  # named in ported mixed-precision code: a porting hint, not a dtype

# PyTorch's index_put/index_put_ (ops.index_put is ``x[index] = value``'s op) and the samplers.
from .ops.indexing import index_put_  # noqa: E402
from .ops.indexing import index_put_values as index_put  # noqa: E402
from .sampling import multinomial  # noqa: E402

__all__ += ["index_put", "index_put_", "multinomial"]

_LAZY_MODULES = ("nn", "optim", "data", "testing", "cuda", "utils", "autograd", "linalg", "special",
                 "distributions", "safetensors", "random", "func")
# torch.<name> spellings of nn.functional's (torch.celu, torch.relu_, torch.pdist, ...), loaded with nn on first use
_FROM_NN_FUNCTIONAL = {name: name for name in (
    "celu", "celu_", "selu", "selu_", "rrelu", "rrelu_", "hardshrink", "threshold", "threshold_", "pdist",
    "channel_shuffle", "rms_norm", "relu_", "prelu", "adaptive_avg_pool1d", "avg_pool1d", "bilinear", "conv1d",
    "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "cosine_similarity",
    "pairwise_distance", "pixel_shuffle", "pixel_unshuffle")}
_FROM_NN_FUNCTIONAL["native_channel_shuffle"] = "channel_shuffle"
# torch.<name> functional ops whose signatures are ATen's, not nn.functional's (minigrad/nn/_toplevel.py)
_FROM_NN_TOPLEVEL = frozenset((
    "batch_norm", "instance_norm", "layer_norm", "group_norm", "embedding", "dropout", "dropout_", "alpha_dropout",
    "alpha_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_", "feature_dropout", "feature_dropout_",
    "kl_div", "binary_cross_entropy_with_logits", "cosine_embedding_loss", "hinge_embedding_loss",
    "margin_ranking_loss", "triplet_margin_loss", "poisson_nll_loss", "ctc_loss", "max_pool1d", "max_pool2d",
    "max_pool3d", "max_pool1d_with_indices", "adaptive_max_pool1d", "constant_pad_nd", "grid_sampler"))


def __getattr__(name: str):
    """Submodules that import more than NumPy (``nn``, ``optim``, ``data``, ``testing``) and PyTorch's
    ``cuda`` and ``utils.data`` spellings load on first use; ``save``/``load`` come from
    ``minigrad.serialization``."""
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "vmap":
        return importlib.import_module(f"{__name__}.func").vmap
    if name in ("save", "load"):
        return getattr(importlib.import_module(f"{__name__}.serialization"), name)
    if name in _FROM_NN_FUNCTIONAL:
        return getattr(importlib.import_module(f"{__name__}.nn.functional"), _FROM_NN_FUNCTIONAL[name])
    if name in _FROM_NN_TOPLEVEL:
        return importlib.import_module(f"{__name__}.nn._toplevel").FUNCTIONS[name]
    if name in _NO_HALF:
        raise AttributeError(f"module 'minigrad' has no attribute {name!r}: minigrad computes in float32/float64 "
                             "only; drop the half-precision cast, or use autocast(..., enabled=False)")
    raise AttributeError(f"module 'minigrad' has no attribute {name!r}")
