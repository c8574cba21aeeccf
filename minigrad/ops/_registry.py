"""Where every public op is declared once.

A public function registers itself here when its module is imported (``@public``), or is made here from a
declaration (``@elementwise``, ``@activation``, ``@comparison``). ``minigrad.ops``, ``minigrad`` and
``Tensor``'s methods are built from these tables, so a new op is named in one place.
"""

from __future__ import annotations

import functools
import inspect

from ..dtypes import default_float
from ..function import Function
from ..tensor import Tensor
from ._common import binary_operands, data

OPS: dict = {}  # differentiable public functions: each has a spec in the agreement suite and a gradcheck
PUBLIC: dict = {}  # every public function of minigrad.ops (OPS, and those without a gradient or a spec)
TOP_LEVEL: set = set()  # the names exported as minigrad.<name> too
METHODS: dict = {}  # Tensor method name -> function


def public(fn=None, *, spec=True, top_level=True, method=True, aliases=(), method_aliases=()):
    """Register a public function: in ``minigrad.ops`` (and in ``OPS``, the ops that need a spec and a gradcheck,
    unless ``spec=False``: no gradient, or made of ops that have one), as ``minigrad.<name>``
    unless ``top_level=False``, and as a ``Tensor`` method unless ``method=False``. ``aliases`` are further
    names for the same function (``clamp`` for ``clip``), ``method_aliases`` further method names only."""

    def register(fn):
        for name in (fn.__name__, *aliases):
            PUBLIC[name] = fn
            if top_level:
                TOP_LEVEL.add(name)
            if method:
                METHODS[name] = fn
        for name in method_aliases:
            METHODS[name] = fn
        if spec:
            OPS[fn.__name__] = fn
        return fn

    return register if fn is None else register(fn)


def _class_name(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _declared(front, cls, floating: bool):
    """The public function of a one-tensor op: ``front(x, ...)`` checks and returns the extra arguments."""
    name = front.__name__
    takes_params = len(inspect.signature(front).parameters) > 1
    apply = cls.apply

    @functools.wraps(front)
    def op(x, *args, **kwargs):
        if x.__class__ is not Tensor and not isinstance(x, Tensor):
            raise TypeError(f"{name}: expected a tensor, got {type(x).__name__}")
        if floating and x.array.dtype.kind != "f":
            x = x.astype(default_float())
        if takes_params:
            return apply(x, *front(x, *args, **kwargs))
        return apply(x)

    op.function = cls
    return op


def elementwise(grad=None, *, grad_of_output=None, floating: bool = True, **registration):
    """Declare a one-input op whose forward is the backend method of the same name.

    The decorated function gives the name, the signature and the docstring. Its gradient is one line:
    ``grad(g, x)`` from the input, or ``grad_of_output(g, y)`` from the output (which is then kept instead
    of the input), written in tensor ops so it differentiates again. Integer inputs become the default float
    dtype (float32) unless ``floating=False``.
    """

    def declare(front):
        name = front.__name__

        def forward(ctx, x):
            if grad is not None:
                ctx.save_for_backward(x)
            return getattr(ctx.backend, name)(x.array)

        if grad is not None:
            def backward(ctx, g):
                return grad(g, ctx.saved_tensors[0])
        else:
            def backward(ctx, g):
                return grad_of_output(g, ctx.output)

        cls = type(_class_name(name), (Function,), {
            "__doc__": front.__doc__, "__module__": front.__module__, "save_output": grad is None,
            "forward": staticmethod(forward), "backward": staticmethod(backward)})
        return public(_declared(front, cls, floating), **registration)

    return declare


def activation(slope_derivative=None, *, of_output: bool = False, floating: bool = True, **registration):
    """Declare an activation with a fused backward kernel: two ops, ``F`` and ``FBackward``.

    The decorated function ``f(x, *params)`` gives the name, signature and docstring, and returns the extra
    arguments (checked, normalised) that the kernels take after the array. The backend provides
    ``f(x, *params)`` and ``f_backward(g, s, *params) = g * f'(s)`` where ``s`` is ``x`` (or ``f``'s output
    with ``of_output=True``). ``FBackward`` is an op too; its own backward needs the derivative of the slope,
    ``slope_derivative(s, *params)`` in tensor ops (``None``: zero, as for relu), so every order works.
    """

    def declare(front):
        name = front.__name__
        kernel_name, backward_name = name, name + "_backward"

        nones = (None,) * (len(inspect.signature(front).parameters) - 1)  # no gradient for the parameters

        def forward(ctx, x, *params):
            ctx.params = params
            if not of_output:
                ctx.save_for_backward(x)
            return getattr(ctx.backend, kernel_name)(x.array, *params)

        if of_output:
            def backward(ctx, g):
                return (backward_cls.apply(g, ctx.output, *ctx.params),) + nones
        else:
            def backward(ctx, g):
                return (backward_cls.apply(g, ctx.saved_tensors[0], *ctx.params),) + nones

        def fused_forward(ctx, g, s, *params):
            ctx.params = params
            ctx.save_for_backward(g if slope_derivative is not None else None, s)
            return getattr(ctx.backend, backward_name)(g.array, s.array, *params)

        def fused_backward(ctx, gg):
            g, s = ctx.saved_tensors
            need_g, need_s = ctx.needs_input_grad[:2]
            gg_g = backward_cls.apply(gg, s, *ctx.params) if need_g else None
            gg_s = None
            if need_s and slope_derivative is not None:
                gg_s = gg * g * slope_derivative(s, *ctx.params)
            return (gg_g, gg_s) + nones

        cls_name = _class_name(name)
        cls = type(cls_name, (Function,), {
            "__doc__": front.__doc__, "__module__": front.__module__, "save_output": of_output,
            "forward": staticmethod(forward), "backward": staticmethod(backward)})
        backward_cls = type(cls_name + "Backward", (Function,), {
            "__doc__": f"g * {name}'; one fused kernel, differentiable in g and in its other input.",
            "__module__": front.__module__,
            "forward": staticmethod(fused_forward), "backward": staticmethod(fused_backward)})
        op = _declared(front, cls, floating)
        op.backward_function = backward_cls
        return public(op, **registration)

    return declare


def no_gradient(kernel: str, **registration):
    """Declare an op without a gradient (comparisons, logic, sign): the backend method ``kernel`` on the
    inputs' arrays, and an output outside the graph whatever the inputs. One or two inputs; two are
    promoted as arithmetic promotes them."""

    def declare(front):
        if len(inspect.signature(front).parameters) == 1:
            def forward(ctx, x):
                return getattr(ctx.backend, kernel)(x.array)

            def op(x):
                return apply(x)
        else:
            def forward(ctx, a, b):
                return getattr(ctx.backend, kernel)(data(a), data(b))

            def op(input, other):  # noqa: A002 - PyTorch's names
                return apply(*binary_operands(input, other))
        cls = type(_class_name(kernel), (Function,), {
            "__doc__": front.__doc__, "__module__": front.__module__, "differentiable": False,
            "forward": staticmethod(forward)})
        apply = cls.apply
        op = functools.wraps(front)(op)
        op.function = cls
        return public(op, spec=False, **registration)

    return declare
