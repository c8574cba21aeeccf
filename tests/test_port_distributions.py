"""minigrad.distributions (torch.distributions): log_prob, cdf/icdf, entropy, moments and KL equal to PyTorch's
in float64 with equal gradients with respect to the parameters (and the value), finite-difference gradchecks,
pathwise rsample gradients with fixed noise, sample statistics, shapes, expand, transforms and argument checks.

Comparisons run on every available backend; gradchecks on NumPy in float64. The statistical tests use fixed seeds
and tolerances of 5 standard errors derived from the sample size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
import minigrad.distributions as D  # noqa: N812 - as torch.distributions is often imported
from minigrad.distributions import constraints

BACKENDS = mg.testing.available_backends()
RNG = np.random.default_rng(20261207)


def _spd_factor(n, batch=()):
    """A well-conditioned A (A Aᵀ + I is the covariance) with positive diagonal (tril(A) is a Cholesky factor)."""
    a = RNG.standard_normal((*batch, n, n)) * 0.4
    idx = np.arange(n)
    a[..., idx, idx] = RNG.uniform(0.8, 1.5, (*batch, n))
    return a


def _simplex(shape):
    p = RNG.uniform(0.1, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


@dataclass
class Case:
    """A distribution made by ``make(dm, *params)`` (``dm``: minigrad.distributions or torch.distributions), with
    ``params`` (arrays that require grad; ``consts`` follow them and do not), a value for ``log_prob``/``cdf``, a
    probability for ``icdf``, and the methods and properties to compare."""

    name: str
    make: Callable
    params: list
    value: np.ndarray | None
    methods: tuple
    consts: list = field(default_factory=list)
    value_grad: bool = True  # differentiate with respect to the value too (continuous values)
    fd_value: bool = True  # finite differences in the value stay in the support (not on the simplex)
    prob: np.ndarray | None = None


_LOC, _SCALE = RNG.standard_normal((2, 3)), RNG.uniform(0.5, 1.5, (2, 3))
_REAL_VALUE = RNG.standard_normal((4, 2, 3)) * 1.5
_PROB = RNG.uniform(0.05, 0.95, (4, 2, 3))
_LOCSCALE = ("log_prob", "cdf", "icdf", "entropy", "mean", "mode", "variance", "stddev")
_LOW = RNG.standard_normal((2, 3))
_HIGH = _LOW + RNG.uniform(0.5, 2.0, (2, 3))
_N, _K = 3, 4
_MVN_LOC = RNG.standard_normal((2, _N))
_MVN_A = _spd_factor(_N, (2,))
_EYE = np.eye(_N)
_MVN_VALUE = RNG.standard_normal((5, 2, _N))
_MVN_METHODS = ("log_prob", "entropy", "mean", "mode", "variance", "stddev", "covariance_matrix",
                "precision_matrix", "scale_tril")

CASES = [
    Case("Normal", lambda dm, loc, scale: dm.Normal(loc, scale), [_LOC, _SCALE], _REAL_VALUE, _LOCSCALE, prob=_PROB),
    Case("Laplace", lambda dm, loc, scale: dm.Laplace(loc, scale), [_LOC, _SCALE], _REAL_VALUE, _LOCSCALE, prob=_PROB),
    Case("Cauchy", lambda dm, loc, scale: dm.Cauchy(loc, scale), [_LOC, _SCALE], _REAL_VALUE, _LOCSCALE, prob=_PROB),
    Case("Gumbel", lambda dm, loc, scale: dm.Gumbel(loc, scale), [_LOC, _SCALE], _REAL_VALUE, _LOCSCALE, prob=_PROB),
    Case("LogNormal", lambda dm, loc, scale: dm.LogNormal(loc, scale), [_LOC, _SCALE],
         RNG.uniform(0.1, 4.0, (4, 2, 3)), _LOCSCALE, prob=_PROB),
    Case("Exponential", lambda dm, rate: dm.Exponential(rate), [_SCALE], RNG.uniform(0.0, 3.0, (4, 2, 3)),
         _LOCSCALE, prob=_PROB),
    Case("Uniform", lambda dm, low, high: dm.Uniform(low, high), [_LOW, _HIGH],
         _LOW + (_HIGH - _LOW) * RNG.uniform(0.05, 0.95, (4, 2, 3)), _LOCSCALE, prob=_PROB),
    Case("Bernoulli(probs)", lambda dm, p: dm.Bernoulli(probs=p), [RNG.uniform(0.1, 0.9, (2, 3))],
         RNG.integers(0, 2, (4, 2, 3)).astype(np.float64), ("log_prob", "entropy", "mean", "mode", "variance",
                                                            "probs", "logits"), value_grad=False),
    Case("Bernoulli(logits)", lambda dm, lg: dm.Bernoulli(logits=lg), [RNG.standard_normal((2, 3)) * 3],
         RNG.integers(0, 2, (4, 2, 3)).astype(np.float64), ("log_prob", "entropy", "mean", "mode", "variance",
                                                            "probs", "logits"), value_grad=False),
    Case("Categorical(probs)", lambda dm, p: dm.Categorical(probs=p), [RNG.uniform(0.1, 1.0, (2, _K))],
         RNG.integers(0, _K, (5, 2)), ("log_prob", "entropy", "mode", "probs", "logits", "mean", "variance"),
         value_grad=False),
    Case("Categorical(logits)", lambda dm, lg: dm.Categorical(logits=lg), [RNG.standard_normal((2, _K)) * 2],
         RNG.integers(0, _K, (5, 2)), ("log_prob", "entropy", "mode", "probs", "logits"), value_grad=False),
    Case("OneHotCategorical(probs)", lambda dm, p: dm.OneHotCategorical(probs=p), [RNG.uniform(0.1, 1.0, (2, _K))],
         np.eye(_K)[RNG.integers(0, _K, (5, 2))], ("log_prob", "entropy", "mean", "mode", "variance", "probs",
                                                  "logits"), value_grad=False),
    Case("OneHotCategorical(logits)", lambda dm, lg: dm.OneHotCategorical(logits=lg), [RNG.standard_normal((2, _K))],
         np.eye(_K)[RNG.integers(0, _K, (5, 2))], ("log_prob", "entropy", "mean", "variance"), value_grad=False),
    Case("MVN(covariance_matrix)",
         lambda dm, loc, a, eye: dm.MultivariateNormal(loc, covariance_matrix=a @ a.mT + eye),
         [_MVN_LOC, _MVN_A], _MVN_VALUE, _MVN_METHODS, consts=[_EYE]),
    Case("MVN(precision_matrix)",
         lambda dm, loc, a, eye: dm.MultivariateNormal(loc, precision_matrix=a @ a.mT + eye),
         [_MVN_LOC[0], _MVN_A], _MVN_VALUE, _MVN_METHODS, consts=[_EYE]),
    Case("MVN(scale_tril)", lambda dm, loc, a: dm.MultivariateNormal(loc, scale_tril=a.tril()),
         [_MVN_LOC, _MVN_A[0]], _MVN_VALUE, _MVN_METHODS),
    Case("LowRankMVN", lambda dm, loc, w, d: dm.LowRankMultivariateNormal(loc, w, d),
         [_MVN_LOC, RNG.standard_normal((2, _N, 2)), RNG.uniform(0.5, 1.5, _N)], _MVN_VALUE,
         ("log_prob", "entropy", "mean", "mode", "variance", "stddev", "covariance_matrix", "precision_matrix",
          "scale_tril")),
    Case("Independent(Normal)", lambda dm, loc, scale: dm.Independent(dm.Normal(loc, scale), 1), [_LOC, _SCALE],
         _REAL_VALUE, ("log_prob", "entropy", "mean", "mode", "variance", "stddev")),
    Case("HalfNormal", lambda dm, scale: dm.HalfNormal(scale), [_SCALE], np.abs(_REAL_VALUE), _LOCSCALE, prob=_PROB),
    Case("HalfCauchy", lambda dm, scale: dm.HalfCauchy(scale), [_SCALE], np.abs(_REAL_VALUE), _LOCSCALE, prob=_PROB),
    Case("Pareto", lambda dm, scale, alpha: dm.Pareto(scale, alpha), [_SCALE, np.array([[0.8, 1.5, 2.5]])],
         _SCALE * RNG.uniform(1.0, 4.0, (4, 2, 3)), ("log_prob", "cdf", "icdf", "entropy", "mean", "mode",
                                                     "variance"), prob=_PROB),
    Case("Geometric(probs)", lambda dm, p: dm.Geometric(probs=p), [np.array([[0.2, 0.5, 1.0], [0.9, 0.05, 0.3]])],
         np.concatenate([RNG.integers(0, 6, (3, 2, 3)), np.zeros((1, 2, 3))]).astype(np.float64),
         ("log_prob", "entropy", "mean", "mode", "variance", "logits"), value_grad=False),
    Case("Geometric(logits)", lambda dm, lg: dm.Geometric(logits=lg), [RNG.standard_normal((2, 3))],
         RNG.integers(0, 6, (4, 2, 3)).astype(np.float64), ("log_prob", "entropy", "mean", "variance", "probs"),
         value_grad=False),
    Case("MixtureSameFamily(Normal)", lambda dm, lg, loc, scale: dm.MixtureSameFamily(
        dm.Categorical(logits=lg), dm.Normal(loc, scale)), [RNG.standard_normal((2, 3)), _LOC, _SCALE],
        _REAL_VALUE[:, :, 0], ("log_prob", "cdf", "mean", "variance")),
    Case("MixtureSameFamily(MVN)", lambda dm, lg, loc, a: dm.MixtureSameFamily(
        dm.Categorical(logits=lg), dm.MultivariateNormal(loc, scale_tril=a.tril())),
        [RNG.standard_normal(2), _MVN_LOC, _MVN_A], _MVN_VALUE[:, 0], ("log_prob", "mean", "variance")),
    Case("MixtureSameFamily(Independent)", lambda dm, lg, loc, scale: dm.MixtureSameFamily(
        dm.Categorical(logits=lg), dm.Independent(dm.Normal(loc, scale), 1)),
        [RNG.standard_normal((1, 2)), RNG.standard_normal((3, 2, 4)), RNG.uniform(0.5, 1.5, (3, 2, 4))],
        RNG.standard_normal((5, 3, 4)), ("log_prob", "mean", "variance")),
    Case("ContinuousBernoulli(probs)", lambda dm, p: dm.ContinuousBernoulli(probs=p),
         [np.array([[0.1, 0.4995, 0.8], [0.5003, 0.3, 0.97]])], RNG.uniform(0.0, 1.0, (4, 2, 3)),
         ("log_prob", "cdf", "icdf", "entropy", "mean", "variance", "stddev", "logits"), prob=_PROB),
    Case("ContinuousBernoulli(logits)", lambda dm, lg: dm.ContinuousBernoulli(logits=lg),
         [RNG.standard_normal((2, 3)) * 2], RNG.uniform(0.0, 1.0, (4, 2, 3)),
         ("log_prob", "cdf", "icdf", "entropy", "mean", "variance", "probs"), prob=_PROB),
    Case("RelaxedBernoulli", lambda dm, p, t: dm.RelaxedBernoulli(t, probs=p), [RNG.uniform(0.1, 0.9, (2, 3)),
                                                                                np.array(0.7)],
         RNG.uniform(0.05, 0.95, (4, 2, 3)), ("log_prob",)),
    Case("RelaxedOneHotCategorical", lambda dm, lg, t: dm.RelaxedOneHotCategorical(t, logits=lg),
         [RNG.standard_normal((2, _K)), np.array(0.6)], _simplex((5, 2, _K)), ("log_prob",), fd_value=False),
]
CASE_IDS = [c.name for c in CASES]


def _mg(a, backend="numpy", grad=True):
    return mg.tensor(np.asarray(a), backend=backend, requires_grad=grad and np.asarray(a).dtype.kind == "f")


def _t(a, grad=True):
    return torch.tensor(np.asarray(a), requires_grad=grad and np.asarray(a).dtype.kind == "f")


def _evaluate(dist, method, case: Case, value, prob):
    attr = getattr(dist, method)
    if not callable(attr):
        return attr
    if method in ("log_prob", "cdf"):
        return attr(value)
    if method == "icdf":
        return attr(prob)
    return attr()


def _applies(case: Case, method: str) -> bool:
    return method in case.methods


PAIRS = [(c, m) for c in CASES for m in c.methods]
PAIR_IDS = [f"{c.name}-{m}" for c, m in PAIRS]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("case", "method"), PAIRS, ids=PAIR_IDS)
def test_like_torch(case: Case, method: str, backend: str):
    """Values equal to PyTorch's (float64), and the gradients of sum(w * output), random w, with respect to the
    parameters and the value."""
    _compare_with_torch(case, method, backend)


def _compare_with_torch(case: Case, method: str, backend: str):
    value_grad = case.value_grad and method in ("log_prob", "cdf")
    params = [_mg(a, backend) for a in case.params] + [_mg(a, backend, grad=False) for a in case.consts]
    tparams = [_t(a) for a in case.params] + [_t(a, grad=False) for a in case.consts]
    value = None if case.value is None else _mg(case.value, backend, grad=value_grad)
    tvalue = None if case.value is None else _t(case.value, grad=value_grad)
    prob = None if case.prob is None else _mg(case.prob, backend)
    tprob = None if case.prob is None else _t(case.prob)
    out = _evaluate(case.make(D, *params), method, case, value, prob)
    tout = _evaluate(case.make(torch.distributions, *tparams), method, case, tvalue, tprob)
    assert out.shape == tuple(tout.shape)
    assert str(out.dtype) == str(tout.dtype).replace("torch.", "")
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    if not tout.requires_grad:
        assert not out.requires_grad
        return
    weight = RNG.standard_normal(out.shape)
    inputs = [p for p in params if p.requires_grad] + ([value] if value_grad else [])
    tinputs = [p for p in tparams if p.requires_grad] + ([tvalue] if value_grad else [])
    if method == "icdf":
        inputs, tinputs = inputs + [prob], tinputs + [tprob]
    grads = mg.grad((out * mg.tensor(weight, backend=backend)).sum(), inputs, allow_unused=True)
    tgrads = torch.autograd.grad((tout * torch.tensor(weight)).sum(), tinputs, allow_unused=True)
    for g, tg, x in zip(grads, tgrads, inputs):
        expected = np.zeros(x.shape) if tg is None else tg.numpy()
        got = np.zeros(x.shape) if g is None else g.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-11)


GRADCHECK_PAIRS = [(c, m) for c, m in PAIRS
                   if m in ("log_prob", "cdf", "icdf", "entropy", "mean", "variance", "stddev", "probs", "logits",
                            "covariance_matrix", "precision_matrix", "scale_tril")
                   and not (c.name in ("Cauchy", "HalfCauchy") and m in ("mean", "variance", "stddev"))
                   and not (c.name == "Pareto" and m in ("mean", "variance"))  # inf for alpha <= 1, 2: below
                   and c.name != "Geometric(probs)"  # probs = 1 is on the boundary: below
                   and not (c.name.startswith("Categorical") and m in ("mean", "variance"))]


@pytest.mark.parametrize(("case", "method"), GRADCHECK_PAIRS, ids=[f"{c.name}-{m}" for c, m in GRADCHECK_PAIRS])
def test_gradcheck(case: Case, method: str):
    """Finite differences in float64 (full Jacobians) with respect to the parameters, the value and the
    probability."""
    value_grad = case.value_grad and case.fd_value and method in ("log_prob", "cdf")
    params = [_mg(a) for a in case.params]
    consts = [_mg(a, grad=False) for a in case.consts]
    value = None if case.value is None else _mg(case.value, grad=value_grad)
    prob = _mg(case.prob) if method == "icdf" else None
    extra = [value] if value_grad else [prob] if method == "icdf" else []

    def fn(*args):
        ps, rest = args[: len(params)], args[len(params):]
        v = rest[0] if value_grad else value
        q = rest[0] if method == "icdf" else prob
        return _evaluate(case.make(D, *ps, *consts), method, case, v, q)

    assert mg.gradcheck(fn, (*params, *extra))


def test_gradcheck_inside_the_boundaries():
    """The cases above with parameters on a boundary (Geometric's probs = 1, Pareto's alpha <= 2), inside it."""
    alpha, scale = _mg([[2.5, 3.0, 4.5]]), _mg(_SCALE)
    assert mg.gradcheck(lambda s, a: D.Pareto(s, a).mean, (scale, alpha))
    assert mg.gradcheck(lambda s, a: D.Pareto(s, a).variance, (scale, alpha))
    probs, value = _mg([[0.2, 0.5, 0.95], [0.9, 0.05, 0.3]]), _mg(RNG.integers(0, 6, (4, 2, 3)), grad=False)
    for method in ("log_prob", "entropy", "mean", "variance", "logits"):
        assert mg.gradcheck(lambda p, m=method: _evaluate(D.Geometric(probs=p), m, None, value.double(), None),
                            (probs,))


# -- KL divergences --------------------------------------------------------------------------------------------
_LOC2, _SCALE2 = RNG.standard_normal((2, 3)), RNG.uniform(0.5, 1.5, (2, 3))
_MVN_A2 = _spd_factor(_N, (2,))

KL_CASES = {
    "Normal": (lambda dm, a, b, c, d: (dm.Normal(a, b), dm.Normal(c, d)), [_LOC, _SCALE, _LOC2, _SCALE2], []),
    "Laplace": (lambda dm, a, b, c, d: (dm.Laplace(a, b), dm.Laplace(c, d)), [_LOC, _SCALE, _LOC2, _SCALE2], []),
    "Cauchy": (lambda dm, a, b, c, d: (dm.Cauchy(a, b), dm.Cauchy(c, d)), [_LOC, _SCALE, _LOC2, _SCALE2], []),
    "Exponential": (lambda dm, a, b: (dm.Exponential(a), dm.Exponential(b)), [_SCALE, _SCALE2], []),
    "Uniform": (lambda dm, a, b, c, d: (dm.Uniform(a, b), dm.Uniform(c, d)),
                [_LOW, _HIGH, _LOW - 0.3, _HIGH + RNG.uniform(0.1, 0.5, (2, 3))], []),
    "Bernoulli": (lambda dm, a, b: (dm.Bernoulli(probs=a), dm.Bernoulli(logits=b)),
                  [RNG.uniform(0.1, 0.9, (2, 3)), RNG.standard_normal((2, 3))], []),
    "Categorical": (lambda dm, a, b: (dm.Categorical(probs=a), dm.Categorical(logits=b)),
                    [RNG.uniform(0.1, 1.0, (2, _K)), RNG.standard_normal((3, 1, _K))], []),
    "OneHotCategorical": (lambda dm, a, b: (dm.OneHotCategorical(logits=a), dm.OneHotCategorical(probs=b)),
                          [RNG.standard_normal((2, _K)), RNG.uniform(0.1, 1.0, (2, _K))], []),
    "MVN": (lambda dm, a, b, c, d, eye: (dm.MultivariateNormal(a, covariance_matrix=b @ b.mT + eye),
                                        dm.MultivariateNormal(c, scale_tril=d.tril())),
            [_MVN_LOC, _MVN_A, _MVN_LOC[:1] * 0.5, _MVN_A2[0]], [_EYE]),
    "Independent": (lambda dm, a, b, c, d: (dm.Independent(dm.Normal(a, b), 2), dm.Independent(dm.Normal(c, d), 2)),
                    [_LOC, _SCALE, _LOC2, _SCALE2], []),
    "HalfNormal": (lambda dm, a, b: (dm.HalfNormal(a), dm.HalfNormal(b)), [_SCALE, _SCALE2], []),
    "Pareto": (lambda dm, a, b, c, d: (dm.Pareto(a, b), dm.Pareto(c, d)),
               [_SCALE * 1.5, _SCALE2, _SCALE, _SCALE], []),
    "ContinuousBernoulli": (lambda dm, a, b: (dm.ContinuousBernoulli(probs=a), dm.ContinuousBernoulli(logits=b)),
                            [np.array([[0.1, 0.4995, 0.8], [0.5003, 0.3, 0.97]]), RNG.standard_normal((2, 3))], []),
    "Geometric": (lambda dm, a, b: (dm.Geometric(probs=a), dm.Geometric(logits=b)),
                  [RNG.uniform(0.1, 0.9, (2, 3)), RNG.standard_normal((2, 3))], []),
    "LogNormal": (lambda dm, a, b, c, d: (dm.LogNormal(a, b), dm.LogNormal(c, d)), [_LOC, _SCALE, _LOC2, _SCALE2], []),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(KL_CASES))
def test_kl_like_torch(name: str, backend: str):
    _compare_kl_with_torch(name, backend)


def _compare_kl_with_torch(name: str, backend: str):
    make, arrays, consts = KL_CASES[name]
    params = [_mg(a, backend) for a in arrays]
    tparams = [_t(a) for a in arrays]
    p, q = make(D, *params, *[_mg(c, backend, grad=False) for c in consts])
    tp, tq = make(torch.distributions, *tparams, *[_t(c, grad=False) for c in consts])
    out, tout = D.kl_divergence(p, q), torch.distributions.kl_divergence(tp, tq)
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    weight = RNG.standard_normal(out.shape)
    grads = mg.grad((out * mg.tensor(weight, backend=backend)).sum(), params)
    tgrads = torch.autograd.grad((tout * torch.tensor(weight)).sum(), tparams)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", sorted(KL_CASES))
def test_kl_gradcheck(name: str):
    make, arrays, consts = KL_CASES[name]
    consts = [_mg(c, grad=False) for c in consts]
    assert mg.gradcheck(lambda *ps: D.kl_divergence(*make(D, *ps, *consts)), [_mg(a) for a in arrays])


def test_kl_infinite_and_zero_cases_like_torch():
    """Disjoint supports give inf; zero probabilities in p contribute 0 (PyTorch's masks)."""
    p, q = [0.0, 0.5, 1.0, 0.3], [0.5, 0.0, 0.5, 1.0]
    got = D.kl_divergence(D.Bernoulli(mg.tensor(p, dtype="float64")), D.Bernoulli(mg.tensor(q, dtype="float64")))
    want = torch.distributions.kl_divergence(torch.distributions.Bernoulli(torch.tensor(p, dtype=torch.float64)),
                                             torch.distributions.Bernoulli(torch.tensor(q, dtype=torch.float64)))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    cp, cq = [[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]], [[0.2, 0.3, 0.5], [0.5, 0.5, 0.0]]
    got = D.kl_divergence(D.Categorical(mg.tensor(cp, dtype="float64")), D.Categorical(mg.tensor(cq, dtype="float64")))
    want = torch.distributions.kl_divergence(torch.distributions.Categorical(torch.tensor(cp, dtype=torch.float64)),
                                             torch.distributions.Categorical(torch.tensor(cq, dtype=torch.float64)))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    got = D.kl_divergence(D.Uniform(0.0, 2.0), D.Uniform(0.5, 3.0))
    assert got.item() == math.inf
    got = D.kl_divergence(D.Pareto(mg.tensor([1.0, 2.0]), 3.0), D.Pareto(mg.tensor([1.5, 1.5]), 2.0))
    want = torch.distributions.kl_divergence(torch.distributions.Pareto(torch.tensor([1.0, 2.0]), 3.0),
                                             torch.distributions.Pareto(torch.tensor([1.5, 1.5]), 2.0))
    assert got.numpy()[0] == math.inf and np.allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_register_kl_dispatch():
    """A subclass pair uses its bases' rule until a more specific rule is registered; unknown pairs raise."""

    class MyNormal(D.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), D.Normal(1.0, 2.0)
    base = D.kl_divergence(D.Normal(0.0, 1.0), q)
    assert D.kl_divergence(p, q).item() == base.item()

    @D.register_kl(MyNormal, D.Normal)
    def _kl_mine(p, q):
        return p.loc * 0 + 42.0

    try:
        assert D.kl_divergence(p, q).item() == 42.0
        assert D.kl_divergence(D.Normal(0.0, 1.0), q).item() == base.item()
    finally:
        from minigrad.distributions import kl as _kl

        del _kl._KL_REGISTRY[MyNormal, D.Normal]
        _kl._KL_MEMOIZE.clear()
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Normal and q type "
                                                  "Laplace"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Laplace(0.0, 1.0))
    with pytest.raises(TypeError, match="Expected type_p to be a Distribution subclass"):
        D.register_kl(int, D.Normal)
    with pytest.raises(NotImplementedError, match="reinterpreted_batch_ndims"):
        loc = mg.zeros(2, 3)
        D.kl_divergence(D.Independent(D.Normal(loc, 1.0), 1), D.Independent(D.Normal(loc, 1.0), 2))


# -- rsample: pathwise gradients with fixed noise ----------------------------------------------------------------
RSAMPLE = {
    "Normal": (lambda dm, a, b: dm.Normal(a, b), [_LOC, _SCALE]),
    "Laplace": (lambda dm, a, b: dm.Laplace(a, b), [_LOC, _SCALE]),
    "Cauchy": (lambda dm, a, b: dm.Cauchy(a, b), [_LOC, _SCALE]),
    "Gumbel": (lambda dm, a, b: dm.Gumbel(a, b), [_LOC, _SCALE]),
    "LogNormal": (lambda dm, a, b: dm.LogNormal(a, b), [_LOC, _SCALE]),
    "Exponential": (lambda dm, a: dm.Exponential(a), [_SCALE]),
    "Uniform": (lambda dm, a, b: dm.Uniform(a, b), [_LOW, _HIGH]),
    "MVN(covariance_matrix)": (lambda dm, a, b: dm.MultivariateNormal(a, covariance_matrix=b @ b.mT + 0.5),
                               [_MVN_LOC, _MVN_A]),
    "MVN(precision_matrix)": (lambda dm, a, b: dm.MultivariateNormal(a, precision_matrix=b @ b.mT + 0.5),
                              [_MVN_LOC, _MVN_A]),
    "MVN(scale_tril)": (lambda dm, a, b: dm.MultivariateNormal(a, scale_tril=b.tril()), [_MVN_LOC, _MVN_A]),
    "LowRankMVN": (lambda dm, a, w, d: dm.LowRankMultivariateNormal(a, w, d),
                   [_MVN_LOC, RNG.standard_normal((_N, 2)), RNG.uniform(0.5, 1.5, (2, _N))]),
    "Independent(Normal)": (lambda dm, a, b: dm.Independent(dm.Normal(a, b), 2), [_LOC, _SCALE]),
    "ContinuousBernoulli": (lambda dm, a: dm.ContinuousBernoulli(logits=a), [_LOC]),
    "HalfNormal": (lambda dm, a: dm.HalfNormal(a), [_SCALE]),
    "HalfCauchy": (lambda dm, a: dm.HalfCauchy(a), [_SCALE]),
    "Pareto": (lambda dm, a, b: dm.Pareto(a, b), [_SCALE, _SCALE2]),
    "RelaxedBernoulli": (lambda dm, a, t: dm.RelaxedBernoulli(t, logits=a), [_LOC, np.array(0.5)]),
    "RelaxedOneHotCategorical": (lambda dm, a, t: dm.RelaxedOneHotCategorical(t, probs=a),
                                 [RNG.uniform(0.1, 1.0, (2, _K)), np.array(0.5)]),
}


@pytest.mark.parametrize("name", sorted(RSAMPLE))
def test_rsample_pathwise_gradcheck(name: str):
    """With the noise fixed by the seed, d rsample / d parameters equals finite differences."""
    make, arrays = RSAMPLE[name]

    def fn(*params):
        mg.manual_seed(7)
        return make(D, *params).rsample((3,))

    assert mg.gradcheck(fn, [_mg(a) for a in arrays])


def _noise(backend, shape, kind):
    """The noise rsample draws first after manual_seed(7): standard normal or uniform, float64."""
    mg.manual_seed(7)
    draw = mg.randn if kind == "normal" else mg.rand
    return draw(*shape, dtype="float64", backend=backend).numpy()


# PyTorch's reparameterisations written out with the same noise (eps ~ N(0, 1) or u ~ U[0, 1) as minigrad draws it)
PATHWISE = {
    "Normal": ("normal", lambda loc, scale, eps: loc + eps * scale),
    "Laplace": ("uniform", lambda loc, scale, u: (lambda v: loc - scale * v.sign() * torch.log1p(-v.abs()))(
        u * (1 - (np.finfo(float).eps - 1)) + (np.finfo(float).eps - 1))),
    "Cauchy": ("uniform", lambda loc, scale, u: loc + torch.tan(math.pi * (u - 0.5)) * scale),
    "Gumbel": ("uniform", lambda loc, scale, u: loc - scale * torch.log(-torch.log(
        u * (1 - np.finfo(float).eps - np.finfo(float).tiny) + np.finfo(float).tiny))),
    "Uniform": ("uniform", lambda low, high, u: low + u * (high - low)),
    "Exponential": ("uniform", lambda rate, u: -torch.log1p(-u) / rate),
    "MVN(scale_tril)": ("normal", lambda loc, a, eps: loc + (a.tril() @ eps.unsqueeze(-1)).squeeze(-1)),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(PATHWISE))
def test_rsample_like_torch_with_same_noise(name: str, backend: str):
    """rsample = PyTorch's transformation of the same noise, and so are its gradients (pathwise derivatives)."""
    kind, formula = PATHWISE[name]
    make, arrays = RSAMPLE[name]
    params = [_mg(a, backend) for a in arrays]
    mg.manual_seed(7)
    sample = make(D, *params).rsample((5,))
    noise = torch.tensor(_noise(backend, sample.shape, kind))
    tparams = [_t(a) for a in arrays]
    tsample = formula(*tparams, noise)
    np.testing.assert_allclose(sample.numpy(), tsample.detach().numpy(), rtol=1e-12, atol=1e-12)
    weight = RNG.standard_normal(sample.shape)
    grads = mg.grad((sample * mg.tensor(weight, backend=backend)).sum(), params)
    tgrads = torch.autograd.grad((tsample * torch.tensor(weight)).sum(), tparams)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-10, atol=1e-12)


def test_sample_is_outside_the_graph_rsample_inside():
    loc = mg.zeros(3, dtype="float64", requires_grad=True)
    d = D.Normal(loc, 1.0)
    assert not d.sample((2,)).requires_grad
    assert d.rsample((2,)).requires_grad
    assert not D.Bernoulli(probs=mg.full((3,), 0.5, requires_grad=True)).has_rsample
    with pytest.raises(NotImplementedError):
        D.Bernoulli(probs=mg.full((3,), 0.5)).rsample()


# -- shapes ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_shapes_like_torch(case: Case, sample_shape):
    """batch_shape, event_shape, sample/rsample shapes and dtypes, and expand, as PyTorch's."""
    params = [_mg(a) for a in case.params] + [_mg(a, grad=False) for a in case.consts]
    tparams = [_t(a) for a in case.params] + [_t(a, grad=False) for a in case.consts]
    d, td = case.make(D, *params), case.make(torch.distributions, *tparams)
    assert d.batch_shape == tuple(td.batch_shape) and d.event_shape == tuple(td.event_shape)
    assert d.has_rsample == td.has_rsample and d.has_enumerate_support == td.has_enumerate_support
    s, ts = d.sample(sample_shape), td.sample(sample_shape)
    assert s.shape == tuple(ts.shape) and str(s.dtype) == str(ts.dtype).replace("torch.", "")
    if d.has_rsample:
        assert d.rsample(sample_shape).shape == tuple(td.rsample(sample_shape).shape)
    big = (7, *d.batch_shape)
    e, te = d.expand(big), td.expand(big)
    assert e.batch_shape == tuple(te.batch_shape) and e.event_shape == tuple(te.event_shape)
    assert e.sample(sample_shape).shape == tuple(te.sample(sample_shape).shape)
    value = _mg(case.value, grad=False)
    np.testing.assert_allclose(e.log_prob(value[:1]).numpy(), te.log_prob(_t(case.value[:1], grad=False)).detach()
                               .numpy(), rtol=1e-10, atol=1e-12)
    if d.has_enumerate_support:
        for expand in (True, False):
            support, tsupport = d.enumerate_support(expand), td.enumerate_support(expand)
            np.testing.assert_array_equal(support.numpy(), tsupport.numpy())
            assert str(support.dtype) == str(tsupport.dtype).replace("torch.", "")


def test_scalar_parameters_and_default_dtype():
    """Numbers give batch_shape () and float32 (the default dtype), as PyTorch's; a number beside a tensor takes
    the tensor's dtype."""
    d = D.Normal(0.0, 1.0)
    assert d.batch_shape == () and d.loc.dtype == mg.float32
    assert d.sample((4,)).shape == (4,) and d.sample((4,)).dtype == mg.float32
    d = D.Normal(mg.zeros(3, dtype="float64"), 2.0)
    assert d.scale.dtype == mg.float64 and d.batch_shape == (3,)
    assert D.Exponential(2.0).batch_shape == () and D.Bernoulli(0.3).batch_shape == ()


# -- sample statistics -----------------------------------------------------------------------------------------
N_SAMPLES = 40_000
Z = 5.0  # tolerance in standard errors (fixed seeds: deterministic, and a 5-sigma miss would be a real bug)


def _check_mean_var(samples: np.ndarray, mean: np.ndarray, var: np.ndarray):
    """Sample mean and variance within Z standard errors: sqrt(var / n) and sqrt((m4 - var²) / n), with the
    fourth central moment m4 estimated from the samples."""
    n = samples.shape[0]
    assert np.all(np.abs(samples.mean(0) - mean) <= Z * np.sqrt(var / n)), (samples.mean(0), mean)
    centred = samples - samples.mean(0)
    m4 = (centred**4).mean(0)
    assert np.all(np.abs(samples.var(0) - var) <= Z * np.sqrt(np.maximum(m4 - var**2, 0) / n)), (samples.var(0), var)


def _f(x, backend):
    return mg.tensor(np.asarray(x, dtype=np.float64), backend=backend)


STAT_CASES = {
    "Normal": lambda b: D.Normal(_f([0.5, -2.0], b), _f([1.0, 0.3], b)),
    "Laplace": lambda b: D.Laplace(_f([0.5, -2.0], b), _f([1.0, 0.3], b)),
    "Gumbel": lambda b: D.Gumbel(_f([0.5, -2.0], b), _f([1.0, 0.3], b)),
    "LogNormal": lambda b: D.LogNormal(_f([0.1, -0.5], b), _f([0.4, 0.3], b)),
    "Exponential": lambda b: D.Exponential(_f([0.5, 3.0], b)),
    "Uniform": lambda b: D.Uniform(_f([-1.0, 2.0], b), _f([1.0, 2.5], b)),
    "Bernoulli": lambda b: D.Bernoulli(probs=_f([0.1, 0.5, 0.97], b)),
    "OneHotCategorical": lambda b: D.OneHotCategorical(probs=_f([0.1, 0.0, 0.6, 0.3], b)),
    "ContinuousBernoulli": lambda b: D.ContinuousBernoulli(probs=_f([0.1, 0.5, 0.8], b)),
    "LowRankMVN": lambda b: D.LowRankMultivariateNormal(_f([1.0, -1.0, 0.0], b), _f([[1.0], [0.5], [-0.5]], b),
                                                        _f([0.5, 1.0, 0.2], b)),
    "HalfNormal": lambda b: D.HalfNormal(_f([0.5, 2.0], b)),
    "Pareto": lambda b: D.Pareto(_f([0.5, 2.0], b), _f([4.5, 6.0], b)),
    "Geometric": lambda b: D.Geometric(probs=_f([0.1, 0.5, 0.97], b)),
    "MixtureSameFamily": lambda b: D.MixtureSameFamily(D.Categorical(probs=_f([0.3, 0.7], b)),
                                                       D.Normal(_f([-2.0, 1.0], b), _f([0.5, 1.0], b))),
    "RelaxedBernoulli": lambda b: D.LogitRelaxedBernoulli(_f(0.8, b), probs=_f([0.3, 0.6], b)),
    "MVN": lambda b: D.MultivariateNormal(_f([1.0, -1.0, 0.0], b),
                                          covariance_matrix=_f(_MVN_A[0] @ _MVN_A[0].T + _EYE, b)),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(STAT_CASES))
def test_sample_moments(name: str, backend: str):
    """Sample mean and variance (and MVN's covariance) within Z standard errors of the distribution's."""
    mg.manual_seed(2026)
    d = STAT_CASES[name](backend)
    samples = d.sample((N_SAMPLES,))
    assert samples.backend == backend
    samples = samples.numpy()
    if name == "RelaxedBernoulli":  # the logistic of scale 1/temperature: mean logit(p)/t, variance pi²/(3t²)
        t, p = 0.8, np.array([0.3, 0.6])
        mean, var = np.log(p / (1 - p)) / t, np.full(2, math.pi**2 / 3 / t**2)
    else:
        mean, var = d.mean.numpy(), d.variance.numpy()
    _check_mean_var(samples, mean, var)
    if name in ("MVN", "LowRankMVN"):  # each covariance entry within Z standard errors of the product's mean
        cov = d.covariance_matrix.numpy()
        c = samples - samples.mean(0)
        prod = c[:, :, None] * c[:, None, :]
        se = prod.std(0) / math.sqrt(N_SAMPLES)
        np.testing.assert_array_less(np.abs(prod.mean(0) - cov), Z * se)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sample_moments_on_each_backend(backend: str):
    """The samplers draw on the parameters' backend: Normal and Categorical frequencies there."""
    mg.manual_seed(3)
    loc = mg.tensor([0.5, -2.0], dtype="float64", backend=backend)
    d = D.Normal(loc, mg.tensor([1.0, 0.3], dtype="float64", backend=backend))
    s = d.sample((N_SAMPLES,))
    assert s.backend == backend
    _check_mean_var(s.numpy(), d.mean.numpy(), d.variance.numpy())
    probs = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])
    c = D.Categorical(probs=mg.tensor(probs, backend=backend)).sample((N_SAMPLES,))
    assert c.backend == backend and c.dtype == mg.int64
    freq = np.stack([(c.numpy() == k).mean(0) for k in range(4)], -1)
    np.testing.assert_array_less(np.abs(freq - probs), Z * np.sqrt(probs * (1 - probs) / N_SAMPLES) + 1e-12)
    assert (c.numpy()[:, 0] != 1).all()  # a category of probability 0 is never drawn


@pytest.mark.parametrize("name", ["Cauchy", "Normal", "Gumbel", "Laplace", "Exponential", "LogNormal"])
def test_samples_follow_the_cdf(name: str):
    """The fraction of samples below icdf(q) is q within Z binomial standard errors (Cauchy has no moments)."""
    mg.manual_seed(11)
    loc, scale = mg.tensor([0.3], dtype="float64"), mg.tensor([2.0], dtype="float64")
    d = D.Exponential(scale) if name == "Exponential" else getattr(D, name)(loc, scale)
    samples = d.sample((N_SAMPLES,)).numpy()
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        threshold = d.icdf(mg.tensor([q], dtype="float64")).numpy()
        frac = (samples < threshold).mean()
        assert abs(frac - q) < Z * math.sqrt(q * (1 - q) / N_SAMPLES)


def test_relaxed_samples_approach_the_discrete_ones():
    """At a low temperature RelaxedBernoulli samples are near 0 or 1 with P(near 1) = probs."""
    mg.manual_seed(5)
    probs = np.array([0.2, 0.7])
    s = D.RelaxedBernoulli(mg.tensor(0.05, dtype="float64"), probs=mg.tensor(probs)).sample((N_SAMPLES,)).numpy()
    assert ((s > 0) & (s < 1)).all()
    np.testing.assert_array_less(np.abs((s > 0.5).mean(0) - probs), Z * np.sqrt(probs * (1 - probs) / N_SAMPLES))
    r = D.RelaxedOneHotCategorical(mg.tensor(0.5, dtype="float64"), probs=mg.tensor([0.2, 0.3, 0.5])).sample((100,))
    np.testing.assert_allclose(r.numpy().sum(-1), 1.0, rtol=1e-6)


def test_sampling_is_reproducible_after_manual_seed():
    d = D.Normal(mg.zeros(3), 1.0)
    mg.manual_seed(0)
    a = d.sample((4,)).numpy()
    mg.manual_seed(0)
    np.testing.assert_array_equal(a, d.sample((4,)).numpy())


# -- transforms ------------------------------------------------------------------------------------------------
def _transforms(T, loc, scale):  # noqa: N803 - the module
    return {
        "exp": T.ExpTransform(),
        "affine": T.AffineTransform(loc, scale),
        "affine_number": T.AffineTransform(0.5, -2.0),
        "sigmoid": T.SigmoidTransform(),
        "softplus": T.SoftplusTransform(),
        "tanh": T.TanhTransform(),
        "compose": T.ComposeTransform([T.TanhTransform(), T.AffineTransform(loc, scale)]),
        "inverse": T.ExpTransform().inv,
    }


@pytest.mark.parametrize("name", ["exp", "affine", "affine_number", "sigmoid", "softplus", "tanh", "compose",
                                  "inverse"])
def test_transforms_like_torch(name: str):
    x_np = RNG.uniform(0.1, 0.9, (4, 3)) if name == "inverse" else RNG.standard_normal((4, 3))
    loc, scale = RNG.standard_normal(3), RNG.uniform(0.5, 2.0, 3)
    ps, tps = [_mg(x_np), _mg(loc), _mg(scale)], [_t(x_np), _t(loc), _t(scale)]
    t = _transforms(D.transforms, *ps[1:])[name]
    tt = _transforms(torch.distributions.transforms, *tps[1:])[name]
    x, tx = ps[0], tps[0]
    y, ty = t(x), tt(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(t.inv(y).numpy(), tt.inv(ty).detach().numpy(), rtol=1e-10, atol=1e-12)
    ladj, tladj = t.log_abs_det_jacobian(x, y), tt.log_abs_det_jacobian(tx, ty)
    np.testing.assert_allclose(ladj.numpy(), tladj.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert t.sign == tt.sign if isinstance(tt.sign, int) else np.array_equal(t.sign.numpy(), tt.sign.detach().numpy())
    weight = RNG.standard_normal(ladj.shape)
    out, tout = (y + ladj) * mg.tensor(weight), (ty + tladj) * torch.tensor(weight)
    grads = mg.grad(out.sum(), ps, allow_unused=True)
    tgrads = torch.autograd.grad(tout.sum(), tps, allow_unused=True)
    for g, tg, p in zip(grads, tgrads, ps):
        expected = np.zeros(p.shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(np.zeros(p.shape) if g is None else g.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_tanh_squashed_normal_like_torch():
    """The SAC policy: TransformedDistribution(Normal, [TanhTransform, AffineTransform]) log_prob and rsample."""
    loc, scale = RNG.standard_normal((2, 3)), RNG.uniform(0.3, 1.0, (2, 3))
    value = np.tanh(RNG.standard_normal((5, 2, 3))) * 2.0 + 1.0

    def make(Dm, a, b):  # noqa: N803
        T = Dm.transforms  # noqa: N806
        return Dm.TransformedDistribution(Dm.Normal(a, b), [T.TanhTransform(), T.AffineTransform(1.0, 2.0)])

    ps, tps = [_mg(loc), _mg(scale)], [_t(loc), _t(scale)]
    d, td = make(D, *ps), make(torch.distributions, *tps)
    assert d.batch_shape == tuple(td.batch_shape) and repr(d.support) == repr(td.support)
    lp, tlp = d.log_prob(_mg(value, grad=False)), td.log_prob(_t(value, grad=False))
    np.testing.assert_allclose(lp.numpy(), tlp.detach().numpy(), rtol=1e-9)
    grads = mg.grad(lp.sum(), ps)
    tgrads = torch.autograd.grad(tlp.sum(), tps)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-9)
    assert mg.gradcheck(lambda a, b: make(D, a, b).log_prob(_mg(value, grad=False)), ps)


def test_transform_cache_and_equality():
    t = D.transforms.ExpTransform().with_cache(1)
    x = mg.tensor([0.3, 1.0], dtype="float64")
    y = t(x)
    assert t.inv(y) is x  # cached: the exact input comes back
    assert D.transforms.ExpTransform() == D.transforms.ExpTransform()
    assert D.transforms.AffineTransform(1.0, 2.0) == D.transforms.AffineTransform(1.0, 2.0)
    assert D.transforms.AffineTransform(1.0, 2.0) != D.transforms.AffineTransform(1.0, 3.0)
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        D.transforms.ExpTransform(cache_size=2)


# -- validation ------------------------------------------------------------------------------------------------
def test_invalid_parameters_raise_like_torch():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(2,\)\) of distribution "
                                         r"Normal\(loc: \(2,\), scale: \(2,\)\) to satisfy the constraint "
                                         r"GreaterThan\(lower_bound=0.0\)"):
        D.Normal(mg.zeros(2), mg.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="Expected parameter loc"):
        D.Normal(mg.tensor([math.nan]), 1.0)
    with pytest.raises(ValueError, match="constraint Interval"):
        D.Bernoulli(probs=mg.tensor([1.5]))
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        D.Bernoulli(probs=mg.tensor([0.5]), logits=mg.tensor([0.0]))
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        D.Categorical()
    with pytest.raises(ValueError, match="`probs` parameter must be at least one-dimensional."):
        D.Categorical(probs=mg.tensor(1.0))
    with pytest.raises(ValueError, match="constraint Simplex"):
        D.Categorical(probs=mg.tensor([0.5, -0.1, 0.6]))
    with pytest.raises(ValueError, match="Uniform is not defined when low >= high"):
        D.Uniform(mg.tensor([0.0, 1.0]), mg.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
        D.MultivariateNormal(mg.zeros(2))
    with pytest.raises(ValueError, match="Exactly one of"):
        D.MultivariateNormal(mg.zeros(2), covariance_matrix=mg.eye(2), scale_tril=mg.eye(2))
    with pytest.raises(ValueError, match="loc must be at least one-dimensional."):
        D.MultivariateNormal(mg.tensor(0.0), covariance_matrix=mg.eye(1))
    with pytest.raises(ValueError, match="covariance_matrix of shape \\(3, 3\\) does not match loc of shape \\(2,\\)"):
        D.MultivariateNormal(mg.zeros(2), covariance_matrix=mg.eye(3))
    with pytest.raises(ValueError, match="constraint PositiveDefinite"):
        D.MultivariateNormal(mg.zeros(2), covariance_matrix=mg.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="cov_factor must be a batch of matrices with shape 3 x m"):
        D.LowRankMultivariateNormal(mg.zeros(3), mg.zeros(2, 1), mg.ones(3))
    with pytest.raises(ValueError, match="cov_diag must be a batch of vectors with shape \\(3,\\)"):
        D.LowRankMultivariateNormal(mg.zeros(3), mg.zeros(3, 1), mg.ones(2))
    with pytest.raises(ValueError, match="Incompatible batch shapes"):
        D.LowRankMultivariateNormal(mg.zeros(2, 3), mg.zeros(4, 3, 1), mg.ones(3))
    with pytest.raises(ValueError, match="constraint IndependentConstraint\\(GreaterThan"):
        D.LowRankMultivariateNormal(mg.zeros(3), mg.zeros(3, 1), mg.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="constraint LowerCholesky"):
        D.MultivariateNormal(mg.zeros(2), scale_tril=mg.tensor([[1.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="Expected reinterpreted_batch_ndims <= "
                                         "len\\(base_distribution.batch_shape\\), actual 2 vs 1"):
        D.Independent(D.Normal(mg.zeros(3), 1.0), 2)
    with pytest.raises(ValueError, match="constraint GreaterThan"):
        D.Exponential(mg.tensor([0.0]))
    # validate_args=False skips the checks, as in PyTorch
    assert D.Normal(mg.zeros(1), mg.tensor([-1.0]), validate_args=False).scale.item() == -1.0


def test_invalid_values_raise_like_torch():
    with pytest.raises(ValueError, match=r"Expected value argument \(Tensor of shape \(2,\)\) to be within the "
                                         r"support \(GreaterThanEq\(lower_bound=0.0\)\) of the distribution"):
        D.Exponential(mg.ones(2)).log_prob(mg.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="support \\(Boolean\\(\\)\\)"):
        D.Bernoulli(probs=mg.full((2,), 0.5)).log_prob(mg.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="IntegerInterval\\(lower_bound=0, upper_bound=2\\)"):
        D.Categorical(probs=mg.ones(3)).log_prob(mg.tensor([3]))
    with pytest.raises(ValueError, match="support \\(OneHot\\(\\)\\)"):
        D.OneHotCategorical(probs=mg.ones(3)).log_prob(mg.tensor([1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="The right-most size of value must match event_shape: \\(4,\\) vs \\(3,\\)"):
        D.MultivariateNormal(mg.zeros(3), scale_tril=mg.eye(3)).log_prob(mg.zeros(4))
    with pytest.raises(ValueError, match="Value is not broadcastable with batch_shape\\+event_shape: \\(4,\\) vs "
                                         "\\(3,\\)"):
        D.Normal(mg.zeros(3), 1.0).log_prob(mg.zeros(4))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        D.Normal(0.0, 1.0).log_prob(0.5)
    with pytest.raises(ValueError, match="support \\(Interval"):
        D.Uniform(0.0, 1.0).log_prob(mg.tensor(2.0))
    # without validation the value is used as given: PyTorch's -inf outside the support
    assert D.Uniform(0.0, 1.0, validate_args=False).log_prob(mg.tensor(2.0)).item() == -math.inf


def test_set_default_validate_args():
    D.Distribution.set_default_validate_args(False)
    try:
        assert D.Normal(mg.zeros(1), mg.tensor([-1.0])).scale.item() == -1.0
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(mg.zeros(1), mg.tensor([-1.0]))
    with pytest.raises(ValueError, match="expected True or False"):
        D.Distribution.set_default_validate_args(1.5)


def test_constraints_like_torch():
    c, tc = constraints, torch.distributions.constraints
    values = np.array([[0.2, 0.8, 0.0], [1.0, 0.0, 0.0], [0.5, 0.6, -0.1], [math.nan, 0.5, 0.5]])
    pairs = [(c.real, tc.real), (c.positive, tc.positive), (c.nonnegative, tc.nonnegative),
             (c.unit_interval, tc.unit_interval), (c.boolean, tc.boolean), (c.simplex, tc.simplex),
             (c.one_hot, tc.one_hot), (c.real_vector, tc.real_vector), (c.interval(0.0, 0.5), tc.interval(0.0, 0.5)),
             (c.half_open_interval(0.0, 1.0), tc.half_open_interval(0.0, 1.0)),
             (c.integer_interval(0, 1), tc.integer_interval(0, 1)), (c.greater_than(0.1), tc.greater_than(0.1)),
             (c.independent(c.positive, 1), tc.independent(tc.positive, 1))]
    for mine, theirs in pairs:
        np.testing.assert_array_equal(mine.check(mg.tensor(values)).numpy(), theirs.check(torch.tensor(values)).numpy())
        assert repr(mine) == repr(theirs) and mine.event_dim == theirs.event_dim
        assert mine.is_discrete == theirs.is_discrete
    mats = np.stack([np.eye(2), [[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.5, 1.0]], [[2.0, 0.1], [0.1, 1.0]]])
    for mine, theirs in [(c.positive_definite, tc.positive_definite), (c.lower_cholesky, tc.lower_cholesky),
                         (c.symmetric, tc.symmetric), (c.lower_triangular, tc.lower_triangular)]:
        np.testing.assert_array_equal(mine.check(mg.tensor(mats)).numpy(), theirs.check(torch.tensor(mats)).numpy())
    assert c.is_dependent(c.dependent) and not c.is_dependent(c.real)
    with pytest.raises(ValueError, match="Cannot determine validity of dependent constraint"):
        c.dependent.check(mg.zeros(1))


def test_supports_and_arg_constraints_like_torch():
    for case in CASES:
        params = [_mg(a) for a in case.params] + [_mg(a, grad=False) for a in case.consts]
        tparams = [_t(a) for a in case.params] + [_t(a, grad=False) for a in case.consts]
        d, td = case.make(D, *params), case.make(torch.distributions, *tparams)
        if case.name not in ("Uniform", "Pareto"):  # their supports hold tensors, whose reprs differ
            assert repr(d.support) == repr(td.support), case.name
        assert sorted(d.arg_constraints) == sorted(td.arg_constraints), case.name


def test_independent_and_repr():
    base = D.Normal(mg.zeros(4, 3), mg.ones(4, 3))
    d = D.Independent(base, 1)
    assert (d.batch_shape, d.event_shape) == ((4,), (3,))
    assert repr(d) == "Independent(Normal(loc: (4, 3), scale: (4, 3)), 1)"
    assert repr(D.Normal(0.0, 1.0)).startswith("Normal(loc: ")
    with pytest.raises(NotImplementedError, match="Enumeration over cartesian product is not implemented"):
        D.Independent(D.Bernoulli(mg.full((3,), 0.5)), 1).enumerate_support()


def test_on_the_cupy_backend(cupy_device):
    """log_prob, entropy, cdf and icdf of every case, every KL pair, and samples, on the CuPy backend (its CPU
    stand-in here)."""
    for case in CASES:
        for method in ("log_prob", "entropy", "cdf", "icdf"):
            if method in case.methods:
                _compare_with_torch(case, method, cupy_device)
    for name in sorted(KL_CASES):
        _compare_kl_with_torch(name, cupy_device)
    mg.manual_seed(0)
    d = D.MultivariateNormal(_f([1.0, -1.0, 0.0], cupy_device), covariance_matrix=_f(_MVN_A[0] @ _MVN_A[0].T + _EYE,
                                                                                        cupy_device))
    s = d.rsample((N_SAMPLES,))
    assert s.backend == cupy_device
    _check_mean_var(s.numpy(), d.mean.numpy(), d.variance.numpy())
    c = D.Categorical(probs=_f([0.2, 0.0, 0.8], cupy_device)).sample((1000,))
    assert c.backend == cupy_device and set(np.unique(c.numpy())) <= {0, 2}


def test_erfinv_like_torch_and_gradcheck():
    """Normal.icdf's erfinv (minigrad.erfinv) near ±1, where the quantiles of the tails come from."""
    erfinv = mg.erfinv
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 401), [1 - 1e-12, -1 + 1e-15, 1.0, -1.0, 1.5, 0.0]])
    got = erfinv(mg.tensor(y)).numpy()
    want = torch.erfinv(torch.tensor(y)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    assert mg.gradcheck(erfinv, (_mg(RNG.uniform(-0.95, 0.95, 20)),))
    assert mg.gradgradcheck(erfinv, (_mg(RNG.uniform(-0.9, 0.9, 10)),))


def test_lazy_module_and_perplexity():
    assert mg.distributions is D
    d = D.Categorical(probs=mg.tensor([0.25, 0.25, 0.25, 0.25], dtype="float64"))
    np.testing.assert_allclose(d.perplexity().item(), 4.0, rtol=1e-12)


def test_extreme_parameters_like_torch():
    """Large logits, probabilities 0 and 1, and logits exactly 0 (where a |x|-based formula would get the gradient
    wrong): values and gradients as PyTorch's."""
    for make in (lambda dm, x: dm.Bernoulli(logits=x), lambda dm, x: dm.Bernoulli(probs=x.sigmoid()),
                 lambda dm, x: dm.Categorical(logits=x.reshape(2, 3))):
        x_np = np.array([-50.0, 0.0, 50.0, -700.0, 3.0, 0.0])
        value = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 1.0]) if "Bernoulli" in repr(make(D, _mg(x_np))) else \
            np.array([2, 0])
        x, tx = _mg(x_np), _t(x_np)
        d, td = make(D, x), make(torch.distributions, tx)
        for out, tout in ((d.log_prob(_mg(value, grad=False)), td.log_prob(_t(value, grad=False))),
                          (d.entropy(), td.entropy())):
            np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-300)
            weight = RNG.standard_normal(out.shape)
            (g,) = mg.grad((out * mg.tensor(weight)).sum(), [x], retain_graph=True)  # logits are shared
            (tg,) = torch.autograd.grad((tout * torch.tensor(weight)).sum(), [tx], retain_graph=True)
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12, atol=1e-15)  # both round sig'(50) ~ 2e-22
    probs = np.array([[0.0, 0.3, 0.7], [1.0, 0.0, 0.0]])
    d, td = D.Categorical(probs=_mg(probs)), torch.distributions.Categorical(probs=_t(probs))
    np.testing.assert_allclose(d.entropy().numpy(), td.entropy().detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(d.logits.numpy(), td.logits.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_like_torch(backend: str):
    """float32 parameters give float32 results and samples, equal to PyTorch's within float32 rounding."""
    loc, scale, value = _LOC.astype(np.float32), _SCALE.astype(np.float32), _REAL_VALUE.astype(np.float32)
    for name in ("Normal", "Laplace", "Gumbel", "Cauchy"):
        d = getattr(D, name)(mg.tensor(loc, backend=backend), mg.tensor(scale, backend=backend))
        td = getattr(torch.distributions, name)(torch.tensor(loc), torch.tensor(scale))
        lp = d.log_prob(mg.tensor(value, backend=backend))
        assert lp.dtype == mg.float32 and d.rsample((2,)).dtype == mg.float32
        np.testing.assert_allclose(lp.numpy(), td.log_prob(torch.tensor(value)).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(d.icdf(mg.tensor(_PROB.astype(np.float32), backend=backend)).numpy(),
                                   td.icdf(torch.tensor(_PROB.astype(np.float32))).numpy(), rtol=1e-5, atol=1e-5)
    a = _MVN_A.astype(np.float32)
    d = D.MultivariateNormal(mg.tensor(_MVN_LOC.astype(np.float32), backend=backend),
                             scale_tril=mg.tensor(a, backend=backend).tril())
    td = torch.distributions.MultivariateNormal(torch.tensor(_MVN_LOC.astype(np.float32)),
                                                scale_tril=torch.tensor(a).tril())
    v = _MVN_VALUE.astype(np.float32)
    np.testing.assert_allclose(d.log_prob(mg.tensor(v, backend=backend)).numpy(), td.log_prob(torch.tensor(v)).numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["Normal", "MVN(covariance_matrix)", "Categorical(logits)", "Gumbel"])
def test_second_order_gradients(name: str):
    """log_prob is differentiable twice (composites of differentiable ops): gradgradcheck in float64."""
    case = next(c for c in CASES if c.name == name)
    consts = [_mg(a, grad=False) for a in case.consts]
    value = _mg(case.value, grad=False)
    assert mg.gradgradcheck(lambda *ps: case.make(D, *ps, *consts).log_prob(value), [_mg(a) for a in case.params])


# -- biject_to / transform_to and the other transforms ---------------------------------------------------------
def _registry_constraints(c):
    return [c.real, c.positive, c.nonnegative, c.greater_than(1.5), c.greater_than_eq(-1.0), c.less_than(2.0),
            c.unit_interval, c.interval(-1.0, 3.0), c.half_open_interval(0.0, 3.0), c.real_vector, c.simplex,
            c.independent(c.positive, 2), c.lower_cholesky, c.positive_definite]


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("index", range(14))
def test_constraint_registry_like_torch(registry: str, index: int):
    """The same transform as PyTorch's for each constraint: values, inverse, log-abs-det-Jacobian and gradients,
    and its outputs satisfy the constraint."""
    con = _registry_constraints(constraints)[index]
    tcon = _registry_constraints(torch.distributions.constraints)[index]
    try:
        ttransform = getattr(torch.distributions, registry)(tcon)
    except NotImplementedError:
        with pytest.raises(NotImplementedError, match="Cannot transform"):
            getattr(D, registry)(con)
        return
    transform = getattr(D, registry)(con)
    assert repr(transform) == repr(ttransform)
    shape = (4, 3, 3) if con.event_dim == 2 else (4, 3)
    x_np = RNG.standard_normal(shape)
    x, tx = _mg(x_np), _t(x_np)
    y, ty = transform(x), ttransform(tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert bool(con.check(y).all())
    back, tback = transform.inv(y), ttransform.inv(ty)
    np.testing.assert_allclose(back.numpy(), tback.detach().numpy(), rtol=1e-9, atol=1e-10)
    outs, touts = [y], [ty]
    if ttransform.bijective:
        outs.append(transform.log_abs_det_jacobian(x, y))
        touts.append(ttransform.log_abs_det_jacobian(tx, ty))
        np.testing.assert_allclose(outs[-1].numpy(), touts[-1].detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = [RNG.standard_normal(o.shape) for o in outs]
    (g,) = mg.grad(sum((o * mg.tensor(w)).sum() for o, w in zip(outs, weights)), [x])
    (tg,) = torch.autograd.grad(sum((o * torch.tensor(w)).sum() for o, w in zip(touts, weights)), [tx])
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-9, atol=1e-11)


def test_stick_breaking_and_power_transforms():
    """StickBreakingTransform: R^(K-1) onto the K-simplex (shapes as PyTorch's), its Jacobian by finite differences;
    PowerTransform against PyTorch."""
    t = D.transforms.StickBreakingTransform()
    assert t.forward_shape((5, 3)) == (5, 4) and t.inverse_shape((5, 4)) == (5, 3)
    x = _mg(RNG.standard_normal((2, 3)))
    assert mg.gradcheck(lambda v: t.log_abs_det_jacobian(v, t(v)), (x,))
    assert mg.gradcheck(lambda v: t.inv(t(v)), (x,))
    d = D.TransformedDistribution(D.Independent(D.Normal(mg.zeros(3, dtype="float64"), 1.0), 1), [t])
    td = torch.distributions.TransformedDistribution(
        torch.distributions.Independent(torch.distributions.Normal(torch.zeros(3, dtype=torch.float64), 1.0), 1),
        [torch.distributions.transforms.StickBreakingTransform()])
    assert d.event_shape == tuple(td.event_shape) == (4,)
    y = _simplex((5, 4))
    np.testing.assert_allclose(d.log_prob(_mg(y, grad=False)).numpy(), td.log_prob(torch.tensor(y)).numpy(),
                               rtol=1e-9)
    p, tp = D.transforms.PowerTransform(_mg([0.5, 2.0, -1.0])), torch.distributions.transforms.PowerTransform(
        _t([0.5, 2.0, -1.0]))
    v = RNG.uniform(0.2, 3.0, (4, 3))
    for fn in (lambda tr, a: tr(a), lambda tr, a: tr.inv(a), lambda tr, a: tr.log_abs_det_jacobian(a, tr(a))):
        np.testing.assert_allclose(fn(p, _mg(v)).numpy(), fn(tp, _t(v)).detach().numpy(), rtol=1e-12)
    np.testing.assert_array_equal(p.sign.numpy(), tp.sign.detach().numpy())
    with pytest.raises(TypeError, match="Expected constraint to be either a Constraint subclass or instance"):
        D.biject_to.register(int, lambda c: None)


def test_lazy_parameters_first_read_under_no_grad_stay_in_the_graph():
    """sample() reads probs under no_grad; the cached probs still carry the gradient (PyTorch computes lazy
    properties under enable_grad), so a later entropy differentiates through them."""
    x_np = RNG.standard_normal(3)
    x, tx = _mg(x_np), _t(x_np)
    d, td = D.Bernoulli(logits=x), torch.distributions.Bernoulli(logits=tx)
    d.sample((2,))
    td.sample((2,))
    assert d.probs.requires_grad
    (g,) = mg.grad(d.entropy().sum(), [x])
    (tg,) = torch.autograd.grad(td.entropy().sum(), [tx])
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12)
