"""The TrackAdapter's attention arithmetic (paper Eqs. 2-4 and our tau), as plain functions.

Kept free of diffusers so the equations can be read, tested against an independent float64
implementation, and reused by the processors. Shapes: (..., heads, frames, head_dim) for
queries/keys/values, (..., heads, frames, frames) for maps and masks.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from server.motion.tau import tau_gate  # noqa: F401  (re-exported: the one definition of τ)
from server.trackgo.config import MASK_VALUE

SHORT_CLIP_MARGIN = 1.2        # x uniform: the margin alpha = 0.2 has over 1/L at L = 6


def effective_alpha(alpha: float, frames: int) -> float:
    """The Eq. 3 threshold used for a clip of ``frames`` frames: max(alpha, 1.2 / L).

    A row of A' where the adapter claims nothing is uniform, 1/L. The paper's alpha = 0.2 sits
    above that at every length from 6 frames on (1.2x at L = 6, 2.8x at 14, 5x at 25), but at
    L = 5 it equals 1/L (rows split by float rounding) and for L <= 4 it is below it, so every
    entry of every row would be masked (which, all entries shifted alike, is no mask at all).
    For short clips the threshold keeps the margin it has at L = 6: 20% above uniform. For
    L >= 6 it is the paper's alpha, unchanged."""
    if frames < 2:
        raise ValueError(f"frames: expected at least 2 for temporal attention, got {frames}")
    return max(float(alpha), SHORT_CLIP_MARGIN / frames)


def adapter_attention_map(q_prime: torch.Tensor, k_prime: torch.Tensor) -> torch.Tensor:
    """Eq. 2: A' = softmax(Q'K'^T / sqrt(d)), computed in float32 so the alpha threshold of Eq. 3
    does not flip with the model's dtype."""
    scale = 1.0 / math.sqrt(q_prime.shape[-1])
    scores = torch.matmul(q_prime.float(), k_prime.float().transpose(-1, -2)) * scale
    return scores.softmax(dim=-1)


def attention_mask_from_map(a_prime: torch.Tensor, alpha: float, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Eq. 3 / Eq. 11: A_M = -1e4 where A' >= alpha, else 0 (-1e4 stands for -inf; fp16-safe)."""
    mask = torch.zeros_like(a_prime, dtype=dtype or a_prime.dtype)
    return mask.masked_fill(a_prime >= alpha, MASK_VALUE)


def aligned_mask(mask: torch.Tensor, multiple: int = 16) -> torch.Tensor:
    """The same values in memory whose rows start on ``multiple`` elements: CUDA's
    memory-efficient SDPA kernel wants that of ``attn_mask`` and otherwise pads (copies) it on
    every call. Frames (14, 25) are rarely a multiple of 16; the padding is allocated once here."""
    frames = mask.shape[-1]
    if frames % multiple == 0:
        return mask
    padded = mask.new_zeros(*mask.shape[:-1], -(-frames // multiple) * multiple)
    padded[..., :frames] = mask
    return padded[..., :frames]


def unspecified_rows(a_prime: torch.Tensor, alpha: float) -> torch.Tensor:
    """Rows (one query frame at one location, per head) where the adapter claims nothing: every
    entry of A' is below alpha, so A_M is all zero there. This is the paper's "unspecified area"
    as the attention itself sees it. Returns bool (..., frames, 1)."""
    return a_prime.amax(dim=-1, keepdim=True) < alpha


def original_branch(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    a_mask: torch.Tensor,
    return_map: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Eq. 4 times V: softmax(QK^T/sqrt(d) + A_M) V. On the fused SDPA kernel with A_M as an
    additive mask, unless the map itself is wanted (the attention loss, Eq. 8)."""
    if not return_map:
        return F.scaled_dot_product_attention(query, key, value, attn_mask=a_mask), None
    scale = 1.0 / math.sqrt(query.shape[-1])
    scores = torch.matmul(query, key.transpose(-1, -2)) * scale + a_mask
    attention = scores.softmax(dim=-1)
    return torch.matmul(attention, value), attention
