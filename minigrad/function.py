"""``Function``: one differentiable op, forward and backward side by side.

``forward(ctx, *args)`` receives the op's arguments (tensors and plain values) and returns the output as a
backend array (or a tensor), or a tuple of them for several outputs. ``backward(ctx, *grad_outputs)`` receives
one gradient per output (a tensor; ``None`` for an output that got none, or that forward marked with
``ctx.mark_non_differentiable``) and returns one gradient (a tensor, or ``None``) per positional argument of
``forward``. Backward rules are
written with tensor operations, so running them with grad mode on (``create_graph=True``) differentiates
them again. Broadcasting is undone by the engine: a rule may return a gradient of the broadcast shape.
"""

from __future__ import annotations

import re
import weakref

from ._quiet import again_quietly
from .errors import AnomalyError, BackendMismatchError, InplaceError, MinigradError, ShapeError
from .grad_mode import _anomaly, _enabled
from .tensor import Tensor

_FREED = (
    "{op}: trying to backward through the graph a second time (or to read saved tensors after they "
    "were freed). Pass retain_graph=True to the first backward() if you need to backward twice."
)


class AccumulateGrad:
    """The graph node of a leaf that requires grad: the engine stores the leaf's gradient here.

    The leaf holds its node and the node refers back weakly, so a leaf and its node form no reference
    cycle; a leaf nobody holds any more has no ``.grad`` to fill.
    """

    __slots__ = ("leaf_ref", "_hooks", "_post_hooks")
    next = ()
    next_functions = ()

    def __init__(self, leaf: Tensor) -> None:
        self.leaf_ref = weakref.ref(leaf)
        self._hooks = None  # the leaf's gradient hooks (Tensor.register_hook)
        self._post_hooks = None  # called with the leaf once its .grad is updated (register_post_accumulate_grad_hook)

    @property
    def leaf(self) -> Tensor | None:
        return self.leaf_ref()

    def name(self) -> str:
        return "AccumulateGrad"


def _edge(t: Tensor):
    """The node a gradient for ``t`` flows into: its ``grad_fn``, or its leaf accumulator."""
    if t.grad_fn is not None:
        return t.grad_fn
    acc = t._accumulator
    if acc is None:
        acc = t._accumulator = AccumulateGrad(t)
    return acc


class Function:
    """Base class of every op; its instances are the graph's nodes (the ``ctx`` of forward/backward)."""

    save_output = False  # set by ops whose backward reads their own output (ctx.output)
    is_view = False  # set by ops whose output may share memory with their first input
    copied = False  # set by the forward of an ``is_view`` op that had to copy this time (a reshape of a transpose)
    _retained = None
    _hooks = None  # gradient hooks of this node's output (Tensor.register_hook), run before its backward
    _saved = ()
    _freed = False
    output_backend = None  # set by forward when the output lives on another backend (``to``)
    _non_differentiable = ()  # ids of the outputs forward marked with mark_non_differentiable
    several_outputs = None  # for an op with several outputs: (index of its only differentiable output, count),
    # or None in the index when each differentiable output has an OutputSlot (see _outputs)
    recording = False  # True when this call is recorded in the graph (grad mode and an input needs grad)
    differentiable = True  # False for ops whose output never has a gradient (comparisons): never recorded
    op_name = "function"  # the name errors use: by default the class name in snake case (LogSoftmax -> log_softmax)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "op_name" not in cls.__dict__:
            cls.op_name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls.__name__).lower()

    # -- subclass interface ---------------------------------------------------------------------
    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError

    # -- ctx interface --------------------------------------------------------------------------
    def mark_non_differentiable(self, *arrays) -> None:
        """Outputs (the arrays forward returns) that never have a gradient, as PyTorch's: they come out
        with ``requires_grad=False`` and backward receives ``None`` for them."""
        self._non_differentiable = tuple(map(id, arrays))

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (numbers pass through) for backward; an in-place change to one is then an error."""
        if not self.recording:
            return  # nothing will run backward: keep nothing alive
        self._saved = tensors
        # (t._version, inlined: this runs for every recorded op)
        self._saved_versions = [(0 if t._vc is None else t._vc.value) if isinstance(t, Tensor) else None
                                for t in tensors]

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(_FREED.format(op=self.name()))
        for t, version in zip(self._saved, self._saved_versions):
            # A tensor still without a counter was never changed (it was at version 0 when saved).
            if version is not None and t._vc is not None and t._vc.value != version:
                raise InplaceError(
                    f"{self.name()}: one of the tensors saved for its gradient (shape {t.shape}, "
                    f"{t.dtype.name}) was modified by an in-place operation: version {version} was "
                    f"saved, it is now version {t._version}. Use an out-of-place op or .clone()."
                )
        return self._saved

    @property
    def output(self) -> Tensor:
        """This op's output, as a tensor whose ``grad_fn`` is this node (for ops with ``save_output``)."""
        if self._freed:
            raise RuntimeError(_FREED.format(op=self.name()))
        vc = self._out_vc
        if vc.value != self._out_version:
            raise InplaceError(
                f"{self.name()}: its output (shape {self._out_data.shape}), which its gradient needs, "
                f"was modified by an in-place operation (version {self._out_version} -> {vc.value}). "
                "Use an out-of-place op or .clone()."
            )
        out = Tensor(self._out_data, self.backend, True, self)
        out._vc = vc
        return out

    def release(self) -> None:
        """Free what was saved for backward (after a backward without ``retain_graph``)."""
        self._freed = True
        self._saved = ()
        self._out_data = None

    @classmethod
    def name(cls) -> str:
        return cls.__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def next_functions(self) -> tuple:
        return tuple((node, 0) for node in self.next if node is not None)

    # -- applying the op ------------------------------------------------------------------------
    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op on its arguments and, in grad mode, record it in the graph."""
        # The hot path of every op: one pass over the arguments, and no graph work for untracked ones.
        backend = None
        tracked = False
        for a in args:
            if isinstance(a, Tensor):
                if backend is None:
                    backend = a._backend
                elif a._backend is not backend:
                    raise BackendMismatchError(
                        f"{cls.op_name}: inputs live on different backends "
                        f"({backend.name!r} and {a._backend.name!r}); move one with .to(name)"
                    )
                if a.requires_grad:
                    tracked = True
        if backend is None:
            from . import backends

            backend = backends.current()
        ctx = cls.__new__(cls)
        ctx.backend = backend
        if tracked and cls.differentiable and _enabled.get():
            # Where each input's gradient goes, and its shape and dtype (to undo broadcasting and casts).
            needs, edges, meta = [], [], []
            for a in args:
                if isinstance(a, Tensor) and a.requires_grad:
                    needs.append(True)
                    edges.append(a.grad_fn or a._accumulator or _edge(a))
                    meta.append((a.array.shape, a.array.dtype))
                else:
                    needs.append(False)
                    edges.append(None)
                    meta.append(None)
            ctx.recording = True
            ctx.needs_input_grad = tuple(needs)
            ctx.next, ctx.input_meta = edges, meta
        else:
            tracked = False
            ctx.needs_input_grad = _NOTHING_NEEDED[len(args)] if len(args) < 8 else (False,) * len(args)
        try:
            data = cls.forward(ctx, *args, **kwargs)
        except MinigradError:
            raise
        except (ValueError, TypeError, IndexError) as exc:
            raise _input_error(cls, args, exc) from exc
        except (RuntimeWarning, FloatingPointError):  # NumPy's, turned into an exception by an "error" filter
            data = again_quietly(cls.forward, ctx, *args, **kwargs)  # or np.errstate: IEEE results, as PyTorch
        if isinstance(data, Tensor):
            data = data.array
        elif data.__class__ is not backend.array_type:
            if data.__class__ is tuple:
                return _outputs(cls, ctx, args, data, backend, tracked)
            if isinstance(data, list):
                raise TypeError(f"{cls.op_name}: forward returned a list; return a tuple for several outputs")
            data = backend.asarray(data)
        if _anomaly.get():
            _check_no_new_nan(cls, args, data, backend)
        out = Tensor(data, ctx.output_backend or backend, tracked, ctx if tracked else None)
        if cls.is_view and not ctx.copied:
            base = args[0]
            out._vc = vc = base._counter()
            vc.has_views = True
            out._base = base if base._base is None else base._base
        if tracked and cls.save_output:
            ctx._out_data = data
            ctx._out_vc = vc = out._counter()
            ctx._out_version = vc.value
        return out


_NOTHING_NEEDED = [(False,) * n for n in range(8)]


class OutputSlot:
    """The ``grad_fn`` of one output of an op with several differentiable outputs: it hands the output's
    gradient to the op's node as a ``Gradients`` with only its slot filled, and the engine sums those per node.
    (An op with one differentiable output is that output's ``grad_fn`` itself: see ``several_outputs``.)"""

    _retained = None
    _hooks = None  # gradient hooks of this output (Tensor.register_hook)
    several_outputs = None

    def __init__(self, node: Function, index: int) -> None:
        self.next = (node,)
        self.input_meta = (None,)
        self.index = index

    @staticmethod
    def backward(slot, g):  # called as the engine calls every node's: node.backward(node, g)
        return (Gradients.one(slot.index, slot.next[0].several_outputs[1], g),)

    def name(self) -> str:
        return f"{self.next[0].name()}[{self.index}]"

    @property
    def next_functions(self) -> tuple:
        return ((self.next[0], 0),)


class Gradients:
    """The gradients of an op's several outputs, one slot each (``None`` where none arrived)."""

    __slots__ = ("grads",)

    def __init__(self, grads: list) -> None:
        self.grads = grads

    @classmethod
    def one(cls, index: int, count: int, g) -> Gradients:
        grads = [None] * count
        grads[index] = g
        return cls(grads)

    def __add__(self, other: Gradients) -> Gradients:
        return Gradients([a if b is None else b if a is None else a + b for a, b in zip(self.grads, other.grads)])

    @staticmethod
    def of(node: Function, g) -> list:
        """The gradients a node with several outputs receives: one per output, ``None`` where none arrived."""
        if g.__class__ is Gradients:
            return g.grads
        only, count = node.several_outputs
        return Gradients.one(only, count, g).grads


def _outputs(cls, ctx, args, outputs: tuple, backend, tracked: bool) -> tuple:
    """``apply`` for a forward that returned several outputs."""
    if cls.save_output or cls.is_view:
        raise TypeError(f"{cls.op_name}: save_output and is_view are for ops with one output")
    skip = ctx._non_differentiable
    anomaly = _anomaly.get()
    out_backend = ctx.output_backend or backend
    results = []
    for raw in outputs:
        data = raw.array if isinstance(raw, Tensor) else raw
        if data.__class__ is not backend.array_type:
            data = backend.asarray(data)
        if anomaly:
            _check_no_new_nan(cls, args, data, backend)
        results.append(Tensor(data, out_backend))
    if tracked:
        differentiable = [i for i, raw in enumerate(outputs) if id(raw) not in skip]
        only = differentiable[0] if len(differentiable) == 1 else None
        ctx.several_outputs = (only, len(results))
        for i in differentiable:  # with one (BatchNorm's y), the node itself, without a slot in between
            out = results[i]
            out.requires_grad = True
            out.grad_fn = ctx if only is not None else OutputSlot(ctx, i)
    return tuple(results)


def _has_nan(backend, array) -> bool:
    return array.dtype.kind in "fc" and bool(backend.to_numpy(backend.logical_not(backend.equal(array, array))).any())


def _check_no_new_nan(cls, args, data, backend) -> None:
    """Anomaly mode: finite-valued inputs must not give NaN (log(-1), sqrt(-1), 0/0, inf - inf, ...)."""
    if not _has_nan(backend, data):
        return
    if any(isinstance(a, Tensor) and _has_nan(backend, a.array) for a in args):
        return
    shapes = ", ".join(f"{a.shape} {a.dtype.name}" for a in args if isinstance(a, Tensor))
    kind = "backward" if cls.__name__.endswith("Backward") else "forward"
    raise AnomalyError(
        f"{cls.op_name}: {kind} produced NaN from inputs without NaN ({shapes}); the input is "
        "outside the op's domain (e.g. log or sqrt of a negative number, 0/0, inf - inf)"
    )


def _input_error(cls, args, exc: Exception) -> MinigradError:
    """Describe a failure inside an op's forward in terms of the op and its inputs."""
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"tensor{a.shape} {a.dtype.name}")
        elif isinstance(a, (int, float, bool)):
            parts.append(type(a).__name__)
    message = f"{cls.op_name}: invalid inputs ({', '.join(parts)}): {exc}"
    if isinstance(exc, (IndexError,)):
        return _IndexError(message)
    if isinstance(exc, TypeError):
        return _TypeError(message)
    if any(word in str(exc) for word in _SHAPE_WORDS):
        return ShapeError(message)
    return _ValueError(message)


_SHAPE_WORDS = ("shape", "broadcast", "dimension", "axis", "size", "aligned")


class _IndexError(MinigradError, IndexError):
    pass


class _TypeError(MinigradError, TypeError):
    pass


class _ValueError(MinigradError, ValueError):
    pass
