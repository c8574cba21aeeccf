"""The NumPy backend's BatchNorm kernels: the reference for every backend (docs/batchnorm.md).

Statistics are per channel (axis 1), returned as float64 arrays of shape (C,). x is handled as N rows of
C * S values (S = prod(spatial)); every full-size step is one in-place ufunc or one reduction: forward 5
passes over x, backward 7. They use only ``self.xp``-compatible calls, so a backend with another array
module (CuPy) can inherit them. (Running the steps chunk by chunk, to reuse a chunk while it is in L2,
measured no faster: the per-call overhead ate the gain, and at 16 MiB x and d are still in L3.)
"""

from __future__ import annotations

import math


class BatchNormKernels:
    """``batch_norm_forward``, ``batch_norm_backward``, ``batch_norm_eval`` and ``batch_norm_affine``."""

    _BN_GROUP = 1 << 14  # (N, C): per-channel operands tiled to about this many values (see _bn_operand)
    # (N, C, S) with 1 < S <= _BN_SHORT_S and N >= _BN_SHORT_MIN_N is handled as (N, C * S) rows (see
    # _bn_operand; the measurements are in docs/batchnorm.md, "Choosing the design").
    _BN_SHORT_S = 64
    _BN_SHORT_MIN_N = 16

    def _bn_short(self, n, s):
        """Whether (N, C, S) runs as (N, C * S) rows."""
        return 1 < s <= self._BN_SHORT_S and n >= self._BN_SHORT_MIN_N

    def batch_norm_forward(self, x, weight, bias, eps):
        """Training-mode BatchNorm: ``(out, mean, var)`` with the biased batch variance.

        The data are centred on a sample of each channel, its first value K (the rounded mean on the
        rare second try): d = x - K is exact near K and E[d] is of the order of the spread, so
        E[d^2] - E[d]^2 in float64 keeps the digits that matter, and a float32 channel with a large
        mean and a tiny spread normalises accurately. The variance is never < 0. d then becomes the
        output in place: (d - E[d]) * scale + bias == d * scale + offset.
        """
        xp = self.xp
        n, c, s = self._bn_layout(x)
        result = xp.empty(x.shape, dtype=x.dtype)  # owns its memory (a reshaped view would be copied)
        if result.size == 0:  # nothing to normalise; the statistics of an empty channel are undefined
            return result, xp.full(c, xp.nan), xp.full(c, xp.nan)
        xr, d = x.reshape(n, c * s), result.reshape(n, c * s)
        m = n * s
        shift = x.reshape(n, c, s)[0, :, 0]
        for _ in range(2):
            self._bn_apply(xp.subtract, xr, self._bn_operand(shift, c, s, n), d, c, s)
            rest = self._bn_channel_sum(d, c, s) / m  # E[d]
            var = self._bn_channel_sum(d, c, s, d) / m - rest * rest
            # K far from the mean (an outlier in the first row) would make E[d]^2 cancel: centre again.
            if not bool(xp.any(rest * rest > 64.0 * var)):
                break
            shift = (shift + rest).astype(x.dtype)
        mean = shift + rest
        var = xp.maximum(var, 0.0)
        scale = 1.0 / xp.sqrt(var + eps)
        if weight is not None:
            scale = scale * weight
        offset = -rest * scale
        if bias is not None:
            offset = offset + bias
        self._bn_apply(xp.multiply, d, self._bn_operand(scale.astype(x.dtype), c, s, n), d, c, s)
        self._bn_apply(xp.add, d, self._bn_operand(offset.astype(x.dtype), c, s, n), d, c, s)
        return result, mean, var

    def batch_norm_backward(self, grad, x, mean, invstd, weight):
        """Closed-form BatchNorm backward: ``(dx, dweight, dbias)``; dweight/dbias are float64 (C,).

        dx = w * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)), sums over all axes but 1,
        with xhat = (d - rest) * invstd around the mean rounded to x's dtype, d = x - mean_x.
        """
        xp = self.xp
        n, c, s = self._bn_layout(x)
        result = xp.empty(x.shape, dtype=x.dtype)
        if result.size == 0:
            return result, xp.zeros(c), xp.zeros(c)
        xr, dy, d = x.reshape(n, c * s), grad.reshape(n, c * s), result.reshape(n, c * s)
        m = n * s
        mean_x = mean.astype(x.dtype)
        rest = mean - mean_x
        self._bn_apply(xp.subtract, xr, self._bn_operand(mean_x, c, s, n), d, c, s)
        dbias = self._bn_channel_sum(dy, c, s)
        dweight = invstd * (self._bn_channel_sum(dy, c, s, d) - rest * dbias)
        k = invstd if weight is None else invstd * weight
        u = invstd * dweight / m
        v = dbias / m - rest * u
        # dx = k * (dy - (d * u + v)) = (dy - u * d) * k - k * v, in d's memory.
        self._bn_apply(xp.multiply, d, self._bn_operand((-u).astype(x.dtype), c, s, n), d, c, s)
        xp.add(d, dy, out=d)
        self._bn_apply(xp.multiply, d, self._bn_operand(k.astype(x.dtype), c, s, n), d, c, s)
        self._bn_apply(xp.subtract, d, self._bn_operand((k * v).astype(x.dtype), c, s, n), d, c, s)
        return result, dweight, dbias

    # Eval mode may compute x * scale + (shift - center * scale), two passes instead of three, where that is
    # accurate: when every channel has |center| * invstd <= _BN_FOLD_RATIO, the rounded offset errs by at
    # most that ratio times eps / 2 times |weight|, while a float32 channel with mean 1e4 and std 0.1 (ratio
    # 1e5) would be off by ~1e-2 and keeps the centred form. The check costs a few C-sized operations, so
    # only inputs of _BN_FOLD_FROM elements or more make it (docs/batchnorm.md has the measurements).
    _BN_FOLD_RATIO = 8.0
    _BN_FOLD_FROM = 1 << 16

    def batch_norm_eval(self, x, center, invstd, weight, shift):
        """Eval-mode BatchNorm: ``(x - center) * invstd * weight + shift`` per channel (axis 1), in x's dtype.

        (C,) arrays in x's dtype; ``center``, ``weight`` and ``shift`` may be ``None``.
        """
        xp = self.xp
        scale = invstd if weight is None else invstd * weight
        if (center is not None and x.size >= self._BN_FOLD_FROM
                and xp.abs(center * invstd).max() <= self._BN_FOLD_RATIO):  # False for NaN statistics
            offset = -(center.astype(xp.float64) * scale.astype(xp.float64))
            if shift is not None:
                offset = offset + shift
            return self.batch_norm_affine(x, None, scale, offset.astype(x.dtype))
        return self.batch_norm_affine(x, center, scale, shift)

    def batch_norm_affine(self, x, center, scale, shift):
        """Eval-mode BatchNorm: ``(x - center) * scale + shift`` per channel (axis 1), in x's dtype.

        ``center``, ``scale`` and ``shift`` are (C,) arrays (``center``/``shift`` may be ``None``: zero).
        In-place passes over the one output, one per operation; subtracting first keeps x - center exact
        near the running mean, as the composite form computes it.
        """
        xp = self.xp
        n, c, s = self._bn_layout(x)
        result = xp.empty(x.shape, dtype=x.dtype)
        if result.size == 0:
            return result
        xr, d = x.reshape(n, c * s), result.reshape(n, c * s)

        def apply(ufunc, a, v):
            self._bn_apply(ufunc, a, self._bn_operand(v.astype(x.dtype, copy=False), c, s, n), d, c, s)

        if center is None:
            apply(xp.multiply, xr, scale)
        else:
            apply(xp.subtract, xr, center)
            apply(xp.multiply, d, scale)
        if shift is not None:
            apply(xp.add, d, shift)
        return result

    @staticmethod
    def _bn_layout(x):
        """(N, C, S) with S the product of the spatial sizes."""
        n, c = x.shape[0], x.shape[1]
        return n, c, math.prod(x.shape[2:])

    def _bn_operand(self, v, c, s, rows):
        """A per-channel vector (C,) prepared for ``_bn_apply``.

        (N, C): tiled over g rows, so a step runs over g rows per inner loop of NumPy's broadcasting
        instead of one (its row-by-row loop cost ~30% at (256, 1024)); small inputs skip the tiling,
        which would cost more than it saves. (N, C, S): shaped (C, 1); with a short S, repeated S times and
        handled as (N, C * S) rows instead, because NumPy's broadcasting over a short inner axis pays its
        per-loop overhead every S values.
        """
        if self._bn_short(rows, s):
            return self._bn_operand(self.xp.repeat(v, s), c * s, 1, rows)
        if s > 1:
            return v.reshape(c, 1)
        if rows * c < 4 * self._BN_GROUP:
            return v
        g = max(1, self._BN_GROUP // c)
        tiled = self.xp.empty((g, c), dtype=v.dtype)  # np.tile, without its Python-level overhead
        tiled[...] = v
        return tiled.reshape(g * c)

    def _bn_apply(self, ufunc, a, v, out, c, s):
        """out = ufunc(a, v) for rows a, out of C * S values and v from ``_bn_operand``."""
        if self._bn_short(a.shape[0], s):
            c, s = c * s, 1
        if s > 1:
            ufunc(a.reshape(-1, c, s), v, out=out.reshape(-1, c, s))
            return
        r = a.shape[0]
        g = v.shape[0] // c
        q = r - r % g
        if q:
            ufunc(a[:q].reshape(-1, g * c), v, out=out[:q].reshape(-1, g * c))
        if q < r:
            ufunc(a[q:], v[:c], out=out[q:])

    def _bn_channel_sum(self, a, c, s, b=None, rows: int = 16):
        """Per-channel float64 sum of a * b (or of a) over rows of C * S values.

        Partial sums run in a's dtype over short stretches, then add up in float64: blocks of ``rows``
        rows for (N, C), each run of S for (N, C, S). The stretches are BLAS calls where that is fastest:
        a matmul with ones for plain sums, one dot product per run for products when runs are long (einsum
        wins below S = 64; docs/batchnorm.md). Float32 error stays near 1e-7 relative.
        """
        xp = self.xp
        if self._bn_short(a.shape[0], s):  # column sums of the (N, C * S) rows, then each channel's S columns
            return self._bn_channel_sum(a, c * s, 1, b, rows).reshape(c, s).sum(axis=1)
        if s > 1:
            a2 = a.reshape(-1, s)
            if b is None:
                part = a2 @ xp.ones(s, dtype=a.dtype)
            elif s >= 64:
                part = xp.matmul(a2[:, None, :], b.reshape(-1, s)[:, :, None])
            else:
                part = xp.einsum("rs,rs->r", a2, b.reshape(-1, s))
            return part.reshape(-1, c).sum(axis=0, dtype=xp.float64)
        n = a.shape[0]
        k = n // rows
        total = xp.zeros(c, dtype=xp.float64)
        if k:
            head = a[: k * rows].reshape(k, rows, c)
            if b is None:
                part = xp.ones(rows, dtype=a.dtype) @ head
            else:
                part = xp.einsum("knc,knc->kc", head, b[: k * rows].reshape(k, rows, c))
            total += part.sum(axis=0, dtype=xp.float64)
        if k * rows < n:
            tail = a[k * rows :] if b is None else a[k * rows :] * b[k * rows :]
            total += tail.sum(axis=0, dtype=xp.float64)
        return total
