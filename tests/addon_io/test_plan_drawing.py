"""The overlay's drawing data (``io.plan_drawing``, Blender-free) tells hidden points and path
stretches from seen ones (issue 14): a point hidden on the reference frame is drawn hollow, a
segment with a hidden end dashed. The same data from a real scene: tests/blender/test_overlay_hidden.py."""
from __future__ import annotations

import numpy as np
import pytest

from blender_addon.io import plan_drawing

W, H = 100, 50


def _norm(points):
    p = np.asarray(points, dtype=float)
    return np.stack([p[:, 0] / W, 1.0 - p[:, 1] / H], axis=1)


def test_points_and_segments_are_split_by_visibility():
    positions = [[[10, 10], [50, 20]], [[20, 10], [60, 20]], [[30, 10], [70, 20]]]     # (L=3, K=2)
    track = {"track": 0, "points": positions[0], "positions": positions,
             "visible": [[True, False], [True, True], [False, True]]}
    d = plan_drawing.track_drawing(track, (1, 0, 0, 1), _norm)
    assert d.points == [(0.1, 0.8)] and d.hidden_points == [(0.5, 0.6)]
    assert d.segments == [((0.1, 0.8), (0.2, 0.8)), ((0.6, 0.6), (0.7, 0.6))]
    assert d.hidden_segments == [((0.5, 0.6), (0.6, 0.6)), ((0.2, 0.8), (0.3, 0.8))]
    seen = plan_drawing.track_drawing({k: v for k, v in track.items() if k != "visible"}, (1, 0, 0, 1), _norm)
    assert len(seen.points) == 2 and not seen.hidden_points and len(seen.segments) == 4 and not seen.hidden_segments


def test_a_hidden_segment_is_drawn_as_dashes_along_it():
    pieces = plan_drawing.dashes(((0.0, 0.0), (1.0, 0.5)), parts=3)
    assert len(pieces) == 3
    np.testing.assert_allclose(pieces[0], [[0.0, 0.0], [0.2, 0.1]])
    np.testing.assert_allclose(pieces[-1], [[0.8, 0.4], [1.0, 0.5]])


def test_a_visibility_of_the_wrong_shape_is_named():
    track = {"track": 3, "points": [[1, 1]], "positions": [[[1, 1]], [[2, 2]]], "visible": [[True]]}
    with pytest.raises(ValueError, match="plan track 3: visible: expected 2 frames x 1 points"):
        plan_drawing.track_drawing(track, (1, 1, 1, 1), _norm)


def test_the_drawing_keeps_its_colour_and_reads_visibility_as_bools():
    track = {"track": 0, "points": [[10, 10]], "positions": [[[10, 10]], [[20, 10]]], "visible": [[1], [0]]}
    d = plan_drawing.track_drawing(track, (0.2, 0.4, 0.6, 1.0), _norm)
    assert d.rgba == (0.2, 0.4, 0.6, 1.0)
    vis = plan_drawing.visibility({"visible": [[2, 0], [1, 1]]}, 2, 2)
    assert vis.dtype == bool and vis.tolist() == [[True, False], [True, True]]


def test_the_first_frame_points_come_from_points_else_from_the_first_positions():
    positions = [[[10, 10]], [[20, 10]], [[30, 10]]]
    # the reference points win over the first frame of the path
    d = plan_drawing.track_drawing({"track": 0, "points": [[40, 20]], "positions": positions}, (1, 1, 1, 1), _norm)
    assert d.points == [(0.4, 0.6)] and len(d.segments) == 2
    # no reference points: the path's first frame (not its second)
    d = plan_drawing.track_drawing({"track": 0, "positions": positions}, (1, 1, 1, 1), _norm)
    assert d.points == [(0.1, 0.8)] and d.segments == [((0.1, 0.8), (0.2, 0.8)), ((0.2, 0.8), (0.3, 0.8))]
    # points without a path: dots only
    d = plan_drawing.track_drawing({"track": 0, "points": [[10, 10], [50, 20]]}, (1, 1, 1, 1), _norm)
    assert d.points == [(0.1, 0.8), (0.5, 0.6)] and not d.segments and not d.hidden_segments
    # neither: nothing to draw
    d = plan_drawing.track_drawing({"track": 0, "positions": [[], []]}, (1, 1, 1, 1), _norm)
    assert not d.points and not d.hidden_points and not d.segments


def test_dashes_default_to_three_pieces_along_a_segment_anywhere_on_screen():
    pieces = plan_drawing.dashes(((0.5, 0.25), (0.0, 0.75)))
    assert len(pieces) == 3
    np.testing.assert_allclose(pieces, [[[0.5, 0.25], [0.4, 0.35]], [[0.3, 0.45], [0.2, 0.55]],
                                        [[0.1, 0.65], [0.0, 0.75]]])
