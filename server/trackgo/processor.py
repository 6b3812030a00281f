"""TrackAdapter attention processor: swapped into attn1 of every TemporalBasicTransformerBlock.

attn1 sees hidden states shaped (batch * H * W, frames, C), row index b * H*W + y * W + x (see
diffusers' TemporalBasicTransformerBlock.forward). The processor maps f to that layout, adds the
adapter branch (Eq. 2), masks the original branch with A_M (Eqs. 3-4), applies the tau gate in
unspecified rows, and returns to_out((A + A') V) exactly like AttnProcessor2_0 returns to_out(A V).
Under classifier-free guidance the batch is [uncond, cond]; both halves get the same f (see
docs/model.md), so the cached maps are computed once and broadcast over the repeats.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from server.trackgo.attention import (
    adapter_attention_map,
    aligned_mask,
    attention_mask_from_map,
    effective_alpha,
    original_branch,
    unspecified_rows,
)
from server.trackgo.condition import AdapterState, AttentionRecord, LayerTensors, TrackCondition

if TYPE_CHECKING:  # pragma: no cover
    from server.trackgo.adapter import TrackAdapterLayer


def layer_resolution(latent_size: tuple[int, int], level: int) -> tuple[int, int]:
    """Spatial size at UNet level ``level``: each SVD downsampler is a stride-2, padding-1 conv,
    so every level rounds up (the upsamplers interpolate back to the skip's size)."""
    height, width = latent_size
    for _ in range(level):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    return height, width


class TrackAdapterProcessor:
    """A plain object (not an nn.Module), so installing it never adds parameters to the UNet;
    the weights live in the TrackAdapter, which is saved and moved on its own."""

    def __init__(self, layer: "TrackAdapterLayer", index: int, name: str, level: int, state: AdapterState) -> None:
        self.layer = layer
        self.index = index
        self.name = name
        self.level = level
        self.state = state

    # ---------------------------------------------------------------- P-only part (cacheable)
    def layer_tensors(self, condition: TrackCondition, rows: int, frames: int, heads: int,
                      dtype: torch.dtype, device: torch.device) -> LayerTensors:
        key = (self.index, rows, frames, heads, dtype, device)
        cached = condition.layers.get(key) if condition.cache else None
        if cached is not None:
            return cached
        tensors = self._compute(condition, rows, frames, heads, dtype, device)
        if condition.cache:
            condition.layers[key] = tensors
        return tensors

    def _compute(self, condition, rows, frames, heads, dtype, device) -> LayerTensors:
        features = condition.features
        batch_f, frames_f, channels_f = features.shape[:3]
        if frames_f != frames:
            raise ValueError(f"trajectories: have {frames_f} frames but the UNet runs {frames} frames")
        height, width = layer_resolution(condition.latent_size, self.level)
        if rows % (height * width) or (rows // (height * width)) % batch_f:
            raise ValueError(
                f"trajectories: latent size {condition.latent_size} and batch {batch_f} do not match "
                f"layer {self.name} ({rows} rows at {height}x{width})"
            )
        repeats = rows // (height * width * batch_f)
        pooled = F.adaptive_avg_pool2d(features.flatten(0, 1), (height, width))
        pooled = pooled.reshape(batch_f, frames, channels_f, height, width).permute(0, 3, 4, 1, 2)
        pooled = pooled.reshape(batch_f * height * width, frames, channels_f)
        # f -> align -> W'q / W'k -> A' all in float32 (autocast off, weights up-cast): A_M is a
        # hard threshold, and half-precision rounding of Q' / K' flipped entries of it.
        pooled = pooled.to(device=device, dtype=torch.float32)
        with torch.autocast(device.type, enabled=False):
            aligned = _linear32(self.layer.align, pooled)         # "aligned with its input size"
            q_prime = _split_heads(_linear32(self.layer.to_q, aligned), heads)
            k_prime = _split_heads(_linear32(self.layer.to_k, aligned), heads)
            a_prime = adapter_attention_map(q_prime, k_prime)   # float32, (N_f, heads, L, L)
        alpha = effective_alpha(condition.alpha, frames)
        a_mask = attention_mask_from_map(a_prime, alpha, dtype=dtype)
        gate = None
        if condition.gate_value != 1.0:
            gate = torch.where(unspecified_rows(a_prime, alpha),
                               condition.gate_value, 1.0).to(dtype)
        if repeats > 1:
            a_mask = a_mask.repeat(repeats, 1, 1, 1)
        if device.type == "cuda":
            a_mask = aligned_mask(a_mask)
        return LayerTensors(a_prime=a_prime.to(dtype), a_mask=a_mask, gate=gate, repeats=repeats)

    # ---------------------------------------------------------------- per-step part
    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        condition = self.state.condition
        if condition is None:
            raise RuntimeError(
                f"TrackAdapter on {self.name}: no trajectory condition is set; run the UNet inside "
                "`with adapter.condition(trajectories=...)`"
            )
        if encoder_hidden_states is not None or attention_mask is not None or hidden_states.ndim != 3:
            raise ValueError(f"TrackAdapter on {self.name}: expected temporal self-attention input (rows, frames, C)")
        residual = hidden_states
        rows, frames, _ = hidden_states.shape
        heads = attn.heads
        # The layer's own W_q / W_k, or the adapter's fine-tuned copies of them (Eq. 9: L_attn
        # trains what it penalises; see TrackAdapterLayer.base_q).
        to_q = self.layer.base_q if self.layer.base_q is not None else attn.to_q
        to_k = self.layer.base_k if self.layer.base_k is not None else attn.to_k
        query = _split_heads(_project(to_q, hidden_states), heads)
        key = _split_heads(_project(to_k, hidden_states), heads)
        value = _split_heads(attn.to_v(hidden_states), heads)
        tensors = self.layer_tensors(condition, rows, frames, heads, query.dtype, query.device)

        capture = self.state.capture
        original, attention = original_branch(query, key, value, tensors.a_mask, return_map=capture is not None)
        if capture is not None:
            self._record(capture, attention, condition, rows)
        head_dim = value.shape[-1]
        per_repeat = (tensors.repeats, rows // tensors.repeats, heads, frames, head_dim)
        if tensors.gate is not None:
            original = (original.reshape(per_repeat) * tensors.gate).reshape(rows, heads, frames, head_dim)
        adapter_out = torch.matmul(tensors.a_prime, value.reshape(per_repeat)).reshape(rows, heads, frames, head_dim)
        out = (original + adapter_out).transpose(1, 2).reshape(rows, frames, heads * head_dim)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor

    def _record(self, capture, attention, condition, rows) -> None:
        height, width = layer_resolution(condition.latent_size, self.level)
        batch = rows // (height * width)
        heads, frames = attention.shape[1], attention.shape[2]
        diagonal = torch.diagonal(attention, dim1=-2, dim2=-1)          # (rows, heads, L)
        diagonal = diagonal.reshape(batch, height, width, heads, frames).permute(0, 3, 4, 1, 2)
        full = attention.reshape(batch, height, width, heads, frames, frames) if capture.full else None
        capture.records.append(AttentionRecord(self.name, self.level, diagonal, full))


def _project(linear: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``linear(x)`` in x's dtype, also when an adapter copy is held in another precision."""
    if linear.weight.dtype == x.dtype or torch.is_autocast_enabled(x.device.type):
        return linear(x)
    return linear(x.to(linear.weight.dtype)).to(x.dtype)


def _linear32(linear: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    bias = None if linear.bias is None else linear.bias.float()
    return F.linear(x, linear.weight.float(), bias)


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    rows, frames, channels = x.shape
    return x.view(rows, frames, heads, channels // heads).transpose(1, 2)
