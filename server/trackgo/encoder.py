"""Trajectory encoder E (paper Eq. 1): point trajectories P -> features f at latent resolution.

Following Animate Anyone's pose guider as the paper says: six 3x3 convolutions in three stages
of two, two 2x2 average-pooling layers after the first two stages and a stride-2 last conv (so
the three halvings give 1/8, SVD's latent resolution), SiLU between layers, and a final
fully-connected layer (a 1x1 conv, i.e. a Linear over channels at every pixel). Every frame of P
is encoded on its own; the temporal mixing happens in the TrackAdapter.

Two choices make E trainable from the first step (measurements in docs/model.md, "Why the
adapter got no gradient"): He-normal weights with zero biases, so black P gives exactly f = 0
and a 4-px point keeps its signal through the seven layers instead of fading under the biases;
and a LayerNorm over f's channels at every pixel (no affine weights, so no parameters), so the
scale of f does not depend on how sparse P is. The computation runs in float32 whatever the
weights' dtype, so f (and with it the mask A_M) does not depend on the model's precision.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from server.trackgo.config import DEFAULT_CONDITION_CHANNELS, DEFAULT_ENCODER_CHANNELS

LATENT_FACTOR = 8
FEATURE_NORM_EPS = 1e-5


class TrajectoryEncoder(nn.Module):
    """E: (B, L, 3, H, W) trajectories in [0, 1] -> f (B, L, C_f, H/8, W/8)."""

    def __init__(
        self,
        out_channels: int = DEFAULT_CONDITION_CHANNELS,
        channels: tuple[int, int, int] = DEFAULT_ENCODER_CHANNELS,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c1, c1, 3, padding=1), nn.SiLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c2, c2, 3, padding=1), nn.SiLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c3, c3, 3, padding=1, stride=2), nn.SiLU(),
        )
        self.fc = nn.Conv2d(c3, out_channels, 1)  # the final fully-connected layer, per pixel
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal weights (gain for the SiLU that follows; linear for the final layer), zero
        biases. PyTorch's default (a = sqrt(5) uniform, random biases) shrinks the signal ~1.7x
        per layer while the biases stay: f then varied over frames by ~1e-5 of its mean."""
        convs = [m for m in self.layers if isinstance(m, nn.Conv2d)]
        for conv in convs:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        nn.init.kaiming_normal_(self.fc.weight, nonlinearity="linear")
        nn.init.zeros_(self.fc.bias)

    def forward(self, trajectories: torch.Tensor) -> torch.Tensor:
        if trajectories.ndim != 5 or trajectories.shape[2] != 3:
            raise ValueError(
                f"trajectories: expected a (batch, frames, 3, height, width) tensor, got shape {tuple(trajectories.shape)}"
            )
        batch, frames, _, height, width = trajectories.shape
        if height % LATENT_FACTOR or width % LATENT_FACTOR:
            raise ValueError(f"trajectories: height and width must be multiples of 8, got {height}x{width}")
        x = trajectories.reshape(batch * frames, 3, height, width).float()
        with torch.autocast(x.device.type, enabled=False):
            for module in (*self.layers, self.fc):
                x = _float32_conv(module, x) if isinstance(module, nn.Conv2d) else module(x)
            f = F.layer_norm(x.transpose(1, -1), (x.shape[1],), eps=FEATURE_NORM_EPS).transpose(1, -1)
        return f.reshape(batch, frames, *f.shape[1:])


def _float32_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``conv`` applied in float32 even when its weights are half precision."""
    bias = None if conv.bias is None else conv.bias.float()
    return F.conv2d(x, conv.weight.float(), bias, conv.stride, conv.padding, conv.dilation, conv.groups)


def trajectories_to_tensor(
    trajectories, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """P as rendered by ``server.motion.render_trajectories`` (L, H, W, 3) uint8, or a batch
    (B, L, H, W, 3), -> float tensor (B, L, 3, H, W) in [0, 1] (black background stays 0)."""
    if isinstance(trajectories, torch.Tensor):
        array = trajectories
    else:
        array = torch.from_numpy(np.ascontiguousarray(trajectories))
    if array.ndim == 4:
        array = array[None]
    if array.ndim != 5 or array.shape[-1] != 3:
        raise ValueError(
            f"trajectories: expected an (frames, height, width, 3) uint8 array, got shape {tuple(array.shape)}"
        )
    if array.dtype != torch.uint8:
        raise ValueError(f"trajectories: expected dtype uint8, got {array.dtype}")
    return array.permute(0, 1, 4, 2, 3).to(device=device, dtype=dtype) / 255.0
