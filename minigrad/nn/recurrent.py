"""Recurrent layers with PyTorch's names, parameters, gate order and initialisation: ``RNNCell``, ``LSTMCell``,
``GRUCell``, ``RNN``, ``LSTM``, ``GRU``.

Everything is a composite of differentiable ops (``linear``, ``sigmoid``, ``tanh``, slicing, ``stack``), so
gradients of every order and every backend come for free. The input projections of a whole sequence are one
matmul per layer and direction; only the recurrent product runs step by step.
"""

from __future__ import annotations

import math
import numbers
import warnings

from .. import creation as _creation
from ..errors import ShapeError
from ..function import Function
from ..ops import cat, index_select, relu, sigmoid, stack, tanh
from ..tensor import Tensor
from . import functional as F  # noqa: N812 - PyTorch's convention
from . import init
from .layers import _empty
from .module import Module
from .utils.rnn import PackedSequence

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _TimeSteps(Function):
    """The consecutive blocks of ``sizes`` rows of ``x`` (one per time step: all L rows of a padded sequence
    (L, N, ...) with ``sizes=None``, or the steps of a packed one). Slicing step by step would be a composite,
    but each slice's backward writes a zero-padded copy of the whole sequence (O(L^2) in all); here the
    backward joins the L gradients once."""

    @staticmethod
    def forward(ctx, x, sizes=None):
        ctx.packed, ctx.sizes = sizes is not None, sizes
        if sizes is None:
            return tuple(x.array[t] for t in range(x.shape[0]))  # views: the sequence is private to the layer
        starts = [0]
        for n in sizes:
            starts.append(starts[-1] + n)
        return tuple(x.array[a:b] for a, b in zip(starts, starts[1:]))

    @staticmethod
    def backward(ctx, *grads):
        like = next(g for g in grads if g is not None)
        if not ctx.packed:
            zeros = _creation.zeros(*like.shape, dtype=like.dtype, backend=like.backend)
            return stack([zeros if g is None else g for g in grads], 0)
        return cat([g if g is not None else _creation.zeros(n, *like.shape[1:], dtype=like.dtype,
                                                            backend=like.backend)
                    for g, n in zip(grads, ctx.sizes)], 0)


# -- one time step, shared by the cells and the layers ------------------------------------------------
# ``gi`` is the input projection x @ W_ih.T + b_ih of this step, computed beforehand.
def _rnn_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, activation) -> Tensor:
    return activation(gi + F.linear(h, w_hh, b_hh))


def _lstm_step(gi: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh: Tensor | None,
               w_hr: Tensor | None = None) -> tuple[Tensor, Tensor]:
    i, f, g, o = (gi + F.linear(h, w_hh, b_hh)).chunk(4, -1)  # PyTorch's gate order: input, forget, cell, output
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    h = sigmoid(o) * tanh(c)
    return (h if w_hr is None else F.linear(h, w_hr)), c


def _gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    gh = F.linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, -1)  # PyTorch's gate order: reset, update, new
    h_r, h_z, h_n = gh.chunk(3, -1)
    r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
    n = tanh(i_n + r * h_n)  # the reset gate scales W_hn h + b_hn, as PyTorch (and cuDNN) do
    return (1 - z) * n + z * h


def _check_dtype(name: str, input: Tensor, weight: Tensor) -> None:  # noqa: A002
    if input.dtype != weight.dtype:  # PyTorch refuses to mix them too
        raise ValueError(f"{name}: input dtype ({input.dtype.name}) does not match weight dtype ({weight.dtype.name}). "
                         f"Convert input: input.to({weight.dtype.name!r}), or convert model: "
                         f"model.to({input.dtype.name!r})")


def _check_sizes(name: str, input_size, hidden_size) -> None:
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name}: {arg} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{name}: {arg} must be greater than zero, got {value}")


# -- cells ----------------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """weight_ih (gates * hidden, input), weight_hh (gates * hidden, hidden), bias_ih and bias_hh (gates *
    hidden), all ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, *, dtype=None,
                 backend: str | None = None) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = _empty((num_chunks * hidden_size, input_size), dtype, backend)
        self.weight_hh = _empty((num_chunks * hidden_size, hidden_size), dtype, backend)
        self.register_parameter("bias_ih", _empty((num_chunks * hidden_size,), dtype, backend) if bias else None)
        self.register_parameter("bias_hh", _empty((num_chunks * hidden_size,), dtype, backend) if bias else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input: Tensor) -> tuple[Tensor, bool]:  # noqa: A002
        """The input as a batch (N, input_size), and whether it was one."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a tensor input, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead "
                             f"(shape {input.shape})")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input has {input.shape[-1]} features (shape {input.shape}), expected "
                             f"input_size={self.input_size}")
        _check_dtype(name, input, self.weight_ih)
        return (input if input.ndim == 2 else input.unsqueeze(0)), input.ndim == 2

    def _state(self, hx: Tensor | None, batch: Tensor, batched: bool, what: str = "hidden") -> Tensor:
        """``hx`` as (N, hidden_size), zeros when None; its shape checked against the input's."""
        name = type(self).__name__
        if hx is None:
            return _creation.zeros(batch.shape[0], self.hidden_size, dtype=batch.dtype, backend=batch.backend)
        if hx.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {hx.ndim}D instead (shape {hx.shape})")
        expected = (batch.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if tuple(hx.shape) != expected:
            raise ShapeError(f"{name}: {what} has shape {hx.shape}, expected {expected} for input of shape "
                             f"{batch.shape if batched else batch.shape[1:]}")
        return hx if batched else hx.unsqueeze(0)


class RNNCell(RNNCellBase):
    """h' = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh) (or relu); input (N, input_size) or (input_size,)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", *,
                 dtype=None, backend: str | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, 1, dtype=dtype, backend=backend)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, batched = self._prepare(input)
        h = self._state(hx, x, batched)
        act = tanh if self.nonlinearity == "tanh" else relu
        out = _rnn_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh, act)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; ``hx`` is ``(h, c)`` (zeros when None); returns ``(h', c')``. Gates i, f, g, o."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, dtype=None,
                 backend: str | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype=dtype, backend=backend)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, batched = self._prepare(input)
        if hx is None:
            h = c = self._state(None, x, batched)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTMCell: hx must be a pair (h, c) of tensors")
            h, c = self._state(hx[0], x, batched, "hx[0]"), self._state(hx[1], x, batched, "hx[1]")
        h, c = _lstm_step(F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: r, z = sigmoid(...), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, dtype=None,
                 backend: str | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype=dtype, backend=backend)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, batched = self._prepare(input)
        h = self._state(hx, x, batched)
        out = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return out if batched else out.squeeze(0)


# -- multi-layer, possibly bidirectional layers -------------------------------------------------------
class RNNBase(Module):
    """The layers' common part: PyTorch's constructor checks, parameters ``weight_ih_l{k}[_reverse]``, ... in
    PyTorch's order, and the forward pass over layers and directions."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 *, dtype=None, backend: str | None = None) -> None:
        super().__init__()
        name = mode.split("_")[0]
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability of "
                             f"an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=3)
        for arg, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(f"{name}: {arg} should be of type bool, got: {type(value).__name__}")
        _check_sizes(name, input_size, hidden_size)
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be greater than zero, got {num_layers!r}")
        if not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a positive integer or zero to disable projections, "
                             f"got {proj_size!r}")
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, got proj_size={proj_size} and "
                             f"hidden_size={hidden_size}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        out_size = proj_size or hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * directions
            for direction in range(directions):
                suffix = "_reverse" if direction else ""
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, out_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                names = []
                for kind, shape in shapes.items():
                    names.append(f"{kind}_l{layer}{suffix}")
                    setattr(self, names[-1], _empty(shape, dtype, backend))
                self._flat_weights_names += names
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self) -> None:
        """Nothing to do: PyTorch packs the weights for cuDNN here; minigrad keeps them as they are."""

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """The parameters per layer and direction, in PyTorch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def _check_state(self, hx: Tensor, expected: tuple, batched: bool, what: str) -> Tensor:
        name = self.mode.split("_")[0]
        if not isinstance(hx, Tensor):
            raise TypeError(f"{name}: {what} must be a tensor, got {type(hx).__name__}")
        if hx.ndim != (3 if batched else 2):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise ShapeError(f"{name}: For {kind} input, {what} should also be {3 if batched else 2}-D but got "
                             f"{hx.ndim}-D tensor (shape {hx.shape})")
        want = expected if batched else (expected[0], expected[2])
        if tuple(hx.shape) != want:
            raise ShapeError(f"{name}: Expected {what} size {want}, got {list(hx.shape)}")
        hx = hx if batched else hx.unsqueeze(1)
        return hx

    def forward(self, input, hx=None):  # noqa: A002
        name = self.mode.split("_")[0]
        packed = isinstance(input, PackedSequence)
        if packed:
            x, sizes = input.data, [int(n) for n in input.batch_sizes.numpy()]
            batched, length, batch = True, len(sizes), sizes[0]
            if not isinstance(x, Tensor) or x.ndim != 2:
                raise ValueError(f"{name}: Expected packed input data to be 2D (sum of lengths, input_size), got "
                                 f"{getattr(x, 'shape', type(x).__name__)}")
        elif not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a tensor or a PackedSequence, got {type(input).__name__}")
        else:
            if input.ndim not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D tensor instead "
                                 f"(shape {input.shape})")
            batched = input.ndim == 3
            x = input if batched else input.unsqueeze(0 if self.batch_first else 1)
            if self.batch_first:
                x = x.transpose(0, 1)
            length, batch, sizes = x.shape[0], x.shape[1], None
        if x.shape[-1] != self.input_size:
            shape = x.shape if packed else input.shape
            raise ShapeError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                             f"{x.shape[-1]} (input shape {shape})")
        _check_dtype(name, x, getattr(self, self._flat_weights_names[0]))
        if length == 0:
            raise ValueError(f"{name}: Expected sequence length to be larger than 0 (input shape {x.shape})")
        directions = 2 if self.bidirectional else 1
        out_size = self.proj_size or self.hidden_size
        h_shape = (self.num_layers * directions, batch, out_size)
        c_shape = (self.num_layers * directions, batch, self.hidden_size)
        lstm = self.mode == "LSTM"
        if hx is None:
            h0 = _creation.zeros(*h_shape, dtype=x.dtype, backend=x.backend)
            c0 = _creation.zeros(*c_shape, dtype=x.dtype, backend=x.backend) if lstm else None
        elif lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTM: hx must be a pair (h_0, c_0) of tensors, got {type(hx).__name__}")
            h0 = self._check_state(hx[0], h_shape, batched, "hidden[0]")
            c0 = self._check_state(hx[1], c_shape, batched, "hidden[1]")
        else:
            h0, c0 = self._check_state(hx, h_shape, batched, "hidden"), None
        if packed and input.sorted_indices is not None and hx is not None:  # the states come in the batch's order
            h0 = index_select(h0, 1, input.sorted_indices)
            c0 = index_select(c0, 1, input.sorted_indices) if lstm else None
        activation = relu if self.mode == "RNN_RELU" else tanh
        layer_input, h_n, c_n = x, [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                weights = dict(zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"), [None] * 5))
                for pname in self._all_weights[index]:
                    weights[pname.split("_l")[0]] = getattr(self, pname)
                gi = _TimeSteps.apply(F.linear(layer_input, weights["weight_ih"], weights["bias_ih"]),  # all at once
                                      sizes=sizes)
                h, c = h0[index], (c0[index] if lstm else None)
                # A packed batch runs sequences longest first: at step t only the first sizes[t] rows step on.
                # Forwards, rows leave as their sequences end (their final states set aside); backwards,
                # rows join at their sequence's own last step, starting from their initial state.
                done_h: list = []
                done_c: list = []
                active = batch if direction == 0 or not packed else 0
                ys: list = [None] * length
                for t in (range(length) if direction == 0 else range(length - 1, -1, -1)):
                    n = batch if sizes is None else sizes[t]
                    if n < active:
                        done_h.append(h[n:])
                        done_c.append(c[n:] if lstm else None)
                        h, c = h[:n], (c[:n] if lstm else None)
                    elif n > active:
                        h = h0[index, :n] if active == 0 else cat([h, h0[index, active:n]], 0)
                        c = (c0[index, :n] if active == 0 else cat([c, c0[index, active:n]], 0)) if lstm else None
                    active = n
                    if lstm:
                        h, c = _lstm_step(gi[t], h, c, weights["weight_hh"], weights["bias_hh"], weights["weight_hr"])
                    elif self.mode == "GRU":
                        h = _gru_step(gi[t], h, weights["weight_hh"], weights["bias_hh"])
                    else:
                        h = _rnn_step(gi[t], h, weights["weight_hh"], weights["bias_hh"], activation)
                    ys[t] = h
                if done_h:  # rows left later have smaller indices
                    h = cat([h, *done_h[::-1]], 0)
                    c = cat([c, *done_c[::-1]], 0) if lstm else None
                outputs.append(cat(ys, 0) if packed else stack(ys, 0))
                h_n.append(h)
                c_n.append(c)
            layer_input = outputs[0] if directions == 1 else cat(outputs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        h_n = stack(h_n, 0)
        c_n = stack(c_n, 0) if lstm else None
        if packed:
            output = PackedSequence(layer_input, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
            if input.unsorted_indices is not None:
                h_n = index_select(h_n, 1, input.unsorted_indices)
                c_n = index_select(c_n, 1, input.unsorted_indices) if lstm else None
        else:
            output = layer_input.transpose(0, 1) if self.batch_first else layer_input
        if not batched:
            output = output.squeeze(0 if self.batch_first else 1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if lstm else None
        return (output, (h_n, c_n)) if lstm else (output, h_n)


class RNN(RNNBase):
    """Elman RNN, h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh) (or relu), PyTorch's ``nn.RNN``:
    input (L, N, input_size) ((N, L, input_size) with batch_first, or (L, input_size)); returns
    ``(output, h_n)``, output (L, N, D * hidden_size) and h_n (D * num_layers, N, hidden_size)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, dtype=None, backend: str | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, dtype=dtype, backend=backend)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """PyTorch's ``nn.LSTM`` (gates i, f, g, o; optional ``proj_size``): returns ``(output, (h_n, c_n))``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 *, dtype=None, backend: str | None = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, dtype=dtype, backend=backend)


class GRU(RNNBase):
    """PyTorch's ``nn.GRU`` (gates r, z, n): returns ``(output, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, dtype=None, backend: str | None = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype, backend=backend)
