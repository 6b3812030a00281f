"""``trackgo-heldout``: held-out L_mse of a trained adapter against the frozen SVD, at fixed noise levels.

    trackgo-heldout --config server/training/configs/paper.toml --set model.svd=/models/svd-xt \\
        --set model.adapter=run/adapter --set data.dataset=heldout/ --out heldout.json

Does training learn? The training loss cannot say (it mixes noise levels and clips seen before),
and its mean over the training distribution hides the high noise levels where the trajectories
matter. So the loss is measured on clips training never saw (``data.dataset``: a
``trackgo-prepare`` folder of held-out clips), at the (k + 1/2)/K quantiles of the training
log-normal (``noise.p_mean``, ``noise.p_std``; their mean is the training expectation,
stratified), with one fixed noise draw per sigma - the same for every adapter compared -, once
with the adapter and once with the frozen SVD (the adapter removed). Printed and written: L_mse per sigma
for both and ``adapter_vs_base_mse`` (their means divided). With
``--set train.blank_trajectories=true`` the adapter sees black P, as its black-P twin was
trained: compare the two twins' ``adapter`` losses (docs/training.md).
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from statistics import NormalDist

import torch

from server.training import config as cfgmod
from server.training.dataset import collate

HELDOUT_STEP = 10_000          # whose noise draws the held-out inputs (seed, this step, position): any
                               # fixed number does, the held-out clips are never trained on
DEFAULT_SIGMAS = 6


def heldout_sigmas(p_mean: float, p_std: float, k: int = DEFAULT_SIGMAS) -> list[float]:
    """The (i + 1/2)/k quantiles of the training log-normal of sigma."""
    if k < 1:
        raise ValueError(f"--sigmas: expected at least 1, got {k}")
    return [math.exp(p_mean + p_std * NormalDist().inv_cdf((i + 0.5) / k)) for i in range(k)]


class HeldOutLoss:
    """Fixed held-out inputs (conditioning, latents, one noise draw per sigma) of a ``Trainer``'s
    dataset items ``indices``, and L_mse per sigma with the trainer's adapter or without it.

    The clips go through the models ``chunk`` at a time (all at once by default; one at a time
    for full-size SVD on one GPU); each chunk's inputs and noise are the ones it would have in one
    pass (the trainer's per-position generators, slices of one noise tensor), and the losses are
    averaged over clips, so the figures do not depend on ``chunk`` beyond float rounding."""

    def __init__(self, trainer, indices: list[int], sigmas: list[float], chunk: int | None = None) -> None:
        self.trainer, self.sigmas = trainer, sigmas
        chunk = chunk or len(indices)
        self.parts = []                                    # (batch, inputs) per chunk of clips
        saved, trainer.step = trainer.step, HELDOUT_STEP
        try:
            with torch.no_grad():
                for start in range(0, len(indices), chunk):
                    batch = collate([trainer.dataset[i] for i in indices[start:start + chunk]])
                    positions = list(range(start, start + len(batch["trajectories"])))
                    self.parts.append((batch, trainer.step_inputs(batch, positions)))
        finally:
            trainer.step = saved
        shape = (len(indices), *self.parts[0][1]["target"].shape[1:])
        noise = [torch.randn(shape, generator=torch.Generator().manual_seed(1000 + k)) for k in range(len(sigmas))]
        sizes = [len(batch["trajectories"]) for batch, _ in self.parts]
        self.noise = [list(n.split(sizes)) for n in noise]            # [sigma][part]

    def at(self, sigma: float, k: int, part: int = 0) -> dict:
        """Chunk ``part``'s held-out inputs noised to ``sigma`` with the k-th fixed noise."""
        inputs = self.parts[part][1]
        x0 = inputs["target"]
        return self.trainer.noised(inputs, torch.full((x0.shape[0],), sigma, device=x0.device),
                                   self.noise[k][part].to(x0.device))

    def _over_clips(self) -> list[float]:
        """The trainer's L_mse per sigma with the UNet as it is now (with the adapter, or the frozen
        SVD inside ``frozen_svd``), averaged over the chunks weighted by their clips."""
        out = []
        for k, sigma in enumerate(self.sigmas):
            losses = [(self.trainer.losses(self.at(sigma, k, i), batch, mse_only=True)["l_mse"].item(),
                       len(batch["trajectories"])) for i, (batch, _) in enumerate(self.parts)]
            out.append(losses[0][0] if len(losses) == 1 else
                       sum(value * n for value, n in losses) / sum(n for _, n in losses))
        return out

    @torch.no_grad()
    def adapter(self) -> list[float]:
        """L_mse per sigma with the adapter (and the trainer's P, black with blank_trajectories)."""
        return self._over_clips()

    @contextmanager
    def frozen_svd(self):
        """The UNet with the adapter removed (bit for bit SVD's), installed again afterwards."""
        adapter, unet = self.trainer.adapter, self.trainer.pipe.unet
        adapter.remove(unet)
        try:
            yield unet
        finally:
            adapter.install(unet)

    @torch.no_grad()
    def base(self) -> list[float]:
        """L_mse per sigma of the frozen SVD on the same inputs and noise."""
        with self.frozen_svd():
            return self._over_clips()


def measure(config: cfgmod.Config, clips: int | None = None, sigmas: int = DEFAULT_SIGMAS, chunk: int = 1,
            log=print) -> dict:
    """Held-out L_mse of ``config``'s adapter and of its frozen SVD on ``config``'s dataset."""
    from server.training.train import Trainer

    if not config.model.adapter:
        raise cfgmod.ConfigError("model.adapter: expected the trained adapter's folder "
                                 "(--set model.adapter=RUN/adapter)")
    levels = heldout_sigmas(config.noise.p_mean, config.noise.p_std, sigmas)     # checked before any load
    if chunk < 1:
        raise ValueError(f"--batch: expected at least 1 clip per pass, got {chunk}")
    with tempfile.TemporaryDirectory(prefix="trackgo-heldout-") as scratch:
        trainer = Trainer(config, Path(scratch), log=log)
        available = len(trainer.dataset)
        count = available if clips is None else clips
        if not 1 <= count <= available:
            raise ValueError(f"--clips: expected 1 to {available} (the clips in {config.data.dataset}), got {count}")
        trainer.adapter.eval()
        held = HeldOutLoss(trainer, list(range(available - count, available)), levels, chunk)
        base, adapter = held.base(), held.adapter()
    mean_base, mean_adapter = sum(base) / len(base), sum(adapter) / len(adapter)
    return {"clips": count, "sigmas": held.sigmas, "base_mse": base, "adapter_mse": adapter,
            "adapter_vs_base_mse": mean_adapter / mean_base,
            "blank_trajectories": config.train.blank_trajectories}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="trackgo-heldout", description=__doc__.split("\n")[0])
    cfgmod.add_config_arguments(p, "--set model.adapter=run/adapter --set data.dataset=heldout/")
    p.add_argument("--clips", type=int, default=None, help="use the dataset's last N clips (default: all)")
    p.add_argument("--sigmas", type=int, default=DEFAULT_SIGMAS, help="noise levels (quantiles)")
    p.add_argument("--batch", type=int, default=1, help="clips per pass through the models (default 1)")
    p.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from server.training.layout import write_json_atomic

    args = parse_args(argv)
    try:
        config = cfgmod.load(args.config, args.overrides)
        result = measure(config, args.clips, args.sigmas, args.batch, log=lambda s: print(s, file=sys.stderr))
    except (cfgmod.ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"trackgo-heldout: error: {exc}", file=sys.stderr)
        return 2
    for sigma, b, a in zip(result["sigmas"], result["base_mse"], result["adapter_mse"]):
        print(f"sigma={sigma:.3g} base_mse={b:.4f} adapter_mse={a:.4f} ratio={a / b:.3f}")
    print(f"adapter_vs_base_mse={result['adapter_vs_base_mse']:.4f}")
    if args.out is not None:
        write_json_atomic(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
