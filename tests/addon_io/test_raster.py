"""Mask rasterisation (``blender_addon.io.raster``) against exact values: bezier points, feather
widths along the outline, each falloff curve, clipping at the image border, layer combination."""
from __future__ import annotations

import numpy as np
import pytest

from blender_addon.io import coords, raster
from blender_addon.io.raster import Layer, Spline, SplinePoint


def corner(x, y, feather=0.0):
    return SplinePoint((x, y), (x, y), (x, y), feather)


def box(x0, y0, x1, y1, feather=0.0, cyclic=True):
    return Spline(tuple(corner(x, y, feather) for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]), cyclic)


def test_a_bezier_segment_follows_the_cubic_formula():
    p0, h0, h1, p1 = (0.0, 0.0), (1.0, 3.0), (3.0, 3.0), (4.0, 0.0)
    seg = raster.bezier_segment(p0, h0, h1, p1, 4)
    assert seg.shape == (4, 2)
    t = np.array([0.0, 0.25, 0.5, 0.75])[:, None]
    expected = ((1 - t) ** 3 * np.array(p0) + 3 * (1 - t) ** 2 * t * np.array(h0)
                + 3 * (1 - t) * t ** 2 * np.array(h1) + t ** 3 * np.array(p1))
    assert np.allclose(seg, expected)
    assert np.allclose(seg[2], [2.0, 2.25])       # the midpoint of this symmetric arc


def test_the_outline_of_a_closed_spline_and_its_feather_widths():
    sp = Spline((SplinePoint((0, 0), (0, 0), (0, 0), 2.0), SplinePoint((8, 0), (8, 0), (8, 0), 6.0),
                 SplinePoint((8, 8), (8, 8), (8, 8), 4.0)))
    poly, widths = raster.spline_outline(sp, steps=4)
    assert poly.shape == (12, 2) and widths.shape == (12,)
    # handles on their points: each segment eases, B(t) = a + (b - a)(3t² - 2t³)
    assert np.allclose(poly[:5], [[0, 0], [1.25, 0], [4, 0], [6.75, 0], [8, 0]])
    assert np.allclose(poly[8:], [[8, 8], [6.75, 6.75], [4, 4], [1.25, 1.25]])   # closed back to the start
    assert np.allclose(widths, [2, 3, 4, 5, 6, 5.5, 5, 4.5, 4, 3.5, 3, 2.5])


def test_an_open_spline_ends_at_its_last_point():
    sp = Spline((SplinePoint((0, 0), (0, 0), (0, 0), 1.0), SplinePoint((4, 0), (4, 0), (4, 0), 3.0)), cyclic=False)
    poly, widths = raster.spline_outline(sp, steps=2)
    assert np.allclose(poly, [[0, 0], [2, 0], [4, 0]]) and np.allclose(widths, [1, 2, 3])
    assert poly.dtype == np.float64
    with pytest.raises(ValueError, match=r"^mask spline: expected at least 2 points$"):
        raster.spline_outline(Spline(()))


def test_fill_samples_pixel_centres_and_clips_to_the_image():
    # centres exactly on an edge: a top edge and a right edge take them, a left and a bottom do not
    out = raster.fill_polygon(np.array([[1.5, 1.5], [4.5, 1.5], [4.5, 4.5], [1.5, 4.5]]), 6, 6)
    assert out.dtype == bool and out.shape == (6, 6)
    assert np.argwhere(out).tolist() == [[r, c] for r in (1, 2, 3) for c in (2, 3, 4)]
    exact = raster.fill_polygon(np.array([[1.0, 1.0], [4.0, 1.0], [4.0, 4.0], [1.0, 4.0]]), 6, 6)
    assert np.argwhere(exact).tolist() == [[r, c] for r in (1, 2, 3) for c in (1, 2, 3)]
    # partly outside on every side: what is inside the image is filled, nothing wraps around
    big = raster.fill_polygon(np.array([[-3.0, -2.0], [9.0, -2.0], [9.0, 4.0], [-3.0, 4.0]]), 6, 6)
    assert big[:4].all() and not big[4:].any()
    low = raster.fill_polygon(np.array([[0.0, 3.0], [6.0, 3.0], [6.0, 9.0], [0.0, 9.0]]), 6, 6)
    assert not low[:3].any() and low[3:].all()
    assert not raster.fill_polygon(np.array([[0, 10], [5, 10], [5, 12]], float), 6, 6).any()
    tri = raster.fill_polygon(np.array([[0, 0], [4, 0], [0, 4]], float), 4, 4)
    assert tri.astype(int).tolist() == [[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]]


def test_distance_to_outline_and_the_width_there():
    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    widths = np.array([0.0, 10.0, 10.0, 0.0])
    xs = np.array([5.0, 13.0, 5.0, -4.0, 10.0])
    ys = np.array([-3.0, 5.0, 5.0, 5.0, 14.0])
    dist, w = raster.distance_to_outline(square, widths, xs, ys)
    assert np.allclose(dist, [3.0, 3.0, 5.0, 4.0, 4.0])
    assert np.allclose(w[[0, 1, 3, 4]], [5.0, 10.0, 0.0, 10.0])
    # a zero-length segment (a repeated point) does not divide by zero
    d, _ = raster.distance_to_outline(np.array([[1.0, 1.0], [1.0, 1.0], [3.0, 1.0]]), np.zeros(3),
                                      np.array([1.0]), np.array([4.0]))
    assert np.allclose(d, [3.0])


@pytest.mark.parametrize("kind,expected", [
    ("SMOOTH", lambda t: t * t * (3 - 2 * t)),
    ("SPHERE", lambda t: np.sqrt(1 - (1 - t) ** 2)),
    ("ROOT", np.sqrt),
    ("SHARP", lambda t: t * t),
    ("INVERSE_SQUARE", lambda t: t * (2 - t)),
    ("LINEAR", lambda t: t),
    ("CONSTANT?", lambda t: t),
])
def test_each_falloff_curve(kind, expected):
    t = np.linspace(0.0, 1.0, 11)
    assert np.allclose(raster._falloff(t, kind), expected(t))


def test_the_feather_band_falls_off_with_distance_and_is_clipped_at_the_border():
    # a 4x4 square at the left edge with a 4 px feather: the band leaves the image on the left
    sq = box(0.0, 4.0, 4.0, 8.0, feather=4.0)
    a = raster.rasterize_spline(sq, 12, 12, falloff="LINEAR")
    assert a.dtype == np.float32 and a.shape == (12, 12)
    assert (a[4:8, 0:4] == 1).all()
    # right of the square, on its middle row: 1 - d / 4 at d = 0.5, 1.5, 2.5, 3.5, then 0
    assert np.allclose(a[5, 4:9], [0.875, 0.625, 0.375, 0.125, 0.0])
    assert np.allclose(a[0:4, 1], [0.125, 0.375, 0.625, 0.875])
    assert np.allclose(a[8:12, 1], [0.875, 0.625, 0.375, 0.125])
    # far corners stay empty
    assert a[11, 11] == 0 and a[0, 11] == 0
    smooth = raster.rasterize_spline(sq, 12, 12)          # the default falloff is SMOOTH
    t = np.array([0.875, 0.625, 0.375, 0.125])
    assert np.allclose(smooth[5, 4:8], t * t * (3 - 2 * t))


def test_the_feather_box_reaches_the_far_borders_too():
    sq = box(8.0, 8.0, 12.0, 12.0, feather=3.0)
    a = raster.rasterize_spline(sq, 12, 12, falloff="LINEAR")
    assert (a[8:12, 8:12] == 1).all()
    assert np.allclose(a[9, 5:8], [1 / 6, 0.5, 5 / 6])
    assert np.allclose(a[5:8, 9], [1 / 6, 0.5, 5 / 6])
    assert a[4, 9] == 0 and a[9, 4] == 0


def test_a_feather_that_varies_along_the_outline():
    sp = Spline((corner(4, 4, 0.0), corner(12, 4, 4.0), corner(12, 12, 4.0), corner(4, 12, 0.0)))
    a = raster.rasterize_spline(sp, 20, 20, falloff="LINEAR", steps=64)
    assert np.isclose(a[7, 12], 0.875, atol=0.01)       # right side: 4 px of feather, 0.5 px out
    assert a[7, 3] == 0                                  # left side: no feather


def test_no_feather_or_a_band_outside_the_image_leaves_the_fill():
    sq = box(2.0, 2.0, 6.0, 6.0)
    a = raster.rasterize_spline(sq, 10, 10)
    assert a.sum() == 16 and set(np.unique(a)) == {0.0, 1.0}
    off = box(30.0, 30.0, 34.0, 34.0, feather=2.0)        # wholly outside the 10x10 image
    assert raster.rasterize_spline(off, 10, 10).sum() == 0
    left = box(-20.0, 2.0, -14.0, 6.0, feather=2.0)
    assert raster.rasterize_spline(left, 10, 10).sum() == 0
    above = box(2.0, -20.0, 6.0, -14.0, feather=2.0)
    assert raster.rasterize_spline(above, 10, 10).sum() == 0
    below = box(2.0, 14.0, 6.0, 20.0, feather=2.0)
    assert raster.rasterize_spline(below, 10, 10).sum() == 0
    right = box(14.0, 2.0, 20.0, 6.0, feather=2.0)
    assert raster.rasterize_spline(right, 10, 10).sum() == 0


def test_steps_set_how_finely_curves_are_followed():
    k = 0.5522847498 * 10
    circle = Spline(tuple(SplinePoint((20 + dx * 10, 20 + dy * 10), (20 + dx * 10 + dy * k, 20 + dy * 10 - dx * k),
                                      (20 + dx * 10 - dy * k, 20 + dy * 10 + dx * k))
                          for dx, dy in ((1, 0), (0, 1), (-1, 0), (0, -1))))
    coarse = raster.rasterize_spline(circle, 40, 40, steps=1)       # a diamond through the 4 points
    fine = raster.rasterize_spline(circle, 40, 40)                  # 32 steps: the circle
    assert abs(coarse.sum() - 200) < 12 and abs(fine.sum() - np.pi * 100) < 6
    layer = Layer((circle,))
    assert raster.rasterize_layer(layer, 40, 40, steps=1).sum() == coarse.sum()
    assert raster.rasterize_layer(layer, 40, 40).sum() == fine.sum()
    # the layer's default is the spline's 32 steps (33 would draw another polygon)
    big = Spline(tuple(SplinePoint((110 + dx * 100, 110 + dy * 100),
                                   (110 + dx * 100 + dy * 55.22847498, 110 + dy * 100 - dx * 55.22847498),
                                   (110 + dx * 100 - dy * 55.22847498, 110 + dy * 100 + dx * 55.22847498))
                       for dx, dy in ((1, 0), (0, 1), (-1, 0), (0, -1))))
    at32 = raster.rasterize_spline(big, 220, 220, steps=32)
    assert not np.array_equal(at32, raster.rasterize_spline(big, 220, 220, steps=33))
    assert np.array_equal(raster.rasterize_layer(Layer((big,)), 220, 220), at32)
    assert np.array_equal(raster.rasterize_spline(big, 220, 220), at32)


def test_a_layer_combines_its_splines_with_max_then_inverts_then_scales():
    a, b = box(0.0, 0.0, 4.0, 4.0), box(2.0, 2.0, 6.0, 6.0)
    both = raster.rasterize_layer(Layer((a, b)), 8, 8)
    assert both.max() == 1.0 and both.sum() == 16 + 16 - 4
    half = raster.rasterize_layer(Layer((a,), alpha=0.5), 8, 8)
    assert set(np.unique(half)) == {0.0, 0.5} and half.sum() == 8
    inv = raster.rasterize_layer(Layer((a,), invert=True, alpha=0.25), 8, 8)
    assert inv[0, 0] == 0 and inv[7, 7] == 0.25 and inv.sum() == 0.25 * 48
    over = raster.rasterize_layer(Layer((a,), alpha=2.0), 8, 8)
    assert over.max() == 1.0
    feathered = raster.rasterize_layer(Layer((box(2.0, 2.0, 6.0, 6.0, feather=2.0),), falloff="LINEAR"), 8, 8)
    assert np.isclose(feathered[3, 6], 0.75)
    sharp = raster.rasterize_layer(Layer((box(2.0, 2.0, 6.0, 6.0, feather=2.0),), falloff="SHARP"), 8, 8)
    assert np.isclose(sharp[3, 6], 0.75 ** 2)                     # the layer's falloff reaches its splines
    assert both.dtype == np.float32 and sharp.dtype == np.float32
    assert not raster.rasterize_layer(Layer((a,), alpha=-1.0), 8, 8).any()   # never below 0
    assert raster.rasterize_layer(Layer(()), 3, 2).shape == (2, 3)


def test_to_uint8_rounds_and_clips():
    assert raster.to_uint8([-0.5, 0.0, 0.001, 0.002, 0.5, 0.998, 1.0, 1.7]).tolist() == [0, 0, 0, 1, 128, 254, 255, 255]
    assert raster.to_uint8(np.ones((2, 2))).dtype == np.uint8


def test_a_spline_from_mask_space_points():
    w, h = 200, 100
    pts = [((0.5, 0.5), (0.4, 0.5), (0.6, 0.5), 0.01), ((0.75, 0.5), (0.7, 0.5), (0.8, 0.5), 0.0)]
    sp = raster.spline_from_mask_points(pts, w, h, cyclic=False)
    assert not sp.cyclic and len(sp.points) == 2
    p = sp.points[0]
    assert np.allclose(p.co, coords.mask_to_pixels((0.5, 0.5), w, h))
    assert np.allclose(p.handle_left, coords.mask_to_pixels((0.4, 0.5), w, h))
    assert np.allclose(p.handle_right, coords.mask_to_pixels((0.6, 0.5), w, h))
    assert p.feather == pytest.approx(2.0)
    assert np.allclose(sp.points[1].co, [150.0, 50.0])
    assert raster.spline_from_mask_points(pts, w, h).cyclic


def test_map_layer_moves_points_and_scales_feathers():
    layer = Layer((Spline((SplinePoint((1, 2), (0, 2), (2, 2), 1.5), corner(5, 6)), cyclic=False),),
                  invert=True, alpha=0.7, falloff="SHARP", name="Ball", extra={"k": 1})
    moved = raster.map_layer(layer, lambda pts: np.asarray(pts, float) * 2 + 1, 3.0)
    (sp,) = moved.splines
    assert not sp.cyclic
    assert sp.points[0] == SplinePoint((3.0, 5.0), (1.0, 5.0), (5.0, 5.0), 4.5)
    assert sp.points[1] == SplinePoint((11.0, 13.0), (11.0, 13.0), (11.0, 13.0), 0.0)
    assert (moved.invert, moved.alpha, moved.falloff, moved.name, moved.extra) == (True, 0.7, "SHARP", "Ball", {"k": 1})
    assert moved.extra is not layer.extra
    closed = raster.map_layer(Layer((box(0.0, 0.0, 1.0, 1.0),)), lambda pts: np.asarray(pts, float), 1.0)
    assert closed.splines[0].cyclic is True
