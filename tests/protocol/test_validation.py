"""validate_job: defaults filled, and every rule rejects with the right code and field path."""

import copy
import math

import pytest

import shared_protocol as sp
from shared_protocol import messages as m

from .conftest import H, W, make_valid_job, rect_mask_png, rect_mask_raw, solid_png, write_png


def test_valid_job_is_checked_and_defaults_filled(valid_job):
    body, payloads = valid_job
    job = sp.validate_job(body, payloads, sp.Limits())
    assert (job.reference.format, job.reference.width, job.reference.height, job.reference.channels) == \
        ("png", W, H, 3)
    assert job.reference.data == payloads[0]
    first, second, third = job.tracks
    assert (first.mask.kind, first.mask.format, first.mask.data, first.easing, first.name) == \
        ("bitmap", "png", payloads[1], "ease-in-out", "ball")
    assert first.arrow.points == ((10.0, 10.0), (30.0, 12.0), (40.0, 30.0))
    assert (second.mask.format, second.mask.data, second.easing) == ("raw", payloads[2], "linear")
    assert third.mask.kind == "polygons" and third.mask.polygons == (((0.0, 40.0), (20.0, 40.0), (10.0, 47.0)),)
    assert (third.mask.width, third.mask.height) == (W, H)
    params = job.params
    assert (params.frames, params.width, params.height, params.seed, params.num_inference_steps) == (14, 256, 128, 7, 4)
    # everything not given comes from DEFAULT_PARAMS
    for name in ("backend", "fps", "motion_bucket_id", "noise_aug_strength", "min_guidance_scale",
                 "max_guidance_scale", "tau", "alpha", "decode_chunk_size"):
        assert getattr(params, name) == m.DEFAULT_PARAMS[name], name
    assert isinstance(params.tau, float) and isinstance(params.min_guidance_scale, float)


def test_defaults_follow_svd_xt_and_the_paper():
    params = sp.GenerationParams()
    assert (params.frames, params.fps, params.motion_bucket_id, params.noise_aug_strength) == (25, 7, 127, 0.02)
    assert (params.num_inference_steps, params.min_guidance_scale, params.max_guidance_scale) == (25, 1.0, 3.0)
    assert (params.width, params.height, params.alpha, params.tau) == (1024, 576, 0.2, 0.0)
    assert params.to_body() == m.DEFAULT_PARAMS


def test_missing_params_map_means_all_defaults(valid_job):
    body, payloads = valid_job
    del body["params"]
    limits = sp.Limits(max_pixels=1024 * 576)
    assert sp.validate_job(body, payloads, limits).params == sp.GenerationParams()


def test_job_is_immutable(valid_job):
    job = sp.validate_job(*valid_job)
    with pytest.raises(AttributeError):
        job.params.frames = 3


def mutate(body, path, value):
    """Set (or delete, with value=...) the item at a path like ['tracks', 1, 'arrow', 'points']."""
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value


INVALID = "invalid_field"
TOO_LARGE = "too_large"

CASES = [
    # reference image
    (["reference"], ..., INVALID, "reference"),
    (["reference"], [1], INVALID, "reference"),
    (["reference", "payload"], 9, INVALID, "reference.payload"),
    (["reference", "payload"], -1, INVALID, "reference.payload"),
    (["reference", "payload"], "0", INVALID, "reference.payload"),
    (["reference", "format"], "jpeg", INVALID, "reference.format"),
    (["reference", "width"], 65, INVALID, "reference.payload"),
    (["reference", "height"], 0, INVALID, "reference.height"),
    (["reference", "width"], 400_000, TOO_LARGE, "reference.width"),
    (["reference", "payload"], 2, INVALID, "reference.payload"),       # the raw mask is not a PNG
    # tracks
    (["tracks"], [], INVALID, "tracks"),
    (["tracks"], "all", INVALID, "tracks"),
    (["tracks", 1], "track", INVALID, "tracks[1]"),
    (["tracks", 1, "mask"], ..., INVALID, "tracks[1].mask"),
    (["tracks", 1, "mask", "kind"], "brush", INVALID, "tracks[1].mask.kind"),
    (["tracks", 1, "mask", "payload"], 5, INVALID, "tracks[1].mask.payload"),
    (["tracks", 1, "mask", "width"], 32, INVALID, "tracks[1].mask.width"),
    (["tracks", 1, "mask", "format"], "png", INVALID, "tracks[1].mask.payload"),
    (["tracks", 0, "mask", "payload"], 0, INVALID, "tracks[0].mask.payload"),  # RGB reference is no mask
    (["tracks", 0, "mask", "format"], "raw", INVALID, "tracks[0].mask.payload"),
    (["tracks", 2, "mask", "polygons"], [], INVALID, "tracks[2].mask.polygons"),
    (["tracks", 2, "mask", "polygons"], [[[0, 0], [5, 5]]], INVALID, "tracks[2].mask.polygons[0]"),
    (["tracks", 2, "mask", "polygons", 0, 1], [math.inf, 3], INVALID, "tracks[2].mask.polygons[0][1]"),
    (["tracks", 2, "mask", "polygons", 0, 1], [1, "2"], INVALID, "tracks[2].mask.polygons[0][1]"),
    (["tracks", 2, "mask", "polygons", 0, 1], [True, 2], INVALID, "tracks[2].mask.polygons[0][1]"),
    (["tracks", 2, "mask", "polygons"], [[[0, 0], [5, 5], [10, 10]]], INVALID, "tracks[2].mask.polygons"),
    (["tracks", 2, "mask", "polygons"], [[[100, 100], [200, 100], [150, 200]]], INVALID, "tracks[2].mask.polygons"),
    (["tracks", 0, "arrow"], ..., INVALID, "tracks[0].arrow"),
    (["tracks", 0, "arrow", "points"], [[1, 1]], INVALID, "tracks[0].arrow.points"),
    (["tracks", 0, "arrow", "points"], [[1, 1], [1, 1], [1, 1]], INVALID, "tracks[0].arrow.points"),
    (["tracks", 0, "arrow", "points", 0], [math.nan, 1], INVALID, "tracks[0].arrow.points[0]"),
    (["tracks", 0, "arrow", "points", 2], [1, 2, 3], INVALID, "tracks[0].arrow.points[2]"),
    (["tracks", 0, "arrow", "points", 1], [1e7, 2], INVALID, "tracks[0].arrow.points[1]"),
    (["tracks", 1, "arrow", "points"], "0,0 1,1", INVALID, "tracks[1].arrow.points"),
    (["tracks", 1, "easing"], "bounce", INVALID, "tracks[1].easing"),
    (["tracks", 1, "name"], 42, INVALID, "tracks[1].name"),
    # params: types and ranges
    (["params"], [], INVALID, "params"),
    (["params", "frames"], 1, INVALID, "params.frames"),
    (["params", "frames"], 14.0, INVALID, "params.frames"),
    (["params", "frames"], True, INVALID, "params.frames"),
    (["params", "frames"], 65, TOO_LARGE, "params.frames"),
    (["params", "fps"], 0, INVALID, "params.fps"),
    (["params", "fps"], 61, INVALID, "params.fps"),
    (["params", "motion_bucket_id"], 256, INVALID, "params.motion_bucket_id"),
    (["params", "motion_bucket_id"], -1, INVALID, "params.motion_bucket_id"),
    (["params", "noise_aug_strength"], 1.5, INVALID, "params.noise_aug_strength"),
    (["params", "noise_aug_strength"], math.nan, INVALID, "params.noise_aug_strength"),
    (["params", "num_inference_steps"], 0, INVALID, "params.num_inference_steps"),
    (["params", "num_inference_steps"], 101, INVALID, "params.num_inference_steps"),
    (["params", "min_guidance_scale"], -0.5, INVALID, "params.min_guidance_scale"),
    (["params", "max_guidance_scale"], 21, INVALID, "params.max_guidance_scale"),
    (["params", "min_guidance_scale"], 5.0, INVALID, "params.min_guidance_scale"),  # above max 3.0
    (["params", "seed"], -1, INVALID, "params.seed"),
    (["params", "seed"], 2**63, INVALID, "params.seed"),
    (["params", "seed"], "7", INVALID, "params.seed"),
    (["params", "tau"], 1.0, INVALID, "params.tau"),
    (["params", "tau"], -1e5, INVALID, "params.tau"),
    (["params", "tau"], math.inf, INVALID, "params.tau"),
    (["params", "alpha"], 0, INVALID, "params.alpha"),
    (["params", "alpha"], 1.0, INVALID, "params.alpha"),
    (["params", "width"], 250, INVALID, "params.width"),
    (["params", "height"], 0, INVALID, "params.height"),
    (["params", "width"], 4096, TOO_LARGE, "params.width"),
    (["params", "height"], 2112, TOO_LARGE, "params.height"),
    (["params", "decode_chunk_size"], 0, INVALID, "params.decode_chunk_size"),
    (["params", "backend"], "", INVALID, "params.backend"),
    (["params", "backend"], 3, INVALID, "params.backend"),
]


@pytest.mark.parametrize("path, value, code, field", CASES, ids=[f"{c[3]}={c[1]!r}"[:60] for c in CASES])
def test_each_rule_names_code_and_field(valid_job, path, value, code, field):
    body, payloads = valid_job
    body = copy.deepcopy(body)
    mutate(body, path, value)
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads, sp.Limits())
    assert (info.value.code, info.value.field) == (code, field), info.value.message
    assert "expected" in info.value.message


def test_output_pixel_budget_is_enforced(valid_job):
    body, payloads = valid_job
    body["params"].update(width=1024, height=1024)
    sp.validate_job(body, payloads, sp.Limits(max_pixels=1024 * 1024))
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads, sp.Limits(max_pixels=1024 * 576))
    assert (info.value.code, info.value.field) == ("too_large", "params.width")


def test_too_many_tracks_is_too_large(valid_job):
    body, payloads = valid_job
    body["tracks"] = body["tracks"] * 3
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads, sp.Limits(max_tracks=6))
    assert (info.value.code, info.value.field) == ("too_large", "tracks")
    assert len(sp.validate_job(body, payloads, sp.Limits(max_tracks=9)).tracks) == 9


def test_point_and_polygon_counts_are_bounded(valid_job):
    body, payloads = valid_job
    body["tracks"][0]["arrow"]["points"] = [[float(i), 0.0] for i in range(11)]
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads, sp.Limits(max_points=10))
    assert (info.value.code, info.value.field) == ("too_large", "tracks[0].arrow.points")


def test_backend_names_are_checked_only_when_the_receiver_gives_them(valid_job):
    body, payloads = valid_job
    body["params"]["backend"] = "trackgo"
    assert sp.validate_job(body, payloads).params.backend == "trackgo"
    assert sp.validate_job(body, payloads, backends={"trackgo", "preview"}).params.backend == "trackgo"
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads, backends={"preview"})
    assert (info.value.code, info.value.field) == ("invalid_field", "params.backend")
    assert "preview" in info.value.message


def test_nil_params_mean_defaults(valid_job):
    body, payloads = valid_job
    body["params"] = {"seed": None, "backend": None, "decode_chunk_size": None, "width": 256, "height": 128}
    params = sp.validate_job(body, payloads).params
    assert (params.seed, params.backend, params.decode_chunk_size) == (None, None, None)


def test_integers_are_accepted_for_float_params(valid_job):
    body, payloads = valid_job
    body["params"].update(tau=-100, max_guidance_scale=3)
    params = sp.validate_job(body, payloads).params
    assert params.tau == -100.0 and isinstance(params.tau, float)


def test_raw_reference_needs_channels_and_exact_size():
    def job(data, channels):
        ref = sp.raw_image(data, 4, 2, channels)
        return sp.job_body(ref, [sp.track([[[0, 0], [4, 0], [4, 2]]], [[0, 0], [2, 1]])], {"width": 64, "height": 64})

    assert sp.validate_job(*job(bytes(4 * 2 * 4), 4)).reference.channels == 4
    for data, channels, field in ((bytes(4 * 2 * 3 - 1), 3, "reference.payload"),
                                  (bytes(4 * 2 * 2), 2, "reference.channels")):
        with pytest.raises(sp.ProtocolError) as info:
            sp.validate_job(*job(data, channels))
        assert info.value.field == field
    body, payloads = job(bytes(24), 3)
    del body["reference"]["channels"]
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert (info.value.code, info.value.field) == ("invalid_field", "reference.channels")


def test_png_declared_size_must_match_its_header(reference_png):
    body, payloads = sp.job_body(sp.png_image(reference_png), [sp.track([[[0, 0], [9, 0], [9, 9]]], [[0, 0], [1, 1]])])
    body["reference"]["height"] = H + 1
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert info.value.field == "reference.payload" and f"{W}x{H}" in info.value.message


@pytest.mark.parametrize("mask", [
    lambda: sp.png_image(rect_mask_png(W, H, (0, 0, 0, 0))),
    lambda: sp.raw_image(bytes(W * H), W, H, 1),
], ids=["png", "raw"])
def test_empty_masks_are_rejected(reference_png, mask):
    body, payloads = sp.job_body(sp.png_image(reference_png), [sp.track(mask(), [[0, 0], [5, 5]])])
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert (info.value.code, info.value.field) == ("invalid_field", "tracks[0].mask.payload")
    assert "empty" in info.value.message


@pytest.mark.parametrize("filter_type", [0, 1, 2])
def test_png_mask_emptiness_is_seen_through_scanline_filters(reference_png, filter_type):
    one_pixel = rect_mask_png(W, H, (W - 1, H - 1, W, H), filter_type)
    body, payloads = sp.job_body(sp.png_image(reference_png), [sp.track(sp.png_image(one_pixel), [[0, 0], [5, 5]])])
    assert sp.validate_job(body, payloads).tracks[0].mask.data == one_pixel


def test_one_bit_png_masks_are_accepted(reference_png):
    rows = [bytes([0b10000000]) + bytes((W + 7) // 8 - 1) for _ in range(H)]
    mask = write_png(rows, W, H, color_type=0, bit_depth=1)
    body, payloads = sp.job_body(sp.png_image(reference_png), [sp.track(sp.png_image(mask), [[0, 0], [5, 5]])])
    assert sp.validate_job(body, payloads).tracks[0].mask.format == "png"


def test_colour_png_masks_are_rejected(reference_png):
    mask = solid_png(W, H, color_type=2, value=255)
    body, payloads = sp.job_body(sp.png_image(reference_png), [sp.track(sp.png_image(mask), [[0, 0], [5, 5]])])
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert info.value.field == "tracks[0].mask.payload" and "grayscale" in info.value.message


def test_unknown_fields_from_a_newer_minor_are_ignored(valid_job):
    body, payloads = valid_job
    body["future"] = {"anything": [1, 2]}
    body["reference"]["colorspace"] = "srgb"
    body["tracks"][0]["depth"] = 3.0
    body["tracks"][0]["enabled"] = False
    body["tracks"][0]["arrow"]["pressure"] = [1, 1, 1]
    body["params"]["cfg_rescale"] = 0.7
    # compared with a job built afresh: `valid_job` is the very dict just mutated
    plain_body, plain_payloads = make_valid_job()
    assert "future" not in plain_body and "depth" not in plain_body["tracks"][0]
    assert sp.validate_job(body, payloads) == sp.validate_job(plain_body, plain_payloads)


def test_payloads_may_be_memoryviews(valid_job):
    body, payloads = valid_job
    job = sp.validate_job(body, [memoryview(p) for p in payloads])
    assert job.reference.data == payloads[0] and isinstance(job.reference.data, bytes)


def test_raw_mask_helper_sizes(reference_png):
    mask = sp.raw_image(rect_mask_raw(W, H, (1, 1, 3, 3)), W, H, 1)
    body, payloads = sp.job_body(sp.png_image(reference_png), [sp.track(mask, [[0, 0], [5, 5]])])
    assert sp.validate_job(body, payloads).tracks[0].mask.data == mask.data
