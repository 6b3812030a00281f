"""Dual-clock denoising in the one loop (tiny random SVD, CPU): the defining invariant exactly,
UNet call counts, seeds, cancellation, odd sizes, with and without the TrackGo adapter."""
from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from diffusers import EulerDiscreteScheduler, StableVideoDiffusionPipeline

from server.trackgo.pipeline import Cancelled, DualClock, dual_clock_indices, latent_mask

from .helpers import moving_square

FRAMES = 5
SIZE = 64
STEPS = 10


@pytest.fixture(scope="module")
def svd_pipeline(tiny_dir):
    from server.trackgo.loading import load_pipeline

    return load_pipeline(tiny_dir / "svd", None, device="cpu")


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    return PIL.Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))


def motion_signal(frames=FRAMES, height=SIZE, width=SIZE, weak=0.2, strong=0.5, seed=3) -> DualClock:
    """A cut-and-drag video: a 24-px textured square moving right over a still random background."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    patch = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    video = np.repeat(background[None], frames, axis=0)
    masks = np.zeros((frames, height, width), bool)
    for i in range(frames):
        x = 4 + 4 * i
        video[i, 8:32, x:x + 24] = patch
        masks[i, 8:32, x:x + 24] = True
    return DualClock(video, masks, weak, strong)


def run(pipe, image, motion, trajectories=None, **kwargs):
    record = {}

    def on_latents(i, latents, held):
        record[i] = latents.clone()
        record["held"] = held

    kwargs.setdefault("num_inference_steps", STEPS)
    out = pipe.generate(image, trajectories, motion=motion, height=motion.video.shape[1] if motion else SIZE,
                        width=motion.video.shape[2] if motion else SIZE, decode_chunk_size=3, seed=5,
                        on_latents=on_latents, **kwargs)
    return out, record


def expected_target(pipe, held, steps, index):
    """add_noise(z_ref, n, t[index]) from a fresh scheduler; z_ref itself past the last step."""
    if index >= steps:
        return held.reference
    scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    scheduler.set_timesteps(steps)
    target = scheduler.add_noise(held.reference, held.noise, scheduler.timesteps[index:index + 1])
    # Euler's add_noise is z_ref + sigma * n: checked against the formula, not only the library
    assert torch.allclose(target, held.reference + scheduler.sigmas[index] * held.noise, atol=1e-5)
    return target


def masked_err(latents, target, mask):
    return (latents - target).abs()[mask.expand_as(latents)].max().item()


def test_held_region_equals_the_noised_motion_signal_until_release(svd_pipeline, image):
    motion = motion_signal(weak=0.2, strong=0.5)
    w, s = dual_clock_indices(0.2, 0.5, STEPS)
    assert (w, s) == (2, 5)
    out, record = run(svd_pipeline, image, motion)
    held = record["held"]
    assert held.mask.any() and not held.mask.all()
    assert sorted(k for k in record if k != "held") == list(range(w, STEPS))
    for i in range(w, s):
        target = expected_target(svd_pipeline, held, STEPS, i + 1)
        assert masked_err(record[i], target, held.mask) <= 1e-6, f"step {i}"
        outside = (record[i] - target).abs()[~held.mask.expand_as(target)]
        assert outside.max().item() > 1e-2                    # the background really denoises on its own
    for i in range(s, STEPS):                                 # released: nothing is replaced any more
        target = expected_target(svd_pipeline, held, STEPS, i + 1)
        assert masked_err(record[i], target, held.mask) > 1e-3, f"step {i} still held"


def test_release_step_is_an_ordinary_step(svd_pipeline, image):
    """Runs released at s and s + 1 agree up to step s - 1 and outside the mask at step s; inside
    the mask at step s only the later one is pinned to the target."""
    early, rec_early = run(svd_pipeline, image, motion_signal(weak=0.2, strong=0.5))
    late, rec_late = run(svd_pipeline, image, motion_signal(weak=0.2, strong=0.6))
    mask = rec_early["held"].mask.expand_as(rec_early[5])
    for i in range(2, 5):
        assert torch.equal(rec_early[i], rec_late[i])
    assert torch.equal(rec_early[5][~mask], rec_late[5][~mask])
    target = expected_target(svd_pipeline, rec_late["held"], STEPS, 6)
    assert masked_err(rec_late[5], target, rec_late["held"].mask) <= 1e-6
    assert masked_err(rec_early[5], target, rec_early["held"].mask) > 1e-3


def test_held_until_the_end_keeps_the_motion_signal_latents(svd_pipeline, image):
    out, record = run(svd_pipeline, image, motion_signal(weak=0.5, strong=1.0), num_inference_steps=4)
    held = record["held"]
    assert masked_err(record[3], held.reference, held.mask) <= 1e-6


def count_unet_calls(pipe):
    calls = []
    handle = pipe.unet.register_forward_pre_hook(lambda module, args: calls.append(1))
    return calls, handle


@pytest.mark.parametrize("weak, strong", [(0.2, 0.5), (0.0, 0.1), (0.9, 1.0)])
def test_unet_calls_are_steps_minus_w(svd_pipeline, image, weak, strong):
    calls, handle = count_unet_calls(svd_pipeline)
    try:
        out, _ = run(svd_pipeline, image, motion_signal(weak=weak, strong=strong))
        dual = len(calls)
        calls.clear()
        plain = svd_pipeline.generate(image, num_frames=FRAMES, height=SIZE, width=SIZE, num_inference_steps=STEPS,
                                      seed=5)
    finally:
        handle.remove()
    w, _ = dual_clock_indices(weak, strong, STEPS)
    assert dual == out.unet_calls == STEPS - w
    assert len(calls) == plain.unet_calls == STEPS


def test_plain_svd_is_the_parent_pipeline_latent_for_latent(svd_pipeline, image):
    _, record = run(svd_pipeline, image, None, num_frames=FRAMES, num_inference_steps=3)
    ours = record[2]
    theirs = StableVideoDiffusionPipeline.__call__(
        svd_pipeline, image, height=SIZE, width=SIZE, num_frames=FRAMES, num_inference_steps=3,
        generator=torch.Generator("cpu").manual_seed(5), output_type="latent").frames
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_same_seed_same_frames(svd_pipeline, image):
    first, _ = run(svd_pipeline, image, motion_signal())
    again, _ = run(svd_pipeline, image, motion_signal())
    other = svd_pipeline.generate(image, motion=motion_signal(), height=SIZE, width=SIZE,
                                  num_inference_steps=STEPS, seed=6)
    assert np.array_equal(first.frames, again.frames)
    assert not np.array_equal(first.frames, other.frames)


def test_cancel_mid_loop_stops_within_one_step(svd_pipeline, image):
    steps, frames = [], []
    with pytest.raises(Cancelled):
        svd_pipeline.generate(image, motion=motion_signal(), height=SIZE, width=SIZE, num_inference_steps=STEPS,
                              seed=1, on_step=lambda k, n: steps.append((k, n)), on_frame=lambda *a: frames.append(a),
                              cancelled=lambda: len(steps) >= 2)
    assert steps == [(1, 8), (2, 8)] and frames == []


def test_frames_stream_per_decoded_chunk(svd_pipeline, image):
    events = []
    out = svd_pipeline.generate(image, motion=motion_signal(), height=SIZE, width=SIZE, num_inference_steps=3,
                                decode_chunk_size=2, seed=2, on_step=lambda k, n: events.append("step"),
                                on_frame=lambda i, n, f: events.append(i))
    assert events[-FRAMES:] == list(range(FRAMES)) and set(events[:-FRAMES]) == {"step"}
    assert out.frames.shape == (FRAMES, SIZE, SIZE, 3)


def test_odd_sizes(svd_pipeline, image):
    motion = motion_signal(frames=3, height=40, width=72)
    out, record = run(svd_pipeline, image, motion, num_inference_steps=4)
    assert out.frames.shape == (3, 40, 72, 3)
    assert record["held"].mask.shape == (1, 3, 1, 5, 9)


def test_with_the_adapter_the_invariant_holds_too(tiny_pipeline, image):
    calls, handle = count_unet_calls(tiny_pipeline)
    try:
        out, record = run(tiny_pipeline, image, motion_signal(), moving_square(FRAMES, SIZE))
    finally:
        handle.remove()
    held = record["held"]
    for i in range(2, 5):
        assert masked_err(record[i], expected_target(tiny_pipeline, held, STEPS, i + 1), held.mask) <= 1e-6
    assert len(calls) == STEPS - 2
    # the adapter changes the result: the same job without trajectories runs the bare UNet
    bare, _ = run(tiny_pipeline, image, motion_signal())
    assert not np.array_equal(out.frames, bare.frames)
    assert tiny_pipeline.track_adapter.installed            # put back after the unconditioned run


def test_dual_clock_indices():
    assert dual_clock_indices(0.32, 0.42, 50) == (16, 21)
    assert dual_clock_indices(0.32, 0.42, 25) == (8, 11)
    assert dual_clock_indices(0.32, 0.42, 2) == (1, 2)       # w <= steps - 1, w < s <= steps
    assert dual_clock_indices(0.99, 1.0, 3) == (2, 3)
    for weak, strong in ((0.5, 0.5), (-0.1, 0.4), (0.2, 1.2)):
        with pytest.raises(ValueError, match="dual_clock_weak"):
            dual_clock_indices(weak, strong, 25)


def test_latent_mask_holds_cells_at_least_half_covered():
    masks = np.zeros((1, 16, 16), bool)
    masks[0, 0:8, 0:4] = True           # half of cell (0, 0)
    masks[0, 8:16, 8:11] = True         # 3/8 of cell (1, 1)
    held = latent_mask(masks, 2, 2)[0, 0, 0].numpy()
    assert held.tolist() == [[True, False], [False, False]]


def test_bad_motion_signal_is_refused(svd_pipeline, image):
    motion = motion_signal()
    motion.masks = motion.masks[:, :32]
    with pytest.raises(ValueError, match="motion.masks"):
        svd_pipeline.generate(image, motion=motion, height=SIZE, width=SIZE, num_inference_steps=2)
