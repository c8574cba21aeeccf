"""Module backward hooks (``register_full_backward_hook``, ``register_full_backward_pre_hook``), as PyTorch's
``torch.utils.hooks.BackwardHook``: the module's positional tensor inputs and its outputs pass through identity
ops whose backward rules call the hooks, so the hooks see (and may replace) exactly the gradients that flow
into and out of the module."""

from __future__ import annotations

from typing import Any

from ..function import Function
from ..tensor import Tensor


class _Identity(Function):
    """Several tensors in, the same tensors out (sharing memory and version counters); backward calls ``hook``."""

    op_name = "backward_hook"

    @staticmethod
    def forward(ctx, hook, *tensors):
        ctx.hook = hook
        return tuple(t.array for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.hook(grads))


def _through(hook, tensors: list[Tensor]) -> tuple:
    """``tensors`` through one identity node whose backward runs ``hook(grads)``."""
    outs = _Identity.apply(hook, *tensors)
    outs = outs if isinstance(outs, tuple) else (outs,)
    for source, out in zip(tensors, outs):
        out._vc = source._counter()  # the same memory: in-place changes show on both
    return outs


def _zeros_like(t: Tensor) -> Tensor:
    return Tensor(t._backend.zeros(t.shape, t.dtype), t._backend)


def _replaced(what: str, module, result, expected: tuple) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != len(expected):
        got = len(result) if isinstance(result, (tuple, list)) else type(result).__name__
        raise RuntimeError(f"backward hook of {module._get_name()} returned an invalid number of {what}: got {got}, "
                           f"expected {len(expected)}")
    return tuple(result)


class BackwardHookState:
    """The hooks of one call of a module: built before ``forward``, wired into the graph around it."""

    def __init__(self, module, backward_hooks: tuple, backward_pre_hooks: tuple) -> None:
        self.module = module
        self.backward_hooks, self.backward_pre_hooks = backward_hooks, backward_pre_hooks  # as at the call, PyTorch's
        self.n_inputs = 0
        self.input_positions: list[int] = []
        self.grad_outputs: tuple | None = None

    # -- inputs ---------------------------------------------------------------------------------------
    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        self.input_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not self.input_positions or not self.backward_hooks:
            return args
        # PyTorch's grad_input holds a zero gradient for a tensor input that needs none (when another one does)
        self.tensor_inputs = {i: a for i, a in enumerate(args) if isinstance(a, Tensor)}
        wrapped = _through(self._input_hook, [args[i] for i in self.input_positions])
        args = list(args)
        for i, t in zip(self.input_positions, wrapped):
            args[i] = t
        return tuple(args)

    def _input_hook(self, grads: tuple) -> tuple:
        grad_input = [None] * self.n_inputs
        for i, t in self.tensor_inputs.items():
            grad_input[i] = _zeros_like(t)
        for i, g in zip(self.input_positions, grads):
            if g is not None:
                grad_input[i] = g
        grad_input = tuple(grad_input)
        for hook in self.backward_hooks:
            result = hook(self.module, grad_input, self.grad_outputs)
            if result is not None:
                grad_input = _replaced("grad_input", self.module, result, grad_input)
        return tuple(grad_input[i] for i in self.input_positions)

    # -- outputs --------------------------------------------------------------------------------------
    def wrap_outputs(self, output: Any) -> Any:
        single = isinstance(output, Tensor)
        outputs = (output,) if single else output if isinstance(output, tuple) else None
        if outputs is None:
            return output  # PyTorch sees only a tensor or a tuple: other outputs get no backward hook
        positions = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
        if not positions:
            return output
        self.n_outputs, self.output_positions = len(outputs), positions
        self.output_likes = [outputs[i] for i in positions]
        wrapped = _through(self._output_hook, self.output_likes)
        result = list(outputs)
        for i, t in zip(positions, wrapped):
            result[i] = t
        return result[0] if single else tuple(result)

    def _output_hook(self, grads: tuple) -> tuple:
        # Materialised as PyTorch's: an output that got no gradient shows a zero gradient.
        grads = tuple(g if g is not None else _zeros_like(like) for g, like in zip(grads, self.output_likes))
        grad_output = [None] * self.n_outputs
        for i, g in zip(self.output_positions, grads):
            grad_output[i] = g
        grad_output = tuple(grad_output)
        for hook in self.backward_pre_hooks:
            result = hook(self.module, grad_output)
            if result is not None:
                grad_output = _replaced("grad_output", self.module, result, grad_output)
        self.grad_outputs = grad_output
        if not self.input_positions:  # no input needs a gradient: the hooks run here, with grad_input all None
            grad_input = (None,) * self.n_inputs
            for hook in self.backward_hooks:
                result = hook(self.module, grad_input, grad_output)
                if result is not None and any(g is not None for g in result):
                    raise RuntimeError(f"backward hook of {self.module._get_name()}: where no input requires a "
                                       "gradient, a backward hook must return None or only None")
        return tuple(grad_output[i] for i in self.output_positions)
