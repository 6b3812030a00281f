"""Configuration values written in code: the SVD-XT UNet shape and the adapter's defaults.

Nothing is downloaded: the full SVD-XT UNet configuration is spelled out here so that the
parameter count (paper Table 1: 29.36M added) and the overhead benchmark can build the real
architecture on the ``meta`` device or with random weights.
"""
from __future__ import annotations

# diffusers' UNetSpatioTemporalConditionModel defaults are exactly SVD / SVD-XT's UNet
# (stabilityai/stable-video-diffusion-img2vid-xt unet/config.json); repeated here so a change of
# library defaults cannot silently change what we count.
SVD_XT_UNET_CONFIG: dict = {
    "sample_size": 96,
    "in_channels": 8,
    "out_channels": 4,
    "down_block_types": (
        "CrossAttnDownBlockSpatioTemporal",
        "CrossAttnDownBlockSpatioTemporal",
        "CrossAttnDownBlockSpatioTemporal",
        "DownBlockSpatioTemporal",
    ),
    "up_block_types": (
        "UpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
    ),
    "block_out_channels": (320, 640, 1280, 1280),
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 768,
    "layers_per_block": 2,
    "cross_attention_dim": 1024,
    "transformer_layers_per_block": 1,
    "num_attention_heads": (5, 10, 20, 20),
    "num_frames": 25,
}

# Trajectory feature width: f = E(P) has this many channels at latent resolution (1/8).
DEFAULT_CONDITION_CHANNELS = 320
# Encoder widths of the three conv stages (two convs each); chosen so the adapter on SVD-XT adds
# 29.36M parameters (arithmetic in docs/model.md).
DEFAULT_ENCODER_CHANNELS = (32, 64, 192)
# Eq. 3 threshold and the value written into A_M (the paper's -inf, finite so fp16 cannot overflow).
DEFAULT_ALPHA = 0.2
MASK_VALUE = -1e4
# tau (unspecified-region suppression): 0 is exactly Eqs. 2-4, -1e4 holds the unspecified region.
DEFAULT_TAU = 0.0  # the gate itself (and its floor, -1e4) lives in server/motion/tau.py

# SVD-XT's VAE (vae/config.json of the released weights): diffusers' AutoencoderKLTemporalDecoder
# defaults, spelled out for the same reason as the UNet's.
SVD_XT_VAE_CONFIG: dict = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "sample_size": 768,
    "scaling_factor": 0.18215,
}

# SVD-XT's image encoder (image_encoder/config.json): OpenCLIP ViT-H/14 vision tower.
SVD_XT_IMAGE_ENCODER_CONFIG: dict = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_attention_heads": 16,
    "num_hidden_layers": 32,
    "patch_size": 14,
    "image_size": 224,
    "projection_dim": 1024,
    "hidden_act": "gelu",
}
