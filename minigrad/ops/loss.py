"""Softmax cross-entropy per row as one op (one pass over the logits instead of four ops).

Backends may offer fused kernels ``softmax_cross_entropy_forward(logits, targets) -> (loss_per_row,
log_probs)`` and ``softmax_cross_entropy_backward(grad_per_row, log_probs, targets) -> grad_logits``;
otherwise a generic version written against the backend protocol runs. The backward is itself an op whose
backward uses tensor ops only, so gradients of any order work.
"""

from __future__ import annotations

from ..function import Function
from ..tensor import Tensor
from ._common import constant


def _one_hot(be, targets, classes: int, dtype):
    positions = be.reshape(be.arange(0, classes, 1, targets.dtype), (1, classes))
    return be.astype(be.equal(positions, be.reshape(targets, (-1, 1))), dtype)


def _forward_generic(be, logits, targets):
    log_probs = be.log_softmax(logits, 1)
    rows = be.arange(0, logits.shape[0], 1, targets.dtype)
    return be.negative(be.getitem(log_probs, (rows, targets))), log_probs


def _backward_generic(be, grad_rows, log_probs, targets):
    probs = be.exp(log_probs)
    diff = be.subtract(probs, _one_hot(be, targets, log_probs.shape[1], log_probs.dtype))
    return be.multiply(diff, be.reshape(grad_rows, (-1, 1)))


class SoftmaxCrossEntropy(Function):
    """-log_softmax(logits)[i, targets[i]] for logits (N, C) and integer targets (N,) in [0, C)."""

    @staticmethod
    def forward(ctx, logits, targets):
        be = ctx.backend
        kernel = getattr(be, "softmax_cross_entropy_forward", None)
        loss, log_probs = (kernel or (lambda a, t: _forward_generic(be, a, t)))(logits.data, targets.data)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(logits, targets, constant(ctx, log_probs))
        return loss

    @staticmethod
    def backward(ctx, g):
        logits, targets, log_probs = ctx.saved_tensors
        return SoftmaxCrossEntropyBackward.apply(g, logits, targets, log_probs.data), None


class SoftmaxCrossEntropyBackward(Function):
    """(softmax(logits) - one_hot(targets)) * g[:, None]; ``log_probs`` is the forward's cache."""

    @staticmethod
    def forward(ctx, g, logits, targets, log_probs):
        be = ctx.backend
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(g, logits, targets)
        kernel = getattr(be, "softmax_cross_entropy_backward", None)
        if kernel is not None:
            return kernel(g.data, log_probs, targets.data)
        return _backward_generic(be, g.data, log_probs, targets.data)

    @staticmethod
    def backward(ctx, gg):
        g, logits, targets = ctx.saved_tensors
        probs = logits.softmax(1)
        gg_g = gg_logits = None
        if ctx.needs_input_grad[0]:
            one_hot = constant(ctx, _one_hot(ctx.backend, targets.data, logits.shape[1], logits.dtype))
            gg_g = (gg * (probs - one_hot)).sum(1)
        if ctx.needs_input_grad[1]:
            h = gg * g.unsqueeze(1)
            gg_logits = probs * (h - (h * probs).sum(1, keepdims=True))
        return gg_g, gg_logits, None, None


def softmax_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-row loss; ``targets`` must already be valid class indices (checked by the caller)."""
    return SoftmaxCrossEntropy.apply(logits, targets)
