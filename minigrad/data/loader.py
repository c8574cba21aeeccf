"""Mini-batches: ``TensorDataset`` and ``DataLoader``.

Batches are assembled on the host with NumPy (one fancy-indexing gather per array for array datasets) and
turned into tensors of the loader's backend once per batch.

Shuffling: with ``seed=s`` the loader owns a ``numpy.random.Generator(s)``; each pass draws the next
permutation from it, so two loaders built with the same seed yield the same sequence of epochs. With
``seed=None`` each pass asks the target backend's generator (``backend.permutation(n)``), which
``minigrad.manual_seed`` seeds: a whole training run, initialisation and data order alike, is then
reproducible on a given backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import backends as _backends
from ..dtypes import as_dtype
from ..tensor import Tensor, _host_array

__all__ = ["DataLoader", "TensorDataset"]


def _to_host(value: Any) -> np.ndarray:
    """A NumPy array for a tensor, an array, a number or nested lists (Python floats give float32, as in
    ``minigrad.tensor``)."""
    if isinstance(value, Tensor):
        return value.numpy()
    return _host_array(value)


class TensorDataset:
    """Arrays or tensors of equal length indexed together: ``ds[i]`` is ``(a[i], b[i], ...)``."""

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        host = []
        for i, a in enumerate(arrays):
            try:
                array = _to_host(a)
                as_dtype(array.dtype)
            except TypeError as exc:
                raise TypeError(f"TensorDataset: array {i}: {exc}") from None
            if array.ndim == 0:
                raise ValueError(f"TensorDataset: array {i} is 0-d; every array needs a leading sample axis")
            host.append(array)
        lengths = [len(a) for a in host]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: the arrays have different lengths {lengths}; they must match")
        self.arrays: tuple[np.ndarray, ...] = tuple(host)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)


class DataLoader:
    """Iterate over a dataset in mini-batches, each a tuple of tensors.

    ``dataset`` is a tuple ``(X, y, ...)`` of arrays, tensors or lists (wrapped in a ``TensorDataset``), a
    ``TensorDataset``, or any object with ``__len__`` and ``__getitem__(int)``. Items of a generic dataset
    are tuples/lists (one tensor per field in each batch) or single values (a 1-tuple per batch); fields
    are stacked with NumPy. ``backend`` names the backend of the batches (default: the current backend when
    a pass starts).
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, backend: str | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if isinstance(dataset, tuple):  # always columns (X, y, ...), never a tuple of samples
            dataset = TensorDataset(*dataset)
        elif not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: expected a tuple (X, y) of arrays/tensors or an object with __len__ and "
                f"__getitem__, got {type(dataset).__name__}")
        if backend is not None:
            _backends.load(backend)  # fail now, with the backend's own reason, not at the first batch
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.backend = backend
        self._generator = np.random.default_rng(seed) if seed is not None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self, n: int, target) -> np.ndarray | None:
        if not self.shuffle:
            return None
        if self._generator is not None:
            return self._generator.permutation(n)
        return np.asarray(target.to_numpy(target.permutation(n)), dtype=np.int64)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        target = _backends.resolve(self.backend)
        n = len(self.dataset)
        order = self._order(n, target)  # drawn now, so the permutation does not depend on consumption
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, n)
            index = slice(start, end) if order is None else order[start:end]
            if isinstance(self.dataset, TensorDataset):
                # Fancy indexing copies; a slice is a view, and from_numpy copies it, so batches never
                # alias the dataset's memory.
                fields = [a[index] for a in self.dataset.arrays]
            else:
                fields = _collate([self.dataset[int(i)] for i in _indices(index)])
            yield tuple(Tensor(target.from_numpy(f), target) for f in fields)


def _indices(index: slice | np.ndarray) -> Sequence[int]:
    return range(index.start, index.stop) if isinstance(index, slice) else index


def _collate(items: list[Any]) -> list[np.ndarray]:
    """Stack a batch of items field by field."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        width = len(first)
        if any(not isinstance(it, (tuple, list)) or len(it) != width for it in items):
            raise ValueError("DataLoader: dataset items must all be tuples of the same length")
        columns = [[it[k] for it in items] for k in range(width)]
    else:
        columns = [items]
    out = []
    for k, column in enumerate(columns):
        try:
            array = np.stack([_to_host(v) for v in column])
        except ValueError as exc:
            raise ValueError(f"DataLoader: field {k} of the dataset items cannot be stacked into a batch "
                             f"({exc})") from None
        try:
            as_dtype(array.dtype)
        except TypeError as exc:
            raise TypeError(f"DataLoader: field {k}: {exc}") from None
        out.append(array)
    return out
