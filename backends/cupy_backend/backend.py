"""``CupyBackend``: the NumPy backend's protocol with ``xp = cupy``, plus CUDA kernels for the fused paths."""

from __future__ import annotations

import contextlib

import numpy as np

from ..numpy_backend import NumpyBackend

INSTALL_HINT = ("install CuPy for your CUDA version with minigrad's extra: pip install 'minigrad[cuda13]' "
                "(CUDA 13) or 'minigrad[cuda12]' (CUDA 12); it brings numba-cuda for the fused kernels")


_NO_RNG_STATE = ("CuPy's generator does not expose its state; reseed with minigrad.manual_seed to reproduce a "
                 "run on the cupy backend")


def _array_modules():
    """(cupy, cupyx), imported on first use so that ``import minigrad`` never imports CuPy."""
    import cupy
    import cupyx
    import cupyx.scipy.special  # noqa: F401  (erf)

    return cupy, cupyx


def _is_numpy_function(fn) -> bool:
    return isinstance(fn, np.ufunc) or getattr(fn, "__module__", "").startswith("numpy")


class CupyBackend(NumpyBackend):
    """Arrays are ``cupy.ndarray`` on CuPy's current device (``with cupy.cuda.Device(1):`` picks another).

    Protocol methods that are the array module's own functions (``add = staticmethod(np.add)`` in the NumPy
    backend) are bound to CuPy's functions of the same name; everything else is inherited, written once
    against ``xp``. Kernels that a GPU library would fuse (activation backward, softmax and cross-entropy,
    BatchNorm, optimizer updates) are numba-cuda kernels that take CuPy arrays through
    ``__cuda_array_interface__``. No method copies data to the host except ``to_numpy``.
    """

    name = "cupy"
    host_memory = False

    def __init__(self, xp=None, xpx=None) -> None:
        # ``xp``/``xpx`` replace cupy/cupyx: the tests run this class on NumPy with the simulated kernels.
        if xp is None:
            xp, xpx = _array_modules()
        self.xp, self._xpx, self.array_type = xp, xpx, xp.ndarray
        for name, value in vars(NumpyBackend).items():
            numpy_function = isinstance(value, staticmethod) and _is_numpy_function(value.__func__)
            if numpy_function and name not in vars(type(self)):
                setattr(self, name, getattr(xp, value.__func__.__name__))
        from .kernels import activation, batchnorm, optim, softmax

        self._activation, self._batchnorm, self._optim, self._softmax = activation, batchnorm, optim, softmax
        super().__init__()

    @classmethod
    def check_available(cls) -> None:
        try:
            cupy, _ = _array_modules()
        except ImportError as exc:
            raise ImportError(f"CuPy is not installed ({exc}); {INSTALL_HINT}") from exc
        try:
            import numba.cuda  # noqa: F401
        except ImportError as exc:
            raise ImportError(f"numba-cuda is not installed ({exc}); {INSTALL_HINT}") from exc
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDARuntimeError and driver errors: say what CuPy said
            raise RuntimeError(f"CuPy is installed but found no usable CUDA device or driver: {exc}") from exc
        if count == 0:
            raise RuntimeError("CuPy is installed but there is no CUDA device")

    def describe(self) -> str:
        xp = self.xp
        device = xp.cuda.Device()
        props = xp.cuda.runtime.getDeviceProperties(device.id)
        return f"CuPy {xp.__version__} on GPU {device.id} ({props['name'].decode()})"

    # -- transfer: the only host <-> device copies ------------------------------------------------------
    def from_numpy(self, array: np.ndarray):
        return self.xp.array(array, copy=True)

    def to_numpy(self, array) -> np.ndarray:
        return array.get()

    # -- what CuPy spells differently ---------------------------------------------------------------------
    def erf(self, x):
        return self._xpx.scipy.special.erf(x)

    def _add_at(self, out, index, values) -> None:
        from minigrad.runtime import alert_nondeterministic

        alert_nondeterministic("index accumulation on the CuPy backend (cupyx.scatter_add, atomic adds)")
        self._xpx.scatter_add(out, index, values)

    def _as_strided(self, x, shape, strides):
        return self.xp.lib.stride_tricks.as_strided(x, shape, strides)

    @staticmethod
    def _errstate(**kwargs):
        return contextlib.nullcontext()  # CuPy never warns about floating-point results

    def get_rng_state(self) -> dict:
        raise NotImplementedError(f"get_rng_state: {_NO_RNG_STATE}")

    def set_rng_state(self, state: dict) -> None:
        raise NotImplementedError(f"set_rng_state: {_NO_RNG_STATE}")

    # -- fused kernels -------------------------------------------------------------------------------------
    def sigmoid_backward(self, grad, out):
        return self._activation.sigmoid_backward(self.xp, grad, out)

    def tanh_backward(self, grad, out):
        return self._activation.tanh_backward(self.xp, grad, out)

    def relu_backward(self, grad, x):
        return self._activation.relu_backward(self.xp, grad, x)

    def leaky_relu_backward(self, grad, x, negative_slope):
        return self._activation.leaky_relu_backward(self.xp, grad, x, negative_slope)

    def gelu_backward(self, grad, x, approximate: str):
        return self._activation.gelu_backward(self.xp, grad, x, approximate)

    def softplus_backward(self, grad, x, beta, threshold):
        return self._activation.softplus_backward(self.xp, grad, x, beta, threshold)

    def silu_backward(self, grad, x):
        return self._activation.silu_backward(self.xp, grad, x)

    def elu_backward(self, grad, x, alpha):
        return self._activation.elu_backward(self.xp, grad, x, alpha)

    def hardtanh_backward(self, grad, x, min_val, max_val):
        return self._activation.hardtanh_backward(self.xp, grad, x, min_val, max_val)

    def softmax(self, x, axis):
        return self._softmax.softmax(self.xp, x, axis)

    def log_softmax(self, x, axis):
        return self._softmax.softmax(self.xp, x, axis, log=True)

    def softmax_backward(self, grad, out, axis):
        return self._softmax.softmax_backward(self.xp, grad, out, axis)

    def log_softmax_backward(self, grad, out, axis):
        return self._softmax.softmax_backward(self.xp, grad, out, axis, log=True)

    def softmax_cross_entropy_forward(self, logits, targets):
        return self._softmax.cross_entropy_forward(self.xp, logits, self._check_targets(logits, targets))

    def softmax_cross_entropy_backward(self, grad_per_row, log_probs, targets):
        return self._softmax.cross_entropy_backward(self.xp, grad_per_row, log_probs,
                                                    self._check_targets(log_probs, targets))

    def sgd_step_(self, w, grad, buf, **hyper):
        if not w.flags.c_contiguous:  # the kernel updates a flat view; the reference updates any view in place
            return super().sgd_step_(w, grad, buf, **hyper)
        xp = self.xp
        # Without momentum the kernel never reads the buffer: an empty array, never an alias of w.
        flat_buf = xp.empty(0, w.dtype) if buf is None else buf.reshape(-1)
        self._optim.sgd_step(w.reshape(-1), xp.ascontiguousarray(grad).reshape(-1), flat_buf, **hyper)

    def adam_step_(self, w, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, **hyper):
        if not w.flags.c_contiguous:
            return super().adam_step_(w, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, **hyper)
        flat = lambda a: a.reshape(-1)  # the moments are the optimizer's own contiguous arrays
        unused = self.xp.empty(0, w.dtype)  # without amsgrad the kernel never reads max_exp_avg_sq
        moments = (exp_avg, exp_avg_sq, unused if max_exp_avg_sq is None else max_exp_avg_sq)
        self._optim.adam_step(flat(w), self.xp.ascontiguousarray(grad).reshape(-1), *map(flat, moments), **hyper)

    def batch_norm_forward(self, x, weight, bias, eps):
        return self._batchnorm.forward(self.xp, x, weight, bias, eps)

    def batch_norm_backward(self, grad, x, mean, invstd, weight):
        return self._batchnorm.backward(self.xp, grad, x, mean, invstd, weight)

    def batch_norm_affine(self, x, center, scale, shift):
        return self._batchnorm.affine(self.xp, x, center, scale, shift)

    def batch_norm_eval(self, x, center, invstd, weight, shift):
        # The affine kernel subtracts the centre in float64 in its one pass: no fold to decide (the NumPy
        # backend's decision reads the statistics on the host).
        return self.batch_norm_affine(x, center, invstd if weight is None else invstd * weight, shift)
