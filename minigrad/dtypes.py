"""dtypes: minigrad uses NumPy's dtype objects, which CuPy shares, and accepts their names."""

from __future__ import annotations

import numpy as np

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")
int8 = np.dtype("int8")
int16 = np.dtype("int16")

SUPPORTED = {d.name: d for d in (float32, float64, int32, int64, uint8, bool_, int8, int16)}
SUPPORTED["float"] = float32
SUPPORTED["double"] = float64
SUPPORTED["long"] = int64
SUPPORTED["int"] = int64
SUPPORTED["short"] = int16

DEFAULT_FLOAT = float32

# PyTorch's tensor type names (``x.type()``, ``typename(x)``), per dtype
TENSOR_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor", "int32": "IntTensor",
                     "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


class layout:  # noqa: N801 - PyTorch's name
    """A tensor's memory layout, as ``torch.layout``. minigrad has one, ``minigrad.strided`` (dense arrays with
    strides); PyTorch's sparse layouts have no counterpart."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"minigrad.{self.name}"


strided = layout("strided")


def as_dtype(dtype) -> np.dtype:
    """Turn a dtype, a dtype name or a Python type into a supported ``numpy.dtype``. The Python types mean what
    they mean to PyTorch: ``float`` is float64 (whatever the default dtype), ``int`` int64, ``bool`` bool."""
    if dtype is float:
        return float64
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    if isinstance(dtype, str):
        found = SUPPORTED.get(dtype)
    else:
        try:
            found = np.dtype(dtype)
        except TypeError:
            found = None
        if found is not None and found.name not in SUPPORTED:
            found = None
    if found is None:
        names = ", ".join(sorted(k for k in SUPPORTED if k not in ("float", "double", "long", "int")))
        raise TypeError(f"unknown dtype {dtype!r}; supported dtypes are {names}")
    return found


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


# -- PyTorch's dtype API: the default floating dtype, finfo/iinfo and the promotion rules -----------------------
_default_float = [float32]  # set_default_dtype changes it; DEFAULT_FLOAT above stays the initial float32


def default_float() -> np.dtype:
    """The dtype of new floating tensors now (``set_default_dtype``): float32 unless changed."""
    return _default_float[0]


def set_default_dtype(d) -> None:
    """Make ``d`` (float32 or float64) the dtype of new floating tensors, Python floats and integer-to-float
    promotion, as ``torch.set_default_dtype``; ``nn`` modules then make their parameters in it too."""
    dt = as_dtype(d)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the default type, got "
                        f"{dt.name}")
    _default_float[0] = dt


def get_default_dtype() -> np.dtype:
    """The dtype of new floating tensors: float32 unless ``set_default_dtype`` changed it."""
    return _default_float[0]


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < float, as PyTorch's categories


def promote_types(type1, type2) -> np.dtype:
    """PyTorch's promotion of two dtypes: the higher category (bool < integer < float) wins, and within it
    the smallest dtype holding both (int64 with float32 is float32, not NumPy's float64; uint8 with int8 is
    int16)."""
    a, b = as_dtype(type1), as_dtype(type2)
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _promote_all(dtypes) -> np.dtype | None:
    out = None
    for d in dtypes:
        out = d if out is None else promote_types(out, d)
    return out


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """PyTorch's ``combine_categories``: a lower-priority group only counts where it is of a higher category."""
    if higher is None:
        return lower
    if higher.kind == "f":
        return higher
    if lower is not None and (higher.kind == "b" or lower.kind == "f"):
        return promote_types(higher, lower)
    return higher


def result_type(tensor, other) -> np.dtype:
    """The dtype of an arithmetic op on ``tensor`` and ``other`` (tensors or numbers) by PyTorch's rules:
    tensors with dimensions decide, then 0-d tensors and then Python numbers only where they are of a higher
    category (a Python float is the default dtype, an int int64)."""
    from .tensor import Tensor

    groups: tuple[list, list, list] = ([], [], [])  # dimensioned tensors, 0-d tensors, numbers
    for operand in (tensor, other):
        if isinstance(operand, Tensor):
            groups[0 if operand.ndim else 1].append(operand.dtype)
        elif isinstance(operand, (bool, np.bool_)):
            groups[2].append(bool_)
        elif isinstance(operand, (int, np.integer)):
            groups[2].append(int64)
        elif isinstance(operand, (float, np.floating)):
            groups[2].append(default_float())
        else:
            raise TypeError(f"result_type: expected tensors or numbers, got {type(operand).__name__}")
    dim, zero, number = (_promote_all(g) for g in groups)
    return _combine(dim, _combine(zero, number))


def can_cast(from_, to) -> bool:
    """Whether PyTorch's casting rules allow ``from_`` -> ``to`` in an op's output (``x.add_(y)``): never
    float to integer or bool, never integer to bool; within a category any size goes."""
    a, b = as_dtype(from_), as_dtype(to)
    if a.kind == "f" and b.kind != "f":
        return False
    return not (a.kind != "b" and b.kind == "b")


class finfo:  # noqa: N801 - PyTorch's name
    """Machine limits of a floating dtype (the default one when none is given), as ``torch.finfo``."""

    def __init__(self, type=None) -> None:  # noqa: A002 - PyTorch's name
        dt = default_float() if type is None else as_dtype(type)
        if dt.kind != "f":
            raise TypeError(f"finfo: expected a floating dtype, got {dt.name} (use iinfo for integers)")
        info = np.finfo(dt)
        self.bits: int = int(info.bits)
        self.eps: float = float(info.eps)
        self.max: float = float(info.max)
        self.min: float = float(info.min)
        self.tiny: float = float(info.smallest_normal)
        self.smallest_normal: float = self.tiny
        self.resolution: float = 10.0 ** -int(info.precision)
        self.dtype: str = dt.name

    def __eq__(self, other) -> bool:
        return isinstance(other, finfo) and self.dtype == other.dtype

    def __hash__(self) -> int:
        return hash(("finfo", self.dtype))

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801 - PyTorch's name
    """Machine limits of an integer dtype, as ``torch.iinfo``."""

    def __init__(self, type) -> None:  # noqa: A002 - PyTorch's name
        dt = as_dtype(type)
        if dt.kind not in "iu":
            raise TypeError(f"iinfo: expected an integer dtype, got {dt.name} (use finfo for floating dtypes)")
        info = np.iinfo(dt)
        self.bits: int = int(info.bits)
        self.max: int = int(info.max)
        self.min: int = int(info.min)
        self.dtype: str = dt.name

    def __eq__(self, other) -> bool:
        return isinstance(other, iinfo) and self.dtype == other.dtype

    def __hash__(self) -> int:
        return hash(("iinfo", self.dtype))

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
