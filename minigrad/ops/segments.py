"""PyTorch's ``scatter_reduce``: the ``src`` elements aimed at one position of ``x`` (and that position's own
value, with ``include_self``) reduced by sum, prod, mean, amax or amin.

A composition of other ops. ``sum`` and ``mean`` are ``scatter_add``. ``prod``, ``amax`` and ``amin`` group the
elements aimed at one position: a stable sort of ``index`` along ``dim`` makes each group contiguous, a
segmented scan by recursive doubling (log2(n) steps) reduces each group into its last element, and those are
written with ``index_put`` (one write per position). ``prod``'s gradient is then a chain of products, exact
where the group holds zeros. ``amax``/``amin`` take their values from that scan outside the graph and their
gradient from ``ScatterExtremum``: PyTorch's rule, the upstream gradient split evenly between the elements equal
to the result.
"""

from __future__ import annotations

from ..function import Function
from ..grad_mode import no_grad
from ..tensor import Tensor
from ._registry import public
from .arithmetic import maximum, minimum, where
from .composites import narrow
from .movement import (
    _check_index_arg,
    _expand_or_self,
    _src_block,
    concatenate,
    gather,
    getitem,
    index_put,
    scatter_add,
)
from .sorting import argsort

_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


class ScatterExtremum(Function):
    """The values of amax/amin (computed outside the graph) with PyTorch's gradient: each position's upstream
    gradient divided evenly between the elements equal to its result (``x``'s own when it counts, and the
    ``src`` elements aimed there); ``self_weight`` and ``src_weight`` hold those shares (1/count or 0)."""

    @staticmethod
    def forward(ctx, x, src, result, self_weight, src_weight, dim, index):
        ctx.weights, ctx.dim, ctx.index = (self_weight, src_weight), dim, index
        return ctx.backend.copy(result.array)

    @staticmethod
    def backward(ctx, g):
        self_weight, src_weight = ctx.weights
        gx = g * self_weight if ctx.needs_input_grad[0] else None
        gsrc = gather(g, ctx.dim, ctx.index) * src_weight if ctx.needs_input_grad[1] else None
        return gx, gsrc, None, None, None, None, None


def _segmented_scan(values: Tensor, keys: Tensor, dim: int, combine) -> Tensor:
    """Inclusive scan of ``values`` along ``dim`` within runs of equal ``keys`` (each run contiguous): the last
    element of a run ends up holding the whole run's reduction."""
    n = values.shape[dim]
    step = 1
    while step < n:
        earlier, later = narrow(values, dim, 0, n - step), narrow(values, dim, step, n - step)
        same = narrow(keys, dim, step, n - step) == narrow(keys, dim, 0, n - step)
        values = concatenate([narrow(values, dim, 0, step), where(same, combine(earlier, later), later)], dim)
        step *= 2
    return values


def _grouped(x: Tensor, dim: int, index: Tensor, src: Tensor, combine, include_self: bool) -> Tensor:
    """``x`` with each position aimed at replaced by the reduction of its group (and of its own value)."""
    from ..creation import arange

    order = argsort(index, dim)
    keys, values = gather(index, dim, order), gather(src, dim, order)
    values = _segmented_scan(values, keys, dim, combine)
    n = index.shape[dim]
    final = Tensor(x._backend.ones(narrow(keys, dim, 0, 1).shape, "bool"), x._backend)
    last = concatenate([narrow(keys, dim, 1, n - 1) != narrow(keys, dim, 0, n - 1), final], dim)  # runs' ends
    positions = tuple(getitem(_expand_or_self(keys if d == dim else arange(size, backend=x.backend).reshape(
        [size if e == d else 1 for e in range(index.ndim)]), index.shape), last)
        for d, size in enumerate(index.shape))
    reduced = getitem(values, last)
    if include_self:
        reduced = combine(getitem(x, positions), reduced)
    return index_put(x, reduced, positions)


@public
def scatter_reduce(x: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """PyTorch's ``scatter_reduce`` (out of place): at each position that ``index`` aims ``src`` elements at
    along ``dim``, their ``reduce`` ("sum", "prod", "mean", "amax" or "amin"), with ``x``'s own value among them
    unless ``include_self=False``; other positions keep ``x``. Integer "mean" rounds down, as PyTorch.

    Gradients are PyTorch's: "prod" gives each element the product of the others in its group (exact with
    zeros), "amax"/"amin" split the gradient evenly between the elements equal to the result, where ``x``'s own
    value counts in that split even with ``include_self=False`` (PyTorch's rule), though it gets no share.
    """
    if reduce not in _REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {', '.join(_REDUCTIONS)}, got {reduce!r}")
    dim = _check_index_arg("scatter_reduce", x, dim, index)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce: src must be a tensor, got {type(src).__name__}")
    src = _src_block("scatter_reduce", x, index, src)
    if x.ndim == 0:
        return scatter_reduce(x.reshape(1), 0, index.reshape(1), src.reshape(1), reduce,
                              include_self=include_self).reshape(())
    if index.numel() == 0:
        return x.clone()
    be = x._backend
    with no_grad():
        ones = Tensor(be.ones(index.shape, "int64"), be)
        counts = scatter_add(Tensor(be.zeros(x.shape, "int64"), be), dim, index, ones)
    written = counts > 0
    if reduce in ("sum", "mean"):
        total = scatter_add(x if include_self else where(written, 0, x), dim, index, src)
        if reduce == "sum":
            return total
        n = counts + 1 if include_self else where(written, counts, 1)
        if x.dtype.kind == "f":
            return total / n.astype(x.dtype)
        from ..tensor import tensor

        return tensor(total.numpy() // n.numpy(), backend=x.backend)  # floor division (no gradient)
    if reduce == "prod":
        return _grouped(x, dim, index, src, lambda a, b: a * b, include_self)
    combine = maximum if reduce == "amax" else minimum
    with no_grad():
        result = _grouped(x.detach(), dim, index, src.detach(), combine, include_self)
        src_member = src.detach() == gather(result, dim, index)
        self_member = x.detach() == result
        shares = scatter_add(self_member.astype(x.dtype), dim, index, src_member.astype(x.dtype))
        shares = where(shares > 0, shares, 1)
        self_counts = self_member if include_self else self_member & written.logical_not()
        self_weight = where(self_counts, 1 / shares, 0)
        src_weight = where(src_member, 1 / gather(shares, dim, index), 0)
    return ScatterExtremum.apply(x, src, result, self_weight, src_weight, dim, index)
