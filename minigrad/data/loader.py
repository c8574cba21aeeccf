"""``DataLoader`` with PyTorch's signature and semantics, in one process.

Map-style datasets are read through a sampler (``SequentialSampler``, ``RandomSampler`` or the user's) and,
when batching, a ``BatchSampler``; iterable-style datasets are read in order. Batches are collated by
``collate_fn`` (``default_collate``) with the loader's backend current, so new tensors land there.

Fast path: a ``TensorDataset``, or ``Subset``s of one, with the default collation is gathered with one
NumPy fancy-indexing per array and batch instead of item by item; the result is the same.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from .. import backends as _backends
from ..generator import Generator
from ..tensor import Tensor
from .collate import default_collate, default_convert
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "TensorDataset", "get_worker_info"]

_warned_workers = False


def get_worker_info() -> None:
    """Always ``None``: minigrad loads data in the main process (as PyTorch outside a worker)."""
    return None


class _InfiniteConstantSampler(Sampler):
    """The sampler of an iterable-style dataset: ``None`` forever (the dataset decides what comes)."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


class DataLoader:
    """Iterate over a dataset in mini-batches, as ``torch.utils.data.DataLoader``.

    ``dataset`` is a map-style dataset (``__getitem__``, and ``__len__`` for the default samplers), an
    ``IterableDataset``, or, as a minigrad shorthand, a tuple ``(X, y, ...)`` of arrays/tensors (a
    ``TensorDataset``). ``num_workers > 0`` runs in this process (with a one-time warning). minigrad's own
    keyword arguments: ``seed`` (shuffle with a loader-owned ``Generator().manual_seed(seed)``) and
    ``backend`` (where new batch tensors go; default: for a ``TensorDataset`` of tensors of one backend, that
    backend, else the current backend when a pass starts).
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable | None = None,
                 multiprocessing_context: Any = None, generator: Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True, seed: int | None = None, backend: str | None = None) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and timeout != 0:
            raise ValueError(f"DataLoader: timeout={timeout} applies to worker processes only; with num_workers=0 "
                             "it must be 0 (PyTorch fails on iteration)")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give seed (minigrad's shorthand) or generator, not both")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(f"DataLoader: generator must be a minigrad.Generator or None, got "
                            f"{type(generator).__name__}")
        if isinstance(dataset, tuple):  # minigrad's shorthand: always columns (X, y, ...), never samples
            dataset = TensorDataset(*dataset)
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: expected a map-style dataset (__getitem__, and __len__ for the default samplers), "
                f"an IterableDataset, or a tuple (X, y) of arrays/tensors; got {type(dataset).__name__}")
        if backend is not None:
            _backends.load(backend)  # fail now, with the backend's own reason, not at the first batch
        if iterable:
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                                 f"got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                                 "drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if seed is not None:
            generator = Generator().manual_seed(seed)
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        if num_workers > 0:
            global _warned_workers
            if not _warned_workers:
                _warned_workers = True
                warnings.warn(
                    f"DataLoader: num_workers={num_workers}: minigrad has no worker processes; batches are loaded in "
                    "this process, as with num_workers=0 (worker_init_fn is not called, timeout and "
                    "prefetch_factor have no effect, get_worker_info() returns None)", UserWarning, stacklevel=2)
        self._iterable = iterable
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory  # no pinned host memory here: it has no effect
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.seed = seed
        self.backend = backend
        self._initialized = True

    def __setattr__(self, attr: str, val: Any) -> None:
        if getattr(self, "_initialized", False) and attr in (
                "batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._iterable:
            length = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else -(-length // self.batch_size)
            return length
        return len(self._index_sampler)

    def __iter__(self) -> Iterator[Any]:
        name = self.backend if self.backend is not None else _backends.get_backend()
        if self._iterable:
            return self._iter_iterable(name)
        fast = self._fast_source() if self._auto_collation and self.collate_fn is default_collate else None
        if fast is not None:
            arrays, index_map, home, on_device = fast
            return self._iter_fast(self.backend or home or name, arrays, index_map, on_device)
        return self._iter_map(name)

    def _collate(self, name: str, fetch: Callable[[], Any]) -> Any:
        with _backends.use(name):  # entered and left per batch: a context must not span a yield
            return self.collate_fn(fetch())

    def _iter_map(self, name: str) -> Iterator[Any]:
        dataset = self.dataset
        if not self._auto_collation:
            for index in self.sampler:
                yield self._collate(name, lambda index=index: dataset[index])
            return
        getitems = getattr(dataset, "__getitems__", None)
        for indices in self.batch_sampler:
            if callable(getitems):
                yield self._collate(name, lambda indices=indices: getitems(indices))
            else:
                yield self._collate(name, lambda indices=indices: [dataset[i] for i in indices])

    def _iter_iterable(self, name: str) -> Iterator[Any]:
        it = iter(self.dataset)
        if not self._auto_collation:
            for item in it:
                yield self._collate(name, lambda item=item: item)
            return
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self._collate(name, lambda batch=batch: batch)

    def _fast_source(self):
        """``(arrays, index_map, home, on_device)`` for the ``TensorDataset`` under ``Subset``s: its host arrays,
        the index map through the subsets, the backend of its tensors if they were given as tensors of one
        backend (``default_collate`` would stack them there, so batches go there, as PyTorch's stay on the
        data's device), and those tensors if they live in device memory (then batches are gathered there: the
        host copies could be stale). ``None`` where a gather would not give what ``default_collate`` does."""
        dataset, index_map = self.dataset, None
        while type(dataset) is Subset:
            indices = dataset.indices
            indices = indices.numpy() if isinstance(indices, Tensor) else np.asarray(indices, dtype=np.int64)
            indices = indices.astype(np.int64).reshape(-1)
            index_map = indices if index_map is None else indices[index_map]
            dataset = dataset.dataset
        if type(dataset) is not TensorDataset:
            return None
        given = dataset._given
        if any(isinstance(t, Tensor) and t.requires_grad for t in given):
            return None  # stacking items keeps their graph; a gather would not
        homes = {t.backend if isinstance(t, Tensor) else None for t in given}
        home = homes.pop() if len(homes) == 1 else None
        on_device = [isinstance(t, Tensor) and t.device.type != "cpu" for t in given]
        if any(on_device) and not (all(on_device) and home is not None):
            return None  # device tensors mixed with host data: item by item
        if any(on_device):
            return None, index_map, home, given
        return dataset.arrays, index_map, home, None

    def _iter_fast(self, name: str, arrays: tuple[np.ndarray, ...] | None, index_map: np.ndarray | None,
                   on_device: tuple[Tensor, ...] | None) -> Iterator[list[Tensor]]:
        target = _backends.load(name)
        n = len(arrays[0]) if on_device is None else on_device[0].shape[0]
        for indices in self.batch_sampler:
            index = np.asarray(indices, dtype=np.int64)
            if index_map is not None:
                index = index_map[index]
            if on_device is None:
                # Fancy indexing copies and from_numpy copies, so batches never alias the dataset's memory.
                yield [Tensor(target.from_numpy(a[index]), target) for a in arrays]
                continue
            if index.size and (index.min() < -n or index.max() >= n):
                bad = int(index.min() if index.min() < -n else index.max())
                raise IndexError(f"DataLoader: index {bad} is out of bounds for a TensorDataset of {n} samples")
            home = on_device[0]._backend
            where = Tensor(home.from_numpy(np.where(index < 0, index + n, index)), home)
            batch = [t[where] for t in on_device]
            yield batch if home is target else [b.to(name) for b in batch]
