"""The safetensors format: weights exchanged with PyTorch (``safetensors.torch``) and the Hugging Face hub.

``save_file``/``load_file`` (and ``save``/``load`` on bytes) mirror ``safetensors.torch``'s functions, so a
checkpoint written in PyTorch with ``save_file(model.state_dict(), path)`` loads into the same architecture
built with minigrad (``model.load_state_dict(load_file(path))``: the parameter names are PyTorch's), and back.

The format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each tensor's name to its
``dtype`` ("F32", "I64", ...), ``shape`` and ``data_offsets`` [begin, end) within the byte buffer that follows
(an optional ``"__metadata__"`` maps strings to strings), then that buffer of little-endian, C-ordered data.
Loading checks everything before it allocates (the header's size and JSON, each entry's keys, dtype, shape and
offsets, that the offsets tile the buffer exactly, as the reference implementation requires); nothing in a file
is ever executed. F16 and BF16 tensors (minigrad has no half types) load as float32, exactly; other dtypes
outside minigrad's raise ``SerializationError``.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Mapping

import numpy as np

from . import backends as _backends
from .errors import SerializationError
from .serialization import _reject_constant
from .tensor import Tensor

__all__ = ["save_file", "load_file", "save", "load", "SerializationError"]

MAX_HEADER_BYTES = 100_000_000  # the reference implementation's limit
# safetensors dtype -> the NumPy dtype of the stored bytes (little-endian)
_STORED = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U8": "u1", "BOOL": "?"}
_NAME_OF = {"float64": "F64", "float32": "F32", "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8",
            "uint8": "U8", "bool": "BOOL"}


# -- save -----------------------------------------------------------------------------------------
def save(tensors: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """The safetensors bytes of ``tensors`` (a dict of name -> tensor), with optional string ``metadata``."""
    if not isinstance(tensors, Mapping):
        raise TypeError(f"safetensors.save: expected a dict of tensors, got {type(tensors).__name__}")
    arrays = {}
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"safetensors.save: names must be strings, got {name!r}")
        array = t.numpy() if isinstance(t, Tensor) else np.asarray(t) if isinstance(t, np.ndarray) else None
        if array is None:
            raise TypeError(f"safetensors.save: {name!r} is a {type(t).__name__}, not a tensor")
        if array.dtype.name not in _NAME_OF:
            raise SerializationError(f"safetensors.save: {name!r} has dtype {array.dtype}, which safetensors "
                                     f"cannot hold here; supported: {', '.join(sorted(_NAME_OF))}")
        # (np.ascontiguousarray would make a 0-d array 1-d)
        arrays[name] = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
    header: dict = {}
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in metadata.items()):
            raise TypeError("safetensors.save: metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    # Largest items first, then by name (the reference writer's order), so every tensor stays aligned.
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    offset = 0
    for name in order:
        a = arrays[name]
        header[name] = {"dtype": _NAME_OF[a.dtype.name], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the buffer starts 8-byte aligned
    return b"".join([struct.pack("<Q", len(text)), text] + [arrays[name].tobytes() for name in order])


def save_file(tensors: Mapping[str, Tensor], filename, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``tensors`` to ``filename`` in the safetensors format (``safetensors.torch.save_file``)."""
    data = save(tensors, metadata)
    with open(os.fspath(filename), "wb") as f:
        f.write(data)


# -- load -----------------------------------------------------------------------------------------
def load(data: bytes, backend: str | None = None) -> dict[str, Tensor]:
    """The tensors in safetensors ``data`` (bytes), on ``backend`` (default: the current one)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"safetensors.load: expected bytes, got {type(data).__name__}")
    return _parse(memoryview(data), "<bytes>", backend)


def load_file(filename, device: str = "cpu", *, backend: str | None = None) -> dict[str, Tensor]:
    """The tensors in the safetensors file ``filename`` (``safetensors.torch.load_file``), on ``device`` ("cpu":
    the current CPU backend; "cuda": CuPy) or on ``backend`` by name."""
    if backend is None:
        from .devices import backend_for

        backend = backend_for(device, "safetensors.load_file")
    with open(os.fspath(filename), "rb") as f:
        data = f.read()
    return _parse(memoryview(data), os.fspath(filename), backend)


def _parse(data: memoryview, name: str, backend: str | None) -> dict[str, Tensor]:
    def bad(message: str) -> SerializationError:
        return SerializationError(f"safetensors: {name}: {message}")

    if len(data) < 8:
        raise bad(f"{len(data)} bytes is too short for a safetensors file (an 8-byte header length comes first)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES or n > len(data) - 8:
        raise bad(f"the header claims {n} bytes; the file has {len(data) - 8} after the length (limit "
                  f"{MAX_HEADER_BYTES})")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"), object_pairs_hook=_unique_keys,
                            parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"the header is not valid JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise bad(f"the header must be a JSON object, got {type(header).__name__}")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict)
                                     and all(isinstance(v, str) for v in metadata.values())):
        raise bad("__metadata__ must map strings to strings")
    buffer = data[8 + n:]
    entries = []
    for key, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"entry {key!r} must have exactly dtype, shape and data_offsets")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _STORED:
            raise bad(f"entry {key!r} has dtype {dtype!r}; minigrad reads {', '.join(sorted(_STORED))}")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise bad(f"entry {key!r} has an invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= len(buffer)):
            raise bad(f"entry {key!r} has data_offsets {offsets!r} outside the {len(buffer)}-byte buffer")
        stored = np.dtype(_STORED[dtype])
        if offsets[1] - offsets[0] != math.prod(shape) * stored.itemsize:
            raise bad(f"entry {key!r}: shape {shape} of {dtype} needs {math.prod(shape) * stored.itemsize} bytes, "
                      f"its offsets span {offsets[1] - offsets[0]}")
        entries.append((offsets[0], offsets[1], key, dtype, shape, stored))
    entries.sort()
    end = 0
    for begin, stop, key, *_ in entries:  # the reference implementation's rule: the entries tile the buffer
        if begin != end:
            raise bad(f"entry {key!r} starts at {begin}, where the previous one ends at {end} (overlap or gap)")
        end = stop
    if end != len(buffer):
        raise bad(f"the entries cover {end} bytes of a {len(buffer)}-byte buffer")
    target = _backends.resolve(backend)
    out: dict[str, Tensor] = {}
    for begin, stop, key, dtype, shape, stored in sorted(entries, key=lambda e: list(header).index(e[2])):
        array = np.frombuffer(buffer[begin:stop], dtype=stored).reshape(shape)
        if dtype == "BF16":  # the upper half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        elif dtype == "F16":
            array = array.astype(np.float32)
        else:
            array = array.astype(stored.newbyteorder("="), copy=True)  # own, writable memory
        out[key] = Tensor(target.from_numpy(array), target)
    return out


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate keys in the header")
    return dict(pairs)
