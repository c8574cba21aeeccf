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

    def _again(self) -> _GradMode:
        """A new block with this one's settings: each call of a decorated function enters its own."""
        return self.__class__()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._again():
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

    def _again(self) -> inference_mode:
        return inference_mode(self.inference)


_anomaly: ContextVar[bool] = ContextVar("minigrad_detect_anomaly", default=False)  # NaN checks on: read by every op
_anomaly_mode: ContextVar[tuple] = ContextVar("minigrad_anomaly_mode", default=(False, True))  # (enabled, check_nan)


def is_anomaly_enabled() -> bool:
    return _anomaly_mode.get()[0]


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly mode, when enabled, checks for NaN (``check_nan``; True unless set otherwise)."""
    return _anomaly_mode.get()[1]


def _set_anomaly(enabled: bool, check_nan: bool) -> tuple:
    # minigrad's anomaly mode is its NaN check: enabled with check_nan=False, it is recorded and checks nothing
    return _anomaly_mode.set((bool(enabled), bool(check_nan))), _anomaly.set(bool(enabled) and bool(check_nan))


class detect_anomaly(_GradMode):  # noqa: N801 - PyTorch's name
    """Inside the block, an op that turns finite inputs into NaN (log of a negative number, 0/0, ...)
    raises ``FloatingPointError`` naming the op, in forward and in backward. Off by default: it costs a
    scan of every output. ``check_nan=False`` turns the mode on without the check, as PyTorch (where the mode
    also records tracebacks, which minigrad does not)."""

    def __init__(self, check_nan: bool = True) -> None:
        super().__init__()
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._tokens.append(_set_anomaly(True, self.check_nan))

    def __exit__(self, *exc) -> None:
        mode, nan = self._tokens.pop()
        _anomaly.reset(nan)
        _anomaly_mode.reset(mode)

    def _again(self) -> detect_anomaly:
        return detect_anomaly(self.check_nan)


def set_detect_anomaly(mode: bool, check_nan: bool = True) -> None:
    """Turn NaN detection on or off for the current thread (see ``detect_anomaly``)."""
    _set_anomaly(mode, check_nan)


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """``set_detect_anomaly`` by PyTorch's top-level name."""
    _set_anomaly(enabled, check_nan)
