"""TrackGo generation on top of diffusers' StableVideoDiffusionPipeline (subclassed, not forked).

``generate`` runs the parent's ``__call__`` for the denoising (``output_type="latent"``) inside
the adapter's condition, then decodes the latents chunk by chunk with the parent's own
``decode_latents`` so each frame is handed to ``on_frame`` as soon as its chunk is decoded.
Cancellation is checked after every denoising step and before emitting every decoded chunk; a
cancelled run raises ``Cancelled`` and never emits part of a chunk.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from diffusers import StableVideoDiffusionPipeline

from server.trackgo.adapter import TrackAdapter
from server.trackgo.config import DEFAULT_ALPHA, DEFAULT_TAU

FrameCallback = Callable[[int, int, np.ndarray], None]      # (index, total, rgb uint8 HxWx3)
StepCallback = Callable[[int, int], None]                   # (step done, total steps)


class Cancelled(Exception):
    """The caller's ``cancelled()`` returned True; generation stopped at a step/chunk boundary."""


@dataclass
class TrackGoOutput:
    frames: np.ndarray                  # (L, H, W, 3) uint8, every frame that was emitted
    seed: int
    timings: dict = field(default_factory=dict)


class TrackGoPipeline(StableVideoDiffusionPipeline):
    """SVD plus an attached TrackAdapter. Load with ``server.trackgo.loading.load_pipeline``."""

    track_adapter: TrackAdapter | None = None

    def attach_adapter(self, adapter: TrackAdapter) -> None:
        """Install ``adapter``'s processors in this pipeline's UNet (replacing any attached one)."""
        self.detach_adapter()
        adapter.install(self.unet)
        adapter.requires_grad_(False).eval()
        self.track_adapter = adapter

    def detach_adapter(self) -> None:
        if self.track_adapter is not None:
            self.track_adapter.remove(self.unet)
            self.track_adapter = None

    @torch.no_grad()
    def generate(
        self,
        image,
        trajectories,
        *,
        height: int = 576,
        width: int = 1024,
        num_inference_steps: int = 25,
        min_guidance_scale: float = 1.0,
        max_guidance_scale: float = 3.0,
        fps: int = 7,
        motion_bucket_id: int = 127,
        noise_aug_strength: float = 0.02,
        decode_chunk_size: int = 8,
        alpha: float = DEFAULT_ALPHA,
        tau: float = DEFAULT_TAU,
        seed: int | None = None,
        cache_condition: bool = True,
        on_frame: FrameCallback | None = None,
        on_step: StepCallback | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> TrackGoOutput:
        """Generate one video. ``trajectories``: P as a uint8 (L, H, W, 3) array (L = frame count),
        or a ``server.motion.Trajectories`` rendered here at (height, width)."""
        if self.track_adapter is None:
            raise RuntimeError("pipeline: no TrackAdapter attached (use load_pipeline or attach_adapter)")
        if decode_chunk_size < 1:
            raise ValueError(f"decode_chunk_size: expected an integer >= 1, got {decode_chunk_size!r}")
        cancelled = cancelled or (lambda: False)
        points = _as_trajectory_array(trajectories, height, width)
        num_frames = points.shape[0]
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        timings: dict[str, float] = {}

        if cancelled():
            raise Cancelled("cancelled before start")
        adapter = self.track_adapter
        device = self._execution_device
        if adapter.device != device or adapter.dtype != self.unet.dtype:
            adapter.to(device=device, dtype=self.unet.dtype)
        t0 = time.perf_counter()
        features = adapter.encode(points)
        _synchronize(device)                    # CUDA runs asynchronously: time the work, not the launch
        timings["encode_s"] = time.perf_counter() - t0

        def step_end(pipe, step, timestep, tensors):
            if on_step is not None:
                on_step(step + 1, num_inference_steps)
            if cancelled():
                raise Cancelled(f"cancelled after denoising step {step + 1}/{num_inference_steps}")
            return {}

        t0 = time.perf_counter()
        try:
            with adapter.condition(features=features, alpha=alpha, tau=tau, cache=cache_condition):
                latents = self(
                    image,
                    height=height,
                    width=width,
                    num_frames=num_frames,
                    num_inference_steps=num_inference_steps,
                    min_guidance_scale=min_guidance_scale,
                    max_guidance_scale=max_guidance_scale,
                    fps=fps,
                    motion_bucket_id=motion_bucket_id,
                    noise_aug_strength=noise_aug_strength,
                    generator=torch.Generator("cpu").manual_seed(seed),
                    output_type="latent",
                    callback_on_step_end=step_end,
                ).frames
            _synchronize(device)
            timings["denoise_s"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            frames = self._decode_streaming(latents, decode_chunk_size, on_frame, cancelled)
            timings["decode_s"] = time.perf_counter() - t0
        finally:
            # also when cancelled or failed mid-way (the parent's own call is skipped then): with
            # cpu_offload this hands the UNet/VAE back to the CPU before the next job
            self.maybe_free_model_hooks()
        return TrackGoOutput(frames=frames, seed=seed, timings=timings)

    def _decode_streaming(self, latents, chunk_size, on_frame, cancelled) -> np.ndarray:
        """Decode ``chunk_size`` frames at a time (the parent's decode_latents on a slice) and
        emit each chunk whole, unless cancellation arrived meanwhile."""
        total = latents.shape[1]
        emitted: list[np.ndarray] = []
        for start in range(0, total, chunk_size):
            if cancelled():
                raise Cancelled(f"cancelled before decoding frame {start}")
            chunk = latents[:1, start:start + chunk_size]
            decoded = self.decode_latents(chunk, chunk.shape[1], chunk.shape[1])
            video = self.video_processor.postprocess_video(video=decoded, output_type="np")[0]
            rgb = (video * 255).round().clip(0, 255).astype(np.uint8)
            if cancelled():
                raise Cancelled(f"cancelled while decoding frames {start}..{start + len(rgb) - 1}")
            for offset, frame in enumerate(rgb):
                frame = np.ascontiguousarray(frame)
                emitted.append(frame)
                if on_frame is not None:
                    on_frame(start + offset, total, frame)
        return np.stack(emitted)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _as_trajectory_array(trajectories, height: int, width: int) -> np.ndarray:
    """P (L, H, W, 3) uint8 at the requested size, rendering server.motion Trajectories if given."""
    if hasattr(trajectories, "positions") and hasattr(trajectories, "component"):
        from server.motion import render_trajectories

        trajectories = render_trajectories(trajectories, height, width)
    points = np.asarray(trajectories)
    if points.dtype != np.uint8 or points.ndim != 4 or points.shape[-1] != 3:
        raise ValueError(
            f"trajectories: expected a uint8 array (frames, height, width, 3), got {points.dtype} {points.shape}"
        )
    if points.shape[1:3] != (height, width):
        raise ValueError(
            f"trajectories: rendered at {points.shape[2]}x{points.shape[1]} but the video is {width}x{height}"
        )
    if points.shape[0] < 2:
        raise ValueError(f"trajectories: expected at least 2 frames, got {points.shape[0]}")
    return points
