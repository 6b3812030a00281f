"""The tiny TrackGo pipeline end to end on CPU: sizes, callback order, seeds, cancellation."""
from __future__ import annotations

import numpy as np
import PIL.Image
import pytest

from server.trackgo.pipeline import Cancelled

from .helpers import moving_square

FRAMES = 6
SIZE = 64
STEPS = 3


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    return PIL.Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))


def generate(pipe, image, events=None, **overrides):
    events = [] if events is None else events
    kwargs = dict(height=SIZE, width=SIZE, num_inference_steps=STEPS, decode_chunk_size=4, seed=7,
                  on_frame=lambda i, n, f: events.append(("frame", i, n, f)),
                  on_step=lambda s, n: events.append(("step", s, n)))
    kwargs.update(overrides)
    return pipe.generate(image, moving_square(FRAMES, SIZE), **kwargs)


def test_end_to_end_frames_and_callback_order(tiny_pipeline, image):
    events = []
    out = generate(tiny_pipeline, image, events)
    assert out.frames.shape == (FRAMES, SIZE, SIZE, 3) and out.frames.dtype == np.uint8
    assert out.seed == 7 and {"encode_s", "denoise_s", "decode_s"} <= out.timings.keys()
    assert [e[:3] for e in events] == [("step", s, STEPS) for s in range(1, STEPS + 1)] + \
        [("frame", i, FRAMES) for i in range(FRAMES)]
    for _, index, _, frame in events[STEPS:]:
        assert frame.shape == (SIZE, SIZE, 3) and frame.flags["C_CONTIGUOUS"]
        assert np.array_equal(frame, out.frames[index])


def test_same_seed_same_frames_other_seed_other_frames(tiny_pipeline, image):
    first = generate(tiny_pipeline, image, seed=11).frames
    again = generate(tiny_pipeline, image, seed=11).frames
    other = generate(tiny_pipeline, image, seed=12).frames
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_trajectories_change_the_video(tiny_pipeline, image):
    moving = generate(tiny_pipeline, image).frames
    still = tiny_pipeline.generate(image, np.zeros((FRAMES, SIZE, SIZE, 3), np.uint8), height=SIZE,
                                   width=SIZE, num_inference_steps=STEPS, seed=7).frames
    assert not np.array_equal(moving, still)


def test_cancel_stops_within_one_step_and_emits_nothing(tiny_pipeline, image):
    events = []
    flag = {"cancel": False}

    def on_step(step, total):
        events.append(("step", step, total))
        flag["cancel"] = True

    with pytest.raises(Cancelled):
        generate(tiny_pipeline, image, events, on_step=on_step, cancelled=lambda: flag["cancel"])
    assert [e[0] for e in events] == ["step"]
    assert tiny_pipeline.track_adapter._state.condition is None    # released for the next job


def test_cancel_while_decoding_emits_whole_chunks_only(tiny_pipeline, image):
    events = []
    flag = {"cancel": False}

    def on_frame(index, total, frame):
        events.append(index)
        flag["cancel"] = True

    with pytest.raises(Cancelled):
        generate(tiny_pipeline, image, on_frame=on_frame, decode_chunk_size=2, cancelled=lambda: flag["cancel"])
    assert events == [0, 1]


def test_tracks_from_server_motion_are_rendered_at_the_video_size(tiny_pipeline, image):
    from server.motion import trajectories_from_arrows

    mask = np.zeros((SIZE, SIZE), bool)
    mask[16:32, 16:32] = True
    tracks = trajectories_from_arrows([mask], [[(24, 24), (44, 30)]], ["linear"], FRAMES, seed=0)
    out = tiny_pipeline.generate(image, tracks, height=SIZE, width=SIZE, num_inference_steps=2, seed=1)
    assert out.frames.shape == (FRAMES, SIZE, SIZE, 3)


@pytest.mark.parametrize("points, message", [
    (np.zeros((FRAMES, 32, SIZE, 3), np.uint8), "rendered at 64x32"),
    (np.zeros((FRAMES, SIZE, SIZE, 3), np.float32), "uint8"),
    (np.zeros((1, SIZE, SIZE, 3), np.uint8), "at least 2 frames"),
])
def test_bad_trajectories_are_refused_before_any_work(tiny_pipeline, image, points, message):
    with pytest.raises(ValueError, match=message):
        tiny_pipeline.generate(image, points, height=SIZE, width=SIZE, num_inference_steps=2,
                               on_step=lambda *a: pytest.fail("denoising started"))



def test_cancelled_runs_still_free_the_offload_hooks(tiny_pipeline, image, monkeypatch):
    calls = []
    monkeypatch.setattr(tiny_pipeline, "maybe_free_model_hooks", lambda: calls.append("free"))
    steps = []
    with pytest.raises(Cancelled):
        generate(tiny_pipeline, image, on_step=lambda s, n: steps.append(s), cancelled=lambda: bool(steps))
    assert steps == [1] and calls, "a cancelled run left the cpu-offload hooks holding the models"


def test_timings_wait_for_the_device(tiny_pipeline, image, monkeypatch):
    import torch

    import server.trackgo.pipeline as pipeline_module

    real = pipeline_module._synchronize
    synced = []
    monkeypatch.setattr(pipeline_module, "_synchronize", lambda device: synced.append(device.type))
    generate(tiny_pipeline, image)
    assert synced == ["cpu", "cpu"]                  # after encoding and after denoising
    waited = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waited.append(device))
    real(torch.device("cpu"))
    real(torch.device("cuda", 0))
    assert waited == [torch.device("cuda", 0)]
