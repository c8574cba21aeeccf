"""PyTorch's device spelling (``"cpu"``, ``"cuda"``, ``minigrad.device(...)``) mapped onto backends.

minigrad places tensors by backend, not by device. A device names only the kind of memory:

- ``"cpu"``: a backend that keeps its arrays in host memory. A tensor already on one (NumPy or Numba)
  stays there, as ``.to("cpu")`` is a no-op in PyTorch. New tensors and tensors coming from the GPU go to
  the current backend when it is a host one, else to NumPy.
- ``"cuda"`` (or ``"cuda:0"``): the CuPy backend, on CUDA's current device. Other indices are refused,
  because the CuPy backend does not choose a device; use ``cupy.cuda.Device(n).use()`` or
  ``CUDA_VISIBLE_DEVICES``.

So a ported script's ``device = "cuda" if minigrad.cuda.is_available() else "cpu"`` and ``.to(device)``
keep working, and ``MINIGRAD_BACKEND=numba`` still picks the CPU backend.
"""

from __future__ import annotations

from . import backends as _backends

CUDA_BACKEND = "cupy"
_TYPES = ("cpu", "cuda")


class device:  # noqa: N801 - PyTorch's name
    """A device as PyTorch spells it: ``device("cpu")``, ``device("cuda")``, ``device("cuda:0")``,
    ``device("cuda", 0)``. Compares equal to another device of the same type and index."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: int | None = None) -> None:  # noqa: A002 - PyTorch's name
        if isinstance(type, device):
            if index is not None:
                raise ValueError(f"device: an index ({index}) cannot be given with a device ({type})")
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {type.__class__.__name__}")
        name, _, number = type.partition(":")
        if name not in _TYPES:
            raise ValueError(f"device: unknown device type {name!r}; minigrad knows 'cpu' and 'cuda' (its "
                             f"backends are {', '.join(_backends.names())})")
        if number:
            if index is not None:
                raise ValueError(f"device: the index is given twice, in {type!r} and as {index}")
            if not number.isdigit():
                raise ValueError(f"device: invalid index in {type!r}")
            index = int(number)
        if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
            raise ValueError(f"device: the index must be an int >= 0, got {index!r}")
        self.type, self.index = name, index

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (TypeError, ValueError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"


_Device = device  # for functions whose argument is named ``device``, as PyTorch's


def is_device(target) -> bool:
    """Whether ``target`` is a device or a string that names one (``"cpu"``, ``"cuda"``, ``"cuda:0"``)."""
    if isinstance(target, device):
        return True
    return isinstance(target, str) and target.partition(":")[0] in _TYPES


def backend_for(target, where: str, current=None) -> str:
    """The backend name that device ``target`` means for a tensor now on backend object ``current``
    (``None``: a new tensor)."""
    try:
        dev = device(target)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from None
    if dev.type == "cuda":
        if dev.index not in (None, 0):
            raise ValueError(
                f"{where}: {str(dev)!r}: the CuPy backend runs on CUDA's current device only; select device "
                f"{dev.index} with cupy.cuda.Device({dev.index}).use() or CUDA_VISIBLE_DEVICES, then use 'cuda'")
        return CUDA_BACKEND
    if dev.index not in (None, 0):
        raise ValueError(f"{where}: {str(dev)!r}: there is one CPU device, 'cpu'")
    if current is not None and current.host_memory:
        return current.name
    default = _backends.current()
    return default.name if default.host_memory else "numpy"


def of_backend(backend_obj, array) -> device:
    """The device of an ``array`` held by ``backend_obj``."""
    if backend_obj.host_memory:
        return device("cpu")
    return device("cuda", int(getattr(getattr(array, "device", None), "id", 0)))


def resolve_creation(backend: str | None, dev, where: str) -> str | None:
    """The backend for a creation function's ``backend=`` and ``device=`` arguments (``None``: current)."""
    if dev is None:
        return backend
    name = backend_for(dev, where)
    if backend is not None and backend != name:
        chosen, dev = _backends.load(backend), device(dev)
        if chosen.host_memory != (dev.type == "cpu"):  # backend="numba" with device="cpu" is fine
            raise ValueError(f"{where}: backend={backend!r} keeps its arrays in "
                             f"{'host' if chosen.host_memory else 'device'} memory, not on device {str(dev)!r}")
        return backend
    return name


def set_default_device(device) -> None:
    """Where new tensors go, as ``torch.set_default_device``: ``"cuda"`` makes the CuPy backend the default
    (``set_backend("cupy")``); ``"cpu"`` or ``None`` keep a host backend that is the default already (NumPy or
    Numba) and otherwise make it NumPy. A ``with minigrad.backend(...)`` block still wins, as the precedence of
    backends has it (docs/backends.md)."""
    if device is not None and not isinstance(device, (str, _Device)):
        raise TypeError(f"set_default_device: expected a device or a string such as 'cpu' or 'cuda', got "
                        f"{type(device).__name__}")
    _backends.set_backend(backend_for("cpu" if device is None else device, "set_default_device"))


def get_default_device() -> device:
    """The device new tensors go to here and now: ``device(type='cpu')`` on a host backend, else
    ``device(type='cuda', index=0)`` (the CuPy backend's current device)."""
    return device("cpu") if _backends.current().host_memory else device("cuda", 0)
