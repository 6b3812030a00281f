"""job_inputs, piece by piece: decoding references, masks and point tracks at the output size
(each refusal names the payload's field and what was expected), the per-track options and the
plan reply's fields. Expected values come from OpenCV / numpy directly or by hand."""
from dataclasses import replace
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from server.motion import ArrowPath, MotionInputError, motion_inputs_for_job, plan_for_job, region_options
from server.motion.job_inputs import (_to_rgb8, decode_mask, decode_point_tracks, decode_reference,
                                      trajectories_for_job)
from server.motion.masks import mask_from_polygons, resize_mask
from shared_protocol import job_body, png_image, raw_image, track, validate_job
from shared_protocol.builders import point_track
from shared_protocol.validation import ImageSpec, MaskSpec, PointTracks


def png(image) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def refusal(call, *args) -> str:
    with pytest.raises(MotionInputError) as info:
        call(*args)
    return str(info.value)


def rgb(w, h, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def job(reference, tracks, **params):
    body, payloads = job_body(reference, tracks, {"width": 128, "height": 64, "frames": 4, **params})
    return validate_job(body, payloads)


# ------------------------------------------------------------------------------------ references
def test_raw_reference_keeps_its_bytes_and_drops_alpha():
    image = rgb(5, 4)
    out = decode_reference(ImageSpec(0, "raw", 5, 4, 3, image.tobytes()))
    assert out.flags.c_contiguous and out.dtype == np.uint8
    np.testing.assert_array_equal(out, image)
    rgba = np.dstack([image, np.full((4, 5), 9, np.uint8)])
    np.testing.assert_array_equal(decode_reference(ImageSpec(0, "raw", 5, 4, 4, rgba.tobytes())), image)


def test_raw_reference_of_the_wrong_size_names_both_sizes():
    assert refusal(decode_reference, ImageSpec(0, "raw", 5, 4, 3, bytes(59))) == \
        "reference.payload: raw buffer holds 59 bytes, expected 60"


def test_png_reference_refusals_name_the_payload():
    assert refusal(decode_reference, ImageSpec(0, "png", 5, 4, 3, b"\x89PNG nonsense")) == \
        "reference.payload: expected a decodable PNG"
    assert refusal(decode_reference, ImageSpec(0, "png", 6, 4, 3, png(rgb(5, 4)))) == \
        "reference.payload: PNG is 5x4, expected 6x4"
    assert refusal(decode_reference, ImageSpec(0, "png", 5, 3, 3, png(rgb(5, 4)))) == \
        "reference.payload: PNG is 5x4, expected 5x3"


def test_png_reference_is_rgb():
    image = rgb(5, 4)
    out = decode_reference(ImageSpec(0, "png", 5, 4, 3, png(image[..., ::-1])))     # OpenCV writes BGR
    np.testing.assert_array_equal(out, image)


def test_every_decoded_layout_becomes_rgb8():
    image = rgb(3, 2)
    bgr = np.ascontiguousarray(image[..., ::-1])
    np.testing.assert_array_equal(_to_rgb8(bgr, "f"), image)
    np.testing.assert_array_equal(_to_rgb8(np.dstack([bgr, np.zeros((2, 3), np.uint8)]), "f"), image)
    grey = image[..., 0]
    np.testing.assert_array_equal(_to_rgb8(grey, "f"), np.dstack([grey] * 3))
    np.testing.assert_array_equal(_to_rgb8(np.dstack([grey, np.full((2, 3), 5, np.uint8)]), "f"),
                                  np.dstack([grey] * 3))
    deep = bgr.astype(np.uint16) * 256 + 255                  # the high byte is the 8-bit value
    out = _to_rgb8(deep, "f")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, image)


def test_other_pixel_types_and_channel_counts_are_refused_naming_the_field():
    assert refusal(_to_rgb8, np.zeros((2, 3, 3), np.float32), "reference.payload") == \
        "reference.payload: expected an 8- or 16-bit image, got float32"
    assert refusal(_to_rgb8, np.zeros((2, 3, 5), np.uint8), "reference.payload") == \
        "reference.payload: expected 1 to 4 channels, got 5"


# ------------------------------------------------------------------------------------ masks
def test_polygon_mask_is_scaled_by_pixel_centres_to_the_output():
    polygon = ((2.0, 1.0), (9.0, 1.0), (9.0, 6.0), (2.0, 6.0))
    spec = MaskSpec("polygons", 10, 8, polygons=(polygon,))
    scaled = [((x + 0.5) * 3.0 - 0.5, (y + 0.5) * 0.5 - 0.5) for x, y in polygon]
    out = decode_mask(spec, 30, 4, "tracks[0].mask")
    np.testing.assert_array_equal(out, mask_from_polygons([scaled], 4, 30))
    assert out.shape == (4, 30) and out.any()


@pytest.mark.parametrize("polygon, pixel", [
    (((4.0, 2.0), (4.3, 2.0), (4.0, 2.3)), (2, 4)),                 # a sliver draws the pixel it touches
    (((-9.0, -9.0), (-8.8, -9.0), (-9.0, -8.8)), (0, 0)),           # beyond the top-left: clipped in
    (((50.0, 40.0), (50.2, 40.0), (50.0, 40.2)), (7, 9)),           # beyond the bottom-right
    (((12.0, 3.2), (12.3, 3.2), (12.0, 3.5)), (3, 9)),              # beyond the right edge, mid-height
    (((3.2, 20.0), (3.5, 20.0), (3.2, 20.3)), (7, 3)),              # below the bottom, mid-width
])
def test_a_polygon_that_draws_nothing_keeps_the_pixel_nearest_its_vertices(polygon, pixel):
    out = decode_mask(MaskSpec("polygons", 10, 8, polygons=(polygon,)), 10, 8, "m")
    assert out.sum() == 1 and out[pixel]


def test_polygon_mask_errors_name_the_polygons_field():
    spec = MaskSpec("polygons", 10, 8, polygons=(((0.0, 0.0), (1.0, 1.0)),))
    assert refusal(decode_mask, spec, 10, 8, "tracks[3].mask") == \
        "tracks[3].mask.polygons[0]: expected at least 3 (x, y) points, got shape (2, 2)"


def test_raw_mask_is_nonzero_pixels_resized_to_the_output():
    full = np.zeros((8, 10), np.uint8)
    full[2:6, 3:9] = 1
    full[0, 0] = 200
    spec = MaskSpec("bitmap", 10, 8, 1, "raw", full.tobytes())
    np.testing.assert_array_equal(decode_mask(spec, 10, 8, "m"), full > 0)
    np.testing.assert_array_equal(decode_mask(spec, 20, 4, "m"), resize_mask(full > 0, 4, 20))


def test_png_masks_read_any_channel_as_inside():
    full = np.zeros((8, 10, 3), np.uint8)
    full[1:4, 2:5, 0] = 255            # only one channel set: still inside
    full[5:7, 6:9, 2] = 1
    out = decode_mask(MaskSpec("bitmap", 10, 8, 1, "png", png(full)), 10, 8, "m")
    np.testing.assert_array_equal(out, full.max(axis=2) > 0)
    grey = full.max(axis=2)
    np.testing.assert_array_equal(decode_mask(MaskSpec("bitmap", 10, 8, 1, "png", png(grey)), 5, 4, "m"),
                                  resize_mask(grey > 0, 4, 5))


def test_bitmap_mask_refusals_name_the_payload_and_what_was_expected():
    one = np.zeros((8, 10), np.uint8)
    one[3, 3] = 1
    field = "tracks[1].mask"
    assert refusal(decode_mask, MaskSpec("bitmap", 10, 8, 1, "raw", bytes(79)), 10, 8, field) == \
        "tracks[1].mask.payload: raw mask holds 79 bytes, expected 80"
    assert refusal(decode_mask, MaskSpec("bitmap", 10, 8, 1, "png", b"junk"), 10, 8, field) == \
        "tracks[1].mask.payload: expected a decodable grayscale PNG"
    assert refusal(decode_mask, MaskSpec("bitmap", 12, 8, 1, "png", png(one)), 12, 8, field) == \
        "tracks[1].mask.payload: mask is 10x8, expected 12x8"
    assert refusal(decode_mask, MaskSpec("bitmap", 10, 9, 1, "png", png(one)), 10, 9, field) == \
        "tracks[1].mask.payload: mask is 10x8, expected 10x9"
    for spec in (MaskSpec("bitmap", 10, 8, 1, "raw", bytes(80)),
                 MaskSpec("bitmap", 10, 8, 1, "png", png(np.zeros((8, 10), np.uint8)))):
        assert refusal(decode_mask, spec, 10, 8, field) == \
            "tracks[1].mask.payload: mask is empty: expected at least one nonzero pixel"


# ------------------------------------------------------------------------------------ point tracks
def test_point_tracks_are_frames_first_in_output_pixels_with_their_visibility():
    positions = np.array([[[0, 0], [1, 2], [3, 4]], [[9, 9], [8, 7], [6, 5]]], "<f4")       # 2 points, 3 frames
    visible = np.array([[1, 0, 1], [1, 1, 0]], np.uint8)
    spec = PointTracks(0, 2, 3, positions.tobytes(), visible.tobytes())
    pts, seen = decode_point_tracks(spec, (10, 10), (20, 5))
    assert pts.shape == (3, 2, 2) and pts.dtype == np.float64
    np.testing.assert_allclose(pts, (positions.transpose(1, 0, 2) + 0.5) * (2.0, 0.5) - 0.5)
    assert seen.tolist() == [[True, True], [False, True], [True, False]]
    _, all_seen = decode_point_tracks(PointTracks(0, 2, 3, positions.tobytes()), (10, 10), (20, 5))
    assert all_seen.shape == (3, 2) and all_seen.dtype == bool and all_seen.all()
    assert seen.dtype == bool


# ------------------------------------------------------------------------------------ whole jobs
@pytest.mark.parametrize("ref, size, interpolation", [
    ((128, 64), (128, 64), None),
    ((128, 96), (64, 64), cv2.INTER_AREA),
    ((128, 64), (64, 64), cv2.INTER_AREA),            # fewer pixels, as many as a 64x64 reference
    ((128, 96), (256, 128), cv2.INTER_LINEAR),
    ((128, 96), (192, 64), cv2.INTER_LINEAR),         # the same number of pixels: not shrinking
])
def test_reference_is_resized_to_the_output_with_area_when_shrinking(ref, size, interpolation):
    image = rgb(*ref, seed=3)
    j = job(raw_image(image.tobytes(), *ref, 3), [track([[(5, 5), (30, 5), (30, 30)]], [(10, 10), (20, 12)])],
            width=size[0], height=size[1])
    inputs = motion_inputs_for_job(j)
    assert (inputs.width, inputs.height, inputs.reference_size) == (size[0], size[1], ref)
    if interpolation is None:
        np.testing.assert_array_equal(inputs.reference, image)
        return
    np.testing.assert_array_equal(inputs.reference, cv2.resize(image, size, interpolation=interpolation))
    other = cv2.INTER_LINEAR if interpolation == cv2.INTER_AREA else cv2.INTER_AREA
    assert not np.array_equal(inputs.reference, cv2.resize(image, size, interpolation=other))


def test_decoded_job_carries_every_tracks_options_at_the_output_size():
    image = rgb(64, 48)
    positions = np.stack([np.linspace([10, 10], [20, 30], 4), np.linspace([40, 5], [40, 25], 4)]).astype("<f4")
    j = job(raw_image(image.tobytes(), 64, 48, 3),
            [track([[(5, 5), (30, 5), (30, 30)]], [(10, 10), (20, 10), (20, 30)], "ease-out",
                   progress=[0, 0.5, 0.5, 1], rotate=True, edge_softness=4),
             point_track([[(30, 2), (60, 2), (60, 20)]], positions, np.array([[1, 1, 0, 1], [1, 1, 1, 1]])),
             track([[(1, 30), (20, 30), (20, 45)]], [(5, 40), (5, 20)], rotate=False)],
            width=128, height=64, frames=4, tau=-100.0)
    inputs = motion_inputs_for_job(j)
    assert (inputs.frames, inputs.tau) == (4, -100.0) and type(inputs.frames) is int and type(inputs.tau) is float
    assert inputs.fields == ["tracks[0]", "tracks[1]", "tracks[2]"]
    assert inputs.easings[0] == "ease-out"
    sx, sy = 128 / 64, 64 / 48
    np.testing.assert_allclose(inputs.arrows[0].points, (np.array([(10, 10), (20, 10), (20, 30)]) + 0.5) * (sx, sy) - 0.5)
    assert inputs.arrows[0].field == "tracks[0].arrow" and inputs.arrows[1] is None
    assert inputs.explicit[0] is None and inputs.explicit[2] is None
    pts, seen = inputs.explicit[1]
    np.testing.assert_allclose(pts, (positions.transpose(1, 0, 2) + 0.5) * (sx, sy) - 0.5, atol=1e-5)
    assert seen[:, 0].tolist() == [True, True, False, True]
    assert inputs.progress[0] == (0.0, 0.5, 0.5, 1.0) and inputs.progress[1] is None
    assert inputs.rotate == [True, False, False]
    assert inputs.edge_softness == pytest.approx([4 * (sx + sy) / 2, 0.0, 0.0])
    for mask in inputs.masks:
        assert mask.shape == (64, 128) and mask.dtype == bool

    options = region_options(inputs)
    angles = options["angles"]
    assert angles[1] is None and angles[2] is None
    np.testing.assert_allclose(angles[0], inputs.arrows[0].turn_angles(4, "ease-out", inputs.progress[0]))
    assert angles[0][-1] > 1.0                                 # the arrow turns by a right angle
    assert options["softness"] == inputs.edge_softness

    traj = trajectories_for_job(j, 4)
    np.testing.assert_allclose(traj.positions[:, traj.component == 1], pts, atol=1e-4)
    assert not traj.visible[2, traj.component == 1][0]


def test_region_options_without_the_11_fields():
    inputs = motion_inputs_for_job(job(raw_image(rgb(64, 48).tobytes(), 64, 48, 3),
                                       [track([[(5, 5), (30, 5), (30, 30)]], [(10, 10), (20, 10)])] * 2))
    bare = inputs.__class__(**{**inputs.__dict__, "rotate": None, "progress": None, "edge_softness": None})
    assert region_options(bare) == {"angles": [None, None], "softness": [0.0, 0.0]}
    turned = inputs.__class__(**{**inputs.__dict__, "rotate": [False, True], "progress": None})
    got = region_options(turned)["angles"]
    assert got[0] is None and np.array_equal(got[1], np.zeros(4))          # a straight arrow never turns


def test_plan_reports_arrows_visibility_seed_and_both_sizes():
    positions = np.stack([np.linspace([10, 10], [20, 30], 4)]).astype("<f4")
    tracks = [track([[(5, 5), (30, 5), (30, 30)]], [(10.25, 10.5), (20, 12)]),
              point_track([[(30, 2), (60, 2), (60, 20)]], positions, np.array([[1, 0, 1, 1]]))]
    j = job(raw_image(rgb(64, 48).tobytes(), 64, 48, 3), tracks, width=128, height=64)
    plan = plan_for_job(j)
    assert plan["seed"] == 0 and type(plan["seed"]) is int               # no seed in the job: 0
    assert (plan["frames"], plan["width"], plan["height"], plan["output_width"], plan["output_height"]) == \
        (4, 64, 48, 128, 64)
    first, second = plan["tracks"]
    assert (first["track"], second["track"]) == (0, 1)
    assert first["arrow"] == [[10.25, 10.5], [20.0, 12.0]] and "arrow" not in second
    assert "visible" not in first and second["visible"] == [[True], [False], [True], [True]]
    np.testing.assert_allclose(second["positions"], positions.transpose(1, 0, 2), atol=1e-3)
    assert second["points"] == second["positions"][0]
    flat = np.array(first["positions"]).ravel()
    np.testing.assert_array_equal(flat, flat.round(3))                     # rounded to 3 decimals
    assert not np.array_equal(flat, flat.round(2))
    seeded = job(raw_image(rgb(64, 48).tobytes(), 64, 48, 3), tracks, width=128, height=64, seed=77)
    assert plan_for_job(seeded)["seed"] == 77
    assert plan_for_job(seeded) == plan_for_job(j, seed=77) != plan
    assert plan_for_job(seeded, seed=0)["tracks"] == plan["tracks"]


def test_a_mask_that_fails_to_decode_names_its_track():
    box = [[(5, 5), (30, 5), (30, 30)]]
    j = job(raw_image(rgb(64, 48).tobytes(), 64, 48, 3), [track(box, [(10, 10), (20, 10)])] * 2)
    broken = replace(j.tracks[1], mask=MaskSpec("bitmap", 64, 48, 1, "raw", bytes(64 * 48)))
    with pytest.raises(MotionInputError) as info:
        motion_inputs_for_job(replace(j, tracks=(j.tracks[0], broken)))
    assert info.value.field == "tracks[1].mask.payload" and "empty" in info.value.message


def test_a_job_object_without_the_11_track_fields_decodes_with_their_defaults():
    box = [[(5, 5), (30, 5), (30, 30)]]
    j = job(raw_image(rgb(64, 48).tobytes(), 64, 48, 3), [track(box, [(10, 10), (20, 10)], "ease-in")])
    plain = SimpleNamespace(mask=j.tracks[0].mask, arrow=j.tracks[0].arrow, easing="ease-in")
    old = SimpleNamespace(reference=j.reference, params=j.params, tracks=(plain,))
    inputs = motion_inputs_for_job(old)
    assert inputs.rotate == [False] and inputs.progress == [None] and inputs.edge_softness == [0.0]
    assert inputs.explicit == [None] and inputs.arrows[0] is not None
    np.testing.assert_array_equal(trajectories_for_job(old, 3).positions, trajectories_for_job(j, 3).positions)
