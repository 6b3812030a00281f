"""benchmarks/training_curve.py's tuned-UNet control: the whole UNet really trains along with the
adapter, and its blank twin really sees black trajectories (f = 0) in training and in the
held-out L_mse, so "trajectories vs blank" compares two runs that differ only in P. The main
runs tune copies of the base's temporal layers (or, with --frozen-svd, nothing of it) and never
SVD's own weights; the side runs are lambda = 0 and the black-P twin."""
from __future__ import annotations

import argparse

import pytest
import torch

from server.trackgo.temporal import TEMPORAL_MODULES

from .conftest import encoder_inputs


def phase(tc, tmp_path, tiny_model) -> dict:
    from server.trackgo.tiny import SVD_SUBFOLDER

    svd_dir = tiny_model / SVD_SUBFOLDER
    tc.write_dataset(tmp_path / "data", 3, seed=0)
    args = argparse.Namespace(adapter_steps=1, tuned_unet_steps=1, heldout=1, lr=1e-3, svd_lr=1e-3,
                              unet_lr=1e-3, batch=1, every=1, frozen_svd=False, svd_temporal_lr=1e-3,
                              lr_schedule="cosine")
    return dict(svd_dir=svd_dir, data_dir=tmp_path / "data", folder=tmp_path, args=args,
                sigmas=[0.5, 5.0])


def test_the_tuned_unet_trains_and_the_blank_twin_sees_black_trajectories(tmp_path, tiny_model, training_curve):
    tc = training_curve
    ph = phase(tc, tmp_path, tiny_model)
    for blank in (False, True):
        trainer, held = tc.phase_trainer(0.0, f"t{blank}", ph, steps=2, blank=blank, temporal=False)
        unet = trainer.pipe.unet
        before = {k: v.clone() for k, v in unet.state_dict().items()}
        tc.tune_whole_unet(trainer, 1e-3)
        seen = encoder_inputs(trainer)
        trainer.train_step()
        held.adapter()
        changed = [k for k, v in unet.state_dict().items() if not torch.equal(v, before[k])]
        assert len(changed) > len(before) // 2, "the UNet did not train"
        assert seen and all(bool((x == 0).all()) == blank for x in seen)


@pytest.mark.parametrize("frozen", [False, True])
def test_the_adapter_runs_tune_temporal_copies_never_svds_own_weights(tmp_path, tiny_model, training_curve, frozen):
    tc = training_curve
    ph = phase(tc, tmp_path, tiny_model)
    ph["args"].frozen_svd = frozen
    trainer, _ = tc.phase_trainer(0.0, "plain", ph, steps=2)
    unet, adapter = trainer.pipe.unet, trainer.adapter
    adapter.remove(unet)
    own = {k: v.clone() for k, v in unet.state_dict().items()}
    adapter.install(unet)
    installed = {k: v.clone() for k, v in unet.state_dict().items()}
    seen = encoder_inputs(trainer)
    trainer.train_step()
    tuned = [k for k, v in unet.state_dict().items() if not torch.equal(v, installed[k])]
    assert bool(tuned) != frozen, "temporal copies: trained only without --frozen-svd"
    assert all(any(m in k for m in TEMPORAL_MODULES) for k in tuned)
    adapter.remove(unet)
    assert all(torch.equal(v, own[k]) for k, v in unet.state_dict().items())
    assert seen and any(bool((x != 0).any()) for x in seen)


def test_the_side_runs_are_without_attn_and_the_black_p_twin(tmp_path, tiny_model, training_curve, monkeypatch):
    tc = training_curve
    ph = phase(tc, tmp_path, tiny_model)
    calls, real = [], tc.phase_trainer
    monkeypatch.setattr(tc, "phase_trainer", lambda lam, name, phase, **kw: calls.append((lam, kw)) or
                        real(lam, name, phase, **kw))
    for name in ("without_attn", "blank"):
        assert [s for s, _ in tc.run_side(ph, [1.0, 2.0], False, name)["curve"]] == [0, 1]
    assert calls == [(0.0, {"blank": False}), (0.1, {"blank": True})]


def test_the_control_reports_trajectories_against_blank(tmp_path, tiny_model, training_curve):
    tc = training_curve
    ph = phase(tc, tmp_path, tiny_model)
    base = [1.0, 2.0]
    runs = {name: tc.run_tuned_unet(ph, base, name.endswith("blank"), False)
            for name in ("tuned_unet", "tuned_unet_blank")}
    report = tc.tuned_unet_report(runs, base)
    real, blank = runs["tuned_unet"]["curve"][-1][1], runs["tuned_unet_blank"]["curve"][-1][1]
    assert report["tuned_unet_trajectories_vs_blank"] == round(sum(real) / sum(blank), 4)
    assert report["tuned_unet_vs_base_mse"] == round(sum(real) / 2 / 1.5, 4)
    assert [s for s, _ in runs["tuned_unet"]["curve"]] == [0, 1]


def test_ratio_curves_against_the_base_and_against_a_twin(training_curve):
    tc = training_curve
    curve, twin = [(0, [1.0, 3.0]), (25, [0.5, 1.5])], [(0, [2.0, 2.0]), (25, [1.0, 1.0])]
    assert tc.ratio_curve(curve, [2.0, 2.0]) == "0:1.0000,25:0.5000"          # a fixed reference
    assert tc.ratio_curve(curve, twin) == "0:1.0000,25:1.0000"                # step by step
    assert tc.ratio([0.5, 1.5], [2.0, 2.0]) == 0.5
