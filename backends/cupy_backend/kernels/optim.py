"""Fused optimizer updates: one pass over each parameter, with PyTorch's formulas (see minigrad.optim)."""

from __future__ import annotations

import math

from numba import cuda

from ._launch import THREADS, blocks


@cuda.jit
def _sgd(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """d = ±g + wd p; buf = d (first step) or momentum buf + (1 - dampening) d; p -= lr (d + momentum buf or buf)."""
    for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
        d = (-g[i] if maximize else g[i]) + weight_decay * p[i]
        if momentum != 0:
            b = d if first else momentum * buf[i] + (1 - dampening) * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] -= lr * d


@cuda.jit
def _adam(p, g, exp_avg, exp_avg_sq, max_sq, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad,
          step_size, bias_correction2_sqrt):
    for i in range(cuda.grid(1), p.size, cuda.gridsize(1)):
        w = p[i]
        d = g[i]
        if decoupled:
            w *= 1 - lr * weight_decay
        else:
            d += weight_decay * w
        m = beta1 * exp_avg[i] + (1 - beta1) * d
        v = beta2 * exp_avg_sq[i] + (1 - beta2) * d * d
        exp_avg[i], exp_avg_sq[i] = m, v
        if amsgrad:
            v = max(max_sq[i], v)
            max_sq[i] = v
        p[i] = w - step_size * m / (math.sqrt(v) / bias_correction2_sqrt + eps)


def sgd_step(p, g, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize=False, first):
    """One SGD step in place on the flat contiguous arrays ``p`` and ``buf`` (``buf`` unused without momentum)."""
    _sgd[blocks(p.size), THREADS](p, g, buf, float(lr), float(momentum), float(dampening), float(weight_decay),
                                  bool(nesterov), bool(maximize), bool(first))


def adam_step(p, g, exp_avg, exp_avg_sq, max_sq, *, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad,
              step):
    """One Adam (AdamW with ``decoupled``) step in place; ``max_sq`` is used only with ``amsgrad``."""
    step_size = lr / (1 - beta1 ** step)
    _adam[blocks(p.size), THREADS](p, g, exp_avg, exp_avg_sq, max_sq, float(lr), float(beta1), float(beta2),
                                   float(eps), float(weight_decay), bool(decoupled), bool(amsgrad),
                                   float(step_size), math.sqrt(1 - beta2 ** step))


KERNELS = {
    _sgd: "(a, a, a, float64, float64, float64, float64, boolean, boolean, boolean)",
    _adam: "(a, a, a, a, a, float64, float64, float64, float64, float64, boolean, boolean, float64, float64)",
}
