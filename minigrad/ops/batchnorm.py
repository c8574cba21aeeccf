"""Batch normalisation over every axis but the channel axis 1, in two forms that check each other.

* The **composite** form is written with primitive ops (mean, sub, mul, rsqrt, ...); autograd
  differentiates it. It is the executable specification.
* The **fused** form is one op, ``BatchNorm``: a backend kernel computes the statistics robustly and
  normalises in one go; its backward, ``BatchNormBackward``, is the closed form, one kernel again, and is
  itself an op with a backward written in tensor ops, so any order of derivative works.

The backend kernels (the NumPy backend's are the reference; see ``docs/batchnorm.md``):

* ``batch_norm_forward(x, weight, bias, eps) -> (out, mean, var)``: training-mode output, and the
  per-channel mean and *biased* variance as float64 arrays of shape (C,);
* ``batch_norm_backward(dy, x, mean, invstd, weight) -> (dx, dweight, dbias)``: dweight and dbias as
  float64 (C,) arrays. ``weight``/``bias`` may be ``None``;
* ``batch_norm_eval(x, center, invstd, weight, shift) -> out``: the eval-mode output ``(x - center) *
  invstd * weight + shift`` per channel, in x's dtype (``center``, ``weight``, ``shift`` may be ``None``).
  How it evaluates that (the NumPy backend folds the centre into the shift where that is accurate) is the
  backend's choice.

Running statistics are updated by ``batch_norm`` outside the differentiable op.
"""

from __future__ import annotations

import math

from ..errors import BackendMismatchError, InplaceError
from ..function import Function
from ..grad_mode import no_grad
from ..tensor import Tensor


def _channel_layout(x: Tensor) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """(reduction axes, per-channel broadcast shape, values per channel) for an (N, C, ...) tensor."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    count = x.shape[0]
    for n in x.shape[2:]:
        count *= n
    return axes, shape, count


def _invstd(be, var, eps):
    return be.divide(1.0, be.sqrt(be.add(var, eps)))


class BatchNorm(Function):
    """Training-mode batch norm, one fused kernel: returns (y, mean, var), the batch mean and biased variance
    as float64 (C,) tensors without gradient (for the running statistics); weight and bias may be None."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        be = ctx.backend
        out, mean, var = be.batch_norm_forward(x.array, _data(weight), _data(bias), eps)
        ctx.save_for_backward(x, weight)
        ctx.mean, ctx.invstd, ctx.eps = mean, _invstd(be, var, eps), eps
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    def backward(ctx, g, _mean, _var):
        x, weight = ctx.saved_tensors
        dx, dweight, dbias = BatchNormBackward.apply(g, x, weight, ctx.mean, ctx.invstd, ctx.eps)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        return (dx if need_x else None), (dweight if need_w else None), (dbias if need_b else None), None


def _normalized(x: Tensor, eps: float) -> Tensor:
    """xhat = (x - mean) / sqrt(var + eps) per channel, as an op of x (so it differentiates again)."""
    return BatchNorm.apply(x, None, None, eps)[0]


class BatchNormBackward(Function):
    """(dx, dweight, dbias) in one fused kernel: dx = w * invstd / m * (m dy - sum(dy) - xhat * sum(dy xhat)),
    dweight = sum(dy xhat), dbias = sum(dy) ((C,), summed in float64, in x's dtype). Differentiable in dy, x
    and weight."""

    @staticmethod
    def forward(ctx, dy, x, weight, mean, invstd, eps):
        be = ctx.backend
        dx, dweight, dbias = be.batch_norm_backward(dy.array, x.array, mean, invstd, _data(weight))
        ctx.save_for_backward(dy, x, weight)
        ctx.mean, ctx.invstd, ctx.eps = mean, invstd, eps
        return dx, be.astype(dweight, x.dtype), be.astype(dbias, x.dtype)  # the kernel sums in float64

    @staticmethod
    def backward(ctx, gg, gg_weight, gg_bias):
        # With <.> the per-channel mean, s = invstd and P(v) = v - <v> - xhat <v xhat> (self-adjoint):
        #   dx        = w s P(dy)
        #   d/d dy    = w s P(gg)                                   (BatchNormBackward again)
        #   d/d w     = s m Q,  Q = <gg dy> - <gg><dy> - <gg xhat><dy xhat>
        #   d/d x     = s * (-w s xhat Q - <gg xhat> dx - <dy xhat> w s P(gg))
        # derived in docs/batchnorm.md; dweight = sum(dy xhat) adds gg_weight xhat to d/d dy and s P(gg_weight dy)
        # to d/d x, dbias = sum(dy) adds gg_bias to d/d dy. xhat and s are ops of x, so this differentiates again.
        dy, x, weight = ctx.saved_tensors
        need_dy, need_x, need_w = ctx.needs_input_grad[:3]
        axes, cshape, m = _channel_layout(x)
        stats = ctx.mean, ctx.invstd, ctx.eps

        def mean(t):
            return t.mean(axes, keepdims=True)

        gdy = gx = gw = None
        xhat = _normalized(x, ctx.eps) if gg is not None and (need_x or need_w) or gg_weight is not None else None
        if gg is not None:
            gg_dy = BatchNormBackward.apply(gg, x, weight, *stats)[0] if need_dy or need_x else None
            gdy = gg_dy
            if need_x or need_w:
                s = BatchInvStd.apply(x, ctx.invstd, ctx.eps)
                gg_xhat, dy_xhat = mean(gg * xhat), mean(dy * xhat)
                q = mean(gg * dy) - mean(gg) * mean(dy) - gg_xhat * dy_xhat
                if need_w:
                    gw = (s * q).reshape(x.shape[1]) * m
                if need_x:
                    ws = s if weight is None else s * weight.reshape(cshape)
                    dx = BatchNormBackward.apply(dy, x, weight, *stats)[0]
                    gx = s * (-(ws * xhat * q) - gg_xhat * dx - dy_xhat * gg_dy)
        if gg_weight is not None:
            gw_c = gg_weight.reshape(cshape)
            if need_dy:
                gdy = _added(gdy, gw_c * xhat)
            if need_x:
                gx = _added(gx, BatchNormBackward.apply(gw_c * dy, x, None, *stats)[0])
        if gg_bias is not None and need_dy:
            gdy = _added(gdy, gg_bias.reshape(cshape).broadcast_to(dy.shape))
        return (gdy if need_dy else None), gx, gw, None, None, None


def _added(total, term):
    return term if total is None else total + term


class BatchInvStd(Function):
    """1 / sqrt(var(x) + eps) per channel, shape (1, C, 1, ...), from saved statistics; differentiable."""

    save_output = True

    @staticmethod
    def forward(ctx, x, invstd, eps):
        ctx.save_for_backward(x)
        ctx.eps = eps
        be = ctx.backend
        return be.reshape(be.astype(invstd, x.dtype), _channel_layout(x)[1])

    @staticmethod
    def backward(ctx, g):
        # d s / d x = -s^2 xhat / m  (per channel)
        (x,) = ctx.saved_tensors
        s = ctx.output
        m = _channel_layout(x)[2]
        return g * s * s * (-1.0 / m) * _normalized(x, ctx.eps), None, None


class BatchNormEval(Function):
    """Eval-mode batch norm, one kernel: y = (x - center) * invstd * weight + shift per channel (axis 1).

    ``center`` is the running mean, ``invstd`` = 1 / sqrt(running_var + eps), ``weight`` and ``shift`` the
    affine parameters, all (C,) tensors (all but ``invstd`` may be None). Differentiable in all five; its
    backward is this op again (dx is g scaled per channel) and sums, so any order of derivative works.
    """

    @staticmethod
    def forward(ctx, x, center, invstd, weight, shift):
        ctx.save_for_backward(x, center, invstd, weight)
        return ctx.backend.batch_norm_eval(x.array, _data(center), invstd.array, _data(weight), _data(shift))

    @staticmethod
    def backward(ctx, g):
        x, center, invstd, weight = ctx.saved_tensors
        need_x, need_center, need_invstd, need_weight, need_shift = ctx.needs_input_grad[:5]
        axes, cshape, _ = _channel_layout(x)
        scale = invstd if weight is None else invstd * weight
        gx = BatchNormEval.apply(g, None, invstd, weight, None) if need_x else None
        gshift = g.sum(axes) if need_shift or need_center else None
        gcenter = -(gshift * scale) if need_center else None
        ginvstd = gweight = None
        if need_invstd or need_weight:
            g_xc = (g * (x if center is None else x - center.reshape(cshape))).sum(axes)
            ginvstd = (g_xc if weight is None else g_xc * weight) if need_invstd else None
            gweight = g_xc * invstd if need_weight else None
        return gx, gcenter, ginvstd, gweight, (gshift if need_shift else None)


def _data(t):
    return None if t is None else t.array


# -- the two forms --------------------------------------------------------------------------------------
def _composite_train(x, weight, bias, eps, cshape, axes):
    mean = x.mean(axes, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axes, keepdims=True)
    y = xc * (var + eps).rsqrt()
    if weight is not None:
        y = y * weight.reshape(cshape)
    if bias is not None:
        y = y + bias.reshape(cshape)
    return y, mean, var


def _eval(x, running_mean, running_var, weight, bias, eps, cshape, fused):
    """Normalise with the running statistics; differentiable in x, weight, bias and the statistics."""
    if fused:
        # 1 / sqrt(var + eps) first (C elements), then one kernel over x instead of four passes.
        invstd = (running_var + eps).rsqrt()
        if x.dtype == running_mean.dtype == invstd.dtype and all(t is None or t.dtype == x.dtype
                                                                  for t in (weight, bias)):
            return BatchNormEval.apply(x, running_mean, invstd, weight, bias)
        # Mixed dtypes: these ops promote them as the composite form does.
        scale = invstd if weight is None else invstd * weight
        y = (x - running_mean.reshape(cshape)) * scale.reshape(cshape)
    else:
        y = (x - running_mean.reshape(cshape)) * (running_var.reshape(cshape) + eps).rsqrt()
        if weight is not None:
            y = y * weight.reshape(cshape)
    if bias is not None:
        y = y + bias.reshape(cshape)
    return y


def _update_running(running_mean, running_var, mean, var, count: int, factor: float) -> None:
    """running = (1 - factor) * running + factor * batch, in place, with the unbiased batch variance.

    Computed in float64 and stored in the buffer's dtype. This runs for every BatchNorm layer at every
    training step, so arrays already float64 of shape (C,) (the fused kernels' statistics) are used as
    they are: each skipped backend call saves about a microsecond, a fifth of a (60, 100) kernel.
    """
    for buf, batch, scale in ((running_mean, mean, 1.0), (running_var, var, count / (count - 1))):
        if buf is None:
            continue
        be = buf._backend
        c = buf.shape[0]
        batch = _float64_vector(be, batch, c)
        new = be.add(be.multiply(_float64_vector(be, buf.array, c), 1.0 - factor), be.multiply(batch, factor * scale))
        # Written into the buffer's memory directly (copy_ would run a whole op for C values); the version
        # bump is what an in-place op would do. The assignment rounds to the buffer's dtype.
        try:
            be.setitem(buf.array, Ellipsis, new)
        except ValueError as exc:
            raise InplaceError(f"batch_norm: cannot update the running statistics in place ({exc})") from exc
        buf._bump_version()


def _float64_vector(be, a, c: int):
    """``a`` as a float64 array of shape (C,), converting or reshaping only where needed."""
    if a.dtype != "float64":
        a = be.astype(a, "float64")
    return a if a.shape == (c,) else be.reshape(a, (c,))


def _check_channels(name: str, t: Tensor | None, c: int, x: Tensor) -> None:
    if t is not None and (not isinstance(t, Tensor) or t.shape != (c,)):
        shape = t.shape if isinstance(t, Tensor) else type(t).__name__
        raise ValueError(f"batch_norm: {name} must be a tensor of shape ({c},) for input of shape {x.shape}, "
                         f"got {shape}")
    if t is not None and t._backend is not x._backend:
        raise BackendMismatchError(f"batch_norm: {name} is on backend {t.backend!r} but the input on "
                                   f"{x.backend!r}; move it with .to({x.backend!r})")


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float | None = 0.1, eps: float = 1e-5, fused: bool = True, *,
               num_batches_tracked: Tensor | None = None) -> Tensor:
    """Batch normalisation over every axis but 1 (input (N, C), (N, C, L), (N, C, H, W), ...), as PyTorch.

    In training the batch statistics normalise (biased variance) and, when given, ``running_mean`` and
    ``running_var`` are updated in place outside the graph: ``r = (1 - momentum) * r + momentum * batch``,
    with the unbiased variance. When ``num_batches_tracked`` is given it is incremented in place, and
    ``momentum=None`` then means a cumulative average (factor ``1 / num_batches_tracked``). Outside
    training the running statistics normalise. ``fused`` picks the fused op or the composite form.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"batch_norm: expected a tensor, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input with at least 2 dimensions (N, C, ...), got {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"batch_norm: needs a floating-point input, got {x.dtype.name}")
    c = x.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        _check_channels(name, t, c, x)
    eps = float(eps)

    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var must be given when training=False")
        return _eval(x, running_mean, running_var, weight, bias, eps, _channel_layout(x)[1], fused)

    count = x.shape[0] * math.prod(x.shape[2:])  # values per channel
    if count == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}")
    update = running_mean is not None or running_var is not None
    factor = momentum
    if update and num_batches_tracked is not None:
        with no_grad():
            num_batches_tracked.add_(1)
        if momentum is None:
            factor = 1.0 / float(num_batches_tracked.item())
    if update and factor is None:
        raise ValueError("batch_norm: momentum=None (a cumulative average) needs num_batches_tracked")

    if fused:
        out, mean, var = BatchNorm.apply(x, weight, bias, eps)
    else:
        axes, cshape, _ = _channel_layout(x)
        out, mean, var = _composite_train(x, weight, bias, eps, cshape, axes)
    if update:  # backend calls on the buffers' arrays: nothing here is recorded
        _update_running(running_mean, running_var, mean.array, var.array, count, factor)
    return out
