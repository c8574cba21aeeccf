"""PyTorch's ``torch.backends.cudnn`` / ``.cuda`` / ``.mps`` flags, which training scripts set at the top
(``torch.backends.cudnn.benchmark = True``). minigrad has no cuDNN, TF32 or MPS, so the flags are kept as set
and change nothing; the availability queries answer False.
"""

from __future__ import annotations

from types import SimpleNamespace

# Attributes as set by the user (PyTorch's defaults until then) plus the module's query functions.
cudnn = SimpleNamespace(enabled=True, benchmark=False, deterministic=False, allow_tf32=True,
                        is_available=lambda: False, version=lambda: None)
cuda = SimpleNamespace(matmul=SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                                              allow_bf16_reduced_precision_reduction=True),
                       is_built=lambda: False)
mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
