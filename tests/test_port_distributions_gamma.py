"""The distributions that need lgamma/digamma: Gamma, Chi2, Beta, Dirichlet, StudentT, Poisson, Binomial,
NegativeBinomial and their KL divergences (with Gumbel-Gumbel), against PyTorch in float64 (values and gradients),
finite-difference gradchecks, the exact implicit gamma-sample gradient against finite differences of the inverted
CDF with the uniform noise fixed, sample moments (tolerances from the sample size, fixed seeds), shapes and argument
checks. The helpers and the house style are tests/test_port_distributions.py's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip
from test_port_distributions import (
    BACKENDS,
    Case,
    Z,
    _check_mean_var,
    _compare_with_torch,
    _evaluate,
    _f,
    _mg,
    _simplex,
    _t,
)
from test_port_distributions import test_shapes_like_torch as _shapes_like_torch

import minigrad as mg
import minigrad.distributions as D  # noqa: N812 - as torch.distributions is often imported
from minigrad.distributions._gamma_sampler import regularized_gamma_p, standard_gamma_grad

RNG = np.random.default_rng(20261208)

_CONC = np.array([[0.4, 1.7, 3.2], [6.5, 0.9, 2.4]])
_RATE = RNG.uniform(0.5, 2.0, (2, 3))
_POS_VALUE = RNG.uniform(0.05, 6.0, (4, 2, 3))
_UNIT_VALUE = RNG.uniform(0.02, 0.98, (4, 2, 3))
_COUNTS = RNG.integers(0, 8, (4, 2, 3)).astype(np.float64)
_TOTAL = np.array([[8.0, 10.0, 12.0], [9.0, 8.0, 15.0]])
_PROBS = RNG.uniform(0.1, 0.9, (2, 3))
_MOMENTS = ("entropy", "mean", "mode", "variance", "stddev")

CASES = [
    Case("Gamma", lambda dm, c, r: dm.Gamma(c, r), [_CONC, _RATE], _POS_VALUE, ("log_prob", *_MOMENTS)),
    Case("Gamma(cdf)", lambda dm, r, c: dm.Gamma(c, r), [_RATE], _POS_VALUE, ("cdf",), consts=[_CONC]),
    Case("Chi2", lambda dm, df: dm.Chi2(df), [_CONC * 2], _POS_VALUE, ("log_prob", *_MOMENTS, "df")),
    Case("Beta", lambda dm, a, b: dm.Beta(a, b), [_CONC, _RATE + 1.1], _UNIT_VALUE,
         ("log_prob", *_MOMENTS, "concentration1", "concentration0")),
    Case("Beta(small)", lambda dm, a, b: dm.Beta(a, b), [_CONC * 0.2, _RATE * 0.4], _UNIT_VALUE,
         ("log_prob", "entropy", "mean", "variance", "mode")),
    Case("Dirichlet", lambda dm, c: dm.Dirichlet(c), [RNG.uniform(1.2, 4.0, (2, 4))], _simplex((5, 2, 4)),
         ("log_prob", *_MOMENTS), fd_value=False),
    Case("Dirichlet(small)", lambda dm, c: dm.Dirichlet(c), [np.array([[0.3, 0.5, 0.8], [0.4, 1.5, 2.0]])],
         _simplex((5, 2, 3)), ("log_prob", "entropy", "mean", "variance", "mode"), fd_value=False),
    Case("StudentT", lambda dm, df, loc, scale: dm.StudentT(df, loc, scale),
         [_CONC + 2.2, RNG.standard_normal((2, 3)), _RATE], RNG.standard_normal((4, 2, 3)) * 2,
         ("log_prob", *_MOMENTS)),
    Case("StudentT(small df)", lambda dm, df, loc, scale: dm.StudentT(df, loc, scale),
         [np.array([0.5, 1.0, 1.5, 2.0, 2.5, 4.0]), RNG.standard_normal(6), RNG.uniform(0.5, 2, 6)],
         RNG.standard_normal((3, 6)), ("log_prob", "entropy", "mean", "variance", "mode")),
    Case("Poisson", lambda dm, r: dm.Poisson(r), [_CONC * 1.5], _COUNTS, ("log_prob", "mean", "mode", "variance"),
         value_grad=False),
    Case("Binomial(probs)", lambda dm, p, n: dm.Binomial(n, probs=p), [_PROBS], _COUNTS,
         ("log_prob", "mean", "mode", "variance", "logits"), consts=[_TOTAL], value_grad=False),
    Case("Binomial(logits)", lambda dm, lg, n: dm.Binomial(n, logits=lg), [RNG.standard_normal((2, 3)) * 2],
         _COUNTS, ("log_prob", "entropy", "mean", "mode", "variance", "probs"), consts=[np.full((2, 3), 9.0)],
         value_grad=False),
    Case("NegativeBinomial(probs)", lambda dm, n, p: dm.NegativeBinomial(n, probs=p), [_CONC * 3, _PROBS], _COUNTS,
         ("log_prob", "mean", "mode", "variance", "logits"), value_grad=False),
    Case("Weibull", lambda dm, s, c: dm.Weibull(s, c), [_RATE, _CONC + 0.3], _POS_VALUE, ("log_prob", "cdf",
                                                                                         *_MOMENTS)),
    Case("Kumaraswamy", lambda dm, a, b: dm.Kumaraswamy(a, b), [_CONC + 1.2, _RATE * 0.9],
         _UNIT_VALUE, ("log_prob", "entropy", "mean", "variance", "stddev", "mode")),
    Case("FisherSnedecor", lambda dm, a, b: dm.FisherSnedecor(a, b), [_CONC * 4, _CONC[::-1].copy() * 3 + 1],
         _POS_VALUE, ("log_prob", "mean", "mode", "variance")),
    Case("Multinomial(probs)", lambda dm, p: dm.Multinomial(6, probs=p), [RNG.uniform(0.1, 1.0, (2, 4))],
         np.stack([RNG.multinomial(6, [0.25] * 4, size=2) for _ in range(5)]).astype(np.float64),
         ("log_prob", "entropy", "mean", "variance", "probs", "logits"), value_grad=False),
    Case("Multinomial(logits)", lambda dm, lg: dm.Multinomial(4, logits=lg), [RNG.standard_normal((2, 3))],
         np.stack([RNG.multinomial(4, [0.3, 0.3, 0.4], size=2) for _ in range(5)]).astype(np.float64),
         ("log_prob", "entropy", "mean", "variance"), value_grad=False),
    Case("NegativeBinomial(logits)", lambda dm, n, lg: dm.NegativeBinomial(n, logits=lg),
         [_CONC * 3, RNG.standard_normal((2, 3))], _COUNTS, ("log_prob", "mean", "mode", "variance", "probs"),
         value_grad=False),
]
CASE_IDS = [c.name for c in CASES]
PAIRS = [(c, m) for c in CASES for m in c.methods]


# PyTorch's CPU trigamma (polygamma(1, x)) is accurate to about 5e-10 relative (against mpmath), minigrad's to
# float64 rounding; gradients that pass through it (entropy, the KLs) are compared with PyTorch within TRIGAMMA_RTOL
# of their largest term, and checked exactly by the finite-difference gradchecks.
TRIGAMMA_RTOL = 2e-9


def _grads_like_torch(out, tout, inputs, tinputs, backend, rtol=1e-9, scale=None):
    weight = RNG.standard_normal(out.shape)
    grads = mg.grad((out * mg.tensor(weight, backend=backend)).sum(), inputs, allow_unused=True)
    tgrads = torch.autograd.grad((tout * torch.tensor(weight)).sum(), tinputs, allow_unused=True)
    for g, tg, x in zip(grads, tgrads, inputs):
        expected = np.zeros(x.shape) if tg is None else tg.numpy()
        got = np.zeros(x.shape) if g is None else g.numpy()
        atol = 1e-11 if scale is None else scale * np.abs(weight).sum() * max(1.0, np.abs(expected).max())
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("case", "method"), PAIRS, ids=[f"{c.name}-{m}" for c, m in PAIRS])
def test_like_torch(case: Case, method: str, backend: str):
    """Values equal to PyTorch's (float64), and the gradients of sum(w * output), random w, with respect to the
    parameters and the value (NaN/inf where PyTorch has them: StudentT's mean and variance for df <= 1, 2)."""
    if case.name.startswith("Multinomial") and method == "entropy":
        _multinomial_entropy_like_torch(case, backend)
        return
    if method != "entropy" or case.name.startswith(("Gamma", "Chi2", "Binomial", "Weibull")):  # no trigamma there
        _compare_with_torch(case, method, backend)
        return
    params = [_mg(a, backend) for a in case.params]
    tparams = [_t(a) for a in case.params]
    out, tout = case.make(D, *params).entropy(), case.make(torch.distributions, *tparams).entropy()
    assert out.shape == tuple(tout.shape) and str(out.dtype) == str(tout.dtype).replace("torch.", "")
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    _grads_like_torch(out, tout, params, tparams, backend, rtol=TRIGAMMA_RTOL, scale=TRIGAMMA_RTOL)


def _multinomial_entropy_like_torch(case: Case, backend: str):
    """PyTorch takes lgamma(n + 1) of an int64 tensor, so in float32; minigrad's log(n!) is exact: the values
    differ by exactly that float32 rounding, and the gradients (where log(n!) is a constant) agree."""
    params, tparams = [_mg(a, backend) for a in case.params], [_t(a) for a in case.params]
    d, td = case.make(D, *params), case.make(torch.distributions, *tparams)
    out, tout = d.entropy(), td.entropy()
    n = d.total_count
    rounding = torch.lgamma(torch.tensor(n) + 1).item() - math.lgamma(n + 1)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy() + rounding, rtol=1e-10, atol=1e-12)
    _grads_like_torch(out, tout, params, tparams, backend)


GRADCHECK_PAIRS = [(c, m) for c, m in PAIRS
                   if m in ("log_prob", "cdf", "entropy", "mean", "variance", "stddev", "probs", "logits")
                   and not c.name.startswith(("StudentT(small", "FisherSnedecor"))]  # NaN entries: below


@pytest.mark.parametrize(("case", "method"), GRADCHECK_PAIRS, ids=[f"{c.name}-{m}" for c, m in GRADCHECK_PAIRS])
def test_gradcheck(case: Case, method: str):
    """Finite differences in float64 (full Jacobians) with respect to the parameters (and continuous values)."""
    value_grad = case.value_grad and case.fd_value and method == "log_prob"
    params = [_mg(a) for a in case.params]
    consts = [_mg(a, grad=False) for a in case.consts]
    value = _mg(case.value, grad=value_grad)
    extra = [value] if value_grad else []

    def fn(*args):
        ps, rest = args[: len(params)], args[len(params):]
        return _evaluate(case.make(D, *ps, *consts), method, case, rest[0] if value_grad else value, None)

    assert mg.gradcheck(fn, (*params, *extra))


def test_fisher_snedecor_gradcheck_where_finite():
    """FisherSnedecor's mean, mode and variance are NaN for df2 <= 2, df1 <= 2, df2 <= 4 (as PyTorch's): gradcheck
    with the degrees of freedom above those bounds."""
    df1, df2 = _mg([[2.5, 3.0, 7.0]]), _mg([[4.5, 6.0, 9.0]])
    value = _mg(_POS_VALUE, grad=False)
    for method in ("mean", "mode", "variance"):
        assert mg.gradcheck(lambda a, b, m=method: getattr(D.FisherSnedecor(a, b), m), (df1, df2))
    assert mg.gradcheck(lambda a, b, v: D.FisherSnedecor(a, b).log_prob(v), (df1, df2, _mg(_POS_VALUE)))
    assert D.FisherSnedecor(df1, df2).log_prob(value).shape == (4, 2, 3)


@pytest.mark.parametrize("name", ["Weibull", "Kumaraswamy", "FisherSnedecor"])
def test_rsample_pathwise_gradcheck(name: str):
    """Weibull and Kumaraswamy transform uniform/exponential noise (finite differences with the seed fixed);
    FisherSnedecor's gamma samples follow the implicit gradient, so its check is the composition with Gamma's."""
    case = next(c for c in CASES if c.name == name)
    if name != "FisherSnedecor":
        def fn(*ps):
            mg.manual_seed(4)
            return case.make(D, *ps).rsample((3,))

        assert mg.gradcheck(fn, [_mg(a) for a in case.params])
        return
    a, b = _mg(case.params[0]), _mg(case.params[1])
    mg.manual_seed(4)
    x = D.FisherSnedecor(a, b).rsample((3,))
    mg.manual_seed(4)
    y = D.Gamma(0.5 * a, a).rsample((3,)) / D.Gamma(0.5 * b, b).rsample((3,))
    np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-14)
    w = mg.tensor(RNG.standard_normal(x.shape))
    for gx, gy in zip(mg.grad((x * w).sum(), [a, b]), mg.grad((y * w).sum(), [a, b])):
        np.testing.assert_allclose(gx.numpy(), gy.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["Gamma", "Beta", "Dirichlet", "StudentT"])
def test_log_prob_second_order(name: str):
    case = next(c for c in CASES if c.name == name)
    value = _mg(case.value, grad=False)
    assert mg.gradgradcheck(lambda *ps: case.make(D, *ps).log_prob(value), [_mg(a) for a in case.params])


def test_gamma_cdf_second_order_in_rate_and_value():
    conc = _mg(_CONC, grad=False)
    assert mg.gradgradcheck(lambda r, v: D.Gamma(conc, r).cdf(v), [_mg(_RATE), _mg(_POS_VALUE)])


# -- KL divergences --------------------------------------------------------------------------------------------
KL_CASES = {
    "Gamma": (lambda dm, a, b, c, d: (dm.Gamma(a, b), dm.Gamma(c, d)), [_CONC, _RATE, _CONC[::-1].copy(), _RATE * 1.3]),
    "Beta": (lambda dm, a, b, c, d: (dm.Beta(a, b), dm.Beta(c, d)), [_CONC, _RATE, _RATE + 0.2, _CONC[:1]]),
    "Dirichlet": (lambda dm, a, b: (dm.Dirichlet(a), dm.Dirichlet(b)),
                  [RNG.uniform(0.3, 3.0, (2, 4)), RNG.uniform(0.3, 3.0, (3, 1, 4))]),
    "Poisson": (lambda dm, a, b: (dm.Poisson(a), dm.Poisson(b)), [_CONC, _RATE]),
    "Gumbel": (lambda dm, a, b, c, d: (dm.Gumbel(a, b), dm.Gumbel(c, d)),
               [RNG.standard_normal((2, 3)), _RATE, RNG.standard_normal((2, 3)), _RATE[::-1].copy()]),
    "Binomial": (lambda dm, a, b, n: (dm.Binomial(n, probs=a), dm.Binomial(n, logits=b)),
                 [_PROBS, RNG.standard_normal((2, 3))], [_TOTAL]),
}


def _kl_pair(name, backend, grad=True):
    make, arrays, *consts = KL_CASES[name]
    consts = consts[0] if consts else []
    mg_params = [_mg(a, backend) for a in arrays]
    t_params = [_t(a) for a in arrays]
    p, q = make(D, *mg_params, *[_mg(c, backend, grad=False) for c in consts])
    tp, tq = make(torch.distributions, *t_params, *[_t(c, grad=False) for c in consts])
    return mg_params, t_params, D.kl_divergence(p, q), torch.distributions.kl_divergence(tp, tq)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(KL_CASES))
def test_kl_like_torch(name: str, backend: str):
    params, tparams, out, tout = _kl_pair(name, backend)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    trigamma = name in ("Gamma", "Beta", "Dirichlet")  # digamma's derivative in the gradient
    _grads_like_torch(out, tout, params, tparams, backend, rtol=TRIGAMMA_RTOL if trigamma else 1e-9,
                      scale=TRIGAMMA_RTOL if trigamma else None)


@pytest.mark.parametrize("name", sorted(KL_CASES))
def test_kl_gradcheck(name: str):
    make, arrays, *consts = KL_CASES[name]
    consts = [_mg(c, grad=False) for c in (consts[0] if consts else [])]
    assert mg.gradcheck(lambda *ps: D.kl_divergence(*make(D, *ps, *consts)), [_mg(a) for a in arrays])


def test_kl_binomial_total_counts_like_torch():
    """A larger p.total_count gives inf; a larger q.total_count raises NotImplementedError, as PyTorch."""
    p = D.Binomial(mg.tensor([10.0, 5.0], dtype="float64"), probs=mg.tensor([0.3, 0.6], dtype="float64"))
    q = D.Binomial(mg.tensor([5.0, 5.0], dtype="float64"), probs=mg.tensor([0.4, 0.2], dtype="float64"))
    tp = torch.distributions.Binomial(torch.tensor([10.0, 5.0], dtype=torch.float64), torch.tensor([0.3, 0.6],
                                                                                                   dtype=torch.float64))
    tq = torch.distributions.Binomial(torch.tensor([5.0, 5.0], dtype=torch.float64), torch.tensor([0.4, 0.2],
                                                                                                  dtype=torch.float64))
    np.testing.assert_allclose(D.kl_divergence(p, q).numpy(), torch.distributions.kl_divergence(tp, tq).numpy(),
                               rtol=1e-12)
    with pytest.raises(NotImplementedError, match="q.total_count > p.total_count"):
        D.kl_divergence(q, p)


# -- the implicit reparameterisation gradient ------------------------------------------------------------------
def _gamma_quantile(a: float, u: float) -> float:
    """P(a, x) = u solved for x by bisection on the float64 CDF (independent of the gradient code)."""
    lo, hi = 0.0, a + 60 * math.sqrt(a) + 60
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if regularized_gamma_p(a, mid) < u:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("alpha", [0.05, 0.4, 1.0, 2.7, 15.0, 300.0])
def test_implicit_gamma_gradient_against_cdf_inversion(alpha: float):
    """d x / d alpha with u = P(alpha, x) fixed: central finite differences of log x(alpha) = log P^-1(alpha, u)
    (bisection to rounding) with the step h = 1e-4 alpha / (1 + |log x|), small against the scale on which log x
    bends (x ~ (u Gamma(alpha + 1))^(1/alpha) for small alpha): truncation ~1e-8, rounding ~1e-16 / 1e-4."""
    for u in (0.02, 0.3, 0.5, 0.8, 0.995):
        x = _gamma_quantile(alpha, u)
        h = 1e-4 * alpha / (1 + abs(math.log(x)))
        fd = (math.log(_gamma_quantile(alpha + h, u)) - math.log(_gamma_quantile(alpha - h, u))) / (2 * h)
        got = standard_gamma_grad(np.array([x]), np.array([alpha]))[0] / x
        assert abs(got - fd) <= 1e-8 * abs(fd) + 1e-13 / h, (alpha, u, got, fd)


def test_implicit_gamma_gradient_against_scipy():
    """The same check against SciPy's independent inverse incomplete gamma function, on many (alpha, u)."""
    special = pytest.importorskip("scipy.special")
    alphas = np.array([0.01, 0.1, 0.5, 0.99, 1.0, 1.5, 4.0, 30.0, 1000.0, 1e5])
    us = np.array([1e-6, 0.01, 0.2, 0.5, 0.9, 0.999999])
    a, u = np.meshgrid(alphas, us, indexing="ij")
    x = special.gammaincinv(a, u)
    a, u, x = a[x > 0], u[x > 0], x[x > 0]  # (0.01, 1e-6) underflows: x ~ 1e-2600
    assert x.size == alphas.size * us.size - 1
    h = 1e-5 * a / (1 + np.abs(np.log(x)))
    fd = (np.log(special.gammaincinv(a + h, u)) - np.log(special.gammaincinv(a - h, u))) / (2 * h)
    got = standard_gamma_grad(x, a) / x
    assert (np.abs(got - fd) <= 1e-7 * np.abs(fd) + 1e-12 / h).all()  # rounding of log x ~1e-15, over 2h


def test_gamma_rsample_gradient_is_the_implicit_one():
    """Gamma(c, r).rsample: d x / d c = (d/dc) P^-1(c, u) / r with u = P(c, r x) (SciPy's inverse), d x / d r =
    -x / r; Chi2 and the float32 path too."""
    special = pytest.importorskip("scipy.special")
    conc, rate = _mg(_CONC), _mg(_RATE)
    mg.manual_seed(3)
    x = D.Gamma(conc, rate).rsample((4,))
    weight = RNG.standard_normal(x.shape)
    gc, gr = mg.grad((x * mg.tensor(weight)).sum(), [conc, rate])
    xs, c, r = x.numpy(), np.broadcast_to(_CONC, x.shape), np.broadcast_to(_RATE, x.shape)
    u = special.gammainc(c, r * xs)
    h = 1e-6 * c
    dxdc = (special.gammaincinv(c + h, u) - special.gammaincinv(c - h, u)) / (2 * h) / r
    np.testing.assert_allclose(gc.numpy(), (weight * dxdc).sum(0), rtol=1e-6)
    np.testing.assert_allclose(gr.numpy(), (weight * -xs / r).sum(0), rtol=1e-12)
    c32 = mg.tensor(_CONC.astype(np.float32), requires_grad=True)
    s32 = D.Chi2(c32).rsample((3,))
    assert s32.dtype == mg.float32
    (g32,) = mg.grad(s32.sum(), [c32])
    assert g32.dtype == mg.float32 and np.isfinite(g32.numpy()).all()


def test_dirichlet_beta_studentt_rsample_compose_gamma_samples():
    """Dirichlet's rsample is normalised standard gammas (Beta's its first coordinate), StudentT's is
    loc + scale eps / sqrt(chi2 / df): the same numbers and gradients as those compositions with the same noise."""
    conc = _mg(RNG.uniform(0.3, 3.0, (2, 4)))
    mg.manual_seed(5)
    x = D.Dirichlet(conc).rsample((3,))
    mg.manual_seed(5)
    g = D.Gamma(conc, 1.0).rsample((3,))
    y = g / g.sum(-1, keepdim=True)
    np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-14)
    np.testing.assert_allclose(x.numpy().sum(-1), 1.0, rtol=1e-14)
    w = mg.tensor(RNG.standard_normal(x.shape))
    np.testing.assert_allclose(mg.grad((x * w).sum(), [conc])[0].numpy(), mg.grad((y * w).sum(), [conc])[0].numpy(),
                               rtol=1e-12)
    a, b = _mg(_CONC), _mg(_RATE)
    mg.manual_seed(6)
    x = D.Beta(a, b).rsample((2,))
    mg.manual_seed(6)
    g = D.Gamma(mg.stack([a, b], -1), 1.0).rsample((2,))
    y = g[..., 0] / g.sum(-1)
    np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-14)
    w = mg.tensor(RNG.standard_normal(x.shape))
    for gx, gy in zip(mg.grad((x * w).sum(), [a, b]), mg.grad((y * w).sum(), [a, b])):
        np.testing.assert_allclose(gx.numpy(), gy.numpy(), rtol=1e-12)
    df, loc, scale = _mg(_CONC + 1), _mg(_RATE - 1), _mg(_RATE)
    mg.manual_seed(8)
    x = D.StudentT(df, loc, scale).rsample((2,))
    mg.manual_seed(8)
    eps = mg.randn(2, 2, 3, dtype="float64")
    chi2 = D.Gamma(0.5 * df, 0.5).rsample((2,))
    y = loc + scale * eps / (chi2 / df).sqrt()
    np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-13)
    w = mg.tensor(RNG.standard_normal(x.shape))
    for gx, gy in zip(mg.grad((x * w).sum(), [df, loc, scale]), mg.grad((y * w).sum(), [df, loc, scale])):
        np.testing.assert_allclose(gx.numpy(), gy.numpy(), rtol=1e-12)


def test_gamma_cdf_concentration_gradient():
    """PyTorch's Gamma.cdf (torch.special.gammainc) has no gradient in the concentration; here it is exact:
    -f(y) dy/da, checked against central differences of SciPy's gammainc; a second derivative in it raises."""
    special = pytest.importorskip("scipy.special")
    conc, rate, value = _mg(_CONC), _mg(_RATE), _mg(_POS_VALUE, grad=False)
    out = D.Gamma(conc, rate).cdf(value)
    np.testing.assert_allclose(out.numpy(), special.gammainc(_CONC, _RATE * _POS_VALUE), rtol=1e-12)
    weight = RNG.standard_normal(out.shape)
    (g,) = mg.grad((out * mg.tensor(weight)).sum(), [conc], create_graph=True)
    h = 1e-6 * _CONC
    fd = (special.gammainc(_CONC + h, _RATE * _POS_VALUE) - special.gammainc(_CONC - h, _RATE * _POS_VALUE)) / (2 * h)
    # Central differences err by about eps * |F| / h per term (F <= 1); the weighted sum over axis 0 can cancel
    # to ~1e-4, where that error, not a relative one, decides (it failed for some random weights).
    expected, fd_error = (weight * fd).sum(0), (np.abs(weight) * (4 * np.finfo(np.float64).eps / h)).sum(0)
    assert np.all(np.abs(g.numpy() - expected) <= 1e-7 * np.abs(expected) + fd_error), (g.numpy(), expected)
    with pytest.raises(NotImplementedError, match="second derivative of Gamma.cdf"):
        mg.grad(g.sum(), [conc])
    zero = D.Gamma(conc, rate).cdf(mg.zeros(2, 3, dtype="float64"))
    assert (zero.numpy() == 0).all()
    assert (mg.grad(zero.sum(), [conc])[0].numpy() == 0).all()


def test_gamma_rsample_has_no_second_derivative():
    """PyTorch's _standard_gamma_grad has no derivative; here differentiating it again raises (never a zero)."""
    conc = _mg([1.5, 2.0])
    x = D.Gamma(conc, 1.0).rsample()
    (g,) = mg.grad(x.sum(), [conc], create_graph=True)
    with pytest.raises(NotImplementedError, match="second derivative of a gamma sample"):
        mg.grad(g.sum(), [conc])


# -- sampling --------------------------------------------------------------------------------------------------
N_SAMPLES = 40_000

STAT_CASES = {
    "Gamma": lambda b: D.Gamma(_f([0.05, 0.7, 1.0, 4.5, 80.0], b), _f([1.0, 2.0, 0.5, 1.5, 3.0], b)),
    "Chi2": lambda b: D.Chi2(_f([1.0, 3.0, 10.0], b)),
    "Beta": lambda b: D.Beta(_f([0.3, 2.0, 5.0], b), _f([0.6, 2.0, 1.2], b)),
    "Dirichlet": lambda b: D.Dirichlet(_f([[0.2, 0.8, 3.0], [2.0, 2.0, 2.0]], b)),
    "StudentT": lambda b: D.StudentT(_f([9.0, 12.0], b), _f([0.5, -1.0], b), _f([1.0, 2.0], b)),
    "Poisson": lambda b: D.Poisson(_f([0.0, 0.3, 4.0, 150.0], b)),
    "Binomial": lambda b: D.Binomial(_f([1.0, 10.0, 200.0], b), probs=_f([0.3, 0.5, 0.9], b)),
    "NegativeBinomial": lambda b: D.NegativeBinomial(_f([0.5, 3.0, 20.0], b), probs=_f([0.3, 0.5, 0.1], b)),
    "Weibull": lambda b: D.Weibull(_f([1.0, 2.0], b), _f([0.8, 3.0], b)),
    "Kumaraswamy": lambda b: D.Kumaraswamy(_f([0.5, 2.0], b), _f([1.5, 4.0], b)),
    "FisherSnedecor": lambda b: D.FisherSnedecor(_f([3.0, 10.0], b), _f([12.0, 15.0], b)),
    "Multinomial": lambda b: D.Multinomial(7, probs=_f([0.1, 0.0, 0.6, 0.3], b)),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(STAT_CASES))
def test_sample_moments(name: str, backend: str):
    """Sample mean and variance within Z standard errors of the distribution's (fixed seed)."""
    mg.manual_seed(2027)
    d = STAT_CASES[name](backend)
    samples = d.sample((N_SAMPLES,))
    assert samples.backend == backend and samples.dtype == mg.float64
    samples = samples.numpy()
    if name in ("Poisson", "Binomial", "NegativeBinomial", "Multinomial"):
        assert (samples == np.round(samples)).all() and (samples >= 0).all()
    if name == "Multinomial":
        assert (samples.sum(-1) == 7).all() and (samples[:, 1] == 0).all()
    _check_mean_var(samples, d.mean.numpy(), d.variance.numpy())


@pytest.mark.parametrize("alpha", [0.02, 0.5, 1.0, 3.0, 250.0])
def test_gamma_samples_follow_the_cdf(alpha: float):
    """The fraction of samples with P(alpha, x) < q is q within Z binomial standard errors (the alpha < 1 boost
    and the Marsaglia-Tsang rejection both)."""
    mg.manual_seed(13)
    n = 20_000
    samples = D.Gamma(mg.tensor([alpha], dtype="float64"), 1.0).sample((n,)).numpy()[:, 0]
    u = regularized_gamma_p(alpha, samples)
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        assert abs((u < q).mean() - q) < Z * math.sqrt(q * (1 - q) / n)


def test_sampling_is_reproducible_and_rsample_is_in_the_graph():
    conc = _mg([0.5, 2.0])
    for make in (lambda: D.Gamma(conc, 1.0), lambda: D.Poisson(conc), lambda: D.Binomial(5, probs=conc / 3),
                 lambda: D.NegativeBinomial(conc, probs=conc / 3)):
        mg.manual_seed(1)
        a = make().sample((10,)).numpy()
        mg.manual_seed(1)
        np.testing.assert_array_equal(a, make().sample((10,)).numpy())
    assert not D.Gamma(conc, 1.0).sample().requires_grad and D.Gamma(conc, 1.0).rsample().requires_grad
    assert not D.Poisson(conc).has_rsample and D.Beta(conc, conc).has_rsample
    with pytest.raises(NotImplementedError):
        D.Poisson(conc).rsample()


@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("case", [c for c in CASES if "small" not in c.name and c.name != "Binomial(probs)"],
                         ids=lambda c: c.name)  # Binomial(probs) has unequal total counts: no enumerate_support
def test_shapes_like_torch(case: Case, sample_shape):
    """batch/event shapes, sample and rsample shapes and dtypes, expand and enumerate_support, as PyTorch's."""
    _shapes_like_torch(case, sample_shape)


def test_scalar_parameters_and_default_dtype():
    for d in (D.Gamma(2.0, 3.0), D.Chi2(3.0), D.Beta(2.0, 3.0), D.StudentT(4.0), D.Poisson(2.0)):
        assert d.batch_shape == () and d.sample((4,)).shape == (4,) and d.sample().dtype == mg.float32
    assert D.Dirichlet(mg.ones(3)).event_shape == (3,)
    np.testing.assert_allclose(D.Beta(2.0, 3.0).log_prob(mg.tensor(0.25)).item(),
                               torch.distributions.Beta(2.0, 3.0).log_prob(torch.tensor(0.25)).item(), rtol=1e-6)


def test_binomial_entropy_needs_equal_total_counts():
    with pytest.raises(NotImplementedError, match="Inhomogeneous total count not supported by `entropy`."):
        D.Binomial(mg.tensor([3.0, 4.0]), probs=mg.tensor([0.5, 0.5])).entropy()
    with pytest.raises(NotImplementedError, match="Inhomogeneous total count"):
        D.Binomial(mg.tensor([3.0, 4.0]), probs=mg.tensor([0.5, 0.5])).enumerate_support()
    with pytest.raises(NotImplementedError, match="Inhomogeneous total count"):
        torch.distributions.Binomial(torch.tensor([3.0, 4.0]), probs=torch.tensor([0.5, 0.5])).enumerate_support()


# -- validation ------------------------------------------------------------------------------------------------
def test_invalid_parameters_raise_like_torch():
    with pytest.raises(ValueError, match=r"Expected parameter concentration \(Tensor of shape \(2,\)\) of distribution "
                                         r"Gamma\(concentration: \(2,\), rate: \(2,\)\) to satisfy the constraint "
                                         r"GreaterThan\(lower_bound=0.0\)"):
        D.Gamma(mg.tensor([1.0, -1.0]), mg.ones(2))
    with pytest.raises(ValueError, match="Expected parameter rate"):
        D.Gamma(mg.ones(2), mg.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="`concentration` parameter must be at least one-dimensional."):
        D.Dirichlet(mg.tensor(1.0))
    with pytest.raises(ValueError, match=r"Expected parameter concentration .* of distribution Dirichlet.*"
                                         r"IndependentConstraint\(GreaterThan"):
        D.Beta(mg.tensor([1.0]), mg.tensor([-2.0]))
    with pytest.raises(ValueError, match="Expected parameter df"):
        D.StudentT(mg.tensor([0.0]))
    with pytest.raises(ValueError, match="Expected parameter df"):
        D.Chi2(mg.tensor([-1.0]))
    with pytest.raises(ValueError, match="Expected parameter rate .* GreaterThanEq"):
        D.Poisson(mg.tensor([-0.5]))
    with pytest.raises(ValueError, match="Expected parameter total_count .* IntegerGreaterThan"):
        D.Binomial(mg.tensor([2.5]), probs=mg.tensor([0.5]))
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        D.Binomial(3)
    with pytest.raises(NotImplementedError, match="inhomogeneous total_count is not supported"):
        D.Multinomial(mg.tensor([3.0]), probs=mg.ones(3))
    with pytest.raises(ValueError, match="Expected parameter concentration .* Weibull"):
        D.Weibull(mg.ones(2), mg.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="Expected parameter probs .* HalfOpenInterval"):
        D.NegativeBinomial(mg.tensor([2.0]), probs=mg.tensor([1.0]))
    assert D.Gamma(mg.tensor([-1.0]), 1.0, validate_args=False).concentration.item() == -1.0


def test_invalid_values_raise_like_torch():
    with pytest.raises(ValueError, match=r"Expected value argument \(Tensor of shape \(2,\)\) to be within the "
                                         r"support \(GreaterThanEq\(lower_bound=0.0\)\) of the distribution Gamma"):
        D.Gamma(mg.ones(2), 1.0).log_prob(mg.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="support \\(Interval\\(lower_bound=0.0, upper_bound=1.0\\)\\)"):
        D.Beta(mg.ones(2), 1.0).log_prob(mg.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match="support \\(Simplex\\(\\)\\)"):
        D.Dirichlet(mg.ones(3)).log_prob(mg.tensor([0.5, 0.6, 0.1]))
    with pytest.raises(ValueError, match="support \\(IntegerGreaterThan\\(lower_bound=0\\)\\)"):
        D.Poisson(mg.ones(2)).log_prob(mg.tensor([1.5, 2.0]))
    with pytest.raises(ValueError, match="support \\(IntegerInterval\\(lower_bound=0"):
        D.Binomial(mg.tensor([3.0, 3.0]), probs=mg.tensor([0.5, 0.5])).log_prob(mg.tensor([4.0, 1.0]))
    with pytest.raises(ValueError, match="support \\(Multinomial\\(\\)\\)"):
        D.Multinomial(3, probs=mg.ones(2)).log_prob(mg.tensor([3.0, 1.0]))


def test_supports_and_arg_constraints_like_torch():
    for name, args in (("Gamma", (1.0, 1.0)), ("Chi2", (1.0,)), ("Beta", (1.0, 1.0)), ("StudentT", (2.0,)),
                       ("Poisson", (1.0,)), ("NegativeBinomial", (2.0, 0.5)), ("Weibull", (1.0, 2.0)),
                       ("Kumaraswamy", (1.0, 2.0)), ("FisherSnedecor", (1.0, 2.0))):
        d, td = getattr(D, name)(*args), getattr(torch.distributions, name)(*args)
        assert repr(d.support) == repr(td.support)
        assert {k: repr(v) for k, v in d.arg_constraints.items()} == \
            {k: repr(v) for k, v in td.arg_constraints.items()}
        assert repr(d) == repr(td)
    assert repr(D.Dirichlet(mg.ones(3)).support) == repr(torch.distributions.Dirichlet(torch.ones(3)).support)


def test_on_the_cupy_backend(cupy_device):
    """log_prob and entropy of every case, every KL pair, and gamma/Poisson samples with their gradients, on the
    CuPy backend (its CPU stand-in here)."""
    for case in CASES:
        for method in ("log_prob", "entropy"):
            if method in case.methods:
                test_like_torch(case, method, cupy_device)
    for name in sorted(KL_CASES):
        test_kl_like_torch(name, cupy_device)
    mg.manual_seed(0)
    conc = mg.tensor([0.3, 2.0, 9.0], dtype="float64", backend=cupy_device, requires_grad=True)
    d = D.Gamma(conc, 2.0)
    s = d.rsample((N_SAMPLES,))
    assert s.backend == cupy_device
    _check_mean_var(s.numpy(), d.mean.numpy(), d.variance.numpy())
    (g,) = mg.grad(s.sum(), [conc])
    assert g.backend == cupy_device
    np.testing.assert_allclose(g.numpy(), standard_gamma_grad(2 * s.numpy(), conc.numpy()).sum(0) / 2, rtol=1e-12)
    p = D.Poisson(mg.tensor([0.5, 4.0], dtype="float64", backend=cupy_device)).sample((1000,))
    assert p.backend == cupy_device and p.dtype == mg.float64


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_like_torch(backend: str):
    """float32 parameters give float32 results and samples, equal to PyTorch's within float32 rounding."""
    for case in CASES:
        if case.name.startswith(("Multinomial", "Gamma(cdf)")):
            continue
        params = [mg.tensor(a.astype(np.float32), backend=backend) for a in case.params + case.consts]
        tparams = [torch.tensor(a.astype(np.float32)) for a in case.params + case.consts]
        d, td = case.make(D, *params), case.make(torch.distributions, *tparams)
        value = case.value.astype(np.float32)
        lp = d.log_prob(mg.tensor(value, backend=backend))
        assert lp.dtype == mg.float32 and d.sample((2,)).dtype == mg.float32, case.name
        np.testing.assert_allclose(lp.numpy(), td.log_prob(torch.tensor(value)).numpy(), rtol=2e-5, atol=2e-5)
        if d.has_rsample:
            assert d.rsample((2,)).dtype == mg.float32
