"""``trackgo-train``: train the TrackAdapter (and copies of SVD's temporal layers) on a prepared dataset.

One process: ``trackgo-train --config cfg.toml --output runs/x``. Several GPUs or nodes:
``accelerate launch [--multi_gpu --num_processes N ...] -m server.training.train ...`` (accelerate
does the launching; this file never spawns processes). ``train.batch_size`` is the *global*
batch; each process takes its share of every step's items (``dataset.StepOrder``) and every
sample's noise comes from a generator seeded by (seed, step, position in the global batch), so
the run is the same whatever the process count, and a resumed run continues exactly.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
import zlib
from pathlib import Path

import torch
from torch import nn

from server.training import config as cfgmod
from server.training.dataset import StepOrder, TrackDataset, collate
from server.training.losses import attention_loss, denoising_loss
from server.training.noise import EDMSchedule

CHECKPOINTS = "checkpoints"
FINAL_ADAPTER = "adapter"


class AdapterTrainingModule(nn.Module):
    """What accelerate wraps (and DDP syncs): the trained weights only. The frozen UNet is held
    outside the module tree so it is neither synchronised nor written into checkpoints."""

    def __init__(self, adapter: nn.Module, unet: nn.Module, alpha: float) -> None:
        super().__init__()
        self.adapter = adapter
        # the tuned copies of SVD's temporal layers (model.tune_svd_temporal) are trained too: in
        # the tree, so DDP syncs them and accelerate's checkpoints hold them
        self.temporal = adapter.temporal
        self.alpha = alpha
        self.frozen = {"unet": unet}

    def forward(self, unet_input, timestep, image_embeds, added_time_ids, trajectories,
                want_maps: bool = True):
        """UNet output F and the original branch's A_q(i, i) of every temporal layer (an empty
        list when ``want_maps`` is False: the layers then stay on fused attention)."""
        unet = self.frozen["unet"]
        with self.adapter.condition(trajectories=trajectories, alpha=self.alpha, cache=False):
            if not want_maps:
                return unet(unet_input, timestep, encoder_hidden_states=image_embeds,
                            added_time_ids=added_time_ids, return_dict=False)[0], []
            with self.adapter.capture_attention() as capture:
                out = unet(unet_input, timestep, encoder_hidden_states=image_embeds,
                           added_time_ids=added_time_ids, return_dict=False)[0]
        return out, [record.diagonal for record in capture.records]


class LaunchError(RuntimeError):
    """The processes that were started are not the ones that were asked for."""


def sample_generator(seed: int, step: int, position: int) -> torch.Generator:
    """The noise of one sample depends only on (seed, step, its place in the global batch)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 4099 + position)


class Trainer:
    def __init__(self, config: cfgmod.Config, output: Path, log=print) -> None:
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        self.config, self.output, self.log = config, Path(output), log
        t = config.train
        # cpu=True on machines without CUDA: without it accelerate quietly runs every launched
        # process as its own single-process job instead of one gloo group.
        self.accelerator = Accelerator(mixed_precision=t.mixed_precision,
                                       cpu=not torch.cuda.is_available())
        acc = self.accelerator
        launched = int(os.environ.get("WORLD_SIZE", "1"))
        if launched != acc.num_processes:
            raise LaunchError(f"accelerate: launched {launched} processes but the run sees "
                               f"{acc.num_processes}; check the accelerate config")
        share = acc.num_processes * t.gradient_accumulation_steps
        if t.batch_size % share:
            raise cfgmod.ConfigError(
                f"train.batch_size: {t.batch_size} does not split over {acc.num_processes} "
                f"process(es) x {t.gradient_accumulation_steps} accumulation step(s)")
        self.micro_batch = t.batch_size // share
        set_seed(t.seed)
        self.edm = EDMSchedule(config.noise.p_mean, config.noise.p_std)
        # Inputs are checked first: a wrong path must not cost a full SVD load per process.
        if not config.model.svd:
            raise cfgmod.ConfigError("model.svd: expected the path of a local SVD(-XT) diffusers "
                                     "folder (--set model.svd=PATH)")
        if not config.data.dataset:
            raise cfgmod.ConfigError("data.dataset: expected the path of a trackgo-prepare folder "
                                     "(--set data.dataset=PATH)")
        self.dataset = TrackDataset(config.data.dataset, config.data.frames,
                                    config.data.width, config.data.height)
        self.order = StepOrder(len(self.dataset), t.batch_size, t.seed)
        self.latent_cache: dict[str, torch.Tensor] = {}
        self._load_models()
        self.lr_scheduler = self._lr_scheduler()
        self.accelerator.register_for_checkpointing(self)   # state_dict below: saved and restored with the state
        self.step = 0

    # ------------------------------------------------------------------ models
    def _load_models(self) -> None:
        from diffusers import StableVideoDiffusionPipeline

        from server.trackgo import TrackAdapter, freeze
        from server.trackgo.checkpointing import checkpoint_temporal_blocks
        from server.trackgo.loading import _variant, check_svd_folder, load_adapter

        c, acc = self.config, self.accelerator
        weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(
            c.train.mixed_precision, torch.float32)
        folder = check_svd_folder(c.model.svd)
        # Released SVD folders may hold only fp16 variants; the server's loader picks the same.
        pipe = StableVideoDiffusionPipeline.from_pretrained(
            folder, local_files_only=True, variant=_variant(folder, weight_dtype))
        for part in (pipe.unet, pipe.vae, pipe.image_encoder):
            freeze(part).to(acc.device, dtype=weight_dtype)
        pipe.vae.eval(), pipe.image_encoder.eval()
        if c.train.gradient_checkpointing:
            pipe.unet.enable_gradient_checkpointing()
            pipe.unet.train()          # diffusers checkpoints only in training mode
        else:
            pipe.unet.eval()
        self.pipe, self.weight_dtype = pipe, weight_dtype
        unet = pipe.unet.float()      # trained copies are made from (and kept in) float32
        if c.model.adapter:
            adapter = load_adapter(c.model.adapter)
            if c.model.tune_svd_query_key:
                adapter.enable_base_query_key(unet)
        else:
            adapter = TrackAdapter.from_unet(unet, condition_channels=c.model.condition_channels,
                                             tune_base_query_key=c.model.tune_svd_query_key)
        if c.model.tune_svd_temporal:
            adapter.tune_temporal(unet, trainable=True)
        elif adapter.has_temporal_weights:
            raise cfgmod.ConfigError(
                f"model.tune_svd_temporal: false, but model.adapter {c.model.adapter} holds tuned SVD "
                "temporal layers; training the adapter against other temporal weights than it was "
                "trained with would not continue that run (set it to true)")
        pipe.unet.to(weight_dtype)
        adapter.install(pipe.unet)
        if c.train.gradient_checkpointing:
            # diffusers leaves SVD's temporal blocks (where the adapter works) out of its
            # checkpointing; at full size they held most of a step's memory (docs/benchmarks.md)
            checkpoint_temporal_blocks(pipe.unet)
        adapter.requires_grad_(True).train()
        module = AdapterTrainingModule(adapter, pipe.unet, c.model.alpha)
        self.adapter = adapter
        self.module, self.optimizer = acc.prepare(module, self._optimizer())

    def _optimizer(self) -> torch.optim.Optimizer:
        """AdamW over up to three groups: the adapter proper at train.learning_rate and, when the
        config tunes them, the copies of SVD's temporal W_q / W_k and of its temporal layers, each
        at its own learning rate."""
        t = self.config.train
        groups = self.adapter.parameter_groups()
        tuned = groups.pop("svd_query_key", [])
        temporal = groups.pop("svd_temporal", [])
        if tuned and not self.config.model.tune_svd_query_key:
            for p in tuned:                       # an adapter that has them, trained without them
                p.requires_grad_(False)
            tuned = []
        param_groups = [{"params": [p for ps in groups.values() for p in ps], "lr": t.learning_rate,
                         "name": "adapter"}]
        if tuned:
            param_groups.append({"params": tuned, "lr": t.svd_query_key_learning_rate,
                                 "name": "svd_query_key"})
        if temporal:
            param_groups.append({"params": temporal, "lr": t.svd_temporal_learning_rate,
                                 "name": "svd_temporal"})
        return torch.optim.AdamW(param_groups, betas=(t.adam_beta1, t.adam_beta2), eps=t.adam_epsilon,
                                 weight_decay=t.weight_decay)

    def _lr_scheduler(self):
        """train.lr_schedule over train.steps (stepped once per optimiser step, whatever the
        process count: not through accelerate, whose wrapper steps it once per process)."""
        from diffusers.optimization import get_scheduler

        t = self.config.train
        name = "constant_with_warmup" if t.lr_schedule == "constant" and t.lr_warmup_steps else t.lr_schedule
        return get_scheduler(name, self.optimizer.optimizer, num_warmup_steps=t.lr_warmup_steps,
                             num_training_steps=t.steps)

    def train_also(self, name: str, params: list[nn.Parameter], lr: float) -> None:
        """Train ``params`` too, as AdamW group ``name`` at ``lr`` (a diagnostic that tunes more of
        the UNet); the learning-rate schedule is rebuilt over every group, the new one included."""
        self.optimizer.optimizer.add_param_group({"params": params, "lr": lr, "name": name})
        self.lr_scheduler = self._lr_scheduler()

    def state_dict(self) -> dict:
        """What accelerate's checkpoints hold of the trainer beyond the module and the optimiser:
        the schedule's position (through the trainer, so a rebuilt schedule is the one saved)."""
        return {"lr_scheduler": self.lr_scheduler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.lr_scheduler.load_state_dict(state["lr_scheduler"])

    def configured_learning_rates(self) -> dict[str, float]:
        t = self.config.train
        return {"adapter": t.learning_rate, "svd_query_key": t.svd_query_key_learning_rate,
                "svd_temporal": t.svd_temporal_learning_rate}

    # ------------------------------------------------------------------ one step
    @torch.no_grad()
    def _conditioning(self, batch: dict, gens: list[torch.Generator]):
        from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
            _resize_with_antialiasing,
        )

        pipe, dev, dt = self.pipe, self.accelerator.device, self.weight_dtype
        cond = self.config.conditioning
        frames = batch["frames"]                                   # (b, L, 3, H, W) in [-1, 1]
        b, length = frames.shape[:2]
        scaling = pipe.vae.config.scaling_factor
        ids = batch.get("clip_ids") or [""] * b
        latents = torch.stack([self._posterior(frames[i], ids[i]).sample(gens[i]) * scaling
                               for i in range(b)]).float()         # (b, L, 4, h, w)
        first = frames[:, 0]
        clip_in = (_resize_with_antialiasing(first, (224, 224)) + 1.0) / 2.0
        image_embeds = pipe._encode_image(clip_in, dev, 1, False)
        noise = torch.stack([torch.randn(first.shape[1:], generator=g) for g in gens])
        image_latents = pipe._encode_vae_image(first + cond.noise_aug_strength * noise, dev, 1, False)
        image_latents = image_latents.unsqueeze(1).repeat(1, length, 1, 1, 1)
        added = pipe._get_add_time_ids(cond.fps - 1, cond.motion_bucket_id, cond.noise_aug_strength,
                                       image_embeds.dtype, b, 1, False).to(dev)
        return latents, image_embeds, image_latents, added

    def _posterior(self, frames: torch.Tensor, clip_id: str):
        """The VAE posterior of one clip's frames; kept per clip id with ``data.cache_latents``."""
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        cache = self.latent_cache if self.config.data.cache_latents and clip_id else None
        if cache is not None and clip_id in cache:
            return DiagonalGaussianDistribution(cache[clip_id])
        posterior = self.pipe.vae.encode(frames.to(self.accelerator.device, self.weight_dtype)).latent_dist
        if cache is not None:
            cache[clip_id] = posterior.parameters
        return posterior

    def _micro_step(self, batch: dict, positions: list[int]) -> dict[str, torch.Tensor]:
        """Losses of one micro-batch; ``positions`` are its samples' places in the global batch."""
        return self.losses(self.step_inputs(batch, positions), batch)

    def step_inputs(self, batch: dict, positions: list[int]) -> dict[str, torch.Tensor]:
        """Everything of one micro-batch that does not depend on trained weights: the target
        latents x0, sigma, the noisy latents and the UNet's conditioning (no gradient)."""
        dev = self.accelerator.device
        gens = [sample_generator(self.config.train.seed, self.step, p) for p in positions]
        latents, image_embeds, image_latents, added = self._conditioning(batch, gens)
        sigma = torch.stack([self.edm.sample_sigmas(1, g)[0] for g in gens]).to(dev)
        eps = torch.stack([torch.randn(latents.shape[1:], generator=g) for g in gens]).to(dev)
        clean = {"target": latents, "image_latents": image_latents.float(), "image_embeds": image_embeds,
                 "added_time_ids": added}
        return self.noised(clean, sigma, eps)

    def noised(self, inputs: dict[str, torch.Tensor], sigma: torch.Tensor, eps: torch.Tensor) -> dict:
        """``inputs`` (from ``step_inputs``) with x0 noised to ``sigma`` (B,) by ``eps``: x_sigma =
        x0 + sigma * eps and the UNet input [c_in(sigma) x_sigma, image latents]. Also how a
        held-out set or a test puts fixed inputs at the sigma and noise it chooses."""
        s = sigma.reshape(-1, 1, 1, 1, 1)
        noisy = inputs["target"] + s * eps
        unet_input = torch.cat([self.edm.c_in(s) * noisy, inputs["image_latents"]], dim=2)
        return dict(inputs, sigma=sigma, noisy=noisy, unet_input=unet_input)

    def losses(self, inputs: dict[str, torch.Tensor], batch: dict, mse_only: bool = False) -> dict[str, torch.Tensor]:
        """L = L_mse + lambda * L_attn (Eqs. 7-9) for ``step_inputs`` and the batch's P and masks.
        With ``train.blank_trajectories`` every P is black (f = 0, A' uniform): the twin that says
        what the same training is worth without the trajectories. ``mse_only`` skips L_attn (no
        maps built; also what works with the adapter removed, when there are no maps)."""
        dev = self.accelerator.device
        sigma, noisy = inputs["sigma"], inputs["noisy"]
        lam = 0.0 if mse_only else self.config.train.lambda_attn
        trajectories = batch["trajectories"].to(dev)
        if self.config.train.blank_trajectories:
            trajectories = torch.zeros_like(trajectories)
        with self.accelerator.autocast():
            out, diagonals = self.module(inputs["unet_input"].to(self.weight_dtype), self.edm.c_noise(sigma),
                                         inputs["image_embeds"], inputs["added_time_ids"],
                                         trajectories, want_maps=lam > 0)
        denoised = self.edm.denoise(out.float(), noisy, sigma)
        l_mse = denoising_loss(denoised, inputs["target"], self.edm.loss_weight(sigma))
        # lambda = 0 (the paper's "w/o Attn Loss" ablation) builds no maps at all.
        l_attn = attention_loss(diagonals, batch["masks"].to(dev)) if lam > 0 else l_mse.new_zeros(())
        loss = l_mse + lam * l_attn
        return {"loss": loss, "l_mse": l_mse, "l_attn": l_attn}

    def micro_positions(self, m: int) -> list[int]:
        """Places in the global batch of this process's m-th micro-batch."""
        acc = self.accelerator
        start = (m * acc.num_processes + acc.process_index) * self.micro_batch
        return list(range(start, start + self.micro_batch))

    def batches(self, start: int):
        """This process's micro-batches from step ``start`` on, loaded by DataLoader workers in
        exactly the order ``train_step`` consumes them."""
        t = self.config.train
        plan = [[self.order.items(step)[p] for p in self.micro_positions(m)]
                for step in range(start, t.steps) for m in range(t.gradient_accumulation_steps)]
        workers = self.config.data.num_workers
        return iter(torch.utils.data.DataLoader(self.dataset, batch_sampler=plan, collate_fn=collate,
                                                num_workers=workers, persistent_workers=False,
                                                prefetch_factor=2 if workers else None))

    def train_step(self, batches=None) -> dict[str, float]:
        """One optimiser step over the global batch of ``self.step``. ``batches`` is the iterator
        from ``batches(self.step)``; without it the samples are read here."""
        acc, t = self.accelerator, self.config.train
        items = self.order.items(self.step)
        accum = t.gradient_accumulation_steps
        totals = {"loss": 0.0, "l_mse": 0.0, "l_attn": 0.0}
        for m in range(accum):
            positions = self.micro_positions(m)
            batch = (next(batches) if batches is not None
                     else collate([self.dataset[items[p]] for p in positions]))
            sync = acc.no_sync(self.module) if m < accum - 1 else _null()
            with sync:
                terms = self._micro_step(batch, positions)
                acc.backward(terms["loss"] / accum)
            for k in totals:
                totals[k] += terms[k].detach().float() / accum
        if t.max_grad_norm > 0:
            acc.clip_grad_norm_(self.module.parameters(), t.max_grad_norm)
        lr = self.optimizer.param_groups[0]["lr"]            # the adapter's rate of this step
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        means = {k: acc.reduce(torch.as_tensor(v, device=acc.device), "mean").item()
                 for k, v in totals.items()}
        means["lr"] = lr
        return means

    def last_checkpoint_step(self) -> int | None:
        found = latest_checkpoint(self.output)
        return json.loads((found / "trainer.json").read_text())["step"] if found else None

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        acc = self.accelerator
        folder = self.output / CHECKPOINTS / f"step-{self.step:06d}"
        acc.save_state(str(folder / "state"))
        if acc.is_main_process:
            self.adapter.save_pretrained(folder / FINAL_ADAPTER)
            (folder / "trainer.json").write_text(json.dumps({"step": self.step,
                                                             "order": self.order_settings()}))
        acc.wait_for_everyone()
        return folder

    def order_settings(self) -> dict:
        """What decides each step's samples, noise and trajectories, and which weights train; a resume
        must keep all of it."""
        ids = ",".join(r.clip_id for r in self.dataset.records)
        return {"train.batch_size": self.config.train.batch_size, "train.seed": self.config.train.seed,
                "train.blank_trajectories": self.config.train.blank_trajectories,
                "model.tune_svd_temporal": self.config.model.tune_svd_temporal,
                "data.dataset clips": len(self.dataset.records),
                "data.dataset clip ids (crc32)": zlib.crc32(ids.encode())}

    def resume(self, which: str) -> None:
        folder = latest_checkpoint(self.output) if which == "latest" else Path(which)
        if folder is None:
            self.log("resume: no checkpoint yet; starting from step 0")
            return
        meta = folder / "trainer.json"
        if not meta.is_file():
            raise FileNotFoundError(f"resume: {meta} not found: not a trackgo-train checkpoint")
        saved = json.loads(meta.read_text())
        changed = [f"{k}: {v} at the checkpoint, {self.order_settings().get(k)} now"
                   for k, v in saved.get("order", {}).items() if self.order_settings().get(k) != v]
        if changed:
            raise ValueError(f"resume: {folder} would not continue exactly ({'; '.join(changed)}); "
                             "use the checkpoint's values or a new --output")
        try:
            self.accelerator.load_state(str(folder / "state"))
        except (RuntimeError, KeyError) as exc:      # a state of other trained weights or an older trainer
            raise ValueError(f"resume: {folder} does not match this run's trained weights or trainer "
                             f"(written with other model.* settings or by an earlier version: "
                             f"{str(exc).splitlines()[0]}); start from its weights with "
                             f"--set model.adapter={folder / FINAL_ADAPTER} and a new --output") from exc
        # The optimiser and schedule state restore the checkpoint's learning rates; the config's
        # are applied (a changed learning rate is a deliberate choice, e.g. lowering it for the
        # last steps), and the schedule goes on from the saved step at the new rates.
        wanted, sched = self.configured_learning_rates(), self.lr_scheduler
        for i, group in enumerate(self.optimizer.param_groups):
            name = group.get("name", "adapter")
            if sched.base_lrs[i] != wanted[name]:
                self.log(f"resume: {name} learning rate {sched.base_lrs[i]:g} at the checkpoint, "
                         f"{wanted[name]:g} now: using {wanted[name]:g}")
                sched.base_lrs[i] = group["initial_lr"] = wanted[name]
            group["lr"] = sched.base_lrs[i] * sched.lr_lambdas[i](sched.last_epoch)
        self.step = saved["step"]
        self.log(f"resumed from {folder} at step {self.step}")

    # ------------------------------------------------------------------ loop
    def fit(self) -> Path:
        from tqdm import tqdm

        acc, t = self.accelerator, self.config.train
        self.output.mkdir(parents=True, exist_ok=True)
        if acc.is_main_process:
            (self.output / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2))
        bar = tqdm(total=t.steps, initial=self.step, disable=not acc.is_main_process,
                   desc="train", unit="step", file=sys.stderr, dynamic_ncols=True)
        log_path = self.output / "log.jsonl"
        batches = self.batches(self.step)
        try:
            while self.step < t.steps:
                terms = self.train_step(batches)
                bar.update(1)
                bar.set_postfix(loss=f"{terms['loss']:.4f}", mse=f"{terms['l_mse']:.4f}",
                                attn=f"{terms['l_attn']:.4f}", lr=f"{terms['lr']:.2e}")
                if not all(math.isfinite(v) for v in terms.values()):
                    raise FloatingPointError(f"step {self.step}: non-finite loss {terms}")
                if acc.is_main_process and (self.step % t.log_every == 0 or self.step == t.steps):
                    with log_path.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(dict(terms, step=self.step, time=time.time(),
                                                 processes=acc.num_processes)) + "\n")
                if self.step % t.checkpoint_every == 0 or self.step == t.steps:
                    self.save_checkpoint()
        finally:
            bar.close()                # also on Ctrl-C: the next line starts on its own line
        final = self.output / FINAL_ADAPTER
        if acc.is_main_process:
            self.adapter.save_pretrained(final)
        acc.wait_for_everyone()
        return final


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def latest_checkpoint(output: Path) -> Path | None:
    found = sorted((Path(output) / CHECKPOINTS).glob("step-*/trainer.json"))
    return found[-1].parent if found else None


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="trackgo-train", description=__doc__.split("\n")[0])
    cfgmod.add_config_arguments(p, "--set train.steps=100 --set model.svd=/models/svd-xt")
    p.add_argument("--output", type=Path, required=True, help="run folder (checkpoints, log, adapter)")
    p.add_argument("--resume", default=None, help="'latest' or a checkpoint folder")
    return p.parse_args(argv)


def check_launch(parent_cmdline: list[str] | None = None, environ=os.environ) -> None:
    """Refuse a launch that asked for several processes but started one.

    ``accelerate launch --cpu --num_processes N`` (accelerate 1.x) runs N CPU processes only
    through mpirun (``--mpirun_hostfile``); without it, it starts this script once, with nothing
    in the environment saying N was asked for. Only the launcher's command line tells."""
    if "WORLD_SIZE" in environ:
        return
    if parent_cmdline is None:
        try:
            import psutil

            parent_cmdline = psutil.Process(os.getppid()).cmdline()
        except Exception:                                  # no psutil / no such process: nothing to check
            return
    if not any("accelerate" in part for part in parent_cmdline) or "launch" not in " ".join(parent_cmdline):
        return
    asked = None
    for i, part in enumerate(parent_cmdline):
        if part in ("--num_processes", "--num-processes") and i + 1 < len(parent_cmdline):
            asked = parent_cmdline[i + 1]
        elif part.startswith(("--num_processes=", "--num-processes=")):
            asked = part.split("=", 1)[1]
    if asked is not None and asked.isdigit() and int(asked) > 1:
        raise LaunchError(
            f"accelerate launch asked for {asked} processes but started one (with --cpu accelerate "
            "needs mpirun and --mpirun_hostfile for that). On CPU use "
            f"`accelerate launch --multi_gpu --num_processes {asked} ...` (torchrun; the trainer asks "
            "for CPU itself), or drop --num_processes to train in one process")


def interrupted_message(trainer: "Trainer | None", argv: list[str]) -> str:
    """The one line Ctrl-C prints: where the run stands and the command that continues it."""
    if trainer is None:
        return "trackgo-train: interrupted before training started; nothing was saved"
    saved = trainer.last_checkpoint_step()
    if saved is None:
        return (f"trackgo-train: interrupted at step {trainer.step} before the first checkpoint "
                f"(train.checkpoint_every = {trainer.config.train.checkpoint_every}); nothing to resume from")
    kept, skip = [], False
    for part in argv:                                     # the same command, with --resume latest
        if skip:
            skip = False
        elif part == "--resume":
            skip = True
        elif not part.startswith("--resume="):
            kept.append(shlex.quote(part))
    return (f"trackgo-train: interrupted at step {trainer.step}; the last checkpoint is step {saved}; "
            f"resume with: trackgo-train {' '.join(kept)} --resume latest")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    trainer = None
    try:
        check_launch()
        config = cfgmod.load(args.config, args.overrides)
        trainer = Trainer(config, args.output, log=lambda s: print(s, file=sys.stderr))
        if args.resume:
            trainer.resume(args.resume)
        final = trainer.fit()
    except (cfgmod.ConfigError, FileNotFoundError, ValueError, LaunchError) as exc:
        print(f"trackgo-train: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted_message(trainer, argv), file=sys.stderr)
        return 130
    if trainer.accelerator.is_main_process:
        print(f"adapter written to {final}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
