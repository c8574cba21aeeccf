"""PyTorch's ``torch.nn.utils.stateless.functional_call`` (deprecated there for ``torch.func.functional_call``,
the same function here)."""

from ...func import functional_call

__all__ = ["functional_call"]
