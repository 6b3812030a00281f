"""The ObjMC tracker near the frame edge: anchors close to a border are still followed exactly,
and a tracked anchor never leaves the frame (it is a position in that frame)."""
import cv2
import numpy as np
import pytest

from server.evaluation.objmc import track_anchor

SHIFTS = np.array([[0, 0], [2, 1], [5, 2], [9, 4], [14, 5], [18, 7], [21, 9]], dtype=np.float64)
H, W = 160, 240


def shifting_frames():
    """A smooth noise texture translated by SHIFTS: the true motion of every pixel is known."""
    noise = np.random.default_rng(0).uniform(0, 255, size=(220, 300)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = ((smooth - smooth.min()) / (smooth.max() - smooth.min()) * 255).astype(np.uint8)
    base = cv2.cvtColor(smooth, cv2.COLOR_GRAY2RGB)
    return [np.ascontiguousarray(base[30 - dy:30 - dy + H, 30 - dx:30 - dx + W]) for dx, dy in SHIFTS.astype(int)]


@pytest.mark.parametrize("anchor", [(3.0, 80.0), (8.0, 80.0), (120.0, 8.0), (3.0, 3.0), (200.0, 150.0)],
                         ids=["left-3px", "left-8px", "top-8px", "corner", "bottom-10px"])
def test_anchor_near_an_edge_is_followed(anchor):
    # Closer to the border than half the 31-px window: the window reaches past the frame.
    tracked = track_anchor(shifting_frames(), np.array(anchor))
    np.testing.assert_allclose(tracked, np.array(anchor) + SHIFTS, atol=0.5)


def test_tracked_anchor_never_leaves_the_frame():
    # The texture moves right: an anchor 10 px from the right edge is carried past it at frame 5.
    tracked = track_anchor(shifting_frames(), np.array([230.0, 100.0]))
    assert (tracked[:, 0] >= 0).all() and (tracked[:, 0] <= W - 1).all(), tracked
    assert (tracked[:, 1] >= 0).all() and (tracked[:, 1] <= H - 1).all(), tracked
