"""The random in-place fills (random_, exponential_, geometric_, log_normal_, cauchy_, bernoulli_,
Tensor.bernoulli) and multinomial: checked statistically with fixed seeds (moments against standard errors,
chi-square against the exact probabilities; bounds from the sample size, far in the tails), not against
PyTorch's streams, which minigrad does not reproduce; their autograd rules, reproducibility with ``generator=``,
and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad.errors import InplaceError

N = 200_000
Z = 6.0  # standard errors: a correct sampler fails one of these checks with probability ~1e-9


def _generator(seed: int = 0) -> mg.Generator:
    return mg.Generator().manual_seed(seed)


def _assert_mean(samples: np.ndarray, mean: float, std: float) -> None:
    """The sample mean within Z standard errors of ``mean`` (``std``: the distribution's)."""
    error = std / math.sqrt(samples.size)
    assert abs(samples.mean() - mean) < Z * error, (samples.mean(), mean, error)


def _chi_square_bound(dof: int) -> float:
    """An upper bound of the chi-square statistic with ``dof`` degrees of freedom that a correct sampler exceeds
    with probability about 1e-9 (Wilson-Hilferty: the cube root of chi2/dof is about normal)."""
    z = 6.0
    return dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3


def _assert_frequencies(draws: np.ndarray, probabilities: np.ndarray) -> None:
    """Chi-square of the counts of 0 .. k-1 in ``draws`` against ``probabilities`` (which sum to 1)."""
    counts = np.bincount(draws.reshape(-1), minlength=len(probabilities))
    assert counts.size == len(probabilities), "a value outside the support was drawn"
    expected = probabilities * draws.size
    assert np.all(expected[probabilities > 0] > 20), "too few samples per bin for the chi-square check"
    assert not np.any(counts[probabilities == 0]), "a value of probability zero was drawn"
    keep = probabilities > 0
    statistic = float((((counts - expected) ** 2)[keep] / expected[keep]).sum())
    assert statistic < _chi_square_bound(int(keep.sum()) - 1), statistic


# -- distributions --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exponential_moments(dtype):
    lambd = 2.5
    x = mg.empty(N, dtype=dtype).exponential_(lambd, generator=_generator(1)).numpy().astype(np.float64)
    assert x.min() >= 0
    _assert_mean(x, 1 / lambd, 1 / lambd)
    # the variance: (x - mean)^2 has mean 1/lambd^2 and standard deviation sqrt(8)/lambd^2
    _assert_mean((x - 1 / lambd) ** 2, 1 / lambd ** 2, math.sqrt(8) / lambd ** 2)
    # the CDF at the median: P(x < ln 2 / lambd) = 1/2
    _assert_mean((x < math.log(2) / lambd).astype(float), 0.5, 0.5)


def test_geometric_frequencies():
    p = 0.3
    x = mg.empty(N, dtype="float64").geometric_(p, generator=_generator(2)).numpy()
    assert np.all(x == np.round(x)) and x.min() >= 1
    k = np.arange(1, 21)
    pmf = (1 - p) ** (k - 1) * p
    # bins 1 .. 20 and the tail (> 20) together
    draws = np.minimum(x.astype(np.int64), 21) - 1
    _assert_frequencies(draws, np.append(pmf, 1 - pmf.sum()))
    ints = mg.zeros(1000, dtype="int64").geometric_(0.5, generator=_generator(3))
    assert ints.dtype == np.int64 and ints.numpy().min() >= 1


def test_log_normal_moments():
    mean, std = 0.5, 0.4
    x = mg.empty(N, dtype="float64").log_normal_(mean, std, generator=_generator(4)).numpy()
    assert x.min() > 0
    logs = np.log(x)
    _assert_mean(logs, mean, std)
    _assert_mean((logs - mean) ** 2, std ** 2, math.sqrt(2) * std ** 2)
    default = mg.empty(N, dtype="float64").log_normal_(generator=_generator(5)).numpy()
    _assert_mean(np.log(default), 1.0, 2.0)  # PyTorch's defaults: mean 1, std 2


def test_cauchy_quantiles():
    median, sigma = 1.0, 2.0
    x = mg.empty(N, dtype="float64").cauchy_(median, sigma, generator=_generator(6)).numpy()
    # P(x < median) = 1/2, P(|x - median| < sigma) = 1/2, P(x < median + sigma tan(pi (0.9 - 1/2))) = 0.9
    _assert_mean((x < median).astype(float), 0.5, 0.5)
    _assert_mean((np.abs(x - median) < sigma).astype(float), 0.5, 0.5)
    q90 = median + sigma * math.tan(math.pi * 0.4)
    _assert_mean((x < q90).astype(float), 0.9, math.sqrt(0.09))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8"])
def test_random_bounds_and_frequencies(dtype):
    x = mg.zeros(N // 4, dtype=dtype).random_(3, 9, generator=_generator(7)).numpy()
    assert x.dtype == np.dtype(dtype)
    _assert_frequencies(x.astype(np.int64), np.array([0, 0, 0] + [1 / 6] * 6))
    y = mg.zeros(N // 4, dtype=dtype).random_(5, generator=_generator(8)).numpy()
    _assert_frequencies(y.astype(np.int64), np.full(5, 0.2))


def test_random_without_bounds():
    f32 = mg.zeros(N, dtype="float32").random_(generator=_generator(9)).numpy().astype(np.float64)
    assert np.all(f32 == np.round(f32)) and f32.min() >= 0 and f32.max() <= 2 ** 24
    _assert_mean(f32 / 2 ** 24, 0.5, math.sqrt(1 / 12))
    i64 = mg.zeros(N, dtype="int64").random_(generator=_generator(10)).numpy()
    assert i64.min() >= 0
    _assert_mean(i64 / 2.0 ** 63, 0.5, math.sqrt(1 / 12))
    flags = mg.zeros(N, dtype="bool").random_(generator=_generator(11)).numpy()
    _assert_frequencies(flags.astype(np.int64), np.array([0.5, 0.5]))


def test_bernoulli_frequencies():
    x = mg.zeros(N, dtype="float64").bernoulli_(0.3, generator=_generator(12)).numpy()
    assert set(np.unique(x)) <= {0.0, 1.0}
    _assert_mean(x, 0.3, math.sqrt(0.21))
    p = np.tile([0.1, 0.5, 0.9, 0.0, 1.0], N // 5)
    y = mg.zeros(N, dtype="float32").bernoulli_(mg.tensor(p), generator=_generator(13)).numpy()
    for i, q in enumerate([0.1, 0.5, 0.9, 0.0, 1.0]):
        _assert_mean(y[i::5].astype(np.float64), q, math.sqrt(q * (1 - q)) + 1e-12)
    z = mg.tensor(p).bernoulli(generator=_generator(14)).numpy()
    _assert_mean(z[2::5], 0.9, 0.3)
    w = mg.zeros(N, dtype="float64").bernoulli(0.75, generator=_generator(15)).numpy()
    _assert_mean(w, 0.75, math.sqrt(0.1875))


def test_multinomial_with_replacement():
    weights = np.array([1.0, 0.0, 3.0, 2.0, 4.0])
    draws = mg.multinomial(mg.tensor(weights), N, replacement=True, generator=_generator(16))
    assert draws.dtype == np.int64 and draws.shape == (N,)
    _assert_frequencies(draws.numpy(), weights / weights.sum())
    rows = mg.tensor(np.stack([weights, weights[::-1]])).multinomial(N // 2, True, generator=_generator(17)).numpy()
    assert rows.shape == (2, N // 2)
    _assert_frequencies(rows[1], weights[::-1] / weights.sum())


def test_multinomial_without_replacement():
    """No category twice; the first draw in proportion to the weights, the second as a draw from the rest
    (P(second = j) = sum_i w_i / W * w_j / (W - w_i))."""
    weights = np.array([1.0, 0.0, 3.0, 2.0, 4.0])
    total = weights.sum()
    trials = N // 4
    draws = mg.multinomial(mg.tensor(np.tile(weights, (trials, 1))), 3, generator=_generator(18)).numpy()
    assert draws.shape == (trials, 3)
    assert np.all(np.sort(draws, 1)[:, 1:] != np.sort(draws, 1)[:, :-1])
    _assert_frequencies(draws[:, 0], weights / total)
    second = np.array([sum(weights[i] / total * weights[j] / (total - weights[i]) for i in range(5) if i != j)
                       for j in range(5)])
    _assert_frequencies(draws[:, 1], second)
    everything = mg.multinomial(mg.tensor(weights), 4, generator=_generator(19)).numpy()
    assert sorted(everything.tolist()) == [0, 2, 3, 4]


# -- reproducibility, autograd and errors --------------------------------------------------------------------
FILLS = [
    ("random_", lambda t, g: t.random_(0, 10, generator=g)),
    ("exponential_", lambda t, g: t.exponential_(generator=g)),
    ("geometric_", lambda t, g: t.geometric_(0.2, generator=g)),
    ("log_normal_", lambda t, g: t.log_normal_(generator=g)),
    ("cauchy_", lambda t, g: t.cauchy_(generator=g)),
    ("bernoulli_", lambda t, g: t.bernoulli_(0.5, generator=g)),
]


@pytest.mark.parametrize("name, fill", FILLS, ids=[f[0] for f in FILLS])
def test_fills_reproducible_and_follow_autograd_rules(name, fill):
    first = fill(mg.zeros(64, dtype="float64"), _generator(20)).numpy()
    again = fill(mg.zeros(64, dtype="float64"), _generator(20)).numpy()
    other = fill(mg.zeros(64, dtype="float64"), _generator(21)).numpy()
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    mg.manual_seed(5)
    a = fill(mg.zeros(64, dtype="float64"), None).numpy()
    mg.manual_seed(5)
    assert np.array_equal(a, fill(mg.zeros(64, dtype="float64"), None).numpy())
    leaf = mg.zeros(4, dtype="float64", requires_grad=True)
    with pytest.raises(InplaceError):
        fill(leaf, _generator(0))
    assert not leaf.numpy().any()
    # in a graph: the old values get a zero gradient, as PyTorch's fills
    x = mg.ones(4, dtype="float64", requires_grad=True)
    y = x * 2
    out = fill(y, _generator(0))
    assert out is y and y.grad_fn is not None
    (y * mg.tensor(np.arange(4.0))).sum().backward()
    assert np.array_equal(x.grad.numpy(), np.zeros(4))
    with mg.no_grad():
        fill(leaf, _generator(0))


@pytest.mark.parametrize("name, fill", FILLS, ids=[f[0] for f in FILLS])
def test_fills_in_a_graph_like_pytorch(name, fill):
    """PyTorch's fill of a non-leaf records a node whose gradient is zero: the same."""
    x = torch.ones(4, dtype=torch.float64, requires_grad=True)
    y = x * 2
    getattr(y, name)(*([0, 10] if name == "random_" else [0.2] if name == "geometric_" else []))
    (y * torch.arange(4.0)).sum().backward()
    ours = mg.ones(4, dtype="float64", requires_grad=True)
    z = ours * 2
    fill(z, _generator(0))
    (z * mg.tensor(np.arange(4.0))).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), x.grad.numpy())


def test_fill_errors():
    t = mg.zeros(3, dtype="float64")
    cases = [
        (ValueError, "exponential_", lambda: t.exponential_(0.0)),
        (TypeError, "exponential_", lambda: mg.zeros(3, dtype="int64").exponential_()),
        (ValueError, "geometric_", lambda: t.geometric_(1.0)),
        (ValueError, "log_normal_", lambda: t.log_normal_(0.0, -1.0)),
        (ValueError, "cauchy_", lambda: t.cauchy_(0.0, 0.0)),
        (ValueError, "random_", lambda: t.random_(5, 5)),
        (ValueError, "random_", lambda: t.random_(0)),
        (ValueError, "random_", lambda: mg.zeros(2).random_(0, 2 ** 30)),
        (ValueError, "bernoulli_", lambda: t.bernoulli_(1.5)),
        (ValueError, "bernoulli_", lambda: t.bernoulli_(mg.tensor([0.5, -0.1, 0.2]))),
        (ValueError, "multinomial", lambda: mg.multinomial(mg.tensor([1.0, 2.0]), 3)),
        (ValueError, "multinomial", lambda: mg.multinomial(mg.tensor([1.0, 0.0, 0.0]), 2)),
        (ValueError, "multinomial", lambda: mg.multinomial(mg.tensor([1.0, -1.0]), 1, True)),
        (ValueError, "multinomial", lambda: mg.multinomial(mg.tensor([0.0, 0.0]), 1, True)),
        (TypeError, "multinomial", lambda: mg.multinomial(mg.tensor([1, 2]), 1)),
        (TypeError, "generator", lambda: t.exponential_(generator=np.random.default_rng(0))),
    ]
    for error, name, call in cases:
        with pytest.raises(error, match=name):
            call()
    assert not t.numpy().any()


def test_fills_on_other_backends(cupy_device):
    from minigrad.testing import available_backends

    for backend in sorted(set(available_backends()) | {cupy_device}):
        x = mg.zeros(N // 10, dtype="float64", backend=backend).exponential_(2.0, generator=_generator(30))
        assert x.backend == backend
        _assert_mean(x.numpy(), 0.5, 0.5)
        draws = mg.multinomial(mg.tensor([1.0, 3.0], backend=backend), 1000, True, generator=_generator(31))
        assert draws.backend == backend
