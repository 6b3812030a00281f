"""The preview as the server sees it: a validated job in, events out (docs/architecture.md)."""
import threading

import cv2
import numpy as np
import pytest

from server.backends import BackendError, Done, Frame, JobContext, Progress, create_backend
from server.backends.base import Backend
from server.backends.preview import render_preview
from server.motion import motion_inputs_for_job
from shared_protocol import job_body, png_image, raw_image, track, validate_job
from tests.preview.conftest import photo


def _png(image):
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image)
    assert ok
    return png_image(buf.tobytes())


def make_job(params=None, ref_size=(600, 400), raw=False):
    w, h = ref_size
    ref = photo("coffee", w, h)
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (w // 3, h // 2), h // 6, 255, -1)
    reference = raw_image(ref.tobytes(), w, h, 3) if raw else _png(ref)
    tracks = [track(_png(mask), [(w // 3, h // 2), (w // 2, h // 2 + h // 10)], "ease-in-out"),
              track([[(w * 0.7, h * 0.2), (w * 0.85, h * 0.2), (w * 0.8, h * 0.4)]],
                    [(w * 0.78, h * 0.27), (w * 0.7, h * 0.35), (w * 0.6, h * 0.3)], "linear")]
    body, payloads = job_body(reference, tracks, {"width": 512, "height": 320, "frames": 8, "tau": -1e4,
                                                  **(params or {})})
    return validate_job(body, payloads), ref


def run_all(job, seed=7, cancel_after=None):
    backend = create_backend("preview")
    assert isinstance(backend, Backend) and backend.name == "preview"
    messages = []
    backend.load(messages.append)
    assert messages and "preview" in messages[0]
    event = threading.Event()
    ctx = JobContext("job-1", seed, event)
    events = []
    for ev in backend.run(job, ctx):
        events.append(ev)
        if cancel_after is not None and sum(isinstance(e, Frame) for e in events) == cancel_after:
            ctx.cancel()
    return events


def test_run_yields_progress_frames_in_order_then_done():
    job, _ = make_job()
    events = run_all(job)
    frames = [e for e in events if isinstance(e, Frame)]
    assert isinstance(events[0], Progress) and isinstance(events[-1], Done)
    assert [f.index for f in frames] == list(range(8)) and all(f.total == 8 for f in frames)
    for f in frames:
        assert f.rgb.dtype == np.uint8 and f.rgb.shape == (320, 512, 3) and f.rgb.flags.c_contiguous
    assert events[-1].info["backend"] == "preview"


def test_run_matches_the_plain_function_and_is_deterministic():
    job, _ = make_job()
    a = np.stack([e.rgb for e in run_all(job, seed=3) if isinstance(e, Frame)])
    b = np.stack([e.rgb for e in run_all(job, seed=3) if isinstance(e, Frame)])
    np.testing.assert_array_equal(a, b)
    inputs = motion_inputs_for_job(job)
    direct = render_preview(inputs.reference, inputs.masks, inputs.arrows, inputs.easings, inputs.frames,
                            inputs.tau, seed=3)
    np.testing.assert_array_equal(a, direct)


def test_cancel_stops_between_frames():
    job, _ = make_job()
    events = run_all(job, cancel_after=3)
    frames = [e for e in events if isinstance(e, Frame)]
    assert len(frames) == 3
    assert not any(isinstance(e, Done) for e in events)


def test_job_coordinates_are_scaled_from_reference_to_output():
    job, _ = make_job(ref_size=(600, 400))
    inputs = motion_inputs_for_job(job)
    assert inputs.reference.shape == (320, 512, 3)
    assert all(m.shape == (320, 512) for m in inputs.masks)
    # arrow tail (200, 200) in a 600x400 reference -> pixel-centre scaling to 512x320
    np.testing.assert_allclose(inputs.arrows[0].tail, ((200 + 0.5) * 512 / 600 - 0.5, (200 + 0.5) * 0.8 - 0.5))
    # the bitmap disc keeps its place and roughly its area (scaled by 512*320 / (600*400))
    ys, xs = np.nonzero(inputs.masks[0])
    assert abs(xs.mean() - inputs.arrows[0].tail[0]) < 1.5 and abs(ys.mean() - inputs.arrows[0].tail[1]) < 1.5
    expected_area = np.pi * 66 ** 2 * (512 * 320) / (600 * 400)
    assert abs(inputs.masks[0].sum() / expected_area - 1) < 0.05
    assert inputs.easings == ["ease-in-out", "linear"] and inputs.tau == -1e4


@pytest.mark.parametrize("ref_size, out", [((600, 400), (256, 448)), ((300, 500), (640, 384)), ((640, 360), (1024, 576))])
def test_other_sizes_and_aspects_through_the_job_path(ref_size, out):
    w, h = out
    job, _ = make_job({"width": w, "height": h, "frames": 3}, ref_size=ref_size, raw=True)
    frames = [e for e in run_all(job) if isinstance(e, Frame)]
    assert len(frames) == 3 and frames[0].rgb.shape == (h, w, 3)


def test_raw_and_png_references_agree():
    a, _ = make_job(raw=False)
    b, _ = make_job(raw=True)
    np.testing.assert_array_equal(motion_inputs_for_job(a).reference, motion_inputs_for_job(b).reference)


def test_centre_of_moved_region_follows_the_arrow_through_the_job_path():
    job, _ = make_job({"frames": 6})
    inputs = motion_inputs_for_job(job)
    frames = [e.rgb for e in run_all(job) if isinstance(e, Frame)]
    from server.evaluation.objmc import objmc_for_video
    disps = [a.displacements(6, e) for a, e in zip(inputs.arrows, inputs.easings)]
    assert objmc_for_video(frames, inputs.masks, displacements=disps).value <= 1.0


def _job_with_undecodable_mask():
    job, _ = make_job()
    # a mask PNG that passes the header check but does not decode
    bad_mask = job.tracks[0].mask.__class__(**{**job.tracks[0].mask.__dict__, "data": b"\x89PNG\r\n\x1a\n" + b"0" * 20})
    bad_track = job.tracks[0].__class__(**{**job.tracks[0].__dict__, "mask": bad_mask})
    return job.__class__(reference=job.reference, tracks=(bad_track,) + job.tracks[1:], params=job.params)


def test_bad_job_input_is_a_backend_error_naming_the_field():
    with pytest.raises(BackendError, match=r"tracks\[0\]\.mask\.payload"):
        run_all(_job_with_undecodable_mask())


def test_shared_job_motion_step_turns_bad_input_into_invalid_field():
    # The step both the preview and the TrackGo backend start with.
    from server.backends.job_motion import motion_for_job

    with pytest.raises(BackendError, match=r"tracks\[0\]\.mask\.payload") as err:
        motion_for_job(_job_with_undecodable_mask(), seed=7)
    assert err.value.code == "invalid_field"
    inputs, traj = motion_for_job(make_job()[0], seed=7)
    assert len(inputs.masks) == int(traj.component.max()) + 1
