"""Softmax cross-entropy per row as one op (one pass over the logits instead of four ops).

The backend kernels are ``softmax_cross_entropy_forward(logits, targets) -> (loss_per_row, log_probs)`` and
``softmax_cross_entropy_backward(grad_per_row, log_probs, targets) -> grad_logits``. The backward is itself an
op whose backward uses tensor ops only, so gradients of any order work.
"""

from __future__ import annotations

from ..creation import arange
from ..function import Function
from ..tensor import Tensor


class SoftmaxCrossEntropy(Function):
    """-log_softmax(logits)[i, targets[i]] for logits (N, C) and integer targets (N,) in [0, C)."""

    @staticmethod
    def forward(ctx, logits, targets):
        loss, log_probs = ctx.backend.softmax_cross_entropy_forward(logits.array, targets.array)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(logits, targets, Tensor(log_probs, ctx.backend))
        return loss

    @staticmethod
    def backward(ctx, g):
        logits, targets, log_probs = ctx.saved_tensors
        return SoftmaxCrossEntropyBackward.apply(g, logits, targets, log_probs.array), None


class SoftmaxCrossEntropyBackward(Function):
    """(softmax(logits) - one_hot(targets)) * g[:, None]; ``log_probs`` is the forward's cache."""

    @staticmethod
    def forward(ctx, g, logits, targets, log_probs):
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(g, logits, targets)
        return ctx.backend.softmax_cross_entropy_backward(g.array, log_probs, targets.array)

    @staticmethod
    def backward(ctx, gg):
        g, logits, targets = ctx.saved_tensors
        probs = logits.softmax(1)
        gg_g = gg_logits = None
        if ctx.needs_input_grad[0]:
            classes = arange(logits.shape[1], dtype=targets.dtype, backend=targets.backend)
            one_hot = (targets.unsqueeze(1) == classes).astype(logits.dtype)
            gg_g = (gg * (probs - one_hot)).sum(1)
        if ctx.needs_input_grad[1]:
            h = gg * g.unsqueeze(1)
            gg_logits = probs * (h - (h * probs).sum(1, keepdims=True))
        return gg_g, gg_logits, None, None


def softmax_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-row loss; ``targets`` must already be valid class indices (checked by the caller)."""
    return SoftmaxCrossEntropy.apply(logits, targets)
