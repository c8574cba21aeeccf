"""``BatchNorm1d``, ``BatchNorm2d``, ``BatchNorm3d`` (and ``SyncBatchNorm`` on one process): batch normalisation
layers with PyTorch's semantics.

The layers own the running statistics (buffers ``running_mean``, ``running_var``,
``num_batches_tracked``); ``minigrad.ops.batchnorm.batch_norm`` updates them in place, outside the graph.

| mode  | track_running_stats=True                     | track_running_stats=False      |
|-------|----------------------------------------------|--------------------------------|
| train | batch stats normalise; running stats updated | batch stats normalise          |
| eval  | running stats normalise                      | batch stats normalise          |
"""

from __future__ import annotations

from ..creation import ones, zeros
from ..dtypes import as_dtype
from ..grad_mode import no_grad
from ..ops.batchnorm import batch_norm
from ..tensor import Tensor, tensor
from .module import Module, Parameter


class _BatchNorm(Module):
    """Shared implementation; subclasses only check the input's dimensionality."""

    _version = 2  # PyTorch's _NormBase version (what state-dict post-hooks see)

    _dims: tuple[int, ...] = ()
    _expect = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, fused: bool = True, *,
                 bias: bool = True, dtype=None, backend: str | None = None) -> None:
        """``dtype`` and ``backend`` place the parameters and running statistics (as ``Linear``'s);
        ``num_batches_tracked`` is int64 on the same backend. ``bias=False`` (PyTorch's keyword) keeps the
        affine weight without a bias (no effect when ``affine=False``)."""
        super().__init__()
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.fused = fused
        dtype = as_dtype(dtype) if dtype else None
        if affine:
            self.weight = Parameter(ones(self.num_features, dtype=dtype, backend=backend))
            if bias:
                self.bias = Parameter(zeros(self.num_features, dtype=dtype, backend=backend))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(self.num_features, dtype=dtype, backend=backend))
            self.register_buffer("running_var", ones(self.num_features, dtype=dtype, backend=backend))
            self.register_buffer("num_batches_tracked", tensor(0, dtype="int64", backend=backend))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def _fill_missing_state(self, local: dict, prefix: str, local_metadata: dict) -> None:
        """Called by ``load_state_dict`` before this module's entries are checked. PyTorch's rule for checkpoints
        without a version-2 record (written before ``num_batches_tracked`` existed, or plain dicts such as
        minigrad's, which carry no metadata): a missing count keeps the module's own."""
        key = prefix + "num_batches_tracked"
        if self.num_batches_tracked is not None and key not in local and local_metadata.get("version", 1) < 2:
            local[key] = self.num_batches_tracked

    def reset_parameters(self) -> None:
        """Running statistics reset, and weight = 1, bias = 0 (PyTorch's initialisation)."""
        self.reset_running_stats()
        if self.affine:
            with no_grad():
                self.weight.fill_(1)
                if self.bias is not None:
                    self.bias.zero_()

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a tensor, got {type(x).__name__}")
        if x.ndim not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected {self._expect} input, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels (axis 1), "
                             f"got input of shape {x.shape}")
        # As PyTorch: batch statistics in training, and always when no running statistics are kept.
        use_batch_stats = self.training or self.running_mean is None
        tracking = self.training and self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if tracking or not self.training else None,
            self.running_var if tracking or not self.training else None,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=self.momentum,
            eps=self.eps,
            fused=self.fused,
            num_batches_tracked=self.num_batches_tracked if tracking else None,
        )

    def extra_repr(self) -> str:
        # PyTorch's line; minigrad's fused flag only where it is not the default
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
                + ("" if self.fused else ", fused=False"))


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input, per channel C."""

    _dims = (2, 3)
    _expect = "2D (N, C) or 3D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input, per channel C."""

    _dims = (4,)
    _expect = "4D (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) input, per channel C."""

    _dims = (5,)
    _expect = "5D (N, C, D, H, W)"


class SyncBatchNorm(_BatchNorm):
    """PyTorch's ``SyncBatchNorm`` on one process: batch norm over (N, C, *) input of any rank >= 2, per channel C.
    minigrad has no process groups, so the statistics are those of this process's batch, as PyTorch's when
    ``torch.distributed`` is not initialized; ``process_group`` is kept, unused."""

    _dims = tuple(range(2, 65))
    _expect = "at least 2D (N, C, *)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, *, bias: bool = True, dtype=None,
                 backend: str | None = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias=bias, dtype=dtype,
                         backend=backend)
        self.process_group = process_group

    def forward(self, x: Tensor) -> Tensor:
        if isinstance(x, Tensor) and x.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2D input (got {x.ndim}D input)")
        if isinstance(x, Tensor) and x.shape[1] == 0:
            raise ValueError("SyncBatchNorm: number of input channels should be non-zero")
        return super().forward(x)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every batch-norm layer in it replaced by a ``SyncBatchNorm`` that shares its parameters,
        running statistics and training mode (``module`` itself when it is not one)."""
        output = module
        if isinstance(module, _BatchNorm):
            output = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                         process_group, bias=module.bias is not None)
            output.fused = module.fused
            if module.affine:
                output.weight = module.weight
                if module.bias is not None:
                    output.bias = module.bias
            output.running_mean, output.running_var = module.running_mean, module.running_var
            output.num_batches_tracked = module.num_batches_tracked
            output.training = module.training
        for name, child in module.named_children():
            output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return output
