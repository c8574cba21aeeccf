"""Connectionist temporal classification: ``ctc_loss``."""

from __future__ import annotations

import math

from ...errors import ShapeError
from ...ops import where as _where
from ...ops._common import constant
from ...tensor import Tensor
from ._common import _REDUCTIONS, _host, _public, _tensors


def _lengths(value, count: int, name: str, op: str):
    import numpy as np

    array = np.asarray(_host(value) if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "iu" or array.ndim > 1 or array.size != count:
        raise ShapeError(f"{op}: {name} must hold {count} integer length(s), got {array.tolist()}")
    return array.reshape(count).astype(np.int64)


@_public
def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """-log p(target | input) summed over every alignment, by the forward (alpha) recursion in log space; its
    gradient is autograd's through that recursion, the exact one (with the backward pass over alphas playing the
    beta recursion's part). ``log_probs`` (T, N, C) or (T, C); ``targets`` (N, S) padded or 1-D concatenated;
    'mean' divides each loss by its target length, then averages; an impossible alignment gives inf (0 with
    ``zero_infinity``)."""
    import numpy as np

    op = "ctc_loss"
    _tensors(op, log_probs=log_probs, targets=targets)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if log_probs.ndim not in (2, 3) or log_probs.dtype.kind != "f":
        raise ShapeError(f"{op}: log_probs must be a floating (T, N, C) or (T, C) tensor, got {log_probs.shape} "
                         f"{log_probs.dtype.name}")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must hold integer class indices, got {targets.dtype.name}")
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    steps, batch, classes = lp.shape
    if not 0 <= blank < classes:
        raise ValueError(f"{op}: blank {blank} must be in the label range [0, {classes})")
    in_lengths = _lengths(input_lengths, batch, "input_lengths", op)
    out_lengths = _lengths(target_lengths, batch, "target_lengths", op)
    if in_lengths.min() < 0 or in_lengths.max() > steps:
        raise ValueError(f"{op}: input_lengths must be in [0, T={steps}], got {in_lengths.tolist()}")
    labels = _host(targets)
    if out_lengths.min() < 0:
        raise ValueError(f"{op}: target_lengths must be non-negative, got {out_lengths.tolist()}")
    if batched and labels.ndim == 2:
        if labels.shape[0] != batch or out_lengths.max() > labels.shape[1]:
            raise ShapeError(f"{op}: padded targets {labels.shape} must be (N={batch}, S) with S at least the longest "
                             f"target length {out_lengths.max()}")
        rows = [labels[n, :out_lengths[n]] for n in range(batch)]
    elif labels.ndim == 1:
        if out_lengths.sum() > labels.size:
            raise ShapeError(f"{op}: concatenated targets hold {labels.size} labels, fewer than the target lengths' "
                             f"sum {out_lengths.sum()}")
        rows = np.split(labels[:out_lengths.sum()], np.cumsum(out_lengths)[:-1])
    else:
        raise ShapeError(f"{op}: targets must be (N, S) padded or 1-D concatenated, got {labels.shape}")
    for row in rows:
        if row.size and (row.min() < 0 or row.max() >= classes or np.any(row == blank)):
            raise ValueError(f"{op}: target labels must be in [0, {classes}) and differ from blank={blank}, got "
                             f"{row.tolist()}")
    width = 2 * int(out_lengths.max(initial=0)) + 1
    extended = np.full((batch, width), blank, np.int64)  # blank, l1, blank, l2, ..., blank (then blank padding)
    for n, row in enumerate(rows):
        extended[n, 1:2 * row.size:2] = row
    skip = np.zeros((batch, width), bool)  # l'(s - 2) -> l'(s) is allowed between two different labels
    skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    be = lp._backend
    # Log-probability 0 is kept finite (far below any real one): no inf - inf in the gradient, and an impossible
    # target ends far below -1e29, which marks it.
    never = -1e30
    emissions = lp.gather(2, Tensor(be.from_numpy(np.broadcast_to(extended, (steps, batch, width)).copy()), be))
    no_skip = Tensor(be.from_numpy(~skip), be)
    start = np.full((batch, width), never, lp.dtype)
    start[:, 0] = 0.0  # before the first frame: the empty prefix, with probability 1
    alpha = constant(be, be.from_numpy(start))
    pad1 = constant(be, be.from_numpy(np.full((batch, 1), never, lp.dtype)))
    pad2 = constant(be, be.from_numpy(np.full((batch, 2), never, lp.dtype)))
    from ...ops import cat

    for t in range(int(in_lengths.max(initial=0))):
        stay, step = alpha, cat([pad1, alpha[:, :-1]], 1)
        jump = _where(no_skip, never, cat([pad2, alpha[:, :-2]], 1))
        top = stay.detach().maximum(step.detach()).maximum(jump.detach())
        moved = top + ((stay - top).exp() + (step - top).exp() + (jump - top).exp()).log() + emissions[t]
        running = Tensor(be.from_numpy((t < in_lengths)[:, None]), be)
        alpha = _where(running, moved, alpha)
    last = Tensor(be.from_numpy((2 * out_lengths)[:, None]), be)
    before = Tensor(be.from_numpy(np.maximum(2 * out_lengths - 1, 0)[:, None]), be)
    end, end_before = alpha.gather(1, last).squeeze(1), alpha.gather(1, before).squeeze(1)
    end_before = _where(Tensor(be.from_numpy(out_lengths > 0), be), end_before, never)
    top = end.detach().maximum(end_before.detach())
    loss = -(top + ((end - top).exp() + (end_before - top).exp()).log())
    impossible = loss.detach() > -never / 10
    loss = _where(impossible, 0.0 if zero_infinity else math.inf, loss)
    if reduction == "mean":
        per_label = constant(be, be.from_numpy(np.maximum(out_lengths, 1).astype(lp.dtype)))
        return (loss / per_label).mean()
    if reduction == "sum":
        return loss.sum()
    return loss if batched else loss.reshape(())
