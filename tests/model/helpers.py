"""Helpers shared by the model tests (imported, not fixtures)."""
from __future__ import annotations

import numpy as np
import torch
from diffusers.models.attention_processor import Attention

from server.trackgo.adapter import TrackAdapterLayer
from server.trackgo.attention import tau_gate
from server.trackgo.condition import AdapterState, TrackCondition
from server.trackgo.processor import TrackAdapterProcessor


def moving_square(frames: int = 6, size: int = 64, start: int = 8, step: int = 4) -> np.ndarray:
    """P with one 4-px square per frame moving right: a minimal rendered trajectory."""
    points = np.zeros((frames, size, size, 3), np.uint8)
    for i in range(frames):
        x = start + step * i
        points[i, 20:24, x:x + 4] = (255, 64, 0)
    return points


class ProcessorRig:
    """One diffusers Attention (as attn1 of a temporal block), one adapter layer, a processor."""

    def __init__(self, channels=16, heads=2, cond_channels=8, level=0, seed=0, dtype=torch.float32):
        torch.manual_seed(seed)
        self.attn = Attention(query_dim=channels, heads=heads, dim_head=channels // heads).to(dtype)
        self.layer = TrackAdapterLayer(cond_channels, channels).to(dtype)
        self.state = AdapterState()
        self.processor = TrackAdapterProcessor(self.layer, 0, "test.attn1", level, self.state)
        self.heads = heads
        self.level = level

    def run(self, hidden, features, alpha=0.2, tau=0.0, cache=True):
        self.state.condition = TrackCondition(features, alpha, tau, tau_gate(tau), cache)
        try:
            with torch.no_grad():
                return self.processor(self.attn, hidden), self.state.condition
        finally:
            self.state.condition = None


def nudge(module: torch.nn.Module, scale: float = 1.5) -> None:
    """Change every weight of ``module`` (e.g. tuned temporal copies), as training would."""
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(scale).add_(0.01)
