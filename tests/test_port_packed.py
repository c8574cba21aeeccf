"""Packed sequences (``nn.utils.rnn.PackedSequence``, ``pack_padded_sequence``, ``pad_packed_sequence``,
``pack_sequence``, ``unpad_sequence``, ``unpack_sequence``) and the recurrent layers on packed input: against
PyTorch in float64 on copied weights (packed data, outputs, final states, every gradient, with random upstream
gradients), finite differences, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
from _lazy_torch import torch
from test_port_sequence import _copy_from

import minigrad as mg
from minigrad import nn
from minigrad.nn.utils import rnn

RNG = np.random.default_rng(2027)
TOL = 1e-10


def _x(*shape):
    return RNG.standard_normal(shape)


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else t.numpy()


def _same(ours, theirs, what=""):
    assert tuple(ours.shape) == tuple(theirs.shape), (what, ours.shape, theirs.shape)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=TOL, atol=TOL, err_msg=what)


def _same_packed(ours, theirs):
    _same(ours.data, theirs.data, "data")
    np.testing.assert_array_equal(ours.batch_sizes.numpy(), theirs.batch_sizes.numpy())
    assert ours.batch_sizes.dtype.name == "int64"
    for name in ("sorted_indices", "unsorted_indices"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


# -- packing and unpacking ------------------------------------------------------------------------------------
PACK_CASES = {  # lengths (distinct where unsorted, so that the sorted order is unique), batch_first, enforce_sorted
    "sorted": ([5, 3, 3, 1], False, True),
    "sorted_batch_first": ([4, 4, 2], True, True),
    "unsorted": ([2, 5, 1, 4], False, False),
    "unsorted_batch_first": ([1, 3, 5], True, False),
    "sorted_given_unsorted_ok": ([5, 2, 1], False, False),
    "one_sequence": ([3], True, True),
    "shorter_than_input": ([3, 2], False, False),
    "float_lengths": ([3.0, 2.0], False, True),  # PyTorch casts the lengths to int64
}


@pytest.mark.parametrize("lengths_as", ["list", "tensor"])
@pytest.mark.parametrize("name", list(PACK_CASES))
def test_pack_and_pad_match_pytorch(name, lengths_as):
    """Packed data, batch sizes, the permutations, the padded result (padding_value, total_length) and the
    gradient of the padded input through pack then pad, with random upstream gradients on both."""
    lengths, batch_first, enforce_sorted = PACK_CASES[name]
    steps = 5 if name == "shorter_than_input" else int(max(lengths))
    shape = (len(lengths), steps, 2, 3) if batch_first else (steps, len(lengths), 2, 3)
    x = _x(*shape)
    ours_x, theirs_x = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_l = mg.tensor(lengths) if lengths_as == "tensor" else lengths
    theirs_l = torch.tensor(lengths) if lengths_as == "tensor" else lengths
    ours = rnn.pack_padded_sequence(ours_x, ours_l, batch_first, enforce_sorted)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(theirs_x, theirs_l, batch_first, enforce_sorted)
    _same_packed(ours, theirs)
    kw = dict(batch_first=batch_first, padding_value=-1.5, total_length=steps + 1)
    ours_pad, ours_len = rnn.pad_packed_sequence(ours, **kw)
    theirs_pad, theirs_len = torch.nn.utils.rnn.pad_packed_sequence(theirs, **kw)
    _same(ours_pad, theirs_pad, "padded")
    np.testing.assert_array_equal(ours_len.numpy(), theirs_len.numpy())
    assert ours_len.dtype.name == "int64"
    g_data, g_pad = _x(*theirs.data.shape), _x(*theirs_pad.shape)
    ((ours.data * mg.tensor(g_data)).sum() + (ours_pad * mg.tensor(g_pad)).sum()).backward()
    ((theirs.data * torch.tensor(g_data)).sum() + (theirs_pad * torch.tensor(g_pad)).sum()).backward()
    _same(ours_x.grad, theirs_x.grad, "input gradient")


def test_pack_sequence_unpack_and_unpad_match_pytorch():
    seqs = [_x(n, 3) for n in (2, 4, 1)]
    ours_s = [mg.tensor(s, requires_grad=True) for s in seqs]
    theirs_s = [torch.tensor(s, requires_grad=True) for s in seqs]
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        rnn.pack_sequence(ours_s)
    ours = rnn.pack_sequence(ours_s, enforce_sorted=False)
    theirs = torch.nn.utils.rnn.pack_sequence(theirs_s, enforce_sorted=False)
    _same_packed(ours, theirs)
    _same_packed(rnn.pack_sequence(sorted(ours_s, key=lambda s: -s.shape[0])),
                 torch.nn.utils.rnn.pack_sequence(sorted(theirs_s, key=lambda s: -s.shape[0])))
    ours_back, theirs_back = rnn.unpack_sequence(ours), torch.nn.utils.rnn.unpack_sequence(theirs)
    padded = _x(4, 3, 3)
    ours_p, theirs_p = mg.tensor(padded, requires_grad=True), torch.tensor(padded, requires_grad=True)
    ours_un = rnn.unpad_sequence(ours_p, mg.tensor([4, 1, 3]), batch_first=False)
    # PyTorch's unpad_sequence transposes its input in place when batch_first=False (minigrad leaves it alone):
    # give it a copy of its own
    theirs_un = torch.nn.utils.rnn.unpad_sequence(theirs_p.clone(), torch.tensor([4, 1, 3]), batch_first=False)
    ours_bf = rnn.unpad_sequence(ours_p, [2, 3, 1, 1], batch_first=True)
    theirs_bf = torch.nn.utils.rnn.unpad_sequence(theirs_p, torch.tensor([2, 3, 1, 1]), batch_first=True)
    loss_ours, loss_theirs = 0, 0
    for i, (o, t) in enumerate(zip(ours_back + ours_un + ours_bf, theirs_back + theirs_un + theirs_bf)):
        _same(o, t, f"sequence {i}")
        g = _x(*t.shape)
        loss_ours, loss_theirs = loss_ours + (o * mg.tensor(g)).sum(), loss_theirs + (t * torch.tensor(g)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    np.testing.assert_array_equal(ours_p.numpy(), padded)
    for i, (o, t) in enumerate(zip(ours_s + [ours_p], theirs_s + [theirs_p])):
        _same(o.grad, t.grad, f"gradient {i}")


def test_packed_sequence_is_a_namedtuple_like_pytorchs():
    x = mg.tensor(_x(3, 2, 1))
    packed = rnn.pack_padded_sequence(x, [1, 3], enforce_sorted=False)
    assert packed._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert data is packed.data and packed[1] is batch_sizes and isinstance(packed, tuple)
    np.testing.assert_array_equal(sorted_indices.numpy(), [1, 0])
    np.testing.assert_array_equal(unsorted_indices.numpy(), [1, 0])
    rebuilt = rnn.PackedSequence(data, batch_sizes, sorted_indices)  # unsorted_indices derived, as in PyTorch
    np.testing.assert_array_equal(rebuilt.unsorted_indices.numpy(), [1, 0])
    assert rnn.PackedSequence(data, batch_sizes).sorted_indices is None
    assert not packed.is_cuda
    as_float = packed.float()
    assert as_float.data.dtype.name == "float32" and as_float.batch_sizes is packed.batch_sizes
    np.testing.assert_allclose(as_float.double().data.numpy(), data.numpy(), rtol=1e-6)
    assert packed.double() is packed  # float64 already: nothing to do, as PyTorch returns self
    with pytest.raises(TypeError, match="batch_sizes is required"):
        rnn.PackedSequence(data)


def test_pack_then_pad_gradcheck():
    """Finite differences, first and second order, through pack (unsorted) then pad, random upstream weights."""
    x = mg.tensor(_x(4, 3, 2), requires_grad=True)
    g = mg.tensor(_x(3, 5, 2))

    def run(x):
        packed = rnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        return rnn.pad_packed_sequence(packed, batch_first=True, total_length=5, padding_value=0.5)[0] * g

    assert mg.gradcheck(run, (x,))
    assert mg.gradgradcheck(run, (x,))


# -- the recurrent layers on packed input ---------------------------------------------------------------------------
LAYER_CASES = {  # kind, constructor arguments, lengths, batch_first of the packing, enforce_sorted, with h0
    "RNN_sorted": ("RNN", dict(input_size=3, hidden_size=4), [4, 3, 3, 1], False, True, False),
    "RNN_relu_unsorted_h0": ("RNN", dict(input_size=3, hidden_size=4, nonlinearity="relu", num_layers=2),
                             [2, 4, 1], False, False, True),
    "RNN_bidir_2layers": ("RNN", dict(input_size=3, hidden_size=2, num_layers=2, bidirectional=True),
                          [1, 4, 2, 3], True, False, True),
    "LSTM_sorted_batch_first": ("LSTM", dict(input_size=3, hidden_size=4, batch_first=True), [5, 2, 2], True,
                                True, True),
    "LSTM_bidir_2layers_unsorted": ("LSTM", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True),
                                    [3, 5, 1, 4], False, False, True),
    "LSTM_bidir_no_h0": ("LSTM", dict(input_size=2, hidden_size=3, num_layers=3, bidirectional=True, bias=False),
                         [2, 3, 1], True, False, False),
    "LSTM_proj_bidir": ("LSTM", dict(input_size=3, hidden_size=5, proj_size=2, num_layers=2, bidirectional=True),
                        [4, 1, 3], False, False, True),
    "GRU_unsorted_batch_first": ("GRU", dict(input_size=3, hidden_size=4, batch_first=True), [1, 2, 4], True,
                                 False, True),
    "GRU_bidir_2layers_sorted": ("GRU", dict(input_size=3, hidden_size=3, num_layers=2, bidirectional=True),
                                 [4, 4, 2, 1], False, True, True),
    "GRU_unsorted_equal_lengths": ("GRU", dict(input_size=2, hidden_size=3, num_layers=2, bidirectional=True),
                                   [2, 4, 2, 1, 4], False, False, True),
    "GRU_all_full_length": ("GRU", dict(input_size=2, hidden_size=3, bidirectional=True), [3, 3], False, True, False),
}


def _initial_state(kind, kw, batch):
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    h = _x(layers, batch, kw.get("proj_size") or kw["hidden_size"])
    return (h, _x(layers, batch, kw["hidden_size"])) if kind == "LSTM" else h


def _run_packed(lib, module, x, h0, lengths, batch_first, enforce_sorted):
    """Pack, run, unpack: the leaves, the packed output, the padded output and the final states (a list)."""
    ours = lib is not torch
    make = lib.tensor
    utils = rnn if ours else torch.nn.utils.rnn
    leaves = [make(x, requires_grad=True)]
    if h0 is not None:
        leaves += [make(h, requires_grad=True) for h in (h0 if isinstance(h0, tuple) else (h0,))]
    packed = utils.pack_padded_sequence(leaves[0], lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    state = None if h0 is None else (tuple(leaves[1:]) if isinstance(h0, tuple) else leaves[1])
    out, final = module(packed, state)
    padded, out_lengths = utils.pad_packed_sequence(out, batch_first=batch_first)
    np.testing.assert_array_equal(out_lengths.numpy(), lengths)
    return leaves, out, padded, list(final) if isinstance(final, tuple) else [final]


def _compare_packed(kind, kw, lengths, batch_first, enforce_sorted, with_h0, dropout_training=False,
                    backend="numpy"):
    theirs = getattr(torch.nn, kind)(**kw).double()
    ours = getattr(nn, kind)(**kw).double()
    _copy_from(ours, theirs)
    ours.to(backend)
    if dropout_training:
        ours.train()
        theirs.train()
    steps = max(lengths) + 1  # one step of padding beyond the longest
    x = _x(len(lengths), steps, kw["input_size"]) if batch_first else _x(steps, len(lengths), kw["input_size"])
    h0 = _initial_state(kind, kw, len(lengths)) if with_h0 else None
    lib = mg if backend == "numpy" else _BackendLib(backend)
    o_leaves, o_out, o_pad, o_final = _run_packed(lib, ours, x, h0, lengths, batch_first, enforce_sorted)
    t_leaves, t_out, t_pad, t_final = _run_packed(torch, theirs, x, h0, lengths, batch_first, enforce_sorted)
    assert isinstance(o_out, rnn.PackedSequence)
    if len(set(lengths)) == len(lengths) or enforce_sorted:  # else PyTorch's order of equal lengths may differ
        _same_packed(o_out, t_out)
    _same(o_pad, t_pad, "padded output")
    for i, (o, t) in enumerate(zip(o_final, t_final)):
        _same(o, t, f"final state {i}")
    loss_ours, loss_theirs = 0, 0
    for o, t in zip([o_pad, *o_final], [t_pad, *t_final]):
        g = _x(*t.shape)
        loss_ours = loss_ours + (o * mg.tensor(g, backend=backend)).sum()
        loss_theirs = loss_theirs + (t * torch.tensor(g)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    for i, (o, t) in enumerate(zip(o_leaves, t_leaves)):
        _same(o.grad, t.grad, f"gradient of leaf {i}")
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _same(p.grad, grads[name].grad, name)


class _BackendLib:
    """``mg`` with tensors made on another backend (for ``_run_packed``)."""

    def __init__(self, backend):
        self.backend = backend

    def tensor(self, a, requires_grad=False):
        return mg.tensor(a, backend=self.backend, requires_grad=requires_grad)


@pytest.mark.parametrize("name", list(LAYER_CASES))
def test_layers_on_packed_input_match_pytorch(name):
    _compare_packed(*LAYER_CASES[name])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_packed_dropout_between_layers_matches_pytorch(kind):
    """dropout=1 in training zeroes every layer's packed input but the first: exact, so comparable."""
    kw = dict(input_size=3, hidden_size=4, num_layers=3, bidirectional=True, dropout=1.0)
    _compare_packed(kind, kw, [2, 4, 3], False, False, True, dropout_training=True)


def test_packed_equals_each_sequence_run_alone():
    """PyTorch's meaning, checked without PyTorch: each sequence's packed output and final states equal the
    layer run on that sequence alone (unpadded), in both directions."""
    mg.manual_seed(7)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    lengths = [2, 5, 3]
    x = mg.tensor(_x(5, 3, 3))
    h0, c0 = mg.tensor(_x(4, 3, 4)), mg.tensor(_x(4, 3, 4))
    out, (h_n, c_n) = lstm(rnn.pack_padded_sequence(x, lengths, enforce_sorted=False), (h0, c0))
    padded, _ = rnn.pad_packed_sequence(out)
    for b, n in enumerate(lengths):
        alone, (h_b, c_b) = lstm(x[:n, b:b + 1], (h0[:, b:b + 1], c0[:, b:b + 1]))
        np.testing.assert_allclose(padded[:n, b:b + 1].numpy(), alone.numpy(), rtol=TOL, atol=TOL)
        assert not np.any(padded[n:, b].numpy())
        np.testing.assert_allclose(h_n[:, b:b + 1].numpy(), h_b.numpy(), rtol=TOL, atol=TOL)
        np.testing.assert_allclose(c_n[:, b:b + 1].numpy(), c_b.numpy(), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_packed_layers_gradcheck(kind):
    """Finite differences, first and second order, through pack (unsorted), a bidirectional two-layer layer and
    the final states, for the input and the initial state."""
    mg.manual_seed(4)
    module = getattr(nn, kind)(2, 2, num_layers=2, bidirectional=True).double()
    x = mg.tensor(_x(3, 3, 2), requires_grad=True)
    h = mg.tensor(_x(4, 3, 2), requires_grad=True)
    g = mg.tensor(_x(6, 4))  # the packed output has 2 + 3 + 1 rows

    def run(x, h):
        packed = rnn.pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False)
        out, state = module(packed, (h, h * 0.5) if kind == "LSTM" else h)
        return out.data * g, (state[0] if kind == "LSTM" else state)

    assert mg.gradcheck(run, (x, h))
    assert mg.gradgradcheck(run, (x, h))


def test_packed_layers_on_the_cupy_backend(cupy_device):
    kw = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    _compare_packed("LSTM", kw, [2, 4, 1], False, False, True, backend=cupy_device)
    moved = rnn.pack_padded_sequence(mg.randn(3, 2, 1), [1, 3], enforce_sorted=False).to(cupy_device)
    assert moved.data.backend == moved.sorted_indices.backend == moved.unsorted_indices.backend == cupy_device
    assert moved.batch_sizes.backend == "numpy"


# -- errors -------------------------------------------------------------------------------------------------------
def test_packing_errors_as_pytorchs():
    x = mg.tensor(_x(4, 3, 2), requires_grad=True)
    before = x.numpy().copy()
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order when `enforce_sorted`"):
        rnn.pack_padded_sequence(x, [2, 3, 1])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        rnn.pack_padded_sequence(x, [3, 0, 1], enforce_sorted=False)
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        rnn.pack_padded_sequence(x, [3, 2, 0])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to batch_size, but got 2 "
                                           r"\(batch_size=3\)"):
        rnn.pack_padded_sequence(x, [3, 2])
    with pytest.raises(RuntimeError, match="'lengths' argument should be a 1D int64 tensor"):
        rnn.pack_padded_sequence(x, mg.tensor([[3, 2, 1]]))
    with pytest.raises(RuntimeError, match=r"Cannot pack empty tensors \(input shape \(3, 0, 2\)\)"):
        rnn.pack_padded_sequence(mg.randn(3, 0, 2), [])
    # PyTorch packs past the input's end here (its batch sizes no longer add up); minigrad refuses
    with pytest.raises(ValueError, match=r"pack_padded_sequence: a length \(5\) is longer than the input's 4 time "
                                         r"steps \(input shape \(4, 3, 2\)"):
        rnn.pack_padded_sequence(x, [5, 3, 1])
    with pytest.raises(ValueError, match=r"longer than the input's 3 time steps"):
        rnn.pack_padded_sequence(mg.randn(3, 3, 2), [1, 4, 3], batch_first=True, enforce_sorted=False)
    packed = rnn.pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest sequence "
                                         "in input, but got total_length=2 and max sequence length being 3"):
        rnn.pad_packed_sequence(packed, total_length=2)
    with pytest.raises(TypeError, match="pad_packed_sequence: expected a PackedSequence, got Tensor"):
        rnn.pad_packed_sequence(x)
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None


def test_packing_errors_match_pytorchs_types():
    """The same calls fail in PyTorch with the same exception types (the messages are checked above)."""
    t = torch.tensor(_x(4, 3, 2))
    for lengths, kw in [([2, 3, 1], {}), ([3, 0, 1], dict(enforce_sorted=False)), ([3, 2], {})]:
        with pytest.raises(RuntimeError):
            torch.nn.utils.rnn.pack_padded_sequence(t, lengths, **kw)
    with pytest.raises(RuntimeError, match="Cannot pack empty tensors"):
        torch.nn.utils.rnn.pack_padded_sequence(torch.zeros(3, 0, 2), [])
    with pytest.raises(ValueError):
        torch.nn.utils.rnn.pad_packed_sequence(torch.nn.utils.rnn.pack_padded_sequence(t, [3, 2, 1]), total_length=2)


def test_packed_layer_errors():
    lstm = nn.LSTM(3, 4)
    packed = rnn.pack_padded_sequence(mg.randn(4, 2, 3), [4, 2])
    with pytest.raises(mg.errors.ShapeError, match=r"Expected hidden\[0\] size \(1, 2, 4\), got \[1, 3, 4\]"):
        lstm(packed, (mg.zeros(1, 3, 4), mg.zeros(1, 2, 4)))
    with pytest.raises(mg.errors.ShapeError, match="LSTM: input.size.-1. must be equal to input_size. Expected 3, "
                                                   "got 5"):
        lstm(rnn.pack_padded_sequence(mg.randn(4, 2, 5), [4, 2]))
    with pytest.raises(TypeError, match="LSTM: input must be a tensor or a PackedSequence, got list"):
        lstm([mg.randn(4, 3)])
