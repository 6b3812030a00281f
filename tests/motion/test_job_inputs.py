"""Validated jobs -> masks/arrows at output size, and the plan reply."""
import cv2
import numpy as np
import pytest

from server.motion import (ArrowPath, MotionInputError, motion_inputs_for_job, plan_for_job, points_per_component,
                           trajectories_for_job)
from server.motion.job_inputs import decode_reference
from shared_protocol import job_body, png_image, raw_image, track, validate_job


def _png(image):
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return png_image(buf.tobytes())


def _job(reference, tracks, **params):
    body, payloads = job_body(reference, tracks, {"width": 256, "height": 192, "frames": 6, **params})
    return validate_job(body, payloads)


def _reference(w=400, h=300):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)


def test_plan_points_and_positions_follow_the_arrow_in_reference_pixels():
    ref = _reference()
    arrow = [(100, 100), (160, 100), (160, 180)]
    job = _job(raw_image(ref.tobytes(), 400, 300, 3),
               [track([[(60, 60), (140, 60), (140, 140), (60, 140)]], arrow, "ease-out")], seed=11)
    plan = plan_for_job(job)
    assert (plan["width"], plan["height"], plan["frames"]) == (400, 300, 6)
    assert (plan["output_width"], plan["output_height"], plan["seed"]) == (256, 192, 11)
    (t,) = plan["tracks"]
    points = np.array(t["points"])
    positions = np.array(t["positions"])
    assert positions.shape == (6, len(points), 2)
    np.testing.assert_allclose(positions[0], points)
    expected = ArrowPath(arrow).displacements(6, "ease-out")
    np.testing.assert_allclose(positions - positions[:1], np.broadcast_to(expected[:, None], positions.shape),
                               atol=2e-3)
    # sampled inside the polygon (reference pixels), K from the mask's share at output size
    assert points[:, 0].min() >= 59 and points[:, 0].max() <= 141
    assert points[:, 1].min() >= 59 and points[:, 1].max() <= 141
    share = motion_inputs_for_job(job).masks[0].mean()
    assert share == pytest.approx(80 * 80 / (400 * 300), rel=0.05)
    assert len(points) == points_per_component(share)


def test_plan_is_what_the_backends_use():
    ref = _reference()
    mask = np.zeros((300, 400), np.uint8)
    mask[50:250, 200:350] = 255
    job = _job(_png(ref), [track(_png(mask), [(275, 150), (200, 120)])], seed=5)
    plan = plan_for_job(job)
    traj = trajectories_for_job(job, 5)
    back = (np.array(plan["tracks"][0]["positions"]) + 0.5) * (256 / 400, 192 / 300) - 0.5
    np.testing.assert_allclose(back, traj.positions, atol=2e-3)
    assert plan_for_job(job) == plan                                   # deterministic
    assert plan_for_job(job, seed=6) != plan                           # the seed matters


@pytest.mark.parametrize("kind", ["grey", "rgba", "16bit", "bgr"])
def test_reference_png_variants_decode_to_rgb8(kind):
    rgb = _reference(64, 48)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    image = {"grey": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), "rgba": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
             "16bit": bgr.astype(np.uint16) * 257, "bgr": bgr}[kind]
    job = _job(_png(image), [track([[(5, 5), (30, 5), (30, 30)]], [(10, 10), (20, 20)])], width=64, height=64)
    out = decode_reference(job.reference)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    if kind == "grey":
        assert (out[..., 0] == out[..., 1]).all()
    else:
        np.testing.assert_array_equal(out, rgb)


def test_raw_rgba_reference_drops_alpha_and_masks_scale():
    rgba = np.dstack([_reference(40, 30), np.full((30, 40), 7, np.uint8)])
    raw_mask = np.zeros((30, 40), np.uint8)
    raw_mask[10:20, 10:20] = 1
    job = _job(raw_image(rgba.tobytes(), 40, 30, 4), [track(raw_image(raw_mask.tobytes(), 40, 30, 1),
                                                           [(15, 15), (25, 15)])], width=128, height=64)
    inputs = motion_inputs_for_job(job)
    assert inputs.reference.shape == (64, 128, 3)
    ys, xs = np.nonzero(inputs.masks[0])
    assert xs.min() >= 30 and xs.max() <= 66 and ys.min() >= 20 and ys.max() <= 43


def test_tiny_polygon_keeps_a_pixel():
    job = _job(raw_image(_reference().tobytes(), 400, 300, 3),
               [track([[(100.0, 100.0), (100.9, 100.0), (100.0, 100.9)]], [(100, 100), (120, 100)])])
    assert motion_inputs_for_job(job).masks[0].sum() >= 1


def test_undecodable_mask_names_the_field():
    job = _job(raw_image(_reference().tobytes(), 400, 300, 3), [track([[(1, 1), (50, 1), (50, 50)]], [(0, 0), (5, 5)])])
    spec = job.reference.__class__(**{**job.reference.__dict__, "format": "png", "data": b"not a png"})
    with pytest.raises(MotionInputError, match="reference.payload"):
        decode_reference(spec)
