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
