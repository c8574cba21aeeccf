"""Lazy modules: LazyLinear, LazyConv1d/2d/3d, LazyConvTranspose1d/2d/3d, LazyBatchNorm1d/2d/3d and
LazyInstanceNorm1d/2d/3d, whose ``in_features`` / ``in_channels`` / ``num_features`` come from the first input.

Until the first forward the module has no parameters (``parameters()`` is empty); that call creates them with
the eager module's initialisation and the module becomes that eager class (``Linear``, ``Conv1d``, ...), as
PyTorch's ``cls_to_become``. So, as PyTorch documents, run one forward ("dry run") before building the optimizer.
``load_state_dict``, on the lazy module or on a parent, first builds it with the shapes the checkpoint gives (as
PyTorch's load hook materialises them), and restores it if the load then fails.
"""

from __future__ import annotations

from .. import backends as _backends
from ..errors import ShapeError
from ..tensor import Tensor
from .layers import Conv1d, Conv2d, Linear
from .module import Module
from .spatial import (
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
)


class _LazyModule(Module):
    cls_to_become: type = Module

    def has_uninitialized_params(self) -> bool:
        return True

    def _eager(self) -> type:
        return type(self).cls_to_become

    def _template_fan_in(self) -> int:
        """A fan-in that every configuration accepts (the groups, for grouped convolutions)."""
        return 1

    def _infer(self, x: Tensor) -> int:
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        if not args or not isinstance(args[0], Tensor):
            raise TypeError(f"{type(self).__name__}: the first forward needs an input tensor to infer its shape")
        self._materialize(args[0])
        return Module.__call__(self, *args, **kwargs)

    def _materialize(self, x: Tensor) -> None:
        self._adopt(self._build(self._infer(x), self._lazy_backend or x._backend.name))

    def _build(self, fan_in: int, backend: str | None) -> Module:
        return self._eager()(fan_in, *self._lazy_args, **self._lazy_kwargs, backend=backend)

    def _adopt(self, built: Module) -> None:
        """Become ``built`` (its attributes, parameters and buffers), keeping this module's hooks and training
        flag."""
        eager = type(built)
        internal = set(vars(Module()))  # hooks, registries, ``training``: this module's own are kept
        state = {k: v for k, v in vars(built).items() if k not in internal}
        self.__dict__.update(state)
        for name, param in built._parameters.items():
            self.register_parameter(name, param)
        for name, buffer in built._buffers.items():
            self.register_buffer(name, buffer, persistent=name not in built._non_persistent_buffers)
        del self._lazy_args, self._lazy_kwargs, self._lazy_backend
        self.__class__ = eager

    def _fan_in_of(self, weight_shape: tuple) -> int:
        return weight_shape[1]

    def _fan_in_from(self, state_dict, prefix: str) -> int | None:
        """The fan-in that the checkpoint's entries of this module imply (its ``weight``), or None."""
        weight = state_dict.get(prefix + "weight")
        if weight is None or not hasattr(weight, "shape") or len(weight.shape) < 2:
            return None
        return self._fan_in_of(tuple(weight.shape))

    def _lazy_load(self, state_dict, prefix: str):
        """Before ``load_state_dict`` (on this module or a parent): become the eager module whose shapes the
        checkpoint implies, as PyTorch's load hook materialises them. Returns ``(undo, [])``, ``undo`` restoring
        the lazy module if the load fails afterwards; or ``(None, missing)`` with the keys the module would have,
        when the checkpoint does not give its shape."""
        fan_in = self._fan_in_from(state_dict, prefix)
        if fan_in is None:
            random_state = _backends.get_rng_state()  # the throwaway module's initialisation draws nothing
            try:
                template = self._build(self._template_fan_in(), self._lazy_backend)
            finally:
                _backends.set_rng_state(random_state)
            return None, [prefix + key for key in template.state_dict()]
        built = self._build(fan_in, self._lazy_backend)
        cls, saved = self.__class__, dict(self.__dict__)
        registries = {name: dict(getattr(self, name)) for name in ("_parameters", "_buffers")}
        persistent = set(self._non_persistent_buffers)
        self._adopt(built)

        def undo() -> None:
            self.__class__ = cls
            self.__dict__.clear()
            self.__dict__.update(saved)
            for name, content in registries.items():
                getattr(self, name).clear()
                getattr(self, name).update(content)
            self._non_persistent_buffers.clear()
            self._non_persistent_buffers.update(persistent)

        return undo, []


class LazyLinear(_LazyModule):
    """``Linear`` whose ``in_features`` is the last dimension of the first input."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, *, dtype=None, backend: str | None = None) -> None:
        super().__init__()
        self.out_features = out_features
        self._lazy_args, self._lazy_kwargs, self._lazy_backend = (out_features, bias), {"dtype": dtype}, backend

    def _infer(self, x: Tensor) -> int:
        if x.ndim < 1:
            raise ShapeError(f"LazyLinear: expected an input with at least 1 dimension, got shape {x.shape}")
        return x.shape[-1]


class _LazyConv(_LazyModule):
    dims = 2

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", *, dtype=None, backend: str | None = None) -> None:
        super().__init__()
        self.out_channels = out_channels
        self._lazy_args = (out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode)
        self._lazy_kwargs, self._lazy_backend = {"dtype": dtype}, backend

    def _template_fan_in(self) -> int:
        return self._lazy_args[5]

    def _fan_in_of(self, weight_shape: tuple) -> int:
        return weight_shape[1] * self._lazy_args[5]  # (out, in // groups, *kernel)

    def _infer(self, x: Tensor) -> int:
        if x.ndim not in (self.dims + 1, self.dims + 2):
            raise ShapeError(f"{type(self).__name__}: expected a {self.dims + 1}-D or {self.dims + 2}-D input, got "
                             f"shape {x.shape}")
        return x.shape[-self.dims - 1]


class LazyConv1d(_LazyConv):
    """``Conv1d`` whose ``in_channels`` is the channel dimension of the first input."""

    cls_to_become, dims = Conv1d, 1


class LazyConv2d(_LazyConv):
    """``Conv2d`` whose ``in_channels`` is the channel dimension of the first input."""

    cls_to_become, dims = Conv2d, 2


class LazyConv3d(_LazyConv):
    """``Conv3d`` whose ``in_channels`` is the channel dimension of the first input."""

    cls_to_become, dims = Conv3d, 3


class _LazyConvTranspose(_LazyConv):
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1,
                 bias: bool = True, dilation=1, padding_mode: str = "zeros", *, dtype=None,
                 backend: str | None = None) -> None:
        _LazyModule.__init__(self)
        if padding_mode != "zeros":  # checked now, as PyTorch's, not at the first forward
            raise ValueError(f'{type(self).__name__}: only "zeros" padding_mode is supported, got {padding_mode!r}')
        self.out_channels = out_channels
        self._lazy_args = (out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation,
                           padding_mode)
        self._lazy_kwargs, self._lazy_backend = {"dtype": dtype}, backend

    def _fan_in_of(self, weight_shape: tuple) -> int:
        return weight_shape[0]  # (in, out // groups, *kernel)


class LazyConvTranspose1d(_LazyConvTranspose):
    """``ConvTranspose1d`` whose ``in_channels`` is the channel dimension of the first input."""

    cls_to_become, dims = ConvTranspose1d, 1


class LazyConvTranspose2d(_LazyConvTranspose):
    """``ConvTranspose2d`` whose ``in_channels`` is the channel dimension of the first input."""

    cls_to_become, dims = ConvTranspose2d, 2


class LazyConvTranspose3d(_LazyConvTranspose):
    """``ConvTranspose3d`` whose ``in_channels`` is the channel dimension of the first input."""

    cls_to_become, dims = ConvTranspose3d, 3


class _LazyNorm(_LazyModule):
    """Batch and instance norm: ``num_features`` from the first input's channels. PyTorch's lazy norms default
    to ``affine=True, track_running_stats=True`` (its eager InstanceNorm to False for both)."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, *, bias: bool = True, dtype=None,
                 backend: str | None = None) -> None:
        super().__init__()
        self._lazy_args = (eps, momentum, affine, track_running_stats)
        self._lazy_kwargs, self._lazy_backend = self._norm_kwargs(bias, dtype), backend

    def _norm_kwargs(self, bias: bool, dtype) -> dict:
        return {"bias": bias, "dtype": dtype}

    def _fan_in_from(self, state_dict, prefix: str) -> int | None:
        for key in ("weight", "bias", "running_mean", "running_var"):
            value = state_dict.get(prefix + key)
            if value is not None and hasattr(value, "shape") and len(value.shape) == 1:
                return value.shape[0]
        return None

    def _infer(self, x: Tensor) -> int:
        if x.ndim not in self._ranks:
            ranks = " or ".join(f"{r}-D" for r in self._ranks)
            raise ShapeError(f"{type(self).__name__}: expected a {ranks} input, got shape {x.shape}")
        return x.shape[1] if x.ndim == self._ranks[-1] else x.shape[0]


class _LazyBatchNorm(_LazyNorm):
    def _eager(self) -> type:
        from . import batchnorm  # loaded on first use, as nn.BatchNorm1d

        return getattr(batchnorm, type(self).__name__[4:])

    def _infer(self, x: Tensor) -> int:
        if x.ndim not in self._ranks:  # batch norm takes no unbatched input
            ranks = " or ".join(f"{r}-D" for r in self._ranks)
            raise ShapeError(f"{type(self).__name__}: expected a {ranks} input, got shape {x.shape}")
        return x.shape[1]


class LazyBatchNorm1d(_LazyBatchNorm):
    """``BatchNorm1d`` whose ``num_features`` is the channel dimension of the first (N, C) or (N, C, L) input."""

    _ranks = (2, 3)


class LazyBatchNorm2d(_LazyBatchNorm):
    """``BatchNorm2d`` whose ``num_features`` is the channel dimension of the first (N, C, H, W) input."""

    _ranks = (4,)


class LazyBatchNorm3d(_LazyBatchNorm):
    """``BatchNorm3d`` whose ``num_features`` is the channel dimension of the first (N, C, D, H, W) input."""

    _ranks = (5,)


class LazyInstanceNorm1d(_LazyNorm):
    """``InstanceNorm1d`` whose ``num_features`` is the channel dimension of the first (C, L) or (N, C, L) input."""

    cls_to_become, _ranks = InstanceNorm1d, (2, 3)


class LazyInstanceNorm2d(_LazyNorm):
    """``InstanceNorm2d`` whose ``num_features`` is the channel dimension of the first 3-D or 4-D input."""

    cls_to_become, _ranks = InstanceNorm2d, (3, 4)


class LazyInstanceNorm3d(_LazyNorm):
    """``InstanceNorm3d`` whose ``num_features`` is the channel dimension of the first 4-D or 5-D input."""

    cls_to_become, _ranks = InstanceNorm3d, (4, 5)
