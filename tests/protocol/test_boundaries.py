"""Exact boundaries: every limit and range accepts its bound and refuses one step past it.

An off-by-one (``>=`` for ``>``, a limit of ``max_frames - 1``) passes every test that only uses
values far from the bound; these tests sit on it.
"""

import copy

import pytest

import shared_protocol as sp
from shared_protocol.messages import PARAM_RANGES, SIZE_MULTIPLE

from .conftest import H, W, make_valid_job


def job_with(**params):
    body, payloads = make_valid_job()
    body["params"].update(params)
    return body, payloads


def refused(body, payloads, limits=sp.Limits()) -> sp.ProtocolError:
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads, limits)
    return info.value


@pytest.mark.parametrize("max_frames", [14, 25, 64])
def test_max_frames_is_accepted_and_one_more_is_too_large(max_frames):
    limits = sp.Limits(max_frames=max_frames)
    assert sp.validate_job(*job_with(frames=max_frames), limits).params.frames == max_frames
    error = refused(*job_with(frames=max_frames + 1), limits)
    assert (error.code, error.field) == ("too_large", "params.frames")
    assert f"at most {max_frames} frames" in error.message


def test_default_limits_take_exactly_64_frames():
    assert sp.validate_job(*job_with(frames=64)).params.frames == 64
    assert refused(*job_with(frames=65)).code == "too_large"


@pytest.mark.parametrize("name", ["width", "height"])
def test_output_size_at_its_maximum_is_accepted(name):
    limits = sp.Limits(max_width=512, max_height=512, max_pixels=512 * 512)
    other = "height" if name == "width" else "width"
    assert getattr(sp.validate_job(*job_with(**{name: 512, other: 64}), limits).params, name) == 512
    error = refused(*job_with(**{name: 512 + SIZE_MULTIPLE, other: 64}), limits)
    assert (error.code, error.field) == ("too_large", f"params.{name}")


def test_output_pixels_at_the_budget_are_accepted():
    limits = sp.Limits(max_pixels=512 * 256)
    assert sp.validate_job(*job_with(width=512, height=256), limits).params.width == 512
    error = refused(*job_with(width=512, height=256 + SIZE_MULTIPLE), limits)
    assert (error.code, error.field) == ("too_large", "params.width")
    # one pixel of budget short is refused too
    assert refused(*job_with(width=512, height=256), sp.Limits(max_pixels=512 * 256 - 1)).code == "too_large"


def test_size_must_be_a_multiple_of_64():
    assert sp.validate_job(*job_with(width=SIZE_MULTIPLE, height=SIZE_MULTIPLE)).params.width == SIZE_MULTIPLE
    for width in (SIZE_MULTIPLE + 1, 2 * SIZE_MULTIPLE - 1):
        error = refused(*job_with(width=width))
        assert (error.code, error.field) == ("invalid_field", "params.width")


def test_track_count_at_the_limit_is_accepted():
    body, payloads = make_valid_job()
    three = len(body["tracks"])
    assert len(sp.validate_job(body, payloads, sp.Limits(max_tracks=three)).tracks) == three
    error = refused(body, payloads, sp.Limits(max_tracks=three - 1))
    assert (error.code, error.field) == ("too_large", "tracks")


def test_point_count_at_the_limit_is_accepted():
    body, payloads = make_valid_job()
    body["tracks"][0]["arrow"]["points"] = [[float(i), 0.0] for i in range(10)]
    assert len(sp.validate_job(body, payloads, sp.Limits(max_points=10)).tracks[0].arrow.points) == 10
    error = refused(body, payloads, sp.Limits(max_points=9))
    assert (error.code, error.field) == ("too_large", "tracks[0].arrow.points")
    # an arrow needs two points, a polygon three
    body["tracks"][0]["arrow"]["points"] = [[0, 0], [1, 1]]
    assert sp.validate_job(body, payloads).tracks[0].arrow.points == ((0.0, 0.0), (1.0, 1.0))
    body["tracks"][2]["mask"]["polygons"] = [[[0, 0], [9, 0], [0, 9]]]
    assert len(sp.validate_job(body, payloads).tracks[2].mask.polygons[0]) == 3


def test_polygon_count_at_the_limit_is_accepted():
    body, payloads = make_valid_job()
    triangle = [[0, 40], [20, 40], [10, 47]]
    body["tracks"][2]["mask"]["polygons"] = [triangle] * 4
    assert len(sp.validate_job(body, payloads, sp.Limits(max_polygons=4)).tracks[2].mask.polygons) == 4
    error = refused(body, payloads, sp.Limits(max_polygons=3))
    assert (error.code, error.field) == ("too_large", "tracks[2].mask.polygons")


def test_reference_pixels_at_the_limit_are_accepted():
    body, payloads = make_valid_job()
    assert sp.validate_job(body, payloads, sp.Limits(max_reference_pixels=W * H)).reference.width == W
    error = refused(body, payloads, sp.Limits(max_reference_pixels=W * H - 1))
    assert (error.code, error.field) == ("too_large", "reference.width")


def test_coordinates_at_the_bound_are_accepted():
    body, payloads = make_valid_job()
    bound = sp.messages.COORDINATE_BOUND
    body["tracks"][0]["arrow"]["points"] = [[-bound, bound], [0, 0]]
    assert sp.validate_job(body, payloads).tracks[0].arrow.points[0] == (-bound, bound)
    body["tracks"][0]["arrow"]["points"] = [[bound * (1 + 1e-9), 0], [0, 0]]
    assert refused(body, payloads).field == "tracks[0].arrow.points[0]"


def step(value, kind):
    return 1 if kind == "int" else 1e-6


RANGE_CASES = [(name, *rule) for name, rule in PARAM_RANGES.items() if name not in ("width", "height")]


@pytest.mark.parametrize("name, kind, low, high, low_inclusive, high_inclusive", RANGE_CASES,
                         ids=[c[0] for c in RANGE_CASES])
def test_each_parameter_range_is_exact(name, kind, low, high, low_inclusive, high_inclusive):
    def params(value):
        chosen = {name: value}
        if name == "min_guidance_scale":
            chosen["max_guidance_scale"] = 20.0     # min <= max is its own rule
        if name == "max_guidance_scale":
            chosen["min_guidance_scale"] = 0.0
        if name == "dual_clock_weak":
            chosen["dual_clock_strong"] = 1.0       # weak < strong is its own rule
        if name == "dual_clock_strong":
            chosen["dual_clock_weak"] = 0.0
        return chosen

    def accepted(value):
        return getattr(sp.validate_job(*job_with(**params(value)), sp.Limits(max_frames=10**6)).params, name)

    def rejected(value):
        error = refused(*job_with(**params(value)), sp.Limits(max_frames=10**6))
        assert (error.code, error.field) == ("invalid_field", f"params.{name}"), error.message
        return error

    for bound, inclusive, outward in ((low, low_inclusive, -1), (high, high_inclusive, +1)):
        if bound is None:
            continue
        inside = bound if inclusive else bound - outward * step(bound, kind)
        assert accepted(inside) == inside
        outside = bound + outward * step(bound, kind) if inclusive else bound
        rejected(outside)


def test_guidance_scales_may_be_equal_but_not_crossed():
    assert sp.validate_job(*job_with(min_guidance_scale=2.5, max_guidance_scale=2.5)).params.min_guidance_scale == 2.5
    error = refused(*job_with(min_guidance_scale=2.5 + 1e-9, max_guidance_scale=2.5))
    assert error.field == "params.min_guidance_scale"


def test_a_fresh_copy_is_untouched_by_validation():
    body, payloads = make_valid_job()
    before = copy.deepcopy(body)
    sp.validate_job(body, payloads)
    assert body == before
