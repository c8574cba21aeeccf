"""``MultiheadAttention``, the Transformer encoder and decoder layers and stacks, and ``Transformer``, with
PyTorch's arguments, parameter names, initialisation and numbers, as composites of differentiable ops."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

from .. import creation as _creation
from ..errors import ShapeError
from ..grad_mode import is_grad_enabled
from ..ops import cat, where
from ..ops.composites import triu
from ..ops.movement import _expand_or_self, _reshape_or_self
from ..tensor import Tensor
from . import functional as F  # noqa: N812 - PyTorch's convention
from . import init
from .containers import ModuleList
from .layers import Dropout, LayerNorm, Linear, _empty
from .module import Module


def _float_mask(mask: Tensor | None, name: str, like: Tensor) -> Tensor | None:
    """PyTorch's canonical mask: a bool mask (True = masked out) becomes 0 / -inf in ``like``'s dtype."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"MultiheadAttention: {name} must be a tensor, got {type(mask).__name__}")
    if mask.dtype == "bool":
        return where(mask, -math.inf, _creation.zeros(*mask.shape, dtype=like.dtype, backend=like.backend))
    if mask.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: only bool and floating types of {name} are supported, got {mask.dtype}")
    return mask


def multi_head_attention(op: str, query: Tensor, key: Tensor, value: Tensor, embed_dim: int, num_heads: int,
                         w_q: Tensor, w_k: Tensor, w_v: Tensor, in_proj_bias: Tensor | None, bias_k: Tensor | None,
                         bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
                         out_proj_bias: Tensor | None, key_padding_mask: Tensor | None = None,
                         need_weights: bool = True, attn_mask: Tensor | None = None,
                         average_attn_weights: bool = True, is_causal: bool = False, static_k: Tensor | None = None,
                         static_v: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention of (L, N, E) (or unbatched (L, E)) query, key and value with the given projections:
    ``MultiheadAttention``'s forward and ``F.multi_head_attention_forward``. ``static_k``/``static_v``
    ((N * num_heads, S, E / num_heads)) replace the projected keys/values."""
    if not all(isinstance(t, Tensor) for t in (query, key, value)):
        raise TypeError(f"{op}: query, key and value must be tensors")
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ShapeError(f"{op}: query, key and value must all be unbatched 2-D or batched 3-D tensors, got "
                         f"shapes {query.shape}, {key.shape} and {value.shape}")
    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    length, batch, embed = query.shape
    source = key.shape[0]
    heads, head_dim = num_heads, embed_dim // num_heads
    kdim, vdim = w_k.shape[-1], w_v.shape[-1]
    if embed != embed_dim or key.shape[-1] != kdim or value.shape[-1] != vdim \
            or key.shape[:2] != value.shape[:2] or key.shape[1] != batch:
        raise ShapeError(f"{op}: expected query (L, N, {embed_dim}), key (S, N, {kdim}) and value "
                         f"(S, N, {vdim}) (batch first with batch_first=True), got shapes {query.shape}, "
                         f"{key.shape} and {value.shape} (after moving the batch to dimension 1)")
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (batch, source):
        raise ShapeError(f"{op}: key_padding_mask must have shape {(batch, source)} (N, S), got "
                         f"{key_padding_mask.shape}")
    if attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"{op}: attn_mask must be a tensor, got {type(attn_mask).__name__}")
        expected = {2: (length, source), 3: (batch * heads, length, source)}.get(attn_mask.ndim)
        if tuple(attn_mask.shape) != expected:
            raise ShapeError(f"{op}: attn_mask must have shape {(length, source)} or "
                             f"{(batch * heads, length, source)}, got {attn_mask.shape}")
    if is_causal and attn_mask is None:
        raise ValueError(f"{op}: Need attn_mask if specifying the is_causal hint (a causal float mask: -inf "
                         "above the diagonal, 0 elsewhere)")
    key_padding_mask = _float_mask(key_padding_mask, "key_padding_mask", query)
    # PyTorch's own shortcut: with the is_causal hint, no padding mask and no weights, attn_mask is not read
    causal = is_causal and key_padding_mask is None and not need_weights
    attn_mask = None if causal else _float_mask(attn_mask, "attn_mask", query)
    if attn_mask is not None and attn_mask.ndim == 2:
        attn_mask = attn_mask.unsqueeze(0)

    b_q, b_k, b_v = in_proj_bias.chunk(3) if in_proj_bias is not None else (None, None, None)
    q, k, v = F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)
    for name, static in (("static_k", static_k), ("static_v", static_v)):
        if static is not None:
            if bias_k is not None:
                raise ValueError(f"{op}: bias cannot be added to {name}")
            if tuple(static.shape) != (batch * heads, source, head_dim):
                raise ShapeError(f"{op}: {name} must have shape {(batch * heads, source, head_dim)} (N * num_heads, "
                                 f"S, head_dim), got {tuple(static.shape)}")
    if bias_k is not None:
        k = cat([k, _expand_or_self(bias_k, (1, batch, embed))])
        v = cat([v, _expand_or_self(bias_v, (1, batch, embed))])
        attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else F.pad(key_padding_mask, (0, 1))
    q = _reshape_or_self(q, (length, batch * heads, head_dim)).transpose(0, 1)
    k = _reshape_or_self(k, (k.shape[0], batch * heads, head_dim)).transpose(0, 1) if static_k is None else static_k
    v = _reshape_or_self(v, (v.shape[0], batch * heads, head_dim)).transpose(0, 1) if static_v is None else static_v
    if add_zero_attn:
        zeros = _creation.zeros(batch * heads, 1, head_dim, dtype=k.dtype, backend=k.backend)
        k, v = cat([k, zeros], 1), cat([v, zeros], 1)
        attn_mask = None if attn_mask is None else F.pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else F.pad(key_padding_mask, (0, 1))
    source = k.shape[1]
    if key_padding_mask is not None:
        padding = _expand_or_self(key_padding_mask.reshape(batch, 1, 1, source), (batch, heads, 1, source))
        padding = padding.reshape(batch * heads, 1, source)
        attn_mask = padding if attn_mask is None else attn_mask + padding

    if need_weights:
        # PyTorch's explicit path: a query that may attend nowhere gives NaN here, as in PyTorch.
        scores = (q * math.sqrt(1.0 / head_dim)) @ k.mT
        weights = F.softmax(scores if attn_mask is None else scores + attn_mask, -1)
        if dropout_p > 0.0:
            weights = F.dropout(weights, dropout_p, True)
        out = (weights @ v).transpose(0, 1).reshape(length * batch, embed)
        out = F.linear(out, out_proj_weight, out_proj_bias).reshape(length, batch, embed)
        weights = weights.reshape(batch, heads, length, source)
        if average_attn_weights:
            weights = weights.mean(1)
    else:
        if attn_mask is not None:
            attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else \
                attn_mask.reshape(batch, heads, -1, source)
        q = q.reshape(batch, heads, length, head_dim)
        k = k.reshape(batch, heads, source, head_dim)
        v = v.reshape(batch, heads, source, head_dim)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, causal)
        out = out.permute(2, 0, 1, 3).reshape(length * batch, embed)
        out = F.linear(out, out_proj_weight, out_proj_bias).reshape(length, batch, embed)
        weights = None
    if not batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights


class MultiheadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention``: in_proj_weight (3E, E) xavier-uniform (or q/k/v_proj_weight when
    kdim/vdim differ from embed_dim), in_proj_bias zeros, out_proj a Linear with zero bias; optional bias_k/bias_v
    (xavier-normal) and add_zero_attn. ``forward`` returns ``(attn_output, attn_weights or None)``; masks use
    PyTorch's convention (bool True = not allowed to attend, float = added)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, *, dtype=None, backend: str | None = None) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads, got embed_dim="
                             f"{embed_dim} and num_heads={num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        super().__init__()
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = _empty((3 * embed_dim, embed_dim), dtype, backend)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = _empty((embed_dim, embed_dim), dtype, backend)
            self.k_proj_weight = _empty((embed_dim, self.kdim), dtype, backend)
            self.v_proj_weight = _empty((embed_dim, self.vdim), dtype, backend)
            self.register_parameter("in_proj_weight", None)
        self.register_parameter("in_proj_bias", _empty((3 * embed_dim,), dtype, backend) if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, backend=backend)
        self.register_parameter("bias_k", _empty((1, 1, embed_dim), dtype, backend) if add_bias_kv else None)
        self.register_parameter("bias_v", _empty((1, 1, embed_dim), dtype, backend) if add_bias_kv else None)
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        if not all(isinstance(t, Tensor) for t in (query, key, value)):
            raise TypeError("MultiheadAttention: query, key and value must be tensors")
        batch_first = self.batch_first and query.ndim == 3
        if batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if self._qkv_same_embed_dim:
            w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        out, weights = multi_head_attention(
            "MultiheadAttention", query, key, value, self.embed_dim, self.num_heads, w_q, w_k, w_v, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout if self.training else 0.0,
            self.out_proj.weight, self.out_proj.bias, key_padding_mask, need_weights, attn_mask, average_attn_weights,
            is_causal)
        return (out.transpose(0, 1) if batch_first else out), weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def _activation(activation, owner: str = "TransformerEncoderLayer") -> Callable:
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise ValueError(f"{owner}: activation should be relu/gelu, not {activation!r}")


class TransformerEncoderLayer(Module):
    """PyTorch's ``nn.TransformerEncoderLayer``: self-attention and a feed-forward block, each with dropout, a
    residual connection and a LayerNorm (after the block, or before it with ``norm_first=True``)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, *, dtype=None, backend: str | None = None) -> None:
        super().__init__()
        where_ = {"dtype": dtype, "backend": backend}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **where_)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **where_)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **where_)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **where_)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **where_)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        self.activation_relu_or_gelu = {"relu": 1, "gelu": 2}.get(activation, 1 if self.activation is F.relu else
                                                                  2 if self.activation is F.gelu else 0)

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` (``layers.0``, ``layers.1``, ...), then ``norm`` if given."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check
        attn = encoder_layer.self_attn
        # PyTorch's conditions for its nested-tensor path, which changes the numbers: see forward
        self.use_nested_tensor = enable_nested_tensor and not encoder_layer.norm_first and attn.batch_first \
            and attn._qkv_same_embed_dim and attn.in_proj_bias is not None \
            and bool(encoder_layer.activation_relu_or_gelu) and encoder_layer.norm1.eps == encoder_layer.norm2.eps \
            and attn.num_heads % 2 == 0

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        batch_first = self.layers[0].self_attn.batch_first if len(self.layers) else False
        length = src.shape[1 if batch_first and src.ndim == 3 else 0]
        is_causal = _detect_is_causal_mask(mask, is_causal, length)
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        padded = self._nested_padding(src, mask, src_key_padding_mask)
        if padded is not None:
            out = where(padded.unsqueeze(-1), 0.0, out)
        return out if self.norm is None else self.norm(out)

    def _nested_padding(self, src: Tensor, mask, src_key_padding_mask) -> Tensor | None:
        """Where PyTorch packs the batch into a nested tensor (eval, no gradient, batch_first, a left-aligned
        padding mask and no ``mask``, ...), its padded positions come out as zeros before ``norm``: the bool
        mask of those positions, else None."""
        first = self.layers[0]
        if not self.use_nested_tensor or first.training or src.ndim != 3 or src_key_padding_mask is None \
                or mask is not None:
            return None
        attn, ffn = first.self_attn, (first.linear1, first.linear2, first.norm1, first.norm2)
        tracked = [src, attn.in_proj_weight, attn.in_proj_bias, *attn.out_proj.parameters()]
        tracked += [p for m in ffn for p in m.parameters()]
        if is_grad_enabled() and any(t is not None and t.requires_grad for t in tracked):
            return None
        padded = src_key_padding_mask if src_key_padding_mask.dtype == "bool" else src_key_padding_mask != 0
        if self.mask_check:
            valid = (~padded).astype("int64")
            left_aligned = (valid[:, 1:] <= valid[:, :-1]).all()  # each row: valid positions, then padding
            if not bool(left_aligned.item()):
                return None
        return padded


def _square_subsequent_mask(sz: int, dtype=None, backend: str | None = None, device=None) -> Tensor:
    """-inf above the diagonal, 0 elsewhere (bool: True above the diagonal), as PyTorch's."""
    if dtype is not None and _creation.as_dtype(dtype) == "bool":
        return _square_subsequent_mask(sz, backend=backend, device=device) != 0
    return triu(_creation.full((sz, sz), -math.inf, dtype=dtype, backend=backend, device=device), 1)


def _detect_is_causal_mask(mask: Tensor | None, is_causal: bool | None, size: int) -> bool:
    """PyTorch's rule: an explicit hint wins; with ``None``, the mask is causal iff it equals the causal mask."""
    if is_causal is not None or mask is None:
        return is_causal is True
    if tuple(mask.shape) != (size, size):
        return False
    return bool((mask == _square_subsequent_mask(size, mask.dtype, mask.backend)).all().item())


class TransformerDecoderLayer(Module):
    """PyTorch's ``nn.TransformerDecoderLayer``: self-attention over ``tgt``, attention from ``tgt`` to ``memory``
    and a feed-forward block, each with dropout, a residual connection and a LayerNorm (after the block, or before
    it with ``norm_first=True``)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, *, dtype=None, backend: str | None = None) -> None:
        super().__init__()
        where_ = {"dtype": dtype, "backend": backend}
        attention = {"dropout": dropout, "bias": bias, "batch_first": batch_first, **where_}
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **where_)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **where_)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **where_)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **where_)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **where_)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerDecoderLayer")

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, memory: Tensor, attn_mask, key_padding_mask, is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` (``layers.0``, ``layers.1``, ...), then ``norm`` if given.
    ``tgt_is_causal=None`` detects a causal ``tgt_mask`` as PyTorch does."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        if len(self.layers):
            batch_first = self.layers[0].self_attn.batch_first
            length = tgt.shape[1 if tgt.ndim == 3 and batch_first else 0]
            tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, length)
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                        tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return out if self.norm is None else self.norm(out)


class Transformer(Module):
    """PyTorch's ``nn.Transformer``: a ``TransformerEncoder`` (``encoder``) and a ``TransformerDecoder``
    (``decoder``), each with a final LayerNorm, or the ``custom_encoder``/``custom_decoder`` given; every parameter
    of more than one dimension (custom ones included) is re-initialised xavier-uniform, as in PyTorch."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: str | Callable = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 *, dtype=None, backend: str | None = None) -> None:
        super().__init__()
        where_ = {"dtype": dtype, "backend": backend}
        layer = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*layer, **where_), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **where_))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*layer, **where_), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **where_))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_dim] != tgt.shape[batch_dim]):
            raise ShapeError(f"Transformer: the batch number of src and tgt must be equal (dimension {batch_dim} "
                             f"with batch_first={self.batch_first}), got shapes {src.shape} and {tgt.shape}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ShapeError(f"Transformer: the feature number of src and tgt must be equal to d_model="
                             f"{self.d_model}, got shapes {src.shape} and {tgt.shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None, *, backend: str | None = None) -> Tensor:
        """The (sz, sz) causal mask: -inf above the diagonal, 0 elsewhere."""
        return _square_subsequent_mask(sz, dtype, backend, device)
