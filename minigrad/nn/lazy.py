"""LazyLinear, LazyConv1d and LazyConv2d: ``in_features`` / ``in_channels`` inferred from the first input.

Until the first forward the module has no parameters (``parameters()`` is empty); that call creates them with
the eager module's initialisation and the module becomes that eager class (``Linear``, ``Conv1d``, ``Conv2d``),
as PyTorch's ``cls_to_become``. So, as PyTorch documents, run one forward ("dry run") before building the
optimizer, and before ``load_state_dict`` on a model that holds it (a lazy module loaded directly takes its
shape from the checkpoint's ``weight``).
"""

from __future__ import annotations

from ..errors import ShapeError
from ..tensor import Tensor
from .layers import Conv1d, Conv2d, Linear
from .module import Module


class _LazyModule(Module):
    cls_to_become: type = Module

    def has_uninitialized_params(self) -> bool:
        return True

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
        return type(self).cls_to_become(fan_in, *self._lazy_args, **self._lazy_kwargs, backend=backend)

    def _adopt(self, built: Module) -> None:
        """Become ``built`` (its attributes and parameters), keeping this module's hooks and training flag."""
        eager = type(built)
        internal = set(vars(Module()))  # hooks, registries, ``training``: this module's own are kept
        state = {k: v for k, v in vars(built).items() if k not in internal}
        self.__dict__.update(state)
        for name, param in built._parameters.items():
            self.register_parameter(name, param)
        del self._lazy_args, self._lazy_kwargs, self._lazy_backend
        self.__class__ = eager

    def _fan_in_of(self, weight_shape: tuple) -> int:
        return weight_shape[1]

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Loaded directly, an uninitialised lazy module takes its shape from the checkpoint's ``weight`` (as
        PyTorch's), then loads it. Inside a parent it has no parameters yet: run a forward (a dry run) first."""
        weight = state_dict.get("weight") if hasattr(state_dict, "get") else None
        if weight is None or not hasattr(weight, "shape") or len(weight.shape) < 2:
            raise RuntimeError(f"{type(self).__name__}: its parameters do not exist yet; run one forward (a dry "
                               "run) before load_state_dict, or load a state dict that holds its 'weight'")
        built = self._build(self._fan_in_of(tuple(weight.shape)), self._lazy_backend)
        result = built.load_state_dict(state_dict, strict, assign)  # checked there: nothing changes on error
        self._adopt(built)
        return result


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
