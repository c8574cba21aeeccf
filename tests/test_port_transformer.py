"""TransformerDecoderLayer, TransformerDecoder and Transformer: against PyTorch's on copied weights in float64
(outputs, every input and parameter gradient with random upstream gradients, in training with dropout 0 and in
eval), the causal-mask helper, parameter names, initialisation and the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_port_sequence import _compare, _copy_from, _x
from test_porting import _side_by_side

import minigrad as mg
from minigrad import nn
from minigrad.errors import ShapeError

# PyTorch's own notices about its nested-tensor fast path (which the eval tests exercise on purpose) and about a
# bool padding mask beside a float attn_mask (which the masks cases mix on purpose)
pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning"),
              pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning"),
              pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask:UserWarning")]
BACKENDS = mg.testing.available_backends()
TOL = 1e-10
D, HEADS, FF = 8, 2, 16

CASES = {
    "post_norm": dict(),
    "pre_norm_gelu": dict(norm_first=True, activation="gelu"),
    "batch_first_no_bias": dict(batch_first=True, bias=False, layer_norm_eps=1e-6),
    "batch_first_pre_norm": dict(batch_first=True, norm_first=True),
}
MASKS = ["none", "causal", "causal_hint", "causal_bool", "padding", "padding_float", "memory_mask", "unbatched"]


def _causal(n):
    return np.triu(np.full((n, n), -np.inf), 1)


def _inputs(kw, masks, tgt_len=4, src_len=5, batch=3):
    """(tgt, memory) arrays and the mask keyword arguments of a decoder (or of a Transformer: src_* masks too)."""
    if masks == "unbatched":
        return _x(tgt_len, D), _x(src_len, D), {}
    shape = (lambda n: (batch, n, D)) if kw.get("batch_first") else (lambda n: (n, batch, D))
    tgt, memory, kwargs = _x(*shape(tgt_len)), _x(*shape(src_len)), {}
    if masks.startswith("causal"):
        kwargs["tgt_mask"] = np.triu(np.ones((tgt_len, tgt_len), bool), 1) if masks == "causal_bool" \
            else _causal(tgt_len)
        if masks == "causal_hint":
            kwargs["tgt_is_causal"] = True
    if masks.startswith("padding"):
        tgt_pad, mem_pad = np.zeros((batch, tgt_len), bool), np.zeros((batch, src_len), bool)
        tgt_pad[0, -1] = True
        mem_pad[0, -2:] = True
        mem_pad[2, 0] = True
        for name, pad in (("tgt_key_padding_mask", tgt_pad), ("memory_key_padding_mask", mem_pad)):
            kwargs[name] = np.where(pad, -np.inf, 0.0) if masks == "padding_float" else pad
        kwargs["tgt_mask"] = _causal(tgt_len)
    if masks == "memory_mask":
        kwargs["memory_mask"] = _x(tgt_len, src_len)
        kwargs["tgt_mask"] = np.triu(np.full((batch * HEADS, tgt_len, tgt_len), -1e9), 1)
    return tgt, memory, kwargs


def _decoders(m, kw, final_norm=True):
    layer = m.TransformerDecoderLayer(D, HEADS, FF, dropout=0.0, **kw)
    return m.TransformerDecoder(layer, 2, norm=m.LayerNorm(D) if final_norm else None)


def _transformers(m, kw):
    return m.Transformer(D, HEADS, 2, 2, FF, dropout=0.0, **kw)


def _transformer_inputs(kw, masks):
    tgt, memory, kwargs = _inputs(kw, masks)
    src = memory  # the encoder's input has the memory's shape
    if "memory_key_padding_mask" in kwargs:
        kwargs["src_key_padding_mask"] = kwargs["memory_key_padding_mask"]
    if masks.startswith("causal"):
        kwargs["src_mask"] = _causal(src.shape[-2 if kw.get("batch_first") and src.ndim == 3 else 0])
        if masks == "causal_hint":
            kwargs["src_is_causal"] = True
    return src, tgt, kwargs


@pytest.mark.parametrize("masks", MASKS)
@pytest.mark.parametrize("name", list(CASES))
def test_decoder_layer_matches_pytorch_in_training(name, masks):
    torch = pytest.importorskip("torch")
    kw = CASES[name]
    tgt, memory, kwargs = _inputs(kw, masks)
    make = lambda m: m.TransformerDecoderLayer(D, HEADS, FF, dropout=0.0, **kw)  # noqa: E731
    _compare(torch, make(nn), make(torch.nn), [tgt, memory], kwargs=kwargs)


@pytest.mark.parametrize("masks", MASKS)
@pytest.mark.parametrize("name", list(CASES))
def test_decoder_matches_pytorch_in_training(name, masks):
    torch = pytest.importorskip("torch")
    kw = CASES[name]
    tgt, memory, kwargs = _inputs(kw, masks)
    _compare(torch, _decoders(nn, kw), _decoders(torch.nn, kw), [tgt, memory], kwargs=kwargs)


@pytest.mark.parametrize("masks", MASKS)
@pytest.mark.parametrize("name", list(CASES))
def test_transformer_matches_pytorch_in_training(name, masks):
    torch = pytest.importorskip("torch")
    kw = CASES[name]
    src, tgt, kwargs = _transformer_inputs(kw, masks)
    _compare(torch, _transformers(nn, kw), _transformers(torch.nn, kw), [src, tgt], kwargs=kwargs)


@pytest.mark.parametrize("masks", MASKS)
@pytest.mark.parametrize("name", list(CASES))
def test_transformer_and_decoder_match_pytorch_in_eval(name, masks):
    """eval(): with gradients (outputs and every gradient) and under no_grad, where PyTorch takes its fused paths
    (and in the encoder, with batch_first and a left-aligned padding mask, nested tensors)."""
    torch = pytest.importorskip("torch")
    kw = CASES[name]
    src, tgt, kwargs = _transformer_inputs(kw, masks)
    theirs, ours = _transformers(torch.nn, kw).double().eval(), _transformers(nn, kw).double()
    _copy_from(ours, theirs)
    ours.eval()
    _compare(torch, ours, theirs, [src, tgt], kwargs=kwargs)
    tgt, memory, dec_kwargs = _inputs(kw, masks)
    for final_norm in (True, False):
        pairs = [(_transformers(nn, kw), _transformers(torch.nn, kw), (src, tgt), kwargs),
                 (_decoders(nn, kw, final_norm), _decoders(torch.nn, kw, final_norm), (tgt, memory), dec_kwargs)]
        for ours, theirs, args, kws in pairs:
            theirs = theirs.double().eval()
            ours.double()
            _copy_from(ours, theirs)
            ours.eval()
            wrap = lambda make, v: make(v) if isinstance(v, np.ndarray) else v  # noqa: E731
            with torch.no_grad():
                expected = theirs(*map(torch.tensor, args), **{k: wrap(torch.tensor, v) for k, v in kws.items()})
            with mg.no_grad():
                out = ours(*map(mg.tensor, args), **{k: wrap(mg.tensor, v) for k, v in kws.items()})
            np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=TOL, atol=TOL)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_transformer_on_other_backends(backend):
    torch = pytest.importorskip("torch")
    kw = dict(batch_first=True, norm_first=True)
    src, tgt, kwargs = _transformer_inputs(kw, "padding")
    _compare(torch, _transformers(nn, kw), _transformers(torch.nn, kw), [src, tgt], backend, kwargs=kwargs)


def test_transformer_on_the_cupy_backend(cupy_device):
    torch = pytest.importorskip("torch")
    kw = dict(batch_first=True)
    src, tgt, kwargs = _transformer_inputs(kw, "padding")
    _compare(torch, _transformers(nn, kw), _transformers(torch.nn, kw), [src, tgt], cupy_device, kwargs=kwargs)


def test_custom_encoder_and_decoder_and_a_callable_activation():
    """custom_encoder/custom_decoder are used as given (and re-initialised as PyTorch does); an activation may be
    any callable."""
    torch = pytest.importorskip("torch")

    def make(m, act):
        encoder = m.TransformerEncoder(m.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, activation=act), 1)
        decoder = m.TransformerDecoder(m.TransformerDecoderLayer(D, HEADS, FF, dropout=0.0, activation=act), 3,
                                       norm=m.LayerNorm(D, bias=False))
        return m.Transformer(D, HEADS, dropout=0.0, custom_encoder=encoder, custom_decoder=decoder)

    ours, theirs = make(nn, nn.functional.silu), make(torch.nn, torch.nn.functional.silu)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    src, tgt, kwargs = _transformer_inputs({}, "causal")
    _compare(torch, ours, theirs, [src, tgt], kwargs=kwargs)


def test_generate_square_subsequent_mask_is_pytorchs():
    torch = pytest.importorskip("torch")
    for sz in (0, 1, 5):
        mask = nn.Transformer.generate_square_subsequent_mask(sz)
        expected = torch.nn.Transformer.generate_square_subsequent_mask(sz)
        assert mask.dtype == np.float32 and mask.shape == (sz, sz)
        np.testing.assert_array_equal(mask.numpy(), expected.numpy())
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4, dtype="float64").numpy(),
                                  _causal(4))
    bool_mask = nn.Transformer.generate_square_subsequent_mask(4, dtype="bool")
    assert bool_mask.dtype == "bool"
    np.testing.assert_array_equal(bool_mask.numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.bool).numpy())
    model = nn.Transformer(D, HEADS, 1, 1, FF)
    np.testing.assert_array_equal(model.generate_square_subsequent_mask(3).numpy(), _causal(3))


def test_parameters_are_pytorchs_in_names_order_and_shapes():
    torch = pytest.importorskip("torch")
    for kw in [dict(), dict(bias=False), dict(norm_first=True, batch_first=True)]:
        for make in (_transformers, _decoders, lambda m, kw: m.TransformerDecoderLayer(D, HEADS, FF, **kw)):
            ours, theirs = make(nn, kw), make(torch.nn, kw)
            assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
                [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours = nn.Transformer()
    assert (ours.d_model, ours.nhead, len(ours.encoder.layers), len(ours.decoder.layers)) == (512, 8, 6, 6)
    assert ours.decoder.layers[0].linear1.out_features == 2048 and ours.decoder.layers[0].dropout.p == 0.1


def test_initialisation_follows_pytorch():
    """Transformer: every parameter of two or more dimensions xavier-uniform (in_proj, out_proj and the
    feed-forward weights alike), the biases as the layers leave them (zeros in attention), norms ones and zeros."""
    mg.manual_seed(0)
    model = nn.Transformer(16, 4, 1, 1, 32)
    for name, p in model.named_parameters():
        w = p.numpy()
        if p.ndim > 1:
            bound = math.sqrt(6 / sum(w.shape))
            assert w.min() >= -bound and w.max() <= bound and w.max() > 0.8 * bound, name
        elif "norm" in name:
            np.testing.assert_array_equal(w, np.ones_like(w) if name.endswith("weight") else np.zeros_like(w))
        elif "in_proj_bias" in name or "out_proj.bias" in name:
            assert not np.any(w), name


def test_dropout_in_training_only():
    """dropout > 0 changes the output in training, reproducibly under manual_seed, and not at all in eval."""
    model = nn.Transformer(D, HEADS, 1, 1, FF, dropout=0.3).double()
    src, tgt = mg.tensor(_x(5, 2, D)), mg.tensor(_x(4, 2, D))
    mg.manual_seed(3)
    first = model(src, tgt).numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(model(src, tgt).numpy(), first)
    model.eval()
    plain = model(src, tgt).numpy()
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        elif isinstance(module, nn.MultiheadAttention):
            module.dropout = 0.0
    model.train()
    np.testing.assert_allclose(model(src, tgt).numpy(), plain, rtol=TOL, atol=TOL)
    assert not np.allclose(first, plain)


def test_gradcheck_decoder_layer():
    """Finite differences, first and second order, for tgt and memory through a decoder layer with masks."""
    mg.manual_seed(4)
    layer = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, activation="gelu").double()
    tgt = mg.tensor(_x(3, 1, 4), requires_grad=True)
    memory = mg.tensor(_x(2, 1, 4), requires_grad=True)
    g = mg.tensor(_x(3, 1, 4))
    mask = mg.tensor(_causal(3))
    padding = mg.tensor(np.array([[False, True]]))
    run = lambda t, m: layer(t, m, tgt_mask=mask, memory_key_padding_mask=padding) * g  # noqa: E731
    assert mg.gradcheck(run, (tgt, memory))
    assert mg.gradgradcheck(run, (tgt, memory))


def test_errors():
    model = nn.Transformer(D, HEADS, 1, 1, FF)
    with pytest.raises(ShapeError, match=r"Transformer: the batch number of src and tgt must be equal .*"
                                         r"got shapes \(5, 2, 8\) and \(4, 3, 8\)"):
        model(mg.randn(5, 2, D), mg.randn(4, 3, D))
    with pytest.raises(ShapeError, match=r"the feature number of src and tgt must be equal to d_model=8, got shapes "
                                         r"\(5, 2, 8\) and \(4, 2, 6\)"):
        model(mg.randn(5, 2, D), mg.randn(4, 2, 6))
    with pytest.raises(ValueError, match="TransformerDecoderLayer: activation should be relu/gelu, not 'tanh'"):
        nn.TransformerDecoderLayer(D, HEADS, activation="tanh")
    layer = nn.TransformerDecoderLayer(D, HEADS, FF)
    with pytest.raises(ShapeError, match=r"MultiheadAttention: expected query \(L, N, 8\), key \(S, N, 8\)"):
        layer(mg.randn(4, 2, D), mg.randn(5, 3, D))
    with pytest.raises(ValueError, match="Need attn_mask if specifying the is_causal hint"):
        layer(mg.randn(4, 2, D), mg.randn(5, 2, D), memory_is_causal=True)
    with pytest.raises(ShapeError, match=r"attn_mask must have shape \(4, 5\)"):
        layer(mg.randn(4, 2, D), mg.randn(5, 2, D), memory_mask=mg.zeros(4, 4))


# -- a porting program: written once against PyTorch's API, run unchanged on both libraries ------------------------
SOURCE = np.array([[3, 5, 7, 0, 0], [2, 9, 9, 4, 1], [6, 1, 0, 0, 0]])
TARGET = np.array([[1, 4, 4, 2], [1, 8, 3, 0], [1, 2, 0, 0]])


def seq2seq_copy_task(torch, device, start):
    class Seq2Seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 8)
            self.transformer = torch.nn.Transformer(8, 2, 1, 2, dim_feedforward=16, dropout=0.0, batch_first=True,
                                                    norm_first=True)
            self.head = torch.nn.Linear(8, 10)

        def forward(self, src, tgt):
            mask = torch.nn.Transformer.generate_square_subsequent_mask(tgt.shape[1], dtype=torch.float64).to(device)
            out = self.transformer(self.embed(src), self.embed(tgt), tgt_mask=mask, tgt_is_causal=True,
                                   src_key_padding_mask=src == 0, memory_key_padding_mask=src == 0,
                                   tgt_key_padding_mask=tgt == 0)
            return self.head(out)

    model = Seq2Seq().double()
    start(model)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    src, tgt = torch.tensor(SOURCE, device=device), torch.tensor(TARGET, device=device)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        logits = model(src, tgt[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 10), tgt[:, 1:].reshape(-1), ignore_index=0)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        logits = model(src, tgt)
    return losses + [logits.numpy()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_seq2seq_program_runs_unchanged_and_agrees_with_pytorch(backend):
    _side_by_side(seq2seq_copy_task, backend)


@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_detects_a_causal_mask_as_pytorch(batch_first, monkeypatch):
    """``TransformerEncoder(is_causal=None)`` tells its layers that a mask equal to the causal one is causal (and
    only that one), as PyTorch's ``_detect_is_causal_mask``; an explicit hint is passed on as given."""
    layer = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=batch_first)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    seen = []
    real = nn.TransformerEncoderLayer.forward
    monkeypatch.setattr(nn.TransformerEncoderLayer, "forward",
                        lambda self, *a, **kw: seen.append(kw["is_causal"]) or real(self, *a, **kw))
    x = mg.tensor(np.random.default_rng(0).standard_normal((3, 5, D) if batch_first else (5, 3, D)))
    causal = nn.Transformer.generate_square_subsequent_mask(5, dtype=x.dtype)
    not_causal = mg.tensor(np.triu(np.full((5, 5), -np.inf), 2))
    cases = [(causal, None, True), (not_causal, None, False), (None, None, False), (causal, False, False),
             (not_causal, True, True)]
    for mask, hint, expected in cases:
        seen.clear()
        encoder(x, mask=mask, is_causal=hint)
        assert seen == [expected, expected], (mask is causal, hint)
