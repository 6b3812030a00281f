"""A learning test that can fail: overfitting one fixed batch with the trainer's own loss.

The target is realisable: the denoised prediction of the same frozen UNet with another
(random) adapter, so the loss can reach its floor by training the adapter alone. The batch,
sigma and noise are fixed. The test fails when the loss is not halved within STEPS optimiser
steps (e.g. ``loss * 0``, a detached attention map), or when any trained group does not move
(weight decay is off, so only a gradient can move it: a cut anywhere in E -> align -> W'q/W'k
-> A' -> output, in L_attn -> the fine-tuned W_q/W_k, or into the tuned copies of SVD's temporal
layers, leaves its group where it started).
"""
from __future__ import annotations

import pytest
import torch

from server.trackgo import TrackAdapter
from server.trackgo.tiny import TINY_CONDITION_CHANNELS, TINY_ENCODER_CHANNELS
from server.training import config as cfgmod
from server.training.dataset import collate

from .test_train import make_trainer

STEPS = 30
LEARNING_RATE = 1e-2


def fixed_inputs(trainer, batch, sigma=1.0):
    inputs = trainer.step_inputs(batch, [0])
    noise = torch.randn(inputs["target"].shape, generator=torch.Generator().manual_seed(0))
    inputs = trainer.noised(inputs, torch.tensor([sigma]), noise)
    # a target the adapter can reach: the same frozen UNet under another random adapter
    student = {k: v.clone() for k, v in trainer.adapter.state_dict().items()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        teacher = TrackAdapter.from_unet(trainer.pipe.unet, TINY_CONDITION_CHANNELS, TINY_ENCODER_CHANNELS,
                                         tune_base_query_key=True)
    trainer.adapter.load_state_dict(teacher.state_dict())
    with torch.no_grad():
        s = inputs["sigma"]
        out, _ = trainer.module(inputs["unet_input"], trainer.edm.c_noise(s), inputs["image_embeds"],
                                inputs["added_time_ids"], batch["trajectories"], want_maps=False)
        inputs["target"] = trainer.edm.denoise(out, inputs["noisy"], s)
    trainer.adapter.load_state_dict(student)
    return inputs


@pytest.fixture
def overfit_trainer(tiny_config, tmp_path):
    cfg = cfgmod.with_overrides(tiny_config, train={
        "learning_rate": LEARNING_RATE, "svd_query_key_learning_rate": LEARNING_RATE,
        "svd_temporal_learning_rate": LEARNING_RATE / 10, "weight_decay": 0.0, "max_grad_norm": 0.0})
    return make_trainer(cfg, tmp_path / "run")


def test_overfitting_one_batch_halves_the_loss_and_moves_every_group(overfit_trainer):
    trainer = overfit_trainer
    assert trainer.config.train.lambda_attn > 0 and trainer.config.model.tune_svd_query_key
    assert trainer.config.model.tune_svd_temporal
    batch = collate([trainer.dataset[0]])
    inputs = fixed_inputs(trainer, batch)
    groups = trainer.adapter.parameter_groups()
    assert set(groups) == {"encoder", "alignment", "query_key", "svd_query_key", "svd_temporal"}
    before = {name: [p.detach().clone() for p in params] for name, params in groups.items()}
    losses = []
    for step in range(STEPS):
        terms = trainer.losses(inputs, batch)
        losses.append(terms["loss"].item())
        terms["loss"].backward()
        if step == 0:
            for name, params in groups.items():
                norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params if p.grad is not None)).item()
                assert norm > 1e-6, f"{name}: gradient norm {norm:.2e} at the first step"
        trainer.optimizer.step()
        trainer.optimizer.zero_grad(set_to_none=True)
    final = trainer.losses(inputs, batch)["loss"].item()
    assert final <= 0.5 * losses[0], f"loss {losses[0]:.6f} -> {final:.6f} in {STEPS} steps"
    for name, params in groups.items():
        moved = torch.cat([(p.detach() - b).abs().flatten() for p, b in zip(params, before[name])])
        # Adam moves every element with a gradient by ~lr per step; an element without one stays put
        assert (moved > 1e-4).float().mean() > 0.5, f"{name}: {(moved > 1e-4).float().mean():.2f} of it moved"


def test_the_trainers_loss_is_the_one_that_trains(overfit_trainer):
    """L = L_mse + lambda * L_attn as logged, with a gradient from each term (not ``loss * 0``)."""
    trainer = overfit_trainer
    batch = collate([trainer.dataset[0]])
    inputs = fixed_inputs(trainer, batch)
    terms = trainer.losses(inputs, batch)
    lam = trainer.config.train.lambda_attn
    assert terms["l_mse"].item() > 0 and terms["l_attn"].item() > 0
    assert terms["loss"].item() == pytest.approx(terms["l_mse"].item() + lam * terms["l_attn"].item(), rel=1e-6)
    tuned = trainer.adapter.parameter_groups()["svd_query_key"]
    for part in ("loss", "l_mse", "l_attn"):
        grads = torch.autograd.grad(terms[part], tuned, retain_graph=True, allow_unused=True)
        assert any(g is not None and g.abs().max() > 0 for g in grads), part
    grads = torch.autograd.grad(terms["loss"], trainer.adapter.parameter_groups()["encoder"], allow_unused=True)
    assert any(g is not None and g.abs().max() > 0 for g in grads)
