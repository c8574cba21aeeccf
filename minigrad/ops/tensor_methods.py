"""PyTorch's smaller tensor functions and methods, as composites of existing ops: ``cross`` (``torch.cross``'s
``dim``), ``dist``, ``addr``/``ger``, ``msort``, ``histogram``, ``index_reduce``, ``Tensor.where``; the complex-number
queries for real tensors (``conj``, ``real``, ``isreal``, ``adjoint``/``mH``/``H``, ...); and the in-place view
changes (``squeeze_``, ``t_``, ``resize_``, ...)."""

from __future__ import annotations

import warnings

import numpy as np

from .. import return_types
from .._quiet import quiet
from ..errors import InplaceError, ShapeError
from ..grad_mode import is_grad_enabled, no_grad
from ..tensor import Tensor, VersionCounter, tensor
from ._linspace import torch_linspace as _torch_linspace
from ._registry import public
from .arithmetic import where
from .composites import outer
from .indexing import _check_source, _check_tensor, _dim_index, _on
from .matrix import cross as _linalg_cross
from .matrix import vector_norm
from .movement import _expand_or_self, reshape, squeeze, transpose, unsqueeze
from .segments import scatter_reduce
from .sorting import sort


# -- products and distances -----------------------------------------------------------------------------------
@public(spec=False)
def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """``torch.cross``: ``linalg.cross`` along ``dim``; without ``dim``, along the first dimension of ``input`` of
    size 3 (deprecated in PyTorch, which warns, as here)."""
    _check_tensor("cross", input)
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        dim = next((d for d, n in enumerate(input.shape) if n == 3), None)
        if dim is None:
            raise ShapeError(f"cross: no dimension of size 3 in input (shape {tuple(input.shape)})")
    return _linalg_cross(input, other, dim=dim)


@public(spec=False)
def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:  # noqa: A002
    """The ``p``-norm of ``input - other`` (broadcast) over all elements."""
    _check_tensor("dist", input)
    _check_tensor("dist", other)
    for t in (input, other):
        if t.dtype.kind != "f":
            raise TypeError(f"dist: input dtype should be floating point, got {t.dtype.name}")
    return vector_norm(input - other, p)


@public(spec=False)
def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:  # noqa: A002
    """``beta * input + alpha * outer(vec1, vec2)``, ``input`` broadcast to the (n, m) result; with ``beta=0``,
    ``input`` is ignored (its NaN and inf do not propagate; its gradient is zero)."""
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        _check_tensor("addr", v)
        if v.ndim != 1:
            raise ShapeError(f"addr: expected 1-D argument {name}, but got {v.ndim}-D (shape {tuple(v.shape)})")
    _check_tensor("addr", input)
    if input.dtype.kind in "biu" and (isinstance(beta, float) or isinstance(alpha, float)):
        raise TypeError(f"addr: for integral input tensors, beta and alpha must not be floating point numbers, got "
                        f"beta={beta!r}, alpha={alpha!r}")
    shape = (vec1.shape[0], vec2.shape[0])
    try:
        np.broadcast_shapes(tuple(input.shape), shape)
        base = _expand_or_self(input, shape)
    except ValueError:
        raise ShapeError(f"addr: input of shape {tuple(input.shape)} does not broadcast to the result's shape "
                         f"{shape}") from None
    product = outer(vec1, vec2)
    product = product if alpha == 1 else product * alpha
    if beta == 0:
        return where(tensor(False, backend=input.backend), base, 0) + product
    return (base if beta == 1 else base * beta) + product


@public(spec=False)
def ger(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    """PyTorch's deprecated name of ``outer``."""
    return outer(input, vec2)


@public(spec=False)
def msort(input: Tensor) -> Tensor:  # noqa: A002
    """``input`` sorted along its first dimension (ascending): ``sort(input, dim=0).values``."""
    _check_tensor("msort", input)
    return sort(input, 0).values


# -- histograms (no gradient, as PyTorch's) ----------------------------------------------------------------------
def _histogram_edges(op: str, column: np.ndarray, bins, bounds, dtype) -> np.ndarray:
    """One dimension's bin edges: a 1-D ``bins`` tensor's, or ``bins`` equal bins over ``bounds`` (by default the
    column's min and max, widened by 0.5 each way when equal; [0, 1] without data), PyTorch's bit for bit."""
    if isinstance(bins, Tensor):
        if bins.ndim != 1:
            raise ShapeError(f"{op}: bins tensor should have one dimension, got shape {tuple(bins.shape)}")
        if bins.dtype != dtype:
            raise TypeError(f"{op}: input and bins tensors should have the same dtype, got {dtype.name} and "
                            f"{bins.dtype.name}")
        if bins.numel() < 2:
            raise ValueError(f"{op}: a bins tensor needs at least 2 edges, got {bins.numel()}")
        return bins.numpy().copy()
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)):
        raise TypeError(f"{op}: bins must be an int or a 1-D tensor, got {type(bins).__name__}")
    if bins <= 0:
        raise ValueError(f"{op}: bins must be > 0, but got {bins}")
    if bounds is not None:
        low, high = (float(v) for v in bounds)
    elif column.size:
        low, high = float(column.min()), float(column.max())
    else:
        low, high = 0.0, 1.0
    if low > high:
        raise ValueError(f"{op}: min should not exceed max, but got min {low} max {high}")
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{op}: range [{low}, {high}] is not finite")
    if low == high:
        low, high = low - 0.5, high + 0.5
    return _torch_linspace(low, high, int(bins) + 1, dtype)


def _bin_of(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each value's bin (each holds its left edge, the last its right edge too), -1 for values outside (or NaN)."""
    pos = np.minimum(np.searchsorted(edges, column, side="right") - 1, edges.size - 2)
    return np.where((column >= edges[0]) & (column <= edges[-1]), pos, -1)


def _histogram_weight(op: str, weight: Tensor | None, input: Tensor, shape: tuple) -> np.ndarray:  # noqa: A002
    """The weight of each value (of each point, for ``histogramdd``), flat: ``weight``'s, or ones."""
    if weight is None:
        return np.ones(int(np.prod(shape, dtype=np.int64)), input.dtype)
    _check_tensor(op, weight)
    if op == "histogram" and weight.numel() != input.numel():
        raise ShapeError(f"histogram: weight of shape {tuple(weight.shape)} must have as many elements as the input "
                         f"of shape {tuple(input.shape)}")
    if op == "histogramdd" and tuple(weight.shape) != shape:
        raise ShapeError(f"histogramdd: weight of shape {tuple(weight.shape)} must have the shape of the points, "
                         f"{shape} (the input's {tuple(input.shape)} without its last dimension)")
    if weight.dtype != input.dtype:
        raise TypeError(f"{op}: input and weight should have the same dtype, got {input.dtype.name} and "
                        f"{weight.dtype.name}")
    return weight.numpy().reshape(-1)


def _counts(edges: list, points: np.ndarray, weights: np.ndarray, density: bool, dtype) -> np.ndarray:
    """The histogram of ``points`` (one column per dimension) over ``edges``: summed weights, or PyTorch's density
    (divided by the total, then by each dimension's bin widths)."""
    positions = [_bin_of(points[:, d], e) for d, e in enumerate(edges)]
    inside = np.logical_and.reduce([p >= 0 for p in positions])
    hist = np.zeros(tuple(e.size - 1 for e in edges), dtype)
    np.add.at(hist, tuple(p[inside] for p in positions), weights[inside])
    if density:
        hist = hist / hist.sum(dtype=dtype)
        for d, e in enumerate(edges):
            hist = hist / np.diff(e).reshape([-1 if j == d else 1 for j in np.arange(len(edges))])
    return hist.astype(dtype)


@public(spec=False)
@quiet  # density of an empty histogram: 0 / 0 = NaN, as PyTorch, without NumPy's warning
def histogram(input: Tensor, bins, *, range=None, weight: Tensor | None = None,  # noqa: A002 - PyTorch's names
              density: bool = False) -> return_types.histogram:
    """PyTorch's ``histogram``: counts (or summed ``weight``) of ``input``'s elements in ``bins`` equal bins over
    ``range`` (by default the elements' min and max), or between the edges of a 1-D ``bins`` tensor; each bin holds
    its left edge, the last its right edge too; elements outside are left out. ``density`` divides by the total
    and the bin widths. Returns ``(hist, bin_edges)``, without a gradient (PyTorch has none)."""
    _check_tensor("histogram", input)
    dtype = input.dtype
    if dtype.kind != "f":
        raise TypeError(f"histogram: input must be floating point, got {dtype.name}")
    x = input.numpy().reshape(-1, 1)
    edges = _histogram_edges("histogram", x[:, 0], bins, range, dtype)
    hist = _counts([edges], x, _histogram_weight("histogram", weight, input, tuple(input.shape)), density, dtype)
    backend = input.backend
    return return_types.histogram(tensor(hist, backend=backend), tensor(edges, backend=backend))


@public(spec=False)
@quiet
def histogramdd(input: Tensor, bins, *, range=None, weight: Tensor | None = None,  # noqa: A002 - PyTorch's names
                density: bool = False) -> return_types.histogramdd:
    """PyTorch's ``histogramdd``: the D-dimensional histogram of the points in the last dimension of ``input``
    (..., D), with ``histogram``'s rules per dimension: ``bins`` an int, D ints or D 1-D edge tensors, ``range`` D
    (min, max) pairs flattened, ``weight`` one per point. Returns ``(hist, bin_edges)`` (a tuple of D tensors)."""
    _check_tensor("histogramdd", input)
    dtype = input.dtype
    if dtype.kind != "f":
        raise TypeError(f"histogramdd: input must be floating point, got {dtype.name}")
    if input.ndim < 2:
        raise ShapeError(f"histogramdd: input tensor should have at least 2 dimensions (..., D), got shape "
                         f"{tuple(input.shape)}")
    dims = input.shape[-1]
    points = input.numpy().reshape(-1, dims)
    per_dim = list(bins) if isinstance(bins, (list, tuple)) else [bins] * dims
    if len(per_dim) != dims:
        raise ValueError(f"histogramdd: bins must give one entry per dimension of the points ({dims}), got "
                         f"{len(per_dim)}")
    bounds = None if range is None else [float(v) for v in range]
    if bounds is not None and len(bounds) != 2 * dims:
        raise ValueError(f"histogramdd: for a {dims}-dimensional histogram range should have {2 * dims} elements, "
                         f"but got {len(bounds)}")
    edges = [_histogram_edges("histogramdd", points[:, d], b, None if bounds is None else bounds[2 * d:2 * d + 2],
                              dtype) for d, b in enumerate(per_dim)]
    weights = _histogram_weight("histogramdd", weight, input, tuple(input.shape[:-1]))
    backend = input.backend
    return return_types.histogramdd(tensor(_counts(edges, points, weights, density, dtype), backend=backend),
                                    tuple(tensor(e, backend=backend) for e in edges))


# -- index_reduce -----------------------------------------------------------------------------------------------
_INDEX_REDUCTIONS = ("prod", "mean", "amax", "amin")


@public(spec=False)
def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,  # noqa: A002
                 include_self: bool = True) -> Tensor:
    """PyTorch's ``index_reduce``: a copy of ``input`` where the slice ``index[i]`` along ``dim`` is reduced
    (``"prod"``, ``"mean"``, ``"amax"`` or ``"amin"``) with ``source``'s slice ``i``, with ``input``'s own values
    among them unless ``include_self=False``. ``scatter_reduce`` with the index spread along ``dim``, so its
    gradients are ``scatter_reduce``'s (PyTorch's)."""
    if reduce not in _INDEX_REDUCTIONS:
        raise ValueError(f"index_reduce: reduce must be one of {', '.join(_INDEX_REDUCTIONS)}, got {reduce!r}")
    _check_tensor("index_reduce", input)
    axis, idx = _dim_index("index_reduce", input, dim, index)
    _check_source("index_reduce", input, axis, idx.size, source)
    if input.ndim == 0:
        return index_reduce(reshape(input, (1,)), 0, index.reshape(-1), reshape(source, (-1,)), reduce,
                            include_self=include_self).reshape(())
    idx = np.where(idx < 0, idx + input.shape[axis], idx)
    lines = np.broadcast_to(idx.reshape([-1 if d == axis else 1 for d in range(input.ndim)]), source.shape)
    return scatter_reduce(input, axis, _on(input, np.ascontiguousarray(lines)), source, reduce,
                          include_self=include_self)


def _index_reduce_(self: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """In-place ``index_reduce``."""
    return self._inplace("index_reduce_", lambda x, s: index_reduce(x, dim, index, s, reduce,
                                                                    include_self=include_self), source)


def _where(self: Tensor, condition: Tensor, y) -> Tensor:
    """``where(condition, self, y)``."""
    return where(condition, self, y)


def _addr_(self: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """In-place ``addr``."""
    return self._inplace("addr_", lambda x, a, b: addr(x, a, b, beta=beta, alpha=alpha), vec1, vec2)


# -- complex-number queries for real tensors (minigrad has no complex dtypes) ------------------------------------
@public(spec=False)
def conj(input: Tensor) -> Tensor:  # noqa: A002
    """The complex conjugate: ``input`` itself for a real tensor (as PyTorch's)."""
    _check_tensor("conj", input)
    return input


@public(spec=False)
def resolve_conj(input: Tensor) -> Tensor:  # noqa: A002
    """``input`` itself: a real tensor has no lazy conjugation to apply."""
    _check_tensor("resolve_conj", input)
    return input


@public(spec=False)
def resolve_neg(input: Tensor) -> Tensor:  # noqa: A002
    """``input`` itself: minigrad has no lazy negation to apply."""
    _check_tensor("resolve_neg", input)
    return input


@public(spec=False)
def is_conj(input: Tensor) -> bool:  # noqa: A002
    """False: minigrad tensors are never lazily conjugated."""
    _check_tensor("is_conj", input)
    return False


@public(spec=False)
def is_neg(input: Tensor) -> bool:  # noqa: A002
    """False: minigrad tensors are never lazily negated."""
    _check_tensor("is_neg", input)
    return False


@public(spec=False, method=False)
def real(input: Tensor) -> Tensor:  # noqa: A002
    """The real part: ``input`` itself for a real tensor (as PyTorch's)."""
    _check_tensor("real", input)
    return input


@public(spec=False, method=False)
def imag(input: Tensor) -> Tensor:  # noqa: A002
    """PyTorch's error: a real tensor has no imaginary part."""
    _check_tensor("imag", input)
    raise TypeError(f"imag is not implemented for tensors with non-complex dtypes (got {input.dtype.name})")


@public(spec=False)
def isreal(input: Tensor) -> Tensor:  # noqa: A002
    """Whether each element is real: all True for a real tensor."""
    _check_tensor("isreal", input)
    return Tensor(input._backend.ones(input.shape, np.dtype(bool)), input._backend)


@public(spec=False)
def adjoint(input: Tensor) -> Tensor:  # noqa: A002
    """The conjugate transpose of the last two dimensions (a transpose for a real tensor; a view)."""
    _check_tensor("adjoint", input)
    return _matrix_transpose(input, "adjoint:")


def _matrix_transpose(x: Tensor, subject: str) -> Tensor:
    """``x`` with its last two dimensions swapped, a view (``mT``, ``mH``, ``adjoint``); a 0-D tensor comes back as
    itself, as in PyTorch (which deprecates that). ``subject`` starts the error for a 1-D tensor ("adjoint:")."""
    if x.ndim == 0:
        return x
    if x.ndim < 2:
        raise ShapeError(f"{subject} only supported on matrices or batches of matrices, got a {x.ndim}-D tensor")
    return transpose(x, -2, -1)


def _mh(self: Tensor) -> Tensor:
    """The conjugate transpose of the last two dimensions (``adjoint()``)."""
    return _matrix_transpose(self, "tensor.mH is")


def _h(self: Tensor) -> Tensor:
    """The conjugate transpose of a matrix (a 0-D tensor itself, as ``mH``)."""
    if self.ndim == 0:
        return self
    if self.ndim != 2:
        raise ShapeError(f"tensor.H is only supported on matrices (2-D tensors), got a {self.ndim}-D tensor"
                         + ("; for batches of matrices, use tensor.mH" if self.ndim > 2 else ""))
    return transpose(self, 0, 1)


# -- in-place view changes: the tensor itself takes the view's shape and strides -----------------------------------
def _inplace_view(self: Tensor, op: str, fn, *args) -> Tensor:
    """Make ``self`` the view ``fn(self, *args)`` (same memory). Recorded as that view op when ``self`` requires
    grad in grad mode; a leaf that requires grad is refused then (PyTorch's rule). Bumps the version, so that graphs
    which saved ``self`` refuse to backward through the old shape."""
    tracked = is_grad_enabled() and self.requires_grad
    if tracked and self.grad_fn is None:
        raise InplaceError(f"{op}: a leaf tensor that requires grad cannot be changed in place while grad mode is "
                           "on; do it inside `with minigrad.no_grad():`")
    handle = Tensor(self.array, self._backend, self.requires_grad, self.grad_fn)
    handle._accumulator = self._accumulator
    out = fn(handle, *args)  # checks the arguments: nothing has changed on error
    self.array = out.array
    if tracked:
        self.grad_fn = out.grad_fn
    self._bump_version()
    return self


def _squeeze_(self: Tensor, dim=None) -> Tensor:
    """In-place ``squeeze``: drop size-1 dimensions (all, or ``dim``)."""
    return _inplace_view(self, "squeeze_", squeeze, dim)


def _unsqueeze_(self: Tensor, dim: int) -> Tensor:
    """In-place ``unsqueeze``: a size-1 dimension at ``dim``."""
    return _inplace_view(self, "unsqueeze_", unsqueeze, dim)


def _transpose_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    """In-place ``transpose``: swap ``dim0`` and ``dim1``."""
    return _inplace_view(self, "transpose_", transpose, dim0, dim1)


def _swapaxes_(self: Tensor, axis0: int, axis1: int) -> Tensor:
    """In-place ``swapaxes`` (``transpose_``)."""
    return _inplace_view(self, "swapaxes_", transpose, axis0, axis1)


def _swapdims_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    """In-place ``swapdims`` (``transpose_``)."""
    return _inplace_view(self, "swapdims_", transpose, dim0, dim1)


def _t_(self: Tensor) -> Tensor:
    """In-place ``t``: transpose a 2-D tensor (0-D and 1-D stay as they are)."""
    if self.ndim > 2:
        raise ShapeError(f"t_: expects a tensor with <= 2 dimensions, but self is {self.ndim}-D")
    return _inplace_view(self, "t_", lambda x: transpose(x, 0, 1) if x.ndim == 2 else x)


def _resize_(self: Tensor, *sizes, memory_format=None) -> Tensor:
    """PyTorch's ``resize_``: the tensor takes shape ``sizes`` (contiguous) over its memory from its first element
    on; elements beyond the old memory are new (zeros here, uninitialized in PyTorch), and then the tensor no longer
    shares memory with its views. Refused for a tensor that requires grad (PyTorch's rule)."""
    from .strided import _storage

    shape = tuple(int(n) for n in (sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes))
    if any(n < 0 for n in shape):
        raise ValueError(f"resize_: sizes must be non-negative, got {shape}")
    if self.requires_grad:
        raise InplaceError("resize_: cannot resize a tensor that requires grad")
    if shape == tuple(self.shape):
        return self
    count = int(np.prod(shape, dtype=np.int64))
    found = _storage(self)
    be = self._backend
    if found is not None and found[1] + count <= found[0].size:
        storage, offset, _ = found
        self.array = be.reshape(storage.reshape(-1)[offset:offset + count], shape)
        self._bump_version()
        return self
    old = self.array.reshape(-1) if self.array.flags.c_contiguous else be.copy(self.array).reshape(-1)
    new = be.zeros((count,), self.dtype)
    kept = min(count, old.size)
    be.setitem(new, slice(0, kept), old[:kept])
    version = self._version
    self.array = be.reshape(new, shape)
    self._base = None  # new memory: the old views keep the old one
    self._vc = VersionCounter()
    self._vc.value = version + 1
    return self


def _resize_as_(self: Tensor, other: Tensor, memory_format=None) -> Tensor:
    """``resize_(other.shape)``."""
    _check_tensor("resize_as_", other)
    return _resize_(self, tuple(other.shape))


def _strided_zeros(op: str, size, stride, dtype, requires_grad: bool, backend, device) -> Tensor:
    from .. import backends as _backends
    from .. import devices as _devices
    from ..dtypes import as_dtype, default_float
    from .strided import as_strided

    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise ValueError(f"{op}: mismatch in length of strides and shape: size {size}, stride {stride}")
    if any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise ValueError(f"{op}: sizes and strides must be non-negative, got {size} and {stride}")
    count = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    be = _backends.resolve(_devices.resolve_creation(backend, device, op))
    storage = Tensor(be.zeros((count,), as_dtype(dtype if dtype is not None else default_float())), be)
    with no_grad():
        out = as_strided(storage, size, stride, 0)
    return out.requires_grad_(requires_grad)


@public(spec=False, method=False)
def empty_strided(size, stride, *, dtype=None, requires_grad: bool = False, backend: str | None = None,
                  device=None) -> Tensor:
    """A new tensor of ``size`` whose strides (in elements) are ``stride``, a view of memory that holds zeros
    (PyTorch's is uninitialized); the default dtype unless ``dtype``."""
    return _strided_zeros("empty_strided", size, stride, dtype, requires_grad, backend, device)


def _new_empty_strided(self: Tensor, size, stride, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor of ``size`` with the given ``stride`` (in elements), on this tensor's backend and by default of
    its dtype; its memory holds zeros (PyTorch's is uninitialized)."""
    return _strided_zeros("new_empty_strided", size, stride, self.dtype if dtype is None else dtype, requires_grad,
                          self.backend, None)


# -- Python callables per element, in place (CPU tensors, outside autograd, as PyTorch's) ------------------------
def _map_elements(self: Tensor, op: str, fn, *others: Tensor) -> Tensor:
    """``self[i] = fn(self[i], other[i], ...)`` with Python numbers, ``others`` broadcast to ``self``'s shape and of
    its dtype (PyTorch's rules for ``apply_``, ``map_`` and ``map2_``)."""
    if not self.is_cpu:
        raise TypeError(f"{op} is only implemented on CPU tensors")
    for t in (self, *others):
        if t.requires_grad:
            raise RuntimeError(f"Can't call {op}() on Variable that requires grad. Use var.detach().{op}() instead.")
    columns = [self.numpy()]
    for other in others:
        _check_tensor(op, other)
        if other.dtype != self.dtype:
            raise TypeError(f"{op}: expected a {self.dtype.name} tensor, as self, got {other.dtype.name}")
        try:
            columns.append(np.broadcast_to(other.numpy(), self.shape))
        except ValueError:
            raise ShapeError(f"{op}: a tensor of shape {tuple(other.shape)} does not broadcast to self's shape "
                             f"{tuple(self.shape)}") from None
    kind = {"f": float, "b": bool}.get(self.dtype.kind, int)
    results = []
    for values in zip(*(c.reshape(-1).tolist() for c in columns)):
        value = fn(*values)
        if not isinstance(value, (int, float, np.number)):  # bool is an int
            raise TypeError(f"{op}: the function must return a real number, got {type(value).__name__}")
        results.append(kind(value))
    new = tensor(np.array(results, self.dtype).reshape(self.shape), backend=self.backend)
    return self._inplace(op, lambda x: new)


def _apply_(self: Tensor, callable) -> Tensor:  # noqa: A002 - PyTorch's name
    """``callable(x)`` of each element, written back in place (a Python number per element: slow)."""
    return _map_elements(self, "apply_", callable)


def _map_(self: Tensor, tensor: Tensor, callable) -> Tensor:  # noqa: A002
    """``callable(self[i], tensor[i])`` of each element, ``tensor`` broadcast to this shape, in place."""
    return _map_elements(self, "map_", callable, tensor)


def _map2_(self: Tensor, x: Tensor, y: Tensor, callable) -> Tensor:  # noqa: A002
    """``callable(self[i], x[i], y[i])`` of each element, ``x`` and ``y`` broadcast to this shape, in place."""
    return _map_elements(self, "map2_", callable, x, y)


# -- pinned memory: minigrad has none ------------------------------------------------------------------------------
def _is_pinned(self: Tensor, device=None) -> bool:
    """False: minigrad allocates no page-locked host memory."""
    return False


def _pin_memory(self: Tensor, device=None) -> Tensor:
    """PyTorch's errors where it has them (no CUDA device; a tensor on the GPU); else the tensor itself, since
    minigrad has no page-locked memory and copies to the GPU the same way without it."""
    from .. import cuda

    if not self.is_cpu:
        raise RuntimeError(f"pin_memory: cannot pin a tensor on {self.device}: only dense CPU tensors can be pinned")
    if not cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return self


# -- PyTorch's top-level spellings of Tensor methods: torch.exp_(x) is x.exp_() -------------------------------------
def _method_as_function(name: str):
    def function(input: Tensor, *args, **kwargs):  # noqa: A002 - PyTorch's name
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a tensor, got {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``input.{name}(...)``, PyTorch's top-level spelling of the Tensor method."
    return function


for _name in ("abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
              "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_",
              "cos_", "cosh_", "deg2rad_", "detach", "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_",
              "fix_", "floor_", "frac_", "gcd_", "i0_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_",
              "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "resize_as_", "round_",
              "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_",
              "zero_"):
    public(_method_as_function(_name), spec=False, method=False)


def _register_post_accumulate_grad_hook(self: Tensor, hook):
    """Call ``hook(tensor)`` each time backward has accumulated this leaf's gradient into ``.grad`` (after the
    gradient hooks; not for ``autograd.grad``). The hook must return None. Returns a handle whose ``remove()``
    unregisters it."""
    from ..function import _edge
    from ..hooks import add_hook

    if not self.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't "
                           "require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered on "
                           "non-leaf tensors")
    node = _edge(self)
    if node._post_hooks is None:
        node._post_hooks = {}
    return add_hook(node._post_hooks, hook)


for _name, _fn in (("index_reduce_", _index_reduce_), ("where", _where), ("addr_", _addr_),
                   ("squeeze_", _squeeze_), ("unsqueeze_", _unsqueeze_), ("transpose_", _transpose_),
                   ("swapaxes_", _swapaxes_), ("swapdims_", _swapdims_), ("t_", _t_), ("resize_", _resize_),
                   ("resize_as_", _resize_as_), ("new_empty_strided", _new_empty_strided),
                   ("register_post_accumulate_grad_hook", _register_post_accumulate_grad_hook), ("apply_", _apply_),
                   ("map_", _map_), ("map2_", _map2_), ("is_pinned", _is_pinned), ("pin_memory", _pin_memory)):
    _fn.__name__ = _fn.__qualname__ = _name
    setattr(Tensor, _name, _fn)
Tensor.real = property(real, doc="The real part: the tensor itself for a real tensor.")
Tensor.imag = property(imag, doc="PyTorch's error: a real tensor has no imaginary part.")
Tensor.mH = property(_mh, doc="The conjugate transpose of the last two dimensions (a transpose for real tensors).")
Tensor.H = property(_h, doc="The conjugate transpose of a 2-D tensor (a transpose for real tensors).")
del _name, _fn
