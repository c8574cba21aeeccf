"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and state dicts, as in PyTorch.

Subclasses implement ``_update_group``; ``step`` runs it under ``no_grad``, after ``_prepare_step`` has
checked everything that could fail (so a step is all-or-nothing) and moved state to where its parameter now
lives. Parameters change in place and
their version counters see every update (in-place tensor ops bump them; SGD, which writes the backend
arrays directly, bumps them itself), so a graph that saved an old value of a parameter refuses to backward
through it.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._quiet import restore, silence
from ..errors import ShapeError
from ..grad_mode import enable_grad, no_grad
from ..tensor import Tensor


class Optimizer:
    """Base class: holds ``param_groups`` (dicts with ``"params"`` and hyperparameters) and ``state``."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of tensors or of dicts, got a single Tensor; "
                            "pass model.parameters() or [tensor]")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters; hyperparameters it does not set come from the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can only optimize leaf tensors (shape {p.shape} is "
                                 "the result of an op); detach() it or use a Parameter")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError("some parameters appear more than once (within a group or in several groups)")
        group = {**self.defaults, **param_group, "params": params}
        for key, value in group.items():
            if value is _REQUIRED:
                raise ValueError(f"parameter group didn't specify a value of required hyperparameter {key!r}")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (to ``None`` by default, as PyTorch 2 does)."""
        if set_to_none:  # the common case, once per step: no per-parameter call
            for group in self.param_groups:
                for p in group["params"]:
                    p.grad = None
            return
        from ..nn.module import _zero_grad

        for group in self.param_groups:
            for p in group["params"]:
                _zero_grad(p, set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given.

        The update runs under ``no_grad`` with in-place ops, so version counters see it."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            self._prepare_step()
            # Without NumPy's warnings, as every op (_quiet.py): under a "error" warnings filter, a warning
            # raised midway would leave the step half applied.
            token = silence()
            try:
                for group in self.param_groups:
                    self._update_group(group)
            finally:
                restore(token)
        return loss

    def _prepare_step(self) -> None:
        """Everything that can fail, before anything is written, so a failed step changes nothing.

        Checks each gradient against its parameter (shape, dtype, backend) and each group's learning rate,
        then moves state that no longer matches its parameter (after ``model.to(...)``) to the parameter's
        backend and dtype.
        """
        name = type(self).__name__
        moves = []
        for i, group in enumerate(self.param_groups):
            lr = group.get("lr")
            if type(lr) is not float and lr is not None and (isinstance(lr, bool) or not isinstance(lr, numbers.Real)):
                raise TypeError(f"{name}.step: parameter group {i} has lr {lr!r}; it must be a number")
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g, w = grad.array, p.array  # the arrays' attributes: this runs per parameter per step
                if g.shape != w.shape or g.dtype != w.dtype or grad._backend is not p._backend:
                    raise ShapeError(
                        f"{name}: the gradient ({grad.shape} {grad.dtype.name} on {grad.backend!r}) does "
                        f"not match its parameter ({p.shape} {p.dtype.name} on {p.backend!r}); nothing was "
                        "updated"
                    )
                state = self.state.get(p) if self.state else None
                if state:
                    stale = {k: _like_param(v, p, k) for k, v in state.items() if _misplaced(v, p)}
                    if stale:
                        moves.append((state, stale))
        for state, stale in moves:
            state.update(stale)

    def _update_group(self, group: dict) -> None:
        """Update the parameters of one group (each optimizer's rule)."""
        raise NotImplementedError

    def _gradients(self, group: dict) -> Iterator[tuple[Tensor, Tensor, dict[str, Any]]]:
        """``(param, grad, state)`` for each parameter of ``group`` that has a gradient: the gradient negated
        when the group maximizes, the state dict created empty on first use (the rule fills it)."""
        for p in group["params"]:
            if p.grad is not None:
                yield p, (-p.grad if group.get("maximize") else p.grad), self.state.setdefault(p, {})

    # -- state dict -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``, PyTorch's layout.

        Parameters are numbered in group order; state tensors are the live ones (not copies), as in PyTorch.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["params"] = [index[id(p)] for p in group["params"]]
            groups.append(saved)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state; tensors are copied to each parameter's backend and dtype."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter group(s), this optimizer "
                             f"has {len(self.param_groups)}")
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"parameter group {i}: the loaded state dict has {len(saved['params'])} "
                                 f"parameters, this optimizer {len(group['params'])}")
        by_index = {}
        for saved, group in zip(saved_groups, self.param_groups):
            for idx, p in zip(saved["params"], group["params"]):
                by_index[int(idx)] = p
        new_state: dict[Tensor, dict[str, Any]] = {}
        for idx, values in state_dict["state"].items():
            p = by_index.get(int(idx))
            if p is None:
                raise ValueError(f"loaded state dict has state for parameter {idx!r}, which no group holds")
            new_state[p] = {k: _like_param(v, p, k) for k, v in values.items()}
        for saved, group in zip(saved_groups, self.param_groups):
            for key, value in saved.items():
                if key != "params":
                    group[key] = copy.deepcopy(value)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        lines.append(")")
        return "\n".join(lines)


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


_REQUIRED = _Required()


# State that minigrad keeps as Python floats (PyTorch: 0-d tensors): NAdam's mu_product, ASGD's eta and mu,
# LBFGS's scalars.
_SCALAR_STATE = frozenset({"mu_product", "eta", "mu", "t", "H_diag", "ro", "al", "prev_loss"})


def _misplaced(value: Any, param: Tensor) -> bool:
    """Whether a state tensor lives on another backend, or in another floating dtype, than its parameter."""
    return isinstance(value, Tensor) and (
        value._backend is not param._backend or value.dtype.kind == "f" and value.dtype != param.dtype
    )


def _like_param(value: Any, param: Tensor, key: str) -> Any:
    """A loaded state value as a fresh tensor on the parameter's backend (floating ones in its dtype)."""
    import numpy as np

    if isinstance(value, list):  # LBFGS's curvature pairs
        return [_like_param(v, param, key) for v in value]
    if isinstance(value, Tensor):
        host = value._backend.to_numpy(value.array)
    elif isinstance(value, np.ndarray):
        host = value
    else:
        return copy.deepcopy(value)
    if key in ("step", "func_evals", "n_iter"):
        return int(host) if host.ndim == 0 else host.copy()
    if key in _SCALAR_STATE and host.ndim == 0:
        return float(host)
    if host.dtype.kind == "f":
        host = host.astype(param.dtype, copy=False)
    return Tensor(param._backend.from_numpy(host), param._backend)
