"""The NumPy reference backend: it implements the whole backend protocol.

The protocol (documented once, in ``docs/backends.md``) is a set of methods that take and return the
backend's native arrays. Other backends subclass this one and override what they do better. The BatchNorm
kernels, tuned and tiled, are in ``batchnorm.py``.
"""

from __future__ import annotations

import math

import numpy as np

from . import special
from .batchnorm import BatchNormKernels

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


_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}  # to select floats by bit masks


class NumpyBackend(BatchNormKernels):
    """Arrays are ``numpy.ndarray``; every protocol method is implemented with NumPy."""

    name = "numpy"
    xp = np
    array_type = np.ndarray
    host_memory = True  # arrays live in host memory (False for a device backend: Tensor.cpu() moves them)
    # Element count above which JIT backends may go parallel; unused by NumPy but part of the protocol.
    parallel_threshold = 1 << 15

    def __init__(self) -> None:
        self._rng = self.xp.random.default_rng()

    # -- availability and description -------------------------------------------------------------
    @classmethod
    def check_available(cls) -> None:
        """Raise ``ImportError``/``RuntimeError`` with a how-to-fix message if unusable."""

    def describe(self) -> str:
        return f"NumPy {np.__version__}"

    # -- creation and transfer --------------------------------------------------------------------
    def asarray(self, data, dtype=None):
        return self.xp.asarray(data, dtype=dtype)

    def from_numpy(self, array: np.ndarray):
        """A backend array holding a copy of a host array."""
        return np.array(array, copy=True)

    def to_numpy(self, array) -> np.ndarray:
        """A host ``numpy.ndarray`` view or copy of a backend array."""
        return np.asarray(array)

    def from_dlpack(self, obj):
        """A backend array sharing memory with a DLPack producer in this backend's memory (no copy)."""
        return self.xp.from_dlpack(obj)

    def copy(self, array):
        return array.copy()

    def astype(self, array, dtype):
        return array.astype(dtype)

    def zeros(self, shape, dtype):
        return self.xp.zeros(shape, dtype=dtype)

    def ones(self, shape, dtype):
        return self.full(shape, 1, dtype)

    # empty + fill: np.ones and np.full are Python-level wrappers that cost more than small fills.
    def full(self, shape, value, dtype):
        out = self.xp.empty(shape, dtype=dtype)
        out.fill(value)
        return out

    def empty(self, shape, dtype):
        return self.xp.empty(shape, dtype=dtype)

    def arange(self, start, stop, step, dtype):
        return self.xp.arange(start, stop, step, dtype=dtype)

    def linspace(self, start, stop, num, dtype):
        return self.xp.linspace(start, stop, num, dtype=dtype)

    def eye(self, n, m, dtype):
        return self.xp.eye(n, m, dtype=dtype)

    # -- random numbers -----------------------------------------------------------------------------
    def manual_seed(self, seed: int) -> None:
        self._rng = self.xp.random.default_rng(seed)

    def get_rng_state(self) -> dict:
        """The generator's state as plain JSON-able data."""
        return self._rng.bit_generator.state

    def set_rng_state(self, state: dict) -> None:
        self._rng.bit_generator.state = state

    def rand(self, shape, dtype):
        return self._rng.random(shape, dtype=self.xp.float64).astype(dtype, copy=False)

    def randn(self, shape, dtype):
        return self._rng.standard_normal(shape, dtype=self.xp.float64).astype(dtype, copy=False)

    def randint(self, low, high, shape, dtype):
        return self._rng.integers(low, high, size=shape, dtype=dtype)

    def permutation(self, n):
        return self._rng.permutation(n)

    # -- elementwise, unary -------------------------------------------------------------------------
    negative = staticmethod(np.negative)
    abs = staticmethod(np.abs)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sqrt = staticmethod(np.sqrt)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    tanh = staticmethod(np.tanh)
    log1p = staticmethod(np.log1p)
    expm1 = staticmethod(np.expm1)
    log2 = staticmethod(np.log2)
    log10 = staticmethod(np.log10)
    square = staticmethod(np.square)
    reciprocal = staticmethod(np.reciprocal)
    floor = staticmethod(np.floor)
    ceil = staticmethod(np.ceil)
    round = staticmethod(np.round)  # noqa: A003 - half to even, as PyTorch's round
    trunc = staticmethod(np.trunc)
    tan = staticmethod(np.tan)
    asin = staticmethod(np.arcsin)
    acos = staticmethod(np.arccos)
    atan = staticmethod(np.arctan)
    sinh = staticmethod(np.sinh)
    cosh = staticmethod(np.cosh)
    asinh = staticmethod(np.arcsinh)
    acosh = staticmethod(np.arccosh)
    atanh = staticmethod(np.arctanh)
    sinc = staticmethod(np.sinc)  # sin(pi x) / (pi x), 1 at 0

    def sign(self, x):
        """-1, 0 or 1, and 0 for NaN as in PyTorch (NumPy's sign gives NaN); a bool tensor is its own sign."""
        xp = self.xp
        if x.dtype.kind == "b":
            return x.copy()
        out = xp.sign(x)
        return xp.where(xp.isnan(out), xp.zeros((), out.dtype), out) if out.dtype.kind == "f" else out

    def rsqrt(self, x):
        xp = self.xp
        out = xp.sqrt(x, out=xp.empty_like(x))  # an array even for 0-d x (a bare ufunc returns a scalar)
        return xp.divide(1, out, out=out)

    def erf(self, x):
        return _erf_function()(x)

    def sigmoid(self, x):
        xp = self.xp
        # 1 / (1 + e^-x): e^-x overflows to inf for very negative x, giving the correct limit 0, so the
        # overflow warning is silenced rather than paying for a branch per element.
        with self._errstate(over="ignore"):
            out = xp.negative(x, out=xp.empty(x.shape, x.dtype))  # an array even for 0-d x
            xp.exp(out, out=out)
            out += 1
            return xp.reciprocal(out, out=out)

    def relu(self, x):
        return self.xp.maximum(x, 0)

    def leaky_relu(self, x, negative_slope):
        return self.xp.where(x > 0, x, x * negative_slope)

    def gelu(self, x, approximate: str):
        if approximate == "tanh":
            inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
            return 0.5 * x * (1 + self.xp.tanh(inner))
        return 0.5 * x * (1 + self.erf(x * (1 / math.sqrt(2))))

    def softplus(self, x, beta, threshold):
        xp = self.xp
        bx = x * beta if beta != 1 else x
        soft = xp.logaddexp(0, bx)
        if beta != 1:
            soft = soft / beta
        return xp.where(bx > threshold, x, soft)

    def silu(self, x):
        return x * self.sigmoid(x)

    def elu(self, x, alpha):
        xp = self.xp
        return xp.where(x > 0, x, xp.expm1(xp.minimum(x, 0)) * x.dtype.type(alpha))

    def hardtanh(self, x, min_val, max_val):
        return self.xp.clip(x, x.dtype.type(min_val), x.dtype.type(max_val))

    def clip(self, x, low, high):
        return self.xp.clip(x, low, high)

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
    logical_xor = staticmethod(np.logical_xor)
    isnan = staticmethod(np.isnan)
    isinf = staticmethod(np.isinf)
    isfinite = staticmethod(np.isfinite)
    where = staticmethod(np.where)
    arctan2 = staticmethod(np.arctan2)
    hypot = staticmethod(np.hypot)
    logaddexp = staticmethod(np.logaddexp)
    fmod = staticmethod(np.fmod)

    def remainder(self, a, b):
        """a - b * floor(a / b), PyTorch's: NumPy's remainder gives a zero remainder the sign of b, PyTorch's
        (and this) the sign of a, as fmod does."""
        xp = self.xp
        if (a if hasattr(a, "dtype") else b).dtype.kind != "f":  # the op gives both operands one kind
            return xp.remainder(a, b)
        mod = xp.fmod(a, b)
        return xp.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)

    floor_divide = staticmethod(np.floor_divide)  # for floats the same steps as PyTorch's (fmod, then snap)

    def trunc_divide(self, a, b):
        """a / b rounded toward zero, PyTorch's ``div(a, b, rounding_mode="trunc")``: trunc(a / b) for floats,
        exact for integers."""
        xp = self.xp
        if (a if hasattr(a, "dtype") else b).dtype.kind == "f":
            return xp.trunc(xp.true_divide(a, b))
        q = xp.floor_divide(a, b)
        return q + ((q * b != a) & ((a < 0) != (b < 0)))  # floor is one below where the division is inexact

    def xlogy(self, x, y):
        """x * log(y), and 0 where x == 0 unless y is NaN."""
        xp = self.xp
        # the log in the result's dtype: log of a float32 y promoted afterwards is 5e-8 off in float64
        y = y.astype(xp.result_type(x, y), copy=False)
        with self._errstate(divide="ignore", invalid="ignore"):  # 0 * log(0) is replaced by 0
            return xp.where((x == 0) & ~xp.isnan(y), xp.zeros((), x.dtype), x * xp.log(y))

    # More binary elementwise math and bit operations (PyTorch's fmax, copysign, gcd, bitwise_and, ...)
    fmax = staticmethod(np.fmax)
    fmin = staticmethod(np.fmin)
    copysign = staticmethod(np.copysign)
    signbit = staticmethod(np.signbit)
    nextafter = staticmethod(np.nextafter)
    gcd = staticmethod(np.gcd)
    lcm = staticmethod(np.lcm)
    bitwise_and = staticmethod(np.bitwise_and)
    bitwise_or = staticmethod(np.bitwise_or)
    bitwise_xor = staticmethod(np.bitwise_xor)
    bitwise_not = staticmethod(np.invert)
    left_shift = staticmethod(np.left_shift)
    right_shift = staticmethod(np.right_shift)

    # Special functions, written once against ``xp`` (backends/numpy_backend/special.py): no SciPy needed.
    def erfc(self, x):
        return special.erfc(self.xp, x)

    def erfinv(self, x):
        return special.erfinv(self.xp, x)

    def lgamma(self, x):
        return special.lgamma(self.xp, x)

    def digamma(self, x):
        return special.digamma(self.xp, x)

    def polygamma(self, n: int, x):
        return special.polygamma(self.xp, n, x)

    def i0(self, x):
        return special.i0(self.xp, x)

    def i1(self, x):
        return special.i1(self.xp, x)

    def igamma(self, a, x):
        return special.igamma(self.xp, a, x)

    def igammac(self, a, x):
        return special.igammac(self.xp, a, x)

    def heaviside(self, x, values):
        """PyTorch's step: ``values`` where x == 0, else x > 0 (so 0 at NaN; NumPy's heaviside gives NaN)."""
        xp = self.xp
        return xp.where(x == 0, values, x > 0).astype(xp.result_type(x, values), copy=False)

    def logit(self, x, eps):
        """log(x / (1 - x)), of x clamped to [eps, 1 - eps] unless eps is None (NaN stays NaN)."""
        xp = self.xp
        if eps is not None:
            x = xp.clip(x, eps, 1 - eps)
        with self._errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, and NaN outside [0, 1]
            out = xp.subtract(1, x, out=xp.empty_like(x))  # in place from here: one array rather than three
            xp.divide(x, out, out=out)
            return xp.log(out, out=out)

    def unique(self, x):
        """(sorted distinct values, the index of each element's value among them, each value's count), flat."""
        values, inverse, counts = self.xp.unique(x.reshape(-1), return_inverse=True, return_counts=True)
        return values, self.xp.asarray(inverse, dtype=self.xp.int64), self.xp.asarray(counts, dtype=self.xp.int64)

    def nonzero(self, x):
        """The int64 indices (count, ndim) of x's non-zero elements, in row-major order."""
        xp = self.xp
        return xp.stack([xp.asarray(i, dtype=xp.int64) for i in xp.nonzero(x)], axis=-1)

    # -- reductions -----------------------------------------------------------------------------
    # The ufuncs' reduce directly: np.sum & co. add a few Python-level wrapper calls per reduction.
    def sum(self, x, axis, keepdims):
        return self.xp.add.reduce(x, axis=axis, keepdims=keepdims)

    def max(self, x, axis, keepdims):
        return self.xp.maximum.reduce(x, axis=axis, keepdims=keepdims)

    def min(self, x, axis, keepdims):
        return self.xp.minimum.reduce(x, axis=axis, keepdims=keepdims)

    def prod(self, x, axis, keepdims):
        return self.xp.multiply.reduce(x, axis=axis, keepdims=keepdims)

    def all(self, x, axis, keepdims):
        return self.xp.logical_and.reduce(x, axis=axis, keepdims=keepdims)

    def any(self, x, axis, keepdims):
        return self.xp.logical_or.reduce(x, axis=axis, keepdims=keepdims)

    def cumsum(self, x, axis, reverse):
        """Running sums along one axis; ``reverse`` sums from the end (the adjoint of the forward sum)."""
        xp = self.xp
        if not reverse:
            return xp.cumsum(x, axis=axis)
        return xp.flip(xp.cumsum(xp.flip(x, axis), axis=axis), axis)

    def argmax(self, x, axis, keepdims):
        return self.xp.argmax(x, axis=axis, keepdims=keepdims)

    def argmin(self, x, axis, keepdims):
        return self.xp.argmin(x, axis=axis, keepdims=keepdims)

    def logsumexp(self, x, axis, keepdims):
        xp = self.xp
        shift = xp.maximum.reduce(x, axis=axis, keepdims=True)
        # A row of -inf has no finite maximum; shifting by 0 keeps the result -inf instead of NaN.
        shift = xp.where(xp.isfinite(shift), shift, 0)
        with self._errstate(divide="ignore"):  # log(0) = -inf is the answer for such a row
            out = xp.log(xp.add.reduce(xp.exp(x - shift), axis=axis, keepdims=True)) + shift
        return out if keepdims else xp.squeeze(out, axis=axis)

    def softmax(self, x, axis):
        xp = self.xp
        e = xp.exp(x - xp.maximum.reduce(x, axis=axis, keepdims=True))
        e /= xp.add.reduce(e, axis=axis, keepdims=True)
        return e

    def log_softmax(self, x, axis):
        xp = self.xp
        shifted = x - xp.maximum.reduce(x, axis=axis, keepdims=True)
        shifted -= xp.log(xp.add.reduce(xp.exp(shifted), axis=axis, keepdims=True))
        return shifted

    # -- linear algebra -------------------------------------------------------------------------
    matmul = staticmethod(np.matmul)

    # Decompositions of (..., m, n) stacks, through ``xp.linalg`` (CuPy's takes the same batched stacks). A
    # singular or non-definite input raises ``xp.linalg.LinAlgError`` on NumPy; CuPy returns NaN instead
    # unless ``cupyx.errstate(linalg="raise")``.
    def inv(self, a):
        return self.xp.linalg.inv(a)

    def slogdet(self, a):
        """(sign, log|det|) of each matrix."""
        return self.xp.linalg.slogdet(a)

    def det(self, a):
        return self.xp.linalg.det(a)

    def solve(self, a, b):
        """X with a @ X = b; ``b`` is (..., n, k) with ``a``'s batch shape."""
        return self.xp.linalg.solve(a, b)

    def cholesky(self, a):
        """The lower Cholesky factor; only the lower triangle of ``a`` is read."""
        return self.xp.linalg.cholesky(a)

    def qr(self, a, mode):
        """(Q, R) for ``mode`` "reduced" or "complete"; R alone for "r"."""
        return self.xp.linalg.qr(a, mode=mode)

    def eigh(self, a, uplo):
        """(ascending eigenvalues, eigenvectors as columns) of each symmetric matrix, from triangle ``uplo``."""
        return self.xp.linalg.eigh(a, UPLO=uplo)

    def svd(self, a, full_matrices):
        """(U, S, Vh), singular values descending."""
        return self.xp.linalg.svd(a, full_matrices=full_matrices)

    # Triangular solves, LU and the matrix exponential in array ops (NumPy's linalg has none of them), so
    # CuPy runs the same code on the device.
    def solve_triangular(self, a, b, upper, unitriangular):
        """X with tri(a) @ X = b by substitution, one row at a time (a zero diagonal gives inf/NaN, as LAPACK's
        trtrs without its check); ``a`` (..., n, n) and ``b`` (..., n, k) of one batch shape."""
        xp = self.xp
        n = a.shape[-1]
        x = xp.array(b, copy=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            for i in (range(n - 1, -1, -1) if upper else range(n)):
                known = slice(i + 1, n) if upper else slice(0, i)
                row = x[..., i:i + 1, :]
                if (n - i - 1 if upper else i) > 0:
                    row = row - xp.matmul(a[..., i:i + 1, known], x[..., known, :])
                if not unitriangular:
                    row = row / a[..., i:i + 1, i:i + 1]
                x[..., i:i + 1, :] = row
        return x

    def lu_factor(self, a):
        """(LU packed, 1-based int32 pivots) of each (m, n) matrix by Gaussian elimination with partial pivoting,
        LAPACK getrf's choice of pivot (the first largest magnitude); a zero pivot column is left as is."""
        xp = self.xp
        *batch, m, n = a.shape
        k = min(m, n)
        count = math.prod(batch)
        lu = xp.array(a, copy=True).reshape(count, m, n)
        rows = xp.arange(count)
        piv = xp.empty((count, k), dtype=np.int32)
        for j in range(k):
            p = xp.argmax(xp.abs(lu[:, j:, j]), axis=-1) + j
            piv[:, j] = p + 1
            top, other = lu[rows, j, :].copy(), lu[rows, p, :].copy()
            lu[rows, p, :] = top
            lu[rows, j, :] = other
            if j + 1 < m:
                pivot = lu[:, j, j]
                nonzero = pivot != 0
                mult = lu[:, j + 1:, j] / xp.where(nonzero, pivot, 1)[:, None]
                mult = xp.where(nonzero[:, None], mult, lu[:, j + 1:, j])
                lu[:, j + 1:, j] = mult
                lu[:, j + 1:, j + 1:] -= mult[:, :, None] * lu[:, j:j + 1, j + 1:]
        return lu.reshape(*batch, m, n), piv.reshape(*batch, k)

    def lu_permutation(self, pivots, m):
        """The row order ``perm`` (int64, (..., m)) with A[perm] = L U, from LAPACK's sequential row swaps."""
        xp = self.xp
        *batch, k = pivots.shape
        piv = pivots.reshape(math.prod(batch), k).astype(np.int64) - 1
        perm = xp.broadcast_to(xp.arange(m), (piv.shape[0], m)).copy()
        rows = xp.arange(piv.shape[0])
        for j in range(k):
            p = piv[:, j]
            top, other = perm[:, j].copy(), perm[rows, p].copy()
            perm[rows, p] = top
            perm[:, j] = other
        return perm.reshape(*batch, m)

    _PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
               129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0,
               960960.0, 16380.0, 182.0, 1.0)

    def matrix_exp(self, a):
        """exp(a) of each square matrix: scaling and squaring with the degree-13 Padé approximant (Higham 2005),
        the scaling 2^s per matrix from its 1-norm (theta_13 = 5.37)."""
        xp = self.xp
        n = a.shape[-1]
        if n == 0 or a.size == 0:
            return xp.array(a, copy=True)
        b = self._PADE13
        norm1 = xp.max(xp.sum(xp.abs(a), axis=-2), axis=-1)
        with np.errstate(divide="ignore"):
            s = xp.maximum(xp.ceil(xp.log2(norm1 / 5.371920351148152)), 0)
        s = xp.where(xp.isfinite(s), s, 0).astype(np.int64)
        x = a / (2.0 ** s)[..., None, None].astype(a.dtype)
        eye = xp.eye(n, dtype=a.dtype)
        x2 = xp.matmul(x, x)
        x4 = xp.matmul(x2, x2)
        x6 = xp.matmul(x4, x2)
        u = xp.matmul(x, xp.matmul(x6, b[13] * x6 + b[11] * x4 + b[9] * x2)
                      + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * eye)
        v = xp.matmul(x6, b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 + b[0] * eye
        r = xp.linalg.solve(v - u, v + u)
        for step in range(int(s.max()) if s.size else 0):
            r = xp.where((s > step)[..., None, None], xp.matmul(r, r), r)
        return r

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

    def take(self, x, index, axis: int):
        """``x``'s entries at the 1-D integer ``index`` along ``axis`` (``np.take``: 3x faster than the advanced
        index ``x[..., index]`` along a last axis)."""
        return self.xp.take(x, index, axis=axis)

    def setitem(self, x, index, value) -> None:
        x[index] = value

    def pad(self, x, widths, value):
        return self.xp.pad(x, widths, mode="constant", constant_values=value)

    def scatter_add(self, shape, index, values, dtype):
        """A zero array of ``shape`` with ``values`` added at ``index``; duplicates accumulate."""
        out = self.xp.zeros(shape, dtype=dtype)
        self._add_at(out, index, values)
        return out

    def gather(self, x, index, axis):
        """``x[..., index[i, j, k], ...]`` along ``axis`` (PyTorch's ``gather``): the output has ``index``'s
        shape, which may be smaller than ``x``'s in the other axes."""
        return x[self._along(index, axis)]

    def scatter_add_along(self, shape, index, values, axis, dtype):
        """Zeros of ``shape`` with ``values`` added at ``index`` along ``axis`` (the adjoint of ``gather``;
        duplicate indices accumulate)."""
        out = self.xp.zeros(shape, dtype=dtype)
        self._add_at(out, self._along(index, axis), values)
        return out

    def _along(self, index, axis: int) -> tuple:
        """The advanced index that picks ``index``'s entries along ``axis`` and the matching positions elsewhere."""
        grid = list(self.xp.ogrid[tuple(slice(n) for n in index.shape)])
        grid[axis] = index
        return tuple(grid)

    @staticmethod
    def _add_at(out, index, values) -> None:
        """out[index] += values in place, duplicate indices accumulating."""
        np.add.at(out, index, values)

    def argsort(self, x, axis, descending):
        """Stable sort order along ``axis``: ties keep their order, NaN counts as the largest value."""
        xp = self.xp
        if not descending:
            return xp.argsort(x, axis=axis, kind="stable")
        # Ascending on the reversed axis puts tied elements last-first; reversing the order restores them.
        reversed_order = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
        return (x.shape[axis] - 1) - xp.flip(reversed_order, axis)

    def ascontiguous(self, x):
        return self.xp.ascontiguousarray(x)

    def add_scaled_(self, out, x, alpha):
        """out += alpha * x, in place (optimizer updates); returns ``out``."""
        xp = self.xp
        return xp.add(out, xp.multiply(x, alpha), out=out)

    # -- optimizer updates, in place (PyTorch's formulas; minigrad.optim documents them) ----------------
    def sgd_step_(self, w, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
        """One SGD step on ``w`` and its momentum buffer ``buf`` (``None`` without momentum; with ``first``, an
        uninitialised buffer that takes the first step's gradient)."""
        d_p = self.negative(grad) if maximize else grad
        if weight_decay != 0:
            d_p = self.add(d_p, self.multiply(w, weight_decay))
        if momentum != 0:
            if first:
                buf[...] = d_p
            else:
                self.multiply(buf, momentum, out=buf)
                self.add_scaled_(buf, d_p, 1 - dampening)
            d_p = self.add(d_p, self.multiply(buf, momentum)) if nesterov else buf
        self.add_scaled_(w, d_p, -lr)

    def adam_step_(self, w, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay,
                   decoupled, amsgrad, step):
        """One Adam step (AdamW's with ``decoupled``) on ``w`` and its moments; ``max_exp_avg_sq`` only with
        ``amsgrad``. ``step`` counts from 1."""
        if weight_decay != 0:
            if decoupled:
                self.multiply(w, 1 - lr * weight_decay, out=w)
            else:
                grad = self.add(grad, self.multiply(w, weight_decay))
        self.multiply(exp_avg, beta1, out=exp_avg)
        self.add_scaled_(exp_avg, grad, 1 - beta1)
        self.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
        self.add_scaled_(exp_avg_sq, self.multiply(grad, grad), 1 - beta2)
        second = exp_avg_sq
        if amsgrad:
            second = self.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = self.add(self.divide(self.sqrt(second), math.sqrt(1 - beta2 ** step)), eps)
        self.add_scaled_(w, self.divide(exp_avg, denom), -lr / (1 - beta1 ** step))

    # -- fused backward kernels (each the forward of a differentiable backward op) -----------------
    def sigmoid_backward(self, grad, out):
        return grad * out * (1 - out)

    def tanh_backward(self, grad, out):
        return grad * (1 - out * out)

    # (grad, x) for these: their derivative needs the input, not the output.
    def relu_backward(self, grad, x):
        """grad * (x > 0): relu'(0) = 0."""
        return grad * (x > 0)

    def leaky_relu_backward(self, grad, x, negative_slope):
        """grad * (1 if x > 0 else negative_slope)."""
        return grad * self.xp.where(x > 0, x.dtype.type(1), x.dtype.type(negative_slope))

    def gelu_backward(self, grad, x, approximate: str):
        """grad * gelu'(x), exact (Phi(x) + x phi(x)) or for the tanh approximation."""
        xp = self.xp
        if approximate == "tanh":
            c = math.sqrt(2 / math.pi)
            t = xp.tanh((x + x * x * x * 0.044715) * c)
            slope = (t + 1) * 0.5 + x * 0.5 * (1 - t * t) * ((x * x * (3 * 0.044715) + 1) * c)
        else:
            cdf = (self.erf(x * (1 / math.sqrt(2))) + 1) * 0.5
            slope = cdf + x * (xp.exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi)))
        return grad * slope

    def softplus_backward(self, grad, x, beta, threshold):
        """grad * (1 if beta * x > threshold else sigmoid(beta * x))."""
        bx = x * beta if beta != 1 else x
        return grad * self.xp.where(bx > threshold, x.dtype.type(1), self.sigmoid(bx))

    def silu_backward(self, grad, x):
        """grad * silu'(x) = grad * s (1 + x (1 - s)), s = sigmoid(x)."""
        s = self.sigmoid(x)
        return grad * (s * (1 + x * (1 - s)))

    def elu_backward(self, grad, x, alpha):
        """grad * (1 if x > 0 else alpha * e ** x)."""
        xp = self.xp
        return grad * xp.where(x > 0, x.dtype.type(1), xp.exp(xp.minimum(x, 0)) * x.dtype.type(alpha))

    def hardtanh_backward(self, grad, x, min_val, max_val):
        """grad * (min_val < x < max_val)."""
        return grad * ((x > min_val) & (x < max_val))

    def softmax_backward(self, grad, out, axis):
        return out * (grad - self.xp.add.reduce(grad * out, axis=axis, keepdims=True))

    def log_softmax_backward(self, grad, out, axis):
        xp = self.xp
        return grad - xp.exp(out) * xp.add.reduce(grad, axis=axis, keepdims=True)

    # -- sliding windows (conv, pooling) ----------------------------------------------------------------
    # Generic over the trailing ``len(window)`` axes. ``sliding_windows`` returns a read-only strided
    # view (no copy); ``unfold_windows`` copies it, zero-padded, into a contiguous array (im2col);
    # ``fold_windows`` is their adjoint (overlapping windows accumulate, padding is dropped). Backends whose
    # arrays support ``as_strided`` get all three for free; others override them.
    def sliding_windows(self, x, window, stride, dilation):
        """View of ``x`` (..., *spatial) with shape (..., *window, *out): x[..., o*s + k*d]."""
        nd = len(window)
        spatial, lead = x.shape[-nd:], x.shape[:-nd]
        out = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(spatial, window, stride, dilation))
        strides = x.strides[-nd:]
        shape = lead + tuple(window) + out
        new_strides = (x.strides[:-nd] + tuple(st * d for st, d in zip(strides, dilation))
                       + tuple(st * s for st, s in zip(strides, stride)))
        return self._as_strided(x, shape, new_strides)

    def unfold_windows(self, x, window, stride, padding, dilation):
        """Every window of ``x`` (..., *spatial) zero-padded by ``padding``: a C-contiguous (..., *window, *out)
        array."""
        return self.sliding_windows(self._zero_padded(x, padding), window, stride, dilation).copy()

    def _zero_padded(self, x, padding):
        """``x`` with ``padding`` zeros on each side of its trailing ``len(padding)`` axes (``x`` itself without
        padding)."""
        if not any(padding):
            return x
        nd = len(padding)
        padded = self.xp.zeros(x.shape[:-nd] + tuple(n + 2 * p for n, p in zip(x.shape[-nd:], padding)),
                               x.dtype)  # zeros and one copy: np.pad took 2-5x as long
        padded[(Ellipsis,) + tuple(slice(p, p + n) for p, n in zip(padding, x.shape[-nd:]))] = x
        return padded

    @staticmethod
    def _errstate(**kwargs):
        """NumPy's floating-point warning control, around steps whose inf/NaN results are the answer."""
        return np.errstate(**kwargs)

    @staticmethod
    def _as_strided(x, shape, strides):
        """A read-only view of x's memory with the given shape and strides."""
        return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)

    def fold_windows(self, cols, spatial, stride, dilation, padding=None):
        """Sum ``cols`` (..., *window, *out) back into an array (..., *spatial): the adjoint of
        ``unfold_windows`` (of ``sliding_windows`` without ``padding``). Windows lie on the input padded by
        ``padding``; what falls into the padding is dropped."""
        import itertools

        nd = len(spatial)
        window, out_shape = cols.shape[-2 * nd:-nd], cols.shape[-nd:]
        padding = padding or (0,) * nd
        result = self.xp.zeros(cols.shape[:-2 * nd] + tuple(spatial), dtype=cols.dtype)
        for k in itertools.product(*(range(n) for n in window)):
            # Window positions o whose element k lands inside: 0 <= o * s + k * d - p < n.
            first = [max(0, -((ki * d - p) // s)) for ki, d, p, s in zip(k, dilation, padding, stride)]
            stop = [min(o, (n - 1 - ki * d + p) // s + 1)
                    for o, n, ki, d, p, s in zip(out_shape, spatial, k, dilation, padding, stride)]
            if any(a >= b for a, b in zip(first, stop)):
                continue
            target = tuple(slice(a * s + ki * d - p, (b - 1) * s + ki * d - p + 1, s)
                           for a, b, ki, d, p, s in zip(first, stop, k, dilation, padding, stride))
            result[(Ellipsis,) + target] += cols[(Ellipsis,) + k + tuple(slice(a, b) for a, b in zip(first, stop))]
        return result

    # The batch-inner layout of convolution: columns (C, *window, N, *out) of an (N, C, *spatial) input, so
    # that (C // groups * kernel size, N * out size) is one matrix per group and a convolution is one GEMM
    # per group instead of one per image and group. Same values as ``unfold_windows``/``fold_windows``,
    # with the batch axis moved inside.
    def unfold_windows_batch_inner(self, x, window, stride, padding, dilation):
        """Every window of ``x`` (N, C, *spatial) zero-padded by ``padding``: a C-contiguous
        (C, *window, N, *out) array."""
        nd = len(window)
        view = self.sliding_windows(self._zero_padded(x, padding), window, stride, dilation)  # (N, C, *window, *out)
        axes = (1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, 2 + 2 * nd))
        return self.xp.ascontiguousarray(view.transpose(axes))

    def fold_windows_batch_inner(self, cols, spatial, stride, dilation, padding=None):
        """Sum batch-inner columns ``cols`` (C, *window, N, *out) back into an array (N, C, *spatial): the
        adjoint of ``unfold_windows_batch_inner``."""
        nd = len(spatial)
        axes = (1 + nd, 0) + tuple(range(1, 1 + nd)) + tuple(range(2 + nd, 2 + 2 * nd))
        return self.fold_windows(cols.transpose(axes), spatial, stride, dilation, padding)

    # Max pooling over the last two axes of (N, C, H, W), padding counted as -inf. The forward also returns
    # each window's argmax as its slot in the window (int32, i * kw + j), which is all the backward needs.
    # As PyTorch, a value is taken when it is greater than the best so far or NaN: the first maximum wins, and
    # in a window with NaNs the last NaN. Both run one pass per window slot without ``where``: a selection by
    # a random mask (np.where, copyto's where=) measured several times slower than an arithmetic pass (docs/nn.md).
    def max_pool2d_forward(self, x, kernel, stride, padding, dilation):
        """(maxima, argmax slots), both (N, C, oh, ow)."""
        xp = self.xp
        if any(padding):
            x = self.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding), float("-inf"))
        view = self.sliding_windows(x, kernel, stride, dilation)  # (N, C, kh, kw, oh, ow)
        kw = kernel[1]
        best = view[:, :, 0, 0].copy()
        slot = xp.zeros(best.shape, xp.int32)
        value = xp.empty_like(best)  # each slot's values, copied once so that the passes below run contiguous
        for k in range(1, kernel[0] * kw):
            xp.copyto(value, view[:, :, k // kw, k % kw])
            take = xp.logical_or(xp.greater(value, best), xp.isnan(value))
            xp.maximum(best, value, out=best)  # NaN-propagating: exactly the value taken (or an equal one)
            xp.maximum(slot, xp.multiply(take, xp.int32(k)), out=slot)  # k exceeds every earlier slot
        return best, slot

    def max_pool2d_backward(self, grad, slot, spatial, kernel, stride, padding, dilation):
        """The input gradient of ``max_pool2d_forward``: each ``grad`` entry added at its window's argmax."""
        xp = self.xp
        (h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw) = spatial, kernel, stride, padding, dilation
        oh, ow = grad.shape[2:]
        # Where windows tile the input (stride = kernel, no dilation) every element gets one slot's value,
        # written straight into the output; otherwise every slot's values are added into zeros.
        tiled = (sh, sw) == (kh, kw) and (dh, dw) == (1, 1)
        out = (xp.empty if tiled else xp.zeros)(grad.shape[:2] + (h + 2 * ph, w + 2 * pw), grad.dtype)
        if tiled:  # rows and columns past the last window get nothing
            out[:, :, oh * kh:] = 0
            out[:, :, :, ow * kw:] = 0
        # grad where the slot matches, else +0.0: an AND with all-ones or all-zeros bits, exact for every value.
        ints = _SAME_SIZE_INT[grad.dtype.itemsize]
        bits = grad.view(ints)
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            target = (Ellipsis, slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                      slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
            keep = xp.subtract(0, xp.equal(slot, k), dtype=ints)  # 0 or -1 (all bits set)
            if tiled:
                xp.bitwise_and(bits, keep, out=out[target].view(ints))
            else:
                out[target] += xp.bitwise_and(bits, keep).view(grad.dtype)
        return out[:, :, ph:ph + h, pw:pw + w] if ph or pw else out

    # -- softmax cross-entropy -----------------------------------------------------------------------
    # ``logits`` is (N, C) float, ``targets`` (N,) integers in [0, C). The forward returns the per-row
    # loss and the log-probabilities, which the backward reuses: d loss_i / d logits_i = softmax - onehot.
    def _check_targets(self, logits, targets):
        """``targets`` as a C-contiguous int64 array, checked against ``logits``' shape."""
        xp = self.xp
        targets = xp.asarray(targets)
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
        return xp.ascontiguousarray(targets, dtype=xp.int64)

    def softmax_cross_entropy_forward(self, logits, targets):
        """(loss_per_row, log_probs): -log_softmax(logits)[i, targets[i]] and log_softmax(logits)."""
        targets = self._check_targets(logits, targets)
        log_probs = self.log_softmax(logits, -1)
        loss = -self.xp.take_along_axis(log_probs, targets[:, None], axis=1)[:, 0]
        return loss, log_probs

    def softmax_cross_entropy_backward(self, grad_per_row, log_probs, targets):
        """grad_per_row[i] * (softmax(logits)[i] - onehot(targets[i])), softmax = exp(log_probs)."""
        xp = self.xp
        targets = self._check_targets(log_probs, targets)
        out = xp.exp(log_probs)
        out[xp.arange(out.shape[0]), targets] -= 1
        out *= xp.asarray(grad_per_row, dtype=log_probs.dtype).reshape(-1, 1)
        return out
