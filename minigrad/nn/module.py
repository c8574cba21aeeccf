"""``Module`` and ``Parameter``: PyTorch's way of grouping tensors into layers and models.

Assigning a ``Parameter`` or a ``Module`` to an attribute of a module registers it (``__setattr__``), so
``parameters()``, ``state_dict()``, ``to()`` and friends find it; buffers are registered explicitly with
``register_buffer``. Moving or casting a module (``to``, ``double``, ``float``) changes its parameters
and buffers *in place*: every ``Parameter`` keeps its identity, so an optimizer built before the move
still updates the same objects.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from .. import backends as _backends
from .. import devices as _devices
from ..dtypes import default_float, float32, float64
from ..errors import MinigradError
from ..grad_mode import _enabled, no_grad
from ..hooks import RemovableHandle, add_hook
from ..tensor import Tensor, _to_targets, tensor


class Parameter(Tensor):
    """A leaf tensor that a ``Module`` registers as one of its parameters (requires grad by default).

    ``Parameter(t)`` shares ``t``'s memory (and version counter) but is a new leaf, outside any graph.
    It is a ``Tensor`` subclass with no extra slots, so every op accepts it unchanged.
    """

    __slots__ = ()

    def __init__(self, data: Tensor | Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = tensor(np.zeros((0,), dtype=default_float()))
        elif not isinstance(data, Tensor):
            data = tensor(data)
        super().__init__(data.array, data._backend)
        self._vc = data._counter()  # same memory, same version counter
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """PyTorch's ``nn.Buffer``: a tensor that, assigned as a ``Module`` attribute, is registered as a buffer
    (``persistent=False``: left out of ``state_dict``). ``Buffer(t)`` shares ``t``'s memory and version counter,
    outside any graph, and requires grad if ``t`` does."""

    __slots__ = ("persistent",)

    def __init__(self, data: Tensor | Any = None, *, persistent: bool = True) -> None:
        if data is None:
            data = tensor(np.zeros((0,), dtype=default_float()))
        elif not isinstance(data, Tensor):
            data = tensor(data)
        super().__init__(data.array, data._backend)
        self._vc = data._counter()
        self.persistent = persistent
        if data.requires_grad:
            self.requires_grad_(True)


class StateDictError(MinigradError, RuntimeError):
    """``load_state_dict`` found missing, unexpected or wrong-shaped entries."""


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:  # PyTorch's, which scripts print after loading
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"


# Hooks common to every module (PyTorch's torch.nn.modules.module.register_module_*, made for debugging and
# profiling), by handle id. ``_global_call_hooks`` holds the ids of the forward and backward ones, so that
# ``Module.__call__`` tests one name before its fast path.
_global_forward_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_forward_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_forward_hooks_with_kwargs: set[int] = set()
_global_forward_hooks_always_called: set[int] = set()
_global_backward_pre_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_backward_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_call_hooks: set[int] = set()
_global_buffer_registration_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_module_registration_hooks: OrderedDict[int, Callable] = OrderedDict()
_global_parameter_registration_hooks: OrderedDict[int, Callable] = OrderedDict()


class Module:
    """Base class of layers and models: override ``forward`` and assign sub-modules and parameters."""

    training: bool
    _version: int = 1  # PyTorch's: the local_metadata["version"] that state-dict post-hooks receive

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        hooks = self.__dict__.get("_forward_hooks")
        pre_hooks = self.__dict__.get("_forward_pre_hooks")
        backward_hooks = self.__dict__.get("_backward_hooks") or self.__dict__.get("_backward_pre_hooks")
        if not hooks and not pre_hooks and not backward_hooks and not _global_call_hooks:
            return self.forward(*args, **kwargs)
        # PyTorch's order: the global hooks (register_module_*) before the module's own, each kind a snapshot.
        pre_hooks = (*_global_forward_pre_hooks.items(), *(pre_hooks.items() if pre_hooks else ()))
        hooks = (*_global_forward_hooks.items(), *(hooks.items() if hooks else ()))
        output, ran = None, set()  # PyTorch's: an always_call hook runs once, with None if forward raised
        try:
            backward_hooks = self._snapshot("_backward_hooks", _global_backward_hooks)
            backward_pre_hooks = self._snapshot("_backward_pre_hooks", _global_backward_pre_hooks)
            pre_with_kwargs = self.__dict__.get("_forward_pre_hooks_with_kwargs", ())
            for hook_id, hook in pre_hooks:
                if hook_id in pre_with_kwargs:
                    result = hook(self, args, kwargs)
                    if result is not None:
                        if not (isinstance(result, tuple) and len(result) == 2):
                            raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, "
                                               f"new_kwargs), but got {result}.")
                        args, kwargs = result
                else:
                    result = hook(self, args)
                    if result is not None:
                        args = result if isinstance(result, tuple) else (result,)
            state = None
            if (backward_hooks or backward_pre_hooks) and _grad_enabled():
                from ._backward_hooks import BackwardHookState

                state = BackwardHookState(self, backward_hooks, backward_pre_hooks)
                args = state.wrap_inputs(args)
            output = self.forward(*args, **kwargs)
            for hook_id, hook in hooks:
                ran.add(hook_id)
                output = self._run_forward_hook(hook_id, hook, args, kwargs, output)
            return output if state is None else state.wrap_outputs(output)
        except Exception:
            always = self.__dict__.get("_forward_hooks_always_called", ())
            for hook_id, hook in hooks:
                if (hook_id in always or hook_id in _global_forward_hooks_always_called) and hook_id not in ran:
                    try:
                        output = self._run_forward_hook(hook_id, hook, args, kwargs, output)
                    except Exception as error:  # the forward's own exception is the one to see
                        kind = "global module" if hook_id in _global_forward_hooks else "module"
                        warnings.warn(f"{kind} forward hook with ``always_call=True`` raised an exception that was "
                                      f"silenced as another error was raised in forward: {error}", stacklevel=2)
            raise

    def _run_forward_hook(self, hook_id: int, hook: Callable, args: tuple, kwargs: dict, output: Any) -> Any:
        with_kwargs = self.__dict__.get("_forward_hooks_with_kwargs", ())
        if hook_id in with_kwargs or hook_id in _global_forward_hooks_with_kwargs:
            result = hook(self, args, kwargs, output)
        else:
            result = hook(self, args, output)
        return output if result is None else result

    def _snapshot(self, registry_name: str, global_hooks: dict | None = None) -> tuple:
        """The hooks of one kind, the global ones first, as they stand now (a hook may add or remove hooks)."""
        own = self.__dict__.get(registry_name)
        return (*(global_hooks.values() if global_hooks else ()), *(own.values() if own else ()))

    # -- hooks --------------------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` before each ``forward``; a non-None result replaces the positional arguments
        (a tuple, or one value). With ``with_kwargs``, ``hook(module, args, kwargs)``, whose non-None result is
        a pair ``(args, kwargs)`` replacing both. ``prepend`` runs it before the hooks already registered."""
        return self._add_hook("_forward_pre_hooks", hook, prepend, {"_forward_pre_hooks_with_kwargs": with_kwargs})

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` after each ``forward``; a non-None result replaces the output. With
        ``with_kwargs``, ``hook(module, args, kwargs, output)``. With ``always_call``, it also runs when
        ``forward`` (or an earlier hook) raised, with the output so far (``None`` if ``forward`` raised); the
        exception is then raised again. ``prepend`` runs it before the hooks already registered."""
        return self._add_hook("_forward_hooks", hook, prepend, {"_forward_hooks_with_kwargs": with_kwargs,
                                                                "_forward_hooks_always_called": always_call})

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` once the gradients with respect to the module's positional
        inputs are computed: tuples with one entry per positional argument and per output (``None`` for a
        non-tensor or an input that needs no gradient). A non-None result (a tuple of the same length)
        replaces ``grad_input``. Where no input needs a gradient, the hook runs with ``grad_input`` all ``None``.
        ``prepend`` runs it before the hooks already registered."""
        return self._add_hook("_backward_hooks", hook, prepend)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        """PyTorch's deprecated hook (its gradients are those of the module's last op): not provided."""
        raise NotImplementedError(f"{self._get_name()}.register_backward_hook (deprecated in PyTorch) is not "
                                  "supported: use register_full_backward_hook, whose grad_input are the gradients of "
                                  "the module's inputs")

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output)`` when the gradients of the module's outputs arrive; a non-None result (a
        tuple of the same length) replaces ``grad_output`` for the rest of backward."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def _add_hook(self, registry_name: str, hook: Callable, prepend: bool = False,
                  options: dict[str, bool] | None = None) -> RemovableHandle:
        """Register ``hook`` in the module's ``registry_name``. ``options`` names the sets of hook ids that hold an
        option (a forward hook's ``with_kwargs``, ...) with whether this hook has it; removing the handle clears
        them."""
        options = options or {}
        flags = tuple(self._hook_registry(name, set) for name in options)
        registry = self._hook_registry(registry_name)
        handle = add_hook(registry, hook, flags)
        if prepend:
            registry.move_to_end(handle.id, last=False)
        for ids, on in zip(flags, options.values()):
            if on:
                ids.add(handle.id)
        return handle

    def _hook_registry(self, name: str, kind: type = OrderedDict):
        """The module's ``name`` registry (hooks by id, or a set of hook ids with an option), made on first use."""
        registry = self.__dict__.get(name)
        if registry is None:
            registry = kind()
            object.__setattr__(self, name, registry)
        return registry

    # -- registration -------------------------------------------------------------------------------
    def _check_ready(self) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign parameters or modules before {type(self).__name__}.__init__() calls "
                "super().__init__()"
            )

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a ``None`` placeholder, as for a layer without bias)."""
        self._check_ready()
        _check_name(self, name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign a {type(param).__name__} as parameter {name!r} of "
                f"{type(self).__name__}: wrap it in nn.Parameter(...) (or use register_buffer)"
            )
        if param is not None:  # PyTorch's: a None placeholder is not shown to the hooks
            param = _registered(_global_parameter_registration_hooks, self, name, param)
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, buffer: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. running statistics).

        Persistent buffers appear in ``state_dict()``; all buffers move and cast with the module.
        """
        self._check_ready()
        _check_name(self, name, "buffer")
        if buffer is not None and not isinstance(buffer, Tensor):
            raise TypeError(f"buffer {name!r} must be a Tensor or None, got {type(buffer).__name__}")
        buffer = _registered(_global_buffer_registration_hooks, self, name, buffer)
        self._forget(name, keep=self._buffers)
        self._buffers[name] = buffer
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module (``self.name = module`` does the same)."""
        self._check_ready()
        _check_name(self, name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module")
        module = _registered(_global_module_registration_hooks, self, name, module)
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    def _forget(self, name: str, keep: dict) -> None:
        """Drop ``name`` from the instance dict and the other registries (``keep`` keeps its order)."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif isinstance(value, Buffer):
            self.register_buffer(name, value, value.persistent)
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to parameter {name!r} of "
                    f"{type(self).__name__}: use nn.Parameter(...) or None"
                )
            self._parameters[name] = None
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} to child module {name!r}")
            self._modules[name] = _registered(_global_module_registration_hooks, self, name, None)
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r}")
            self._buffers[name] = _registered(_global_buffer_registration_hooks, self, name, value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    # -- traversal ----------------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first, each once (shared modules too)."""
        memo = set() if memo is None else memo
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in memo:
                    continue
                memo.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()
                        if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        seen: set[int] = set()
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs; a parameter shared by two modules appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The descendant at a dotted path (``""`` is this module)."""
        module: Module = self
        for part in target.split(".") if target else ():
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (in {target!r})")
            module = child
        return module

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Replace (or, unless ``strict``, add) the descendant at a dotted path, as PyTorch's."""
        if not target:
            raise ValueError("set_submodule: cannot set the submodule without a target name")
        *path, name = target.split(".")
        parent: Module = self
        for part in path:
            if not hasattr(parent, part):
                raise AttributeError(f"{parent._get_name()} has no attribute `{part}` (in {target!r})")
            parent = getattr(parent, part)
            if not isinstance(parent, Module):
                raise AttributeError(f"`{part}` is not an nn.Module (in {target!r})")
        if not isinstance(module, Module):
            raise ValueError(f"set_submodule: `module` is not an nn.Module, found {type(module).__name__}")
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}` (in {target!r})")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module (in {target!r})")
        setattr(parent, name, module)

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at a dotted path (``"encoder.0.weight"``)."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}` (in {target!r})")
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter (in {target!r})")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at a dotted path (``"bn.running_mean"``)."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}` (in {target!r})")
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer (in {target!r})")
        return module._buffers[name]

    # -- modes and gradients ------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant (Dropout, BatchNorm read it)."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (to ``None`` by default, as PyTorch 2 does)."""
        for p in self.parameters():
            _zero_grad(p, set_to_none)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every descendant, then on this module (e.g. custom initialisation)."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- moving and casting -------------------------------------------------------------------------
    def _apply_arrays(self, convert: Callable[[Tensor], tuple | None], recurse: bool = True) -> Module:
        """Replace the memory of every parameter, gradient and buffer in place (``recurse=False``: this module's
        own only).

        ``convert(t)`` returns ``(array, backend)`` or ``None`` to leave ``t`` alone. Tensors keep their
        identity; their version counter is bumped, so a graph recorded before the move cannot
        silently backward through the new values.
        """
        with no_grad():
            for t in list(self.parameters(recurse)) + list(self.buffers(recurse)):
                new = convert(t)
                if new is None:
                    continue
                t.array, t._backend = new
                t._bump_version()
                if t.grad is not None:
                    g = convert(t.grad)
                    if g is not None:
                        t.grad = Tensor(g[0], g[1])
        return self

    def to(self, *targets: Any, dtype: Any = None, backend: str | None = None, device: Any = None,
           non_blocking: bool = False) -> Module:
        """Move every parameter and buffer to a backend, and/or cast the floating ones to a dtype.

        The forms of ``Tensor.to``: ``m.to("numba")``, ``m.to("float64")``, ``m.to("numba", "float64")``,
        ``m.to(tensor)``, a device (``m.to("cpu")``, ``m.to("cuda")``, ``device=``), keywords
        ``dtype=``/``backend=``. In place, as in PyTorch: ``Parameter`` objects keep their identity; integer
        buffers (counters) keep their dtype. ``non_blocking`` (also positional, after the targets, as PyTorch's)
        has no effect: copies are synchronous.
        """
        if targets and isinstance(targets[-1], bool):
            targets = targets[:-1]
        backend, dtype = _to_targets("Module.to", targets, backend, dtype, device)
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes are supported, got {dtype.name}")
        if backend is not None:
            target_of = _placement("Module.to", backend)

            def move(t: Tensor):
                target = target_of(t)
                if t._backend is target:
                    return None
                return target.from_numpy(t._backend.to_numpy(t.array)), target

            self._apply_arrays(move)
        return self if dtype is None else self._cast(dtype)

    def to_empty(self, *, device: Any, recurse: bool = True) -> Module:
        """Replace every parameter and buffer (and gradient) with an uninitialised tensor of its shape and dtype on
        ``device`` (a device or a backend name, as ``to``'s; ``None`` keeps each tensor's), in place as ``to``.
        PyTorch's way to materialise a module built on the meta device, which minigrad does not have: here it
        only drops the values, so re-initialise them (``reset_parameters()``, ``load_state_dict``).
        ``recurse=False`` leaves the children alone."""
        backend, dtype = _to_targets("Module.to_empty", (), None, None, device)
        if dtype is not None:
            raise TypeError(f"Module.to_empty: device must be a device or a backend name, got {device!r}")
        target_of = (lambda t: t._backend) if backend is None else _placement("Module.to_empty", backend)

        def empty(t: Tensor):
            target = target_of(t)
            return target.empty(t.shape, t.dtype), target

        return self._apply_arrays(empty, recurse)

    def _cast(self, dtype) -> Module:
        def cast(t: Tensor):
            if t.dtype.kind != "f" or t.dtype == dtype:
                return None  # integer buffers (counters) keep their dtype, as in PyTorch
            return t._backend.astype(t.array, dtype), t._backend

        return self._apply_arrays(cast)

    def double(self) -> Module:
        return self._cast(float64)

    def float(self) -> Module:
        return self._cast(float32)

    def cuda(self, device: Any = None) -> Module:
        """Move to the CuPy backend (``"cuda"``; an index other than 0 is refused, as ``to("cuda:1")``)."""
        return self.to(device="cuda" if device is None else device if not isinstance(device, int)
                       else f"cuda:{device}")

    def type(self, dst_type: Any) -> Module:
        """Cast every parameter and buffer (integer buffers too, as PyTorch) to a floating dtype."""
        from ..dtypes import as_dtype

        dtype = as_dtype(dst_type)
        if dtype.kind != "f":
            raise TypeError(f"Module.type: only floating dtypes are supported (parameters must stay floating), "
                            f"got {dtype.name}")
        return self._apply_arrays(lambda t: None if t.dtype == dtype else (t._backend.astype(t.array, dtype),
                                                                           t._backend))

    def half(self) -> Module:
        raise TypeError("Module.half: minigrad has no float16 dtype; use float() or double()")

    def bfloat16(self) -> Module:
        raise TypeError("Module.bfloat16: minigrad has no bfloat16 dtype; use float() or double()")

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """PyTorch compiles ``forward`` with ``torch.compile``; minigrad has no compiler, and the results are the
        same without one, so this does nothing (the arguments are accepted and ignored)."""

    def share_memory(self) -> Module:
        """A no-op: minigrad has no multiprocessing tensors to move into shared memory."""
        return self

    def cpu(self) -> Module:
        """Move to the NumPy backend when on a device backend (host-memory backends stay where they are)."""
        on_gpu = any(not t._backend.host_memory for t in list(self.parameters()) + list(self.buffers()))
        return self.to("numpy") if on_gpu else self

    # -- state dict ---------------------------------------------------------------------------------
    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name (``prefix`` prepended as given); values are detached
        (they share memory). The state-dict hooks run as PyTorch's: this module's pre-hooks first, its post-hooks
        once its children are saved."""
        out: OrderedDict[str, Tensor] = OrderedDict() if destination is None else destination
        for hook in self._snapshot("_state_dict_pre_hooks"):
            hook(self, prefix, keep_vars)
        for name, t in self._own_state().items():  # prefix prepended as given: "net." gives "net.weight"
            out[prefix + name] = t if keep_vars else t.detach()
        if self._has_extra_state():
            out[prefix + _EXTRA_STATE] = self.get_extra_state()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(out, f"{prefix}{name}.", keep_vars)
        post_hooks = self.__dict__.get("_state_dict_hooks")
        if post_hooks:
            local_metadata = {"version": self._version}  # what PyTorch passes (minigrad stores no metadata)
            legacy = self.__dict__.get("_state_dict_hooks_legacy", ())
            for hook_id, hook in tuple(post_hooks.items()):
                result = hook(self, out, prefix, local_metadata)
                if hook_id in legacy:  # the private hook's result replaces the dict, at the root only (PyTorch's)
                    out = out if result is None else result
                elif result is not None:
                    raise RuntimeError("state_dict post-hook must return None")
        return out

    def _own_state(self) -> dict[str, Tensor]:
        """This module's parameters and persistent buffers (not its children's), ``None`` ones left out."""
        own = {name: p for name, p in self._parameters.items() if p is not None}
        own.update((name, b) for name, b in self._buffers.items()
                   if b is not None and name not in self._non_persistent_buffers)
        return own

    def get_extra_state(self) -> Any:
        """Override (with ``set_extra_state``) to keep non-tensor state in ``state_dict`` under ``"_extra_state"``."""
        raise RuntimeError(f"{self._get_name()}.get_extra_state() is only called where a module overrides it")

    def set_extra_state(self, state: Any) -> None:
        """Receives what ``get_extra_state`` returned, from ``load_state_dict``."""
        raise RuntimeError(f"{self._get_name()}.set_extra_state() is only called where a module overrides "
                           "get_extra_state; override it too")

    def _has_extra_state(self) -> bool:
        return type(self).get_extra_state is not Module.get_extra_state

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> IncompatibleKeys:
        """Copy values into the parameters and buffers in place (cast to their dtype and backend).

        With ``strict=True``, missing and unexpected keys are errors; a wrong shape always is. All problems
        are reported together and nothing is changed unless every check passes (unless a load post-hook ran: see
        ``register_load_state_dict_post_hook``). With ``assign=True`` the checkpoint's tensors become the
        parameters and buffers (their dtype and backend kept; a parameter is wrapped in a new ``Parameter`` that
        keeps the old one's ``requires_grad``), as PyTorch's. Uninitialised lazy modules (nn/lazy.py) first take
        the checkpoint's shapes, as PyTorch's load hook, and are restored if the checks fail.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a mapping, got {type(state_dict).__name__}")
        from ._loading import load_state_dict

        return load_state_dict(self, state_dict, strict, assign)

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, prefix, keep_vars)`` before ``state_dict`` saves this module."""
        return self._add_hook("_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata)`` once ``state_dict`` has saved this module and its
        children; it may change ``state_dict`` in place, and must return None. ``local_metadata`` is
        ``{"version": module._version}``, as PyTorch's."""
        return self._add_hook("_state_dict_hooks", hook)

    def _register_state_dict_hook(self, hook: Callable) -> RemovableHandle:
        """PyTorch's older post-hook: as ``register_state_dict_post_hook``'s, but a non-None result replaces the
        state dict where ``state_dict`` was called on this module itself (a child's result is ignored)."""
        return self._add_hook("_state_dict_hooks", hook, options={"_state_dict_hooks_legacy": True})

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)``
        before ``load_state_dict`` loads this module's entries, as PyTorch's: ``state_dict`` holds the entries
        under ``prefix`` (a copy the hook may change: renamed entries load in their new place), ``strict`` is
        always True (the keys are always collected), and the three lists may be appended to. ``local_metadata``
        is ``{}`` (minigrad's state dicts carry no ``_metadata``; a mapping that has one gives its entry), with
        ``"assign_to_params_buffers": True`` under ``assign=True``."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def _register_load_state_dict_pre_hook(self, hook: Callable, with_module: bool = False) -> RemovableHandle:
        """PyTorch's private form: without ``with_module``, the hook is called without the module."""
        return self._add_hook("_load_state_dict_pre_hooks", hook,
                              options={"_load_state_dict_pre_hooks_with_module": with_module})

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, incompatible_keys)`` once ``load_state_dict`` has loaded this module and its children:
        ``incompatible_keys`` holds the lists of missing and unexpected keys found so far, which the hook may
        change in place (a strict load fails on what they hold at the end); the hook must return None. The values
        checked so far are copied before the hook runs, so a load that fails afterwards keeps them, as PyTorch's
        (without post-hooks, a failed load changes nothing)."""
        return self._add_hook("_load_state_dict_post_hooks", hook)

    # -- repr ---------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's configuration, shown inside its parentheses by ``repr``."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        if not lines:
            return f"{self._get_name()}()"
        if len(lines) == 1 and not self._modules:
            return f"{self._get_name()}({lines[0]})"
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"


_EXTRA_STATE = "_extra_state"  # PyTorch's state-dict key for get_extra_state()


# -- hooks common to all modules (torch.nn.modules.module's functions) ------------------------------------------
def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, args)`` before every module's ``forward``, before the module's own pre-hooks; a non-None
    result replaces the positional arguments, as ``Module.register_forward_pre_hook``'s."""
    return _add_global_hook(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """``hook(module, args, output)`` after every module's ``forward``, before the module's own forward hooks;
    ``with_kwargs`` and ``always_call`` as in ``Module.register_forward_hook``."""
    return _add_global_hook(_global_forward_hooks, hook, ((_global_forward_hooks_with_kwargs, with_kwargs),
                                                          (_global_forward_hooks_always_called, always_call)))


def register_module_full_backward_pre_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, grad_output)`` for every module, before the module's own backward pre-hooks."""
    return _add_global_hook(_global_backward_pre_hooks, hook)


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, grad_input, grad_output)`` for every module, before the module's own backward hooks."""
    return _add_global_hook(_global_backward_hooks, hook)


def register_module_backward_hook(hook: Callable) -> RemovableHandle:
    """PyTorch's deprecated global hook (the gradients of each module's last op): not provided."""
    raise NotImplementedError("register_module_backward_hook (deprecated in PyTorch) is not supported: use "
                              "register_module_full_backward_hook")


def register_module_buffer_registration_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, name, buffer)`` each time a module registers a buffer (``None`` too); a non-None result
    is registered instead."""
    return add_hook(_global_buffer_registration_hooks, hook)


def register_module_module_registration_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, name, submodule)`` each time a module registers a child (``None`` too); a non-None result
    is registered instead."""
    return add_hook(_global_module_registration_hooks, hook)


def register_module_parameter_registration_hook(hook: Callable) -> RemovableHandle:
    """``hook(module, name, param)`` each time a module registers a parameter (not a ``None`` placeholder); a
    non-None result is registered instead."""
    return add_hook(_global_parameter_registration_hooks, hook)


def _add_global_hook(registry: dict, hook: Callable, options: tuple = ()) -> RemovableHandle:
    """A forward or backward hook for every module. Its id also goes into ``_global_call_hooks`` and into the
    option sets that are on (``options``: pairs of a set and a flag), and leaves them with it."""
    flags = (_global_call_hooks, *(ids for ids, _ in options))
    handle = add_hook(registry, hook, flags)
    for ids in (_global_call_hooks, *(ids for ids, on in options if on)):
        ids.add(handle.id)
    return handle


def _registered(hooks: dict, module: Module, name: str, value: Any) -> Any:
    """``value`` as the global registration ``hooks`` leave it (each may return a replacement)."""
    for hook in tuple(hooks.values()):
        result = hook(module, name, value)
        if result is not None:
            value = result
    return value


def _placement(where: str, backend: Any) -> Callable[[Tensor], Any]:
    """The backend object each tensor goes to for ``to``'s backend name or device (``_to_targets``'s result)."""
    if isinstance(backend, _devices.device):  # per tensor: "cpu" keeps NumPy and Numba tensors
        return lambda t: _backends.load(_devices.backend_for(backend, where, t._backend))
    fixed = _backends.load(backend)  # an unavailable backend fails before anything moves
    return lambda t: fixed


def _grad_enabled() -> bool:
    return _enabled.get()


def _check_name(module: Module, name: str, kind: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f"{kind} name {name!r} must be non-empty and contain no '.'")
    if hasattr(type(module), name) and name not in module._parameters and name not in module._buffers \
            and name not in module._modules:
        raise KeyError(f"attribute {name!r} of {type(module).__name__} already exists; pick another name")


def _zero_grad(p: Tensor, set_to_none: bool) -> None:
    if p.grad is None:
        return
    if set_to_none:
        p.grad = None
    else:
        with no_grad():
            if p.grad.grad_fn is not None:
                p.grad = p.grad.detach()
            p.grad.zero_()


def _host_values(value: Any) -> np.ndarray | None:
    """A state-dict value as a host array (tensors of any backend, NumPy arrays, numbers)."""
    if isinstance(value, Tensor):
        return value._backend.to_numpy(value.array)
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (int, float, np.generic)):
        return np.asarray(value)
    return None
