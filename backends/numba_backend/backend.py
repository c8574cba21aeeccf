"""``NumbaBackend``: NumPy arrays, with JIT-compiled kernels where fusion or both cores pay.

Every method keeps the NumPy backend's semantics (dtype, shape, NaN handling); each override either runs a
kernel or, for a stated reason, calls the NumPy implementation:

- matmul and everything not overridden here: NumPy/BLAS is already as fast as a JIT loop would be. That
  includes exp and log: their gradients (g * out, g / x) leave nothing to fuse, and NumPy's SIMD exp/log
  beat Numba's scalar libm calls.
- integer/bool dtypes or mixed dtypes: kernels are compiled for float32 and float64 only, and NumPy's type
  promotion is the reference.
- any kernel family below its size in ``numpy_below``: there a kernel call's fixed cost, or NumPy's SIMD
  loops, beat the fusion (measured by ``benchmarks/bench_numba.py --sweep``; docs/backends.md). Binary ops
  with ``out=`` too.
- broadcast (zero-stride) operands of binary ops and reductions, broadcast patterns that do not collapse to
  2-D, non-adjacent reduction axes, and indexing other than integer arrays on leading axes: handling them
  would need a copy or an n-dimensional iteration that NumPy already does well.

Threading policy: ``_threads.py`` (passive OpenMP threads unless the user chose otherwise; docs/backends.md
says why). Kernels go parallel only from ``parallel_threshold`` elements; below, a plain loop runs.

numba is imported only when this backend is instantiated (``import minigrad`` never imports it).
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from ..numpy_backend import NumpyBackend

_INSTALL_HINT = "numba is not installed: pip install 'minigrad[numba]'"


def _is_float(x) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.char in "fd"


def _out_hw(hw, window, stride, padding, dilation) -> tuple[int, int]:
    """Window positions along each of two axes (floor mode)."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in zip(hw, window, stride, padding, dilation))


def _windows_fit(window, out_hw, spatial, stride, dilation, padding) -> bool:
    """Whether ``out_hw`` window positions lie inside ``spatial`` padded by ``padding`` (else the fold kernels
    would index outside it, and NumPy's fold gives its error)."""
    return min(*window, *out_hw) >= 1 and all((k - 1) * d + (o - 1) * s < n + 2 * p for k, o, n, s, d, p
                                              in zip(window, out_hw, spatial, stride, dilation, padding))


def _is_2x2(kernel, stride, padding, dilation) -> bool:
    """The common pooling geometry that has kernels of its own: 2x2 windows, stride 2, no padding or dilation."""
    return (tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and tuple(padding) == (0, 0)
            and tuple(dilation) == (1, 1))


def _contig(x: np.ndarray) -> np.ndarray:
    """A C-contiguous, writeable array (read-only arrays would compile another kernel signature)."""
    # Not np.ascontiguousarray: it turns a 0-d array into shape (1,).
    return x if x.flags.c_contiguous and x.flags.writeable else np.array(x, order="C")


def _broadcast(x: np.ndarray, shape) -> np.ndarray:
    """``x`` itself when it already has ``shape``: np.broadcast_to always returns a read-only view, which
    ``_contig`` would then copy (16 MiB per call at 4096x1024)."""
    return x if x.shape == tuple(shape) else np.broadcast_to(x, shape)


def _has_zero_stride(x: np.ndarray) -> bool:
    return any(s == 0 and n > 1 for s, n in zip(x.strides, x.shape))


def _split_rows(size: int) -> tuple[int, int]:
    """A (rows, cols) view of a flat run: rows for the threads, cols long enough to vectorise."""
    for cols in (4096, 2048, 1024, 512, 256, 128, 64):
        if size % cols == 0:
            return size // cols, cols
    return 1, size


def _binary_method(op: str, ufunc):
    """A binary backend method: NumPy's ufunc for small operands, else the broadcasting kernel."""

    def method(self, a, b, out=None):
        # ``out=`` (in-place updates) always runs NumPy: the kernel writing over an operand measured
        # 0.2-0.6x at 1M-16M elements. Small operands (every op of the MLP step) leave at once too: this
        # runs on every binary op, and each extra Python call here costs ~0.1 us.
        if out is not None:
            return ufunc(a, b, out=out)
        limit = self.numpy_below["binary"]
        if getattr(a, "size", 1) < limit and getattr(b, "size", 1) < limit:
            return ufunc(a, b)
        return self._binary(getattr(self._ew, op), a, b, ufunc)

    method.__name__ = ufunc.__name__
    return method


# The activation kernels of elementwise.py, one row each: backend method -> (kernel, family in
# ``numpy_below``, the kernel's arguments after the arrays: None, "dtype" (the method's one argument in x's
# dtype), a number (a constant in x's dtype) or a function of (x, *the method's arguments); an example of the
# method's arguments). The methods below and ``warmup()`` are made from this table, so a kernel listed here is
# dispatched and compiled by ``warmup()`` alike. Forward kernels take (x, out, *params), fused backward
# kernels (grad, x or y, out, *params).
ACTIVATIONS = {
    "sigmoid": ("sigmoid_forward", "activation", None, ()),
    "tanh": ("tanh_forward", "tanh", None, ()),
    "relu": ("relu_forward", "activation", None, ()),
    "leaky_relu": ("leaky_relu_forward", "activation", "dtype", (0.1,)),
    "gelu": ("gelu_forward", "gelu", lambda x, approximate: (approximate == "tanh",), ("none",)),
    "softplus": ("softplus_forward", "activation", lambda x, beta, threshold: (float(beta), float(threshold)),
                 (1.0, 20.0)),
    "silu": ("silu_forward", "silu", None, ()),
    "elu": ("elu_forward", "activation", "dtype", (1.0,)),
}
ACTIVATION_GRADS = {
    "sigmoid_backward": ("sigmoid_backward", "activation_grad", None, ()),
    "tanh_backward": ("tanh_backward", "activation_grad", None, ()),
    "relu_backward": ("leaky_relu_backward", "activation_grad", 0, ()),  # leaky_relu's with slope 0
    "leaky_relu_backward": ("leaky_relu_backward", "activation_grad", "dtype", (0.1,)),
    "gelu_backward": ("gelu_backward", "gelu", lambda x, approximate: (approximate == "tanh",), ("none",)),
    "softplus_backward": ("softplus_backward", "activation_grad",
                          lambda x, beta, threshold: (float(beta), float(threshold)), (1.0, 20.0)),
    "silu_backward": ("silu_backward", "silu", None, ()),
    "elu_backward": ("elu_backward", "activation_grad", "dtype", (1.0,)),
}


def _kernel_args(params, x, args) -> tuple:
    """A table row's kernel arguments after the arrays (see ACTIVATIONS), for warm-up."""
    if params is None:
        return ()
    if params == "dtype":
        return (x.dtype.type(args[0]),)
    if not callable(params):
        return (x.dtype.type(params),)
    return params(x, *args)


def _activation_method(name: str, kernel: str, family: str, params):
    """An activation's backend method: NumPy's below the family's size or for other dtypes, else the kernel.

    These run on every activation of a network, so the checks are inlined attribute reads, and the method
    takes exactly its arguments (each helper call or argument packing costs ~0.1 us; the whole call of a
    60x100 kernel is ~2 us)."""
    numpy_method = inspect.getattr_static(NumpyBackend, name)
    if isinstance(numpy_method, staticmethod):  # a NumPy ufunc (tanh)
        ufunc = numpy_method.__func__
        numpy_method = lambda self, x: ufunc(x)  # noqa: E731 - only where the kernel does not pay
    arity = len(inspect.signature(numpy_method).parameters) - 2  # after self and x
    if arity == 0:
        def method(self, x):
            if type(x) is np.ndarray and x.dtype.char in "fd" and x.size >= self.numpy_below[family]:
                return self._unary(getattr(self._ew, kernel), x)
            return numpy_method(self, x)
    elif params == "dtype":  # one parameter, in x's dtype (leaky_relu's slope, elu's alpha)
        def method(self, x, a):
            if type(x) is np.ndarray and x.dtype.char in "fd" and x.size >= self.numpy_below[family]:
                return self._unary(getattr(self._ew, kernel), x, x.dtype.type(a))
            return numpy_method(self, x, a)
    elif arity == 1:
        def method(self, x, a):
            if type(x) is np.ndarray and x.dtype.char in "fd" and x.size >= self.numpy_below[family]:
                return self._unary(getattr(self._ew, kernel), x, *params(x, a))
            return numpy_method(self, x, a)
    else:
        def method(self, x, a, b):
            if type(x) is np.ndarray and x.dtype.char in "fd" and x.size >= self.numpy_below[family]:
                return self._unary(getattr(self._ew, kernel), x, *params(x, a, b))
            return numpy_method(self, x, a, b)

    method.__name__ = name
    return method


def _activation_grad_method(name: str, kernel: str, family: str, params):
    """A fused activation backward (grad, x or y, ...): as ``_activation_method``, both arrays of one dtype."""
    numpy_method = getattr(NumpyBackend, name)
    arity = len(inspect.signature(numpy_method).parameters) - 3  # after self, grad and x
    if arity == 0:
        def method(self, grad, x):
            if (type(x) is np.ndarray and type(grad) is np.ndarray and x.dtype.char in "fd"
                    and grad.dtype == x.dtype and x.size >= self.numpy_below[family]):
                if params is None:
                    return self._unary_grad(getattr(self._ew, kernel), grad, x)
                return self._unary_grad(getattr(self._ew, kernel), grad, x, x.dtype.type(params))
            return numpy_method(self, grad, x)
    elif params == "dtype":
        def method(self, grad, x, a):
            if (type(x) is np.ndarray and type(grad) is np.ndarray and x.dtype.char in "fd"
                    and grad.dtype == x.dtype and x.size >= self.numpy_below[family]):
                return self._unary_grad(getattr(self._ew, kernel), grad, x, x.dtype.type(a))
            return numpy_method(self, grad, x, a)
    elif arity == 1:
        def method(self, grad, x, a):
            if (type(x) is np.ndarray and type(grad) is np.ndarray and x.dtype.char in "fd"
                    and grad.dtype == x.dtype and x.size >= self.numpy_below[family]):
                return self._unary_grad(getattr(self._ew, kernel), grad, x, *params(x, a))
            return numpy_method(self, grad, x, a)
    else:
        def method(self, grad, x, a, b):
            if (type(x) is np.ndarray and type(grad) is np.ndarray and x.dtype.char in "fd"
                    and grad.dtype == x.dtype and x.size >= self.numpy_below[family]):
                return self._unary_grad(getattr(self._ew, kernel), grad, x, *params(x, a, b))
            return numpy_method(self, grad, x, a, b)

    method.__name__ = name
    return method


class NumbaBackend(NumpyBackend):
    """NumPy arrays; Numba kernels for activations, softmax, cross-entropy, reductions and scatter-add."""

    name = "numba"
    # Where the NumPy implementation runs instead of a kernel: below ``numpy_below[family]`` elements (of
    # the output, or of the scattered values for "scatter"). A kernel pays only where it fuses passes or, above
    # ``parallel_threshold``, uses both cores; the break-even sizes come from ``bench_numba.py --sweep`` and
    # their measurements are in the table of docs/backends.md.
    numpy_below = {
        "activation": 1 << 11,  # sigmoid, relu, leaky_relu, softplus, elu forward
        "activation_grad": 1 << 11,  # their fused backward kernels
        "tanh": math.inf,  # NumPy's SIMD tanh is faster at every size; the gain is in the fused backward
        "gelu": 1 << 18,  # forward and backward: only the parallel kernels beat SciPy's erf
        "softmax": 0,  # softmax, log_softmax, their backward and cross-entropy: one pass per row
        "silu": 0,  # forward and backward: one pass instead of NumPy's four or five
        "binary": 1 << 22,  # memory-bound, nothing to fuse (with ``out=``, NumPy always: see _binary)
        "reduction": 1 << 20,
        "reduction_run": 1 << 14,  # reductions along contiguous runs shorter than this cost a task per run
        "scatter": 1 << 11,  # scatter_add, counted in scattered values
        "update": 0,  # add_scaled_ (optimizer updates, out += alpha * x in one pass)
    }
    # Kernels start Numba's thread pool only from here: waking the passive pool costs tens of microseconds.
    parallel_threshold = 1 << 18
    # A cheap memory-bound pass (the fused activation backward kernels, the optimizer update) pays for the
    # pool later still. (Measurements of both: docs/backends.md.)
    memory_bound_parallel = 1 << 20

    @classmethod
    def check_available(cls) -> None:
        try:
            import numba  # noqa: F401
        except ImportError as exc:
            raise ImportError(_INSTALL_HINT) from exc

    def __init__(self) -> None:
        super().__init__()
        import numba

        # _cache and _threads come first: the cache directory and the threading policy are set before any
        # kernel is decorated or run.
        from . import _cache, _threads, batchnorm, elementwise, reduce, scatter, softmax, windows  # noqa: F401

        self._numba = numba
        self._ew, self._red, self._sc, self._sm = elementwise, reduce, scatter, softmax
        self._bn, self._win = batchnorm, windows
        self.threading_policy = _threads.POLICY

    # -- BatchNorm (kernels and their parallel designs in batchnorm.py) ----------------------------
    def batch_norm_forward(self, x, weight, bias, eps):
        """See ``NumpyBackend.batch_norm_forward``."""
        return self._bn.batch_norm_forward(x, weight, bias, eps, self._bn.path_for(x, self.parallel_threshold))

    def batch_norm_backward(self, grad, x, mean, invstd, weight):
        """See ``NumpyBackend.batch_norm_backward``."""
        return self._bn.batch_norm_backward(grad, x, mean, invstd, weight,
                                            self._bn.path_for(x, self.parallel_threshold))

    def batch_norm_eval(self, x, center, invstd, weight, shift):
        """See ``NumpyBackend.batch_norm_eval``: one pass, whether or not there is a centre to subtract
        (folding it into the shift, as NumPy does, measured no faster here)."""
        return self.batch_norm_affine(x, center, invstd if weight is None else invstd * weight, shift)

    def batch_norm_affine(self, x, center, scale, shift):
        """See ``NumpyBackend.batch_norm_affine``: one parallel pass."""
        return self._bn.batch_norm_affine(x, center, scale, shift, self.parallel_threshold)

    # -- sliding windows (kernels in windows.py) ---------------------------------------------------
    def unfold_windows(self, x, window, stride, padding, dilation):
        """See ``NumpyBackend.unfold_windows``: one pass for 2-D windows of float32/float64 (other cases call
        it: no op unfolds 1-D or 3-D windows, and other dtypes are not compiled)."""
        if not _is_float(x) or len(window) != 2 or x.ndim < 2:
            return super().unfold_windows(x, window, stride, padding, dilation)
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = window, stride, padding, dilation
        h, w = x.shape[-2:]
        oh, ow = _out_hw((h, w), window, stride, padding, dilation)
        lead = x.shape[:-2]
        planes = math.prod(lead)
        cols = np.empty((planes, kh, kw, oh, ow), x.dtype)
        self._planes(self._win.unfold_windows_2d, cols.size, planes)(
            _contig(x).reshape(planes, h, w), cols, sh, sw, ph, pw, dh, dw)
        return cols.reshape(lead + (kh, kw, oh, ow))

    def fold_windows(self, cols, spatial, stride, dilation, padding=None):
        """See ``NumpyBackend.fold_windows``; the kernel covers 2-D windows of float32/float64 columns.

        Other cases call the NumPy implementation: 1-D/3-D windows have no op using them yet (and NumPy's
        loop over kernel offsets is already vectorised per offset), other dtypes are not compiled, and
        an output too small for the windows gets NumPy's error.
        """
        if not _is_float(cols) or len(spatial) != 2 or cols.ndim < 4:
            return super().fold_windows(cols, spatial, stride, dilation, padding)
        (h, w), (sh, sw), (dh, dw) = (tuple(int(v) for v in t) for t in (spatial, stride, dilation))
        ph, pw = padding or (0, 0)
        kh, kw, oh, ow = cols.shape[-4:]
        lead = cols.shape[:-4]
        if not _windows_fit((kh, kw), (oh, ow), (h, w), (sh, sw), (dh, dw), (ph, pw)):
            return super().fold_windows(cols, spatial, stride, dilation, padding)
        planes = math.prod(lead)
        cols5 = _contig(cols).reshape(planes, kh, kw, oh, ow)
        out = np.zeros((planes, h, w), cols.dtype)
        self._planes(self._win.fold_windows_2d, cols.size, planes)(cols5, out, sh, sw, ph, pw, dh, dw)
        return out.reshape(lead + (h, w))

    def unfold_windows_batch_inner(self, x, window, stride, padding, dilation):
        """See ``NumpyBackend.unfold_windows_batch_inner``: one pass for 2-D windows of a float32/float64
        (N, C, H, W) input."""
        if not _is_float(x) or len(window) != 2 or x.ndim != 4:
            return super().unfold_windows_batch_inner(x, window, stride, padding, dilation)
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = window, stride, padding, dilation
        n, c, h, w = x.shape
        oh, ow = _out_hw((h, w), window, stride, padding, dilation)
        cols = np.empty((c, kh, kw, n, oh, ow), x.dtype)
        self._planes(self._win.unfold_batch_inner_2d, cols.size, c * kh * kw)(
            _contig(x), cols, sh, sw, ph, pw, dh, dw)
        return cols

    def fold_windows_batch_inner(self, cols, spatial, stride, dilation, padding=None):
        """See ``NumpyBackend.fold_windows_batch_inner``: one pass for 2-D windows of float32/float64
        columns (C, kh, kw, N, oh, ow), bitwise equal to it; other cases, as ``fold_windows``, call it."""
        if not _is_float(cols) or len(spatial) != 2 or cols.ndim != 6:
            return super().fold_windows_batch_inner(cols, spatial, stride, dilation, padding)
        (h, w), (sh, sw), (dh, dw) = (tuple(int(v) for v in t) for t in (spatial, stride, dilation))
        ph, pw = padding or (0, 0)
        c, kh, kw, n, oh, ow = cols.shape
        if not _windows_fit((kh, kw), (oh, ow), (h, w), (sh, sw), (dh, dw), (ph, pw)):
            return super().fold_windows_batch_inner(cols, spatial, stride, dilation, padding)
        out = np.empty((n, c, h, w), cols.dtype)
        self._planes(self._win.fold_batch_inner_2d, cols.size, n * c)(_contig(cols), out, sh, sw, ph, pw, dh, dw)
        return out

    def max_pool2d_forward(self, x, kernel, stride, padding, dilation):
        """See ``NumpyBackend.max_pool2d_forward``: one pass for float32/float64, padding never copied."""
        if not _is_float(x):
            return super().max_pool2d_forward(x, kernel, stride, padding, dilation)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
        oh, ow = _out_hw((h, w), kernel, stride, padding, dilation)
        out = np.empty((n * c, oh, ow), x.dtype)
        slot = np.empty((n * c, oh, ow), np.int32)
        planes = _contig(x).reshape(n * c, h, w)
        if _is_2x2(kernel, stride, padding, dilation):
            self._planes(self._win.max_pool2d_forward_2x2, x.size, n * c)(planes, out, slot)
        else:
            self._planes(self._win.max_pool2d_forward, x.size, n * c)(
                planes, out, slot, kh, kw, sh, sw, ph, pw, dh, dw)
        return out.reshape(n, c, oh, ow), slot.reshape(n, c, oh, ow)

    def max_pool2d_backward(self, grad, slot, spatial, kernel, stride, padding, dilation):
        """See ``NumpyBackend.max_pool2d_backward``: one pass for float32/float64 (bitwise equal to it)."""
        if not _is_float(grad):
            return super().max_pool2d_backward(grad, slot, spatial, kernel, stride, padding, dilation)
        n, c, oh, ow = grad.shape
        (h, w), (sh, sw), (ph, pw), (dh, dw) = spatial, stride, padding, dilation
        out = np.empty((n * c, h, w), grad.dtype)
        grads, slots = _contig(grad).reshape(n * c, oh, ow), _contig(slot).reshape(n * c, oh, ow)
        if _is_2x2(kernel, stride, padding, dilation):
            self._planes(self._win.max_pool2d_backward_2x2, out.size, n * c)(grads, slots, out)
        else:
            self._planes(self._win.max_pool2d_backward, out.size, n * c)(
                grads, slots, out, *kernel, sh, sw, ph, pw, dh, dw)
        return out.reshape(n, c, h, w)

    def _planes(self, kernel, size: int, planes: int):
        """A per-plane kernel's parallel variant from ``parallel_threshold`` elements and two planes, else its
        serial one."""
        return kernel.parallel if self._parallel(size) and planes > 1 else kernel

    # -- threads and description ------------------------------------------------------------------
    def set_num_threads(self, n: int) -> None:
        """Threads for parallel kernels (at most ``NUMBA_NUM_THREADS``; Numba keeps it per calling thread)."""
        self._numba.set_num_threads(int(n))

    def get_num_threads(self) -> int:
        return self._numba.get_num_threads()

    def describe(self) -> str:
        jit = ", JIT disabled" if self._numba.config.DISABLE_JIT else ""
        return f"Numba {self._numba.__version__}, {self.get_num_threads()} threads{jit}, layer {self.threading_policy}"

    @property
    def cache_dir(self) -> str:
        from . import _cache

        return _cache.CACHE_DIR

    def warmup(self, parallel: bool = False) -> None:
        """Compile (or load from the cache) every kernel for float32 and float64: their serial variants, and
        with ``parallel=True`` their parallel variants too.

        Never called implicitly: otherwise each kernel compiles on its first call, only the variant (serial
        or parallel) and dtype that call needs, which keeps a first run on an empty cache short.
        """
        ew, red, sc, sm, bn = self._ew, self._red, self._sc, self._sm, self._bn
        for dtype in (np.float32, np.float64):
            for par in (False, True) if parallel else (False,):
                def k(kernel, par=par):
                    return kernel.parallel if par else kernel

                x = np.linspace(-2, 2, 8, dtype=dtype)
                out = np.empty_like(x)
                for kernel, _, params, example in ACTIVATIONS.values():
                    k(getattr(ew, kernel))(x, out, *_kernel_args(params, x, example))
                for kernel, _, params, example in ACTIVATION_GRADS.values():
                    k(getattr(ew, kernel))(x, x, out, *_kernel_args(params, x, example))
                k(ew.add_scaled)(out, x, dtype(0.5))
                x2 = x.reshape(2, 4)
                out2 = np.empty_like(x2)
                k(ew.binary)(ew.ADD, x2, x2, out2)
                k(sm.softmax_forward)(x2, out2, False)
                k(sm.softmax_backward)(x2, x2, out2)
                k(sm.log_softmax_backward)(x2, x2, out2)
                targets = np.zeros(2, dtype=np.int64)
                k(sm.cross_entropy_forward)(x2, targets, out2, np.empty(2, dtype))
                k(sm.cross_entropy_backward)(np.ones(2, dtype), out2, targets, out2.copy())
                k(red.reduce_contiguous)(red.SUM, x.reshape(2, 4, 1), np.empty((2, 1), dtype))
                k(red.reduce_strided)(red.SUM, x.reshape(1, 2, 4), np.empty((1, 4), dtype))
                k(sc.scatter_add_rows)(targets, x2, np.zeros_like(x2), 2)
                self._warm_windows(dtype, k)
                for path, shape in ((("rows", (2, 4)), ("blocks", (2, 2, 2))) if par
                                    else (("rows-serial", (2, 4)), ("serial", (2, 2, 2)))):
                    xb = np.linspace(-2, 2, 8, dtype=dtype).reshape(shape)
                    w = np.ones(shape[1], dtype)
                    _, mean, var = bn.batch_norm_forward(xb, w, w, 1e-5, path)
                    bn.batch_norm_backward(xb, xb, mean, 1 / np.sqrt(var + 1e-5), w, path)

    def _warm_windows(self, dtype, k) -> None:
        """Compile the sliding-window kernels of windows.py for ``dtype`` (``k`` picks the variant)."""
        win, planes = self._win, np.ones((2, 4, 4), dtype)
        k(win.unfold_windows_2d)(planes, np.empty((2, 2, 2, 3, 3), dtype), 1, 1, 0, 0, 1, 1)
        k(win.fold_windows_2d)(np.ones((2, 2, 2, 3, 3), dtype), np.zeros_like(planes), 1, 1, 0, 0, 1, 1)
        images, cols = planes.reshape(1, 2, 4, 4), np.empty((2, 2, 2, 1, 3, 3), dtype)
        k(win.unfold_batch_inner_2d)(images, cols, 1, 1, 0, 0, 1, 1)
        k(win.fold_batch_inner_2d)(cols, np.empty_like(images), 1, 1, 0, 0, 1, 1)
        out, slot = np.empty((2, 2, 2), dtype), np.empty((2, 2, 2), np.int32)
        k(win.max_pool2d_forward)(planes, out, slot, 2, 2, 2, 2, 0, 0, 1, 1)
        k(win.max_pool2d_backward)(out, slot, np.empty_like(planes), 2, 2, 2, 2, 0, 0, 1, 1)
        k(win.max_pool2d_forward_2x2)(planes, out, slot)
        k(win.max_pool2d_backward_2x2)(out, slot, np.empty_like(planes))

    # -- elementwise, unary -----------------------------------------------------------------------
    # These run on every activation of a network: the checks are inlined and kept to attribute reads
    # (each helper call would cost ~0.1 us; the whole call of a 60x100 kernel is ~2 us).
    def _parallel(self, size: int) -> bool:
        return size >= self.parallel_threshold

    def _unary(self, kernel, x, *params):
        if not x.flags.carray:  # C-contiguous, aligned, writeable (read-only would compile another signature)
            x = np.array(x, order="C")  # not np.ascontiguousarray: it turns a 0-d array into shape (1,)
        out = np.empty(x.shape, x.dtype)
        (kernel.parallel if x.size >= self.parallel_threshold else kernel)(x.ravel(), out.ravel(), *params)
        return out

    def _unary_grad(self, kernel, grad, x, *params):
        if grad.shape != x.shape:
            grad = np.broadcast_to(grad, x.shape)
        if not grad.flags.carray:
            grad = np.array(grad, order="C")
        if not x.flags.carray:
            x = np.array(x, order="C")
        out = np.empty(x.shape, x.dtype)
        run = kernel.parallel if x.size >= self.memory_bound_parallel else kernel
        run(grad.ravel(), x.ravel(), out.ravel(), *params)
        return out

    # sigmoid, tanh, relu, ... and their fused backward kernels: from ACTIVATIONS, after the class.

    def add_scaled_(self, out, x, alpha):
        if (type(out) is np.ndarray and type(x) is np.ndarray and out.flags.carray and x.flags.carray
                and out.shape == x.shape and out.dtype == x.dtype and out.dtype.char in "fd"
                and out.size >= self.numpy_below["update"]
                and (x is out or not np.may_share_memory(out, x))):
            update = self._ew.add_scaled
            (update.parallel if out.size >= self.memory_bound_parallel else update)(
                out.ravel(), x.ravel(), out.dtype.type(alpha))
            return out
        return super().add_scaled_(out, x, alpha)

    # -- elementwise, binary ----------------------------------------------------------------------
    def _binary_plan(self, a, b):
        """(a2, b2, out_shape, rows, cols) for the 2-D kernel, or None when NumPy should run it."""
        # Cheap size test first: this runs on every binary op, and most are small (np.broadcast_shapes
        # alone costs microseconds). The output is at least as large as the larger operand.
        if max(getattr(a, "size", 1), getattr(b, "size", 1)) < self.numpy_below["binary"]:
            return None
        if _is_float(a):
            dtype = a.dtype
        elif _is_float(b):
            dtype = b.dtype
        else:
            return None
        ops = []
        for v in (a, b):
            if type(v) in (int, float):  # a Python number takes the array's dtype (NEP 50)
                v = np.asarray(v, dtype)
            elif not (isinstance(v, np.ndarray) and v.dtype == dtype) or _has_zero_stride(v):
                return None
            ops.append(v)
        shape = np.broadcast_shapes(ops[0].shape, ops[1].shape)
        if math.prod(shape) < self.numpy_below["binary"]:
            return None
        # Per output dimension (size > 1): does each operand span it? Merge runs with the same pattern.
        groups: list[list] = []
        for d, n in enumerate(shape):
            if n == 1:
                continue
            pattern = tuple(v.ndim - len(shape) + d >= 0 and v.shape[v.ndim - len(shape) + d] == n for v in ops)
            if groups and groups[-1][0] == pattern:
                groups[-1][1] *= n
            else:
                groups.append([pattern, n])
        if len(groups) > 2:
            return None
        if len(groups) == 1:
            rows, cols = _split_rows(groups[0][1])
            spans = [(p, p) for p in groups[0][0]]
        else:
            rows, cols = groups[0][1], groups[1][1]
            spans = list(zip(groups[0][0], groups[1][0]))
        views = [_contig(v).reshape(rows if r else 1, cols if c else 1) for v, (r, c) in zip(ops, spans)]
        return views[0], views[1], shape, rows, cols

    def _binary(self, op, a, b, fallback):
        plan = self._binary_plan(a, b)
        if plan is None:
            return fallback(a, b)
        a2, b2, shape, rows, cols = plan
        result = np.empty((rows, cols), a2.dtype)
        binary = self._ew.binary
        (binary.parallel if rows * cols >= self.parallel_threshold else binary)(op, a2, b2, result)
        return result.reshape(shape)

    add = _binary_method("ADD", np.add)
    subtract = _binary_method("SUB", np.subtract)
    multiply = _binary_method("MUL", np.multiply)
    divide = _binary_method("DIV", np.true_divide)
    maximum = _binary_method("MAX", np.maximum)
    minimum = _binary_method("MIN", np.minimum)

    # -- reductions -------------------------------------------------------------------------------
    def _reduce(self, kind, x, axis, keepdims, fallback):
        if not _is_float(x) or x.size < self.numpy_below["reduction"] or _has_zero_stride(x):
            return fallback(x, axis, keepdims)
        axes = tuple(range(x.ndim)) if axis is None else tuple(
            a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis))
        if not axes:
            return fallback(x, axis, keepdims)
        first, last = min(axes), max(axes)
        if last - first + 1 != len(axes):
            return fallback(x, axis, keepdims)
        shape = x.shape
        outer, n, inner = math.prod(shape[:first]), math.prod(shape[first:last + 1]), math.prod(shape[last + 1:])
        if inner > 1 and kind != self._red.SUM:  # NumPy's SIMD max/min across rows is exact and faster
            return fallback(x, axis, keepdims)
        if inner == 1 and n < self.numpy_below["reduction_run"]:
            return fallback(x, axis, keepdims)
        x3 = _contig(x).reshape(outer, n, inner)
        out = np.empty((outer, inner), x.dtype)
        reduce = self._red.reduce_contiguous if inner == 1 else self._red.reduce_strided
        (reduce.parallel if x.size >= self.parallel_threshold else reduce)(kind, x3, out)
        if keepdims:
            return out.reshape(tuple(1 if i in axes else s for i, s in enumerate(shape)))
        return out.reshape(tuple(s for i, s in enumerate(shape) if i not in axes))

    def sum(self, x, axis, keepdims):
        if getattr(x, "size", 1) < self.numpy_below["reduction"]:  # small: straight to NumPy
            return super().sum(x, axis, keepdims)
        return self._reduce(self._red.SUM, x, axis, keepdims, super().sum)

    def max(self, x, axis, keepdims):
        if getattr(x, "size", 1) < self.numpy_below["reduction"]:
            return super().max(x, axis, keepdims)
        return self._reduce(self._red.MAX, x, axis, keepdims, super().max)

    def min(self, x, axis, keepdims):
        if getattr(x, "size", 1) < self.numpy_below["reduction"]:
            return super().min(x, axis, keepdims)
        return self._reduce(self._red.MIN, x, axis, keepdims, super().min)

    # -- softmax family: kernels work on rows, so another axis is moved last first -----------------
    def _rows(self, x, axis):
        """(x as a C-contiguous (rows, n) array with ``axis`` last, restore(out) undoing it)."""
        ndim = x.ndim
        axis = axis % ndim
        if axis == ndim - 1:  # the common case: a reshape (a view when x is C-contiguous)
            shape = x.shape
            x2 = (x if x.flags.carray else np.array(x, order="C")).reshape(-1, shape[-1])
            return x2, shape, None
        moved = np.moveaxis(x, axis, -1)
        return np.array(moved, order="C").reshape(-1, moved.shape[-1]), moved.shape, axis

    @staticmethod
    def _restore(out, shape, axis):
        out = out.reshape(shape)
        return out if axis is None else np.moveaxis(out, -1, axis)

    def _softmax_ok(self, x, grad=None) -> bool:
        """float32/float64 arrays (grad: of x's dtype, broadcastable) of at least numpy_below["softmax"]."""
        return (type(x) is np.ndarray and x.dtype.char in "fd" and x.ndim > 0
                and 0 < x.size >= self.numpy_below["softmax"]
                and (grad is None or (type(grad) is np.ndarray and grad.dtype == x.dtype)))

    def _softmax_forward(self, x, axis, log):
        if x.ndim == 2 and (axis == -1 or axis == 1) and x.flags.carray:  # the common case, as it is
            x2, shape, moved = x, None, None
        else:
            x2, shape, moved = self._rows(x, axis)
        out = np.empty(x2.shape, x2.dtype)
        forward = self._sm.softmax_forward
        (forward.parallel if x2.size >= self.parallel_threshold else forward)(x2, out, log)
        if shape is None:
            return out
        return self._restore(out, shape, moved)

    def _softmax_backward(self, kernel, grad, out, axis):
        if grad.shape != out.shape:
            grad = np.broadcast_to(grad, out.shape)
        if out.ndim == 2 and (axis == -1 or axis == 1) and out.flags.carray and grad.flags.carray:
            g2, y2, shape, moved = grad, out, None, None
        else:
            g2, _, _ = self._rows(grad, axis)
            y2, shape, moved = self._rows(out, axis)
        result = np.empty(y2.shape, y2.dtype)
        (kernel.parallel if y2.size >= self.parallel_threshold else kernel)(g2, y2, result)
        if shape is None:
            return result
        return self._restore(result, shape, moved)

    def softmax(self, x, axis):
        if not self._softmax_ok(x):
            return super().softmax(x, axis)
        return self._softmax_forward(x, axis, False)

    def log_softmax(self, x, axis):
        if not self._softmax_ok(x):
            return super().log_softmax(x, axis)
        return self._softmax_forward(x, axis, True)

    def softmax_backward(self, grad, out, axis):
        if not self._softmax_ok(out, grad):
            return super().softmax_backward(grad, out, axis)
        return self._softmax_backward(self._sm.softmax_backward, grad, out, axis)

    def log_softmax_backward(self, grad, out, axis):
        if not self._softmax_ok(out, grad):
            return super().log_softmax_backward(grad, out, axis)
        return self._softmax_backward(self._sm.log_softmax_backward, grad, out, axis)

    # -- softmax cross-entropy (fused; the NumPy reference is in numpy_backend.py) -----------------
    def softmax_cross_entropy_forward(self, logits, targets):
        targets = self._check_targets(logits, targets)
        if not _is_float(logits):
            raise TypeError(f"softmax_cross_entropy: logits must be float32 or float64, got {logits.dtype}")
        logits = _contig(logits)
        log_probs = np.empty_like(logits)
        loss = np.empty(logits.shape[0], logits.dtype)
        forward = self._sm.cross_entropy_forward
        (forward.parallel if self._parallel(logits.size) else forward)(logits, targets, log_probs, loss)
        return loss, log_probs

    def softmax_cross_entropy_backward(self, grad_per_row, log_probs, targets):
        targets = self._check_targets(log_probs, targets)
        log_probs = _contig(log_probs)
        grad = _contig(_broadcast(np.asarray(grad_per_row, log_probs.dtype), log_probs.shape[:1]))
        out = np.empty_like(log_probs)
        backward = self._sm.cross_entropy_backward
        (backward.parallel if self._parallel(out.size) else backward)(grad, log_probs, targets, out)
        return out

    # -- indexing gradients -------------------------------------------------------------------------
    def scatter_add(self, shape, index, values, dtype):
        """A zero array of ``shape`` with ``values`` added at ``index``; duplicates accumulate."""
        items = index if type(index) is tuple else (index,)
        # The size test comes first and reads only the first index (the scattered count when the indices
        # have one shape), so a small scatter (the MLP step's) reaches NumPy after few checks.
        if (not 0 < len(items) <= len(shape) or type(items[0]) is not np.ndarray
                or items[0].size * math.prod(shape[len(items):]) < self.numpy_below["scatter"]
                or np.dtype(dtype).char not in "fd"
                or not all(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)):
            return NumpyBackend.scatter_add(self, shape, index, values, dtype)
        shape, dtype = tuple(shape), np.dtype(dtype)
        arrays = np.broadcast_arrays(*items)
        lead = shape[:len(items)]
        for axis, (idx, n) in enumerate(zip(arrays, lead)):
            if idx.size and (idx.min() < -n or idx.max() >= n):
                bad = idx.max() if idx.max() >= n else idx.min()
                raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {n}")
        rows = np.ravel_multi_index(tuple(np.mod(a, n) for a, n in zip(arrays, lead)), lead).reshape(-1)
        width = math.prod(shape[len(items):])
        values = _broadcast(np.asarray(values, dtype), arrays[0].shape + shape[len(items):])
        values = _contig(values).reshape(rows.size, width)
        out = np.zeros((math.prod(lead), width), dtype)
        scatter, rows = self._sc.scatter_add_rows, rows.astype(np.int64, copy=False)
        if values.size >= self.parallel_threshold and width >= 2 * self._sc.BLOCK:
            scatter.parallel(rows, values, out, self._sc.BLOCK)  # a task per block of columns
        else:
            scatter(rows, values, out, max(1, width))  # one task: one pass over the rows
        return out.reshape(shape)


for _name, _row in ACTIVATIONS.items():
    setattr(NumbaBackend, _name, _activation_method(_name, *_row[:3]))
for _name, _row in ACTIVATION_GRADS.items():
    setattr(NumbaBackend, _name, _activation_grad_method(_name, *_row[:3]))
del _name, _row
