"""``minigrad.save`` / ``minigrad.load``: state dicts in a ``.npz`` archive, never pickle.

The archive is an ordinary NumPy ``.npz`` (a zip of ``.npy`` members) holding one member per array,
``a0.npy``, ``a1.npy``, ..., and ``__manifest__.npy``: UTF-8 JSON (as a uint8 array) that describes the
nesting of dicts, lists and tuples, their keys, and each leaf's kind, dtype and shape. Python numbers,
bools, strings and ``None`` live in the manifest itself; floats as ``float.hex`` so that they round-trip
exactly.

Loading trusts nothing in the file. It never calls ``np.load`` or unpickles: it reads the zip directory,
parses each ``.npy`` header with NumPy's header parser (a literal parser, no code runs), checks the dtype
against a whitelist and the shape and size against the manifest and the member's size *before* allocating,
then reads exactly that many bytes. Anything unexpected raises ``SerializationError``.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import tempfile
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from . import backends as _backends
from .dtypes import SUPPORTED as _TENSOR_DTYPES
from .errors import SerializationError
from .tensor import Tensor

__all__ = ["save", "load", "SerializationError"]

FORMAT = "minigrad.state"
VERSION = 1
MANIFEST = "__manifest__"
DEFAULT_MAX_BYTES = 1 << 34  # 16 GiB: the most array data load() accepts unless told otherwise
_MAX_MANIFEST_BYTES = 64 << 20
_MAX_DEPTH = 100
_MAX_DEFLATE_RATIO = 1032  # the most a deflate stream can expand
_MEMBER = re.compile(r"a(0|[1-9][0-9]{0,8})\.npy")
# Plain numeric dtypes only: no objects, strings, structured records, datetimes or void.
_ARRAY_DTYPES = {np.dtype(n).name: np.dtype(n) for n in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64",
)}
_TENSOR_DTYPE_NAMES = {d.name for d in _TENSOR_DTYPES.values()}

PathOrFile = str | os.PathLike | IO[bytes]


# -- save -----------------------------------------------------------------------------------------
def save(obj: Any, path: PathOrFile) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of tensors, arrays, numbers, bools, strings, ``None``).

    ``path`` is a file name (written atomically: a temporary file in the same directory, then a rename;
    no ``.npz`` suffix is added) or a binary file object. Dict keys must be strings or ints.
    """
    arrays: dict[str, np.ndarray] = {}
    root = _encode(obj, arrays, "obj", set(), 0)
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "root": root}, allow_nan=False)
    arrays[MANIFEST] = np.frombuffer(manifest.encode("utf-8"), dtype=np.uint8)
    if hasattr(path, "write"):
        np.savez(path, **arrays)
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".minigrad-save-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str, active: set[int], depth: int) -> dict:
    if depth > _MAX_DEPTH:
        raise SerializationError(f"save: {where} is nested more than {_MAX_DEPTH} levels deep")
    if obj is None:
        return {"t": "none"}
    if isinstance(obj, (np.ndarray, np.generic)) and not isinstance(obj, np.str_):
        # Before the Python scalars: np.float64 is a float subclass, and must come back as np.float64.
        array = np.asarray(obj)
        _check_dtype(array.dtype, _ARRAY_DTYPES, f"save: array {where}")
        return _add_array(arrays, array, {"t": "ndarray" if isinstance(obj, np.ndarray) else "npscalar"})
    if isinstance(obj, bool):
        return {"t": "bool", "v": obj}
    if isinstance(obj, int):
        return {"t": "int", "v": int(obj)}
    if isinstance(obj, float):
        return {"t": "float", "v": float(obj).hex()}
    if isinstance(obj, str):
        return {"t": "str", "v": str(obj)}
    if isinstance(obj, Tensor):
        array = obj.numpy()
        _check_dtype(array.dtype, _TENSOR_DTYPE_NAMES, f"save: tensor {where}")
        return _add_array(arrays, array, {"t": "tensor", "requires_grad": bool(obj.requires_grad)})
    if isinstance(obj, (Mapping, list, tuple)):
        if id(obj) in active:
            raise SerializationError(f"save: {where} contains itself")
        active.add(id(obj))
        try:
            if isinstance(obj, Mapping):
                keys = list(obj.keys())
                for k in keys:
                    if isinstance(k, bool) or not isinstance(k, (str, int)):
                        raise SerializationError(
                            f"save: {where} has a key {k!r} of type {type(k).__name__}; keys must be "
                            "str or int")
                values = [_encode(obj[k], arrays, f"{where}[{k!r}]", active, depth + 1) for k in keys]
                kind = "odict" if isinstance(obj, OrderedDict) else "dict"
                return {"t": kind, "keys": keys, "values": values}
            items = [_encode(v, arrays, f"{where}[{i}]", active, depth + 1) for i, v in enumerate(obj)]
            return {"t": "tuple" if isinstance(obj, tuple) else "list", "items": items}
        finally:
            active.discard(id(obj))
    raise SerializationError(
        f"save: {where} is a {type(obj).__name__}; only tensors, numpy arrays, numbers, bools, strings, None "
        "and dicts/lists/tuples of them can be saved (minigrad never pickles)")


def _add_array(arrays: dict[str, np.ndarray], array: np.ndarray, node: dict) -> dict:
    name = f"a{len(arrays)}"
    arrays[name] = array
    node.update(a=name, dtype=array.dtype.name, shape=list(array.shape))
    return node


def _check_dtype(dtype: np.dtype, allowed, what: str) -> None:
    if dtype.fields is not None or dtype.subdtype is not None or dtype.name not in allowed:
        raise SerializationError(
            f"{what} has dtype {dtype}, which minigrad does not store; supported: {', '.join(sorted(allowed))}")


# -- load -----------------------------------------------------------------------------------------
def load(path: PathOrFile, backend: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Read what ``save`` wrote. Tensors go to ``backend`` (default: the current backend).

    Numbers, arrays and tensors come back bit for bit; dicts keep their key order. A file that is not a
    well-formed minigrad archive (not a zip, truncated, corrupt, pickled data, object or unsupported dtypes,
    a manifest that disagrees with the arrays, more than ``max_bytes`` of array data) raises
    ``SerializationError``; nothing in the file is ever executed.
    """
    target = _backends.resolve(backend)
    own = not hasattr(path, "read")
    f = open(os.fspath(path), "rb") if own else path  # closed in the finally below
    name = os.fspath(path) if own else getattr(path, "name", "<file object>")
    try:
        return _load(f, name, target, max_bytes)
    except SerializationError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, TypeError,
            KeyError, IndexError, struct.error, NotImplementedError, RuntimeError, OverflowError) as exc:
        raise SerializationError(f"load: {name} is not a valid minigrad archive: {exc}") from exc
    finally:
        if own:
            f.close()


def _load(f: IO[bytes], name: str, target, max_bytes: int) -> Any:
    def bad(message: str) -> SerializationError:
        return SerializationError(f"load: {name}: {message}")

    head = f.read(4)
    archive_size = f.seek(0, os.SEEK_END)
    f.seek(0)
    if head[:1] == b"\x80":
        raise bad("this is pickled data (pickle, or torch.save's legacy format), not a file written by "
                  "minigrad.save; minigrad never unpickles. Convert it where it was made: save the arrays with "
                  "numpy.savez, then use minigrad.from_numpy on numpy.load's arrays")
    if head != b"PK\x03\x04":
        raise bad("not a .npz (zip) archive written by minigrad.save")
    with zipfile.ZipFile(f) as archive:
        infos = archive.infolist()
        if all(info.filename != MANIFEST + ".npy" for info in infos):
            raise bad(_foreign_archive(infos))
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            if info.filename in members:
                raise bad(f"duplicate archive member {info.filename!r}")
            if info.filename != MANIFEST + ".npy" and not _MEMBER.fullmatch(info.filename):
                raise bad(f"unexpected archive member {info.filename!r}")
            if info.flag_bits & 0x1:
                raise bad(f"member {info.filename!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise bad(f"member {info.filename!r} uses an unsupported compression method")
            # Sizes come from the file, so bound them by the bytes really there before trusting them:
            # stored data is as long as declared, and deflate expands at most 1032:1.
            if (info.header_offset + info.compress_size > archive_size
                    or info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size
                    or info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024):
                raise bad(f"member {info.filename!r} declares {info.file_size} bytes that the archive "
                          f"({archive_size} bytes) cannot hold")
            members[info.filename] = info
            total += info.file_size
        if total > max_bytes:
            raise bad(f"the archive declares {total} bytes of data, over the limit of {max_bytes} "
                      "(pass max_bytes= to load larger files)")
        manifest_info = members.pop(MANIFEST + ".npy", None)
        if manifest_info is None:
            raise bad("no manifest: this .npz was not written by minigrad.save")
        if manifest_info.file_size > _MAX_MANIFEST_BYTES:
            raise bad(f"the manifest is {manifest_info.file_size} bytes, more than {_MAX_MANIFEST_BYTES}")
        raw = _read_array(archive, manifest_info, np.dtype(np.uint8), None, bad)
        if raw.ndim != 1:
            raise bad("the manifest is not a 1-d uint8 array")
        try:
            manifest = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise bad(f"the manifest is not valid JSON ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise bad("the manifest does not describe a minigrad state archive")
        if manifest.get("version") != VERSION:
            raise bad(f"format version {manifest.get('version')!r} is not supported (this minigrad reads "
                      f"version {VERSION}); upgrade minigrad")
        used: set[str] = set()
        result = _decode(manifest.get("root"), archive, members, used, target, bad, 0)
        unused = set(members) - used
        if unused:
            raise bad(f"array members {sorted(unused)} are not described by the manifest")
        return result


def _foreign_archive(infos: list[zipfile.ZipInfo]) -> str:
    """What to say about a zip archive without minigrad's manifest (np.savez, torch.save, anything else)."""
    names = [info.filename for info in infos]
    if any(name.endswith("data.pkl") for name in names):
        what, how = ("a torch.save file", "in PyTorch, save the state dict with safetensors "
                     "(safetensors.torch.save_file(model.state_dict(), path)) and read it with "
                     "minigrad.safetensors.load_file(path)")
    elif names and all(name.endswith(".npy") for name in names):
        what, how = ("a NumPy .npz archive (numpy.savez)", "read it with numpy.load(path) and wrap the arrays "
                     "with minigrad.from_numpy (load_state_dict also accepts NumPy arrays)")
    else:
        what, how = "a zip archive", "minigrad.load reads only files written by minigrad.save"
    return f"this is {what}, not a file written by minigrad.save (it has no minigrad manifest); {how}"


def _reject_constant(token: str):
    raise ValueError(f"non-standard JSON constant {token}")


def _decode(node: Any, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], used: set[str],
            target, bad, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise bad(f"the manifest nests more than {_MAX_DEPTH} levels")
    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise bad("malformed manifest entry")
    kind = node["t"]
    if kind == "none":
        return None
    if kind in ("bool", "int", "str"):
        value = node.get("v")
        expected = {"bool": bool, "int": int, "str": str}[kind]
        if type(value) is not expected:
            raise bad(f"a manifest {kind} entry holds {type(value).__name__}")
        return value
    if kind == "float":
        value = node.get("v")
        if not isinstance(value, str):
            raise bad("a manifest float entry is not a hex string")
        try:
            return float.fromhex(value)
        except (ValueError, OverflowError):
            raise bad(f"bad float {value[:40]!r} in the manifest") from None
    if kind in ("dict", "odict"):
        keys, values = node.get("keys"), node.get("values")
        if not isinstance(keys, list) or not isinstance(values, list) or len(keys) != len(values):
            raise bad("malformed dict entry in the manifest")
        out: dict = OrderedDict() if kind == "odict" else {}
        for k, v in zip(keys, values):
            if isinstance(k, bool) or not isinstance(k, (str, int)) or k in out:
                raise bad(f"bad or duplicate dict key {k!r} in the manifest")
            out[k] = _decode(v, archive, members, used, target, bad, depth + 1)
        return out
    if kind in ("list", "tuple"):
        items = node.get("items")
        if not isinstance(items, list):
            raise bad(f"malformed {kind} entry in the manifest")
        decoded = [_decode(v, archive, members, used, target, bad, depth + 1) for v in items]
        return tuple(decoded) if kind == "tuple" else decoded
    if kind in ("tensor", "ndarray", "npscalar"):
        member, dtype_name, shape = node.get("a"), node.get("dtype"), node.get("shape")
        allowed = _TENSOR_DTYPE_NAMES if kind == "tensor" else _ARRAY_DTYPES
        if not isinstance(dtype_name, str) or dtype_name not in allowed:
            raise bad(f"unsupported dtype {dtype_name!r} for a {kind}; supported: {', '.join(sorted(allowed))}")
        if (not isinstance(shape, list) or len(shape) > 64
                or any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in shape)):
            raise bad(f"bad shape {shape!r} in the manifest")
        if kind == "npscalar" and shape:
            raise bad("a numpy scalar entry with a non-empty shape")
        if not isinstance(member, str) or member + ".npy" not in members:
            raise bad(f"the manifest refers to a missing array {member!r}")
        if member + ".npy" in used:
            raise bad(f"array {member!r} is referenced twice")
        used.add(member + ".npy")
        array = _read_array(archive, members[member + ".npy"], _ARRAY_DTYPES[dtype_name], tuple(shape), bad)
        if kind == "npscalar":
            return array[()]
        if kind == "ndarray":
            return array
        out_tensor = Tensor(target.from_numpy(array), target)
        if node.get("requires_grad") is True and array.dtype.kind == "f":
            out_tensor.requires_grad_(True)
        return out_tensor
    raise bad(f"unknown manifest entry kind {kind!r}")


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dtype: np.dtype, shape: tuple | None,
                bad) -> np.ndarray:
    """Read one ``.npy`` member, validating its header before allocating anything."""
    with archive.open(info) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            header_shape, fortran, header_dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            header_shape, fortran, header_dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise bad(f"{info.filename}: unsupported .npy format version {version}")
        if (header_dtype.hasobject or header_dtype.fields is not None or header_dtype.subdtype is not None
                or header_dtype.name != dtype.name or header_dtype.byteorder not in "<>|="):
            raise bad(f"{info.filename}: dtype {header_dtype} where the manifest says {dtype.name}")
        if shape is not None and tuple(header_shape) != shape:
            raise bad(f"{info.filename}: shape {tuple(header_shape)} where the manifest says {shape}")
        nbytes = math.prod(header_shape) * dtype.itemsize
        if nbytes != info.file_size - fp.tell():
            raise bad(f"{info.filename}: the header promises {nbytes} bytes of data but the member holds "
                      f"{info.file_size - fp.tell()}")
        buffer = bytearray(nbytes)
        if fp.readinto(memoryview(buffer)) != nbytes or fp.read(1):
            raise bad(f"{info.filename}: truncated array data")
    flat = np.frombuffer(buffer, dtype=header_dtype)
    array = flat.reshape(header_shape[::-1]).T if fortran else flat.reshape(header_shape)
    # Native byte order and C order, in memory we own (the buffer is private, so no extra copy when it fits).
    return array.astype(dtype, order="C", copy=False)
