"""PyTorch's hooks common to all modules (``torch.nn.modules.module.register_module_*``), the state-dict hooks,
``Module.to_empty``, the ``torch.nn.modules.*`` import paths and ``is_inference_mode_enabled``.

Each scenario is written once against a library and returns a log of what the hooks saw and did (names,
arguments, values); minigrad's log, on each host backend, must equal PyTorch's. Without PyTorch those comparisons
skip, and the minigrad-only tests at the end (errors, a failed load that changes nothing, the import paths) run.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pytest
from _lazy_torch import torch  # PyTorch on first use; without it, only its comparisons skip

import minigrad as mg
from minigrad.nn import module as mg_module

BACKENDS = [b for b in ("numpy", "numba") if b in mg.testing.available_backends()]


class Lib:
    """A library as the scenarios use it: PyTorch, or minigrad with its tensors and modules on ``backend``."""

    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend  # None: PyTorch
        self.lib = torch if backend is None else mg
        self.nn = self.lib.nn
        self.hooks = self.lib.nn.modules.module

    def tensor(self, values, requires_grad: bool = False):
        array = np.asarray(values, dtype=np.float64)
        if self.backend is None:
            return torch.tensor(array, requires_grad=requires_grad)
        return mg.tensor(array, dtype="float64", backend=self.backend, requires_grad=requires_grad)

    def building(self):
        """New modules' parameters go to the backend."""
        return contextlib.nullcontext() if self.backend is None else mg.backend(self.backend)


def _value(t):
    """A tensor's values, to 12 significant digits (None stays None)."""
    if t is None:
        return None
    return [float(f"{v:.12g}") for v in np.asarray(t.detach().numpy(), dtype=np.float64).ravel()]


def _dtype(t) -> str:
    return str(t.dtype).removeprefix("torch.")


def _affine(env: Lib):
    class Affine(env.nn.Module):
        """``(x * w + b) * scale``, elementwise: the same operations, so the same bits, in both libraries."""

        def __init__(self, n: int, fail: bool = False) -> None:
            super().__init__()
            self.w = env.nn.Parameter(env.tensor(np.arange(1, n + 1) / 4))
            self.b = env.nn.Parameter(env.tensor(np.full(n, 0.5)))
            self.fail = fail

        def forward(self, x, scale=1.0):
            if self.fail:
                raise ValueError("forward failed")
            return (x * self.w + self.b) * scale

    return Affine


@contextlib.contextmanager
def _removed_after(handles: list):
    try:
        yield handles
    finally:
        for handle in handles:
            handle.remove()


# -- scenarios ------------------------------------------------------------------------------------------------
def scenario_forward_hooks(env: Lib) -> list:
    """Global pre-hooks and forward hooks run before the module's own (even those registered earlier or with
    prepend), on every module; a global pre-hook's single value becomes the args tuple; with_kwargs; removal."""
    log = []
    affine = _affine(env)
    with env.building():
        net = env.nn.Sequential(affine(3), affine(3))
    inner = net[0]
    inner.register_forward_pre_hook(lambda m, args: log.append(("local pre", _value(args[0]))), prepend=True)
    inner.register_forward_hook(lambda m, args, out: out + 1)

    def global_pre(m, args):
        log.append(("global pre", type(m).__name__, _value(args[0])))
        return args[0] * 2 if isinstance(m, affine) else None

    def global_forward_kwargs(m, args, kwargs, out):
        log.append(("global forward kwargs", type(m).__name__, kwargs, _value(out)))

    with _removed_after([env.hooks.register_module_forward_pre_hook(global_pre),
                         env.hooks.register_module_forward_hook(global_forward_kwargs, with_kwargs=True),
                         env.hooks.register_module_forward_hook(
                             lambda m, args, out: log.append(("global forward", type(m).__name__, _value(out))))]
                        ) as handles:
        x = env.tensor([1.0, 2.0, 3.0])
        log.append(("output", _value(net(x))))
        log.append(("with kwargs", _value(inner(x, scale=2.0))))
        handles[0].remove()
        log.append(("pre-hook removed", _value(inner(x))))
    log.append(("all removed", _value(net(x))))
    return log


def scenario_always_call(env: Lib) -> list:
    """A failing forward: the global always_call hooks run first, with None; one that raises becomes a warning
    naming it global; hooks without always_call do not run. A hook that raises after a global always_call hook
    ran: that one is not run twice."""
    log = []
    affine = _affine(env)
    with env.building():
        failing, working = affine(2, fail=True), affine(2)
    failing.register_forward_hook(lambda m, args, out: log.append(("local always", _value(out))), always_call=True)

    def global_always_raising(m, args, out):
        log.append(("global always raising", _value(out)))
        if m is failing:
            raise KeyError("global hook failed too")

    def local_raising(m, args, out):
        raise RuntimeError("hook failed")

    working.register_forward_hook(local_raising)
    working.register_forward_hook(lambda m, args, out: log.append(("local always last", _value(out))),
                                  always_call=True)
    with _removed_after([
        env.hooks.register_module_forward_hook(lambda m, args, out: log.append(("global plain", _value(out)))),
        env.hooks.register_module_forward_hook(lambda m, args, out: log.append(("global always", _value(out))),
                                             always_call=True),
        env.hooks.register_module_forward_hook(global_always_raising, always_call=True),
    ]), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for module in (failing, working):
            try:
                module(env.tensor([1.0, 2.0]))
            except (ValueError, RuntimeError) as error:
                log.append(("raised", type(error).__name__, str(error)))
    log.append(("warnings", [str(w.message) for w in caught]))
    return log


def scenario_backward_hooks(env: Lib) -> list:
    """Global full backward pre-hooks and hooks run before the module's own, on every module, with PyTorch's
    tuples; a global hook's result replaces grad_input; no hook under no_grad or once removed."""
    log, rng = [], np.random.default_rng(1)
    affine = _affine(env)
    with env.building():
        net = env.nn.Sequential(affine(3), affine(3))
    net[1].register_full_backward_pre_hook(lambda m, grad_output: log.append(("local pre", _value(grad_output[0]))))
    net[0].register_full_backward_hook(
        lambda m, grad_input, grad_output: log.append(("local", _value(grad_input[0]), _value(grad_output[0]))))

    def global_backward(m, grad_input, grad_output):
        log.append(("global", type(m).__name__, [_value(g) for g in grad_input], [_value(g) for g in grad_output]))
        return (grad_input[0] * 3,) if m is net[1] else None

    x = env.tensor(rng.standard_normal(3), requires_grad=True)
    upstream = env.tensor(rng.standard_normal(3))
    with _removed_after([
        env.hooks.register_module_full_backward_pre_hook(
            lambda m, grad_output: log.append(("global pre", type(m).__name__, _value(grad_output[0])))),
        env.hooks.register_module_full_backward_hook(global_backward),
    ]):
        net(x).backward(upstream)
        log.append(("x.grad", _value(x.grad), "w.grad", _value(net[0].w.grad)))
        with env.lib.no_grad():
            net(x)
    x.grad = None
    net(x).backward(upstream)
    log.append(("removed: x.grad", _value(x.grad)))
    return log


def scenario_registration_hooks(env: Lib) -> list:
    """The global buffer, module and parameter registration hooks: every registration (by method or attribute,
    None placeholders included, except a None parameter), and a non-None result registered instead."""
    log = []
    affine = _affine(env)

    def buffer_hook(m, name, buffer):
        log.append(("buffer", type(m).__name__, name, _value(buffer)))
        return env.tensor([7.0]) if name == "replaced" else None

    def parameter_hook(m, name, param):
        log.append(("parameter", type(m).__name__, name, _value(param)))
        return env.nn.Parameter(param.detach() * 10) if name == "weight" else None

    class Holder(env.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("stats", env.tensor([1.0, 2.0]))
            self.register_buffer("nothing", None)
            self.register_buffer("replaced", env.tensor([0.0]), persistent=False)
            self.register_parameter("absent", None)
            self.weight = env.nn.Parameter(env.tensor([3.0]))
            self.child = affine(1)
            self.add_module("empty", None)

    with _removed_after([
        env.hooks.register_module_buffer_registration_hook(buffer_hook),
        env.hooks.register_module_parameter_registration_hook(parameter_hook),
        env.hooks.register_module_module_registration_hook(
            lambda m, name, sub: log.append(("module", type(m).__name__, name, type(sub).__name__))),
    ]):
        with env.building():
            holder = Holder()
            log.append(("replaced weight", _value(holder.weight)))
            holder.stats = env.tensor([5.0, 6.0])  # an existing buffer
            holder.child = None  # an existing child
            holder.weight = None  # a parameter set to None: not shown
            env.nn.Sequential(env.nn.Identity())
        log.append(("kept", _value(holder.replaced), holder.weight, sorted(holder.state_dict())))
    holder.register_buffer("late", env.tensor([1.0]))
    return log


def scenario_state_dict_hooks(env: Lib) -> list:
    """state_dict pre- and post-hooks: arguments (prefix, keep_vars, local_metadata's version: 2 for BatchNorm),
    order, changes in place; the older private hook's result replaces the dict at the root only; a public
    post-hook that returns a value is an error."""
    log = []
    affine = _affine(env)
    with env.building():
        net = env.nn.Sequential(affine(2), env.nn.BatchNorm1d(2))
    net.register_state_dict_pre_hook(lambda m, prefix, keep_vars: log.append(("pre root", prefix, keep_vars)))
    net[1].register_state_dict_pre_hook(
        lambda m, prefix, keep_vars: log.append(("pre bn", type(m).__name__, prefix, keep_vars)))

    def post_bn(m, state, prefix, local_metadata):
        log.append(("post bn", prefix, local_metadata, list(state)))
        state[prefix + "note"] = env.tensor([1.0])

    net[1].register_state_dict_post_hook(post_bn)
    net.register_state_dict_post_hook(lambda m, state, prefix, meta: log.append(("post root", prefix, meta)))
    state = net.state_dict(prefix="model.", keep_vars=True)
    log.append(("keys", list(state), state["model.0.w"] is net[0].w))
    net[0]._register_state_dict_hook(lambda m, state, prefix, meta: {"ignored": 1})
    handle = net._register_state_dict_hook(lambda m, state, prefix, meta: {"replaced": len(state)})
    log.append(("legacy", dict(net.state_dict())))
    handle.remove()
    net[1].register_state_dict_post_hook(lambda m, state, prefix, meta: 0)
    try:
        net.state_dict()
    except RuntimeError as error:
        log.append(("raised", str(error)))
    return log


def scenario_load_state_dict_hooks(env: Lib, assign: bool = False) -> list:
    """load_state_dict pre-hooks (per module, on their prefix's entries, renaming a legacy key for the child's
    subtree; strict always True; the private form without the module) and post-hooks (in PyTorch's order, each
    seeing the keys found so far and the loaded values, clearing keys so that a strict load passes); a strict
    load that post-hooks leave with missing keys raises with the values loaded; a post-hook returning a value."""
    log, rng = [], np.random.default_rng(2)
    affine = _affine(env)
    with env.building():
        net = env.nn.Sequential(affine(2), affine(2))
    old_w = net[0].w
    arrays = {"0.w": rng.standard_normal(2), "0.b": rng.standard_normal(2), "1.old_w": rng.standard_normal(2),
              "extra": rng.standard_normal(1)}  # "1.b" is missing

    def pre_child(m, state, prefix, local_metadata, strict, missing, unexpected, error_msgs):
        log.append(("pre child", prefix, sorted(state), local_metadata, strict, list(missing), list(unexpected),
                    list(error_msgs)))
        if prefix + "old_w" in state:
            state[prefix + "w"] = state.pop(prefix + "old_w")

    net[1].register_load_state_dict_pre_hook(pre_child)
    net.register_load_state_dict_pre_hook(
        lambda m, state, prefix, meta, strict, *lists: log.append(("pre root", prefix, sorted(state), meta, strict)))
    net[0]._register_load_state_dict_pre_hook(
        lambda state, prefix, *rest: log.append(("private pre", prefix, sorted(state), len(rest))))
    net[0].register_load_state_dict_post_hook(
        lambda m, keys: log.append(("post 0", list(keys.missing_keys), list(keys.unexpected_keys), _value(m.w))))

    def post_root(m, keys):
        log.append(("post root", list(keys.missing_keys), list(keys.unexpected_keys), _value(m[1].w)))
        keys.unexpected_keys.remove("extra")
        if clear_missing:
            keys.missing_keys.clear()

    net.register_load_state_dict_post_hook(post_root)
    clear_missing = True
    result = net.load_state_dict({k: env.tensor(v) for k, v in arrays.items()}, assign=assign)
    log.append(("result", list(result.missing_keys), list(result.unexpected_keys), _value(net[1].w),
                net[0].w is old_w, net[0].w.requires_grad, type(net[0].w).__name__))
    clear_missing = False
    arrays["0.w"] = arrays["0.w"] + 1
    try:
        net.load_state_dict({k: env.tensor(v) for k, v in arrays.items()}, assign=assign)
    except RuntimeError as error:
        log.append(("raised", "1.b" in str(error), _value(net[0].w)))
    net[1].register_load_state_dict_post_hook(lambda m, keys: keys)
    try:
        net.load_state_dict({k: env.tensor(v) for k, v in arrays.items()}, strict=False)
    except AssertionError as error:
        log.append(("assertion", str(error)))
    return log


def scenario_load_state_dict_assign(env: Lib) -> list:
    return scenario_load_state_dict_hooks(env, assign=True)


def scenario_to_empty(env: Lib) -> list:
    """to_empty keeps every Parameter's identity, shape, dtype and requires_grad, and replaces the gradients too;
    recurse=False leaves the children alone; device is a required keyword."""
    log = []
    affine = _affine(env)
    with env.building():
        net = env.nn.Sequential(affine(2), env.nn.BatchNorm1d(2))
    net[0].w.grad = env.tensor([1.0, 1.0])
    params = list(net.parameters())
    running_var = _value(net[1].running_var)
    log.append(("root only", net.to_empty(device="cpu", recurse=False) is net, _value(net[1].running_var) ==
                running_var))
    net[0].to_empty(device="cpu")
    net[1].to_empty(device=None)
    log.append(("same parameters", all(a is b for a, b in zip(params, net.parameters()))))
    log.append([(name, tuple(t.shape), _dtype(t), t.requires_grad, t.grad is None)
                for name, t in list(net.named_parameters()) + list(net.named_buffers())])
    try:
        net.to_empty()
    except TypeError as error:
        log.append(("no device", "device" in str(error)))
    return log


def scenario_inference_mode(env: Lib) -> list:
    """is_inference_mode_enabled (and grad mode) in nested blocks, inference_mode(False), and both decorators."""
    lib = env.lib

    def state(where):
        return where, lib.is_inference_mode_enabled(), lib.is_grad_enabled()

    log = [state("outside")]
    with lib.inference_mode():
        log.append(state("inside"))
        with lib.inference_mode(False):
            log.append(state("inside, False"))
        with lib.no_grad():
            log.append(state("inside, no_grad"))
        with lib.enable_grad():
            log.append(state("inside, enable_grad"))
    with lib.no_grad(), lib.inference_mode(False):
        log.append(state("no_grad, False"))

    @lib.inference_mode
    def bare():
        return state("@inference_mode")

    @lib.inference_mode(False)
    def off():
        return state("@inference_mode(False)")

    log.append(bare())
    with lib.inference_mode():
        log.append(off())
    log.append((bare.__name__, state("after")))
    return log


SCENARIOS = [scenario_forward_hooks, scenario_always_call, scenario_backward_hooks, scenario_registration_hooks,
             scenario_state_dict_hooks, scenario_load_state_dict_hooks, scenario_load_state_dict_assign,
             scenario_to_empty, scenario_inference_mode]


@pytest.fixture(autouse=True)
def _no_global_hooks_left():
    """A scenario that fails must not leave global hooks behind for the next test."""
    yield
    registries = [v for k, v in vars(mg_module).items() if k.startswith("_global_")]
    left = [r for r in registries if r]
    for registry in registries:
        registry.clear()
    assert not left, "global hooks left registered"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__.removeprefix("scenario_"))
def test_minigrad_logs_pytorchs_calls(scenario, backend):
    theirs = scenario(Lib())
    assert scenario(Lib(backend)) == theirs


# -- the import paths -----------------------------------------------------------------------------------------
def _import_paths() -> dict:
    """minigrad.nn.modules' submodules by name."""
    package = mg.nn.modules
    return {info.name: importlib.import_module(f"{package.__name__}.{info.name}")
            for info in pkgutil.iter_modules(package.__path__)}


def test_each_import_path_names_what_pytorchs_file_holds():
    pytest.importorskip("torch")
    for name, ours in _import_paths().items():
        theirs = importlib.import_module(f"torch.nn.modules.{name}")
        for attr in getattr(ours, "__all__", ()):
            assert hasattr(theirs, attr), f"torch.nn.modules.{name} has no {attr}"


# Where minigrad's class tree differs from PyTorch's among the classes both name: (class, base) that PyTorch has.
KNOWN_HIERARCHY_GAPS = {
    ("AvgPool1d", "_AvgPoolNd"),  # minigrad's AvgPool1d is its own class
    ("ConvTranspose1d", "_ConvNd"), ("ConvTranspose2d", "_ConvNd"), ("ConvTranspose3d", "_ConvNd"),
    ("_ConvTransposeNd", "_ConvNd"),  # minigrad's transposed convolutions share no base with Conv
    ("LazyConv1d", "Conv1d"), ("LazyConv2d", "Conv2d"), ("LazyConv3d", "Conv3d"),  # lazy modules become their
    ("LazyConv1d", "_ConvNd"), ("LazyConv2d", "_ConvNd"), ("LazyConv3d", "_ConvNd"),  # eager class once built
    ("LazyConvTranspose1d", "ConvTranspose1d"), ("LazyConvTranspose2d", "ConvTranspose2d"),
    ("LazyConvTranspose3d", "ConvTranspose3d"), ("LazyConvTranspose1d", "_ConvNd"),
    ("LazyConvTranspose2d", "_ConvNd"), ("LazyConvTranspose3d", "_ConvNd"),
    ("LazyConvTranspose1d", "_ConvTransposeNd"), ("LazyConvTranspose2d", "_ConvTransposeNd"),
    ("LazyConvTranspose3d", "_ConvTransposeNd"), ("LazyLinear", "Linear"),
    ("LazyBatchNorm1d", "_BatchNorm"), ("LazyBatchNorm2d", "_BatchNorm"), ("LazyBatchNorm3d", "_BatchNorm"),
    ("LazyInstanceNorm1d", "_InstanceNorm"), ("LazyInstanceNorm2d", "_InstanceNorm"),
    ("LazyInstanceNorm3d", "_InstanceNorm"),
    ("ZeroPad2d", "ConstantPad2d"), ("ZeroPad3d", "ConstantPad3d"),  # minigrad's pads derive along the dims
    ("ReLU6", "Hardtanh"),
}


def test_the_class_tree_is_pytorchs_but_for_the_known_gaps():
    pytest.importorskip("torch")
    ours = {name: obj for module in _import_paths().values() for name in getattr(module, "__all__", ())
            if inspect.isclass(obj := getattr(module, name))}
    theirs = {name: getattr(torch.nn.modules, name, None) or getattr(importlib.import_module(
        f"torch.nn.modules.{sub}"), name) for sub, module in _import_paths().items()
        for name in getattr(module, "__all__", ()) if name in ours}
    gaps = {(a, b) for a in ours for b in ours if a != b
            and issubclass(theirs[a], theirs[b]) and not issubclass(ours[a], ours[b])}
    assert gaps == KNOWN_HIERARCHY_GAPS  # (minigrad shares code through bases PyTorch lacks: isinstance says more)


@pytest.mark.parametrize("name, value", [("_single", 3), ("_pair", 3), ("_pair", [1, 2]), ("_triple", (1, 2)),
                                         ("_quadruple", 0), ("_pair", "ab")])
def test_utils_tuples_are_pytorchs(name, value):
    from minigrad.nn.modules import utils

    theirs = getattr(torch.nn.modules.utils, name)
    assert getattr(utils, name)(value) == theirs(value) and getattr(utils, name).__name__ == theirs.__name__
    assert utils._reverse_repeat_tuple((1, 2, 3), 2) == torch.nn.modules.utils._reverse_repeat_tuple((1, 2, 3), 2)


def scenario_custom_losses(env: Lib) -> list:
    """Ported losses subclass _Loss and _WeightedLoss with PyTorch's constructor arguments."""
    modules = env.nn.modules

    class Focal(modules.loss._WeightedLoss):
        def __init__(self, weight=None, gamma=2.0, reduction="mean"):
            super().__init__(weight, reduction=reduction)
            self.gamma = gamma

    class Legacy(modules.loss._Loss):
        def __init__(self, size_average=None, reduce=None, reduction="mean"):
            super().__init__(size_average, reduce, reduction)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        legacy = Legacy(size_average=False)
    return [
        (Focal().reduction, Focal().weight, list(Focal(env.tensor([1.0, 2.0])).state_dict())),
        (legacy.reduction, [type(w.message).__name__ for w in caught]),
        [isinstance(loss, modules.loss._WeightedLoss) for loss in (env.nn.CrossEntropyLoss(), env.nn.NLLLoss(),
                                                                 env.nn.BCELoss(), env.nn.MultiMarginLoss(),
                                                                 env.nn.MultiLabelSoftMarginLoss(),
                                                                 env.nn.BCEWithLogitsLoss(), env.nn.MSELoss())],
        [isinstance(m, modules.batchnorm._BatchNorm) for m in (env.nn.BatchNorm2d(2), env.nn.SyncBatchNorm(2),
                                                               env.nn.InstanceNorm2d(2))],
    ]


def test_custom_losses_port():
    assert scenario_custom_losses(Lib("numpy")) == scenario_custom_losses(Lib())


# -- minigrad only (no PyTorch needed) ---------------------------------------------------------------------------
def test_import_paths_hold_minigrads_own_classes():
    from minigrad.nn.modules.batchnorm import _BatchNorm
    from minigrad.nn.modules.conv import _ConvNd
    from minigrad.nn.modules.loss import _Loss, _WeightedLoss
    from minigrad.nn.modules.module import Module, _IncompatibleKeys

    assert issubclass(mg.nn.BatchNorm1d, _BatchNorm) and issubclass(mg.nn.Conv2d, _ConvNd)
    assert issubclass(mg.nn.NLLLoss, _WeightedLoss) and issubclass(_WeightedLoss, _Loss)
    assert Module is mg.nn.Module and _IncompatibleKeys is mg.nn.IncompatibleKeys
    for module in _import_paths().values():
        for name in getattr(module, "__all__", ()):
            public = getattr(mg.nn, name, None)
            assert public is None or public is getattr(module, name), f"{module.__name__}.{name} is a copy"
    assert mg.nn.modules.Linear is mg.nn.Linear and "Linear" in mg.nn.modules.__all__


def test_global_hooks_leave_the_fast_path_when_removed():
    m = mg.nn.Identity()
    handle = mg_module.register_module_forward_hook(lambda mod, args, out: out * 2, with_kwargs=False,
                                                    always_call=True)
    assert mg_module._global_call_hooks and mg_module._global_forward_hooks_always_called
    assert m(mg.tensor([1.0])).tolist() == [2.0]
    handle.remove()
    assert not mg_module._global_call_hooks and not mg_module._global_forward_hooks_always_called
    assert m(mg.tensor([1.0])).tolist() == [1.0]
    with pytest.raises(NotImplementedError, match="register_module_full_backward_hook"):
        mg_module.register_module_backward_hook(lambda *args: None)
    with pytest.raises(TypeError, match="a hook must be callable"):
        mg_module.register_module_forward_pre_hook(None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_load_that_fails_its_checks_changes_nothing_without_post_hooks(backend):
    with mg.backend(backend):
        net = mg.nn.Sequential(mg.nn.Linear(2, 2), mg.nn.LazyLinear(3))
    before = [p.tolist() for p in net.parameters()]
    bad = {"0.weight": mg.zeros(2, 2), "0.bias": mg.zeros(3), "1.weight": mg.zeros(3, 2), "1.bias": mg.zeros(3)}
    with pytest.raises(mg.nn.StateDictError, match=r"size mismatch for '0.bias'"):
        net.load_state_dict(bad)
    assert [p.tolist() for p in net.parameters()] == before
    assert type(net[1]).__name__ == "LazyLinear"  # the checkpoint's shapes undone

    def complain(m, state, prefix, meta, strict, missing, unexpected, error_msgs):
        error_msgs.append("the hook refuses")

    handle = net.register_load_state_dict_pre_hook(complain)
    good = dict(bad, **{"0.bias": mg.ones(2)})
    with pytest.raises(mg.nn.StateDictError, match="the hook refuses"):
        net.load_state_dict(good)
    assert [p.tolist() for p in net.parameters()] == before
    handle.remove()
    # A post-hook sees the values checked so far loaded, so a load that fails after it keeps them (PyTorch's).
    seen = []
    net[0].register_load_state_dict_post_hook(lambda m, keys: seen.append(m.bias.tolist()))
    with pytest.raises(mg.nn.StateDictError, match="missing key"):
        net.load_state_dict({k: v for k, v in good.items() if k != "1.bias"})
    assert seen == [[1.0, 1.0]] and net[0].bias.tolist() == [1.0, 1.0] and net[1].weight.shape == (3, 2)
    assert net.load_state_dict(good) == ([], [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_to_empty_places_each_tensor(backend):
    net = mg.nn.Sequential(mg.nn.Linear(2, 3), mg.nn.BatchNorm1d(3))
    weight = net[0].weight
    assert net.to_empty(device=backend) is net and net[0].weight is weight
    assert {t.backend for t in list(net.parameters()) + list(net.buffers())} == {backend}
    net.to_empty(device="cpu")  # the host backend the tensors are on stays
    assert {t.backend for t in net.parameters()} == {backend}
    assert net[1].num_batches_tracked.dtype == np.int64 and net[0].weight.dtype == np.float32
    net[0].reset_parameters()  # PyTorch's pattern after to_empty
    with pytest.raises(TypeError, match="Module.to_empty: device must be a device or a backend name, got 'float64'"):
        net.to_empty(device="float64")


def test_load_pre_hooks_see_a_mappings_metadata():
    """minigrad's state dicts carry no ``_metadata``; a mapping that has one gives each module its entry."""
    seen = []
    net = mg.nn.Sequential(mg.nn.Linear(1, 1))
    net[0].register_load_state_dict_pre_hook(lambda m, state, prefix, meta, *rest: seen.append(meta))
    state = net.state_dict()
    net.load_state_dict(state)
    state._metadata = {"0": {"version": 1}}
    net.load_state_dict(state, assign=True)
    assert seen == [{}, {"version": 1, "assign_to_params_buffers": True}]
    assert state._metadata == {"0": {"version": 1}}  # not changed by the load
