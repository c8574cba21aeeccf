"""Discrete distributions: Bernoulli, Categorical, OneHotCategorical (each from ``probs`` or ``logits``)."""

from __future__ import annotations

import math

from .. import creation as _creation
from ..dtypes import int64
from ..grad_mode import no_grad
from ..ops.arithmetic import where
from ..ops.elementwise import softplus
from ..ops.movement import _expand_or_self, _reshape_or_self
from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import broadcast_all, finfo, lazy_property, logits_to_probs, probs_to_logits

__all__ = ["Bernoulli", "Categorical", "OneHotCategorical"]


def _one_of(probs, logits) -> None:
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")


class _BinaryProbs(Distribution):
    """A distribution parameterised by ``probs`` or ``logits`` of a success (exactly one given), the other
    computed on first use, as PyTorch's Bernoulli family: Bernoulli, Geometric, Binomial, NegativeBinomial and
    LogitRelaxedBernoulli share this."""

    def _set_probs_or_logits(self, probs, logits, *others) -> tuple:
        """Broadcast the given one of ``probs``/``logits`` with ``others`` and keep it (also as ``_param``);
        returns the broadcast ``others``."""
        _one_of(probs, logits)
        *others, param = broadcast_all(*others, probs if probs is not None else logits)
        setattr(self, "probs" if probs is not None else "logits", param)
        self._param = param
        return tuple(others)

    def _expand_probs_or_logits(self, new, batch_shape: tuple) -> None:
        """``new``'s ``probs``/``logits``: whichever of them ``self`` holds, expanded to ``batch_shape``."""
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(*batch_shape))
                new._param = getattr(new, name)

    @property
    def param_shape(self) -> tuple:
        return tuple(self._param.shape)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)


def _bce_with_logits(logits: Tensor, target: Tensor) -> Tensor:
    """-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], exactly (softplus without its linear threshold)."""
    return (1 - target) * logits + softplus(-logits, 1.0, math.inf)


class Bernoulli(_BinaryProbs):
    """1 with probability ``probs`` (or ``sigmoid(logits)``), else 0."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        self._set_probs_or_logits(probs, logits)
        super().__init__(self.param_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Bernoulli, _instance)
        batch_shape = tuple(batch_shape)
        self._expand_probs_or_logits(new, batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        probs = self.probs
        with no_grad():
            mode = (probs >= 0.5).astype(probs.dtype)
            return where(probs == 0.5, math.nan, mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            return _creation.bernoulli(_expand_or_self(self.probs, shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_bce_with_logits(logits, value)

    def entropy(self):
        return _bce_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand: bool = True):
        values = _creation.arange(2, dtype=self._param.dtype, backend=self._param.backend)
        values = values.reshape(-1, *(1,) * len(self._batch_shape))
        return values.expand(-1, *self._batch_shape) if expand else values


class Categorical(Distribution):
    """A category in 0 .. K-1 with probabilities ``probs`` (normalised over the last axis) or ``softmax(logits)``."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        _one_of(probs, logits)
        if probs is not None:
            if probs.ndim < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
        else:
            if logits.ndim < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self._param = self.probs if probs is not None else self.logits
        self._num_events = self._param.shape[-1]
        batch_shape = self._param.shape[:-1] if self._param.ndim > 1 else ()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Categorical, _instance)
        batch_shape = tuple(batch_shape)
        param_shape = batch_shape + (self._num_events,)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(*param_shape)
            new._param = new.probs
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(*param_shape)
            new._param = new.logits
        new._num_events = self._num_events
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits)

    @property
    def param_shape(self) -> tuple:
        return tuple(self._param.shape)

    @property
    def mean(self):
        return _creation.full(self._extended_shape(), math.nan, dtype=self.probs.dtype, backend=self.probs.backend)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return _creation.full(self._extended_shape(), math.nan, dtype=self.probs.dtype, backend=self.probs.backend)

    def sample(self, sample_shape=()):
        sample_shape = tuple(sample_shape) if not isinstance(sample_shape, int) else (sample_shape,)
        with no_grad():
            probs_2d = self.probs.detach().reshape(-1, self._num_events)
            cdf = probs_2d.cumsum(-1)
            n = math.prod(sample_shape)
            u = _creation.rand(n, probs_2d.shape[0], 1, dtype=probs_2d.dtype, backend=probs_2d.backend)
            # inverse cdf: the first category whose cumulative probability exceeds u (none with probability 0)
            index = (cdf <= u * cdf[..., -1:]).astype(int64).sum(-1).clamp(max=self._num_events - 1)
            return _reshape_or_self(index, self._extended_shape(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        batch = tuple(_broadcast_shapes(value.shape[:-1], self.logits.shape[:-1]))
        value = _expand_or_self(value, (*batch, 1))
        log_pmf = _expand_or_self(self.logits, (*batch, self._num_events))
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self):
        min_real = float(finfo(self.logits.dtype).min)
        logits = self.logits.clamp(min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True):
        values = _creation.arange(self._num_events, dtype=int64, backend=self._param.backend)
        values = values.reshape(-1, *(1,) * len(self._batch_shape))
        return values.expand(-1, *self._batch_shape) if expand else values


def _broadcast_shapes(a, b) -> tuple:
    import numpy as np

    return np.broadcast_shapes(tuple(a), tuple(b))


def _one_hot(index: Tensor, num_classes: int, dtype) -> Tensor:
    positions = _creation.arange(num_classes, backend=index.backend)
    return (index.unsqueeze(-1) == positions).astype(dtype)


class OneHotCategorical(Distribution):
    """A one-hot vector of length K whose hot position is ``Categorical(probs, logits)``."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        self._categorical = Categorical(probs, logits)
        param_shape = self._categorical.param_shape
        super().__init__(self._categorical.batch_shape, param_shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(OneHotCategorical, _instance)
        batch_shape = tuple(batch_shape)
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def _param(self):
        return self._categorical._param

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self) -> tuple:
        return self._categorical.param_shape

    @property
    def mean(self):
        return self._categorical.probs

    @property
    def mode(self):
        probs = self._categorical.probs
        return _one_hot(probs.argmax(-1), probs.shape[-1], probs.dtype)

    @property
    def variance(self):
        return self._categorical.probs * (1 - self._categorical.probs)

    def sample(self, sample_shape=()):
        probs = self._categorical.probs
        index = self._categorical.sample(sample_shape)
        return _one_hot(index, self._categorical._num_events, probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        index = value.argmax(-1)
        return self._categorical.log_prob(index)

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand: bool = True):
        n = self._event_shape[0]
        values = _creation.eye(n, dtype=self._param.dtype, backend=self._param.backend)
        values = values.reshape(n, *(1,) * len(self._batch_shape), n)
        return values.expand(n, *self._batch_shape, n) if expand else values
