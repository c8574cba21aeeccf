"""Count distributions: Poisson, Binomial and NegativeBinomial (PyTorch's formulas). Their samples are drawn on the
host by NumPy's exact samplers, seeded from minigrad's generator (so ``minigrad.manual_seed`` makes them
reproducible), then moved to the parameters' backend."""

from __future__ import annotations

import math
from numbers import Number

import numpy as np

from .. import creation as _creation
from ..grad_mode import no_grad
from ..ops.arithmetic import where
from ..ops.elementwise import softplus
from ..tensor import Tensor
from . import constraints
from .discrete import _BinaryProbs
from .distribution import Distribution
from .gamma import Gamma
from .utils import broadcast_all, lazy_property

__all__ = ["Binomial", "NegativeBinomial", "Poisson"]


def _host_rng(like: Tensor) -> np.random.Generator:
    """A NumPy generator seeded by one draw from minigrad's generator on ``like``'s backend."""
    seed = int(_creation.randint(0, 2**62, (), backend=like.backend).item())
    return np.random.default_rng(seed)


def _to_like(array: np.ndarray, like: Tensor) -> Tensor:
    return _creation.tensor(np.asarray(array).astype(np.dtype(str(like.dtype))), backend=like.backend)


def _log_sigmoid(x: Tensor) -> Tensor:
    return -softplus(-x, 1.0, math.inf)  # exact: no linear cut-off


def _clamp_by_zero(x: Tensor) -> Tensor:
    # max(x, 0) with gradient 1/2 at 0, as PyTorch's
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


class Poisson(Distribution):
    """The Poisson distribution with ``rate``: P(k) = rate^k e^-rate / k! on k = 0, 1, 2, ..."""

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args: bool | None = None) -> None:
        number = isinstance(rate, Number)
        (self.rate,) = broadcast_all(rate)
        super().__init__(() if number else self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Poisson, _instance)
        batch_shape = tuple(batch_shape)
        new.rate = self.rate.expand(*batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            rate = np.broadcast_to(self.rate.numpy().astype(np.float64), shape)
            return _to_like(_host_rng(self.rate).poisson(rate), self.rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return value.xlogy(rate) - rate - (value + 1).lgamma()


class Binomial(_BinaryProbs):
    """The number of successes in ``total_count`` trials of probability ``probs`` (or ``sigmoid(logits)``)."""

    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args: bool | None = None) -> None:
        (total_count,) = self._set_probs_or_logits(probs, logits, total_count)
        self.total_count = total_count.astype(self._param.dtype)
        super().__init__(self.param_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Binomial, _instance)
        batch_shape = tuple(batch_shape)
        new.total_count = self.total_count.expand(*batch_shape)
        self._expand_probs_or_logits(new, batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            n = np.broadcast_to(self.total_count.numpy(), shape).astype(np.int64)
            p = np.broadcast_to(self.probs.numpy().astype(np.float64), shape)
            return _to_like(_host_rng(self._param).binomial(n, p), self._param)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        log_factorial_n = (n + 1).lgamma()
        log_factorial_k = (value + 1).lgamma()
        log_factorial_nmk = (n - value + 1).lgamma()
        logits = self.logits
        # k logits - n log(1 + e^logits), written without overflow (PyTorch's form)
        normalize_term = n * _clamp_by_zero(logits) + n * (-logits.abs()).exp().log1p() - log_factorial_n
        return value * logits - log_factorial_k - log_factorial_nmk - normalize_term

    def entropy(self):
        total_count = int(self.total_count.max().item())
        if not self.total_count.min().item() == total_count:
            raise NotImplementedError("Inhomogeneous total count not supported by `entropy`.")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(log_prob.exp() * log_prob).sum(0)

    def enumerate_support(self, expand: bool = True):
        total_count = int(self.total_count.max().item())
        if not self.total_count.min().item() == total_count:
            raise NotImplementedError("Inhomogeneous total count not supported by `enumerate_support`.")
        values = _creation.arange(1 + total_count, dtype=self._param.dtype, backend=self._param.backend)
        values = values.reshape(-1, *(1,) * len(self._batch_shape))
        return values.expand(-1, *self._batch_shape) if expand else values


class NegativeBinomial(_BinaryProbs):
    """The number of successes before ``total_count`` failures, each trial succeeding with ``probs`` (or
    ``sigmoid(logits)``); ``total_count`` may be any non-negative real."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0), "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args: bool | None = None) -> None:
        (total_count,) = self._set_probs_or_logits(probs, logits, total_count)
        self.total_count = total_count.astype(self._param.dtype)
        super().__init__(self.param_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(NegativeBinomial, _instance)
        batch_shape = tuple(batch_shape)
        new.total_count = self.total_count.expand(*batch_shape)
        self._expand_probs_or_logits(new, batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / (-self.logits).sigmoid()

    @lazy_property
    def _gamma(self):
        return Gamma(concentration=self.total_count, rate=(-self.logits).exp(), validate_args=False)

    def sample(self, sample_shape=()):
        with no_grad():  # the gamma-Poisson mixture, as PyTorch's
            rate = self._gamma.sample(sample_shape)
            return _to_like(_host_rng(rate).poisson(rate.numpy().astype(np.float64)), rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        log_unnormalized_prob = n * _log_sigmoid(-logits) + value * _log_sigmoid(logits)
        log_normalization = -(n + value).lgamma() + (1.0 + value).lgamma() + n.lgamma()
        log_normalization = where(n + value == 0.0, 0.0, log_normalization)
        return log_unnormalized_prob - log_normalization
