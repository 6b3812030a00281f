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
