"""The words of validation errors: each names what was expected and what came, exactly.

These are what an animator reads in Blender's panel, so their text is behaviour: a range shown
with the wrong bracket, a type described as something else, or a value cut without "..." is a
bug. (The field path and code are checked by test_validation.py.)
"""

import pytest

import shared_protocol as sp
from shared_protocol.validation import MAX_BACKEND_LENGTH

from .conftest import H, W, make_valid_job

MESSAGES = [
    ([1, 2], "params", "expected a map or nil, got array [1, 2]"),
    ({"fps": 61}, "params.fps", "expected a value in [1, 60], got 61"),
    ({"fps": 0}, "params.fps", "expected a value in [1, 60], got 0"),
    ({"alpha": 1.0}, "params.alpha", "expected a value in (0, 1), got 1.0"),
    ({"frames": 1}, "params.frames", "expected a value in [2, inf], got 1"),
    ({"tau": 0.5}, "params.tau", "expected a value in [-10000, 0], got 0.5"),
    ({"decode_chunk_size": 0}, "params.decode_chunk_size", "expected a value in [1, inf], got 0"),
    ({"seed": "7"}, "params.seed", "expected an integer or nil, got string '7'"),
    ({"fps": 7.5}, "params.fps", "expected an integer, got number 7.5"),
    ({"tau": float("inf")}, "params.tau", "expected a finite number, got number inf"),
    ({"noise_aug_strength": True}, "params.noise_aug_strength", "expected a finite number, got boolean True"),
    ({"backend": ""}, "params.backend", "expected a backend name (1..64 characters) or nil, got string ''"),
    ({"seed": "x" * 100}, "params.seed", "expected an integer or nil, got string '" + "x" * 56 + "..."),
    ({"fps": list(range(10))}, "params.fps", "expected an integer, got array of 10 items"),
    ({"fps": list(range(8))}, "params.fps", "expected an integer, got array [0, 1, 2, 3, 4, 5, 6, 7]"),
    ({"fps": {"a": 1}}, "params.fps", "expected an integer, got map {'a': 1}"),
    ({"fps": b"\x00"}, "params.fps", "expected an integer, got binary b'\\x00'"),
    ({"min_guidance_scale": 3.5}, "params.min_guidance_scale",
     "min_guidance_scale 3.5 is above max_guidance_scale 3.0; expected min <= max"),
]


@pytest.mark.parametrize("params, field, message", MESSAGES, ids=[m[2][:50] for m in MESSAGES])
def test_parameter_errors_say_what_was_expected_and_what_came(params, field, message):
    body, payloads = make_valid_job()
    if isinstance(params, dict):
        body["params"].update(params)
    else:
        body["params"] = params
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert (info.value.field, info.value.message) == (field, message)


def test_a_60_character_value_is_shown_whole_and_61_is_cut():
    body, payloads = make_valid_job()
    for text, shown in (("y" * 58, "'" + "y" * 58 + "'"), ("y" * 59, "'" + "y" * 56 + "...")):
        body["params"]["seed"] = text
        with pytest.raises(sp.ProtocolError) as info:
            sp.validate_job(body, payloads)
        assert info.value.message == f"expected an integer or nil, got string {shown}"


def test_backend_names_of_one_and_of_the_maximum_length_are_accepted():
    body, payloads = make_valid_job()
    for name in ("p", "b" * MAX_BACKEND_LENGTH):
        body["params"]["backend"] = name
        assert sp.validate_job(body, payloads).params.backend == name
    body["params"]["backend"] = "b" * (MAX_BACKEND_LENGTH + 1)
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert info.value.field == "params.backend"


def test_missing_and_mistyped_fields_name_the_type_expected():
    body, payloads = make_valid_job()
    del body["reference"]["width"]
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert (info.value.field, info.value.message) == ("reference.width", "missing field 'width': expected an integer")
    body, payloads = make_valid_job()
    body["tracks"][0]["mask"]["kind"] = 3
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads)
    assert (info.value.field, info.value.message) == ("tracks[0].mask.kind", "expected a string, got integer 3")


def polygon_job(points):
    body, payloads = make_valid_job()
    body["tracks"][2]["mask"]["polygons"] = [points]
    return body, payloads


@pytest.mark.parametrize("points", [
    [[-10, 10], [0, 10], [0, 20]],            # right of it on the left edge
    [[W, 10], [W + 10, 10], [W, 20]],         # on the right edge, outside
    [[10, -10], [20, 0], [10, 0]],            # above the top edge
    [[10, H], [20, H + 10], [10, H + 10]],    # below the bottom edge
], ids=["left", "right", "top", "bottom"])
def test_a_polygon_that_only_touches_the_image_edge_is_refused(points):
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(*polygon_job(points))
    assert info.value.field == "tracks[2].mask.polygons"
    assert "enclose no area inside the reference image" in info.value.message


@pytest.mark.parametrize("points", [
    [[-10, 10], [0.5, 10], [0.5, 20]],
    [[W - 0.5, 10], [W + 10, 10], [W - 0.5, 20]],
    [[10, -10], [20, 0.5], [10, 0.5]],
    [[10, H - 0.5], [20, H + 10], [10, H + 10]],
], ids=["left", "right", "top", "bottom"])
def test_a_polygon_reaching_half_a_pixel_into_the_image_is_accepted(points):
    assert sp.validate_job(*polygon_job(points)).tracks[2].mask.polygons[0][0] == tuple(map(float, points[0]))
