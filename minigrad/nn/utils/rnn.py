"""``torch.nn.utils.rnn``'s ``pad_sequence``: variable-length sequences stacked into one padded tensor."""

from __future__ import annotations

from collections.abc import Sequence

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
