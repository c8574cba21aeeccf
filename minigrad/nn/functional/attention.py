"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``."""

from __future__ import annotations

import math

from ... import creation as _creation
from ...errors import ShapeError
from ...ops import softmax
from ...ops import where as _where
from ...tensor import Tensor
from ._common import _public
from .normalization import dropout


@_public
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key.T * scale + mask) @ value over the last two axes, as PyTorch's: (..., L, E), (..., S, E),
    (..., S, Ev) give (..., L, Ev); ``scale`` defaults to 1 / sqrt(E). A bool ``attn_mask`` is True where a query
    may attend, a float one is added to the scores; ``is_causal`` lets query i attend to keys 0..i. A query that
    may attend nowhere gives zeros (PyTorch's kernels do the same). ``dropout_p`` drops attention weights
    (always, as PyTorch's: pass 0 in eval); ``enable_gqa`` repeats the key/value heads (dimension -3)."""
    op = "scaled_dot_product_attention"
    if not all(isinstance(t, Tensor) for t in (query, key, value)):
        raise TypeError(f"{op}: query, key and value must be tensors")
    if min(query.ndim, key.ndim, value.ndim) < 2 or query.shape[-1] != key.shape[-1] \
            or key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"{op}: expected query (..., L, E), key (..., S, E) and value (..., S, Ev), got shapes "
                         f"{query.shape}, {key.shape} and {value.shape}")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: Explicit attn_mask should not be set when is_causal=True")
    if enable_gqa and key.ndim >= 3 and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        if key.shape[-3] != value.shape[-3] or query.shape[-3] % key.shape[-3]:
            raise ShapeError(f"{op}: with enable_gqa the query heads ({query.shape[-3]}) must be a multiple of the "
                             f"key and value heads ({key.shape[-3]}, {value.shape[-3]})")
        repeats = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(repeats, -3), value.repeat_interleave(repeats, -3)
    length, source = query.shape[-2], key.shape[-2]
    scores = query @ key.mT * (1.0 / math.sqrt(query.shape[-1]) if scale is None else scale)
    if is_causal:
        rows = _creation.arange(length, backend=query.backend).unsqueeze(-1)
        attn_mask = _creation.arange(source, backend=query.backend) <= rows
    if attn_mask is not None:
        if attn_mask.dtype == "bool":
            scores = _where(attn_mask, scores, -math.inf)
        else:
            scores = scores + attn_mask
        # A row of -inf scores (nowhere to attend) gives zeros, not softmax's NaN, and no gradient.
        dead = scores.detach().amax(-1, keepdim=True) == -math.inf
        weights = _where(dead, 0.0, softmax(_where(dead, 0.0, scores), -1))
    else:
        weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value


@_public
def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int,
                                 num_heads: int, in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
                                 bias_k: Tensor | None, bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight: Tensor, out_proj_bias: Tensor | None, training: bool = True,
                                 key_padding_mask: Tensor | None = None, need_weights: bool = True,
                                 attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
                                 static_v: Tensor | None = None, average_attn_weights: bool = True,
                                 is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """PyTorch's functional multi-head attention over (L, N, E) (or unbatched (L, E)) inputs with explicit weights:
    ``nn.MultiheadAttention``'s computation (the same code). Returns ``(attn_output, attn_weights or None)``."""
    from ..attention import multi_head_attention

    op = "multi_head_attention_forward"
    if not isinstance(query, Tensor) or query.shape[-1] != embed_dim_to_check:
        raise ShapeError(f"{op}: was expecting embedding dimension of {embed_dim_to_check}, but got query of shape "
                         f"{getattr(query, 'shape', type(query).__name__)}")
    if embed_dim_to_check % num_heads:
        raise ValueError(f"{op}: embed_dim {embed_dim_to_check} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight is True but q_proj_weight, k_proj_weight or "
                             "v_proj_weight is None")
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        if in_proj_weight is None:
            raise ValueError(f"{op}: use_separate_proj_weight is False but in_proj_weight is None")
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    if (bias_k is None) != (bias_v is None):
        raise ValueError(f"{op}: bias_k and bias_v must be given together")
    return multi_head_attention(op, query, key, value, embed_dim_to_check, num_heads, w_q, w_k, w_v, in_proj_bias,
                                bias_k, bias_v, add_zero_attn, dropout_p if training else 0.0, out_proj_weight,
                                out_proj_bias, key_padding_mask, need_weights, attn_mask, average_attn_weights,
                                is_causal, static_k, static_v)
