"""PyTorch's ``torch.nn.modules.upsampling`` import path: minigrad's own classes, not copies."""

from ..spatial import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]
