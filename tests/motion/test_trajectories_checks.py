"""Trajectories' own checks and trajectories_from_arrows' per-track options: every refusal names
the field and says what was expected (the words users see), and every accepted input keeps its
exact values, dtypes and shapes."""
import numpy as np
import pytest

from server.motion import (MAX_COMPONENTS, ArrowPath, MotionInputError, Trajectories, points_per_component,
                           sample_points, trajectories_from_arrows, trajectories_from_tracks)
from server.motion.trajectories import _component_seed

ARROW = [(0.0, 0.0), (8.0, 6.0)]


def refusal(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(MotionInputError) as info:
        call(*args, **kwargs)
    assert str(info.value) == f"{info.value.field}: {info.value.message}"
    return info.value.field, info.value.message


@pytest.mark.parametrize("positions, component, visible, field, message", [
    (np.zeros((2, 3)), [0, 0], np.ones((2, 3)), "positions", "expected shape (frames, points, 2), got (2, 3)"),
    (np.zeros((2, 3, 3)), [0, 0, 0], np.ones((2, 3)), "positions",
     "expected shape (frames, points, 2), got (2, 3, 3)"),
    (np.zeros((0, 3, 2)), [0, 0, 0], np.ones((0, 3)), "positions", "expected at least one frame"),
    (np.zeros((2, 3, 2)), [0, 0], np.ones((2, 3)), "component", "expected shape (3,), got (2,)"),
    (np.zeros((2, 3, 2)), [[0, 0, 0]], np.ones((2, 3)), "component", "expected shape (3,), got (1, 3)"),
    (np.zeros((2, 3, 2)), [0, 0, 0], np.ones((3, 2)), "visible", "expected shape (2, 3), got (3, 2)"),
    (np.zeros((2, 3, 2)), [0, 0, 0], np.ones(3), "visible", "expected shape (2, 3), got (3,)"),
    (np.zeros((2, 3, 2)), [0, -1, 0], np.ones((2, 3)), "component", "expected non-negative component indices"),
    (np.array([[[0, 0], [1, np.inf]]]), [0, 0], np.ones((1, 2)), "positions", "expected finite coordinates"),
    (np.array([[[np.nan, 0], [1, 1]]]), [0, 0], np.ones((1, 2)), "positions", "expected finite coordinates"),
])
def test_malformed_trajectories_name_the_field_and_the_expected_shape(positions, component, visible, field,
                                                                      message):
    assert refusal(Trajectories, positions, component, visible) == (field, message)


def test_accepted_trajectories_hold_contiguous_float32_int32_bool():
    positions = np.arange(24, dtype=np.float64).reshape(3, 4, 2).transpose(1, 0, 2)[:, :3]   # (4, 3, 2) view
    traj = Trajectories(positions, np.array([0, 2, 2], dtype=np.int64), np.array([[1, 0, 1]] * 4))
    assert traj.positions.dtype == np.float32 and traj.positions.flags.c_contiguous
    assert traj.component.dtype == np.int32 and traj.component.flags.c_contiguous
    assert traj.visible.dtype == bool and traj.visible.flags.c_contiguous
    np.testing.assert_array_equal(traj.positions, positions.astype(np.float32))
    assert traj.component.tolist() == [0, 2, 2]
    assert traj.visible[:, 1].tolist() == [False] * 4 and traj.visible[:, 0].all()
    assert (traj.num_frames, traj.num_points, traj.num_components) == (4, 3, 3)
    one = Trajectories(np.zeros((1, 1, 2)), [0], np.ones((1, 1), bool))      # the smallest accepted
    assert (one.num_frames, one.num_points, one.num_components) == (1, 1, 1)
    assert Trajectories(np.zeros((2, 0, 2)), np.zeros(0, int), np.ones((2, 0), bool)).num_components == 0


def test_displacements_are_offsets_from_frame_zero():
    pos = np.array([[[1.0, 2.0], [5.0, 5.0]], [[2.0, 4.0], [5.0, 1.0]], [[0.0, 0.0], [9.0, 9.0]]])
    d = Trajectories(pos, [0, 1], np.ones((3, 2), bool)).displacements()
    np.testing.assert_array_equal(d, [[[0, 0], [0, 0]], [[1, 2], [0, -4]], [[-1, -2], [4, 4]]])


def test_from_tracks_reads_lists_and_defaults_to_all_visible():
    traj = Trajectories.from_tracks([[[1, 2]], [[3, 4]]], [0])
    assert traj.positions.dtype == np.float32 and traj.visible.shape == (2, 1) and traj.visible.all()
    same = trajectories_from_tracks([[[1, 2]], [[3, 4]]], [0], [[True], [False]])
    assert same.visible[:, 0].tolist() == [True, False]


def test_component_seeds_differ_per_track_and_per_seed_and_take_64_bit_seeds():
    seeds = {_component_seed(s, j) for s in (0, 1, 2**40 + 1) for j in range(3)}
    assert len(seeds) == 6                          # 2**40 + 1 and 1 agree in their low 32 bits: 9 - 3
    assert _component_seed(1, 0) == _component_seed(2**32 + 1, 0)
    assert _component_seed(5, 1) == int(np.random.SeedSequence([5, 1]).generate_state(1)[0])
    assert all(isinstance(s, int) for s in seeds)


def _mask(h=20, w=30, box=(5, 15, 5, 20)):
    mask = np.zeros((h, w), bool)
    mask[box[0]:box[1], box[2]:box[3]] = True
    return mask


@pytest.mark.parametrize("kwargs, field, message", [
    ({"masks": []}, "tracks", "expected at least one track (a mask and an arrow)"),
    ({"arrows": [ARROW, ARROW]}, "tracks", "expected one arrow per mask, got 1 masks and 2 arrows"),
    ({"fields": ["a", "b"]}, "fields", "expected one field name per track, got 2 for 1"),
    ({"easings": ["linear", "linear"]}, "tracks", "expected one easing per track, got 2 for 1"),
    ({"progress": [None, None]}, "progress", "expected one progress array (or None) per track, got 2 for 1"),
    ({"k": [4, 4]}, "k", "expected one point count (or None) per track, got 2 for 1"),
    ({"explicit": [None, None]}, "explicit", "expected one entry (or None) per track, got 2 for 1"),
    ({"frames": 0}, "frames", "expected a positive integer frame count, got 0"),
])
def test_track_list_refusals_name_the_field(kwargs, field, message):
    args = {"masks": [_mask()], "arrows": [ARROW], "easings": "linear", "frames": 4, "seed": 0, **kwargs}
    assert refusal(trajectories_from_arrows, **args) == (field, message)


def test_too_many_tracks_names_the_limit_and_the_count_and_the_limit_itself_is_accepted():
    n = MAX_COMPONENTS
    ok = trajectories_from_arrows([_mask()] * n, [ARROW] * n, "linear", 2, 0, k=[1] * n)
    assert ok.num_components == n
    assert refusal(trajectories_from_arrows, [_mask()] * (n + 1), [ARROW] * (n + 1), "linear", 2, 0) == \
        ("tracks", f"at most {n} tracks are supported, got {n + 1}")


def test_mask_size_mismatch_names_the_track_and_both_sizes():
    field, message = refusal(trajectories_from_arrows, [_mask(), _mask(), _mask(20, 31)], [ARROW] * 3, None, 3, 0,
                             fields=["a", "b", "c"])
    assert (field, message) == ("c.mask", "expected size 30x20 like the first mask, got 31x20")


def test_default_field_names_and_easing_are_per_track():
    field, _ = refusal(trajectories_from_arrows, [_mask(), _mask()], [ARROW, [(1, 1), (1, 1)]], "linear", 3, 0)
    assert field == "tracks[1].arrow.points"
    field, message = refusal(trajectories_from_arrows, [_mask(), _mask()], [ARROW, ARROW], ["linear", "bad"], 3, 0)
    assert field == "tracks[1].arrow.easing" and "'bad'" in message
    field, _ = refusal(trajectories_from_arrows, [_mask(), np.zeros((20, 30), bool)], [ARROW] * 2, "linear", 3, 0)
    assert field == "tracks[1].mask"


def test_none_easing_is_linear_and_one_name_applies_to_every_track():
    masks = [_mask(), _mask()]
    plain = trajectories_from_arrows(masks, [ARROW] * 2, None, 5, 2)
    linear = trajectories_from_arrows(masks, [ARROW] * 2, ["linear", "linear"], 5, 2)
    eased = trajectories_from_arrows(masks, [ARROW] * 2, "ease-in", 5, 2)
    np.testing.assert_array_equal(plain.positions, linear.positions)
    d = eased.displacements()
    np.testing.assert_allclose(d[:, 0], ArrowPath(ARROW).displacements(5, "ease-in"), atol=1e-5)
    np.testing.assert_allclose(d[:, -1], ArrowPath(ARROW).displacements(5, "ease-in"), atol=1e-5)


def test_points_are_sampled_with_each_tracks_seed_and_k():
    masks = [_mask(), _mask(box=(2, 18, 3, 28))]
    traj = trajectories_from_arrows(masks, [ARROW, ArrowPath(ARROW)], "linear", 3, 9, k=[5, None])
    for j, k in enumerate([5, points_per_component(masks[1].mean())]):
        want = sample_points(masks[j], k, _component_seed(9, j))
        np.testing.assert_array_equal(traj.positions[0, traj.component == j], want)
    assert traj.component.dtype == np.int32 and traj.visible.all() and traj.visible.shape == (3, traj.num_points)


def test_explicit_point_tracks_are_taken_as_they_are():
    masks = [_mask(), _mask()]
    given = np.arange(3 * 2 * 2, dtype=np.float64).reshape(3, 2, 2)
    seen = np.array([[1, 1], [0, 1], [1, 0]])
    traj = trajectories_from_arrows(masks, [None, ARROW], "linear", 3, 0, explicit=[(given, seen), None], k=[None, 4])
    sel = traj.component == 0
    assert sel.sum() == 2 and traj.component.tolist()[:2] == [0, 0]
    np.testing.assert_array_equal(traj.positions[:, sel], given.astype(np.float32))
    assert traj.visible[:, sel].tolist() == [[True, True], [False, True], [True, False]]
    assert traj.positions.dtype == np.float32 and (traj.component == 1).sum() == 4


@pytest.mark.parametrize("given, seen", [
    (np.zeros((3, 2)), np.ones((3, 2))),                 # not 3-D
    (np.zeros((4, 2, 2)), np.ones((4, 2))),              # other frame count
    (np.zeros((3, 2, 3)), np.ones((3, 2))),              # not xy
    (np.zeros((3, 2, 2)), np.ones((3, 3))),              # visibility of another shape
])
def test_malformed_explicit_tracks_name_the_points_field(given, seen):
    field, message = refusal(trajectories_from_arrows, [_mask()], [None], "linear", 3, 0, explicit=[(given, seen)],
                             fields=["tracks[4]"])
    assert field == "tracks[4].points"
    assert message == (f"expected (3, K, 2) positions and (frames, K) visibility, got {given.shape} and "
                       f"{seen.shape}")


def test_a_bad_point_count_names_the_tracks_mask():
    field, message = refusal(trajectories_from_arrows, [_mask(), _mask()], [ARROW] * 2, "linear", 3, 0, k=[4, 0])
    assert (field, message) == ("tracks[1].mask.k", "expected a positive integer point count, got 0")
