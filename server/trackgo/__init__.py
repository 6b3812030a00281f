"""TrackGo on diffusers' Stable Video Diffusion: trajectory encoder E, TrackAdapter processors,
streaming pipeline, loading/saving, and a tiny random configuration. See docs/model.md."""
from server.trackgo.adapter import TrackAdapter, TrackAdapterLayer, freeze, temporal_attention_layers
from server.trackgo.attention import (
    adapter_attention_map,
    attention_mask_from_map,
    original_branch,
    tau_gate,
    unspecified_rows,
)
from server.trackgo.condition import AttentionCapture, AttentionRecord, TrackCondition
from server.trackgo.config import DEFAULT_ALPHA, DEFAULT_TAU, MASK_VALUE, SVD_XT_UNET_CONFIG
from server.trackgo.encoder import TrajectoryEncoder, trajectories_to_tensor

__all__ = [
    "TrackAdapter", "TrackAdapterLayer", "freeze", "temporal_attention_layers",
    "adapter_attention_map", "attention_mask_from_map", "original_branch", "tau_gate", "unspecified_rows",
    "AttentionCapture", "AttentionRecord", "TrackCondition",
    "DEFAULT_ALPHA", "DEFAULT_TAU", "MASK_VALUE", "SVD_XT_UNET_CONFIG",
    "TrajectoryEncoder", "trajectories_to_tensor",
]
