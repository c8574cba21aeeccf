"""Exceptions that are part of minigrad's interface."""

from __future__ import annotations


class MinigradError(Exception):
    """Base class of minigrad's own errors."""


class BackendMismatchError(MinigradError, RuntimeError):
    """Tensors of two different backends met in one op."""


class BackendUnavailableError(MinigradError, RuntimeError):
    """A known backend cannot be loaded on this machine (the message says why and how to fix it)."""


class UnknownBackendError(MinigradError, ValueError):
    """No backend of that name is registered."""


class ShapeError(MinigradError, ValueError):
    """Operand shapes do not fit the op (broadcasting, matmul, reshape, ...)."""


class InplaceError(MinigradError, RuntimeError):
    """An in-place change that autograd cannot allow, or that invalidated a saved tensor."""


class GradcheckError(MinigradError, AssertionError):
    """A gradient check failed; ``.report`` holds the details."""

    def __init__(self, message: str, report=None) -> None:
        super().__init__(message)
        self.report = report


class SerializationError(MinigradError, ValueError):
    """A file given to ``minigrad.load`` is not a valid minigrad archive, or an object cannot be saved."""


class DatasetError(MinigradError, ValueError):
    """A dataset file is malformed, fails its checksum, or could not be downloaded."""


class DatasetNotFoundError(MinigradError, FileNotFoundError):
    """Dataset files are missing; the message says which files to put where."""


class LinAlgError(MinigradError, RuntimeError):
    """A linear-algebra input the operation cannot handle: singular, not positive-definite (PyTorch's
    ``torch.linalg.LinAlgError``)."""


class AnomalyError(MinigradError, FloatingPointError):
    """``detect_anomaly()``: an op turned finite inputs into NaN; the message names the op."""
