"""Forward hooks with PyTorch's options: ``prepend``, ``with_kwargs`` and ``always_call``.

Each scenario is written once against a library (``torch`` or ``minigrad``) and returns a log of what the
hooks saw and returned; the logs must be equal. Without torch the scenarios still run and are checked against
the logs written out below them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg


def _module_class(lib):
    class Scale(lib.nn.Module):
        def __init__(self, fail=False):
            super().__init__()
            self.fail = fail

        def forward(self, x, scale=1.0):
            if self.fail:
                raise ValueError("forward failed")
            return x * scale

    return Scale


def _value(t):
    return None if t is None else np.asarray(t.detach().numpy()).round(6).tolist()


def scenario_order_and_kwargs(lib):
    """prepend for both kinds, a kwargs pre-hook rewriting args and kwargs, a kwargs forward hook."""
    log = []
    m = _module_class(lib)()
    m.register_forward_pre_hook(lambda mod, args: log.append(("pre A", _value(args[0]))))
    m.register_forward_pre_hook(lambda mod, args: log.append(("pre B (prepended)", _value(args[0]))), prepend=True)

    def pre_kwargs(mod, args, kwargs):
        log.append(("pre kwargs", _value(args[0]), sorted(kwargs)))
        return (args[0] + 1,), {"scale": 3.0}

    m.register_forward_pre_hook(pre_kwargs, with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: log.append(("fwd A", _value(out))))

    def fwd_kwargs(mod, args, kwargs, out):
        log.append(("fwd kwargs", _value(args[0]), kwargs, _value(out)))
        return out * 10

    m.register_forward_hook(fwd_kwargs, with_kwargs=True, prepend=True)
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = m(x, scale=2.0)
    log.append(("output", _value(y)))
    y.sum().backward()
    log.append(("grad", _value(x.grad)))
    return log


EXPECTED_ORDER_AND_KWARGS = [
    ("pre B (prepended)", [1.0, 2.0]),
    ("pre A", [1.0, 2.0]),
    ("pre kwargs", [1.0, 2.0], ["scale"]),
    ("fwd kwargs", [2.0, 3.0], {"scale": 3.0}, [6.0, 9.0]),
    ("fwd A", [60.0, 90.0]),
    ("output", [60.0, 90.0]),
    ("grad", [30.0, 30.0]),
]


def scenario_always_call(lib):
    """A failing forward: always_call hooks run with None (in order), others do not; an always_call hook
    that raises too is silenced with a warning, and the forward's error is the one raised. Then a forward
    hook that raises after an always_call hook ran: that one is not run twice."""
    log = []
    m = _module_class(lib)(fail=True)
    m.register_forward_hook(lambda mod, args, out: log.append(("plain", out)))
    m.register_forward_hook(lambda mod, args, out: log.append(("always", out)), always_call=True)

    def always_kwargs(mod, args, kwargs, out):
        log.append(("always kwargs", kwargs, out))
        raise KeyError("hook failed too")

    m.register_forward_hook(always_kwargs, always_call=True, with_kwargs=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            m(lib.tensor([1.0]), scale=2.0)
        except ValueError as error:
            log.append(("raised", str(error)))
    log.append(("warnings", [str(w.message) for w in caught]))

    m2 = _module_class(lib)()
    m2.register_forward_hook(lambda mod, args, out: log.append(("always first", _value(out))), always_call=True)

    def failing(mod, args, out):
        raise RuntimeError("hook failed")

    m2.register_forward_hook(failing)
    m2.register_forward_hook(lambda mod, args, out: log.append(("always last", _value(out))), always_call=True)
    try:
        m2(lib.tensor([1.0, 2.0]))
    except RuntimeError as error:
        log.append(("raised", str(error)))
    return log


EXPECTED_ALWAYS_CALL = [
    ("always", None),
    ("always kwargs", {"scale": 2.0}, None),
    ("raised", "forward failed"),
    ("warnings", ["module forward hook with ``always_call=True`` raised an exception that was silenced as another "
                  "error was raised in forward: 'hook failed too'"]),
    ("always first", [1.0, 2.0]),
    ("always last", [1.0, 2.0]),
    ("raised", "hook failed"),
]


def scenario_removal(lib):
    """A removed hook's options go with it; a pre-hook returning a non-pair with with_kwargs is an error."""
    log = []
    m = _module_class(lib)()
    handle = m.register_forward_hook(lambda mod, args, kwargs, out: log.append("kwargs hook"), with_kwargs=True)
    handle.remove()
    m.register_forward_hook(lambda mod, args, out: log.append("plain hook"))
    m(lib.tensor([1.0]))
    m.register_forward_pre_hook(lambda mod, args, kwargs: args, with_kwargs=True)
    try:
        m(lib.tensor([1.0]))
    except RuntimeError as error:
        log.append(str(error).split(", but got")[0])
    return log


EXPECTED_REMOVAL = ["plain hook", "forward pre-hook must return None or a tuple of (new_args, new_kwargs)"]

SCENARIOS = [(scenario_order_and_kwargs, EXPECTED_ORDER_AND_KWARGS), (scenario_always_call, EXPECTED_ALWAYS_CALL),
             (scenario_removal, EXPECTED_REMOVAL)]


@pytest.mark.parametrize("scenario, expected", SCENARIOS, ids=lambda s: getattr(s, "__name__", ""))
def test_minigrad_hooks_see_what_the_scenario_expects(scenario, expected):
    assert scenario(mg) == expected


@pytest.mark.parametrize("scenario, expected", SCENARIOS, ids=lambda s: getattr(s, "__name__", ""))
def test_pytorch_hooks_see_the_same(scenario, expected):
    torch = pytest.importorskip("torch")
    assert scenario(torch) == expected
