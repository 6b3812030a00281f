"""Does training the TrackAdapter learn? A synthetic task where the first frame cannot tell the motion.

Clips (64x64, 6 frames): two textured squares on a textured background, each moving left, right,
up or down at random, 5 px per frame. From frame 0 alone the motion is one of 16 equally likely
futures; the trajectories P tell it.

1. A weak video model: the tiny SVD (server.trackgo.tiny) fitted to ``--base-clips`` fresh clips
   of its own seed (never the adapter's or the held-out ones), all weights (the VAE as an
   autoencoder, then the UNet with SVD's EDM loss at the training config's sigma distribution),
   cached under the temp dir (keyed by the settings, every 500 UNet steps), then frozen.
2. The adapter trained on its trajectories with the project's trainer (``trackgo-train``'s
   ``Trainer`` on a ``trackgo-prepare``-format dataset, ``data.cache_latents`` on), with and
   without the attention loss, and a twin of the first on black P (``train.blank_trajectories``).
   As the ``paper`` config does, the trainer also tunes copies of the base's temporal layers
   (``model.tune_svd_temporal``); ``--frozen-svd`` keeps them frozen (adapter + W_q/W_k copies).
   With ``--tuned-unet-control`` also two twins that train the whole UNet along with the adapter
   (a diagnostic, not the paper config): one on the clips' P, one on black P. Their ratio says
   whether A' carries the motion at all once the model may learn to read it.
3. Held-out L_mse on clips the base and the adapter never saw, at fixed sigmas: the
   (k + 1/2)/K quantiles of the training log-normal (``noise.p_mean``, ``noise.p_std``), so the
   mean over them is the training distribution's expectation, stratified; fixed noise per sigma.

Printed (name=value): ``adapter_vs_base_mse`` = held-out L_mse with the trained adapter / the
frozen base (target <= 0.90), the same per sigma; ``trajectories_vs_blank_mse`` = the same run's
held-out L_mse / its black-P twin's (what the trajectories alone are worth: with the temporal
layers tuned, the base's own further fitting is in both); ``oracle_vs_base_mse``: the base with its own
temporal attention maps replaced by the maps it computes on the nearly clean clip (sigma 0.1) -
how much an attention-only control can tell this frozen base at all (a diagnostic, not a
target); ``objmc_base_px`` / ``objmc_adapter_px`` (the project's ObjMC against the true motion
on generated clips: ``--objmc-seeds`` generations per held-out clip, ``--objmc-steps`` denoising
steps, decoded by the base's VAE with its decoder fitted further - the encoder, and so the latent
space, unchanged), the paired difference's bootstrap 95 % interval and the pairs the adapter wins,
beside ``objmc_vae_roundtrip_px`` (the real clips through that VAE: the floor) and
``objmc_still_px`` (frame 0 held: no motion); ``steps_to_target_with_attn`` / ``_without_attn``
(first evaluation step at
which the ratio is <= 0.90, None if never); ``moving_pixels_share`` (share of pixels of frames
1..L-1 that differ from frame 0: what motion can change at all); with the control
``tuned_unet_vs_base_mse``, ``tuned_unet_blank_vs_base_mse`` and ``tuned_unet_trajectories_vs_blank``
(the two twins' held-out L_mse divided: what the trajectories alone are worth).

    PYTHONPATH=. nice -n 15 .venvs/server/bin/python benchmarks/training_curve.py
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from server.training.heldout import HeldOutLoss, heldout_sigmas  # noqa: E402

SIZE, FRAMES, SHAPES, SHAPE, SPEED = 64, 6, 2, 20, 5
TARGET = 0.90
LAMBDA_ATTN = 0.1              # the runs with the attention loss (the paper gives no lambda; ours)
DIRECTIONS = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]], np.float32)
SIGMA_QUANTILES = 6
ORACLE_SIGMA = 0.1
VERSION = 4                    # of the task and the base fit (part of the cache keys; 4: base clips as uint8)
BASE_SEED = 1                  # the base's own clips (the dataset's are drawn from seed 0)
DECODER_SEED = 5               # the decoder fit's draws (of the base's clips)


def texture(rng, h, w, scale):
    import cv2

    noise = rng.random((h // scale + 2, w // scale + 2, 3)).astype(np.float32)
    return cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)[:h, :w]


def _start(rng, direction, half, travel):
    return np.array([rng.integers(half, SIZE - half - travel + 1) if d > 0 else
                     rng.integers(half + travel, SIZE - half + 1) if d < 0 else
                     rng.integers(half, SIZE - half + 1) for d in direction], np.float32)


def make_clip(rng):
    """frames (L, H, W, 3) uint8, first-frame masks, tracks (L, N, 2), components (N,), displacements."""
    background = 0.25 + 0.5 * texture(rng, SIZE, SIZE, 8)
    half, travel = SHAPE // 2, SPEED * (FRAMES - 1)
    grid = np.stack(np.meshgrid([-6, 0, 6], [-6, 0, 6]), -1).reshape(-1, 2).astype(np.float32)
    while True:
        shapes = []
        for _ in range(SHAPES):
            direction = DIRECTIONS[rng.integers(4)]
            patch = np.clip(texture(rng, SHAPE, SHAPE, 4) * 1.4 - 0.2, 0, 1)
            shapes.append((patch, _start(rng, direction, half, travel),
                           np.arange(FRAMES, dtype=np.float32)[:, None] * SPEED * direction))
        squares = []
        for _, start, _ in shapes:
            square = np.zeros((SIZE, SIZE), bool)
            x0, y0 = (start - half).astype(int)
            square[y0:y0 + SHAPE, x0:x0 + SHAPE] = True
            squares.append(square)
        masks = [s & ~np.any(squares[k + 1:], axis=0) if k + 1 < SHAPES else s for k, s in enumerate(squares)]
        if all(m.sum() >= SHAPE * SHAPE // 2 for m in masks):      # each shape mostly visible at frame 0
            break
    frames = []
    for i in range(FRAMES):
        frame = background.copy()
        for patch, start, displacement in shapes:                  # later shapes in front
            x0, y0 = (start + displacement[i] - half).astype(int)
            frame[y0:y0 + SHAPE, x0:x0 + SHAPE] = patch
        frames.append((frame * 255).astype(np.uint8))
    positions = np.concatenate([(start + grid)[None] + d[:, None] for _, start, d in shapes], axis=1)
    component = np.repeat(np.arange(SHAPES, dtype=np.int16), len(grid))
    return np.stack(frames), masks, positions, component, [d for _, _, d in shapes]


def write_dataset(root: Path, clips: int, seed: int) -> list[dict]:
    from server.training import layout
    from server.training.prepare import PrepareSettings, build_manifest

    rng = np.random.default_rng(seed)
    out = []
    for c in range(clips):
        frames, masks, positions, component, displacements = make_clip(rng)
        layout.write_clip(root, f"clip{c:03d}", frames, masks, positions, np.ones(positions.shape[:2], bool),
                          component, {"frames": FRAMES, "width": SIZE, "height": SIZE})
        out.append({"frames": frames, "masks": masks, "displacements": displacements})
    settings = PrepareSettings(frames=FRAMES, width=SIZE, height=SIZE)
    layout.write_json_atomic(root / layout.MANIFEST, build_manifest(root, settings, {}))
    return out


def moving_pixels_share(clips) -> float:
    changed = [np.any(c["frames"][1:] != c["frames"][:1], axis=-1).mean() for c in clips]
    return float(np.mean(changed))


# ------------------------------------------------------------------------------ 1. weak video model
def point_posterior(vae) -> bool:
    """Make the VAE's posterior a point at its mode (log-variance -30, the clamp's floor).

    The VAE here is fitted as a plain autoencoder on the mode, so its log-variance head keeps its
    random initialisation: posterior std ~1, i.e. the trainer's ``latent_dist.sample()`` added
    noise larger than the (unit-variance) scaled latents themselves to every target. SVD's own
    VAE was trained as a VAE and its posterior is narrow. Returns whether anything changed."""
    c = vae.config.latent_channels
    with torch.no_grad():
        if bool((vae.quant_conv.weight[c:] == 0).all() and (vae.quant_conv.bias[c:] == -30.0).all()):
            return False
        vae.quant_conv.weight[c:] = 0.0
        vae.quant_conv.bias[c:] = -30.0
    return True


def base_video(count: int, seed: int) -> torch.Tensor:
    """``count`` fresh clips for fitting the base, (N, L, 3, H, W) uint8 (``model_range`` turns a
    slice into the models' [-1, 1]; 2000 clips are 147 MB so, 590 MB as float32). Drawn from their
    own seed, never the dataset's: the base sees neither the adapter's clips nor the held-out ones.
    Fitted on the dataset's 40 clips instead, the base memorised their textures: held-out L_mse
    went *up* from 300 to 500 UNet steps (0.604 -> 0.684) while the training loss fell."""
    rng = np.random.default_rng(seed)
    frames = np.stack([make_clip(rng)[0] for _ in range(count)])
    return torch.from_numpy(frames).permute(0, 1, 4, 2, 3).contiguous()


def model_range(video: torch.Tensor) -> torch.Tensor:
    """uint8 frames -> float32 in [-1, 1], as the VAE and the image encoder take them."""
    return video.float() / 127.5 - 1


def _encode_all(vae, video: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([torch.stack([vae.encode(v).latent_dist.mode() for v in model_range(video[i:i + chunk])])
                          for i in range(0, len(video), chunk)])


def _latest_checkpoint(folder: Path, up_to: int) -> tuple[int, Path | None]:
    """The cached base fit with the most UNet steps up to ``up_to`` (its optimiser state saved)."""
    found = [(int(d.name[len("svd-unet"):]), d) for d in folder.glob("svd-unet*")
             if d.name[len("svd-unet"):].isdigit() and (d / "fit_state.pt").is_file()]
    found = [(k, d) for k, d in found if k <= up_to]
    return max(found, default=(0, None), key=lambda kd: kd[0])


def fit_autoencoder(vae, params, video: torch.Tensor, steps: int, clips: int, g: torch.Generator, log,
                    label: str, log_every: int) -> None:
    """Fit ``params`` of ``vae`` as a plain autoencoder on the mode: ``clips`` clips' frames per
    step, drawn with ``g``, pixel MSE, Adam at 2e-3. Leaves the VAE frozen in eval mode."""
    vae.train()
    opt, cpu = torch.optim.Adam(params, lr=2e-3), time.process_time()
    for step in range(steps):
        batch = model_range(video[torch.randint(len(video), (clips,), generator=g)].flatten(0, 1))
        recon = vae.decode(vae.encode(batch).latent_dist.mode(), num_frames=FRAMES).sample
        loss = ((recon - batch) ** 2).mean()
        loss.backward(), opt.step(), opt.zero_grad()
        if step % log_every == 0 or step == steps - 1:
            log(f"{label} step {step}: mse {loss.item():.4f} ({time.process_time() - cpu:.0f} s cpu)")
    vae.eval().requires_grad_(False)


def fit_vae(pipe, video: torch.Tensor, vae_steps: int, g: torch.Generator, log) -> None:
    """The tiny VAE fitted as an autoencoder on the mode (one clip's frames per step)."""
    vae = pipe.vae
    fit_autoencoder(vae, vae.parameters(), video, vae_steps, 1, g, log, "vae", 25)
    latents = _encode_all(vae, video[:256])
    # SVD's scaling factor (0.18215) is 1 / the std of *its* VAE's latents, so that the scaled
    # latents have unit variance, the sigma_data = 1 of its EDM preconditioning; a VAE fitted
    # here has latents of another scale, so its factor is computed the same way.
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    point_posterior(vae)
    log(f"vae latents std {latents.std().item():.3f}: scaling_factor {vae.config.scaling_factor:.4f}")


def fit_decoder(folder: Path, svd_dir: Path, video: torch.Tensor | None, base_clips: int, steps: int, log):
    """The base's VAE with its decoder fitted ``steps`` more steps, the encoder frozen: for
    decoding generated clips to pixels (ObjMC) only. The latent space - and so the fitted UNet,
    the adapter and every held-out L_mse - is unchanged; the 100-step VAE alone decoded even the
    real held-out clips so badly that ObjMC on them was 13.98 px, worse than a still clip
    (12.50 px). Cached under ``folder``."""
    from diffusers import AutoencoderKLTemporalDecoder

    out = folder / f"vae-decoder{steps}"
    if (out / "config.json").is_file():
        return AutoencoderKLTemporalDecoder.from_pretrained(out)
    vae = AutoencoderKLTemporalDecoder.from_pretrained(svd_dir / "vae")
    if video is None:                          # the base was cached: its clips again
        video = base_video(base_clips, BASE_SEED)
    vae.requires_grad_(False)
    vae.decoder.requires_grad_(True)      # only the decoder is fitted (and takes a gradient): latents unchanged
    fit_autoencoder(vae, vae.decoder.parameters(), video, steps, 2, torch.Generator().manual_seed(DECODER_SEED),
                    log, "vae decoder", 100)
    vae.save_pretrained(out)
    return vae


def fit_base(folder: Path, video: torch.Tensor, vae_steps: int, unet_steps: int, edm, log,
             save_every: int = 500) -> Path:
    """The tiny SVD fitted to ``video`` (VAE, then UNet), saved as a diffusers folder. Cached under
    ``folder``: the VAE once, the UNet every ``save_every`` steps with its optimiser and random
    state, so a longer fit continues the longest cached one exactly where it stopped. (The UNet's
    random draws follow the VAE fit's on one generator, as in the recorded runs: a UNet fitted
    after a cached VAE differs from one fitted in the same invocation as its VAE.)"""
    from diffusers import AutoencoderKLTemporalDecoder
    from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
        _resize_with_antialiasing)

    from server.trackgo.tiny import build_tiny_svd
    from server.training.losses import denoising_loss

    svd_dir = folder / f"svd-unet{unet_steps}"
    if (svd_dir / "model_index.json").is_file():
        log(f"base model: cached at {svd_dir}")
        return svd_dir
    pipe = build_tiny_svd(0)
    g = torch.Generator().manual_seed(0)
    vae_dir = folder / "vae"
    if (vae_dir / "config.json").is_file():
        pipe.register_modules(vae=AutoencoderKLTemporalDecoder.from_pretrained(vae_dir))
    else:
        fit_vae(pipe, video, vae_steps, g, log)
        pipe.vae.save_pretrained(vae_dir)
    vae = pipe.vae.eval().requires_grad_(False)
    cpu = time.process_time()
    latents = _encode_all(vae, video)                                  # (N, L, 4, 8, 8), the mode
    with torch.no_grad():
        firsts = (_resize_with_antialiasing(model_range(video[i:i + 256, 0]), (224, 224))
                  for i in range(0, len(video), 256))                  # 256 at a time: 154 MB each
        embeds = torch.cat([pipe._encode_image((first + 1) / 2, "cpu", 1, False) for first in firsts])
    log(f"base clips encoded: {len(video)} ({time.process_time() - cpu:.0f} s cpu)")
    unet, scale = pipe.unet.train(), vae.config.scaling_factor
    added = torch.tensor([[6.0, 127.0, 0.02]])
    opt, cpu = torch.optim.Adam(unet.parameters(), lr=1e-3), time.process_time()
    done, resume = _latest_checkpoint(folder, unet_steps)
    if resume is not None:
        state = torch.load(resume / "fit_state.pt", weights_only=False)
        unet.load_state_dict(type(unet).from_pretrained(resume / "unet").state_dict())
        opt.load_state_dict(state["optimizer"])
        g.set_state(state["generator"])
        log(f"base model: continuing the fit at UNet step {done} ({resume})")
    batch = 8
    for step in range(done, unet_steps):
        idx = torch.randint(len(video), (batch,), generator=g)
        x0 = latents[idx] * scale
        sigma = edm.sample_sigmas(batch, g)                              # the adapter's sigma distribution
        s = sigma.reshape(-1, 1, 1, 1, 1)
        noisy = x0 + s * torch.randn(x0.shape, generator=g)
        cond = latents[idx][:, :1].expand_as(x0)                         # frame 0's latent, unscaled
        out = unet(torch.cat([edm.c_in(s) * noisy, cond], 2), edm.c_noise(sigma), embeds[idx],
                   added.expand(batch, 3)).sample
        loss = denoising_loss(edm.denoise(out, noisy, sigma), x0, edm.loss_weight(sigma))
        loss.backward(), opt.step(), opt.zero_grad()
        if step % 50 == 0 or step == unet_steps - 1:
            log(f"unet step {step}: loss {loss.item():.4f} ({time.process_time() - cpu:.0f} s cpu)")
        if (step + 1) % save_every == 0 or step + 1 == unet_steps:
            _save_fit(pipe, opt, g, folder / f"svd-unet{step + 1}")
    unet.eval().requires_grad_(False)
    return svd_dir


def _save_fit(pipe, opt, g, svd_dir: Path) -> None:
    """A base folder plus the fit's optimiser and random state, written to a temporary sibling and
    renamed: an interrupted fit never leaves a folder that looks whole."""
    import shutil

    partial = svd_dir.with_name(svd_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    pipe.unet.eval()
    pipe.save_pretrained(partial)
    pipe.unet.train()
    torch.save({"optimizer": opt.state_dict(), "generator": g.get_state()}, partial / "fit_state.pt")
    shutil.rmtree(svd_dir, ignore_errors=True)
    partial.rename(svd_dir)


# ------------------------------------------------------------------------------ 2. held-out L_mse
# The held-out measurement is trackgo-heldout's (server.training.heldout); the oracle is this
# benchmark's own diagnostic on top of it.
class OracleAttention:
    """The base's own temporal self-attention (to_q, to_k, to_v, to_out), recording its maps
    softmax(QK^T/sqrt(d)) in one pass and using the recorded maps instead in the next."""

    def __init__(self, store: dict, name: str) -> None:
        self.store, self.name, self.replay = store, name, False

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        rows, frames, channels = hidden_states.shape
        split = lambda x: x.view(rows, frames, attn.heads, -1).transpose(1, 2)   # noqa: E731
        q, k, v = split(attn.to_q(hidden_states)), split(attn.to_k(hidden_states)), split(attn.to_v(hidden_states))
        if self.replay:
            maps = self.store[self.name]
        else:
            maps = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1)
            self.store[self.name] = maps
        out = attn.to_out[1](attn.to_out[0]((maps @ v).transpose(1, 2).reshape(rows, frames, channels)))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


class HeldOut(HeldOutLoss):
    """trackgo-heldout's measurement, plus the oracle: the frozen base with its temporal maps
    replaced by the ones it computes on the nearly clean clip (sigma 0.1, the same noise)."""

    @torch.no_grad()
    def base(self, oracle: bool = False) -> list[float]:
        if not oracle:
            return super().base()
        from server.trackgo.adapter import temporal_attention_layers

        with self.frozen_svd() as unet:
            layers = temporal_attention_layers(unet)
            saved = {name: attn.processor for name, attn, _ in layers}
            store: dict = {}
            oracles = {name: OracleAttention(store, name) for name, _, _ in layers}
            try:
                for name, attn, _ in layers:
                    attn.set_processor(oracles[name])
                out, batch = [], self.parts[0][0]                # one chunk: all held-out clips
                l_mse = lambda inputs: self.trainer.losses(inputs, batch, mse_only=True)["l_mse"].item()  # noqa: E731
                for k, sigma in enumerate(self.sigmas):
                    for o in oracles.values():
                        o.replay = False
                    l_mse(self.at(ORACLE_SIGMA, k))              # records the maps
                    for o in oracles.values():
                        o.replay = True
                    out.append(l_mse(self.at(sigma, k)))
                return out
            finally:
                for name, attn, _ in layers:
                    attn.set_processor(saved[name])


# ------------------------------------------------------------------------------ 3. adapter training
def make_trainer(svd_dir, data_dir, out_dir, lam, steps, heldout: int, lr, svd_lr, batch, blank: bool = False,
                 temporal: bool = True, temporal_lr: float = 1e-3, schedule: str = "constant"):
    from accelerate.state import AcceleratorState, GradientState, PartialState

    from server.training import config as cfgmod
    from server.training import train
    from server.training.dataset import StepOrder

    AcceleratorState._reset_state(True), GradientState._reset_state(), PartialState._reset_state()
    cfg = cfgmod.load(cfgmod.CONFIG_DIR / "tiny.toml", [
        f"model.svd={svd_dir}", f"data.dataset={data_dir}", "data.cache_latents=true", f"train.steps={steps}",
        f"train.batch_size={batch}", f"train.lambda_attn={lam}", f"train.learning_rate={lr}",
        f"train.svd_query_key_learning_rate={svd_lr}", f"train.checkpoint_every={steps}", "train.log_every=1000",
        f"train.blank_trajectories={str(blank).lower()}", f"model.tune_svd_temporal={str(temporal).lower()}",
        f"train.svd_temporal_learning_rate={temporal_lr}", f"train.lr_schedule={schedule}"])
    trainer = train.Trainer(cfg, out_dir, log=lambda s: None)
    # the held-out clips are the dataset's last ones; training draws from the others only
    trainer.order = StepOrder(len(trainer.dataset) - heldout, cfg.train.batch_size, cfg.train.seed)
    return trainer


def train_adapter(trainer, held, base: list[float], every: int, log, name: str):
    steps = trainer.config.train.steps
    vs_base = lambda losses: float(np.mean(losses) / np.mean(base))   # noqa: E731
    curve = [(0, held.adapter())]
    log(f"{name} step 0: held-out ratio {vs_base(curve[0][1]):.4f}")
    batches = trainer.batches(0)
    while trainer.step < steps:
        terms = trainer.train_step(batches)
        if trainer.step % every == 0 or trainer.step == steps:
            curve.append((trainer.step, held.adapter()))
            log(f"{name} step {trainer.step}: loss {terms['loss']:.4f}, held-out ratio {vs_base(curve[-1][1]):.4f} "
                f"(per sigma {', '.join(f'{a / b:.3f}' for a, b in zip(curve[-1][1], base))})")
    reached = next((s for s, losses in curve if vs_base(losses) <= TARGET), None)
    return curve, reached


# ------------------------------------------------------------------------------ 3b. control: the UNet trained too
def tune_whole_unet(trainer, lr: float) -> None:
    """Train every weight of the UNet along with the adapter, at ``lr`` (a diagnostic; the
    ``paper`` config trains copies of SVD's temporal layers only). Answers whether the
    trajectories carry motion through A' at all when the model may learn to read it; compared
    with the frozen base it also credits the base's own further fitting, hence the blank-P twin."""
    if trainer.adapter.temporal is not None:
        raise ValueError("tune_whole_unet: the trainer already tunes temporal copies (make it with temporal=False)")
    unet = trainer.pipe.unet
    unet.requires_grad_(True)
    trainer.train_also("unet", list(unet.parameters()), lr)


def run_tuned_unet(phase: dict, base: list[float], blank: bool, verbose: bool) -> dict:
    torch.set_num_threads(1)
    args, name = phase["args"], "tuned_unet_blank" if blank else "tuned_unet"
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if verbose else (lambda s: None)
    # blank: every P black in its steps and in its held-out L_mse (train.blank_trajectories)
    trainer, held = phase_trainer(0.0, name, phase, steps=args.tuned_unet_steps, blank=blank, temporal=False)
    tune_whole_unet(trainer, args.unet_lr)
    curve, _ = train_adapter(trainer, held, base, args.every, log, name)
    return {"curve": curve, "cpu_seconds": time.process_time()}


def ratio(losses: list[float], reference: list[float]) -> float:
    """Mean held-out L_mse over the sigmas of one measurement, divided by another's (4 digits)."""
    return round(float(np.mean(losses) / np.mean(reference)), 4)


def ratio_curve(curve: list, reference) -> str:
    """``step:ratio`` at every evaluation; ``reference`` is a fixed measurement (the base) or a
    second curve evaluated at the same steps (the black-P twin)."""
    refs = [r for _, r in reference] if isinstance(reference[0], tuple) else [reference] * len(curve)
    return ",".join(f"{s}:{np.mean(v) / np.mean(r):.4f}" for (s, v), r in zip(curve, refs))


def tuned_unet_report(runs: dict, base: list[float]) -> dict:
    """Final ratios to the frozen base, and trajectories / blank P at every evaluation."""
    real, blank = runs["tuned_unet"]["curve"], runs["tuned_unet_blank"]["curve"]
    return {
        "tuned_unet_vs_base_mse": ratio(real[-1][1], base),
        "tuned_unet_blank_vs_base_mse": ratio(blank[-1][1], base),
        "tuned_unet_trajectories_vs_blank": ratio(real[-1][1], blank[-1][1]),
        "tuned_unet_vs_base_per_sigma": ",".join(f"{a / b:.3f}" for a, b in zip(real[-1][1], base)),
        "tuned_unet_blank_vs_base_per_sigma": ",".join(f"{a / b:.3f}" for a, b in zip(blank[-1][1], base)),
        "tuned_unet_trajectories_vs_blank_curve": ratio_curve(real, blank),
    }


# ------------------------------------------------------------------------------ 4. ObjMC
def objmc_of(pipe, clips, adapter=None, steps=8, seed=0) -> np.ndarray:
    """ObjMC of each clip's generated video (px, mean over its tracks and frames), one seed."""
    from PIL import Image

    from server.evaluation.objmc import objmc_for_video

    errors = []
    for clip in clips:
        image = Image.fromarray(clip["frames"][0])
        if adapter is not None:
            frames = pipe.generate(image, clip["points"], height=SIZE, width=SIZE, num_inference_steps=steps,
                                   seed=seed, decode_chunk_size=FRAMES).frames
        else:
            frames = pipe(image, height=SIZE, width=SIZE, num_frames=FRAMES, num_inference_steps=steps,
                          decode_chunk_size=FRAMES, output_type="np",
                          generator=torch.Generator().manual_seed(seed)).frames[0]
            frames = (frames * 255).round().clip(0, 255).astype(np.uint8)
        errors.append(objmc_for_video(list(frames), clip["masks"], displacements=clip["displacements"]).errors.mean())
    return np.array(errors)


def paired_difference(adapter: np.ndarray, base: np.ndarray, rounds: int = 2000) -> dict:
    """adapter - base over paired generations (same clip, same seed): the mean, a bootstrap 95 %
    interval of it (seeded), and how many pairs the adapter wins. One seed's 16 clips swung the
    means by more than their difference, so a single pair of means ranks nothing."""
    diff = np.asarray(adapter, float) - np.asarray(base, float)
    rng = np.random.default_rng(0)
    means = diff[rng.integers(len(diff), size=(rounds, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"objmc_adapter_minus_base_px": round(float(diff.mean()), 3),
            "objmc_adapter_minus_base_ci95": f"{low:.3f},{high:.3f}",
            "objmc_adapter_wins": f"{int((diff < 0).sum())}/{len(diff)}"}


def objmc_references(vae, clips) -> dict:
    """What ObjMC reads on clips that are not generated: the real clips through the VAE (the floor
    a perfect latent video reaches after decoding) and frame 0 held still (no motion at all)."""
    from server.evaluation.objmc import objmc_for_video, objmc_over_videos

    roundtrip, still = [], []
    with torch.no_grad():
        for clip in clips:
            x = model_range(torch.from_numpy(clip["frames"]).permute(0, 3, 1, 2))
            y = vae.decode(vae.encode(x).latent_dist.mode(), num_frames=len(x)).sample
            rgb = ((y.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
            roundtrip.append(objmc_for_video(list(rgb), clip["masks"], displacements=clip["displacements"]))
            still.append(objmc_for_video([clip["frames"][0]] * len(x), clip["masks"],
                                         displacements=clip["displacements"]))
    return {"objmc_vae_roundtrip_px": round(objmc_over_videos(roundtrip), 3),
            "objmc_still_px": round(objmc_over_videos(still), 3)}


def phase_trainer(lam: float, name: str, phase: dict, steps: int | None = None, blank: bool = False,
                  temporal: bool | None = None):
    args = phase["args"]
    temporal = not args.frozen_svd if temporal is None else temporal
    trainer = make_trainer(phase["svd_dir"], phase["data_dir"], phase["folder"] / f"run-{name}-{time.time_ns()}",
                           lam, steps or args.adapter_steps, args.heldout, args.lr, args.svd_lr, args.batch, blank,
                           temporal, args.svd_temporal_lr, args.lr_schedule)
    held = HeldOut(trainer, list(range(len(trainer.dataset) - args.heldout, len(trainer.dataset))),
                   phase["sigmas"])
    return trainer, held


def run_side(phase: dict, base: list[float], verbose: bool, name: str) -> dict:
    """A run beside the main one (forked): ``without_attn`` (lambda = 0) or ``blank`` (the
    main run's settings on black P: what the same training is worth without the trajectories)."""
    torch.set_num_threads(1)
    log = (lambda s: print(s, file=sys.stderr, flush=True)) if verbose else (lambda s: None)
    lam = 0.0 if name == "without_attn" else LAMBDA_ATTN
    trainer, held = phase_trainer(lam, name, phase, blank=name == "blank")
    curve, reached = train_adapter(trainer, held, base, phase["args"].every, log, name)
    return {"curve": curve, "steps_to_target": reached, "cpu_seconds": time.process_time()}


def _key(values: list) -> str:
    return hashlib.sha1(json.dumps(values).encode()).hexdigest()[:12]


def main(argv=None) -> dict:
    from server.training.noise import EDMSchedule

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=144, help="the dataset on disk: the adapter's clips + the held-out ones")
    p.add_argument("--base-clips", type=int, default=2000, help="fresh clips the base is fitted on")
    p.add_argument("--heldout", type=int, default=16)
    p.add_argument("--vae-steps", type=int, default=100)
    p.add_argument("--unet-steps", type=int, default=1500)
    p.add_argument("--adapter-steps", type=int, default=400)
    p.add_argument("--every", type=int, default=25)
    p.add_argument("--objmc-clips", type=int, default=16, help="held-out clips generated for ObjMC")
    p.add_argument("--objmc-steps", type=int, default=8, help="denoising steps of the generated clips")
    p.add_argument("--objmc-seeds", type=int, default=3, help="generations per held-out clip (seeds 0..N-1)")
    p.add_argument("--vae-decoder-steps", type=int, default=500,
                   help="further steps fitting the VAE's decoder alone (encoder frozen) to decode for ObjMC")
    p.add_argument("--batch", type=int, default=8, help="the adapter's global batch")
    p.add_argument("--lr", type=float, default=3e-3, help="the adapter's learning rate")
    p.add_argument("--svd-lr", type=float, default=1e-3, help="the fine-tuned SVD W_q/W_k's learning rate")
    p.add_argument("--svd-temporal-lr", type=float, default=1e-3, help="the tuned SVD temporal layers' learning rate")
    p.add_argument("--lr-schedule", default="cosine", choices=("constant", "cosine", "linear"),
                   help="train.lr_schedule of every run (cosine: the last steps settle instead of jumping)")
    p.add_argument("--frozen-svd", action="store_true",
                   help="keep SVD's temporal layers frozen (model.tune_svd_temporal=false): adapter + W_q/W_k only")
    p.add_argument("--tuned-unet-control", action="store_true",
                   help="also train adapter + the whole UNet, with the clips' P and with black P (diagnostic)")
    p.add_argument("--tuned-unet-steps", type=int, default=150)
    p.add_argument("--unet-lr", type=float, default=3e-4, help="the whole UNet's learning rate in that control")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "trackgo-training-curve")
    p.add_argument("--save-adapter", type=Path, default=None,
                   help="save the trained adapter (the run with L_attn) here, to generate with it later")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    started, cpu_started, load_start = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    from server.training import config as cfgmod

    noise = cfgmod.load(cfgmod.CONFIG_DIR / "tiny.toml").noise              # the training sigma distribution
    edm = EDMSchedule(noise.p_mean, noise.p_std)
    task = [SIZE, FRAMES, SHAPES, SHAPE, SPEED, VERSION]
    base_key = _key([args.base_clips, args.vae_steps, noise.p_mean, noise.p_std] + task)
    base_folder = args.cache / f"base-{base_key}"
    folder = args.cache / f"data-{_key([args.clips, args.heldout] + task)}"
    data_dir = folder / "data"
    if not (data_dir / "manifest.json").is_file():
        clips = write_dataset(data_dir, args.clips, seed=0)
        np.save(folder / "clips.npy", np.array(clips, dtype=object), allow_pickle=True)
    clips = list(np.load(folder / "clips.npy", allow_pickle=True))
    if not (base_folder / f"svd-unet{args.unet_steps}" / "model_index.json").is_file():
        base_folder.mkdir(parents=True, exist_ok=True)
        video = base_video(args.base_clips, BASE_SEED)
    else:
        video = None
    svd_dir = fit_base(base_folder, video, args.vae_steps, args.unet_steps, edm, log)
    decoder_vae = fit_decoder(base_folder, svd_dir, video, args.base_clips, args.vae_decoder_steps, log)
    del video
    log(f"base ready after {time.perf_counter() - started:.0f} s")
    sigmas = heldout_sigmas(noise.p_mean, noise.p_std, SIGMA_QUANTILES)
    results, trainers = {}, {}
    base = oracle = None
    phase = dict(svd_dir=svd_dir, data_dir=data_dir, folder=folder, args=args, sigmas=sigmas)
    trainer, held = phase_trainer(LAMBDA_ATTN, "with_attn", phase)
    base, oracle = held.base(), held.base(oracle=True)
    log(f"held-out base L_mse per sigma {[round(b, 4) for b in base]}; "
        f"oracle ratio {np.mean(oracle) / np.mean(base):.4f}")
    # the run without L_attn and the black-P twin in other processes (forked: same base, same
    # held-out set), so the three runs share the machine's cores
    with multiprocessing.get_context("fork").Pool(2) as pool:
        others = {name: pool.apply_async(run_side, (phase, base, not args.quiet, name))
                  for name in ("without_attn", "blank")}
        curve, reached = train_adapter(trainer, held, base, args.every, log, "with_attn")
        results["with_attn"] = {"curve": curve, "steps_to_target": reached}
        results.update({name: job.get() for name, job in others.items()})
    trainers["with_attn"] = trainer
    tuned = {}
    if args.tuned_unet_control:                  # both twins at once, one core each (forked after the runs above)
        with multiprocessing.get_context("fork").Pool(2) as pool:
            jobs = {name: pool.apply_async(run_tuned_unet, (phase, base, name.endswith("blank"), not args.quiet))
                    for name in ("tuned_unet", "tuned_unet_blank")}
            tuned = {name: job.get() for name, job in jobs.items()}
    trained = trainers["with_attn"]
    heldout = clips[-args.heldout:][:args.objmc_clips]
    for offset, clip in enumerate(heldout):
        clip["points"] = trained.dataset[len(trained.dataset) - args.heldout + offset].trajectories.numpy()
    from server.trackgo.pipeline import TrackGoPipeline

    pipe = TrackGoPipeline.from_pretrained(svd_dir, vae=decoder_vae, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    references = objmc_references(decoder_vae, heldout)
    seeds = range(args.objmc_seeds)
    objmc_base = np.concatenate([objmc_of(pipe, heldout, steps=args.objmc_steps, seed=s) for s in seeds])
    adapter = trained.adapter.eval().requires_grad_(False)
    if args.save_adapter:
        adapter.save_pretrained(args.save_adapter)
    adapter.remove(trained.pipe.unet)
    pipe.attach_adapter(adapter)
    objmc_adapter = np.concatenate([objmc_of(pipe, heldout, adapter, steps=args.objmc_steps, seed=s)
                                    for s in seeds])
    final = {name: results[name]["curve"][-1][1] for name in results}
    report = {
        "adapter_vs_base_mse": ratio(final["with_attn"], base),
        "objmc_base_px": round(float(objmc_base.mean()), 3),
        "objmc_adapter_px": round(float(objmc_adapter.mean()), 3),
        **paired_difference(objmc_adapter, objmc_base),
        **references,
        "objmc_steps": args.objmc_steps,
        "objmc_seeds": args.objmc_seeds,
        "steps_to_target_with_attn": results["with_attn"]["steps_to_target"],
        "steps_to_target_without_attn": results["without_attn"]["steps_to_target"],
        "adapter_vs_base_mse_without_attn": ratio(final["without_attn"], base),
        "blank_vs_base_mse": ratio(final["blank"], base),
        "trajectories_vs_blank_mse": ratio(final["with_attn"], final["blank"]),
        "trajectories_vs_blank_curve": ratio_curve(results["with_attn"]["curve"], results["blank"]["curve"]),
        "oracle_vs_base_mse": ratio(oracle, base),
        "heldout_sigmas": ",".join(f"{s:.3g}" for s in sigmas),
        "base_mse_per_sigma": ",".join(f"{b:.4f}" for b in base),
        "adapter_vs_base_per_sigma": ",".join(f"{a / b:.3f}" for a, b in zip(final["with_attn"], base)),
        "adapter_vs_base_per_sigma_without_attn": ",".join(f"{a / b:.3f}" for a, b in zip(final["without_attn"], base)),
        "oracle_vs_base_per_sigma": ",".join(f"{a / b:.3f}" for a, b in zip(oracle, base)),
        "curve_with_attn": ratio_curve(results["with_attn"]["curve"], base),
        "curve_without_attn": ratio_curve(results["without_attn"]["curve"], base),
        "moving_pixels_share": round(moving_pixels_share(clips), 3),
        "adapter_steps": args.adapter_steps,
        "batch": args.batch,
        "svd_temporal_trained": not args.frozen_svd,
        "learning_rates": f"{args.lr:g}/{args.svd_lr:g}" + ("" if args.frozen_svd else f"/{args.svd_temporal_lr:g}"),
        "lr_schedule": args.lr_schedule,
        "cpu_seconds": round(time.process_time() - cpu_started
                             + sum(results[n]["cpu_seconds"] for n in ("without_attn", "blank")), 1),
        "seconds": round(time.perf_counter() - started, 1),
        "load_avg_1min": f"{load_start:.1f}->{os.getloadavg()[0]:.1f}",
    }
    if tuned:
        report.update(tuned_unet_report(tuned, base))
        report["cpu_seconds"] = round(report["cpu_seconds"] + sum(r["cpu_seconds"] for r in tuned.values()), 1)
    for k, v in report.items():
        print(f"{k}={v}")
    return report


if __name__ == "__main__":
    main()
