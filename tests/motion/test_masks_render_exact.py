"""Masks, P's squares and τ's gate at their exact edges: which interpolation a resize uses, the
pixel-centre rounding of a square, the size and palette limits, and the words of each refusal."""
import math

import cv2
import numpy as np
import pytest

from server.motion import (MAX_COMPONENTS, PALETTE, MotionInputError, Trajectories, mask_from_polygons,
                           render_trajectories, resize_mask, tau_gate)
from server.motion.rendering import SQUARE, square_origin


def refusal(call, *args) -> str:
    with pytest.raises(MotionInputError) as info:
        call(*args)
    return str(info.value)


def resized(mask, height, width, interpolation):
    return cv2.resize(mask.astype(np.float32), (width, height), interpolation=interpolation) >= 0.5


# ------------------------------------------------------------------------------------ masks
def test_polygon_with_a_missing_coordinate_is_refused_naming_the_polygon():
    assert refusal(mask_from_polygons, [[(0, 0), (4, 0), (4, 4)], [(0, 0), (None, 1), (1, 1)]], 5, 5) == \
        "polygons[1]: expected finite coordinates"


def test_polygon_keeps_sub_pixel_vertices():
    # a triangle whose edge passes between pixel centres: 1/256 px steps decide which are inside
    left = mask_from_polygons([[(0.0, 0.0), (3.49, 0.0), (3.49, 3.0), (0.0, 3.0)]], 4, 6)
    right = mask_from_polygons([[(0.0, 0.0), (3.51, 0.0), (3.51, 3.0), (0.0, 3.0)]], 4, 6)
    assert left[:, :4].any() and not (left[:, 4:]).any()
    assert right[1, 4] and left.sum() < right.sum()


def test_resize_keeps_a_bool_copy_at_the_same_size():
    mask = np.zeros((3, 4), np.uint8)
    mask[1, 2] = 255
    out = resize_mask(mask, 3, 4)
    assert out.dtype == bool and out.tolist() == (mask > 0).tolist()
    out[0, 0] = True
    assert not mask[0, 0]                                    # a copy, not a view


def test_resize_reads_any_nonzero_value_as_one_pixel_of_coverage():
    mask = np.zeros((2, 4), np.uint8)
    mask[0, 0] = 255                                          # a quarter of the left output pixel
    mask[:, 2:] = 7
    assert resize_mask(mask, 1, 2).tolist() == [[False, True]]


def test_enlarging_interpolates_linearly():
    mask = np.zeros((3, 4), bool)
    mask[1, 1] = mask[0, 3] = True
    out = resize_mask(mask, 7, 9)
    np.testing.assert_array_equal(out, resized(mask, 7, 9, cv2.INTER_LINEAR))
    assert not np.array_equal(out, resized(mask, 7, 9, cv2.INTER_AREA))


def test_the_same_pixel_count_in_another_shape_is_not_shrinking():
    mask = np.array([[1, 0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 0, 1, 0, 1, 0]], bool)     # 16 pixels -> 16
    out = resize_mask(mask, 4, 4)
    np.testing.assert_array_equal(out, resized(mask, 4, 4, cv2.INTER_LINEAR))
    assert not np.array_equal(out, resized(mask, 4, 4, cv2.INTER_AREA))


def test_shrinking_averages_areas():
    mask = np.zeros((6, 6), bool)
    mask[0:3, 0:2] = True                   # 2/3 of the top-left 3x3 block
    mask[3:6, 3] = True                     # 1/3 of the bottom-right one
    assert resize_mask(mask, 2, 2).tolist() == [[True, False], [False, False]]


# ------------------------------------------------------------------------------------ P's squares
def test_square_origin_rounds_half_up_in_float64():
    xy = np.array([[0.49999997, 0.5], [-0.5, 1.5000001], [2.0, -2.6]], dtype=np.float32)
    np.testing.assert_array_equal(square_origin(xy), [[-2, -1], [-2, 0], [0, -5]])
    assert square_origin(xy).dtype == np.int64 and SQUARE == 4


def test_a_point_just_below_half_a_pixel_draws_from_round_down():
    traj = Trajectories(np.array([[[0.49999997, 0.49999997]]], np.float32), [0], [[True]])
    lit = np.argwhere(render_trajectories(traj, 6, 6)[0].any(axis=2))
    assert {tuple(p) for p in lit} == {(r, c) for r in range(2) for c in range(2)}


@pytest.mark.parametrize("height, width", [(0, 5), (5, 0), (-1, 3)])
def test_render_refuses_an_empty_frame_naming_the_size(height, width):
    traj = Trajectories(np.zeros((1, 1, 2)), [0], [[True]])
    assert refusal(render_trajectories, traj, height, width) == \
        f"size: expected a positive height and width, got {height}x{width}"


def test_a_one_pixel_frame_is_drawn():
    traj = Trajectories(np.zeros((2, 1, 2)), [0], [[True], [False]])
    out = render_trajectories(traj, 1, 1)
    assert out.shape == (2, 1, 1, 3) and out[0, 0, 0].tolist() == PALETTE[0].tolist() and not out[1].any()


def test_every_palette_colour_can_be_drawn_and_one_more_component_is_refused():
    n = MAX_COMPONENTS
    xs = np.arange(n) * 5.0 + 2.0
    traj = Trajectories(np.stack([xs, np.full(n, 2.0)], axis=1)[None], np.arange(n), np.ones((1, n), bool))
    out = render_trajectories(traj, 5, 5 * n)
    for j in range(n):
        assert out[0, 2, int(xs[j])].tolist() == PALETTE[j].tolist()
    more = Trajectories(np.zeros((1, n + 1, 2)), np.arange(n + 1), np.ones((1, n + 1), bool))
    assert refusal(render_trajectories, more, 4, 4) == \
        f"tracks: at most {n} components can be drawn (palette size), got {n + 1}"


# ------------------------------------------------------------------------------------ tau
@pytest.mark.parametrize("bad", [0.5, -1e4 - 1, float("nan"), float("-inf"), "x", None])
def test_tau_refusal_says_the_range_and_the_value(bad):
    assert refusal(tau_gate, bad) == f"tau: expected a number in [-10000, 0], got {bad!r}"


def test_tau_gate_values_against_the_formula():
    for tau in (-1e-6, -0.5, -1.0, -9.0, -99.0, -999.0, -9999.0):
        assert tau_gate(tau) == pytest.approx(1 - math.log10(1 - tau) / math.log10(10001), abs=1e-12)
    assert tau_gate("-99") == pytest.approx(0.5, abs=1e-3) and tau_gate(0) == 1.0 and tau_gate(-10000) == 0.0
    assert tau_gate(-0.0) == 1.0
