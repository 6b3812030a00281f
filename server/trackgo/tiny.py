"""A tiny random TrackGo (SVD components + adapter) that runs end to end on CPU in seconds.

Written to a folder with ``save_pretrained`` and loaded back through the same
``load_pipeline`` path real weights use, so tests and the ``trackgo-tiny`` backend exercise the
real loading code. Traps (NOTES.md section 2): the pipeline resizes the conditioning image to
224x224 itself, so the CLIP config needs image_size=224 (patch 32 keeps it tiny); VAE and UNet
widths must divide by the group norm's 32 groups; the VAE has four blocks so its scale factor is
8, the latent resolution the trajectory encoder produces.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import torch

from server.trackgo.adapter import TrackAdapter

SVD_SUBFOLDER = "svd"
ADAPTER_SUBFOLDER = "adapter"
TINY_ENCODER_CHANNELS = (8, 8, 16)
TINY_CONDITION_CHANNELS = 16

TINY_UNET_CONFIG: dict = {
    "sample_size": 8,
    "in_channels": 8,
    "out_channels": 4,
    "down_block_types": ("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
    "up_block_types": ("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
    "block_out_channels": (32, 64),
    "addition_time_embed_dim": 8,
    "projection_class_embeddings_input_dim": 24,
    "layers_per_block": 1,
    "cross_attention_dim": 32,
    "transformer_layers_per_block": 1,
    "num_attention_heads": (2, 4),
    "num_frames": 8,
}

TINY_VAE_CONFIG: dict = {
    "block_out_channels": (32, 32, 32, 32),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "layers_per_block": 1,
    "latent_channels": 4,
}

TINY_CLIP_CONFIG: dict = {
    "hidden_size": 32,
    "projection_dim": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "image_size": 224,
    "patch_size": 32,
}

# SVD-XT's scheduler settings (scheduler/scheduler_config.json of the released weights).
SVD_SCHEDULER_CONFIG: dict = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "sigma_max": 700.0,
    "sigma_min": 0.002,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "timestep_type": "continuous",
    "use_karras_sigmas": True,
}


def build_tiny_svd(seed: int = 0):
    """A random tiny StableVideoDiffusionPipeline (fp32, CPU)."""
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    with torch.random.fork_rng(devices=[]):        # seeded, without disturbing the caller's RNG
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel(**TINY_UNET_CONFIG)
        vae = AutoencoderKLTemporalDecoder(**TINY_VAE_CONFIG)
        image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**TINY_CLIP_CONFIG))
    return StableVideoDiffusionPipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SVD_SCHEDULER_CONFIG),
        feature_extractor=CLIPImageProcessor(crop_size=224, size={"shortest_edge": 224}),
    )


def create_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    """Write ``folder/svd`` (a diffusers SVD folder) and ``folder/adapter`` (TrackAdapter
    safetensors + config.json). Written into a temporary sibling and renamed, so a crash never
    leaves a half-written folder that looks whole. Returns ``folder``."""
    folder = Path(folder)
    if (folder / ADAPTER_SUBFOLDER / "config.json").exists() and (folder / SVD_SUBFOLDER / "model_index.json").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f"{folder.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    svd = build_tiny_svd(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)
        adapter = TrackAdapter.from_unet(
            svd.unet, condition_channels=TINY_CONDITION_CHANNELS, encoder_channels=TINY_ENCODER_CHANNELS
        )
    try:
        svd.save_pretrained(staging / SVD_SUBFOLDER)
        adapter.save_pretrained(staging / ADAPTER_SUBFOLDER)
        staging.rename(folder)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (folder / ADAPTER_SUBFOLDER / "config.json").exists():
            raise                                   # else another process finished first: keep theirs
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder
