"""trackgo-heldout: held-out L_mse of an adapter and of the frozen SVD on the same fixed inputs."""
from __future__ import annotations

import json
import math

import pytest
import torch

from server.training import config as cfgmod
from server.training import heldout
from server.trackgo.adapter import temporal_attention_layers
from server.training.dataset import collate
from server.training.losses import denoising_loss
from server.training.train import Trainer

from .conftest import encoder_inputs
from .test_train import reset_accelerate


def argv(tiny_config, *extra) -> list[str]:
    return ["--config", str(cfgmod.CONFIG_DIR / "tiny.toml"), "--set", f"model.svd={tiny_config.model.svd}",
            "--set", f"model.adapter={tiny_config.model.adapter}", "--set", f"data.dataset={tiny_config.data.dataset}",
            *extra]


def test_sigmas_are_the_training_quantiles():
    sigmas = heldout.heldout_sigmas(0.7, 1.6, 6)
    assert len(sigmas) == 6 and sigmas == sorted(sigmas)
    assert math.isclose(math.log(heldout.heldout_sigmas(0.7, 1.6, 1)[0]), 0.7)   # the median
    assert math.isclose(math.log(sigmas[0]) + math.log(sigmas[-1]), 2 * 0.7)      # symmetric in log
    with pytest.raises(ValueError, match="--sigmas"):
        heldout.heldout_sigmas(0.7, 1.6, 0)


def test_base_is_plain_svd_and_the_adapter_is_back_afterwards(tiny_config, tmp_path):
    reset_accelerate()
    trainer = Trainer(tiny_config, tmp_path, log=lambda s: None)
    held = heldout.HeldOutLoss(trainer, [len(trainer.dataset) - 1], [0.5, 8.0])
    with_adapter = held.adapter()
    base = held.base()
    assert held.adapter() == with_adapter                       # fixed inputs, adapter installed again
    assert all(abs(a - b) > 1e-6 for a, b in zip(with_adapter, base))
    # the base by hand: the UNet with no TrackAdapter processor at all, EDM's denoiser and weight
    unet, edm = trainer.pipe.unet, trainer.edm
    trainer.adapter.remove(unet)
    assert not any(type(a.processor).__name__ == "TrackAdapterProcessor" for _, a, _ in temporal_attention_layers(unet))
    by_hand = []
    with torch.no_grad():
        for k, s in enumerate(held.sigmas):
            inputs = held.at(s, k)
            out = unet(inputs["unet_input"], edm.c_noise(inputs["sigma"]), inputs["image_embeds"],
                       inputs["added_time_ids"]).sample
            by_hand.append(denoising_loss(edm.denoise(out, inputs["noisy"], inputs["sigma"]), inputs["target"],
                                          edm.loss_weight(inputs["sigma"])).item())
    trainer.adapter.install(unet)
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(by_hand, base)), (by_hand, base)
    # and the adapter's loss is the trainer's own loss on the same inputs
    inputs = held.at(8.0, 1)
    with torch.no_grad():
        assert math.isclose(trainer.losses(inputs, held.parts[0][0])["l_mse"].item(), with_adapter[1], rel_tol=1e-6)


def test_the_noise_is_fixed_and_does_not_depend_on_the_adapter(tiny_config, tmp_path):
    values = []
    for run in range(2):
        reset_accelerate()
        trainer = Trainer(tiny_config, tmp_path / str(run), log=lambda s: None)
        if run:
            with torch.no_grad():                                # another adapter: same inputs and base
                for p in trainer.adapter.parameters():
                    p.add_(0.01)
        held = heldout.HeldOutLoss(trainer, [0, 1], [1.0])
        values.append((held.at(1.0, 0)["noisy"], held.base(), held.adapter()))
    assert torch.equal(values[0][0], values[1][0])
    assert values[0][1] == values[1][1]
    assert values[0][2] != values[1][2]


def test_one_clip_at_a_time_gives_the_figures_of_one_pass(tiny_config, tmp_path):
    """Full-size SVD cannot take 16 clips in one pass: chunks keep each clip's inputs and noise."""
    reset_accelerate()
    trainer = Trainer(tiny_config, tmp_path, log=lambda s: None)
    indices = [0, 1, 2]
    whole = heldout.HeldOutLoss(trainer, indices, [0.3, 3.0])
    chunked = heldout.HeldOutLoss(trainer, indices, [0.3, 3.0], chunk=2)
    assert [len(b["trajectories"]) for b, _ in chunked.parts] == [2, 1]
    assert torch.equal(torch.cat([chunked.at(3.0, 1, 0)["noisy"], chunked.at(3.0, 1, 1)["noisy"]]),
                       whole.at(3.0, 1)["noisy"])
    for mine, theirs in ((chunked.base(), whole.base()), (chunked.adapter(), whole.adapter())):
        assert all(math.isclose(a, b, rel_tol=1e-5) for a, b in zip(mine, theirs)), (mine, theirs)


def test_cli_prints_and_writes_the_ratio(tiny_config, tmp_path, capsys):
    out = tmp_path / "heldout.json"
    assert heldout.main(argv(tiny_config, "--clips", "2", "--sigmas", "3", "--out", str(out))) == 0
    result = json.loads(out.read_text())
    assert result["clips"] == 2 and len(result["base_mse"]) == len(result["adapter_mse"]) == 3
    ratio = (sum(result["adapter_mse"]) / 3) / (sum(result["base_mse"]) / 3)
    assert math.isclose(result["adapter_vs_base_mse"], ratio)
    printed = capsys.readouterr().out
    assert f"adapter_vs_base_mse={ratio:.4f}" in printed and printed.count("sigma=") == 3


def test_blank_twin_is_measured_with_black_p(tiny_config, tmp_path):
    reset_accelerate()
    cfg = cfgmod.with_overrides(tiny_config, train={"blank_trajectories": True})
    trainer = Trainer(cfg, tmp_path, log=lambda s: None)
    seen = encoder_inputs(trainer)
    heldout.HeldOutLoss(trainer, [0], [1.0]).adapter()
    assert seen and all(bool((x == 0).all()) for x in seen)
    assert bool((collate([trainer.dataset[0]])["trajectories"] != 0).any())   # the clip's own P is not black


def test_bad_input_names_the_setting(tiny_config, tmp_path, capsys):
    assert heldout.main(argv(tiny_config, "--clips", "99")) == 2
    assert "--clips: expected 1 to" in capsys.readouterr().err
    no_adapter = ["--config", str(cfgmod.CONFIG_DIR / "tiny.toml"), "--set", f"model.svd={tiny_config.model.svd}",
                  "--set", f"data.dataset={tiny_config.data.dataset}"]
    assert heldout.main(no_adapter) == 2
    assert "model.adapter: expected the trained adapter's folder" in capsys.readouterr().err
    assert heldout.main(argv(tiny_config, "--sigmas", "0")) == 2
    assert "--sigmas: expected at least 1, got 0" in capsys.readouterr().err
    assert heldout.main(argv(tiny_config, "--batch", "0")) == 2
    assert "--batch: expected at least 1 clip per pass, got 0" in capsys.readouterr().err
