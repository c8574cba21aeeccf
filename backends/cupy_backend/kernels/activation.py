"""Fused activation backward kernels: ``grad * f'(.)`` in one pass, as the NumPy backend's methods."""

from __future__ import annotations

import math

from numba import cuda

from ._launch import THREADS, blocks

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


@cuda.jit
def _sigmoid_backward(grad, out, res):
    for i in range(cuda.grid(1), res.size, cuda.gridsize(1)):
        o = out[i]
        res[i] = grad[i] * o * (1 - o)


@cuda.jit
def _tanh_backward(grad, out, res):
    for i in range(cuda.grid(1), res.size, cuda.gridsize(1)):
        o = out[i]
        res[i] = grad[i] * (1 - o * o)


@cuda.jit
def _relu_backward(grad, x, res):
    for i in range(cuda.grid(1), res.size, cuda.gridsize(1)):
        res[i] = grad[i] if x[i] > 0 else grad[i] * 0  # relu'(0) = 0; grad * 0 keeps NaN/inf as NumPy does


@cuda.jit
def _leaky_relu_backward(grad, x, res, negative_slope):
    for i in range(cuda.grid(1), res.size, cuda.gridsize(1)):
        res[i] = grad[i] if x[i] > 0 else grad[i] * negative_slope


@cuda.jit
def _gelu_backward(grad, x, res, tanh_approximation):
    for i in range(cuda.grid(1), res.size, cuda.gridsize(1)):
        v = x[i]
        if tanh_approximation:
            t = math.tanh((v + 0.044715 * v * v * v) * _SQRT_2_OVER_PI)
            slope = (t + 1) * 0.5 + v * 0.5 * (1 - t * t) * ((3 * 0.044715 * v * v + 1) * _SQRT_2_OVER_PI)
        else:
            slope = (math.erf(v * _INV_SQRT_2) + 1) * 0.5 + v * math.exp(-0.5 * v * v) * _INV_SQRT_2PI
        res[i] = grad[i] * slope


@cuda.jit
def _softplus_backward(grad, x, res, beta, threshold):
    for i in range(cuda.grid(1), res.size, cuda.gridsize(1)):
        bx = x[i] * beta
        res[i] = grad[i] if bx > threshold else grad[i] / (1 + math.exp(-bx))


@cuda.jit
def _silu_backward(grad, x, res):
    for i in range(cuda.grid(1), res.size, cuda.gridsize(1)):
        v = x[i]
        s = 1 / (1 + math.exp(-v))
        res[i] = grad[i] * (s * (1 + v * (1 - s)))


@cuda.jit
def _elu_backward(grad, x, res, alpha):
    for i in range(cuda.grid(1), res.size, cuda.gridsize(1)):
        v = x[i]
        res[i] = grad[i] if v > 0 else grad[i] * (math.exp(v) * alpha)


@cuda.jit
def _hardtanh_backward(grad, x, res, min_val, max_val):
    for i in range(cuda.grid(1), res.size, cuda.gridsize(1)):
        v = x[i]
        res[i] = grad[i] if min_val < v < max_val else grad[i] * 0  # grad * 0 keeps NaN/inf as NumPy does


def _run(xp, kernel, grad, x, *params):
    res = xp.empty(x.shape, dtype=xp.result_type(grad, x))
    if res.size:
        flat = lambda a: xp.ascontiguousarray(a).reshape(-1)  # strided and broadcast views: one copy
        kernel[blocks(res.size), THREADS](flat(grad), flat(x), res.reshape(-1), *params)
    return res


def sigmoid_backward(xp, grad, out):
    return _run(xp, _sigmoid_backward, grad, out)


def tanh_backward(xp, grad, out):
    return _run(xp, _tanh_backward, grad, out)


def relu_backward(xp, grad, x):
    return _run(xp, _relu_backward, grad, x)


def leaky_relu_backward(xp, grad, x, negative_slope):
    return _run(xp, _leaky_relu_backward, grad, x, float(negative_slope))


def gelu_backward(xp, grad, x, approximate):
    return _run(xp, _gelu_backward, grad, x, approximate == "tanh")


def softplus_backward(xp, grad, x, beta, threshold):
    return _run(xp, _softplus_backward, grad, x, float(beta), float(threshold))


def silu_backward(xp, grad, x):
    return _run(xp, _silu_backward, grad, x)


def elu_backward(xp, grad, x, alpha):
    return _run(xp, _elu_backward, grad, x, float(alpha))


def hardtanh_backward(xp, grad, x, min_val, max_val):
    return _run(xp, _hardtanh_backward, grad, x, float(min_val), float(max_val))


# Every kernel with the argument types it is compiled for, for ahead-of-time PTX checks.
KERNELS = {
    _sigmoid_backward: "(a, a, a)",
    _tanh_backward: "(a, a, a)",
    _relu_backward: "(a, a, a)",
    _leaky_relu_backward: "(a, a, a, float64)",
    _gelu_backward: "(a, a, a, boolean)",
    _softplus_backward: "(a, a, a, float64, float64)",
    _silu_backward: "(a, a, a)",
    _elu_backward: "(a, a, a, float64)",
    _hardtanh_backward: "(a, a, a, float64, float64)",
}
