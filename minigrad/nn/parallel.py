"""``DataParallel`` on one device: minigrad runs a model on one device, so it is a wrapper that calls its module,
as PyTorch's ``DataParallel`` does on a machine without GPUs (or with one device id)."""

from __future__ import annotations

from typing import Any

from .module import Module


class DataParallel(Module):
    """Wraps ``module`` (as ``.module``: its ``state_dict`` keys start with ``module.``) and calls it on the whole
    input. More than one device in ``device_ids`` is an error: minigrad does not split batches across devices."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be an nn.Module, got {type(module).__name__}")
        ids = list(device_ids) if device_ids is not None else []
        if len(ids) > 1:
            raise ValueError(f"DataParallel: minigrad runs on one device, got device_ids={ids}; use one device (or "
                             "none)")
        self.module = module
        self.device_ids = ids
        self.output_device = output_device if output_device is not None else (ids[0] if ids else None)
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)
