"""Gamma, Chi2, Beta, Dirichlet and StudentT (PyTorch's formulas), with reparameterised samples: a standard gamma
sample's derivative with respect to its concentration is the exact implicit one (see ``_gamma_sampler``)."""

from __future__ import annotations

import math
from numbers import Number

import numpy as np

from .. import creation as _creation
from ..function import Function
from ..grad_mode import no_grad
from ..ops.arithmetic import where
from ..ops.movement import _expand_or_self, stack
from ..tensor import Tensor
from . import constraints
from ._gamma_sampler import _lgamma, regularized_gamma_p, sample_standard_gamma, standard_gamma_grad
from .distribution import Distribution
from .utils import _standard_normal, broadcast_all, finfo

__all__ = ["Beta", "Chi2", "Dirichlet", "Gamma", "StudentT"]


def _host_draws(like: Tensor):
    """Standard normal and uniform draws from minigrad's generator on ``like``'s backend, as float64 on the host."""
    def normal(n):
        return _creation.randn(n, dtype="float64", backend=like.backend).numpy()

    def uniform(n):
        return _creation.rand(n, dtype="float64", backend=like.backend).numpy()

    return normal, uniform


class _StandardGammaGrad(Function):
    """g * dx/dalpha, the gradient rule of ``_StandardGamma`` (it has no derivative itself, as PyTorch's
    ``_standard_gamma_grad``: differentiating it again raises rather than give a wrong zero)."""

    message = ("the second derivative of a gamma sample with respect to its concentration (Gamma, Beta, Dirichlet, "
               "Chi2, StudentT rsample) is not implemented, as in PyTorch")

    @staticmethod
    def forward(ctx, g, alpha, slope):
        return g.array * slope.array  # alpha is an input only to keep the graph connected to it

    @classmethod
    def backward(cls, ctx, g):
        raise NotImplementedError(cls.message)


class _GammaIncGradA(_StandardGammaGrad):
    message = "the second derivative of Gamma.cdf with respect to the concentration is not implemented"


class _GammaInc(Function):
    """P(a, y), the regularised lower incomplete gamma function (``torch.special.gammainc``): its derivative in y
    is the gamma density (differentiable again); in a, -f(y) dy/da with the exact implicit dy/da (first order)."""

    @staticmethod
    def forward(ctx, a, y):
        ctx.save_for_backward(a, y)
        p = regularized_gamma_p(a.numpy().astype(np.float64), y.numpy().astype(np.float64))
        return _creation.tensor(p.astype(np.dtype(str(y.dtype))), backend=y.backend).array

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved_tensors
        density = ((a - 1).xlogy(y) - y - a.lgamma()).exp()
        grad_y = g * density
        grad_a = None
        if a.requires_grad:
            a64, y64 = np.broadcast_arrays(a.numpy().astype(np.float64), y.numpy().astype(np.float64))
            with np.errstate(all="ignore"):  # dP/da = -f(y) dy/da; 0 at y = 0 (P(a, 0) = 0 for every a)
                dens = np.exp((a64 - 1) * np.log(y64) - y64 - _lgamma(a64))
                slope = np.where(y64 > 0, -standard_gamma_grad(np.where(y64 > 0, y64, 1.0), a64) * dens, 0.0)
            slope = _creation.tensor(slope.astype(np.dtype(str(y.dtype))), backend=y.backend)
            grad_a = _GammaIncGradA.apply(g, a, slope)
        return grad_a, grad_y


class _StandardGamma(Function):
    """A Gamma(alpha, 1) sample, differentiable in alpha through the exact implicit derivative (CDF held fixed)."""

    @staticmethod
    def forward(ctx, alpha):
        ctx.save_for_backward(alpha)
        normal, uniform = _host_draws(alpha)
        x = sample_standard_gamma(alpha.numpy().astype(np.float64), normal, uniform)
        x = np.maximum(x.astype(np.dtype(str(alpha.dtype))), finfo(alpha.dtype).tiny)  # PyTorch's clamp
        ctx.sample = x  # the slope is computed in backward: sample() (no graph) never pays for it
        return _creation.tensor(x, backend=alpha.backend).array

    @staticmethod
    def backward(ctx, g):
        (alpha,) = ctx.saved_tensors
        slope = standard_gamma_grad(ctx.sample.astype(np.float64), alpha.numpy().astype(np.float64))
        slope = _creation.tensor(slope.astype(ctx.sample.dtype), backend=alpha.backend)
        return _StandardGammaGrad.apply(g, alpha, slope)


def _standard_gamma(alpha: Tensor) -> Tensor:
    return _StandardGamma.apply(alpha)


class Gamma(Distribution):
    """The gamma distribution with ``concentration`` (shape) and ``rate``: density
    rate^c x^(c-1) e^(-rate x) / Gamma(c) on x >= 0."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args: bool | None = None) -> None:
        numbers = isinstance(concentration, Number) and isinstance(rate, Number)
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(() if numbers else self.concentration.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gamma, _instance)
        batch_shape = tuple(batch_shape)
        new.concentration = self.concentration.expand(*batch_shape)
        new.rate = self.rate.expand(*batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        value = _standard_gamma(_expand_or_self(self.concentration, shape)) / _expand_or_self(self.rate, shape)
        tiny = float(finfo(value.dtype).tiny)
        with no_grad():  # PyTorch clamps the values in place, leaving the gradient as it is
            shift = value.detach().clamp(min=tiny) - value.detach()
        return value + shift

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c, r = self.concentration, self.rate
        return c.xlogy(r) + (c - 1).xlogy(value) - r * value - c.lgamma()

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c, y = broadcast_all(self.concentration, self.rate * value)
        return _GammaInc.apply(c, y)

    def entropy(self):
        c = self.concentration
        return c - self.rate.log() + c.lgamma() + (1.0 - c) * c.digamma()


class Chi2(Gamma):
    """The chi-squared distribution with ``df`` degrees of freedom: Gamma(df / 2, 1 / 2)."""

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args: bool | None = None) -> None:
        (df,) = broadcast_all(df) if not isinstance(df, Number) else (df,)
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Chi2, _instance)
        return super().expand(batch_shape, new)

    @property
    def df(self):
        return self.concentration * 2


class Dirichlet(Distribution):
    """The Dirichlet distribution on the simplex of the last axis of ``concentration``."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args: bool | None = None) -> None:
        if not isinstance(concentration, Tensor) or concentration.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = tuple(concentration.shape)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = tuple(batch_shape)
        new.concentration = self.concentration.expand(*batch_shape, *self._event_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        # normalised standard gammas: the exact pathwise derivative of this sampler (PyTorch differentiates its
        # samples through the marginal Beta CDFs instead: another coupling with the same distribution)
        shape = self._extended_shape(sample_shape)
        gammas = _standard_gamma(_expand_or_self(self.concentration, shape))
        x = gammas / gammas.sum(-1, keepdim=True)
        info = finfo(x.dtype)
        with no_grad():  # PyTorch's clamp to [tiny, 1 - eps], leaving the gradient as it is
            shift = x.detach().clamp(min=float(info.tiny), max=1 - float(info.eps)) - x.detach()
        return x + shift

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return (c - 1.0).xlogy(value).sum(-1) + c.sum(-1).lgamma() - c.lgamma().sum(-1)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        concm1 = (self.concentration - 1).clamp(min=0)
        mode = concm1 / concm1.sum(-1, keepdim=True)
        k = concm1.shape[-1]
        with no_grad():  # all concentrations below 1: PyTorch puts the mode on the corner of the largest one
            mask = (self.concentration < 1).all(-1, keepdim=True)
            corner = mode.argmax(-1, keepdim=True) == _creation.arange(k, backend=mode.backend)
        return where(mask, corner.astype(mode.dtype), mode)

    @property
    def variance(self):
        con0 = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        a0 = c.sum(-1)
        return c.lgamma().sum(-1) - a0.lgamma() - (k - a0) * a0.digamma() - ((c - 1.0) * c.digamma()).sum(-1)


class Beta(Distribution):
    """The beta distribution on [0, 1] with ``concentration1`` (alpha) and ``concentration0`` (beta): the first
    coordinate of Dirichlet([alpha, beta]), as PyTorch's."""

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args: bool | None = None) -> None:
        if isinstance(concentration1, Number) and isinstance(concentration0, Number):
            both = _creation.tensor([float(concentration1), float(concentration0)])
        else:
            concentration1, concentration0 = broadcast_all(concentration1, concentration0)
            both = stack([concentration1, concentration0], -1)
        self._dirichlet = Dirichlet(both, validate_args=validate_args)
        super().__init__(self._dirichlet._batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Beta, _instance)
        batch_shape = tuple(batch_shape)
        new._dirichlet = self._dirichlet.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def concentration1(self):
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self):
        return self._dirichlet.concentration[..., 1]

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        return self._dirichlet.rsample(sample_shape)[..., 0]

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._dirichlet.log_prob(stack([value, 1.0 - value], -1))

    def entropy(self):
        return self._dirichlet.entropy()


class StudentT(Distribution):
    """Student's t distribution with ``df`` degrees of freedom, location ``loc`` and scale ``scale``."""

    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args: bool | None = None) -> None:
        numbers = all(isinstance(v, Number) for v in (df, loc, scale))
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df, validate_args=False)
        super().__init__(() if numbers else self.df.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(StudentT, _instance)
        batch_shape = tuple(batch_shape)
        new.df = self.df.expand(*batch_shape)
        new.loc = self.loc.expand(*batch_shape)
        new.scale = self.scale.expand(*batch_shape)
        new._chi2 = self._chi2.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return where(self.df <= 1, math.nan, self.loc)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        safe = where(df > 2, df, 3.0)  # keeps the unused branch finite (and its gradient NaN-free)
        var = self.scale.pow(2) * safe / (safe - 2)
        var = where(df > 2, var, where(df > 1, math.inf, math.nan))
        return var

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        x = _standard_normal(shape, self.df)
        z = self._chi2.rsample(sample_shape)
        y = x * (z / self.df).rsqrt()
        return self.loc + self.scale * y

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        df = self.df
        y = (value - self.loc) / self.scale
        z = (self.scale.log() + 0.5 * df.log() + 0.5 * math.log(math.pi) + (0.5 * df).lgamma()
             - (0.5 * (df + 1.0)).lgamma())
        return -0.5 * (df + 1.0) * (y.pow(2) / df).log1p() - z

    def entropy(self):
        df = self.df
        lbeta = (0.5 * df).lgamma() + math.lgamma(0.5) - (0.5 * (df + 1)).lgamma()
        return (self.scale.log() + 0.5 * (df + 1) * ((0.5 * (df + 1)).digamma() - (0.5 * df).digamma())
                + 0.5 * df.log() + lbeta)
