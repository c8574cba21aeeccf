"""``Module.load_state_dict``: PyTorch's walk over the modules, with the copying deferred while it can be.

The walk is PyTorch's ``load``: for each module, depth first, its load pre-hooks run on the entries under its
prefix (the root gets a copy of the checkpoint, each child a copy of its parent's entries under the child's
prefix, so a hook may rename entries for its subtree), then its own entries are checked, then its children are
walked, then its post-hooks run. The checked values are copied at the end, once every check has passed, so a
failed load changes nothing; but a module's post-hooks must see the values loaded, so before they run, the values
checked so far are copied, and a load that fails after that keeps them, as PyTorch's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..grad_mode import no_grad
from ..tensor import Tensor
from .module import _EXTRA_STATE, IncompatibleKeys, Module, Parameter, StateDictError, _host_values


class StateDictLoad:
    """One ``load_state_dict`` call: ``walk`` checks (and copies before post-hooks), ``finish`` copies the rest."""

    def __init__(self, state_dict: Mapping[str, Any], assign: bool) -> None:
        self.metadata = getattr(state_dict, "_metadata", None)  # PyTorch's per-module metadata, where a dict has it
        self.assign = assign
        # The lists the hooks receive (PyTorch's missing_keys, unexpected_keys, error_msgs).
        self.missing: list[str] = []
        self.unexpected: list[str] = []
        self.errors: list[str] = []
        self.lazy_missing: set[str] = set()
        self.undo: list = []  # restores lazy modules that the checkpoint built
        self.pending: list[tuple] = []  # checked and not yet copied: (module, name, target tensor, value, host array)
        self.pending_extra: list[tuple] = []  # (module, its extra state)
        self.copied = False  # whether anything was copied (for a post-hook)

    def walk(self, module: Module, local: dict, prefix: str) -> None:
        local_metadata = {} if self.metadata is None else dict(self.metadata.get(prefix[:-1], {}))
        if self.assign:
            local_metadata["assign_to_params_buffers"] = True
        if hasattr(module, "_fill_missing_state"):  # a default for an entry older checkpoints lack (BatchNorm's)
            module._fill_missing_state(local, prefix, local_metadata)
        if hasattr(module, "_lazy_load"):  # an uninitialised lazy module takes the checkpoint's shapes first
            restore, keys = module._lazy_load(local, prefix)
            self.undo += [restore] if restore else []
            self.missing += keys
            self.lazy_missing.update(keys)
        with_module = module.__dict__.get("_load_state_dict_pre_hooks_with_module", ())
        for hook_id, hook in tuple(module.__dict__.get("_load_state_dict_pre_hooks", {}).items()):
            args = (local, prefix, local_metadata, True, self.missing, self.unexpected, self.errors)
            hook(module, *args) if hook_id in with_module else hook(*args)
        own = module._own_state()
        for name, target in own.items():
            key = prefix + name
            if key in local:
                self._check(module, name, key, target, local[key])
            else:
                self.missing.append(key)
        extra_key = prefix + _EXTRA_STATE
        if module._has_extra_state():
            if extra_key in local:
                self.pending_extra.append((module, local[extra_key]))
            else:
                self.missing.append(extra_key)
        for key in local:
            if key.startswith(prefix) and not (key == extra_key and module._has_extra_state()):
                head, dot, _ = key[len(prefix):].partition(".")
                if (module._modules.get(head) is None) if dot else head not in own:
                    self.unexpected.append(key)
        for name, child in module._modules.items():
            if child is not None:
                child_prefix = f"{prefix}{name}."
                self.walk(child, {k: v for k, v in local.items() if k.startswith(child_prefix)}, child_prefix)
        post_hooks = tuple(module.__dict__.get("_load_state_dict_post_hooks", {}).values())
        if post_hooks:
            self.copy()
            self.copied = True
            keys = IncompatibleKeys(self.missing, self.unexpected)  # the hooks may change the lists in place
            for hook in post_hooks:
                if hook(module, keys) is not None:
                    raise AssertionError("Hooks registered with ``register_load_state_dict_post_hook`` are not "
                                         "expected to return new values, if incompatible_keys need to be modified, "
                                         "it should be done inplace.")

    def _check(self, module: Module, name: str, key: str, target: Tensor, value: Any) -> None:
        source = _host_values(value)
        if source is None:
            self.errors.append(f"{key!r}: expected a tensor or an array, got {type(value).__name__}")
        elif tuple(source.shape) != tuple(target.shape):
            self.errors.append(f"size mismatch for {key!r}: the checkpoint has shape {tuple(source.shape)}, the "
                               f"model has shape {tuple(target.shape)}")
        elif source.dtype.kind == "f" and target.dtype.kind != "f":
            self.errors.append(f"{key!r}: cannot load {source.dtype.name} values into a {target.dtype.name} tensor")
        elif self.assign and not isinstance(value, Tensor):
            self.errors.append(f"{key!r}: assign=True needs a tensor, got {type(value).__name__}")
        else:
            self.pending.append((module, name, target, value, source))

    def copy(self) -> None:
        """Copy (or assign) the values checked so far: extra states first, then parameters and buffers."""
        pending, extra, self.pending, self.pending_extra = self.pending, self.pending_extra, [], []
        for module, state in extra:
            module.set_extra_state(state)
        with no_grad():
            for module, name, target, value, source in pending:
                if not self.assign:
                    target.copy_(Tensor(target._backend.from_numpy(source), target._backend))
                elif name in module._parameters:  # a new Parameter keeping the old one's requires_grad
                    setattr(module, name, Parameter(value.detach(), target.requires_grad))
                else:
                    setattr(module, name, value.detach())

    def error(self, root: Module, strict: bool) -> StateDictError:
        """Every problem in one message: the missing and unexpected keys (if ``strict``), then the others."""
        problems = []
        if strict and self.missing:
            problems.append("missing key(s): " + ", ".join(repr(k) for k in self.missing))
        if strict and self.lazy_missing.intersection(self.missing):
            problems.append("a lazy module's parameters do not exist yet: run one forward (a dry run) first, or "
                            "load a state dict that holds its 'weight'")
        if strict and self.unexpected:
            problems.append("unexpected key(s): " + ", ".join(repr(k) for k in self.unexpected))
        return StateDictError(f"error(s) in loading state_dict for {type(root).__name__}:\n  "
                              + "\n  ".join(problems + self.errors))


def load_state_dict(root: Module, state_dict: Mapping[str, Any], strict: bool, assign: bool) -> IncompatibleKeys:
    load = StateDictLoad(state_dict, assign)
    try:
        load.walk(root, OrderedDict(state_dict), "")
        if load.errors or (strict and (load.missing or load.unexpected)):
            raise load.error(root, strict)
    except BaseException:
        if not load.copied:  # nothing loaded: the lazy modules go back to waiting for their shapes
            for restore in reversed(load.undo):
                restore()
        raise
    load.copy()
    return IncompatibleKeys(load.missing, load.unexpected)
