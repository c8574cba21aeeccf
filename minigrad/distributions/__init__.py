"""``minigrad.distributions``: PyTorch's ``torch.distributions`` for the distributions of VAEs, RL and small
Bayesian models: shapes, ``sample``/``rsample``, ``log_prob``, ``entropy``, moments, ``cdf``/``icdf``, argument
validation, ``constraints``, transforms and ``kl_divergence``/``register_kl``. See docs/distributions.md."""

from __future__ import annotations

from . import constraints, transforms
from .constraint_registry import biject_to, transform_to
from .continuous import Cauchy, Exponential, Gumbel, Laplace, Normal, Uniform
from .counts import Binomial, NegativeBinomial, Poisson
from .discrete import Bernoulli, Categorical, OneHotCategorical
from .distribution import Distribution
from .gamma import Beta, Chi2, Dirichlet, Gamma, StudentT
from .independent import Independent
from .kl import kl_divergence, register_kl
from .more import ContinuousBernoulli, Geometric, HalfCauchy, HalfNormal, MixtureSameFamily, Pareto
from .more_gamma import FisherSnedecor, Kumaraswamy, Multinomial, Weibull
from .multivariate_normal import LowRankMultivariateNormal, MultivariateNormal
from .relaxed import (
    ExpRelaxedCategorical,
    LogitRelaxedBernoulli,
    RelaxedBernoulli,
    RelaxedOneHotCategorical,
)
from .transformed_distribution import LogNormal, TransformedDistribution
from .transforms import (
    AbsTransform,
    AffineTransform,
    ComposeTransform,
    ExpTransform,
    IndependentTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
    PowerTransform,
    SigmoidTransform,
    SoftmaxTransform,
    SoftplusTransform,
    StickBreakingTransform,
    TanhTransform,
    Transform,
)

__all__ = [
    "AbsTransform", "AffineTransform", "Bernoulli", "Categorical", "Cauchy", "ComposeTransform", "ContinuousBernoulli",
    "Distribution", "ExpRelaxedCategorical", "ExpTransform", "Exponential", "Geometric", "Gumbel", "HalfCauchy",
    "HalfNormal", "Independent", "IndependentTransform", "Laplace", "LogNormal", "LogitRelaxedBernoulli",
    "LowRankMultivariateNormal", "LowerCholeskyTransform", "MixtureSameFamily", "MultivariateNormal", "Normal",
    "OneHotCategorical", "Pareto", "PositiveDefiniteTransform", "PowerTransform", "RelaxedBernoulli",
    "RelaxedOneHotCategorical", "SigmoidTransform", "SoftmaxTransform", "SoftplusTransform", "StickBreakingTransform",
    "TanhTransform", "Transform", "TransformedDistribution", "Uniform", "biject_to", "constraints", "kl_divergence",
    "register_kl", "transform_to", "transforms",
    "Beta", "Binomial", "Chi2", "Dirichlet", "FisherSnedecor", "Gamma", "Kumaraswamy", "Multinomial",
    "NegativeBinomial", "Poisson", "StudentT", "Weibull",
]
