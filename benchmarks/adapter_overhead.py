"""UNet step with vs without the TrackAdapter, side by side in one run, at SVD-XT widths.

CPU default (NOTES.md section 6): the full SVD-XT UNet with random weights, fp32, 14 frames at a
16x24 latent (128x192 pixels), batch 1; a few minutes on two cores. ``--gpu``: 1024x576, 25
frames, fp16, batch 2 (classifier-free guidance), on CUDA.

The baseline and the adapted UNet are the same module (processors installed and removed between
runs) and are timed alternately. Prints ``name=value`` lines:
  overhead_ratio            adapted step / plain step, P-only tensors cached (the default; target <= 1.05)
  first_step_ratio          the first adapted step, which also computes the cache, / plain step
  nocache_ratio             adapted step recomputing the P-only tensors every step / plain step
  adapter_added_s_per_step  seconds the cached adapter adds to the 16 temporal attention layers, timed
                            alone (min over alternating runs; robust to a busy machine)
  flops_ratio               the same comparison in floating-point operations (torch's FlopCounterMode on
                            the meta device: matmuls, convolutions, attention; no elementwise ops),
                            independent of how busy the machine is; first_step_flops_ratio likewise
Run: PYTHONPATH=. .venvs/server/bin/python benchmarks/adapter_overhead.py [--gpu] [--repeats N]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def synthetic_trajectories(frames: int, height: int, width: int) -> np.ndarray:
    """P for one box moving right along an arrow (server.motion, as a real job gets it)."""
    from server.motion import render_trajectories, trajectories_from_arrows

    mask = np.zeros((height, width), bool)
    mask[height // 4: height // 2, width // 4: width // 2] = True
    arrow = [(width * 3 / 8, height * 3 / 8), (width * 5 / 8, height / 2)]
    return render_trajectories(trajectories_from_arrows([mask], [arrow], ["linear"], frames, seed=0), height, width)


def flop_ratios(frames: int, height: int, width: int, batch: int) -> tuple[float, float, float]:
    """(plain UNet GFLOPs, first adapted step / plain, cached adapted step / plain), on ``meta``."""
    from diffusers import UNetSpatioTemporalConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    from server.trackgo import SVD_XT_UNET_CONFIG, TrackAdapter

    def count() -> int:
        with FlopCounterMode(display=False) as counter:
            unet(sample, timestep, image_embeddings, added_time_ids)
        return counter.get_total_flops()

    with torch.no_grad(), torch.device("meta"):
        # .to("meta") as well: a few buffers are built with torch.Tensor([...]), which ignores the context
        unet = UNetSpatioTemporalConditionModel(**SVD_XT_UNET_CONFIG).eval().to("meta")
        adapter = TrackAdapter.from_unet(unet)
        sample = torch.empty(batch, frames, 8, height // 8, width // 8)
        timestep, image_embeddings, added_time_ids = torch.tensor(1.0), torch.empty(batch, 1, 1024), torch.empty(batch, 3)
        features = torch.empty(1, frames, adapter.config.condition_channels, height // 8, width // 8)
        plain = count()
        adapter.install(unet)
        with adapter.condition(features=features):
            first, cached = count(), count()
    return plain / 1e9, first / plain, cached / plain


def layer_times(frames: int, height: int, width: int, batch: int, device, dtype, repeats: int = 20) -> tuple[float, float]:
    """Seconds per UNet step spent in the 16 temporal self-attention layers (attn1 only), plain vs
    adapted with a warm cache: the only place the adapter adds work, timed alone (min of
    ``repeats`` alternating runs, so a busy machine inflates it far less than whole UNet steps)."""
    from diffusers import UNetSpatioTemporalConditionModel
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    from server.trackgo import SVD_XT_UNET_CONFIG, TrackAdapter
    from server.trackgo.processor import layer_resolution

    with torch.device("meta"):
        config = TrackAdapter.from_unet(UNetSpatioTemporalConditionModel(**SVD_XT_UNET_CONFIG)).config
    torch.manual_seed(0)
    adapter = TrackAdapter(config.layer_names, config.layer_channels, config.layer_heads, config.layer_levels)
    if dtype != torch.float32 or device.type != "cpu":
        adapter = adapter.to(device=device, dtype=dtype)
    adapter.eval()
    latent = (height // 8, width // 8)
    layers = []
    for channels, heads, level in zip(config.layer_channels, config.layer_heads, config.layer_levels):
        attn = Attention(query_dim=channels, heads=heads, dim_head=channels // heads).to(device=device, dtype=dtype)
        h, w = layer_resolution(latent, level)
        layers.append((attn, torch.randn(batch * h * w, frames, channels, device=device, dtype=dtype)))
    plain_processor = AttnProcessor2_0()
    features = torch.randn(1, frames, config.condition_channels, *latent, device=device, dtype=dtype)

    def run_all(adapted: bool) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for index, (attn, hidden) in enumerate(layers):
            processor = processors[index] if adapted else plain_processor
            processor(attn, hidden)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    from server.trackgo.processor import TrackAdapterProcessor

    processors = [TrackAdapterProcessor(adapter.layers[i], i, name, level, adapter._state)
                  for i, (name, level) in enumerate(zip(config.layer_names, config.layer_levels))]
    plain, adapted = [], []
    with torch.no_grad(), adapter.condition(features=features):
        run_all(False), run_all(True)                      # warm-up; fills the cache
        for _ in range(repeats):
            plain.append(run_all(False))
            adapted.append(run_all(True))
    return min(plain), min(adapted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="1024x576x25 fp16 on CUDA, batch 2")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per variant (alternated)")
    parser.add_argument("--flops-only", action="store_true", help="print the FLOP counts and stop (no timing)")
    parser.add_argument("--layers-only", action="store_true",
                        help="FLOP counts plus the temporal attention layers timed alone; no full UNet")
    args = parser.parse_args()

    from diffusers import UNetSpatioTemporalConditionModel

    from server.trackgo import SVD_XT_UNET_CONFIG, TrackAdapter

    if args.gpu:
        device, dtype, frames, height, width, batch = torch.device("cuda"), torch.float16, 25, 576, 1024, 2
    else:
        device, dtype, frames, height, width, batch = torch.device("cpu"), torch.float32, 14, 128, 192, 1
    print(f"device={device.type}")
    print(f"dtype={str(dtype).removeprefix('torch.')}")
    print(f"frames={frames}")
    print(f"size={width}x{height}")
    print(f"batch={batch}")
    print(f"threads={torch.get_num_threads()}")

    gflops, first_flops, cached_flops = flop_ratios(frames, height, width, batch)
    print(f"unet_gflops={gflops:.1f}")
    print(f"first_step_flops_ratio={first_flops:.4f}")
    print(f"flops_ratio={cached_flops:.5f}")
    if args.flops_only:
        return
    plain_layers, adapted_layers = layer_times(frames, height, width, batch, device, dtype)
    print(f"temporal_layers_plain_s={plain_layers:.4f}")
    print(f"temporal_layers_adapter_s={adapted_layers:.4f}")
    print(f"adapter_added_s_per_step={adapted_layers - plain_layers:.4f}")
    if args.layers_only:
        return

    t0 = time.perf_counter()
    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(**SVD_XT_UNET_CONFIG).eval()
    if dtype != torch.float32 or device.type != "cpu":
        unet = unet.to(device=device, dtype=dtype)
    adapter = TrackAdapter.from_unet(unet).eval()
    print(f"build_s={time.perf_counter() - t0:.1f}")

    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(batch, frames, 8, height // 8, width // 8, generator=generator).to(device, dtype)
    timestep = torch.tensor(1.0, device=device)
    image_embeddings = torch.randn(batch, 1, 1024, generator=generator).to(device, dtype)
    added_time_ids = torch.tensor([[6.0, 127.0, 0.02]] * batch, device=device, dtype=dtype)
    points = synthetic_trajectories(frames, height, width)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step() -> float:
        sync()
        start = time.perf_counter()
        unet(sample, timestep, image_embeddings, added_time_ids)
        sync()
        return time.perf_counter() - start

    with torch.no_grad():
        sync()
        start = time.perf_counter()
        features = adapter.encode(points)
        sync()
        print(f"encoder_s={time.perf_counter() - start:.4f}")
        print(f"warmup_step_s={step():.3f}")       # first call: kernel selection, allocator; untimed
        plain, cached, uncached = [], [], []
        first = None
        for round_index in range(args.repeats):
            plain.append(step())
            adapter.install(unet)
            with adapter.condition(features=features, cache=True):
                first_step = step()
                first = first_step if first is None else first
                cached.append(step())
            with adapter.condition(features=features, cache=False):
                uncached.append(step())
            adapter.remove(unet)
            print(f"round{round_index}_plain_s={plain[-1]:.3f}")
            print(f"round{round_index}_adapter_s={cached[-1]:.3f}")
            print(f"round{round_index}_adapter_nocache_s={uncached[-1]:.3f}")
    base = statistics.median(plain)
    print(f"plain_step_s={base:.3f}")
    print(f"adapter_first_step_s={first:.3f}")
    print(f"adapter_step_s={statistics.median(cached):.3f}")
    print(f"adapter_nocache_step_s={statistics.median(uncached):.3f}")
    print(f"first_step_ratio={first / base:.3f}")
    print(f"nocache_ratio={statistics.median(uncached) / base:.3f}")
    print(f"overhead_ratio={statistics.median(cached) / base:.3f}")


if __name__ == "__main__":
    main()
