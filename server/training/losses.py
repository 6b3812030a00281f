"""TrackGo's training loss: L = L_mse + lambda * L_attn (paper Eqs. 7-9), on plain tensors.

Our reading of Eq. 8, L_attn = sum_q sum_i (A_q(i, i) * phi(M_i))^2:
* A_q(i, i) is the diagonal of the *original* branch's temporal attention map at layer q (how
  much frame i attends to itself), one value per spatial location of that layer, per head;
* phi(M_i) is the moving-component mask of frame i down-sampled to the layer's size by area
  averaging (``adaptive_avg_pool2d``, the same pooling the adapter uses for f), so partially
  covered cells count partially;
* the square is taken per location and head; it is summed over frames i and layers q (as
  written) and averaged over batch, heads and locations, so the loss does not grow with the
  resolution or head count. With empty masks it is exactly 0.
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F


def downsample_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """phi: (B, L, H, W) masks in [0, 1] -> (B, L, h, w) area fractions."""
    b, l = masks.shape[:2]
    pooled = F.adaptive_avg_pool2d(masks.reshape(b * l, 1, *masks.shape[2:]).float(), size)
    return pooled.reshape(b, l, *size)


def attention_loss(diagonals: Iterable[torch.Tensor], masks: torch.Tensor) -> torch.Tensor:
    """Eq. 8 over the layers' diagonals, each (B, heads, L, h, w); masks (B, L, H, W)."""
    total = masks.new_zeros((), dtype=torch.float32)
    count = 0
    for diagonal in diagonals:
        if diagonal.ndim != 5 or diagonal.shape[0] != masks.shape[0] or diagonal.shape[2] != masks.shape[1]:
            raise ValueError(f"attention maps: expected (batch={masks.shape[0]}, heads, "
                             f"frames={masks.shape[1]}, h, w), got {tuple(diagonal.shape)}")
        phi = downsample_masks(masks, tuple(diagonal.shape[-2:])).to(diagonal.device)
        term = (diagonal.float() * phi[:, None]) ** 2            # (B, heads, L, h, w)
        total = total + term.sum(dim=2).mean()                   # sum over frames i
        count += 1
    if count == 0:
        raise ValueError("attention maps: none were captured (is the adapter installed and "
                         "capture_attention() active?)")
    return total


def denoising_loss(prediction: torch.Tensor, target: torch.Tensor,
                   weight: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 7 in SVD's EDM form: mean of w(sigma) * (D(x; sigma) - x0)^2 per sample.

    ``weight`` is (B,) and broadcast over (frames, channels, h, w)."""
    per_sample = ((prediction.float() - target.float()) ** 2).flatten(1).mean(dim=1)
    if weight is not None:
        per_sample = per_sample * weight.float()
    return per_sample.mean()
