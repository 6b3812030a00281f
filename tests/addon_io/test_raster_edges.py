"""Mask rasterisation (``blender_addon.io.raster``) at its edges: the end of an open spline of
more than two points, a polygon whose top lies between pixel centres, a feather of one pixel, a
feather band reaching the image's left edge (every pixel against the distance formula), and a
feather of zero at some points (no NaN, no numpy warnings in Blender's console)."""
from __future__ import annotations

import warnings

import numpy as np

from blender_addon.io import raster
from blender_addon.io.raster import Spline
from tests.addon_io.test_raster import box, corner


def smooth_band(width, height, x0, y0, x1, y1, feather):
    """Expected alpha of a feathered axis-aligned square, pixel by pixel: 1 inside; outside,
    the smooth falloff of t = 1 - distance / feather, 0 beyond the band."""
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    dx = np.maximum(np.maximum(x0 - xs, 0.0), xs - x1)
    dy = np.maximum(np.maximum(y0 - ys, 0.0), ys - y1)
    t = np.clip(1.0 - np.hypot(dx, dy) / feather, 0.0, 1.0)
    soft = t * t * (3.0 - 2.0 * t)
    inside = (xs > x0) & (xs < x1) & (ys > y0) & (ys < y1)
    return np.where(inside, 1.0, soft)


def test_an_open_spline_of_three_points_ends_at_the_last_one():
    sp = Spline((corner(0, 0, 1.0), corner(4, 0, 3.0), corner(4, 4, 5.0)), cyclic=False)
    poly, widths = raster.spline_outline(sp, steps=4)
    assert poly.shape == (9, 2) and widths.shape == (9,)
    assert poly[-1].tolist() == [4.0, 4.0] and widths[-1] == 5.0
    assert poly[4].tolist() == [4.0, 0.0] and widths[4] == 3.0


def test_a_polygon_whose_top_lies_below_the_first_rows_centre_is_filled():
    # the top edge at y = 2.7: row 2 (centre 2.5) holds no crossing, rows 3-5 do
    square = [(1.0, 2.7), (5.0, 2.7), (5.0, 6.2), (1.0, 6.2)]
    out = raster.fill_polygon(np.array(square), 8, 8)
    expected = np.zeros((8, 8), bool)
    expected[3:6, 1:5] = True
    assert out.tolist() == expected.tolist()


def test_a_one_pixel_feather_softens_the_edge_pixels():
    alpha = raster.rasterize_spline(box(2.0, 2.0, 6.0, 6.0, feather=1.0), 9, 9)
    assert alpha[3, 6] == 0.5 and alpha[3, 1] == 0.5        # centres half a pixel out: t = 0.5
    np.testing.assert_allclose(alpha, smooth_band(9, 9, 2.0, 2.0, 6.0, 6.0, 1.0), atol=1e-6)


def test_a_feather_band_to_the_left_edge_matches_the_distance_everywhere():
    # the square is further down than it is right, and its band reaches column 0 (t = 0.25 there);
    # the corners of the band's box lie beyond the feather and stay 0
    alpha = raster.rasterize_spline(box(2.0, 5.0, 6.0, 9.0, feather=2.0), 12, 12)
    assert alpha[6, 0] > 0.1 and alpha[3, 0] == 0.0
    np.testing.assert_allclose(alpha, smooth_band(12, 12, 2.0, 5.0, 6.0, 9.0, 2.0), atol=1e-6)


def test_a_feather_of_zero_at_a_point_gives_no_nan_and_no_warning():
    # the first corner lies on a pixel centre with no feather: distance 0 over width 0 there
    sp = Spline((corner(2.5, 2.5, 0.0), corner(6.5, 2.5, 2.0), corner(6.5, 6.5, 2.0), corner(2.5, 6.5, 2.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alpha = raster.rasterize_spline(sp, 10, 10)
    assert np.isfinite(alpha).all()
    assert alpha[2, 2] == 0.0 and alpha[1, 1] == 0.0         # no feather at that corner
    assert alpha[4, 4] == 1.0 and alpha[4, 7] > 0.0          # inside, and the feathered right side
