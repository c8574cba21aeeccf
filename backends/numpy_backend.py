"""The NumPy reference backend: it implements the whole backend protocol.

The protocol (documented once, in ``docs/backends.md``) is a set of methods that take and return the
backend's native arrays. Other backends subclass this one and override what they do better; fused
kernels (``batch_norm_*``, ...) are optional capabilities that ops look up with ``getattr``.
"""

from __future__ import annotations

import math

import numpy as np

_ERF = None


def _erf_function():
    """A float64-accurate vectorised erf: SciPy's when installed, else math.erf per element."""
    global _ERF
    if _ERF is None:
        try:
            from scipy.special import erf as scipy_erf

            _ERF = scipy_erf
        except ImportError:  # pragma: no cover - scipy ships with the dev and examples extras
            _ufunc = np.frompyfunc(math.erf, 1, 1)

            def _ERF(x):  # noqa: N802
                return _ufunc(x).astype(x.dtype)

    return _ERF


class NumpyBackend:
    """Arrays are ``numpy.ndarray``; every protocol method is implemented with NumPy."""

    name = "numpy"
    xp = np
    array_type = np.ndarray
    # Element count above which JIT backends may go parallel; unused by NumPy but part of the protocol.
    parallel_threshold = 1 << 15

    def __init__(self) -> None:
        self._rng = np.random.default_rng()

    # -- availability and description -------------------------------------------------------------
    @classmethod
    def check_available(cls) -> None:
        """Raise ``ImportError``/``RuntimeError`` with a how-to-fix message if unusable."""

    def describe(self) -> str:
        return f"NumPy {np.__version__}"

    # -- creation and transfer --------------------------------------------------------------------
    def asarray(self, data, dtype=None):
        return np.asarray(data, dtype=dtype)

    def from_numpy(self, array: np.ndarray):
        """A backend array holding a copy of a host array."""
        return np.array(array, copy=True)

    def to_numpy(self, array) -> np.ndarray:
        """A host ``numpy.ndarray`` view or copy of a backend array."""
        return np.asarray(array)

    def copy(self, array):
        return array.copy()

    def astype(self, array, dtype):
        return array.astype(dtype)

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype=dtype)

    def ones(self, shape, dtype):
        return np.ones(shape, dtype=dtype)

    def full(self, shape, value, dtype):
        return np.full(shape, value, dtype=dtype)

    def empty(self, shape, dtype):
        return np.empty(shape, dtype=dtype)

    def arange(self, start, stop, step, dtype):
        return np.arange(start, stop, step, dtype=dtype)

    def linspace(self, start, stop, num, dtype):
        return np.linspace(start, stop, num, dtype=dtype)

    def eye(self, n, m, dtype):
        return np.eye(n, m, dtype=dtype)

    # -- random numbers -----------------------------------------------------------------------------
    def manual_seed(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def rand(self, shape, dtype):
        return self._rng.random(shape, dtype=np.float64).astype(dtype, copy=False)

    def randn(self, shape, dtype):
        return self._rng.standard_normal(shape, dtype=np.float64).astype(dtype, copy=False)

    def randint(self, low, high, shape, dtype):
        return self._rng.integers(low, high, size=shape, dtype=dtype)

    def permutation(self, n):
        return self._rng.permutation(n)

    # -- elementwise, unary -------------------------------------------------------------------------
    negative = staticmethod(np.negative)
    abs = staticmethod(np.abs)
    sign = staticmethod(np.sign)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sqrt = staticmethod(np.sqrt)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    tanh = staticmethod(np.tanh)
    log1p = staticmethod(np.log1p)

    def rsqrt(self, x):
        out = np.sqrt(x)
        return np.divide(1, out, out=out)

    def erf(self, x):
        return _erf_function()(x)

    def sigmoid(self, x):
        # exp(-|x|) never overflows; pick the branch that keeps precision on each side of 0.
        z = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + z), z / (1 + z))

    def relu(self, x):
        return np.maximum(x, 0)

    def leaky_relu(self, x, negative_slope):
        return np.where(x > 0, x, x * negative_slope)

    def gelu(self, x, approximate: str):
        if approximate == "tanh":
            inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + np.tanh(inner))
        return 0.5 * x * (1 + self.erf(x * (1 / math.sqrt(2))))

    def softplus(self, x, beta, threshold):
        bx = x * beta if beta != 1 else x
        soft = np.logaddexp(0, bx)
        if beta != 1:
            soft = soft / beta
        return np.where(bx > threshold, x, soft)

    def clip(self, x, low, high):
        return np.clip(x, low, high)

    # -- elementwise, binary --------------------------------------------------------------------
    add = staticmethod(np.add)
    subtract = staticmethod(np.subtract)
    multiply = staticmethod(np.multiply)
    divide = staticmethod(np.true_divide)
    power = staticmethod(np.power)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    equal = staticmethod(np.equal)
    not_equal = staticmethod(np.not_equal)
    less = staticmethod(np.less)
    less_equal = staticmethod(np.less_equal)
    greater = staticmethod(np.greater)
    greater_equal = staticmethod(np.greater_equal)
    logical_and = staticmethod(np.logical_and)
    logical_or = staticmethod(np.logical_or)
    logical_not = staticmethod(np.logical_not)
    where = staticmethod(np.where)

    # -- reductions -----------------------------------------------------------------------------
    def sum(self, x, axis, keepdims):
        return np.sum(x, axis=axis, keepdims=keepdims)

    def max(self, x, axis, keepdims):
        return np.max(x, axis=axis, keepdims=keepdims)

    def min(self, x, axis, keepdims):
        return np.min(x, axis=axis, keepdims=keepdims)

    def argmax(self, x, axis, keepdims):
        return np.argmax(x, axis=axis, keepdims=keepdims)

    def argmin(self, x, axis, keepdims):
        return np.argmin(x, axis=axis, keepdims=keepdims)

    def logsumexp(self, x, axis, keepdims):
        shift = np.max(x, axis=axis, keepdims=True)
        # A row of -inf has no finite maximum; shifting by 0 keeps the result -inf instead of NaN.
        shift = np.where(np.isfinite(shift), shift, 0)
        out = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
        return out if keepdims else np.squeeze(out, axis=axis)

    def softmax(self, x, axis):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        e /= np.sum(e, axis=axis, keepdims=True)
        return e

    def log_softmax(self, x, axis):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        shifted -= np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        return shifted

    # -- linear algebra -------------------------------------------------------------------------
    matmul = staticmethod(np.matmul)

    # -- shape movement -------------------------------------------------------------------------
    reshape = staticmethod(np.reshape)
    transpose = staticmethod(np.transpose)
    broadcast_to = staticmethod(np.broadcast_to)
    concatenate = staticmethod(np.concatenate)

    def getitem(self, x, index):
        return x[index]

    def setitem(self, x, index, value) -> None:
        x[index] = value

    def pad(self, x, widths, value):
        return np.pad(x, widths, mode="constant", constant_values=value)

    def scatter_add(self, shape, index, values, dtype):
        """A zero array of ``shape`` with ``values`` added at ``index``; duplicates accumulate."""
        out = np.zeros(shape, dtype=dtype)
        np.add.at(out, index, values)
        return out

    def ascontiguous(self, x):
        return np.ascontiguousarray(x)

    # -- fused backward kernels (each the forward of a differentiable backward op) -----------------
    def sigmoid_backward(self, grad, out):
        return grad * out * (1 - out)

    def tanh_backward(self, grad, out):
        return grad * (1 - out * out)

    def softmax_backward(self, grad, out, axis):
        return out * (grad - np.sum(grad * out, axis=axis, keepdims=True))

    def log_softmax_backward(self, grad, out, axis):
        return grad - np.exp(out) * np.sum(grad, axis=axis, keepdims=True)
