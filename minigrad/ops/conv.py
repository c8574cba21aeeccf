"""Sliding-window ops for convolution and pooling: ``Unfold`` (im2col), its adjoint ``Fold``, their batch-inner
versions ``UnfoldBatchInner``/``FoldBatchInner`` (``Conv2d``'s columns), ``MaxPool2d``.

``Unfold`` and ``Fold`` are linear and each other's adjoint, so each one's backward is the other: gradients
of any order follow. They use two backend methods, ``unfold_windows`` (im2col, zero padding included) and
``fold_windows`` (its adjoint), and work on the trailing two axes of an (N, C, H, W) tensor with PyTorch's
``F.unfold``/``F.fold`` layout: columns of shape (N, C * kh * kw, oh * ow) (or the trailing three axes of an
(N, C, D, H, W) tensor, for ``conv3d`` and the 3-D pools: columns (N, C * kd * kh * kw, od * oh * ow)).
``UnfoldBatchInner`` and ``FoldBatchInner`` are the same pair with the batch axis inside, columns
(C * kh * kw, N * oh * ow) from ``unfold_windows_batch_inner`` and ``fold_windows_batch_inner``, so that a
convolution's product is one GEMM per group.

``MaxPool2d`` keeps each window's argmax slot from the backend's ``max_pool2d_forward``; its backward,
``MaxPool2dBackward``, is linear in the gradient (``max_pool2d_backward`` adds it at the argmax), and that
op's own backward reads the argmax element of each window, so double backward works too.
"""

from __future__ import annotations

import math

import numpy as np

from ..function import Function
from ..grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._common import constant
from .arithmetic import where
from .linalg import MatMul
from .movement import _reshape_or_self


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Number of window positions along one axis (floor mode, as PyTorch's default)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class Unfold(Function):
    """Every window of a (N, C, H, W) input, as columns (N, C * kh * kw, oh * ow); a copy."""

    @staticmethod
    def forward(ctx, x, kernel, dilation, padding, stride):
        ctx.in_hw, ctx.params = x.shape[2:], (kernel, dilation, padding, stride)
        be = ctx.backend
        cols = be.unfold_windows(x.array, kernel, stride, padding, dilation)  # (N, C, *kernel, *out)
        n, c, nd = cols.shape[0], cols.shape[1], len(kernel)
        return be.reshape(cols, (n, c * math.prod(kernel), math.prod(cols.shape[2 + nd:])))

    @staticmethod
    def backward(ctx, g):
        return Fold.apply(g, ctx.in_hw, *ctx.params), None, None, None, None


class Fold(Function):
    """Sum columns (N, C * kh * kw, L) back into a (N, C, H, W) image: the adjoint of ``Unfold``."""

    @staticmethod
    def forward(ctx, cols, output_size, kernel, dilation, padding, stride):
        ctx.params = (kernel, dilation, padding, stride)
        be = ctx.backend
        out = tuple(out_size(*args) for args in zip(output_size, kernel, stride, padding, dilation))
        n, ckk, length = cols.shape
        c = ckk // math.prod(kernel)
        windows = be.reshape(cols.array, (n, c, *kernel, *out))
        return be.fold_windows(windows, tuple(output_size), stride, dilation, padding)

    @staticmethod
    def backward(ctx, g):
        return Unfold.apply(g, *ctx.params), None, None, None, None, None


class UnfoldBatchInner(Function):
    """Every window of a (N, C, H, W) input, as batch-inner columns (C * kh * kw, N * oh * ow); a copy."""

    @staticmethod
    def forward(ctx, x, kernel, dilation, padding, stride):
        ctx.in_hw, ctx.params = x.shape[2:], (kernel, dilation, padding, stride)
        be = ctx.backend
        cols = be.unfold_windows_batch_inner(x.array, kernel, stride, padding, dilation)  # (C, *kernel, N, *out)
        c, nd = cols.shape[0], len(kernel)
        return be.reshape(cols, (c * math.prod(kernel), math.prod(cols.shape[1 + nd:])))

    @staticmethod
    def backward(ctx, g):
        return FoldBatchInner.apply(g, ctx.in_hw, *ctx.params), None, None, None, None


class FoldBatchInner(Function):
    """Sum batch-inner columns (C * kh * kw, N * L) back into a (N, C, H, W) image: the adjoint of
    ``UnfoldBatchInner``."""

    @staticmethod
    def forward(ctx, cols, output_size, kernel, dilation, padding, stride):
        ctx.params = (kernel, dilation, padding, stride)
        be = ctx.backend
        out = tuple(out_size(*args) for args in zip(output_size, kernel, stride, padding, dilation))
        ckk, length = cols.shape
        c, n = ckk // math.prod(kernel), length // math.prod(out)
        windows = be.reshape(cols.array, (c, *kernel, n, *out))
        return be.fold_windows_batch_inner(windows, tuple(output_size), stride, dilation, padding)

    @staticmethod
    def backward(ctx, g):
        return UnfoldBatchInner.apply(g, *ctx.params), None, None, None, None, None


class Conv2d(Function):
    """N-d cross-correlation of (N, C, *spatial) with weight (O, C // groups, *kernel), plus an optional bias (O,):
    ``conv2d``'s op, and ``conv3d``'s (the window methods take any number of spatial axes; the Numba backend's
    kernels cover 2-D windows and hand 3-D ones to the NumPy code). Described for 2-D below.

    Two column layouts, chosen by the window volume k = C // groups * kh * kw:

    - from ``BATCH_INNER_MIN_K`` on, batch-inner columns (groups, k, N * oh * ow), so that the forward, the
      weight's gradient and the input's gradient are each one GEMM per group, not one per image and group:
      fewer, larger GEMMs, which OpenBLAS runs faster. The (O, N, L) product then needs a transposing pass to
      NCHW, which also adds the bias.
    - below it (a first layer's few input channels) the GEMMs are memory-bound and that pass would cost more
      than it saves: ``unfold_windows`` columns (N, groups, k, L) and one batched GEMM, whose (N, O, L) result
      is already NCHW.

    The backward is written in differentiable ops (``MatMul`` and the unfold/fold pair of the layout), so
    gradients of any order follow. First-order backward reuses the forward's columns for the weight's
    gradient; a recorded backward (``create_graph``) unfolds ``x`` again so that this gradient stays a
    function of ``x``.
    """

    BATCH_INNER_MIN_K = 32

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        be = ctx.backend
        o, cg, kernel = weight.shape[0], weight.shape[1], tuple(weight.shape[2:])
        nd, k = len(kernel), cg * math.prod(kernel)
        w = be.reshape(weight.array, (groups, o // groups, k))
        ctx.batch_inner = k >= Conv2d.BATCH_INNER_MIN_K
        if ctx.batch_inner:
            cols = be.unfold_windows_batch_inner(x.array, kernel, stride, padding, dilation)  # (C, *kernel, N, *out)
            n, spatial = cols.shape[1 + nd], cols.shape[2 + nd:]
            length = math.prod(spatial)
            cols = be.reshape(cols, (groups, k, n * length))
            out = be.reshape(be.matmul(w, cols), (o, n, length))  # (G, O/G, N * L) as (O, N, L)
            if bias is not None and bias.array.dtype == out.dtype:
                # Written through a transposed view of the NCHW result: NumPy's loop then reads contiguously,
                # faster than reading a transposed input (docs/nn.md).
                result = be.empty((n, o, length), out.dtype)
                be.add(out, be.reshape(bias.array, (o, 1, 1)), out=be.transpose(result, (1, 0, 2)))
            elif bias is not None:  # a mixed-precision bias promotes the result, as NumPy's addition does
                result = be.ascontiguous(be.transpose(be.add(out, be.reshape(bias.array, (o, 1, 1))), (1, 0, 2)))
            else:
                result = be.ascontiguous(be.transpose(out, (1, 0, 2)))
        else:
            cols = be.unfold_windows(x.array, kernel, stride, padding, dilation)  # (N, C, *kernel, *out)
            n, spatial = cols.shape[0], cols.shape[2 + nd:]
            cols = be.reshape(cols, (n, groups, k, math.prod(spatial)))
            result = be.matmul(w, cols)  # (N, G, O/G, L)
            if bias is not None:
                b = be.reshape(bias.array, (groups, o // groups, 1))
                result = be.add(result, b, out=result) if b.dtype == result.dtype else be.add(result, b)
        if ctx.recording:
            ctx.save_for_backward(x, weight, constant(ctx, cols))
        ctx.params = (kernel, dilation, padding, stride)
        return be.reshape(result, (n, o, *spatial))

    @staticmethod
    def backward(ctx, g):
        x, weight, cols = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        o = weight.shape[0]
        n, groups, k = x.shape[0], cols.shape[-3], cols.shape[-2]
        w = weight.reshape(groups, o // groups, k)
        gx = gw = gb = None
        if ctx.batch_inner:
            length = cols.shape[-1]  # N * L
            # g in the columns' batch-inner order, (G, O/G, N * L): a small copy that makes each gradient one GEMM.
            g = g.reshape(n, o, length // n).transpose(0, 1).contiguous()
            g = _reshape_or_self(g, (groups, o // groups, length))
            if need_x:  # the columns' gradient W^T g, folded back onto the image
                gcols = MatMul.apply(w, g, True, False).reshape(groups * k, length)
                gx = FoldBatchInner.apply(gcols, x.shape[2:], *ctx.params)
            if need_w:  # g cols^T, summed over the batch by the GEMM itself; computed transposed, cols g^T,
                # which OpenBLAS ran faster than g cols^T
                if is_grad_enabled() and x.requires_grad:
                    cols = UnfoldBatchInner.apply(x, *ctx.params).reshape(groups, k, length)
                gw = MatMul.apply(cols, g, False, True).transpose(-1, -2).reshape(weight.shape)
            if need_b:
                gb = g.sum(2).reshape(o)
        else:
            length = cols.shape[-1]  # L
            g = _reshape_or_self(g, (n, groups, o // groups, length))
            if need_x:
                gcols = MatMul.apply(w, g, True, False).reshape(n, groups * k, length)
                gx = Fold.apply(gcols, x.shape[2:], *ctx.params)
            if need_w:  # the batch's sum of g cols^T, computed transposed as cols g^T: at these small k the
                # transposed operand cost OpenBLAS less than copying g^T did (not so at large k: docs/nn.md)
                if is_grad_enabled() and x.requires_grad:
                    cols = Unfold.apply(x, *ctx.params).reshape(n, groups, k, length)
                gw = MatMul.apply(cols, g, False, True).sum(0).transpose(-1, -2).reshape(weight.shape)
            if need_b:
                gb = g.sum((0, 3)).reshape(o)
        return gx, gw, gb, None, None, None, None


def _axis_phases(n: int, k: int, s: int, d: int, p: int, out: int) -> tuple:
    """A transposed convolution's output along one axis as ``s`` phases (output positions r, r + s, ...), each a
    stride-1 correlation of the input with the kernel taps landing in it: output q * s + r reads input
    q + offset for tap t when t * d - p = r - offset * s.

    Returns (K, P, phases): a common window of K input entries, the zero padding P of the input on either side
    that every phase's windows need, and per phase (r, its size Q, its first window's position, [(tap, slot in
    the window)])."""
    phases = []
    for r in range(s):
        taps = [(t, (r + p - t * d) // s) for t in range(k) if (t * d - p) % s == r]
        phases.append((r, len(range(r, out, s)), taps))
    low = {r: min((off for _, off in taps), default=0) for r, _, taps in phases}
    window = max(max((off for _, off in taps), default=0) - low[r] + 1 for r, _, taps in phases)
    pad = max([0] + [max(-low[r], q - 1 + low[r] + window - n) for r, q, _ in phases if q])
    return window, pad, [(r, q, low[r] + pad, [(t, off - low[r]) for t, off in taps]) for r, q, taps in phases]


class ConvTranspose2d(Function):
    """Transposed 2-D convolution (the adjoint of ``Conv2d`` in its input) of (N, C, H, W) with weight
    (C, O // groups, kh, kw), plus an optional bias (O,), to an (N, O, *out_hw) output.

    The input must give exactly H x W windows over the output (``F.conv_transpose2d`` pads it when
    ``output_padding`` adds windows). Two forwards, the same function:

    - by phases ("sub-pixel"): the outputs at one position modulo the stride are a stride-1 correlation of the
      input with the taps landing there, so one GEMM per group with every phase's sub-kernel stacked,
      (stride_h * stride_w * O/G, C/G * K_h * K_w), on the input's K_h x K_w windows gives them all, and each
      phase is copied into its strided slice of the output. No fold, which is most of the other forward's
      time on NumPy (docs/performance.md, "Newer conv-net layers"). Used for
      strides above 1 where the stacked sub-kernels waste few multiplications (their zeros: kernels that are
      multiples of the stride), at most ``PHASE_MAX_WORK`` times the other's GEMM. At stride 1 the input's
      windows cost more than the fold they save.
    - by columns: one GEMM per group, W^T x, on the input in batch-inner order (C, N * H * W), whose columns
      (O * kh * kw, N * H * W) ``fold_windows_batch_inner`` adds up into the NCHW output.

    The backward is ``Conv2d``'s forward on g with the same weight, sharing g's batch-inner columns with the
    weight's gradient x cols^T, all in differentiable ops (``UnfoldBatchInner``, ``MatMul``), so gradients of
    any order follow.
    """

    PHASE_MAX_WORK = 1.3

    @staticmethod
    def forward(ctx, x, weight, bias, out_hw, stride, padding, dilation, groups):
        be = ctx.backend
        n, c, h, w = x.shape
        _, og, kh, kw = weight.shape
        axes = [_axis_phases(*args) for args in zip((h, w), (kh, kw), stride, dilation, padding, out_hw)]
        (ky, py, _), (kx, px, _) = axes
        positions = (h + 2 * py - ky + 1) * (w + 2 * px - kx + 1)
        work = stride[0] * stride[1] * ky * kx * positions / (kh * kw * h * w)  # the phases' GEMM against the other's
        if max(stride) > 1 and work <= ConvTranspose2d.PHASE_MAX_WORK:
            out = ConvTranspose2d._by_phases(be, x.array, weight.array, tuple(out_hw), groups, axes)
        else:
            k = og * kh * kw
            xb = be.reshape(be.ascontiguous(be.transpose(x.array, (1, 0, 2, 3))), (groups, c // groups, n * h * w))
            wt = be.transpose(be.reshape(weight.array, (groups, c // groups, k)), (0, 2, 1))
            cols = be.reshape(be.matmul(wt, xb), (groups * og, kh, kw, n, h, w))
            out = be.fold_windows_batch_inner(cols, tuple(out_hw), stride, dilation, padding)  # (N, O, *out_hw)
        if bias is not None:
            b = be.reshape(bias.array, (1, groups * og, 1, 1))
            out = be.add(out, b, out=out) if b.dtype == out.dtype else be.add(out, b)
        if ctx.recording:
            ctx.save_for_backward(x, weight)
        ctx.params, ctx.groups = ((kh, kw), dilation, padding, stride), groups
        return out

    @staticmethod
    def _by_phases(be, x, weight, out_hw, groups, axes):
        n, c, h, w = x.shape
        _, og, kh, kw = weight.shape
        cg = c // groups
        (ky, py, rows), (kx, px, cols) = axes
        sy, sx = len(rows), len(cols)
        # The stacked sub-kernels (G, sy, sx, O/G, C/G, ky, kx), gathered from the weight; a slot no tap lands in
        # reads the zero appended to it.
        index = np.full((groups, sy, sx, og, cg, ky, kx), weight.size, np.int64)
        source = (np.arange(groups)[:, None, None] * cg + np.arange(cg)) * og  # (G, 1, C/G): c * O/G
        source = source[:, :, None, :] + np.arange(og)[:, None]  # (G, 1, O/G, C/G): c * O/G + o
        for ry, _, _, taps_y in rows:
            for rx, _, _, taps_x in cols:
                for ty, ay in taps_y:
                    for tx, ax in taps_x:
                        index[:, ry, rx, :, :, ay, ax] = (source[:, 0] * kh + ty) * kw + tx
        flat = be.concatenate([be.reshape(weight, (-1,)), be.zeros((1,), weight.dtype)], 0)
        sub = be.reshape(be.take(flat, be.from_numpy(index.reshape(-1)), 0), (groups, sy * sx * og, cg * ky * kx))
        windows = be.unfold_windows_batch_inner(x, (ky, kx), (1, 1), (py, px), (1, 1))  # (C, ky, kx, N, ph, pw)
        ph, pw = windows.shape[-2:]
        res = be.matmul(sub, be.reshape(windows, (groups, cg * ky * kx, n * ph * pw)))
        res = be.reshape(res, (groups, sy, sx, og, n, ph, pw))
        out = be.empty((n, groups * og) + out_hw, x.dtype)
        grouped = be.reshape(out, (n, groups, og) + out_hw)
        for ry, qy, y0, _ in rows:
            for rx, qx, x0, _ in cols:
                phase = be.getitem(grouped, (slice(None),) * 3 + (slice(ry, None, sy), slice(rx, None, sx)))
                part = be.getitem(res, (slice(None), ry, rx, slice(None), slice(None), slice(y0, y0 + qy),
                                        slice(x0, x0 + qx)))  # (G, O/G, N, qy, qx)
                be.setitem(phase, Ellipsis, be.transpose(part, (2, 0, 1, 3, 4)))
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        n, c, h, w = x.shape
        groups = ctx.groups
        # g's windows in batch-inner order, (G, O/G * kh * kw, N * H * W): one GEMM per group for each gradient
        gcols = UnfoldBatchInner.apply(g, *ctx.params)
        gcols = gcols.reshape(groups, gcols.shape[0] // groups, n * h * w)
        gx = gw = gb = None
        if need_x:  # W gcols: Conv2d's forward on g
            wg = weight.reshape(groups, c // groups, gcols.shape[1])
            gx = MatMul.apply(wg, gcols, False, False).reshape(c, n, h, w).transpose(0, 1).contiguous()
        if need_w:  # x gcols^T, summed over the batch by the GEMM itself; computed transposed, gcols x^T, which
            # OpenBLAS runs faster (a long shared axis: the (k, C) result is small, its transpose cheap)
            xb = x.transpose(0, 1).reshape(groups, c // groups, n * h * w)  # batch-inner x: a small copy
            gw = MatMul.apply(gcols, xb, False, True).transpose(-1, -2).reshape(weight.shape)
        if need_b:
            gb = g.sum((0, 2, 3))
        return gx, gw, gb, None, None, None, None, None


class MaxPool2d(Function):
    """Maximum of each window (padding counts as -inf); the gradient goes to the first maximum."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation):
        ctx.in_hw, ctx.params = x.shape[2:], (kernel, stride, padding, dilation)
        top, slot = ctx.backend.max_pool2d_forward(x.array, kernel, stride, padding, dilation)
        if any(ctx.needs_input_grad):
            # Each window's argmax slot, saved as a tensor so that the engine frees it after backward.
            ctx.save_for_backward(constant(ctx, slot))
        return top

    @staticmethod
    def backward(ctx, g):
        (slot,) = ctx.saved_tensors
        return MaxPool2dBackward.apply(g, slot, ctx.in_hw, *ctx.params), None, None, None, None


class MaxPool2dBackward(Function):
    """Max-pooling's input gradient: each window's gradient added at its argmax (linear in ``g``)."""

    @staticmethod
    def forward(ctx, g, slot, in_hw, kernel, stride, padding, dilation):
        ctx.slot, ctx.params = slot, (kernel, stride, padding, dilation)
        return ctx.backend.max_pool2d_backward(g.array, slot.array, in_hw, kernel, stride, padding, dilation)

    @staticmethod
    def backward(ctx, gg):
        # The adjoint reads each window's argmax element: the windows of gg, kept at the argmax slot only.
        kernel, stride, padding, dilation = ctx.params
        be, slot = ctx.backend, ctx.slot.array
        n, c, oh, ow = slot.shape
        k = kernel[0] * kernel[1]
        windows = Unfold.apply(gg, kernel, dilation, padding, stride).reshape(n, c, k, oh, ow)
        slots = be.reshape(be.arange(0, k, 1, slot.dtype), (1, 1, k, 1, 1))
        hit = constant(ctx, be.equal(be.reshape(slot, (n, c, 1, oh, ow)), slots))
        return where(hit, windows, 0.0).sum(2), None, None, None, None, None, None


def unfold(x: Tensor, kernel: tuple, dilation: tuple, padding: tuple, stride: tuple) -> Tensor:
    return Unfold.apply(x, kernel, dilation, padding, stride)


def fold(cols: Tensor, output_size: tuple, kernel: tuple, dilation: tuple, padding: tuple,
         stride: tuple) -> Tensor:
    return Fold.apply(cols, output_size, kernel, dilation, padding, stride)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None, stride: tuple, padding: tuple, dilation: tuple,
           groups: int) -> Tensor:
    return Conv2d.apply(x, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None, out_hw: tuple, stride: tuple, padding: tuple,
                     dilation: tuple, groups: int) -> Tensor:
    return ConvTranspose2d.apply(x, weight, bias, out_hw, stride, padding, dilation, groups)


def max_pool2d(x: Tensor, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple) -> Tensor:
    return MaxPool2d.apply(x, kernel, stride, padding, dilation)


def conv3d(x: Tensor, weight: Tensor, bias: Tensor | None, stride: tuple, padding: tuple, dilation: tuple,
           groups: int) -> Tensor:
    """3-D cross-correlation: ``Conv2d``'s op on 3-D windows."""
    return Conv2d.apply(x, weight, bias, stride, padding, dilation, groups)
