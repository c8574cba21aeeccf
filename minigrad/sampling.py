"""PyTorch's in-place random fills (``random_``, ``exponential_``, ``geometric_``, ``log_normal_``, ``cauchy_``,
``bernoulli_``) and ``multinomial``.

Each draws uniforms (or integers) from the tensor's backend generator, or from ``generator=`` (a
``minigrad.Generator``), and transforms them by the inverse of the distribution's CDF. The streams differ from
PyTorch's; the distributions are the same. The fills write through ``Tensor._inplace``, so autograd's rules are
PyTorch's: a leaf that requires grad refuses, and a tensor in a graph gets a zero gradient for its old values.
"""

from __future__ import annotations

import math

import numpy as np

from . import creation as _creation  # creation imports tensor, which imports this module
from .dtypes import as_dtype
from .grad_mode import no_grad
from .tensor import Tensor, tensor

# random_() without bounds: the integers the dtype holds exactly (PyTorch's rule: up to 2 ** mantissa digits).
_UNBOUNDED_HIGH = {"float32": 2 ** 24 + 1, "float64": 2 ** 53 + 1, "int64": 2 ** 63, "int32": 2 ** 31,
                   "uint8": 2 ** 8, "bool": 2}


def _uniform(t: Tensor, generator) -> Tensor:
    """Uniforms on [0, 1) in float64, of ``t``'s shape, on its backend."""
    return _creation.rand(*t.shape, generator=generator, dtype="float64", backend=t.backend)


def _fill(t: Tensor, op: str, values: Tensor) -> Tensor:
    """Write ``values`` (outside the graph) into ``t`` in place; where ``t`` is in a graph its old values get a
    zero gradient (``where`` with a constant true condition), as PyTorch's fills."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a tensor, got {type(t).__name__}")
    values = values.detach().astype(t.dtype)
    from .ops import where

    return t._inplace(op, lambda x: where(x.new_ones((), dtype="bool"), values, x))


def _floating(t: Tensor, op: str) -> None:
    if not isinstance(t, Tensor) or t.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point tensor, got "
                        f"{t.dtype.name if isinstance(t, Tensor) else type(t).__name__}")


def random_(t: Tensor, from_: int | None = None, to: int | None = None, *, generator=None) -> Tensor:
    """Integers uniform on [from, to - 1]; ``random_(to)`` is [0, to - 1]; without bounds, [0, the largest
    integer the dtype holds exactly] (2 ** 24 for float32, 2 ** 53 for float64)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"random_: expected a tensor, got {type(t).__name__}")
    if to is not None:
        low, high = (0 if from_ is None else from_), to
    else:
        low, high = (0, _UNBOUNDED_HIGH[t.dtype.name]) if from_ is None else (0, from_)
    if high <= low:
        raise ValueError(f"random_: expects from < to, got from={low}, to={high}")
    if t.dtype.kind == "f" and high - 1 > 2 ** (np.finfo(t.dtype).nmant + 1):
        raise ValueError(f"random_: to - 1 = {high - 1} is beyond the integers {t.dtype.name} holds exactly")
    with no_grad():
        values = _creation.randint(low, high, t.shape, dtype="int64", backend=t.backend, generator=generator)
    return _fill(t, "random_", values)


def exponential_(t: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Exponential with rate ``lambd`` (> 0): ``-log(1 - u) / lambd``."""
    _floating(t, "exponential_")
    if not lambd > 0:
        raise ValueError(f"exponential_: expects lambd > 0, got {lambd}")
    with no_grad():
        values = -(-_uniform(t, generator)).log1p() / lambd
    return _fill(t, "exponential_", values)


def geometric_(t: Tensor, p: float, *, generator=None) -> Tensor:
    """The number of Bernoulli(``p``) trials up to the first success (1, 2, ...); ``p`` in (0, 1)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"geometric_: expected a tensor, got {type(t).__name__}")
    if not 0 < p < 1:
        raise ValueError(f"geometric_: expects p in (0, 1), got {p}")
    with no_grad():
        values = ((-_uniform(t, generator)).log1p() / math.log1p(-p)).floor() + 1
    return _fill(t, "geometric_", values)


def log_normal_(t: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    """``exp`` of a normal of ``mean`` and ``std`` (> 0)."""
    _floating(t, "log_normal_")
    if not std > 0:
        raise ValueError(f"log_normal_: expects std > 0, got {std}")
    with no_grad():
        values = (_creation.randn(*t.shape, generator=generator, dtype="float64", backend=t.backend) * std + mean).exp()
    return _fill(t, "log_normal_", values)


def cauchy_(t: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    """Cauchy of location ``median`` and scale ``sigma``: ``median + sigma * tan(pi (u - 1/2))``."""
    _floating(t, "cauchy_")
    if not sigma > 0:
        raise ValueError(f"cauchy_: expects sigma > 0, got {sigma}")
    with no_grad():
        values = ((_uniform(t, generator) - 0.5) * math.pi).tan() * sigma + median
    return _fill(t, "cauchy_", values)


def bernoulli_(t: Tensor, p=0.5, *, generator=None) -> Tensor:
    """1 with probability ``p`` (a number, or a tensor broadcast to ``t``'s shape), else 0."""
    if not isinstance(t, Tensor):
        raise TypeError(f"bernoulli_: expected a tensor, got {type(t).__name__}")
    if isinstance(p, Tensor):
        probability = p.detach().astype("float64")
        host = probability.numpy()
        low, high = (host.min(), host.max()) if host.size else (0.0, 0.0)
    else:
        probability = low = high = float(p)
    if not (0 <= low and high <= 1):
        raise ValueError(f"bernoulli_: p must lie in [0, 1], got values in [{low}, {high}]")
    with no_grad():
        values = _uniform(t, generator) < probability
    return _fill(t, "bernoulli_", values)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:  # noqa: A002
    """``num_samples`` category indices (int64) per row of the non-negative weights ``input`` (1-D or 2-D),
    each drawn with probability proportional to its weight; without ``replacement`` no category twice (drawn
    in order, as successive draws without the ones already taken)."""
    if not isinstance(input, Tensor) or input.dtype.kind != "f" or input.ndim not in (1, 2):
        raise TypeError(f"multinomial: expected a 1-D or 2-D floating tensor of weights, got "
                        f"{getattr(input, 'dtype', type(input).__name__)} of shape {getattr(input, 'shape', None)}")
    weights = input.detach().numpy().astype(np.float64).reshape(-1, input.shape[-1])
    categories = weights.shape[1]
    if num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("multinomial: weights must be finite and non-negative")
    if categories == 0 or np.any(weights.sum(1) <= 0):
        raise ValueError("multinomial: each row of weights must have a positive sum")
    if not replacement:
        if num_samples > categories:
            raise ValueError(f"multinomial: cannot sample {num_samples} > {categories} categories without "
                             "replacement")
        if np.any((weights > 0).sum(1) < num_samples):
            raise ValueError(f"multinomial: fewer than {num_samples} categories of positive weight in a row; "
                             "cannot sample without replacement")
    with no_grad():
        u = _creation.rand(weights.shape[0], num_samples if replacement else categories, generator=generator,
                 dtype="float64", backend="numpy").numpy()
    if replacement:
        cdf = np.cumsum(weights, axis=1)
        cdf /= cdf[:, -1:]
        draws = np.stack([np.searchsorted(row, values, side="right") for row, values in zip(cdf, u)])
        draws = np.minimum(draws, categories - 1)
        # a u just below 1 may pass a trailing zero weight's equal cdf entry: step back to a positive weight
        draws = np.stack([_positive(row, d) for row, d in zip(weights, draws)])
    else:
        # Exponential races: the order of E_i / w_i (E_i ~ Exp(1)) is that of successive weighted draws.
        with np.errstate(divide="ignore"):
            keys = -np.log1p(-u) / weights
        draws = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    out = draws.astype(np.int64).reshape(tuple(input.shape[:-1]) + (num_samples,))
    return tensor(out, dtype=as_dtype("int64"), backend=input.backend)


def _positive(weights: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Each drawn category moved down to the nearest one of positive weight (only a rounding can land on zero)."""
    positive = np.flatnonzero(weights > 0)
    return positive[np.clip(np.searchsorted(positive, draws, side="right") - 1, 0, None)]
