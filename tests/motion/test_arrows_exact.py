"""Arrows, exactly: the easing curves' values, the checks' messages, arc-length clamping, the turn
along a curved arrow, explicit progress. Expected values are worked out by hand in each test."""
import math

import numpy as np
import pytest

from server.motion import EASINGS, ArrowPath, MotionInputError, check_easing, check_progress, eased_times
from server.motion.arrows import check_frames

L_PATH = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]           # right 10, then down 10 (y down)


def refusal(call, *args, **kwargs) -> str:
    with pytest.raises(MotionInputError) as info:
        call(*args, **kwargs)
    return str(info.value)


def test_easing_curves_at_quarter_points():
    t = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(EASINGS["linear"](t), t)
    np.testing.assert_allclose(EASINGS["ease-in"](t), [0, 0.0625, 0.25, 0.5625, 1])
    np.testing.assert_allclose(EASINGS["ease-out"](t), [0, 0.4375, 0.75, 0.9375, 1])
    np.testing.assert_allclose(EASINGS["ease-in-out"](t), [0, 0.15625, 0.5, 0.84375, 1])
    assert sorted(EASINGS) == ["ease-in", "ease-in-out", "ease-out", "linear"]


def test_eased_times_over_frames():
    np.testing.assert_allclose(eased_times(5, "ease-in"), [0, 0.0625, 0.25, 0.5625, 1])
    np.testing.assert_array_equal(eased_times(2), [0.0, 1.0])
    one = eased_times(1, "ease-out")
    assert one.shape == (1,) and one[0] == 0.0
    assert eased_times(3).dtype == np.float64


def test_check_easing_reads_aliases_and_names_the_field():
    assert check_easing(" Ease_In_Out ") == "ease-in-out"
    assert check_easing("LINEAR") == "linear"
    assert refusal(check_easing, "bounce", "tracks[2].arrow.easing") == \
        "tracks[2].arrow.easing: expected one of ['ease-in', 'ease-in-out', 'ease-out', 'linear'], got 'bounce'"
    assert refusal(check_easing, None) == \
        "easing: expected one of ['ease-in', 'ease-in-out', 'ease-out', 'linear'], got None"
    assert refusal(check_easing, 3) .endswith("got 3")


@pytest.mark.parametrize("frames", [1, 2, 25, 3.0, np.int64(7)])
def test_check_frames_accepts_positive_whole_numbers(frames):
    value = check_frames(frames)
    assert value == frames and type(value) is int


@pytest.mark.parametrize("frames", [0, -1, 1.5, True, None, "4", float("inf"), float("nan")])
def test_check_frames_refusal_names_the_field_and_the_value(frames):
    assert refusal(check_frames, frames, "params.frames") == \
        f"params.frames: expected a positive integer frame count, got {frames!r}"


def test_check_progress_keeps_the_values_and_refuses_naming_the_field():
    u = check_progress([0, 0.5, 1], 3, "tracks[1].progress")
    assert u.dtype == np.float64 and u.tolist() == [0.0, 0.5, 1.0]
    assert check_progress((0.0, 1.0), 2).tolist() == [0.0, 1.0]          # both ends accepted
    assert refusal(check_progress, [0, 1], 3, "tracks[1].progress") == \
        "tracks[1].progress: expected one value per frame (3), got shape (2,)"
    assert refusal(check_progress, [[0, 1, 1]], 3) == "progress: expected one value per frame (3), got shape (1, 3)"
    for bad in ([0, -0.001, 1], [0, 1.001, 1], [0, np.inf, 1], [np.nan, 0, 1]):
        assert refusal(check_progress, bad, 3, "p") == \
            "p: expected finite values in [0, 1] (share of the arrow covered)"
    assert refusal(check_progress, ["a", "b"], 2, "p") == "p: expected 2 numbers in [0, 1], got ['a', 'b']"
    assert refusal(check_progress, object(), 2, "p").startswith("p: expected 2 numbers in [0, 1], got <object")


def test_arrow_refusals_name_the_points_field():
    assert refusal(ArrowPath, [(1, 2)], "tracks[0].arrow") == \
        "tracks[0].arrow.points: expected at least 2 (x, y) points, got shape (1, 2)"
    assert refusal(ArrowPath, [1, 2, 3, 4]) == "arrow.points: expected at least 2 (x, y) points, got shape (4,)"
    assert refusal(ArrowPath, [(0, 0, 0), (1, 1, 1)]) == \
        "arrow.points: expected at least 2 (x, y) points, got shape (2, 3)"
    assert refusal(ArrowPath, [(0, 0), (1, np.inf)]) == "arrow.points: expected finite coordinates"
    assert refusal(ArrowPath, [(0, 0), (1e-10, 0)]) == \
        "arrow.points: arrow has zero length: draw it from tail to a different head"
    assert ArrowPath([(0, 0), (2e-9, 0)]).length == pytest.approx(2e-9)


def test_repeated_points_are_dropped_and_arc_length_accumulates():
    arrow = ArrowPath([(0, 0), (0, 0), (3, 4), (3, 4), (3, 10)])
    np.testing.assert_array_equal(arrow.points, [[0, 0], [3, 4], [3, 10]])
    np.testing.assert_allclose(arrow.cumulative, [0, 5, 11])
    assert arrow.length == 11.0 and type(arrow.length) is float
    np.testing.assert_array_equal(arrow.tail, [0, 0])
    np.testing.assert_array_equal(arrow.head, [3, 10])
    assert repr(arrow) == "ArrowPath(3 points, length=11.00)"


def test_point_at_clamps_to_the_ends_and_interpolates_between():
    arrow = ArrowPath(L_PATH)
    np.testing.assert_allclose(arrow.point_at([-5.0, 0.0, 4.0, 10.0, 13.0, 20.0, 99.0]),
                               [[0, 0], [0, 0], [4, 0], [10, 0], [10, 3], [10, 10], [10, 10]])
    assert arrow.point_at(2.5).shape == (2,)


def test_displacements_are_exact_at_both_ends_on_a_curve():
    arrow = ArrowPath([(1.0, 1.0), (1.1, 1.3), (7.7, 2.9), (0.3, 9.1)])
    for easing in EASINGS:
        d = arrow.displacements(7, easing)
        assert d.dtype == np.float64 and d.shape == (7, 2)
        assert d[0].tolist() == [0.0, 0.0]
        assert d[-1].tolist() == (np.array([0.3, 9.1]) - np.array([1.0, 1.0])).tolist()
    np.testing.assert_array_equal(arrow.displacements(1), [[0.0, 0.0]])


def test_progress_replaces_the_easing_and_names_the_tracks_progress():
    arrow = ArrowPath(L_PATH, "tracks[3].arrow")
    d = arrow.displacements(4, "ease-in", progress=[0.25, 0.5, 0.75, 0.25])
    np.testing.assert_allclose(d, [[0, 0], [5, 0], [5, 5], [0, 0]])          # offsets from frame 0's spot
    assert refusal(arrow.displacements, 4, progress=[0, 1]) == \
        "tracks[3].progress: expected one value per frame (4), got shape (2,)"
    assert refusal(arrow.turn_angles, 4, progress=[0, 1]) == \
        "tracks[3].progress: expected one value per frame (4), got shape (2,)"
    assert refusal(arrow.displacements, 0, progress=[]) == \
        "frames: expected a positive integer frame count, got 0"
    assert refusal(arrow.displacements, 3, "wobble") .startswith("tracks[3].arrow.easing: expected one of")
    assert refusal(arrow.turn_angles, 3, "wobble") .startswith("tracks[3].arrow.easing: expected one of")


def test_tangent_angle_turns_smoothly_between_segment_midpoints():
    arrow = ArrowPath(L_PATH)                                # segments at 0 and +90 degrees, midpoints 5, 15
    s = np.array([-1.0, 0.0, 5.0, 7.5, 10.0, 12.5, 15.0, 20.0, 25.0])
    np.testing.assert_allclose(arrow.tangent_angle(s),
                               np.radians([0, 0, 0, 22.5, 45, 67.5, 90, 90, 90]), atol=1e-12)


def test_tangent_angle_unwraps_across_the_back():
    # left, then down-left, then up-left: -180 -> -225 (unwrapped, not +135) -> ...
    arrow = ArrowPath([(0.0, 0.0), (-10.0, 0.0), (-20.0, -10.0)])
    angles = arrow.tangent_angle(np.array([0.0, arrow.length]))
    assert angles[0] == pytest.approx(math.pi)
    assert angles[1] == pytest.approx(math.pi + math.pi / 4)


def test_turn_angles_follow_the_timing_from_frame_zero():
    arrow = ArrowPath(L_PATH)                                # length 20
    np.testing.assert_allclose(arrow.turn_angles(5), np.radians([0, 0, 45, 90, 90]), atol=1e-12)
    np.testing.assert_allclose(arrow.turn_angles(3, "ease-in"), np.radians([0, 0, 90]), atol=1e-12)
    np.testing.assert_allclose(arrow.turn_angles(3, progress=[0.5, 0.5, 0.625]),
                               np.radians([0, 0, 22.5]), atol=1e-12)
    np.testing.assert_array_equal(ArrowPath([(0, 0), (5, 5), (9, 9)]).turn_angles(6), np.zeros(6))


def test_scaled_keeps_the_field_and_uses_pixel_centres():
    arrow = ArrowPath([(0, 0), (3, 0)], "tracks[5].arrow").scaled(2.0, 3.0)
    assert arrow.field == "tracks[5].arrow"
    np.testing.assert_allclose(arrow.points, [[0.5, 1.0], [6.5, 1.0]])
    assert arrow.length == pytest.approx(6.0)


def test_tangent_at_the_tail_is_the_first_segments_even_when_it_is_short():
    arrow = ArrowPath([(0.0, 0.0), (1.0, 0.0), (1.0, 10.0)])        # midpoints at 0.5 and 6
    assert arrow.tangent_angle(0.0) == 0.0
    assert arrow.tangent_angle(0.75) == pytest.approx(math.radians(90 * 0.25 / 5.5), abs=1e-12)
    np.testing.assert_allclose(arrow.turn_angles(3), np.radians([0, 90 * 5 / 5.5, 90]), atol=1e-12)


@pytest.mark.parametrize("method", ["displacements", "turn_angles"])
def test_progress_errors_drop_only_the_last_arrow_of_a_nested_field(method):
    arrow = ArrowPath([(0, 0), (10, 0)], "scene.arrows[2].arrow")
    assert refusal(getattr(arrow, method), 3, progress=[0, 1]) == \
        "scene.arrows[2].progress: expected one value per frame (3), got shape (2,)"


def test_eased_times_refusal_names_easing_by_default():
    assert refusal(eased_times, 5, "bounce") .startswith("easing: expected one of ")
    assert refusal(eased_times, 5, "bounce", "tracks[1].arrow.easing").startswith("tracks[1].arrow.easing: ")


def test_arrow_with_a_missing_coordinate_or_of_exactly_the_minimum_length_is_refused():
    assert refusal(ArrowPath, [(0, 0), (None, 1)], "tracks[0].arrow") == \
        "tracks[0].arrow.points: expected finite coordinates"
    assert refusal(ArrowPath, [(0, 0), (1e-9, 0)]) == \
        "arrow.points: arrow has zero length: draw it from tail to a different head"
