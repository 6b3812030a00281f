"""Building a job from captured pixels (``blender_addon.io.job``): thresholds, shapes, the
parameters that travel and the errors that name the track."""
from __future__ import annotations

import numpy as np
import pytest

import shared_protocol as sp
from blender_addon.io import job as io_job
from blender_addon.io.job import JobInputError, TrackInput, build_job, params_body

W, H = 32, 16


def ref(channels=3):
    return np.arange(H * W * channels, dtype=np.uint8).reshape(H, W, channels)


def square(value=255, dtype=np.uint8):
    m = np.zeros((H, W), dtype)
    m[4:8, 4:10] = value
    return m


def mask_of(body, payloads, i=0):
    spec = body["tracks"][i]["mask"]
    assert spec["kind"] == "bitmap" and (spec["width"], spec["height"]) == (W, H)
    return np.frombuffer(payloads[spec["payload"]], np.uint8).reshape(H, W)


def test_uint8_masks_are_inside_from_half_coverage_on():
    m = square(128)
    m[0, 0] = 127                        # just under half: outside
    body, payloads = build_job(ref(), [TrackInput("A", m, np.array([[5, 5], [20, 5]]))], {})
    out = mask_of(body, payloads)
    assert set(np.unique(out)) == {0, 255}
    assert (out[4:8, 4:10] == 255).all() and out.sum() == 24 * 255 and out[0, 0] == 0
    assert io_job.MASK_THRESHOLD == 128


def test_float_masks_are_inside_above_one_half_and_bool_masks_as_they_are():
    m = square(0.51, np.float32)
    m[0, 0] = 0.5                        # exactly half of a float: outside
    body, payloads = build_job(ref(), [TrackInput("A", m, [[5, 5], [20, 5]])], {})
    out = mask_of(body, payloads)
    assert out[0, 0] == 0 and out.sum() == 24 * 255
    body, payloads = build_job(ref(), [TrackInput("A", square(True, bool), [[5, 5], [20, 5]])], {})
    assert mask_of(body, payloads).sum() == 24 * 255
    m = square(3, np.int32)              # other integer masks: nonzero is inside
    body, payloads = build_job(ref(), [TrackInput("A", m, [[5, 5], [20, 5]])], {})
    assert mask_of(body, payloads).sum() == 24 * 255


def test_mask_shape_errors_name_the_track_and_both_sizes():
    arrow = [[5, 5], [20, 5]]
    with pytest.raises(JobInputError, match=r"^track 'A': mask is 10x4, expected the reference size 32x16$"):
        build_job(ref(), [TrackInput("A", np.ones((4, 10), np.uint8) * 255, arrow)], {})
    with pytest.raises(JobInputError, match=r"^track 'A': mask is \?x32, expected the reference size 32x16$"):
        build_job(ref(), [TrackInput("A", np.ones(32, np.uint8), arrow)], {})
    with pytest.raises(JobInputError, match=r"^track 'B': mask is empty \(nothing at least half inside\)$"):
        build_job(ref(), [TrackInput("B", square(100), arrow)], {})


def test_the_reference_travels_raw_with_its_channels():
    for channels in (3, 4):
        r = ref(channels)
        body, payloads = build_job(r, [TrackInput("A", square(), [[5, 5], [20, 5]])], {})
        assert body["reference"] == {"payload": 0, "format": "raw", "width": W, "height": H, "channels": channels}
        assert payloads[0] == r.tobytes()
    r = ref()[:, ::2]                    # a strided view is sent as its pixels, contiguous
    body, payloads = build_job(r, [TrackInput("A", np.ones((H, W // 2), np.uint8) * 255, [[1, 1], [5, 5]])], {})
    assert payloads[0] == np.ascontiguousarray(r).tobytes()


@pytest.mark.parametrize("bad", [np.zeros((H, W, 3), np.float32), np.zeros((H, W), np.uint8),
                                 np.zeros((H, W, 2), np.uint8), np.zeros((H, W, 5), np.uint8),
                                 np.zeros((1, H, W, 3), np.uint8)])
def test_a_reference_that_is_not_an_rgb_image_is_refused(bad):
    with pytest.raises(JobInputError, match=r"^reference: expected an \(H, W, 3\) uint8 image, got "
                                            + str(bad.dtype) + " " + str(bad.shape).replace("(", r"\(").replace(")", r"\)")):
        build_job(bad, [TrackInput("A", square(), [[5, 5], [20, 5]])], {})


def test_no_tracks_is_refused():
    with pytest.raises(JobInputError, match=r"^tracks: expected at least one enabled motion track with a mask and an arrow$"):
        build_job(ref(), [], {})


@pytest.mark.parametrize("arrow", [[[5, 5]], [[1, 2, 3], [4, 5, 6]], [1, 2, 3, 4], [[[1, 2]], [[3, 4]]]])
def test_an_arrow_needs_two_xy_points(arrow):
    shape = np.asarray(arrow, dtype=np.float64).shape
    with pytest.raises(JobInputError, match=r"^track 'A': arrow needs at least 2 points, got shape "
                                            + str(shape).replace("(", r"\(").replace(")", r"\)") + "$"):
        build_job(ref(), [TrackInput("A", square(), arrow)], {})


def test_arrow_track_fields_travel_in_the_body():
    tr = TrackInput("Ball", square(), np.array([[5.12345, 5.0], [20.0, 5.9876]]), "ease-out", rotate=True,
                    edge_softness=2.5)
    body, payloads = build_job(ref(), [tr, TrackInput("Cup", square(), [[1, 1], [2, 2], [3, 3]])], {"frames": 8})
    ball, cup = body["tracks"]
    assert ball["arrow"]["points"] == [[5.123, 5.0], [20.0, 5.988]]
    assert ball["easing"] == "ease-out" and ball["name"] == "Ball"
    assert ball["rotate"] is True and ball["edge_softness"] == 2.5
    assert cup["easing"] == "linear" and "rotate" not in cup and "edge_softness" not in cup
    assert cup["mask"]["payload"] == 2 and len(payloads) == 3
    assert cup["arrow"]["points"] == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]


def test_point_tracks_carry_their_points_and_visibility():
    pts = np.zeros((2, 8, 2), np.float64)
    pts[:, :, 0] = np.arange(8)
    pts[1, :, 1] = 3.5
    vis = np.ones((2, 8), bool)
    vis[1, 3] = False
    tr = TrackInput("Obj", square(), None, points=pts, visible=vis)
    body, payloads = build_job(ref(), [tr], {"frames": 8})
    (t,) = body["tracks"]
    assert t["name"] == "Obj" and "arrow" not in t
    assert t["points"]["count"] == 2 and t["points"]["frames"] == 8
    assert np.array_equal(np.frombuffer(payloads[t["points"]["payload"]], "<f4").reshape(2, 8, 2), pts)
    assert t["points"]["visible"] == vis.astype(np.uint8).tobytes()
    assert mask_of(body, payloads).sum() == 24 * 255
    with pytest.raises(JobInputError, match=r"^track 'Obj': mask is empty"):
        build_job(ref(), [TrackInput("Obj", square(0), None, points=pts)], {"frames": 8})
    body, _ = build_job(ref(), [TrackInput("Obj", square(), None, points=pts)], {"frames": 8})
    assert "visible" not in body["tracks"][0]["points"]


def test_a_point_track_does_not_end_the_list_of_tracks():
    pts = np.zeros((1, 8, 2))
    body, payloads = build_job(ref(), [TrackInput("Obj", square(), None, points=pts),
                                       TrackInput("Ball", square(), [[5, 5], [20, 5]])], {"frames": 8})
    assert [t["name"] for t in body["tracks"]] == ["Obj", "Ball"] and "arrow" in body["tracks"][1]


def test_float32_arrows_are_rounded_as_the_numbers_they_stand_for():
    arrow = np.array([[5.1234, 5.0], [20.5678, 7.25]], np.float32)
    body, _ = build_job(ref(), [TrackInput("A", square(), arrow)], {})
    assert body["tracks"][0]["arrow"]["points"] == [[5.123, 5.0], [20.568, 7.25]]


def test_only_known_parameters_travel_as_plain_python_values():
    assert params_body({"frames": np.int64(8), "seed": None, "max_guidance_scale": np.float32(2.5), "nonsense": 1,
                        "fps": 7}) == {"frames": 8, "max_guidance_scale": 2.5, "fps": 7}
    out = params_body({"frames": np.int32(4)})
    assert type(out["frames"]) is int
    assert params_body({}) == {}
    assert set(sp.messages.DEFAULT_PARAMS) >= {"frames", "seed"}


def test_the_servers_limits_are_checked_before_sending():
    tr = TrackInput("A", square(), [[5, 5], [20, 5]])
    build_job(ref(), [tr], {"frames": 8})
    with pytest.raises(JobInputError, match=r"params\.frames"):
        build_job(ref(), [tr], {"frames": 8}, limits=sp.Limits(max_frames=4))
    with pytest.raises(JobInputError, match=r"^tracks: "):
        build_job(ref(), [tr, tr, tr], {}, limits=sp.Limits(max_tracks=2))


def test_a_protocol_error_names_the_track_by_its_name():
    body, payloads = build_job(ref(), [TrackInput("A", square(), [[5, 5], [20, 5]]),
                                       TrackInput("Cup", square(), [[5, 5], [20, 5]])], {})
    body["tracks"][1]["easing"] = "wobbly"
    with pytest.raises(JobInputError, match=r"^track 'Cup' \(tracks\[1\]\.easing\): "):
        io_job.check(body, payloads)
    assert io_job.check(dict(body, tracks=body["tracks"][:1]), payloads[:2]) is not None
    assert io_job.describe({"message": "m", "field": "tracks[0].x"}, [7]) == "track '7' (tracks[0].x): m"
    with pytest.raises(JobInputError, match=r"tracks"):
        io_job.check({"reference": body["reference"], "params": {}}, payloads[:1])   # no tracks at all
