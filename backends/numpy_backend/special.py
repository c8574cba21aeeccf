"""Special functions on arrays, written once against an array module ``xp`` (NumPy, or CuPy through the CuPy
backend): erfc, erfinv, lgamma, digamma, polygamma, i0 and i1, without SciPy.

Each computes in float64 and returns the input's floating dtype. The methods are series and recurrences whose
coefficients come from Bernoulli numbers, zeta values and Hermite polynomials computed here, so no table of
magic numbers needs trusting (Giles' erfinv guess aside, which Halley steps refine). docs/nn.md lists their
accuracy and where a value differs from PyTorch's.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_EULER_GAMMA = 0.57721566490153286061


def _bernoulli(count: int) -> list[Fraction]:
    """B_0 .. B_count (B_1 = -1/2), exactly (the Akiyama-Tanigawa algorithm)."""
    out, row = [], []
    for m in range(count + 1):
        row.append(Fraction(1, m + 1))
        for j in range(m, 0, -1):
            row[j - 1] = j * (row[j - 1] - row[j])
        out.append(row[0])
    out[1] = -out[1]  # the algorithm gives B_1 = +1/2
    return out


_B = _bernoulli(40)


def _zeta_minus_one(s: int) -> float:
    """zeta(s) - 1 for an integer s >= 2: a partial sum, then Euler-Maclaurin's tail from n = 10."""
    n = 10
    terms = [k ** -s for k in range(2, n)]
    terms += [n ** (1 - s) / (s - 1), 0.5 * n ** -s]
    rising = s  # s (s + 1) ... (s + 2j - 2)
    for j in range(1, 12):
        terms.append(float(_B[2 * j] / math.factorial(2 * j)) * rising * n ** (-s - 2 * j + 1))
        rising *= (s + 2 * j - 1) * (s + 2 * j)
    return math.fsum(terms)


# lgamma(2 + u) = (1 - gamma) u + sum_{k >= 2} (-1)^k (zeta(k) - 1) u^k / k, for |u| <= 1/2 (terms below 4^-k).
_LGAMMA2 = [1 - _EULER_GAMMA] + [(-1) ** k * _zeta_minus_one(k) / k for k in range(2, 30)]
# Stirling's series for lgamma: B_2j / (2j (2j - 1) z^(2j - 1)), j = 1..8 (enough from z = 10).
_STIRLING = [float(_B[2 * j] / (2 * j * (2 * j - 1))) for j in range(1, 9)]
# PyTorch's digamma asymptotic series (Cephes): B_2k / (2k), k = 7..1, in z = 1 / x^2.
_DIGAMMA = [float(_B[2 * k] / (2 * k)) for k in range(7, 0, -1)]
_PSI_10 = 2.25175258906672110764  # digamma(10), PyTorch's constant for that exact argument


def _float64(xp, x):
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    return xp.asarray(x, dtype=xp.float64), dtype


def _done(xp, out, dtype):
    return out.astype(dtype, copy=False) if out.dtype != dtype else out


def _polynomial(xp, coefficients, u):
    """sum_k coefficients[k] u^k (Horner)."""
    out = u * coefficients[-1] + coefficients[-2]  # the same roundings as 0 * u + c[-1], then * u + c[-2]
    for c in reversed(coefficients[:-2]):
        out *= u
        out += c
    return out


# -- the error function and its inverse ---------------------------------------------------------------------
def _exp_minus_square(xp, a, factor=1.0):
    """factor * exp(-a^2) for 0 <= a, without the rounding of a^2 (relative 1e-16 * a^2): a = hi + lo with hi^2
    exact. exp(-hi^2), which may be subnormal (beyond a = 26.55), is applied last, so it is rounded once."""
    hi = xp.floor(a * 2.0 ** 20) * 2.0 ** -20
    lo = a - hi
    return xp.exp(-hi * hi) * (xp.exp(-(2 * hi + lo) * lo) * factor)


# erf(a) = 2/sqrt(pi) e^(-a^2) a sum_n 2^n a^(2n) / (2n+1)!!
_ERF_SERIES = [float(Fraction(2 ** n, math.prod(range(1, 2 * n + 2, 2)))) for n in range(41)]


def _erf_series(xp, a, terms: int = 40):
    """erf(a) for 0 <= a <= 1.5 by its series of positive terms (Horner in a^2), ``terms`` terms after the
    first: 18 reach full precision up to a = 1, 12 up to a = 1/2."""
    return _exp_minus_square(xp, a, _TWO_OVER_SQRT_PI * (_polynomial(xp, _ERF_SERIES[:terms + 1], a * a) * a))


@functools.cache
def _erfc_taylor_table(step: Fraction, to: int, radius_digits: float = 17.0):
    """erfc's Taylor coefficients at the centres c = (j + 1/2) step below ``to``: (erfc(c), the table of
    erfc^(k)(c) / k!, k = 1..K, one row per k), K the most terms any centre needs for full precision within
    step / 2 of it. erfc^(k)(x) = (-1)^k 2/sqrt(pi) H_(k-1)(x) e^(-x^2), the Hermite polynomials H exactly in
    fractions; erfc(c) is the C library's (within an ulp). Built at the first call (~8 ms), not at import."""
    centres = [(j + Fraction(1, 2)) * step for j in range(int(to / step))]
    rows, values, terms = [], [], 1
    for c in centres:
        hermite = [Fraction(1), 2 * c]
        for n in range(1, 40):
            hermite.append(2 * c * hermite[n] - 2 * n * hermite[n - 1])
        scale = 2 / math.sqrt(math.pi) * math.exp(-float(c * c))
        row = [(-1) ** k * float(hermite[k - 1] / math.factorial(k)) * scale for k in range(1, 40)]
        values.append(math.erfc(float(c)))
        limit = 10 ** -radius_digits * math.erfc(float(c + step / 2))
        terms = max(terms, max(k for k in range(1, 40) if abs(row[k - 1]) * float(step / 2) ** k >= limit))
        rows.append(row)
    return np.array(values), np.array(rows)[:, :terms].T.copy()


# erfc by Taylor series at centres 1/4 apart below 6 (no exp per element: the centre's e^(-c^2) is in the
# coefficients), the continued fraction above, as deep as each range needs for full precision (measured against
# depth 400 and mpmath).
_ERFC_TAYLOR_STEP, _ERFC_TAYLOR_TO = Fraction(1, 4), 6
_ERFC_FROM = (6.0, 8.0, 10.0, 14.0)
_ERFC_DEPTH = (17, 13, 11, 9)
_ERFC_PIECE_OF_QUARTER = np.searchsorted(_ERFC_FROM[1:], np.arange(int(4 * _ERFC_FROM[-1]) + 1) / 4,
                                         side="right").astype(np.int8)


def _erfc_taylor(xp, a):
    """erfc(a) for 0 <= a < 6 from the Taylor series at the nearest centre (h = a - c is exact)."""
    at_centre, table = _erfc_taylor_table(_ERFC_TAYLOR_STEP, _ERFC_TAYLOR_TO)
    step = float(_ERFC_TAYLOR_STEP)
    j = (a * (1 / step)).astype(xp.int64)  # intp: the fast gathers
    h = a - (j + 0.5) * step
    table = xp.asarray(table)
    out = table[-1][j]
    for row in table[-2::-1]:
        out *= h
        out += row[j]
    out *= h
    out += xp.asarray(at_centre)[j]
    return out


def _erfc_fraction(xp, a):
    """erfc(a) for a >= 6: e^(-a^2) / sqrt(pi) / (a + (1/2) / (a + 1 / (a + (3/2) / (a + ...)))), from the tail,
    as deep as each element's range needs (``_ERFC_DEPTH`` from each ``_ERFC_FROM``; it converges faster for
    larger a). The elements are sorted by depth once, so that each level of the fraction runs on a prefix of
    them: the work is the depths summed, with no indexing per level."""
    # each element's piece through a table on floor(4a) (the lower ends are multiples of 1/4; NaN: the last)
    piece = xp.asarray(_ERFC_PIECE_OF_QUARTER)[xp.fmin(a * 4, 4 * _ERFC_FROM[-1]).astype(xp.int8)]
    order = xp.argsort(piece, kind="stable")
    ends = xp.cumsum(xp.bincount(piece, minlength=len(_ERFC_DEPTH))).tolist()
    sorted_a = a[order]
    t = xp.empty_like(sorted_a)
    filled = 0
    for k in range(_ERFC_DEPTH[0], 0, -1):
        n = ends[sum(d >= k for d in _ERFC_DEPTH) - 1]  # the pieces at least k deep: a prefix
        if n > filled:
            t[filled:n] = sorted_a[filled:n]
            filled = n
        xp.divide(0.5 * k, t[:n], out=t[:n])
        t[:n] += sorted_a[:n]
    out = xp.empty_like(a)
    out[order] = _exp_minus_square(xp, sorted_a, 1 / (math.sqrt(math.pi) * t))
    return out


def _erfc_abs(xp, a):
    """erfc(a) for a flat array of a = |x| (or NaN): the Taylor series below 6, else the continued fraction."""
    out = xp.empty_like(a)
    near = a < _ERFC_TAYLOR_TO
    out[near] = _erfc_taylor(xp, a[near])
    far = ~near  # 6 to inf, NaN
    out[far] = _erfc_fraction(xp, a[far])
    return xp.where(a == xp.inf, 0.0, out)


def erfc(xp, x):
    x, dtype = _float64(xp, x)
    with np.errstate(all="ignore"):
        c = _erfc_abs(xp, xp.abs(x).reshape(-1)).reshape(x.shape)
        return _done(xp, xp.where(x < 0, 2 - c, c), dtype)


_GILES_CENTRAL = [1.50140941, 0.246640727, -0.00417768164, -0.00125372503, 0.00021858087, -4.39150654e-06,
                  -3.5233877e-06, 3.43273939e-07, 2.81022636e-08]
_GILES_TAIL = [2.83297682, 1.00167406, 0.00943887047, -0.0076224613, 0.00573950773, -0.00367342844, 0.00134934322,
               0.000100950558, -0.000200214257]


def _erfinv_guess(xp, a, w, tail):
    """Giles' single-precision approximation of erfinv(a), 0 <= a < 1 (a starting point only), given
    w = -log((1 - a)(1 + a)) and the indices of the ``tail`` (w >= 16); each branch on its own elements."""
    y = xp.empty_like(a)
    central = w < 5
    y[central] = _polynomial(xp, _GILES_CENTRAL, w[central] - 2.5) * a[central]
    outer = ~central & (w < 16)
    y[outer] = _polynomial(xp, _GILES_TAIL, xp.sqrt(w[outer]) - 3) * a[outer]
    if tail.shape[0]:
        # Beyond Giles' range (a > 1 - 5e-8): erfc(y) ~ e^(-y^2) / (y sqrt(pi)) (1 - 1 / (2 y^2)), by iteration.
        log_q = -xp.log(math.sqrt(math.pi) * (1 - a[tail]))
        t = xp.sqrt(log_q)
        for _ in range(3):
            t = xp.sqrt(log_q - xp.log(t) + xp.log1p(-0.5 / (t * t)))
        y[tail] = t
    return y


def _halley(xp, a, residual):
    """erfinv(a) from Giles' guess by Halley steps on residual(y, a) = 0, a function with derivative
    +-2/sqrt(pi) e^(-y^2) (the sign makes r = f / f' below) and f'' = -2y f'. Cubic convergence: one step from
    Giles' 1e-7 reaches the rounding of the residual (a few ulps, as a second step); the tail's 1e-4 takes two.
    The derivative only scales the correction r (below 1e-4 y), so exp(-y^2) with y^2 rounded (1e-15 relative)
    is plenty there."""
    w = -xp.log((1 - a) * (1 + a))
    tail = xp.nonzero(w >= 16)[0]
    y = _erfinv_guess(xp, a, w, tail)
    r = residual(y, a) / (_TWO_OVER_SQRT_PI * xp.exp(-(y * y)))
    y -= r / (1 + y * r)
    if tail.shape[0]:
        yt, at = y[tail], a[tail]
        r = residual(yt, at) / (_TWO_OVER_SQRT_PI * xp.exp(-(yt * yt)))
        y[tail] = yt - r / (1 + yt * r)
    return y


def erfinv(xp, x):
    """Halley steps on erf(y) = a for a <= 1/2, else on erfc(y) = 1 - a (exact for a >= 1/2), so y is accurate
    to the last bits of a, up to a = 1 - 2^-53; +-inf at +-1, NaN beyond."""
    x, dtype = _float64(xp, x)
    with np.errstate(all="ignore"):
        flat = x.reshape(-1)
        a = xp.abs(flat)
        y = xp.where(a == 1, xp.inf, xp.nan)
        low, high = a <= 0.5, (a > 0.5) & (a < 1)
        # erfinv(1/2) = 0.477: 14 terms of the series reach full precision there
        y[low] = _halley(xp, a[low], lambda v, t: _erf_series(xp, v, 14) - t)
        y[high] = _halley(xp, a[high], lambda v, t: (1 - t) - _erfc_abs(xp, v))
        return _done(xp, xp.copysign(y, flat).reshape(x.shape), dtype)


# -- log-gamma and its derivatives ------------------------------------------------------------------------------
def _sin_pi_abs(xp, x):
    """|sin(pi x)|, reduced exactly to an argument in [-pi/2, pi/2] first."""
    r = x - 2 * xp.round(x / 2)  # in [-1, 1], exact
    r = xp.where(xp.abs(r) > 0.5, xp.sign(r) - r, r)  # sin(pi r) = sin(pi (+-1 - r)); exact
    return xp.abs(xp.sin(math.pi * r))


def _lgamma_positive(xp, z):
    """lgamma(z) for z > -1/2 (not 0): z = 2 + u + s with an integer shift s in -2..8 and u in [-1/2, 1/2)
    exact, the series of lgamma(2 + u) and the logs of the shift's factors; Stirling's series from 10. Each
    branch runs on its own elements only."""
    shape = z.shape
    z = z.reshape(-1)
    out = xp.empty_like(z)
    big = z >= 10
    small = xp.nonzero(~big)[0]  # and NaN
    big = xp.nonzero(big)[0]
    if small.shape[0]:
        zs = z[small]
        s = xp.floor(zs - 1.5)
        u = zs - (s + 2)
        series = _polynomial(xp, [0.0] + _LGAMMA2, u)
        product = xp.where(s >= 1, zs - 1, 1.0)
        for j in range(2, 9):
            product *= xp.where(s >= j, zs - j, 1.0)
        series += xp.log(product)
        out[small] = series - xp.where(s < 0, xp.log(xp.abs(zs)), 0.0) - xp.where(s < -1, xp.log1p(zs), 0.0)
    if big.shape[0]:
        zb = z[big]
        inv = 1 / zb
        series = _polynomial(xp, _STIRLING, inv * inv) * inv
        out[big] = (zb - 0.5) * xp.log(zb) - zb + 0.5 * math.log(2 * math.pi) + series
    return out.reshape(shape)


def lgamma(xp, x):
    """log|Gamma(x)|: +inf at the poles (0 and the negative integers) and at +-inf, as PyTorch."""
    x, dtype = _float64(xp, x)
    with np.errstate(all="ignore"):
        flat = x.reshape(-1)
        reflect = flat < -0.5
        z = xp.where(reflect, 1 - flat, flat)
        out = _lgamma_positive(xp, xp.where(z == 0, 1.0, z))
        reflect = xp.nonzero(reflect)[0]
        if reflect.shape[0]:
            # lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x)
            out[reflect] = math.log(math.pi) - xp.log(_sin_pi_abs(xp, flat[reflect])) - out[reflect]
        pole = ((flat <= 0) & (flat == xp.floor(flat))) | xp.isinf(flat)
        out[pole] = xp.inf
        return _done(xp, out.reshape(x.shape), dtype)


def _shift_up(xp, x, start: float, add):
    """(x + m, sum_k add(x + k)) over k < m per element, m the steps of ``while x < start: x += 1``. Only the
    elements below ``start`` are stepped (each dropped once it reaches it), so the cost is the steps taken, not
    the largest count times the size; each element's arithmetic is that of the plain loop."""
    shape = x.shape
    x = x.reshape(-1)
    total = xp.zeros_like(x)
    below = xp.nonzero(x < start)[0]
    if below.shape[0]:
        def step(state):
            w, t = state
            t = t + add(w)
            w = w + 1
            return (w, t), ~(w < start)

        w, t = _until_converged(xp, (x[below], total[below]), step)
        x = x.copy()
        x[below], total[below] = w, t
    return x.reshape(shape), total.reshape(shape)


def _digamma_nonnegative(xp, x):
    """PyTorch's (Cephes') digamma for x > 0: -1/x per step up to x >= 10, then the asymptotic series."""
    x, result = _shift_up(xp, x, 10, lambda w: -1 / w)
    z = 1 / (x * x)
    y = xp.where(x < 1e17, z * _polynomial(xp, _DIGAMMA[::-1], z), 0.0)
    return xp.where(x == 10, result + _PSI_10, result + xp.log(x) - 0.5 / x - y)


def digamma(xp, x):
    """PyTorch's digamma: reflection below 0, -inf at +0 and +inf at -0, NaN at the negative integers."""
    x, dtype = _float64(xp, x)
    with np.errstate(all="ignore"):
        flat = x.reshape(-1)
        negative = flat < 0
        out = _digamma_nonnegative(xp, xp.where(negative, 1 - flat, xp.where(flat == 0, 1.0, flat)))
        negative = xp.nonzero(negative)[0]
        if negative.shape[0]:
            xn = flat[negative]
            r = xn - xp.trunc(xn)  # the fraction: tan(pi r) is more accurate than tan(pi x)
            out[negative] = xp.where(r == 0, xp.nan, out[negative] - math.pi / xp.tan(math.pi * r))
        zero = xp.nonzero(flat == 0)[0]
        out[zero] = xp.copysign(xp.inf, -flat[zero])
        return _done(xp, out.reshape(x.shape), dtype)


def _inverse_power(v, s: int):
    """v^-s for an integer s >= 1 as 1 / (v v ... v): s / 2 ulps (NumPy's power with a negative integer exponent,
    within an ulp, is 10x slower)."""
    out = v
    for _ in range(s - 1):
        out = out * v
    return 1 / out


def _hurwitz_zeta(xp, s: int, q):
    """zeta(s, q) = sum_k (q + k)^-s for an integer s >= 2 and any q (not a non-positive integer): the first
    terms summed until q + k >= 10 + s, then Euler-Maclaurin's tail (the Cephes method, vectorised). The
    non-finite q (NaN, inf) the caller replaces."""
    # Terms of both signs (q < 0, s odd) cancel, and a few ulps in each would show in the sum: there, the power
    # within an ulp. Positive terms keep their relative error in the sum.
    mixed = s % 2 == 1 and bool((q < 0).any())
    w, total = _shift_up(xp, q, 10 + s, (lambda v: v ** -s) if mixed else (lambda v: _inverse_power(v, s)))
    ws = _inverse_power(w, s)
    tail = ws * w / (s - 1) + 0.5 * ws
    rising, power = float(s), ws / w
    for j in range(1, 13):
        tail = tail + float(_B[2 * j] / math.factorial(2 * j)) * rising * power
        rising *= (s + 2 * j - 1) * (s + 2 * j)
        power = power / (w * w)
    return total + tail


def polygamma(xp, n: int, x):
    """The n-th derivative of digamma: digamma for n = 0, else (-1)^(n+1) n! zeta(n + 1, x); +-inf at the
    poles with the sign of (-1)^(n+1), the limit from the right."""
    if n == 0:
        return digamma(xp, x)
    x, dtype = _float64(xp, x)
    with np.errstate(all="ignore"):
        pole = (x <= 0) & (x == xp.floor(x))
        finite = xp.isfinite(x)
        q = xp.where(pole | ~finite, 1.0, x)
        if n == 1:
            # trigamma by reflection below 0, pi^2 / sin^2(pi x) - trigamma(1 - x): fewer steps up to the
            # asymptotic range than from x itself, and no cancellation (the first term is >= pi^2, the second
            # <= trigamma(1) = 1.64)
            negative = q < 0
            q = xp.where(negative, 1 - q, q)
        zeta = _hurwitz_zeta(xp, n + 1, q)
        if n == 1:
            negative = xp.nonzero(negative.reshape(-1))[0]
            flat = zeta.reshape(-1)
            flat[negative] = (math.pi / _sin_pi_abs(xp, x.reshape(-1)[negative])) ** 2 - flat[negative]
            zeta = flat.reshape(zeta.shape)
        out = (-1) ** (n + 1) * math.factorial(n) * zeta
        out = xp.where(pole, (-1) ** (n + 1) * xp.inf, out)
        out = xp.where(x == xp.inf, 0.0, xp.where(finite | (x == xp.inf), out, xp.nan))
        return _done(xp, out, dtype)


# -- modified Bessel functions of the first kind ----------------------------------------------------------------
def _series_terms(coefficient, z: float) -> int:
    """How many terms of sum_k coefficient(k) z^k (positive terms, decreasing from some k on) reach full
    precision at z: up to the first below 1e-17 of the sum, and 2 more for the roundings."""
    total, k = 0.0, 0
    while True:
        term = coefficient(k) * z ** k
        total += abs(term)
        if k > 2 and abs(term) < 1e-17 * total:
            return k + 2
        k += 1


# I_n(a) = (a/2)^n sum_k (a^2/4)^k / (k! (k + n)!) up to a = 20: the terms each piece's upper end needs
_BESSEL_SERIES_TO = (7.5, 20.0)
_BESSEL_SERIES = [[1 / (math.factorial(k) * math.factorial(k + n)) for k in range(70)] for n in (0, 1)]
_BESSEL_SERIES_TERMS = [[_series_terms(lambda k, c=c: c[k], hi * hi / 4) for hi in _BESSEL_SERIES_TO]
                        for c in _BESSEL_SERIES]


def _bessel_asymptotic(n: int, k: int) -> float:
    """The k-th coefficient of I_n(a) sqrt(2 pi a) e^-a in powers of 1/a: prod_j (-(4n^2 - (2j-1)^2)) / (8j)."""
    return math.prod(-(4 * n * n - (2 * j - 1) ** 2) / (8 * j) for j in range(1, k + 1))


# beyond 20 the asymptotic series, 40 terms (the smallest term at a = 20 is 4e-18), fewer from 40 on
_BESSEL_ASYMPTOTIC_FROM = 40.0
_BESSEL_ASYMPTOTIC = [[_bessel_asymptotic(n, k) for k in range(40)] for n in (0, 1)]
_BESSEL_ASYMPTOTIC_TERMS = [_series_terms(lambda k, n=n: _bessel_asymptotic(n, k), 1 / _BESSEL_ASYMPTOTIC_FROM)
                            for n in (0, 1)]


def _bessel(xp, order: int, x):
    """I_0 or I_1 of a = |x|: the power series (positive terms) up to 20, the asymptotic series above, whose
    e^a is taken in two halves so that the result overflows only where the function does. Both by Horner, as
    many terms as the range of each element needs."""
    a = xp.abs(x).reshape(-1)
    out = xp.empty_like(a)
    lower = 0.0
    for upper, terms in zip(_BESSEL_SERIES_TO, _BESSEL_SERIES_TERMS[order]):
        piece = (a > lower) & (a <= upper) if lower else a <= upper
        s = a[piece]
        total = _polynomial(xp, _BESSEL_SERIES[order][:terms], s * s / 4)
        out[piece] = total if order == 0 else total * (s / 2)
        lower = upper
    for piece, terms in (((a > 20) & (a < _BESSEL_ASYMPTOTIC_FROM), 40),
                         (~(a < _BESSEL_ASYMPTOTIC_FROM), _BESSEL_ASYMPTOTIC_TERMS[order])):  # and NaN
        b = a[piece]
        series = _polynomial(xp, _BESSEL_ASYMPTOTIC[order][:terms], 1 / b)
        half = xp.exp(b / 2)
        out[piece] = half * (half * series / xp.sqrt(2 * math.pi * b))  # NaN at inf, as PyTorch's
    return out.reshape(x.shape)


def i0(xp, x):
    x, dtype = _float64(xp, x)
    with np.errstate(all="ignore"):
        return _done(xp, _bessel(xp, 0, x), dtype)


def i1(xp, x):
    x, dtype = _float64(xp, x)
    with np.errstate(all="ignore"):
        return _done(xp, xp.copysign(_bessel(xp, 1, x), x), dtype)



# -- the regularized incomplete gamma functions -----------------------------------------------------------------
# PyTorch's (Cephes') choice of method by region: the power series of P, the continued fraction of Q, the series
# of Q for small x, each complement as 1 minus the other. Where those converge in about sqrt(a) steps (a huge, x
# near a), Temme's uniform expansion with its first term, whose next term is below the rounding from a = 1e9.
_EPS = 2.0 ** -53
_BIG, _BIG_INVERSE = 2.0 ** 52, 2.0 ** -52
_TEMME_FROM = 1e9
# Temme's c_0(eta) = 1 / (lambda - 1) - 1 / eta near eta = 0 (DLMF 8.12.9); the next term, about 2e-6 eta^7,
# is below 1e-17 where it is used (|eta| < 0.02).
_TEMME_C0 = [-1 / 3, 1 / 12, -2 / 135, 1 / 864, 1 / 2835, -139 / 777600, 1 / 25515]


def _split(xp, cond, if_true, if_false, *arrays):
    """where(cond, if_true(*arrays), if_false(*arrays)) of flat arrays, each function run on its own elements."""
    out = xp.empty(cond.shape, dtype=xp.float64)
    for mask, f in ((cond, if_true), (~cond, if_false)):
        index = xp.nonzero(mask)[0]
        if index.shape[0]:
            out[index] = f(*(v[index] for v in arrays))
    return out


_LOG1PMX = [2 / (2 * k + 3) for k in range(20)]


def _log1pmx(xp, t):
    """log(1 + t) - t, accurate near 0: -t^2 / (2 + t) + 2 sum_k s^(2k+1) / (2k+1), s = t / (2 + t)."""
    def series(t):
        s = t / (2 + t)
        s2 = s * s
        return _polynomial(xp, _LOG1PMX, s2) * s2 * s - t * t / (2 + t)

    return _split(xp, xp.abs(t) < 0.5, series, lambda t: xp.log1p(t) - t, t)


def _lgamma1p(xp, a):
    """lgamma(1 + a) for a >= 0, exact in a where |a| <= 1/2: lgamma(2 + a) - log1p(a)."""
    return _split(xp, a <= 0.5, lambda a: _polynomial(xp, [0.0] + _LGAMMA2, a) - xp.log1p(a),
                  lambda a: lgamma(xp, 1 + a), a)


def _log_power_factor(xp, a, x):
    """log(x^a e^-x / Gamma(a)); from a = 10 as a (log(x / a) - (x - a) / a) + log(a / 2 pi) / 2 - Stirling's
    series, which keeps the cancellation of a log x against x and lgamma(a) out of the rounding."""
    def uniform(a, x):
        inv = 1 / a
        stirling = _polynomial(xp, _STIRLING, inv * inv) * inv
        t = (x - a) / a
        # far from a, log(x / a) keeps x / a's relative precision, which 1 + t loses as t nears -1
        power = _split(xp, xp.abs(t) < 0.5, lambda a, t, x: a * _log1pmx(xp, t),
                       lambda a, t, x: a * xp.log(x / a) - (x - a), a, t, x)
        return power + 0.5 * xp.log(a / (2 * math.pi)) - stirling

    return _split(xp, a >= 10, uniform, lambda a, x: a * xp.log(x) - x - lgamma(xp, a), a, x)


def _until_converged(xp, state, step, wanted=None):
    """Run ``step(state) -> (state, done)`` on flat arrays: the state arrays at the positions ``wanted`` (all by
    default) as each element left them when first done. Done elements are dropped from the work once a quarter
    of it is done (compacting the state at every step cost as much as the steps), their results kept from the
    step they were done at."""
    wanted = range(len(state)) if wanted is None else wanted
    out = [xp.empty_like(state[i]) for i in wanted]
    index = xp.arange(state[0].shape[0])
    recorded, count = xp.zeros(index.shape[0], dtype=bool), 0
    while index.shape[0]:
        state, done = step(state)
        new = done & ~recorded if count else done
        newly = int(xp.count_nonzero(new))
        if newly:
            gone = index[new]
            for o, i in zip(out, wanted):
                o[gone] = state[i][new]
            recorded |= new
            count += newly
            if 4 * count >= index.shape[0]:
                keep = ~recorded
                index, recorded, count = index[keep], recorded[keep], 0
                state = tuple(s[keep] for s in state)
    return out


def _p_series(xp, a, x):
    """P(a, x) = x^a e^-x / Gamma(a + 1) sum_n x^n / ((a + 1) ... (a + n)), all terms positive."""
    def step(state):
        r, c, total, xs = state
        r = r + 1
        c = c * xs / r
        total = total + c
        return (r, c, total, xs), c <= _EPS * total

    (total,) = _until_converged(xp, (a.copy(), xp.ones_like(a), xp.ones_like(a), x), step, (2,))
    # x^a e^-x / Gamma(a + 1) with lgamma(1 + a) rather than lgamma(a) - log(a), exact for tiny a
    log_factor = _split(xp, a < 10, lambda a, x: a * xp.log(x) - x - _lgamma1p(xp, a),
                        lambda a, x: _log_power_factor(xp, a, x) - xp.log(a), a, x)
    return total * xp.exp(log_factor)


def _q_fraction(xp, a, x):
    """Q(a, x) = x^a e^-x / Gamma(a) times Legendre's continued fraction, for x > 1 and x > a (Cephes')."""
    y = 1 - a
    z = x + y + 1
    p2, q2, p1, q1 = xp.ones_like(a), x.copy(), x + 1, z * x
    ans = p1 / q1
    count = [0.0]  # c, the same for every element still at work

    def step(state):
        y, z, p2, q2, p1, q1, ans = state
        count[0] += 1
        y, z = y + 1, z + 2
        yc = y * count[0]
        pk, qk = p1 * z - p2 * yc, q1 * z - q2 * yc
        nonzero = qk != 0
        if bool(nonzero.all()):
            r = pk / qk
            done = xp.abs(ans - r) <= _EPS * xp.abs(r)
            ans = r
        else:
            r = pk / xp.where(nonzero, qk, 1.0)
            done = nonzero & (xp.abs(ans - r) <= _EPS * xp.abs(r))
            ans = xp.where(nonzero, r, ans)
        big = xp.abs(pk) > _BIG
        if bool(big.any()):
            scale = xp.where(big, _BIG_INVERSE, 1.0)
            p1, q1, pk, qk = p1 * scale, q1 * scale, pk * scale, qk * scale
        return (y, z, p1, q1, pk, qk, ans), done

    (ans,) = _until_converged(xp, (y, z, p2, q2, p1, q1, ans), step, (6,))
    return ans * xp.exp(_log_power_factor(xp, a, x))


def _q_series(xp, a, x):
    """Q(a, x) for small x and a: -expm1(a log x - lgamma(1 + a)) - x^a / Gamma(a) sum_n (-x)^n / (n! (a + n))."""
    count = [0.0]  # n, the same for every element still at work

    def step(state):
        fac, total, xs, aa = state
        count[0] += 1
        n = count[0]
        fac = fac * -xs / n
        term = fac / (aa + n)
        total = total + term
        return (fac, total, xs, aa), xp.abs(term) <= _EPS * xp.abs(total)

    (total,) = _until_converged(xp, (xp.ones_like(a), xp.zeros_like(a), x, a), step, (1,))
    log_x = xp.log(x)
    return -xp.expm1(a * log_x - _lgamma1p(xp, a)) - xp.exp(a * log_x - lgamma(xp, a)) * total


def _temme(xp, a, x, upper: bool):
    """Q (or P) for a >= 1e9, x near a: erfc(+-eta sqrt(a / 2)) / 2 +- e^(-a eta^2 / 2) / sqrt(2 pi a) c_0(eta)."""
    t = (x - a) / a
    eta = xp.sign(t) * xp.sqrt(-2 * _log1pmx(xp, t))
    c0 = _polynomial(xp, _TEMME_C0, eta)
    r = xp.exp(-0.5 * a * eta * eta) / xp.sqrt(2 * math.pi * a) * c0
    z = eta * xp.sqrt(a / 2)
    if upper:
        return 0.5 * _erfc_abs(xp, xp.abs(z)) * xp.where(z < 0, -1.0, 1.0) + xp.where(z < 0, 1.0, 0.0) + r
    return 0.5 * _erfc_abs(xp, xp.abs(z)) * xp.where(z > 0, -1.0, 1.0) + xp.where(z > 0, 1.0, 0.0) - r


def _incomplete_gamma(xp, a, x, upper: bool):
    """P(a, x) (or Q with ``upper``) of float64 arrays, broadcast, with PyTorch's values at the edges."""
    a, x = xp.broadcast_arrays(a, x)
    shape = a.shape
    a, x = a.reshape(-1), x.reshape(-1)
    out = xp.full(a.shape, xp.nan)
    regular = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
    with np.errstate(all="ignore"):
        # PyTorch's edges: NaN for a < 0, x < 0, a = x = 0 and a = x = inf; then P = 1 at a = 0 or x = inf, P = 0
        # at x = 0 or a = inf.
        one = ((a == 0) & (x > 0)) | ((x == xp.inf) & (a > 0) & (a < xp.inf))
        zero = ((x == 0) & (a > 0)) | ((a == xp.inf) & (x >= 0) & (x < xp.inf))
        out[one] = 0.0 if upper else 1.0
        out[zero] = 1.0 if upper else 0.0
        a, x = a[regular], x[regular]
        result = xp.empty_like(a)
        temme = (a >= _TEMME_FROM) & (xp.abs(x - a) < 0.02 * a)
        if upper:
            fraction = ~temme & (x > 1.1) & (x >= a)
            series = ~temme & (((x > 1.1) & (x < a)) | ((x <= 0.5) & (-0.4 / xp.log(x) < a))
                               | ((x > 0.5) & (x <= 1.1) & (x * 1.1 < a)))
            small = ~(temme | fraction | series)
            result[fraction] = _q_fraction(xp, a[fraction], x[fraction])
            result[series] = 1 - _p_series(xp, a[series], x[series])
            result[small] = _q_series(xp, a[small], x[small])
        else:
            complement = ~temme & (x > 1) & (x > a)
            series = ~(temme | complement)
            result[complement] = 1 - _q_fraction(xp, a[complement], x[complement])
            result[series] = _p_series(xp, a[series], x[series])
        result[temme] = _temme(xp, a[temme], x[temme], upper)
        out[regular] = result
    return out.reshape(shape)


def igamma(xp, a, x):
    """The regularized lower incomplete gamma function P(a, x) (torch.igamma, torch.special.gammainc)."""
    dtype = xp.result_type(a, x)
    return _done(xp, _incomplete_gamma(xp, xp.asarray(a, dtype=xp.float64), xp.asarray(x, dtype=xp.float64), False),
                 dtype)


def igammac(xp, a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    dtype = xp.result_type(a, x)
    return _done(xp, _incomplete_gamma(xp, xp.asarray(a, dtype=xp.float64), xp.asarray(x, dtype=xp.float64), True),
                 dtype)
