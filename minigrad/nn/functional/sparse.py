"""Lookups: ``embedding``, ``embedding_bag`` and ``one_hot``."""

from __future__ import annotations

import math

from ... import creation as _creation
from ...errors import ShapeError
from ...ops import where as _where
from ...ops._common import constant
from ...tensor import Tensor
from ._common import _host, _public, _tensors, _value_range


@_public
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,  # noqa: A002
              max_norm: float | None = None, norm_type: float = 2.0) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at the integer indices ``input``; the row ``padding_idx`` gets
    no gradient (its value is still returned, as in PyTorch). With ``max_norm``, the looked-up rows whose
    ``norm_type`` norm exceeds it are first rescaled in place to norm ``max_norm`` (PyTorch's renorm)."""
    if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    rows = weight.shape[0]
    if input.numel():
        low, high = _value_range(input)
        if low < 0 or high >= rows:
            raise IndexError(f"embedding: index {low if low < 0 else high} is out of range for {rows} embeddings")
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    out = weight[input]
    if padding_idx is None:
        return out
    if padding_idx < 0:
        padding_idx += rows
    keep = (input != padding_idx).unsqueeze(-1)
    return _where(keep, out, out.detach())


def _renorm_rows(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:  # noqa: A002
    import numpy as np

    from ...grad_mode import no_grad

    be = input._backend
    rows = Tensor(be.from_numpy(np.unique(be.to_numpy(input.array))), be)
    with no_grad():
        selected = weight[rows]
        norms = selected.norm(norm_type, dim=1, keepdim=True)
        weight[rows] = _where(norms > max_norm, selected * (max_norm / (norms + 1e-7)), selected)


def _bags(input: Tensor, offsets: Tensor | None, include_last_offset: bool, op: str):  # noqa: A002
    """Host arrays: the flat indices and the bag of each, and the number of bags (PyTorch's layouts)."""
    import numpy as np

    indices = _host(input)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: if input is 2-D, offsets has to be None (each row is a bag), got offsets of "
                             f"shape {offsets.shape}")
        rows, width = indices.shape
        return indices.reshape(-1), np.repeat(np.arange(rows), width), rows
    if input.ndim != 1:
        raise ShapeError(f"{op}: input has to be 1-D or 2-D, got shape {input.shape}")
    if offsets is None or offsets.ndim != 1:
        raise ValueError(f"{op}: with a 1-D input, offsets has to be a 1-D tensor, got "
                         f"{None if offsets is None else offsets.shape}")
    if offsets.dtype.kind not in "iu":
        raise TypeError(f"{op}: offsets must be an integer tensor, got {offsets.dtype.name}")
    starts = _host(offsets).astype(np.int64)
    if starts.size and starts[0] != 0:
        raise ValueError(f"{op}: offsets[0] has to be 0 (the first bag starts at position 0), got {starts[0]}")
    if np.any(np.diff(starts) < 0) or (starts.size and starts[-1] > indices.size):
        raise ValueError(f"{op}: offsets must be non-decreasing and at most the input's length {indices.size}, got "
                         f"{starts.tolist()}")
    ends = np.append(starts[1:], indices.size)
    if include_last_offset:  # CSR: offsets also holds the end of the last bag, which must be the input's length
        if not starts.size or starts[-1] != indices.size:
            raise ValueError(f"{op}: with include_last_offset=True the last offset must equal the number of indices "
                             f"({indices.size}), got offsets {starts.tolist()}")
        starts, ends = starts[:-1], starts[1:]
    bag = np.full(indices.size, -1)
    covered = np.repeat(np.arange(len(starts)), ends - starts)  # bags tile positions 0 .. ends[-1]
    bag[:covered.size] = covered
    return indices, bag, len(starts)


@_public
def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,  # noqa: A002
                  max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                  mode: str = "mean", sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of the ``weight`` rows of each bag: the rows of a 2-D ``input``, or the runs of a 1-D
    ``input`` that start at ``offsets``. Entries equal to ``padding_idx`` are left out; an empty bag gives zeros;
    ``per_sample_weights`` (mode 'sum') scales each row and gets its gradient."""
    import numpy as np

    op = "embedding_bag"
    _tensors(op, input=input, weight=weight)
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{op}: scale_grad_by_freq and sparse are not supported")
    if input.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer tensor, got {input.dtype.name}")
    if weight.ndim != 2:
        raise ShapeError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"{op}: per_sample_weights is only supported for mode='sum' (got mode={mode!r})")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ShapeError(f"{op}: per_sample_weights {per_sample_weights.shape} must have the input's shape "
                             f"{input.shape}")
    rows, dim = weight.shape
    indices, bag, bags = _bags(input, offsets, include_last_offset, op)
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise IndexError(f"{op}: index {bad} is out of range for {rows} embeddings")
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(f"{op}: padding_idx {padding_idx} is out of range for {rows} embeddings")
        bag = np.where(indices == padding_idx % rows, -1, bag)
    be = weight._backend
    if max_norm is not None:
        _renorm_rows(weight, Tensor(be.from_numpy(indices[bag >= 0]), be), max_norm, norm_type)
    used = np.flatnonzero(bag >= 0)
    looked_up = weight[Tensor(be.from_numpy(indices[used]), be)]  # (entries, dim)
    counts = np.bincount(bag[used], minlength=bags)
    if mode == "max":
        width = int(counts.max()) if bags and used.size else 0
        slots = np.zeros((bags, width), np.int64)
        present = np.zeros((bags, width), bool)
        order = np.argsort(bag[used], kind="stable")
        position = np.arange(used.size) - np.repeat(np.cumsum(counts) - counts, counts)
        slots[bag[used][order], position] = order
        present[bag[used][order], position] = True
        if not width:
            return _creation.zeros((bags, dim), dtype=weight.dtype, backend=weight.backend)
        gathered = looked_up[Tensor(be.from_numpy(slots), be)]  # (bags, width, dim)
        mask = Tensor(be.from_numpy(present[:, :, None]), be)
        best = _where(mask, gathered, -math.inf).max(1).values  # a tie's gradient goes to the bag's first, as PyTorch
        return _where(Tensor(be.from_numpy(counts[:, None] > 0), be), best, 0.0)
    if per_sample_weights is not None:
        looked_up = looked_up * per_sample_weights.reshape(-1)[Tensor(be.from_numpy(used), be)].unsqueeze(1)
    target = Tensor(be.from_numpy(np.repeat(bag[used][:, None], dim, 1)), be)
    out = _creation.zeros((bags, dim), dtype=looked_up.dtype, backend=weight.backend).scatter_add(0, target,
                                                                                                  looked_up)
    if mode == "mean":
        out = out / constant(be, be.from_numpy(np.maximum(counts, 1)[:, None].astype(looked_up.dtype)))
    return out


def one_hot(input: Tensor, num_classes: int = -1) -> Tensor:  # noqa: A002 - PyTorch's name
    """int64 one-hot encoding with a new last axis of length ``num_classes``."""
    target = input
    be = target._backend
    if num_classes < 0:
        num_classes = int(be.to_numpy(be.max(target.array, None, False))) + 1
    positions = _creation.arange(num_classes, backend=target.backend)
    return (target.unsqueeze(-1) == positions).long()
