"""``minigrad.data`` under PyTorch's path, so ``from torch.utils.data import DataLoader, Dataset`` ports by
renaming ``torch`` alone."""

from ..data import *  # noqa: F403 - the same names, re-exported
from ..data import __all__  # noqa: F401
