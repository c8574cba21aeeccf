"""PyTorch's ``torch.func`` transforms on minigrad's reverse-mode engine: ``grad``, ``grad_and_value``,
``vjp``, ``jvp``, ``jacrev``, ``jacfwd``, ``hessian``, ``vmap`` and ``functional_call``.

Arguments and results may be pytrees (tensors in nested tuples, lists and dicts), as in PyTorch, so
``grad(loss)(params_dict, x, y)`` returns a dict of gradients. Transforms compose: inside another transform
the results stay differentiable (``grad(grad(f))``, ``vmap(grad(f))``, ``jacrev(jacrev(f))``). At the top
level, as PyTorch's, they carry the graph back to the caller's tensors that require grad (the arguments, or
tensors the function captured), and are plain tensors otherwise.

What differs from PyTorch, by design of a reverse-mode engine without batching rules:

- ``jvp`` and ``jacfwd`` compute with the double-backward trick (``minigrad.autograd.functional``): the same
  values as forward mode, at the cost of reverse passes.
- ``vmap`` calls the function once per index of the mapped dimension and stacks the results: the values
  PyTorch's batching gives, without its speed-up. Random functions draw independently per index, as PyTorch's
  ``randomness="different"``; ``"error"`` (the default) cannot detect random calls here and behaves the same,
  and ``"same"`` is not supported.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

from .autograd.functional import jacobian as _jacobian
from .autograd.functional import jvp as _jvp
from .autograd.functional import made_leaves, new_leaf
from .creation import zeros_like
from .engine import grad as _grad
from .function import AccumulateGrad
from .grad_mode import enable_grad, is_grad_enabled
from .ops.movement import stack
from .tensor import Tensor

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "vjp", "vmap"]

_DEPTH = contextvars.ContextVar("minigrad_func_depth", default=0)


class _Level:
    """One transform level. Nested in another, its results keep their graph (the outer one differentiates
    them). At the top level they keep it, as PyTorch's, where it reaches the caller's tensors that require
    grad (arguments or tensors the function captured), provided grad mode was on at the call: so ``keep``
    computes with ``create_graph`` and ``finish`` detaches what reaches only the leaves made here."""

    def __init__(self, nested: bool, keep: bool, made: list) -> None:
        self.nested, self.keep, self.made = nested, keep, made

    def finish(self, tree):
        if self.nested:
            return tree
        made = {id(t) for t in self.made}
        leaves, spec = _flatten(tree)
        return _unflatten(spec, [t.detach() if isinstance(t, Tensor) and not (self.keep and _reaches_caller(t, made))
                                 else t for t in leaves])


@contextlib.contextmanager
def _level(parent: _Level | None = None) -> Iterator[_Level]:
    """A transform level (``parent``: the level whose leaves it differentiates again, for ``vjp_fn``)."""
    depth = _DEPTH.get()
    if parent is not None:
        level = _Level(parent.nested or depth > 0, parent.keep, parent.made)
    else:
        level = _Level(depth > 0, depth > 0 or is_grad_enabled(), made_leaves.get() if depth > 0 else [])
    token = _DEPTH.set(depth + 1)
    made_token = made_leaves.set(level.made)
    try:
        with enable_grad():
            yield level
    finally:
        made_leaves.reset(made_token)
        _DEPTH.reset(token)


def _reaches_caller(t: Tensor, made: set[int]) -> bool:
    """Whether ``t``'s graph reaches a leaf that requires grad other than the transform's own (``made``)."""
    if t.grad_fn is None:
        return t.requires_grad and id(t) not in made
    seen, todo = set(), [t.grad_fn]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            if id(node.leaf) not in made:
                return True
        else:
            todo.extend(n for n in node.next if n is not None)
    return False


# -- pytrees ---------------------------------------------------------------------------------------------------
def _flatten(tree) -> tuple[list, Any]:
    """The tensors of a pytree (tuples, lists, dicts; anything else is a leaf) and how to rebuild it."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(item) for item in tree]
        return [leaf for leaves, _ in parts for leaf in leaves], (type(tree), [spec for _, spec in parts])
    if isinstance(tree, dict):
        parts = {key: _flatten(value) for key, value in tree.items()}
        return [leaf for leaves, _ in parts.values() for leaf in leaves], (dict, {k: s for k, (_, s) in parts.items()})
    return [tree], None


def _unflatten(spec, leaves: list):
    iterator = iter(leaves)

    def build(spec):
        if spec is None:
            return next(iterator)
        kind, children = spec
        if kind is dict:
            return {key: build(child) for key, child in children.items()}
        items = [build(child) for child in children]
        return tuple(items) if kind is tuple else items

    return build(spec)


def _argnums(argnums, nargs: int, fn: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(n, int) and -nargs <= n < nargs for n in nums):
        raise ValueError(f"{fn}: argnums must be an int or a non-empty tuple of ints in range({nargs}), "
                         f"got {argnums!r}")
    return tuple(n % nargs for n in nums)


def _track(t, fn: str):
    """A tensor the transform differentiates with respect to: a view of the caller's that keeps its graph, or a
    fresh leaf."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: expected the differentiated arguments to be tensors (or pytrees of them), got "
                        f"{type(t).__name__}")
    if t.dtype.kind != "f":
        raise TypeError(f"{fn}: only floating-point tensors can be differentiated, got {t.dtype}")
    # t[...]: a view with a node of its own, so the gradient with respect to it leaves out the caller's other
    # uses of t
    return t[...] if t.requires_grad else new_leaf(t.detach())


def _gradients(outputs: list, inputs: list, cotangents, create_graph: bool) -> list:
    grads = _grad(outputs, inputs, grad_outputs=cotangents, retain_graph=True, create_graph=create_graph,
                  allow_unused=True)
    return [zeros_like(x) if g is None else g for g, x in zip(grads, inputs)]


# -- grad ------------------------------------------------------------------------------------------------------
def grad_and_value(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """``func`` (returning a 0-d tensor, or ``(it, aux)`` with ``has_aux``) -> a function returning
    ``(gradients, value)``: the gradients with respect to the ``argnums`` arguments, in their structure (a tuple
    of them for a tuple of argnums), and ``value`` as ``func`` returned it (``(value, aux)`` with ``has_aux``)."""

    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), "grad")
        with _level() as level:
            args = list(args)
            tracked = {}
            for n in nums:
                leaves, spec = _flatten(args[n])
                leaves = [_track(t, "grad") for t in leaves]
                tracked[n] = (leaves, spec)
                args[n] = _unflatten(spec, leaves)
            out = func(*args, **kwargs)
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("grad_and_value(f)(*args): output of function f should be a tuple: "
                                       "(output, aux) if has_aux is True")
                value, aux = out
            else:
                value, aux = out, None
            if not isinstance(value, Tensor):
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                                   f"{type(value).__name__}")
            if value.ndim != 0:
                raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {value.ndim} dims. Maybe you wanted to use the vjp or jacrev APIs "
                                   "instead?")
            inputs = [t for n in nums for t in tracked[n][0]]
            grads = _gradients([value], inputs, None, level.keep)
            results, start = [], 0
            for n in nums:
                leaves, spec = tracked[n]
                results.append(_unflatten(spec, grads[start:start + len(leaves)]))
                start += len(leaves)
            gradients = results[0] if isinstance(argnums, int) else tuple(results)
            value = level.finish(value)
            result = (level.finish(gradients), (value, level.finish(aux)) if has_aux else value)
        return result

    return wrapper


def grad(func: Callable, argnums=0, has_aux: bool = False) -> Callable:
    """``func`` -> a function returning its gradient with respect to the ``argnums`` arguments (and ``aux``
    with ``has_aux``: ``(gradient, aux)``), as ``torch.func.grad``."""
    both = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        gradients, value = both(*args, **kwargs)
        return (gradients, value[1]) if has_aux else gradients

    return wrapper


# -- vjp / jvp -------------------------------------------------------------------------------------------------
def vjp(func: Callable, *primals, has_aux: bool = False):
    """``(func(*primals), vjp_fn)`` (``aux`` third with ``has_aux``); ``vjp_fn(cotangents)``, with cotangents
    in the output's structure, returns a tuple with each primal's vector-Jacobian product."""
    with _level() as level:
        flat = [_flatten(p) for p in primals]
        tracked = [[_track(t, "vjp") for t in leaves] for leaves, _ in flat]
        out = func(*(_unflatten(spec, leaves) for (_, spec), leaves in zip(flat, tracked)))
        out, aux = out if has_aux else (out, None)
        outputs, out_spec = _flatten(out)
    inputs = [t for leaves in tracked for t in leaves]

    def vjp_fn(cotangents):
        cots, _ = _flatten(cotangents)
        if len(cots) != len(outputs):
            raise RuntimeError(f"vjp_fn: expected {len(outputs)} cotangents (the function's outputs), got {len(cots)}")
        for c, o in zip(cots, outputs):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(f"vjp_fn: a cotangent of shape {tuple(c.shape)} for an output of shape "
                                   f"{tuple(o.shape)}")
        with _level(level) as again:
            grads = _gradients(outputs, inputs, cots, again.keep)
        result, start = [], 0
        for (_, spec), leaves in zip(flat, tracked):
            result.append(_unflatten(spec, grads[start:start + len(leaves)]))
            start += len(leaves)
        return again.finish(tuple(result))

    result = (level.finish(_unflatten(out_spec, outputs)), vjp_fn)
    return result + (level.finish(aux),) if has_aux else result


def jvp(func: Callable, primals, tangents, *, strict: bool = False, has_aux: bool = False):
    """``(func(*primals), J @ tangents)`` for tuples of primals and tangents (computed by double backward)."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple) or len(primals) != len(tangents):
        raise RuntimeError("jvp(f, primals, tangents): expected primals and tangents to be tuples of the same "
                           "length")
    aux_box = []

    def call(*xs):
        out = func(*xs)
        if has_aux:
            out, aux = out
            aux_box.append(aux)
        return out

    with _level() as level:
        out, result = _jvp(call, primals, tangents, create_graph=level.keep, strict=strict)
    outputs = (level.finish(out), level.finish(result))
    return outputs + (level.finish(aux_box[0]),) if has_aux else outputs


# -- Jacobians -------------------------------------------------------------------------------------------------
def jacrev(func: Callable, argnums=0, *, has_aux: bool = False, chunk_size: int | None = None) -> Callable:
    """``func`` -> a function returning its Jacobian with respect to the ``argnums`` arguments: for each output
    tensor, of shape ``output.shape + input.shape`` (tuples of them for tuples of outputs or argnums)."""

    def wrapper(*args):
        nums = _argnums(argnums, len(args), "jacrev")
        aux_box = []
        flat = [_flatten(args[n]) for n in nums]
        sizes = [len(leaves) for leaves, _ in flat]

        def on_leaves(*leaves):
            rebuilt, start = list(args), 0
            for n, (_, spec), size in zip(nums, flat, sizes):
                rebuilt[n] = _unflatten(spec, list(leaves[start:start + size]))
                start += size
            out = func(*rebuilt)
            if has_aux:
                out, aux = out
                aux_box.append(aux)
            outputs, out_spec = _flatten(out)
            aux_box.append(out_spec)
            return tuple(outputs)

        leaves = tuple(t for leaves, _ in flat for t in leaves)
        with _level() as level:
            blocks = _jacobian(on_leaves, leaves, create_graph=level.keep)
        out_spec = aux_box[-1]
        n_out = len(blocks)
        per_output = []
        for i in range(n_out):
            row, start = [], 0
            for (_, spec), size in zip(flat, sizes):
                row.append(_unflatten(spec, list(blocks[i][start:start + size])))
                start += size
            per_output.append(row[0] if isinstance(argnums, int) else tuple(row))
        jac = level.finish(_unflatten(out_spec, per_output))
        return (jac, level.finish(aux_box[0])) if has_aux else jac

    return wrapper


def jacfwd(func: Callable, argnums=0, has_aux: bool = False, *, randomness: str = "error") -> Callable:
    """``torch.func.jacfwd``: the same Jacobian as ``jacrev`` (computed here in reverse mode)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func: Callable, argnums=0) -> Callable:
    """``func`` (returning a 0-d tensor) -> its Hessian with respect to the ``argnums`` arguments."""
    return jacfwd(jacrev(func, argnums), argnums)


# -- vmap ------------------------------------------------------------------------------------------------------
def vmap(func: Callable, in_dims=0, out_dims=0, randomness: str = "error", *,
         chunk_size: int | None = None) -> Callable:
    """``func`` over a batch dimension: ``in_dims`` (an int or None per argument, or one for all) says which
    dimension of each argument's tensors is mapped; the results are stacked along ``out_dims``."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"vmap: Only allowed values for randomness are 'error', 'different', or 'same'. "
                           f"Got {randomness}")
    if randomness == "same":
        raise NotImplementedError("vmap(randomness='same'): minigrad runs the function per index, so random "
                                  "calls draw independently (randomness='different')")

    def wrapper(*args, **kwargs):
        dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims is not compatible with the structure of inputs: expected one entry per "
                             f"argument ({len(args)}), got {len(dims)}")
        flat = [_flatten(a) for a in args]
        sizes = set()
        for (leaves, _), dim in zip(flat, dims):
            if dim is None:
                continue
            for t in leaves:
                if not isinstance(t, Tensor):
                    raise ValueError(f"vmap: Got in_dim={dim} for an input but the input is of type "
                                     f"{type(t).__name__}. We cannot vmap over non-Tensor arguments")
                if not -t.ndim <= dim < t.ndim:
                    raise ValueError(f"vmap: Got in_dim={dim} for an input but the input is of shape "
                                     f"{tuple(t.shape)}")
                sizes.add(t.shape[dim])
        if not sizes:
            raise ValueError("vmap: at least one input must be batched (in_dims all None or no tensors)")
        if len(sizes) > 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got "
                             f"sizes {sorted(sizes)} for the mapped dimension")
        (batch,) = sizes
        # Not a transform level (_level): mapping differentiates nothing, so a grad inside stays first-order.
        results, out_spec = [], None
        for i in range(batch):
            call = [a if dim is None else _unflatten(spec, [t.select(dim, i) for t in leaves])
                    for a, (leaves, spec), dim in zip(args, flat, dims)]
            outputs, out_spec = _flatten(func(*call, **kwargs))
            for o in outputs:
                if not isinstance(o, Tensor):
                    raise ValueError(f"vmap: `{getattr(func, '__name__', 'func')}` must only return Tensors, "
                                     f"got type {type(o).__name__}")
            results.append(outputs)
        odims = out_dims if isinstance(out_dims, tuple) else (out_dims,) * len(results[0])
        stacked = [stack([r[j] for r in results], dim=odims[j]) for j in range(len(results[0]))]
        return _unflatten(out_spec, stacked)

    return wrapper


# -- functional_call -------------------------------------------------------------------------------------------
def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights: bool = True,
                    strict: bool = False):
    """``module(*args, **kwargs)`` with the named parameters and buffers replaced by the given tensors for the
    call (a dict, or a tuple of dicts with distinct keys); the module itself is unchanged afterwards."""
    dicts = parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (tuple, list)) else (
        parameter_and_buffer_dicts,)
    values: dict[str, Any] = {}
    for d in dicts:
        for key, value in d.items():
            if key in values:
                raise ValueError(f"functional_call got multiple values for keys ['{key}'], which are used in "
                                 "both parameter_and_buffer_dicts")
            values[key] = value
    owned = dict(module.named_parameters(remove_duplicate=False))
    owned.update(module.named_buffers(remove_duplicate=False))
    if strict:
        missing = sorted(set(owned) - set(values))
        unexpected = sorted(set(values) - set(owned))
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}: missing keys {missing}, "
                               f"unexpected keys {unexpected}")
    unknown = sorted(set(values) - set(owned))
    if unknown:
        raise AttributeError(f"functional_call: {type(module).__name__} has no parameter or buffer named "
                             f"{unknown}")
    if tie_weights:  # a tensor shared under several names: replacing one name replaces it under all
        by_tensor: dict[int, list[str]] = {}
        for name, tensor in owned.items():
            by_tensor.setdefault(id(tensor), []).append(name)
        for names in by_tensor.values():
            given = [n for n in names if n in values]
            if given:
                if any(values[n] is not values[given[0]] for n in given[1:]):
                    raise ValueError(f"functional_call got multiple values for tied weights {given}")
                for n in names:
                    values.setdefault(n, values[given[0]])
    saved = []
    try:
        for name, value in values.items():
            owner_name, _, attr = name.rpartition(".")
            owner = module.get_submodule(owner_name) if owner_name else module
            store = owner._parameters if attr in owner._parameters else owner._buffers
            saved.append((store, attr, store[attr]))
            store[attr] = value
        args = () if args is None else args if isinstance(args, tuple) else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for store, attr, original in reversed(saved):
            store[attr] = original
