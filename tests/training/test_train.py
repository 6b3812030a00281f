"""trackgo-train on the tiny random model: losses, frozen vs trainable, resume, processes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from server.training import config as cfgmod
from server.training import train
from server.trackgo.temporal import TEMPORAL_WEIGHTS
from server.training.dataset import collate

from .conftest import encoder_inputs

ROOT = Path(__file__).resolve().parents[2]


def reset_accelerate():
    from accelerate.state import AcceleratorState, GradientState, PartialState
    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    PartialState._reset_state()


def adapter_weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "diffusion_pytorch_model.safetensors")


def make_trainer(config, output):
    reset_accelerate()
    return train.Trainer(config, output, log=lambda s: None)


@pytest.mark.slow
def test_twenty_steps_finite_losses_trainable_change_frozen_do_not(tiny_config, tiny_model, tmp_path):
    trainer = make_trainer(tiny_config, tmp_path / "run")
    unet_before = {k: v.clone() for k, v in trainer.pipe.unet.state_dict().items()}
    vae_before = {k: v.clone() for k, v in trainer.pipe.vae.state_dict().items()}
    adapter_before = {k: v.clone() for k, v in trainer.adapter.state_dict().items()}
    final = trainer.fit()
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in logged] == [5, 10, 15, 20]
    for entry in logged:
        assert all(torch.isfinite(torch.tensor(entry[k])) for k in ("loss", "l_mse", "l_attn", "lr"))
        assert entry["l_attn"] > 0 and entry["lr"] == pytest.approx(1e-3)
    trainer.adapter.remove(trainer.pipe.unet)            # SVD's own modules back: they never trained
    assert all(torch.equal(v, trainer.pipe.unet.state_dict()[k]) for k, v in unet_before.items())
    assert all(torch.equal(v, trainer.pipe.vae.state_dict()[k]) for k, v in vae_before.items())
    after = adapter_weights(final) | load_file(final / TEMPORAL_WEIGHTS)   # the latter by UNet names
    groups = trainer.adapter.parameter_groups()
    assert set(groups) == {"encoder", "alignment", "query_key", "svd_query_key", "svd_temporal"}
    names = {id(p): n for n, p in trainer.adapter.named_parameters()}
    temporal = trainer.adapter.temporal
    names |= {id(p): f"{unet_name}.{k}" for unet_name, copy in zip(temporal.names, temporal.copies)
              for k, p in copy.named_parameters()}
    adapter_before |= unet_before                         # the copies started as SVD's weights
    t = tiny_config.train
    decay_only = (1 - t.learning_rate * t.weight_decay) ** t.steps
    for group, params in groups.items():
        # AdamW's weight decay alone would give before * decay_only; the gradient's part is the rest
        # (the outside run's adapter, with ~4e-8 gradients, moved by weight decay only)
        rest = torch.cat([(after[names[id(p)]] - adapter_before[names[id(p)]] * decay_only).abs().flatten()
                          for p in params])
        assert (rest > 1e-4).float().mean() > 0.5, f"{group}: moved by weight decay only"
    # The checkpoint is what the server's backend loads.
    from server.trackgo.loading import load_adapter
    loaded = load_adapter(final)
    assert all(torch.equal(v, after[k]) for k, v in loaded.state_dict().items())
    assert all(torch.equal(v, after[k]) for k, v in loaded.tune_temporal(trainer.pipe.unet).unet_state().items())


def test_resume_from_checkpoint_equals_uninterrupted_run(tiny_config, tmp_path):
    cfg = cfgmod.with_overrides(tiny_config, train={"steps": 4, "checkpoint_every": 2})
    # The uninterrupted run loads with two DataLoader workers, the resumed one in process.
    with_workers = cfgmod.with_overrides(cfg, data={"num_workers": 2})
    straight = make_trainer(with_workers, tmp_path / "a").fit()
    half = cfgmod.with_overrides(cfg, train={"steps": 2})
    make_trainer(half, tmp_path / "b").fit()
    trainer = make_trainer(cfg, tmp_path / "b")
    trainer.resume("latest")
    assert trainer.step == 2
    resumed = trainer.fit()
    a, b = adapter_weights(straight), adapter_weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = adapter_weights(tmp_path / "b" / "checkpoints" / "step-000002" / "adapter")
    assert not all(torch.equal(a[k], other[k]) for k in a)


def test_the_lr_schedule_warms_up_decays_and_resumes_where_it_stopped(tiny_config, tmp_path):
    cfg = cfgmod.with_overrides(tiny_config, train={"steps": 4, "lr_schedule": "cosine", "lr_warmup_steps": 1,
                                                    "checkpoint_every": 100})
    straight = make_trainer(cfg, tmp_path / "a")
    lrs = [straight.train_step()["lr"] for _ in range(4)]
    # diffusers' cosine: step / warmup, then 0.5 * (1 + cos(pi * progress)) over the other 3 steps
    assert lrs == pytest.approx([0.0, 1e-3, 0.75e-3, 0.25e-3])
    part = make_trainer(cfg, tmp_path / "b")
    part.train_step(), part.train_step()
    part.save_checkpoint()
    resumed = make_trainer(cfg, tmp_path / "b")
    resumed.resume("latest")
    rates = {g["name"]: g["lr"] for g in resumed.optimizer.param_groups}
    assert rates == pytest.approx({"adapter": 0.75e-3, "svd_query_key": 0.75e-3, "svd_temporal": 0.75e-3})
    assert [resumed.train_step()["lr"] for _ in range(2)] == pytest.approx(lrs[2:])
    a, b = straight.adapter.state_dict(), resumed.adapter.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # "constant" with warm-up ramps up, then holds (diffusers' constant_with_warmup)
    held = make_trainer(cfgmod.with_overrides(cfg, train={"lr_schedule": "constant", "lr_warmup_steps": 2}),
                        tmp_path / "c")
    assert [held.train_step()["lr"] for _ in range(4)] == pytest.approx([0.0, 0.5e-3, 1e-3, 1e-3])


def test_resume_refuses_settings_that_change_the_data_order(tiny_config, tmp_path):
    cfg = cfgmod.with_overrides(tiny_config, train={"steps": 1, "checkpoint_every": 1})
    make_trainer(cfg, tmp_path / "run").fit()
    for change, named in (({"seed": 7}, "train.seed: 42 at the checkpoint, 7 now"),
                          ({"batch_size": 2}, "train.batch_size: 1 at the checkpoint, 2 now"),
                          ({"blank_trajectories": True}, "train.blank_trajectories: False at the checkpoint, True now")):
        trainer = make_trainer(cfgmod.with_overrides(cfg, train=dict(change, steps=2)), tmp_path / "run")
        with pytest.raises(ValueError, match=named):
            trainer.resume("latest")
        assert trainer.step == 0
    # a state the trainer cannot load (an older trainer's, without the schedule) is a clear error
    for extra in (tmp_path / "run" / "checkpoints" / "step-000001" / "state").glob("custom_checkpoint_*"):
        extra.unlink()
    trainer = make_trainer(cfgmod.with_overrides(cfg, train={"steps": 2}), tmp_path / "run")
    with pytest.raises(ValueError, match="does not match this run's trained weights or trainer.*model.adapter="):
        trainer.resume("latest")
    # which weights train: a run with SVD's temporal layers frozen cannot load this one's state
    trainer = make_trainer(cfgmod.with_overrides(cfg, model={"tune_svd_temporal": False}, train={"steps": 2}),
                           tmp_path / "run")
    with pytest.raises(ValueError, match="model.tune_svd_temporal: True at the checkpoint, False now"):
        trainer.resume("latest")


def test_an_adapter_with_tuned_temporal_layers_is_not_trained_without_them(tiny_config, tmp_path):
    cfg = cfgmod.with_overrides(tiny_config, train={"steps": 1, "checkpoint_every": 1})
    final = make_trainer(cfg, tmp_path / "run").fit()
    assert (final / TEMPORAL_WEIGHTS).is_file()
    frozen = cfgmod.with_overrides(cfg, model={"adapter": str(final), "tune_svd_temporal": False})
    with pytest.raises(cfgmod.ConfigError, match="model.tune_svd_temporal: false, but model.adapter"):
        make_trainer(frozen, tmp_path / "again")
    # with it on, training continues from the saved temporal weights, not SVD's
    again = make_trainer(cfgmod.with_overrides(cfg, model={"adapter": str(final)}), tmp_path / "again")
    saved = load_file(final / TEMPORAL_WEIGHTS)
    assert all(torch.equal(v, saved[k]) for k, v in again.adapter.temporal.unet_state().items())
    installed = again.pipe.unet.state_dict()
    assert all(torch.equal(v, installed[k]) for k, v in saved.items())      # the saved copies run
    again.adapter.remove(again.pipe.unet)
    own = again.pipe.unet.state_dict()
    assert not all(torch.equal(v, own[k]) for k, v in saved.items())        # and they are not SVD's


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_same_global_batch(tiny_model, tiny_dataset, tmp_path):
    common = ["--config", str(cfgmod.CONFIG_DIR / "tiny.toml"),
              "--set", f"model.svd={tiny_model / 'svd'}", "--set", f"model.adapter={tiny_model / 'adapter'}",
              "--set", f"data.dataset={tiny_dataset}", "--set", "train.steps=2",
              "--set", "train.batch_size=2", "--set", "train.checkpoint_every=100", "--set", "train.log_every=1"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    # accelerate's multi-process launcher (torchrun underneath); on a machine without CUDA the
    # trainer asks accelerate for CPU, so the processes form one gloo group.
    accelerate = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1",
                  "--mixed_precision", "no", "--dynamo_backend", "no"]
    for n, name in ((1, "one"), (2, "two")):
        launcher = ["--multi_gpu"] if n > 1 else []
        # the two processes also checkpoint (the temporal blocks included: recomputed in backward
        # while DDP all-reduces), which must not change what they learn
        checkpointing = ["--set", f"train.gradient_checkpointing={'true' if n > 1 else 'false'}"]
        result = subprocess.run(accelerate + launcher + ["--num_processes", str(n), "-m", "server.training.train",
                                              *common, *checkpointing, "--output", str(tmp_path / name)],
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
    for n, name in ((1, "one"), (2, "two")):
        logged = [json.loads(x) for x in (tmp_path / name / "log.jsonl").read_text().splitlines()]
        assert {e["processes"] for e in logged} == {n}
    one, two = adapter_weights(tmp_path / "one" / "adapter"), adapter_weights(tmp_path / "two" / "adapter")
    for k in one:
        assert torch.allclose(one[k], two[k], atol=1e-5, rtol=1e-4), k
    # The tuned temporal layers too (DDP syncs their gradients like the adapter's). Some of their
    # weights feed a normalisation and get gradients near Adam's epsilon, where the step
    # lr * g / (|g| + eps) magnifies the all-reduce's rounding: measured up to 1.2e-4 apart on a
    # few hundred of ~470K elements after 2 steps at lr 1e-3, so those are held to a tenth of
    # the steps' size and the rest to the adapter's tolerance.
    one_t, two_t = (load_file(tmp_path / name / "adapter" / TEMPORAL_WEIGHTS) for name in ("one", "two"))
    assert one_t.keys() == two_t.keys() and one_t
    diffs = torch.cat([(one_t[k] - two_t[k]).abs().flatten() for k in one_t])
    assert diffs.max() < 0.1 * 2 * 1e-3, float(diffs.max())
    assert (diffs > 1e-5).float().mean() < 1e-2
    start = adapter_weights(tiny_model / "adapter")
    for k in start:                                           # trained, not moved by weight decay alone
        assert (one[k] - start[k] * (1 - 1e-3 * 1e-2) ** 2).abs().max() > 1e-4, k


def test_bad_config_names_the_key(tmp_path, capsys):
    assert train.main(["--config", str(cfgmod.CONFIG_DIR / "tiny.toml"), "--set", "train.stepz=3",
                       "--output", str(tmp_path)]) == 2
    assert "train.stepz: unknown setting" in capsys.readouterr().err
    assert train.main(["--config", str(cfgmod.CONFIG_DIR / "tiny.toml"), "--output", str(tmp_path)]) == 2
    assert "model.svd: expected the path" in capsys.readouterr().err
    assert train.main(["--config", str(cfgmod.CONFIG_DIR / "tiny.toml"), "--set", "model.svd=x",
                       "--output", str(tmp_path)]) == 2
    assert "data.dataset: expected the path of a trackgo-prepare folder" in capsys.readouterr().err
    for setting, message in (("train.learning_rate=-1", "train.learning_rate: expected > 0, got -1"),
                             ("train.lr_schedule=step",
                              "train.lr_schedule: expected one of constant, cosine, linear, got 'step'"),
                             ("train.lr_warmup_steps=20",
                              "train.lr_warmup_steps: expected >= 0 and below train.steps (20), got 20"),
                             ("train.svd_temporal_learning_rate=0",
                              "train.svd_temporal_learning_rate: expected > 0, got 0"),
                             ("data.frames=1", "data.frames: expected at least 2, got 1"),
                             ("data.num_workers=-2", "data.num_workers: expected >= 0, got -2"),
                             ("train.adam_beta2=1.5", "train.adam_beta2: expected in [0, 1), got 1.5")):
        assert train.main(["--config", str(cfgmod.CONFIG_DIR / "tiny.toml"), "--set", setting,
                           "--output", str(tmp_path)]) == 2
        assert message in capsys.readouterr().err


def test_dataset_is_checked_before_the_models_load(tiny_config, tmp_path, monkeypatch):
    def no_load(self):
        raise AssertionError("SVD loaded before the dataset was checked")
    monkeypatch.setattr(train.Trainer, "_load_models", no_load)
    from server.training.layout import DatasetFormatError
    with pytest.raises(DatasetFormatError, match="manifest.json: not found"):
        make_trainer(cfgmod.with_overrides(tiny_config, data={"dataset": str(tmp_path)}), tmp_path / "o")


def test_gradient_checkpointing_keeps_both_loss_terms_gradients(tiny_config, tmp_path):
    """Checkpointed UNet blocks recompute in backward; L_attn's maps must still carry gradient."""
    from server.trackgo.checkpointing import is_checkpointed

    grads = {}
    for ckpt in (False, True):
        cfg = cfgmod.with_overrides(tiny_config, train={"gradient_checkpointing": ckpt})
        trainer = make_trainer(cfg, tmp_path / str(ckpt))
        # the temporal blocks too (diffusers checkpoints only the resnets and spatial blocks)
        checkpointed = [m for m in trainer.pipe.unet.modules() if is_checkpointed(m)]
        assert len(checkpointed) == (len(trainer.adapter.layers) if ckpt else 0)
        for term in ("l_mse", "l_attn"):
            trainer.optimizer.zero_grad(set_to_none=True)
            terms = trainer._micro_step(collate([trainer.dataset[0]]), [0])
            terms[term].backward()
            grads[ckpt, term] = {n: p.grad.clone() for n, p in trainer.adapter.named_parameters()
                                 if p.grad is not None}
    for term in ("l_mse", "l_attn"):
        plain, ckpt = grads[False, term], grads[True, term]
        assert plain and plain.keys() == ckpt.keys()
        reached = [n for n, g in plain.items() if g.norm() > 1e-6]
        # L_mse reaches every group; L_attn at least the fine-tuned W_q / W_k it penalises
        if term == "l_mse":
            assert len(reached) == len(plain), sorted(set(plain) - set(reached))
        else:
            assert any(".base_q." in n for n in reached) and any(".base_k." in n for n in reached)
        for name in plain:
            scale = plain[name].abs().max().item()
            assert torch.allclose(plain[name], ckpt[name], atol=1e-4 * scale + 1e-12, rtol=1e-3), (term, name)


@pytest.mark.slow
def test_gradient_accumulation_matches_the_same_global_batch(tiny_config, tmp_path):
    results = []
    for accum in (1, 2):
        cfg = cfgmod.with_overrides(tiny_config, train={"steps": 2, "batch_size": 2,
                                                        "gradient_accumulation_steps": accum})
        trainer = make_trainer(cfg, tmp_path / f"acc{accum}")
        assert trainer.micro_batch == 2 // accum
        results.append(adapter_weights(trainer.fit()))
    start = adapter_weights(Path(tiny_config.model.adapter))
    for k in start:                                           # both really trained (not weight decay alone)
        assert (results[0][k] - start[k] * (1 - 1e-3 * 1e-2) ** 2).abs().max() > 1e-4, k
    for k in results[0]:
        assert torch.allclose(results[0][k], results[1][k], atol=1e-5, rtol=1e-4), k
    with pytest.raises(cfgmod.ConfigError, match="batch_size: 3 does not split"):
        make_trainer(cfgmod.with_overrides(tiny_config, train={"batch_size": 3,
                                                               "gradient_accumulation_steps": 2}),
                     tmp_path / "bad")


def test_resume_applies_a_changed_learning_rate_and_says_so(tiny_config, tmp_path):
    cfg = cfgmod.with_overrides(tiny_config, train={"steps": 1, "checkpoint_every": 1})
    make_trainer(cfg, tmp_path / "run").fit()
    said = []
    reset_accelerate()
    lower = cfgmod.with_overrides(cfg, train={"steps": 2, "learning_rate": 5e-4,
                                              "svd_query_key_learning_rate": 2e-4,
                                              "svd_temporal_learning_rate": 1e-4})
    trainer = train.Trainer(lower, tmp_path / "run", log=said.append)
    trainer.resume("latest")
    rates = {g["name"]: g["lr"] for g in trainer.optimizer.param_groups}
    assert rates == {"adapter": 5e-4, "svd_query_key": 2e-4, "svd_temporal": 1e-4}
    assert any("svd_temporal learning rate 0.001 at the checkpoint, 0.0001 now" in s for s in said)
    assert any("adapter learning rate 0.001 at the checkpoint, 0.0005 now: using 0.0005" in s for s in said)
    assert trainer.train_step()["lr"] == 5e-4


def test_ctrl_c_prints_one_line_with_the_resume_command(tiny_config, tmp_path, monkeypatch, capsys):
    original = train.Trainer.train_step

    def interrupted_at_step_three(self, batches=None):
        terms = original(self, batches)
        if self.step == 3:
            raise KeyboardInterrupt
        return terms

    monkeypatch.setattr(train.Trainer, "train_step", interrupted_at_step_three)
    reset_accelerate()
    argv = ["--config", str(cfgmod.CONFIG_DIR / "tiny.toml"), "--set", f"model.svd={tiny_config.model.svd}",
            "--set", f"model.adapter={tiny_config.model.adapter}", "--set", f"data.dataset={tiny_config.data.dataset}",
            "--set", "train.checkpoint_every=2", "--output", str(tmp_path / "run")]
    assert train.main(argv) == 130
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("trackgo-train:")]
    assert lines == [f"trackgo-train: interrupted at step 3; the last checkpoint is step 2; resume with: "
                     f"trackgo-train {' '.join(argv)} --resume latest"]
    assert "Traceback" not in err


@pytest.mark.parametrize("cmdline, refused", [
    (["/usr/bin/python", "/venv/bin/accelerate", "launch", "--cpu", "--num_processes", "2", "-m", "x"], True),
    (["python", "-m", "accelerate.commands.launch", "--cpu", "--num_processes=4", "train.py"], True),
    (["python", "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1", "train.py"], False),
    (["bash"], False),
])
def test_a_launch_that_started_fewer_processes_than_asked_is_refused(cmdline, refused):
    if refused:
        with pytest.raises(train.LaunchError, match="--multi_gpu --num_processes"):
            train.check_launch(cmdline, environ={})
    else:
        train.check_launch(cmdline, environ={})
    train.check_launch(cmdline, environ={"WORLD_SIZE": "2"})         # torchrun started them all


def test_accelerate_launch_cpu_two_processes_fails_loudly(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
                             "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                             "-m", "server.training.train", "--config", str(cfgmod.CONFIG_DIR / "tiny.toml"),
                             "--output", str(tmp_path / "o")],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "asked for 2 processes but started one" in result.stderr


def test_cached_latents_give_the_same_inputs_without_encoding_again(tiny_config, tmp_path, monkeypatch):
    """data.cache_latents: the first step encodes, later steps draw from the kept posterior with
    the same generator, so a step's inputs are bit-identical to an uncached run's."""
    plain = make_trainer(tiny_config, tmp_path / "plain")
    batch = collate([plain.dataset[0]])
    expected = [plain.step_inputs(batch, [0]) for plain.step in (0, 1)]
    cached = make_trainer(cfgmod.with_overrides(tiny_config, data={"cache_latents": True}), tmp_path / "cached")
    calls = []
    encode = cached.pipe.vae.encode
    monkeypatch.setattr(cached.pipe.vae, "encode", lambda x: calls.append(len(x)) or encode(x))
    got = [cached.step_inputs(batch, [0]) for cached.step in (0, 1)]
    frames = batch["frames"].shape[1]
    assert calls.count(frames) == 1, calls            # the clip's frames once; frame 0 every step
    for want, have in zip(expected, got):
        for key in ("target", "noisy", "unet_input"):
            assert torch.equal(want[key], have[key]), key
    assert not torch.equal(got[0]["target"], got[1]["target"])   # a new draw each step, not a frozen latent


def test_blank_trajectories_train_the_twin_on_black_p(tiny_config, tmp_path):
    """train.blank_trajectories: every P the encoder sees in the trainer's steps is black, so the
    twin learns what the same training is worth without trajectories; by default it sees the
    clips' P. The loss differs accordingly."""
    losses = {}
    for blank in (False, True):
        cfg = cfgmod.with_overrides(tiny_config, train={"blank_trajectories": blank})
        trainer = make_trainer(cfg, tmp_path / str(blank))
        seen = encoder_inputs(trainer)
        with torch.no_grad():
            losses[blank] = trainer._micro_step(collate([trainer.dataset[0]]), [0])["l_mse"].item()
        assert seen and all(bool((x == 0).all()) == blank for x in seen)
    assert losses[False] != losses[True]
