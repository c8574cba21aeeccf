"""Recurrent layers, scaled_dot_product_attention, MultiheadAttention and the Transformer encoder: against
PyTorch's on copied weights in float64 (outputs, final states, every input and parameter gradient, with random
upstream gradients), finite differences on the cells, and the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_porting import _side_by_side

import minigrad as mg
from minigrad import nn
from minigrad.errors import ShapeError
from minigrad.nn import functional as F  # noqa: N812 - PyTorch's convention

# PyTorch's own notices about its nested-tensor fast path (which the eval tests exercise on purpose)
pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning"),
              pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning")]
RNG = np.random.default_rng(2026)
BACKENDS = mg.testing.available_backends()
TOL = 1e-10


def _flat(out) -> list:
    """The tensors of a nested output ((output, (h, c)), (output, weights), ...), in order; None dropped."""
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _flat(item)]
    return [] if out is None else [out]


def _copy_from(ours: nn.Module, theirs) -> None:
    ours.load_state_dict({k: v.detach().double().numpy() for k, v in theirs.state_dict().items()})


def _compare(torch, ours: nn.Module, theirs, args: list, backend: str = "numpy", kwargs=None, rtol=TOL,
             torch_kwargs=None) -> None:
    """Forward on equal weights and inputs (args: arrays, None, or tuples of arrays), then backward of random
    upstream gradients on every output: outputs, input gradients and parameter gradients agree with PyTorch."""
    module = isinstance(ours, nn.Module)  # else two plain functions
    if module:
        theirs = theirs.double()
        ours.double()
        _copy_from(ours, theirs)
        ours.to(backend)
    kwargs, torch_kwargs = kwargs or {}, torch_kwargs if torch_kwargs is not None else (kwargs or {})

    def convert(a, make):
        if a is None:
            return None
        if isinstance(a, tuple):
            return tuple(convert(v, make) for v in a)
        return make(a)

    leaves_ours, leaves_theirs = [], []

    def ours_leaf(a):
        t = mg.tensor(a, backend=backend, requires_grad=a.dtype.kind == "f")
        leaves_ours.append(t)
        return t

    def theirs_leaf(a):
        t = torch.tensor(a, requires_grad=a.dtype.kind == "f")
        leaves_theirs.append(t)
        return t

    xs = [convert(a, ours_leaf) for a in args]
    ts = [convert(a, theirs_leaf) for a in args]
    outs = _flat(ours(*xs, **{k: convert(v, ours_leaf) if isinstance(v, np.ndarray) else v
                              for k, v in kwargs.items()}))
    expected = _flat(theirs(*ts, **{k: convert(v, theirs_leaf) if isinstance(v, np.ndarray) else v
                                     for k, v in torch_kwargs.items()}))
    assert len(outs) == len(expected)
    loss_ours, loss_theirs = 0, 0
    for i, (o, e) in enumerate(zip(outs, expected)):
        assert tuple(o.shape) == tuple(e.shape), (i, o.shape, e.shape)
        np.testing.assert_allclose(o.numpy(), e.detach().numpy(), rtol=rtol, atol=rtol, err_msg=f"output {i}")
        if e.requires_grad:
            g = RNG.standard_normal(e.shape)
            loss_ours = loss_ours + (o * mg.tensor(g, backend=backend)).sum()
            loss_theirs = loss_theirs + (e * torch.tensor(g)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    for i, (x, t) in enumerate(zip(leaves_ours, leaves_theirs)):
        if t.grad is not None:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=rtol, err_msg=f"input {i}")
    if not module:
        return
    grads = {name: p.grad for name, p in theirs.named_parameters()}
    assert sorted(grads) == sorted(name for name, _ in ours.named_parameters())
    for name, p in ours.named_parameters():
        if grads[name] is None:
            assert p.grad is None or not np.any(p.grad.numpy()), name
        else:
            np.testing.assert_allclose(p.grad.numpy(), grads[name].numpy(), rtol=rtol, atol=rtol, err_msg=name)


def _x(*shape):
    return RNG.standard_normal(shape)


# -- cells --------------------------------------------------------------------------------------------
CELLS = {
    "rnn_tanh": (lambda m: m.RNNCell(3, 4), lambda: [_x(5, 3), _x(5, 4)]),
    "rnn_relu_nobias": (lambda m: m.RNNCell(3, 4, bias=False, nonlinearity="relu"), lambda: [_x(5, 3), _x(5, 4)]),
    "rnn_no_state": (lambda m: m.RNNCell(3, 4), lambda: [_x(2, 3)]),
    "rnn_unbatched": (lambda m: m.RNNCell(3, 4), lambda: [_x(3), _x(4)]),
    "lstm": (lambda m: m.LSTMCell(3, 4), lambda: [_x(5, 3), (_x(5, 4), _x(5, 4))]),
    "lstm_nobias_no_state": (lambda m: m.LSTMCell(3, 2, bias=False), lambda: [_x(5, 3)]),
    "lstm_unbatched": (lambda m: m.LSTMCell(3, 4), lambda: [_x(3), (_x(4), _x(4))]),
    "gru": (lambda m: m.GRUCell(3, 4), lambda: [_x(5, 3), _x(5, 4)]),
    "gru_nobias": (lambda m: m.GRUCell(2, 3, bias=False), lambda: [_x(4, 2), _x(4, 3)]),
    "gru_unbatched_no_state": (lambda m: m.GRUCell(3, 4), lambda: [_x(3)]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CELLS))
def test_cells_match_pytorch(name, backend):
    torch = pytest.importorskip("torch")
    make, inputs = CELLS[name]
    _compare(torch, make(nn), make(torch.nn), inputs(), backend)


@pytest.mark.parametrize("cell", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_gradcheck(cell):
    """Finite differences through two steps, for the input, the state and every parameter, to second order."""
    mg.manual_seed(3)
    module = getattr(nn, cell)(2, 3).double()
    params = [p for _, p in module.named_parameters()]
    x = mg.tensor(_x(2, 2), dtype="float64", requires_grad=True)
    h = mg.tensor(_x(2, 3), dtype="float64", requires_grad=True)
    g = mg.tensor(_x(2, 3), dtype="float64")  # random upstream weights, not all ones

    def two_steps(x, h, *weights):
        values = dict(zip([n for n, _ in module.named_parameters()], weights))
        for name, w in values.items():
            setattr(module, name, w)
        state = (h, h * 0.5) if cell == "LSTMCell" else h
        for _ in range(2):
            state = module(x, state)
        out = state[0] if cell == "LSTMCell" else state
        return out * g

    try:
        assert mg.gradcheck(two_steps, (x, h, *params))
        assert mg.gradgradcheck(two_steps, (x, h, *params))
    finally:
        for name, p in zip([n for n, _ in module.named_parameters()], params):
            setattr(module, name, p)


# -- multi-layer layers ---------------------------------------------------------------------------------
def _layer_cases():
    cases = {}
    for kind in ("RNN", "LSTM", "GRU"):
        cases[f"{kind}_plain"] = (kind, dict(input_size=3, hidden_size=4), (5, 2, 3), False)
        cases[f"{kind}_2layers_bidir"] = (kind, dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True),
                                          (4, 3, 3), True)
        cases[f"{kind}_batch_first_nobias"] = (kind, dict(input_size=2, hidden_size=3, num_layers=2, bias=False,
                                                          batch_first=True), (3, 4, 2), True)
        cases[f"{kind}_unbatched_bidir"] = (kind, dict(input_size=3, hidden_size=2, bidirectional=True), (4, 3), True)
        cases[f"{kind}_unbatched_batch_first"] = (kind, dict(input_size=3, hidden_size=2, batch_first=True,
                                                             num_layers=2), (4, 3), False)
    cases["GRU_one_step"] = ("GRU", dict(input_size=3, hidden_size=2, bidirectional=True), (1, 2, 3), True)
    cases["LSTM_one_step_unbatched"] = ("LSTM", dict(input_size=3, hidden_size=2, num_layers=2), (1, 3), False)
    cases["RNN_relu"] = ("RNN", dict(input_size=3, hidden_size=4, nonlinearity="relu", num_layers=2), (5, 2, 3), True)
    cases["LSTM_proj"] = ("LSTM", dict(input_size=3, hidden_size=5, proj_size=2, num_layers=2, bidirectional=True),
                          (4, 2, 3), True)
    cases["LSTM_proj_batch_first"] = ("LSTM", dict(input_size=3, hidden_size=4, proj_size=3, batch_first=True),
                                      (2, 5, 3), True)
    return cases


LAYER_CASES = _layer_cases()


def _initial_state(kind, kw, shape):
    directions = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1) * directions
    out = kw.get("proj_size") or kw["hidden_size"]
    batch = () if len(shape) == 2 else ((shape[0],) if kw.get("batch_first") else (shape[1],))
    h = _x(layers, *batch, out)
    return (h, _x(layers, *batch, kw["hidden_size"])) if kind == "LSTM" else h


@pytest.mark.parametrize("name", list(LAYER_CASES))
def test_layers_match_pytorch(name):
    torch = pytest.importorskip("torch")
    kind, kw, shape, with_state = LAYER_CASES[name]
    args = [_x(*shape)] + ([_initial_state(kind, kw, shape)] if with_state else [])
    _compare(torch, getattr(nn, kind)(**kw), getattr(torch.nn, kind)(**kw), args)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_layers_match_pytorch_on_other_backends(kind, backend):
    torch = pytest.importorskip("torch")
    kw = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True)
    _compare(torch, getattr(nn, kind)(**kw), getattr(torch.nn, kind)(**kw), [_x(2, 3, 3)], backend)


# -- scaled_dot_product_attention -----------------------------------------------------------------------
def _sdpa_case(name):
    q, k, v = _x(2, 3, 4, 5), _x(2, 3, 6, 5), _x(2, 3, 6, 2)
    allowed = RNG.random((4, 6)) > 0.5
    allowed[1] = False  # a query that may attend nowhere: zeros, as PyTorch's kernels give
    allowed[2] = True
    float_mask = _x(3, 4, 6)
    float_mask[0, 3] = -np.inf
    return {
        "plain": ([q, k, v], {}),
        "causal": ([q, k, v], {"is_causal": True}),
        "causal_square": ([q, k[..., :4, :], v[..., :4, :]], {"is_causal": True}),
        "scale": ([q, k, v], {"scale": 0.37}),
        "bool_mask": ([q, k, v], {"attn_mask": allowed}),
        "bool_mask_per_batch": ([q, k, v], {"attn_mask": RNG.random((2, 1, 4, 6)) > 0.3}),
        "float_mask": ([q, k, v], {"attn_mask": float_mask}),
        "three_dims": ([q[0], k[0], v[0]], {"attn_mask": allowed}),
        "gqa": ([_x(2, 4, 3, 5), _x(2, 2, 6, 5), _x(2, 2, 6, 3)], {"enable_gqa": True}),
    }[name]


SDPA_CASES = ["plain", "causal", "causal_square", "scale", "bool_mask", "bool_mask_per_batch", "float_mask",
              "three_dims", "gqa"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", SDPA_CASES)
def test_sdpa_matches_pytorch(name, backend):
    torch = pytest.importorskip("torch")
    args, kwargs = _sdpa_case(name)
    mask = kwargs.pop("attn_mask", None)
    if mask is not None:
        args = args + [mask]
    _compare(torch, F.scaled_dot_product_attention, torch.nn.functional.scaled_dot_product_attention,
             args, backend, kwargs=kwargs)


# -- MultiheadAttention -------------------------------------------------------------------------------------
def _mha_case(name):
    """(constructor kwargs, query/key/value shapes (L, N, E) before batch_first, forward kwargs)."""
    e = 6
    cases = {
        "self": ({}, None, {}),
        "no_weights": ({}, None, {"need_weights": False}),
        "per_head_weights": ({}, None, {"average_attn_weights": False}),
        "no_bias_batch_first": ({"bias": False, "batch_first": True}, None, {}),
        "kdim_vdim": ({"kdim": 3, "vdim": 5}, None, {}),
        "kdim_vdim_no_weights": ({"kdim": 3, "vdim": 5, "batch_first": True}, None, {"need_weights": False}),
        "bias_kv_zero_attn": ({"add_bias_kv": True, "add_zero_attn": True}, None,
                              {"key_padding_mask": "float", "attn_mask": "float"}),
        "padding_bool": ({}, None, {"key_padding_mask": "bool"}),
        "padding_bool_no_weights": ({"batch_first": True}, None, {"key_padding_mask": "bool", "need_weights": False}),
        "padding_float_attn_float": ({}, None, {"key_padding_mask": "float", "attn_mask": "float"}),
        "attn_mask_per_head": ({}, None, {"attn_mask": "bool3"}),
        "causal_hint": ({}, None, {"attn_mask": "causal", "is_causal": True, "need_weights": False}),
        "causal_hint_with_weights": ({}, None, {"attn_mask": "causal", "is_causal": True}),
        "unbatched": ({}, "unbatched", {"key_padding_mask": "bool", "attn_mask": "bool"}),
        "unbatched_no_weights": ({}, "unbatched", {"need_weights": False, "attn_mask": "bool"}),
        "unbatched_per_head_mask": ({}, "unbatched", {"attn_mask": "bool3", "average_attn_weights": False}),
    }
    return e, cases[name]


MHA_CASES = ["self", "no_weights", "per_head_weights", "no_bias_batch_first", "kdim_vdim", "kdim_vdim_no_weights",
             "bias_kv_zero_attn", "padding_bool", "padding_bool_no_weights", "padding_float_attn_float",
             "attn_mask_per_head", "causal_hint", "causal_hint_with_weights", "unbatched", "unbatched_no_weights",
             "unbatched_per_head_mask"]


def _mha_inputs(e, heads, ctor, layout, fwd, length=4, source=5, batch=3):
    """Arrays for query, key, value and the masks named in ``fwd`` (no query ever fully masked)."""
    unbatched = layout == "unbatched"
    lead_q = (length,) if unbatched else ((batch, length) if ctor.get("batch_first") else (length, batch))
    lead_k = (source,) if unbatched else ((batch, source) if ctor.get("batch_first") else (source, batch))
    if fwd.get("attn_mask") == "causal":
        source = length
        lead_k = lead_k[:-1] + (source,) if ctor.get("batch_first") else (source,) + lead_k[1:]
    q = _x(*lead_q, e)
    k, v = _x(*lead_k, ctor.get("kdim", e)), _x(*lead_k, ctor.get("vdim", e))
    kwargs = dict(fwd)
    n = 1 if unbatched else batch
    if "key_padding_mask" in fwd:
        pad = np.zeros((n, source), bool)
        pad[:, -1] = True
        pad[0, -2] = True
        pad = pad[0] if unbatched else pad
        kwargs["key_padding_mask"] = pad if fwd["key_padding_mask"] == "bool" else np.where(pad, -np.inf, 0.0) + \
            0.3 * _x(*pad.shape)
    masks = {
        "bool": lambda: np.eye(length, source, k=1, dtype=bool),
        "bool3": lambda: (RNG.random((n * heads, length, source)) > 0.7) & ~np.eye(length, source, dtype=bool),
        "float": lambda: _x(length, source),
        "causal": lambda: np.triu(np.full((length, length), -np.inf), 1),
    }
    if "attn_mask" in fwd:
        kwargs["attn_mask"] = masks[fwd["attn_mask"]]()
    return [q, k, v], kwargs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", MHA_CASES)
def test_multihead_attention_matches_pytorch(name, backend):
    torch = pytest.importorskip("torch")
    e, (ctor, layout, fwd) = _mha_case(name)
    heads = 2
    args, kwargs = _mha_inputs(e, heads, ctor, layout, fwd)
    _compare(torch, nn.MultiheadAttention(e, heads, **ctor), torch.nn.MultiheadAttention(e, heads, **ctor), args,
             backend, kwargs=kwargs)


# -- Transformer encoder --------------------------------------------------------------------------------------
ENCODER_CASES = {
    "post_norm": dict(),
    "pre_norm_gelu": dict(norm_first=True, activation="gelu"),
    "batch_first_no_bias": dict(batch_first=True, bias=False, layer_norm_eps=1e-6),
    "batch_first": dict(batch_first=True),
    "batch_first_gelu_pre_norm": dict(batch_first=True, activation="gelu", norm_first=True),
}
ENCODER_MASKS = ["none", "padding", "padding_not_left_aligned", "causal", "padding_float", "unbatched"]


def _encoder_inputs(kw, masks, length=5, batch=3, d=8):
    if masks == "unbatched":
        return _x(length, d), {}
    x = _x(batch, length, d) if kw.get("batch_first") else _x(length, batch, d)
    kwargs = {}
    if masks.startswith("padding"):
        pad = np.zeros((batch, length), bool)
        pad[0, -2:] = True
        pad[2, -1] = True
        if masks == "padding_not_left_aligned":
            pad[1, 0] = True
        kwargs["src_key_padding_mask"] = np.where(pad, -np.inf, 0.0) if masks == "padding_float" else pad
    if masks == "causal":
        kwargs["mask"] = np.triu(np.full((length, length), -np.inf), 1)
    return x, kwargs


def _encoders(m, kw, final_norm=True):
    layer = m.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw)
    return m.TransformerEncoder(layer, 2, norm=m.LayerNorm(8) if final_norm else None)


@pytest.mark.parametrize("masks", ENCODER_MASKS)
@pytest.mark.parametrize("name", list(ENCODER_CASES))
def test_transformer_encoder_matches_pytorch_in_training(name, masks):
    """Training mode (dropout 0: the masks differ between libraries): outputs and every gradient."""
    torch = pytest.importorskip("torch")
    kw = ENCODER_CASES[name]
    x, kwargs = _encoder_inputs(kw, masks)
    _compare(torch, _encoders(nn, kw), _encoders(torch.nn, kw), [x], kwargs=kwargs)


@pytest.mark.parametrize("masks", ENCODER_MASKS)
@pytest.mark.parametrize("name", list(ENCODER_CASES))
def test_transformer_encoder_matches_pytorch_fast_path_in_eval(name, masks):
    """eval() under no_grad, where PyTorch takes its fused fast path (and, with batch_first and a left-aligned
    padding mask, nested tensors that give zeros at the padded positions before the final norm)."""
    torch = pytest.importorskip("torch")
    kw = ENCODER_CASES[name]
    x, kwargs = _encoder_inputs(kw, masks)
    for final_norm in (True, False):
        theirs, ours = _encoders(torch.nn, kw, final_norm).double().eval(), _encoders(nn, kw, final_norm).double()
        _copy_from(ours, theirs)
        ours.eval()
        with torch.no_grad():
            expected = theirs(torch.tensor(x), **{k: torch.tensor(v) for k, v in kwargs.items()}).numpy()
        with mg.no_grad():
            out = ours(mg.tensor(x), **{k: mg.tensor(v) for k, v in kwargs.items()}).numpy()
        np.testing.assert_allclose(out, expected, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_transformer_encoder_layer_on_other_backends(backend):
    torch = pytest.importorskip("torch")
    kw = dict(batch_first=True, norm_first=True)
    x, kwargs = _encoder_inputs(kw, "padding")
    make = lambda m: m.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw)  # noqa: E731
    _compare(torch, make(nn), make(torch.nn), [x], backend,
             kwargs={"src_key_padding_mask": kwargs["src_key_padding_mask"]})


# -- dropout, parameters, initialisation, repr -------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers(kind):
    """dropout=1 in training zeroes every layer's input but the first: equal to PyTorch's, which is exact there;
    a p in (0, 1) is reproducible with manual_seed, touches no layer in eval, and changes the output in training."""
    torch = pytest.importorskip("torch")
    kw = dict(input_size=3, hidden_size=4, num_layers=3, bidirectional=True, dropout=1.0)
    _compare(torch, getattr(nn, kind)(**kw), getattr(torch.nn, kind)(**kw), [_x(4, 2, 3)])
    module = getattr(nn, kind)(**{**kw, "dropout": 0.5}).double()
    x = mg.tensor(_x(4, 2, 3))

    def run():
        out = module(x)[0]
        return out.numpy()

    mg.manual_seed(5)
    first = run()
    mg.manual_seed(5)
    np.testing.assert_array_equal(run(), first)
    module.eval()
    plain = run()
    module.dropout = 0.0
    module.train()
    np.testing.assert_array_equal(run(), plain)
    assert not np.allclose(first, plain)


def test_parameters_are_pytorchs_in_names_order_and_shapes():
    torch = pytest.importorskip("torch")
    for kind, kw in [("LSTM", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, proj_size=2)),
                     ("GRU", dict(input_size=3, hidden_size=4, bias=False, num_layers=2)),
                     ("RNN", dict(input_size=3, hidden_size=4, bidirectional=True)),
                     ("LSTMCell", dict(input_size=3, hidden_size=4)), ("GRUCell", dict(input_size=2, hidden_size=3,
                                                                                         bias=False))]:
        ours, theirs = getattr(nn, kind)(**kw), getattr(torch.nn, kind)(**kw)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    for kw in [dict(kdim=3, vdim=5), dict(add_bias_kv=True, bias=False)]:
        ours, theirs = nn.MultiheadAttention(6, 3, **kw), torch.nn.MultiheadAttention(6, 3, **kw)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    layer = lambda m: m.TransformerEncoderLayer(8, 2, 16, norm_first=True)  # noqa: E731
    ours, theirs = nn.TransformerEncoder(layer(nn), 2), torch.nn.TransformerEncoder(layer(torch.nn), 2,
                                                                                     enable_nested_tensor=False)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_initialisation_follows_pytorch():
    """Recurrent weights ~ U(-1/sqrt(hidden), 1/sqrt(hidden)); attention: xavier-uniform in_proj, zero biases."""
    mg.manual_seed(0)
    lstm = nn.LSTM(10, 25, num_layers=2)
    bound = 1 / math.sqrt(25)
    values = np.concatenate([p.numpy().ravel() for p in lstm.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound  # the whole interval is used
    assert abs(values.mean()) < 0.01 and abs(values.std() - bound / math.sqrt(3)) < 0.01
    mha = nn.MultiheadAttention(16, 4)
    w = mha.in_proj_weight.numpy()
    xavier = math.sqrt(6 / (16 + 48))
    assert w.min() >= -xavier and w.max() <= xavier and w.max() > 0.9 * xavier
    assert not np.any(mha.in_proj_bias.numpy()) and not np.any(mha.out_proj.bias.numpy())


def test_reprs_match_pytorch():
    torch = pytest.importorskip("torch")
    makers = [lambda m: m.LSTM(3, 4, num_layers=2, batch_first=True, dropout=0.5, bidirectional=True),
              lambda m: m.RNN(3, 4, nonlinearity="relu", bias=False), lambda m: m.GRU(3, 4),
              lambda m: m.RNNCell(3, 4, nonlinearity="relu"), lambda m: m.LSTMCell(3, 4, bias=False),
              lambda m: m.LSTM(3, 4, proj_size=2)]
    for make in makers:
        assert repr(make(nn)) == repr(make(torch.nn))


def test_float32_matches_pytorch():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.GRU(3, 5, num_layers=2, bidirectional=True)
    ours = nn.GRU(3, 5, num_layers=2, bidirectional=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = _x(6, 2, 3).astype(np.float32)
    out, h = ours(mg.tensor(x))
    expected, h_expected = theirs(torch.tensor(x))
    assert out.dtype == np.float32 and h.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.numpy(), h_expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_sdpa_dropout_drops_attention_weights():
    """dropout_p drops the softmax weights (not the output), with the backend's generator."""
    q, k, v = (mg.tensor(_x(2, 3, 4)) for _ in range(3))
    mg.manual_seed(11)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    mg.manual_seed(11)
    weights = F.dropout(F.softmax(q @ k.mT / 2.0, -1), 0.4)
    np.testing.assert_allclose(out.numpy(), (weights @ v).numpy(), rtol=1e-12, atol=1e-12)
    assert not np.allclose(out.numpy(), F.scaled_dot_product_attention(q, k, v).numpy())


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_matches_pytorch_fast_path_in_eval(need_weights):
    """eval() under no_grad with batch_first self-attention: PyTorch's fused path."""
    torch = pytest.importorskip("torch")
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True).double().eval()
    ours = nn.MultiheadAttention(8, 2, batch_first=True).double()
    _copy_from(ours, theirs)
    ours.eval()
    x = _x(3, 5, 8)
    pad = np.zeros((3, 5), bool)
    pad[0, -2:] = True
    with torch.no_grad():
        expected = theirs(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(pad), need_weights=need_weights)
    with mg.no_grad():
        out = ours(*[mg.tensor(x)] * 3, key_padding_mask=mg.tensor(pad), need_weights=need_weights)
    np.testing.assert_allclose(out[0].numpy(), expected[0].numpy(), rtol=TOL, atol=TOL)
    assert (out[1] is None) == (expected[1] is None)
    if need_weights:
        np.testing.assert_allclose(out[1].numpy(), expected[1].numpy(), rtol=TOL, atol=TOL)


def test_mha_dropout_in_training_only():
    mha = nn.MultiheadAttention(4, 2, dropout=0.5).double()
    x = mg.tensor(_x(3, 2, 4))
    mg.manual_seed(1)
    train_out, train_weights = mha(x, x, x)
    mha.eval()
    eval_out, eval_weights = mha(x, x, x)
    np.testing.assert_allclose(eval_weights.numpy().sum(-1), 1.0, rtol=1e-12)
    assert not np.allclose(train_out.numpy(), eval_out.numpy())
    dropped = train_weights.numpy() * 2  # averaged over 2 heads: each head's weight is 0 or twice its value
    assert not np.allclose(dropped.sum(-1) / 2, 1.0)


# -- errors ---------------------------------------------------------------------------------------------------
def test_recurrent_errors_name_the_layer_and_shapes():
    lstm = nn.LSTM(3, 4, num_layers=2)
    before = {k: v.numpy().copy() for k, v in lstm.state_dict().items()}
    with pytest.raises(ShapeError, match=r"LSTM: input.size\(-1\) must be equal to input_size. Expected 3, got 5"):
        lstm(mg.randn(2, 1, 5))
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D"):
        lstm(mg.randn(2, 1, 1, 3))
    with pytest.raises(ShapeError, match=r"Expected hidden\[0\] size \(2, 1, 4\), got \[2, 3, 4\]"):
        lstm(mg.randn(2, 1, 3), (mg.zeros(2, 3, 4), mg.zeros(2, 1, 4)))
    with pytest.raises(ShapeError, match="For unbatched 2-D input, hidden\\[1\\] should also be 2-D but got 3-D"):
        lstm(mg.randn(2, 3), (mg.zeros(2, 4), mg.zeros(2, 1, 4)))
    with pytest.raises(TypeError, match="LSTM: hx must be a pair"):
        lstm(mg.randn(2, 1, 3), mg.zeros(2, 1, 4))
    with pytest.raises(ValueError, match="Expected sequence length to be larger than 0"):
        lstm(mg.randn(0, 1, 3))
    with pytest.raises(TypeError, match="LSTM: input must be a tensor or a PackedSequence, got tuple"):
        lstm((mg.randn(2, 3), mg.tensor([2])))
    with pytest.raises(ShapeError, match=r"GRU: Expected hidden size \(1, 2, 4\), got \[1, 3, 4\]"):
        nn.GRU(3, 4)(mg.randn(5, 2, 3), mg.zeros(1, 3, 4))
    assert all(np.array_equal(v.numpy(), before[k]) for k, v in lstm.state_dict().items())
    with pytest.raises(ValueError, match=r"LSTM: input dtype \(float64\) does not match weight dtype \(float32\)"):
        lstm(mg.randn(2, 1, 3, dtype="float64"))
    with pytest.raises(ValueError, match=r"GRUCell: input dtype \(int64\) does not match weight dtype"):
        nn.GRUCell(3, 4)(mg.tensor([[1, 2, 3]]))
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.RNN(3, 0)
    with pytest.raises(TypeError, match="input_size should be of type int"):
        nn.LSTMCell(3.0, 4)
    cell = nn.GRUCell(3, 4)
    with pytest.raises(ValueError, match="GRUCell: Expected input to be 1D or 2D, got 3D"):
        cell(mg.randn(1, 2, 3))
    with pytest.raises(ShapeError, match=r"GRUCell: hidden has shape \(3, 4\), expected \(2, 4\)"):
        cell(mg.randn(2, 3), mg.zeros(3, 4))
    with pytest.raises(ShapeError, match="LSTMCell: input has 2 features"):
        nn.LSTMCell(3, 4)(mg.randn(5, 2))


def test_attention_errors():
    q = mg.randn(2, 3, 4)
    with pytest.raises(ShapeError, match=r"scaled_dot_product_attention: expected query \(..., L, E\)"):
        F.scaled_dot_product_attention(q, mg.randn(2, 5, 3), mg.randn(2, 5, 2))
    with pytest.raises(ValueError, match="attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=mg.ones(3, 3, dtype="bool"), is_causal=True)
    with pytest.raises(ValueError, match="dropout_p must be in"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=1.5)
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    mha = nn.MultiheadAttention(4, 2)
    x = mg.randn(3, 2, 4)
    with pytest.raises(ShapeError, match=r"MultiheadAttention: expected query \(L, N, 4\)"):
        mha(mg.randn(3, 2, 5), x, x)
    with pytest.raises(ShapeError, match=r"attn_mask must have shape \(3, 3\) or \(4, 3, 3\), got \(3, 2\)"):
        mha(x, x, x, attn_mask=mg.zeros(3, 2))
    with pytest.raises(ShapeError, match=r"key_padding_mask must have shape \(2, 3\)"):
        mha(x, x, x, key_padding_mask=mg.zeros(3, 2, dtype="bool"))
    with pytest.raises(ValueError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(TypeError, match="only bool and floating types of attn_mask"):
        mha(x, x, x, attn_mask=mg.zeros(3, 3, dtype="int64"))
    with pytest.raises(ValueError, match="activation should be relu/gelu, not 'tanh'"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_layers_gradcheck(kind):
    """Finite differences, first and second order, through a bidirectional two-layer layer (the per-step slicing
    of the input projections included), for the input and the initial state."""
    mg.manual_seed(4)
    module = getattr(nn, kind)(2, 2, num_layers=2, bidirectional=True).double()
    x = mg.tensor(_x(3, 1, 2), dtype="float64", requires_grad=True)
    h = mg.tensor(_x(4, 1, 2), dtype="float64", requires_grad=True)
    g = mg.tensor(_x(3, 1, 4), dtype="float64")

    def run(x, h):
        out, state = module(x, (h, h * 0.5) if kind == "LSTM" else h)
        return out * g, (state[0] if kind == "LSTM" else state)

    assert mg.gradcheck(run, (x, h))
    assert mg.gradgradcheck(run, (x, h))


# -- porting programs: written once against PyTorch's API, run unchanged on both libraries ------------------------
TOKENS = np.array([[3, 5, 7, 0, 0, 2], [2, 9, 9, 4, 1, 1], [6, 0, 0, 0, 0, 3], [8, 3, 3, 3, 0, 4]])
TOKEN_LABELS = np.array([0, 1, 0, 1])


def lstm_tagger_with_clipping(torch, device, start):
    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 4)
            self.lstm = torch.nn.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(10, 2)

        def forward(self, tokens):
            out, (h, c) = self.lstm(self.embed(tokens))
            return self.head(out[:, -1]) + h.sum() * 0.01 + c.mean() * 0.01

    model = Tagger().double()
    start(model)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    x, y = torch.tensor(TOKENS, device=device), torch.tensor(TOKEN_LABELS, device=device)
    losses = []
    for _ in range(4):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses + [p.detach().numpy() for p in model.parameters()]


def gru_truncated_bptt(torch, device, start):
    model = torch.nn.GRU(3, 4, num_layers=2).double()
    head = torch.nn.Linear(4, 1).double()
    start(model)
    model.to(device)
    params = list(model.parameters()) + list(head.parameters())
    head.to(device)
    with torch.no_grad():  # the same head in both libraries
        head.weight.copy_(torch.tensor(np.linspace(-0.5, 0.5, 4).reshape(1, 4), device=device))
        head.bias.zero_()
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    series = np.sin(np.linspace(0, 6, 25)).reshape(25, 1, 1) * np.array([1.0, 0.5, -0.3])
    h, losses = None, []
    for chunk in range(4):
        x = torch.tensor(series[chunk * 6:chunk * 6 + 5], device=device)
        target = torch.tensor(series[chunk * 6 + 1:chunk * 6 + 6, :, :1], device=device)
        optimizer.zero_grad()
        out, h = model(x, h)
        loss = torch.nn.functional.mse_loss(head(out), target)
        loss.backward()
        optimizer.step()
        h = h.detach()
        losses.append(loss.item())
    return losses + [h.numpy()] + [p.detach().numpy() for p in params]


def transformer_classifier(torch, device, start):
    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 8)
            layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True,
                                                     activation="gelu")
            self.encoder = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(8),
                                                       enable_nested_tensor=False)
            self.head = torch.nn.Linear(8, 2)

        def forward(self, tokens):
            padding = tokens == 0
            h = self.encoder(self.embed(tokens), src_key_padding_mask=padding)
            return self.head(h[:, 0])

    model = Classifier().double()
    start(model)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    x, y = torch.tensor(TOKENS, device=device), torch.tensor(TOKEN_LABELS, device=device)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        logits = model(x)
    return losses + [logits.numpy()]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("program", [lstm_tagger_with_clipping, gru_truncated_bptt, transformer_classifier],
                         ids=lambda p: p.__name__)
def test_sequence_program_runs_unchanged_and_agrees_with_pytorch(program, backend):
    _side_by_side(program, backend)


def test_sequence_modules_on_the_cupy_backend(cupy_device):
    torch = pytest.importorskip("torch")
    kw = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True)
    _compare(torch, nn.LSTM(**kw), torch.nn.LSTM(**kw), [_x(2, 3, 3)], cupy_device)
    args, kwargs = _mha_inputs(6, 2, {}, None, {"key_padding_mask": "bool", "attn_mask": "bool"})
    _compare(torch, nn.MultiheadAttention(6, 2), torch.nn.MultiheadAttention(6, 2), args, cupy_device, kwargs=kwargs)
    x, kwargs = _encoder_inputs(dict(batch_first=True), "padding")
    make = lambda m: m.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)  # noqa: E731
    _compare(torch, make(nn), make(torch.nn), [x], cupy_device, kwargs=kwargs)
