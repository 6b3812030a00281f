"""The ``dualclock`` backend on the tiny random SVD, loaded through the real loading code: jobs,
the welcome's params list, cancellation, out-of-memory, bad clocks, and the server route."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import shared_protocol as sp
from shared_protocol.builders import job_body, raw_image, track
from server.backends import BackendError, BackendOptions, Done, Frame, JobContext, Progress, create_backend
from server.trackgo.pipeline import dual_clock_indices
from tests.server.conftest import client_factory, server_factory  # noqa: F401  (fixtures)

FRAMES = 4
SIZE = 64
STEPS = 5

slow = pytest.mark.slow          # loads the tiny model (the clock validation tests do not)


def job_parts(**params):
    rng = np.random.default_rng(0)
    reference = raw_image(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8).tobytes(), SIZE, SIZE, 3)
    square = [[[12, 12], [36, 12], [36, 36], [12, 36]]]
    return job_body(reference, [track(square, [[24, 24], [44, 34]])],
                    {"frames": FRAMES, "width": SIZE, "height": SIZE, "num_inference_steps": STEPS,
                     "decode_chunk_size": 2, **params})


def make_job(**params):
    return sp.validate_job(*job_parts(**params))


@pytest.fixture(scope="module")
def backend(tiny_dir):
    backend = create_backend("dualclock", BackendOptions(svd_path=str(tiny_dir / "svd"), device="cpu"))
    backend.load(lambda text: None)
    return backend


@slow
def test_job_streams_frames_then_done_with_fewer_unet_calls(backend):
    events = list(backend.run(make_job(dual_clock_weak=0.4, dual_clock_strong=0.8), JobContext("j1", seed=3)))
    frames = [e for e in events if isinstance(e, Frame)]
    assert [f.index for f in frames] == list(range(FRAMES))
    assert all(f.rgb.shape == (SIZE, SIZE, 3) and f.rgb.dtype == np.uint8 for f in frames)
    w, _ = dual_clock_indices(0.4, 0.8, STEPS)
    steps = [(e.step, e.total) for e in events if isinstance(e, Progress) and e.stage == "denoising"]
    assert steps == [(k, STEPS - w) for k in range(1, STEPS - w + 1)]
    done = events[-1]
    assert isinstance(done, Done) and done.info["backend"] == "dualclock" and done.info["unet_calls"] == STEPS - w
    again = [e.rgb for e in backend.run(make_job(dual_clock_weak=0.4, dual_clock_strong=0.8),
                                        JobContext("j2", seed=3)) if isinstance(e, Frame)]
    assert all(np.array_equal(a.rgb, b) for a, b in zip(frames, again))


@slow
def test_params_list_what_the_backend_honours(backend, tiny_dir):
    assert {"dual_clock_weak", "dual_clock_strong", "num_inference_steps"} <= set(backend.params)
    assert not {"alpha", "tau", "background_follow"} & set(backend.params)
    with_adapter = create_backend("dualclock", BackendOptions(svd_path=str(tiny_dir / "svd"),
                                                              adapter_path=str(tiny_dir / "adapter")))
    assert {"alpha", "tau", "dual_clock_weak"} <= set(with_adapter.params)
    assert set(create_backend("preview").params) == {"backend", "frames", "width", "height", "seed", "tau",
                                                     "background_follow"}
    assert set(backend.params) <= set(sp.DEFAULT_PARAMS)


@slow
def test_with_the_adapter_trackgo_and_dual_clock_run_together(tiny_dir):
    backend = create_backend("dualclock", BackendOptions(svd_path=str(tiny_dir / "svd"),
                                                         adapter_path=str(tiny_dir / "adapter"), device="cpu"))
    backend.load(lambda text: None)
    assert backend.pipeline.track_adapter is not None
    events = list(backend.run(make_job(num_inference_steps=3), JobContext("j3", seed=1)))
    assert isinstance(events[-1], Done) and len([e for e in events if isinstance(e, Frame)]) == FRAMES


@slow
def test_cancel_during_denoising_ends_within_one_step(backend):
    cancel = threading.Event()
    events = []
    for event in backend.run(make_job(dual_clock_weak=0.0, dual_clock_strong=0.5, num_inference_steps=6),
                             JobContext("j4", seed=1, cancel_event=cancel)):
        events.append(event)
        if isinstance(event, Progress) and event.stage == "denoising":
            cancel.set()
    assert [e.step for e in events if isinstance(e, Progress) and e.stage == "denoising"] in ([1], [1, 2])
    assert not any(isinstance(e, (Frame, Done)) for e in events)


@slow
def test_out_of_memory_is_the_trackgo_error(backend, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(backend.pipeline, "generate", boom)
    with pytest.raises(BackendError) as info:
        list(backend.run(make_job(), JobContext("j5", seed=1)))
    assert info.value.code == "out_of_memory" and "cpu-offload" in info.value.hint


def test_without_svd_path_says_what_to_configure():
    with pytest.raises(BackendError, match="svd_path not configured") as info:
        create_backend("dualclock", BackendOptions()).load(lambda text: None)
    assert info.value.code == "not_configured" and "no other weights" in info.value.hint


@pytest.mark.parametrize("params, field", [
    ({"dual_clock_weak": 0.5, "dual_clock_strong": 0.5}, "params.dual_clock_strong"),
    ({"dual_clock_weak": 0.6}, "params.dual_clock_weak"),
    ({"dual_clock_weak": -0.1}, "params.dual_clock_weak"),
    ({"dual_clock_strong": 1.5}, "params.dual_clock_strong"),
    ({"dual_clock_weak": 1.0, "dual_clock_strong": 1.0}, "params.dual_clock_weak"),
    ({"dual_clock_strong": "late"}, "params.dual_clock_strong"),
])
def test_bad_clocks_are_invalid_field_naming_the_field(params, field):
    with pytest.raises(sp.ProtocolError) as info:
        make_job(**params)
    assert info.value.code == "invalid_field" and info.value.field == field


@slow
def test_server_route_welcome_params_and_a_job(server_factory, client_factory, tiny_dir):  # noqa: F811
    server = server_factory(backend="dualclock", svd_path=str(tiny_dir / "svd"), device="cpu")
    client = client_factory(server.endpoint)
    welcome = client.hello()
    assert welcome.body["protocol"] == [1, 1]
    entry = welcome.body["backends"][0]
    assert entry["name"] == "dualclock" and "dual_clock_strong" in entry["params"]
    body, payloads = job_parts(seed=4)
    stream = client.run_job(sp.Message(sp.messages.SUBMIT, body=body, payloads=payloads), timeout=120)
    assert stream.final.type == "done", stream.final.body
    assert [f.body["index"] for f in stream.frames] == list(range(FRAMES))
    assert stream.final.body["params"]["dual_clock_weak"] == sp.DEFAULT_PARAMS["dual_clock_weak"]
    bad_body, bad_payloads = job_parts(dual_clock_weak=0.9, dual_clock_strong=0.2)
    bad = client.submit(sp.Message(sp.messages.SUBMIT, body=bad_body, payloads=bad_payloads))
    client.wait_all([bad], 10)
    assert bad.rejected is not None and bad.rejected.body["error"]["field"] == "params.dual_clock_strong"
