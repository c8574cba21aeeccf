"""Datasets as ``torch.utils.data`` has them: ``Dataset``, ``IterableDataset``, ``TensorDataset``, ``Subset``,
``ConcatDataset``, ``ChainDataset``, ``StackDataset`` and ``random_split``."""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from ..dtypes import as_dtype
from ..generator import Generator, _resolve
from ..tensor import Tensor, _host_array

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
           "StackDataset", "random_split"]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """A map from keys (usually ints) to samples: subclasses define ``__getitem__`` and usually ``__len__``."""

    def __getitem__(self, index) -> T_co:
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co], Iterable[T_co]):
    """A stream of samples: subclasses define ``__iter__``."""

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other: Dataset[T_co]) -> ChainDataset:
        return ChainDataset([self, other])


def _to_host(value: Any) -> np.ndarray:
    """A NumPy array for a tensor, an array, a number or nested lists (Python floats give float32, as in
    ``minigrad.tensor``)."""
    if isinstance(value, Tensor):
        return value.numpy()
    return _host_array(value)


class TensorDataset(Dataset[tuple]):
    """Tensors (or arrays) of equal length indexed together: ``ds[i]`` is ``(a[i], b[i], ...)``, as tensors.

    ``arrays`` are host arrays (views of host tensors), which ``DataLoader`` gathers whole batches from with one
    NumPy indexing each; tensors in device memory are not copied to the host unless ``arrays`` is read.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        host: list[np.ndarray | None] = []
        lengths = []
        for i, a in enumerate(tensors):
            on_device = isinstance(a, Tensor) and a.device.type != "cpu"
            try:
                array = None if on_device else _to_host(a)
                as_dtype(a.dtype if on_device else array.dtype)
            except TypeError as exc:
                raise TypeError(f"TensorDataset: array {i}: {exc}") from None
            shape = tuple(a.shape) if on_device else array.shape
            if not shape:
                raise ValueError(f"TensorDataset: array {i} is 0-d; every array needs a leading sample axis")
            host.append(array)
            lengths.append(shape[0])
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: the arrays have different lengths {lengths}; they must match "
                             "(Size mismatch between tensors)")
        self._length = lengths[0]
        self._host = host
        # Tensors given are kept as they are; arrays become tensors (on the current backend) when first used.
        self._given = tensors
        self._tensors: tuple[Tensor, ...] | None = None

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        """Host arrays of the data (device tensors are copied, as they are now)."""
        return tuple(_to_host(t) if a is None else a for t, a in zip(self._given, self._host))

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        if self._tensors is None:
            from ..creation import tensor

            self._tensors = tuple(t if isinstance(t, Tensor) else tensor(a)
                                  for t, a in zip(self._given, self.arrays))
        return self._tensors

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``: ``subset[i]`` is ``dataset[indices[i]]``."""

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        if type(self).__getitem__ is not Subset.__getitem__ and type(self).__getitems__ is Subset.__getitems__:
            raise NotImplementedError(
                f"{type(self).__name__} overrides __getitem__ but not __getitems__. When subclassing Subset and "
                "overriding __getitem__, you must also override __getitems__ (DataLoader fetches batches with it):"
                "\n\ndef __getitems__(self, indices):\n    return [self.__getitem__(idx) for idx in indices]")

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list:
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """Map-style datasets one after the other; ``cumulative_sizes[k]`` is the length of the first k + 1."""

    @staticmethod
    def cumsum(sequence: Iterable) -> list[int]:
        return list(itertools.accumulate(len(e) for e in sequence))

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        dataset_idx = bisect.bisect_right(self.cumulative_sizes, idx)
        sample_idx = idx if dataset_idx == 0 else idx - self.cumulative_sizes[dataset_idx - 1]
        return self.datasets[dataset_idx][sample_idx]


class ChainDataset(IterableDataset):
    """Iterable-style datasets one after the other, chained as they are iterated."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class StackDataset(Dataset):
    """Datasets of equal length side by side: ``StackDataset(a, b)[i]`` is ``(a[i], b[i])``;
    ``StackDataset(x=a, y=b)[i]`` is ``{"x": a[i], "y": b[i]}``."""

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or ``dict``- (via ``kwargs``) like "
                             "input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        parts = list(args) if args else list(kwargs.values())
        self._length = len(parts[0])
        if any(self._length != len(d) for d in parts):
            raise ValueError("Size mismatch between datasets")
        self.datasets: tuple | dict = args if args else kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator: Generator | None = None
                 ) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths, or of fractions that sum
    to 1 (``floor(frac * n)`` each, the remainder handed out one by one from the first split on).

    Without ``generator`` the permutation comes from minigrad's global generator (``minigrad.manual_seed``).
    """
    lengths = list(lengths)
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              stacklevel=2)
        lengths = sizes
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"random_split: lengths must be ints >= 0 or fractions summing to 1; got {length!r} "
                             f"at index {i}")
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths does not equal the length of the input dataset! ({sum(lengths)} "
                         f"!= {n})")
    indices = _resolve(generator, "random_split").permutation(n).tolist()
    return [Subset(dataset, indices[offset - length:offset])
            for offset, length in zip(itertools.accumulate(lengths), lengths)]
