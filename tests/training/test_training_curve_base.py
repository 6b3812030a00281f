"""benchmarks/training_curve.py's base fit: a fit continued from its cached checkpoint ends with
the same weights as one run straight through (the optimiser and random state travel with the
checkpoint), and the base is fitted on clips drawn apart from the dataset's."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def unet_weights(svd_dir: Path) -> dict:
    from diffusers import UNetSpatioTemporalConditionModel

    return UNetSpatioTemporalConditionModel.from_pretrained(svd_dir / "unet").state_dict()


def test_a_continued_base_fit_equals_one_run_straight_through(tmp_path, training_curve):
    from server.training.noise import EDMSchedule

    tc = training_curve
    edm = EDMSchedule(0.7, 1.6)
    video = tc.base_video(3, tc.BASE_SEED)
    quiet = lambda s: None  # noqa: E731
    straight = tc.fit_base(tmp_path / "straight", video, 1, 4, edm, quiet, save_every=10)
    tc.fit_base(tmp_path / "parts", video, 1, 2, edm, quiet, save_every=10)
    logged = []
    continued = tc.fit_base(tmp_path / "parts", video, 1, 4, edm, logged.append, save_every=10)
    assert any("continuing the fit at UNet step 2" in line for line in logged), logged
    first, second = unet_weights(straight), unet_weights(continued)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    # the 2-step checkpoint differs from both: the continuation really trained two more steps
    early = unet_weights(tmp_path / "parts" / "svd-unet2")
    assert not all(torch.equal(early[k], first[k]) for k in first)


def test_the_base_clips_are_not_the_datasets(tmp_path, training_curve):
    tc = training_curve
    dataset = tc.write_dataset(tmp_path / "data", 2, seed=0)
    base = tc.base_video(2, tc.BASE_SEED)
    as_uint8 = base.permute(0, 1, 3, 4, 2).numpy()
    for clip in dataset:
        assert not any(np.array_equal(clip["frames"], other) for other in as_uint8)
