"""Whether ops record the graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled`` (thread- and task-local)."""

from __future__ import annotations

import functools
from contextvars import ContextVar

_enabled: ContextVar[bool] = ContextVar("minigrad_grad_enabled", default=True)
is_grad_enabled = _enabled.get


class _GradMode:
    """A context manager and decorator that sets grad mode inside its block."""

    mode = True

    def __init__(self) -> None:
        self._tokens: list = []

    def __enter__(self) -> None:
        self._tokens.append(_enabled.set(self.mode))

    def __exit__(self, *exc) -> None:
        _enabled.reset(self._tokens.pop())

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Ops inside the block record no graph; their outputs do not require grad."""

    mode = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Record the graph inside the block, even within ``no_grad``."""

    mode = True


class set_grad_enabled(_GradMode):  # noqa: N801 - PyTorch's name
    """Set grad mode to ``mode``: at once, and for a ``with`` block if used as one."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self.mode = bool(mode)
        self._previous = _enabled.set(self.mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _enabled.reset(self._previous)

    def __call__(self, fn):
        """As a decorator: undo the change made at construction; each call of ``fn`` runs in ``mode``."""
        _enabled.reset(self._previous)
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


_inference: ContextVar[bool] = ContextVar("minigrad_inference_mode", default=False)
is_inference_mode_enabled = _inference.get


class inference_mode(_GradMode):  # noqa: N801 - PyTorch's name
    """PyTorch's ``inference_mode``: here ``no_grad`` (minigrad has no separate inference tensors) that
    ``is_inference_mode_enabled()`` reports, and ``inference_mode(False)`` records as usual. A context manager,
    and a decorator as ``@inference_mode()`` or ``@inference_mode``."""

    def __new__(cls, mode: bool = True):
        if not isinstance(mode, bool):  # @inference_mode, without parentheses: mode is the function
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        super().__init__()
        self.inference = mode
        self.mode = not mode  # grad mode inside the block

    def __enter__(self) -> None:
        self._tokens.append((_enabled.set(self.mode), _inference.set(self.inference)))

    def __exit__(self, *exc) -> None:
        grad, inference = self._tokens.pop()
        _inference.reset(inference)
        _enabled.reset(grad)

    def __call__(self, fn):
        inference = self.inference

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(inference):
                return fn(*args, **kwargs)

        return wrapper


_anomaly: ContextVar[bool] = ContextVar("minigrad_detect_anomaly", default=False)
is_anomaly_enabled = _anomaly.get


class detect_anomaly(_GradMode):  # noqa: N801 - PyTorch's name
    """Inside the block, an op that turns finite inputs into NaN (log of a negative number, 0/0, ...)
    raises ``FloatingPointError`` naming the op, in forward and in backward. Off by default: it costs a
    scan of every output."""

    def __enter__(self) -> None:
        self._tokens.append(_anomaly.set(True))

    def __exit__(self, *exc) -> None:
        _anomaly.reset(self._tokens.pop())


def set_detect_anomaly(mode: bool) -> None:
    """Turn NaN detection on or off for the current thread (see ``detect_anomaly``)."""
    _anomaly.set(bool(mode))
