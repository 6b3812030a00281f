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


def test_the_objmc_decoder_fit_keeps_the_latent_space_and_is_cached(tmp_path, training_curve):
    """Fitting the decoder for ObjMC must not move the encoder (the base UNet and the adapter were
    fitted on its latents), must change the decoder, and is fitted once."""
    from diffusers import AutoencoderKLTemporalDecoder

    from server.training.noise import EDMSchedule

    tc = training_curve
    video = tc.base_video(3, tc.BASE_SEED)
    quiet = lambda s: None  # noqa: E731
    svd_dir = tc.fit_base(tmp_path, video, 1, 1, EDMSchedule(0.7, 1.6), quiet, save_every=10)
    before = AutoencoderKLTemporalDecoder.from_pretrained(svd_dir / "vae").state_dict()
    fitted = tc.fit_decoder(tmp_path, svd_dir, video, 3, 2, quiet).state_dict()
    assert before.keys() == fitted.keys()
    changed = {k for k in before if not torch.equal(before[k], fitted[k])}
    assert changed and all(k.startswith("decoder.") for k in changed), sorted(changed)[:5]
    logged = []
    again = tc.fit_decoder(tmp_path, svd_dir, None, 3, 2, logged.append).state_dict()
    assert not logged                                  # loaded from the cache, not fitted again
    assert all(torch.equal(again[k], fitted[k]) for k in fitted)


def test_objmc_references_floor_and_still_clip(training_curve):
    """The still clip scores the clips' mean displacement; the round trip decodes what it encodes
    (checked with a stand-in VAE that returns its input: the real frames' own ObjMC)."""
    tc = training_curve
    rng = np.random.default_rng(3)
    clips = []
    for _ in range(2):
        frames, masks, _, _, displacements = tc.make_clip(rng)
        clips.append({"frames": frames, "masks": masks, "displacements": displacements})

    class Identity:
        class _Dist:
            def __init__(self, x):
                self.x = x

            def mode(self):
                return self.x

        def encode(self, x):
            return type("Out", (), {"latent_dist": self._Dist(x)})()

        def decode(self, z, num_frames):
            return type("Out", (), {"sample": z})()

    from server.evaluation.objmc import objmc_for_video, objmc_over_videos

    refs = tc.objmc_references(Identity(), clips)
    mean_move = np.mean([np.linalg.norm(np.asarray(d), axis=-1).mean() for c in clips for d in c["displacements"]])
    assert refs["objmc_still_px"] == round(mean_move, 3)
    # an identity VAE: the round trip is the real frames' own ObjMC (the tracker's floor on them)
    real = objmc_over_videos([objmc_for_video(list(c["frames"]), c["masks"], displacements=c["displacements"])
                              for c in clips])
    assert refs["objmc_vae_roundtrip_px"] == round(real, 3)


def test_paired_difference_reports_the_mean_an_interval_and_wins(training_curve):
    tc = training_curve
    rng = np.random.default_rng(0)
    base = rng.uniform(8, 16, size=48)
    # no real difference: noise only - the interval holds zero
    same = tc.paired_difference(base + rng.normal(0, 2, size=48), base)
    low, high = map(float, same["objmc_adapter_minus_base_ci95"].split(","))
    assert low < same["objmc_adapter_minus_base_px"] < high and low < 0 < high
    # a clear 3 px gain on every pair: the interval excludes zero, the adapter wins all 48
    better = tc.paired_difference(base - 3 + rng.normal(0, 0.5, size=48), base)
    low, high = map(float, better["objmc_adapter_minus_base_ci95"].split(","))
    assert high < 0 and better["objmc_adapter_wins"] == "48/48"
    assert abs(better["objmc_adapter_minus_base_px"] + 3) < 0.3
    assert tc.paired_difference(base, base) == tc.paired_difference(base, base)       # seeded
