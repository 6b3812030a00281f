"""The trackgo / trackgo-tiny backends: a real validated job in, streamed events out."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import shared_protocol as sp
from shared_protocol.builders import job_body, raw_image, track
from server.backends import BackendError, BackendOptions, Done, Frame, JobContext, Progress, create_backend

FRAMES = 4
SIZE = 64

pytestmark = pytest.mark.slow          # builds, saves and loads its own tiny model in a cache folder


def make_job(**params):
    rng = np.random.default_rng(0)
    reference = raw_image(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8).tobytes(), SIZE, SIZE, 3)
    square = [[[16, 16], [32, 16], [32, 32], [16, 32]]]
    body, payloads = job_body(reference, [track(square, [[24, 24], [44, 30]])],
                              {"frames": FRAMES, "width": SIZE, "height": SIZE, "num_inference_steps": 2,
                               "decode_chunk_size": 2, **params})
    return sp.validate_job(body, payloads)


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory):
    backend = create_backend("trackgo-tiny", BackendOptions(extra={"cache_dir": str(tmp_path_factory.mktemp("cache"))}))
    messages = []
    backend.load(messages.append)
    assert any("tiny" in m for m in messages)
    return backend


def test_tiny_backend_streams_frames_then_done(tiny_backend):
    events = list(tiny_backend.run(make_job(), JobContext("job1", seed=5)))
    frames = [e for e in events if isinstance(e, Frame)]
    assert [f.index for f in frames] == list(range(FRAMES))
    for frame in frames:
        assert frame.total == FRAMES and frame.rgb.shape == (SIZE, SIZE, 3) and frame.rgb.dtype == np.uint8
    steps = [e.step for e in events if isinstance(e, Progress) and e.stage == "denoising"]
    assert steps == [1, 2]
    assert events.index(next(e for e in events if isinstance(e, Progress) and e.stage == "denoising")) < \
        events.index(frames[0])
    done = events[-1]
    assert isinstance(done, Done) and done.info["seed"] == 5 and done.info["backend"] == "trackgo-tiny"
    again = [e.rgb for e in tiny_backend.run(make_job(), JobContext("job2", seed=5)) if isinstance(e, Frame)]
    assert len(again) == FRAMES
    assert all(np.array_equal(a.rgb, b) for a, b in zip(frames, again))


def test_cancel_during_denoising_ends_within_one_step(tiny_backend):
    cancel = threading.Event()
    ctx = JobContext("job3", seed=1, cancel_event=cancel)
    events = []
    for event in tiny_backend.run(make_job(num_inference_steps=4), ctx):
        events.append(event)
        if isinstance(event, Progress) and event.stage == "denoising":
            cancel.set()
    # the helper thread may already be inside step 2 when the cancel lands: it stops there
    assert [e.step for e in events if isinstance(e, Progress) and e.stage == "denoising"] in ([1], [1, 2])
    assert not any(isinstance(e, (Frame, Done)) for e in events)


def test_consumer_closing_the_generator_stops_the_job(tiny_backend):
    run = tiny_backend.run(make_job(num_inference_steps=4), JobContext("job4", seed=1))
    for event in run:
        if isinstance(event, Progress) and event.stage == "denoising":
            break
    run.close()                      # joins the helper thread; the next job must run normally
    events = list(tiny_backend.run(make_job(), JobContext("job5", seed=1)))
    assert isinstance(events[-1], Done)


def test_out_of_memory_becomes_a_clear_user_error(tiny_backend, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(tiny_backend.pipeline, "generate", boom)
    with pytest.raises(BackendError) as info:
        list(tiny_backend.run(make_job(), JobContext("job6", seed=1)))
    assert info.value.code == "out_of_memory"
    assert "smaller" in info.value.hint and "cpu-offload" in info.value.hint


def test_out_of_memory_while_loading_is_a_clear_user_error(tmp_path, monkeypatch):
    import server.trackgo.loading as loading

    def boom(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 3.00 GiB")

    monkeypatch.setattr(loading, "load_pipeline", boom)
    backend = create_backend("trackgo", BackendOptions(svd_path=str(tmp_path), adapter_path=str(tmp_path)))
    with pytest.raises(BackendError) as info:
        backend.load(lambda text: None)
    assert info.value.code == "out_of_memory" and "cpu-offload" in info.value.hint
    assert backend.pipeline is None


def test_trackgo_without_paths_says_what_to_configure():
    backend = create_backend("trackgo", BackendOptions())
    with pytest.raises(BackendError, match="svd_path and adapter_path not configured"):
        backend.load(lambda text: None)


def test_trackgo_with_a_wrong_path_names_the_expected_file(tmp_path):
    backend = create_backend("trackgo", BackendOptions(svd_path=str(tmp_path / "svd"),
                                                      adapter_path=str(tmp_path / "adapter"), device="cpu"))
    with pytest.raises(BackendError, match=r"svd_path: .*model_index\.json") as info:
        backend.load(lambda text: None)
    assert info.value.code == "model_files"
