"""``torch.nn.utils.rnn``: variable-length sequences padded into one tensor (``pad_sequence``) or packed
(``PackedSequence``, ``pack_padded_sequence``, ``pad_packed_sequence``, ...), as the recurrent layers take them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ... import creation as _creation
from ... import ops as _ops
from ...errors import ShapeError
from ...tensor import Tensor


def pad_sequence(sequences: Sequence[Tensor] | Tensor, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors (L_i, *) into (L_max, B, *) (or (B, L_max, *) with ``batch_first``), each padded with
    ``padding_value`` on the right (or the left, ``padding_side="left"``); differentiable in every sequence."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: received an empty list of sequences")
    if not all(isinstance(s, Tensor) for s in sequences):
        raise TypeError("pad_sequence: every sequence must be a tensor")
    if any(s.ndim == 0 for s in sequences) or len({tuple(s.shape[1:]) for s in sequences}) != 1:
        raise ShapeError("pad_sequence: the sequences must be (L_i, *) with one trailing shape *, got shapes "
                         f"{[tuple(s.shape) for s in sequences]}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            fill = _creation.full((missing, *s.shape[1:]), padding_value, dtype=s.dtype, backend=s.backend)
            s = _ops.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return _ops.stack(padded, 0 if batch_first else 1)


# -- packed sequences ---------------------------------------------------------------------------------
class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """PyTorch's ``PackedSequence``: ``data`` holds the batch's time steps one after another, step t being the
    ``batch_sizes[t]`` sequences still running (longest first); ``sorted_indices`` (None when the batch was
    given sorted) orders the original batch by decreasing length and ``unsorted_indices`` undoes it."""

    __slots__ = ()

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None, sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes is required (build one with pack_padded_sequence or "
                            "pack_sequence)")
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices, sorted_indices.backend)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data`` moved or cast as ``Tensor.to``; the indices follow it to its backend and ``batch_sizes``
        stays on the host (as PyTorch keeps it on the CPU)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.backend))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def double(self) -> PackedSequence:
        return self.to("float64")

    def float(self) -> PackedSequence:
        return self.to("float32")

    @property
    def is_cuda(self) -> bool:
        return self.data.backend == "cupy"

    def is_pinned(self) -> bool:
        return False


def _invert(permutation: Tensor, backend: str) -> Tensor:
    order = np.asarray(permutation.numpy(), dtype=np.int64)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return _creation.as_tensor(inverse, backend=backend)


def _lengths(lengths, op: str) -> np.ndarray:
    """``lengths`` as int64 (floats truncated, as PyTorch's ``as_tensor(lengths, dtype=int64)``), 1-D."""
    values = lengths.numpy() if isinstance(lengths, Tensor) else np.asarray(list(lengths))
    if values.ndim != 1 or (values.size and values.dtype.kind not in "biuf"):
        raise RuntimeError(f"{op}: 'lengths' argument should be a 1D int64 tensor or sequence of integers, but got "
                           f"a {values.ndim}D {values.dtype.name} array of shape {values.shape}")
    return values.astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,  # noqa: A002
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) ((B, T, *) with ``batch_first``) of sequences of the given ``lengths``;
    with ``enforce_sorted=False`` the lengths may come in any order (the batch is sorted and the order kept
    in the result). Differentiable in ``input``."""
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a tensor input, got {type(input).__name__}")
    if input.ndim < 2:
        raise ShapeError(f"{op}: input must be at least 2-D (T, B, *), got shape {input.shape}")
    values = _lengths(lengths, op)
    if input.numel() == 0:
        raise RuntimeError(f"{op}: Cannot pack empty tensors (input shape {input.shape}).")
    batch_dim = 0 if batch_first else 1
    batch, steps = input.shape[batch_dim], input.shape[1 - batch_dim]
    if values.size != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {values.size} "
                           f"(batch_size={batch})")
    if enforce_sorted:
        if np.any(values[1:] > values[:-1]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = np.argsort(-values, kind="stable")
        values = values[order]
        sorted_indices = _creation.as_tensor(order.astype(np.int64), backend=input.backend)
        input = _ops.index_select(input, batch_dim, sorted_indices)
    if values.size and values.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if values.size and values.max() > steps:  # PyTorch reads past the input here and packs garbage
        raise ValueError(f"{op}: a length ({int(values.max())}) is longer than the input's {steps} time steps "
                         f"(input shape {input.shape}, batch_first={batch_first})")
    x = input.transpose(0, 1) if batch_first else input
    batch_sizes = (values[None, :] > np.arange(int(values[0]))[:, None]).sum(1)
    data = _ops.cat([x[t, :int(n)] for t, n in enumerate(batch_sizes)], 0)
    return PackedSequence(data, _creation.as_tensor(batch_sizes.astype(np.int64)), sorted_indices,
                          None if sorted_indices is None else _invert(sorted_indices, input.backend))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: the padded batch (T, B, *) ((B, T, *) with ``batch_first``; T is
    ``total_length`` when given) in the original batch order, and the lengths (int64). Differentiable."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data, sizes = sequence.data, [int(n) for n in sequence.batch_sizes.numpy()]
    batch, steps = sizes[0], len(sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
    rows, start = [], 0
    for n in sizes:
        step = data[start:start + n]
        if n < batch:
            fill = _creation.full((batch - n, *data.shape[1:]), padding_value, dtype=data.dtype,
                                  backend=data.backend)
            step = _ops.cat([step, fill], 0)
        rows.append(step)
        start += n
    if total_length is not None and total_length > steps:
        fill = _creation.full((batch, *data.shape[1:]), padding_value, dtype=data.dtype, backend=data.backend)
        rows += [fill] * (total_length - steps)
    padded = _ops.stack(rows, 0)
    lengths = (np.asarray(sizes)[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)
    if sequence.unsorted_indices is not None:
        padded = _ops.index_select(padded, 1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.numpy()]
    return (padded.transpose(0, 1) if batch_first else padded), _creation.as_tensor(lengths)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) (by decreasing length unless ``enforce_sorted=False``)."""
    sequences = list(sequences)
    lengths = [s.shape[0] if isinstance(s, Tensor) and s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list[Tensor]:
    """The sequences (L_i, *) of a padded batch (T, B, *) ((B, T, *) with ``batch_first``), as a list."""
    values = _lengths(lengths, "unpad_sequence")
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    if values.size != x.shape[0]:
        raise ShapeError(f"unpad_sequence: {values.size} lengths for a batch of {x.shape[0]} (padded shape "
                         f"{padded_sequences.shape}, batch_first={batch_first})")
    return [x[i, :int(n)] for i, n in enumerate(values)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The sequences of a PackedSequence, as a list in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
