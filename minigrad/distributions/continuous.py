"""Univariate continuous distributions: Normal, Uniform, Laplace, Exponential, Cauchy, Gumbel."""

from __future__ import annotations

import math
from numbers import Number

from .. import creation as _creation
from ..grad_mode import no_grad
from ..ops import erfinv
from ..ops.arithmetic import where
from . import constraints
from .distribution import Distribution
from .utils import _standard_normal, _uniform, broadcast_all, euler_constant, finfo

__all__ = ["Cauchy", "Exponential", "Gumbel", "Laplace", "Normal", "Uniform"]


def _batch_shape(*params) -> tuple:
    return () if all(isinstance(p, Number) for p in params) else None


class _LocScale(Distribution):
    """A location-scale family with parameters ``loc`` (real) and ``scale`` (positive)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args: bool | None = None) -> None:
        numbers = _batch_shape(loc, scale)
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(numbers if numbers is not None else self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = tuple(batch_shape)
        new.loc = self.loc.expand(*batch_shape)
        new.scale = self.scale.expand(*batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _check(self, value):
        if self._validate_args:
            self._validate_sample(value)


class Normal(_LocScale):
    """The normal distribution N(loc, scale²)."""

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = _standard_normal(shape, self.loc)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        self._check(value)
        var = self.scale**2
        log_scale = math.log(self.scale) if isinstance(self.scale, Number) else self.scale.log()
        return -((value - self.loc) ** 2) / (2 * var) - log_scale - math.log(math.sqrt(2 * math.pi))

    def cdf(self, value):
        self._check(value)
        return 0.5 * (1 + ((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)).erf())

    def icdf(self, value):
        return self.loc + self.scale * erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()


class Laplace(_LocScale):
    """The Laplace distribution: density exp(-|x - loc| / scale) / (2 scale)."""

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return 2 * self.scale.pow(2)

    @property
    def stddev(self):
        return (2**0.5) * self.scale

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = float(finfo(self.loc.dtype).eps)
        with no_grad():
            u = _uniform(shape, self.loc, eps - 1, 1.0)  # in (-1, 1): log1p(-|u|) stays finite
            step = u.sign() * (-u.abs()).log1p()
        return self.loc - self.scale * step

    def log_prob(self, value):
        self._check(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        self._check(value)
        return 0.5 - 0.5 * (value - self.loc).sign() * (-(value - self.loc).abs() / self.scale).expm1()

    def icdf(self, value):
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self):
        return 1 + (2 * self.scale).log()


class Cauchy(_LocScale):
    """The Cauchy (Lorentz) distribution: density 1 / (pi scale (1 + ((x - loc) / scale)²))."""

    @property
    def mean(self):
        return _creation.full(self._extended_shape(), math.nan, dtype=self.loc.dtype, backend=self.loc.backend)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return _creation.full(self._extended_shape(), math.inf, dtype=self.loc.dtype, backend=self.loc.backend)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            eps = (math.pi * (_uniform(shape, self.loc) - 0.5)).tan()
        return self.loc + eps * self.scale

    def log_prob(self, value):
        self._check(value)
        return -math.log(math.pi) - self.scale.log() - (((value - self.loc) / self.scale) ** 2).log1p()

    def cdf(self, value):
        self._check(value)
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value):
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self):
        return math.log(4 * math.pi) + self.scale.log()


class Gumbel(_LocScale):
    """The Gumbel (type-I extreme value) distribution: cdf exp(-exp(-(x - loc) / scale))."""

    @property
    def mean(self):
        return self.loc + self.scale * euler_constant

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        info = finfo(self.loc.dtype)
        with no_grad():  # PyTorch's base: Uniform(tiny, 1 - eps)
            u = _uniform(shape, self.loc, float(info.tiny), 1 - float(info.eps))
            gumbel = -(-u.log()).log()
        return self.loc + self.scale * gumbel

    def log_prob(self, value):
        self._check(value)
        z = (self.loc - value) / self.scale
        return -self.scale.log() + z - z.exp()

    def cdf(self, value):
        self._check(value)
        return (-(-(value - self.loc) / self.scale).exp()).exp()

    def icdf(self, value):
        return self.loc - self.scale * (-value.log()).log()

    def entropy(self):
        return self.scale.log() + (1 + euler_constant)


class Uniform(Distribution):
    """The continuous uniform distribution on [low, high)."""

    arg_constraints = {"low": constraints.dependent(is_discrete=False, event_dim=0),
                       "high": constraints.dependent(is_discrete=False, event_dim=0)}
    has_rsample = True

    def __init__(self, low, high, validate_args: bool | None = None) -> None:
        numbers = _batch_shape(low, high)
        self.low, self.high = broadcast_all(low, high)
        super().__init__(numbers if numbers is not None else self.low.shape, validate_args=validate_args)
        if self._validate_args and not bool((self.low < self.high).all()):
            raise ValueError(f"Uniform is not defined when low >= high (low={self.low}, high={self.high})")

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Uniform, _instance)
        batch_shape = tuple(batch_shape)
        new.low = self.low.expand(*batch_shape)
        new.high = self.high.expand(*batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return math.nan * self.high

    @property
    def stddev(self):
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self):
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = _uniform(shape, self.low)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low <= value) & (self.high > value)
        return where(inside, 0.0, -math.inf).astype(self.low.dtype) - (self.high - self.low).log()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value):
        return value * (self.high - self.low) + self.low

    def entropy(self):
        return (self.high - self.low).log()


class Exponential(Distribution):
    """The exponential distribution with ``rate``: density rate exp(-rate x) on x >= 0."""

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args: bool | None = None) -> None:
        numbers = _batch_shape(rate)
        (self.rate,) = broadcast_all(rate)
        super().__init__(numbers if numbers is not None else self.rate.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Exponential, _instance)
        batch_shape = tuple(batch_shape)
        new.rate = self.rate.expand(*batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return _creation.zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with no_grad():
            eps = -(-_uniform(shape, self.rate)).log1p()  # standard exponential from u in [0, 1)
        return eps / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        return -(-value).log1p() / self.rate

    def entropy(self):
        return 1.0 - self.rate.log()
