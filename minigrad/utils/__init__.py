"""PyTorch's ``torch.utils`` spelling: ``minigrad.utils.data`` is ``minigrad.data``."""


def __getattr__(name: str):
    """``minigrad.utils.data`` loads on first use, so ``torch.utils.data.DataLoader`` ports after ``import``
    alone, as in PyTorch."""
    if name == "data":
        import importlib

        return importlib.import_module(f"{__name__}.data")
    raise AttributeError(f"module 'minigrad.utils' has no attribute {name!r}")
