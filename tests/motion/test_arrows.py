import numpy as np
import pytest

from server.motion import EASINGS, ArrowPath, MotionInputError, eased_times

CURVE = [(10.0, 10.0), (40.0, 10.0), (40.0, 50.0), (0.0, 50.0)]     # length 30 + 40 + 40 = 110


def test_straight_arrow_linear_displacements():
    d = ArrowPath([(5, 5), (29, 23)]).displacements(5)
    np.testing.assert_allclose(d, [[0, 0], [6, 4.5], [12, 9], [18, 13.5], [24, 18]])


@pytest.mark.parametrize("easing", sorted(EASINGS))
def test_endpoints_are_exact_for_every_easing(easing):
    arrow = ArrowPath(CURVE)
    for frames in (2, 3, 14, 25):
        d = arrow.displacements(frames, easing)
        assert d.shape == (frames, 2)
        assert (d[0] == 0).all()
        assert (d[-1] == np.array(CURVE[-1]) - np.array(CURVE[0])).all()


@pytest.mark.parametrize("easing, u_half", [("linear", 0.5), ("ease-in", 0.25), ("ease-out", 0.75),
                                            ("ease-in-out", 0.5)])
def test_curved_arrow_walks_by_arc_length(easing, u_half):
    arrow = ArrowPath(CURVE)
    frames = 11
    d = arrow.displacements(frames, easing)
    t = np.arange(frames) / (frames - 1)
    u = {"linear": t, "ease-in": t**2, "ease-out": 1 - (1 - t) ** 2, "ease-in-out": 3 * t**2 - 2 * t**3}[easing]
    for i in range(frames):
        s = u[i] * 110.0
        if s <= 30:
            expected = (s, 0.0)
        elif s <= 70:
            expected = (30.0, s - 30)
        else:
            expected = (30.0 - (s - 70), 40.0)
        np.testing.assert_allclose(d[i], expected, atol=1e-9)
    np.testing.assert_allclose(eased_times(frames, easing)[5], u_half)


def test_easings_differ_in_spacing_not_in_path():
    arrow = ArrowPath([(0, 0), (100, 0)])
    lin = arrow.displacements(9, "linear")[:, 0]
    ein = arrow.displacements(9, "ease-in")[:, 0]
    eout = arrow.displacements(9, "ease-out")[:, 0]
    assert (ein[1:-1] < lin[1:-1]).all() and (eout[1:-1] > lin[1:-1]).all()
    assert np.all(np.diff(ein) > 0) and np.all(np.diff(eout) > 0)
    assert np.diff(ein)[0] < np.diff(ein)[-1]                       # accelerates
    assert np.diff(eout)[0] > np.diff(eout)[-1]                     # decelerates


def test_many_point_polyline_and_repeated_points():
    theta = np.linspace(0, np.pi, 200)
    pts = np.stack([50 + 40 * np.cos(theta), 50 + 40 * np.sin(theta)], axis=1)
    pts = np.concatenate([pts[:1], pts])                             # a repeated tail point
    arrow = ArrowPath(pts)
    assert arrow.length == pytest.approx(40 * np.pi, rel=1e-4)
    mid = arrow.displacements(3)[1] + arrow.tail
    np.testing.assert_allclose(mid, (50, 90), atol=0.05)             # half-way round the arc


def test_one_frame_is_no_motion():
    np.testing.assert_array_equal(ArrowPath([(0, 0), (3, 4)]).displacements(1), [[0, 0]])


def test_easing_alias_and_errors():
    arrow = ArrowPath([(0, 0), (10, 0)])
    np.testing.assert_array_equal(arrow.displacements(5, "ease_in"), arrow.displacements(5, "ease-in"))
    with pytest.raises(MotionInputError, match="arrow.easing.*bounce"):
        arrow.displacements(5, "bounce")
    with pytest.raises(MotionInputError, match="frames"):
        arrow.displacements(0)


@pytest.mark.parametrize("points", [[(3, 3), (3, 3)], [(1, 2), (1, 2), (1, 2)]])
def test_zero_length_arrow_is_an_error(points):
    with pytest.raises(MotionInputError, match=r"tracks\[0\]\.arrow\.points.*zero length"):
        ArrowPath(points, field="tracks[0].arrow")


@pytest.mark.parametrize("points", [[(1, 2)], [[1, 2, 3], [4, 5, 6]], [(0, 0), (float("nan"), 1)]])
def test_malformed_arrow_is_an_error(points):
    with pytest.raises(MotionInputError, match="arrow.points"):
        ArrowPath(points)


def test_scaled_arrow():
    a = ArrowPath([(0, 0), (10, 20)]).scaled(2, 0.5)
    np.testing.assert_allclose(a.points, [[0.5, -0.25], [20.5, 9.75]])


@pytest.mark.parametrize("frames", [None, "x", float("nan"), float("inf"), 2.5, 0, True])
def test_bad_frame_count_is_an_error_naming_the_field(frames):
    with pytest.raises(MotionInputError, match="frames: expected a positive integer"):
        ArrowPath([(0, 0), (10, 0)], "tracks[0].arrow").displacements(frames)
    with pytest.raises(MotionInputError, match="frames: expected a positive integer"):
        eased_times(frames)
