"""The same values as a minigrad and as a PyTorch tensor, for the tests that compare the two libraries."""

from __future__ import annotations

import numpy as np
from _lazy_torch import torch

import minigrad as mg


def mg_tensor(array, requires_grad=False, dtype="float64"):
    return mg.tensor(np.array(array, dtype=dtype), requires_grad=requires_grad)


def pt_tensor(array, requires_grad=False, dtype="float64"):
    return torch.tensor(np.array(array, dtype=dtype), requires_grad=requires_grad)
