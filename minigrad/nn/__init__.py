"""Neural-network building blocks, PyTorch-style: ``Module``, ``Parameter``, layers, ``functional``, ``init``.

Modules are documented in ``docs/nn.md``; differences from PyTorch are listed there.
"""

from . import functional, init, utils
from .activations import CELU, GLU, SELU, Hardshrink, RReLU, Softmax2d, Softshrink, Softsign, Tanhshrink, Threshold
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .attention import (
    MultiheadAttention,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .layers import (
    ELU,
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    CosineSimilarity,
    Dropout,
    Dropout2d,
    Embedding,
    Flatten,
    GroupNorm,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSigmoid,
    LogSoftmax,
    MaxPool2d,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Tanh,
    Unflatten,
)
from .lazy import (
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyBatchNorm3d,
    LazyConv1d,
    LazyConv2d,
    LazyConv3d,
    LazyConvTranspose1d,
    LazyConvTranspose2d,
    LazyConvTranspose3d,
    LazyInstanceNorm1d,
    LazyInstanceNorm2d,
    LazyInstanceNorm3d,
    LazyLinear,
)
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    CTCLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    NLLLoss,
    PairwiseDistance,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from .module import Buffer, IncompatibleKeys, Module, Parameter, StateDictError
from .parallel import DataParallel
from .pooling import (
    Fold,
    FractionalMaxPool2d,
    FractionalMaxPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
    Unfold,
)
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .regularization import AlphaDropout, ChannelShuffle, FeatureAlphaDropout, LocalResponseNorm, RMSNorm
from .sparse import Bilinear, EmbeddingBag
from .spatial import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool3d,
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    Dropout1d,
    Dropout3d,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    MaxPool1d,
    MaxPool3d,
    PixelShuffle,
    PixelUnshuffle,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)

__all__ = [
    "ELU", "GELU", "AdaptiveAvgPool2d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d",
    "BatchNorm3d", "Conv1d", "Conv2d", "CrossEntropyLoss", "Dropout", "Dropout2d", "Embedding", "Flatten",
    "GroupNorm", "Hardtanh", "HuberLoss", "Identity", "IncompatibleKeys", "KLDivLoss", "L1Loss", "LayerNorm",
    "LeakyReLU",
    "Linear", "LogSoftmax", "MSELoss", "MaxPool2d", "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter",
    "ParameterList", "ReLU", "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus",
    "StateDictError", "Tanh", "functional", "init", "utils",
    "CosineSimilarity", "Hardsigmoid", "Hardswish", "LogSigmoid", "Mish", "PReLU", "ReLU6", "Softmin", "Unflatten",
    "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase",
    "MultiheadAttention", "TransformerEncoder", "TransformerEncoderLayer",
    "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d", "CircularPad1d", "CircularPad2d",
    "ConstantPad1d", "ConstantPad2d", "ConvTranspose1d", "ConvTranspose2d", "Dropout1d", "InstanceNorm1d",
    "InstanceNorm2d", "MaxPool1d", "PixelShuffle", "PixelUnshuffle", "ReflectionPad1d", "ReflectionPad2d",
    "ReplicationPad1d", "ReplicationPad2d", "Upsample",
    "UpsamplingBilinear2d", "UpsamplingNearest2d", "ZeroPad1d", "ZeroPad2d",
    "CosineEmbeddingLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "MarginRankingLoss", "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PoissonNLLLoss", "SoftMarginLoss", "TripletMarginLoss",
    "TripletMarginWithDistanceLoss", "PairwiseDistance", "Bilinear", "EmbeddingBag", "CTCLoss",
    "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
    "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "AvgPool3d", "CircularPad3d", "ConstantPad3d", "Conv3d",
    "ConvTranspose3d", "Dropout3d", "InstanceNorm3d", "MaxPool3d", "ReflectionPad3d", "ReplicationPad3d", "ZeroPad3d",
    "CELU", "GLU", "SELU", "Hardshrink", "RReLU", "Softmax2d", "Softshrink", "Softsign", "Tanhshrink", "Threshold",
    "ParameterDict", "LazyConv1d", "LazyConv2d", "LazyLinear", "Fold", "LPPool1d", "LPPool2d", "MaxUnpool1d",
    "MaxUnpool2d", "Unfold", "AlphaDropout", "ChannelShuffle", "FeatureAlphaDropout",
    "LocalResponseNorm", "RMSNorm",
    "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
    "LazyConvTranspose3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
    "FractionalMaxPool2d", "FractionalMaxPool3d", "AdaptiveLogSoftmaxWithLoss",
    "Buffer", "DataParallel", "LPPool3d", "MaxUnpool3d", "SyncBatchNorm",
]

_LAZY = {"BatchNorm1d": ".batchnorm", "BatchNorm2d": ".batchnorm", "BatchNorm3d": ".batchnorm",
         "SyncBatchNorm": ".batchnorm"}


def __getattr__(name: str):
    """BatchNorm modules live in ``nn/batchnorm.py`` (written separately) and load on first use, as does
    ``nn.modules`` (PyTorch's import paths, which ``import minigrad`` does not need)."""
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    if name == "modules":
        return importlib.import_module(".modules", __name__)
    raise AttributeError(f"module 'minigrad.nn' has no attribute {name!r}")
