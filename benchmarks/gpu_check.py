"""One prepared GPU check: speed and memory of full-size SVD-XT with and without TrackGo.

    python benchmarks/gpu_check.py --out gpu_check.json            # one CUDA GPU, <= ~8 min on an H100
    python benchmarks/gpu_check.py --smoke --out smoke.json        # the same code, tiny config, CPU

Full size: UNet, VAE and image encoder of SVD-XT built from their configs with random weights
(server/trackgo/config.py: nothing is downloaded), fp16, 1024x576, 25 frames, 25 steps with
classifier-free guidance (SVD's default 1.0 -> 3.0), a random TrackAdapter (with the fine-tuned
W_q/W_k copies the paper config trains). Random weights time the same arithmetic as trained ones.

Measured, each printed as name=value and written as JSON to --out:
* per generation variant (VARIANTS: plain SVD, TrackGo, dual-clock, TrackGo + dual-clock; the
  dual-clock rows hold one box region moved right along an arrow, ``motion_from_arrows``):
  seconds per video and peak GPU memory, on the GPU and again with model CPU offload under a
  16 GB cap (``torch.cuda.set_per_process_memory_fraction``);
* one bf16 training step with gradient checkpointing at batch 1 (seconds, peak memory), through
  the trainer's own loss (``server.training.losses``) and module, training what the ``paper``
  config trains (the adapter, the W_q/W_k copies and float32 copies of SVD's temporal layers);
* A_M agreement between fp16 and fp32 over the 16 layers (fraction of identical entries).

A GPU lease is short, so the figures are printed and the JSON rewritten as each section ends
(``"complete": false`` until the last), a section that fails is recorded with its error and the
others still run (exit status 1 then), and ``--budget-s`` skips what would not fit: a variant is
started only if the time it is expected to take (the last comparable one's, with a margin) and the
training step's reserve are left; what is skipped says so.
"""
from __future__ import annotations

import argparse
import functools
import json
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

OFFLOAD_CAP_GB = 16.0
DEFAULT_BUDGET_S = 450.0          # 7.5 minutes: the issue allows 8 on one H100
TRAINING_RESERVE_S = 60.0         # kept back for the training step, which runs last


@dataclass(frozen=True)
class Size:
    height: int
    width: int
    frames: int
    steps: int


FULL = Size(576, 1024, 25, 25)
SMOKE = Size(64, 64, 6, 2)


class Budget:
    """The wall-clock time left for the check; a measurement is started only if it fits."""

    def __init__(self, seconds: float, reserve_s: float):
        self.deadline = time.perf_counter() + seconds
        self.reserve_s = reserve_s

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def allows(self, expected_s: float | None) -> bool:
        """True if ``expected_s`` (None: unknown, assume it fits) and the reserve still fit."""
        return self.left() - self.reserve_s >= (expected_s or 0.0)

    def skipped(self, expected_s: float | None) -> dict:
        return {"skipped": f"time budget: {self.left():.0f} s left, this needs ~{expected_s or 0:.0f} s"
                           f" plus {self.reserve_s:.0f} s for the training step"}


# ---------------------------------------------------------------------------------- components
def build_components(smoke: bool, device: torch.device, dtype: torch.dtype):
    """SVD-XT's (or the tiny config's) UNet, VAE, image encoder, scheduler, feature extractor."""
    from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    from server.trackgo import tiny
    from server.trackgo.config import SVD_XT_IMAGE_ENCODER_CONFIG, SVD_XT_UNET_CONFIG, SVD_XT_VAE_CONFIG

    unet_cfg, vae_cfg, clip_cfg = ((tiny.TINY_UNET_CONFIG, tiny.TINY_VAE_CONFIG, tiny.TINY_CLIP_CONFIG) if smoke
                                   else (SVD_XT_UNET_CONFIG, SVD_XT_VAE_CONFIG, SVD_XT_IMAGE_ENCODER_CONFIG))
    torch.manual_seed(0)
    with torch.device(device):                 # random init on the GPU itself: seconds, not minutes
        parts = {
            "unet": UNetSpatioTemporalConditionModel(**unet_cfg),
            "vae": AutoencoderKLTemporalDecoder(**vae_cfg),
            "image_encoder": CLIPVisionModelWithProjection(CLIPVisionConfig(**clip_cfg)),
        }
    for part in parts.values():
        # .to(device) too: a few parameters are made with torch.Tensor([...]) (AlphaBlender's
        # mix_factor), which the device context above does not reach
        part.to(device=device, dtype=dtype).eval().requires_grad_(False)
    parts["scheduler"] = EulerDiscreteScheduler(**tiny.SVD_SCHEDULER_CONFIG)
    parts["feature_extractor"] = CLIPImageProcessor(crop_size=224, size={"shortest_edge": 224})
    return parts


def build_adapter(unet, smoke: bool):
    from server.trackgo import TrackAdapter
    from server.trackgo.tiny import TINY_CONDITION_CHANNELS, TINY_ENCODER_CHANNELS

    torch.manual_seed(1)
    if smoke:
        return TrackAdapter.from_unet(unet, TINY_CONDITION_CHANNELS, TINY_ENCODER_CHANNELS, tune_base_query_key=True)
    return TrackAdapter.from_unet(unet, tune_base_query_key=True)


def moving_squares(size: Size) -> np.ndarray:
    """P: three components of 4-px points moving in different directions (as server.motion draws)."""
    points = np.zeros((size.frames, size.height, size.width, 3), np.uint8)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    starts = [(0.3, 0.3), (0.6, 0.5), (0.4, 0.7)]
    moves = [(0.3, 0.0), (-0.2, 0.1), (0.0, -0.25)]
    for i in range(size.frames):
        t = i / max(size.frames - 1, 1)
        for colour, (sx, sy), (mx, my) in zip(colours, starts, moves):
            for dx in (-8, 0, 8):
                for dy in (-8, 0, 8):
                    x = int((sx + mx * t) * size.width) + dx
                    y = int((sy + my * t) * size.height) + dy
                    points[i, max(y, 0):y + 4, max(x, 0):x + 4] = colour
    return points


def reference_image(size: Size):
    from PIL import Image

    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, size=(size.height, size.width, 3), dtype=np.uint8))


# ---------------------------------------------------------------------------------- variants
def run_plain(pipe, size: Size, points) -> None:
    """Plain SVD-XT: the parent pipeline's own __call__ with the adapter taken out."""
    from diffusers import StableVideoDiffusionPipeline

    adapter = pipe.track_adapter
    pipe.detach_adapter()
    try:
        StableVideoDiffusionPipeline.__call__(pipe, reference_image(size), height=size.height, width=size.width,
                                              num_frames=size.frames, num_inference_steps=size.steps,
                                              decode_chunk_size=8, output_type="np",
                                              generator=torch.Generator("cpu").manual_seed(0))
    finally:
        pipe.attach_adapter(adapter)


def run_trackgo(pipe, size: Size, points):
    return pipe.generate(reference_image(size), points, height=size.height, width=size.width,
                  num_inference_steps=size.steps, decode_chunk_size=8, seed=0)


@functools.lru_cache(maxsize=4)
def box_motion(size: Size):
    """(DualClock, Trajectories): a box in the middle-left dragged right along an arrow, on the
    reference image, as the dualclock backend builds them for a job (docs/model.md)."""
    from server.backends.dualclock import motion_from_arrows

    h, w = size.height, size.width
    mask = np.zeros((h, w), bool)
    mask[h * 3 // 8:h * 5 // 8, w * 3 // 16:w * 6 // 16] = True
    arrow = [(w * 9 / 32, h / 2), (w * 21 / 32, h / 2)]
    return motion_from_arrows(np.asarray(reference_image(size)), [mask], [arrow], ["linear"], size.frames)


def run_dual_clock(pipe, size: Size, points):
    """SVD alone with the dual-clock hold (the adapter is swapped out when no trajectories are given)."""
    motion, _ = box_motion(size)
    return pipe.generate(reference_image(size), None, motion=motion, height=size.height, width=size.width,
                  num_inference_steps=size.steps, decode_chunk_size=8, seed=0)


def run_trackgo_dual_clock(pipe, size: Size, points):
    """The adapter conditioned on the same arrow's tracks, plus the dual-clock hold."""
    motion, tracks = box_motion(size)
    return pipe.generate(reference_image(size), tracks, motion=motion, height=size.height, width=size.width,
                  num_inference_steps=size.steps, decode_chunk_size=8, seed=0)


VARIANTS: list[tuple[str, Callable]] = [
    ("plain_svd", run_plain),
    ("trackgo", run_trackgo),
    ("dual_clock", run_dual_clock),
    ("trackgo_dual_clock", run_trackgo_dual_clock),
]


# ---------------------------------------------------------------------------------- measurements
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(fn: Callable[[], object], device: torch.device) -> dict:
    """Seconds and peak GPU memory (GiB; None on CPU) of one call, and the UNet calls of a
    generation that reports them (dual-clock skips the steps before its weak clock); an OOM is
    recorded, not raised."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    t0 = time.perf_counter()
    try:
        result = fn()
    except torch.cuda.OutOfMemoryError as exc:
        return {"error": f"out of memory: {str(exc).splitlines()[0]}"}
    _sync(device)
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    out = {"seconds": round(seconds, 3), "peak_gb": None if peak is None else round(peak, 2)}
    if getattr(result, "unet_calls", None) is not None:
        out["unet_calls"] = result.unet_calls
    return out


def _expected(figures: dict | None, margin: float) -> float | None:
    """The time a measurement like ``figures`` is expected to take, with a margin (None: unknown)."""
    if not figures or "seconds" not in figures:
        return None
    return figures["seconds"] * margin + 5.0


def generation(pipe, size: Size, device: torch.device, points, budget: Budget) -> dict:
    """Each variant once warmed up (one step) and once timed; a variant is expected to take as
    long as the one before it (the first: no estimate)."""
    out, last = {}, None
    for name, fn in VARIANTS:
        expected = _expected(last, 1.3)
        if not budget.allows(expected):
            out[name] = budget.skipped(expected)
            continue
        measure(lambda: fn(pipe, Size(size.height, size.width, size.frames, 1), points), device)   # warm-up
        out[name] = last = measure(lambda: fn(pipe, size, points), device)
    return out


def offloaded_generation(pipe, size: Size, device: torch.device, points, budget: Budget,
                         on_gpu: dict) -> dict:
    """The same variants with enable_model_cpu_offload under a 16 GB cap (a 16 GB card); each is
    expected to take 1.5 times its on-GPU time."""
    if device.type != "cuda":
        return {"skipped": "needs CUDA"}
    total = torch.cuda.get_device_properties(device).total_memory / 2**30
    pipe.enable_model_cpu_offload(device=device)
    torch.cuda.set_per_process_memory_fraction(min(1.0, OFFLOAD_CAP_GB / total), device)
    out = {}
    try:
        for name, fn in VARIANTS:
            expected = _expected(on_gpu.get(name), 1.5)
            out[name] = (measure(lambda: fn(pipe, size, points), device) if budget.allows(expected)
                         else budget.skipped(expected))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
        pipe.remove_all_hooks()
        pipe.to(device)
    out["cap_gb"] = OFFLOAD_CAP_GB
    return out


def training_step(parts, adapter, size: Size, device: torch.device, points, smoke: bool) -> dict:
    """One bf16 (fp32 in --smoke) step with gradient checkpointing at batch 1: VAE encode, UNet
    forward with the attention maps, L_mse + lambda * L_attn, backward, AdamW step. Measured as
    the trainer runs it (diffusers' checkpointing plus the temporal blocks,
    server.trackgo.checkpointing) and, first, with diffusers' checkpointing alone (nested under
    ``without_temporal_checkpointing``: what the temporal blocks' checkpointing saves)."""
    from server.trackgo.checkpointing import checkpoint_temporal_blocks
    from server.training.losses import attention_loss, denoising_loss
    from server.training.noise import EDMSchedule
    from server.training.train import AdapterTrainingModule

    dtype = torch.float32 if smoke else torch.bfloat16
    unet, vae = parts["unet"], parts["vae"]
    unet.to(dtype)
    vae.to(dtype)
    unet.enable_gradient_checkpointing()
    unet.train()
    adapter.float().requires_grad_(True).train()
    # as the paper config trains: float32 copies of SVD's temporal layers tuned too
    adapter.remove(unet)
    adapter.tune_temporal(unet, trainable=True).float()
    adapter.install(unet)
    module = AdapterTrainingModule(adapter, unet, 0.2)
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=3e-5)
    edm = EDMSchedule()
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(size.frames, 3, size.height, size.width, generator=g) * 2 - 1
    masks = torch.from_numpy(points.any(axis=-1)).float()[None].to(device)
    trajectories = torch.from_numpy(points)[None].to(device)

    encode_peak = {}

    def step():
        with torch.no_grad():
            latents = vae.encode(frames.to(device, dtype)).latent_dist.sample() * vae.config.scaling_factor
            latents = latents[None].float()
        if device.type == "cuda":
            encode_peak["gb"] = torch.cuda.max_memory_allocated(device) / 2**30
        sigma = edm.sample_sigmas(1, g).to(device)
        noisy = latents + sigma.reshape(-1, 1, 1, 1, 1) * torch.randn(latents.shape, generator=g).to(device)
        unet_input = torch.cat([edm.c_in(sigma.reshape(-1, 1, 1, 1, 1)) * noisy, latents[:, :1].expand_as(latents)], 2)
        embeds = torch.randn(1, 1, unet.config.cross_attention_dim, generator=g).to(device, dtype)
        added = torch.tensor([[6.0, 127.0, 0.02]], device=device, dtype=dtype)
        with torch.autocast(device.type, dtype=dtype, enabled=not smoke):
            out, diagonals = module(unet_input.to(dtype), edm.c_noise(sigma), embeds, added, trajectories)
        loss = (denoising_loss(edm.denoise(out.float(), noisy, sigma), latents, edm.loss_weight(sigma))
                + 0.1 * attention_loss(diagonals, masks))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training step: non-finite loss {loss.item()}")

    without = measure(step, device)
    checkpoint_temporal_blocks(unet)          # what the trainer does with train.gradient_checkpointing
    result = measure(step, device)
    if "gb" in encode_peak:           # the VAE encode of the clip's frames, before the UNet
        result["vae_encode_peak_gb"] = round(encode_peak["gb"], 2)
    result["dtype"] = str(dtype).replace("torch.", "")
    result["gradient_checkpointing"] = True
    result["trained_params_M"] = round(sum(p.numel() for p in module.parameters() if p.requires_grad) / 1e6, 2)
    result["without_temporal_checkpointing"] = without
    unet.disable_gradient_checkpointing()
    unet.eval()
    return result


def mask_agreement(adapter, unet, size: Size, device: torch.device, points) -> dict:
    """A_M computed for a half-precision and a single-precision model: fraction of identical
    entries over every layer (1.0 = the mask does not depend on the model's dtype)."""
    from server.trackgo.adapter import temporal_attention_layers
    from server.trackgo.condition import TrackCondition
    from server.trackgo.processor import layer_resolution

    with torch.no_grad():
        features = adapter.encode(points[None])
        same = total = 0
        for name, attn, level in temporal_attention_layers(unet):
            processor = attn.processor
            h, w = layer_resolution(tuple(features.shape[-2:]), level)
            masks = []
            for dtype in (torch.float16, torch.float32):
                condition = TrackCondition(features, 0.2, 0.0, 1.0, False)
                masks.append(processor.layer_tensors(condition, h * w, size.frames, attn.heads, dtype, device).a_mask != 0)
            same += int((masks[0] == masks[1]).sum())
            total += masks[0].numel()
    return {"identical_fraction": same / total, "entries": total}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny config on CPU (the test suite runs this)")
    p.add_argument("--out", type=Path, default=None, help="write the figures as JSON here (after every section)")
    p.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S,
                   help=f"wall-clock seconds for the whole check (default {DEFAULT_BUDGET_S:.0f}); "
                        "measurements that would not fit are skipped and say so")
    args = p.parse_args(argv)
    if args.budget_s <= 0:
        p.error(f"--budget-s: expected a number of seconds > 0, got {args.budget_s}")
    if not args.smoke and not torch.cuda.is_available():
        p.error("needs a CUDA GPU (use --smoke for the CPU run of the same code)")
    from server.trackgo.pipeline import TrackGoPipeline

    budget = Budget(args.budget_s, TRAINING_RESERVE_S)
    if args.smoke:
        torch.set_num_threads(1)          # a shared CPU: one thread each is faster than contention
    # an indexed device: torch.cuda's memory calls refuse a bare "cuda"
    device = torch.device("cpu") if args.smoke else torch.device("cuda", torch.cuda.current_device())
    dtype = torch.float32 if args.smoke else torch.float16
    size = SMOKE if args.smoke else FULL
    started = time.perf_counter()
    report = {
        "complete": False,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "libraries": _library_versions(),
        "config": "tiny (smoke)" if args.smoke else "SVD-XT, random weights",
        "size": {"height": size.height, "width": size.width, "frames": size.frames, "steps": size.steps},
        "dtype": str(dtype).replace("torch.", ""),
        "budget_s": args.budget_s,
    }
    parts = build_components(args.smoke, device, dtype)
    pipe = TrackGoPipeline(**parts)
    pipe.set_progress_bar_config(disable=True)
    adapter = build_adapter(parts["unet"], args.smoke).to(device)
    pipe.attach_adapter(adapter)
    points = moving_squares(size)
    report["build_s"] = round(time.perf_counter() - started, 1)
    _publish(report, dict(report), args.out)

    sections = [
        ("mask_fp16_vs_fp32", lambda: mask_agreement(adapter, parts["unet"], size, device, points)),
        ("generation", lambda: generation(pipe, size, device, points, budget)),
        ("generation_offload_16gb",
         lambda: offloaded_generation(pipe, size, device, points, budget, report.get("generation", {}))),
        # last: it turns the UNet to bf16 and trains it in place
        ("training_step_bf16", lambda: training_step(parts, adapter, size, device, points, args.smoke)),
    ]
    failed = []
    for key, run in sections:
        try:
            report[key] = run()
        except Exception as exc:          # recorded, and the other sections still run
            traceback.print_exc()
            report[key] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
            failed.append(key)
        _publish(report, {key: report[key]}, args.out)
    report["total_s"] = round(time.perf_counter() - started, 1)
    report["complete"] = True
    _publish(report, {"total_s": report["total_s"], "complete": True}, args.out)
    if failed:
        print(f"gpu_check: {len(failed)} section(s) failed: {', '.join(failed)} (see the tracebacks above)",
              file=sys.stderr)
        raise SystemExit(1)
    return report


def _library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("diffusers", "transformers", "accelerate", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _publish(report: dict, new: dict, out: Path | None) -> None:
    """Print the section just measured as name=value lines and rewrite --out with all so far
    (a whole file each time: written beside, then renamed)."""
    for key, value in _flatten(new):
        print(f"{key}={value}", flush=True)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_name(out.name + ".part")
        part.write_text(json.dumps(report, indent=2))
        part.replace(out)


def _flatten(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


if __name__ == "__main__":
    main()
