"""Jacobians, Hessians and their products for a Python function of tensors, as ``torch.autograd.functional``.

Every function here is built on ``minigrad.grad`` (reverse mode). A vector-Jacobian product is one backward
pass. A Jacobian-vector product uses the double-backward trick: ``g(u) = Jᵀu`` is linear in the cotangent
``u``, so differentiating ``g`` with respect to a ``u`` of zeros, against ``v``, gives ``Jv``. ``jacobian``
runs one backward pass per output element (``"reverse-mode"``) or one such ``Jv`` per input element
(``"forward-mode"``). ``vectorize`` is accepted and changes nothing: PyTorch batches the same passes with
vmap, and the numbers agree.

As in PyTorch, the function's inputs are fresh leaves (detached copies) unless ``create_graph=True``, in which
case the results stay in the graph and can be differentiated again; an input the outputs do not depend on
gets zeros, or an error with ``strict=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from ..creation import eye, ones_like, zeros_like
from ..engine import grad
from ..errors import ShapeError
from ..grad_mode import enable_grad
from ..ops.movement import _reshape_or_self, stack
from ..tensor import Tensor

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]

_STRATEGIES = ("forward-mode", "reverse-mode")


def _as_tuple(value, what: str, fn: str) -> tuple[bool, tuple]:
    """(whether the value was a tuple, the tensors as a tuple)."""
    if isinstance(value, Tensor):
        return False, (value,)
    if isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            if not isinstance(v, Tensor):
                raise TypeError(f"{fn}: the {what} must be a tensor or a tuple of tensors, but item {i} is a "
                                f"{type(v).__name__}")
        return True, tuple(value)
    raise TypeError(f"{fn}: the {what} must be a tensor or a tuple of tensors, got {type(value).__name__}")


# The leaves made here, collected while ``minigrad.func`` runs a transform: its results keep their graph only
# where it reaches the caller's tensors, and these leaves are not the caller's.
made_leaves: ContextVar[list | None] = ContextVar("minigrad_made_leaves", default=None)


def new_leaf(t: Tensor) -> Tensor:
    """``t`` (a fresh tensor), now a leaf that requires grad."""
    made = made_leaves.get()
    if made is not None:
        made.append(t)
    return t.requires_grad_(True)


def _leaves(inputs: tuple, create_graph: bool) -> tuple:
    """The tensors the function is called on: views that keep the caller's graph (``create_graph``), else
    detached leaves that require grad. The views are ``t[...]``, a node of their own, so gradients with respect
    to them leave out other uses of ``t``."""
    return tuple(t[...] if create_graph and t.requires_grad else new_leaf(t.detach())
                 for t in inputs)


def _call(func: Callable, inputs: tuple, fn: str) -> tuple[bool, tuple]:
    return _as_tuple(func(*inputs), "outputs of the user-provided function", fn)


def _vectors(v, like: tuple, what: str, fn: str, create_graph: bool) -> tuple:
    """``v`` checked against the shapes of ``like``; ``None`` means ones for a single one-element tensor."""
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(f"{fn}: v can be omitted only when the {what} is a single tensor with one element, "
                               f"got shapes {[tuple(t.shape) for t in like]}")
        return (ones_like(like[0]),)
    _, vs = _as_tuple(v, "v", fn)
    if len(vs) != len(like):
        raise ShapeError(f"{fn}: v has {len(vs)} tensors but the {what} has {len(like)}")
    for i, (a, b) in enumerate(zip(vs, like)):
        if tuple(a.shape) != tuple(b.shape):
            raise ShapeError(f"{fn}: v[{i}] has shape {tuple(a.shape)} but the {what}[{i}] has shape "
                             f"{tuple(b.shape)}")
    return vs if create_graph else tuple(t.detach() for t in vs)


def _vjp(outputs: tuple, inputs: tuple, cotangents: tuple, create_graph: bool) -> tuple:
    """``minigrad.grad`` over the outputs that require grad; ``None`` for an input none of them reaches."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], inputs, [c for _, c in pairs], retain_graph=True,
                create_graph=create_graph, allow_unused=True)


def _zeros_for_none(grads: tuple, like: tuple, strict: bool, fn: str, message: str) -> tuple:
    out = []
    for i, (g, t) in enumerate(zip(grads, like)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: {message.format(i=i)}; this is not allowed with strict=True")
            g = zeros_like(t)
        out.append(g)
    return tuple(out)


def _finish(tensors: tuple, create_graph: bool, as_tuple: bool):
    tensors = tuple(t if create_graph else t.detach() for t in tensors)
    return tensors if as_tuple else tensors[0]


def _check_outputs_require_grad(outputs: tuple, strict: bool, fn: str) -> None:
    if strict:
        for i, o in enumerate(outputs):
            if not o.requires_grad:
                raise RuntimeError(f"{fn}: output {i} of the function does not depend on the inputs (it does not "
                                   "require grad); this is not allowed with strict=True")


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), vᵀ J)``: the vector-Jacobian product, one backward pass."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _leaves(inputs, create_graph)
        out_tuple, outputs = _call(func, inputs, "vjp")
        _check_outputs_require_grad(outputs, strict, "vjp")
        vs = _vectors(v, outputs, "output", "vjp", create_graph)
        grads = _vjp(outputs, inputs, vs, create_graph)
        grads = _zeros_for_none(grads, inputs, strict, "vjp", "the output does not depend on input {i}")
    return _finish(outputs, create_graph, out_tuple), _finish(grads, create_graph, in_tuple)


def _jvp_from_vjp(outputs: tuple, inputs: tuple, create_graph: bool, strict: bool, fn: str):
    """A function ``v -> Jv`` for the map inputs -> outputs, by the double-backward trick."""
    cotangents = tuple(new_leaf(zeros_like(o)) for o in outputs)
    transposed = _vjp(outputs, inputs, cotangents, create_graph=True)
    if strict:
        _zeros_for_none(transposed, inputs, strict, fn, "the output does not depend on input {i}")

    def apply(vs: tuple) -> tuple:
        pairs = [(g, v) for g, v in zip(transposed, vs) if g is not None]
        if not pairs:
            result = (None,) * len(outputs)
        else:
            result = _vjp(tuple(g for g, _ in pairs), cotangents, tuple(v for _, v in pairs), create_graph)
        return _zeros_for_none(result, outputs, strict, fn, "output {i} does not depend on the inputs")

    return apply


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)``: the Jacobian-vector product (double-backward trick)."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _leaves(inputs, create_graph)
        vs = _vectors(v, inputs, "input", "jvp", create_graph)
        out_tuple, outputs = _call(func, inputs, "jvp")
        _check_outputs_require_grad(outputs, strict, "jvp")
        result = _jvp_from_vjp(outputs, inputs, create_graph, strict, "jvp")(vs)
    return _finish(outputs, create_graph, out_tuple), _finish(result, create_graph, out_tuple)


def _basis(t: Tensor) -> list[Tensor]:
    """The one-hot tensors of ``t``'s shape, one per element, in row-major order."""
    n = t.numel()
    rows = eye(n, dtype=t.dtype, backend=t.backend)
    return [_reshape_or_self(rows[j], t.shape) for j in range(n)]


def _stack(parts: list[Tensor], lead: tuple, tail: tuple, like: Tensor, *, tail_last: bool) -> Tensor:
    """Jacobian block of shape ``lead + tail`` from ``parts``, one per element of ``lead`` (reverse mode) or
    of ``tail`` (forward mode)."""
    if not parts:  # an empty output or input
        return like.new_zeros(lead + tail)
    return _reshape_or_self(stack(parts, -1 if tail_last else 0), lead + tail)


def _postprocess(blocks, out_tuple: bool, in_tuple: bool):
    """PyTorch's nesting: a tensor, a tuple over outputs or inputs, or a tuple (outputs) of tuples (inputs)."""
    if out_tuple and in_tuple:
        return tuple(tuple(row) for row in blocks)
    if out_tuple:
        return tuple(row[0] for row in blocks)
    if in_tuple:
        return tuple(blocks[0])
    return blocks[0][0]


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``; block (i, j) has shape ``outputs[i].shape + inputs[j].shape``."""
    if strategy not in _STRATEGIES:
        raise ValueError(f"jacobian: strategy must be one of {_STRATEGIES}, got {strategy!r}")
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _leaves(inputs, create_graph)
        out_tuple, outputs = _call(func, inputs, "jacobian")
        _check_outputs_require_grad(outputs, strict, "jacobian")
        if strategy == "reverse-mode":
            blocks = []
            for i, out in enumerate(outputs):
                rows = [_vjp((out,), inputs, (e,), create_graph) for e in _basis(out)]
                rows = [_zeros_for_none(r, inputs, strict, "jacobian", f"output {i} does not depend on input {{i}}")
                        for r in rows]
                blocks.append([_stack([r[j] for r in rows], tuple(out.shape), tuple(t.shape), t, tail_last=False)
                               for j, t in enumerate(inputs)])
        else:
            jv = _jvp_from_vjp(outputs, inputs, create_graph, strict, "jacobian")
            columns = []  # columns[j][k]: J v for the k-th one-hot v of input j, one tensor per output
            for j, t in enumerate(inputs):
                columns.append([jv(tuple(e if jj == j else zeros_like(s) for jj, s in enumerate(inputs)))
                                for e in _basis(t)])
            blocks = [[_stack([col[i] for col in columns[j]], tuple(out.shape), tuple(t.shape), out, tail_last=True)
                       for j, t in enumerate(inputs)] for i, out in enumerate(outputs)]
        if not create_graph:
            blocks = [[b.detach() for b in row] for row in blocks]
    return _postprocess(blocks, out_tuple, in_tuple)


def _scalar_function(func: Callable, fn: str) -> Callable:
    """``func`` checked to return one tensor with one element, squeezed to 0-d."""

    def call(*inputs):
        out_tuple, outputs = _call(func, inputs, fn)
        if out_tuple:
            raise RuntimeError(f"{fn}: the function should return a single tensor, got a tuple of {len(outputs)}")
        if outputs[0].numel() != 1:
            raise RuntimeError(f"{fn}: the function should return a tensor with a single element, got shape "
                               f"{tuple(outputs[0].shape)}")
        return _reshape_or_self(outputs[0], ())

    return call


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar ``func``; block (i, j) has shape ``inputs[i].shape + inputs[j].shape``."""
    if outer_jacobian_strategy not in _STRATEGIES:
        raise ValueError(f"hessian: outer_jacobian_strategy must be one of {_STRATEGIES}, "
                         f"got {outer_jacobian_strategy!r}")
    scalar = _scalar_function(func, "hessian")
    in_tuple, _ = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*inp):
        return jacobian(scalar, inp, create_graph=True, strict=strict)

    # ``gradient`` always returns a tuple (it is called with a tuple of inputs): unwrap it for a single input.
    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return result if in_tuple else result[0]


def _gradient_of_scalar(func: Callable, inputs, v, create_graph: bool, strict: bool, fn: str):
    in_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _leaves(inputs, create_graph)
    vs = _vectors(v, inputs, "input", fn, create_graph)
    out = _scalar_function(func, fn)(*inputs)
    _check_outputs_require_grad((out,), strict, fn)
    first = _vjp((out,), inputs, (ones_like(out),), create_graph=True)
    if strict:
        _zeros_for_none(first, inputs, strict, fn, "the output does not depend on input {i}")
    return in_tuple, inputs, vs, out, first


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), vᵀ H)`` for a scalar ``func``: a backward pass through its gradient."""
    with enable_grad():
        in_tuple, inputs, vs, out, first = _gradient_of_scalar(func, inputs, v, create_graph, strict, "vhp")
        pairs = [(g, w) for g, w in zip(first, vs) if g is not None]
        second = (_vjp(tuple(g for g, _ in pairs), inputs, tuple(w for _, w in pairs), create_graph) if pairs
                  else (None,) * len(inputs))
        second = _zeros_for_none(second, inputs, strict, "vhp", "the gradient does not depend on input {i}")
    return _finish((out,), create_graph, False), _finish(second, create_graph, in_tuple)


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)`` for a scalar ``func``, by the double-backward trick on its gradient (equal to
    ``vhp`` where the Hessian is symmetric)."""
    with enable_grad():
        in_tuple, inputs, vs, out, first = _gradient_of_scalar(func, inputs, v, create_graph, strict, "hvp")
        cotangents = tuple(new_leaf(zeros_like(t)) for t in inputs)
        pairs = [(g, u) for g, u in zip(first, cotangents) if g is not None]
        transposed = (_vjp(tuple(g for g, _ in pairs), inputs, tuple(u for _, u in pairs), create_graph=True)
                      if pairs else (None,) * len(inputs))
        pairs = [(g, w) for g, w in zip(transposed, vs) if g is not None]
        second = (_vjp(tuple(g for g, _ in pairs), cotangents, tuple(w for _, w in pairs), create_graph) if pairs
                  else (None,) * len(inputs))
        second = _zeros_for_none(second, inputs, strict, "hvp", "the gradient does not depend on input {i}")
    return _finish((out,), create_graph, False), _finish(second, create_graph, in_tuple)
