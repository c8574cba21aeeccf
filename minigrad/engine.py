"""The reverse-mode engine: ``backward`` and ``grad``.

The graph is made of ``Function`` nodes and ``AccumulateGrad`` nodes for leaves; each output of an op with
several outputs has an ``OutputSlot`` node in front of the op's, and the slots' gradients meet there. A pass
counts, for every node reachable from the outputs, how many consumers will send it a gradient, then runs
the nodes in topological order as their counts reach zero (Kahn's algorithm, no recursion, so a chain of
any depth works). Gradients arriving at a node are summed; the gradient an op returns for an input is summed
back to that input's shape (undoing broadcasting) and cast to its dtype, here and only here.
"""

from __future__ import annotations

from ._quiet import again_quietly
from .errors import AnomalyError, InplaceError
from .function import AccumulateGrad, Function, Gradients, _edge
from .grad_mode import _enabled
from .ops.reduction import SumTo
from .tensor import Tensor


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _root_grads(outputs, grad_outputs, create_graph: bool) -> list:
    grads = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None and i < len(grad_outputs) else None
        if g is None:
            if out.array.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for a single-element output, got "
                    f"shape {out.shape}; pass a gradient of that shape"
                )
            g = Tensor(out._backend.ones(out.shape, out.dtype), out._backend)
        elif not isinstance(g, Tensor):
            from .tensor import tensor

            g = tensor(g, dtype=out.dtype, backend=out.backend)
        if g.shape != out.shape:
            raise ValueError(f"backward: the gradient has shape {g.shape} but the output has shape {out.shape}")
        if g._backend is not out._backend:
            from .errors import BackendMismatchError

            raise BackendMismatchError(
                f"backward: the gradient is on backend {g.backend!r} but the output on {out.backend!r}"
            )
        if g.array.dtype is not out.array.dtype and g.dtype != out.dtype:
            g = g.astype(out.dtype)  # PyTorch casts a given gradient to its output's dtype (float64 to float32 rounds)
        grads.append(g)
    return grads


def _topological_order(roots) -> tuple[list, dict]:
    """Nodes reachable from ``roots`` and each node's number of consumers within that set."""
    dependencies: dict = {}
    root_set = set(roots)
    stack = list(root_set)
    order = []
    while stack:
        node = stack.pop()
        order.append(node)
        for child in node.next:
            if child is None:
                continue
            count = dependencies.get(child)
            if count is None:
                dependencies[child] = 1
                if child not in root_set:  # first visit (a root is visited as a root)
                    stack.append(child)
            else:
                dependencies[child] = count + 1
    return order, dependencies


def _needed_nodes(order, dependencies, targets) -> set:
    """The nodes from which some target is reachable (the only ones ``grad`` must run)."""
    remaining = dict(dependencies)
    ready = [n for n in order if remaining.get(n, 0) == 0]
    topo = []
    while ready:
        node = ready.pop()
        topo.append(node)
        for child in node.next:
            if child is not None:
                remaining[child] -= 1
                if remaining[child] == 0:
                    ready.append(child)
    needed = set(targets)
    for node in reversed(topo):
        if any(child in needed for child in node.next):
            needed.add(node)
    return needed


def _run(outputs, grad_outputs, retain_graph, create_graph, inputs, accumulate):
    """Run one backward pass. Returns the gradients captured for ``inputs`` (None where unreached)."""
    roots = [out.grad_fn if out.grad_fn is not None else _edge(out) for out in outputs]
    order, dependencies = _topological_order(roots)

    captures: dict = {}
    if inputs is not None:
        for t in inputs:
            captures.setdefault(_edge(t), None)
        needed = None if accumulate else _needed_nodes(order, dependencies, captures)
    else:
        needed = None

    buffers: dict = {}  # gradients summed so far for nodes that more consumers will still send to
    for node, g in zip(roots, grad_outputs):
        buffers[node] = buffers[node] + g if node in buffers else g

    # (node, its summed gradient) pairs: a node with one consumer gets its gradient handed over directly,
    # without a trip through ``buffers``.
    ready = [(n, buffers.pop(n, None)) for n in dict.fromkeys(roots) if n not in dependencies]
    stored: set = {id(g.array) for g in grad_outputs}  # arrays a leaf may not own without copying
    token = _enabled.set(create_graph)
    try:
        while ready:
            node, g = ready.pop()
            if node._hooks and g is not None:
                g = _run_hooks(node, g)
            if captures and node in captures:
                captures[node] = g
            if node.__class__ is AccumulateGrad:
                if accumulate and g is not None and (inputs is None or node in captures):
                    leaf = node.leaf_ref()
                    if leaf is not None:
                        _accumulate(leaf, g, create_graph, stored)
                        if node._post_hooks:
                            _run_post_hooks(node, leaf)
                continue
            if g is None or (needed is not None and node not in needed):
                # No gradient flows through this node: only release its consumers' counts.
                for child in node.next:
                    if child is not None:
                        left = dependencies[child] - 1
                        dependencies[child] = left
                        if left == 0:
                            ready.append((child, buffers.pop(child, None)))
                continue
            if node._retained is not None:
                kept = node._retained()
                if kept is not None:
                    _accumulate(kept, g, create_graph, stored)
            args = (g,) if node.several_outputs is None else Gradients.of(node, g)
            try:
                grads = node.backward(node, *args)
            except AnomalyError:
                raise
            except (RuntimeWarning, FloatingPointError):  # NumPy's, made an exception: again, quietly (_quiet.py)
                grads = again_quietly(node.backward, node, *args)
            if grads.__class__ is not tuple:
                grads = _as_gradients(node, grads)
            elif len(grads) != len(node.next):
                raise _gradient_count_error(node, grads)
            if not retain_graph:  # free what was saved (Function.release, inlined on this hot path)
                node._freed = True
                node._saved = ()
                node._out_data = None
            for child, gi, meta in zip(node.next, grads, node.input_meta):
                if child is None:
                    continue
                if gi is not None:
                    if gi.__class__ is Tensor or isinstance(gi, Tensor):
                        gd = gi.array
                        if gd.shape != meta[0]:
                            gi = _sum_to(node, gi, meta[0], create_graph)
                        if gd.dtype is not meta[1] and gd.dtype != meta[1]:
                            gi = gi.astype(meta[1])
                    elif gi.__class__ is not Gradients:  # (from an OutputSlot: one output's gradient)
                        raise TypeError(f"{node.name()}: backward must return tensors or None, got {type(gi).__name__}")
                left = dependencies[child] - 1
                dependencies[child] = left
                if left == 0:  # the last consumer: hand the total over
                    previous = buffers.pop(child, None) if buffers else None
                    if previous is not None:
                        gi = previous if gi is None else previous + gi
                    ready.append((child, gi))
                elif gi is not None:
                    previous = buffers.get(child)
                    buffers[child] = gi if previous is None else previous + gi
    finally:
        _enabled.reset(token)
    return captures


def _run_hooks(node, g: Tensor) -> Tensor:
    """The tensor's gradient hooks, in registration order; a hook may return a replacement gradient."""
    for hook in tuple(node._hooks.values()):
        result = hook(g)
        if result is not None:
            if not isinstance(result, Tensor) or result.shape != g.shape or result._backend is not g._backend:
                raise RuntimeError(
                    f"a gradient hook must return None or a tensor like the gradient ({g.shape} {g.dtype.name} "
                    f"on {g.backend!r}), got {getattr(result, 'shape', type(result).__name__)}"
                )
            g = result
    return g


def _as_gradients(node: Function, grads) -> tuple:
    """A backward that returned one gradient (not a tuple) for a one-argument forward."""
    grads = tuple(grads) if isinstance(grads, list) else (grads,)
    if len(grads) != len(node.next):
        raise _gradient_count_error(node, grads)
    return grads


def _gradient_count_error(node: Function, grads) -> RuntimeError:
    return RuntimeError(
        f"{node.name()}: backward returned {len(grads)} gradient(s) but forward took {len(node.next)} argument(s)"
    )


def _sum_to(node, g: Tensor, shape: tuple, create_graph: bool) -> Tensor:
    """Undo broadcasting: sum a gradient of the broadcast shape back to the input's ``shape``."""
    grad_shape = g.array.shape
    lead = len(grad_shape) - len(shape)
    fits = lead >= 0
    for k in range(len(shape) if fits else 0):  # a loop, not any(<generator>): this runs per bias gradient
        if shape[k] != 1 and shape[k] != grad_shape[lead + k]:
            fits = False
            break
    if not fits:
        raise RuntimeError(
            f"{node.name()}: backward returned a gradient of shape {grad_shape} for an input of shape {shape}"
        )
    if create_graph:  # the sum must be differentiable again
        return SumTo.apply(g, shape)
    # First-order backward records nothing: the reduction alone, without an op around it.
    try:
        return Tensor(SumTo.reduce(g._backend, g.array, shape), g._backend)
    except (RuntimeWarning, FloatingPointError):  # NumPy's, made an exception: again, quietly (_quiet.py)
        return Tensor(again_quietly(SumTo.reduce, g._backend, g.array, shape), g._backend)


def _run_post_hooks(node, leaf: Tensor) -> None:
    """The leaf's post-accumulate-grad hooks, in registration order, each called with the leaf."""
    for hook in tuple(node._post_hooks.values()):
        if hook(leaf) is not None:
            raise TypeError("a post accumulate grad hook must return None (it may change tensor.grad in place)")


def _accumulate(t: Tensor, g: Tensor, create_graph: bool, stored: set) -> None:
    """Add ``g`` to ``t.grad``; without create_graph the stored gradient owns its memory."""
    gd, td = g.array, t.array
    if gd.shape != td.shape or gd.dtype != td.dtype or g._backend is not t._backend:
        raise InplaceError(
            f"backward: the gradient for a leaf of shape {t.shape} {t.dtype.name} on {t.backend!r} has shape "
            f"{g.shape} {g.dtype.name} on {g.backend!r}; the leaf was changed (moved, cast or resized) after "
            "the graph was recorded"
        )
    current = t.grad
    if current is None:
        if not create_graph:
            if id(gd) in stored or getattr(gd, "base", None) is not None:
                g = Tensor(g._backend.copy(gd), g._backend)
            elif g.requires_grad:
                g = g.detach()
            stored.add(id(g.array))
        t.grad = g
    elif create_graph or current.requires_grad:
        t.grad = current + g
    else:
        try:
            current.array += gd
        except (RuntimeWarning, FloatingPointError):  # raised by an "error" filter once the sum is written
            pass
        current._bump_version()


def backward(outputs, grad_outputs=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Accumulate the gradients of ``outputs`` into the ``.grad`` of the leaves (or of ``inputs``)."""
    outputs = _as_tuple(outputs)
    for out in outputs:
        if not out.requires_grad:
            raise RuntimeError(
                "backward: the tensor does not require grad and has no grad_fn (did you forget "
                "requires_grad=True, or compute it under no_grad()?)"
            )
    grads = _root_grads(outputs, _as_tuple(grad_outputs) or None, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    inputs = _as_tuple(inputs) or None
    captures = _run(outputs, grads, retain_graph, create_graph, inputs, accumulate=True)
    for t in inputs or ():
        # A non-leaf among ``inputs`` gets its gradient in ``.grad`` too, as in PyTorch (a copy: the same
        # array may have flowed on to a leaf).
        g = captures.get(t.grad_fn) if t.grad_fn is not None and not t.retains_grad else None
        if g is not None:
            _accumulate(t, g, create_graph, {id(g.array)})


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool | None = None, materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, without touching any ``.grad``.

    An input the outputs do not reach is an error, or gets ``None`` with ``allow_unused=True``, or zeros with
    ``materialize_grads=True`` (which implies ``allow_unused``), as in PyTorch.
    """
    if materialize_grads and allow_unused is False:
        raise ValueError("grad: materialize_grads=True needs allow_unused=True or left unset")
    allow_unused = bool(allow_unused) or materialize_grads
    outputs = _as_tuple(outputs)
    inputs_t = _as_tuple(inputs)
    for t in inputs_t:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("grad: every input must be a tensor that requires grad")
    for out in outputs:
        if not out.requires_grad:
            raise RuntimeError("grad: an output does not require grad (it does not depend on any input)")
    grads = _root_grads(outputs, _as_tuple(grad_outputs) or None, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    captures = _run(outputs, grads, retain_graph, create_graph, inputs_t, accumulate=False)
    result = []
    for i, t in enumerate(inputs_t):
        g = captures.get(_edge(t))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        if g is None and materialize_grads:
            from .creation import zeros_like

            g = zeros_like(t)
        result.append(g)
    return tuple(result)
