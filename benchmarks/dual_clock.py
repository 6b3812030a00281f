"""Dual-clock denoising: the held-region invariant, UNet calls, step cost and the extra VAE encode.

Part 1, tiny random SVD (saved and loaded through load_pipeline, CPU): one 25-step job at 64x64,
6 frames, default clocks (0.32 / 0.42 -> w = 8, s = 11):
  held_region_max_abs_err   max |latents - add_noise(z_ref, n, t[i+1])| inside the latent mask over
                            the held steps w <= i < s (the defining invariant; expected 0)
  unet_calls / plain_unet_calls   UNet calls of that job and of plain SVD with the same steps
Part 2, the full SVD-XT UNet and VAE with random weights, fp32, CPU (adapter_overhead.py's setting:
14 frames at 128x192, batch 1), timed alternately through the pipeline's own step code:
  dual_clock_step_ratio     one held step (UNet + Euler + the masked replacement) / one plain step
                            (target <= 1.02); held_replace_s = the replacement alone (min of 20)
  vae_encode_share          encoding V (14 frames) / a plain 25-step job (25 UNet steps at batch 2
                            for classifier-free guidance + decoding 14 frames)
Run: PYTHONPATH=. .venvs/server/bin/python benchmarks/dual_clock.py [--tiny-only | --full-only] [--ratio-only] [--repeats N]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL.Image
import torch

FRAMES, SIZE, STEPS = 6, 64, 25
# SVD-XT's VAE (vae/config.json of the released weights; diffusers' defaults are a 1-block toy)
SVD_VAE_CONFIG = {"block_out_channels": (128, 256, 512, 512), "down_block_types": ("DownEncoderBlock2D",) * 4,
                  "layers_per_block": 2, "latent_channels": 4, "in_channels": 3, "out_channels": 3}


def box_job(frames: int, height: int, width: int):
    """A textured reference with one box dragged along an arrow: masks, arrows in pixels."""
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), bool)
    mask[height // 4: height * 5 // 8, width // 8: width // 2] = True
    arrow = [(width * 5 / 16, height * 7 / 16), (width * 11 / 16, height * 9 / 16)]
    return reference, [mask], [arrow]


def tiny_part() -> None:
    from diffusers import EulerDiscreteScheduler

    from server.backends.dualclock import motion_from_arrows
    from server.trackgo.loading import load_pipeline
    from server.trackgo.pipeline import dual_clock_indices
    from server.trackgo.tiny import create_tiny_model

    with tempfile.TemporaryDirectory() as folder:
        tiny = create_tiny_model(Path(folder) / "tiny")
        pipe = load_pipeline(tiny / "svd", None, device="cpu")
    reference, masks, arrows = box_job(FRAMES, SIZE, SIZE)
    motion, _ = motion_from_arrows(reference, masks, arrows, ["linear"], FRAMES)
    w, s = dual_clock_indices(motion.weak, motion.strong, STEPS)
    scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    scheduler.set_timesteps(STEPS)
    errors = []

    def check(i, latents, held):
        if i < s:
            t = scheduler.timesteps[i + 1:i + 2]
            target = scheduler.add_noise(held.reference, held.noise, t) if i + 1 < STEPS else held.reference
            errors.append((latents - target).abs()[held.mask.expand_as(latents)].max().item())

    image = PIL.Image.fromarray(reference)
    dual = pipe.generate(image, motion=motion, height=SIZE, width=SIZE, num_inference_steps=STEPS, seed=1,
                         on_latents=check)
    plain = pipe.generate(image, num_frames=FRAMES, height=SIZE, width=SIZE, num_inference_steps=STEPS, seed=1)
    print(f"steps={STEPS}")
    print(f"weak_index={w}")
    print(f"strong_index={s}")
    print(f"held_steps_checked={len(errors)}")
    print(f"held_region_max_abs_err={max(errors):.3g}")
    print(f"unet_calls={dual.unet_calls}")
    print(f"plain_unet_calls={plain.unet_calls}")


def full_part(repeats: int, ratio_only: bool = False) -> None:
    from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel

    from server.backends.dualclock import motion_from_arrows
    from server.trackgo import SVD_XT_UNET_CONFIG
    from server.trackgo.pipeline import HeldRegion, TrackGoPipeline, _Conditioning, latent_mask
    from server.trackgo.tiny import SVD_SCHEDULER_CONFIG, build_tiny_svd

    frames, height, width = 14, 128, 192
    print(f"full_frames={frames}")
    print(f"full_size={width}x{height}")
    print(f"threads={torch.get_num_threads()}")
    t0 = time.perf_counter()
    torch.manual_seed(0)
    tiny = build_tiny_svd()
    pipe = TrackGoPipeline(vae=AutoencoderKLTemporalDecoder(**SVD_VAE_CONFIG).eval(), image_encoder=tiny.image_encoder,
                           unet=UNetSpatioTemporalConditionModel(**SVD_XT_UNET_CONFIG).eval(),
                           scheduler=EulerDiscreteScheduler(**SVD_SCHEDULER_CONFIG),
                           feature_extractor=tiny.feature_extractor)
    pipe.set_progress_bar_config(disable=True)
    print(f"build_s={time.perf_counter() - t0:.1f}")
    reference, masks, arrows = box_job(frames, height, width)
    motion, _ = motion_from_arrows(reference, masks, arrows, ["linear"], frames)

    g = torch.Generator().manual_seed(0)
    h8, w8 = height // 8, width // 8

    def conditioning(batch: int) -> _Conditioning:
        return _Conditioning(torch.randn(batch, 1, 1024, generator=g), torch.randn(batch, frames, 4, h8, w8, generator=g),
                             torch.tensor([[6.0, 127.0, 0.02]] * batch), batch == 2)

    with torch.no_grad():
        t0 = time.perf_counter()
        reference_latents = pipe.encode_video(motion.video, chunk_size=8)
        encode_s = time.perf_counter() - t0
        held = HeldRegion(reference_latents, torch.randn(reference_latents.shape, generator=g),
                          latent_mask(motion.masks, h8, w8), 8, 11)
        pipe.scheduler.set_timesteps(STEPS)
        timesteps = pipe.scheduler.timesteps
        cond = conditioning(1)
        latents = torch.randn(1, frames, 4, h8, w8, generator=g)

        def plain_step(i: int) -> float:
            pipe.scheduler._step_index = i
            start = time.perf_counter()
            pipe._step(latents, timesteps[i], cond)
            return time.perf_counter() - start

        def held_step(i: int) -> float:
            pipe.scheduler._step_index = i
            start = time.perf_counter()
            out = pipe._step(latents, timesteps[i], cond)
            torch.where(held.mask, pipe._held_target(held, timesteps, i + 1), out)
            return time.perf_counter() - start

        def replace_only(i: int) -> float:
            start = time.perf_counter()
            torch.where(held.mask, pipe._held_target(held, timesteps, i + 1), latents)
            return time.perf_counter() - start

        print(f"warmup_step_s={plain_step(8):.3f}")
        plain, dual = [], []
        for r in range(repeats):                 # alternated, and the order swapped every round
            if r % 2:
                dual.append(held_step(8))
                plain.append(plain_step(8))
            else:
                plain.append(plain_step(8))
                dual.append(held_step(8))
            print(f"round{r}_plain_s={plain[-1]:.3f}")
            print(f"round{r}_held_s={dual[-1]:.3f}")
        replace_s = min(replace_only(8) for _ in range(20))
        if ratio_only:
            print(f"held_replace_s={replace_s:.5f}")
            print(f"dual_clock_step_ratio={statistics.median(dual) / statistics.median(plain):.4f}")
            return
        cond2 = conditioning(2)
        pipe._guidance_scale = torch.linspace(1.0, 3.0, frames).view(1, frames, 1, 1, 1)
        pipe.scheduler._step_index = 8
        start = time.perf_counter()
        pipe._step(latents, timesteps[8], cond2)
        cfg_step_s = time.perf_counter() - start
        t0 = time.perf_counter()
        pipe.decode_latents(latents, frames, 8)
        decode_s = time.perf_counter() - t0
    base = statistics.median(plain)
    print(f"plain_step_s={base:.3f}")
    print(f"held_step_s={statistics.median(dual):.3f}")
    print(f"held_replace_s={replace_s:.5f}")
    print(f"dual_clock_step_ratio={statistics.median(dual) / base:.4f}")
    print(f"replace_share_of_step={replace_s / base:.6f}")
    print(f"cfg_step_s={cfg_step_s:.3f}")
    print(f"vae_encode_s={encode_s:.3f}")
    print(f"vae_decode_s={decode_s:.3f}")
    plain_job = STEPS * cfg_step_s + decode_s
    print(f"plain_job_s={plain_job:.1f}")
    print(f"vae_encode_share={encode_s / plain_job:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny-only", action="store_true", help="the tiny-model part only (seconds)")
    parser.add_argument("--full-only", action="store_true", help="the full-size part only")
    parser.add_argument("--ratio-only", action="store_true", help="full-size part: the step ratio only")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per variant (alternated)")
    args = parser.parse_args()
    if not args.full_only:
        tiny_part()
    if not args.tiny_only:
        full_part(args.repeats, args.ratio_only)


if __name__ == "__main__":
    main()
