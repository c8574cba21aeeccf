"""Creating tensors: constants, ranges and random numbers, on the current or a named backend."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np

from . import backends as _backends
from . import devices as _devices
from .dtypes import as_dtype, get_default_dtype, int64, set_default_dtype  # noqa: F401 - minigrad.<name>
from .dtypes import default_float as _default_float
from .generator import Generator
from .grad_mode import no_grad
from .tensor import Tensor, tensor


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    shape = tuple(int(n) for n in size)
    if any(n < 0 for n in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return shape


def _make(array_fn, dtype, requires_grad: bool, backend, device=None, where: str = "") -> Tensor:
    target = _backends.resolve(_devices.resolve_creation(backend, device, where))
    out = Tensor(array_fn(target), target)
    if requires_grad:
        out.requires_grad_(True)
    return out


def from_numpy(array: np.ndarray, backend: str | None = None) -> Tensor:
    """A tensor with the values and dtype of a NumPy array (a copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return tensor(array, backend=backend)


_DLPACK_HOST_DEVICES = (1, 3)  # DLPack's kDLCPU and kDLCUDAHost (pinned host memory)


def from_dlpack(obj, backend: str | None = None) -> Tensor:
    """A tensor sharing memory with a DLPack producer (NumPy array, PyTorch or CuPy tensor, ...): no copy.

    Host memory goes to the current backend when it keeps its arrays in host memory, else to ``"numpy"``;
    device memory goes to ``"cupy"``. An explicit ``backend`` in the other kind of memory is refused (a
    copy is ``minigrad.tensor(...)`` or ``.to(...)``). The result is a leaf that does not require grad.
    """
    if not hasattr(obj, "__dlpack_device__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ and __dlpack_device__, got "
                        f"{type(obj).__name__}")
    on_host = int(obj.__dlpack_device__()[0]) in _DLPACK_HOST_DEVICES
    if backend is None:
        current = _backends.current()
        backend = current.name if current.host_memory == on_host else ("numpy" if on_host else "cupy")
    target = _backends.load(backend)
    if target.host_memory != on_host:
        where = "host" if on_host else "device"
        raise ValueError(f"from_dlpack: the data are in {where} memory but backend {backend!r} keeps its arrays "
                         f"in {'host' if target.host_memory else 'device'} memory; zero-copy is impossible "
                         f"(copy with minigrad.tensor(..., backend={backend!r}))")
    array = target.from_dlpack(obj)
    as_dtype(array.dtype)  # reject unsupported dtypes with a clear message
    return Tensor(array, target)


def as_tensor(data, dtype=None, device=None, backend: str | None = None) -> Tensor:
    """``data`` itself when it is a tensor already matching ``dtype`` and ``device``/``backend``, else
    ``tensor(data, ...)`` (a copy; PyTorch may share a NumPy array's memory, minigrad copies it)."""
    if isinstance(data, Tensor):
        out = data.to(backend=backend, device=device) if backend is not None or device is not None else data
        return out if dtype is None else out.astype(dtype)
    return tensor(data, dtype=dtype, backend=backend, device=device)


def frombuffer(buffer, *, dtype, count: int = -1, offset: int = 0, requires_grad: bool = False) -> Tensor:
    """A 1-D tensor over a Python buffer's memory (``bytearray``, ``memoryview``, ``array.array``, ...), shared, as
    ``torch.frombuffer``: ``count`` elements of ``dtype`` (-1: as many as fit) from byte ``offset``. It lives on the
    current backend if that keeps host memory, else on NumPy; a read-only buffer gives PyTorch's warning."""
    dt = as_dtype(dtype)
    try:
        length = memoryview(buffer).nbytes
    except TypeError:
        raise ValueError(f"frombuffer: {type(buffer).__name__} does not implement Python buffer protocol") from None
    size = dt.itemsize
    if length == 0 or count == 0:
        raise ValueError(f"frombuffer: both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"frombuffer: offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % size:
            raise ValueError(f"frombuffer: buffer length ({length - offset} bytes) after offset ({offset} bytes) must "
                             f"be a multiple of element size ({size})")
        count = (length - offset) // size
    elif offset + count * size > length:
        raise ValueError(f"frombuffer: requested buffer length ({count} * {size} bytes) after offset ({offset} bytes) "
                         f"must not be greater than actual buffer length ({length} bytes)")
    array = np.frombuffer(buffer, dtype=dt, count=count, offset=offset)
    if not array.flags.writeable:
        warnings.warn("frombuffer: the given buffer is not writable, and minigrad (as PyTorch) does not support "
                      "non-writable tensors: writing to this tensor fails. Copy the buffer (bytearray(buffer)) to make "
                      "it writable", UserWarning, stacklevel=2)
    out = from_dlpack(array, backend=_devices.backend_for("cpu", "frombuffer"))
    return out.requires_grad_(True) if requires_grad else out


def asarray(obj, *, dtype=None, device=None, copy: bool | None = None, requires_grad: bool | None = None,
            backend: str | None = None) -> Tensor:
    """``obj`` as a tensor, as ``torch.asarray``: memory is shared with a tensor, a NumPy array (or another DLPack
    producer) or a buffer where the dtype and the kind of memory allow it, unless ``copy=True``; ``copy=False``
    raises ``ValueError`` where it cannot share. A tensor that needs no change comes back itself. ``requires_grad``:
    None keeps a tensor's (its graph too, through the copy or cast), False detaches, True makes the result require
    grad. Lists and numbers are copied, with ``tensor()``'s dtype rules."""
    where = "asarray"
    name = _devices.resolve_creation(backend, device, where)
    target = _backends.resolve(name)
    shared = None
    if isinstance(obj, Tensor):
        shared = obj if backend is None and device is None else obj.to(backend=backend, device=device)
        if shared is not obj and copy is False:
            raise ValueError(f"{where}: can't alias a tensor on backend {obj.backend!r} into backend "
                             f"{shared.backend!r} (copy=False)")
    elif hasattr(obj, "__dlpack_device__") and (int(obj.__dlpack_device__()[0]) in _DLPACK_HOST_DEVICES) == \
            target.host_memory:
        shared = from_dlpack(obj, backend=target.name)
        if isinstance(obj, np.ndarray) and not obj.flags.writeable:
            warnings.warn("asarray: the given NumPy array is not writable, and minigrad (as PyTorch) does not support "
                          "non-writable tensors: writing to this tensor fails. Copy the array to make it writable",
                          UserWarning, stacklevel=2)
    elif isinstance(obj, (bytes, bytearray, memoryview)) and target.host_memory:
        shared = frombuffer(obj, dtype=dtype if dtype is not None else _default_float())
    if shared is None:
        if copy is False:
            raise ValueError(f"{where}: can't alias {type(obj).__name__} into a tensor (copy=False); pass copy=None or "
                             "copy=True")
        out = tensor(obj, dtype=dtype, backend=target.name)
    else:
        out = shared if dtype is None else shared.astype(dtype)
        if out is not shared and copy is False:
            raise ValueError(f"{where}: can't alias a tensor of dtype {shared.dtype.name} into dtype "
                             f"{as_dtype(dtype).name} (copy=False)")
        if copy and out is shared:
            out = out.clone()
    if requires_grad is False and out.requires_grad:
        return out.detach()
    if requires_grad and not out.requires_grad:
        out.requires_grad_(True)
    return out


def torch_range(start, end, step=1, *, dtype=None, requires_grad: bool = False, backend=None, device=None) -> Tensor:
    """PyTorch's deprecated ``range``: ``start``, ``start + step``, ... up to and including ``end``, in the default
    dtype unless ``dtype`` (whatever the arguments' types). Warns, as PyTorch: use ``arange`` (``end`` excluded)."""
    warnings.warn("minigrad.range is deprecated, as torch.range, because its behavior is inconsistent with Python's "
                  "range builtin. Instead, use minigrad.arange, which produces values in [start, end).",
                  UserWarning, stacklevel=2)
    if step == 0:
        raise ValueError("range: step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise ValueError(f"range: upper bound and lower bound inconsistent with step sign (start={start}, end={end}, "
                         f"step={step})")
    dt = as_dtype(dtype or _default_float())
    count = math.floor((end - start) / step) + 1
    if dt.kind == "f":  # PyTorch's: start + i * step, in float64
        host = (float(start) + np.arange(count, dtype=np.float64) * float(step)).astype(dt)
    else:
        host = (int(start) + np.arange(count, dtype=np.int64) * int(step)).astype(dt)
    return _make(lambda b: b.from_numpy(host), dt, requires_grad, backend, device, "range()")


def zeros(*size, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    dt = as_dtype(dtype or _default_float())
    return _make(lambda b: b.zeros(_shape(size), dt), dt, requires_grad, backend, device, "zeros()")


def ones(*size, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    dt = as_dtype(dtype or _default_float())
    return _make(lambda b: b.ones(_shape(size), dt), dt, requires_grad, backend, device, "ones()")


def empty(*size, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    dt = as_dtype(dtype or _default_float())
    return _make(lambda b: b.empty(_shape(size), dt), dt, requires_grad, backend, device, "empty()")


def full(size, fill_value, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    if dtype is None:
        dtype = "bool" if isinstance(fill_value, bool) else int64 if isinstance(fill_value, int) else _default_float()
    dt = as_dtype(dtype)
    shape = _shape((size,))
    return _make(lambda b: b.full(shape, fill_value, dt), dt, requires_grad, backend, device, "full()")


def arange(start, end=None, step=1, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    """Values from ``start`` (default 0) up to, not including, ``end``."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, int) for v in (start, end, step)) else _default_float()
    dt = as_dtype(dtype)
    return _make(lambda b: b.arange(start, end, step, dt), dt, requires_grad, backend, device, "arange()")


def linspace(start, end, steps: int, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included: PyTorch's values bit for bit (the
    first half counted from ``start``, the second from ``end``; integer dtypes truncate float64 values)."""
    from .ops._linspace import torch_linspace

    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be an int >= 0, got {steps!r}")
    dt = as_dtype(dtype or _default_float())
    if dt.kind == "f":
        host = torch_linspace(start, end, int(steps), dt)
    elif dt.kind in "iu":  # as PyTorch: the ends as integers, the values in float64, truncated
        host = torch_linspace(int(start), int(end), int(steps), np.dtype(np.float64)).astype(dt)
    else:
        return _make(lambda b: b.linspace(start, end, steps, dt), dt, requires_grad, backend, device, "linspace()")
    return _make(lambda b: b.from_numpy(host), dt, requires_grad, backend, device, "linspace()")


def eye(n: int, m: int | None = None, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    dt = as_dtype(dtype or _default_float())
    return _make(lambda b: b.eye(n, n if m is None else m, dt), dt, requires_grad, backend, device, "eye()")


def _host_draw(generator, draw, dtype, requires_grad, backend, device, where: str) -> Tensor:
    """``draw(numpy_generator)`` from a ``minigrad.Generator`` (PyTorch's ``generator=``), on the host, then on the
    target backend: the same numbers whatever the backend."""
    if not isinstance(generator, Generator):
        raise TypeError(f"{where}: generator must be a minigrad.Generator, got {type(generator).__name__}")
    return _make(lambda b: b.from_numpy(np.asarray(draw(generator._rng)).astype(dtype, copy=False)), dtype,
                 requires_grad, backend, device, where)


def rand(*size, generator=None, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    """Uniform on [0, 1); reproducible after ``minigrad.manual_seed`` (or from ``generator``)."""
    dt, shape = as_dtype(dtype or _default_float()), _shape(size)
    if generator is not None:
        return _host_draw(generator, lambda g: g.random(shape), dt, requires_grad, backend, device, "rand()")
    return _make(lambda b: b.rand(shape, dt), dt, requires_grad, backend, device, "rand()")


def randn(*size, generator=None, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    """Standard normal; reproducible after ``minigrad.manual_seed`` (or from ``generator``)."""
    dt, shape = as_dtype(dtype or _default_float()), _shape(size)
    if generator is not None:
        return _host_draw(generator, lambda g: g.standard_normal(shape), dt, requires_grad, backend, device,
                          "randn()")
    return _make(lambda b: b.randn(shape, dt), dt, requires_grad, backend, device, "randn()")


def randint(low, high=None, size=(), dtype=None, backend=None, device=None, *, generator=None) -> Tensor:
    """Integers from ``low`` up to, not including, ``high`` (``randint(high, size=...)`` also works)."""
    if high is None:
        low, high = 0, low
    dt = as_dtype(dtype or int64)
    shape = _shape((size,) if isinstance(size, int) else tuple(size))
    if generator is not None:
        return _host_draw(generator, lambda g: g.integers(low, high, size=shape), dt, False, backend, device,
                          "randint()")
    return _make(lambda b: b.randint(low, high, shape, dt), dt, False, backend, device, "randint()")


def randperm(n: int, dtype=None, backend=None, device=None, *, generator=None) -> Tensor:
    """A random permutation of 0 .. n - 1 (int64 unless ``dtype``); reproducible after ``manual_seed`` (or from
    ``generator``)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"randperm: n must be an int >= 0, got {n!r}")
    dt = as_dtype(dtype or int64)
    if generator is not None:
        return _host_draw(generator, lambda g: g.permutation(n), dt, False, backend, device, "randperm()")
    return _make(lambda b: b.astype(b.permutation(n), dt), dt, False, backend, device, "randperm()")


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, backend=None, device=None) -> Tensor:
    """Normal samples, PyTorch's forms: ``normal(mean_tensor, std_tensor)`` or with one of them a number (the
    tensors broadcast; the result has their backend and dtype), or ``normal(mean, std, size)`` with numbers.
    The samples carry no gradient."""
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not isinstance(std, Tensor) and std < 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    if tensors:
        like = tensors[0]
        shape = np.broadcast_shapes(*(tuple(t.shape) for t in tensors))
        dt = as_dtype(dtype or (like.dtype if like.dtype.kind == "f" else _default_float()))
        with no_grad():
            return randn(*shape, generator=generator, dtype=dt, backend=like.backend) * std + mean
    if size is None:
        raise TypeError("normal: with a number mean and std, give the output size: normal(mean, std, size)")
    z = randn(*_shape((size,) if isinstance(size, int) else tuple(size)), generator=generator, dtype=dtype,
              backend=backend, device=device)
    return z * float(std) + float(mean)


def bernoulli(input: Tensor, *, generator=None) -> Tensor:  # noqa: A002 - PyTorch's name
    """1 with probability ``input`` (elementwise, in [0, 1]), else 0, in ``input``'s dtype; no gradient."""
    if not isinstance(input, Tensor) or input.dtype.kind != "f":
        raise TypeError(f"bernoulli: expected a floating tensor of probabilities, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    be = input._backend
    inside = be.logical_and(be.greater_equal(input.array, 0), be.less_equal(input.array, 1))  # False for NaN
    if input.numel() and not bool(be.to_numpy(be.all(inside, None, False))):
        raise ValueError("bernoulli: probabilities must lie in [0, 1] (and not be NaN)")
    with no_grad():
        u = rand(*input.shape, generator=generator, dtype=input.dtype, backend=input.backend)
        return (u < input.detach()).astype(input.dtype)


def _like(x: Tensor, fn, dtype, requires_grad, backend, device, *args):
    """``fn`` with x's dtype and x's backend, unless a dtype, backend or device is given (a device that
    holds x, such as "cpu" for a Numba tensor, keeps x's backend)."""
    if device is not None and backend is None:
        backend, device = _devices.backend_for(device, f"{fn.__name__}_like()", x._backend), None
    return fn(*args, dtype=dtype or x.dtype, requires_grad=requires_grad, backend=backend or x.backend, device=device)


def zeros_like(x: Tensor, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    return _like(x, zeros, dtype, requires_grad, backend, device, x.shape)


def ones_like(x: Tensor, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    return _like(x, ones, dtype, requires_grad, backend, device, x.shape)


def empty_like(x: Tensor, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    return _like(x, empty, dtype, requires_grad, backend, device, x.shape)


def full_like(x: Tensor, fill_value, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    return _like(x, full, dtype, requires_grad, backend, device, x.shape, fill_value)


def rand_like(x: Tensor, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    return _like(x, rand, dtype, requires_grad, backend, device, x.shape)


def randn_like(x: Tensor, dtype=None, requires_grad=False, backend=None, device=None) -> Tensor:
    return _like(x, randn, dtype, requires_grad, backend, device, x.shape)


def manual_seed(seed: int) -> Generator:
    """Seed the random numbers of every backend, for reproducible runs; returns ``default_generator``, as
    PyTorch's ``manual_seed`` does."""
    from .generator import default_generator

    _backends.manual_seed(seed)
    return default_generator


def get_rng_state() -> Tensor:
    """The random-number state of every backend, as a uint8 tensor (as PyTorch's ``get_rng_state``): save it
    with a checkpoint and pass it to ``set_rng_state`` to resume the same random stream (dropout masks, ...)."""
    encoded = json.dumps(_backends.get_rng_state(), sort_keys=True).encode("utf-8")
    return from_numpy(np.frombuffer(encoded, dtype=np.uint8).copy(), backend="numpy")


def set_rng_state(state) -> None:
    """Restore a state returned by ``get_rng_state`` (a uint8 tensor or array, on any backend)."""
    host = state.numpy() if isinstance(state, Tensor) else np.asarray(state)
    if host.dtype != np.uint8 or host.ndim != 1:
        raise TypeError(f"set_rng_state: expected the 1-d uint8 tensor get_rng_state returned, got "
                        f"{host.dtype} of shape {host.shape}")
    try:
        decoded = json.loads(host.tobytes().decode("utf-8"))
        _backends.set_rng_state(decoded)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"set_rng_state: not a state from get_rng_state ({exc})") from None


# -- PyTorch's randint_like and poisson ------------------------------------------------------------------------
def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, generator=None, dtype=None,  # noqa: A002
                 requires_grad: bool = False, backend=None, device=None) -> Tensor:
    """Integers from ``low`` up to, not including, ``high``, in ``input``'s shape, dtype and backend unless given
    (``randint_like(x, high)`` as in PyTorch)."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint_like: expected low < high, got low={low}, high={high}")
    if device is not None and backend is None:
        backend, device = _devices.backend_for(device, "randint_like()", input._backend), None
    dt = as_dtype(dtype or input.dtype)
    out = randint(low, high, tuple(input.shape), backend=backend or input.backend, generator=generator).astype(dt)
    if requires_grad:
        out.requires_grad_(True)
    return out


def poisson(input: Tensor, generator=None) -> Tensor:  # noqa: A002 - PyTorch's name
    """Poisson samples with the rates ``input`` (floating, >= 0), in its dtype and backend; reproducible after
    ``manual_seed`` (or from ``generator``). The samples carry no gradient (PyTorch's is identically zero)."""
    from .generator import _resolve

    if not isinstance(input, Tensor) or input.dtype.kind != "f":
        raise TypeError(f"poisson: expected a floating tensor of rates, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    rates = input.numpy()
    if not np.all(rates >= 0):  # False for NaN too
        raise ValueError("poisson: invalid Poisson rate, expected rate to be non-negative (and not NaN)")
    draw = _resolve(generator, "poisson").poisson(rates).astype(input.dtype)
    return Tensor(input._backend.from_numpy(np.asarray(draw)), input._backend)


def scalar_tensor(s, *, dtype=None, requires_grad: bool = False, backend=None, device=None) -> Tensor:
    """A 0-d tensor holding the number ``s``, in the default dtype unless ``dtype`` (PyTorch's ``scalar_tensor``)."""
    return full((), s, dtype=dtype or _default_float(), requires_grad=requires_grad, backend=backend, device=device)


# -- window functions (PyTorch's torch.*_window): computed in float64 with NumPy's formulas, rounded once --------
def _window(name: str, window_length: int, periodic: bool, symmetric, dtype, requires_grad, backend, device):
    if isinstance(window_length, bool) or not isinstance(window_length, (int, np.integer)) or window_length < 0:
        raise ValueError(f"{name}: window_length must be an int >= 0, got {window_length!r}")
    dt = as_dtype(dtype or _default_float())
    if dt.kind != "f":
        raise TypeError(f"{name}: expects a floating dtype, got {dt.name}")
    if window_length <= 1:
        host = np.ones(window_length)
    else:  # a periodic window is the symmetric one of length n + 1 without its last point
        host = symmetric(window_length + 1)[:-1] if periodic else symmetric(window_length)
    return _make(lambda b: b.from_numpy(np.asarray(host, dtype=dt)), dt, requires_grad, backend, device, f"{name}()")


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, requires_grad: bool = False,
                backend=None, device=None) -> Tensor:
    """0.5 - 0.5 cos(2 pi n / (N - 1)); ``periodic`` (default) for spectral analysis: N + 1 points, last dropped."""
    return _window("hann_window", window_length, periodic, np.hanning, dtype, requires_grad, backend, device)


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
                   dtype=None, requires_grad: bool = False, backend=None, device=None) -> Tensor:
    """alpha - beta cos(2 pi n / (N - 1))."""
    def symmetric(n):
        return alpha - beta * np.cos(2 * np.pi * np.arange(n) / (n - 1))

    return _window("hamming_window", window_length, periodic, symmetric, dtype, requires_grad, backend, device)


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, requires_grad: bool = False,
                    backend=None, device=None) -> Tensor:
    """0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    return _window("blackman_window", window_length, periodic, np.blackman, dtype, requires_grad, backend, device)


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, requires_grad: bool = False,
                    backend=None, device=None) -> Tensor:
    """The triangular window 1 - |2n / (N - 1) - 1|."""
    return _window("bartlett_window", window_length, periodic, np.bartlett, dtype, requires_grad, backend, device)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype=None,
                  requires_grad: bool = False, backend=None, device=None) -> Tensor:
    """I0(beta sqrt(1 - (2n / (N - 1) - 1)^2)) / I0(beta)."""
    return _window("kaiser_window", window_length, periodic, lambda n: np.kaiser(n, beta), dtype, requires_grad,
                   backend, device)
