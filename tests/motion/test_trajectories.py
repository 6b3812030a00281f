import numpy as np
import pytest

from server.motion import (MAX_COMPONENTS, ArrowPath, MotionInputError, Trajectories, points_per_component,
                           trajectories_from_arrows, trajectories_from_tracks)

CURVE = [(0, 0), (30, 0), (30, 40), (80, 60)]


@pytest.mark.parametrize("easing", ["linear", "ease-in", "ease-out", "ease-in-out"])
def test_every_point_moves_by_its_arrows_displacement(box_mask, c_mask, easing):
    masks = [box_mask, np.pad(c_mask, ((0, 0), (0, 0)))[:90, :160]]
    arrows = [[(0, 0), (40, -10)], CURVE]
    traj = trajectories_from_arrows(masks, arrows, easing, 14, seed=5)
    assert traj.positions.shape[0] == 14 and traj.positions.dtype == np.float32
    assert traj.visible.all()
    for j, arrow in enumerate(arrows):
        expected = ArrowPath(arrow).displacements(14, easing)
        sel = traj.component == j
        assert sel.sum() == points_per_component(masks[j].mean())
        moved = traj.positions[:, sel] - traj.positions[:1, sel]
        np.testing.assert_allclose(moved, np.broadcast_to(expected[:, None], moved.shape), atol=1e-4)


def test_components_are_ordered_and_deterministic(box_mask):
    a = trajectories_from_arrows([box_mask, box_mask], [[(0, 0), (5, 5)]] * 2, ["linear", "ease-in"], 8, 3)
    b = trajectories_from_arrows([box_mask, box_mask], [[(0, 0), (5, 5)]] * 2, ["linear", "ease-in"], 8, 3)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert list(a.component) == sorted(a.component)
    # the two tracks get different samples of the same mask (independent per-track seeds)
    assert not np.array_equal(a.positions[0, a.component == 0], a.positions[0, a.component == 1])


def test_camera_move_is_a_whole_frame_mask():
    frame = np.ones((72, 128), dtype=bool)
    traj = trajectories_from_arrows([frame], [[(64, 36), (84, 36)]], "linear", 5, 0)
    assert traj.num_points == 64                                      # p = 1 > 0.4
    start = traj.positions[0]
    assert start[:, 0].min() < 32 and start[:, 0].max() > 96          # spread over the whole frame
    assert start[:, 1].min() < 18 and start[:, 1].max() > 54
    np.testing.assert_allclose(traj.positions[-1] - start, np.broadcast_to([20, 0], start.shape), atol=1e-4)


def test_errors_name_the_track(box_mask):
    with pytest.raises(MotionInputError, match=r"tracks\[1\]\.mask.*empty"):
        trajectories_from_arrows([box_mask, np.zeros_like(box_mask)], [[(0, 0), (1, 1)]] * 2, "linear", 4, 0)
    with pytest.raises(MotionInputError, match=r"tracks\[1\]\.mask.*size"):
        trajectories_from_arrows([box_mask, box_mask[:50]], [[(0, 0), (1, 1)]] * 2, "linear", 4, 0)
    with pytest.raises(MotionInputError, match=r"tracks\[0\]\.arrow\.points.*zero length"):
        trajectories_from_arrows([box_mask], [[(2, 2), (2, 2)]], "linear", 4, 0)
    with pytest.raises(MotionInputError, match=r"tracks\[0\]\.arrow\.easing"):
        trajectories_from_arrows([box_mask], [[(0, 0), (1, 1)]], "wobble", 4, 0)
    with pytest.raises(MotionInputError, match="at most"):
        n = MAX_COMPONENTS + 1
        trajectories_from_arrows([box_mask] * n, [[(0, 0), (1, 1)]] * n, "linear", 4, 0)
    with pytest.raises(MotionInputError, match="one arrow per mask"):
        trajectories_from_arrows([box_mask], [], "linear", 4, 0)
    with pytest.raises(MotionInputError, match="k: expected one point count"):
        trajectories_from_arrows([box_mask] * 2, [[(0, 0), (1, 1)]] * 2, "linear", 4, 0, k=[16])
    with pytest.raises(MotionInputError, match="fields: expected one field name per track"):
        trajectories_from_arrows([box_mask] * 2, [[(0, 0), (1, 1)]] * 2, "linear", 4, 0, fields=["a"])


def test_from_tracks_keeps_tracker_visibility():
    pos = np.random.default_rng(0).uniform(0, 50, size=(6, 4, 2))
    vis = np.ones((6, 4), bool)
    vis[3, 1] = False
    traj = trajectories_from_tracks(pos, [0, 0, 1, 1], vis)
    assert isinstance(traj, Trajectories)
    assert traj.num_components == 2 and not traj.visible[3, 1]
    assert trajectories_from_tracks(pos, [0, 0, 1, 1]).visible.all()
    with pytest.raises(MotionInputError, match="visible"):
        trajectories_from_tracks(pos, [0, 0, 1, 1], vis[:, :3])
    with pytest.raises(MotionInputError, match="component"):
        trajectories_from_tracks(pos, [0, 1], vis)
