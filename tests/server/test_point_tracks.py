"""Explicit point tracks on the server: used as given by the plan, the preview and TrackGo backends."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import shared_protocol as sp
from server.backends import BackendOptions, Done, Frame, JobContext, create_backend
from server.backends.job_motion import motion_for_job
from server.motion import plan_for_job, render_trajectories

W, H, FRAMES = 128, 128, 6


def _reference():
    rng = np.random.default_rng(1)
    ref = cv2.GaussianBlur(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), (0, 0), 1.5)
    return ref


def _square_job(positions, visible=None, ref=None, out=(W, H), extra_tracks=()):
    ref = _reference() if ref is None else ref
    square = [[(30, 30), (50, 30), (50, 50), (30, 50)]]
    tracks = [sp.point_track(square, positions, visible, name="scene"), *extra_tracks]
    body, payloads = sp.job_body(sp.raw_image(ref.tobytes(), W, H, 3), tracks,
                                 {"frames": FRAMES, "width": out[0], "height": out[1], "seed": 3,
                                  "num_inference_steps": 2, "decode_chunk_size": 2})
    return sp.validate_job(body, payloads), ref


def _translating(dx, dy, n=5):
    """n points in the square, moving by (dx, dy) per frame: (n, FRAMES, 2)."""
    start = np.stack([np.linspace(32, 48, n), np.linspace(34, 46, n)], axis=1)
    steps = np.arange(FRAMES)[:, None] * np.array([dx, dy])
    return (start[:, None, :] + steps[None]).astype(np.float32)


def test_plan_returns_the_given_points_and_visibility_without_sampling():
    positions = _translating(2.0, 1.0)
    visible = np.ones((5, FRAMES), bool)
    visible[3, 2:] = False
    job, _ = _square_job(positions, visible)
    plan = plan_for_job(job)
    track = plan["tracks"][0]
    np.testing.assert_allclose(np.asarray(track["positions"]), positions.transpose(1, 0, 2), atol=1e-3)
    np.testing.assert_allclose(np.asarray(track["points"]), positions[:, 0], atol=1e-3)
    assert np.array_equal(np.asarray(track["visible"]), visible.T)


def test_points_are_scaled_to_the_output_size_like_arrows():
    positions = _translating(2.0, 1.0)
    job, _ = _square_job(positions, out=(256, 256))
    inputs, traj = motion_for_job(job, seed=0)
    assert inputs.arrows == [None]
    np.testing.assert_allclose(traj.positions, (positions.transpose(1, 0, 2) + 0.5) * 2 - 0.5, atol=1e-4)
    # the plan maps them back to reference pixels
    back = np.asarray(plan_for_job(job)["tracks"][0]["positions"])
    np.testing.assert_allclose(back, positions.transpose(1, 0, 2), atol=1e-3)


def test_point_tracks_and_arrow_tracks_mix_and_hidden_points_are_not_drawn_in_p():
    arrow_track = sp.track([[(80, 60), (100, 60), (100, 80)]], [(90, 65), (100, 70)])
    visible = np.ones((5, FRAMES), bool)
    visible[0, 1:] = False
    job, _ = _square_job(_translating(2.0, 0.0), visible, extra_tracks=[arrow_track])
    _, traj = motion_for_job(job, seed=0)
    assert traj.num_components == 2 and (traj.component == 0).sum() == 5
    assert not traj.visible[1:, 0].any() and traj.visible[:, 1:].all()
    p = render_trajectories(traj, H, W)
    x, y = np.round(traj.positions[3, 0]).astype(int)
    assert not p[3, y, x].any()                       # hidden point: nothing drawn there
    x, y = np.round(traj.positions[3, 1]).astype(int)
    assert p[3, y, x].any()


def test_preview_moves_the_region_by_the_given_trajectories():
    dx = 4.0
    job, ref = _square_job(_translating(dx, 0.0))
    backend = create_backend("preview")
    backend.load(lambda _msg: None)
    events = list(backend.run(job, JobContext("j", seed=3)))
    frames = [e.rgb for e in events if isinstance(e, Frame)]
    assert len(frames) == FRAMES and isinstance(events[-1], Done) and events[-1].info["points"] == 5
    last = frames[-1]
    shift = int(dx * (FRAMES - 1))
    # the square's interior now sits shift px to the right
    np.testing.assert_allclose(last[34:46, 34 + shift:46 + shift].astype(float), ref[34:46, 34:46].astype(float),
                               atol=3)


@pytest.mark.slow
def test_trackgo_tiny_accepts_point_tracks(tmp_path):
    backend = create_backend("trackgo-tiny", BackendOptions(extra={"cache_dir": str(tmp_path)}))
    backend.load(lambda _msg: None)
    job, _ = _square_job(_translating(2.0, 1.0), out=(64, 64))
    events = list(backend.run(job, JobContext("j", seed=3)))
    assert [e.index for e in events if isinstance(e, Frame)] == list(range(FRAMES))
    assert isinstance(events[-1], Done)
