"""``default_collate`` and ``default_convert``, as ``torch.utils.data``'s: samples -> a batch of tensors.

Tensors are stacked where they live; NumPy arrays, NumPy scalars and Python numbers become tensors of the
current backend (``DataLoader`` makes its ``backend`` current while it collates).
"""

from __future__ import annotations

import collections.abc
import copy
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backends as _backends
from ..dtypes import as_dtype
from ..tensor import Tensor

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map"]

_STR_OBJ = re.compile(r"[SaUO]")
default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}")


def _tensor(array: np.ndarray, where: str) -> Tensor:
    try:
        as_dtype(array.dtype)
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None
    be = _backends.current()
    return Tensor(be.from_numpy(array if array.flags.c_contiguous else np.ascontiguousarray(array)), be)


def collate_tensor_fn(batch, *, collate_fn_map=None) -> Tensor:
    from ..ops import PUBLIC

    shapes = {tuple(t.shape) for t in batch}
    if len(shapes) > 1:
        first = tuple(batch[0].shape)
        k, other = next((k, tuple(t.shape)) for k, t in enumerate(batch) if tuple(t.shape) != first)
        raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got {first} at "
                           f"entry 0 and {other} at entry {k}")
    return PUBLIC["stack"](list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None) -> Tensor:
    elem = batch[0]
    if _STR_OBJ.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    first = elem.shape
    for k, a in enumerate(batch):
        if a.shape != first:
            raise RuntimeError(f"default_collate: stack expects each array to be equal size, but got {first} at "
                               f"entry 0 and {a.shape} at entry {k}: they cannot be stacked into a batch")
    return _tensor(np.stack(batch), "default_collate")


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None) -> Tensor:
    return _tensor(np.asarray(batch), "default_collate")


def collate_float_fn(batch, *, collate_fn_map=None) -> Tensor:
    return _tensor(np.asarray(batch, dtype=np.float64), "default_collate")


def collate_int_fn(batch, *, collate_fn_map=None) -> Tensor:
    return _tensor(np.asarray(batch), "default_collate")  # ints give int64, bools give bool


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map: dict[type | tuple[type, ...], Callable] = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch, *, collate_fn_map: dict | None = None):
    """Collate ``batch`` (a list of samples) by the type of its first element, recursing into mappings,
    namedtuples and sequences; ``collate_fn_map`` maps element types to collate functions."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        values = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(values)
                return clone
            return elem_type(values)
        except TypeError:
            return values
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        columns = [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
        if isinstance(elem, tuple):
            return columns  # a list, as PyTorch
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, column in enumerate(columns):
                    clone[i] = column
                return clone
            return elem_type(columns)
        except TypeError:
            return columns
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def default_collate(batch: list) -> Any:
    """PyTorch's default collation: tensors and NumPy arrays are stacked along a new first axis; Python floats
    give a float64 tensor, ints int64, bools bool; NumPy scalars keep their dtype; strings and bytes stay a
    list; dicts, namedtuples, tuples (which give lists) and lists are collated field by field."""
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data: Any) -> Any:
    """What ``DataLoader`` does to each sample when it does not batch (``batch_size=None``): NumPy arrays and
    scalars become tensors, recursively inside mappings, namedtuples and sequences; all else is unchanged."""
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_", "bytes_"):
        if isinstance(data, np.ndarray) and _STR_OBJ.search(data.dtype.str) is not None:
            return data
        return _tensor(np.asarray(data), "default_convert")
    if isinstance(data, collections.abc.Mapping):
        values = {key: default_convert(data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(values)
                return clone
            return elem_type(values)
        except TypeError:
            return values
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(converted):
                    clone[i] = d
                return clone
            return elem_type(converted)
        except TypeError:
            return converted
    return data
