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

    # empty + fill: np.ones and np.full are Python-level wrappers that cost more than small fills.
    def ones(self, shape, dtype):
        out = np.empty(shape, dtype=dtype)
        out.fill(1)
        return out

    def full(self, shape, value, dtype):
        out = np.empty(shape, dtype=dtype)
        out.fill(value)
        return out

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
        out = np.sqrt(x, out=np.empty_like(x))  # an array even for 0-d x (a bare ufunc returns a scalar)
        return np.divide(1, out, out=out)

    def erf(self, x):
        return _erf_function()(x)

    def sigmoid(self, x):
        # 1 / (1 + e^-x): e^-x overflows to inf for very negative x, giving the correct limit 0, so the
        # overflow warning is silenced rather than paying for a branch per element.
        with np.errstate(over="ignore"):
            out = np.negative(x, out=np.empty_like(x))  # an array even for 0-d x
            np.exp(out, out=out)
            out += 1
            return np.reciprocal(out, out=out)

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
    # The ufuncs' reduce directly: np.sum & co. add a few Python-level wrapper calls per reduction.
    def sum(self, x, axis, keepdims):
        return np.add.reduce(x, axis=axis, keepdims=keepdims)

    def max(self, x, axis, keepdims):
        return np.maximum.reduce(x, axis=axis, keepdims=keepdims)

    def min(self, x, axis, keepdims):
        return np.minimum.reduce(x, axis=axis, keepdims=keepdims)

    def argmax(self, x, axis, keepdims):
        return np.argmax(x, axis=axis, keepdims=keepdims)

    def argmin(self, x, axis, keepdims):
        return np.argmin(x, axis=axis, keepdims=keepdims)

    def logsumexp(self, x, axis, keepdims):
        shift = np.maximum.reduce(x, axis=axis, keepdims=True)
        # A row of -inf has no finite maximum; shifting by 0 keeps the result -inf instead of NaN.
        shift = np.where(np.isfinite(shift), shift, 0)
        out = np.log(np.add.reduce(np.exp(x - shift), axis=axis, keepdims=True)) + shift
        return out if keepdims else np.squeeze(out, axis=axis)

    def softmax(self, x, axis):
        e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))
        e /= np.add.reduce(e, axis=axis, keepdims=True)
        return e

    def log_softmax(self, x, axis):
        shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
        shifted -= np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))
        return shifted

    # -- linear algebra -------------------------------------------------------------------------
    matmul = staticmethod(np.matmul)

    # -- shape movement -------------------------------------------------------------------------
    # The array methods, not np.reshape/np.transpose: same result, without a Python-level wrapper.
    def reshape(self, x, shape):
        return x.reshape(shape)

    def transpose(self, x, axes):
        return x.transpose(axes)

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
        return out * (grad - np.add.reduce(grad * out, axis=axis, keepdims=True))

    def log_softmax_backward(self, grad, out, axis):
        return grad - np.exp(out) * np.add.reduce(grad, axis=axis, keepdims=True)

    # -- sliding windows (conv/pool, nn engineer) ----------------------------------------------------
    # Generic over the trailing ``len(window)`` axes. ``sliding_windows`` returns a read-only strided
    # view (no copy); ``fold_windows`` is its adjoint (overlapping windows accumulate). Backends whose
    # arrays support ``as_strided`` get both for free; others override them.
    def sliding_windows(self, x, window, stride, dilation):
        """View of ``x`` (..., *spatial) with shape (..., *window, *out): x[..., o*s + k*d]."""
        nd = len(window)
        spatial, lead = x.shape[-nd:], x.shape[:-nd]
        out = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(spatial, window, stride, dilation))
        strides = x.strides[-nd:]
        shape = lead + tuple(window) + out
        new_strides = (x.strides[:-nd] + tuple(st * d for st, d in zip(strides, dilation))
                       + tuple(st * s for st, s in zip(strides, stride)))
        return np.lib.stride_tricks.as_strided(x, shape, new_strides, writeable=False)

    def fold_windows(self, cols, spatial, stride, dilation):
        """Sum ``cols`` (..., *window, *out) back into an array (..., *spatial): the adjoint above."""
        import itertools

        nd = len(spatial)
        window, out_shape = cols.shape[-2 * nd:-nd], cols.shape[-nd:]
        lead = cols.shape[:-2 * nd]
        result = np.zeros(lead + tuple(spatial), dtype=cols.dtype)
        for k in itertools.product(*(range(n) for n in window)):
            target = tuple(slice(ki * d, ki * d + s * (o - 1) + 1, s)
                           for ki, d, s, o in zip(k, dilation, stride, out_shape))
            result[(Ellipsis,) + target] += cols[(Ellipsis,) + k + (slice(None),) * nd]
        return result

    # == BatchNorm kernels (issue 4) ==============================================================
    # Optional capabilities used by ``minigrad.ops.batchnorm``; other backends may override them with
    # the same signatures (Numba: ``numba_backend/batchnorm.py``; a CuPy backend must
    # provide ``batch_norm_forward`` and ``batch_norm_backward`` on device arrays, or inherit these,
    # which only use ``self.xp``-compatible calls). ``x`` is viewed as (N, C, S), S = prod(spatial);
    # statistics are per channel (axis 1), returned as float64 arrays of shape (C,).
    def batch_norm_forward(self, x, weight, bias, eps):
        """Training-mode BatchNorm: ``(out, mean, var)`` with the biased batch variance.

        The data are centred on a first estimate of the mean rounded to x's dtype (exact for values near
        it); the remainder E[d] is then summed from the small centred values and folded into the shift, so
        a float32 channel with a large mean and a tiny spread normalises accurately. Sums are float64
        (see ``_bn_channel_sum``). The variance is never < 0.
        """
        xp = self.xp
        x3 = x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))
        m = x3.shape[0] * x3.shape[2]
        # A first estimate of the mean from float32 blocks (4x faster than a float64-accumulating np.sum),
        # then the exact remainder E[d] from the centred data, which are small, so their sums are accurate.
        mean_x = (self._bn_channel_sum(x3) / m).astype(x.dtype)
        result = xp.empty(x.shape, dtype=x.dtype)  # owns its memory (a reshaped view would be copied)
        d = xp.subtract(x3, mean_x[None, :, None], out=result.reshape(x3.shape))
        rest = self._bn_channel_sum(d) / m  # what x - mean_x still has to lose: E[d]
        mean = mean_x + rest
        var = self._bn_channel_sum(d, d) / m - rest * rest
        var = xp.maximum(var, 0.0)
        scale = 1.0 / xp.sqrt(var + eps)
        if weight is not None:
            scale = scale * weight
        shift = -rest * scale
        if bias is not None:
            shift = shift + bias
        # d becomes the output in place: (d - rest) * scale + bias == d * scale + shift.
        xp.multiply(d, scale.astype(x.dtype)[None, :, None], out=d)
        xp.add(d, shift.astype(x.dtype)[None, :, None], out=d)
        return result, mean, var

    def batch_norm_backward(self, grad, x, mean, invstd, weight):
        """Closed-form BatchNorm backward: ``(dx, dweight, dbias)``; dweight/dbias are float64 (C,).

        dx = w * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)), sums over all axes but 1.
        """
        xp = self.xp
        x3 = x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))
        dy = grad.reshape(x3.shape)
        m = x3.shape[0] * x3.shape[2]
        mean_x = mean.astype(x.dtype)
        rest = mean - mean_x
        result = xp.empty(x.shape, dtype=x.dtype)
        d = xp.subtract(x3, mean_x[None, :, None], out=result.reshape(x3.shape))  # xhat = (d - rest) * invstd
        dbias = self._bn_channel_sum(dy)
        dweight = invstd * (self._bn_channel_sum(dy, d) - rest * dbias)
        k = invstd if weight is None else invstd * weight
        u = invstd * dweight / m
        v = dbias / m - rest * u
        # dx = k * (dy - (d * u + v)), computed in d's memory.
        xp.multiply(d, u.astype(x.dtype)[None, :, None], out=d)
        xp.add(d, v.astype(x.dtype)[None, :, None], out=d)
        xp.subtract(dy, d, out=d)
        xp.multiply(d, k.astype(x.dtype)[None, :, None], out=d)
        return result, dweight, dbias

    def _bn_channel_sum(self, a, b=None, rows: int = 16):
        """Per-channel float64 sum of a * b (or of a) over (N, C, S) arrays.

        einsum accumulates along N naively in a's dtype (float32 error grows with N); summing blocks of
        ``rows`` rows natively and the block sums in float64 is nearly as fast and keeps ~1e-8 accuracy.
        """
        xp = self.xp
        n, c = a.shape[0], a.shape[1]
        k = n // rows
        arrays = (a,) if b is None else (a, b)
        total = xp.zeros(c, dtype=xp.float64)
        if k:
            blocks = [t[: k * rows].reshape(k, rows, c, -1) for t in arrays]
            spec = ",".join(["kncs"] * len(arrays)) + "->kc"
            total += xp.sum(xp.einsum(spec, *blocks), axis=0, dtype=xp.float64)
        if k * rows < n:
            spec = ",".join(["ncs"] * len(arrays)) + "->c"
            total += xp.einsum(spec, *(t[k * rows :] for t in arrays))
        return total


    # -- softmax cross-entropy (fused capability; Numba engineer) ------------------------------------
    # ``logits`` is (N, C) float, ``targets`` (N,) integers in [0, C). The forward returns the per-row
    # loss and the log-probabilities, which the backward reuses: d loss_i / d logits_i = softmax - onehot.
    def _check_targets(self, logits, targets):
        """``targets`` as a C-contiguous int64 array, checked against ``logits``' shape."""
        targets = np.asarray(targets)
        if logits.ndim != 2 or targets.shape != logits.shape[:1]:
            raise ValueError(
                f"softmax_cross_entropy: expects logits (N, C) and targets (N,), got {logits.shape} and "
                f"{targets.shape}")
        if targets.dtype.kind not in "iu":
            raise TypeError(f"softmax_cross_entropy: targets must be integers, got {targets.dtype}")
        if targets.size and (targets.min() < 0 or targets.max() >= logits.shape[1]):
            raise IndexError(
                f"softmax_cross_entropy: a target is outside [0, {logits.shape[1]}): "
                f"min {targets.min()}, max {targets.max()}")
        return np.ascontiguousarray(targets, dtype=np.int64)

    def softmax_cross_entropy_forward(self, logits, targets):
        """(loss_per_row, log_probs): -log_softmax(logits)[i, targets[i]] and log_softmax(logits)."""
        targets = self._check_targets(logits, targets)
        log_probs = self.log_softmax(logits, -1)
        loss = -np.take_along_axis(log_probs, targets[:, None], axis=1)[:, 0]
        return loss, log_probs

    def softmax_cross_entropy_backward(self, grad_per_row, log_probs, targets):
        """grad_per_row[i] * (softmax(logits)[i] - onehot(targets[i])), softmax = exp(log_probs)."""
        targets = self._check_targets(log_probs, targets)
        out = np.exp(log_probs)
        out[np.arange(out.shape[0]), targets] -= 1
        out *= np.asarray(grad_per_row, dtype=log_probs.dtype).reshape(-1, 1)
        return out
