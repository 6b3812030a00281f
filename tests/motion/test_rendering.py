import numpy as np
import pytest

from server.motion import MAX_COMPONENTS, PALETTE, MotionInputError, render_trajectories, trajectories_from_tracks


def test_palette_has_distinct_colours():
    assert MAX_COMPONENTS >= 6 and len(PALETTE) == MAX_COMPONENTS
    assert len({tuple(c) for c in PALETTE.tolist()}) == MAX_COMPONENTS
    assert not (PALETTE == 0).all(axis=1).any()                  # none is the black background


def test_square_colour_and_pixels():
    traj = trajectories_from_tracks([[[10.0, 20.0], [30.2, 5.7]], [[11.0, 20.0], [30.2, 5.7]]], [0, 1])
    p = render_trajectories(traj, 40, 50)
    assert p.shape == (2, 40, 50, 3) and p.dtype == np.uint8
    # point (10, 20): columns 8..11, rows 18..21 in red
    lit = np.argwhere(p[0].any(axis=2))
    red = np.argwhere((p[0] == PALETTE[0]).all(axis=2))
    assert {tuple(r) for r in red} == {(r, c) for r in range(18, 22) for c in range(8, 12)}
    green = np.argwhere((p[0] == PALETTE[1]).all(axis=2))      # (30.2, 5.7) -> round (30, 6)
    assert {tuple(g) for g in green} == {(r, c) for r in range(4, 8) for c in range(28, 32)}
    assert len(lit) == 32
    red1 = np.argwhere((p[1] == PALETTE[0]).all(axis=2))       # moved one pixel right
    assert {tuple(r) for r in red1} == {(r, c) for r in range(18, 22) for c in range(9, 13)}


def test_fixed_drawing_order_later_component_on_top():
    # component 1 listed first but drawn after component 0
    traj = trajectories_from_tracks([[[10.0, 10.0], [11.0, 10.0]]], [1, 0])
    p = render_trajectories(traj, 20, 20)
    assert (p[0, 10, 9] == PALETTE[1]).all()                    # overlap: component 1 wins
    assert (p[0, 10, 12] == PALETTE[0]).all()                   # component 0 only


def test_invisible_points_are_not_drawn():
    traj = trajectories_from_tracks([[[5.0, 5.0]], [[5.0, 5.0]]], [0], [[True], [False]])
    p = render_trajectories(traj, 12, 12)
    assert p[0].any() and not p[1].any()


def test_points_leaving_the_frame_are_clipped():
    traj = trajectories_from_tracks([[[0.0, 0.0], [19.0, 9.4], [-50.0, 3.0], [1e6, -1e6]]], [0, 0, 0, 0])
    p = render_trajectories(traj, 10, 20)
    lit = {tuple(r) for r in np.argwhere(p[0].any(axis=2))}
    corner = {(r, c) for r in range(0, 2) for c in range(0, 2)}      # 2x2 left of a 4x4 at (0, 0)
    edge = {(r, c) for r in range(7, 10) for c in range(17, 20)}     # 3x3 at the bottom-right
    assert lit == corner | edge


def test_too_many_components():
    traj = trajectories_from_tracks(np.zeros((1, MAX_COMPONENTS + 1, 2)), np.arange(MAX_COMPONENTS + 1))
    with pytest.raises(MotionInputError, match="at most"):
        render_trajectories(traj, 8, 8)
