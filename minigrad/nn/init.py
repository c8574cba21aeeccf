"""Parameter initialisation with PyTorch's formulas (``torch.nn.init``).

Every function fills its tensor in place, under ``no_grad``, with numbers from the tensor's backend
generator (so ``minigrad.manual_seed`` makes it reproducible), and returns the tensor.
"""

from __future__ import annotations

import math

import numpy as np

from .. import creation as _creation
from ..grad_mode import no_grad
from ..ops import where
from ..tensor import Tensor

__all__ = [
    "calculate_gain", "constant_", "dirac_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_",
    "orthogonal_", "sparse_", "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fill(t: Tensor, values: Tensor) -> Tensor:
    with no_grad():
        t.copy_(values)
    return t


def _check(t: Tensor, op: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(t).__name__}")
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point tensor, got {t.dtype.name}")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b)."""
    _check(tensor, "uniform_")
    with no_grad():
        u = _creation.rand(*tensor.shape, generator=generator, dtype=tensor.dtype, backend=tensor.backend)
        return _fill(tensor, u * (b - a) + a)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std**2)."""
    _check(tensor, "normal_")
    with no_grad():
        z = _creation.randn(*tensor.shape, generator=generator, dtype=tensor.dtype, backend=tensor.backend)
        return _fill(tensor, z * std + mean)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    with no_grad():
        tensor.fill_(val)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = size(1) * receptive field, fan_out = size(0) * receptive field (PyTorch's convention)."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tensor.shape}")
    receptive = 1
    for n in tensor.shape[2:]:
        receptive *= n
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan) (He); ``a`` is the leaky_relu slope for the gain."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor  # PyTorch warns and leaves empty tensors alone
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std**2) with std = gain / sqrt(fan) (He)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the main diagonal of a rectangle too)."""
    _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"eye_: needs a 2-D tensor, got shape {tensor.shape}")
    with no_grad():
        return _fill(tensor, _creation.eye(*tensor.shape, dtype=tensor.dtype, backend=tensor.backend))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """A convolution weight (3-D to 5-D) that passes its input through: in each of the ``groups`` groups of
    output channels, output channel d takes input channel d at the kernel's centre (for as many channels as
    both sides have), every other weight zero."""
    _check(tensor, "dirac_")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: needs a 3-, 4- or 5-D convolution weight, got shape {tensor.shape}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or tensor.shape[0] % groups:
        raise ValueError(f"dirac_: groups must be a positive int dividing dim 0 ({tensor.shape[0]}), got {groups!r}")
    per_group = tensor.shape[0] // groups
    centre = tuple(n // 2 for n in tensor.shape[2:])
    values = np.zeros(tensor.shape)
    for d in range(min(per_group, tensor.shape[1])):
        values[(np.arange(groups) * per_group + d, d) + centre] = 1
    return _fill(tensor, _creation.tensor(values, dtype=tensor.dtype, backend=tensor.backend))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """A 2-D tensor of N(0, std**2) values with ``ceil(sparsity * rows)`` of each column's entries, at random
    rows, set to zero (Martens' initialisation for Hessian-free optimisation)."""
    _check(tensor, "sparse_")
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: needs a 2-D tensor, got shape {tensor.shape}")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparse_: sparsity is the fraction of each column set to zero, in [0, 1], got {sparsity!r}")
    rows, cols = tensor.shape
    zeros = math.ceil(sparsity * rows)
    with no_grad():
        normal_(tensor, 0.0, std, generator=generator)
        keep = np.ones((rows, cols), dtype=bool)
        for col in range(cols):
            keep[_creation.randperm(rows, generator=generator).numpy()[:zeros], col] = False
        mask = _creation.tensor(keep, backend=tensor.backend)
        return _fill(tensor, where(mask, tensor, 0.0))


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix, scaled by ``gain``: the tensor viewed as (shape[0], rest) gets orthonormal
    rows or columns, whichever are fewer. From the QR factorisation of a normal matrix (signs fixed by R's
    diagonal, as PyTorch), computed on the host in float64: there is no QR in the backend protocol."""
    _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs a tensor with at least 2 dimensions, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows if rows else 0
    if tensor.numel() == 0:
        return tensor
    with no_grad():
        z = _creation.randn(rows, cols, dtype="float64", backend=tensor.backend).numpy()
        tall = z if rows >= cols else z.T
        q, r = np.linalg.qr(tall)
        q = q * np.sign(np.diag(r))
        values = (q if rows >= cols else q.T).reshape(tensor.shape) * gain
        return _fill(tensor, _creation.tensor(values, dtype=tensor.dtype, backend=tensor.backend))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> Tensor:
    """N(mean, std**2) restricted to [a, b] (absolute bounds, as PyTorch): values outside are drawn again.
    Refuses bounds that hold under 1% of the distribution, where redrawing would take long."""
    _check(tensor, "trunc_normal_")
    if not a < b or std <= 0:
        raise ValueError(f"trunc_normal_: needs a < b and std > 0, got a={a}, b={b}, std={std}")
    cdf = lambda v: 0.5 * (1 + math.erf((v - mean) / (std * math.sqrt(2))))  # noqa: E731
    if cdf(b) - cdf(a) < 0.01:
        raise ValueError(f"trunc_normal_: [{a}, {b}] holds {cdf(b) - cdf(a):.2g} of N({mean}, {std}**2); "
                         "choose bounds nearer the mean")
    with no_grad():
        values = _creation.randn(*tensor.shape, dtype=tensor.dtype, backend=tensor.backend) * std + mean
        outside = (values < a) | (values > b)
        while bool(outside.any()):
            fresh = _creation.randn(*tensor.shape, dtype=tensor.dtype, backend=tensor.backend) * std + mean
            values = where(outside, fresh, values)
            outside = (values < a) | (values > b)
        return _fill(tensor, values)
