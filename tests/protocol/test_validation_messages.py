"""validate_job's refusals, word for word, and the edges of what it accepts.

What an animator reads in Blender's panel is each message's text: it names what was expected and
what came. test_error_messages.py covers the generation parameters; this file the reference,
masks, tracks, point tracks and the helpers that describe a wrong value.
"""

import logging
import struct
import zlib

import pytest

import shared_protocol as sp
from shared_protocol import validation

from .conftest import H, W, make_valid_job, rect_mask_png, solid_png, write_png


def refused(body, payloads, limits=sp.Limits()) -> sp.ProtocolError:
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads, limits)
    return info.value


def said(error) -> tuple:
    return error.code, error.field, error.message


def job():
    return make_valid_job()


# ---- the job map, the reference -------------------------------------------------------------------

def test_a_job_that_is_not_a_map_is_described():
    assert said(refused([1], [])) == ("invalid_field", None, "expected a map (the job), got array [1]")
    assert said(refused(None, []))[2] == "expected a map (the job), got nil None"


def test_missing_or_nil_top_level_fields_name_the_type_expected():
    body, payloads = job()
    del body["reference"]
    assert said(refused(body, payloads)) == ("invalid_field", "reference", "missing field 'reference': expected a map")
    body, payloads = job()
    body["tracks"] = None
    assert said(refused(body, payloads)) == ("invalid_field", "tracks", "missing field 'tracks': expected an array")
    body["tracks"] = "all"
    assert said(refused(body, payloads)) == ("invalid_field", "tracks", "expected an array, got string 'all'")
    body["tracks"] = []
    assert said(refused(body, payloads)) == ("invalid_field", "tracks", "expected at least one track, got an empty array")


def test_too_many_tracks_says_how_many():
    body, payloads = job()
    assert said(refused(body, payloads, sp.Limits(max_tracks=2))) == (
        "too_large", "tracks", "expected at most 2 tracks, got 3")


def test_nil_params_are_the_defaults():
    body, payloads = job()
    body["params"] = None
    assert sp.validate_job(body, payloads, sp.Limits(max_pixels=1024 * 576)).params == sp.GenerationParams()


def test_payload_indexes_run_from_0_to_the_last_frame():
    body, payloads = job()
    body["tracks"][1]["mask"]["payload"] = len(payloads)
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[1].mask.payload", "expected a payload index 0..2, got 3 (3 payload frames)")
    body["tracks"][1]["mask"]["payload"] = -1
    assert refused(body, payloads).message == "expected a payload index 0..2, got -1 (3 payload frames)"
    body, payloads = job()
    assert sp.validate_job(body, payloads).tracks[1].mask.payload == len(payloads) - 1
    body["reference"]["payload"] = "0"
    assert said(refused(body, payloads)) == ("invalid_field", "reference.payload", "expected an integer, got string '0'")


def test_reference_words():
    body, payloads = job()
    body["reference"]["format"] = "jpeg"
    assert said(refused(body, payloads)) == ("invalid_field", "reference.format", "expected 'png' or 'raw', got string 'jpeg'")
    for name in ("width", "height"):
        body, payloads = job()
        body["reference"][name] = 0
        assert said(refused(body, payloads)) == ("invalid_field", f"reference.{name}",
                                                 "expected a positive integer, got integer 0")
    body, payloads = job()
    body["reference"]["height"] = H + 1
    assert said(refused(body, payloads)) == (
        "invalid_field", "reference.payload", f"expected a PNG of the declared size {W}x{H + 1}, got a {W}x{H} PNG")
    body, payloads = job()
    body["reference"]["width"] = W - 1
    assert refused(body, payloads).message == f"expected a PNG of the declared size {W - 1}x{H}, got a {W}x{H} PNG"
    body, payloads = job()
    payloads[0] = b"GIF89a"
    assert said(refused(body, payloads)) == (
        "invalid_field", "reference.payload",
        "expected a valid PNG, got one with a defect: not a PNG: the 8-byte PNG signature is missing")
    body, payloads = job()
    assert said(refused(body, payloads, sp.Limits(max_reference_pixels=W * H - 1))) == (
        "too_large", "reference.width", f"expected at most {W * H - 1} pixels, got {W}x{H} = {W * H}")


def raw_job(width, height, channels, data=None):
    reference = sp.raw_image(bytes(width * height * channels) if data is None else data, width, height, channels)
    return sp.job_body(reference, [sp.track([[[0, 0], [width, 0], [width, height]]], [[0, 0], [1, 1]])],
                       {"width": 64, "height": 64})


def test_a_one_pixel_raw_reference_is_the_smallest():
    reference = sp.validate_job(*raw_job(1, 1, 3)).reference
    assert (reference.format, reference.width, reference.height, reference.channels, reference.payload) == \
        ("raw", 1, 1, 3, 0)


def test_raw_reference_words():
    body, payloads = raw_job(4, 2, 3, bytes(23))
    assert said(refused(body, payloads)) == (
        "invalid_field", "reference.payload", "raw buffer holds 23 bytes, expected 4x2x3 = 24")
    body, payloads = raw_job(4, 2, 3, bytes(25))
    assert refused(body, payloads).message == "raw buffer holds 25 bytes, expected 4x2x3 = 24"
    body, payloads = raw_job(4, 2, 5, bytes(40))
    assert said(refused(body, payloads)) == ("invalid_field", "reference.channels",
                                             "expected 3 (RGB) or 4 (RGBA), got integer 5")


# ---- masks -------------------------------------------------------------------------------------

def test_mask_words():
    body, payloads = job()
    body["tracks"][1]["mask"]["kind"] = "brush"
    assert said(refused(body, payloads)) == ("invalid_field", "tracks[1].mask.kind",
                                             "expected 'bitmap' or 'polygons', got string 'brush'")
    body, payloads = job()
    body["tracks"][1]["mask"]["height"] = H - 1
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[1].mask.width", f"mask is {W}x{H - 1}, expected the reference size {W}x{H}")
    body, payloads = job()
    payloads[2] = payloads[2][:-1]
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[1].mask.payload", f"raw buffer holds {W * H - 1} bytes, expected {W}x{H}x1 = {W * H}")
    body, payloads = job()
    payloads[2] = bytes(W * H)
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[1].mask.payload", "mask is empty: expected at least one nonzero pixel")


def test_the_mask_spec_says_what_was_sent():
    body, payloads = job()
    first, second, _ = sp.validate_job(body, payloads).tracks
    assert (first.mask.kind, first.mask.width, first.mask.height, first.mask.payload, first.mask.format) == \
        ("bitmap", W, H, 1, "png")
    assert (second.mask.payload, second.mask.format, second.mask.data, second.mask.polygons) == \
        (2, "raw", payloads[2], ())


def png_mask_job(mask_png):
    return sp.job_body(sp.png_image(solid_png(W, H)), [sp.track(sp.png_image(mask_png), [[0, 0], [5, 5]])])


@pytest.mark.parametrize("color, depth, interlace", [(2, 8, 0), (4, 8, 0), (0, 16, 0), (0, 2, 0), (0, 4, 0),
                                                     (0, 8, 1)])
def test_png_masks_must_be_8_or_1_bit_grayscale_non_interlaced(color, depth, interlace):
    channels = {0: 1, 2: 3, 4: 2}[color]
    row = bytes([255]) * ((W * channels * depth + 7) // 8)
    mask = bytearray(write_png([row] * H, W, H, color, depth))
    if interlace:
        mask[8 + 8 + 12] = 1                                  # IHDR's interlace byte, CRC fixed below
        crc = zlib.crc32(bytes(mask[12:29]))
        mask[29:33] = struct.pack(">I", crc)
    error = refused(*png_mask_job(bytes(mask)))
    assert said(error) == ("invalid_field", "tracks[0].mask.payload",
                           "expected a non-interlaced 8-bit or 1-bit grayscale PNG, got "
                           f"colour type {color}, bit depth {depth}, interlace {interlace}")


def test_png_masks_of_8_and_1_bit_are_read():
    eight = rect_mask_png(W, H, (1, 1, 2, 2))
    assert sp.validate_job(*png_mask_job(eight)).tracks[0].mask.data == eight
    rows = [bytes([0b01000000]) + bytes((W + 7) // 8 - 1)] * H
    one = write_png(rows, W, H, 0, 1)
    assert sp.validate_job(*png_mask_job(one)).tracks[0].mask.format == "png"


def test_a_png_mask_whose_pixels_do_not_add_up_names_the_defect():
    short = write_png([bytes([255]) * W] * H, W, H, 0, 8)
    start = short.index(b"IDAT") - 4
    end = short.index(b"IEND") - 4
    idat = zlib.compress(zlib.decompress(short[start + 8:end - 4])[:-1])
    chunk = struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    data = short[:start] + chunk + short[end:]
    expected = H * (W + 1)
    assert said(refused(*png_mask_job(data))) == (
        "invalid_field", "tracks[0].mask.payload",
        f"expected a valid PNG, got one with a defect: PNG pixel data holds {expected - 1} bytes, its IHDR implies "
        f"{expected}")


# ---- polygons ------------------------------------------------------------------------------------

def polygons_job(polygons):
    body, payloads = job()
    body["tracks"][2]["mask"]["polygons"] = polygons
    return body, payloads


def test_polygon_words():
    assert said(refused(*polygons_job([]))) == ("invalid_field", "tracks[2].mask.polygons",
                                                "expected at least one polygon, got an empty array")
    triangle = [[0, 40], [20, 40], [10, 47]]
    assert said(refused(*polygons_job([triangle] * 3), sp.Limits(max_polygons=2))) == (
        "too_large", "tracks[2].mask.polygons", "expected at most 2 polygons, got 3")
    assert said(refused(*polygons_job([[[0, 0], [5, 5], [9, 9]]]))) == (
        "invalid_field", "tracks[2].mask.polygons",
        f"polygons enclose no area inside the reference image: expected at least one polygon with nonzero area "
        f"overlapping 0..{W} x 0..{H}")
    assert said(refused(*polygons_job([[[0, 0], [5, 5]]]))) == (
        "invalid_field", "tracks[2].mask.polygons[0]", "expected at least 3 [x, y] points, got 2")
    assert said(refused(*polygons_job("square"))) == (
        "invalid_field", "tracks[2].mask.polygons", "expected an array, got string 'square'")
    assert said(refused(*polygons_job([triangle, "x"]))) == (
        "invalid_field", "tracks[2].mask.polygons[1]", "expected an array of at least 3 [x, y] points, got string 'x'")


def test_one_good_polygon_among_empty_ones_is_enough_and_winding_does_not_matter():
    flat = [[0, 0], [5, 5], [9, 9]]
    outside = [[100, 100], [120, 100], [110, 120]]
    clockwise = [[10, 10], [10, 20], [20, 10]]
    counter = [[10, 10], [20, 10], [10, 20]]
    for polygons in ([flat, outside, clockwise], [counter], [clockwise, flat]):
        assert len(sp.validate_job(*polygons_job(polygons)).tracks[2].mask.polygons) == len(polygons)
    # area counts every edge: a polygon whose first three points are collinear still encloses area
    hook = [[0, 0], [5, 0], [10, 0], [10, 10]]
    assert sp.validate_job(*polygons_job([hook])).tracks[2].mask.polygons[0][-1] == (10.0, 10.0)
    # the last edge (back to the first point) counts: without it this polygon's area is zero
    closing = [[10, 10], [10, 10], [20, 20], [20, 10]]
    assert sp.validate_job(*polygons_job([closing])).tracks[2].mask.polygons[0][2] == (20.0, 20.0)


def test_a_polygon_with_area_but_outside_the_image_on_any_side_is_refused():
    for polygon in ([[-20, 10], [-10, 10], [-10, 20]], [[W + 1, 10], [W + 9, 10], [W + 1, 20]],
                    [[10, -20], [20, -10], [10, -10]], [[10, H + 1], [20, H + 9], [10, H + 9]]):
        assert refused(*polygons_job([polygon])).field == "tracks[2].mask.polygons"


# ---- tracks and arrows ------------------------------------------------------------------------------

def test_track_words():
    body, payloads = job()
    body["tracks"][0] = "track"
    assert said(refused(body, payloads)) == ("invalid_field", "tracks[0]", "expected a map (a track), got string 'track'")
    body, payloads = job()
    body["tracks"][0]["arrow"]["points"] = [[1, 1], [1, 1], [1, 1]]
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].arrow.points",
        "arrow is degenerate: all 3 points are [1.0, 1.0], expected at least two distinct points")
    body["tracks"][0]["arrow"]["points"] = [[1, 1], [1, 1], [1, 2]]
    assert sp.validate_job(body, payloads).tracks[0].arrow.points[2] == (1.0, 2.0)
    body["tracks"][0]["easing"] = "bounce"
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].easing",
        "expected one of 'linear', 'ease-in', 'ease-out', 'ease-in-out', got string 'bounce'")
    body["tracks"][0]["easing"] = None
    assert sp.validate_job(body, payloads).tracks[0].easing == "linear"


def test_names_up_to_256_characters_are_kept():
    body, payloads = job()
    body["tracks"][0]["name"] = "n" * 256
    assert sp.validate_job(body, payloads).tracks[0].name == "n" * 256
    body["tracks"][0]["name"] = "n" * 257
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].name",
        "expected a string of at most 256 characters or nil, got string '" + "n" * 56 + "...")
    body["tracks"][0]["name"] = 42
    assert refused(body, payloads).message == "expected a string of at most 256 characters or nil, got integer 42"
    body["tracks"][0]["name"] = None
    assert sp.validate_job(body, payloads).tracks[0].name is None


@pytest.mark.parametrize("value, shown", [
    ("0,0 1,1", "string '0,0 1,1'"), ({"x": 1}, "map {'x': 1}"), (None, None),
])
def test_arrow_points_that_are_not_an_array(value, shown):
    body, payloads = job()
    body["tracks"][0]["arrow"]["points"] = value
    error = refused(body, payloads)
    if shown is None:
        assert said(error) == ("invalid_field", "tracks[0].arrow.points", "missing field 'points': expected an array")
    else:
        assert said(error) == ("invalid_field", "tracks[0].arrow.points", f"expected an array, got {shown}")


@pytest.mark.parametrize("point, shown", [
    ([float("nan"), 1], "array [nan, 1]"), ([1, 2, 3], "array [1, 2, 3]"), ([1], "array [1]"),
    ([True, 1], "array [True, 1]"), ("1,2", "string '1,2'"), ([1e6 + 1, 0], "array [1000001.0, 0]"),
    ([0, -1e6 - 1], "array [0, -1000001.0]"),
])
def test_bad_points_are_described(point, shown):
    body, payloads = job()
    body["tracks"][0]["arrow"]["points"][1] = point
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].arrow.points[1]",
        f"expected [x, y]: two finite numbers with |value| <= 1e+06, got {shown}")


def test_point_count_words():
    body, payloads = job()
    body["tracks"][0]["arrow"]["points"] = [[1, 1]]
    assert refused(body, payloads).message == "expected at least 2 [x, y] points, got 1"
    body["tracks"][0]["arrow"]["points"] = [[i, 0] for i in range(4)]
    assert said(refused(body, payloads, sp.Limits(max_points=3))) == (
        "too_large", "tracks[0].arrow.points", "expected at most 3 points, got 4")
    assert len(sp.validate_job(body, payloads, sp.Limits(max_points=4)).tracks[0].arrow.points) == 4


def test_progress_words_and_edges():
    body, payloads = job()
    frames = body["params"]["frames"]
    body["tracks"][0]["progress"] = [0, 1] + [0.5] * (frames - 2)
    progress = sp.validate_job(body, payloads).tracks[0].progress
    assert progress[:3] == (0.0, 1.0, 0.5) and all(type(u) is float for u in progress)
    body["tracks"][0]["progress"] = [0.5] * (frames - 1)
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].progress",
        f"expected one progress value per frame ({frames}, params.frames), got {frames - 1}")
    body["tracks"][0]["progress"] = [0.5] * (frames - 1) + [1.5]
    assert said(refused(body, payloads)) == (
        "invalid_field", f"tracks[0].progress[{frames - 1}]",
        "expected a finite number in [0, 1] (share of the arrow covered), got number 1.5")
    body["tracks"][0]["progress"] = {"a": 1}
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].progress", "expected an array of numbers in [0, 1], one per frame, got map {'a': 1}")


def test_rotate_and_edge_softness_words_and_edges():
    body, payloads = job()
    body["tracks"][0].update(rotate=True, edge_softness=0)
    track = sp.validate_job(body, payloads).tracks[0]
    assert (track.rotate, track.edge_softness) == (True, 0.0) and type(track.edge_softness) is float
    body["tracks"][0]["rotate"] = "yes"
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].rotate", "expected true or false (turn the region along the arrow) or nil, "
        "got string 'yes'")
    body["tracks"][0].update(rotate=False, edge_softness=-0.001)
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].edge_softness", "expected a number of pixels from 0 to 64, got number -0.001")
    body["tracks"][0]["edge_softness"] = 64.001
    assert refused(body, payloads).message == "expected a number of pixels from 0 to 64, got number 64.001"
    body["tracks"][0]["edge_softness"] = 64
    assert sp.validate_job(body, payloads).tracks[0].edge_softness == 64.0


# ---- point tracks ------------------------------------------------------------------------------------

FRAMES = 4


def points_job(positions=None, visible=None, **points):
    positions = positions if positions is not None else [[(10.0 + f, 20.0) for f in range(FRAMES)]] * 3
    reference = sp.raw_image(bytes(W * H * 3), W, H, 3)
    body, payloads = sp.job_body(reference, [sp.point_track([[(0, 0), (W, 0), (W, H)]], positions, visible)],
                                 {"frames": FRAMES, "width": 64, "height": 64})
    body["tracks"][0]["points"].update(points)
    return body, payloads


def test_point_track_format_defaults_to_f32_whether_absent_or_nil():
    body, payloads = points_job()
    del body["tracks"][0]["points"]["format"]
    assert sp.validate_job(body, payloads).tracks[0].points.count == 3
    body["tracks"][0]["points"]["format"] = None        # protocol.md: `format` is str?, nil = not given
    assert sp.validate_job(body, payloads).tracks[0].points.count == 3
    body["tracks"][0]["points"]["format"] = "f64"
    assert said(refused(body, payloads)) == ("invalid_field", "tracks[0].points.format",
                                             "expected 'f32' (little-endian float32) or nil, got string 'f64'")


def test_point_track_spec_says_what_was_sent():
    body, payloads = points_job(visible=[[1] * FRAMES] * 3)
    spec = sp.validate_job(body, [memoryview(p) for p in payloads]).tracks[0].points
    assert (spec.payload, spec.count, spec.frames, spec.visible) == (1, 3, FRAMES, b"\x01" * 12)
    assert spec.data == payloads[1] and type(spec.data) is bytes


def test_point_track_count_words_and_edges():
    body, payloads = points_job(count=0)
    assert said(refused(body, payloads)) == ("invalid_field", "tracks[0].points.count",
                                             "expected a positive point count, got integer 0")
    body, payloads = points_job()
    assert sp.validate_job(body, payloads, sp.Limits(max_track_points=3)).tracks[0].points.count == 3
    assert said(refused(body, payloads, sp.Limits(max_track_points=2))) == (
        "too_large", "tracks[0].points.count", "expected at most 2 points, got 3")
    body, payloads = points_job(frames=FRAMES + 1)
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].points.frames",
        f"expected one position per output frame ({FRAMES}, params.frames), got {FRAMES + 1}")


def test_point_track_payload_words():
    body, payloads = points_job(payload=2)
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].points.payload", "expected a payload index 0..1, got 2 (2 payload frames)")
    body, payloads = points_job(payload=-1)
    assert refused(body, payloads).message == "expected a payload index 0..1, got -1 (2 payload frames)"
    body, payloads = points_job()
    payloads[1] = payloads[1] + b"\x00" * 4
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].points.payload",
        f"positions hold {3 * FRAMES * 8 + 4} bytes, expected 3 points x {FRAMES} frames x 2 float32 = {3 * FRAMES * 8}")


@pytest.mark.parametrize("x, y, point", [
    (-W / 2 - 1, 20.0, "(-33.0, 20.0)"), (W * 1.5 + 1, 20.0, "(97.0, 20.0)"),
    (10.0, -H / 2 - 1, "(10.0, -25.0)"), (10.0, H * 1.5 + 1, "(10.0, 73.0)"),
])
def test_positions_outside_the_margin_on_each_side_are_named(x, y, point):
    positions = [[(10.0, 20.0)] * FRAMES for _ in range(3)]
    positions[1][2] = (x, y)
    body, payloads = points_job(positions)
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].points.payload",
        f"point 1 at frame 2 is {point}: expected finite pixels within -32..96 x -24..72 (the image and a "
        "margin of 0.5 of its size)")


def test_positions_on_every_edge_of_the_margin_are_accepted():
    corners = [(-W / 2, -H / 2), (W * 1.5, H * 1.5), (-W / 2, H * 1.5), (W * 1.5, -H / 2)]
    body, payloads = points_job([corners, corners, corners])
    data = sp.validate_job(body, payloads).tracks[0].points.data
    assert struct.unpack("<8f", data[:32]) == (-32.0, -24.0, 96.0, 72.0, -32.0, 72.0, 96.0, -24.0)


def test_visibility_words():
    body, payloads = points_job(visible=[[1] * FRAMES] * 3)
    body["tracks"][0]["points"]["visible"] = b"\x01" * 11
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].points.visible",
        f"expected binary of 3 x {FRAMES} = 12 bytes (nonzero = visible) or nil, got binary b'" + "\\x01" * 11 + "'")
    body["tracks"][0]["points"]["visible"] = [1] * 12
    assert refused(body, payloads).field == "tracks[0].points.visible"
    body["tracks"][0]["points"]["visible"] = None
    assert sp.validate_job(body, payloads).tracks[0].points.visible is None


def test_arrow_or_points_words():
    body, payloads = points_job()
    body["tracks"][0]["arrow"] = {"points": [[1, 1], [2, 2]]}
    assert said(refused(body, payloads)) == ("invalid_field", "tracks[0]", "expected either 'arrow' or 'points', got both")
    body["tracks"][0]["points"] = None                  # nil points: the arrow is used
    assert sp.validate_job(body, payloads).tracks[0].arrow.points == ((1.0, 1.0), (2.0, 2.0))
    body["tracks"][0]["arrow"] = None
    assert said(refused(body, payloads)) == ("invalid_field", "tracks[0].arrow", "missing field 'arrow': expected a map")


# ---- parameters that need two values -------------------------------------------------------------------

def test_dual_clock_order_names_the_value_that_was_given():
    body, payloads = job()
    body["params"]["dual_clock_weak"] = 0.5                          # strong left at its default, 0.42
    assert said(refused(body, payloads)) == (
        "invalid_field", "params.dual_clock_weak",
        "dual_clock_weak 0.5 is not below dual_clock_strong 0.42; expected 0 <= weak < strong <= 1 (the background "
        "starts before the painted regions are released)")
    body["params"]["dual_clock_strong"] = 0.5                        # equal is refused too
    assert refused(body, payloads).field == "params.dual_clock_strong"
    body["params"]["dual_clock_strong"] = 0.5000001
    params = sp.validate_job(body, payloads).params
    assert (params.dual_clock_weak, params.dual_clock_strong) == (0.5, 0.5000001)


def test_output_size_words():
    body, payloads = job()
    body["params"]["frames"] = 65
    assert said(refused(body, payloads)) == ("too_large", "params.frames", "expected at most 64 frames, got 65")
    for name in ("width", "height"):
        body, payloads = job()
        body["params"][name] = 250
        assert said(refused(body, payloads)) == ("invalid_field", f"params.{name}", "expected a multiple of 64, got 250")
        body["params"][name] = 2112
        assert said(refused(body, payloads)) == ("too_large", f"params.{name}", "expected at most 2048, got 2112")
    body, payloads = job()
    body["params"].update(width=1024, height=1088)
    assert said(refused(body, payloads)) == (
        "too_large", "params.width", "expected an output of at most 1048576 pixels, got 1024x1088 = 1114112")


def test_unknown_backend_names_the_ones_there_are():
    body, payloads = job()
    body["params"]["backend"] = "trackgo"
    with pytest.raises(sp.ProtocolError) as info:
        sp.validate_job(body, payloads, backends={"preview", "a"})
    assert said(info.value) == ("invalid_field", "params.backend",
                                "unknown backend 'trackgo', expected one of ['a', 'preview']")


def test_integer_parameters_stay_integers_and_float_ones_become_floats():
    body, payloads = job()
    body["params"].update(fps=8, alpha=0.5, noise_aug_strength=1, background_follow=1)
    params = sp.validate_job(body, payloads).params
    assert (params.fps, type(params.fps)) == (8, int)
    assert (params.noise_aug_strength, type(params.noise_aug_strength)) == (1.0, float)
    assert type(params.background_follow) is float and params.alpha == 0.5


# ---- how wrong values are described ------------------------------------------------------------------

@pytest.mark.parametrize("value, described", [
    (None, "nil None"), (True, "boolean True"), (1.5, "number 1.5"), ("s", "string 's'"), (b"\x01", "binary b'\\x01'"),
    (7, "integer 7"), ((1, 2), "tuple (1, 2)"), (list(range(9)), "array of 9 items"),
    ({str(i): i for i in range(9)}, "map of 9 items"), ({"a": 1}, "map {'a': 1}"), ([], "array []"),
    ("z" * 58, "string '" + "z" * 58 + "'"), ("z" * 59, "string '" + "z" * 56 + "..."),
])
def test_values_are_described_by_kind_and_shortened(value, described):
    assert validation._describe(value) == described


def test_a_body_nested_past_pythons_recursion_limit_is_refused_cleanly():
    body, payloads = job()
    deep = 0
    for _ in range(100_000):
        deep = [deep]
    body["params"]["fps"] = [deep]
    error = refused(body, payloads)
    assert said(error) == ("invalid_field", None, "the job's maps and arrays nest too deeply; expected the shapes of "
                           "docs/protocol.md section 6")
    assert error.__cause__ is None and error.__suppress_context__


def test_a_bug_inside_validation_reaches_the_peer_as_internal(monkeypatch, caplog):
    def broken(*args):
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(validation, "_reference", broken)
    with caplog.at_level(logging.ERROR, logger="trackgo.protocol"):
        error = refused(*job())
    assert said(error) == ("internal", None, "the receiver failed to check this job (a bug on its side)")
    assert error.hint == "the receiver's log has details" and "secret" not in str(error)
    assert error.__cause__ is None and error.__suppress_context__
    assert [r.getMessage() for r in caplog.records] == ["job validation failed unexpectedly"]
    assert "secret internals" in caplog.text


# ---- found by mutation testing: paths, the order of payloads, edges seen in order -------------------------

def test_a_png_mask_of_another_size_than_declared_names_the_mask_payload():
    small = rect_mask_png(W // 2, H, (1, 1, 5, 5))
    body, payloads = sp.job_body(sp.png_image(solid_png(W, H)), [sp.track(sp.png_image(small), [[0, 0], [5, 5]])])
    body["tracks"][0]["mask"]["width"] = W
    assert said(refused(body, payloads)) == (
        "invalid_field", "tracks[0].mask.payload", f"expected a PNG of the declared size {W}x{H}, got a {W // 2}x{H} PNG")


@pytest.mark.parametrize("key, words", [("count", "an integer"), ("frames", "an integer"), ("payload", "an integer")])
def test_a_missing_point_track_field_is_named_with_its_path(key, words):
    body, payloads = points_job()
    del body["tracks"][0]["points"][key]
    assert said(refused(body, payloads)) == (
        "invalid_field", f"tracks[0].points.{key}", f"missing field {key!r}: expected {words}")


def test_a_single_point_is_a_point_track():
    body, payloads = points_job([[(10.0 + f, 20.0) for f in range(FRAMES)]])
    assert sp.validate_job(body, payloads).tracks[0].points.count == 1


def test_payloads_may_come_in_any_order():
    body, payloads = points_job()
    positions, reference = payloads[1], payloads[0]
    body["reference"]["payload"] = 1
    body["tracks"][0]["points"]["payload"] = 0
    job = sp.validate_job(body, [positions, reference])
    assert (job.reference.payload, job.tracks[0].points.payload, job.tracks[0].points.data) == (1, 0, positions)


def test_an_out_of_range_y_anywhere_is_found():
    for point in range(3):
        for frame in range(FRAMES):
            positions = [[(10.0, 20.0)] * FRAMES for _ in range(3)]
            positions[point][frame] = (10.0, H * 1.5 + 1)
            error = refused(*points_job(positions))
            assert error.message.startswith(f"point {point} at frame {frame} is (10.0, 73.0)")


@pytest.mark.parametrize("edge", [(-W / 2, 20.0), (W * 1.5, 20.0), (10.0, -H / 2), (10.0, H * 1.5)],
                         ids=["left", "right", "top", "bottom"])
def test_a_position_on_the_margins_edge_is_passed_over_for_the_one_outside(edge):
    positions = [[(10.0, 20.0)] * FRAMES for _ in range(3)]
    positions[0][0] = edge
    positions[2][1] = (W * 1.5 + 1, 20.0)
    assert refused(*points_job(positions)).message.startswith("point 2 at frame 1 is (97.0, 20.0)")


def test_the_seed_range_is_written_out_in_full():
    body, payloads = job()
    body["params"]["seed"] = -1
    assert refused(body, payloads).message == "expected a value in [0, 9223372036854775807], got -1"


def test_points_that_are_not_a_map_are_named_with_their_path():
    body, payloads = points_job()
    body["tracks"][0]["points"] = [1, 2]
    assert said(refused(body, payloads)) == ("invalid_field", "tracks[0].points", "expected a map, got array [1, 2]")
