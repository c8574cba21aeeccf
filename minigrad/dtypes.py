"""dtypes: minigrad uses NumPy's dtype objects, which CuPy shares, and accepts their names."""

from __future__ import annotations

import numpy as np

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

SUPPORTED = {d.name: d for d in (float32, float64, int32, int64, uint8, bool_)}
SUPPORTED["float"] = float32
SUPPORTED["double"] = float64
SUPPORTED["long"] = int64
SUPPORTED["int"] = int64

DEFAULT_FLOAT = float32


def as_dtype(dtype) -> np.dtype:
    """Turn a dtype, a dtype name or a Python type into a supported ``numpy.dtype``."""
    if dtype is float:
        return float32
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
