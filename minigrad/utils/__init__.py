"""PyTorch's ``torch.utils`` spelling: ``minigrad.utils.data`` is ``minigrad.data``."""
