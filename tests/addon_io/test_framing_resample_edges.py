"""``framing.resample`` at its edges, against values worked out by hand: output pixels whose centre
lies exactly on the reference's edge, padding bars wider than the image, interpolation between
neighbours on images more than two pixels across, shrinking along one axis only, precision kept
when nothing is shrunk, and the mode a stretch framing carries."""
from __future__ import annotations

import numpy as np

from blender_addon.io import framing as F

IMG = np.array([[10, 20], [30, 40]], np.uint8)


def test_a_pixel_centred_on_the_reference_edge_takes_the_image_not_the_fill():
    # pad 2x2 into 3 wide: bars of half a pixel, so the first and last output centres lie
    # exactly on the left and right edges (source x = -0.5 and 1.5); both count as inside
    fr = F.framing(2, 2, 3, 2, "pad")
    assert (fr.tx, fr.ty) == (0.5, 0.0)
    assert F.resample(IMG, fr, fill=99).tolist() == [[10, 15, 20], [30, 35, 40]]
    assert F.resample(IMG, fr, nearest=True, fill=99).tolist() == [[10, 20, 20], [30, 40, 40]]
    tall = F.framing(2, 2, 2, 3, "pad")          # the same across rows
    assert F.resample(IMG, tall, fill=99).tolist() == [[10, 20], [20, 30], [30, 40]]
    assert F.resample(IMG, tall, nearest=True, fill=99).tolist() == [[10, 20], [30, 40], [30, 40]]


def test_nearest_padding_with_bars_wider_than_the_image():
    # 2x2 into 8 wide: 3 px bars each side; the bar pixels map 3 px outside the image
    wide = F.resample(IMG, F.framing(2, 2, 8, 2, "pad"), nearest=True, fill=7)
    assert wide.tolist() == [[7, 7, 7, 10, 20, 7, 7, 7], [7, 7, 7, 30, 40, 7, 7, 7]]
    tall = F.resample(IMG, F.framing(2, 2, 2, 8, "pad"), nearest=True, fill=7)
    assert tall.tolist() == [[7, 7]] * 3 + [[10, 20], [30, 40]] + [[7, 7]] * 3


def test_bilinear_upscaling_blends_each_pixel_with_its_next_neighbour():
    ramp = np.array([[0, 10, 20, 30]], np.float32)
    # source x = -0.25, 0.25, ..., 3.25: each value a quarter or three quarters of the way on
    expected = [0.0, 2.5, 7.5, 12.5, 17.5, 22.5, 27.5, 30.0]
    assert F.resample(ramp, F.framing(4, 1, 8, 1, "stretch")).tolist() == [expected]
    column = np.ascontiguousarray(ramp.T)
    assert F.resample(column, F.framing(1, 4, 1, 8, "stretch")).tolist() == [[v] for v in expected]


def test_nearest_shrinking_picks_rows_and_columns_it_does_not_average_them():
    rows = np.zeros((4, 2), np.uint8)
    rows[1::2] = 255                              # every other row bright
    # halved down: output rows sample source rows 1 and 3 (centres 1.5 and 3.5 → 1 and 3)
    assert F.resample(rows, F.framing(2, 4, 2, 2, "stretch"), nearest=True).tolist() == [[255, 255]] * 2
    cols = np.ascontiguousarray(rows.T)
    assert F.resample(cols, F.framing(4, 2, 2, 2, "stretch"), nearest=True).tolist() == [[255, 255]] * 2


def test_shrinking_two_and_a_half_times_along_one_axis_averages_pairs_first():
    # s = 0.4 across only: blocks of 2 (int(1 / 0.4)) are averaged, then sampled; stripes one
    # pixel wide become their mean, not a beat pattern of 64 and 191
    stripes = np.zeros((2, 10), np.uint8)
    stripes[:, ::2] = 255
    across = F.resample(stripes, F.framing(10, 2, 4, 2, "stretch"))
    assert across.shape == (2, 4) and set(np.unique(across)) <= {127, 128}
    down = F.resample(np.ascontiguousarray(stripes.T), F.framing(2, 10, 2, 4, "stretch"))
    assert down.shape == (4, 2) and set(np.unique(down)) <= {127, 128}


def test_an_image_that_is_not_shrunk_keeps_its_precision():
    img = np.array([[0.1, 0.7], [1e-9, 3.3]], np.float64)
    out = F.resample(img, F.framing(2, 2, 2, 2, "stretch"))
    assert out.dtype == np.float64 and out.tolist() == img.tolist()     # not rounded through float32
    up = F.resample(img, F.framing(2, 2, 2, 4, "stretch"))              # enlarged down only
    assert up[:, 0].tolist() == [0.1, 0.1 * 0.75 + 1e-9 * 0.25, 0.1 * 0.25 + 1e-9 * 0.75, 1e-9]


def test_a_stretch_framing_says_it_is_one():
    fr = F.framing(2, 1, 4, 4, "stretch")
    assert fr.mode == "stretch" and fr.to_body()["mode"] == "stretch"
    assert (fr.sx, fr.sy, fr.tx, fr.ty) == (2.0, 4.0, 0.0, 0.0)
