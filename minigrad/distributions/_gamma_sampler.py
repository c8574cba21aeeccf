"""Standard gamma samples with their exact implicit reparameterisation gradient.

A sample x of Gamma(alpha, 1) is drawn by Marsaglia and Tsang's method; its derivative with respect to alpha, with
the uniform noise u = P(alpha, x) held fixed (P the regularised lower incomplete gamma function, the CDF), is

    dx/dalpha = -(dP/dalpha) / (dP/dx),   dP/dx = x^(alpha-1) e^-x / Gamma(alpha),

PyTorch's ``_standard_gamma_grad`` quantity. PyTorch approximates it (Taylor series, Rice's saddle point and a
fitted rational function); here dP/dalpha is computed exactly, to float64 rounding:

- x <= alpha + 1: the series P = x^a e^-x sum_n x^n / Gamma(a + n + 1), differentiated term by term, gives
  dx/dalpha = -(x / a) sum_n u_n (log x - psi(a + n + 1)), u_0 = 1, u_n = u_(n-1) x / (a + n);
- x > alpha + 1: Q = 1 - P = x^a e^-x / Gamma(a) h(a, x) with h Legendre's continued fraction (evaluated by the
  modified Lentz method carrying the derivative dh/da alongside), gives dx/dalpha = x (h (log x - psi(a)) + dh/da).

Both sums run on the host in float64 until every element has converged (each term below float64 rounding of the
running sum), so the gradient is exact to rounding, not approximate.
"""

from __future__ import annotations

import numpy as np

from .. import backends as _backends

_MAX_ITER = 1_000_000


def _digamma(x):
    return _backends.load("numpy").digamma(np.asarray(x, dtype=np.float64))


def sample_standard_gamma(alpha: np.ndarray, normal, uniform) -> np.ndarray:
    """Gamma(alpha, 1) samples (float64, alpha's shape) by Marsaglia and Tsang (2000); alpha < 1 through
    Gamma(alpha + 1) U^(1 / alpha). ``normal(n)`` and ``uniform(n)`` draw n standard normals / uniforms on [0, 1)."""
    alpha = np.asarray(alpha, dtype=np.float64)
    flat = alpha.reshape(-1)
    boost = flat < 1
    a = np.where(boost, flat + 1, flat)
    d = a - 1 / 3
    c = 1 / np.sqrt(9 * d)
    out = np.empty_like(flat)
    todo = np.arange(flat.size)
    while todo.size:
        z = normal(todo.size)
        u = uniform(todo.size)
        v = (1 + c[todo] * z) ** 3
        with np.errstate(invalid="ignore", divide="ignore"):
            accept = (v > 0) & (np.log(u) < 0.5 * z * z + d[todo] - d[todo] * v + d[todo] * np.log(v))
        out[todo[accept]] = (d[todo] * v)[accept]
        todo = todo[~accept]
    if boost.any():
        idx = np.nonzero(boost)[0]
        u = uniform(idx.size)
        with np.errstate(divide="ignore"):
            # x U^(1/a) in log space: a tiny alpha underflows to 0 (clamped to tiny by the callers, as PyTorch)
            out[idx] = np.exp(np.log(out[idx]) + np.log(u) / flat[idx])
    return out.reshape(alpha.shape)


def standard_gamma_grad(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """d x / d alpha for x ~ Gamma(alpha, 1) with the CDF value held fixed, exactly (float64)."""
    x, alpha = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(alpha, dtype=np.float64))
    shape = x.shape
    x, a = x.reshape(-1).copy(), alpha.reshape(-1)
    out = np.zeros_like(x)
    ok = (x > 0) & np.isfinite(x) & (a > 0) & np.isfinite(a)
    out[~ok] = np.nan
    out[(x == 0) & (a > 0)] = 0.0  # the limit: x ~ C^(1/a) u^(1/a) near 0
    series = ok & (x <= a + 1)
    frac = ok & ~series
    if series.any():
        out[series] = _series_grad(x[series], a[series])
    if frac.any():
        out[frac] = _continued_fraction_grad(x[frac], a[frac])
    return out.reshape(shape)


def _iterate(state, step, results):
    """Run ``step(n, state, check) -> (state, done)`` for n = 1, 2, ... on flat arrays (at most ``_MAX_ITER``
    times): the state arrays at the positions ``results`` as each element left them when first done. ``done`` is
    only asked for (``check``) at the first 4 steps and every 4th after: the test cost as much as the step, and a
    few more terms below the rounding change nothing. Done elements are dropped from the work once a quarter of
    it is done (compacting the state at every step cost as much as the steps)."""
    out = [np.empty_like(state[r]) for r in results]
    index = np.arange(state[0].size)
    recorded, count = np.zeros(index.size, dtype=bool), 0
    n = 0
    while index.size and n < _MAX_ITER:
        n += 1
        check = n <= 4 or n % 4 == 0
        state, done = step(n, state, check)
        if not check:
            continue
        new = done & ~recorded if count else done
        if new.any():
            gone = index[new]
            for o, r in zip(out, results):
                o[gone] = state[r][new]
            recorded |= new
            count += int(np.count_nonzero(new))
            if 4 * count >= index.size:
                keep = ~recorded
                index, recorded, count = index[keep], recorded[keep], 0
                state = tuple(v[keep] for v in state)
    rest = index[~recorded]
    for o, r in zip(out, results):
        o[rest] = state[r][~recorded]
    return out


def _series_grad(x, a):
    log_x = np.log(x)
    psi = _digamma(a + 1)

    def step(n, state, check):
        u, psi, total, mass, xa, aa, lx = state
        r = aa + n
        u = u * xa / r
        psi = psi + 1 / r
        total = total + u * (lx - psi)
        mass = mass + u
        if not check:
            return (u, psi, total, mass, xa, aa, lx), None
        # done once the terms decrease (n past x - a) and the next terms cannot change the sum any more
        keep = (n < xa - aa + 1) | (u * np.abs(lx - psi + 1) > 1e-17 * (np.abs(total) + 1e-300)) | (
            u > 1e-17 * mass)
        return (u, psi, total, mass, xa, aa, lx), ~keep

    (total,) = _iterate((np.ones_like(x), psi, log_x - psi, np.ones_like(x), x, a, log_x), step, (2,))
    return -(x / a) * total


def _continued_fraction_grad(x, a):
    tiny = 1e-300
    b = x + 1 - a
    d = 1 / b
    dd = d * d  # db/da = -1

    def step(i, state, check):
        b, d, dd, c, dc, h, dh, aa = state
        an, dan = -i * (i - aa), float(i)
        b = b + 2
        dr = an * d + b
        ddr = dan * d + an * dd - 1
        dr = np.where(np.abs(dr) < tiny, tiny, dr)
        cr = b + an / c
        dcr = -1 + dan / c - an * dc / c / c
        cr = np.where(np.abs(cr) < tiny, tiny, cr)
        dnew = 1 / dr
        ddnew = -ddr * dnew * dnew
        delta = dnew * cr
        ddelta = ddnew * cr + dnew * dcr
        dh = dh * delta + h * ddelta
        done = ~((np.abs(delta - 1) > 1e-16) | (np.abs(h * ddelta) > 1e-16 * np.abs(dh))) if check else None
        return (b, dnew, ddnew, cr, dcr, h * delta, dh, aa), done

    state = (b, d, dd, np.full_like(x, 1 / tiny), np.zeros_like(x), d.copy(), dd.copy(), a)
    h, dh = _iterate(state, step, (5, 6))
    return x * (h * (np.log(x) - _digamma(a)) + dh)


def regularized_gamma_p(a, x) -> np.ndarray:
    """P(a, x), the regularised lower incomplete gamma function, in float64 to rounding (the series below a + 1,
    the continued fraction above): 0 for x <= 0, 1 at x = inf, NaN for NaN or a <= 0."""
    a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
    shape = a.shape
    a, x = a.reshape(-1), x.reshape(-1)
    out = np.full(a.shape, np.nan)
    ok = (a > 0) & np.isfinite(a) & ~np.isnan(x)
    out[ok & (x <= 0)] = 0.0
    out[ok & (x == np.inf)] = 1.0
    inner = ok & (x > 0) & np.isfinite(x)
    series = inner & (x <= a + 1)
    frac = inner & ~series
    with np.errstate(under="ignore"):
        if series.any():
            xs, as_ = x[series], a[series]
            out[series] = np.exp(as_ * np.log(xs) - xs - _lgamma(as_ + 1)) * _p_series(xs, as_)
        if frac.any():
            xf, af = x[frac], a[frac]
            out[frac] = 1 - np.exp(af * np.log(xf) - xf - _lgamma(af)) * _q_fraction(xf, af)
    return out.reshape(shape)


def _lgamma(x):
    return _backends.load("numpy").lgamma(np.asarray(x, dtype=np.float64))


def _p_series(x, a):
    """sum_n x^n Gamma(a + 1) / Gamma(a + n + 1)."""
    term = np.ones_like(x)
    total = term.copy()
    active = np.arange(x.size)
    n = 0
    while active.size and n < _MAX_ITER:
        n += 1
        term[active] = term[active] * x[active] / (a[active] + n)
        total[active] += term[active]
        active = active[term[active] > 1e-17 * total[active]]
    return total


def _q_fraction(x, a):
    """Legendre's continued fraction of Q(a, x) x^-a e^x Gamma(a), by the modified Lentz method."""
    tiny = 1e-300
    b = x + 1 - a
    c = np.full_like(x, 1 / tiny)
    d = 1 / b
    h = d.copy()
    active = np.arange(x.size)
    i = 0
    while active.size and i < _MAX_ITER:
        i += 1
        an = -i * (i - a[active])
        b[active] += 2
        dn = an * d[active] + b[active]
        dn = np.where(np.abs(dn) < tiny, tiny, dn)
        cn = b[active] + an / c[active]
        cn = np.where(np.abs(cn) < tiny, tiny, cn)
        d[active], c[active] = 1 / dn, cn
        delta = d[active] * cn
        h[active] *= delta
        active = active[np.abs(delta - 1) > 1e-16]
    return h
