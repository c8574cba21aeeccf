"""PyTorch's ``torch.special`` names for the special functions minigrad has: ``minigrad.special.gammaln``,
``expit``, ``ndtr``, ... Each is the top-level function (or a composite of them), with its gradients."""

from __future__ import annotations

import math

from .ops import (  # noqa: F401 - re-exported under torch.special's names
    digamma,
    erf,
    erfc,
    erfinv,
    exp2,
    expm1,
    i0,
    igamma,
    igammac,
    lgamma,
    log1p,
    log_softmax,
    logit,
    logsumexp,
    mvlgamma,
    polygamma,
    round,
    sigmoid,
    sinc,
    softmax,
    xlogy,
)
from .ops.special import I1, floating
from .tensor import Tensor

expit = sigmoid
gammaln = lgamma
psi = digamma
multigammaln = mvlgamma
gammainc = igamma  # P(a, x), the regularized lower incomplete gamma function
gammaincc = igammac  # Q(a, x) = 1 - P(a, x)


def i1(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The modified Bessel function of the first kind of order 1 (odd); integer tensors give float32."""
    return I1.apply(floating(input))


def ndtr(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The standard normal CDF, erfc(-x / sqrt(2)) / 2: accurate in the lower tail too."""
    return erfc(floating(input) * -math.sqrt(0.5)) * 0.5


__all__ = ["digamma", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i1", "log1p",
           "log_softmax", "logit", "logsumexp", "multigammaln", "mvlgamma", "ndtr", "polygamma", "psi", "round",
           "sigmoid", "sinc", "softmax", "xlogy", "gammainc", "gammaincc"]
