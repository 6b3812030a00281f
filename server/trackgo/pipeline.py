"""Generation on top of diffusers' StableVideoDiffusionPipeline (subclassed, not forked).

One denoising loop (``TrackGoPipeline.generate``) serves four modes:

* plain SVD (no adapter attached, or ``trajectories=None``),
* TrackGo (an attached TrackAdapter conditioned on the trajectories P),
* dual-clock (``motion=DualClock(...)``: Time-to-Move's training-free hold of the moved regions
  on a cut-and-drag motion signal, see docs/model.md), and
* TrackGo + dual-clock (both at once).

The conditioning (CLIP embedding, VAE image latents, added time ids, per-frame guidance) comes
from the parent's own helpers, so plain SVD here equals the parent's ``__call__`` latent for
latent. Decoding goes chunk by chunk with the parent's ``decode_latents``, each frame handed to
``on_frame`` as soon as its chunk is decoded. Cancellation is checked after every denoising step
and before emitting every decoded chunk; a cancelled run raises ``Cancelled`` and never emits
part of a chunk.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import StableVideoDiffusionPipeline
from diffusers.utils.torch_utils import randn_tensor

from server.trackgo.adapter import TrackAdapter
from server.trackgo.config import DEFAULT_ALPHA, DEFAULT_TAU

FrameCallback = Callable[[int, int, np.ndarray], None]      # (index, total, rgb uint8 HxWx3)
StepCallback = Callable[[int, int], None]                   # (step done, total steps)
LatentsCallback = Callable[[int, torch.Tensor, "HeldRegion | None"], None]  # (step index i, latents after it)

# Time-to-Move's SVD starting point: the background starts at step 16 of 50, the held regions
# are released at step 21 of 50 (fractions of the schedule, so they mean the same at 25 steps).
DEFAULT_WEAK = 0.32
DEFAULT_STRONG = 0.42
LATENT_MASK_SHARE = 0.5     # a latent cell is held when at least half its pixels are in a moved region


class Cancelled(Exception):
    """The caller's ``cancelled()`` returned True; generation stopped at a step/chunk boundary."""


@dataclass
class TrackGoOutput:
    frames: np.ndarray                  # (L, H, W, 3) uint8, every frame that was emitted
    seed: int
    timings: dict = field(default_factory=dict)
    unet_calls: int = 0


@dataclass
class DualClock:
    """The motion signal of one job: V (the cut-and-drag video with a still background), M (where
    V is to be trusted, per frame), and the two clocks as fractions of the schedule: the
    background starts denoising at ``weak``, the masked region is released at ``strong``."""

    video: np.ndarray                   # (L, H, W, 3) uint8
    masks: np.ndarray                   # (L, H, W) bool
    weak: float = DEFAULT_WEAK
    strong: float = DEFAULT_STRONG


@dataclass
class HeldRegion:
    """Per-job dual-clock tensors: z_ref = VAE(V), one fixed noise n, the latent mask, the clocks."""

    reference: torch.Tensor             # (1, L, C, h, w) z_ref, scaled by the VAE scaling factor
    noise: torch.Tensor                 # (1, L, C, h, w) n
    mask: torch.Tensor                  # (1, L, 1, h, w) bool
    weak_index: int                     # w: first step that runs
    strong_index: int                   # s: first step after which nothing is replaced


def dual_clock_indices(weak: float, strong: float, steps: int) -> tuple[int, int]:
    """Step indices (w, s) for fractions ``weak`` < ``strong`` of a ``steps``-step schedule.

    Rounded half up (0.32 / 0.42 of 50 are exactly 16 / 21), then kept in 0 <= w < s <= steps
    with w <= steps - 1, so at least one step runs and at least one step holds the regions.
    """
    if not (0.0 <= weak < strong <= 1.0):
        raise ValueError(f"dual_clock_weak/dual_clock_strong: expected 0 <= weak < strong <= 1, "
                         f"got {weak!r} and {strong!r}")
    if steps < 1:
        raise ValueError(f"num_inference_steps: expected at least 1, got {steps}")
    w = min(int(np.floor(weak * steps + 0.5)), steps - 1)
    s = min(max(int(np.floor(strong * steps + 0.5)), w + 1), steps)
    return w, s


class TrackGoPipeline(StableVideoDiffusionPipeline):
    """SVD with an optional TrackAdapter and an optional dual-clock hold.

    Load with ``server.trackgo.loading.load_pipeline`` (``adapter_path=None`` for SVD alone)."""

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
        trajectories=None,
        *,
        motion: DualClock | None = None,
        height: int = 576,
        width: int = 1024,
        num_frames: int | None = None,
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
        on_latents: LatentsCallback | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> TrackGoOutput:
        """Generate one video.

        ``trajectories``: P as a uint8 (L, H, W, 3) array, or ``server.motion.Trajectories``
        rendered here at (height, width); needs an attached adapter. None runs without the adapter
        (plain SVD, or dual-clock alone), with ``num_frames`` frames (else the motion signal's).
        ``motion``: a ``DualClock`` turns the hold on. ``on_latents(i, latents, held)`` sees the
        latents after every step i (tests and benchmarks check the invariant with it)."""
        if trajectories is not None and self.track_adapter is None:
            raise RuntimeError("pipeline: no TrackAdapter attached (use load_pipeline or attach_adapter)")
        if decode_chunk_size < 1:
            raise ValueError(f"decode_chunk_size: expected an integer >= 1, got {decode_chunk_size!r}")
        cancelled = cancelled or (lambda: False)
        points = None if trajectories is None else _as_trajectory_array(trajectories, height, width)
        num_frames = _frame_count(points, motion, num_frames)
        if motion is not None:
            _check_motion(motion, num_frames, height, width)
            weak_index, strong_index = dual_clock_indices(motion.weak, motion.strong, num_inference_steps)
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        timings: dict[str, float] = {}

        if cancelled():
            raise Cancelled("cancelled before start")
        device = self._execution_device
        features = None
        if points is not None:
            adapter = self.track_adapter
            if adapter.device != device or adapter.dtype != self.unet.dtype:
                adapter.to(device=device, dtype=self.unet.dtype)
            t0 = time.perf_counter()
            features = adapter.encode(points)
            _synchronize(device)                # CUDA runs asynchronously: time the work, not the launch
            timings["encode_s"] = time.perf_counter() - t0

        try:
            generator = torch.Generator("cpu").manual_seed(seed)
            cond = self._conditioning(image, height, width, num_frames, min_guidance_scale, max_guidance_scale,
                                      fps, motion_bucket_id, noise_aug_strength, generator)
            self.scheduler.set_timesteps(num_inference_steps, device=device)
            timesteps = self.scheduler.timesteps
            latents = self.prepare_latents(1, num_frames, self.unet.config.in_channels, height, width,
                                           cond.embeddings.dtype, device, generator, None)
            held = None
            if motion is not None:
                t0 = time.perf_counter()
                held = self._held_region(motion, weak_index, strong_index, decode_chunk_size, latents, generator)
                _synchronize(device)
                timings["motion_encode_s"] = time.perf_counter() - t0
                latents = self.scheduler.add_noise(held.reference, held.noise, timesteps[weak_index:weak_index + 1])
            start = 0 if held is None else held.weak_index

            t0 = time.perf_counter()
            calls = 0
            if features is not None:
                context = self.track_adapter.condition(features=features, alpha=alpha, tau=tau, cache=cache_condition)
            else:
                context = _unconditioned(self.track_adapter, self.unet)
            with context:
                total = len(timesteps) - start
                for i in range(start, len(timesteps)):
                    latents = self._step(latents, timesteps[i], cond)
                    calls += 1
                    if held is not None and i < held.strong_index:
                        latents = torch.where(held.mask, self._held_target(held, timesteps, i + 1), latents)
                    if on_latents is not None:
                        on_latents(i, latents, held)
                    if on_step is not None:
                        on_step(i + 1 - start, total)
                    if cancelled():
                        raise Cancelled(f"cancelled after denoising step {i + 1 - start}/{total}")
            _synchronize(device)
            timings["denoise_s"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            frames = self._decode_streaming(latents, decode_chunk_size, on_frame, cancelled)
            timings["decode_s"] = time.perf_counter() - t0
        finally:
            # also when cancelled or failed mid-way: with cpu_offload this hands the UNet/VAE back
            # to the CPU before the next job
            self.maybe_free_model_hooks()
        return TrackGoOutput(frames=frames, seed=seed, timings=timings, unet_calls=calls)

    # ------------------------------------------------------------------ the loop's parts
    def _conditioning(self, image, height, width, num_frames, min_guidance, max_guidance, fps, motion_bucket_id,
                      noise_aug_strength, generator) -> "_Conditioning":
        """Everything the UNet sees besides the latents, built with the parent's helpers in the
        parent's order (so the generator draws the same noise as its ``__call__``)."""
        self.check_inputs(image, height, width)
        device = self._execution_device
        self._guidance_scale = max_guidance                       # decides CFG for the encoders below
        cfg = self.do_classifier_free_guidance
        embeddings = self._encode_image(image, device, 1, cfg)
        pixels = self.video_processor.preprocess(image, height=height, width=width).to(device)
        pixels = pixels + noise_aug_strength * randn_tensor(pixels.shape, generator=generator, device=device,
                                                            dtype=pixels.dtype)
        with _vae_upcast(self):
            image_latents = self._encode_vae_image(pixels, device=device, num_videos_per_prompt=1,
                                                   do_classifier_free_guidance=cfg)
        image_latents = image_latents.to(embeddings.dtype).unsqueeze(1).repeat(1, num_frames, 1, 1, 1)
        time_ids = self._get_add_time_ids(fps - 1, motion_bucket_id, noise_aug_strength, embeddings.dtype, 1, 1,
                                          cfg).to(device)       # SVD was conditioned on fps - 1
        guidance = torch.linspace(min_guidance, max_guidance, num_frames, device=device, dtype=embeddings.dtype)
        self._guidance_scale = guidance.view(1, num_frames, 1, 1, 1)
        return _Conditioning(embeddings, image_latents, time_ids, cfg)

    def _step(self, latents: torch.Tensor, t: torch.Tensor, cond: "_Conditioning") -> torch.Tensor:
        """One ordinary SVD step: (CFG-doubled) UNet call, guidance, Euler update."""
        model_input = torch.cat([latents] * 2) if cond.cfg else latents
        model_input = self.scheduler.scale_model_input(model_input, t)
        model_input = torch.cat([model_input, cond.image_latents], dim=2)
        noise_pred = self.unet(model_input, t, encoder_hidden_states=cond.embeddings,
                               added_time_ids=cond.time_ids, return_dict=False)[0]
        if cond.cfg:
            uncond, text = noise_pred.chunk(2)
            noise_pred = uncond + self._guidance_scale * (text - uncond)
        return self.scheduler.step(noise_pred, t, latents).prev_sample

    def _held_region(self, motion: DualClock, weak_index: int, strong_index: int, chunk_size: int,
                     like: torch.Tensor, generator) -> HeldRegion:
        reference = self.encode_video(motion.video, chunk_size).to(like.dtype)
        noise = randn_tensor(reference.shape, generator=generator, device=like.device, dtype=like.dtype)
        mask = latent_mask(motion.masks, reference.shape[-2], reference.shape[-1]).to(like.device)
        return HeldRegion(reference, noise, mask, weak_index, strong_index)

    def _held_target(self, held: HeldRegion, timesteps: torch.Tensor, index: int) -> torch.Tensor:
        """add_noise(z_ref, n, t[index]); past the last step, z_ref itself."""
        if index >= len(timesteps):
            return held.reference
        return self.scheduler.add_noise(held.reference, held.noise, timesteps[index:index + 1])

    def encode_video(self, video: np.ndarray, chunk_size: int = 8) -> torch.Tensor:
        """z_ref: uint8 (L, H, W, 3) frames -> (1, L, C, h, w) VAE latents (the posterior's mode,
        so the motion signal adds no randomness), ``chunk_size`` frames per VAE call."""
        device = self._execution_device
        chunks = []
        with _vae_upcast(self):
            for start in range(0, len(video), max(1, int(chunk_size))):
                part = torch.from_numpy(np.ascontiguousarray(video[start:start + chunk_size]))
                part = part.to(device).permute(0, 3, 1, 2).to(self.vae.dtype) / 127.5 - 1.0
                chunks.append(self.vae.encode(part).latent_dist.mode())
        return (torch.cat(chunks) * self.vae.config.scaling_factor).unsqueeze(0)

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


@dataclass
class _Conditioning:
    embeddings: torch.Tensor
    image_latents: torch.Tensor
    time_ids: torch.Tensor
    cfg: bool


class _vae_upcast:
    """fp16 VAEs that ask for it (``force_upcast``) run in fp32, as the parent's ``__call__`` does."""

    def __init__(self, pipe: StableVideoDiffusionPipeline) -> None:
        self.vae = pipe.vae
        self.active = self.vae.dtype == torch.float16 and bool(getattr(self.vae.config, "force_upcast", False))

    def __enter__(self):
        if self.active:
            self.vae.to(dtype=torch.float32)

    def __exit__(self, *exc):
        if self.active:
            self.vae.to(dtype=torch.float16)


class _unconditioned:
    """Runs the UNet without the adapter when one is attached but this job has no trajectories:
    its processors are swapped out for the block and put back after."""

    def __init__(self, adapter: TrackAdapter | None, unet) -> None:
        self.adapter, self.unet = adapter, unet

    def __enter__(self):
        if self.adapter is not None:
            self.adapter.remove(self.unet)

    def __exit__(self, *exc):
        if self.adapter is not None:
            self.adapter.install(self.unet)


def latent_mask(masks: np.ndarray, height: int, width: int) -> torch.Tensor:
    """(L, H, W) pixel masks -> (1, L, 1, h, w) bool: a latent cell is held when at least half of
    the pixels it covers are masked (area average, so thin slivers do not pin a whole cell)."""
    pixels = torch.from_numpy(np.ascontiguousarray(masks, dtype=np.float32)).unsqueeze(1)
    share = F.adaptive_avg_pool2d(pixels, (height, width))
    return (share >= LATENT_MASK_SHARE).unsqueeze(0)


def _frame_count(points, motion: DualClock | None, num_frames: int | None) -> int:
    if points is not None:
        return points.shape[0]
    if motion is not None:
        return len(motion.video)
    if num_frames is None:
        raise ValueError("num_frames: expected a frame count when neither trajectories nor a motion signal is given")
    if int(num_frames) < 2:
        raise ValueError(f"num_frames: expected at least 2, got {num_frames}")
    return int(num_frames)


def _check_motion(motion: DualClock, frames: int, height: int, width: int) -> None:
    video = np.asarray(motion.video)
    masks = np.asarray(motion.masks)
    if video.dtype != np.uint8 or video.shape != (frames, height, width, 3):
        raise ValueError(f"motion.video: expected uint8 ({frames}, {height}, {width}, 3), got {video.dtype} "
                         f"{video.shape}")
    if masks.shape != (frames, height, width):
        raise ValueError(f"motion.masks: expected ({frames}, {height}, {width}), got {masks.shape}")


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
