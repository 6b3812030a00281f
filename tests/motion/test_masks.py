import numpy as np
import pytest

from server.motion import MotionInputError, mask_from_polygons, resize_mask, scale_points


def test_polygon_rasterises_to_its_area():
    mask = mask_from_polygons([[(10, 10), (50, 10), (50, 30), (10, 30)]], 40, 60)
    assert mask.dtype == bool and mask.shape == (40, 60)
    assert mask[20, 30] and not mask[5, 5] and not mask[35, 55]
    assert abs(int(mask.sum()) - 41 * 21) <= 41 + 21


def test_overlapping_polygons_are_a_union():
    a = [(0, 0), (20, 0), (20, 20), (0, 20)]
    b = [(10, 10), (30, 10), (30, 30), (10, 30)]
    mask = mask_from_polygons([a, b], 40, 40)
    assert mask[15, 15]                      # the overlap is filled, not a hole


def test_polygon_errors():
    with pytest.raises(MotionInputError, match=r"polygons\[0\]"):
        mask_from_polygons([[(0, 0), (1, 1)]], 10, 10)
    with pytest.raises(MotionInputError, match="polygons"):
        mask_from_polygons([], 10, 10)


def test_scale_points_pixel_centres():
    np.testing.assert_allclose(scale_points([(0, 0), (99, 49)], (100, 50), (200, 100)), [(0.5, 0.5), (198.5, 98.5)])


def test_resize_mask_keeps_shape_and_thin_masks():
    mask = np.zeros((100, 200), bool)
    mask[20:60, 40:120] = True
    small = resize_mask(mask, 50, 100)
    assert small.shape == (50, 100) and small.sum() == 20 * 40
    thin = np.zeros((100, 200), bool)
    thin[50, 77] = True
    assert resize_mask(thin, 25, 50).sum() == 1


@pytest.mark.parametrize("polygons, size, field, message", [
    ([[(0, 0), (1, 0), (1, 1)]], (0, 5), "size", "expected a positive height and width, got 0x5"),
    ([[(0, 0), (1, 0), (1, 1)]], (5, 0), "size", "expected a positive height and width, got 5x0"),
    ([], (5, 5), "polygons", "expected at least one polygon"),
    ([[(0, 0), (1, 0), (1, 1)], [(0, 0), (4, 4)]], (5, 5), "polygons[1]",
     "expected at least 3 (x, y) points, got shape (2, 2)"),
    ([[(0, 0, 0), (1, 0, 0), (1, 1, 0)]], (5, 5), "polygons[0]",
     "expected at least 3 (x, y) points, got shape (3, 3)"),
    ([[(0, 0), (np.nan, 0), (1, 1)]], (5, 5), "polygons[0]", "expected finite coordinates"),
])
def test_bad_polygons_name_the_field_and_what_was_expected(polygons, size, field, message):
    with pytest.raises(MotionInputError) as info:
        mask_from_polygons(polygons, *size)
    assert (info.value.field, info.value.message) == (field, message)
    assert str(info.value) == f"{field}: {message}"


def test_a_one_pixel_image_can_hold_a_mask():
    mask = mask_from_polygons([[(-1, -1), (2, -1), (2, 2), (-1, 2)]], 1, 1)
    assert mask.shape == (1, 1) and mask.dtype == bool and mask[0, 0]


def test_half_covered_pixels_are_kept_when_shrinking():
    mask = np.zeros((2, 4), bool)
    mask[0, 0:2] = True        # the left output pixel is half covered
    mask[:, 2:4] = True        # the right one fully
    assert resize_mask(mask, 1, 2).tolist() == [[True, True]]
    mask[0, 0:2] = False
    mask[0, 0] = True          # a quarter covered: dropped
    assert resize_mask(mask, 1, 2).tolist() == [[False, True]]


def test_a_thin_line_never_vanishes_when_shrunk():
    mask = np.zeros((100, 100), bool)
    mask[:, 73] = True         # one pixel wide: a tenth of each output pixel at most
    small = resize_mask(mask, 10, 10)
    assert small.sum() >= 1 and small[:, 7].any() and not small[:, :7].any() and not small[:, 8:].any()
