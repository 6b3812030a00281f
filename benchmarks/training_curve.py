"""Does training the TrackAdapter learn? A synthetic task where the first frame cannot tell the motion.

Clips: a textured square on a textured background that moves left, right, up or down at random
(64x64, 6 frames). From frame 0 alone the motion is a coin toss; the trajectories P tell it.

1. A weak video model: the tiny SVD (server.trackgo.tiny) fitted to such clips, all weights (the
   VAE as an autoencoder, then the UNet with SVD's EDM loss), a short CPU run, cached under the
   temp dir (keyed by the settings), then frozen.
2. The adapter trained on its trajectories with the project's trainer (``trackgo-train``'s
   ``Trainer`` on a ``trackgo-prepare``-format dataset), with and without the attention loss.
3. Printed (name=value): ``adapter_vs_base_mse`` = held-out L_mse with the trained adapter / the
   frozen base (target <= 0.90); ``objmc_base_px`` and ``objmc_adapter_px``: generated clips, the
   project's ObjMC (server.evaluation.objmc) against the true motion; and
   ``steps_to_target_with_attn`` / ``steps_to_target_without_attn``: the first evaluation step
   at which held-out L_mse <= 0.90 x base (None if not reached).

    PYTHONPATH=. .venvs/server/bin/python benchmarks/training_curve.py [--quick]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

SIZE, FRAMES, SQUARE, SPEED = 64, 6, 16, 5
TARGET = 0.90
DIRECTIONS = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]], np.float32)


def texture(rng, h, w, scale):
    import cv2

    noise = rng.random((h // scale + 2, w // scale + 2, 3)).astype(np.float32)
    return cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)[:h, :w]


def make_clip(rng):
    """frames (L, H, W, 3) uint8, first-frame mask, tracked points (L, N, 2), displacement (L, 2)."""
    background = 0.25 + 0.5 * texture(rng, SIZE, SIZE, 8)
    patch = np.clip(texture(rng, SQUARE, SQUARE, 4) * 1.4 - 0.2, 0, 1)
    direction = DIRECTIONS[rng.integers(4)]
    travel, half = SPEED * (FRAMES - 1), SQUARE // 2
    start = np.array([rng.integers(half, SIZE - half - travel) if d > 0 else
                      rng.integers(half + travel, SIZE - half) if d < 0 else
                      rng.integers(half, SIZE - half) for d in direction], np.float32)
    displacement = np.arange(FRAMES, dtype=np.float32)[:, None] * SPEED * direction
    frames = []
    for i in range(FRAMES):
        frame = background.copy()
        x0, y0 = (start + displacement[i] - SQUARE // 2).astype(int)
        frame[y0:y0 + SQUARE, x0:x0 + SQUARE] = patch
        frames.append((frame * 255).astype(np.uint8))
    mask = np.zeros((SIZE, SIZE), bool)
    x0, y0 = (start - SQUARE // 2).astype(int)
    mask[y0:y0 + SQUARE, x0:x0 + SQUARE] = True
    grid = np.stack(np.meshgrid([-5, 0, 5], [-5, 0, 5]), -1).reshape(-1, 2).astype(np.float32)
    points = start + grid
    positions = points[None] + displacement[:, None]
    return np.stack(frames), mask, positions, displacement


def write_dataset(root: Path, clips: int, seed: int) -> list[dict]:
    from server.training import layout
    from server.training.prepare import PrepareSettings, build_manifest

    rng = np.random.default_rng(seed)
    out = []
    for c in range(clips):
        frames, mask, positions, displacement = make_clip(rng)
        layout.write_clip(root, f"clip{c:03d}", frames, [mask], positions, np.ones(positions.shape[:2], bool),
                          np.zeros(positions.shape[1], np.int16),
                          {"frames": FRAMES, "width": SIZE, "height": SIZE})
        out.append({"frames": frames, "mask": mask, "displacement": displacement})
    settings = PrepareSettings(frames=FRAMES, width=SIZE, height=SIZE)
    layout.write_json_atomic(root / layout.MANIFEST, build_manifest(root, settings, {}))
    return out


# ------------------------------------------------------------------------------ 1. weak video model
def fit_base(folder: Path, clips: list[dict], vae_steps: int, unet_steps: int, log) -> Path:
    """The tiny SVD fitted to the clips (VAE, then UNet), saved as a diffusers folder."""
    from server.trackgo.tiny import build_tiny_svd
    from server.training.losses import denoising_loss
    from server.training.noise import EDMSchedule

    svd_dir = folder / "svd"
    if (svd_dir / "model_index.json").is_file():
        log(f"base model: cached at {svd_dir}")
        return svd_dir
    torch.manual_seed(0)
    pipe = build_tiny_svd(0)
    video = torch.stack([torch.from_numpy(c["frames"]).permute(0, 3, 1, 2).float() / 127.5 - 1 for c in clips])
    g = torch.Generator().manual_seed(0)
    vae = pipe.vae.train()
    opt = torch.optim.Adam(vae.parameters(), lr=2e-3)
    for step in range(vae_steps):
        batch = video[torch.randint(len(clips), (2,), generator=g)].flatten(0, 1)      # 2 clips' frames
        recon = vae.decode(vae.encode(batch).latent_dist.mode(), num_frames=FRAMES).sample
        loss = ((recon - batch) ** 2).mean()
        loss.backward(), opt.step(), opt.zero_grad()
        if step % 50 == 0 or step == vae_steps - 1:
            log(f"vae step {step}: mse {loss.item():.4f}")
    vae.eval().requires_grad_(False)
    edm, unet, scale = EDMSchedule(), pipe.unet.train(), vae.config.scaling_factor
    with torch.no_grad():
        latents = torch.stack([vae.encode(v).latent_dist.mode() for v in video])                # (N, L, 4, 8, 8)
        from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
            _resize_with_antialiasing)
        embeds = pipe._encode_image((_resize_with_antialiasing(video[:, 0], (224, 224)) + 1) / 2, "cpu", 1, False)
    added = torch.tensor([[6.0, 127.0, 0.02]])
    opt = torch.optim.Adam(unet.parameters(), lr=1e-3)
    for step in range(unet_steps):
        idx = torch.randint(len(clips), (4,), generator=g)
        x0 = latents[idx] * scale
        sigma = edm.sample_sigmas(4, g)
        s = sigma.reshape(-1, 1, 1, 1, 1)
        noisy = x0 + s * torch.randn(x0.shape, generator=g)
        cond = latents[idx][:, :1].expand_as(x0)                         # frame 0's latent, unscaled
        out = unet(torch.cat([edm.c_in(s) * noisy, cond], 2), edm.c_noise(sigma), embeds[idx],
                   added.expand(4, 3)).sample
        loss = denoising_loss(edm.denoise(out, noisy, sigma), x0, edm.loss_weight(sigma))
        loss.backward(), opt.step(), opt.zero_grad()
        if step % 50 == 0 or step == unet_steps - 1:
            log(f"unet step {step}: loss {loss.item():.4f}")
    unet.eval().requires_grad_(False)
    pipe.save_pretrained(svd_dir)
    return svd_dir


# ------------------------------------------------------------------------------ 2. adapter training
def held_out_mse(trainer, heldout, with_adapter: bool) -> float:
    """Mean L_mse over fixed held-out (clip, sigma, noise) triples."""
    from server.training.dataset import collate

    adapter, unet = trainer.adapter, trainer.pipe.unet
    total = 0.0
    if not with_adapter:
        adapter.remove(unet)
    try:
        with torch.no_grad():
            for index, step in heldout:
                batch = collate([trainer.dataset[index]])
                saved, trainer.step = trainer.step, step
                inputs = trainer.step_inputs(batch, [0])
                trainer.step = saved
                if with_adapter:
                    total += trainer.losses(inputs, batch)["l_mse"].item()
                else:
                    edm = trainer.edm
                    out = unet(inputs["unet_input"], edm.c_noise(inputs["sigma"]), inputs["image_embeds"],
                               inputs["added_time_ids"]).sample
                    from server.training.losses import denoising_loss
                    total += denoising_loss(edm.denoise(out, inputs["noisy"], inputs["sigma"]), inputs["target"],
                                            edm.loss_weight(inputs["sigma"])).item()
    finally:
        if not with_adapter:
            adapter.install(unet)
    return total / len(heldout)


def train_adapter(svd_dir, data_dir, out_dir, lam, steps, every, heldout, log, lr=1e-3, svd_lr=3e-4):
    from accelerate.state import AcceleratorState, GradientState, PartialState

    from server.training import config as cfgmod
    from server.training import train

    AcceleratorState._reset_state(True), GradientState._reset_state(), PartialState._reset_state()
    cfg = cfgmod.load(cfgmod.CONFIG_DIR / "tiny.toml", [
        f"model.svd={svd_dir}", f"data.dataset={data_dir}", f"train.steps={steps}", "train.batch_size=4",
        f"train.lambda_attn={lam}", f"train.learning_rate={lr}", f"train.svd_query_key_learning_rate={svd_lr}",
        f"train.checkpoint_every={steps}", "train.log_every=1000", "noise.p_mean=-0.4", "noise.p_std=1.0"])
    trainer = train.Trainer(cfg, out_dir, log=lambda s: None)
    trainer.dataset.records = trainer.dataset.records[:-len(heldout)] or trainer.dataset.records
    from server.training.dataset import StepOrder
    trainer.order = StepOrder(len(trainer.dataset), cfg.train.batch_size, cfg.train.seed)
    heldout_items = [(len(trainer.dataset.records) + i, 10_000 + i) for i in range(len(heldout))]
    trainer.dataset.records = trainer.dataset.records + heldout
    base = held_out_mse(trainer, heldout_items, with_adapter=False)
    curve = [(0, held_out_mse(trainer, heldout_items, with_adapter=True))]
    batches = trainer.batches(0)
    while trainer.step < steps:
        trainer.train_step(batches)
        if trainer.step % every == 0 or trainer.step == steps:
            curve.append((trainer.step, held_out_mse(trainer, heldout_items, with_adapter=True)))
            log(f"lambda={lam} step {trainer.step}: held-out L_mse {curve[-1][1]:.4f} (base {base:.4f})")
    reached = next((s for s, v in curve if v <= TARGET * base), None)
    return trainer, base, curve, reached


# ------------------------------------------------------------------------------ 3. ObjMC
def objmc_of(pipe, clips, adapter=None, steps=8) -> float:
    from PIL import Image

    from server.evaluation.objmc import objmc_for_video, objmc_over_videos

    results = []
    for clip in clips:
        image = Image.fromarray(clip["frames"][0])
        if adapter is not None:
            frames = pipe.generate(image, clip["points"], height=SIZE, width=SIZE, num_inference_steps=steps,
                                   seed=0, decode_chunk_size=FRAMES).frames
        else:
            frames = pipe(image, height=SIZE, width=SIZE, num_frames=FRAMES, num_inference_steps=steps,
                          decode_chunk_size=FRAMES, output_type="np",
                          generator=torch.Generator().manual_seed(0)).frames[0]
            frames = (frames * 255).round().clip(0, 255).astype(np.uint8)
        results.append(objmc_for_video(list(frames), [clip["mask"]], displacements=[clip["displacement"]]))
    return objmc_over_videos(results)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=48)
    p.add_argument("--heldout", type=int, default=8)
    p.add_argument("--vae-steps", type=int, default=300)
    p.add_argument("--unet-steps", type=int, default=300)
    p.add_argument("--adapter-steps", type=int, default=120)
    p.add_argument("--every", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3, help="the adapter's learning rate")
    p.add_argument("--svd-lr", type=float, default=3e-4, help="the fine-tuned SVD W_q/W_k's learning rate")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "trackgo-training-curve")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    key = hashlib.sha1(json.dumps([args.clips, args.vae_steps, args.unet_steps, SIZE, FRAMES, SPEED, 1]).encode())
    folder = args.cache / key.hexdigest()[:12]
    started = time.perf_counter()
    data_dir = folder / "data"
    if not (data_dir / "manifest.json").is_file():
        clips = write_dataset(data_dir, args.clips, seed=0)
        np.save(folder / "clips.npy", np.array(clips, dtype=object), allow_pickle=True)
    clips = list(np.load(folder / "clips.npy", allow_pickle=True))
    svd_dir = fit_base(folder, clips[:-args.heldout], args.vae_steps, args.unet_steps, log)
    log(f"base ready after {time.perf_counter() - started:.0f} s")
    results = {}
    trainers = {}
    for lam, name in ((0.1, "with_attn"), (0.0, "without_attn")):
        from server.training.dataset import TrackDataset

        records = TrackDataset(data_dir, FRAMES, SIZE, SIZE).records[-args.heldout:]
        trainer, base, curve, reached = train_adapter(svd_dir, data_dir, folder / f"run-{name}-{time.time_ns()}",
                                                      lam, args.adapter_steps, args.every, records, log,
                                                      args.lr, args.svd_lr)
        trainers[name] = trainer
        results[name] = {"base": base, "curve": curve, "steps_to_target": reached}
    trained = trainers["with_attn"]
    heldout = clips[-args.heldout:]
    for clip, index in zip(heldout, range(len(trained.dataset.records) - args.heldout, len(trained.dataset.records))):
        clip["points"] = trained.dataset[index].trajectories.numpy()
    from server.trackgo.pipeline import TrackGoPipeline

    pipe = TrackGoPipeline.from_pretrained(svd_dir, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    objmc_base = objmc_of(pipe, heldout)
    adapter = trained.adapter.eval().requires_grad_(False)
    adapter.remove(trained.pipe.unet)
    pipe.attach_adapter(adapter)
    objmc_adapter = objmc_of(pipe, heldout, adapter)
    final = results["with_attn"]["curve"][-1][1]
    report = {
        "adapter_vs_base_mse": round(final / results["with_attn"]["base"], 4),
        "objmc_base_px": round(objmc_base, 3),
        "objmc_adapter_px": round(objmc_adapter, 3),
        "steps_to_target_with_attn": results["with_attn"]["steps_to_target"],
        "steps_to_target_without_attn": results["without_attn"]["steps_to_target"],
        "adapter_vs_base_mse_without_attn": round(results["without_attn"]["curve"][-1][1]
                                                  / results["without_attn"]["base"], 4),
        "adapter_steps": args.adapter_steps,
        "learning_rates": f"{args.lr:g}/{args.svd_lr:g}",
        "seconds": round(time.perf_counter() - started, 1),
    }
    for k, v in report.items():
        print(f"{k}={v}")
    return report


if __name__ == "__main__":
    main()
