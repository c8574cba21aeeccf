"""``Tensor``: a backend array plus what autograd needs to know about it.

A tensor holds ``array`` (an array of its backend), the backend object, and its place in the graph:
``grad_fn`` (the op that made it, ``None`` for a leaf), ``requires_grad`` and, for leaves, ``grad``.
(``data`` is PyTorch's: another tensor on the same array, outside autograd; see ``Tensor.data``.)
Tensors that share memory (a view and its base) share one version counter, which every in-place change
bumps; ops that save a tensor for backward check it, so stale saved values are an error, never a silently
wrong gradient.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import backends as _backends
from . import devices as _devices
from .dtypes import SUPPORTED, TENSOR_TYPE_NAMES, as_dtype, default_float, float32, float64, int32, int64, strided
from .errors import InplaceError, ShapeError
from .grad_mode import is_grad_enabled


class VersionCounter:
    """Counts in-place changes to memory shared by a tensor and its views."""

    __slots__ = ("value", "has_views")

    def __init__(self) -> None:
        self.value = 0
        self.has_views = False


class Tensor:
    """An n-dimensional array on one backend that can record the ops applied to it."""

    __slots__ = (
        "array",  # the backend array itself (public: custom Functions and backend-level code read it)
        "_backend",
        "requires_grad",
        "grad",
        "grad_fn",
        "_vc",
        "_base",
        "_accumulator",
        "__weakref__",
    )
    __array_priority__ = 1000  # numpy_array * tensor must call Tensor.__rmul__

    def __init__(self, array, backend, requires_grad: bool = False, grad_fn=None) -> None:
        self.array = array
        self._backend = backend
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self.grad_fn = grad_fn
        self._vc: VersionCounter | None = None  # made on first need: most tensors never change
        self._base: Tensor | None = None
        self._accumulator = None

    # -- basic attributes -----------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """PyTorch's ``t.data``: a new tensor on the same array, outside autograd.

        It does not require grad, has no ``grad_fn`` and has its *own* version counter: unlike
        ``detach()``, changes made in place through it (``p.data.clamp_(-c, c)``) are invisible to
        autograd, so a graph that saved ``t`` backwards through the new values without an error (as in
        PyTorch, whose docs warn about it too). Prefer ``detach()`` or ``with no_grad():`` where a graph may
        still need the old values. ``t.array`` is the backend array itself.
        """
        return Tensor(self.array, self._backend)

    @data.setter
    def data(self, value: Tensor) -> None:
        """``t.data = other``: ``t`` now holds ``other``'s array (shared, not copied); shape and dtype may
        change, as in PyTorch. A raw array of ``t``'s backend is taken too (older minigrad code assigned
        arrays). ``t`` keeps its identity, ``grad`` and ``requires_grad``; a graph that saved ``t`` before then
        refuses to backward (PyTorch would silently use the new values)."""
        if isinstance(value, Tensor):
            if value._backend is not self._backend:
                raise _errors.BackendMismatchError(
                    f"Tensor.data = ...: the new value is on backend {value.backend!r} but the tensor on "
                    f"{self.backend!r}; move it first with .to({self.backend!r})"
                )
            array = value.array
        elif isinstance(value, self._backend.array_type):
            array = value
        else:
            raise TypeError(
                f"Tensor.data = ...: expected a Tensor (or an array of backend {self.backend!r}), got "
                f"{type(value).__name__}; wrap it with minigrad.tensor(..., backend={self.backend!r})"
            )
        dtype = as_dtype(array.dtype)  # an unsupported dtype of a raw array: a clear error
        if self.requires_grad and dtype.kind != "f":
            raise TypeError(f"Tensor.data = ...: a tensor that requires grad must stay floating point, got "
                            f"{dtype.name}")
        self.array = array
        # The memory is not the old one: leave views of it (and their counter) behind, and start past the
        # old version so that graphs which saved this tensor see the change.
        old = self._version
        self._base = None
        self._vc = VersionCounter()
        self._vc.value = old + 1

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    def size(self, dim: int | None = None):
        """The shape as a ``minigrad.Size`` (PyTorch's ``size()``), or the length of one dimension."""
        shape = self.array.shape
        return Size(shape) if dim is None else shape[dim]

    def numel(self) -> int:
        return int(self.array.size)

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        vc = self._vc
        return 0 if vc is None else vc.value

    def _counter(self) -> VersionCounter:
        """This tensor's version counter, made now if it has none yet (to share it, or to bump it)."""
        vc = self._vc
        if vc is None:
            vc = self._vc = VersionCounter()
        return vc

    def _bump_version(self) -> None:
        """Record an in-place change (a graph that saved this tensor then refuses to backward)."""
        self._counter().value += 1

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return _ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:  # noqa: N802 - PyTorch's name
        return _ops.tensor_methods._matrix_transpose(self, "tensor.mT is")

    # -- conversion -------------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The values as a host ``numpy.ndarray`` (shares memory on the CPU backends). ``force`` is PyTorch's
        (detach and copy to the host first): minigrad always does what it asks, so it changes nothing."""
        return self._backend.to_numpy(self.array)

    # -- interop: DLPack and CUDA array interface (zero-copy; minigrad.from_dlpack is the way in) ------
    def __dlpack__(self, *args, **kwargs):
        """A DLPack capsule of this tensor's memory (no copy), as ``torch.from_dlpack`` or ``np.from_dlpack`` read."""
        if self.requires_grad:
            raise RuntimeError("__dlpack__: cannot export a tensor that requires grad (the consumer would not "
                               "see the graph); use tensor.detach()")
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()

    @property
    def __cuda_array_interface__(self) -> dict:
        """The device memory of a tensor on a CUDA backend (``AttributeError`` for host memory, as NumPy's)."""
        interface = getattr(self.array, "__cuda_array_interface__", None)
        if interface is None:
            raise AttributeError(f"__cuda_array_interface__: the tensor is on backend {self.backend!r}, in host "
                                 "memory; use __array_interface__ via .numpy() or DLPack")
        return interface

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.item())

    def __format__(self, format_spec: str) -> str:
        """``f"{loss:.4f}"``: a one-element tensor formats as its number, as in PyTorch."""
        if self.array.size == 1 and format_spec:
            return format(self.item(), format_spec)
        if format_spec:
            raise TypeError(f"format(): only one-element tensors take a format spec ({format_spec!r}), got shape "
                            f"{self.shape}; format t.tolist() or t.numpy() instead")
        return str(self)

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __repr__(self) -> str:
        from .runtime import format_array  # set_printoptions

        body = format_array(self.numpy(), "tensor(")
        extra = [f"dtype={self.dtype.name}", f"backend={self.backend}"]
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extra)})"

    def to(self, *targets: Any, dtype: Any = None, backend: str | None = None, device: Any = None,
           non_blocking: bool = False, copy: bool = False) -> Tensor:
        """This tensor on another backend and/or with another dtype; differentiable.

        PyTorch's forms: ``t.to("numba")``, ``t.to("float64")``, ``t.to("numba", "float64")``,
        ``t.to(other)`` (other's backend and dtype), ``t.to(dtype=..., backend=...)``. A device (``"cpu"``,
        ``"cuda"``, ``minigrad.device(...)``, also as ``device=``) means a backend as ``minigrad.devices``
        explains: ``"cpu"`` keeps a tensor on NumPy or Numba where it is. Returns ``self`` when nothing
        changes, unless ``copy=True``. ``non_blocking`` (also PyTorch's positional form ``t.to(dtype, False, True)``)
        has no effect: copies are synchronous.
        """
        targets, non_blocking, copy = _trailing_flags("to()", targets, non_blocking, copy)
        backend, dtype = _to_targets("to()", targets, backend, dtype, device)
        if isinstance(backend, _devices.device):
            backend = _devices.backend_for(backend, "to()", self._backend)
        out = self if backend is None else _ops.to_backend(self, backend)
        out = out if dtype is None else out.astype(dtype)
        return out.clone() if copy and out is self else out

    def astype(self, dtype) -> Tensor:
        dtype = as_dtype(dtype)
        return self if dtype == self.dtype else _ops.cast(self, dtype)

    def type(self, dtype=None, non_blocking: bool = False):
        """This tensor in ``dtype``; without one, its type's name as PyTorch spells it, under minigrad's name
        (``'minigrad.FloatTensor'``; ``'minigrad.cuda.FloatTensor'`` on the GPU)."""
        if dtype is None:
            return f"minigrad.{'' if self.is_cpu else 'cuda.'}{TENSOR_TYPE_NAMES[self.dtype.name]}"
        return self.astype(dtype)

    def float(self) -> Tensor:
        return self.astype(float32)

    def double(self) -> Tensor:
        return self.astype(float64)

    def long(self) -> Tensor:
        return self.astype(int64)

    def int(self) -> Tensor:
        return self.astype(int32)

    def short(self) -> Tensor:
        return self.astype("int16")

    def char(self) -> Tensor:
        return self.astype("int8")

    def byte(self) -> Tensor:
        return self.astype("uint8")

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor in ``other``'s dtype (its backend is unchanged, as PyTorch keeps the device)."""
        return self.astype(other.dtype)

    # new_*: a new leaf on this tensor's backend, in its dtype unless given (PyTorch's Tensor.new_zeros & co.)
    def new_zeros(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
        return self._new("zeros", size, dtype, requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
        return self._new("ones", size, dtype, requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
        return self._new("empty", size, dtype, requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
        return self._new("full", (size, fill_value), dtype, requires_grad)

    def _new(self, name: str, args: tuple, dtype, requires_grad: bool) -> Tensor:
        from . import creation

        return creation._like(self, getattr(creation, name), dtype, requires_grad, None, None, *args)

    def new_tensor(self, data, dtype=None, requires_grad: bool = False) -> Tensor:
        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad, backend=self.backend)

    # In-place random fills (PyTorch's ``w.data.normal_(0, 0.02)``): ``nn.init``'s, from this backend's generator.
    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
        from .nn import init

        return init.normal_(self, mean, std, generator)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
        from .nn import init

        return init.uniform_(self, a, b, generator)

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def bool(self) -> Tensor:
        return self.astype("bool")

    def cpu(self) -> Tensor:
        """This tensor in host memory: itself on a host-memory backend (NumPy, Numba), else on NumPy."""
        return self if self._backend.host_memory else self.to("numpy")

    def cuda(self, device: Any = None, non_blocking: bool = False) -> Tensor:
        """This tensor on the CUDA backend (CuPy); itself if it is there already. ``device`` as ``to()``'s (an index
        other than 0 is refused); ``non_blocking`` has no effect (copies are synchronous)."""
        return self.to("cuda" if device is None else f"cuda:{device}" if isinstance(device, int) else device)

    @property
    def device(self) -> _devices.device:
        """``device(type='cpu')`` on a host-memory backend, ``device(type='cuda', index=n)`` on CuPy."""
        return _devices.of_backend(self._backend, self.array)

    @property
    def is_cuda(self) -> bool:
        return not self._backend.host_memory

    # -- autograd ---------------------------------------------------------------------------------
    def __deepcopy__(self, memo: dict) -> Tensor:
        """A new leaf with a copy of the data on the *same* backend object (the default deepcopy would
        copy the backend too, and ops would then refuse to mix the copy with other tensors)."""
        if self.grad_fn is not None:
            raise RuntimeError("deepcopy: only leaf tensors can be deep-copied; detach() first")
        out = type(self).__new__(type(self))
        Tensor.__init__(out, self._backend.copy(self.array), self._backend, self.requires_grad)
        memo[id(self)] = out
        if self.grad is not None:
            out.grad = self.grad.__deepcopy__(memo)
        return out

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, outside the graph.

        It shares the version counter too, so a change through either is seen by graphs that saved the
        other. It is not a view for autograd: no gradient links the two, so recording an in-place op on
        either needs no view bookkeeping (as in PyTorch).
        """
        out = Tensor(self.array, self._backend)
        out._vc = self._counter()
        return out

    def detach_(self) -> Tensor:
        """Take this tensor out of the graph in place; refused for a view, whose history is its base's (PyTorch's
        rule): use ``detach()``."""
        if self._base is not None:
            raise RuntimeError("detach_: can't detach views in-place (this tensor is a view of another); use "
                               "detach() instead")
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_(False) is only allowed on leaf tensors; use detach() for a non-leaf"
            )
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got {self.dtype.name}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self.grad_fn is not None:
            self.grad_fn._retained = weakref.ref(self)

    def register_hook(self, hook):
        """Call ``hook(grad)`` each time this tensor's gradient is computed; a hook that returns a tensor
        replaces the gradient (for the leaf's ``.grad`` and for everything upstream). Returns a handle whose
        ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad, so no gradient will reach it")
        from .function import _edge
        from .hooks import add_hook

        node = _edge(self)
        if node._hooks is None:
            node._hooks = {}
        return add_hook(node._hooks, hook)

    @property
    def retains_grad(self) -> bool:
        retained = self.grad_fn._retained if self.grad_fn is not None else None
        return retained is not None and retained() is self

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
        """Accumulate d(self)/d(leaf) into each leaf's ``.grad`` (PyTorch's semantics)."""
        _engine.backward([self], None if gradient is None else [gradient], retain_graph,
                         create_graph, inputs)

    # -- in-place changes -------------------------------------------------------------------------
    def _alias(self) -> Tensor:
        """The old value, at the same graph position, as the input of an in-place op.

        It holds a copy of the data: the op may save it for backward (``mul_``, ``div_``, ``clamp_``, ...) and
        the write that follows would otherwise overwrite the values the gradient needs.
        """
        alias = Tensor(self._backend.copy(self.array), self._backend, self.requires_grad, self.grad_fn)
        alias._accumulator = self._accumulator
        return alias

    def _check_inplace_allowed(self, op: str, tracked: bool) -> None:
        if not tracked:
            return
        if self.grad_fn is None and self.requires_grad:
            raise InplaceError(
                f"{op}: a leaf tensor that requires grad cannot be changed in place while grad mode is "
                "on; do it inside `with minigrad.no_grad():`"
            )
        base = self._base
        if base is not None and base.grad_fn is None and base.requires_grad:
            raise InplaceError(f"{op}: a view of a leaf tensor that requires grad cannot be changed in place while "
                               "grad mode is on; do it inside `with minigrad.no_grad():` or on a .clone()")
        if base is not None or self._vc is not None and self._vc.has_views:
            raise InplaceError(
                f"{op}: in-place change of a tensor that shares memory with a view (shape {self.shape}) "
                "while recording the graph is not supported; use the out-of-place op or .clone() first"
            )

    def _write(self, op: str, result: Tensor, tracked: bool) -> Tensor:
        """Store ``result`` into this tensor's memory after validating it; nothing changes on error."""
        if result.shape != self.shape:
            raise ShapeError(
                f"{op}: the result has shape {result.shape} but the tensor changed in place has shape "
                f"{self.shape}; the other operand must broadcast to {self.shape}"
            )
        if result.dtype.kind == "f" and self.dtype.kind != "f":
            raise TypeError(
                f"{op}: a {result.dtype.name} result cannot be stored in place into a "
                f"{self.dtype.name} tensor"
            )
        try:
            self._backend.setitem(self.array, Ellipsis, result.array)
        except ValueError as exc:
            raise InplaceError(f"{op}: cannot write into this tensor ({exc})") from exc
        self._bump_version()
        if tracked:
            self.grad_fn = result.grad_fn
            self.requires_grad = True
        return self

    def _inplace(self, op: str, fn, *args) -> Tensor:
        tracked = is_grad_enabled() and (
            self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)
        )
        self._check_inplace_allowed(op, tracked)
        # Untracked, no argument requires grad (or grad mode is off), so the op records nothing.
        # A plain handle, not detach(): that would mark the memory as shared with a view.
        result = fn(self._alias() if tracked else Tensor(self.array, self._backend), *args)
        return self._write(op, result, tracked)

    def _arithmetic_inplace(self, op: str, fn, kernel: str, other) -> Tensor:
        """add_/sub_/mul_/div_: outside autograd, one kernel call writes straight into this memory. What the
        kernel refuses (shapes that do not broadcast to this one, a floating result for an integer tensor)
        takes the general way, whose checks (``Function.apply``, ``_write``) name the op, shapes and dtypes."""
        if is_grad_enabled() and (self.requires_grad or isinstance(other, Tensor) and other.requires_grad):
            return self._inplace(op, fn, other)
        if isinstance(other, Tensor) and other._backend is self._backend:
            operand = other.array
        elif other.__class__ is int or other.__class__ is float:
            operand = other
        else:  # another backend, or an operand that is not a tensor yet
            return self._inplace(op, fn, other)
        try:
            getattr(self._backend, kernel)(self.array, operand, out=self.array)
        except (ValueError, TypeError):  # refused before writing anything
            return self._inplace(op, fn, other)
        except (RuntimeWarning, FloatingPointError):  # NumPy's, raised once the result is written (_quiet.py)
            pass
        self._bump_version()
        return self

    def add_(self, other, *, alpha=1) -> Tensor:
        return self._arithmetic_inplace("add_", _ops.add, "add", other if alpha == 1 else other * alpha)

    def sub_(self, other, *, alpha=1) -> Tensor:
        return self._arithmetic_inplace("sub_", _ops.sub, "subtract", other if alpha == 1 else other * alpha)

    def mul_(self, other) -> Tensor:
        return self._arithmetic_inplace("mul_", _ops.mul, "multiply", other)

    def div_(self, other, *, rounding_mode: str | None = None) -> Tensor:
        if rounding_mode is None:
            return self._arithmetic_inplace("div_", _ops.div, "divide", other)
        return self._inplace("div_", lambda x, o: _ops.div(x, o, rounding_mode=rounding_mode), other)

    def pow_(self, other) -> Tensor:
        return self._inplace("pow_", _ops.pow, other)

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
        return self._inplace("clamp_", _ops.clip, min, max)

    def copy_(self, src, non_blocking: bool = False) -> Tensor:
        """``self``'s values replaced by ``src``'s (broadcast, cast to ``self``'s dtype); differentiable.
        ``non_blocking`` has no effect (copies are synchronous)."""
        src = src if isinstance(src, Tensor) else tensor(src, backend=self.backend)
        if src._backend is not self._backend:
            raise _errors.BackendMismatchError(
                f"copy_: the source is on backend {src.backend!r} but the destination on "
                f"{self.backend!r}; move it first with .to({self.backend!r})"
            )
        return self._inplace("copy_", _ops.broadcast_copy, src)

    def fill_(self, value) -> Tensor:
        return self._inplace("fill_", _ops.fill, value)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def scatter_(self, dim: int, index: Tensor, src=None, *, value=None, reduce: str | None = None) -> Tensor:
        return self._inplace("scatter_", lambda x, s: _ops.scatter(x, dim, index, s, value=value, reduce=reduce), src)

    def scatter_add_(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        return self._inplace("scatter_add_", lambda x, s: _ops.scatter_add(x, dim, index, s), src)

    def scatter_reduce_(self, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                        include_self: bool = True) -> Tensor:
        return self._inplace("scatter_reduce_", lambda x, s: _ops.scatter_reduce(x, dim, index, s, reduce,
                                                                               include_self=include_self), src)

    def cumprod_(self, dim: int, *, dtype=None) -> Tensor:
        return self._inplace("cumprod_", lambda x: _ops.cumprod(x, dim, dtype=dtype))

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __setitem__(self, index, value) -> None:
        self._inplace("__setitem__", _ops.index_put, value, index)

    # -- arithmetic operators ---------------------------------------------------------------------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    # Comparisons return bool tensors without gradient; tensors stay hashable by identity.
    __hash__ = object.__hash__

    def __eq__(self, other):  # type: ignore[override]
        return _ops.eq(self, other)

    def __ne__(self, other):  # type: ignore[override]
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    # ~ & | ^ << >> are PyTorch's bit operations: logical for bool tensors, bitwise for integers, refused for floats.
    def __invert__(self):
        return _ops.bitwise_not(self)

    def __and__(self, other):
        return _ops.bitwise_and(self, other)

    def __or__(self, other):
        return _ops.bitwise_or(self, other)

    # Python's // and % on tensors are PyTorch's: floor division and the remainder with the divisor's sign.
    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    def __ifloordiv__(self, other):
        return self.floor_divide_(other)

    def __imod__(self, other):
        return self.remainder_(other)

    def remainder_(self, other) -> Tensor:
        return self._inplace("remainder_", _ops.remainder, other)

    def fmod_(self, other) -> Tensor:
        return self._inplace("fmod_", _ops.fmod, other)

    def floor_divide_(self, other) -> Tensor:
        return self._inplace("floor_divide_", _ops.floor_divide, other)

    def clamp_min_(self, min: float | Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return self._inplace("clamp_min_", _ops.clamp_min, min)

    def clamp_max_(self, max: float | Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return self._inplace("clamp_max_", _ops.clamp_max, max)

    def nan_to_num_(self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
        return self._inplace("nan_to_num_", _ops.nan_to_num, nan, posinf, neginf)

    # -- PyTorch's metadata queries, indexed writes in place and random fills (minigrad.ops.indexing/statistics,
    # minigrad.sampling) --------------------------------------------------------------------------------------
    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the elements lie in row-major order without gaps (size-1 dimensions' strides ignored)."""
        flags = getattr(self.array, "flags", None)
        return True if flags is None else bool(flags.c_contiguous)

    def stride(self, dim: int | None = None):
        """The step between neighbours along each dimension, in elements (PyTorch's ``stride``)."""
        if self.array.size == 0:  # NumPy gives an empty array zero strides; PyTorch a contiguous layout's
            shape = self.array.shape
            steps = tuple(int(np.prod([max(n, 1) for n in shape[d + 1:]], dtype=np.int64)) for d in range(len(shape)))
        else:
            itemsize = self.array.dtype.itemsize
            steps = tuple(int(s) // itemsize for s in self.array.strides)
        return steps if dim is None else steps[_ops.movement._check_dim(dim, self.ndim, "stride")]

    def element_size(self) -> int:
        return int(self.array.dtype.itemsize)

    @property
    def itemsize(self) -> int:
        return int(self.array.dtype.itemsize)

    @property
    def nbytes(self) -> int:
        return int(self.array.size) * int(self.array.dtype.itemsize)

    def nelement(self) -> int:
        return int(self.array.size)

    def ndimension(self) -> int:
        return self.array.ndim

    @property
    def is_cpu(self) -> bool:
        return bool(self._backend.host_memory)

    @property
    def is_meta(self) -> bool:
        """False: minigrad has no meta tensors (shapes without data)."""
        return False

    @property
    def layout(self):
        """``minigrad.strided``, the one layout minigrad has."""
        return strided

    def index_add_(self, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
        return self._inplace("index_add_", lambda x, s: _ops.index_add(x, dim, index, s, alpha=alpha), source)

    def index_copy_(self, dim: int, index: Tensor, source: Tensor) -> Tensor:
        return self._inplace("index_copy_", lambda x, s: _ops.index_copy(x, dim, index, s), source)

    def index_fill_(self, dim: int, index: Tensor, value) -> Tensor:
        return self._inplace("index_fill_", lambda x, v: _ops.index_fill(x, dim, index, v), value)

    def index_put_(self, indices, values, accumulate: bool = False) -> Tensor:
        return self._inplace("index_put_", lambda x, v: _ops.indexing.index_put_values(x, indices, v, accumulate),
                             values)

    def masked_scatter_(self, mask: Tensor, source: Tensor) -> Tensor:
        return self._inplace("masked_scatter_", lambda x, s: _ops.masked_scatter(x, mask, s), source)

    def put_(self, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
        return self._inplace("put_", lambda x, s: _ops.put(x, index, s, accumulate), source)

    def fill_diagonal_(self, fill_value, wrap: bool = False) -> Tensor:
        mask = _ops.indexing.fill_diagonal_mask(tuple(self.shape), wrap)
        return self._inplace("fill_diagonal_", lambda x: _ops.masked_fill(x, tensor(mask, backend=self.backend),
                                                                         fill_value))

    def renorm_(self, p: float, dim: int, maxnorm: float) -> Tensor:
        return self._inplace("renorm_", lambda x: _ops.renorm(x, p, dim, maxnorm))

    def random_(self, from_: int | None = None, to: int | None = None, *, generator=None) -> Tensor:
        return _sampling.random_(self, from_, to, generator=generator)

    def exponential_(self, lambd: float = 1.0, *, generator=None) -> Tensor:
        return _sampling.exponential_(self, lambd, generator=generator)

    def geometric_(self, p: float, *, generator=None) -> Tensor:
        return _sampling.geometric_(self, p, generator=generator)

    def log_normal_(self, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
        return _sampling.log_normal_(self, mean, std, generator=generator)

    def cauchy_(self, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
        return _sampling.cauchy_(self, median, sigma, generator=generator)

    def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
        return _sampling.bernoulli_(self, p, generator=generator)

    def bernoulli(self, p: float | None = None, *, generator=None) -> Tensor:
        """0/1 draws with this tensor's probabilities (or the probability ``p`` everywhere), a new tensor."""
        from .creation import bernoulli

        if p is None:
            return bernoulli(self, generator=generator)
        return _sampling.bernoulli_(self.detach().clone(), p, generator=generator)

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
        return _sampling.multinomial(self, num_samples, replacement, generator=generator)


def _trailing_flags(where: str, targets: tuple, non_blocking: bool, copy: bool) -> tuple[tuple, bool, bool]:
    """PyTorch's positional ``to(dtype, non_blocking, copy)``: up to two bools after the targets."""
    flags = []
    while targets and isinstance(targets[-1], bool) and len(flags) < 2:
        flags.insert(0, targets[-1])
        targets = targets[:-1]
    if flags:
        non_blocking = flags[0]
    if len(flags) == 2:
        copy = flags[1]
    return targets, non_blocking, copy


def _to_targets(where: str, targets: tuple, backend: str | None, dtype: Any,
                device: Any = None) -> tuple[str | _devices.device | None, Any]:
    """(backend, dtype) from ``to()``'s positional targets and keywords; None where unchanged. The backend
    is a name, or a ``device`` that the caller resolves per tensor (``devices.backend_for``)."""
    if len(targets) > 2:
        raise TypeError(f"{where}: expected at most a backend (or device) and a dtype, got {len(targets)} arguments")
    if device is not None:
        if backend is not None:
            raise TypeError(f"{where}: give backend= or device=, not both")
        targets = (device, *targets)
    for target in targets:
        if isinstance(target, Tensor):
            backend, dtype = backend or target.backend, dtype or target.dtype
        elif isinstance(target, str) and target in _backends.names():
            backend = target
        elif _devices.is_device(target):
            backend = _devices.device(target)
        elif isinstance(target, str) and target not in SUPPORTED:
            raise _errors.UnknownBackendError(
                f"{where}: {target!r} is neither a known backend ({', '.join(_backends.names())}), a device "
                f"('cpu', 'cuda') nor a dtype ({', '.join(sorted(SUPPORTED))})"
            )
        else:
            dtype = target
    if isinstance(backend, str) and backend not in _backends.names():
        raise _errors.UnknownBackendError(f"{where}: unknown backend {backend!r}; known: "
                                          f"{', '.join(_backends.names())}")
    return backend, (None if dtype is None else as_dtype(dtype))


class Size(tuple):
    """PyTorch's ``torch.Size``: a tuple of dimension lengths, returned by ``Tensor.size()`` (``Tensor.shape`` stays
    a plain tuple: it is on every op's hot path and in every shape error message)."""

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, other)) if isinstance(other, tuple) else NotImplemented

    def __repr__(self) -> str:
        return f"minigrad.Size({list(self)})"


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a minigrad tensor (PyTorch's ``is_tensor``)."""
    return isinstance(obj, Tensor)


def typename(obj, /) -> str:
    """The qualified name of ``obj``'s type, as ``torch.typename``: ``obj.type()`` for a tensor
    (``'minigrad.FloatTensor'``), else ``module.qualname`` of a class or function or of ``obj``'s class."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module, qualname = obj.__class__.__module__ or "", obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def numel(input: Tensor) -> int:  # noqa: A002 - PyTorch's name
    """The number of elements of ``input``."""
    return input.numel()


def tensor(data, dtype=None, requires_grad: bool = False, backend: str | None = None,
           device: Any = None) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (a number, nested lists, an array or a tensor).

    A NumPy array keeps its dtype; Python floats become the default dtype (float32), Python ints int64.
    ``device`` (``"cpu"``, ``"cuda"``) picks a backend as ``minigrad.devices`` explains.
    """
    target = _backends.resolve(_devices.resolve_creation(backend, device, "tensor()"))
    dtype = None if dtype is None else as_dtype(dtype)
    if isinstance(data, Tensor):
        array = data._backend.to_numpy(data.array)
    else:
        array = _host_array(data, dtype if dtype is not None and dtype.kind == "f" else default_float())
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    else:
        as_dtype(array.dtype)  # reject unsupported dtypes with a clear message
    out = Tensor(target.from_numpy(array), target)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _host_array(data, float_default=None) -> np.ndarray:
    """``data`` as a host array; Python floats become ``float_default`` (the default dtype, or the dtype asked
    for, so that ``tensor([0.1], dtype="float64")`` is not rounded through float32 first)."""
    if isinstance(data, np.ndarray):
        array = data
    elif hasattr(data, "__cuda_array_interface__") or hasattr(data, "__dlpack__") and not isinstance(
        data, (list, tuple)
    ):
        array = np.asarray(data.get() if hasattr(data, "get") else data)
    else:
        try:
            array = np.asarray(data)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"tensor(): cannot make a tensor from {type(data).__name__}: {exc}") from exc
        if array.dtype == np.float64 and not isinstance(data, np.generic):
            array = array.astype(float_default or default_float())  # the default dtype, as in PyTorch
    if array.dtype.kind not in "fiub":
        raise TypeError(
            f"tensor(): data must be numeric or bool, got {type(data).__name__} of dtype "
            f"{array.dtype} (strings and objects are not supported)"
        )
    return array


from . import engine as _engine  # noqa: E402 - the engine and ops need Tensor defined first
from . import errors as _errors  # noqa: E402
from . import ops as _ops  # noqa: E402
from . import sampling as _sampling  # noqa: E402

# Ops that read naturally as methods (x.exp(), x.sum(axis=0), x.reshape(2, 3), ...): the same functions,
# as registered with the ops.
for _name, _fn in _ops.METHODS.items():
    setattr(Tensor, _name, _fn)
del _name, _fn


# -- in-place variants of elementwise ops (x.exp_(), x.atan2_(y), x.eq_(y), ...), from one table --------------
# Each is ``Tensor._inplace`` around the out-of-place op, so version counters, the leaf and view checks and the
# recorded graph are those of every other in-place change; the result must fit the tensor's shape and dtype.
_INPLACE_OF = {name + "_": name for name in (
    "abs", "neg", "exp", "log", "log1p", "log2", "log10", "expm1", "sqrt", "rsqrt", "square", "reciprocal",
    "sigmoid", "relu", "tanh", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
    "floor", "ceil", "round", "trunc", "frac", "erf", "deg2rad", "rad2deg", "sinc", "atan2", "hypot", "lerp", "xlogy",
    "tril", "triu", "masked_fill", "addcmul", "addcdiv", "exp2", "ldexp", "copysign", "heaviside", "gcd", "lcm",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "erfc", "erfinv", "lgamma", "digamma", "i0", "logit", "mvlgamma", "nextafter", "cumsum", "addmm", "addmv",
    "addbmm", "baddbmm",
)}
_INPLACE_OF.update({
    "absolute_": "abs", "negative_": "neg", "arcsin_": "asin", "arccos_": "acos", "arctan_": "atan",
    "arcsinh_": "asinh", "arccosh_": "acosh", "arctanh_": "atanh", "arctan2_": "atan2", "fix_": "trunc",
    "clip_": "clamp",
})
_INPLACE_OF.update({"igamma_": "igamma", "igammac_": "igammac"})
# Comparisons, logic and sign have no derivative: their in-place form writes the values with a zero gradient to
# the old ones (PyTorch's for eq_/sign_ and the other comparisons; its logical_*_ keep the previous grad_fn).
_INPLACE_WITHOUT_GRADIENT = {name + "_": name for name in (
    "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not", "sign", "sgn",
)}
_INPLACE_WITHOUT_GRADIENT.update({
    "greater_": "gt", "greater_equal_": "ge", "less_": "lt", "less_equal_": "le", "not_equal_": "ne",
})


def _inplace_method(name: str, function: str, differentiable: bool):
    op = _ops.PUBLIC[function]

    def compute(x, *args, **kwargs):
        out = op(x, *args, **kwargs)
        if differentiable or not x.requires_grad:
            return out
        everywhere = Tensor(x._backend.full((), True, np.dtype(bool)), x._backend)
        return _ops.arithmetic.Where.apply(everywhere, out, x)  # out's values; x gets a zero gradient

    def method(self, *args, **kwargs):
        n, keys = len(args), tuple(kwargs)  # keyword values travel as arguments too: a tensor among them is tracked
        return self._inplace(name, lambda x, *a: compute(x, *a[:n], **dict(zip(keys, a[n:]))), *args,
                             *kwargs.values())

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place ``{function}``: ``self`` becomes ``{function}(self, ...)`` and is returned."
    return method


for _name, _function in _INPLACE_OF.items():
    setattr(Tensor, _name, _inplace_method(_name, _function, True))
for _name, _function in _INPLACE_WITHOUT_GRADIENT.items():
    setattr(Tensor, _name, _inplace_method(_name, _function, False))
del _name, _function
Tensor.multiply_, Tensor.subtract_ = Tensor.mul_, Tensor.sub_
Tensor.divide_ = Tensor.true_divide_ = Tensor.div_


def _float_power_(self: Tensor, exponent) -> Tensor:
    """In-place ``float_power``: the result is float64, so ``self`` must be float64 (as PyTorch asks)."""
    if self.dtype != float64:
        raise TypeError(f"float_power_: the result is float64 but the tensor is {self.dtype.name}; use "
                        "float_power(x, exponent) or x.double() first")
    return self._inplace("float_power_", _ops.float_power, exponent)


def _polygamma_(self: Tensor, n: int) -> Tensor:
    """In-place ``polygamma``: ``self`` becomes ``polygamma(n, self)``."""
    return self._inplace("polygamma_", lambda x: _ops.polygamma(n, x))


Tensor.float_power_ = _float_power_
Tensor.polygamma_ = _polygamma_


def _bit_operator(function: str, reflected: bool):
    fn = _ops.PUBLIC[function]
    return (lambda self, other: fn(other, self)) if reflected else (lambda self, other: fn(self, other))


# & | ^ << >>, reflected and in place (__and__ and __or__ are in the class, beside __invert__)
for _symbol, _function in (("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor"),
                           ("lshift", "bitwise_left_shift"), ("rshift", "bitwise_right_shift")):
    if _symbol not in ("and", "or"):
        setattr(Tensor, f"__{_symbol}__", _bit_operator(_function, False))
    setattr(Tensor, f"__r{_symbol}__", _bit_operator(_function, True))
    setattr(Tensor, f"__i{_symbol}__", getattr(Tensor, _function + "_"))
del _symbol, _function


# -- Tensor.hardshrink / Tensor.prelu: PyTorch's methods for these nn.functional activations (imported on use) ----
def _hardshrink(self, lambd: float = 0.5) -> Tensor:
    """``F.hardshrink(self, lambd)``: x where |x| > lambd, else 0."""
    from .nn.functional import hardshrink

    return hardshrink(self, lambd)


def _prelu(self, weight: Tensor) -> Tensor:
    """``F.prelu(self, weight)``: x where x > 0, else weight * x."""
    from .nn.functional import prelu

    return prelu(self, weight)


_hardshrink.__name__ = _hardshrink.__qualname__ = "hardshrink"
_prelu.__name__ = _prelu.__qualname__ = "prelu"
Tensor.hardshrink, Tensor.prelu = _hardshrink, _prelu
del _hardshrink, _prelu
