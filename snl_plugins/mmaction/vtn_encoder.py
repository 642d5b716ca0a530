"""VTN's temporal encoder (Kozlov, Andronov, Gritsenko 2019, "Lightweight Network Architecture for Real-Time Action
Recognition"), with the attention of every layer a config choice: VTN's multi-head self-attention or one of our
non-local blocks in its 1D form over time ("VTN + SNL" of the paper, Table 14). Pure torch, no mmaction;
the mmaction2 head that uses it is :class:`snl_plugins.mmaction.vtn.VTNHead`.

Notation (per clip): X is T x C (T frames, C = 512 channels for ResNet-34), P the position embedding,

- ``X <- X + P``: P starts as VTN's sin/cos table, is learned, and its row 0 is zero and never learned (VTN's
  ``nn.Embedding(padding_idx=0)``, a habit from NLP padding: the first frame gets no position code);
- each of ``num_layers`` layers: ``X <- LN(X + Dropout(MHSA(X)))``, then ``X <- LN(X + Dropout(FFN(X)))`` with
  ``FFN(X) = ReLU(X W_1 + b_1) W_2 + b_2`` (C -> 2C -> C), post-LayerNorm and dropout 0.1 as in VTN;
- ``MHSA(X) = concat_h softmax(X W_q^h (X W_k^h)^T / sqrt(C)) X W_v^h``: 8 heads of width C / 8, no biases, no output
  projection, dropout 0.1 on the attention weights; the scores are divided by sqrt(C), the full width, not by
  sqrt(C / 8) as in most transformers: that is what VTN's code does (``ScaledDotProductAttention(d_model)``).

With one of our blocks (``attention=dict(type='SNL', ...)``) the attention sublayer becomes ``X <- LN(block(X))``:
the block is already residual, ``block(X) = X + norm(branch(X))`` (over (B, C, T)), so no second residual is added,
and it has no dropout on its branch (its own norm, BatchNorm by default, plays that part); the LayerNorm and the FFN
sublayer are kept. A block starting as the identity (zero-initialised norm, the default) makes the sublayer start as
``LN(X)``, i.e. the encoder starts as the FFN-only stack.

Deviations from VTN's code: LayerNorm is torch's (``(x - mean) / sqrt(var + 1e-5)`` with the biased variance) where
VTN divides by (unbiased std + 1e-3) and skips normalising when T = 1; the FFN is ``nn.Linear`` where VTN uses 1x1
``nn.Conv1d`` (the same map and initialisation).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks import BLOCKS
from ..inject import build_block

__all__ = ['ATTENTIONS', 'EncoderLayer', 'MultiHeadSelfAttention', 'PositionEmbedding', 'VTNEncoder',
           'build_attention', 'multi_head_self_attention', 'sinusoid_table']

ATTENTIONS = ('MultiHeadSelfAttention',) + tuple(BLOCKS)
LAYOUTS = ('BTC', 'BCT')


def sinusoid_table(num_positions: int, channels: int) -> Tensor:
    """VTN's position table, ``(num_positions, channels)``: ``sin(p / 10000^(2i / C))`` in channel 2i, ``cos`` of
    the same angle in channel 2i + 1, and row 0 all zero."""
    position = torch.arange(num_positions, dtype=torch.float64).unsqueeze(1)
    exponent = 2 * (torch.arange(channels) // 2).to(torch.float64) / channels
    angle = position / torch.pow(10000.0, exponent)
    table = torch.where(torch.arange(channels) % 2 == 0, torch.sin(angle), torch.cos(angle))
    table[0] = 0
    return table.float()


def multi_head_self_attention(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, scale: float,
                              dropout_p: float = 0.0) -> Tensor:
    """``concat_h softmax(scale * (x W_q^h)(x W_k^h)^T) x W_v^h`` for x of shape (B, T, C) and per-head projections
    ``w_q``, ``w_k`` (H, C, Ck) and ``w_v`` (H, C, Cv); returns (B, T, H * Cv), head h in channels h*Cv:(h+1)*Cv.
    ``dropout_p`` drops attention weights (pass 0 outside training). Runs through torch's fused attention."""
    q, k, v = (torch.einsum('btc,hcd->bhtd', x, w) for w in (w_q, w_k, w_v))
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, scale=scale)
    return out.transpose(1, 2).flatten(2)


class MultiHeadSelfAttention(nn.Module):
    """VTN's multi-head self-attention over (B, T, C), without residual or norm (the encoder layer adds those).

    Args:
        in_channels: C.
        num_heads: H (8 in VTN); each head has ``C // H`` channels so that the concatenation is C wide (VTN has no
            output projection).
        scale: the score scale; ``None`` is VTN's ``C ** -0.5`` (give ``(C // H) ** -0.5`` for the usual one).
        attn_dropout: dropout on the attention weights (0.1 in VTN).
    """

    def __init__(self, in_channels: int, num_heads: int = 8, scale: Optional[float] = None,
                 attn_dropout: float = 0.1):
        super().__init__()
        if num_heads < 1 or in_channels % num_heads:
            raise ValueError(f'num_heads must divide in_channels (the heads are concatenated back to C without a '
                             f'projection), got in_channels={in_channels}, num_heads={num_heads}')
        self.in_channels, self.num_heads = in_channels, num_heads
        self.scale = in_channels ** -0.5 if scale is None else scale
        self.attn_dropout = attn_dropout
        head_channels = in_channels // num_heads
        self.w_q, self.w_k, self.w_v = (nn.Parameter(torch.empty(num_heads, in_channels, head_channels))
                                        for _ in range(3))
        for w in (self.w_q, self.w_k, self.w_v):
            nn.init.xavier_normal_(w)  # as VTN (torch's fans of an H x C x Ck tensor)

    def forward(self, x: Tensor) -> Tensor:
        return multi_head_self_attention(x, self.w_q, self.w_k, self.w_v, self.scale,
                                         self.attn_dropout if self.training else 0.0)

    def extra_repr(self) -> str:
        return f'in_channels={self.in_channels}, num_heads={self.num_heads}, scale={self.scale:.4g}'


def build_attention(cfg: dict, channels: int) -> nn.Module:
    """The attention of one encoder layer: ``dict(type='MultiHeadSelfAttention', num_heads=8)`` or one of our blocks
    (``dict(type='SNL', reduction=2)``, gSNL, NL, NS, A2, CGNL, NonlocalStage), built 1D over T."""
    if not isinstance(cfg, dict):
        raise TypeError(f'the attention must be a config dict, e.g. dict(type={cfg!r}) or '
                        f"dict(type='MultiHeadSelfAttention'), got {type(cfg).__name__} {cfg!r}")
    if cfg.get('type') not in ATTENTIONS:
        raise ValueError(f'unknown attention type {cfg.get("type")!r}: expected one of {", ".join(ATTENTIONS)}')
    cfg = dict(cfg)
    if cfg.setdefault('in_channels', channels) != channels:
        raise ValueError(f'the attention works at the encoder width {channels}, but its config says '
                         f'in_channels={cfg["in_channels"]}')
    if cfg['type'] == 'MultiHeadSelfAttention':
        cfg.pop('type')
        return MultiHeadSelfAttention(**cfg)
    if cfg.setdefault('dim', 1) != 1:
        raise ValueError(f'a block replacing the attention runs over T on (B, C, T): dim must be 1, got {cfg["dim"]}')
    return build_block(cfg, channels, 1)


class PositionEmbedding(nn.Module):
    """Adds a learned (T, C) embedding to (B, T, C), T <= ``num_positions``; starts as :func:`sinusoid_table`.
    Row 0 is zero and not a parameter (see the module docstring), so ``weight`` holds rows 1 .. num_positions-1."""

    def __init__(self, num_positions: int, channels: int):
        super().__init__()
        if num_positions < 1:
            raise ValueError(f'num_positions must be positive, got {num_positions}')
        self.num_positions = num_positions
        self.weight = nn.Parameter(sinusoid_table(num_positions, channels)[1:])

    def forward(self, x: Tensor) -> Tensor:
        t = x.shape[1]
        if t > self.num_positions:
            raise ValueError(f'a sequence of {t} steps is longer than the position embedding '
                             f'(num_positions={self.num_positions})')
        return x + F.pad(self.weight[:t - 1], (0, 0, 1, 0))


class EncoderLayer(nn.Module):
    """One VTN encoder layer on (B, T, C): attention sublayer, then FFN sublayer (see the module docstring)."""

    def __init__(self, channels: int, attention: dict, ffn_channels: int, dropout: float):
        super().__init__()
        self.attention = build_attention(attention, channels)
        # our blocks (one, or a chain of num_blocks) compute X + norm(branch(X)) over (B, C, T) themselves; MHSA is
        # the bare branch over (B, T, C)
        self.block_is_residual = attention['type'] != 'MultiHeadSelfAttention'
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(channels)
        self.ffn = nn.Sequential(nn.Linear(channels, ffn_channels), nn.ReLU(inplace=True),
                                 nn.Linear(ffn_channels, channels))
        self.norm2 = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        if self.block_is_residual:
            x = self.attention(x.transpose(1, 2)).transpose(1, 2)
        else:
            x = x + self.dropout(self.attention(x))
        x = self.norm1(x)
        return self.norm2(x + self.dropout(self.ffn(x)))


class VTNEncoder(nn.Module):
    """Position embedding + ``num_layers`` :class:`EncoderLayer` over a clip's per-frame features.

    ``encoder(x)`` takes (B, T, C); ``encoder(x, layout='BCT')`` takes and returns (B, C, T), the layout of our
    1D blocks (handy for timing the encoder against a bare block). T may be anything up to ``num_positions``.

    Args:
        channels: C (512 in VTN).
        num_layers: 4 in VTN.
        num_positions: rows of the position embedding, the longest clip (VTN: its 16 frames).
        ffn_channels: the FFN's hidden width (2C = 1024 in VTN).
        dropout: after the attention and after the FFN (0.1 in VTN).
        attention: see :func:`build_attention`; default VTN's ``dict(type='MultiHeadSelfAttention', num_heads=8)``.
            Each layer gets its own instance.
    """

    def __init__(self, channels: int = 512, num_layers: int = 4, num_positions: int = 16, ffn_channels: int = 1024,
                 dropout: float = 0.1, attention: Optional[dict] = None):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        attention = dict(type='MultiHeadSelfAttention', num_heads=8) if attention is None else attention
        self.channels = channels
        self.position = PositionEmbedding(num_positions, channels)
        self.layers = nn.ModuleList(EncoderLayer(channels, attention, ffn_channels, dropout)
                                    for _ in range(num_layers))

    def forward(self, x: Tensor, layout: str = 'BTC') -> Tensor:
        if layout not in LAYOUTS:
            raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
        channel_dim = 2 if layout == 'BTC' else 1
        if x.dim() != 3 or x.shape[channel_dim] != self.channels:
            raise ValueError(f'VTNEncoder(channels={self.channels}) expects a 3-D {layout} input with '
                             f'{self.channels} channels in dimension {channel_dim}, got shape {tuple(x.shape)}')
        if layout == 'BCT':
            return self(x.transpose(1, 2)).transpose(1, 2)
        x = self.position(x)
        for layer in self.layers:
            x = layer(x)
        return x
