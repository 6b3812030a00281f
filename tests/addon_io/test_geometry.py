"""Blender-free geometry: coordinate conversions, rasterisation, pairing, against known shapes."""
from __future__ import annotations

import math

import numpy as np
import pytest

from blender_addon.io import coords, pairing, raster


@pytest.mark.parametrize("w,h", [(256, 128), (128, 256), (100, 100)])
def test_mask_space_is_aspect_correct_and_centred(w, h):
    side = max(w, h)
    # The image centre is (0.5, 0.5) in mask space; one mask unit is max(w, h) pixels.
    assert np.allclose(coords.mask_to_pixels([0.5, 0.5], w, h), [w / 2, h / 2])
    assert np.allclose(coords.mask_to_pixels([0.5 + 10 / side, 0.5 + 10 / side], w, h), [w / 2 + 10, h / 2 - 10])
    # Top-left pixel corner of a 256x128 image: x = 0 → 0, y = top → 0.5 + 64/256 = 0.75.
    if (w, h) == (256, 128):
        assert np.allclose(coords.mask_to_pixels([0.0, 0.75], w, h), [0.0, 0.0])
    pts = np.random.default_rng(0).uniform(-50, 300, size=(20, 2))
    assert np.allclose(coords.mask_to_pixels(coords.pixels_to_mask(pts, w, h), w, h), pts)


def test_integer_points_convert_as_floats_and_extra_coordinates_are_dropped():
    assert coords.pixels_to_normalized([[50, 25]], 200, 100).tolist() == [[0.25, 0.75]]
    assert coords.normalized_to_pixels(np.array([[0, 1]]), 3, 3).dtype == np.float64
    assert coords.pixels_to_mask([[1, 1]], 4, 4).tolist() == [[0.25, 0.75]]
    out = coords.mask_to_pixels([[0.5, 0.5, 7.0]], 200, 100)        # a 3D point: x, y only
    assert out.tolist() == [[100.0, 50.0]]


def test_normalized_space_is_y_up_over_the_whole_image():
    assert np.allclose(coords.normalized_to_pixels([[0, 0], [1, 1], [0.25, 0.75]], 200, 100),
                       [[0, 100], [200, 0], [50, 25]])
    pts = np.array([[3.0, 4.0], [199.0, 1.0]])
    assert np.allclose(coords.normalized_to_pixels(coords.pixels_to_normalized(pts, 200, 100), 200, 100), pts)
    with pytest.raises(ValueError, match="points"):
        coords.normalized_to_pixels([1.0], 10, 10)


def _circle(cx, cy, r, feather=0.0):
    k = 0.5522847498 * r
    pts = []
    for dx, dy in ((1, 0), (0, 1), (-1, 0), (0, -1)):
        co = (cx + dx * r, cy + dy * r)
        t = (-dy, dx)
        pts.append(raster.SplinePoint(co, (co[0] - t[0] * k, co[1] - t[1] * k),
                                      (co[0] + t[0] * k, co[1] + t[1] * k), feather))
    return raster.Spline(tuple(pts))


def test_bezier_circle_rasterises_to_a_disc():
    alpha = raster.rasterize_spline(_circle(50, 40, 20), 100, 80)
    ys, xs = np.mgrid[0:80, 0:100] + 0.5
    d = np.hypot(xs - 50, ys - 40)
    assert abs(alpha.sum() - math.pi * 20 ** 2) / (math.pi * 20 ** 2) < 0.01
    assert (alpha[d < 19.5] == 1).all() and (alpha[d > 20.5] == 0).all()


def test_square_is_exact_and_holes_follow_even_odd():
    sq = raster.Spline(tuple(raster.SplinePoint(c, c, c) for c in [(10, 10), (30, 10), (30, 20), (10, 20)]))
    alpha = raster.rasterize_spline(sq, 40, 30)
    assert alpha.sum() == 20 * 10 and alpha[10:20, 10:30].all()
    poly = np.array([[0, 0], [10, 0], [10, 10], [0, 10]] + [[2, 2], [2, 8], [8, 8], [8, 2]], float)
    # a self-overlapping outline: even-odd keeps the ring
    ring = raster.fill_polygon(np.array([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0], [2, 2], [2, 8], [8, 8],
                                         [8, 2], [2, 2]], float), 12, 12)
    assert not ring[5, 5] and ring[1, 5]
    assert raster.fill_polygon(poly[:2], 12, 12).sum() == 0


def test_feather_is_a_soft_band_outside_the_spline_with_the_layer_falloff():
    w = 6.0
    lin = raster.rasterize_spline(_circle(50, 50, 20, feather=w), 100, 100, falloff="LINEAR")
    ys, xs = np.mgrid[0:100, 0:100] + 0.5
    d = np.hypot(xs - 50, ys - 40 - 10) - 20  # distance outside the circle
    band = (d > 0.7) & (d < w - 0.7)
    expected = 1 - d[band] / w
    assert np.allclose(lin[band], expected, atol=0.05)
    assert (lin[d > w + 0.7] == 0).all() and (lin[d < -0.7] == 1).all()
    smooth = raster.rasterize_spline(_circle(50, 50, 20, feather=w), 100, 100, falloff="SMOOTH")
    t = expected
    assert np.allclose(smooth[band], t * t * (3 - 2 * t), atol=0.06)


def test_layer_invert_alpha_and_uint8():
    layer = raster.Layer((_circle(20, 20, 8),), invert=True, alpha=0.5)
    a = raster.rasterize_layer(layer, 40, 40)
    assert a[20, 20] == 0 and a[0, 0] == pytest.approx(0.5)
    assert raster.to_uint8(np.array([0.0, 0.5, 1.0])).tolist() == [0, 128, 255]
    with pytest.raises(ValueError, match="at least 2 points"):
        raster.spline_outline(raster.Spline((raster.SplinePoint((0, 0), (0, 0), (0, 0)),)))


def test_auto_pair_takes_the_arrow_whose_tail_is_inside():
    a = np.zeros((50, 100), bool)
    a[10:30, 10:30] = True
    b = np.zeros((50, 100), bool)
    b[10:30, 60:90] = True
    tails = [(75, 20), (15, 15), (50, 45)]  # b's tail, a's tail, a stray one
    assert pairing.auto_pair([a, b], tails) == {0: 1, 1: 0}
    # A tail just off the edge still counts (tolerance); a far one never pairs.
    assert pairing.auto_pair([a, b], [(31.5, 20)]) == {0: 0}
    assert pairing.auto_pair([a, b], [(45, 20)]) == {}
    assert pairing.auto_pair([a, b], [(45, 20)], tolerance=20) == {0: 0}
    assert pairing.auto_pair([np.zeros((5, 5), bool)], [(1, 1)]) == {}


def rect(h, w, x0, y0, x1, y1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_a_tail_inside_a_mask_beats_a_nearer_centroid_of_a_nearby_mask():
    # Two masks side by side: the tail is inside the long one, near its right end, 2.5 px from the
    # small one, whose centroid is far nearer the tail than the long one's. Inside wins.
    long, small = rect(20, 110, 0, 0, 100, 20), rect(20, 110, 100, 0, 110, 20)
    tail = (98.0, 10.0)
    assert pairing.auto_pair([long, small], [tail], tolerance=5) == {0: 0}
    assert pairing.auto_pair([small, long], [tail], tolerance=5) == {1: 0}
    # without the long mask the small one takes it: 2.5 px off its edge is within tolerance
    assert pairing.auto_pair([small], [tail], tolerance=5) == {0: 0}
    assert pairing.auto_pair([small], [tail], tolerance=2) == {}


def test_overlapping_masks_pair_by_containment_then_centroid():
    # A small mask lies inside a big one. A tail inside the big one only, 3 px off the small
    # one's edge and nearer the small one's centroid (7.5 px against 9.5), goes to the big one;
    # a tail inside both goes to the mask whose centroid is nearer (the small one).
    big, small = rect(40, 100, 0, 0, 100, 40), rect(40, 100, 62, 15, 72, 25)
    assert pairing.auto_pair([big, small], [(59.5, 20.0)], tolerance=5) == {0: 0}
    assert pairing.auto_pair([small], [(59.5, 20.0)], tolerance=5) == {0: 0}
    assert pairing.auto_pair([big, small], [(65.0, 20.0), (20.0, 20.0)], tolerance=5) == {1: 0, 0: 1}
    assert pairing.auto_pair([big, small], [(20.0, 20.0), (65.0, 20.0)], tolerance=5) == {0: 0, 1: 1}


def test_each_arrow_is_used_once_and_uint8_masks_use_the_half_threshold():
    a = rect(30, 60, 0, 0, 30, 30)
    b = rect(30, 60, 30, 0, 60, 30)
    # one arrow, two masks: it goes to the mask containing it; the other stays unpaired
    assert pairing.auto_pair([a, b], [(45.0, 15.0)]) == {1: 0}
    soft = (a * 127).astype(np.uint8)           # 127 is "off" for an 8-bit mask, 128 "on"
    assert pairing.auto_pair([soft], [(15.0, 15.0)]) == {}
    assert pairing.auto_pair([(a * 128).astype(np.uint8)], [(15.0, 15.0)]) == {0: 0}


def test_default_tolerance_is_two_percent_of_the_diagonal():
    mask = rect(300, 400, 0, 0, 100, 100)       # diagonal 500 -> tolerance 10 px
    assert pairing.auto_pair([mask], [(109.0, 50.0)]) == {0: 0}     # 9.5 px off the edge
    assert pairing.auto_pair([mask], [(111.0, 50.0)]) == {}         # 11.5 px off
    assert pairing.auto_pair([], [(1.0, 1.0)]) == {}


def test_tail_cost_uses_pixel_centres_and_the_pixel_under_the_tail():
    # A pixel (col, row) spans [col, col + 1) x [row, row + 1); its centre is (col + .5, row + .5).
    dot = np.zeros((8, 12), bool)
    dot[5, 3] = True
    assert pairing._tail_cost(dot, (3.5, 5.5)) == (0.0, 0.0)
    assert pairing._tail_cost(dot, (3.2, 5.9)) == (0.0, pytest.approx(np.hypot(0.3, 0.4)))   # inside: 0
    assert pairing._tail_cost(dot, (10.5, 5.5)) == (7.0, 7.0)
    assert pairing._tail_cost(dot, (3.5, 1.5)) == (4.0, 4.0)
    assert pairing._tail_cost(np.zeros((8, 12), bool), (1, 1)) == (float("inf"), float("inf"))


def test_tails_on_and_just_past_every_border_of_a_full_mask():
    full = np.ones((4, 6), bool)          # not square: rows and columns must not be swapped
    for tail in [(0.0, 0.0), (5.99, 3.99), (0.0, 3.5), (5.5, 0.0)]:
        assert pairing._tail_cost(full, tail)[0] == 0.0, tail
    for tail, off in [((6.2, 1.5), 0.7), ((1.5, 4.2), 0.7), ((-0.2, 1.5), 0.7), ((1.5, -0.2), 0.7), ((1.5, 6.5), 3.0)]:
        assert pairing._tail_cost(full, tail)[0] == pytest.approx(off), tail


def test_tolerance_is_inclusive_and_zero_means_inside_only():
    dot = np.zeros((10, 10), bool)
    dot[0, 0] = True
    assert pairing.auto_pair([dot], [(3.5, 0.5)], tolerance=3.0) == {0: 0}     # exactly 3 px off
    assert pairing.auto_pair([dot], [(3.5, 0.5)], tolerance=2.99) == {}
    assert pairing.auto_pair([dot], [(1.2, 0.5)], tolerance=0) == {}           # 0.7 px off
    assert pairing.auto_pair([dot], [(0.9, 0.5)], tolerance=0) == {0: 0}


def test_a_tail_inside_beats_one_just_outside_even_nearer_the_centroid():
    bar = rect(10, 40, 0, 0, 20, 10)      # centroid (10, 5)
    inside_far, outside_near = (0.5, 0.5), (20.3, 5.0)      # 10.5 and 10.3 px from it; 0.8 px off
    assert pairing.auto_pair([bar], [outside_near, inside_far], tolerance=5) == {0: 1}
